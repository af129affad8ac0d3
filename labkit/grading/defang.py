"""Stage 6's last step: the graded notebook made safe to open in the instructor's formgrader.

nbgrader's formgrader shows a graded notebook as HTML in the instructor's browser, markdown rendered as written
and outputs as they were produced: a learner's ``<img onerror=…>`` in a markdown cell, or ``display(HTML(…))`` in
their code, would run as the instructor there (and could, through the formgrader's own API, change grades).
:func:`defang` escapes raw HTML in every markdown cell the course's source does not hold word for word, and
keeps only inert representations (plain text and bitmap images) of every output.

>>> import nbformat
>>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell('<img src=x onerror="alert(1)">')])
>>> defang(nb, trusted=set()).cells[0].source
'&lt;img src=x onerror="alert(1)">'
"""

from __future__ import annotations

import copy

import nbformat

INERT = ("text/plain", "image/png", "image/jpeg", "image/gif")  # what cannot run code in a browser


def _inert(output: nbformat.NotebookNode) -> nbformat.NotebookNode:
    if "data" in output:
        dropped = sorted(set(output["data"]) - set(INERT))
        output["data"] = {k: v for k, v in output["data"].items() if k in INERT}
        if dropped and "text/plain" not in output["data"]:
            output["data"]["text/plain"] = f"(an output of type {', '.join(dropped)}, not shown while grading)"
    return output


def defang(nb: nbformat.NotebookNode, trusted: set[str]) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose markdown cells outside ``trusted`` (the source's own texts) show raw HTML as text and
    whose outputs keep only :data:`INERT` representations."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source not in trusted:
            cell.source = cell.source.replace("<", "&lt;")
        if cell.cell_type == "code":
            cell.outputs = [_inert(o) for o in cell.get("outputs", [])]
        cell.get("metadata", {}).pop("attachments", None)
        cell.pop("attachments", None)
    return nb
