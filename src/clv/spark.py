"""The Spark engine: summaries, scores and tiers of logs kept in Spark.

A log too big for one machine (Spark tables, Delta, hive-partitioned
Parquet) is summarised on Spark through the PySpark DataFrame API only, so the
same code runs on a local session, a cluster, Spark Connect or Databricks.
Only the per-customer summary is big: the models are fitted on the distinct
histories (:func:`compress`, a small polars frame), and the scores depend on
each customer's own row.

What runs where
---------------
* :func:`read_transactions` maps and validates the columns on the executors
  (one aggregation counts every bad or corrected row) and returns the clean
  log with a :class:`clv.DataQuality` record.
* :func:`summarize`, :func:`calibration_holdout` and :func:`window_counts`
  aggregate on the executors and return Spark DataFrames with exactly the
  columns and values of their polars versions in :mod:`clv.rfm` (amounts are
  summed as whole micro-units in ``DECIMAL(38, 0)``, rounded half to even as
  polars does, and converted with the same IEEE divisions), in no particular
  row order.
* :func:`compress` collects the distinct histories (Arrow) for the fits.
* :func:`score` scores on the executors with ``mapInArrow`` over
  :func:`clv.score` itself (``on="executors"``, executors need ``clv``), or
  scores the distinct histories on the driver and joins the results back
  (``on="driver"``, executors need nothing but Spark).
* :func:`grade` collects the score column (Arrow), cuts the thresholds with
  :func:`clv.grade` and assigns tiers, bands and actions on the executors;
  :func:`write_graded` writes the graded table to a Parquet path or a table.

Dates are naive local wall-clock times (``TIMESTAMP_NTZ``), as in
:func:`clv.load_transactions`: a ``TIMESTAMP`` column (an instant) is taken at
its UTC wall-clock time, or converted to ``time_zone=`` when one is given, so
that no result depends on the session time zone.

``clv.summarize``, ``clv.calibration_holdout``, ``clv.window_counts``,
``clv.compress`` and ``clv.score`` dispatch here when given a Spark DataFrame.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl
import pyarrow as pa
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from clv.data import (
    _AUTO_DATE_FORMATS,
    _EXACT_FLOAT_IDS,
    _ID_INVISIBLE,
    _OFFSET,
    _POLICIES,
    _THOUSANDS_CHARS,
    MAX_AMOUNT,
    DataQuality,
    TransactionDataError,
    _as_date,
    _check_separators,
    _check_time_zone,
    _notes,
    _rows,
)
from clv.rfm import (
    _MAX_SUMMABLE,
    _MICROS,
    DAYS_PER_UNIT,
    TimeUnitEnum,
    WindowCounts,
    _check_units,
    _elapsed,
    _end_period,
    _in_unit,
)

if TYPE_CHECKING:
    from clv.models import PurchaseModelResults, SpendModelResults
    from clv.tiers import Grading, Scheme

__all__ = [
    "CustomerSummaries",
    "SparkGrading",
    "SparkTransactionLog",
    "calibration_holdout",
    "compress",
    "customer_summaries",
    "get_session",
    "grade",
    "read_transactions",
    "score",
    "summarize",
    "to_polars",
    "tracking_counts",
    "window_counts",
    "write_graded",
]

Freq = Literal["D", "W", "M"]


# --------------------------------------------------------------------------- session


def get_session(
    master: str | None = None,
    *,
    app_name: str = "clv",
    config: dict[str, str] | None = None,
) -> SparkSession:
    """A Spark session set up for clv.

    Parameters
    ----------
    master
        The Spark master URL (``"local[2]"``, ``"spark://host:7077"``,
        ``"yarn"``, ``"k8s://..."``). When None: ``SPARK_REMOTE`` (a Spark
        Connect URL, ``sc://host:15002``) if set, else ``SPARK_MASTER``, else
        ``local[2]``. An already active session (Databricks, a notebook) is
        returned as it is when no master is given.
    app_name
        The application name shown by the cluster manager.
    config
        Further Spark settings; they override the defaults below.

    Returns
    -------
    pyspark.sql.SparkSession
        With the session time zone ``UTC``, the web UI off, Arrow transfers on
        and, for a local master, the Python workers on this interpreter.
    """
    if master is None:
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    remote = os.environ.get("SPARK_REMOTE") if master is None else None
    builder = SparkSession.builder.appName(app_name)
    if remote:
        builder = builder.remote(remote)
        settings = {"spark.sql.session.timeZone": "UTC"}
    else:
        master = master or os.environ.get("SPARK_MASTER") or "local[2]"
        builder = builder.master(master)
        if master.startswith("local"):
            # the Python workers of a local session run this interpreter (with clv)
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            settings |= {
                "spark.pyspark.python": sys.executable,
                "spark.pyspark.driver.python": sys.executable,
                "spark.sql.shuffle.partitions": "4",
                "spark.driver.host": "127.0.0.1",
                "spark.driver.bindAddress": "127.0.0.1",
            }
    settings |= config or {}
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if not remote:
        spark.sparkContext.setLogLevel("ERROR")
    return spark


def is_spark_frame(obj: object) -> bool:
    """Whether ``obj`` is a PySpark DataFrame (classic or Spark Connect),
    told by the module of its type, without importing pyspark."""
    return type(obj).__module__.startswith("pyspark.") and type(obj).__name__ == "DataFrame"


def to_polars(frame: DataFrame) -> pl.DataFrame:
    """Collect a Spark DataFrame through Arrow into polars.

    A ``time_unit`` column becomes the polars Enum of :mod:`clv.rfm`, so that
    a collected summary equals the polars one column for column."""
    out = pl.from_arrow(frame.toArrow())
    assert isinstance(out, pl.DataFrame)
    if "time_unit" in out.columns:
        out = out.with_columns(pl.col("time_unit").cast(TimeUnitEnum))
    return out


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class SparkTransactionLog:
    """A validated log on Spark and the record of what validation did.

    ``data`` has ``customer_id`` (string), ``date`` (timestamp_ntz), ``amount``
    (double) and, where the input had one, ``quantity`` (bigint)."""

    data: DataFrame
    quality: DataQuality


_STRFTIME_TO_SPARK = {
    "%Y": "yyyy",
    "%m": "MM",
    "%d": "dd",
    "%H": "HH",
    "%M": "mm",
    "%S": "ss",
    "%y": "yy",
    "%b": "MMM",
    "%B": "MMMM",
    "%.f": ".SSSSSS",
    "%f": "SSSSSS",
    "%p": "a",
    "%I": "hh",
    "%%": "%",
}


def _spark_pattern(fmt: str) -> str:
    """A strftime format (as :func:`clv.load_transactions` takes) as a Spark
    datetime pattern."""
    out = []
    i = 0
    while i < len(fmt):
        for directive in ("%.f", *_STRFTIME_TO_SPARK):
            if fmt.startswith(directive, i):
                out.append(_STRFTIME_TO_SPARK[directive])
                i += len(directive)
                break
        else:
            if fmt[i] == "%":
                raise ValueError(
                    f"date_format={fmt!r}: the directive {fmt[i : i + 2]!r} has no Spark "
                    f"equivalent here; use {', '.join(sorted(_STRFTIME_TO_SPARK))}"
                )
            char = fmt[i]
            out.append(f"'{char}'" if char.isalpha() else char)
            i += 1
    return "".join(out)


def _source_frame(
    spark: SparkSession, source: str | Path | DataFrame, file_format: str | None
) -> tuple[DataFrame, str, bool]:
    """(frame, label, is_csv) for a table name, a path or a Spark DataFrame."""
    if is_spark_frame(source):
        return source, "(Spark DataFrame)", False  # type: ignore[return-value]
    text = str(source)
    path = Path(text)
    looks_like_path = "/" in text or "\\" in text or path.suffix.lower() in (".csv", ".parquet")
    if file_format is None and not looks_like_path:
        if not spark.catalog.tableExists(text):
            raise TransactionDataError(
                ["no such table; give a table name the catalog knows or a path"], text
            )
        return spark.table(text), text, False
    fmt = file_format or ("csv" if path.suffix.lower() in (".csv", ".txt", ".tsv") else "parquet")
    if "://" not in text and not path.exists():
        raise TransactionDataError(
            [f"file not found; check the path (working directory is {Path.cwd()})"], text
        )
    reader = spark.read.format(fmt)
    if fmt == "csv":
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        reader = reader.option("header", "true").option("sep", sep).option("inferSchema", "false")
    return reader.load(text), text, fmt == "csv"


def _strip(text: Column) -> Column:
    """Unicode whitespace stripped from both ends (as polars' strip_chars)."""
    return F.regexp_replace(text, r"^\p{IsWhite_Space}+|\p{IsWhite_Space}+$", "")


def _number(text: Column, decimal: str, thousands: str | None) -> Column:
    """Numbers written as text, to double (null where not a number), with the
    grouping rules of :func:`clv.data._number`."""
    text = _strip(text)
    if decimal == "." and thousands is None:
        return text.try_cast("double")
    dec = re.escape(decimal)
    seps = ""
    if thousands is None:
        whole = r"\d+"
    else:
        seps = _THOUSANDS_CHARS[thousands]
        t = "[" + re.escape(seps) + "]"
        whole = rf"(?:\d{{1,3}}(?:{t}\d{{3}})+|\d{{1,2}}(?:{t}\d{{2}})+{t}\d{{3}}|\d+)"
    pattern = rf"^[+-]?(?:{whole}(?:{dec}\d*)?|{dec}\d+)$"
    normal = text
    if seps:
        normal = F.regexp_replace(normal, "[" + re.escape(seps) + "]", "")
    if decimal != ".":
        normal = F.regexp_replace(normal, re.escape(decimal), ".")
    plain = ~text.rlike("[" + re.escape(",." + seps) + "]")
    return (
        F.when(text.rlike(pattern), normal.try_cast("double"))
        .when(plain, text.try_cast("double"))
        .otherwise(F.lit(None).cast("double"))
    )


def _ntz(micros: Column) -> Column:
    """Microseconds since 1970-01-01 00:00 (wall clock) as a timestamp_ntz."""
    epoch = F.make_timestamp_ntz(F.lit(1970), F.lit(1), F.lit(1), F.lit(0), F.lit(0), F.lit(0))
    return F.timestamp_add("MICROSECOND", micros, epoch)


def _wall_micros(instant: Column, zone: str) -> Column:
    """Wall-clock microseconds in ``zone`` of a TIMESTAMP (an instant);
    independent of the session time zone."""
    return F.unix_micros(F.from_utc_timestamp(instant, zone))


@dataclass
class _Check:
    """One kind of bad row: rows where ``mask`` holds, with an example."""

    mask: Column
    name: str
    what: str
    todo: str = ""
    show: Column | None = None


def _dates(
    frame: DataFrame,
    raw: Column,
    dtype: T.DataType,
    name: str,
    date_format: str | None,
    time_zone: str | None,
    session_zone: str,
) -> tuple[Column, list[_Check], dict[str, Column], str | None]:
    """(parsed timestamp_ntz, checks, counts, problem before the pass)."""
    counts: dict[str, Column] = {}
    checks: list[_Check] = []
    zero = F.lit(0).cast("long")
    if isinstance(dtype, T.TimestampNTZType):
        return raw, checks, counts, None
    if isinstance(dtype, T.DateType):
        return raw.cast("timestamp_ntz"), checks, counts, None
    if isinstance(dtype, T.TimestampType):
        if time_zone:
            counts["time_zone_offsets_converted"] = F.count(raw)
        return _ntz(_wall_micros(raw, time_zone or "UTC")), checks, counts, None
    if not isinstance(dtype, T.StringType):
        return (
            F.lit(None).cast("timestamp_ntz"),
            checks,
            counts,
            f"are of type {dtype.simpleString()}, not dates; give dates as text (YYYY-MM-DD) "
            "or a date type",
        )
    text = _strip(raw)
    offset_minutes = None
    if not date_format:
        has_offset = text.rlike(_OFFSET)
        key = "time_zone_offsets_converted" if time_zone else "time_zone_offsets_removed"
        counts[key] = F.sum(has_offset.cast("long"))
        if time_zone:
            parts = r"(Z|([+-])(\d{2}):?(\d{2}))$"
            sign = F.when(F.regexp_extract(text, parts, 2) == "-", -1).otherwise(1)
            minutes = sign * (
                F.regexp_extract(text, parts, 3).cast("long") * 60
                + F.regexp_extract(text, parts, 4).cast("long")
            )
            offset_minutes = (
                F.when(~has_offset, None)
                .when(F.regexp_extract(text, parts, 1) == "Z", 0)
                .otherwise(minutes)
            )
        text = F.regexp_replace(text, _OFFSET, "${time}")
    else:
        counts.setdefault("time_zone_offsets_removed", zero)
    formats = (date_format,) if date_format else _AUTO_DATE_FORMATS

    def parse(fmt: str) -> Column:
        instant = F.try_to_timestamp(text, F.lit(_spark_pattern(fmt)))
        return _wall_micros(instant, session_zone)

    # the first format that reads every value, as load_transactions chooses
    bad = frame.select(
        *[F.sum((parse(f).isNull() & text.isNotNull()).cast("long")) for f in formats]
    ).first()
    chosen = None
    if bad is not None:
        for fmt, n_bad in zip(formats, bad, strict=True):
            if not n_bad:
                chosen = parse(fmt)
                break
    problem = None
    if chosen is None and not date_format:
        iso = [f for f in _AUTO_DATE_FORMATS if f.startswith("%Y-%m-%d")]
        mixed = F.coalesce(*[parse(f) for f in iso])
        n_mixed = frame.select(F.sum((mixed.isNull() & text.isNotNull()).cast("long"))).first()
        if n_mixed is not None and not n_mixed[0]:
            chosen = mixed
    if chosen is None:
        chosen = parse(formats[0])
        if date_format:
            problem = f"do not match date_format={date_format!r}; fix those rows or the format"
        else:
            problem = (
                "could not be read as dates in one unambiguous format (tried "
                + ", ".join(_AUTO_DATE_FORMATS[:4])
                + ", ...); pass date_format='%d/%m/%Y' or whichever format the file uses"
            )
    if offset_minutes is not None:
        utc = chosen - offset_minutes * 60 * 1_000_000
        local = _wall_micros(F.timestamp_micros(utc), time_zone or "UTC")
        chosen = F.when(offset_minutes.isNotNull(), local).otherwise(chosen)
    parsed = _ntz(chosen)
    if problem:
        checks.append(
            _Check(parsed.isNull() & raw.isNotNull(), name, f"whose dates {problem}", show=raw)
        )
    return parsed, checks, counts, None


def read_transactions(
    spark: SparkSession,
    source: str | Path | DataFrame,
    *,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
    quantity: str | None = None,
    date_format: str | None = None,
    as_of: str | dt.date | None = None,
    min_date: str | dt.date = "1900-01-01",
    duplicates: Literal["keep", "drop", "error"] = "keep",
    zero_amounts: Literal["keep", "drop", "error"] = "keep",
    leading_zeros: Literal["keep", "strip"] = "keep",
    decimal: str = ".",
    thousands: str | None = None,
    time_zone: str | None = None,
    file_format: str | None = None,
) -> SparkTransactionLog:
    """Read and validate a transaction log on Spark, as :func:`clv.load_transactions` does.

    Parameters
    ----------
    spark
        The session (:func:`get_session`).
    source
        A table name (``"sales.orders"``), a path (Parquet file or folder,
        hive-partitioned or not, CSV with a header) or a Spark DataFrame.
    customer_id, date, amount, quantity, date_format, as_of, min_date, duplicates, \
zero_amounts, leading_zeros, decimal, thousands, time_zone
        As for :func:`clv.load_transactions`: the same column mapping, the same
        checks (an error lists every problem found with its count and an
        example value) and the same counted policies. ``date_format`` is a
        strftime format (``"%d/%m/%Y"``), translated to a Spark pattern.
        A ``TIMESTAMP`` column is an instant: its UTC wall-clock time is kept,
        or it is converted to ``time_zone`` when given.
    file_format
        Spark data source of a path (``"parquet"``, ``"csv"``, ``"delta"``,
        ``"orc"``); by default taken from the suffix (Parquet otherwise).

    Returns
    -------
    SparkTransactionLog
        ``.data`` (Spark DataFrame: ``customer_id`` string, ``date``
        timestamp_ntz, ``amount`` double, ``quantity`` bigint where given) and
        ``.quality`` (:class:`clv.DataQuality`, the same counts as
        :func:`clv.load_transactions` gives for the same rows).

    Raises
    ------
    TransactionDataError
        Missing columns, an empty log, and every kind of bad row, counted.
    """
    for name, policy in (("duplicates", duplicates), ("zero_amounts", zero_amounts)):
        if policy not in _POLICIES:
            raise ValueError(f"{name}={policy!r}; use one of {', '.join(_POLICIES)}")
    if leading_zeros not in ("keep", "strip"):
        raise ValueError(f"leading_zeros={leading_zeros!r}; use 'keep' or 'strip'")
    _check_separators(decimal, thousands)
    if time_zone is not None:
        _check_time_zone(time_zone)
    as_of_date = _as_date(as_of, "as_of") if as_of is not None else dt.date.today()
    min_date_ = _as_date(min_date, "min_date")
    raw, label, is_csv = _source_frame(spark, source, file_format)
    columns = raw.columns
    if quantity is None and "quantity" in columns:
        quantity = "quantity"
    wanted = {"customer_id": customer_id, "date": date, "amount": amount}
    if quantity is not None:
        wanted["quantity"] = quantity
    missing = [(role, col) for role, col in wanted.items() if col not in columns]
    if missing:
        raise TransactionDataError(
            [
                f"column {col!r} ({role}) is missing; the columns are {columns}; pass "
                f"{role}='<column name>' to say which column holds it"
                for role, col in missing
            ],
            label,
        )
    types = {f.name: f.dataType for f in raw.schema.fields}
    session_zone = spark.conf.get("spark.sql.session.timeZone") or "UTC"
    todo = "fill them in or remove those rows before loading"

    # blank CSV lines: every field empty
    frame = raw
    blank = F.lit(False)
    if is_csv:
        blank = F.lit(True)
        for c in columns:
            blank = blank & F.col(f"`{c}`").isNull()

    # ids
    id_raw = F.col(f"`{customer_id}`")
    id_type = types[customer_id]
    counts: dict[str, Column] = {}
    checks: list[_Check] = []
    id_number = None
    if isinstance(id_type, T.IntegralType):
        counts["ids_read_from_numbers"] = F.count(id_raw)
        ids = id_raw.cast("string")
    elif isinstance(id_type, T.FractionalType):
        counts["ids_read_from_numbers"] = F.count(id_raw)
        id_number = id_raw.cast("double")
        whole = (
            ~F.isnan(id_number)
            & (F.abs(id_number) < float("inf"))
            & (id_number == F.floor(id_number))
            & (F.abs(id_number) <= _EXACT_FLOAT_IDS)
        )
        ids = F.when(whole, id_number.cast("long")).cast("string")
        checks.append(
            _Check(
                id_number.isNotNull() & ids.isNull(),
                customer_id,
                "with customer ids that are numbers with a fraction or too large to be exact",
                "ids must be whole numbers; store ids as text so that none is rounded",
                show=id_number.cast("string"),
            )
        )
    else:
        ids = id_raw.cast("string")
    trimmed = _strip(ids)
    counts["customer_ids_stripped"] = F.sum((trimmed != ids).cast("long"))
    counts["id_characters_stripped"] = F.sum(trimmed.rlike(_ID_INVISIBLE).cast("long"))
    clean_ids = _strip(F.regexp_replace(trimmed, _ID_INVISIBLE, ""))
    checks += [
        _Check(
            clean_ids.isNull() & (id_number.isNull() if id_number is not None else F.lit(True)),
            customer_id,
            "with no customer id",
            todo,
        ),
        _Check(clean_ids == "", customer_id, "with an empty customer id", todo),
    ]

    # dates
    date_raw = F.col(f"`{date}`")
    dates, date_checks, date_counts, _ = _dates(
        frame.filter(~blank) if is_csv else frame,
        date_raw,
        types[date],
        date,
        date_format,
        time_zone,
        session_zone,
    )
    counts |= date_counts
    after = dt.datetime.combine(as_of_date + dt.timedelta(days=1), dt.time())
    before = dt.datetime.combine(min_date_, dt.time())
    checks.append(_Check(date_raw.isNull(), date, "with no date", todo))
    checks += date_checks
    checks += [
        _Check(
            dates >= F.lit(after).cast("timestamp_ntz"),
            date,
            f"dated after the as-of date {as_of_date}",
            "check the date format, or pass as_of= the export date",
            show=dates.cast("string"),
        ),
        _Check(
            dates < F.lit(before).cast("timestamp_ntz"),
            date,
            f"dated before {min_date_}, which cannot be right",
            "check the date format, or pass min_date= if such old purchases are real",
            show=dates.cast("string"),
        ),
    ]

    # amounts
    amount_raw = F.col(f"`{amount}`")
    amount_type = types[amount]
    if isinstance(amount_type, T.StringType):
        values = _number(amount_raw, decimal, thousands)
    elif isinstance(amount_type, T.NumericType):
        values = amount_raw.cast("double")
    else:
        values = F.lit(None).cast("double")
    finite = ~F.isnan(values) & (F.abs(values) < float("inf"))
    checks += [
        _Check(
            amount_raw.isNull(),
            amount,
            "with no amount",
            "fill them in (0 for a free order) or remove those rows",
        ),
        _Check(
            values.isNull() & amount_raw.isNotNull(),
            amount,
            "with amounts that are not numbers",
            f"remove currency symbols and thousands separators, use {decimal!r} for decimals",
            show=amount_raw.cast("string"),
        ),
        _Check(
            ~finite,
            amount,
            "with amounts that are NaN or infinite",
            "fix or remove those rows",
            show=amount_raw.cast("string"),
        ),
        _Check(
            (values < 0) & finite,
            amount,
            "with negative amounts",
            "returns belong in a separate 'return' column or should be removed",
            show=amount_raw.cast("string"),
        ),
        _Check(
            (values >= MAX_AMOUNT) & finite,
            amount,
            f"with amounts of {MAX_AMOUNT:,} or more, too large to add up exactly",
            "check that the column holds amounts in currency units (not ids, card numbers or "
            "a misread separator) and fix or remove those rows",
            show=amount_raw.cast("string"),
        ),
    ]

    # quantities
    quantities = None
    if quantity is not None:
        q_raw = _strip(F.col(f"`{quantity}`").cast("string"))
        as_float = _number(q_raw, decimal, thousands)
        whole = (
            ~F.isnan(as_float) & (F.abs(as_float) < float("inf")) & (as_float == F.floor(as_float))
        )
        quantities = F.when(whole, as_float.try_cast("long"))
        checks += [
            _Check(
                q_raw.isNull(),
                quantity,
                "with no quantity",
                "fill them in, or load without quantity=",
            ),
            _Check(
                (quantities.isNull() & q_raw.isNotNull()) | (quantities < 0),
                quantity,
                "that are not whole numbers >= 0",
                "fix them, or load without quantity=",
                show=q_raw,
            ),
        ]

    # one pass: every check and count
    rows = frame.filter(~blank) if is_csv else frame
    aggregations = [F.count(F.lit(1)).alias("_rows")]
    for i, check in enumerate(checks):
        mask = F.coalesce(check.mask, F.lit(False))
        aggregations.append(F.sum(mask.cast("long")).alias(f"_n{i}"))
        if check.show is not None:
            aggregations.append(F.min(F.when(mask, check.show)).alias(f"_e{i}"))
    aggregations += [F.coalesce(e, F.lit(0)).alias(k) for k, e in counts.items()]
    aggregations += [
        F.sum((values == 0).cast("long")).alias("_zero"),
        F.min(F.length(clean_ids)).alias("_len_min"),
        F.max(F.length(clean_ids)).alias("_len_max"),
    ]
    stats_row = rows.select(*aggregations).first()
    stats = stats_row.asDict() if stats_row is not None else {}
    n_rows = int(stats.get("_rows") or 0)
    n_read = n_rows
    n_blank = 0
    if is_csv:
        n_read = raw.count()
        n_blank = n_read - n_rows
    if n_rows == 0:
        raise TransactionDataError(
            ["the log has a header but no rows; export it again with its transactions"], label
        )
    problems = []
    for i, check in enumerate(checks):
        n = int(stats[f"_n{i}"] or 0)
        if not n:
            continue
        example = stats.get(f"_e{i}")
        shown = f" (for example {example!r})" if example is not None else ""
        problems.append(
            f"column {check.name!r} has {_rows(n)} {check.what}{shown}"
            + (f"; {check.todo}" if check.todo else "")
        )
    if problems:
        raise TransactionDataError(problems, label)

    selected = [clean_ids.alias("customer_id"), dates.alias("date"), values.alias("amount")]
    if quantities is not None:
        selected.append(quantities.alias("quantity"))
    data = rows.select(*selected)
    keep_cols = list(wanted)
    notes: list[str] = []

    # leading zeros: distinct ids that differ from another only by them
    n_zero_ids = 0
    if stats["_len_min"] != stats["_len_max"]:
        unpadded = F.regexp_replace(F.col("customer_id"), "^0+", "")
        n_zero_ids = int(
            data.select("customer_id")
            .distinct()
            .groupBy(unpadded.alias("_u"))
            .count()
            .where(F.col("count") > 1)
            .agg(F.coalesce(F.sum("count"), F.lit(0)))
            .first()[0]
        )
    if leading_zeros == "strip" and n_zero_ids:
        unpadded = F.regexp_replace(F.col("customer_id"), "^0+", "")
        data = data.withColumn("customer_id", F.when(unpadded == "", "0").otherwise(unpadded))

    # duplicates (identical in every loaded column) and near duplicates
    copies = data.groupBy(*keep_cols).agg(F.count(F.lit(1)).alias("_copies"))
    per_time = copies.groupBy("customer_id", "date").agg(
        F.sum("_copies").alias("_n"),
        F.sum(F.when(F.col("_copies") == 1, 1).otherwise(0)).alias("_singles"),
        F.sum(F.col("_copies") - 1).alias("_dups"),
        F.sum(F.when(F.col("amount") == 0, F.col("_copies") - 1).otherwise(0)).alias("_zdups"),
    )
    dup_row = per_time.agg(
        F.coalesce(F.sum("_dups"), F.lit(0)).alias("dup"),
        F.coalesce(F.sum(F.when(F.col("_n") >= 2, F.col("_singles")).otherwise(0)), F.lit(0)).alias(
            "near"
        ),
        F.coalesce(F.sum("_zdups"), F.lit(0)).alias("zdup"),
    ).first()
    n_dup, n_near, n_zero_dups = (int(v) for v in dup_row)  # type: ignore[union-attr]
    n_zero = int(stats["_zero"] or 0)
    n_dup_dropped = 0
    if n_dup and duplicates != "keep":
        if duplicates == "error":
            raise TransactionDataError(
                [
                    f"{n_dup:,} rows repeat an earlier row exactly; pass duplicates='keep' if "
                    "they are real repeat orders or duplicates='drop' to remove them"
                ],
                label,
            )
        data = data.dropDuplicates(keep_cols)
        n_zero -= n_zero_dups
        n_dup_dropped = n_dup
        notes.append(f"dropped {n_dup:,} exact duplicate rows")
    elif n_dup:
        notes.append(f"kept {n_dup:,} exact duplicate rows as repeat orders")
    n_zero_dropped = 0
    if n_zero:
        if zero_amounts == "error":
            raise TransactionDataError(
                [
                    f"column {amount!r} has {n_zero:,} rows with amount 0; pass "
                    "zero_amounts='keep' to count them as purchases or zero_amounts='drop' to "
                    "remove them"
                ],
                label,
            )
        if zero_amounts == "drop":
            data = data.filter(F.col("amount") != 0)
            n_zero_dropped = n_zero
            notes.append(f"dropped {n_zero:,} rows with amount 0")
        else:
            notes.append(f"kept {n_zero:,} rows with amount 0 as purchases")
    count_values = {k: int(stats[k] or 0) for k in counts}
    notes += _notes(dict(count_values), n_blank, n_zero_ids, leading_zeros, n_near, time_zone)
    quality = DataQuality(
        source=label,
        rows_read=n_read,
        rows_kept=n_rows - n_dup_dropped - n_zero_dropped,
        duplicate_rows=n_dup,
        duplicate_rows_dropped=n_dup_dropped,
        zero_amount_rows=n_zero,
        zero_amount_rows_dropped=n_zero_dropped,
        blank_rows_dropped=n_blank,
        ids_differing_by_leading_zeros=n_zero_ids,
        near_duplicate_rows=n_near,
        notes=tuple(notes),
        **count_values,
    )
    return SparkTransactionLog(data=data, quality=quality)


# --------------------------------------------------------------------------- summaries


def _log(transactions: SparkTransactionLog | DataFrame) -> DataFrame:
    if isinstance(transactions, SparkTransactionLog):
        return transactions.data
    if not is_spark_frame(transactions):
        raise TypeError(
            f"transactions is a {type(transactions).__name__}; give a Spark DataFrame with "
            "customer_id, date, amount (clv.spark.read_transactions maps and checks them)"
        )
    missing = [c for c in ("customer_id", "date", "amount") if c not in transactions.columns]
    if missing:
        raise ValueError(
            f"transactions lack the columns {missing}; read the log with "
            "clv.spark.read_transactions(spark, source, customer_id=, date=, amount=) to map "
            "its column names"
        )
    return transactions


def _day(frame: DataFrame) -> Column:
    """The calendar day of each ``date`` (wall clock; a TIMESTAMP at UTC)."""
    kind = frame.schema["date"].dataType
    if isinstance(kind, T.TimestampType):
        return F.to_date(_ntz(_wall_micros(F.col("date"), "UTC")))
    return F.to_date(F.col("date"))


def _period(day: Column, freq: str) -> Column:
    """Start of the period holding each day: weeks start on Monday."""
    if freq == "D":
        return day
    return F.trunc(day, "week" if freq == "W" else "month")


def _micros() -> Column:
    """Amounts in whole micro-units (half to even, as polars rounds), exact in
    DECIMAL(38, 0); an amount that cannot be summed exactly stops the job."""
    amount = F.col("amount").cast("double")
    scaled = F.rint(amount * F.lit(float(_MICROS)))
    bad = F.isnan(amount) | (F.abs(amount) >= F.lit(_MAX_SUMMABLE))
    message = F.concat(
        F.lit("customer "),
        F.col("customer_id"),
        F.lit(
            f" has an amount that cannot be summed exactly: amounts must be finite and below "
            f"{_MAX_SUMMABLE:.1e} currency units; read the log with clv.spark.read_transactions, "
            f"which refuses amounts of {MAX_AMOUNT:,} or more, NaN and infinity"
        ),
    )
    return F.when(bad, F.raise_error(message)).otherwise(scaled).cast(T.DecimalType(38, 0))


def _per_period(frame: DataFrame, freq: str) -> DataFrame:
    return frame.groupBy("customer_id", F.col("_period").alias("period")).agg(
        F.sum(_micros()).alias("micros")
    )


def _elapsed_spark(later: Column, earlier: Column, freq: str) -> Column:
    """Whole days (calendar months for ``freq="M"``) between period starts."""
    if freq == "M":
        months = (F.year(later) - F.year(earlier)) * 12 + (F.month(later) - F.month(earlier))
        return months.cast("double")
    return F.datediff(later, earlier).cast("double")


def _in_unit_spark(column: Column, freq: str, time_unit: str) -> Column:
    if freq == "M" or time_unit == "D":
        return column
    return column / F.lit(DAYS_PER_UNIT[time_unit])


def _money(micros: Column, count: Column | None = None) -> Column:
    """Summed micros in currency with the divisions of :func:`clv.rfm._to_money`."""
    value = micros.cast("double") / F.lit(float(_MICROS))
    if count is None:
        return value
    return F.when(count > 0, value / count.cast("double")).otherwise(F.lit(0.0))


def _summarise_periods(periods: DataFrame, end_period: dt.date, freq: str) -> DataFrame:
    """Per customer: frequency, recency and T in days (months), micros."""
    return (
        periods.groupBy("customer_id")
        .agg(
            F.min("period").alias("_first"),
            F.max("period").alias("_last"),
            (F.count(F.lit(1)) - 1).cast("long").alias("frequency"),
            F.sum("micros").alias("_total"),
            F.min_by("micros", "period").alias("_first_micros"),
        )
        .select(
            "customer_id",
            "frequency",
            _elapsed_spark(F.col("_last"), F.col("_first"), freq).alias("recency"),
            _elapsed_spark(F.lit(end_period), F.col("_first"), freq).alias("T"),
            (F.col("_total") - F.col("_first_micros")).alias("_repeat_micros"),
            F.col("_total"),
        )
    )


def summarize(
    transactions: SparkTransactionLog | DataFrame,
    *,
    freq: Freq = "D",
    time_unit: Freq | None = None,
    observation_end: str | dt.date | None = None,
) -> DataFrame:
    """:func:`clv.summarize` on Spark.

    Parameters
    ----------
    transactions
        A Spark DataFrame with ``customer_id``, ``date`` and ``amount`` (or a
        :class:`SparkTransactionLog`).
    freq, time_unit, observation_end
        As for :func:`clv.summarize`; ``observation_end`` defaults to the last
        transaction day (one aggregation).

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id``, ``frequency`` (bigint), ``recency``, ``T``,
        ``monetary_value``, ``revenue`` (double) and ``time_unit`` (string),
        one row per customer in no particular order; the values equal those
        of :func:`clv.summarize` exactly (sort by ``customer_id`` to compare).
    """
    time_unit = _check_units(freq, time_unit)
    frame = _log(transactions)
    day = _day(frame)
    if observation_end is None:
        last = frame.select(F.max(day)).first()
        if last is None or last[0] is None:
            raise ValueError("the transaction log is empty; there is nothing to summarise")
        observation_end = last[0]
    end = _as_date(observation_end, "observation_end")
    in_window = frame.where(day <= F.lit(end)).withColumn("_period", _period(day, freq))
    periods = _summarise_periods(_per_period(in_window, freq), _end_period(end, freq), freq)
    return periods.select(
        "customer_id",
        "frequency",
        _in_unit_spark(F.col("recency"), freq, time_unit).alias("recency"),
        _in_unit_spark(F.col("T"), freq, time_unit).alias("T"),
        _money(F.col("_repeat_micros"), F.col("frequency")).alias("monetary_value"),
        _money(F.col("_total")).alias("revenue"),
        F.lit(time_unit).alias("time_unit"),
    )


def calibration_holdout(
    transactions: SparkTransactionLog | DataFrame,
    *,
    calibration_end: str | dt.date,
    observation_end: str | dt.date,
    freq: Freq = "D",
    time_unit: Freq | None = None,
) -> DataFrame:
    """:func:`clv.calibration_holdout` on Spark: the same columns and values,
    one row per customer first seen in the calibration window, in no
    particular order."""
    time_unit = _check_units(freq, time_unit)
    cal_end = _as_date(calibration_end, "calibration_end")
    obs_end = _as_date(observation_end, "observation_end")
    if obs_end <= cal_end:
        raise ValueError(
            f"observation_end {obs_end} must be after calibration_end {cal_end}; the "
            "holdout window is the time between them"
        )
    frame = _log(transactions)
    day = _day(frame)
    cal_end_period = _end_period(cal_end, freq)
    obs_end_period = _end_period(obs_end, freq)
    dated = frame.withColumn("_period", _period(day, freq))
    cal = _summarise_periods(
        _per_period(dated.where(day <= F.lit(cal_end)), freq), cal_end_period, freq
    )
    holdout = (
        _per_period(dated.where((day > F.lit(cal_end)) & (day <= F.lit(obs_end))), freq)
        .groupBy("customer_id")
        .agg(
            F.count(F.lit(1)).cast("long").alias("frequency_holdout"),
            F.sum("micros").alias("_holdout_micros"),
        )
    )
    duration = pl.select(_elapsed(pl.lit(obs_end_period), pl.lit(cal_end_period), freq)).item()
    duration = _in_unit(pl.DataFrame({"d": [float(duration)]}), ["d"], freq, time_unit).item()
    joined = cal.join(holdout, on="customer_id", how="left")
    frequency_holdout = F.coalesce(F.col("frequency_holdout"), F.lit(0).cast("long"))
    holdout_micros = F.coalesce(F.col("_holdout_micros"), F.lit(0).cast(T.DecimalType(38, 0)))
    return joined.select(
        "customer_id",
        F.col("frequency").alias("frequency_cal"),
        _in_unit_spark(F.col("recency"), freq, time_unit).alias("recency_cal"),
        _in_unit_spark(F.col("T"), freq, time_unit).alias("T_cal"),
        _money(F.col("_repeat_micros"), F.col("frequency")).alias("monetary_value_cal"),
        _money(F.col("_total")).alias("revenue_cal"),
        frequency_holdout.alias("frequency_holdout"),
        _money(holdout_micros, frequency_holdout).alias("monetary_value_holdout"),
        _money(holdout_micros).alias("revenue_holdout"),
        F.lit(float(duration)).alias("duration_holdout"),
        F.lit(time_unit).alias("time_unit"),
    )


def window_counts(
    transactions: SparkTransactionLog | DataFrame,
    *,
    observation_end: str | dt.date,
    calibration_end: str | dt.date | None = None,
) -> WindowCounts:
    """:func:`clv.window_counts` on Spark (one aggregation per customer, one
    over customers)."""
    obs_end = _as_date(observation_end, "observation_end")
    cal_end = _as_date(calibration_end, "calibration_end") if calibration_end else obs_end
    if cal_end > obs_end:
        raise ValueError(
            f"calibration_end {cal_end} is after observation_end {obs_end}; the calibration "
            "window must end on or before the observation end"
        )
    frame = _log(transactions)
    day = _day(frame)

    def count(condition: Column) -> Column:
        return F.sum(condition.cast("long"))

    per_customer = frame.groupBy("customer_id").agg(
        F.count(F.lit(1)).alias("n"),
        count(day <= F.lit(cal_end)).alias("cal"),
        count((day > F.lit(cal_end)) & (day <= F.lit(obs_end))).alias("hold"),
        count(day > F.lit(obs_end)).alias("after"),
        F.min(day).alias("first"),
    )
    row = per_customer.agg(
        F.sum("n").alias("transactions"),
        F.count(F.lit(1)).alias("customers"),
        F.sum("cal").alias("in_calibration"),
        F.sum("hold").alias("in_holdout"),
        F.sum("after").alias("after_observation_end"),
        count(F.col("first") > F.lit(cal_end)).alias("customers_first_seen_after_calibration"),
    ).first()
    values = row.asDict() if row is not None else {}
    return WindowCounts(**{k: int(v or 0) for k, v in values.items()})


def tracking_counts(
    transactions: SparkTransactionLog | DataFrame,
    *,
    calibration_end: str | dt.date,
    observation_end: str | dt.date,
) -> tuple[dt.date, pl.DataFrame, pl.DataFrame]:
    """The small aggregates behind :func:`clv.backtest.tracking`, counted on
    Spark: the first purchase day of the customers acquired by
    ``calibration_end`` (``start``), repeat purchase days per week since then
    (``w``, ``n``), and customers per first-purchase day (``b`` days after
    ``start``, ``n``). Purchases are merged per day, as in the polars path."""
    cal_end = _as_date(calibration_end, "calibration_end")
    obs_end = _as_date(observation_end, "observation_end")
    frame = _log(transactions)
    days = (
        frame.select("customer_id", _day(frame).alias("day"))
        .where(F.col("day") <= F.lit(obs_end))
        .distinct()
    )
    first = (
        days.groupBy("customer_id")
        .agg(F.min("day").alias("first"))
        .where(F.col("first") <= F.lit(cal_end))
    )
    row = first.agg(F.min("first")).first()
    if row is None or row[0] is None:
        raise ValueError(
            f"no customer made a first purchase by calibration_end {cal_end}; give a later "
            "calibration end"
        )
    start: dt.date = row[0]
    actual = (
        days.join(first, "customer_id")
        .where(F.col("day") > F.col("first"))
        .groupBy(F.floor(F.datediff("day", F.lit(start)) / 7).cast("long").alias("w"))
        .agg(F.count(F.lit(1)).cast("long").alias("n"))
    )
    births = first.groupBy(F.datediff("first", F.lit(start)).cast("long").alias("b")).agg(
        F.count(F.lit(1)).cast("long").alias("n")
    )
    return start, to_polars(actual).sort("w"), to_polars(births).sort("b")


def compress(
    summary: DataFrame, columns: tuple[str, ...] = ("frequency", "recency", "T")
) -> pl.DataFrame:
    """:func:`clv.compress` of a Spark summary: the distinct histories with
    the number of customers sharing each (``n_customers``), collected through
    Arrow into a small, sorted polars frame."""
    counted = summary.groupBy(*columns).agg(F.count(F.lit(1)).cast("long").alias("n_customers"))
    return to_polars(counted).sort(list(columns))


# --------------------------------------------------------------------------- scores


def _score_output_fields(margin: float | None) -> list[str]:
    fields = [
        "expected_purchases",
        "p_alive",
        "churn_probability",
        "p_active",
        "p_no_purchase",
        "expected_order_value",
        "clv",
    ]
    return [*fields, "clv_revenue"] if margin is not None else fields


def _score_batches(
    batches: Iterator[pa.RecordBatch], schema: pa.Schema, options: dict[str, Any]
) -> Iterator[pa.RecordBatch]:
    """Score each Arrow batch with :func:`clv.score` (on an executor)."""
    from clv.scoring import score as polars_score

    for batch in batches:
        if batch.num_rows == 0:
            continue
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        scored = polars_score(frame, **options)
        yield (
            pa.Table.from_batches(scored.to_arrow().to_batches())
            .cast(schema)
            .combine_chunks()
            .to_batches()[0]
        )


def score(
    summary: DataFrame,
    purchase_model: PurchaseModelResults,
    spend_model: SpendModelResults | None = None,
    *,
    horizon_days: float = 365.0,
    discount_rate_annual: float = 0.10,
    steps_per_year: int = 12,
    margin: float | None = None,
    activity_horizon_days: float | None = None,
    on: Literal["executors", "driver"] = "executors",
) -> DataFrame:
    """:func:`clv.score` of a Spark summary.

    Parameters
    ----------
    summary
        A Spark summary (:func:`summarize`, or :func:`calibration_holdout`).
    purchase_model, spend_model, horizon_days, discount_rate_annual, steps_per_year, \
margin, activity_horizon_days
        As for :func:`clv.score`.
    on
        ``"executors"``: each partition is scored by :func:`clv.score` itself
        through ``mapInArrow`` (the executors need ``clv`` installed).
        ``"driver"``: the distinct histories are collected, scored on the
        driver by :func:`clv.score` and joined back (broadcast), so the
        executors need nothing but Spark.

    Returns
    -------
    pyspark.sql.DataFrame
        The summary columns plus the score columns of :func:`clv.score`,
        with the same values.
    """
    options: dict[str, Any] = {
        "purchase_model": purchase_model,
        "spend_model": spend_model,
        "horizon_days": horizon_days,
        "discount_rate_annual": discount_rate_annual,
        "steps_per_year": steps_per_year,
        "margin": margin,
        "activity_horizon_days": activity_horizon_days,
    }
    if on == "executors":
        fields = [*summary.schema.fields]
        fields += [T.StructField(n, T.DoubleType()) for n in _score_output_fields(margin)]
        out_schema = T.StructType(fields)
        arrow_schema = pa.schema(
            [pa.field(f.name, _arrow_type(f.dataType)) for f in out_schema.fields]
        )

        def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            return _score_batches(batches, arrow_schema, options)

        return summary.mapInArrow(run, out_schema)
    if on == "driver":
        return _score_on_driver(summary, options)
    raise ValueError(f"on={on!r}; use 'executors' or 'driver'")


def _arrow_type(kind: T.DataType) -> pa.DataType:
    if isinstance(kind, T.StringType):
        return pa.string()
    if isinstance(kind, T.LongType):
        return pa.int64()
    if isinstance(kind, T.IntegerType):
        return pa.int32()
    if isinstance(kind, T.DoubleType):
        return pa.float64()
    raise TypeError(f"a summary column of type {kind.simpleString()} cannot be scored")


def _score_on_driver(summary: DataFrame, options: dict[str, Any]) -> DataFrame:
    """Score the distinct histories on the driver and join back."""
    from clv.models import _columns
    from clv.scoring import score as polars_score

    spark = summary.sparkSession
    names = _columns(pl.DataFrame(schema=summary.columns))
    key = [names["frequency"], names["recency"], names["T"]]
    with_unit = "time_unit" in summary.columns
    triples = to_polars(summary.select(*key, *(["time_unit"] if with_unit else [])).distinct())
    # expected order value 1 makes clv the discounted expected purchases
    unit_orders = triples.with_columns(pl.lit(1.0).alias(names["monetary_value"]))
    purchase = polars_score(unit_orders, **(options | {"spend_model": None, "margin": None}))
    purchase = purchase.select(
        *key,
        "expected_purchases",
        "p_alive",
        "churn_probability",
        "p_active",
        "p_no_purchase",
        pl.col("clv").alias("_discounted_purchases"),
    )
    scored = summary.join(F.broadcast(spark.createDataFrame(purchase.to_arrow())), on=key)
    mv = names["monetary_value"]
    revenue = "revenue" if "revenue" in summary.columns else "revenue_cal"
    spend_model = options["spend_model"]
    if spend_model is not None:
        if mv not in summary.columns:
            raise ValueError("the summary has no monetary_value column for the spend model")
        pairs = to_polars(summary.select(names["frequency"], mv).distinct())
        pairs = pairs.with_columns(
            pl.Series(
                "expected_order_value",
                spend_model.expected_order_value(
                    pairs[names["frequency"]].to_numpy(), pairs[mv].to_numpy()
                ),
            )
        )
        spend = F.broadcast(spark.createDataFrame(pairs.to_arrow()))
        scored = scored.join(spend, on=[names["frequency"], mv])
    elif revenue in summary.columns:
        scored = scored.withColumn(
            "expected_order_value", F.col(revenue) / (F.col(names["frequency"]) + 1)
        )
    elif mv in summary.columns:
        scored = scored.withColumn("expected_order_value", F.col(mv).cast("double"))
    else:
        raise ValueError(
            "give a spend_model or a summary with monetary_value to value the purchases"
        )
    revenue_value = F.col("expected_order_value") * F.col("_discounted_purchases")
    margin = options["margin"]
    value = (
        [revenue_value.alias("clv")]
        if margin is None
        else [
            (revenue_value * F.lit(float(margin))).alias("clv"),
            revenue_value.alias("clv_revenue"),
        ]
    )
    return scored.select(
        *summary.columns,
        "expected_purchases",
        "p_alive",
        "churn_probability",
        "p_active",
        "p_no_purchase",
        "expected_order_value",
        *value,
    )


# --------------------------------------------------------------------------- tiers


@dataclass(frozen=True)
class SparkGrading:
    """Tiers of customers scored on Spark.

    ``thresholds`` (and the other fields but ``customers``) are those
    :func:`clv.grade` gives for the same scores; ``customers`` is the graded
    Spark DataFrame, with the columns of :attr:`clv.tiers.Grading.customers`.
    :meth:`to_grading` collects it into a :class:`clv.tiers.Grading` (for the
    report's tables); :func:`write_graded` writes it.
    """

    grading: Grading  # thresholds, moves, stability, notes; customers left out
    customers: DataFrame

    @property
    def thresholds(self) -> np.ndarray:
        return self.grading.thresholds

    @property
    def scheme(self) -> Scheme:
        return self.grading.scheme

    def to_grading(self) -> Grading:
        """The grading with its customers collected (Arrow), sorted by id."""
        import dataclasses

        customers = to_polars(self.customers).sort("customer_id")
        return dataclasses.replace(self.grading, customers=customers)


def grade(
    scores: DataFrame,
    scheme: Scheme | str | Path = "five_card",
    *,
    lang: Literal["en", "zh"] = "en",
    n_bootstrap: int = 0,
    alpha: float = 0.05,
    instability_level: float = 0.10,
    seed: int = 0,
    indistinct_within: float | None = 0.05,
    min_tier_customers: int = 5,
    min_tier_share: float = 0.01,
) -> SparkGrading:
    """:func:`clv.grade` of Spark scores: thresholds from the collected score
    column, assignment on the executors.

    The scheme's score column is collected in ``customer_id`` order (one
    double per customer, through Arrow) and cut by :func:`clv.grade` itself,
    so the thresholds, the moves that keep blocks of equal scores together
    and the bootstrap equal those of the polars path. Tiers, risk bands,
    statuses and actions are then assigned on the executors with the same
    rules (a score equal to a threshold belongs to the higher tier).

    Parameters are those of :func:`clv.grade`.

    Returns
    -------
    SparkGrading
    """
    from clv.tiers import Scheme as SchemeType
    from clv.tiers import grade as polars_grade
    from clv.tiers import load_scheme

    if not isinstance(scheme, SchemeType):
        scheme = load_scheme(scheme)
    needed = {"customer_id", scheme.score, scheme.risk_score, "p_alive", "clv", "frequency", "T"}
    missing = sorted(needed - set(scores.columns))
    if missing:
        raise ValueError(
            f"scores lack the columns {missing}; grade the output of clv.score "
            f"(scheme {scheme.id!r} is cut on {scheme.score!r})"
        )
    collected = to_polars(
        scores.orderBy("customer_id").select(F.col(scheme.score).cast("double").alias("v"))
    )
    values = collected["v"]
    n = values.len()
    # a stand-in frame: only the score column decides the thresholds
    stand_in: dict[str, Any] = {"customer_id": pl.int_range(n, eager=True)}
    for column in needed - {"customer_id"}:
        stand_in[column] = values if column == scheme.score else pl.zeros(n, eager=True)
    cut = polars_grade(
        pl.DataFrame(stand_in),
        scheme,
        lang=lang,
        n_bootstrap=n_bootstrap,
        alpha=alpha,
        instability_level=instability_level,
        seed=seed,
        indistinct_within=indistinct_within,
        min_tier_customers=min_tier_customers,
        min_tier_share=min_tier_share,
    )
    summary_only = cut.customers.clear()
    import dataclasses

    grading = dataclasses.replace(cut, customers=summary_only)
    return SparkGrading(grading=grading, customers=_assign(scores, grading, lang))


def _assign(scores: DataFrame, grading: Grading, lang: str) -> DataFrame:
    """Tier, risk band, status and action per customer, as :func:`clv.grade`
    assigns them, on the executors."""
    scheme = grading.scheme
    value = F.col(scheme.score).cast("double")
    rank = F.lit(1).cast("long")
    for threshold in np.asarray(grading.thresholds, dtype=float).tolist():
        rank = rank + F.when(value < F.lit(threshold), 1).otherwise(0)
    risk = F.col(scheme.risk_score).cast("double")
    uppers = [float(b.upper) for b in scheme.bands]
    band_index = F.lit(0)
    for upper in uppers:
        band_index = band_index + F.when(risk > F.lit(upper), 1).otherwise(0)
    band_index = F.least(band_index, F.lit(len(uppers) - 1))
    days_per_unit = F.lit(DAYS_PER_UNIT["W"])
    if "time_unit" in scores.columns:  # one unit per summary; no job to look it up
        days_per_unit = F.coalesce(
            F.element_at(
                F.create_map(*[F.lit(x) for kv in DAYS_PER_UNIT.items() for x in kv]),
                F.col("time_unit"),
            ),
            days_per_unit,
        )
    age_days = F.col("T") * days_per_unit
    status = (
        F.when(age_days < F.lit(float(scheme.provisional_days)), "provisional")
        .when(band_index == len(uppers) - 1, "lost")
        .when(F.col("frequency") == 0, "one_time")
        .otherwise("graded")
    )
    tier_ids = F.array(*[F.lit(t.id) for t in scheme.tiers])
    tier_names = F.array(*[F.lit(t.name(lang)) for t in scheme.tiers])
    band_ids = F.array(*[F.lit(b.id) for b in scheme.bands])
    actions = F.create_map(
        *[
            item
            for t in scheme.tiers
            for b in scheme.bands
            for item in (F.lit(f"{t.id}\x1f{b.id}"), F.lit(scheme.action(t.id, b.id, lang)))
        ]
    )
    tier = F.element_at(tier_ids, rank.cast("int"))
    band = F.element_at(band_ids, (band_index + 1).cast("int"))
    keep = [c for c in scores.columns if c != "customer_id"]
    return scores.select(
        "customer_id",
        tier.alias("tier"),
        rank.alias("tier_rank"),
        F.element_at(tier_names, rank.cast("int")).alias("tier_name"),
        band.alias("risk_band"),
        status.alias("status"),
        F.element_at(actions, F.concat(tier, F.lit("\x1f"), band)).alias("action"),
        *keep,
    )


def write_graded(
    graded: SparkGrading | DataFrame,
    *,
    path: str | Path | None = None,
    table: str | None = None,
    mode: Literal["error", "overwrite", "append", "ignore"] = "error",
    partition_by: list[str] | None = None,
) -> None:
    """Write the graded customers to a Parquet path or a table.

    Parameters
    ----------
    graded
        The result of :func:`grade` (or its ``customers``).
    path, table
        Exactly one: a folder to write Parquet files to, or a table name
        (``saveAsTable``, the catalog's default format, e.g. Delta on
        Databricks).
    mode
        What to do when the target exists: ``"error"`` (the default),
        ``"overwrite"``, ``"append"`` or ``"ignore"``.
    partition_by
        Columns to partition the output by (``["tier"]``, say).
    """
    if (path is None) == (table is None):
        raise ValueError("give exactly one of path= (a Parquet folder) or table= (a table name)")
    frame = graded.customers if isinstance(graded, SparkGrading) else graded
    writer = frame.write.mode(mode)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    if path is not None:
        writer.parquet(str(path))
    else:
        writer.saveAsTable(str(table))


# --------------------------------------------------------------------------- for the report


@dataclass(frozen=True)
class CustomerSummaries:
    """What a report needs from a log kept in Spark, collected into polars:
    ``summary`` (:func:`clv.summarize`), ``calibration``
    (:func:`clv.calibration_holdout`, when a calibration end is given),
    ``windows`` (:func:`clv.window_counts`) and ``quality``."""

    summary: pl.DataFrame
    quality: DataQuality
    windows: WindowCounts
    calibration: pl.DataFrame | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def customer_summaries(
    spark: SparkSession,
    source: str | Path | DataFrame,
    *,
    freq: Freq = "D",
    time_unit: Freq | None = None,
    observation_end: str | dt.date | None = None,
    calibration_end: str | dt.date | None = None,
    **loader_options: Any,
) -> CustomerSummaries:
    """Read, validate and summarise a log on Spark; collect the per-customer
    summaries (Arrow) as the polars frames :func:`clv.summarize` and
    :func:`clv.calibration_holdout` would give, sorted by ``customer_id``.

    Parameters
    ----------
    spark
        The session (:func:`get_session`).
    source
        A table name, a path or a Spark DataFrame.
    freq, time_unit, observation_end, calibration_end
        As for :func:`clv.summarize` and :func:`clv.calibration_holdout`.
    **loader_options
        The column mapping and policies of :func:`read_transactions`
        (``customer_id=``, ``date=``, ``amount=``, ``date_format=``, ...).
    """
    log = read_transactions(spark, source, **loader_options)
    data = log.data.cache()
    try:
        if observation_end is None:
            last = data.select(F.max(_day(data))).first()
            if last is None or last[0] is None:
                raise ValueError("the transaction log is empty; there is nothing to summarise")
            observation_end = last[0]
        summary = to_polars(
            summarize(data, freq=freq, time_unit=time_unit, observation_end=observation_end)
        ).sort("customer_id")
        windows = window_counts(
            data, observation_end=observation_end, calibration_end=calibration_end
        )
        calibration = None
        if calibration_end is not None:
            calibration = to_polars(
                calibration_holdout(
                    data,
                    calibration_end=calibration_end,
                    observation_end=observation_end,
                    freq=freq,
                    time_unit=time_unit,
                )
            ).sort("customer_id")
    finally:
        data.unpersist()
    return CustomerSummaries(
        summary=summary, quality=log.quality, windows=windows, calibration=calibration
    )
