"""Each learner's server, as JupyterHub starts it for ``labkit hub``: their own account, their own limits.

:class:`ClassSpawner` is JupyterHub's ``LocalProcessSpawner`` (the server runs as the learner's Unix account) with
the memory and CPU limits that ``LocalProcessSpawner`` only advertises actually enforced: the server, its
kernels and everything they start go into a cgroup of their own (memory without swap, a CPU quota, a task
limit) that is emptied when the server stops, so a learner's runaway kernel cannot take the machine or outlive
their server. The learner's ``LABKIT_COURSE_ROOT`` is their home, so a lab's ``build/`` files land there.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner

from labkit.grading.sandbox.cgroup import Cgroup
from labkit.grading.sandbox.isolation import _cgroup_version
from labkit.grading.sandbox.limits import CGROUP_ROOT, Limits

CLASS_CGROUPS = "labkit-class"  # not grading's folder: its reaper would take learners' servers for dead runs
MAX_TASKS = 4096  # processes and threads of one learner's server (Spark and TensorFlow start many threads)
_CFS_PERIOD_US = 100_000


def _cpu_quota(name: str, cpus: float, pid: int) -> Path:
    """Hold the cgroup ``name`` (and ``pid`` in it) to ``cpus`` cores: v2's ``cpu.max`` or v1's CFS quota."""
    quota = int(cpus * _CFS_PERIOD_US)
    if _cgroup_version() == 2:
        folder = CGROUP_ROOT / CLASS_CGROUPS / name
        with contextlib.suppress(OSError):
            (folder.parent / "cgroup.subtree_control").write_text("+cpu")
        (folder / "cpu.max").write_text(f"{quota} {_CFS_PERIOD_US}")
        return folder
    folder = CGROUP_ROOT / "cpu" / CLASS_CGROUPS / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cpu.cfs_period_us").write_text(str(_CFS_PERIOD_US))
    (folder / "cpu.cfs_quota_us").write_text(str(quota))
    (folder / "cgroup.procs").write_text(str(pid))
    return folder


class ClassSpawner(LocalProcessSpawner):
    """``LocalProcessSpawner`` whose ``mem_limit`` and ``cpu_limit`` hold (see the module's docstring)."""

    _cgroup: Cgroup | None = None
    _cpu: Path | None = None

    def _cgroup_name(self) -> str:
        return f"hub-{self.user.name}"

    def get_env(self) -> dict:
        env = super().get_env()
        env["LABKIT_COURSE_ROOT"] = self.user_env({})["HOME"]  # the learner's home: their build/ goes there
        return env

    def _limit(self, pid: int) -> None:
        memory = int(self.mem_limit or 4 * 2**30)
        group = Cgroup(self._cgroup_name(), Limits(memory_mb=max(64, memory // 2**20), max_tasks=MAX_TASKS),
                       prefix=CLASS_CGROUPS)
        for procs in group.procs_files:
            Path(procs).write_text(str(pid))
        self._cgroup = group
        if self.cpu_limit:
            self._cpu = _cpu_quota(self._cgroup_name(), self.cpu_limit, pid)

    async def start(self):
        url = await super().start()
        try:
            self._limit(self.pid)
        except OSError as exc:  # no cgroups here: the server runs, unlimited, and the log says so
            self.log.warning("could not enforce %s's limits (%s): the server runs without them", self.user.name, exc)
        return url

    async def stop(self, now: bool = False):
        await super().stop(now=now)
        group, self._cgroup = self._cgroup, None
        if group is not None:
            group.kill()
        cpu, self._cpu = self._cpu, None
        if cpu is not None and cpu.parent != CGROUP_ROOT / CLASS_CGROUPS:  # v1's own cpu folder (v2 shares one)
            with contextlib.suppress(OSError):
                cpu.rmdir()
