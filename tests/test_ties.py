"""Blocks of equal or indistinguishable scores stay in one tier; moves and
sparse tiers are reported as data."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clv
from clv.tiers import assign_ranks, ground_thresholds


def _frame(values) -> pl.DataFrame:
    v = np.asarray(values, dtype=float)
    n = v.size
    return pl.DataFrame(
        {
            "customer_id": np.arange(n),
            "clv": v,
            "p_alive": np.full(n, 0.9),
            "churn_probability": np.full(n, 0.1),
            "p_no_purchase": np.full(n, 0.1),
            "frequency": np.ones(n),
            "T": np.full(n, 52.0),
        }
    )


def _quantile(shares):
    return clv.load_scheme().with_grounding("quantile", shares=shares)


def _one_tier_per_score(graded) -> bool:
    per_score = graded.customers.group_by("clv").agg(pl.col("tier_rank").n_unique())
    return bool((per_score["tier_rank"] == 1).all())


@settings(max_examples=60, deadline=None)
@given(
    pool=st.lists(st.floats(0.0, 1e4, allow_nan=False), min_size=1, max_size=8, unique=True),
    picks=st.lists(st.integers(0, 7), min_size=6, max_size=150),
    method=st.sampled_from(["value_share", "quantile"]),
    n_bootstrap=st.sampled_from([0, 4]),
)
def test_equal_scores_are_never_split(pool, picks, method, n_bootstrap):
    values = np.array([pool[i % len(pool)] for i in picks])
    scheme = clv.load_scheme() if method == "value_share" else _quantile([0.1, 0.2, 0.3, 0.2, 0.2])
    try:
        graded = clv.grade(_frame(values), scheme, n_bootstrap=n_bootstrap)
    except ValueError:
        return  # all-zero scores cannot be cut by value share: refused with a message
    assert _one_tier_per_score(graded)
    t = graded.thresholds
    assert np.all(np.diff(t) < 0)  # strictly falling: no two thresholds cross or meet
    ranks = graded.customers["tier_rank"].to_numpy()
    np.testing.assert_array_equal(assign_ranks(values, t), ranks)
    order = np.argsort(-values, kind="stable")
    assert np.all(np.diff(ranks[order]) >= 0)
    assert graded.tier_table()["customers"].sum() == values.size


def test_without_ties_the_grading_is_the_grounding():
    values = np.random.default_rng(1).lognormal(2, 1, 500)
    graded = clv.grade(_frame(values))
    np.testing.assert_array_equal(graded.thresholds, graded.grounded_thresholds)
    expected = ground_thresholds(values, "value_share", {"shares": [0.4, 0.25, 0.2, 0.1, 0.05]}, 5)
    np.testing.assert_array_equal(graded.thresholds, expected)
    assert graded.threshold_moves == ()
    assert graded.sparse_tiers().height == 0


def test_a_spike_inside_a_cut_goes_to_the_nearer_edge():
    # 200 customers: 100 at 100 .. 1, a spike of 60 at 0.5, 40 below it. The bottom
    # cut's target is 60 % of customers (120), inside the spike (positions 100 .. 160):
    # 20 from its top edge, 40 from its bottom edge, so the spike goes down.
    top = np.arange(100, 0, -1, dtype=float)
    values = np.concatenate([top, np.full(60, 0.5), np.linspace(0.4, 0.01, 40)])
    shares = [0.1, 0.2, 0.15, 0.15, 0.4]
    scheme = _quantile(shares)
    grounded = ground_thresholds(values, "quantile", {"shares": shares}, 5)
    assert grounded[-1] == 0.5  # the grounding gives the whole spike to Silver
    graded = clv.grade(_frame(values), scheme)
    assert _one_tier_per_score(graded)
    (move,) = graded.threshold_moves
    assert move.tier == "silver" and move.reason == "tie_block"
    assert move.block_customers == 60 and move.block_low == move.block_high == 0.5
    assert move.side == "below" and move.customers_moved == 60
    assert move.grounded == 0.5 and move.final == 1.0
    assert move.grounded_share == pytest.approx(0.8) and move.final_share == pytest.approx(0.5)
    assert move.target_share == pytest.approx(0.6)
    spike = graded.customers.filter(pl.col("clv") == 0.5)["tier"].unique().to_list()
    assert spike == ["regular"]
    # a target of 70 % (140) is nearer the bottom edge: the spike stays above
    graded = clv.grade(_frame(values), _quantile([0.1, 0.2, 0.15, 0.25, 0.3]))
    (move,) = graded.threshold_moves
    assert move.side == "above" and move.customers_moved == 0 and move.final == 0.5


def test_all_customers_equal_land_in_one_tier_and_the_others_are_reported_empty():
    graded = clv.grade(_frame(np.full(40, 12.3)))
    counts = graded.tier_table()["customers"].to_list()
    assert sorted(counts) == [0, 0, 0, 0, 40]
    assert np.all(np.diff(graded.thresholds) < 0)
    holder = graded.customers["tier"][0]
    sparse = graded.sparse_tiers()
    assert sparse.height == 4 and holder not in sparse["tier"].to_list()
    assert set(sparse["reason"]) == {"empty_after_ties"}
    assert (sparse["customers"] == 0).all() and (sparse["block_customers"] == 40).all()
    assert (sparse["block_low"] == 12.3).all() and (sparse["block_tier"] == holder).all()
    assert {m.reason for m in graded.threshold_moves} == {"tie_block"}
    report = json.loads(json.dumps(graded.ties_dict()))
    assert len(report["sparse_tiers"]) == 4 and len(report["threshold_moves"]) == 4


def test_few_customers_is_a_parameter():
    values = np.concatenate([[1000.0, 900.0], np.linspace(1, 50, 300)])
    graded = clv.grade(_frame(values), _quantile([0.005, 0.2, 0.2, 0.3, 0.295]))
    sparse = graded.sparse_tiers()
    assert sparse["tier"].to_list() == ["diamond"]
    assert sparse["reason"].to_list() == ["few_customers"] and sparse["customers"][0] == 2
    graded = clv.grade(_frame(values), graded.scheme, min_tier_customers=1, min_tier_share=0.0)
    assert graded.sparse_tiers().height == 0


def test_indistinguishable_block_moves_out_of_the_bootstrap_interval():
    # a dense run of near-equal scores (a thousandth apart) under the bottom cut
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.lognormal(4, 1, 600), 5.0 + np.arange(1400) * 1e-4])
    scheme = clv.load_scheme()
    graded = clv.grade(_frame(values), scheme, n_bootstrap=60, seed=1)
    s = graded.stability
    lower, upper = s.lower[-1], s.upper[-1]
    assert upper - lower <= 0.05 * s.thresholds[-1]  # narrow: scores inside are one block
    move = next(m for m in graded.threshold_moves if m.tier == "silver")
    assert move.reason == "indistinguishable_block" and move.side in ("above", "below")
    assert (move.interval_low, move.interval_high) == (lower, upper)
    c = graded.customers
    inside = c.filter(pl.col("clv").is_between(lower, upper))
    assert inside.height == move.block_customers > 1
    assert inside["tier"].n_unique() == 1
    # the cut is the lowest score of the block (block above) or just above the interval
    assert move.final == move.block_low if move.side == "above" else move.final > upper
    # the same resamples without the rule split the interval's customers
    plain = clv.grade(_frame(values), scheme, n_bootstrap=60, seed=1, indistinct_within=None)
    assert plain.customers.filter(pl.col("clv").is_between(lower, upper))["tier"].n_unique() == 2
    assert all(m.reason == "tie_block" for m in plain.threshold_moves)
    # and a wide interval moves nothing
    wide = clv.grade(_frame(values), scheme, n_bootstrap=60, seed=1, indistinct_within=1e-6)
    assert all(m.reason == "tie_block" for m in wide.threshold_moves)


# --- the CDNOW sample: one-time buyers at the Silver threshold -----------------------


@pytest.fixture(scope="module")
def cdnow_scores(cdnow_sample):
    summary = clv.summarize(cdnow_sample, freq="D", time_unit="W", observation_end="1998-06-30")
    purchase = clv.fit_purchase_model(summary)
    spend = clv.fit_spend_model(summary)
    return clv.score(summary, purchase, spend, horizon_days=365, discount_rate_annual=0.10)


def _one_time_split(customers: pl.DataFrame, ranks: np.ndarray) -> int:
    """One-time buyers outside the tier that holds most of them."""
    one = ranks[customers["frequency"].to_numpy() == 0]
    return int(one.size - np.bincount(one).max())


def test_cdnow_one_time_buyers_at_the_silver_threshold(cdnow_scores):
    one_time = int((cdnow_scores["frequency"] == 0).sum())
    assert (cdnow_scores.height, one_time) == (2357, 1218)
    point = clv.grade(cdnow_scores)
    boot = clv.grade(cdnow_scores, n_bootstrap=200)
    for graded in (point, boot):
        assert _one_tier_per_score(graded)
        assert graded.sparse_tiers().height == 0
        json.dumps(graded.ties_dict())
    # before: the grounded Silver cut sits inside a block of equal CLV
    values = cdnow_scores["clv"].to_numpy()
    before = _one_time_split(cdnow_scores, assign_ranks(values, point.grounded_thresholds))
    (tie,) = point.threshold_moves
    assert tie.tier == "silver" and tie.reason == "tie_block" and tie.block_customers > 1
    # with the bootstrap, every customer inside the Silver interval shares a tier
    (move,) = boot.threshold_moves
    assert move.tier == "silver" and move.reason == "indistinguishable_block"
    inside = boot.customers.filter(pl.col("clv").is_between(move.interval_low, move.interval_high))
    assert inside.height == move.block_customers and inside["tier"].n_unique() == 1
    after = _one_time_split(boot.customers, boot.customers["tier_rank"].to_numpy())
    assert after < before
    # the other thresholds' intervals are wide and keep their grounded cuts
    np.testing.assert_array_equal(boot.thresholds[:3], boot.grounded_thresholds[:3])
    assert boot.stability.unstable_share < 0.12


def test_the_report_says_where_ties_moved_a_threshold_and_why_a_tier_is_empty():
    from clv import narrative

    graded = clv.grade(_frame(np.full(40, 12.3)))
    en = narrative.ties(graded, "en")
    assert en.count("is empty") == 4 and "equal or indistinguishable values" in en
    zh = narrative.ties(graded, "zh")
    assert zh.count("没有客户") == 4
    top = np.arange(100, 0, -1, dtype=float)
    values = np.concatenate([top, np.full(60, 0.5), np.linspace(0.4, 0.01, 40)])
    moved = clv.grade(_frame(values), _quantile([0.1, 0.2, 0.15, 0.15, 0.4]))
    text = narrative.ties(moved, "en")
    assert "moved from 0.50 to 1.00: 60 customers share the same predicted value" in text
    untouched = clv.grade(_frame(np.linspace(1, 100, 300)))
    assert narrative.ties(untouched, "en") == ""
