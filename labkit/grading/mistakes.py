"""The usual mistakes of each task, tried against the lab's own checks: what the self-checks catch, and the hints.

``grading/mistakes/<lab>.json`` lists, per solution cell, the mistakes learners make, each as an edit of the
solution's source and a hint that names the mistake without giving the answer::

    {"regression_solution": [
        {"name": "MAE squares the errors",
         "edit": [["np.abs(y_true - y_pred)", "(y_true - y_pred) ** 2"]],
         "hint": "MAE averages absolute errors: squaring them is MSE."}]}

:func:`measure` runs the lab once (small sizes, without the demonstrations grading skips) and, after each
task's test cell, puts every mistake in place of the solution and runs the task's visible self-checks, then, if
they all pass, every check as grading does (hidden ones included). From that, per mistake: whether a self-check
catches it, whether a caught check can name it (its fingerprint is the mistake's alone, see
:mod:`labkit.grading.hints`), and whether it is a *surprise*: passing every self-check yet losing points at
grading. :func:`hints_table` is what ``hints.json`` ships.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from labkit.grading import cells
from labkit.grading.intake import strip_hidden
from labkit.grading.nbgrader import GradingError, lab_notebook
from labkit.paths import course_root

MARKER = "LABKIT-MISTAKES "


def catalogue_path(lab: str) -> Path:
    return course_root() / "grading" / "mistakes" / f"{lab}.json"


def catalogue(lab: str) -> dict[str, list[dict]]:
    """The lab's mistakes by solution cell, checked: every edit must change the solution it names."""
    path = catalogue_path(lab)
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    solutions = {cells.grade_id(c): c.source for c in nbformat.read(lab_notebook(lab), as_version=4).cells
                 if cells.is_solution(c)}
    for grade_id, mistakes in data.items():
        if grade_id not in solutions:
            raise GradingError(f"{path}: no solution cell has grade id {grade_id!r}.")
        for m in mistakes:
            missing = [good for good, _ in m["edit"] if good not in solutions[grade_id]]
            if missing or not m.get("hint") or not m.get("name"):
                raise GradingError(f"{path}: mistake {m.get('name')!r} of {grade_id!r} needs a name, a hint and "
                                   f"edits of text in the solution (not found: {missing}).")
    return data


def apply(source: str, edit: list[list[str]]) -> str:
    """The solution with one mistake made: each ``[good, bad]`` replaces the first ``good``."""
    for good, bad in edit:
        source = source.replace(good, bad, 1)
    return source


