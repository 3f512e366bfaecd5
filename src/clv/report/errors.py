"""The error of a report run."""

from __future__ import annotations

__all__ = ["ReportError"]


class ReportError(RuntimeError):
    """A report run that failed; the previous report for the period is intact."""
