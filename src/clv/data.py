"""Load and validate transaction logs.

A transaction log has one row per purchase: who bought (``customer_id``), when
(``date``) and for how much (``amount``), optionally how many items
(``quantity``). :func:`load_transactions` reads it from CSV, Parquet or a polars
frame, maps the caller's column names onto these, checks every row and returns
a :class:`TransactionLog`: the clean data plus a :class:`DataQuality` record
that counts every row that was dropped or corrected. Rows are never lost
silently: a problem is either an error that says what to do, or a counted
policy the caller chose.
"""

from __future__ import annotations

import datetime as dt
import difflib
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl

__all__ = [
    "DataQuality",
    "TransactionDataError",
    "TransactionLog",
    "load_transactions",
    "scan_transactions",
]

Policy = Literal["keep", "drop", "error"]
_POLICIES = ("keep", "drop", "error")

# Formats tried, in order, when no ``date_format`` is given. Only formats whose
# reading is unambiguous are here: day/month orders such as 03/04/1997 are
# never guessed.
_AUTO_DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d",
    "%Y%m%d",
    "%Y/%m/%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y/%m/%d %H:%M:%S",
)

_OFFSET = r"(?<time>\d{2}:\d{2}(:\d{2}(\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})$"
_ROW = "_clv_row"  # 0-based position of a row in the input, for error messages


