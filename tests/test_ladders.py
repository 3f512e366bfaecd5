"""Membership ladders: shipped boundaries, upgrade and downgrade sequences."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

import clv
from clv.programmes.ladders import evaluation_dates, load_ladder, run_ladder

D = dt.date


@pytest.mark.parametrize(
    ("ladder", "value", "level"),
    [
        ("ladder_medals", 50, "flower_1"),
        ("ladder_medals", 51, "flower_2"),
        ("ladder_medals", 1_000, "flower_5"),
        ("ladder_medals", 1_001, "bee_1"),
        ("ladder_medals", 50_000, "bee_5"),
        ("ladder_medals", 50_001, "queen_1"),
        ("ladder_medals", 2_000_000, "queen_5"),
        ("ladder_medals", 2_000_001, "queen_lifetime"),
        ("ladder_supermarket", 999, "A"),
        ("ladder_supermarket", 1_000, "B"),
        ("ladder_supermarket", 3_000, "C"),
        ("ladder_supermarket", 5_000, "C"),
        ("ladder_supermarket", 5_001, "D"),
        ("ladder_telecom_stars", 49.99, "star_1"),
        ("ladder_telecom_stars", 50, "star_2"),
        ("ladder_telecom_stars", 1_000, "star_6"),
        ("ladder_five_card", 999, "regular"),
        ("ladder_five_card", 1_000, "silver"),
        ("ladder_five_card", 50_000, "diamond"),
    ],
)
def test_shipped_boundaries(ladder, value, level):
    loaded = load_ladder(ladder)
    assert loaded.levels[loaded.level_for(value)]["id"] == level


def test_supermarket_discounts():
    levels = load_ladder("ladder_supermarket").levels
    assert [lv["discount"] for lv in levels] == [0.05, 0.10, 0.12, 0.20]


def test_evaluation_calendars():
    assert evaluation_dates("quarterly", D(2024, 2, 10), D(2024, 12, 31)) == [
        D(2024, 4, 1),
        D(2024, 7, 1),
        D(2024, 10, 1),
    ]
    assert evaluation_dates("yearly", D(2023, 3, 1), D(2025, 12, 31)) == [
        D(2024, 1, 1),
        D(2025, 1, 1),
    ]
    assert evaluation_dates("anniversary", D(2020, 2, 29), D(2022, 12, 31), D(2020, 2, 29)) == [
        D(2021, 3, 1),
        D(2022, 3, 1),
    ]


ORDERS = pl.DataFrame(
    {
        "customer_id": ["a", "a", "b", "b", "b"],
        "date": [D(2023, 3, 1), D(2023, 6, 1), D(2023, 3, 1), D(2024, 12, 20), D(2025, 1, 15)],
        "amount": [1_200.0, 4_000.0, 6_000.0, 100.0, 5_000.0],
    }
)


def test_upgrade_confirm_grace_and_downgrade_by_one_level():
    # five cards on spend over the last 365 days: immediate upgrades, yearly evaluation,
    # 30 days' grace, at most one level down per evaluation
    result = run_ladder("ladder_five_card", orders=ORDERS, end="2025-12-31")
    a = (
        result.changes.filter(pl.col("customer_id") == "a")
        .select("date", "level_id", "event", "provisional")
        .rows()
    )
    assert a == [
        (D(2023, 3, 1), "silver", "joined", True),
        (D(2023, 6, 1), "gold", "upgrade", True),  # provisional until the first evaluation
        (D(2024, 1, 1), "gold", "confirmed", False),
        # 2025-01-01: nothing spent in the last year; after 30 days' grace, down one level
        (D(2025, 1, 31), "silver", "downgrade", False),
    ]
    # b fell below Gold at the 2025 evaluation but bought again within the grace period
    b = result.changes.filter(pl.col("customer_id") == "b").select("level_id", "event").rows()
    assert b == [("gold", "joined"), ("gold", "confirmed")]
    on_day = result.as_of("2025-02-01", lang="zh")
    assert dict(on_day.select("customer_id", "level_name").rows()) == {"a": "银卡", "b": "金卡"}


def test_upgrade_only_at_evaluation_on_points_earned():
    ledger = clv.programmes.build_ledger(
        ORDERS.filter(pl.col("customer_id") == "a"), as_of="2024-06-30"
    )
    result = run_ladder(
        "ladder_supermarket", points=ledger.entries, orders=ORDERS, end="2024-06-30"
    )
    rows = result.changes.select("date", "level_id", "event", "provisional").rows()
    # joined with the first order's 1,200 points (B, provisional); the 4,000 points of
    # June wait for the yearly evaluation, which upgrades to D (5,200) and confirms it
    assert rows == [
        (D(2023, 3, 1), "B", "joined", True),
        (D(2024, 1, 1), "D", "upgrade", False),
    ]


def test_lifetime_level_is_never_lost():
    entries = pl.DataFrame(
        {
            "customer_id": ["q", "q"],
            "date": [D(2023, 1, 10), D(2023, 1, 20)],
            "kind": ["earn", "redeem"],
            "points": [2_000_500, -2_000_490],
        }
    )
    result = run_ladder("ladder_medals", points=entries, end="2023-12-31")
    assert result.as_of("2023-12-31")["level_name"].item() == "Lifetime Queen"
    assert "downgrade" not in result.changes["event"].to_list()


def test_ladder_mistakes_are_explained(tmp_path):
    path = tmp_path / "ladder.toml"
    path.write_text(
        'id = "x"\nbasis = "likes"\nevaluation = "weekly"\nupgrade = "now"\ncolour = 1\n'
        '[[levels]]\nid = "a"\nzh = "甲"\nen = "A"\nmin = 10\n'
        '[[levels]]\nid = "b"\nzh = "乙"\nen = "B"\nmin = 5\n',
        encoding="utf-8",
    )
    with pytest.raises(clv.SchemeError) as err:
        load_ladder(path)
    message = str(err.value)
    for expected in (
        "unknown key 'colour'",
        "basis 'likes'",
        "evaluation 'weekly'",
        "upgrade must be",
        "must rise strictly",
    ):
        assert expected in message


def test_statuses_outside_the_ladder():
    registrations = pl.DataFrame(
        {
            "customer_id": ["a", "b", "n", "x"],
            "registered": [D(2023, 3, 1), D(2023, 3, 1), D(2024, 5, 1), D(2023, 1, 1)],
        }
    )
    result = run_ladder(
        "ladder_five_card", orders=ORDERS, end="2025-12-31", registrations=registrations
    )
    statuses = dict(
        result.as_of("2025-02-01", blocked={"x"}).select("customer_id", "status").rows()
    )
    # a last bought in June 2023: no order in the (yearly) period; b bought in January;
    # n registered but never ordered; x is blocked
    assert statuses == {
        "a": "no_order_in_period",
        "b": "active",
        "n": "never_ordered",
        "x": "blocked",
    }
