"""Where a log comes from and how to read it: a data source.

A :class:`DataSource` records a file and the reading options of
:func:`clv.load_transactions` (column names, date format, encoding,
separators, time zone, policies) plus the currency its amounts are in, so a
scheduled run reads a shop's export the same way every time. It is written
as a TOML file (``clv report --source shop.toml``)::

    # shop.toml: the weekly order export of the Shanghai shop
    path = "exports/orders.csv"      # relative to this file
    customer_id = "客户编号"
    date = "下单日期"
    amount = "金额"
    date_format = "%Y/%m/%d"
    encoding = "gb18030"
    thousands = ","
    currency = "CNY"

    [points_events]                  # optional: the points programme's events
    path = "exports/points.csv"
    date_format = "%d/%m/%Y"

    [accounts]                       # optional: B2B accounts for the scorecard
    path = "exports/accounts.csv"
    encoding = "gb18030"

Relative paths are read against the TOML file's folder; on the command line,
against the current directory, as every command line tool does.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = [
    "LOADER_OPTIONS",
    "SIDE_OPTIONS",
    "DataSource",
    "SideFile",
    "SourceError",
    "check_options",
]

# options of clv.load_transactions a data source may set, with their types
LOADER_OPTIONS: dict[str, type] = {
    "customer_id": str,
    "date": str,
    "amount": str,
    "quantity": str,
    "margin": str,
    "category": str,
    "status": str,
    "date_format": str,
    "encoding": str,
    "separator": str,
    "decimal": str,
    "thousands": str,
    "time_zone": str,
    "duplicates": str,
    "zero_amounts": str,
    "leading_zeros": str,
}
_CHOICES = {
    "duplicates": ("keep", "drop", "error"),
    "zero_amounts": ("keep", "drop", "error"),
    "leading_zeros": ("keep", "strip"),
    "decimal": (".", ","),
}
# options of the programme input readers (points events, B2B accounts)
SIDE_OPTIONS: dict[str, tuple[str, ...]] = {
    "points_events": ("customer_id", "date", "date_format", "encoding", "separator"),
    "accounts": ("account", "encoding", "separator"),
}


class SourceError(ValueError):
    """A data source whose options cannot be used; names the option and what to do."""


@dataclass(frozen=True)
class SideFile:
    """A programme input file (points events or B2B accounts) and its reading
    options (keywords of :func:`clv.programmes.read_events` /
    :func:`clv.programmes.read_accounts`)."""

    path: str
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DataSource:
    """A transaction log and how to read it.

    ``path`` is absolute once resolved; ``options`` are keywords of
    :func:`clv.load_transactions` (only those given); ``currency`` labels
    money in reports (e.g. ``"CNY"``; empty when unknown).
    """

    path: str
    options: dict[str, str] = field(default_factory=dict)
    currency: str = ""
    points_events: SideFile | None = None
    accounts: SideFile | None = None

    def __post_init__(self) -> None:
        check_options(self.options, LOADER_OPTIONS, "data source")
        if not isinstance(self.currency, str) or len(self.currency) > 12:
            raise SourceError(
                f"currency={self.currency!r}; give a short label such as 'CNY', 'USD' or '元'"
            )

    @classmethod
    def from_toml(cls, path: str | Path) -> DataSource:
        """Read a data source TOML file (see the module docstring)."""
        file = Path(path).expanduser()
        if not file.is_file():
            raise SourceError(
                f"data source file {file} not found (working directory {Path.cwd()}); "
                "check --source"
            )
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SourceError(f"data source file {file} is not valid UTF-8 TOML: {exc}") from None
        return cls.from_mapping(raw, base=file.resolve().parent, label=str(file))

    @classmethod
    def from_mapping(
        cls, raw: dict[str, Any], base: Path | None = None, label: str = "data source"
    ) -> DataSource:
        """Build a source from a mapping as read from TOML; relative paths are
        resolved against ``base`` (default: the current directory)."""
        base = Path.cwd() if base is None else base
        allowed = {"path", "currency", *LOADER_OPTIONS, *SIDE_OPTIONS}
        _unknown(raw, allowed, label)
        if "path" not in raw:
            raise SourceError(f"{label}: 'path' is missing; give the transaction log's file")
        sides: dict[str, SideFile | None] = {}
        for name, keys in SIDE_OPTIONS.items():
            table = raw.get(name)
            if table is None:
                sides[name] = None
                continue
            if not isinstance(table, dict):
                raise SourceError(
                    f"{label}: [{name}] must be a table with a path, got {type(table).__name__}"
                )
            _unknown(table, {"path", *keys}, f"{label} [{name}]")
            if "path" not in table:
                raise SourceError(f"{label} [{name}]: 'path' is missing")
            options = {k: v for k, v in table.items() if k != "path"}
            check_options(options, dict.fromkeys(keys, str), f"{label} [{name}]")
            sides[name] = SideFile(str(_resolve(table["path"], base, f"{name}.path")), options)
        options = {k: v for k, v in raw.items() if k in LOADER_OPTIONS}
        return cls(
            path=str(_resolve(raw["path"], base, "path")),
            options=options,
            currency=_text(raw.get("currency", ""), "currency", label),
            **sides,
        )

    def with_overrides(
        self,
        options: dict[str, str] | None = None,
        currency: str | None = None,
        points_events: SideFile | None = None,
        accounts: SideFile | None = None,
    ) -> DataSource:
        """The source with options given on the command line taking precedence."""
        return replace(
            self,
            options={**self.options, **(options or {})},
            currency=self.currency if currency is None else currency,
            points_events=points_events or self.points_events,
            accounts=accounts or self.accounts,
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain values (for notebook parameters and JSON)."""
        return asdict(self)

    def load(self, **extra: Any):
        """Load the log with :func:`clv.load_transactions` and these options."""
        from clv.data import load_transactions

        return load_transactions(self.path, **{**self.options, **extra})


def _resolve(value: Any, base: Path, key: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise SourceError(f"{key} = {value!r}; give a file path as text")
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path)


def _text(value: Any, key: str, label: str) -> str:
    if not isinstance(value, str):
        raise SourceError(f"{label}: {key} = {value!r} must be text (in quotes)")
    return value


def _unknown(table: dict[str, Any], allowed: set[str], label: str) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise SourceError(
                f"{label}: unknown key {key!r}{hint} (known: {', '.join(sorted(allowed))})"
            )


def check_options(options: dict[str, Any], known: dict[str, type], label: str) -> None:
    """Type- and value-check reading options, naming the option."""
    for key, value in options.items():
        if key not in known:
            _unknown({key: value}, set(known), label)
        if isinstance(value, bool) or not isinstance(value, known[key]):
            raise SourceError(f"{label}: {key} = {value!r} must be text (in quotes)")
        if any(ord(ch) < 32 and ch != "\t" for ch in value):
            raise SourceError(f"{label}: {key} = {value!r} holds control characters")
        if key in _CHOICES and value not in _CHOICES[key]:
            raise SourceError(
                f"{label}: {key} = {value!r}; use one of {', '.join(map(repr, _CHOICES[key]))}"
            )
        if key == "separator" and len(value) != 1:
            raise SourceError(f"{label}: separator = {value!r} must be one character, e.g. ','")
        if key == "amount" and value == "":
            continue  # no amount column: the log is graded on purchases only
        if (
            key
            in (
                "customer_id",
                "date",
                "amount",
                "quantity",
                "margin",
                "category",
                "status",
                "account",
            )
            and not value.strip()
        ):
            raise SourceError(f"{label}: {key} = {value!r}; give the column's name")
