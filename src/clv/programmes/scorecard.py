"""The B2B scorecard (顾客分级制指导): accounts graded A-E per criterion, combined.

A scorecard (``src/clv/schemes/b2b_parts_supplier.toml``, or a user's TOML)
lists criteria, each reading one field of an accounts table (one row per
account and year):

- ``numeric`` criteria grade a number by lower bounds, best grade first: a
  value reaches a bound when it is at or above it, or strictly above it where
  ``strict`` says so (``strict`` is one flag for every bound or one flag per
  bound: "A: margin above 15 %" is strict, "C: 5 %-10 %" is not); an optional
  ``require`` table asks for a second field to reach a minimum for the better
  grades (a profit grade also needs a share of profitable products);
- ``class`` criteria map a recorded class to its grade.

The overall grade combines the criteria by a rule: ``lead`` (the grade of the
criterion named by ``lead``), ``weighted`` (points A=5 to E=1, weighted mean,
rounded to the nearest grade, halves to the worse), ``worst_of``, or
``at_least`` (grade X needs at least ``k`` criteria at X or better). Each
grade carries its plan (visits per year, delivery target, actions).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from clv.programmes._rules import read_rules
from clv.tiers import (
    SchemeError,
    _choice,
    _describe,
    _number,
    _numbers,
    _suggest,
    _table,
    _tables,
    _text,
    _unknown,
    _whole,
)

__all__ = ["GRADES", "Scorecard", "ScorecardError", "grade_accounts", "load_scorecard"]

GRADES = ("A", "B", "C", "D", "E")
_RULES = ("lead", "weighted", "worst_of", "at_least")


class ScorecardError(ValueError):
    """Account rows that cannot be graded, each problem naming account and field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"accounts table: {len(problems)} problem(s)\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


@dataclass(frozen=True)
class Criterion:
    id: str
    field: str
    zh: str
    en: str
    weight: float
    kind: str  # numeric | class
    bounds: tuple[float, ...] = ()
    strict: tuple[bool, ...] = (False, False, False, False)
    classes: dict[str, str] = field(default_factory=dict)
    require_field: str | None = None
    require: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Scorecard:
    """A validated scorecard."""

    id: str
    name_zh: str
    name_en: str
    rule: str
    k: int
    criteria: tuple[Criterion, ...]
    plans: dict[str, dict[str, Any]]
    lead: str = ""


_TOP_KEYS = {"id", "name_zh", "name_en", "combine", "criteria", "plans"}
_CRITERION_KEYS = {
    "id",
    "field",
    "zh",
    "en",
    "weight",
    "kind",
    "strict",
    "bounds",
    "classes",
    "require",
}
_PLAN_KEYS = {"visits_per_year", "delivery_target", "actions_en", "actions_zh"}


