"""Time the membership-ladder section: ``run_ladder`` and ``as_of`` on a large log.

    .venv/bin/python benchmarks/generate.py --sizes 10m
    .venv/bin/python benchmarks/ladder_speed.py [--size 10m] [--repeat 3]
        [--ladder ladder_five_card] [--reference-repeat 0]

The log is loaded once with ``clv.load_transactions``; then each repeat runs
the ladder over the whole log up to the observation end and reads every
member's grade and status on that day, as the report's section does. The
figures are medians over the repeats: wall seconds (``time.perf_counter``), CPU
seconds of this process (user + system, all threads), the machine's 1-minute
load average before each run (``os.getloadavg``: a slow run on a busy machine
can be told from a slow implementation) and the peak resident memory of the
process (``ru_maxrss``) with its rise over the loaded log.

``--reference-repeat N`` also times the one-customer-at-a-time reference
(``_run_ladder_reference``) on the same log with the same ladder measured over a
trailing window, as the implementation before vectorisation did (minutes on
10M transactions), and checks that both give the same changes.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate

import clv
from clv.programmes.ladders import _run_ladder_reference, load_ladder, run_ladder


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def _time(work: Callable[[], object]) -> tuple[float, float, float, object]:
    """(wall s, CPU s, 1-minute load average before the run, result)."""
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - wall, time.process_time() - cpu, load, result


def _report(name: str, runs: list[tuple[float, float, float, object]], base: float) -> None:
    walls = [r[0] for r in runs]
    cpus = [r[1] for r in runs]
    loads = [r[2] for r in runs]
    print(
        f"{name:<22} wall median {statistics.median(walls):7.2f} s (best {min(walls):.2f})"
        f"  |  CPU median {statistics.median(cpus):7.2f} s"
        f"  |  load avg {min(loads):.2f}-{max(loads):.2f}"
        f"  |  peak RSS {_peak_gib():.2f} GiB (+{_peak_gib() - base:.2f} over the loaded log)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="10m", choices=list(generate.SIZES))
    parser.add_argument("--path", type=Path, help="a log to time instead of the generated one")
    parser.add_argument("--ladder", default="ladder_five_card")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference-repeat", type=int, default=0)
    args = parser.parse_args()
    path = args.path or generate.generate(args.size)
    end = generate.OBSERVATION_END
    tx = clv.load_transactions(path, as_of="2030-01-01")
    orders = tx.data
    print(f"{path}: {orders.height:,} rows, {tx.n_customers:,} customers, {os.cpu_count()} CPUs")
    ladder = load_ladder(args.ladder)
    base = _peak_gib()

    def section(ladder=ladder) -> object:
        result = run_ladder(ladder, orders=orders, end=end)
        return result, result.as_of(end)

    runs = [_time(section) for _ in range(args.repeat)]
    _report(f"{ladder.id} (vectorised)", runs, base)
    levels = runs[-1][3][1]
    print(levels.group_by("level_id", "status").len().sort("level_id"))
    if args.reference_repeat:
        window = max(ladder.window_days, 365)
        trailing = dataclasses.replace(ladder, window="trailing", window_days=window)
        by = ["customer_id", "date", "level", "event"]

        def reference() -> object:
            return _run_ladder_reference(trailing, orders=orders, end=end)

        old_runs = [_time(reference) for _ in range(args.reference_repeat)]
        new_runs = [
            _time(lambda: run_ladder(trailing, orders=orders, end=end))
            for _ in range(args.reference_repeat)
        ]
        _report("trailing: reference", old_runs, base)
        _report("trailing: vectorised", new_runs, base)
        same = old_runs[-1][3].sort(by).equals(new_runs[-1][3].changes.sort(by))
        print(f"same changes: {same}")


if __name__ == "__main__":
    main()
