"""Files a report leaves for people: spreadsheets safe to open, strict JSON,
Markdown that shows users' strings as plain text, and self-contained HTML."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import nbformat
import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import clv
from clv import narrative
from clv.narrative import escape_markdown
from clv.paths import PROJECT_ROOT
from clv.report import exports
from clv.report.exports import (
    COLUMNS,
    column_descriptions,
    neutralise_formulas,
    round_scores,
    summary_json,
)
from clv.report.render import html_page, markdown_to_html, render_html
from clv.report.sections import FitOutcome

TRIGGERS = ["=", "+", "-", "@", "\t", "\r"]
EVIL = {
    '=HYPERLINK("http://x","y")': '\'=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0": "'+cmd|' /C calc'!A0",
    "-2+3": "'-2+3",
    "@SUM(A1)": "'@SUM(A1)",
    "\tTAB": "'\tTAB",
    "\rCR": "'\rCR",
}
NASTY = [
    "[x](javascript:alert(1))",
    "$a$ and $$b$$",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "**bold** _it_ `code` ~~s~~",
    "# heading",
    "1. list",
    "- item",
    "> quote",
    "a | b | c",
    "\\(x\\) \\[y\\]",
    "&amp; & &lt; < > \"q\" 'q'",
    "{curly} !bang #hash +plus .dot",
    "金卡 <会员>",
]
SPREADSHEET_SAFE = re.compile(r"^[=+\-@\t\r]")


def _csv_rows(folder: Path) -> list[dict[str, str]]:
    # bytes, not read_text: universal newlines would turn a quoted \r into \n
    text = (folder / "graded_customers.csv").read_bytes().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _strict_loads(text: str):
    def refuse(constant: str):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def _strings(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


# ---------------------------------------------------------------- neutralising


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_each_formula_trigger_is_prefixed(trigger):
    frame = pl.DataFrame({"text": [f"{trigger}x", f"a{trigger}", None]})
    out = neutralise_formulas(frame)
    assert out["text"].to_list() == [f"'{trigger}x", f"a{trigger}", None]


def test_numbers_stay_numbers_and_text_minus_is_prefixed():
    frame = pl.DataFrame(
        {
            "int": [-5, 3],
            "float": [-5.25, 1.0],
            "text": ["-x", "-5"],
            "cat": pl.Series(["=1+1", "ok"], dtype=pl.Categorical),
            "enum": pl.Series(["@a", "b"], dtype=pl.Enum(["@a", "b"])),
        }
    )
    out = neutralise_formulas(frame)
    assert out["int"].to_list() == [-5, 3] and out["int"].dtype == pl.Int64
    assert out["float"].to_list() == [-5.25, 1.0] and out["float"].dtype == pl.Float64
    assert out["text"].to_list() == ["'-x", "'-5"]
    assert out["cat"].to_list() == ["'=1+1", "ok"]
    assert out["enum"].to_list() == ["'@a", "b"]
    assert frame["text"].to_list() == ["-x", "-5"]  # the input is not modified


# ---------------------------------------------------------------- saved files


@pytest.fixture(scope="module")
def saved(tmp_path_factory, cdnow_sample):
    summary = clv.summarize(cdnow_sample, freq="D", time_unit="W", observation_end="1997-09-30")
    fits = clv.report.fit_models(summary, "bgnbd")
    scores = clv.score(summary, fits.purchase, fits.spend)
    grading = clv.grade(scores, "five_card", lang="zh", n_bootstrap=10, seed=0)
    graded = clv.report.graded_table(grading)
    evil = list(EVIL)
    index = pl.int_range(pl.len())
    graded = graded.with_columns(
        pl.when(index < len(evil))
        .then(pl.Series(evil + [""] * (graded.height - len(evil))))
        .otherwise(pl.col("customer_id"))
        .alias("customer_id"),
        pl.when(index == 0)
        .then(pl.lit("=cmd|'/C calc'!A0"))
        .otherwise("tier_name")
        .alias("tier_name"),
    )
    outside = tmp_path_factory.mktemp("elsewhere") / "orders.csv"
    facts = pl.DataFrame(
        {
            "item": [
                "data",
                "data sha256",
                "transactions read",
                "customers graded",
                "interpreter",
                "version polars",
                "parameter horizon_days",
                "parameter seed",
                "parameter previous_graded",
                "parameter period",
            ],
            "value": [
                str(outside),
                "0" * 64,
                "6,919",
                "2,357",
                str(PROJECT_ROOT / ".venv" / "bin" / "python"),
                "1.30",
                "365.0",
                "0",
                "",
                "1997-09",
            ],
        }
    )
    folder = tmp_path_factory.mktemp("out")
    written = clv.report.save_outputs(
        folder,
        graded=graded,
        grading=grading,
        purchase=fits.purchase,
        spend=fits.spend,
        facts=facts,
    )
    return folder, written, graded, outside


def test_every_file_is_written(saved):
    folder, written, _, _ = saved
    assert [p.name for p in written] == [
        "graded_customers.parquet",
        "graded_customers.csv",
        "graded_customers.xlsx",
        "summary.json",
        "models.txt",
        "purchase_model.json",
        "spend_model.json",
    ]
    assert all(p.is_file() and p.parent == folder for p in written)
    # the fitted models reload, fingerprinted with the data's checksum
    reloaded = clv.load_model(folder / "purchase_model.json", expected_fingerprint="0" * 64)
    in_summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert reloaded.model == in_summary["purchase_model"]["model"] == "bgnbd"
    assert reloaded.params == pytest.approx(in_summary["purchase_model"]["params"], rel=1e-12)
    with pytest.raises(clv.ModelFileError):
        clv.load_model(folder / "spend_model.json", expected_fingerprint="1" * 64)


def test_csv_has_a_bom_and_reads_back_in_chinese(saved):
    folder, _, graded, _ = saved
    raw = (folder / "graded_customers.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert text.startswith("customer_id,")
    assert "钻石" in text and "普通" in text
    assert pl.read_csv(io.StringIO(text)).height == graded.height


def test_csv_cells_cannot_run_formulas(saved):
    folder, _, graded, _ = saved
    rows = _csv_rows(folder)
    ids = [r["customer_id"] for r in rows]
    for original, neutral in EVIL.items():
        assert neutral in ids and original not in ids
    assert "'=cmd|'/C calc'!A0" in {r["tier_name"] for r in rows}
    for row in rows:
        for column in ("customer_id", "tier", "tier_name", "risk_band", "status", "action"):
            assert not SPREADSHEET_SAFE.match(row[column]), (column, row[column])
    # the Parquet file keeps the values as they were
    parquet = pl.read_parquet(folder / "graded_customers.parquet")
    assert parquet.equals(graded)
    assert set(EVIL) <= set(parquet["customer_id"])


def test_scores_are_rounded_for_people_and_exact_in_parquet(saved):
    folder, _, graded, _ = saved
    rows = _csv_rows(folder)
    decimals = {"clv": 2, "p_alive": 4, "expected_purchases": 4, "recency": 2, "T": 2}
    for column, places in decimals.items():
        assert COLUMNS[column].decimals == places
        cells = [r[column] for r in rows if r[column]]
        assert all(len(c.split(".")[1]) <= places for c in cells if "." in c), column
        assert any(len(c.split(".")[1]) == places for c in cells if "." in c), column
        exact = graded[column].to_list()
        for cell, value in zip([r[column] for r in rows], exact, strict=True):
            assert float(cell) == pytest.approx(round(value, places), abs=10**-places / 2)
    parquet = pl.read_parquet(folder / "graded_customers.parquet")
    assert parquet["clv"].to_list() == graded["clv"].to_list()
    assert any(round(v, 2) != v for v in parquet["clv"].to_list())  # full precision kept


def test_round_scores_leaves_other_columns_and_blanks_nan():
    frame = pl.DataFrame(
        {"clv": [1.23456, float("nan")], "p_alive": [0.123456, 0.5], "other": [1.23456, 2.0]}
    )
    out = round_scores(frame)
    assert out["clv"].to_list() == [1.23, None]
    assert out["p_alive"].to_list() == [0.1235, 0.5]
    assert out["other"].to_list() == [1.23456, 2.0]


def _xlsx(path: Path) -> tuple[list[str], list[str], dict[str, str]]:
    """Sheet names, shared strings and sheet XML of an xlsx, read with the
    standard library (no Excel reader is needed)."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(path) as book:
        workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
        names = [s.get("name") for s in workbook.findall("m:sheets/m:sheet", ns)]
        strings = [
            "".join(t.text or "" for t in si.iter(f"{{{ns['m']}}}t"))
            for si in ElementTree.fromstring(book.read("xl/sharedStrings.xml")).findall("m:si", ns)
        ]
        sheets = {
            n: book.read(n).decode("utf-8")
            for n in book.namelist()
            if n.startswith("xl/worksheets/sheet")
        }
    return names, strings, sheets


