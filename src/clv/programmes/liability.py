"""The points liability: what a points programme owes its members, and how much
of it will be redeemed or will expire unredeemed (breakage).

Points held are valued at the programme's exchange rate (``100花粉可享受1元
优惠``: 100 points = 1 yuan, ``points_per_currency_off`` of the rules).

The forecast follows the points held on a date (the liability then) over a
horizon. Members redeem when they buy ("花粉抵运费", points taken off an
order): over an estimation window, ``share_per_purchase`` = points redeemed /
the points held on the members' purchase days (each day's balance before its
redemption). A member expected to make ``E`` purchases over the horizon (the
CLV model's ``expected_purchases``: P(alive) times the purchases of a member
still alive, so a member whose P(alive) is 0 redeems nothing) buys ``E /
horizon_days`` times a day, each purchase adding the member's mean points per
order and redeeming ``share_per_purchase`` of everything held. With a Poisson
number of purchases of mean ``E``, ``E[(1 - s)^N] = exp(-s E)``, so a day
redeems ``1 - exp(-s E / horizon_days)`` of the balance. Redemptions take the
oldest points first, as in the ledger, so the points held on the valuation
date go before any earned later; the points of a lot not redeemed by its
expiry date expire (breakage). Points earned after the valuation date are not
part of the liability then: they only make the balance that redemptions draw
on.

The interval of the totals treats redemptions as a Poisson number of
redemptions of the observed mean size, with the estimated share's own error (a
Poisson count of the window's redemptions) added; expiries are the points at
risk less their redemptions and share the redemption forecast's error. A
back-test on a holdout window (:func:`backtest_liability`) says whether the
actual values fall inside.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import stats

from clv.data import _as_date
from clv.programmes.points import PointsLedger

__all__ = [
    "LiabilityForecast",
    "RedemptionBehaviour",
    "backtest_liability",
    "forecast_liability",
    "redemption_behaviour",
    "value_liability",
]


def value_liability(ledger: PointsLedger, as_of: dt.date | str | None = None) -> pl.DataFrame:
    """The points held by each member on a date and their value in yuan.

    Parameters
    ----------
    ledger
        A :class:`~clv.programmes.points.PointsLedger` that runs at least to
        ``as_of``.
    as_of
        The valuation date (default: the ledger's ``as_of``).

    Returns
    -------
    polars.DataFrame
        ``customer_id``, ``points`` (held), ``yuan`` (their value), one row per
        member holding points, largest first; the total is their sum.
    """
    balances = ledger.balances(as_of)
    return (
        balances.filter(pl.col("balance") > 0)
        .select(
            "customer_id", pl.col("balance").alias("points"), pl.col("balance_yuan").alias("yuan")
        )
        .sort("points", "customer_id", descending=[True, False])
    )


@dataclass(frozen=True)
class RedemptionBehaviour:
    """Redemptions observed over a window ``(start, end]``.

    ``share_per_purchase``: points redeemed per point held on a purchase day;
    ``purchase_days``: the members' purchase days in the window;
    ``redemptions``: number of redemptions; ``mean_points``: their mean size;
    ``points_redeemed``, ``points_at_purchases``: the share's numerator and
    denominator; ``redeemers_per_holder``: share of the members holding points
    at the start of the window who redeemed in it.
    """

    start: dt.date
    end: dt.date
    share_per_purchase: float
    purchase_days: int
    redemptions: int
    mean_points: float
    points_redeemed: int
    points_at_purchases: float
    redeemers_per_holder: float


def redemption_behaviour(
    ledger: PointsLedger, start: dt.date | str, end: dt.date | str
) -> RedemptionBehaviour:
    """Estimate the share of the points held that a purchase redeems, from the
    ledger's entries in ``(start, end]`` (purchase days: days with an
    ``order`` entry).

    Raises
    ------
    ValueError
        When the window is empty or runs past the ledger, or when no points
        were held on any purchase day in it (no share can be estimated).
    """
    first, last = _as_date(start, "start"), _as_date(end, "end")
    if last <= first:
        raise ValueError(f"the window ends ({last}) on or before it starts ({first})")
    if last > ledger.as_of:
        raise ValueError(f"the ledger runs to {ledger.as_of}; build it with as_of={last}")
    window = ledger.entries.filter((pl.col("date") > first) & (pl.col("date") <= last))
    days = (
        window.group_by("customer_id", "date")
        .agg(
            (pl.col("source") == "order").any().alias("purchase"),
            pl.col("balance").last().alias("closing"),
            (-pl.col("points").filter(pl.col("kind") == "redeem").sum()).alias("redeemed"),
        )
        .filter(pl.col("purchase"))
    )
    held_then = float(days.select((pl.col("closing") + pl.col("redeemed")).sum()).item() or 0)
    if held_then <= 0:
        raise ValueError(
            f"no points were held on a purchase day between {first} and {last}; "
            "choose another window"
        )
    redeemed = window.filter(pl.col("kind") == "redeem")
    held = ledger.balances(first).filter(pl.col("balance") > 0)
    redeemers = redeemed.filter(pl.col("customer_id").is_in(held["customer_id"].implode()))
    n = redeemed.height
    total = int(-redeemed["points"].sum()) if n else 0
    return RedemptionBehaviour(
        start=first,
        end=last,
        share_per_purchase=total / held_then,
        purchase_days=days.height,
        redemptions=n,
        mean_points=total / n if n else 0.0,
        points_redeemed=total,
        points_at_purchases=held_then,
        redeemers_per_holder=(
            redeemers["customer_id"].n_unique() / held.height if held.height else 0.0
        ),
    )


@dataclass(frozen=True)
class LiabilityForecast:
    """The forecast of the points held on ``as_of`` over ``horizon_days``.

    ``members``: ``customer_id``, ``points`` held, ``yuan`` (their value),
    ``p_alive``, ``expected_purchases``, ``rate_per_day`` (points redeemed
    per point held per day), ``redeemed``, ``expired``, ``remaining``
    (expected points; they sum to ``points``) and ``redeemed_yuan``,
    ``expired_yuan``.
    ``totals``: one row per quantity (``held``, ``redeemed``, ``expired``,
    ``remaining``) with ``points``, ``yuan``, ``lower`` and ``upper`` (points,
    the ``1 - alpha`` interval).
    """

    as_of: dt.date
    horizon_days: int
    behaviour: RedemptionBehaviour
    members: pl.DataFrame
    totals: pl.DataFrame
    alpha: float


def _project(
    lots: pl.DataFrame,
    members: list[str],
    rate: np.ndarray,
    earning: np.ndarray,
    start: dt.date,
    days: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Expected (redeemed, expired) points of the lots held on ``start``, day by
    day: each day the lots due expire, the member earns ``earning`` new points
    and redeems ``1 - exp(-rate)`` of everything held, oldest points first
    (so the points held on ``start`` go before any earned later)."""
    index = {c: i for i, c in enumerate(members)}
    grouped = lots.with_columns(
        pl.int_range(pl.len()).over("customer_id").alias("slot"),
        ((pl.col("expires") - pl.lit(start)).dt.total_days()).alias("due"),
    )
    width = int(grouped["slot"].max() or 0) + 1
    left = np.zeros((len(members), width))
    due = np.full((len(members), width), np.iinfo(np.int64).max)
    rows = np.array([index[c] for c in grouped["customer_id"].to_list()], dtype=np.int64)
    slots = grouped["slot"].to_numpy()
    left[rows, slots] = grouped["points"].to_numpy().astype(float)
    expiring = grouped["due"].to_numpy()
    known = ~np.isnan(expiring.astype(float))
    due[rows[known], slots[known]] = expiring[known].astype(np.int64)
    new = np.zeros(len(members))
    redeemed = np.zeros(len(members))
    expired = np.zeros(len(members))
    share = 1.0 - np.exp(-rate)
    for day in range(1, days + 1):
        gone = due <= day
        expired += (left * gone).sum(axis=1)
        left[gone] = 0.0
        new += earning
        take = share * (left.sum(axis=1) + new)
        taken = np.minimum(np.cumsum(left, axis=1), take[:, None])
        used = np.diff(taken, axis=1, prepend=0.0)
        left -= used
        from_old = used.sum(axis=1)
        redeemed += from_old
        new = np.maximum(new - (take - from_old), 0.0)
    return redeemed, expired


