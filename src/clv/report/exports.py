"""The files a report run leaves beside its HTML: the graded customer table
(Parquet, CSV), ``summary.json`` and ``models.txt``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from clv.backtest import BacktestResult
from clv.migration import Migration
from clv.models import PurchaseModelResults, SpendModelResults
from clv.report.errors import ReportError
from clv.report.sections import headline
from clv.tiers import Grading

__all__ = ["save_outputs"]


def save_outputs(
    output_dir: str | Path,
    *,
    graded: pl.DataFrame,
    grading: Grading,
    purchase: PurchaseModelResults,
    spend: SpendModelResults | None,
    facts: pl.DataFrame,
    backtest: BacktestResult | None = None,
    migration: Migration | None = None,
) -> list[Path]:
    """Write a period's tables into ``output_dir`` (the run's staging folder).

    Returns the paths written.
    """
    folder = Path(output_dir)
    if not folder.is_dir():
        raise ReportError(f"output_dir {folder} does not exist; the report run creates it")
    stability = grading.stability
    thresholds = [
        {
            "tier": tier.id,
            "name_en": tier.en,
            "name_zh": tier.zh,
            "threshold": float(grading.thresholds[i]),
            **(
                {"lower": float(stability.lower[i]), "upper": float(stability.upper[i])}
                if stability is not None
                else {}
            ),
        }
        for i, tier in enumerate(grading.scheme.tiers[:-1])
    ]
    tiers = grading.tier_table().select(
        "tier",
        "tier_name",
        "customers",
        "share_customers",
        "share_clv",
        *(["share_revenue"] if "share_revenue" in grading.tier_table().columns else []),
        "p_alive_mean",
    )
    summary = {
        "facts": dict(facts.rows()),
        "scheme": grading.scheme.id,
        "method": grading.scheme.method,
        "score": grading.scheme.score,
        "thresholds": thresholds,
        "tiers": tiers.to_dicts(),
        "headline": headline(grading, backtest, migration),
        "purchase_model": {
            "model": purchase.model,
            "params": purchase.params,
            "loglik": purchase.loglik,
        },
        "spend_model": (
            {"params": spend.params, "loglik": spend.loglik} if spend is not None else None
        ),
    }
    written = [
        folder / "graded_customers.parquet",
        folder / "graded_customers.csv",
        folder / "summary.json",
        folder / "models.txt",
    ]
    graded.write_parquet(written[0])
    graded.write_csv(written[1])
    written[2].write_text(
        json.dumps(summary, indent=2, ensure_ascii=False, default=_json_default), encoding="utf-8"
    )
    spend_text = f"{spend.summary()}\n\n{spend.independence!r}" if spend else "no spend model"
    written[3].write_text(f"{purchase.summary()}\n\n{spend_text}\n", encoding="utf-8")
    return written


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.date | Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
