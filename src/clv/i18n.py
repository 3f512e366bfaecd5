"""Every word a report shows, in English and Chinese, side by side.

One table per concept: column headers, codes shown in table cells (statuses,
verdicts, movements, rankings), the items of the run-facts table, figure axis
labels, titles and alt texts, the report's section headings and introductions,
and units. Each entry is an ``(en, zh)`` pair; :func:`label` (or calling a
table) picks the report's language.

Strings from users' files (tier, band and ladder names, actions) are not here:
schemes carry their own names in both languages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Literal

__all__ = [
    "ALT_TEXTS",
    "AXES",
    "CODE_COLUMNS",
    "COUNT_ONLY",
    "HEADERS",
    "HOLDOUT_MEASURES",
    "ITEMS",
    "LANGS",
    "METRICS",
    "MODEL_WORDS",
    "OUT_OF_ORDER",
    "PARAMETERS",
    "RANKINGS",
    "SECTIONS",
    "TABLES",
    "TITLES",
    "UNITS",
    "VALUES",
    "Labels",
    "count",
    "header",
    "item",
    "item_value",
    "label",
    "pick",
    "plural",
    "section",
    "translate_text",
    "value",
]

Lang = Literal["en", "zh"]
LANGS: tuple[str, ...] = ("en", "zh")


def pick(lang: str, en: str, zh: str) -> str:
    """``zh`` in a Chinese report, ``en`` otherwise."""
    return zh if lang == "zh" else en


class Labels(Mapping[str, tuple[str, str]]):
    """A named table of ``key -> (en, zh)``; ``labels(key, lang)`` gives the
    text in ``lang``, and ``labels.get_text(key, lang, default)`` tolerates
    unknown keys."""

    def __init__(self, name: str, entries: dict[str, tuple[str, str]]) -> None:
        self.name = name
        self._entries = entries

    def __getitem__(self, key: str) -> tuple[str, str]:
        return self._entries[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __call__(self, key: str, lang: str = "en") -> str:
        en, zh = self._entries[key]
        return pick(lang, en, zh)

    def get_text(self, key: str, lang: str = "en", default: str | None = None) -> str | None:
        pair = self._entries.get(key)
        return pick(lang, *pair) if pair else default

    def __repr__(self) -> str:
        return f"<Labels {self.name}: {len(self)} entries>"


# Column headers of report tables
HEADERS = Labels(
    "headers",
    {
        "item": ("item", "项目"),
        "value": ("value", "值"),
        "tier": ("tier", "等级"),
        "tier_name": ("tier", "等级"),
        "threshold": ("threshold", "门槛"),
        "customers": ("customers", "客户数"),
        "share_customers": ("share of customers", "客户占比"),
        "share_clv": ("share of predicted value", "预测价值占比"),
        "share_revenue": ("share of past revenue", "历史收入占比"),
        "share_expected_purchases": ("share of expected purchases", "预期购买次数占比"),
        "expected_purchases": ("expected purchases", "预期购买次数"),
        "expected_purchases_total": ("expected purchases", "预期购买次数"),
        "expected_purchases_mean": ("mean expected purchases", "平均预期购买次数"),
        "predicted_purchases_mean": ("mean expected purchases", "平均预期购买次数"),
        "holdout_purchases_mean": ("mean holdout purchases", "验证期平均购买次数"),
        "holdout_purchases_share": ("share of holdout purchases", "验证期购买次数占比"),
        "clv_mean": ("mean predicted value", "平均预测价值"),
        "p_alive_mean": ("mean chance still active", "平均存活概率"),
        "ranking": ("ranking", "排序依据"),
        "top_customers": ("top customers", "头部客户数"),
        "capture": ("value captured", "价值捕获率"),
        "missed": ("top missed", "头部遗漏率"),
        "wrongly_promoted": ("wrongly promoted", "误升率"),
        "spearman": ("Spearman rho", "Spearman 相关"),
        "predicted_value_mean": ("mean predicted value", "平均预测价值"),
        "holdout_value_mean": ("mean holdout value", "验证期平均价值"),
        "holdout_value_share": ("share of holdout value", "验证期价值占比"),
        "repurchase_rate": ("repurchase rate", "复购率"),
        "status": ("status", "状态"),
        "playbook": ("playbook", "策略"),
        "movement": ("movement", "变动"),
        "customer_id": ("customer", "客户"),
        "clv": ("predicted value", "预测价值"),
        "previous_rank": ("previous tier", "上期等级"),
        "current_rank": ("current tier", "本期等级"),
        "previous_tier": ("previous tier", "上期等级"),
        "model": ("model", "模型"),
        "current_tier": ("current tier", "本期等级"),
        "previous_clv": ("previous predicted value", "上期预测价值"),
        "value_change": ("change in predicted value", "预测价值变化"),
        "bic": ("BIC", "BIC"),
        "delta_bic": ("BIC above the best", "BIC 与最优之差"),
        "holdout_loglik": ("holdout log-likelihood per customer", "验证期每位客户对数似然"),
        "holdout_mae": ("holdout error per customer (purchases)", "验证期每位客户误差（购买次数）"),
        "chosen": ("chosen", "选用"),
        "level_name": ("ladder level", "会员等级"),
        "rule_level_name": ("ladder level", "会员等级"),
        "points_outcome": ("points", "积分去向"),
        "points": ("points", "积分"),
        "yuan": ("yuan", "元"),
        "value_class": ("value", "价值"),
        "loyal": ("loyal", "忠诚"),
        "general": ("general", "一般"),
        "lost": ("lost", "流失"),
        "minimum": ("qualifying minimum", "达标门槛"),
        "minimum_spend": ("minimum past spend", "最低历史消费"),
        "suggested_minimum": ("minimum suggested by the evidence", "依据证据建议的最低消费"),
        "revenue_total": ("past revenue", "历史收入"),
        "rule_grade": ("level by the rule", "规则等级"),
        "verdict": ("verdict", "结论"),
        "reason": ("reason", "原因"),
        "year": ("year", "年份"),
        "grade": ("grade", "评级"),
        "visits_per_year": ("visits per year", "每年拜访次数"),
        "delivery_target": ("delivery target", "交付目标"),
        "coef": ("estimate", "估计值"),
        "std err": ("standard error", "标准误"),
        "lower": ("lower bound", "下限"),
        "upper": ("upper bound", "上限"),
        "category": ("product category", "商品大类"),
        "discount": ("discount", "折扣"),
    },
)

# "lower 95%" and "upper 95%" headers of the threshold intervals
_HEADER_PATTERNS: list[tuple[re.Pattern[str], tuple[str, str]]] = [
    (re.compile(r"^lower (\d+(?:\.\d+)?%)$"), ("{0} interval, lower", "{0} 区间下限")),
    (re.compile(r"^upper (\d+(?:\.\d+)?%)$"), ("{0} interval, upper", "{0} 区间上限")),
]

# Codes shown in table cells: statuses, verdicts, movements, rankings
VALUES = Labels(
    "values",
    {
        "graded": ("graded", "已分级"),
        "provisional": ("provisional", "暂定"),
        "one_time": ("one-time buyer", "仅购一次"),
        "lost": ("lost", "已流失"),
        "active": ("active", "活跃"),
        "never_ordered": ("never ordered", "从未下单"),
        "no_order_in_period": ("no order in the period", "本期无订单"),
        "no_sale": ("nothing sold in the period", "本期无销售"),
        "blocked": ("blocked", "已冻结"),
        "over-graded": ("over-graded", "高定"),
        "under-graded": ("under-graded", "低定"),
        "agrees": ("agrees", "一致"),
        "up": ("up", "升级"),
        "down": ("down", "降级"),
        "same": ("same", "不变"),
        "new": ("new", "新客户"),
        "left": ("left", "已离开"),
        "clv": ("predicted value", "预测价值"),
        "past_spend": ("past spend", "历史消费"),
        "rfm": ("RFM score", "RFM 评分"),
        "expected_purchases": ("expected purchases", "预期购买次数"),
        "past_purchases": ("past purchases", "历史购买次数"),
        "held": ("held now", "现有积分"),
        "redeemed": ("to be redeemed", "预计兑换"),
        "expired": ("to expire unredeemed (breakage)", "预计过期未兑换"),
        "remaining": ("still held at the horizon", "期末仍持有"),
        "high": ("high value", "高价值"),
        "medium": ("medium value", "中价值"),
        "low": ("low value", "低价值"),
    },
)
# the columns whose cells hold such codes
CODE_COLUMNS = frozenset(
    {"status", "verdict", "movement", "ranking", "baseline", "points_outcome", "value_class"}
)

# Names of the rankings of a back-test and of the baselines they are held against
RANKINGS = Labels(
    "rankings",
    {
        "clv": ("predicted value", "预测价值"),
        "past_spend": ("past spend", "历史消费"),
        "rfm": ("RFM score", "RFM 评分"),
        "expected_purchases": ("expected purchases", "预期购买次数"),
        "past_purchases": ("past purchases", "历史购买次数"),
    },
)
BASELINES = Labels(
    "baselines",
    {
        "past_spend": ("the hand-set rule on past spend", "按历史消费的人工规则"),
        "past_purchases": ("the number of past purchases", "历史购买次数"),
        "rfm": ("the RFM score", "RFM 评分"),
    },
)
# Measures of a ranking against the holdout
METRICS = Labels(
    "metrics",
    {
        "capture": ("value captured by the top", "头部客户的价值捕获率"),
        "missed": ("share of the true top missed", "真正头部客户的遗漏率"),
        "wrongly_promoted": ("share of the bottom wrongly promoted", "尾部客户的误升率"),
        "spearman": ("Spearman rank correlation", "Spearman 秩相关"),
    },
)

# Items of the run-facts, data-quality and points tables
ITEMS = Labels(
    "items",
    {
        "data": ("data", "数据文件"),
        "data sha256": ("data SHA-256", "数据 SHA-256 校验值"),
        "transactions read": ("transactions read", "读取的交易"),
        "transactions kept": ("transactions kept", "保留的交易"),
        "customers graded": ("customers graded", "参与分级的客户"),
        "first transaction": ("first transaction", "首笔交易日期"),
        "last transaction": ("last transaction", "末笔交易日期"),
        "transactions after observation end (left out)": (
            "transactions after the observation end (left out)",
            "观察期末之后的交易（未计入）",
        ),
        "exact duplicate rows (kept or dropped by policy)": (
            "exact duplicate rows (kept or dropped by policy)",
            "完全重复的行（按规则保留或删除）",
        ),
        "zero-amount rows": ("zero-amount rows", "金额为零的行"),
        "predicted value": ("predicted value", "预测价值的含义"),
        "currency": ("currency", "货币"),
        "amounts": ("amounts", "金额"),
        "graded on": ("graded on", "分级依据"),
        "cancelled orders (kept in the log, left out of the summaries)": (
            "cancelled orders (kept in the log, left out of the summaries)",
            "已取消的订单（保留在记录中，不计入汇总）",
        ),
        "returned orders (kept in the log, left out of the summaries)": (
            "returned orders (kept in the log, left out of the summaries)",
            "已退货的订单（保留在记录中，不计入汇总）",
        ),
        "cancelled_orders": ("cancelled orders", "已取消的订单"),
        "returned_orders": ("returned orders", "已退货的订单"),
        "orders_without_category": ("orders without a category", "无商品大类的订单"),
        "has_amounts": ("the log has amounts", "记录含金额"),
        "rows_read": ("rows read", "读取行数"),
        "rows_kept": ("rows kept", "保留行数"),
        "duplicate_rows": ("exact duplicate rows", "完全重复的行"),
        "duplicate_rows_dropped": ("exact duplicates dropped", "删除的重复行"),
        "zero_amount_rows": ("zero-amount rows", "金额为零的行"),
        "zero_amount_rows_dropped": ("zero-amount rows dropped", "删除的零金额行"),
        "customer_ids_stripped": ("ids stripped of spaces", "去除空格的客户编号"),
        "blank_rows_dropped": ("blank lines dropped", "删除的空行"),
        "ids_differing_by_leading_zeros": (
            "ids differing only by leading zeros",
            "仅前导零不同的客户编号",
        ),
        "near_duplicate_rows": ("rows sharing customer and time", "客户与时间相同的行"),
        "time_zone_offsets_removed": ("time-zone offsets removed", "去除的时区偏移"),
        "time_zone_offsets_converted": ("times converted to the time zone", "换算时区的时间"),
        "id_characters_stripped": (
            "ids stripped of invisible characters",
            "去除不可见字符的客户编号",
        ),
        "ids_read_from_numbers": ("ids read from numbers", "由数字读取的客户编号"),
        "note": ("note", "说明"),
        "members": ("members", "会员数"),
        "points earned": ("points earned", "获得积分"),
        "points redeemed": ("points redeemed", "兑换积分"),
        "points expired": ("points expired", "过期积分"),
        "points held": ("points held", "持有积分"),
        "points held, in yuan": (
            "points held, in yuan (100 points = 1 yuan)",
            "持有积分折合（元，100 积分 = 1 元）",
        ),
        "members holding points without a purchase": (
            "members holding points with no completed purchase (forecast to buy nothing)",
            "持有积分但无成交订单的会员（预测不再购买）",
        ),
    },
)
# "version polars", "parameter lang": a prefix and a name
ITEM_PREFIXES = Labels("item prefixes", {"version ": ("version ", "版本 ")})
PARAMETER_PREFIX = ("parameter: ", "参数：")

# The report's parameters, as the run-facts table names them
PARAMETERS = Labels(
    "parameters",
    {
        "data_path": ("data file", "数据文件"),
        "period": ("period", "期间"),
        "observation_end": ("end of observation", "观察期末"),
        "freq": ("purchases merged per", "购买合并单位"),
        "time_unit": ("time unit of the models", "模型时间单位"),
        "model": ("purchase model", "购买模型"),
        "horizon_days": ("horizon (days)", "预测期（天）"),
        "discount_rate_annual": ("discount rate a year", "年折现率"),
        "scheme": ("tier scheme", "等级方案"),
        "lang": ("language", "语言"),
        "previous_graded": ("previous grading", "上期分级"),
        "calibration_end": ("end of calibration", "校准期末"),
        "n_bootstrap": ("bootstrap resamples", "自助重抽样次数"),
        "seed": ("random seed", "随机种子"),
        "ladder": ("membership ladder", "会员等级体系"),
        "points_events": ("points events", "积分事件"),
        "points_redemptions": ("points redemptions", "积分兑换"),
        "accounts_path": ("B2B accounts", "B2B 客户数据"),
        "loader_options": ("reading options", "读取选项"),
        "events_options": ("reading options of the events", "积分事件读取选项"),
        "accounts_options": ("reading options of the accounts", "B2B 数据读取选项"),
        "currency": ("currency", "货币"),
        "margin": ("gross margin", "毛利率"),
        "sufficiency_gate": (
            "too little data: grade by the rules",
            "数据不足时按规则分级",
        ),
        "engine": ("engine", "计算引擎"),
        "spark_master": ("Spark master", "Spark 主节点"),
        "output_dir": ("output folder", "输出文件夹"),
    },
)
# Values of parameters that are codes
PARAMETER_VALUES: dict[str, Labels] = {
    "freq": Labels("freq", {"D": ("day", "天"), "W": ("week", "周"), "M": ("month", "月")}),
    "time_unit": Labels(
        "time_unit", {"D": ("day", "天"), "W": ("week", "周"), "M": ("month", "月")}
    ),
    "model": Labels(
        "model",
        {
            "bgnbd": ("BG/NBD", "BG/NBD"),
            "pareto_nbd": ("Pareto/NBD", "Pareto/NBD"),
            "mbgnbd": ("MBG/NBD", "MBG/NBD"),
            "auto": ("chosen by evidence", "按证据选择"),
        },
    ),
    "lang": Labels("lang", {"en": ("English", "英文"), "zh": ("Chinese", "中文")}),
    "sufficiency_gate": Labels(
        "sufficiency_gate", {"True": ("yes", "是"), "False": ("no, predict anyway", "否，照常预测")}
    ),
}

# Time units of the models
UNITS = Labels(
    "units",
    {
        "D": ("days", "天"),
        "W": ("weeks", "周"),
        "M": ("months", "月"),
    },
)

# Nouns counted in sentences: (singular, plural, Chinese measure word and noun)
NOUNS: dict[str, tuple[str, str, str]] = {
    "customer": ("customer", "customers", "位客户"),
    "resample": ("resample", "resamples", "次重抽样"),
    "day": ("day", "days", "天"),
    "measure": ("measure", "measures", "项指标"),
    "try": ("failed try", "failed tries", "次失败尝试"),
}

# Free text of values: what the predicted value measures, data-quality notes
_TEXT_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"^expected revenue \(no margin given: not profit\) over (\S+) days, "
            r"discounted at (\S+) a year$"
        ),
        "预期收入（未给出毛利率，不是利润），预测期 {0} 天，年折现率 {1}",
    ),
    (
        re.compile(
            r"^expected gross profit at a (\S+) margin over (\S+) days, discounted at (\S+) a year$"
        ),
        "预期毛利（毛利率 {0}），预测期 {1} 天，年折现率 {2}",
    ),
    (re.compile(r"^\(not given\)$"), "（未给出）"),
    # reasons the points ledger rejects an input row
    (re.compile(r"^unknown event type; known: \[(.*)\]$"), "未知事件类型；已知类型：{0}"),
    (re.compile(r"^product (.+) already had its first review$"), "商品 {0} 已有首次评价"),
    (re.compile(r"^dated before the customer's registration$"), "早于客户注册日期"),
    (re.compile(r"^(\S+) is rewarded once per customer$"), "{0} 每位客户仅奖励一次"),
    (re.compile(r"^redemption of no points$"), "兑换积分为零"),
    (re.compile(r"^redeems (\S+) points with a balance of (\S+)$"), "兑换 {0} 积分，但余额仅 {1}"),
    (re.compile(r"^blank customer id$"), "客户编号为空"),
    (re.compile(r"^no date$"), "缺少日期"),
    (
        re.compile(r"^Penalised fit \(penalizer=([^)]+)\): estimates are shrunk\.$"),
        "带惩罚的拟合（惩罚系数 {0}）：估计值有收缩。",
    ),
    (re.compile(r"^Penalised fit \(penalizer=([^)]+)\)\.$"), "带惩罚的拟合（惩罚系数 {0}）。"),
    (re.compile(r"^\(folder\)$"), "（文件夹）"),
    (
        re.compile(r"^kept ([\d,]+) exact duplicate rows as repeat orders$"),
        "保留 {0} 行完全重复的行，视为重复订单",
    ),
    (re.compile(r"^dropped ([\d,]+) exact duplicate rows$"), "删除 {0} 行完全重复的行"),
    (
        re.compile(r"^kept ([\d,]+) rows with amount 0 as purchases$"),
        "保留 {0} 行金额为零的行，视为购买",
    ),
    (re.compile(r"^dropped ([\d,]+) rows with amount 0$"), "删除 {0} 行金额为零的行"),
    (
        re.compile(r"^kept ([\d,]+) rows? with a negative margin \(orders sold at a loss\)$"),
        "保留 {0} 行毛利率为负的订单（亏本销售）",
    ),
    (
        re.compile(
            r"^expected gross profit at each customer's own margin \(from the margin of each "
            r"order; ([^ ]+) overall\) over (\S+) days, discounted at (\S+) a year$"
        ),
        "预期毛利（按每位客户订单的毛利率计算；总体毛利率 {0}），预测期 {1} 天，年折现率 {2}",
    ),
    (
        re.compile(r"^stripped surrounding whitespace from ([\d,]+) customer ids$"),
        "去除了 {0} 个客户编号首尾的空格",
    ),
    (re.compile(r"^dropped (?:1 row|([\d,]+) rows) that were blank lines$"), "删除 {0} 行空行"),
    (
        re.compile(
            r"^(?:1 row|([\d,]+) rows) share customer and time with another row but differ in "
            r"amount or quantity; kept as separate orders \(summaries add them up per period\)$"
        ),
        "{0} 行与另一行的客户和时间相同但金额或数量不同；作为单独订单保留（汇总时按期间相加）",
    ),
    (
        re.compile(
            r"^removed the time-zone offset of (?:1 row|([\d,]+) rows), keeping the local time "
            r"of purchase$"
        ),
        "去除了 {0} 行的时区偏移，保留购买时的当地时间",
    ),
    # a log without amounts (count-only) and a log with order categories and statuses
    (
        re.compile(
            r"^expected purchases over (\S+) days \(the log has no amounts: no value, not "
            r"discounted\)$"
        ),
        "预测期 {0} 天内的预期购买次数（记录不含金额：无价值，不折现）",
    ),
    (
        re.compile(
            r"^none in the log: customers are graded on expected purchases over the horizon; "
            r"value, revenue shares and the spend model are unavailable$"
        ),
        "记录不含金额：客户按预测期内的预期购买次数分级；价值、收入占比与消费模型均不可用",
    ),
    (re.compile(r"^expected_purchases$"), "预期购买次数"),
    (
        re.compile(
            r"^the log has no amounts \(amount=None\): purchases are counted, spend and CLV are "
            r"unavailable$"
        ),
        "记录不含金额（amount=None）：只计购买次数，消费与客户终身价值不可用",
    ),
    (
        re.compile(
            r"^the log has no amounts \(amount=None\): purchases are counted, spend and CLV are "
            r"unavailable; its column 'amount' was ignored$"
        ),
        "记录不含金额（amount=None）：只计购买次数，消费与客户终身价值不可用；已忽略其 amount 列",
    ),
    (
        re.compile(
            r"^([\d,]+) cancelled and ([\d,]+) returned orders are kept in the log and left out "
            r"of the summaries, which count completed orders only$"
        ),
        "{0} 笔已取消和 {1} 笔已退货的订单保留在记录中，不计入汇总（汇总只计已完成的订单）",
    ),
    (
        re.compile(
            r"^(?:1 row|([\d,]+) rows) with an empty category, kept with no category \(grading "
            r"per category needs one for every order\)$"
        ),
        "{0} 行商品大类为空，保留为无大类（按大类分级需要每笔订单都有大类）",
    ),
]


def translate_text(text: str, lang: str) -> str:
    """A value sentence the library writes in English (what the predicted value
    measures, a data-quality note), in ``lang`` where it is known; else as is."""
    if lang != "zh":
        return text
    for pattern, zh in _TEXT_PATTERNS:
        found = pattern.match(text)
        if found:
            groups = [g if g is not None else "1" for g in found.groups()] or [""]
            return zh.format(*groups)
    return text


# A tier ranked out of order in a back-test: "{lower} above {upper} in mean holdout value"
OUT_OF_ORDER = (
    "{lower} above {upper} in mean holdout {what}",
    "{lower}的验证期平均{what}高于{upper}",
)
# The note of a report on a log without amounts (count-only)
COUNT_ONLY = (
    "This log has no amounts: customers are graded on expected purchases over the horizon; "
    "value, revenue shares and the spend model are unavailable.",
    "本记录不含金额：客户按预测期内的预期购买次数分级；价值、收入占比与消费模型均不可用。",
)

HOLDOUT_MEASURES = Labels(
    "holdout measures", {"value": ("value", "价值"), "purchases": ("purchases", "购买次数")}
)

# Model parameters written as their Greek letters
PARAMETER_SYMBOLS: dict[str, str] = {"alpha": "α", "beta": "β", "gamma": "γ"}


# Figure axis labels, legends and marks
AXES = Labels(
    "axes",
    {
        "tier": ("tier", "等级"),
        "share": ("share", "占比"),
        "share_customers": ("share of customers", "客户占比"),
        "share_clv": ("share of predicted CLV", "预测价值占比"),
        "share_revenue": ("share of past revenue", "历史收入占比"),
        "share_expected_purchases": ("share of expected purchases", "预期购买次数占比"),
        "cum_expected_purchases": (
            "cumulative share of expected purchases",
            "预期购买次数累计占比",
        ),
        "cum_customers_purchases": (
            "customers, most expected purchases first (cumulative share)",
            "客户（按预期购买次数从高到低，累计占比）",
        ),
        "expected_purchases": ("expected purchases over the horizon", "预测期内的预期购买次数"),
        "cum_customers": (
            "customers, highest predicted CLV first (cumulative share)",
            "客户（按预测价值从高到低，累计占比）",
        ),
        "cum_clv": ("cumulative share of predicted CLV", "预测价值累计占比"),
        "equality": ("equal value per customer", "人均价值相同"),
        "clv": ("predicted CLV", "预测客户终身价值"),
        "customers": ("customers", "客户数"),
        "frequency": ("repeat purchases (frequency)", "重复购买次数"),
        "recency": ("age at last purchase (recency)", "最近购买时的客龄"),
        "p_alive": ("chance still active", "存活概率"),
        "expected": ("expected purchases", "预期购买次数"),
        "risk_band": ("churn risk", "流失风险"),
        "previous": ("previous tier", "上期等级"),
        "current": ("current tier", "本期等级"),
        "actual": ("actual", "实际"),
        "predicted": ("predicted", "预测"),
        "holdout_purchases": ("mean purchases in holdout", "验证期平均购买次数"),
        "cal_frequency": ("repeat purchases in calibration", "校准期重复购买次数"),
        "repeat_purchases": ("repeat purchases per week", "每周重复购买次数"),
        "cumulative_repeat": ("cumulative repeat purchases", "累计重复购买次数"),
        "calibration_end": ("end of calibration", "校准期结束"),
        "predicted_p": ("predicted probability", "预测概率"),
        "observed_p": ("observed rate", "实际比例"),
        "perfect": ("perfect calibration", "完美校准"),
        "new": ("new", "新客户"),
        "left": ("left", "已离开"),
        "week": ("week", "周"),
    },
)

# Figure titles
TITLES = Labels(
    "titles",
    {
        "tier_distribution": ("Shares per tier", "各等级占比"),
        "lorenz_curve": ("Concentration of predicted value", "预测价值的集中度"),
        "clv_histogram": ("Predicted value per customer", "客户预测价值分布"),
        "p_alive_matrix": ("Chance a customer is still active", "客户仍活跃的概率"),
        "expected_purchases_matrix": ("Expected purchases ahead", "未来预期购买次数"),
        "value_risk_customers": ("Customers by tier and churn risk", "按等级与流失风险的客户数"),
        "value_risk_clv": (
            "Predicted value by tier and churn risk",
            "按等级与流失风险的预测价值",
        ),
        "value_risk_expected_purchases": (
            "Expected purchases by tier and churn risk",
            "按等级与流失风险的预期购买次数",
        ),
        "lorenz_curve_purchases": (
            "Concentration of expected purchases",
            "预期购买次数的集中度",
        ),
        "expected_purchases_histogram": (
            "Expected purchases per customer",
            "客户预期购买次数分布",
        ),
        "migration_heatmap": ("Movement between tiers", "等级变动"),
        "holdout_by_frequency": (
            "Holdout purchases, actual and predicted",
            "验证期购买：实际与预测",
        ),
        "tracking": ("Repeat purchases over time", "重复购买随时间变化"),
        "calibration": ("Chance of no purchase in the holdout", "验证期不购买的概率"),
    },
)

# Alt texts of the report's figures: what each row of panels shows
ALT_TEXTS = Labels(
    "alt texts",
    {
        "fit_check": (
            "Bar chart: customers by number of repeat purchases in the data, beside the "
            "numbers each purchase model expects.",
            "柱状图：按重复购买次数分组的实际客户数，以及各购买模型的预期客户数。",
        ),
        "matrices": (
            "Two heatmaps over repeat purchases and recency: the chance each customer is still "
            "active, and the purchases expected over the horizon.",
            "两幅热图（按重复购买次数与最近购买时间）：客户仍活跃的概率，以及预测期内的预期购买次数。",
        ),
        "backtest": (
            "Three back-test charts: actual against predicted holdout purchases by calibration "
            "purchases; cumulative repeat purchases week by week; predicted chance of no "
            "purchase against the observed rate.",
            "三幅回测图：按校准期购买次数分组的验证期实际与预测购买；逐周累计重复购买；"
            "预测的不购买概率与实际比例。",
        ),
        "thresholds": (
            "Left: cumulative share of predicted value against the share of customers, with "
            "the tier cuts. Right: histogram of predicted value on a log scale, with the "
            "thresholds.",
            "左图：预测价值累计占比与客户占比的曲线，标出等级分界；右图：预测价值的对数刻度直方图，标出门槛。",
        ),
        "tiers": (
            "Bars of the shares of customers, predicted value and past revenue per tier; two "
            "heatmaps of customers and of predicted value by tier and churn risk.",
            "各等级客户、预测价值和历史收入占比的柱状图；按等级与流失风险的客户数和预测价值两幅热图。",
        ),
        "migration": (
            "Heatmap of customers moving from last period's tier (rows) to this period's "
            "(columns), with counts and row shares.",
            "客户由上期等级（行）到本期等级（列）变动的热图，标出人数与行占比。",
        ),
    },
)

# Words of the model summary tables
MODEL_WORDS = Labels(
    "model words",
    {
        "customers": ("customers", "客户数"),
        "rows fitted": ("rows fitted", "拟合行数"),
        "log-likelihood": ("log-likelihood", "对数似然"),
        "AIC": ("AIC", "AIC"),
        "BIC": ("BIC", "BIC"),
        "penalizer": ("penalizer", "惩罚系数"),
        "fit time (s)": ("fit time (s)", "拟合耗时（秒）"),
        "excluded (mean <= 0)": ("excluded (mean <= 0)", "排除（均值 <= 0）"),
        "corr(freq, spend)": ("corr(freq, spend)", "频率与金额相关"),
        "coef": ("estimate", "估计值"),
        "std err": ("std err", "标准误"),
        "interval": ("interval", "区间"),
        "purchase model": ("purchase model", "购买模型"),
        "spend model": ("spend model", "消费模型"),
        "time unit": ("time unit", "时间单位"),
        "repeat buyers": ("repeat buyers", "重复购买客户"),
        "standard errors": (
            "Standard errors from the observed information (numerical Hessian of the "
            "log-likelihood in log parameters); intervals are Wald intervals on the log scale.",
            "标准误来自观测信息矩阵（对数参数下对数似然的数值 Hessian 矩阵）；"
            "区间为对数尺度上的 Wald 区间。",
        ),
    },
)

# Names of optional sections, as failure notes name them
SECTION_NAMES = Labels(
    "section names",
    {
        "back-test": ("back-test", "回测"),
        "membership ladder": ("membership ladder", "会员等级体系"),
        "points ledger": ("points ledger", "积分台账"),
        "B2B scorecard": ("B2B scorecard", "B2B 评分卡"),
    },
)

# Checks of whether the data suffice for a forecast
SUFFICIENCY = Labels(
    "sufficiency",
    {
        "customers": ("customers", "客户数"),
        "history_days": ("days of history", "历史天数"),
        "customers_with_3_or_more_purchases": (
            "customers with three or more purchases",
            "购买三次及以上的客户数",
        ),
        "history_in_typical_gaps": (
            "history length in typical gaps between purchases",
            "历史长度相当于典型购买间隔的倍数",
        ),
    },
)

# The report's title, section headings and introductions (Markdown)
SECTIONS = Labels(
    "sections",
    {
        "title": (
            "# Customer grading report\n\n"
            "Customers are graded by their **predicted value** (customer lifetime value, CLV) "
            'and their **churn probability**, estimated from the transaction log with "buy '
            'till you die" models. This report shows who is in which tier, how the tier '
            "thresholds were set, who moved since the last period, what to do for each tier, "
            "and whether the grading works.",
            "# 客户分级报告\n\n"
            "客户按**预测价值**（客户终身价值）和**流失概率**分级，二者由交易记录通过"
            "“购买直至流失”模型估计。本报告说明各等级的客户、等级门槛的依据、与上期相比的变动、"
            "各等级的策略，以及分级是否有效。",
        ),
        "facts": (
            "## 1. Run facts\n\n"
            "What was graded, from which data, and what the data check found. Every row of the "
            "log is accounted for: rows dropped or corrected are counted here.",
            "## 1. 运行信息\n\n"
            "评估对象、数据来源，以及数据检查结果：每一行交易记录都有去向，被删除或修正的行都在此计数。",
        ),
        "models": (
            "## 2. Model fit\n\n"
            "The purchase model estimates how often each customer buys and how likely they are "
            "to have stopped; the spend model estimates the value of each order. The charts "
            "show what the purchase model expects of customers with each history; the fitted "
            "parameters and their intervals are in the method appendix (section 9).",
            "## 2. 模型拟合\n\n"
            "购买模型估计每位客户的购买频率和已流失的可能性；消费模型估计每笔订单的金额。"
            "下图显示购买模型对不同购买历史客户的预期；拟合参数及其区间见方法附录（第 9 部分）。",
        ),
        "backtest": (
            "## 3. Does the grading work?\n\n"
            "Fitted on the data up to the calibration end and graded then, compared with what "
            "customers actually did afterwards (the holdout window). The ranking by predicted "
            "value is set side by side with ranking by past spend (the usual hand-set rule) and "
            "by RFM scores.",
            "## 3. 分级是否有效\n\n"
            "用校准期末之前的数据拟合并分级，再与之后（验证期）客户的实际行为比较；"
            "并与按历史消费（常见的人工规则）和 RFM 评分的排序对照。",
        ),
        "thresholds": (
            "## 4. How the thresholds were set\n\n"
            "Customers sorted from the highest predicted value down: the curve shows how much "
            "of the total predicted value the top customers hold, and the red lines are the "
            "tier cuts. The intervals come from re-drawing the customers many times: narrow "
            "intervals mean stable thresholds.",
            "## 4. 等级门槛的依据\n\n"
            "客户按预测价值从高到低排列：曲线表示头部客户占总预测价值的比例，红线为等级分界。"
            "区间来自对客户的多次重抽样：区间越窄，门槛越稳定。",
        ),
        "tiers": (
            "## 5. The tiers\n\n"
            "How many customers each tier holds, and their shares of customers, of predicted "
            "value and of past revenue. The grid crosses tiers with churn risk: each cell has "
            "its action.",
            "## 5. 各等级概况\n\n"
            "各等级的客户数，以及客户、预测价值和历史收入的占比。下方矩阵将等级与流失风险交叉，"
            "每格对应一项行动。",
        ),
        "migration": (
            "## 6. Movement since the last period\n\n"
            "Rows are last period's tiers, columns this period's: the diagonal are customers "
            "who kept their tier; right of it, downgrades; left of it, upgrades.",
            "## 6. 与上期相比的变动\n\n"
            "行为上期等级，列为本期等级：对角线为等级不变的客户，其右上为降级、左下为升级。",
        ),
        "programmes": (
            "## 7. Rule-based programmes against the evidence\n\n"
            "A membership ladder run by its own rules (cards by spend over the last year, "
            "upgrades as soon as earned, downgrades at the yearly evaluation) beside the tiers "
            "grounded in predicted value: who the rule ranks higher or lower than their "
            "predicted value.\n\n"
            "When given, the points ledger of the period (points earned, redeemed, expired and "
            "held; events rejected and why) and the B2B scorecard (accounts per grade with "
            "their plan).",
            "## 7. 规则型会员体系与证据对比\n\n"
            "按自身规则运行的会员等级（按近一年消费定卡，达标即升级，年度评估时降级）与基于预测价值的"
            "分级对照：规则高定或低定了哪些客户。\n\n"
            "如提供数据，另列本期积分台账（获得、兑换、过期、持有积分；被拒绝的事件及原因）"
            "和 B2B 评分卡（各等级客户数及对应计划）。",
        ),
        "playbook": (
            "## 8. Playbook for this period\n\n"
            "What to do for each tier, and where the graded customer table was written.",
            "## 8. 本期各等级策略\n\n各等级的行动建议，以及客户分级表的保存位置。",
        ),
        "method": (
            "## 9. Method\n\n"
            "For analysts: the fitted models with their parameter intervals, the check of the "
            "spend model's assumption, the statistics behind the back-test, the bootstrap "
            "intervals of the thresholds, and the software and parameters of this run. The "
            "sections above do not need them to be read.",
            "## 9. 方法附录\n\n"
            "供分析人员参考：拟合的模型及参数区间、消费模型假设的检验、回测的统计细节、门槛的重抽样区间，"
            "以及本次运行的软件版本和参数。阅读前文各部分无需这些内容。",
        ),
    },
)

#: Every table, by name (for checks that each entry has both languages)
TABLES: dict[str, Labels] = {
    t.name: t
    for t in (
        HEADERS,
        VALUES,
        RANKINGS,
        BASELINES,
        METRICS,
        HOLDOUT_MEASURES,
        ITEMS,
        ITEM_PREFIXES,
        PARAMETERS,
        *PARAMETER_VALUES.values(),
        UNITS,
        AXES,
        TITLES,
        ALT_TEXTS,
        MODEL_WORDS,
        SECTION_NAMES,
        SUFFICIENCY,
        SECTIONS,
    )
}


def label(key: str, lang: str = "en", table: Labels = AXES) -> str:
    """The text of ``key`` in ``lang`` from ``table`` (figure labels unless
    another table is given)."""
    return table(key, lang)


def section(key: str, lang: str = "en") -> str:
    """A section's heading and introduction, as Markdown in ``lang``."""
    return SECTIONS(key, lang)


