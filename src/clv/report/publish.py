"""Publishing a finished report folder, and the index of every period.

A run prepares the reports folder (:func:`prepare`), builds its report in a
private staging folder beside the target (:func:`staging_dir`), and swaps it
into place (:func:`publish`); :func:`write_index` then rewrites
``reports/index.html``.

Guarantees:

- a process killed at any instant leaves either the old or the new complete
  report at ``reports/<period>``: on Linux the two folders are exchanged in
  one ``renameat2(RENAME_EXCHANGE)`` call; where that is unavailable the old
  folder is first renamed to ``.old-<period>-<pid>-<random>`` and the next
  run's :func:`prepare` puts it back if the new one never arrived;
- leftovers of killed runs (``.staging-*``, ``.old-*``, ``.index-*.tmp``)
  carry their owner's process id and are removed by the next run once that
  process is gone, never while it is alive;
- runs sharing a reports folder serialise the swap and the index write on an
  exclusive lock of ``reports/.lock``;
- operating-system failures (no permission, read-only or full disk, a file
  where a folder should be) become :class:`ReportError` naming the folder.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import html
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from clv.paths import REPORTS_DIR
from clv.report.errors import ReportError

try:  # POSIX only; elsewhere the lock is a no-op
    import fcntl
except ImportError:  # pragma: no cover - not on Linux
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "LOCK_NAME",
    "check_period_label",
    "cleanup",
    "discard",
    "lock",
    "prepare",
    "publish",
    "replace_dir",
    "staging_dir",
    "write_index",
]

LOCK_NAME = ".lock"

# --- period labels -----------------------------------------------------------------

_LABEL_MAX = 64
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", re.ASCII)
_RESERVED_NAMES = frozenset({"index.html", "readme.md", ".failed"})
_RESERVED_SUFFIXES = (
    ".html",
    ".json",
    ".md",
    ".csv",
    ".parquet",
    ".ipynb",
    ".txt",
    ".lock",
    ".tmp",
)
_DEVICE_NAMES = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)
_ALLOWED = (
    "a period label names the folder reports/<label>/: use 1 to 64 letters, digits, "
    "'-', '_' or '.', starting with a letter or digit, e.g. '2024-06'"
)


def _label_problem(label: object) -> str | None:
    """Why ``label`` cannot name a report folder, or None when it can."""
    if not isinstance(label, str):
        return f"it is a {type(label).__name__}, not text"
    if not label:
        return "it is empty"
    bad = [c for c in label if ord(c) < 32 or 127 <= ord(c) < 160]
    if bad:
        return f"it contains the control character {bad[0]!r}"
    if len(label) > _LABEL_MAX:
        return f"it is {len(label)} characters long, more than {_LABEL_MAX}"
    if label.startswith("."):
        if label.strip(".") == "":
            return f"{label!r} refers to a folder, not a name ('.' and '..' are not allowed)"
        return "it would be a hidden folder (it starts with '.')"
    if ".." in label:
        return "it contains '..'"
    for c in label:
        if not (c.isascii() and (c.isalnum() or c in "-_.")):
            return f"the character {c!r} is not allowed"
    if not _LABEL.fullmatch(label):
        return "it must start with a letter or digit"
    if label.endswith("."):
        return "it ends with '.'"
    lower = label.lower()
    if lower in _RESERVED_NAMES or lower.endswith(_RESERVED_SUFFIXES):
        return f"{label!r} is reserved for files of the reports folder"
    if lower.split(".", 1)[0] in _DEVICE_NAMES:
        return f"{label!r} is a reserved device name on Windows"
    return None


def check_period_label(label: str) -> str:
    """Return ``label`` if it can safely name ``reports/<label>/``.

    Allowed: 1 to 64 ASCII letters, digits, ``-``, ``_`` or ``.``, starting with
    a letter or digit, not ending with ``.``, without ``..``. Refused
    (case-insensitive): ``index.html``, ``README.md``, ``.failed``, names ending
    in ``.html``, ``.json``, ``.md``, ``.csv``, ``.parquet``, ``.ipynb``,
    ``.txt``, ``.lock`` or ``.tmp``, and Windows device names (CON, PRN, AUX,
    NUL, COM1-9, LPT1-9, also with an extension). Raises ValueError saying why
    and what is allowed.
    """
    problem = _label_problem(label)
    if problem is not None:
        raise ValueError(f"period={label!r} cannot be used: {problem}; {_ALLOWED}")
    return label


# --- operating-system errors -------------------------------------------------------


def _blocking_file(path: Path) -> Path | None:
    """The nearest of ``path`` and its parents that exists but is not a folder."""
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return None if candidate.is_dir() else candidate
    return None


def _report_error(exc: OSError, folder: Path, action: str) -> ReportError:
    """A :class:`ReportError` naming ``folder``, the cause and what to do."""
    code = exc.errno
    blocking = _blocking_file(folder)
    if blocking is not None or isinstance(exc, NotADirectoryError):
        where = blocking if blocking is not None else Path(exc.filename or folder)
        cause = f"{where} is a file, not a folder"
        todo = "move that file away or choose another reports folder (--reports-dir)"
    elif isinstance(exc, PermissionError) or code in (errno.EACCES, errno.EPERM):
        cause = "permission denied"
        todo = "make the folder writable for this user or choose another reports folder"
    elif code == errno.EROFS:
        cause = "the folder is on a read-only file system"
        todo = "choose a reports folder on a writable disk"
    elif code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        cause = "the disk is full (no space left on the device)"
        todo = "free some disk space or choose a reports folder on another disk, then run again"
    else:
        cause = exc.strerror or str(exc)
        todo = "check the folder and run again"
    return ReportError(
        f"cannot {action} in the reports folder {folder}: {cause}; {todo}; "
        "the previous report (if any) is unchanged"
    )


@contextlib.contextmanager
def _os_errors(folder: Path, action: str) -> Iterator[None]:
    """Turn an OSError raised inside into a :class:`ReportError`."""
    try:
        yield
    except OSError as exc:
        raise _report_error(exc, folder, action) from exc


# --- the lock ----------------------------------------------------------------------

_held: dict[tuple[int, int, str], list[int]] = {}  # (pid, thread, folder) -> [fd, depth]
_held_guard = threading.Lock()


@contextlib.contextmanager
def lock(reports_dir: Path = REPORTS_DIR) -> Iterator[None]:
    """Hold the exclusive lock of ``reports_dir`` (``flock`` on ``reports_dir/.lock``).

    Re-entrant within one thread; other threads and processes wait. Raises
    :class:`ReportError` when the lock file cannot be created (read-only
    folder, a file where the folder should be, ...).
    """
    folder = Path(reports_dir)
    key = (os.getpid(), threading.get_ident(), os.path.abspath(folder))
    with _held_guard:
        entry = _held.get(key)
        if entry is not None:
            entry[1] += 1
    if entry is not None:
        try:
            yield
        finally:
            with _held_guard:
                entry[1] -= 1
        return
    with _os_errors(folder, "open the lock file"):
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:  # a file system without locks: go on unlocked
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                    raise _report_error(exc, folder, "lock") from exc
        with _held_guard:
            _held[key] = entry = [fd, 1]
        try:
            yield
        finally:
            with _held_guard:
                del _held[key]
    finally:
        os.close(fd)  # releases the flock


# --- leftovers of killed runs ------------------------------------------------------

_RANDOM = r"[A-Za-z0-9_]+"
_STAGING = re.compile(rf"\.staging-(?P<period>.+)-(?P<pid>\d+)-{_RANDOM}")
_OLD = re.compile(rf"\.old-(?P<period>.+)-(?P<pid>\d+)-{_RANDOM}")
_OLD_LEGACY = re.compile(r"\.(?P<period>.+)-old-(?P<pid>\d+)")  # earlier versions' name
_INDEX_TEMP = re.compile(rf"\.index-(?P<pid>\d+)-{_RANDOM}\.tmp")
_INDEX_TEMP_LEGACY = ".index.html.tmp"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on this machine)."""
    if not 0 < pid < 2**31:  # not a process id
        return False
    if pid == os.getpid():
        return True
    if os.name == "nt":  # pragma: no cover - os.kill(pid, 0) would terminate it
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OSError:
        return True
    return True


