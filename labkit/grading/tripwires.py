"""Tripwires the referee sets in a graded kernel before any learner code runs.

They see what the learner's code *does*, whatever spelling it uses, where :func:`labkit.grading.guard.scan`
sees only what it says:

* :func:`code_origin` tells trusted code (the interpreter's library, the virtual environment, ``labkit``,
  the referee's own test code) from the learner's (notebook cells, files the learner wrote, ``exec``);
* :func:`audit_hook` is a ``sys.addaudithook`` hook that notes the learner's frames, ``gc`` and
  ``ctypes`` introspection, code-object surgery, tracing, and refuses any later audit hook;
* :func:`thread_gate` holds every other thread that would run learner code while a test cell runs, and
  :func:`thread_clocks` lets the referee notice a thread that ran without being seen (C-level loops);
* :func:`shell_state` is a fingerprint of the IPython machinery that decides how cells run and display.

Every function here is called from the referee's closures; nothing is looked up on a module at run time.

>>> trusted_frame = code_origin([__file__.rsplit("/", 3)[0]])
>>> trusted_frame(sys._getframe())
False
"""

from __future__ import annotations

import _thread
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TEST_FILE = "<labkit-test>"
# audit events that say the learner's code is reaching into the interpreter, and the flag each earns
_AUDITED = {
    "sys._getframe": "frames", "sys._current_frames": "frames", "sys._current_exceptions": "frames",
    "gc.get_objects": "gc", "gc.get_referrers": "gc", "gc.get_referents": "gc",
    "function.__new__": "builds functions from code objects", "code.__new__": "builds code objects",
    "sys.settrace": "settrace", "sys.setprofile": "settrace",
    "sys.addaudithook": "audit hooks", "compile": "eval/exec", "exec": "eval/exec",
}
_GETATTR = {"__code__": "__code__", "__globals__": "__globals__", "tb_frame": "frames", "gi_frame": "frames",
            "cr_frame": "frames", "ag_frame": "frames", "f_back": "frames", "f_globals": "frames",
            "f_locals": "frames", "__closure__": "__closure__"}
_MEMORY = ("/mem", "/environ", "/maps", "/pagemap")


def code_origin(roots: list[str]) -> Callable[[Any], bool]:
    """``trusted_frame(frame)``: whether a frame runs trusted code, i.e. code from a file under ``roots`` (the
    sandbox mounts them read-only), frozen modules, the referee's ``<labkit-test>``, or code a library made
    with ``exec``/``eval`` (``<string>``: dataclasses' and namedtuples' methods). Everything else, notebook
    cells and files the learner wrote included, is the learner's. A learner who compiles code under a
    trusted file name needs ``compile``/``exec``, which :func:`audit_hook` flags."""
    prefixes = tuple(str(Path(r).resolve()) + os.sep for r in roots) + ("<frozen ",)
    cache, type_, str_ = {}, type, str
    trusted_names = (TEST_FILE, "<string>")

    def trusted_frame(frame) -> bool:
        filename = frame.f_code.co_filename
        known = cache.get(filename)
        if known is None:
            known = type_(filename) is str_ and (filename in trusted_names or filename.startswith(prefixes))
            cache[filename] = known
        return known

    return trusted_frame


def audit_hook(trusted_frame: Callable[[Any], bool], flags: list[str]) -> Callable[[str, tuple], None]:
    """A hook that appends to ``flags`` what the learner's code did, and refuses new audit hooks. (Setting a
    class's attribute raises no audit event: the referee puts library classes back from a snapshot.)"""
    getframe, busy = sys._getframe, set()
    get_ident = _thread.get_ident
    audited, getattrs, memory = dict(_AUDITED), dict(_GETATTR), _MEMORY
    str_, type_, len_, runtime_error = str, type, len, RuntimeError
    depth = 3
    own = str(Path(__file__).resolve().parents[1]) + os.sep  # labkit's own code speaks for itself

    def note(what: str) -> None:
        if what not in flags:
            flags.append(what)

    def hook(event: str, args: tuple) -> None:
        if event == "sys.addaudithook":
            note("audit hooks")
            raise runtime_error("labkit grade: audit hooks are not allowed while grading")
        what = audited.get(event)
        if what is None:
            if event == "object.__getattr__" or event == "object.__setattr__":
                what = getattrs.get(args[1]) if len_(args) > 1 and type_(args[1]) is str_ else None
            elif event == "open" and args and type_(args[0]) is str_ and args[0].startswith("/proc/"):
                what = "process memory" if args[0].endswith(memory) else None
            elif event.startswith("ctypes."):
                what = "ctypes"
            if what is None:
                return
        me = get_ident()
        if me in busy:
            return
        busy.add(me)
        try:
            frame = getframe(1)
            # the learner's own code; for ``open`` also through a thin wrapper (IPython's ``open``), since libraries
            # legitimately inspect frames just below the learner's call (TensorFlow's decorators) but never read
            # the process's memory map
            for _ in range(depth if event == "open" else 1):
                if frame is None or frame.f_code.co_filename.startswith(own):  # labkit's own doing
                    break
                if not trusted_frame(frame):
                    note(what)
                    break
                frame = frame.f_back
        finally:
            busy.discard(me)

    return hook


