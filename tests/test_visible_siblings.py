"""Each hidden check has a visible sibling of the same kind, so the self-check predicts the grade.

A hidden check of ``close`` on ``regression_report`` must have a visible ``close`` on ``regression_report``
above it in the same test cell; a hidden check whose lambda calls no answer directly (it examines a value
computed before, or calls the answer through a loop variable) needs a visible check of the same method.
"""

import ast
import re

import nbformat
import pytest

from labkit.grading import cells
from labkit.grading.nbgrader import lab_notebook, list_labs
from labkit.grading.slicing import parse

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.DOTALL)


def kinds(source: str, answers: set[str]) -> set[tuple[str, str]]:
    """``(method, answer called)`` of each ``checks.<method>(…)``; ``"?"`` when its arguments call no answer."""
    found = set()
    for node in ast.walk(parse(source)):
        method = node.func if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) else None
        if method and isinstance(method.value, ast.Name) and method.value.id == "checks" \
                and method.attr not in ("score", "answer"):
            called = {n.id for arg in node.args[1:] for n in ast.walk(arg)
                      if isinstance(n, ast.Name) and n.id in answers}
            found |= {(node.func.attr, name) for name in called or {"?"}}
    return found


def missing_siblings(nb: nbformat.NotebookNode) -> dict[str, set[tuple[str, str]]]:
    answers = set()
    for cell in nb.cells:
        if cells.is_solution(cell) and cell.cell_type == "code":
            body = parse(cell.source).body
            answers |= {n.name for n in body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
            answers |= {t.id for n in body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    missing = {}
    for cell in nb.cells:
        if cells.is_test(cell):
            visible = kinds(HIDDEN.sub("", cell.source), answers)
            methods = {method for method, _ in visible}
            gaps = {(m, f) for m, f in kinds("".join(HIDDEN.findall(cell.source)), answers)
                    if (m, f) not in visible and not (f == "?" and m in methods)}
            if gaps:
                missing[cells.grade_id(cell)] = gaps
    return missing


@pytest.mark.parametrize("lab", list_labs())
def test_each_hidden_check_has_a_visible_sibling(lab: str):
    assert missing_siblings(nbformat.read(lab_notebook(lab), as_version=4)) == {}


def test_a_hidden_check_without_a_sibling_is_found():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("def f(x):\n    return x",
                                  metadata={"nbgrader": {"grade_id": "a", "solution": True}}),
        nbformat.v4.new_code_cell("checks.equal('one', lambda: f(1), 1)\n### BEGIN HIDDEN TESTS\n"
                                  "checks.close('random', lambda: f(2.0), 2.0)\n### END HIDDEN TESTS\n",
                                  metadata={"nbgrader": {"grade_id": "t", "grade": True}}),
    ])
    assert missing_siblings(nb) == {"t": {("close", "f")}}
