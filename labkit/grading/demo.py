"""Demo submissions for every lab: a perfect one, a partly wrong one and an untouched blank one.

``make course`` grades them to show the whole pipeline; the tests use them to prove that the
solution earns full marks, the partial one some, and the blank one 0 without crashing the grader.

* ``perfect.ipynb`` is the released lab with every answer cell filled from ``solutions/``;
* ``partial.ipynb`` is the perfect one with the mistakes listed in ``grading/demo/<lab>/mistakes.json``
  (``{grade_id: [[correct text, wrong text], ...]}``) applied — realistic slips, not random noise;
* ``blank.ipynb`` is the released lab as a learner receives it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

from labkit.grading import cells
from labkit.grading.nbgrader import GradingError, lab_notebook
from labkit.paths import grading_dir

KINDS = ("perfect", "partial", "blank")
_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)


def demo_dir(lab: str) -> Path:
    return grading_dir() / "demo" / lab


def _answers(lab: str) -> dict[str, str]:
    source = nbformat.read(lab_notebook(lab), as_version=4)
    return {
        cells.grade_id(c): _MARKER.sub("", c.source)
        for c in source.cells
        if cells.is_solution(c)
    }


def build(lab: str) -> dict[str, nbformat.NotebookNode]:
    """The three demo notebooks of ``lab``, built from its released and solution notebooks."""
    blank = nbformat.read(lab_notebook(lab, released=True), as_version=4)
    answers = _answers(lab)
    mistakes_file = demo_dir(lab) / "mistakes.json"
    if not mistakes_file.is_file():
        raise GradingError(f"{mistakes_file} is missing: list the partly wrong submission's mistakes there.")
    mistakes = json.loads(mistakes_file.read_text())
    unknown = set(mistakes) - set(answers)
    if unknown:
        raise GradingError(f"{mistakes_file}: no solution cell has grade id(s) {sorted(unknown)}.")

    def filled(with_mistakes: bool) -> nbformat.NotebookNode:
        nb = nbformat.from_dict(json.loads(json.dumps(blank)))
        for cell in nb.cells:
            grade_id = cells.grade_id(cell)
            if grade_id in answers:
                text = answers[grade_id]
                for good, bad in mistakes.get(grade_id, []) if with_mistakes else []:
                    if good not in text:
                        raise GradingError(f"{mistakes_file}: {good!r} does not occur in the answer {grade_id!r}.")
                    text = text.replace(good, bad)
                cell.source = text
        return nb

    return {"perfect": filled(False), "partial": filled(True), "blank": blank}


def write(lab: str) -> list[Path]:
    """(Re)write ``grading/demo/<lab>/{perfect,partial,blank}.ipynb``."""
    paths = []
    for kind, nb in build(lab).items():
        path = demo_dir(lab) / f"{kind}.ipynb"
        nbformat.write(nb, path)
        paths.append(path)
    return paths
