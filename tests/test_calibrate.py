"""Thresholds on past spend that reproduce the CLV tiers: known answers and an
exhaustive search on small data."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest

from clv.programmes.calibrate import spend_thresholds


def _frames(spend: np.ndarray, rank: np.ndarray) -> tuple[pl.DataFrame, pl.DataFrame]:
    ids = [f"c{i}" for i in range(spend.size)]
    return (
        pl.DataFrame({"customer_id": ids, "spend": spend}),
        pl.DataFrame({"customer_id": ids, "tier_rank": rank}),
    )


def test_recovers_thresholds_when_the_tiers_are_a_cut_of_spend():
    rng = np.random.default_rng(0)
    spend = np.round(rng.gamma(1.0, 5_000.0, 2_000), 2)
    truth = [0.0, 1_000.0, 5_000.0, 20_000.0]
    level = np.searchsorted(truth, spend, side="right") - 1
    rank = 4 - level  # 1 = best
    fit = spend_thresholds(*_frames(spend, rank))
    # the smallest spend of each true level reproduces the cut exactly
    expected = [0.0] + [float(spend[level == lv].min()) for lv in (1, 2, 3)]
    assert fit.minimums == expected
    assert fit.agreement == 1.0 and fit.weighted_kappa == pytest.approx(1.0)
    assert fit.levels == [4, 3, 2, 1]
    assert fit.table["customers"].sum() == spend.size


def _brute_force(spend, tier, k, objective):
    values = np.unique(spend)
    best = None
    for cut in itertools.combinations(range(1, values.size), k - 1):
        minimums = [0.0] + [values[c] for c in cut]
        level = np.searchsorted(minimums, spend, side="right") - 1
        if objective == "agreement":
            cost = (level != tier).sum()
        else:
            cost = ((level - tier) ** 2).sum()
        best = cost if best is None else min(best, cost)
    return best


@pytest.mark.parametrize("objective", ["agreement", "quadratic"])
@pytest.mark.parametrize("seed", range(4))
def test_exact_optimum_against_exhaustive_search(seed, objective):
    rng = np.random.default_rng(seed)
    spend = rng.integers(0, 25, 40).astype(float)
    tier = np.clip((spend / 8 + rng.normal(0, 1.0, 40)).round(), 0, 2).astype(int)
    fit = spend_thresholds(*_frames(spend, 3 - tier), objective=objective)
    assert fit.minimums[0] == 0.0 and all(np.diff(fit.minimums) > 0)
    level = np.searchsorted(fit.minimums, spend, side="right") - 1
    got = (level != tier).sum() if objective == "agreement" else ((level - tier) ** 2).sum()
    assert got == _brute_force(spend, tier, 3, objective)


def test_bad_inputs_are_explained():
    spend, tiers = _frames(np.array([1.0, 1.0, 2.0]), np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="2 distinct spend values cannot separate 3 tiers"):
        spend_thresholds(spend, tiers)
    with pytest.raises(ValueError, match="lacks the columns \\['spend'\\]"):
        spend_thresholds(spend.rename({"spend": "x"}), tiers)
    with pytest.raises(ValueError, match="objective must be"):
        spend_thresholds(spend, tiers, objective="kappa")