def test_xlsx_has_the_table_and_a_sheet_describing_each_column(saved):
    folder, _, graded, _ = saved
    path = folder / "graded_customers.xlsx"
    names, strings, sheets = _xlsx(path)
    assert names == ["graded_customers", "columns"]
    assert len(sheets) == 2
    assert "<f>" not in "".join(sheets.values())  # no formulas anywhere
    for original, neutral in EVIL.items():
        if original.strip("\t\r") == original:  # xlsx keeps tab and CR: compare the rest
            assert neutral in strings and original not in strings
    assert not any(SPREADSHEET_SAFE.match(s) for s in strings)
    assert "Probability that the customer is still active (has not stopped buying)" in strings
    assert "客户仍活跃（未流失）的概率" in strings
    assert "weeks" in strings and "周" in strings
    assert "currency units over 365 days" in strings
    assert set(graded.columns) <= set(strings)
    try:
        import fastexcel  # noqa: F401
    except ImportError:
        return
    table = pl.read_excel(path, sheet_name="graded_customers")
    assert table.height == graded.height
    described = pl.read_excel(path, sheet_name="columns")
    assert described["column"].to_list() == graded.columns


def test_every_graded_column_is_described(saved):
    _, _, graded, _ = saved
    assert set(graded.columns) <= set(COLUMNS)
    table = column_descriptions(graded.columns, time_unit="D", horizon_days=90)
    assert table["column"].to_list() == graded.columns
    for row in table.iter_rows(named=True):
        assert all(row[k] for k in ("meaning_en", "meaning_zh", "unit_en", "unit_zh")), row
    units = dict(zip(table["column"], table["unit_en"], strict=True))
    assert units["recency"] == units["T"] == "days"
    assert units["clv"] == "currency units over 90 days"
    assert units["p_alive"] == "probability, 0 to 1"
    zh = dict(zip(table["column"], table["unit_zh"], strict=True))
    assert zh["T"] == "天"
    assert column_descriptions(["unknown"])["meaning_en"].to_list() == [""]


