"""The report's document ladders (supermarket per category, P-G-S-B, telecom VIP
cards) on the bundled synthetic orders and points data, each fact counted
again directly from the orders or the ledger.

The thresholds are those of the shipped files (src/clv/schemes/ladder_*.toml);
the dates follow from the synthetic data: every customer was acquired in the
first quarter of 2024 and the data end on 2025-06-29, so the yearly ladders
grade on 2024 and the quarterly P-G-S-B on 2025's first quarter.
"""

from __future__ import annotations

import importlib.util
import re
from bisect import bisect_right

import polars as pl
import pytest

import clv
from clv import i18n, narrative
from clv.datasets import programme_data
from clv.paths import PROJECT_ROOT
from clv.programmes import load_ladder, read_events, read_redemptions
from clv.report.programme_sections import (
    PROGRAMME_LADDERS,
    programme_ladders,
    programme_ledger,
)

END = "2025-06-29"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def orders() -> pl.DataFrame:
    return programme_data("orders_categories")


@pytest.fixture(scope="module")
def ledger(orders):
    events = read_events(PROJECT_ROOT / "data/programmes/member_events.csv")
    redemptions = read_redemptions(PROJECT_ROOT / "data/programmes/member_redemptions.csv")
    return programme_ledger(orders, END, events, redemptions=redemptions)


@pytest.fixture(scope="module")
def sections(orders, ledger):
    return {s.ladder_id: s for s in programme_ladders(orders, END, ledger=ledger)}


def _level(ladder_id: str, value: float) -> str:
    """The level id a value reaches on the shipped file's minimums."""
    ladder = load_ladder(ladder_id)
    return ladder.levels[max(0, bisect_right(ladder.minimums, value) - 1)]["id"]


def _completed_2024(orders: pl.DataFrame, *keys: str) -> pl.DataFrame:
    return (
        orders.filter((pl.col("status") == "completed") & (pl.col("date").dt.year() == 2024))
        .group_by("customer_id", *keys)
        .agg(pl.col("amount").sum().alias("spend"))
    )


