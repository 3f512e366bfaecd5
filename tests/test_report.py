"""Grading runs write complete, reproducible outputs, atomically."""

from __future__ import annotations

import hashlib
import json

import polars as pl
import pytest

import clv
from clv.cli import main


def test_sample_report_run(tmp_path, capsys):
    assert main(["report", "--sample", "--reports-dir", str(tmp_path)]) == 0
    folder = tmp_path / "cdnow-1998-06"
    assert f"wrote {folder}" in capsys.readouterr().out
    graded = pl.read_parquet(folder / "graded_customers.parquet")
    assert graded.height == 2357
    assert {"clv", "p_alive", "churn_probability", "expected_purchases"} <= set(graded.columns)
    assert graded["clv"].is_finite().all()
    run = json.loads((folder / "run.json").read_text())
    data = clv.datasets.cdnow_path(sample=True)
    assert run["data_sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert run["data_quality"]["rows_read"] == 6919
    assert run["versions"]["lifetimes"] == "0.11.3"
    assert "BG/NBD" in (folder / "models.txt").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_same_inputs_same_table(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    assert main(["report", "--sample", "--reports-dir", str(first)]) == 0
    assert main(["report", "--sample", "--reports-dir", str(second)]) == 0
    one = (first / "cdnow-1998-06" / "graded_customers.csv").read_bytes()
    two = (second / "cdnow-1998-06" / "graded_customers.csv").read_bytes()
    assert one == two


def test_failed_run_keeps_previous_report(tmp_path, capsys):
    assert main(["report", "--sample", "--reports-dir", str(tmp_path)]) == 0
    good = (tmp_path / "cdnow-1998-06" / "graded_customers.csv").read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,date,amount\n1,1998-01-01,-5\n", encoding="utf-8")
    code = main(
        [
            "report",
            "--data",
            str(bad),
            "--period",
            "cdnow-1998-06",
            "--observation-end",
            "1998-06-30",
            "--reports-dir",
            str(tmp_path),
        ]
    )
    assert code == 1
    assert "negative amounts" in capsys.readouterr().err
    assert (tmp_path / "cdnow-1998-06" / "graded_customers.csv").read_bytes() == good


@pytest.mark.parametrize("period", ["../escape", "a/b", "", ".hidden"])
def test_period_cannot_escape_reports_dir(tmp_path, period):
    with pytest.raises(ValueError, match="period"):
        clv.report.RunConfig(
            data=tmp_path / "x.csv", period=period, observation_end=clv.data.dt.date(2020, 1, 1)
        )


def test_missing_arguments_are_named(capsys):
    assert main(["report", "--data", "x.csv"]) == 2
    assert "--period, --observation-end" in capsys.readouterr().err
