"""A term in miniature, through a real JupyterHub in Chromium: three learners log in, fetch lab 04 from the Assignment
List, one hands in complete work, one half, one late; the instructor collects, grades and releases feedback; each
learner fetches their own feedback and sees their score; the formgrader, opened through the hub, shows the three;
the Canvas CSV holds them with the late penalty applied."""

from __future__ import annotations

import csv
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import classroom_helpers
import pytest
from classroom_helpers import LAB, NB, ROOT
from conftest import SCREENSHOTS

from labkit.grading.feedback import format_points

PASSWORD = "class-pw-4242"
DEMO = ROOT / "grading" / "demo" / LAB
WORK = {"done": "perfect", "half": "partial", "late": "perfect"}


@pytest.fixture(scope="module")
def class_hub():
    from labkit.classroom.accounts import create_plain, exists
    from labkit.classroom.course_file import load
    from labkit.classroom.hub import Hub
    from labkit.classroom.roster import read

    with classroom_helpers.a_class(list(WORK), hub=True) as klass:
        teacher = f"{klass.course_id}teach"
        if not exists(teacher):
            create_plain(teacher, "test instructor")
        accounts = [*klass.names.values(), teacher]
        subprocess.run(["chpasswd"], input="".join(f"{u}:{PASSWORD}\n" for u in accounts), text=True, check=True)
        course = load(klass.course_file)
        with Hub(course, read(course.roster), klass.root, port=0, full=False, progress=lambda _: None) as hub:
            yield klass, hub, teacher


def log_in(browser, url: str, user: str):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(url + "hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    return context, page


def open_assignment_list(page, user: str, listing: str = "released_assignments_list") -> None:
    page.wait_for_url(f"**/user/{user}/lab**", timeout=180_000)
    page.locator(".jp-LabShell").wait_for(timeout=120_000)
    page.get_by_text("Nbgrader", exact=True).click()
    page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
    page.locator(f"#{listing} .list_item", has_text=LAB).first.wait_for(timeout=60_000)


def item(page, listing: str, text: str = LAB):
    """The lab's row in one of the Assignment List's three lists (not the notebooks nested under it)."""
    return page.locator(f"#{listing} .list_item:not(.nested_list_item)", has_text=text).first


def hand_in(page, klass, who: str) -> None:
    """Fetch the lab from the Assignment List, do the work (the demo notebook stands for it), press Submit."""
    user = klass.names[who]
    item(page, "released_assignments_list").get_by_role("button", name="Fetch").click()
    item(page, "fetched_assignments_list").wait_for(timeout=60_000)
    target = Path("/home") / user / LAB / NB
    shutil.copy(DEMO / f"{WORK[who]}.ipynb", target)
    shutil.chown(target, user, user)
    item(page, "fetched_assignments_list").get_by_role("button", name="Submit").click()
    item(page, "submitted_assignments_list").wait_for(timeout=60_000)


def test_a_term_through_the_hub(class_hub, browser) -> None:
    klass, hub, teacher = class_hub
    pages = {}
    try:
        for who in ("done", "half"):
            pages[who] = log_in(browser, hub.url, klass.names[who])
            open_assignment_list(pages[who][1], klass.names[who])
            hand_in(pages[who][1], klass, who)
        time.sleep(1.1)
        due = datetime.now(UTC)
        time.sleep(1.1)
        pages["late"] = log_in(browser, hub.url, klass.names["late"])
        open_assignment_list(pages["late"][1], klass.names["late"])
        hand_in(pages["late"][1], klass, "late")
        klass.set_dates(due, due + timedelta(days=3))  # the due date had passed when "late" submitted

        collected = klass.labkit("collect", LAB).stdout
        assert "collected 3/3 (1 late)" in collected, collected
        graded = klass.labkit("grade", LAB, "-j", "2").stdout
        scores = {who: float(graded.split(klass.names[who], 1)[1].split("/")[0]) for who in WORK}
        assert scores["done"] == scores["late"] == 10 and 0 < scores["half"] < 10, graded
        klass.labkit("feedback", LAB)

        for who, (_, page) in pages.items():
            page.click("#refresh_assignments_list")
            row = item(page, "submitted_assignments_list")
            row.get_by_role("button", name="Fetch Feedback").first.click()
            row.get_by_text("view feedback").first.wait_for(timeout=60_000)
            (html,) = (Path("/home") / klass.names[who] / LAB / "feedback").rglob("*.html")
            relative = html.relative_to(Path("/home") / klass.names[who])
            page.goto(hub.url + f"user/{klass.names[who]}/files/{relative}")
            text = page.locator("body").inner_text()
            assert klass.names[who] in text and f"Score: {format_points(scores[who])} / 10" in text
            assert not any(n in text for k, n in klass.names.items() if k != who)
            assert ("Handed in late" in text) == (who == "late")
        page = pages["done"][1]
        page.goto(hub.url + f"user/{klass.names['done']}/lab")
        open_assignment_list(page, klass.names["done"], "submitted_assignments_list")
        item(page, "submitted_assignments_list").get_by_text("view feedback").first.wait_for(timeout=60_000)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "class-assignment-list.png")

        context, page = log_in(browser, hub.url, teacher)
        pages["teacher"] = (context, page)
        page.goto(hub.url + "services/formgrader/formgrader/manage_students")
        table = page.locator("table")
        for who in WORK:
            table.get_by_text(klass.names[who]).first.wait_for(timeout=120_000)
        page.screenshot(path=SCREENSHOTS / "class-formgrader.png")
    finally:
        for context, _ in pages.values():
            context.close()

    out = klass.root / "canvas.csv"
    klass.labkit("export", "--format", "canvas", "--lab", LAB, "-o", str(out))
    rows = {r["SIS Login ID"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    column = next(c for c in next(iter(rows.values())) if c.startswith(LAB))
    assert float(rows[klass.names["done"]][column]) == 10
    assert float(rows[klass.names["late"]][column]) == pytest.approx(9.0)  # 10 less 10 % for a day started late
    assert float(rows[klass.names["half"]][column]) == round(scores["half"], 2)  # Canvas gets 2 decimals
