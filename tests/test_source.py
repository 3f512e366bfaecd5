"""Data sources (TOML), run configurations and id matching across runs."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from clv.migration import migrate
from clv.paths import PROJECT_ROOT
from clv.report import RunConfig
from clv.report.config import check_dates
from clv.source import DataSource, SourceError

SAMPLE = PROJECT_ROOT / "data" / "cdnow" / "CDNOW_sample.csv"


def test_source_toml_resolves_paths_against_its_folder(tmp_path, monkeypatch):
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "shop.toml").write_text(
        'path = "exports/orders.csv"\ncustomer_id = "客户编号"\nencoding = "gbk"\n'
        'thousands = ","\ncurrency = "CNY"\n\n[points_events]\npath = "points.csv"\n'
        'date_format = "%d/%m/%Y"\n\n[accounts]\npath = "/abs/accounts.csv"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)  # not the TOML's folder
    source = DataSource.from_toml("shop/shop.toml")
    assert source.path == str((folder / "exports/orders.csv").resolve())
    assert source.options == {"customer_id": "客户编号", "encoding": "gbk", "thousands": ","}
    assert source.currency == "CNY"
    assert source.points_events.path == str(folder.resolve() / "points.csv")
    assert source.points_events.options == {"date_format": "%d/%m/%Y"}
    assert source.accounts.path == "/abs/accounts.csv"


def test_command_line_options_win_over_the_file(tmp_path):
    (tmp_path / "s.toml").write_text('path = "o.csv"\nencoding = "gbk"\nseparator = ";"\n')
    source = DataSource.from_toml(tmp_path / "s.toml").with_overrides(
        {"encoding": "gb18030"}, "USD"
    )
    assert source.options == {"encoding": "gb18030", "separator": ";"}
    assert source.currency == "USD"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('encoding = "gbk"\n', "'path' is missing"),
        ('path = "o.csv"\ncustomer_ud = "id"\n', "did you mean 'customer_id'"),
        ('path = "o.csv"\ndecimal = ";"\n', "decimal = ';'; use one of"),
        ('path = "o.csv"\nseparator = "||"\n', "one character"),
        ('path = "o.csv"\nduplicates = "ignore"\n', "duplicates = 'ignore'"),
        ('path = "o.csv"\nencoding = true\n', "must be text"),
        ('path = "o.csv"\ncurrency = 5\n', "currency = 5 must be text"),
        ("path = 3\n", "give a file path as text"),
        ('path = "o.csv"\n[accounts]\nencoding = "gbk"\n', "[accounts]: 'path' is missing"),
        ('path = "o.csv"\n[accounts]\npath = "a.csv"\ndate = "x"\n', "unknown key 'date'"),
        ('path = "o.csv"\ncustomer_id = "  "\n', "give the column's name"),
        ("path = 'o.csv\n", "not valid UTF-8 TOML"),
    ],
)
def test_bad_source_files_name_the_key(tmp_path, text, words):
    (tmp_path / "s.toml").write_text(text, encoding="utf-8")
    with pytest.raises(SourceError) as err:
        DataSource.from_toml(tmp_path / "s.toml")
    assert words in str(err.value)


def test_missing_source_file_names_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SourceError, match=r"not found .*working directory"):
        DataSource.from_toml("nope.toml")


def test_source_loads_with_its_options(tmp_path):
    path = tmp_path / "o.csv"
    path.write_bytes("编号;日期;金额\nA;2024-01-02;5\nA;2024-02-03;7\n".encode("gbk"))
    (tmp_path / "s.toml").write_text(
        'path = "o.csv"\ncustomer_id = "编号"\ndate = "日期"\namount = "金额"\n'
        'encoding = "gbk"\nseparator = ";"\n',
        encoding="utf-8",
    )
    tx = DataSource.from_toml(tmp_path / "s.toml").load(as_of="2030-01-01")
    assert tx.data["amount"].to_list() == [5.0, 7.0]


# -- RunConfig ----------------------------------------------------------------


def test_run_config_resolves_relative_paths_against_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = RunConfig(data_path="orders.csv", previous_graded="old/graded.parquet")
    assert config.data_path == str(tmp_path / "orders.csv")
    assert config.previous_graded == str(tmp_path / "old/graded.parquet")
    assert RunConfig().data_path == str(SAMPLE)  # empty: the bundled sample
    with pytest.raises(FileNotFoundError, match="current directory"):
        config.check_files()


def test_run_config_round_trips_through_the_notebook_namespace():
    config = RunConfig(
        data_path=str(SAMPLE), loader_options={"encoding": "utf8"}, currency="CNY", seed=3
    )
    namespace = {**config.parameters(), "output_dir": "", "unrelated": 1}
    assert RunConfig.from_namespace(namespace) == config


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"horizon_days": float("inf")}, "horizon_days=inf"),
        ({"horizon_days": 1e7}, "from 1"),
        ({"discount_rate_annual": float("nan")}, "discount_rate_annual=nan"),
        ({"n_bootstrap": 2.5}, "whole number"),
        ({"n_bootstrap": True}, "n_bootstrap=True"),
        ({"seed": -1}, "seed=-1"),
        ({"period": "index.html"}, "reserved"),
        ({"observation_end": "1998-02-30"}, "not a date"),
        ({"calibration_end": "1998-07-01"}, "not before observation_end"),
        ({"model": "bgbb"}, "model='bgbb'"),
        ({"loader_options": {"encodng": "gbk"}}, "did you mean 'encoding'"),
        ({"events_options": {"date_format": 5}}, "must be text"),
        ({"currency": "a very long currency label"}, "currency="),
    ],
)
def test_run_config_rejects_bad_values(changes, words):
    with pytest.raises(Exception) as err:
        RunConfig(**changes)
    assert isinstance(err.value, ValueError)
    assert words in str(err.value)


def test_dates_against_the_data():
    import datetime as dt

    first, last = dt.date(1997, 1, 1), dt.date(1998, 6, 30)
    check_dates(first, last, "1998-06-30", "1997-09-30")  # fine
    with pytest.raises(ValueError, match="before the first transaction"):
        check_dates(first, last, "1996-12-31")
    with pytest.raises(ValueError, match="days after the last transaction"):
        check_dates(first, last, "2001-01-01")
    with pytest.raises(ValueError, match="calibration window is empty"):
        check_dates(first, last, "1998-06-30", "1996-06-30")


# -- ids across runs ------------------------------------------------------------


def _graded(ids, ranks):
    return pl.DataFrame({"customer_id": ids, "tier_rank": ranks})


def test_migration_matches_ids_read_as_numbers_in_one_run():
    previous = _graded(["007", "012", "100"], [1, 2, 3])  # a CSV run: ids as text
    current = _graded(["7", "12", "100"], [2, 2, 1])  # a Parquet run: ids were numbers
    migration = migrate(previous, current)
    assert migration.ids_matched_without_leading_zeros == 2
    assert migration.counts() == {"up": 1, "down": 1, "same": 1, "new": 0, "left": 0}


def test_migration_refuses_ambiguous_ids():
    previous = _graded(["007", "12"], [1, 2])
    current = _graded(["7", "07", "12"], [1, 1, 2])
    with pytest.raises(ValueError, match="cannot be paired safely"):
        migrate(previous, current)


def test_migration_leaves_matching_ids_alone():
    migration = migrate(_graded(["a", "007"], [1, 2]), _graded(["a", "007", "7"], [1, 2, 3]))
    assert migration.ids_matched_without_leading_zeros == 0
    assert migration.counts()["new"] == 1


def test_numeric_ids_in_a_previous_table_are_text(tmp_path):
    from clv.report import read_graded

    path = tmp_path / "graded.parquet"
    pl.DataFrame({"customer_id": [7, 12], "tier_rank": [1, 2]}).write_parquet(path)
    assert read_graded(path)["customer_id"].to_list() == ["7", "12"]
    csv = tmp_path / "graded.csv"
    csv.write_text("customer_id,tier_rank,tier\n'=1+2,1,'+x\n007,2,b\n", encoding="utf-8-sig")
    table = read_graded(csv)
    assert table["customer_id"].to_list() == ["=1+2", "007"]
    assert table["tier"].to_list() == ["+x", "b"]
    assert Path(csv).is_file()


def test_the_report_says_when_ids_were_matched_by_their_digits():
    from clv import narrative

    migration = migrate(_graded(["007", "012"], [1, 2]), _graded(["7", "12"], [1, 2]))
    assert "2 customers had ids written differently" in narrative.migration(migration, "en")
    assert "已按数字匹配" in narrative.migration(migration, "zh")
    plain = migrate(_graded(["a"], [1]), _graded(["a"], [1]))
    assert "written differently" not in narrative.migration(plain, "en")
