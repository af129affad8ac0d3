"""The referee: runs a graded notebook's test cells where the learner's code cannot reach the score.

Learner code and tests share one Python process, and everything in that process that decides what a
cell *displays* (IPython's shell, formatters, display hook, transformers, the kernel's messages) is the
learner's to change. So the grader does not read scores from the display. In each sandboxed kernel,
before any learner code runs, :func:`install` sets up a referee; the grader then runs every test cell
through :func:`run`, which:

1. puts back what the learner may have patched (:mod:`labkit.grading.guard`, bound in a closure), clears
   trace and profile hooks and ignores the learner's signal handlers;
2. holds every other thread at its next line of learner code (:func:`~labkit.grading.tripwires.thread_gate`)
   and watches the main thread with a profile hook: learner code the test reaches outside a check (a
   notebook helper, an answer's ``__array__``, a ``__del__`` the garbage collector runs) is guarded as a
   check's call is: when it returns, everything is put back again;
3. executes the test cell's source itself (compiled as ``<labkit-test>``, in a copy of the learner's
   namespace, with the referee's own ``Checks``), not through IPython;
4. reports the checks' results to the grader as one datagram signed with a key only the grader and the
   referee hold, over a socket connected before the kernel dropped root (:mod:`labkit.grading.channel`),
   naming the SHA-256 of the source it ran and anything that tainted the run.

The grader fails closed: no valid report, a report for other code, or a tainted run scores 0.

What it cannot stop is code that edits the interpreter itself (``ctypes``, code objects, frames): the
audit hook and the static scan flag such code for review.
"""

from __future__ import annotations

import _signal
import _thread
import ast
import gc
import io
import signal
import sys
import threading
from socket import socket
from typing import Any

import numpy as np

from labkit.grading import channel, checks, guard, tripwires

MAX_TEXT = 20_000  # characters of a test cell's output carried in a report


def run(source: str, seq: int) -> None:
    """Run one test cell and report its result (replaced by :func:`install` in a grading kernel)."""
    raise RuntimeError("the referee runs only in a kernel started by labkit grade")


def arm() -> None:
    """Fingerprint the IPython shell once it has started (replaced by :func:`install`)."""
    raise RuntimeError("the referee runs only in a kernel started by labkit grade")


def install(shell, key: bytes, sock: socket, seed: int, roots: list[str]) -> None:
    """Set the referee up in a fresh grading kernel, before any learner code runs.

    ``key`` signs reports sent on ``sock``; ``seed`` is the learner's hidden-test seed; ``roots`` are the
    read-only folders trusted code lives in. Everything the referee needs is bound here, in closures: the
    learner's code can rebind module names and patch classes, not a closure's variables.
    """
    trusted_frame = tripwires.code_origin(roots)
    flags: list[str] = []
    sys.addaudithook(tripwires.audit_hook(trusted_frame, flags))
    gate, _, wrap_starter = tripwires.thread_gate(trusted_frame)
    for module, name in ((_thread, "start_new_thread"), (_thread, "start_new"), (threading, "_start_new_thread")):
        setattr(module, name, wrap_starter(getattr(module, name)))
    state: dict[str, Any] = {"active": False, "learner": 0, "records": [], "taint": [], "shell": None, "n": 0}
    hooks, begin, end = _stage(state, gate, trusted_frame, flags, seed)
    checks.Checks = referee_checks = guard.protect(checks.make_checks(hooks))
    execute = _executor(shell.user_ns, referee_checks, state)
    report_for = _reporter(key, shell, state, flags, trusted_frame)
    send, write_out, get_ident, main = sock.send, sys.stdout.write, _thread.get_ident, gate["main"]

    def arm_now() -> None:
        if state["shell"] is None:
            state["shell"] = tripwires.shell_state(shell, trusted_frame)

    def run_test(source: str, seq: int) -> None:
        if get_ident() != main or state["active"]:
            return
        captured = begin()
        try:
            outcome = execute(source)
        finally:
            end()
        datagram, text = report_for(source, seq, outcome, captured)
        try:
            send(datagram)
        except OSError:
            pass
        write_out(text)

    sys.modules[__name__].run = run_test
    sys.modules[__name__].arm = arm_now
    # last: the snapshot the referee restores holds its own Checks, run and arm, and the wrapped thread starters
    state["restore"] = guard.make_restorer()


