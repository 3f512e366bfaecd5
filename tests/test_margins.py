"""Margins per order: read by the loader, weighted per customer, applied to
predicted revenue, and carried through a report run from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import clv
from clv.margins import apply_margins, customer_margins
from clv.report import RunConfig

ROOT = Path(__file__).resolve().parents[1]


def _log(margins: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c"],
            "date": ["2024-01-01", "2024-02-01", "2024-01-05", "2024-03-01"],
            "amount": [10.0, 20.0, 5.0, 0.0],
            "gm": margins,
        }
    )


def test_margins_are_read_as_shares_or_percentages():
    tx = clv.load_transactions(
        _log(["0.3", "60%", "-0.1", " 0.5 "]), margin="gm", as_of="2024-12-31"
    )
    assert tx.data["margin"].to_list() == pytest.approx([0.3, 0.6, -0.1, 0.5])
    assert "kept 1 row with a negative margin (orders sold at a loss)" in tx.quality.notes


def test_bad_margins_are_refused_with_what_to_do():
    with pytest.raises(clv.TransactionDataError) as caught:
        clv.load_transactions(_log(["30", "x", None, "0.2"]), margin="gm", as_of="2024-12-31")
    message = str(caught.value)
    assert "1 row with no margin" in message
    assert "margins that are not numbers (first at row 2: 'x')" in message
    assert "margins above 1" in message and "0.3 or 30% for thirty percent, not 30" in message


def test_a_missing_margin_column_is_named():
    with pytest.raises(clv.TransactionDataError, match="'gross'"):
        clv.load_transactions(_log(["0.3"] * 4), margin="gross", as_of="2024-12-31")


def test_a_customer_margin_is_their_profit_over_their_revenue():
    tx = clv.load_transactions(_log(["0.3", "60%", "-0.1", "0.5"]), margin="gm", as_of="2024-12-31")
    margins = dict(customer_margins(tx).select("customer_id", "margin").rows())
    assert margins["a"] == pytest.approx((10 * 0.3 + 20 * 0.6) / 30)
    assert margins["b"] == pytest.approx(-0.1)
    # only a free order: the log's overall margin
    assert margins["c"] == pytest.approx((10 * 0.3 + 20 * 0.6 - 5 * 0.1) / 35)
    # orders after the observation end do not count
    early = dict(
        customer_margins(tx, observation_end="2024-01-31").select("customer_id", "margin").rows()
    )
    assert early["a"] == pytest.approx(0.3) and "c" not in early


def test_apply_margins_turns_revenue_into_profit_per_customer():
    scores = pl.DataFrame({"customer_id": ["a", "b"], "clv": [100.0, 50.0]})
    margins = pl.DataFrame({"customer_id": ["a", "b"], "margin": [0.25, -0.1]})
    out = apply_margins(scores, margins)
    assert out["clv"].to_list() == pytest.approx([25.0, -5.0])
    assert out["clv_revenue"].to_list() == [100.0, 50.0]
    with pytest.raises(ValueError, match="1 scored customers have no margin"):
        apply_margins(scores, margins.head(1))
    with pytest.raises(ValueError, match="already carry a margin"):
        apply_margins(out.drop("margin"), margins)


def test_one_margin_and_a_margin_column_are_not_both_taken():
    with pytest.raises(ValueError, match="give one margin for all orders or a margin per order"):
        RunConfig(margin=0.3, loader_options={"margin": "gm"})


def test_a_report_with_a_margin_per_order_from_the_command_line(tmp_path):
    """The CDNOW sample with a margin per order (higher for larger orders), run
    as a user runs it: the predicted value is each customer's predicted
    revenue times their own margin."""
    raw = pl.read_csv(
        ROOT / "data/cdnow/CDNOW_sample.csv", schema_overrides={"customer_id": pl.String}
    )
    rng = np.random.default_rng(5)
    margins = np.round(rng.uniform(0.1, 0.5, raw.height), 3)
    log = tmp_path / "orders.csv"
    raw.with_columns(pl.Series("gross_margin", [f"{m:.1%}" for m in margins])).write_csv(log)
    reports = tmp_path / "reports"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("clv")),
            "report",
            "--data",
            str(log),
            "--margin-column",
            "gross_margin",
            "--currency",
            "USD",
            "--period",
            "1998-06",
            "--observation-end",
            "1998-06-30",
            "--bootstrap",
            "20",
            "--ladder",
            "",
            "--reports-dir",
            str(reports),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    folder = reports / "1998-06"
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "expected gross profit at each customer&#x27;s own margin" in page or (
        "expected gross profit at each customer's own margin" in page
    )
    graded = pl.read_parquet(folder / "graded_customers.parquet")
    tx = clv.load_transactions(log, margin="gross_margin")
    own = customer_margins(tx, observation_end="1998-06-30")
    joined = graded.join(own.select("customer_id", pl.col("margin").alias("own")), on="customer_id")
    assert joined.height == graded.height
    assert "clv_revenue" in graded.columns
    np.testing.assert_allclose(
        joined["clv"].to_numpy(), (joined["clv_revenue"] * joined["own"]).to_numpy(), rtol=1e-12
    )
    assert not np.allclose(joined["own"].to_numpy(), joined["own"][0])  # margins differ
    facts = json.loads((folder / "summary.json").read_text(encoding="utf-8"))["facts"]
    assert facts["currency"] == "USD"
