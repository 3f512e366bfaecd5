"""Per-customer summaries of a transaction log, in polars.

The "buy till you die" models see a customer only through a few numbers:

``frequency``
    number of *repeat* purchase periods: purchases are merged per period
    (``freq``), and the first period does not count;
``recency``
    age of the customer at the last purchase: time from the first to the last
    purchase period;
``T``
    age of the customer at the end of the observation window: time from the
    first purchase period to the period holding ``observation_end``;
``monetary_value``
    mean amount of the repeat purchase periods (0 for one-time buyers);
``revenue``
    total amount of all purchases in the window, first included (past spend,
    the basis of hand-set tier rules).

These match lifetimes' ``summary_data_from_transaction_data`` (its
``freq`` and ``freq_multiplier``) with one deliberate difference:
transactions dated after ``observation_end`` are always left out, while
lifetimes keeps those that fall in the same period as ``observation_end``.

Times are measured in ``time_unit`` (``"D"`` days, ``"W"`` weeks of 7 days,
``"M"`` calendar months). ``freq="D", time_unit="W"`` gives the convention of
the published CDNOW analyses: purchases merged per calendar day, recency and T
in weeks as days / 7. Monthly periods are counted in calendar months and need
``time_unit="M"``.

Every summary carries a ``time_unit`` column so the models and scores know the
unit of ``recency`` and ``T`` without being told again.

A count-only log (loaded with ``amount=None``: no ``amount`` column) gives the
same summaries without the spend columns: ``monetary_value`` and ``revenue``
(``*_cal`` and ``*_holdout`` in :func:`calibration_holdout`) are absent, not
null, so that nothing downstream mistakes a missing amount for a zero one;
every other column is identical to the summary of the same log with amounts.

A log with a ``status`` column (see :func:`clv.load_transactions`) is
summarised on its completed orders only: cancelled and returned orders are
not purchases. They are counted in the log's ``quality``
(``cancelled_orders``, ``returned_orders``) and by :func:`window_counts`
(``orders_not_completed``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from clv.data import MAX_AMOUNT, ORDER_STATUSES, TransactionLog, _as_date

__all__ = [
    "DAYS_PER_UNIT",
    "WindowCounts",
    "calibration_holdout",
    "compress",
    "summarize",
    "window_counts",
]

Freq = Literal["D", "W", "M"]
DAYS_PER_UNIT: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 365.25 / 12.0}
_TRUNCATE = {"D": "1d", "W": "1w", "M": "1mo"}  # polars weeks start on Monday, as pandas' W-SUN

TimeUnitEnum = pl.Enum(["D", "W", "M"])


def _all_orders(transactions: TransactionLog | pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Every order of the log, whatever its status, as a LazyFrame with at
    least ``customer_id`` and ``date`` (``amount`` absent from a count-only
    log); statuses, where there is a column of them, are checked."""
    if isinstance(transactions, TransactionLog):
        return transactions.lazy()
    if isinstance(transactions, pl.DataFrame):
        transactions = transactions.lazy()
    if not isinstance(transactions, pl.LazyFrame):
        raise TypeError(
            f"transactions is a {type(transactions).__name__}; give a clv.TransactionLog "
            "(from clv.load_transactions) or a polars frame with customer_id, date, amount"
        )
    names = transactions.collect_schema().names()
    missing = [c for c in ("customer_id", "date") if c not in names]
    if missing:
        raise ValueError(
            f"transactions lack the columns {missing}; load the log with "
            "clv.load_transactions(..., customer_id=, date=, amount=) to map its column names"
        )
    if "status" in names:
        values = transactions.select(pl.col("status").cast(pl.String).unique()).collect()
        unknown = sorted(set(values["status"].drop_nulls()) - set(ORDER_STATUSES))
        if unknown or values["status"].null_count():
            shown = unknown + (["(empty)"] if values["status"].null_count() else [])
            raise ValueError(
                f"order status values {shown} are not known; the summaries count completed "
                f"orders only, so every status must be one of {', '.join(ORDER_STATUSES)}: "
                "load the log with clv.load_transactions(..., status=<column>), which reads "
                "the other spellings"
            )
    return transactions


