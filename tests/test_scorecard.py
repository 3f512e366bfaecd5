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
        # 002_f91dd7b219312f8b.txt: "1000万以上", "500-1000万", "100-500万", "50-100万",
        # "50万以下"; 以上 includes the figure and each band its lower edge
        (10_000_000, "A"),
        (9_999_999, "B"),
        (5_000_000, "B"),
        (4_999_999, "C"),
        (1_000_000, "C"),
        (999_999, "D"),
        (500_000, "D"),
        (499_999, "E"),
        (0, "E"),
    ],
)
def test_sales_bands_at_their_edges(sales, grade):
    graded = grade_accounts(_accounts({"annual_sales": float(sales)}))
    assert graded["grade_annual_sales"].item() == grade


def test_sales_edges_other_reading_one_option_away():
    card = load_scorecard()
    sales = next(c for c in card.criteria if c.id == "annual_sales")
    strict = dataclasses.replace(sales, strict=(True,) * 4)
    other = dataclasses.replace(
        card, criteria=tuple(strict if c.id == "annual_sales" else c for c in card.criteria)
    )
    graded = grade_accounts(
        _accounts(*({"annual_sales": v} for v in (10_000_000.0, 500_000.0))), other
    )
    assert graded["grade_annual_sales"].to_list() == ["B", "E"]


@pytest.mark.parametrize(
    ("margin", "share", "grade"),
    [
        # "A类:公司所供产品全部存在利润,且整体利润大于15%"
        (0.16, 1.0, "A"),
        (0.15, 1.0, "B"),  # not above 15 %: "10%-15%" is B
        (0.1501, 1.0, "A"),
        (0.16, 0.9, "B"),  # a product that loses money keeps it out of A
        # "B类:70%以上产品存在利润且整体利润10%-15%": 10 % is B
        (0.10, 0.7, "B"),
        (0.0999, 0.7, "C"),
        (0.11, 0.69, "D"),  # B and C need 70 % profitable products
        # "C类:70%以上产品存在利润且整体利润5%-10%": 5 % is C
        (0.05, 0.7, "C"),
        (0.0499, 0.7, "D"),
        # "D类:多数产品亏损,整体利润小于5%"; "E类:整体亏损": 0 is not a loss
        (0.01, 0.2, "D"),
        (0.0, 0.2, "D"),
        (-0.0001, 0.2, "E"),
        (-0.1, 0.0, "E"),
    ],
)
def test_profit_bands_with_the_share_of_profitable_products(margin, share, grade):
    graded = grade_accounts(_accounts({"margin": margin, "share_profitable": share}))
    assert graded["grade_profit"].item() == grade


# Values that each criterion grades A-E (the numeric criteria well inside their bands).
SALES = {"A": 20e6, "B": 7e6, "C": 2e6, "D": 7e5, "E": 1e5}
PROFIT = {"A": (0.2, 1.0), "B": (0.12, 0.8), "C": (0.07, 0.8), "D": (0.02, 0.3), "E": (-0.05, 0.1)}


# The document's columns: 行业内现状 发展前景 销售额 回款 开票状况 利润 价格商定 规范性
COLUMNS = (
    "industry_position",
    "outlook",
    "annual_sales",
    "payment",
    "invoicing",
    "profit",
    "price_agreement",
    "claims",
)


def _row_of_grades(grades: str) -> dict:
    """An account whose eight criteria, in the document's column order, have
    ``grades`` ("AACABAAA")."""
    card = {c.id: c for c in load_scorecard().criteria}
    row = {}
    for column, grade in zip(COLUMNS, grades, strict=True):
        criterion = card[column]
        if criterion.id == "annual_sales":
            row["annual_sales"] = SALES[grade]
        elif criterion.id == "profit":
            row["margin"], row["share_profitable"] = PROFIT[grade]
        else:
            by_grade = {g: name for name, g in criterion.classes.items()}
            row[criterion.field] = by_grade[grade]
    return row


