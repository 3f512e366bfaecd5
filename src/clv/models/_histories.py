"""Distinct purchase histories, factorised for fast likelihood evaluations.

Special functions (gammaln, digamma, betaln, hyp2f1) take most of the time of
a likelihood evaluation. Their arguments depend on the frequency alone (a few
dozen values), on a (frequency, recency) or (frequency, T) pair (tens of
thousands), or on the recency or age alone, not on the full triple (up to one
per customer). :class:`Histories` keeps each distinct value once, with the
index that gathers it back onto the rows, so that the likelihoods and their
gradients compute every special function once per distinct argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = ["Histories"]


@dataclass(frozen=True)
class Histories:
    """Distinct (frequency, recency, T) rows with customer counts as weights.

    Attributes
    ----------
    x, t_x, T
        Frequency, recency and age of each row.
    weights
        Number of customers sharing each row.
    ux, ix
        Distinct frequencies; ``x == ux[ix]``.
    utx, itx
        Distinct recencies; ``t_x == utx[itx]``.
    uT, iT
        Distinct ages; ``T == uT[iT]``.
    pair_tx, pair_T
        Distinct (frequency, recency) and (frequency, T) pairs: the pairs'
        frequency, their recency or age, and the index back onto the rows.
    """

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    weights: np.ndarray
    ux: np.ndarray
    ix: np.ndarray
    utx: np.ndarray
    itx: np.ndarray
    uT: np.ndarray
    iT: np.ndarray
    pair_tx: tuple[np.ndarray, np.ndarray, np.ndarray]
    pair_T: tuple[np.ndarray, np.ndarray, np.ndarray]

    @property
    def n_customers(self) -> float:
        """Total weight: the number of customers the rows stand for."""
        return float(self.weights.sum())

    # sums of the weights that do not depend on the parameters, kept once

    @cached_property
    def n_per_x(self) -> np.ndarray:
        """Customers per distinct frequency."""
        return np.bincount(self.ix, weights=self.weights, minlength=self.ux.size)

    @cached_property
    def n_per_T(self) -> np.ndarray:
        """Customers per distinct age."""
        return np.bincount(self.iT, weights=self.weights, minlength=self.uT.size)

    @cached_property
    def nx_per_T(self) -> np.ndarray:
        """Sum of the frequencies of the customers per distinct age."""
        return np.bincount(self.iT, weights=self.weights * self.x, minlength=self.uT.size)

    @classmethod
    def build(
        cls,
        x: np.ndarray,
        t_x: np.ndarray,
        T: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> Histories:
        """Factorise the rows ``(x, t_x, T)``; ``weights`` default to one each."""
        x, t_x, T = (np.asarray(v, dtype=float).ravel() for v in (x, t_x, T))
        if weights is None:
            weights = np.ones_like(x)
        weights = np.asarray(weights, dtype=float).ravel()
        ux, ix = np.unique(x, return_inverse=True)
        utx, itx = np.unique(t_x, return_inverse=True)
        uT, iT = np.unique(T, return_inverse=True)

        def pairs(other_index: np.ndarray, other_values: np.ndarray):
            size = other_values.size + 1
            key = ix.astype(np.int64) * size + other_index
            ukey, inverse = np.unique(key, return_inverse=True)
            return ux[ukey // size], other_values[ukey % size], inverse

        return cls(x, t_x, T, weights, ux, ix, utx, itx, uT, iT, pairs(itx, utx), pairs(iT, uT))

    def subsample(self, n_customers: int, seed: int = 0) -> Histories:
        """A random sample of ``n_customers`` customers (with replacement), as
        histories of its own: for cheap exploratory fits on large data."""
        rng = np.random.default_rng(seed)
        counts = rng.multinomial(n_customers, self.weights / self.weights.sum())
        keep = counts > 0
        return Histories.build(self.x[keep], self.t_x[keep], self.T[keep], counts[keep])
