"""Maximum-likelihood fits: optimiser, starts, convergence, fallbacks.

clv's own engine (``engine="clv"``, the default) maximises the factorised
log-likelihood of each family (:mod:`clv.models.bgnbd`,
:mod:`clv.models.mbgnbd`, :mod:`clv.models.pareto_nbd`,
:mod:`clv.models.gamma_gamma`) with its analytic gradient, over the
logarithms of the parameters, by L-BFGS-B from several starting points: one
from the moments of the data and a few spread around it (for Pareto/NBD also
two in the region of very dispersed dropout rates, where a second maximum can
lie). On large data the starts run on a random sample of customers and the
best of them is refined on all customers. The best point is then polished by
Newton steps with the Hessian (central differences of the analytic
gradient), which also gives the covariance.

A fit succeeds only at an interior maximum: the gradient vanishes, the
Hessian is negative definite and no start found a higher likelihood towards
the edge of the parameter space. Otherwise :class:`ModelFitError` says why,
with each start's reason (boundary, flat likelihood, too few repeat buyers).

``engine="lifetimes"`` fits through lifetimes' own fitters, the reference
(:mod:`clv.models._lifetimes`); the covariance comes from the same Hessian.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import optimize, stats

from clv.models import _lifetimes, bgnbd, gamma_gamma, mbgnbd, pareto_nbd
from clv.models._histories import Histories
from clv.models.results import (
    _PARAM_NAMES,
    ENGINES,
    PURCHASE_MODELS,
    Engine,
    FitAttempt,
    IndependenceCheck,
    ModelFitError,
    PurchaseModel,
    PurchaseModelResults,
    SpendModelResults,
)
from clv.rfm import compress

__all__ = [
    "fit_purchase_model",
    "fit_purchase_model_with_fallback",
    "fit_spend_model",
    "spend_independence_check",
]

_BOUNDS = (1e-6, 1e7)  # estimates outside are the optimiser running off to a boundary
_LOG_LIMITS = (np.log(1e-9), np.log(1e10))  # the optimiser's box, wider than _BOUNDS
_SAMPLE_ROWS = 30_000  # above this many distinct rows, starts run on a sample
_SAMPLE_CUSTOMERS = 20_000
# Pareto/NBD evaluations cost hypergeometric functions per distinct pair: a
# smaller sample for its starts
_SAMPLE_CUSTOMERS_PARETO = 5_000
_SAMPLE_CUSTOMERS_SPEND = 10_000
_AGREE = 1e-7  # relative log-likelihood difference for two starts to agree
_HESSIAN_STEP = 1e-3  # central-difference step of the Hessian, in log parameters
_DECREMENT = 1e-8  # Newton decrement, relative to the objective, of a converged fit
_FORWARD_STEP = 1e-5  # forward-difference step, on large data

ValueGrad = Callable[[np.ndarray], tuple[float, np.ndarray]]


# ---------------------------------------------------------------------------
# the optimiser


@dataclass(frozen=True)
class _Problem:
    """A log-likelihood to maximise: value and gradient in log parameters on
    all data (``full``) and, for large data, on a sample (``sample``)."""

    names: tuple[str, ...]
    full: ValueGrad
    n_customers: float
    sample: ValueGrad | None = None
    sample_customers: float = 0.0
    penalizer: float = 0.0
    penalty_scale: np.ndarray | None = None  # lifetimes' time scaling of the penalty


@dataclass
class _Run:
    start: str
    log_params: np.ndarray
    loglik: float  # per customer, unpenalised
    objective: float  # per customer, penalised, to minimise
    grad_norm: float
    message: str


def _objective(problem: _Problem, value_grad: ValueGrad, n: float):
    scale = problem.penalty_scale if problem.penalty_scale is not None else 1.0

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(all="ignore"):
            value, grad = value_grad(theta)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return np.inf, np.zeros_like(theta)
        f = -value / n
        g = -grad / n
        if problem.penalizer > 0:
            scaled = (np.exp(theta) * scale) ** 2
            f += problem.penalizer * scaled.sum()
            g = g + 2 * problem.penalizer * scaled
        return f, g

    return fun


def _lbfgs(fun, theta0: np.ndarray, start: str, tight: bool) -> _Run:
    bounds = [_LOG_LIMITS] * theta0.size
    f0, _ = fun(theta0)
    if not np.isfinite(f0):
        return _Run(start, theta0, -np.inf, np.inf, np.inf, "likelihood not finite at the start")
    result = optimize.minimize(
        fun,
        theta0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={
            "maxiter": 2000,
            "ftol": 1e-15 if tight else 1e-12,
            "gtol": 1e-10 if tight else 1e-7,
        },
    )
    f, g = fun(result.x)
    return _Run(start, result.x, np.nan, f, float(np.max(np.abs(g))), str(result.message))


def _hessian(fun, theta: np.ndarray, *, forward: bool = False, grad=None) -> np.ndarray:
    """Hessian of the minimised objective by differences of its analytic gradient:
    central differences, or forward differences from ``grad`` (the gradient at
    ``theta``) with half the evaluations, for large data."""
    k = theta.size
    hess = np.empty((k, k))
    for i in range(k):
        step = np.zeros(k)
        if forward:
            step[i] = _FORWARD_STEP
            hess[:, i] = (fun(theta + step)[1] - grad) / _FORWARD_STEP
        else:
            step[i] = _HESSIAN_STEP
            hess[:, i] = (fun(theta + step)[1] - fun(theta - step)[1]) / (2 * _HESSIAN_STEP)
    return (hess + hess.T) / 2


def _positive_definite(hess: np.ndarray) -> bool:
    try:
        eig = np.linalg.eigvalsh(hess)
    except np.linalg.LinAlgError:
        return False
    return bool(np.all(np.isfinite(eig)) and eig.min() > 1e-12 * max(eig.max(), 1e-300))


def _newton(fun, theta: np.ndarray, hess: np.ndarray, steps: int):
    """Newton steps with a fixed Hessian, halved while they do not lower the
    objective, until the Newton decrement is at rounding level. Returns theta,
    f and gradient."""
    f, g = fun(theta)
    for _ in range(steps):
        step = np.linalg.solve(hess, g)
        if float(g @ step) < 1e-15 * max(abs(f), 1.0):
            break
        for _ in range(6):
            candidate = np.clip(theta - step, *_LOG_LIMITS)
            f_new, g_new = fun(candidate)
            if np.isfinite(f_new) and f_new <= f:
                break
            step = step / 2
        else:
            break
        theta, f, g = candidate, f_new, g_new
    return theta, f, g


def _polish(fun, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Newton steps from ``theta`` with the Hessian (central differences),
    recomputed while the gradient is not yet negligible; the last Hessian
    (None when it is not positive definite)."""
    hess = None
    for _ in range(3):
        hess = _hessian(fun, theta)
        if not _positive_definite(hess):
            return theta, None
        theta, _, g = _newton(fun, theta, hess, steps=6)
        if np.max(np.abs(g)) < 1e-9:
            break
    return theta, hess


