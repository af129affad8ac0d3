"""Every released lab, the way a learner meets it: opened in JupyterLab 4, run to the end in the kit's
kernel, looked at (errors, figures, widgets, the browser's console), a slider moved, nbgrader's Validate
pressed. A screenshot of each lab goes to build/screenshots/."""

from __future__ import annotations

import pytest
from conftest import SCREENSHOTS, shut_down_kernels
from lab_page import (
    Console,
    kernel,
    move_each_slider,
    open_notebook,
    outputs,
    rendered_images,
    run_all,
    validate,
    widget_views,
)

from labkit.grading.nbgrader import list_labs
from labkit.jupyter import DISPLAY_NAME, KERNEL_NAME

LABS = list_labs()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.parametrize("lab", LABS)
def test_a_finished_lab_runs_clean_in_jupyterlab(lab, learner_server, page):
    console = Console().attach(page)
    open_notebook(page, learner_server.url(f"lab/workspaces/{lab}/tree/{lab}/{lab}.ipynb"))
    try:
        assert kernel(page) == {"name": KERNEL_NAME, "display": DISPLAY_NAME}
        seconds = run_all(page)
        cells = outputs(page)

        errors = [o for cell in cells for o in cell if o["output_type"] == "error"]
        assert not errors, f"{lab}: {errors[0]['ename']}: {errors[0]['evalue']}"

        pngs = sum("image/png" in o.get("data", {}) for cell in cells for o in cell)
        images = rendered_images(page)
        assert pngs and len(images) >= pngs, f"{lab}: {pngs} figures in the notebook, {len(images)} drawn"
        for image in images:  # titled, labelled plots: never a sliver, never a blank canvas
            assert image["width"] >= 200 and image["height"] >= 100 and image["colours"] >= 3, (lab, image)

        widgets = widget_views(page)
        assert widgets["broken"] == 0, f"{lab}: a widget failed to render"
        assert widgets["rendered"] == widgets["outputs"], (lab, widgets)
        for slider in move_each_slider(page):
            assert slider["changed"], f"{lab}: moving the slider (now {slider['readout']}) changed nothing"

        # the screenshot shows the lab's first slider widget, or else its first figure
        sliders = page.locator(".jp-OutputArea-output .widget-slider:visible")
        figures = page.locator(".jp-OutputArea-output img:visible")
        (sliders if sliders.count() else figures).first.scroll_into_view_if_needed()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{lab}.png")

        verdict = validate(page)
        assert "Success! Your notebook passes all the tests." in verdict, f"{lab}: Validate said:\n{verdict[:2000]}"
        assert not console.real(), f"{lab}: JavaScript errors: {console.real()[:5]}"
        print(f"{lab}: ran in {seconds:.0f} s, {len(images)} figures, {widgets['outputs']} widgets")
    finally:
        shut_down_kernels(learner_server)


def test_validate_lists_each_failed_self_check_and_the_points_it_costs(learner_server, page):
    """The toolbar's Validate on lab 04 with the usual mistakes: the summary, the ✗ lines by task with the hints
    that name each mistake, and the reminder that hidden checks run at grading (nbgrader alone said only
    "Partial credit")."""
    open_notebook(page, learner_server.url("lab/workspaces/mistakes/tree/mistakes/04_metrics.ipynb"))
    try:
        verdict = validate(page)
        assert "Self-checks: " in verdict and "hidden checks run your answers again on new inputs" in verdict
        assert "Your task 1 · regression metrics: " in verdict
        assert "✗ mae of [1, 2] vs [2, 4]: expected 1.5, got 2.5" in verdict
        assert "hint: your MAE equals the MSE" in verdict
        assert "✗ scores of the diabetes classifier" in verdict and "0.95847 ≠ 0.95851" in verdict
        assert "hint: F1 is the harmonic mean of precision and recall" in verdict
        assert "Partial credit" not in verdict
    finally:
        shut_down_kernels(learner_server)
