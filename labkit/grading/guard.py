"""Keeps test cells honest in a kernel that also runs the learner's code.

A test cell and the learner's functions share one Python process, so a submission can try to patch
what the tests rely on: ``numpy.allclose``, ``builtins``, the scikit-learn oracle, the :class:`Checks`
class, ``sys.stdout``. Three layers stop that:

1. :func:`arm` runs before any learner cell and snapshots the attribute tables of the trusted modules
   (the standard library's ``builtins``, ``math``, ``operator``; NumPy, SciPy, pandas, scikit-learn and
   ``labkit``) and of ``Checks``;
2. :func:`restore` puts every snapshotted attribute back. The grader runs it before each test cell, and
   ``Checks`` runs it after every call into learner code, so a patch made at import time, in an answer
   cell or from inside the function under test is undone before the next comparison. ``Checks`` also
   keeps its own references to the helpers it compares with, taken at import;
3. :func:`scan` lists the constructs in learner code that reach for the grader's internals (frames,
   ``gc``, ``ctypes``, ``__code__``, ``sys.modules``, the IPython shell, file paths of hidden tests…).
   The grade is not changed; the instructor report flags the submission for a human look.

What this cannot stop: code that rewrites function objects in place or edits interpreter memory
(through ``ctypes``) can fake anything in its own process. That code is what :func:`scan` flags.

>>> arm(); import math; real = math.sqrt; math.sqrt = lambda x: 42.0
>>> restore() >= 1, math.sqrt is real
(True, True)
>>> disarm()
>>> scan("import ctypes\\nf.__code__ = g.__code__")
['ctypes', '__code__']
"""

from __future__ import annotations

import ast
import sys
from operator import is_

from labkit.grading.slicing import parse

TRUSTED = ("builtins", "math", "operator", "functools", "statistics", "numpy", "scipy", "pandas", "sklearn",
           "labkit")
_SYS_KEYS = ("stdout", "stderr", "displayhook", "excepthook")
_MISSING = object()
_modules: dict[str, tuple[object, dict]] = {}
_classes: list[tuple[type, dict]] = []
_sys: dict[str, object] = {}

# names (bare, or imported) whose use in learner code earns a flag for manual review
_SUSPICIOUS_NAMES = {
    "ctypes": "ctypes", "gc": "gc", "inspect": "inspect", "builtins": "builtins", "__builtins__": "builtins",
    "get_ipython": "get_ipython", "_ih": "input history", "In": "input history", "Out": "output history",
    "Checks": "Checks", "socket": "socket", "linecache": "linecache", "traceback": "traceback",
    "eval": "eval/exec", "exec": "eval/exec", "compile": "eval/exec", "__import__": "__import__",
    "importlib": "importlib", "globals": "globals()", "vars": "vars()", "locals": "locals()",
}
# attribute names that earn a flag (``model.compile`` is fine; ``f.__code__`` is not)
_SUSPICIOUS_ATTRS = {
    "_getframe": "frames", "f_back": "frames", "f_globals": "frames", "f_locals": "frames", "tb_frame": "frames",
    "exc_info": "frames", "__traceback__": "frames", "_current_frames": "frames", "__code__": "__code__",
    "__globals__": "__globals__", "settrace": "settrace", "setprofile": "settrace", "monitoring": "settrace",
    "_exit": "os._exit", "displayhook": "displayhook", "__builtins__": "builtins",
}
_SUSPICIOUS_STRINGS = ("solutions", "gradebook", "source_with_tests", "HIDDEN TESTS", ".ipynb", "grading/")


def _trusted(name: str) -> bool:
    return name.split(".")[0] in TRUSTED


def arm() -> None:
    """Snapshot the trusted modules, ``Checks`` and ``sys``'s streams and hooks (idempotent: first call wins)."""
    from labkit.grading.checks import Checks

    for name, module in list(sys.modules.items()):
        if module is not None and _trusted(name) and name not in _modules:
            _modules[name] = (module, dict(vars(module)))
    if not _classes:
        _classes.append((Checks, dict(vars(Checks))))
    if not _sys:
        _sys.update({k: getattr(sys, k) for k in _SYS_KEYS})


def disarm() -> None:
    """Forget the snapshot (tests use it; a grading kernel never disarms)."""
    _modules.clear()
    _classes.clear()
    _sys.clear()


def armed() -> bool:
    """Whether :func:`arm` ran in this process (the grader arms; a learner's own session is left alone)."""
    return bool(_classes)


def restore(namespace: dict | None = None, *, extend: bool = False) -> int:
    """Undo every change to the snapshotted attributes; rebind ``Checks`` in ``namespace``; returns how many
    attributes were put back. With ``extend`` (the grader's call before each test cell), trusted modules
    imported since join the snapshot. Does nothing before :func:`arm`."""
    fixed = 0
    if not armed():
        return fixed
    for name, (module, saved) in list(_modules.items()):
        if sys.modules.get(name) is not module:
            sys.modules[name] = module
            fixed += 1
        current = vars(module)
        # identity, compared at C speed (never ==: a patched object could claim equality)
        if all(map(is_, saved.values(), map(current.get, saved.keys()))):
            continue
        for key, value in saved.items():
            if current.get(key, _MISSING) is not value:
                try:
                    setattr(module, key, value)
                except (AttributeError, TypeError):
                    continue
                fixed += 1
    for cls, saved in _classes:
        for key, value in saved.items():
            if cls.__dict__.get(key, _MISSING) is not value and key not in ("__dict__", "__weakref__"):
                setattr(cls, key, value)
                fixed += 1
    for key, value in _sys.items():
        if getattr(sys, key) is not value:
            setattr(sys, key, value)
            fixed += 1
    if extend:
        arm()
    if namespace is not None and _classes:
        namespace["Checks"] = _classes[0][0]
    return fixed


def scan(source: str) -> list[str]:
    """Constructs in ``source`` that reach for the grader's internals, in order of first appearance.

    IPython syntax is translated first, so ``%history`` and ``!cat`` count (as ``get_ipython``).
    """
    tree = parse(source)
    if tree is None:
        return []
    found: list[str] = []

    def flag(what: str) -> None:
        if what not in found:
            found.append(what)

    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.Attribute):
            if node.attr == "modules" and isinstance(node.value, ast.Name) and node.value.id == "sys":
                flag("sys.modules")
            if node.attr == "allclose" and isinstance(node.ctx, ast.Store):
                flag("replaces allclose")
            if node.attr in _SUSPICIOUS_ATTRS:
                flag(_SUSPICIOUS_ATTRS[node.attr])
            continue
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "setattr") \
                and len(node.args) > 1 and not isinstance(node.args[1], ast.Constant):
            flag(f"{node.func.id} with a computed name")
            continue
        elif isinstance(node, ast.alias):
            name = node.name.split(".")[0]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for s in _SUSPICIOUS_STRINGS:
                if s in node.value:
                    flag(f"path {s!r}")
            continue
        else:
            continue
        what = _SUSPICIOUS_NAMES.get(name)
        if what:
            flag(what)
    return found
