"""clv: customer grading (客户分级) grounded in predicted lifetime value.

From a transaction log to per-customer CLV and churn probability:

>>> import clv
>>> tx = clv.load_transactions("data/cdnow/CDNOW_sample.csv")
>>> summary = clv.summarize(tx, freq="D", time_unit="W", observation_end="1997-09-30")
>>> bgnbd = clv.fit_purchase_model(summary, model="bgnbd")
>>> spend = clv.fit_spend_model(summary)
>>> scores = clv.score(summary, bgnbd, spend, horizon_days=365, discount_rate_annual=0.10)
"""

from clv import backtest as backtesting
from clv import datasets, programmes, report, tiers
from clv.backtest import BacktestResult, backtest
from clv.data import (
    DataQuality,
    TransactionDataError,
    TransactionLog,
    load_transactions,
    scan_transactions,
)
from clv.models import (
    PURCHASE_MODELS,
    IndependenceCheck,
    ModelFitError,
    PurchaseModelResults,
    SpendModelResults,
    fit_purchase_model,
    fit_spend_model,
    spend_independence_check,
)
from clv.rfm import WindowCounts, calibration_holdout, compress, summarize, window_counts
from clv.scoring import score
from clv.simulate import simulate_transactions
from clv.tiers import Grading, Scheme, SchemeError, available_schemes, grade, load_scheme

__all__ = [
    "PURCHASE_MODELS",
    "BacktestResult",
    "DataQuality",
    "Grading",
    "IndependenceCheck",
    "ModelFitError",
    "PurchaseModelResults",
    "Scheme",
    "SchemeError",
    "SpendModelResults",
    "TransactionDataError",
    "TransactionLog",
    "WindowCounts",
    "available_schemes",
    "backtest",
    "backtesting",
    "calibration_holdout",
    "compress",
    "datasets",
    "fit_purchase_model",
    "fit_spend_model",
    "grade",
    "load_scheme",
    "load_transactions",
    "programmes",
    "report",
    "scan_transactions",
    "score",
    "simulate_transactions",
    "spend_independence_check",
    "summarize",
    "tiers",
    "window_counts",
]

__version__ = "0.1.0"
