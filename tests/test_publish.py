"""Publishing: period labels, kill safety, leftovers, concurrent runs, OS errors, the index.

No notebook runs: report folders are built from a few small files.
"""

from __future__ import annotations

import errno
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

import clv.report.publish as pub
from clv.report.errors import ReportError
from clv.report.publish import (
    check_period_label,
    cleanup,
    discard,
    lock,
    prepare,
    publish,
    staging_dir,
    write_index,
)

FILES = ("report.html", "summary.json", "graded_customers.csv", "models.txt", "sub/notes.txt")
LEFTOVER = re.compile(r"^\.(staging-|old-|index-|index\.html\.tmp)|-old-\d+$")

# Children import only the publishing module (not the whole report package, which
# loads the modelling stack), so that each starts in about a tenth of a second.
PRELUDE = f"""
import os, sys, types
from pathlib import Path
import clv
package = types.ModuleType("clv.report")
package.__path__ = [{str(Path(pub.__file__).parent)!r}]
sys.modules["clv.report"] = package
import clv.report.publish as pub
FILES = {FILES!r}

def fill(folder, version):
    for name in FILES:
        path = Path(folder) / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(version * 4000, encoding="utf-8")
"""


def _child(body: str, *args: str, **kwargs) -> subprocess.Popen:
    code = PRELUDE + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, "-c", code, *args], **kwargs)


def _fill(folder: Path, version: str) -> None:
    for name in FILES:
        path = folder / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(version * 4000, encoding="utf-8")


def _version(folder: Path) -> str:
    """The one version every file of ``folder`` holds; fails on a mixed or partial folder."""
    assert folder.is_dir(), f"{folder} is missing"
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert names == sorted(FILES), f"{folder} holds {names}"
    contents = {(folder / name).read_text(encoding="utf-8") for name in FILES}
    assert len(contents) == 1, f"{folder} mixes versions"
    (content,) = contents
    assert content in ("A" * 4000, "B" * 4000), f"{folder} holds a partial file"
    return content[0]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if LEFTOVER.search(p.name))


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _can_exchange(folder: Path) -> bool:
    a, b = folder / "probe-a", folder / "probe-b"
    a.mkdir()
    b.mkdir()
    try:
        return pub._exchange(a, b)
    finally:
        a.rmdir()
        b.rmdir()


def _published(reports: Path, period: str, version: str = "A") -> Path:
    staging = staging_dir(reports, period)
    _fill(staging, version)
    publish(staging, reports / period)
    return reports / period


# --- period labels -----------------------------------------------------------------

BAD_LABELS = [
    ("index.html", "reserved"),
    ("INDEX.HTML", "reserved"),
    ("README.md", "reserved"),
    (".failed", "hidden"),
    (".hidden", "hidden"),
    ("..", "'..'"),
    ("a..b", "'..'"),
    ("a/b", "'/'"),
    ("a\\b", "not allowed"),
    ("a\x00b", "control character"),
    ("a\nb", "control character"),
    ("CON", "device name"),
    ("com1", "device name"),
    ("LPT9.x", "device name"),
    ("x" * 65, "more than 64"),
    ("report.json", "reserved"),
    ("table.csv", "reserved"),
    ("t.parquet", "reserved"),
    ("n.ipynb", "reserved"),
    ("notes.txt", "reserved"),
    ("a.lock", "reserved"),
    ("a.tmp", "reserved"),
    ("page.html", "reserved"),
    ("", "empty"),
    (" 2024", "not allowed"),
    ("2024 ", "not allowed"),
    ("-2024", "start with a letter or digit"),
    ("_x", "start with a letter or digit"),
    ("2024.", "ends with '.'"),
    ("2024-06é", "not allowed"),
]


@pytest.mark.parametrize(("label", "words"), BAD_LABELS)
def test_bad_period_labels_are_refused(label, words):
    with pytest.raises(ValueError) as caught:
        check_period_label(label)
    message = str(caught.value)
    assert words in message
    assert "period=" in message
    assert "letters, digits" in message and "'2024-06'" in message


@pytest.mark.parametrize(
    "label", ["2024-06", "1998-06", "Q1", "q1.2024", "p1", "members", "a", "x" * 64, "2024_h1"]
)
def test_good_period_labels_are_accepted(label):
    assert check_period_label(label) == label


