"""Section builders of the grading report: frames and results in, frames out.

Nothing here reads the notebook's parameters, writes files or prints: the
notebook calls these and displays what they return.

A count-only log (loaded with ``amount=None``: no amounts) is told by its data,
not by a parameter: the summary has no ``monetary_value``, no spend model is
fitted (:attr:`FitOutcome.count_only`), the scores have no ``clv`` and the
customers are graded on ``expected_purchases`` over the horizon; the facts
say that value, revenue shares and the spend model are unavailable.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from clv.paths import PROJECT_ROOT
from clv.programmes.inputs import EventsInput
from clv.report import logs
from clv.report.config import RunConfig
from clv.report.logs import date_range
from clv.rfm import DAYS_PER_UNIT, WindowCounts
from clv.tiers import Grading, Scheme

if TYPE_CHECKING:
    from clv.models.predictions import RepeatPurchaseHistogram
    from clv.programmes.points import PointsLedger
    from clv.selection import ModelSelection

__all__ = [
    "SUFFICIENCY_MINIMUMS",
    "FitOutcome",
    "RuleGrading",
    "SectionFailure",
    "Sufficiency",
    "attempt",
    "calibration_split",
    "count_only",
    "data_sufficiency",
    "fit_check",
    "fit_models",
    "graded_table",
    "headline",
    "ladder_comparison",
    "loyalty_table",
    "method_facts",
    "playbook_table",
    "points_summary",
    "quality_table",
    "rule_grading",
    "run_facts",
    "score_customers",
    "scorecard_summary",
    "spend_thresholds_table",
    "value_basis",
    "versions",
]


def _display_path(path: Path) -> str:
    """The path relative to the project root when inside it, else the file's
    name alone: reports travel, and the machine's folders are not the reader's
    business."""
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return Path(path).name


def versions() -> dict[str, str]:
    """Versions of Python and of the packages a grading depends on."""
    names = ("clv", "polars", "numpy", "scipy", "pandas", "lifetimes", "statsmodels", "matplotlib")
    return {"python": sys.version.split()[0], **{n: metadata.version(n) for n in names}}


def count_only(summary: pl.DataFrame) -> bool:
    """Whether a summary (or scores, or graded customers) is of a count-only
    log: no amounts, so no ``monetary_value`` (``monetary_value_cal``)."""
    return not ({"monetary_value", "monetary_value_cal", "clv"} & set(summary.columns))


def run_facts(
    config: RunConfig,
    tx: TransactionLog,
    summary: pl.DataFrame,
    counts: WindowCounts,
) -> pl.DataFrame:
    """The facts of a run a reader needs, as a two-column table (``item``,
    ``value``): data source and checksum, customers, transactions, date
    range, data-quality and window counts, what the predicted value measures
    and its currency. Software versions and parameters are in
    :func:`method_facts`.

    A count-only log says so (``amounts``: none, graded on expected
    purchases) in place of the zero-amount rows, and its ``predicted value``
    is expected purchases; a log with order statuses gives the cancelled and
    returned orders the summaries leave out."""
    first, last = date_range(tx)
    amounts = getattr(tx.quality, "has_amounts", True) and not count_only(summary)
    quality = tx.quality
    items: list[tuple[str, Any]] = [
        ("data", _display_path(config.data_file)),
        ("data sha256", config.data_sha256()),
        ("transactions read", tx.quality.rows_read),
        ("transactions kept", tx.quality.rows_kept),
        ("customers graded", summary.height),
        ("first transaction", first.isoformat()),
        ("last transaction", last.isoformat()),
        ("transactions after observation end (left out)", counts.after_observation_end),
        ("exact duplicate rows (kept or dropped by policy)", tx.quality.duplicate_rows),
    ]
    if counts.orders_not_completed:
        items += [
            (
                "cancelled orders (kept in the log, left out of the summaries)",
                quality.cancelled_orders,
            ),
            (
                "returned orders (kept in the log, left out of the summaries)",
                quality.returned_orders,
            ),
        ]
    if amounts:
        items += [
            ("zero-amount rows", tx.quality.zero_amount_rows),
            ("predicted value", value_basis(config, _overall_margin(tx, config))),
            ("currency", config.currency or "(not given)"),
        ]
    else:
        items += [
            ("amounts", COUNT_ONLY_FACT),
            ("predicted value", value_basis(config, has_amounts=False)),
            ("graded on", "expected_purchases"),
        ]
    return _facts_frame(items)


#: The fact a count-only run states in place of its amounts.
COUNT_ONLY_FACT = (
    "none in the log: customers are graded on expected purchases over the horizon; value, "
    "revenue shares and the spend model are unavailable"
)


def method_facts(config: RunConfig) -> pl.DataFrame:
    """Package versions and every parameter of the run (``item``, ``value``),
    for the method appendix; paths shown relative to the project or by name."""
    parameters = {
        name: (
            "; ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else value
        )
        for name, value in config.parameters().items()
    }
    paths = (
        "data_path",
        "previous_graded",
        "points_events",
        "points_redemptions",
        "accounts_path",
        "scheme",
        "ladder",
    )
    for name in paths:
        if parameters.get(name) and Path(parameters[name]).is_absolute():
            parameters[name] = _display_path(Path(parameters[name]))
    items: list[tuple[str, Any]] = [
        *[(f"version {k}", v) for k, v in versions().items()],
        *[(f"parameter {k}", v) for k, v in parameters.items()],
    ]
    return _facts_frame(items)


def _facts_frame(items: list[tuple[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "item": [k for k, _ in items],
            "value": [
                f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)
                for _, v in items
            ],
        }
    )


def _overall_margin(tx: TransactionLog, config: RunConfig) -> float | None:
    """The log's revenue-weighted margin up to the observation end, when each
    order carries one."""
    if "margin" not in tx.data.columns:
        return None
    end = dt.date.fromisoformat(config.observation_end)
    totals = _orders_until(tx, end).select(
        pl.col("amount").sum(), (pl.col("amount") * pl.col("margin")).sum().alias("profit")
    )
    revenue = float(totals["amount"][0] or 0.0)
    return float(totals["profit"][0]) / revenue if revenue else None


def value_basis(
    config: RunConfig, overall_margin: float | None = None, *, has_amounts: bool = True
) -> str:
    """What the report's predicted value (CLV) measures, in words
    (``overall_margin``: the log's revenue-weighted margin, when each order
    has its own). A count-only log (``has_amounts=False``) has no value: its
    customers are graded on expected purchases, undiscounted."""
    if not has_amounts:
        return (
            f"expected purchases over {config.horizon_days:g} days (the log has no amounts: "
            "no value, not discounted)"
        )
    horizon = (
        f"over {config.horizon_days:g} days, discounted at {config.discount_rate_annual:.0%} a year"
    )
    if config.margin_column:
        overall = "n/a" if overall_margin is None else f"{overall_margin:.0%}"
        return (
            "expected gross profit at each customer's own margin (from the margin of each "
            f"order; {overall} overall) {horizon}"
        )
    if config.margin > 0:
        return f"expected gross profit at a {config.margin:.0%} margin {horizon}"
    return f"expected revenue (no margin given: not profit) {horizon}"


# The least a CLV forecast needs (practice in the field: about 500 customers and
# 180 days of history with some customers on three or more orders; and a
# history several times longer than the typical gap between purchases).
SUFFICIENCY_MINIMUMS: dict[str, float] = {
    "customers": 500,
    "history_days": 180,
    "customers_with_3_or_more_purchases": 30,
    "history_in_typical_gaps": 3.0,
}


@dataclass(frozen=True)
class Sufficiency:
    """Whether a log holds enough to forecast from: each check with its value,
    its minimum and whether it passed (``checks``)."""

    checks: pl.DataFrame  # check, value, minimum, passed

    @property
    def sufficient(self) -> bool:
        return bool(self.checks["passed"].all())

    def failed(self) -> list[str]:
        return self.checks.filter(~pl.col("passed"))["check"].to_list()

    def as_dict(self) -> dict[str, Any]:
        return {"sufficient": self.sufficient, "checks": self.checks.to_dicts()}


def data_sufficiency(
    tx: TransactionLog, summary: pl.DataFrame, observation_end: str
) -> Sufficiency:
    """Check a period's data against :data:`SUFFICIENCY_MINIMUMS`: customers,
    length of history, customers with three or more purchase periods, and
    history length in typical (median) gaps between a repeat buyer's
    purchases."""
    end = dt.date.fromisoformat(observation_end)
    history = (end - date_range(tx)[0]).days + 1
    unit_days = DAYS_PER_UNIT[str(summary["time_unit"][0])] if summary.height else 1.0
    repeat = summary.filter(pl.col("frequency") > 0)
    # a repeat buyer's mean gap: recency spread over their repeat purchases
    gaps = (repeat["recency"] / repeat["frequency"] * unit_days).to_numpy()
    typical_gap = float(np.median(gaps)) if gaps.size else float("inf")
    values = {
        "customers": float(summary.height),
        "history_days": float(history),
        "customers_with_3_or_more_purchases": float(
            summary.filter(pl.col("frequency") >= 2).height
        ),
        "history_in_typical_gaps": history / typical_gap if typical_gap > 0 else 0.0,
    }
    checks = pl.DataFrame(
        {
            "check": list(values),
            "value": [round(v, 2) for v in values.values()],
            "minimum": [float(SUFFICIENCY_MINIMUMS[k]) for k in values],
            "passed": [values[k] >= SUFFICIENCY_MINIMUMS[k] for k in values],
        }
    )
    return Sufficiency(checks)


@dataclass(frozen=True)
class SectionFailure:
    """An optional report section that could not be computed, and why.

    ``attempts`` holds each model fit tried on the way, with its reason,
    when the failure came from fitting."""

    section: str
    error: str
    attempts: tuple[FitAttempt, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "error": self.error,
            "attempts": [
                {"model": a.model, "penalizer": a.penalizer, "error": a.error}
                for a in self.attempts
            ],
        }


def attempt(
    section: str, compute: Callable[..., Any], *args: Any, **kwargs: Any
) -> tuple[Any, SectionFailure | None]:
    """Run an optional section's computation; an error becomes a
    :class:`SectionFailure` (returned, not raised), so the rest of the report
    still renders and publishes. Returns (result or None, failure or None)."""
    try:
        return compute(*args, **kwargs), None
    except Exception as exc:  # an optional section never sinks the report
        attempts = tuple(getattr(exc, "attempts", ()) or ())
        return None, SectionFailure(section, f"{type(exc).__name__}: {exc}", attempts)


@dataclass(frozen=True)
class FitOutcome:
    """The models of a report run, with what went wrong on the way.

    ``selection`` holds the comparison of the purchase models when the model
    was chosen by evidence (``model="auto"``)."""

    purchase: PurchaseModelResults | None
    spend: SpendModelResults | None
    attempts: tuple[FitAttempt, ...]
    purchase_error: str | None
    spend_error: str | None
    selection: ModelSelection | None = None
    gated: Sufficiency | None = None  # set when the data were too few to forecast from
    count_only: bool = False  # a log without amounts: no spend model, by design

    @property
    def predicted(self) -> bool:
        """Whether the run made predictions (a purchase model was fitted)."""
        return self.purchase is not None

    @property
    def calibration_fit(self) -> PurchaseModelResults | None:
        """The chosen model's fit on the back-test's calibration window, when
        the choice made one (the back-test then reuses it)."""
        if self.selection is None or self.purchase is None:
            return None
        return self.selection.calibration_fits.get(self.purchase.model)


def calibration_split(tx: TransactionLog, config: RunConfig) -> pl.DataFrame | None:
    """The calibration / holdout split of the run's back-test window, or None
    when the run has no calibration end (or the window holds nobody)."""
    if not config.calibration_end:
        return None
    split = logs.calibration_holdout(tx, config)  # on the log's engine
    return split if split.height else None


def fit_models(
    summary: pl.DataFrame,
    model: str,
    calibration: pl.DataFrame | None = None,
    *,
    sufficiency: Sufficiency | None = None,
) -> FitOutcome:
    """Fit the purchase model and the spend model; failures are recorded, not
    raised, so the report can still render and show them.

    With ``sufficiency`` given and not met (:func:`data_sufficiency`), nothing
    is fitted: the outcome carries the checks in ``gated`` and the report
    grades by the rule ladder instead (:func:`rule_grading`). Pass None to
    fit whatever the amount of data.

    ``model="auto"`` fits BG/NBD, MBG/NBD and Pareto/NBD and chooses by
    out-of-sample accuracy on ``calibration`` (a calibration / holdout split)
    when given, by BIC otherwise (:func:`clv.selection.select_purchase_model`);
    a named model is fitted with its fallbacks (penalizers, other models).

    A summary of a count-only log (no ``monetary_value``) gets no spend
    model, and no error for it: the outcome has ``count_only`` set."""
    if sufficiency is not None and not sufficiency.sufficient:
        return FitOutcome(None, None, (), None, None, gated=sufficiency)
    purchase, attempts, purchase_error, selection = None, [], None, None
    try:
        if model == "auto":
            from clv.selection import select_purchase_model

            selection = select_purchase_model(summary, calibration=calibration)
            purchase = selection.results
        else:
            purchase, attempts = fit_purchase_model_with_fallback(summary, model=model)
    except ModelFitError as exc:
        purchase_error = str(exc)
    spend, spend_error = None, None
    if count_only(summary):
        return FitOutcome(
            purchase, None, tuple(attempts), purchase_error, None, selection, count_only=True
        )
    try:
        spend = fit_spend_model(summary)
    except ModelFitError as exc:
        spend_error = str(exc)
    return FitOutcome(purchase, spend, tuple(attempts), purchase_error, spend_error, selection)


def fit_check(
    fits: FitOutcome, summary: pl.DataFrame, max_count: int = 7
) -> RepeatPurchaseHistogram | None:
    """The standard fit check of the purchase models: actual against expected
    customers by number of repeat purchases, with a chi-square test per model
    (every fitted candidate when the model was chosen by evidence, the chosen
    one first); None when no purchase model was fitted. Customers first seen
    on the last day (age 0) have had no time to buy again and are left out."""
    from clv.models.predictions import repeat_purchase_histogram

    if fits.purchase is None:
        return None
    models = [fits.purchase]
    if fits.selection is not None:
        models += [m for code, m in fits.selection.fits.items() if code != fits.purchase.model]
    aged = summary.filter(pl.col("T") > 0)
    if aged.height == 0:
        return None
    return repeat_purchase_histogram(models, aged, max_count=max_count)


def score_customers(
    summary: pl.DataFrame,
    purchase: PurchaseModelResults,
    spend: SpendModelResults | None,
    tx: TransactionLog,
    config: RunConfig,
) -> pl.DataFrame:
    """Score every customer (:func:`clv.score`) with the run's horizon,
    discount rate and margin: one margin for all orders (``config.margin``),
    or each customer's own from the log's margin column
    (:func:`clv.margins.customer_margins` over the orders up to the
    observation end), or none (the value is revenue).

    A count-only summary is scored on purchases only (no ``clv``); a margin
    given for it is an error, since there is no spend to take a margin of."""
    from clv.margins import apply_margins, customer_margins
    from clv.scoring import score

    if count_only(summary):
        if config.margin_or_none is not None or config.margin_column:
            raise ValueError(
                "a margin is given but the log has no amounts (a count-only log): there is no "
                "spend to take a margin of; leave the margin out, or give the amount column"
            )
        return score(summary, purchase, None, horizon_days=config.horizon_days, value=False)

    scores = score(
        summary,
        purchase,
        spend,
        horizon_days=config.horizon_days,
        discount_rate_annual=config.discount_rate_annual,
        margin=None if config.margin_column else config.margin_or_none,
    )
    if config.margin_column:
        margins = customer_margins(tx, observation_end=config.observation_end)
        scores = apply_margins(scores, margins)
    return scores


def _needs_amounts(tx: TransactionLog, section: str) -> None:
    """Refuse a section that reads the orders' amounts on a log without them."""
    if "amount" not in tx.data.columns:
        raise ValueError(
            f"the log has no amounts (a count-only log), and the {section} reads each order's "
            "amount; the section is unavailable for this log"
        )


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

    _needs_amounts(tx, "membership ladder")
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
    mapping = _rank_of_levels(order, ranks)
    matrix, customers = agreement(rule, grading.customers, rule_order=order, mapping=mapping)
    names = {lv["id"]: lv["zh" if lang == "zh" else "en"] for lv in result.ladder.levels}
    matrix = matrix.with_columns(
        pl.col("rule_grade").replace_strict(names, return_dtype=pl.String)
    ).select("rule_grade", "tier_name", "customers", *(["clv"] if "clv" in matrix.columns else []))
    verdicts = dict(customers.group_by("verdict").agg(pl.len()).rows())
    name = result.ladder.name_zh if lang == "zh" else result.ladder.name_en
    return per_level, matrix, verdicts, name


