"""Results of model fits: estimates, standard errors, summaries, predictions.

Each fit returns a results object in the manner of statsmodels: ``params``
labelled by name, ``bse``, ``conf_int(alpha)``, ``loglik``, ``aic``, ``bic``
and ``summary()``. Standard errors come from the observed information: the
Hessian of the total log-likelihood at the estimate, in log parameters (every
parameter is positive), carried to the natural scale by the delta method.
Confidence intervals are Wald intervals on the log scale, so they stay
positive.

Purchase-model predictions are computed by clv's own formulas
(:mod:`clv.models.bgnbd`, :mod:`clv.models.mbgnbd`,
:mod:`clv.models.pareto_nbd`) for fits of the default engine, and by lifetimes
for fits with ``engine="lifetimes"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import polars as pl
from scipy import stats
from scipy.special import betaln
from statsmodels.iolib.summary import Summary
from statsmodels.iolib.table import SimpleTable

from clv.models import bgnbd, mbgnbd, pareto_nbd
from clv.models._lifetimes import LazyFitter

__all__ = [
    "ENGINES",
    "PURCHASE_MODELS",
    "FitAttempt",
    "IndependenceCheck",
    "ModelFitError",
    "PurchaseModelResults",
    "SpendModelResults",
]

PurchaseModel = Literal["bgnbd", "pareto_nbd", "mbgnbd"]
Engine = Literal["clv", "lifetimes"]
ENGINES: tuple[str, ...] = ("clv", "lifetimes")
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
_FAMILY = {"bgnbd": bgnbd, "mbgnbd": mbgnbd, "pareto_nbd": pareto_nbd}


class ModelFitError(RuntimeError):
    """A model that could not be fitted to the data, with what to try next.

    ``attempts`` lists the tries that led to it (each with its reason) when
    the error ends a fallback sequence.
    """

    def __init__(self, message: str, attempts: tuple[FitAttempt, ...] = ()) -> None:
        super().__init__(message)
        self.attempts = tuple(attempts)


# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FitAttempt:
    """One try of :func:`fit_purchase_model_with_fallback`, or one start of a
    multi-start fit (then ``start`` names the starting point)."""

    model: str
    penalizer: float
    error: str | None  # None when this try succeeded
    start: str | None = None  # the starting point, for the tries of one multi-start fit


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
    # how the maximum was found: optimiser, starts, agreement, gradient norm
    convergence: dict[str, object] = field(default_factory=dict, compare=False)

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
            "Standard errors from the observed information (Hessian of the "
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
    """A fitted purchase model (BG/NBD, Pareto/NBD or MBG/NBD).

    ``engine`` says which engine fitted it and computes its predictions:
    ``"clv"`` (clv's own formulas) or ``"lifetimes"`` (lifetimes' fitter, held
    in ``_fitter``). Results of the clv engine hold a stand-in that builds a
    lifetimes fitter with the same parameters only when it is used.
    """

    time_unit: str = "D"
    _fitter: object = field(default=None, compare=False)
    engine: str = "clv"

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine={self.engine!r}; use one of {', '.join(ENGINES)}")
        if self._fitter is None:
            object.__setattr__(self, "_fitter", LazyFitter(self.model, self.params))

    @property
    def _values(self) -> np.ndarray:
        return np.array(list(self.params.values()), dtype=float)

    @property
    def _native(self) -> bool:
        return self.engine == "clv"

    def _title(self) -> str:
        return f"{PURCHASE_MODELS[self.model]} purchase model (time unit {self.time_unit})"

    @classmethod
    def from_params(
        cls,
        model: PurchaseModel,
        params: dict[str, float],
        *,
        time_unit: str = "W",
        engine: Engine = "clv",
    ) -> PurchaseModelResults:
        """A purchase model with given parameters, not fitted: for predictions
        under known parameters (a simulation's truth, published estimates).

        It has no data behind it: ``loglik`` is NaN, ``n_customers`` 0 and the
        covariance NaN, so standard errors and information criteria are NaN.
        ``engine`` picks whose formulas compute the predictions.
        """
        if model not in PURCHASE_MODELS:
            raise ValueError(f"model={model!r}; use one of {', '.join(PURCHASE_MODELS)}")
        names = _PARAM_NAMES[model]
        if set(params) != set(names):
            raise ValueError(f"{model} needs the parameters {names}, got {sorted(params)}")
        values = {k: float(params[k]) for k in names}
        if not all(np.isfinite(v) and v > 0 for v in values.values()):
            raise ValueError(f"parameters must be positive and finite, got {values}")
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
            engine=engine,
        )

    def expected_purchases(
        self, t: float, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """Expected number of purchases in the next ``t`` time units of each customer."""
        with np.errstate(all="ignore"):
            if self._native:
                values = _FAMILY[self.model].conditional_expected_purchases(
                    self._values, t, frequency, recency, T
                )
            else:
                values = self._fitter.conditional_expected_number_of_purchases_up_to_time(
                    t, np.asarray(frequency), np.asarray(recency), np.asarray(T)
                )
        return _finite(np.asarray(values, dtype=float), "expected purchases", self.model)

    def p_alive(self, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Probability that each customer is still active (has not dropped out)."""
        with np.errstate(all="ignore"):
            if self._native:
                values = _FAMILY[self.model].p_alive(self._values, frequency, recency, T)
            else:
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
        Pareto/NBD: P(X(t) = 0) of :meth:`prob_n_purchases` (lifetimes'
        conditional P(X(t) = 0), equation (34) of Fader and Hardie (2005), on
        the safe likelihood, with ``engine="lifetimes"``).
        """
        x = np.asarray(frequency, dtype=float)
        T_ = np.asarray(T, dtype=float)
        if self.model == "pareto_nbd" and self._native:
            values = self.prob_n_purchases(0, t, x, recency, T_)
        elif self.model == "pareto_nbd":
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
                log_cond = pareto_nbd.log_n_given_alive(
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
                    log_stay + pareto_nbd.nb_logpmf(n_, rx, at, t),
                    log_drop + np.where(n_ > 0, log_tail, 0),
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
            if self._native:
                values = _FAMILY[self.model].expected_purchases_new_customer(
                    self._values, np.maximum(t, 1e-12)
                )
            else:
                values = self._fitter.expected_number_of_purchases_up_to_time(np.maximum(t, 1e-12))
            values = np.where(t > 0, values, 0.0)
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
    engine: str = "clv"

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


def _finite(values: np.ndarray, what: str, model: str) -> np.ndarray:
    if not np.all(np.isfinite(values)):
        bad = int(np.sum(~np.isfinite(values)))
        raise ModelFitError(
            f"{model}: {bad} customers got a non-finite {what}; this is a defect in clv, "
            "please report it with the summary rows that cause it"
        )
    return values


# ---------------------------------------------------------------------------
