"""Back-test on CDNOW: calibration to 1997-09-30, holdout to 1998-06-30."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest
from scipy import stats

import clv
from clv import narrative
from clv.backtest import (
    calibration_table,
    compare_rankings,
    dunn_test,
    ranking_metrics,
    rfm_score,
)
from clv.models import fit_purchase_model_with_fallback


@pytest.fixture(scope="module")
def result(cdnow_sample):
    return clv.backtest(cdnow_sample, calibration_end="1997-09-30", observation_end="1998-06-30")


def test_clv_ranking_beats_past_spend_on_cdnow(result):
    r = {row["ranking"]: row for row in result.rankings.iter_rows(named=True)}
    clv_row, spend, rfm = r["clv"], r["past_spend"], r["rfm"]
    assert clv_row["top_customers"] == 472  # 20 % of 2,357, rounded up
    # measured on this data: CLV top 20 % captures 66.29 % of holdout value against
    # 66.26 % for past spend, and misses 44.9 % of the true top against 50.2 %
    assert clv_row["capture"] >= spend["capture"]
    assert clv_row["missed"] <= spend["missed"]
    assert clv_row["capture"] == pytest.approx(0.6629, abs=0.0005)
    assert clv_row["missed"] == pytest.approx(0.4492, abs=0.0005)
    assert spend["missed"] == pytest.approx(0.5021, abs=0.0005)
    assert clv_row["spearman"] > spend["spearman"]
    assert 0 < rfm["capture"] < 1


def test_tiers_rank_holdout_value_and_violations_are_reported(result):
    tiers = result.tiers
    assert tiers["customers"].sum() == 2357
    assert tiers["holdout_value_share"].sum() == pytest.approx(1.0)
    means = tiers["holdout_value_mean"].to_list()
    # the top three tiers are in order; Silver (one-time buyers) and Regular are not
    assert means[0] > means[1] > means[2] > means[3]
    expected = [
        f"{tiers['tier_name'][i + 1]} above {tiers['tier_name'][i]} in mean holdout value"
        for i in range(4)
        if means[i + 1] > means[i]
    ]
    assert [v for v in result.rank_violations if "value" in v] == expected
    assert result.kruskal_pvalue < 1e-10
    assert "Kruskal-Wallis" in result.summary()


def test_no_purchase_forecast_is_calibrated(result):
    table = result.no_purchase_calibration
    assert table["customers"].sum() == 2357
    observed = (result.customers["frequency_holdout"] == 0).mean()
    predicted = result.customers["p_no_purchase"].mean()
    assert predicted == pytest.approx(observed, abs=0.03)
    assert result.brier_no_purchase < 0.2
    # P(alive) alone is no forecast of buying nothing: its Brier score is far worse
    assert result.brier_churn > 2 * result.brier_no_purchase
    slope = result.glm_calibration.params[1]
    assert 0.8 < slope < 1.25


def test_independence_check_is_surfaced(result):
    assert result.independence.n_customers == 946


def test_ranking_metrics_by_hand():
    frame = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e"],
            "good": [5.0, 4.0, 3.0, 2.0, 1.0],
            "bad": [1.0, 2.0, 3.0, 4.0, 5.0],
            "outcome": [50.0, 30.0, 10.0, 5.0, 5.0],
        }
    )
    m = ranking_metrics(frame, {"good": "good", "bad": "bad"}, "outcome", top_share=0.4)
    good, bad = m.row(0, named=True), m.row(1, named=True)
    assert good["top_customers"] == 2
    assert good["capture"] == pytest.approx(0.8) and good["missed"] == 0.0
    assert bad["capture"] == pytest.approx(0.1) and bad["missed"] == 1.0
    assert bad["wrongly_promoted"] == pytest.approx(2 / 3)
    assert good["spearman"] == pytest.approx(
        stats.spearmanr([5, 4, 3, 2, 1], [50, 30, 10, 5, 5])[0]
    )


def test_rfm_score_by_hand():
    summary = pl.DataFrame(
        {
            "frequency": [0, 1, 2, 3],
            "recency": [0.0, 5.0, 9.0, 10.0],
            "T": [10.0, 10.0, 10.0, 10.0],
            "revenue": [1.0, 2.0, 3.0, 4.0],
        }
    )
    # each customer is one quartile higher than the last on R, F and M
    assert rfm_score(summary).to_list() == [3, 6, 9, 12]


def test_calibration_table_bins():
    table = calibration_table(np.array([0.05, 0.05, 0.95, 0.95]), np.array([0, 0, 1, 0]))
    assert table["range"].to_list() == ["0.0-0.1", "0.9-1.0"]
    assert table["observed_rate"].to_list() == [0.0, 0.5]


def test_dunn_test_detects_a_shifted_group():
    rng = np.random.default_rng(1)
    values = np.concatenate(
        [rng.exponential(1, 200), rng.exponential(1, 200), rng.exponential(5, 200)]
    )
    groups = np.repeat([1, 2, 3], 200)
    result = dunn_test(values, groups).sort("group_a", "group_b")
    p = dict(
        zip(zip(result["group_a"], result["group_b"], strict=True), result["p_holm"], strict=True)
    )
    assert p[(1, 2)] > 0.05
    assert p[(1, 3)] < 1e-6 and p[(2, 3)] < 1e-6
    assert (result["p_holm"] >= result["p"]).all()


def test_an_empty_calibration_window_is_an_error():
    tx = clv.datasets.cdnow(sample=True)
    with pytest.raises(ValueError, match="calibration window is empty"):
        clv.backtest(tx, calibration_end="1996-01-01", observation_end="1997-06-30")


def _customers(n: int, rng: np.random.Generator, **columns: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({"customer_id": [f"c{i:05d}" for i in range(n)], **columns})


def _holdout_value(n: int, rng: np.random.Generator) -> np.ndarray:
    """Most customers buy nothing; the buyers' value is skewed, as in a holdout."""
    return np.where(rng.random(n) < 0.4, rng.lognormal(3, 1, n), 0.0)