def _executor(user_ns: dict, checks_class: type, state: dict):
    """``execute(source)``: run the test source like a cell (the last expression's value is kept) in a copy
    of the learner's namespace. Nothing it binds goes back to the learner's namespace (its inputs, its
    ``Checks`` and its seed are the grader's), and the names it binds are the test's data: ``state["data"]``
    lets the stage check that no learner call changed them (:func:`_fingerprint`)."""
    parse, expr_type, expression, module_type = ast.parse, ast.Expr, ast.Expression, ast.Module
    compile_, exec_, eval_, dict_, type_, float_ = compile, exec, eval, dict, type, float
    describe, test_file, walk, name_type, store = checks.describe_exception, tripwires.TEST_FILE, ast.walk, \
        ast.Name, ast.Store

    def execute(source: str) -> dict[str, Any]:
        try:
            tree = parse(source, filename=test_file)
        except SyntaxError as exc:
            return {"error": f"SyntaxError: {exc.msg}", "value": None}
        if type_(tree) is not module_type:
            return {"error": "the test cell could not be parsed", "value": None}
        last = tree.body.pop() if tree.body and type_(tree.body[-1]) is expr_type else None
        namespace = dict_(user_ns)
        namespace["Checks"] = checks_class
        bound = {n.id for n in walk(tree) if type_(n) is name_type and type_(n.ctx) is store}
        state["data"] = (namespace, bound)
        error, value = "", None
        try:
            exec_(compile_(tree, test_file, "exec", dont_inherit=True), namespace)
            if last is not None:
                value = eval_(compile_(expression(last.value), test_file, "eval", dont_inherit=True), namespace)
        except BaseException as exc:  # noqa: BLE001 - a failing test is a result, not a crash
            error = describe(exc)
        state["data"] = None
        kind = type_(value)
        number = float_(value) if kind is int or kind is float or kind is bool else None
        return {"error": error[:2000], "value": number}

    return execute


def _reporter(key: bytes, shell, state: dict, flags: list[str], trusted_frame):
    """``report_for(source, seq, outcome, captured)``: the signed datagram and the text to display."""
    sign, fingerprint, max_datagram = channel.sign, channel.fingerprint, channel.MAX_DATAGRAM
    shell_state, changed, list_, len_ = tripwires.shell_state, tripwires.changed, list, len

    def report_for(source: str, seq: int, outcome: dict, captured) -> tuple[bytes, str]:
        report: dict[str, Any] = {"seq": seq, "sha": fingerprint(source), **outcome, "checks": state["n"],
                                  "records": list_(state["records"]), "taint": list_(state["taint"]),
                                  "flags": list_(flags)}
        if state["shell"] is not None:
            moved = changed(state["shell"], shell_state(shell, trusted_frame))
            if moved:
                report["flags"].append(f"changed how cells run or display ({', '.join(moved[:4])})")
        report["stdout"] = captured[0].getvalue()[-MAX_TEXT:]
        report["stderr"] = captured[1].getvalue()[-MAX_TEXT:]
        datagram = sign(key, report)
        if len_(datagram) > max_datagram:
            report["stdout"], report["stderr"] = report["stdout"][-2000:], report["stderr"][-2000:]
            report["records"] = [[d[:200], ok, m[:200]] for d, ok, m in report["records"][:200]]
            datagram = sign(key, report)
        return datagram, report["stdout"]

    return report_for


HANDOVERS = 10  # at most this many 1 ms hand-overs of the interpreter lock before a scheduled thread counts as unseen


