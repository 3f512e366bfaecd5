"""The files a report run leaves beside its HTML: the graded customer table
(Parquet, CSV, Excel), ``summary.json`` and ``models.txt``.

- ``graded_customers.parquet`` keeps every value as computed, at full precision;
  it is the table later runs read back.
- ``graded_customers.csv`` and ``graded_customers.xlsx`` are for people opening
  them in a spreadsheet. Scores are rounded (:data:`COLUMNS` gives the decimals
  of each column) and text is neutralised against formula injection with the
  OWASP convention: a text cell that begins with ``=``, ``+``, ``-``, ``@``, a
  tab or a carriage return gets a leading apostrophe ``'``, so that a
  spreadsheet shows it as text instead of evaluating it
  (:func:`neutralise_formulas`); numbers stay numbers. The CSV is UTF-8 with a
  byte-order mark, so that Excel reads Chinese text correctly. The Excel file
  has a second sheet, ``columns``, saying what each column means and in which
  unit.
- ``summary.json`` is strict JSON: NaN and infinities are written as ``null``,
  counts as numbers, and paths outside the project as their file name only.
  ``graded_on`` names the column the tiers were cut on: ``clv``, or
  ``expected_purchases`` for a log without amounts, whose summary then lists
  what is ``unavailable`` (CLV, spend, revenue shares, the spend model).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import polars as pl

from clv.backtest import BacktestResult
from clv.migration import Migration
from clv.models import PurchaseModelResults, SpendModelResults
from clv.paths import PROJECT_ROOT
from clv.report.errors import ReportError
from clv.report.sections import RuleGrading, SectionFailure, Sufficiency, headline
from clv.tiers import Grading

if TYPE_CHECKING:
    from clv.selection import ModelSelection

__all__ = [
    "COLUMNS",
    "ColumnInfo",
    "column_descriptions",
    "neutralise_formulas",
    "round_scores",
    "save_outputs",
    "summary_json",
]


class ColumnInfo(NamedTuple):
    """What a column of the graded customer table holds.

    ``unit_en`` and ``unit_zh`` may hold ``{time_en}``/``{time_zh}`` (the
    summary's time unit) and ``{horizon_en}``/``{horizon_zh}`` (the CLV
    horizon), filled in by :func:`column_descriptions`. ``decimals`` is the
    rounding of the column in the CSV and Excel files (``None``: not rounded).
    """

    meaning_en: str
    meaning_zh: str
    unit_en: str
    unit_zh: str
    decimals: int | None = None


#: The columns of the graded customer table: meaning, unit and the decimals
#: kept in the CSV and Excel files. The Excel file's ``columns`` sheet is built
#: from this table, and so is the rounding.
COLUMNS: dict[str, ColumnInfo] = {
    "customer_id": ColumnInfo(
        "Customer identifier, as in the transaction log", "客户编号（与交易记录一致）", "–", "–"
    ),
    "tier": ColumnInfo("Tier code in the tier scheme", "分级方案中的等级代码", "–", "–"),
    "tier_rank": ColumnInfo(
        "Rank of the tier; 1 is the top tier", "等级序号，1 为最高等级", "rank", "序号"
    ),
    "tier_name": ColumnInfo("Tier name in the report's language", "等级名称（报告语言）", "–", "–"),
    "risk_band": ColumnInfo(
        "Churn-risk band of the tier scheme", "分级方案中的流失风险区间", "–", "–"
    ),
    "status": ColumnInfo(
        "graded; provisional (too new to grade); one_time (no repeat purchase); lost",
        "graded 已分级；provisional 暂定（太新，无法分级）；one_time 仅购一次；lost 已流失",
        "–",
        "–",
    ),
    "action": ColumnInfo(
        "Recommended action for the customer's tier and risk band",
        "该等级与风险区间的建议行动",
        "–",
        "–",
    ),
    "clv": ColumnInfo(
        "Predicted customer lifetime value: discounted expected spend over the horizon, times "
        "the gross margin when one is given (then clv_revenue holds the revenue)",
        "预测客户终身价值：预测期内折现后的预期消费",
        "currency units over {horizon_en}",
        "货币单位，{horizon_zh}",
        2,
    ),
    "clv_revenue": ColumnInfo(
        "Predicted value as revenue, before the gross margin: discounted expected spend",
        "毛利率之前的预测价值（收入口径）：折现后的预期消费",
        "currency units over {horizon_en}",
        "货币单位，{horizon_zh}",
        2,
    ),
    "margin": ColumnInfo(
        "The customer's gross margin: past gross profit over past revenue (from the margin "
        "of each order)",
        "客户毛利率：历史毛利除以历史收入（按每笔订单的毛利率计算）",
        "share of revenue",
        "占收入的比例",
        4,
    ),
    "p_alive": ColumnInfo(
        "Probability that the customer is still active (has not stopped buying)",
        "客户仍活跃（未流失）的概率",
        "probability, 0 to 1",
        "概率，0 至 1",
        4,
    ),
    "churn_probability": ColumnInfo(
        "Probability that the customer has stopped buying (1 - p_alive)",
        "客户已流失的概率（1 - p_alive）",
        "probability, 0 to 1",
        "概率，0 至 1",
        4,
    ),
    "p_active": ColumnInfo(
        "Probability of at least one purchase over the horizon",
        "预测期内至少购买一次的概率",
        "probability, 0 to 1",
        "概率，0 至 1",
        4,
    ),
    "p_no_purchase": ColumnInfo(
        "Probability of no purchase over the horizon (1 - p_active); the risk bands are cut on it",
        "预测期内不再购买的概率（1 - p_active）；流失风险分档依据此值",
        "probability, 0 to 1",
        "概率，0 至 1",
        4,
    ),
    "expected_purchases": ColumnInfo(
        "Expected number of purchases over the horizon",
        "预测期内的预期购买次数",
        "purchases over {horizon_en}",
        "次，{horizon_zh}",
        4,
    ),
    "expected_order_value": ColumnInfo(
        "Expected spend per purchase (spend model, or the customer's own mean)",
        "预期每次购买金额（消费模型，或客户自身的平均值）",
        "currency units per purchase",
        "货币单位／次",
        2,
    ),
    "frequency": ColumnInfo(
        "Repeat purchases: purchase periods after the first (0 for one purchase)",
        "重复购买次数：首次之后的购买期数（仅购买一次为 0）",
        "purchases",
        "次",
    ),
    "recency": ColumnInfo(
        "Time from the customer's first to last purchase",
        "首次购买至最后一次购买的时长",
        "{time_en}",
        "{time_zh}",
        2,
    ),
    "T": ColumnInfo(
        "Customer age: time from the first purchase to the end of observation",
        "客户年龄：首次购买至观察期末的时长",
        "{time_en}",
        "{time_zh}",
        2,
    ),
    "monetary_value": ColumnInfo(
        "Mean spend of the repeat purchases, first purchase left out (0 without repeats)",
        "重复购买的平均金额，不含首次购买（无重复购买为 0）",
        "currency units per purchase",
        "货币单位／次",
        2,
    ),
    "revenue": ColumnInfo(
        "Total past spend up to the end of observation",
        "观察期末之前的历史消费总额",
        "currency units",
        "货币单位",
        2,
    ),
    "rule_level": ColumnInfo(
        "Level code in the rule-based ladder that graded the customer (too little data "
        "for predictions)",
        "规则型会员等级代码（数据不足以预测时据此分级）",
        "–",
        "–",
    ),
    "rule_level_name": ColumnInfo(
        "Level name in the rule-based ladder, in the report's language",
        "规则型会员等级名称（报告语言）",
        "–",
        "–",
    ),
    "previous_tier": ColumnInfo(
        "Tier code in the previous period's grading (empty: new, or no previous grading)",
        "上期等级代码（为空：新客户或无上期分级）",
        "–",
        "–",
    ),
    "previous_tier_rank": ColumnInfo(
        "Rank of the previous tier; 1 is the top tier",
        "上期等级序号，1 为最高等级",
        "rank",
        "序号",
    ),
}

_UNKNOWN = ColumnInfo("", "", "", "")

#: What a run on a log without amounts cannot give, as summary.json lists it.
COUNT_ONLY_UNAVAILABLE = ("clv", "expected_order_value", "revenue_shares", "spend_model")
COUNT_ONLY_NOTE = (
    "this log has no amounts: customers are graded on expected purchases over the horizon; "
    "value, revenue shares and the spend model are unavailable"
)
_TIME_UNITS = {"D": ("days", "天"), "W": ("weeks", "周"), "M": ("months", "月")}

# OWASP: cells a spreadsheet would evaluate begin with one of these characters
_FORMULA_START = r"^([=+\-@\t\r])"

_THOUSANDS = re.compile(r"-?(0|[1-9]\d{0,2}(,\d{3})*)")
_DECIMAL = re.compile(r"-?\d+\.\d+([eE][-+]?\d+)?")


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Make every text cell of ``frame`` safe to open in a spreadsheet.

    A text cell that a spreadsheet would evaluate as a formula, i.e. one that
    begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, gets a
    leading apostrophe ``'`` (the OWASP convention against CSV injection):
    ``=HYPERLINK(...)`` becomes ``'=HYPERLINK(...)``. Categorical and enum
    columns become text; numeric, date and other columns are left as they are,
    so ``-5`` in a numeric column stays the number -5.
    """
    text = [
        name
        for name, dtype in frame.schema.items()
        if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)
    ]
    return frame.with_columns(pl.col(text).cast(pl.String).str.replace(_FORMULA_START, "'${1}"))


