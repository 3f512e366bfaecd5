"""Time the loader: ``load_transactions`` alone and load + ``summarize``.

    .venv/bin/python benchmarks/generate.py --sizes 10m
    .venv/bin/python benchmarks/loader_speed.py [--size 10m] [--repeat 3] [--path FILE]

Each repeat runs in this process, one after the other; the figures printed are
wall seconds (``time.perf_counter``), CPU seconds of this process (user +
system, ``time.process_time``, all threads together) and the machine's
1-minute load average (``os.getloadavg``) before each run, so that a slow run on
a busy machine can be told from a slow loader. The best wall time of the
repeats is the figure to compare; the load average says how far to trust it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate

import clv


def _time(work: Callable[[], object]) -> tuple[float, float, float]:
    """(wall s, CPU s, 1-minute load average before the run)."""
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu, load


def _report(name: str, runs: list[tuple[float, float, float]]) -> None:
    walls = [r[0] for r in runs]
    cpus = [r[1] for r in runs]
    loads = [r[2] for r in runs]
    print(
        f"{name:<16} wall best {min(walls):6.2f} s  median {statistics.median(walls):6.2f} s"
        f"  |  CPU best {min(cpus):6.2f} s  median {statistics.median(cpus):6.2f} s"
        f"  |  load avg {min(loads):.2f}-{max(loads):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="10m", choices=list(generate.SIZES))
    parser.add_argument("--path", type=Path, help="a log to time instead of the generated one")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = args.path or generate.generate(args.size)
    as_of = "2030-01-01"

    def load() -> clv.TransactionLog:
        return clv.load_transactions(path, as_of=as_of)

    def load_and_summary() -> None:
        clv.summarize(load(), freq="D", time_unit="W", observation_end=generate.OBSERVATION_END)

    tx = load()  # warm up: file cache, imports, polars thread pool
    print(f"{path}: {tx.quality.rows_read:,} rows, {tx.n_customers:,} customers")
    print(f"clv from {Path(clv.__file__).parent}, {os.cpu_count()} CPUs")
    del tx
    _report("load", [_time(load) for _ in range(args.repeat)])
    _report("load + summary", [_time(load_and_summary) for _ in range(args.repeat)])


if __name__ == "__main__":
    main()