def _covariance(hess: np.ndarray, theta: np.ndarray, problem: _Problem) -> np.ndarray:
    """Covariance of the log parameters: the inverse observed information of
    the total log-likelihood, from the Hessian ``hess`` of the per-customer
    objective with the penalty's own curvature taken out (as lifetimes does)."""
    info = hess
    if problem.penalizer > 0:
        scale = problem.penalty_scale if problem.penalty_scale is not None else 1.0
        unpenalised = hess - np.diag(4 * problem.penalizer * (np.exp(theta) * scale) ** 2)
        if np.linalg.eigvalsh(unpenalised).min() > 0:
            info = unpenalised
    return np.linalg.inv(info * problem.n_customers)


def _at_boundary(names: tuple[str, ...], params: np.ndarray) -> str:
    """Describe estimates at the edge of the parameter space ('' when none are)."""
    low, high = _BOUNDS
    off = [f"{n}={v:.3g}" for n, v in zip(names, params, strict=True) if not low < v < high]
    if not off:
        return ""
    return (
        f"the estimate ran to the boundary of the parameter space ({', '.join(off)}), so "
        "the data cannot identify the model"
    )


def _describe(names: tuple[str, ...], theta: np.ndarray) -> str:
    return "(" + ", ".join(f"{n}={v:.4g}" for n, v in zip(names, np.exp(theta), strict=True)) + ")"


