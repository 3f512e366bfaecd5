"""B2B scorecard: bands at their edges, combination rules, validation."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest

import clv
from clv.programmes.scorecard import ScorecardError, grade_accounts, load_scorecard

BASE = {
    "payment": "cash_on_time",
    "margin": 0.2,
    "share_profitable": 1.0,
    "invoicing": "normal",
    "price_agreement": "agreed_by_march",
    "claims": "competent_no_wrong_claims",
    "industry_position": "leads_the_market",
    "outlook": "huge",
}


def _accounts(*changes: dict) -> pl.DataFrame:
    rows = [
        {"account": f"acc{i}", "year": 2024, "annual_sales": 20_000_000.0, **BASE, **c}
        for i, c in enumerate(changes)
    ]
    return pl.DataFrame(rows)


@pytest.mark.parametrize(
    ("sales", "grade"),
    [
        (10_000_001, "A"),
        (10_000_000, "B"),  # A: above 10M yuan
        (5_000_001, "B"),
        (5_000_000, "C"),
        (1_000_001, "C"),
        (1_000_000, "D"),
        (500_001, "D"),
        (500_000, "E"),
        (0, "E"),
    ],
)
def test_sales_bands_at_their_edges(sales, grade):
    graded = grade_accounts(_accounts({"annual_sales": float(sales)}))
    assert graded["grade_annual_sales"].item() == grade


@pytest.mark.parametrize(
    ("margin", "share", "grade"),
    [
        (0.16, 1.0, "A"),
        (0.15, 1.0, "B"),  # A: margin above 15 % and every product profitable
        (0.16, 0.9, "B"),  # a product that loses money keeps it out of A
        (0.11, 0.7, "B"),
        (0.11, 0.69, "D"),  # B and C need 70 % profitable products
        (0.06, 0.7, "C"),
        (0.05, 0.7, "D"),
        (0.01, 0.2, "D"),
        (0.0, 0.2, "E"),
        (-0.1, 0.0, "E"),
    ],
)
def test_profit_bands_with_the_share_of_profitable_products(margin, share, grade):
    graded = grade_accounts(_accounts({"margin": margin, "share_profitable": share}))
    assert graded["grade_profit"].item() == grade


def test_weighted_rule_and_plan_by_hand():
    # sales A (w 2), payment D (w 2), profit A (1.5), invoicing C (1), the rest A (3.5):
    # points (5*2 + 2*2 + 5*1.5 + 3*1 + 5*3.5) / 10 = 4.2 -> nearest grade B (4)
    graded = grade_accounts(
        _accounts({"payment": "acceptance_often_late", "invoicing": "refused_or_abnormal"})
    )
    row = graded.row(0, named=True)
    assert row["grade"] == "B"
    assert row["visits_per_year"] == 4 and row["delivery_target"] == 1.0
    # a tie goes to the worse grade: payment C (2 x 3) and industry position C (0.5 x 3),
    # the rest A: (50 - 4 - 1) / 10 = 4.5, halfway between A and B -> B
    tie = grade_accounts(
        _accounts({"payment": "acceptance_small_deviations", "industry_position": "average"})
    )
    assert tie["grade"].item() == "B"
    nudge = grade_accounts(_accounts({"payment": "acceptance_small_deviations"}))  # 4.6 -> A
    assert nudge["grade"].item() == "A"


def test_worst_of_and_at_least_rules():
    scorecard = load_scorecard()
    accounts = _accounts({"outlook": "confused", "claims": "joint_analysis_fair"})
    worst = grade_accounts(accounts, dataclasses.replace(scorecard, rule="worst_of"))
    assert worst["grade"].item() == "E"
    # 6 of 8 criteria at A, 7 at B or better: at_least k=7 gives B, k=8 gives E
    at_least = grade_accounts(accounts, dataclasses.replace(scorecard, rule="at_least", k=7))
    assert at_least["grade"].item() == "B"
    everything = grade_accounts(accounts, dataclasses.replace(scorecard, rule="at_least", k=8))
    assert everything["grade"].item() == "E"


def test_bad_values_name_account_and_field():
    accounts = _accounts({"payment": "cash"}, {"margin": None})
    with pytest.raises(ScorecardError) as err:
        grade_accounts(accounts)
    message = str(err.value)
    assert "account 'acc0', field 'payment': 'cash' is not one of" in message
    assert "account 'acc1', field 'margin' or 'share_profitable': None is not a number" in message
    with pytest.raises(ScorecardError, match="columns \\['outlook'\\] are missing"):
        grade_accounts(_accounts({}).drop("outlook"))


def test_scorecard_file_mistakes_are_explained(tmp_path):
    path = tmp_path / "card.toml"
    path.write_text(
        'id = "x"\ncolour = 1\n[combine]\nrule = "best_of"\n'
        '[[criteria]]\nid = "s"\nfield = "sales"\nzh = "销售"\nen = "sales"\nkind = "numeric"\n'
        "bounds = [1, 2, 3, 4]\n[plans.A]\nvisits_per_year = 1\n",
        encoding="utf-8",
    )
    with pytest.raises(clv.SchemeError) as err:
        load_scorecard(path)
    message = str(err.value)
    assert "unknown key 'colour'" in message
    assert "combine.rule 'best_of' is unknown" in message
    assert "criteria[0].bounds must be 4 numbers falling" in message
    assert "plans for grades ['B', 'C', 'D', 'E'] are missing" in message