def _rank_of_levels(best_first: list[str], ranks: list[int]) -> dict[str, int]:
    """Ladder levels (best first) matched to tier ranks, best first; levels
    beyond the last tier share it."""
    return {level: ranks[min(i, len(ranks) - 1)] for i, level in enumerate(best_first)}


@dataclass(frozen=True)
class RuleGrading:
    """Customers graded by a rule-based membership ladder on their past
    purchases: the report's grading when the data are too few for a forecast
    (see :func:`fit_models` and :func:`rule_grading`).

    ``levels`` lists the ladder's levels best first with their minimum (in
    the ladder's ``basis``) and the scheme tier each is matched to (best level
    to the top tier, and so on; levels beyond the last tier share it).
    ``customers`` has one row per customer: ``customer_id``, ``tier``,
    ``tier_rank``, ``tier_name``, ``rule_level``, ``rule_level_name``,
    ``status`` (the ladder's), ``action`` (the tier's playbook) and the
    customer's history (``frequency``, ``recency``, ``T``,
    ``monetary_value``, ``revenue``).
    """

    scheme: Scheme
    ladder_id: str
    ladder_name: str
    basis: str
    levels: pl.DataFrame
    customers: pl.DataFrame
    lang: str = "en"
    time_unit: str = "W"  # of recency and T

    def tier_table(self) -> pl.DataFrame:
        """Per ladder level (best first): its minimum, the matched tier,
        customers, share of customers, past revenue and its share."""
        c = self.customers
        total_n = max(c.height, 1)
        total_revenue = float(c["revenue"].sum()) if "revenue" in c.columns else 0.0
        per = c.group_by("rule_level").agg(
            pl.len().alias("customers"),
            (pl.col("revenue") if "revenue" in c.columns else pl.lit(0.0))
            .sum()
            .alias("revenue_total"),
        )
        return (
            self.levels.join(per, on="rule_level", how="left", maintain_order="left")
            .with_columns(pl.col("customers").fill_null(0), pl.col("revenue_total").fill_null(0.0))
            .with_columns(
                (pl.col("customers") / total_n).alias("share_customers"),
                (pl.col("revenue_total") / total_revenue if total_revenue else pl.lit(None))
                .cast(pl.Float64)
                .alias("share_revenue"),
            )
            .select(
                "rule_level_name",
                # a spend ladder's minimum is money (its header carries the currency)
                pl.col("minimum").alias("minimum_spend" if self.basis == "spend" else "minimum"),
                "tier_name",
                "customers",
                "share_customers",
                "revenue_total",
                "share_revenue",
            )
        )

    def status_counts(self) -> pl.DataFrame:
        """Customers per ladder status."""
        return self.customers.group_by("status").agg(pl.len().alias("customers")).sort("status")

    def playbook_table(self) -> pl.DataFrame:
        """Per tier: customers graded into it by the ladder and its playbook."""
        counts = dict(self.customers.group_by("tier").agg(pl.len()).rows())
        return pl.DataFrame(
            [
                {
                    "tier": tier.name(self.lang),
                    "customers": counts.get(tier.id, 0),
                    "playbook": tier.playbook(self.lang),
                }
                for tier in self.scheme.tiers
            ]
        )

    def graded_table(self, previous: pl.DataFrame | None = None) -> pl.DataFrame:
        """The graded customer table (the same identifying columns as
        :func:`graded_table`, with the ladder level instead of scores)."""
        table = self.customers.select(
            "customer_id",
            "tier",
            "tier_rank",
            "tier_name",
            "rule_level",
            "rule_level_name",
            "status",
            "action",
            "frequency",
            "recency",
            "T",
            *(c for c in ("monetary_value", "revenue") if c in self.customers.columns),
        )
        return _with_previous(table, previous).sort("customer_id")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready description for summary.json."""
        return {
            "ladder": self.ladder_id,
            "ladder_name": self.ladder_name,
            "basis": self.basis,
            "levels": [
                {k: v for k, v in row.items()} for row in self.tier_table().iter_rows(named=True)
            ],
        }


def rule_grading(
    tx: TransactionLog, summary: pl.DataFrame, config: RunConfig, lang: str = "en"
) -> RuleGrading | None:
    """Grade every customer of ``summary`` by the run's rule ladder
    (``config.ladder``) on the orders up to the observation end; None when
    the run has no ladder.

    Each ladder level is matched to a tier of the run's scheme, best first,
    so the graded table has the same tier columns as a CLV grading (and the
    next period's movement can read it)."""
    if not config.ladder:
        return None
    from clv.programmes import run_ladder

    _needs_amounts(tx, "rule ladder")
    from clv.tiers import load_scheme

    scheme = load_scheme(config.scheme)
    end = dt.date.fromisoformat(config.observation_end)
    result = run_ladder(config.ladder, orders=_orders_until(tx, end), end=end)
    ladder = result.ladder
    key = "zh" if lang == "zh" else "en"
    best_first = [dict(level) for level in reversed(ladder.levels)]
    rank_of = _rank_of_levels([lv["id"] for lv in best_first], [t.rank for t in scheme.tiers])
    tiers = {t.rank: t for t in scheme.tiers}
    levels = pl.DataFrame(
        {
            "rule_level": [lv["id"] for lv in best_first],
            "rule_level_name": [lv[key] for lv in best_first],
            "minimum": [float(lv["min"]) for lv in best_first],
            "tier": [tiers[rank_of[lv["id"]]].id for lv in best_first],
            "tier_rank": [rank_of[lv["id"]] for lv in best_first],
            "tier_name": [tiers[rank_of[lv["id"]]].name(lang) for lv in best_first],
            "action": [tiers[rank_of[lv["id"]]].playbook(lang) for lv in best_first],
        },
        schema_overrides={"tier_rank": pl.Int64},
    )
    as_of = result.as_of(end, lang=lang).select(
        "customer_id", pl.col("level_id").alias("rule_level"), "status"
    )
    lowest = best_first[-1]["id"]
    customers = (
        summary.select(
            c
            for c in ("customer_id", "frequency", "recency", "T", "monetary_value", "revenue")
            if c in summary.columns
        )
        .join(as_of, on="customer_id", how="left")
        .with_columns(
            pl.col("rule_level").fill_null(lowest),
            pl.col("status").fill_null("no_order_in_period"),
        )
        .join(levels.drop("minimum"), on="rule_level", how="left")
    )
    name = ladder.name_zh if lang == "zh" else ladder.name_en
    unit = str(summary["time_unit"].cast(pl.String)[0]) if summary.height else config.time_unit
    return RuleGrading(scheme, ladder.id, name, ladder.basis, levels, customers, lang, unit)


def loyalty_table(
    tx: TransactionLog,
    observation_end: str,
    events: EventsInput | None = None,
    lang: str = "en",
) -> pl.DataFrame:
    """The value x loyalty grid of the documents (:func:`clv.programmes.loyalty_grid`)
    on the orders up to ``observation_end``: customers per value class (rows,
    high first) and loyalty class (loyal, general, lost); referrals come from
    the points events when given."""
    from clv.programmes import loyalty_grid

    _needs_amounts(tx, "value x loyalty grid")
    end = dt.date.fromisoformat(observation_end)
    orders = _orders_until(tx, end).select("customer_id", "date", "amount")
    grid = loyalty_grid(orders, end, events=events.data if events is not None else None, lang=lang)
    return grid.counts.rename({"value": "value_class"})


def spend_thresholds_table(
    tx: TransactionLog,
    grading: Grading,
    ladder: str,
    observation_end: str,
    lang: str = "en",
) -> tuple[pl.DataFrame, float, float]:
    """How ``clv`` would set a spend ladder's thresholds: the minimum spend over
    the year to ``observation_end`` for each tier that best reproduces the
    CLV tiers (:func:`clv.programmes.spend_thresholds`, most customers in
    their own tier), beside the ladder's minimum for the level matched to that
    tier (best level to the top tier, as in :func:`ladder_comparison`).

    Returns the table (``tier_name``, ``minimum_spend`` of the ladder,
    ``suggested_minimum``, ``customers``), the agreement and the
    quadratic-weighted kappa of the suggested thresholds with the tiers."""
    from clv.programmes import load_ladder, spend_thresholds

    _needs_amounts(tx, "spend thresholds")
    end = dt.date.fromisoformat(observation_end)
    start = end - dt.timedelta(days=364)
    orders = _orders_until(tx, end).filter(pl.col("date").dt.date() >= start)
    spend = (
        grading.customers.select("customer_id")
        .join(
            orders.group_by("customer_id").agg(pl.col("amount").sum().alias("spend")),
            on="customer_id",
            how="left",
        )
        .with_columns(pl.col("spend").fill_null(0.0))
    )
    fitted = spend_thresholds(spend, grading.customers.select("customer_id", "tier_rank"))
    suggested = dict(zip(fitted.levels, fitted.minimums, strict=True))
    ranks = [t.rank for t in grading.scheme.tiers]
    current: dict[int, float] = {}
    levels = load_ladder(ladder).levels
    best_first = [lv["id"] for lv in reversed(levels)]
    for level_id, rank in _rank_of_levels(best_first, ranks).items():
        minimum = next(float(lv["min"]) for lv in levels if lv["id"] == level_id)
        current.setdefault(rank, minimum)
    counts = dict(grading.customers.group_by("tier_rank").agg(pl.len()).rows())
    table = pl.DataFrame(
        {
            "tier_name": [t.name(lang) for t in grading.scheme.tiers],
            "minimum_spend": [current.get(t.rank) for t in grading.scheme.tiers],
            "suggested_minimum": [float(suggested.get(t.rank, 0.0)) for t in grading.scheme.tiers],
            "customers": [counts.get(t.rank, 0) for t in grading.scheme.tiers],
        },
        schema_overrides={"minimum_spend": pl.Float64, "customers": pl.Int64},
    )
    return table, float(fitted.agreement), float(fitted.weighted_kappa)


def points_summary(
    tx: TransactionLog,
    events: EventsInput,
    observation_end: str,
    rules: str = "points_pollen",
    *,
    redemptions: EventsInput | None = None,
    scores: pl.DataFrame | None = None,
    horizon_days: float = 365.0,
    ledger: PointsLedger | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame | None]:
    """Build the points ledger of the orders, the events and the redemptions
    (as read by :func:`clv.programmes.read_events` / ``read_redemptions``) up
    to ``observation_end`` (:func:`clv.report.programme_ledger`), or take the
    ``ledger`` it built already.

    Returns the totals (members, points earned, redeemed, expired, held, and
    the balance's value in yuan), the rejected inputs counted by reason
    (those rejected on reading included) and, given the CLV ``scores``
    (``customer_id``, ``p_alive``, ``expected_purchases`` over
    ``horizon_days``), the points liability forecast
    (:func:`clv.programmes.forecast_liability`: held, redeemed, expired and
    remaining over the horizon, in points and yuan, with an interval); None
    without scores or without points held."""
    from clv.programmes import forecast_liability
    from clv.report.programme_sections import programme_ledger  # it imports this module

    end = dt.date.fromisoformat(observation_end)
    if ledger is None:
        ledger = programme_ledger(tx, end, events, redemptions=redemptions, rules=rules)
    balances = ledger.balances()
    held = int(balances["balance"].sum())
    totals = _facts_frame(
        [
            ("members", balances.height),
            ("points earned", int(balances["earned"].sum())),
            ("points redeemed", int(balances["redeemed"].sum())),
            ("points expired", int(balances["expired"].sum())),
            ("points held", held),
            ("points held, in yuan", f"{float(balances['balance_yuan'].sum()):,.2f}"),
        ]
    )
    inputs = [events] + ([redemptions] if redemptions is not None else [])
    read = pl.DataFrame(
        {
            "reason": [r for i in inputs for r in i.counts()],
            "customers": [n for i in inputs for n in i.counts().values()],
        },
        schema={"reason": pl.String, "customers": pl.UInt32},
    )
    reasons = (
        pl.concat([ledger.rejected.group_by("reason").agg(pl.len().alias("customers")), read])
        .group_by("reason")
        .agg(pl.col("customers").sum())
        .sort("reason")
    )
    liability = None
    if scores is not None and held > 0:
        # a member who holds points (from events) but never completed a purchase
        # has no purchase history to predict from: forecast to buy nothing, so
        # their points are not redeemed and expire; they are counted in the totals
        scored = scores.select("customer_id", "p_alive", "expected_purchases")
        unscored = balances.filter(
            (pl.col("balance") > 0) & ~pl.col("customer_id").is_in(scored["customer_id"].implode())
        )["customer_id"]
        if unscored.len():
            scored = pl.concat(
                [
                    scored,
                    pl.DataFrame(
                        {"customer_id": unscored, "p_alive": 0.0, "expected_purchases": 0.0},
                        schema=scored.schema,
                    ),
                ]
            )
            totals = pl.concat(
                [
                    totals,
                    _facts_frame(
                        [("members holding points without a purchase", int(unscored.len()))]
                    ),
                ]
            )
        forecast = forecast_liability(
            ledger,
            scored,
            as_of=end,
            horizon_days=round(horizon_days),
        )
        level = f"{1 - forecast.alpha:.0%}"
        liability = forecast.totals.select(
            pl.col("item").alias("points_outcome"),
            pl.col("points").round(0),
            pl.col("yuan").round(2),
            pl.col("lower").round(0).alias(f"lower {level}"),
            pl.col("upper").round(0).alias(f"upper {level}"),
        )
    return totals, reasons, liability


def scorecard_summary(
    accounts: pl.DataFrame, scorecard: str = "b2b_parts_supplier"
) -> pl.DataFrame:
    """Grade a (read and checked) B2B accounts table with a scorecard: accounts
    per year and grade, with each grade's plan."""
    from clv.programmes import grade_accounts

    graded = grade_accounts(accounts, scorecard)
    keys = ["year", "grade"] if "year" in graded.columns else ["grade"]
    return (
        graded.group_by(*keys, "visits_per_year", "delivery_target")
        .agg(pl.len().alias("customers"))
        .sort(keys)
    )


def quality_table(quality: DataQuality) -> pl.DataFrame:
    """The data-quality record as a two-column table (``item``, ``value``); the
    counts only (whether the log has amounts is a fact of the run, see
    :func:`run_facts`)."""
    items = [
        (k, v)
        for k, v in quality.as_dict().items()
        if k not in ("source", "notes") and not isinstance(v, bool)
    ]
    items += [("note", n) for n in quality.notes]
    return pl.DataFrame({"item": [k for k, _ in items], "value": [str(v) for _, v in items]})


def playbook_table(grading: Grading | RuleGrading, lang: str = "en") -> pl.DataFrame:
    """Per tier: customers, the tier's playbook and the action per risk band
    (a grading by the rule ladder has no risk bands)."""
    if isinstance(grading, RuleGrading):
        return grading.playbook_table()
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


def graded_table(
    grading: Grading | RuleGrading, previous: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The graded customer table of a period: id, tier, risk band, status,
    action, previous tier and scores, one row per customer (for a grading by
    the rule ladder: the ladder level instead of risk band and scores)."""
    if isinstance(grading, RuleGrading):
        return grading.graded_table(previous)
    c = grading.customers
    score_columns = [
        col
        for col in (
            "clv",
            "clv_revenue",
            "margin",
            "p_alive",
            "churn_probability",
            "p_active",
            "p_no_purchase",
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
    return _with_previous(table, previous).sort("customer_id")


def _with_previous(table: pl.DataFrame, previous: pl.DataFrame | None) -> pl.DataFrame:
    """``table`` with each customer's tier of the previous period (null for
    new customers, or for all when there is no previous period)."""
    if previous is None:
        return table.with_columns(
            pl.lit(None, dtype=pl.String).alias("previous_tier"),
            pl.lit(None, dtype=pl.Int64).alias("previous_tier_rank"),
        )
    return table.join(
        previous.select(
            "customer_id",
            pl.col("tier").alias("previous_tier"),
            pl.col("tier_rank").cast(pl.Int64).alias("previous_tier_rank"),
        ),
        on="customer_id",
        how="left",
    )


def headline(
    grading: Grading, backtest: BacktestResult | None, migration: Migration | None
) -> dict[str, Any]:
    """The run's headline numbers for summary.json. Graded on expected
    purchases (a count-only log), the totals and shares are of expected
    purchases (``expected_purchases_total``,
    ``top_tier_share_expected_purchases``) and ``predicted_clv_total`` is
    None."""
    table = grading.tier_table()
    measure = grading.measure
    head: dict[str, Any] = {
        "customers": grading.customers.height,
        "graded_on": grading.graded_on,
        "predicted_clv_total": (
            float(grading.customers["clv"].sum()) if measure == "clv" else None
        ),
        "top_tier_share_customers": float(table["share_customers"][0]),
        f"top_tier_share_{measure}": float(table[f"share_{measure}"][0]),
        "status_counts": dict(grading.status_counts().rows()),
    }
    if measure != "clv":
        head["expected_purchases_total"] = float(grading.customers["expected_purchases"].sum())
    if backtest is not None:
        rows = {r["ranking"]: r for r in backtest.rankings.iter_rows(named=True)}
        head["backtest"] = {
            k: {m: rows[k][m] for m in ("capture", "missed", "wrongly_promoted", "spearman")}
            for k in rows
        }
        head["backtest"]["tiers_out_of_order"] = list(backtest.rank_violations)
        head["backtest_comparisons"] = backtest.comparisons.to_dicts()
    if migration is not None:
        head["migration"] = migration.counts()
    return head
