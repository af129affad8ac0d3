"""Each learner's server, as JupyterHub starts it for ``labkit hub``: their own account, their own limits.

:class:`ClassSpawner` is JupyterHub's ``LocalProcessSpawner`` (the server runs as the learner's Unix account) with
the memory and CPU limits that ``LocalProcessSpawner`` only advertises actually enforced: the server joins a cgroup
of its own before it executes (so everything it and its kernels start is inside: memory without swap, a CPU
quota, a task limit), and the cgroup is emptied when the server stops, so a learner's runaway kernel cannot take
the machine or outlive their server. Without writable cgroups the server refuses to start, with the reason. The
learner's ``LABKIT_COURSE_ROOT`` is their home, so a lab's ``build/`` files land there.

>>> cgroup_name("ada")
'hub-ada'
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner

from labkit.classroom.course_file import Resources
from labkit.grading.sandbox.cgroup import Cgroup
from labkit.grading.sandbox.isolation import _cgroup_version
from labkit.grading.sandbox.limits import CGROUP_ROOT, Limits

CLASS_CGROUPS = "labkit-class"  # not grading's folder: its reaper would take learners' servers for dead runs
MAX_TASKS = 4096  # processes and threads of one learner's server (Spark and TensorFlow start many threads)
_CFS_PERIOD_US = 100_000
DEFAULT_MEMORY = Resources().memory_bytes  # the course file's default, when JupyterHub was given none


def cgroup_name(user: str) -> str:
    return f"hub-{user}"


def learner_cgroup(user: str, memory_bytes: int = DEFAULT_MEMORY) -> Cgroup:
    """The learner's memory and task cgroup (created if missing, its limits written)."""
    limits = Limits(memory_mb=max(64, memory_bytes // 2**20), max_tasks=MAX_TASKS)
    return Cgroup(cgroup_name(user), limits, prefix=CLASS_CGROUPS)


def cpu_quota(user: str, cpus: float) -> Path | None:
    """Hold the learner's cgroup to ``cpus`` cores: v2's ``cpu.max`` (the same folder as memory), or v1's CFS quota
    in a ``cpu`` folder of its own, which is returned (its ``cgroup.procs`` must receive the server too)."""
    quota = int(cpus * _CFS_PERIOD_US)
    if _cgroup_version() == 2:
        folder = CGROUP_ROOT / CLASS_CGROUPS / cgroup_name(user)
        with contextlib.suppress(OSError):
            (folder.parent / "cgroup.subtree_control").write_text("+cpu")
        (folder / "cpu.max").write_text(f"{quota} {_CFS_PERIOD_US}")
        return None
    folder = CGROUP_ROOT / "cpu" / CLASS_CGROUPS / cgroup_name(user)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cpu.cfs_period_us").write_text(str(_CFS_PERIOD_US))
    (folder / "cpu.cfs_quota_us").write_text(str(quota))
    return folder


def end_learner(user: str) -> None:
    """Kill everything in the learner's cgroups and remove them (nothing happens if there are none)."""
    group = Cgroup.existing(cgroup_name(user), prefix=CLASS_CGROUPS)
    if any(d.is_dir() for d in group.dirs):
        group.kill()
    with contextlib.suppress(OSError):
        (CGROUP_ROOT / "cpu" / CLASS_CGROUPS / cgroup_name(user)).rmdir()


class ClassSpawner(LocalProcessSpawner):
    """``LocalProcessSpawner`` whose ``mem_limit`` and ``cpu_limit`` hold (see the module's docstring)."""

    _procs: list[str] = []

    def get_env(self) -> dict:
        env = super().get_env()
        env["LABKIT_COURSE_ROOT"] = self.user_env({})["HOME"]  # the learner's home: their build/ goes there
        return env

    def make_preexec_fn(self, name: str):
        drop_privileges = super().make_preexec_fn(name)
        procs = list(self._procs)

        def preexec() -> None:  # in the child, as root, before it becomes the learner and executes the server
            for path in procs:
                with open(path, "w") as fh:
                    fh.write(str(os.getpid()))
            drop_privileges()

        return preexec

    async def start(self):
        user = self.user.name
        try:
            group = learner_cgroup(user, int(self.mem_limit or DEFAULT_MEMORY))
            cpu = cpu_quota(user, self.cpu_limit) if self.cpu_limit else None
        except OSError as exc:
            raise RuntimeError(f"cannot hold {user}'s server to its memory and CPU limits ({exc}): labkit hub needs "
                               "writable cgroups (run it as root on a machine with cgroups)") from exc
        self._procs = group.procs_files + ([str(cpu / "cgroup.procs")] if cpu else [])
        return await super().start()

    async def stop(self, now: bool = False):
        await super().stop(now=now)
        end_learner(self.user.name)  # its kernels and whatever they started, too