def round_scores(frame: pl.DataFrame) -> pl.DataFrame:
    """Round the scores of a graded table for people to read: money to 2
    decimals, probabilities and expected purchases to 4, recency and ``T`` to
    2 (the ``decimals`` of :data:`COLUMNS`). NaN becomes null (an empty cell)."""
    floats = [
        name
        for name, dtype in frame.schema.items()
        if dtype.is_float() and COLUMNS.get(name, _UNKNOWN).decimals is not None
    ]
    return frame.with_columns(
        pl.col(name).fill_nan(None).round(COLUMNS[name].decimals) for name in floats
    )


def column_descriptions(
    columns: list[str] | None = None,
    *,
    time_unit: str = "W",
    horizon_days: float | None = None,
) -> pl.DataFrame:
    """The meaning and unit of each column (all of :data:`COLUMNS` when
    ``columns`` is None), with the time unit (``"D"``, ``"W"`` or ``"M"``) and
    the CLV horizon filled in: ``column``, ``meaning_en``, ``meaning_zh``,
    ``unit_en``, ``unit_zh``. A column not in :data:`COLUMNS` has empty texts."""
    time_en, time_zh = _TIME_UNITS.get(time_unit, (time_unit, time_unit))
    if horizon_days is None:
        horizon_en, horizon_zh = "the prediction horizon", "预测期内"
    else:
        horizon_en, horizon_zh = f"{horizon_days:g} days", f"{horizon_days:g} 天内"
    fill = {
        "time_en": time_en,
        "time_zh": time_zh,
        "horizon_en": horizon_en,
        "horizon_zh": horizon_zh,
    }
    rows = []
    for name in list(COLUMNS) if columns is None else columns:
        info = COLUMNS.get(name, _UNKNOWN)
        rows.append(
            {
                "column": name,
                "meaning_en": info.meaning_en,
                "meaning_zh": info.meaning_zh,
                "unit_en": info.unit_en.format(**fill),
                "unit_zh": info.unit_zh.format(**fill),
            }
        )
    return pl.DataFrame(
        rows,
        schema=dict.fromkeys(
            ("column", "meaning_en", "meaning_zh", "unit_en", "unit_zh"), pl.String
        ),
    )


