"""The catalogue of bad inputs a scheduled grading run meets, each with its outcome.

| entry | outcome |
|---|---|
| missing column | error naming the column, the columns found, how to map it |
| misspelt column | error suggesting the close match (`customer_id='custmer_id'`) |
| unparseable dates | error with count, first line and `date_format=` advice |
| ambiguous dates (03/04/2020) | error: day/month orders are never guessed |
| mixed date formats | error suggesting `date_format=` |
| time-zone offsets | kept as local time of purchase, offsets counted |
| dates after the observation end | left out of the summary, counted by `window_counts` |
| null customer ids | error |
| empty customer ids | error |
| ids differing by whitespace | stripped, counted |
| ids differing by leading zeros | kept apart and counted, or merged with `leading_zeros='strip'` |
| non-numeric amounts | error |
| negative amounts | error (returns belong in their own column) |
| NaN / infinite amounts | error |
| exact duplicates | kept and counted (policy: keep / drop / error) |
| near duplicates | kept as separate orders, counted |
| a single customer | loads; fitting is a clear `ModelFitError` ("too few") |
| a single transaction | loads; fitting is a clear `ModelFitError` |
| all one-time buyers | loads; fitting is a clear `ModelFitError`; the report renders a warning |
| empty file | error |
| header-only file | error |
| truncated Parquet | error: not a complete file |
| CSV with a BOM | loads |
| GBK-encoded Chinese | error naming the encoding it reads as; loads with `encoding='gbk'` |
| other non-UTF-8 file | error with encoding advice |
| 10 columns, extras | loads the mapped columns, ignores the rest |
| trailing blank lines | dropped and counted |
| UTF-16 with byte-order mark FF FE | loads, decoded as UTF-16, noted |
| UTF-16 with byte-order mark FE FF | loads, decoded as UTF-16, noted |
| UTF-16LE without byte-order mark | recognised by its NUL bytes, loads, noted |
| CR-only line ends | every row loads (not one giant row), noted |
| UTF-16 and CR-only line ends | loads, both noted |
| zero-width characters in ids | stripped, counted in `id_characters_stripped`, noted |
| NUL and control characters in ids | stripped, counted in `id_characters_stripped`, noted |
| id made only of zero-width characters | error: an empty customer id |
| amount of 10**12 | error: too large to add up exactly (`MAX_AMOUNT`), count, line, value |
| amount of 1e300 | error: too large to add up exactly (no raw polars error) |
| largest amount below the bound | loads |
| thousands separators without thousands= | error advising `thousands=','` |
| thousands separators with thousands=',' | loads (1,289.15 -> 1289.15) |
| decimal comma without decimal= | error advising `decimal=','` |
| decimal comma and thousands dot without options | error advising `decimal=','`, `thousands='.'` |
| decimal comma and thousands dot with options | loads (1.289,15 -> 1289.15) |
| decimal comma read with thousands=',' | error (never read as 1250), advising `decimal=','` |
| decimal equal to thousands | `ValueError` naming both |
| thousands separator not offered | `ValueError` listing the choices |
| integer ids in Parquet | text, counted in `ids_read_from_numbers`, noted: leading zeros lost |
| whole float ids | 7.0 -> "7", counted, noted |
| float ids with a fraction | error: ids must be whole numbers |
| unknown time zone | `ValueError` naming `time_zone=` and an example ('Asia/Shanghai') |
| offsets converted with time_zone= | local time there, counted: `time_zone_offsets_converted` |
| customer total beyond Int64 micro-units | summary sums in Int128: equal to exact integer sums |
| 1e300 / NaN / inf in a frame given to the summary | `ValueError` naming the customer |
"""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clv

HEADER = "customer_id,date,amount"


def _csv(tmp_path, *lines: str, name: str = "log.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def _error(source, **kwargs) -> str:
    with pytest.raises(clv.TransactionDataError) as err:
        clv.load_transactions(source, as_of="2030-01-01", **kwargs)
    return str(err.value)


def _frame(amounts) -> pl.DataFrame:
    n = len(amounts)
    return pl.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "date": [dt.date(2020, 1, 1)] * n,
            "amount": amounts,
        }
    )


