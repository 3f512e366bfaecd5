"""Points ledger: hand-computed ledgers across year ends and leap years, rejections."""

from __future__ import annotations

import dataclasses
import datetime as dt
from importlib import resources

import polars as pl
import pytest

import clv
from clv.programmes import build_ledger, load_ladder, load_points_rules, run_ladder

D = dt.date


def _frame(rows, columns):
    return pl.DataFrame(rows, schema=columns, orient="row")


ORDERS = _frame(
    [
        ("a", D(2023, 3, 1), 120.7),
        ("a", D(2024, 2, 29), 50.0),
        ("b", D(2023, 12, 1), 30.0),
        ("b", D(2024, 1, 5), 99.99),
    ],
    ["customer_id", "date", "amount"],
)
EVENTS = _frame(
    [
        ("a", D(2023, 6, 1), "review", None),
        ("a", D(2023, 7, 1), "profile", None),
        ("a", D(2023, 8, 1), "profile", None),
        ("a", D(2023, 9, 1), "selfie", None),
        ("b", D(2024, 2, 1), "first_review", "p1"),
        ("a", D(2024, 3, 1), "first_review", "p1"),
    ],
    ["customer_id", "date", "event", "product_id"],
)
REDEMPTIONS = _frame(
    [("a", D(2023, 12, 31), 100), ("a", D(2024, 6, 1), 1000)],
    ["customer_id", "date", "points"],
)
REGISTERED = _frame([("a", D(2023, 1, 1)), ("b", D(2024, 1, 1))], ["customer_id", "registered"])


@pytest.fixture(scope="module")
def ledger():
    return build_ledger(
        ORDERS,
        "points_pollen",
        events=EVENTS,
        redemptions=REDEMPTIONS,
        registrations=REGISTERED,
        as_of="2024-12-31",
    )


def test_hand_computed_history(ledger):
    # 1 point per yuan (floor), review 10, profile 50 once, 100 points redeemed on
    # 2023-12-31 from the oldest lot. Points are valid one calendar year
    # ("有效期为1年", 002_f91dd7b219312f8b.txt): the 20 left of 2023-03-01 expire on
    # 2024-03-01, not on 2024-02-29 (365 days later in a leap year), before that
    # day's inputs. a's first_review of p1 (b reviewed p1 first) is a review: 10.
    history = ledger.history("a").select("date", "kind", "source", "points", "balance").rows()
    assert history == [
        (D(2023, 3, 1), "earn", "order", 120, 120),
        (D(2023, 6, 1), "earn", "review", 10, 130),
        (D(2023, 7, 1), "earn", "profile", 50, 180),
        (D(2023, 12, 31), "redeem", "redemption", -100, 80),
        (D(2024, 2, 29), "earn", "order", 50, 130),
        (D(2024, 3, 1), "expire", "expiry", -20, 110),
        (D(2024, 3, 1), "earn", "review", 10, 120),
        (D(2024, 6, 1), "expire", "expiry", -10, 110),
        (D(2024, 7, 1), "expire", "expiry", -50, 60),
    ]
    note = ledger.history("a").filter(pl.col("note").is_not_null())["note"].to_list()
    assert note == ["first_review of product p1 was not the first: counted as review"]


def test_balances_as_of_any_date_in_points_and_yuan(ledger):
    end = ledger.balances().filter(pl.col("customer_id") == "a").row(0, named=True)
    assert (end["earned"], end["redeemed"], end["expired"], end["balance"]) == (240, 100, 80, 60)
    # "100花粉可享受1元优惠": 100 points = 1 yuan
    assert (end["redeemed_yuan"], end["balance_yuan"]) == (1.0, 0.6)
    mid = ledger.balances("2024-01-01").filter(pl.col("customer_id") == "a").row(0, named=True)
    assert (mid["earned"], mid["redeemed"], mid["expired"], mid["balance"]) == (180, 100, 0, 80)
    # every point explained: the balance is the sum of the entries, and of the lots held
    totals = ledger.balances()
    assert (totals["earned"] - totals["redeemed"] - totals["expired"] == totals["balance"]).all()
    lots = ledger.lots().filter(pl.col("customer_id") == "a").rows()
    assert lots == [
        ("a", D(2024, 2, 29), D(2025, 3, 1), 50),
        ("a", D(2024, 3, 1), D(2025, 3, 1), 10),
    ]
    with pytest.raises(ValueError, match="runs to 2024-12-31"):
        ledger.balances("2025-06-01")


