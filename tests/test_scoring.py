"""Scoring: published conditional expectations, units, discounting, no NaN."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from lifetimes import GammaGammaFitter

import clv


@pytest.fixture(scope="module")
def fitted(cdnow_calibration):
    return (
        clv.fit_purchase_model(cdnow_calibration, model="bgnbd"),
        clv.fit_spend_model(cdnow_calibration),
    )


def test_bgnbd_conditional_expectation_matches_fader_hardie_lee(fitted):
    # Fader, Hardie and Lee (2005), Marketing Science 24(2), section 4: a customer with
    # x = 2, t_x = 30.43, T = 38.86 weeks is expected to make 1.226 purchases in the
    # next 39 weeks.
    bgnbd, _ = fitted
    value = bgnbd.expected_purchases(39.0, np.array([2.0]), np.array([30.43]), np.array([38.86]))
    assert value[0] == pytest.approx(1.226, abs=0.0006)


def test_score_columns_and_rows(cdnow_calibration, fitted):
    scores = clv.score(cdnow_calibration, *fitted, horizon_days=365, discount_rate_annual=0.1)
    assert scores.height == cdnow_calibration.height
    assert scores["customer_id"].to_list() == cdnow_calibration["customer_id"].to_list()
    for column in ("expected_purchases", "p_alive", "churn_probability", "expected_order_value"):
        assert scores[column].is_finite().all(), column
    assert ((scores["p_alive"] >= 0) & (scores["p_alive"] <= 1)).all()
    np.testing.assert_allclose(scores["churn_probability"], 1 - scores["p_alive"])
    # one-time buyers get the population mean spend per order, p * gamma / (q - 1)
    one_time = scores.filter(pl.col("frequency") == 0)
    _, spend = fitted
    assert one_time["expected_order_value"].unique().to_list() == pytest.approx(
        [spend.mean_order_value]
    )
    # BG/NBD: a customer without repeat purchases is surely alive
    assert (one_time["p_alive"] == 1.0).all()


def test_units_do_not_leak_into_scores(cdnow_sample):
    """The same data summarised in days and in weeks gives the same scores."""
    in_weeks = clv.summarize(cdnow_sample, freq="D", time_unit="W", observation_end="1997-09-30")
    in_days = clv.summarize(cdnow_sample, freq="D", time_unit="D", observation_end="1997-09-30")
    spend = clv.fit_spend_model(in_weeks)
    weekly = clv.score(in_weeks, clv.fit_purchase_model(in_weeks), spend, horizon_days=180)
    daily = clv.score(in_days, clv.fit_purchase_model(in_days), spend, horizon_days=180)
    for column in ("expected_purchases", "p_alive", "clv"):
        np.testing.assert_allclose(daily[column], weekly[column], rtol=2e-3, atol=1e-6)


def test_clv_matches_lifetimes_when_units_agree(cdnow_sample):
    """lifetimes' customer_lifetime_value on a weekly summary with 12 monthly steps
    of 4.345 weeks and no discount equals ours over 12 * 4.345 weeks."""
    summary = clv.summarize(cdnow_sample, freq="W", observation_end="1997-09-28")
    bgnbd = clv.fit_purchase_model(summary)
    spend = clv.fit_spend_model(summary)
    ours = clv.score(summary, bgnbd, spend, horizon_days=12 * 4.345 * 7, discount_rate_annual=0.0)
    lifetimes_spend = GammaGammaFitter()
    lifetimes_spend.params_ = pd.Series(
        {"p": spend.params["p"], "q": spend.params["q"], "v": spend.params["gamma"]}
    )
    theirs = lifetimes_spend.customer_lifetime_value(
        bgnbd._fitter,
        summary["frequency"].to_pandas(),
        summary["recency"].to_pandas(),
        summary["T"].to_pandas(),
        summary["monetary_value"].to_pandas(),
        time=12,
        discount_rate=0.0,
        freq="W",
    )
    np.testing.assert_allclose(ours["clv"].to_numpy(), theirs.to_numpy(), rtol=1e-6)


def test_discounting(cdnow_calibration, fitted):
    undiscounted = clv.score(
        cdnow_calibration,
        *fitted,
        horizon_days=365.25,
        discount_rate_annual=0.0,
        steps_per_year=1,
    )
    discounted = clv.score(
        cdnow_calibration,
        *fitted,
        horizon_days=365.25,
        discount_rate_annual=0.10,
        steps_per_year=1,
    )
    # one yearly step: everything is discounted by exactly one year
    np.testing.assert_allclose(discounted["clv"], undiscounted["clv"] / 1.10, rtol=1e-12)
    monthly = clv.score(cdnow_calibration, *fitted, horizon_days=365.25)
    # monthly steps bring purchases earlier, so they are discounted less
    assert (monthly["clv"] >= discounted["clv"] - 1e-12).all()
    assert (monthly["clv"] <= undiscounted["clv"] + 1e-12).all()
    longer = clv.score(cdnow_calibration, *fitted, horizon_days=730)
    assert (longer["clv"] >= monthly["clv"]).all()


@pytest.mark.parametrize("model", ["bgnbd", "pareto_nbd", "mbgnbd"])
def test_extreme_customers_get_finite_scores(cdnow_calibration, model):
    fit = clv.fit_purchase_model(cdnow_calibration, model=model)
    spend = clv.fit_spend_model(cdnow_calibration)
    extreme = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e"],
            "frequency": [0, 200, 150, 120, 300],
            "recency": [0.0, 60.0, 1.0, 59.99999, 78.0],
            "T": [60.0, 60.0, 78.0, 60.0, 78.0],
            "monetary_value": [0.0, 50.0, 1e4, 3.0, 20.0],
        }
    ).with_columns(pl.lit("W", dtype=pl.Enum(["D", "W", "M"])).alias("time_unit"))
    scores = clv.score(extreme, fit, spend, horizon_days=365)
    for column in ("expected_purchases", "p_alive", "clv"):
        assert scores[column].is_finite().all(), column
    by_id = {row["customer_id"]: row for row in scores.iter_rows(named=True)}
    # 150 purchases, then silence for 77 weeks: gone
    assert by_id["c"]["p_alive"] < 1e-6
    # 300 purchases up to this week: alive and buying on
    assert by_id["e"]["p_alive"] > 0.99 and by_id["e"]["expected_purchases"] > 100


def test_score_accepts_calibration_frame(cdnow_sample):
    cal = clv.calibration_holdout(
        cdnow_sample, calibration_end="1997-09-30", observation_end="1998-06-30", time_unit="W"
    )
    fit = clv.fit_purchase_model(cal)
    scores = clv.score(cal, fit, clv.fit_spend_model(cal), horizon_days=273)
    assert scores.height == cal.height
    assert "frequency_holdout" in scores.columns
    # a sanity bound, not a published figure: BG/NBD's holdout forecast for CDNOW
    # (1,653 purchase days predicted against 1,882 seen) is within 15 %
    assert scores["expected_purchases"].sum() == pytest.approx(
        cal["frequency_holdout"].sum(), rel=0.15
    )
    # and it ranks customers: those predicted to buy more do buy more
    top = scores.filter(pl.col("expected_purchases") >= scores["expected_purchases"].quantile(0.9))
    assert top["frequency_holdout"].mean() > 4 * scores["frequency_holdout"].mean()


def test_bad_arguments(cdnow_calibration, fitted):
    with pytest.raises(ValueError, match="horizon_days"):
        clv.score(cdnow_calibration, *fitted, horizon_days=0)
    with pytest.raises(ValueError, match="discount_rate_annual"):
        clv.score(cdnow_calibration, *fitted, discount_rate_annual=-1.5)
    daily = cdnow_calibration.with_columns(
        pl.lit("D", dtype=pl.Enum(["D", "W", "M"])).alias("time_unit")
    )
    with pytest.raises(ValueError, match="fitted in 'W'"):
        clv.score(daily, *fitted)


def test_without_spend_model_uses_observed_mean(cdnow_calibration, fitted):
    bgnbd, _ = fitted
    scores = clv.score(cdnow_calibration, bgnbd, horizon_days=365)
    np.testing.assert_allclose(
        scores["expected_order_value"], scores["revenue"] / (scores["frequency"] + 1)
    )
    one_time = scores.filter(pl.col("frequency") == 0)["expected_order_value"]
    assert (one_time >= 0).all() and one_time.mean() > 10  # their first order, not 0
    no_revenue = clv.score(cdnow_calibration.drop("revenue"), bgnbd, horizon_days=365)
    np.testing.assert_array_equal(no_revenue["expected_order_value"], no_revenue["monetary_value"])


def test_margin_turns_revenue_into_gross_profit():
    tx = clv.datasets.cdnow(sample=True)
    summary = clv.summarize(tx, freq="D", time_unit="W", observation_end="1997-09-30")
    bgnbd = clv.fit_purchase_model(summary, model="bgnbd")
    spend = clv.fit_spend_model(summary)
    revenue = clv.score(summary, bgnbd, spend)
    profit = clv.score(summary, bgnbd, spend, margin=0.3)
    assert "clv_revenue" not in revenue.columns
    np.testing.assert_allclose(profit["clv_revenue"].to_numpy(), revenue["clv"].to_numpy())
    np.testing.assert_allclose(profit["clv"].to_numpy(), 0.3 * revenue["clv"].to_numpy())
    for bad in (0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="margin="):
            clv.score(summary, bgnbd, spend, margin=bad)
