"""One Spark Connect server for every kernel of a grading run, itself sandboxed.

Starting a JVM per submission costs about 9 s and a gigabyte; a Spark Connect client connects in about
one. The grader therefore starts the Spark Connect server that ships in PySpark 4 once per run, inside a
sandbox of its own (its own user, network namespace and mount namespace with the instructor's folders
hidden: learner UDFs run in its Python workers, so it must not see hidden tests or the gradebook
either). Kernels have no network: each reaches the server through a Unix socket, relayed to
127.0.0.1:15002 inside the kernel's namespace (:mod:`labkit.grading.sandbox.relay`) and back to
the server's loopback by a relay started next to it.

Shared means shared: one submission's heavy Spark job slows the others' (per-cell timeouts bound it),
and sessions are separate but the server's temporary folders are common to all.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from dataclasses import asdict
from pathlib import Path

from labkit.grading import sandbox
from labkit.spark_connect import DEFAULT_PORT, SERVER_CLASS, SparkConnectError

PORT = DEFAULT_PORT  # inside the server's own network namespace, so the default never collides


def server_command(port: int = PORT, *, driver_memory: str = "2g") -> list[str]:
    """The ``spark-submit`` command line of a loopback-only Connect server (no UI)."""
    import pyspark

    spark_home = Path(pyspark.__file__).parent
    return [str(spark_home / "bin" / "spark-submit"), "--class", SERVER_CLASS, "--name", "labkit grading",
            "--master", "local[*]", "--driver-memory", driver_memory,
            "--conf", f"spark.connect.grpc.binding.port={port}",
            "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
            "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1",
            "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=8",
            "--conf", "spark.sql.codegen.wholeStage=false"]


class SharedSparkServer:
    """Start the server through the zygote; ``socket`` is the Unix socket kernels connect through."""

    def __init__(self, zygote: sandbox.Zygote, runtime: Path, uid: int, *, timeout: float = 180.0,
                 limits: sandbox.Limits | None = None) -> None:
        import pyspark

        self.zygote = zygote
        self.workdir = runtime / "spark-server"
        self.workdir.mkdir(mode=0o755)
        self.socket = str(self.workdir / "spark.sock")
        limits = limits or sandbox.Limits(memory_mb=6144, cpu_seconds=10**6, max_tasks=4096, tmp_mb=4096)
        iso = sandbox.isolation()
        if iso["separate_user"]:
            os.chown(self.workdir, uid, uid)
        self.cgroup = sandbox.Cgroup(f"{os.getpid()}-spark", limits) if iso["cgroups"] else None
        env = {"SPARK_HOME": str(Path(pyspark.__file__).parent), "SPARK_LOCAL_IP": "127.0.0.1",
               "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
               "SPARK_LOG_DIR": str(self.workdir), "SPARK_CONF_DIR": str(self.workdir)}
        spec = sandbox.Spec(name="spark", workdir=str(self.workdir), connection_file="", uid=uid,
                            limits=asdict(limits), env=env, cgroups=self.cgroup.procs_files if self.cgroup else [],
                            readonly=sandbox.visible_paths(),
                            hide=sandbox.secret_paths())
        self.pid = zygote.exec(spec, server_command(PORT), relay_socket=self.socket, relay_port=PORT)
        deadline = time.monotonic() + timeout
        while not self._ready():
            status = zygote.exit_status(self.pid)
            if status is not None or time.monotonic() > deadline:
                log = self.workdir / ".kernel.log"
                tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
                self.close()
                raise SparkConnectError(f"the grading Spark server did not start:\n{tail}")
            time.sleep(0.5)

    def _ready(self) -> bool:
        """Whether a gRPC connection through the relay reaches a listening server."""
        if not os.path.exists(self.socket):
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            try:
                s.connect(self.socket)
                s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
                return bool(s.recv(9))
            except OSError:
                return False

    def close(self) -> None:
        if self.cgroup:
            self.cgroup.kill()
        else:
            import contextlib
            import signal

            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
        self.zygote.wait_exit(self.pid, 10)
