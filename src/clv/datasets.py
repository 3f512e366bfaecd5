"""The sample data sets bundled in ``data/`` (see ``data/README.md``)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from clv.data import TransactionLog, load_transactions
from clv.paths import DATA_DIR

__all__ = ["cdnow", "cdnow_path", "programme_data", "synthetic", "synthetic_path"]


def cdnow_path(sample: bool = True) -> Path:
    """Path of the CDNOW log: the 1/10 sample (2,357 customers) or the master
    file (23,570 customers)."""
    return DATA_DIR / "cdnow" / ("CDNOW_sample.csv" if sample else "CDNOW_master.csv")


def cdnow(sample: bool = True) -> TransactionLog:
    """The CDNOW transaction log (customers who first bought in Q1 1997,
    purchases to the end of June 1998), loaded and validated."""
    return load_transactions(cdnow_path(sample), as_of="1998-06-30")


def synthetic_path() -> Path:
    """Path of the synthetic log drawn from known parameters
    (:data:`clv.simulate.SYNTHETIC_TRUTH`)."""
    return DATA_DIR / "synthetic" / "transactions.csv"


def synthetic() -> TransactionLog:
    """The synthetic transaction log, loaded and validated."""
    return load_transactions(synthetic_path())


def programme_data(name: str) -> pl.DataFrame:
    """A synthetic programme table from ``data/programmes/`` (see its README):
    ``member_events``, ``member_redemptions``, ``b2b_accounts``,
    ``satisfaction`` or ``orders_categories``."""
    path = DATA_DIR / "programmes" / f"{name}.csv"
    if not path.is_file():
        raise FileNotFoundError(
            f"no programme data called {name!r}; use member_events, member_redemptions, "
            "orders_categories, "
            "b2b_accounts or satisfaction"
        )
    ids = {"customer_id": pl.String, "account": pl.String, "product_id": pl.String}
    frame = pl.read_csv(path, schema_overrides=ids, try_parse_dates=True)
    return frame
