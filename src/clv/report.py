"""Grading reports: papermill runs of ``notebooks/grading_report.ipynb``.

This layer (with :mod:`clv.cli`) is the only one that writes files. A run
executes the notebook into a temporary folder beside its target, renders it
to HTML with the code hidden, and only then renames the folder into
``reports/<period>/``; a run that fails or is killed leaves the previous
report for that period as it was, and a failing cell is named in the error.

Each period folder holds:

- ``grading_report.ipynb``: the executed notebook;
- ``report.html``: the notebook rendered without code, for strategy teams;
- ``graded_customers.parquet`` and ``.csv``: one row per customer with tier,
  risk band, status, action, previous tier and scores;
- ``summary.json``: thresholds, counts, headline figures, input checksum and
  package versions;
- ``models.txt``: the fitted models.

``reports/index.html`` lists every period with its headline figures.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from clv.backtest import BacktestResult
from clv.data import DataQuality, TransactionLog
from clv.migration import Migration
from clv.models import (
    FitAttempt,
    ModelFitError,
    PurchaseModelResults,
    SpendModelResults,
    fit_purchase_model_with_fallback,
    fit_spend_model,
)
from clv.paths import NOTEBOOKS_DIR, PROJECT_ROOT, REPORTS_DIR
from clv.rfm import WindowCounts
from clv.tiers import Grading

__all__ = [
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
    "write_index",
]

TEMPLATE = NOTEBOOKS_DIR / "grading_report.ipynb"
_PERIOD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ReportError(RuntimeError):
    """A report run that failed; the previous report for the period is intact."""


# ---------------------------------------------------------------------------
# helpers the notebook calls


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _display_path(path: Path) -> str:
    """The path relative to the project root when inside it (reports travel)."""
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def versions() -> dict[str, str]:
    """Versions of Python and of the packages a grading depends on."""
    names = ("clv", "polars", "numpy", "scipy", "pandas", "lifetimes", "statsmodels", "matplotlib")
    return {"python": sys.version.split()[0], **{n: metadata.version(n) for n in names}}


def run_facts(
    data_file: str | Path,
    tx: TransactionLog,
    summary: pl.DataFrame,
    counts: WindowCounts,
    parameters: dict[str, Any],
) -> pl.DataFrame:
    """The facts of a run as a two-column table (``item``, ``value``): data
    source and checksum, customers, transactions, date range, data-quality and
    window counts, package versions, interpreter and parameters."""
    dates = tx.data["date"]
    items: list[tuple[str, Any]] = [
        ("data", _display_path(Path(data_file))),
        ("data sha256", _sha256(Path(data_file)) if Path(data_file).is_file() else "(folder)"),
        ("transactions read", tx.quality.rows_read),
        ("transactions kept", tx.quality.rows_kept),
        ("customers graded", summary.height),
        ("first transaction", dates.min().date().isoformat()),
        ("last transaction", dates.max().date().isoformat()),
        ("transactions after observation end (left out)", counts.after_observation_end),
        ("exact duplicate rows (kept or dropped by policy)", tx.quality.duplicate_rows),
        ("zero-amount rows", tx.quality.zero_amount_rows),
        ("interpreter", sys.executable),
        *[(f"version {k}", v) for k, v in versions().items()],
        *[(f"parameter {k}", v) for k, v in parameters.items()],
    ]
    return pl.DataFrame(
        {
            "item": [k for k, _ in items],
            "value": [f"{v:,}" if isinstance(v, int) else str(v) for _, v in items],
        }
    )


@dataclass(frozen=True)
class FitOutcome:
    """The models of a report run, with what went wrong on the way."""

    purchase: PurchaseModelResults | None
    spend: SpendModelResults | None
    attempts: tuple[FitAttempt, ...]
    purchase_error: str | None
    spend_error: str | None


def fit_models(summary: pl.DataFrame, model: str) -> FitOutcome:
    """Fit the purchase model with its fallbacks (penalizers, other models) and
    the spend model; failures are recorded, not raised, so the report can
    still render and show them."""
    purchase, attempts, purchase_error = None, [], None
    try:
        purchase, attempts = fit_purchase_model_with_fallback(summary, model=model)
    except ModelFitError as exc:
        purchase_error = str(exc)
    spend, spend_error = None, None
    try:
        spend = fit_spend_model(summary)
    except ModelFitError as exc:
        spend_error = str(exc)
    return FitOutcome(purchase, spend, tuple(attempts), purchase_error, spend_error)


def _orders_until(tx: TransactionLog, end: dt.date) -> pl.DataFrame:
    """The orders of the log dated on or before ``end`` (the period's data)."""
    return tx.data.filter(pl.col("date").dt.date() <= end)


def ladder_comparison(
    tx: TransactionLog, grading: Grading, ladder: str, observation_end: str, lang: str = "en"
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int], str]:
    """Run a rule-based membership ladder on the orders up to ``observation_end``
    and cross it with the CLV-grounded tiers.

    Returns the customers per ladder level and status, the agreement matrix
    (customers and predicted value per cell, the rule's grades best first) and
    the count of over-graded, under-graded and agreeing customers, and the
    ladder's name in ``lang``.
    """
    from clv.programmes import agreement, run_ladder

    end = dt.date.fromisoformat(observation_end)
    orders = _orders_until(tx, end)
    result = run_ladder(ladder, orders=orders, end=end)
    levels = result.as_of(end, lang=lang)
    per_level = (
        levels.group_by("level", "level_name", "status")
        .agg(pl.len().alias("customers"))
        .sort("level", "status", descending=[True, False])
        .drop("level")
    )
    rule = levels.select("customer_id", pl.col("level_id").alias("rule_grade"))
    order = [lv["id"] for lv in reversed(result.ladder.levels)]
    ranks = sorted(grading.customers["tier_rank"].unique().to_list())
    mapping = {grade: ranks[min(i, len(ranks) - 1)] for i, grade in enumerate(order)}
    matrix, customers = agreement(rule, grading.customers, rule_order=order, mapping=mapping)
    names = {lv["id"]: lv["zh" if lang == "zh" else "en"] for lv in result.ladder.levels}
    matrix = matrix.with_columns(
        pl.col("rule_grade").replace_strict(names, return_dtype=pl.String)
    ).select("rule_grade", "tier_name", "customers", "clv")
    verdicts = dict(customers.group_by("verdict").agg(pl.len()).rows())
    name = result.ladder.name_zh if lang == "zh" else result.ladder.name_en
    return per_level, matrix, verdicts, name


