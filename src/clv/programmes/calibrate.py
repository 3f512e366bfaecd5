"""Spend thresholds for a rule-based ladder, chosen to follow the CLV-grounded tiers.

The documents name the levels of a ladder but rarely its thresholds: the
shipped files mark theirs as examples. :func:`spend_thresholds` proposes
thresholds on past spend that reproduce the evidence-based tiers as closely as
one monotone cut of spend can: every customer at or above a level's minimum and
below the next is in that level. The cut is exact (dynamic programming over
the distinct spend values), not a search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

__all__ = ["SpendThresholds", "spend_thresholds"]

OBJECTIVES = ("agreement", "quadratic")


@dataclass(frozen=True)
class SpendThresholds:
    """Thresholds on past spend and how well they reproduce the tiers.

    Attributes
    ----------
    minimums
        The minimum spend of each level, lowest level first (0 for the lowest):
        the ``min`` values of a ladder file's ``[[levels]]``.
    levels
        The tier labels, lowest first.
    agreement
        Share of customers whose spend level is their tier.
    weighted_kappa
        Cohen's kappa with quadratic weights between spend levels and tiers
        (1: perfect agreement, 0: as by chance).
    table
        Customers per (tier, spend level).
    """

    minimums: list[float]
    levels: list[object]
    agreement: float
    weighted_kappa: float
    table: pl.DataFrame


def spend_thresholds(
    past_spend: pl.DataFrame,
    clv_tiers: pl.DataFrame,
    *,
    spend_column: str = "spend",
    tier_column: str = "tier_rank",
    best_first: bool = True,
    objective: str = "agreement",
) -> SpendThresholds:
    """The monotone thresholds on past spend that best reproduce the CLV tiers.

    Parameters
    ----------
    past_spend
        ``customer_id`` and ``spend_column``: each customer's spend over the
        ladder's period.
    clv_tiers
        ``customer_id`` and ``tier_column``, e.g. :attr:`clv.Grading.customers`
        with ``tier_rank`` (1 = best).
    best_first
        Whether the tier column sorts from the best tier (ranks 1, 2, ...);
        ``False`` when it sorts from the lowest level.
    objective
        ``"agreement"``: the most customers in their own tier;
        ``"quadratic"``: the smallest sum of squared level differences (what
        quadratic-weighted kappa penalises, for fixed tier shares).

    Returns
    -------
    SpendThresholds
        Every level gets at least one customer, so the minimums rise strictly.

    Raises
    ------
    ValueError
        When a column is missing, spend is negative or not finite, the two
        frames share no customer, or there are fewer distinct spend values than
        tiers.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    for frame, column, name in (
        (past_spend, spend_column, "past_spend"),
        (clv_tiers, tier_column, "clv_tiers"),
    ):
        missing = {"customer_id", column} - set(frame.columns)
        if missing:
            raise ValueError(f"{name} lacks the columns {sorted(missing)}")
    joined = past_spend.select(
        "customer_id", pl.col(spend_column).cast(pl.Float64).alias("s")
    ).join(clv_tiers.select("customer_id", pl.col(tier_column).alias("t")), on="customer_id")
    if joined.height == 0:
        raise ValueError("past_spend and clv_tiers share no customer_id")
    spend = joined["s"].to_numpy()
    if not np.isfinite(spend).all() or (spend < 0).any():
        raise ValueError("spend must be finite and not negative for every customer")
    labels = sorted(joined["t"].unique().to_list(), reverse=best_first)  # lowest first
    level_of = {label: i for i, label in enumerate(labels)}
    tier = np.array([level_of[t] for t in joined["t"].to_list()])
    k = len(labels)
    values, group = np.unique(spend, return_inverse=True)
    if values.size < k:
        raise ValueError(
            f"{values.size} distinct spend values cannot separate {k} tiers; "
            "use fewer tiers or a longer spend period"
        )
    counts = np.zeros((values.size, k))
    np.add.at(counts, (group, tier), 1)
    cost = np.empty_like(counts)  # cost of putting each distinct value in each level
    for level in range(k):
        if objective == "agreement":
            cost[:, level] = counts.sum(axis=1) - counts[:, level]
        else:
            cost[:, level] = counts @ (np.arange(k) - level) ** 2
    starts = _best_cut(cost)
    minimums = [0.0] + [float(values[g]) for g in starts[1:]]
    level = np.searchsorted(np.asarray(minimums), spend, side="right") - 1
    return SpendThresholds(
        minimums=minimums,
        levels=labels,
        agreement=float((level == tier).mean()),
        weighted_kappa=_quadratic_kappa(tier, level, k),
        table=pl.DataFrame(
            {"tier": [labels[t] for t in tier], "spend_level": [labels[v] for v in level]}
        )
        .group_by("tier", "spend_level")
        .len("customers")
        .sort("tier", "spend_level"),
    )


def _best_cut(cost: np.ndarray) -> list[int]:
    """First group of each level in the cheapest monotone assignment of the
    ordered groups to all levels (each level at least one group).

    ``best[g, l]`` (groups 0..g with group g in level l) is
    ``cost[g, l] + min(best[g-1, l], best[g-1, l-1])``; with prefix sums ``C``
    of ``cost[:, l]`` this unrolls to
    ``C[g] + min over j <= g of (best[j-1, l-1] - C[j-1])``: a running minimum,
    so each level takes one vectorised pass."""
    groups, k = cost.shape
    best = np.full((groups, k), np.inf)
    best[:, 0] = np.cumsum(cost[:, 0])
    choice = np.zeros((groups, k), dtype=np.int64)  # the first group of level l
    for level in range(1, k):
        prefix = np.concatenate([[0.0], np.cumsum(cost[:, level])])
        # start at group j >= level: level - 1 ends at j - 1
        candidate = np.full(groups, np.inf)
        candidate[level:] = best[level - 1 : groups - 1, level - 1] - prefix[level:groups]
        running = np.minimum.accumulate(candidate)
        is_new = np.r_[True, candidate[1:] < running[:-1]]
        where = np.maximum.accumulate(np.where(is_new, np.arange(groups), 0))
        best[:, level] = prefix[1:] + running
        choice[:, level] = where
    starts = [0] * k
    end = groups - 1
    for level in range(k - 1, 0, -1):
        starts[level] = int(choice[end, level])
        end = starts[level] - 1
    return starts


def _quadratic_kappa(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Cohen's kappa with quadratic weights (Cohen 1968, Psychological Bulletin 70(4))."""
    observed = np.zeros((k, k))
    np.add.at(observed, (a, b), 1)
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    weights = (np.subtract.outer(np.arange(k), np.arange(k)) ** 2) / max((k - 1) ** 2, 1)
    denominator = (weights * expected).sum()
    return 1.0 - (weights * observed).sum() / denominator if denominator else 1.0
