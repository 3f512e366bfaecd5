"""Property-based tests of clv.summarize, clv.calibration_holdout and clv.window_counts
on random small transaction logs, checked against a plain-Python reference and against
lifetimes' summary_data_from_transaction_data."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lifetimes.utils import summary_data_from_transaction_data
from polars.testing import assert_frame_equal

import clv

START = dt.date(2020, 1, 6)  # a Monday
N_DAYS = 200
AS_OF = "2030-01-01"
MAX_CENTS = 100_000
DAYS_PER_UNIT = {"D": 1.0, "W": 7.0}
UNITS = [("D", "D"), ("D", "W"), ("W", "W"), ("M", "M")]
SCHEMA = {"customer_id": pl.String, "date": pl.Datetime("us"), "amount": pl.Float64}

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Row = tuple[str, dt.datetime, float]


@st.composite
def logs(draw, with_time: bool = False) -> list[Row]:
    """1-30 customers with 1-10 transactions each, dated within N_DAYS days from
    START (at midnight unless with_time), amounts of at least 0.01 in whole cents."""
    transaction = st.tuples(
        st.integers(0, N_DAYS - 1),
        st.integers(0, 86_399) if with_time else st.just(0),
        st.integers(1, MAX_CENTS),
    )
    rows = []
    for i in range(draw(st.integers(1, 30))):
        for day, second, cents in draw(st.lists(transaction, min_size=1, max_size=10)):
            when = dt.datetime.combine(START, dt.time()) + dt.timedelta(days=day, seconds=second)
            rows.append((f"c{i:02d}", when, cents / 100))
    return rows


days = st.integers(0, N_DAYS - 1).map(lambda n: START + dt.timedelta(days=n))


def to_frame(rows: list[Row]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


# --------------------------------------------------------------------------- reference


def period_of(day: dt.date, freq: str) -> dt.date:
    if freq == "D":
        return day
    if freq == "W":  # ISO weeks, starting on Monday
        return day - dt.timedelta(days=day.weekday())
    return dt.date(day.year, day.month, 1)  # calendar months


def elapsed(later: dt.date, earlier: dt.date, time_unit: str) -> float:
    if time_unit == "M":
        return float((later.year - earlier.year) * 12 + later.month - earlier.month)
    return (later - earlier).days / DAYS_PER_UNIT[time_unit]


def amounts_per_period(rows, freq, first_day=None, last_day=None):
    """customer -> {period start: summed amount} for transactions dated in
    [first_day, last_day] (open where None)."""
    periods: dict[str, dict[dt.date, float]] = defaultdict(lambda: defaultdict(float))
    for customer, when, amount in rows:
        day = when.date()
        if (first_day is None or day >= first_day) and (last_day is None or day <= last_day):
            periods[customer][period_of(day, freq)] += amount
    return periods


def reference_summary(rows, freq, time_unit, observation_end):
    """customer -> (frequency, recency, T, monetary_value, revenue), computed by hand."""
    end_period = period_of(observation_end, freq)
    result = {}
    for customer, periods in amounts_per_period(rows, freq, last_day=observation_end).items():
        ordered = sorted(periods)
        frequency = len(ordered) - 1
        repeat = [periods[p] for p in ordered[1:]]
        result[customer] = (
            frequency,
            elapsed(ordered[-1], ordered[0], time_unit),
            elapsed(end_period, ordered[0], time_unit),
            sum(repeat) / frequency if frequency else 0.0,
            sum(periods.values()),
        )
    return result


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


# --------------------------------------------------------------------------- summarize


def check_summary(rows, freq, time_unit, observation_end):
    summary = clv.summarize(
        to_frame(rows), freq=freq, time_unit=time_unit, observation_end=observation_end
    )
    assert summary.columns == [
        "customer_id",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "revenue",
        "time_unit",
    ]
    seen = sorted({c for c, when, _ in rows if when.date() <= observation_end})
    assert summary["customer_id"].to_list() == seen  # one row per customer, sorted
    assert summary["time_unit"].cast(pl.String).to_list() == [time_unit] * len(seen)

    reference = reference_summary(rows, freq, time_unit, observation_end)
    for customer, frequency, recency, T, monetary_value, revenue, _ in summary.iter_rows():
        assert frequency >= 0
        assert 0 <= recency <= T
        if frequency == 0:
            assert recency == 0
            assert monetary_value == 0
        else:
            assert monetary_value > 0
        assert revenue >= monetary_value
        ref_frequency, ref_recency, ref_T, ref_monetary_value, ref_revenue = reference[customer]
        assert frequency == ref_frequency  # distinct periods - 1
        assert close(recency, ref_recency)
        assert close(T, ref_T)
        assert close(monetary_value, ref_monetary_value)
        assert close(revenue, ref_revenue)


@SETTINGS
@given(rows=logs(with_time=True), observation_end=days)
def test_summary_invariants_and_reference(rows, observation_end):
    for freq, time_unit in UNITS:
        check_summary(rows, freq, time_unit, observation_end)


@SETTINGS
@given(rows=logs(), observation_end=days)
def test_summary_through_load_transactions(rows, observation_end):
    tx = clv.load_transactions(to_frame(rows), as_of=AS_OF)
    assert tx.quality.rows_read == tx.quality.rows_kept == len(rows)
    for freq, time_unit in UNITS:
        from_log = clv.summarize(
            tx, freq=freq, time_unit=time_unit, observation_end=observation_end
        )
        from_frame = clv.summarize(
            to_frame(rows), freq=freq, time_unit=time_unit, observation_end=observation_end
        )
        assert_frame_equal(from_log, from_frame, check_exact=True)


@SETTINGS
@given(rows=logs(with_time=True), data=st.data())
def test_shuffling_rows_changes_nothing(rows, data):
    order = data.draw(st.permutations(range(len(rows))), label="order")
    shuffled = [rows[i] for i in order]
    observation_end = data.draw(st.none() | days, label="observation_end")
    for freq, time_unit in UNITS:
        kwargs = {"freq": freq, "time_unit": time_unit, "observation_end": observation_end}
        assert_frame_equal(
            clv.summarize(to_frame(shuffled), **kwargs),
            clv.summarize(to_frame(rows), **kwargs),
            check_exact=True,
        )


@SETTINGS
@given(rows=logs())
def test_default_observation_end_is_the_last_transaction_date(rows):
    last = max(when for _, when, _ in rows).date()
    for freq, time_unit in UNITS:
        assert_frame_equal(
            clv.summarize(to_frame(rows), freq=freq, time_unit=time_unit),
            clv.summarize(to_frame(rows), freq=freq, time_unit=time_unit, observation_end=last),
            check_exact=True,
        )


def test_customers_alike_get_bit_identical_times():
    # regression: polars divides a Float64 column by a scalar exactly in chunks of length 1
    # but multiplies by the reciprocal in longer ones, so equal ages in weeks used to
    # differ by one ulp depending on how group_by chunked its output, and compress split
    # customers alike into separate groups
    frame = to_frame(
        [
            ("c00", dt.datetime(2020, 1, 6), 1.0),
            ("c01", dt.datetime(2020, 1, 6), 1.0),
            ("c02", dt.datetime(2020, 1, 15), 1.0),
        ]
    )
    for _ in range(20):
        summary = clv.summarize(frame, freq="D", time_unit="W")
        assert summary["T"][0] == summary["T"][1]  # same first purchase, same end
        compressed = clv.compress(summary)
        assert compressed["n_customers"].to_list() == [1, 2]


# --------------------------------------------------------------------------- window_counts


@SETTINGS
@given(rows=logs(with_time=True), observation_end=days)
def test_window_counts_without_calibration(rows, observation_end):
    frame = to_frame(rows)
    counts = clv.window_counts(frame, observation_end=observation_end)
    in_window = sum(when.date() <= observation_end for _, when, _ in rows)
    assert counts.transactions == len(rows)
    assert counts.customers == len({c for c, _, _ in rows})
    assert counts.in_calibration == in_window
    assert counts.in_holdout == 0
    assert counts.after_observation_end == len(rows) - in_window
    assert counts.in_calibration + counts.after_observation_end == len(rows)
    # every transaction a summary uses is in the window
    summary = clv.summarize(frame, observation_end=observation_end)
    per_day = amounts_per_period(rows, "D", last_day=observation_end)
    assert (summary["frequency"] + 1).sum() == sum(len(p) for p in per_day.values())


@SETTINGS
@given(rows=logs(with_time=True), ends=st.lists(days, min_size=2, max_size=2, unique=True))
def test_window_counts_with_calibration(rows, ends):
    calibration_end, observation_end = sorted(ends)
    counts = clv.window_counts(
        to_frame(rows), observation_end=observation_end, calibration_end=calibration_end
    )
    days_ = [when.date() for _, when, _ in rows]
    assert counts.in_calibration == sum(d <= calibration_end for d in days_)
    assert counts.in_holdout == sum(calibration_end < d <= observation_end for d in days_)
    assert counts.after_observation_end == sum(d > observation_end for d in days_)
    assert counts.in_calibration + counts.in_holdout + counts.after_observation_end == len(rows)
    first = {}
    for customer, when, _ in rows:
        first[customer] = min(first.get(customer, when.date()), when.date())
    assert counts.customers_first_seen_after_calibration == sum(
        d > calibration_end for d in first.values()
    )


def test_window_counts_refuse_a_calibration_end_after_the_observation_end():
    # regression: such windows were accepted and the rows between the two ends were
    # counted both in_calibration and after_observation_end
    frame = to_frame(
        [
            ("c00", dt.datetime(2020, 1, 6), 1.0),
            ("c00", dt.datetime(2020, 2, 3), 2.0),
            ("c01", dt.datetime(2020, 3, 2), 3.0),
        ]
    )
    with pytest.raises(ValueError, match="calibration_end 2020-02-17 is after observation_end"):
        clv.window_counts(frame, observation_end="2020-01-20", calibration_end="2020-02-17")
    # equal ends are allowed: an empty holdout
    counts = clv.window_counts(frame, observation_end="2020-02-17", calibration_end="2020-02-17")
    assert (counts.in_calibration, counts.in_holdout, counts.after_observation_end) == (2, 0, 1)


# --------------------------------------------------------------------------- calibration_holdout


def check_calibration_holdout(rows, freq, time_unit, calibration_end, observation_end):
    frame = to_frame(rows)
    split = clv.calibration_holdout(
        frame,
        calibration_end=calibration_end,
        observation_end=observation_end,
        freq=freq,
        time_unit=time_unit,
    )
    calibration = clv.summarize(
        frame, freq=freq, time_unit=time_unit, observation_end=calibration_end
    )
    # the calibration columns are the summary at calibration_end, for the same customers
    cal_columns = ["frequency", "recency", "T", "monetary_value", "revenue"]
    assert_frame_equal(
        split.select("customer_id", *(f"{c}_cal" for c in cal_columns), "time_unit"),
        calibration.rename({c: f"{c}_cal" for c in cal_columns}),
        check_exact=True,
    )
    # the holdout: distinct purchase periods after calibration_end, up to observation_end
    holdout = amounts_per_period(
        rows, freq, first_day=calibration_end + dt.timedelta(days=1), last_day=observation_end
    )
    duration = elapsed(
        period_of(observation_end, freq), period_of(calibration_end, freq), time_unit
    )
    for row in split.iter_rows(named=True):
        periods = holdout.get(row["customer_id"], {})
        revenue = sum(periods.values())
        assert row["frequency_holdout"] == len(periods)
        assert close(row["revenue_holdout"], revenue)
        assert close(row["monetary_value_holdout"], revenue / len(periods) if periods else 0.0)
        assert close(row["duration_holdout"], duration)


@SETTINGS
@given(rows=logs(with_time=True), ends=st.lists(days, min_size=2, max_size=2, unique=True))
def test_calibration_holdout(rows, ends):
    calibration_end, observation_end = sorted(ends)
    for freq, time_unit in UNITS:
        check_calibration_holdout(rows, freq, time_unit, calibration_end, observation_end)


# --------------------------------------------------------------------------- lifetimes


def lifetimes_summary(rows, freq, observation_end):
    pandas_df = to_frame(rows).to_pandas()
    reference = summary_data_from_transaction_data(
        pandas_df,
        "customer_id",
        "date",
        "amount",
        observation_period_end=observation_end.isoformat(),
        freq=freq,
    )
    return reference.sort_index()


def assert_matches_lifetimes(rows, freq, observation_end):
    ours = clv.summarize(to_frame(rows), freq=freq, observation_end=observation_end)
    reference = lifetimes_summary(rows, freq, observation_end)
    assert ours["customer_id"].to_list() == [str(c) for c in reference.index]
    for column in ("frequency", "recency", "T", "monetary_value"):
        for mine, theirs in zip(ours[column].to_list(), reference[column], strict=True):
            assert close(mine, float(theirs)), (column, mine, theirs)


@SETTINGS
@given(rows=logs(with_time=True))
def test_matches_lifetimes_at_the_last_transaction(rows):
    last = max(when for _, when, _ in rows).date()
    assert_matches_lifetimes(rows, "D", last)
    # weeks: the Sunday ending the last transaction's week, so that nothing is dated
    # after observation_end in its week (the documented difference with lifetimes)
    sunday = last + dt.timedelta(days=6 - last.weekday())
    assert sunday.weekday() == 6
    assert_matches_lifetimes(rows, "W", sunday)


@SETTINGS
@given(rows=logs(with_time=True), observation_end=days)
def test_matches_lifetimes_within_the_log(rows, observation_end):
    sunday = observation_end + dt.timedelta(days=6 - observation_end.weekday())
    for freq, end in (("D", observation_end), ("W", sunday)):
        if any(when.date() <= end for _, when, _ in rows):  # else lifetimes cannot summarise
            assert_matches_lifetimes(rows, freq, end)
