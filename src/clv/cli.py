"""The ``clv`` command.

clv report --sample                        # the bundled CDNOW sample, quarterly
clv report --data log.csv --period 2024-06 --observation-end 2024-06-30
clv report --data log.csv --start 2024-01 --end 2024-12 --every month
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from clv.paths import REPORTS_DIR

__all__ = ["main"]

# The bundled sample: the CDNOW 1/10 sample, graded at each quarter end from
# mid-1997 (its customers all first bought in Q1 1997) to the end of its data.
_SAMPLE = {"start": "1997-06", "end": "1998-06", "every": "quarter"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clv", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser(
        "report", help="grade one period, or a range of periods, into reports/"
    )
    report.add_argument("--sample", action="store_true", help="grade the bundled CDNOW sample")
    report.add_argument("--data", help="transaction log (CSV or Parquet)")
    report.add_argument("--period", help="label of one period, names the folder (e.g. 2024-06)")
    report.add_argument("--observation-end", help="last day of data for one period, YYYY-MM-DD")
    report.add_argument("--calibration-end", default="", help="back-test calibration end")
    report.add_argument("--previous", default="", help="previous graded_customers.parquet")
    report.add_argument("--start", help="first month of a range, YYYY-MM")
    report.add_argument("--end", help="last month of a range, YYYY-MM")
    report.add_argument("--every", default="quarter", choices=["month", "quarter"])
    report.add_argument("--freq", default="D", choices=["D", "W", "M"])
    report.add_argument("--time-unit", default="W", choices=["D", "W", "M"])
    report.add_argument("--model", default="bgnbd", choices=["bgnbd", "pareto_nbd", "mbgnbd"])
    report.add_argument("--horizon-days", type=float, default=365.0)
    report.add_argument("--discount-rate", type=float, default=0.10, help="annual, e.g. 0.10")
    report.add_argument("--scheme", default="five_card", help="packaged scheme or TOML path")
    report.add_argument("--lang", default="en", choices=["en", "zh"])
    report.add_argument("--bootstrap", type=int, default=200, help="threshold resamples")
    report.add_argument("--seed", type=int, default=0)
    report.add_argument(
        "--ladder",
        default="ladder_five_card",
        help="rule-based ladder compared with the tiers ('' for none)",
    )
    report.add_argument("--points-events", default="", help="points events CSV for the ledger")
    report.add_argument("--accounts", default="", help="B2B accounts CSV for the scorecard")
    report.add_argument("--reports-dir", type=Path, default=REPORTS_DIR)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from clv import datasets, report  # heavy imports only once the arguments are good

    if args.sample:
        args.data = args.data or str(datasets.cdnow_path(sample=True))
        if not args.period:
            args.start = args.start or _SAMPLE["start"]
            args.end = args.end or _SAMPLE["end"]
    one = args.period is not None
    if args.data is None:
        print("clv report: give --data (or --sample)", file=sys.stderr)
        return 2
    if one and args.observation_end is None:
        print("clv report: give --observation-end for --period", file=sys.stderr)
        return 2
    if not one and not (args.start and args.end):
        print(
            "clv report: give --period and --observation-end, or --start and --end", file=sys.stderr
        )
        return 2
    values = {
        "data_path": args.data,
        # for a range, run_range sets each period's label and end; these stand in
        "period": args.period or "range",
        "observation_end": args.observation_end or "2000-01-01",
        "freq": args.freq,
        "time_unit": args.time_unit,
        "model": args.model,
        "horizon_days": args.horizon_days,
        "discount_rate_annual": args.discount_rate,
        "scheme": args.scheme,
        "lang": args.lang,
        "previous_graded": args.previous,
        "calibration_end": args.calibration_end,
        "n_bootstrap": args.bootstrap,
        "seed": args.seed,
        "ladder": args.ladder,
        "points_events": args.points_events,
        "accounts_path": args.accounts,
    }
    assert set(values) == {f.name for f in fields(report.RunConfig)}
    try:
        config = report.RunConfig(**values)
        if one:
            folders = [report.run_period(config, reports_dir=args.reports_dir)]
        else:
            ends = report.period_ends(args.start, args.end, args.every)
            folders = _run_range(report, config, ends, args.reports_dir)
    except (report.ReportError, ValueError, FileNotFoundError) as exc:
        print(f"clv report: {exc}", file=sys.stderr)
        return 1
    for folder in folders:
        print(f"clv report: wrote {folder}")
    print(f"clv report: index at {Path(args.reports_dir) / 'index.html'}")
    return 0


def _run_range(report, config, ends, reports_dir):
    from tqdm.auto import tqdm

    with tqdm(total=len(ends), desc="grading", unit="period", file=sys.stderr) as bar:
        return report.run_range(
            config,
            ends,
            reports_dir=reports_dir,
            on_period=lambda period: (bar.set_postfix_str(period), bar.update()),
        )


if __name__ == "__main__":
    raise SystemExit(main())
