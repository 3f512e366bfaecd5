"""Figures for grading reports, drawn with matplotlib.

Every function draws on the Axes it is given (or a new one) and returns it;
none touches pyplot's current figure. Every figure has a title, and
labels, legends and dates come in English or Chinese (``lang="zh"``; the
words live in :mod:`clv.i18n`); :func:`show` puts a figure in a notebook as
an image with alt text. Call call :func:`use_cjk_font` once per process so Chinese text
renders as glyphs: it registers Noto Sans CJK SC, shipped by the ``mplfonts``
package, with matplotlib's font manager at run time, so no font cache built
before the install can hide it.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib as mpl
import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from clv import i18n
from clv.models import PurchaseModelResults
from clv.rfm import DAYS_PER_UNIT

__all__ = [
    "CJK_FONT_NAME",
    "calibration",
    "cjk_font_path",
    "clv_histogram",
    "expected_purchases_matrix",
    "figure_html",
    "holdout_by_frequency",
    "label",
    "lorenz_curve",
    "migration_heatmap",
    "p_alive_matrix",
    "show",
    "tier_distribution",
    "tracking",
    "use_cjk_font",
    "value_risk_heatmap",
]

CJK_FONT_NAME = "Noto Sans CJK SC"


def label(key: str, lang: str = "en") -> str:
    """A figure label in English or Chinese (from :data:`clv.i18n.AXES`)."""
    return i18n.AXES(key, lang)


def _title(ax: Axes, key: str, lang: str) -> None:
    ax.set_title(i18n.TITLES(key, lang), fontsize=11)


def cjk_font_path() -> Path:
    """Path of the bundled Noto Sans CJK SC font file (from ``mplfonts``)."""
    import mplfonts

    return Path(mplfonts.__file__).parent / "fonts" / "NotoSansCJKsc-Regular.otf"


def use_cjk_font() -> str:
    """Register Noto Sans CJK SC and put it first in matplotlib's sans-serif
    list (it has Latin glyphs too). Returns the font's family name.

    This sets process-wide matplotlib configuration, so call it once, at the
    top of a notebook or script, not inside library code.
    """
    from matplotlib import font_manager

    path = cjk_font_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall the package mplfonts")
    font_manager.fontManager.addfont(str(path))
    mpl.rcParams["font.family"] = "sans-serif"
    families = [f for f in mpl.rcParams["font.sans-serif"] if f != CJK_FONT_NAME]
    mpl.rcParams["font.sans-serif"] = [CJK_FONT_NAME, *families]
    mpl.rcParams["axes.unicode_minus"] = False  # the CJK font lacks U+2212
    return CJK_FONT_NAME


def _plain(names: list[str]) -> list[str]:
    """Names from users' schemes drawn as written: a ``$`` does not start
    matplotlib's mathtext."""
    return [str(n).replace("$", r"\$") for n in names]


def _money(text: str, currency: str, lang: str) -> str:
    """A label with its currency: "predicted value (CNY)", "预测价值（CNY）"."""
    if not currency:
        return text
    currency = currency.replace("$", r"\$")
    return f"{text}（{currency}）" if lang == "zh" else f"{text} ({currency})"


def _axes(ax: Axes | None, figsize: tuple[float, float] = (7.0, 4.0)) -> Axes:
    if ax is not None:
        return ax
    return Figure(figsize=figsize, layout="constrained").add_subplot()


def _annotate(ax: Axes, values: np.ndarray, text: list[list[str]], norm: np.ndarray) -> None:
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            colour = "white" if norm[i, j] > 0.6 else "black"
            ax.text(j, i, text[i][j], ha="center", va="center", color=colour, fontsize=8)


def tier_distribution(tier_table: pl.DataFrame, ax: Axes | None = None, lang: str = "en") -> Axes:
    """Grouped bars per tier: shares of customers, of predicted CLV (of
    expected purchases for a log without amounts) and (when present) of past
    revenue. Takes :meth:`clv.Grading.tier_table`."""
    ax = _axes(ax)
    shares = ("share_customers", "share_clv", "share_expected_purchases", "share_revenue")
    keys = [k for k in shares if k in tier_table.columns]
    x = np.arange(tier_table.height)
    width = 0.8 / len(keys)
    for i, key in enumerate(keys):
        values = tier_table[key].fill_null(0).to_numpy()
        bars = ax.bar(x + (i - (len(keys) - 1) / 2) * width, values, width, label=label(key, lang))
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in values], fontsize=7, padding=1)
    ax.set_xticks(x, _plain(tier_table["tier_name"].to_list()))
    ax.set_ylabel(label("share", lang))
    ax.yaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    _title(ax, "tier_distribution", lang)
    return ax


