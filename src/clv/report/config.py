"""The parameters of a grading run, checked before anything runs.

:class:`RunConfig` is the notebook's ``parameters`` cell as an object: the
command line builds one (so every mistake is reported before a kernel
starts), the report notebook rebuilds it from its parameters with
:meth:`RunConfig.from_namespace`, and both read the data through it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from clv.source import LOADER_OPTIONS, SIDE_OPTIONS, check_options

__all__ = ["LIMITS", "RunConfig", "check_dates"]

# bounds of the numeric parameters: (lowest, highest), both allowed
LIMITS: dict[str, tuple[float, float]] = {
    "horizon_days": (1.0, 36_525.0),  # one day to a hundred years
    "discount_rate_annual": (0.0, 1.0),  # 0 % to 100 % a year
    "n_bootstrap": (0, 10_000),
    "seed": (0, 2**32 - 1),
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "freq": ("D", "W", "M"),
    "time_unit": ("D", "W", "M"),
    "model": ("auto", "bgnbd", "pareto_nbd", "mbgnbd"),
    "lang": ("en", "zh"),
    "engine": ("polars", "spark"),
}
_PATHS = ("data_path", "previous_graded", "points_events", "points_redemptions", "accounts_path")
# the longest gap between the last transaction and the observation end that
# still grades the customers rather than an empty stretch of time
MAX_GAP_DAYS = 366


@dataclass(frozen=True)
class RunConfig:
    """Parameters of one grading run (the notebook's ``parameters`` cell).

    Paths may be absolute or relative to the current directory; they are
    stored absolute. An empty ``data_path`` is the bundled CDNOW sample.
    """

    data_path: str = ""  # transaction log (CSV, Parquet); empty for the bundled sample
    period: str = "1998-06"  # label of the graded period, names reports/<period>/
    observation_end: str = "1998-06-30"  # last day of transactions used, YYYY-MM-DD
    freq: str = "D"  # purchases merged per day (D), week (W) or month (M)
    time_unit: str = "W"  # unit of recency and T in the models
    model: str = "auto"  # purchase model; auto: chosen by holdout accuracy, else BIC
    horizon_days: float = 365.0  # CLV horizon in days
    discount_rate_annual: float = 0.10  # CLV discount rate per year
    scheme: str = "five_card"  # tier scheme: packaged name or TOML path
    lang: str = "en"  # report language
    previous_graded: str = ""  # previous period's graded table, for movement
    calibration_end: str = ""  # back-test calibration end; empty for no back-test
    n_bootstrap: int = 200  # bootstrap resamples of the thresholds
    seed: int = 0  # bootstrap seed
    ladder: str = "ladder_five_card"  # rule-based ladder set against the tiers
    points_events: str = ""  # points events CSV; empty for none
    points_redemptions: str = ""  # points redemptions CSV (read as the events); empty for none
    accounts_path: str = ""  # B2B accounts CSV; empty for none
    loader_options: dict[str, str] = field(default_factory=dict)  # load_transactions keywords
    events_options: dict[str, str] = field(default_factory=dict)  # read_events keywords
    accounts_options: dict[str, str] = field(default_factory=dict)  # read_accounts keywords
    currency: str = ""  # label of money amounts, e.g. CNY
    margin: float = 0.0  # gross margin as a share of revenue; 0: value is revenue, not profit
    sufficiency_gate: bool = True  # too little data: grade by the rule ladder, predict nothing
    engine: str = "polars"  # where the log is read and summarised: polars (here) or spark
    spark_master: str = ""  # Spark master URL; empty: SPARK_REMOTE / SPARK_MASTER, else local[2]

    def __post_init__(self) -> None:
        from clv.report.publish import check_period_label

        check_period_label(self.period)
        if not isinstance(self.sufficiency_gate, bool):
            raise ValueError(f"sufficiency_gate={self.sufficiency_gate!r}; give True or False")
        for name in ("observation_end", "calibration_end"):
            value = getattr(self, name)
            if value or name == "observation_end":
                _date(value, name)
        if self.calibration_end and self.calibration_end >= self.observation_end:
            raise ValueError(
                f"calibration_end={self.calibration_end!r} is not before observation_end="
                f"{self.observation_end!r}; the back-test needs a holdout window after it"
            )
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r}; use one of {', '.join(allowed)}")
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            integral = isinstance(low, int)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or (integral and not float(value).is_integer())
                or not math.isfinite(value)
                or not low <= value <= high
            ):
                kind = "a whole number" if integral else "a number"
                raise ValueError(f"{name}={value!r}; give {kind} from {low:,} to {high:,}")
        check_options(self.loader_options, LOADER_OPTIONS, "loader_options")
        if self.points_redemptions and not self.points_events:
            raise ValueError(
                "points redemptions are given without points events; the ledger needs the "
                "events file too (--points-events)"
            )
        if self.loader_options.get("amount") == "" and (
            self.margin > 0 or self.loader_options.get("margin")
        ):
            raise ValueError(
                "a margin is given for a log without amounts (amount column ''); a margin "
                "applies to revenue: give the amount column or leave the margin out"
            )
        if self.margin > 0 and self.loader_options.get("margin"):
            raise ValueError(
                f"margin={self.margin!r} and a margin column "
                f"({self.loader_options['margin']!r}) are both given; give one margin for all "
                "orders or a margin per order, not both"
            )
        check_options(
            self.events_options, dict.fromkeys(SIDE_OPTIONS["points_events"], str), "events"
        )
        check_options(
            self.accounts_options, dict.fromkeys(SIDE_OPTIONS["accounts"], str), "accounts"
        )
        if (
            isinstance(self.margin, bool)
            or not isinstance(self.margin, int | float)
            or not 0 <= self.margin <= 1
        ):
            raise ValueError(
                f"margin={self.margin!r}; give the gross margin as a share from 0 to 1, e.g. 0.3 "
                "(0 when unknown: values are then revenue)"
            )
        if not isinstance(self.currency, str) or len(self.currency) > 12:
            raise ValueError(f"currency={self.currency!r}; give a short label such as 'CNY'")
        if self.engine == "spark":
            self._check_spark()
        elif self.spark_master:
            raise ValueError(
                f"spark_master={self.spark_master!r} is given with engine='polars'; add "
                "--engine spark (or leave the master out)"
            )
        resolved = {name: _absolute(getattr(self, name)) for name in _PATHS}
        if self.engine == "spark" and spark_source(self.data_path):
            resolved["data_path"] = self.data_path  # a table name or a storage URL, as given
        if not self.data_path:
            from clv.datasets import cdnow_path

            resolved["data_path"] = str(cdnow_path(sample=True))
        scheme = Path(self.scheme).expanduser()
        if self.scheme.endswith(".toml") or scheme.is_file():
            resolved["scheme"] = str(scheme.resolve())
        ladder = Path(self.ladder).expanduser()
        if self.ladder.endswith(".toml") or (self.ladder and ladder.is_file()):
            resolved["ladder"] = str(ladder.resolve())
        for name, value in resolved.items():
            object.__setattr__(self, name, value)

    def _check_spark(self) -> None:
        """What the Spark engine reads: its loader options, no margin column."""
        from clv.report.logs import SPARK_LOADER_OPTIONS

        if not isinstance(self.spark_master, str):
            raise ValueError(f"spark_master={self.spark_master!r}; give a master URL or ''")
        if self.loader_options.get("amount") == "":
            raise ValueError(
                "a log without amounts (amount column '') is not read on the Spark engine yet; "
                "run it with --engine polars"
            )
        unknown = sorted(set(self.loader_options) - set(SPARK_LOADER_OPTIONS))
        if unknown:
            names = ", ".join(unknown)
            raise ValueError(
                f"the reading option(s) {names} are not read on the Spark engine; on Spark, "
                "give the log as Parquet or a table (a CSV is read as UTF-8 with commas), leave "
                f"out {names}, or run with --engine polars"
            )

    # -- building and copying -------------------------------------------------

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The parameter names, in the order of the notebook's parameters cell."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_namespace(cls, namespace: dict[str, Any]) -> RunConfig:
        """The configuration from a namespace holding the parameters (the
        notebook's ``globals()``); other names in it are ignored."""
        return cls(**{name: namespace[name] for name in cls.names() if name in namespace})

    def with_changes(self, **changes: Any) -> RunConfig:
        """A copy with some parameters changed (and checked again)."""
        return replace(self, **changes)

    def parameters(self) -> dict[str, Any]:
        """Plain values for papermill."""
        return asdict(self)

    @property
    def backtest_resamples(self) -> int:
        """Paired bootstrap resamples of the back-test's ranking comparisons:
        ``n_bootstrap``, but at least 100 (the comparisons always carry
        intervals, even when the thresholds are not resampled)."""
        return max(int(self.n_bootstrap), 100)

    @property
    def margin_column(self) -> str | None:
        """The log's column of margins per order, when one is given."""
        return self.loader_options.get("margin") or None

    @property
    def margin_or_none(self) -> float | None:
        """The margin for :func:`clv.score`: None when none was given."""
        return self.margin if self.margin > 0 else None

    # -- what a run reads -----------------------------------------------------

    @property
    def data_file(self) -> Path:
        return Path(self.data_path)

    def load(self):
        """Load the transaction log with the run's reading options: on this
        machine, or kept on Spark with ``engine="spark"``
        (:func:`clv.report.logs.load_log`)."""
        from clv.report.logs import load_log

        return load_log(self)

    def read_events(self):
        """Read the points events file with its reading options."""
        from clv.programmes import read_events

        return read_events(self.points_events, **self.events_options)

    def read_redemptions(self):
        """Read the points redemptions file (with the events' reading options),
        or None when none was given."""
        from clv.programmes import read_redemptions

        if not self.points_redemptions:
            return None
        return read_redemptions(self.points_redemptions, **self.events_options)

    def read_accounts(self):
        """Read the B2B accounts file with its reading options."""
        from clv.programmes import read_accounts

        return read_accounts(self.accounts_path, **self.accounts_options)

    def data_sha256(self) -> str:
        """SHA-256 of the transaction log file (``"(folder)"`` for a folder)."""
        path = self.data_file
        if self.engine == "spark" and spark_source(self.data_path):
            return "(Spark table or storage URL)"
        if not path.is_file():
            return "(folder)"
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def read_previous(self):
        """The previous period's graded table (:func:`clv.report.read_graded`),
        or None when none was given."""
        from clv.report.inputs import read_graded

        return read_graded(self.previous_graded) if self.previous_graded else None

    def check_files(self) -> None:
        """Raise FileNotFoundError naming each given file that is missing."""
        labels = {
            "data_path": "transaction log (--data)",
            "previous_graded": "previous graded table (--previous)",
            "points_events": "points events (--points-events)",
            "points_redemptions": "points redemptions (--points-redemptions)",
            "accounts_path": "B2B accounts (--accounts)",
        }
        for name, label in labels.items():
            value = getattr(self, name)
            if name == "data_path" and self.engine == "spark" and spark_source(value):
                continue  # a table or a storage URL: Spark reads it
            if value and not Path(value).exists():
                raise FileNotFoundError(
                    f"{label} {value} not found; relative paths are read against the current "
                    f"directory ({Path.cwd()})"
                )


def _date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} is not a date; give it as YYYY-MM-DD") from None


_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}")