def test_comparison_values_are_the_ranking_metrics():
    rng = np.random.default_rng(3)
    n = 257
    y = np.round(_holdout_value(n, rng), -1)  # ties in the outcome, zeros above all
    frame = _customers(
        n,
        rng,
        a=np.round(np.log1p(y) + rng.normal(0, 1, n)),  # heavy ties in the rankings
        b=rng.integers(3, 13, n).astype(float),
        y=y,
    )
    rankings = {"a": "a", "b": "b"}
    metrics = {r["ranking"]: r for r in ranking_metrics(frame, rankings, "y").iter_rows(named=True)}
    comparisons = compare_rankings(frame, rankings, "y", n_bootstrap=50)
    assert comparisons.height == 4
    for row in comparisons.iter_rows(named=True):
        a, b = metrics["a"][row["metric"]], metrics["b"][row["metric"]]
        assert row["ranking_value"] == pytest.approx(a, abs=1e-12)
        assert row["baseline_value"] == pytest.approx(b, abs=1e-12)
        assert row["difference"] == pytest.approx(a - b, abs=1e-12)
        assert row["lower"] <= row["upper"]
        assert row["level"] == 0.95 and row["resamples"] == 50


def test_identical_rankings_tie_on_every_metric():
    rng = np.random.default_rng(4)
    n = 300
    y = _holdout_value(n, rng)
    score = np.round(np.log1p(y) + rng.normal(0, 1, n), 1)
    frame = _customers(n, rng, a=score, b=score.copy(), y=y)
    comparisons = compare_rankings(frame, {"a": "a", "b": "b"}, "y", n_bootstrap=200)
    assert comparisons["metric"].to_list() == ["capture", "missed", "wrongly_promoted", "spearman"]
    assert (comparisons["difference"] == 0).all()
    assert (comparisons["lower"] == 0).all() and (comparisons["upper"] == 0).all()
    assert set(comparisons["better"]) == {"tie"}


def test_the_truth_beats_a_random_ranking():
    rng = np.random.default_rng(5)
    n = 400
    y = _holdout_value(n, rng)
    frame = _customers(n, rng, truth=y, noise=rng.random(n), y=y)
    rankings = {"truth": "truth", "noise": "noise"}
    ahead = compare_rankings(frame, rankings, "y", n_bootstrap=200, seed=1)
    assert set(ahead["better"]) == {"ranking"}
    higher = ahead.filter(pl.col("higher_is_better"))
    lower = ahead.filter(~pl.col("higher_is_better"))
    assert (higher["lower"] > 0).all() and (lower["upper"] < 0).all()
    behind = compare_rankings(frame, rankings, "y", pairs=[("noise", "truth")], n_bootstrap=200)
    assert set(behind["better"]) == {"baseline"}


