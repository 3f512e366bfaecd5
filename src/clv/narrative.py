"""Plain-language readings of the report's figures, in English or Chinese.

Each function takes results objects and returns Markdown: a few sentences a
strategy team can read without statistics, with the numbers filled in.

Strings that come from users' files (tier and ladder names, actions,
playbooks, ids, file names, error messages quoting them) go into the Markdown
through :func:`escape_markdown`, so they show as plain text: never as a link,
markup, raw HTML or math. :class:`Table` HTML-escapes every header and cell.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import polars as pl

from clv import i18n
from clv.backtest import BacktestResult
from clv.migration import Migration
from clv.models import PURCHASE_MODELS, IndependenceCheck
from clv.tiers import Grading

__all__ = [
    "ModelSummary",
    "Table",
    "backtest",
    "backtest_statistics",
    "escape_markdown",
    "fit_outcome",
    "independence",
    "ladder",
    "matrices",
    "migration",
    "model_summary",
    "no_backtest",
    "no_migration",
    "skipped",
    "table",
    "thresholds",
    "tiers",
    "written",
]


# Markdown and math specials; & < > become HTML character references instead
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|$~])")
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\u2028\u2029]")


def escape_markdown(text: str) -> str:
    """``text`` as plain text inside Markdown: shown as written, never read as
    markup, a link, raw HTML or math.

    Backslash-escapes the Markdown and math specials
    ``\\ ` * _ { } [ ] ( ) # + - . ! | $ ~`` and writes ``&``, ``<`` and ``>``
    as HTML character references (``&amp;``, ``&lt;``, ``&gt;``); line breaks
    become spaces, so the text cannot start a heading, list or code block.
    ``[x](javascript:alert(1))`` becomes ``\\[x\\]\\(javascript:alert\\(1\\)\\)``.
    """
    flat = _LINE_BREAKS.sub(" ", str(text))
    return html.escape(_MARKDOWN_SPECIALS.sub(r"\\\1", flat), quote=False)


def _code(text: str) -> str:
    """``text`` as a Markdown code span: shown literally (code spans take no
    escapes), fenced with more backticks than the text holds in a row."""
    flat = _LINE_BREAKS.sub(" ", str(text))
    fence = "`" * (max((len(run) for run in re.findall(r"`+", flat)), default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


_pick = i18n.pick


def independence(check: IndependenceCheck | None, lang: str = "en") -> str:
    """Whether spend per order is independent of purchase frequency."""
    if check is None or check.pearson_r != check.pearson_r:  # NaN: too few repeat buyers
        return _pick(
            lang,
            "Too few repeat buyers to check the spend model's assumption.",
            "重复购买客户太少，无法检验消费模型的假设。",
        )
    r = check.pearson_r
    if check.holds():
        return _pick(
            lang,
            f"**Spend model check:** how often customers buy and how much they spend per order "
            f"are only weakly related (correlation {r:.2f}), as the spend model assumes.",
            f"**消费模型检验：** 购买频率与每单金额仅弱相关（相关系数 {r:.2f}），"
            "符合消费模型的假设。",
        )
    return _pick(
        lang,
        f"**Spend model check:** frequent buyers spend noticeably different amounts per order "
        f"(correlation {r:.2f}); the spend model assumes they do not, so treat the predicted "
        "order values of frequent buyers with care.",
        f"**消费模型检验：** 高频客户的每单金额明显不同（相关系数 {r:.2f}），与消费模型的假设不符，"
        "高频客户的预测订单金额需谨慎使用。",
    )


def matrices(lang: str = "en") -> str:
    return _pick(
        lang,
        "**Reading the matrices:** a customer who bought often (up) and recently (right) is "
        "almost surely still active and will buy most; one who bought often but long ago "
        "(upper left) has probably stopped. P(alive) is the chance that a customer has not "
        "left for good; the churn-risk bands below use the chance that a customer buys "
        "nothing over the horizon, which also grows for a customer who bought once, long ago.",
        "**解读：** 购买次数多（上方）且最近购买（右侧）的客户几乎肯定仍活跃，未来购买最多；"
        "购买次数多但很久未购买（左上）的客户很可能已经流失。存活概率是客户尚未永久离开的可能性；"
        "下文的流失风险分档依据客户在预测期内不再购买的概率，只购买过一次且时间久远的客户该概率同样会升高。",
    )


def no_backtest(lang: str = "en") -> str:
    return _pick(
        lang,
        "No back-test in this run (no calibration window was given).",
        "本次运行未做回测（未指定校准期）。",
    )


def _ranking_name(label: str, lang: str) -> str:
    name = i18n.RANKINGS.get_text(label, lang)
    return name if name is not None else escape_markdown(label)


def _advantage(row: dict) -> tuple[float, float, float]:
    """The winner's lead on a metric and its interval, all positive when the
    interval excludes zero."""
    d, lo, hi = row["difference"], row["lower"], row["upper"]
    ranking_ahead = row["better"] == "ranking"
    if ranking_ahead == row["higher_is_better"]:
        return d, lo, hi
    return -d, -hi, -lo


def _points(row: dict, value: float, sign: str = "") -> str:
    """A share as percentage points (one decimal), a correlation as is (three)."""
    if row["metric"] == "spearman":
        return f"{value:{sign}.3f}"
    return f"{value * 100:{sign}.1f}"


def _zh_join(before: str, name: str) -> str:
    """``before`` and ``name`` run together, with a space before a Latin name."""
    return f"{before} {name}" if name[:1].isascii() else f"{before}{name}"


def _tally(wins: int, losses: int, ties: int, lang: str) -> str:
    """ "better on 2, worse on 1 and not clearly different on 1", leaving out
    the counts that are zero."""
    if lang == "zh":
        parts = [(wins, "项更优"), (losses, "项较差"), (ties, "项无明显差异")]
        return "、".join(f"{n} {what}" for n, what in parts if n)
    parts = [(wins, "better"), (losses, "worse"), (ties, "not clearly different")]
    said = [f"{what} on {n}" for n, what in parts if n]
    return " and ".join([", ".join(said[:-1]), said[-1]]) if len(said) > 1 else said[0]


def _comparison_item(row: dict, lang: str) -> str:
    """One metric of one comparison: who ranks better, by how much, with the
    interval; or that there is no clear difference."""
    metric = row["metric"]
    share = metric != "spearman"
    if row["better"] == "tie":
        name = i18n.METRICS(metric, lang)
        a, b = row["ranking_value"], row["baseline_value"]
        values = f"{a:.0%} {_pick(lang, 'against', '对')} {b:.0%}" if share else f"{a:.3f}"
        if not share:
            values += f" {_pick(lang, 'against', '对')} {b:.3f}"
        span = _points(row, row["difference"], "+")
        interval = (
            f"{_points(row, row['lower'], '+')} {_pick(lang, 'to', '至')} "
            f"{_points(row, row['upper'], '+')}"
        )
        if lang == "zh":
            unit = " 个百分点" if share else ""
            return f"{name}无明显差异（{values}：{span}{unit}，{interval}）"
        unit = " percentage points" if share else ""
        return f"No clear difference in the {name} ({values}: {span}{unit}, {interval})"
    winner = row["ranking"] if row["better"] == "ranking" else row["baseline"]
    who = _ranking_name(winner, lang)
    d, lo, hi = (_points(row, v) for v in _advantage(row))
    if lang == "zh":
        who = _zh_join("按", f"{who}排序")
        return {
            "capture": f"{who}捕获的验证期价值更多：多 {d} 个百分点（{lo} 至 {hi}）",
            "missed": f"{who}漏掉的真正头部客户更少：少 {d} 个百分点（{lo} 至 {hi}）",
            "wrongly_promoted": f"{who}误升的尾部客户更少：少 {d} 个百分点（{lo} 至 {hi}）",
            "spearman": f"{who}与验证期价值的 Spearman 相关更高：高 {d}（{lo} 至 {hi}）",
        }[metric]
    who = who[0].upper() + who[1:]
    return {
        "capture": f"{who} captures more of the holdout value: {d} percentage points more "
        f"({lo} to {hi})",
        "missed": f"{who} misses fewer of the true top customers: {d} percentage points fewer "
        f"({lo} to {hi})",
        "wrongly_promoted": f"{who} wrongly promotes fewer of the bottom customers: {d} "
        f"percentage points fewer ({lo} to {hi})",
        "spearman": f"{who} ranks holdout value better by Spearman correlation: +{d} "
        f"({lo} to {hi})",
    }[metric]


def _comparison(rows: list[dict], baseline: str, lang: str) -> str:
    """The verdict of predicted value against one baseline, metric by metric."""
    name = i18n.BASELINES.get_text(baseline, lang)
    against = name if name is not None else escape_markdown(baseline)
    wins = sum(r["better"] == "ranking" for r in rows)
    losses = sum(r["better"] == "baseline" for r in rows)
    ties = len(rows) - wins - losses
    level = f"{rows[0]['level']:.0%}"
    if lang == "zh":
        if wins == losses == 0:
            verdict = _zh_join("基于预测价值的分级与", against)
            verdict += f"在 {len(rows)} 项指标上均无明显差异"
        else:
            tally = _tally(wins, losses, ties, lang)
            verdict = f"基于预测价值的分级在 {len(rows)} 项指标中 {tally}"
        head = f"**{_zh_join('与', against)}相比：** {verdict}（{level} 区间，由客户重抽样得出）："
    else:
        if wins == losses == 0:
            verdict = (
                f"no clear difference between grading on predicted value and {against} on any "
                f"of the {len(rows)} measures"
            )
        else:
            tally = _tally(wins, losses, ties, lang)
            verdict = f"grading on predicted value is {tally} of the {len(rows)} measures"
        verdict = verdict[0].upper() + verdict[1:]
        head = f"**Against {against}:** {verdict} ({level} intervals from resampling customers):"
    return "\n".join([head, "", *(f"- {_comparison_item(r, lang)}" for r in rows)])


def backtest(result: BacktestResult, lang: str = "en") -> str:
    if getattr(result, "counts_only", False):
        return _backtest_purchases(result, lang)
    rows = {r["ranking"]: r for r in result.rankings.iter_rows(named=True)}
    c, s = rows["clv"], rows["past_spend"]
    r = rows.get("rfm")
    top = f"{c['top_customers']:,}"
    days = f"{result.holdout_days:.0f}"
    comparisons = result.comparisons.filter(pl.col("ranking") == "clv")
    baselines = list(dict.fromkeys(comparisons["baseline"].to_list()))
    blocks = [
        _comparison(comparisons.filter(pl.col("baseline") == b).to_dicts(), b, lang)
        for b in baselines
    ]
    if lang == "zh":
        rfm_capture = f"，按 RFM 评分为 {r['capture']:.0%}" if r else ""
        rfm_missed = f"，RFM 评分为 {r['missed']:.0%}" if r else ""
        lead = (
            f"**回测：** 在随后 {days} 天中，按预测价值选出的前 {top} 位客户贡献了 "
            f"{c['capture']:.0%} 的实际收入（按历史消费选出的为 {s['capture']:.0%}{rfm_capture}），"
            f"漏掉了 {c['missed']:.0%} 的真正头部客户（历史消费为 {s['missed']:.0%}{rfm_missed}）。"
        )
    else:
        rfm_capture = f"; by RFM score: {r['capture']:.0%}" if r else ""
        rfm_missed = f"; RFM score: {r['missed']:.0%}" if r else ""
        lead = (
            f"**Back-test:** over the following {days} days, the {top} customers with the "
            f"highest predicted value brought {c['capture']:.0%} of the actual revenue (the top "
            f"by past spend: {s['capture']:.0%}{rfm_capture}) and missed {c['missed']:.0%} of "
            f"the true top customers (past spend: {s['missed']:.0%}{rfm_missed})."
        )
    return "\n\n".join([lead, *blocks])


def _backtest_purchases(result: BacktestResult, lang: str) -> str:
    """The back-test of a log without amounts: rankings of purchases against
    holdout purchases (holdout value unavailable)."""
    rows = {r["ranking"]: r for r in result.rankings.iter_rows(named=True)}
    c, s = rows["expected_purchases"], rows["past_purchases"]
    top, days = f"{c['top_customers']:,}", f"{result.holdout_days:.0f}"
    comparisons = result.comparisons.filter(pl.col("ranking") == "expected_purchases")
    blocks = [
        _comparison(comparisons.filter(pl.col("baseline") == b).to_dicts(), b, lang)
        for b in dict.fromkeys(comparisons["baseline"].to_list())
    ]
    lead = _pick(
        lang,
        f"**Back-test (purchases; the log has no amounts):** over the following {days} days, "
        f"the {top} customers with the most expected purchases made {c['capture']:.0%} of the "
        f"actual purchases (the top by past purchases: {s['capture']:.0%}) and missed "
        f"{c['missed']:.0%} of the true top buyers (past purchases: {s['missed']:.0%}).",
        f"**回测（按购买次数；记录不含金额）：** 在随后 {days} 天中，按预期购买次数选出的前 {top} "
        f"位客户完成了 {c['capture']:.0%} 的实际购买（按历史购买次数选出的为 {s['capture']:.0%}），"
        f"漏掉了 {c['missed']:.0%} 的真正头部买家（历史购买次数为 {s['missed']:.0%}）。",
    )
    return "\n\n".join([lead, *blocks])


def _comparison_table(comparisons: pl.DataFrame, lang: str) -> str:
    """Every paired comparison of rankings as a Markdown table."""
    if comparisons.height == 0:
        return ""
    first = comparisons.row(0, named=True)
    level, resamples = f"{first['level']:.0%}", f"{first['resamples']:,}"
    header = _pick(
        lang,
        "| measure | ranking | against | difference | interval | verdict |",
        "| 指标 | 排序依据 | 对照 | 差异 | 区间 | 结论 |",
    )
    lines = [
        _pick(
            lang,
            f"**Rankings compared** (paired bootstrap: {resamples} resamples of customers, "
            f"{level} percentile intervals; differences of shares in percentage points):",
            f"**排序比较**（配对自助法：客户重抽样 {resamples} 次，{level} 百分位区间；"
            "占比的差异以百分点表示）：",
        ),
        "",
        header,
        "|---|---|---|---:|---:|---|",
    ]
    for row in comparisons.iter_rows(named=True):
        if row["better"] == "tie":
            verdict = _pick(lang, "no clear difference", "无明显差异")
        else:
            winner = _ranking_name(row[row["better"]], lang)
            verdict = _pick(lang, f"{winner} ahead", f"{winner}占优")
        lines.append(
            f"| {i18n.METRICS(row['metric'], lang)} "
            f"| {_ranking_name(row['ranking'], lang)} | {_ranking_name(row['baseline'], lang)} "
            f"| {_points(row, row['difference'], '+')} "
            f"| {_points(row, row['lower'], '+')} {_pick(lang, 'to', '至')} "
            f"{_points(row, row['upper'], '+')} | {verdict} |"
        )
    return "\n".join(lines)


def backtest_statistics(result: BacktestResult, lang: str = "en") -> str:
    order = (
        _pick(lang, "The tiers rank future value in order.", "各等级的未来价值排序正确。")
        if not result.rank_violations
        else _pick(lang, "Out of order: ", "排序不一致：")
        + _pick(lang, "; ", "；").join(escape_markdown(v) for v in result.rank_violations)
        + _pick(lang, ".", "。")
    )
    slope = result.glm_calibration.params[1]
    table = _comparison_table(result.comparisons, lang)
    if getattr(result, "counts_only", False):
        order = order.replace("future value", "future purchases").replace("未来价值", "未来购买")
    if lang == "zh":
        text = (
            f"{order} 各等级验证期价值差异显著"
            f"（Kruskal-Wallis 检验 p = {result.kruskal_pvalue:.2g}）。"
            f"左图：按校准期购买次数分组的实际与预测购买；中图：累计重复购买的跟踪；"
            f"右图：预测的'验证期不购买'概率与实际比例（Brier 分数 {result.brier_no_purchase:.3f}，"
            f"校准斜率 {slope:.2f}，1 为理想）。"
        )
    else:
        text = (
            f"{order} Tiers differ in holdout value (Kruskal-Wallis p = "
            f"{result.kruskal_pvalue:.2g}). Left: actual against predicted holdout purchases by "
            "calibration purchases; middle: cumulative repeat purchases tracked week by week; "
            "right: predicted chance of no purchase in the holdout against what happened (Brier "
            f"score {result.brier_no_purchase:.3f}, calibration slope {slope:.2f}, ideal 1)."
        )
    if getattr(result, "counts_only", False):  # the outcome is holdout purchases
        text = text.replace("holdout value", "holdout purchases").replace(
            "验证期价值", "验证期购买次数"
        )
    return f"{text}\n\n{table}" if table else text


def _amount(value: float, currency: str, digits: int = 2) -> str:
    """A money amount with its currency when one is given: "173.30 USD"."""
    text = f"{value:,.{digits}f}"
    return f"{text} {escape_markdown(currency)}" if currency else text


def thresholds(grading: Grading, lang: str | None = None, currency: str = "") -> str:
    """The top tier's threshold and share, and how stable the thresholds are
    (in the grading's language unless ``lang`` is given; money in ``currency``)."""
    lang = lang or grading.lang
    table = grading.tier_table()
    top = table.row(0, named=True)
    top_name = escape_markdown(top["tier_name"])
    cut = _amount(top["threshold"], currency)
    if getattr(grading, "measure", "clv") != "clv":  # a log without amounts
        cut = f"{top['threshold']:,.2f}"
        text = _pick(
            lang,
            f"**Thresholds:** the top tier ({top_name}) starts at {cut} expected purchases and "
            f"holds {top['share_customers']:.1%} of customers but "
            f"{top['share_expected_purchases']:.0%} of expected purchases.",
            f"**门槛：** 最高等级（{top_name}）的预期购买次数门槛为 {cut}，"
            f"以 {top['share_customers']:.1%} 的客户占预期购买次数的 "
            f"{top['share_expected_purchases']:.0%}。",
        )
    else:
        text = ""
    text = text or _pick(
        lang,
        f"**Thresholds:** the top tier ({top_name}) starts at a predicted value of "
        f"{cut} and holds {top['share_customers']:.1%} of customers but "
        f"{top['share_clv']:.0%} of predicted value.",
        f"**门槛：** 最高等级（{top_name}）的预测价值门槛为 {cut}，"
        f"以 {top['share_customers']:.1%} 的客户占预测价值的 {top['share_clv']:.0%}。",
    )
    s = grading.stability
    if s is not None:
        text += " " + _pick(
            lang,
            f"Across {i18n.count(s.n_resamples, 'resample')}, {s.unstable_share:.0%} of customers "
            "change tier "
            f"in at least {s.instability_level:.0%} of them: those near a threshold.",
            f"在 {s.n_resamples} 次重抽样中，{s.unstable_share:.0%} 的客户在至少 "
            f"{s.instability_level:.0%} 的重抽样中改变等级，均为门槛附近的客户。",
        )
    return text


def tiers(grading: Grading, lang: str | None = None, currency: str = "") -> str:
    """The predicted value held by customers at churn risk, and how many of
    them are in the top tier (in the grading's language unless ``lang`` is
    given; money in ``currency``)."""
    lang = lang or grading.lang
    grid = grading.grid()
    first = grading.scheme.bands[0].id
    at_stake = grid.filter(pl.col("risk_band") != first)
    measure = getattr(grading, "measure", "clv")
    value = at_stake[measure].sum()
    top = grading.scheme.tiers[0]
    top_risk = int(at_stake.filter(pl.col("tier") == top.id)["customers"].sum())
    top_name = escape_markdown(top.name(lang))
    if at_stake["customers"].sum() == 0:
        return _pick(
            lang,
            "**Value at stake:** no customer is outside the healthiest risk band.",
            "**风险价值：** 没有客户处于流失风险中。",
        )
    head = _pick(
        lang,
        f"**Value at stake:** customers outside the healthiest risk band hold "
        f"{_amount(value, currency, 0)} of predicted value; ",
        f"**风险价值：** 处于流失风险中的客户共持有 {_amount(value, currency, 0)} 的预测价值；",
    )
    if measure != "clv":  # a log without amounts: purchases at stake
        head = _pick(
            lang,
            f"**Purchases at stake:** customers outside the healthiest risk band are expected "
            f"to make {value:,.0f} purchases over the horizon; ",
            f"**风险购买：** 处于流失风险中的客户在预测期内预计共购买 {value:,.0f} 次；",
        )
    if top_risk == 0:
        return head + _pick(
            lang,
            f"none of them is a {top_name} customer.",
            f"其中没有{top_name}客户。",
        )
    who = (
        f"1 of them is a {top_name} customer"
        if top_risk == 1
        else f"{top_risk:,} of them are {top_name} customers"
    )
    return head + _pick(
        lang,
        f"{who}, for whom the grid's action applies first.",
        f"其中 {top_risk:,} 位为{top_name}客户，应优先执行矩阵中的对应行动。",
    )


def no_migration(lang: str = "en") -> str:
    return _pick(
        lang,
        "No previous grading was given, so there is no movement to show.",
        "未提供上期分级，无法显示变动。",
    )


def migration(result: Migration, lang: str = "en") -> str:
    c = result.counts()
    text = _pick(
        lang,
        f"Since the last period: {i18n.count(c['up'], 'customer')} moved up, "
        f"{c['down']:,} moved down, {c['same']:,} kept their tier, {c['new']:,} "
        f"{'is' if c['new'] == 1 else 'are'} new and {c['left']:,} left the graded base.",
        f"与上期相比：{c['up']:,} 位客户升级，{c['down']:,} 位降级，{c['same']:,} 位不变，"
        f"{c['new']:,} 位为新客户，{c['left']:,} 位离开。",
    )
    rematched = result.ids_matched_without_leading_zeros
    if rematched:
        text += _pick(
            lang,
            f" {i18n.count(rematched, 'customer')} had ids written differently in the last "
            "period (with or without leading zeros, as when one log stored ids as numbers) and "
            "were matched by their digits.",
            f" 另有 {rematched:,} 位客户的编号在上期写法不同"
            "（有无前导零，例如某期数据把编号存为数字），已按数字匹配。",
        )
    return text


def written(paths: list[Path], lang: str = "en") -> str:
    names = ", ".join(_code(Path(p).name) for p in paths)
    return _pick(lang, f"Saved with this report: {names}.", f"已随本报告保存：{names}。")


# columns shown as percentages
_PERCENT = {
    "share_customers",
    "share_clv",
    "share_revenue",
    "capture",
    "missed",
    "wrongly_promoted",
    "holdout_value_share",
    "repurchase_rate",
    "share_expected_purchases",
    "holdout_purchases_share",
}


# columns that hold money: their header carries the currency when one is given
_MONEY = {
    "suggested_minimum",
    "revenue_total",
    "minimum_spend",
    "previous_clv",
    "value_change",
    "threshold",
    "clv",
    "clv_mean",
    "predicted_value_mean",
    "holdout_value_mean",
    "expected_order_value",
    "revenue",
    "monetary_value",
}


class Table:
    """A polars frame shown as a clean HTML table: translated headers, no
    types or quotes, percentages and thousands separators, nothing cut;
    money columns say their currency when one is given."""

    def __init__(
        self, frame: pl.DataFrame, lang: str = "en", digits: int = 2, currency: str = ""
    ) -> None:
        self.frame = frame
        self.lang = lang
        self.digits = digits
        self.currency = currency

    def _header(self, column: str) -> str:
        text = i18n.header(column, self.lang)
        if self.currency and column in _MONEY:
            text += f"（{self.currency}）" if self.lang == "zh" else f" ({self.currency})"
        return text

    def _cell(self, column: str, value: object, row: dict[str, object] | None = None) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            if value != value:
                return "–"
            if column in _PERCENT:
                return f"{value:.1%}"
            return f"{value:,.{self.digits}f}"
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        if column in i18n.CODE_COLUMNS:
            return i18n.value(str(value), self.lang)
        if column == "item":
            return i18n.item(str(value), self.lang)
        if column == "reason":
            return i18n.translate_text(str(value), self.lang)
        if column == "value" and row is not None and isinstance(row.get("item"), str):
            return i18n.item_value(str(row["item"]), str(value), self.lang)
        return str(value)

    def _cells(self, row: tuple) -> list[str]:
        named = dict(zip(self.frame.columns, row, strict=True))
        return [self._cell(c, v, named) for c, v in named.items()]

    def _repr_html_(self) -> str:
        left = " style='text-align:left'"
        head = "".join(f"<th>{html.escape(self._header(c))}</th>" for c in self.frame.columns)
        body = "".join(
            "<tr>"
            + "".join(
                f"<td{'' if isinstance(v, int | float) else left}>{html.escape(text)}</td>"
                for v, text in zip(row, self._cells(row), strict=True)
            )
            + "</tr>"
            for row in self.frame.iter_rows()
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __str__(self) -> str:
        rows = [[self._header(c) for c in self.frame.columns]]
        rows += [self._cells(row) for row in self.frame.iter_rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join(
            "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows
        )


_TITLE = re.compile(r"^(?P<model>.+) (?P<kind>purchase model|spend model) \((?P<detail>.*)\)$")


def _model_title(title: str, lang: str) -> str:
    """ "BG/NBD purchase model (time unit W)" in words of ``lang``."""
    found = _TITLE.match(title)
    if not found:
        return title
    model, kind, detail = found.group("model", "kind", "detail")
    unit = re.fullmatch(r"time unit (\w)", detail)
    if unit:
        words = i18n.MODEL_WORDS("time unit", lang)
        detail = f"{words}: {i18n.UNITS.get_text(unit.group(1), lang, unit.group(1))}"
    else:
        detail = i18n.MODEL_WORDS.get_text(detail, lang, detail) or detail
    if lang == "zh":
        return f"{model} {i18n.MODEL_WORDS(kind, lang)}（{detail.replace(': ', '：')}）"
    return f"{model} {kind} ({detail})"


class ModelSummary:
    """A fitted model's summary as HTML in the report's language: a caption,
    the fit statistics, the parameters with their standard errors and
    intervals, and the notes."""

    def __init__(self, results, lang: str = "en", alpha: float = 0.05) -> None:
        self.results = results
        self.lang = lang
        self.alpha = alpha

    def _parts(self) -> tuple[str, list[list[str]], list[list[str]], list[str]]:
        lang = self.lang
        summary = self.results.summary(self.alpha)
        info, params = summary.tables[0], summary.tables[1]
        caption = _model_title(str(info.title), lang)
        words = i18n.MODEL_WORDS
        stats = [
            [
                words.get_text(str(c), lang, str(c)) or "" if i % 2 == 0 else str(c)
                for i, c in enumerate(row)
            ]
            for row in info
        ]
        level = f"{100 * (1 - self.alpha):g}%"
        head = [
            "",
            words("coef", lang),
            words("std err", lang),
            i18n.header(f"lower {level}", lang),
            i18n.header(f"upper {level}", lang),
        ]
        rows = [head] + [
            [i18n.PARAMETER_SYMBOLS.get(str(row[0]), str(row[0])), *(str(c) for c in row[1:])]
            for row in list(params)[1:]
        ]
        notes = [words("standard errors", lang)] + [
            i18n.translate_text(n, lang) for n in self.results.notes
        ]
        return caption, stats, rows, notes

    def _repr_html_(self) -> str:
        caption, stats, rows, notes = self._parts()
        e = html.escape
        top = "".join(
            "<tr>"
            + "".join(
                f"<th style='text-align:left'>{e(c)}</th>" if i % 2 == 0 else f"<td>{e(c)}</td>"
                for i, c in enumerate(row)
            )
            + "</tr>"
            for row in stats
        )
        head = "".join(f"<th>{e(c)}</th>" for c in rows[0])
        body = "".join(
            f"<tr><th>{e(row[0])}</th>" + "".join(f"<td>{e(c)}</td>" for c in row[1:]) + "</tr>"
            for row in rows[1:]
        )
        text = "".join(f"<p>{e(n)}</p>" for n in notes)
        return (
            f"<table><caption>{e(caption)}</caption><tbody>{top}</tbody></table>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{text}"
        )

    def __str__(self) -> str:
        caption, stats, rows, notes = self._parts()
        lines = [caption, *("  ".join(r).rstrip() for r in stats), ""]
        lines += ["  ".join(r) for r in rows] + ["", *notes]
        return "\n".join(lines)


def model_summary(results, lang: str = "en") -> ModelSummary:
    """Show a fitted purchase or spend model's summary in ``lang`` (see
    :class:`ModelSummary`)."""
    return ModelSummary(results, lang)


def table(frame: pl.DataFrame, lang: str = "en", digits: int = 2, currency: str = "") -> Table:
    """Show a frame as a clean table in a report (see :class:`Table`)."""
    return Table(frame, lang, digits, currency)


def fit_outcome(outcome, lang: str = "en") -> str:
    """Visible warnings about model fits that failed or needed a fallback
    (:class:`clv.report.FitOutcome`); empty when all went to plan."""
    if getattr(outcome, "gated", None) is not None:
        return skipped(lang, outcome)
    parts = []
    purchase_error = escape_markdown(outcome.purchase_error or "")
    spend_error = escape_markdown(outcome.spend_error or "")
    if outcome.purchase is None:
        parts.append(
            _pick(
                lang,
                f"> **⚠ Warning: no purchase model could be fitted.** {purchase_error} "
                "The sections that need predictions are skipped in this report.",
                f"> **⚠ 警告：无法拟合购买模型。** {purchase_error} 需要预测的部分在本报告中略过。",
            )
        )
    elif len(outcome.attempts) > 1:
        used = outcome.attempts[-1]
        model = escape_markdown(used.model)
        parts.append(
            _pick(
                lang,
                f"> **⚠ Fallback used:** the requested model did not converge; the report uses "
                f"{model} with penalizer {used.penalizer:g} after {len(outcome.attempts) - 1} "
                "failed tries.",
                "> **⚠ 已使用备选方案：** 所选模型未收敛；"
                f"经过 {len(outcome.attempts) - 1} 次失败尝试后，"
                f"本报告使用 {model}（惩罚系数 {used.penalizer:g}）。",
            )
        )
    if getattr(outcome, "count_only", False):
        parts.append(f"> **{_pick(lang, *i18n.COUNT_ONLY)}**")
    elif outcome.spend is None:
        parts.append(
            _pick(
                lang,
                f"> **⚠ Warning: no spend model.** {spend_error} Each customer's own mean "
                "spend per purchase is used instead.",
                f"> **⚠ 警告：无消费模型。** {spend_error} 改用每位客户自身的平均每次消费额。",
            )
        )
    return "\n\n".join(parts)


def failure(failed, lang: str = "en") -> str:
    """A visible note for an optional section that could not be computed
    (:class:`clv.report.SectionFailure`), with the reason of every try; the
    rest of the report stands."""
    section = escape_markdown(
        i18n.SECTION_NAMES.get_text(failed.section, lang, failed.section) or failed.section
    )
    reason = failed.error.strip()
    reason = escape_markdown(reason if reason.endswith((".", "。", "!", "?")) else reason + ".")
    tries = "".join(
        f"\n> - {escape_markdown(a.model)} "
        f"({i18n.MODEL_WORDS('penalizer', lang)} {a.penalizer:g}): "
        + escape_markdown(a.error or _pick(lang, "fitted", "拟合成功"))
        for a in failed.attempts
    )
    return _pick(
        lang,
        f"> **⚠ This section could not be computed: {section}.** {reason} The rest of the "
        f"report does not depend on it and stands.{tries}",
        f"> **⚠ 本部分无法计算：{section}。** {reason} 报告其余部分不依赖于此，仍然有效。{tries}",
    )


def ties(grading: Grading, lang: str | None = None, currency: str = "") -> str:
    """Where a threshold moved so as not to split customers with equal (or,
    within its bootstrap interval, indistinguishable) predicted values, and
    which tiers are empty or nearly so, and why; empty when nothing moved.
    In the grading's language unless ``lang`` is given."""
    lang = lang or grading.lang
    names = {t.id: escape_markdown(t.name(lang)) for t in grading.scheme.tiers}
    lines = []
    for move in grading.threshold_moves:
        if move.customers_moved == 0:
            continue
        tier = names.get(move.tier, escape_markdown(move.tier))
        was, now = _amount(move.grounded, currency), _amount(move.final, currency)
        if move.reason == "tie_block":
            lines.append(
                _pick(
                    lang,
                    f"- The lower edge of {tier} moved from {was} to "
                    f"{now}: {move.block_customers:,} customers share the same "
                    f"predicted value there, and all of them stay together "
                    f"({move.customers_moved:,} changed tier).",
                    f"- {tier}的下限由 {was} 调整为 {now}："
                    f"该处有 {move.block_customers:,} 位客户的预测价值完全相同，"
                    f"他们被分在同一等级（{move.customers_moved:,} 位客户因此改变等级）。",
                )
            )
        else:
            lines.append(
                _pick(
                    lang,
                    f"- The lower edge of {tier} moved from {was} to "
                    f"{now}: the {move.block_customers:,} customers inside its "
                    "bootstrap interval cannot be told apart, so they stay together "
                    f"({move.customers_moved:,} changed tier).",
                    f"- {tier}的下限由 {was} 调整为 {now}："
                    f"其重抽样区间内的 {move.block_customers:,} 位客户无法区分，"
                    f"因此被分在同一等级（{move.customers_moved:,} 位客户因此改变等级）。",
                )
            )
    for row in grading.sparse_tiers().iter_rows(named=True):
        tier = names.get(row["tier"], escape_markdown(str(row["tier"])))
        count = row["customers"]
        if count == 0:
            lines.append(
                _pick(
                    lang,
                    f"- {tier} is empty: the customers near its threshold have equal or "
                    "indistinguishable values and sit together in a neighbouring tier.",
                    f"- {tier}没有客户：门槛附近客户的预测价值相同或无法区分，已一同归入相邻等级。",
                )
            )
        else:
            lines.append(
                _pick(
                    lang,
                    f"- {tier} holds only {i18n.count(count, 'customer')} ({row['share']:.1%}).",
                    f"- {tier}仅有 {count:,} 位客户（{row['share']:.1%}）。",
                )
            )
    if not lines:
        return ""
    head = _pick(lang, "**Thresholds and equal values:**", "**门槛与相同价值：**")
    return head + "\n\n" + "\n".join(lines)


def model_choice(selection, lang: str = "en") -> str:
    """Which purchase model the run uses and why (:class:`clv.selection.ModelSelection`)."""
    chosen = selection.label
    evidence = selection.evidence
    tied = [PURCHASE_MODELS.get(m, m) for m in evidence.get("tied", [])]
    reason = selection.reason
    if reason == "holdout":
        en = (
            "predicted the purchases of the holdout window best, and clearly better than "
            "the other models (mean log-likelihood per customer)."
        )
        zh = "对验证期购买的预测最好，且明显优于其他模型（每位客户的平均对数似然）。"
    elif reason == "holdout_tie_bic":
        names = ", ".join(tied)
        en = (
            f"on the holdout window it and {names} predict purchases about equally well "
            "(the differences lie within their 95 % intervals), and it fits the whole "
            "history best by BIC."
        )
        zh = (
            f"在验证期，它与 {names} 的预测效果相当（差异在 95% 区间之内），"
            "而按 BIC 它对全部历史的拟合最好。"
        )
    elif reason in ("bic", "bic_no_holdout"):
        en = "it fits the history best by BIC (no back-test window to compare predictions on)."
        zh = "按 BIC 它对历史的拟合最好（没有可比较预测的回测窗口）。"
    else:
        en = "it is the only model that could be fitted."
        zh = "它是唯一能够拟合的模型。"
    chosen_row = selection.table.filter(pl.col("chosen"))
    penalizer = float(chosen_row["penalizer"][0] or 0.0) if chosen_row.height else 0.0
    if penalizer > 0:
        en += (
            f" It needed a penalizer of {penalizer:g} to converge: its estimates are shrunk "
            "towards zero."
        )
        zh += f"该模型需要惩罚系数 {penalizer:g} 才能收敛：其估计值向零收缩。"
    return _pick(
        lang,
        f"**Purchase model: {chosen}.** Chosen among BG/NBD, MBG/NBD and Pareto/NBD because {en}",
        f"**购买模型：{chosen}。** 从 BG/NBD、MBG/NBD 和 Pareto/NBD 中选出，因为{zh}",
    )


def model_comparison(selection) -> pl.DataFrame:
    """The purchase models side by side: fit (BIC) and holdout accuracy."""
    columns = ["label", "bic", "delta_bic", "holdout_loglik", "holdout_mae", "chosen"]
    table = selection.table
    return (
        table.select([c for c in columns if c in table.columns])
        .rename({"label": "model"})
        .with_columns(
            pl.when(pl.col("chosen")).then(pl.lit("✓")).otherwise(pl.lit("")).alias("chosen")
        )
    )


def sufficiency(result, lang: str = "en", *, gated: bool = False) -> str:
    """Whether the data suffice for a forecast (:class:`clv.report.Sufficiency`),
    in plain words; below the minimum, a visible warning saying why. With
    ``gated`` (the run made no predictions because of it), the warning says
    that customers are graded by the rule ladder instead."""
    rows = result.checks.iter_rows(named=True)
    short = [
        (i18n.SUFFICIENCY(r["check"], lang), r["value"], r["minimum"])
        for r in rows
        if not r["passed"]
    ]
    if not short:
        return _pick(
            lang,
            "**Enough data to forecast:** customers, history and repeat buyers are all above "
            "the minimum a lifetime-value forecast needs.",
            "**数据足以支持预测：** 客户数、历史长度和复购客户均达到终身价值预测所需的最低要求。",
        )
    listed_en = "; ".join(f"{n}: {v:,.0f} (at least {m:,.0f} needed)" for n, v, m in short)
    listed_zh = "；".join(f"{n}：{v:,.0f}（至少需要 {m:,.0f}）" for n, v, m in short)
    if gated:
        return _pick(
            lang,
            f"> **⚠ Too little data for reliable predictions.** {listed_en}. Predicted values "
            "and churn risks from so little history would not be trustworthy, so this report "
            "makes none: customers are graded by the rule-based membership ladder on what they "
            "have spent, and the sections that need predictions are left out. Run the report "
            "again when the log is longer or larger.",
            f"> **⚠ 数据不足，预测不可靠。** {listed_zh}。"
            "基于如此少的历史，预测价值和流失风险都不可信，"
            "因此本报告不做预测：客户按规则型会员等级（依据历史消费）分级，需要预测的部分不予展示。"
            "待数据更长或更多时请重新运行本报告。",
        )
    return _pick(
        lang,
        f"> **⚠ Too little data for reliable predictions.** {listed_en}. The predicted values, "
        "churn probabilities and tiers below are shown, but should not guide budgets until "
        "the log is longer or larger; the rule-based ladder in section 7 does not depend on "
        "them.",
        f"> **⚠ 数据不足，预测不可靠。** {listed_zh}。下文的预测价值、流失概率和等级仅供参考，"
        "在数据更长或更多之前不宜据此分配预算；第 7 部分的规则型等级不依赖这些预测。",
    )


def rule_grading(rule, lang: str = "en", currency: str = "") -> str:
    """What grading by the rule ladder means (:class:`clv.report.RuleGrading`),
    or why there is no grading at all when the run has no ladder (None)."""
    if rule is None:
        return _pick(
            lang,
            "*No grading this period: there are too few data for predictions and no rule "
            "ladder was given to grade by (give one with --ladder).*",
            "*本期未分级：数据不足以预测，且未指定可据以分级的规则型会员等级"
            "（请用 --ladder 指定）。*",
        )
    name = escape_markdown(rule.ladder_name)
    top = rule.tier_table().filter(pl.col("customers") > 0).head(1)
    level = escape_markdown(str(top["rule_level_name"][0])) if top.height else ""
    share = float(top["share_customers"][0]) if top.height else 0.0
    return _pick(
        lang,
        f"**Graded by the rules, not by predicted value.** Each customer holds the level the "
        f"{name} rules give on past spend; each level is matched to the tier of the same rank "
        f"and its playbook. The highest level reached is {level} "
        f"({share:.1%} of customers).",
        f"**本期按规则分级，而非按预测价值。** 每位客户的等级由“{name}”规则根据历史消费确定，"
        f"各等级对应同一排序的分级及其策略。达到的最高等级为{level}（占客户的 {share:.1%}）。",
    )


def skipped(lang: str = "en", fits=None) -> str:
    """Why a section that needs predictions is empty: too few data (``fits``
    gated, see :func:`clv.report.fit_models`) or no model could be fitted."""
    if fits is not None and getattr(fits, "gated", None) is not None:
        return _pick(
            lang,
            "*Left out: too little data for predictions (see the warning in section 1).*",
            "*未展示：数据不足以预测（见第 1 部分的警告）。*",
        )
    return _pick(
        lang,
        "*Skipped: no purchase model could be fitted (see the warning under Model fit).*",
        "*已略过：无法拟合购买模型（见模型拟合部分的警告）。*",
    )


def ladder(verdicts: dict[str, int], ladder_name: str, lang: str = "en") -> str:
    """How a rule-based ladder agrees with the CLV-grounded tiers."""
    over, under = verdicts.get("over-graded", 0), verdicts.get("under-graded", 0)
    ladder_name = escape_markdown(ladder_name)
    same = verdicts.get("agrees", 0)
    return _pick(
        lang,
        f"**{ladder_name} against the evidence:** the rule puts {i18n.count(over, 'customer')} "
        f"in a higher level than their predicted value supports (over-graded) and {under:,} "
        f"lower (under-graded); {same:,} {'agrees' if same == 1 else 'agree'}. Levels are "
        "matched from the top; the table gives the predicted value in each cell.",
        f"**{ladder_name}与证据对比：** 规则将 {over:,} 位客户定在高于其预测价值的等级（高定），"
        f"{under:,} 位低于（低定）；{same:,} 位一致。等级自上而下对应，表中为各格的预测价值。",
    )


def fit_check(check, lang: str = "en") -> str:
    """The chi-square fit check of the purchase models
    (:class:`clv.models.predictions.RepeatPurchaseHistogram`) in words: for
    each model, whether its expected histogram departs from the data at the
    5 % level."""
    parts_en, parts_zh = [], []
    for row in check.fit.iter_rows(named=True):
        label = PURCHASE_MODELS.get(row["model"], row["model"])
        fits = row["p_value"] >= 0.05
        parts_en.append(
            f"{label}: chi-square {row['chi_square']:.1f} on {row['df']} degrees of freedom, "
            f"p = {row['p_value']:.2g} ({'no clear departure' if fits else 'departs'})"
        )
        parts_zh.append(
            f"{label}：卡方 {row['chi_square']:.1f}，自由度 {row['df']}，p = {row['p_value']:.2g}"
            f"（{'无明显偏离' if fits else '有偏离'}）"
        )
    return _pick(
        lang,
        "**Fit check:** customers by number of repeat purchases against what each model "
        "expects (Fader, Hardie and Lee 2005); a p-value below 0.05 says the model's histogram "
        "departs from the data. " + "; ".join(parts_en) + ".",
        "**拟合检验：** 按重复购买次数分组的客户数与各模型的预期对比；"
        "p 值低于 0.05 表示模型的分布与数据有偏离。" + "；".join(parts_zh) + "。",
    )


def loyalty(lang: str = "en") -> str:
    """What the value x loyalty grid shows, and that its cut-offs are examples."""
    return _pick(
        lang,
        "**Value and loyalty:** the grid of the source documents crosses past spend (high, "
        "medium, low value) with loyalty (loyal, general, lost: how often, how regularly and "
        "how recently customers buy, and whether they refer others). The documents give no "
        "cut-offs; the ones used here are examples.",
        "**价值与忠诚度：** 按原始文件的做法，将历史消费（高、中、低价值）与忠诚度"
        "（忠诚、一般、流失：购买的频率、规律性与近期性，以及是否推荐他人）交叉。"
        "文件未给出划分标准，此处所用的标准仅为示例。",
    )


def liability(table, horizon_days: float, lang: str = "en") -> str:
    """The points liability forecast in one sentence: of the points held now,
    how many are expected to be redeemed and to expire within the horizon."""
    rows = {r["points_outcome"]: r for r in table.iter_rows(named=True)}
    held, redeemed, expired = (rows[k] for k in ("held", "redeemed", "expired"))
    days = f"{horizon_days:g}"
    return _pick(
        lang,
        f"**Points owed:** members hold {held['points']:,.0f} points, worth "
        f"{held['yuan']:,.2f} yuan. Over the next {days} days, from each member's predicted "
        f"purchases and the programme's observed redemption rate, about "
        f"{redeemed['points']:,.0f} points ({redeemed['yuan']:,.2f} yuan) are expected to be "
        f"redeemed and {expired['points']:,.0f} to expire unredeemed (breakage); the "
        "intervals below give the range.",
        f"**积分负债：** 会员持有 {held['points']:,.0f} 积分，折合 {held['yuan']:,.2f} 元。"
        f"根据每位会员的预测购买和本计划实际的兑换率，未来 {days} 天内预计约 "
        f"{redeemed['points']:,.0f} 积分（{redeemed['yuan']:,.2f} 元）被兑换，"
        f"{expired['points']:,.0f} 积分过期未兑换；下表给出区间。",
    )


def spend_thresholds(agreement: float, kappa: float, lang: str = "en") -> str:
    """What the suggested spend thresholds are and how well they reproduce
    the evidence-based tiers."""
    return _pick(
        lang,
        "**Setting the ladder's thresholds from the evidence:** the rule files' spend "
        "thresholds are examples. The minimum spend over the last year that best reproduces "
        "the tiers grounded in predicted value is below, beside the ladder's own; with these "
        f"thresholds {agreement:.1%} of customers would hold their evidence-based tier "
        f"(weighted kappa {kappa:.2f}; 1 is perfect agreement, 0 no better than chance).",
        "**依据证据设定会员等级门槛：** 规则文件中的消费门槛仅为示例。"
        "下表给出最能复现基于预测价值分级的近一年最低消费，并与现行门槛对照；"
        f"按这些门槛，{agreement:.1%} 的客户将处于其基于证据的等级"
        f"（加权一致性系数 {kappa:.2f}；1 为完全一致，0 为与随机无异）。",
    )
