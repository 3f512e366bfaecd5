"""How fast the command answers: ``clv --help``, and a bad file before any kernel.

    .venv/bin/python benchmarks/startup.py [--repeat 5]

Prints, for each case, the median wall and CPU seconds of whole processes
(CPU = user + system of the child) and the machine's load, and the ten
slowest imports of ``import clv.cli`` from ``python -X importtime``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLV = str(Path(sys.executable).with_name("clv"))
ROOT = Path(__file__).resolve().parents[1]


def _time(command: list[str], cwd: Path) -> tuple[float, float, int]:
    before = os.times()
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu, result.returncode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "bad.csv").write_text("customer_id,date,amount\nC1,03/04/2024,5\n")
        sample = ROOT / "data" / "cdnow" / "CDNOW_sample.csv"
        cases = {
            "clv --help": [CLV, "--help"],
            "clv report --help": [CLV, "report", "--help"],
            "bad file (ambiguous dates)": [
                *(CLV, "report", "--data", "bad.csv"),
                *("--period", "2024-06", "--observation-end", "2024-06-30"),
            ],
            "bad option on the CDNOW sample (observation end years after the data)": [
                *(CLV, "report", "--data", str(sample)),
                *("--period", "2031-01", "--observation-end", "2031-01-31"),
            ],
        }
        print(f"load average before: {os.getloadavg()}; {os.cpu_count()} CPUs")
        print(f"{'case':<72} {'wall s':>7} {'CPU s':>7} exit")
        for name, command in cases.items():
            runs = [_time(command, work) for _ in range(args.repeat)]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            print(f"{name:<72} {wall:7.2f} {cpu:7.2f} {runs[0][2]:>4}")
        print(f"load average after: {os.getloadavg()}")
    trace = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import clv.cli"],
        capture_output=True,
        text=True,
    ).stderr
    rows = []
    for line in trace.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(.+)", line)
        if match:
            rows.append((int(match.group(2)), match.group(3).strip()))
    print("slowest imports of `import clv.cli` (cumulative microseconds):")
    for cumulative, module in sorted(rows, reverse=True)[:10]:
        print(f"  {cumulative:>9,}  {module}")


if __name__ == "__main__":
    main()
