"""Count-only logs (no amount column): loading with ``amount=None``, summaries
without spend columns, purchase-only scores and grading on expected purchases."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import clv
from clv.datasets import cdnow_path

AS_OF = "1998-06-30"
CAL = dict(calibration_end="1997-09-30", observation_end="1998-06-30")


@pytest.fixture(scope="module")
def cdnow_counts_csv(tmp_path_factory):
    """The CDNOW sample with its amount column dropped, as a CSV file."""
    path = tmp_path_factory.mktemp("count_only") / "cdnow_counts.csv"
    pl.read_csv(cdnow_path(), infer_schema=False).drop("amount").write_csv(path)
    return path


@pytest.fixture(scope="module")
def counts_log(cdnow_counts_csv):
    return clv.load_transactions(cdnow_counts_csv, amount=None, as_of=AS_OF)


# --------------------------------------------------------------------------- loading


def test_count_only_log_loads_without_amounts(counts_log, cdnow_sample):
    assert counts_log.data.columns == ["customer_id", "date", "quantity"]
    assert not counts_log.has_amounts and cdnow_sample.has_amounts
    q = counts_log.quality
    assert q.has_amounts is False
    assert q.zero_amount_rows == 0
    assert any("no amounts" in n for n in q.notes)
    assert q.rows_read == q.rows_kept == cdnow_sample.quality.rows_read
    assert_frame_equal(counts_log.data, cdnow_sample.data.drop("amount"))
    assert "has_amounts" in str(q) and "no" in str(q).split("has_amounts")[1].split("\n")[0]


def test_a_missing_amount_column_is_not_taken_for_a_count_only_log(cdnow_counts_csv):
    with pytest.raises(clv.TransactionDataError) as info:
        clv.load_transactions(cdnow_counts_csv, as_of=AS_OF)
    assert "no amount column 'amount'" in str(info.value)
    assert "pass amount=None to grade on purchases only" in str(info.value)
    assert "to grade on purchases only" in str(info.value)


def test_duplicates_of_a_count_only_log_are_found_on_customer_date_quantity(tmp_path):
    path = tmp_path / "tx.csv"
    path.write_text(
        "customer_id,date,quantity\n"
        "a,2020-01-01,1\n"
        "a,2020-01-01,1\n"
        "a,2020-01-01,2\n"
        "b,2020-01-02,1\n",
        encoding="utf-8",
    )
    tx = clv.load_transactions(path, amount=None, duplicates="drop", as_of="2021-01-01")
    assert tx.quality.duplicate_rows == tx.quality.duplicate_rows_dropped == 1
    assert tx.quality.near_duplicate_rows == 1  # (a, 2020-01-01, 2)
    assert tx.data.height == 3


def test_amount_checks_are_skipped_and_an_amount_column_is_ignored_with_a_note(tmp_path):
    path = tmp_path / "tx.csv"
    # amounts that would be refused (thousands separators, negative) are not read
    path.write_text(
        'customer_id,date,amount\na,2020-01-01,"1,000"\nb,2020-01-02,-5\n', encoding="utf-8"
    )
    tx = clv.load_transactions(path, amount=None, as_of="2021-01-01")
    assert tx.data.columns == ["customer_id", "date"]
    assert any("column 'amount' was ignored" in n for n in tx.quality.notes)
    with pytest.raises(ValueError, match="margin"):
        clv.load_transactions(path, amount=None, margin="amount", as_of="2021-01-01")


# --------------------------------------------------------------------------- summaries


def test_summaries_equal_those_of_the_log_with_amounts(counts_log, cdnow_sample):
    spend = ["monetary_value", "revenue"]
    with_amounts = clv.summarize(cdnow_sample, freq="D", time_unit="W", observation_end=AS_OF)
    counts = clv.summarize(counts_log, freq="D", time_unit="W", observation_end=AS_OF)
    assert not set(spend) & set(counts.columns)
    assert_frame_equal(counts, with_amounts.drop(spend))

    split = clv.calibration_holdout(cdnow_sample, freq="D", time_unit="W", **CAL)
    split_counts = clv.calibration_holdout(counts_log, freq="D", time_unit="W", **CAL)
    dropped = [c for c in split.columns if c.startswith(("monetary_value", "revenue"))]
    assert len(dropped) == 4
    assert_frame_equal(split_counts, split.drop(dropped))

    assert clv.window_counts(counts_log, **CAL) == clv.window_counts(cdnow_sample, **CAL)
    assert_frame_equal(clv.compress(counts), clv.compress(with_amounts))


# --------------------------------------------------------------------------- scores


@pytest.fixture(scope="module")
def count_scores(counts_log):
    summary = clv.summarize(counts_log, freq="D", time_unit="W", observation_end="1997-09-30")
    model = clv.fit_purchase_model(summary, "bgnbd")
    return summary, model, clv.score(summary, model)


PURCHASE_COLUMNS = ["expected_purchases", "p_alive", "churn_probability", "p_active"]


def test_scores_of_a_count_only_summary_are_the_purchase_columns(count_scores, cdnow_sample):
    _, model, scores = count_scores
    assert "clv" not in scores.columns and "expected_order_value" not in scores.columns
    assert set(PURCHASE_COLUMNS) <= set(scores.columns)
    # the same predictions as the log with amounts, fitted on the same histories
    full = clv.summarize(cdnow_sample, freq="D", time_unit="W", observation_end="1997-09-30")
    full_scores = clv.score(full, model)
    assert_frame_equal(scores.select(PURCHASE_COLUMNS), full_scores.select(PURCHASE_COLUMNS))
    # value=False on a log with amounts gives the same columns
    purchases_only = clv.score(full, model, value=False)
    assert_frame_equal(purchases_only.drop("monetary_value", "revenue"), scores)


def test_asking_for_clv_without_amounts_is_an_error(count_scores, cdnow_calibration):
    summary, model, _ = count_scores
    with pytest.raises(ValueError, match=r"no amounts .* spend model"):
        clv.score(summary, model, value=True)
    with pytest.raises(ValueError, match="no amounts"):
        clv.score(summary, model, margin=0.3)
    spend = clv.fit_spend_model(cdnow_calibration)
    with pytest.raises(ValueError, match="no amounts"):
        clv.score(summary, model, spend)
    with pytest.raises(ValueError, match="monetary_value"):
        clv.fit_spend_model(summary)
    with pytest.raises(ValueError, match="value=False"):
        clv.score(cdnow_calibration, model, spend, value=False)


# --------------------------------------------------------------------------- grading


@pytest.fixture(scope="module")
def simulated_scores():
    truth = dict(r=0.243, alpha=4.414, a=0.793, b=2.426)  # Fader, Hardie and Lee (2005), p. 281
    log = clv.simulate_transactions(2000, **truth, seed=7).drop("amount")
    tx = clv.load_transactions(log, amount=None, as_of="2030-01-01")
    summary = clv.summarize(tx, freq="D", time_unit="W")
    model = clv.fit_purchase_model(summary, "bgnbd")
    return clv.score(summary, model)


@pytest.mark.parametrize("scheme", ["five_card", None])
def test_grading_on_expected_purchases_ranks_customers_by_them(simulated_scores, scheme):
    kwargs = {} if scheme else {"value": "expected_purchases"}
    grading = clv.grade(simulated_scores, **kwargs)
    assert grading.graded_on == "expected_purchases" == grading.scheme.score
    c = grading.customers
    # a customer expecting more purchases is never in a lower tier
    order = np.argsort(-c["expected_purchases"].to_numpy(), kind="stable")
    ranks = c["tier_rank"].to_numpy()[order]
    assert np.all(np.diff(ranks) >= 0)
    assert ranks[0] == 1 and ranks[-1] == len(grading.scheme.tiers)

    table = grading.tier_table()
    assert "share_clv" not in table.columns
    assert table["share_customers"].sum() == pytest.approx(1.0)
    assert table["share_expected_purchases"].sum() == pytest.approx(1.0)
    assert table["customers"].sum() == c.height
    grid = grading.grid()
    assert grid["expected_purchases"].sum() == pytest.approx(c["expected_purchases"].sum())
    assert "purchase share" in grading.summary()


def test_bootstrap_and_ties_work_on_expected_purchases(simulated_scores):
    grading = clv.grade(simulated_scores, n_bootstrap=40, seed=1)
    s = grading.stability
    assert s is not None
    assert np.all(s.lower <= s.thresholds) and np.all(s.thresholds <= s.upper)
    # equal histories have equal expected purchases and never straddle a threshold
    c = grading.customers
    per_history = c.group_by("frequency", "recency", "T").agg(pl.col("tier_rank").n_unique())
    assert per_history["tier_rank"].max() == 1
    assert grading.ties_dict()["thresholds"] == [float(t) for t in grading.thresholds]


def test_grade_says_what_to_pass_without_clv_or_expected_purchases(simulated_scores):
    with pytest.raises(ValueError, match="value='<column>'"):
        clv.grade(simulated_scores.drop("expected_purchases"))
    with pytest.raises(ValueError, match="is not a column"):
        clv.grade(simulated_scores, value="clv")
    fixed = clv.load_scheme("five_card").with_grounding(
        "fixed", thresholds=[1000.0, 500.0, 100.0, 10.0]
    )
    with pytest.raises(ValueError, match="fixed thresholds"):
        clv.grade(simulated_scores, fixed)


# --------------------------------------------------------------------------- end to end


def test_cdnow_without_amounts_end_to_end(counts_log, cdnow_sample):
    split = clv.calibration_holdout(counts_log, freq="D", time_unit="W", **CAL)
    split = split.rename({c: c.removesuffix("_cal") for c in split.columns})
    model = clv.fit_purchase_model(split, "bgnbd")
    scores = clv.score(split, model, horizon_days=39 * 7)
    grading = clv.grade(scores, lang="zh")
    assert grading.graded_on == "expected_purchases"
    # the top tier, graded on expected purchases, buys more in the holdout per
    # customer than the bottom tier
    per_tier = grading.customers.group_by("tier_rank").agg(
        pl.col("frequency_holdout").mean().alias("holdout")
    )
    holdout = dict(per_tier.iter_rows())
    assert holdout[1] > holdout[max(holdout)]
    # the same purchase predictions as the log with amounts
    full = clv.calibration_holdout(cdnow_sample, freq="D", time_unit="W", **CAL)
    full_scores = clv.score(full, clv.fit_purchase_model(full, "bgnbd"), horizon_days=39 * 7)
    np.testing.assert_allclose(
        scores["expected_purchases"].to_numpy(),
        full_scores["expected_purchases"].to_numpy(),
        rtol=1e-6,
    )


# --------------------------------------------------------------------------- back-test


def test_backtest_of_a_count_only_log_ranks_purchases(counts_log):
    result = clv.backtest(counts_log, freq="D", time_unit="W", n_bootstrap=50, **CAL)
    assert result.graded_on == "expected_purchases" and result.counts_only
    assert result.spend_model is None
    assert result.rankings["ranking"].to_list() == ["expected_purchases", "past_purchases", "rfm"]
    assert "holdout_value_mean" not in result.tiers.columns
    assert result.tiers["holdout_purchases_share"].sum() == pytest.approx(1.0)
    # the rfm score without amounts is recency + frequency quartiles: 2 to 8
    assert result.customers["rfm_score"].min() >= 2 and result.customers["rfm_score"].max() <= 8
    # capture of the expected-purchase ranking, computed here from its definition
    c = result.customers.sort(["expected_purchases", "customer_id"], descending=[True, False])
    k = result.rankings["top_customers"][0]
    capture = c["frequency_holdout"].head(k).sum() / c["frequency_holdout"].sum()
    assert result.rankings["capture"][0] == pytest.approx(capture)
    assert "holdout value unavailable" in result.summary()
