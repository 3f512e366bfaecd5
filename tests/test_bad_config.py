"""A catalogue of wrong values in the TOML files: each case starts from a
packaged file's text and makes one mistake, which the loader must reject with
the file, the key path and what to do."""

from __future__ import annotations

import re
from importlib import resources

import pytest

import clv
from clv.programmes import load_ladder, load_points_rules, load_scorecard

LOADERS = {
    "five_card": clv.load_scheme,
    "ladder_five_card": load_ladder,
    "ladder_medals": load_ladder,
    "ladder_supermarket": load_ladder,
    "ladder_telecom_stars": load_ladder,
    "points_pollen": load_points_rules,
    "b2b_parts_supplier": load_scorecard,
}

SHARES = "shares = [0.40, 0.25, 0.20, 0.10, 0.05]"
BOUNDS = "bounds = [10_000_000, 5_000_000, 1_000_000, 500_000]"

# (packaged file, text to change (or (start, stop) of a slice; stop None: the
# end), its replacement, words the message must hold)
CASES = [
    # tier scheme
    ("five_card", SHARES, "shares = [0.40, nan, 0.20, 0.10, 0.05]",
     ["grounding.shares[1] must be a share in (0, 1], got nan", "nan and inf are not allowed"]),
    ("five_card", SHARES, "shares = [0.40, 0.25, 0.20, 0.15, 0.0]",
     ["grounding.shares[4] must be a share in (0, 1], got 0.0"]),
    ("five_card", SHARES, "shares = [0.40, 0.25, 0.20, 0.10, true]",
     ["grounding.shares[4] must be a share in (0, 1], got true (a boolean)"]),
    ("five_card", SHARES, "shares = [0.40, 0.25, 0.20, 0.10, 0.5]",
     ["grounding.shares", "sum to 1.45; they must sum to 1"]),
    ("five_card", SHARES, "shares = []",
     ["grounding.shares is an empty array; give shares, one per tier, top first"]),
    ("five_card", SHARES, 'shares = "40/25/20/10/5"',
     ["grounding.shares must be an array of shares", "got '40/25/20/10/5' (text)"]),
    ("five_card", "shares =", "shraes =",
     ["grounding: unknown key 'shraes' (did you mean 'shares'?)", "grounding.shares is missing"]),
    ("five_card", 'method = "value_share"', 'method = "value-share"',
     ["grounding.method 'value-share' is unknown (did you mean 'value_share'?)",
      "use one of value_share, quantile"]),
    ("five_card", "[grounding]", "[[grounding]]",
     ["grounding must be a table ([grounding]), got an array", "write [[...]] only for"]),
    ("five_card", "provisional_days = 30", "provisional_days = inf",
     ["statuses.provisional_days must be a whole number of days >= 0, got inf"]),
    ("five_card", "provisional_days = 30", "provisional_days = 30.5",
     ["statuses.provisional_days must be a whole number of days >= 0, got 30.5",
      "give a whole number"]),
    ("five_card", "provisional_days = 30", "provisional_days = -1",
     ["statuses.provisional_days must be a whole number of days >= 0, got -1"]),
    ("five_card", "[statuses]", "[[statuses]]",
     ["statuses must be a table ([statuses]), got an array"]),
    ("five_card", "upper = 0.5", "upper = nan",
     ["risk.bands[0].upper must be a number in (0, 1], got nan"]),
    ("five_card", "upper = 0.8", 'upper = "0.8"',
     ["risk.bands[1].upper must be a number in (0, 1], got '0.8' (text)"]),
    ("five_card", "upper = 0.8", "upper = 1.2",
     ["risk.bands[1].upper must be a number in (0, 1], got 1.2"]),
    ("five_card", "rank = 3", "rank = true",
     ["tiers[2].rank must be a whole number (1 = top) >= 1, got true (a boolean)"]),
    ("five_card", 'en = "Gold"', "en = 3", ["tiers[2].en must be text in quotes, got 3"]),
    ("five_card", 'id = "gold"', 'id = "silver"', ["tier ids repeat", "give each tier its own id"]),
    ("five_card", 'band = "at_risk"', 'band = "at-risk"',
     ["actions[0].band 'at-risk' is not one of the bands", "(did you mean 'at_risk'?)"]),
    ("five_card", ('[[actions]]\ntier = "diamond"', "[statuses]"),
     '[actions]\ntier = "diamond"\nband = "at_risk"\nen = "Call"\nzh = "致电"\n\n',
     ["actions must be an array of tables, one [[actions]] each, got a table"]),
    ("five_card", 'score = "clv"', "score = 1", ["scheme.score must be text in quotes, got 1"]),
    # ladders
    ("ladder_five_card", "grace_days = 30", "grace_days = inf",
     ["grace_days must be a whole number of days >= 0, got inf"]),
    ("ladder_five_card", "grace_days = 30", "grace_days = 30.5",
     ["grace_days must be a whole number of days >= 0, got 30.5"]),
    ("ladder_five_card", "max_downgrade = 1", "max_downgrade = true",
     ["max_downgrade must be a whole number of levels >= 1, got true (a boolean)"]),
    ("ladder_five_card", "max_downgrade = 1", "max_downgrade = 0",
     ["max_downgrade must be a whole number of levels >= 1, got 0"]),
    ("ladder_five_card", "min = 1000", "min = -1000",
     ["levels[1].min must be a number >= 0, got -1000"]),
    ("ladder_five_card", "min = 5000", 'min = "5000"',
     ["levels[2].min must be a number >= 0, got '5000' (text)"]),
    ("ladder_five_card", "min = 20000", "min = nan",
     ["levels[3].min must be a number >= 0, got nan"]),
    ("ladder_five_card", 'id = "gold"', 'id = "silver"',
     ["level ids repeat: ['silver']", "give each level its own id"]),
    ("ladder_five_card", 'evaluation = "yearly"', 'evaluation = "yaerly"',
     ["evaluation 'yaerly' is unknown (did you mean 'yearly'?)"]),
    ("ladder_five_card", 'upgrade = "immediate"', 'upgrade = "imediate"',
     ["upgrade must be 'immediate' or 'at_evaluation', got 'imediate' (text)"]),
    ("ladder_medals", "lifetime = true", 'lifetime = "yes"',
     ["levels[15].lifetime must be true or false, got 'yes' (text)"]),
    ("ladder_supermarket", "discount = 0.05", "discunt = 0.05",
     ["levels[0]: unknown key 'discunt' (did you mean 'discount'?)"]),
    ("ladder_supermarket", "discount = 0.10", "discount = 10",
     ["levels[1].discount must be a number in [0, 1), got 10"]),
    ("ladder_telecom_stars", ("[[levels]]", None), "levels = []\n",
     ["levels has 0 entries; a ladder needs at least two [[levels]], lowest first"]),
    ("ladder_telecom_stars", ("[[levels]]", None), 'levels = "six stars"\n',
     ["levels must be an array of tables, one [[levels]] each, got 'six stars' (text)"]),
    ("ladder_telecom_stars", 'basis = "arpu"', "basis = 1",
     ["basis must be text, one of points_held, points_earned, spend, arpu; got 1"]),
    # points rules
    ("points_pollen", "expiry_years = 1", "expiry_years = inf",
     ["expiry_years must be a whole number of calendar years > 0, got inf"]),
    ("points_pollen", "expiry_years = 1", "expiry_years = 1.5",
     ["expiry_years must be a whole number of calendar years > 0, got 1.5"]),
    ("points_pollen", "expiry_years = 1", "expiry_years = 1\nexpiry_days = 365",
     ["expiry_years and expiry_days are both given; keep one"]),
    ("points_pollen", 'leap_day = "mar_1"', 'leap_day = "march_1"',
     ["leap_day 'march_1' is unknown (did you mean 'mar_1'?)"]),
    ("points_pollen", 'not_first_review_counts_as = "review"',
     'not_first_review_counts_as = "reviews"',
     ["not_first_review_counts_as 'reviews' is not an event type", "(did you mean 'review'?)"]),
    ("points_pollen", "points_per_currency_unit = 1.0", "points_per_currency_unit = nan",
     ["points_per_currency_unit must be a number >= 0, got nan"]),
    ("points_pollen", "points_per_currency_unit = 1.0", "points_per_currency_unit = true",
     ["points_per_currency_unit must be a number >= 0, got true (a boolean)"]),
    ("points_pollen", "points_per_currency_off = 100", "points_per_currency_off = 0",
     ["points_per_currency_off must be a whole number > 0, got 0"]),
    ("points_pollen", "review = 10", "review = -10",
     ["events.review must be a whole number of points >= 0, got -10"]),
    ("points_pollen", "late_delivery = 500", 'late_delivery = "500"',
     ["events.late_delivery must be a whole number of points >= 0, got '500' (text)"]),
    ("points_pollen", 'events = ["profile"]', 'events = ["profil"]',
     ["once_per_customer.events ['profil'] are not event types", "(did you mean 'profile'?)"]),
    ("points_pollen", 'events = ["profile"]', "events = []",
     ["once_per_customer.events must be an array of event types, got an empty array"]),
    ("points_pollen", ("[events]", "[once_per_customer]"), 'events = ["review"]\n\n',
     ["events must be a table ([events]), got an array"]),
    ("points_pollen", 'rounding = "floor"', 'rounding = "flor"',
     ["rounding 'flor' is unknown (did you mean 'floor'?)", "use one of floor, round, ceil"]),
    ("points_pollen", "expiry_years", "expiry_yeers",
     ["unknown key 'expiry_yeers' (did you mean 'expiry_years'?)"]),
    # scorecard
    ("b2b_parts_supplier", "weight = 1.0", "weight = 0",
     ["criteria[0].weight must be a number > 0, got 0"]),
    ("b2b_parts_supplier", BOUNDS, "bounds = [10_000_000, inf, 1_000_000, 500_000]",
     ["criteria[0].bounds[1] must be a number, got inf"]),
    ("b2b_parts_supplier", BOUNDS, "bounds = []",
     ["criteria[0].bounds is an empty array; give 4 numbers falling from grade A to D"]),
    ("b2b_parts_supplier", BOUNDS, "bounds = [10_000_000, 5_000_000, 1_000_000]",
     ["criteria[0].bounds must be 4 numbers falling from grade A to D"]),
    ("b2b_parts_supplier", "strict = false", "strict = 1",
     ["criteria[0].strict must be true or false, or an array of 4 of them", "got 1"]),
    ("b2b_parts_supplier", 'lead = "industry_position"', 'lead = "industry"',
     ["combine.lead 'industry' is not a criterion id", "(did you mean 'industry_position'?)"]),
    ("b2b_parts_supplier", 'cash_on_time = "A"', 'cash_on_time = "AA"',
     ["criteria[1].classes.cash_on_time 'AA' is unknown", "use one of A, B, C, D, E"]),
    ("b2b_parts_supplier", 'id = "payment"', 'id = "annual_sales"',
     ["criteria ids repeat: ['annual_sales']"]),
    ("b2b_parts_supplier", 'field = "share_profitable"', "field = 7",
     ["criteria[2].require.field must be text in quotes, got 7"]),
    ("b2b_parts_supplier", "A = 1.0", "A = nan", ["criteria[2].require.A must be a number"]),
    ("b2b_parts_supplier", "delivery_target = 0.95", "delivery_target = 1.5",
     ["plans.C.delivery_target must be a share in [0, 1], got 1.5"]),
    ("b2b_parts_supplier", "visits_per_year = 2", "visits_per_year = 2.5",
     ["plans.C.visits_per_year must be a whole number >= 0, got 2.5"]),
    ("b2b_parts_supplier", "k = 4", "k = 0", ["combine.k must be a whole number >= 1, got 0"]),
    ("b2b_parts_supplier", "k = 4", "k = 9", ["combine.k = 9 is more than the 8 criteria"]),
    ("b2b_parts_supplier", ("[plans.E]", None), '[plans]\nE = "watch"\n',
     ["plans.E must be a table ([plans.E]), got 'watch' (text)"]),
    ("b2b_parts_supplier", 'name_en = "B2B', 'name_eng = "B2B',
     ["unknown key 'name_eng' (did you mean 'name_en'?)"]),
]  # fmt: skip


