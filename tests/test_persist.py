"""Saving and loading fitted models: identical predictions after a round trip,
strict JSON, clear errors for damaged files, data fingerprints."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

import clv
from clv.models.bgbb import BGBBResults
from clv.models.persist import (
    ModelFileError,
    load_model,
    model_info,
    save_model,
    summary_fingerprint,
)


@pytest.fixture(scope="module")
def fits(cdnow_calibration):
    return {
        "bgnbd": clv.fit_purchase_model(cdnow_calibration, "bgnbd"),
        "mbgnbd": clv.fit_purchase_model(cdnow_calibration, "mbgnbd"),
        "gamma_gamma": clv.fit_spend_model(cdnow_calibration),
    }


def _arrays(summary: pl.DataFrame):
    return tuple(summary[c].to_numpy() for c in ("frequency", "recency", "T"))


def _strict_load(text: str) -> dict:
    def refuse(name):
        raise AssertionError(f"{name} in a model file")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd"])
def test_purchase_model_round_trip_gives_identical_predictions(
    model, fits, cdnow_calibration, tmp_path
):
    fit = fits[model]
    path = save_model(fit, tmp_path / f"{model}.json")
    loaded = load_model(path)
    assert type(loaded) is type(fit)
    assert loaded.params == fit.params  # exact: JSON keeps every bit of a float
    np.testing.assert_array_equal(loaded.cov_log_params, fit.cov_log_params)
    np.testing.assert_allclose(loaded.cov_params, fit.cov_params, rtol=1e-14)
    assert loaded.loglik == fit.loglik
    assert (loaded.n_customers, loaded.n_rows_fitted, loaded.time_unit) == (2357, 1016, "W")
    assert loaded.bse == pytest.approx(fit.bse, rel=1e-12)
    x, t_x, T = _arrays(cdnow_calibration)
    np.testing.assert_array_equal(
        loaded.expected_purchases(52, x, t_x, T), fit.expected_purchases(52, x, t_x, T)
    )
    np.testing.assert_array_equal(loaded.p_alive(x, t_x, T), fit.p_alive(x, t_x, T))
    np.testing.assert_array_equal(
        loaded.prob_n_purchases(2, 39, x, t_x, T), fit.prob_n_purchases(2, 39, x, t_x, T)
    )
    assert str(loaded.summary()).replace(f"{loaded.fit_seconds:.2f}", "") == str(
        fit.summary()
    ).replace(f"{fit.fit_seconds:.2f}", "")


def test_scores_are_identical_after_a_round_trip(fits, cdnow_calibration, tmp_path):
    purchase = load_model(save_model(fits["bgnbd"], tmp_path / "p.json"))
    spend = load_model(save_model(fits["gamma_gamma"], tmp_path / "s.json"))
    before = clv.score(cdnow_calibration, fits["bgnbd"], fits["gamma_gamma"])
    after = clv.score(cdnow_calibration, purchase, spend)
    assert before.equals(after)
    assert spend.n_excluded == fits["gamma_gamma"].n_excluded
    assert spend.independence.pearson_r == fits["gamma_gamma"].independence.pearson_r


def test_bgbb_round_trip(tmp_path):
    # published donations estimates, Fader, Hardie and Shang (2010), section 4
    model = BGBBResults.from_params(
        {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}, time_unit="Y"
    )
    loaded = load_model(save_model(model, tmp_path / "bgbb.json"))
    assert isinstance(loaded, BGBBResults)
    assert loaded.params == model.params and loaded.time_unit == "Y"
    x, t_x, n = [0, 3, 6], [0, 5, 6], [6, 6, 6]
    np.testing.assert_array_equal(loaded.p_alive(x, t_x, n), model.p_alive(x, t_x, n))


def test_files_are_strict_json_without_nan(tmp_path):
    # a model with given parameters has no covariance and no log-likelihood (NaN)
    given = clv.PurchaseModelResults.from_params(
        "bgnbd", {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, time_unit="W"
    )
    path = save_model(given, tmp_path / "given.json")
    text = path.read_text()
    payload = _strict_load(text)
    assert "NaN" not in text and "Infinity" not in text
    assert payload["loglik"] is None
    assert payload["cov_log_params"] == [[None] * 4] * 4
    assert payload["format"] == "clv-model" and payload["clv_version"] == clv.__version__
    loaded = load_model(path)
    assert np.isnan(loaded.loglik) and np.all(np.isnan(loaded.cov_log_params))
    # written atomically: nothing but the file is left in the folder
    assert [p.name for p in tmp_path.iterdir()] == ["given.json"]


def test_damaged_files_give_clear_errors(fits, tmp_path):
    path = save_model(fits["bgnbd"], tmp_path / "model.json")
    text = path.read_text()

    edited = tmp_path / "edited.json"
    payload = _strict_load(text)
    payload["params"]["r"] = 0.5
    edited.write_text(json.dumps(payload))
    with pytest.raises(ModelFileError, match="changed since it was saved"):
        load_model(edited)

    truncated = tmp_path / "truncated.json"
    truncated.write_text(text[: len(text) // 2])
    with pytest.raises(ModelFileError, match=r"not valid JSON .* line"):
        load_model(truncated)

    with_nan = tmp_path / "nan.json"
    with_nan.write_text(text.replace('"loglik": -', '"loglik": NaN, "x": -'))
    with pytest.raises(ModelFileError, match="not strict JSON"):
        load_model(with_nan)

    other = tmp_path / "other.json"
    other.write_text(json.dumps({"name": "not a model"}))
    with pytest.raises(ModelFileError, match="not a clv model file"):
        load_model(other)

    newer = tmp_path / "newer.json"
    payload = _strict_load(text)
    payload["format_version"] = 99
    newer.write_text(json.dumps(payload))
    with pytest.raises(ModelFileError, match="upgrade clv"):
        load_model(newer)

    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ModelFileError, match="not UTF-8"):
        load_model(binary)

    with pytest.raises(FileNotFoundError, match="save one with save_model"):
        load_model(tmp_path / "missing.json")
    with pytest.raises(TypeError, match="save a fitted"):
        save_model({"r": 1.0}, tmp_path / "dict.json")


def test_fingerprint_identifies_the_data(fits, cdnow_calibration, tmp_path):
    fingerprint = summary_fingerprint(cdnow_calibration)
    assert fingerprint.startswith("sha256:") and len(fingerprint) == 7 + 64
    # the same histories under other ids and in another order: the same fit, same print
    shuffled = cdnow_calibration.sample(fraction=1.0, shuffle=True, seed=3).with_columns(
        pl.col("customer_id").str.reverse()
    )
    assert summary_fingerprint(shuffled) == fingerprint
    # one more repeat purchase for one customer changes it
    changed = cdnow_calibration.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.col("frequency") + 1)
        .otherwise(pl.col("frequency"))
        .alias("frequency")
    )
    assert summary_fingerprint(changed) != fingerprint

    path = save_model(fits["bgnbd"], tmp_path / "model.json", data_fingerprint=fingerprint)
    assert model_info(path).data_fingerprint == fingerprint
    assert load_model(path, expected_fingerprint=fingerprint).params == fits["bgnbd"].params
    with pytest.raises(ModelFileError, match="fitted on other data"):
        load_model(path, expected_fingerprint=summary_fingerprint(changed))
