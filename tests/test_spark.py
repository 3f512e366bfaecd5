"""The Spark engine (clv.spark) against the polars path: exact equality on
CDNOW and on a generated log, on one local[2] session per test run.

Needs Java 17+ and the ``spark`` extra; without Java the session fixture
fails (it does not skip), so a missing Java shows in the test summary.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import clv

# `make test` installs the clv[spark] extra: without pyspark this import fails
# (loudly), it is never skipped
import clv.spark as spark_module

ROOT = Path(__file__).resolve().parents[1]
CDNOW = ROOT / "data" / "cdnow" / "CDNOW_master.csv"
GENERATED = ROOT / "benchmarks" / "data" / "tx_100k.parquet"


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home, "bin", "java") if java_home else shutil.which("java")
    if candidate is None or not Path(candidate).exists():
        pytest.fail(
            "no Java found (JAVA_HOME unset and no java on PATH); Spark needs Java 17+: "
            "install e.g. openjdk-17-jre-headless",
            pytrace=False,
        )
    version = subprocess.run([str(candidate), "-version"], capture_output=True, text=True)
    return version.stderr.splitlines()[0] if version.stderr else str(candidate)


@pytest.fixture(scope="session")
def spark():
    _java()
    session = spark_module.get_session("local[2]")
    assert session.conf.get("spark.sql.session.timeZone") == "UTC"
    assert session.conf.get("spark.ui.enabled") == "false"
    yield session
    session.stop()


@pytest.fixture(scope="module")
def cdnow(spark):
    """The CDNOW master file read by both engines (Spark's copy cached)."""
    log = spark_module.read_transactions(spark, CDNOW)
    data = log.data.cache()
    yield log, data, clv.load_transactions(CDNOW)
    data.unpersist()


def _sorted(frame) -> pl.DataFrame:
    return spark_module.to_polars(frame).sort("customer_id")


def test_read_transactions_counts_as_the_polars_loader(cdnow):
    log, data, tx = cdnow
    assert log.quality == tx.quality
    # the file has exact duplicates and zero amounts: the counts are not trivially 0
    assert log.quality.duplicate_rows > 0 and log.quality.zero_amount_rows > 0
    assert_frame_equal(
        _sorted(data).sort("customer_id", "date", "amount"),
        tx.data.sort("customer_id", "date", "amount"),
    )


@pytest.mark.parametrize(("freq", "unit"), [("D", "W"), ("W", "W"), ("M", "M"), ("D", "D")])
def test_summaries_equal_on_cdnow(cdnow, freq, unit):
    _, data, tx = cdnow
    spark_summary = clv.summarize(data, freq=freq, time_unit=unit, observation_end="1997-12-31")
    assert type(spark_summary).__module__.startswith("pyspark.")
    expected = clv.summarize(tx, freq=freq, time_unit=unit, observation_end="1997-12-31")
    assert_frame_equal(_sorted(spark_summary), expected)


def test_calibration_holdout_and_window_counts_equal_on_cdnow(cdnow):
    _, data, tx = cdnow
    windows = {"calibration_end": "1997-09-30", "observation_end": "1998-03-31"}
    got = clv.calibration_holdout(data, freq="D", time_unit="W", **windows)
    assert_frame_equal(
        _sorted(got), clv.calibration_holdout(tx, freq="D", time_unit="W", **windows)
    )
    counts = clv.window_counts(data, **windows)
    assert counts == clv.window_counts(tx, **windows)
    assert counts.after_observation_end > 0  # the window leaves transactions out


def test_compressed_scores_and_tiers_equal_on_cdnow(cdnow, tmp_path):
    _, data, tx = cdnow
    spark_summary = clv.summarize(data, freq="D", time_unit="W", observation_end="1998-06-30")
    summary = clv.summarize(tx, freq="D", time_unit="W", observation_end="1998-06-30")
    assert_frame_equal(clv.compress(spark_summary), clv.compress(summary))
    purchase = clv.fit_purchase_model(summary, model="bgnbd")
    spend = clv.fit_spend_model(summary)
    expected = clv.score(summary, purchase, spend, margin=0.3)
    cached = spark_summary.cache()
    on_executors = clv.score(cached, purchase, spend, margin=0.3)
    assert_frame_equal(_sorted(on_executors), expected)
    on_driver = spark_module.score(cached, purchase, spend, margin=0.3, on="driver")
    assert_frame_equal(_sorted(on_driver), expected)

    grading = spark_module.grade(on_executors, "five_card", lang="zh")
    reference = clv.grade(expected, "five_card", lang="zh")
    assert grading.thresholds.tolist() == reference.thresholds.tolist()
    assert_frame_equal(grading.to_grading().customers, reference.customers)
    spark_module.write_graded(grading, path=tmp_path / "graded")
    written = (
        pl.read_parquet(tmp_path / "graded" / "*.parquet")
        .with_columns(pl.col("time_unit").cast(reference.customers["time_unit"].dtype))
        .sort("customer_id")
    )
    assert_frame_equal(written, reference.customers)
    cached.unpersist()


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """The 100k log of benchmarks/generate.py (drawn here when not generated yet)."""
    if GENERATED.exists():
        return GENERATED
    spec = importlib.util.spec_from_file_location("generate", ROOT / "benchmarks/generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    path = tmp_path_factory.mktemp("generated") / "tx_100k.parquet"
    log = clv.simulate_transactions(
        generate.SIZES["100k"], **generate.PARAMS, **generate.WINDOW, seed=2024
    )
    log.write_parquet(path)
    return path


def test_generated_log_summaries_and_scores_without_spend_model(spark, generated):
    """100k generated transactions (benchmarks/generate.py), MBG/NBD, no spend model."""
    windows = {"calibration_end": "2023-06-30", "observation_end": "2023-12-31"}
    tx = clv.load_transactions(generated, as_of="2024-01-31")
    report = spark_module.customer_summaries(
        spark, generated, freq="D", time_unit="W", as_of="2024-01-31", **windows
    )
    summary = clv.summarize(tx, freq="D", time_unit="W", observation_end="2023-12-31")
    assert_frame_equal(report.summary, summary)
    assert_frame_equal(
        report.calibration, clv.calibration_holdout(tx, freq="D", time_unit="W", **windows)
    )
    assert report.windows == clv.window_counts(tx, **windows)
    assert report.quality == tx.quality
    # the Parquet file read as it is: dates of Spark type DATE
    raw = spark.read.parquet(str(generated))
    assert_frame_equal(
        _sorted(clv.summarize(raw, freq="M", time_unit="M")),
        clv.summarize(tx, freq="M", time_unit="M"),
    )
    spark_summary = clv.summarize(raw, freq="D", time_unit="W", observation_end="2023-12-31")
    model = clv.fit_purchase_model(summary, model="mbgnbd")
    assert_frame_equal(_sorted(clv.score(spark_summary, model)), clv.score(summary, model))


def test_bad_rows_are_counted_and_refused(spark):
    frame = spark.createDataFrame(
        [("a", "2020-01-01", "5"), (" b", "2020-01-02", "-1"), ("", "2020-01-03", "x")],
        "cid string, day string, spent string",
    )
    with pytest.raises(clv.TransactionDataError) as error:
        spark_module.read_transactions(spark, frame, customer_id="cid", date="day", amount="spent")
    message = str(error.value)
    assert "negative amounts" in message and "not numbers" in message
    assert "empty customer id" in message
    with pytest.raises(clv.TransactionDataError, match="'amount' \\(amount\\) is missing"):
        spark_module.read_transactions(spark, frame, customer_id="cid", date="day")


def test_summary_module_imports_no_pyspark_for_polars_frames():
    code = (
        "import sys, datetime, polars as pl, clv\n"
        "log = pl.DataFrame({'customer_id': ['a', 'a'], 'amount': [1.0, 2.0],\n"
        "    'date': [datetime.datetime(2020, 1, 1), datetime.datetime(2020, 2, 1)]})\n"
        "assert clv.summarize(log)['frequency'].to_list() == [1]\n"
        "assert 'pyspark' not in sys.modules, 'pyspark imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _report(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    """``clv report`` on the bundled sample as a user runs it, from another folder."""
    command = [sys.executable, "-m", "clv.cli", "report", "--sample", "--period", "1998-06"]
    command += ["--observation-end", "1998-06-30", "--calibration-end", "1997-12-31"]
    command += ["--bootstrap", "40", "--reports-dir", "reports", *extra]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)


def _assert_close(a, b, where: str) -> None:
    """Equal structures whose numbers agree to 1e-9 relative (the engines sum
    money in different orders: micro-units on Spark, floats in polars)."""
    import math

    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            _assert_close(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, f"{where}/{i}")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (where, a, b)
    else:
        assert a == b, (where, a, b)


def test_report_on_spark_grades_as_the_polars_report(spark, tmp_path):
    """``clv report --engine spark`` (log read, checked and summarised on a
    local Spark session in the report's kernel) publishes the same graded
    table, tiers and back-test as the polars report; the sections that read
    every order say they are left out."""
    (tmp_path / "spark").mkdir()
    (tmp_path / "polars").mkdir()
    on_spark = _report(tmp_path / "spark", "--engine", "spark", "--spark-master", "local[2]")
    assert on_spark.returncode == 0, on_spark.stderr[-3000:]
    on_polars = _report(tmp_path / "polars")
    assert on_polars.returncode == 0, on_polars.stderr[-3000:]
    spark_folder = tmp_path / "spark" / "reports" / "1998-06"
    polars_folder = tmp_path / "polars" / "reports" / "1998-06"
    graded = pl.read_parquet(spark_folder / "graded_customers.parquet")
    assert graded.height == 2357
    assert_frame_equal(graded, pl.read_parquet(polars_folder / "graded_customers.parquet"))
    import json

    spark_summary = json.loads((spark_folder / "summary.json").read_text(encoding="utf-8"))
    polars_summary = json.loads((polars_folder / "summary.json").read_text(encoding="utf-8"))
    for key in ("thresholds", "headline", "tiers", "ties", "purchase_model", "spend_model"):
        _assert_close(spark_summary[key], polars_summary[key], key)
    # the model choice's evidence sums the calibration fits over customers in
    # the engines' row orders: equal to rounding, and the same choice
    assert spark_summary["model_selection"]["model"] == polars_summary["model_selection"]["model"]
    assert (
        spark_summary["facts"]["transactions kept"] == polars_summary["facts"]["transactions kept"]
    )
    assert spark_summary["facts"]["first transaction"] == "1997-01-01"
    page = (spark_folder / "report.html").read_text(encoding="utf-8")
    assert "The membership ladder is left out on the Spark engine" in page
    assert "The loyalty grid is left out on the Spark engine" in page
    assert "left out on the Spark engine" not in (polars_folder / "report.html").read_text(
        encoding="utf-8"
    )


def test_report_on_spark_refuses_what_it_cannot_read(tmp_path):
    """Options the Spark reader lacks are refused before any session starts,
    naming what to do."""
    result = _report(tmp_path, "--engine", "spark", "--encoding", "gbk")
    assert result.returncode == 1
    assert "not read on the Spark engine" in result.stderr and "--engine polars" in result.stderr
    result = _report(tmp_path, "--spark-master", "local[2]")
    assert result.returncode == 1 and "--engine spark" in result.stderr
