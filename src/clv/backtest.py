"""Back-test a grading: fit and grade on a calibration window, then compare
with what customers did in the holdout window after it.

The question is whether the grading ranks future value. Three rankings are
compared on the same customers:

``clv``
    predicted value over the holdout (the CLV-grounded grading);
``past_spend``
    total spend in the calibration window (the hand-set rules of the seed
    policies: "spend above X is Gold");
``rfm``
    the classic RFM score: recency (time since last purchase), frequency and
    past spend, each in quartiles 1-4, summed (3-12).

For each: the share of holdout value captured by its top ``top_share`` of
customers, the share of the true future top missed, the share of the future
bottom wrongly promoted into the top, and Spearman's rank correlation with
holdout value. Ties in a ranking are broken by customer id, so results are
reproducible. Paired bootstrap intervals on the differences between rankings
(:func:`compare_rankings`) say which differences are more than the luck of
which customers happened to be in the holdout.

A log without amounts (count-only) has no value to predict or to observe: its
back-test ranks purchases. The grading is on expected purchases over the
holdout, the outcome is the number of holdout purchase periods
(``frequency_holdout``), and the rankings are ``expected_purchases``,
``past_purchases`` (repeat purchases in the calibration window) and ``rfm``
(recency and frequency quartiles only, 2-8); the tier table reports holdout
purchases, and :attr:`BacktestResult.graded_on` says ``expected_purchases``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests

from clv import i18n
from clv.data import TransactionLog, _as_date
from clv.models import (
    IndependenceCheck,
    ModelFitError,
    PurchaseModel,
    PurchaseModelResults,
    SpendModelResults,
    fit_purchase_model_with_fallback,
    fit_spend_model,
)
from clv.rfm import (
    DAYS_PER_UNIT,
    Freq,
    _elapsed,
    _end_period,
    _frame,
    _is_spark,
    calibration_holdout,
)
from clv.scoring import score
from clv.tiers import Grading, Scheme, grade

__all__ = [
    "BacktestResult",
    "backtest",
    "calibration_table",
    "compare_rankings",
    "dunn_test",
    "holdout_by_frequency",
    "ranking_metrics",
    "rfm_score",
    "tracking",
]

_CAL_COLUMNS = ("frequency", "recency", "T", "monetary_value", "revenue")
_COUNT_COLUMNS = ("frequency", "recency", "T")  # of a log without amounts


def rfm_score(summary: pl.DataFrame) -> pl.Series:
    """RFM quartile score (3-12) of each customer of a summary.

    R: quartile of time since the last purchase (``T - recency``; the most
    recent quarter scores 4), F: quartile of ``frequency``, M: quartile of
    ``revenue``. Quartiles come from average ranks, so tied customers share a
    quartile. A summary without ``revenue`` (a log without amounts) scores
    R and F only (2-8).
    """
    n = summary.height

    def quartile(expr: pl.Expr) -> pl.Expr:
        return (expr.rank("average") / n * 4).ceil().clip(1, 4).cast(pl.Int64)

    score = quartile(-(pl.col("T") - pl.col("recency"))) + quartile(
        pl.col("frequency").cast(pl.Float64)
    )
    if "revenue" in summary.columns:
        score = score + quartile(pl.col("revenue"))
    return summary.select(score.alias("rfm_score")).to_series()


def _top(frame: pl.DataFrame, column: str, k: int) -> set[str]:
    ordered = frame.select("customer_id", column).sort(
        [column, "customer_id"], descending=[True, False]
    )
    return set(ordered["customer_id"].head(k).to_list())


def ranking_metrics(
    frame: pl.DataFrame, rankings: dict[str, str], outcome: str, top_share: float = 0.2
) -> pl.DataFrame:
    """Compare rankings of customers against a realised outcome.

    Parameters
    ----------
    frame
        One row per customer with ``customer_id``, the ranking columns and the
        outcome column.
    rankings
        Label -> column; higher is better.
    outcome
        Realised value (e.g. holdout revenue).
    top_share
        Share of customers that forms the top group.

    Returns
    -------
    polars.DataFrame
        Per ranking: ``capture`` (share of the outcome held by the ranking's
        top group), ``missed`` (share of the true top not in the ranking's
        top), ``wrongly_promoted`` (share of the true bottom put in the top),
        ``spearman`` (rank correlation with the outcome).
    """
    n = frame.height
    k = max(1, math.ceil(top_share * n))
    true_top = _top(frame, outcome, k)
    total = float(frame[outcome].sum())
    values = dict(zip(frame["customer_id"].to_list(), frame[outcome].to_list(), strict=True))
    rows = []
    for label, column in rankings.items():
        top = _top(frame, column, k)
        captured = sum(values[c] for c in top)
        rho = stats.spearmanr(frame[column].to_numpy(), frame[outcome].to_numpy()).statistic
        rows.append(
            {
                "ranking": label,
                "top_customers": k,
                "capture": captured / total if total > 0 else math.nan,
                "missed": len(true_top - top) / k,
                "wrongly_promoted": len(top - true_top) / max(1, n - k),
                "spearman": float(rho),
            }
        )
    return pl.DataFrame(rows)


_HIGHER_IS_BETTER = {"capture": True, "missed": False, "wrongly_promoted": False, "spearman": True}
_METRICS = tuple(_HIGHER_IS_BETTER)
_BLOCK_CELLS = 2_000_000  # resamples x customers handled at once: bounds memory


def _tie_groups(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customers sorted by ``values``, where each run of equal values starts,
    and each customer's run: what average ranks are computed from."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new_run = np.r_[True, ordered[1:] != ordered[:-1]]
    group = np.empty(values.size, dtype=np.intp)
    group[order] = np.cumsum(new_run) - 1
    return order, np.flatnonzero(new_run), group


def _average_ranks(
    counts: np.ndarray, ties: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> np.ndarray:
    """Average rank (1-based, ties sharing the mean rank) of each customer
    among the draws of each resample, where customer ``i`` is drawn
    ``counts[:, i]`` times."""
    order, starts, group = ties
    # np.take rather than [:, index]: the same values, several times faster
    per_group = np.take(counts, order, axis=1).astype(np.int64)
    if starts.size < order.size:  # some ties: sum the counts of each run
        per_group = np.add.reduceat(per_group, starts, axis=1)
    below = np.cumsum(per_group, axis=1) - per_group
    return np.take(below + (per_group + 1) / 2, group, axis=1)


def _top_counts(counts: np.ndarray, order: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """How many of each customer's draws fall in the top ``k`` draws of each
    resample, customers taken in ``order`` (best first).

    Only the first customers in ``order`` can be in the top: returns those
    customers and their counts in the top, one row per resample.
    """
    n = counts.shape[1]
    # enough customers to hold k draws in all but freak resamples, which widen it below
    length = min(n, k + 8 * math.isqrt(k) + 16)
    while True:
        ordered = np.take(counts, order[:length], axis=1)
        drawn = np.cumsum(ordered, axis=1)
        if length == n or drawn[:, -1].min() >= k:
            break
        length = min(n, 2 * length)
    return order[:length], np.clip(k - (drawn - ordered), 0, ordered)


def _resample_metrics(
    counts: np.ndarray,
    outcome: np.ndarray,
    orders: dict[str, np.ndarray],
    ties: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    true_order: np.ndarray,
    outcome_ties: tuple[np.ndarray, np.ndarray, np.ndarray],
    k: int,
) -> dict[str, dict[str, np.ndarray]]:
    """The metrics of :func:`ranking_metrics` for each ranking in each resample.

    ``counts[b, i]`` is how often customer ``i`` is drawn in resample ``b``;
    every draw counts as a customer of its own. With all counts 1 this gives
    ``ranking_metrics`` itself.
    """
    n = int(counts[0].sum())
    weights = counts.astype(float)
    total = weights @ outcome
    true_customers, true_counts = _top_counts(counts, true_order, k)
    true_top = np.zeros_like(counts)
    true_top[:, true_customers] = true_counts
    y_rank = _average_ranks(counts, outcome_ties)
    y_centred = y_rank - (n + 1) / 2  # average ranks of n draws always have mean (n + 1) / 2
    y_var = np.einsum("bi,bi->b", weights, y_centred**2)
    out: dict[str, dict[str, np.ndarray]] = {}
    for label, order in orders.items():
        customers, top = _top_counts(counts, order, k)
        overlap = np.minimum(top, np.take(true_top, customers, axis=1)).sum(axis=1)
        x_centred = _average_ranks(counts, ties[label]) - (n + 1) / 2
        x_var = np.einsum("bi,bi->b", weights, x_centred**2)
        cov = np.einsum("bi,bi,bi->b", weights, x_centred, y_centred)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[label] = {
                "capture": np.where(total > 0, (top @ outcome[customers]) / total, np.nan),
                "missed": (k - overlap) / k,
                "wrongly_promoted": (k - overlap) / max(1, n - k),
                "spearman": cov / np.sqrt(x_var * y_var),
            }
    return out


def compare_rankings(
    frame: pl.DataFrame,
    rankings: dict[str, str],
    outcome: str,
    *,
    pairs: list[tuple[str, str]] | None = None,
    top_share: float = 0.2,
    n_bootstrap: int = 500,
    alpha: float = 0.05,
    seed: int | None = 0,
) -> pl.DataFrame:
    """Differences between rankings on the metrics of :func:`ranking_metrics`,
    with paired bootstrap intervals.

    Customers are resampled with replacement ``n_bootstrap`` times; each
    resample is scored by every ranking (the same customers for all: paired),
    with the top group, tie-breaking by customer id and average ranks for
    Spearman's correlation as in :func:`ranking_metrics`. A customer drawn
    twice counts as two customers. The rankings themselves stay fixed: the
    intervals show how much the comparison owes to which customers happened
    to be in the holdout, not the uncertainty of the fitted models.

    Parameters
    ----------
    frame, rankings, outcome, top_share
        As for :func:`ranking_metrics`.
    pairs
        ``(ranking, baseline)`` labels to compare; by default every ranking
        against each one listed after it.
    n_bootstrap
        Number of resamples.
    alpha
        The intervals cover ``1 - alpha`` (percentile intervals).
    seed
        Seed of the resampling, for reproducible intervals.

    Returns
    -------
    polars.DataFrame
        One row per metric and pair: ``metric``, ``ranking``, ``baseline``,
        ``ranking_value`` and ``baseline_value`` (on all customers),
        ``difference`` (ranking minus baseline), ``lower`` and ``upper`` (the
        interval of the difference), ``level`` (``1 - alpha``), ``resamples``
        (``n_bootstrap``), ``higher_is_better`` (capture and
        Spearman; fewer missed and wrongly promoted is better) and ``better``:
        ``"ranking"`` or ``"baseline"`` when the interval excludes zero,
        ``"tie"`` when it contains it. ``wrongly_promoted`` is ``missed``
        times ``k / (n - k)`` (each customer wrongly in the top displaces one
        of the true top), so the two always agree.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie between 0 and 1, got {alpha}")
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be at least 1, got {n_bootstrap}")
    labels = list(rankings)
    if pairs is None:
        pairs = list(itertools.combinations(labels, 2))
    n = frame.height
    k = max(1, math.ceil(top_share * n))

    def best_first(column: str) -> np.ndarray:
        return (
            frame.with_row_index("_row")
            .sort([column, "customer_id"], descending=[True, False])["_row"]
            .to_numpy()
            .astype(np.intp)
        )

    y = frame[outcome].cast(pl.Float64).to_numpy()
    orders = {label: best_first(column) for label, column in rankings.items()}
    ties = {
        label: _tie_groups(frame[column].cast(pl.Float64).to_numpy())
        for label, column in rankings.items()
    }
    args = (y, orders, ties, best_first(outcome), _tie_groups(y), k)

    point = _resample_metrics(np.ones((1, n), dtype=np.int64), *args)
    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_CELLS // max(1, n))
    draws: dict[str, dict[str, list[np.ndarray]]] = {
        label: {m: [] for m in _METRICS} for label in labels
    }
    offsets = None
    for start in range(0, n_bootstrap, block):
        size = min(block, n_bootstrap - start)
        if offsets is None or offsets.shape[0] != size:
            offsets = (np.arange(size) * n)[:, None]
        picks = rng.integers(0, n, size=(size, n)) + offsets
        counts = np.bincount(picks.ravel(), minlength=size * n).reshape(size, n).astype(np.int32)
        for label, metrics in _resample_metrics(counts, *args).items():
            for m, values in metrics.items():
                draws[label][m].append(values)

    rows = []
    for metric in _METRICS:
        higher = _HIGHER_IS_BETTER[metric]
        for a, b in pairs:
            diffs = np.concatenate(draws[a][metric]) - np.concatenate(draws[b][metric])
            diffs = diffs[np.isfinite(diffs)]
            if diffs.size:
                lower, upper = (float(q) for q in np.quantile(diffs, [alpha / 2, 1 - alpha / 2]))
            else:
                lower = upper = math.nan
            if lower > 0:
                better = "ranking" if higher else "baseline"
            elif upper < 0:
                better = "baseline" if higher else "ranking"
            else:
                better = "tie"  # the interval holds zero (or could not be computed)
            ranking_value = float(point[a][metric][0])
            baseline_value = float(point[b][metric][0])
            rows.append(
                {
                    "metric": metric,
                    "ranking": a,
                    "baseline": b,
                    "ranking_value": ranking_value,
                    "baseline_value": baseline_value,
                    "difference": ranking_value - baseline_value,
                    "lower": lower,
                    "upper": upper,
                    "level": 1 - alpha,
                    "resamples": n_bootstrap,
                    "higher_is_better": higher,
                    "better": better,
                }
            )
    return pl.DataFrame(rows)


