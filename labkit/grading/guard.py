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
from collections.abc import Callable
from operator import is_

from labkit.grading.slicing import parse

TRUSTED = ("builtins", "math", "operator", "functools", "statistics", "numpy", "scipy", "pandas", "sklearn",
           "labkit",
           # the standard library the libraries above lean on at run time (scikit-learn's parameter validation
           # calls inspect.Signature.bind; copy, collections and itertools are everywhere)
           "inspect", "copy", "collections", "itertools", "contextlib", "abc", "enum", "dataclasses", "typing",
           "re", "numbers", "decimal", "fractions", "random", "warnings", "weakref", "types", "copyreg", "json")
_SYS_KEYS = ("stdout", "stderr", "displayhook", "excepthook")
_MISSING = object()
_restorer: Callable[..., int] | None = None
_protected: list[type] = []  # classes whose attribute tables the snapshot also holds (``Checks``)

# names (bare, or imported) whose use in learner code earns a flag for manual review
_SUSPICIOUS_NAMES = {
    "ctypes": "ctypes", "gc": "gc", "inspect": "inspect", "builtins": "builtins", "__builtins__": "builtins",
    "get_ipython": "get_ipython", "_ih": "input history", "In": "input history", "Out": "output history",
    "Checks": "Checks", "socket": "socket", "linecache": "linecache", "traceback": "traceback",
    "eval": "eval/exec", "exec": "eval/exec", "compile": "eval/exec", "__import__": "__import__",
    "importlib": "importlib", "globals": "globals()", "vars": "vars()", "locals": "locals()",
    "IPython": "the IPython shell", "ipykernel": "the kernel", "jupyter_client": "the kernel", "zmq": "the kernel",
    "comm": "the kernel", "traitlets": "the IPython shell", "tornado": "the kernel", "_thread": "_thread",
    "signal": "signal handlers", "faulthandler": "signal handlers", "atexit": "atexit", "weakref": "weakref",
    "marshal": "code objects", "types": "code objects",
    "mmap": "process memory", "resource": "resource limits", "pickle": "pickle", "dill": "pickle",
    "cloudpickle": "pickle", "setattr": "setattr", "delattr": "setattr",
}
# attribute names that earn a flag (``model.compile`` is fine; ``f.__code__`` is not)
_SUSPICIOUS_ATTRS = {
    "_getframe": "frames", "f_back": "frames", "f_globals": "frames", "f_locals": "frames", "tb_frame": "frames",
    "exc_info": "frames", "__traceback__": "frames", "_current_frames": "frames", "__code__": "__code__",
    "__globals__": "__globals__", "settrace": "settrace", "setprofile": "settrace", "monitoring": "settrace",
    "_exit": "os._exit", "displayhook": "displayhook", "__builtins__": "builtins", "gi_frame": "frames",
    "cr_frame": "frames", "ag_frame": "frames", "__closure__": "__closure__", "cell_contents": "__closure__",
    "__defaults__": "__code__", "__kwdefaults__": "__code__", "__dict__": "__dict__", "modules": "sys.modules",
    "__subclasses__": "__subclasses__", "__mro__": "__subclasses__", "__bases__": "__subclasses__",
    "__class__": "__class__", "addaudithook": "audit hooks", "get_ipython": "get_ipython", "instance": "singletons",
    "_instance": "singletons", "shell": "the IPython shell", "user_ns": "the IPython shell",
    "display_pub": "the IPython shell", "display_formatter": "the IPython shell", "events": "the IPython shell",
    "ast_transformers": "the IPython shell", "input_transformers_post": "the IPython shell",
    "input_transformers_cleanup": "the IPython shell", "set_custom_exc": "the IPython shell",
    "run_cell": "the IPython shell", "showtraceback": "the IPython shell", "iopub_socket": "the kernel",
    "setitimer": "signal handlers", "alarm": "signal handlers",
    "start_new_thread": "_thread", "environ": "environment variables", "putenv": "environment variables",
    "__getattribute__": "__getattribute__", "__setattr__": "setattr", "__delattr__": "setattr",
    "get_objects": "gc", "get_referrers": "gc", "get_referents": "gc",
}
# string constants (after folding "a" + "b" and "".join([...])) that name what the attributes above name
_SUSPICIOUS_WORDS = {**{k: v for k, v in _SUSPICIOUS_ATTRS.items() if k.startswith("_") or len(k) > 8},
                     **{k: v for k, v in _SUSPICIOUS_NAMES.items() if len(k) > 3 and k not in ("Checks",)}}