def test_rejections_are_kept_with_reasons(ledger):
    reasons = dict(
        ((r["customer_id"], r["date"]), r["reason"]) for r in ledger.rejected.iter_rows(named=True)
    )
    assert reasons[("a", D(2023, 8, 1))] == "profile is rewarded once per customer"
    assert reasons[("a", D(2023, 9, 1))].startswith("unknown event type")
    assert reasons[("a", D(2024, 6, 1))] == "redeems 1000 points with a balance of 110"
    assert reasons[("b", D(2023, 12, 1))] == "dated before the customer's registration"
    assert ledger.rejected.height == 4
    b = ledger.history("b").select("source", "points").rows()
    assert b == [("order", 99), ("first_review", 20)]


def test_a_first_review_that_is_not_first_can_be_rejected_instead(ledger):
    rules = dataclasses.replace(ledger.rules, not_first_review_counts_as="")
    strict = build_ledger(ORDERS, rules, events=EVENTS, registrations=REGISTERED)
    reasons = dict(((r[0], r[1]), r[3]) for r in strict.rejected.rows())
    assert reasons[("a", D(2024, 3, 1))] == "product p1 already had its first review"


@pytest.mark.parametrize(
    ("earned", "options", "expires"),
    [
        (D(2023, 1, 15), {}, D(2024, 1, 15)),  # valid to 14 January of the next year
        (D(2024, 1, 15), {}, D(2025, 1, 15)),
        (D(2023, 12, 31), {}, D(2024, 12, 31)),  # across a year end
        (D(2023, 2, 28), {}, D(2024, 2, 28)),  # into a leap year
        (D(2023, 3, 1), {}, D(2024, 3, 1)),  # 366 days: 2024 has 29 February
        (D(2024, 2, 29), {}, D(2025, 3, 1)),  # leap day: valid to 28 February
        (D(2024, 2, 29), {"leap_day": "feb_28"}, D(2025, 2, 28)),
        (D(2024, 1, 15), {"valid_on_anniversary": True}, D(2025, 1, 16)),
        (D(2024, 12, 31), {"valid_on_anniversary": True}, D(2026, 1, 1)),
        (D(2024, 2, 29), {"leap_day": "feb_28", "valid_on_anniversary": True}, D(2025, 3, 1)),
        (D(2024, 2, 29), {"expiry_years": 4}, D(2028, 2, 29)),  # leap year to leap year
        (D(2024, 2, 29), {"expiry_years": 0, "expiry_days": 365}, D(2025, 2, 28)),
        (D(2024, 2, 29), {"expiry_years": 0}, None),  # no validity: never expire
    ],
)
def test_expiry_dates_by_hand(earned, options, expires):
    rules = dataclasses.replace(load_points_rules(), **options)
    assert rules.expires_on(earned) == expires


@pytest.mark.parametrize(
    ("earned", "redeemed", "accepted"),
    [
        (D(2023, 1, 15), D(2024, 1, 14), True),  # the last valid day
        (D(2023, 1, 15), D(2024, 1, 15), False),  # the anniversary: expired that morning
        (D(2023, 12, 31), D(2024, 12, 30), True),
        (D(2023, 12, 31), D(2024, 12, 31), False),
        (D(2024, 2, 29), D(2025, 2, 28), True),  # leap-day points, last valid day
        (D(2024, 2, 29), D(2025, 3, 1), False),
    ],
)
def test_a_redemption_on_the_last_valid_day_and_the_day_after(earned, redeemed, accepted):
    orders = _frame([("c", earned, 300.0)], ["customer_id", "date", "amount"])
    redemptions = _frame([("c", redeemed, 300)], ["customer_id", "date", "points"])
    ledger = build_ledger(orders, redemptions=redemptions, as_of=D(2025, 12, 31))
    assert ledger.rejected.is_empty() is accepted
    kinds = ledger.history("c")["kind"].to_list()
    assert kinds == (["earn", "redeem"] if accepted else ["earn", "expire"])


