"""Models: published CDNOW estimates, agreement with lifetimes, recovery, failures."""

from __future__ import annotations

import mpmath
import numpy as np
import polars as pl
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter
from lifetimes.utils import ConvergenceError

import clv
from clv import models
from clv.models import _lifetimes
from clv.paths import DATA_DIR

ENGINES = pytest.mark.parametrize("engine", ["clv", "lifetimes"])

# --- published estimates on the CDNOW 1/10 sample, 39-week calibration ------------


@ENGINES
def test_bgnbd_reproduces_fader_hardie_lee_2005(cdnow_calibration, engine):
    # Fader, Hardie and Lee (2005), "Counting your customers the easy way: an
    # alternative to the Pareto/NBD model", Marketing Science 24(2), 275-284, section 4:
    # r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4.
    fit = clv.fit_purchase_model(cdnow_calibration, model="bgnbd", engine=engine)
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert fit.params[name] == pytest.approx(value, abs=0.0006), name
    assert fit.loglik == pytest.approx(-9582.4, abs=0.06)
    assert fit.n_customers == 2357
    assert fit.time_unit == "W"


@ENGINES
def test_pareto_nbd_reproduces_published_estimates(cdnow_calibration, engine):
    # Fader, Hardie and Lee (2005), "RFM and CLV: using iso-value curves for customer
    # base analysis", Journal of Marketing Research 42(4), and Fader and Hardie's note
    # "A note on implementing the Pareto/NBD model in MATLAB" (2005):
    # r = 0.553, alpha = 10.578, s = 0.606, beta = 11.669, LL = -9595.0.
    fit = clv.fit_purchase_model(cdnow_calibration, model="pareto_nbd", engine=engine)
    assert fit.params["r"] == pytest.approx(0.553, abs=0.002)
    assert fit.params["alpha"] == pytest.approx(10.578, abs=0.02)
    assert fit.params["s"] == pytest.approx(0.606, abs=0.002)
    assert fit.params["beta"] == pytest.approx(11.669, abs=0.05)
    assert fit.loglik == pytest.approx(-9595.0, abs=0.05)


@ENGINES
def test_gamma_gamma_reproduces_fader_hardie_2013(cdnow_calibration, engine):
    # Fader and Hardie (2013), "The Gamma-Gamma model of monetary value", section 3:
    # 946 repeat buyers in the calibration period; p = 6.25, q = 3.74, gamma = 15.44.
    fit = clv.fit_spend_model(cdnow_calibration, engine=engine)
    assert fit.n_customers == 946
    assert fit.params["p"] == pytest.approx(6.25, abs=0.006)
    assert fit.params["q"] == pytest.approx(3.74, abs=0.006)
    assert fit.params["gamma"] == pytest.approx(15.44, abs=0.006)
    # lifetimes' documentation reports corr(frequency, monetary_value) = 0.1139 on
    # the same 946 customers
    assert fit.independence.pearson_r == pytest.approx(0.1139, abs=0.0005)
    assert fit.independence.pearson_pvalue < 0.01


# --- weighted fits on distinct triples equal lifetimes' fit on every customer ------


@pytest.mark.parametrize(
    ("model", "fitter"),
    [("bgnbd", BetaGeoFitter), ("mbgnbd", ModifiedBetaGeoFitter)],
)
def test_weighted_fit_equals_unweighted_lifetimes_fit(cdnow_calibration, model, fitter):
    s = cdnow_calibration
    plain = fitter().fit(s["frequency"].to_numpy(), s["recency"].to_numpy(), s["T"].to_numpy())
    ours = clv.fit_purchase_model(s, model=model)
    assert ours.n_rows_fitted < s.height  # the fit really ran on compressed rows
    for name, value in ours.params.items():
        assert value == pytest.approx(plain.params_[name], rel=1e-4), name


def test_weighted_pareto_fit_equals_unweighted_fit(cdnow_calibration):
    s = cdnow_calibration
    plain = _lifetimes.SafeParetoNBDFitter().fit(
        s["frequency"].to_numpy(),
        s["recency"].to_numpy(),
        s["T"].to_numpy(),
        initial_params=np.ones(4),
        maxiter=10_000,
    )
    ours = clv.fit_purchase_model(s, model="pareto_nbd")
    for name, value in ours.params.items():
        assert value == pytest.approx(plain.params_[name], rel=1e-3), name