def test_the_orders_file_is_the_script_s_draw(orders):
    """data/programmes/orders_categories.csv is what scripts/make_ladder_data.py
    draws, whatever the hash seed: the categories, statuses and yuan amounts."""
    path = PROJECT_ROOT / "scripts" / "make_ladder_data.py"
    spec = importlib.util.spec_from_file_location("make_ladder_data", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    built = script.build()
    script.check(built)
    assert built.select(orders.columns).equals(orders.select(built.columns))


def test_every_ladder_runs_when_its_data_are_given(sections):
    assert list(sections) == list(PROGRAMME_LADDERS)
    for section in sections.values():
        assert section.ran and section.failure is None and section.needs is None
        assert section.agreement is None  # no grading given


def test_a_customer_graded_d_in_food_and_b_in_household_goods(orders, sections):
    spend = _completed_2024(orders, "category").pivot(
        on="category", index="customer_id", values="spend"
    )
    chosen = spend.filter(
        (pl.col("food") >= 5000) & pl.col("household").is_between(1000, 3000, closed="left")
    )["customer_id"].to_list()
    assert chosen  # the script checks the data hold one
    grades = sections["ladder_supermarket"].customers
    for customer in chosen:
        mine = dict(
            grades.filter(pl.col("customer_id") == customer).select("category", "level_id").rows()
        )
        assert mine["food"] == "D" and mine["household"] == "B"
    # and the discounts shown beside them are the file's: 8折 and 9折 (002: 9.5/9/8.8/8 折)
    table = sections["ladder_supermarket"].levels
    discount = dict(table.select("level_name", "discount").unique().rows())
    assert discount["D"] == "20% off" and discount["B"] == "10% off"


def test_every_category_grade_is_the_year_s_completed_spend(orders, sections):
    """Each (customer, category) first bought in 2024 holds, on the day, the
    grade its 2024 completed spend reaches; the table counts exactly those."""
    first = orders.group_by("customer_id", "category").agg(pl.col("date").min().alias("first"))
    expected = (
        first.filter(pl.col("first").dt.year() == 2024)
        .join(_completed_2024(orders, "category"), on=["customer_id", "category"], how="left")
        .with_columns(pl.col("spend").fill_null(0.0))
    )
    expected = expected.with_columns(
        pl.col("spend")
        .map_elements(lambda v: _level("ladder_supermarket", v), return_dtype=pl.String)
        .alias("expected")
    )
    section = sections["ladder_supermarket"]
    joined = expected.join(section.customers, on=["customer_id", "category"], how="left")
    assert joined["level_id"].null_count() == 0
    assert (joined["level_id"] == joined["expected"]).all()
    assert section.levels["customers"].sum() == section.customers.height
    # several categories, and customers whose grades differ between them
    per = section.customers.group_by("customer_id").agg(pl.col("level_id").n_unique())
    assert (per["level_id"] > 1).any()


def test_a_quarter_of_cancelled_orders_is_no_sale(orders, sections):
    """P-G-S-B: a customer who ordered in 2025's first quarter (the period
    evaluated on 2025-06-29) and had every order cancelled or returned is
    无销售 (no_sale); exactly those customers are."""
    quarter = orders.filter(pl.col("date").is_between(pl.date(2025, 1, 1), pl.date(2025, 3, 31)))
    nothing_sold = set(
        quarter.group_by("customer_id")
        .agg((pl.col("status") == "completed").any().alias("sold"))
        .filter(~pl.col("sold"))["customer_id"]
    )
    assert nothing_sold
    section = sections["ladder_pgsb"]
    shown = set(section.customers.filter(pl.col("status") == "no_sale")["customer_id"])
    assert shown == nothing_sold
    statuses = dict(section.statuses.rows())
    assert statuses["no_sale"] == len(nothing_sold)
    assert (
        statuses["no_order_in_period"]
        == orders["customer_id"].n_unique() - quarter["customer_id"].n_unique()
    )
    assert "no_sale" in section.statuses["status"].to_list()
    assert f"{len(nothing_sold):,} customers had nothing sold (无销售)" in section.text


def test_pgsb_grades_are_the_quarter_s_completed_spend(orders, sections):
    spend = (
        orders.filter(
            (pl.col("status") == "completed")
            & pl.col("date").is_between(pl.date(2025, 1, 1), pl.date(2025, 3, 31))
        )
        .group_by("customer_id")
        .agg(pl.col("amount").sum())
    )
    counts = dict(
        spend.with_columns(
            pl.col("amount").map_elements(
                lambda v: _level("ladder_pgsb", v), return_dtype=pl.String
            )
        )
        .group_by("amount")
        .len()
        .rows()
    )
    names = {lv["id"]: lv["en"] for lv in load_ladder("ladder_pgsb").levels}
    shown = dict(sections["ladder_pgsb"].levels.select("level_name", "customers").rows())
    for level in ("P", "G", "S"):  # Bronze also holds everyone who spent nothing
        assert shown[names[level]] == counts.get(level, 0)
    assert shown["Platinum"] > 0 and shown["Gold"] > 0


def test_vip_cards_count_the_ledger_s_yearly_points(ledger, sections):
    """Cards on 2025-06-29 come from the points earned in 2024 (the calendar
    year before the 1 January evaluation) against the file's thresholds; a
    member whose first points came in 2025 holds, until the next evaluation,
    the provisional card of the points of that first day."""
    earned = ledger.entries.filter(pl.col("kind") == "earn")
    first = earned.group_by("customer_id").agg(pl.col("date").min().alias("first"))
    late = first.filter(pl.col("first").dt.year() == 2025)
    assert late.height < first.height / 100  # nearly all were graded on 2024
    points = (
        earned.join(first, on="customer_id")
        .filter(
            pl.when(pl.col("first").dt.year() == 2024)
            .then(pl.col("date").dt.year() == 2024)
            .otherwise(pl.col("date") == pl.col("first"))
        )
        .group_by("customer_id")
        .agg(pl.col("points").sum())
    )
    assert points.height == first.height
    ladder = load_ladder("ladder_telecom_vip")
    counts = dict(
        points.with_columns(
            pl.col("points").map_elements(
                lambda v: _level("ladder_telecom_vip", v), return_dtype=pl.String
            )
        )
        .group_by("points")
        .len()
        .rows()
    )
    section = sections["ladder_telecom_vip"]
    shown = dict(section.levels.select("level_name", "customers").rows())
    assert shown == {lv["en"]: counts.get(lv["id"], 0) for lv in ladder.levels}
    assert all(shown[lv["en"]] > 0 for lv in ladder.levels)  # every card occurs
    provisional = section.customers.filter(pl.col("provisional"))["customer_id"]
    assert set(provisional) == set(late["customer_id"])
    assert "Pollen points" in section.text and "are examples" in section.text


def test_the_ledger_credits_completed_orders_only(orders, ledger):
    rules = ledger.rules
    completed = orders.filter(pl.col("status") == "completed")
    expected = sum(rules.order_points(a) for a in completed["amount"])
    from_orders = ledger.entries.filter((pl.col("kind") == "earn") & (pl.col("source") == "order"))[
        "points"
    ].sum()
    assert from_orders == expected
    assert expected < sum(rules.order_points(a) for a in orders["amount"])


def test_absent_data_give_a_not_run_line():
    tx = clv.load_transactions(PROJECT_ROOT / "data/synthetic/transactions.csv")
    for lang, words in (("en", "not run: needs"), ("zh", "未运行")):
        sections = {s.ladder_id: s for s in programme_ladders(tx, END, lang=lang)}
        assert list(sections) == list(PROGRAMME_LADDERS)
        for section in sections.values():
            assert not section.ran and section.tables() == []
            assert words in section.text
    english = {s.ladder_id: s for s in programme_ladders(tx, END)}
    assert "a category column" in english["ladder_supermarket"].text
    assert "a status column" in english["ladder_pgsb"].text
    assert "a points ledger" in english["ladder_telecom_vip"].text
    assert english["ladder_pgsb"].needs == "status"


def test_zh_tables_have_chinese_headers(orders, ledger):
    for section in programme_ladders(orders, END, ledger=ledger, lang="zh"):
        assert CJK.search(section.text)
        for frame in section.tables():
            for column in frame.columns:
                assert CJK.search(i18n.header(column, "zh")), column
            html = narrative.table(frame, "zh")._repr_html_()
            assert CJK.search(html)
        if section.ladder_id == "ladder_supermarket":
            assert "<th>商品大类</th>" in section.tables()[0].pipe(
                lambda f: narrative.table(f, "zh")._repr_html_()
            )
            assert set(section.levels["discount"]) == {"9.5折", "9折", "8.8折", "8折"}


def test_against_the_clv_tiers(orders, ledger):
    """With a CLV grading, every ladder member who is graded is set against
    their tier once; the supermarket's grade is the best over categories."""
    tx = clv.load_transactions(orders.select("customer_id", "date", "amount"))
    summary = clv.summarize(tx, freq="D", time_unit="W", observation_end=END)
    scores = clv.score(summary, clv.fit_purchase_model(summary, model="bgnbd"), None)
    grading = clv.grade(scores, "five_card")
    sections = programme_ladders(orders, END, ledger=ledger, grading=grading)
    for section in sections:
        members = section.customers["customer_id"].unique()
        both = members.is_in(grading.customers["customer_id"].implode()).sum()
        assert section.agreement["customers"].sum() == sum(section.verdicts.values()) == both
        assert "against the evidence" in section.text
    market = sections[0].agreement
    best = (
        sections[0]
        .customers.group_by("customer_id")
        .agg(pl.col("level").max())
        .filter(pl.col("level") == 3)
        .height
    )
    assert market.filter(pl.col("rule_grade") == "D")["customers"].sum() == best


def test_bad_input_is_refused_or_reported(orders):
    with pytest.raises(ValueError, match="lang must be"):
        programme_ladders(orders, END, lang="fr")
    with pytest.raises(ValueError, match=r"lack the columns \['date'\]"):
        programme_ladders(orders.drop("date"), END)
    odd = orders.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("pending"))
        .otherwise(pl.col("status"))
        .alias("status")
    )
    sections = {s.ladder_id: s for s in programme_ladders(odd, END)}
    failed = sections["ladder_pgsb"]
    assert not failed.ran and failed.failure is not None
    assert "pending" in failed.failure.error and "could not be run" in failed.text