def test_rules_cite_and_keep_each_programme_apart():
    pollen = load_points_rules()
    assert (pollen.expiry_years, pollen.expiry_days, pollen.points_per_currency_off) == (1, 0, 100)
    assert pollen.events == {
        "review": 10,
        "first_review": 20,
        "profile": 50,
        "referral": 100,
        "late_delivery": 500,
    }
    assert pollen.to_currency(250) == 2.5
    membership = load_points_rules("points_membership")
    assert membership.events["referral"] == 100 and membership.expiry_years == 1
    assert "first_review" not in membership.events
    # every rule of the packaged files names its document ([000] or [002], files
    # listed at the top) with a quote, or says the documents give no such rule
    for name in ("points_pollen", "points_membership"):
        text = resources.files("clv.schemes").joinpath(f"{name}.toml").read_text("utf-8")
        assert "002_f91dd7b219312f8b.txt" in text
        for paragraph in text.split("\n\n")[1:]:
            rules = [ln for ln in paragraph.splitlines() if ln and ln[0] not in "#["]
            rules = [ln for ln in rules if not ln.startswith(("id ", "name_"))]
            if rules:
                said = paragraph.replace(rules[0], "", 1)
                cited = ('[000] "' in said or '[002] "' in said) or any(
                    "example" in ln for ln in rules
                )
                assert cited or "say nothing" in said or "not in the document" in said, (
                    f"{name}: {rules} cite no document"
                )


def test_rules_validation(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        'id = "x"\nname_zh = "积分"\nname_en = "Points"\npoints_per_currency_unit = -1\n'
        'points_per_currency_off = 100\nexpiry_days = 0\nexpiry_years = 1\ncolour = "red"\n'
        'leap_day = "feb_29"\nnot_first_review_counts_as = "reveiw"\n'
        '[events]\nreview = 10\n[once_per_customer]\nevents = ["profile"]\n',
        encoding="utf-8",
    )
    with pytest.raises(clv.SchemeError) as err:
        load_points_rules(path)
    message = str(err.value)
    assert "unknown key 'colour'" in message
    assert "points_per_currency_unit must be a number >= 0" in message
    assert "expiry_days must be a whole number of days > 0" in message
    assert "expiry_years and expiry_days are both given" in message
    assert "leap_day 'feb_29' is unknown" in message
    assert "not_first_review_counts_as 'reveiw' is not an event type" in message
    assert "['profile'] are not event types" in message


def test_medals_follow_the_pollen_obtained_without_step_down():
    # 000_8d34a45fea9e1639.txt: "所获得的花粉的多少 ... 确定该会员等级": pollen obtained,
    # so redeeming pollen does not take a medal away; "10,001~25,000" is 4 bee medals
    # and "25,000~50,000" 5: 25,000 read as 4 medals
    orders = _frame(
        [("m", D(2024, 1, 10), 1_200.0), ("q", D(2024, 1, 10), 25_000.0)],
        ["customer_id", "date", "amount"],
    )
    redemptions = _frame([("m", D(2024, 2, 1), 1_000)], ["customer_id", "date", "points"])
    ledger = build_ledger(orders, redemptions=redemptions, as_of="2024-12-31")
    result = run_ladder("ladder_medals", points=ledger.entries, end="2024-12-31")
    levels = dict(result.as_of("2024-12-31").select("customer_id", "level_name").rows())
    assert levels == {"m": "Bee 1", "q": "Bee 4"}
    assert "downgrade" not in result.changes["event"].to_list()
    names = [lv["zh"] for lv in load_ladder("ladder_medals").levels]
    assert names[0] == "鲜花勋章（1枚）" and names[5] == "蜜蜂勋章（1枚）"
    assert names[10] == "蜂王勋章（1枚）" and names[-1] == "终身“蜂后”勋章"