def test_missing_column(tmp_path):
    message = _error(_csv(tmp_path, "customer_id,date", "a,2020-01-01"))
    assert "column 'amount' (amount) is missing" in message
    assert "['customer_id', 'date']" in message and "pass amount=" in message


def test_misspelt_column(tmp_path):
    message = _error(_csv(tmp_path, "custmer_id,date,amount", "a,2020-01-01,1"))
    assert "did you mean 'custmer_id'? pass customer_id='custmer_id'" in message


def test_unparseable_dates(tmp_path):
    message = _error(_csv(tmp_path, HEADER, "a,2020-01-01,1", "b,soon,2"))
    assert "1 row whose dates" in message and "line 3: 'soon'" in message
    assert "date_format=" in message


def test_ambiguous_dates_are_never_guessed(tmp_path):
    message = _error(_csv(tmp_path, HEADER, "a,03/04/2020,1", "b,05/06/2020,2"))
    assert "2 rows whose dates" in message and "date_format=" in message
    tx = clv.load_transactions(
        _csv(tmp_path, HEADER, "a,03/04/2020,1", name="dm.csv"),
        date_format="%d/%m/%Y",
        as_of="2030-01-01",
    )
    assert tx.data["date"][0] == dt.datetime(2020, 4, 3)


def test_mixed_date_formats(tmp_path):
    message = _error(_csv(tmp_path, HEADER, "a,2020-01-01,1", "b,2020/01/02,2", "c,20200103,3"))
    assert "one unambiguous format" in message and "date_format=" in message


def test_time_zone_offsets_keep_local_time(tmp_path):
    path = _csv(tmp_path, HEADER, "a,2020-01-01T23:30:00+08:00,1", "a,2020-01-02T01:00:00Z,2")
    tx = clv.load_transactions(path, as_of="2030-01-01")
    assert tx.data["date"].to_list() == [
        dt.datetime(2020, 1, 1, 23, 30),
        dt.datetime(2020, 1, 2, 1, 0),
    ]
    assert tx.quality.time_zone_offsets_removed == 2


def test_dates_after_observation_end_are_left_out_and_counted(tmp_path):
    path = _csv(tmp_path, HEADER, "a,2020-01-01,1", "a,2020-02-01,2", "a,2020-03-01,3")
    tx = clv.load_transactions(path, as_of="2030-01-01")
    summary = clv.summarize(tx, observation_end="2020-02-15")
    assert summary["frequency"].to_list() == [1]
    assert clv.window_counts(tx, observation_end="2020-02-15").after_observation_end == 1


def test_null_customer_ids(tmp_path):
    assert "1 row with no customer id (first at line 3)" in _error(
        _csv(tmp_path, HEADER, "a,2020-01-01,1", ",2020-01-02,2")
    )


def test_empty_customer_ids():
    frame = pl.DataFrame(
        {"customer_id": ["a", "  "], "date": [dt.date(2020, 1, 1)] * 2, "amount": [1.0, 2.0]}
    )
    assert "1 row with an empty customer id (first at row 2)" in _error(frame)


def test_ids_differing_by_whitespace_are_stripped_and_counted(tmp_path):
    tx = clv.load_transactions(
        _csv(tmp_path, HEADER, "a,2020-01-01,1", " a ,2020-01-02,2"), as_of="2030-01-01"
    )
    assert tx.n_customers == 1 and tx.quality.customer_ids_stripped == 1


def test_ids_differing_by_leading_zeros(tmp_path):
    path = _csv(tmp_path, HEADER, "007,2020-01-01,1", "7,2020-01-02,2", "8,2020-01-03,3")
    kept = clv.load_transactions(path, as_of="2030-01-01")
    assert kept.n_customers == 3 and kept.quality.ids_differing_by_leading_zeros == 2
    merged = clv.load_transactions(path, as_of="2030-01-01", leading_zeros="strip")
    assert merged.n_customers == 2 and merged.quality.ids_differing_by_leading_zeros == 2


