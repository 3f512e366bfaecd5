"""A points ledger (积分): accrual from orders and events, redemption, expiry.

Rules are data (``src/clv/schemes/points_pollen.toml``, or a user's TOML):
points per currency unit spent with a rounding rule per order, fixed points
per event type, events allowed once per customer, the exchange rate of
redemptions (``points_per_currency_off``: 100 points = 1 yuan) and the
validity of points. :func:`build_ledger` turns orders, events and
redemptions into a ledger in which every point is explained: each earning,
redemption and expiry is a dated entry, redemptions and expiries take the
oldest points first (first in, first out), and invalid inputs are kept in
``rejected`` with their reason instead of being dropped.

Validity is counted in calendar years (``expiry_years``: "有效期为1年", from
the day the points were earned): points earned on 15 January 2024 are valid
up to and including 14 January 2025 and expire on 15 January 2025, the
anniversary. The anniversary of 29 February in a year without one is 1 March
(``leap_day = "mar_1"``) or 28 February (``leap_day = "feb_28"``). With
``valid_on_anniversary = true`` the points are still valid on the
anniversary itself and expire the day after. ``expiry_days`` counts days
instead; without either the points never expire.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path

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
    _table,
    _text,
    _unknown,
    _whole,
)

__all__ = ["PointsLedger", "PointsRules", "anniversary", "build_ledger", "load_points_rules"]

_ROUNDING = {"floor": math.floor, "round": lambda v: math.floor(v + 0.5), "ceil": math.ceil}
_LEAP_DAY = ("mar_1", "feb_28")
_KEYS = {
    "id",
    "name_zh",
    "name_en",
    "points_per_currency_unit",
    "rounding",
    "points_per_currency_off",
    "expiry_days",
    "expiry_years",
    "leap_day",
    "valid_on_anniversary",
    "not_first_review_counts_as",
    "events",
    "once_per_customer",
}


def anniversary(day: dt.date, years: int, leap_day: str = "mar_1") -> dt.date:
    """``day`` moved ``years`` calendar years on; 29 February goes to 1 March
    (``leap_day="mar_1"``) or 28 February (``"feb_28"``) in a year without it.

    Examples
    --------
    >>> anniversary(dt.date(2024, 1, 15), 1)
    datetime.date(2025, 1, 15)
    >>> anniversary(dt.date(2024, 2, 29), 1), anniversary(dt.date(2024, 2, 29), 1, "feb_28")
    (datetime.date(2025, 3, 1), datetime.date(2025, 2, 28))
    >>> anniversary(dt.date(2024, 2, 29), 4)
    datetime.date(2028, 2, 29)
    """
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        if leap_day == "feb_28":
            return dt.date(day.year + years, 2, 28)
        return dt.date(day.year + years, 3, 1)


@dataclass(frozen=True)
class PointsRules:
    """Validated rules of a points programme.

    ``expiry_years`` (calendar years) or ``expiry_days`` (days), at most one
    of them non-zero; both 0: points never expire.
    ``not_first_review_counts_as``: the event type a ``first_review`` counts
    as when the product already had its first review (``""``: rejected).
    """

    id: str
    name_zh: str
    name_en: str
    points_per_currency_unit: float
    rounding: str
    points_per_currency_off: int
    expiry_days: int
    events: dict[str, int]
    once_per_customer: frozenset[str]
    expiry_years: int = 0
    leap_day: str = "mar_1"
    valid_on_anniversary: bool = False
    not_first_review_counts_as: str = ""

    def order_points(self, amount: float) -> int:
        """Points for one order of ``amount`` (currency units)."""
        return int(_ROUNDING[self.rounding](amount * self.points_per_currency_unit + 1e-9))

    def to_currency(self, points: float) -> float:
        """The currency value (yuan) of ``points``: 100 points = 1 yuan with
        ``points_per_currency_off = 100``."""
        return points / self.points_per_currency_off

    def expires_on(self, earned: dt.date) -> dt.date | None:
        """The first day on which points earned on ``earned`` are no longer
        valid (None: they never expire)."""
        if self.expiry_years:
            end = anniversary(earned, self.expiry_years, self.leap_day)
            return end + dt.timedelta(days=1) if self.valid_on_anniversary else end
        if self.expiry_days:
            return earned + dt.timedelta(days=self.expiry_days)
        return None


def load_points_rules(rules: str | Path = "points_pollen") -> PointsRules:
    """Load and validate points rules: a packaged name or a TOML path.

    Raises
    ------
    SchemeError
        Listing every mistake of the file with its key path (``expiry_years``,
        ``events.review``, ``once_per_customer.events[0]``): unknown keys, wrong
        types (booleans are not numbers), ``nan`` or ``inf``, negative rates,
        fractional points, days or years, both ``expiry_years`` and
        ``expiry_days``, an unknown ``not_first_review_counts_as``.
    """
    raw, source = read_rules(rules, "points rules")
    problems: list[str] = []
    _unknown(raw, _KEYS, "", problems)
    rules_id = _text(raw, "id", "", problems)
    name_zh = _text(raw, "name_zh", "", problems)
    name_en = _text(raw, "name_en", "", problems)
    rate = _number(raw, "points_per_currency_unit", "", problems, low=0)
    rounding = _choice(raw, "rounding", "", _ROUNDING, problems, default="floor")
    off = _whole(raw, "points_per_currency_off", "", problems, low=0, low_open=True)
    expiry = _whole(
        raw,
        "expiry_days",
        "",
        problems,
        default=0,
        low=0,
        low_open=True,
        noun="a whole number of days",
    )
    years = _whole(
        raw,
        "expiry_years",
        "",
        problems,
        default=0,
        low=0,
        low_open=True,
        noun="a whole number of calendar years",
    )
    if "expiry_days" in raw and "expiry_years" in raw:
        problems.append(
            "expiry_years and expiry_days are both given; keep one (calendar years or days)"
        )
    leap_day = _choice(raw, "leap_day", "", _LEAP_DAY, problems, default="mar_1")
    on_anniversary = _flag(raw, "valid_on_anniversary", "", problems, default=False)
    counts_as = raw.get("not_first_review_counts_as", "")
    if not isinstance(counts_as, str):
        problems.append(
            'not_first_review_counts_as must be an event type in quotes (or "" to reject), '
            f"got {_describe(counts_as)}"
        )
        counts_as = ""
    events: dict[str, int] = {}
    table = _table(raw, "events", "", problems)
    for name in table or {}:
        points = _whole(table, name, "events", problems, low=0, noun="a whole number of points")
        events[name] = points
    once: list[str] = []
    once_table = _table(raw, "once_per_customer", "", problems)
    if once_table is not None:
        _unknown(once_table, {"events"}, "once_per_customer", problems)
        listed = once_table.get("events", [])
        if not isinstance(listed, list) or not listed:
            problems.append(
                "once_per_customer.events must be an array of event types, got "
                f"{_describe(listed)}; list the event types rewarded once per customer, or "
                "remove [once_per_customer]"
            )
            listed = []
        for i, event in enumerate(listed):
            if not isinstance(event, str):
                problems.append(
                    f"once_per_customer.events[{i}] must be an event type in quotes, got "
                    f"{_describe(event)}"
                )
            else:
                once.append(event)
    if counts_as and counts_as not in events:
        problems.append(
            f"not_first_review_counts_as {counts_as!r} is not an event type "
            f"{sorted(events)}{_suggest(counts_as, events)}"
        )
    unknown = [e for e in once if e not in events]
    if unknown:
        hints = "".join(_suggest(e, events) for e in unknown)
        problems.append(
            f"once_per_customer.events {unknown} are not event types {sorted(events)}{hints}"
        )
    if problems:
        raise SchemeError(problems, source, "points rules")
    return PointsRules(
        id=rules_id,
        name_zh=name_zh,
        name_en=name_en,
        points_per_currency_unit=rate,
        rounding=rounding,
        points_per_currency_off=off,
        expiry_days=max(expiry, 0),
        events=events,
        once_per_customer=frozenset(once),
        expiry_years=max(years, 0),
        leap_day=leap_day,
        valid_on_anniversary=on_anniversary,
        not_first_review_counts_as=counts_as,
    )


@dataclass(frozen=True)
class PointsLedger:
    """Every point of every customer, dated.

    ``entries``: ``customer_id``, ``date``, ``kind`` (``earn``, ``redeem``,
    ``expire``), ``source`` (``order``, an event type, ``redemption`` or
    ``expiry``), ``points`` (signed), ``balance`` after the entry and
    ``note`` (why an entry differs from its input, e.g. a ``first_review``
    counted as a ``review``; null otherwise).
    ``rejected``: the inputs that were not applied, with ``reason``.
    """

    rules: PointsRules
    entries: pl.DataFrame
    rejected: pl.DataFrame
    as_of: dt.date

    def balances(self, as_of: dt.date | str | None = None) -> pl.DataFrame:
        """Per customer: earned, redeemed, expired and balance (points) as of a
        date (up to the ledger's own ``as_of``), and ``redeemed_yuan`` and
        ``balance_yuan``, their currency value at ``points_per_currency_off``
        points per yuan."""
        day = _date(as_of) if as_of is not None else self.as_of
        if day > self.as_of:
            raise ValueError(f"the ledger runs to {self.as_of}; build it with as_of={day}")
        kept = self.entries.filter(pl.col("date") <= day)
        per_yuan = self.rules.points_per_currency_off
        return (
            kept.group_by("customer_id")
            .agg(
                pl.col("points").filter(pl.col("kind") == "earn").sum().alias("earned"),
                (-pl.col("points").filter(pl.col("kind") == "redeem").sum()).alias("redeemed"),
                (-pl.col("points").filter(pl.col("kind") == "expire").sum()).alias("expired"),
                pl.col("points").sum().alias("balance"),
            )
            .with_columns(
                (pl.col("redeemed") / per_yuan).alias("redeemed_yuan"),
                (pl.col("balance") / per_yuan).alias("balance_yuan"),
            )
            .sort("customer_id")
        )

    def lots(self, as_of: dt.date | str | None = None) -> pl.DataFrame:
        """The points held on a date, by the day they were earned and the day
        they expire: ``customer_id``, ``earned``, ``expires`` (null: never),
        ``points``. Redemptions and expiries take the oldest lots first, so
        the lots of a customer sum to their balance."""
        day = _date(as_of) if as_of is not None else self.as_of
        if day > self.as_of:
            raise ValueError(f"the ledger runs to {self.as_of}; build it with as_of={day}")
        rows: list[tuple] = []
        kept = self.entries.filter(pl.col("date") <= day).select(
            "customer_id", "date", "kind", "points"
        )
        lots: deque[list] = deque()
        customer = None

        def close() -> None:
            rows.extend((customer, e, self.rules.expires_on(e), p) for e, p in lots if p)

        # entries are grouped by customer, in order: one pass
        for who, when, kind, points in kept.iter_rows():
            if who != customer:
                close()
                customer, lots = who, deque()
            if kind == "earn":
                lots.append([when, points])
                continue
            left = -points
            while left:
                take = min(left, lots[0][1])
                lots[0][1] -= take
                left -= take
                if lots[0][1] == 0:
                    lots.popleft()
        close()
        schema = {
            "customer_id": pl.String,
            "earned": pl.Date,
            "expires": pl.Date,
            "points": pl.Int64,
        }
        return pl.DataFrame(rows, schema=schema, orient="row").sort("customer_id", "earned")

    def history(self, customer_id: str) -> pl.DataFrame:
        """A customer's entries in order: the explanation of every point."""
        return self.entries.filter(pl.col("customer_id") == customer_id)


class _Account:
    """One customer's points while the ledger is built: lots oldest first."""

    def __init__(self, customer: str, rules: PointsRules, entries: list[dict]) -> None:
        self.customer = customer
        self.rules = rules
        self.entries = entries
        self.lots: deque[list] = deque()  # [expiry date or None, points left]
        self.balance = 0

    def _enter(
        self, day: dt.date, kind: str, source: str, points: int, note: str | None = None
    ) -> None:
        self.balance += points
        self.entries.append(
            {
                "customer_id": self.customer,
                "date": day,
                "kind": kind,
                "source": source,
                "points": points,
                "balance": self.balance,
                "note": note,
            }
        )

    def expire_until(self, day: dt.date) -> None:
        """Expire every lot whose expiry date is on or before ``day``. Expiry
        dates rise with earning dates, so the oldest lot expires first."""
        while self.lots and self.lots[0][0] is not None and self.lots[0][0] <= day:
            expires, left = self.lots.popleft()
            if left:
                self._enter(expires, "expire", "expiry", -left)

    def earn(self, day: dt.date, source: str, points: int, note: str | None = None) -> None:
        if points:
            self.lots.append([self.rules.expires_on(day), points])
            self._enter(day, "earn", source, points, note)

    def redeem(self, day: dt.date, points: int) -> None:
        """Take ``points`` (at most the balance) from the oldest lots first."""
        left = points
        while left:
            take = min(left, self.lots[0][1])
            self.lots[0][1] -= take
            left -= take
            if self.lots[0][1] == 0:
                self.lots.popleft()
        self._enter(day, "redeem", "redemption", -points)


def _date(value: dt.date | dt.datetime | str) -> dt.date:
    return _as_date(value, "date")


def build_ledger(
    orders: pl.DataFrame,
    rules: PointsRules | str | Path = "points_pollen",
    *,
    events: pl.DataFrame | None = None,
    redemptions: pl.DataFrame | None = None,
    registrations: pl.DataFrame | None = None,
    as_of: dt.date | str | None = None,
) -> PointsLedger:
    """Build the points ledger of a programme.

    The ledger is computed on whole columns: earnings, expiry dates and the
    rejections that do not depend on the balance at once; redemptions and
    expiries take the oldest points first, which cumulative sums per member
    express exactly (points expiring from a lot are what is left of the points
    earned up to it once everything redeemed or expired before is taken). Only
    a redemption larger than the balance changes what follows: those are found
    member by member, all members at once, until none is left.

    Parameters
    ----------
    orders
        ``customer_id``, ``date``, ``amount`` (e.g. :attr:`clv.TransactionLog.data`).
    rules
        :class:`PointsRules`, a packaged name or a TOML path.
    events
        ``customer_id``, ``date``, ``event`` (an event type of the rules) and
        optionally ``product_id`` (a ``first_review`` counts once per product).
    redemptions
        ``customer_id``, ``date``, ``points``.
    registrations
        ``customer_id``, ``registered``: inputs dated before a customer's
        registration (or for a customer not registered) are rejected.
    as_of
        Last day of the ledger (expiries up to it are entered); defaults to the
        last input date.

    Raises
    ------
    ValueError
        When a column is missing, or an id, date, amount or number of points
        is missing or not usable; the message names the input and column.
    """
    if not isinstance(rules, PointsRules):
        rules = load_points_rules(rules)
    order_rows = _input(orders, "orders", {"amount": pl.Float64})
    amounts = order_rows["amount"].to_numpy()
    if not np.isfinite(amounts).all():
        raise ValueError("orders have amounts that are NaN or infinite; fix or remove those rows")
    scaled = amounts * rules.points_per_currency_unit + 1e-9
    if rules.rounding == "round":
        scaled = scaled + 0.5
    whole = np.ceil(scaled) if rules.rounding == "ceil" else np.floor(scaled)
    if (whole < 0).any():  # negative amounts: lots of negative points, kept by the reference
        return _build_ledger_reference(
            orders,
            rules,
            events=events,
            redemptions=redemptions,
            registrations=registrations,
            as_of=as_of,
        )
    text = pl.String
    parts = [
        order_rows.select(
            "customer_id",
            "date",
            pl.lit(0, pl.Int8).alias("rank"),
            pl.lit("earn").alias("kind"),
            pl.lit("order").alias("source"),
            pl.Series("points", whole.astype(np.int64)),
            pl.lit(None, text).alias("note"),
        )
    ]
    rejected: list[pl.DataFrame] = []
    last_days: list[dt.date | None] = [order_rows["date"].max()]
    if events is not None:
        has_product = "product_id" in events.columns
        extra = {"event": None, **({"product_id": None} if has_product else {})}
        event_rows = _input(events, "events", extra)
        known = event_rows["event"].cast(text).is_in(list(rules.events)).fill_null(False)
        rejected.append(
            event_rows.filter(~known).select(
                "customer_id",
                "date",
                pl.col("event").cast(text).alias("input"),
                pl.lit(f"unknown event type; known: {sorted(rules.events)}").alias("reason"),
            )
        )
        event_rows = event_rows.filter(known).with_columns(pl.col("event").cast(text))
        last_days.append(event_rows["date"].max())
        converted = None
        if has_product:
            # a first review counts for the first reviewer of the product, by date
            event_rows = event_rows.with_row_index("_row")
            reviews = event_rows.filter(
                (pl.col("event") == "first_review") & pl.col("product_id").is_not_null()
            ).sort("date", "customer_id", maintain_order=True)
            later = reviews.filter(~pl.col("product_id").is_first_distinct())
            event_rows = event_rows.join(
                later.select("_row"), on="_row", how="anti", maintain_order="left"
            )
            product = pl.col("product_id").cast(text)
            fallback = rules.not_first_review_counts_as
            if fallback:
                converted = later.select(
                    "customer_id",
                    "date",
                    pl.lit(fallback).alias("event"),
                    pl.format(
                        "first_review of product {} was not the first: counted as {}",
                        product,
                        pl.lit(fallback),
                    ).alias("note"),
                )
            else:
                rejected.append(
                    later.select(
                        "customer_id",
                        "date",
                        pl.lit("earn first_review").alias("input"),
                        pl.format("product {} already had its first review", product).alias(
                            "reason"
                        ),
                    )
                )
        event_rows = event_rows.select(
            "customer_id", "date", "event", pl.lit(None, text).alias("note")
        )
        if converted is not None:
            event_rows = pl.concat([event_rows, converted])
        event_rows = event_rows.rename({"event": "source"})
        parts.append(
            event_rows.select(
                "customer_id",
                "date",
                pl.lit(1, pl.Int8).alias("rank"),
                pl.lit("earn").alias("kind"),
                "source",
                pl.col("source")
                .replace_strict(rules.events, return_dtype=pl.Int64)
                .alias("points"),
                "note",
            )
        )
    if redemptions is not None:
        taken = _input(redemptions, "redemptions", {"points": None})
        if not taken["points"].dtype.is_numeric():
            raise ValueError(
                f"redemptions.points must be numbers of points, got {taken['points'].dtype}"
            )
        if not np.isfinite(taken["points"].cast(pl.Float64).to_numpy()).all():
            raise ValueError("redemptions have points that are NaN or infinite; fix those rows")
        parts.append(
            taken.select(
                "customer_id",
                "date",
                pl.lit(2, pl.Int8).alias("rank"),
                pl.lit("redeem").alias("kind"),
                pl.lit("redemption").alias("source"),
                pl.col("points").cast(pl.Int64),  # whole points, as int() does
                pl.lit(None, text).alias("note"),
            )
        )
        last_days.append(taken["date"].max())
    known_days = [d for d in last_days if d is not None]
    end = _date(as_of) if as_of is not None else max(known_days, default=dt.date.today())
    # every input in the order it is applied: by customer, day, then orders,
    # events and redemptions, each in the order given
    items = (
        pl.concat(parts, how="vertical_relaxed")
        .with_row_index("_seq")
        .filter(pl.col("date") <= end)
        .sort("customer_id", "date", "rank", "_seq", maintain_order=True)
        .drop("_seq")
    )
    reason = pl.lit(None, text)
    if registrations is not None:
        listed = _input(registrations, "registrations", {}, date="registered")
        listed = listed.unique("customer_id", keep="last", maintain_order=True)
        items = items.join(listed, on="customer_id", how="left", maintain_order="left")
        early = pl.col("registered").is_null() | (pl.col("date") < pl.col("registered"))
        items = items.with_columns(early.alias("_early")).drop("registered")
    else:
        items = items.with_columns(pl.lit(False).alias("_early"))
    once = sorted(rules.once_per_customer)
    eligible = (pl.col("kind") == "earn") & ~pl.col("_early") & pl.col("source").is_in(once)
    repeated = (
        eligible & ~pl.struct("customer_id", "source", eligible.alias("_e")).is_first_distinct()
    )
    reason = (
        pl.when(pl.col("_early"))
        .then(pl.lit("dated before the customer's registration"))
        .when(repeated)
        .then(pl.format("{} is rewarded once per customer", pl.col("source")))
        .when((pl.col("kind") == "redeem") & (pl.col("points") <= 0))
        .then(pl.lit("redemption of no points"))
        .otherwise(None)
    )
    items = items.with_columns(reason.alias("reason")).drop("_early")
    balance_before, accepted_redemption, expiry_rows = _flows(items, rules, end)
    items = items.with_columns(balance_before.alias("_before"), accepted_redemption.alias("_ok"))
    items = items.with_columns(
        pl.when((pl.col("kind") == "redeem") & pl.col("reason").is_null() & ~pl.col("_ok"))
        .then(pl.format("redeems {} points with a balance of {}", pl.col("points"), "_before"))
        .otherwise(pl.col("reason"))
        .alias("reason")
    ).drop("_before", "_ok")
    rejected.append(
        items.filter(pl.col("reason").is_not_null()).select(
            "customer_id",
            "date",
            pl.format("{} {} {}", "kind", "source", "points").alias("input"),
            "reason",
        )
    )
    applied = items.with_row_index("_position").filter(
        pl.col("reason").is_null() & (pl.col("points") != 0)
    )
    entries = pl.concat(
        [
            applied.select(
                "_position",
                pl.lit(1, pl.Int8).alias("_phase"),
                "customer_id",
                "date",
                "kind",
                "source",
                pl.when(pl.col("kind") == "redeem")
                .then(-pl.col("points"))
                .otherwise(pl.col("points"))
                .alias("points"),
                "note",
            ),
            expiry_rows,
        ],
        how="vertical_relaxed",
    ).sort("customer_id", "date", "_phase", "_position", maintain_order=True)
    entries = entries.select(
        "customer_id",
        "date",
        "kind",
        "source",
        "points",
        pl.col("points").cum_sum().over("customer_id").alias("balance"),
        "note",
    )
    rejected_schema = {
        "customer_id": pl.String,
        "date": pl.Date,
        "input": pl.String,
        "reason": pl.String,
    }
    return PointsLedger(
        rules=rules,
        entries=entries.cast({"points": pl.Int64, "balance": pl.Int64}),
        rejected=pl.concat(
            [r.cast(rejected_schema) for r in rejected] or [pl.DataFrame(schema=rejected_schema)]
        ),
        as_of=end,
    )


def _input(frame: pl.DataFrame, name: str, columns: dict, date: str = "date") -> pl.DataFrame:
    """``customer_id`` (text), ``date`` (a Date) and ``columns`` (cast where a
    type is given) of an input, after checking that nothing is missing."""
    need = ["customer_id", date, *columns]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lack the columns {missing}; give {', '.join(need)}")
    day = frame[date]
    if day.dtype == pl.String:
        try:
            day = day.str.to_date("%Y-%m-%d")
        except pl.exceptions.InvalidOperationError:
            raise ValueError(f"{name}.{date} has values that are not dates 'YYYY-MM-DD'") from None
    elif day.dtype != pl.Date:
        if not isinstance(day.dtype, pl.Datetime):
            raise ValueError(f"{name}.{date} must hold dates, got {day.dtype}")
        day = day.dt.date()
    selected = frame.select(
        pl.col("customer_id").cast(pl.String),
        day.alias(date),
        *[
            pl.col(c).cast(t) if t is not None else pl.col(c)
            for c, t in columns.items()
            if c != "product_id"
        ],
        *([pl.col("product_id")] if "product_id" in columns else []),
    )
    checked = ["customer_id", date, *[c for c in columns if c not in ("event", "product_id")]]
    nulls = {c: n for c in checked if (n := selected[c].null_count())}
    if nulls:
        raise ValueError(
            f"{name} have missing values ({', '.join(f'{c}: {n}' for c, n in nulls.items())}); "
            "fill or remove those rows"
        )
    return selected


def _expiry_days(days: np.ndarray, rules: PointsRules) -> np.ndarray | None:
    """The first day (days since 1970-01-01) on which points earned on each of
    ``days`` are no longer valid, as :meth:`PointsRules.expires_on`; None:
    they never expire."""
    if rules.expiry_years:
        as_days = days.astype("datetime64[D]")
        month = as_days.astype("datetime64[M]")
        day_of_month = (as_days - month.astype("datetime64[D]")).astype(np.int64)
        target = month + np.timedelta64(12 * rules.expiry_years, "M")
        first = target.astype("datetime64[D]").astype(np.int64)
        length = (target + np.timedelta64(1, "M")).astype("datetime64[D]").astype(np.int64) - first
        overflow = day_of_month >= length  # 29 February into a year without it
        shift = 1 if rules.leap_day == "mar_1" else 0
        end = np.where(overflow, first + length - 1 + shift, first + day_of_month)
        return end + 1 if rules.valid_on_anniversary else end
    if rules.expiry_days:
        return days + rules.expiry_days
    return None


def _segment_starts(group: np.ndarray) -> np.ndarray:
    """For each row of runs of equal ``group`` values, the index of its run's first row."""
    opens = np.r_[True, group[1:] != group[:-1]] if group.size else np.zeros(0, bool)
    return np.maximum.accumulate(np.where(opens, np.arange(group.size), 0))


def _running_sum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sums of ``values`` from each run's first row to the row (inclusive)."""
    total = np.cumsum(values)
    return total - total[starts] + values[starts]


def _running_max(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Running maximum of ``values`` (>= 0) within runs of equal ``group``."""
    if not values.size:
        return values
    rank = np.cumsum(np.r_[True, group[1:] != group[:-1]]) - 1
    width = int(values.max()) + 1
    if width * (int(rank[-1]) + 1) < 2**62:
        shifted = rank * width + values
        return np.maximum.accumulate(shifted) - rank * width
    frame = pl.DataFrame({"g": rank, "v": values})
    return frame.select(pl.col("v").cum_max().over("g"))["v"].to_numpy()


def _flows(
    items: pl.DataFrame, rules: PointsRules, end: dt.date
) -> tuple[pl.Series, pl.Series, pl.DataFrame]:
    """Balances before each redemption, which redemptions are applied, and the
    expiry entries.

    Per customer, in the order inputs are applied with each lot's expiry just
    before the inputs of its day: ``earned`` is the running sum of the points
    earned and ``redeemed`` that of the redemptions applied. Redemptions and
    expiries take the oldest points first, so when a lot expires everything
    earned up to it is gone: what has gone beyond the redemptions is the
    running maximum, over the expiries so far, of the points earned up to the
    expiring lot less the redemptions before it (at least 0), and each expiry
    takes its increase. A redemption above the balance is not applied, which
    changes what follows: the first of each customer is taken out and those
    customers are run again, until no redemption is above its balance.
    """
    n = items.height
    code = (
        items.select((pl.col("customer_id") != pl.col("customer_id").shift()).fill_null(True))
        .to_series()
        .cum_sum()
        .to_numpy()
        .astype(np.int64)
    )
    day = items["date"].to_physical().to_numpy().astype(np.int64)
    fine = items["reason"].is_null().to_numpy()
    points = items["points"].to_numpy().astype(np.int64)
    earn = fine & (items["kind"] == "earn").to_numpy() & (points != 0)
    redeem = fine & (items["kind"] == "redeem").to_numpy()
    starts = _segment_starts(code)
    earned_to_lot = _running_sum(np.where(earn, points, 0), starts)
    lots = np.flatnonzero(earn)
    expires = _expiry_days(day[lots], rules)
    last = (end - dt.date(1970, 1, 1)).days
    if expires is None:
        lots, expires = lots[:0], day[:0]
    else:
        due = expires <= last
        lots, expires = lots[due], expires[due]
    # the flow: inputs (phase 1) and expiries (phase 0, before the day's inputs)
    flow_code = np.r_[code, code[lots]]
    flow_day = np.r_[day, expires]
    flow_phase = np.r_[np.ones(n, np.int8), np.zeros(lots.size, np.int8)]
    flow_position = np.r_[np.arange(n), lots]
    order = np.lexsort((flow_position, flow_phase, flow_day, flow_code))
    flow_code = flow_code[order]
    is_item = flow_phase[order] == 1
    item_of = np.where(is_item, flow_position[order], -1)
    gain = np.where(is_item, np.where(earn, points, 0)[np.maximum(item_of, 0)], 0)
    spend = np.where(is_item, np.where(redeem, points, 0)[np.maximum(item_of, 0)], 0)
    target = np.where(~is_item, earned_to_lot[flow_position[order]], 0)
    flow_earned = _running_sum(gain, _segment_starts(flow_code))
    applied = spend > 0

    def run(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Redeemed so far, gone beyond the redemptions, balance before, on ``rows``."""
        group = flow_code[rows]
        taken = np.where(applied[rows], spend[rows], 0)
        redeemed = _running_sum(taken, _segment_starts(group))
        beyond = np.where(is_item[rows], 0, np.maximum(target[rows] - redeemed, 0))
        gone = _running_max(beyond, group)
        return redeemed, gone, flow_earned[rows] - (redeemed - taken) - gone

    rows = np.arange(flow_code.size)
    while rows.size:
        _, _, before = run(rows)
        over = applied[rows] & (spend[rows] > before)
        if not over.any():
            break
        first = np.unique(flow_code[rows][over], return_index=True)[1]
        applied[rows[np.flatnonzero(over)[first]]] = False
        rows = rows[np.isin(flow_code[rows], flow_code[rows][over])]
    everything = np.arange(flow_code.size)
    _, gone, before = run(everything)
    balance_before = np.zeros(n, dtype=np.int64)
    balance_before[item_of[is_item]] = before[is_item]
    accepted = np.zeros(n, dtype=bool)
    accepted[item_of[is_item]] = applied[is_item]
    previous = np.r_[0, gone[:-1]][: gone.size]
    previous[_segment_starts(flow_code) == everything] = 0
    lost = gone - previous
    expired = np.flatnonzero(~is_item & (lost > 0))
    position = flow_position[order][expired]
    expiry_rows = pl.DataFrame(
        {
            "_position": pl.Series(position, dtype=pl.UInt32),
            "_phase": pl.Series(np.zeros(expired.size, np.int8)),
            "customer_id": items["customer_id"].gather(position),
            "date": pl.Series(flow_day[order][expired]).cast(pl.Int32).cast(pl.Date),
            "kind": pl.Series(["expire"] * expired.size, dtype=pl.String),
            "source": pl.Series(["expiry"] * expired.size, dtype=pl.String),
            "points": pl.Series(-lost[expired], dtype=pl.Int64),
            "note": pl.Series([None] * expired.size, dtype=pl.String),
        }
    )
    return pl.Series(balance_before), pl.Series(accepted), expiry_rows


def _build_ledger_reference(
    orders: pl.DataFrame,
    rules: PointsRules | str | Path = "points_pollen",
    *,
    events: pl.DataFrame | None = None,
    redemptions: pl.DataFrame | None = None,
    registrations: pl.DataFrame | None = None,
    as_of: dt.date | str | None = None,
) -> PointsLedger:
    """:func:`build_ledger` one customer and one input at a time (lots in a
    queue); kept to check the vectorised ledger on random inputs, and used for
    orders whose points come out negative (negative amounts), which the
    cumulative sums do not model."""
    if not isinstance(rules, PointsRules):
        rules = load_points_rules(rules)
    items: list[tuple] = []  # (customer, date, order within day, kind, source, points, extra)
    rejected: list[dict] = []
    for row in orders.select("customer_id", "date", "amount").iter_rows():
        items.append((row[0], _date(row[1]), 0, "earn", "order", rules.order_points(row[2]), None))
    if events is not None:
        has_product = "product_id" in events.columns
        cols = ["customer_id", "date", "event"] + (["product_id"] if has_product else [])
        for row in events.select(cols).iter_rows():
            product = row[3] if has_product else None
            if row[2] not in rules.events:
                rejected.append(
                    {
                        "customer_id": row[0],
                        "date": _date(row[1]),
                        "input": row[2],
                        "reason": f"unknown event type; known: {sorted(rules.events)}",
                    }
                )
                continue
            items.append((row[0], _date(row[1]), 1, "earn", row[2], rules.events[row[2]], product))
    if redemptions is not None:
        for row in redemptions.select("customer_id", "date", "points").iter_rows():
            items.append((row[0], _date(row[1]), 2, "redeem", "redemption", int(row[2]), None))
    registered = (
        dict(registrations.select("customer_id", "registered").iter_rows())
        if registrations is not None
        else None
    )
    last = max((i[1] for i in items), default=dt.date.today())
    end = _date(as_of) if as_of is not None else last
    # a first review counts for the first reviewer of the product, by date
    first_reviews = sorted(
        (i for i in items if i[4] == "first_review" and i[6] is not None),
        key=lambda i: (i[1], str(i[0])),
    )
    taken: set = set()
    fallback = rules.not_first_review_counts_as
    for item in first_reviews:
        if item[6] in taken:
            items.remove(item)
            if fallback:
                note = f"first_review of product {item[6]} was not the first: counted as {fallback}"
                items.append(
                    (item[0], item[1], 1, "earn", fallback, rules.events[fallback], ("note", note))
                )
            else:
                rejected.append(
                    {
                        "customer_id": item[0],
                        "date": item[1],
                        "input": "earn first_review",
                        "reason": f"product {item[6]} already had its first review",
                    }
                )
        taken.add(item[6])
    items.sort(key=lambda i: (str(i[0]), i[1], i[2]))

    entries: list[dict] = []
    seen_once: set[tuple[str, str]] = set()
    position = 0
    while position < len(items):
        customer = items[position][0]
        account = _Account(customer, rules, entries)
        while position < len(items) and items[position][0] == customer:
            _, day, _, kind, source, points, extra = items[position]
            position += 1
            if day > end:
                continue
            reason = None
            if registered is not None and (
                customer not in registered or day < _date(registered[customer])
            ):
                reason = "dated before the customer's registration"
            elif kind == "earn" and (customer, source) in seen_once:
                reason = f"{source} is rewarded once per customer"
            account.expire_until(day)
            if reason is None and kind == "redeem":
                if points <= 0:
                    reason = "redemption of no points"
                elif points > account.balance:
                    reason = f"redeems {points} points with a balance of {account.balance}"
            if reason is not None:
                rejected.append(
                    {
                        "customer_id": customer,
                        "date": day,
                        "input": f"{kind} {source} {points}",
                        "reason": reason,
                    }
                )
            elif kind == "earn":
                if source in rules.once_per_customer:
                    seen_once.add((customer, source))
                account.earn(day, source, points, extra[1] if isinstance(extra, tuple) else None)
            else:
                account.redeem(day, points)
        account.expire_until(end)

    schema = {
        "customer_id": pl.String,
        "date": pl.Date,
        "kind": pl.String,
        "source": pl.String,
        "points": pl.Int64,
        "balance": pl.Int64,
        "note": pl.String,
    }
    rejected_schema = {
        "customer_id": pl.String,
        "date": pl.Date,
        "input": pl.String,
        "reason": pl.String,
    }
    return PointsLedger(
        rules=rules,
        entries=pl.DataFrame(entries, schema=schema),
        rejected=pl.DataFrame(rejected, schema=rejected_schema),
        as_of=end,
    )
