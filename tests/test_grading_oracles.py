"""Answers that call the reference their own hidden checks compare with are flagged for review.

A learner who has read labkit's source can answer lab 10's ``psi`` with ``return drift.psi(...)``: every check
passes. Grading keeps the points (a helper call can be legitimate) but flags the submission, so the instructor
sees it in ``labkit report``; a correct answer written out is never flagged.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import nbformat
import pytest
from scratch import gradebook_rows, scratch_course, scratch_env

from labkit.grading import cells
from labkit.grading.nbgrader import lab_notebook, list_labs
from labkit.grading.oracles import module_names, oracle_targets, reference_calls

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
SHORTCUTS = {  # lab 10's answers, each the hidden checks' own reference, reached four different ways
    "drop_solution": "def score_drop(predict, X, y, score, column, order):\n"
                     "    return reference_drop(predict, X, y, score, list(X.columns).index(column), order)\n",
    "shapley_solution": "from labkit.explain.shapley import shapley_from_value\n"
                        "def shapley(value, m):\n    return list(shapley_from_value(value, m))\n",
    "encode_solution": "import labkit.serving.flights as f\n"
                       "def model_input(requests, columns):\n    return f.one_hot_aligned(requests, columns)\n",
    "psi_solution": "def psi(reference, current, bins=10):\n    return drift.psi(reference, current, bins)\n",
}


@pytest.mark.parametrize("lab", list_labs())
def test_no_solution_calls_its_own_oracle(lab: str):
    """The solutions write every answer out: a flag on them would be a false alarm on every correct learner."""
    source = nbformat.read(lab_notebook(lab), as_version=4)
    targets, names = oracle_targets(source), module_names(source)
    for cell in source.cells:
        if cells.is_solution(cell):
            assert reference_calls(cell.source, targets.get(cells.grade_id(cell), set()), names) == [], cell.source


def test_each_way_of_naming_the_reference_is_found():
    source = nbformat.read(lab_notebook("10_serving"), as_version=4)
    targets, names = oracle_targets(source), module_names(source)
    for gid, answer in SHORTCUTS.items():
        assert reference_calls(answer, targets[gid], names), gid
    assert reference_calls("from sklearn.metrics import precision_score as p\n", *_lab04("classification_solution"))


def _lab04(gid: str):
    source = nbformat.read(lab_notebook("04_metrics"), as_version=4)
    return oracle_targets(source)[gid], module_names(source)


@pytest.mark.slow
def test_grading_flags_the_shortcut_and_keeps_the_written_answer_clean(tmp_path):
    lab = "10_serving"
    course = scratch_course(tmp_path / "course", [lab])
    subs = tmp_path / "subs"
    subs.mkdir()
    perfect = nbformat.read(ROOT / "grading" / "demo" / lab / "perfect.ipynb", as_version=4)
    nbformat.write(perfect, subs / "written.ipynb")
    for cell in perfect.cells:
        if cells.grade_id(cell) in SHORTCUTS:
            cell.source = SHORTCUTS[cells.grade_id(cell)]
    nbformat.write(perfect, subs / "shortcut.ipynb")
    # red team: answer psi with a constant, and patch the hidden checks' reference to agree with it
    constant = "def psi(reference, current, bins=10):\n    return 0.0\n"
    for name, prefix in (("constant", ""), ("patched", "import labkit.serving.drift as _d\n"
                                                        "_d.psi = lambda *args, **kwargs: 0.0\n")):
        for cell in perfect.cells:
            if cells.grade_id(cell) == "psi_solution":
                cell.source = prefix + constant
        nbformat.write(perfect, subs / f"{name}.ipynb")
    env = {**os.environ, **scratch_env(course)}
    proc = subprocess.run([str(BIN / "labkit"), "grade", lab, str(subs), "--workers", "2"], env=env,
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    totals: dict[str, float] = {}
    for student, _, score in gradebook_rows(course):
        totals[student] = totals.get(student, 0) + (score or 0)
    assert totals["written"] == totals["shortcut"] == 10
    assert totals["patched"] <= totals["constant"] < 10, totals  # the patch of the reference earns nothing
    report = subprocess.run([str(BIN / "labkit"), "report", lab], env=env, capture_output=True, text=True,
                            timeout=600)
    flagged = [line for line in report.stdout.splitlines() if "the reference its hidden checks compare with" in line]
    flagged = [line for line in flagged if line.startswith("review shortcut")]
    assert len(flagged) == 1, report.stdout[-3000:]
    for gid in SHORTCUTS:
        assert gid in flagged[0], flagged[0]
