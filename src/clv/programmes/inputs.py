"""Reading the programmes' input files by the transaction loader's rules.

:func:`read_events` (points events), :func:`read_redemptions` (points
redeemed) and :func:`read_accounts` (the B2B accounts table) read a CSV
(any encoding Python knows, any separator), a Parquet file or a polars frame
with the loader's reader: every column as text, then each cast by these
functions so that every failure is reported with its line.

- Dates are read only in an unambiguous format (``2024-03-06``,
  ``20240306``...) or the ``date_format`` given: ``06/03/1997`` is never
  guessed to be day-first or month-first; the error says how many dates could
  not be read, the first line and to pass ``date_format=``.
- Rows with a blank (or whitespace-only) customer id, or no date, are removed
  and kept in ``rejected`` with their line and reason: they are never
  credited to anyone.
- Numeric columns (redeemed points, the scorecard's numeric fields) are cast,
  and values that are not numbers are errors naming the column and line.
- Empty files, header-only files and missing columns are
  :class:`ProgrammeInputError` saying what the file should contain.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from clv.data import _parse_dates, _read
from clv.programmes.scorecard import Scorecard, load_scorecard

__all__ = [
    "EventsInput",
    "ProgrammeInputError",
    "read_accounts",
    "read_events",
    "read_redemptions",
]

Source = str | Path | pl.DataFrame

_LINE = "_clv_line"  # line of a row in the file (row number for a frame)

_EVENTS_NEED = (
    "a header row and one row per event with the columns customer_id, date and event "
    "(an event type of the points rules), optionally product_id"
)
_REDEMPTIONS_NEED = (
    "a header row and one row per redemption with the columns customer_id, date and points "
    "(whole points redeemed)"
)


class ProgrammeInputError(ValueError):
    """A programme input file that cannot be used, with every problem found:
    what is wrong, where (column, line) and what to do."""

    def __init__(self, problems: Sequence[str], source: str = "", what: str = "input") -> None:
        self.problems = list(problems)
        self.source = source
        head = f"{what} {source}" if source else what
        if len(self.problems) == 1:
            message = f"{head}: {self.problems[0]}"
        else:
            message = f"{head}: {len(self.problems)} problems\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(message)


@dataclass(frozen=True)
class EventsInput:
    """A dated per-customer input (points events or redemptions) as read.

    ``data``: ``customer_id`` (String, stripped), ``date`` (Date) and the
    other columns (text, or the numbers a reader casts), in file order.
    ``rejected``: the rows removed, never credited: ``line`` (of the file;
    the header is line 1), ``customer_id``, ``date`` (as written) and
    ``reason``. ``date_format``: the format the dates were read with.
    """

    data: pl.DataFrame
    rejected: pl.DataFrame
    source: str
    date_format: str | None

    def counts(self) -> dict[str, int]:
        """Rejected rows per reason."""
        return dict(self.rejected.group_by("reason").len().sort("reason").rows())

    def __repr__(self) -> str:
        return (
            f"<EventsInput {self.source}: {self.data.height:,} rows, "
            f"{self.rejected.height:,} rejected>"
        )


def read_events(
    path: Source,
    *,
    date_format: str | None = None,
    encoding: str = "utf8",
    separator: str = ",",
    customer_id: str = "customer_id",
    date: str = "date",
) -> EventsInput:
    """Read a points events file (``customer_id``, ``date``, ``event``,
    optionally ``product_id``) for :func:`~clv.programmes.build_ledger`.

    Parameters
    ----------
    path
        A CSV, TSV or Parquet file, or a polars frame.
    date_format
        The strftime format of the dates (``"%d/%m/%Y"``); by default only
        unambiguous formats are read.
    encoding
        The CSV's encoding (``"utf8"``, ``"gbk"``, ``"gb18030"``...).
    separator
        The CSV's field separator.
    customer_id, date
        The file's names of the customer id and date columns.

    Raises
    ------
    ProgrammeInputError
        For an empty or header-only file, missing columns, or dates that
        cannot be read.
    """
    return _read_dated(
        path,
        "points events",
        ("event",),
        _EVENTS_NEED,
        date_format=date_format,
        encoding=encoding,
        separator=separator,
        customer_id=customer_id,
        date=date,
    )


def read_redemptions(
    path: Source,
    *,
    date_format: str | None = None,
    encoding: str = "utf8",
    separator: str = ",",
    customer_id: str = "customer_id",
    date: str = "date",
) -> EventsInput:
    """Read a redemptions file (``customer_id``, ``date``, ``points``) for
    :func:`~clv.programmes.build_ledger`: as :func:`read_events`, and
    ``points`` cast to whole numbers (Int64).

    Raises
    ------
    ProgrammeInputError
        As :func:`read_events`, and for points that are not whole numbers
        (with the first line).
    """
    return _read_dated(
        path,
        "redemptions",
        ("points",),
        _REDEMPTIONS_NEED,
        date_format=date_format,
        encoding=encoding,
        separator=separator,
        customer_id=customer_id,
        date=date,
        whole_numbers=("points",),
    )


def read_accounts(
    path: Source,
    *,
    scorecard: Scorecard | str | Path = "b2b_parts_supplier",
    encoding: str = "utf8",
    separator: str = ",",
    account: str = "account",
) -> pl.DataFrame:
    """Read a B2B accounts table (one row per account and year) for
    :func:`~clv.programmes.grade_accounts` with ``scorecard``.

    The columns: ``account`` (text), the fields the scorecard's criteria read
    (numbers for numeric criteria and their ``require`` fields, text for class
    criteria), optionally ``year`` (whole numbers); other columns stay text.

    Raises
    ------
    ProgrammeInputError
        For an empty or header-only file, missing columns, blank account ids,
        and values of numeric fields that are not numbers (column and first
        line of each).
    """
    card = scorecard if isinstance(scorecard, Scorecard) else load_scorecard(scorecard)
    numeric = [c.field for c in card.criteria if c.kind == "numeric"]
    numeric += [c.require_field for c in card.criteria if c.require_field]
    numeric = list(dict.fromkeys(numeric))
    classes = [c.field for c in card.criteria if c.kind == "class"]
    required = ["account", *dict.fromkeys([*numeric, *classes])]
    need = (
        f"a header row and one row per account (and year) with the columns "
        f"{', '.join(required)} (the fields scorecard {card.id!r} reads), optionally year"
    )
    frame, label, is_csv = _load(
        path, "accounts", need, required, {account: "account"}, encoding, sep=separator
    )
    problems: list[str] = []
    where = "line" if is_csv else "row"
    ids = _stripped(frame["account"])
    blank = ids.is_null() | (ids == "")
    if blank.any():
        lines = frame.filter(blank)[_LINE].to_list()
        problems.append(
            f"column {account!r}: {_rows(len(lines))} with a blank account id, at {where}(s) "
            f"{_some(lines)}; give every row its account"
        )
    casts = [ids.alias("account")]
    for column in numeric:
        casts.append(_numbers(frame, column, problems, where=where).alias(column))
    if "year" in frame.columns:
        casts.append(
            _numbers(frame, "year", problems, whole=True, where=where).cast(pl.Int64).alias("year")
        )
    if problems:
        raise ProgrammeInputError(problems, label, "accounts")
    return frame.with_columns(casts).drop(_LINE)


# ---------------------------------------------------------------------------
# shared steps


def _rows(n: int) -> str:
    return "1 row" if n == 1 else f"{n:,} rows"


def _some(lines: list[int], shown: int = 5) -> str:
    text = ", ".join(str(line) for line in lines[:shown])
    return text + (f" and {len(lines) - shown:,} more" if len(lines) > shown else "")


def _stripped(column: pl.Series) -> pl.Series:
    return column.cast(pl.String).str.strip_chars()


def _load(
    source: Source,
    what: str,
    need: str,
    required: Sequence[str],
    names: dict[str, str],
    encoding: str,
    *,
    sep: str,
) -> tuple[pl.DataFrame, str, bool]:
    """Read ``source`` (every column as text), check it has rows and the
    ``required`` columns (after renaming the caller's ``names``), and add the
    line of each row. Returns (frame, label, is_csv)."""
    label = "(polars DataFrame)" if isinstance(source, pl.DataFrame) else str(source)
    if not isinstance(source, pl.DataFrame):
        path = Path(source)
        if path.is_file() and path.stat().st_size < (1 << 16):
            if not path.read_bytes().strip(b" \t\r\n").removeprefix(b"\xef\xbb\xbf").strip():
                raise ProgrammeInputError(
                    [f"the file is empty; it should have {need}"], label, what
                )
    try:
        frame, label, is_csv = _read(source, sep, encoding)
    except ProgrammeInputError:
        raise
    except ValueError as exc:
        problems = list(getattr(exc, "problems", [str(exc)]))
        if any("empty" in p for p in problems):
            problems = [f"the file is empty; it should have {need}"]
        raise ProgrammeInputError(problems, label, what) from None
    renames = {old: new for old, new in names.items() if old != new}
    clash = [new for old, new in renames.items() if new in frame.columns and old in frame.columns]
    if clash:
        raise ProgrammeInputError(
            [
                f"the file has a column named {clash[0]!r} besides the one mapped to it; "
                "rename or drop one of them"
            ],
            label,
            what,
        )
    frame = frame.rename({old: new for old, new in renames.items() if old in frame.columns})
    back = {new: old for old, new in names.items()}
    missing = [back.get(c, c) for c in required if c not in frame.columns]
    if missing:
        hints = "".join(
            f"; {m!r} may be {close[0]!r}"
            for m in missing
            if (close := difflib.get_close_matches(m, frame.columns, n=1, cutoff=0.6))
        )
        mapping = ", ".join(f"{new}=" for new in names)
        raise ProgrammeInputError(
            [
                f"columns {missing} are missing; the file has the columns {frame.columns}"
                f"{hints}; it should have {need} (pass {mapping} to map other names)"
            ],
            label,
            what,
        )
    if frame.height == 0:
        raise ProgrammeInputError(
            [f"the file has a header but no rows; it should have {need}"], label, what
        )
    first = 2 if is_csv else 1  # the header is line 1 of a CSV
    frame = frame.with_row_index(_LINE, offset=first).with_columns(pl.col(_LINE).cast(pl.Int64))
    return frame, label, is_csv


def _read_dated(
    source: Source,
    what: str,
    columns: Sequence[str],
    need: str,
    *,
    date_format: str | None,
    encoding: str,
    separator: str,
    customer_id: str,
    date: str,
    whole_numbers: Sequence[str] = (),
) -> EventsInput:
    """Read a file of dated rows per customer: blank ids and dates rejected,
    the dates parsed by the loader's rules, ``whole_numbers`` cast to Int64,
    the other text columns stripped."""
    frame, label, is_csv = _load(
        source,
        what,
        need,
        ["customer_id", "date", *columns],
        {customer_id: "customer_id", date: "date"},
        encoding,
        sep=separator,
    )
    ids = _stripped(frame["customer_id"])
    text_dates = frame["date"]
    if text_dates.dtype == pl.String:
        text_dates = text_dates.str.strip_chars()
    frame = frame.with_columns(ids.alias("customer_id"), text_dates.alias("date"))
    no_id = pl.col("customer_id").is_null() | (pl.col("customer_id") == "")
    no_date = pl.col("date").is_null()
    if text_dates.dtype == pl.String:
        no_date = no_date | (pl.col("date") == "")
    reason = (
        pl.when(no_id)
        .then(pl.lit("blank customer id"))
        .when(no_date)
        .then(pl.lit("no date"))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("reason")
    )
    frame = frame.with_columns(reason)
    rejected = frame.filter(pl.col("reason").is_not_null()).select(
        pl.col(_LINE).alias("line"),
        "customer_id",
        pl.col("date").cast(pl.String),
        "reason",
    )
    kept = frame.filter(pl.col("reason").is_null()).drop("reason")
    parsed, used, problem = _parse_dates(kept["date"], date_format)
    if problem is not None:
        bad = parsed.is_null() & kept["date"].is_not_null()
        lines = kept.filter(bad)[_LINE].to_list()
        values = kept.filter(bad)["date"].cast(pl.String).to_list()
        advice = "" if "date_format=" in problem else "; pass date_format= with the file's format"
        at = "line" if is_csv else "row"
        raise ProgrammeInputError(
            [
                f"column {date!r}: the dates of {_rows(len(lines))} {problem}{advice}; the "
                f"first is {values[0]!r} at {at} {lines[0]}"
            ],
            label,
            what,
        )
    problems: list[str] = []
    where = "line" if is_csv else "row"
    numbers = [
        _numbers(kept, c, problems, whole=True, where=where).cast(pl.Int64).alias(c)
        for c in whole_numbers
    ]
    if problems:
        raise ProgrammeInputError(problems, label, what)
    text = [
        _stripped(kept[c]).replace("", None).alias(c)
        for c in kept.columns
        if c not in ("customer_id", "date", _LINE, *whole_numbers) and kept[c].dtype == pl.String
    ]
    data = kept.with_columns(parsed.dt.date().alias("date"), *numbers, *text).drop(_LINE)
    return EventsInput(data=data, rejected=rejected, source=label, date_format=used)


def _numbers(
    frame: pl.DataFrame, column: str, problems: list[str], *, whole: bool = False, where: str
) -> pl.Series:
    """``column`` as Float64; values that are blank, not numbers, NaN or
    infinite (or not whole, if ``whole``) are recorded in ``problems`` with
    their first ``where`` ("line" of a file, "row" of a frame)."""
    raw = frame[column]
    if raw.dtype == pl.String:
        text = raw.str.strip_chars()
        values = text.cast(pl.Float64, strict=False)
    else:
        text = raw.cast(pl.String)
        values = raw.cast(pl.Float64, strict=False)
    blank = text.is_null() | (text == "")
    kind = "whole numbers" if whole else "numbers"
    example = "such as 120" if whole else "such as 1234.5"
    checks = [
        (blank, f"is blank in {{n}}; fill in {kind} or remove those rows"),
        (
            ~blank & (values.is_null() | ~values.is_finite()),
            f"has values that are not {kind} in {{n}}; give plain {kind} {example} (no thousands "
            "separators, units or currency signs; no nan or inf)",
        ),
    ]
    if whole:
        checks.append(
            (
                ~blank & values.is_finite() & (values != values.floor()),
                "has fractional values in {n}; give whole numbers such as 120",
            )
        )
    for mask, sentence in checks:
        mask = mask.fill_null(False)
        if mask.any():
            hits = frame.filter(mask)
            lines = hits[_LINE].to_list()
            first = hits[column].cast(pl.String).to_list()[0]
            shown = "" if first is None or not first.strip() else f"{first!r} "
            problems.append(
                f"column {column!r} {sentence.format(n=_rows(len(lines)))}. The first is "
                f"{shown}at {where} {lines[0]}"
            )
    return values
