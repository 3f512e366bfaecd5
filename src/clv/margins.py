"""Gross margins per customer, from a margin given with each order.

When a transaction log carries each order's gross margin (``margin=`` in
:func:`clv.load_transactions`), a customer's predicted value is predicted
revenue times that customer's own margin: the revenue-weighted mean of the
margins of their orders up to the observation end,

    margin_i = sum_j(amount_ij * margin_ij) / sum_j(amount_ij),

which is their past gross profit over their past revenue. Customers whose
orders add up to nothing (free orders only) get the log's overall margin.
The Gamma-Gamma spend model still models revenue per order, which is what it
was built for (positive order values); the margin is applied afterwards.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from clv.data import TransactionLog

__all__ = ["apply_margins", "customer_margins"]


def customer_margins(
    transactions: TransactionLog | pl.DataFrame,
    *,
    observation_end: str | dt.date | None = None,
) -> pl.DataFrame:
    """Each customer's gross margin: the revenue-weighted mean margin of their
    orders dated on or before ``observation_end`` (all orders when None).

    Returns
    -------
    polars.DataFrame
        ``customer_id``, ``margin`` (share of revenue), ``revenue`` and
        ``gross_profit`` over those orders, one row per customer.

    Raises
    ------
    ValueError
        When the log has no ``margin`` column (load it with ``margin=``).
    """
    frame = transactions.data if isinstance(transactions, TransactionLog) else transactions
    if "margin" not in frame.columns:
        raise ValueError(
            "the transaction log has no margin column; load it with "
            "clv.load_transactions(..., margin='<column>') or give one margin for all orders"
        )
    if observation_end is not None:
        end = (
            dt.date.fromisoformat(observation_end)
            if isinstance(observation_end, str)
            else observation_end
        )
        frame = frame.filter(pl.col("date").cast(pl.Date) <= end)
    per = frame.group_by("customer_id").agg(
        pl.col("amount").sum().alias("revenue"),
        (pl.col("amount") * pl.col("margin")).sum().alias("gross_profit"),
    )
    total_revenue = per["revenue"].sum()
    overall = float(per["gross_profit"].sum() / total_revenue) if total_revenue else 0.0
    return per.select(
        "customer_id",
        pl.when(pl.col("revenue") > 0)
        .then(pl.col("gross_profit") / pl.col("revenue"))
        .otherwise(pl.lit(overall))
        .alias("margin"),
        "revenue",
        "gross_profit",
    ).sort("customer_id")


def apply_margins(scores: pl.DataFrame, margins: pl.DataFrame) -> pl.DataFrame:
    """Turn predicted revenue into predicted gross profit with each customer's
    own margin: ``clv`` becomes ``clv_revenue * margin`` and
    ``clv_revenue`` keeps the revenue; a ``margin`` column is added.

    ``scores`` must hold revenue (scored without a margin); every customer of
    ``scores`` needs a margin.
    """
    if "clv_revenue" in scores.columns:
        raise ValueError("scores already carry a margin; score without margin= first")
    joined = scores.join(
        margins.select("customer_id", "margin"), on="customer_id", how="left", coalesce=True
    )
    missing = joined.filter(pl.col("margin").is_null()).height
    if missing:
        raise ValueError(
            f"{missing:,} scored customers have no margin; compute the margins from the same "
            "log and observation end as the scores"
        )
    return joined.with_columns(
        (pl.col("clv") * pl.col("margin")).alias("clv"), pl.col("clv").alias("clv_revenue")
    )
