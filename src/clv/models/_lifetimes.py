"""The reference engine: fits and predictions through ``lifetimes``.

This is the only module that imports ``lifetimes`` (and so pandas and
autograd); it does so on first use, so that clv's own engine never pays for
the import. ``engine="lifetimes"`` in :func:`clv.models.fit_purchase_model`
and :func:`clv.models.fit_spend_model` fits through here; results of either
engine carry a lifetimes fitter holding their parameters (built lazily), for
comparisons with lifetimes' own predictions.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any

import numpy as np

from clv.models import pareto_nbd
from clv.models._histories import Histories

__all__ = ["FitFailed", "LazyFitter", "fit_purchase", "fit_spend", "fitter_with_params"]

_PARAM_NAMES = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "pareto_nbd": ("r", "alpha", "s", "beta"),
    "mbgnbd": ("r", "alpha", "a", "b"),
    "gamma_gamma": ("p", "q", "v"),
}


class FitFailed(RuntimeError):
    """lifetimes' optimiser stopped without an estimate (the message says why)."""


def _lifetimes() -> Any:
    with warnings.catch_warnings():
        # lifetimes sets a pandas option that pandas 3 deprecates, at import time
        warnings.simplefilter("ignore")
        import lifetimes
        import lifetimes.utils
    return lifetimes


_SAFE_PARETO: type | None = None


def _safe_pareto_class() -> type:
    """lifetimes' Pareto/NBD with the likelihood term A_0 computed safely.

    Overrides the three static methods that reach ``_log_A_0`` by class name,
    so fitting, P(alive) and conditional expectations all use the safe form;
    the fit evaluates the likelihood factorised over distinct histories.
    """
    global _SAFE_PARETO
    if _SAFE_PARETO is not None:
        return _SAFE_PARETO
    base = _lifetimes().ParetoNBDFitter

    class SafeParetoNBDFitter(base):
        __doc__ = _safe_pareto_class.__doc__

        @staticmethod
        def _log_A_0(params, freq, recency, age):
            return pareto_nbd.log_a0(np.asarray(params, dtype=float), freq, recency, age)

        @staticmethod
        def _conditional_log_likelihood(params, freq, rec, T):
            return pareto_nbd.loglik(np.asarray(params, dtype=float), freq, rec, T)

        @staticmethod
        def _negative_log_likelihood(params, freq, rec, T, weights, penalizer_coef):
            params = np.asarray(params, dtype=float)
            if np.any(params <= 0.0):
                return np.inf
            ll = pareto_nbd.loglik_grouped(params, _HistoryCache.get(freq, rec, T))
            value = -(weights * ll).sum() / weights.mean() + penalizer_coef * np.sum(params**2)
            return value if np.isfinite(value) else np.inf

    SafeParetoNBDFitter.__module__ = __name__
    SafeParetoNBDFitter.__qualname__ = "SafeParetoNBDFitter"
    _SAFE_PARETO = SafeParetoNBDFitter
    globals()["SafeParetoNBDFitter"] = SafeParetoNBDFitter  # so that fits pickle
    return SafeParetoNBDFitter


def __getattr__(name: str) -> Any:
    if name == "SafeParetoNBDFitter":
        return _safe_pareto_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _HistoryCache:
    """The factorisation of the arrays lifetimes' optimiser passes in, built once
    per fit (the optimiser calls the likelihood with the same arrays each time)."""

    arrays: tuple[np.ndarray, ...] = ()
    histories: Histories | None = None

    @classmethod
    def get(cls, freq: np.ndarray, rec: np.ndarray, T: np.ndarray) -> Histories:
        same = len(cls.arrays) == 3 and all(
            a is b for a, b in zip(cls.arrays, (freq, rec, T), strict=True)
        )
        if not same or cls.histories is None:
            cls.arrays = (freq, rec, T)
            cls.histories = Histories.build(freq, rec, T)
        return cls.histories


def make_fitter(model: str, penalizer: float = 0.0) -> Any:
    """An unfitted lifetimes fitter for ``model`` (``"gamma_gamma"`` included)."""
    lt = _lifetimes()
    cls = {
        "bgnbd": lt.BetaGeoFitter,
        "pareto_nbd": _safe_pareto_class(),
        "mbgnbd": lt.ModifiedBetaGeoFitter,
        "gamma_gamma": lt.GammaGammaFitter,
    }[model]
    return cls(penalizer_coef=penalizer)


