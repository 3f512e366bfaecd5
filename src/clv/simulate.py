"""Synthetic transaction logs drawn from known BG/NBD and Gamma-Gamma parameters.

Used for parameter-recovery tests, the synthetic sample in ``data/`` and the
scale benchmarks. Every draw comes from a local ``numpy.random.Generator``
seeded by the caller; nothing touches global random state.

The process, per customer (Fader, Hardie and Lee 2005, section 2):

- the first purchase happens at the customer's birth, drawn uniformly in the
  acquisition window;
- while alive, purchases follow a Poisson process with rate
  ``lambda ~ Gamma(shape=r, rate=alpha)`` per ``time_unit``;
- after each repeat purchase the customer drops out with probability
  ``p ~ Beta(a, b)``;
- each purchase is worth ``z ~ Gamma(shape=p_spend, rate=nu)`` with
  ``nu ~ Gamma(shape=q, rate=gamma)`` per customer (Gamma-Gamma, Fader and
  Hardie 2013).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from clv.rfm import DAYS_PER_UNIT

__all__ = ["SYNTHETIC_TRUTH", "simulate_transactions"]

# Parameters of the bundled synthetic log (data/synthetic/transactions.csv):
# the published CDNOW estimates, BG/NBD from Fader, Hardie and Lee (2005),
# Gamma-Gamma from Fader and Hardie (2013), in weeks.
SYNTHETIC_TRUTH: dict[str, object] = {
    "n_customers": 5000,
    "r": 0.243,
    "alpha": 4.414,
    "a": 0.793,
    "b": 2.426,
    "p_spend": 6.25,
    "q": 3.74,
    "gamma": 15.44,
    "start": "2024-01-01",
    "acquisition_days": 84,
    "observation_days": 546,
    "time_unit": "W",
    "seed": 20240101,
}


def simulate_transactions(
    n_customers: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    p_spend: float = 6.25,
    q: float = 3.74,
    gamma: float = 15.44,
    start: str | dt.date = "2024-01-01",
    acquisition_days: int = 84,
    observation_days: int = 546,
    time_unit: str = "W",
    seed: int | np.random.Generator = 0,
) -> pl.DataFrame:
    """Draw a transaction log from BG/NBD purchases and Gamma-Gamma spend.

    Parameters
    ----------
    n_customers
        Number of customers (each makes at least the first purchase).
    r, alpha, a, b
        BG/NBD parameters; ``alpha`` is a rate per ``time_unit``.
    p_spend, q, gamma
        Gamma-Gamma parameters (``p``, ``q``, ``gamma`` of Fader and Hardie).
    start
        First day of the acquisition window.
    acquisition_days
        Customers' first purchases are spread uniformly over this many days.
    observation_days
        Length of the whole log from ``start``, in days.
    time_unit
        Unit the rates refer to: ``"D"``, ``"W"`` or ``"M"``.
    seed
        Seed or generator for the draws.

    Returns
    -------
    polars.DataFrame
        ``customer_id`` (zero-padded text), ``date`` (Date), ``amount``
        (Float64, rounded to cents), sorted by customer and date. Purchases on
        the same day are separate rows.
    """
    if min(r, alpha, a, b, p_spend, q, gamma) <= 0:
        raise ValueError("all model parameters must be positive")
    if not 0 < acquisition_days <= observation_days:
        raise ValueError("need 0 < acquisition_days <= observation_days")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    unit_days = DAYS_PER_UNIT[time_unit]
    start_date = start if isinstance(start, dt.date) else dt.date.fromisoformat(start)

    birth_day = rng.integers(0, acquisition_days, size=n_customers)
    age_units = (observation_days - 1 - birth_day) / unit_days  # time observed after birth
    lam = rng.gamma(shape=r, scale=1.0 / alpha, size=n_customers)
    p_drop = rng.beta(a, b, size=n_customers)
    nu = rng.gamma(shape=q, scale=1.0 / gamma, size=n_customers)

    # Repeat purchases: the Poisson process gives n_potential purchases in
    # (0, age]; the customer dies after the j-th repeat purchase with j
    # geometric, so the first min(n_potential, j) of them happen.
    n_potential = rng.poisson(lam * age_units)
    n_until_death = rng.geometric(p_drop)
    n_repeat = np.minimum(n_potential, n_until_death)

    owner = np.repeat(np.arange(n_customers), n_potential)
    times = rng.uniform(0.0, 1.0, size=owner.size) * age_units[owner]
    order = np.lexsort((times, owner))
    owner, times = owner[order], times[order]
    group_start = np.repeat(np.cumsum(n_potential) - n_potential, n_potential)
    rank = np.arange(owner.size) - group_start
    keep = rank < n_repeat[owner]
    owner, times = owner[keep], times[keep]

    all_owner = np.concatenate([np.arange(n_customers), owner])
    all_day = np.concatenate(
        [birth_day, birth_day[owner] + np.floor(times * unit_days).astype(np.int64)]
    )
    amount = rng.gamma(shape=p_spend, scale=1.0 / nu[all_owner])
    width = len(str(n_customers))
    return (
        pl.DataFrame({"_owner": all_owner, "_day": all_day, "amount": np.round(amount, 2)})
        .sort("_owner", "_day")
        .select(
            pl.col("_owner").cast(pl.String).str.zfill(width).alias("customer_id"),
            (pl.lit(start_date) + pl.duration(days=pl.col("_day"))).alias("date"),
            pl.col("amount"),
        )
    )
