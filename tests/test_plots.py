"""Figures draw on the Axes they get; Chinese labels render with real glyphs."""

from __future__ import annotations

import io
import re
import warnings

import matplotlib as mpl
import numpy as np
import pytest
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font

import clv
from clv import i18n, plots
from clv.migration import migrate


def test_cjk_font_has_every_glyph_the_figures_use():
    path = plots.cjk_font_path()
    assert path.is_file()
    font = FT2Font(str(path))
    charmap = font.get_charmap()
    scheme = clv.load_scheme()
    texts = [zh for table in i18n.TABLES.values() for _, zh in table.values()]
    texts += [t.zh for t in scheme.tiers] + [b.zh for b in scheme.bands]
    missing = {ch for text in texts for ch in text if ord(ch) not in charmap and not ch.isspace()}
    assert not missing


def test_use_cjk_font_selects_it():
    name = plots.use_cjk_font()
    found = font_manager.findfont(
        font_manager.FontProperties(family=name), fallback_to_default=False
    )
    assert found == str(plots.cjk_font_path())
    assert mpl.rcParams["font.sans-serif"][0] == name


def _no_tofu(fig: Figure) -> None:
    """Render the figure and check that no text fell back to a missing glyph."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font"
        fig.savefig(io.BytesIO(), format="png")


@pytest.fixture(scope="module")
def result(cdnow_sample):
    plots.use_cjk_font()
    return clv.backtest(
        cdnow_sample, calibration_end="1997-09-30", observation_end="1998-06-30", lang="zh"
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_figure_draws_on_the_given_axes(result, lang):
    g = result.grading
    fig = Figure(figsize=(14, 12))
    axes = fig.subplots(3, 4).ravel()
    migration = migrate(g.customers, g.customers)
    summary = g.customers
    calls = [
        lambda ax: plots.tier_distribution(g.tier_table(), ax, lang=lang),
        lambda ax: plots.lorenz_curve(
            g.customers["clv"].to_numpy(),
            g.thresholds,
            [t.name(lang) for t in g.scheme.tiers],
            ax,
            lang=lang,
        ),
        lambda ax: plots.clv_histogram(g.customers["clv"].to_numpy(), g.thresholds, ax, lang=lang),
        lambda ax: plots.p_alive_matrix(result.purchase_model, summary, ax, lang=lang),
        lambda ax: plots.expected_purchases_matrix(
            result.purchase_model, summary, 365, ax, lang=lang
        ),
        lambda ax: plots.value_risk_heatmap(g.grid(), ax, lang=lang),
        lambda ax: plots.value_risk_heatmap(g.grid(), ax, value="clv", lang=lang),
        lambda ax: plots.migration_heatmap(migration.matrix(), ax, lang=lang),
        lambda ax: plots.holdout_by_frequency(result.by_frequency, ax, lang=lang),
        lambda ax: plots.tracking(result.tracking, result.calibration_end, ax, lang=lang),
        lambda ax: plots.calibration(result.no_purchase_calibration, ax, lang=lang),
    ]
    for ax, call in zip(axes, calls, strict=False):
        assert call(ax) is ax
        assert ax.has_data() or ax.images
        title = ax.get_title()
        assert title, "every figure has a title"
        assert bool(re.search(r"[\u4e00-\u9fff]", title)) == (lang == "zh"), title
        if lang == "zh":  # no English axis label or legend entry on a Chinese figure
            texts = [ax.get_xlabel(), ax.get_ylabel()]
            legend = ax.get_legend()
            texts += [t.get_text() for t in legend.get_texts()] if legend else []
            assert not [t for t in texts if re.search(r"[A-Za-z]{3,}", t)], texts
    _no_tofu(fig)


def test_missing_glyphs_are_detected():
    with mpl.rc_context({"font.sans-serif": ["DejaVu Sans"]}):
        fig = Figure()
        fig.add_subplot().set_title("钻石")
        with pytest.raises(UserWarning, match="missing from font"):
            _no_tofu(fig)


def test_new_axes_when_none_given(result):
    ax = plots.clv_histogram(np.array([1.0, 10.0, 100.0]))
    assert ax.figure is not None and ax.has_data()


def test_lorenz_marks_the_cuts(result):
    g = result.grading
    ax = plots.lorenz_curve(g.customers["clv"].to_numpy(), g.thresholds)
    assert len(ax.lines) == 2 + len(g.thresholds)  # curve, equality line, one per cut


def test_report_tables_speak_chinese():
    import polars as pl

    from clv import narrative

    frame = pl.DataFrame({"status": ["one_time", "lost"], "customers": [1411, 84]})
    html = narrative.table(frame, "zh")._repr_html_()
    assert "仅购一次" in html and "已流失" in html and "客户数" in html and "1,411" in html
    en = narrative.table(frame, "en")._repr_html_()
    assert "one-time buyer" in en and "one_time" not in en


def test_dollar_signs_in_names_are_drawn_as_written():
    import polars as pl

    ax = plots.tier_distribution(
        pl.DataFrame(
            {
                "tier_name": ["$a^2$", "plain"],
                "share_customers": [0.5, 0.5],
                "share_clv": [0.7, 0.3],
            }
        )
    )
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == [r"\$a^2\$", "plain"]
    first = ax.get_xticklabels()[0]
    assert first._preprocess_math(first.get_text()) == ("$a^2$", False)  # shown, not math


def test_chinese_dates_use_numeric_months(result):
    ax = plots.tracking(result.tracking, result.calibration_end, lang="zh")
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels()] + [ax.xaxis.get_offset_text().get_text()]
    assert any("月" in t or "年" in t for t in labels)
    assert not [t for t in labels if re.search(r"[A-Za-z]", t)], labels


def test_migration_names_new_and_left_in_the_language(result):
    g = result.grading
    matrix = migrate(g.customers.head(50), g.customers.tail(50)).matrix()
    ax = plots.migration_heatmap(matrix, lang="zh")
    columns = [t.get_text() for t in ax.get_xticklabels()]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert columns[-1] == "已离开" and rows[0] == "新客户"
    assert "new" not in rows and "left" not in columns


def test_show_displays_an_image_with_alt_text(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1], [0, 1])
    plots.show(fig, "tiers", "zh")
    plots.show(fig, 'a "quoted" <line>', "en")
    first, second = (item._repr_html_() for item in shown)
    assert first.startswith('<img alt="各等级') and 'src="data:image/png;base64,' in first
    assert 'alt="a &quot;quoted&quot; &lt;line&gt;"' in second
    assert repr(shown[0]).startswith("各等级")


def test_money_axes_name_the_currency():
    ax = plots.clv_histogram(np.array([1.0, 5.0, 20.0]), np.array([10.0]), currency="CNY")
    assert ax.get_xlabel().endswith("(CNY)")
    ax = plots.clv_histogram(np.array([1.0, 5.0, 20.0]), lang="zh", currency="元")
    assert ax.get_xlabel().endswith("（元）")
    ax = plots.clv_histogram(np.array([1.0, 5.0, 20.0]))
    assert "(" not in ax.get_xlabel()