def calibration_table(
    predicted: np.ndarray, observed: np.ndarray, n_bins: int = 10
) -> pl.DataFrame:
    """Mean predicted probability against observed frequency, in ``n_bins``
    bins of equal width on [0, 1] (empty bins left out)."""
    p = np.asarray(predicted, dtype=float)
    y = np.asarray(observed, dtype=float)
    edges = np.linspace(0, 1, n_bins + 1)
    index = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, n_bins - 1)
    frame = pl.DataFrame({"bin": index, "predicted": p, "observed": y})
    table = (
        frame.group_by("bin")
        .agg(
            pl.len().alias("customers"),
            pl.col("predicted").mean().alias("mean_predicted"),
            pl.col("observed").mean().alias("observed_rate"),
        )
        .sort("bin")
    )
    labels = [f"{edges[b]:.1f}-{edges[b + 1]:.1f}" for b in table["bin"].to_list()]
    return table.select(pl.Series("range", labels), "customers", "mean_predicted", "observed_rate")


def dunn_test(values: np.ndarray, groups: np.ndarray) -> pl.DataFrame:
    """Dunn's pairwise test after Kruskal-Wallis, Holm-adjusted.

    Rank-based, with the tie correction of Dunn (1964): suited to holdout value,
    which is zero for most customers and heavily right-skewed, with variances
    that differ between tiers. Tukey's HSD assumes normal errors with equal
    variances and would be misleading here.
    """
    v = np.asarray(values, dtype=float)
    g = np.asarray(groups)
    ranks = stats.rankdata(v)
    n = v.size
    _, tie_counts = np.unique(v, return_counts=True)
    tie_term = np.sum(tie_counts**3 - tie_counts) / (12 * (n - 1))
    labels = sorted(np.unique(g).tolist())
    mean_rank = {lab: ranks[g == lab].mean() for lab in labels}
    size = {lab: int(np.sum(g == lab)) for lab in labels}
    rows = []
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            se = math.sqrt((n * (n + 1) / 12 - tie_term) * (1 / size[a] + 1 / size[b]))
            z = (mean_rank[a] - mean_rank[b]) / se if se > 0 else 0.0
            rows.append({"group_a": a, "group_b": b, "z": z, "p": 2 * stats.norm.sf(abs(z))})
    frame = pl.DataFrame(rows)
    adjusted = multipletests(frame["p"].to_numpy(), method="holm")[1]
    return frame.with_columns(pl.Series("p_holm", adjusted))


