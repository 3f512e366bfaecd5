"""Publishing a finished report folder, and the index of every period."""

from __future__ import annotations

import html
import json
import os
import shutil
from pathlib import Path

from clv.paths import REPORTS_DIR

__all__ = ["replace_dir", "write_index"]


def replace_dir(staging: Path, target: Path) -> None:
    """Move ``staging`` to ``target``; an old ``target`` is swapped out only once
    the new one is complete."""
    if target.exists():
        old = target.with_name(f".{target.name}-old-{os.getpid()}")
        os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)


def write_index(reports_dir: Path = REPORTS_DIR) -> Path:
    """Write ``reports_dir/index.html`` listing every period's report with its
    headline figures (atomically)."""
    reports_dir = Path(reports_dir)
    rows = []
    for page_file in sorted(reports_dir.glob("*/report.html")):
        period = page_file.parent.name
        if period.startswith("."):
            continue
        summary_file = page_file.parent / "summary.json"
        if not summary_file.is_file():  # the report rendered, but nothing could be graded
            link = f"<a href='{html.escape(period)}/report.html'>{html.escape(period)}</a>"
            rows.append(
                f"<tr><td>{link}</td><td colspan='7' style='text-align:left'>"
                "no grading: no model could be fitted, see the report · "
                "无法分级，详见报告</td></tr>"
            )
            continue
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
        head = summary["headline"]
        bt = head.get("backtest", {}).get("clv")
        mig = head.get("migration")
        bt_text = f"{bt['capture']:.1%} / {bt['missed']:.1%}" if bt else "-"
        mig_text = f"+{mig['up']:,} / -{mig['down']:,}" if mig else "-"
        rows.append(
            "<tr>"
            f"<td><a href='{html.escape(period)}/report.html'>{html.escape(period)}</a></td>"
            f"<td>{html.escape(summary['facts'].get('parameter observation_end', ''))}</td>"
            f"<td>{head['customers']:,}</td>"
            f"<td>{head['predicted_clv_total']:,.0f}</td>"
            f"<td>{head['top_tier_share_customers']:.1%} / {head['top_tier_share_clv']:.1%}</td>"
            f"<td>{bt_text}</td>"
            f"<td>{mig_text}</td>"
            f"<td><a href='{html.escape(period)}/graded_customers.csv'>csv</a></td>"
            "</tr>"
        )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Customer grading reports · 客户分级报告</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border-bottom:1px solid #ddd;padding:.4em .8em;text-align:right}}
td:first-child,th:first-child{{text-align:left}}</style></head><body>
<h1>Customer grading reports · 客户分级报告</h1>
<table><thead><tr><th>period 期间</th><th>data up to 截止</th><th>customers 客户</th>
<th>predicted CLV 预测价值</th><th>top tier: customers / value 最高等级：客户/价值</th>
<th>back-test: capture / missed 回测：捕获/遗漏</th><th>moved up / down 升级/降级</th>
<th>table 表</th></tr></thead><tbody>
{"".join(rows)}
</tbody></table></body></html>
"""
    target = reports_dir / "index.html"
    temporary = target.with_name(".index.html.tmp")
    temporary.write_text(page, encoding="utf-8")
    os.replace(temporary, target)
    return target
