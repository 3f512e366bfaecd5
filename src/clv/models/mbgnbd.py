"""MBG/NBD: likelihood, analytic gradient and predictions.

Batislam, Denizel and Filiztekin (2007), "Empirical validation and comparison
of models for customer base analysis", International Journal of Research in
Marketing 24(3): BG/NBD where a customer may also drop out right after the
first purchase. The formulas are those of :mod:`clv.models.bgnbd` with the
Beta arguments shifted by one; this module fixes ``modified=True``.
"""

from __future__ import annotations

import numpy as np

from clv.models import bgnbd
from clv.models._histories import Histories

__all__ = [
    "conditional_expected_purchases",
    "expected_purchases_new_customer",
    "loglik",
    "loglik_grouped",
    "p_alive",
    "value_and_gradient",
]


def loglik(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Log-likelihood of each customer."""
    return bgnbd.loglik(params, x, t_x, T, modified=True)


def loglik_grouped(params: np.ndarray, h: Histories) -> np.ndarray:
    """:func:`loglik` of each row of ``h``, factorised."""
    return bgnbd.loglik_grouped(params, h, modified=True)


def value_and_gradient(log_params: np.ndarray, h: Histories) -> tuple[float, np.ndarray]:
    """Total weighted log-likelihood and its gradient in the log parameters."""
    return bgnbd.value_and_gradient(log_params, h, modified=True)


def p_alive(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Probability that each customer is still active."""
    return bgnbd.p_alive(params, x, t_x, T, modified=True)


def conditional_expected_purchases(
    params: np.ndarray, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Expected repeat purchases in the next ``t`` time units given the history."""
    return bgnbd.conditional_expected_purchases(params, t, x, t_x, T, modified=True)


def expected_purchases_new_customer(params: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Expected repeat purchases in the first ``t`` time units of a new customer."""
    return bgnbd.expected_purchases_new_customer(params, t, modified=True)