_SUSPICIOUS_STRINGS = ("solutions", "gradebook", "source_with_tests", "HIDDEN TESTS", ".ipynb", "grading/", "/proc/")


def _trusted(name: str) -> bool:
    return name.split(".")[0] in TRUSTED


def protect(cls: type) -> type:
    """Add ``cls`` to what every later snapshot holds; the last class protected is the ``Checks`` that
    :func:`restore` rebinds in a namespace."""
    if cls not in _protected:
        _protected.append(cls)
    return cls


def make_restorer() -> Callable[..., int]:
    """Snapshot the trusted modules, the protected classes (``Checks``) and ``sys``'s streams and hooks now,
    and return the function that puts them back (see :func:`restore`). Everything it uses is bound in its
    closure, so the learner's code cannot disarm it by rebinding this module's names or patching built-ins."""
    sys_modules, trusted, sys_keys, missing = sys.modules, _trusted, _SYS_KEYS, _MISSING
    list_, dict_, vars_, getattr_, setattr_, map_, all_, is__ = list, dict, vars, getattr, setattr, map, all, is_
    modules: dict[str, tuple[object, dict]] = {}
    classes = [(cls, dict(vars(cls))) for cls in _protected]
    library_classes: list[tuple[type, dict]] = []  # the classes the trusted modules define
    saved_sys = {k: getattr(sys, k) for k in sys_keys}
    type_, getattr_, str_, delattr_, len_ = type, getattr, str, delattr, len

    def snapshot() -> None:
        for name, module in list_(sys_modules.items()):
            if module is not None and trusted(name) and name not in modules:
                members = dict_(vars_(module))
                modules[name] = (module, members)
                library_classes.extend((value, dict_(vars_(value))) for value in members.values()
                                       if isinstance(value, type_) and getattr_(value, "__module__", None) == name)

    def restore_classes() -> int:
        fixed = 0
        for cls, saved in library_classes:
            current = vars_(cls)
            if all_(map(is__, saved.values(), map(current.get, saved.keys()))) and len_(current) == len_(saved):
                continue
            for key, value in saved.items():
                if current.get(key, missing) is not value and key not in ("__dict__", "__weakref__"):
                    try:
                        setattr_(cls, key, value)
                    except (AttributeError, TypeError):
                        continue
                    fixed += 1
            for key in [k for k in current if k not in saved and type_(k) is str_]:
                try:
                    delattr_(cls, key)
                except (AttributeError, TypeError):
                    continue
                fixed += 1
        return fixed

    def restore(namespace: dict | None = None, *, extend: bool = False, deep: bool = False) -> int:
        fixed = restore_classes() if deep else 0
        for name, (module, saved) in list_(modules.items()):
            if sys_modules.get(name) is not module:
                sys_modules[name] = module
                fixed += 1
            current = vars_(module)
            # identity, compared at C speed (never ==: a patched object could claim equality)
            if all_(map_(is__, saved.values(), map_(current.get, saved.keys()))):
                continue
            for key, value in saved.items():
                if current.get(key, missing) is not value:
                    try:
                        setattr_(module, key, value)
                    except (AttributeError, TypeError):
                        continue
                    fixed += 1
        for cls, saved in classes:
            for key, value in saved.items():
                if cls.__dict__.get(key, missing) is not value and key not in ("__dict__", "__weakref__"):
                    setattr_(cls, key, value)
                    fixed += 1
        for key, value in saved_sys.items():
            if getattr_(sys, key) is not value:
                setattr_(sys, key, value)
                fixed += 1
        if extend:
            snapshot()
        if namespace is not None and classes:
            namespace["Checks"] = classes[-1][0]
        return fixed

    snapshot()
    return restore


