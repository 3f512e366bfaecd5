"""Choosing the purchase model by evidence, and populations with known dropout.

:func:`select_purchase_model` fits BG/NBD, MBG/NBD and Pareto/NBD and picks one.

With a calibration/holdout split (:func:`clv.calibration_holdout`) the choice
is out of sample. Each model is fitted on the calibration columns and predicts
every customer's holdout purchases from the calibration history; three
per-customer scores are kept:

- the absolute error and the squared error of the conditional expected
  number of purchases over ``duration_holdout`` against ``frequency_holdout``
  (``holdout_mae``, ``holdout_rmse``);
- the log predictive probability of the observed count,
  log P(X(T, T + t] = n | x, t_x, T), by each model's own conditional
  distribution (:meth:`clv.PurchaseModelResults.prob_n_purchases`):
  ``holdout_loglik`` (mean per customer) and ``holdout_loglik_total``.

The primary criterion is the holdout log-likelihood by default: it is a
proper scoring rule for the whole predictive distribution, so it rewards the
model whose probabilities of 0, 1, 2, ... purchases match what happened,
while the squared error judges the mean only and the absolute error favours
predictions pulled towards the median (0 for most customers). ``criterion``
switches to ``"rmse"`` or ``"mae"``.

A model whose mean per-customer loss exceeds the best model's by an amount
whose paired bootstrap interval (customers resampled, ``level`` two-sided)
contains 0 is *tied* with it. Among the best model and the models tied with
it, the one with the lowest BIC on the full summary is chosen (all three
models have four parameters, so this is the highest full-data likelihood).

Without a split the choice is by BIC on the full summary.

Every model is fitted with :func:`clv.models.fit_purchase_model_with_fallback`
restricted to that model (growing penalizers when the plain fit fails); a
model that cannot be fitted stays in the comparison table, marked failed with
the reason.

:func:`simulate_histories` draws per-customer histories, in continuous time,
from any of the three models, with each customer's true state at the end of
the calibration period: the test bed for the selection and for the activity
measures of :mod:`clv.scoring`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from clv.models import (
    PURCHASE_MODELS,
    ModelFitError,
    PurchaseModelResults,
    fit_purchase_model_with_fallback,
)

__all__ = [
    "REASONS",
    "ModelSelection",
    "holdout_scores",
    "select_purchase_model",
    "simulate_histories",
]

Criterion = Literal["loglik", "rmse", "mae"]

#: Machine-readable reasons for a choice, with what each means.
REASONS: dict[str, str] = {
    "holdout": "best on the holdout criterion, every other model clearly worse",
    "holdout_tie_bic": (
        "one or more models tied with the best on the holdout criterion; the lowest BIC "
        "among the tied models was chosen"
    ),
    "bic": "no holdout period given; lowest BIC on the full summary",
    "bic_no_holdout": (
        "a holdout period was given but no model could be fitted on the calibration "
        "period; lowest BIC on the full summary"
    ),
    "only_model": "only one model could be fitted",
}

_CAL = ("frequency_cal", "recency_cal", "T_cal")
_HOLDOUT = ("frequency_holdout", "duration_holdout")


@dataclass(frozen=True)
class ModelSelection:
    """The purchase model chosen by :func:`select_purchase_model`.

    Attributes
    ----------
    model
        Code of the chosen model (``"bgnbd"``, ``"mbgnbd"`` or ``"pareto_nbd"``).
    results
        Its fit on the full summary, ready for :func:`clv.score`.
    table
        One row per candidate: ``model``, ``label``, ``status`` (``"fitted"`` or
        ``"failed"``), ``error`` (why it failed), ``penalizer``, ``loglik``,
        ``n_params``, ``aic``, ``bic``, ``delta_bic`` (to the lowest), then,
        with a holdout period, ``holdout_status``, ``holdout_mae``,
        ``holdout_rmse``, ``holdout_loglik`` (mean per customer),
        ``holdout_loglik_total``, ``holdout_predicted`` and ``holdout_actual``
        (total purchases), ``loss_diff`` (mean per-customer loss minus the
        best model's, on the primary criterion), ``loss_diff_lower`` and
        ``loss_diff_upper`` (its bootstrap interval), ``in_tie_set`` (the
        best model or tied with it), ``holdout_penalizer`` (of the calibration
        fit); and ``chosen``.
    reason
        A code of :data:`REASONS`.
    evidence
        The numbers behind the reason (criterion, values, intervals, BICs).
    criterion
        The primary holdout criterion, or None when the choice was by BIC.
    fits
        Every successful full-summary fit, by model code.
    calibration_fits
        Every successful calibration-period fit, by model code.
    """

    model: str
    results: PurchaseModelResults
    table: pl.DataFrame
    reason: str
    evidence: dict[str, Any]
    criterion: str | None
    fits: dict[str, PurchaseModelResults] = field(default_factory=dict)
    calibration_fits: dict[str, PurchaseModelResults] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return PURCHASE_MODELS[self.model]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (NaN becomes None) for ``summary.json``."""
        return _plain(
            {
                "model": self.model,
                "label": self.label,
                "reason": self.reason,
                "criterion": self.criterion,
                "evidence": self.evidence,
                "params": self.results.params,
                "table": self.table.to_dicts(),
            }
        )

    def __repr__(self) -> str:
        return f"<ModelSelection {self.model} ({self.reason})>"


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def select_purchase_model(
    summary: pl.DataFrame,
    *,
    calibration: pl.DataFrame | None = None,
    models: Sequence[str] = ("bgnbd", "mbgnbd", "pareto_nbd"),
    criterion: Criterion = "loglik",
    n_bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    penalizers: tuple[float, ...] = (0.0, 0.001, 0.01, 0.1),
    time_unit: str | None = None,
) -> ModelSelection:
    """Fit the purchase models and choose one by evidence.

    Parameters
    ----------
    summary
        Per-customer summary of the full observation period
        (:func:`clv.summarize`); the chosen model is fitted on it.
    calibration
        Optional calibration/holdout frame (:func:`clv.calibration_holdout`)
        from the same log with an earlier ``calibration_end``; given, the
        choice is by holdout accuracy (see the module notes), otherwise by BIC.
    models
        Candidate model codes.
    criterion
        Primary holdout criterion: ``"loglik"`` (log predictive probability
        of each customer's holdout count, higher is better), ``"rmse"`` or
        ``"mae"`` (of the conditional expected purchases).
    n_bootstrap, level, seed
        Paired bootstrap of the per-customer loss differences: replicates,
        two-sided level of the interval, seed.
    penalizers
        Penalizers tried in turn for each model when its plain fit fails.
    time_unit
        Unit of ``recency`` and ``T`` when the frames have no ``time_unit``
        column.

    Raises
    ------
    ModelFitError
        When no candidate can be fitted on the full summary, listing why.
    """
    models = tuple(dict.fromkeys(models))
    unknown = [m for m in models if m not in PURCHASE_MODELS]
    if unknown or not models:
        raise ValueError(f"models={list(models)}; use some of {', '.join(PURCHASE_MODELS)}")
    if criterion not in ("loglik", "rmse", "mae"):
        raise ValueError(f"criterion={criterion!r}; use 'loglik', 'rmse' or 'mae'")
    if not 0 < level < 1:
        raise ValueError(f"level={level}; give a level between 0 and 1, e.g. 0.95")
    if n_bootstrap < 100:
        raise ValueError(f"n_bootstrap={n_bootstrap}; use at least 100 replicates")
    if calibration is not None:
        missing = [c for c in (*_CAL, *_HOLDOUT) if c not in calibration.columns]
        if missing:
            raise ValueError(f"calibration lacks {missing}; build it with clv.calibration_holdout")

    fits: dict[str, PurchaseModelResults] = {}
    errors: dict[str, str] = {}
    for m in models:
        try:
            fits[m], _ = fit_purchase_model_with_fallback(
                summary, m, penalizers=penalizers, other_models=False, time_unit=time_unit
            )
        except ModelFitError as exc:
            errors[m] = str(exc)
    if not fits:
        raise ModelFitError(
            "no purchase model could be fitted: "
            + "; ".join(f"{PURCHASE_MODELS[m]}: {e}" for m, e in errors.items())
        )
    bic = {m: float(f.bic) for m, f in fits.items()}
    rows = {
        m: {
            "model": m,
            "label": PURCHASE_MODELS[m],
            "status": "fitted" if m in fits else "failed",
            "error": errors.get(m),
            "penalizer": fits[m].penalizer if m in fits else None,
            "loglik": fits[m].loglik if m in fits else None,
            "n_params": len(fits[m].params) if m in fits else None,
            "aic": fits[m].aic if m in fits else None,
            "bic": bic.get(m),
            "delta_bic": bic[m] - min(bic.values()) if m in fits else None,
        }
        for m in models
    }
    evidence: dict[str, Any] = {
        "n_customers": next(iter(fits.values())).n_customers,
        "bic": dict(bic),
        "delta_bic": {m: rows[m]["delta_bic"] for m in fits},
    }

    calibration_fits: dict[str, PurchaseModelResults] = {}
    used_criterion: str | None = None
    if calibration is not None:
        losses: dict[str, np.ndarray] = {}
        for m in models:
            row = rows[m]
            row.update(
                holdout_status="not fitted",
                holdout_mae=None,
                holdout_rmse=None,
                holdout_loglik=None,
                holdout_loglik_total=None,
                holdout_predicted=None,
                holdout_actual=None,
                loss_diff=None,
                loss_diff_lower=None,
                loss_diff_upper=None,
                in_tie_set=None,
                holdout_penalizer=None,
            )
            if m not in fits:
                continue
            try:
                cal_fit, _ = fit_purchase_model_with_fallback(
                    calibration, m, penalizers=penalizers, other_models=False, time_unit=time_unit
                )
            except ModelFitError as exc:
                row["holdout_status"] = f"failed on the calibration period: {exc}"
                continue
            calibration_fits[m] = cal_fit
            scores = holdout_scores(cal_fit, calibration)
            row.update(
                holdout_status="scored",
                holdout_penalizer=cal_fit.penalizer,
                holdout_mae=float(np.mean(scores["abs_error"])),
                holdout_rmse=float(np.sqrt(np.mean(scores["sq_error"]))),
                holdout_loglik=float(np.mean(scores["log_prob"])),
                holdout_loglik_total=float(np.sum(scores["log_prob"])),
                holdout_predicted=float(np.sum(scores["predicted"])),
                holdout_actual=float(np.sum(scores["actual"])),
            )
            losses[m] = {
                "loglik": -scores["log_prob"],
                "rmse": scores["sq_error"],
                "mae": scores["abs_error"],
            }[criterion]
        if losses:
            used_criterion = criterion
            chosen, reason, holdout_evidence = _choose_by_holdout(
                losses, bic, criterion, n_bootstrap, level, seed
            )
            for m, diff in holdout_evidence["loss_diff"].items():
                lo, hi = holdout_evidence["loss_diff_interval"][m]
                rows[m].update(
                    loss_diff=diff,
                    loss_diff_lower=lo,
                    loss_diff_upper=hi,
                    in_tie_set=m in holdout_evidence["tie_set"],
                )
            evidence.update(holdout_evidence)
        else:
            chosen, reason = min(bic, key=bic.get), "bic_no_holdout"
    else:
        chosen, reason = min(bic, key=bic.get), "bic"
    if len(fits) == 1:
        reason = "only_model"
    for m in models:
        rows[m]["chosen"] = m == chosen
    table = pl.DataFrame(list(rows.values()), infer_schema_length=None)
    return ModelSelection(
        model=chosen,
        results=fits[chosen],
        table=table,
        reason=reason,
        evidence=evidence,
        criterion=used_criterion,
        fits=fits,
        calibration_fits=calibration_fits,
    )


def holdout_scores(fit: PurchaseModelResults, calibration: pl.DataFrame) -> dict[str, np.ndarray]:
    """Per-customer holdout scores of a model fitted on the calibration period.

    Returns arrays, one value per row of ``calibration``: ``predicted``
    (conditional expected purchases over ``duration_holdout``), ``actual``
    (``frequency_holdout``), ``abs_error``, ``sq_error`` and ``log_prob``
    (log P(X = actual | calibration history)). Computed once per distinct
    (history, count, duration) and gathered back.
    """
    key = [*_CAL, *_HOLDOUT]
    frame = calibration.select(key).with_row_index("_row")
    distinct = frame.select(key).unique(maintain_order=True).with_row_index("_key")
    x, t_x, T, n, dur = (distinct[c].to_numpy().astype(float) for c in key)
    predicted = np.empty(distinct.height)
    log_prob = np.empty(distinct.height)
    for d in np.unique(dur):
        at = dur == d
        predicted[at] = fit.expected_purchases(d, x[at], t_x[at], T[at])
        log_prob[at] = fit.prob_n_purchases(n[at], d, x[at], t_x[at], T[at], log=True)
    index = (
        frame.join(distinct, on=key, how="left", nulls_equal=True).sort("_row")["_key"].to_numpy()
    )
    pred, actual = predicted[index], n[index]
    err = pred - actual
    return {
        "predicted": pred,
        "actual": actual,
        "abs_error": np.abs(err),
        "sq_error": err**2,
        "log_prob": log_prob[index],
    }


def _choose_by_holdout(
    losses: dict[str, np.ndarray],
    bic: dict[str, float],
    criterion: str,
    n_bootstrap: int,
    level: float,
    seed: int,
) -> tuple[str, str, dict[str, Any]]:
    mean_loss = {m: float(np.mean(v)) for m, v in losses.items()}
    best = min(mean_loss, key=mean_loss.get)
    rng = np.random.default_rng(seed)
    n = losses[best].size
    diffs = {m: losses[m] - losses[best] for m in losses if m != best}
    sums = {m: np.empty(n_bootstrap) for m in diffs}
    chunk = max(1, min(n_bootstrap, 20_000_000 // max(n, 1)))
    done = 0
    while done < n_bootstrap:
        size = min(chunk, n_bootstrap - done)
        idx = rng.integers(0, n, size=(size, n))
        for m, d in diffs.items():
            sums[m][done : done + size] = d[idx].mean(axis=1)
        done += size
    tail = (1 - level) / 2
    interval = {best: (0.0, 0.0)}
    interval.update(
        {m: (float(np.quantile(s, tail)), float(np.quantile(s, 1 - tail))) for m, s in sums.items()}
    )
    tied = sorted(m for m in diffs if interval[m][0] <= 0.0)
    tie_set = [best, *tied]
    chosen = min(tie_set, key=lambda m: bic[m])
    reason = "holdout_tie_bic" if tied else "holdout"
    # the criterion reported on its own scale: mean log-likelihood, RMSE or MAE
    value = {
        m: (-v if criterion == "loglik" else math.sqrt(v) if criterion == "rmse" else v)
        for m, v in mean_loss.items()
    }
    loss_name = {"loglik": "minus log-likelihood", "rmse": "squared error", "mae": "abs error"}
    return (
        chosen,
        reason,
        {
            "criterion": criterion,
            "loss": f"mean per-customer {loss_name[criterion]}",
            "value": value,
            "best_on_criterion": best,
            "loss_diff": {m: float(np.mean(d)) for m, d in diffs.items()} | {best: 0.0},
            "loss_diff_interval": interval,
            "tied": tied,
            "tie_set": tie_set,
            "n_customers_holdout": int(n),
            "n_bootstrap": n_bootstrap,
            "level": level,
            "seed": seed,
        },
    )


# ---------------------------------------------------------------------------
# simulated populations with known dropout


_PARAMS = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "mbgnbd": ("r", "alpha", "a", "b"),
    "pareto_nbd": ("r", "alpha", "s", "beta"),
}


def simulate_histories(
    model: str,
    n_customers: int,
    params: dict[str, float],
    *,
    acquisition: float = 12.0,
    calibration_end: float = 39.0,
    holdout: float = 39.0,
    time_unit: str = "W",
    resolution: float | None = None,
    seed: int | np.random.Generator = 0,
) -> pl.DataFrame:
    """Draw customer histories from a purchase model, with their true state.

    Time is continuous, in ``time_unit``, from the start of the acquisition
    window. Each customer's first purchase is uniform in ``(0, acquisition)``;
    while alive, purchases follow a Poisson process with rate
    ``lambda ~ Gamma(r, rate alpha)``. Dropout:

    - ``"bgnbd"``: with probability ``p ~ Beta(a, b)`` after each repeat purchase;
    - ``"mbgnbd"``: the same, and also right after the first purchase;
    - ``"pareto_nbd"``: after an exponential lifetime with rate
      ``mu ~ Gamma(s, rate beta)`` from the first purchase.

    With ``resolution`` (e.g. ``1 / 7`` for days when ``time_unit`` is weeks)
    the first purchases and purchase times are rounded down to that grid, as in
    a log summarised per day: far fewer distinct histories, so much faster
    fits. Counts are not merged: two purchases in one grid step stay two.

    Returns
    -------
    polars.DataFrame
        One row per customer: ``customer_id``; the full-period summary
        ``frequency``, ``recency``, ``T`` (to ``calibration_end + holdout``);
        the calibration summary ``frequency_cal``, ``recency_cal``, ``T_cal``
        (to ``calibration_end``); ``frequency_holdout`` and
        ``duration_holdout``; ``alive_cal`` and ``alive`` (truly active at the
        end of the calibration period and of the whole period); ``time_unit``.
    """
    if model not in _PARAMS:
        raise ValueError(f"model={model!r}; use one of {', '.join(_PARAMS)}")
    names = _PARAMS[model]
    if set(params) != set(names) or min(params.values()) <= 0:
        raise ValueError(f"{model} needs positive parameters {names}, got {params}")
    if not 0 < acquisition <= calibration_end or not holdout > 0:
        raise ValueError("need 0 < acquisition <= calibration_end and holdout > 0")
    if resolution is not None and not resolution > 0:
        raise ValueError(f"resolution={resolution}; give a positive step or None")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    end = calibration_end + holdout
    birth = rng.uniform(0.0, acquisition, size=n_customers)
    age = end - birth
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], size=n_customers)
    if model == "pareto_nbd":
        mu = rng.gamma(params["s"], 1.0 / params["beta"], size=n_customers)
        lifetime = rng.exponential(1.0 / mu)
        repeats_allowed = np.full(n_customers, np.iinfo(np.int64).max)
    else:
        p = rng.beta(params["a"], params["b"], size=n_customers)
        # number of repeat purchases made before dropping out
        repeats_allowed = rng.geometric(p) - (1 if model == "mbgnbd" else 0)
        lifetime = np.full(n_customers, np.inf)
        lifetime[repeats_allowed == 0] = 0.0

    n_potential = rng.poisson(lam * age)
    owner = np.repeat(np.arange(n_customers), n_potential)
    times = rng.uniform(0.0, 1.0, size=owner.size) * age[owner]
    order = np.lexsort((times, owner))
    owner, times = owner[order], times[order]
    rank = np.arange(owner.size) - np.repeat(np.cumsum(n_potential) - n_potential, n_potential)
    if model != "pareto_nbd":
        # the customer drops out at the repeat purchase number repeats_allowed
        last = rank == repeats_allowed[owner] - 1
        lifetime[owner[last]] = times[last]
        keep = rank < repeats_allowed[owner]
    else:
        keep = times < lifetime[owner]
    owner, times = owner[keep], times[keep]

    if resolution is not None:
        # birth on the grid, purchase dates on the grid: both ages step with it
        grid_birth = np.floor(birth / resolution) * resolution
        times = np.floor((birth[owner] + times) / resolution) * resolution - grid_birth[owner]
        lifetime = lifetime + birth - grid_birth
        birth = grid_birth
        age = end - birth
    cal_age = calibration_end - birth
    in_cal = times <= cal_age[owner]
    freq = np.bincount(owner, minlength=n_customers)
    freq_cal = np.bincount(owner[in_cal], minlength=n_customers)
    recency = np.zeros(n_customers)
    np.maximum.at(recency, owner, times)
    recency_cal = np.zeros(n_customers)
    np.maximum.at(recency_cal, owner[in_cal], times[in_cal])
    width = len(str(n_customers))
    return pl.DataFrame(
        {
            "customer_id": [str(i).zfill(width) for i in range(n_customers)],
            "frequency": freq.astype(np.int64),
            "recency": recency,
            "T": age,
            "frequency_cal": freq_cal.astype(np.int64),
            "recency_cal": recency_cal,
            "T_cal": cal_age,
            "frequency_holdout": (freq - freq_cal).astype(np.int64),
            "duration_holdout": np.full(n_customers, float(holdout)),
            "alive_cal": lifetime > cal_age,
            "alive": lifetime > age,
            "time_unit": [time_unit] * n_customers,
        }
    )