def _random_inputs(seed: int) -> dict:
    """Orders, events and redemptions of many members over 2023-2025, crowded
    around year ends and 29 February 2024, with every kind of bad input."""
    import numpy as np

    rng = np.random.default_rng(seed)
    members = [f"m{i:02d}" for i in range(int(rng.integers(5, 40)))]
    crowded = [D(2024, 2, 28), D(2024, 2, 29), D(2024, 3, 1), D(2023, 12, 31), D(2024, 1, 1)]
    crowded += [D(2025, 2, 28), D(2025, 3, 1), D(2024, 12, 31), D(2025, 1, 1)]

    def days(n):
        spread = [D(2023, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 1000, n)]
        near = [crowded[i] for i in rng.integers(0, len(crowded), n)]
        return [a if b else c for a, b, c in zip(spread, rng.random(n) < 0.6, near, strict=True)]

    n = int(rng.integers(1, 300))
    orders = pl.DataFrame(
        {
            "customer_id": rng.choice(members, n).tolist(),
            "date": days(n),
            "amount": np.round(rng.gamma(1.0, 150.0, n), 2).tolist(),
        }
    )
    n = int(rng.integers(0, 200))
    kinds = ["review", "first_review", "profile", "referral", "selfie", "late_delivery"]
    events = pl.DataFrame(
        {
            "customer_id": rng.choice(members, n).tolist(),
            "date": days(n),
            "event": rng.choice(kinds, n).tolist(),
            "product_id": [None if r < 0.2 else f"p{int(r * 8)}" for r in rng.random(n)],
        },
        schema_overrides={"product_id": pl.String},
    )
    n = int(rng.integers(0, 200))
    redemptions = pl.DataFrame(
        {
            "customer_id": rng.choice(members, n).tolist(),
            "date": days(n),
            "points": rng.choice([-5, 0, 10, 50, 100, 200, 400, 2000], n).tolist(),
        }
    )
    registered = pl.DataFrame(
        {
            "customer_id": members[: len(members) * 3 // 4],
            "registered": days(len(members) * 3 // 4),
        }
    )
    return {
        "orders": orders,
        "events": events,
        "redemptions": redemptions,
        "registered": registered,
    }


@pytest.mark.parametrize("seed", range(12))
def test_vectorised_ledger_matches_the_one_at_a_time_reference(seed):
    from clv.programmes.points import _build_ledger_reference

    data = _random_inputs(seed)
    base = load_points_rules()
    variants = [
        {},
        {"leap_day": "feb_28"},
        {"valid_on_anniversary": True},
        {"leap_day": "feb_28", "valid_on_anniversary": True, "not_first_review_counts_as": ""},
        {"expiry_years": 0, "expiry_days": 90},
        {"expiry_years": 0},
        {"expiry_years": 2, "rounding": "round", "points_per_currency_unit": 2.5},
    ]
    options = variants[seed % len(variants)]
    rules = dataclasses.replace(base, **options)
    kwargs = {"events": data["events"], "redemptions": data["redemptions"]}
    if seed % 3:
        kwargs["registrations"] = data["registered"]
    for as_of in (None, D(2024, 6, 30), D(2026, 12, 31)):
        fast = build_ledger(data["orders"], rules, as_of=as_of, **kwargs)
        slow = _build_ledger_reference(data["orders"], rules, as_of=as_of, **kwargs)
        assert fast.as_of == slow.as_of
        assert fast.entries.equals(slow.entries)
        assert fast.rejected.equals(slow.rejected)
        assert fast.balances().equals(slow.balances())
        assert fast.lots().equals(slow.lots())


def test_the_random_streams_exercise_every_rule():
    from clv.programmes.points import _build_ledger_reference

    seen: set[str] = set()
    for seed in range(12):
        data = _random_inputs(seed)
        ledger = _build_ledger_reference(
            data["orders"],
            "points_pollen",
            events=data["events"],
            redemptions=data["redemptions"],
            registrations=data["registered"],
        )
        seen |= set(ledger.entries["kind"].to_list())
        seen |= {r.split(" ")[0] for r in ledger.rejected["reason"].to_list()}
        seen |= {"note"} if ledger.entries["note"].drop_nulls().len() else set()
    # expiries, redemptions applied and refused for the balance or as empty,
    # once-per-customer, registration and unknown-type rejections, conversions
    assert {"expire", "redeem", "redeems", "redemption", "profile", "dated", "unknown"} <= seen
    assert "note" in seen