# The legible rows of the example tables of 002_f91dd7b219312f8b.txt ("*顾客分级指导"
# and the tables after it), columns 行业内现状 发展前景 销售额 回款 开票状况 利润
# 价格商定 规范性, with the level the document gives them.
DOCUMENT_ROWS = [
    ("汽车橡塑件", "AACABAAA", "A"),  # "A A C A / B A A A", three customers
    ("金属冲压件", "AABABCBB", "A"),  # "A A / B A B / C B B"
    ("金属冲压件", "AACABAAA", "A"),  # "A A C A / B A A A"
    ("卡箍", "AAEABAAA", "A"),  # "A A E A / B A A A": sales E, graded A
    ("其它", "AADAACBA", "A"),  # "A A A D A A C B A"
    ("其它", "BBEBBAAA", "B"),  # "B B B E B B A A A"
]


@pytest.mark.parametrize(("table", "grades", "level"), DOCUMENT_ROWS)
def test_every_legible_example_row_is_graded_as_the_document_grades_it(table, grades, level):
    graded = grade_accounts(_accounts(_row_of_grades(grades)))
    assert "".join(graded[f"grade_{c}"].item() for c in COLUMNS) == grades
    assert graded["grade"].item() == level, table


def test_payment_as_lead_is_the_other_reading_and_reproduces_them_too():
    card = dataclasses.replace(load_scorecard(), lead="payment")
    graded = grade_accounts(_accounts(*(_row_of_grades(g) for _, g, _ in DOCUMENT_ROWS)), card)
    assert graded["grade"].to_list() == [level for _, _, level in DOCUMENT_ROWS]


def test_a_mean_of_equal_weights_does_not_reproduce_the_document():
    # "A A D A A C B A" graded A by the document: points (5+5+2+5+5+3+4+5)/8 = 4.25,
    # nearest grade B
    card = dataclasses.replace(load_scorecard(), rule="weighted")
    graded = grade_accounts(_accounts(_row_of_grades("AADAACBA")), card)
    assert graded["grade"].item() == "B"


def test_default_rule_is_the_industry_position_with_its_plan():
    graded = grade_accounts(
        _accounts(
            {"industry_position": "backup_supplier"},  # "替补供货": D
            {"industry_position": "no_market", "payment": "cash_on_time"},
        )
    )
    assert graded["grade"].to_list() == ["D", "E"]
    # "E级 ... 每年1次,高层或市场经理对客户进行走访": one visit a year, not none
    assert graded["visits_per_year"].to_list() == [1, 1]
    assert graded["delivery_target"].to_list() == [0.95, 0.0]


def test_plans_follow_the_document():
    plans = load_scorecard().plans
    # "每季度高层对客户进行走访" (A, B); "每年1-2次" (C); "每年1次" (D, E)
    assert [plans[g]["visits_per_year"] for g in "ABCDE"] == [4, 4, 2, 1, 1]
    # "保证交付率100%" (A, B); "保证交付率95%以上" (C, D); none given for E
    assert [plans[g]["delivery_target"] for g in "ABCDE"] == [1.0, 1.0, 0.95, 0.95, 0.0]


def test_weighted_rule_by_hand():
    card = dataclasses.replace(load_scorecard(), rule="weighted")
    # equal weights: payment D (2) and invoicing C (3), the rest A (5 x 6):
    # (30 + 2 + 3) / 8 = 4.375 -> 5 - 4.375 = 0.625 -> nearest grade B
    graded = grade_accounts(
        _accounts({"payment": "acceptance_often_late", "invoicing": "refused_or_abnormal"}), card
    )
    assert graded["grade"].item() == "B"
    # a tie goes to the worse grade: payment C and outlook C, the rest A:
    # (30 + 3 + 3) / 8 = 4.5, halfway between A and B -> B
    tie = grade_accounts(
        _accounts({"payment": "acceptance_small_deviations", "outlook": "average"}), card
    )
    assert tie["grade"].item() == "B"
    nudge = grade_accounts(_accounts({"payment": "acceptance_small_deviations"}), card)
    assert nudge["grade"].item() == "A"  # (35 + 3) / 8 = 4.75


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