def _case_id(case) -> str:
    name, _, new, _ = case
    return f"{name}:{new.splitlines()[0][:40]}"


@pytest.mark.parametrize(("name", "old", "new", "words"), CASES, ids=map(_case_id, CASES))
def test_one_wrong_value_is_rejected(tmp_path, name, old, new, words):
    text = resources.files("clv.schemes").joinpath(f"{name}.toml").read_text("utf-8")
    if isinstance(old, tuple):
        start = text.index(old[0])
        stop = len(text) if old[1] is None else text.index(old[1])
        old = text[start:stop]
    assert old in text
    path = tmp_path / f"{name}.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(clv.SchemeError) as err:
        LOADERS[name](path)
    message = str(err.value)
    assert str(path) in message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_packaged_files_are_valid(tmp_path, name):
    text = resources.files("clv.schemes").joinpath(f"{name}.toml").read_text("utf-8")
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    LOADERS[name](path)


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    text = resources.files("clv.schemes").joinpath("five_card.toml").read_text("utf-8")
    text = text.replace("upper = 0.5", "upper = nan").replace(
        "provisional_days = 30", "provisional_days = inf"
    )
    path = tmp_path / "scheme.toml"
    path.write_text(text.replace("rank = 3", 'rank = "3"'), encoding="utf-8")
    with pytest.raises(clv.SchemeError) as err:
        clv.load_scheme(path)
    assert len(err.value.problems) == 3
    assert "3 problem(s)" in str(err.value)


def test_rules_errors_name_the_kind_of_file(tmp_path):
    path = tmp_path / "ladder.toml"
    path.write_text('id = "x"\n', encoding="utf-8")
    with pytest.raises(clv.SchemeError, match=f"^ladder {re.escape(str(path))}: "):
        load_ladder(path)
    with pytest.raises(
        clv.SchemeError, match=r"(?s)^points rules nope: .*no packaged points rules"
    ):
        load_points_rules("nope")
