"""The report's rule programmes from the source documents, each run where its
data are given: frames and results in, tables and sentences out.

:func:`programme_ladders` runs the shipped ladders of document 002 whose data
the run has:

- the supermarket's per-category grades A-D (``ladder_supermarket``) when the
  orders carry a ``category``;
- the e-commerce P-G-S-B grades with their statuses outside the ladder
  (``ladder_pgsb``; 无销售: ordered, nothing sold) when the orders carry a
  ``status``;
- the telecom VIP cards (``ladder_telecom_vip``) on the points each customer
  earned in a calendar year, when a points ledger is given.

Each gives a :class:`ProgrammeLadder`: the customers per level (per category
and level for the supermarket, with the level's discount), the customers per
status, the agreement with the CLV tiers when a grading is given, and a short
reading in English or Chinese that says what the ladder is, which document it
follows and which of its numbers are examples. A ladder whose data are absent
is returned too, saying what it needs ("not run: needs a category column"),
and a ladder that fails carries a :class:`~clv.report.SectionFailure`.

:func:`programme_ledger` builds the points ledger those VIP cards read, from
the completed orders only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from clv import i18n
from clv.data import TransactionLog
from clv.narrative import escape_markdown
from clv.narrative import ladder as _agreement_sentence
from clv.programmes import agreement, build_ledger, load_ladder, run_ladder
from clv.programmes.inputs import EventsInput
from clv.programmes.ladders import Ladder, LadderResult
from clv.programmes.points import PointsLedger, PointsRules
from clv.report.sections import SectionFailure, _rank_of_levels, attempt
from clv.tiers import Grading

__all__ = [
    "PROGRAMME_LADDERS",
    "ProgrammeLadder",
    "programme_ladders",
    "programme_ledger",
]

#: The shipped ladders the report runs where their data are given, in report order.
PROGRAMME_LADDERS = ("ladder_supermarket", "ladder_pgsb", "ladder_telecom_vip")

# statuses a ladder reads (LadderResult.as_of), in the order the tables list them;
# "blocked" needs a list of blocked customers, which a report run does not have
_STATUSES = ("active", "no_sale", "no_order_in_period", "never_ordered")


@dataclass(frozen=True)
class ProgrammeLadder:
    """One rule ladder of the documents as the report shows it.

    Attributes
    ----------
    ladder_id
        The shipped ladder (``ladder_supermarket``, ``ladder_pgsb``,
        ``ladder_telecom_vip``).
    name
        The ladder's name in ``lang``.
    lang
        ``"en"`` or ``"zh"``.
    needs
        Why the ladder was not run (``"a category column"``); None when it ran
        or failed.
    text
        Markdown in ``lang``: what the ladder is, which document it follows,
        what the tables show, which numbers are examples; or the "not run"
        line.
    customers
        Each customer's (and category's) level and status on the day
        (:meth:`clv.programmes.LadderResult.as_of`): ``customer_id`` (and
        ``category``), ``level_id``, ``level_name``, ``discount`` (supermarket),
        ``status`` and the last change.
    levels
        Customers per level, best first: ``level_name``, ``minimum`` (in the
        ladder's basis), ``customers`` and ``share_customers``; per
        ``category`` first, with the level's ``discount``, for the
        supermarket.
    statuses
        Customers per status (per category and status for the supermarket),
        every status listed, zero where none.
    agreement
        With a CLV grading: customers and predicted value per (level by the
        rule, CLV tier) cell, as :func:`clv.report.ladder_comparison` gives
        it; the supermarket's rule grade is a customer's best grade over the
        categories.
    verdicts
        Over-graded, under-graded and agreeing customers.
    failure
        Why the ladder could not be run, when it could not.
    """

    ladder_id: str
    name: str
    lang: str
    text: str
    needs: str | None = None
    customers: pl.DataFrame | None = None
    levels: pl.DataFrame | None = None
    statuses: pl.DataFrame | None = None
    agreement: pl.DataFrame | None = None
    verdicts: dict[str, int] | None = None
    failure: SectionFailure | None = None

    @property
    def ran(self) -> bool:
        """True when the ladder ran and its tables are filled."""
        return self.levels is not None

    def tables(self) -> list[pl.DataFrame]:
        """The tables to show, in order: levels, statuses, agreement (those
        that exist)."""
        return [t for t in (self.levels, self.statuses, self.agreement) if t is not None]


def programme_ladders(
    tx: TransactionLog | pl.DataFrame,
    observation_end: str | dt.date,
    *,
    ledger: PointsLedger | pl.DataFrame | None = None,
    grading: Grading | None = None,
    lang: str = "en",
) -> list[ProgrammeLadder]:
    """Run every shipped ladder of the documents whose data are present.

    Parameters
    ----------
    tx
        The transaction log (its ``data``) or an orders frame: ``customer_id``,
        ``date``, ``amount`` (absent from a count-only log) and, where the
        source has them, ``category`` and ``status`` (``completed``,
        ``cancelled``, ``returned``). Orders after ``observation_end`` are
        left out.
    observation_end
        The day the levels and statuses are read on (``YYYY-MM-DD`` or a date).
    ledger
        The points ledger (or its ``entries``: ``customer_id``, ``date``,
        ``kind``, ``points``) whose yearly earned points grade the VIP cards;
        see :func:`programme_ledger`. None: the VIP cards are not run.
    grading
        The CLV grading of the same customers; given, each ladder is set
        against its tiers (levels matched from the top, as in
        :func:`clv.report.ladder_comparison`).
    lang
        ``"en"`` or ``"zh"``: level names, discounts and text.

    Returns
    -------
    list of ProgrammeLadder
        One per ladder of :data:`PROGRAMME_LADDERS`, in that order, run or
        saying what it needs.

    Raises
    ------
    ValueError
        When ``lang`` is not ``"en"`` or ``"zh"``, the orders lack
        ``customer_id`` or ``date``, or ``observation_end`` is not a date. A
        log without amounts (count-only) gives "not run" for the ladders on
        spend; orders without a category are left out of the per-category
        grades, and the reading counts them.
    """
    if lang not in i18n.LANGS:
        raise ValueError(f"lang must be one of {list(i18n.LANGS)}, got {lang!r}")
    end = (
        observation_end
        if isinstance(observation_end, dt.date)
        else dt.date.fromisoformat(str(observation_end))
    )
    orders = _orders(tx, end)
    entries = ledger.entries if isinstance(ledger, PointsLedger) else ledger
    rules = ledger.rules if isinstance(ledger, PointsLedger) else None
    out = []
    for ladder_id in PROGRAMME_LADDERS:
        ladder = load_ladder(ladder_id)
        name = ladder.name_zh if lang == "zh" else ladder.name_en
        needs = _needs(ladder_id, orders, entries)
        if needs is not None:
            out.append(_not_run(ladder_id, name, needs, lang))
            continue
        left_out = 0
        if ladder_id == "ladder_telecom_vip":
            # yearly points earned: the file's "消费1元积1分" read on a ledger; the
            # orders, when they have amounts, give the statuses
            ladder = dataclasses.replace(ladder, basis="points_earned")
            inputs = {"points": entries, "orders": orders if "amount" in orders.columns else None}
        elif ladder.per_category:
            # an order without a category cannot be graded in one: counted and said
            blank = pl.col("category").is_null() | (pl.col("category").str.strip_chars() == "")
            left_out = orders.filter(blank).height
            inputs = {"orders": orders.filter(~blank)}
        else:
            inputs = {"orders": orders}
        result, failure = attempt(name, run_ladder, ladder, end=end, **inputs)
        if failure is not None:
            out.append(
                ProgrammeLadder(ladder_id, name, lang, _failed_text(name, lang), failure=failure)
            )
            continue
        section = _section(ladder_id, name, result, end, grading, rules, lang)
        if left_out:
            note = i18n.pick(
                lang,
                f" {i18n.plural(left_out, 'order', 'orders', '笔订单')} without a category "
                f"{'is' if left_out == 1 else 'are'} left out of these grades.",
                f"{left_out:,} 笔无商品大类的订单未计入这些等级。",
            )
            section = dataclasses.replace(section, text=section.text + note)
        out.append(section)
    return out


def programme_ledger(
    tx: TransactionLog | pl.DataFrame,
    observation_end: str | dt.date,
    events: EventsInput | pl.DataFrame | None = None,
    *,
    redemptions: EventsInput | pl.DataFrame | None = None,
    rules: PointsRules | str | Path = "points_pollen",
) -> PointsLedger:
    """The points ledger of the orders up to ``observation_end``, the points
    events and the redemptions (:func:`clv.programmes.build_ledger`), on the
    completed orders only when the orders carry a ``status``: a cancelled or
    returned order earns no points.

    Parameters
    ----------
    tx
        The transaction log or an orders frame (``customer_id``, ``date``,
        ``amount``, optionally ``status``).
    observation_end
        The ledger's last day.
    events, redemptions
        As read by :func:`clv.programmes.read_events` and ``read_redemptions``
        (or frames with their columns); None for none.
    rules
        The points rules: a packaged name or a TOML path.

    Returns
    -------
    PointsLedger
    """
    end = (
        observation_end
        if isinstance(observation_end, dt.date)
        else dt.date.fromisoformat(str(observation_end))
    )
    orders = _orders(tx, end)
    if "status" in orders.columns:
        orders = orders.filter(pl.col("status") == "completed")
    return build_ledger(
        orders.select("customer_id", "date", "amount"),
        rules,
        events=events.data if isinstance(events, EventsInput) else events,
        redemptions=redemptions.data if isinstance(redemptions, EventsInput) else redemptions,
        as_of=end,
    )


# --- inputs ---------------------------------------------------------------------------


def _orders(tx: TransactionLog | pl.DataFrame, end: dt.date) -> pl.DataFrame:
    """The orders up to ``end`` with the columns the ladders read; dates as days."""
    frame = tx.data if isinstance(tx, TransactionLog) else tx
    if not isinstance(frame, pl.DataFrame):
        raise TypeError(
            f"tx must be a clv.TransactionLog or a polars DataFrame of orders, got "
            f"{type(tx).__name__}"
        )
    missing = [c for c in ("customer_id", "date") if c not in frame.columns]
    if missing:
        raise ValueError(
            f"the orders lack the columns {missing}; the rule ladders need customer_id and "
            "date per order (and amount, the spend, for the ladders on spend)"
        )
    amount = [pl.col("amount").cast(pl.Float64)] if "amount" in frame.columns else []
    keep = [pl.col(c).cast(pl.String) for c in ("category", "status") if c in frame.columns]
    return frame.select(
        pl.col("customer_id").cast(pl.String), pl.col("date").cast(pl.Date), *amount, *keep
    ).filter(pl.col("date") <= end)


def _needs(ladder_id: str, orders: pl.DataFrame, entries: pl.DataFrame | None) -> str | None:
    """What a ladder lacks to run (a code of ``_NEEDS``), None when it can run."""
    if ladder_id != "ladder_telecom_vip" and "amount" not in orders.columns:
        return "amount"
    if ladder_id == "ladder_supermarket" and "category" not in orders.columns:
        return "category"
    if ladder_id == "ladder_pgsb" and "status" not in orders.columns:
        return "status"
    if ladder_id == "ladder_telecom_vip" and entries is None:
        return "ledger"
    return None


_NEEDS = {
    "amount": (
        "needs the amount of each order: the log has none (count-only), and the ladder "
        "grades on spend",
        "需要每笔订单的金额：记录不含金额（仅计次数），而该等级按消费评定",
    ),
    "category": (
        "needs a category column: a product category per order (load the log with "
        "category=, or --category-column on the command line)",
        "需要商品大类列：每笔订单的商品大类（读取交易记录时指定 category=，命令行用 "
        "--category-column）",
    ),
    "status": (
        "needs a status column: each order completed, cancelled or returned (load the log "
        "with status=, or --status-column on the command line)",
        "需要订单状态列：每笔订单为已完成、已取消或已退货（读取交易记录时指定 "
        "status=，命令行用 --status-column）",
    ),
    "ledger": (
        "needs a points ledger: give the points events (--points-events)",
        "需要积分台账：请提供积分事件（--points-events）",
    ),
}


def _not_run(ladder_id: str, name: str, needs: str, lang: str) -> ProgrammeLadder:
    what = i18n.pick(lang, *_NEEDS[needs])
    text = i18n.pick(
        lang,
        f"*{escape_markdown(name)}: not run: {escape_markdown(what)}.*",
        f"*{escape_markdown(name)}：未运行：{escape_markdown(what)}。*",
    )
    return ProgrammeLadder(ladder_id, name, lang, text, needs=needs)


def _failed_text(name: str, lang: str) -> str:
    return i18n.pick(
        lang,
        f"*{escape_markdown(name)}: could not be run (see the note below).*",
        f"*{escape_markdown(name)}：无法运行（见下方说明）。*",
    )


# --- tables ---------------------------------------------------------------------------


def _section(
    ladder_id: str,
    name: str,
    result: LadderResult,
    end: dt.date,
    grading: Grading | None,
    rules: PointsRules | None,
    lang: str,
) -> ProgrammeLadder:
    ladder = result.ladder
    customers = result.as_of(end, lang=lang)
    by_category = ladder.per_category
    levels = _levels_table(ladder, customers, by_category, lang)
    statuses = _status_table(customers, by_category)
    matrix, verdicts = None, None
    if grading is not None:
        matrix, verdicts = _agreement(ladder, customers, grading, lang)
    facts = _facts(customers, statuses, by_category)
    text = _TEXTS[ladder_id](ladder, name, end, facts, rules, lang)
    if verdicts is not None:
        text += "\n\n" + _agreement_sentence(verdicts, name, lang)
        if by_category:
            text += i18n.pick(
                lang,
                " Each customer's grade here is their best over the categories.",
                "此处每位客户的等级取其各商品大类中的最高等级。",
            )
    return ProgrammeLadder(
        ladder_id,
        name,
        lang,
        text,
        customers=customers,
        levels=levels,
        statuses=statuses,
        agreement=matrix,
        verdicts=verdicts,
    )


def _discount_text(discount: float | None, lang: str) -> str | None:
    """5 % off as "5% off", or in Chinese as "9.5折" (the price paid, in tenths)."""
    if discount is None:
        return None
    if lang == "zh":
        return f"{round((1 - discount) * 10, 2):g}折"
    return f"{round(discount * 100, 2):g}% off"


def _levels_table(
    ladder: Ladder, customers: pl.DataFrame, by_category: bool, lang: str
) -> pl.DataFrame:
    """Customers per level, best first (per category first when graded per category)."""
    key = "zh" if lang == "zh" else "en"
    has_discount = any("discount" in lv for lv in ladder.levels)
    best_first = list(reversed(list(enumerate(ladder.levels))))
    spec = pl.DataFrame(
        {
            "level": [i for i, _ in best_first],
            "level_name": [lv[key] for _, lv in best_first],
            "minimum": [float(lv["min"]) for _, lv in best_first],
            "discount": [_discount_text(lv.get("discount"), lang) for _, lv in best_first],
        },
        schema={
            "level": pl.Int64,
            "level_name": pl.String,
            "minimum": pl.Float64,
            "discount": pl.String,
        },
    )
    if not has_discount:
        spec = spec.drop("discount")
    groups = ["category"] if by_category else []
    counts = customers.group_by(*groups, "level").agg(pl.len().cast(pl.Int64).alias("customers"))
    if by_category:
        cats = customers.select("category").unique().sort("category")
        grid = cats.join(spec, how="cross")
    else:
        grid = spec
    total = pl.col("customers").sum()
    return (
        grid.join(counts, on=[*groups, "level"], how="left", maintain_order="left")
        .with_columns(pl.col("customers").fill_null(0))
        .with_columns(
            (pl.col("customers") / (total.over(groups) if groups else total))
            .fill_nan(None)
            .alias("share_customers")
        )
        .drop("level")
    )


def _status_table(customers: pl.DataFrame, by_category: bool) -> pl.DataFrame:
    """Customers per status, every status listed (per category and status)."""
    groups = ["category"] if by_category else []
    statuses = pl.DataFrame({"status": list(_STATUSES)})
    seen = sorted(set(customers["status"].to_list()) - set(_STATUSES))
    if seen:  # any other status the ladder reports (blocked) is shown too
        statuses = pl.concat([statuses, pl.DataFrame({"status": seen})])
    statuses = statuses.with_row_index("_order")
    grid = (
        customers.select("category").unique().sort("category").join(statuses, how="cross")
        if by_category
        else statuses
    )
    counts = customers.group_by(*groups, "status").agg(pl.len().cast(pl.Int64).alias("customers"))
    return (
        grid.join(counts, on=[*groups, "status"], how="left")
        .with_columns(pl.col("customers").fill_null(0))
        .sort(*groups, "_order")
        .drop("_order")
    )


def _agreement(
    ladder: Ladder, customers: pl.DataFrame, grading: Grading, lang: str
) -> tuple[pl.DataFrame, dict[str, int]]:
    """The ladder's levels against the CLV tiers, as ``ladder_comparison`` sets them."""
    rule = (
        customers.filter(pl.col("level").is_not_null())
        .group_by("customer_id")
        .agg(pl.col("level").max())
        .with_columns(
            pl.col("level")
            .replace_strict({i: lv["id"] for i, lv in enumerate(ladder.levels)})
            .alias("rule_grade")
        )
        .select("customer_id", "rule_grade")
    )
    order = [lv["id"] for lv in reversed(ladder.levels)]
    ranks = sorted(grading.customers["tier_rank"].unique().to_list())
    mapping = _rank_of_levels(order, ranks)
    matrix, matched = agreement(rule, grading.customers, rule_order=order, mapping=mapping)
    names = {lv["id"]: lv["zh" if lang == "zh" else "en"] for lv in ladder.levels}
    matrix = matrix.with_columns(
        pl.col("rule_grade").replace_strict(names, return_dtype=pl.String)
    ).select("rule_grade", "tier_name", "customers", "clv")
    verdicts = dict(matched.group_by("verdict").agg(pl.len()).rows())
    return matrix, verdicts


def _facts(customers: pl.DataFrame, statuses: pl.DataFrame, by_category: bool) -> dict[str, Any]:
    """The numbers the reading quotes."""
    counts = statuses.group_by("status").agg(pl.col("customers").sum())
    facts: dict[str, Any] = {
        "members": customers["customer_id"].n_unique(),
        "status": dict(counts.rows()),
    }
    if by_category:
        per = customers.group_by("customer_id").agg(
            pl.len().alias("categories"), pl.col("level").n_unique().alias("grades")
        )
        facts["categories"] = customers["category"].n_unique()
        facts["several"] = per.filter(pl.col("categories") > 1).height
        facts["different"] = per.filter(pl.col("grades") > 1).height
    return facts


# --- the readings ------------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _minimums(ladder: Ladder, lang: str) -> str:
    """ "Silver 200, Gold 1,000, Platinum 5,000": each level above the lowest
    with its minimum, lowest first."""
    key = "zh" if lang == "zh" else "en"
    sep = "，" if lang == "zh" else ", "
    return sep.join(
        f"{escape_markdown(lv[key])} {escape_markdown(_number(lv['min']))}"
        for lv in ladder.levels[1:]
    )


def _supermarket(
    ladder: Ladder,
    name: str,
    end: dt.date,
    facts: dict[str, Any],
    rules: PointsRules | None,
    lang: str,
) -> str:
    key = "zh" if lang == "zh" else "en"
    bands = ("，" if lang == "zh" else ", ").join(
        f"{escape_markdown(lv[key])} {escape_markdown(_discount_text(lv.get('discount'), lang))}"
        for lv in ladder.levels
        if "discount" in lv
    )
    day = end.isoformat()
    if lang == "zh":
        return (
            f"**{escape_markdown(name)}（按商品大类）：** 依据文件 002（武商量贩，客户分类建议）："
            "客户在某一商品大类上一年的累计积分决定其在该大类的等级（A 级 1,000 以下，B 级 "
            "1,000–3,000，C 级 3,000–5,000，D 级 5,000 以上，以下限为准），并在该大类享受"
            f"相应折扣（{bands}）。每年 1 月 1 日按上一日历年已完成订单评定。文件未给出积分比例，"
            "此处按每消费 1 元积 1 分计，仅为示例。"
            f"下表为截至 {day} 各商品大类各等级的客户数及折扣：{facts['members']:,} 位客户在 "
            f"{facts['categories']:,} 个大类中有等级，其中 {facts['several']:,} 位在多个大类中"
            f"有等级，{facts['different']:,} 位在不同大类中等级不同。"
        )
    return (
        f"**{escape_markdown(name)}, per product category:** from document 002 (武商量贩, "
        "客户分类建议): a customer's points over a year in a product category give their grade "
        "in that category (A below 1,000, B 1,000 to 3,000, C 3,000 to 5,000, D 5,000 and more, "
        f"each band from its lower end) and that grade's discount on the category ({bands}). "
        "Graded on 1 January on the completed orders of the calendar year before. The document "
        "gives no points rate: 1 point per yuan spent is an example. The table gives the "
        f"customers per category and grade as of {day}, with the discount: "
        f"{facts['members']:,} customers hold grades in {facts['categories']:,} categories, "
        f"{facts['several']:,} of them in more than one and {facts['different']:,} with "
        "different grades in different categories."
    )


def _pgsb(
    ladder: Ladder,
    name: str,
    end: dt.date,
    facts: dict[str, Any],
    rules: PointsRules | None,
    lang: str,
) -> str:
    status = facts["status"]
    no_sale, no_order = status.get("no_sale", 0), status.get("no_order_in_period", 0)
    minimums = _minimums(ladder, lang)
    day = end.isoformat()
    if lang == "zh":
        return (
            f"**{escape_markdown(name)}：** 依据文件 002（客户关系管理之分级制度）："
            "电子商务顾客分为 P（白金）、G（金）、S（银）、B（铜）四级，"
            "另有等级之外的状态：无销售顾客（评价期间订购过"
            "商品，但没有成功销售：订单全部取消或退货）、无订购顾客（评价期间没有订购）、非订购顾客"
            "（登记后从未成功订购）；新顾客在首次评价前暂记等级，至评价时获得其真实等级。文件未给出"
            f"依据、门槛和评价周期：按季度已完成订单消费、门槛（{minimums} 元）和季度评价均为示例。"
            f"截至 {day}（评价期为上一个完整季度），{no_sale:,} 位顾客为无销售，{no_order:,} 位"
            "为无订购；他们在规则中仍记为最低等级，文件将其列在等级之外。"
        )
    return (
        f"**{escape_markdown(name)}:** from document 002 (客户关系管理之分级制度): e-commerce "
        "customers graded P (Platinum), G (Gold), S (Silver) and B (Bronze), with statuses "
        "outside the ladder: 无销售 (ordered in the evaluated period but nothing sold: every "
        "order cancelled or returned), 无订购 (no order in the period) and 非订购 (never "
        "ordered); a new customer holds a provisional grade until the first evaluation gives "
        "the true one. The document gives no basis, thresholds or calendar: completed spend "
        f"in the quarter, the minimums ({minimums} yuan) and the quarterly evaluation are "
        f"examples. As of {day} (the period evaluated is the last full quarter), "
        f"{i18n.count(no_sale, 'customer')} had nothing sold (无销售) and {no_order:,} no "
        "order (无订购); the rule still holds them at the lowest grade, the document lists "
        "them outside the ladder."
    )


def _vip(
    ladder: Ladder,
    name: str,
    end: dt.date,
    facts: dict[str, Any],
    rules: PointsRules | None,
    lang: str,
) -> str:
    minimums = _minimums(ladder, lang)
    day = end.isoformat()
    if rules is not None:
        points_zh = (
            f"积分台账（{escape_markdown(rules.name_zh)}规则）中每位客户一个日历年内获得的积分："
            f"每消费 1 元（已完成订单）积 {rules.points_per_currency_unit:g} 分，另加评价等事件积分"
        )
        points_en = (
            f"the points each customer earned in a calendar year in the points ledger "
            f"({escape_markdown(rules.name_en)} rules: {rules.points_per_currency_unit:g} point "
            "per yuan of completed orders, plus the points of events such as reviews)"
        )
    else:
        points_zh = "积分台账中每位客户一个日历年内获得的积分"
        points_en = "the points each customer earned in a calendar year in the points ledger"
    if lang == "zh":
        return (
            f"**{escape_markdown(name)}：** 依据文件 002（中国移动客户等级如何划分）："
            "全球通客户按积分（消费 1 元积 1 分）分为贵宾卡、银卡、金卡、钻石卡 VIP 客户四类，"
            "一年划分一次。此处的"
            f"积分为{points_zh}，代替运营商的积分；每年 1 月 1 日按上一日历年的积分评定。文件未给出"
            f"积分门槛：{minimums} 分均为示例。下表为截至 {day} 各卡级的客户数"
            f"（共 {facts['members']:,} 位）。"
        )
    return (
        f"**{escape_markdown(name)}:** from document 002 (中国移动客户等级如何划分): 全球通 "
        "customers are graded once a year by their points (1 point per yuan spent) into VIP "
        "card (贵宾卡), silver, gold and diamond cards. The points here are "
        f"{points_en}, standing in for an operator's points; cards are given on 1 January on "
        "the calendar year before. The document gives no thresholds: the minimums "
        f"({minimums} points) are examples. The table gives the customers per card as of "
        f"{day} ({facts['members']:,} in all)."
    )


_TEXTS = {"ladder_supermarket": _supermarket, "ladder_pgsb": _pgsb, "ladder_telecom_vip": _vip}