def test_the_loaded_log_gives_the_same_grades(orders, sections):
    """A log loaded with its category and status columns (Datetime dates) grades
    as the orders frame does."""
    tx = clv.load_transactions(
        PROJECT_ROOT / "data/programmes/orders_categories.csv", category="category", status="status"
    )
    loaded = {s.ladder_id: s for s in programme_ladders(tx, END)}
    for ladder_id in ("ladder_supermarket", "ladder_pgsb"):
        assert loaded[ladder_id].levels.equals(sections[ladder_id].levels)
        assert loaded[ladder_id].statuses.equals(sections[ladder_id].statuses)


def test_orders_without_a_category_are_counted_not_graded(orders):
    blank = orders.with_columns(
        pl.when(pl.int_range(pl.len()) < 3)
        .then(None)
        .otherwise(pl.col("category"))
        .alias("category")
    )
    market = programme_ladders(blank, END)[0]
    assert market.ran and "3 orders without a category are left out" in market.text
    assert market.customers["category"].null_count() == 0


def test_a_count_only_log_runs_no_spend_ladder(orders, ledger):
    sections = programme_ladders(orders.drop("amount"), END, ledger=ledger)
    assert [s.needs for s in sections] == ["amount", "amount", None]
    assert "needs the amount of each order" in sections[0].text
    assert sections[2].ran  # the VIP cards read the ledger's points


