"""The value x loyalty grid of the grading documents (高/中/低价值 x 忠诚/一般/流失).

Source: /work/shared/seeds/000_8d34a45fea9e1639.txt, "一、客户分级的依据和标准":

- value: "1. 客户的消费金额:根据客户的消费金额,将客户分为高、中、低三个级别。
  高级别客户是企业的重要利润来源,需重点关注和维护;中级别客户是企业的潜在利润来源,
  需要进一步挖掘和发展;低级别客户是企业边缘化的客户,需要进行淘汰或者转化。"
- loyalty: "2. 客户的忠诚度:根据客户的购买频次、购买稳定性和口碑推荐度等指标,将客户
  分为忠诚客户、一般客户和流失客户。忠诚客户是企业的稳定客户群体,需要进行巩固和增加;
  一般客户是企业的潜在忠诚客户,需要进行引导和培养;流失客户需要进行挽回或者放弃。"

The document names the measures but gives no thresholds and no way to
combine them; every number of :class:`LoyaltyRules` is an example. The
reading used:

- value from the amount spent (消费金额), over the whole history by default
  (``value_days`` for a trailing window): the top ``high_share`` of customers
  are high value, the next ``medium_share`` medium, the rest low. A customer's
  rank is the number of customers who spent strictly more, so tied customers
  share a class. ``value_bounds`` (yuan) replaces the shares by fixed cut-offs.
- loyalty from purchase frequency (购买频次: distinct purchase days in the
  trailing ``window_days``), stability (购买稳定性: the coefficient of
  variation of the gaps between those purchase days, standard deviation over
  mean; lower is steadier) and referrals (口碑推荐度: points events of type
  ``referral`` in the window, when events are given):

  - lost (流失): no purchase in the window;
  - loyal (忠诚): at least ``loyal_min_purchases`` purchases in the window
    and either steady gaps (coefficient of variation at most ``max_gap_cv``,
    which needs at least two gaps) or at least ``loyal_min_referrals``
    referrals;
  - general (一般): every other customer who bought in the window.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import polars as pl

from clv.data import _as_date

__all__ = [
    "LOYALTY_LABELS",
    "VALUE_LABELS",
    "LoyaltyGrid",
    "LoyaltyRules",
    "loyalty_grid",
]

VALUE_LABELS = {
    "high": {"en": "high value", "zh": "高价值"},
    "medium": {"en": "medium value", "zh": "中价值"},
    "low": {"en": "low value", "zh": "低价值"},
}
LOYALTY_LABELS = {
    "loyal": {"en": "loyal", "zh": "忠诚"},
    "general": {"en": "general", "zh": "一般"},
    "lost": {"en": "lost", "zh": "流失"},
}


@dataclass(frozen=True)
class LoyaltyRules:
    """Thresholds of the grid (all examples: the document gives none).

    Parameters
    ----------
    high_share, medium_share
        Shares of customers, by amount spent, in the high and medium value
        classes.
    value_bounds
        ``(high, medium)``: minimum amounts (yuan) instead of the shares.
    value_days
        Trailing days the amount is summed over (None: the whole history).
    window_days
        Trailing days frequency, stability and referrals are measured over.
    loyal_min_purchases
        Purchase days in the window a loyal customer needs.
    max_gap_cv
        Largest coefficient of variation of the gaps that counts as steady.
    loyal_min_referrals
        Referrals in the window that make a frequent customer loyal without
        steady gaps.
    """

    high_share: float = 0.2
    medium_share: float = 0.3
    value_bounds: tuple[float, float] | None = None
    value_days: int | None = None
    window_days: int = 365
    loyal_min_purchases: int = 4
    max_gap_cv: float = 0.5
    loyal_min_referrals: int = 1

    def __post_init__(self) -> None:
        problems = []
        if not (
            0 < self.high_share
            and 0 <= self.medium_share
            and self.high_share + self.medium_share <= 1
        ):
            problems.append(
                f"high_share ({self.high_share}) must be > 0, medium_share ({self.medium_share}) "
                ">= 0, and together at most 1"
            )
        if self.value_bounds is not None and not (
            len(self.value_bounds) == 2 and self.value_bounds[0] > self.value_bounds[1] >= 0
        ):
            problems.append(
                "value_bounds must be (high, medium) with high > medium >= 0, got "
                f"{self.value_bounds}"
            )
        for name in ("value_days", "window_days"):
            days = getattr(self, name)
            if days is not None and (not isinstance(days, int) or days <= 0):
                problems.append(f"{name} must be a whole number of days > 0, got {days!r}")
        if self.loyal_min_purchases < 1 or self.loyal_min_referrals < 1:
            problems.append("loyal_min_purchases and loyal_min_referrals must be >= 1")
        if not (self.max_gap_cv >= 0 and math.isfinite(self.max_gap_cv)):
            problems.append(f"max_gap_cv must be a number >= 0, got {self.max_gap_cv}")
        if problems:
            raise ValueError("loyalty rules: " + "; ".join(problems))


@dataclass(frozen=True)
class LoyaltyGrid:
    """Per-customer cells and the counts table of the grid.

    ``customers``: ``customer_id``, ``spend``, ``value`` (high, medium,
    low), ``purchases`` (in the window), ``gap_cv`` (null with fewer than two
    gaps), ``referrals``, ``loyalty`` (loyal, general, lost), and the labels
    ``value_label``, ``loyalty_label``, ``cell_label`` in ``lang``.
    ``counts``: one row per value class (high first), one column per loyalty
    class (loyal, general, lost), customers per cell (zeros included).
    """

    as_of: dt.date
    rules: LoyaltyRules
    customers: pl.DataFrame
    counts: pl.DataFrame


def loyalty_grid(
    orders: pl.DataFrame,
    as_of: dt.date | str,
    *,
    events: pl.DataFrame | None = None,
    rules: LoyaltyRules | None = None,
    lang: str = "en",
) -> LoyaltyGrid:
    """Place every customer with an order up to ``as_of`` in the value x
    loyalty grid.

    Parameters
    ----------
    orders
        ``customer_id``, ``date``, ``amount``.
    as_of
        The day the grid is drawn (orders after it are ignored).
    events
        Points events (``customer_id``, ``date``, ``event``); those of type
        ``referral`` count as referrals. Without events no customer has
        referrals.
    rules
        The thresholds (:class:`LoyaltyRules`, examples by default).
    lang
        ``"en"`` or ``"zh"`` for the labels.

    Raises
    ------
    ValueError
        For missing columns, an unknown ``lang``, or no order up to ``as_of``.
    """
    rules = rules or LoyaltyRules()
    if lang not in ("en", "zh"):
        raise ValueError(f"lang must be 'en' or 'zh', got {lang!r}")
    missing = {"customer_id", "date", "amount"} - set(orders.columns)
    if missing:
        raise ValueError(f"orders lack columns {sorted(missing)}; give customer_id, date, amount")
    day = _as_date(as_of, "as_of")
    log = orders.select(
        pl.col("customer_id").cast(pl.String), pl.col("date").cast(pl.Date), "amount"
    ).filter(pl.col("date") <= day)
    if log.is_empty():
        raise ValueError(f"no order on or before {day}; choose a later as_of")
    start = day - dt.timedelta(days=rules.window_days)
    spent = (
        log
        if rules.value_days is None
        else log.filter(pl.col("date") > day - dt.timedelta(days=rules.value_days))
    )
    spend = (
        log.select("customer_id")
        .unique()
        .join(
            spent.group_by("customer_id").agg(pl.col("amount").sum().alias("spend")),
            on="customer_id",
            how="left",
        )
        .with_columns(pl.col("spend").fill_null(0.0))
    )
    n = spend.height
    if rules.value_bounds is not None:
        high, medium = rules.value_bounds
        value = (
            pl.when(pl.col("spend") >= high)
            .then(pl.lit("high"))
            .when(pl.col("spend") >= medium)
            .then(pl.lit("medium"))
            .otherwise(pl.lit("low"))
        )
    else:
        # rank: customers who spent strictly more, so ties share a class
        ahead = pl.col("spend").rank("min", descending=True) - 1
        value = (
            pl.when(ahead < rules.high_share * n)
            .then(pl.lit("high"))
            .when(ahead < (rules.high_share + rules.medium_share) * n)
            .then(pl.lit("medium"))
            .otherwise(pl.lit("low"))
        )
    window = (
        log.filter(pl.col("date") > start)
        .select("customer_id", "date")
        .unique()
        .sort("customer_id", "date")
        .with_columns(
            (pl.col("date") - pl.col("date").shift(1).over("customer_id"))
            .dt.total_days()
            .alias("gap")
        )
        .group_by("customer_id")
        .agg(
            pl.len().alias("purchases"),
            pl.when(pl.col("gap").count() >= 2)
            .then(pl.col("gap").std(ddof=0) / pl.col("gap").mean())
            .otherwise(None)
            .alias("gap_cv"),
        )
    )
    if events is not None:
        needed = {"customer_id", "date", "event"} - set(events.columns)
        if needed:
            raise ValueError(f"events lack columns {sorted(needed)}; give customer_id, date, event")
        referrals = (
            events.select(
                pl.col("customer_id").cast(pl.String), pl.col("date").cast(pl.Date), "event"
            )
            .filter(
                (pl.col("event") == "referral") & (pl.col("date") > start) & (pl.col("date") <= day)
            )
            .group_by("customer_id")
            .agg(pl.len().alias("referrals"))
        )
    else:
        referrals = pl.DataFrame(schema={"customer_id": pl.String, "referrals": pl.UInt32})
    steady = pl.col("gap_cv").is_not_null() & (pl.col("gap_cv") <= rules.max_gap_cv)
    loyalty = (
        pl.when(pl.col("purchases") == 0)
        .then(pl.lit("lost"))
        .when(
            (pl.col("purchases") >= rules.loyal_min_purchases)
            & (steady | (pl.col("referrals") >= rules.loyal_min_referrals))
        )
        .then(pl.lit("loyal"))
        .otherwise(pl.lit("general"))
    )
    value_names = {k: v[lang] for k, v in VALUE_LABELS.items()}
    loyalty_names = {k: v[lang] for k, v in LOYALTY_LABELS.items()}
    joiner = "·" if lang == "zh" else ", "
    customers = (
        spend.with_columns(value.alias("value"))
        .join(window, on="customer_id", how="left")
        .join(referrals, on="customer_id", how="left")
        .with_columns(
            pl.col("purchases").fill_null(0).cast(pl.Int64),
            pl.col("referrals").fill_null(0).cast(pl.Int64),
        )
        .with_columns(loyalty.alias("loyalty"))
        .with_columns(
            pl.col("value")
            .replace_strict(value_names, return_dtype=pl.String)
            .alias("value_label"),
            pl.col("loyalty")
            .replace_strict(loyalty_names, return_dtype=pl.String)
            .alias("loyalty_label"),
        )
        .with_columns(
            pl.concat_str("value_label", pl.lit(joiner), "loyalty_label").alias("cell_label")
        )
        .select(
            "customer_id",
            "spend",
            "value",
            "purchases",
            "gap_cv",
            "referrals",
            "loyalty",
            "value_label",
            "loyalty_label",
            "cell_label",
        )
        .sort("customer_id")
    )
    counts = _counts(customers)
    return LoyaltyGrid(as_of=day, rules=rules, customers=customers, counts=counts)


def _counts(customers: pl.DataFrame) -> pl.DataFrame:
    """Customers per cell, value classes as rows (high first), loyalty classes
    as columns, zeros kept."""
    cells = pl.DataFrame(
        [(v, lo) for v in VALUE_LABELS for lo in LOYALTY_LABELS],
        schema={"value": pl.String, "loyalty": pl.String},
        orient="row",
    )
    counted = customers.group_by("value", "loyalty").agg(pl.len().cast(pl.Int64).alias("customers"))
    full = cells.join(counted, on=["value", "loyalty"], how="left").with_columns(
        pl.col("customers").fill_null(0)
    )
    return full.pivot("loyalty", index="value", values="customers").select("value", *LOYALTY_LABELS)