def _display_path(text: str, root: Path) -> str:
    """A path as it may travel with a report: relative to ``root`` inside it,
    the file name only outside it. Text that is no absolute path is kept."""
    native = PureWindowsPath if os.name == "nt" else PurePosixPath
    for flavour in (PurePosixPath, PureWindowsPath):
        path = flavour(text)
        if not path.is_absolute():
            continue
        if flavour is native:
            local = Path(os.path.normpath(text))
            for inside, top in ((local, root), (local.resolve(), root.resolve())):
                if inside.is_relative_to(top):
                    return inside.relative_to(top).as_posix()
        return path.name
    return text


def _fact_value(item: str, value: Any, root: Path) -> Any:
    """A fact of the run's facts table as JSON: integers written with thousands
    separators (``2,357``) as numbers, numeric parameters as numbers, absolute
    paths as shown by :func:`_display_path`; versions and checksums as text."""
    if not isinstance(value, str):
        return value
    if item.startswith("version") or item.endswith("sha256"):
        return value
    if _THOUSANDS.fullmatch(value):
        return int(value.replace(",", ""))
    if item.startswith("parameter ") and _DECIMAL.fullmatch(value):
        return float(value)
    return _display_path(value, root)


def _strict(value: Any, root: Path) -> Any:
    """``value`` with only JSON types: NaN and infinities as None, numpy
    scalars and arrays as Python numbers and lists, dates as ISO text, paths
    as shown by :func:`_display_path`."""
    if isinstance(value, dict):
        return {str(k): _strict(v, root) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_strict(v, root) for v in value]
    if isinstance(value, np.ndarray):
        return [_strict(v, root) for v in value.tolist()]
    if isinstance(value, np.generic):
        return _strict(value.item(), root)
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, Path):
        return _display_path(str(value), root)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def summary_json(summary: dict[str, Any], root: Path = PROJECT_ROOT) -> str:
    """``summary`` as strict JSON text (RFC 8259): NaN and infinities as
    ``null``, no NaN literal anywhere (``allow_nan=False``), paths outside
    ``root`` as their file name only."""
    return json.dumps(_strict(summary, root), indent=2, ensure_ascii=False, allow_nan=False)


