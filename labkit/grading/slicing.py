"""Which cells grading needs: a backward slice over the names cells define and read.

A lab's author tags a code cell ``demo`` when it only illustrates (a timing, a figure, a widget) and no graded
cell needs it. Under the grader such a cell is skipped, unless a cell that does run reads a name the demo
defines: a learner's answer that uses a demo's variable gets that demo run (and whatever demos it needs in
turn), so skipping can never cost a learner a point that running everything would have given (one gap: an
assignment that raises still counts as binding its name, so a later read of it is not traced past it).

The slice follows names only. Side effects a demo has on shared state (a Spark temporary view, a file) are
the author's to avoid; ``tests/test_course.py`` checks every lab's demos against its graded cells.

>>> cells = ["x = 1", "y = x + 1", "print(y)", "z = x * 2"]
>>> sorted(skippable(cells, demos={1, 3}))
[3]
"""

from __future__ import annotations

import ast
import symtable
import threading
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from labkit.grading import cells

DEMO_TAG = "demo"


def to_python(source: str) -> str:
    """A cell's source as plain Python: IPython's ``%magics`` and ``!shell`` lines become ``get_ipython()``
    calls (the text is returned unchanged if IPython cannot translate it).

    >>> to_python("%matplotlib inline").strip()
    "get_ipython().run_line_magic('matplotlib', 'inline')"
    """
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - fall back to the raw text
        return source


_BINDS = (ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class CellNames(NamedTuple):
    """The global names of one cell: all it may bind, those it reads before binding them itself, and those
    it surely binds (which hide any earlier cell's value from the cells after it)."""

    defined: set[str]
    read: set[str]
    bound: set[str]


# CPython 3.11 keeps one interpreter-wide recursion counter while it builds ``ast`` objects: two grading threads
# parsing at once can fail with "SystemError: AST constructor recursion depth mismatch" (cpython#106905; seen
# here grading lab 07 with two workers). Every parse in the grader goes through :func:`parse`, one at a time.
_AST_LOCK = threading.Lock()


def parse(source: str) -> ast.Module | None:
    """A cell's source (IPython syntax translated) as an ``ast.Module``, or ``None`` if it is not Python.
    Thread-safe: the grader's workers call it side by side.

    >>> type(parse("%matplotlib inline\\nx = 1")).__name__, parse("x = = 1")
    ('Module', None)
    """
    text = to_python(source)
    with _AST_LOCK:
        try:
            return ast.parse(text)
        except (SyntaxError, ValueError):
            return None


def names(source: str) -> CellNames | None:
    """The global names ``source`` binds and reads (in functions, lambdas and comprehensions too, by
    Python's own scope analysis, :mod:`symtable`); ``None`` when it does not parse or hides names from
    the analysis (a magic that runs code, ``!cmd``, ``exec``, ``globals()``, ``import *``), and the caller
    must then assume it reads and binds anything.

    A name is surely bound from the first plain top-level statement that binds it (an assignment, an
    import, a ``def``); inside ``if`` or ``with`` it might not be, so a later read still counts, and a
    ``for`` loop's body is scanned with its target bound. Otherwise wrong in the safe direction only: a read
    too many makes a demo run, never skips a needed one.

    >>> cell = names("import numpy as np\\ndef f(a):\\n    return np.sum(a) + k\\nx = f(x)\\n"
    ...              "for i in x:\\n    print(i)")
    >>> sorted(cell.defined), sorted(cell.read), sorted(cell.bound)
    (['f', 'i', 'np', 'x'], ['k', 'print', 'x'], ['f', 'np', 'x'])
    """
    tree = parse(source)
    if tree is None or _opaque(tree):
        return None
    cell = CellNames(set(), set(), set())
    _block(tree.body, cell.bound, cell)
    return cell


# magics that only configure the kernel; any other (%time x = y, %%capture, !cmd {x}) runs code the slice cannot see
SAFE_MAGICS = frozenset({"matplotlib", "config", "load_ext", "reload_ext", "autoreload", "precision"})
_DYNAMIC = frozenset({"exec", "eval", "globals", "locals", "vars"})


def _opaque(tree: ast.Module) -> bool:
    """Whether a cell reads or binds names out of the slice's sight: code run by a magic or a shell line,
    ``exec``/``eval``/``globals()``, or ``from module import *``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names):
            return True
        if isinstance(node, ast.Name) and node.id in _DYNAMIC:
            return True
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Call) and isinstance(node.func.value.func, ast.Name)
                and node.func.value.func.id == "get_ipython"):
            magic = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
            if not (node.func.attr == "run_line_magic" and magic in SAFE_MAGICS):
                return True
    return False


def _block(statements: list[ast.stmt], bound: set[str], cell: CellNames) -> None:
    """Scan ``statements`` in order; ``bound`` (updated in place) holds the names surely bound so far."""
    for statement in statements:
        if isinstance(statement, (ast.For, ast.AsyncFor)):  # the body runs after its target is bound, or not at all
            cell.read.update(_symbols(statement.iter)[1] - bound)
            target, _ = _symbols(ast.Assign(targets=[statement.target], value=ast.Constant(None), lineno=0))
            cell.defined.update(target)
            _block(statement.body, bound | target, cell)
            _block(statement.orelse, set(bound), cell)
            continue
        binds, reads = _symbols(statement)
        # ``del x`` and ``x += 1`` need x to exist: they read it as much as they bind it
        reads |= {n.id for n in ast.walk(statement) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Del)}
        reads |= {n.target.id for n in ast.walk(statement) if isinstance(n, ast.AugAssign)
                  and isinstance(n.target, ast.Name)}
        cell.read.update(reads - bound)
        cell.defined.update(binds)
        if isinstance(statement, _BINDS):
            bound.update(binds)


def _symbols(node: ast.AST) -> tuple[set[str], set[str]]:
    code = ast.unparse(node)
    with _AST_LOCK:  # the compiler's front end too, to be safe (see _AST_LOCK)
        top = symtable.symtable(code, "<cell>", "exec")
    binds: set[str] = set()
    reads: set[str] = set()
    tables = [top]
    while tables:
        scope = tables.pop()
        for sym in scope.get_symbols():
            if scope is top or sym.is_global():
                if sym.is_referenced():
                    reads.add(sym.get_name())
                if sym.is_assigned() or sym.is_imported() or (scope is top and sym.is_namespace()):
                    binds.add(sym.get_name())
        tables.extend(scope.get_children())
    return binds, reads


def skippable(sources: Sequence[str], demos: Iterable[int]) -> set[int]:
    """Indices of the ``demos`` among ``sources`` (code cells, in order) that no running cell needs.

    Walks backwards, carrying the names that the cells still to run read: a demo that may bind one of
    them runs too; each cell that runs adds its own reads and drops what it surely binds.
    """
    demos = set(demos)
    needed: set[str] = set()
    skip: set[int] = set()
    for i in range(len(sources) - 1, -1, -1):
        cell = names(sources[i])
        if cell is None:  # unparsable: it may read anything, so every earlier demo runs
            return skip
        if i in demos and not (cell.defined & needed):
            skip.add(i)
            continue
        needed = (needed - cell.bound) | cell.read
    return skip


def is_demo(cell: dict) -> bool:
    """Whether a notebook cell is tagged ``demo`` (and is not an nbgrader cell, which always runs)."""
    meta = cell.get("metadata", {})
    return DEMO_TAG in meta.get("tags", []) and not cells.grade_id(cell)