def _stage(state: dict, gate: dict, trusted_frame, flags: list[str], seed: int):
    """``(hooks, begin, end)``: what holds while a test cell runs, and the hooks the referee's ``Checks``
    calls around every call into learner code and to record a result."""
    settrace, setprofile, setrecursionlimit = sys.settrace, sys.setprofile, sys.setrecursionlimit
    setswitchinterval, switch_interval = sys.setswitchinterval, sys.getswitchinterval()
    gc_callbacks, armed_callbacks = gc.callbacks, list(gc.callbacks)
    set_signal, get_signal = _signal.signal, _signal.getsignal
    ignore = _signal.SIG_IGN
    armed_signals = {s: get_signal(s) for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)}
    recursion, string_io = sys.getrecursionlimit(), io.StringIO
    get_ident, main, lock, clocks_of = _thread.get_ident, gate["main"], gate["lock"], tripwires.thread_clocks
    test_file, settle, ran, yield_to = tripwires.TEST_FILE, tripwires.settle, tripwires.ran, tripwires.yield_to_threads
    sys_module, callable_, str_, len_, range_ = sys, callable, str, len, range
    stage: dict[str, Any] = {"captured": None, "signals": {}, "clocks": {}, "real": None, "auto": None, "data": {}}
    fingerprint = _fingerprint
    getprofile = sys.getprofile

    def note(where: list[str], what: str) -> None:
        if what not in where:
            where.append(what)

    def watch(frame, event, arg):
        """The main thread's profile hook between checks. Learner code the test itself calls outside a check
        (a notebook helper) runs as if guarded: everything is put back when it returns. Learner code a library
        reaches while the test computes an expected value (a patched method, an ``__array__``) means the
        expected value is the learner's: the cell is not scored."""
        if state["learner"]:
            if event == "return" and frame is stage["auto"]:
                stage["auto"] = None
                state["learner"] -= 1
                lock_down(rehook=False)
            return
        if event == "call" and not trusted_frame(frame):
            caller = frame.f_back
            if caller is not None and caller.f_code.co_filename != test_file:
                note(state["taint"], f"your code ran inside a library call the test made ({frame.f_code.co_name}, "
                                     f"called by {caller.f_code.co_name})")
            stage["auto"] = frame
            state["learner"] += 1

    def lock_down(rehook: bool = True) -> None:
        """What holds between guarded calls: restored modules and classes, no hooks, no learner signal handlers,
        the interpreter's settings as armed, the test's own data as it was."""
        # first: from here the test keeps the interpreter lock until it blocks, so no other thread gets a turn
        # between the restore below and the test's next line
        setswitchinterval(1000.0)
        state["restore"](None, extend=True)
        settrace(None)
        setrecursionlimit(recursion)
        gc_callbacks[:] = armed_callbacks  # a learner's finaliser that still runs is caught by ``watch``
        for signum, armed_handler in armed_signals.items():
            try:
                current = get_signal(signum)
                if current is not armed_handler and callable_(current):
                    stage["signals"].setdefault(signum, current)
                    set_signal(signum, ignore)
            except (OSError, ValueError, TypeError):
                continue
        sys_module.stdout, sys_module.stderr = stage["captured"]
        if rehook:
            setprofile(watch)

    def trusted_section_starts() -> None:
        """The learner's threads may run during a guarded call, not between: from here on, one that runs is
        held at its first event, and one that runs without reaching one shows on its counters."""
        gate["seen"].clear()
        gate["active"] = True
        settle(gate["ids"] - gate["waiting"])
        stage["clocks"] = clocks_of(gate["ids"])

    def trusted_section_ends() -> None:
        """A learner's thread that was scheduled during the section and never reached an event ran unseen (a
        C-level loop): the cell is not scored. One that registered during the section counts as scheduled."""
        before, seen, waiting = stage["clocks"], gate["seen"], gate["waiting"]
        unseen = ()
        for _ in range_(HANDOVERS):  # a Python thread slow to take the lock is seen within a few hand-overs
            yield_to(gate["ids"] - waiting)
            after = clocks_of(gate["ids"])
            unseen = [tid for tid, clock in after.items()
                      if tid not in seen and tid not in waiting and (tid not in before or ran(before[tid], clock))]
            if not unseen:
                break
        gate["active"] = False
        if unseen:
            note(state["taint"], f"{len_(unseen)} thread(s) your code started ran during the test unseen")

    def begin():
        state.update(active=True, learner=0, records=[], taint=[], n=0)
        stage["auto"] = None
        state["restore"](None, extend=True, deep=True)  # the libraries' classes too, once per test cell
        stage.update(captured=(string_io(), string_io()), signals={},
                     real=(sys_module.stdout, sys_module.stderr))
        lock.acquire()
        gate["held"].clear()
        trusted_section_starts()
        lock_down()
        return stage["captured"]

    def end() -> None:
        if getprofile() is not watch or state["learner"]:
            note(state["taint"], "your code was still running when the test ended")
        setprofile(None)
        setswitchinterval(switch_interval)
        trusted_section_ends()
        if gate["held"]:
            note(flags, "a thread your code started was held while the tests ran")
        elif gate.get("started"):
            note(flags, "starts threads")
        lock.release()
        state["active"] = False
        for signum, handler in stage["signals"].items():
            try:
                set_signal(signum, handler)
            except (OSError, ValueError, TypeError):
                continue
        sys_module.stdout, sys_module.stderr = stage["real"]

    def enter() -> None:
        if not state["active"]:
            return
        state["learner"] += 1
        if state["learner"] == 1:
            stage["data"] = fingerprint(state.get("data"))
            setprofile(None)
            setswitchinterval(switch_interval)
            trusted_section_ends()
            lock.release()

    def leave() -> None:
        if not state["active"] or state["learner"] == 0:
            return
        if state["learner"] == 1:
            lock.acquire()
            trusted_section_starts()
            lock_down()
            changed = [name for name, mark in fingerprint(state.get("data")).items()
                       if stage["data"].get(name, mark) != mark]
            if changed:
                note(state["taint"], f"your code changed the test's own data ({', '.join(sorted(changed)[:3])})")
        state["learner"] -= 1

    def created(instance: object) -> None:
        if state["active"]:
            state["n"] += 1

    def record(instance: object, description: str, ok: bool, message: str) -> bool:
        if not state["active"]:
            return True
        if state["learner"] or get_ident() != main:
            note(state["taint"], "a check was recorded from inside your code")
            return False
        if getprofile() is not watch:
            note(state["taint"], "your code removed the grader's profile hook")
            return False
        state["records"].append([str_(description)[:500], ok is True, str_(message)[:500]])
        return True

    hooks = checks.RefereeHooks(seed=lambda: seed, enter=enter, leave=leave, created=created, record=record)
    return hooks, begin, end


def _make_fingerprint():
    """``fingerprint(data)``: for the test's own arrays and flat lists (``data`` is the test's namespace and the
    names it binds), a mark that changes when their contents change. Large arrays (over 8 MiB) are left out."""
    ndarray, type_, hash_, tuple_, list_ = np.ndarray, type, hash, tuple, list
    scalars = (int, float, bool, str, type(None))
    limit = 8 << 20

    def mark(value):
        kind = type_(value)
        if kind is ndarray and value.nbytes <= limit and value.dtype.kind in "biufcUS":
            return (value.shape, value.dtype.str, hash_(value.tobytes()))
        if kind is list_ and len(value) <= 100_000 and all(type_(v) in scalars for v in value):
            return hash_(tuple_(value))
        return None

    def fingerprint(data) -> dict:
        if not data:
            return {}
        namespace, names = data
        marks = {}
        for name in names:
            value = namespace.get(name)
            if value is not None:
                m = mark(value)
                if m is not None:
                    marks[name] = m
        return marks

    return fingerprint


_fingerprint = _make_fingerprint()