def _time_unit(grading: Grading, purchase: PurchaseModelResults) -> str:
    if "time_unit" in grading.customers.columns and grading.customers.height:
        return str(grading.customers["time_unit"].cast(pl.String)[0])
    return purchase.time_unit


def _horizon_days(facts: pl.DataFrame) -> float | None:
    found = dict(facts.rows()).get("parameter horizon_days")
    try:
        return float(str(found).replace(",", "")) if found is not None else None
    except ValueError:
        return None


# the Excel copy of the graded table is written up to this many customers: an
# Excel sheet holds at most 1,048,576 rows, and writing a million rows cell by
# cell takes minutes (about 20 s per 100,000 rows), for a sheet nobody scrolls
EXCEL_MAX_ROWS = 100_000


def _write_excel(path: Path, table: pl.DataFrame, descriptions: pl.DataFrame) -> None:
    """The graded table on a first sheet, the column descriptions on a second."""
    from xlsxwriter import Workbook  # polars writes Excel through xlsxwriter

    options = {
        # cells are data, never formulas, links or numbers parsed from text
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
        "nan_inf_to_errors": True,
    }
    formats = {
        name: "0" if COLUMNS[name].decimals == 0 else "0." + "0" * COLUMNS[name].decimals
        for name, dtype in table.schema.items()
        if dtype.is_float() and name in COLUMNS and COLUMNS[name].decimals is not None
    }
    with Workbook(path, options) as workbook:
        table.write_excel(
            workbook,
            "graded_customers",
            column_formats=formats,
            autofit=True,
            freeze_panes=(1, 1),
        )
        descriptions.write_excel(workbook, "columns", autofit=True, freeze_panes=(1, 1))


def save_outputs(
    output_dir: str | Path,
    *,
    graded: pl.DataFrame,
    grading: Grading | RuleGrading,
    purchase: PurchaseModelResults | None,
    spend: SpendModelResults | None,
    facts: pl.DataFrame,
    backtest: BacktestResult | None = None,
    migration: Migration | None = None,
    time_unit: str | None = None,
    horizon_days: float | None = None,
    failures: Sequence[SectionFailure] = (),
    sufficiency: Sufficiency | None = None,
    selection: ModelSelection | None = None,
) -> list[Path]:
    """Write a period's tables into ``output_dir`` (the run's staging folder):
    ``graded_customers.parquet`` (full precision, values as computed),
    ``graded_customers.csv`` (UTF-8 with BOM) and ``graded_customers.xlsx``
    (rounded, formulas neutralised, a ``columns`` sheet describing each
    column; up to :data:`EXCEL_MAX_ROWS` customers, ``summary.json`` says
    when it was left out), ``summary.json`` (strict JSON), ``models.txt`` and the fitted
    models as JSON (``purchase_model.json``, ``spend_model.json``; reload them
    with :func:`clv.load_model`).

    ``failures`` lists the optional sections that could not be computed
    (``failed_sections`` in ``summary.json``, each with its reason and tries).

    ``time_unit`` (of recency and T) defaults to the graded customers'
    ``time_unit`` column, else the purchase model's; ``horizon_days`` (of CLV
    and expected purchases) to the ``parameter horizon_days`` fact.

    A grading on expected purchases (a log without amounts) writes
    ``"graded_on": "expected_purchases"``, ``"amounts": false`` and the list
    of what is ``unavailable`` in ``summary.json``, and tier shares of
    expected purchases in place of shares of CLV.

    A :class:`~clv.report.RuleGrading` (too little data for predictions; no
    purchase model) is written the same way, with ``graded_by`` set to
    ``"rule_ladder"`` in ``summary.json`` and the ladder's levels in place of
    the thresholds.

    Returns the paths written.
    """
    folder = Path(output_dir)
    if not folder.is_dir():
        raise ReportError(f"output_dir {folder} does not exist; the report run creates it")
    if isinstance(grading, RuleGrading):
        summary = _rule_summary(grading, facts, failures, sufficiency)
        models_text = (
            "No models were fitted: the data are below the minimum a forecast needs "
            "(see data_sufficiency in summary.json); customers are graded by the rule ladder "
            f"{grading.ladder_id}.\n"
        )
        return _write_outputs(
            folder,
            graded,
            summary,
            models_text,
            time_unit or grading.time_unit,
            horizon_days,
            facts,
        )
    if purchase is None:
        raise ReportError("save_outputs needs the purchase model of a CLV grading")
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
    tier_table = grading.tier_table()
    counts_only = grading.measure != "clv"
    tiers = tier_table.select(
        "tier",
        "tier_name",
        "customers",
        "share_customers",
        f"share_{grading.measure}",
        *(["share_revenue"] if "share_revenue" in tier_table.columns else []),
        "p_alive_mean",
    )
    summary = {
        "facts": {item: _fact_value(item, value, PROJECT_ROOT) for item, value in facts.rows()},
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
        "ties": grading.ties_dict(),
        "model_selection": selection.to_dict() if selection is not None else None,
        "failed_sections": [failure.as_dict() for failure in failures],
        "data_sufficiency": sufficiency.as_dict() if sufficiency is not None else None,
        "graded_by": "clv",
        "graded_on": grading.graded_on,
        "amounts": not counts_only,
    }
    if counts_only:
        summary["unavailable"] = list(COUNT_ONLY_UNAVAILABLE)
        summary["note"] = COUNT_ONLY_NOTE
    spend_text = (
        f"{spend.summary()}\n\n{spend.independence!r}"
        if spend
        else f"no spend model: {COUNT_ONLY_NOTE}"
        if counts_only
        else "no spend model"
    )
    written = _write_outputs(
        folder,
        graded,
        summary,
        f"{purchase.summary()}\n\n{spend_text}\n",
        time_unit or _time_unit(grading, purchase),
        horizon_days,
        facts,
    )
    return written + _save_models(folder, purchase, spend, facts)