def fitter_with_params(model: str, params: dict[str, float]) -> Any:
    """A lifetimes fitter holding given parameters (clv's names), for predictions."""
    import pandas as pd

    fitter = make_fitter(model)
    values = list(params.values())
    fitter.params_ = pd.Series(dict(zip(_PARAM_NAMES[model], values, strict=True)))
    if model != "gamma_gamma":
        # set by lifetimes' fit; its customer_lifetime_value calls it
        fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
    return fitter


class LazyFitter:
    """A lifetimes fitter with given parameters, built on first use.

    Stands in for the fitter on results of clv's own engine, so that lifetimes
    is imported only when someone asks for lifetimes' predictions.
    """

    def __init__(self, model: str, params: dict[str, float]) -> None:
        self.model = model
        self.params = dict(params)
        self.fitter = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("model", "params", "fitter"):
            raise AttributeError(name)
        if self.fitter is None:
            self.fitter = fitter_with_params(self.model, self.params)
        return getattr(self.fitter, name)

    def __repr__(self) -> str:
        return f"<LazyFitter {self.model}: {self.params}>"


def _run(fitter: Any, *args: Any, **kwargs: Any) -> Any:
    lt = _lifetimes()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore", RuntimeWarning)
            return fitter.fit(*args, **kwargs)
    except (
        lt.utils.ConvergenceError,
        ValueError,
        FloatingPointError,
        np.linalg.LinAlgError,
    ) as exc:
        raise FitFailed(str(exc).strip()) from None


def fit_purchase(
    model: str,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray,
    penalizer: float = 0.0,
) -> tuple[np.ndarray, Any, str]:
    """Fit ``model`` with lifetimes' own fitter on weighted rows.

    Returns the estimates (clv's parameter order), the fitted lifetimes object
    and a description of the optimiser. Raises :class:`FitFailed`.
    """
    fitter = make_fitter(model, penalizer)
    kwargs: dict[str, Any] = {"weights": weights}
    if model == "pareto_nbd":
        kwargs["initial_params"] = np.ones(4)  # lifetimes would draw them at random
        kwargs["maxiter"] = 10_000
    _run(fitter, x, t_x, T, **kwargs)
    optimiser = "Nelder-Mead from (1, 1, 1, 1)" if model == "pareto_nbd" else "BFGS"
    params = np.array([fitter.params_[k] for k in _PARAM_NAMES[model]], dtype=float)
    return params, fitter, f"lifetimes ({optimiser})"


def fit_spend(
    x: np.ndarray, m: np.ndarray, weights: np.ndarray, penalizer: float = 0.0
) -> tuple[np.ndarray, Any, str]:
    """Fit Gamma-Gamma with lifetimes' ``GammaGammaFitter``; as :func:`fit_purchase`."""
    fitter = make_fitter("gamma_gamma", penalizer)
    _run(fitter, x, m, weights=weights)
    params = np.array([fitter.params_[k] for k in _PARAM_NAMES["gamma_gamma"]], dtype=float)
    return params, fitter, "lifetimes' GammaGammaFitter"


def negative_log_likelihood(model: str, log_params: np.ndarray, *data: np.ndarray) -> float:
    """lifetimes' own objective (mean negative log-likelihood per customer,
    without penalty) at ``log_params`` on unweighted rows ``data``: the reference
    the tests compare clv's likelihoods with."""
    lt = _lifetimes()
    ones = np.ones_like(np.asarray(data[0], dtype=float))
    if model == "pareto_nbd":
        params = np.exp(log_params)
        ll = lt.ParetoNBDFitter._conditional_log_likelihood(params, *data)
        return float(-np.mean(ll))
    cls = {
        "bgnbd": lt.BetaGeoFitter,
        "mbgnbd": lt.ModifiedBetaGeoFitter,
        "gamma_gamma": lt.GammaGammaFitter,
    }[model]
    return float(cls._negative_log_likelihood(np.asarray(log_params), *data, ones, 0.0))