def test_same_seed_same_intervals():
    rng = np.random.default_rng(6)
    n = 200
    y = _holdout_value(n, rng)
    frame = _customers(n, rng, a=y + rng.normal(0, 20, n), b=rng.random(n), y=y)
    first = compare_rankings(frame, {"a": "a", "b": "b"}, "y", n_bootstrap=100, seed=11)
    again = compare_rankings(frame, {"a": "a", "b": "b"}, "y", n_bootstrap=100, seed=11)
    assert first.equals(again)
    with pytest.raises(ValueError, match="alpha"):
        compare_rankings(frame, {"a": "a", "b": "b"}, "y", alpha=1.5)


@pytest.mark.parametrize("noise_b", [1.5, 3.0], ids=["equal rankings", "a ranks better"])
def test_intervals_cover_the_population_difference(noise_b):
    """Seeded simulation: 100 samples of 300 customers; the 95 % intervals
    should hold the population difference about 95 % of the time. With equal
    noise the population difference is 0; otherwise it is measured on 200,000
    customers."""

    def sample(rng, n):
        y = _holdout_value(n, rng)
        signal = np.log1p(y)
        a = signal + rng.normal(0, 1.5, n)
        return _customers(n, rng, a=a, b=signal + rng.normal(0, noise_b, n), y=y)

    rankings = {"a": "a", "b": "b"}
    if noise_b == 1.5:
        truth = dict.fromkeys(["capture", "missed", "wrongly_promoted", "spearman"], 0.0)
    else:
        big = compare_rankings(
            sample(np.random.default_rng(0), 200_000), rankings, "y", n_bootstrap=1
        )
        truth = dict(zip(big["metric"], big["difference"], strict=True))
        assert truth["spearman"] > 0.05 and truth["capture"] > 0.05
    rng = np.random.default_rng(7)
    covered = {m: 0 for m in truth}
    reps = 100
    for rep in range(reps):
        c = compare_rankings(sample(rng, 300), rankings, "y", n_bootstrap=200, seed=rep)
        for row in c.iter_rows(named=True):
            covered[row["metric"]] += row["lower"] <= truth[row["metric"]] <= row["upper"]
    for metric, hits in covered.items():
        assert 0.88 <= hits / reps <= 1.0, (metric, hits)


def test_comparisons_on_cdnow(result):
    rows = {
        (r["metric"], r["ranking"], r["baseline"]): r
        for r in result.comparisons.iter_rows(named=True)
    }
    assert len(rows) == 12  # 4 metrics x (clv - past spend, clv - RFM, past spend - RFM)
    # measured (500 resamples, seed 0): capture CLV - past spend +0.02 points (-3.3 to +4.0):
    # 66.29 % against 66.26 % is no difference at all
    capture = rows[("capture", "clv", "past_spend")]
    assert capture["difference"] == pytest.approx(0.0002, abs=0.0005)
    assert capture["lower"] < 0 < capture["upper"] and capture["better"] == "tie"
    # missed CLV - past spend -5.3 points (-8.9 to -3.2): CLV misses fewer of the true top
    missed = rows[("missed", "clv", "past_spend")]
    assert missed["upper"] < 0 and missed["better"] == "ranking"
    assert rows[("wrongly_promoted", "clv", "past_spend")]["better"] == "ranking"
    # Spearman CLV - RFM -0.028 (-0.054 to -0.002): RFM ranks holdout value better; the
    # interval's upper end is close to 0, so only "CLV is not ahead" is asserted.
    # Spearman CLV - past spend +0.033 (-0.005 to +0.069) flips with the seed: not asserted.
    spearman = rows[("spearman", "clv", "rfm")]
    assert spearman["difference"] < 0 and spearman["better"] != "ranking"
    # past spend - RFM -0.062 (-0.081 to -0.044): RFM clearly ranks better than past spend
    assert rows[("spearman", "past_spend", "rfm")]["better"] == "baseline"
    assert "differences between rankings" in result.summary()


