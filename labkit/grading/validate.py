"""Validate as a learner needs it: every ✓ and ✗ of the self-checks, the points they give, and what grading adds.

nbgrader's Validate runs the notebook top to bottom and, for a test cell below full marks, says only "Partial
credit; passed some but not all of the tests" (even at 0 points), discarding the lines the lab's ``Checks``
printed. :class:`SelfCheckValidator` is nbgrader's ``Validator`` with that one step replaced: a failing cell is
shown by its task's title with its points and every check line, and the first one starts with the whole
notebook's summary (every task's points) and the reminder that hidden checks, on new inputs, run at grading.

The toolbar's Validate button uses it once :func:`_load_jupyter_server_extension` has run (``make lab`` and the
kit's JupyterLab load it); ``labkit validate NOTEBOOK`` prints the same report for every task, passed or not.

>>> import nbformat
>>> cell = nbformat.v4.new_code_cell("checks.score()", metadata={"nbgrader": {"grade_id": "t", "grade": True,
...                                                                         "points": 3, "solution": False}})
>>> printed = "✓ a\\n✗ b: expected 2, got 1\\n1/2 checks passed\\n"
>>> cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed),
...                 nbformat.v4.new_output("execute_result", data={"text/plain": "1.5"}, execution_count=1)]
>>> print(cell_report(cell, "Your task 1 · add"))
Your task 1 · add: 1.5 / 3 points from the visible checks
  ✓ a
  ✗ b: expected 2, got 1
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbconvert.filters import ansi2html
from nbgrader import utils
from nbgrader.validator import Validator

from labkit.grading import cells
from labkit.grading.feedback import format_points, strip_ansi

HIDDEN_NOTE = ("These are the self-checks only. When your lab is graded, hidden checks run your answers again on new "
               "inputs, so an answer tuned to the examples above can still lose points.")


def _check_lines(cell) -> list[str]:
    text = "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")
    return [line for line in strip_ansi(text).splitlines() if line.startswith(("✓", "✗"))]


def _errors(cell) -> list[str]:
    return [f"{o.get('ename')}: {strip_ansi(o.get('evalue', ''))}" for o in cell.get("outputs", [])
            if o.get("output_type") == "error"]


def cell_report(cell, title: str) -> str:
    """One test cell: its title, the points its visible checks give, and each check line (or the error)."""
    score, points = utils.determine_grade(cell)
    lines = [f"{title}: {format_points(score or 0)} / {format_points(points)} points from the visible checks"]
    lines += [f"  {line}" for line in _check_lines(cell)] + [f"  error: {e}" for e in _errors(cell)]
    return "\n".join(lines)


def notebook_report(nb) -> tuple[str, float, float]:
    """Every test cell's report, the visible points earned and the points at stake."""
    titles = cells.task_titles(nb)
    graded = [c for c in nb.cells if cells.is_test(c)]
    earned = sum(utils.determine_grade(c)[0] or 0 for c in graded)
    total = sum(cells.points(c) for c in graded)
    parts = [cell_report(c, titles.get(cells.grade_id(c), cells.grade_id(c))) for c in graded]
    summary = f"Self-checks: {format_points(earned)} / {format_points(total)} points. {HIDDEN_NOTE}"
    return "\n\n".join([summary, *parts]), earned, total


class SelfCheckValidator(Validator):
    """nbgrader's ``Validator``, reporting each failing test cell by task, with its check lines and points."""

    def validate(self, filename: str) -> dict:
        self._titles = cells.task_titles(nbformat.read(filename, as_version=4))
        self._executed = None
        results = super().validate(filename)
        failed = results.get("failed")
        if failed and self._executed is not None:
            summary = notebook_report(self._executed)[0].split("\n\n")[0]
            failed[0]["raw_error"] = f"{summary}\n\n{failed[0]['raw_error']}"
            failed[0]["error"] = ansi2html(failed[0]["raw_error"])
        return results

    def _preprocess(self, nb):
        from traitlets.config import Config

        from labkit.runner import _ipc_kernel_manager

        # the kit's kernels talk over Unix sockets (no "running over TCP without encryption" warning)
        self.update_config(Config({"Execute": {"kernel_manager_class": _ipc_kernel_manager()}}))
        self._executed = super()._preprocess(nb)
        return self._executed

    def _extract_error(self, cell) -> str:
        if not (cells.is_test(cell) and (_check_lines(cell) or _errors(cell))):
            return super()._extract_error(cell)
        return cell_report(cell, self._titles.get(cells.grade_id(cell), cells.grade_id(cell)))

    def _get_failed_cells(self, nb):
        failed = super()._get_failed_cells(nb)
        for cell in failed:  # the dialog shows each failed cell's source: the task's title says more
            if cells.is_test(cell):
                cell.source = self._titles.get(cells.grade_id(cell), cells.grade_id(cell))
        return failed


def validate(path: Path) -> tuple[str, float, float]:
    """Run ``path`` as Validate does and report every task (``labkit validate``). A notebook whose locked cells
    were edited, or whose cells changed type, is reported as such with no points: grading uses the lab's own
    tests, so the edited ones predict nothing."""
    from nbgrader.apps import NbGrader

    app = NbGrader()
    app.load_config_file()
    validator = SelfCheckValidator(config=app.config)
    results = validator.validate(str(path))
    if results.get("type_changed") or results.get("changed"):
        kinds = "changed type" if results.get("type_changed") else "were edited, but must not be"
        cells_ = results.get("type_changed") or results.get("changed")
        shown = "\n\n".join(c["source"][:300] for c in cells_)
        return (f"These cells {kinds} (grading uses the lab's own version of them, so restore them from the "
                f"released lab):\n\n{shown}", 0.0, 1.0)
    return notebook_report(validator._executed)


def _load_jupyter_server_extension(serverapp) -> None:
    """Make the toolbar's Validate (nbgrader's handler) use :class:`SelfCheckValidator`."""
    from nbgrader.server_extensions.validate_assignment import handlers

    handlers.Validator = SelfCheckValidator
    serverapp.log.info("labkit: Validate reports every self-check")


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "labkit.grading.validate"}]
