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
    """
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
