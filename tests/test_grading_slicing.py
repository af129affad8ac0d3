"""Skipping demo cells while grading: the slice, checked against Python itself.

The oracle is execution: run every cell, then run only the cells the slice keeps; every cell that runs
must see the same values either way.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from labkit.grading.slicing import names, skippable

VARS = ["a", "b", "c", "d"]
TEMPLATES = [
    "{x} = {y} + 1",
    "{x} = 7",
    "{x} += {y}",
    "if {y} % 2:\n    {x} = 5",
    "for i in range({y} % 3):\n    {x} = i + {z}",
    "for {x} in range(2):\n    pass",
    "def f_{k}():\n    return {y} * 2\n{x} = f_{k}()",
    "{x} = [{y} + j for j in range(2)][0]",
    "{x} = (lambda: {y})()",
    "{x}, {z} = {y}, {x}",
    "import math as {x}",
    "g_{k} = lambda: {y}\n{x} = g_{k}()",
    "with open('/dev/null') as fh:\n    {x} = {y}",
    "try:\n    {x} = {y} // ({z} - {z})\nexcept ZeroDivisionError:\n    pass",
    "class K_{k}:\n    v = {y}\n{x} = K_{k}.v",
    "del {x}\n{x} = {y}",
    "%time {x} = {y}",
    "{x} = [({z} := j + {y}) for j in range(2)][-1]",
    "while {y} > 100:\n    {x} = 1",
    "def h_{k}():\n    global {x}\n    {x} = {y}\nh_{k}()",
    "if ({x} := {y} % 2):\n    {z} = 3",
]


@st.composite
def programs(draw):
    n = draw(st.integers(2, 9))
    cells, demos = [INIT], set()
    for k in range(1, n + 1):
        if draw(st.booleans()):  # a cell that runs and records what it reads
            cells.append(f"log.append(({k}, {draw(st.sampled_from(VARS))}))")
            continue
        template = draw(st.sampled_from(TEMPLATES))
        x, y, z = (draw(st.sampled_from(VARS)) for _ in range(3))
        cells.append(template.format(x=x, y=y, z=z, k=k))
        if draw(st.booleans()):
            demos.add(k)
    return cells, demos


def _run(cells: list[str], skip: set[int], compare: set[int]) -> list:
    """Run the cells not in ``skip`` as a grader does (an error does not stop the next cell); return what
    the ``compare`` cells saw: the values they logged and the errors they raised."""
    from IPython.core.inputtransformer2 import TransformerManager

    ns: dict = {}
    ns["get_ipython"] = lambda: _Shell(ns)
    errors = []
    for i, cell in enumerate(cells):
        if i in skip:
            continue
        try:
            exec(TransformerManager().transform_cell(cell), ns)  # noqa: S102 - the oracle is Python itself
        except Exception as exc:  # noqa: BLE001
            if i in compare:
                errors.append((i, type(exc).__name__))
    return [(k, v if isinstance(v, int) else type(v).__name__) for k, v in ns["log"]] + errors


class _Shell:
    """Just enough of IPython for ``%time`` to run its statement in the user namespace."""

    def __init__(self, ns: dict) -> None:
        self.ns = ns

    def run_line_magic(self, name: str, line: str) -> None:
        assert name == "time"
        exec(line, self.ns)  # noqa: S102


INIT = "a = b = c = d = 1\nlog = []"


@settings(max_examples=500, deadline=None)
@given(programs())
# the hazards, pinned: a binding that may not happen (if, zero-trip for, try) must not hide a demo's value
@example(([INIT, "b = 7", "if a % 2 == 0:\n    b = 5", "log.append((3, b))"], {1}))
@example(([INIT, "b = 7", "for i in range(0):\n    b = i", "log.append((3, b))"], {1}))
@example(([INIT, "b = 7", "try:\n    b = 1 // 0\nexcept ZeroDivisionError:\n    pass", "log.append((3, b))"], {1}))
@example(([INIT, "b = 7", "def f():\n    return b", "log.append((3, f()))"], {1}))
@example(([INIT, "b = 7", "c = [b for _ in range(1)][0]", "log.append((3, c))"], {1}))
@example(([INIT, "import math as b", "b += a"], {1}))  # found by hypothesis in CI: += reads its target
def test_skipping_what_the_slice_allows_changes_nothing_a_running_cell_sees(program):
    cells, demos = program
    skip = skippable(cells, demos)
    assert skip <= demos
    running = set(range(len(cells))) - skip
    assert _run(cells, skip, running) == _run(cells, set(), running)


@settings(max_examples=100, deadline=None)
@given(programs())
def test_a_demo_nothing_reads_is_always_skipped(program):
    """The slice is not merely 'run everything': a demo binding a name no cell after it reads goes."""
    cells, demos = program
    cells = [*cells, "unused_name = 42"]
    assert len(cells) - 1 in skippable(cells, demos | {len(cells) - 1})


@pytest.mark.parametrize(("source", "defined", "read"), [
    ("x = 1\ny = x", {"x", "y"}, set()),
    ("y = x\nx = 1", {"x", "y"}, {"x"}),
    ("if c:\n    x = 1\ny = x", {"x", "y"}, {"c", "x"}),
    ("for i in xs:\n    t = i\nu = i", {"i", "t", "u"}, {"xs", "i"}),
    ("def f():\n    global g\n    g = h", {"f", "g"}, {"h"}),
    ("%matplotlib inline", set(), {"get_ipython"}),
    ("df.write.csv(path)", set(), {"df", "path"}),
    ("from m import (a as b)", {"b"}, set()),
    ("x += 1", {"x"}, {"x"}),
])
def test_names_bound_and_read(source, defined, read):
    cell = names(source)
    assert (cell.defined, cell.read) == (defined, read)


@pytest.mark.parametrize("opaque", ["x = = 1", "%time x = y", "!echo {y}", "exec('x = y')",
                                    "globals()['x'] = 1", "from os.path import *", "%%capture\nx = y"])
def test_a_cell_the_slice_cannot_see_into_keeps_every_earlier_demo(opaque):
    assert names(opaque) is None
    cells = ["x = 1", "y = 2", opaque, "z = 3"]
    assert skippable(cells, {0, 1, 3}) == {3}
