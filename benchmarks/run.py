"""Time each stage of a grading run, clv against the plain lifetimes path.

    .venv/bin/python benchmarks/run.py                      # all sizes (make bench)
    .venv/bin/python benchmarks/run.py --sizes 10m --stages summary fit_bgnbd \
        fit_gamma_gamma fit_pareto_nbd score grade_bootstrap core lt_core report
    .venv/bin/python benchmarks/run.py --sizes 100k --repeat 1 --out /tmp/r.md   # smoke

Each stage runs in a fresh child process that first prepares its inputs from
a cache (untimed), then times the stage alone: wall seconds, CPU seconds
(user + system of the process and of the processes it waited for, so every
thread and the report's kernel count), the process's peak resident memory
(which includes the interpreter and imports: see the ``baseline`` row) and
the machine's load average (``os.getloadavg()``, one minute) when the stage
started, since the machine may be shared. ``core`` and ``lt_core`` time the
whole core path (summary, BG/NBD and Gamma-Gamma fits, scoring) in one
process, clv's and plain lifetimes'. A stage that runs past ``--timeout``
seconds is recorded as not finished. Writes ``benchmarks/RESULTS.md``
(machine, versions, command, table of medians and the ratios of the core
path), ``RESULTS.json`` (every run) and ``benchmarks/scaling.png`` (time
against transactions, log-log), or the same names beside ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import dill as pickle  # lifetimes depends on dill; its fitters hold lambdas

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402  (the sibling script)

CACHE = generate.DATA / "cache"
CLV_STAGES = [
    "baseline",
    "load",
    "summary",
    "summary_streaming",
    "cal_holdout",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_pareto_nbd",
    "score",
    "grade_bootstrap",
    "core",
    "report",
]
LIFETIMES_STAGES = [
    "lt_summary",
    "lt_fit_bgnbd",
    "lt_fit_gamma_gamma",
    "lt_fit_pareto_nbd",
    "lt_score",
    "lt_core",
]
CORE = {
    "summary": "lt_summary",
    "fit_bgnbd": "lt_fit_bgnbd",
    "fit_gamma_gamma": "lt_fit_gamma_gamma",
    "score": "lt_score",
}


# ---------------------------------------------------------------------------
# the child: prepare, time one stage, report


def _cache(label: str) -> Path:
    return CACHE / label


def _prepare(label: str, fresh: bool = False) -> None:
    """Build the cached inputs of every stage for one size (untimed); with
    ``fresh``, build them again with the code as it is now."""
    import shutil

    import clv

    folder = _cache(label)
    if fresh and folder.exists():
        shutil.rmtree(folder)
    if (folder / "models.pkl").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    tx = clv.load_transactions(generate.path_for(label))
    summary = clv.summarize(tx, freq="D", time_unit="W", observation_end=generate.OBSERVATION_END)
    summary.write_parquet(folder / "summary.parquet")
    purchase = clv.fit_purchase_model(summary)
    spend = clv.fit_spend_model(summary)
    clv.score(summary, purchase, spend).write_parquet(folder / "scores.parquet")
    with (folder / "models.pkl").open("wb") as handle:
        pickle.dump((purchase, spend), handle)


def _lifetimes_score(bg, spend_params: dict, summary, x, t_x, T) -> None:
    """Plain lifetimes scoring: expected purchases, P(alive) and CLV over a year."""
    import pandas as pd
    from lifetimes import GammaGammaFitter

    gg = GammaGammaFitter()
    gg.params_ = pd.Series(
        {"p": spend_params["p"], "q": spend_params["q"], "v": spend_params["gamma"]}
    )
    bg.conditional_expected_number_of_purchases_up_to_time(52.0, x, t_x, T)
    bg.conditional_probability_alive(x, t_x, T)
    gg.customer_lifetime_value(
        bg,
        summary["frequency"],
        summary["recency"],
        summary["T"],
        summary["monetary_value"],
        time=12,
        discount_rate=0.01,
        freq="W",
    )


def _child(stage: str, label: str) -> dict:
    import numpy as np
    import polars as pl

    import clv

    path = generate.path_for(label)
    folder = _cache(label)
    summary = pl.read_parquet(folder / "summary.parquet") if folder.exists() else None
    work = None
    if stage == "baseline":
        work = lambda: None  # noqa: E731
    elif stage == "load":
        work = lambda: clv.load_transactions(path)  # noqa: E731
    elif stage == "summary":
        tx = clv.load_transactions(path)
        work = lambda: clv.summarize(  # noqa: E731
            tx, freq="D", time_unit="W", observation_end=generate.OBSERVATION_END
        )
    elif stage == "summary_streaming":
        source = generate.partitioned_for(label)
        if not source.exists():
            return {"skipped": "no partitioned copy at this size"}
        work = lambda: clv.summarize(  # noqa: E731
            clv.scan_transactions(source),
            freq="D",
            time_unit="W",
            observation_end=generate.OBSERVATION_END,
        )
    elif stage == "cal_holdout":
        tx = clv.load_transactions(path)
        work = lambda: clv.calibration_holdout(  # noqa: E731
            tx,
            calibration_end=generate.CALIBRATION_END,
            observation_end=generate.OBSERVATION_END,
            freq="D",
            time_unit="W",
        )
    elif stage == "core":
        tx = clv.load_transactions(path)

        def work():
            core = clv.summarize(
                tx, freq="D", time_unit="W", observation_end=generate.OBSERVATION_END
            )
            clv.score(core, clv.fit_purchase_model(core), clv.fit_spend_model(core))

    elif stage == "fit_bgnbd":
        work = lambda: clv.fit_purchase_model(summary, model="bgnbd")  # noqa: E731
    elif stage == "fit_pareto_nbd":
        work = lambda: clv.fit_purchase_model(summary, model="pareto_nbd")  # noqa: E731
    elif stage == "fit_gamma_gamma":
        work = lambda: clv.fit_spend_model(summary)  # noqa: E731
    elif stage == "score":
        with (folder / "models.pkl").open("rb") as handle:
            purchase, spend = pickle.load(handle)
        work = lambda: clv.score(summary, purchase, spend)  # noqa: E731
    elif stage == "grade_bootstrap":
        scores = pl.read_parquet(folder / "scores.parquet")
        work = lambda: clv.grade(scores, n_bootstrap=200, seed=0)  # noqa: E731
    elif stage == "report":
        reports = folder / "reports"
        command = [
            sys.executable,
            "-m",
            "clv.cli",
            "report",
            "--data",
            str(path),
            "--period",
            "bench",
            "--observation-end",
            generate.OBSERVATION_END,
            "--calibration-end",
            generate.CALIBRATION_END,
            "--reports-dir",
            str(reports),
        ]
        work = lambda: subprocess.run(command, check=True, capture_output=True)  # noqa: E731
    elif stage.startswith("lt_"):
        import warnings

        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter
        from lifetimes.utils import summary_data_from_transaction_data

        frame = pl.read_parquet(path).to_pandas()
        if stage == "lt_summary":
            work = lambda: summary_data_from_transaction_data(  # noqa: E731
                frame,
                "customer_id",
                "date",
                "amount",
                observation_period_end=generate.OBSERVATION_END,
                freq="D",
                freq_multiplier=7,
            )
        elif stage == "lt_core":

            def work():
                core = summary_data_from_transaction_data(
                    frame,
                    "customer_id",
                    "date",
                    "amount",
                    observation_period_end=generate.OBSERVATION_END,
                    freq="D",
                    freq_multiplier=7,
                )
                x, t_x, T = core["frequency"], core["recency"], core["T"]
                bg = BetaGeoFitter().fit(x, t_x, T)
                repeat = core[(core["frequency"] > 0) & (core["monetary_value"] > 0)]
                gg = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
                spend_params = {
                    "p": gg.params_["p"],
                    "q": gg.params_["q"],
                    "gamma": gg.params_["v"],
                }
                _lifetimes_score(bg, spend_params, core, x, t_x, T)

        else:
            x, t_x, T = (summary[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))
            repeat = summary.filter((pl.col("frequency") > 0) & (pl.col("monetary_value") > 0))
            if stage == "lt_fit_bgnbd":
                work = lambda: BetaGeoFitter().fit(x, t_x, T)  # noqa: E731
            elif stage == "lt_fit_pareto_nbd":
                work = lambda: ParetoNBDFitter().fit(x, t_x, T, initial_params=np.ones(4))  # noqa: E731
            elif stage == "lt_fit_gamma_gamma":
                work = lambda: GammaGammaFitter().fit(  # noqa: E731
                    repeat["frequency"].to_numpy(), repeat["monetary_value"].to_numpy()
                )
            elif stage == "lt_score":
                with (folder / "models.pkl").open("rb") as handle:
                    purchase, spend = pickle.load(handle)
                bg = BetaGeoFitter()
                bg.params_ = __import__("pandas").Series(purchase.params)
                bg.predict = bg.conditional_expected_number_of_purchases_up_to_time  # as fit sets
                plain = summary.to_pandas()
                work = lambda: _lifetimes_score(bg, spend.params, plain, x, t_x, T)  # noqa: E731

    if work is None:
        raise SystemExit(f"unknown stage {stage}")
    load = os.getloadavg()[0]
    cpu_start = _cpu_seconds()
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu_start
    peak = _high_water_mark()
    if stage == "report":  # the report runs in child processes (clv, its kernel)
        peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_bytes": peak, "load": load}


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process (all its threads) and of the
    child processes it has waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _high_water_mark() -> int:
    """Peak resident memory of this process since it started (VmHWM, bytes).

    Not ``ru_maxrss``: Linux carries that over from the parent across fork and
    exec, so a child would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---------------------------------------------------------------------------
