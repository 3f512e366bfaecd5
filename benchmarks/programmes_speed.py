"""Time the points ledger and the B2B scorecard on large generated inputs.

    .venv/bin/python benchmarks/programmes_speed.py [--members 100000]
        [--events 1000000] [--accounts 100000] [--repeat 3] [--reference-repeat 0]

The points inputs are generated (seeded) for ``--members`` members over
2022-2024: ``--events`` inputs in all, 60 % orders, 30 % events (every event
type of the pollen rules, an unknown one, first reviews of 5,000 products) and
10 % redemptions (some above the balance), with registrations, so that
earnings, expiries across year ends and 29 February 2024, once-per-customer
rules, first reviews and refused redemptions all occur. The scorecard grades
``--accounts`` generated accounts. Each is timed vectorised
(:func:`clv.programmes.build_ledger`, :func:`clv.programmes.grade_accounts`)
and, with ``--reference-repeat N``, one input at a time (the private
references the tests compare with), and the results are checked to be equal.
The ledger's reference takes over 15 minutes on 1M inputs (it removes each
repeated first review from a Python list); time it on ``--members 10000
--events 100000``.
The figures are as in ``ladder_speed.py``: medians of wall seconds, CPU
seconds of the process, the 1-minute load average before each run, and the
peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ladder_speed import _peak_gib, _report, _time

from clv.programmes.points import _build_ledger_reference, build_ledger, load_points_rules
from clv.programmes.scorecard import _grade_accounts_reference, grade_accounts, load_scorecard


def points_inputs(members: int, inputs: int, seed: int = 2024) -> dict[str, pl.DataFrame]:
    """Orders, events, redemptions and registrations of ``members`` members,
    ``inputs`` rows in all (60 % orders, 30 % events, 10 % redemptions)."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"m{i:07d}" for i in range(members)])
    start = dt.date(2022, 1, 1)

    def days(n: int) -> pl.Series:
        return (
            pl.Series(rng.integers(0, 3 * 365, n) + (start - dt.date(1970, 1, 1)).days)
            .cast(pl.Int32)
            .cast(pl.Date)
        )

    n_orders, n_events = inputs * 6 // 10, inputs * 3 // 10
    n_redemptions = inputs - n_orders - n_events
    rules = load_points_rules()
    kinds = [*sorted(rules.events), "unknown_event"]
    orders = pl.DataFrame(
        {
            "customer_id": ids[rng.integers(0, members, n_orders)],
            "date": days(n_orders),
            "amount": np.round(rng.gamma(1.0, 120.0, n_orders), 2),
        }
    )
    events = pl.DataFrame(
        {
            "customer_id": ids[rng.integers(0, members, n_events)],
            "date": days(n_events),
            "event": np.array(kinds)[rng.integers(0, len(kinds), n_events)],
            "product_id": [f"p{p:05d}" for p in rng.integers(0, 5_000, n_events)],
        }
    )
    redemptions = pl.DataFrame(
        {
            "customer_id": ids[rng.integers(0, members, n_redemptions)],
            "date": days(n_redemptions),
            "points": rng.choice([100, 200, 500, 1_000, 5_000], n_redemptions),
        }
    )
    registered = pl.DataFrame(
        {"customer_id": ids, "registered": days(members).dt.offset_by("-200d")}
    )
    return {
        "orders": orders,
        "events": events,
        "redemptions": redemptions,
        "registrations": registered,
    }


def accounts_table(n: int, seed: int = 2024) -> pl.DataFrame:
    """``n`` accounts with every field of the packaged B2B scorecard."""
    rng = np.random.default_rng(seed)
    card = load_scorecard()
    columns: dict[str, object] = {"account": [f"a{i:07d}" for i in range(n)], "year": 2024}
    for c in card.criteria:
        if c.kind == "class":
            columns[c.field] = np.array(sorted(c.classes))[rng.integers(0, len(c.classes), n)]
        else:
            low, high = c.bounds[-1], c.bounds[0]
            span = high - low
            columns[c.field] = rng.uniform(low - span / 2, high + span / 2, n)
            if c.require_field:
                columns[c.require_field] = rng.uniform(0, 1, n)
    return pl.DataFrame(columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference-repeat", type=int, default=0)
    args = parser.parse_args()
    inputs = points_inputs(args.members, args.events)
    accounts = accounts_table(args.accounts)
    print(
        f"points: {args.events:,} inputs of {args.members:,} members; scorecard: "
        f"{args.accounts:,} accounts; {os.cpu_count()} CPUs"
    )
    base = _peak_gib()
    orders = inputs.pop("orders")
    end = dt.date(2024, 12, 31)

    def ledger() -> object:
        return build_ledger(orders, "points_pollen", as_of=end, **inputs)

    runs = [_time(ledger) for _ in range(args.repeat)]
    _report("ledger (vectorised)", runs, base)
    built = runs[-1][3]
    print(
        f"  {built.entries.height:,} entries "
        f"({built.entries['kind'].value_counts().sort('kind').rows()}), "
        f"{built.rejected.height:,} rejected"
    )
    graded = [_time(lambda: grade_accounts(accounts)) for _ in range(args.repeat)]
    _report("scorecard (vectorised)", graded, base)
    if args.reference_repeat:

        def reference() -> object:
            return _build_ledger_reference(orders, "points_pollen", as_of=end, **inputs)

        old = [_time(reference) for _ in range(args.reference_repeat)]
        _report("ledger: reference", old, base)
        same = old[-1][3].entries.equals(built.entries) and old[-1][3].rejected.equals(
            built.rejected
        )
        print(f"same ledger: {same}")
        old_graded = [
            _time(lambda: _grade_accounts_reference(accounts)) for _ in range(args.reference_repeat)
        ]
        _report("scorecard: reference", old_graded, base)
        print(f"same grades: {old_graded[-1][3].equals(graded[-1][3])}")


if __name__ == "__main__":
    main()
