"""Satisfaction scoring: 14 indicators, five levels scored 100 / 80 / 60 / 40 / 20.

A rating of satisfied or neutral that comes with a complaint counts as
dissatisfied (40), as the domain's survey rule says. Scores per customer can
be averaged per tier, and used as a scorecard criterion (a numeric field).
"""

from __future__ import annotations

import polars as pl

from clv.data import _rows

__all__ = ["INDICATORS", "LEVELS", "satisfaction_by_group", "score_satisfaction"]

# indicator id -> (English, Chinese)
INDICATORS: dict[str, tuple[str, str]] = {
    "appearance": ("appearance", "外观"),
    "packaging": ("packaging", "包装"),
    "stability": ("stability", "稳定性"),
    "safety": ("safety", "安全性"),
    "ease_of_use": ("ease of use", "易用性"),
    "ease_of_repair": ("ease of repair", "易维修性"),
    "technical_support": ("technical support", "技术支持"),
    "delivery_timeliness": ("delivery timeliness", "交货及时性"),
    "installation": ("installation", "安装"),
    "spare_parts_supply": ("spare parts supply", "备件供应"),
    "spare_parts_quality": ("spare parts quality", "备件质量"),
    "after_sales_timeliness": ("after-sales timeliness", "售后及时性"),
    "after_sales_quality": ("after-sales quality", "售后质量"),
    "training": ("training", "培训"),
}
LEVELS: dict[str, int] = {
    "very_satisfied": 100,
    "satisfied": 80,
    "neutral": 60,
    "dissatisfied": 40,
    "very_dissatisfied": 20,
}
_BY_NUMBER = {
    5: "very_satisfied",
    4: "satisfied",
    3: "neutral",
    2: "dissatisfied",
    1: "very_dissatisfied",
}


def score_satisfaction(ratings: pl.DataFrame) -> pl.DataFrame:
    """Score survey ratings.

    Parameters
    ----------
    ratings
        One row per customer and indicator: ``customer_id``, ``indicator`` (see
        :data:`INDICATORS`), ``rating`` (a level of :data:`LEVELS`, or 5 = very
        satisfied ... 1 = very dissatisfied) and optionally ``complaint``
        (True, or the complaint's text; empty text counts as none).

    Returns
    -------
    polars.DataFrame
        The ratings with ``level``, ``score`` and ``complaint_rule_applied``.

    Raises
    ------
    ValueError
        Naming the count and first row of unknown indicators or ratings.
    """
    missing = sorted({"customer_id", "indicator", "rating"} - set(ratings.columns))
    if missing:
        raise ValueError(f"ratings lack the columns {missing}")
    frame = ratings.with_row_index("_row").with_columns(
        pl.col("rating")
        .cast(pl.String)
        .replace({str(k): v for k, v in _BY_NUMBER.items()})
        .alias("level")
    )
    problems = []
    for column, allowed in (("indicator", INDICATORS), ("level", LEVELS)):
        bad = frame.filter(~pl.col(column).is_in(list(allowed)) | pl.col(column).is_null())
        if bad.height:
            shown = "rating" if column == "level" else column
            problems.append(
                f"{_rows(bad.height)} with an unknown {shown} (first at row {bad['_row'][0] + 1}: "
                f"{bad[shown][0]!r}); use one of {sorted(allowed)}"
                + ("" if column == "indicator" else " or 1-5")
            )
    if problems:
        raise ValueError("satisfaction ratings: " + "; ".join(problems))
    if "complaint" in ratings.columns:
        complaint = pl.col("complaint")
        has = (
            complaint.fill_null(False)
            if ratings["complaint"].dtype == pl.Boolean
            else complaint.cast(pl.String).str.strip_chars().fill_null("").str.len_chars() > 0
        )
    else:
        has = pl.lit(False)
    rule = pl.col("level").is_in(["satisfied", "neutral"]) & has
    return frame.with_columns(
        pl.when(rule)
        .then(pl.lit(LEVELS["dissatisfied"]))
        .otherwise(pl.col("level").replace_strict(LEVELS, return_dtype=pl.Int64))
        .alias("score"),
        rule.alias("complaint_rule_applied"),
    ).drop("_row")


def satisfaction_by_group(
    scored: pl.DataFrame, by: str | list[str] = "customer_id"
) -> pl.DataFrame:
    """Mean satisfaction score and number of ratings per customer (or per any
    column, e.g. ``tier`` after joining the graded table)."""
    return (
        scored.group_by(by)
        .agg(pl.col("score").mean().alias("satisfaction"), pl.len().alias("ratings"))
        .sort(by)
    )