def test_summary_is_strict_json_without_machine_paths(saved):
    folder, _, _, outside = saved
    text = (folder / "summary.json").read_text(encoding="utf-8")
    summary = _strict_loads(text)
    facts = summary["facts"]
    assert facts["customers graded"] == 2357 and facts["transactions read"] == 6919
    assert facts["parameter seed"] == 0 and facts["parameter horizon_days"] == 365.0
    assert facts["version polars"] == "1.30" and facts["data sha256"] == "0" * 64
    assert facts["parameter period"] == "1997-09" and facts["parameter previous_graded"] == ""
    assert facts["data"] == outside.name
    assert facts["interpreter"] == ".venv/bin/python"
    for value in _strings(summary):
        assert not value.startswith("/") and str(outside.parent) not in value, value
        assert str(PROJECT_ROOT) not in value, value
    assert isinstance(summary["headline"]["customers"], int)
    assert all(isinstance(t["threshold"], float) for t in summary["thresholds"])


def test_summary_json_writes_nan_and_infinity_as_null(tmp_path):
    value = {
        "a": float("nan"),
        "b": [float("inf"), -math.inf, np.float64("nan"), np.float32(1.5)],
        "c": {"d": np.int64(3), "e": np.array([1.0, np.nan]), "f": (1, None)},
        "g": tmp_path / "x.txt",
        "h": PROJECT_ROOT / "data" / "x.csv",
    }
    loaded = _strict_loads(summary_json(value))
    assert loaded == {
        "a": None,
        "b": [None, None, None, 1.5],
        "c": {"d": 3, "e": [1.0, None], "f": [1, None]},
        "g": "x.txt",
        "h": "data/x.csv",
    }
    with pytest.raises(TypeError):
        summary_json({"x": object()})


