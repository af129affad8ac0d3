"""nbgrader's cell metadata, read in one place.

>>> import nbformat
>>> cell = nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {"grade_id": "q1", "grade": True,
...                                                                 "solution": False, "points": 2}})
>>> grade_id(cell), is_test(cell), points(cell)
('q1', True, 2.0)
>>> grade_id(nbformat.v4.new_code_cell("y = 2")) is None
True
"""

from __future__ import annotations


def nbgrader(cell) -> dict:
    """The cell's ``nbgrader`` metadata (empty for a cell nbgrader does not know)."""
    return cell.get("metadata", {}).get("nbgrader") or {}


def grade_id(cell) -> str | None:
    return nbgrader(cell).get("grade_id")


def is_graded(cell) -> bool:
    return bool(nbgrader(cell).get("grade"))


def is_solution(cell) -> bool:
    return bool(nbgrader(cell).get("solution"))


def is_test(cell) -> bool:
    """An autograded test cell: graded code that is not the learner's answer."""
    return cell.get("cell_type") == "code" and is_graded(cell) and not is_solution(cell)


def is_manual(cell) -> bool:
    """A cell an instructor grades by hand: graded and answered by the learner."""
    return is_graded(cell) and is_solution(cell)


def points(cell) -> float:
    return float(nbgrader(cell).get("points", 0))


def task_titles(nb) -> dict[str, str]:
    """Each test cell's task as the learner reads it: the nearest heading above the cell, "Your task 3 · build
    the network" (the ``#`` marks dropped), or the test cell's grade id when no heading precedes it.

    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## 2 · Metrics\\n\\n### Your task 1 · F1"),
    ...     nbformat.v4.new_code_cell("def f1(): ...", metadata={"nbgrader": {"grade_id": "f1", "solution": True}}),
    ...     nbformat.v4.new_code_cell("checks.score()",
    ...                               metadata={"nbgrader": {"grade_id": "f1_tests", "grade": True}})])
    >>> task_titles(nb)
    {'f1_tests': 'Your task 1 · F1'}
    """
    titles, heading = {}, None
    for cell in nb.cells:
        if cell.get("cell_type") == "markdown":
            found = [line.lstrip("#").strip() for line in cell.get("source", "").splitlines() if line.startswith("#")]
            heading = found[-1] if found else heading
        elif is_test(cell):
            titles[grade_id(cell)] = heading or grade_id(cell)
    return titles
