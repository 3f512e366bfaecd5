"""Grading reports: papermill runs of ``notebooks/grading_report.ipynb``.

This package (with :mod:`clv.cli`) is the only layer that writes files.

- :mod:`clv.report.config`: ``RunConfig``, the parameters of a run;
- :mod:`clv.report.sections`: pure section builders the notebook calls
  (frames in, frames out);
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

from clv.report.config import RunConfig
from clv.report.errors import ReportError
from clv.report.exports import save_outputs
from clv.report.publish import write_index
from clv.report.run import TEMPLATE, period_ends, run_period, run_range
from clv.report.sections import (
    FitOutcome,
    fit_models,
    graded_table,
    ladder_comparison,
    playbook_table,
    points_summary,
    quality_table,
    read_graded,
    run_facts,
    scorecard_summary,
    versions,
)

__all__ = [
    "TEMPLATE",
    "FitOutcome",
    "ReportError",
    "RunConfig",
    "fit_models",
    "graded_table",
    "ladder_comparison",
    "period_ends",
    "playbook_table",
    "points_summary",
    "quality_table",
    "read_graded",
    "run_facts",
    "run_period",
    "run_range",
    "save_outputs",
    "scorecard_summary",
    "versions",
    "write_index",
]
