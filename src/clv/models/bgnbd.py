"""BG/NBD: likelihood, analytic gradient and predictions.

Fader, Hardie and Lee (2005), "Counting your customers the easy way: an
alternative to the Pareto/NBD model", Marketing Science 24(2), 275-284.
Purchases follow a Poisson process with rate lambda ~ Gamma(r, alpha); after
each repeat purchase the customer drops out with probability p ~ Beta(a, b).

The MBG/NBD variant (:mod:`clv.models.mbgnbd`) shares the code here: it adds
a dropout chance right after the first purchase, which shifts the Beta
arguments by one (``modified=True``).

Parameters are ``(r, alpha, a, b)`` on the natural scale; the gradient is
taken with respect to their logarithms, the optimisation variables.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from clv.models._histories import Histories

__all__ = [
    "conditional_expected_purchases",
    "expected_purchases_new_customer",
    "loglik",
    "loglik_grouped",
    "p_alive",
    "value_and_gradient",
]


def loglik(
    params: np.ndarray,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    *,
    modified: bool = False,
) -> np.ndarray:
    """Log-likelihood of each customer (FHL 2005, equation 6).

    With ``modified`` the MBG/NBD likelihood of Batislam, Denizel and
    Filiztekin (2007).
    """
    r, alpha, a, b = params
    m = 1.0 if modified else 0.0
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    term_T = betaln(a, b + x + m) - betaln(a, b) - (r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        term_tx = np.where(
            x + m > 0,
            betaln(a + 1, b + np.maximum(x + m, 1) - 1)
            - betaln(a, b)
            - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return common + np.logaddexp(term_T, term_tx)


def loglik_grouped(params: np.ndarray, h: Histories, *, modified: bool = False) -> np.ndarray:
    """:func:`loglik` of each row of ``h``, special functions once per distinct value."""
    return _evaluate(params, h, modified, gradient=False)[0]


def value_and_gradient(
    log_params: np.ndarray, h: Histories, *, modified: bool = False
) -> tuple[float, np.ndarray]:
    """Total weighted log-likelihood and its gradient in the log parameters.

    With weights c, ``L = sum c_i l_i`` where
    ``l = lgamma(r+x) - lgamma(r) + r log alpha + log(e^A + e^B)``,
    ``A = B(a, b+x+m) - B(a, b) - (r+x) log(alpha+T)`` and
    ``B = B(a+1, b+x+m-1) - B(a, b) - (r+x) log(alpha+t_x)`` (log Beta
    functions; m = 1 for MBG/NBD, 0 for BG/NBD where B is absent at x = 0).
    With the shares ``w_A = e^A / (e^A + e^B)`` and ``w_B = 1 - w_A`` the
    derivatives are sums of digamma functions of the frequency (gathered
    per distinct frequency) and of ``log(alpha + .)`` and ``1 / (alpha + .)``
    terms (gathered per distinct age and recency).
    """
    params = np.exp(np.asarray(log_params, dtype=float))
    with np.errstate(over="ignore", under="ignore"):
        _, total, grad = _evaluate(params, h, modified, gradient=True)
    return total, grad * params


def _evaluate(params, h: Histories, modified: bool, gradient: bool):
    """Row log-likelihoods (``gradient=False``) or the total and its gradient in
    the natural parameters (``gradient=True``).

    Written as ``l = lgamma(r+x) - lgamma(r) + r log alpha + A + softplus(B - A)``
    so that each row costs one gather per distinct-value table and two
    transcendental functions; sums over rows that do not depend on the
    parameters are kept on ``h``.
    """
    r, alpha, a, b = (float(v) for v in params)
    m = 1.0 if modified else 0.0
    ux = h.ux
    xm = ux + m
    lb_ab = betaln(a, b)
    beta_T = betaln(a, b + xm) - lb_ab
    has_tx = xm > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        beta_tx = np.where(has_tx, betaln(a + 1, b + np.maximum(xm, 1) - 1) - lb_ab, -np.inf)
    log_aT = np.log(alpha + h.uT)
    log_atx = np.log(alpha + h.utx)
    rx = r + h.x
    # B - A = (beta_tx - beta_T)(x) - (r+x) (log(alpha+t_x) - log(alpha+T))
    log_gap = log_atx.take(h.itx)
    log_gap -= log_aT.take(h.iT)
    diff = (beta_tx - beta_T).take(h.ix)
    diff -= rx * log_gap
    lg = gammaln(r + ux) - gammaln(r)
    if not gradient:
        term_T = beta_T.take(h.ix) - rx * log_aT.take(h.iT)
        return lg.take(h.ix) + r * np.log(alpha) + term_T + np.logaddexp(0.0, diff), None, None
    c = h.weights
    n = h.n_customers
    n_x = h.n_per_x
    rc_T = r * h.n_per_T + h.nx_per_T  # sum of c (r+x) per age
    total = (
        float(n_x @ (lg + beta_T))
        + n * r * np.log(alpha)
        - float(rc_T @ log_aT)
        + float((c * np.logaddexp(0.0, diff)).sum())
    )
    c_tx = c * expit(diff)  # weight times the share of the t_x term
    ctx_x = np.bincount(h.ix, weights=c_tx, minlength=ux.size)
    rc_tx = c_tx * rx
    d_r = (
        float(n_x @ (digamma(r + ux) - digamma(r)))
        + n * np.log(alpha)
        - float(h.n_per_T @ log_aT)
        - float((c_tx * log_gap).sum())
    )
    d_alpha = (
        n * r / alpha
        - float(rc_T @ (1.0 / (alpha + h.uT)))
        - float(np.bincount(h.itx, weights=rc_tx, minlength=h.utx.size) @ (1.0 / (alpha + h.utx)))
        + float(np.bincount(h.iT, weights=rc_tx, minlength=h.uT.size) @ (1.0 / (alpha + h.uT)))
    )
    dg_ab = digamma(a + b)
    dg_abx = digamma(a + b + xm)
    dT_a = dg_ab - dg_abx
    dT_b = digamma(b + xm) - dg_abx - digamma(b) + dg_ab
    dtx_a = np.where(has_tx, 1.0 / a + dg_ab - dg_abx, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        dtx_b = np.where(
            has_tx, digamma(b + np.maximum(xm, 1) - 1) - dg_abx - digamma(b) + dg_ab, 0.0
        )
    d_a = float(n_x @ dT_a) + float(ctx_x @ (dtx_a - dT_a))
    d_b = float(n_x @ dT_b) + float(ctx_x @ (dtx_b - dT_b))
    return None, total, np.array([d_r, d_alpha, d_a, d_b])


def p_alive(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, *, modified: bool = False
) -> np.ndarray:
    """Probability that each customer is still active (FHL 2005, equation 13;
    MBG/NBD: Batislam et al. 2007, appendix A, equation 5)."""
    r, alpha, a, b = params
    x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
    with np.errstate(divide="ignore", invalid="ignore"):
        if modified:
            log_odds = np.log(a / (b + x)) + (r + x) * np.log((alpha + T) / (alpha + t_x))
            return expit(-log_odds)
        log_odds = np.log(a / (b + np.maximum(x, 1) - 1)) + (r + x) * np.log(
            (alpha + T) / (alpha + t_x)
        )
        return np.where(x == 0, 1.0, expit(-log_odds))


def _log_hyp2f1(a, b, c, z):
    """log 2F1(a, b; c; z) for 0 <= z < 1, through Euler's transformation
    where the direct series overflows."""
    with np.errstate(all="ignore"):
        direct = np.log(hyp2f1(a, b, c, z))
        euler = np.log(hyp2f1(c - a, c - b, c, z)) + (c - a - b) * np.log1p(-z)
    return np.where(np.isfinite(direct), direct, euler)


def conditional_expected_purchases(
    params: np.ndarray,
    t: float,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    *,
    modified: bool = False,
) -> np.ndarray:
    """Expected repeat purchases in the next ``t`` time units given the history
    (FHL 2005, equation 10; MBG/NBD: Wagner and Hoppe 2008)."""
    r, alpha, a, b = params
    x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
    z = t / (alpha + T + t)
    shift = (alpha + T) / (alpha + T + t)
    with np.errstate(all="ignore"):
        if modified:
            log_hyp = _log_hyp2f1(r + x, b + x + 1, a + b + x, z)
            first = (a + b + x) / (a - 1)
        else:
            log_hyp = _log_hyp2f1(r + x, b + x, a + b + x - 1, z)
            first = (a + b + x - 1) / (a - 1)
        second = -np.expm1(log_hyp + (r + x) * np.log(shift))
    return first * second * p_alive(params, x, t_x, T, modified=modified)


def expected_purchases_new_customer(
    params: np.ndarray, t: np.ndarray, *, modified: bool = False
) -> np.ndarray:
    """Expected repeat purchases in the first ``t`` time units of a new customer
    (FHL 2005, equation 9; MBG/NBD: Batislam et al. 2007)."""
    r, alpha, a, b = params
    t = np.asarray(t, dtype=float)
    with np.errstate(all="ignore"):
        if modified:
            log_hyp = _log_hyp2f1(r, b + 1, a + b, t / (alpha + t))
            first = b / (a - 1)
        else:
            log_hyp = _log_hyp2f1(r, b, a + b - 1, t / (alpha + t))
            first = (a + b - 1) / (a - 1)
        return first * -np.expm1(log_hyp + r * np.log(alpha / (alpha + t)))
