"""Effect evaluation per tier and period; rule grades against CLV tiers."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest

import clv
from clv.programmes.evaluation import agreement, compare_periods, tier_outcomes

D = dt.date
LOG = pl.DataFrame(
    {
        "customer_id": ["a", "a", "b", "c", "a", "b", "b"],
        "date": [
            D(2024, 1, 5),
            D(2024, 2, 1),
            D(2024, 3, 1),
            D(2023, 12, 1),
            D(2024, 4, 2),
            D(2024, 5, 1),
            D(2024, 6, 1),
        ],
        "amount": [100.0, 50.0, 30.0, 10.0, 120.0, 20.0, 40.0],
    }
)
TIERS = pl.DataFrame({"customer_id": ["a", "b", "c"], "tier": ["big", "small", "small"]})


def test_tier_outcomes_by_hand():
    q1 = tier_outcomes(LOG, TIERS, start="2024-01-01", end="2024-03-31")
    big = q1.filter(pl.col("tier") == "big").row(0, named=True)
    small = q1.filter(pl.col("tier") == "small").row(0, named=True)
    assert (big["customers"], big["repurchase_rate"], big["orders"]) == (1, 1.0, 2)
    assert big["average_order_value"] == 75.0 and big["revenue_share"] == pytest.approx(150 / 180)
    # b bought, c did not: half the small tier repurchased
    assert (small["repurchase_rate"], small["churn_rate"], small["revenue"]) == (0.5, 0.5, 30.0)


def test_a_claimed_rise_can_be_checked():
    q1 = tier_outcomes(LOG, TIERS, start="2024-01-01", end="2024-03-31")
    q2 = tier_outcomes(LOG, TIERS, start="2024-04-01", end="2024-06-30")
    change = compare_periods(q1, q2)
    big = change.filter(pl.col("tier") == "big").row(0, named=True)
    # average order of the big tier went from 75 to 120: +60 %
    assert big["average_order_value_change"] == pytest.approx(0.6)
    small = change.filter(pl.col("tier") == "small").row(0, named=True)
    assert small["average_order_value_change"] == pytest.approx(0.0)  # 30 then 30
    assert small["repurchase_rate_change"] == pytest.approx(0.0)


def test_agreement_with_clv_tiers(cdnow_calibration):
    scores = clv.score(
        cdnow_calibration,
        clv.fit_purchase_model(cdnow_calibration),
        clv.fit_spend_model(cdnow_calibration),
    )
    grading = clv.grade(scores)
    # the hand rule of the seed policies: past spend, same five levels by revenue quantile
    quantiles = clv.load_scheme().with_grounding("quantile", shares=[0.05, 0.1, 0.2, 0.3, 0.35])
    by_spend = clv.grade(scores, dataclasses.replace(quantiles, score="revenue"))
    rule = by_spend.customers.select("customer_id", pl.col("tier").alias("rule_grade"))
    order = [t.id for t in grading.scheme.tiers]
    matrix, customers = agreement(rule, grading.customers, rule_order=order)
    assert matrix["customers"].sum() == scores.height
    assert matrix["clv"].sum() == pytest.approx(scores["clv"].sum())
    over = customers.filter(pl.col("verdict") == "over-graded")
    assert (over["rule_rank"] < over["tier_rank"]).all() and over.height > 0
    # over-graded customers are worth less than those the rule puts in the same grade
    # and CLV agrees with
    top = customers.filter(pl.col("rule_rank") == 1)
    assert (
        top.filter(pl.col("verdict") == "over-graded")["clv"].mean()
        < top.filter(pl.col("verdict") == "agrees")["clv"].mean()
    )
    with pytest.raises(ValueError, match="pass mapping"):
        agreement(rule, grading.customers, rule_order=order[:3])


def test_a_year_of_outcomes_spans_the_leap_day_and_ends_on_31_december():
    # a calendar year as a period: 29 February and the last minutes of
    # 31 December are in it, 1 January of the next year is not
    log = pl.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c"],
            "date": [
                dt.datetime(2024, 2, 29, 12),
                dt.datetime(2024, 12, 31, 23, 59),
                dt.datetime(2025, 1, 1, 0, 0),
                dt.datetime(2023, 12, 31, 23, 59),
            ],
            "amount": [10.0, 30.0, 50.0, 70.0],
        }
    )
    tiers = pl.DataFrame({"customer_id": ["a", "b", "c"], "tier": ["x", "y", "y"]})
    year = tier_outcomes(log, tiers, start="2024-01-01", end="2024-12-31")
    x = year.filter(pl.col("tier") == "x").row(0, named=True)
    y = year.filter(pl.col("tier") == "y").row(0, named=True)
    assert (x["orders"], x["revenue"], x["revenue_share"]) == (2, 40.0, 1.0)
    assert (y["orders"], y["repurchase_rate"], y["churn_rate"]) == (0, 0.0, 1.0)
