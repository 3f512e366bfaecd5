"""Report runs: real papermill execution, HTML without code, atomic publishing."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import polars as pl
import pytest

import clv
from clv.cli import main
from clv.paths import PROJECT_ROOT
from clv.report import RunConfig, period_ends, run_period

SECTIONS_EN = [
    "1. Run facts",
    "2. Model fit",
    "3. Does the grading work?",
    "4. How the thresholds were set",
    "5. The tiers",
    "6. Movement since the last period",
    "7. Rule-based programmes against the evidence",
    "8. Playbook for this period",
    "9. Method",
]
SECTIONS_ZH = [
    "1. 运行信息",
    "2. 模型拟合",
    "3. 分级是否有效",
    "4. 等级门槛的依据",
    "5. 各等级概况",
    "6. 与上期相比的变动",
    "7. 规则型会员体系与证据对比",
    "8. 本期各等级策略",
    "9. 方法附录",
]
FILES = [
    "grading_report.ipynb",
    "report.html",
    "graded_customers.parquet",
    "graded_customers.csv",
    "graded_customers.xlsx",
    "summary.json",
    "models.txt",
    "purchase_model.json",
    "spend_model.json",
]


def _sha256(path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _config(**changes) -> RunConfig:
    values = {
        "data_path": "data/cdnow/CDNOW_sample.csv",
        "period": "1998-06",
        "observation_end": "1998-06-30",
        "calibration_end": "1997-09-30",
        "n_bootstrap": 50,
    }
    return RunConfig(**{**values, **changes})


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    reports = tmp_path_factory.mktemp("reports")
    folder = run_period(_config(lang="zh"), reports_dir=reports)
    return reports, folder


def test_a_run_writes_every_file(published):
    reports, folder = published
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    assert (reports / "index.html").is_file()
    assert not [
        p
        for p in reports.iterdir()
        if p.name.startswith(".") and p.name not in (".failed", ".lock")
    ]
    graded = pl.read_parquet(folder / "graded_customers.parquet")
    assert graded.height == 2357
    for column in (
        "customer_id",
        "tier",
        "tier_name",
        "risk_band",
        "status",
        "action",
        "previous_tier",
        "clv",
        "p_alive",
        "churn_probability",
    ):
        assert column in graded.columns
    assert set(graded["tier_name"]) == {"钻石", "白金", "金", "银", "普通"}
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert [t["tier"] for t in summary["thresholds"]] == ["diamond", "platinum", "gold", "silver"]
    assert all(t["lower"] <= t["threshold"] <= t["upper"] for t in summary["thresholds"])
    assert summary["headline"]["customers"] == 2357
    assert summary["facts"]["data sha256"] == _sha256(PROJECT_ROOT / "data/cdnow/CDNOW_sample.csv")
    assert (
        summary["headline"]["backtest"]["clv"]["capture"]
        >= (summary["headline"]["backtest"]["past_spend"]["capture"])
    )


def test_the_notebook_ran_on_this_interpreter(published):
    _, folder = published
    notebook = nbformat.read(folder / "grading_report.ipynb", as_version=4)
    injected = [c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "lang = " in injected[0].source
    # the kernel ran this environment: the versions it recorded are ours
    facts = json.loads((folder / "summary.json").read_text(encoding="utf-8"))["facts"]
    assert facts["version python"] == sys.version.split()[0]
    assert {k[8:]: v for k, v in facts.items() if k.startswith("version ")} == clv.report.versions()
    assert sys.executable not in (folder / "report.html").read_text(encoding="utf-8")


def test_html_has_every_section_and_no_code(published):
    _, folder = published
    page = (folder / "report.html").read_text(encoding="utf-8")
    for heading in SECTIONS_ZH:
        assert heading in page
    assert not [heading for heading in SECTIONS_EN if heading in page]  # one language
    assert "客户分级报告" in page
    # inputs are hidden: no code cell source and no input areas
    assert "clv.load_transactions(" not in page
    code_cells = re.findall(r'class="jp-Cell jp-CodeCell[^"]*"', page)
    notebook = nbformat.read(folder / "grading_report.ipynb", as_version=4)
    assert len(code_cells) == sum(c.cell_type == "code" for c in notebook.cells)
    assert all("jp-mod-noInput" in c for c in code_cells)
    assert "hl-ipython3" not in page  # no highlighted source anywhere
    assert page.count("<img") == 5  # the figure panels before migration and the fit check


def test_same_inputs_give_the_same_graded_table(published, tmp_path):
    _, folder = published
    again = run_period(_config(lang="zh"), reports_dir=tmp_path)
    first = (folder / "graded_customers.csv").read_bytes()
    assert (again / "graded_customers.csv").read_bytes() == first


def test_failing_cell_is_named_and_previous_report_kept(published):
    reports, folder = published
    before = (folder / "graded_customers.csv").read_bytes()
    bad = _config(lang="zh", scheme="no_such_scheme", calibration_end="")
    with pytest.raises(clv.report.ReportError) as err:
        run_period(bad, reports_dir=reports)
    message = str(err.value)
    assert "cell 'grade' failed: SchemeError" in message
    assert "no_such_scheme" in message
    assert (folder / "graded_customers.csv").read_bytes() == before
    assert (reports / ".failed" / "1998-06.ipynb").is_file()
    assert not [p for p in reports.iterdir() if p.name.startswith(".1998-06")]


# (what to wait for, seconds after it) for each kill of a real `clv report`:
# soon after start, while the notebook runs, and around the publish swap
KILL_INSTANTS = [
    ("start", 0.3),
    ("staging", 0.5),
    ("staging", 4.0),
    ("html", 0.0),
    ("html", 0.002),
    ("html", 0.01),
    ("html", 0.05),
]


def _wait_for(reports: Path, what: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        stagings = list(reports.glob(".staging-1998-06-*"))
        if what == "staging" and any((p / "grading_report.ipynb").exists() for p in stagings):
            return True
        if what == "html" and any((p / "report.html").exists() for p in stagings):
            return True
        time.sleep(0.001 if what == "html" else 0.05)
    return False


def _complete(folder: Path) -> bool:
    names = sorted(p.name for p in folder.iterdir())
    if names != sorted(FILES):
        return False
    html = (folder / "report.html").read_text(encoding="utf-8")
    json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    return html.rstrip().endswith("</html>")


@pytest.mark.slow
def test_killed_runs_leave_the_old_or_the_new_report(published):
    """Kill `clv report` (SIGKILL, whole process group) at many instants across
    a run, including around the publish swap; every time reports/1998-06 is
    the old report byte for byte or a complete new one, and the next run
    cleans every leftover."""
    reports, folder = published
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    command = [
        *(sys.executable, "-m", "clv.cli", "report", "--sample"),
        *("--period", "1998-06", "--observation-end", "1998-06-30"),
        *("--bootstrap", "20", "--lang", "zh", "--reports-dir", str(reports)),
        *("--calibration-end", "1997-09-30"),  # the same sections as the fixture's report
    ]
    outcomes = []
    for what, delay in KILL_INSTANTS:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            if what != "start":
                assert _wait_for(reports, what, time.monotonic() + 120), f"never reached {what}"
            time.sleep(delay)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        assert folder.is_dir(), f"no report after a kill at {what}+{delay}s"
        now = {p.name: p.read_bytes() for p in folder.iterdir()}
        if now == before:
            outcomes.append("old")
        else:
            assert _complete(folder), f"a partial report after a kill at {what}+{delay}s"
            outcomes.append("new")
            before = now
        assert (reports / "index.html").is_file()
    assert "old" in outcomes  # the kills did land before the swap
    # the next run publishes and removes what the killed runs left behind
    assert main([*command[3:]]) == 0
    leftovers = [p.name for p in reports.iterdir() if p.name.startswith((".staging", ".old"))]
    assert leftovers == []
    assert not list(reports.glob(".index*"))
    assert _complete(folder)


def test_range_compares_each_period_with_the_last(tmp_path, capsys):
    code = main(
        [
            "report",
            "--sample",
            "--start",
            "1998-05",
            "--end",
            "1998-06",
            "--every",
            "month",
            "--bootstrap",
            "20",
            "--reports-dir",
            str(tmp_path),
        ]
    )
    assert code == 0
    assert "index at" in capsys.readouterr().out
    may, june = tmp_path / "1998-05", tmp_path / "1998-06"
    graded = pl.read_parquet(june / "graded_customers.parquet")
    previous = pl.read_parquet(may / "graded_customers.parquet")
    assert graded["previous_tier"].null_count() == 0  # every June customer was graded in May
    joined = graded.join(previous, on="customer_id", suffix="_may")
    assert (joined["previous_tier"] == joined["tier_may"]).all()
    summary = json.loads((june / "summary.json").read_text(encoding="utf-8"))
    moves = summary["headline"]["migration"]
    assert moves["up"] + moves["down"] + moves["same"] == graded.height
    assert summary["facts"]["parameter calibration_end"] == "1998-05-31"
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "1998-05/report.html" in index and "1998-06/report.html" in index
    assert "Movement since the last period" in (june / "report.html").read_text(encoding="utf-8")


def test_period_ends():
    assert period_ends("1997-06", "1998-06", "quarter") == [
        dt.date(1997, 6, 30),
        dt.date(1997, 9, 30),
        dt.date(1997, 12, 31),
        dt.date(1998, 3, 31),
        dt.date(1998, 6, 30),
    ]
    assert period_ends("1997-05", "1997-07", "month") == [
        dt.date(1997, 5, 31),
        dt.date(1997, 6, 30),
        dt.date(1997, 7, 31),
    ]
    assert period_ends("1997-05", "1997-05", "quarter") == [dt.date(1997, 6, 30)]
    with pytest.raises(ValueError, match="every"):
        period_ends("1997-05", "1997-07", "week")


@pytest.mark.parametrize("period", ["../escape", "a/b", "", ".hidden"])
def test_period_cannot_escape_the_reports_folder(period):
    with pytest.raises(ValueError, match="period"):
        _config(period=period)


def test_cli_names_missing_arguments(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--data", "x.csv"])
    assert "--start and --end" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", "--data", "x.csv", "--period", "p"])
    assert "--observation-end" in capsys.readouterr().err


def test_bad_data_fails_before_a_kernel_starts(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,date,amount\n1,1998-01-01,-5\n", encoding="utf-8")
    started = time.process_time()
    code = main(
        [
            *("report", "--data", str(bad), "--period", "x"),
            *("--observation-end", "1998-06-30", "--reports-dir", str(tmp_path / "reports")),
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "negative amounts" in err and "cell" not in err  # no notebook was run
    assert not (tmp_path / "reports").exists()
    assert time.process_time() - started < 30  # no kernel; see benchmarks/startup.py


def _failing_template(folder: Path) -> Path:
    """A small report template that fails for one period (1998-05)."""
    nb = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell('period = ""\noutput_dir = ""')
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [
        parameters,
        nbformat.v4.new_code_cell(
            'if period == "1998-05":\n    raise RuntimeError("no data for May")\nprint(period)'
        ),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = folder / "template.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_range_goes_on_after_a_failed_period(tmp_path, monkeypatch, capsys):
    import functools

    from clv.report import run as run_module

    template = _failing_template(tmp_path)
    monkeypatch.setattr(
        clv.report, "run_range", functools.partial(run_module.run_range, template=template)
    )
    reports = tmp_path / "reports"
    code = main(
        [
            *("report", "--sample", "--start", "1998-04", "--end", "1998-06"),
            *("--every", "month", "--reports-dir", str(reports)),
        ]
    )
    assert code == 1
    out, err = capsys.readouterr()
    assert re.search(r"1998-04\s+published", out) and re.search(r"1998-06\s+published", out)
    assert re.search(r"1998-05\s+FAILED .*no data for May", out)
    assert "1 of 3 periods failed" in err
    assert (reports / "1998-04" / "report.html").is_file()
    assert (reports / "1998-06" / "report.html").is_file()
    assert not (reports / "1998-05").exists()


def test_a_failed_backtest_still_publishes_the_report(tmp_path):
    # every customer buys once before the calibration end and again after it:
    # the back-test's calibration fit has no repeat buyer, the period's fit has
    rows = []
    for i in range(400):
        rows.append(f"c{i},2020-01-{1 + i % 28:02d},{10 + i % 7}")
        rows.append(f"c{i},2020-{3 + i % 4:02d}-{1 + i % 28:02d},{12 + i % 5}")
        if i % 3 == 0:
            rows.append(f"c{i},2020-06-{1 + i % 28:02d},{9 + i % 4}")
    log = tmp_path / "log.csv"
    log.write_text("customer_id,date,amount\n" + "\n".join(rows) + "\n", encoding="utf-8")
    folder = run_period(
        _config(
            data_path=str(log),
            period="2020-06",
            observation_end="2020-06-30",
            calibration_end="2020-01-31",
            n_bootstrap=20,
            sufficiency_gate=False,  # 400 customers: below the minimum, predicted anyway
        ),
        reports_dir=tmp_path / "reports",
    )
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "This section could not be computed: back-test" in page
    assert "repeat purchase" in page
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert [f["section"] for f in summary["failed_sections"]] == ["back-test"]
    assert pl.read_parquet(folder / "graded_customers.parquet").height == 400


def test_outputs_never_written_outside_a_run(tmp_path):
    with pytest.raises(clv.report.ReportError, match="does not exist"):
        clv.report.save_outputs(
            Path(tmp_path) / "missing",
            graded=None,
            grading=None,
            purchase=None,
            spend=None,
            facts=None,
        )


def test_no_model_still_renders_a_report_with_a_warning(tmp_path):
    log = tmp_path / "one_time.csv"
    rows = [f"c{i},2020-01-{i + 1:02d},{i + 1}" for i in range(25)]
    log.write_text("customer_id,date,amount\n" + "\n".join(rows) + "\n", encoding="utf-8")
    reports = tmp_path / "reports"
    folder = run_period(
        _config(
            data_path=str(log),
            period="p1",
            observation_end="2020-03-31",
            calibration_end="",
            sufficiency_gate=False,  # too little data: predicted anyway, to show the failure
        ),
        reports_dir=reports,
    )
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "Warning: no purchase model could be fitted" in page
    assert "none of the 25 customers has a repeat purchase" in page
    assert "Skipped: no purchase model could be fitted" in page
    assert not (folder / "graded_customers.csv").exists()
    assert "no grading" in (reports / "index.html").read_text(encoding="utf-8")


def test_fallback_is_visible_and_inputs_are_not_modified(tmp_path):
    # 30 simulated customers: plain BG/NBD runs off to the boundary, a penalty fixes it
    log = tmp_path / "small.csv"
    clv.simulate_transactions(30, r=0.5, alpha=5, a=0.5, b=5, seed=1).write_csv(log)
    before = (log.read_bytes(), log.stat().st_mtime_ns)
    folder = run_period(
        _config(
            data_path=str(log),
            period="small",
            observation_end="2025-06-29",
            calibration_end="",
            model="bgnbd",
            sufficiency_gate=False,  # 30 customers: predicted anyway, to show the fallback
        ),
        reports_dir=tmp_path / "reports",
    )
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "Fallback used" in page and "penalizer 0.001" in page
    assert (log.read_bytes(), log.stat().st_mtime_ns) == before
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["facts"]["data sha256"] == _sha256(log)


def test_parameters_cannot_run_code(tmp_path):
    marker = tmp_path / "pwned"
    hostile = f'x.csv"\nopen("{marker}", "w").write("x")\n#'
    with pytest.raises(clv.report.ReportError, match="cell 'load' failed"):
        run_period(_config(data_path=hostile, calibration_end=""), reports_dir=tmp_path / "r")
    assert not marker.exists()


def test_programme_sections_render_on_the_synthetic_data(tmp_path):
    folder = run_period(
        _config(
            data_path="data/synthetic/transactions.csv",
            period="members",
            observation_end="2025-06-29",
            calibration_end="",
            points_events="data/programmes/member_events.csv",
            points_redemptions="data/programmes/member_redemptions.csv",
            accounts_path="data/programmes/b2b_accounts.csv",
            currency="CNY",
            margin=0.3,
        ),
        reports_dir=tmp_path,
    )
    page = (folder / "report.html").read_text(encoding="utf-8")
    # the points liability: held now, redeemed and expired over the horizon, in yuan
    assert "Points owed:" in page and "to expire unredeemed (breakage)" in page
    assert "points held, in yuan (100 points = 1 yuan)" in page
    # the documents' value x loyalty grid
    assert "Value and loyalty:" in page and "high value" in page and "loyal" in page
    # value as profit, in money
    assert "expected gross profit at a 30% margin" in page
    assert "mean predicted value (CNY)" in page and "threshold (CNY)" in page
    facts = json.loads((folder / "summary.json").read_text(encoding="utf-8"))["facts"]
    assert facts["currency"] == "CNY" and facts["parameter margin"] == 0.3
    assert "7. Rule-based programmes against the evidence" in page
    assert "over-graded" in page and "points earned" in page and "points expired" in page
    assert "unknown event type" in page  # the deliberately invalid event, counted
    assert "visits per year" in page  # the scorecard's grades with their plans


HOSTILE = {  # English tier name -> a hostile one, as TOML text
    '"Diamond"': '"[VIP](javascript:alert(1))"',
    '"Platinum"': '"<script>alert(2)</script>"',
    '"Gold"': """'=HYPERLINK("http://x")'""",
    '"Silver"': '"$a^2$ <img src=x onerror=alert(3)>"',
}


def test_hostile_names_are_plain_text_everywhere(tmp_path):
    """A scheme whose tier names are a Markdown link, HTML, a spreadsheet
    formula and math, and a customer id that is a formula: the page shows
    them as text, the CSV neutralises them, Parquet keeps them."""
    text = (PROJECT_ROOT / "src/clv/schemes/five_card.toml").read_text(encoding="utf-8")
    for name, hostile in HOSTILE.items():
        text = text.replace(f"en = {name}", f"en = {hostile}", 1)
    scheme = tmp_path / "hostile.toml"
    scheme.write_text(text, encoding="utf-8")
    log = tmp_path / "log.csv"
    sample = (PROJECT_ROOT / "data/cdnow/CDNOW_sample.csv").read_bytes()
    log.write_bytes(sample.replace(b"\n00004,", b"\n=1+2,", 1))
    folder = run_period(
        _config(
            data_path=str(log), scheme=str(scheme), calibration_end="", n_bootstrap=20, ladder=""
        ),
        reports_dir=tmp_path / "reports",
    )
    page = (folder / "report.html").read_text(encoding="utf-8")
    links = re.findall(r"href=[\"']([^\"']*)", page.split("<body", 1)[1])
    assert all(link.startswith("#") for link in links), links  # only the section anchors
    assert "<script" not in page.lower()  # self-contained and script-free
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page  # shown as text
    assert not re.search(r"(src|href)=[\"']https?://", page)
    assert "MathJax" not in page and 'class="math' not in page
    csv_text = (folder / "graded_customers.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in csv_text and ",=HYPERLINK" not in csv_text
    assert "\n'=1+2," in csv_text  # a customer id that is a formula, neutralised
    graded = pl.read_parquet(folder / "graded_customers.parquet")
    assert "=1+2" in graded["customer_id"].to_list()  # Parquet keeps the value


def _tiny_log(tmp_path: Path) -> Path:
    """120 simulated customers (below the 500 a forecast needs) spending a few
    yuan an order, one of whom spends 1,500 in the last year: the only Silver
    card on the five-card ladder (1,000 a year)."""
    log = tmp_path / "tiny.csv"
    tx = clv.simulate_transactions(120, r=0.8, alpha=4, a=0.6, b=3, seed=3).with_columns(
        pl.col("amount") / 100
    )
    big = pl.DataFrame(
        {"customer_id": [tx["customer_id"][0]], "date": [dt.date(2025, 5, 2)], "amount": [1500.0]},
        schema=tx.schema,
    )
    pl.concat([tx, big]).write_csv(log)
    return log


def _tiny_run(tmp_path: Path, **changes) -> tuple[Path, Path]:
    """The tiny log's report for June 2025: (log, report folder)."""
    log = _tiny_log(tmp_path)
    values = {"period": "tiny", "observation_end": "2025-06-29", "n_bootstrap": 20}
    config = _config(data_path=str(log), **{**values, **changes})
    return log, run_period(config, reports_dir=tmp_path / "reports")


