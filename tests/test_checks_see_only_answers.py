"""A lab's checks read only the learner's answers, never notebook data a learner may rebind.

A learner reuses names: a scratch cell ``y_true = …`` below a correct answer made a check that read the
notebook's ``y_true`` fail, and cost points at grading. So every test cell builds its own inputs (or asks
labkit for them: ``load_flights(get_spark(), …)``, ``load_mnist()``), and may read only: what the lab imports
in its ordinary cells (the imports grading re-runs before every test cell, so a rebound name is put back),
the learner's answers (names the solution cells define), names the test cell defines itself, and built-ins. Not
even a helper function the lab defines in an ordinary cell: a learner can redefine it (a ``reference_network``
that returns whatever their answer returns), so reference code lives in labkit. A ``finally:`` block that puts
the notebook's own state back after the checks is not an input and may read the notebook's names.
"""

import ast
import builtins

import nbformat
import pytest

from labkit.grading import cells
from labkit.grading.nbgrader import lab_notebook, list_labs
from labkit.grading.slicing import is_demo, parse


def _bound(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


def _read(tree: ast.AST) -> set[str]:
    restoring = {id(n) for node in ast.walk(tree) if isinstance(node, ast.Try)
                 for stmt in node.finalbody for n in ast.walk(stmt)}
    return {node.id for node in ast.walk(tree)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and id(node) not in restoring}


def notebook_data_read_by_tests(lab: str) -> dict[str, set[str]]:
    nb = nbformat.read(lab_notebook(lab, released=False), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    allowed = set(dir(builtins)) | {"checks"}
    for cell in code:
        tree = parse(cell.source)
        if not (is_demo(cell) or cells.is_test(cell) or cells.is_solution(cell)):  # what the grader's prelude re-runs
            allowed |= {(a.asname or a.name).split(".")[0] for n in ast.walk(tree)
                        if isinstance(n, ast.Import | ast.ImportFrom) for a in n.names}
        if cells.is_solution(cell):
            allowed |= _bound(tree)          # the learner's answers, whatever they are
    found = {}
    for cell in code:
        if cells.is_test(cell):
            tree = parse(cell.source)
            data = _read(tree) - _bound(tree) - allowed
            if data:
                found[cells.grade_id(cell)] = data
    return found


@pytest.mark.parametrize("lab", list_labs())
def test_test_cells_read_no_notebook_data(lab: str):
    assert notebook_data_read_by_tests(lab) == {}, "build these inputs inside the test cell"


def test_the_reader_catches_a_check_on_a_notebook_global(tmp_path, monkeypatch):
    """Guards the test above: a check on the notebook's ``y_true``, or through a helper the notebook defines, is
    found."""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import numpy as np\ny_true = np.arange(4)\ndef reference(y):\n    return y"),
        nbformat.v4.new_code_cell("def f(y):\n    return y",
                                  metadata={"nbgrader": {"grade_id": "a", "solution": True}}),
        nbformat.v4.new_code_cell("checks.equal('x', lambda: f(y_true), reference([0, 1, 2, 3]))\n"
                                  "try:\n    pass\nfinally:\n    restore(y_true)",
                                  metadata={"nbgrader": {"grade_id": "t", "grade": True}}),
    ])
    path = tmp_path / "lab.ipynb"
    nbformat.write(nb, path)
    monkeypatch.setattr(f"{__name__}.lab_notebook", lambda lab, released=False: path)
    assert notebook_data_read_by_tests("any") == {"t": {"y_true", "reference"}}  # the finally block is exempt
