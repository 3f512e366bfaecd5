"""Membership ladders: tiers by points or spend, with evaluations on a calendar.

A ladder (``src/clv/schemes/ladder_*.toml``, or a user's TOML) has levels with
a minimum on a basis measured per customer:

``points_held``
    the points balance (from a :class:`~clv.programmes.points.PointsLedger`);
``points_earned``, ``spend``
    points earned, or currency spent, over the trailing ``window_days``;
``arpu``
    average revenue per user: spend over the window per month of it.

Customers are evaluated on a calendar (``monthly``, ``quarterly``,
``half_yearly``, ``yearly``, or on each ``anniversary`` of their
registration). An upgrade happens as soon as the criteria are met
(``upgrade = "immediate"``, checked at each purchase) or only at evaluations.
At an evaluation a customer below their level's minimum is downgraded, by at
most ``max_downgrade`` levels, once they have been below it for
``grace_days``; a ``lifetime`` level is never lost. New members hold a
provisional grade until their first evaluation.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import math
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from clv.data import _as_date
from clv.programmes._rules import read_rules
from clv.tiers import (
    SchemeError,
    _choice,
    _describe,
    _flag,
    _number,
    _suggest,
    _tables,
    _text,
    _unknown,
    _whole,
)

_PERIOD_DAYS = {
    "monthly": 31,
    "quarterly": 92,
    "half_yearly": 183,
    "yearly": 366,
    "anniversary": 366,
}

__all__ = ["Ladder", "LadderResult", "evaluation_dates", "load_ladder", "run_ladder"]

BASES = ("points_held", "points_earned", "spend", "arpu")
CALENDARS = ("monthly", "quarterly", "half_yearly", "yearly", "anniversary")
_KEYS = {
    "id",
    "name_zh",
    "name_en",
    "basis",
    "window_days",
    "evaluation",
    "upgrade",
    "max_downgrade",
    "grace_days",
    "levels",
}


_LEVEL_KEYS = {"id", "zh", "en", "min", "lifetime", "discount"}
_UPGRADES = ("immediate", "at_evaluation")


@dataclass(frozen=True)
class Ladder:
    """A validated membership ladder; ``levels`` lowest first."""

    id: str
    name_zh: str
    name_en: str
    basis: str
    window_days: int
    evaluation: str
    upgrade: str
    max_downgrade: int
    grace_days: int
    levels: tuple[dict[str, Any], ...]

    @property
    def minimums(self) -> list[float]:
        return [float(level["min"]) for level in self.levels]

    def level_for(self, value: float) -> int:
        """Index of the highest level whose minimum ``value`` reaches."""
        return max(0, bisect_right(self.minimums, value) - 1)


def load_ladder(ladder: str | Path) -> Ladder:
    """Load and validate a ladder: a packaged name (``ladder_medals``,
    ``ladder_five_card``, ``ladder_supermarket``, ``ladder_telecom_stars``) or
    a TOML path.

    Raises
    ------
    SchemeError
        Listing every mistake of the file with its key path (``levels[2].min``,
        ``grace_days``): unknown keys, wrong types (booleans are not numbers),
        ``nan`` or ``inf``, negative or fractional days, minimums that do not
        rise, repeated level ids.
    """
    raw, source = read_rules(ladder, "ladder")
    problems: list[str] = []
    _unknown(raw, _KEYS, "", problems)
    ladder_id = _text(raw, "id", "", problems)
    name_zh = _text(raw, "name_zh", "", problems, default="")
    name_en = _text(raw, "name_en", "", problems, default="")
    basis = _choice(raw, "basis", "", BASES, problems)
    evaluation = _choice(raw, "evaluation", "", CALENDARS, problems)
    upgrade = raw.get("upgrade")
    if upgrade not in _UPGRADES:
        problems.append(
            f"upgrade must be 'immediate' or 'at_evaluation', got "
            f"{'nothing' if upgrade is None else _describe(upgrade)}{_suggest(upgrade, _UPGRADES)}"
        )
    days = "a whole number of days"
    window_days = _whole(raw, "window_days", "", problems, default=0, low=0, noun=days)
    max_downgrade = _whole(
        raw, "max_downgrade", "", problems, default=1, low=1, noun="a whole number of levels"
    )
    grace_days = _whole(raw, "grace_days", "", problems, default=0, low=0, noun=days)
    if basis in ("points_earned", "spend", "arpu") and window_days == 0:
        problems.append(
            f"basis {basis!r} needs window_days > 0: the trailing days it is measured over"
        )
    levels = _tables(
        raw, "levels", "", problems, need="a ladder needs at least two [[levels]], lowest first"
    )
    minimums = []
    for where, level in levels:
        _unknown(level, _LEVEL_KEYS, where, problems)
        for key in ("id", "zh", "en"):
            _text(level, key, where, problems)
        minimums.append(_number(level, "min", where, problems, low=0))
        _flag(level, "lifetime", where, problems, default=False)
        if "discount" in level:
            _number(level, "discount", where, problems, low=0, high=1, high_open=True)
    if len(levels) >= 2 and all(math.isfinite(m) for m in minimums):
        if any(not a < b for a, b in itertools.pairwise(minimums)):
            shown = [f"{m:g}" for m in minimums]
            problems.append(
                f"levels' min [{', '.join(shown)}] must rise strictly from the lowest level"
            )
    ids = [level.get("id") for _, level in levels]
    repeated = sorted({i for i in ids if isinstance(i, str) and ids.count(i) > 1})
    if repeated:
        problems.append(f"level ids repeat: {repeated}; give each level its own id")
    if problems:
        raise SchemeError(problems, source, "ladder")
    return Ladder(
        id=ladder_id,
        name_zh=name_zh,
        name_en=name_en,
        basis=basis,
        window_days=window_days,
        evaluation=evaluation,
        upgrade=upgrade,
        max_downgrade=max_downgrade,
        grace_days=grace_days,
        levels=tuple(level for _, level in levels),
    )


def evaluation_dates(
    calendar: str, start: dt.date, end: dt.date, registered: dt.date | None = None
) -> list[dt.date]:
    """Evaluation days after ``start`` up to ``end``: the first day of each month,
    quarter, half year or year, or each anniversary of ``registered``."""
    if calendar == "anniversary":
        base = registered or start
        dates, years = [], 1
        while True:
            try:
                day = base.replace(year=base.year + years)
            except ValueError:  # 29 February
                day = dt.date(base.year + years, 3, 1)
            if day > end:
                return dates
            if day > start:
                dates.append(day)
            years += 1
    step = {"monthly": 1, "quarterly": 3, "half_yearly": 6, "yearly": 12}[calendar]
    dates = []
    month = (start.year * 12 + start.month - 1) // step * step + step
    while True:
        day = dt.date(month // 12, month % 12 + 1, 1)
        if day > end:
            return dates
        dates.append(day)
        month += step


@dataclass(frozen=True)
class LadderResult:
    """Grade changes of every customer, and the grades as of any day."""

    ladder: Ladder
    changes: pl.DataFrame  # customer_id, date, level (index), level_id, event, provisional
    order_days: pl.DataFrame  # customer_id, date: days with an order
    registered: pl.DataFrame  # customer_id, registered

    def as_of(
        self, day: str | dt.date, lang: str = "en", blocked: set[str] | None = None
    ) -> pl.DataFrame:
        """Each registered customer's level on ``day`` and their status, inside
        or outside the ladder: ``blocked``, ``never_ordered``,
        ``no_order_in_period`` (none in the evaluation period before ``day``)
        or ``active``."""
        when = _as_date(day, "day")
        names = [lv["zh" if lang == "zh" else "en"] for lv in self.ladder.levels]
        period = dt.timedelta(days=_PERIOD_DAYS[self.ladder.evaluation])
        last_order = (
            self.order_days.filter(pl.col("date") <= when)
            .group_by("customer_id")
            .agg(pl.col("date").max().alias("last_order"))
        )
        levels = (
            self.changes.filter(pl.col("date") <= when)
            .group_by("customer_id")
            .agg(pl.all().sort_by("date").last())
        )
        blocked_ids = sorted(blocked or set())
        return (
            self.registered.filter(pl.col("registered") <= when)
            .join(levels, on="customer_id", how="left")
            .join(last_order, on="customer_id", how="left")
            .with_columns(
                pl.col("level")
                .replace_strict(dict(enumerate(names)), return_dtype=pl.String, default=None)
                .alias("level_name"),
                pl.when(pl.col("customer_id").is_in(blocked_ids))
                .then(pl.lit("blocked"))
                .when(pl.col("last_order").is_null())
                .then(pl.lit("never_ordered"))
                .when(pl.col("last_order") <= pl.lit(when - period))
                .then(pl.lit("no_order_in_period"))
                .otherwise(pl.lit("active"))
                .alias("status"),
            )
            .sort("customer_id")
        )


def run_ladder(
    ladder: Ladder | str | Path,
    *,
    orders: pl.DataFrame | None = None,
    points: pl.DataFrame | None = None,
    end: str | dt.date,
    registrations: pl.DataFrame | None = None,
) -> LadderResult:
    """Run a ladder over members' histories up to ``end``.

    Parameters
    ----------
    orders
        ``customer_id``, ``date``, ``amount``: the basis for ``spend`` and
        ``arpu``, and the purchase days at which immediate upgrades are checked.
    points
        A ledger's ``entries`` (``customer_id``, ``date``, ``kind``, ``points``):
        the basis for ``points_held`` and ``points_earned``.
    registrations
        ``customer_id``, ``registered``; by default each customer's first order
        or points entry.
    """
    if not isinstance(ladder, Ladder):
        ladder = load_ladder(ladder)
    last = _as_date(end, "end")
    uses_points = ladder.basis in ("points_held", "points_earned")
    source = points if uses_points else orders
    if source is None:
        raise ValueError(f"basis {ladder.basis!r} needs {'points' if uses_points else 'orders'}=")
    if uses_points:
        deltas = source.filter(
            pl.col("kind") == "earn" if ladder.basis == "points_earned" else pl.lit(True)
        ).select("customer_id", pl.col("date").cast(pl.Date), pl.col("points").cast(pl.Float64))
    else:
        deltas = source.select(
            "customer_id", pl.col("date").cast(pl.Date), pl.col("amount").cast(pl.Float64)
        ).rename({"amount": "points"})
    check_days = (
        orders.select("customer_id", pl.col("date").cast(pl.Date))
        if orders is not None
        else deltas.select("customer_id", "date")
    ).unique()
    # each customer's purchase days, gathered once rather than filtered per customer
    days_by_customer = dict(check_days.group_by("customer_id").agg(pl.col("date").sort()).rows())
    registered = {}
    if registrations is not None:
        registered = {c: _as_date(d, "registered") for c, d in registrations.iter_rows()}
    rows: list[dict] = []
    for (customer,), history in deltas.sort("date").group_by("customer_id", maintain_order=True):
        days = history["date"].to_list()
        day_numbers = np.array([d.toordinal() for d in days])
        cumulative = np.cumsum(history["points"].to_numpy())
        start = registered.get(customer, days[0])

        def basis_at(day: dt.date, day_numbers=day_numbers, cumulative=cumulative) -> float:
            upto = np.searchsorted(day_numbers, day.toordinal(), side="right")
            total = cumulative[upto - 1] if upto else 0.0
            if ladder.basis == "points_held":
                return float(total)
            begin = np.searchsorted(day_numbers, day.toordinal() - ladder.window_days + 1)
            window = total - (cumulative[begin - 1] if begin else 0.0)
            if ladder.basis == "arpu":
                return float(window) / (ladder.window_days / (365.25 / 12))
            return float(window)

        purchase_days = days_by_customer.get(customer, []) if ladder.upgrade == "immediate" else []
        evaluations = evaluation_dates(ladder.evaluation, start, last, start)
        level = ladder.level_for(basis_at(start))
        rows.append(_change(customer, start, level, ladder, "joined", provisional=True))
        provisional = True
        events = [(d, 1, "purchase") for d in purchase_days if start < d <= last]
        events += [(d, 0, "evaluation") for d in evaluations]
        heapq.heapify(events)
        while events:
            day, _, kind = heapq.heappop(events)
            qualified = ladder.level_for(basis_at(day))
            was_provisional = provisional
            if kind == "evaluation":
                provisional = False  # an evaluation confirms whatever grade follows
            changed = False
            if qualified > level and (kind != "purchase" or ladder.upgrade == "immediate"):
                level, changed = qualified, True
                rows.append(_change(customer, day, level, ladder, "upgrade", provisional))
            keeps = qualified >= level or ladder.levels[level].get("lifetime", False)
            if kind == "evaluation" and not keeps and ladder.grace_days:
                grace_end = day + dt.timedelta(days=ladder.grace_days)
                if grace_end <= last:  # still below then: downgrade
                    heapq.heappush(events, (grace_end, 0, "grace_end"))
            elif kind in ("evaluation", "grace_end") and not keeps:
                level, changed = max(qualified, level - ladder.max_downgrade), True
                rows.append(_change(customer, day, level, ladder, "downgrade", False))
            if kind == "evaluation" and was_provisional and not changed:
                rows.append(_change(customer, day, level, ladder, "confirmed", False))
    schema = {
        "customer_id": pl.String,
        "date": pl.Date,
        "level": pl.Int64,
        "level_id": pl.String,
        "event": pl.String,
        "provisional": pl.Boolean,
    }
    changes = pl.DataFrame(rows, schema=schema)
    first_seen = changes.filter(pl.col("event") == "joined").select(
        "customer_id", pl.col("date").alias("registered")
    )
    if registrations is not None:  # members without any order or points are listed too
        listed = registrations.select("customer_id", pl.col("registered").cast(pl.Date))
        first_seen = pl.concat([first_seen, listed.join(first_seen, on="customer_id", how="anti")])
    return LadderResult(
        ladder=ladder,
        changes=changes,
        order_days=check_days,
        registered=first_seen.sort("customer_id"),
    )


def _change(
    customer: str, day: dt.date, level: int, ladder: Ladder, event: str, provisional: bool
) -> dict:
    return {
        "customer_id": customer,
        "date": day,
        "level": level,
        "level_id": ladder.levels[level]["id"],
        "event": event,
        "provisional": provisional,
    }