def lorenz_curve(
    values: np.ndarray,
    thresholds: np.ndarray | None = None,
    tier_names: list[str] | None = None,
    ax: Axes | None = None,
    lang: str = "en",
    measure: str = "clv",
) -> Axes:
    """Cumulative share of predicted value against the share of customers,
    highest value first, with the tier cuts marked. ``measure="expected_purchases"``
    labels the curve as one of expected purchases (a log without amounts,
    graded on :attr:`clv.Grading.graded_on`)."""
    purchases = measure == "expected_purchases"
    ax = _axes(ax, (6.0, 5.0))
    v = np.sort(np.asarray(values, dtype=float))[::-1]
    cumulative = np.concatenate([[0.0], np.cumsum(v) / v.sum()])
    share = np.linspace(0, 1, v.size + 1)
    ax.plot(share, cumulative, color="C0", lw=2)
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label=label("equality", lang))
    if thresholds is not None:
        names = _plain(tier_names or [str(i + 1) for i in range(len(thresholds) + 1)])
        previous = 0.0
        for i, t in enumerate(thresholds):
            position = float(np.sum(v >= t)) / v.size
            ax.axvline(position, color="C3", lw=0.8)
            ax.text(
                (previous + position) / 2,
                0.03,
                names[i],
                ha="center",
                fontsize=8,
                rotation=90 if position - previous < 0.06 else 0,
            )
            ax.annotate(
                f"{cumulative[int(np.sum(v >= t))]:.0%}",
                (position, cumulative[int(np.sum(v >= t))]),
                textcoords="offset points",
                xytext=(4, -10),
                fontsize=7,
                color="C3",
            )
            previous = position
        ax.text((previous + 1) / 2, 0.03, names[-1], ha="center", fontsize=8)
    ax.set_xlabel(label("cum_customers_purchases" if purchases else "cum_customers", lang))
    ax.set_ylabel(label("cum_expected_purchases" if purchases else "cum_clv", lang))
    ax.xaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(frameon=False, fontsize=8, loc="center right")
    ax.spines[["top", "right"]].set_visible(False)
    _title(ax, "lorenz_curve_purchases" if purchases else "lorenz_curve", lang)
    return ax


def clv_histogram(
    values: np.ndarray,
    thresholds: np.ndarray | None = None,
    ax: Axes | None = None,
    lang: str = "en",
    currency: str = "",
    measure: str = "clv",
) -> Axes:
    """Histogram of predicted CLV on a log scale, with the tier thresholds;
    the axis names the ``currency`` when one is given. With
    ``measure="expected_purchases"`` (a log without amounts) the values are
    expected purchases over the horizon, and the axis says so (no currency)."""
    ax = _axes(ax)
    v = np.asarray(values, dtype=float)
    positive = v[v > 0]
    low = max(positive.min(), 1e-2) if positive.size else 1e-2
    high = max(positive.max(), low * 10) if positive.size else 1.0
    bins = np.geomspace(low, high, 40)
    ax.hist(np.clip(v, low, None), bins=bins, color="C0", alpha=0.8)
    ax.set_xscale("log")
    for t in thresholds if thresholds is not None else []:
        ax.axvline(t, color="C3", lw=1)
    if measure == "expected_purchases":
        ax.set_xlabel(label("expected_purchases", lang))
    else:
        ax.set_xlabel(_money(label("clv", lang), currency, lang))
    ax.set_ylabel(label("customers", lang))
    ax.spines[["top", "right"]].set_visible(False)
    _title(ax, "expected_purchases_histogram" if measure != "clv" else "clv_histogram", lang)
    return ax


def _matrix(
    model: PurchaseModelResults,
    summary: pl.DataFrame,
    fn,
    ax: Axes | None,
    lang: str,
    colour_key: str,
    max_frequency: int | None,
) -> Axes:
    title_key = "p_alive_matrix" if colour_key == "p_alive" else "expected_purchases_matrix"
    ax = _axes(ax, (6.0, 5.0))
    T = float(summary["T"].max())
    if max_frequency is None:  # the range most customers fall in
        max_frequency = int(summary["frequency"].quantile(0.99)) + 1
    frequency = np.arange(max_frequency + 1, dtype=float)
    recency = np.linspace(0, T, 40)
    f_grid, r_grid = np.meshgrid(frequency, recency, indexing="ij")
    valid = (f_grid > 0) | (r_grid == 0)
    values = np.full(f_grid.shape, np.nan)
    values[valid] = fn(f_grid[valid], r_grid[valid], np.full(valid.sum(), T))
    image = ax.imshow(
        values,
        aspect="auto",
        origin="lower",
        cmap="viridis",
        extent=(0, T, -0.5, max_frequency + 0.5),
    )
    ax.figure.colorbar(image, ax=ax, label=label(colour_key, lang))
    unit = i18n.UNITS.get_text(model.time_unit, lang, model.time_unit)
    ax.set_xlabel(
        f"{label('recency', lang)}（{unit}）"
        if lang == "zh"
        else f"{label('recency', lang)} ({unit})"
    )
    ax.set_ylabel(label("frequency", lang))
    _title(ax, title_key, lang)
    return ax


