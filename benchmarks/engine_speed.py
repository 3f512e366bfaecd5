"""Time model fits: clv's own engine against plain lifetimes.

    .venv/bin/python benchmarks/engine_speed.py                  # 10M log, 3 runs each
    .venv/bin/python benchmarks/engine_speed.py --size 1m --repeat 1 --json /tmp/e.json

Fits BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma on the per-customer summary
of a benchmark log (``benchmarks/generate.py``; the 10M-transaction log has 1M
customers), each in a fresh process that first loads the summary and imports
everything (untimed), then times the fit alone:

- ``clv``: :func:`clv.fit_purchase_model` / :func:`clv.fit_spend_model` with
  ``engine="clv"`` (distinct histories, analytic gradients, multi-start);
- ``lifetimes``: plain lifetimes, its fitters on every customer, unweighted
  (Nelder-Mead from (1, 1, 1, 1) for Pareto/NBD; Gamma-Gamma on repeat buyers
  with positive spend).

Each row reports medians over the runs of wall seconds, CPU seconds of the
process (all threads) and peak resident memory of the process (which includes
the interpreter, imports and the loaded summary), with the load average before
and after each run: the machine may be shared. A run past ``--timeout``
seconds is recorded as not finished and not repeated.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402  (the sibling script)

MODELS = ("bgnbd", "mbgnbd", "pareto_nbd", "gamma_gamma")
ENGINES = ("clv", "lifetimes")
TARGETS = {"bgnbd": 1.5, "mbgnbd": 1.5, "pareto_nbd": 8.0, "gamma_gamma": 1.0}  # s, 10M log


def summary_path(label: str) -> Path:
    return generate.DATA / "cache" / f"engine_{label}" / "summary.parquet"


def prepare(label: str) -> Path:
    """The summary of the ``label`` log, built (and the log generated) if missing."""
    path = summary_path(label)
    if path.exists():
        return path
    import clv

    log = generate.path_for(label)
    if not log.exists():
        generate.generate(label)
    tx = clv.load_transactions(log)
    summary = clv.summarize(tx, freq="D", time_unit="W", observation_end=generate.OBSERVATION_END)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    summary.write_parquet(tmp)
    tmp.replace(path)
    return path


# ---------------------------------------------------------------------------
# the child: load, time one fit, report


def child(model: str, engine: str, label: str) -> dict:
    import warnings

    import numpy as np
    import polars as pl

    import clv
    import clv.models

    summary = pl.read_parquet(summary_path(label))
    if engine == "clv":
        if model == "gamma_gamma":

            def work():
                return clv.fit_spend_model(summary).params

        else:

            def work():
                return clv.fit_purchase_model(summary, model).params

    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import lifetimes
        x, t_x, T = (summary[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))
        repeat = summary.filter((pl.col("frequency") > 0) & (pl.col("monetary_value") > 0))
        xr = repeat["frequency"].to_numpy().astype(float)
        mr = repeat["monetary_value"].to_numpy()

        def work():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if model == "bgnbd":
                    fitter = lifetimes.BetaGeoFitter().fit(x, t_x, T)
                elif model == "mbgnbd":
                    fitter = lifetimes.ModifiedBetaGeoFitter().fit(x, t_x, T)
                elif model == "pareto_nbd":
                    fitter = lifetimes.ParetoNBDFitter().fit(
                        x, t_x, T, initial_params=np.ones(4), maxiter=10_000
                    )
                else:
                    fitter = lifetimes.GammaGammaFitter().fit(xr, mr)
            return dict(fitter.params_)

    load_before = os.getloadavg()
    wall, cpu = time.perf_counter(), time.process_time()
    params = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "load_before": load_before[0],
        "load_after": os.getloadavg()[0],
        "params": {k: float(v) for k, v in params.items()},
        "customers": summary.height,
    }


# ---------------------------------------------------------------------------
# the parent: run each fit in fresh processes, take medians


def run_one(model: str, engine: str, label: str, timeout: float) -> dict | None:
    command = [sys.executable, __file__, "--child", model, engine, "--size", label]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="10m", choices=sorted(generate.SIZES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "ENGINE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.size)))
        return

    prepare(args.size)
    command = " ".join([Path(sys.executable).name, *sys.argv])
    print(f"# engine_speed: {command}")
    print(f"# {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"# load average at start: {os.getloadavg()}")
    header = "| model | engine | runs | wall s | CPU s | peak RSS GiB | load (1 min) | target |"
    print(header)
    print("|" + "---|" * 8)
    results = []
    for model in args.models:
        for engine in args.engines:
            runs = []
            for _ in range(args.repeat):
                outcome = run_one(model, engine, args.size, args.timeout)
                if outcome is None:
                    break
                runs.append(outcome)
            row = {"model": model, "engine": engine, "runs": runs, "timeout_s": args.timeout}
            if runs:
                row.update(
                    {
                        key: statistics.median(r[key] for r in runs)
                        for key in ("wall_s", "cpu_s", "peak_rss_gib")
                    }
                )
                loads = [r[k] for r in runs for k in ("load_before", "load_after")]
                figures = (
                    f"{row['wall_s']:.2f} | {row['cpu_s']:.2f} | {row['peak_rss_gib']:.2f} | "
                    f"{min(loads):.1f}-{max(loads):.1f}"
                )
            else:
                figures = f"not finished in {args.timeout:.0f} s | | | "
            note = f"<= {TARGETS[model]:g} s" if engine == "clv" else ""
            unfinished = " + 1 unfinished" if runs and len(runs) < args.repeat else ""
            print(f"| {model} | {engine} | {len(runs)}{unfinished} | {figures} | {note} |")
            sys.stdout.flush()
            results.append(row)
    print(f"# load average at end: {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps({"command": command, "results": results}, indent=1))


if __name__ == "__main__":
    main()