def thread_gate(trusted_frame: Callable[[Any], bool]) -> tuple[dict, Callable, Callable]:
    """``(gate, profile, wrap_starter)``: every thread the learner's code starts is held while a test runs.

    ``wrap_starter`` wraps the ``_thread`` starters; a thread is the learner's when the code that asked for it
    (past the thread machinery of ``threading``, ``concurrent.futures`` and ``multiprocessing``) is the
    learner's, so a thread pool the learner makes counts, and gRPC's or PySpark's own threads do not. Every
    thread gets ``profile``; while ``gate["active"]`` (the referee holds ``gate["lock"]``), a learner's thread
    blocks at its next profile event, whatever code it is running (a trusted function it handed to the
    thread, such as ``copy.copy``, included). ``gate["seen"]`` collects the native ids of learner threads that
    reached an event while active (``gate["held"]`` the same, for the flag); ``gate["ids"]`` are all learner
    threads: one that runs while active without ever reaching an event (a C-level loop of ``map(setattr,
    ...)``, or a thread that removed its profile hook) is caught by its scheduler counters
    (:func:`thread_clocks`, :func:`ran`)."""
    gate = {"active": False, "main": _thread.get_ident(), "lock": _thread.allocate_lock(), "seen": set(),
            "held": set(), "ids": set(), "waiting": set()}
    get_native_id, setprofile, getframe = threading.get_native_id, sys.setprofile, sys._getframe
    lock, seen, held, ids, waiting = gate["lock"], gate["seen"], gate["held"], gate["ids"], gate["waiting"]
    type_, getattr_ = type, getattr
    machinery = ("threading.py", f"concurrent{os.sep}futures", f"multiprocessing{os.sep}")

    def profile(frame, event, arg):
        if not gate["active"]:
            return
        tid = get_native_id()
        if tid in ids:
            seen.add(tid)
            held.add(tid)
            waiting.add(tid)  # a thread waiting here may wake and sleep again in the lock: it runs nothing else
            with lock:  # wait for the test cell to end
                pass
            waiting.discard(tid)

    def compiled(function) -> bool:
        """A compiled extension's loop (gRPC's): no learner can write one. ``deque``, ``map`` and ``setattr``
        are built-ins, not compiled functions."""
        target = getattr_(getattr_(function, "__self__", None), "_target", None) or function  # threading.Thread
        return type_(target).__name__ == "cython_function_or_method"

    def asked_by_learner() -> bool:
        frame = getframe(2)
        while frame is not None and any(m in frame.f_code.co_filename for m in machinery):
            frame = frame.f_back
        return frame is not None and not trusted_frame(frame)

    def wrap_starter(start: Callable) -> Callable:
        def start_new_thread(function, args, kwargs=None):
            learners = not compiled(function) and asked_by_learner()

            def bootstrap(*a, **k):
                if learners:
                    ids.add(get_native_id())
                    gate["started"] = True
                    setprofile(profile)
                return function(*a, **k)
            return start(bootstrap, args, kwargs or {})
        return start_new_thread

    return gate, profile, wrap_starter


def settle(native_ids: set[int], *, tries: int = 20, pause: float = 0.0025, _sleep=time.sleep, _open=open) -> None:
    """Wait (at most ``tries × pause`` seconds) until none of these threads is running: a thread that was
    handing a result back and is on its way into a blocking call must get there before its counters are read,
    or its last steps would look like activity during the test."""
    for _ in range(tries):
        running = False
        for tid in list(native_ids):
            try:
                with _open(f"/proc/self/task/{tid}/stat") as fh:
                    running = fh.read().rpartition(")")[2].split()[0] == "R"
            except (OSError, IndexError):
                continue
            if running:
                break
        if not running:
            return
        _sleep(pause)


