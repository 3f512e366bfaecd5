"""The per-category and P-G-S-B ladders on the bundled orders with categories
and statuses (data/programmes/orders_categories.csv)."""

from __future__ import annotations

import polars as pl

from clv.datasets import programme_data
from clv.programmes.ladders import ORDER_STATUSES, run_ladder


def test_ladders_on_the_orders_with_categories_and_statuses():
    orders = programme_data("orders_categories")
    assert set(orders["status"]) == set(ORDER_STATUSES)
    market = run_ladder("ladder_supermarket", orders=orders, end="2025-06-29")
    grades = market.as_of("2025-06-29")
    # one grade per customer and category bought in
    pairs = orders.select("customer_id", "category").unique().height
    assert grades.height == pairs
    assert grades.group_by("customer_id").len()["len"].max() > 1
    pgsb = run_ladder("ladder_pgsb", orders=orders, end="2025-06-29")
    statuses = pgsb.as_of("2025-06-29")["status"]
    assert {"active", "no_sale", "no_order_in_period"} <= set(statuses)
    # only completed orders count: nobody is graded above Bronze on cancelled spend
    completed = orders.filter(pl.col("status") == "completed")
    spend = completed.group_by("customer_id").agg(pl.col("amount").sum())
    graded = pgsb.changes.filter(pl.col("level") > 0).select("customer_id").unique()
    assert graded.join(spend, on="customer_id", how="anti").height == 0
