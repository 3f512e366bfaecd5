"""Per-customer predictions: expected purchases, P(alive), churn probability,
activity, CLV.

Horizon and discount rate are given in explicit units (days, and a rate per
year), whatever the summary's time unit; the conversion happens here, once.
Predictions are computed on the distinct histories (frequency, recency, T)
and gathered back to the customers, and the conditional expectations at every
discounting step, the costly part, on the distinct (frequency, T) pairs only
(see ``_purchase_columns``): the cost grows with the number of distinct
histories, not of customers.

CLV is the discounted expected spend over the horizon::

    clv = expected_order_value * sum_k (E[X(t_k)] - E[X(t_{k-1})]) / (1 + d) ** (t_k / 365.25 days)

with ``t_k`` the ends of ``steps`` equal steps of the horizon (monthly by
default), ``E[X(t)]`` the model's conditional expected number of purchases
in ``(T, T + t]`` and ``d`` the annual discount rate: each step's purchases
are discounted from the step's end, as lifetimes does.

Activity: ``p_active`` and ``p_no_purchase``
--------------------------------------------
``p_alive`` is each model's own P(alive) and ``churn_probability`` is
``1 - p_alive``, as before. They are not a sound basis for "active" and
"lost" bands under every model. In BG/NBD (Fader, Hardie and Lee 2005) a
customer can drop out only right after a repeat purchase, so every one-time
buyer has P(alive) = 1 however long ago the purchase was: a customer who
bought once 70 weeks ago is "certainly alive". MBG/NBD (Batislam, Denizel and
Filiztekin 2007) adds a dropout chance at the first purchase and Pareto/NBD
(Schmittlein, Morrison and Colombo 1987) lets dropout happen at any time, and
under both P(alive) of a one-time buyer falls with the time since the
purchase; but a rule that holds only under some models would make a
customer's band depend on the model chosen.

``p_active`` is the probability that the customer buys at least once in the
next ``activity_horizon_days`` (the scoring horizon unless given):
``1 - P(X(T, T + t] = 0 | x, t_x, T)``, computed by each model's own
conditional distribution (:meth:`clv.PurchaseModelResults.p_active`). It is
P(alive) times the chance that a living customer with the posterior purchase
rate Gamma(r + x, alpha + T) buys within the horizon, so it falls with the
time since the last purchase for one-time buyers under all three models
(the rate posterior moves towards slow buyers as T grows even when P(alive)
stays 1). It answers the business question the bands ask ("will this
customer buy again soon?"), and a holdout period observes it directly:
whether the customer bought in the holdout, the test Wübben and von
Wangenheim (2008, "Instant customer base analysis", Journal of Marketing
72(3)) apply to active/inactive classifications.
``p_no_purchase = 1 - p_active`` is the column to cut churn-risk bands on
(higher is riskier, like ``churn_probability``).

Count-only logs
---------------
A summary of a log without amounts (no ``monetary_value`` and ``revenue``,
see :func:`clv.summarize`) is scored on purchases only: the purchase columns
(``expected_purchases``, ``p_alive``, ``churn_probability``, ``p_active``,
``p_no_purchase``) and no ``expected_order_value`` or ``clv``. Asking for a
value all the same (a spend model, a margin, ``value=True``) is an error.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from clv.models import PurchaseModelResults, SpendModelResults, _columns
from clv.rfm import DAYS_PER_UNIT, _is_spark

__all__ = ["score"]

_DAYS_PER_YEAR = 365.25


def score(
    summary: pl.DataFrame,
    purchase_model: PurchaseModelResults,
    spend_model: SpendModelResults | None = None,
    *,
    horizon_days: float = 365.0,
    discount_rate_annual: float = 0.10,
    steps_per_year: int = 12,
    margin: float | None = None,
    activity_horizon_days: float | None = None,
    value: bool | None = None,
) -> pl.DataFrame:
    """Score every customer of a summary.

    Parameters
    ----------
    summary
        Per-customer summary (:func:`clv.summarize`, or the calibration part of
        :func:`clv.calibration_holdout`), in the time unit the model was fitted in.
    purchase_model
        A fitted purchase model (:func:`clv.fit_purchase_model`).
    spend_model
        A fitted Gamma-Gamma model (:func:`clv.fit_spend_model`). Without it,
        ``expected_order_value`` is each customer's own mean spend per
        purchase period, first purchase included (``revenue / (frequency + 1)``;
        the mean repeat spend when the summary has no ``revenue``).
    horizon_days
        Prediction horizon in days.
    discount_rate_annual
        Annual discount rate (0.10 for 10 % a year).
    steps_per_year
        Discounting steps per year (12: monthly).
    margin
        Gross margin as a share of revenue (0.3 for 30 %). Given, ``clv`` is
        the discounted expected gross profit and ``clv_revenue`` the
        discounted expected revenue it comes from; without it ``clv`` is
        discounted expected revenue, not profit.
    activity_horizon_days
        Horizon of ``p_active`` and ``p_no_purchase``, in days; the
        prediction horizon ``horizon_days`` when not given.
    value
        Whether to value the purchases (``expected_order_value``, ``clv``):
        None (the default) values them when the summary has amounts and
        scores purchases only when it has none (a count-only log); True
        insists (an error for a count-only summary without a spend model);
        False scores purchases only.

    Returns
    -------
    polars.DataFrame
        The summary columns plus ``expected_purchases`` (over the horizon),
        ``p_alive``, ``churn_probability`` (1 - P(alive)), ``p_active``
        (probability of at least one purchase within the activity horizon),
        ``p_no_purchase`` (1 - ``p_active``, the column for churn-risk
        bands), ``expected_order_value`` (currency per order) and ``clv`` (discounted,
        currency), one row per customer, in the summary's order. Scored on
        purchases only (a count-only summary, or ``value=False``), there is
        no ``expected_order_value`` and no ``clv``.

    Raises
    ------
    ValueError
        For options that are not valid, a summary in another time unit than
        the model, or a value asked of a count-only summary.
    """
    if _is_spark(summary):  # a Spark summary: scored on the cluster
        options = dict(locals())
        if options.pop("value") is not None:
            raise ValueError(
                "value= is not taken for a Spark summary; leave it out (a Spark summary is "
                "scored with its values)"
            )
        from clv import spark

        return spark.score(**options)
    if not horizon_days > 0:
        raise ValueError(f"horizon_days={horizon_days}; give a positive number of days")
    if not discount_rate_annual > -1:
        raise ValueError(
            f"discount_rate_annual={discount_rate_annual}; give a yearly rate such as 0.10"
        )
    if activity_horizon_days is None:
        activity_horizon_days = horizon_days
    if not activity_horizon_days > 0:
        raise ValueError(
            f"activity_horizon_days={activity_horizon_days}; give a positive number of days"
        )
    if steps_per_year < 1:
        raise ValueError(f"steps_per_year={steps_per_year}; give at least 1")
    if margin is not None and not (isinstance(margin, int | float) and 0 < margin <= 1):
        raise ValueError(f"margin={margin!r}; give the gross margin as a share, e.g. 0.3")
    names = _columns(summary)
    mv = names["monetary_value"]
    revenue = "revenue" if "revenue" in summary.columns else "revenue_cal"
    has_amounts = mv in summary.columns or revenue in summary.columns
    if value is None:
        value = has_amounts or spend_model is not None or margin is not None
    if not value and (spend_model is not None or margin is not None):
        given = "spend_model" if spend_model is not None else "margin="
        raise ValueError(
            f"value=False scores purchases only, but {given} was given to value them; leave "
            f"out {given} or value=False"
        )
    if value and not has_amounts:
        raise ValueError(
            "the summary has no amounts (a count-only log: no monetary_value or revenue "
            "column), so there is no spend to value: CLV needs a spend model fitted on a log "
            "with amounts; score without spend_model=, margin= and value=True to get the "
            "purchase predictions (expected_purchases, p_alive) and grade on expected purchases"
        )
    if "time_unit" in summary.columns:
        units = summary["time_unit"].cast(pl.String).unique().to_list()
        if units != [purchase_model.time_unit]:
            raise ValueError(
                f"the summary is in time unit {units} but the model was fitted in "
                f"{purchase_model.time_unit!r}; score the summary the model was fitted on"
            )
    unit_days = DAYS_PER_UNIT[purchase_model.time_unit]
    n_steps = max(1, math.ceil(horizon_days / _DAYS_PER_YEAR * steps_per_year - 1e-9))
    step_days = horizon_days / n_steps
    discount = (1.0 + discount_rate_annual) ** (
        -np.arange(1, n_steps + 1) * step_days / _DAYS_PER_YEAR
    )

    key = [names["frequency"], names["recency"], names["T"]]
    histories = summary.select(pl.col(c).cast(pl.Float64) for c in key)
    history_of_row, first_row = _distinct(histories)
    x, t_x, T = (histories[c].to_numpy()[first_row] for c in key)
    purchases = _purchase_columns(
        purchase_model,
        x,
        t_x,
        T,
        [k * step_days / unit_days for k in range(1, n_steps + 1)],
        discount,
        activity_horizon_days / unit_days,
    )
    scored = summary.with_columns(
        pl.Series(name, values[history_of_row]) for name, values in purchases.items()
    )

    purchase_columns = [
        "expected_purchases",
        "p_alive",
        (1.0 - pl.col("p_alive")).alias("churn_probability"),
        (1.0 - pl.col("p_no_purchase")).alias("p_active"),
        "p_no_purchase",
    ]
    if not value:
        return scored.select(*summary.columns, *purchase_columns)
    if spend_model is not None:
        if mv not in summary.columns:
            raise ValueError("the summary has no monetary_value column for the spend model")
        # cheap elementwise arithmetic: computed per row, no distinct pairs needed
        scored = scored.with_columns(
            pl.Series(
                "expected_order_value",
                spend_model.expected_order_value(
                    summary[names["frequency"]].to_numpy(), summary[mv].to_numpy()
                ),
            )
        )
    elif revenue in summary.columns:
        # no spend model: each customer's own mean spend per purchase period
        scored = scored.with_columns(
            (pl.col(revenue) / (pl.col(names["frequency"]) + 1)).alias("expected_order_value")
        )
    elif mv in summary.columns:
        scored = scored.with_columns(pl.col(mv).cast(pl.Float64).alias("expected_order_value"))
    else:
        raise ValueError(
            "give a spend_model or a summary with monetary_value to value the purchases"
        )
    revenue_value = pl.col("expected_order_value") * pl.col("_discounted_purchases")
    value_columns = (
        [revenue_value.alias("clv")]
        if margin is None
        else [(revenue_value * margin).alias("clv"), revenue_value.alias("clv_revenue")]
    )
    return scored.select(
        *summary.columns,
        *purchase_columns,
        "expected_order_value",
        *value_columns,
    )


def _purchase_columns(
    model: PurchaseModelResults,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    step_ends: list[float],
    discount: np.ndarray,
    activity_horizon: float,
) -> dict[str, np.ndarray]:
    """The purchase-model columns of distinct histories ``(x, t_x, T)``.

    The costly part of a conditional expectation (a hypergeometric term per
    history under BG/NBD and MBG/NBD) does not depend on the recency. Under
    all three models the recency enters only through P(alive): given that the
    customer is alive at ``T``, the purchase rate is Gamma(r + x, alpha + T)
    and the dropout process depends on ``x`` (BG/NBD, MBG/NBD) or ``T``
    (Pareto/NBD), never on ``t_x``. So::

        E[X(t) | x, t_x, T] = P(alive | x, t_x, T) * E[X(t) | alive, x, T]
                            = E[X(t) | x, T, T] * P(alive | x, t_x, T) / P(alive | x, T, T)

    and the expectations at every discounting step are computed once per
    distinct (frequency, T) pair (``t_x = T``), then scaled by each
    history's ratio of P(alive): the same values to a few units in the last
    place. Histories whose P(alive) is too small for the ratio to keep its
    precision are computed directly.

    Steps are in the model's time unit; ``discount`` holds each step's
    discount factor. Returns ``expected_purchases`` (over the last step),
    ``_discounted_purchases``, ``p_alive`` and ``p_no_purchase`` (over
    ``activity_horizon``), one value per history.
    """
    pair_of_history, first_history = _distinct(pl.DataFrame({"x": x, "T": T}))
    x_pair, T_pair = x[first_history], T[first_history]

    def cumulative(frequency: np.ndarray, recency: np.ndarray, age: np.ndarray) -> np.ndarray:
        return np.column_stack(
            [model.expected_purchases(t, frequency, recency, age) for t in step_ends]
        ).reshape(frequency.size, len(step_ends))

    def discounted(expected: np.ndarray) -> np.ndarray:
        return (np.diff(expected, axis=1, prepend=0.0) * discount).sum(axis=1)

    expected_pair = cumulative(x_pair, T_pair, T_pair)
    alive = model.p_alive(x, t_x, T)
    alive_if_just_bought = model.p_alive(x_pair, T_pair, T_pair)[pair_of_history]
    # below this the ratio of two P(alive) loses digits (subnormal numbers)
    direct = (alive < 1e-290) | (alive_if_just_bought < 1e-290)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(direct, 0.0, alive / alive_if_just_bought)
    expected_purchases = expected_pair[pair_of_history, -1] * ratio
    discounted_purchases = discounted(expected_pair)[pair_of_history] * ratio
    if np.any(direct):
        exact = cumulative(x[direct], t_x[direct], T[direct])
        expected_purchases[direct] = exact[:, -1]
        discounted_purchases[direct] = discounted(exact)
    return {
        "expected_purchases": expected_purchases,
        "_discounted_purchases": discounted_purchases,
        "p_alive": alive,
        "p_no_purchase": model.prob_no_purchase(activity_horizon, x, t_x, T),
    }


def _distinct(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Factorise the rows of ``frame``: the code of each row among the distinct
    rows, and the index of one row per code (so ``frame[first][codes]`` is
    ``frame``).

    Rows are grouped by a 64-bit hash of the whole row and one sort of the
    hashes, which is several times faster than a unique-and-join over the
    columns; every row is then checked against its group's representative, and
    should two different rows ever share a hash, the grouping falls back to an
    exact sort of the rows' bytes.
    """
    n = frame.height
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    hashes = _row_hashes(frame)
    order = hashes.arg_sort().to_numpy()
    ordered = hashes.to_numpy()[order]
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    codes = np.empty(n, dtype=np.int64)
    codes[order] = np.cumsum(starts) - 1
    first = order[starts]
    columns = [frame[c].to_numpy() for c in frame.columns]
    if all(np.array_equal(v[first][codes], v, equal_nan=True) for v in columns):
        return codes, first
    rows = np.ascontiguousarray(np.column_stack(columns).astype(np.float64))
    _, first, codes = np.unique(
        rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel(),
        return_index=True,
        return_inverse=True,
    )
    return codes.ravel().astype(np.int64), first


def _row_hashes(frame: pl.DataFrame) -> pl.Series:
    """A 64-bit hash of each row (a seam for testing the collision fallback)."""
    return frame.select(pl.struct(frame.columns).hash(seed=0)).to_series()