def _maximise(
    problem: _Problem, starts: dict[str, np.ndarray], label: str, penalizer: float
) -> tuple[np.ndarray, np.ndarray, dict[str, object]]:
    """Multi-start maximisation. Returns log parameters, the covariance of the
    log parameters and a convergence record; raises ModelFitError(detail)
    carrying one FitAttempt per start when there is no interior maximum."""
    on_sample = problem.sample is not None
    explore = _objective(
        problem,
        problem.sample if on_sample else problem.full,
        problem.sample_customers if on_sample else problem.n_customers,
    )
    full = _objective(problem, problem.full, problem.n_customers)
    runs = [_lbfgs(explore, np.log(p), name, tight=False) for name, p in starts.items()]
    finite = [r for r in runs if np.isfinite(r.objective)]
    if not finite:
        raise _NoMaximum("the likelihood is not finite at any starting point", runs, problem)
    finite.sort(key=lambda r: r.objective)
    best = finite[0]
    tolerance = _AGREE * max(abs(best.objective), 1.0)
    agree = [r for r in finite if r.objective - best.objective <= tolerance]
    # an interior point as high as the best (a ridge running to the edge) is the answer
    interior = [r for r in agree if not _at_boundary(problem.names, np.exp(r.log_params))]
    if interior:
        best = interior[0]
    theta = best.log_params
    boundary = _at_boundary(problem.names, np.exp(theta))
    if boundary:
        raise _NoMaximum(boundary, runs, problem)
    hess = None
    if on_sample:
        # The sample's maximum is close to the full data's and its Hessian close
        # to theirs (per customer): Newton steps on all data with the sample's
        # Hessian, then the full Hessian at the maximum for the covariance.
        sample_hess = _hessian(explore, theta)
        if _positive_definite(sample_hess):
            theta, _, g = _newton(full, theta, sample_hess, steps=1)
            hess = _hessian(full, theta, forward=True, grad=g)
            if _positive_definite(hess):
                theta, _, _ = _newton(full, theta, hess, steps=6)
            else:
                hess = None
        if hess is None:
            theta = _lbfgs(full, theta, best.start, tight=True).log_params
    if hess is None:
        theta, hess = _polish(full, theta)
    if hess is None:
        # the exploration stopped early on a flat stretch: go on to convergence
        theta = _lbfgs(full, theta, best.start, tight=True).log_params
        theta, hess = _polish(full, theta)
    if hess is None:
        raise _NoMaximum(
            "the likelihood is flat there: it has no proper maximum (Hessian not negative "
            "definite)",
            runs,
            problem,
        )
    f, g = full(theta)
    decrement = float(g @ np.linalg.solve(hess, g))  # objective left to gain, about twice
    if decrement > _DECREMENT * max(abs(f), 1.0):
        # Newton's method does not settle: one more round with a fresh Hessian
        polished, polished_hess = _polish(full, theta)
        if polished_hess is not None:
            f_new, g_new = full(polished)
            if np.isfinite(f_new) and f_new <= f:
                theta, hess, f, g = polished, polished_hess, f_new, g_new
                decrement = float(g @ np.linalg.solve(hess, g))
    if decrement > _DECREMENT * max(abs(f), 1.0):
        raise _NoMaximum(
            "Newton's method does not settle: the likelihood still rises along a ridge at "
            f"{_describe(problem.names, theta)}, so it has no proper maximum",
            runs,
            problem,
        )
    cov = _covariance(hess, theta, problem)
    record: dict[str, object] = {
        "optimiser": "L-BFGS-B on log parameters, analytic gradient, Newton polish",
        "starts": len(starts),
        "starts_at_maximum": len(agree),
        "explored_on_sample": on_sample,
        "gradient_max_abs": float(np.max(np.abs(g))),
        "newton_decrement": decrement,
        "message": best.message,
    }
    return theta, cov, record


class _NoMaximum(Exception):
    def __init__(self, detail: str, runs: list[_Run], problem: _Problem) -> None:
        super().__init__(detail)
        self.detail = detail
        self.attempts = []
        for r in runs:
            params = np.exp(r.log_params)
            if not np.isfinite(r.objective):
                reason = r.message
            elif _at_boundary(problem.names, params):
                reason = "boundary: " + _at_boundary(problem.names, params)
            else:
                reason = f"interior point {_describe(problem.names, r.log_params)}"
            self.attempts.append((r.start, reason))


# ---------------------------------------------------------------------------
# starting points


