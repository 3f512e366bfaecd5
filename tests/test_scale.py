"""Scale: the summary streams a partitioned log bigger than the process may use,
and the benchmark runner runs (the timings themselves live in benchmarks/)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import clv
from clv.paths import PROJECT_ROOT

CGROUP_ROOT = Path("/sys/fs/cgroup/memory")
CAP_BYTES = 450 * 2**20


def _cgroup(tmp_name: str) -> Path | None:
    """A memory-capped cgroup (v1) for child processes, or None where the
    machine does not let this process make one."""
    folder = CGROUP_ROOT / tmp_name
    try:
        folder.mkdir()
        (folder / "memory.limit_in_bytes").write_text(str(CAP_BYTES))
    except OSError:
        return None
    return folder


def _run_capped(cgroup: Path, code: str) -> subprocess.CompletedProcess:
    def enter() -> None:
        (cgroup / "cgroup.procs").write_text(str(os.getpid()))

    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        preexec_fn=enter,
        cwd=PROJECT_ROOT,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def wide_log(tmp_path_factory) -> Path:
    """A month-partitioned log whose full frame needs more memory than the cap:
    500k transactions carrying 150 extra columns the summary does not read."""
    folder = tmp_path_factory.mktemp("wide") / "by_month"
    log = clv.simulate_transactions(
        50_000, r=0.9, alpha=5.0, a=0.6, b=8.0, seed=3, acquisition_days=364, observation_days=730
    )
    rng = np.random.default_rng(0)
    extra = pl.DataFrame(rng.random((log.height, 150)), schema=[f"x{i}" for i in range(150)])
    wide = pl.concat([log, extra], how="horizontal").with_columns(
        pl.col("date").dt.strftime("%Y-%m").alias("month")
    )
    assert wide.estimated_size() > 1.2 * CAP_BYTES
    wide.write_parquet(folder, partition_by="month")
    return folder


def test_summary_streams_a_log_bigger_than_the_memory_cap(wide_log, tmp_path):
    cgroup = _cgroup(f"clv-test-{os.getpid()}")
    if cgroup is None:
        pytest.skip(f"no writable cgroup-v1 memory controller at {CGROUP_ROOT} to cap memory")
    try:
        summarise = (
            "import clv\n"
            f"lf = clv.scan_transactions({str(wide_log)!r})\n"
            "s = clv.summarize(lf, freq='D', time_unit='W', observation_end='2025-12-31')\n"
            f"s.write_parquet({str(tmp_path / 's.parquet')!r})\n"
        )
        done = _run_capped(cgroup, summarise)
        assert done.returncode == 0, done.stderr[-2000:]
        # the cap is real: loading the whole log in the same cgroup is killed
        load_all = f"import polars as pl\npl.read_parquet({str(wide_log)!r}).sum()\n"
        assert _run_capped(cgroup, load_all).returncode != 0
    finally:
        cgroup.rmdir()
    streamed = pl.read_parquet(tmp_path / "s.parquet")
    in_memory = clv.summarize(
        pl.scan_parquet(wide_log).select("customer_id", "date", "amount"),
        freq="D",
        time_unit="W",
        observation_end="2025-12-31",
    )
    assert streamed.equals(in_memory)
    assert streamed.height == 50_000


def test_scan_transactions_checks_rows(tmp_path):
    bad = pl.DataFrame(
        {"customer_id": ["a", None], "date": [None, None], "amount": [1.0, -2.0]},
        schema_overrides={"date": pl.Datetime("us")},
    )
    bad.write_parquet(tmp_path / "bad.parquet")
    with pytest.raises(clv.TransactionDataError) as err:
        clv.scan_transactions(tmp_path / "bad.parquet")
    message = str(err.value)
    assert "1 row with no customer id" in message
    assert "2 rows with no date" in message
    assert "1 row with negative amounts" in message


def test_benchmark_runner_smoke(tmp_path):
    out = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/run.py",
            "--sizes",
            "100k",
            "--repeat",
            "1",
            "--stages",
            "baseline",
            "summary",
            "fit_bgnbd",
            "score",
            "lt_summary",
            "lt_fit_bgnbd",
            "lt_score",
            "fit_gamma_gamma",
            "lt_fit_gamma_gamma",
            "--out",
            str(out),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    text = out.read_text(encoding="utf-8")
    assert "| summary |" in text and "| lt_fit_bgnbd |" in text
    assert "GiB" in text and "not finished" not in text
    assert "Core path" in text and "ratio" in text
    assert out.with_name("scaling.png").is_file()
