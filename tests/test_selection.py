"""Choosing the purchase model by evidence; the conditional count distribution."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

import clv
from clv import selection
from clv.models import ModelFitError, PurchaseModelResults
from clv.selection import REASONS, select_purchase_model, simulate_histories

MODELS = ("bgnbd", "mbgnbd", "pareto_nbd")
TRUTH = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "mbgnbd": {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614},
    "pareto_nbd": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
}


@pytest.fixture(scope="module")
def cdnow_full(cdnow_sample) -> pl.DataFrame:
    return clv.summarize(cdnow_sample, freq="D", time_unit="W", observation_end="1998-06-30")


@pytest.fixture(scope="module")
def cdnow_split(cdnow_sample) -> pl.DataFrame:
    return clv.calibration_holdout(
        cdnow_sample,
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
        freq="D",
        time_unit="W",
    )


# --- P(X(T, T + t] = n | history) ----------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_conditional_count_distribution_is_consistent(cdnow_calibration, model):
    fit = clv.fit_purchase_model(cdnow_calibration, model)
    triples = cdnow_calibration.select("frequency", "recency", "T").unique()
    x, t_x, T = (triples[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    counts = np.arange(120)
    pmf = np.stack([fit.prob_n_purchases(n, 39.0, x, t_x, T) for n in counts])
    np.testing.assert_allclose(pmf.sum(axis=0), 1.0, atol=1e-10)
    # its mean is the model's conditional expectation (lifetimes' formula)
    np.testing.assert_allclose(
        (counts[:, None] * pmf).sum(axis=0), fit.expected_purchases(39.0, x, t_x, T), rtol=1e-8
    )
    np.testing.assert_allclose(pmf[0], fit.prob_no_purchase(39.0, x, t_x, T), atol=1e-12)
    # per-customer counts and logs
    n = np.minimum(x, 5)
    np.testing.assert_allclose(
        fit.prob_n_purchases(n, 39.0, x, t_x, T, log=True),
        np.log(pmf[n.astype(int), np.arange(x.size)]),
        rtol=1e-10,
    )


def test_pareto_count_distribution_matches_fader_hardie_closed_form(cdnow_calibration):
    # lifetimes implements Fader and Hardie's note 028, equation (16)
    fit = clv.fit_purchase_model(cdnow_calibration, "pareto_nbd")
    x = np.array([0.0, 1.0, 2.0, 5.0, 10.0])
    t_x = np.array([0.0, 20.0, 30.0, 35.0, 38.0])
    T = np.full(5, 39.0)
    for n in range(4):
        ours = fit.prob_n_purchases(n, 39.0, x, t_x, T)
        theirs = fit._fitter.conditional_probability_of_n_purchases_up_to_time(n, 39.0, x, t_x, T)
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("model", MODELS)
def test_conditional_count_distribution_matches_simulated_holdout_counts(model):
    # with the true parameters, the predicted share of customers with n holdout
    # purchases equals the simulated share
    sim = simulate_histories(model, 30_000, TRUTH[model], resolution=1 / 7, seed=11)
    truth = PurchaseModelResults.from_params(model, TRUTH[model])
    x, t_x, T = (sim[c].to_numpy().astype(float) for c in ("frequency_cal", "recency_cal", "T_cal"))
    actual = sim["frequency_holdout"].to_numpy()
    for n in range(4):
        predicted = truth.prob_n_purchases(n, 39.0, x, t_x, T).mean()
        assert predicted == pytest.approx((actual == n).mean(), abs=0.01), n


def test_count_distribution_rejects_bad_counts(cdnow_calibration):
    fit = clv.fit_purchase_model(cdnow_calibration, "bgnbd")
    with pytest.raises(ValueError, match="whole number"):
        fit.prob_n_purchases(1.5, 39.0, 0.0, 0.0, 39.0)
    with pytest.raises(ValueError, match="positive"):
        fit.prob_n_purchases(1, 0.0, 0.0, 0.0, 39.0)


def test_from_params_predicts_like_a_fit(cdnow_calibration):
    fit = clv.fit_purchase_model(cdnow_calibration, "mbgnbd")
    given = PurchaseModelResults.from_params("mbgnbd", fit.params)
    x, t_x, T = (
        cdnow_calibration[c].to_numpy().astype(float) for c in ("frequency", "recency", "T")
    )
    np.testing.assert_allclose(given.p_alive(x, t_x, T), fit.p_alive(x, t_x, T))
    np.testing.assert_allclose(
        given.expected_purchases(10.0, x, t_x, T), fit.expected_purchases(10.0, x, t_x, T)
    )
    assert np.isnan(given.loglik)
    with pytest.raises(ValueError, match="needs the parameters"):
        PurchaseModelResults.from_params("bgnbd", {"r": 1.0})


# --- the simulator ---------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_simulated_histories_are_coherent(model):
    sim = simulate_histories(model, 5_000, TRUTH[model], seed=1)
    assert (sim["frequency"] == sim["frequency_cal"] + sim["frequency_holdout"]).all()
    assert (sim["recency"] <= sim["T"]).all() and (sim["recency_cal"] <= sim["T_cal"]).all()
    assert (sim.filter(pl.col("frequency") == 0)["recency"] == 0).all()
    np.testing.assert_allclose(sim["T"] - sim["T_cal"], 39.0)
    # nobody comes back to life, and nobody dead buys in the holdout
    assert not (sim["alive"] & ~sim["alive_cal"]).any()
    assert (sim.filter(~pl.col("alive_cal"))["frequency_holdout"] == 0).all()
    once = sim.filter(pl.col("frequency_cal") == 0)
    if model == "bgnbd":
        assert once["alive_cal"].all()  # BG/NBD: no dropout before a repeat purchase
    else:
        assert not once["alive_cal"].all()
    if model == "mbgnbd":
        # dropout at the first purchase with probability E[p] = a / (a + b)
        dead_at_once = (sim["frequency"] == 0) & ~sim["alive"]
        share = TRUTH["mbgnbd"]["a"] / (TRUTH["mbgnbd"]["a"] + TRUTH["mbgnbd"]["b"])
        assert dead_at_once.mean() >= share - 0.02


def test_simulation_recovers_its_parameters():
    sim = simulate_histories("mbgnbd", 20_000, TRUTH["mbgnbd"], resolution=1 / 7, seed=2)
    fit = clv.fit_purchase_model(sim.select("frequency", "recency", "T", "time_unit"), "mbgnbd")
    ci = fit.conf_int(0.001)
    for name, lower, upper in ci.select("parameter", "lower", "upper").iter_rows():
        assert lower <= TRUTH["mbgnbd"][name] <= upper, name


# --- selection -------------------------------------------------------------------------


def test_selection_on_cdnow_by_holdout(cdnow_full, cdnow_split):
    chosen = select_purchase_model(cdnow_full, calibration=cdnow_split)
    table = chosen.table
    assert table["model"].to_list() == list(MODELS)
    assert table["chosen"].sum() == 1
    assert table.filter(pl.col("chosen"))["model"].item() == chosen.model
    assert chosen.reason in REASONS
    assert chosen.criterion == "loglik"
    assert (table["status"] == "fitted").all() and (table["holdout_status"] == "scored").all()
    assert (table["holdout_actual"] == cdnow_split["frequency_holdout"].sum()).all()
    # the chosen model is fitted on the full summary, and is the lowest BIC in the tie set
    assert chosen.results.n_customers == cdnow_full.height
    assert chosen.results.params == chosen.fits[chosen.model].params
    tie_set = table.filter(pl.col("in_tie_set"))
    assert chosen.model == tie_set.sort("bic")["model"][0]
    best = table.sort("holdout_loglik", descending=True)["model"][0]
    assert chosen.evidence["best_on_criterion"] == best
    # the bootstrap intervals are ordered and the best model's difference is 0
    for row in table.iter_rows(named=True):
        assert row["loss_diff_lower"] <= row["loss_diff"] <= row["loss_diff_upper"]
    assert table.filter(pl.col("model") == best)["loss_diff"].item() == 0.0
    # what it found on the sample: MBG/NBD, tied on the holdout, lowest BIC
    assert chosen.model == "mbgnbd" and chosen.reason == "holdout_tie_bic"
    data = chosen.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["model"] == chosen.model and len(data["table"]) == 3
    # holdout scores are the per-customer ones
    scores = selection.holdout_scores(chosen.calibration_fits["bgnbd"], cdnow_split)
    row = table.filter(pl.col("model") == "bgnbd").row(0, named=True)
    assert np.mean(scores["abs_error"]) == pytest.approx(row["holdout_mae"])
    assert np.sqrt(np.mean(scores["sq_error"])) == pytest.approx(row["holdout_rmse"])
    assert np.sum(scores["log_prob"]) == pytest.approx(row["holdout_loglik_total"])


def test_selection_without_holdout_is_by_bic(cdnow_full):
    chosen = select_purchase_model(cdnow_full)
    assert chosen.reason == "bic" and chosen.criterion is None
    assert chosen.model == chosen.table.sort("bic")["model"][0]
    assert "holdout_mae" not in chosen.table.columns
    assert chosen.table.filter(pl.col("chosen"))["delta_bic"].item() == 0.0


@pytest.mark.parametrize("criterion", ["rmse", "mae"])
def test_other_criteria(cdnow_full, cdnow_split, criterion):
    chosen = select_purchase_model(
        cdnow_full, calibration=cdnow_split, criterion=criterion, n_bootstrap=200
    )
    column = {"rmse": "holdout_rmse", "mae": "holdout_mae"}[criterion]
    assert chosen.evidence["best_on_criterion"] == chosen.table.sort(column)["model"][0]


def test_failed_model_stays_in_the_table(cdnow_full, cdnow_split, monkeypatch):
    real = selection.fit_purchase_model_with_fallback

    def failing(summary, model, **kwargs):
        if model == "pareto_nbd":
            raise ModelFitError("Pareto/NBD did not converge (test)")
        return real(summary, model, **kwargs)

    monkeypatch.setattr(selection, "fit_purchase_model_with_fallback", failing)
    chosen = select_purchase_model(cdnow_full, calibration=cdnow_split, n_bootstrap=200)
    row = chosen.table.filter(pl.col("model") == "pareto_nbd").row(0, named=True)
    assert row["status"] == "failed" and "did not converge" in row["error"]
    assert row["bic"] is None and not row["chosen"]
    assert chosen.model != "pareto_nbd"
    json.dumps(chosen.to_dict(), allow_nan=False)
    only = select_purchase_model(cdnow_full, models=("mbgnbd", "pareto_nbd"))
    assert only.model == "mbgnbd" and only.reason == "only_model"


def test_bad_arguments(cdnow_full, cdnow_split):
    with pytest.raises(ValueError, match="models"):
        select_purchase_model(cdnow_full, models=("nbd",))
    with pytest.raises(ValueError, match="criterion"):
        select_purchase_model(cdnow_full, criterion="auc")
    with pytest.raises(ValueError, match="calibration lacks"):
        select_purchase_model(cdnow_full, calibration=cdnow_full)


# In a longer run (2,000 customers on a day grid, 20 seeds per model) the holdout
# log-likelihood picked the generating model in 47 of 60 populations (BG/NBD
# 20/20, MBG/NBD 20/20, Pareto/NBD 7/20, where MBG/NBD was chosen: with these
# parameters the two are close) and had it in the tie set in 57 of 60; RMSE 46
# and 57 of 60, MAE 12 and 14 of 60, BIC alone 48 of 60. Here, seeds 0 to 2:
# 7 of 9 exact, 8 of 9 in the tie set (Pareto/NBD seed 1 is called MBG/NBD).
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def simulated_choices() -> dict[tuple[str, int], selection.ModelSelection]:
    choices = {}
    for model in MODELS:
        for seed in SEEDS:
            sim = simulate_histories(model, 2_000, TRUTH[model], resolution=1 / 7, seed=seed)
            full = sim.select("frequency", "recency", "T", "time_unit")
            cal = sim.select(
                "frequency_cal",
                "recency_cal",
                "T_cal",
                "frequency_holdout",
                "duration_holdout",
                "time_unit",
            )
            choices[model, seed] = select_purchase_model(full, calibration=cal, n_bootstrap=500)
    return choices


def test_selection_finds_the_generating_model(simulated_choices):
    exact = {key: s.model == key[0] for key, s in simulated_choices.items()}
    in_tie = {key: key[0] in s.evidence["tie_set"] for key, s in simulated_choices.items()}
    # BG/NBD and MBG/NBD populations: the generating model every time
    assert all(exact[m, seed] for m in ("bgnbd", "mbgnbd") for seed in SEEDS), exact
    # all populations: the generating model chosen, or tied with the best
    assert sum(exact[k] or in_tie[k] for k in exact) >= len(exact) - 1, (exact, in_tie)
    assert sum(exact.values()) >= 7, exact