def holdout_by_frequency(customers: pl.DataFrame, censor: int = 7) -> pl.DataFrame:
    """Mean actual and predicted holdout purchases by calibration frequency
    (customers with ``censor`` or more repeat purchases pooled)."""
    return (
        customers.group_by(pl.col("frequency").clip(upper_bound=censor).alias("frequency"))
        .agg(
            pl.len().alias("customers"),
            pl.col("frequency_holdout").mean().alias("actual"),
            pl.col("expected_purchases").mean().alias("predicted"),
        )
        .sort("frequency")
        .with_columns(
            pl.when(pl.col("frequency") == censor)
            .then(pl.lit(f"{censor}+"))
            .otherwise(pl.col("frequency").cast(pl.String))
            .alias("label")
        )
    )


def _tracking_counts(
    lf: pl.LazyFrame, cal_end: dt.date, obs_end: dt.date
) -> tuple[dt.date, pl.DataFrame, pl.DataFrame]:
    """The inputs of :func:`tracking`: the first purchase day of the
    customers acquired by ``cal_end`` (``start``), repeat purchase days per
    week since then (``w``, ``n``) and customers per first-purchase day
    (``b`` days after ``start``, ``n``)."""
    days = (
        lf.filter(pl.col("date").dt.date() <= obs_end)
        .select("customer_id", pl.col("date").dt.date().alias("day"))
        .unique()
        .with_columns(pl.col("day").min().over("customer_id").alias("first"))
        .filter(pl.col("first") <= cal_end)
        .collect()
    )
    start = days["first"].min()
    actual = (
        days.filter(pl.col("day") > pl.col("first"))
        .group_by(((pl.col("day") - start).dt.total_days() // 7).alias("w"))
        .agg(pl.len().alias("n"))
    )
    births = days.group_by((pl.col("first") - start).dt.total_days().alias("b")).agg(
        pl.col("customer_id").n_unique().alias("n")
    )
    return start, actual, births


def tracking(
    transactions: TransactionLog | pl.DataFrame | pl.LazyFrame,
    purchase_model: PurchaseModelResults,
    *,
    calibration_end: str | dt.date,
    observation_end: str | dt.date,
) -> pl.DataFrame:
    """Weekly repeat purchases, actual against predicted, for the customers
    acquired by ``calibration_end`` (purchases merged per day).

    The prediction sums, over customers, the model's expected repeat
    purchases since each customer's first purchase (Fader, Hardie and Lee 2005,
    figure 2). Returns ``week`` (start date), ``actual``, ``predicted`` and their
    cumulative sums.
    """
    cal_end = _as_date(calibration_end, "calibration_end")
    obs_end = _as_date(observation_end, "observation_end")
    if type(transactions).__module__ == "clv.spark" or _is_spark(transactions):
        from clv import spark  # a log kept on Spark: the weekly counts come back

        start, actual, births = spark.tracking_counts(
            transactions, calibration_end=cal_end, observation_end=obs_end
        )
    else:
        start, actual, births = _tracking_counts(_frame(transactions), cal_end, obs_end)
    n_weeks = (obs_end - start).days // 7 + 1
    actual_counts = np.zeros(n_weeks)
    actual_counts[actual["w"].to_numpy()] = actual["n"].to_numpy()
    unit_days = DAYS_PER_UNIT[purchase_model.time_unit]
    week_end_days = np.minimum(np.arange(1, n_weeks + 1) * 7, (obs_end - start).days + 1)
    ages = (week_end_days[None, :] - births["b"].to_numpy()[:, None]) / unit_days
    expected = purchase_model.expected_purchases_new_customer(np.maximum(ages, 0.0))
    cumulative_predicted = births["n"].to_numpy() @ expected
    weeks = [start + dt.timedelta(days=7 * w) for w in range(n_weeks)]
    return pl.DataFrame(
        {
            "week": weeks,
            "actual": actual_counts,
            "predicted": np.diff(cumulative_predicted, prepend=0.0),
            "actual_cumulative": np.cumsum(actual_counts),
            "predicted_cumulative": cumulative_predicted,
        }
    )


@dataclass(frozen=True)
class BacktestResult:
    """What a grading predicted on the calibration window against what happened."""

    calibration_end: dt.date
    observation_end: dt.date
    holdout_days: float
    purchase_model: PurchaseModelResults
    spend_model: SpendModelResults | None
    grading: Grading
    customers: pl.DataFrame  # scores, tiers, rankings and holdout outcomes per customer
    rankings: pl.DataFrame
    comparisons: pl.DataFrame  # paired bootstrap differences between rankings
    tiers: pl.DataFrame
    rank_violations: tuple[str, ...]
    no_purchase_calibration: pl.DataFrame
    brier_no_purchase: float
    brier_churn: float
    glm_churn: object  # statsmodels GLM results: repurchase ~ churn probability
    glm_calibration: object  # statsmodels GLM results: repurchase ~ logit(P(purchase))
    kruskal_statistic: float
    kruskal_pvalue: float
    dunn: pl.DataFrame
    independence: IndependenceCheck | None
    by_frequency: pl.DataFrame
    tracking: pl.DataFrame
    graded_on: str = "clv"  # expected_purchases for a log without amounts

    @property
    def counts_only(self) -> bool:
        """Whether the back-test ranks purchases (a log without amounts)."""
        return self.graded_on != "clv"

    def summary(self) -> str:
        """Plain-text summary of the back-test."""
        lines = [
            f"back-test: calibration to {self.calibration_end}, holdout to "
            f"{self.observation_end} ({self.holdout_days:.0f} days), "
            f"{self.customers.height:,} customers, {self.purchase_model.model}"
            + (" + Gamma-Gamma" if self.spend_model is not None else " (no spend model)")
            + (
                "; the log has no amounts: rankings of purchases, holdout value unavailable"
                if self.counts_only
                else ""
            ),
            "",
            "top-group comparison (higher capture and spearman, lower missed are better):",
        ]
        for row in self.rankings.iter_rows(named=True):
            lines.append(
                f"  {row['ranking']:<11} capture {row['capture']:6.1%}  missed "
                f"{row['missed']:6.1%}  wrongly promoted {row['wrongly_promoted']:6.1%}  "
                f"spearman {row['spearman']:.3f}"
            )
        lines.append("")
        lines.append("differences between rankings (paired bootstrap intervals):")
        for row in self.comparisons.iter_rows(named=True):
            scale, unit = (1, "") if row["metric"] == "spearman" else (100, " pts")
            lines.append(
                f"  {row['metric']:<16} {row['ranking']} - {row['baseline']}: "
                f"{row['difference'] * scale:+.2f}{unit} ({row['lower'] * scale:+.2f} to "
                f"{row['upper'] * scale:+.2f}), better: {row['better']}"
            )
        lines.append("")
        lines.append("holdout outcome per tier:")
        for row in self.tiers.iter_rows(named=True):
            if self.counts_only:
                lines.append(
                    f"  {row['tier_name']:<10} {row['customers']:>7,} customers  mean holdout "
                    f"purchases {row['holdout_purchases_mean']:7.2f}  repurchase "
                    f"{row['repurchase_rate']:6.1%}  purchase share "
                    f"{row['holdout_purchases_share']:6.1%}"
                )
                continue
            lines.append(
                f"  {row['tier_name']:<10} {row['customers']:>7,} customers  mean holdout "
                f"value {row['holdout_value_mean']:9.2f}  repurchase {row['repurchase_rate']:6.1%}"
                f"  value share {row['holdout_value_share']:6.1%}"
            )
        if self.rank_violations:
            lines.append("  tiers out of order: " + "; ".join(self.rank_violations))
        else:
            lines.append("  tiers rank mean holdout value and repeat purchases in order")
        lines.append(
            f"Kruskal-Wallis across tiers: H = {self.kruskal_statistic:.1f}, "
            f"p = {self.kruskal_pvalue:.2g}"
        )
        lines.append(
            f"Brier score: P(no purchase in holdout) {self.brier_no_purchase:.4f}; "
            f"churn probability as that forecast {self.brier_churn:.4f}"
        )
        slope = self.glm_calibration.params[1]
        lines.append(f"calibration slope (logistic GLM, 1 = ideal): {slope:.3f}")
        return "\n".join(lines)


def backtest(
    transactions: TransactionLog | pl.DataFrame | pl.LazyFrame,
    *,
    calibration_end: str | dt.date,
    observation_end: str | dt.date,
    freq: Freq = "D",
    time_unit: Freq = "W",
    model: PurchaseModel = "bgnbd",
    scheme: Scheme | str | Path = "five_card",
    top_share: float = 0.2,
    lang: str = "en",
    n_bootstrap: int = 500,
    alpha: float = 0.05,
    seed: int | None = 0,
    calibration: pl.DataFrame | None = None,
    purchase_model: PurchaseModelResults | None = None,
) -> BacktestResult:
    """Fit on the calibration window, grade, and check the grading on the holdout.

    The CLV used for grading here is the predicted value over the holdout
    window itself, undiscounted, so prediction and outcome cover the same time.

    The rankings are compared pairwise (predicted value against past spend and
    the RFM score, past spend against RFM) with ``n_bootstrap`` paired
    resamples of customers and ``1 - alpha`` percentile intervals, seeded with
    ``seed`` (see :func:`compare_rankings`).

    Parameters
    ----------
    calibration
        The split of ``transactions`` by :func:`clv.calibration_holdout` with
        the same ``calibration_end``, ``observation_end``, ``freq`` and
        ``time_unit``, when the caller has it already (a report that chose
        its model on the holdout has); split again when not given.
    purchase_model
        A purchase model already fitted on that calibration split (the
        chosen model's calibration fit of
        :func:`clv.selection.select_purchase_model`, say), used as it is
        instead of fitting ``model`` again. It must have been fitted on the
        same customers: a model fitted on another number of customers or in
        another time unit is refused.

    A log without amounts is back-tested on purchases (see the module
    docstring): ``rankings`` and ``comparisons`` then have the rankings
    ``expected_purchases``, ``past_purchases`` and ``rfm`` against holdout
    purchases, and ``tiers`` has ``predicted_purchases_mean``,
    ``holdout_purchases_mean``, ``holdout_purchases_share`` and
    ``repurchase_rate`` (no holdout value).

    Returns
    -------
    BacktestResult
    """
    if calibration is not None:
        cal = _checked_calibration(calibration, calibration_end, observation_end, freq, time_unit)
    else:
        cal = calibration_holdout(
            transactions,
            calibration_end=calibration_end,
            observation_end=observation_end,
            freq=freq,
            time_unit=time_unit,
        )
    if cal.height == 0:
        raise ValueError(
            f"no transaction is dated on or before calibration_end {calibration_end}: the "
            "back-test's calibration window is empty; give a calibration end after the log's "
            "first transaction"
        )
    if purchase_model is not None:
        purchase = _checked_fit(purchase_model, cal)
    else:
        purchase, _ = fit_purchase_model_with_fallback(cal, model=model)
    counts_only = "monetary_value_cal" not in cal.columns
    spend: SpendModelResults | None = None
    if not counts_only:
        try:
            spend = fit_spend_model(cal)
        except ModelFitError:
            spend = None  # scores then use each customer's own mean spend
    unit_days = DAYS_PER_UNIT[purchase.time_unit]
    holdout = float(cal["duration_holdout"][0])
    scores = score(
        cal, purchase, spend, horizon_days=holdout * unit_days, discount_rate_annual=0.0
    ).rename({f"{c}_cal": c for c in (_COUNT_COLUMNS if counts_only else _CAL_COLUMNS)})
    x, t_x, T = (scores[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    scores = scores.with_columns(
        pl.Series("p_no_purchase", purchase.prob_no_purchase(holdout, x, t_x, T)),
        rfm_score(scores),
        (pl.col("frequency_holdout") > 0).cast(pl.Int64).alias("repurchased"),
    )
    grading = grade(scores, scheme, lang=lang)
    customers = grading.customers

    if counts_only:
        ranked = {
            "expected_purchases": "expected_purchases",
            "past_purchases": "frequency",
            "rfm": "rfm_score",
        }
        outcome = "frequency_holdout"
    else:
        ranked = {"clv": "clv", "past_spend": "revenue", "rfm": "rfm_score"}
        outcome = "revenue_holdout"
    rankings = ranking_metrics(customers, ranked, outcome=outcome, top_share=top_share)
    comparisons = compare_rankings(
        customers,
        ranked,
        outcome=outcome,
        top_share=top_share,
        n_bootstrap=n_bootstrap,
        alpha=alpha,
        seed=seed,
    )

    if counts_only:
        total_purchases = customers["frequency_holdout"].sum()
        per_tier = [
            pl.col("expected_purchases").mean().alias("predicted_purchases_mean"),
            pl.col("frequency_holdout").mean().alias("holdout_purchases_mean"),
            (pl.col("frequency_holdout").sum() / total_purchases).alias("holdout_purchases_share"),
        ]
        measures = (("holdout_purchases_mean", "purchases"),)
    else:
        total_value = customers["revenue_holdout"].sum()
        per_tier = [
            pl.col("clv").mean().alias("predicted_value_mean"),
            pl.col("revenue_holdout").mean().alias("holdout_value_mean"),
            (pl.col("revenue_holdout").sum() / total_value).alias("holdout_value_share"),
            pl.col("frequency_holdout").mean().alias("holdout_purchases_mean"),
        ]
        measures = (("holdout_value_mean", "value"), ("holdout_purchases_mean", "purchases"))
    tiers = (
        customers.group_by("tier_rank", "tier", "tier_name")
        .agg(
            pl.len().alias("customers"),
            *per_tier,
            pl.col("repurchased").mean().alias("repurchase_rate"),
        )
        .sort("tier_rank")
    )
    violations = []
    for column, what in measures:
        rows = tiers.select("tier_name", column).rows()
        for (upper, hi), (lower, lo) in itertools.pairwise(rows):
            if lo > hi:
                template = i18n.pick(lang, *i18n.OUT_OF_ORDER)
                measure = i18n.HOLDOUT_MEASURES(what, lang)
                violations.append(template.format(lower=lower, upper=upper, what=measure))

    y = customers["repurchased"].to_numpy()
    p_none = customers["p_no_purchase"].to_numpy()
    churn = customers["churn_probability"].to_numpy()
    no_purchase = 1 - y
    glm_churn = sm.GLM(y, sm.add_constant(churn), family=sm.families.Binomial()).fit()
    p_buy = np.clip(1 - p_none, 1e-9, 1 - 1e-9)
    glm_cal = sm.GLM(
        y, sm.add_constant(np.log(p_buy / (1 - p_buy))), family=sm.families.Binomial()
    ).fit()
    groups = customers["tier_rank"].to_numpy()
    value = customers[outcome].to_numpy().astype(float)
    samples = [value[groups == g] for g in np.unique(groups)]
    if len(samples) > 1:
        kw = stats.kruskal(*samples)
        kw_stat, kw_p = float(kw.statistic), float(kw.pvalue)
        dunn = dunn_test(value, groups)
    else:
        kw_stat, kw_p, dunn = math.nan, math.nan, pl.DataFrame()

    return BacktestResult(
        calibration_end=_as_date(calibration_end, "calibration_end"),
        observation_end=_as_date(observation_end, "observation_end"),
        holdout_days=holdout * unit_days,
        purchase_model=purchase,
        spend_model=spend,
        grading=grading,
        customers=customers,
        rankings=rankings,
        comparisons=comparisons,
        tiers=tiers,
        rank_violations=tuple(violations),
        no_purchase_calibration=calibration_table(p_none, no_purchase),
        brier_no_purchase=float(np.mean((p_none - no_purchase) ** 2)),
        brier_churn=float(np.mean((churn - no_purchase) ** 2)),
        glm_churn=glm_churn,
        glm_calibration=glm_cal,
        kruskal_statistic=kw_stat,
        kruskal_pvalue=kw_p,
        dunn=dunn,
        independence=spend.independence if spend is not None else None,
        by_frequency=holdout_by_frequency(customers),
        tracking=tracking(
            transactions, purchase, calibration_end=calibration_end, observation_end=observation_end
        ),
        graded_on=grading.graded_on,
    )


def _checked_calibration(
    calibration: pl.DataFrame,
    calibration_end: str | dt.date,
    observation_end: str | dt.date,
    freq: Freq,
    time_unit: Freq,
) -> pl.DataFrame:
    """A calibration split given to :func:`backtest`, checked against the
    back-test's own window: its columns, time unit and holdout length (a
    split of a log without amounts has no spend columns)."""
    counts_only = "monetary_value_cal" not in calibration.columns
    needed = [f"{c}_cal" for c in (_COUNT_COLUMNS if counts_only else _CAL_COLUMNS)] + [
        "customer_id",
        "frequency_holdout",
        *([] if counts_only else ["revenue_holdout"]),
        "duration_holdout",
        "time_unit",
    ]
    missing = [c for c in needed if c not in calibration.columns]
    if missing:
        raise ValueError(
            f"the calibration frame lacks {missing}; build it with clv.calibration_holdout"
        )
    if calibration.height == 0:
        return calibration
    units = calibration["time_unit"].cast(pl.String).unique().to_list()
    if units != [time_unit]:
        raise ValueError(
            f"the calibration frame is in time unit {units}, the back-test in {time_unit!r}; "
            "split the log with the back-test's time_unit, or leave calibration out"
        )
    # the holdout length as calibration_holdout computes it, in periods of freq
    expected = pl.select(
        _elapsed(
            pl.lit(_end_period(observation_end, freq)),
            pl.lit(_end_period(calibration_end, freq)),
            freq,
        )
    ).item()
    if freq != "M" and time_unit != "D":
        expected /= DAYS_PER_UNIT[time_unit]
    holdout = float(calibration["duration_holdout"][0])
    if not math.isclose(holdout, expected, rel_tol=1e-9, abs_tol=1e-9):
        raise ValueError(
            f"the calibration frame's holdout lasts {holdout:g} {time_unit}, but "
            f"{calibration_end} to {observation_end} is {expected:g}; split the log at the "
            "back-test's calibration_end and observation_end, or leave calibration out"
        )
    return calibration


def _checked_fit(purchase_model: PurchaseModelResults, cal: pl.DataFrame) -> PurchaseModelResults:
    """A purchase model given to :func:`backtest`, checked to be a fit of the
    calibration split: the same number of customers and the same time unit."""
    unit = cal["time_unit"].cast(pl.String)[0]
    if purchase_model.n_customers != cal.height or purchase_model.time_unit != unit:
        raise ValueError(
            f"the purchase model was fitted on {purchase_model.n_customers:,} customers in time "
            f"unit {purchase_model.time_unit!r}, but the calibration window has {cal.height:,} "
            f"in {unit!r}; pass the model fitted on this calibration split, or none to fit it"
        )
    return purchase_model