def test_run_config_uses_the_label_check():
    from clv.report.config import RunConfig

    with pytest.raises(ValueError, match="reserved"):
        RunConfig(period="index.html", observation_end="1998-06-30")


def test_publish_refuses_a_reserved_target(tmp_path):
    staging = staging_dir(tmp_path, "2024-06")
    with pytest.raises(ValueError, match="reserved"):
        publish(staging, tmp_path / "index.html")
    assert staging.is_dir()


# --- staging and publishing --------------------------------------------------------


def test_staging_folder_is_unique_readable_and_recognisable(tmp_path):
    first, second = staging_dir(tmp_path, "2024-06"), staging_dir(tmp_path, "2024-06")
    assert first != second
    for folder in (first, second):
        assert folder.parent == tmp_path
        assert re.fullmatch(rf"\.staging-2024-06-{os.getpid()}-\w+", folder.name)
        assert folder.stat().st_mode & 0o777 == 0o755
    with pytest.raises(ValueError):
        staging_dir(tmp_path, "../x")


def test_publish_replaces_the_old_report_and_leaves_nothing(tmp_path):
    target = _published(tmp_path, "2024-06", "A")
    assert _version(target) == "A"
    staging = staging_dir(tmp_path, "2024-06")
    _fill(staging, "B")
    publish(staging, target)
    assert _version(target) == "B"
    assert not staging.exists()
    assert _leftovers(tmp_path) == []


def test_replace_dir_is_publish(tmp_path):
    target = _published(tmp_path, "2024-06", "A")
    staging = staging_dir(tmp_path, "2024-06")
    _fill(staging, "B")
    pub.replace_dir(staging, target)
    assert _version(target) == "B"


def test_publish_without_exchange_uses_two_renames(tmp_path, monkeypatch):
    target = _published(tmp_path, "2024-06", "A")
    monkeypatch.setattr(pub, "_exchange", lambda a, b: False)
    staging = staging_dir(tmp_path, "2024-06")
    _fill(staging, "B")
    publish(staging, target)
    assert _version(target) == "B"
    assert _leftovers(tmp_path) == []


def test_exchange_is_atomic_on_linux(tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("renameat2 is Linux only")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "f").write_text("a")
    (b / "f").write_text("b")
    if not pub._exchange(a, b):
        pytest.skip("this file system cannot exchange folders")
    assert (a / "f").read_text() == "b" and (b / "f").read_text() == "a"


def test_exchange_failure_other_than_unsupported_raises(tmp_path):
    if pub._renameat2 is None:
        pytest.skip("no renameat2")
    with pytest.raises(FileNotFoundError):
        pub._exchange(tmp_path / "missing", tmp_path / "also-missing")


def test_discard_never_raises(tmp_path):
    staging = staging_dir(tmp_path, "2024-06")
    _fill(staging, "A")
    discard(staging)
    discard(staging)
    assert not staging.exists()


# --- kills -------------------------------------------------------------------------

# The child pauses briefly at every line of the functions that move folders, so
# that the random kills land between any two of their steps, not only in the
# (much longer) writing of the files.
PUBLISH_LOOP = """
import time
reports = Path(sys.argv[1])
if sys.argv[2] == "fallback":
    pub._exchange = lambda a, b: False
target = reports / "2024-06"

STEPS = {"publish", "_exchange", "_set_aside", "_put_in_place", "_remove"}

def pause(frame, event, arg):
    if event == "line":
        time.sleep(0.0003)
    return pause

def trace(frame, event, arg):
    code = frame.f_code
    return pause if code.co_filename == pub.__file__ and code.co_name in STEPS else None

sys.settrace(trace)
print("ready", flush=True)
i = 0
while True:
    i += 1
    staging = pub.staging_dir(reports, "2024-06")
    fill(staging, "AB"[i % 2])
    pub.publish(staging, target)
"""