@pytest.mark.parametrize(
    ("amounts", "what"),
    [
        (["1", "12,50"], "amounts that are not numbers"),
        (["1", "$3"], "amounts that are not numbers"),
        (["1", "-4"], "negative amounts"),
    ],
)
def test_bad_amount_text(tmp_path, amounts, what):
    lines = [f"c{i},2020-01-0{i + 1},{a}" for i, a in enumerate(amounts)]
    path = _csv(tmp_path, HEADER, *[line.replace("12,50", '"12,50"') for line in lines])
    message = _error(path)
    assert f"1 row with {what} (first at line 3" in message


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_amounts(bad):
    message = _error(_frame([1.0, bad]))
    assert "1 row with amounts that are NaN or infinite (first at row 2" in message


def test_exact_duplicates_follow_the_policy(tmp_path):
    path = _csv(tmp_path, HEADER, "a,2020-01-01,1", "a,2020-01-01,1")
    kept = clv.load_transactions(path, as_of="2030-01-01")
    assert len(kept) == 2 and kept.quality.duplicate_rows == 1
    dropped = clv.load_transactions(path, as_of="2030-01-01", duplicates="drop")
    assert len(dropped) == 1 and dropped.quality.duplicate_rows_dropped == 1
    assert "repeat an earlier row exactly" in _error(path, duplicates="error")


def test_near_duplicates_are_kept_and_counted(tmp_path):
    path = _csv(tmp_path, HEADER, "a,2020-01-01,1", "a,2020-01-01,5", "b,2020-01-01,1")
    tx = clv.load_transactions(path, as_of="2030-01-01")
    assert len(tx) == 3 and tx.quality.near_duplicate_rows == 2
    # summaries add them up per day: one purchase day worth 6
    summary = clv.summarize(tx, observation_end="2020-01-31")
    assert summary.filter(pl.col("customer_id") == "a")["revenue"].item() == 6.0


def _fit_error(tx) -> str:
    summary = clv.summarize(tx, freq="D", time_unit="W")
    with pytest.raises(clv.ModelFitError) as err:
        clv.models.fit_purchase_model_with_fallback(summary)
    return str(err.value)


def test_single_customer(tmp_path):
    tx = clv.load_transactions(
        _csv(tmp_path, HEADER, "a,2020-01-01,1", "a,2020-02-01,2"), as_of="2030-01-01"
    )
    assert "1 customers with 1 repeat buyers are too few" in _fit_error(tx)


def test_single_transaction(tmp_path):
    tx = clv.load_transactions(_csv(tmp_path, HEADER, "a,2020-01-01,1"), as_of="2030-01-01")
    assert "none of the 1 customers has a repeat purchase" in _fit_error(tx)


def test_all_one_time_buyers(tmp_path):
    lines = [f"c{i},2020-01-{i + 1:02d},{i + 1}" for i in range(25)]
    tx = clv.load_transactions(_csv(tmp_path, HEADER, *lines), as_of="2030-01-01")
    message = _fit_error(tx)
    assert "none of the 25 customers has a repeat purchase" in message
    assert "longer observation window" in message


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert "the file is empty" in _error(path)


def test_header_only_file(tmp_path):
    assert "has a header but no rows" in _error(_csv(tmp_path, HEADER))


def test_truncated_parquet(tmp_path):
    good = tmp_path / "good.parquet"
    _frame([1.0, 2.0, 3.0]).write_parquet(good)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert "could not be read" in _error(cut)