def p_alive_matrix(
    model: PurchaseModelResults,
    summary: pl.DataFrame,
    ax: Axes | None = None,
    lang: str = "en",
    max_frequency: int | None = None,
) -> Axes:
    """P(alive) over frequency x recency, for customers as old as the oldest in
    ``summary`` (frequencies up to its 99th percentile unless given)."""
    return _matrix(model, summary, model.p_alive, ax, lang, "p_alive", max_frequency)


def expected_purchases_matrix(
    model: PurchaseModelResults,
    summary: pl.DataFrame,
    horizon_days: float,
    ax: Axes | None = None,
    lang: str = "en",
    max_frequency: int | None = None,
) -> Axes:
    """Expected purchases in the next ``horizon_days`` over frequency x recency."""
    t = horizon_days / DAYS_PER_UNIT[model.time_unit]
    return _matrix(
        model,
        summary,
        lambda f, r, T_: model.expected_purchases(t, f, r, T_),
        ax,
        lang,
        "expected",
        max_frequency,
    )


def value_risk_heatmap(
    grid: pl.DataFrame,
    ax: Axes | None = None,
    value: str = "customers",
    lang: str = "en",
    currency: str = "",
) -> Axes:
    """Tier x churn-risk heatmap of ``customers``, ``clv`` or (a log without
    amounts) ``expected_purchases`` (from :meth:`clv.Grading.grid`), each cell
    annotated; a ``clv`` map names the ``currency`` in its title when one is
    given."""
    ax = _axes(ax, (6.0, 4.5))
    tiers = grid.select("tier_rank", "tier_name").unique().sort("tier_rank")["tier_name"].to_list()
    bands = grid["risk_band_name"].unique(maintain_order=True).to_list()
    table = {(r["tier_name"], r["risk_band_name"]): r[value] for r in grid.iter_rows(named=True)}
    values = np.array([[table[(t, b)] for b in bands] for t in tiers], dtype=float)
    norm = values / values.max() if values.max() > 0 else values
    ax.imshow(norm, cmap="Oranges", aspect="auto", vmin=0, vmax=1)
    fmt = "{:,.0f}"
    _annotate(ax, values, [[fmt.format(v) for v in row] for row in values], norm)
    ax.set_xticks(range(len(bands)), _plain(bands))
    ax.set_yticks(range(len(tiers)), _plain(tiers))
    ax.set_xlabel(label("risk_band", lang))
    ax.set_ylabel(label("tier", lang))
    titles = {"clv": "value_risk_clv", "expected_purchases": "value_risk_expected_purchases"}
    _title(ax, titles.get(value, "value_risk_customers"), lang)
    if value == "clv" and currency:
        ax.set_title(_money(ax.get_title(), currency, lang))
    return ax


def migration_heatmap(matrix: pl.DataFrame, ax: Axes | None = None, lang: str = "en") -> Axes:
    """Transition heatmap: colour = row share, text = count (from
    :meth:`clv.migration.Migration.matrix`)."""
    ax = _axes(ax, (6.5, 5.0))
    columns = [c for c in matrix.columns if c != "from"]
    counts = matrix.select(columns).to_numpy().astype(float)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    ax.imshow(shares, cmap="Blues", aspect="auto", vmin=0, vmax=1)
    text = [
        [f"{int(c):,}\n{s:.0%}" if c else "" for c, s in zip(rc, rs, strict=True)]
        for rc, rs in zip(counts, shares, strict=True)
    ]
    _annotate(ax, counts, text, shares)
    # the first row (customers new to the base) and the last column (customers
    # who left it) are named in the report's language
    rows = matrix["from"].to_list()
    if rows[:1] == ["new"]:
        rows[0] = label("new", lang)
    names = list(columns)
    if names[-1:] == ["left"]:
        names[-1] = label("left", lang)
    ax.set_xticks(range(len(columns)), _plain(names))
    ax.set_yticks(range(matrix.height), _plain(rows))
    ax.set_xlabel(label("current", lang))
    ax.set_ylabel(label("previous", lang))
    _title(ax, "migration_heatmap", lang)
    return ax


