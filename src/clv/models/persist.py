"""Save fitted models to JSON and load them back.

A scheduled run can keep last period's fit next to its report, reuse it when
the data have not changed (same fingerprint) or compare this period's
estimates with it. The file is strict JSON (no NaN or Infinity: missing
numbers are ``null``) with:

- ``format`` and ``format_version``, so an unrelated or newer file is refused;
- ``kind`` (``"purchase"``, ``"spend"`` or ``"bgbb"``), ``model``,
  ``params`` (in the model's parameter order), ``cov_log_params`` (the
  covariance of the log parameters, from which ``cov_params`` is rebuilt by
  the delta method), ``loglik``, ``n_customers``, ``n_rows_fitted``,
  ``penalizer``, ``fit_seconds``, ``notes`` and ``time_unit``;
- ``clv_version``, ``saved_at`` (UTC) and ``data_fingerprint`` (see
  :func:`summary_fingerprint`);
- ``checksum``: the SHA-256 of the rest of the file in canonical form. It
  catches files that were edited, truncated or garbled after saving; it is an
  integrity check, not a signature (anyone can recompute it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from clv.models import PurchaseModelResults, SpendModelResults
from clv.models.bgbb import BGBBResults
from clv.rfm import compress

__all__ = [
    "ModelFileError",
    "SavedModelInfo",
    "load_model",
    "model_info",
    "save_model",
    "summary_fingerprint",
]

FORMAT = "clv-model"
FORMAT_VERSION = 1

_PARAM_ORDER = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "mbgnbd": ("r", "alpha", "a", "b"),
    "pareto_nbd": ("r", "alpha", "s", "beta"),
    "gamma_gamma": ("p", "q", "gamma"),
    "bgbb": ("alpha", "beta", "gamma", "delta"),
}
_KIND = {"bgnbd": "purchase", "mbgnbd": "purchase", "pareto_nbd": "purchase"}
_KIND.update({"gamma_gamma": "spend", "bgbb": "bgbb"})

Results = PurchaseModelResults | SpendModelResults | BGBBResults


class ModelFileError(ValueError):
    """A model file that cannot be loaded: not JSON, not a clv model file, a
    newer format, or changed since it was saved."""


@dataclass(frozen=True)
class SavedModelInfo:
    """What a model file says about itself, besides the model."""

    path: Path
    kind: str
    model: str
    clv_version: str
    saved_at: str
    data_fingerprint: str | None


# ---------------------------------------------------------------------------
# fingerprint


def summary_fingerprint(summary: pl.DataFrame, columns: tuple[str, ...] | None = None) -> str:
    """SHA-256 of the compressed summary: the distinct value combinations of
    the model's input columns with the number of customers sharing each.

    Two summaries with the same fingerprint give the same fit, whatever the
    customer ids or row order.

    Parameters
    ----------
    summary
        A per-customer summary.
    columns
        Columns to hash. By default the first of these sets the summary has
        all of: ``frequency, recency, T`` (plus ``monetary_value`` when present),
        their ``*_cal`` versions, or ``frequency, recency, n_periods`` (BG/BB).

    Returns
    -------
    str
        ``"sha256:"`` followed by 64 hexadecimal digits.
    """
    if columns is None:
        columns = _default_columns(summary)
    missing = [c for c in columns if c not in summary.columns]
    if missing:
        raise ValueError(f"the summary lacks the columns {missing} to fingerprint")
    table = compress(summary, columns=tuple(columns))
    digest = hashlib.sha256()
    digest.update(json.dumps(list(columns)).encode())
    for column in (*columns, "n_customers"):
        values = table[column].cast(pl.Float64).to_numpy()
        digest.update(np.ascontiguousarray(values, dtype="<f8").tobytes())
    return f"sha256:{digest.hexdigest()}"


def _default_columns(summary: pl.DataFrame) -> tuple[str, ...]:
    cols = summary.columns
    for suffix in ("", "_cal"):
        names = tuple(f"{c}{suffix}" for c in ("frequency", "recency", "T"))
        if all(c in cols for c in names):
            money = f"monetary_value{suffix}"
            return (*names, money) if money in cols else names
    if all(c in cols for c in ("frequency", "recency", "n_periods")):
        return ("frequency", "recency", "n_periods")
    raise ValueError(
        f"the summary has columns {cols}; give the columns to fingerprint, or a summary "
        "with frequency, recency and T (or n_periods)"
    )


# ---------------------------------------------------------------------------
# saving


def _number(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _matrix(values: np.ndarray) -> list[list[float | None]]:
    return [[_number(v) for v in row] for row in np.asarray(values, dtype=float)]


def _checksum(payload: dict) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _payload(results: Results, data_fingerprint: str | None) -> dict:
    from clv import __version__

    if not isinstance(results, PurchaseModelResults | SpendModelResults | BGBBResults):
        raise TypeError(
            f"results is a {type(results).__name__}; save a fitted purchase, spend or BG/BB "
            "model (clv.fit_purchase_model, clv.fit_spend_model, fit_bgbb)"
        )
    if data_fingerprint is not None and not isinstance(data_fingerprint, str):
        raise TypeError("data_fingerprint must be a string, e.g. from summary_fingerprint()")
    model = results.model
    order = _PARAM_ORDER[model]
    params = {k: _number(results.params[k]) for k in order}
    if any(v is None or v <= 0 for v in params.values()):
        raise ValueError(f"{model}: parameters {results.params} are not positive and finite")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": _KIND[model],
        "model": model,
        "params": params,
        "cov_log_params": _matrix(results.cov_log_params),
        "loglik": _number(results.loglik),
        "n_customers": int(results.n_customers),
        "n_rows_fitted": int(results.n_rows_fitted),
        "penalizer": _number(getattr(results, "penalizer", 0.0)),
        "fit_seconds": _number(results.fit_seconds),
        "notes": list(results.notes),
        "time_unit": getattr(results, "time_unit", None),
        "clv_version": __version__,
        "saved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "data_fingerprint": data_fingerprint,
    }
    if isinstance(results, SpendModelResults):
        payload["n_excluded"] = int(results.n_excluded)
        ind = results.independence
        payload["independence"] = (
            None
            if ind is None
            else {
                k: (int(v) if k == "n_customers" else _number(v))
                for k, v in dataclasses.asdict(ind).items()
            }
        )
    return payload


def save_model(results: Results, path: str | Path, data_fingerprint: str | None = None) -> Path:
    """Write a fitted model to a JSON file, atomically (a temporary file in the
    same folder, then a rename).

    Parameters
    ----------
    results
        A :class:`clv.PurchaseModelResults`, :class:`clv.SpendModelResults` or
        :class:`clv.models.bgbb.BGBBResults`.
    path
        File to write (``.json`` by convention); its folder must exist.
    data_fingerprint
        A fingerprint of the data the model was fitted on
        (:func:`summary_fingerprint`), to tell later whether the data changed.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    payload = _payload(results, data_fingerprint)
    payload["checksum"] = _checksum(payload)
    text = json.dumps(payload, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {path.parent} does not exist; create it first")
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


# ---------------------------------------------------------------------------
# loading


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed in strict JSON")


def _read(path: str | Path) -> tuple[Path, dict]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist; save one with save_model")
    where = f"model file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ModelFileError(
            f"{where} is not UTF-8 text, so not a clv model file; save the model again "
            "with save_model"
        ) from None
    try:
        payload = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ModelFileError(
            f"{where} is not valid JSON ({exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}): it was truncated or edited; save the model again with save_model"
        ) from None
    except ValueError as exc:
        raise ModelFileError(
            f"{where} is not strict JSON ({exc}); save the model again with save_model"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(
            f'{where} is not a clv model file (no "format": "{FORMAT}"); give a file '
            "written by save_model"
        )
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{where} has format version {version!r}; this clv reads up to version "
            f"{FORMAT_VERSION}: upgrade clv to load it"
        )
    stored = payload.pop("checksum", None)
    if stored != _checksum(payload):
        raise ModelFileError(
            f"{where} has been changed since it was saved (its checksum does not match "
            "its content); do not edit model files by hand: fit and save the model again"
        )
    return path, payload


