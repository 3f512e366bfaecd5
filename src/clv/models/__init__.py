"""Purchase and spend models, fitted through lifetimes.

This is the only module that speaks to ``lifetimes`` (and so to pandas).
Models are fitted on the distinct summary rows with the number of customers
sharing each as weights, which gives the same estimates as a fit on every
customer at a fraction of the cost.

Purchase models (number of repeat purchases and dropout):

``"bgnbd"``
    BG/NBD, Fader, Hardie and Lee (2005), "Counting your customers the easy
    way", Marketing Science 24(2).
``"pareto_nbd"``
    Pareto/NBD, Schmittlein, Morrison and Colombo (1987), with the likelihood
    of Fader and Hardie (2005), "A note on deriving the Pareto/NBD model".
``"mbgnbd"``
    MBG/NBD, Batislam, Denizel and Filiztekin (2007): BG/NBD where a customer
    may also drop out right after the first purchase.

Spend model: Gamma-Gamma, Fader and Hardie (2013), "The Gamma-Gamma model of
monetary value", on customers with at least one repeat purchase.

Each fit returns a results object in the manner of statsmodels: ``params``
labelled by name, ``bse``, ``conf_int(alpha)``, ``loglik``, ``aic``, ``bic``
and ``summary()``. Standard errors come from the observed information: the
numerical Hessian of the total log-likelihood at the estimate, in log
parameters (every parameter is positive), carried to the natural scale by the
delta method. Confidence intervals are Wald intervals on the log scale, so they
stay positive.
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import polars as pl
from scipy import stats
from scipy.special import betaln, gammaln, hyp2f1, logsumexp, xlogy
from statsmodels.iolib.summary import Summary
from statsmodels.iolib.table import SimpleTable
from statsmodels.tools.numdiff import approx_hess3

from clv.rfm import compress

with warnings.catch_warnings():
    # lifetimes sets a pandas option that pandas 3 deprecates, at import time
    warnings.simplefilter("ignore")
    from lifetimes import (
        BetaGeoFitter,
        GammaGammaFitter,
        ModifiedBetaGeoFitter,
        ParetoNBDFitter,
    )
    from lifetimes.utils import ConvergenceError

__all__ = [
    "PURCHASE_MODELS",
    "FitAttempt",
    "IndependenceCheck",
    "ModelFitError",
    "PurchaseModelResults",
    "SpendModelResults",
    "fit_purchase_model",
    "fit_purchase_model_with_fallback",
    "fit_spend_model",
    "spend_independence_check",
]

PurchaseModel = Literal["bgnbd", "pareto_nbd", "mbgnbd"]
PURCHASE_MODELS: dict[str, str] = {
    "bgnbd": "BG/NBD",
    "pareto_nbd": "Pareto/NBD",
    "mbgnbd": "MBG/NBD",
}
_PARAM_NAMES = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "pareto_nbd": ("r", "alpha", "s", "beta"),
    "mbgnbd": ("r", "alpha", "a", "b"),
    "gamma_gamma": ("p", "q", "gamma"),
}


class ModelFitError(RuntimeError):
    """A model that could not be fitted to the data, with what to try next.

    ``attempts`` lists the tries that led to it (each with its reason) when
    the error ends a fallback sequence.
    """

    def __init__(self, message: str, attempts: tuple[FitAttempt, ...] = ()) -> None:
        super().__init__(message)
        self.attempts = tuple(attempts)


# ---------------------------------------------------------------------------
# log-likelihoods per customer, in the summary's own time unit


def _bgnbd_ll(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    # Fader, Hardie and Lee (2005), equation (6)
    r, alpha, a, b = params
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    term_T = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        term_tx = np.where(
            x > 0,
            betaln(a + 1, b + np.maximum(x, 1) - 1) - betaln(a, b) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return common + np.logaddexp(term_T, term_tx)


def _mbgnbd_ll(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    # Batislam, Denizel and Filiztekin (2007): dropout possible at every purchase
    r, alpha, a, b = params
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    term_T = betaln(a, b + x + 1) - betaln(a, b) - (r + x) * np.log(alpha + T)
    term_tx = betaln(a + 1, b + x) - betaln(a, b) - (r + x) * np.log(alpha + t_x)
    return common + np.logaddexp(term_T, term_tx)


def _pareto_log_a0(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """log A_0 of Fader and Hardie (2005), equations (19)-(20), safe where it cancels.

    A_0 = (r+s+x) * integral over (t_x, T) of (alpha+u)^-(r+x) (beta+u)^-(s+1) du.
    The closed form is a difference of two nearly equal terms when t_x is
    close to T; lifetimes then returns NaN (``logsumexp`` of equal terms with
    opposite signs). There the integral is computed by Gauss-Legendre
    quadrature in log space, which is exact to rounding on such short spans.
    """
    r, alpha, s, beta = params
    x, t_x, T = np.broadcast_arrays(
        np.asarray(x, dtype=float), np.asarray(t_x, dtype=float), np.asarray(T, dtype=float)
    )
    if alpha < beta:
        lo, hi, t = alpha, beta, r + x
    else:
        lo, hi, t = beta, alpha, s + 1.0
    rsx = r + s + x
    gap = hi - lo
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_1 = np.log(hyp2f1(rsx, t, rsx + 1.0, gap / (hi + t_x))) - rsx * np.log(hi + t_x)
        log_2 = np.log(hyp2f1(rsx, t, rsx + 1.0, gap / (hi + T))) - rsx * np.log(hi + T)
        # log(exp(log_1) - exp(log_2)), with its relative size
        diff = log_2 - log_1
        closed = log_1 + np.log(-np.expm1(diff))
    cancels = ~np.isfinite(closed) | (diff > -1e-7)
    if np.any(cancels):
        closed = np.where(cancels, _pareto_log_a0_quad(params, x, t_x, T), closed)
    return np.where(t_x >= T, -np.inf, closed)


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)


def _pareto_log_a0_quad(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    r, alpha, s, beta = params
    half = (T - t_x) / 2.0
    mid = (T + t_x) / 2.0
    u = mid[..., None] + half[..., None] * _GL_NODES
    log_f = -(r + x)[..., None] * np.log(alpha + u) - (s + 1.0) * np.log(beta + u)
    with np.errstate(divide="ignore"):
        return np.log(r + s + x) + np.log(half) + logsumexp(log_f, b=_GL_WEIGHTS, axis=-1)


def _pareto_ll(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    # Fader and Hardie (2005), equation (18)
    r, alpha, s, beta = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    log_a0 = _pareto_log_a0(params, x, t_x, T)
    a2 = np.logaddexp(
        -(r + x) * np.log(alpha + T) - s * np.log(beta + T), np.log(s) + log_a0 - np.log(r + s + x)
    )
    return a1 + a2


def _gamma_gamma_ll(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    # Fader and Hardie (2013), equation (5) for the mean m of x purchases
    p, q, gamma = params
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(gamma)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(gamma + m * x)
    )


_LOGLIK = {"bgnbd": _bgnbd_ll, "pareto_nbd": _pareto_ll, "mbgnbd": _mbgnbd_ll}


# ---------------------------------------------------------------------------
# the same log-likelihoods, factorised over the distinct values they depend on
#
# Special functions (gammaln, betaln, hyp2f1) take most of the time. Their
# arguments depend on the frequency alone (a few dozen values) or on a
# (frequency, recency) or (frequency, T) pair (tens of thousands), not on the
# full triple (up to one per customer): computing them once per distinct value
# and gathering makes each evaluation several times cheaper on large data.


@dataclass(frozen=True)
class _Histories:
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    ux: np.ndarray  # distinct frequencies; x == ux[ix]
    ix: np.ndarray
    utx: np.ndarray  # distinct recencies; t_x == utx[itx]
    itx: np.ndarray
    uT: np.ndarray  # distinct ages
    iT: np.ndarray
    pair_tx: tuple[np.ndarray, np.ndarray, np.ndarray]  # (x, t_x) pairs: x, t_x, inverse
    pair_T: tuple[np.ndarray, np.ndarray, np.ndarray]  # (x, T) pairs: x, T, inverse

    @classmethod
    def build(cls, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> _Histories:
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        ux, ix = np.unique(x, return_inverse=True)
        utx, itx = np.unique(t_x, return_inverse=True)
        uT, iT = np.unique(T, return_inverse=True)

        def pairs(other_index: np.ndarray, other_values: np.ndarray):
            key = ix.astype(np.int64) * (other_values.size + 1) + other_index
            ukey, inverse = np.unique(key, return_inverse=True)
            return (
                ux[ukey // (other_values.size + 1)],
                other_values[ukey % (other_values.size + 1)],
                inverse,
            )

        return cls(x, t_x, T, ux, ix, utx, itx, uT, iT, pairs(itx, utx), pairs(iT, uT))


def _bgnbd_ll_grouped(params: np.ndarray, h: _Histories, modified: bool = False) -> np.ndarray:
    """:func:`_bgnbd_ll` (or :func:`_mbgnbd_ll` with ``modified``), factorised."""
    r, alpha, a, b = params
    ux = h.ux
    common = (gammaln(r + ux) - gammaln(r) + r * np.log(alpha))[h.ix]
    if modified:
        beta_T = betaln(a, b + ux + 1) - betaln(a, b)
        beta_tx = betaln(a + 1, b + ux) - betaln(a, b)
    else:
        beta_T = betaln(a, b + ux) - betaln(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            beta_tx = np.where(
                ux > 0, betaln(a + 1, b + np.maximum(ux, 1) - 1) - betaln(a, b), -np.inf
            )
    rx = r + h.x
    term_T = beta_T[h.ix] - rx * np.log(alpha + h.uT)[h.iT]
    term_tx = beta_tx[h.ix] - rx * np.log(alpha + h.utx)[h.itx]
    return common + np.logaddexp(term_T, term_tx)


def _pareto_ll_grouped(params: np.ndarray, h: _Histories) -> np.ndarray:
    """:func:`_pareto_ll`, factorised: the hypergeometric terms of A_0 are
    computed once per (x, t_x) and per (x, T) pair."""
    r, alpha, s, beta = params
    lo, hi = (alpha, beta) if alpha < beta else (beta, alpha)
    gap = hi - lo

    def log_term(pair_x: np.ndarray, age: np.ndarray) -> np.ndarray:
        rsx = r + s + pair_x
        t = r + pair_x if alpha < beta else s + 1.0
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return np.log(hyp2f1(rsx, t, rsx + 1.0, gap / (hi + age))) - rsx * np.log(hi + age)

    px, ptx, inv_tx = h.pair_tx
    qx, qT, inv_T = h.pair_T
    log_1 = log_term(px, ptx)[inv_tx]
    log_2 = log_term(qx, qT)[inv_T]
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = log_2 - log_1
        log_a0 = log_1 + np.log(-np.expm1(diff))
    cancels = ~np.isfinite(log_a0) | (diff > -1e-7)
    if np.any(cancels):
        log_a0[cancels] = _pareto_log_a0_quad(params, h.x[cancels], h.t_x[cancels], h.T[cancels])
    log_a0 = np.where(h.t_x >= h.T, -np.inf, log_a0)
    x = h.x
    a1 = (gammaln(r + h.ux) - gammaln(r))[h.ix] + r * np.log(alpha) + s * np.log(beta)
    alive = (-(r + qx) * np.log(alpha + qT) - s * np.log(beta + qT))[inv_T]
    return a1 + np.logaddexp(alive, np.log(s) + log_a0 - np.log(r + s + x))


_GROUPED = {
    "bgnbd": _bgnbd_ll_grouped,
    "mbgnbd": lambda params, h: _bgnbd_ll_grouped(params, h, modified=True),
    "pareto_nbd": _pareto_ll_grouped,
}


class _HistoryCache:
    """The factorisation of the arrays lifetimes' optimiser passes in, built once
    per fit (the optimiser calls the likelihood with the same arrays each time)."""

    arrays: tuple[np.ndarray, ...] = ()
    histories: _Histories | None = None

    @classmethod
    def get(cls, freq: np.ndarray, rec: np.ndarray, T: np.ndarray) -> _Histories:
        same = len(cls.arrays) == 3 and all(
            a is b for a, b in zip(cls.arrays, (freq, rec, T), strict=True)
        )
        if not same or cls.histories is None:
            cls.arrays = (freq, rec, T)
            cls.histories = _Histories.build(freq, rec, T)
        return cls.histories


class _SafeParetoNBDFitter(ParetoNBDFitter):
    """lifetimes' Pareto/NBD with the likelihood term A_0 computed safely.

    Overrides the three static methods that reach ``_log_A_0`` by class name,
    so fitting, P(alive) and conditional expectations all use the safe form.
    """

    @staticmethod
    def _log_A_0(params, freq, recency, age):
        return _pareto_log_a0(np.asarray(params, dtype=float), freq, recency, age)

    @staticmethod
    def _conditional_log_likelihood(params, freq, rec, T):
        return _pareto_ll(np.asarray(params, dtype=float), freq, rec, T)

    @staticmethod
    def _negative_log_likelihood(params, freq, rec, T, weights, penalizer_coef):
        params = np.asarray(params, dtype=float)
        if np.any(params <= 0.0):
            return np.inf
        ll = _pareto_ll_grouped(params, _HistoryCache.get(freq, rec, T))
        value = -(weights * ll).sum() / weights.mean() + penalizer_coef * np.sum(params**2)
        return value if np.isfinite(value) else np.inf


# ---------------------------------------------------------------------------
# results objects


@dataclass(frozen=True)
class _FitResults:
    model: str
    params: dict[str, float]
    cov_params: np.ndarray  # covariance of the natural-scale parameters (delta method)
    cov_log_params: np.ndarray
    loglik: float
    n_customers: int
    n_rows_fitted: int
    penalizer: float
    fit_seconds: float
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(self.params)

    @property
    def bse(self) -> dict[str, float]:
        """Standard errors of the parameters (delta method from log scale)."""
        return dict(zip(self.params, np.sqrt(np.diag(self.cov_params)), strict=True))

    @property
    def aic(self) -> float:
        return 2 * len(self.params) - 2 * self.loglik

    @property
    def bic(self) -> float:
        return len(self.params) * np.log(self.n_customers) - 2 * self.loglik

    def conf_int(self, alpha: float = 0.05) -> pl.DataFrame:
        """Wald confidence intervals at level ``1 - alpha``, computed on the log
        scale and transformed back (so they stay positive).

        Returns a polars DataFrame: ``parameter``, ``estimate``, ``lower``,
        ``upper``.
        """
        if not 0 < alpha < 1:
            raise ValueError(f"alpha={alpha}; give a level between 0 and 1, e.g. 0.05")
        z = stats.norm.ppf(1 - alpha / 2)
        est = np.array(list(self.params.values()))
        se_log = np.sqrt(np.diag(self.cov_log_params))
        return pl.DataFrame(
            {
                "parameter": list(self.params),
                "estimate": est,
                "lower": est * np.exp(-z * se_log),
                "upper": est * np.exp(z * se_log),
            }
        )

    def _title(self) -> str:
        raise NotImplementedError

    def _info(self) -> list[tuple[str, str]]:
        return [
            ("customers", f"{self.n_customers:,}"),
            ("rows fitted", f"{self.n_rows_fitted:,}"),
            ("log-likelihood", f"{self.loglik:,.2f}"),
            ("AIC", f"{self.aic:,.2f}"),
            ("BIC", f"{self.bic:,.2f}"),
            ("penalizer", f"{self.penalizer:g}"),
            ("fit time (s)", f"{self.fit_seconds:.2f}"),
        ]

    def summary(self, alpha: float = 0.05) -> Summary:
        """A statsmodels ``Summary``: text with ``str()``, HTML in a notebook."""
        info = self._info()
        half = (len(info) + 1) // 2
        left, right = info[:half], info[half:]
        right = right + [("", "")] * (len(left) - len(right))
        top = SimpleTable(
            [[lk, lv, rk, rv] for (lk, lv), (rk, rv) in zip(left, right, strict=True)],
            title=self._title(),
        )
        ci = self.conf_int(alpha)
        level = f"{100 * (1 - alpha):g}%"
        bse = self.bse
        rows = [
            [
                f"{est:.4f}",
                f"{bse[name]:.4f}",
                f"{lo:.4f}",
                f"{hi:.4f}",
            ]
            for name, est, lo, hi in ci.iter_rows()
        ]
        table = SimpleTable(
            rows,
            headers=["coef", "std err", f"[{level}", "interval]"],
            stubs=list(self.params),
        )
        result = Summary()
        result.tables.extend([top, table])
        notes = [
            "Standard errors from the observed information (numerical Hessian of the "
            "log-likelihood in log parameters); intervals are Wald intervals on the log scale.",
            *self.notes,
        ]
        result.add_extra_txt(notes)
        return result

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"<{type(self).__name__} {self.model}: {params}; {self.n_customers:,} customers>"


@dataclass(frozen=True, repr=False)
class PurchaseModelResults(_FitResults):
    """A fitted purchase model (BG/NBD, Pareto/NBD or MBG/NBD)."""

    time_unit: str = "D"
    _fitter: object = field(default=None, compare=False)

    def _title(self) -> str:
        return f"{PURCHASE_MODELS[self.model]} purchase model (time unit {self.time_unit})"

    @classmethod
    def from_params(
        cls, model: PurchaseModel, params: dict[str, float], *, time_unit: str = "W"
    ) -> PurchaseModelResults:
        """A purchase model with given parameters, not fitted: for predictions
        under known parameters (a simulation's truth, published estimates).

        It has no data behind it: ``loglik`` is NaN, ``n_customers`` 0 and the
        covariance NaN, so standard errors and information criteria are NaN.
        """
        if model not in PURCHASE_MODELS:
            raise ValueError(f"model={model!r}; use one of {', '.join(PURCHASE_MODELS)}")
        names = _PARAM_NAMES[model]
        if set(params) != set(names):
            raise ValueError(f"{model} needs the parameters {names}, got {sorted(params)}")
        values = {k: float(params[k]) for k in names}
        if not all(np.isfinite(v) and v > 0 for v in values.values()):
            raise ValueError(f"parameters must be positive and finite, got {values}")
        fitter = _make_fitter(model, 0.0)
        fitter.params_ = dict(values)
        nan = np.full((len(names), len(names)), np.nan)
        return cls(
            model=model,
            params=values,
            cov_params=nan,
            cov_log_params=nan.copy(),
            loglik=float("nan"),
            n_customers=0,
            n_rows_fitted=0,
            penalizer=0.0,
            fit_seconds=0.0,
            notes=("Parameters given, not estimated.",),
            time_unit=time_unit,
            _fitter=fitter,
        )

    def expected_purchases(
        self, t: float, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """Expected number of purchases in the next ``t`` time units of each customer."""
        with np.errstate(all="ignore"):
            values = self._fitter.conditional_expected_number_of_purchases_up_to_time(
                t, np.asarray(frequency), np.asarray(recency), np.asarray(T)
            )
        return _finite(np.asarray(values, dtype=float), "expected purchases", self.model)

    def p_alive(self, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Probability that each customer is still active (has not dropped out)."""
        with np.errstate(all="ignore"):
            values = self._fitter.conditional_probability_alive(
                np.asarray(frequency), np.asarray(recency), np.asarray(T)
            )
        values = np.broadcast_to(np.asarray(values, dtype=float), np.shape(frequency))
        return np.clip(_finite(values, "P(alive)", self.model), 0.0, 1.0)

    def prob_no_purchase(
        self, t: float, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """Probability that each customer makes no purchase in the next ``t`` time units.

        BG/NBD and MBG/NBD: a customer alive at T with purchase rate lambda
        buys nothing in ``t`` with probability exp(-lambda t) (dropout happens
        only at purchases), and lambda given alive is Gamma(r + x, alpha + T),
        so P = 1 - P(alive) + P(alive) ((alpha + T) / (alpha + T + t))^(r + x).
        Pareto/NBD: lifetimes' conditional P(X(t) = 0), equation (34) of Fader
        and Hardie (2005), on the safe likelihood.
        """
        x = np.asarray(frequency, dtype=float)
        T_ = np.asarray(T, dtype=float)
        if self.model == "pareto_nbd":
            with np.errstate(all="ignore"):
                values = self._fitter.conditional_probability_of_n_purchases_up_to_time(
                    0, t, x, np.asarray(recency, dtype=float), T_
                )
            values = np.asarray(values, dtype=float)
        else:
            r, alpha = self.params["r"], self.params["alpha"]
            alive = self.p_alive(x, recency, T_)
            values = 1.0 - alive + alive * np.exp((r + x) * np.log((alpha + T_) / (alpha + T_ + t)))
        return np.clip(_finite(values, "P(no purchase)", self.model), 0.0, 1.0)

    def p_active(
        self, t: float, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """Probability that each customer makes at least one purchase in the next
        ``t`` time units: ``1 - prob_no_purchase(t, ...)``.

        Unlike P(alive) it falls with the time since the last purchase under
        every model, one-time buyers included (under BG/NBD their P(alive) is
        1 however long ago they bought), and it is what a holdout period
        observes directly.
        """
        return 1.0 - self.prob_no_purchase(t, frequency, recency, T)

    def prob_n_purchases(
        self,
        n: int | np.ndarray,
        t: float,
        frequency: np.ndarray,
        recency: np.ndarray,
        T: np.ndarray,
        *,
        log: bool = False,
    ) -> np.ndarray:
        """Probability that each customer makes exactly ``n`` purchases in the next
        ``t`` time units, given the history: P(X(T, T + t] = n | x, t_x, T).

        ``n`` is a count or an array of counts, one per customer. With
        ``log=True`` the natural logarithm is returned (for holdout
        log-likelihoods, where the probabilities can be tiny).

        Each model's own structure, conditioned on the history:
        ``P(n) = (1 - P(alive)) [n = 0] + P(alive) P(n | alive)``. Given alive
        at T the purchase rate is Gamma(r + x, alpha + T).

        BG/NBD and MBG/NBD: the dropout probability given alive is
        Beta(a, b + x) (BG/NBD, one dropout chance per repeat purchase) or
        Beta(a, b + x + 1) (MBG/NBD, one more at the first purchase); with a
        dropout chance after each future purchase,
        ``P(n | alive) = E[(1-p)^n] NB(n) + [n > 0] E[p (1-p)^(n-1)] P(NB >= n)``,
        NB being the negative binomial count of a Gamma-Poisson process over
        ``t`` (the count distribution of Fader, Hardie and Lee 2005, conditioned
        on the history).

        Pareto/NBD: the dropout rate given alive is Gamma(s, beta + T), so the
        remaining lifetime tau is Lomax and
        ``P(n | alive) = P(tau > t) NB(n; t) + integral over (0, t) of NB(n; u) dF_tau(u)``
        (equivalent to Fader and Hardie's note 028 closed form), integrated by
        Gauss-Legendre quadrature on the Lomax probability scale.
        """
        x = np.asarray(frequency, dtype=float)
        t_x = np.asarray(recency, dtype=float)
        T_ = np.asarray(T, dtype=float)
        n_ = np.asarray(n, dtype=float)
        n_, x, t_x, T_ = np.broadcast_arrays(n_, x, t_x, T_)
        if np.any(n_ < 0) or np.any(n_ != np.floor(n_)):
            raise ValueError("n must be a whole number of purchases, 0 or more")
        if not t > 0:
            raise ValueError(f"t={t}; give a positive length of time")
        alive = self.p_alive(x, t_x, T_)
        r, alpha = self.params["r"], self.params["alpha"]
        rx, at = r + x, alpha + T_
        with np.errstate(all="ignore"):
            if self.model == "pareto_nbd":
                log_cond = _pareto_log_n_given_alive(
                    n_, t, rx, at, self.params["s"], self.params["beta"] + T_
                )
            else:
                a = self.params["a"]
                b = self.params["b"] + x + (1.0 if self.model == "mbgnbd" else 0.0)
                log_stay = betaln(a, b + n_) - betaln(a, b)
                log_drop = np.where(
                    n_ > 0, betaln(a + 1.0, b + np.maximum(n_, 1.0) - 1.0) - betaln(a, b), -np.inf
                )
                log_tail = stats.nbinom.logsf(n_ - 1.0, rx, at / (at + t))
                log_cond = np.logaddexp(
                    log_stay + _nb_logpmf(n_, rx, at, t), log_drop + np.where(n_ > 0, log_tail, 0)
                )
            values = np.logaddexp(
                np.log(alive) + log_cond, np.where(n_ == 0, np.log1p(-alive), -np.inf)
            )
        values = np.minimum(values, 0.0)
        if np.any(np.isnan(values)):
            _finite(values, "P(n purchases)", self.model)
        return values if log else np.exp(values)

    def expected_purchases_new_customer(self, t: float | np.ndarray) -> np.ndarray:
        """Expected repeat purchases in the first ``t`` time units after a
        customer's first purchase (unconditional, for a customer just acquired)."""
        t = np.asarray(t, dtype=float)
        with np.errstate(all="ignore"):
            values = np.where(
                t > 0,
                self._fitter.expected_number_of_purchases_up_to_time(np.maximum(t, 1e-12)),
                0.0,
            )
        return _finite(np.asarray(values, dtype=float), "expected purchases", self.model)


@dataclass(frozen=True, repr=False)
class IndependenceCheck:
    """Gamma-Gamma assumes spend per order is independent of purchase frequency.

    Pearson and Spearman correlations of ``frequency`` with
    ``monetary_value`` among repeat buyers, with two-sided p-values.
    """

    n_customers: int
    pearson_r: float
    pearson_pvalue: float
    spearman_rho: float
    spearman_pvalue: float

    def holds(self, threshold: float = 0.3) -> bool:
        """Whether the correlation is weak enough (|r| below ``threshold``) for
        the assumption to be a fair approximation."""
        return abs(self.pearson_r) < threshold and abs(self.spearman_rho) < threshold

    def __repr__(self) -> str:
        return (
            f"<IndependenceCheck n={self.n_customers:,}: Pearson r={self.pearson_r:.3f} "
            f"(p={self.pearson_pvalue:.3g}), Spearman rho={self.spearman_rho:.3f} "
            f"(p={self.spearman_pvalue:.3g})>"
        )


@dataclass(frozen=True, repr=False)
class SpendModelResults(_FitResults):
    """A fitted Gamma-Gamma spend model."""

    n_excluded: int = 0
    independence: IndependenceCheck | None = None

    def _title(self) -> str:
        return "Gamma-Gamma spend model (repeat buyers)"

    def _info(self) -> list[tuple[str, str]]:
        info = super()._info()
        info.append(("excluded (mean <= 0)", f"{self.n_excluded:,}"))
        if self.independence is not None:
            ind = self.independence
            info.append(("corr(freq, spend)", f"{ind.pearson_r:.3f} (p={ind.pearson_pvalue:.2g})"))
        return info

    @property
    def mean_order_value(self) -> float:
        """Population mean spend per order, p * gamma / (q - 1)."""
        p, q, gamma = self.params.values()
        return p * gamma / (q - 1)

    def expected_order_value(self, frequency: np.ndarray, monetary_value: np.ndarray) -> np.ndarray:
        """Expected spend per order of each customer (Fader and Hardie 2013, eq. 8):
        a weighted mean of the population mean and the customer's own mean;
        the population mean for customers without repeat purchases."""
        p, q, _ = self.params.values()
        x = np.asarray(frequency, dtype=float)
        m = np.asarray(monetary_value, dtype=float)
        weight = p * x / (p * x + q - 1)
        value = (1 - weight) * self.mean_order_value + weight * np.where(x > 0, m, 0.0)
        return _finite(value, "expected order value", self.model)


def _nb_logpmf(n: np.ndarray, r: np.ndarray, alpha: np.ndarray, t: np.ndarray) -> np.ndarray:
    """log P(N = n) for a Poisson count over ``t`` with rate Gamma(shape r, rate alpha)."""
    return (
        gammaln(r + n)
        - gammaln(r)
        - gammaln(n + 1.0)
        + r * np.log(alpha / (alpha + t))
        + xlogy(n, t / (alpha + t))
    )


_LOMAX_NODES, _LOMAX_WEIGHTS = np.polynomial.legendre.leggauss(64)


def _pareto_log_n_given_alive(
    n: np.ndarray, t: float, r: np.ndarray, alpha: np.ndarray, s: float, beta: np.ndarray
) -> np.ndarray:
    """log P(n purchases in (0, t] | alive now) under Pareto/NBD with rate
    Gamma(r, alpha) and dropout rate Gamma(s, beta): the lifetime left is Lomax.

    The integral over the lifetime is taken on its probability scale,
    u = F(tau) in (0, F(t)), where the integrand NB(n; tau(u)) is smooth.
    """
    log_survive_t = s * (np.log(beta) - np.log(beta + t))  # log P(tau > t)
    f_t = -np.expm1(log_survive_t)  # F(t)
    u = (f_t[..., None] / 2.0) * (_LOMAX_NODES + 1.0)
    tau = beta[..., None] * np.expm1(-np.log1p(-u) / s)
    log_nb = _nb_logpmf(n[..., None], r[..., None], alpha[..., None], tau)
    with np.errstate(divide="ignore"):
        integral = np.log(f_t / 2.0) + logsumexp(log_nb, b=_LOMAX_WEIGHTS, axis=-1)
    return np.logaddexp(log_survive_t + _nb_logpmf(n, r, alpha, t), integral)


def _finite(values: np.ndarray, what: str, model: str) -> np.ndarray:
    if not np.all(np.isfinite(values)):
        bad = int(np.sum(~np.isfinite(values)))
        raise ModelFitError(
            f"{model}: {bad} customers got a non-finite {what}; this is a defect in clv, "
            "please report it with the summary rows that cause it"
        )
    return values


# ---------------------------------------------------------------------------
# fitting


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


_BOUNDS = (1e-6, 1e7)  # estimates outside are the optimiser running off to a boundary


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


def _observed_information(loglik_total, log_params: np.ndarray) -> np.ndarray | None:
    """Covariance of the log parameters from the numerical Hessian, or None
    when the Hessian is not negative definite (no proper maximum)."""
    hess = approx_hess3(log_params, loglik_total)
    info = -(hess + hess.T) / 2
    try:
        eig = np.linalg.eigvalsh(info)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(eig)) or eig.min() <= 0:
        return None
    return np.linalg.inv(info)


def _make_fitter(model: str, penalizer: float):
    return {
        "bgnbd": BetaGeoFitter,
        "pareto_nbd": _SafeParetoNBDFitter,
        "mbgnbd": ModifiedBetaGeoFitter,
    }[model](penalizer_coef=penalizer)


def fit_purchase_model(
    summary: pl.DataFrame,
    model: PurchaseModel = "bgnbd",
    *,
    penalizer: float = 0.0,
    time_unit: str | None = None,
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
        L2 penalty on the parameters (lifetimes' ``penalizer_coef``); 0 gives
        maximum likelihood. A small value (0.001 to 0.1) can help data on which
        the plain fit does not converge.
    time_unit
        Unit of ``recency`` and ``T``; read from the summary's ``time_unit``
        column when it has one.

    Returns
    -------
    PurchaseModelResults

    Raises
    ------
    ModelFitError
        When the data cannot identify the model (no repeat buyers, too few
        customers) or the optimiser finds no proper maximum; the message says
        what was tried and what to try.
    """
    if model not in PURCHASE_MODELS:
        raise ValueError(f"model={model!r}; use one of {', '.join(PURCHASE_MODELS)}")
    if penalizer < 0:
        raise ValueError(f"penalizer={penalizer}; it must be >= 0")
    names = _columns(summary)
    unit = _time_unit(summary, time_unit)
    _check_summary(summary, names)
    label = PURCHASE_MODELS[model]
    n = summary.height
    n_repeat = int((summary[names["frequency"]] > 0).sum())
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

    triples = compress(
        summary.select(
            pl.col(names["frequency"]).alias("frequency"),
            pl.col(names["recency"]).alias("recency"),
            pl.col(names["T"]).alias("T"),
        )
    )
    x = triples["frequency"].to_numpy().astype(float)
    t_x = triples["recency"].to_numpy().astype(float)
    T = triples["T"].to_numpy().astype(float)
    w = triples["n_customers"].to_numpy().astype(float)

    fitter = _make_fitter(model, penalizer)
    fit_kwargs = {"weights": w}
    if model == "pareto_nbd":
        fit_kwargs["initial_params"] = np.ones(4)  # lifetimes would draw them at random
        fit_kwargs["maxiter"] = 10_000
    optimiser = "Nelder-Mead from (1, 1, 1, 1)" if model == "pareto_nbd" else "BFGS"
    tried = f"maximum likelihood through lifetimes ({optimiser}, penalizer={penalizer:g})"
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore", RuntimeWarning)
            fitter.fit(x, t_x, T, **fit_kwargs)
    except (ConvergenceError, ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        raise ModelFitError(_advice(label, n, n_repeat, tried, str(exc).strip(), model)) from None
    seconds = time.perf_counter() - start

    params = np.array([fitter.params_[k] for k in _PARAM_NAMES[model]], dtype=float)
    loglik_fn = _GROUPED[model]
    histories = _Histories.build(x, t_x, T)

    def total(log_params: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            return float(np.sum(w * loglik_fn(np.exp(log_params), histories)))

    loglik = total(np.log(params))
    if not (np.all(np.isfinite(params)) and np.all(params > 0) and np.isfinite(loglik)):
        raise ModelFitError(
            _advice(label, n, n_repeat, tried, f"estimates {params} are not usable", model)
        )
    boundary = _at_boundary(_PARAM_NAMES[model], params)
    if boundary:
        raise ModelFitError(_advice(label, n, n_repeat, tried, boundary, model))
    cov_log = _observed_information(total, np.log(params))
    if cov_log is None:
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
    notes = []
    if penalizer > 0:
        notes.append(f"Penalised fit (penalizer={penalizer:g}): estimates are shrunk.")
    return PurchaseModelResults(
        model=model,
        params=dict(zip(_PARAM_NAMES[model], params.tolist(), strict=True)),
        cov_params=cov_log * np.outer(params, params),
        cov_log_params=cov_log,
        loglik=loglik,
        n_customers=n,
        n_rows_fitted=triples.height,
        penalizer=penalizer,
        fit_seconds=seconds,
        notes=tuple(notes),
        time_unit=unit,
        _fitter=fitter,
    )


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


def spend_independence_check(summary: pl.DataFrame) -> IndependenceCheck:
    """Correlation of purchase frequency with mean spend among repeat buyers.

    Gamma-Gamma assumes none; a clear correlation means the CLV of frequent
    buyers is biased and the spend model should be used with care.
    """
    names = _columns(summary)
    if names["monetary_value"] not in summary.columns:
        raise ValueError("the summary has no monetary_value column; summarise with amounts")
    repeat = summary.filter(pl.col(names["frequency"]) > 0)
    x = repeat[names["frequency"]].to_numpy().astype(float)
    m = repeat[names["monetary_value"]].to_numpy().astype(float)
    if repeat.height < 3 or np.ptp(x) == 0 or np.ptp(m) == 0:
        return IndependenceCheck(repeat.height, np.nan, np.nan, np.nan, np.nan)
    pearson = stats.pearsonr(x, m)
    spearman = stats.spearmanr(x, m)
    return IndependenceCheck(
        n_customers=repeat.height,
        pearson_r=float(pearson.statistic),
        pearson_pvalue=float(pearson.pvalue),
        spearman_rho=float(spearman.statistic),
        spearman_pvalue=float(spearman.pvalue),
    )


def fit_spend_model(summary: pl.DataFrame, *, penalizer: float = 0.0) -> SpendModelResults:
    """Fit the Gamma-Gamma spend model on the repeat buyers of a summary.

    Customers without repeat purchases carry no spend information beyond the
    first order and are left out, as in Fader and Hardie (2013); repeat buyers
    whose mean repeat spend is not positive are left out too and counted in
    ``n_excluded``.

    Raises
    ------
    ModelFitError
        With too few repeat buyers, when the optimiser fails, or when the
        estimate has ``q <= 1`` (the mean spend per order would be infinite).
    """
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
    pairs = compress(
        usable.select(
            pl.col(names["frequency"]).alias("frequency"),
            pl.col(names["monetary_value"]).alias("monetary_value"),
        ),
        columns=("frequency", "monetary_value"),
    )
    x = pairs["frequency"].to_numpy().astype(float)
    m = pairs["monetary_value"].to_numpy().astype(float)
    w = pairs["n_customers"].to_numpy().astype(float)
    fitter = GammaGammaFitter(penalizer_coef=penalizer)
    tried = f"lifetimes' GammaGammaFitter with penalizer={penalizer:g}"
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore", RuntimeWarning)
            fitter.fit(x, m, weights=w)
    except (ConvergenceError, ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        raise ModelFitError(
            _advice("Gamma-Gamma", usable.height, usable.height, tried, str(exc), "gamma_gamma")
        ) from None
    seconds = time.perf_counter() - start
    params = np.array([fitter.params_[k] for k in ("p", "q", "v")], dtype=float)

    def total(log_params: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            return float(np.sum(w * _gamma_gamma_ll(np.exp(log_params), x, m)))

    loglik = total(np.log(params))
    boundary = _at_boundary(_PARAM_NAMES["gamma_gamma"], params)
    if boundary:
        raise ModelFitError(
            _advice("Gamma-Gamma", usable.height, usable.height, tried, boundary, "gamma_gamma")
        )
    cov_log = _observed_information(total, np.log(params))
    if cov_log is None or not np.isfinite(loglik):
        raise ModelFitError(
            _advice(
                "Gamma-Gamma",
                usable.height,
                usable.height,
                tried,
                "the likelihood has no proper maximum there",
                "gamma_gamma",
            )
        )
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
        n_rows_fitted=pairs.height,
        penalizer=penalizer,
        fit_seconds=seconds,
        notes=tuple(notes),
        n_excluded=n_excluded,
        independence=independence,
    )


@dataclass(frozen=True)
class FitAttempt:
    """One try of :func:`fit_purchase_model_with_fallback`."""

    model: str
    penalizer: float
    error: str | None  # None when this try succeeded


def fit_purchase_model_with_fallback(
    summary: pl.DataFrame,
    model: PurchaseModel = "bgnbd",
    *,
    penalizers: tuple[float, ...] = (0.0, 0.001, 0.01, 0.1),
    other_models: bool = True,
    time_unit: str | None = None,
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
                    summary, candidate, penalizer=penalizer, time_unit=time_unit
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
