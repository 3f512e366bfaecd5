"""BG/BB: the published donations estimates, agreement with lifetimes, recovery,
the (x, t_x, n) summary of a dated log, and bad input."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import polars as pl
import pytest

from clv.models import ModelFitError
from clv.models.bgbb import BGBBResults, bgbb_loglik, bgbb_summary, fit_bgbb

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # lifetimes sets a pandas option pandas 3 deprecates
    from lifetimes import BetaGeoBetaBinomFitter
    from lifetimes.datasets import load_donations

# Fader, Hardie and Shang (2010), "Customer-Base Analysis in a Discrete-Time
# Noncontractual Setting", Marketing Science 29(6), 1086-1108, section 4: the 1995
# cohort of first-time donors to a US nonprofit (11,104 people), repeat donations
# in 1996-2001 (n = 6), alpha = 1.204, beta = 0.750, gamma = 0.657, delta = 2.783,
# LL = -33,225.6.
PUBLISHED = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
PUBLISHED_LL = -33_225.6


@pytest.fixture(scope="module")
def donations() -> pl.DataFrame:
    """The donations histories as lifetimes ships them: one row per distinct
    (x, t_x, n) with the number of donors sharing it."""
    frame = load_donations()
    return pl.DataFrame(
        {
            "frequency": frame["frequency"].to_numpy(),
            "recency": frame["recency"].to_numpy(),
            "n_periods": frame["periods"].to_numpy(),
            "n_customers": frame["weights"].to_numpy(),
        }
    )


@pytest.fixture(scope="module")
def donations_fit(donations) -> BGBBResults:
    return fit_bgbb(donations)


def test_reproduces_fader_hardie_shang_2010(donations, donations_fit):
    assert donations["n_customers"].sum() == 11_104
    for name, value in PUBLISHED.items():
        # published to three decimals
        assert donations_fit.params[name] == pytest.approx(value, abs=0.0006), name
    assert donations_fit.loglik == pytest.approx(PUBLISHED_LL, abs=0.05)
    assert donations_fit.n_customers == 11_104
    assert donations_fit.n_rows_fitted == 22


def test_standard_errors_and_intervals(donations_fit):
    se = donations_fit.bse
    assert all(0 < se[k] < 0.5 * donations_fit.params[k] for k in PUBLISHED)
    ci = donations_fit.conf_int(0.05)
    assert (ci["lower"] < ci["estimate"]).all() and (ci["estimate"] < ci["upper"]).all()
    narrow = donations_fit.conf_int(0.5)
    assert (narrow["upper"] - narrow["lower"] < ci["upper"] - ci["lower"]).all()
    with pytest.raises(ValueError, match="between 0 and 1"):
        donations_fit.conf_int(1.5)


def test_loglik_is_the_sum_of_per_customer_terms(donations, donations_fit):
    per_row = donations_fit.loglik_per_customer(
        donations["frequency"], donations["recency"], donations["n_periods"]
    )
    total = float(np.sum(per_row * donations["n_customers"].to_numpy()))
    assert total == pytest.approx(donations_fit.loglik, rel=1e-12)


def _lifetimes_model(fit: BGBBResults) -> BetaGeoBetaBinomFitter:
    model = BetaGeoBetaBinomFitter()
    frame = load_donations()
    model.fit(frame["frequency"], frame["recency"], frame["periods"], weights=frame["weights"])
    for name in PUBLISHED:
        model.params_[name] = fit.params[name]
    return model


def test_predictions_agree_with_lifetimes(donations, donations_fit):
    lt = _lifetimes_model(donations_fit)
    x, t_x, n = (donations[c].to_numpy() for c in ("frequency", "recency", "n_periods"))
    # P(alive in period n + 1), equation (11)
    ours = donations_fit.p_alive(x, t_x, n)
    theirs = np.asarray(lt.conditional_probability_alive(1, x, t_x, n), dtype=float)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    # E[X(n, n + n*)], equation (13), for several n*
    for n_star in (1, 5, 10):
        ours = donations_fit.expected_purchases(n_star, x, t_x, n)
        theirs = lt.conditional_expected_number_of_purchases_up_to_time(n_star, x, t_x, n)
        np.testing.assert_allclose(ours, np.asarray(theirs, dtype=float), rtol=1e-10)
    # P(X(n) = x) times the cohort size, equation (7)
    expected = lt.expected_number_of_transactions_in_first_n_periods(6)["model"].to_numpy()
    ours = donations_fit.prob_purchases(np.arange(7), 6) * 11_104
    np.testing.assert_allclose(ours, expected, rtol=1e-10)


def test_distribution_of_counts_is_coherent(donations_fit):
    for n in (1, 6, 11):
        probs = donations_fit.prob_purchases(np.arange(n + 1), n)
        assert probs.sum() == pytest.approx(1.0, abs=1e-12)
        # E[X(n)], equation (8), is the mean of the distribution of equation (7)
        mean = float(np.sum(np.arange(n + 1) * probs))
        assert donations_fit.expected_purchases_new_customer(n) == pytest.approx(mean, rel=1e-10)
    assert donations_fit.prob_purchases(7, 6) == 0.0
    # a new customer (x = t_x = n = 0) expects E[X(n)] in the next n periods
    assert donations_fit.expected_purchases(6, 0, 0, 0) == pytest.approx(
        donations_fit.expected_purchases_new_customer(6), rel=1e-10
    )


def test_p_alive_orders_customers_sensibly(donations_fit):
    # same frequency: the more recent the last donation, the likelier alive
    by_recency = donations_fit.p_alive([3, 3, 3, 3], [3, 4, 5, 6], [6, 6, 6, 6])
    assert np.all(np.diff(by_recency) > 0)
    # a donor every year is alive unless the dropout happened just now
    assert donations_fit.p_alive(6, 6, 6) > 0.85
    assert donations_fit.p_alive(0, 0, 6) < 0.2


def _simulate(params: dict[str, float], n_customers: int, n: int, seed: int) -> pl.DataFrame:
    """Draw BG/BB histories: p ~ Beta(alpha, beta), theta ~ Beta(gamma, delta);
    at the start of each period a living customer drops out with prob. theta,
    else buys with prob. p."""
    rng = np.random.default_rng(seed)
    p = rng.beta(params["alpha"], params["beta"], size=n_customers)
    theta = rng.beta(params["gamma"], params["delta"], size=n_customers)
    alive_for = rng.geometric(theta) - 1  # periods survived before dropping out
    periods = np.arange(1, n + 1)
    alive = periods[None, :] <= alive_for[:, None]
    buys = alive & (rng.uniform(size=(n_customers, n)) < p[:, None])
    x = buys.sum(axis=1)
    t_x = np.where(x > 0, np.max(np.where(buys, periods, 0), axis=1), 0)
    return pl.DataFrame({"frequency": x, "recency": t_x, "n_periods": np.full(n_customers, n)})


def test_recovers_simulated_parameters():
    truth = {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}
    fit = fit_bgbb(_simulate(truth, 20_000, 8, seed=7))
    for name, value in truth.items():
        # within 4 standard errors of the truth
        assert abs(fit.params[name] - value) < 4 * fit.bse[name], name


def test_summary_of_a_dated_log_rebuilds_the_donations_histories(donations, donations_fit):
    # Expand each history into dated donations: first in 1995, then one in each of
    # the x years ending with year t_x after it; n = 6 ends on 2001-12-31.
    rows = []
    customer = 0
    for x, t_x, _, count in donations.iter_rows():
        years = [1995] + [1995 + t for t in range(t_x - x + 1, t_x + 1)]
        for _ in range(count):
            rows.extend((f"{customer:05d}", dt.date(year, 3, 1)) for year in years)
            customer += 1
    log = pl.DataFrame(rows, schema=["customer_id", "date"], orient="row")
    # two gifts in one year count once, and a gift after the end is left out
    log = pl.concat(
        [
            log,
            pl.DataFrame(
                {
                    "customer_id": ["00000", "00000"],
                    "date": [dt.date(1995, 9, 1), dt.date(2002, 1, 5)],
                }
            ),
        ]
    )
    summary = bgbb_summary(log, freq="Y", observation_end="2001-12-31")
    assert summary.height == 11_104
    assert summary.columns == ["customer_id", "frequency", "recency", "n_periods"]
    rebuilt = (
        summary.group_by("frequency", "recency", "n_periods")
        .agg(pl.len().alias("n_customers"))
        .sort("frequency", "recency")
    )
    assert rebuilt.to_dicts() == donations.sort("frequency", "recency").to_dicts()
    refit = fit_bgbb(summary)
    assert refit.loglik == pytest.approx(donations_fit.loglik, abs=1e-6)


def test_summary_of_months_and_weeks():
    log = pl.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b"],
            "date": [
                dt.date(2024, 1, 31),
                dt.date(2024, 2, 1),
                dt.date(2024, 4, 15),
                dt.date(2024, 6, 3),
            ],
        }
    )
    monthly = bgbb_summary(log, freq="M", observation_end="2024-06-30")
    assert monthly.row(0) == ("a", 2, 3, 5)  # Jan; Feb and Apr bought; Feb..Jun open
    assert monthly.row(1) == ("b", 0, 0, 0)
    # 2024-01-31 is a Wednesday, 2024-02-01 the Thursday of the same week
    weekly = bgbb_summary(log, freq="W", observation_end="2024-02-04")
    assert weekly.filter(pl.col("customer_id") == "a").row(0) == ("a", 0, 0, 0)


def test_bad_input_gives_clear_errors(donations):
    with pytest.raises(ValueError, match="0 <= frequency <= recency <= n_periods"):
        fit_bgbb(pl.DataFrame({"frequency": [2], "recency": [1], "n_periods": [6]}))
    with pytest.raises(ValueError, match="lacks the columns"):
        fit_bgbb(pl.DataFrame({"frequency": [2], "recency": [3]}))
    with pytest.raises(ValueError, match="whole numbers"):
        bgbb_loglik(PUBLISHED, [1.5], [2], [6])
    with pytest.raises(ModelFitError, match="too few"):
        fit_bgbb(donations.head(3).with_columns(pl.lit(1).alias("n_customers")))
    with pytest.raises(ValueError, match="four positive numbers"):
        BGBBResults.from_params({**PUBLISHED, "alpha": -1.0})
    with pytest.raises(ValueError, match="freq="):
        bgbb_summary(pl.DataFrame({"customer_id": ["a"], "date": [dt.date(2024, 1, 1)]}), freq="H")
    with pytest.raises(ValueError, match="parse it to a Date"):
        bgbb_summary(pl.DataFrame({"customer_id": ["a"], "date": ["2024-01-01"]}))


def test_quarterly_summary_of_the_cdnow_log(cdnow_sample):
    # every CDNOW customer first bought in the first quarter of 1997 (Fader, Hardie
    # and Lee 2005, section 4), so up to mid-1998 each had five more quarters
    summary = bgbb_summary(cdnow_sample, freq="Q", observation_end="1998-06-30")
    assert summary.height == 2357
    assert summary["n_periods"].unique().to_list() == [5]
    assert (summary["frequency"] <= summary["recency"]).all()
    assert ((summary["frequency"] == 0) == (summary["recency"] == 0)).all()
    fit = fit_bgbb(summary, time_unit="Q")
    assert fit.n_customers == 2357 and np.isfinite(fit.loglik)