def _remove(path: Path) -> None:
    """Remove a folder or file, whatever is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def cleanup(reports_dir: Path = REPORTS_DIR) -> list[Path]:
    """Tidy up after killed runs; return the paths removed or restored.

    Only entries whose owning process (the pid in the name) is gone are
    touched: staging folders ``.staging-<period>-<pid>-<random>`` and temporary
    index files ``.index-<pid>-<random>.tmp`` are removed; an old report
    ``.old-<period>-<pid>-<random>`` put aside by an interrupted two-rename
    publish is moved back to ``<period>`` when that is missing, and removed
    otherwise. Runs under the lock of ``reports_dir``.
    """
    folder = Path(reports_dir)
    touched: list[Path] = []
    with lock(folder), _os_errors(folder, "clean up"):
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            name, path = entry.name, Path(entry.path)
            if name == _INDEX_TEMP_LEGACY:
                _remove(path)
                touched.append(path)
                continue
            for pattern in (_STAGING, _INDEX_TEMP, _OLD, _OLD_LEGACY):
                match = pattern.fullmatch(name)
                if match is not None:
                    break
            else:
                continue
            if _alive(int(match["pid"])):
                continue
            if pattern in (_OLD, _OLD_LEGACY):
                target = folder / match["period"]
                if (
                    _label_problem(match["period"]) is None
                    and entry.is_dir(follow_symlinks=False)
                    and not os.path.lexists(target)
                ):
                    os.rename(path, target)  # the new report never arrived: restore
                    touched.append(target)
                    continue
            _remove(path)
            touched.append(path)
    return touched


# --- preparing, staging, publishing ------------------------------------------------


def prepare(reports_dir: Path = REPORTS_DIR) -> Path:
    """Create ``reports_dir`` if needed, check it is writable, clean leftovers of
    killed runs (:func:`cleanup`) and return it as a Path.

    Raises :class:`ReportError` when the folder cannot be created or written.
    """
    folder = Path(reports_dir)
    blocking = _blocking_file(folder)
    if blocking is not None:
        raise _report_error(NotADirectoryError(errno.ENOTDIR, "not a folder"), folder, "write")
    with _os_errors(folder, "create the folder"):
        folder.mkdir(parents=True, exist_ok=True)
    cleanup(folder)  # opens .lock for writing: a read-only folder fails here
    return folder


def staging_dir(reports_dir: Path, period: str) -> Path:
    """Create and return an empty staging folder for ``period`` in ``reports_dir``.

    Its name is ``.staging-<period>-<pid>-<random>`` (unique, hidden, skipped by
    the index); its mode is 0o755 so the published report is readable.
    Raises ValueError for a bad label, :class:`ReportError` for OS failures.
    """
    check_period_label(period)
    folder = Path(reports_dir)
    with _os_errors(folder, "create a staging folder"):
        staging = Path(tempfile.mkdtemp(prefix=f".staging-{period}-{os.getpid()}-", dir=folder))
        staging.chmod(0o755)  # mkdtemp makes it private
    return staging


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_renameat2 = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        _renameat2 = _libc.renameat2
        _renameat2.argtypes = [
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_uint,
        ]
        _renameat2.restype = ctypes.c_int
    except (OSError, AttributeError):  # no libc found, or glibc older than 2.28
        _renameat2 = None


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap the entries ``a`` and ``b``; False where the system or file
    system cannot (then nothing changed). Other failures raise OSError."""
    if _renameat2 is None:
        return False
    result = _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def _old_name(target: Path) -> Path:
    """A fresh name to put the old report aside under (two-rename publishing)."""
    while True:
        old = target.with_name(f".old-{target.name}-{os.getpid()}-{os.urandom(4).hex()}")
        if not os.path.lexists(old):
            return old