def test_csv_with_bom(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffcustomer_id,date,amount\na,2020-01-01,1\n".encode())
    assert clv.load_transactions(path, as_of="2030-01-01").data.columns[0] == "customer_id"


def test_gbk_encoded_chinese(tmp_path):
    path = _csv(tmp_path, HEADER, "张三,2020-01-01,1", "李四,2020-01-02,2", encoding="gbk")
    message = _error(path)
    assert "not UTF-8" in message and "gb18030" in message
    tx = clv.load_transactions(path, as_of="2030-01-01", encoding="gbk")
    assert tx.data["customer_id"].to_list() == ["张三", "李四"]


def test_other_non_utf8_file(tmp_path):
    path = _csv(tmp_path, HEADER, "Zoë,2020-01-01,1", encoding="latin-1")
    assert "encoding='utf8-lossy'" in _error(path)
    tx = clv.load_transactions(path, as_of="2030-01-01", encoding="latin-1")
    assert tx.data["customer_id"].to_list() == ["Zoë"]


def test_ten_column_file_with_extra_columns(tmp_path):
    header = "order_id,shop,customer_id,sku,date,channel,amount,currency,coupon,note"
    path = _csv(
        tmp_path, header, "1,s1,a,x,2020-01-01,web,10,CNY,,hi", "2,s2,b,y,2020-01-02,app,20,CNY,C1,"
    )
    tx = clv.load_transactions(path, as_of="2030-01-01")
    assert tx.data.columns == ["customer_id", "date", "amount"]
    assert tx.data["amount"].to_list() == [10.0, 20.0]


def test_trailing_blank_lines(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text(f"{HEADER}\na,2020-01-01,1\n\n\n", encoding="utf-8")
    tx = clv.load_transactions(path, as_of="2030-01-01")
    assert len(tx) == 1 and tx.quality.blank_rows_dropped >= 1


# --- every row accounted for, whatever the policies ----------------------------------


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "007", "7", " c "]),
            st.integers(min_value=0, max_value=5),
            st.sampled_from([0.0, 1.0, 2.5, 10.0]),
        ),
        min_size=1,
        max_size=40,
    ),
    duplicates=st.sampled_from(["keep", "drop"]),
    zero_amounts=st.sampled_from(["keep", "drop"]),
    leading_zeros=st.sampled_from(["keep", "strip"]),
)
def test_every_row_is_accounted_for(rows, duplicates, zero_amounts, leading_zeros):
    frame = pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "date": [dt.date(2020, 1, 1) + dt.timedelta(days=r[1]) for r in rows],
            "amount": [r[2] for r in rows],
        }
    )
    try:
        tx = clv.load_transactions(
            frame,
            as_of="2030-01-01",
            duplicates=duplicates,
            zero_amounts=zero_amounts,
            leading_zeros=leading_zeros,
        )
    except clv.TransactionDataError:
        return  # nothing is invalid here, but a refusal would still lose no row silently
    q = tx.quality
    assert q.rows_read == len(rows)
    assert q.rows_kept == len(tx)
    assert q.rows_read == (
        q.rows_kept + q.duplicate_rows_dropped + q.zero_amount_rows_dropped + q.blank_rows_dropped
    )
    if zero_amounts == "drop":
        assert (tx.data["amount"] > 0).all()
    # and the summary uses every kept row: its revenue is the kept amount
    summary = clv.summarize(tx, observation_end="2020-01-31")
    assert summary["revenue"].sum() == pytest.approx(tx.data["amount"].sum())


# --- the catalogue of encodings, separators, ids, bounds and time zones ---------------


def _write(tmp_path, text: str, name: str = "log.csv", encoding: str = "utf-8", bom: bytes = b""):
    path = tmp_path / name
    path.write_bytes(bom + text.encode(encoding))
    return path


BODY = f"{HEADER}\na,2020-01-01,1\nb,2020-01-02,2\nc,2020-01-03,3\n"


def _loads(rows: int, note: str = "", **fields: int):
    """Outcome: the log loads with ``rows`` rows, ``fields`` as counted, a note."""

    def check(tx: clv.TransactionLog) -> None:
        q = tx.quality
        assert q.rows_read == q.rows_kept == len(tx) == rows
        for name, value in fields.items():
            assert getattr(q, name) == value, name
        assert not note or any(note in n for n in q.notes), q.notes

    return check