class TransactionDataError(ValueError):
    """A transaction log that cannot be used as it is.

    ``problems`` lists each problem found, one sentence each, saying what is
    wrong, where, and what to do.
    """

    def __init__(self, problems: Sequence[str], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        head = f"transaction log {source}: " if source else "transaction log: "
        if len(self.problems) == 1:
            message = head + self.problems[0]
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            message = f"{head}{len(self.problems)} problems\n{lines}"
        super().__init__(message)


@dataclass(frozen=True)
class DataQuality:
    """What loading did to the rows of a log. Every input row is accounted for.

    ``rows_read == rows_kept + duplicate_rows_dropped + zero_amount_rows_dropped
    + blank_rows_dropped``
    """

    source: str
    rows_read: int
    rows_kept: int
    duplicate_rows: int = 0
    duplicate_rows_dropped: int = 0
    zero_amount_rows: int = 0
    zero_amount_rows_dropped: int = 0
    customer_ids_stripped: int = 0
    blank_rows_dropped: int = 0
    ids_differing_by_leading_zeros: int = 0
    near_duplicate_rows: int = 0
    time_zone_offsets_removed: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        """The record as a plain dictionary (for reports and JSON)."""
        return asdict(self)

    def __str__(self) -> str:
        lines = [f"data quality of {self.source}"]
        for key, value in self.as_dict().items():
            if key in ("source", "notes"):
                continue
            lines.append(f"  {key:<32} {value:>10,}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{k}</td><td style='text-align:right'>{v:,}</td></tr>"
            for k, v in self.as_dict().items()
            if k not in ("source", "notes")
        )
        notes = "".join(f"<li>{n}</li>" for n in self.notes)
        return f"<table><caption>data quality of {self.source}</caption>{rows}</table>" + (
            f"<ul>{notes}</ul>" if notes else ""
        )


@dataclass(frozen=True)
class TransactionLog:
    """A validated transaction log and the record of what validation did.

    ``data`` has the columns ``customer_id`` (String), ``date`` (Datetime, µs),
    ``amount`` (Float64) and, where the input had one, ``quantity`` (Int64).
    """

    data: pl.DataFrame
    quality: DataQuality

    def lazy(self) -> pl.LazyFrame:
        """The data as a polars LazyFrame."""
        return self.data.lazy()

    @property
    def n_customers(self) -> int:
        return self.data["customer_id"].n_unique()

    def __len__(self) -> int:
        return self.data.height


Source = str | Path | pl.DataFrame | pl.LazyFrame


def _read(source: Source, separator: str, encoding: str) -> tuple[pl.DataFrame, str, bool]:
    """Read the raw input. Returns (frame, label for messages, is_csv)."""
    if isinstance(source, pl.LazyFrame):
        return source.collect(), "(polars LazyFrame)", False
    if isinstance(source, pl.DataFrame):
        return source, "(polars DataFrame)", False
    path = Path(source)
    label = str(path)
    if not path.exists():
        raise TransactionDataError(
            [f"file not found; check the path (working directory is {Path.cwd()})"], label
        )
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq") or path.is_dir():
            return pl.read_parquet(path), label, False
        if suffix in (".csv", ".txt", ".tsv"):
            # Every column is read as text so that every cast below is ours and
            # every failure can be reported with its line.
            if encoding.lower().replace("-", "") in ("utf8", "utf8lossy"):
                data: Path | io.BytesIO = path
                polars_encoding = encoding
            else:  # any codec Python knows (gbk, gb18030, big5, latin-1...), re-encoded
                try:
                    text = path.read_bytes().decode(encoding)
                except LookupError:
                    raise TransactionDataError(
                        [f"encoding={encoding!r} is unknown; use e.g. 'utf8', 'gbk', 'gb18030'"],
                        label,
                    ) from None
                except UnicodeDecodeError as exc:
                    raise TransactionDataError(
                        [f"is not valid {encoding} text (byte {exc.start}); check the encoding"],
                        label,
                    ) from None
                data, polars_encoding = io.BytesIO(text.encode("utf-8")), "utf8"
            frame = pl.read_csv(
                data,
                separator="\t" if suffix == ".tsv" and separator == "," else separator,
                infer_schema=False,
                encoding=polars_encoding,
            )
            return frame, label, True
    except pl.exceptions.NoDataError:
        raise TransactionDataError(
            ["the file is empty; export the log again with a header row and data rows"], label
        ) from None
    except (pl.exceptions.ComputeError, OSError) as exc:
        if "utf-8" in str(exc).lower() or "utf8" in str(exc).lower():
            advice = (
                "it is not UTF-8 text; save it as UTF-8 (Excel: CSV UTF-8), pass the file's "
                f"encoding{_guess_encoding(path)}, or encoding='utf8-lossy' to replace the "
                "unreadable characters"
            )
        else:
            advice = "check that it is a complete file"
        raise TransactionDataError(
            [f"could not be read ({type(exc).__name__}: {exc}); {advice}"], label
        ) from None
    raise TransactionDataError(
        [f"unknown file type {suffix!r}; give a .csv, .tsv, .txt or .parquet file"], label
    )


def _guess_encoding(path: Path) -> str:
    """A hint naming the Chinese encoding a non-UTF-8 file decodes as, if any."""
    raw = path.read_bytes()[: 1 << 20]
    for codec in ("gb18030", "big5"):
        try:
            raw.decode(codec)
        except UnicodeDecodeError:
            continue
        return f" (it reads as {codec}: encoding={codec!r})"
    return " (e.g. encoding='latin-1')"


def _rows(n: int) -> str:
    return "1 row" if n == 1 else f"{n:,} rows"


def _where(row: int, is_csv: bool) -> str:
    # CSV line numbers count the header as line 1.
    return f"line {row + 2}" if is_csv else f"row {row + 1}"


def _first(frame: pl.DataFrame, mask: pl.Expr, column: str) -> tuple[int, int, object]:
    """Count rows matching ``mask``; return (count, first row, first value).

    One pass without copying the frame (a filter would copy every column)."""
    hit = frame.select(mask.fill_null(False).alias("m")).select(
        pl.col("m").sum().alias("n"), pl.col("m").arg_max().alias("i")
    )
    n = int(hit["n"][0] or 0)
    if n == 0:
        return 0, -1, None
    i = int(hit["i"][0])
    return n, int(frame[_ROW][i]), frame[column][i]


def _parse_dates(
    column: pl.Series, date_format: str | None
) -> tuple[pl.Series, str | None, str | None]:
    """Parse a date column to Datetime(us).

    Returns (parsed, format used, problem) where ``problem`` explains a
    column no format could read; unparsed values are null in ``parsed``.
    """
    if column.dtype == pl.Date:
        return column.cast(pl.Datetime("us")), None, None
    if isinstance(column.dtype, pl.Datetime):
        if column.dtype.time_zone is not None:
            column = column.dt.replace_time_zone(None)
        return column.cast(pl.Datetime("us")), None, None
    if column.dtype != pl.String:
        return (
            pl.Series(column.name, [None] * len(column), dtype=pl.Datetime("us")),
            None,
            f"are of type {column.dtype}, not dates; give dates as text (YYYY-MM-DD) or a "
            "date type",
        )
    text = column.str.strip_chars()
    if not date_format:
        # "10:30:00+08:00" or "10:30:00Z": keep the local time, drop the offset
        text = text.str.replace(_OFFSET, "${time}")
    formats = (date_format,) if date_format else _AUTO_DATE_FORMATS
    best: tuple[int, pl.Series, str] | None = None
    for fmt in formats:
        parsed = text.str.strptime(pl.Datetime("us"), fmt, strict=False)
        n_bad = int((parsed.is_null() & text.is_not_null()).sum())
        if n_bad == 0:
            return parsed, fmt, None
        if best is None or n_bad < best[0]:
            best = (n_bad, parsed, fmt)
    assert best is not None
    if not date_format:
        # ISO dates and ISO date-times mixed in one column are still unambiguous
        iso = [f for f in _AUTO_DATE_FORMATS if f.startswith("%Y-%m-%d")]
        mixed = (
            pl.select(
                pl.coalesce([text.str.strptime(pl.Datetime("us"), f, strict=False) for f in iso])
            )
            .to_series()
            .alias(column.name)
        )
        if int((mixed.is_null() & text.is_not_null()).sum()) == 0:
            return mixed, "ISO 8601 dates and date-times", None
    if date_format:
        hint = f"do not match date_format={date_format!r}; fix those rows or the format"
    else:
        hint = (
            "could not be read as dates in one unambiguous format (tried "
            + ", ".join(_AUTO_DATE_FORMATS[:4])
            + ", ...); pass date_format='%d/%m/%Y' or whichever format the file uses"
        )
    return best[1], best[2], hint


def load_transactions(
    source: Source,
    *,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
    quantity: str | None = None,
    date_format: str | None = None,
    as_of: str | dt.date | None = None,
    min_date: str | dt.date = "1900-01-01",
    duplicates: Policy = "keep",
    zero_amounts: Policy = "keep",
    leading_zeros: Literal["keep", "strip"] = "keep",
    separator: str = ",",
    encoding: str = "utf8",
) -> TransactionLog:
    """Load a transaction log and validate every row.

    Parameters
    ----------
    source
        Path to a CSV / TSV / Parquet file (or a directory of Parquet files),
        or a polars DataFrame / LazyFrame.
    customer_id, date, amount
        Names of the columns in ``source`` that hold the customer id, the
        purchase date and the amount spent (currency units).
    quantity
        Name of an optional column with the number of items. When None, a
        column called ``quantity`` is used if the input has one.
    date_format
        ``strftime`` format of the dates, e.g. ``"%d/%m/%Y"``. When None, a
        short list of unambiguous formats (ISO 8601, ``YYYYMMDD``,
        ``YYYY/MM/DD``) is tried; day-month orders are never guessed.
    as_of
        The date the log was exported: a transaction after it is an error.
        Defaults to today.
    min_date
        Transactions before this date are implausible and an error.
    duplicates
        Rows identical in every loaded column: ``"keep"`` them (they are real
        repeat orders), ``"drop"`` all but the first, or raise (``"error"``).
        Counted in :class:`DataQuality` either way.
    zero_amounts
        Rows with amount 0: ``"keep"`` (a purchase that cost nothing still
        counts as a purchase), ``"drop"`` or ``"error"``. Counted either way.
    leading_zeros
        Customer ids that differ only by leading zeros (``"007"``, ``"7"``):
        ``"keep"`` them apart or ``"strip"`` the zeros so they merge. Counted
        either way.
    separator, encoding
        CSV reading options (``encoding`` may be ``"utf8"`` or
        ``"utf8-lossy"``).

    Returns
    -------
    TransactionLog
        ``.data`` (polars DataFrame) and ``.quality`` (:class:`DataQuality`).

    Raises
    ------
    TransactionDataError
        Listing every problem found: missing columns, an empty log, null or
        empty customer ids, unparseable or implausible dates, missing,
        non-numeric, non-finite or negative amounts, bad quantities.

    Examples
    --------
    >>> import clv
    >>> tx = clv.load_transactions("data/cdnow/CDNOW_sample.csv")
    >>> tx.quality.rows_read
    6919
    """
    for name, policy in (("duplicates", duplicates), ("zero_amounts", zero_amounts)):
        if policy not in _POLICIES:
            raise ValueError(f"{name}={policy!r}; use one of {', '.join(_POLICIES)}")
    if leading_zeros not in ("keep", "strip"):
        raise ValueError(f"leading_zeros={leading_zeros!r}; use 'keep' or 'strip'")
    raw, label, is_csv = _read(source, separator, encoding)

    repeated = sorted({c.split("_duplicated_")[0] for c in raw.columns if "_duplicated_" in c})
    if repeated:
        raise TransactionDataError(
            [
                f"column {c!r} appears more than once in the header; rename or remove the "
                "extra copies so it is clear which one to use"
                for c in repeated
            ],
            label,
        )
    if quantity is None and "quantity" in raw.columns:
        quantity = "quantity"
    wanted = {"customer_id": customer_id, "date": date, "amount": amount}
    if quantity is not None:
        wanted["quantity"] = quantity
    missing = [(role, col) for role, col in wanted.items() if col not in raw.columns]
    if missing:
        problems = []
        for role, col in missing:
            close = difflib.get_close_matches(col, raw.columns, n=1, cutoff=0.6)
            hint = (
                f"did you mean {close[0]!r}? pass {role}={close[0]!r}"
                if close
                else f"pass {role}='<column name>' to say which column holds it"
            )
            problems.append(
                f"column {col!r} ({role}) is missing; the columns are {raw.columns}; {hint}"
            )
        raise TransactionDataError(problems, label)
    # blank lines (a trailing newline too many, say) read as rows with every field empty
    blank = raw.select(pl.all_horizontal(pl.all().is_null())).to_series()
    n_blank = int(blank.sum()) if is_csv else 0
    if raw.height == 0 or n_blank == raw.height:
        raise TransactionDataError(
            ["the log has a header but no rows; export it again with its transactions"], label
        )

    frame = raw.select([pl.col(col).alias(role) for role, col in wanted.items()]).with_row_index(
        _ROW
    )
    if n_blank:
        frame = frame.filter(~blank)
    problems: list[str] = []

    # customer ids: text, stripped of surrounding whitespace, never empty
    ids_raw = frame["customer_id"].cast(pl.String)
    ids = ids_raw.str.strip_chars()
    n_stripped = int((ids != ids_raw).sum())
    # ids such as "007" and "7": the same customer exported two ways, or two customers?
    distinct_ids = ids.drop_nulls().unique()
    n_zero_ids = int(distinct_ids.str.strip_chars_start("0").is_duplicated().sum())
    if leading_zeros == "strip":
        unpadded = ids.str.strip_chars_start("0")
        ids = pl.select(pl.when(unpadded == "").then(pl.lit("0")).otherwise(unpadded)).to_series()
    frame = frame.with_columns(ids.alias("customer_id"))
    n, row, _ = _first(frame, pl.col("customer_id").is_null(), "customer_id")
    if n:
        problems.append(
            f"column {customer_id!r} has {_rows(n)} with no customer id (first at "
            f"{_where(row, is_csv)}); fill them in or remove those rows before loading"
        )
    n, row, _ = _first(frame, pl.col("customer_id") == "", "customer_id")
    if n:
        problems.append(
            f"column {customer_id!r} has {_rows(n)} with an empty customer id (first at "
            f"{_where(row, is_csv)}); fill them in or remove those rows before loading"
        )

    # dates
    n_offsets = 0
    if frame["date"].dtype == pl.String and not date_format:
        n_offsets = int(frame["date"].str.strip_chars().str.contains(_OFFSET).sum())
    parsed, _fmt, date_problem = _parse_dates(frame["date"], date_format)
    original = frame["date"]
    frame = frame.with_columns(parsed.alias("date"), original.alias("_date_raw"))
    n, row, value = _first(frame, pl.col("_date_raw").is_null(), "_date_raw")
    if n:
        problems.append(
            f"column {date!r} has {_rows(n)} with no date (first at {_where(row, is_csv)}); "
            "fill them in or remove those rows before loading"
        )
    if date_problem:
        n, row, value = _first(
            frame, pl.col("date").is_null() & pl.col("_date_raw").is_not_null(), "_date_raw"
        )
        problems.append(
            f"column {date!r} has {_rows(n)} whose dates {date_problem} "
            f"(first at {_where(row, is_csv)}: {value!r})"
        )
    as_of_date = _as_date(as_of, "as_of") if as_of is not None else dt.date.today()
    min_date_ = _as_date(min_date, "min_date")
    n, row, value = _first(frame, pl.col("date").dt.date() > as_of_date, "date")
    if n:
        problems.append(
            f"column {date!r} has {_rows(n)} dated after the as-of date {as_of_date} (first at "
            f"{_where(row, is_csv)}: {value}); check the date format, or pass as_of= the "
            "export date"
        )
    n, row, value = _first(frame, pl.col("date").dt.date() < min_date_, "date")
    if n:
        problems.append(
            f"column {date!r} has {_rows(n)} dated before {min_date_}, which cannot be right "
            f"(first at {_where(row, is_csv)}: {value}); check the date format, or pass "
            "min_date= if such old purchases are real"
        )

    # amounts
    amount_raw = frame["amount"]
    if amount_raw.dtype == pl.String:
        amount_values = amount_raw.str.strip_chars().cast(pl.Float64, strict=False)
    elif amount_raw.dtype.is_numeric():
        amount_values = amount_raw.cast(pl.Float64)
    else:
        amount_values = pl.Series([None] * len(amount_raw), dtype=pl.Float64)
    frame = frame.with_columns(amount_values.alias("amount"), amount_raw.alias("_amount_raw"))
    checks = [
        (
            pl.col("_amount_raw").is_null(),
            "no amount",
            "fill them in (0 for a free order) or remove those rows",
        ),
        (
            pl.col("amount").is_null() & pl.col("_amount_raw").is_not_null(),
            "amounts that are not numbers",
            "remove currency symbols and thousands separators, use '.' for decimals",
        ),
        (
            pl.col("amount").is_nan() | pl.col("amount").is_infinite(),
            "amounts that are NaN or infinite",
            "fix or remove those rows",
        ),
        (
            (pl.col("amount") < 0) & pl.col("amount").is_finite(),
            "negative amounts",
            "returns belong in a separate 'return' column or should be removed",
        ),
    ]
    for mask, what, todo in checks:
        n, row, value = _first(frame, mask, "_amount_raw")
        if n:
            shown = "" if value is None else f": {value!r}"
            problems.append(
                f"column {amount!r} has {_rows(n)} with {what} (first at "
                f"{_where(row, is_csv)}{shown}); {todo}"
            )

    if quantity is not None:
        q_raw = frame["quantity"]
        q_text = q_raw.cast(pl.String).str.strip_chars()
        as_float = q_text.cast(pl.Float64, strict=False)
        whole = as_float.is_finite() & (as_float == as_float.floor())
        q_values = pl.select(
            pl.when(whole).then(as_float).otherwise(None).cast(pl.Int64, strict=False)
        ).to_series()
        frame = frame.with_columns(q_values.alias("quantity"), q_text.alias("_q_raw"))
        n, row, _ = _first(frame, pl.col("_q_raw").is_null(), "_q_raw")
        if n:
            problems.append(
                f"column {quantity!r} has {_rows(n)} with no quantity (first at "
                f"{_where(row, is_csv)}); fill them in, or load without quantity="
            )
        n, row, value = _first(
            frame,
            (pl.col("quantity").is_null() & pl.col("_q_raw").is_not_null())
            | (pl.col("quantity") < 0),
            "_q_raw",
        )
        if n:
            problems.append(
                f"column {quantity!r} has {_rows(n)} that are not whole numbers >= 0 (first "
                f"at {_where(row, is_csv)}: {value!r}); fix them, or load without quantity="
            )

    if problems:
        raise TransactionDataError(problems, label)

    keep_cols = ["customer_id", "date", "amount"] + (["quantity"] if quantity else [])
    frame = frame.select([_ROW, *keep_cols])
    notes: list[str] = []

    duplicated = frame.select(~pl.struct(keep_cols).is_first_distinct()).to_series()
    n_dup = int(duplicated.sum())
    # rows sharing customer and time with another row but not exact copies of one
    n_near = int(
        frame.select(
            pl.struct("customer_id", "date").is_duplicated() & ~pl.struct(keep_cols).is_duplicated()
        )
        .to_series()
        .sum()
    )
    n_dup_dropped = 0
    if n_dup and duplicates != "keep":
        first_dup = int(frame.filter(duplicated)[_ROW][0])
        if duplicates == "error":
            raise TransactionDataError(
                [
                    f"{n_dup:,} rows repeat an earlier row exactly (first at "
                    f"{_where(first_dup, is_csv)}); pass duplicates='keep' if they are "
                    "real repeat orders or duplicates='drop' to remove them"
                ],
                label,
            )
        frame = frame.filter(~duplicated)
        n_dup_dropped = n_dup
        notes.append(f"dropped {n_dup:,} exact duplicate rows")
    elif n_dup:
        notes.append(f"kept {n_dup:,} exact duplicate rows as repeat orders")

    is_zero = pl.col("amount") == 0
    n_zero = int(frame.select(is_zero.sum()).item())
    n_zero_dropped = 0
    if n_zero:
        if zero_amounts == "error":
            _, row, _ = _first(frame, is_zero, "amount")
            raise TransactionDataError(
                [
                    f"column {amount!r} has {n_zero:,} rows with amount 0 (first at "
                    f"{_where(row, is_csv)}); pass zero_amounts='keep' to count them as "
                    "purchases or zero_amounts='drop' to remove them"
                ],
                label,
            )
        if zero_amounts == "drop":
            frame = frame.filter(~is_zero)
            n_zero_dropped = n_zero
            notes.append(f"dropped {n_zero:,} rows with amount 0")
        else:
            notes.append(f"kept {n_zero:,} rows with amount 0 as purchases")
    if n_stripped:
        notes.append(f"stripped surrounding whitespace from {n_stripped:,} customer ids")
    if n_blank:
        notes.append(f"dropped {_rows(n_blank)} that were blank lines")
    if n_zero_ids:
        action = "merged" if leading_zeros == "strip" else "kept apart"
        notes.append(
            f"{n_zero_ids:,} customer ids differ from another only by leading zeros ('007' and "
            f"'7'); {action} (leading_zeros='{leading_zeros}')"
        )
    if n_near:
        notes.append(
            f"{_rows(n_near)} share customer and time with another row but differ in amount or "
            "quantity; kept as separate orders (summaries add them up per period)"
        )
    if n_offsets:
        notes.append(
            f"removed the time-zone offset of {_rows(n_offsets)}, keeping the local time of "
            "purchase"
        )

    data = frame.drop(_ROW)
    quality = DataQuality(
        source=label,
        rows_read=raw.height,
        rows_kept=data.height,
        duplicate_rows=n_dup,
        duplicate_rows_dropped=n_dup_dropped,
        zero_amount_rows=n_zero,
        zero_amount_rows_dropped=n_zero_dropped,
        customer_ids_stripped=n_stripped,
        blank_rows_dropped=n_blank,
        ids_differing_by_leading_zeros=n_zero_ids,
        near_duplicate_rows=n_near,
        time_zone_offsets_removed=n_offsets,
        notes=tuple(notes),
    )
    return TransactionLog(data=data, quality=quality)


def _as_date(value: str | dt.date | dt.datetime, name: str) -> dt.date:
    """Read a date argument given as ISO text or a date."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a date; give it as 'YYYY-MM-DD'") from None


def scan_transactions(
    source: str | Path,
    *,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
) -> pl.LazyFrame:
    """Scan a Parquet log, a folder of Parquet files (hive-partitioned, say by
    month) or a glob, without loading it: for logs bigger than memory.

    One streaming pass checks the rows (ids, dates and amounts present,
    amounts finite and >= 0) and raises :class:`TransactionDataError` with the
    counts if any is bad; the full checks and policies of
    :func:`load_transactions` need the log in memory.

    Returns
    -------
    polars.LazyFrame
        ``customer_id`` (String), ``date`` (Datetime), ``amount`` (Float64),
        ready for :func:`clv.summarize`, which streams it.
    """
    path = Path(source)
    label = str(path)
    if not path.exists() and "*" not in label:
        raise TransactionDataError(["file or folder not found; check the path"], label)
    target = path / "**" / "*.parquet" if path.is_dir() else path
    lf = pl.scan_parquet(target, hive_partitioning=path.is_dir())
    names = lf.collect_schema().names()
    missing = [c for c in (customer_id, date, amount) if c not in names]
    if missing:
        raise TransactionDataError(
            [
                f"columns {missing} are missing; the columns are {names}; pass customer_id=, "
                "date=, amount= to map them"
            ],
            label,
        )
    lf = lf.select(
        pl.col(customer_id).cast(pl.String).str.strip_chars().alias("customer_id"),
        pl.col(date).cast(pl.Datetime("us")).alias("date"),
        pl.col(amount).cast(pl.Float64).alias("amount"),
    )
    counts = (
        lf.select(
            pl.col("customer_id").is_null().sum().alias("no customer id"),
            (pl.col("customer_id") == "").sum().alias("empty customer ids"),
            pl.col("date").is_null().sum().alias("no date"),
            pl.col("amount").is_null().sum().alias("no amount"),
            (~pl.col("amount").is_finite()).sum().alias("amounts that are NaN or infinite"),
            (pl.col("amount") < 0).sum().alias("negative amounts"),
        )
        .collect(engine="streaming")
        .row(0, named=True)
    )
    problems = [
        f"{_rows(n)} with {what}; fix them at the source" for what, n in counts.items() if n
    ]
    if problems:
        raise TransactionDataError(problems, label)
    return lf
