"""Build the synthetic programme data in data/programmes/ (run once; committed).

    .venv/bin/python scripts/make_programme_data.py

Everything here is synthetic, drawn with a fixed seed:

- ``member_events.csv``: points events of the customers of
  data/synthetic/transactions.csv (reviews, first reviews of products,
  profile completion, referrals, late-delivery compensation), with a few
  deliberately invalid rows (an unknown event type, a second profile
  completion) so that the ledger's rejections can be seen;
- ``member_redemptions.csv``: points redeemed by some members;
- ``b2b_accounts.csv``: 120 B2B accounts over 2024 and 2025 with every field
  of the parts-supplier scorecard;
- ``satisfaction.csv``: survey ratings of 200 customers on the 14 indicators.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from clv.datasets import synthetic
from clv.paths import DATA_DIR
from clv.programmes.satisfaction import INDICATORS, LEVELS
from clv.programmes.scorecard import load_scorecard

SEED = 20240601


def main() -> None:
    rng = np.random.default_rng(SEED)
    out = DATA_DIR / "programmes"
    out.mkdir(parents=True, exist_ok=True)
    orders = synthetic().data.select("customer_id", pl.col("date").dt.date(), "amount")

    # events: a review for about a third of orders, ten days later, on one of 300 products
    reviewed = orders.filter(pl.Series(rng.random(orders.height) < 0.3))
    products = rng.integers(0, 300, reviewed.height)
    reviews = reviewed.select(
        "customer_id", (pl.col("date") + pl.duration(days=10)).alias("date")
    ).with_columns(
        pl.Series("product_id", [f"p{p:03d}" for p in products]),
    )
    first = reviews.sort("date").unique("product_id", keep="first", maintain_order=True)
    reviews = reviews.join(
        first.select("customer_id", "date", "product_id"),
        on=["customer_id", "date", "product_id"],
        how="anti",
    )
    customers = orders.group_by("customer_id").agg(pl.col("date").min().alias("first"))
    profile = customers.filter(pl.Series(rng.random(customers.height) < 0.6)).select(
        "customer_id", (pl.col("first") + pl.duration(days=3)).alias("date")
    )
    referral = customers.filter(pl.Series(rng.random(customers.height) < 0.05)).select(
        "customer_id", (pl.col("first") + pl.duration(days=60)).alias("date")
    )
    late = orders.filter(pl.Series(rng.random(orders.height) < 0.01)).select(
        "customer_id", (pl.col("date") + pl.duration(days=7)).alias("date")
    )
    parts = [
        first.with_columns(pl.lit("first_review").alias("event")),
        reviews.with_columns(pl.lit("review").alias("event")),
        profile.with_columns(
            pl.lit("profile").alias("event"), pl.lit(None, pl.String).alias("product_id")
        ),
        referral.with_columns(
            pl.lit("referral").alias("event"), pl.lit(None, pl.String).alias("product_id")
        ),
        late.with_columns(
            pl.lit("late_delivery").alias("event"), pl.lit(None, pl.String).alias("product_id")
        ),
    ]
    invalid = pl.DataFrame(
        {
            "customer_id": ["0001", "0002"],
            "date": [dt.date(2024, 6, 1), dt.date(2024, 6, 2)],
            "product_id": [None, None],
            "event": ["selfie", "profile"],
        },
        schema_overrides={"product_id": pl.String},
    )
    events = pl.concat(
        [p.select("customer_id", "date", "event", "product_id") for p in [*parts, invalid]]
    ).sort("customer_id", "date", "event")
    events.write_csv(out / "member_events.csv")

    # redemptions: a tenth of customers redeem 100 points four months after they joined
    redeem = customers.filter(pl.Series(rng.random(customers.height) < 0.1)).select(
        "customer_id",
        (pl.col("first") + pl.duration(days=120)).alias("date"),
        pl.lit(100).alias("points"),
    )
    redeem.sort("customer_id").write_csv(out / "member_redemptions.csv")

    # B2B accounts with every scorecard field
    card = load_scorecard()
    n = 120
    rows = []
    for year in (2024, 2025):
        for i in range(n):
            row = {
                "account": f"B{i:03d}",
                "year": year,
                "annual_sales": float(np.round(np.exp(rng.normal(14.5, 1.2)), -3)),
                "margin": float(np.round(rng.normal(0.08, 0.06), 3)),
                "share_profitable": float(np.round(rng.beta(6, 2), 2)),
            }
            for c in card.criteria:
                if c.kind == "class":
                    classes = list(c.classes)
                    weights = np.linspace(2, 1, len(classes))
                    row[c.field] = str(rng.choice(classes, p=weights / weights.sum()))
            rows.append(row)
    pl.DataFrame(rows).write_csv(out / "b2b_accounts.csv")

    # satisfaction survey: 200 customers x 14 indicators, some complaints
    levels = list(LEVELS)
    ids = customers["customer_id"].head(200).to_list()
    survey = pl.DataFrame(
        {
            "customer_id": [c for c in ids for _ in INDICATORS],
            "indicator": [k for _ in ids for k in INDICATORS],
            "rating": [
                str(rng.choice(levels, p=[0.25, 0.35, 0.25, 0.1, 0.05]))
                for _ in range(len(ids) * len(INDICATORS))
            ],
            "complaint": [
                ("late delivery" if rng.random() < 0.05 else "")
                for _ in range(len(ids) * len(INDICATORS))
            ],
        }
    )
    survey.write_csv(out / "satisfaction.csv")


if __name__ == "__main__":
    main()
