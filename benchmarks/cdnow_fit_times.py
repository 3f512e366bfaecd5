"""Fit times on the CDNOW logs: clv (weighted, on distinct rows) against the
plain lifetimes path (pandas summary, unweighted fit on every customer).

    .venv/bin/python benchmarks/cdnow_fit_times.py

Prints a Markdown table; medians of ``--repeat`` runs (default 3).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter
from lifetimes.utils import summary_data_from_transaction_data

import clv


def _median_seconds(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.python_version()}, numpy {np.__version__}")
    print("| data | step | clv (s) | plain lifetimes (s) |")
    print("|---|---|---|---|")
    for sample in (True, False):
        for line in _bench(sample, args.repeat):
            print(line)


def _bench(sample: bool, repeat: int) -> list[str]:
    name = "CDNOW sample" if sample else "CDNOW master"
    tx = clv.datasets.cdnow(sample=sample)
    pdf = tx.data.to_pandas()
    end = "1997-09-30"

    def ours_summary():
        return clv.summarize(tx, freq="D", time_unit="W", observation_end=end)

    def plain_summary():
        return summary_data_from_transaction_data(
            pdf,
            "customer_id",
            "date",
            "amount",
            observation_period_end=end,
            freq="D",
            freq_multiplier=7,
        )

    s = ours_summary()
    ref = plain_summary()
    rows = [("summary", ours_summary, plain_summary)]
    x, t_x, T = ref["frequency"].values, ref["recency"].values, ref["T"].values
    for model, fitter in (
        ("bgnbd", BetaGeoFitter),
        ("mbgnbd", ModifiedBetaGeoFitter),
        ("pareto_nbd", ParetoNBDFitter),
    ):
        kwargs = {"initial_params": np.ones(4)} if model == "pareto_nbd" else {}
        rows.append(
            (
                f"fit {model}",
                lambda model=model: clv.fit_purchase_model(s, model=model),
                lambda fitter=fitter, kwargs=kwargs: fitter().fit(x, t_x, T, **kwargs),
            )
        )
    # lifetimes refuses non-positive spend; clv leaves those customers out and counts them
    repeat_rows = ref[(ref["frequency"] > 0) & (ref["monetary_value"] > 0)]
    rows.append(
        (
            "fit gamma_gamma",
            lambda: clv.fit_spend_model(s),
            lambda: GammaGammaFitter().fit(repeat_rows["frequency"], repeat_rows["monetary_value"]),
        )
    )
    lines = []
    for step, ours, plain in rows:
        ours_s = _median_seconds(ours, repeat)
        plain_s = _median_seconds(plain, repeat)
        lines.append(f"| {name} | {step} | {ours_s:.3f} | {plain_s:.3f} |")
    return lines


if __name__ == "__main__":
    main()
