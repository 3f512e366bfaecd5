"""clv's own model engine against lifetimes, the reference engine.

Likelihoods must equal lifetimes' to rounding, the analytic gradients must
equal finite differences of the likelihoods, and fits and predictions of the
two engines must agree on CDNOW and on simulated data.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter

import clv
from clv import models
from clv.models import bgnbd, gamma_gamma, mbgnbd, pareto_nbd
from clv.models._histories import Histories
from clv.selection import simulate_histories

PURCHASE = ("bgnbd", "mbgnbd", "pareto_nbd")
FAMILY = {"bgnbd": bgnbd, "mbgnbd": mbgnbd, "pareto_nbd": pareto_nbd}
POINTS = {
    "bgnbd": ([0.243, 4.414, 0.793, 2.426], [2.0, 1.5, 3.0, 0.4], [0.05, 30.0, 0.2, 9.0]),
    "mbgnbd": ([0.525, 6.183, 0.891, 1.614], [2.0, 1.5, 3.0, 0.4], [0.05, 30.0, 0.2, 9.0]),
    "pareto_nbd": ([0.553, 10.578, 0.606, 11.669], [2.0, 1.5, 3.0, 0.4], [0.3, 5.0, 1.0, 5.0]),
}
TRUTH = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "mbgnbd": {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614},
    "pareto_nbd": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
}


def _triples(summary: pl.DataFrame) -> tuple[np.ndarray, ...]:
    return tuple(summary[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))


@pytest.fixture(scope="module")
def simulated() -> dict[str, pl.DataFrame]:
    """Calibration summaries simulated from each purchase model (daily grid, weeks)."""
    out = {}
    for seed, model in enumerate(PURCHASE):
        sim = simulate_histories(model, 3000, TRUTH[model], resolution=1 / 7, seed=100 + seed)
        out[model] = sim.select(
            pl.col("frequency_cal").alias("frequency"),
            pl.col("recency_cal").alias("recency"),
            pl.col("T_cal").alias("T"),
            "time_unit",
        )
    return out


def _lifetimes_total(model, params, x, t_x, T):
    """lifetimes' own total log-likelihood at ``params`` (natural scale)."""
    ones = np.ones_like(x)
    log_params = np.log(params)
    if model == "bgnbd":
        return -BetaGeoFitter._negative_log_likelihood(log_params, x, t_x, T, ones, 0.0) * x.size
    if model == "mbgnbd":
        nll = ModifiedBetaGeoFitter._negative_log_likelihood(log_params, x, t_x, T, ones, 0.0)
        return -nll * x.size
    return ParetoNBDFitter._conditional_log_likelihood(np.asarray(params), x, t_x, T)


# --- likelihoods equal lifetimes' ---------------------------------------------------


@pytest.mark.parametrize("model", PURCHASE)
@pytest.mark.parametrize("data", ["cdnow", "simulated"])
def test_purchase_likelihoods_equal_lifetimes(cdnow_calibration, simulated, model, data):
    summary = cdnow_calibration if data == "cdnow" else simulated[model]
    x, t_x, T = _triples(summary)
    h = Histories.build(x, t_x, T)
    family = FAMILY[model]
    for params in POINTS[model]:
        p = np.array(params)
        theirs = _lifetimes_total(model, p, x, t_x, T)
        total, _ = family.value_and_gradient(np.log(p), h)
        grouped = family.loglik_grouped(p, h)
        if model == "pareto_nbd":
            # lifetimes' Pareto/NBD gives NaN where its A_0 cancels; compare elsewhere
            finite = np.isfinite(theirs)
            assert finite.mean() > 0.9
            np.testing.assert_allclose(grouped[finite], theirs[finite], rtol=1e-8)
            np.testing.assert_allclose(family.loglik(p, x, t_x, T), grouped, rtol=1e-10)
            theirs = float(np.sum(family.loglik(p, x, t_x, T)))
        assert total == pytest.approx(theirs, rel=1e-8)
        assert float(grouped.sum()) == pytest.approx(theirs, rel=1e-8)


