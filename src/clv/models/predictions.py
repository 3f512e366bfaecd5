"""Predictions beyond the per-customer scores: the fit of the repeat-purchase
histogram, P(alive) ahead and along a customer's history, the time to the next
purchase, and CLV intervals from parameter uncertainty.

Purchase models are BG/NBD (Fader, Hardie and Lee 2005, "Counting your
customers the easy way", Marketing Science 24(2)), MBG/NBD (Batislam, Denizel
and Filiztekin 2007, "Empirical validation and comparison of models for
customer base analysis", International Journal of Research in Marketing
24(3)) and Pareto/NBD (Schmittlein, Morrison and Colombo 1987; likelihood of
Fader and Hardie 2005, "A note on deriving the Pareto/NBD model and related
expressions"). Times are in the model's own time unit (``results.time_unit``)
unless a name says otherwise (``horizon_days``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats
from scipy.special import betaln, hyp2f1

from clv import i18n
from clv.models import PurchaseModelResults, SpendModelResults
from clv.rfm import DAYS_PER_UNIT

__all__ = [
    "RepeatPurchaseHistogram",
    "clv_intervals",
    "expected_next_purchase",
    "p_alive_at",
    "p_alive_path",
    "plot_p_alive_path",
    "plot_repeat_purchase_histogram",
    "prob_repeat_purchases",
    "repeat_purchase_histogram",
]

_DAYS_PER_YEAR = 365.25  # as clv.scoring
_LABELS = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pareto_nbd": "Pareto/NBD"}


def _check_results(results: object) -> PurchaseModelResults:
    if not isinstance(results, PurchaseModelResults):
        raise TypeError(
            f"results is a {type(results).__name__}; give a purchase model from "
            "clv.fit_purchase_model (or PurchaseModelResults.from_params)"
        )
    if results.model not in _LABELS:
        raise ValueError(f"model {results.model!r} is not one of {', '.join(_LABELS)}")
    return results


def _histories(
    frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, t_x, T_ = np.broadcast_arrays(
        np.asarray(frequency, dtype=float),
        np.asarray(recency, dtype=float),
        np.asarray(T, dtype=float),
    )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t_x)) and np.all(np.isfinite(T_))):
        raise ValueError("frequency, recency and T must be finite numbers without gaps")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > T_ + 1e-9):
        raise ValueError(
            "histories must have frequency >= 0 and 0 <= recency <= T; build them with "
            "clv.summarize"
        )
    return x, t_x, T_


def _summary_columns(summary: pl.DataFrame) -> tuple[str, str, str]:
    if not isinstance(summary, pl.DataFrame):
        raise TypeError(
            f"summary is a {type(summary).__name__}; give the polars frame of clv.summarize"
        )
    for suffix in ("", "_cal"):
        names = tuple(f"{c}{suffix}" for c in ("frequency", "recency", "T"))
        if all(c in summary.columns for c in names):
            return names
    raise ValueError(
        f"the summary has columns {summary.columns}; it needs frequency, recency and T (or "
        "their *_cal versions): build it with clv.summarize or clv.calibration_holdout"
    )


def _check_unit(results: PurchaseModelResults, summary: pl.DataFrame) -> None:
    if "time_unit" in summary.columns:
        units = summary["time_unit"].cast(pl.String).unique().to_list()
        if units != [results.time_unit]:
            raise ValueError(
                f"the summary is in time unit {units} but the model was fitted in "
                f"{results.time_unit!r}; use the summary the model was fitted on"
            )


# ---------------------------------------------------------------------------
# counts of repeat purchases of a new customer


def prob_repeat_purchases(
    results: PurchaseModelResults, n: int | np.ndarray, t: float | np.ndarray
) -> np.ndarray:
    """P(X(t) = n): probability that a customer makes ``n`` repeat purchases in
    the first ``t`` time units after the first purchase (unconditional).

    BG/NBD, Fader, Hardie and Lee (2005), equation (8)::

        P(X(t)=x) = B(a, b+x)/B(a, b) NB(x; t)
                    + [x > 0] B(a+1, b+x-1)/B(a, b) P(NB(t) >= x)

    with NB the negative binomial count of a Poisson process whose rate is
    Gamma(r, alpha). MBG/NBD (Batislam, Denizel and Filiztekin 2007) adds a
    dropout chance right after the first purchase, so the customer must survive
    x + 1 chances to stay alive and may drop out after the x-th purchase for
    any x >= 0::

        P(X(t)=x) = B(a, b+x+1)/B(a, b) NB(x; t) + B(a+1, b+x)/B(a, b) P(NB(t) >= x)

    Pareto/NBD: the model's conditional distribution of purchases ahead
    (:meth:`clv.PurchaseModelResults.prob_n_purchases`) at the empty history
    x = t_x = T = 0, at which the conditional distribution is the prior one.

    Parameters
    ----------
    results
        A purchase model.
    n
        Number of repeat purchases (whole, >= 0), broadcast against ``t``.
    t
        Time since the first purchase, in the model's time unit (> 0).
    """
    results = _check_results(results)
    n_, t_ = np.broadcast_arrays(np.asarray(n, dtype=float), np.asarray(t, dtype=float))
    if np.any(n_ < 0) or np.any(n_ != np.round(n_)):
        raise ValueError("n must be whole numbers of purchases, 0 or more")
    if not np.all(t_ > 0):
        raise ValueError("t must be positive lengths of time")
    if results.model == "pareto_nbd":
        out = np.empty(n_.shape)
        flat_n, flat_t, flat_out = n_.ravel(), t_.ravel(), out.reshape(-1)
        for value in np.unique(flat_t):
            at = flat_t == value
            zero = np.zeros(int(at.sum()))
            flat_out[at] = results.prob_n_purchases(flat_n[at], float(value), zero, zero, zero)
        return out
    p = results.params
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    shift = 1.0 if results.model == "mbgnbd" else 0.0
    success = alpha / (alpha + t_)
    nb = stats.nbinom.pmf(n_, r, success)
    at_least = stats.nbinom.sf(n_ - 1.0, r, success)  # P(NB >= n); 1 at n = 0
    stay = np.exp(betaln(a, b + n_ + shift) - betaln(a, b))
    with np.errstate(invalid="ignore"):
        drop = np.exp(betaln(a + 1.0, b + n_ + shift - 1.0) - betaln(a, b))
    if shift == 0.0:
        drop = np.where(n_ > 0, drop, 0.0)
    return stay * nb + drop * at_least


@dataclass(frozen=True)
class RepeatPurchaseHistogram:
    """Actual and expected numbers of customers by number of repeat purchases
    in the calibration period, with a chi-square goodness-of-fit per model.

    ``table`` has one row per model and bin: ``model``, ``bin`` (text:
    ``"0"``, ``"1"``, ..., ``"7+"``), ``repeat_purchases`` (the bin's lowest
    count), ``actual`` and ``expected`` (customers). ``fit`` has one row per
    model: ``model``, ``chi_square``, ``df`` (bins - 1 - parameters) and
    ``p_value``.
    """

    table: pl.DataFrame
    fit: pl.DataFrame
    max_count: int


def repeat_purchase_histogram(
    results: PurchaseModelResults | Sequence[PurchaseModelResults],
    summary: pl.DataFrame,
    max_count: int = 7,
) -> RepeatPurchaseHistogram:
    """Compare the calibration-period histogram of repeat purchases with the
    models' expectation (Fader, Hardie and Lee 2005, figure 2; the computation
    is that of Fader, Hardie and Lee 2007, "Creating a fit histogram for the
    BG/NBD model").

    The expected number of customers with ``k`` repeat purchases is
    ``sum_i P(X(T_i) = k)`` over the customers, each at their own age ``T_i``
    (:func:`prob_repeat_purchases`); the last bin ``max_count+`` holds the
    rest. The chi-square statistic ``sum (actual - expected)^2 / expected``
    over the ``max_count + 1`` bins has ``bins - 1 - parameters`` degrees of
    freedom (the parameters were estimated from these data, though by maximum
    likelihood on the full histories, so the p-value is approximate).

    Parameters
    ----------
    results
        One purchase model or several, fitted on ``summary``.
    summary
        Per-customer summary (:func:`clv.summarize`; ``*_cal`` columns work too).
    max_count
        Bins are 0 .. ``max_count - 1`` and ``max_count`` or more.

    Returns
    -------
    RepeatPurchaseHistogram
    """
    models = [results] if isinstance(results, PurchaseModelResults) else list(results)
    if not models:
        raise ValueError("give at least one purchase model")
    for model in models:
        _check_results(model)
    if not isinstance(max_count, int) or isinstance(max_count, bool) or max_count < 1:
        raise ValueError(f"max_count={max_count!r}; give a whole number of purchases, 1 or more")
    f_col, r_col, t_col = _summary_columns(summary)
    for model in models:
        _check_unit(model, summary)
    x, _, T = _histories(*(summary[c].to_numpy() for c in (f_col, r_col, t_col)))
    if x.size == 0:
        raise ValueError("the summary has no customers")
    if np.any(T <= 0):
        raise ValueError(
            "some customers have T = 0 (first purchase on the last day observed); they "
            "have had no time to buy again: leave them out of the summary"
        )
    counts = np.arange(max_count, dtype=float)
    actual = np.array([np.sum(x == k) for k in range(max_count)] + [np.sum(x >= max_count)])
    ages, customers = np.unique(T, return_counts=True)
    labels = [str(k) for k in range(max_count)] + [f"{max_count}+"]
    tables, fits = [], []
    for model in models:
        n_params = len(model.params)
        df = max_count - n_params  # (max_count + 1) bins - 1 - parameters
        if df < 1:
            raise ValueError(
                f"max_count={max_count} gives {max_count + 1} bins, too few for a "
                f"chi-square test of {n_params} parameters; use max_count >= {n_params + 1}"
            )
        probs = prob_repeat_purchases(model, counts[:, None], ages[None, :])
        expected_low = probs @ customers.astype(float)
        expected = np.append(expected_low, x.size - expected_low.sum())
        statistic = float(np.sum((actual - expected) ** 2 / expected))
        name = model.model
        tables.append(
            pl.DataFrame(
                {
                    "model": [name] * len(labels),
                    "bin": labels,
                    "repeat_purchases": list(range(max_count + 1)),
                    "actual": actual.astype(np.int64),
                    "expected": expected,
                }
            )
        )
        fits.append(
            {
                "model": name,
                "chi_square": statistic,
                "df": df,
                "p_value": float(stats.chi2.sf(statistic, df)),
            }
        )
    return RepeatPurchaseHistogram(
        table=pl.concat(tables), fit=pl.DataFrame(fits), max_count=max_count
    )


# ---------------------------------------------------------------------------
# P(alive) ahead and the time to the next purchase


def p_alive_at(
    results: PurchaseModelResults,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    horizon: float | np.ndarray,
) -> np.ndarray:
    """P(alive) at the future age ``T + horizon``, given the history (x, t_x, T)
    and no purchase between ``T`` and ``T + horizon``.

    No purchase in between makes the history at ``T + horizon`` equal to
    ``(x, t_x, T + horizon)``, so this is each model's P(alive) there:

    - BG/NBD (Fader, Hardie and Lee 2008, "Computing P(alive) using the
      BG/NBD model"):
      ``1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T') / (alpha + t_x))^(r + x))``;
    - MBG/NBD (Batislam, Denizel and Filiztekin 2007):
      ``1 / (1 + a / (b + x) ((alpha + T') / (alpha + t_x))^(r + x))``;
    - Pareto/NBD (Fader and Hardie 2005, "A note on deriving the Pareto/NBD
      model and related expressions"): the ratio of the
      "alive" term to the likelihood, at ``T' = T + horizon``, computed by the
      model's own :meth:`clv.PurchaseModelResults.p_alive` (its A_0 term has no
      simpler form).

    Under BG/NBD a one-time buyer stays alive with probability 1 (dropout
    happens only right after a repeat purchase).

    Parameters
    ----------
    results
        A purchase model.
    frequency, recency, T
        Histories, in the model's time unit.
    horizon
        Time ahead without a purchase (>= 0), scalar or one per customer.

    Returns
    -------
    numpy.ndarray
        Probabilities in [0, 1], one per customer.
    """
    results = _check_results(results)
    x, t_x, T_ = _histories(frequency, recency, T)
    horizon = np.broadcast_to(np.asarray(horizon, dtype=float), x.shape)
    if not np.all(np.isfinite(horizon)) or np.any(horizon < 0):
        raise ValueError("horizon must be a finite time ahead, 0 or more")
    later = T_ + horizon
    if results.model == "pareto_nbd":
        return results.p_alive(x, t_x, later)
    p = results.params
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    if results.model == "bgnbd":
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds = (
                np.log(a) - np.log(b + x - 1.0) + (r + x) * np.log((alpha + later) / (alpha + t_x))
            )
        odds = np.where(x > 0, np.exp(log_odds), 0.0)
    else:
        odds = np.exp(np.log(a) - np.log(b + x) + (r + x) * np.log((alpha + later) / (alpha + t_x)))
    return 1.0 / (1.0 + odds)


def expected_next_purchase(
    results: PurchaseModelResults,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    *,
    statistic: str = "median",
    given: str = "history",
) -> np.ndarray:
    """Time from ``T`` until each customer's next purchase, in the model's time unit.

    What it conditions on (``given``):

    ``"history"``
        Only the history (x, t_x, T): the customer may have dropped out, so
        the wait may be infinite and only the median exists. It is the time
        ``w`` at which P(at least one purchase in (T, T + w]) reaches 1/2
        (:meth:`clv.PurchaseModelResults.p_active`), and infinite when the
        probability of ever buying again is 1/2 or less. BG/NBD and MBG/NBD:
        ``w = (alpha + T) ((1 - 1/(2 P(alive)))^(-1/(r + x)) - 1)``, since a
        customer alive at T buys again for sure and waits a Lomax time;
        Pareto/NBD: solved numerically on a fine grid of ``w``.
    ``"alive"``
        The customer is alive at T and stays alive until the next purchase
        (certain under BG/NBD and MBG/NBD, where dropout happens only at
        purchases; under Pareto/NBD it sets dropout aside). Given alive, the
        purchase rate is Gamma(r + x, alpha + T) under all three models, so
        the wait is Lomax with shape r + x and scale alpha + T: mean
        ``(alpha + T) / (r + x - 1)`` (infinite when r + x <= 1), median
        ``(alpha + T) (2^(1/(r + x)) - 1)``.

    Parameters
    ----------
    results
        A purchase model.
    frequency, recency, T
        Histories, in the model's time unit.
    statistic
        ``"median"`` or ``"mean"`` (only with ``given="alive"``).
    given
        ``"history"`` or ``"alive"``, as above.

    Returns
    -------
    numpy.ndarray
        Waiting times, ``inf`` where the statistic is infinite.
    """
    results = _check_results(results)
    if statistic not in ("median", "mean"):
        raise ValueError(f"statistic={statistic!r}; use 'median' or 'mean'")
    if given not in ("history", "alive"):
        raise ValueError(f"given={given!r}; use 'history' or 'alive'")
    if statistic == "mean" and given == "history":
        raise ValueError(
            "the mean wait given the history alone is infinite (the customer may have "
            "dropped out); use statistic='median', or given='alive' for the mean wait of a "
            "customer who is still active"
        )
    x, t_x, T_ = _histories(frequency, recency, T)
    r, alpha = results.params["r"], results.params["alpha"]
    shape, scale = r + x, alpha + T_
    if given == "alive":
        if statistic == "mean":
            with np.errstate(divide="ignore"):
                return np.where(shape > 1.0, scale / np.maximum(shape - 1.0, 1e-300), np.inf)
        return scale * np.expm1(np.log(2.0) / shape)
    if results.model != "pareto_nbd":
        alive = results.p_alive(x, t_x, T_)
        with np.errstate(divide="ignore", invalid="ignore"):
            wait = scale * np.expm1(-np.log1p(-0.5 / alive) / shape)
        return np.where(alive > 0.5, wait, np.inf)
    return _pareto_median_wait(results, x, t_x, T_)


def _pareto_median_wait(
    results: PurchaseModelResults, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Median of the (improper) wait under Pareto/NBD: P(active within w) = 1/2,
    interpolated in log w on a geometric grid from 1e-4 to 1e6 time units."""
    triples = np.stack([x.ravel(), t_x.ravel(), T.ravel()], axis=1)
    distinct, inverse = np.unique(triples, axis=0, return_inverse=True)
    grid = np.geomspace(1e-4, 1e6, 241)
    active = np.column_stack(
        [results.p_active(float(w), distinct[:, 0], distinct[:, 1], distinct[:, 2]) for w in grid]
    )
    active = np.maximum.accumulate(active, axis=1)  # a probability of "by w" cannot fall
    out = np.full(distinct.shape[0], np.inf)
    reaches = active[:, -1] >= 0.5
    for row in np.flatnonzero(reaches):
        k = int(np.searchsorted(active[row], 0.5))
        if k == 0:
            out[row] = grid[0]
            continue
        lo, hi = active[row, k - 1], active[row, k]
        share = 0.0 if hi == lo else (0.5 - lo) / (hi - lo)
        out[row] = float(np.exp(np.log(grid[k - 1]) + share * np.log(grid[k] / grid[k - 1])))
    return out[inverse.ravel()].reshape(x.shape)


# ---------------------------------------------------------------------------
# P(alive) path of one customer


def p_alive_path(
    results: PurchaseModelResults,
    purchase_times: Sequence[float] | np.ndarray,
    T: float,
    step: float = 1.0,
) -> pl.DataFrame:
    """P(alive) of one customer over their history, as lifetimes'
    ``calculate_alive_path`` (computed here, on any pandas).

    Parameters
    ----------
    results
        A purchase model.
    purchase_times
        Times of the customer's purchase periods, in the model's time unit,
        measured from the first purchase (which is at 0; it is added when
        missing). Several purchases at one time count once, as in
        :func:`clv.summarize`.
    T
        Age of the customer at the end of the path (>= the last purchase).
    step
        Spacing of the evaluation grid; the purchase times are added to the
        grid so that the path shows the jump at each purchase.

    Returns
    -------
    polars.DataFrame
        ``t`` (age), ``frequency``, ``recency`` (the history at ``t``),
        ``purchase`` (True where a purchase happens at ``t``) and ``p_alive``.
    """
    results = _check_results(results)
    times = np.unique(np.asarray(purchase_times, dtype=float))
    if not np.all(np.isfinite(times)) or np.any(times < 0):
        raise ValueError("purchase_times must be finite times since the first purchase, >= 0")
    if not (np.isfinite(T) and T >= 0):
        raise ValueError(f"T={T}; give the customer's age at the end, >= 0")
    if times.size and times[-1] > T:
        raise ValueError(
            f"a purchase at {times[-1]:g} is after the end of the path (T={T:g}); give a "
            "larger T or leave that purchase out"
        )
    if not (np.isfinite(step) and step > 0):
        raise ValueError(f"step={step}; give a positive spacing")
    if times.size == 0 or times[0] > 0:
        times = np.concatenate([[0.0], times])
    grid = np.union1d(np.append(np.arange(0.0, T, step), T), times)
    n_before = np.searchsorted(times, grid, side="right")  # purchases at or before t
    frequency = (n_before - 1).astype(float)
    recency = times[n_before - 1]
    return pl.DataFrame(
        {
            "t": grid,
            "frequency": frequency.astype(np.int64),
            "recency": recency,
            "purchase": np.isin(grid, times),
            "p_alive": results.p_alive(frequency, recency, grid),
        }
    )


# ---------------------------------------------------------------------------
# CLV intervals from parameter uncertainty


def _conditional_expected_purchases(
    model: str,
    params: dict[str, float],
    times: np.ndarray,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
) -> np.ndarray:
    """E[X(T, T + t) | x, t_x, T] for every customer (rows) and time ``t``
    (columns), BG/NBD or MBG/NBD, in one vectorised evaluation.

    BG/NBD, Fader, Hardie and Lee (2005), equation (10)::

        (a + b + x - 1) / (a - 1)
        * [1 - ((alpha + T) / (alpha + T + t))^(r + x)
               2F1(r + x, b + x; a + b + x - 1; t / (alpha + T + t))]
        / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x))

    MBG/NBD (Batislam, Denizel and Filiztekin 2007): ``b + x`` becomes
    ``b + x + 1`` inside, so ``a + b + x - 1`` becomes ``a + b + x`` and the
    P(alive) term has no ``[x > 0]``.
    """
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    shift = 1.0 if model == "mbgnbd" else 0.0
    x_, t_x_, T_ = x[:, None], t_x[:, None], T[:, None]
    t = np.asarray(times, dtype=float)[None, :]
    rx = r + x_
    total = a + b + x_ - 1.0 + shift
    with np.errstate(all="ignore"):
        hyp = hyp2f1(rx, b + x_ + shift, total, t / (alpha + T_ + t))
        growth = 1.0 - np.exp(rx * np.log((alpha + T_) / (alpha + T_ + t))) * hyp
        odds = np.exp(
            np.log(a) - np.log(b + x_ - 1.0 + shift) + rx * np.log((alpha + T_) / (alpha + t_x_))
        )
    if shift == 0.0:
        odds = np.where(x_ > 0, odds, 0.0)
    return total / (a - 1.0) * growth / (1.0 + odds)


def _draw_log_params(
    estimate: dict[str, float], cov_log: np.ndarray, draws: int, rng: np.random.Generator, what: str
) -> np.ndarray:
    cov = np.asarray(cov_log, dtype=float)
    if not np.all(np.isfinite(cov)):
        raise ValueError(
            f"the {what} model has no covariance of its parameters (it was given, not "
            "fitted, or loaded without one); fit it with clv.fit_purchase_model / "
            "clv.fit_spend_model to get intervals"
        )
    mean = np.log(np.array(list(estimate.values()), dtype=float))
    return np.exp(rng.multivariate_normal(mean, cov, size=draws, method="eigh"))


def clv_intervals(
    purchase: PurchaseModelResults,
    spend: SpendModelResults | None,
    summary: pl.DataFrame,
    *,
    horizon_days: float = 365.0,
    discount_rate_annual: float = 0.10,
    level: float = 0.90,
    draws: int = 500,
    seed: int | np.random.Generator = 0,
    steps_per_year: int = 12,
    margin: float | None = None,
) -> pl.DataFrame:
    """Per-customer intervals for CLV from the uncertainty of the estimated
    parameters.

    CLV here is :func:`clv.score`'s ``clv``: the expected discounted value over
    the horizon given the history, a function of the model parameters. The
    parameters are drawn from the asymptotic normal distribution of their
    logarithms (the estimate and ``cov_log_params``, the inverse observed
    information), the purchase and spend models independently (their
    likelihoods are separate under the Gamma-Gamma independence assumption),
    CLV is recomputed for every draw, and the interval is the central
    ``level`` share of the draws. It covers the *expected* value at the true
    parameters, not the value a customer will actually bring, which varies far
    more.

    A spend draw with ``q <= 1`` has an infinite mean spend per order; such a
    draw gives an infinite CLV (it is kept, not dropped, and shows as an
    infinite upper bound when it falls in the tail).

    Parameters
    ----------
    purchase, spend
        Fitted purchase and spend models; without a spend model only the
        purchase model's uncertainty is drawn (see :func:`clv.score`).
    summary
        Per-customer summary the models were fitted on (or one like it).
    horizon_days, discount_rate_annual, steps_per_year, margin
        As :func:`clv.score`.
    level
        Share of the draws inside each interval (0.90 by default).
    draws
        Number of parameter draws.
    seed
        Seed or generator for the draws.

    Returns
    -------
    polars.DataFrame
        ``customer_id`` (when the summary has it), ``clv`` (at the estimates),
        ``clv_lower``, ``clv_upper`` and ``clv_se`` (standard deviation of the
        finite draws), one row per customer in the summary's order.
    """
    from clv.scoring import score

    _check_results(purchase)
    if spend is not None and not isinstance(spend, SpendModelResults):
        raise TypeError(f"spend is a {type(spend).__name__}; give clv.fit_spend_model's result")
    if not 0 < level < 1:
        raise ValueError(f"level={level}; give a share between 0 and 1, e.g. 0.90")
    if not isinstance(draws, int) or draws < 20:
        raise ValueError(f"draws={draws!r}; give at least 20 (500 or more for stable bounds)")
    _summary_columns(summary)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    options = {
        "horizon_days": horizon_days,
        "discount_rate_annual": discount_rate_annual,
        "steps_per_year": steps_per_year,
        "margin": margin,
    }
    used = [c for c in summary.columns if c != "customer_id"]
    distinct = summary.select(used).unique(maintain_order=True)
    scored = score(distinct, purchase, spend, **options)
    point = scored["clv"].to_numpy()

    # clv = margin * expected_order_value * sum_k increment_k * discount_k, as clv.score
    f_col, r_col, t_col = _summary_columns(distinct)
    x, t_x, T = (distinct[c].to_numpy().astype(float) for c in (f_col, r_col, t_col))
    unit_days = DAYS_PER_UNIT[purchase.time_unit]
    n_steps = max(1, math.ceil(horizon_days / _DAYS_PER_YEAR * steps_per_year - 1e-9))
    step_days = horizon_days / n_steps
    ends = np.arange(1, n_steps + 1) * step_days
    discount = (1.0 + discount_rate_annual) ** (-ends / _DAYS_PER_YEAR)
    factor = 1.0 if margin is None else float(margin)
    order_value = scored["expected_order_value"].to_numpy()
    if spend is not None:
        mv = "monetary_value_cal" if f_col.endswith("_cal") else "monetary_value"
        monetary = distinct[mv].to_numpy().astype(float)

    def discounted_purchases(params: dict[str, float]) -> np.ndarray:
        times = ends / unit_days
        if purchase.model == "pareto_nbd":
            model = PurchaseModelResults.from_params(
                purchase.model, params, time_unit=purchase.time_unit
            )
            cumulative = np.column_stack([model.expected_purchases(u, x, t_x, T) for u in times])
        else:
            cumulative = _conditional_expected_purchases(purchase.model, params, times, x, t_x, T)
        return np.diff(cumulative, axis=1, prepend=0.0) @ discount

    purchase_draws = _draw_log_params(
        purchase.params, purchase.cov_log_params, draws, rng, "purchase"
    )
    spend_draws = (
        None
        if spend is None
        else _draw_log_params(spend.params, spend.cov_log_params, draws, rng, "spend")
    )
    values = np.empty((draws, distinct.height))
    for i in range(draws):
        drawn_purchase = dict(zip(purchase.params, purchase_draws[i].tolist(), strict=True))
        value = order_value
        if spend is not None:
            drawn = dict(zip(spend.params, spend_draws[i].tolist(), strict=True))
            if drawn["q"] <= 1.0:
                values[i] = np.inf
                continue
            value = dataclasses.replace(spend, params=drawn).expected_order_value(x, monetary)
        values[i] = factor * value * discounted_purchases(drawn_purchase)

    tail = (1.0 - level) / 2.0
    method = "linear" if np.all(np.isfinite(values)) else "inverted_cdf"
    lower, upper = np.quantile(values, [tail, 1.0 - tail], axis=0, method=method)
    finite = np.where(np.isfinite(values), values, np.nan)
    with np.errstate(invalid="ignore"):
        spread = np.nanstd(finite, axis=0, ddof=1)
    per_row = distinct.with_columns(
        pl.Series("clv", point),
        pl.Series("clv_lower", lower),
        pl.Series("clv_upper", upper),
        pl.Series("clv_se", spread),
    )
    keep = ["customer_id"] if "customer_id" in summary.columns else []
    out = summary.join(per_row, on=used, how="left", maintain_order="left", nulls_equal=True)
    return out.select(*keep, "clv", "clv_lower", "clv_upper", "clv_se")


# ---------------------------------------------------------------------------
# figures


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    return Figure(figsize=(7.0, 4.0), layout="constrained").add_subplot()


def plot_repeat_purchase_histogram(
    histogram: RepeatPurchaseHistogram, ax: Axes | None = None, lang: str = "en"
) -> Figure:
    """Bars of actual and expected customers by number of repeat purchases
    (Fader, Hardie and Lee 2005, figure 2), one bar per model, the chi-square
    p-value in the legend.

    Draws on ``ax`` (a new figure when not given) and returns its Figure.
    """
    ax = _axes(ax)
    table = histogram.table
    models = table["model"].unique(maintain_order=True).to_list()
    first = table.filter(pl.col("model") == models[0])
    labels = first["bin"].to_list()
    positions = np.arange(len(labels))
    width = 0.8 / (len(models) + 1)
    offsets = (np.arange(len(models) + 1) - len(models) / 2) * width
    ax.bar(
        positions + offsets[0],
        first["actual"].to_numpy(),
        width,
        label=i18n.AXES("actual", lang),
        color="0.35",
    )
    fit = {row["model"]: row for row in histogram.fit.iter_rows(named=True)}
    for i, model in enumerate(models, start=1):
        rows = table.filter(pl.col("model") == model)
        chi = fit[model]
        text = i18n.pick(
            lang,
            f"{_LABELS[model]} (chi-square {chi['chi_square']:.1f}, df {chi['df']}, "
            f"p = {chi['p_value']:.2g})",
            f"{_LABELS[model]}（卡方 {chi['chi_square']:.1f}，自由度 {chi['df']}，"
            f"p = {chi['p_value']:.2g}）",
        )
        ax.bar(positions + offsets[i], rows["expected"].to_numpy(), width, label=text)
    ax.set_xticks(positions, labels)
    ax.set_xlabel(i18n.pick(lang, "repeat purchases in calibration", "校准期重复购买次数"))
    ax.set_ylabel(i18n.AXES("customers", lang))
    ax.set_title(
        i18n.pick(lang, "Repeat purchases: actual and expected", "重复购买次数：实际与模型预期"),
        fontsize=11,
    )
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return ax.figure


def plot_p_alive_path(
    path: pl.DataFrame,
    ax: Axes | None = None,
    lang: str = "en",
    time_unit: str | None = None,
) -> Figure:
    """The P(alive) path of one customer (:func:`p_alive_path`), with a mark
    at each purchase.

    Draws on ``ax`` (a new figure when not given) and returns its Figure.
    """
    missing = [c for c in ("t", "p_alive", "purchase") if c not in path.columns]
    if missing:
        raise ValueError(f"path lacks the columns {missing}; give the frame of p_alive_path")
    ax = _axes(ax)
    t = path["t"].to_numpy()
    alive = path["p_alive"].to_numpy()
    ax.plot(t, alive, color="C0", label=i18n.AXES("p_alive", lang))
    bought = path["purchase"].to_numpy()
    ax.scatter(
        t[bought],
        alive[bought],
        color="C3",
        zorder=3,
        s=18,
        label=i18n.pick(lang, "purchase", "购买"),
    )
    unit = f" ({time_unit})" if time_unit else ""
    ax.set_xlabel(i18n.pick(lang, "time since first purchase", "距首次购买的时间") + unit)
    ax.set_ylabel(i18n.AXES("p_alive", lang))
    ax.set_ylim(0.0, 1.05)
    ax.set_title(
        i18n.pick(lang, "Chance the customer is still active", "客户仍活跃的概率"), fontsize=11
    )
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return ax.figure
