"""clv: customer grading (客户分级) grounded in predicted lifetime value.

From a transaction log to per-customer CLV and churn probability:

>>> import clv
>>> tx = clv.load_transactions("data/cdnow/CDNOW_sample.csv")
>>> summary = clv.summarize(tx, freq="D", time_unit="W", observation_end="1997-09-30")
>>> bgnbd = clv.fit_purchase_model(summary, model="bgnbd")
>>> spend = clv.fit_spend_model(summary)
>>> scores = clv.score(summary, bgnbd, spend, horizon_days=365, discount_rate_annual=0.10)

The names below are imported on first use, so that ``import clv`` (and the
``clv`` command's ``--help``) does not pay for statsmodels, lifetimes and
matplotlib until they are needed.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

# public name -> (module, attribute in it; None for the module itself)
_EXPORTS: dict[str, tuple[str, str | None]] = {
    "backtesting": ("clv.backtest", None),
    "datasets": ("clv.datasets", None),
    "programmes": ("clv.programmes", None),
    "report": ("clv.report", None),
    "tiers": ("clv.tiers", None),
    "migration": ("clv.migration", None),
    "selection": ("clv.selection", None),
    "select_purchase_model": ("clv.selection", "select_purchase_model"),
    "BacktestResult": ("clv.backtest", "BacktestResult"),
    "backtest": ("clv.backtest", "backtest"),
    "DataQuality": ("clv.data", "DataQuality"),
    "TransactionDataError": ("clv.data", "TransactionDataError"),
    "TransactionLog": ("clv.data", "TransactionLog"),
    "load_transactions": ("clv.data", "load_transactions"),
    "scan_transactions": ("clv.data", "scan_transactions"),
    "DataSource": ("clv.source", "DataSource"),
    "PURCHASE_MODELS": ("clv.models", "PURCHASE_MODELS"),
    "IndependenceCheck": ("clv.models", "IndependenceCheck"),
    "ModelFitError": ("clv.models", "ModelFitError"),
    "PurchaseModelResults": ("clv.models", "PurchaseModelResults"),
    "SpendModelResults": ("clv.models", "SpendModelResults"),
    "fit_purchase_model": ("clv.models", "fit_purchase_model"),
    "fit_spend_model": ("clv.models", "fit_spend_model"),
    "spend_independence_check": ("clv.models", "spend_independence_check"),
    "predictions": ("clv.models.predictions", None),
    "repeat_purchase_histogram": ("clv.models.predictions", "repeat_purchase_histogram"),
    "clv_intervals": ("clv.models.predictions", "clv_intervals"),
    "p_alive_at": ("clv.models.predictions", "p_alive_at"),
    "p_alive_path": ("clv.models.predictions", "p_alive_path"),
    "expected_next_purchase": ("clv.models.predictions", "expected_next_purchase"),
    "BGBBResults": ("clv.models.bgbb", "BGBBResults"),
    "fit_bgbb": ("clv.models.bgbb", "fit_bgbb"),
    "bgbb_summary": ("clv.models.bgbb", "bgbb_summary"),
    "ModelFileError": ("clv.models.persist", "ModelFileError"),
    "load_model": ("clv.models.persist", "load_model"),
    "save_model": ("clv.models.persist", "save_model"),
    "summary_fingerprint": ("clv.models.persist", "summary_fingerprint"),
    "WindowCounts": ("clv.rfm", "WindowCounts"),
    "calibration_holdout": ("clv.rfm", "calibration_holdout"),
    "compress": ("clv.rfm", "compress"),
    "summarize": ("clv.rfm", "summarize"),
    "window_counts": ("clv.rfm", "window_counts"),
    "score": ("clv.scoring", "score"),
    "margins": ("clv.margins", None),
    "apply_margins": ("clv.margins", "apply_margins"),
    "customer_margins": ("clv.margins", "customer_margins"),
    "simulate_transactions": ("clv.simulate", "simulate_transactions"),
    "Grading": ("clv.tiers", "Grading"),
    "Scheme": ("clv.tiers", "Scheme"),
    "SchemeError": ("clv.tiers", "SchemeError"),
    "available_schemes": ("clv.tiers", "available_schemes"),
    "grade": ("clv.tiers", "grade"),
    "load_scheme": ("clv.tiers", "load_scheme"),
}

__all__ = sorted(_EXPORTS)

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'clv' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


class _Package(types.ModuleType):
    """``clv.backtest`` is the function; importing the module of the same name
    (which the import system records on the package) must not replace it."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "backtest" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