# the parent: run children, collect medians, write the results


def _run_stage(stage: str, label: str, timeout: float) -> dict:
    command = [sys.executable, __file__, "--child", stage, "--size", label]
    # a session of its own, so that a stage past its time is stopped with every
    # process it started (the report's command and kernel), not left running
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as child:
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stray = _descendants(child.pid)  # a kernel may run in a session of its own
            os.killpg(child.pid, signal.SIGKILL)
            for pid in stray:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            child.communicate()
            return {"timeout": timeout}
    done = subprocess.CompletedProcess(command, child.returncode, stdout, stderr)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _descendants(pid: int) -> list[int]:
    """Process ids of every process below ``pid`` (Linux: read from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _cell(result: dict) -> str:
    if "timeout" in result:
        return f"> {result['timeout']:.0f} s (not finished)"
    if "skipped" in result:
        return "–"
    if "error" in result:
        return f"error: {result['error'][:60]}"
    return (
        f"{result['seconds']:.2f} s / {result['cpu_seconds']:.2f} s CPU / "
        f"{result['peak_bytes'] / 2**30:.2f} GiB / load {result['load']:.1f}"
    )


def _summarise(runs: list[dict]) -> dict:
    """Medians of wall and CPU seconds, the largest peak, and the load of every
    run (the median shown, the range kept)."""
    good = [r for r in runs if "seconds" in r]
    if len(good) != len(runs):
        return next(r for r in runs if "seconds" not in r)
    loads = [r["load"] for r in good]
    return {
        "seconds": statistics.median(r["seconds"] for r in good),
        "cpu_seconds": statistics.median(r["cpu_seconds"] for r in good),
        "peak_bytes": max(r["peak_bytes"] for r in good),
        "load": statistics.median(loads),
        "load_range": [min(loads), max(loads)],
        "runs": good,
    }


def _figure(results: dict, sizes: list[str], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = {label: generate.SIZES[label] * 10 for label in sizes}
    fig, ax = plt.subplots(figsize=(8, 5.5), layout="constrained")
    colours = {stage: plt.cm.tab10(i % 10) for i, stage in enumerate(CLV_STAGES[1:])}
    for stage in CLV_STAGES[1:] + LIFETIMES_STAGES:
        points = [
            (rows[s], results[s][stage]["seconds"])
            for s in sizes
            if "seconds" in results[s].get(stage, {})
        ]
        if len(points) >= 2:
            # a lifetimes stage is drawn dashed in the colour of its clv counterpart
            style = "--" if stage.startswith("lt_") else "-"
            colour = colours.get(stage.removeprefix("lt_"), "black")
            ax.plot(*zip(*points, strict=True), style, marker="o", label=stage, color=colour)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("transactions (about 10 per customer)")
    ax.set_ylabel("seconds (median)")
    ax.set_title("Cost growth per stage: clv (solid) and plain lifetimes (dashed)")
    ax.legend(fontsize=7, ncols=2)
    fig.savefig(target, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(generate.SIZES))
    parser.add_argument("--repeat", type=int, default=3, help="runs per stage (median)")
    parser.add_argument("--repeat-largest", type=int, default=3, help="runs at 10m")
    parser.add_argument(
        "--fresh", action="store_true", help="rebuild the cached inputs with the current code"
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per stage run")
    parser.add_argument("--stages", nargs="+", default=CLV_STAGES + LIFETIMES_STAGES)
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.size)))
        return

    results: dict[str, dict[str, dict]] = {}
    for label in args.sizes:
        generate.generate(label, partitioned=True)
        _prepare(label, fresh=args.fresh)
        results[label] = {}
        repeat = args.repeat_largest if label == "10m" else args.repeat
        for stage in args.stages:
            runs = [_run_stage(stage, label, args.timeout) for _ in range(repeat)]
            results[label][stage] = _summarise(runs)
            print(f"{label:>5} {stage:<20} {_cell(results[label][stage])}", flush=True)
    _write(results, args)


def _write(results: dict, args: argparse.Namespace) -> None:
    sizes = list(results)
    versions = {
        n: metadata.version(n) for n in ("clv", "polars", "numpy", "scipy", "pandas", "lifetimes")
    }
    lines = [
        "# Benchmark results",
        "",
        f"Command: `{' '.join([Path(sys.executable).name, 'benchmarks/run.py', *sys.argv[1:]])}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"{platform.platform()}; Python {platform.python_version()}; "
        + ", ".join(f"{k} {v}" for k, v in versions.items()),
        "",
        f"Medians of {args.repeat} runs ({args.repeat_largest} at 10m), each stage in a fresh "
        "process. Each cell: wall seconds / CPU seconds (user + system, every thread and "
        "waited-for child) / peak resident memory of the process, interpreter and imports "
        "included (see `baseline`) / the machine's one-minute load average when the stage "
        "started (median of the runs; the machine may be shared). `core` and `lt_core` run "
        "the whole core path in one process. Logs from `benchmarks/generate.py`: about 10 "
        "transactions per customer.",
        "",
        "| stage | " + " | ".join(f"{s} ({generate.SIZES[s] * 10:,} tx)" for s in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    for stage in args.stages:
        lines.append(
            f"| {stage} | "
            + " | ".join(_cell(results[s].get(stage, {"skipped": 1})) for s in sizes)
            + " |"
        )
    lines += ["", "Core path (summary + BG/NBD + Gamma-Gamma fits + scoring):", ""]
    for s in sizes:
        ours = [results[s].get(k, {}) for k in CORE]
        theirs = [results[s].get(v, {}) for v in CORE.values()]
        if all("seconds" in r for r in ours + theirs):
            a = sum(r["seconds"] for r in ours)
            b = sum(r["seconds"] for r in theirs)
            lines.append(
                f"- {s}, sum of the stages: clv {a:.2f} s, plain lifetimes {b:.2f} s, "
                f"ratio {b / a:.1f}x"
            )
        whole, plain = results[s].get("core", {}), results[s].get("lt_core", {})
        if "seconds" in whole and "seconds" in plain:
            lines.append(
                f"- {s}, one process each: clv {whole['seconds']:.2f} s "
                f"({whole['cpu_seconds']:.2f} s CPU), plain lifetimes {plain['seconds']:.2f} s "
                f"({plain['cpu_seconds']:.2f} s CPU), ratio "
                f"{plain['seconds'] / whole['seconds']:.1f}x wall, "
                f"{plain['cpu_seconds'] / whole['cpu_seconds']:.1f}x CPU"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    _figure(results, sizes, args.out.with_name("scaling.png"))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
