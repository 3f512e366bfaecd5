"""Files a report run reads besides the log: a previous run's graded table."""

from __future__ import annotations

from pathlib import Path

import polars as pl

__all__ = ["read_graded"]


def read_graded(path: str | Path) -> pl.DataFrame:
    """Read a graded customer table written by a previous run (Parquet or CSV)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"previous graded table {path} does not exist; give the graded_customers.parquet "
            "of an earlier report, or leave previous_graded empty"
        )
    if path.suffix == ".csv":
        table = pl.read_csv(path, infer_schema=False)
        # undo the spreadsheet-formula guard of our CSV export ('=x -> =x)
        table = table.with_columns(
            pl.col(pl.String).str.replace(r"^'([=+\-@\t\r])", "$1"),
        ).with_columns(pl.col("tier_rank").cast(pl.Int64, strict=False))
    else:
        table = pl.read_parquet(path)
    if "customer_id" not in table.columns:
        raise ValueError(
            f"previous graded table {path} has no customer_id column; give the "
            "graded_customers.parquet of an earlier report"
        )
    return table.with_columns(pl.col("customer_id").cast(pl.String))
