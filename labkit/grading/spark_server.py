"""One Spark Connect server for every kernel of a grading run, itself sandboxed.

Starting a JVM per submission costs about 9 s and a gigabyte; a Spark Connect client connects in about
one. The grader therefore starts the Spark Connect server that ships in PySpark 4 once per run, inside a
sandbox of its own (its own user, network namespace and mount namespace with the instructor's folders
hidden: learner UDFs run in its Python workers, so it must not see hidden tests or the gradebook
either). Kernels have no network: each reaches the server through a Unix socket, relayed to
127.0.0.1:15002 inside the kernel's namespace (:mod:`labkit.grading.sandbox.relay`) and back to
the server's loopback by a relay started next to it.

Shared means shared: one submission's heavy Spark job slows the others' (per-cell timeouts bound it),
and sessions are separate but the server's temporary folders are common to all. A learner's UDF can also
break the server for everyone (kill its processes, hold every task slot, fill its disk, exhaust its task
limit). :class:`SparkSupervisor` keeps that from costing anyone else a point: the grader checks the server
after each submission, restarts it when it is broken, and regrades whoever ran against the broken server;
each of those is regraded alone, so a submission that breaks the server again is the culprit, and only it
keeps its zero, flagged (see :func:`labkit.grading.engine.grade`).
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
            # no JVM handlers for SIGTERM, SIGINT, SIGHUP: as PID 1 of its namespace the server ignores them, so a
            # learner's UDF cannot stop it (the grader stops it with SIGKILL from outside)
            "--driver-java-options", "-Xrs",
            "--conf", f"spark.connect.grpc.binding.port={port}",
            "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
            "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1",
            "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=8",
            "--conf", "spark.sql.codegen.wholeStage=false"]


class SharedSparkServer:
    """Start the server through the zygote; ``socket`` is the Unix socket kernels connect through."""

    def __init__(self, zygote: sandbox.Zygote, runtime: Path, uid: int, *, timeout: float = 180.0,
                 limits: sandbox.Limits | None = None, name: str = "spark-server") -> None:
        import pyspark

        self.zygote = zygote
        self.workdir = runtime / name
        self.workdir.mkdir(mode=0o755)
        self.socket = str(self.workdir / "spark.sock")
        limits = limits or sandbox.Limits(memory_mb=6144, cpu_seconds=10**6, max_tasks=4096, tmp_mb=4096)
        iso = sandbox.isolation()
        if iso["separate_user"]:
            os.chown(self.workdir, uid, uid)
        self.cgroup = sandbox.Cgroup(f"{os.getpid()}-{name}", limits) if iso["cgroups"] else None
        env = {"SPARK_HOME": str(Path(pyspark.__file__).parent), "SPARK_LOCAL_IP": "127.0.0.1",
               "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
               "SPARK_LOG_DIR": str(self.workdir), "SPARK_CONF_DIR": str(self.workdir)}
        spec = sandbox.Spec(name=name, workdir=str(self.workdir), connection_file="", uid=uid, pid_namespace=True,
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


class _Bridge:
    """A loopback TCP port forwarded to the server's Unix socket: how the grader itself reaches the server."""

    def __init__(self, unix_path: str) -> None:
        import threading

        self.unix_path = unix_path
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True, name="labkit-spark-bridge").start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.unix_path)
            except OSError:
                conn.close()
                continue
            sandbox.pump(conn, upstream)

    def close(self) -> None:
        self.listener.close()


# a query with a shuffle and a Python UDF: the two paths a learner's UDF can break. It runs in a process of
# its own, so that a stalled server costs a killed child, not a gRPC thread stuck in the grader forever
_PROBE = """
import sys
from pyspark.sql import SparkSession, functions as F
spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
plus_one = F.udf(lambda x: x + 1, "long")
rows = spark.range(16, numPartitions=2).select(plus_one("id").alias("y")).groupBy((F.col("y") % 2).alias("k")).count()
print(sorted((r["k"], r["count"]) for r in rows.collect()))
"""


class SparkSupervisor:
    """The run's shared Spark server, restarted whenever a learner's code breaks it.

    ``generation`` counts the servers started; a submission records the generation it ran against, and a
    result from an older generation is not trusted (:meth:`vouch`)."""

    def __init__(self, zygote: sandbox.Zygote, runtime: Path, next_uid) -> None:
        import threading

        self.zygote, self.runtime, self.next_uid = zygote, runtime, next_uid
        self.generation = 0
        self.restarts = 0
        self.ready = threading.Event()
        self.server: SharedSparkServer | None = None
        self.bridge: _Bridge | None = None
        self._start()

    def _start(self) -> None:
        self.generation += 1
        self.server = SharedSparkServer(self.zygote, self.runtime, self.next_uid(),
                                        name=f"spark-server-{self.generation}")
        self.bridge = _Bridge(self.server.socket)
        self.ready.set()

    def socket(self, timeout: float = 600.0) -> tuple[str, int]:
        """The current server's Unix socket and generation, once it is up (a restart may be under way)."""
        self.ready.wait(timeout)
        return self.server.socket, self.generation

    def alive(self) -> bool:
        """Cheap: the server process runs and answers on its socket."""
        return self.zygote.exit_status(self.server.pid) is None and self.server._ready()

    def healthy(self, timeout: float = 30.0) -> bool:
        """Thorough: a query with a shuffle and a Python UDF answers correctly within ``timeout`` seconds."""
        import subprocess

        if not self.alive():
            return False
        try:
            out = subprocess.run([sys.executable, "-c", _PROBE, f"sc://127.0.0.1:{self.bridge.port}"],
                                 capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return out.returncode == 0 and out.stdout.strip() == "[(0, 8), (1, 8)]"

    def vouch(self, generation: int, *, suspicious: bool) -> bool:
        """Whether a result from a submission that ran against server ``generation`` can be trusted; restarts a
        broken server. ``suspicious`` (the submission hit a problem or a Spark error) asks for the thorough
        check instead of the cheap one."""
        if generation != self.generation:
            return False
        if (self.healthy() if suspicious else self.alive()):
            return True
        self.restart()
        return False

    def restart(self) -> None:
        self.ready.clear()
        self.restarts += 1
        self._stop()
        self._start()

    def _stop(self) -> None:
        if self.bridge is not None:
            self.bridge.close()
        if self.server is not None:
            self.server.close()

    def close(self) -> None:
        self._stop()
