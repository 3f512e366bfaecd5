"""Points ledger: a hand-computed ledger across a (leap) year boundary, rejections."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

import clv
from clv.programmes import build_ledger, load_points_rules

D = dt.date


def _frame(rows, columns):
    return pl.DataFrame(rows, schema=columns, orient="row")


ORDERS = _frame(
    [
        ("a", D(2023, 3, 1), 120.7),
        ("a", D(2024, 2, 29), 50.0),
        ("b", D(2023, 12, 1), 30.0),
        ("b", D(2024, 1, 5), 99.99),
    ],
    ["customer_id", "date", "amount"],
)
EVENTS = _frame(
    [
        ("a", D(2023, 6, 1), "review", None),
        ("a", D(2023, 7, 1), "profile", None),
        ("a", D(2023, 8, 1), "profile", None),
        ("a", D(2023, 9, 1), "selfie", None),
        ("b", D(2024, 2, 1), "first_review", "p1"),
        ("a", D(2024, 3, 1), "first_review", "p1"),
    ],
    ["customer_id", "date", "event", "product_id"],
)
REDEMPTIONS = _frame(
    [("a", D(2023, 12, 31), 100), ("a", D(2024, 6, 1), 1000)],
    ["customer_id", "date", "points"],
)
REGISTERED = _frame([("a", D(2023, 1, 1)), ("b", D(2024, 1, 1))], ["customer_id", "registered"])


@pytest.fixture(scope="module")
def ledger():
    return build_ledger(
        ORDERS,
        "points_pollen",
        events=EVENTS,
        redemptions=REDEMPTIONS,
        registrations=REGISTERED,
        as_of="2024-12-31",
    )


def test_hand_computed_history(ledger):
    # 1 point per yuan (floor), review 10, profile 50 once, 100 points redeemed on
    # 2023-12-31 from the oldest lot; points expire 365 days after they were earned:
    # 2023-03-01 + 365 days is 2024-02-29 (leap year), before that day's order
    history = ledger.history("a").select("date", "kind", "source", "points", "balance").rows()
    assert history == [
        (D(2023, 3, 1), "earn", "order", 120, 120),
        (D(2023, 6, 1), "earn", "review", 10, 130),
        (D(2023, 7, 1), "earn", "profile", 50, 180),
        (D(2023, 12, 31), "redeem", "redemption", -100, 80),
        (D(2024, 2, 29), "expire", "expiry", -20, 60),
        (D(2024, 2, 29), "earn", "order", 50, 110),
        (D(2024, 5, 31), "expire", "expiry", -10, 100),
        (D(2024, 6, 30), "expire", "expiry", -50, 50),
    ]


def test_balances_as_of_any_date(ledger):
    end = ledger.balances().filter(pl.col("customer_id") == "a").row(0, named=True)
    assert (end["earned"], end["redeemed"], end["expired"], end["balance"]) == (230, 100, 80, 50)
    mid = ledger.balances("2024-01-01").filter(pl.col("customer_id") == "a").row(0, named=True)
    assert (mid["earned"], mid["redeemed"], mid["expired"], mid["balance"]) == (180, 100, 0, 80)
    # every point explained: the balance is the sum of the entries
    totals = ledger.balances()
    assert (totals["earned"] - totals["redeemed"] - totals["expired"] == totals["balance"]).all()
    with pytest.raises(ValueError, match="runs to 2024-12-31"):
        ledger.balances("2025-06-01")


def test_rejections_are_kept_with_reasons(ledger):
    reasons = dict(
        ((r["customer_id"], r["date"]), r["reason"]) for r in ledger.rejected.iter_rows(named=True)
    )
    assert reasons[("a", D(2023, 8, 1))] == "profile is rewarded once per customer"
    assert reasons[("a", D(2023, 9, 1))].startswith("unknown event type")
    assert reasons[("a", D(2024, 6, 1))] == "redeems 1000 points with a balance of 100"
    assert reasons[("b", D(2023, 12, 1))] == "dated before the customer's registration"
    assert reasons[("a", D(2024, 3, 1))] == "product p1 already had its first review"
    assert ledger.rejected.height == 5
    b = ledger.history("b").select("source", "points").rows()
    assert b == [("order", 99), ("first_review", 20)]


def test_rules_validation(tmp_path):
    rules = load_points_rules()
    assert (rules.expiry_days, rules.points_per_currency_off, rules.events["late_delivery"]) == (
        365,
        100,
        500,
    )
    path = tmp_path / "bad.toml"
    path.write_text(
        'id = "x"\nname_zh = "积分"\nname_en = "Points"\npoints_per_currency_unit = -1\n'
        'points_per_currency_off = 100\nexpiry_days = 0\ncolour = "red"\n'
        '[events]\nreview = 10\n[once_per_customer]\nevents = ["profile"]\n',
        encoding="utf-8",
    )
    with pytest.raises(clv.SchemeError) as err:
        load_points_rules(path)
    message = str(err.value)
    assert "unknown key 'colour'" in message
    assert "points_per_currency_unit must be a number >= 0" in message
    assert "expiry_days must be a whole number of days > 0" in message
    assert "['profile'] are not event types" in message
