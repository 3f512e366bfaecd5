"""Tier migration between two graded tables."""

from __future__ import annotations

import polars as pl
import pytest

from clv.migration import migrate

PREVIOUS = pl.DataFrame(
    {"customer_id": ["a", "b", "c", "d"], "tier_rank": [1, 2, 3, 3], "tier_name": list("ABCC")}
)
CURRENT = pl.DataFrame(
    {
        "customer_id": ["a", "b", "c", "e"],
        "tier_rank": [2, 2, 1, 3],
        "tier_name": ["B", "B", "A", "C"],
        "clv": [50.0, 40.0, 300.0, 5.0],
    }
)


def test_movements_by_hand():
    m = migrate(PREVIOUS, CURRENT)
    moves = dict(m.customers.select("customer_id", "movement").rows())
    assert moves == {"a": "down", "b": "same", "c": "up", "d": "left", "e": "new"}
    assert m.counts() == {"up": 1, "down": 1, "same": 1, "new": 1, "left": 1}


def test_transition_matrix():
    m = migrate(PREVIOUS, CURRENT)
    counts = m.matrix()
    assert counts.columns == ["from", "A", "B", "C", "left"]
    assert counts["from"].to_list() == ["new", "A", "B", "C"]
    assert counts.row(1) == ("A", 0, 1, 0, 0)  # a: A -> B
    assert counts.row(3) == ("C", 1, 0, 0, 1)  # c: C -> A, d: C -> left
    assert counts.row(0) == ("new", 0, 0, 1, 0)  # e is new in C
    shares = m.matrix(normalize=True)
    assert shares.row(3) == ("C", 0.5, 0.0, 0.0, 0.5)
    assert counts.select(pl.exclude("from")).sum_horizontal().sum() == 5


def test_largest_movers():
    movers = migrate(PREVIOUS, CURRENT).largest_movers(n=1)
    assert movers["customer_id"].to_list() == ["a", "c"]  # down first, then up
    assert movers["movement"].to_list() == ["down", "up"]


def test_bad_tables_are_explained():
    with pytest.raises(ValueError, match="lacks"):
        migrate(PREVIOUS.drop("tier_rank"), CURRENT)
    twice = pl.concat([CURRENT, CURRENT])
    with pytest.raises(ValueError, match="twice"):
        migrate(PREVIOUS, twice)


def test_largest_movers_name_the_tiers_and_rank_by_change_in_value():
    previous = pl.DataFrame(
        {"customer_id": ["a", "b", "c"], "tier_rank": [2, 2, 1], "clv": [10.0, 50.0, 90.0]}
    )
    current = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "tier_rank": [1, 1, 2],
            "clv": [100.0, 60.0, 20.0],
            "tier_name": ["Gold", "Gold", "Silver"],
        }
    )
    movers = migrate(previous, current).largest_movers(5)
    up = movers.filter(pl.col("movement") == "up")
    assert up["customer_id"].to_list() == ["a", "b"]  # +90 before +10
    assert up["previous_tier"].to_list() == ["Silver", "Silver"]
    assert up["current_tier"].to_list() == ["Gold", "Gold"]
    assert up["value_change"].to_list() == [90.0, 10.0]
    down = movers.filter(pl.col("movement") == "down")
    assert down.row(0, named=True)["value_change"] == -70.0
