"""Period-over-period tier migration.

Compares two graded tables (one row per customer with ``customer_id`` and
``tier_rank``, as :attr:`clv.Grading.customers` or a report's
``graded_customers`` table): who entered, who left, who moved up or down, and
the transition matrix between tiers.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

__all__ = ["Migration", "match_ids", "migrate"]

NEW = 0  # row label of customers without a previous tier


@dataclass(frozen=True)
class Migration:
    """Transitions between a previous and a current grading.

    ``customers``: one row per customer in either table: ``customer_id``,
    ``previous_rank``, ``current_rank`` (null where absent), ``previous_clv``, ``movement``
    (``up``, ``down``, ``same``, ``new``, ``left``) and ``clv`` (current).
    """

    customers: pl.DataFrame
    tier_names: dict[int, str]
    ids_matched_without_leading_zeros: int = 0

    def counts(self) -> dict[str, int]:
        """Customers per movement."""
        counted = self.customers.group_by("movement").agg(pl.len()).rows()
        result = {m: 0 for m in ("up", "down", "same", "new", "left")}
        result.update({m: int(n) for m, n in counted})
        return result

    def matrix(self, normalize: bool = False) -> pl.DataFrame:
        """Transition matrix: rows = previous tier (and ``new``), columns = current
        tier (and ``left``); counts, or row shares with ``normalize=True``."""
        ranks = sorted(self.tier_names)
        row_labels = ["new", *[self.tier_names[r] for r in ranks]]
        col_labels = [*[self.tier_names[r] for r in ranks], "left"]
        frame = self.customers.with_columns(
            pl.col("previous_rank").fill_null(NEW).alias("_from"),
            pl.col("current_rank").fill_null(-1).alias("_to"),
        )
        cells = {(a, b): n for a, b, n in frame.group_by("_from", "_to").agg(pl.len()).rows()}
        data: dict[str, list] = {"from": row_labels}
        for to_rank, label in zip([*ranks, -1], col_labels, strict=True):
            data[label] = [cells.get((f, to_rank), 0) for f in [NEW, *ranks]]
        matrix = pl.DataFrame(data)
        if normalize:
            total = pl.sum_horizontal(col_labels)
            matrix = matrix.with_columns(
                [
                    pl.when(total > 0).then(pl.col(c) / total).otherwise(0.0).alias(c)
                    for c in col_labels
                ]
            )
        return matrix

    def largest_movers(self, n: int = 10) -> pl.DataFrame:
        """The customers who moved up or down whose move changes the predicted
        value most (``n`` of each), with the tiers' names: ``customer_id``,
        ``movement``, ``previous_tier``, ``current_tier``, ``previous_clv``
        (null when the previous table had none), ``clv`` and ``value_change``."""
        names = {int(k): v for k, v in self.tier_names.items()}
        movers = self.customers.filter(pl.col("movement").is_in(["up", "down"])).with_columns(
            pl.col("previous_rank")
            .replace_strict(names, return_dtype=pl.String, default=None)
            .alias("previous_tier"),
            pl.col("current_rank")
            .replace_strict(names, return_dtype=pl.String, default=None)
            .alias("current_tier"),
            (pl.col("clv") - pl.col("previous_clv")).alias("value_change"),
        )
        return (
            movers.with_columns(
                pl.coalesce(pl.col("value_change").abs(), pl.col("clv")).alias("_size")
            )
            .sort(["movement", "_size", "customer_id"], descending=[False, True, False])
            .group_by("movement", maintain_order=True)
            .head(n)
            .select(
                "customer_id",
                "movement",
                "previous_tier",
                "current_tier",
                "previous_clv",
                "clv",
                "value_change",
            )
        )


def migrate(
    previous: pl.DataFrame, current: pl.DataFrame, tier_names: dict[int, str] | None = None
) -> Migration:
    """Compare a previous graded table with the current one.

    Parameters
    ----------
    previous, current
        Graded tables with ``customer_id`` and ``tier_rank`` (``current`` also
        ``clv`` and ``tier_name`` when available).
    tier_names
        Rank -> display name; read from ``current`` when it has ``tier_name``.
    """
    for label, frame in (("previous", previous), ("current", current)):
        missing = {"customer_id", "tier_rank"} - set(frame.columns)
        if missing:
            raise ValueError(
                f"the {label} graded table lacks {sorted(missing)}; give a table written "
                "by a grading run (graded_customers.parquet) or Grading.customers"
            )
        if frame["customer_id"].n_unique() != frame.height:
            raise ValueError(f"the {label} graded table lists some customers twice")
    previous, current, rematched = match_ids(previous, current)
    if tier_names is None:
        source = current if "tier_name" in current.columns else previous
        if "tier_name" in source.columns:
            pairs = source.select("tier_rank", "tier_name").unique().rows()
            tier_names = {int(r): str(n) for r, n in pairs}
        else:
            ranks = set(previous["tier_rank"].to_list()) | set(current["tier_rank"].to_list())
            tier_names = {int(r): f"tier {r}" for r in ranks}
    value = (
        [pl.col("clv").cast(pl.Float64)] if "clv" in current.columns else [pl.lit(0.0).alias("clv")]
    )
    previous_value = (
        [pl.col("clv").cast(pl.Float64).alias("previous_clv")]
        if "clv" in previous.columns
        else [pl.lit(None, dtype=pl.Float64).alias("previous_clv")]
    )
    joined = previous.select(
        "customer_id", pl.col("tier_rank").cast(pl.Int64).alias("previous_rank"), *previous_value
    ).join(
        current.select(
            "customer_id", pl.col("tier_rank").cast(pl.Int64).alias("current_rank"), *value
        ),
        on="customer_id",
        how="full",
        coalesce=True,
    )
    movement = (
        pl.when(pl.col("previous_rank").is_null())
        .then(pl.lit("new"))
        .when(pl.col("current_rank").is_null())
        .then(pl.lit("left"))
        .when(pl.col("current_rank") < pl.col("previous_rank"))
        .then(pl.lit("up"))
        .when(pl.col("current_rank") > pl.col("previous_rank"))
        .then(pl.lit("down"))
        .otherwise(pl.lit("same"))
    )
    customers = joined.with_columns(movement.alias("movement"), pl.col("clv").fill_null(0.0)).sort(
        "customer_id"
    )
    return Migration(
        customers=customers,
        tier_names=dict(sorted(tier_names.items())),
        ids_matched_without_leading_zeros=rematched,
    )


def _unpadded(ids: pl.Expr) -> pl.Expr:
    stripped = ids.str.strip_chars_start("0")
    return pl.when(stripped == "").then(pl.lit("0")).otherwise(stripped)


def match_ids(
    previous: pl.DataFrame, current: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Make the ids of two graded tables comparable.

    Ids are compared as text. When one run read ids as numbers (a Parquet
    export, say: ``7``) and the other as text (``007``), the same customers
    carry different ids; if matching without leading zeros pairs more
    customers, and pairs them one to one, the previous table's ids are
    rewritten to the current ones. Returns both tables and the number of ids
    rewritten.

    Raises
    ------
    ValueError
        When the ids only match without leading zeros but that matching is
        not one to one (``007`` and ``7`` are both current customers).
    """
    previous = previous.with_columns(pl.col("customer_id").cast(pl.String))
    current = current.with_columns(pl.col("customer_id").cast(pl.String))
    # only ids without an exact partner are paired by their digits
    prev_alone = previous.join(current.select("customer_id"), on="customer_id", how="anti")
    curr_alone = current.join(previous.select("customer_id"), on="customer_id", how="anti")
    keyed_prev = prev_alone.select("customer_id", _unpadded(pl.col("customer_id")).alias("_key"))
    keyed_curr = curr_alone.select(
        pl.col("customer_id").alias("_current_id"), _unpadded(pl.col("customer_id")).alias("_key")
    )
    loose = keyed_prev.join(keyed_curr, on="_key")
    if loose.height == 0:
        return previous, current, 0
    if loose["customer_id"].is_duplicated().any() or loose["_current_id"].is_duplicated().any():
        raise ValueError(
            f"{loose.height:,} customer ids of the previous graded table match this period's "
            "only when leading zeros are ignored, and ids such as '007' and '7' both occur, so "
            "they cannot be paired safely. Read both logs with ids as text (store them as text "
            "in Parquet), or grade again with leading_zeros='strip'"
        )
    renamed = loose.filter(pl.col("customer_id") != pl.col("_current_id"))
    mapping = dict(zip(renamed["customer_id"], renamed["_current_id"], strict=True))
    previous = previous.with_columns(pl.col("customer_id").replace(mapping))
    return previous, current, len(mapping)