def test_weighted_spend_fit_equals_unweighted_lifetimes_fit(cdnow_calibration):
    repeat = cdnow_calibration.filter(pl.col("frequency") > 0)
    plain = GammaGammaFitter().fit(
        repeat["frequency"].to_numpy(), repeat["monetary_value"].to_numpy()
    )
    ours = clv.fit_spend_model(cdnow_calibration)
    for name, key in (("p", "p"), ("q", "q"), ("gamma", "v")):
        assert ours.params[name] == pytest.approx(plain.params_[key], rel=1e-4)


# --- our log-likelihoods agree with lifetimes' ---------------------------------------


def _arrays(summary):
    return (
        summary["frequency"].to_numpy().astype(float),
        summary["recency"].to_numpy().astype(float),
        summary["T"].to_numpy().astype(float),
    )


def test_loglik_functions_match_lifetimes(cdnow_calibration):
    x, t_x, T = _arrays(cdnow_calibration)
    ones = np.ones_like(x)
    params = np.array([0.3, 5.0, 0.8, 2.0])
    lt_bg = -BetaGeoFitter._negative_log_likelihood(np.log(params), x, t_x, T, ones, 0.0)
    assert np.sum(models._bgnbd_ll(params, x, t_x, T)) == pytest.approx(lt_bg * x.size)
    lt_mbg = -ModifiedBetaGeoFitter._negative_log_likelihood(np.log(params), x, t_x, T, ones, 0)
    assert np.sum(models._mbgnbd_ll(params, x, t_x, T)) == pytest.approx(lt_mbg * x.size)
    # lifetimes' own Pareto/NBD likelihood, where it is finite
    pareto = np.array([0.55, 10.6, 0.6, 11.7])
    theirs = ParetoNBDFitter._conditional_log_likelihood(pareto, x, t_x, T)
    ours = models._pareto_ll(pareto, x, t_x, T)
    finite = np.isfinite(theirs)
    assert finite.sum() > 2000
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-9)
    repeat = cdnow_calibration.filter(pl.col("frequency") > 0)
    xs = repeat["frequency"].to_numpy().astype(float)
    ms = repeat["monetary_value"].to_numpy()
    gg = np.array([6.0, 3.5, 15.0])
    lt_gg = -GammaGammaFitter._negative_log_likelihood(np.log(gg), xs, ms, np.ones_like(xs), 0)
    assert np.sum(models._gamma_gamma_ll(gg, xs, ms)) == pytest.approx(lt_gg * xs.size)


# --- the Pareto/NBD NaN trap -------------------------------------------------------


def _log_a0_reference(params, x, t_x, T):
    """log A_0 by high-precision quadrature of its defining integral."""
    r, alpha, s, beta = (mpmath.mpf(v) for v in params)
    mpmath.mp.dps = 50
    integral = mpmath.quad(lambda u: (alpha + u) ** (-(r + x)) * (beta + u) ** (-(s + 1)), [t_x, T])
    return float(mpmath.log((r + s + x) * integral))


@pytest.mark.parametrize(
    ("x", "t_x", "T"),
    [
        (150, 77.999999, 78.0),  # recency a hair below T, many purchases
        (120, 60.0 - 1e-9, 60.0),
        (3, 10.0, 38.0),  # an ordinary customer: the closed form is used
        (0, 0.0, 38.0),
        (40, 20.0, 20.0 + 1e-6),
    ],
)
def test_pareto_log_a0_is_accurate_where_lifetimes_gives_nan(x, t_x, T):
    params = np.array([0.55, 10.58, 0.61, 11.67])
    ours = models._pareto_log_a0(params, np.array([x]), np.array([t_x]), np.array([T]))[0]
    assert ours == pytest.approx(_log_a0_reference(params, x, t_x, T), rel=1e-6)


def test_pareto_scores_are_finite_where_lifetimes_gives_nan(cdnow_calibration):
    fit = clv.fit_purchase_model(cdnow_calibration, model="pareto_nbd")
    x = np.array([150.0, 200.0, 120.0])
    t_x = np.array([78.0, 60.0, 59.9999999])
    T = np.array([78.0, 60.0, 60.0])
    plain = ParetoNBDFitter()
    plain.params_ = fit._fitter.params_
    with np.errstate(all="ignore"):
        assert np.isnan(plain.conditional_probability_alive(x, t_x, T)).any()
    p_alive = fit.p_alive(x, t_x, T)
    expected = fit.expected_purchases(52.0, x, t_x, T)
    assert np.all(np.isfinite(p_alive)) and np.all(np.isfinite(expected))
    # customers who bought at the very end of the window are almost surely alive
    assert np.all(p_alive > 0.99)
    assert np.all(expected > 50)


