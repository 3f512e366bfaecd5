"""One language at a time: every label in both languages, and report pages
that speak only the report's language."""

from __future__ import annotations

import html
import re

import pytest

import clv
from clv import i18n
from clv.report import RunConfig, run_period

# ASCII words a Chinese page may show: model and method names, units,
# checksums, package names in the method facts, parameter symbols
ALLOWED_IN_ZH = {
    "Spark",  # the engine's name (the parameter "Spark 主节点")
    "VIP",  # the telecom documents' own term (VIP 卡)
    "BG",
    "NBD",
    "MBG",
    "Pareto",
    "Gamma",
    "RFM",
    "Spearman",
    "Kruskal",
    "Wallis",
    "Brier",
    "Hessian",
    "Wald",
    "AIC",
    "BIC",
    "CLV",
    "CNY",
    "SHA",
    "B2B",
    *clv.report.versions(),
}


def _config(**changes) -> RunConfig:
    values = {
        "data_path": "data/cdnow/CDNOW_sample.csv",
        "period": "1998-06",
        "observation_end": "1998-06-30",
        "calibration_end": "1997-09-30",
        "n_bootstrap": 50,
    }
    return RunConfig(**{**values, **changes})


def _page(folder) -> str:
    return (folder / "report.html").read_text(encoding="utf-8")


def _visible_text(page: str) -> str:
    """The words a reader sees: no styles, scripts, tags or image data."""
    body = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)
    return re.sub(r"\s+", " ", html.unescape(body))


@pytest.fixture(scope="module")
def zh_page(tmp_path_factory):
    return _page(run_period(_config(lang="zh"), reports_dir=tmp_path_factory.mktemp("zh")))


@pytest.fixture(scope="module")
def en_page(tmp_path_factory):
    return _page(run_period(_config(lang="en"), reports_dir=tmp_path_factory.mktemp("en")))


def test_every_label_has_both_languages():
    assert i18n.TABLES
    for name, table in i18n.TABLES.items():
        for key, pair in table.items():
            assert len(pair) == 2, (name, key)
            en, zh = pair
            assert en.strip() and zh.strip(), (name, key)
            assert re.search(r"[\u4e00-\u9fff]", zh) or en == zh, (name, key)


def test_labels_pick_the_language():
    assert i18n.label("actual", "zh") == "实际" and i18n.label("actual") == "actual"
    assert i18n.value("past_spend", "en") == "past spend"
    assert i18n.value("no_order_in_period", "zh") == "本期无订单"
    assert i18n.value("something else", "zh") == "something else"
    assert i18n.header("lower 95%", "zh") == "95% 区间下限"
    assert i18n.header("level_name", "en") == "ladder level"
    assert i18n.item("parameter lang", "zh") == "参数：语言"
    assert i18n.item_value("parameter model", "bgnbd", "en") == "BG/NBD"
    assert i18n.section("facts", "zh").startswith("## 1. 运行信息")
    assert "Run facts" not in i18n.section("facts", "zh")


@pytest.mark.parametrize(
    ("n", "lang", "expected"),
    [
        (0, "en", "0 customers"),
        (1, "en", "1 customer"),
        (2_500, "en", "2,500 customers"),
        (0, "zh", "0 位客户"),
        (1, "zh", "1 位客户"),
    ],
)
def test_counts_read_correctly(n, lang, expected):
    assert i18n.count(n, "customer", lang) == expected


def test_known_sentences_translate():
    text = "expected revenue (no margin given: not profit) over 365 days, discounted at 10% a year"
    assert (
        i18n.translate_text(text, "zh")
        == "预期收入（未给出毛利率，不是利润），预测期 365 天，年折现率 10%"
    )
    assert i18n.translate_text(text, "en") == text
    assert i18n.translate_text("dropped 1 row that were blank lines", "zh") == "删除 1 行空行"


def test_zh_page_speaks_only_chinese(zh_page):
    assert '<html lang="zh">' in zh_page and "<title>客户分级报告</title>" in zh_page
    text = _visible_text(zh_page)
    # file names and the data path are names, not words
    text = re.sub(r"[\w/\-]+\.(csv|parquet|xlsx|json|txt)\b", " ", text)
    text = re.sub(r"\b[0-9a-f]{64}\b", " ", text)  # the data's SHA-256
    # what a user types is code, not words: options and keywords
    text = re.sub(r"--[a-z][a-z-]*|\b[a-z_]+=", " ", text)
    # one-letter model parameters (r, a, b, p, q) and exponents (1.9e-122) aside
    words = {w for w in re.findall(r"[A-Za-z][A-Za-z_]*", text) if len(w) > 1}
    chosen = {"five_card", "ladder_five_card"}  # ids the user chose: scheme and ladder
    left = words - ALLOWED_IN_ZH - chosen
    assert not left, " ".join(sorted(left))


def test_en_page_shows_no_codes(en_page):
    assert '<html lang="en">' in en_page
    text = _visible_text(en_page)
    codes = set(re.findall(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b", text))
    # ids the user chose and the files written with the report
    codes -= {"five_card", "ladder_five_card", "cdnow", "graded_customers"}
    codes -= {"purchase_model", "spend_model"}
    assert not codes, sorted(codes)
    assert "Run facts · " not in en_page and "运行信息" not in en_page


@pytest.mark.parametrize("which", ["zh", "en"])
def test_every_image_has_alt_text_and_is_embedded(which, request):
    page = request.getfixturevalue(f"{which}_page")
    images = re.findall(r"<img\b[^>]*>", page)
    assert len(images) == 5
    for image in images:
        alt = re.search(r'\balt="([^"]*)"', image)
        assert alt and alt.group(1).strip(), image[:120]
        assert "No description" not in alt.group(1)
        assert 'src="data:image/png;base64,' in image
    if which == "zh":
        assert all(re.search(r'alt="[^"]*[\u4e00-\u9fff]', image) for image in images)
