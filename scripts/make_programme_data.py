"""Build the synthetic programme data in data/programmes/ (run once; committed).

    .venv/bin/python scripts/make_programme_data.py

Everything here is synthetic, drawn with a fixed seed:

- ``member_events.csv``: points events of the customers of
  data/synthetic/transactions.csv (reviews, first reviews of products,
  profile completion, referrals, late-delivery compensation), with cases the
  rules must handle: first reviews of products that already had one (counted
  as ordinary reviews), reviews earned on the leap day 29 February 2024
  (their points expire on 1 March 2025), and a few deliberately invalid rows
  (an unknown event type, a second profile completion) so that the ledger's
  rejections can be seen;
- ``member_redemptions.csv``: points redeemed at checkout ("花粉抵运费": 100,
  300, 500, 800 or 1,000 points), drawn on the members' order days against
  the balance the pollen rules leave them, so that every redemption is valid
  and the redemption rate follows activity (for the liability back-test);
- ``b2b_accounts.csv``: 120 B2B accounts over 2024 and 2025 with every field
  of the parts-supplier scorecard, some of them exactly at the band edges
  (sales of 10,000,000, 5,000,000, 1,000,000 and 500,000 yuan, margins of
  15 %, 10 %, 5 % and 0, 70 % of products profitable);
- ``satisfaction.csv``: survey ratings of 200 customers on the 14 indicators.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from clv.datasets import synthetic
from clv.paths import DATA_DIR
from clv.programmes.points import build_ledger, load_points_rules
from clv.programmes.satisfaction import INDICATORS, LEVELS
from clv.programmes.scorecard import load_scorecard

SEED = 20240601
SHIPPING_STEPS = (1000, 800, 500, 300, 100)  # "100花粉抵1元运费 ... 1000花粉抵10元运费"
REDEEM_PROBABILITY = 0.35  # example: share of order days with a redemption when possible


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
    # first reviews of products that already had one: ordinary reviews by the rules
    taken = first.sort("product_id").head(30)
    not_first = taken.select(
        pl.Series("customer_id", rng.choice(customers["customer_id"].to_list(), taken.height)),
        (pl.col("date") + pl.duration(days=30)).alias("date"),
        "product_id",
    )
    # reviews earned on the leap day
    leap = (
        customers.sort("customer_id")
        .head(12)
        .select(
            "customer_id",
            pl.lit(dt.date(2024, 2, 29)).alias("date"),
            pl.Series("product_id", [f"p{300 + i:03d}" for i in range(12)]),
        )
    )
    parts = [
        first.with_columns(pl.lit("first_review").alias("event")),
        reviews.with_columns(pl.lit("review").alias("event")),
        not_first.with_columns(pl.lit("first_review").alias("event")),
        leap.with_columns(pl.lit("review").alias("event")),
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

    # redemptions at checkout, against the balance the rules leave (expiry included)
    rules = load_points_rules("points_pollen")
    ledger = build_ledger(orders, rules, events=events, as_of=orders["date"].max())
    redeemed = _redemptions(ledger.entries, orders, rules, rng)
    redeemed.write_csv(out / "member_redemptions.csv")

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
            if i < 16:  # the band edges, two accounts per edge and year
                row["annual_sales"] = (10_000_000.0, 5_000_000.0, 1_000_000.0, 500_000.0)[i % 4]
                row["margin"] = (0.15, 0.10, 0.05, 0.0)[(i // 4) % 4]
                row["share_profitable"] = 0.7 if i % 2 else 1.0
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


def _redemptions(
    entries: pl.DataFrame, orders: pl.DataFrame, rules, rng: np.random.Generator
) -> pl.DataFrame:
    """Redemptions drawn on order days: with probability REDEEM_PROBABILITY the
    largest shipping step the balance covers, the balance replayed with the
    ledger's rules (expiry before the day's inputs, oldest points first)."""
    earned = entries.filter(pl.col("kind") == "earn").select("customer_id", "date", "points")
    order_days = orders.select("customer_id", "date").unique()
    rows = []
    by_customer = dict(
        (c, g.sort("date").rows())
        for (c,), g in earned.group_by("customer_id", maintain_order=True)
    )
    days_by_customer = dict(
        (c, sorted(g["date"].to_list()))
        for (c,), g in order_days.group_by("customer_id", maintain_order=True)
    )
    for customer in sorted(by_customer):
        earns = by_customer[customer]
        lots: list[list] = []  # [expires, points left]
        position = 0
        for day in days_by_customer.get(customer, []):
            while position < len(earns) and earns[position][1] <= day:
                lots.append([rules.expires_on(earns[position][1]), earns[position][2]])
                position += 1
            lots = [lot for lot in lots if lot[0] is None or lot[0] > day]
            balance = sum(lot[1] for lot in lots)
            if balance < SHIPPING_STEPS[-1] or rng.random() >= REDEEM_PROBABILITY:
                continue
            points = next(step for step in SHIPPING_STEPS if step <= balance)
            rows.append((customer, day, points))
            left = points
            for lot in lots:  # oldest first
                used = min(left, lot[1])
                lot[1] -= used
                left -= used
            lots = [lot for lot in lots if lot[1] > 0]
    return pl.DataFrame(
        rows,
        schema={"customer_id": pl.String, "date": pl.Date, "points": pl.Int64},
        orient="row",
    )


if __name__ == "__main__":
    main()
