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
