"""Pareto/NBD: likelihood, gradient and predictions.

Schmittlein, Morrison and Colombo (1987), with the likelihood of Fader and
Hardie (2005), "A note on deriving the Pareto/NBD model and related
expressions" (note 008). Purchases follow a Poisson process with rate
lambda ~ Gamma(r, alpha); the lifetime is exponential with rate
mu ~ Gamma(s, beta). Parameters are ``(r, alpha, s, beta)``.

The likelihood of a history (x, t_x, T) is

    Gamma(r+x)/Gamma(r) alpha^r beta^s [ (alpha+T)^-(r+x) (beta+T)^-s + s J ],
    J = integral over (t_x, T) of (alpha+u)^-(r+x) (beta+u)^-(s+1) du,

(equation 18 of the note, with A_0 = (r+s+x) J). ``J`` is a difference of
two Gauss hypergeometric terms, ``J = F(t_x) - F(T)`` with
``F(y) = integral over (y, inf)``, which cancel when t_x is close to T; there
it is computed by Gauss-Legendre quadrature of its defining integral (exact
to rounding on such short spans).

Gradient. The derivatives in alpha and beta are closed forms of the same kind:
``dJ/dalpha = -(r+x) J(r+x+1, s+1)`` and ``dJ/dbeta = -(s+1) J(r+x, s+2)``.
The derivatives in r and s need the derivative of a hypergeometric function
in its parameters, which scipy does not provide: ``d log F / dp`` is taken
there by a forward difference in the hypergeometric parameter (step 1e-7) at
the level of the distinct (frequency, recency) and (frequency, T) pairs,
accurate to about 1e-7 relative; this is the one finite difference in the
likelihoods' gradients. Everything else is analytic; on the quadrature rows
every derivative is analytic.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln, hyp2f1, logsumexp, xlogy

from clv.models._histories import Histories

__all__ = [
    "conditional_expected_purchases",
    "expected_purchases_new_customer",
    "log_a0",
    "log_n_given_alive",
    "loglik",
    "loglik_grouped",
    "p_alive",
    "value_and_gradient",
]

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)
_FD_STEP = 1e-7  # forward-difference step in the hypergeometric parameters
_CANCEL = -1e-7  # log F(T) - log F(t_x) above this: the closed form cancels


# ---------------------------------------------------------------------------
# the plain likelihood, one customer per row


def log_a0(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
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
        diff = log_2 - log_1
        closed = log_1 + np.log(-np.expm1(diff))
    cancels = ~np.isfinite(closed) | (diff > _CANCEL)
    if np.any(cancels):
        closed = np.where(cancels, log_a0_quad(params, x, t_x, T), closed)
    return np.where(t_x >= T, -np.inf, closed)


def log_a0_quad(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """log A_0 by 16-point Gauss-Legendre quadrature of its defining integral."""
    r, alpha, s, beta = params
    log_j, _, _ = _log_j_quad(r + x, s + 1.0, t_x, T, alpha, beta)
    with np.errstate(divide="ignore"):
        return np.log(r + s + x) + log_j


def loglik(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Log-likelihood of each customer (Fader and Hardie 2005, equation 18)."""
    r, alpha, s, beta = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    la0 = log_a0(params, x, t_x, T)
    a2 = np.logaddexp(
        -(r + x) * np.log(alpha + T) - s * np.log(beta + T), np.log(s) + la0 - np.log(r + s + x)
    )
    return a1 + a2


# ---------------------------------------------------------------------------
# the factorised likelihood and its gradient


