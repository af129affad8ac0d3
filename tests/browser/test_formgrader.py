"""The instructor's view: nbgrader's formgrader, opened in JupyterLab on a course graded by ``labkit grade``,
shows the lab, and each demo learner with the score the gradebook holds."""

from __future__ import annotations

import re

from conftest import SCREENSHOTS
from lab_page import Console
from scratch import gradebook_rows


def test_the_formgrader_shows_the_graded_demo_submissions(instructor_course, instructor_server, browser):
    course, _ = instructor_course
    want: dict[str, float] = {}
    for student, _, score in gradebook_rows(course):
        want[student] = want.get(student, 0) + score
    assert want["perfect"] == 10 and want["blank"] == 0 and 0 < want["partial"] < 10

    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    console = Console().attach(page)
    try:
        page.goto(instructor_server.url("formgrader"))
        page.get_by_text("04_metrics").first.wait_for(timeout=60_000)

        page.goto(instructor_server.url("formgrader/manage_students"))
        table = page.locator("table")
        table.get_by_text("perfect").first.wait_for(timeout=60_000)
        rows = {}
        for row in table.locator("tbody tr").all():
            cells = [c.strip() for c in row.locator("td").all_inner_texts()]
            student = next((c for c in cells if c in want), None)
            if student:
                rows[student] = cells
        assert set(rows) == set(want), rows
        for student, cells in rows.items():
            shown = [float(m) for c in cells for m in re.findall(r"^(\d+(?:\.\d+)?)\s*/\s*10", c)]
            assert shown and abs(shown[0] - want[student]) < 0.01, (student, cells, want[student])
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "formgrader.png")
        assert not console.real(), console.real()[:5]
    finally:
        context.close()
