"""Tests of clv.load_transactions: every bad input is an error that names the column,
the number of bad rows, the first offending line and what to do; recoverable problems
follow the caller's policy and are counted in DataQuality."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import clv

AS_OF = "2030-01-01"
HEADER = "customer_id,date,amount"


def write_csv(tmp_path, *lines: str, name: str = "tx.csv"):
    """Write ``lines`` as a file, one per line, so that line numbers are exact
    (the first line is line 1)."""
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load_error(source, **kwargs) -> clv.TransactionDataError:
    kwargs.setdefault("as_of", AS_OF)
    with pytest.raises(clv.TransactionDataError) as info:
        clv.load_transactions(source, **kwargs)
    err = info.value
    # every problem is in the message the user sees
    assert err.problems
    assert all(problem in str(err) for problem in err.problems)
    return err


def assert_mentions(message: str, *parts: str) -> None:
    for part in parts:
        assert part in message, f"{part!r} not in message:\n{message}"


def frame(ids, dates, amounts) -> pl.DataFrame:
    return pl.DataFrame(
        {"customer_id": ids, "date": dates, "amount": amounts},
        schema={"customer_id": pl.String, "date": pl.String, "amount": pl.Float64},
    )


# --------------------------------------------------------------------------- columns


def test_missing_column_suggests_the_close_match(tmp_path):
    path = write_csv(tmp_path, "customer,date,amount", "a,2020-01-01,1.00")
    err = load_error(path)
    assert len(err.problems) == 1
    assert_mentions(
        err.problems[0],
        "column 'customer_id'",
        "missing",
        "['customer', 'date', 'amount']",
        "did you mean 'customer'?",
        "pass customer_id='customer'",
    )
    assert str(path) in str(err)


def test_missing_column_without_a_close_match_says_how_to_map_it(tmp_path):
    path = write_csv(tmp_path, "customer_id,when,amount", "a,2020-01-01,1.00")
    err = load_error(path)
    assert len(err.problems) == 1
    assert_mentions(err.problems[0], "column 'date'", "missing", "pass date='<column name>'")
    assert "did you mean" not in err.problems[0]


def test_column_mapping(tmp_path):
    path = write_csv(
        tmp_path,
        "value,cust,day,note",
        "12.50,A1,2020-01-03,x",
        "3,B2,2020-02-29,y",
    )
    tx = clv.load_transactions(path, customer_id="cust", date="day", amount="value", as_of=AS_OF)
    expected = pl.DataFrame(
        {
            "customer_id": ["A1", "B2"],
            "date": [dt.datetime(2020, 1, 3), dt.datetime(2020, 2, 29)],
            "amount": [12.5, 3.0],
        },
        schema={"customer_id": pl.String, "date": pl.Datetime("us"), "amount": pl.Float64},
    )
    assert_frame_equal(tx.data, expected)
    assert tx.quality.rows_read == tx.quality.rows_kept == 2


def test_mapped_column_missing_is_named_by_its_given_name(tmp_path):
    path = write_csv(tmp_path, "cust,day,amount", "A1,2020-01-03,1")
    err = load_error(path, customer_id="cust", date="dag")
    assert len(err.problems) == 1
    assert_mentions(err.problems[0], "column 'dag' (date) is missing", "pass date='day'")


# --------------------------------------------------------------------------- dates


def test_unparseable_dates(tmp_path):
    path = write_csv(
        tmp_path,
        HEADER,
        "a,2020-01-01,1",
        "b,2020-01-02,1",
        "c,yesterday,1",
        "d,2020-02-30,1",
    )
    err = load_error(path)
    assert len(err.problems) == 1
    assert_mentions(
        err.problems[0],
        "column 'date'",
        "has 2 rows",
        "first at line 4: 'yesterday'",
        "date_format=",
    )


def test_mixed_date_formats_suggest_date_format(tmp_path):
    path = write_csv(
        tmp_path,
        HEADER,
        "a,2020-01-05,1",
        "b,2020-01-06,2",
        "c,07/01/2020,3",
        "d,2020-01-08,4",
        "e,25/12/2020,5",
    )
    err = load_error(path)
    assert len(err.problems) == 1
    assert_mentions(
        err.problems[0],
        "column 'date'",
        "has 2 rows",
        "one unambiguous format",
        "first at line 4: '07/01/2020'",
        "pass date_format='%d/%m/%Y'",
    )


def test_explicit_date_format(tmp_path):
    path = write_csv(tmp_path, HEADER, "a,07/01/2020,1", "b,25/12/2020,2", "c, 01/02/2020 ,3")
    tx = clv.load_transactions(path, date_format="%d/%m/%Y", as_of=AS_OF)
    assert tx.data["date"].dtype == pl.Datetime("us")
    assert tx.data["date"].to_list() == [
        dt.datetime(2020, 1, 7),
        dt.datetime(2020, 12, 25),
        dt.datetime(2020, 2, 1),
    ]


def test_dates_not_matching_explicit_date_format(tmp_path):
    path = write_csv(tmp_path, HEADER, "a,07/01/2020,1", "b,2020-01-08,2", "c,2020-01-09,2")
    err = load_error(path, date_format="%d/%m/%Y")
    assert len(err.problems) == 1
    assert_mentions(
        err.problems[0],
        "column 'date'",
        "has 2 rows",
        "date_format='%d/%m/%Y'",
        "first at line 3: '2020-01-08'",
        "fix those rows or the format",
    )


def test_missing_dates(tmp_path):
    path = write_csv(tmp_path, HEADER, "a,2020-01-01,1", "b,,2", "c,2020-01-03,3", "d,,4")
    err = load_error(path)
    assert len(err.problems) == 1
    assert_mentions(
        err.problems[0],
        "column 'date'",
        "has 2 rows with no date",
        "first at line 3",
        "fill them in or remove those rows",
    )


def test_dates_after_as_of(tmp_path):
    path = write_csv(
        tmp_path,
        HEADER,
        "a,2020-01-01,1",
        "b,2020-06-01,2",
        "c,2020-06-02,3",
        "d,2021-01-01,4",
        "e,2022-05-05,5",
    )
    err = load_error(path, as_of="2020-06-01")
    assert len(err.problems) == 1
    assert_mentions(
        err.problems[0],
        "column 'date'",
        "has 3 rows dated after the as-of date 2020-06-01",
        "first at line 4: 2020-06-02",
        "check the date format, or pass as_of=",
    )
    # the as-of day itself is allowed
    tx = clv.load_transactions(path, as_of="2022-05-05")
    assert tx.quality.rows_kept == 5


def test_dates_before_min_date(tmp_path):
    path = write_csv(
        tmp_path,
        HEADER,
        "a,2020-01-01,1",
        "b,1899-12-31,2",
        "c,1900-01-01,3",
        "d,1850-07-01,4",
    )
    err = load_error(path)
    assert len(err.problems) == 1
    assert_mentions(
        err.problems[0],
        "column 'date'",
        "has 2 rows dated before 1900-01-01",
        "first at line 3: 1899-12-31",
        "pass min_date=",
    )
    err = load_error(path, min_date="2019-01-01")
    assert_mentions(err.problems[0], "has 3 rows dated before 2019-01-01", "first at line 3")
    tx = clv.load_transactions(path, min_date="1800-01-01", as_of=AS_OF)
    assert tx.quality.rows_kept == 4
    assert tx.data["date"].min() == dt.datetime(1850, 7, 1)


# --------------------------------------------------------------------------- customer ids


@pytest.mark.parametrize("kind", ["csv", "frame"])
def test_null_customer_ids(tmp_path, kind):
    if kind == "csv":
        source = write_csv(
            tmp_path, HEADER, "a,2020-01-01,1", ",2020-01-02,2", "b,2020-01-03,3", ",2020-01-04,4"
        )
        where = "first at line 3"
    else:
        source = frame(
            ["a", None, "b", None],
            ["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04"],
            [1.0, 2.0, 3.0, 4.0],
        )
        where = "first at row 2"
    err = load_error(source)
    assert len(err.problems) == 1
    assert_mentions(
        err.problems[0],
        "column 'customer_id'",
        "has 2 rows with no customer id",
        where,
        "fill them in or remove those rows",
    )


def test_empty_and_whitespace_customer_ids(tmp_path):
    path = write_csv(
        tmp_path,
        HEADER,
        "a,2020-01-01,1",
        "b,2020-01-02,2",
        '"",2020-01-03,3',
        "   ,2020-01-04,4",
        "\t,2020-01-05,5",
    )
    err = load_error(path)
    assert len(err.problems) == 1
    assert_mentions(
        err.problems[0],
        "column 'customer_id'",
        "has 3 rows with an empty customer id",
        "first at line 4",
        "fill them in or remove those rows",
    )


def test_customer_ids_are_stripped_and_counted(tmp_path):
    path = write_csv(
        tmp_path,
        HEADER,
        " a ,2020-01-01,1",
        "a,2020-01-02,2",
        "b  ,2020-01-03,3",
        "c,2020-01-04,4",
    )
    tx = clv.load_transactions(path, as_of=AS_OF)
    assert tx.data["customer_id"].to_list() == ["a", "a", "b", "c"]
    assert tx.n_customers == 3
    assert tx.quality.customer_ids_stripped == 2
    assert any("2 customer ids" in note for note in tx.quality.notes)


def test_integer_customer_ids_in_a_frame_become_text():
    source = pl.DataFrame(
        {"customer_id": [7, 42], "date": [dt.date(2020, 1, 1)] * 2, "amount": [1.0, 2.0]}
    )
    tx = clv.load_transactions(source, as_of=AS_OF)
    assert tx.data["customer_id"].dtype == pl.String
    assert tx.data["customer_id"].to_list() == ["7", "42"]


# --------------------------------------------------------------------------- amounts


def test_non_numeric_amounts(tmp_path):
    path = write_csv(
        tmp_path,
        HEADER,
        "a,2020-01-01,12.50",
        'b,2020-01-02,"12,50"',
        "c,2020-01-03,$3",
        "d,2020-01-04, 4.25 ",
    )
    err = load_error(path)
    assert len(err.problems) == 1
    assert_mentions(
        err.problems[0],
        "column 'amount'",
        "has 2 rows with amounts that are not numbers",
        "first at line 3: '12,50'",
        "remove currency symbols and thousands separators, use '.' for decimals",
    )


def test_negative_amounts_mention_returns(tmp_path):
    path = write_csv(
        tmp_path, HEADER, "a,2020-01-01,1", "b,2020-01-02,0", "c,2020-01-03,-2.5", "d,2020-01-04,-1"
    )
    err = load_error(path)
    assert len(err.problems) == 1
    assert_mentions(
        err.problems[0],
        "column 'amount'",
        "has 2 rows with negative amounts",
        "first at line 4: '-2.5'",
        "returns",
        "removed",
    )


def test_nan_and_infinite_amounts_in_a_frame():
    source = frame(
        ["a", "b", "c", "d"],
        ["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04"],
        [1.0, math.nan, 2.0, math.inf],
    )
    err = load_error(source)
    assert len(err.problems) == 1
    assert_mentions(
        err.problems[0],
        "column 'amount'",
        "has 2 rows with amounts that are NaN or infinite",
        "first at row 2",
        "fix or remove those rows",
    )
    assert "(polars DataFrame)" in str(err)


def test_missing_amounts(tmp_path):
    path = write_csv(tmp_path, HEADER, "a,2020-01-01,1", "b,2020-01-02,", "c,2020-01-03,")
    err = load_error(path)
    assert len(err.problems) == 1
    assert_mentions(
        err.problems[0],
        "column 'amount'",
        "has 2 rows with no amount",
        "first at line 3",
        "fill them in (0 for a free order) or remove those rows",
    )


# --------------------------------------------------------------------------- files


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    err = load_error(path)
    assert err.problems == [
        "the file is empty; export the log again with a header row and data rows"
    ]
    assert str(path) in str(err)


def test_header_only_file(tmp_path):
    path = write_csv(tmp_path, HEADER)
    err = load_error(path)
    assert len(err.problems) == 1
    assert_mentions(err.problems[0], "header but no rows", "export it again")


def test_file_that_does_not_exist(tmp_path):
    path = tmp_path / "nowhere" / "tx.csv"
    err = load_error(path)
    assert len(err.problems) == 1
    assert_mentions(err.problems[0], "file not found", "check the path")
    assert str(path) in str(err)


def test_unknown_file_extension(tmp_path):
    path = write_csv(tmp_path, HEADER, "a,2020-01-01,1", name="tx.xlsx")
    err = load_error(path)
    assert len(err.problems) == 1
    assert_mentions(err.problems[0], "unknown file type '.xlsx'", ".csv", ".parquet")


def test_several_problems_are_listed_in_one_error(tmp_path):
    path = write_csv(
        tmp_path,
        HEADER,
        "a,2020-01-01,1",
        ",2020-01-02,2",
        "c,someday,3",
        "d,2020-01-04,-4",
        "e,2020-01-05,$5",
        "f,2020-01-06,-6",
    )
    err = load_error(path)
    assert len(err.problems) == 4
    no_id, bad_date, not_number, negative = err.problems
    assert_mentions(no_id, "column 'customer_id'", "1 row with no customer id", "line 3")
    assert_mentions(
        bad_date, "column 'date'", "1 row whose dates", "line 4: 'someday'", "date_format="
    )
    assert_mentions(not_number, "column 'amount'", "1 row with", "not numbers", "line 6: '$5'")
    assert_mentions(negative, "column 'amount'", "2 rows with negative amounts", "line 5: '-4'")
    message = str(err)
    assert message.startswith(f"transaction log {path}: 4 problems\n")
    for problem in err.problems:
        assert f"  - {problem}" in message


def test_several_missing_columns_are_listed_in_one_error(tmp_path):
    path = write_csv(tmp_path, "customer,day,amt", "a,2020-01-01,1")
    err = load_error(path)
    assert [p.split(" is missing")[0] for p in err.problems] == [
        "column 'customer_id' (customer_id)",
        "column 'date' (date)",
        "column 'amount' (amount)",
    ]


# --------------------------------------------------------------------------- policies

DUPLICATES = (
    HEADER,
    "a,2020-01-01,10",
    "a,2020-01-01,10",
    "b,2020-01-02,5",
    "a,2020-01-01,10",
    "b,2020-01-02,6",
)


def test_duplicates_keep(tmp_path):
    tx = clv.load_transactions(write_csv(tmp_path, *DUPLICATES), duplicates="keep", as_of=AS_OF)
    q = tx.quality
    assert (q.rows_read, q.rows_kept, q.duplicate_rows, q.duplicate_rows_dropped) == (5, 5, 2, 0)
    assert tx.data["amount"].to_list() == [10.0, 10.0, 5.0, 10.0, 6.0]


def test_duplicates_drop(tmp_path):
    tx = clv.load_transactions(write_csv(tmp_path, *DUPLICATES), duplicates="drop", as_of=AS_OF)
    q = tx.quality
    assert (q.rows_read, q.rows_kept, q.duplicate_rows, q.duplicate_rows_dropped) == (5, 3, 2, 2)
    assert tx.data.select("customer_id", "amount").rows() == [("a", 10.0), ("b", 5.0), ("b", 6.0)]
    assert any("dropped 2 exact duplicate rows" in note for note in q.notes)


def test_duplicates_error(tmp_path):
    err = load_error(write_csv(tmp_path, *DUPLICATES), duplicates="error")
    assert len(err.problems) == 1
    assert_mentions(
        err.problems[0],
        "2 rows repeat an earlier row",
        "first at line 3",
        "duplicates='keep'",
        "duplicates='drop'",
    )


ZEROS = (HEADER, "a,2020-01-01,10", "a,2020-01-02,0", "b,2020-01-02,5", "c,2020-01-03,0.00")


def test_zero_amounts_keep(tmp_path):
    tx = clv.load_transactions(write_csv(tmp_path, *ZEROS), zero_amounts="keep", as_of=AS_OF)
    q = tx.quality
    assert (q.rows_read, q.rows_kept, q.zero_amount_rows, q.zero_amount_rows_dropped) == (
        4,
        4,
        2,
        0,
    )
    assert tx.data["amount"].to_list() == [10.0, 0.0, 5.0, 0.0]


def test_zero_amounts_drop(tmp_path):
    tx = clv.load_transactions(write_csv(tmp_path, *ZEROS), zero_amounts="drop", as_of=AS_OF)
    q = tx.quality
    assert (q.rows_read, q.rows_kept, q.zero_amount_rows, q.zero_amount_rows_dropped) == (
        4,
        2,
        2,
        2,
    )
    assert tx.data.select("customer_id", "amount").rows() == [("a", 10.0), ("b", 5.0)]


def test_zero_amounts_error(tmp_path):
    err = load_error(write_csv(tmp_path, *ZEROS), zero_amounts="error")
    assert len(err.problems) == 1
    assert_mentions(
        err.problems[0],
        "column 'amount'",
        "has 2 rows with amount 0",
        "first at line 3",
        "zero_amounts='keep'",
        "zero_amounts='drop'",
    )


@pytest.mark.parametrize("argument", ["duplicates", "zero_amounts"])
@pytest.mark.parametrize("value", ["remove", "Keep", None])
def test_invalid_policy_raises_value_error(tmp_path, argument, value):
    path = write_csv(tmp_path, HEADER, "a,2020-01-01,1")
    with pytest.raises(ValueError, match=f"{argument}=.*use one of keep, drop, error"):
        clv.load_transactions(path, as_of=AS_OF, **{argument: value})


@pytest.mark.parametrize("duplicates", ["keep", "drop"])
@pytest.mark.parametrize("zero_amounts", ["keep", "drop"])
def test_every_row_is_accounted_for(tmp_path, duplicates, zero_amounts):
    path = write_csv(
        tmp_path,
        HEADER,
        "a,2020-01-01,10",
        "a,2020-01-01,10",
        "a,2020-01-01,0",
        "a,2020-01-01,0",
        "b,2020-01-02,0",
        "b,2020-01-03,7",
        "b,2020-01-03,7",
        "c,2020-01-04,1",
    )
    tx = clv.load_transactions(path, duplicates=duplicates, zero_amounts=zero_amounts, as_of=AS_OF)
    q = tx.quality
    assert q.rows_read == 8
    assert q.rows_read == q.rows_kept + q.duplicate_rows_dropped + q.zero_amount_rows_dropped
    assert q.rows_kept == tx.data.height
    assert q.duplicate_rows == 3
    assert q.duplicate_rows_dropped == (3 if duplicates == "drop" else 0)
    # zero-amount rows are counted among the rows left after dropping duplicates
    assert q.zero_amount_rows == (2 if duplicates == "drop" else 3)
    assert q.zero_amount_rows_dropped == (q.zero_amount_rows if zero_amounts == "drop" else 0)
    assert (tx.data["amount"] == 0).sum() == q.zero_amount_rows - q.zero_amount_rows_dropped


# --------------------------------------------------------------------------- input types

ROWS = {
    "customer_id": ["00001", "00002", "00002", "00010"],
    "date": [dt.date(1997, 1, 1), dt.date(1997, 1, 12), dt.date(1997, 1, 12), dt.date(1997, 3, 30)],
    "amount": [11.77, 12.0, 77.0, 0.5],
}


def test_parquet_round_trip_matches_csv(tmp_path):
    parquet = tmp_path / "tx.parquet"
    pl.DataFrame(ROWS).write_parquet(parquet)
    csv = write_csv(
        tmp_path,
        HEADER,
        *(
            f"{c},{d.isoformat()},{a}"
            for c, d, a in zip(ROWS["customer_id"], ROWS["date"], ROWS["amount"], strict=True)
        ),
    )
    from_parquet = clv.load_transactions(parquet, as_of=AS_OF)
    from_csv = clv.load_transactions(csv, as_of=AS_OF)
    assert_frame_equal(from_parquet.data, from_csv.data, check_exact=True)
    assert from_parquet.data["customer_id"].to_list() == ROWS["customer_id"]
    assert from_parquet.data["date"].dtype == pl.Datetime("us")
    assert from_parquet.quality.rows_read == from_csv.quality.rows_read == 4
    assert from_parquet.quality.duplicate_rows == 0
    assert from_parquet.quality.source == str(parquet)


def test_parquet_errors_name_rows(tmp_path):
    parquet = tmp_path / "tx.parquet"
    pl.DataFrame({**ROWS, "amount": [1.0, -2.0, 3.0, -4.0]}).write_parquet(parquet)
    err = load_error(parquet)
    assert len(err.problems) == 1
    assert_mentions(
        err.problems[0], "column 'amount'", "2 rows with negative amounts", "first at row 2"
    )


def test_lazyframe_input():
    source = pl.DataFrame(ROWS)
    eager = clv.load_transactions(source, as_of=AS_OF)
    lazy = clv.load_transactions(source.lazy(), as_of=AS_OF)
    assert_frame_equal(lazy.data, eager.data, check_exact=True)
    assert lazy.quality.source == "(polars LazyFrame)"
    assert lazy.quality.rows_read == 4
    assert lazy.data["date"].to_list()[0] == dt.datetime(1997, 1, 1)


@pytest.mark.parametrize(
    "dtype",
    [pl.Date, pl.Datetime("ms"), pl.Datetime("us"), pl.Datetime("ns")],
    ids=["Date", "Datetime-ms", "Datetime-us", "Datetime-ns"],
)
def test_date_and_datetime_columns(dtype):
    source = pl.DataFrame(ROWS).with_columns(pl.col("date").cast(dtype))
    tx = clv.load_transactions(source, as_of=AS_OF)
    assert tx.data["date"].dtype == pl.Datetime("us")
    assert tx.data["date"].to_list() == [
        dt.datetime(1997, 1, 1),
        dt.datetime(1997, 1, 12),
        dt.datetime(1997, 1, 12),
        dt.datetime(1997, 3, 30),
    ]


def test_timezone_aware_datetimes_keep_their_local_wall_clock_time():
    utc = [dt.datetime(2020, 1, 1, 23, 30), dt.datetime(2020, 3, 1, 2, 0)]
    source = pl.DataFrame(
        {"customer_id": ["a", "b"], "date": utc, "amount": [1.0, 2.0]}
    ).with_columns(pl.col("date").dt.replace_time_zone("UTC").dt.convert_time_zone("Asia/Tokyo"))
    tx = clv.load_transactions(source, as_of=AS_OF)
    assert tx.data["date"].dtype == pl.Datetime("us")  # naive
    assert tx.data["date"].to_list() == [
        dt.datetime(2020, 1, 2, 8, 30),
        dt.datetime(2020, 3, 1, 11, 0),
    ]


def test_datetime_text_with_time_of_day(tmp_path):
    path = write_csv(tmp_path, HEADER, "a,2020-01-01 10:15:00,1", "b,2020-01-02 23:59:59,2")
    tx = clv.load_transactions(path, as_of="2020-01-02")
    assert tx.data["date"].to_list() == [
        dt.datetime(2020, 1, 1, 10, 15),
        dt.datetime(2020, 1, 2, 23, 59, 59),
    ]


def test_quantity_column_is_loaded_and_checked(tmp_path):
    good = write_csv(
        tmp_path, "customer_id,date,amount,quantity", "a,2020-01-01,1,2", "b,2020-01-02,2,1"
    )
    tx = clv.load_transactions(good, as_of=AS_OF)
    assert tx.data.columns == ["customer_id", "date", "amount", "quantity"]
    assert tx.data["quantity"].to_list() == [2, 1]
    bad = write_csv(
        tmp_path,
        "customer_id,date,amount,quantity",
        "a,2020-01-01,1,2",
        "b,2020-01-02,2,-1",
        "c,2020-01-03,2,x",
        name="bad.csv",
    )
    err = load_error(bad)
    assert len(err.problems) == 1
    assert_mentions(
        err.problems[0],
        "column 'quantity'",
        "2 rows that are not whole numbers",
        "first at line 3: '-1'",
        "load without quantity=",
    )


# --------------------------------------------------------------------------- bundled data


def test_cdnow_sample(cdnow_sample):
    assert cdnow_sample.quality.rows_read == 6_919
    assert cdnow_sample.quality.rows_kept == 6_919
    assert len(cdnow_sample) == 6_919
    assert cdnow_sample.n_customers == 2_357
    assert cdnow_sample.data["date"].min() == dt.datetime(1997, 1, 1)
    assert cdnow_sample.data["date"].max() <= dt.datetime(1998, 6, 30)


@pytest.mark.slow
def test_cdnow_master(cdnow_master):
    assert cdnow_master.quality.rows_read == 69_659
    assert cdnow_master.quality.rows_kept == 69_659
    # the data set description: 23,570 customers who first purchased in Q1 1997
    assert cdnow_master.n_customers == 23_570
    first = cdnow_master.data.group_by("customer_id").agg(pl.col("date").min())["date"]
    assert first.min() == dt.datetime(1997, 1, 1)
    assert first.max() <= dt.datetime(1997, 3, 31)
    assert cdnow_master.data["date"].max() <= dt.datetime(1998, 6, 30)


def test_iso_dates_and_date_times_may_mix(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text(
        "customer_id,date,amount\na,2020-01-01,1\na,2020-01-02 10:30:00,2\n", encoding="utf-8"
    )
    tx = clv.load_transactions(path, as_of="2030-01-01")
    assert tx.data["date"].to_list() == [
        dt.datetime(2020, 1, 1),
        dt.datetime(2020, 1, 2, 10, 30),
    ]


def test_non_utf8_file_gets_encoding_advice(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("customer_id,date,amount\nJosé,2020-01-01,1\n".encode("latin-1"))
    with pytest.raises(clv.TransactionDataError, match="utf8-lossy"):
        clv.load_transactions(path, as_of="2030-01-01")


def test_repeated_header_column_is_an_error(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("customer_id,date,amount,amount\na,2020-01-01,1,2\n", encoding="utf-8")
    with pytest.raises(clv.TransactionDataError, match="'amount' appears more than once"):
        clv.load_transactions(path, as_of="2030-01-01")


def test_trailing_blank_lines_are_dropped_and_counted(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("customer_id,date,amount\na,2020-01-01,1\n\n\n", encoding="utf-8")
    tx = clv.load_transactions(path, as_of="2030-01-01")
    q = tx.quality
    assert len(tx) == 1
    assert q.blank_rows_dropped == q.rows_read - q.rows_kept
    assert q.blank_rows_dropped >= 1
    assert any("blank lines" in n for n in q.notes)


def test_quantity_nulls_are_errors_and_whole_floats_are_fine():
    frame = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "date": [dt.date(2020, 1, 1)] * 3,
            "amount": [1.0, 2.0, 3.0],
            "quantity": [2.0, None, 1.0],
        }
    )
    with pytest.raises(clv.TransactionDataError, match="1 row with no quantity"):
        clv.load_transactions(frame, as_of="2030-01-01")
    tx = clv.load_transactions(frame.drop_nulls(), as_of="2030-01-01")
    assert tx.data["quantity"].to_list() == [2, 1]


def test_minus_infinity_is_reported_once():
    frame = pl.DataFrame(
        {"customer_id": ["a"], "date": [dt.date(2020, 1, 1)], "amount": [-math.inf]}
    )
    with pytest.raises(clv.TransactionDataError) as err:
        clv.load_transactions(frame, as_of="2030-01-01")
    assert len(err.value.problems) == 1
    assert "NaN or infinite" in err.value.problems[0]


# --------------------------------------------------------------------------- separators


@pytest.mark.parametrize(
    ("options", "written", "expected"),
    [
        (
            {"thousands": ","},
            ["1,289.15", "12", "1,000,000", "12,34,567.5"],
            [1289.15, 12, 1e6, 1234567.5],
        ),
        ({"decimal": ",", "thousands": "."}, ["1.289,15", "0,5", "7"], [1289.15, 0.5, 7.0]),
        ({"decimal": ","}, ["12,50", "3"], [12.5, 3.0]),
        (
            {"decimal": ",", "thousands": " "},
            ["1 289,15", "1\u00a0000", "2\u202f000,5"],
            [1289.15, 1000, 2000.5],
        ),
        ({"thousands": "'"}, ["1'289.15", "1\u2019000"], [1289.15, 1000.0]),
        ({"thousands": "_"}, ["1_289.15"], [1289.15]),
    ],
    ids=["comma-thousands", "european", "decimal-comma", "space-thousands", "swiss", "underscore"],
)
def test_decimal_and_thousands_separators(tmp_path, options, written, expected):
    lines = [f'c{i},2020-01-01,"{w}"' for i, w in enumerate(written)]
    tx = clv.load_transactions(write_csv(tmp_path, HEADER, *lines), as_of=AS_OF, **options)
    assert tx.data["amount"].to_list() == pytest.approx(expected)


@pytest.mark.parametrize(
    ("options", "written"),
    [
        ({"thousands": ","}, "12,50"),  # a decimal comma is never read as thousands
        ({"thousands": ","}, "1,2,3"),
        ({"decimal": ",", "thousands": "."}, "1.5"),
        ({"decimal": ","}, "1.289,15"),
    ],
)
def test_misgrouped_separators_are_errors(tmp_path, options, written):
    path = write_csv(tmp_path, HEADER, "a,2020-01-01,1", f'b,2020-01-02,"{written}"')
    err = load_error(path, **options)
    assert_mentions(err.problems[0], "1 row with amounts that are not numbers", "line 3")


def test_thousands_advice_follows_the_values(tmp_path):
    path = write_csv(tmp_path, HEADER, 'a,2020-01-01,"1,289.15"', 'b,2020-01-02,"2,000"')
    err = load_error(path)
    assert_mentions(
        err.problems[0],
        "2 rows with amounts that are not numbers",
        "remove currency symbols and thousands separators",
        "pass thousands=','",
    )
    # the advice is written the way the command line maps it: name= and a value
    assert "pass decimal=" not in err.problems[0]


def test_quantities_use_the_separators(tmp_path):
    path = write_csv(
        tmp_path,
        "customer_id,date,amount,quantity",
        'a,2020-01-01,"1.000,5","1.200"',
        'b,2020-01-02,"2,5","3"',
    )
    tx = clv.load_transactions(path, as_of=AS_OF, decimal=",", thousands=".")
    assert tx.data["quantity"].to_list() == [1200, 3]
    assert tx.data["amount"].to_list() == [1000.5, 2.5]


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"decimal": ";"}, ["decimal=';'", "decimal=','"]),
        ({"thousands": "x"}, ["thousands='x'", "thousands=None"]),
        ({"decimal": ".", "thousands": "."}, ["the same character"]),
    ],
)
def test_invalid_separator_options(tmp_path, options, words):
    with pytest.raises(ValueError) as err:
        clv.load_transactions(write_csv(tmp_path, HEADER, "a,2020-01-01,1"), **options)
    assert_mentions(str(err.value), *words)


# --------------------------------------------------------------------------- time zones


def test_time_zone_converts_offsets_and_keeps_naive_times(tmp_path):
    path = write_csv(
        tmp_path,
        HEADER,
        "a,2020-03-08T06:59:00Z,1",  # New York switches to summer time at 07:00 UTC
        "a,2020-03-08T07:00:00+00:00,2",
        "a,2020-03-08T12:00:00+0530,3",
        "a,2020-03-08 12:00:00,4",
        "a,2020-03-09,5",
    )
    tx = clv.load_transactions(path, as_of=AS_OF, time_zone="America/New_York")
    assert tx.data["date"].dtype == pl.Datetime("us")
    assert tx.data["date"].to_list() == [
        dt.datetime(2020, 3, 8, 1, 59),
        dt.datetime(2020, 3, 8, 3, 0),
        dt.datetime(2020, 3, 8, 1, 30),
        dt.datetime(2020, 3, 8, 12, 0),
        dt.datetime(2020, 3, 9),
    ]
    q = tx.quality
    assert (q.time_zone_offsets_converted, q.time_zone_offsets_removed) == (3, 0)
    assert any("converted 3 rows" in n and "America/New_York" in n for n in q.notes)
    # without time_zone= the written local time is kept, as before
    kept = clv.load_transactions(path, as_of=AS_OF)
    assert kept.data["date"][0] == dt.datetime(2020, 3, 8, 6, 59)
    assert (kept.quality.time_zone_offsets_removed, kept.quality.time_zone_offsets_converted) == (
        3,
        0,
    )


def test_time_zone_converts_zoned_datetime_columns():
    utc = [dt.datetime(2020, 1, 1, 23, 30), None, dt.datetime(2020, 3, 1, 2, 0)]
    source = pl.DataFrame(
        {"customer_id": ["a", "b", "c"], "date": utc, "amount": [1.0, 2.0, 3.0]}
    ).with_columns(pl.col("date").dt.replace_time_zone("UTC"))
    source = source.drop_nulls()
    tx = clv.load_transactions(source, as_of=AS_OF, time_zone="Asia/Shanghai")
    assert tx.data["date"].to_list() == [
        dt.datetime(2020, 1, 2, 7, 30),
        dt.datetime(2020, 3, 1, 10, 0),
    ]
    assert tx.quality.time_zone_offsets_converted == 2


def test_unknown_time_zone_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match=r"time_zone='Nowhere/City'.*time_zone='Asia/Shanghai'"):
        clv.load_transactions(
            write_csv(tmp_path, HEADER, "a,2020-01-01,1"), time_zone="Nowhere/City"
        )


# --------------------------------------------------------------------------- ids


def test_invisible_characters_in_ids_are_stripped_and_counted():
    source = frame(
        ["a\u200b", " a\x00 ", "\ufeffb", "b", "c\u200c\u200d", "d"],
        ["2020-01-01"] * 6,
        [1.0] * 6,
    )
    tx = clv.load_transactions(source, as_of=AS_OF)
    assert tx.data["customer_id"].to_list() == ["a", "a", "b", "b", "c", "d"]
    q = tx.quality
    assert (q.id_characters_stripped, q.customer_ids_stripped) == (4, 1)
    assert any("invisible characters" in n and "4 customer ids" in n for n in q.notes)


def test_internal_spaces_in_ids_are_kept():
    tx = clv.load_transactions(
        frame(["Ann Lee", "Bo"], ["2020-01-01"] * 2, [1.0, 2.0]), as_of=AS_OF
    )
    assert tx.data["customer_id"].to_list() == ["Ann Lee", "Bo"]
    assert tx.quality.customer_ids_stripped == tx.quality.id_characters_stripped == 0


@pytest.mark.parametrize("dtype", [pl.Int32, pl.UInt64, pl.Int64, pl.Float32, pl.Float64])
def test_numeric_ids_become_text_and_are_counted(tmp_path, dtype):
    source = pl.DataFrame(
        {"customer_id": [7, 42, 7], "date": [dt.date(2020, 1, 1)] * 3, "amount": [1.0, 2.0, 3.0]},
        schema_overrides={"customer_id": dtype},
    )
    path = tmp_path / "ids.parquet"
    source.write_parquet(path)
    tx = clv.load_transactions(path, as_of=AS_OF)
    assert tx.data["customer_id"].dtype == pl.String
    assert tx.data["customer_id"].to_list() == ["7", "42", "7"]
    assert tx.quality.ids_read_from_numbers == 3
    assert any("leading zeros" in n and "store the ids as text" in n for n in tx.quality.notes)


def test_float_ids_beyond_exact_integers_are_errors():
    source = pl.DataFrame(
        {"customer_id": [1.0, 2.0**60], "date": [dt.date(2020, 1, 1)] * 2, "amount": [1.0, 2.0]}
    )
    err = load_error(source)
    assert_mentions(err.problems[0], "numbers with a fraction or too large", "row 2")


def test_text_ids_are_not_counted_as_numbers():
    tx = clv.load_transactions(frame(["007"], ["2020-01-01"], [1.0]), as_of=AS_OF)
    assert tx.quality.ids_read_from_numbers == 0
    assert tx.data["customer_id"].to_list() == ["007"]


# --------------------------------------------------------------------------- amount bound


def test_amounts_at_the_bound_are_errors():
    bound = float(clv.data.MAX_AMOUNT)
    err = load_error(frame(["a", "b", "c"], ["2020-01-01"] * 3, [bound - 0.01, bound, 1e300]))
    assert len(err.problems) == 1
    assert_mentions(
        err.problems[0],
        "column 'amount'",
        "2 rows with amounts of 1,000,000,000,000 or more",
        "first at row 2: 1000000000000.0",
        "currency units",
    )


# --------------------------------------------------------------------------- files


def test_utf16_csv_is_decoded_and_noted(tmp_path):
    path = tmp_path / "utf16.csv"
    path.write_bytes("customer_id,date,amount\r\n张三,2020-01-01,1\r\n".encode("utf-16"))
    tx = clv.load_transactions(path, as_of=AS_OF)
    assert tx.data["customer_id"].to_list() == ["张三"]
    assert any("UTF-16" in n for n in tx.quality.notes)


def test_explicit_encoding_is_not_second_guessed(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("customer_id,date,amount\nZoë,2020-01-01,1\n".encode("latin-1"))
    tx = clv.load_transactions(path, as_of=AS_OF, encoding="latin-1")
    assert tx.data["customer_id"].to_list() == ["Zoë"]
    assert not any("UTF-16" in n for n in tx.quality.notes)


def test_cr_only_line_ends_lose_no_row(tmp_path):
    lines = [HEADER] + [f"c{i},2020-01-{i + 1:02d},{i + 1}" for i in range(20)]
    path = tmp_path / "mac.csv"
    path.write_bytes(("\r".join(lines) + "\r").encode())
    tx = clv.load_transactions(path, as_of=AS_OF)
    assert tx.quality.rows_read == tx.quality.rows_kept == 20
    assert tx.data["amount"].sum() == sum(range(1, 21))
    assert any("CR alone" in n for n in tx.quality.notes)


def test_reader_helpers_keep_their_shapes(tmp_path):
    path = write_csv(tmp_path, HEADER, "a,2020-01-01T10:00:00+08:00,1")
    raw, label, is_csv = clv.data._read(path, ",", "utf8")
    assert (raw.columns, label, is_csv) == (["customer_id", "date", "amount"], str(path), True)
    parsed, fmt, problem = clv.data._parse_dates(raw["date"], None)
    assert parsed.to_list() == [dt.datetime(2020, 1, 1, 10)] and problem is None
    assert fmt is not None
    utc, _, _ = clv.data._parse_dates(raw["date"], None, time_zone="UTC")
    assert utc.to_list() == [dt.datetime(2020, 1, 1, 2)]


# --------------------------------------------------------------------------- duplicates


def _reference_duplicates(data: pl.DataFrame) -> tuple[int, int]:
    """Exact and near duplicates counted the plain way: a hash of every row."""
    row = pl.struct(data.columns)
    n_dup = int(data.select((~row.is_first_distinct()).sum()).item())
    n_near = int(
        data.select(
            (pl.struct("customer_id", "date").is_duplicated() & ~row.is_duplicated()).sum()
        ).item()
    )
    return n_dup, n_near


@pytest.mark.parametrize("order", ["sorted", "shuffled", "by-date"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_duplicate_counts_match_a_full_row_hash(order, seed):
    rng = np.random.default_rng(seed)
    n = 3_000
    data = pl.DataFrame(
        {
            "customer_id": [f"c{i:03d}" for i in rng.integers(0, 300, n)],
            "date": [
                dt.datetime(2020, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 20, n)
            ],
            "amount": rng.choice([1.0, 2.0, 5.0], n),
        }
    )
    if order == "sorted":
        data = data.sort("customer_id", "date")
    elif order == "by-date":
        data = data.sort("date")
    expected_dup, expected_near = _reference_duplicates(data)
    tx = clv.load_transactions(data, as_of=AS_OF, duplicates="drop")
    q = tx.quality
    assert (q.duplicate_rows, q.near_duplicate_rows) == (expected_dup, expected_near)
    assert q.rows_kept == n - expected_dup
    assert_frame_equal(tx.data, data.unique(maintain_order=True))
    assert tx.quality.rows_read == q.rows_kept + q.duplicate_rows_dropped


# --------------------------------------------------------------------------- scan


def test_scan_transactions_applies_the_loader_checks(tmp_path):
    good = pl.DataFrame(
        {
            "customer_id": ["a\u200b", " b ", "c"],
            "date": [dt.datetime(2020, 1, 1)] * 3,
            "amount": [1.0, 2.0, 3.0],
        }
    )
    good.write_parquet(tmp_path / "good.parquet")
    lf = clv.scan_transactions(tmp_path / "good.parquet")
    assert lf.collect()["customer_id"].to_list() == ["a", "b", "c"]
    bad = good.with_columns(
        pl.Series("customer_id", ["a", "\u200b", "c"]),
        pl.Series("amount", [1.0, 2e12, 1e300]),
    )
    bad.write_parquet(tmp_path / "bad.parquet")
    with pytest.raises(clv.TransactionDataError) as err:
        clv.scan_transactions(tmp_path / "bad.parquet")
    assert_mentions(str(err.value), "1 row with empty customer ids", "2 rows with amounts of")


def test_scan_transactions_reads_numeric_ids_as_text(tmp_path):
    pl.DataFrame(
        {"customer_id": [7, 42], "date": [dt.datetime(2020, 1, 1)] * 2, "amount": [1.0, 2.0]}
    ).write_parquet(tmp_path / "ids.parquet")
    data = clv.scan_transactions(tmp_path / "ids.parquet").collect()
    assert data["customer_id"].to_list() == ["7", "42"]
