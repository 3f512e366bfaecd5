"""Tests of the optional order columns of clv.load_transactions: ``category``
(product category, kept as text) and ``status`` (completed / cancelled /
returned, Chinese spellings read too), and of the summaries counting completed
orders only while the log keeps every order."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import clv

AS_OF = "2030-01-01"


def write_csv(tmp_path, *lines: str):
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


ORDERS = (
    "customer_id,date,amount,cat,state",
    "a,2024-01-05,10.00, food ,completed",
    "a,2024-02-05,20.00,household,Cancelled",
    "a,2024-03-05,30.00,food,已完成",
    "b,2024-01-10,5.00,,RETURNED",
    "b,2024-04-10,7.50,clothing,已退货",
    "c,2024-02-01,12.00,food,已取消",
    "c,2024-02-20,8.00,food,completed",
)


@pytest.fixture
def orders(tmp_path):
    return clv.load_transactions(
        write_csv(tmp_path, *ORDERS), category="cat", status="state", as_of=AS_OF
    )


def test_category_and_status_are_kept_normalised(orders):
    data = orders.data
    assert data.columns == ["customer_id", "date", "amount", "category", "status"]
    assert data["category"].to_list() == [
        "food",
        "household",
        "food",
        None,
        "clothing",
        "food",
        "food",
    ]
    assert data["status"].to_list() == [
        "completed",
        "cancelled",
        "completed",
        "returned",
        "returned",
        "cancelled",
        "completed",
    ]
    q = orders.quality
    # every order is kept; the statuses and the empty category are counted
    assert q.rows_read == q.rows_kept == len(ORDERS) - 1
    assert (q.cancelled_orders, q.returned_orders, q.orders_without_category) == (2, 2, 1)
    assert any("left out of the summaries" in n for n in q.notes)
    assert any("empty category" in n for n in q.notes)


def test_unknown_statuses_are_refused_with_what_is_accepted(tmp_path):
    path = write_csv(
        tmp_path,
        "customer_id,date,amount,status",
        "a,2024-01-05,10,completed",
        "a,2024-01-06,10,shipped",
        "b,2024-01-07,10,shipped",
        "b,2024-01-08,10,",
    )
    with pytest.raises(clv.TransactionDataError) as info:
        clv.load_transactions(path, status="status", as_of=AS_OF)
    problems = info.value.problems
    unknown = next(p for p in problems if "not known" in p)
    assert "2 rows" in unknown and "line 3" in unknown and "'shipped'" in unknown
    assert "completed, cancelled, returned" in unknown and "已完成" in unknown
    empty = next(p for p in problems if "no status" in p)
    assert "1 row" in empty and "line 5" in empty


def test_missing_order_columns_are_named(tmp_path):
    path = write_csv(tmp_path, "customer_id,date,amount", "a,2024-01-05,10")
    with pytest.raises(clv.TransactionDataError, match=r"column 'state' \(status\) is missing"):
        clv.load_transactions(path, status="state", as_of=AS_OF)
    with pytest.raises(clv.TransactionDataError, match=r"column 'cat' \(category\) is missing"):
        clv.load_transactions(path, category="cat", as_of=AS_OF)


def test_summaries_count_completed_orders_only(orders):
    completed = orders.data.filter(pl.col("status") == "completed").drop("category", "status")
    summary = clv.summarize(orders, observation_end="2024-06-30")
    assert_frame_equal(summary, clv.summarize(completed, observation_end="2024-06-30"))
    # customer b has only returned orders: not a customer of the summary
    assert summary["customer_id"].to_list() == ["a", "c"]
    assert summary.filter(pl.col("customer_id") == "a")["revenue"].item() == 40.0

    split = dict(calibration_end="2024-02-10", observation_end="2024-06-30")
    assert_frame_equal(
        clv.calibration_holdout(orders, **split), clv.calibration_holdout(completed, **split)
    )


def test_window_counts_show_the_orders_left_out(orders):
    counts = clv.window_counts(orders, calibration_end="2024-02-10", observation_end="2024-03-31")
    assert counts.transactions == 7
    assert counts.orders_not_completed == 4
    assert counts.in_calibration == 1  # a on 01-05
    assert counts.in_holdout == 2  # a on 03-05, c on 02-20
    assert counts.after_observation_end == 0
    assert counts.transactions == (
        counts.orders_not_completed
        + counts.in_calibration
        + counts.in_holdout
        + counts.after_observation_end
    )
    # c's first completed order is after the calibration end (its cancelled one is not)
    assert counts.customers_first_seen_after_calibration == 1


def test_a_frame_with_unknown_statuses_is_not_summarised():
    frame = pl.DataFrame(
        {
            "customer_id": ["a", "a"],
            "date": [dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1)],
            "amount": [1.0, 2.0],
            "status": ["completed", "Done"],
        }
    )
    with pytest.raises(ValueError, match=r"\['Done'\] are not known"):
        clv.summarize(frame)


def test_order_columns_take_part_in_duplicate_detection(tmp_path):
    path = write_csv(
        tmp_path,
        "customer_id,date,amount,status",
        "a,2024-01-05,10,completed",
        "a,2024-01-05,10,completed",
        "a,2024-01-05,10,cancelled",
    )
    tx = clv.load_transactions(path, status="status", duplicates="drop", as_of=AS_OF)
    assert tx.quality.duplicate_rows_dropped == 1
    assert tx.quality.near_duplicate_rows == 1
    assert tx.data["status"].to_list() == ["completed", "cancelled"]


def test_the_shipped_order_sample_loads(tmp_path):
    tx = clv.load_transactions(
        "data/programmes/orders_categories.csv", category="category", status="status"
    )
    assert tx.quality.rows_read == tx.quality.rows_kept
    assert set(tx.data["status"].unique()) <= set(clv.data.ORDER_STATUSES)
    n_left_out = tx.quality.cancelled_orders + tx.quality.returned_orders
    counts = clv.window_counts(tx, observation_end=tx.data["date"].max().date())
    assert counts.orders_not_completed == n_left_out > 0
