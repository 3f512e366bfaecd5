"""The programmes' input files read by the transaction loader's rules."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import clv
from clv.datasets import programme_data
from clv.paths import DATA_DIR
from clv.programmes import (
    EventsInput,
    ProgrammeInputError,
    build_ledger,
    grade_accounts,
    read_accounts,
    read_events,
    read_redemptions,
)

PROGRAMMES = DATA_DIR / "programmes"
ORDERS = pl.DataFrame(
    {
        "customer_id": ["a", "b"],
        "date": [dt.date(2024, 1, 5), dt.date(2024, 1, 6)],
        "amount": [120.0, 80.0],
    }
)


def _write(tmp_path, text: str, name: str = "events.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_synthetic_files_give_todays_ledger_and_grades():
    orders = clv.datasets.synthetic().data
    events = read_events(PROGRAMMES / "member_events.csv")
    redemptions = read_redemptions(PROGRAMMES / "member_redemptions.csv")
    assert isinstance(events, EventsInput)
    assert events.rejected.height == 0 and redemptions.rejected.height == 0
    assert events.data.schema["date"] == pl.Date
    assert redemptions.data.schema["points"] == pl.Int64
    new = build_ledger(orders, events=events.data, redemptions=redemptions.data, as_of="2025-06-29")
    old = build_ledger(
        orders,
        events=programme_data("member_events"),
        redemptions=programme_data("member_redemptions"),
        as_of="2025-06-29",
    )
    assert_frame_equal(new.entries, old.entries)
    assert_frame_equal(new.rejected, old.rejected)

    accounts = read_accounts(PROGRAMMES / "b2b_accounts.csv")
    today = pl.read_csv(PROGRAMMES / "b2b_accounts.csv", schema_overrides={"account": pl.String})
    assert accounts.schema == today.schema
    assert_frame_equal(grade_accounts(accounts), grade_accounts(today))


def test_day_first_dates_are_refused_with_advice(tmp_path):
    path = _write(tmp_path, "customer_id,date,event\na,2024-03-06,review\nb,06/03/1997,review\n")
    with pytest.raises(ProgrammeInputError) as err:
        read_events(path)
    message = str(err.value)
    assert str(path) in message
    assert "the dates of 1 row" in message and "line 3" in message and "'06/03/1997'" in message
    assert "date_format=" in message


def test_date_format_reads_day_first_dates(tmp_path):
    path = _write(tmp_path, "customer_id,date,event\na,06/03/1997,review\nb,13/03/1997,profile\n")
    events = read_events(path, date_format="%d/%m/%Y")
    assert events.data["date"].to_list() == [dt.date(1997, 3, 6), dt.date(1997, 3, 13)]
    assert events.date_format == "%d/%m/%Y"


def test_blank_customer_ids_are_rejected_counted_and_never_credited(tmp_path):
    path = _write(
        tmp_path,
        "customer_id,date,event\n"
        "a,2024-02-01,review\n"
        ",2024-02-01,profile\n"
        '"   ",2024-02-02,referral\n'
        "b,,review\n"
        " b ,2024-02-03,referral\n",
    )
    events = read_events(path)
    assert events.counts() == {"blank customer id": 2, "no date": 1}
    assert events.rejected["line"].to_list() == [3, 4, 5]
    assert events.data["customer_id"].to_list() == ["a", "b"]
    ledger = build_ledger(ORDERS, events=events.data)
    balances = ledger.balances()
    assert sorted(balances["customer_id"]) == ["a", "b"]
    assert balances["earned"].sum() == 120 + 80 + 10 + 100  # the blank rows earn nothing


def test_empty_file_says_what_it_should_contain(tmp_path):
    with pytest.raises(ProgrammeInputError) as err:
        read_events(_write(tmp_path, ""))
    message = str(err.value)
    assert "the file is empty" in message
    assert "customer_id, date and event" in message


def test_header_only_file(tmp_path):
    with pytest.raises(ProgrammeInputError, match="has a header but no rows") as err:
        read_events(_write(tmp_path, "customer_id,date,event\n"))
    assert "customer_id, date and event" in str(err.value)
    with pytest.raises(ProgrammeInputError, match="header but no rows"):
        read_accounts(
            _write(tmp_path, (PROGRAMMES / "b2b_accounts.csv").read_text().split("\n")[0])
        )


def test_missing_column_names_the_columns_found(tmp_path):
    path = _write(tmp_path, "member,day,evnt\na,2024-01-01,review\n")
    with pytest.raises(ProgrammeInputError) as err:
        read_events(path)
    message = str(err.value)
    assert "columns ['customer_id', 'date', 'event'] are missing" in message
    assert "['member', 'day', 'evnt']" in message
    assert "'event' may be 'evnt'" in message
    mapped = read_events(
        _write(tmp_path, "member,day,event\na,2024-01-01,review\n", "mapped.csv"),
        customer_id="member",
        date="day",
    )
    assert mapped.data.columns == ["customer_id", "date", "event"]


def test_gbk_file(tmp_path):
    path = _write(
        tmp_path,
        "customer_id,date,event\n张三,2024-01-01,review\n李四,2024-01-02,profile\n",
        encoding="gbk",
    )
    events = read_events(path, encoding="gbk")
    assert events.data["customer_id"].to_list() == ["张三", "李四"]
    with pytest.raises(ProgrammeInputError, match="encoding"):
        read_events(path)


def test_non_numeric_points_name_the_line(tmp_path):
    path = _write(
        tmp_path,
        "customer_id,date,points\na,2024-01-01,100\nb,2024-01-02,1,000\nc,2024-01-03,lots\n",
        "redemptions.csv",
    )
    with pytest.raises(ProgrammeInputError):
        read_redemptions(path)  # "1,000" makes a fourth field: the file is malformed
    path.write_text(
        "customer_id,date,points\na,2024-01-01,100\nb,2024-01-02,12.5\nc,2024-01-03,lots\n",
        encoding="utf-8",
    )
    with pytest.raises(ProgrammeInputError) as err:
        read_redemptions(path)
    message = str(err.value)
    assert "column 'points' has values that are not whole numbers in 1 row" in message
    assert "'lots' at line 4" in message
    assert "column 'points' has fractional values in 1 row" in message
    assert "'12.5' at line 3" in message


def test_accounts_numbers_and_blank_ids_name_the_line(tmp_path):
    lines = (PROGRAMMES / "b2b_accounts.csv").read_text(encoding="utf-8").splitlines()[:4]
    lines[2] = lines[2].replace(lines[2].split(",")[2], "8.6M", 1)
    lines[3] = "  " + lines[3][4:]
    path = _write(tmp_path, "\n".join(lines) + "\n", "accounts.csv")
    with pytest.raises(ProgrammeInputError) as err:
        read_accounts(path)
    message = str(err.value)
    assert "column 'annual_sales' has values that are not numbers in 1 row" in message
    assert "'8.6M' at line 3" in message
    assert "blank account id, at line(s) 4" in message


def test_accounts_missing_scorecard_field(tmp_path):
    path = _write(tmp_path, "account,annual_sales\nB1,100\n", "accounts.csv")
    with pytest.raises(ProgrammeInputError) as err:
        read_accounts(path)
    message = str(err.value)
    assert "'margin'" in message and "the file has the columns ['account', 'annual_sales']" in (
        message
    )
