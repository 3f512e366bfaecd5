"""The report's programme sections on the synthetic programme data: the points
liability beside the ledger, and the value x loyalty grid."""

from __future__ import annotations

import pytest

import clv
from clv.paths import PROJECT_ROOT
from clv.programmes import read_events, read_redemptions
from clv.report import loyalty_table, points_summary

END = "2025-06-29"


@pytest.fixture(scope="module")
def synthetic():
    tx = clv.load_transactions(PROJECT_ROOT / "data/synthetic/transactions.csv")
    events = read_events(PROJECT_ROOT / "data/programmes/member_events.csv")
    redemptions = read_redemptions(PROJECT_ROOT / "data/programmes/member_redemptions.csv")
    return tx, events, redemptions


def test_the_liability_accounts_for_every_point_held(synthetic):
    tx, events, redemptions = synthetic
    summary = clv.summarize(tx, freq="D", time_unit="W", observation_end=END)
    purchase = clv.fit_purchase_model(summary, model="bgnbd")
    scores = clv.score(summary, purchase, None, horizon_days=180)
    totals, _, liability = points_summary(
        tx, events, END, redemptions=redemptions, scores=scores, horizon_days=180
    )
    items = {k: float(v.replace(",", "")) for k, v in totals.rows()}
    assert items["points redeemed"] > 0  # the redemptions file was used
    assert items["points held, in yuan"] == pytest.approx(items["points held"] / 100)
    rows = {r["points_outcome"]: r for r in liability.iter_rows(named=True)}
    assert rows["held"]["points"] == items["points held"]
    parts = rows["redeemed"]["points"] + rows["expired"]["points"] + rows["remaining"]["points"]
    assert parts == pytest.approx(items["points held"], abs=2)  # each rounded to a point
    for key in ("redeemed", "expired"):
        row = rows[key]
        assert row["lower 90%"] <= row["points"] <= row["upper 90%"]
        assert row["yuan"] == pytest.approx(row["points"] / 100, abs=0.01)


def test_no_scores_no_liability(synthetic):
    tx, events, _ = synthetic
    _, _, liability = points_summary(tx, events, END)
    assert liability is None


def test_the_loyalty_grid_places_every_customer_once(synthetic):
    tx, events, _ = synthetic
    table = loyalty_table(tx, END, events, lang="zh")
    assert table["value_class"].to_list() == ["high", "medium", "low"]
    counted = sum(table[c].sum() for c in ("loyal", "general", "lost"))
    assert counted == tx.data["customer_id"].n_unique()


def test_suggested_spend_thresholds_reproduce_the_tiers_as_reported():
    """The thresholds the report suggests, applied to each customer's spend
    over the year, put the reported share of customers in their own tier."""
    import polars as pl

    from clv.report import spend_thresholds_table

    tx = clv.load_transactions(PROJECT_ROOT / "data/cdnow/CDNOW_sample.csv")
    summary = clv.summarize(tx, freq="D", time_unit="W", observation_end="1998-06-30")
    purchase = clv.fit_purchase_model(summary, model="bgnbd")
    grading = clv.grade(clv.score(summary, purchase, clv.fit_spend_model(summary)), "five_card")
    table, agreement, kappa = spend_thresholds_table(tx, grading, "ladder_five_card", "1998-06-30")
    assert table["tier_name"].to_list() == [t.name("en") for t in grading.scheme.tiers]
    assert table["minimum_spend"].to_list() == [50000.0, 20000.0, 5000.0, 1000.0, 0.0]
    suggested = table["suggested_minimum"].to_list()
    assert suggested == sorted(suggested, reverse=True) and suggested[-1] == 0.0
    assert 0 < agreement <= 1 and -1 <= kappa <= 1
    spend = (
        tx.data.filter(pl.col("date").dt.date() > pl.date(1997, 6, 30))
        .group_by("customer_id")
        .agg(pl.col("amount").sum().alias("spend"))
    )
    ranks = grading.customers.select("customer_id", "tier_rank").join(
        spend, on="customer_id", how="left"
    )
    cuts = suggested[:-1]  # top tier first
    by_spend = ranks.with_columns(
        (1 + sum((pl.col("spend").fill_null(0.0) < cut).cast(pl.Int64) for cut in cuts)).alias(
            "by_spend"
        )
    )
    same = (by_spend["by_spend"] == by_spend["tier_rank"]).mean()
    assert same == pytest.approx(agreement, abs=1e-12)