def ran(before: str, after: str) -> bool:
    """Whether a thread was scheduled between two readings of its ``schedstat`` (CPU ns, wait ns, time slices).
    A learner's thread that is not held at an event may run only when it is scheduled: the third field counts
    every time it was.

    >>> ran("1000 0 3", "1000 0 3"), ran("1000 0 3", "1900 0 4")
    (False, True)
    """
    try:
        return int(before.split()[2]) != int(after.split()[2])
    except (IndexError, ValueError):
        return before != after


def yield_to_threads(native_ids: set[int], *, pause: float = 0.0005, _sleep=time.sleep) -> None:
    """Give the interpreter lock away twice, briefly: a learner's Python thread that woke during a test and waits
    for the lock takes it now, reaches its next event and is held (so it is *seen*, not mistaken for a thread
    that ran unseen)."""
    if native_ids:
        _sleep(pause)
        _sleep(pause)
        settle(native_ids)


def thread_clocks(native_ids: set[int]) -> dict[int, str]:
    """Each thread's scheduler statistics (CPU time and time slices): they change only if it ran."""
    clocks = {}
    for tid in list(native_ids):
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as fh:
                clocks[tid] = fh.read()
        except OSError:
            continue
    return clocks


def shell_state(shell, trusted_frame: Callable[[Any], bool]) -> dict[str, object]:
    """What decides how the shell runs and displays a cell, by identity: compare two fingerprints with ``is``.
    Event callbacks that trusted code registers (a library's ``post_execute`` hook) are left out."""
    state: dict[str, object] = {}
    for name in ("displayhook", "display_pub", "display_formatter", "display_trap", "compile", "events",
                 "custom_exceptions", "CustomTB", "InteractiveTB", "SyntaxTB", "ast_node_interactivity",
                 "showtraceback", "showsyntaxerror", "run_cell", "run_cell_async", "run_ast_nodes", "run_code",
                 "transform_cell", "user_ns", "user_global_ns", "kernel"):
        state[name] = shell.__dict__.get(name, getattr(type(shell), name, None))
    for name in ("input_transformers_cleanup", "input_transformers_post", "ast_transformers"):
        state[name] = tuple(getattr(shell, name, ()))
    def untrusted(callback) -> bool:
        code = getattr(getattr(callback, "__func__", callback), "__code__", None)
        return code is not None and not trusted_frame(_CodeFrame(code))

    state["events"] = tuple((k, tuple(cb for cb in v if untrusted(cb))) for k, v in shell.events.callbacks.items())
    formatters = shell.display_formatter.formatters
    state["formatters"] = tuple((k, f, tuple(f.type_printers.items()), tuple(f.deferred_printers.items()))
                                for k, f in formatters.items())
    kernel = getattr(shell, "kernel", None)
    if kernel is not None:
        for name in ("do_execute", "execute_request", "send_response", "session", "iopub_socket"):
            state[f"kernel.{name}"] = kernel.__dict__.get(name, getattr(type(kernel), name, None))
        session = getattr(kernel, "session", None)
        if session is not None:
            state["session.send"] = session.__dict__.get("send", type(session).send)
    for cls in {type(shell), type(kernel)} - {type(None)}:
        for klass in cls.__mro__:
            if klass.__module__.split(".")[0] in ("IPython", "ipykernel"):
                state[f"class {klass.__qualname__}"] = tuple(sorted(vars(klass).items(), key=lambda kv: kv[0]))
    return state


class _CodeFrame:
    """Enough of a frame for ``trusted_frame``: its code."""

    def __init__(self, code) -> None:
        self.f_code = code




def changed(before: dict[str, object], after: dict[str, object]) -> list[str]:
    """Names of the parts of :func:`shell_state` that differ (by identity, element by element)."""
    out = []
    for key, old in before.items():
        new = after.get(key)
        if type(old) is tuple and type(new) is tuple:
            same = len(old) == len(new) and all(_same(a, b) for a, b in zip(old, new, strict=True))
        else:
            same = old is new
        if not same:
            out.append(key)
    return out


def _same(a: object, b: object) -> bool:
    if type(a) is tuple and type(b) is tuple:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a is b
