"""The fast paths give the results of the plain computations they replace.

Scoring on distinct (frequency, T) pairs, the bootstrap's counted resamples
and running sums, and the loader's duplicate check are each compared with the
straightforward computation, written out here, on logs built to exercise them.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import clv
from clv import scoring, tiers
from clv.models import PurchaseModelResults

# --------------------------------------------------------------------------- scoring


def _unfactorised_score(
    summary: pl.DataFrame,
    purchase: PurchaseModelResults,
    spend,
    *,
    horizon_days: float = 365.0,
    discount_rate_annual: float = 0.10,
    steps_per_year: int = 12,
    margin: float | None = None,
    activity_horizon_days: float | None = None,
) -> pl.DataFrame:
    """Every column of :func:`clv.score`, computed row by row from the model's
    own methods: no distinct histories, no factorisation."""
    unit_days = clv.rfm.DAYS_PER_UNIT[purchase.time_unit]
    n_steps = max(1, math.ceil(horizon_days / 365.25 * steps_per_year - 1e-9))
    step_days = horizon_days / n_steps
    discount = (1.0 + discount_rate_annual) ** (-np.arange(1, n_steps + 1) * step_days / 365.25)
    x, t_x, T = (summary[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    steps = [k * step_days / unit_days for k in range(1, n_steps + 1)]
    cumulative = np.column_stack([purchase.expected_purchases(t, x, t_x, T) for t in steps])
    discounted = (np.diff(cumulative, axis=1, prepend=0.0) * discount).sum(axis=1)
    p_alive = purchase.p_alive(x, t_x, T)
    activity = (activity_horizon_days or horizon_days) / unit_days
    p_none = purchase.prob_no_purchase(activity, x, t_x, T)
    if spend is not None:
        order_value = spend.expected_order_value(
            summary["frequency"].to_numpy(), summary["monetary_value"].to_numpy()
        )
    else:
        order_value = (summary["revenue"] / (summary["frequency"] + 1)).to_numpy()
    value = order_value * discounted
    columns = {
        "expected_purchases": cumulative[:, -1],
        "p_alive": p_alive,
        "churn_probability": 1.0 - p_alive,
        "p_active": 1.0 - p_none,
        "p_no_purchase": p_none,
        "expected_order_value": order_value,
        "clv": value if margin is None else value * margin,
    }
    if margin is not None:
        columns["clv_revenue"] = value
    return summary.with_columns(pl.Series(k, v) for k, v in columns.items())


def _assert_same_scores(fast: pl.DataFrame, plain: pl.DataFrame) -> None:
    assert fast.columns == plain.columns
    assert fast.dtypes == plain.dtypes
    for column in fast.columns:
        if fast[column].dtype == pl.Float64:
            np.testing.assert_allclose(
                fast[column].to_numpy(),
                plain[column].to_numpy(),
                rtol=1e-12,
                atol=0,
                err_msg=column,
            )
        else:
            assert fast[column].equals(plain[column]), column


@pytest.fixture(scope="module")
def simulated_summary() -> pl.DataFrame:
    # many customers share (frequency, T) but not the recency: the factorised case
    log = clv.simulate_transactions(4_000, r=0.6, alpha=4.0, a=0.8, b=2.5, seed=7)
    return clv.summarize(log, freq="D", time_unit="W", observation_end="2025-06-30")


PARAMS = {
    "bgnbd": {"r": 0.6, "alpha": 4.0, "a": 0.8, "b": 2.5},
    "mbgnbd": {"r": 0.6, "alpha": 4.0, "a": 0.8, "b": 2.5},
    "pareto_nbd": {"r": 0.6, "alpha": 4.0, "s": 0.7, "beta": 12.0},
}


@pytest.mark.parametrize("model", list(PARAMS))
def test_scoring_equals_the_unfactorised_computation(model, cdnow_calibration, simulated_summary):
    for summary in (cdnow_calibration, simulated_summary):
        purchase = PurchaseModelResults.from_params(model, PARAMS[model], time_unit="W")
        spend = clv.fit_spend_model(summary)
        for options in (
            {},
            {"horizon_days": 90.0, "discount_rate_annual": 0.2, "margin": 0.3},
            {"activity_horizon_days": 30.0, "steps_per_year": 52},
        ):
            fast = clv.score(summary, purchase, spend, **options)
            _assert_same_scores(fast, _unfactorised_score(summary, purchase, spend, **options))
        fast = clv.score(summary, purchase, None)
        _assert_same_scores(fast, _unfactorised_score(summary, purchase, None))


def test_scoring_factorises_over_pairs(simulated_summary):
    """The conditional expectations are evaluated once per distinct
    (frequency, T) pair, not per history or customer."""
    purchase = PurchaseModelResults.from_params("bgnbd", PARAMS["bgnbd"], time_unit="W")
    sizes = []

    class Counting:
        def __getattr__(self, name):
            return getattr(purchase, name)

        def expected_purchases(self, t, frequency, recency, T):
            sizes.append(np.size(frequency))
            return purchase.expected_purchases(t, frequency, recency, T)

    clv.score(simulated_summary, Counting(), None)
    pairs = simulated_summary.select("frequency", "T").n_unique()
    histories = simulated_summary.select("frequency", "recency", "T").n_unique()
    assert pairs < histories  # the log does exercise the factorisation
    assert sizes == [pairs] * 12


def test_a_hash_collision_falls_back_to_the_exact_grouping(monkeypatch, simulated_summary):
    purchase = PurchaseModelResults.from_params("pareto_nbd", PARAMS["pareto_nbd"], time_unit="W")
    expected = clv.score(simulated_summary, purchase, None)
    # every row hashed alike: the check against the representatives must catch it
    monkeypatch.setattr(
        scoring, "_row_hashes", lambda frame: pl.Series("h", np.zeros(frame.height, np.uint64))
    )
    codes, first = scoring._distinct(simulated_summary.select("frequency", "T"))
    assert first.size == simulated_summary.select("frequency", "T").n_unique()
    assert np.array_equal(simulated_summary["T"].to_numpy()[first][codes], simulated_summary["T"])
    _assert_same_scores(clv.score(simulated_summary, purchase, None), expected)


def test_tiny_p_alive_is_scored_directly():
    """Where P(alive) underflows the ratio is not used: the expectations are
    the model's own, computed on those histories."""
    purchase = PurchaseModelResults.from_params(
        "bgnbd", {"r": 2.0, "alpha": 0.5, "a": 50.0, "b": 0.5}, time_unit="W"
    )
    summary = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "frequency": [400, 400, 1],
            "recency": [1.0, 30.0, 2.0],
            "T": [100.0, 100.0, 3.0],
            "monetary_value": [10.0, 10.0, 10.0],
            "revenue": [4010.0, 4010.0, 20.0],
        }
    )
    x, t_x, T = (summary[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    assert purchase.p_alive(x, t_x, T)[0] < 1e-290  # the case being tested
    _assert_same_scores(
        clv.score(summary, purchase, None), _unfactorised_score(summary, purchase, None)
    )


# --------------------------------------------------------------------------- bootstrap


def _plain_resample_cuts(desc, method, shares, count, seed, tie_rule):
    """The bootstrap written plainly: copy counts from int64 draws, float running
    sums over every customer, then the cut and the tie rule."""
    rng = np.random.default_rng(seed)
    n = desc.size
    ascending = desc[::-1]
    cuts = np.cumsum(shares)[:-1] - 1e-12
    first, stop_of = tiers._block_edges(desc)
    draws = np.empty((count, cuts.size))
    positions = np.empty((count, cuts.size), dtype=np.int64)
    for b in range(count):
        copies = np.bincount(rng.integers(0, n, size=n), minlength=n).astype(np.float64)
        mass = desc * copies if method == "value_share" else copies
        cumulative = np.cumsum(mass) / mass.sum()
        index = np.minimum(np.searchsorted(cumulative, cuts, side="left"), n - 1)
        draws[b] = desc[index]
        if not tie_rule:
            positions[b] = n - np.searchsorted(ascending, draws[b], side="left")
            continue
        top, stop = first[index], stop_of[index]
        before = np.where(top > 0, cumulative[np.maximum(top - 1, 0)], 0.0)
        after = cumulative[stop - 1]
        counted = np.cumsum(copies)
        present = counted[stop - 1] - np.where(top > 0, counted[np.maximum(top - 1, 0)], 0.0)
        down = (present >= 2) & (cuts - before < after - cuts)
        positions[b] = np.where(down, top, stop)
    return draws, positions


@pytest.mark.parametrize("method", ["value_share", "quantile"])
@pytest.mark.parametrize("tie_rule", [True, False])
@pytest.mark.parametrize("rounding", [None, 0])
def test_bootstrap_equals_the_plain_loop(method, tie_rule, rounding):
    rng = np.random.default_rng(11)
    values = rng.lognormal(3.0, 1.5, 20_000)
    if rounding is not None:  # big blocks of equal scores for the tie rule
        values = np.round(values, rounding)
    desc = np.sort(values)[::-1]
    shares = [0.40, 0.25, 0.20, 0.10, 0.05]
    draws = np.empty((30, 4))
    positions = tiers._resample_cuts(
        values,
        desc,
        method,
        {"shares": shares},
        5,
        draws,
        np.random.default_rng(5),
        5,
        tie_rule=tie_rule,
    )
    plain_draws, plain_positions = _plain_resample_cuts(desc, method, shares, 30, 5, tie_rule)
    assert np.array_equal(draws, plain_draws)
    assert np.array_equal(positions, plain_positions)


@pytest.mark.parametrize("n", [1, 2, 999, 2**16 + 3, 1_000_003])
def test_int32_draws_are_the_int64_draws(n):
    """The bootstrap draws in int32, which must be the stream rng.integers gives
    in int64 (numpy takes 32-bit draws for ranges below 2**32 either way)."""
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(2):
        assert np.array_equal(
            a.integers(0, n, size=5_000, dtype=np.int32), b.integers(0, n, size=5_000)
        )


@pytest.mark.parametrize("guess", [0, 10, 5_000, 10**6])
def test_running_sum_and_first_reaching_are_exact(guess):
    rng = np.random.default_rng(2)
    mass = rng.lognormal(0, 2, 50_000) * (rng.random(50_000) < 0.6)
    full = np.cumsum(mass)
    cuts = np.array([1e-9, 0.3, 0.5, 0.9, 0.999999])
    reach = cuts[-1] * full[-1] * (1 + 1e-9)
    part = tiers._running_sum(mass, reach, guess)
    assert np.array_equal(part, full[: part.size])  # bit for bit
    assert part.size == full.size or part[-1] > reach
    expected = np.searchsorted(full / mass.sum(), cuts, side="left")
    assert np.array_equal(tiers._first_reaching(part, mass.sum(), cuts), expected)


def test_grade_labels_are_the_per_customer_lookup(cdnow_calibration):
    purchase = PurchaseModelResults.from_params("bgnbd", PARAMS["bgnbd"], time_unit="W")
    scores = clv.score(cdnow_calibration, purchase, clv.fit_spend_model(cdnow_calibration))
    for lang in ("en", "zh"):
        graded = clv.grade(scores, "five_card", lang=lang, n_bootstrap=20, seed=1)
        scheme = graded.scheme
        rows = graded.customers.select("tier_rank", "risk_band", "tier", "tier_name", "action")
        for rank, band, tier, name, action in rows.iter_rows():
            assert tier == scheme.tiers[rank - 1].id
            assert name == scheme.tiers[rank - 1].name(lang)
            assert action == scheme.action(tier, band, lang)
        assert graded.customers["tier"].dtype == pl.String


# --------------------------------------------------------------------------- duplicates


def _previous_duplicate_check(frame: pl.DataFrame, columns: list[str]) -> tuple[list[int], int]:
    """The check before the (customer, date) pass: hashes of whole rows over the
    whole log. Returns (positions of exact repeats after their first row,
    near duplicates)."""
    row = pl.struct(columns)
    repeats = frame.select(~row.is_first_distinct()).to_series()
    near = frame.select(
        pl.struct("customer_id", "date").is_duplicated() & ~row.is_duplicated()
    ).to_series()
    return np.flatnonzero(repeats.to_numpy()).tolist(), int(near.sum())


def _log_with_duplicates(seed: int, quantity: bool) -> pl.DataFrame:
    """A log where every kind occurs many times: exact repeats (some three or
    more times), near duplicates (same customer and time, another amount or
    quantity), the same amount at another time, and clean rows."""
    rng = np.random.default_rng(seed)
    n = 4_000
    base = dt.datetime(2021, 3, 1)
    frame = pl.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in rng.integers(0, 400, n)],
            "date": [
                base + dt.timedelta(days=int(d), hours=int(h))
                for d, h in zip(
                    rng.integers(0, 30, n), rng.choice([0, 0, 0, 9, 15], n), strict=True
                )
            ],
            "amount": rng.choice([5.0, 5.0, 12.5, 20.0, 99.99], n),
        }
    )
    if quantity:
        frame = frame.with_columns(pl.Series("quantity", rng.choice([1, 1, 2, 3], n)))
    # explicit repeats of random rows, some of them several times
    repeats = frame[rng.integers(0, n, 600).tolist()]
    return pl.concat([frame, repeats, repeats[:150]]).sample(fraction=1.0, shuffle=True, seed=seed)