def _ids(*ids: str):
    def check(tx: clv.TransactionLog) -> None:
        assert tx.data["customer_id"].to_list() == list(ids)

    return check


def _amounts(*values: float):
    def check(tx: clv.TransactionLog) -> None:
        assert tx.data["amount"].to_list() == list(values)

    return check


def _id_frame(ids, dtype) -> pl.DataFrame:
    return pl.DataFrame(
        {"customer_id": ids, "date": [dt.date(2020, 1, 1)] * len(ids), "amount": [1.0] * len(ids)},
        schema_overrides={"customer_id": dtype},
    )


def _parquet(tmp_path, frame: pl.DataFrame):
    path = tmp_path / "log.parquet"
    frame.write_parquet(path)
    return path


# (entry, source made from tmp_path, options, outcome): an outcome is either a
# (exception class, words of its message) pair or a list of checks of the log
CATALOGUE = [
    (
        "UTF-16 with byte-order mark FF FE",
        lambda p: _write(p, BODY, encoding="utf-16-le", bom=b"\xff\xfe"),
        {},
        [_loads(3, "UTF-16 text (byte-order mark FF FE)"), _ids("a", "b", "c")],
    ),
    (
        "UTF-16 with byte-order mark FE FF",
        lambda p: _write(p, BODY, encoding="utf-16-be", bom=b"\xfe\xff"),
        {},
        [_loads(3, "UTF-16 text (byte-order mark FE FF)"), _amounts(1.0, 2.0, 3.0)],
    ),
    (
        "UTF-16LE without byte-order mark",
        lambda p: _write(p, BODY, encoding="utf-16-le"),
        {},
        [_loads(3, "NUL bytes in every other position"), _ids("a", "b", "c")],
    ),
    (
        "CR-only line ends",
        lambda p: _write(p, BODY.replace("\n", "\r")),
        {},
        [_loads(3, "end in CR alone"), _amounts(1.0, 2.0, 3.0)],
    ),
    (
        "UTF-16 and CR-only line ends",
        lambda p: _write(p, BODY.replace("\n", "\r"), encoding="utf-16-le", bom=b"\xff\xfe"),
        {},
        [_loads(3, "end in CR alone"), _ids("a", "b", "c")],
    ),
    (
        "zero-width characters in ids",
        lambda p: _write(
            p, f"{HEADER}\na\u200b,2020-01-01,1\n\u2060a,2020-01-02,2\nb\ufeff\u200c,2020-01-03,3\n"
        ),
        {},
        [_loads(3, "invisible characters", id_characters_stripped=3), _ids("a", "a", "b")],
    ),
    (
        "NUL and control characters in ids",
        lambda p: _write(p, f"{HEADER}\nb\x00,2020-01-01,1\nb\x07,2020-01-02,2\nb,2020-01-03,3\n"),
        {},
        [_loads(3, "NUL", id_characters_stripped=2), _ids("b", "b", "b")],
    ),
    (
        "id made only of zero-width characters",
        lambda p: _write(p, f"{HEADER}\na,2020-01-01,1\n\u200b\u200d,2020-01-02,2\n"),
        {},
        (clv.TransactionDataError, ["1 row with an empty customer id", "first at line 3"]),
    ),
    (
        "amount of 10**12",
        lambda p: _write(p, f"{HEADER}\na,2020-01-01,1\nb,2020-01-02,1000000000000\n"),
        {},
        (
            clv.TransactionDataError,
            ["1 row with amounts of 1,000,000,000,000 or more", "line 3: '1000000000000'"],
        ),
    ),
    (
        "amount of 1e300",
        lambda p: _frame([1.0, 1e300, 2e300]),
        {},
        (
            clv.TransactionDataError,
            ["2 rows with amounts of 1,000,000,000,000 or more", "row 2: 1e+300", "currency"],
        ),
    ),
    (
        "largest amount below the bound",
        lambda p: _frame([999_999_999_999.99]),
        {},
        [_loads(1), _amounts(999_999_999_999.99)],
    ),
    (
        "thousands separators without thousands=",
        lambda p: _write(p, f'{HEADER}\na,2020-01-01,12\nb,2020-01-02,"1,289.15"\n'),
        {},
        (clv.TransactionDataError, ["not numbers", "line 3: '1,289.15'", "pass thousands=','"]),
    ),
    (
        "thousands separators with thousands=','",
        lambda p: _write(p, f'{HEADER}\na,2020-01-01,"1,289.15"\nb,2020-01-02,"12,000,000"\n'),
        {"thousands": ","},
        [_loads(2), _amounts(1289.15, 12_000_000.0)],
    ),
    (
        "decimal comma without decimal=",
        lambda p: _write(p, f'{HEADER}\na,2020-01-01,"12,50"\n'),
        {},
        (clv.TransactionDataError, ["not numbers", "'12,50'", "pass decimal=','"]),
    ),
    (
        "decimal comma and thousands dot without options",
        lambda p: _write(p, f'{HEADER}\na,2020-01-01,"1.289,15"\n'),
        {},
        (clv.TransactionDataError, ["pass decimal=',' and pass thousands='.'"]),
    ),
    (
        "decimal comma and thousands dot with options",
        lambda p: _write(p, f'{HEADER}\na,2020-01-01,"1.289,15"\nb,2020-01-02,"0,5"\n'),
        {"decimal": ",", "thousands": "."},
        [_loads(2), _amounts(1289.15, 0.5)],
    ),
    (
        "decimal comma read with thousands=','",
        lambda p: _write(p, f'{HEADER}\na,2020-01-01,"12,50"\n'),
        {"thousands": ","},
        (clv.TransactionDataError, ["not numbers", "pass decimal=','", "leave out thousands="]),
    ),
    (
        "decimal equal to thousands",
        lambda p: _write(p, BODY),
        {"decimal": ",", "thousands": ","},
        (ValueError, ["decimal=','", "thousands=','", "the same character"]),
    ),
    (
        "thousands separator not offered",
        lambda p: _write(p, BODY),
        {"thousands": "#"},
        (ValueError, ["thousands='#'", "thousands=','"]),
    ),
    (
        "integer ids in Parquet",
        lambda p: _parquet(p, _id_frame([7, 7, 42], pl.Int64)),
        {},
        [_loads(3, "leading zeros", ids_read_from_numbers=3), _ids("7", "7", "42")],
    ),
    (
        "whole float ids",
        lambda p: _parquet(p, _id_frame([7.0, 42.0], pl.Float64)),
        {},
        [_loads(2, "store the ids as text", ids_read_from_numbers=2), _ids("7", "42")],
    ),
    (
        "float ids with a fraction",
        lambda p: _id_frame([7.0, 7.5], pl.Float64),
        {},
        (clv.TransactionDataError, ["1 row with customer ids that are numbers", "row 2: 7.5"]),
    ),
    (
        "unknown time zone",
        lambda p: _write(p, BODY),
        {"time_zone": "Asia/Shangai"},
        (ValueError, ["time_zone='Asia/Shangai'", "time_zone='Asia/Shanghai'"]),
    ),
    (
        "offsets converted with time_zone=",
        lambda p: _write(
            p,
            f"{HEADER}\na,2020-01-01T23:30:00Z,1\na,2020-01-02T01:00:00+08:00,2\na,2020-01-03,3\n",
        ),
        {"time_zone": "Asia/Shanghai"},
        [
            _loads(3, "Asia/Shanghai", time_zone_offsets_converted=2, time_zone_offsets_removed=0),
            lambda tx: (
                tx.data["date"].to_list()
                == [
                    dt.datetime(2020, 1, 2, 7, 30),
                    dt.datetime(2020, 1, 2, 1),
                    dt.datetime(2020, 1, 3),
                ]
            ),
        ],
    ),
]