# --- recovery of known parameters from simulated logs --------------------------------


def test_bgnbd_and_gamma_gamma_recover_simulated_parameters():
    truth = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    spend_truth = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    log = clv.simulate_transactions(
        20_000,
        **truth,
        p_spend=spend_truth["p"],
        q=spend_truth["q"],
        gamma=spend_truth["gamma"],
        acquisition_days=84,
        observation_days=546,
        time_unit="W",
        seed=7,
    )
    tx = clv.load_transactions(log, as_of="2030-01-01")
    # purchases on the same day are rare at these rates, so daily merging loses little
    summary = clv.summarize(tx, freq="D", time_unit="W", observation_end="2025-06-29")
    fit = clv.fit_purchase_model(summary, model="bgnbd")
    ci = fit.conf_int(alpha=0.01)
    for name, lower, upper in ci.select("parameter", "lower", "upper").iter_rows():
        assert lower <= truth[name] <= upper, (name, lower, upper)
    spend = clv.fit_spend_model(summary)
    sci = spend.conf_int(alpha=0.01)
    for name, lower, upper in sci.select("parameter", "lower", "upper").iter_rows():
        assert lower <= spend_truth[name] <= upper, (name, lower, upper)
    # independence holds by construction in the simulator
    assert spend.independence.holds()


# --- results objects -----------------------------------------------------------------


def test_results_object_api(cdnow_calibration):
    fit = clv.fit_purchase_model(cdnow_calibration, model="bgnbd")
    assert list(fit.params) == ["r", "alpha", "a", "b"]
    assert set(fit.bse) == set(fit.params)
    # standard error of r: FHL (2005) do not publish them; check against the
    # spread implied by the Hessian lifetimes computes itself on its own fit
    reference = clv.fit_purchase_model(cdnow_calibration, model="bgnbd", engine="lifetimes")
    lifetimes_se = np.sqrt(np.diag(reference._fitter.variance_matrix_.values))
    np.testing.assert_allclose(list(fit.bse.values()), lifetimes_se, rtol=0.02)
    wide, narrow = fit.conf_int(0.01), fit.conf_int(0.10)
    assert (wide["lower"] < narrow["lower"]).all() and (wide["upper"] > narrow["upper"]).all()
    assert (wide["lower"] > 0).all()
    with pytest.raises(ValueError, match="alpha"):
        fit.conf_int(1.5)
    assert fit.aic == pytest.approx(2 * 4 - 2 * fit.loglik)
    assert fit.bic == pytest.approx(4 * np.log(2357) - 2 * fit.loglik)
    text = str(fit.summary())
    assert "BG/NBD" in text and "alpha" in text and "-9,582.43" in text
    assert "[90%" in str(fit.summary(alpha=0.10))
    html = fit.summary()._repr_html_()
    assert "<table" in html and "alpha" in html


# --- failures say what to do ---------------------------------------------------------


def _summary(frequency, recency, T, time_unit="W"):
    n = len(frequency)
    return pl.DataFrame(
        {
            "customer_id": [str(i) for i in range(n)],
            "frequency": frequency,
            "recency": [float(v) for v in recency],
            "T": [float(v) for v in T],
            "monetary_value": [10.0 if f else 0.0 for f in frequency],
        }
    ).with_columns(pl.lit(time_unit, dtype=pl.Enum(["D", "W", "M"])).alias("time_unit"))


def test_no_repeat_buyers_is_a_clear_error():
    s = _summary([0] * 50, [0] * 50, [30] * 50)
    with pytest.raises(clv.ModelFitError, match="none of the 50 customers has a repeat"):
        clv.fit_purchase_model(s)


def test_too_few_customers_is_a_clear_error():
    s = _summary([1, 0, 2], [3, 0, 5], [10, 10, 10])
    with pytest.raises(clv.ModelFitError, match="too few"):
        clv.fit_purchase_model(s, model="pareto_nbd")
    with pytest.raises(clv.ModelFitError, match="too few"):
        clv.fit_spend_model(s)


