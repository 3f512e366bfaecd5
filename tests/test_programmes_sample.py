"""Every programme runs on the bundled synthetic data through the public API."""

from __future__ import annotations

import polars as pl

import clv
from clv import programmes
from clv.datasets import programme_data


def test_programmes_on_the_sample_data():
    orders = clv.datasets.synthetic().data
    ledger = programmes.build_ledger(
        orders,
        "points_pollen",
        events=programme_data("member_events"),
        redemptions=programme_data("member_redemptions"),
        as_of="2025-06-29",
    )
    balances = ledger.balances()
    assert balances.height == orders["customer_id"].n_unique()
    assert (
        balances["earned"] - balances["redeemed"] - balances["expired"] == balances["balance"]
    ).all()
    assert (balances["expired"] > 0).any()  # two years of data: points do expire
    reasons = ledger.rejected["reason"].to_list()
    assert any(r.startswith("unknown event type") for r in reasons)

    medals = programmes.run_ladder(
        "ladder_medals", points=ledger.entries, orders=orders, end="2025-06-29"
    )
    cards = programmes.run_ladder("ladder_five_card", orders=orders, end="2025-06-29")
    levels = cards.as_of("2025-06-29", lang="zh")
    assert levels.height == balances.height
    assert set(levels["status"]) <= {"active", "no_order_in_period"}
    assert medals.as_of("2025-06-29")["level_name"].null_count() == 0

    graded = programmes.grade_accounts(programme_data("b2b_accounts"))
    assert graded.height == 240 and set(graded["grade"]) <= set("ABCDE")

    scores = programmes.score_satisfaction(programme_data("satisfaction"))
    assert scores["complaint_rule_applied"].any()

    # the five-card rule against the CLV-grounded tiers of the same customers
    summary = clv.summarize(orders, freq="D", time_unit="W", observation_end="2025-06-29")
    clv_scores = clv.score(summary, clv.fit_purchase_model(summary), clv.fit_spend_model(summary))
    grading = clv.grade(clv_scores)
    rule = levels.select("customer_id", pl.col("level_id").alias("rule_grade"))
    order = [lv["id"] for lv in reversed(cards.ladder.levels)]  # best first
    matrix, customers = programmes.agreement(rule, grading.customers, rule_order=order)
    assert matrix["customers"].sum() == customers.height == grading.customers.height
    assert set(customers["verdict"]) == {"over-graded", "under-graded", "agrees"}
    by_tier = programmes.satisfaction_by_group(
        scores.join(grading.customers.select("customer_id", "tier"), on="customer_id"), "tier"
    )
    assert by_tier["ratings"].sum() == scores.height