@pytest.mark.parametrize(
    ("make", "options", "outcome"),
    [pytest.param(*case[1:], id=case[0]) for case in CATALOGUE],
)
def test_catalogue(tmp_path, make, options, outcome):
    source = make(tmp_path)
    if isinstance(outcome, tuple):
        error, words = outcome
        with pytest.raises(error) as err:
            clv.load_transactions(source, as_of="2030-01-01", **options)
        for word in words:
            assert word in str(err.value), f"{word!r} not in {err.value}"
        return
    tx = clv.load_transactions(source, as_of="2030-01-01", **options)
    for check in outcome:
        assert check(tx) is not False


def test_catalogue_is_in_the_table():
    entries = {line.split("|")[1].strip() for line in __doc__.splitlines() if line.startswith("|")}
    missing = [case[0] for case in CATALOGUE if case[0] not in entries]
    assert not missing, f"add to the module docstring: {missing}"


# --- sums beyond Int64 micro-units --------------------------------------------------


def _exact_total(amounts) -> float:
    """A customer's total as exact Python integer micro-units, in currency."""
    return float(sum(round(a * 1_000_000) for a in amounts)) / 1_000_000


def test_customer_total_beyond_int64_micro_units_is_exact(tmp_path):
    # ten amounts just below the bound: 1e13 currency units = 1e19 micro-units, past
    # Int64's 9.2e18, which wrapped round to a negative revenue before
    amounts = [999_999_999_999.99] * 10 + [0.01]
    lines = [f"big,2020-01-{i + 1:02d},{a}" for i, a in enumerate(amounts)]
    tx = clv.load_transactions(
        _csv(tmp_path, HEADER, *lines, "small,2020-01-01,5"), as_of="2030-01-01"
    )
    summary = clv.summarize(tx, observation_end="2020-01-31")
    big = summary.filter(pl.col("customer_id") == "big")
    assert big["revenue"].item() == _exact_total(amounts) > 9.2e12
    assert big["monetary_value"].item() == _exact_total(amounts[1:]) / 10
    assert summary.filter(pl.col("customer_id") == "small")["revenue"].item() == 5.0


