"""Summaries: against lifetimes' reference on CDNOW, and against hand-derived answers."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from lifetimes.utils import summary_data_from_transaction_data
from polars.testing import assert_frame_equal

import clv


def _lifetimes_summary(tx: clv.TransactionLog, end: str, freq: str, multiplier: int = 1):
    ref = summary_data_from_transaction_data(
        tx.data.to_pandas(),
        "customer_id",
        "date",
        monetary_value_col="amount",
        observation_period_end=end,
        freq=freq,
        freq_multiplier=multiplier,
    )
    return pl.from_pandas(ref.reset_index()).sort("customer_id")


@pytest.mark.parametrize(
    ("freq", "time_unit", "multiplier", "end"),
    [
        ("D", "D", 1, "1997-09-30"),
        ("D", "W", 7, "1997-09-30"),  # the literature's convention: days / 7
        ("D", "D", 1, "1998-06-30"),
        ("W", "W", 1, "1997-09-28"),  # a Sunday: lifetimes and clv see the same weeks
        ("W", "W", 1, "1998-06-28"),
    ],
)
def test_summary_matches_lifetimes_on_cdnow(cdnow_sample, freq, time_unit, multiplier, end):
    ours = clv.summarize(cdnow_sample, freq=freq, time_unit=time_unit, observation_end=end)
    ref = _lifetimes_summary(cdnow_sample, end, freq, multiplier)
    assert ours["customer_id"].to_list() == ref["customer_id"].to_list()
    for column in ("frequency", "recency", "T", "monetary_value"):
        diff = (ours[column].cast(pl.Float64) - ref[column]).abs().max()
        assert diff < 1e-9, column


def test_summary_of_cdnow_calibration_period(cdnow_sample):
    # Fader, Hardie and Lee (2005): 2,357 customers in the 1/10 sample, 39-week
    # calibration period ending 1997-09-30; customer 00004 in their data has
    # x = 2, t_x = 30.43, T = 38.86 weeks.
    summary = clv.summarize(cdnow_sample, freq="D", time_unit="W", observation_end="1997-09-30")
    assert summary.height == 2357
    row = summary.filter(pl.col("customer_id") == "00004").row(0, named=True)
    assert row["frequency"] == 2
    assert row["recency"] == pytest.approx(30.43, abs=0.005)
    assert row["T"] == pytest.approx(38.86, abs=0.005)
    # 1,411 of the 2,357 make no repeat purchase in the calibration period
    assert int((summary["frequency"] == 0).sum()) == 1411


def _log(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "date": [dt.datetime.fromisoformat(r[1]) for r in rows],
            "amount": [r[2] for r in rows],
        }
    )


SMALL_LOG = _log(
    [
        # customer a: Monday 2024-01-01, twice on 01-03, then 01-15; later one after the end
        ("a", "2024-01-01", 10.0),
        ("a", "2024-01-03", 5.0),
        ("a", "2024-01-03 18:30:00", 7.0),
        ("a", "2024-01-15", 20.0),
        ("a", "2024-02-20", 99.0),
        # customer b: one purchase
        ("b", "2024-01-10", 30.0),
        # customer c: first purchase after calibration end, repeat in holdout
        ("c", "2024-01-25", 8.0),
        ("c", "2024-02-01", 4.0),
    ]
)


def test_summary_daily_by_hand():
    s = clv.summarize(SMALL_LOG, freq="D", observation_end="2024-01-31")
    expected = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            # a: days 01-01, 01-03 (two orders merged), 01-15 -> 2 repeat days
            "frequency": [2, 0, 0],
            "recency": [14.0, 0.0, 0.0],
            "T": [30.0, 21.0, 6.0],
            # a's repeat days are worth 12 and 20
            "monetary_value": [16.0, 0.0, 0.0],
            "revenue": [42.0, 30.0, 8.0],
            "time_unit": ["D", "D", "D"],
        },
        schema_overrides={"time_unit": pl.Enum(["D", "W", "M"])},
    )
    assert_frame_equal(s, expected)


def test_summary_weekly_and_monthly_by_hand():
    weekly = clv.summarize(SMALL_LOG, freq="W", observation_end="2024-01-31")
    # weeks start Monday: a buys in weeks of 01-01 and 01-15; end week starts 01-29
    a = weekly.filter(pl.col("customer_id") == "a").row(0, named=True)
    assert (a["frequency"], a["recency"], a["T"], a["monetary_value"]) == (1, 2.0, 4.0, 20.0)
    in_days = clv.summarize(SMALL_LOG, freq="W", time_unit="D", observation_end="2024-01-31")
    assert in_days.filter(pl.col("customer_id") == "a")["T"].item() == 28.0
    monthly = clv.summarize(SMALL_LOG, freq="M", observation_end="2024-02-20")
    a = monthly.filter(pl.col("customer_id") == "a").row(0, named=True)
    # January (42.0) and February (99.0): one repeat month, one month apart
    assert (a["frequency"], a["recency"], a["T"], a["monetary_value"]) == (1, 1.0, 1.0, 99.0)


def test_transactions_after_observation_end_are_left_out_and_counted():
    s = clv.summarize(SMALL_LOG, freq="W", observation_end="2024-01-16")
    # 2024-01-16 is a Tuesday; nothing dated after it is used even within its week
    assert s["customer_id"].to_list() == ["a", "b"]
    counts = clv.window_counts(SMALL_LOG, observation_end="2024-01-16")
    assert counts.in_calibration == 5
    assert counts.after_observation_end == 3
    assert counts.in_calibration + counts.after_observation_end == SMALL_LOG.height


def test_calibration_holdout_by_hand():
    cal = clv.calibration_holdout(
        SMALL_LOG, calibration_end="2024-01-20", observation_end="2024-02-29", freq="D"
    )
    assert cal["customer_id"].to_list() == ["a", "b"]  # c first bought in the holdout
    a = cal.filter(pl.col("customer_id") == "a").row(0, named=True)
    assert a["frequency_cal"] == 2
    assert a["recency_cal"] == 14.0
    assert a["T_cal"] == 19.0
    assert a["monetary_value_cal"] == 16.0
    assert a["revenue_cal"] == 42.0
    assert a["frequency_holdout"] == 1
    assert a["monetary_value_holdout"] == 99.0
    assert a["revenue_holdout"] == 99.0
    assert a["duration_holdout"] == 40.0
    b = cal.filter(pl.col("customer_id") == "b").row(0, named=True)
    assert (b["frequency_holdout"], b["monetary_value_holdout"]) == (0, 0.0)
    counts = clv.window_counts(
        SMALL_LOG, calibration_end="2024-01-20", observation_end="2024-02-29"
    )
    assert counts.customers_first_seen_after_calibration == 1
    assert counts.in_calibration + counts.in_holdout + counts.after_observation_end == 8


def test_calibration_holdout_on_cdnow_matches_summaries(cdnow_sample):
    cal = clv.calibration_holdout(
        cdnow_sample,
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
        freq="D",
        time_unit="W",
    )
    calibration = clv.summarize(cdnow_sample, freq="D", time_unit="W", observation_end="1997-09-30")
    for column in ("frequency", "recency", "T", "monetary_value"):
        assert cal[f"{column}_cal"].to_list() == calibration[column].to_list()
    # holdout: 39 weeks from 1997-10-01 to 1998-06-30 (273 days)
    assert cal["duration_holdout"][0] == pytest.approx(273 / 7)
    # total holdout purchase-days equals distinct (customer, day) pairs in the holdout
    days = (
        cdnow_sample.data.filter(
            pl.col("date").dt.date().is_between(dt.date(1997, 10, 1), dt.date(1998, 6, 30))
        )
        .select("customer_id", pl.col("date").dt.date())
        .unique()
    )
    assert cal["frequency_holdout"].sum() == days.height


def test_compress_counts_every_customer(cdnow_sample):
    summary = clv.summarize(cdnow_sample, freq="D", time_unit="W", observation_end="1997-09-30")
    triples = clv.compress(summary)
    assert triples["n_customers"].sum() == summary.height
    assert triples.height == summary.select("frequency", "recency", "T").unique().height
    assert triples.height < summary.height


def test_unit_arguments_are_checked():
    with pytest.raises(ValueError, match="freq"):
        clv.summarize(SMALL_LOG, freq="Q")
    with pytest.raises(ValueError, match="calendar months"):
        clv.summarize(SMALL_LOG, freq="M", time_unit="D")
    with pytest.raises(ValueError, match="after calibration_end"):
        clv.calibration_holdout(
            SMALL_LOG, calibration_end="2024-02-01", observation_end="2024-01-01"
        )
    with pytest.raises(ValueError, match="lack the columns"):
        clv.summarize(SMALL_LOG.drop("customer_id"))
    # a frame without amounts is a count-only log: its summary has no spend columns
    counts_only = clv.summarize(SMALL_LOG.drop("amount"))
    assert "monetary_value" not in counts_only.columns
    assert "revenue" not in counts_only.columns


def test_master_summary_matches_lifetimes(cdnow_master):
    ours = clv.summarize(cdnow_master, freq="D", time_unit="W", observation_end="1998-06-30")
    ref = _lifetimes_summary(cdnow_master, "1998-06-30", "D", 7)
    assert ours.height == ref.height == 23570
    for column in ("frequency", "recency", "T", "monetary_value"):
        diff = (ours[column].cast(pl.Float64) - ref[column]).abs().max()
        assert diff < 1e-9, column
