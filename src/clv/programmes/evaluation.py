"""Judging a grading: outcomes per tier and period, and rule grades against CLV tiers.

:func:`tier_outcomes` measures, per tier, what customers did in a period
(repurchase and churn rates, average order value, revenue share);
:func:`compare_periods` sets two periods side by side with the relative change,
so a claim such as "repeat purchase of big customers rose 20 %" can be checked
from data. :func:`agreement` crosses any rule-based grade with the
CLV-grounded tiers of the same customers: counts and predicted value per cell,
and the customers the rule over-grades (a higher level than their CLV tier)
and under-grades.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from clv.data import TransactionLog, _as_date

__all__ = ["agreement", "compare_periods", "tier_outcomes"]


def tier_outcomes(
    transactions: TransactionLog | pl.DataFrame,
    tiers: pl.DataFrame,
    *,
    start: str | dt.date,
    end: str | dt.date,
    tier_column: str = "tier",
) -> pl.DataFrame:
    """Per tier: customers, repurchase rate (share who bought in the period),
    churn rate (share who did not), orders, average order value and share of
    the period's revenue, for customers graded in ``tiers`` (``customer_id``
    and ``tier_column``) and purchases dated from ``start`` to ``end``."""
    frame = transactions.data if isinstance(transactions, TransactionLog) else transactions
    first, last = _as_date(start, "start"), _as_date(end, "end")
    day = pl.col("date").dt.date()  # a Date or a Datetime column alike
    period = (
        frame.filter(day.is_between(first, last))
        .group_by("customer_id")
        .agg(pl.len().alias("orders"), pl.col("amount").sum().alias("revenue"))
    )
    joined = (
        tiers.select("customer_id", pl.col(tier_column).alias("tier"))
        .join(period, on="customer_id", how="left")
        .with_columns(pl.col("orders").fill_null(0), pl.col("revenue").fill_null(0.0))
    )
    total = joined["revenue"].sum()
    return (
        joined.group_by("tier")
        .agg(
            pl.len().alias("customers"),
            (pl.col("orders") > 0).mean().alias("repurchase_rate"),
            pl.col("orders").sum().alias("orders"),
            pl.col("revenue").sum().alias("revenue"),
        )
        .with_columns(
            (1 - pl.col("repurchase_rate")).alias("churn_rate"),
            (pl.col("revenue") / pl.col("orders")).alias("average_order_value"),
            (pl.col("revenue") / total if total else pl.lit(None, pl.Float64)).alias(
                "revenue_share"
            ),
        )
        .sort("tier")
    )


def compare_periods(previous: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """Two :func:`tier_outcomes` tables side by side, per tier, with the relative
    change (0.20 = +20 %) of repurchase rate, churn rate, average order value
    and revenue share."""
    metrics = ["repurchase_rate", "churn_rate", "average_order_value", "revenue_share"]
    joined = previous.select("tier", *metrics).join(
        current.select("tier", *metrics),
        on="tier",
        how="full",
        coalesce=True,
        suffix="_current",
    )
    return joined.rename({m: f"{m}_previous" for m in metrics}).with_columns(
        (pl.col(f"{m}_current") / pl.col(f"{m}_previous") - 1).alias(f"{m}_change") for m in metrics
    )


def agreement(
    rule: pl.DataFrame,
    grading_customers: pl.DataFrame,
    *,
    rule_order: list[str],
    mapping: dict[str, int] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cross a rule-based grade with the CLV-grounded tiers.

    Parameters
    ----------
    rule
        ``customer_id`` and ``rule_grade``.
    grading_customers
        :attr:`clv.Grading.customers` (``customer_id``, ``tier_rank``,
        ``tier_name``, ``clv``).
    rule_order
        The rule's grades, best first.
    mapping
        Rule grade -> the CLV tier rank it corresponds to. Defaults to the same
        position when both ladders have as many levels.

    Returns
    -------
    (matrix, customers)
        ``matrix``: one row per (rule grade, CLV tier) cell with ``customers``
        and ``clv`` (predicted value in the cell). ``customers``: each
        customer with ``rule_grade``, ``tier_rank``, ``clv`` and ``verdict``
        (``over-graded``, ``under-graded`` or ``agrees``).
    """
    ranks = sorted(grading_customers["tier_rank"].unique().to_list())
    if mapping is None:
        if len(rule_order) != len(ranks):
            raise ValueError(
                f"the rule has {len(rule_order)} grades and the CLV ladder {len(ranks)} tiers; "
                "pass mapping={rule grade: CLV tier rank} to align them"
            )
        mapping = {grade: rank for grade, rank in zip(rule_order, ranks, strict=True)}
    unknown = sorted(set(rule["rule_grade"].unique().to_list()) - set(mapping))
    if unknown:
        raise ValueError(f"rule grades {unknown} are not in rule_order / mapping")
    customers = (
        rule.select("customer_id", "rule_grade")
        .join(
            grading_customers.select("customer_id", "tier_rank", "tier_name", "clv"),
            on="customer_id",
            how="inner",
        )
        .with_columns(
            pl.col("rule_grade").replace_strict(mapping, return_dtype=pl.Int64).alias("rule_rank")
        )
        .with_columns(
            pl.when(pl.col("rule_rank") < pl.col("tier_rank"))
            .then(pl.lit("over-graded"))
            .when(pl.col("rule_rank") > pl.col("tier_rank"))
            .then(pl.lit("under-graded"))
            .otherwise(pl.lit("agrees"))
            .alias("verdict")
        )
        .sort("customer_id")
    )
    matrix = (
        customers.group_by("rule_grade", "rule_rank", "tier_rank", "tier_name")
        .agg(pl.len().alias("customers"), pl.col("clv").sum().alias("clv"))
        .sort("rule_rank", "tier_rank")
    )
    return matrix, customers
