"""The simulator draws what the BG/NBD and Gamma-Gamma models say it should."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from scipy.special import hyp2f1

import clv
from clv.simulate import SYNTHETIC_TRUTH

PARAMS = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def _bgnbd_expected_repeat(t: np.ndarray, r, alpha, a, b) -> np.ndarray:
    # Fader, Hardie and Lee (2005), equation (9): E[X(t)] for a new customer
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


def test_same_seed_same_log_and_other_seed_other_log():
    one = clv.simulate_transactions(500, **PARAMS, seed=3)
    two = clv.simulate_transactions(500, **PARAMS, seed=3)
    other = clv.simulate_transactions(500, **PARAMS, seed=4)
    assert one.equals(two)
    assert not one.equals(other)


def test_log_shape_and_windows():
    log = clv.simulate_transactions(
        2000, **PARAMS, start="2024-01-01", acquisition_days=84, observation_days=546, seed=1
    )
    assert log.columns == ["customer_id", "date", "amount"]
    assert log["customer_id"].n_unique() == 2000
    first = log.group_by("customer_id").agg(pl.col("date").min())["date"]
    assert first.min() >= dt.date(2024, 1, 1)
    assert first.max() < dt.date(2024, 1, 1) + dt.timedelta(days=84)
    assert log["date"].max() < dt.date(2024, 1, 1) + dt.timedelta(days=546)
    assert (log["amount"] > 0).all()


def test_repeat_purchases_follow_the_bgnbd_mean():
    n = 40_000
    log = clv.simulate_transactions(
        n, **PARAMS, acquisition_days=1, observation_days=365, time_unit="W", seed=11
    )
    repeat = log.height - n
    # every customer is born on day 0 and observed 364 days = 52 weeks
    expected = n * _bgnbd_expected_repeat(np.array(52.0), **PARAMS)
    # Poisson-gamma-geometric counts are overdispersed; 3 % is about 3 standard errors
    assert repeat == pytest.approx(float(expected), rel=0.03)


def test_spend_follows_the_gamma_gamma_mean():
    log = clv.simulate_transactions(20_000, **PARAMS, p_spend=6.25, q=3.74, gamma=15.44, seed=5)
    # E[z] = p * gamma / (q - 1) (Fader and Hardie 2013)
    assert log["amount"].mean() == pytest.approx(6.25 * 15.44 / 2.74, rel=0.03)


def test_bundled_synthetic_log_is_the_documented_draw():
    bundled = clv.datasets.synthetic().data
    drawn = clv.simulate_transactions(**SYNTHETIC_TRUTH)
    assert bundled["customer_id"].to_list() == drawn["customer_id"].to_list()
    assert bundled["date"].dt.date().to_list() == drawn["date"].to_list()
    np.testing.assert_allclose(bundled["amount"], drawn["amount"])


def test_invalid_parameters():
    with pytest.raises(ValueError, match="positive"):
        clv.simulate_transactions(10, r=0.2, alpha=-1.0, a=0.8, b=2.4)
    with pytest.raises(ValueError, match="acquisition_days"):
        clv.simulate_transactions(10, **PARAMS, acquisition_days=600, observation_days=100)