def _purchase_starts(model: str, h: Histories) -> dict[str, np.ndarray]:
    c = h.weights
    mean_T = float(c @ h.T / c.sum())
    rate = max(float(c @ h.x) / float(c @ h.T), 1e-3 / mean_T)  # repeat purchases per unit time
    if model == "pareto_nbd":
        return {
            "moments": np.array([1.0, 1.0 / rate, 1.0, 2.0 * mean_T]),
            "ones": np.ones(4),
            "low": np.array([0.2, 0.2 / rate, 0.3, 0.3 * mean_T]),
            "high": np.array([5.0, 5.0 / rate, 3.0, 10.0 * mean_T]),
            # A second mode: dropout rates so dispersed (s and beta small) that
            # part of the customers leave at once and the rest almost never,
            # which explains many one-time buyers; on small populations it can
            # hold the higher maximum, out of reach of the starts above.
            "quick_dropout": np.array([1.0, 1.0 / rate, 0.1, 1e-3 * mean_T]),
            "quick_dropout_deep": np.array([1.0, 1.0 / rate, 0.05, 1e-5 * mean_T]),
        }
    return {
        "moments": np.array([1.0, 1.0 / rate, 1.0, 3.0]),
        "ones": np.ones(4),
        "low": np.array([0.2, 0.2 / rate, 0.5, 5.0]),
        "high": np.array([5.0, 5.0 / rate, 3.0, 1.0]),
    }


def _spend_starts(m: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    mean = float(w @ m / w.sum())
    # population mean spend per order p gamma / (q - 1) matched to the data
    return {
        "moments": np.array([2.0, 3.0, mean * 2.0 / 2.0]),
        "ones": np.ones(3),
        "low": np.array([0.5, 1.5, mean * 0.5 / 0.5]),
        "high": np.array([10.0, 10.0, mean * 9.0 / 10.0]),
    }


# ---------------------------------------------------------------------------
# input checks


def _columns(summary: pl.DataFrame) -> dict[str, str]:
    """Map the model inputs onto a summary's columns (plain or ``*_cal``)."""
    cols = summary.columns
    for suffix in ("", "_cal"):
        names = {k: f"{k}{suffix}" for k in ("frequency", "recency", "T", "monetary_value")}
        if all(names[k] in cols for k in ("frequency", "recency", "T")):
            return names
    raise ValueError(
        f"the summary has columns {cols}; it needs frequency, recency and T (or their "
        "*_cal versions): build it with clv.summarize or clv.calibration_holdout"
    )


def _time_unit(summary: pl.DataFrame, time_unit: str | None) -> str:
    found = None
    if "time_unit" in summary.columns:
        units = summary["time_unit"].cast(pl.String).unique().to_list()
        if len(units) != 1:
            raise ValueError(f"the summary mixes time units {units}; summarise in one unit")
        found = units[0]
    if time_unit is not None and found is not None and time_unit != found:
        raise ValueError(
            f"time_unit={time_unit!r} but the summary is in {found!r}; leave time_unit out"
        )
    unit = time_unit or found
    if unit is None:
        raise ValueError(
            "the summary has no time_unit column; pass time_unit='D', 'W' or 'M' to say "
            "in which unit recency and T are measured"
        )
    return unit


def _check_summary(summary: pl.DataFrame, names: dict[str, str]) -> None:
    f, r, t = (summary[names[k]] for k in ("frequency", "recency", "T"))
    problems = []
    if summary.height == 0:
        problems.append("it has no customers")
    else:
        if f.null_count() or r.null_count() or t.null_count():
            problems.append("frequency, recency or T has missing values")
        elif (f < 0).any() or (r < 0).any() or (r > t + 1e-9).any():
            problems.append("some rows break 0 <= recency <= T or frequency >= 0")
        elif ((f == 0) & (r != 0)).any():
            problems.append("some customers have frequency 0 but recency > 0")
    if problems:
        raise ValueError(
            "the summary cannot be fitted: " + "; ".join(problems) + "; build it with "
            "clv.summarize, or check the columns of a hand-made one"
        )


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r}; use one of {', '.join(ENGINES)}")


def _advice(label: str, n: int, n_repeat: int, tried: str, detail: str, model: str) -> str:
    others = [PURCHASE_MODELS[m] for m in PURCHASE_MODELS if m != model]
    if model == "gamma_gamma":
        alternatives = "a penalizer (e.g. penalizer=0.01), or more repeat buyers"
    else:
        alternatives = (
            f"a penalizer (e.g. penalizer=0.01), another model ({' or '.join(others)}), "
            "or a longer observation window"
        )
    return (
        f"{label} did not converge on {n:,} customers ({n_repeat:,} repeat buyers): "
        f"tried {tried}: {detail.rstrip('.')}. Try {alternatives}."
    )


