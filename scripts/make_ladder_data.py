"""Build data/programmes/orders_categories.csv (run once; committed).

    .venv/bin/python scripts/make_ladder_data.py

The orders of data/synthetic/transactions.csv, their amounts in yuan (the
source log's amounts, drawn on the scale of CDNOW's dollars, times
``YUAN_PER_DOLLAR`` = 7, an example rate, rounded to the fen), so that a
year's spend reaches the example thresholds of the shipped ladders (the
supermarket's 1,000 / 3,000 / 5,000 yuan per category, the P-G-S-B and the
VIP cards' examples), each given, with a fixed seed:

- a ``category`` (``food``, ``household``, ``clothing``, ``electronics``): each
  customer has a favourite category that takes most of their orders, so that a
  customer can reach different grades in different categories, as the
  supermarket ladder grades them (``ladder_supermarket``, per category);
- a ``status`` (``completed``, ``cancelled`` or ``returned``), about 90 / 6 /
  4 %, with some customers whose orders of a whole quarter were all cancelled
  or returned, so that the P-G-S-B ladder's 无销售 (``no_sale``) status occurs.

The script checks that the facts the tests read are there: a customer graded
D in food and B in household goods on 2024's completed spend, and customers
whose orders of the first quarter of 2025 were all cancelled or returned.

Everything is synthetic; the dates are those of the source log.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import polars as pl

from clv.datasets import synthetic
from clv.paths import DATA_DIR

SEED = 20241101
CATEGORIES = ["food", "household", "clothing", "electronics"]
STATUSES = ["completed", "cancelled", "returned"]
YUAN_PER_DOLLAR = 7  # an example rate: the source log is on the scale of CDNOW's dollars


def build() -> pl.DataFrame:
    """The orders with a category and a status (no file written)."""
    rng = np.random.default_rng(SEED)
    orders = synthetic().data.select(
        "customer_id",
        pl.col("date").dt.date(),
        (pl.col("amount") * YUAN_PER_DOLLAR).round(2),
    )
    customers = orders["customer_id"].unique().sort()
    favourite = dict(zip(customers, rng.integers(0, len(CATEGORIES), customers.len()), strict=True))
    own = np.array([favourite[c] for c in orders["customer_id"]])
    other = rng.integers(0, len(CATEGORIES), orders.height)
    category = np.where(rng.random(orders.height) < 0.7, own, other)
    status = rng.choice(len(STATUSES), orders.height, p=[0.90, 0.06, 0.04])
    # a twentieth of the customers have one quarter with nothing completed
    quarter = orders.select(
        (pl.col("date").dt.year() * 4 + (pl.col("date").dt.month() - 1) // 3).alias("q")
    )["q"].to_numpy()
    unlucky = [c for c in customers if rng.random() < 0.05]  # a list: drawn in id order
    chosen = {c: int(rng.integers(quarter.min(), quarter.max() + 1)) for c in unlucky}
    failed = np.array(
        [chosen.get(c) == q for c, q in zip(orders["customer_id"], quarter, strict=True)]
    )
    status = np.where(failed, rng.integers(1, 3, orders.height), status)
    return orders.with_columns(
        pl.Series("category", np.array(CATEGORIES)[category]),
        pl.Series("status", np.array(STATUSES)[status]),
    )


def check(frame: pl.DataFrame) -> None:
    """Raise unless the orders hold the cases the tests read: a customer whose
    2024 completed spend is at least 5,000 yuan in food (supermarket grade D)
    and 1,000 to 3,000 in household goods (B), and a customer who ordered in
    the first quarter of 2025 with nothing completed (P-G-S-B 无销售)."""
    year = (
        frame.filter((pl.col("status") == "completed") & (pl.col("date").dt.year() == 2024))
        .group_by("customer_id", "category")
        .agg(pl.col("amount").sum())
        .pivot(on="category", index="customer_id", values="amount")
        .fill_null(0.0)
    )
    both = year.filter(
        (pl.col("food") >= 5000) & pl.col("household").is_between(1000, 3000, closed="left")
    )
    quarter = frame.filter(pl.col("date").is_between(pl.date(2025, 1, 1), pl.date(2025, 3, 31)))
    no_sale = quarter.group_by("customer_id").agg((pl.col("status") == "completed").any())
    if both.is_empty() or no_sale["status"].all():
        raise RuntimeError(
            "the orders lack a customer graded D in food and B in household goods, or one "
            "with nothing completed in 2025 Q1; change SEED or YUAN_PER_DOLLAR"
        )


def main() -> None:
    out = DATA_DIR / "programmes"
    out.mkdir(parents=True, exist_ok=True)
    frame = build()
    check(frame)
    target = out / "orders_categories.csv"
    handle, temporary = tempfile.mkstemp(dir=out, suffix=".csv.tmp")
    os.close(handle)
    frame.write_csv(temporary)
    os.replace(temporary, target)
    print(f"{target}: {frame.height} orders, {target.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
