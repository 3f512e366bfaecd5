"""Gamma-Gamma spend model: likelihood, analytic gradient and predictions.

Fader and Hardie (2013), "The Gamma-Gamma model of monetary value". The
spend per order of a customer is Gamma(p, nu) with nu ~ Gamma(q, gamma);
the mean ``m`` of ``x`` orders is the observation. Parameters are
``(p, q, gamma)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, gammaln

__all__ = ["SpendData", "expected_order_value", "loglik", "mean_order_value", "value_and_gradient"]


def loglik(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Log-likelihood of the mean spend ``m`` of ``x`` orders (equation 5)."""
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


@dataclass(frozen=True)
class SpendData:
    """Distinct (frequency, mean spend) rows with customer counts as weights, and
    the terms of the likelihood that do not depend on the parameters."""

    x: np.ndarray
    m: np.ndarray
    weights: np.ndarray
    ux: np.ndarray  # distinct frequencies; x == ux[ix]
    ix: np.ndarray
    n_per_x: np.ndarray
    mx: np.ndarray  # m * x
    constant: float  # sum of c [(px - 1) log m + px log x] without p: sum c (-log m)
    cx_log_mx: float  # sum of c x log(m x)

    @property
    def n_customers(self) -> float:
        """Total weight: the number of customers the rows stand for."""
        return float(self.weights.sum())

    @classmethod
    def build(cls, x: np.ndarray, m: np.ndarray, weights: np.ndarray | None = None) -> SpendData:
        """Factorise the rows ``(x, m)``; ``weights`` default to one each."""
        x = np.asarray(x, dtype=float).ravel()
        m = np.asarray(m, dtype=float).ravel()
        c = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float).ravel()
        ux, ix = np.unique(x, return_inverse=True)
        log_m = np.log(m)
        return cls(
            x=x,
            m=m,
            weights=c,
            ux=ux,
            ix=ix,
            n_per_x=np.bincount(ix, weights=c, minlength=ux.size),
            mx=m * x,
            constant=-float((c * log_m).sum()),
            cx_log_mx=float((c * x * (log_m + np.log(x))).sum()),
        )

    def subsample(self, n_customers: int, seed: int = 0) -> SpendData:
        """A random sample of ``n_customers`` customers (with replacement)."""
        rng = np.random.default_rng(seed)
        counts = rng.multinomial(n_customers, self.weights / self.weights.sum())
        keep = counts > 0
        return SpendData.build(self.x[keep], self.m[keep], counts[keep])


def value_and_gradient(log_params: np.ndarray, data: SpendData) -> tuple[float, np.ndarray]:
    """Total weighted log-likelihood and its gradient in the log parameters.

    ``dl/dp = x [psi(px+q) - psi(px) + log m + log x - log(gamma + m x)]``,
    ``dl/dq = psi(px+q) - psi(q) + log gamma - log(gamma + m x)``,
    ``dl/dgamma = q / gamma - (px+q) / (gamma + m x)``. The digamma and
    log-gamma terms depend on the frequency alone and are computed once per
    distinct frequency; the sums of ``log m`` and ``x log(m x)`` are kept on
    ``data``, so each row costs one logarithm.
    """
    params = np.exp(np.asarray(log_params, dtype=float))
    p, q, gamma = params
    c = data.weights
    n = data.n_customers
    ux, n_x = data.ux, data.n_per_x
    pux = p * ux
    dg_xq = digamma(pux + q)
    log_gm = np.log(gamma + data.mx)
    c_log = c * log_gm
    cx = c * data.x
    s_log = float(c_log.sum())
    s_x_log = float((cx * log_gm).sum())
    inv = c / (gamma + data.mx)
    s_inv = float(inv.sum())
    s_x_inv = float((inv * data.x).sum())
    value = (
        float(n_x @ (gammaln(pux + q) - gammaln(pux)))
        - n * gammaln(q)
        + n * q * np.log(gamma)
        + data.constant
        + p * data.cx_log_mx
        - p * s_x_log
        - q * s_log
    )
    d_p = float(n_x @ (ux * (dg_xq - digamma(pux)))) + data.cx_log_mx - s_x_log
    d_q = float(n_x @ dg_xq) - n * digamma(q) + n * np.log(gamma) - s_log
    d_gamma = n * q / gamma - p * s_x_inv - q * s_inv
    return value, np.array([d_p, d_q, d_gamma]) * params


def mean_order_value(params: np.ndarray) -> float:
    """Population mean spend per order, p * gamma / (q - 1)."""
    p, q, gamma = params
    return p * gamma / (q - 1)


def expected_order_value(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Expected spend per order of each customer (equation 8): a weighted mean
    of the population mean and the customer's own mean; the population mean
    for customers without repeat purchases."""
    p, q, _ = params
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    weight = p * x / (p * x + q - 1)
    return (1 - weight) * mean_order_value(params) + weight * np.where(x > 0, m, 0.0)