@pytest.mark.parametrize("mode", ["exchange", "fallback"])
def test_a_kill_at_any_instant_leaves_one_complete_report(tmp_path, mode):
    if mode == "exchange" and not _can_exchange(tmp_path):
        pytest.skip("this file system cannot exchange folders")
    reports = prepare(tmp_path / "reports")
    target = _published(reports, "2024-06", "A")
    chance = random.Random(20240601)
    seen = set()
    for _ in range(45):
        child = _child(
            PUBLISH_LOOP, str(reports), mode, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            assert child.stdout.readline() == b"ready\n", child.stderr.read().decode()
            time.sleep(chance.uniform(0.0, 0.04))
        finally:
            child.kill()
            child.wait()
            child.stdout.close()
            child.stderr.close()
        assert child.returncode == -signal.SIGKILL
        if mode == "exchange":  # never missing, not even before the clean-up
            seen.add(_version(target))
        cleanup(reports)
        seen.add(_version(target))
        assert _leftovers(reports) == []
    assert seen == {"A", "B"}  # the kills landed at different points of the loop
    write_index(reports)
    assert _leftovers(reports) == []


KILL_BETWEEN_RENAMES = """
reports = Path(sys.argv[1])
target = reports / "2024-06"
staging = pub.staging_dir(reports, "2024-06")
fill(staging, "B")
with pub.lock(reports):
    old = pub._set_aside(target)
    print(old.name, flush=True)
    os.kill(os.getpid(), 9)
"""


def test_a_kill_between_the_two_renames_is_recovered(tmp_path):
    reports = prepare(tmp_path)
    target = _published(reports, "2024-06", "A")
    child = _child(KILL_BETWEEN_RENAMES, str(reports), stdout=subprocess.PIPE)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    old = reports / out.decode().strip()
    assert old.name.startswith(f".old-2024-06-{child.pid}-")
    assert not target.exists() and old.is_dir()  # the state a kill there leaves
    assert _leftovers(reports)
    prepare(reports)
    assert _version(target) == "A"
    assert _leftovers(reports) == []


def test_recovery_keeps_a_report_that_arrived(tmp_path):
    reports = prepare(tmp_path)
    target = _published(reports, "2024-06", "B")
    old = reports / f".old-2024-06-{_dead_pid()}-abc123"
    old.mkdir()
    _fill(old, "A")
    cleanup(reports)
    assert _version(target) == "B"
    assert not old.exists()


def test_leftovers_of_earlier_versions_are_recovered(tmp_path):
    reports = prepare(tmp_path)
    old = reports / f".2024-06-old-{_dead_pid()}"
    old.mkdir()
    _fill(old, "A")
    (reports / ".index.html.tmp").write_text("partial")
    removed = cleanup(reports)
    assert _version(reports / "2024-06") == "A"
    assert reports / ".index.html.tmp" in removed
    assert _leftovers(reports) == []


def test_cleanup_spares_live_runs(tmp_path):
    reports = prepare(tmp_path)
    _published(reports, "2024-06", "A")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = _dead_pid()
        live = [
            staging_dir(reports, "2024-06"),  # this process
            reports / f".staging-2024-07-{sleeper.pid}-xyz",
            reports / f".old-2024-05-{sleeper.pid}-xyz",
            reports / f".index-{sleeper.pid}-xyz.tmp",
        ]
        gone = [
            reports / f".staging-2024-07-{dead}-xyz",
            reports / f".staging-2024-06-{dead}-q_1",
            reports / f".old-2024-06-{dead}-xyz",
            reports / f".index-{dead}-xyz.tmp",
            reports / ".staging-2024-08-99999999999999999999-xyz",  # no such process id
        ]
        for path in [*live[1:3], *gone[:3], gone[4]]:
            path.mkdir()
            _fill(path, "A")
        live[3].write_text("x")
        gone[3].write_text("x")
        keep = [reports / ".failed", reports / ".lock", reports / "notes"]
        keep[0].mkdir()
        keep[2].mkdir()
        removed = cleanup(reports)
        assert sorted(removed) == sorted(gone)
        assert all(p.exists() for p in live + keep)
        assert not any(p.exists() for p in gone)
        assert _version(reports / "2024-06") == "A"
        assert not (reports / "2024-05").exists()  # its old folder belongs to a live run
    finally:
        sleeper.kill()
        sleeper.wait()
    cleanup(reports)
    assert _leftovers(reports) == [live[0].name]
    assert _version(reports / "2024-05") == "A"  # put back once its run was gone


# --- concurrent runs ---------------------------------------------------------------

CONCURRENT_RUN = """
import json, time
reports, period, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
while not go.exists():
    time.sleep(0.001)
for round in range(5):
    pub.prepare(reports)
    staging = pub.staging_dir(reports, period)
    fill(staging, "AB"[round % 2])
    summary = {
        "facts": {"parameter observation_end": "2024-06-30"},
        "headline": {
            "customers": 1000 + round,
            "predicted_clv_total": 12345.6,
            "top_tier_share_customers": 0.1,
            "top_tier_share_clv": 0.5,
        },
    }
    (staging / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    pub.publish(staging, reports / period)
    pub.write_index(reports)
"""


def test_concurrent_runs_into_one_reports_folder(tmp_path):
    reports = tmp_path / "reports"
    go = tmp_path / "go"
    periods = [f"2024-{month:02d}" for month in range(1, 7)] + ["2024-06"]  # one twice
    children = [_child(CONCURRENT_RUN, str(reports), p, str(go)) for p in periods]
    time.sleep(0.5)
    go.touch()
    for child in children:
        assert child.wait(timeout=120) == 0
    index = (reports / "index.html").read_text(encoding="utf-8")
    for period in set(periods):
        assert (reports / period / "report.html").is_file()
        assert f"<a href='{period}/report.html'>{period}</a>" in index
    assert index.count("<tr><td><a") == len(set(periods))
    assert "1,004" in index
    assert _leftovers(reports) == []
    assert (reports / "index.html").stat().st_mode & 0o777 == 0o644


def test_lock_excludes_other_holders_and_is_reentrant(tmp_path):
    import fcntl

    reports = prepare(tmp_path)
    holding, release = threading.Event(), threading.Event()

    def hold():
        with lock(reports), lock(reports):  # re-entrant in one thread
            write_index(reports)  # takes the lock again: no deadlock
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(10)
        fd = os.open(reports / ".lock", os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    finally:
        release.set()
        thread.join()
    with lock(reports):
        pass


# --- operating-system errors -------------------------------------------------------


def test_a_file_where_the_reports_folder_should_be(tmp_path):
    blocker = tmp_path / "reports"
    blocker.write_text("not a folder")
    with pytest.raises(ReportError) as caught:
        prepare(blocker)
    message = str(caught.value)
    assert str(blocker) in message and "is a file, not a folder" in message
    assert "--reports-dir" in message
    with pytest.raises(ReportError, match="is a file, not a folder") as caught:
        prepare(blocker / "2024")
    assert str(blocker) in str(caught.value)
    with pytest.raises(ReportError, match="is a file, not a folder"):
        write_index(blocker)


def test_read_only_reports_folder(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; see the simulated errors below")
    reports = prepare(tmp_path / "reports")
    (reports / ".lock").unlink()
    reports.chmod(0o500)
    try:
        with pytest.raises(ReportError, match="permission denied") as caught:
            prepare(reports)
        assert str(reports) in str(caught.value)
    finally:
        reports.chmod(0o755)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "disk is full"),
        (PermissionError(errno.EACCES, "Permission denied"), "permission denied"),
        (OSError(errno.EROFS, "Read-only file system"), "read-only file system"),
        (OSError(errno.EIO, "Input/output error"), "Input/output error"),
    ],
)
def test_os_errors_become_report_errors(tmp_path, monkeypatch, error, words):
    reports = prepare(tmp_path / "reports")
    target = _published(reports, "2024-06", "A")
    write_index(reports)
    index_before = (reports / "index.html").read_bytes()

    def fail(*args, **kwargs):
        raise error

    with monkeypatch.context() as patch:
        patch.setattr(tempfile, "mkdtemp", fail)
        with pytest.raises(ReportError, match=words) as caught:
            staging_dir(reports, "2024-06")
        assert str(reports) in str(caught.value)

    staging = staging_dir(reports, "2024-06")
    _fill(staging, "B")
    with monkeypatch.context() as patch:
        patch.setattr(pub, "_exchange", fail)
        with pytest.raises(ReportError, match=words) as caught:
            publish(staging, target)
        assert str(reports) in str(caught.value) and "2024-06" in str(caught.value)
    assert _version(target) == "A" and _version(staging) == "B"

    with monkeypatch.context() as patch:  # two-rename path: the second rename fails
        patch.setattr(pub, "_exchange", lambda a, b: False)
        real_rename = os.rename

        def rename(source, destination):
            if Path(source) == staging:
                raise error
            real_rename(source, destination)

        patch.setattr(os, "rename", rename)
        with pytest.raises(ReportError, match=words):
            publish(staging, target)
    assert _version(target) == "A" and _version(staging) == "B"
    discard(staging)

    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", fail)
        with pytest.raises(ReportError, match=words) as caught:
            write_index(reports)
        assert str(reports) in str(caught.value)
    assert (reports / "index.html").read_bytes() == index_before

    with monkeypatch.context() as patch:
        patch.setattr(os, "open", fail)
        with pytest.raises(ReportError, match=words) as caught:
            prepare(reports)
        assert str(reports) in str(caught.value)
    assert _leftovers(reports) == []


