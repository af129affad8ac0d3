"""What a person does in JupyterLab, as Playwright calls: open a notebook, run it, look at it, click Validate.

JupyterLab runs with ``window.jupyterapp`` exposed (``LabServer(expose_app=True)``), so the tests read the
notebook's own model (kernel, outputs) instead of guessing from pixels, and look at the page for what a
person sees (images, widgets, dialogs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from playwright.sync_api import Page

# JupyterLab's own bookkeeping that a closed network makes noisy; none of it is the kit's
BENIGN_CONSOLE = ("Failed to load resource: the server responded with a status of 404", "favicon")


@dataclass
class Console:
    """Every console error and uncaught exception of a page."""

    errors: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> Console:
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        return self

    def real(self) -> list[str]:
        return [e for e in self.errors if not any(b in e for b in BENIGN_CONSOLE)]


def open_notebook(page: Page, url: str, timeout: float = 120) -> None:
    """Open a notebook (``url`` of a ``lab/workspaces/<name>/tree/...`` page, so nothing another test opened
    is restored) and wait until its kernel is started and idle."""
    page.goto(url + "&reset")
    page.wait_for_function(
        "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " return !!(w && w.content && w.content.model && w.sessionContext && w.sessionContext.session"
        " && w.sessionContext.session.kernel && w.sessionContext.session.kernel.status === 'idle'); }",
        timeout=timeout * 1000)


def kernel(page: Page) -> dict:
    """The open notebook's kernel: name, and the display name the toolbar shows."""
    return page.evaluate(
        "() => { const s = window.jupyterapp.shell.currentWidget.sessionContext;"
        " return {name: s.session.kernel.name, display: s.kernelDisplayName}; }")


def run_all(page: Page, timeout: float = 900) -> float:
    """Run -> Run All Cells, then wait until every code cell has run and the kernel is idle; seconds taken."""
    start = time.monotonic()
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        "() => { const w = window.jupyterapp.shell.currentWidget; const cells = w.content.model.cells;"
        " for (let i = 0; i < cells.length; i++) { const c = cells.get(i);"
        "   if (c.type === 'code' && c.sharedModel.getSource().trim() && c.executionCount === null) return false; }"
        " const prompts = [...w.node.querySelectorAll('.jp-InputArea-prompt')];"
        " const busy = prompts.some(p => p.textContent.includes('*'));"
        " return !busy && w.sessionContext.session.kernel.status === 'idle'; }",
        timeout=timeout * 1000, polling=1000)
    return time.monotonic() - start


def outputs(page: Page) -> list[list[dict]]:
    """The outputs of every code cell, from the notebook's model (nbformat JSON)."""
    return page.evaluate(
        "() => { const cells = window.jupyterapp.shell.currentWidget.content.model.cells; const out = [];"
        " for (let i = 0; i < cells.length; i++) { const c = cells.get(i);"
        "   if (c.type === 'code') out.push(c.outputs.toJSON()); }"
        " return out; }")


def rendered_images(page: Page) -> list[dict]:
    """Every image in an output area as the browser decoded it: size, how many distinct colours a 64×64
    sample of it has (1 for a blank figure), and the start of the cell that drew it."""
    return page.evaluate(
        "async () => { const out = [];"
        " for (const img of window.jupyterapp.shell.currentWidget.node.querySelectorAll('.jp-OutputArea-output img')) {"
        "  let colours = 0;"
        "  try { await img.decode(); } catch (e) { }"
        "  if (img.naturalWidth) { const c = document.createElement('canvas'); c.width = 64; c.height = 64;"
        "    const g = c.getContext('2d'); g.drawImage(img, 0, 0, 64, 64);"
        "    const d = g.getImageData(0, 0, 64, 64).data; const seen = new Set();"
        "    for (let i = 0; i < d.length; i += 4) seen.add(d[i] + ',' + d[i+1] + ',' + d[i+2] + ',' + d[i+3]);"
        "    colours = seen.size; }"
        "  const cell = img.closest('.jp-Cell'); const editor = cell && cell.querySelector('.jp-InputArea-editor');"
        "  out.push({width: img.naturalWidth, height: img.naturalHeight, colours,"
        "            cell: editor ? editor.textContent.slice(0, 80) : ''});"
        " } return out; }")


def widget_views(page: Page) -> dict:
    """Widget outputs in the page: rendered views, and any that failed or never finished loading."""
    return page.evaluate(
        "() => { const node = window.jupyterapp.shell.currentWidget.node; const areas = [...node.querySelectorAll("
        "  '.jp-OutputArea-output[data-mime-type=\"application/vnd.jupyter.widget-view+json\"]')];"
        " return {outputs: areas.length,"
        "  rendered: areas.filter(a => a.querySelector('.jupyter-widgets, .widget-inline-hbox')).length,"
        "  broken: areas.filter(a => /Error displaying widget|Loading widget/.test(a.textContent)).length,"
        "  sliders: node.querySelectorAll('.jp-OutputArea-output .widget-slider .noUi-handle').length}; }")


def move_each_slider(page: Page, timeout: float = 60) -> list[dict]:
    """Drag every slider's handle; for each, whether the widget's output (figure or text) changed."""
    results = []
    handles = page.locator(".jp-OutputArea-output .widget-slider .noUi-handle:visible")
    for i in range(handles.count()):
        handle = handles.nth(i)
        handle.scroll_into_view_if_needed()
        area = handle.locator("xpath=ancestor::div[contains(@class, 'jp-OutputArea-output')][1]")
        before = _view_state(area)
        box = handle.bounding_box()
        track = handle.locator("xpath=ancestor::div[contains(@class, 'noUi-target')][1]").bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        # towards the middle of the track: away from whichever end the slider starts at
        target = track["x"] + track["width"] * (0.35 if x > track["x"] + track["width"] / 2 else 0.65)
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(target, y, steps=8)
        page.mouse.up()
        deadline = time.monotonic() + timeout
        after = before
        while time.monotonic() < deadline and after == before:
            page.wait_for_timeout(250)
            after = _view_state(area)
        settled = None  # the drag sent many values: wait for the last redraw, so a screenshot shows the readout's
        while time.monotonic() < deadline and after != settled:
            settled = after
            page.wait_for_timeout(750)
            after = _view_state(area)
        results.append({"changed": after != before, "readout": area.locator(".widget-readout").first.inner_text()})
    return results


def _view_state(area) -> tuple:
    """What the widget shows besides the slider: its figure (an image widget) and printed text (an HTML widget)."""
    return tuple(area.locator(".widget-image, .widget-html").evaluate_all(
        "nodes => nodes.map(n => n.tagName === 'IMG' ? n.src : n.innerText)"))


def validate(page: Page, timeout: float = 900) -> str:
    """Press nbgrader's Validate button; return the text of the dialog it opens (and close it)."""
    page.get_by_role("button", name="Validate").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=timeout * 1000)
    text = dialog.inner_text()
    page.keyboard.press("Escape")
    return text


def close_all_and_shut_down_kernels(page: Page) -> None:
    page.evaluate("async () => { await window.jupyterapp.commands.execute('kernelmenu:shutdown');"
                  " await window.jupyterapp.commands.execute('application:close-all'); }")
