"""Every Python snippet a lab shows in its prose runs, where the learner reads it.

A snippet in a markdown cell is never executed by the lab itself, so nothing else would notice one that no
longer runs (an unpacking that cannot work, a renamed helper). Here each solution notebook runs with its small
sizes up to its last snippet, and every snippet runs right after the markdown cell that shows it, in a copy of
the notebook's namespace (so it cannot change what the cells after it see).
"""

import re
from pathlib import Path

import nbformat
import pytest

from labkit.grading.nbgrader import lab_notebook, list_labs
from labkit.runner import execute

SNIPPET = re.compile(r"```python\n(.*?)```", re.DOTALL)


def snippets(lab: str) -> list[tuple[int, str]]:
    """``(cell index, code)`` of every fenced Python block in the lab's markdown cells."""
    nb = nbformat.read(lab_notebook(lab, released=False), as_version=4)
    return [(i, code) for i, cell in enumerate(nb.cells) if cell.cell_type == "markdown"
            for code in SNIPPET.findall(cell.source)]


WITH_SNIPPETS = [lab for lab in list_labs() if snippets(lab)]


def test_the_snippet_finder_sees_the_labs_snippets():
    """Guards the test below against passing on nothing: labs 07 (Keras) and 08 (Horovod) show code."""
    assert {"07_keras", "08_distributed"} <= set(WITH_SNIPPETS)
    assert all(code.strip() for lab in WITH_SNIPPETS for _, code in snippets(lab))


def test_no_snippet_keeps_a_placeholder():
    """``...`` is valid Python (Ellipsis), so ``epochs=...`` would only fail deep inside a library."""
    for lab in WITH_SNIPPETS:
        for i, code in snippets(lab):
            assert not re.search(r"=\s*\.\.\.|\[\.\.\.\]", code), f"{lab} cell {i} has a '...' placeholder:\n{code}"


def _with_snippets_in_place(lab: str) -> nbformat.NotebookNode:
    nb = nbformat.read(lab_notebook(lab, released=False), as_version=4)
    found = snippets(lab)
    last = max(i for i, _ in found)
    cells = []
    for i, cell in enumerate(nb.cells[:last + 1]):
        cells.append(cell)
        for code in (c for j, c in found if j == i):
            runner = f"exec(compile({code!r}, 'snippet in markdown cell {i}', 'exec'), dict(globals()))"
            cells.append(nbformat.v4.new_code_cell(runner))
    nb.cells = cells
    return nb


@pytest.mark.slow
@pytest.mark.parametrize("lab", WITH_SNIPPETS)
def test_every_markdown_snippet_runs_where_it_is_shown(lab: str, tmp_path: Path):
    notebook = tmp_path / f"{lab}.ipynb"
    nbformat.write(_with_snippets_in_place(lab), notebook)
    result = execute(notebook, tmp_path / "executed.ipynb", fast=True, timeout=600)
    assert result.ok, result.error