def holdout_by_frequency(table: pl.DataFrame, ax: Axes | None = None, lang: str = "en") -> Axes:
    """Mean actual against predicted holdout purchases by calibration frequency
    (from :func:`clv.backtest.holdout_by_frequency`)."""
    ax = _axes(ax)
    x = np.arange(table.height)
    ax.plot(x, table["actual"], marker="o", label=label("actual", lang))
    ax.plot(x, table["predicted"], marker="s", ls="--", label=label("predicted", lang))
    ax.set_xticks(x, table["label"].to_list())
    ax.set_xlabel(label("cal_frequency", lang))
    ax.set_ylabel(label("holdout_purchases", lang))
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    _title(ax, "holdout_by_frequency", lang)
    return ax


def tracking(
    frame: pl.DataFrame,
    calibration_end=None,
    ax: Axes | None = None,
    cumulative: bool = True,
    lang: str = "en",
) -> Axes:
    """Weekly (or cumulative) repeat purchases, actual against predicted (from
    :func:`clv.backtest.tracking`), with the end of calibration marked."""
    ax = _axes(ax, (8.0, 4.0))
    suffix = "_cumulative" if cumulative else ""
    ax.plot(frame["week"], frame[f"actual{suffix}"], label=label("actual", lang))
    ax.plot(frame["week"], frame[f"predicted{suffix}"], ls="--", label=label("predicted", lang))
    if calibration_end is not None:
        ax.axvline(calibration_end, color="grey", ls=":", lw=1)
        ax.text(
            calibration_end,
            ax.get_ylim()[1] * 0.95,
            " " + label("calibration_end", lang),
            fontsize=8,
            va="top",
        )
    locator = mpl.dates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(_date_formatter(locator, lang))
    ax.set_ylabel(label("cumulative_repeat" if cumulative else "repeat_purchases", lang))
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    _title(ax, "tracking", lang)
    return ax


def _date_formatter(locator, lang: str):
    """Concise dates; in Chinese with numeric months ("1998年", "03月"), no
    English month names."""
    if lang != "zh":
        return mpl.dates.ConciseDateFormatter(locator)
    return mpl.dates.ConciseDateFormatter(
        locator,
        formats=["%Y年", "%m月", "%d日", "%H:%M", "%H:%M", "%S.%f"],
        zero_formats=["", "%Y年", "%m月", "%m月%d日", "%H:%M", "%H:%M"],
        offset_formats=[
            "",
            "%Y年",
            "%Y年%m月",
            "%Y年%m月%d日",
            "%Y年%m月%d日",
            "%Y-%m-%d %H:%M",
        ],
    )


def calibration(table: pl.DataFrame, ax: Axes | None = None, lang: str = "en") -> Axes:
    """Predicted probability against observed rate per bin (from
    :func:`clv.backtest.calibration_table`), point size by customers."""
    ax = _axes(ax, (5.0, 5.0))
    sizes = 20 + 200 * table["customers"].to_numpy() / table["customers"].max()
    ax.scatter(table["mean_predicted"], table["observed_rate"], s=sizes, alpha=0.7)
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label=label("perfect", lang))
    ax.set_xlabel(label("predicted_p", lang))
    ax.set_ylabel(label("observed_p", lang))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(frameon=False)
    _title(ax, "calibration", lang)
    return ax


def figure_html(fig: Figure, alt: str, dpi: float = 100.0) -> str:
    """``fig`` as an HTML ``<img>`` with ``alt`` as its alternative text and
    the PNG embedded as a data URI, so the page needs no other file."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{data}">'


class _FigureImage:
    """A figure shown in a notebook: an ``<img>`` with alt text in HTML, the
    alt text as the plain-text form."""

    def __init__(self, fig: Figure, alt: str) -> None:
        self._html = figure_html(fig, alt)
        self._alt = alt

    def _repr_html_(self) -> str:
        return self._html

    def __repr__(self) -> str:
        return self._alt


def show(fig: Figure, alt: str, lang: str = "en") -> None:
    """Display ``fig`` in a notebook as an image with alternative text, and
    close it so the notebook does not show it a second time.

    ``alt`` is a key of :data:`clv.i18n.ALT_TEXTS` (given in ``lang``) or the
    text itself. Rendered to HTML, the figure is an ``<img alt=...>`` with the
    PNG as a data URI: the page stays self-contained and every image has a
    description.
    """
    from IPython.display import display
    from matplotlib import pyplot as plt

    text = i18n.ALT_TEXTS.get_text(alt, lang, alt) or alt
    display(_FigureImage(fig, text))
    plt.close(fig)
