"""A server the lab starts as its own process on 127.0.0.1, and always stops.

:class:`LocalService` runs a command, waits until its health URL answers, and stops it with SIGTERM (then
SIGKILL) when asked, when its ``with`` block ends, or when the Python process that started it exits, whatever
happened in between: a failed cell or test never leaves a server behind. The tracking server
(:mod:`labkit.serving.tracking`) and the model API (:mod:`labkit.serving.api`) are both one.

>>> service = LocalService(["python", "-m", "http.server", "8123", "--bind", "127.0.0.1"], port=8123, name="files")
>>> service.url("health")
'http://127.0.0.1:8123/health'
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from labkit.jupyter import free_port

__all__ = ["LocalService", "ServiceError", "free_port", "port_taken"]


class ServiceError(RuntimeError):
    """A local server could not start: the message says why and what to do."""


def port_taken(port: int) -> bool:
    """Whether a server already listens on ``port`` on 127.0.0.1 (a connection is accepted).

    >>> port_taken(free_port())
    False
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class LocalService:
    """One server process on 127.0.0.1: started by :meth:`start`, healthy when ``health_path`` answers 200."""

    def __init__(self, command: list[str], *, port: int, name: str, health_path: str = "health",
                 env: dict[str, str] | None = None, cwd: Path | None = None, log: Path | None = None) -> None:
        self.command, self.port, self.name, self.health_path = command, port, name, health_path
        self.env, self.cwd, self.log = env or {}, cwd, log
        self.proc: subprocess.Popen | None = None

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 60) -> LocalService:
        """Start the process and wait for its health URL; a clear error if the port is taken, the process dies
        or it does not answer in ``timeout`` seconds (and then it is stopped)."""
        if self.running:
            return self
        if port_taken(self.port):
            raise ServiceError(f"port {self.port} on 127.0.0.1 is taken (an earlier {self.name} still running?): "
                               "stop it, or pass port=0 to pick a free one.")
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115 - the child keeps it
        # the venv's bin/ first: servers start helpers (uvicorn, gunicorn) by name
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        self.proc = subprocess.Popen(self.command, cwd=self.cwd, env={**os.environ, "PATH": path, **self.env},
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        if self.log:
            out.close()
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.proc = None
                raise ServiceError(f"the {self.name} exited with code {code} while starting"
                                   + (f": see {self.log}" if self.log else ""))
            if self.healthy():
                return self
            time.sleep(0.25)
        self.stop()
        raise ServiceError(f"the {self.name} did not answer {self.url(self.health_path)} within {timeout:.0f} s"
                           + (f": see {self.log}" if self.log else ""))

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url(self.health_path), timeout=2) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def stop(self, timeout: float = 15) -> None:
        """Stop the server and every process it started (its whole process group)."""
        proc, self.proc = self.proc, None
        atexit.unregister(self.stop)
        if proc is None:
            return
        if proc.poll() is not None:  # the leader is gone: its helpers (workers) may not be
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> LocalService:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