_BETTER_WORDS = {
    "en": ("better", "ahead", "fewer", "more of"),
    "zh": ("更优", "优于", "较差", "更多", "更少", "更高", "占优"),
}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_narrative_never_calls_a_tie_better(result, lang):
    rng = np.random.default_rng(8)
    n = 300
    y = _holdout_value(n, rng)
    score = np.log1p(y) + rng.normal(0, 1, n)
    frame = _customers(n, rng, clv=score, revenue=score, rfm_score=score, y=y)
    rankings = {"clv": "clv", "past_spend": "revenue", "rfm": "rfm_score"}
    tied = dataclasses.replace(
        result,
        rankings=ranking_metrics(frame, rankings, "y"),
        comparisons=compare_rankings(frame, rankings, "y", n_bootstrap=100),
    )
    assert set(tied.comparisons["better"]) == {"tie"}
    for text in (narrative.backtest(tied, lang), narrative.backtest_statistics(tied, lang)):
        for word in _BETTER_WORDS[lang]:
            assert word not in text
    text = narrative.backtest(tied, lang)
    no_difference = "No clear difference in the" if lang == "en" else "无明显差异"
    items = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(items) == 8  # 4 metrics against past spend and against RFM
    assert all(no_difference in item for item in items)
    assert ("any of the 4 measures" if lang == "en" else "均无明显差异") in text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_narrative_lists_every_metric_with_its_verdict(result, lang):
    text = narrative.backtest(result, lang)
    items = [line[2:] for line in text.splitlines() if line.startswith("- ")]
    clv_rows = result.comparisons.filter(pl.col("ranking") == "clv").to_dicts()
    clv_rows.sort(key=lambda row: row["baseline"] != "past_spend")  # past spend first, stable
    assert len(items) == len(clv_rows) == 8
    for item, row in zip(items, clv_rows, strict=True):
        tie = "No clear difference" in item or "无明显差异" in item
        assert tie == (row["better"] == "tie"), item
        if not tie:
            winner = {"clv": ("Predicted value", "预测价值"), "rfm": ("RFM score", "RFM 评分")}
            name = winner.get(row[row["better"]], ("Past spend", "历史消费"))
            assert (name[0] if lang == "en" else name[1]) in item
            assert not any(w in item for w in ("-", "无明显差异"))  # the lead shown as positive
    # the capture difference is shown in percentage points, the interval holding 0
    assert ("percentage points" if lang == "en" else "个百分点") in items[0]
    table = narrative.backtest_statistics(result, lang)
    assert table.count("\n| ") == 13  # header and 12 comparisons


# --------------------------------------------------------------------------- reuse


def test_a_given_calibration_fit_is_used_and_gives_the_same_result(cdnow_sample, result):
    """With the calibration split and its purchase fit passed in, the back-test
    fits nothing again and reaches the same result as fitting them itself."""
    window = {"calibration_end": "1997-09-30", "observation_end": "1998-06-30"}
    split = clv.calibration_holdout(cdnow_sample, **window, freq="D", time_unit="W")
    fitted, _ = fit_purchase_model_with_fallback(split, model="bgnbd")
    reused = clv.backtest(cdnow_sample, **window, calibration=split, purchase_model=fitted)
    assert reused.purchase_model is fitted  # used as given, not fitted again
    assert reused.purchase_model.params == result.purchase_model.params
    assert reused.customers.equals(result.customers)
    assert reused.rankings.equals(result.rankings)
    assert reused.comparisons.equals(result.comparisons)


def test_a_calibration_or_fit_of_other_data_is_refused(cdnow_sample):
    window = {"calibration_end": "1997-09-30", "observation_end": "1998-06-30"}
    split = clv.calibration_holdout(cdnow_sample, **window, freq="D", time_unit="W")
    other = clv.calibration_holdout(
        cdnow_sample, calibration_end="1997-06-30", observation_end="1998-06-30", time_unit="W"
    )
    with pytest.raises(ValueError, match="holdout lasts"):
        clv.backtest(cdnow_sample, **window, calibration=other)
    with pytest.raises(ValueError, match="time unit"):
        clv.backtest(cdnow_sample, **window, calibration=split, time_unit="D")
    with pytest.raises(ValueError, match="lacks"):
        clv.backtest(cdnow_sample, **window, calibration=split.drop("revenue_holdout"))
    fitted_elsewhere, _ = fit_purchase_model_with_fallback(other.head(500), model="bgnbd")
    with pytest.raises(ValueError, match="fitted on 500 customers"):
        clv.backtest(cdnow_sample, **window, calibration=split, purchase_model=fitted_elsewhere)