def load_scorecard(scorecard: str | Path = "b2b_parts_supplier") -> Scorecard:
    """Load and validate a scorecard: a packaged name or a TOML path.

    Raises
    ------
    SchemeError
        Listing every mistake of the file with its key path
        (``criteria[0].bounds[2]``, ``plans.C.delivery_target``): unknown keys,
        wrong types (booleans are not numbers), ``nan`` or ``inf``, weights
        <= 0, bounds that do not fall, grades other than A-E, repeated ids, a
        ``lead`` that names no criterion.
    """
    raw, source = read_rules(scorecard, "scorecard")
    problems: list[str] = []
    _unknown(raw, _TOP_KEYS, "", problems)
    card_id = _text(raw, "id", "", problems)
    name_zh = _text(raw, "name_zh", "", problems, default="")
    name_en = _text(raw, "name_en", "", problems, default="")
    combine = _table(raw, "combine", "", problems) or {}
    _unknown(combine, {"rule", "k", "lead"}, "combine", problems)
    rule = _choice(combine, "rule", "combine", _RULES, problems, default="weighted")
    k = _whole(combine, "k", "combine", problems, default=1, low=1)
    lead = _text(combine, "lead", "combine", problems, default="")
    criteria = []
    entries = _tables(
        raw, "criteria", "", problems, need="the scorecard needs at least one [[criteria]]"
    )
    for where, c in entries:
        _unknown(c, _CRITERION_KEYS, where, problems)
        kind = _choice(c, "kind", where, ("numeric", "class"), problems)
        texts = {key: _text(c, key, where, problems) for key in ("id", "field", "zh", "en")}
        weight = _number(c, "weight", where, problems, default=1.0, low=0, low_open=True)
        strict = _strictness(c, where, problems)
        if not kind:
            continue
        bounds: tuple[float, ...] = ()
        classes: dict[str, str] = {}
        require_field = None
        require: dict[str, float] = {}
        other = ("classes",) if kind == "numeric" else ("bounds", "require", "strict")
        for key in other:
            if key in c:
                problems.append(
                    f"{where}.{key} is not used by {kind} criteria; remove it or change kind"
                )
        if kind == "numeric":
            values = _numbers(
                c, "bounds", where, problems, what="4 numbers falling from grade A to D"
            )
            if values is not None:
                bounds = tuple(values)
                if len(bounds) != len(GRADES) - 1 or any(
                    not a > b for a, b in itertools.pairwise(bounds)
                ):
                    problems.append(
                        f"{where}.bounds must be 4 numbers falling from grade A to D, got "
                        f"{list(values)}"
                    )
            needs = _table(c, "require", where, problems)
            if needs is not None:
                at = f"{where}.require"
                _unknown(needs, {"field", *GRADES[:-1]}, at, problems)
                require_field = _text(needs, "field", at, problems)
                for grade in GRADES[:-1]:
                    if grade in needs:
                        require[grade] = _number(needs, grade, at, problems)
        else:
            table = _table(
                c, "classes", where, problems, need="map each recorded class to a grade A-E"
            )
            if table is not None and not table:
                problems.append(f"{where}.classes is empty; map each recorded class to a grade A-E")
            for name in table or {}:
                classes[name] = _choice(table, name, f"{where}.classes", GRADES, problems)
        criteria.append(
            Criterion(
                id=texts["id"],
                field=texts["field"],
                zh=texts["zh"],
                en=texts["en"],
                weight=weight,
                kind=kind,
                bounds=bounds,
                strict=strict,
                classes=classes,
                require_field=require_field,
                require=require,
            )
        )
    ids = [c.get("id") for _, c in entries]
    repeated = sorted({i for i in ids if isinstance(i, str) and ids.count(i) > 1})
    if repeated:
        problems.append(f"criteria ids repeat: {repeated}; give each criterion its own id")
    known = [c.id for c in criteria]
    if rule == "lead" and lead not in known:
        problems.append(
            f"combine.lead {lead!r} is not a criterion id {known}{_suggest(lead, known)}; "
            "rule 'lead' grades each account by the criterion it names"
        )
    if entries and k > len(entries):
        problems.append(
            f"combine.k = {k} is more than the {len(entries)} criteria; give k <= {len(entries)}"
        )
    plans = _table(
        raw, "plans", "", problems, need="give a plan per grade: [plans.A] ... [plans.E]"
    )
    if plans is not None:
        for grade in sorted(set(plans) - set(GRADES)):
            problems.append(
                f"plans.{grade} is not a grade{_suggest(grade, GRADES)}; plans are for grades A-E"
            )
        missing_plans = [g for g in GRADES if g not in plans]
        if missing_plans:
            problems.append(f"plans for grades {missing_plans} are missing")
        for grade in GRADES:
            plan = _table(plans, grade, "plans", problems)
            if plan is None:
                continue
            at = f"plans.{grade}"
            _unknown(plan, _PLAN_KEYS, at, problems)
            _whole(plan, "visits_per_year", at, problems, low=0)
            _number(plan, "delivery_target", at, problems, low=0, high=1, noun="a share")
            _text(plan, "actions_en", at, problems)
            _text(plan, "actions_zh", at, problems)
    if problems:
        raise SchemeError(problems, source, "scorecard")
    return Scorecard(
        id=card_id,
        name_zh=name_zh,
        name_en=name_en,
        rule=rule,
        k=k,
        criteria=tuple(criteria),
        plans=plans,
        lead=lead,
    )


def _strictness(c: dict, where: str, problems: list[str]) -> tuple[bool, ...]:
    """``strict``: one flag for the 4 bounds, or an array of 4 flags."""
    value = c.get("strict", False)
    if isinstance(value, bool):
        return (value,) * (len(GRADES) - 1)
    if (
        isinstance(value, list)
        and len(value) == len(GRADES) - 1
        and all(isinstance(v, bool) for v in value)
    ):
        return tuple(value)
    problems.append(
        f"{where}.strict must be true or false, or an array of 4 of them (one per bound, "
        f"grade A to D), got {_describe(value)}"
    )
    return (False,) * (len(GRADES) - 1)


