"""The kit's Jupyter kernel: the venv's Python, installed into the venv, used by every lab notebook."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

KERNEL_NAME = "labkit"
DISPLAY_NAME = "Python 3 (labkit)"
# Environment of every lab kernel. TensorFlow's C++ start-up log goes to stderr, and nbgrader gives
# 0 points to a test cell with any stderr output: keep it to warnings and errors.
KERNEL_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "SPARK_LOCAL_IP": "127.0.0.1", "PYTHONHASHSEED": "0"}


def kernel_dir(prefix: str | None = None) -> Path:
    """Where the kernel spec lives: ``<venv>/share/jupyter/kernels/labkit``."""
    return Path(prefix or sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME


def install_kernel(prefix: str | None = None) -> Path:
    """Write the kernel spec for this interpreter into ``prefix`` (default: the running venv).

    Jupyter finds specs under ``sys.prefix/share/jupyter``, so every Jupyter started from the venv
    (JupyterLab, papermill, nbgrader) uses this kernel whatever other Jupyter is on PATH.
    """
    target = kernel_dir(prefix)
    target.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": DISPLAY_NAME,
        "language": "python",
        "env": KERNEL_ENV,
        "metadata": {"debugger": True, "supported_encryption": ["curve"]},
    }
    (target / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
    return target


SERVER_EXTENSIONS = ("labkit.grading.validate",)  # the toolbar's Validate lists every self-check


def enable_server_extensions(prefix: str | None = None) -> Path:
    """Enable labkit's Jupyter server extensions for every server started from ``prefix`` (default: the venv),
    the way ``pip install nbgrader`` enables nbgrader's: one JSON file in ``etc/jupyter/jupyter_server_config.d``."""
    target = Path(prefix or sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.d" / "labkit.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    config = {"ServerApp": {"jpserver_extensions": {name: True for name in SERVER_EXTENSIONS}}}
    target.write_text(json.dumps(config, indent=2) + "\n")
    return target


def free_port(preferred: int = 0) -> int:
    """``preferred`` if nothing listens on it on 127.0.0.1, else a free port the OS picks.

    >>> 0 < free_port() < 65536
    True
    """
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError("no free port on 127.0.0.1")


class LabServer:
    """A JupyterLab server on 127.0.0.1 with the kit's kernel and nbgrader's extensions, as ``make lab``,
    ``labkit formgrader`` and the browser tests start it.

    ``root`` is what the file browser shows; ``cwd`` is where nbgrader reads ``nbgrader_config.py`` (the
    course root: Validate and the formgrader need it). Nothing is fetched from the internet: no news, no
    update check, a read-only extension manager. ``expose_app`` sets ``window.jupyterapp`` (for tests).

    >>> server = LabServer(Path("labs"), port=8888, token="t")
    >>> server.url("lab/tree/04_metrics")
    'http://127.0.0.1:8888/lab/tree/04_metrics?token=t'
    """

    def __init__(self, root: Path, *, cwd: Path | None = None, port: int = 0, token: str | None = None,
                 expose_app: bool = False, env: dict[str, str] | None = None, log: Path | None = None) -> None:
        self.root, self.cwd = Path(root).resolve(), Path(cwd or root).resolve()
        self.port = port or free_port()
        self.token = token or secrets.token_hex(24)
        self.expose_app, self.env, self.log = expose_app, env or {}, log
        self.proc: subprocess.Popen | None = None
        self._out = None

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={self.root}",
               f"--IdentityProvider.token={self.token}", "--ServerApp.answer_yes=True",
               f"--MappingKernelManager.default_kernel_name={KERNEL_NAME}",
               "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.extension_manager=readonly"]
        if self.expose_app:
            cmd.append("--LabApp.expose_app_in_browser=True")
        if os.geteuid() == 0:  # containers and CI run as root; Jupyter refuses that unless told
            cmd.append("--allow-root")
        return cmd

    def url(self, path: str = "lab") -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}?token={self.token}"

    def start(self, timeout: float = 120) -> LabServer:
        self._out = open(self.log, "ab") if self.log else None  # noqa: SIM115 - closed in stop()
        out = self._out or subprocess.DEVNULL
        self.proc = subprocess.Popen(self.command(), cwd=self.cwd, env={**os.environ, **self.env},
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.proc.returncode} at start"
                                   + (f": see {self.log}" if self.log else ""))
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer on port {self.port} within {timeout:.0f} s")

    def wait(self) -> int:
        """Until the server stops (Ctrl-C stops it: one SIGINT, no confirmation prompt)."""
        assert self.proc is not None
        try:
            return self.proc.wait()
        except KeyboardInterrupt:  # the server got the same SIGINT from the terminal
            return self.stop()

    def stop(self, timeout: float = 20) -> int:
        try:
            if self.proc is None:
                return 0
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)  # a clean shutdown: kernels and terminals too
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            return self.proc.returncode
        finally:
            if self._out is not None:
                self._out.close()
                self._out = None

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    print(f"installed kernel spec {KERNEL_NAME!r} in {install_kernel()}")
    print(f"enabled labkit's server extensions in {enable_server_extensions()}")