def _log_f(p: np.ndarray, q: float, y: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """log F(y) = log of the integral over (y, inf) of (alpha+u)^-p (beta+u)^-q du.

    With hi = max(alpha, beta) and z = |beta - alpha| / (hi + y),
    F(y) = (hi+y)^(1-p-q) / (p+q-1) * 2F1(c, p+q-1; p+q; z), where c = p when
    alpha < beta and c = q otherwise.
    """
    k = p + q - 1.0
    if alpha < beta:
        hi, c = beta, p
    else:
        hi, c = alpha, np.full_like(p, q)
    gap = abs(beta - alpha)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.log(hyp2f1(c, k, k + 1.0, gap / (hi + y))) - k * np.log(hi + y) - np.log(k)


def _log_j_quad(p, q, t_x, T, alpha, beta):
    """log J(p, q) over (t_x, T) by Gauss-Legendre quadrature, with the means of
    log(alpha+u) and log(beta+u) under the integrand (its derivatives in p, q)."""
    half = (T - t_x) / 2.0
    mid = (T + t_x) / 2.0
    u = mid[..., None] + half[..., None] * _GL_NODES
    la = np.log(alpha + u)
    lb = np.log(beta + u)
    log_f = -np.asarray(p)[..., None] * la - q * lb
    with np.errstate(divide="ignore", invalid="ignore"):
        total = logsumexp(log_f, b=_GL_WEIGHTS, axis=-1)
        share = _GL_WEIGHTS * np.exp(log_f - total[..., None])
        return np.log(half) + total, (share * la).sum(-1), (share * lb).sum(-1)


class _Pieces:
    """log J(p, q) on the rows of ``h`` and its derivatives, for one parameter point."""

    def __init__(self, params, h: Histories, *, gradient: bool):
        r, alpha, s, beta = (float(v) for v in params)
        self.r, self.alpha, self.s, self.beta = r, alpha, s, beta
        px, ptx, inv_tx = h.pair_tx
        qx, qT, inv_T = h.pair_T
        q = s + 1.0
        f1 = _log_f(r + px, q, ptx, alpha, beta)
        f2 = _log_f(r + qx, q, qT, alpha, beta)
        l1 = f1[inv_tx]
        l2 = f2[inv_T]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            diff = l2 - l1
            log_j = l1 + np.log(-np.expm1(diff))
        dead = h.t_x >= h.T  # no time between the last purchase and T
        cancels = (~np.isfinite(log_j) | (diff > _CANCEL)) & ~dead
        self.quad = np.flatnonzero(cancels)
        quad_args = (h.t_x[self.quad], h.T[self.quad], alpha, beta)
        if self.quad.size:
            log_j[self.quad], mean_la, mean_lb = _log_j_quad(r + h.x[self.quad], q, *quad_args)
        log_j[dead] = -np.inf
        self.log_j = log_j
        if not gradient:
            return
        live = ~dead
        ratio = np.where(live, np.exp(np.minimum(diff, 0.0)), 0.0)

        def d_log_j(shift_p: float, shift_q: float, base1, base2) -> np.ndarray:
            # d log J / d(parameter) from d log F at the pairs (forward difference)
            step = _FD_STEP
            d1 = _log_f(r + px + shift_p * step, q + shift_q * step, ptx, alpha, beta) - base1
            d2 = _log_f(r + qx + shift_p * step, q + shift_q * step, qT, alpha, beta) - base2
            d1 = (d1 / step)[inv_tx]
            d2 = (d2 / step)[inv_T]
            with np.errstate(divide="ignore", invalid="ignore"):
                out = (d1 - ratio * d2) / (1.0 - ratio)
            return np.where(live, out, 0.0)

        def log_j_shifted(shift_p: float, shift_q: float) -> np.ndarray:
            s1 = _log_f(r + px + shift_p, q + shift_q, ptx, alpha, beta)[inv_tx]
            s2 = _log_f(r + qx + shift_p, q + shift_q, qT, alpha, beta)[inv_T]
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                out = s1 + np.log(-np.expm1(s2 - s1))
            if self.quad.size:
                out[self.quad] = _log_j_quad(r + h.x[self.quad] + shift_p, q + shift_q, *quad_args)[
                    0
                ]
            return out

        self.dlogj_dp = d_log_j(1.0, 0.0, f1, f2)
        self.dlogj_dq = d_log_j(0.0, 1.0, f1, f2)
        if self.quad.size:
            self.dlogj_dp[self.quad] = -mean_la
            self.dlogj_dq[self.quad] = -mean_lb
        with np.errstate(invalid="ignore"):
            self.j_ratio_p1 = np.where(live, np.exp(log_j_shifted(1.0, 0.0) - log_j), 0.0)
            self.j_ratio_q1 = np.where(live, np.exp(log_j_shifted(0.0, 1.0) - log_j), 0.0)


def _terms(params, h: Histories, gradient: bool):
    pieces = _Pieces(params, h, gradient=gradient)
    r, alpha, s, beta = pieces.r, pieces.alpha, pieces.s, pieces.beta
    log_aT = np.log(alpha + h.uT)
    log_bT = np.log(beta + h.uT)
    rx = r + h.x
    alive = -rx * log_aT[h.iT] - s * log_bT[h.iT]
    drop = np.log(s) + pieces.log_j
    lse = np.logaddexp(alive, drop)
    lg = gammaln(r + h.ux) - gammaln(r)
    a1 = r * np.log(alpha) + s * np.log(beta)
    return pieces, lg, a1, alive, drop, lse, log_aT, log_bT, rx


def loglik_grouped(params: np.ndarray, h: Histories) -> np.ndarray:
    """:func:`loglik` of each row of ``h``, hypergeometric terms once per pair."""
    _, lg, a1, _, _, lse, _, _, _ = _terms(params, h, gradient=False)
    return lg[h.ix] + a1 + lse


def value_and_gradient(log_params: np.ndarray, h: Histories) -> tuple[float, np.ndarray]:
    """Total weighted log-likelihood and its gradient in the log parameters.

    With ``w_alive`` and ``w_drop = 1 - w_alive`` the shares of the two terms
    in the bracket of the likelihood, per row:
    ``dl/dr = psi(r+x) - psi(r) + log alpha - w_alive log(alpha+T) + w_drop dlogJ/dp``,
    ``dl/dalpha = r/alpha - (r+x) [w_alive / (alpha+T) + w_drop J(r+x+1, s+1) / J]``,
    ``dl/ds = log beta - w_alive log(beta+T) + w_drop (1/s + dlogJ/dq)``,
    ``dl/dbeta = s/beta - w_alive s / (beta+T) - w_drop (s+1) J(r+x, s+2) / J``.
    """
    params = np.exp(np.asarray(log_params, dtype=float))
    pieces, lg, a1, _, drop, lse, log_aT, log_bT, rx = _terms(params, h, gradient=True)
    r, alpha, s, beta = params
    c = h.weights
    n = c.sum()
    n_x = np.bincount(h.ix, weights=c, minlength=h.ux.size)
    total = float(n_x @ lg) + n * a1 + float(c @ lse)
    with np.errstate(under="ignore"):
        w_drop = np.exp(drop - lse)
    c_alive = c * (1.0 - w_drop)
    c_drop = c * w_drop
    ca_T = np.bincount(h.iT, weights=c_alive, minlength=h.uT.size)
    rca_T = np.bincount(h.iT, weights=c_alive * rx, minlength=h.uT.size)
    d_r = (
        float(n_x @ (digamma(r + h.ux) - digamma(r)))
        + n * np.log(alpha)
        - float(ca_T @ log_aT)
        + float(c_drop @ pieces.dlogj_dp)
    )
    d_alpha = (
        n * r / alpha
        - float(rca_T @ (1.0 / (alpha + h.uT)))
        - float(c_drop @ (rx * pieces.j_ratio_p1))
    )
    d_s = (
        n * np.log(beta)
        - float(ca_T @ log_bT)
        + float(c_drop.sum()) / s
        + float(c_drop @ pieces.dlogj_dq)
    )
    d_beta = (
        n * s / beta
        - s * float(ca_T @ (1.0 / (beta + h.uT)))
        - (s + 1.0) * float(c_drop @ pieces.j_ratio_q1)
    )
    return total, np.array([d_r, d_alpha, d_s, d_beta]) * params


# ---------------------------------------------------------------------------
# predictions


def _alive_share(params, x, t_x, T):
    """log P(alive) = log of the alive term's share of the likelihood."""
    r, alpha, s, beta = params
    la0 = log_a0(params, x, t_x, T)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    drop = np.log(s) + la0 - np.log(r + s + x)
    return alive - np.logaddexp(alive, drop)


def p_alive(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Probability that each customer is still active (Fader and Hardie 2005,
    equation 19 of note 008), on the safe A_0."""
    x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
    with np.errstate(all="ignore"):
        return np.exp(_alive_share(params, x, t_x, T))


def _lifetime_factor(s: float, log_ratio: np.ndarray) -> np.ndarray:
    """(1 - ratio^(s-1)) / (s-1) for ratio = exp(log_ratio) < 1, with its limit
    -log(ratio) at s = 1."""
    c = s - 1.0
    if abs(c) < 1e-12:
        return -log_ratio
    return -np.expm1(c * log_ratio) / c


def conditional_expected_purchases(
    params: np.ndarray, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Expected purchases in the next ``t`` time units given the history
    (Fader and Hardie 2005, note 009, equation 41):
    ``P(alive) (r+x)(beta+T) / (alpha+T) * (1 - ((beta+T)/(beta+T+t))^(s-1)) / (s-1)``."""
    r, alpha, s, beta = params
    x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
    with np.errstate(all="ignore"):
        alive = np.exp(_alive_share(params, x, t_x, T))
        factor = _lifetime_factor(s, np.log((beta + T) / (beta + T + t)))
        return alive * (r + x) * (beta + T) / (alpha + T) * factor


def expected_purchases_new_customer(params: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Expected purchases in the first ``t`` time units of a new customer:
    ``r beta / alpha * (1 - (beta/(beta+t))^(s-1)) / (s-1)``."""
    r, alpha, s, beta = params
    t = np.asarray(t, dtype=float)
    with np.errstate(all="ignore"):
        return r * beta / alpha * _lifetime_factor(s, np.log(beta / (beta + t)))


def nb_logpmf(n: np.ndarray, r: np.ndarray, alpha: np.ndarray, t: np.ndarray) -> np.ndarray:
    """log P(N = n) for a Poisson count over ``t`` with rate Gamma(shape r, rate alpha)."""
    return (
        gammaln(r + n)
        - gammaln(r)
        - gammaln(n + 1.0)
        + r * np.log(alpha / (alpha + t))
        + xlogy(n, t / (alpha + t))
    )


_LOMAX_NODES, _LOMAX_WEIGHTS = np.polynomial.legendre.leggauss(64)


def log_n_given_alive(
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
    log_nb = nb_logpmf(n[..., None], r[..., None], alpha[..., None], tau)
    with np.errstate(divide="ignore"):
        integral = np.log(f_t / 2.0) + logsumexp(log_nb, b=_LOMAX_WEIGHTS, axis=-1)
    return np.logaddexp(log_survive_t + nb_logpmf(n, r, alpha, t), integral)
