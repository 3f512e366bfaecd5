"""Satisfaction scoring with the complaint rule."""

from __future__ import annotations

import polars as pl
import pytest

from clv.programmes.satisfaction import INDICATORS, satisfaction_by_group, score_satisfaction


def test_fourteen_indicators():
    assert len(INDICATORS) == 14
    assert INDICATORS["delivery_timeliness"] == ("delivery timeliness", "交货及时性")


def test_scores_and_the_complaint_rule():
    ratings = pl.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b", "b"],
            "indicator": [
                "appearance",
                "packaging",
                "safety",
                "training",
                "stability",
                "installation",
            ],
            "rating": ["very_satisfied", "satisfied", "neutral", "satisfied", "5", "1"],
            "complaint": ["", "box arrived crushed", "   ", None, "late", ""],
        }
    )
    scored = score_satisfaction(ratings)
    # satisfied with a complaint counts as dissatisfied (40); very satisfied keeps 100
    assert scored["score"].to_list() == [100, 40, 60, 80, 100, 20]
    assert scored["complaint_rule_applied"].to_list() == [False, True, False, False, False, False]
    per_customer = satisfaction_by_group(scored)
    assert per_customer.rows() == [("a", 70.0, 4), ("b", 60.0, 2)]


def test_boolean_complaints_and_tiers():
    scored = score_satisfaction(
        pl.DataFrame(
            {
                "customer_id": ["a", "b"],
                "indicator": ["safety", "safety"],
                "rating": [3, 3],
                "complaint": [True, False],
            }
        )
    )
    assert scored["score"].to_list() == [40, 60]
    tiers = scored.join(
        pl.DataFrame({"customer_id": ["a", "b"], "tier": ["gold", "gold"]}), on="customer_id"
    )
    assert satisfaction_by_group(tiers, "tier").rows() == [("gold", 50.0, 2)]


def test_unknown_indicators_and_ratings_are_named():
    with pytest.raises(ValueError) as err:
        score_satisfaction(
            pl.DataFrame(
                {
                    "customer_id": ["a", "a"],
                    "indicator": ["colour", "safety"],
                    "rating": ["satisfied", "great"],
                }
            )
        )
    message = str(err.value)
    assert "1 row with an unknown indicator (first at row 1: 'colour')" in message
    assert "1 row with an unknown rating (first at row 2: 'great')" in message
