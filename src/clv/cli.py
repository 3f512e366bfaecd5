"""The ``clv`` command.

clv report --sample                       # grade the bundled CDNOW sample
clv report --data log.csv --period 2024-06 --observation-end 2024-06-30
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from clv import datasets
from clv.data import TransactionDataError
from clv.models import PURCHASE_MODELS, ModelFitError
from clv.paths import REPORTS_DIR
from clv.report import RunConfig, run_period

__all__ = ["main"]

# The bundled sample: the CDNOW 1/10 sample, graded at the end of its 78 weeks.
_SAMPLE = {"period": "cdnow-1998-06", "observation_end": "1998-06-30"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clv", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="grade one period and write reports/<period>/")
    report.add_argument("--sample", action="store_true", help="use the bundled CDNOW sample")
    report.add_argument("--data", type=Path, help="transaction log (CSV or Parquet)")
    report.add_argument("--period", help="period label, names the report folder (e.g. 2024-06)")
    report.add_argument("--observation-end", help="last day of data used, YYYY-MM-DD")
    report.add_argument("--freq", default="D", choices=["D", "W", "M"])
    report.add_argument("--time-unit", default="W", choices=["D", "W", "M"])
    report.add_argument("--model", default="bgnbd", choices=list(PURCHASE_MODELS))
    report.add_argument("--horizon-days", type=float, default=365.0)
    report.add_argument("--discount-rate", type=float, default=0.10, help="annual, e.g. 0.10")
    report.add_argument("--reports-dir", type=Path, default=REPORTS_DIR)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.sample:
        args.data = datasets.cdnow_path(sample=True)
        args.period = args.period or _SAMPLE["period"]
        args.observation_end = args.observation_end or _SAMPLE["observation_end"]
    missing = [f"--{n}" for n in ("data", "period") if getattr(args, n) is None]
    if args.observation_end is None:
        missing.append("--observation-end")
    if missing:
        print(f"clv report: give {', '.join(missing)} (or --sample)", file=sys.stderr)
        return 2
    try:
        config = RunConfig(
            data=args.data,
            period=args.period,
            observation_end=dt.date.fromisoformat(args.observation_end),
            freq=args.freq,
            time_unit=args.time_unit,
            model=args.model,
            horizon_days=args.horizon_days,
            discount_rate_annual=args.discount_rate,
        )
        folder = run_period(config, reports_dir=args.reports_dir)
    except (TransactionDataError, ModelFitError, ValueError) as exc:
        print(f"clv report: {exc}", file=sys.stderr)
        return 1
    print(f"clv report: wrote {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
