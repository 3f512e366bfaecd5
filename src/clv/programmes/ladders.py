"""Membership ladders: tiers by points or spend, with evaluations on a calendar.

A ladder (``src/clv/schemes/ladder_*.toml``, or a user's TOML) has levels with
a minimum on a basis measured per customer:

``points_held``
    the points balance on the day (from a :class:`~clv.programmes.points.PointsLedger`);
``points_earned``, ``spend``
    points earned, or currency spent, over the measured window;
``arpu``
    average revenue per user: spend over the window per month of it.

The window (``window``) is either the evaluation period
(``"evaluation_period"``, the default): at an evaluation, the calendar month,
quarter, half year or year, or the programme year since the last anniversary,
that ends the day before the evaluation, and between evaluations the period so
far; or the ``window_days`` trailing days ending on the day (``"trailing"``,
implied when a file gives ``window_days`` without ``window``).

Customers are evaluated on a calendar (``monthly``, ``quarterly``,
``half_yearly``, ``yearly``, or on each ``anniversary`` of their
registration). An upgrade happens as soon as the criteria are met
(``upgrade = "immediate"``, checked at each purchase) or only at evaluations.
At an evaluation a customer below their level's minimum is downgraded, by at
most ``max_downgrade`` levels, once they have been below it for
``grace_days`` (over the evaluation period, what they spend in the grace days
counts towards the evaluated period); a ``lifetime`` level is never lost. New members hold a
provisional grade until their first evaluation, which either follows the same
rules (``first_evaluation = "ladder_rules"``) or gives the true grade outright
(``"true_grade"``). With ``per_category = true`` each customer is graded in
each product category of their orders on the orders of that category.

Levels may list a ``discount`` (0.05 = 5 % off) and the ``services`` they
bring. The grading runs vectorised: running sums per member and day are exact
(micro-units), levels come from a sorted search, and only the rules that depend
on a member's state run per evaluation, across all members at once.

Orders may carry a ``status`` (``completed``, ``cancelled``, ``returned``):
only completed orders count towards spend, and a customer who ordered in the
evaluated period but had nothing completed is reported as ``no_sale``.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import math
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from clv.data import ORDER_STATUSES, _as_date
from clv.programmes._rules import read_rules
from clv.tiers import (
    SchemeError,
    _at,
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

__all__ = [
    "ORDER_STATUSES",
    "Ladder",
    "LadderResult",
    "evaluation_dates",
    "load_ladder",
    "run_ladder",
]

BASES = ("points_held", "points_earned", "spend", "arpu")
CALENDARS = ("monthly", "quarterly", "half_yearly", "yearly", "anniversary")
WINDOWS = ("evaluation_period", "trailing")
FIRST_EVALUATIONS = ("ladder_rules", "true_grade")
_MONTHS = {"monthly": 1, "quarterly": 3, "half_yearly": 6, "yearly": 12, "anniversary": 12}
# the shortest period of each calendar: a grace must end before the next evaluation
_SHORTEST_DAYS = {"monthly": 28, "quarterly": 90, "half_yearly": 181, "yearly": 365}
_SHORTEST_DAYS["anniversary"] = 365
_KEYS = {
    "id",
    "name_zh",
    "name_en",
    "basis",
    "window",
    "window_days",
    "evaluation",
    "upgrade",
    "max_downgrade",
    "grace_days",
    "first_evaluation",
    "per_category",
    "levels",
}
_LEVEL_KEYS = {"id", "zh", "en", "min", "lifetime", "discount", "services"}
_UPGRADES = ("immediate", "at_evaluation")
_EVENTS = ("joined", "upgrade", "downgrade", "confirmed")
_MICRO = 1_000_000  # sums are exact in micro-units of the basis
_OFFSET = 2**31  # day numbers shifted into [0, 2**32) inside the (entity, day) keys


@dataclass(frozen=True)
class Ladder:
    """A validated membership ladder; ``levels`` lowest first.

    ``window`` is ``"evaluation_period"`` or ``"trailing"`` (``window_days``
    long), ``first_evaluation`` ``"ladder_rules"`` or ``"true_grade"``, and
    ``per_category`` grades each customer in each product category."""

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
    window: str = "evaluation_period"
    first_evaluation: str = "ladder_rules"
    per_category: bool = False

    @property
    def minimums(self) -> list[float]:
        return [float(level["min"]) for level in self.levels]

    def level_for(self, value: float) -> int:
        """Index of the highest level whose minimum ``value`` reaches."""
        return max(0, bisect_right(self.minimums, value) - 1)


def load_ladder(ladder: str | Path) -> Ladder:
    """Load and validate a ladder: a packaged name (``ladder_medals``,
    ``ladder_five_card``, ``ladder_supermarket``, ``ladder_telecom_stars``,
    ``ladder_telecom_vip``, ``ladder_pgsb``) or a TOML path.

    Raises
    ------
    SchemeError
        Listing every mistake of the file with its key path (``levels[2].min``,
        ``grace_days``): unknown keys, wrong types (booleans are not numbers),
        ``nan`` or ``inf``, negative or fractional days, minimums that do not
        rise, repeated level ids, a grace longer than the evaluation period.
    """
    raw, source = read_rules(ladder, "ladder")
    problems: list[str] = []
    _unknown(raw, _KEYS, "", problems)
    ladder_id = _text(raw, "id", "", problems)
    name_zh = _text(raw, "name_zh", "", problems, default="")
    name_en = _text(raw, "name_en", "", problems, default="")
    basis = _choice(raw, "basis", "", BASES, problems)
    evaluation = _choice(raw, "evaluation", "", CALENDARS, problems)
    # without a window, window_days > 0 keeps its meaning: a trailing window
    implied = "trailing" if _positive(raw.get("window_days")) else "evaluation_period"
    window = _choice(raw, "window", "", WINDOWS, problems, default=implied)
    first = _choice(
        raw, "first_evaluation", "", FIRST_EVALUATIONS, problems, default="ladder_rules"
    )
    per_category = _flag(raw, "per_category", "", problems, default=False)
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
    if window == "trailing" and basis in ("points_earned", "spend", "arpu") and window_days == 0:
        problems.append(
            f"basis {basis!r} with window = 'trailing' needs window_days > 0: the trailing "
            "days it is measured over"
        )
    if window == "evaluation_period" and window_days:
        problems.append(
            "window_days is used only with window = 'trailing'; remove it to measure over "
            "the evaluation period, or set window = 'trailing'"
        )
    shortest = _SHORTEST_DAYS.get(evaluation)
    if shortest is not None and isinstance(grace_days, int) and grace_days >= shortest:
        problems.append(
            f"grace_days ({grace_days}) must be shorter than the shortest {evaluation} period "
            f"({shortest} days), so that a grace ends before the next evaluation"
        )
    if per_category and basis not in ("spend", "arpu"):
        problems.append(
            f"per_category = true needs basis 'spend' or 'arpu' (orders carry the category), "
            f"not {basis!r}"
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
        services = level.get("services", [])
        if not isinstance(services, list) or not all(
            isinstance(s, str) and s.strip() for s in services
        ):
            problems.append(
                f"{_at(where, 'services')} must be a list of texts in quotes, "
                f"got {_describe(services)}"
            )
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
        window=window,
        first_evaluation=first,
        per_category=per_category,
    )


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def evaluation_dates(
    calendar: str, start: dt.date, end: dt.date, registered: dt.date | None = None
) -> list[dt.date]:
    """Evaluation days after ``start`` up to ``end``: the first day of each month,
    quarter, half year or year, or each anniversary of ``registered`` (1 March
    in the years without 29 February for a member registered on that day)."""
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


# --- day arithmetic on day numbers (days since 1970-01-01), vectorised ---------------


def _month_floor(days: np.ndarray, step: int) -> np.ndarray:
    """First day of the month, quarter, half year or year (``step`` months) of each day."""
    if days.size > 10_000:  # many days over a short span: look each day up in a table
        low, high = int(days.min()), int(days.max())
        if high - low < days.size:
            return _month_floor(np.arange(low, high + 1), step)[days - low]
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return (months // step * step).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def _anniversary(base: np.ndarray, years: np.ndarray | int) -> np.ndarray:
    """The ``years``-th anniversary of each ``base`` day: the same month and day,
    1 March for 29 February in a year without it."""
    as_days = base.astype("datetime64[D]")
    month = as_days.astype("datetime64[M]")
    day_of_month = (as_days - month.astype("datetime64[D]")).astype(np.int64)
    shifted = (month.astype(np.int64) + 12 * np.asarray(years, dtype=np.int64)).astype(
        "datetime64[M]"
    )
    return shifted.astype("datetime64[D]").astype(np.int64) + day_of_month


def _anniversaries_until(base: np.ndarray, days: np.ndarray) -> np.ndarray:
    """How many anniversaries of ``base`` fall on or before each of ``days``."""
    years = days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) - base.astype(
        "datetime64[D]"
    ).astype("datetime64[Y]").astype(np.int64)
    return years - (_anniversary(base, years) > days)


def _day_number(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def _to_date(number: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(number))


@dataclass(frozen=True)
class _Index:
    """Sorted (entity, day) keys of a basis or of orders, with exact running sums."""

    keys: np.ndarray  # int64: entity << 32 | (day + _OFFSET), ascending
    cumulative: np.ndarray  # int64, len(keys) + 1: running sums in micro-units, from 0

    def total(self, entity: np.ndarray, first: np.ndarray | int, last: np.ndarray | int):
        """Sums of each ``entity`` from day ``first`` to day ``last`` (inclusive)."""
        base = entity.astype(np.int64) << 32
        low = np.searchsorted(self.keys, base | (np.asarray(first) + _OFFSET), "left")
        high = np.searchsorted(self.keys, base | (np.asarray(last) + _OFFSET), "right")
        return self.cumulative[high] - self.cumulative[low]


def _running(values: np.ndarray) -> np.ndarray:
    """Running sums from 0 in micro-units, exact."""
    if values.size and float(np.abs(values).sum()) * _MICRO >= 2**62:
        raise ValueError(
            "the basis values are too large to sum exactly (over 4.6e12 in total); "
            "express them in a larger unit (thousands of yuan) and scale the ladder's minimums"
        )
    micro = np.rint(values * _MICRO).astype(np.int64)
    return np.concatenate([[0], np.cumsum(micro)])


def _sort_keys(entity: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(entity, day) keys sorted, and the order applied."""
    keys = (entity.astype(np.int64) << 32) | (day.astype(np.int64) + _OFFSET)
    order = pl.Series(keys).arg_sort().to_numpy()
    return keys[order], order