def _set_aside(target: Path) -> Path:
    """First step of two-rename publishing: move ``target`` to an ``.old-`` name."""
    old = _old_name(target)
    os.rename(target, old)
    return old


def _put_in_place(staging: Path, target: Path, old: Path) -> None:
    """Second step of two-rename publishing; on failure the old report goes back."""
    try:
        os.rename(staging, target)
    except OSError:
        with contextlib.suppress(OSError):
            os.rename(old, target)
        raise


def publish(staging: Path, target: Path) -> None:
    """Make the complete folder ``staging`` the report at ``target``.

    ``staging`` must sit in the same folder as ``target`` (as
    :func:`staging_dir` makes it). A previous report is swapped out atomically
    (Linux ``renameat2`` exchange; elsewhere two renames that the next
    :func:`cleanup` completes if interrupted) and then removed. Holds the lock
    of the reports folder. Afterwards ``staging`` no longer exists (unless
    removing the swapped-out report failed; :func:`cleanup` removes it later).
    Raises ValueError for a bad target name, :class:`ReportError` for OS
    failures, leaving the previous report in place.
    """
    staging, target = Path(staging), Path(target)
    check_period_label(target.name)
    folder = target.parent
    if os.path.abspath(staging.parent) != os.path.abspath(folder):
        raise ValueError(f"staging folder {staging} is not beside the target {target}")
    with lock(folder), _os_errors(folder, f"publish the report {target.name}"):
        if not os.path.lexists(target):
            os.rename(staging, target)
            return
        if _exchange(staging, target):
            _remove(staging)  # now the previous report
            return
        old = _set_aside(target)
        _put_in_place(staging, target, old)
        _remove(old)


