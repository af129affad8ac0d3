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