def _key_days(keys: np.ndarray) -> np.ndarray:
    return (keys & 0xFFFFFFFF) - _OFFSET


def _counts(keys: np.ndarray, flags: np.ndarray | None = None) -> _Index:
    """An index counting rows (or the rows flagged) per (entity, day)."""
    if flags is None:
        return _Index(keys, np.arange(keys.size + 1, dtype=np.int64) * _MICRO)
    return _Index(keys, np.concatenate([[0], np.cumsum(flags, dtype=np.int64)]) * _MICRO)


@dataclass(frozen=True)
class LadderResult:
    """Grade changes of every customer (or customer and category), and the
    grades as of any day.

    Attributes
    ----------
    ladder
        The ladder run.
    changes
        ``customer_id`` (and ``category``), ``date``, ``level`` (index, lowest
        0), ``level_id``, ``event`` (``joined``, ``upgrade``, ``downgrade``,
        ``confirmed``) and ``provisional``, in order of time per customer.
    registered
        ``customer_id`` (and ``category``) and ``registered``: the day each
        joined the ladder.
    """

    ladder: Ladder
    changes: pl.DataFrame
    registered: pl.DataFrame
    _keys: tuple[str, ...] = field(default=("customer_id",), repr=False)
    _entity_keys: pl.DataFrame | None = field(default=None, repr=False, compare=False)
    _change_entity: np.ndarray | None = field(default=None, repr=False, compare=False)
    _member_entity: np.ndarray | None = field(default=None, repr=False, compare=False)
    _orders: _Index | None = field(default=None, repr=False, compare=False)
    _sold: _Index | None = field(default=None, repr=False, compare=False)

    @property
    def order_days(self) -> pl.DataFrame:
        """Days with an order: the key columns, ``date``, ``orders`` and ``sold``
        (orders placed and orders completed that day)."""
        if self._orders is None or self._entity_keys is None:
            return pl.DataFrame(schema={**dict.fromkeys(self._keys, pl.String), "date": pl.Date})
        keys = self._orders.keys
        orders = np.diff(self._orders.cumulative) // _MICRO
        sold = np.diff(self._sold.cumulative) // _MICRO if self._sold else orders
        return (
            self._entity_keys[keys >> 32]
            .with_columns(
                pl.Series("date", _key_days(keys)).cast(pl.Int32).cast(pl.Date),
                pl.Series("orders", orders),
                pl.Series("sold", sold),
            )
            .group_by(*self._keys, "date", maintain_order=True)
            .agg(pl.col("orders").sum(), pl.col("sold").sum())
        )

    def as_of(
        self,
        day: str | dt.date,
        lang: str = "en",
        blocked: set[str] | None = None,
        period: str = "evaluated",
    ) -> pl.DataFrame:
        """Each registered customer's level on ``day`` and their status, inside
        or outside the ladder.

        Parameters
        ----------
        day
            The day the grades are read on.
        lang
            ``"en"`` or ``"zh"``: the language of ``level_name``.
        blocked
            Customer ids that cannot order (恶意顾客).
        period
            The period the statuses are measured on: ``"evaluated"`` (the
            evaluation period graded by the last evaluation on or before
            ``day``; from registration to ``day`` for members not evaluated
            yet) or ``"current"`` (the period in progress, from its start to
            ``day``).

        Returns
        -------
        polars.DataFrame
            The key columns, ``registered``, the last change (``date``,
            ``level``, ``level_id``, ``event``, ``provisional``),
            ``level_name``, ``discount`` (when the ladder's levels have one) and
            ``status``: ``blocked``, ``never_ordered`` (非订购: no order at all
            up to ``day``), ``no_order_in_period`` (无订购), ``no_sale``
            (无销售: orders in the period, none completed) or ``active``.
        """
        if period not in ("evaluated", "current"):
            raise ValueError(f"period must be 'evaluated' or 'current', got {period!r}")
        when = _as_date(day, "day")
        today = _day_number(when)
        names = [lv["zh" if lang == "zh" else "en"] for lv in self.ladder.levels]
        listed = (self.registered["registered"] <= when).to_numpy()
        members = self.registered.filter(pl.Series(listed))
        entity = self._member_entity[listed]
        known = entity >= 0
        code = np.where(known, entity, 0)
        start = members["registered"].to_physical().to_numpy().astype(np.int64)
        first, last = self._status_period(start, today, period)
        placed = np.where(known, self._orders.total(code, first, last), 0)
        placed_ever = np.where(known, self._orders.total(code, -_OFFSET, today), 0)
        sold = np.where(known, self._sold.total(code, first, last), 0) if self._sold else placed
        # each entity's last change on or before the day (changes run in time order)
        rows = np.flatnonzero(self.changes["date"].to_physical().to_numpy() <= today)
        changed = self._change_entity[rows]
        final = rows[np.r_[changed[1:] != changed[:-1], True]] if rows.size else rows
        position = np.full(self._entity_keys.height + 1, -1, dtype=np.int64)
        position[self._change_entity[final]] = final
        take = position[np.where(known, entity, -1)]
        picked = self.changes.drop(*self._keys)[np.maximum(take, 0)]
        picked = picked.select(
            pl.when(pl.Series(take >= 0)).then(pl.col(c)).otherwise(None).alias(c)
            for c in picked.columns
        )
        discounts = {i: float(lv.get("discount", 0.0)) for i, lv in enumerate(self.ladder.levels)}
        discount = (
            [
                pl.col("level")
                .replace_strict(discounts, return_dtype=pl.Float64, default=None)
                .alias("discount")
            ]
            if any("discount" in lv for lv in self.ladder.levels)
            else []
        )
        blocked_ids = sorted(blocked or set())
        return (
            pl.concat([members, picked], how="horizontal")
            .with_columns(
                pl.Series("_placed", placed),
                pl.Series("_ever", placed_ever),
                pl.Series("_sold", sold),
            )
            .with_columns(
                pl.col("level")
                .replace_strict(dict(enumerate(names)), return_dtype=pl.String, default=None)
                .alias("level_name"),
                *discount,
                pl.when(pl.col("customer_id").is_in(blocked_ids))
                .then(pl.lit("blocked"))
                .when(pl.col("_ever") == 0)
                .then(pl.lit("never_ordered"))
                .when(pl.col("_placed") == 0)
                .then(pl.lit("no_order_in_period"))
                .when(pl.col("_sold") == 0)
                .then(pl.lit("no_sale"))
                .otherwise(pl.lit("active"))
                .alias("status"),
            )
            .drop("_placed", "_ever", "_sold")
        )

    def _status_period(
        self, start: np.ndarray, today: int, period: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """First and last day (inclusive) of the period each member's status is read on."""
        today_arr = np.full(start.shape, today, dtype=np.int64)
        if self.ladder.evaluation == "anniversary":
            count = _anniversaries_until(start, today_arr)
            current = _anniversary(start, count)
            previous = _anniversary(start, np.maximum(count - 1, 0))
        else:
            step = _MONTHS[self.ladder.evaluation]
            current = _month_floor(today_arr, step)
            previous = _month_floor(current - 1, step)
            count = (current > start).astype(np.int64)
        if period == "current":
            return np.maximum(current, start), today_arr
        evaluated = count >= 1
        first = np.where(evaluated, previous, start)
        last = np.where(evaluated, current - 1, today_arr)
        return first, last


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
    ladder
        A :class:`Ladder`, a packaged ladder name or the path of a TOML file.
    orders
        ``customer_id``, ``date``, ``amount``, and optionally ``category``
        (needed by ``per_category`` ladders) and ``status`` (``completed``,
        ``cancelled`` or ``returned``; all completed when absent): the basis for
        ``spend`` and ``arpu``, the purchase days at which immediate upgrades
        are checked, and the orders the statuses are read on. Only completed
        orders count towards spend.
    points
        A ledger's ``entries`` (``customer_id``, ``date``, ``kind``, ``points``):
        the basis for ``points_held`` and ``points_earned``.
    end
        The last day run.
    registrations
        ``customer_id``, ``registered``; by default each customer's first order
        or points entry (for ``per_category`` ladders, the first order in the
        category).

    Returns
    -------
    LadderResult

    Raises
    ------
    ValueError
        When the basis lacks its input, a column is missing, or a status or a
        category is not usable; the message says what to pass.
    """
    if not isinstance(ladder, Ladder):
        ladder = load_ladder(ladder)
    last = _day_number(_as_date(end, "end"))
    uses_points = ladder.basis in ("points_held", "points_earned")
    keys = ("customer_id", "category") if ladder.per_category else ("customer_id",)
    orders_frame = None
    if orders is not None:
        orders_frame = _orders_frame(orders, ladder).filter(pl.col("date") <= _to_date(last))
    if uses_points:
        if points is None:
            raise ValueError(
                f"basis {ladder.basis!r} needs points= (a ledger's entries: customer_id, date, "
                "kind, points)"
            )
        missing = {"customer_id", "date", "kind", "points"} - set(points.columns)
        if missing:
            raise ValueError(f"points lack the columns {sorted(missing)}; pass a ledger's entries")
        source = points.filter(
            pl.col("kind") == "earn" if ladder.basis == "points_earned" else pl.lit(True)
        ).select(
            pl.col("customer_id").cast(pl.String),
            pl.col("date").cast(pl.Date),
            pl.col("points").cast(pl.Float64).alias("value"),
        )
        source = source.filter(pl.col("date") <= _to_date(last))
    elif orders_frame is None:
        raise ValueError(f"basis {ladder.basis!r} needs orders= (customer_id, date, amount)")
    else:
        source = orders_frame
    # entities: the customers (and categories) of the source, numbered in key order
    ordered = source if _in_key_order(source, keys) else source.sort(*keys, "date")
    new_entity = (
        ordered.select(
            pl.any_horizontal(pl.col(k) != pl.col(k).shift() for k in keys).fill_null(True)
        )
        .to_series()
        .to_numpy()
    )
    entity = np.cumsum(new_entity) - 1
    dense = (entity << 32) | (ordered["date"].to_physical().to_numpy().astype(np.int64) + _OFFSET)
    firsts = np.flatnonzero(new_entity)
    entity_keys = ordered.select(keys)[firsts]
    start = _key_days(dense[firsts])
    if uses_points:
        basis = _Index(dense, _running(ordered["value"].to_numpy()))
        if orders_frame is not None:
            order_entity = (
                orders_frame.select(keys)
                .join(
                    entity_keys.with_row_index("_entity"),
                    on=list(keys),
                    how="left",
                    maintain_order="left",
                )["_entity"]
                .fill_null(-1)
                .to_numpy()
                .astype(np.int64)
            )
            known = order_entity >= 0
            order_days = orders_frame["date"].to_physical().to_numpy().astype(np.int64)
            placed_keys, placed_order = _sort_keys(order_entity[known], order_days[known])
            completed = orders_frame["_sold"].to_numpy()[known][placed_order]
            placed = _counts(placed_keys)
            sold = None if completed.all() else _counts(placed_keys, completed)
            check, check_is_basis = placed_keys[completed], False
        else:  # the days of the basis stand for the order days
            placed, sold, check, check_is_basis = _counts(dense), None, dense, True
    else:
        completed = ordered["_sold"].to_numpy()
        amounts = ordered["amount"].to_numpy()
        basis = _Index(dense[completed], _running(amounts[completed]))
        placed = _counts(dense)
        sold = None if completed.all() else _counts(dense, completed)
        check, check_is_basis = basis.keys, True
    if registrations is not None:
        start = _registered_start(registrations, entity_keys, start)
    graded = _grade(ladder, basis, start, check, check_is_basis, last)
    sequence = np.lexsort((graded["order"], graded["date"], graded["entity"]))
    graded = {name: values[sequence] for name, values in graded.items()}
    names = {i: lv["id"] for i, lv in enumerate(ladder.levels)}
    changes = pl.concat(
        [
            entity_keys[graded["entity"]],
            pl.DataFrame(
                {
                    "date": pl.Series(graded["date"]).cast(pl.Int32).cast(pl.Date),
                    "level": pl.Series(graded["level"], dtype=pl.Int64),
                }
            ).with_columns(
                pl.col("level").replace_strict(names, return_dtype=pl.String).alias("level_id"),
                pl.Series("event", graded["event"]).replace_strict(
                    dict(enumerate(_EVENTS)), return_dtype=pl.String
                ),
                pl.Series("provisional", graded["provisional"], dtype=pl.Boolean),
            ),
        ],
        how="horizontal",
    )
    registered = entity_keys.with_columns(
        pl.Series("registered", start).cast(pl.Int32).cast(pl.Date)
    )
    member_entity = np.arange(entity_keys.height)
    if registrations is not None:  # members without any order or points are listed too
        listed = registrations.select(
            pl.col("customer_id").cast(pl.String), pl.col("registered").cast(pl.Date)
        )
        if ladder.per_category:
            listed = listed.with_columns(pl.lit(None, pl.String).alias("category")).select(
                "customer_id", "category", "registered"
            )
        absent = listed.join(registered, on="customer_id", how="anti")
        if absent.height:
            everyone = pl.concat([registered, absent]).with_columns(
                pl.Series("_entity", np.r_[member_entity, np.full(absent.height, -1)])
            )
            everyone = everyone.sort(*keys, nulls_last=True)
            member_entity = everyone["_entity"].to_numpy()
            registered = everyone.drop("_entity")
    return LadderResult(
        ladder=ladder,
        changes=changes,
        registered=registered,
        _keys=keys,
        _entity_keys=entity_keys,
        _change_entity=graded["entity"].astype(np.int64),
        _member_entity=member_entity.astype(np.int64),
        _orders=placed,
        _sold=sold,
    )


def _in_key_order(frame: pl.DataFrame, keys: tuple[str, ...]) -> bool:
    """Whether the rows of ``frame`` already run by ``keys`` and then ``date``.

    Checked row against row (a null anywhere counts as out of order), so a log
    stored in that order skips the sort, which would cost more than the
    grading itself; the order of rows within a day does not matter."""
    if frame.height < 2:
        return True
    later = pl.col("date") >= pl.col("date").shift()
    for key in reversed(keys):
        now, before = pl.col(key), pl.col(key).shift()
        later = (now > before) | ((now == before) & later)
    return bool(frame.select(later.slice(1).fill_null(False).all()).item())


def _orders_frame(orders: pl.DataFrame, ladder: Ladder) -> pl.DataFrame:
    """Orders with ``customer_id``, ``date`` (a Date), ``amount``, the category
    when graded per category, and ``_sold`` (completed)."""
    need = {"customer_id", "date", "amount"} | ({"category"} if ladder.per_category else set())
    missing = sorted(need - set(orders.columns))
    if missing:
        hint = (
            " (per-category ladders grade each product category: give each order its category)"
            if "category" in missing
            else ""
        )
        raise ValueError(f"orders lack the columns {missing}{hint}")
    columns = [
        pl.col("customer_id").cast(pl.String),
        pl.col("date").cast(pl.Date),
        pl.col("amount").cast(pl.Float64),
    ]
    if ladder.per_category:
        blank = orders.filter(
            pl.col("category").is_null()
            | (pl.col("category").cast(pl.String).str.strip_chars() == "")
        ).height
        if blank:
            raise ValueError(
                f"{blank} orders have no category; a per-category ladder grades each category, "
                "so give every order one (or drop those orders knowingly)"
            )
        columns.append(pl.col("category").cast(pl.String))
    if "status" in orders.columns:
        statuses = orders["status"].cast(pl.String)
        unknown = sorted(set(statuses.drop_nulls().unique().to_list()) - set(ORDER_STATUSES))
        if unknown or statuses.null_count():
            shown = unknown + (["(empty)"] if statuses.null_count() else [])
            raise ValueError(
                f"order status values {shown} are not known; use one of "
                f"{', '.join(ORDER_STATUSES)} for every order"
            )
        columns.append((pl.col("status").cast(pl.String) == "completed").alias("_sold"))
    else:
        columns.append(pl.lit(True).alias("_sold"))
    return orders.select(columns)


def _registered_start(
    registrations: pl.DataFrame, entity_keys: pl.DataFrame, start: np.ndarray
) -> np.ndarray:
    """Each entity's registration day where ``registrations`` lists its customer."""
    missing = {"customer_id", "registered"} - set(registrations.columns)
    if missing:
        raise ValueError(f"registrations lack the columns {sorted(missing)}")
    listed = registrations.select(
        pl.col("customer_id").cast(pl.String), pl.col("registered").cast(pl.Date).alias("_reg")
    )
    day = (
        entity_keys.join(listed, on="customer_id", how="left", maintain_order="left")["_reg"]
        .to_physical()
        .to_numpy()
    )
    known = ~np.isnan(day.astype(np.float64))
    return np.where(known, np.nan_to_num(day.astype(np.float64)), start).astype(np.int64)


def _grade(
    ladder: Ladder,
    basis: _Index,
    start: np.ndarray,
    check: np.ndarray,
    check_is_basis: bool,
    last: int,
) -> dict[str, np.ndarray]:
    """The grade changes of every entity: rows ``entity``, ``date``, ``level``,
    ``event`` (index into ``_EVENTS``), ``provisional`` and ``order`` (within a day).

    The running basis and the level it qualifies for are computed at every
    purchase day at once; the rules that depend on a member's state run once
    per evaluation (and grace end), vectorised across members. ``start`` is
    each entity's first day; ``check`` the sorted (entity, day) keys of the
    purchases, the basis's own keys when ``check_is_basis``."""
    n = start.size
    minimums = np.rint(np.asarray(ladder.minimums) * _MICRO).astype(np.int64)
    lifetime = np.array([bool(lv.get("lifetime", False)) for lv in ladder.levels])
    anniversary = ladder.evaluation == "anniversary"
    step = _MONTHS[ladder.evaluation]
    grace = ladder.grace_days
    per_eval = 2 if grace else 1
    held = ladder.basis == "points_held"
    trailing = ladder.window == "trailing"
    months = ladder.window_days / (365.25 / 12) if trailing else step

    def qualify(entity: np.ndarray, first: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Level reached by the basis summed from ``first`` to ``day`` (inclusive)."""
        if held:
            first = np.full(np.shape(day), -_OFFSET, dtype=np.int64)
        elif trailing:
            first = day - ladder.window_days + 1
        total = basis.total(entity, first, day)
        value = total / months if ladder.basis == "arpu" else total
        return np.searchsorted(minimums, value, "right") - 1

    # evaluation days: common to all members on a calendar, per member on anniversaries
    if anniversary:
        rounds = int(_anniversaries_until(start, np.full(n, last)).max()) if n else 0
        common = np.zeros(0, dtype=np.int64)
    else:
        first_day = _to_date(int(start.min())) if n else _to_date(last)
        common = np.array(
            [
                _day_number(d)
                for d in evaluation_dates(ladder.evaluation, first_day, _to_date(last))
            ],
            dtype=np.int64,
        )
        rounds = common.size
    segments = rounds * per_eval + 1

    # purchases: the level their running basis (period so far) reaches, and the
    # segment (between consecutive evaluations and grace ends) each falls in
    immediate = ladder.upgrade == "immediate"
    if not immediate:
        check = check[:0]
    p_entity, p_day = check >> 32, _key_days(check)
    if anniversary:
        period_start = _anniversary(start[p_entity], _anniversaries_until(start[p_entity], p_day))
    else:
        period_start = _month_floor(p_day, step)
    if check_is_basis and not trailing and not held and check.size:
        # the purchases are the basis's rows: the period so far runs from the
        # first row of the member's period to the last row of the day, so only
        # the last row of each day is graded (the others reach the same level);
        # a purchase at the lowest level never upgrades anyone: only the others go on
        opens = np.empty(check.size, dtype=bool)
        opens[0] = True
        np.not_equal(p_entity[1:], p_entity[:-1], out=opens[1:])
        opens[1:] |= period_start[1:] != period_start[:-1]
        first_row = np.maximum.accumulate(np.where(opens, np.arange(check.size), 0))
        closes = np.r_[check[1:] != check[:-1], True]
        total = basis.cumulative[1:] - basis.cumulative[first_row]
        value = total / months if ladder.basis == "arpu" else total
        second = minimums[1] if minimums.size > 1 else np.inf
        rest = np.flatnonzero(closes & (value >= second))
        p_level = np.searchsorted(minimums, value[rest], "right") - 1
    else:
        p_level = qualify(p_entity, period_start, p_day)
        rest = np.flatnonzero(p_level > 0)
        p_level = p_level[rest]
    p_entity, p_day = p_entity[rest], p_day[rest]
    keep = (p_day > start[p_entity]) & (p_day <= last)
    p_entity, p_day, p_level = p_entity[keep], p_day[keep], p_level[keep]
    if anniversary:
        done = _anniversaries_until(start[p_entity], p_day)
        latest = _anniversary(start[p_entity], done)
    else:
        done = np.searchsorted(common, p_day, "right")
        latest = common[np.maximum(done - 1, 0)] if common.size else p_day
    if grace:
        segment = np.where(done == 0, 0, 2 * done - 1 + (p_day >= latest + grace))
    else:
        segment = done
    flat = p_entity * segments + segment
    new_run = np.r_[True, flat[1:] != flat[:-1]] if flat.size else np.zeros(0, bool)
    best = np.full((n, segments), -1, dtype=np.int64)  # highest level qualified per segment
    if flat.size:
        runs = np.flatnonzero(new_run)
        best.reshape(-1)[flat[runs]] = np.maximum.reduceat(p_level, runs)

    rows: list[tuple[np.ndarray, ...]] = []

    def emit(mask: np.ndarray, day: np.ndarray, level: np.ndarray, event: int) -> None:
        chosen = np.flatnonzero(mask)
        rows.append(
            (
                chosen,
                day[chosen],
                level[chosen],
                np.full(chosen.size, event),
                np.zeros(chosen.size, dtype=bool),  # only purchases' upgrades are provisional
                np.ones(chosen.size, dtype=np.int64),
            )
        )

    everyone = np.arange(n)
    join_first = start if anniversary else _month_floor(start, step)
    level = qualify(everyone, join_first, start)
    rows.append(
        (
            everyone,
            start.copy(),
            level.copy(),
            np.zeros(n, dtype=np.int64),
            np.ones(n, bool),
            np.zeros(n, dtype=np.int64),
        )
    )
    provisional = np.ones(n, dtype=bool)
    segment_level = np.empty((n, segments), dtype=np.int64)
    segment_provisional = np.empty((n, segments), dtype=bool)
    segment_level[:, 0], segment_provisional[:, 0] = level, provisional
    max_down = ladder.max_downgrade
    no_one = np.zeros(n, dtype=bool)

    for k in range(1, rounds + 1):
        before = (k - 1) * per_eval
        if immediate:
            level = np.maximum(level, best[:, before])
        if anniversary:
            day = _anniversary(start, k)
            active = day <= last
            previous = _anniversary(start, k - 1)
        else:
            day = np.full(n, common[k - 1])
            active = day > start
            previous = _month_floor(day - 1, step)
        # the evaluated period ends the day before the evaluation; a trailing
        # window and a balance end on the day itself
        evaluated_last = day if trailing or held else day - 1
        qualified = np.where(active, qualify(everyone, previous, evaluated_last), level)
        was_provisional = provisional & active
        provisional = provisional & ~active
        up = active & (qualified > level)
        level = np.where(up, qualified, level)
        emit(up, day, level, 1)
        keeps = (qualified >= level) | lifetime[level]
        true_grade = was_provisional & ~keeps if ladder.first_evaluation == "true_grade" else no_one
        level = np.where(true_grade, qualified, level)
        emit(true_grade, day, level, 2)
        below = active & ~keeps & ~true_grade
        down = no_one if grace else below
        level = np.where(down, np.maximum(qualified, level - max_down), level)
        emit(down, day, level, 2)
        emit(was_provisional & ~up & ~down & ~true_grade, day, level, 3)
        segment_level[:, before + 1], segment_provisional[:, before + 1] = level, provisional
        if grace:
            if immediate:
                level = np.maximum(level, best[:, before + 1])
            grace_day = day + grace
            pending = below & (grace_day <= last)
            # the evaluated period and the grace days after it
            qualified = np.where(pending, qualify(everyone, previous, grace_day), level)
            up = pending & (qualified > level)
            level = np.where(up, qualified, level)
            emit(up, grace_day, level, 1)
            down = pending & ~((qualified >= level) | lifetime[level])
            level = np.where(down, np.maximum(qualified, level - max_down), level)
            emit(down, grace_day, level, 2)
            segment_level[:, before + 2], segment_provisional[:, before + 2] = level, provisional

    if flat.size:
        # an upgrade at each purchase whose level beats the level the segment
        # started with and every earlier purchase of the segment
        group = np.cumsum(new_run) - 1
        width = len(ladder.levels) + 1
        running = np.maximum.accumulate(p_level + 1 + group * width) - group * width - 1
        earlier = np.where(new_run, -1, np.r_[-1, running[:-1]])
        up = p_level > np.maximum(earlier, segment_level.reshape(-1)[flat])
        count = int(up.sum())
        rows.append(
            (
                p_entity[up],
                p_day[up],
                p_level[up],
                np.ones(count, dtype=np.int64),
                segment_provisional.reshape(-1)[flat][up],
                np.full(count, 2, dtype=np.int64),
            )
        )
    names = ("entity", "date", "level", "event", "provisional", "order")
    return {name: np.concatenate([r[i] for r in rows]) for i, name in enumerate(names)}


# --- the reference implementation: one customer at a time ----------------------------


def _run_ladder_reference(
    ladder: Ladder | str | Path,
    *,
    orders: pl.DataFrame | None = None,
    points: pl.DataFrame | None = None,
    end: str | dt.date,
    registrations: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The grade changes of a ``window = "trailing"`` ladder computed one
    customer and one event at a time (a heap of purchase days, evaluations and
    grace ends); kept to check :func:`run_ladder` on random logs. Orders carry
    no category or status here."""
    if not isinstance(ladder, Ladder):
        ladder = load_ladder(ladder)
    if ladder.window != "trailing" or ladder.per_category:
        raise ValueError("the reference runs trailing-window ladders without categories")
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
    deltas = deltas.filter(pl.col("date") <= last)
    check_days = (
        orders.select("customer_id", pl.col("date").cast(pl.Date))
        if orders is not None
        else deltas.select("customer_id", "date")
    ).unique()
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
    return pl.DataFrame(rows, schema=schema)


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