def test_lead_and_strict_mistakes_are_explained(tmp_path):
    text = (
        'id = "x"\n[combine]\nrule = "lead"\nlead = "industry"\n'
        '[[criteria]]\nid = "sales"\nfield = "sales"\nzh = "销售"\nen = "sales"\n'
        'kind = "numeric"\nstrict = [true, false]\nbounds = [4, 3, 2, 1]\n'
    )
    plans = "".join(
        f'[plans.{g}]\nvisits_per_year = 1\ndelivery_target = 1.0\nactions_en = "x"\n'
        f'actions_zh = "x"\n'
        for g in "ABCDE"
    )
    path = tmp_path / "card.toml"
    path.write_text(text + plans, encoding="utf-8")
    with pytest.raises(clv.SchemeError) as err:
        load_scorecard(path)
    message = str(err.value)
    assert "combine.lead 'industry' is not a criterion id ['sales']" in message
    assert "criteria[0].strict must be true or false, or an array of 4 of them" in message


def _random_accounts(card, rng, n: int) -> pl.DataFrame:
    """Accounts whose numeric fields sit on, just below and just above every
    band edge and requirement, and whose classes cover every recorded class."""

    columns: dict[str, list] = {"account": [f"acc{i}" for i in range(n)], "year": [2024] * n}
    for c in card.criteria:
        if c.kind == "class":
            columns[c.field] = list(rng.choice(sorted(c.classes), n))
            continue
        edges = [b + d for b in c.bounds for d in (-1e-9, 0.0, 1e-9)] + [c.bounds[-1] - 1.0]
        columns[c.field] = [float(v) for v in rng.choice(edges, n)]
        if c.require_field:
            needs = [v + d for v in c.require.values() for d in (-1e-9, 0.0, 1e-9)] + [0.0, 1.0]
            columns[c.require_field] = [float(v) for v in rng.choice(needs, n)]
    return pl.DataFrame(columns)


@pytest.mark.parametrize("rule", ["weighted", "worst_of", "at_least", "lead"])
def test_vectorised_grading_matches_the_row_by_row_reference(rule):
    import numpy as np

    from clv.programmes.scorecard import _grade_accounts_reference

    rng = np.random.default_rng(7)
    card = load_scorecard()
    for strict in (False, True):
        criteria = tuple(
            dataclasses.replace(c, strict=(strict, not strict, strict, not strict))
            if c.kind == "numeric"
            else c
            for c in card.criteria
        )
        for k in (1, 4, len(criteria)):
            varied = dataclasses.replace(
                card, criteria=criteria, rule=rule, k=k, lead=criteria[2].id
            )
            accounts = _random_accounts(varied, rng, 400)
            fast = grade_accounts(accounts, varied)
            assert fast.equals(_grade_accounts_reference(accounts, varied))
            # every band is reached, so the edges were really exercised
            sales = fast["grade_annual_sales"].unique().to_list()
            assert sorted(sales) == list("ABCDE")


def test_vectorised_grading_reports_the_same_problems_in_the_same_order():
    from clv.programmes.scorecard import _grade_accounts_reference

    accounts = _accounts(
        {"annual_sales": None},
        {"payment": "cash_someday", "margin": float("nan")},
        {"share_profitable": None, "outlook": "unknown"},
    )
    with pytest.raises(ScorecardError) as fast:
        grade_accounts(accounts)
    with pytest.raises(ScorecardError) as slow:
        _grade_accounts_reference(accounts)
    assert fast.value.problems == slow.value.problems
    assert len(fast.value.problems) == 5