def test_spend_likelihood_equals_lifetimes(cdnow_calibration):
    repeat = cdnow_calibration.filter(pl.col("frequency") > 0)
    x = repeat["frequency"].to_numpy().astype(float)
    m = repeat["monetary_value"].to_numpy()
    data = gamma_gamma.SpendData.build(x, m)
    for params in ([6.25, 3.74, 15.44], [1.0, 1.5, 3.0], [20.0, 8.0, 100.0]):
        log_params = np.log(params)
        ones = np.ones_like(x)
        theirs = -GammaGammaFitter._negative_log_likelihood(log_params, x, m, ones, 0) * x.size
        total, _ = gamma_gamma.value_and_gradient(log_params, data)
        assert total == pytest.approx(theirs, rel=1e-8)
        assert float(gamma_gamma.loglik(np.array(params), x, m).sum()) == pytest.approx(
            theirs, rel=1e-8
        )


# --- analytic gradients equal finite differences -----------------------------------


def _tolerance(numeric: np.ndarray, value: float) -> float:
    """What central differences can resolve: their rounding error grows with the
    size of the log-likelihood (near a maximum the gradient itself is small)."""
    return 1e-6 * float(np.max(np.abs(numeric))) + 1e-9 * abs(value)


def _central_differences(value, log_params, step=1e-5):
    out = []
    for e in np.eye(log_params.size):
        out.append((value(log_params + step * e) - value(log_params - step * e)) / (2 * step))
    return np.array(out)


@pytest.mark.parametrize("model", PURCHASE)
def test_purchase_gradients_equal_finite_differences(cdnow_calibration, simulated, model):
    for summary in (cdnow_calibration, simulated[model]):
        x, t_x, T = _triples(summary)
        # extreme histories too: recency at or a hair below T with many purchases
        x = np.concatenate([x, [150.0, 120.0, 40.0]])
        t_x = np.concatenate([t_x, [38.0, 38.0 - 1e-9, 20.0]])
        T = np.concatenate([T, [38.0, 38.0, 20.0 + 1e-6]])
        weights = np.random.default_rng(0).integers(1, 5, x.size)
        h = Histories.build(x, t_x, T, weights)
        family = FAMILY[model]
        for params in POINTS[model]:
            log_params = np.log(params)
            _, grad = family.value_and_gradient(log_params, h)
            value, _ = family.value_and_gradient(log_params, h)
            numeric = _central_differences(
                lambda lp, f=family, h=h: f.value_and_gradient(lp, h)[0], log_params
            )
            np.testing.assert_allclose(grad, numeric, rtol=0, atol=_tolerance(numeric, value))


def test_spend_gradient_equals_finite_differences(cdnow_calibration):
    repeat = cdnow_calibration.filter(pl.col("frequency") > 0)
    x = repeat["frequency"].to_numpy().astype(float)
    m = repeat["monetary_value"].to_numpy()
    data = gamma_gamma.SpendData.build(x, m)
    for params in ([6.25, 3.74, 15.44], [1.0, 1.5, 3.0], [20.0, 8.0, 100.0]):
        log_params = np.log(params)
        _, grad = gamma_gamma.value_and_gradient(log_params, data)
        numeric = _central_differences(
            lambda lp: gamma_gamma.value_and_gradient(lp, data)[0], log_params
        )
        value, _ = gamma_gamma.value_and_gradient(log_params, data)
        np.testing.assert_allclose(grad, numeric, rtol=0, atol=_tolerance(numeric, value))


# --- fits of both engines agree ----------------------------------------------------


@pytest.mark.parametrize("model", PURCHASE)
@pytest.mark.parametrize("data", ["cdnow", "simulated"])
def test_engines_reach_the_same_maximum(cdnow_calibration, simulated, model, data):
    summary = cdnow_calibration if data == "cdnow" else simulated[model]
    ours = clv.fit_purchase_model(summary, model)
    theirs = clv.fit_purchase_model(summary, model, engine="lifetimes")
    assert ours.engine == "clv" and theirs.engine == "lifetimes"
    # clv's engine is at the maximum: never below lifetimes' optimiser
    assert ours.loglik >= theirs.loglik - 1e-8 * abs(theirs.loglik)
    assert ours.loglik == pytest.approx(theirs.loglik, rel=1e-7)
    for name, value in ours.params.items():
        assert value == pytest.approx(theirs.params[name], rel=2e-3), name
    np.testing.assert_allclose(list(ours.bse.values()), list(theirs.bse.values()), rtol=2e-2)
    assert ours.convergence["starts_at_maximum"] >= 2
    assert ours.convergence["gradient_max_abs"] < 1e-5