def test_a_tiny_log_is_graded_by_the_rule_ladder_not_predicted(tmp_path):
    log, folder = _tiny_run(tmp_path, calibration_end="2025-03-31")
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "Too little data for reliable predictions" in page
    assert "customers: 120 (at least 500 needed)" in page
    assert "Graded by the rules, not by predicted value" in page
    assert "Left out: too little data for predictions" in page  # back-test and the rest
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    gate = summary["data_sufficiency"]
    assert gate["sufficient"] is False
    assert [c["check"] for c in gate["checks"] if not c["passed"]] == ["customers"]
    assert summary["graded_by"] == "rule_ladder"
    assert summary["purchase_model"] is None and summary["predictions"] is None
    assert summary["rule_grading"]["ladder"] == "ladder_five_card"
    graded = pl.read_parquet(folder / "graded_customers.parquet")
    assert "clv" not in graded.columns and "p_alive" not in graded.columns
    first = pl.read_csv(log, schema_overrides={"customer_id": pl.String})["customer_id"][0]
    by_tier = dict(graded.select("customer_id", "tier").rows())
    assert {c for c, t in by_tier.items() if t == "silver"} == {first}
    assert set(by_tier.values()) <= {"silver", "regular"}
    assert graded.height == graded["customer_id"].n_unique() == len(by_tier)


def test_the_gate_can_be_turned_off(tmp_path):
    _, folder = _tiny_run(tmp_path, calibration_end="", ladder="", sufficiency_gate=False)
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "Too little data for reliable predictions" in page
    assert "should not guide budgets" in page
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["graded_by"] == "clv"
    assert summary["purchase_model"]["model"] in {"bgnbd", "mbgnbd", "pareto_nbd"}


def test_the_sample_passes_the_sufficiency_gate(published):
    _, folder = published
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["data_sufficiency"]["sufficient"] is True
    assert "数据足以支持预测" in (folder / "report.html").read_text(encoding="utf-8")


def test_statistical_detail_lives_in_the_method_appendix(published):
    _, folder = published
    page = (folder / "report.html").read_text(encoding="utf-8")
    appendix = page.index("9. 方法附录")
    for detail in ("版本 polars", "Kruskal-Wallis", "购买模型（时间单位", "95% 区间下限"):
        assert page.index(detail) > appendix, detail
    facts = json.loads((folder / "summary.json").read_text(encoding="utf-8"))["facts"]
    assert "version polars" in facts and "parameter lang" in facts  # still recorded