def _numeric_grade(criterion: Criterion, value: float, required: float | None) -> int:
    for index, bound in enumerate(criterion.bounds):
        above = value > bound if criterion.strict[index] else value >= bound
        grade = GRADES[index]
        if above and (required is None or required >= criterion.require.get(grade, -math.inf)):
            return index
    return len(GRADES) - 1


def grade_accounts(
    accounts: pl.DataFrame, scorecard: Scorecard | str | Path = "b2b_parts_supplier"
) -> pl.DataFrame:
    """Grade every account (one row per account and year) on each criterion and
    overall, with the plan of its overall grade.

    ``accounts`` needs an ``account`` column and the fields the criteria read.
    Each criterion is graded on its whole column at once, and so is the
    overall rule.

    Raises
    ------
    ScorecardError
        Naming the account and field of every bad value (in the order of the
        rows, then of the criteria), and the columns that are missing.
    """
    if not isinstance(scorecard, Scorecard):
        scorecard = load_scorecard(scorecard)
    needed = (
        {"account"}
        | {c.field for c in scorecard.criteria}
        | {c.require_field for c in scorecard.criteria if c.require_field}
    )
    missing = sorted(needed - set(accounts.columns))
    if missing:
        raise ScorecardError([f"columns {missing} are missing; the table has {accounts.columns}"])
    problems: list[tuple[int, int, str]] = []  # (row, criterion, message)
    accounts_list: list | None = None
    columns: list[np.ndarray] = []
    for position, c in enumerate(scorecard.criteria):
        column = accounts[c.field]
        if c.kind == "class":
            known = {name: GRADES.index(grade) for name, grade in c.classes.items()}
            codes = column.replace_strict(known, default=None, return_dtype=pl.Int64)
            bad = np.flatnonzero(codes.is_null().to_numpy())
            values = column.to_list() if bad.size else []
            if bad.size and accounts_list is None:
                accounts_list = accounts["account"].to_list()
            for row in bad:
                problems.append(
                    (
                        int(row),
                        position,
                        f"account {accounts_list[row]!r}, field {c.field!r}: "
                        f"{values[row]!r} is not one of {sorted(c.classes)}",
                    )
                )
            columns.append(codes.fill_null(len(GRADES) - 1).to_numpy().astype(np.int64))
            continue
        value, bad = _as_numbers(column, nan_is_bad=True)
        required = None
        if c.require_field:
            required, bad_required = _as_numbers(accounts[c.require_field], nan_is_bad=False)
            bad = bad | bad_required
        grade = np.full(accounts.height, len(GRADES) - 1, dtype=np.int64)
        for index in reversed(range(len(c.bounds))):
            bound = c.bounds[index]
            above = value > bound if c.strict[index] else value >= bound
            if required is not None:
                above &= required >= c.require.get(GRADES[index], -math.inf)
            grade[above] = index
        grade[bad] = len(GRADES) - 1
        rows = np.flatnonzero(bad)
        if rows.size:
            if accounts_list is None:
                accounts_list = accounts["account"].to_list()
            raw = column.to_list()
            also = f" or {c.require_field!r}" if c.require_field else ""
            for row in rows:
                problems.append(
                    (
                        int(row),
                        position,
                        f"account {accounts_list[row]!r}, field {c.field!r}{also}: "
                        f"{raw[row]!r} is not a number",
                    )
                )
        columns.append(grade)
    if problems:
        raise ScorecardError([message for _, _, message in sorted(problems)])
    matrix = (
        np.column_stack(columns) if columns else np.zeros((accounts.height, 0), dtype=np.int64)
    )  # accounts x criteria
    worst = len(GRADES) - 1
    if scorecard.rule == "lead":
        lead = [c.id for c in scorecard.criteria].index(scorecard.lead)
        overall = matrix[:, lead]
    elif scorecard.rule == "worst_of":
        overall = matrix.max(axis=1)
    elif scorecard.rule == "at_least":
        # the best grade g with at least k criteria at g or better
        overall = np.full(accounts.height, worst, dtype=np.int64)
        for g in reversed(range(len(GRADES))):
            overall[(matrix <= g).sum(axis=1) >= scorecard.k] = g
    else:
        weights = np.array([c.weight for c in scorecard.criteria])
        points = (len(GRADES) - matrix) @ weights / weights.sum()  # A = 5 ... E = 1
        # nearest grade, halves to the worse one
        overall = np.floor(len(GRADES) - points + 0.5).astype(int)
    letters = pl.Series(GRADES)
    result = accounts.select(
        "account", *[c for c in ("year",) if c in accounts.columns]
    ).with_columns(
        *[
            letters.gather(columns[i]).alias(f"grade_{c.id}")
            for i, c in enumerate(scorecard.criteria)
        ],
        letters.gather(np.asarray(overall, dtype=np.int64)).alias("grade"),
    )
    plans = pl.DataFrame([{"grade": g, **scorecard.plans[g]} for g in GRADES])
    return result.join(plans, on="grade", how="left", maintain_order="left")


