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
    of the learner's namespace; new names are copied back for later cells, existing ones are left alone."""
    parse, expr_type, expression, module_type = ast.parse, ast.Expr, ast.Expression, ast.Module
    compile_, exec_, eval_, dict_, type_, float_ = compile, exec, eval, dict, type, float
    describe, test_file = checks.describe_exception, tripwires.TEST_FILE

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
        error, value = "", None
        try:
            exec_(compile_(tree, test_file, "exec", dont_inherit=True), namespace)
            if last is not None:
                value = eval_(compile_(expression(last.value), test_file, "eval", dont_inherit=True), namespace)
        except BaseException as exc:  # noqa: BLE001 - a failing test is a result, not a crash
            error = describe(exc)
        for name, obj in namespace.items():
            if name not in user_ns:
                user_ns[name] = obj
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


def _stage(state: dict, gate: dict, trusted_frame, flags: list[str], seed: int):
    """``(hooks, begin, end)``: what holds while a test cell runs, and the hooks the referee's ``Checks``
    calls around every call into learner code and to record a result."""
    settrace, setprofile, setrecursionlimit = sys.settrace, sys.setprofile, sys.setrecursionlimit
    gc_callbacks, armed_callbacks = gc.callbacks, list(gc.callbacks)
    set_signal, get_signal = _signal.signal, _signal.getsignal
    ignore = _signal.SIG_IGN
    armed_signals = {s: get_signal(s) for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)}
    recursion, string_io = sys.getrecursionlimit(), io.StringIO
    get_ident, main, lock, clocks_of = _thread.get_ident, gate["main"], gate["lock"], tripwires.thread_clocks
    sys_module, callable_, str_, len_ = sys, callable, str, len
    stage: dict[str, Any] = {"captured": None, "signals": {}, "clocks": {}, "real": None, "auto": None}
    getprofile = sys.getprofile

    def note(where: list[str], what: str) -> None:
        if what not in where:
            where.append(what)

    def watch(frame, event, arg):
        """The main thread's profile hook between checks: learner code the test reaches outside a check (a
        notebook helper, an answer's ``__array__``) runs as if guarded: everything is put back when it returns."""
        if state["learner"]:
            if event == "return" and frame is stage["auto"]:
                stage["auto"] = None
                state["learner"] -= 1
                lock_down(rehook=False)
            return
        if event == "call" and not trusted_frame(frame):
            stage["auto"] = frame
            state["learner"] += 1

    def lock_down(rehook: bool = True) -> None:
        """What holds between guarded calls: restored modules, no hooks, no learner signal handlers."""
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

    def begin():
        state.update(active=True, learner=0, records=[], taint=[], n=0)
        stage["auto"] = None
        stage.update(captured=(string_io(), string_io()), signals={},
                     real=(sys_module.stdout, sys_module.stderr))
        lock.acquire()
        gate["seen"].clear()
        gate["held"].clear()
        stage["clocks"] = clocks_of(gate["ids"])
        gate["active"] = True
        lock_down()
        return stage["captured"]

    def end() -> None:
        if getprofile() is not watch or state["learner"]:
            note(state["taint"], "your code was still running when the test ended")
        setprofile(None)
        gate["active"] = False
        before = stage["clocks"]
        ran = [tid for tid, clock in clocks_of(gate["ids"]).items()
               if before.get(tid, clock) != clock and tid not in gate["seen"]]
        if ran:
            note(state["taint"], f"{len_(ran)} thread(s) your code started ran during the test unseen")
        if gate["held"]:
            note(flags, "a thread your code started was held while the tests ran")
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
            setprofile(None)
            gate["active"] = False
            lock.release()

    def leave() -> None:
        if not state["active"] or state["learner"] == 0:
            return
        if state["learner"] == 1:
            lock.acquire()
            gate["active"] = True
            lock_down()
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
