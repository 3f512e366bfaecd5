"""Time the Spark engine against polars on one machine, and check that it agrees.

    .venv/bin/python benchmarks/generate.py --sizes 1m
    .venv/bin/python benchmarks/spark_speed.py [--size 1m] [--repeat 3] [--master local[2]]
    .venv/bin/python benchmarks/spark_speed.py --size 1m --check   # exact equality, once

Rows:

``summary_polars`` / ``summary_spark``
    :func:`clv.summarize` (``freq="D"``, ``time_unit="W"``) of the Parquet log
    read as it is (no validation on either side); Spark's result is computed
    in full (written to Spark's ``noop`` sink), not collected.
``score_polars`` / ``score_spark``
    :func:`clv.score` (BG/NBD and Gamma-Gamma fitted once on the polars
    summary) of the summary; Spark scores a cached summary on the executors
    (``mapInArrow`` over the same scoring code) into the ``noop`` sink.

Figures: the median of ``--repeat`` runs of wall seconds, CPU seconds of
this (driver) process, CPU seconds of the JVM and its Python workers (from
``psutil``, their process tree), and the 1-minute load average before the
runs (``os.getloadavg``): on a shared machine a high load inflates the wall
times. The Spark session is started once, before the timings (its start-up
is printed on its own).

``--check`` compares the collected Spark summary, calibration/holdout split,
compressed histories, scores and tiers with the polars ones, exactly, and
prints the result.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate

import clv
from clv import spark as clv_spark


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its live descendants."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _jvm_pid(spark) -> int | None:
    gateway = getattr(spark.sparkContext, "_gateway", None)
    proc = getattr(gateway, "proc", None)
    return getattr(proc, "pid", None)


def _time(work: Callable[[], object], jvm: int | None) -> tuple[float, float, float, float]:
    """(wall s, driver CPU s, JVM + workers CPU s, load average before)."""
    load = os.getloadavg()[0]
    jvm_cpu = _tree_cpu(jvm) if jvm else 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, (_tree_cpu(jvm) - jvm_cpu) if jvm else float("nan"), load


def _row(name: str, runs: list[tuple[float, float, float, float]]) -> dict[str, float | str]:
    return {
        "stage": name,
        "wall_s": statistics.median(r[0] for r in runs),
        "driver_cpu_s": statistics.median(r[1] for r in runs),
        "jvm_cpu_s": statistics.median(r[2] for r in runs),
        "load_1min": max(r[3] for r in runs),
    }


def _noop(frame) -> None:
    frame.write.format("noop").mode("overwrite").save()


def check(spark, path: Path) -> None:
    """Exact equality of every Spark result with the polars one, printed."""
    raw = spark.read.parquet(str(path))
    data = raw.cache()
    log = pl.read_parquet(path)
    windows = {
        "calibration_end": generate.CALIBRATION_END,
        "observation_end": generate.OBSERVATION_END,
    }
    results = []

    def compare(name: str, got: pl.DataFrame, expected: pl.DataFrame) -> None:
        equal = got.equals(expected) and got.schema == expected.schema
        results.append(equal)
        print(f"  {name:<28} {expected.height:>10,} rows  {'equal' if equal else 'DIFFERENT'}")

    started = time.perf_counter()
    for freq, unit in (("D", "W"), ("W", "W"), ("M", "M")):
        compare(
            f"summary freq={freq} unit={unit}",
            clv_spark.to_polars(clv.summarize(data, freq=freq, time_unit=unit)).sort("customer_id"),
            clv.summarize(log, freq=freq, time_unit=unit),
        )
    compare(
        "calibration/holdout",
        clv_spark.to_polars(clv.calibration_holdout(data, freq="D", time_unit="W", **windows)).sort(
            "customer_id"
        ),
        clv.calibration_holdout(log, freq="D", time_unit="W", **windows),
    )
    counts_equal = clv.window_counts(data, **windows) == clv.window_counts(log, **windows)
    results.append(counts_equal)
    print(f"  {'window counts':<28} {'':>15}  {'equal' if counts_equal else 'DIFFERENT'}")
    spark_summary = clv.summarize(data, freq="D", time_unit="W").cache()
    summary = clv.summarize(log, freq="D", time_unit="W")
    compare("compressed histories", clv.compress(spark_summary), clv.compress(summary))
    purchase = clv.fit_purchase_model(summary, model="bgnbd")
    spend = clv.fit_spend_model(summary)
    expected = clv.score(summary, purchase, spend)
    scores = clv.score(spark_summary, purchase, spend)
    compare("scores (executors)", clv_spark.to_polars(scores).sort("customer_id"), expected)
    compare(
        "scores (driver)",
        clv_spark.to_polars(clv_spark.score(spark_summary, purchase, spend, on="driver")).sort(
            "customer_id"
        ),
        expected,
    )
    compare(
        "tiers (five_card)",
        clv_spark.grade(scores, "five_card").to_grading().customers,
        clv.grade(expected, "five_card").customers,
    )
    print(
        f"check of {path.name}: {'all equal' if all(results) else 'DIFFERENCES FOUND'} "
        f"({time.perf_counter() - started:.0f} s)"
    )
    spark_summary.unpersist()
    data.unpersist()
    if not all(results):
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1m", choices=list(generate.SIZES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--master", default=None, help="Spark master (default local[2])")
    parser.add_argument("--check", action="store_true", help="check exact equality instead")
    args = parser.parse_args()
    path = generate.generate(args.size)
    started = time.perf_counter()
    spark = clv_spark.get_session(args.master)
    print(f"Spark session ({spark.sparkContext.master}): {time.perf_counter() - started:.1f} s")
    if args.check:
        check(spark, path)
        return
    jvm = _jvm_pid(spark)
    log = pl.read_parquet(path)
    raw = spark.read.parquet(str(path)).cache()
    raw.count()
    summary = clv.summarize(log, freq="D", time_unit="W")
    purchase = clv.fit_purchase_model(summary, model="bgnbd")
    spend = clv.fit_spend_model(summary)
    spark_summary = clv.summarize(raw, freq="D", time_unit="W").cache()
    spark_summary.count()
    _noop(clv.score(spark_summary, purchase, spend))  # starts the Python workers

    work = {
        "summary_polars": lambda: clv.summarize(log, freq="D", time_unit="W"),
        "summary_spark": lambda: _noop(clv.summarize(raw, freq="D", time_unit="W")),
        "score_polars": lambda: clv.score(summary, purchase, spend),
        "score_spark": lambda: _noop(clv.score(spark_summary, purchase, spend)),
    }
    rows = []
    for name, run in work.items():
        runs = [_time(run, jvm) for _ in range(args.repeat)]
        rows.append(_row(name, runs))
    n = log.height
    print(f"\n{n:,} transactions, {summary.height:,} customers, median of {args.repeat}")
    print("| stage | wall s | driver CPU s | JVM + workers CPU s | load (1 min) |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['stage']} | {row['wall_s']:.2f} | {row['driver_cpu_s']:.2f} | "
            f"{row['jvm_cpu_s']:.2f} | {row['load_1min']:.1f} |"
        )
    spark_summary.unpersist()
    raw.unpersist()


if __name__ == "__main__":
    main()