def _field(payload: dict, name: str, kind: type | tuple[type, ...], where: str):
    value = payload.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ModelFileError(f"{where}: field {name!r} is missing or has the wrong type")
    return value


def _float(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def model_info(path: str | Path) -> SavedModelInfo:
    """Read what a model file says about itself (model, clv version, when it was
    saved, the data fingerprint) after checking it as :func:`load_model` does."""
    path, payload = _read(path)
    return SavedModelInfo(
        path=path,
        kind=str(payload.get("kind")),
        model=str(payload.get("model")),
        clv_version=str(payload.get("clv_version")),
        saved_at=str(payload.get("saved_at")),
        data_fingerprint=payload.get("data_fingerprint"),
    )


def load_model(path: str | Path, *, expected_fingerprint: str | None = None) -> Results:
    """Load a model written by :func:`save_model`.

    Parameters
    ----------
    path
        The JSON file.
    expected_fingerprint
        When given, the file's ``data_fingerprint`` must equal it (the model was
        fitted on these data); otherwise a :class:`ModelFileError` says so.

    Returns
    -------
    PurchaseModelResults, SpendModelResults or BGBBResults
        With the saved parameters, covariance and fit statistics; its
        predictions equal those of the model that was saved.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ModelFileError
        When the file is not strict JSON, not a clv model file, of a newer
        format, changed since it was saved, or fitted on other data than
        ``expected_fingerprint`` says.
    """
    path, payload = _read(path)
    where = f"model file {path}"
    if expected_fingerprint is not None and payload.get("data_fingerprint") != expected_fingerprint:
        raise ModelFileError(
            f"{where} was fitted on other data (fingerprint {payload.get('data_fingerprint')}, "
            f"expected {expected_fingerprint}); fit the model again on the current data"
        )
    model = _field(payload, "model", str, where)
    if model not in _PARAM_ORDER:
        raise ModelFileError(f"{where}: unknown model {model!r}")
    order = _PARAM_ORDER[model]
    raw = _field(payload, "params", dict, where)
    if set(raw) != set(order) or not all(
        isinstance(raw[k], int | float) and not isinstance(raw[k], bool) for k in order
    ):
        raise ModelFileError(f"{where}: {model} needs the parameters {order}, got {raw}")
    params = {k: float(raw[k]) for k in order}
    cov_raw = _field(payload, "cov_log_params", list, where)
    try:
        cov_log = np.array([[_float(v) for v in row] for row in cov_raw], dtype=float)
    except (TypeError, ValueError):
        cov_log = np.empty((0, 0))
    if cov_log.shape != (len(order), len(order)):
        raise ModelFileError(f"{where}: cov_log_params is not a {len(order)}x{len(order)} matrix")
    values = np.array(list(params.values()))
    common = {
        "cov_params": cov_log * np.outer(values, values),
        "cov_log_params": cov_log,
        "loglik": _float(payload.get("loglik")),
        "n_customers": _field(payload, "n_customers", int, where),
        "n_rows_fitted": _field(payload, "n_rows_fitted", int, where),
        "fit_seconds": _float(payload.get("fit_seconds")),
        "notes": tuple(str(n) for n in _field(payload, "notes", list, where)),
    }
    try:
        if model == "bgbb":
            base = BGBBResults.from_params(params, time_unit=str(payload.get("time_unit")))
            return dataclasses.replace(base, **common)
        if model == "gamma_gamma":
            return SpendModelResults(
                model=model,
                params=params,
                penalizer=_float(payload.get("penalizer")),
                n_excluded=_field(payload, "n_excluded", int, where),
                independence=_independence(payload.get("independence")),
                **common,
            )
        base = PurchaseModelResults.from_params(
            model, params, time_unit=_field(payload, "time_unit", str, where)
        )
        return dataclasses.replace(base, penalizer=_float(payload.get("penalizer")), **common)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{where}: the saved model is not usable ({exc})") from None


def _independence(values: dict | None):
    if values is None:
        return None
    from clv import models

    check = getattr(models, "IndependenceCheck", None)
    if check is None:
        return None
    return check(**{k: (v if k == "n_customers" else _float(v)) for k, v in values.items()})