# --- the index ---------------------------------------------------------------------


def _summary(folder: Path, summary: object) -> None:
    text = summary if isinstance(summary, str) else json.dumps(summary)
    (folder / "summary.json").write_text(text, encoding="utf-8")


def test_index_lists_reports_with_their_figures(tmp_path):
    reports = prepare(tmp_path)
    graded = _published(reports, "2024-06")
    _summary(
        graded,
        {
            "facts": {"parameter observation_end": "2024-06-30"},
            "headline": {
                "customers": 23570,
                "predicted_clv_total": 1234567.8,
                "top_tier_share_customers": 0.05,
                "top_tier_share_clv": 0.4,
                "backtest": {"clv": {"capture": 0.612, "missed": 0.1}},
                "migration": {"up": 1200, "down": 30},
            },
        },
    )
    (_published(reports, "2024-03") / "summary.json").unlink()
    for hidden in (".staging-2024-09-1-abc", ".failed"):
        (reports / hidden).mkdir()
        (reports / hidden / "report.html").write_text("x")
    page = write_index(reports).read_text(encoding="utf-8")
    assert "<title>Customer grading reports · 客户分级报告</title>" in page
    assert "<th>period 期间</th>" in page and "<th>table 表</th>" in page
    assert "<td>2024-06-30</td><td>23,570</td><td>1,234,568</td>" in page
    assert "<td>5.0% / 40.0%</td><td>61.2% / 10.0%</td><td>+1,200 / -30</td>" in page
    assert "<a href='2024-06/graded_customers.csv'>csv</a>" in page
    assert "no grading: no model could be fitted" in page
    assert page.index("2024-03/report.html") < page.index("2024-06/report.html")
    assert "2024-09" not in page and ".failed" not in page


