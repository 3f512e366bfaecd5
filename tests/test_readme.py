"""The README's Python example runs as written."""

from __future__ import annotations

import re

import polars as pl

from clv.paths import PROJECT_ROOT


def test_readme_example_runs(monkeypatch):
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, "the README has no Python example"
    monkeypatch.chdir(PROJECT_ROOT)  # the example uses paths relative to the project
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    scores = namespace["scores"]
    assert isinstance(scores, pl.DataFrame)
    assert scores.height == 2357
    for column in ("expected_purchases", "p_alive", "churn_probability", "clv"):
        assert column in scores.columns
