"""clv: grade customers on predicted lifetime value and publish the reports.

clv report --sample                        # the bundled CDNOW sample, quarterly
clv report --data log.csv --period 2024-06 --observation-end 2024-06-30
clv report --data log.csv --start 2024-01 --end 2024-12 --every month
clv report --source shop.toml --period 2024-06 --observation-end 2024-06-30
clv report --engine spark --data sales.orders --period 2024-06 --observation-end 2024-06-30

Paths are read against the current directory. Arguments and data are checked
before the report notebook starts, so a mistake is answered in seconds.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from pathlib import Path

__all__ = ["OPTION_OF", "cli_advice", "main"]

# The bundled sample: the CDNOW 1/10 sample, graded at each quarter end from
# mid-1997 (its customers all first bought in Q1 1997) to the end of its data.
_SAMPLE = {"start": "1997-06", "end": "1998-06", "every": "quarter"}

# loader keyword -> command line option (errors from the loader name the
# keyword; a run from the command line names the option too)
OPTION_OF: dict[str, str] = {
    "customer_id": "--id-column",
    "date": "--date-column",
    "amount": "--amount-column",
    "quantity": "--quantity-column",
    "margin": "--margin-column",
    "category": "--category-column",
    "status": "--status-column",
    "date_format": "--date-format",
    "encoding": "--encoding",
    "separator": "--separator",
    "decimal": "--decimal",
    "thousands": "--thousands",
    "time_zone": "--time-zone",
    "duplicates": "--duplicates",
    "zero_amounts": "--zero-amounts",
    "leading_zeros": "--leading-zeros",
}
_EVENTS_OPTION_OF = {
    "customer_id": "--events-id-column",
    "date": "--events-date-column",
    "date_format": "--events-date-format",
    "encoding": "--events-encoding",
    "separator": "--events-separator",
}
_ACCOUNTS_OPTION_OF = {
    "account": "--accounts-id-column",
    "encoding": "--accounts-encoding",
    "separator": "--accounts-separator",
}
_KEYWORD = re.compile(r"\b([a-z_]+)=('[^']*'|\"[^\"]*\"|[^\s;,)]*)")


def cli_advice(message: str, options: dict[str, str] = OPTION_OF) -> str:
    """Add the command line option beside each loader keyword an error's
    advice names: ``pass encoding='gb18030'`` also says
    ``--encoding gb18030``."""

    def add(match: re.Match[str]) -> str:
        keyword, value = match.group(1), match.group(2)
        option = options.get(keyword)
        if option is None:
            return match.group(0)
        shown = value.strip("'\"")
        if keyword == "amount" and shown == "None":  # no amount column: an empty option
            return f"{match.group(0)} (command line: {option} '')"
        shown = (
            f" '{shown}'"
            if shown and (" " in shown or not shown.isascii())
            else (f" {shown}" if shown else " ...")
        )
        return f"{match.group(0)} (command line: {option}{shown})"

    return _KEYWORD.sub(add, message)


# -- argument types: every number checked, with the option named -------------


def _number(low: float, high: float, integral: bool = False):
    def parse(text: str) -> float | int:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{text!r} is out of range; give a number from {low:g} to {high:g}"
            )
        if integral:
            if not value.is_integer():
                raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
            return int(value)
        return value

    return parse


def _date(text: str) -> str:
    import datetime as dt

    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; give YYYY-MM-DD") from None


def _month(text: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a month; give YYYY-MM, e.g. 2024-06")
    return text


def _parser() -> argparse.ArgumentParser:
    from clv.report.config import LIMITS

    parser = argparse.ArgumentParser(
        prog="clv",
        description=__doc__.splitlines()[0],
        epilog="clv report --help lists the options of a report run",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser(
        "report",
        help="grade one period, or a range of periods, into reports/",
        description="Grade customers and publish the report. " + __doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = report.add_argument_group("what to grade")
    what.add_argument("--sample", action="store_true", help="grade the bundled CDNOW sample")
    what.add_argument("--data", help="transaction log: CSV, TSV or Parquet file")
    what.add_argument(
        "--source", help="data source TOML: the log's path and reading options (see README)"
    )
    what.add_argument("--period", help="label of one period, names the folder (e.g. 2024-06)")
    what.add_argument("--observation-end", type=_date, help="last day of data, YYYY-MM-DD")
    what.add_argument("--calibration-end", type=_date, help="back-test calibration end, YYYY-MM-DD")
    what.add_argument("--previous", default="", help="previous graded_customers.parquet")
    what.add_argument("--start", type=_month, help="first month of a range, YYYY-MM")
    what.add_argument("--end", type=_month, help="last month of a range, YYYY-MM")
    what.add_argument("--every", default="quarter", choices=["month", "quarter"])

    reading = report.add_argument_group(
        "reading the log (override --source; the loader's keywords in brackets)"
    )
    for keyword, option in OPTION_OF.items():
        reading.add_argument(option, dest=f"load_{keyword}", metavar="TEXT", help=f"[{keyword}]")
    reading.add_argument("--currency", help="label of money amounts, e.g. CNY, USD, 元")

    sides = report.add_argument_group("programme files")
    sides.add_argument("--points-events", default="", help="points events CSV for the ledger")
    for keyword, option in _EVENTS_OPTION_OF.items():
        sides.add_argument(option, dest=f"events_{keyword}", metavar="TEXT", help=f"[{keyword}]")
    sides.add_argument(
        "--points-redemptions",
        default="",
        help="points redemptions CSV (customer_id, date, points; read with the events' options)",
    )
    sides.add_argument("--accounts", default="", help="B2B accounts CSV for the scorecard")
    for keyword, option in _ACCOUNTS_OPTION_OF.items():
        sides.add_argument(option, dest=f"accounts_{keyword}", metavar="TEXT", help=f"[{keyword}]")

    how = report.add_argument_group("how to grade")
    how.add_argument("--freq", default="D", choices=["D", "W", "M"])
    how.add_argument("--time-unit", default="W", choices=["D", "W", "M"])
    how.add_argument(
        "--model",
        default="auto",
        choices=["auto", "bgnbd", "pareto_nbd", "mbgnbd"],
        help="purchase model; auto (default) fits all three and chooses by accuracy on the "
        "back-test window, by BIC without one",
    )
    how.add_argument("--horizon-days", type=_number(*LIMITS["horizon_days"]), default=365.0)
    how.add_argument(
        "--discount-rate",
        type=_number(*LIMITS["discount_rate_annual"]),
        default=0.10,
        help="annual, e.g. 0.10",
    )
    how.add_argument(
        "--margin",
        type=_number(0.0, 1.0),
        default=0.0,
        help="gross margin as a share of revenue, e.g. 0.3: values become gross profit "
        "(default 0: values are discounted revenue; for a margin per order see "
        "--margin-column)",
    )
    how.add_argument(
        "--no-sufficiency-gate",
        dest="sufficiency_gate",
        action="store_false",
        help="predict and grade by CLV even when the data are below the minimum a forecast "
        "needs (by default such a period is graded by the rule ladder, with no predictions)",
    )
    how.add_argument("--scheme", default="five_card", help="packaged scheme or TOML path")
    how.add_argument("--lang", default="en", choices=["en", "zh"])
    how.add_argument(
        "--bootstrap",
        type=_number(*LIMITS["n_bootstrap"], integral=True),
        default=200,
        help="threshold resamples",
    )
    how.add_argument("--seed", type=_number(*LIMITS["seed"], integral=True), default=0)
    how.add_argument(
        "--ladder",
        default="ladder_five_card",
        help="rule-based ladder compared with the tiers ('' for none)",
    )
    engine = report.add_argument_group("where the log is read")
    engine.add_argument(
        "--engine",
        default="polars",
        choices=["polars", "spark"],
        help="polars (default): load the log on this machine; spark: read, check and summarise "
        "it on Spark (--data then also takes a table name or a storage URL); the data are then "
        "checked when the report runs, after the Spark session starts",
    )
    engine.add_argument(
        "--spark-master",
        default="",
        help="Spark master URL, e.g. local[4], spark://host:7077, yarn (default: SPARK_REMOTE "
        "or SPARK_MASTER, else local[2])",
    )
    report.add_argument("--reports-dir", default=None, help="where reports go (default reports/)")
    return parser


def _fail(message: str) -> int:
    print(f"clv report: {message}", file=sys.stderr)
    return 1


def _stage(text: str, quiet: bool = False) -> None:
    if not quiet:
        print(f"clv report: {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    one = args.period is not None
    if args.sample:
        if not one:
            args.start = args.start or _SAMPLE["start"]
            args.end = args.end or _SAMPLE["end"]
    elif args.data is None and args.source is None:
        parser.error("give --data or --source (or --sample)")
    if args.data and args.source:
        parser.error("give either --data or --source, not both")
    if one and args.observation_end is None:
        parser.error("give --observation-end for --period")
    if not one and not (args.start and args.end):
        parser.error("give --period and --observation-end, or --start and --end")
    if not one and args.start > args.end:
        parser.error(f"--start {args.start} is after --end {args.end}")

    # heavy imports only once the arguments are good
    from clv.data import TransactionDataError
    from clv.report import ReportError, RunConfig, period_ends
    from clv.report.config import check_dates
    from clv.report.logs import date_range
    from clv.source import DataSource, SideFile, SourceError
    from clv.tiers import SchemeError

    try:
        source = _source(args, DataSource, SideFile)
        ends = [] if one else period_ends(args.start, args.end, args.every)
        config = RunConfig(
            data_path=source.path,
            period=args.period or ends[-1].strftime("%Y-%m"),
            observation_end=args.observation_end or ends[-1].isoformat(),
            freq=args.freq,
            time_unit=args.time_unit,
            model=args.model,
            horizon_days=args.horizon_days,
            discount_rate_annual=args.discount_rate,
            scheme=args.scheme,
            lang=args.lang,
            previous_graded=args.previous,
            calibration_end=args.calibration_end or "",
            n_bootstrap=args.bootstrap,
            seed=args.seed,
            ladder=args.ladder,
            points_events=source.points_events.path if source.points_events else "",
            points_redemptions=args.points_redemptions,
            accounts_path=source.accounts.path if source.accounts else "",
            loader_options=source.options,
            events_options=source.points_events.options if source.points_events else {},
            accounts_options=source.accounts.options if source.accounts else {},
            currency=source.currency,
            margin=args.margin,
            sufficiency_gate=args.sufficiency_gate,
            engine=args.engine,
            spark_master=args.spark_master,
        )
        config.check_files()
        started = time.perf_counter()
        _stage("checking the data, the scheme and the options")
        _check_rules(config)
        if config.points_events:
            config.read_events()
        config.read_redemptions()
        if config.accounts_path:
            config.read_accounts()
        if config.engine == "spark":
            _stage(
                f"options checked in {time.perf_counter() - started:.1f} s; the log "
                f"{config.data_path} is read and checked on Spark when the report runs"
            )
        else:
            tx = config.load()
            first, last = date_range(tx)
            for end in ends or [None]:
                check_dates(
                    first,
                    last,
                    end.isoformat() if end else config.observation_end,
                    "" if end else config.calibration_end,
                )
            _stage(
                f"{tx.quality.rows_kept:,} transactions of {tx.n_customers:,} customers, "
                f"{first} to {last}, checked in {time.perf_counter() - started:.1f} s"
            )
    except TransactionDataError as exc:
        return _fail(cli_advice(str(exc)))
    except (SourceError, SchemeError, ValueError, FileNotFoundError) as exc:
        return _fail(cli_advice(str(exc), {**_EVENTS_OPTION_OF, **_ACCOUNTS_OPTION_OF}))

    from clv import report
    from clv.paths import REPORTS_DIR

    reports_dir = Path(args.reports_dir).expanduser().resolve() if args.reports_dir else REPORTS_DIR
    try:
        if one:
            _stage(f"grading {config.period}: running the report (about 20 s and up)")
            folder = report.run_period(config, reports_dir=reports_dir, progress=True)
            print(f"clv report: wrote {folder}")
            outcome = None
        else:
            outcome = _run_range(report, config, ends, reports_dir)
    except ReportError as exc:
        return _fail(str(exc))
    if outcome is not None:
        print(outcome.table())
        if outcome.failed:
            print(f"clv report: index at {reports_dir / 'index.html'}")
            return _fail(
                f"{len(outcome.failed)} of {len(ends)} periods failed; earlier reports of "
                "those periods, if any, are unchanged"
            )
    print(f"clv report: index at {reports_dir / 'index.html'}")
    return 0


def _source(args, DataSource, SideFile):
    """The data source: --source TOML, --data or --sample, with the command
    line's reading options on top."""
    from clv.datasets import cdnow_path
    from clv.report.config import spark_source

    if args.source:
        base = DataSource.from_toml(args.source)
    else:
        path = args.data or str(cdnow_path(sample=True))
        if args.engine == "spark" and spark_source(path):
            base = DataSource(path=path)  # a Spark table or a storage URL, as given
        else:
            base = DataSource.from_mapping({"path": path})
    options = _given(args, "load", OPTION_OF)
    sides = {}
    for name, path, prefix, keys in (
        ("points_events", args.points_events, "events", _EVENTS_OPTION_OF),
        ("accounts", args.accounts, "accounts", _ACCOUNTS_OPTION_OF),
    ):
        from_file = getattr(base, name)
        given = _given(args, prefix, keys)
        if path:
            sides[name] = SideFile(str(Path(path).expanduser().resolve()), given)
        elif from_file is not None:
            sides[name] = SideFile(from_file.path, {**from_file.options, **given})
        elif given:
            raise ValueError(
                f"{', '.join(keys[k] for k in given)} given without the file: add "
                f"--{name.replace('_', '-')} (or [{name}] in the data source)"
            )
    events, accounts = sides.get("points_events"), sides.get("accounts")
    return base.with_overrides(options, args.currency, events, accounts)


def _given(args: argparse.Namespace, prefix: str, keys: dict[str, str]) -> dict[str, str]:
    """The reading options given on the command line, by loader keyword."""
    given = {k: getattr(args, f"{prefix}_{k}") for k in keys}
    # an empty amount column is meaningful (a log without amounts); other empty texts are unset
    return {k: v for k, v in given.items() if v or (k == "amount" and v == "")}


def _check_rules(config) -> None:
    """Load the scheme and the ladder once, so that their mistakes are reported
    before the report starts."""
    from clv.tiers import load_scheme

    load_scheme(config.scheme)
    if config.ladder:
        from clv.programmes import load_ladder

        load_ladder(config.ladder)


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
