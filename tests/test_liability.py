"""Points liability: valuation in yuan, redemption behaviour, forecast of
redemptions and breakage by hand, and a back-test on the synthetic programme."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest
from scipy import stats

import clv
from clv.datasets import programme_data
from clv.programmes import build_ledger
from clv.programmes.liability import (
    backtest_liability,
    forecast_liability,
    redemption_behaviour,
    value_liability,
)

D = dt.date
NO_ORDERS = pl.DataFrame(schema={"customer_id": pl.String, "date": pl.Date, "amount": pl.Float64})


def _frame(rows, columns):
    return pl.DataFrame(rows, schema=columns, orient="row")


def test_value_in_yuan_at_any_date():
    orders = _frame(
        [("a", D(2024, 1, 10), 250.0), ("b", D(2024, 1, 10), 80.0)],
        ["customer_id", "date", "amount"],
    )
    redemptions = _frame([("b", D(2024, 2, 1), 80)], ["customer_id", "date", "points"])
    ledger = build_ledger(orders, redemptions=redemptions, as_of="2025-12-31")
    # "100花粉可享受1元优惠": 250 points are 2.5 yuan; b holds nothing after redeeming
    assert value_liability(ledger, "2024-03-01").rows() == [("a", 250, 2.5)]
    assert value_liability(ledger, "2024-01-31").rows() == [("a", 250, 2.5), ("b", 80, 0.8)]
    # a year later (calendar year: 2025-01-10) the points have expired
    assert value_liability(ledger, "2025-01-10").is_empty()


def test_redemption_behaviour_by_hand():
    orders = _frame(
        [("x", D(2024, 1, 10), 500.0), ("x", D(2024, 3, 1), 200.0)],
        ["customer_id", "date", "amount"],
    )
    redemptions = _frame([("x", D(2024, 1, 10), 100)], ["customer_id", "date", "points"])
    ledger = build_ledger(orders, redemptions=redemptions, as_of="2024-12-31")
    found = redemption_behaviour(ledger, "2023-12-31", "2024-12-31")
    # purchase days: 2024-01-10 holds 500 before its redemption, 2024-03-01 holds 600
    assert found.points_at_purchases == 1100
    assert found.share_per_purchase == pytest.approx(100 / 1100)
    assert (found.redemptions, found.mean_points, found.purchase_days) == (1, 100.0, 2)
    with pytest.raises(ValueError, match="no points were held on a purchase day"):
        redemption_behaviour(ledger, "2024-06-01", "2024-12-31")
    with pytest.raises(ValueError, match="runs to 2024-12-31"):
        redemption_behaviour(ledger, "2024-06-01", "2025-01-31")


@pytest.fixture(scope="module")
def three_members():
    # 500 points each from a late delivery (no orders: no new points per purchase)
    events = _frame(
        [
            ("m1", D(2024, 1, 1), "late_delivery"),
            ("m2", D(2024, 1, 1), "late_delivery"),
            ("m3", D(2024, 6, 1), "late_delivery"),
        ],
        ["customer_id", "date", "event"],
    )
    ledger = build_ledger(NO_ORDERS, events=events, as_of="2025-12-31")
    scores = _frame(
        [("m1", 0.9, 3.05), ("m2", 0.0, 0.0), ("m3", 0.8, 3.05)],
        ["customer_id", "p_alive", "expected_purchases"],
    )
    behaviour = redemption_behaviour(
        build_ledger(
            _frame([("z", D(2024, 1, 1), 1000.0)], ["customer_id", "date", "amount"]),
            redemptions=_frame([("z", D(2024, 1, 1), 200)], ["customer_id", "date", "points"]),
            as_of="2024-12-01",
        ),
        "2023-12-31",
        "2024-12-01",
    )
    assert behaviour.share_per_purchase == pytest.approx(0.2)  # 200 of 1,000 held
    return ledger, scores, behaviour


def test_forecast_by_hand(three_members):
    ledger, scores, behaviour = three_members
    forecast = forecast_liability(
        ledger, scores, as_of="2024-12-01", horizon_days=61, behaviour=behaviour
    )
    members = {r["customer_id"]: r for r in forecast.members.iter_rows(named=True)}
    # rate k = 0.2 x 3.05 / 61 = 0.01 a day. m1's points expire on 2025-01-01, day 31:
    # 30 days of redemptions, then the rest expires
    k = 0.2 * 3.05 / 61
    assert members["m1"]["redeemed"] == pytest.approx(500 * (1 - math.exp(-30 * k)))
    assert members["m1"]["expired"] == pytest.approx(500 * math.exp(-30 * k))
    # P(alive) = 0: nothing redeemed, all 500 expire
    assert (members["m2"]["redeemed"], members["m2"]["expired"]) == (0.0, 500.0)
    # m3's points (2024-06-01) outlive the horizon: 61 days of redemptions, none expire
    assert members["m3"]["redeemed"] == pytest.approx(500 * (1 - math.exp(-61 * k)))
    assert members["m3"]["expired"] == 0.0
    assert members["m3"]["remaining"] == pytest.approx(500 * math.exp(-61 * k))
    assert members["m3"]["redeemed_yuan"] == pytest.approx(members["m3"]["redeemed"] / 100)
    totals = {r["item"]: r for r in forecast.totals.iter_rows(named=True)}
    assert totals["held"]["points"] == 1500 and totals["held"]["yuan"] == 15.0
    redeemed = sum(m["redeemed"] for m in members.values())
    assert totals["redeemed"]["points"] == pytest.approx(redeemed)
    # the interval: a Poisson number of redemptions of 200 points, plus the share's
    # relative error 1/sqrt(1 redemption observed)
    sd = math.sqrt(200**2 * redeemed / 200 + redeemed**2)
    z = stats.norm.ppf(0.95)
    assert totals["redeemed"]["lower"] == pytest.approx(max(redeemed - z * sd, 0.0))
    assert totals["redeemed"]["upper"] == pytest.approx(min(redeemed + z * sd, 1500))
    # expiries cannot exceed the points due within the horizon (m1's and m2's 1,000)
    assert totals["expired"]["upper"] <= 1000


def test_new_points_from_purchases_are_redeemed_after_the_old_ones():
    # one order of 1,000 yuan: 1,000 points per purchase; old lot of 1,000 points
    orders = _frame([("n", D(2024, 11, 1), 1000.0)], ["customer_id", "date", "amount"])
    ledger = build_ledger(orders, as_of="2025-12-31")
    scores = _frame([("n", 1.0, 2.0)], ["customer_id", "p_alive", "expected_purchases"])
    behaviour = redemption_behaviour(
        build_ledger(
            orders,
            redemptions=_frame([("n", D(2024, 11, 1), 500)], ["customer_id", "date", "points"]),
        ),
        "2024-10-31",
        "2024-11-01",
    )
    assert behaviour.share_per_purchase == 0.5
    forecast = forecast_liability(
        ledger, scores, as_of="2024-12-01", horizon_days=2, behaviour=behaviour
    )
    # one purchase a day adds 1,000 points, then q = 1 - exp(-0.5) of all held is
    # redeemed, oldest first. Day 1: 2,000 q from the old 1,000. Day 2: the old
    # rest goes first.
    q = 1 - math.exp(-0.5)
    day1 = 2000 * q
    day2 = min(1000 - day1, q * (1000 - day1 + 2000))
    assert forecast.members["redeemed"].item() == pytest.approx(day1 + day2)


def test_bad_input_is_explained(three_members):
    ledger, scores, behaviour = three_members
    with pytest.raises(ValueError, match=r"1 member\(s\) hold points but have no score"):
        forecast_liability(
            ledger, scores.filter(pl.col("customer_id") != "m3"), as_of="2024-12-01",
            behaviour=behaviour,
        )  # fmt: skip
    with pytest.raises(ValueError, match=r"scores lack columns \['expected_purchases'\]"):
        forecast_liability(ledger, scores.drop("expected_purchases"), behaviour=behaviour)
    with pytest.raises(ValueError, match="horizon_days must be > 0"):
        forecast_liability(ledger, scores, horizon_days=0, behaviour=behaviour)


def test_backtest_actuals_by_hand():
    orders = _frame(
        [("m", D(2024, 1, 10), 300.0), ("m", D(2024, 8, 1), 100.0)],
        ["customer_id", "date", "amount"],
    )
    redemptions = _frame(
        [("m", D(2024, 1, 10), 100), ("m", D(2024, 9, 1), 150)], ["customer_id", "date", "points"]
    )
    ledger = build_ledger(orders, redemptions=redemptions, as_of="2025-01-31")
    scores = _frame([("m", 1.0, 1.0)], ["customer_id", "p_alive", "expected_purchases"])
    result = backtest_liability(ledger, scores, cutoff="2024-06-30")
    actual = dict(result.select("item", "actual").rows())
    # 200 held on the cutoff: 150 redeemed on 2024-09-01 (before the 100 earned on
    # 2024-08-01), the other 50 expire on 2025-01-10
    assert actual == {"redeemed": 150, "expired": 50}
    assert result.columns == ["item", "forecast", "lower", "upper", "actual", "inside"]


@pytest.fixture(scope="module")
def synthetic_backtest():
    orders = clv.datasets.synthetic().data
    ledger = build_ledger(
        orders,
        "points_pollen",
        events=programme_data("member_events"),
        redemptions=programme_data("member_redemptions"),
        as_of="2025-06-28",
    )
    cutoff = D(2024, 12, 31)
    summary = clv.summarize(orders, freq="D", time_unit="W", observation_end=cutoff)
    scores = clv.score(
        summary,
        clv.fit_purchase_model(summary),
        horizon_days=(D(2025, 6, 28) - cutoff).days,
    )
    return backtest_liability(ledger, scores, cutoff=cutoff, alpha=0.1)


def test_backtest_on_the_synthetic_programme(synthetic_backtest):
    # the holdout (2025-01-01 to 2025-06-28) of the synthetic programme: the points
    # held at the end of 2024, redeemed or expired (the 2024 points expire in 2025)
    rows = {r["item"]: r for r in synthetic_backtest.iter_rows(named=True)}
    for item in ("redeemed", "expired"):
        row = rows[item]
        assert row["lower"] <= row["forecast"] <= row["upper"]
        assert row["inside"], row
        assert row["forecast"] == pytest.approx(row["actual"], rel=0.15)
    assert rows["expired"]["actual"] > rows["redeemed"]["actual"] > 0
