"""Grading runs: the pipeline for one period, written to ``reports/<period>/``.

This layer (with :mod:`clv.cli`) is the only one that writes files. A run
writes into a temporary folder beside its target and renames it into place at
the end, so a failed run never leaves a half-written report where a good one
was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import polars as pl

from clv.data import TransactionLog, load_transactions
from clv.models import PurchaseModel, fit_purchase_model, fit_spend_model
from clv.paths import PROJECT_ROOT, REPORTS_DIR
from clv.rfm import Freq, summarize, window_counts
from clv.scoring import score

__all__ = ["RunConfig", "run_period"]

_PERIOD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class RunConfig:
    """Parameters of one grading run."""

    data: Path
    period: str  # label of the graded period, e.g. "1998-06"; names the report folder
    observation_end: dt.date  # last day of transactions used
    freq: Freq = "D"  # purchases merged per day / week / month
    time_unit: Freq = "W"  # unit of recency and T in the models
    model: PurchaseModel = "bgnbd"  # purchase model
    horizon_days: float = 365.0  # CLV horizon
    discount_rate_annual: float = 0.10  # CLV discount rate per year

    def __post_init__(self) -> None:
        if not _PERIOD.match(self.period):
            raise ValueError(
                f"period={self.period!r}; use letters, digits, '-', '_' or '.', e.g. '1998-06'"
            )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _display_path(path: Path) -> str:
    """The path relative to the project root when inside it (reports travel)."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _versions() -> dict[str, str]:
    names = ("clv", "polars", "numpy", "scipy", "pandas", "lifetimes", "statsmodels")
    return {name: metadata.version(name) for name in names}


def run_period(config: RunConfig, reports_dir: Path = REPORTS_DIR) -> Path:
    """Grade one period and write its outputs atomically.

    Writes ``reports/<period>/``: ``graded_customers.parquet`` and ``.csv``
    (one row per customer with the summary and scores), ``models.txt`` (the
    fitted models' summaries) and ``run.json`` (parameters, input checksum,
    package versions, data-quality and window counts).

    Returns the report folder.
    """
    log: TransactionLog = load_transactions(config.data, as_of=config.observation_end)
    summary = summarize(
        log, freq=config.freq, time_unit=config.time_unit, observation_end=config.observation_end
    )
    purchase = fit_purchase_model(summary, model=config.model)
    spend = fit_spend_model(summary)
    scores = score(
        summary,
        purchase,
        spend,
        horizon_days=config.horizon_days,
        discount_rate_annual=config.discount_rate_annual,
    )
    counts = window_counts(log, observation_end=config.observation_end)
    run = {
        "period": config.period,
        "data": _display_path(Path(config.data)),
        "data_sha256": _sha256(Path(config.data)),
        "observation_end": config.observation_end.isoformat(),
        "freq": config.freq,
        "time_unit": config.time_unit,
        "model": config.model,
        "horizon_days": config.horizon_days,
        "discount_rate_annual": config.discount_rate_annual,
        "customers_graded": scores.height,
        "data_quality": log.quality.as_dict(),
        "window_counts": counts.as_dict(),
        "versions": _versions(),
    }

    reports_dir.mkdir(parents=True, exist_ok=True)
    target = reports_dir / config.period
    staging = Path(tempfile.mkdtemp(prefix=f".{config.period}-", dir=reports_dir))
    try:
        table = scores.with_columns(pl.col("time_unit").cast(pl.String))
        table.write_parquet(staging / "graded_customers.parquet")
        table.write_csv(staging / "graded_customers.csv")
        (staging / "models.txt").write_text(
            f"{purchase.summary()}\n\n{spend.summary()}\n\n{spend.independence!r}\n",
            encoding="utf-8",
        )
        (staging / "run.json").write_text(
            json.dumps(run, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
        )
        _replace_dir(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _replace_dir(staging: Path, target: Path) -> None:
    """Move ``staging`` to ``target``, replacing an old ``target`` only once the
    new one is complete."""
    if target.exists():
        old = target.with_name(f".{target.name}-old-{os.getpid()}")
        os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)
