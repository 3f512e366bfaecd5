"""The B2B scorecard (顾客分级制指导): accounts graded A-E per criterion, combined.

A scorecard (``src/clv/schemes/b2b_parts_supplier.toml``, or a user's TOML)
lists criteria, each reading one field of an accounts table (one row per
account and year):

- ``numeric`` criteria grade a number by lower bounds, best grade first
  (``strict``: the value must lie above the bound, as in "A: sales above 10M
  yuan"); an optional ``require`` table asks for a second field to reach a
  minimum for the better grades (a profit grade also needs a share of
  profitable products);
- ``class`` criteria map a recorded class to its grade.

The overall grade combines the criteria by a rule: ``weighted`` (points A=5
to E=1, weighted mean, rounded to the nearest grade, halves to the worse),
``worst_of``, or ``at_least`` (grade X needs at least ``k`` criteria at X or
better). Each grade carries its plan (visits per year, delivery target,
actions).
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
from clv.tiers import SchemeError

__all__ = ["GRADES", "Scorecard", "ScorecardError", "grade_accounts", "load_scorecard"]

GRADES = ("A", "B", "C", "D", "E")
_RULES = ("weighted", "worst_of", "at_least")


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
    strict: bool = False
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


def load_scorecard(scorecard: str | Path = "b2b_parts_supplier") -> Scorecard:
    """Load and validate a scorecard: a packaged name or a TOML path."""
    raw, source = read_rules(scorecard, "scorecard")
    problems: list[str] = []
    for key in sorted(set(raw) - {"id", "name_zh", "name_en", "combine", "criteria", "plans"}):
        problems.append(f"unknown key {key!r}")
    combine = raw.get("combine", {})
    rule = combine.get("rule", "weighted")
    if rule not in _RULES:
        problems.append(f"combine.rule {rule!r} is unknown; use one of {', '.join(_RULES)}")
    criteria = []
    for i, c in enumerate(raw.get("criteria", [])):
        where = f"criteria[{i}]"
        kind = c.get("kind")
        if kind not in ("numeric", "class"):
            problems.append(f"{where}.kind {kind!r}; use 'numeric' or 'class'")
            continue
        for key in ("id", "field", "zh", "en"):
            if not isinstance(c.get(key), str) or not c[key]:
                problems.append(f"{where}.{key} is missing")
        bounds = tuple(c.get("bounds", ()))
        if kind == "numeric" and (
            len(bounds) != len(GRADES) - 1 or any(not a > b for a, b in itertools.pairwise(bounds))
        ):
            problems.append(f"{where}.bounds must be 4 numbers falling from grade A to D")
        classes = dict(c.get("classes", {}))
        bad = sorted(g for g in classes.values() if g not in GRADES)
        if kind == "class" and (not classes or bad):
            problems.append(f"{where}.classes must map classes to grades A-E (bad: {bad})")
        require = dict(c.get("require", {}))
        require_field = require.pop("field", None)
        criteria.append(
            Criterion(
                id=c.get("id", ""),
                field=c.get("field", ""),
                zh=c.get("zh", ""),
                en=c.get("en", ""),
                weight=float(c.get("weight", 1.0)),
                kind=kind,
                bounds=bounds,
                strict=bool(c.get("strict", False)),
                classes=classes,
                require_field=require_field,
                require={g: float(v) for g, v in require.items()},
            )
        )
    if not criteria:
        problems.append("the scorecard needs at least one [[criteria]]")
    plans = raw.get("plans", {})
    missing_plans = [g for g in GRADES if g not in plans]
    if missing_plans:
        problems.append(f"plans for grades {missing_plans} are missing")
    if problems:
        raise SchemeError(problems, source)
    return Scorecard(
        id=raw.get("id", ""),
        name_zh=raw.get("name_zh", ""),
        name_en=raw.get("name_en", ""),
        rule=rule,
        k=int(combine.get("k", 1)),
        criteria=tuple(criteria),
        plans=plans,
    )


def _numeric_grade(criterion: Criterion, value: float, required: float | None) -> int:
    for index, bound in enumerate(criterion.bounds):
        above = value > bound if criterion.strict else value >= bound
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
    Raises :class:`ScorecardError` naming the account and field of every bad
    value, and the columns that are missing.
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
    if scorecard.rule == "worst_of":
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