def test_calibration_holdout_sums_beyond_int64_are_exact():
    amounts = [900_000_000_000.5] * 12
    frame = pl.DataFrame(
        {
            "customer_id": ["a"] * 12,
            "date": [dt.datetime(2020, m, 1) for m in range(1, 13)],
            "amount": amounts,
        }
    )
    split = clv.calibration_holdout(
        frame, calibration_end="2020-06-30", observation_end="2020-12-31"
    )
    assert split["revenue_cal"].item() == _exact_total(amounts[:6])
    assert split["revenue_holdout"].item() == _exact_total(amounts[6:]) > 5e12


@settings(max_examples=40, deadline=None)
@given(
    amounts=st.lists(
        st.floats(min_value=0, max_value=999_999_999_999.99, allow_nan=False),
        min_size=1,
        max_size=30,
    )
)
def test_summary_totals_equal_exact_integer_sums(amounts):
    frame = pl.DataFrame(
        {
            "customer_id": ["a"] * len(amounts),
            "date": [dt.datetime(2020, 1, 1) + dt.timedelta(days=i) for i in range(len(amounts))],
            "amount": amounts,
        }
    )
    summary = clv.summarize(frame, observation_end="2020-12-31")
    assert summary["revenue"].item() == _exact_total(amounts)
    assert summary["revenue"].item() >= 0


@pytest.mark.parametrize("bad", [1e300, math.nan, math.inf])
def test_summary_of_an_unchecked_frame_names_the_customer(bad):
    frame = _frame([1.0, bad])
    with pytest.raises(ValueError, match="customer 'c1' has an amount of") as err:
        clv.summarize(frame)
    assert "clv.load_transactions" in str(err.value)
    assert not isinstance(err.value, pl.exceptions.PolarsError)