def test_index_escapes_every_value(tmp_path):
    reports = prepare(tmp_path)
    evil = "<script>alert('x')</script>"
    _summary(
        _published(reports, "2024-06"),
        {
            "facts": {"parameter observation_end": evil},
            "headline": {
                "customers": evil,
                "predicted_clv_total": evil,
                "top_tier_share_customers": evil,
                "top_tier_share_clv": [evil],
                "backtest": {"clv": {"capture": evil, "missed": True}},
                "migration": {"up": evil, "down": {"x": evil}},
            },
        },
    )
    _summary(_published(reports, "2024-07"), {"facts": evil, "headline": {"backtest": evil}})
    _summary(_published(reports, "2024-08"), "{not json")
    _summary(_published(reports, "2024-09"), {"headline": {"backtest": {"clv": evil}}})
    _summary(_published(reports, "2024-10"), {"headline": {"migration": evil}})
    page = write_index(reports).read_text(encoding="utf-8")
    assert "<script" not in page
    assert page.count("&lt;script&gt;") >= 8
    assert page.count("summary.json is unreadable") == 2
    for period in ("2024-06", "2024-07", "2024-08", "2024-09", "2024-10"):
        assert f"{period}/report.html" in page


def test_index_is_replaced_atomically_with_a_readable_file(tmp_path):
    reports = prepare(tmp_path)
    _published(reports, "2024-06")
    first = write_index(reports)
    assert first == reports / "index.html"
    assert first.stat().st_mode & 0o777 == 0o644
    assert not (reports / ".index.html.tmp").exists()
    assert _leftovers(reports) == []