def test_windows_paths_keep_their_name_only():
    assert exports._display_path(r"C:\Users\li\orders.csv", PROJECT_ROOT) == "orders.csv"
    assert exports._display_path("relative/orders.csv", PROJECT_ROOT) == "relative/orders.csv"
    assert exports._display_path("https://x/y", PROJECT_ROOT) == "https://x/y"


# ---------------------------------------------------------------- Markdown


def test_escape_markdown_escapes_every_special():
    for char in "\\`*_{}[]()#+-.!|$~":
        assert escape_markdown(f"a{char}b") == f"a\\{char}b"
    assert escape_markdown("a<b>&c") == "a&lt;b&gt;&amp;c"
    assert escape_markdown("line\nbreak\r\nhere") == "line break here"
    assert escape_markdown("金卡会员") == "金卡会员"
    assert escape_markdown("[x](javascript:alert(1))") == "\\[x\\]\\(javascript:alert\\(1\\)\\)"


@pytest.mark.parametrize("text", NASTY)
def test_escaped_strings_render_as_plain_text(text):
    rendered = markdown_to_html(f"Tier: {escape_markdown(text)}")
    assert rendered.startswith("<p>") and rendered.rstrip().endswith("</p>")
    inner = rendered.strip()[len("<p>") : -len("</p>")]
    assert "<" not in inner.replace("&lt;", "")  # no element at all
    assert html.unescape(inner) == f"Tier: {text}"


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zl", "Zp"])))
def test_any_line_of_text_survives_escaping(text):
    rendered = markdown_to_html(f"x {escape_markdown(text)} x").strip()
    assert "<" not in rendered[len("<p>") : -len("</p>")].replace("&lt;", "")
    assert html.unescape(rendered[len("<p>") : -len("</p>")]) == f"x {text} x"


def test_narrative_escapes_users_strings():
    text = narrative.ladder({"agrees": 3}, "[x](javascript:alert(1)) $a$")
    assert "\\[x\\]\\(javascript:alert\\(1\\)\\) \\$a\\$" in text
    page = markdown_to_html(text)
    assert "href" not in page and "[x](javascript:alert(1)) $a$" in html.unescape(page)
    outcome = FitOutcome(None, None, (), "bad <b>id</b> [y](javascript:z)", "*no* spend")
    for lang in ("en", "zh"):
        warning = narrative.fit_outcome(outcome, lang)
        assert "&lt;b&gt;id&lt;/b&gt; \\[y\\]\\(javascript:z\\)" in warning
        assert "\\*no\\* spend" in warning
    names = narrative.written([Path("/x/graded_customers.csv"), Path("a`b.csv")])
    assert "`graded_customers.csv`" in names and "``a`b.csv``" in names
    assert "<code>a`b.csv</code>" in markdown_to_html(names)


def test_tables_escape_their_cells_and_headers():
    frame = pl.DataFrame({"<i>tier</i>": ["<script>alert(1)</script>", "[x](javascript:y)"]})
    page = narrative.table(frame)._repr_html_()
    assert "<script>" not in page and "<i>" not in page
    assert "&lt;script&gt;" in page and "&lt;i&gt;tier&lt;/i&gt;" in page


def test_markdown_guard_drops_harmful_links_math_and_raw_html():
    page = markdown_to_html("[y](javascript:alert(1)) $a$ \\(b\\) <b onclick=x>hi</b>")
    assert 'href="javascript' not in page and "<b " not in page
    assert "math" not in page and "$a$" in page


# ---------------------------------------------------------------- HTML

EXTERNAL = re.compile(
    r"<script[^>]+src=[\"']?(https?:)?//|<link[^>]+href=[\"']?(https?:)?//"
    r"|@import\s+(url\()?[\"']?(https?:)?//",
    re.IGNORECASE,
)
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
    )
).decode()


def _notebook(markdown: str) -> nbformat.NotebookNode:
    outputs = [
        new_output("display_data", data={"text/markdown": markdown, "text/plain": "md"}),
        new_output(
            "display_data",
            data={
                "text/html": narrative.table(pl.DataFrame({"tier": ["<b>x</b>"]}))._repr_html_(),
                "text/plain": "table",
            },
        ),
        new_output("display_data", data={"image/png": PNG, "text/plain": "figure"}),
    ]
    return new_notebook(
        cells=[
            new_markdown_cell("# Customer grading report · 客户分级报告\n\nPlain $x$ text."),
            new_code_cell("print('hidden source')", outputs=outputs),
        ]
    )