def test_report_runs_the_documents_ladders_from_the_command_line(tmp_path):
    """A user's own copy of the orders with categories and statuses, graded in
    Chinese from another folder: the per-category grades, P-G-S-B with its
    no-sale status and the VIP cards are in the report, cancelled and returned
    orders earn no points, and members holding points without a completed
    purchase are counted rather than failing the liability forecast."""
    import json
    import shutil
    import subprocess
    import sys

    shutil.copy(PROJECT_ROOT / "data/programmes/orders_categories.csv", tmp_path / "orders.csv")
    data = PROJECT_ROOT / "data/programmes"
    command = [sys.executable, "-m", "clv.cli", "report", "--data", "orders.csv"]
    command += ["--category-column", "category", "--status-column", "status"]
    command += ["--points-events", str(data / "member_events.csv")]
    command += ["--points-redemptions", str(data / "member_redemptions.csv")]
    command += ["--period", "2025-06", "--observation-end", "2025-06-29", "--currency", "CNY"]
    command += ["--lang", "zh", "--bootstrap", "20", "--reports-dir", "reports"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = tmp_path / "reports" / "2025-06"
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["failed_sections"] == []
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "P-G-S-B" in page and "本期无销售" in page  # the no-sale status, in Chinese
    assert "商品大类" in page and "9.5折" in page  # grades per category with their discount
    assert "贵宾卡" in page and "钻石卡" in page  # the VIP cards
    assert "持有积分但无成交订单的会员" in page
    assert "未运行" not in page  # every ladder had its data
    # the summary counts completed orders only, and says how many were not
    assert summary["facts"]["transactions kept"] > summary["headline"]["customers"]