# ---------------------------------------------------------------------------
# purchase models

_FAMILY = {"bgnbd": bgnbd, "mbgnbd": mbgnbd, "pareto_nbd": pareto_nbd}


def _fit_error(message: str, model: str, penalizer: float, no_max: _NoMaximum | None):
    attempts = ()
    if no_max is not None:
        attempts = tuple(
            FitAttempt(model, penalizer, reason, start=start) for start, reason in no_max.attempts
        )
    return ModelFitError(message, attempts)


def fit_purchase_model(
    summary: pl.DataFrame,
    model: PurchaseModel = "bgnbd",
    *,
    penalizer: float = 0.0,
    time_unit: str | None = None,
    engine: Engine = "clv",
) -> PurchaseModelResults:
    """Fit a purchase model to a per-customer summary.

    Parameters
    ----------
    summary
        A polars frame with ``frequency``, ``recency`` and ``T`` (or the
        ``*_cal`` columns of :func:`clv.calibration_holdout`), one row per
        customer.
    model
        ``"bgnbd"``, ``"pareto_nbd"`` or ``"mbgnbd"``.
    penalizer
        L2 penalty on the parameters (lifetimes' ``penalizer_coef``, on the
        mean log-likelihood per customer with time rescaled to the longest
        age); 0 gives maximum likelihood. A small value (0.001 to 0.1) can
        help data on which the plain fit has no interior maximum.
    time_unit
        Unit of ``recency`` and ``T``; read from the summary's ``time_unit``
        column when it has one.
    engine
        ``"clv"`` (default): clv's own multi-start L-BFGS-B with analytic
        gradients on the factorised likelihood. ``"lifetimes"``: lifetimes'
        own fitter (BFGS, Nelder-Mead for Pareto/NBD), the reference.

    Returns
    -------
    PurchaseModelResults

    Raises
    ------
    ModelFitError
        When the data cannot identify the model (no repeat buyers, too few
        customers) or the likelihood has no interior maximum; the message says
        what was tried and what to try, and ``attempts`` lists each start.

    Examples
    --------
    >>> import clv
    >>> summary = clv.summarize(clv.datasets.cdnow(), freq="W")  # doctest: +SKIP
    >>> clv.fit_purchase_model(summary, "bgnbd").params  # doctest: +SKIP
    """
    if model not in PURCHASE_MODELS:
        raise ValueError(f"model={model!r}; use one of {', '.join(PURCHASE_MODELS)}")
    if penalizer < 0:
        raise ValueError(f"penalizer={penalizer}; it must be >= 0")
    _check_engine(engine)
    names = _columns(summary)
    unit = _time_unit(summary, time_unit)
    _check_summary(summary, names)
    label = PURCHASE_MODELS[model]
    # distinct histories with their counts (clv.compress) are fitted as they are
    counted = "n_customers" in summary.columns
    counts = summary["n_customers"] if counted else pl.Series([1] * summary.height)
    n = int(counts.sum())
    n_repeat = int(counts.filter(summary[names["frequency"]] > 0).sum())
    if n_repeat == 0:
        raise ModelFitError(
            f"{label}: none of the {n:,} customers has a repeat purchase, so purchase rate "
            "and dropout cannot be told apart; use a longer observation window"
        )
    if n < 10 or n_repeat < 3:
        raise ModelFitError(
            f"{label}: {n:,} customers with {n_repeat} repeat buyers are too few to fit "
            "four parameters; grade on more customers or a longer window"
        )

    start = time.perf_counter()
    triples = compress(
        summary.select(
            pl.col(names["frequency"]).alias("frequency"),
            pl.col(names["recency"]).alias("recency"),
            pl.col(names["T"]).alias("T"),
            *([pl.col("n_customers")] if counted else []),
        )
    )
    x = triples["frequency"].to_numpy().astype(float)
    t_x = triples["recency"].to_numpy().astype(float)
    T = triples["T"].to_numpy().astype(float)
    w = triples["n_customers"].to_numpy().astype(float)
    histories = Histories.build(x, t_x, T, w)
    family = _FAMILY[model]
    param_names = _PARAM_NAMES[model]
    scale = np.array([1.0, 1.0 / T.max(), 1.0, 1.0 / T.max() if model == "pareto_nbd" else 1.0])
    problem = _Problem(
        names=param_names,
        full=lambda theta: family.value_and_gradient(theta, histories),
        n_customers=histories.n_customers,
        penalizer=penalizer,
        penalty_scale=scale,
    )
    fitter = None
    if engine == "lifetimes":
        try:
            params, fitter, tried = _lifetimes.fit_purchase(model, x, t_x, T, w, penalizer)
        except _lifetimes.FitFailed as exc:
            raise ModelFitError(
                _advice(label, n, n_repeat, "maximum likelihood through lifetimes", str(exc), model)
            ) from None
        tried = f"maximum likelihood through {tried}, penalizer={penalizer:g}"
        if not (np.all(np.isfinite(params)) and np.all(params > 0)):
            raise ModelFitError(
                _advice(label, n, n_repeat, tried, f"estimates {params} are not usable", model)
            )
        boundary = _at_boundary(param_names, params)
        if boundary:
            raise ModelFitError(_advice(label, n, n_repeat, tried, boundary, model))
        fun = _objective(problem, problem.full, problem.n_customers)
        hess = _hessian(fun, np.log(params))
        if np.linalg.eigvalsh(hess).min() <= 0:
            raise ModelFitError(
                _advice(
                    label,
                    n,
                    n_repeat,
                    tried,
                    "the likelihood has no proper maximum there (Hessian not negative definite)",
                    model,
                )
            )
        cov_log = _covariance(hess, np.log(params), problem)
        record: dict[str, object] = {"optimiser": tried}
    else:
        if histories.x.size > _SAMPLE_ROWS:
            size = _SAMPLE_CUSTOMERS_PARETO if model == "pareto_nbd" else _SAMPLE_CUSTOMERS
            sample = histories.subsample(size)
            problem = _Problem(
                names=param_names,
                full=problem.full,
                n_customers=problem.n_customers,
                sample=lambda theta: family.value_and_gradient(theta, sample),
                sample_customers=sample.n_customers,
                penalizer=penalizer,
                penalty_scale=scale,
            )
        starts = _purchase_starts(model, histories)
        tried = f"maximum likelihood by L-BFGS-B from {len(starts)} starts, penalizer={penalizer:g}"
        try:
            theta, cov_log, record = _maximise(problem, starts, label, penalizer)
        except _NoMaximum as exc:
            raise _fit_error(
                _advice(label, n, n_repeat, tried, exc.detail, model), model, penalizer, exc
            ) from None
        params = np.exp(theta)
    seconds = time.perf_counter() - start
    with np.errstate(all="ignore"):
        loglik = float(np.sum(w * family.loglik_grouped(params, histories)))
    if not np.isfinite(loglik):
        raise ModelFitError(
            _advice(label, n, n_repeat, tried, f"estimates {params} are not usable", model)
        )
    notes = []
    if penalizer > 0:
        notes.append(f"Penalised fit (penalizer={penalizer:g}): estimates are shrunk.")
    return PurchaseModelResults(
        model=model,
        params=dict(zip(param_names, params.tolist(), strict=True)),
        cov_params=cov_log * np.outer(params, params),
        cov_log_params=cov_log,
        loglik=loglik,
        n_customers=n,
        n_rows_fitted=triples.height,
        penalizer=penalizer,
        fit_seconds=seconds,
        notes=tuple(notes),
        convergence=record,
        time_unit=unit,
        _fitter=fitter,
        engine=engine,
    )


