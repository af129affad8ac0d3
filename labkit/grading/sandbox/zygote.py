"""The zygote: one process per grading run that has imported the lab's libraries and forks sandboxed kernels.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import asdict

from labkit._env import single_threaded
from labkit.grading.sandbox.isolation import _libc, enter
from labkit.grading.sandbox.limits import _CRASHED, _NO_PRELOAD, _PR_SET_PDEATHSIG, Spec
from labkit.grading.sandbox.relay import _unix_to_tcp_relay


def _run_command(spec: Spec, argv: list[str], relay_socket: str | None, relay_port: int) -> None:  # pragma: no cover
    relay = (lambda: _unix_to_tcp_relay(relay_socket, relay_port)) if relay_socket else None
    # the relay runs in a child of its own, outside the command's PID namespace (``spec.pid_namespace``), where
    # the command is PID 1: nothing inside can SIGKILL it, ``kill(-1, …)`` skips it, and a signal it has no
    # handler for is ignored
    enter(spec, relay)
    os.execvpe(argv[0], argv, os.environ)


def _run_kernel(spec: Spec) -> None:  # pragma: no cover - runs in the forked child
    from ipykernel.kernelapp import IPKernelApp

    referee = None
    if spec.referee_socket and spec.referee_key:
        # connected while still root: the socket file is root's, and nothing else in the sandbox can reach it
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.connect(spec.referee_socket)
        referee = (bytes.fromhex(spec.referee_key), sock)
    spec.referee_key = None
    enter(spec)
    app = IPKernelApp.instance()
    app.initialize(["-f", spec.connection_file, "--IPKernelApp.parent_handle=0", "--HistoryManager.enabled=False"])
    if os.environ.get("MPLBACKEND") == "agg":
        draw_without_rendering(app.shell)
    if referee is not None:
        from labkit.grading import referee as referee_module
        from labkit.grading.checks import DEFAULT_SEED

        seed = int(os.environ.pop("LABKIT_GRADING_SEED", DEFAULT_SEED))  # the referee's alone from here on
        referee_module.install(app.shell, *referee, seed, trusted_roots())
        referee = None
    app.start()


def trusted_roots() -> list[str]:
    """Where trusted code lives, read-only in the sandbox: the interpreter's library, the virtual environment
    and labkit itself (as given and with symbolic links resolved)."""
    import labkit

    roots = [sys.prefix, sys.base_prefix, os.path.dirname(labkit.__file__)]
    return sorted({p for r in roots for p in (os.path.abspath(r), os.path.realpath(r))})


def draw_without_rendering(shell) -> None:
    """Grading without ``--figures``: a lab's ``%matplotlib inline`` keeps the ``agg`` backend, so figures are
    drawn but never rendered to PNG (the largest share of a plot's cost), and each cell's figures are closed
    after it runs, as the inline backend closes them."""
    shell.register_magic_function(lambda line="": None, "line", "matplotlib")

    def close_figures(*_) -> None:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close("all")

    shell.events.register("post_run_cell", close_figures)


# --------------------------------------------------------------------------- the zygote process

def preload_modules(sources: list[str]) -> list[str]:
    """Top-level and ``from`` imports of a lab's code cells that are safe to import before forking.

    >>> preload_modules(["import numpy as np\\nfrom sklearn import metrics\\nimport tensorflow as tf"])
    ['numpy', 'sklearn', 'sklearn.metrics']
    """
    import ast

    names: list[str] = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                # `from labkit import metrics` needs labkit.metrics: try every name as a submodule too
                found = [node.module] + [f"{node.module}.{a.name}" for a in node.names if a.name != "*"]
            else:
                continue
            names += [n for n in found if n not in names and not n.startswith(_NO_PRELOAD)]
    return names


def zygote_main(preload: list[str], warm: list[str]) -> None:  # pragma: no cover - its own process, tested end to end
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    for name in ["ipykernel.kernelapp", "ipykernel.ipkernel", "IPython", "matplotlib_inline.backend_inline",
                 "labkit.grading.checks", "labkit.grading.guard", *preload]:
        with contextlib.suppress(Exception):
            __import__(name)
    with contextlib.suppress(Exception):  # checksums and decoding once here, not once per kernel
        from labkit import datasets

        for name in datasets.manifest():
            datasets.dataset_path(name)
        for loader in warm:
            getattr(datasets, loader)()
    out = sys.stdout.buffer
    out.write(b'{"ready": true}\n')
    out.flush()
    children: set[int] = set()
    pending = b""  # bytes read from stdin and not served yet: one read can hold several requests
    while True:
        ready = b"\n" in pending or bool(select.select([0], [], [], 0.1)[0])
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            children.discard(pid)
            out.write(json.dumps({"exit": pid, "status": status}).encode() + b"\n")
            out.flush()
        if not ready:
            continue
        if b"\n" not in pending:
            chunk = os.read(0, 1 << 16)
            if not chunk:  # the grader went away: take the kernels with us
                for pid in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pid, signal.SIGKILL)
                os._exit(0)
            pending += chunk
            continue
        line, _, pending = pending.partition(b"\n")
        request = json.loads(line)
        spec = Spec(**request["spec"])
        pid = os.fork()
        if pid == 0:
            # another kernel's request (and its referee key) must not stay in this kernel's memory
            line = pending = b""
            request["spec"] = None
            try:
                os.dup2(os.open(os.devnull, os.O_RDWR), 0)
                log = os.open(os.path.join(spec.workdir, ".kernel.log"), os.O_WRONLY | os.O_CREAT, 0o600)
                os.dup2(log, 1)
                os.dup2(log, 2)
                if request.get("argv"):
                    _run_command(spec, request["argv"], request.get("relay_socket"), request.get("relay_port", 0))
                else:
                    _run_kernel(spec)
            except BaseException as exc:  # noqa: BLE001 - report whatever stopped the sandbox, then die
                with contextlib.suppress(Exception):
                    os.write(2, f"labkit sandbox: {type(exc).__name__}: {exc}\n".encode())
            finally:
                os._exit(_CRASHED)
        children.add(pid)
        out.write(json.dumps({"id": request["id"], "pid": pid}).encode() + b"\n")
        out.flush()


class Zygote:
    """The grader's handle on a zygote process: ``spawn(spec)`` forks a sandboxed kernel and returns its pid."""

    def __init__(self, preload: list[str] | None = None, *, warm: list[str] | None = None, env: dict | None = None,
                 figures: bool = True) -> None:
        child_env = {**os.environ, **(env or {})}
        child_env.pop("PYTEST_CURRENT_TEST", None)  # ipykernel stops capturing fd-level output under pytest
        if not figures:  # figures are drawn but not rendered to PNG: most of a plot's cost
            child_env["MPLBACKEND"] = "agg"
        child_env.update(single_threaded())  # one core per submission: workers run side by side
        self.proc = subprocess.Popen(
            [sys.executable, "-Xfrozen_modules=off", "-m", "labkit.grading.sandbox",
             json.dumps([preload or [], warm or []])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child_env, preexec_fn=_die_with_parent,
        )
        self._lock = threading.Lock()
        self._next = 0
        self._replies: dict[int, int] = {}
        self.exits: dict[int, int] = {}
        self._cond = threading.Condition()
        first = self.proc.stdout.readline()
        if not first.startswith(b'{"ready"'):
            raise RuntimeError("the grading zygote did not start")
        threading.Thread(target=self._read, daemon=True, name="labkit-zygote-reader").start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            msg = json.loads(line)
            with self._cond:
                if "exit" in msg:
                    self.exits[msg["exit"]] = msg["status"]
                else:
                    self._replies[msg["id"]] = msg["pid"]
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def spawn(self, spec: Spec, timeout: float = 30.0, **extra) -> int:
        """Fork a sandboxed kernel (or, with ``argv=[...]``, a sandboxed command); returns its pid."""
        return self.spawn_many([spec], timeout, **extra)[0]

    def spawn_many(self, specs: list[Spec], timeout: float = 30.0, **extra) -> list[int]:
        """Fork one sandbox per spec, asked for in a single write (as racing :meth:`spawn` calls can land in
        one read of the zygote); returns their pids in order."""
        with self._lock:
            ids = list(range(self._next + 1, self._next + 1 + len(specs)))
            self._next += len(specs)
            self.proc.stdin.write(b"".join(json.dumps({"id": rid, "spec": asdict(spec), **extra}).encode() + b"\n"
                                           for rid, spec in zip(ids, specs, strict=True)))
            self.proc.stdin.flush()
        with self._cond:
            if not self._cond.wait_for(lambda: all(rid in self._replies for rid in ids), timeout):
                raise RuntimeError("the grading zygote did not answer")
            return [self._replies.pop(rid) for rid in ids]

    def exec(self, spec: Spec, argv: list[str], *, relay_socket: str | None = None, relay_port: int = 0) -> int:
        """Run ``argv`` in a sandbox; with ``relay_socket``, also serve that Unix socket, forwarded to
        ``relay_port`` on the sandbox's loopback (how kernels reach a sandboxed server)."""
        return self.spawn(spec, argv=argv, relay_socket=relay_socket, relay_port=relay_port)

    def exit_status(self, pid: int) -> int | None:
        with self._cond:
            return self.exits.get(pid)

    def wait_exit(self, pid: int, timeout: float) -> int | None:
        with self._cond:
            self._cond.wait_for(lambda: pid in self.exits, timeout)
            return self.exits.get(pid)

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _die_with_parent() -> None:
    _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
