"""BG/BB: purchases in discrete time, one opportunity per period.

The beta-geometric/beta-Bernoulli model of Fader, Hardie and Shang (2010),
"Customer-Base Analysis in a Discrete-Time Noncontractual Setting",
Marketing Science 29(6), 1086-1108, for settings where a customer can buy at
most once per period (a yearly donation, an annual event, a monthly
subscription box bought or skipped). Each customer is described by

``frequency`` (x)
    number of periods with a purchase after the first purchase period;
``recency`` (t_x)
    the period of the last purchase, counted from the first purchase period
    (0 when there is no repeat purchase);
``n_periods`` (n)
    the number of purchase opportunities after the first purchase period.

While alive, a customer buys in each period with probability
``p ~ Beta(alpha, beta)``; at the start of each period a living customer
drops out with probability ``theta ~ Beta(gamma, delta)``. Parameters are
estimated by maximum likelihood on the log scale from several starting points;
standard errors come from the observed information (numerical Hessian in log
parameters, carried to the natural scale by the delta method).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import polars as pl
from scipy import optimize, stats
from scipy.special import betaln, gammaln, logsumexp
from statsmodels.tools.numdiff import approx_hess3

from clv.models import ModelFitError

__all__ = ["BGBBResults", "bgbb_loglik", "bgbb_summary", "fit_bgbb"]

PARAM_NAMES: tuple[str, ...] = ("alpha", "beta", "gamma", "delta")
_COLUMNS = ("frequency", "recency", "n_periods")


# ---------------------------------------------------------------------------
# the model's formulas, Fader, Hardie and Shang (2010), section 3


def _as_histories(
    frequency: np.ndarray, recency: np.ndarray, n_periods: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, t_x, n = np.broadcast_arrays(
        np.asarray(frequency, dtype=float),
        np.asarray(recency, dtype=float),
        np.asarray(n_periods, dtype=float),
    )
    problems = []
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t_x)) and np.all(np.isfinite(n))):
        problems.append("some values are missing or not finite")
    elif np.any(x != np.round(x)) or np.any(t_x != np.round(t_x)) or np.any(n != np.round(n)):
        problems.append("frequency, recency and n_periods must be whole numbers of periods")
    elif np.any(x < 0) or np.any(x > t_x) or np.any(t_x > n):
        problems.append("some rows break 0 <= frequency <= recency <= n_periods")
    elif np.any((x == 0) & (t_x != 0)):
        problems.append("some rows have frequency 0 but recency > 0")
    if problems:
        raise ValueError(
            "BG/BB histories are not valid: "
            + "; ".join(problems)
            + "; build them with clv.models.bgbb.bgbb_summary"
        )
    return x, t_x, n


def _log_terms(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """log of the two parts of the likelihood, equation (5): alive through
    period n, and dropped out after period t_x + i for some i in 0..n-t_x-1."""
    alpha, beta, gamma, delta = params
    base_p = betaln(alpha, beta)
    base_theta = betaln(gamma, delta)
    alive = betaln(alpha + x, beta + n - x) - base_p + betaln(gamma, delta + n) - base_theta
    width = int(np.max(n - t_x, initial=0))
    if width == 0:
        return alive, np.full_like(alive, -np.inf)
    i = np.arange(width, dtype=float)
    used = i < (n - t_x)[..., None]
    with np.errstate(invalid="ignore"):
        terms = (
            betaln(alpha + x[..., None], beta + t_x[..., None] - x[..., None] + i)
            - base_p
            + betaln(gamma + 1.0, delta + t_x[..., None] + i)
            - base_theta
        )
    terms = np.where(used, terms, -np.inf)
    with np.errstate(divide="ignore"):
        dropped = logsumexp(terms, axis=-1)
    return alive, dropped


def bgbb_loglik(
    params: dict[str, float] | np.ndarray,
    frequency: np.ndarray,
    recency: np.ndarray,
    n_periods: np.ndarray,
) -> np.ndarray:
    """Log-likelihood of each history under BG/BB (Fader, Hardie and Shang 2010,
    equation 5).

    Parameters
    ----------
    params
        ``alpha``, ``beta``, ``gamma``, ``delta`` (a dict, or an array in that order).
    frequency, recency, n_periods
        Histories (x, t_x, n), whole numbers of periods.

    Returns
    -------
    numpy.ndarray
        log L(alpha, beta, gamma, delta | x, t_x, n), one per history.
    """
    values = _param_array(params)
    x, t_x, n = _as_histories(frequency, recency, n_periods)
    alive, dropped = _log_terms(values, x, t_x, n)
    return np.logaddexp(alive, dropped)


def _param_array(params: dict[str, float] | np.ndarray) -> np.ndarray:
    if isinstance(params, dict):
        missing = [k for k in PARAM_NAMES if k not in params]
        if missing:
            raise ValueError(f"BG/BB needs the parameters {PARAM_NAMES}; missing {missing}")
        params = np.array([params[k] for k in PARAM_NAMES], dtype=float)
    values = np.asarray(params, dtype=float)
    if values.shape != (4,) or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"BG/BB parameters must be four positive numbers, got {params}")
    return values


# ---------------------------------------------------------------------------
# results


@dataclass(frozen=True, repr=False)
class BGBBResults:
    """A fitted (or given) BG/BB model, in the manner of statsmodels' results.

    ``params`` holds ``alpha``, ``beta`` (purchase probability ~ Beta(alpha,
    beta)) and ``gamma``, ``delta`` (dropout probability ~ Beta(gamma, delta)).
    """

    params: dict[str, float]
    cov_params: np.ndarray
    cov_log_params: np.ndarray
    loglik: float
    n_customers: int
    n_rows_fitted: int
    fit_seconds: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)
    model: str = "bgbb"
    time_unit: str = "period"

    @classmethod
    def from_params(cls, params: dict[str, float], *, time_unit: str = "period") -> BGBBResults:
        """A BG/BB model with given parameters (published estimates, a
        simulation's truth): no data behind it, so ``loglik`` and the
        covariance are NaN."""
        values = _param_array(params)
        nan = np.full((4, 4), np.nan)
        return cls(
            params=dict(zip(PARAM_NAMES, values.tolist(), strict=True)),
            cov_params=nan,
            cov_log_params=nan.copy(),
            loglik=float("nan"),
            n_customers=0,
            n_rows_fitted=0,
            notes=("Parameters given, not estimated.",),
            time_unit=time_unit,
        )

    @property
    def _values(self) -> np.ndarray:
        return np.array([self.params[k] for k in PARAM_NAMES], dtype=float)

    @property
    def bse(self) -> dict[str, float]:
        """Standard errors of the parameters (delta method from the log scale)."""
        return dict(zip(PARAM_NAMES, np.sqrt(np.diag(self.cov_params)).tolist(), strict=True))

    @property
    def aic(self) -> float:
        return 2 * 4 - 2 * self.loglik

    @property
    def bic(self) -> float:
        return 4 * math.log(max(self.n_customers, 1)) - 2 * self.loglik

    def conf_int(self, alpha: float = 0.05) -> pl.DataFrame:
        """Wald intervals at level ``1 - alpha`` on the log scale, transformed
        back: ``parameter``, ``estimate``, ``lower``, ``upper``."""
        if not 0 < alpha < 1:
            raise ValueError(f"alpha={alpha}; give a level between 0 and 1, e.g. 0.05")
        z = stats.norm.ppf(1 - alpha / 2)
        est = self._values
        se_log = np.sqrt(np.diag(self.cov_log_params))
        return pl.DataFrame(
            {
                "parameter": list(PARAM_NAMES),
                "estimate": est,
                "lower": est * np.exp(-z * se_log),
                "upper": est * np.exp(z * se_log),
            }
        )

    def loglik_per_customer(
        self, frequency: np.ndarray, recency: np.ndarray, n_periods: np.ndarray
    ) -> np.ndarray:
        """log L of each history (equation 5)."""
        return bgbb_loglik(self._values, frequency, recency, n_periods)

    def p_alive(
        self, frequency: np.ndarray, recency: np.ndarray, n_periods: np.ndarray
    ) -> np.ndarray:
        """Probability that each customer is alive at the start of period n + 1,
        the next opportunity (equation 11)."""
        values = self._values
        x, t_x, n = _as_histories(frequency, recency, n_periods)
        alive, dropped = _log_terms(values, x, t_x, n)
        gamma, delta = values[2], values[3]
        # alive at n + 1: one more period survived, B(gamma, delta+n+1) / B(gamma, delta+n)
        next_period = betaln(gamma, delta + n + 1.0) - betaln(gamma, delta + n)
        return np.exp(alive + next_period - np.logaddexp(alive, dropped))

    def expected_purchases(
        self,
        n_star: int,
        frequency: np.ndarray,
        recency: np.ndarray,
        n_periods: np.ndarray,
    ) -> np.ndarray:
        """Expected number of purchases in the next ``n_star`` periods,
        E[X(n, n + n_star) | x, t_x, n] (equation 13).

        Equation 13's ratio of gamma functions is written as the sum it
        telescopes from, ``sum_{j=1..n_star} B(gamma, delta+n+j) / B(gamma,
        delta)``, which has no singularity at gamma = 1.
        """
        n_star = _whole(n_star, "n_star")
        alpha, beta, gamma, delta = self._values
        x, t_x, n = _as_histories(frequency, recency, n_periods)
        alive, dropped = _log_terms(self._values, x, t_x, n)
        log_l = np.logaddexp(alive, dropped)
        if n_star == 0:
            return np.zeros_like(log_l)
        j = np.arange(1, n_star + 1, dtype=float)
        log_survive = logsumexp(betaln(gamma, delta + n[..., None] + j), axis=-1) - betaln(
            gamma, delta
        )
        log_buy = betaln(alpha + x + 1.0, beta + n - x) - betaln(alpha, beta)
        return np.exp(log_buy + log_survive - log_l)

    def expected_purchases_new_customer(self, n_periods: int | np.ndarray) -> np.ndarray:
        """Expected repeat purchases in the first ``n_periods`` opportunities of
        a new customer, E[X(n)] (equation 8, in its summed form)."""
        n = np.asarray(n_periods, dtype=float)
        if np.any(n < 0) or np.any(n != np.round(n)):
            raise ValueError("n_periods must be whole numbers of periods, 0 or more")
        alpha, beta, gamma, delta = self._values
        top = int(np.max(n, initial=0))
        if top == 0:
            return np.zeros_like(n)
        j = np.arange(1, top + 1, dtype=float)
        survive = np.exp(betaln(gamma, delta + j) - betaln(gamma, delta))
        cumulative = np.concatenate([[0.0], np.cumsum(survive)])
        return alpha / (alpha + beta) * cumulative[n.astype(int)]

    def prob_purchases(self, x: int | np.ndarray, n_periods: int | np.ndarray) -> np.ndarray:
        """P(X(n) = x): probability that a new customer makes ``x`` repeat
        purchases in the first ``n_periods`` opportunities (equation 7)."""
        x_, n = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(n_periods, dtype=float))
        if np.any(x_ < 0) or np.any(x_ != np.round(x_)) or np.any(n != np.round(n)):
            raise ValueError("x and n_periods must be whole numbers, 0 or more")
        alpha, beta, gamma, delta = self._values
        log_comb = gammaln(n + 1) - gammaln(x_ + 1) - gammaln(np.maximum(n - x_, 0) + 1)
        with np.errstate(invalid="ignore"):
            alive = (
                log_comb
                + betaln(alpha + x_, beta + n - x_)
                - betaln(alpha, beta)
                + betaln(gamma, delta + n)
                - betaln(gamma, delta)
            )
        alive = np.where(x_ <= n, alive, -np.inf)
        width = int(np.max(n, initial=0))
        if width == 0:
            return np.exp(alive)
        i = np.arange(width, dtype=float)
        used = (i >= x_[..., None]) & (i < n[..., None])
        with np.errstate(invalid="ignore"):
            terms = (
                gammaln(i + 1)
                - gammaln(x_[..., None] + 1)
                - gammaln(np.maximum(i - x_[..., None], 0) + 1)
                + betaln(alpha + x_[..., None], beta + i - x_[..., None])
                - betaln(alpha, beta)
                + betaln(gamma + 1.0, delta + i)
                - betaln(gamma, delta)
            )
        with np.errstate(divide="ignore"):
            dropped = logsumexp(np.where(used, terms, -np.inf), axis=-1)
        return np.exp(np.logaddexp(alive, dropped))

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"<BGBBResults: {params}; {self.n_customers:,} customers>"


def _whole(value: float, name: str) -> int:
    if not (float(value) == round(float(value)) and value >= 0):
        raise ValueError(f"{name}={value}; give a whole number of periods, 0 or more")
    return int(value)


# ---------------------------------------------------------------------------
# fitting


def _histories_frame(summary: pl.DataFrame) -> pl.DataFrame:
    if not isinstance(summary, pl.DataFrame):
        raise TypeError(
            f"summary is a {type(summary).__name__}; give a polars DataFrame from "
            "clv.models.bgbb.bgbb_summary"
        )
    missing = [c for c in _COLUMNS if c not in summary.columns]
    if missing:
        raise ValueError(
            f"the summary lacks the columns {missing}; it needs frequency, recency and "
            "n_periods (build it with clv.models.bgbb.bgbb_summary)"
        )
    if sum(summary[c].null_count() for c in _COLUMNS):
        raise ValueError("the summary has missing frequency, recency or n_periods values")
    if "n_customers" in summary.columns:
        counts = summary["n_customers"]
        if counts.null_count() or (counts < 0).any():
            raise ValueError("n_customers must be counts, 0 or more, without missing values")
        weight = pl.col("n_customers").sum()
    else:
        weight = pl.len()
    return (
        summary.group_by(list(_COLUMNS))
        .agg(weight.cast(pl.Int64).alias("n_customers"))
        .filter(pl.col("n_customers") > 0)
        .sort(list(_COLUMNS))
    )


def fit_bgbb(
    summary: pl.DataFrame,
    *,
    starts: int = 5,
    seed: int = 0,
    time_unit: str = "period",
) -> BGBBResults:
    """Fit BG/BB by maximum likelihood.

    Parameters
    ----------
    summary
        A polars frame with ``frequency``, ``recency`` and ``n_periods``, one
        row per customer (:func:`bgbb_summary`), or one row per distinct
        history with the number of customers sharing it in ``n_customers``.
    starts
        Number of starting points: all parameters 1, then ``starts - 1``
        points drawn around it on the log scale.
    seed
        Seed of the starting points.
    time_unit
        What one period is (``"Y"`` for years), kept for reports.

    Returns
    -------
    BGBBResults

    Raises
    ------
    ModelFitError
        When there are too few customers or repeat buyers, or no start reaches
        a proper maximum.
    """
    if starts < 1:
        raise ValueError(f"starts={starts}; give at least 1")
    rows = _histories_frame(summary)
    x, t_x, n = _as_histories(*(rows[c].to_numpy() for c in _COLUMNS))
    w = rows["n_customers"].to_numpy().astype(float)
    n_customers = int(w.sum())
    n_repeat = int(w[x > 0].sum())
    if n_customers < 10 or n_repeat < 3 or np.max(n, initial=0) < 2:
        raise ModelFitError(
            f"BG/BB: {n_customers:,} customers with {n_repeat:,} repeat buyers and at most "
            f"{int(np.max(n, initial=0))} periods are too few to fit four parameters; use "
            "more customers or a longer history"
        )

    def total(log_params: np.ndarray) -> float:
        alive, dropped = _log_terms(np.exp(log_params), x, t_x, n)
        with np.errstate(all="ignore"):
            return float(np.sum(w * np.logaddexp(alive, dropped)))

    def objective(log_params: np.ndarray) -> float:
        value = -total(log_params) / n_customers
        return value if np.isfinite(value) else 1e100

    rng = np.random.default_rng(seed)
    points = [np.zeros(4), *(rng.normal(0.0, 1.0, size=4) for _ in range(starts - 1))]
    start_time = time.perf_counter()
    best = None
    for point in points:
        found = optimize.minimize(objective, point, method="L-BFGS-B", bounds=[(-12.0, 12.0)] * 4)
        if best is None or found.fun < best.fun:
            best = found
    seconds = time.perf_counter() - start_time
    log_params = best.x
    params = np.exp(log_params)
    loglik = total(log_params)
    if np.any(np.abs(log_params) > 11.9) or not np.isfinite(loglik):
        raise ModelFitError(
            f"BG/BB ran to the edge of the parameter space ({_fmt(params)}) on "
            f"{n_customers:,} customers: the data cannot identify the model; use a longer "
            "history or more customers"
        )
    hess = approx_hess3(log_params, total)
    info = -(hess + hess.T) / 2
    eig = np.linalg.eigvalsh(info)
    if not np.all(np.isfinite(eig)) or eig.min() <= 0:
        raise ModelFitError(
            f"BG/BB found no proper maximum ({_fmt(params)}): the Hessian of the "
            "log-likelihood is not negative definite; use more starts or more data"
        )
    cov_log = np.linalg.inv(info)
    return BGBBResults(
        params=dict(zip(PARAM_NAMES, params.tolist(), strict=True)),
        cov_params=cov_log * np.outer(params, params),
        cov_log_params=cov_log,
        loglik=loglik,
        n_customers=n_customers,
        n_rows_fitted=rows.height,
        fit_seconds=seconds,
        notes=(f"Best of {starts} L-BFGS-B starts on the log scale.",),
        time_unit=time_unit,
    )


def _fmt(params: np.ndarray) -> str:
    return ", ".join(f"{k}={v:.3g}" for k, v in zip(PARAM_NAMES, params, strict=True))


# ---------------------------------------------------------------------------
# summary of a transaction log


Period = Literal["Y", "Q", "M", "W", "D"]


def _period_index(day: pl.Expr, freq: str) -> pl.Expr:
    """Whole number of the calendar period holding each date."""
    if freq == "Y":
        return day.dt.year().cast(pl.Int64)
    if freq == "Q":
        return day.dt.year().cast(pl.Int64) * 4 + (day.dt.month().cast(pl.Int64) - 1) // 3
    if freq == "M":
        return day.dt.year().cast(pl.Int64) * 12 + day.dt.month().cast(pl.Int64) - 1
    days = day.cast(pl.Int64)  # days since 1970-01-01, a Thursday
    if freq == "W":
        return (days + 3) // 7  # weeks starting on Monday
    return days


def bgbb_summary(
    transactions: pl.DataFrame | pl.LazyFrame,
    *,
    freq: Period = "Y",
    observation_end: str | dt.date | None = None,
) -> pl.DataFrame:
    """Per-customer BG/BB histories (x, t_x, n) from a log of dated purchases.

    Each calendar period (``freq``: ``"Y"`` years, ``"Q"`` quarters, ``"M"``
    months, ``"W"`` weeks from Monday, ``"D"`` days) is one purchase
    opportunity: several purchases in one period count once.

    Parameters
    ----------
    transactions
        A polars frame (or a :class:`clv.TransactionLog`) with ``customer_id``
        and ``date`` (Date or Datetime).
    freq
        Length of one period.
    observation_end
        Last day observed (inclusive); later purchases are left out. The
        period holding it is the last opportunity. Defaults to the last date in
        the log.

    Returns
    -------
    polars.DataFrame
        ``customer_id``, ``frequency`` (x: periods with a purchase after the
        first), ``recency`` (t_x: last purchase period minus the first, 0 for
        one-time buyers) and ``n_periods`` (n: periods after the first up to
        the end), all Int64, sorted by ``customer_id``.
    """
    if freq not in ("Y", "Q", "M", "W", "D"):
        raise ValueError(f"freq={freq!r}; use 'Y', 'Q', 'M', 'W' or 'D'")
    if not isinstance(transactions, pl.LazyFrame) and hasattr(transactions, "lazy"):
        transactions = transactions.lazy()  # a polars DataFrame or a clv.TransactionLog
    if not isinstance(transactions, pl.LazyFrame):
        raise TypeError(
            f"transactions is a {type(transactions).__name__}; give a polars frame with "
            "customer_id and date"
        )
    names = transactions.collect_schema()
    missing = [c for c in ("customer_id", "date") if c not in names]
    if missing:
        raise ValueError(
            f"transactions lack the columns {missing}; rename them to customer_id and date"
        )
    if not names["date"].is_temporal():
        raise ValueError(
            f"column 'date' is {names['date']}; parse it to a Date first "
            "(clv.load_transactions does)"
        )
    day = pl.col("date").cast(pl.Date)
    if observation_end is None:
        end = transactions.select(day.max()).collect().item()
        if end is None:
            raise ValueError("the transaction log is empty; there is nothing to summarise")
    else:
        end = (
            observation_end
            if isinstance(observation_end, dt.date)
            else dt.date.fromisoformat(str(observation_end))
        )
    in_window = transactions.filter(day <= end).filter(pl.col("date").is_not_null())
    end_index = pl.select(_period_index(pl.lit(end, dtype=pl.Date), freq)).item()
    periods = in_window.select("customer_id", _period_index(day, freq).alias("_period")).unique()
    return (
        periods.group_by("customer_id")
        .agg(
            (pl.len() - 1).cast(pl.Int64).alias("frequency"),
            (pl.col("_period").max() - pl.col("_period").min()).cast(pl.Int64).alias("recency"),
            (end_index - pl.col("_period").min()).cast(pl.Int64).alias("n_periods"),
        )
        .sort("customer_id")
        .collect()
    )
