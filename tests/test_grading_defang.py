"""The graded copy the formgrader shows: no learner HTML or script survives; the course's own text does."""

from __future__ import annotations

import nbformat

from labkit.grading.defang import INERT, defang

ATTACK = '<img src=x onerror="fetch(`/services/formgrader/formgrader/api/grade/1`, {method: `PUT`})">'


def test_learner_html_and_active_outputs_are_made_inert_and_the_source_is_kept() -> None:
    course_text = "## Task 1\n<details><summary>hint</summary>use the mean</details>"
    code = nbformat.v4.new_code_cell("display(HTML(...))")
    code.outputs = [nbformat.v4.new_output("display_data", data={
        "text/html": ATTACK, "application/javascript": "alert(1)", "image/svg+xml": "<svg onload=alert(1)/>",
        "text/plain": "<HTML object>", "image/png": "iVBORw0KGgo="})]
    only_html = nbformat.v4.new_output("execute_result", data={"text/html": ATTACK}, execution_count=1)
    code.outputs.append(only_html)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(course_text),
                                         nbformat.v4.new_markdown_cell(f"My answer {ATTACK}"), code])
    shown = defang(nb, trusted={course_text})
    assert ATTACK not in nbformat.writes(shown)  # nowhere: markdown escaped, outputs stripped
    assert shown.cells[0].source == course_text  # the instructor's own HTML stays
    assert shown.cells[1].source.startswith("My answer &lt;img")
    first, second = shown.cells[2].outputs
    assert set(first["data"]) == {"text/plain", "image/png"} <= set(INERT)
    assert set(second["data"]) == {"text/plain"} and "not shown while grading" in second["data"]["text/plain"]
    assert nb.cells[1].source.startswith("My answer <img")  # (a copy: the executed notebook is not changed)
