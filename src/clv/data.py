"""Load and validate transaction logs.

A transaction log has one row per purchase: who bought (``customer_id``), when
(``date``) and for how much (``amount``), optionally how many items
(``quantity``), the product category (``category``) and the order status
(``status``: ``completed``, ``cancelled`` or ``returned``). A count-only log
(``amount=None``) has no amounts: its customers are graded on purchases.
:func:`load_transactions` reads a log from CSV, Parquet or a polars frame,
maps the caller's column names onto these, checks every row and returns
a :class:`TransactionLog`: the clean data plus a :class:`DataQuality` record
that counts every row that was dropped or corrected. Rows are never lost
silently: a problem is either an error that says what to do, or a counted
policy the caller chose.
"""

from __future__ import annotations

import datetime as dt
import difflib
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl

__all__ = [
    "MAX_AMOUNT",
    "ORDER_STATUSES",
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

# Order statuses a log may carry, and the other spellings read as each (the
# Chinese ones of Chinese order exports). Only completed orders are purchases.
ORDER_STATUSES: tuple[str, ...] = ("completed", "cancelled", "returned")
_STATUS_SPELLINGS: dict[str, str] = {
    "completed": "completed",
    "cancelled": "cancelled",
    "returned": "returned",
    "已完成": "completed",
    "已取消": "cancelled",
    "已退货": "returned",
}

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

    ``has_amounts`` is False for a count-only log (loaded with
    ``amount=None``): there are no amounts, so no amount was checked and the
    zero-amount counts are 0. With a status column, ``cancelled_orders`` and
    ``returned_orders`` count the orders that are kept in the log but left out
    of every summary (:func:`clv.summarize` counts completed orders only); with
    a category column, ``orders_without_category`` counts the orders whose
    category is empty (kept, with a null category).

    The other counts are of rows corrected, never dropped: ids stripped of
    surrounding whitespace (``customer_ids_stripped``) or of invisible
    characters such as zero-width spaces and NUL (``id_characters_stripped``),
    ids read from a numeric column (``ids_read_from_numbers``), date-times
    whose offset was dropped (``time_zone_offsets_removed``) or converted with
    ``time_zone=`` (``time_zone_offsets_converted``).
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
    time_zone_offsets_converted: int = 0
    id_characters_stripped: int = 0
    ids_read_from_numbers: int = 0
    cancelled_orders: int = 0
    returned_orders: int = 0
    orders_without_category: int = 0
    has_amounts: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        """The record as a plain dictionary (for reports and JSON)."""
        return asdict(self)

    def __str__(self) -> str:
        lines = [f"data quality of {self.source}"]
        for key, value in self.as_dict().items():
            if key in ("source", "notes"):
                continue
            shown = ("yes" if value else "no") if isinstance(value, bool) else f"{value:,}"
            lines.append(f"  {key:<32} {shown:>10}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{k}</td><td style='text-align:right'>"
            f"{('yes' if v else 'no') if isinstance(v, bool) else f'{v:,}'}</td></tr>"
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
    ``amount`` (Float64; absent from a count-only log) and, where the input
    had them, ``quantity`` (Int64), ``margin`` (Float64), ``category``
    (String) and ``status`` (String: ``completed``, ``cancelled`` or
    ``returned``). ``data`` holds every order, whatever its status.
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

    @property
    def has_amounts(self) -> bool:
        """False for a count-only log (no ``amount`` column)."""
        return "amount" in self.data.columns


Source = str | Path | pl.DataFrame | pl.LazyFrame


def _read(
    source: Source, separator: str, encoding: str, *, notes: list[str] | None = None
) -> tuple[pl.DataFrame, str, bool]:
    """Read the raw input. Returns (frame, label for messages, is_csv).

    Text files in UTF-16 (with a byte-order mark, or little-endian without
    one) and files whose lines end in CR alone are recognised and read as
    such; a sentence saying so is appended to ``notes`` when one is given.
    """
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
    notes = notes if notes is not None else []
    try:
        if suffix in (".parquet", ".pq") or path.is_dir():
            return pl.read_parquet(path), label, False
        if suffix in (".csv", ".txt", ".tsv"):
            # Every column is read as text so that every cast below is ours and
            # every failure can be reported with its line.
            data, polars_encoding = _csv_bytes(path, encoding, label, notes)
            frame = pl.read_csv(
                data,
                separator="\t" if suffix == ".tsv" and separator == "," else separator,
                infer_schema=False,
                encoding=polars_encoding,
            )
            if polars_encoding == "utf8" and any("\ufffd" in c for c in frame.columns):
                # polars decodes a header that is not UTF-8 leniently; the rows would
                # fail later with a less helpful message
                raise pl.exceptions.ComputeError("invalid utf-8 sequence in the header")
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


def _utf16(head: bytes) -> tuple[str, str] | None:
    """(codec, how it was recognised) when ``head`` starts a UTF-16 text."""
    if head[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        return None  # UTF-32: left to encoding=
    if head[:2] == b"\xff\xfe":
        return "utf-16", "byte-order mark FF FE"
    if head[:2] == b"\xfe\xff":
        return "utf-16", "byte-order mark FE FF"
    sample = head[: min(len(head), 256) // 2 * 2]
    if len(sample) >= 4:
        odd, even = sample[1::2], sample[0::2]
        if not odd.strip(b"\x00") and even.strip(b"\x00"):
            return "utf-16-le", "NUL bytes in every other position, no byte-order mark"
        if not even.strip(b"\x00") and odd.strip(b"\x00"):
            return "utf-16-be", "NUL bytes in every other position, no byte-order mark"
    return None


def _csv_bytes(
    path: Path, encoding: str, label: str, notes: list[str]
) -> tuple[Path | io.BytesIO, str]:
    """What to hand to ``pl.read_csv``: the path itself when polars can read it
    as it is, else the text re-encoded as UTF-8 with LF line ends."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    is_utf8 = encoding.lower().replace("-", "") in ("utf8", "utf8lossy")
    utf16 = _utf16(head) if is_utf8 else None
    if is_utf8 and utf16 is None:
        if b"\r" not in head or b"\n" in head:
            return path, encoding
        raw = path.read_bytes()
        if b"\n" in raw:
            return path, encoding
        notes.append(_CR_NOTE)
        return io.BytesIO(raw.replace(b"\r", b"\n")), encoding
    codec = utf16[0] if utf16 else encoding
    try:
        text = path.read_bytes().decode(codec)
    except LookupError:
        raise TransactionDataError(
            [f"encoding={encoding!r} is unknown; use e.g. 'utf8', 'gbk', 'gb18030'"], label
        ) from None
    except UnicodeDecodeError as exc:
        name = "UTF-16" if utf16 else encoding
        raise TransactionDataError(
            [f"is not valid {name} text (byte {exc.start}); check the encoding"], label
        ) from None
    if utf16:
        notes.append(f"read the file as UTF-16 text ({utf16[1]}) and decoded it")
    if "\r" in text and "\n" not in text:
        notes.append(_CR_NOTE)
        text = text.replace("\r", "\n")
    return io.BytesIO(text.encode("utf-8")), "utf8"


_CR_NOTE = "the lines of the file end in CR alone (old Mac exports); read each CR as a line end"


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
    column: pl.Series, date_format: str | None, *, time_zone: str | None = None
) -> tuple[pl.Series, str | None, str | None]:
    """Parse a date column to Datetime(us), naive.

    Returns (parsed, format used, problem) where ``problem`` explains a
    column no format could read; unparsed values are null in ``parsed``.

    Without ``time_zone``, a time-zone offset or zone is dropped and the
    written local time kept. With ``time_zone`` (an IANA name), values that
    carry an offset (``Z``, ``+08:00``) or a zone are converted to that
    zone's local time; values without one are taken as local already.
    """
    if column.dtype == pl.Date:
        return column.cast(pl.Datetime("us")), None, None
    if isinstance(column.dtype, pl.Datetime):
        if column.dtype.time_zone is not None:
            if time_zone is not None:
                column = column.dt.convert_time_zone(time_zone)
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
    offset_minutes = None
    if not date_format:
        if time_zone is not None:
            parts = text.str.extract_groups(_OFFSET_PARTS).struct
            sign = pl.when(parts.field("sign") == "-").then(-1).otherwise(1)
            offset_minutes = (
                pl.select(
                    pl.when(parts.field("offset") == "Z")
                    .then(0)
                    .otherwise(
                        sign
                        * (parts.field("hh").cast(pl.Int64) * 60 + parts.field("mm").cast(pl.Int64))
                    )
                )
                .to_series()
                .alias("minutes")
            )
        # "10:30:00+08:00" or "10:30:00Z": parse the written time, offset apart
        text = text.str.replace(_OFFSET, "${time}")
    parsed, fmt, problem = _parse_text_dates(text, column.name, date_format)
    if offset_minutes is not None and offset_minutes.null_count() < len(offset_minutes):
        utc = parsed - pl.duration(minutes=offset_minutes)
        local = utc.dt.replace_time_zone("UTC").dt.convert_time_zone(str(time_zone))
        parsed = (
            pl.select(
                pl.when(offset_minutes.is_not_null())
                .then(local.dt.replace_time_zone(None))
                .otherwise(parsed)
            )
            .to_series()
            .alias(column.name)
        )
    return parsed, fmt, problem


def _parse_text_dates(
    text: pl.Series, name: str, date_format: str | None
) -> tuple[pl.Series, str | None, str | None]:
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
            .alias(name)
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


# --------------------------------------------------------------------------- numbers

# Characters accepted as thousands separators for each ``thousands=`` value: a
# space also stands for the no-break spaces French and Russian exports write,
# an apostrophe for the typographic one of Swiss exports.
_THOUSANDS_CHARS = {
    ",": ",",
    ".": ".",
    " ": " \u00a0\u202f",
    "'": "'\u2019",
    "_": "_",
}
_DECIMALS = (".", ",")


def _check_separators(decimal: str, thousands: str | None) -> None:
    if decimal not in _DECIMALS:
        raise ValueError(f"decimal={decimal!r}; use decimal='.' or decimal=','")
    if thousands is not None and thousands not in _THOUSANDS_CHARS:
        choices = ", ".join(f"thousands={t!r}" for t in _THOUSANDS_CHARS)
        raise ValueError(f"thousands={thousands!r}; use one of {choices} or thousands=None")
    if thousands == decimal:
        raise ValueError(
            f"decimal={decimal!r} and thousands={thousands!r} are the same character, so "
            "'1,000' could be one thousand or one; give them different values, e.g. "
            "decimal=',' thousands='.'"
        )


def _number(text: pl.Expr, decimal: str, thousands: str | None) -> pl.Expr:
    """Numbers written as text, to Float64 (null where not a number).

    Thousands separators are accepted only between groups of three digits
    (``1,289,000``) or in the Indian grouping (``12,89,000``), so that a
    decimal comma is never read as a thousands separator.
    """
    text = text.str.strip_chars()
    if decimal == "." and thousands is None:
        return text.cast(pl.Float64, strict=False)
    dec = re.escape(decimal)
    if thousands is None:
        whole = r"\d+"
        seps = ""
    else:
        seps = _THOUSANDS_CHARS[thousands]
        t = "[" + re.escape(seps) + "]"
        whole = rf"(?:\d{{1,3}}(?:{t}\d{{3}})+|\d{{1,2}}(?:{t}\d{{2}})+{t}\d{{3}}|\d+)"
    pattern = rf"^[+-]?(?:{whole}(?:{dec}\d*)?|{dec}\d+)$"
    normal = text
    if seps:
        normal = normal.str.replace_all("[" + re.escape(seps) + "]", "")
    if decimal != ".":
        normal = normal.str.replace(decimal, ".", literal=True)
    # text with no separator at all ("12", "1e3", "nan") reads as it always did
    plain = ~text.str.contains("[" + re.escape(",." + seps) + "]")
    return (
        pl.when(text.str.contains(pattern))
        .then(normal.cast(pl.Float64, strict=False))
        .when(plain)
        .then(text.cast(pl.Float64, strict=False))
        .otherwise(None)
    )


_SEPARATOR_CHOICES: tuple[tuple[str, str | None], ...] = (
    (".", ","),
    (",", None),
    (",", "."),
    (",", " "),
    (".", " "),
    (".", "'"),
    (",", "'"),
    (".", "_"),
)


def _separator_advice(values: pl.Series, decimal: str, thousands: str | None) -> str:
    """The ``decimal=`` / ``thousands=`` options that read every value given."""
    text = values.cast(pl.String).drop_nulls()
    for dec, sep in _SEPARATOR_CHOICES:
        if (dec, sep) == (decimal, thousands):
            continue
        parsed = pl.select(_number(pl.lit(text), dec, sep)).to_series()
        if parsed.null_count() == 0 and parsed.is_finite().all():
            options = []
            if dec != decimal:
                options.append(f"pass decimal={dec!r}")
            if sep is None:
                options.append("leave out thousands=")
            elif sep != thousands:
                options.append(f"pass thousands={sep!r}")
            return ", or " + " and ".join(options)
    return ""


# --------------------------------------------------------------------------- validators

# Amounts are summed in whole micro-units (see clv.rfm); amounts of this many
# currency units or more are refused, so that every single amount is an exact
# Int64 number of micro-units and a customer's total cannot leave the range of
# exact sums. A real purchase is far below it; such a value is a misread column
# (ids, card numbers) or a unit mix-up.
MAX_AMOUNT = 1_000_000_000_000

# Characters no customer id should hold: C0 controls (NUL included), DEL, and
# the invisible zero-width characters that copy and paste bring along.
_ID_INVISIBLE = r"[\x00-\x1F\x7F\x{200B}-\x{200D}\x{2060}\x{FEFF}]"
# Any character that may need stripping from an id: the above, or whitespace.
_ID_SUSPECT = (
    r"[\x00-\x20\x7F\x{85}\x{A0}\x{1680}\x{2000}-\x{200D}\x{2028}\x{2029}\x{202F}"
    r"\x{205F}\x{2060}\x{3000}\x{FEFF}]"
)
_OFFSET_PARTS = (
    r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?<offset>Z|(?<sign>[+-])(?<hh>\d{2}):?(?<mm>\d{2}))$"
)
_EXACT_FLOAT_IDS = 2**53  # whole floats beyond this are not exact


@dataclass(frozen=True)
class _Check:
    """One kind of bad row: ``mask`` selects them; the problem reads
    "column {name!r} has {n rows} {what} (first at {where}[: {value}]); {todo}"."""

    mask: pl.Expr
    name: str
    what: str
    todo: str | Callable[[pl.Series], str] = ""
    show: str | None = None  # frame column whose first offending value is shown
    show_as: Literal["repr", "str"] = "repr"


@dataclass
class _Stage:
    """What a column validator adds to the single pass over the rows: the
    columns to compute, the checks of those columns, and counts for
    :class:`DataQuality` (expressions reducing to one number)."""

    columns: list[pl.Expr | pl.Series] = field(default_factory=list)
    checks: list[_Check] = field(default_factory=list)
    counts: dict[str, pl.Expr] = field(default_factory=dict)
    facts: dict[str, int] = field(default_factory=dict)  # counted before the pass


def _id_stage(frame: pl.DataFrame, name: str) -> tuple[pl.DataFrame, _Stage]:
    """Customer ids: text, stripped of surrounding whitespace and of invisible
    characters anywhere, never empty. Numbers become text ("7.0" -> "7")."""
    stage = _Stage()
    column = frame["customer_id"]
    dtype = column.dtype
    if dtype.is_integer():
        stage.facts["ids_read_from_numbers"] = len(column) - column.null_count()
        ids = column.cast(pl.String)
    elif dtype.is_numeric():
        values = column.cast(pl.Float64)
        whole = values.is_finite() & (values == values.floor()) & (values.abs() <= _EXACT_FLOAT_IDS)
        stage.facts["ids_read_from_numbers"] = len(column) - column.null_count()
        ids = (
            pl.select(pl.when(whole).then(values.cast(pl.Int64, strict=False)))
            .to_series()
            .cast(pl.String)
        )
        frame = frame.with_columns(values.alias("_id_number"))
        stage.checks.append(
            _Check(
                pl.col("_id_number").is_not_null() & pl.col("customer_id").is_null(),
                name,
                "with customer ids that are numbers with a fraction or too large to be exact",
                "ids must be whole numbers; store ids as text so that none is rounded",
                show="_id_number",
            )
        )
    else:
        ids = column.cast(pl.String)
    # one pass to find ids that may need stripping; only those are cleaned
    suspect = ids.str.contains(_ID_SUSPECT).fill_null(False)
    n_suspect = int(suspect.sum())
    n_stripped = n_characters = 0
    if n_suspect:
        where = suspect.arg_true()
        dirty = ids.gather(where)
        trimmed = dirty.str.strip_chars()
        n_stripped = int((trimmed != dirty).sum())
        n_characters = int(trimmed.str.contains(_ID_INVISIBLE).sum())
        clean = trimmed.str.replace_all(_ID_INVISIBLE, "").str.strip_chars()
        ids = ids.scatter(where, clean)
    stage.facts["customer_ids_stripped"] = n_stripped
    stage.facts["id_characters_stripped"] = n_characters
    frame = frame.with_columns(ids.alias("customer_id"))
    todo = "fill them in or remove those rows before loading"
    stage.checks += [
        _Check(
            pl.col("customer_id").is_null() & pl.col("_id_number").is_null()
            if "_id_number" in frame.columns
            else pl.col("customer_id").is_null(),
            name,
            "with no customer id",
            todo,
        ),
        _Check(pl.col("customer_id") == "", name, "with an empty customer id", todo),
    ]
    ident = pl.col("customer_id")
    stage.counts["_id_len_min"] = ident.str.len_bytes().min()
    stage.counts["_id_len_max"] = ident.str.len_bytes().max()
    return frame, stage


def _date_stage(
    frame: pl.DataFrame,
    name: str,
    date_format: str | None,
    time_zone: str | None,
    as_of: dt.date,
    min_date: dt.date,
) -> tuple[pl.DataFrame, _Stage]:
    """Dates: parsed to naive Datetime(us), present, between min_date and as_of."""
    stage = _Stage()
    column = frame["date"]
    n_offsets = 0
    if column.dtype == pl.String and not date_format:
        n_offsets = int(column.str.strip_chars().str.contains(_OFFSET).sum())
    elif isinstance(column.dtype, pl.Datetime) and column.dtype.time_zone and time_zone:
        n_offsets = len(column) - column.null_count()
    if time_zone:
        stage.facts["time_zone_offsets_converted"] = n_offsets
    else:
        stage.facts["time_zone_offsets_removed"] = n_offsets if column.dtype == pl.String else 0
    parsed, _fmt, problem = _parse_dates(column, date_format, time_zone=time_zone)
    frame = frame.with_columns(parsed.alias("date"), column.alias("_date_raw"))
    todo = "fill them in or remove those rows before loading"
    stage.checks.append(_Check(pl.col("_date_raw").is_null(), name, "with no date", todo))
    if problem:
        stage.checks.append(
            _Check(
                pl.col("date").is_null() & pl.col("_date_raw").is_not_null(),
                name,
                f"whose dates {problem}",
                show="_date_raw",
            )
        )
    after = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    before = dt.datetime.combine(min_date, dt.time())
    stage.checks += [
        _Check(
            pl.col("date") >= after,
            name,
            f"dated after the as-of date {as_of}",
            "check the date format, or pass as_of= the export date",
            show="date",
            show_as="str",
        ),
        _Check(
            pl.col("date") < before,
            name,
            f"dated before {min_date}, which cannot be right",
            "check the date format, or pass min_date= if such old purchases are real",
            show="date",
            show_as="str",
        ),
    ]
    return frame, stage


def _amount_stage(
    frame: pl.DataFrame, name: str, decimal: str, thousands: str | None
) -> tuple[pl.DataFrame, _Stage]:
    """Amounts: numbers, finite, >= 0 and below :data:`MAX_AMOUNT`."""
    raw = frame["amount"]
    if raw.dtype == pl.String:
        values: pl.Expr = _number(pl.col("_amount_raw"), decimal, thousands)
    elif raw.dtype.is_numeric():
        values = pl.col("_amount_raw").cast(pl.Float64)
    else:
        values = pl.lit(None, dtype=pl.Float64)
    frame = frame.rename({"amount": "_amount_raw"})
    amount = pl.col("amount")
    decimals = f"use {decimal!r} for decimals"

    def not_numbers(bad: pl.Series) -> str:
        advice = _separator_advice(bad, decimal, thousands) if bad.dtype == pl.String else ""
        return f"remove currency symbols and thousands separators, {decimals}{advice}"

    stage = _Stage(
        columns=[values.alias("amount")],
        checks=[
            _Check(
                pl.col("_amount_raw").is_null(),
                name,
                "with no amount",
                "fill them in (0 for a free order) or remove those rows",
            ),
            _Check(
                amount.is_null() & pl.col("_amount_raw").is_not_null(),
                name,
                "with amounts that are not numbers",
                not_numbers,
                show="_amount_raw",
            ),
            _Check(
                amount.is_nan() | amount.is_infinite(),
                name,
                "with amounts that are NaN or infinite",
                "fix or remove those rows",
                show="_amount_raw",
            ),
            _Check(
                (amount < 0) & amount.is_finite(),
                name,
                "with negative amounts",
                "returns belong in a separate 'return' column or should be removed",
                show="_amount_raw",
            ),
            _Check(
                (amount >= MAX_AMOUNT) & amount.is_finite(),
                name,
                f"with amounts of {MAX_AMOUNT:,} or more, too large to add up exactly",
                "check that the column holds amounts in currency units (not ids, card "
                "numbers or a misread separator) and fix or remove those rows",
                show="_amount_raw",
            ),
        ],
        counts={"_zero_amounts": (amount == 0).sum()},
    )
    return frame, stage


def _quantity_stage(
    frame: pl.DataFrame, name: str, decimal: str, thousands: str | None
) -> tuple[pl.DataFrame, _Stage]:
    """Quantities: whole numbers >= 0."""
    frame = frame.with_columns(pl.col("quantity").cast(pl.String).str.strip_chars().alias("_q_raw"))
    as_float = _number(pl.col("_q_raw"), decimal, thousands)
    whole = as_float.is_finite() & (as_float == as_float.floor())
    values = pl.when(whole).then(as_float).otherwise(None).cast(pl.Int64, strict=False)
    return frame, _Stage(
        columns=[values.alias("quantity")],
        checks=[
            _Check(
                pl.col("_q_raw").is_null(),
                name,
                "with no quantity",
                "fill them in, or load without quantity=",
            ),
            _Check(
                (pl.col("quantity").is_null() & pl.col("_q_raw").is_not_null())
                | (pl.col("quantity") < 0),
                name,
                "that are not whole numbers >= 0",
                "fix them, or load without quantity=",
                show="_q_raw",
            ),
        ],
    )


def _margin_stage(
    frame: pl.DataFrame, name: str, decimal: str, thousands: str | None
) -> tuple[pl.DataFrame, _Stage]:
    """Gross margins per order as shares of its amount: numbers up to 1
    (``0.3``; ``30%`` is read as 0.3). A negative margin is an order sold at
    a loss and is kept."""
    frame = frame.with_columns(pl.col("margin").cast(pl.String).str.strip_chars().alias("_m_raw"))
    percent = pl.col("_m_raw").str.ends_with("%")
    number = _number(pl.col("_m_raw").str.strip_suffix("%").str.strip_chars(), decimal, thousands)
    value = pl.when(percent).then(number / 100).otherwise(number)
    return frame, _Stage(
        columns=[value.alias("margin")],
        checks=[
            _Check(
                pl.col("_m_raw").is_null(),
                name,
                "with no margin",
                "fill them in, or load without margin= (and give one margin for all orders)",
            ),
            _Check(
                pl.col("_m_raw").is_not_null() & (value.is_null() | ~value.is_finite()),
                name,
                "with margins that are not numbers",
                "write margins as shares of the amount (0.3) or percentages (30%)",
                show="_m_raw",
            ),
            _Check(
                value.is_finite() & (value > 1),
                name,
                "with margins above 1 (more profit than revenue)",
                "write margins as shares of the amount: 0.3 or 30% for thirty percent, not 30",
                show="_m_raw",
            ),
        ],
        counts={"_loss_orders": (value < 0).sum()},
    )


def _category_stage(frame: pl.DataFrame) -> tuple[pl.DataFrame, _Stage]:
    """Product categories: text, stripped of surrounding whitespace; an empty
    category is kept as null (and counted by the caller)."""
    text = pl.col("category").cast(pl.String).str.strip_chars()
    value = pl.when(text == "").then(None).otherwise(text)
    return frame, _Stage(columns=[value.alias("category")])


def _status_stage(frame: pl.DataFrame, name: str) -> tuple[pl.DataFrame, _Stage]:
    """Order statuses: ``completed``, ``cancelled`` or ``returned`` in any case
    (or 已完成, 已取消, 已退货), written in lower case English; anything else
    is an error."""
    frame = frame.with_columns(
        pl.col("status").cast(pl.String).str.strip_chars().alias("_status_raw")
    )
    value = (
        pl.col("_status_raw")
        .str.to_lowercase()
        .replace_strict(_STATUS_SPELLINGS, default=None, return_dtype=pl.String)
    )
    accepted = (
        f"use one of {', '.join(ORDER_STATUSES)} (or "
        + ", ".join(k for k in _STATUS_SPELLINGS if k not in ORDER_STATUSES)
        + ") for every order"
    )

    def unknown(bad: pl.Series) -> str:
        shown = bad.drop_nulls().unique(maintain_order=True).head(5).to_list()
        return f"the values not known are {shown}; {accepted}"

    return frame, _Stage(
        columns=[value.alias("status")],
        checks=[
            _Check(
                pl.col("_status_raw").is_null() | (pl.col("_status_raw") == ""),
                name,
                "with no status",
                accepted,
            ),
            _Check(
                pl.col("status").is_null() & (pl.col("_status_raw") != ""),
                name,
                "with a status that is not known",
                unknown,
                show="_status_raw",
            ),
        ],
    )


def _run_stages(
    frame: pl.DataFrame, stages: list[_Stage], is_csv: bool
) -> tuple[pl.DataFrame, dict[str, object], list[str]]:
    """Compute every stage's columns in one pass and every check and count in a
    second; returns (frame, counts, problems)."""
    frame = frame.with_columns([c for s in stages for c in s.columns])
    checks = [c for s in stages for c in s.checks]
    aggregations: list[pl.Expr] = []
    for i, check in enumerate(checks):
        mask = check.mask.fill_null(False)
        aggregations += [mask.sum().alias(f"_check_n{i}"), mask.arg_max().alias(f"_check_i{i}")]
    for stage in stages:
        aggregations += [e.alias(k) for k, e in stage.counts.items()]
    stats = frame.select(aggregations).row(0, named=True)
    problems = []
    for i, check in enumerate(checks):
        n = int(stats[f"_check_n{i}"] or 0)
        if not n:
            continue
        at = int(stats[f"_check_i{i}"])
        shown = ""
        if check.show is not None:
            value = frame[check.show][at]
            if value is not None:
                shown = f": {value!r}" if check.show_as == "repr" else f": {value}"
        todo = check.todo
        if callable(todo):
            todo = todo(frame.filter(check.mask.fill_null(False))[check.show or check.name])
        problems.append(
            f"column {check.name!r} has {_rows(n)} {check.what} (first at "
            f"{_where(int(frame[_ROW][at]), is_csv)}{shown})" + (f"; {todo}" if todo else "")
        )
    counts: dict[str, object] = {k: v for s in stages for k, v in s.facts.items()}
    counts.update({k: v for k, v in stats.items() if not k.startswith("_check_")})
    return frame, counts, problems


def _leading_zero_ids(ids: pl.Series, shortest: int | None, longest: int | None) -> int:
    """Distinct ids that differ from another only by leading zeros ("007", "7").

    Ids of one length cannot: the scan over distinct ids is skipped then."""
    if shortest is None or shortest == longest:
        return 0
    distinct = ids.drop_nulls().unique()
    return int(distinct.str.strip_chars_start("0").is_duplicated().sum())


def _duplicates(frame: pl.DataFrame, columns: list[str]) -> tuple[pl.Series, int]:
    """Exact duplicates and near duplicates, in one pass over all rows.

    Rows that repeat another exactly, or share customer and time with another,
    all share their (customer, date) pair with another row: one pass over a
    64-bit hash of that pair finds the candidate rows (a few per cent of a
    typical log), and only those are compared column by column.

    Returns (the ``_ROW`` of every exact duplicate after its first
    occurrence, the number of near duplicates: rows sharing customer and
    time with another row but not an exact copy of one).
    """
    ident, when = pl.col("customer_id"), pl.col("date")
    if frame.height < 2:
        return pl.Series(_ROW, [], dtype=frame[_ROW].dtype), 0
    # a log sorted by customer and time keeps equal pairs next to each other
    grouped = frame.select(
        ((ident > ident.shift(1)) | ((ident == ident.shift(1)) & (when >= when.shift(1))))
        .all(ignore_nulls=True)
        .alias("sorted")
    ).item()
    if grouped:
        same_as_previous = (ident == ident.shift(1)) & (when == when.shift(1))
        shared = same_as_previous.fill_null(False) | same_as_previous.shift(-1).fill_null(False)
        candidates = frame.filter(shared)
    else:
        key = frame.select(ident.hash(7).xor(when.hash(11)).alias("k")).to_series()
        ordered = key.sort()
        repeated = ordered.filter(ordered == ordered.shift(1)).unique()
        candidates = frame.filter(key.is_in(repeated.implode()))
    if candidates.height == 0:
        return pl.Series(_ROW, [], dtype=frame[_ROW].dtype), 0
    row = pl.struct(columns)
    marks = candidates.select(
        _ROW,
        (~row.is_first_distinct()).alias("dup"),
        (pl.struct("customer_id", "date").is_duplicated() & ~row.is_duplicated()).alias("near"),
    )
    return marks.filter("dup")[_ROW], int(marks["near"].sum())


def load_transactions(
    source: Source,
    *,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str | None = "amount",
    quantity: str | None = None,
    margin: str | None = None,
    category: str | None = None,
    status: str | None = None,
    date_format: str | None = None,
    as_of: str | dt.date | None = None,
    min_date: str | dt.date = "1900-01-01",
    duplicates: Policy = "keep",
    zero_amounts: Policy = "keep",
    leading_zeros: Literal["keep", "strip"] = "keep",
    separator: str = ",",
    encoding: str = "utf8",
    decimal: str = ".",
    thousands: str | None = None,
    time_zone: str | None = None,
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
        ``amount=None`` (or ``amount=""``, as option files and the command
        line write it) reads a count-only log, one without amounts: the data
        has no ``amount`` column (a column of that name in the input is
        ignored, with a note), no amount is checked, ``quality.has_amounts``
        is False, and the summaries, scores and grades are of purchases only
        (spend and CLV are unavailable). A log that lacks its amount column
        is an error unless ``amount=None`` is given, so that a misnamed
        column never turns a log into a count-only one.
    quantity
        Name of an optional column with the number of items. When None, a
        column called ``quantity`` is used if the input has one.
    margin
        Name of an optional column with each order's gross margin as a share
        of its amount (``0.3``, or ``30%``; negative for an order sold at a
        loss; at most 1). Given, the log carries a ``margin`` column and
        :func:`clv.customer_margins` turns predicted revenue into predicted
        gross profit per customer. Orders at a loss are counted in
        :class:`DataQuality` notes.
    category
        Name of an optional column with each order's product category, kept
        as text in a ``category`` column (stripped of surrounding
        whitespace). An empty category is kept as null and counted
        (``quality.orders_without_category``): grading per category refuses
        such orders, the summaries do not need the category.
    status
        Name of an optional column with each order's status, kept in a
        ``status`` column as ``completed``, ``cancelled`` or ``returned``
        (read in any case; the Chinese 已完成, 已取消 and 已退货 are read too).
        Any other value, or an empty one, is an error that lists the values
        accepted. Every order stays in ``.data``; :func:`clv.summarize` and
        the other summaries count completed orders only, and the cancelled
        and returned orders they leave out are counted in
        :class:`DataQuality`.
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
        CSV reading options (``encoding`` may be ``"utf8"``, ``"utf8-lossy"``
        or any codec Python knows, e.g. ``"gb18030"``). UTF-16 files (with a
        byte-order mark, or little-endian without one) and files whose lines
        end in CR alone are recognised without being told.
    decimal, thousands
        How amounts (and quantities) written as text separate decimals
        (``"."`` or ``","``) and thousands (None, ``","``, ``"."``, ``" "``,
        ``"'"`` or ``"_"``): ``"1.289,15"`` needs ``decimal=","`` and
        ``thousands="."``. Thousands separators are accepted between groups
        of three digits (or in the Indian grouping ``12,89,000``) only.
    time_zone
        An IANA time zone such as ``"Asia/Shanghai"``. When given, date-times
        that carry an offset (``2024-05-01T10:00:00Z``, ``...+08:00``) or a
        zone are converted to the local time of this zone; date-times without
        one are taken as local already. When None (the default) the offset is
        dropped and the written local time kept. Counted either way.

    Amounts must be below :data:`MAX_AMOUNT` (10**12 currency units), which
    keeps every summary sum exact.

    Returns
    -------
    TransactionLog
        ``.data`` (polars DataFrame) and ``.quality`` (:class:`DataQuality`).

    Raises
    ------
    TransactionDataError
        Listing every problem found: missing columns, an empty log, null or
        empty customer ids, unparseable or implausible dates, missing,
        non-numeric, non-finite, negative or too large amounts, bad
        quantities.
    ValueError
        For options that are not valid (policies, separators, time zone,
        ``margin=`` without amounts).

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
    _check_separators(decimal, thousands)
    if time_zone is not None:
        _check_time_zone(time_zone)
    if amount == "":  # the marker of text-only option files and the command line
        amount = None
    if amount is None and margin is not None:
        raise ValueError(
            f"margin={margin!r} with amount=None: a margin is a share of each order's amount; "
            "give the amount column too, or leave out margin= for a count-only log"
        )
    as_of_date = _as_date(as_of, "as_of") if as_of is not None else dt.date.today()
    min_date_ = _as_date(min_date, "min_date")
    notes: list[str] = []
    raw, label, is_csv = _read(source, separator, encoding, notes=notes)
    wanted = _mapped_columns(
        raw, label, customer_id, date, amount, quantity, margin, category=category, status=status
    )
    if amount is None:
        notes.append(
            "the log has no amounts (amount=None): purchases are counted, spend and CLV are "
            "unavailable" + ("; its column 'amount' was ignored" if "amount" in raw.columns else "")
        )
    frame, n_blank = _rows_of(raw, wanted, is_csv, label)

    frame, ids = _id_stage(frame, customer_id)
    frame, dates = _date_stage(frame, date, date_format, time_zone, as_of_date, min_date_)
    stages = [ids, dates]
    if amount is not None:
        frame, amounts = _amount_stage(frame, amount, decimal, thousands)
        stages.append(amounts)
    if "quantity" in wanted:
        frame, quantities = _quantity_stage(frame, wanted["quantity"], decimal, thousands)
        stages.append(quantities)
    if "margin" in wanted:
        frame, margins = _margin_stage(frame, wanted["margin"], decimal, thousands)
        stages.append(margins)
    if "category" in wanted:
        frame, categories = _category_stage(frame)
        stages.append(categories)
    if "status" in wanted:
        frame, statuses = _status_stage(frame, wanted["status"])
        stages.append(statuses)
    frame, counts, problems = _run_stages(frame, stages, is_csv)
    if problems:
        raise TransactionDataError(problems, label)

    keep_cols = list(wanted)
    frame = frame.select([_ROW, *keep_cols])
    n_zero_ids = _leading_zero_ids(
        frame["customer_id"], counts.pop("_id_len_min"), counts.pop("_id_len_max")
    )
    if leading_zeros == "strip" and n_zero_ids:
        unpadded = pl.col("customer_id").str.strip_chars_start("0")
        frame = frame.with_columns(
            pl.when(unpadded == "").then(pl.lit("0")).otherwise(unpadded).alias("customer_id")
        )

    duplicate_rows, n_near = _duplicates(frame, keep_cols)
    n_dup = len(duplicate_rows)
    n_zero = int(counts.pop("_zero_amounts", 0))  # type: ignore[call-overload]
    n_loss = int(counts.pop("_loss_orders", 0))  # type: ignore[call-overload]
    if n_loss:
        notes.append(f"kept {_rows(n_loss)} with a negative margin (orders sold at a loss)")
    n_dup_dropped = 0
    if n_dup and duplicates != "keep":
        if duplicates == "error":
            raise TransactionDataError(
                [
                    f"{n_dup:,} rows repeat an earlier row exactly (first at "
                    f"{_where(int(duplicate_rows[0]), is_csv)}); pass duplicates='keep' if "
                    "they are real repeat orders or duplicates='drop' to remove them"
                ],
                label,
            )
        dropped = pl.col(_ROW).is_in(duplicate_rows.implode())
        if n_zero:
            n_zero -= int(frame.select((dropped & (pl.col("amount") == 0)).sum()).item())
        frame = frame.filter(~dropped)
        n_dup_dropped = n_dup
        notes.append(f"dropped {n_dup:,} exact duplicate rows")
    elif n_dup:
        notes.append(f"kept {n_dup:,} exact duplicate rows as repeat orders")

    is_zero = pl.col("amount") == 0
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
    notes += _notes(counts, n_blank, n_zero_ids, leading_zeros, n_near, time_zone)

    data = frame.drop(_ROW)
    order_counts = _order_counts(data, notes)
    quality = DataQuality(
        source=label,
        rows_read=raw.height,
        rows_kept=data.height,
        duplicate_rows=n_dup,
        duplicate_rows_dropped=n_dup_dropped,
        zero_amount_rows=n_zero,
        zero_amount_rows_dropped=n_zero_dropped,
        blank_rows_dropped=n_blank,
        ids_differing_by_leading_zeros=n_zero_ids,
        near_duplicate_rows=n_near,
        has_amounts=amount is not None,
        notes=tuple(notes),
        **order_counts,
        **{k: int(v) for k, v in counts.items()},  # type: ignore[call-overload]
    )
    return TransactionLog(data=data, quality=quality)


def _order_counts(data: pl.DataFrame, notes: list[str]) -> dict[str, int]:
    """Counts of the category and status columns (of the rows kept), with a
    note for each that is not zero."""
    counts: dict[str, int] = {}
    if "category" in data.columns:
        n = data["category"].null_count()
        counts["orders_without_category"] = n
        if n:
            notes.append(
                f"{_rows(n)} with an empty category, kept with no category (grading per "
                "category needs one for every order)"
            )
    if "status" in data.columns:
        row = data.select(
            (pl.col("status") == "cancelled").sum().alias("cancelled_orders"),
            (pl.col("status") == "returned").sum().alias("returned_orders"),
        ).row(0, named=True)
        counts.update({k: int(v) for k, v in row.items()})
        n_left_out = sum(counts[k] for k in ("cancelled_orders", "returned_orders"))
        if n_left_out:
            notes.append(
                f"{counts['cancelled_orders']:,} cancelled and {counts['returned_orders']:,} "
                "returned orders are kept in the log and left out of the summaries, which "
                "count completed orders only"
            )
    return counts


def _notes(
    counts: dict[str, object],
    n_blank: int,
    n_zero_ids: int,
    leading_zeros: str,
    n_near: int,
    time_zone: str | None,
) -> list[str]:
    notes = []
    counts = {k: int(v) for k, v in counts.items()}  # type: ignore[call-overload]
    n = counts.get("customer_ids_stripped", 0)
    if n:
        notes.append(f"stripped surrounding whitespace from {n:,} customer ids")
    n = counts.get("id_characters_stripped", 0)
    if n:
        notes.append(
            f"removed invisible characters (zero-width spaces, NUL or other control "
            f"characters) from {n:,} customer ids"
        )
    n = counts.get("ids_read_from_numbers", 0)
    if n:
        notes.append(
            f"read the customer ids of {_rows(n)} from numbers and wrote them as text; "
            "leading zeros ('007') cannot be recovered from numbers: to keep them, store the "
            "ids as text (a string column in Parquet, quoted text in the export)"
        )
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
    n = counts.get("time_zone_offsets_removed", 0)
    if n:
        notes.append(
            f"removed the time-zone offset of {_rows(n)}, keeping the local time of purchase"
        )
    n = counts.get("time_zone_offsets_converted", 0)
    if n:
        notes.append(f"converted {_rows(n)} with a time-zone offset to local time in {time_zone}")
    return notes


def _check_time_zone(time_zone: str) -> None:
    try:
        pl.Series([dt.datetime(2020, 1, 1)]).dt.replace_time_zone(time_zone)
    except (pl.exceptions.PolarsError, TypeError):
        raise ValueError(
            f"time_zone={time_zone!r} is not a known IANA time zone; give a name such as "
            "time_zone='Asia/Shanghai' or time_zone='UTC'"
        ) from None


def _mapped_columns(
    raw: pl.DataFrame,
    label: str,
    customer_id: str,
    date: str,
    amount: str | None,
    quantity: str | None,
    margin: str | None = None,
    *,
    category: str | None = None,
    status: str | None = None,
) -> dict[str, str]:
    """{role: column in the input}, or an error naming what is missing.

    ``amount=None`` leaves the amount out (a count-only log)."""
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
    wanted = {"customer_id": customer_id, "date": date}
    if amount is not None:
        wanted["amount"] = amount
    for role, col in (
        ("quantity", quantity),
        ("margin", margin),
        ("category", category),
        ("status", status),
    ):
        if col is not None:
            wanted[role] = col
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
            if role == "amount":
                # a log without amounts is graded on purchases only, but never by accident
                hint += (
                    f"; or, if the log has no amounts at all (no amount column {col!r}), pass "
                    "amount=None to grade on purchases only"
                )
            problems.append(
                f"column {col!r} ({role}) is missing; the columns are {raw.columns}; {hint}"
            )
        raise TransactionDataError(problems, label)
    return wanted


def _rows_of(
    raw: pl.DataFrame, wanted: dict[str, str], is_csv: bool, label: str
) -> tuple[pl.DataFrame, int]:
    """The mapped columns under their role names with the input row number;
    blank CSV lines (every field empty) left out and counted."""
    n_blank = 0
    blank = None
    if is_csv and raw.height:
        blank = raw.select(pl.all_horizontal(pl.all().is_null())).to_series()
        n_blank = int(blank.sum())
    if raw.height == 0 or n_blank == raw.height:
        raise TransactionDataError(
            ["the log has a header but no rows; export it again with its transactions"], label
        )
    frame = raw.select([pl.col(col).alias(role) for role, col in wanted.items()])
    frame = frame.with_row_index(_ROW)
    if n_blank and blank is not None:
        frame = frame.filter(~blank)
    return frame, n_blank


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


def _scan_ids(column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Lazily: customer ids as text, cleaned as :func:`load_transactions` does."""
    if dtype.is_integer():
        ids = column.cast(pl.String)
    elif dtype.is_numeric():
        values = column.cast(pl.Float64)
        whole = values.is_finite() & (values == values.floor()) & (values.abs() <= _EXACT_FLOAT_IDS)
        ids = pl.when(whole).then(values.cast(pl.Int64, strict=False)).cast(pl.String)
    else:
        ids = column.cast(pl.String)
    return ids.str.strip_chars().str.replace_all(_ID_INVISIBLE, "").str.strip_chars()


def scan_transactions(
    source: str | Path,
    *,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
) -> pl.LazyFrame:
    """Scan a Parquet log, a folder of Parquet files (hive-partitioned, say by
    month) or a glob, without loading it: for logs bigger than memory.

    One streaming pass checks the rows with the checks of
    :func:`load_transactions` that need no memory: customer ids present and
    not empty once stripped of whitespace and invisible characters (numbers
    become text), dates present, amounts present, finite, >= 0 and below
    :data:`MAX_AMOUNT`; it raises :class:`TransactionDataError` with the
    counts if any is bad. The policies of :func:`load_transactions`
    (duplicates, zero amounts, leading zeros) need the log in memory.

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
    schema = lf.collect_schema()
    names = schema.names()
    missing = [c for c in (customer_id, date, amount) if c not in names]
    if missing:
        raise TransactionDataError(
            [
                f"columns {missing} are missing; the columns are {names}; pass customer_id=, "
                "date=, amount= to map them"
            ],
            label,
        )
    date_type = schema[date]
    dates = pl.col(date)
    if isinstance(date_type, pl.Datetime) and date_type.time_zone is not None:
        dates = dates.dt.replace_time_zone(None)
    lf = lf.select(
        _scan_ids(pl.col(customer_id), schema[customer_id]).alias("customer_id"),
        dates.cast(pl.Datetime("us")).alias("date"),
        pl.col(amount).cast(pl.Float64).alias("amount"),
    )
    ident, value = pl.col("customer_id"), pl.col("amount")
    counts = (
        lf.select(
            ident.is_null().sum().alias("no customer id"),
            (ident == "").sum().alias("empty customer ids"),
            pl.col("date").is_null().sum().alias("no date"),
            value.is_null().sum().alias("no amount"),
            (~value.is_finite()).sum().alias("amounts that are NaN or infinite"),
            (value < 0).sum().alias("negative amounts"),
            ((value >= MAX_AMOUNT) & value.is_finite())
            .sum()
            .alias(f"amounts of {MAX_AMOUNT:,} or more (too large to add up exactly)"),
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
