"""Write the benchmark transaction logs (seeded, through clv's simulator).

    .venv/bin/python benchmarks/generate.py [--sizes 100k 1m 10m]

For each size, ``benchmarks/data/tx_<size>.parquet`` (about 10 transactions
per customer: 10k, 100k and 1M customers acquired over a year, observed for
two years) and, for the largest, ``benchmarks/data/tx_<size>_by_month/``
partitioned by month (hive style) for the streaming summary. Existing files
are kept, so the command is cheap to repeat.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import polars as pl

import clv

DATA = Path(__file__).resolve().parent / "data"
SIZES = {"100k": 10_000, "1m": 100_000, "10m": 1_000_000}  # label -> customers
# BG/NBD and Gamma-Gamma parameters (weekly rates) giving about 10 purchases
# per customer in two years; spend as in the published CDNOW estimates.
PARAMS = {"r": 0.9, "alpha": 5.0, "a": 0.6, "b": 8.0, "p_spend": 6.25, "q": 3.74, "gamma": 15.44}
WINDOW = {"start": "2022-01-01", "acquisition_days": 364, "observation_days": 730}
OBSERVATION_END = "2023-12-31"
CALIBRATION_END = "2023-06-30"


def path_for(label: str) -> Path:
    return DATA / f"tx_{label}.parquet"


def partitioned_for(label: str) -> Path:
    return DATA / f"tx_{label}_by_month"


def generate(label: str, partitioned: bool = False) -> Path:
    """Write one log (and its month-partitioned copy); returns the file."""
    DATA.mkdir(parents=True, exist_ok=True)
    target = path_for(label)
    if not target.exists():
        log = clv.simulate_transactions(SIZES[label], **PARAMS, **WINDOW, seed=2024)
        log.write_parquet(target)
    folder = partitioned_for(label)
    if partitioned and not folder.exists():
        (
            pl.scan_parquet(target)
            .with_columns(pl.col("date").dt.strftime("%Y-%m").alias("month"))
            .collect()
            .write_parquet(folder, partition_by="month")
        )
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    args = parser.parse_args()
    for label in args.sizes:
        start = time.perf_counter()
        path = generate(label, partitioned=label == "10m")
        rows = pl.scan_parquet(path).select(pl.len()).collect().item()
        print(f"{path.name}: {rows:,} transactions ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