def _as_numbers(column: pl.Series, *, nan_is_bad: bool) -> tuple[np.ndarray, np.ndarray]:
    """A column as floats and the rows that are not numbers (missing, text, and
    NaN where ``nan_is_bad``); booleans count as the numbers 1 and 0."""
    if not (column.dtype.is_numeric() or column.dtype == pl.Boolean):
        return np.full(column.len(), np.nan), np.ones(column.len(), dtype=bool)
    values = column.cast(pl.Float64).to_numpy()
    bad = column.is_null().to_numpy()
    if nan_is_bad:
        bad = bad | np.isnan(values)
    return values, bad


def _grade_accounts_reference(
    accounts: pl.DataFrame, scorecard: Scorecard | str | Path = "b2b_parts_supplier"
) -> pl.DataFrame:
    """:func:`grade_accounts` one account and one criterion at a time; kept to
    check the vectorised grading on random accounts."""
    if not isinstance(scorecard, Scorecard):
        scorecard = load_scorecard(scorecard)
    needed = (
        {"account"}
        | {c.field for c in scorecard.criteria}
        | {c.require_field for c in scorecard.criteria if c.require_field}
    )
    missing = sorted(needed - set(accounts.columns))
    if missing:
        raise ScorecardError([f"columns {missing} are missing; the table has {accounts.columns}"])
    problems: list[str] = []
    grades: dict[str, list[int]] = {c.id: [] for c in scorecard.criteria}
    for row in accounts.iter_rows(named=True):
        account = row["account"]
        for c in scorecard.criteria:
            value = row[c.field]
            if c.kind == "class":
                if value not in c.classes:
                    problems.append(
                        f"account {account!r}, field {c.field!r}: {value!r} is not one of "
                        f"{sorted(c.classes)}"
                    )
                    grades[c.id].append(len(GRADES) - 1)
                    continue
                grades[c.id].append(GRADES.index(c.classes[value]))
                continue
            required = row[c.require_field] if c.require_field else None
            if (
                not isinstance(value, int | float)
                or value != value
                or (c.require_field and not isinstance(required, int | float))
            ):
                problems.append(
                    f"account {account!r}, field {c.field!r}"
                    + (f" or {c.require_field!r}" if c.require_field else "")
                    + f": {value!r} is not a number"
                )
                grades[c.id].append(len(GRADES) - 1)
                continue
            grades[c.id].append(_numeric_grade(c, float(value), required))
    if problems:
        raise ScorecardError(problems)
    matrix = np.array([grades[c.id] for c in scorecard.criteria]).T  # accounts x criteria
    if scorecard.rule == "lead":
        lead = [c.id for c in scorecard.criteria].index(scorecard.lead)
        overall = matrix[:, lead]
    elif scorecard.rule == "worst_of":
        overall = matrix.max(axis=1)
    elif scorecard.rule == "at_least":
        overall = np.array(
            [
                next(
                    (g for g in range(len(GRADES)) if np.sum(r <= g) >= scorecard.k),
                    len(GRADES) - 1,
                )
                for r in matrix
            ]
        )
    else:
        weights = np.array([c.weight for c in scorecard.criteria])
        points = (len(GRADES) - matrix) @ weights / weights.sum()  # A = 5 ... E = 1
        # nearest grade, halves to the worse one
        overall = np.floor(len(GRADES) - points + 0.5).astype(int)
    overall_grades = [GRADES[i] for i in overall]
    result = accounts.select(
        "account", *[c for c in ("year",) if c in accounts.columns]
    ).with_columns(
        *[
            pl.Series(f"grade_{c.id}", [GRADES[i] for i in grades[c.id]])
            for c in scorecard.criteria
        ],
        pl.Series("grade", overall_grades),
    )
    plans = pl.DataFrame([{"grade": g, **scorecard.plans[g]} for g in GRADES])
    return result.join(plans, on="grade", how="left", maintain_order="left")
