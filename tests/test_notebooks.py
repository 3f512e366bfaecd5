"""Template notebooks: no outputs, a papermill parameters cell of typed literals."""

from __future__ import annotations

import ast
import io
import tokenize

import nbformat
import pytest

from clv.paths import NOTEBOOKS_DIR

TEMPLATES = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def test_there_are_templates():
    assert {p.name for p in TEMPLATES} == {"grading_report.ipynb", "explore.ipynb"}


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_carries_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {cell.id} has outputs"
            assert cell.execution_count is None, f"cell {cell.id} has an execution count"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_parameters_cell_holds_typed_literals_with_comments(path):
    notebook = nbformat.read(path, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    source = tagged[0].source
    comments = {
        token.start[0]
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    }
    statements = ast.parse(source).body
    assert statements
    for statement in statements:
        assert isinstance(statement, ast.AnnAssign), ast.unparse(statement)
        # a literal (a constant, or a dict of constants such as reading options)
        value = ast.literal_eval(statement.value)
        if isinstance(value, dict):
            assert all(isinstance(v, str | int | float) for v in value.values())
        annotation = ast.unparse(statement.annotation)
        assert annotation == type(value).__name__, ast.unparse(statement)
        assert statement.lineno in comments, f"{ast.unparse(statement)} has no comment"


def test_cells_have_stable_ids():
    notebook = nbformat.read(NOTEBOOKS_DIR / "grading_report.ipynb", as_version=4)
    ids = [c.id for c in notebook.cells]
    assert len(set(ids)) == len(ids)
    assert {"parameters", "load", "fit", "backtest", "grade", "tiers", "migration"} <= set(ids)
