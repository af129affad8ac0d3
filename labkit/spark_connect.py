"""A local Spark Connect server, the one that ships inside PySpark 4: start, stop, status.

One server (one JVM) can serve many thin Python clients: a lab kernel connects in a few seconds
instead of starting its own JVM. ``labkit spark-connect start`` runs it on 127.0.0.1; point labs at it
with ``LABKIT_SPARK_REMOTE=sc://127.0.0.1:15002``.

>>> status(port=1)["running"]
False
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from labkit._system import process_alive
from labkit.paths import build_dir

DEFAULT_PORT = 15002


class SparkConnectError(RuntimeError):
    """The Spark Connect server could not be started or reached."""

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


def _state_dir() -> Path:
    path = build_dir() / "spark-connect"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _pid_file(port: int) -> Path:
    return _state_dir() / f"server-{port}.pid"


def url(port: int = DEFAULT_PORT) -> str:
    return f"sc://127.0.0.1:{port}"


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


    return True


def status(port: int = DEFAULT_PORT) -> dict:
    """``{"running": bool, "pid": int | None, "url": str, "log": path}`` for the server on ``port``."""
    pid_file = _pid_file(port) if port > 1023 else None
    pid = int(pid_file.read_text()) if pid_file and pid_file.is_file() else None
    running = bool(pid and process_alive(pid) and _listening(port))
    return {"running": running, "pid": pid if running else None, "url": url(port),
            "log": str(_state_dir() / f"server-{port}.log")}


def start(port: int = DEFAULT_PORT, *, master: str = "local[*]", driver_memory: str = "2g",
          timeout: float = 120.0) -> str:
    """Start the server in the background (no-op if it already runs) and wait until it accepts clients."""
    import pyspark

    if status(port)["running"]:
        return url(port)
    if _listening(port):
        raise SparkConnectError(f"port {port} is taken by another program: choose another with --port.")
    spark_home = Path(pyspark.__file__).parent
    # the server's Python workers (UDFs, pandas UDFs) must be the kit's interpreter, not whatever
    # `python3` is on PATH: that one lacks pandas and pyarrow
    env = {**os.environ, "SPARK_HOME": str(spark_home), "SPARK_LOCAL_IP": "127.0.0.1",
           "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    cmd = [str(spark_home / "bin" / "spark-submit"), "--class", SERVER_CLASS, "--name", "labkit Spark Connect",
           "--master", master, "--driver-memory", driver_memory,
           "--conf", f"spark.connect.grpc.binding.port={port}",
           "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
           "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1",
           "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=8"]
    log = open(_state_dir() / f"server-{port}.log", "w")  # noqa: SIM115 - the server keeps writing to it
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    _pid_file(port).write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SparkConnectError(f"the Spark Connect server exited with code {proc.returncode}; "
                               f"see {status(port)['log']}")
        if _listening(port):
            return url(port)
        time.sleep(0.5)
    stop(port)
    raise SparkConnectError(f"the Spark Connect server did not listen on port {port} within {timeout:.0f} s")


def stop(port: int = DEFAULT_PORT, *, timeout: float = 30.0) -> bool:
    """Stop the server started by :func:`start`; returns whether one was running."""
    pid_file = _pid_file(port)
    if not pid_file.is_file():
        return False
    pid = int(pid_file.read_text())
    was_running = process_alive(pid)
    if was_running:
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while process_alive(pid) and time.monotonic() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.2)
        if process_alive(pid):
            os.killpg(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return was_running
