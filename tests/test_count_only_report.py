"""The grading report's sections, exports, narrative and figures on a log
without amounts: graded on expected purchases, spend and CLV stated as
unavailable."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import polars as pl
import pytest

import clv
import clv.report
from clv import narrative, plots
from clv.datasets import cdnow_path
from clv.report import sections
from clv.report.config import RunConfig

AS_OF = "1998-06-30"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A count-only run on the CDNOW sample with its amount column dropped."""
    folder = tmp_path_factory.mktemp("count_only_run")
    path = folder / "cdnow_counts.csv"
    pl.read_csv(cdnow_path(), infer_schema=False).drop("amount").write_csv(path)
    config = RunConfig(
        data_path=str(path),
        period="1997-12",
        observation_end="1997-12-31",
        calibration_end="1997-09-30",
        model="bgnbd",
    )
    tx = clv.load_transactions(path, amount="", as_of=AS_OF)
    summary = clv.summarize(
        tx, freq=config.freq, time_unit=config.time_unit, observation_end=config.observation_end
    )
    counts = clv.window_counts(tx, observation_end=config.observation_end)
    fits = sections.fit_models(summary, config.model)
    scores = sections.score_customers(summary, fits.purchase, fits.spend, tx, config)
    grading = clv.grade(scores, config.scheme, n_bootstrap=20, seed=0)
    return config, tx, summary, counts, fits, scores, grading, folder


def test_amount_given_as_empty_text_reads_a_count_only_log(run):
    _, tx, summary, *_ = run
    assert not tx.has_amounts
    assert sections.count_only(summary)


def test_fit_and_score_without_a_spend_model(run):
    _, _, _, _, fits, scores, grading, _ = run
    assert fits.count_only and fits.spend is None and fits.spend_error is None
    assert fits.purchase is not None
    assert "clv" not in scores.columns and "expected_purchases" in scores.columns
    assert grading.graded_on == "expected_purchases"
    note = narrative.fit_outcome(fits, "en")
    assert "graded on expected purchases" in note and "no spend model" not in note
    assert "预期购买次数分级" in narrative.fit_outcome(fits, "zh")


def test_a_margin_without_amounts_is_refused(run):
    config, tx, summary, _, fits, *_ = run
    with pytest.raises(ValueError, match="no amounts"):
        sections.score_customers(
            summary, fits.purchase, None, tx, RunConfig(**{**config.__dict__, "margin": 0.3})
        )


def test_run_facts_say_what_is_unavailable(run):
    config, tx, summary, counts, *_ = run
    facts = dict(sections.run_facts(config, tx, summary, counts).rows())
    assert "zero-amount rows" not in facts and "currency" not in facts
    assert "graded on expected purchases" in facts["amounts"]
    assert "spend model are unavailable" in facts["amounts"]
    assert facts["graded on"] == "expected_purchases"
    assert facts["predicted value"].startswith("expected purchases over 365 days")
    assert "has_amounts" not in sections.quality_table(tx.quality)["item"].to_list()


def test_graded_table_and_exports(run):
    config, tx, summary, counts, fits, scores, grading, folder = run
    graded = sections.graded_table(grading)
    assert "expected_purchases" in graded.columns and "clv" not in graded.columns
    assert "monetary_value" not in graded.columns
    facts = sections.run_facts(config, tx, summary, counts)
    out = folder / "out"
    out.mkdir()
    clv.report.save_outputs(
        out, graded=graded, grading=grading, purchase=fits.purchase, spend=None, facts=facts
    )
    saved = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert saved["graded_on"] == "expected_purchases" and saved["amounts"] is False
    assert set(saved["unavailable"]) >= {"clv", "spend_model", "revenue_shares"}
    assert "graded on expected purchases" in saved["note"]
    assert saved["headline"]["predicted_clv_total"] is None
    assert saved["headline"]["expected_purchases_total"] == pytest.approx(
        float(scores["expected_purchases"].sum())
    )
    shares = [t["share_expected_purchases"] for t in saved["tiers"]]
    assert sum(shares) == pytest.approx(1.0)
    assert "graded on expected purchases" in (out / "models.txt").read_text(encoding="utf-8")
    assert pl.read_parquet(out / "graded_customers.parquet").height == summary.height


def test_narrative_and_figures_speak_of_expected_purchases(run):
    *_, grading, _ = run
    assert "expected purchases" in narrative.thresholds(grading, "en")
    assert "预期购买次数" in narrative.thresholds(grading, "zh")
    assert "Purchases at stake" in narrative.tiers(grading, "en")
    ax = plots.clv_histogram(
        grading.customers["expected_purchases"].to_numpy(),
        grading.thresholds,
        measure="expected_purchases",
        currency="CNY",
    )
    assert ax.get_xlabel() == "expected purchases over the horizon"
    assert "CNY" not in ax.get_xlabel()
    ax = plots.lorenz_curve(
        grading.customers["expected_purchases"].to_numpy(), measure="expected_purchases"
    )
    assert ax.get_ylabel() == "cumulative share of expected purchases"
    ax = plots.value_risk_heatmap(grading.grid(), value="expected_purchases", lang="zh")
    assert ax.get_title() == "按等级与流失风险的预期购买次数"
    ax = plots.tier_distribution(grading.tier_table())
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["share of customers", "share of expected purchases"]
    plt.close("all")


def test_backtest_narrative_ranks_purchases(run):
    _, tx, *_ = run
    result = clv.backtest(
        tx, calibration_end="1997-09-30", observation_end="1997-12-31", n_bootstrap=30
    )
    text = narrative.backtest(result, "en")
    assert "the log has no amounts" in text and "actual purchases" in text
    assert "按购买次数" in narrative.backtest(result, "zh")
    stats_text = narrative.backtest_statistics(result, "en")
    assert "holdout purchases" in stats_text and "holdout value" not in stats_text


def test_sections_that_read_amounts_say_they_are_unavailable(run):
    config, tx, _, _, _, _, grading, _ = run
    with pytest.raises(ValueError, match=r"no amounts .*value x loyalty grid.* unavailable"):
        sections.loyalty_table(tx, config.observation_end)
    with pytest.raises(ValueError, match="membership ladder"):
        sections.ladder_comparison(tx, grading, "ladder_five_card", config.observation_end)
    with pytest.raises(ValueError, match="spend thresholds"):
        sections.spend_thresholds_table(tx, grading, "ladder_five_card", config.observation_end)
