"""Running the report notebook with papermill and publishing the result.

A run executes the notebook into a temporary folder beside its target, renders
it to HTML with the code hidden, and only then moves the folder into
``reports/<period>/``; a run that fails or is killed leaves the previous
report for that period as it was, and a failing cell is named in the error.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from clv.paths import NOTEBOOKS_DIR, PROJECT_ROOT, REPORTS_DIR
from clv.report.config import RunConfig
from clv.report.errors import ReportError
from clv.report.publish import discard, prepare, publish, staging_dir, write_index
from clv.report.render import render_html

__all__ = ["TEMPLATE", "RangeOutcome", "period_ends", "run_period", "run_range"]

TEMPLATE = NOTEBOOKS_DIR / "grading_report.ipynb"


def _failed_cell(notebook: Path, exc: Exception) -> str:
    """Name the cell that failed in a papermill run."""
    import nbformat

    name = "a cell"
    try:
        for position, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
            if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
                name = f"cell '{cell.get('id', position)}'"
                break
    except Exception:  # the notebook may be unreadable; the message still helps
        pass
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    return f"{name} failed: {ename}: {evalue}"


def run_period(
    config: RunConfig,
    reports_dir: Path = REPORTS_DIR,
    template: Path = TEMPLATE,
    progress: bool = False,
) -> Path:
    """Execute the report notebook for one period and publish it atomically.

    Returns ``reports_dir/<period>``. Raises :class:`ReportError` naming the
    failing cell; the previous report for the period is then left intact and
    the failed notebook kept in ``reports_dir/.failed/<period>.ipynb``.
    Optional sections that fail (back-test, programmes) do not fail the run:
    the report shows what failed and why.
    """
    import papermill

    reports_dir = prepare(Path(reports_dir))
    target = reports_dir / config.period
    staging = staging_dir(reports_dir, config.period)
    notebook = staging / "grading_report.ipynb"
    parameters = {**config.parameters(), "output_dir": str(staging)}
    try:
        try:
            with _quiet_kernel():
                papermill.execute_notebook(
                    str(template),
                    str(notebook),
                    parameters=parameters,
                    kernel_name="python3",  # jupyter_client starts it with this interpreter
                    cwd=str(PROJECT_ROOT),
                    progress_bar=(
                        {"desc": f"{config.period}", "unit": "cell", "leave": False}
                        if progress
                        else False
                    ),
                    log_output=False,
                    # the kernel's own warnings would cut through the progress bar
                    extra_arguments=["--IPKernelApp.log_level=ERROR"],
                )
        except Exception as exc:
            message = _failed_cell(notebook, exc)
            failed = reports_dir / ".failed"
            kept = failed / f"{config.period}.ipynb"
            try:
                failed.mkdir(exist_ok=True)
                if notebook.is_file():
                    shutil.copy(notebook, kept)
            except OSError:
                kept = notebook
            raise ReportError(
                f"report {config.period}: {message}; the previous report (if any) is unchanged; "
                f"the failed notebook is {kept}"
            ) from None
        render_html(
            notebook,
            staging / "report.html",
            lang=config.lang,
            title="客户分级报告" if config.lang == "zh" else "Customer grading report",
        )
        publish(staging, target)
    finally:
        discard(staging)
    write_index(reports_dir)
    return target


@contextlib.contextmanager
def _quiet_kernel():
    """Keep the kernel's start-up chatter (frozen-modules and debugger
    warnings, papermill's info lines) off the terminal, where it would break
    the progress display; errors still surface as exceptions."""
    import logging
    import os

    loggers = [logging.getLogger(n) for n in ("papermill", "traitlets", "asyncio")]
    levels = [lg.level for lg in loggers]
    saved = {k: os.environ.get(k) for k in ("PYDEVD_DISABLE_FILE_VALIDATION", "PYTHONWARNINGS")}
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    os.environ["PYTHONWARNINGS"] = "ignore"
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def period_ends(start: str, end: str, every: str = "quarter") -> list[dt.date]:
    """Last days of the months (``every="month"``) or quarters from the period
    holding ``start`` (YYYY-MM) to the one holding ``end``."""
    if every not in ("month", "quarter"):
        raise ValueError(f"every={every!r}; use 'month' or 'quarter'")
    try:
        y0, m0 = (int(p) for p in start.split("-")[:2])
        y1, m1 = (int(p) for p in end.split("-")[:2])
    except ValueError:
        raise ValueError(f"start={start!r}, end={end!r}: give months as YYYY-MM") from None
    step = 3 if every == "quarter" else 1
    if every == "quarter":  # round up to the quarter's last month
        m0, m1 = m0 + (-m0) % 3, m1 + (-m1) % 3
    ends = []
    y, m = y0, m0
    while (y, m) <= (y1, m1):
        nxt = dt.date(y + (m // 12), m % 12 + 1, 1)
        ends.append(nxt - dt.timedelta(days=1))
        m += step
        y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
    if not ends:
        raise ValueError(f"no period between {start} and {end}")
    return ends


@dataclass(frozen=True)
class RangeOutcome:
    """What a range of periods produced: the folders published and, per
    failed period, the reason."""

    published: tuple[Path, ...]
    failed: tuple[tuple[str, str], ...]  # (period, reason)

    def table(self) -> str:
        """The periods, one line each, for the terminal."""
        lines = [f"{'period':<10} {'outcome':<10} where / why"]
        rows = [(p.name, "published", str(p)) for p in self.published]
        rows += [(period, "FAILED", reason) for period, reason in self.failed]
        lines += [f"{a:<10} {b:<10} {c}" for a, b, c in sorted(rows)]
        return "\n".join(lines)


def run_range(
    base: RunConfig,
    ends: Iterable[dt.date],
    reports_dir: Path = REPORTS_DIR,
    template: Path = TEMPLATE,
    on_period: Callable[[str], None] | None = None,
) -> RangeOutcome:
    """Grade a series of periods: each on the data up to its end, back-tested
    with the previous period's end as calibration end, compared with the last
    published period's graded table. Periods are labelled YYYY-MM.

    A period that fails does not stop the range: the others are still graded
    and the failures returned with their reasons.
    """
    published: list[Path] = []
    failed: list[tuple[str, str]] = []
    previous_end: dt.date | None = None
    previous_table = ""
    for end in ends:
        period = end.strftime("%Y-%m")
        try:
            config = base.with_changes(
                period=period,
                observation_end=end.isoformat(),
                previous_graded=previous_table,
                calibration_end=previous_end.isoformat() if previous_end else "",
            )
            folder = run_period(config, reports_dir=reports_dir, template=template)
        except (ReportError, ValueError) as exc:
            failed.append((period, str(exc)))
        else:
            published.append(folder)
            if (folder / "graded_customers.parquet").is_file():
                previous_table = str(folder / "graded_customers.parquet")
        previous_end = end
        if on_period is not None:
            on_period(period)
    return RangeOutcome(tuple(published), tuple(failed))