def forecast_liability(
    ledger: PointsLedger,
    scores: pl.DataFrame,
    *,
    as_of: dt.date | str | None = None,
    horizon_days: int = 365,
    behaviour: RedemptionBehaviour | None = None,
    estimation_days: int = 365,
    alpha: float = 0.1,
) -> LiabilityForecast:
    """Forecast how much of the points held on ``as_of`` will be redeemed and
    how much will expire unredeemed within ``horizon_days``.

    Parameters
    ----------
    ledger
        The programme's ledger, run at least to ``as_of``.
    scores
        The CLV model's scores (as :func:`clv.score` makes them, fitted on
        data up to ``as_of``): ``customer_id``, ``p_alive`` and
        ``expected_purchases`` over the same ``horizon_days``. Every member
        holding points needs a row.
    as_of
        The valuation date (default: the ledger's ``as_of``).
    horizon_days
        The forecast horizon in days.
    behaviour
        The observed redemption behaviour; by default estimated from the
        ledger over the ``estimation_days`` before ``as_of``.
    alpha
        One minus the interval's coverage.

    Raises
    ------
    ValueError
        For a horizon or alpha out of range, score columns missing, negative
        expected purchases, or members holding points without a score
        (listed).
    """
    day = _as_date(as_of, "as_of") if as_of is not None else ledger.as_of
    if horizon_days <= 0:
        raise ValueError(f"horizon_days must be > 0, got {horizon_days}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    missing = {"customer_id", "p_alive", "expected_purchases"} - set(scores.columns)
    if missing:
        raise ValueError(f"scores lack columns {sorted(missing)}; pass the frame clv.score returns")
    if behaviour is None:
        behaviour = redemption_behaviour(ledger, day - dt.timedelta(days=estimation_days), day)
    lots = ledger.lots(day)
    held = value_liability(ledger, day).join(
        scores.select("customer_id", "p_alive", "expected_purchases"),
        on="customer_id",
        how="left",
    )
    unscored = held.filter(pl.col("expected_purchases").is_null())["customer_id"].to_list()
    if unscored:
        raise ValueError(
            f"{len(unscored)} member(s) hold points but have no score (first: {unscored[:5]}); "
            "score every member, e.g. clv.score on a summary of all of them"
        )
    if (held["expected_purchases"] < 0).any():
        raise ValueError(
            "scores have negative expected_purchases; pass the frame clv.score returns"
        )
    purchases_per_day = held["expected_purchases"].to_numpy() / horizon_days
    purchases_per_day = np.where(held["p_alive"].to_numpy() > 0, purchases_per_day, 0.0)
    rate = behaviour.share_per_purchase * purchases_per_day
    per_order = _points_per_order(ledger, day, held["customer_id"])
    end = day + dt.timedelta(days=horizon_days)
    redeemed, expired = _project(
        lots, held["customer_id"].to_list(), rate, purchases_per_day * per_order, day, horizon_days
    )
    per_yuan = ledger.rules.points_per_currency_off
    members = held.with_columns(
        pl.Series("rate_per_day", rate),
        pl.Series("redeemed", redeemed),
        pl.Series("expired", expired),
    ).with_columns(
        (pl.col("points") - pl.col("redeemed") - pl.col("expired")).alias("remaining"),
        (pl.col("redeemed") / per_yuan).alias("redeemed_yuan"),
        (pl.col("expired") / per_yuan).alias("expired_yuan"),
    )
    held_total = float(held["points"].sum())
    r_total, e_total = float(redeemed.sum()), float(expired.sum())
    sd = _redemption_sd(r_total, behaviour)
    z = float(stats.norm.ppf(1 - alpha / 2))
    at_risk = float(
        lots.filter(pl.col("expires").is_not_null() & (pl.col("expires") <= end))["points"].sum()
    )
    left = held_total - r_total - e_total

    def row(item: str, value: float, low: float, high: float) -> dict:
        return {
            "item": item,
            "points": value,
            "yuan": value / per_yuan,
            "lower": low,
            "upper": high,
        }

    totals = pl.DataFrame(
        [
            row("held", held_total, held_total, held_total),
            row("redeemed", r_total, max(r_total - z * sd, 0.0), min(r_total + z * sd, held_total)),
            row("expired", e_total, max(e_total - z * sd, 0.0), min(e_total + z * sd, at_risk)),
            row("remaining", left, max(left - z * sd, 0.0), left + z * sd),
        ]
    )
    return LiabilityForecast(
        as_of=day,
        horizon_days=horizon_days,
        behaviour=behaviour,
        members=members,
        totals=totals,
        alpha=alpha,
    )


def _points_per_order(ledger: PointsLedger, day: dt.date, members: pl.Series) -> np.ndarray:
    """Each member's mean points per order up to ``day`` (the mean of all
    members for one without orders): the points a future purchase adds."""
    orders = ledger.entries.filter((pl.col("source") == "order") & (pl.col("date") <= day))
    overall = float(orders["points"].mean() or 0.0)
    means = orders.group_by("customer_id").agg(pl.col("points").mean().alias("per_order"))
    return (
        pl.DataFrame({"customer_id": members})
        .join(means, on="customer_id", how="left")["per_order"]
        .fill_null(overall)
        .to_numpy()
    )


def _redemption_sd(expected: float, behaviour: RedemptionBehaviour) -> float:
    """Standard deviation of the points redeemed: a Poisson number of
    redemptions of the mean size, plus the rate's relative error
    ``1/sqrt(redemptions observed)``."""
    size = behaviour.mean_points or 1.0
    events = expected / size
    relative = 1.0 / math.sqrt(behaviour.redemptions) if behaviour.redemptions else 1.0
    return math.sqrt(size**2 * events + (expected * relative) ** 2)


def _actual_outcome(ledger: PointsLedger, start: dt.date, end: dt.date) -> pl.DataFrame:
    """What became of the points held on ``start`` by ``end``: per member
    ``redeemed`` and ``expired`` (points), replaying the ledger's entries."""
    held = dict(ledger.lots(start).group_by("customer_id").agg(pl.col("points").sum()).iter_rows())
    after = ledger.entries.filter(
        (pl.col("date") > start)
        & (pl.col("date") <= end)
        & pl.col("kind").is_in(["redeem", "expire"])
        & pl.col("customer_id").is_in(list(held))
    )
    redeemed = dict.fromkeys(held, 0)
    expired = dict.fromkeys(held, 0)
    left = dict(held)
    # the points held on start are older than any earned later, so redemptions
    # and expiries take them first
    for customer, kind, points in after.select("customer_id", "kind", "points").iter_rows():
        used = min(-points, left[customer])
        left[customer] -= used
        (redeemed if kind == "redeem" else expired)[customer] += used
    rows = [(c, redeemed[c], expired[c]) for c in held]
    return pl.DataFrame(
        rows,
        schema={"customer_id": pl.String, "redeemed": pl.Int64, "expired": pl.Int64},
        orient="row",
    )


def backtest_liability(
    ledger: PointsLedger,
    scores: pl.DataFrame,
    *,
    cutoff: dt.date | str,
    end: dt.date | str | None = None,
    estimation_days: int = 365,
    alpha: float = 0.1,
) -> pl.DataFrame:
    """Back-test the forecast on a holdout window: forecast from the points
    held on ``cutoff`` (behaviour estimated before it, scores fitted on data
    up to it) and compare with what the ledger shows happened by ``end``.

    Parameters
    ----------
    ledger
        The ledger run to ``end`` (or beyond).
    scores
        CLV scores fitted on the transactions up to ``cutoff`` only, with
        ``expected_purchases`` over the holdout window.
    cutoff, end
        The holdout window ``(cutoff, end]``; ``end`` defaults to the ledger's
        ``as_of``.

    Returns
    -------
    polars.DataFrame
        One row per quantity (``redeemed``, ``expired``): ``forecast``,
        ``lower``, ``upper`` (points), ``actual`` and ``inside`` (the actual
        value lies in the interval).
    """
    start = _as_date(cutoff, "cutoff")
    stop = _as_date(end, "end") if end is not None else ledger.as_of
    if stop <= start:
        raise ValueError(f"the holdout ends ({stop}) on or before the cutoff ({start})")
    if stop > ledger.as_of:
        raise ValueError(f"the ledger runs to {ledger.as_of}; build it with as_of={stop}")
    forecast = forecast_liability(
        ledger,
        scores,
        as_of=start,
        horizon_days=(stop - start).days,
        estimation_days=estimation_days,
        alpha=alpha,
    )
    actual = _actual_outcome(ledger, start, stop)
    totals = forecast.totals.filter(pl.col("item").is_in(["redeemed", "expired"]))
    observed = {"redeemed": int(actual["redeemed"].sum()), "expired": int(actual["expired"].sum())}
    return totals.select(
        "item",
        pl.col("points").alias("forecast"),
        "lower",
        "upper",
        pl.col("item").replace_strict(observed, return_dtype=pl.Int64).alias("actual"),
    ).with_columns(
        ((pl.col("actual") >= pl.col("lower")) & (pl.col("actual") <= pl.col("upper"))).alias(
            "inside"
        )
    )