# ---------------------------------------------------------------------------
# spend model


def spend_independence_check(summary: pl.DataFrame) -> IndependenceCheck:
    """Correlation of purchase frequency with mean spend among repeat buyers.

    Gamma-Gamma assumes none; a clear correlation means the CLV of frequent
    buyers is biased and the spend model should be used with care.
    """
    names = _columns(summary)
    if names["monetary_value"] not in summary.columns:
        raise ValueError("the summary has no monetary_value column; summarise with amounts")
    repeat = summary.filter(pl.col(names["frequency"]) > 0).select(
        x=pl.col(names["frequency"]).cast(pl.Float64),
        m=pl.col(names["monetary_value"]).cast(pl.Float64),
    )
    n = repeat.height
    spread = repeat.select(pl.col("x").n_unique(), pl.col("m").n_unique()).row(0)
    if n < 3 or min(spread) < 2:
        return IndependenceCheck(n, np.nan, np.nan, np.nan, np.nan)
    pearson, spearman = repeat.select(
        pl.corr("x", "m"), pl.corr("x", "m", method="spearman").alias("s")
    ).row(0)
    return IndependenceCheck(
        n_customers=n,
        pearson_r=float(pearson),
        pearson_pvalue=_correlation_pvalue(pearson, n),
        spearman_rho=float(spearman),
        spearman_pvalue=_correlation_pvalue(spearman, n),
    )


