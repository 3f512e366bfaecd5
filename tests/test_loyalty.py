"""The value x loyalty grid (高/中/低价值 x 忠诚/一般/流失) on hand-computed customers."""

from __future__ import annotations

import datetime as dt
import statistics

import polars as pl
import pytest

from clv.programmes.loyalty import LoyaltyRules, loyalty_grid

D = dt.date
AS_OF = D(2024, 12, 31)  # window of 365 days: purchases after 2024-01-01


def _orders(spec: dict[str, list[tuple[dt.date, float]]]) -> pl.DataFrame:
    rows = [(c, day, amount) for c, buys in spec.items() for day, amount in buys]
    return pl.DataFrame(rows, schema=["customer_id", "date", "amount"], orient="row")


def _days(start: dt.date, offsets: list[int]) -> list[dt.date]:
    return [start + dt.timedelta(days=o) for o in offsets]


ORDERS = _orders(
    {
        # five purchases 30 days apart: steady gaps (coefficient of variation 0)
        "c1": [(d, 100.0) for d in _days(D(2024, 3, 1), [0, 30, 60, 90, 120])],
        # four purchases, gaps 10, 90, 10: unsteady
        "c2": [(d, 50.0) for d in _days(D(2024, 3, 1), [0, 10, 100, 110])],
        # one large purchase two years ago: nothing in the window
        "c3": [(D(2022, 6, 1), 1000.0)],
        # two purchases in the window
        "c4": [(D(2024, 4, 1), 10.0), (D(2024, 5, 1), 10.0)],
        # four purchases 20 days apart, small
        "c5": [(d, 2.5) for d in _days(D(2024, 6, 1), [0, 20, 40, 60])],
    }
)
EVENTS = pl.DataFrame(
    [
        ("c2", D(2024, 5, 1), "referral"),
        ("c4", D(2023, 1, 1), "referral"),  # before the window
        ("c1", D(2024, 5, 1), "review"),  # not a referral
    ],
    schema=["customer_id", "date", "event"],
    orient="row",
)


def test_cells_by_hand():
    grid = loyalty_grid(ORDERS, AS_OF, events=EVENTS)
    cells = {r["customer_id"]: r for r in grid.customers.iter_rows(named=True)}
    # value by amount spent, 5 customers: high = fewer than 0.2 x 5 = 1 customer
    # ahead (c3: 1,000), medium = fewer than 0.5 x 5 = 2.5 ahead (c1: 500, c2: 200)
    assert {c: r["value"] for c, r in cells.items()} == {
        "c1": "medium",
        "c2": "medium",
        "c3": "high",
        "c4": "low",
        "c5": "low",
    }
    # loyalty: c1 five steady purchases; c2 four unsteady purchases but a referral;
    # c3 nothing in the window; c4 only two purchases; c5 four steady purchases
    assert {c: r["loyalty"] for c, r in cells.items()} == {
        "c1": "loyal",
        "c2": "loyal",
        "c3": "lost",
        "c4": "general",
        "c5": "loyal",
    }
    gaps = [10, 90, 10]
    assert cells["c2"]["gap_cv"] == pytest.approx(statistics.pstdev(gaps) / statistics.mean(gaps))
    assert cells["c1"]["gap_cv"] == 0.0
    assert cells["c4"]["gap_cv"] is None  # one gap: stability unknown
    assert (cells["c2"]["referrals"], cells["c4"]["referrals"]) == (1, 0)
    assert cells["c1"]["cell_label"] == "medium value, loyal"
    assert grid.counts.rows() == [
        ("high", 0, 0, 1),
        ("medium", 2, 0, 0),
        ("low", 1, 1, 0),
    ]
    assert grid.counts.columns == ["value", "loyal", "general", "lost"]


def test_without_referrals_an_unsteady_customer_is_general():
    grid = loyalty_grid(ORDERS, AS_OF, lang="zh")
    cells = dict(grid.customers.select("customer_id", "cell_label").rows())
    assert cells["c2"] == "中价值·一般"
    assert cells["c3"] == "高价值·流失"
    assert cells["c1"] == "中价值·忠诚"


def test_ties_share_a_class_and_fixed_bounds():
    tied = pl.concat([ORDERS, ORDERS.filter(pl.col("customer_id") == "c1").with_columns(
        pl.lit("c6").alias("customer_id"))])  # fmt: skip
    values = dict(loyalty_grid(tied, AS_OF).customers.select("customer_id", "value").rows())
    # 6 customers: high = fewer than 0.2 x 6 = 1.2 customers ahead: c3 (none ahead)
    # and both c1 and c6 (500 each, 1 ahead: tied customers share the class);
    # medium = fewer than 3 ahead: not c2 (c3, c1, c6 ahead)
    assert (values["c3"], values["c1"], values["c6"], values["c2"]) == (
        "high",
        "high",
        "high",
        "low",
    )
    bounds = loyalty_grid(ORDERS, AS_OF, rules=LoyaltyRules(value_bounds=(400.0, 100.0)))
    values = dict(bounds.customers.select("customer_id", "value").rows())
    assert values == {"c1": "high", "c2": "medium", "c3": "high", "c4": "low", "c5": "low"}


def test_value_over_a_trailing_window():
    recent = loyalty_grid(ORDERS, AS_OF, rules=LoyaltyRules(value_days=365))
    cells = dict(recent.customers.select("customer_id", "spend").rows())
    assert cells["c3"] == 0.0 and cells["c1"] == 500.0
    # only orders up to as_of count
    early = loyalty_grid(ORDERS, D(2024, 3, 31))
    assert dict(early.customers.select("customer_id", "purchases").rows())["c1"] == 2


def test_bad_rules_and_inputs_are_explained():
    with pytest.raises(ValueError, match="together at most 1"):
        LoyaltyRules(high_share=0.8, medium_share=0.3)
    with pytest.raises(ValueError, match="window_days must be a whole number of days > 0"):
        LoyaltyRules(window_days=0)
    with pytest.raises(ValueError, match=r"orders lack columns \['amount'\]"):
        loyalty_grid(ORDERS.drop("amount"), AS_OF)
    with pytest.raises(ValueError, match="no order on or before 2020-01-01"):
        loyalty_grid(ORDERS, "2020-01-01")
    with pytest.raises(ValueError, match="lang must be"):
        loyalty_grid(ORDERS, AS_OF, lang="fr")