def points_summary(
    tx: TransactionLog, events_path: str, observation_end: str, rules: str = "points_pollen"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Build the points ledger of the orders and the events file up to
    ``observation_end``: totals (earned, redeemed, expired, balance, members)
    and the rejected inputs counted by reason."""
    from clv.programmes import build_ledger

    events = pl.read_csv(
        events_path,
        schema_overrides={"customer_id": pl.String, "product_id": pl.String},
        try_parse_dates=True,
    )
    end = dt.date.fromisoformat(observation_end)
    orders = _orders_until(tx, end)
    ledger = build_ledger(orders, rules, events=events, as_of=end)
    balances = ledger.balances()
    totals = pl.DataFrame(
        {
            "item": [
                "members",
                "points earned",
                "points redeemed",
                "points expired",
                "points held",
            ],
            "value": [
                balances.height,
                int(balances["earned"].sum()),
                int(balances["redeemed"].sum()),
                int(balances["expired"].sum()),
                int(balances["balance"].sum()),
            ],
        }
    )
    reasons = ledger.rejected.group_by("reason").agg(pl.len().alias("customers")).sort("reason")
    return totals, reasons


def scorecard_summary(accounts_path: str, scorecard: str = "b2b_parts_supplier") -> pl.DataFrame:
    """Grade a B2B accounts table with a scorecard: accounts per year and grade,
    with each grade's plan."""
    from clv.programmes import grade_accounts

    accounts = pl.read_csv(accounts_path, schema_overrides={"account": pl.String})
    graded = grade_accounts(accounts, scorecard)
    keys = ["year", "grade"] if "year" in graded.columns else ["grade"]
    return (
        graded.group_by(*keys, "visits_per_year", "delivery_target")
        .agg(pl.len().alias("customers"))
        .sort(keys)
    )


def quality_table(quality: DataQuality) -> pl.DataFrame:
    """The data-quality record as a two-column table (``item``, ``value``)."""
    items = [(k, v) for k, v in quality.as_dict().items() if k not in ("source", "notes")]
    items += [("note", n) for n in quality.notes]
    return pl.DataFrame({"item": [k for k, _ in items], "value": [str(v) for _, v in items]})


def read_graded(path: str | Path) -> pl.DataFrame:
    """Read a graded customer table written by a previous run (Parquet or CSV)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"previous graded table {path} does not exist; give the graded_customers.parquet "
            "of an earlier report, or leave previous_graded empty"
        )
    if path.suffix == ".csv":
        return pl.read_csv(path, schema_overrides={"customer_id": pl.String})
    return pl.read_parquet(path)


def playbook_table(grading: Grading, lang: str = "en") -> pl.DataFrame:
    """Per tier: customers, the tier's playbook and the action per risk band."""
    grid = grading.grid()
    counts = dict(grading.customers.group_by("tier").agg(pl.len()).rows())
    rows = []
    for tier in grading.scheme.tiers:
        row = {
            "tier": tier.name(lang),
            "customers": counts.get(tier.id, 0),
            "playbook": tier.playbook(lang),
        }
        for band in grading.scheme.bands:
            cell = grid.filter((pl.col("tier") == tier.id) & (pl.col("risk_band") == band.id))
            row[band.name(lang)] = f"{cell['action'][0]} ({cell['customers'][0]:,})"
        rows.append(row)
    return pl.DataFrame(rows)


def graded_table(grading: Grading, previous: pl.DataFrame | None = None) -> pl.DataFrame:
    """The graded customer table of a period: id, tier, risk band, status,
    action, previous tier and scores, one row per customer."""
    c = grading.customers
    score_columns = [
        col
        for col in (
            "clv",
            "p_alive",
            "churn_probability",
            "expected_purchases",
            "expected_order_value",
            "frequency",
            "recency",
            "T",
            "monetary_value",
            "revenue",
        )
        if col in c.columns
    ]
    table = c.select(
        "customer_id",
        "tier",
        "tier_rank",
        "tier_name",
        "risk_band",
        "status",
        "action",
        *score_columns,
    )
    if previous is not None:
        table = table.join(
            previous.select(
                "customer_id",
                pl.col("tier").alias("previous_tier"),
                pl.col("tier_rank").cast(pl.Int64).alias("previous_tier_rank"),
            ),
            on="customer_id",
            how="left",
        )
    else:
        table = table.with_columns(
            pl.lit(None, dtype=pl.String).alias("previous_tier"),
            pl.lit(None, dtype=pl.Int64).alias("previous_tier_rank"),
        )
    return table.sort("customer_id")


def _headline(
    grading: Grading, backtest: BacktestResult | None, migration: Migration | None
) -> dict[str, Any]:
    table = grading.tier_table()
    head: dict[str, Any] = {
        "customers": grading.customers.height,
        "predicted_clv_total": float(grading.customers["clv"].sum()),
        "top_tier_share_customers": float(table["share_customers"][0]),
        "top_tier_share_clv": float(table["share_clv"][0]),
        "status_counts": dict(grading.status_counts().rows()),
    }
    if backtest is not None:
        rows = {r["ranking"]: r for r in backtest.rankings.iter_rows(named=True)}
        head["backtest"] = {
            k: {m: rows[k][m] for m in ("capture", "missed", "wrongly_promoted", "spearman")}
            for k in rows
        }
        head["backtest"]["tiers_out_of_order"] = list(backtest.rank_violations)
    if migration is not None:
        head["migration"] = migration.counts()
    return head


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
        "headline": _headline(grading, backtest, migration),
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


# ---------------------------------------------------------------------------
# running


@dataclass(frozen=True)
class RunConfig:
    """Parameters of one grading run (the notebook's ``parameters`` cell)."""

    data_path: str  # transaction log, absolute or relative to the project root
    period: str  # label of the graded period, names reports/<period>/
    observation_end: str  # last day of transactions used, YYYY-MM-DD
    freq: str = "D"
    time_unit: str = "W"
    model: str = "bgnbd"
    horizon_days: float = 365.0
    discount_rate_annual: float = 0.10
    scheme: str = "five_card"
    lang: str = "en"
    previous_graded: str = ""
    calibration_end: str = ""
    n_bootstrap: int = 200
    seed: int = 0
    ladder: str = "ladder_five_card"
    points_events: str = ""
    accounts_path: str = ""

    def __post_init__(self) -> None:
        if not _PERIOD.match(self.period):
            raise ValueError(
                f"period={self.period!r}; use letters, digits, '-', '_' or '.', starting with a "
                "letter or digit, e.g. '1998-06'"
            )
        for name in ("observation_end", "calibration_end"):
            value = getattr(self, name)
            if value:
                try:
                    dt.date.fromisoformat(value)
                except ValueError:
                    raise ValueError(f"{name}={value!r} is not a date YYYY-MM-DD") from None
        if self.lang not in ("en", "zh"):
            raise ValueError(f"lang={self.lang!r}; use 'en' or 'zh'")


def _render_html(notebook: Path, target: Path) -> None:
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    target.write_text(body, encoding="utf-8")


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
    """
    import papermill

    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    target = reports_dir / config.period
    staging = Path(tempfile.mkdtemp(prefix=f".{config.period}-", dir=reports_dir))
    staging.chmod(0o755)  # mkdtemp makes it private; a published report is readable
    notebook = staging / "grading_report.ipynb"
    parameters = {**asdict(config), "output_dir": str(staging)}
    try:
        try:
            papermill.execute_notebook(
                str(template),
                str(notebook),
                parameters=parameters,
                kernel_name="python3",  # jupyter_client starts it with this interpreter
                cwd=str(PROJECT_ROOT),
                progress_bar=progress,
                log_output=False,
            )
        except Exception as exc:
            message = _failed_cell(notebook, exc)
            failed = reports_dir / ".failed"
            failed.mkdir(exist_ok=True)
            if notebook.is_file():
                shutil.copy(notebook, failed / f"{config.period}.ipynb")
            raise ReportError(
                f"report {config.period}: {message}; the previous report (if any) is unchanged; "
                f"the failed notebook is {failed / (config.period + '.ipynb')}"
            ) from None
        _render_html(notebook, staging / "report.html")
        _replace_dir(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    write_index(reports_dir)
    return target


def _replace_dir(staging: Path, target: Path) -> None:
    """Move ``staging`` to ``target``; an old ``target`` is swapped out only once
    the new one is complete."""
    if target.exists():
        old = target.with_name(f".{target.name}-old-{os.getpid()}")
        os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)


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


def run_range(
    base: RunConfig,
    ends: Iterable[dt.date],
    reports_dir: Path = REPORTS_DIR,
    template: Path = TEMPLATE,
    on_period: Callable[[str], None] | None = None,
) -> list[Path]:
    """Grade a series of periods: each on the data up to its end, back-tested
    with the previous period's end as calibration end, compared with the
    previous period's graded table. Periods are labelled YYYY-MM."""
    folders = []
    previous_end: dt.date | None = None
    previous_table = ""
    for end in ends:
        config = RunConfig(
            **{
                **asdict(base),
                "period": end.strftime("%Y-%m"),
                "observation_end": end.isoformat(),
                "previous_graded": previous_table,
                "calibration_end": previous_end.isoformat() if previous_end else "",
            }
        )
        folder = run_period(config, reports_dir=reports_dir, template=template)
        folders.append(folder)
        previous_end = end
        previous_table = str(folder / "graded_customers.parquet")
        if on_period is not None:
            on_period(config.period)
    return folders


def write_index(reports_dir: Path = REPORTS_DIR) -> Path:
    """Write ``reports_dir/index.html`` listing every period's report with its
    headline figures (atomically)."""
    reports_dir = Path(reports_dir)
    rows = []
    for page_file in sorted(reports_dir.glob("*/report.html")):
        period = page_file.parent.name
        if period.startswith("."):
            continue
        summary_file = page_file.parent / "summary.json"
        if not summary_file.is_file():  # the report rendered, but nothing could be graded
            link = f"<a href='{html.escape(period)}/report.html'>{html.escape(period)}</a>"
            rows.append(
                f"<tr><td>{link}</td><td colspan='7' style='text-align:left'>"
                "no grading: no model could be fitted, see the report · "
                "无法分级，详见报告</td></tr>"
            )
            continue
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
        head = summary["headline"]
        bt = head.get("backtest", {}).get("clv")
        mig = head.get("migration")
        bt_text = f"{bt['capture']:.1%} / {bt['missed']:.1%}" if bt else "-"
        mig_text = f"+{mig['up']:,} / -{mig['down']:,}" if mig else "-"
        rows.append(
            "<tr>"
            f"<td><a href='{html.escape(period)}/report.html'>{html.escape(period)}</a></td>"
            f"<td>{html.escape(summary['facts'].get('parameter observation_end', ''))}</td>"
            f"<td>{head['customers']:,}</td>"
            f"<td>{head['predicted_clv_total']:,.0f}</td>"
            f"<td>{head['top_tier_share_customers']:.1%} / {head['top_tier_share_clv']:.1%}</td>"
            f"<td>{bt_text}</td>"
            f"<td>{mig_text}</td>"
            f"<td><a href='{html.escape(period)}/graded_customers.csv'>csv</a></td>"
            "</tr>"
        )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Customer grading reports · 客户分级报告</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border-bottom:1px solid #ddd;padding:.4em .8em;text-align:right}}
td:first-child,th:first-child{{text-align:left}}</style></head><body>
<h1>Customer grading reports · 客户分级报告</h1>
<table><thead><tr><th>period 期间</th><th>data up to 截止</th><th>customers 客户</th>
<th>predicted CLV 预测价值</th><th>top tier: customers / value 最高等级：客户/价值</th>
<th>back-test: capture / missed 回测：捕获/遗漏</th><th>moved up / down 升级/降级</th>
<th>table 表</th></tr></thead><tbody>
{"".join(rows)}
</tbody></table></body></html>
"""
    target = reports_dir / "index.html"
    temporary = target.with_name(".index.html.tmp")
    temporary.write_text(page, encoding="utf-8")
    os.replace(temporary, target)
    return target