def test_impossible_summary_rows_are_rejected():
    s = _summary([1] * 20, [12] * 20, [10] * 20)  # recency > T
    with pytest.raises(ValueError, match="recency <= T"):
        clv.fit_purchase_model(s)


def test_time_unit_must_be_known(cdnow_calibration):
    s = cdnow_calibration.drop("time_unit")
    with pytest.raises(ValueError, match="time_unit"):
        clv.fit_purchase_model(s)
    assert clv.fit_purchase_model(s, time_unit="W").time_unit == "W"
    with pytest.raises(ValueError, match="leave time_unit out"):
        clv.fit_purchase_model(cdnow_calibration, time_unit="D")


def test_identical_customers_do_not_converge_and_say_so():
    s = _summary([1] * 20, [5] * 20, [10] * 20)
    with pytest.raises(clv.ModelFitError, match="did not converge on 20 customers"):
        clv.fit_purchase_model(s)


def test_optimiser_failure_becomes_advice(cdnow_calibration, monkeypatch):
    def fail(self, *args, **kwargs):
        raise ConvergenceError("The model did not converge.")

    monkeypatch.setattr(BetaGeoFitter, "fit", fail)
    with pytest.raises(clv.ModelFitError) as err:
        clv.fit_purchase_model(cdnow_calibration, model="bgnbd", engine="lifetimes")
    message = str(err.value)
    assert "did not converge on 2,357 customers (946 repeat buyers)" in message
    assert "penalizer" in message and "Pareto/NBD" in message


def test_unknown_model_is_rejected(cdnow_calibration):
    with pytest.raises(ValueError, match="bgnbd, pareto_nbd, mbgnbd"):
        clv.fit_purchase_model(cdnow_calibration, model="bg")


def test_spend_model_counts_repeat_buyers_without_positive_spend(cdnow_master):
    # the master log has repeat buyers whose repeat orders were all $0
    summary = clv.summarize(cdnow_master, freq="D", time_unit="W", observation_end="1997-09-30")
    repeat = summary.filter(pl.col("frequency") > 0)
    zero = int((repeat["monetary_value"] <= 0).sum())
    assert zero > 0
    fit = clv.fit_spend_model(summary)
    assert fit.n_excluded == zero
    assert fit.n_customers == repeat.height - zero
    assert "excluded (mean <= 0)" in str(fit.summary())


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd", "pareto_nbd"])
def test_factorised_loglik_equals_the_plain_one(cdnow_calibration, model):
    x, t_x, T = _arrays(cdnow_calibration)
    # extreme customers too: recency at or a hair below T with many purchases
    x = np.concatenate([x, [150.0, 120.0, 40.0]])
    t_x = np.concatenate([t_x, [38.0, 38.0 - 1e-9, 20.0]])
    T = np.concatenate([T, [38.0, 38.0, 20.0 + 1e-6]])
    h = models._Histories.build(x, t_x, T)
    for params in ([0.3, 5.0, 0.8, 2.0], [0.55, 10.6, 0.6, 11.7], [2.0, 1.5, 3.0, 0.4]):
        p = np.array(params)
        plain = models._LOGLIK[model](p, x, t_x, T)
        grouped = models._GROUPED[model](p, h)
        np.testing.assert_allclose(grouped, plain, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("model", ["bgnbd", "pareto_nbd"])
def test_compressed_histories_fit_as_every_customer(model):
    """clv.compress's distinct histories with counts (what a Spark summary
    collects to) give the same fit as the per-customer summary."""
    tx = clv.load_transactions(DATA_DIR / "cdnow" / "CDNOW_sample.csv")
    summary = clv.summarize(tx, freq="W", time_unit="W", observation_end="1998-06-30")
    compressed = clv.compress(summary)
    assert compressed.height < summary.height
    whole = clv.fit_purchase_model(summary, model=model)
    fitted = clv.fit_purchase_model(compressed, model=model, time_unit="W")
    assert fitted.n_customers == whole.n_customers == summary.height
    assert fitted.loglik == pytest.approx(whole.loglik, rel=1e-9)
    for name, value in whole.params.items():
        assert fitted.params[name] == pytest.approx(value, rel=1e-5)
    # compressing twice adds the counts up
    assert clv.compress(compressed).equals(compressed)