def replace_dir(staging: Path, target: Path) -> None:
    """Former name of :func:`publish`."""
    publish(staging, target)


def discard(staging: Path) -> None:
    """Remove a staging folder that will not be published (never raises)."""
    shutil.rmtree(staging, ignore_errors=True)


# --- the index ---------------------------------------------------------------------


def _text(value: object) -> str:
    """Any value from summary.json as escaped HTML text."""
    return html.escape("" if value is None else str(value))


def _number(value: object, spec: str) -> str:
    """A number formatted with ``spec`` and escaped; anything else escaped as text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return html.escape(format(value, spec))
        except (ValueError, TypeError, OverflowError):
            pass
    return _text(value)


def _row(period: str, summary_file: Path) -> str:
    """One row of the index for ``period``."""
    href = html.escape(urllib.parse.quote(period))
    link = f"<a href='{href}/report.html'>{html.escape(period)}</a>"
    if not summary_file.is_file():  # the report rendered, but nothing could be graded
        return (
            f"<tr><td>{link}</td><td colspan='7' style='text-align:left'>"
            "no grading: no model could be fitted, see the report · "
            "无法分级，详见报告</td></tr>"
        )
    try:
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
        facts = summary.get("facts") or {}
        head = summary["headline"]
        if not isinstance(facts, dict) or not isinstance(head, dict):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return (
            f"<tr><td>{link}</td><td colspan='7' style='text-align:left'>"
            "summary.json is unreadable, see the report · 摘要无法读取，详见报告</td></tr>"
        )
    backtest = head.get("backtest")
    bt = backtest.get("clv") if isinstance(backtest, dict) else None
    mig = head.get("migration")
    if isinstance(bt, dict):
        bt_text = f"{_number(bt.get('capture'), '.1%')} / {_number(bt.get('missed'), '.1%')}"
    else:
        bt_text = "-" if not bt else _text(bt)
    if isinstance(mig, dict):
        mig_text = f"+{_number(mig.get('up'), ',')} / -{_number(mig.get('down'), ',')}"
    else:
        mig_text = "-" if not mig else _text(mig)
    top = (
        f"{_number(head.get('top_tier_share_customers'), '.1%')} / "
        f"{_number(head.get('top_tier_share_clv'), '.1%')}"
    )
    return (
        "<tr>"
        f"<td>{link}</td>"
        f"<td>{_text(facts.get('parameter observation_end', ''))}</td>"
        f"<td>{_number(head.get('customers'), ',')}</td>"
        f"<td>{_number(head.get('predicted_clv_total'), ',.0f')}</td>"
        f"<td>{top}</td>"
        f"<td>{bt_text}</td>"
        f"<td>{mig_text}</td>"
        f"<td><a href='{href}/graded_customers.csv'>csv</a></td>"
        "</tr>"
    )


def write_index(reports_dir: Path = REPORTS_DIR) -> Path:
    """Write ``reports_dir/index.html`` listing every period's report with its
    headline figures.

    Atomic (a uniquely named temporary file replaces the index) and under the
    lock of ``reports_dir``; every value from ``summary.json`` is HTML-escaped.
    Raises :class:`ReportError` for OS failures (the old index then stays).
    """
    folder = Path(reports_dir)
    target = folder / "index.html"
    with lock(folder), _os_errors(folder, "write index.html"):
        rows = []
        for page_file in sorted(folder.glob("*/report.html")):
            period = page_file.parent.name
            if _label_problem(period) is not None:  # hidden, staging or reserved names
                continue
            rows.append(_row(period, page_file.parent / "summary.json"))
        page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Customer grading reports · 客户分级报告</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border-bottom:1px solid #ddd;padding:.4em .8em;text-align:right}}td{{white-space:nowrap}}
td:first-child,th:first-child{{text-align:left}}</style></head><body>
<h1>Customer grading reports · 客户分级报告</h1>
<table><thead><tr><th>period 期间</th><th>data up to 截止</th><th>customers 客户</th>
<th>predicted CLV 预测价值</th><th>top tier: customers / value 最高等级：客户/价值</th>
<th>back-test: capture / missed 回测：捕获/遗漏</th><th>moved up / down 升级/降级</th>
<th>table 表</th></tr></thead><tbody>
{"".join(rows)}
</tbody></table></body></html>
"""
        fd, name = tempfile.mkstemp(prefix=f".index-{os.getpid()}-", suffix=".tmp", dir=folder)
        temporary = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                stream.write(page)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, 0o644)  # mkstemp makes it private; the index is read by others
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
    return target