def _check_self_contained(page: str) -> None:
    assert not EXTERNAL.search(page), EXTERNAL.search(page).group(0)
    assert not re.search(r"<script[^>]*\ssrc=", page, re.IGNORECASE)
    assert "require" not in page.lower().replace("required", "")
    assert "mathjax" not in page.lower()
    assert "cdnjs" not in page and "unpkg.com" not in page


def test_html_is_self_contained_and_shows_users_strings_as_text():
    evil = "[x](javascript:alert(1)) $a$ <script>alert(2)</script>"
    page = html_page(_notebook(f"**Tier:** {escape_markdown(evil)}"), lang="zh", title="报告 <1>")
    _check_self_contained(page)
    assert '<html lang="zh">' in page
    assert "<title>报告 &lt;1&gt;</title>" in page
    assert '<a href="javascript' not in page and "javascript:alert(1)" in page
    assert 'class="math"' not in page and "\\(" not in page and "$a$" in page
    assert "<script>alert(2)" not in page and "&lt;script&gt;alert(2)" in page
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert f"data:image/png;base64,{PNG}" in page
    assert "hidden source" not in page


def test_render_html_takes_lang_from_the_notebook_and_defaults(tmp_path):
    notebook = _notebook("text")
    notebook.metadata["papermill"] = {"parameters": {"lang": "zh"}}
    path = tmp_path / "report.ipynb"
    nbformat.write(notebook, path)
    render_html(path, tmp_path / "zh.html")
    page = (tmp_path / "zh.html").read_text(encoding="utf-8")
    assert '<html lang="zh">' in page and "<title>Customer grading report</title>" in page
    render_html(path, tmp_path / "en.html", lang="en", title="Quarterly grading")
    page = (tmp_path / "en.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in page and "<title>Quarterly grading</title>" in page
    assert "title" not in nbformat.read(path, as_version=4).metadata  # the file is unchanged


def test_an_executed_notebook_renders_offline(tmp_path):
    from nbclient import NotebookClient

    source = (
        "from IPython.display import Markdown, display\n"
        "import matplotlib.pyplot as plt\n"
        "from clv import narrative\n"
        "name = narrative.escape_markdown('[x](javascript:alert(1)) $a$')\n"
        "display(Markdown('**Ladder:** ' + name))\n"
        "fig, ax = plt.subplots()\n"
        "ax.plot([1, 2, 3])\n"
        "display(fig)\n"
        "plt.close(fig)"
    )
    notebook = new_notebook(cells=[new_code_cell(source)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    path = tmp_path / "run.ipynb"
    nbformat.write(notebook, path)
    render_html(path, tmp_path / "run.html")
    page = (tmp_path / "run.html").read_text(encoding="utf-8")
    _check_self_contained(page)
    assert "<strong>Ladder:</strong> [x](javascript:alert(1)) $a$" in page
    assert re.search(r'<img[^>]+src="data:image/png;base64,', page)


def test_failure_note_names_the_section_and_every_try():
    from clv.models import FitAttempt
    from clv.report import SectionFailure

    failed = SectionFailure(
        "back-test",
        "ModelFitError: no repeat buyer",
        (FitAttempt("bgnbd", 0.0, "boundary"), FitAttempt("mbgnbd", 0.001, "flat likelihood")),
    )
    en = narrative.failure(failed, "en")
    # Markdown source: user text escaped (back\-test, buyer\.)
    assert "could not be computed: back\\-test." in en and "no repeat buyer\\." in en
    assert "bgnbd (penalizer 0): boundary" in en and "mbgnbd (penalizer 0.001)" in en
    zh = narrative.failure(failed, "zh")
    assert "本部分无法计算：回测" in zh and "back-test" not in zh


def test_fact_and_quality_items_read_in_the_reports_language():
    import polars as pl

    from clv.report import quality_table

    tx = clv.datasets.cdnow(sample=True)
    zh = str(narrative.table(quality_table(tx.quality), "zh"))
    assert "读取行数" in zh and "rows_read" not in zh
    en = str(narrative.table(quality_table(tx.quality), "en"))
    assert "rows read" in en and "rows_read" not in en
    facts = pl.DataFrame({"item": ["version polars", "parameter lang"], "value": ["2", "zh"]})
    assert "版本 polars" in str(narrative.table(facts, "zh"))


def _stub_grading(top_at_risk: int, lang: str = "en"):
    """A grading with only what :func:`narrative.tiers` reads: the scheme and
    the tier x risk grid, with ``top_at_risk`` top-tier customers at risk."""
    from types import SimpleNamespace

    scheme = clv.load_scheme()
    rows = [
        {
            "tier": t.id,
            "risk_band": b.id,
            # the top tier's customers at risk all sit in the second band
            "customers": 10 if j == 0 else 3 if i else top_at_risk if j == 1 else 0,
            "clv": 100.0,
        }
        for i, t in enumerate(scheme.tiers)
        for j, b in enumerate(scheme.bands)
    ]
    return SimpleNamespace(scheme=scheme, lang=lang, grid=lambda: pl.DataFrame(rows))


def test_value_at_stake_reads_right_for_none_one_and_many():
    none = narrative.tiers(_stub_grading(0))
    assert "none of them is a Diamond customer" in none and " 0 " not in none
    assert "1 of them is a Diamond customer," in narrative.tiers(_stub_grading(1))
    assert "2 of them are Diamond customers," in narrative.tiers(_stub_grading(2))
    zh = narrative.tiers(_stub_grading(0, "zh"))
    assert "其中没有钻石客户" in zh and "0 位" not in zh
    assert "其中 2 位为钻石客户" in narrative.tiers(_stub_grading(2, "zh"))


def test_counts_in_sentences_agree_in_number():
    assert "puts 1 customer in a higher level" in narrative.ladder(
        {"over-graded": 1, "under-graded": 0, "agrees": 1}, "Cards"
    )
    text = narrative.ladder({"over-graded": 0, "under-graded": 2, "agrees": 5}, "Cards")
    assert "puts 0 customers in a higher level" in text and "5 agree" in text


def test_model_summary_speaks_the_reports_language(cdnow_calibration):
    fits = clv.report.fit_models(cdnow_calibration, "bgnbd")
    zh = narrative.model_summary(fits.purchase, "zh")._repr_html_()
    assert "BG/NBD 购买模型（时间单位：周）" in zh and "标准误" in zh and "95% 区间下限" in zh
    assert "coef" not in zh and "std err" not in zh and "Standard errors" not in zh
    en = str(narrative.model_summary(fits.spend, "en"))
    assert en.startswith("Gamma-Gamma spend model (repeat buyers)") and "γ" in en


def test_money_in_sentences_carries_the_currency():
    import numpy as np
    import polars as pl

    n = 300
    scores = pl.DataFrame(
        {
            "customer_id": [str(i) for i in range(n)],
            "clv": np.linspace(1, 300, n),
            "p_alive": np.full(n, 0.8),
            "churn_probability": np.full(n, 0.2),
            "p_no_purchase": np.linspace(0.05, 0.95, n),
            "frequency": np.ones(n),
            "T": np.full(n, 52.0),
        }
    )
    grading = clv.grade(scores)
    assert " USD and holds" in narrative.thresholds(grading, currency="USD")
    assert " USD of predicted value" in narrative.tiers(grading, currency="USD")
    assert "USD" not in narrative.thresholds(grading)


def test_excel_copy_is_left_out_above_its_row_limit_and_summary_says_so(tmp_path, monkeypatch):
    import json

    from clv.report import exports

    monkeypatch.setattr(exports, "EXCEL_MAX_ROWS", 3)
    graded = pl.DataFrame({"customer_id": ["a", "b", "c", "d"], "clv": [1.0, 2.0, 3.0, 4.0]})
    written = exports._write_outputs(
        tmp_path, graded, {"headline": {}}, "models", "W", 365.0, pl.DataFrame()
    )
    assert not (tmp_path / "graded_customers.xlsx").exists()
    assert [p.name for p in written] == [
        "graded_customers.parquet",
        "graded_customers.csv",
        "summary.json",
        "models.txt",
    ]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert "4 customers, more than 3" in summary["excel"]
    written = exports._write_outputs(
        tmp_path, graded.head(3), {"headline": {}}, "models", "W", 365.0, pl.DataFrame()
    )
    assert (tmp_path / "graded_customers.xlsx").is_file()
    assert "excel" not in json.loads((tmp_path / "summary.json").read_text())