def try_mistakes(namespace: dict, solution: str, test: str, mistakes: list[dict]) -> None:
    """Run in the lab's kernel after the task's test cell: each mistake's checks, then the solution back."""
    visible = strip_hidden(test)
    rows = []
    for mistake in mistakes:
        row: dict = {"name": mistake["name"]}
        quiet = (contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()))
        try:
            with quiet[0], quiet[1]:
                exec(compile(apply(solution, mistake["edit"]), "<mistake>", "exec"), namespace)  # noqa: S102
                try:
                    exec(compile(visible, "<self-checks>", "exec"), namespace)  # noqa: S102
                    seen = namespace["checks"]
                    row["visible"] = [[d, ok, seen.fingerprints.get(d, "")] for d, ok, _ in seen.results]
                except Exception:  # noqa: BLE001 - the self-check cell stops with an error: the learner sees it
                    row["visible"] = [["(the self-check cell stopped with an error)", False, ""]]
                if all(ok for _, ok, _ in row["visible"]):  # a caught mistake cannot be a surprise: not graded
                    try:
                        exec(compile(test, "<all checks>", "exec"), namespace)  # noqa: S102
                        every = namespace["checks"]
                        row["score"] = every.points * every.passed / max(len(every.results), 1)
                        row["points"] = every.points
                    except Exception:  # noqa: BLE001 - grading gives such a cell 0
                        row["score"], row["points"] = 0.0, float(namespace["checks"].points)
        except Exception as exc:  # noqa: BLE001 - a mistake that does not even define its function
            row["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(solution, "<solution>", "exec"), namespace)  # noqa: S102
        rows.append(row)
    print(MARKER + json.dumps(rows))


@dataclass
class Outcome:
    """One mistake, tried."""

    task: str
    name: str
    hint: str
    visible: list = field(default_factory=list)  # [description, passed, fingerprint] per self-check
    score: float = 0.0
    points: float = 0.0
    error: str = ""
    named: bool = False

    @property
    def caught(self) -> bool:
        return any(not ok for _, ok, _ in self.visible)

    @property
    def surprise(self) -> bool:
        """Passes every self-check, loses points at grading."""
        return not self.caught and self.score < self.points


def _instrumented(lab: str, found: dict[str, list[dict]]) -> nbformat.NotebookNode:
    """The lab with each task's mistakes tried after its checks, and without the demonstrations grading skips
    too (no check reads what they compute, see :meth:`LabPlan.skipped_demos`): the measure runs what grading
    runs."""
    from labkit.grading.plan import LabPlan

    nb = nbformat.read(lab_notebook(lab), as_version=4)
    skipped = LabPlan.load(lab).skipped_demos(nb)
    solutions = {cells.grade_id(c): c.source for c in nb.cells if cells.is_solution(c)}
    out = []
    for index, cell in enumerate(nb.cells):
        if index in skipped:
            continue
        out.append(cell)
        gid = cells.grade_id(cell) or ""
        task = re.sub(r"_tests$", "_solution", gid)
        if cells.is_test(cell) and task in found:
            code = (f"from labkit.grading.mistakes import try_mistakes as _try_mistakes\n"
                    f"_try_mistakes(globals(), {solutions[task]!r}, {cell.source!r}, {found[task]!r})")
            out.append(nbformat.v4.new_code_cell(code, metadata={"labkit": {"mistakes": task}}))
    nb.cells = out
    return nb


def measure(lab: str, workdir: Path) -> list[Outcome]:
    """Run lab ``lab`` with its small sizes, trying every catalogued mistake after its task's checks."""
    from labkit.runner import execute

    found = catalogue(lab)
    if not found:
        return []
    notebook = workdir / f"{lab}.ipynb"
    nbformat.write(_instrumented(lab, found), notebook)
    for extra in lab_notebook(lab).parent.iterdir():  # the lab's data files beside it
        if extra.is_file() and extra.suffix != ".ipynb" and extra.name != "hints.json":
            (workdir / extra.name).write_bytes(extra.read_bytes())
    result = execute(notebook, workdir / "executed.ipynb", fast=True, timeout=900)
    if not result.ok:
        raise GradingError(f"{lab}: the lab failed while trying its mistakes: {result.error}")
    executed = nbformat.read(result.output, as_version=4)
    outcomes = []
    for cell in executed.cells:
        task = cell.get("metadata", {}).get("labkit", {}).get("mistakes")
        if not task:
            continue
        text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
        rows = json.loads(text.split(MARKER, 1)[1].splitlines()[0])
        hints = {m["name"]: m["hint"] for m in found[task]}
        outcomes += [Outcome(task, r["name"], hints[r["name"]], r.get("visible", []), r.get("score", 0.0),
                             r.get("points", 0.0), r.get("error", "")) for r in rows]
    table = hints_table(outcomes)
    for o in outcomes:
        o.named = any(not ok and table.get(d, {}).get(f) == o.hint for d, ok, f in o.visible)
    return outcomes


def hints_table(outcomes: list[Outcome]) -> dict[str, dict[str, str]]:
    """``{self-check: {fingerprint: hint}}`` for every failed self-check whose fingerprint one mistake alone
    produces (a fingerprint two mistakes share would name the wrong one half the time)."""
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    for o in outcomes:
        for description, ok, mark in o.visible:
            if not ok and mark:
                seen[(description, mark)].add(o.hint)
    table: dict[str, dict[str, str]] = defaultdict(dict)
    for (description, mark), found in sorted(seen.items()):
        if len(found) == 1:
            table[description][mark] = next(iter(found))
    return dict(table)


def summary(outcomes: list[Outcome]) -> dict[str, float]:
    """The three figures the catalogue is judged by."""
    n = len(outcomes) or 1
    return {"mistakes": len(outcomes), "caught": sum(o.caught for o in outcomes) / n,
            "named": sum(o.named for o in outcomes) / n, "surprises": sum(o.surprise for o in outcomes)}


def write_hints(lab: str, outcomes: list[Outcome]) -> Path:
    """``solutions/<lab>/hints.json``: released beside the notebook, read by ``Checks``."""
    path = lab_notebook(lab).parent / "hints.json"
    path.write_text(json.dumps(hints_table(outcomes), indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    return path