def _save_models(
    folder: Path,
    purchase: PurchaseModelResults,
    spend: SpendModelResults | None,
    facts: pl.DataFrame,
) -> list[Path]:
    """The fitted models as JSON (:func:`clv.save_model`), fingerprinted with
    the data file's SHA-256, so a later run can reload or compare them."""
    from clv.models.persist import save_model

    fingerprint = dict(facts.rows()).get("data sha256")
    written = [save_model(purchase, folder / "purchase_model.json", fingerprint)]
    if spend is not None:
        written.append(save_model(spend, folder / "spend_model.json", fingerprint))
    return written


def _rule_summary(
    grading: RuleGrading,
    facts: pl.DataFrame,
    failures: Sequence[SectionFailure],
    sufficiency: Sufficiency | None,
) -> dict[str, Any]:
    """summary.json of a run graded by the rule ladder."""
    return {
        "facts": {item: _fact_value(item, value, PROJECT_ROOT) for item, value in facts.rows()},
        "graded_by": "rule_ladder",
        "predictions": None,
        "scheme": grading.scheme.id,
        "rule_grading": grading.as_dict(),
        "headline": {
            "customers": grading.customers.height,
            "status_counts": dict(grading.status_counts().rows()),
        },
        "purchase_model": None,
        "spend_model": None,
        "failed_sections": [failure.as_dict() for failure in failures],
        "data_sufficiency": sufficiency.as_dict() if sufficiency is not None else None,
    }


def _write_outputs(
    folder: Path,
    graded: pl.DataFrame,
    summary: dict[str, Any],
    models_text: str,
    time_unit: str,
    horizon_days: float | None,
    facts: pl.DataFrame,
) -> list[Path]:
    excel = graded.height <= EXCEL_MAX_ROWS
    written = [
        folder / "graded_customers.parquet",
        folder / "graded_customers.csv",
        *([folder / "graded_customers.xlsx"] if excel else []),
        folder / "summary.json",
        folder / "models.txt",
    ]
    graded.write_parquet(written[0])
    readable = neutralise_formulas(round_scores(graded))
    readable.write_csv(written[1], include_bom=True)
    if excel:
        descriptions = column_descriptions(
            graded.columns,
            time_unit=time_unit,
            horizon_days=horizon_days if horizon_days is not None else _horizon_days(facts),
        )
        _write_excel(written[2], readable, neutralise_formulas(descriptions))
    else:
        summary = {
            **summary,
            "excel": f"graded_customers.xlsx not written: {graded.height:,} customers, more than "
            f"{EXCEL_MAX_ROWS:,}; open graded_customers.csv or .parquet",
        }
    written[-2].write_text(summary_json(summary) + "\n", encoding="utf-8")
    written[-1].write_text(models_text, encoding="utf-8")
    return written
