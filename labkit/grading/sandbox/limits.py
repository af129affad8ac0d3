"""What a sandboxed kernel may use: :class:`Limits`, and the :class:`Spec` the zygote starts it from.

>>> Limits(memory_mb=1024).memory_bytes
1073741824
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from labkit._validation import check_int
from labkit.spark_connect import DEFAULT_PORT

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PREFIX = "labkit-grading"
FIRST_UID = 61000  # sandbox user ids: FIRST_UID + n, no /etc/passwd entry needed
# never imported by the zygote: they start threads at import or break when forked
_NO_PRELOAD = ("tensorflow", "keras", "horovod", "torch", "jax", "grpc", "pyspark.sql.connect")
_CLONE_NEWNS, _CLONE_NEWNET, _CLONE_NEWPID = 0x00020000, 0x40000000, 0x20000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
_PR_SET_PDEATHSIG = 1
_CRASHED = 70  # exit code of a sandboxed kernel whose own code failed


@dataclass(frozen=True)

class Limits:
    """Resource limits of one submission's kernel.

    ``memory_mb`` caps resident memory of the kernel and everything it starts; ``cpu_seconds`` the CPU
    time of the kernel process; ``max_tasks`` its processes and threads; ``cell_timeout`` and
    ``notebook_timeout`` are wall-clock seconds; ``max_output_chars`` caps what one cell may print
    (the rest is dropped with a note); ``tmp_mb`` sizes the private ``/tmp``.
    """

    memory_mb: int = 4096
    cpu_seconds: int = 1800
    max_tasks: int = 1024
    cell_timeout: float = 300.0
    notebook_timeout: float = 1200.0
    max_output_chars: int = 200_000
    tmp_mb: int = 512
    file_mb: int = 256

    def __post_init__(self) -> None:
        for name in ("memory_mb", "cpu_seconds", "max_tasks", "max_output_chars", "tmp_mb", "file_mb"):
            check_int(name, getattr(self, name), minimum=1)
        for name in ("cell_timeout", "notebook_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {getattr(self, name)!r}.")

    @property
    def memory_bytes(self) -> int:
        return self.memory_mb * 1024 * 1024


@dataclass
class Spec:
    """Everything the zygote needs to start one sandboxed kernel (sent to it as JSON)."""

    name: str
    workdir: str
    connection_file: str
    uid: int
    limits: dict
    env: dict = field(default_factory=dict)
    hide: list = field(default_factory=list)
    readonly: list = field(default_factory=list)
    cgroups: list = field(default_factory=list)
    spark_socket: str | None = None
    spark_port: int = DEFAULT_PORT
    referee_socket: str | None = None  # the grader's end of the referee's channel (labkit.grading.channel)
    referee_key: str | None = None  # hex; taken out of the spec before the learner's code can run
    pid_namespace: bool = False  # a command runs as PID 1 of a PID namespace of its own (the Spark server)


