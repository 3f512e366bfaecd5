"""Grading reports: papermill runs of ``notebooks/grading_report.ipynb``.

This package (with :mod:`clv.cli`) is the only layer that writes files.

- :mod:`clv.report.config`: ``RunConfig``, the parameters of a run;
- :mod:`clv.report.logs`: the run's log on this machine or on Spark, and
  what the report reads of it;
- :mod:`clv.report.programme_sections`: the documents' ladders (supermarket
  grades per category, P-G-S-B, telecom VIP cards) where their data are given;
- :mod:`clv.report.sections`: pure section builders the notebook calls
  (frames in, frames out, no file reading);
- :mod:`clv.report.inputs`: reading a previous run's graded table;
- :mod:`clv.report.exports`: the graded customer table, ``summary.json`` and
  ``models.txt`` of a period;
- :mod:`clv.report.render`: HTML without code;
- :mod:`clv.report.publish`: atomic publishing and ``reports/index.html``;
- :mod:`clv.report.run`: papermill execution of one period or a range.

Each period folder holds ``grading_report.ipynb`` (the executed notebook),
``report.html`` (rendered without code, for strategy teams),
``graded_customers.parquet`` / ``.csv`` (one row per customer with tier, risk
band, status, action, previous tier and scores), ``summary.json``
(thresholds, counts, headline figures, input checksum, package versions) and
``models.txt`` (the fitted models).
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it; imported on first use, so that the
# command line can read RunConfig's limits without loading the models
_HOME = {
    "RunConfig": "config",
    "ReportError": "errors",
    "save_outputs": "exports",
    "write_index": "publish",
    "read_graded": "inputs",
    "RangeOutcome": "run",
    "TEMPLATE": "run",
    "summaries": "logs",
    "ProgrammeLadder": "programme_sections",
    "programme_ladders": "programme_sections",
    "programme_ledger": "programme_sections",
    "on_spark": "logs",
    "left_out_on_spark": "logs",
    "period_ends": "run",
    "run_period": "run",
    "run_range": "run",
    **dict.fromkeys(
        (
            "FitOutcome",
            "RuleGrading",
            "SectionFailure",
            "attempt",
            "calibration_split",
            "method_facts",
            "data_sufficiency",
            "fit_check",
            "fit_models",
            "graded_table",
            "ladder_comparison",
            "loyalty_table",
            "playbook_table",
            "points_summary",
            "quality_table",
            "rule_grading",
            "run_facts",
            "score_customers",
            "scorecard_summary",
            "spend_thresholds_table",
            "versions",
        ),
        "sections",
    ),
}

__all__ = [
    "TEMPLATE",
    "FitOutcome",
    "ProgrammeLadder",
    "RangeOutcome",
    "ReportError",
    "RuleGrading",
    "RunConfig",
    "SectionFailure",
    "attempt",
    "calibration_split",
    "data_sufficiency",
    "fit_check",
    "fit_models",
    "graded_table",
    "ladder_comparison",
    "left_out_on_spark",
    "loyalty_table",
    "method_facts",
    "on_spark",
    "period_ends",
    "playbook_table",
    "points_summary",
    "programme_ladders",
    "programme_ledger",
    "quality_table",
    "read_graded",
    "rule_grading",
    "run_facts",
    "run_period",
    "run_range",
    "save_outputs",
    "score_customers",
    "scorecard_summary",
    "spend_thresholds_table",
    "summaries",
    "versions",
    "write_index",
]


def __getattr__(name: str) -> Any:
    if name in (
        "config",
        "errors",
        "exports",
        "inputs",
        "logs",
        "programme_sections",
        "publish",
        "render",
        "run",
        "sections",
    ):
        return importlib.import_module(f"clv.report.{name}")
    if name not in _HOME:
        raise AttributeError(f"module 'clv.report' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"clv.report.{_HOME[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
