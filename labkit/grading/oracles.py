"""Answers that call the reference their own hidden checks compare with: flagged for review.

A lab's hidden checks compare a learner's function with labkit's reference implementation (or scikit-learn's)
on fresh inputs (lab 10's ``psi`` against ``labkit.serving.drift.psi``). A learner who has read labkit's source
can answer ``return drift.psi(reference, current, bins)`` and pass every check without writing the formula.
Grading cannot forbid importing labkit (answers legitimately use its helpers), so :func:`reference_calls`
finds, statically, an answer that names its own task's oracle, through the lab's imports or its own
(``from labkit.serving.drift import psi``, ``drift.psi``, ``import labkit.serving.drift as d; d.psi``), and the
submission is flagged. A reference reached by computed names (``getattr``, ``importlib``) is not found: the flag
is for the obvious shortcut, and the static scan already flags most dynamic tricks.

>>> import nbformat
>>> nb = nbformat.v4.new_notebook(cells=[
...     nbformat.v4.new_code_cell("from labkit.serving import drift"),
...     nbformat.v4.new_code_cell("def psi(a, b):\\n    return 0", metadata={"nbgrader": {"grade_id": "psi_solution",
...                                                                                       "solution": True}}),
...     nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\\n"
...                               "checks.close('psi', lambda: psi([1], [2]), drift.psi([1], [2]))\\n"
...                               "### END HIDDEN TESTS",
...                               metadata={"nbgrader": {"grade_id": "psi_tests", "grade": True}})])
>>> targets = oracle_targets(nb)
>>> targets
{'psi_solution': {('labkit.serving.drift', 'psi')}}
>>> reference_calls("def psi(a, b):\\n    return drift.psi(a, b)", targets["psi_solution"], module_names(nb))
['labkit.serving.drift.psi']
"""

from __future__ import annotations

import ast
import re

import nbformat

from labkit.grading import cells
from labkit.grading.slicing import is_demo, parse

ORACLE_PACKAGES = ("labkit", "sklearn")  # where hidden checks get their expected values (never NumPy's mean)
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.DOTALL)
Target = tuple[str, str]  # (labkit module, attribute): the object a name stands for


def _imports(tree: ast.AST | None) -> dict[str, str]:
    """``{local name: dotted origin}`` for the labkit and scikit-learn imports in ``tree``: ``drift`` →
    ``labkit.serving.drift``, ``reference_drop`` → ``labkit.explain.permutation.score_drop``."""
    found: dict[str, str] = {}
    for node in ast.walk(tree) if tree is not None else []:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ORACLE_PACKAGES \
                and not node.level:
            found |= {(a.asname or a.name): f"{node.module}.{a.name}" for a in node.names if a.name != "*"}
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in ORACLE_PACKAGES:
                    found[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
    return found


def module_names(source: nbformat.NotebookNode) -> dict[str, str]:
    """The labkit names the lab's own code cells import (what grading re-runs before every test cell)."""
    names: dict[str, str] = {}
    for cell in source.cells:
        if cell.cell_type == "code" and not (cells.is_solution(cell) or cells.is_test(cell) or is_demo(cell)):
            names |= _imports(parse(cell.source))
    return names


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else ``None``."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _targets_named(tree: ast.AST | None, names: dict[str, str]) -> set[Target]:
    """The labkit objects ``tree`` reads through ``names`` (longest dotted chain first)."""
    found: set[Target] = set()
    nodes = list(ast.walk(tree)) if tree is not None else []
    inner = {id(n.value) for n in nodes if isinstance(n, ast.Attribute)}  # `drift` inside `drift.psi`
    for node in nodes:
        if id(node) in inner:
            continue
        chain = _dotted(node) if isinstance(node, ast.Attribute | ast.Name) else None
        if not chain or (isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load)):
            continue
        head, _, rest = chain.partition(".")
        if head in names:
            origin = f"{names[head]}.{rest}" if rest else names[head]
            module, _, attr = origin.rpartition(".")
            if module.split(".")[0] in ORACLE_PACKAGES:
                found.add((module, attr))
    return found


# labkit functions a check uses to build its inputs, never to compute the expected answer
INFRASTRUCTURE = {("labkit.spark", "get_spark"), ("labkit.spark", "load_flights"), ("labkit.datasets", "load_mnist")}
COMPARING = {"close", "equal", "below"}


def _outermost_calls(expression: ast.AST) -> list[ast.Call]:
    """The calls in ``expression`` that are not an argument of another call."""
    nested = {id(n) for call in ast.walk(expression) if isinstance(call, ast.Call)
              for arg in [*call.args, *(k.value for k in call.keywords)] for n in ast.walk(arg)}
    return [n for n in ast.walk(expression) if isinstance(n, ast.Call) and id(n) not in nested]


def _expected_targets(hidden: ast.AST | None, names: dict[str, str]) -> set[Target]:
    """The labkit objects that compute the *expected* side of the hidden checks: the outermost calls in the third
    argument of ``checks.close``/``equal``/``below``, or in what the hidden block assigned to the name that
    argument is made of (``want["mean"]`` → ``want = …``), never the inputs handed to those calls."""
    if hidden is None:
        return set()
    assigned: dict[str, list[ast.AST]] = {}
    for node in ast.walk(hidden):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        assigned.setdefault(name.id, []).append(node.value)
    todo = [call.args[2] for call in ast.walk(hidden) if isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute) and call.func.attr in COMPARING
            and isinstance(call.func.value, ast.Name) and call.func.value.id == "checks" and len(call.args) > 2]
    found: set[Target] = set()
    seen: set[str] = set()
    while todo:
        expression = todo.pop()
        for call in _outermost_calls(expression):  # `grid_configs(...)`, not the `choice(...)` inside it
            found |= _targets_named(call.func, names)
        in_arguments = {id(n) for call in ast.walk(expression) if isinstance(call, ast.Call)
                        for arg in [*call.args, *(k.value for k in call.keywords)] for n in ast.walk(arg)}
        for name in ast.walk(expression):  # what the expected value is made from, not a call's inputs
            if isinstance(name, ast.Name) and id(name) not in in_arguments and name.id in assigned \
                    and name.id not in seen:
                seen.add(name.id)
                todo += assigned[name.id]
    return found - INFRASTRUCTURE


def oracle_targets(source: nbformat.NotebookNode) -> dict[str, set[Target]]:
    """For each answer cell, the labkit objects that compute what its task's hidden checks expect, and that its
    own solution does not use."""
    names = module_names(source)
    result: dict[str, set[Target]] = {}
    answer, answer_uses = None, set()
    for cell in source.cells:
        if cell.cell_type != "code":
            continue
        if cells.is_solution(cell):
            answer = cells.grade_id(cell)
            answer_uses = _targets_named(parse(cell.source), names | _imports(parse(cell.source)))
        elif cells.is_test(cell) and answer:
            hidden = parse("\n".join(HIDDEN.findall(cell.source)))
            used = _expected_targets(hidden, names | _imports(hidden))
            result[answer] = result.get(answer, set()) | (used - answer_uses)
    return {k: v for k, v in result.items() if v}


def reference_calls(answer: str, targets: set[Target], names: dict[str, str]) -> list[str]:
    """The oracles among ``targets`` that the learner's ``answer`` names, as dotted paths."""
    tree = parse(answer)
    reached = _targets_named(tree, names | _imports(tree))
    for node in ast.walk(tree) if tree is not None else []:  # `from labkit.serving.drift import psi` itself
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            reached |= {(node.module, a.name) for a in node.names}
    return sorted(f"{module}.{attr}" for module, attr in reached & targets)