def _frame(transactions: TransactionLog | pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """The purchases of a log: its completed orders where it has a ``status``
    column (the others are counted by :func:`window_counts`), else every row."""
    lf = _all_orders(transactions)
    if "status" in lf.collect_schema().names():
        lf = lf.filter(pl.col("status").cast(pl.String) == "completed")
    return lf


def _has_amounts(lf: pl.LazyFrame) -> bool:
    return "amount" in lf.collect_schema().names()


def _is_spark(obj: object) -> bool:
    """Whether ``obj`` is a PySpark DataFrame (classic or Spark Connect), told
    by the module of its type so that pyspark is imported only when used."""
    return type(obj).__module__.startswith("pyspark.")


def _check_units(freq: str, time_unit: str | None) -> str:
    if freq not in _TRUNCATE:
        raise ValueError(f"freq={freq!r}; use 'D' (days), 'W' (weeks) or 'M' (months)")
    time_unit = time_unit or freq
    if time_unit not in DAYS_PER_UNIT:
        raise ValueError(f"time_unit={time_unit!r}; use 'D', 'W' or 'M'")
    if (freq == "M") != (time_unit == "M"):
        raise ValueError(
            f"freq={freq!r} with time_unit={time_unit!r}: calendar months have no fixed "
            "length in days; use freq='M' with time_unit='M', or 'D'/'W' for both"
        )
    return time_unit


def _period(expr: pl.Expr, freq: str) -> pl.Expr:
    """Start (a Date) of the period holding each timestamp."""
    day = expr.dt.date()
    return day if freq == "D" else day.dt.truncate(_TRUNCATE[freq])


def _elapsed(later: pl.Expr, earlier: pl.Expr, freq: str) -> pl.Expr:
    """Whole days (or calendar months for ``freq="M"``) between two period
    starts, as floats; :func:`_in_unit` converts them to the time unit."""
    if freq == "M":
        months = (later.dt.year() - earlier.dt.year()) * 12 + (
            later.dt.month() - earlier.dt.month()
        )
        return months.cast(pl.Float64)
    return (later - earlier).dt.total_days().cast(pl.Float64)


def _in_unit(frame: pl.DataFrame, columns: list[str], freq: str, time_unit: str) -> pl.DataFrame:
    """Convert elapsed days to ``time_unit`` with numpy's correctly rounded
    division: polars may multiply by the reciprocal instead, which makes equal
    elapsed times differ in the last bit depending on how a frame is chunked."""
    if freq == "M" or time_unit == "D":
        return frame
    divisor = DAYS_PER_UNIT[time_unit]
    return frame.with_columns(
        pl.Series(c, np.true_divide(frame[c].to_numpy(), divisor)) for c in columns
    )


def _end_period(observation_end: str | dt.date, freq: str) -> dt.date:
    end = _as_date(observation_end, "observation_end")
    return pl.select(_period(pl.lit(dt.datetime(end.year, end.month, end.day)), freq)).item()


# Amounts are summed as whole micro-units (1e-6 of a currency unit): integer
# sums are exact, so they do not depend on how polars splits the work between
# threads (its float group sums differ in the last bits from run to run), and
# they are faster than sums in a fixed order. The sums are in Int128: an Int64
# total of micro-units would wrap round (silently negative) beyond about 9.2e12
# currency units, which one customer reaches with ten amounts just below the
# loader's bound (clv.data.MAX_AMOUNT). An amount whose micro-units do not fit
# in Int128 at all (1e300, NaN) is a clear ValueError (see _collect).
_MICROS = 1_000_000
_MAX_SUMMABLE = 1.7e32  # currency units: 2**127 micro-units


def _micros(expr: pl.Expr) -> pl.Expr:
    return (expr * _MICROS).round().cast(pl.Int128)


def _collect(query: pl.LazyFrame, transactions: pl.LazyFrame) -> pl.DataFrame:
    """Collect a summary, turning a failed conversion to micro-units into an
    error that names the customer and the amount."""
    try:
        return query.collect(engine="streaming")
    except pl.exceptions.InvalidOperationError as exc:
        amount = pl.col("amount")
        bad = (
            transactions.filter(~amount.is_finite() | (amount.abs() >= _MAX_SUMMABLE))
            .select("customer_id", "amount")
            .head(1)
            .collect()
        )
        if bad.height == 0:
            raise
        customer, value = bad.row(0)
        raise ValueError(
            f"customer {customer!r} has an amount of {value!r}, which cannot be summed "
            f"exactly: amounts must be finite and below {_MAX_SUMMABLE:.1e} currency units; "
            "load the log with clv.load_transactions, which refuses amounts of "
            f"{MAX_AMOUNT:,} or more, NaN and infinity"
        ) from exc


def _per_period(lf: pl.LazyFrame, freq: str) -> pl.LazyFrame:
    """One row per customer and purchase period, amounts summed (in micros;
    no ``micros`` column for a count-only log)."""
    per = lf.group_by("customer_id", _period(pl.col("date"), freq).alias("period"))
    if _has_amounts(lf):
        return per.agg(_micros(pl.col("amount")).sum().alias("micros"))
    return per.agg(pl.len().alias("_orders")).drop("_orders")


def _summarise_periods(periods: pl.LazyFrame, end_period: dt.date, freq: str) -> pl.LazyFrame:
    """Per customer summary with recency and T in days (or months); the spend
    columns only where the periods carry amounts."""
    money = "micros" in periods.collect_schema().names()
    sums = (
        [
            pl.col("micros").sum().alias("_total"),
            pl.col("micros").sort_by("period").first().alias("_first_micros"),
        ]
        if money
        else []
    )
    spend = (
        [
            (pl.col("_total") - pl.col("_first_micros")).alias("monetary_value"),
            pl.col("_total").alias("revenue"),
        ]
        if money
        else []
    )
    return (
        periods.group_by("customer_id")
        .agg(
            pl.col("period").min().alias("_first"),
            pl.col("period").max().alias("_last"),
            (pl.len() - 1).cast(pl.Int64).alias("frequency"),
            *sums,
        )
        .select(
            "customer_id",
            "frequency",
            _elapsed(pl.col("_last"), pl.col("_first"), freq).alias("recency"),
            _elapsed(pl.lit(end_period), pl.col("_first"), freq).alias("T"),
            *spend,
        )
    )


def _to_money(frame: pl.DataFrame, columns: dict[str, str | None]) -> pl.DataFrame:
    """Turn summed micros into currency with numpy's correctly rounded division
    (see :func:`_in_unit`): ``{column: count column to average over, or None}``."""
    converted = []
    columns = {k: v for k, v in columns.items() if k in frame.columns}
    for column, count in columns.items():
        values = frame[column].cast(pl.Float64).to_numpy() / _MICROS
        if count is not None:
            n = frame[count].to_numpy().astype(np.float64)
            values = np.divide(values, n, out=np.zeros_like(values), where=n > 0)
        converted.append(pl.Series(column, values))
    return frame.with_columns(converted)


def summarize(
    transactions: TransactionLog | pl.DataFrame | pl.LazyFrame,
    *,
    freq: Freq = "D",
    time_unit: Freq | None = None,
    observation_end: str | dt.date | None = None,
) -> pl.DataFrame:
    """Summarise a transaction log per customer: frequency, recency, T, monetary value.

    Parameters
    ----------
    transactions
        A :class:`~clv.data.TransactionLog` or a polars frame with
        ``customer_id``, ``date`` and ``amount`` (no ``amount`` for a
        count-only log); with a ``status`` column, only its completed orders
        are summarised.
    freq
        Period in which purchases are merged: ``"D"``, ``"W"`` or ``"M"``.
    time_unit
        Unit of ``recency`` and ``T``; defaults to ``freq``.
    observation_end
        Last day observed (inclusive). Later transactions are left out (count
        them with :func:`window_counts`). Defaults to the last transaction date.

    Returns
    -------
    polars.DataFrame
        One row per customer, sorted by ``customer_id``: ``customer_id``,
        ``frequency`` (Int64), ``recency``, ``T``, ``monetary_value``,
        ``revenue`` (Float64) and ``time_unit``; a count-only log has no
        ``monetary_value`` and ``revenue``.

    Examples
    --------
    >>> import clv
    >>> tx = clv.load_transactions("data/cdnow/CDNOW_sample.csv")
    >>> s = clv.summarize(tx, freq="D", time_unit="W", observation_end="1997-09-30")
    """
    if _is_spark(transactions):  # a Spark DataFrame: summarised on Spark
        from clv import spark

        return spark.summarize(
            transactions, freq=freq, time_unit=time_unit, observation_end=observation_end
        )
    time_unit = _check_units(freq, time_unit)
    lf = _frame(transactions)
    if observation_end is None:
        last = lf.select(pl.col("date").max()).collect().item()
        if last is None:
            raise ValueError("the transaction log is empty; there is nothing to summarise")
        observation_end = last.date() if isinstance(last, dt.datetime) else last
    end = _as_date(observation_end, "observation_end")
    in_window = lf.filter(pl.col("date").dt.date() <= end)
    summary = _summarise_periods(_per_period(in_window, freq), _end_period(end, freq), freq)
    summary = _collect(
        summary.with_columns(pl.lit(time_unit, dtype=TimeUnitEnum).alias("time_unit")).sort(
            "customer_id"
        ),
        in_window,
    )
    summary = _to_money(summary, {"monetary_value": "frequency", "revenue": None})
    return _in_unit(summary, ["recency", "T"], freq, time_unit)


def calibration_holdout(
    transactions: TransactionLog | pl.DataFrame | pl.LazyFrame,
    *,
    calibration_end: str | dt.date,
    observation_end: str | dt.date,
    freq: Freq = "D",
    time_unit: Freq | None = None,
) -> pl.DataFrame:
    """Split a log at ``calibration_end``: a summary of the calibration window
    and what each customer did in the holdout window after it.

    Only customers whose first purchase is in the calibration window appear
    (customers first seen in the holdout are counted by :func:`window_counts`).

    Returns
    -------
    polars.DataFrame
        ``customer_id``, ``frequency_cal``, ``recency_cal``, ``T_cal``,
        ``monetary_value_cal``, ``revenue_cal`` (as :func:`summarize` up to
        ``calibration_end``),
        ``frequency_holdout`` (number of purchase periods in the holdout),
        ``monetary_value_holdout`` (mean amount per holdout purchase period, 0
        when none), ``revenue_holdout`` (total amount in the holdout),
        ``duration_holdout`` (holdout length in ``time_unit``) and
        ``time_unit``. A count-only log has none of the ``monetary_value_*``
        and ``revenue_*`` columns; a log with statuses is split on its
        completed orders.
    """
    if _is_spark(transactions):  # a Spark DataFrame: split on Spark
        from clv import spark

        return spark.calibration_holdout(
            transactions,
            calibration_end=calibration_end,
            observation_end=observation_end,
            freq=freq,
            time_unit=time_unit,
        )
    time_unit = _check_units(freq, time_unit)
    cal_end = _as_date(calibration_end, "calibration_end")
    obs_end = _as_date(observation_end, "observation_end")
    if obs_end <= cal_end:
        raise ValueError(
            f"observation_end {obs_end} must be after calibration_end {cal_end}; the "
            "holdout window is the time between them"
        )
    lf = _frame(transactions)
    day = pl.col("date").dt.date()
    cal_end_period = _end_period(cal_end, freq)
    obs_end_period = _end_period(obs_end, freq)
    cal = _summarise_periods(
        _per_period(lf.filter(day <= cal_end), freq), cal_end_period, freq
    ).rename(lambda c: c if c == "customer_id" else f"{c}_cal")
    money = _has_amounts(lf)
    spend = ["monetary_value_holdout", "revenue_holdout"] if money else []
    holdout = (
        _per_period(lf.filter((day > cal_end) & (day <= obs_end)), freq)
        .group_by("customer_id")
        .agg(
            pl.len().cast(pl.Int64).alias("frequency_holdout"),
            *(pl.col("micros").sum().alias(c) for c in spend),
        )
    )
    duration = pl.select(_elapsed(pl.lit(obs_end_period), pl.lit(cal_end_period), freq)).item()
    query = (
        cal.join(holdout, on="customer_id", how="left")
        .with_columns(
            pl.col("frequency_holdout").fill_null(0),
            *(pl.col(c).fill_null(0) for c in spend),
            pl.lit(duration, dtype=pl.Float64).alias("duration_holdout"),
            pl.lit(time_unit, dtype=TimeUnitEnum).alias("time_unit"),
        )
        .sort("customer_id")
    )
    frame = _to_money(
        _collect(query, lf),
        {
            "monetary_value_cal": "frequency_cal",
            "revenue_cal": None,
            "monetary_value_holdout": "frequency_holdout",
            "revenue_holdout": None,
        },
    )
    return _in_unit(frame, ["recency_cal", "T_cal", "duration_holdout"], freq, time_unit)


@dataclass(frozen=True)
class WindowCounts:
    """Where each transaction of a log falls relative to the windows of a run.

    ``transactions == orders_not_completed + in_calibration + in_holdout +
    after_observation_end``: the windows count purchases (completed orders
    where the log has statuses), ``orders_not_completed`` the cancelled and
    returned orders the summaries leave out. ``customers`` counts every
    customer of the log, ``customers_first_seen_after_calibration`` those
    whose first purchase is after the calibration window.
    """

    transactions: int
    customers: int
    in_calibration: int
    in_holdout: int
    after_observation_end: int
    customers_first_seen_after_calibration: int
    orders_not_completed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def window_counts(
    transactions: TransactionLog | pl.DataFrame | pl.LazyFrame,
    *,
    observation_end: str | dt.date,
    calibration_end: str | dt.date | None = None,
) -> WindowCounts:
    """Count the transactions a summary uses and those it leaves out.

    Without ``calibration_end``, the calibration window is the whole window up
    to ``observation_end`` and the holdout is empty.
    """
    if _is_spark(transactions):  # a Spark DataFrame: counted on Spark
        from clv import spark

        return spark.window_counts(
            transactions, observation_end=observation_end, calibration_end=calibration_end
        )
    obs_end = _as_date(observation_end, "observation_end")
    cal_end = _as_date(calibration_end, "calibration_end") if calibration_end else obs_end
    if cal_end > obs_end:
        raise ValueError(
            f"calibration_end {cal_end} is after observation_end {obs_end}; the calibration "
            "window must end on or before the observation end"
        )
    day = pl.col("date").dt.date()
    lf = _all_orders(transactions)
    if "status" in lf.collect_schema().names():
        sold = pl.col("status").cast(pl.String) == "completed"
    else:
        sold = pl.lit(True)
    first_day = day.filter(sold).min().over("customer_id")
    row = (
        lf.select(
            pl.len().alias("transactions"),
            pl.col("customer_id").n_unique().alias("customers"),
            (sold & (day <= cal_end)).sum().alias("in_calibration"),
            (sold & (day > cal_end) & (day <= obs_end)).sum().alias("in_holdout"),
            (sold & (day > obs_end)).sum().alias("after_observation_end"),
            pl.col("customer_id")
            .filter(first_day > cal_end)
            .n_unique()
            .alias("customers_first_seen_after_calibration"),
            (~sold).sum().alias("orders_not_completed"),
        )
        .collect()
        .row(0, named=True)
    )
    return WindowCounts(**{k: int(v) for k, v in row.items()})


def compress(
    summary: pl.DataFrame, columns: tuple[str, ...] = ("frequency", "recency", "T")
) -> pl.DataFrame:
    """Distinct value combinations of ``columns`` with the number of customers
    sharing each (``n_customers``), sorted. Fitting on these with the counts as
    weights gives the same likelihood as fitting on every customer, and
    :func:`clv.fit_purchase_model` takes them directly. A frame that already
    has ``n_customers`` (compressed before) has its counts added up."""
    if _is_spark(summary):  # a Spark summary: the small frame is collected
        from clv import spark

        return spark.compress(summary, columns)
    # already compressed histories (an n_customers column) add up their counts
    count = (pl.col("n_customers").sum() if "n_customers" in summary.columns else pl.len()).cast(
        pl.Int64
    )
    return (
        summary.lazy()
        .group_by(list(columns))
        .agg(count.alias("n_customers"))
        .sort(list(columns))
        .collect()
    )