def arm() -> None:
    """Snapshot the trusted modules, ``Checks`` and ``sys``'s streams and hooks (idempotent: first call wins)."""
    global _restorer
    if _restorer is None:
        _restorer = make_restorer()


def disarm() -> None:
    """Forget the snapshot (tests use it; a grading kernel never disarms)."""
    global _restorer
    _restorer = None


def armed() -> bool:
    """Whether :func:`arm` ran in this process (the grader arms; a learner's own session is left alone)."""
    return _restorer is not None


def restore(namespace: dict | None = None, *, extend: bool = False) -> int:
    """Undo every change to the snapshotted attributes; rebind ``Checks`` in ``namespace``; returns how many
    attributes were put back. With ``extend`` (the grader's call before each test cell), trusted modules
    imported since join the snapshot. Does nothing before :func:`arm`."""
    return _restorer(namespace, extend=extend) if _restorer is not None else 0


def scan(source: str) -> list[str]:
    """Constructs in ``source`` that reach for the grader's internals, in order of first appearance.

    IPython syntax is translated first, so ``%history`` and ``!cat`` count (as ``get_ipython``). Strings
    built from constants (``"get_" + "ipython"``, ``"".join([...])``, f-strings of constants) are folded
    before they are compared. What a spelling hides from this scan, the referee's tripwires see at run
    time (:mod:`labkit.grading.tripwires`).
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
            if node.attr == "allclose" and isinstance(node.ctx, ast.Store):
                flag("replaces allclose")
            if node.attr in _SUSPICIOUS_ATTRS:
                flag(_SUSPICIOUS_ATTRS[node.attr])
            continue
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "setattr") \
                and len(node.args) > 1 and not isinstance(node.args[1], ast.Constant):
            flag(f"{node.func.id} with a computed name")
            continue
        elif isinstance(node, ast.ImportFrom):
            module = (node.module or "").split(".")
            if module[:2] == ["IPython", "display"] and all(a.name in _SAFE_DISPLAY for a in node.names):
                continue
            name = module[0]
        elif isinstance(node, ast.alias):
            name = node.name.split(".")[0]
        elif isinstance(node, (ast.Constant, ast.BinOp, ast.JoinedStr, ast.Call)):
            text = _folded(node)
            if text is None:
                continue
            for s in _SUSPICIOUS_STRINGS:
                if s in text:
                    flag(f"path {s!r}")
            word = _SUSPICIOUS_WORDS.get(text.strip().split(".")[-1])
            if word:
                flag(word)
            continue
        else:
            continue
        what = _SUSPICIOUS_NAMES.get(name)
        if what:
            flag(what)
    return found


_SAFE_DISPLAY = {"display", "HTML", "Markdown", "Image", "Math", "Latex", "JSON", "clear_output", "SVG"}


def _folded(node: ast.AST) -> str | None:
    """The string an expression of string constants evaluates to, or ``None`` if it is not one."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _folded(node.left), _folded(node.right)
        return left + right if left is not None and right is not None else None
    if isinstance(node, ast.JoinedStr):
        parts = [_folded(v.value) if isinstance(v, ast.FormattedValue) else _folded(v) for v in node.values]
        return "".join(parts) if all(p is not None for p in parts) else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join" \
            and len(node.args) == 1 and isinstance(node.args[0], (ast.List, ast.Tuple)):
        sep, parts = _folded(node.func.value), [_folded(e) for e in node.args[0].elts]
        return sep.join(parts) if sep is not None and all(p is not None for p in parts) else None
    return None
