"""Build the sample data in data/ (run once; the files are committed).

    .venv/bin/python scripts/make_sample_data.py

The CDNOW logs are read from the text files that ship inside the lifetimes
wheel (lifetimes/datasets/CDNOW_master.txt and CDNOW_sample.txt) and written
as tidy CSV. The synthetic log is drawn by clv.simulate from known BG/NBD and
Gamma-Gamma parameters with a fixed seed. This is the only step that writes
into data/.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import polars as pl

from clv.paths import DATA_DIR
from clv.simulate import SYNTHETIC_TRUTH, simulate_transactions


def _lifetimes_datasets() -> Path:
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or spec.origin is None:
        raise SystemExit("lifetimes is not installed; run `make venv` first")
    return Path(spec.origin).parent / "datasets"


def _read_cdnow(path: Path, columns: list[str]) -> pl.DataFrame:
    # whitespace-separated, ids zero-padded; the master file has a header line
    lines = [
        line.split()
        for line in path.read_text().splitlines()
        if line.strip() and not line.split()[0].isalpha() and "customer_id" not in line
    ]
    return pl.DataFrame(lines, schema=columns, orient="row")


def _tidy(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        pl.col("customer_id"),
        pl.col("date").str.strptime(pl.Date, "%Y%m%d"),
        pl.col("amount").cast(pl.Float64),
        pl.col("quantity").cast(pl.Int64),
    )


def main() -> None:
    src = _lifetimes_datasets()
    out = DATA_DIR / "cdnow"
    out.mkdir(parents=True, exist_ok=True)
    master = _read_cdnow(src / "CDNOW_master.txt", ["customer_id", "date", "quantity", "amount"])
    _tidy(master).write_csv(out / "CDNOW_master.csv")
    # the sample file has the master id and a 1..2357 sample id; keep the master id
    sample = _read_cdnow(
        src / "CDNOW_sample.txt", ["customer_id", "sample_id", "date", "quantity", "amount"]
    )
    _tidy(sample).write_csv(out / "CDNOW_sample.csv")

    synthetic_dir = DATA_DIR / "synthetic"
    synthetic_dir.mkdir(parents=True, exist_ok=True)
    simulate_transactions(**SYNTHETIC_TRUTH).write_csv(synthetic_dir / "transactions.csv")


if __name__ == "__main__":
    main()