def _correlation_pvalue(r: float, n: int) -> float:
    """Two-sided p-value of a correlation ``r`` of ``n`` pairs: the t-test with
    n - 2 degrees of freedom (as scipy's ``pearsonr``, whose exact Beta form is
    the same distribution, and ``spearmanr``)."""
    if abs(r) >= 1.0:
        return 0.0
    t = r * np.sqrt((n - 2) / (1.0 - r * r))
    return float(2.0 * stats.t.sf(abs(t), n - 2))


def fit_spend_model(
    summary: pl.DataFrame, *, penalizer: float = 0.0, engine: Engine = "clv"
) -> SpendModelResults:
    """Fit the Gamma-Gamma spend model on the repeat buyers of a summary.

    Customers without repeat purchases carry no spend information beyond the
    first order and are left out, as in Fader and Hardie (2013); repeat buyers
    whose mean repeat spend is not positive are left out too and counted in
    ``n_excluded``.

    Parameters
    ----------
    summary
        A polars frame with ``frequency`` and ``monetary_value`` (or their
        ``*_cal`` versions).
    penalizer
        L2 penalty on the parameters (lifetimes' ``penalizer_coef``).
    engine
        ``"clv"`` (default, multi-start L-BFGS-B with analytic gradients) or
        ``"lifetimes"`` (lifetimes' ``GammaGammaFitter``).

    Raises
    ------
    ModelFitError
        With too few repeat buyers, when the likelihood has no interior
        maximum, or when the estimate has ``q <= 1`` (the mean spend per order
        would be infinite).
    """
    _check_engine(engine)
    names = _columns(summary)
    if names["monetary_value"] not in summary.columns:
        raise ValueError("the summary has no monetary_value column; summarise a log with amounts")
    repeat = summary.filter(pl.col(names["frequency"]) > 0)
    usable = repeat.filter(pl.col(names["monetary_value"]) > 0)
    n_excluded = repeat.height - usable.height
    if usable.height < 10:
        raise ModelFitError(
            f"Gamma-Gamma: {usable.height} repeat buyers with positive spend are too few to "
            "fit; use a longer window or score without a spend model"
        )
    start = time.perf_counter()
    spend = usable.select(
        pl.col(names["frequency"]).cast(pl.Float64).alias("frequency"),
        pl.col(names["monetary_value"]).cast(pl.Float64).alias("monetary_value"),
    )
    if engine == "lifetimes":
        # distinct (frequency, mean spend) pairs with counts, as lifetimes' fitter takes them
        spend = compress(spend, columns=("frequency", "monetary_value"))
    else:
        # mean spends rarely repeat, so distinct pairs save little: every customer
        # is a row, with the frequency terms computed once per distinct frequency
        spend = spend.with_columns(pl.lit(1.0).alias("n_customers"))
    x = spend["frequency"].to_numpy()
    m = spend["monetary_value"].to_numpy()
    w = spend["n_customers"].to_numpy().astype(float)
    data = gamma_gamma.SpendData.build(x, m, w)
    problem = _Problem(
        names=_PARAM_NAMES["gamma_gamma"],
        full=lambda theta: gamma_gamma.value_and_gradient(theta, data),
        n_customers=data.n_customers,
        penalizer=penalizer,
    )
    n_use = usable.height

    def advice(tried: str, detail: str) -> str:
        return _advice("Gamma-Gamma", n_use, n_use, tried, detail, "gamma_gamma")

    if engine == "lifetimes":
        try:
            params, _, tried = _lifetimes.fit_spend(x, m, w, penalizer)
        except _lifetimes.FitFailed as exc:
            raise ModelFitError(advice("lifetimes' GammaGammaFitter", str(exc))) from None
        tried = f"{tried} with penalizer={penalizer:g}"
        boundary = _at_boundary(problem.names, params)
        if boundary:
            raise ModelFitError(advice(tried, boundary))
        hess = _hessian(_objective(problem, problem.full, problem.n_customers), np.log(params))
        if not np.all(np.isfinite(hess)) or np.linalg.eigvalsh(hess).min() <= 0:
            raise ModelFitError(advice(tried, "the likelihood has no proper maximum there"))
        cov_log = _covariance(hess, np.log(params), problem)
        record: dict[str, object] = {"optimiser": tried}
    else:
        if x.size > _SAMPLE_ROWS:
            sample = data.subsample(_SAMPLE_CUSTOMERS_SPEND)
            problem = _Problem(
                names=problem.names,
                full=problem.full,
                n_customers=problem.n_customers,
                sample=lambda theta: gamma_gamma.value_and_gradient(theta, sample),
                sample_customers=sample.n_customers,
                penalizer=penalizer,
            )
        starts = _spend_starts(m, w)
        tried = f"maximum likelihood by L-BFGS-B from {len(starts)} starts, penalizer={penalizer:g}"
        try:
            theta, cov_log, record = _maximise(problem, starts, "Gamma-Gamma", penalizer)
        except _NoMaximum as exc:
            raise _fit_error(advice(tried, exc.detail), "gamma_gamma", penalizer, exc) from None
        params = np.exp(theta)
    seconds = time.perf_counter() - start
    with np.errstate(all="ignore"):
        loglik = float(np.sum(w * gamma_gamma.loglik(params, x, m)))
    if not np.isfinite(loglik):
        raise ModelFitError(advice(tried, "the likelihood is not finite at the estimate"))
    if params[1] <= 1:
        raise ModelFitError(
            f"Gamma-Gamma: q = {params[1]:.3f} <= 1, so the mean spend per order is not "
            "finite; spend is too heavy-tailed for this model: cap extreme orders or add "
            "a penalizer"
        )
    notes = [] if penalizer == 0 else [f"Penalised fit (penalizer={penalizer:g})."]
    independence = spend_independence_check(summary)
    if not np.isnan(independence.pearson_r) and not independence.holds():
        notes.append(
            "Frequency and spend per order are correlated (|r| >= 0.3): the Gamma-Gamma "
            "independence assumption is doubtful on these data."
        )
    return SpendModelResults(
        model="gamma_gamma",
        params=dict(zip(_PARAM_NAMES["gamma_gamma"], params.tolist(), strict=True)),
        cov_params=cov_log * np.outer(params, params),
        cov_log_params=cov_log,
        loglik=loglik,
        n_customers=usable.height,
        n_rows_fitted=spend.height,
        penalizer=penalizer,
        fit_seconds=seconds,
        notes=tuple(notes),
        convergence=record,
        n_excluded=n_excluded,
        independence=independence,
        engine=engine,
    )


