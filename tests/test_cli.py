"""The ``clv`` command as users run it: from their own directory, with their
own files, options and mistakes. Every mistake here is answered before a
notebook kernel starts (none of these tests runs a report, except the README
example at the end)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from clv.cli import cli_advice, main
from clv.paths import PROJECT_ROOT

CLV = str(Path(sys.executable).with_name("clv"))
SAMPLE = PROJECT_ROOT / "data" / "cdnow" / "CDNOW_sample.csv"
ONE = ["report", "--period", "1998-06", "--observation-end", "1998-06-30"]
JUNE = ["--period", "2024-06", "--observation-end", "2024-06-30"]


def _run(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [CLV, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def _shop_csv(folder: Path) -> Path:
    """A shop's own export: Chinese headers, GBK, slashed dates, amounts with
    thousands separators; purchases drawn from known BG/NBD parameters."""
    import clv

    log = clv.simulate_transactions(
        400,
        r=0.8,
        alpha=4.0,
        a=0.6,
        b=3.0,
        gamma=150.0,
        start="2023-07-01",
        observation_days=365,
        seed=7,
    )
    rows = ["客户编号,下单日期,金额"]
    for customer, day, amount in log.select("customer_id", "date", "amount").iter_rows():
        rows.append(f'C{customer},{day:%Y/%m/%d},"{amount:,.2f}"')
    assert any(re.search(r'"\d{1,3},\d{3}\.', row) for row in rows)  # "1,289.15"
    path = folder / "orders.csv"
    path.write_bytes(("\n".join(rows) + "\n").encode("gbk"))
    return path


# -- the bad-options catalogue -------------------------------------------------
# (arguments after `clv report`, words the message must hold); exit status 1 or 2
BAD_OPTIONS = [
    (["--horizon-days", "1e7"], "--horizon-days"),
    (["--horizon-days", "inf"], "out of range"),
    (["--horizon-days", "nan"], "out of range"),
    (["--horizon-days", "0"], "out of range"),
    (["--discount-rate", "inf"], "--discount-rate"),
    (["--discount-rate", "-0.1"], "out of range"),
    (["--discount-rate", "ten"], "not a number"),
    (["--seed", "-1"], "--seed"),
    (["--bootstrap", "2.5"], "not a whole number"),
    (["--bootstrap", "1e9"], "out of range"),
    (["--observation-end", "30/06/1998"], "YYYY-MM-DD"),
    (["--calibration-end", "1998-13-01"], "YYYY-MM-DD"),
    (["--period", "index.html"], "reserved"),
    (["--period", "../elsewhere"], "period"),
    (["--period", ".hidden"], "period"),
    (["--lang", "fr"], "invalid choice"),
    (["--model", "bgbb"], "invalid choice"),
    (["--decimal", "x"], "decimal"),
    (["--separator", ";;"], "one character"),
    (["--duplicates", "ignore"], "duplicates"),
    (["--scheme", "no_such_scheme"], "no_such_scheme"),
    (["--ladder", "no_such_ladder"], "no_such_ladder"),
    (["--previous", "no/such/table.parquet"], "not found"),
    (["--points-events", "missing_events.csv"], "not found"),
    (["--calibration-end", "1990-01-31"], "calibration window is empty"),
    (["--calibration-end", "1998-07-31"], "not before observation_end"),
]


def _exit_code(args: list[str]) -> int:
    try:
        return main(args)
    except SystemExit as exit_:  # argparse's own checks exit with 2
        return int(exit_.code)


@pytest.mark.parametrize(("extra", "words"), BAD_OPTIONS, ids=lambda v: str(v))
def test_bad_option_is_named(extra, words, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["report", "--data", str(SAMPLE), "--reports-dir", str(tmp_path / "r")]
    if "--period" not in extra:
        args += ["--period", "1998-06"]
    if "--observation-end" not in extra:
        args += ["--observation-end", "1998-06-30"]
    assert _exit_code(args + extra) in (1, 2)
    err = capsys.readouterr().err
    assert words in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "r").exists()  # nothing written


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["report"], "give --data or --source"),
        (["report", "--data", "x.csv", "--source", "s.toml", *ONE[1:]], "not both"),
        (["report", "--data", "x.csv", "--period", "1998-06"], "give --observation-end"),
        (["report", "--data", "x.csv", "--start", "1998-06", "--end", "1997-01"], "after --end"),
        (["report", "--data", "x.csv", "--start", "2024-13", "--end", "2025-01"], "YYYY-MM"),
    ],
)
def test_missing_or_contradictory_arguments(args, words, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    assert words in capsys.readouterr().err


def test_observation_end_years_after_the_data(tmp_path, capsys):
    code = main(
        [
            "report",
            "--data",
            str(SAMPLE),
            "--period",
            "2031-01",
            "--observation-end",
            "2031-01-31",
            "--reports-dir",
            str(tmp_path),
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "days after the last transaction (1998-06-30)" in err
    assert "observation end near 1998-06-30" in err


# -- paths, like any command line tool ----------------------------------------


def test_relative_paths_are_read_against_the_current_directory(tmp_path):
    # the project root has data/cdnow/CDNOW_sample.csv; the user's folder does not
    result = _run(["report", "--data", "data/cdnow/CDNOW_sample.csv", *ONE[1:]], cwd=tmp_path)
    assert result.returncode == 1
    assert f"{tmp_path}/data/cdnow/CDNOW_sample.csv not found" in result.stderr
    assert "current directory" in result.stderr


def test_relative_scheme_file_is_found_in_the_current_directory(tmp_path, capsys, monkeypatch):
    scheme_text = (PROJECT_ROOT / "src/clv/schemes/five_card.toml").read_text(encoding="utf-8")
    (tmp_path / "my_scheme.toml").write_text(scheme_text.replace("[[tiers]]", "[[tierz]]", 1))
    monkeypatch.chdir(tmp_path)
    code = main(["report", "--data", str(SAMPLE), *ONE[1:], "--scheme", "my_scheme.toml"])
    assert code == 1
    assert "my_scheme.toml" in capsys.readouterr().err


# -- a shop's own file: the advice names the options ---------------------------


def test_a_shops_file_without_options_names_the_options(tmp_path):
    _shop_csv(tmp_path)
    result = _run(["report", "--data", "orders.csv", *JUNE], cwd=tmp_path)
    assert result.returncode == 1
    assert "--encoding gb18030" in result.stderr or "--encoding gbk" in result.stderr
    assert "Traceback" not in result.stderr


def test_column_advice_names_the_option(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("客户编号,下单日期,金额\nC1,2024-01-02,5\n", encoding="utf-8")
    result = _run(["report", "--data", "orders.csv", *JUNE], cwd=tmp_path)
    assert result.returncode == 1
    assert "pass customer_id=" in result.stderr
    assert "--id-column" in result.stderr


def test_cli_advice_maps_each_keyword():
    text = "pass encoding='gb18030'; or decimal=','; or date_format='%d/%m/%Y'; or as_of="
    mapped = cli_advice(text)
    assert "encoding='gb18030' (command line: --encoding gb18030)" in mapped
    assert "decimal=',' (command line: --decimal ,)" in mapped
    assert "(command line: --date-format %d/%m/%Y)" in mapped
    assert mapped.endswith("as_of=")  # no option for it: left as it is


def test_side_file_options_need_their_file(tmp_path, capsys):
    code = main(["report", "--data", str(SAMPLE), *ONE[1:], "--events-date-format", "%d/%m/%Y"])
    assert code == 1
    assert "--events-date-format given without the file" in capsys.readouterr().err


def test_data_source_toml_errors_name_the_key(tmp_path, capsys):
    (tmp_path / "shop.toml").write_text('path = "orders.csv"\nencodng = "gbk"\n')
    code = main(["report", "--source", str(tmp_path / "shop.toml"), *ONE[1:]])
    assert code == 1
    err = capsys.readouterr().err
    assert "unknown key 'encodng'" in err and "did you mean 'encoding'" in err
    (tmp_path / "shop.toml").write_text('path = "orders.csv"\nthousands = 1\n')
    assert main(["report", "--source", str(tmp_path / "shop.toml"), *ONE[1:]]) == 1
    assert "thousands = 1 must be text" in capsys.readouterr().err
    (tmp_path / "shop.toml").write_text('path = "orders.csv"\npoints_events = "e.csv"\n')
    assert main(["report", "--source", str(tmp_path / "shop.toml"), *ONE[1:]]) == 1
    assert "[points_events] must be a table" in capsys.readouterr().err


def test_help_is_fast_to_import():
    # `clv --help` must not import the models (statsmodels, lifetimes, matplotlib)
    code = (
        "import sys, clv.cli\n"
        "heavy = [m for m in ('statsmodels', 'lifetimes', 'matplotlib', 'polars', 'scipy')"
        " if m in sys.modules]\n"
        "print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]"
    assert _run(["--help"], cwd=PROJECT_ROOT).returncode == 0


# -- the README's own-data example, run as written ------------------------------


def _readme_command() -> list[str]:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- own-data example -->", 1)[1].split("```sh", 1)[1].split("```")[0]
    command = " ".join(line.rstrip("\\").strip() for line in block.strip().splitlines())
    import shlex

    return shlex.split(command)


def test_readme_own_data_example_works_as_written(tmp_path):
    _shop_csv(tmp_path)
    command = _readme_command()
    assert command[0] == "clv"
    result = _run([*command[1:], "--reports-dir", "reports"], cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = tmp_path / "reports" / "2024-06"
    graded = pl.read_parquet(folder / "graded_customers.parquet")
    assert graded["customer_id"].dtype == pl.String
    assert graded["customer_id"].str.starts_with("C").all()
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["facts"]["customers graded"] == graded.height > 300
    assert (tmp_path / "reports" / "index.html").is_file()
    assert "Traceback" not in result.stderr
    # a quiet terminal: the stages as they go, no kernel or library warnings
    assert "checking the data" in result.stderr and "grading 2024-06" in result.stderr
    assert "WARNING" not in result.stderr.upper() and "Warning:" not in result.stderr


def test_project_metadata_builds_without_deprecation_banners(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), "."],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    output = result.stdout + result.stderr
    assert "deprecated" not in output.lower() and "BuildBackendWarning" not in output
    assert list(tmp_path.glob("clv-*.whl"))


def test_make_lab_installs_jupyterlab_from_the_lab_extra():
    import tomllib

    meta = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert any(d.startswith("jupyterlab") for d in meta["project"]["optional-dependencies"]["lab"])
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    lab = makefile.split("\nlab:", 1)[1].split("\n\n", 1)[0]
    assert "'.[dev,lab]'" in lab and "jupyter lab notebooks/" in lab


def test_a_log_without_amounts_is_refused_with_the_option_then_graded_on_purchases(tmp_path):
    """A log without an amount column: the error names --amount-column '';
    with it, the period is graded on expected purchases."""
    source = pl.read_csv(PROJECT_ROOT / "data/cdnow/CDNOW_sample.csv", infer_schema=False)
    source.drop("amount").write_csv(tmp_path / "counts.csv")
    command = [sys.executable, "-m", "clv.cli", "report", "--data", "counts.csv"]
    command += ["--period", "1998-06", "--observation-end", "1998-06-30", "--bootstrap", "20"]
    command += ["--reports-dir", "reports"]
    refused = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert refused.returncode == 1
    assert "pass amount=None (command line: --amount-column '')" in refused.stderr
    graded = subprocess.run(
        [*command, "--amount-column", ""], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert graded.returncode == 0, graded.stderr[-3000:]
    summary = json.loads((tmp_path / "reports/1998-06/summary.json").read_text(encoding="utf-8"))
    assert summary["graded_on"] == "expected_purchases" and summary["failed_sections"] == []
    assert "spend_model" in summary["unavailable"]