def spark_source(value: str) -> bool:
    """Whether ``value`` names a Spark table (``sales.orders``) or a storage
    URL (``s3a://bucket/orders``) rather than a local path: no such local path
    exists and it has the shape of one of those."""
    if not value or Path(value).expanduser().exists():
        return False
    return "://" in value or _TABLE_NAME.fullmatch(value) is not None


def _absolute(value: str) -> str:
    if not value:
        return ""
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (Path.cwd() / path).resolve())


def check_dates(
    first: dt.date, last: dt.date, observation_end: str, calibration_end: str = ""
) -> None:
    """Check a period's dates against the log's first and last transaction.

    Raises ValueError when the observation end falls before the first
    transaction or more than a year after the last one, or when the
    calibration window of the back-test holds no transaction.
    """
    end = _date(observation_end, "observation_end")
    if end < first:
        raise ValueError(
            f"observation_end {end} is before the first transaction ({first}); give an "
            f"observation end from {first} to {last}"
        )
    if (end - last).days > MAX_GAP_DAYS:
        raise ValueError(
            f"observation_end {end} is {(end - last).days:,} days after the last transaction "
            f"({last}); every customer would look lost. Give an observation end near {last}, "
            "or check that the log is complete"
        )
    if calibration_end:
        cal = _date(calibration_end, "calibration_end")
        if cal < first:
            raise ValueError(
                f"calibration_end {cal} is before the first transaction ({first}): the "
                f"back-test's calibration window is empty. Give a calibration end after {first}"
            )
