"""Tier schemes and thresholds grounded in predicted value.

A tier scheme (TOML, see ``src/clv/schemes/five_card.toml``) lists ordered
tiers with Chinese and English names and a playbook each, says how thresholds
are grounded, and defines churn-risk bands with their actions. :func:`grade`
cuts the thresholds on a score column (predicted CLV by default) and assigns
every customer a tier, a risk band, a status and an action.

Grounding methods (``[grounding] method``):

``value_share``
    The Pareto view: sorted by score, the smallest group of customers holding
    ``shares[0]`` of the total score is the top tier, the next group holding
    ``shares[1]`` the second, and so on.
``quantile``
    Fixed shares of customers: ``shares[0]`` of customers (the highest
    scores) in the top tier, and so on.
``natural_breaks``
    Fisher-Jenks natural breaks of the score (optionally of ``log1p(score)``,
    ``transform = "log1p"``), computed by ``jenkspy`` on a seeded sample of at
    most ``max_sample`` customers, since the exact algorithm is quadratic.
``fixed``
    Thresholds given by the business (``thresholds``, lower bounds of each
    tier but the last, top first): the hand-set rules ("spend >= X is Gold"),
    on any score column, e.g. ``score = "revenue"``.

A customer whose score equals a threshold belongs to the higher tier.

Count-only logs (no amounts, so no ``clv`` column in the scores) are graded on
``expected_purchases`` over the horizon: :func:`grade` takes the column to
grade on as ``value=`` (by default the scheme's score, ``clv``, when the
scores have it, else ``expected_purchases``), and the tier table and the value
x risk grid then report shares and sums of expected purchases instead of
predicted value. :attr:`Grading.graded_on` records the column graded on.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import tomllib
from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from clv.rfm import DAYS_PER_UNIT

__all__ = [
    "METHODS",
    "Grading",
    "RiskBand",
    "Scheme",
    "SchemeError",
    "Stability",
    "ThresholdMove",
    "Tier",
    "assign_ranks",
    "available_schemes",
    "grade",
    "ground_thresholds",
    "load_scheme",
]

METHODS = ("value_share", "quantile", "natural_breaks", "fixed")
Lang = Literal["en", "zh"]


class SchemeError(ValueError):
    """A tier scheme (or a programme's rules file: ``what`` names which) that
    cannot be used, with every mistake found listed."""

    def __init__(self, problems: list[str], source: str, what: str = "tier scheme") -> None:
        self.problems = problems
        self.source = source
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{what} {source}: {len(problems)} problem(s)\n{lines}")


class _Bilingual:
    """Name and playbook in English or Chinese."""

    zh: str
    en: str
    playbook_en: str
    playbook_zh: str

    def name(self, lang: Lang = "en") -> str:
        return self.zh if lang == "zh" else self.en

    def playbook(self, lang: Lang = "en") -> str:
        return self.playbook_zh if lang == "zh" else self.playbook_en


@dataclass(frozen=True)
class Tier(_Bilingual):
    id: str
    rank: int
    zh: str
    en: str
    playbook_en: str
    playbook_zh: str


@dataclass(frozen=True)
class RiskBand(_Bilingual):
    id: str
    zh: str
    en: str
    upper: float  # churn probability up to and including this value
    playbook_en: str
    playbook_zh: str


@dataclass(frozen=True)
class Scheme:
    """A validated tier scheme."""

    id: str
    name_zh: str
    name_en: str
    score: str
    method: str
    settings: dict[str, Any]
    tiers: tuple[Tier, ...]
    risk_score: str
    bands: tuple[RiskBand, ...]
    actions: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    provisional_days: float = 0.0
    source: str = ""

    def name(self, lang: Lang = "en") -> str:
        return self.name_zh if lang == "zh" else self.name_en

    def action(self, tier: str, band: str, lang: Lang = "en") -> str:
        """The action for a (tier, risk band) cell: an override from the scheme,
        else the tier's playbook for the first (healthiest) band and the band's
        playbook for the others."""
        if (tier, band) in self.actions:
            en, zh = self.actions[(tier, band)]
            return zh if lang == "zh" else en
        if band == self.bands[0].id:
            return next(t for t in self.tiers if t.id == tier).playbook(lang)
        return next(b for b in self.bands if b.id == band).playbook(lang)

    def with_grounding(self, method: str, **settings: Any) -> Scheme:
        """The same scheme grounded another way (validated like a file)."""
        raw = _scheme_to_raw(self)
        raw["grounding"] = {"method": method, **settings}
        return _parse(raw, f"{self.source} (method={method})")


# ---------------------------------------------------------------------------
# loading and validation

_TOP_KEYS = {
    "id",
    "name_zh",
    "name_en",
    "score",
    "grounding",
    "tiers",
    "risk",
    "actions",
    "statuses",
}
_TIER_KEYS = {"id", "rank", "zh", "en", "playbook_en", "playbook_zh"}
_BAND_KEYS = {"id", "zh", "en", "upper", "playbook_en", "playbook_zh"}
_ACTION_KEYS = {"tier", "band", "en", "zh"}
_GROUNDING_KEYS = {
    "value_share": {"method", "shares"},
    "quantile": {"method", "shares"},
    "natural_breaks": {"method", "transform", "max_sample", "seed"},
    "fixed": {"method", "thresholds"},
}


def available_schemes() -> list[str]:
    """Names of the packaged tier schemes (the TOML files with a ``[grounding]``;
    the folder also holds the rule-based programmes' files)."""
    folder = resources.files("clv.schemes")
    return sorted(
        p.name[:-5]
        for p in folder.iterdir()
        if p.name.endswith(".toml") and "grounding" in tomllib.loads(p.read_text("utf-8"))
    )


def load_scheme(scheme: str | Path = "five_card") -> Scheme:
    """Load and validate a tier scheme: a packaged name (see
    :func:`available_schemes`) or the path of a TOML file.

    Every value is checked for its type and range (no ``nan`` or ``inf``, no
    booleans for numbers, shares within (0, 1] summing to 1, whole days, ...)
    and every key against the keys its table allows.

    Raises
    ------
    SchemeError
        Listing every mistake with the key path it concerns (``tiers[2].en``,
        ``grounding.shares[1]``) and what to do.
    """
    path = Path(scheme)
    if path.suffix != ".toml" and str(scheme) in available_schemes():
        text = resources.files("clv.schemes").joinpath(f"{scheme}.toml").read_text("utf-8")
        source = f"{scheme} (packaged)"
    elif path.is_file():
        text = path.read_text(encoding="utf-8")
        source = str(path)
    else:
        raise SchemeError(
            [
                f"no packaged scheme or file called {str(scheme)!r}; packaged schemes: "
                f"{', '.join(available_schemes())}"
            ],
            str(scheme),
        )
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SchemeError([f"is not valid TOML: {exc}"], source) from None
    return _parse(raw, source)


# Helpers shared by every TOML loader of the package (tier schemes here, the
# programmes' ladders, points rules and scorecards): each checks one value,
# appends a sentence naming the key path and what to do to ``problems``, and
# returns a usable stand-in so that checking goes on and every mistake of a
# file is reported at once.

_REQUIRED: Any = object()


def _at(where: str, key: str) -> str:
    """The key path of ``key`` inside the table at ``where`` ("" = the top)."""
    return f"{where}.{key}" if where else key


def _describe(value: object) -> str:
    """A TOML value as a reader of the file would recognise it."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return f"{value!r} (text)"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array" if value else "an empty array"
    return f"{value} ({type(value).__name__})"


def _suggest(word: object, options: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest option, or ''."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _limits(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high:g}"
    return ""


def _check_number(
    value: object,
    path: str,
    problems: list[str],
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    whole: bool = False,
    noun: str | None = None,
) -> float | None:
    """``value`` as a float if it is a finite number within the limits (a whole
    one if ``whole``), else None with the problem recorded. Booleans are not
    numbers here, though Python counts them as ints."""
    noun = noun or ("a whole number" if whole else "a number")
    wanted = f"{noun}{_limits(low, high, low_open, high_open)}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(f"{path} must be {wanted}, got {_describe(value)}")
        return None
    if not math.isfinite(value):
        problems.append(
            f"{path} must be {wanted}, got {_describe(value)}; nan and inf are not allowed"
        )
        return None
    if whole and not float(value).is_integer():
        problems.append(f"{path} must be {wanted}, got {value!r}; give a whole number")
        return None
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        problems.append(f"{path} must be {wanted}, got {value!r}")
        return None
    return float(value)


def _number(
    table: dict, key: str, where: str, problems: list[str], *, default: Any = _REQUIRED, **limits
) -> float:
    """The number at ``table[key]`` (see :func:`_check_number` for ``limits``);
    ``default`` when the key is absent and optional; NaN after a problem."""
    if key not in table:
        if default is not _REQUIRED:
            return default
        noun = limits.get("noun") or ("a whole number" if limits.get("whole") else "a number")
        problems.append(f"{_at(where, key)} is missing; give it as {noun}")
        return math.nan
    value = _check_number(table[key], _at(where, key), problems, **limits)
    return math.nan if value is None else value


def _whole(
    table: dict, key: str, where: str, problems: list[str], *, default: Any = _REQUIRED, **limits
) -> int:
    """A whole number (``30`` or ``30.0``, not ``30.5``, ``inf`` or ``true``);
    ``default`` when absent and optional; -1 after a problem."""
    value = _number(table, key, where, problems, default=default, whole=True, **limits)
    return int(value) if isinstance(value, int | float) and math.isfinite(value) else -1


def _numbers(
    table: dict, key: str, where: str, problems: list[str], *, what: str = "", **limits
) -> list[float] | None:
    """A non-empty array of numbers, each checked as ``path[i]``; None after a
    problem with the array itself or any of its values."""
    path = _at(where, key)
    what = what or "numbers"
    value = table.get(key)
    if key not in table:
        problems.append(f"{path} is missing; give an array of {what}")
        return None
    if not isinstance(value, list):
        problems.append(f"{path} must be an array of {what} ([...]), got {_describe(value)}")
        return None
    if not value:
        problems.append(f"{path} is an empty array; give {what}")
        return None
    checked = [_check_number(v, f"{path}[{i}]", problems, **limits) for i, v in enumerate(value)]
    return None if any(v is None for v in checked) else [float(v) for v in checked]


def _text(
    table: dict, key: str, where: str, problems: list[str], *, default: Any = _REQUIRED
) -> str:
    """Non-empty text; ``default`` when absent and optional."""
    path = _at(where, key)
    if key not in table and default is not _REQUIRED:
        return default
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        problems.append(f"{path} must be text in quotes, got {_describe(value)}")
        return ""
    if value is None or not value.strip():
        problems.append(f"{path} is missing or empty; give it as text")
        return ""
    return value


def _flag(table: dict, key: str, where: str, problems: list[str], *, default: bool) -> bool:
    """A TOML boolean (``true`` or ``false``, not 1, 0 or "yes")."""
    value = table.get(key, default)
    if not isinstance(value, bool):
        problems.append(f"{_at(where, key)} must be true or false, got {_describe(value)}")
        return default
    return value


def _choice(
    table: dict,
    key: str,
    where: str,
    choices: Iterable[str],
    problems: list[str],
    *,
    default: Any = _REQUIRED,
) -> str:
    """One of ``choices``; "" after a problem (with the closest choice)."""
    path = _at(where, key)
    choices = list(choices)
    if key not in table and default is not _REQUIRED:
        return default
    value = table.get(key)
    if key not in table:
        problems.append(f"{path} is missing; use one of {', '.join(choices)}")
        return ""
    if not isinstance(value, str):
        problems.append(f"{path} must be text, one of {', '.join(choices)}; got {_describe(value)}")
        return ""
    if value not in choices:
        problems.append(
            f"{path} {value!r} is unknown{_suggest(value, choices)}; "
            f"use one of {', '.join(choices)}"
        )
        return ""
    return value


def _table(
    table: dict, key: str, where: str, problems: list[str], *, need: str = ""
) -> dict | None:
    """The sub-table ``[key]``; None if absent (a problem when ``need`` says
    what it must hold) or not a table."""
    path = _at(where, key)
    if key not in table:
        if need:
            problems.append(f"{path} is missing; {need}")
        return None
    value = table[key]
    if not isinstance(value, dict):
        extra = " (write [[...]] only for a list of tables)" if isinstance(value, list) else ""
        problems.append(f"{path} must be a table ([{path}]), got {_describe(value)}{extra}")
        return None
    return value


def _tables(
    table: dict, key: str, where: str, problems: list[str], *, need: str, at_least: int = 1
) -> list[tuple[str, dict]]:
    """The array of tables ``[[key]]`` as (path of each entry, entry); an
    absent key is a problem when ``at_least`` > 0. ``need`` says what to give."""
    path = _at(where, key)
    if key not in table:
        if at_least:
            problems.append(f"{path} is missing; {need}")
        return []
    value = table[key]
    if not isinstance(value, list):
        problems.append(
            f"{path} must be an array of tables, one [[{path}]] each, got {_describe(value)}; "
            f"{need}"
        )
        return []
    if len(value) < at_least:
        problems.append(f"{path} has {len(value)} entries; {need}")
    entries = []
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            problems.append(
                f"{path}[{i}] must be a table (a [[{path}]] block), got {_describe(entry)}"
            )
            continue
        entries.append((f"{path}[{i}]", entry))
    return entries


def _unknown(table: dict, allowed: set[str], where: str, problems: list[str]) -> None:
    head = f"{where}: " if where else ""
    for key in sorted(set(table) - allowed):
        problems.append(
            f"{head}unknown key {key!r}{_suggest(key, allowed)}; allowed keys are {sorted(allowed)}"
        )


def _repeats(ids: list[str], what: str, problems: list[str]) -> None:
    """Ids given to more than one entry."""
    repeated = sorted({i for i in ids if i and ids.count(i) > 1})
    if repeated:
        problems.append(f"{what} repeat: {repeated} in {ids}; give each its own id")


def _parse(raw: dict[str, Any], source: str) -> Scheme:
    problems: list[str] = []
    _unknown(raw, _TOP_KEYS, "scheme", problems)
    scheme_id = _text(raw, "id", "scheme", problems)
    name_zh = _text(raw, "name_zh", "scheme", problems)
    name_en = _text(raw, "name_en", "scheme", problems)
    score = _text(raw, "score", "scheme", problems, default="clv")

    tiers: list[Tier] = []
    for where, t in _tables(
        raw,
        "tiers",
        "",
        problems,
        need="the scheme needs at least two [[tiers]], listed from the top tier down",
        at_least=2,
    ):
        _unknown(t, _TIER_KEYS, where, problems)
        tiers.append(
            Tier(
                id=_text(t, "id", where, problems),
                rank=_whole(t, "rank", where, problems, low=1, noun="a whole number (1 = top)"),
                zh=_text(t, "zh", where, problems),
                en=_text(t, "en", where, problems),
                playbook_en=_text(t, "playbook_en", where, problems),
                playbook_zh=_text(t, "playbook_zh", where, problems),
            )
        )
    ranks = [t.rank for t in tiers]
    if tiers and -1 not in ranks and ranks != list(range(1, len(tiers) + 1)):
        problems.append(
            f"tiers are out of order: ranks {ranks} as listed; list tiers from the top "
            f"(rank 1) down to rank {len(tiers)}, one each"
        )
    ids = [t.id for t in tiers]
    if len(set(ids)) != len(ids):
        problems.append(f"tier ids repeat: {ids}; give each tier its own id")

    method = ""
    settings: dict[str, Any] = {}
    grounding = _table(
        raw, "grounding", "", problems, need="the scheme needs a [grounding] table with a method"
    )
    if grounding is not None:
        method = _choice(grounding, "method", "grounding", METHODS, problems)
        if method:
            _unknown(grounding, _GROUNDING_KEYS[method], "grounding", problems)
            settings = {k: v for k, v in grounding.items() if k != "method"}
            _check_grounding(method, settings, len(tiers), problems)

    bands: list[RiskBand] = []
    risk_score = "churn_probability"
    risk = _table(
        raw, "risk", "", problems, need="the scheme needs a [risk] table with [[risk.bands]]"
    )
    if risk is not None:
        _unknown(risk, {"score", "bands"}, "risk", problems)
        risk_score = _text(risk, "score", "risk", problems, default=risk_score)
        for where, b in _tables(
            risk,
            "bands",
            "risk",
            problems,
            need="risk needs at least one [[risk.bands]], the healthiest band first",
        ):
            _unknown(b, _BAND_KEYS, where, problems)
            bands.append(
                RiskBand(
                    id=_text(b, "id", where, problems),
                    zh=_text(b, "zh", where, problems),
                    en=_text(b, "en", where, problems),
                    upper=_number(b, "upper", where, problems, low=0, low_open=True, high=1),
                    playbook_en=_text(b, "playbook_en", where, problems),
                    playbook_zh=_text(b, "playbook_zh", where, problems),
                )
            )
        uppers = [b.upper for b in bands]
        if bands and all(math.isfinite(u) for u in uppers):
            if any(not a < b for a, b in itertools.pairwise(uppers)):
                problems.append(
                    f"risk.bands upper bounds {uppers} must rise strictly within (0, 1]"
                )
            elif uppers[-1] != 1.0:
                problems.append(
                    f"the last risk band ends at {uppers[-1]}; it must end at 1.0 so every "
                    "customer has a band"
                )
        band_ids = [b.id for b in bands]
        if len(set(band_ids)) != len(band_ids):
            problems.append(f"risk band ids repeat: {band_ids}; give each band its own id")

    actions: dict[tuple[str, str], tuple[str, str]] = {}
    band_ids = [b.id for b in bands]
    first_at: dict[tuple[str, str], str] = {}
    for where, a in _tables(
        raw,
        "actions",
        "",
        problems,
        need="give each override as an [[actions]] block with tier, band, en and zh",
        at_least=0,
    ):
        _unknown(a, _ACTION_KEYS, where, problems)
        tier_id = _text(a, "tier", where, problems)
        band_id = _text(a, "band", where, problems)
        if tier_id and tier_id not in ids:
            problems.append(
                f"{where}.tier {tier_id!r} is not one of the tiers {ids}{_suggest(tier_id, ids)}"
            )
        if band_id and band_id not in band_ids:
            problems.append(
                f"{where}.band {band_id!r} is not one of the bands {sorted(band_ids)}"
                f"{_suggest(band_id, band_ids)}"
            )
        cell = (tier_id, band_id)
        if all(cell) and cell in first_at:
            problems.append(
                f"{where} repeats the cell ({tier_id}, {band_id}) of {first_at[cell]}; "
                "keep one action per tier and band"
            )
        first_at.setdefault(cell, where)
        actions[cell] = (_text(a, "en", where, problems), _text(a, "zh", where, problems))

    provisional_days = 0
    statuses = _table(raw, "statuses", "", problems)
    if statuses is not None:
        _unknown(statuses, {"provisional_days"}, "statuses", problems)
        provisional_days = _whole(
            statuses,
            "provisional_days",
            "statuses",
            problems,
            default=0,
            low=0,
            noun="a whole number of days",
        )

    if problems:
        raise SchemeError(problems, source)
    return Scheme(
        id=scheme_id,
        name_zh=name_zh,
        name_en=name_en,
        score=score,
        method=method,
        settings=settings,
        tiers=tuple(tiers),
        risk_score=risk_score,
        bands=tuple(bands),
        actions=actions,
        provisional_days=float(provisional_days),
        source=source,
    )


def _check_grounding(method: str, settings: dict, n_tiers: int, problems: list[str]) -> None:
    if method in ("value_share", "quantile"):
        shares = _numbers(
            settings,
            "shares",
            "grounding",
            problems,
            what="shares, one per tier, top first",
            low=0,
            low_open=True,
            high=1,
            noun="a share",
        )
        if shares is None:
            return
        if len(shares) != n_tiers:
            problems.append(
                f"grounding.shares has {len(shares)} values for {n_tiers} tiers; give one "
                "per tier, top first"
            )
        if abs(sum(shares) - 1.0) > 1e-6:
            problems.append(f"grounding.shares {shares} sum to {sum(shares):g}; they must sum to 1")
    elif method == "fixed":
        thresholds = _numbers(
            settings,
            "thresholds",
            "grounding",
            problems,
            what="thresholds, the lower bound of each tier but the last, top first",
        )
        if thresholds is None:
            return
        if len(thresholds) != n_tiers - 1:
            problems.append(
                f"grounding.thresholds has {len(thresholds)} values for {n_tiers} tiers; give "
                f"{n_tiers - 1}: the lower bound of each tier but the last, top first"
            )
        if any(not a > b for a, b in itertools.pairwise(thresholds)):
            problems.append(
                f"grounding.thresholds {thresholds} must fall strictly from the top tier down"
            )
    elif method == "natural_breaks":
        _choice(settings, "transform", "grounding", ("none", "log1p"), problems, default="none")
        _whole(settings, "max_sample", "grounding", problems, default=5000, low=10)
        _whole(settings, "seed", "grounding", problems, default=0, low=0)


def _scheme_to_raw(scheme: Scheme) -> dict[str, Any]:
    return {
        "id": scheme.id,
        "name_zh": scheme.name_zh,
        "name_en": scheme.name_en,
        "score": scheme.score,
        "grounding": {"method": scheme.method, **scheme.settings},
        "tiers": [t.__dict__.copy() for t in scheme.tiers],
        "risk": {"score": scheme.risk_score, "bands": [b.__dict__.copy() for b in scheme.bands]},
        "actions": [
            {"tier": t, "band": b, "en": en, "zh": zh}
            for (t, b), (en, zh) in scheme.actions.items()
        ],
        "statuses": {"provisional_days": scheme.provisional_days},
    }


# ---------------------------------------------------------------------------
# thresholds


def ground_thresholds(
    values: np.ndarray, method: str, settings: dict[str, Any], n_tiers: int
) -> np.ndarray:
    """Thresholds (lower bounds of tiers 1 .. n-1, top first, non-increasing)
    for a score vector by one grounding method. Pure: no side effects."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        raise ValueError("no customers to grade")
    if method == "fixed":
        return np.asarray(settings["thresholds"], dtype=float)
    if method in ("value_share", "quantile"):
        desc = np.sort(v)[::-1]
        cuts = np.cumsum(settings["shares"])[:-1]
        if method == "value_share":
            if np.any(desc < 0):
                raise ValueError("value_share needs scores >= 0; ground a signed score by quantile")
            total = desc.sum()
            if total <= 0:
                raise ValueError("the scores sum to 0, so no value share can be cut")
            cumulative = np.cumsum(desc) / total
        else:
            cumulative = np.arange(1, desc.size + 1) / desc.size
        # first position where the cumulative share reaches each cut (rounding slack)
        index = np.searchsorted(cumulative, cuts - 1e-12, side="left")
        return desc[np.minimum(index, desc.size - 1)]
    if method == "natural_breaks":
        import jenkspy

        transform = settings.get("transform", "none")
        sample = v
        max_sample = int(settings.get("max_sample", 5000))
        if sample.size > max_sample:
            rng = np.random.default_rng(settings.get("seed", 0))
            sample = rng.choice(sample, size=max_sample, replace=False)
        x = np.log1p(np.maximum(sample, 0)) if transform == "log1p" else sample
        if np.unique(x).size < n_tiers:
            raise ValueError(
                f"natural breaks need at least {n_tiers} distinct scores; use quantile"
            )
        breaks = np.asarray(jenkspy.jenks_breaks(x, n_classes=n_tiers), dtype=float)[1:-1]
        if transform == "log1p":
            breaks = np.expm1(breaks)
        # jenks classes include their upper break; the next tier starts just above it
        return np.nextafter(breaks, np.inf)[::-1]
    raise ValueError(f"unknown grounding method {method!r}")


def assign_ranks(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Tier rank (1 = top) of each score: 1 + the number of thresholds above it.
    A score equal to a threshold belongs to the higher tier."""
    ascending = np.asarray(thresholds, dtype=float)[::-1]
    below = ascending.size - np.searchsorted(ascending, np.asarray(values, float), side="right")
    return (below + 1).astype(np.int64)


# ---------------------------------------------------------------------------
# grading results


@dataclass(frozen=True)
class Stability:
    """Bootstrap stability of a grading's thresholds."""

    n_resamples: int
    alpha: float
    thresholds: np.ndarray  # point estimates
    lower: np.ndarray
    upper: np.ndarray
    unstable_share: float  # customers whose tier changes in >= instability_level of resamples
    instability_level: float
    mean_disagreement: float  # mean share of resamples in which a customer's tier changes
    seed: int

    def table(self, scheme: Scheme, lang: Lang = "en") -> pl.DataFrame:
        level = f"{100 * (1 - self.alpha):g}%"
        return pl.DataFrame(
            {
                "tier": [t.name(lang) for t in scheme.tiers[:-1]],
                "threshold": self.thresholds,
                f"lower {level}": self.lower,
                f"upper {level}": self.upper,
            }
        )


@dataclass(frozen=True)
class ThresholdMove:
    """A threshold whose grounded cut fell inside a block of customers that
    :func:`grade` keeps together, and where the cut went.

    ``tier`` is the tier whose lower bound the threshold is. ``reason`` is
    ``tie_block`` (a block of equal scores), ``indistinguishable_block`` (the
    scores inside a narrow bootstrap interval of the threshold) or
    ``indistinguishable_block_kept`` (such a block that could not be moved
    without crossing or meeting a neighbouring threshold, so it stays split).
    ``side`` says where the block went: ``above`` (into ``tier``), ``below``
    (into the tier under it) or ``split``. Shares are cumulative from the top:
    the share of the grounding's measure (predicted value for ``value_share``,
    customers otherwise) held by customers at or above the threshold; the
    target is None for methods without a share target.
    """

    tier: str
    tier_rank: int
    reason: str
    grounded: float
    final: float
    block_low: float
    block_high: float
    block_customers: int
    side: str
    customers_moved: int
    target_share: float | None
    grounded_share: float
    final_share: float
    interval_low: float | None = None
    interval_high: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return {k: _plain(v) for k, v in self.__dict__.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return float(value) if math.isfinite(value) else None
    return value


_SPARSE_SCHEMA = {
    "tier_rank": pl.Int64,
    "tier": pl.String,
    "tier_name": pl.String,
    "customers": pl.Int64,
    "share": pl.Float64,
    "reason": pl.String,
    "threshold_reason": pl.String,
    "block_low": pl.Float64,
    "block_high": pl.Float64,
    "block_customers": pl.Int64,
    "block_tier": pl.String,
}


@dataclass(frozen=True)
class Grading:
    """The result of grading customers with a scheme.

    ``customers`` has one row per customer: ``customer_id``, ``tier`` (id),
    ``tier_rank`` (1 = top), ``tier_name`` (in ``lang``), ``risk_band``,
    ``status`` (``graded``, ``provisional``, ``one_time`` or ``lost``),
    ``action`` and the score columns.

    ``thresholds`` are the cuts used; ``grounded_thresholds`` those the
    grounding gave before blocks of equal (or indistinguishable) scores were
    kept together, and ``threshold_moves`` records each threshold that fell
    inside such a block (see :func:`grade`). A tier is sparse when it holds
    fewer than ``min_tier_customers`` customers or less than
    ``min_tier_share`` of them (see :meth:`sparse_tiers`).
    """

    scheme: Scheme
    thresholds: np.ndarray
    customers: pl.DataFrame
    lang: Lang = "en"
    stability: Stability | None = None
    notes: tuple[str, ...] = ()
    grounded_thresholds: np.ndarray | None = None
    threshold_moves: tuple[ThresholdMove, ...] = ()
    min_tier_customers: int = 5
    min_tier_share: float = 0.01
    indistinct_within: float | None = None
    graded_on: str = "clv"

    @property
    def measure(self) -> str:
        """The column the tier table and the grid sum up: ``clv`` when the
        customers have predicted values, else ``expected_purchases`` (a
        count-only log)."""
        return "clv" if "clv" in self.customers.columns else "expected_purchases"

    def sparse_tiers(self) -> pl.DataFrame:
        """One row per tier with no customers or too few (fewer than
        ``min_tier_customers``, or a share of customers below
        ``min_tier_share``), with why.

        ``reason`` is ``empty_after_ties`` / ``sparse_after_ties`` when a
        threshold bounding the tier sits at the edge of a block of equal
        scores, ``empty_after_indistinguishable`` /
        ``sparse_after_indistinguishable`` when it sits at the edge of a block
        of scores indistinguishable within its bootstrap interval, else
        ``empty`` or ``few_customers``. For the first four, ``block_low``,
        ``block_high`` and ``block_customers`` describe the (largest) block
        concerned, ``block_tier`` the tier holding it and ``threshold_reason``
        the move's reason code; they are null otherwise.
        """
        n = self.customers.height
        counts = np.bincount(
            self.customers["tier_rank"].to_numpy(), minlength=len(self.scheme.tiers) + 1
        )[1:]
        rows = []
        for tier, count in zip(self.scheme.tiers, counts.tolist(), strict=True):
            share = count / n if n else 0.0
            if count >= self.min_tier_customers and share >= self.min_tier_share:
                continue
            # the tier's bounds: the threshold above it and its own
            bounds = {tier.rank - 2, tier.rank - 1}
            near = [m for m in self.threshold_moves if m.tier_rank - 1 in bounds]
            move = max(near, key=lambda m: m.block_customers, default=None)
            row: dict[str, Any] = {
                "tier_rank": tier.rank,
                "tier": tier.id,
                "tier_name": tier.name(self.lang),
                "customers": count,
                "share": share,
            }
            if move is None:
                row["reason"] = "empty" if count == 0 else "few_customers"
            else:
                cause = "ties" if move.reason == "tie_block" else "indistinguishable"
                row["reason"] = f"{'empty' if count == 0 else 'sparse'}_after_{cause}"
                holder = int(assign_ranks(np.array([move.block_high]), self.thresholds)[0])
                row |= {
                    "threshold_reason": move.reason,
                    "block_low": move.block_low,
                    "block_high": move.block_high,
                    "block_customers": move.block_customers,
                    "block_tier": self.scheme.tiers[holder - 1].id,
                }
            rows.append(row)
        return pl.DataFrame(rows, schema=_SPARSE_SCHEMA)

    def moves_table(self) -> pl.DataFrame:
        """:attr:`threshold_moves` as a frame (one row per move, with the tier's
        name in ``lang``)."""
        names = {t.id: t.name(self.lang) for t in self.scheme.tiers}
        schema = {
            "tier": pl.String,
            "tier_rank": pl.Int64,
            "reason": pl.String,
            "grounded": pl.Float64,
            "final": pl.Float64,
            "block_low": pl.Float64,
            "block_high": pl.Float64,
            "block_customers": pl.Int64,
            "side": pl.String,
            "customers_moved": pl.Int64,
            "target_share": pl.Float64,
            "grounded_share": pl.Float64,
            "final_share": pl.Float64,
            "interval_low": pl.Float64,
            "interval_high": pl.Float64,
        }
        frame = pl.DataFrame([m.to_dict() for m in self.threshold_moves], schema=schema)
        tier_names = [names[m.tier] for m in self.threshold_moves]
        return frame.with_columns(pl.Series("tier_name", tier_names, dtype=pl.String))

    def ties_dict(self) -> dict[str, Any]:
        """Threshold moves and sparse tiers as plain JSON-ready values (for a
        report's summary.json)."""
        grounded = self.thresholds if self.grounded_thresholds is None else self.grounded_thresholds
        return {
            "grounded_thresholds": [_plain(t) for t in np.asarray(grounded).tolist()],
            "thresholds": [_plain(t) for t in np.asarray(self.thresholds).tolist()],
            "indistinct_within": self.indistinct_within,
            "min_tier_customers": self.min_tier_customers,
            "min_tier_share": self.min_tier_share,
            "threshold_moves": [m.to_dict() for m in self.threshold_moves],
            "sparse_tiers": [
                {k: _plain(v) for k, v in row.items()}
                for row in self.sparse_tiers().iter_rows(named=True)
            ],
        }

    def tier_table(self) -> pl.DataFrame:
        """Per tier: threshold, customers, shares of customers, of predicted
        CLV and of past revenue, mean and total CLV, mean P(alive).

        Without predicted values (a count-only log) the CLV columns are of
        expected purchases instead: ``expected_purchases_total``,
        ``expected_purchases_mean`` and ``share_expected_purchases``; there
        is no past revenue either."""
        c = self.customers
        m = self.measure
        totals = c.select(
            pl.len().alias("n"),
            pl.col(m).sum().alias(m),
            pl.col("revenue").sum().alias("revenue") if "revenue" in c.columns else pl.lit(None),
        ).row(0, named=True)
        per = c.group_by("tier_rank").agg(
            pl.len().alias("customers"),
            pl.col(m).sum().alias(f"{m}_total"),
            pl.col(m).mean().alias(f"{m}_mean"),
            pl.col("p_alive").mean().alias("p_alive_mean"),
            *([pl.col("revenue").sum().alias("revenue_total")] if "revenue" in c.columns else []),
        )
        frame = pl.DataFrame(
            {
                "tier_rank": [t.rank for t in self.scheme.tiers],
                "tier": [t.id for t in self.scheme.tiers],
                "tier_name": [t.name(self.lang) for t in self.scheme.tiers],
                "threshold": [*self.thresholds.tolist(), None],
            },
            schema_overrides={"threshold": pl.Float64, "tier_rank": pl.Int64},
        ).join(per, on="tier_rank", how="left")
        frame = frame.with_columns(
            pl.col("customers").fill_null(0),
            (pl.col("customers").fill_null(0) / totals["n"]).alias("share_customers"),
            (pl.col(f"{m}_total").fill_null(0) / totals[m]).alias(f"share_{m}"),
        )
        if "revenue_total" in frame.columns:
            frame = frame.with_columns(
                (pl.col("revenue_total").fill_null(0) / totals["revenue"]).alias("share_revenue")
            )
        return frame

    def grid(self) -> pl.DataFrame:
        """Tier x risk band: customers, predicted CLV in the cell (value at stake
        where the band is not the healthiest) and the action for the cell;
        expected purchases (``expected_purchases``) in place of ``clv`` for a
        count-only log."""
        m = self.measure
        cells = self.customers.group_by("tier", "risk_band").agg(
            pl.len().alias("customers"), pl.col(m).sum().alias(m)
        )
        rows = [
            {
                "tier_rank": t.rank,
                "tier": t.id,
                "tier_name": t.name(self.lang),
                "risk_band": b.id,
                "risk_band_name": b.name(self.lang),
                "action": self.scheme.action(t.id, b.id, self.lang),
            }
            for t in self.scheme.tiers
            for b in self.scheme.bands
        ]
        return (
            pl.DataFrame(rows)
            .join(cells, on=["tier", "risk_band"], how="left")
            .with_columns(pl.col("customers").fill_null(0), pl.col(m).fill_null(0.0))
        )

    def status_counts(self) -> pl.DataFrame:
        """Customers per status (inside or outside the ladder)."""
        return self.customers.group_by("status").agg(pl.len().alias("customers")).sort("status")

    def summary(self) -> str:
        """A plain-text summary of the grading."""
        lines = [
            f"{self.scheme.name(self.lang)} ({self.scheme.id}): {self.customers.height:,} "
            f"customers graded on {self.scheme.score!r} by {self.scheme.method}"
        ]
        table = self.tier_table()
        m = self.measure
        share = "CLV share" if m == "clv" else "purchase share"
        for row in table.iter_rows(named=True):
            threshold = "" if row["threshold"] is None else f">= {row['threshold']:,.2f}"
            lines.append(
                f"  {row['tier_name']:<10} {threshold:<14} {row['customers']:>8,} customers "
                f"{row['share_customers']:>6.1%}  {share} {row[f'share_{m}']:>6.1%}  "
                f"mean P(alive) {row['p_alive_mean'] or 0:.2f}"
            )
        if self.stability is not None:
            s = self.stability
            lines.append(
                f"  bootstrap ({s.n_resamples} resamples): {s.unstable_share:.1%} of customers "
                f"change tier in >= {s.instability_level:.0%} of resamples"
            )
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Grading {self.scheme.id} by {self.scheme.method}: {self.customers.height:,}>"


def grade(
    scores: pl.DataFrame,
    scheme: Scheme | str | Path = "five_card",
    *,
    lang: Lang = "en",
    n_bootstrap: int = 0,
    alpha: float = 0.05,
    instability_level: float = 0.10,
    seed: int = 0,
    indistinct_within: float | None = 0.05,
    min_tier_customers: int = 5,
    min_tier_share: float = 0.01,
    value: str | None = None,
) -> Grading:
    """Grade scored customers with a tier scheme.

    Customers with equal scores always get the same tier. Two rules keep
    blocks of customers together, each moving a grounded threshold to an edge
    of the block it falls in and recording the move in
    :attr:`Grading.threshold_moves`:

    ``tie_block``
        (``value_share`` and ``quantile``) When a tier's target share falls
        inside a block of two or more equal scores, the whole block goes to
        the side that keeps the tier's cumulative share (of predicted value,
        or of customers) closest to its target; on a tie, to the tier above,
        as the grounding does.
    ``indistinguishable_block``
        (with a bootstrap) When a threshold's bootstrap interval
        ``[lower, upper]`` is narrow, at most ``indistinct_within`` times the
        threshold, all customers with a score in it count as one block: it
        goes wholly to the side that keeps the tier's cumulative share closest
        to its target (for ``natural_breaks`` and ``fixed``: the side that
        moves fewer customers), so no customer in the interval is split from
        another. A move that would make the threshold cross or meet a
        neighbouring one takes the other edge, or none
        (``indistinguishable_block_kept``).

    Thresholds stay strictly falling from the top tier down: a tier emptied
    by a move keeps a threshold just below the one above it (the next
    floating-point number). Without ties and without a narrow interval the
    grading is the grounding's.

    Parameters
    ----------
    scores
        Output of :func:`clv.score` (or any frame with ``customer_id``, the
        column graded on, ``p_alive``, the scheme's risk column
        (``churn_probability`` or ``p_no_purchase``), ``clv`` or
        ``expected_purchases``, ``frequency`` and ``T``).
    scheme
        A :class:`Scheme`, the name of a packaged scheme or a TOML path.
    lang
        Language of the names and actions in the result: ``"en"`` or ``"zh"``.
    n_bootstrap
        Number of bootstrap resamples of customers for threshold intervals and
        tier stability (0: none).
    alpha
        Level of the bootstrap percentile intervals (0.05: 95 %).
    instability_level
        A customer counts as unstable when their tier changes in at least this
        share of resamples.
    seed
        Seed of the bootstrap (and of the natural-breaks sample).
    indistinct_within
        Largest width of a threshold's bootstrap interval, as a share of the
        threshold, for which the scores inside count as indistinguishable
        (None: never).
    min_tier_customers, min_tier_share
        A tier with fewer customers, or a smaller share of them, is reported
        by :meth:`Grading.sparse_tiers`.
    value
        The column to grade on (the scheme's ``score`` is replaced by it).
        None (the default): the scheme's score; when that is ``clv`` and the
        scores have no ``clv`` (a count-only log), ``expected_purchases``
        over the horizon. A ``fixed`` scheme's thresholds are in the unit of
        its own score, so it is never switched to another column unasked.

    Returns
    -------
    Grading
        :attr:`Grading.graded_on` names the column graded on.
    """
    if not isinstance(scheme, Scheme):
        scheme = load_scheme(scheme)
    if lang not in ("en", "zh"):
        raise ValueError(f"lang={lang!r}; use 'en' or 'zh'")
    if indistinct_within is not None and not (
        isinstance(indistinct_within, int | float) and 0 <= indistinct_within < math.inf
    ):
        raise ValueError(f"indistinct_within={indistinct_within!r}; give a number >= 0 or None")
    if isinstance(min_tier_customers, bool) or not isinstance(min_tier_customers, int):
        raise ValueError(f"min_tier_customers={min_tier_customers!r}; give a whole number")
    if not 0 <= min_tier_share <= 1:
        raise ValueError(f"min_tier_share={min_tier_share!r}; give a share within [0, 1]")
    scheme = _graded_scheme(scores, scheme, value)
    measure = "clv" if "clv" in scores.columns else "expected_purchases"
    needed = {"customer_id", scheme.score, scheme.risk_score, "p_alive", measure, "frequency", "T"}
    missing = sorted(needed - set(scores.columns))
    if missing:
        raise ValueError(
            f"scores lack the columns {missing}; grade the output of clv.score "
            f"(scheme {scheme.id!r} is cut on {scheme.score!r})"
        )
    values = scores[scheme.score].cast(pl.Float64).to_numpy()
    if not np.all(np.isfinite(values)):
        raise ValueError(f"score column {scheme.score!r} has missing or non-finite values")
    settings = dict(scheme.settings)
    settings.setdefault("seed", seed)
    grounded = ground_thresholds(values, scheme.method, settings, len(scheme.tiers))

    # one sort serves the block rules and the bootstrap
    order = np.argsort(-values, kind="stable")
    desc = values[order]
    lower = upper = draws = positions = None
    if n_bootstrap > 0:
        draws = np.empty((n_bootstrap, grounded.size))
        positions = _resample_cuts(
            values,
            desc,
            scheme.method,
            settings,
            len(scheme.tiers),
            draws,
            np.random.default_rng(seed),
            seed,
            tie_rule=True,
        )
        lower = np.quantile(draws, alpha / 2, axis=0)
        upper = np.quantile(draws, 1 - alpha / 2, axis=0)
    kept = _keep_blocks_together(
        desc,
        scheme.method,
        settings,
        grounded,
        lower,
        upper,
        indistinct_within if n_bootstrap > 0 else None,
        [t.id for t in scheme.tiers],
    )
    thresholds = kept.thresholds
    ranks = assign_ranks(values, thresholds)
    notes = []
    empty = sorted(set(range(1, len(scheme.tiers) + 1)) - set(np.unique(ranks).tolist()))
    if empty:
        names = [scheme.tiers[r - 1].name(lang) for r in empty]
        notes.append(f"empty tiers: {', '.join(names)} (ties or too few customers)")

    band_uppers = np.array([b.upper for b in scheme.bands])
    risk = scores[scheme.risk_score].cast(pl.Float64).to_numpy()
    band_index = np.minimum(np.searchsorted(band_uppers, risk, side="left"), len(band_uppers) - 1)

    unit = "W"
    if "time_unit" in scores.columns:
        unit = scores["time_unit"].cast(pl.String)[0]
    age_days = scores["T"].to_numpy() * DAYS_PER_UNIT[unit]
    # per-customer labels gathered from short lists by index: no Python loop and
    # no numpy text arrays over the customers
    status_index = np.where(
        age_days < scheme.provisional_days,
        0,
        np.where(
            band_index == len(band_uppers) - 1,
            1,
            np.where(scores["frequency"].to_numpy() == 0, 2, 3),
        ),
    )
    tier_index = ranks - 1
    n_bands = len(scheme.bands)

    def gather(labels: list[str], index: np.ndarray) -> pl.Series:
        return pl.Series(labels, dtype=pl.String).gather(index)

    keep = [c for c in scores.columns if c != "customer_id"]
    customers = pl.DataFrame(
        {
            "customer_id": scores["customer_id"],
            "tier": gather([t.id for t in scheme.tiers], tier_index),
            "tier_rank": ranks,
            "tier_name": gather([t.name(lang) for t in scheme.tiers], tier_index),
            "risk_band": gather([b.id for b in scheme.bands], band_index),
            "status": gather(["provisional", "lost", "one_time", "graded"], status_index),
            "action": gather(
                [scheme.action(t.id, b.id, lang) for t in scheme.tiers for b in scheme.bands],
                tier_index * n_bands + band_index,
            ),
        }
    ).hstack(scores.select(keep))

    stability = None
    if draws is not None and positions is not None and lower is not None and upper is not None:
        # a resampled cut inside a block kept together goes where the block went
        for j, start, stop, where in kept.snaps:
            column = positions[:, j]
            column[(column > start) & (column < stop)] = where
        changed = _changed_counts(order, kept.positions, positions)
        share_changed = changed / n_bootstrap
        stability = Stability(
            n_resamples=n_bootstrap,
            alpha=alpha,
            thresholds=grounded,
            lower=lower,
            upper=upper,
            unstable_share=float(np.mean(share_changed >= instability_level)),
            instability_level=instability_level,
            mean_disagreement=float(share_changed.mean()),
            seed=seed,
        )
    return Grading(
        scheme=scheme,
        thresholds=thresholds,
        customers=customers,
        lang=lang,
        stability=stability,
        notes=tuple(notes),
        grounded_thresholds=grounded,
        threshold_moves=kept.moves,
        min_tier_customers=min_tier_customers,
        min_tier_share=min_tier_share,
        indistinct_within=indistinct_within if n_bootstrap > 0 else None,
        graded_on=scheme.score,
    )


def _graded_scheme(scores: pl.DataFrame, scheme: Scheme, value: str | None) -> Scheme:
    """The scheme with the column to grade on as its score (see :func:`grade`)."""
    columns = scores.columns
    if value is not None:
        if not isinstance(value, str) or value not in columns:
            raise ValueError(
                f"value={value!r} is not a column of the scores; give one of "
                f"{[c for c in columns if c != 'customer_id']}"
            )
        return scheme if value == scheme.score else dataclasses.replace(scheme, score=value)
    if scheme.score in columns or scheme.score != "clv":
        return scheme
    if "expected_purchases" not in columns:
        raise ValueError(
            "the scores lack the columns ['clv', 'expected_purchases']: they have neither "
            f"(their columns are {columns}); grade the output of clv.score, or pass "
            "value='<column>' naming the column to grade on"
        )
    if scheme.method == "fixed":
        raise ValueError(
            f"scheme {scheme.id!r} has fixed thresholds on 'clv', but the scores have no clv "
            "(a log without amounts); its thresholds cannot be read as expected purchases: "
            "use a scheme grounded by value_share or quantile, or pass "
            "value='expected_purchases' with thresholds in purchases"
        )
    return dataclasses.replace(scheme, score="expected_purchases")


# ---------------------------------------------------------------------------
# keeping blocks of customers together


@dataclass(frozen=True)
class _Kept:
    thresholds: np.ndarray  # final, strictly falling where the scores leave room
    positions: np.ndarray  # customers at or above each final threshold
    moves: tuple[ThresholdMove, ...]
    snaps: tuple[tuple[int, int, int, int], ...]  # (cut, block start, block stop, position)


def _count_at_least(ascending: np.ndarray, t: Any) -> np.ndarray:
    return ascending.size - np.searchsorted(ascending, t, side="left")


def _count_above(ascending: np.ndarray, t: Any) -> np.ndarray:
    return ascending.size - np.searchsorted(ascending, t, side="right")


def _keep_blocks_together(
    desc: np.ndarray,
    method: str,
    settings: dict[str, Any],
    grounded: np.ndarray,
    lower: np.ndarray | None,
    upper: np.ndarray | None,
    within: float | None,
    tier_ids: list[str],
) -> _Kept:
    """Move grounded thresholds out of blocks of equal scores (``tie_block``)
    and out of narrow bootstrap intervals (``indistinguishable_block``); see
    :func:`grade`. ``desc`` holds the scores sorted highest first; a cut is
    handled as its position there (the number of customers at or above it), so
    the work after the sort is O(customers) for the cumulative shares plus a
    binary search per threshold."""
    n = desc.size
    k = grounded.size
    ascending = desc[::-1]
    weights = desc if method == "value_share" else np.ones(n)
    measure = np.concatenate([[0.0], np.cumsum(weights)])
    total = measure[-1]

    def share(q: int) -> float:
        return float(measure[q] / total) if total > 0 else 0.0

    shares = method in ("value_share", "quantile")
    targets = np.cumsum(settings["shares"])[:-1] - 1e-12 if shares else None
    start = _count_at_least(ascending, grounded).astype(np.int64)
    pos = start.copy()
    found: dict[int, tuple[str, int, int]] = {}

    if targets is not None:
        for j in range(k):
            # the grounding puts the whole block of the threshold's score above it
            top = int(_count_above(ascending, grounded[j]))
            stop = int(pos[j])
            if stop - top >= 2:
                down = targets[j] - share(top) < share(stop) - targets[j]
                pos[j] = top if down else stop
                found[j] = ("tie_block", top, stop)

    if lower is not None and upper is not None and within is not None:
        for j in range(k):
            if upper[j] - lower[j] > within * abs(grounded[j]):
                continue
            top = int(_count_above(ascending, upper[j]))
            stop = int(_count_at_least(ascending, lower[j]))
            here = int(pos[j])
            if not top < here < stop:
                continue
            aim = float(targets[j]) if targets is not None else share(here)
            options = sorted([(abs(share(stop) - aim), 0, stop), (abs(aim - share(top)), 1, top)])
            above = int(pos[j - 1]) if j > 0 else -1
            below = int(pos[j + 1]) if j < k - 1 else n + 1
            allowed = [q for _, _, q in options if above < q < below]
            if allowed:
                pos[j] = allowed[0]
                found[j] = ("indistinguishable_block", top, stop)
            else:
                found[j] = ("indistinguishable_block_kept", top, stop)

    final = np.asarray(grounded, dtype=float).copy()
    for j in range(k):
        if pos[j] != start[j]:
            final[j] = desc[pos[j] - 1] if pos[j] > 0 else np.nextafter(desc[0], np.inf)
    # strictly falling thresholds: cuts above everyone step up, others step down
    for j in range(k - 2, -1, -1):
        if pos[j] == 0 and final[j] <= final[j + 1]:
            final[j] = np.nextafter(final[j + 1], np.inf)
    for j in range(1, k):
        if final[j] >= final[j - 1]:
            step = np.nextafter(final[j - 1], -np.inf)
            if pos[j] == n or step > desc[pos[j]]:
                final[j] = step

    moves = []
    snaps = []
    for j, (reason, top, stop) in sorted(found.items()):
        q = int(pos[j])
        side = "above" if q == stop else "below" if q == top else "split"
        interval = reason != "tie_block"
        moves.append(
            ThresholdMove(
                tier=tier_ids[j],
                tier_rank=j + 1,
                reason=reason,
                grounded=float(grounded[j]),
                final=float(final[j]),
                block_low=float(desc[stop - 1]),
                block_high=float(desc[top]),
                block_customers=stop - top,
                side=side,
                customers_moved=abs(q - int(start[j])),
                target_share=None if targets is None else float(targets[j] + 1e-12),
                grounded_share=share(int(start[j])),
                final_share=share(q),
                interval_low=float(lower[j]) if interval and lower is not None else None,
                interval_high=float(upper[j]) if interval and upper is not None else None,
            )
        )
        if reason == "indistinguishable_block":
            snaps.append((j, top, stop, q))
    return _Kept(final, pos, tuple(moves), tuple(snaps))


# ---------------------------------------------------------------------------
# bootstrap


def _block_edges(desc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each sorted position, the first position of its block of equal
    scores and the position just past it."""
    n = desc.size
    new = np.empty(n, dtype=bool)
    new[0] = True
    new[1:] = desc[1:] != desc[:-1]
    first = np.flatnonzero(new)
    block = np.cumsum(new) - 1
    stops = np.append(first[1:], n)
    return first[block], stops[block]


def _resample_cuts(
    values: np.ndarray,
    desc: np.ndarray,
    method: str,
    settings: dict[str, Any],
    n_tiers: int,
    draws: np.ndarray,
    rng: np.random.Generator,
    seed: int,
    *,
    tie_rule: bool,
) -> np.ndarray:
    """Resample customers with replacement and re-ground the thresholds on each
    resample (the models are not refitted): fills ``draws`` with the grounded
    thresholds and returns, per resample and threshold, the position of the
    cut among the sorted customers (customers at or above it). With
    ``tie_rule`` a share cut inside a block of equal scores goes to the block
    edge closer to its target, as in :func:`grade`.

    Share groundings take O(customers) per resample without sorting: a
    resample is a vector of copy counts over the sorted positions, and each cut
    falls where the weighted cumulative share reaches it, which is where
    sorting the resample would put it.
    """
    n = desc.size
    ascending = desc[::-1]
    positions = np.empty(draws.shape, dtype=np.int64)
    if method not in ("value_share", "quantile"):
        for b in range(draws.shape[0]):
            draws[b] = ground_thresholds(
                values[rng.integers(0, n, size=n)], method, {**settings, "seed": seed + b}, n_tiers
            )
            positions[b] = _count_at_least(ascending, draws[b])
        return positions
    cuts = np.cumsum(settings["shares"])[:-1] - 1e-12
    if tie_rule:
        block_first, block_stop = _block_edges(desc)
    # the same draws as rng.integers(0, n, size=n), which for n <= 2**32 takes
    # 32-bit draws whatever the output type, in half the memory traffic
    small = n <= np.iinfo(np.int32).max
    # running sums go only as far as the last cut needs: about half the
    # customers for value shares, which the top customers reach first; a
    # resample's cuts fall close to the full sample's
    base = desc if method == "value_share" else np.ones(n)
    guess = int(_first_reaching(np.cumsum(base), base.sum(), cuts).max()) + n // 50

    def cut(b: int, drawn: np.ndarray) -> None:
        copies = np.bincount(drawn.astype(np.intp, copy=False), minlength=n)
        if method == "value_share":
            mass = desc * copies
            total = mass.sum()
        else:  # counts: the running sums are exact in integers, the total is n
            mass = copies
            total = float(n)
        running = _running_sum(mass, cuts[-1] * total * (1 + 1e-9), guess)
        index = np.minimum(_first_reaching(running, total, cuts), n - 1)
        draws[b] = desc[index]
        if not tie_rule:
            positions[b] = _count_at_least(ascending, draws[b])
            return
        top, stop = block_first[index], block_stop[index]
        if stop.max() > running.size:
            running = _running_sum(mass, -np.inf, int(stop.max()))
        before = np.array([running[q - 1] / total if q > 0 else 0.0 for q in top])
        after = running[stop - 1] / total
        present = np.array([copies[q:r].sum() for q, r in zip(top, stop, strict=True)])
        down = (present >= 2) & (cuts - before < after - cuts)
        positions[b] = np.where(down, top, stop)

    # Resamples are drawn here, one after another (the stream of a plain loop),
    # and counted and cut in two worker threads meanwhile: numpy releases the
    # interpreter lock in the array work, and each resample's cuts depend on
    # its own draw alone, so the results are those of the plain loop.
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending: deque = deque()
        for b in range(draws.shape[0]):
            drawn = rng.integers(0, n, size=n, dtype=np.int32 if small else np.int64)
            pending.append(pool.submit(cut, b, drawn))
            if len(pending) > 2:
                pending.popleft().result()
        for job in pending:
            job.result()
    return positions


def _running_sum(mass: np.ndarray, reach: float, guess: int) -> np.ndarray:
    """The first values of ``np.cumsum(mass)``, bit for bit, up to the first one
    above ``reach`` (all of them if none is), computed in pieces starting with
    ``guess`` values.

    A piece continues the sequence exactly: its first element becomes the last
    running sum plus that element, the same addition ``cumsum`` makes.
    """
    n = mass.size
    end = min(n, max(guess, 1) + 1024)
    running = np.cumsum(mass[:end])
    while end < n and not running[-1] > reach:
        step = min(n, end + max(end // 4, 1 << 16))
        piece = mass[end:step].copy()
        piece[0] = running[-1] + piece[0]
        running = np.concatenate([running, np.cumsum(piece)])
        end = step
    return running


def _first_reaching(running: np.ndarray, total: float, cuts: np.ndarray) -> np.ndarray:
    """``np.searchsorted(running / total, cuts, side="left")`` without dividing
    the whole array: the first position where the cumulative share reaches
    each cut, bit for bit the same (``running`` is non-decreasing).

    Positions far below a cut (``running < cut * total * (1 - 1e-9)``) are
    below it after rounding too, and those far above are above it, so only the
    few positions between the two bounds are divided and searched.
    """
    if not (np.isfinite(total) and total > 0):
        return np.searchsorted(running / total, cuts, side="left")
    low = np.searchsorted(running, cuts * total * (1 - 1e-9), side="left")
    high = np.searchsorted(running, cuts * total * (1 + 1e-9), side="right")
    return np.array(
        [
            lo + np.searchsorted(running[lo:hi] / total, cut, side="left")
            for lo, hi, cut in zip(low, high, cuts, strict=True)
        ],
        dtype=np.int64,
    )


def _changed_counts(order: np.ndarray, base: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Per customer (input order), the number of resamples in which its tier
    differs from the grading's, given cut positions among the sorted customers.

    Tiers are contiguous runs of positions, so the customers whose tier
    changes in a resample are the runs between old and new cut positions:
    counted with a difference array, not a per-customer comparison.
    """
    n = order.size
    runs = np.zeros(n + 1, dtype=np.int64)  # difference array over sorted positions
    for moved in positions:
        # a customer's tier is 1 + the number of cuts it is below; between the old
        # and the new position of a cut that number moves by one
        points = np.unique(np.concatenate([base, moved, [0, n]]))
        for start, stop in itertools.pairwise(points):
            shift = np.sum((base <= start) & (start < moved)) - np.sum(
                (moved <= start) & (start < base)
            )
            if shift:
                runs[start] += 1
                runs[stop] -= 1
    changed_sorted = np.cumsum(runs[:-1])
    changed = np.empty(n, dtype=np.int64)
    changed[order] = changed_sorted
    return changed


def _bootstrap_sorted(
    values: np.ndarray,
    method: str,
    settings: dict[str, Any],
    thresholds: np.ndarray,
    draws: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Bootstrap of a share grounding in O(n) per resample without sorting, as
    the grounding alone would cut (blocks of equal scores wholly above a cut
    in their block).

    Fills ``draws`` and returns, per customer (input order), the number of
    resamples in which its tier differs from the one ``thresholds`` give.
    """
    order = np.argsort(-values, kind="stable")
    desc = values[order]
    n_tiers = len(settings["shares"])
    positions = _resample_cuts(
        values, desc, method, settings, n_tiers, draws, rng, 0, tie_rule=False
    )
    return _changed_counts(order, _count_at_least(desc[::-1], thresholds), positions)