def header(column: str, lang: str = "en") -> str:
    """A table column's header in ``lang``; unknown columns as they are."""
    text = HEADERS.get_text(column, lang)
    if text is not None:
        return text
    for pattern, (en, zh) in _HEADER_PATTERNS:
        found = pattern.match(column)
        if found:
            return pick(lang, en, zh).format(*found.groups())
    return column


def value(code: str, lang: str = "en") -> str:
    """A code shown in a table cell (``one_time``, ``past_spend``, ``new``) in
    words; unknown codes as they are."""
    return VALUES.get_text(code, lang, code) or code


def item(text: str, lang: str = "en") -> str:
    """An item of the run-facts or data-quality table in ``lang``."""
    known = ITEMS.get_text(text, lang)
    if known is not None:
        return known
    if text.startswith("parameter "):
        name = text[len("parameter ") :]
        return pick(lang, *PARAMETER_PREFIX) + (PARAMETERS.get_text(name, lang) or name)
    for prefix in ITEM_PREFIXES:
        if text.startswith(prefix):
            return ITEM_PREFIXES(prefix, lang) + text[len(prefix) :]
    return text


def item_value(name: str, text: str, lang: str = "en") -> str:
    """The value of a run-facts or data-quality item in ``lang``: parameter codes
    in words, known sentences translated."""
    if name.startswith("parameter "):
        codes = PARAMETER_VALUES.get(name[len("parameter ") :])
        if codes is not None:
            return codes.get_text(text, lang, text) or text
        return text
    return translate_text(text, lang)


def plural(n: int, singular_en: str, plural_en: str, zh_unit: str, lang: str = "en") -> str:
    """``n`` with its noun: "1 customer", "0 customers", "3 位客户"."""
    if lang == "zh":
        return f"{n:,} {zh_unit}"
    return f"{n:,} {singular_en if n == 1 else plural_en}"


def count(n: int, noun: str, lang: str = "en") -> str:
    """``n`` with a noun of :data:`NOUNS`: ``count(1, "customer")`` is "1 customer"."""
    return plural(n, *NOUNS[noun], lang=lang)
