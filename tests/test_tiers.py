"""Tier schemes and grounding: validation, methods, stability, grid."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clv
from clv.tiers import assign_ranks, ground_thresholds


@pytest.fixture(scope="module")
def scores(cdnow_calibration):
    purchase = clv.fit_purchase_model(cdnow_calibration)
    return clv.score(cdnow_calibration, purchase, clv.fit_spend_model(cdnow_calibration))


def test_packaged_scheme_loads_with_both_languages():
    assert "five_card" in clv.available_schemes()
    scheme = clv.load_scheme("five_card")
    assert [t.zh for t in scheme.tiers] == ["钻石", "白金", "金", "银", "普通"]
    assert [t.en for t in scheme.tiers] == ["Diamond", "Platinum", "Gold", "Silver", "Regular"]
    assert scheme.method == "value_share"
    assert [b.id for b in scheme.bands] == ["active", "at_risk", "lost"]
    assert scheme.action("diamond", "at_risk", "zh") == "一周内高层致电并提供定制挽留方案"
    assert scheme.action("gold", "active") == scheme.tiers[2].playbook_en
    assert scheme.action("gold", "lost") == scheme.bands[2].playbook_en


def test_value_share_grounding_by_hand():
    values = np.array([50.0, 30.0, 10.0, 5.0, 5.0])  # total 100
    # top tier holds >= 50 %, next >= 30 %, last the rest
    thresholds = ground_thresholds(values, "value_share", {"shares": [0.5, 0.3, 0.2]}, 3)
    np.testing.assert_array_equal(thresholds, [50.0, 30.0])
    np.testing.assert_array_equal(assign_ranks(values, thresholds), [1, 2, 3, 3, 3])


def test_quantile_grounding_by_hand():
    values = np.arange(1.0, 11.0)  # 1 .. 10
    thresholds = ground_thresholds(values, "quantile", {"shares": [0.2, 0.3, 0.5]}, 3)
    np.testing.assert_array_equal(thresholds, [9.0, 6.0])
    ranks = assign_ranks(values, thresholds)
    assert np.bincount(ranks).tolist() == [0, 2, 3, 5]


def test_ties_at_a_threshold_go_to_the_higher_tier():
    np.testing.assert_array_equal(assign_ranks(np.array([10.0, 9.99, 5.0]), [10.0, 5.0]), [1, 2, 2])


def test_natural_breaks_finds_obvious_groups():
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [rng.normal(10, 1, 300), rng.normal(100, 5, 100), rng.normal(1000, 20, 20)]
    )
    thresholds = ground_thresholds(values, "natural_breaks", {"max_sample": 5000}, 3)
    ranks = assign_ranks(values, thresholds)
    assert np.bincount(ranks).tolist() == [0, 20, 100, 300]


def test_fixed_thresholds_express_hand_rules(scores):
    # "past spend of $100 or more is Gold" and so on, on the revenue column
    scheme = clv.load_scheme().with_grounding("fixed", thresholds=[500.0, 300.0, 100.0, 50.0])
    scheme = clv.tiers.Scheme(**{**scheme.__dict__, "score": "revenue"})
    graded = clv.grade(scores, scheme)
    gold = graded.customers.filter(pl.col("tier") == "gold")["revenue"]
    assert gold.min() >= 100.0 and gold.max() < 300.0
    assert graded.tier_table()["customers"].sum() == scores.height


def test_grading_results_on_cdnow(scores):
    graded = clv.grade(scores, "five_card")
    table = graded.tier_table()
    assert table["customers"].sum() == scores.height
    assert table["share_customers"].sum() == pytest.approx(1.0)
    assert table["share_clv"].sum() == pytest.approx(1.0)
    assert table["share_revenue"].sum() == pytest.approx(1.0)
    # value_share: the top tier holds at least its 40 % of predicted value, and
    # removing its lowest customer would drop it below
    top = graded.customers.filter(pl.col("tier_rank") == 1)["clv"]
    total = scores["clv"].sum()
    assert top.sum() / total >= 0.40
    assert (top.sum() - top.min()) / total < 0.40
    # few customers hold most predicted value (the Pareto view)
    assert table["share_customers"][0] < 0.10
    assert set(graded.customers["status"].unique()) <= {"graded", "provisional", "one_time", "lost"}
    one_time = graded.customers.filter(pl.col("status") == "one_time")
    assert (one_time["frequency"] == 0).all()
    assert "Diamond" in graded.summary()


def test_grid_counts_and_value_at_stake(scores):
    graded = clv.grade(scores, lang="zh")
    grid = graded.grid()
    assert grid.height == 15
    assert grid["customers"].sum() == scores.height
    assert grid["clv"].sum() == pytest.approx(scores["clv"].sum())
    at_risk = graded.customers.filter(pl.col("risk_band") == "at_risk")
    cell_total = grid.filter(pl.col("risk_band") == "at_risk")["clv"].sum()
    assert cell_total == pytest.approx(at_risk["clv"].sum())
    assert "流失风险" in grid["risk_band_name"].to_list()
    assert graded.customers["tier_name"].is_in(["钻石", "白金", "金", "银", "普通"]).all()


def test_provisional_status_for_new_customers(scores):
    scheme = clv.load_scheme()
    scheme = clv.tiers.Scheme(**{**scheme.__dict__, "provisional_days": 300.0})
    graded = clv.grade(scores, scheme)
    provisional = graded.customers.filter(pl.col("status") == "provisional")
    assert provisional.height > 0
    assert (provisional["T"] * 7 < 300).all()
    assert (graded.customers.filter(pl.col("status") != "provisional")["T"] * 7 >= 300).all()


def test_bootstrap_is_reproducible_and_brackets_thresholds(scores):
    one = clv.grade(scores, n_bootstrap=100, seed=3)
    two = clv.grade(scores, n_bootstrap=100, seed=3)
    other = clv.grade(scores, n_bootstrap=100, seed=4)
    np.testing.assert_array_equal(one.stability.lower, two.stability.lower)
    np.testing.assert_array_equal(one.stability.upper, two.stability.upper)
    assert one.customers.equals(two.customers)
    assert not np.array_equal(one.stability.lower, other.stability.lower)
    s = one.stability
    assert np.all(s.lower <= s.thresholds) and np.all(s.thresholds <= s.upper)
    assert 0 <= s.unstable_share <= 1
    assert s.table(one.scheme).height == 4


def test_fixed_thresholds_have_no_sampling_spread(scores):
    scheme = clv.load_scheme().with_grounding("fixed", thresholds=[200.0, 100.0, 50.0, 20.0])
    s = clv.grade(scores, scheme, n_bootstrap=20).stability
    np.testing.assert_array_equal(s.lower, s.upper)
    assert s.unstable_share == 0


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=6, max_size=200
    ),
    method=st.sampled_from(["value_share", "quantile", "natural_breaks", "fixed"]),
)
def test_tiers_are_monotone_in_the_score(values, method):
    v = np.array(values)
    config = {
        "value_share": {"shares": [0.5, 0.3, 0.2]},
        "quantile": {"shares": [0.2, 0.3, 0.5]},
        "natural_breaks": {"max_sample": 5000},
        "fixed": {"thresholds": [1000.0, 10.0]},
    }[method]
    try:
        thresholds = ground_thresholds(v, method, config, 3)
    except ValueError:
        return  # all-zero values or too few distinct values: refused with a message
    assert np.all(np.diff(thresholds) <= 0)
    ranks = assign_ranks(v, thresholds)
    order = np.argsort(-v, kind="stable")
    # walking down the scores, the tier rank never goes back up
    assert np.all(np.diff(ranks[order]) >= 0)


# --- scheme validation ---------------------------------------------------------------

GOOD = """
id = "t"
name_zh = "测试"
name_en = "Test"
[grounding]
method = "quantile"
shares = [0.2, 0.8]
[[tiers]]
id = "a"
rank = 1
zh = "甲"
en = "A"
playbook_en = "visit"
playbook_zh = "拜访"
[[tiers]]
id = "b"
rank = 2
zh = "乙"
en = "B"
playbook_en = "mail"
playbook_zh = "邮件"
[risk]
[[risk.bands]]
id = "ok"
zh = "正常"
en = "OK"
upper = 1.0
playbook_en = "keep"
playbook_zh = "保持"
"""


def _load(tmp_path, text):
    path = tmp_path / "scheme.toml"
    path.write_text(text, encoding="utf-8")
    return clv.load_scheme(path)


def test_user_scheme_file_loads(tmp_path):
    scheme = _load(tmp_path, GOOD)
    assert [t.id for t in scheme.tiers] == ["a", "b"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('method = "quantile"', 'method = "pareto"'), "grounding.method 'pareto' is unknown"),
        (("rank = 2", "rank = 3"), "tiers are out of order"),
        (("shares = [0.2, 0.8]", "shares = [0.2, 0.7]"), "sum to 0.9; they must sum to 1"),
        (("shares = [0.2, 0.8]", "shares = [1.0]"), "has 1 values for 2 tiers"),
        (('zh = "乙"\n', ""), "tiers[1].zh is missing"),
        (('name_en = "Test"\n', ""), "scheme.name_en is missing"),
        (("upper = 1.0", "upper = 0.9"), "must end at 1.0"),
        (('id = "b"', 'id = "a"'), "tier ids repeat"),
        (('en = "B"', 'en = "B"\ncolour = "red"'), "unknown key 'colour'"),
        (("upper = 1.0", 'upper = "high"'), "risk.bands[0].upper must be a number"),
    ],
)
def test_scheme_mistakes_are_explained(tmp_path, change, message):
    old, new = change
    assert old in GOOD
    with pytest.raises(clv.SchemeError) as err:
        _load(tmp_path, GOOD.replace(old, new, 1))
    assert message in str(err.value)


def test_fixed_thresholds_must_fall(tmp_path):
    text = GOOD.replace(
        'method = "quantile"\nshares = [0.2, 0.8]', "method = 'fixed'\nthresholds = [10.0, 20.0]"
    )
    with pytest.raises(clv.SchemeError) as err:
        _load(tmp_path, text)
    assert len(err.value.problems) == 2
    assert "has 2 values for 2 tiers" in str(err.value)
    assert "must fall strictly from the top tier down" in str(err.value)


def test_unknown_scheme_and_bad_toml(tmp_path):
    with pytest.raises(clv.SchemeError, match="packaged schemes: five_card"):
        clv.load_scheme("nope")
    with pytest.raises(clv.SchemeError, match="not valid TOML"):
        _load(tmp_path, "id = ")


def test_grade_needs_score_columns(cdnow_calibration):
    with pytest.raises(ValueError, match="lack the columns"):
        clv.grade(cdnow_calibration)


@pytest.mark.parametrize("method", ["value_share", "quantile"])
def test_sorted_bootstrap_equals_resampling_by_brute_force(method):
    from clv.tiers import _bootstrap_sorted

    rng = np.random.default_rng(0)
    values = np.round(rng.lognormal(2, 1.5, 3000), 1)  # ties included
    settings = (
        {"shares": [0.5, 0.3, 0.2]} if method == "value_share" else {"shares": [0.1, 0.3, 0.6]}
    )
    thresholds = ground_thresholds(values, method, settings, 3)
    ranks = assign_ranks(values, thresholds)
    draws = np.empty((40, 2))
    changed = _bootstrap_sorted(
        values, method, settings, thresholds, draws, np.random.default_rng(9)
    )
    # the same resamples, done the slow way: sort each one and compare every customer
    replay = np.random.default_rng(9)
    desc = values[np.argsort(-values, kind="stable")]
    expected_changed = np.zeros(values.size, dtype=np.int64)
    for b in range(40):
        sample = desc[replay.integers(0, values.size, size=values.size)]
        expected = ground_thresholds(sample, method, settings, 3)
        np.testing.assert_array_equal(draws[b], expected)
        expected_changed += assign_ranks(values, expected) != ranks
    np.testing.assert_array_equal(changed, expected_changed)
    assert expected_changed.sum() > 0