def test_spend_engines_reach_the_same_maximum(cdnow_calibration):
    ours = clv.fit_spend_model(cdnow_calibration)
    theirs = clv.fit_spend_model(cdnow_calibration, engine="lifetimes")
    assert ours.loglik >= theirs.loglik - 1e-8 * abs(theirs.loglik)
    for name, value in ours.params.items():
        assert value == pytest.approx(theirs.params[name], rel=1e-3), name


@pytest.mark.parametrize("model", PURCHASE)
def test_predictions_equal_between_engines(cdnow_calibration, model):
    # the same parameters through clv's formulas and through lifetimes
    params = dict(zip(models._PARAM_NAMES[model], POINTS[model][0], strict=True))
    ours = models.PurchaseModelResults.from_params(model, params)
    theirs = models.PurchaseModelResults.from_params(model, params, engine="lifetimes")
    triples = cdnow_calibration.select("frequency", "recency", "T").unique()
    x, t_x, T = _triples(triples)
    if model == "pareto_nbd":
        # lifetimes gives NaN where its A_0 cancels (recency at T): compare elsewhere
        keep = t_x < T - 1e-3
        x, t_x, T = x[keep], t_x[keep], T[keep]
    for t in (1.0, 39.0, 104.0):
        np.testing.assert_allclose(
            ours.expected_purchases(t, x, t_x, T),
            theirs.expected_purchases(t, x, t_x, T),
            rtol=1e-8,
        )
        np.testing.assert_allclose(
            ours.prob_no_purchase(t, x, t_x, T),
            theirs.prob_no_purchase(t, x, t_x, T),
            rtol=1e-6,
            atol=1e-12,
        )
    np.testing.assert_allclose(ours.p_alive(x, t_x, T), theirs.p_alive(x, t_x, T), rtol=1e-8)
    t = np.array([0.0, 1.0, 39.0, 520.0])
    np.testing.assert_allclose(
        ours.expected_purchases_new_customer(t),
        theirs.expected_purchases_new_customer(t),
        rtol=1e-8,
    )


def test_pareto_predictions_with_s_equal_to_one_are_the_limit():
    # (1 - ratio^(s-1)) / (s-1) tends to -log(ratio) at s = 1
    at_one = models.PurchaseModelResults.from_params(
        "pareto_nbd", {"r": 0.5, "alpha": 10.0, "s": 1.0, "beta": 12.0}
    )
    near = models.PurchaseModelResults.from_params(
        "pareto_nbd", {"r": 0.5, "alpha": 10.0, "s": 1.0 + 1e-7, "beta": 12.0}
    )
    x, t_x, T = np.array([0.0, 3.0]), np.array([0.0, 20.0]), np.array([39.0, 39.0])
    np.testing.assert_allclose(
        at_one.expected_purchases(52.0, x, t_x, T),
        near.expected_purchases(52.0, x, t_x, T),
        rtol=1e-6,
    )


# --- the engine argument and the reference engine's isolation ----------------------


def test_unknown_engine_is_rejected(cdnow_calibration):
    with pytest.raises(ValueError, match="engine='pymc'; use one of clv, lifetimes"):
        clv.fit_purchase_model(cdnow_calibration, engine="pymc")
    with pytest.raises(ValueError, match="engine"):
        clv.fit_spend_model(cdnow_calibration, engine="pymc")


def test_clv_engine_never_imports_lifetimes():
    code = (
        "import sys, clv\n"
        "s = clv.summarize(clv.datasets.cdnow(), freq='D', time_unit='W',"
        " observation_end='1997-09-30')\n"
        "fit = clv.fit_purchase_model(s, 'pareto_nbd')\n"
        "spend = clv.fit_spend_model(s)\n"
        "fit.expected_purchases(52.0, [1.0], [10.0], [30.0])\n"
        "assert 'lifetimes' not in sys.modules, 'lifetimes was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_interior_maximum_lists_every_start():
    # twenty identical customers: the likelihood cannot tell the parameters apart
    summary = pl.DataFrame(
        {"frequency": [1] * 20, "recency": [5.0] * 20, "T": [10.0] * 20, "time_unit": ["W"] * 20}
    )
    with pytest.raises(clv.ModelFitError, match="did not converge on 20 customers") as err:
        clv.fit_purchase_model(summary)
    attempts = err.value.attempts
    assert len(attempts) == 4
    assert {a.start for a in attempts} == {"moments", "ones", "low", "high"}
    assert all(a.error and a.model == "bgnbd" for a in attempts)