@pytest.mark.parametrize("quantity", [False, True])
@pytest.mark.parametrize("order", ["shuffled", "sorted"])
def test_duplicate_check_equals_the_previous_method(quantity, order):
    data = _log_with_duplicates(3, quantity)
    if order == "sorted":
        data = data.sort("customer_id", "date")
    columns = ["customer_id", "date", "amount"] + (["quantity"] if quantity else [])
    repeated_at, n_near = _previous_duplicate_check(data, columns)
    assert len(repeated_at) > 700 and n_near > 300  # many of each kind
    options = {"as_of": "2030-01-01", "quantity": "quantity" if quantity else None}
    kept = clv.load_transactions(data, duplicates="keep", **options)
    dropped = clv.load_transactions(data, duplicates="drop", **options)
    for tx in (kept, dropped):
        assert tx.quality.duplicate_rows == len(repeated_at)
        assert tx.quality.near_duplicate_rows == n_near
    assert dropped.quality.duplicate_rows_dropped == len(repeated_at)
    assert_frame_equal(kept.data, data.select(columns))
    survivors = np.setdiff1d(np.arange(data.height), repeated_at)
    assert_frame_equal(dropped.data, data.select(columns)[survivors.tolist()])
    with pytest.raises(clv.TransactionDataError, match=f"{len(repeated_at):,} rows repeat"):
        clv.load_transactions(data, duplicates="error", **options)