# ---------------------------------------------------------------------------
# fallbacks


def fit_purchase_model_with_fallback(
    summary: pl.DataFrame,
    model: PurchaseModel = "bgnbd",
    *,
    penalizers: tuple[float, ...] = (0.0, 0.001, 0.01, 0.1),
    other_models: bool = True,
    time_unit: str | None = None,
    engine: Engine = "clv",
) -> tuple[PurchaseModelResults, list[FitAttempt]]:
    """Fit ``model``; when it fails, retry with growing penalizers, then the other
    purchase models. The documented fallback for scheduled runs.

    Returns the first fit that works and the list of attempts (the failed ones
    say why), so a report can show that a fallback was used.

    Raises
    ------
    ModelFitError
        When nothing works (for example, no customer has a repeat purchase),
        listing every attempt.
    """
    order = [model] + ([m for m in PURCHASE_MODELS if m != model] if other_models else [])
    attempts: list[FitAttempt] = []
    for candidate in order:
        for penalizer in penalizers:
            try:
                fit = fit_purchase_model(
                    summary, candidate, penalizer=penalizer, time_unit=time_unit, engine=engine
                )
            except ModelFitError as exc:
                attempts.append(FitAttempt(candidate, penalizer, str(exc)))
                if "too few" in str(exc) or "none of the" in str(exc):
                    # the data, not the optimiser, are the problem: no retry helps
                    raise ModelFitError(str(exc), tuple(attempts)) from None
                continue
            attempts.append(FitAttempt(candidate, penalizer, None))
            return fit, attempts
    tried = "; ".join(f"{a.model} (penalizer={a.penalizer:g}): {a.error}" for a in attempts)
    raise ModelFitError(f"no purchase model could be fitted; tried {tried}", tuple(attempts))
