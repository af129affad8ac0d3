"""Cgroups (v1 or v2) that cap a submission's memory and tasks and kill everything in it at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from labkit.grading.sandbox.isolation import _cgroup_version
from labkit.grading.sandbox.limits import CGROUP_PREFIX, CGROUP_ROOT, Limits


class Cgroup:
    """A memory + pids cgroup (v1 or v2) for one submission; ``kill()`` ends every task in it."""

    def __init__(self, name: str, limits: Limits, prefix: str = CGROUP_PREFIX) -> None:
        """``prefix``: the folder the group goes in (grading's own, which its reaper sweeps, by default)."""
        self.version = _cgroup_version()
        self.dirs = self._dirs(self.version, name, prefix)
        if self.version == 2:
            parent = CGROUP_ROOT / prefix
            parent.mkdir(exist_ok=True)
            with contextlib.suppress(OSError):
                (parent / "cgroup.subtree_control").write_text("+memory +pids")
        for d in self.dirs:
            d.mkdir(parents=True, exist_ok=True)
        if self.version == 2:
            d = self.dirs[0]
            (d / "memory.max").write_text(str(limits.memory_bytes))
            with contextlib.suppress(OSError):
                (d / "memory.swap.max").write_text("0")
            (d / "pids.max").write_text(str(limits.max_tasks))
        else:
            mem, pids = self.dirs
            (mem / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
            with contextlib.suppress(OSError):  # absent when swap accounting is off
                (mem / "memory.memsw.limit_in_bytes").write_text(str(limits.memory_bytes))
            with contextlib.suppress(OSError):
                (mem / "memory.swappiness").write_text("0")
            (pids / "pids.max").write_text(str(limits.max_tasks))

    @staticmethod
    def _dirs(version: int, name: str, prefix: str) -> list[Path]:
        if version == 2:
            return [CGROUP_ROOT / prefix / name]
        return [CGROUP_ROOT / c / prefix / name for c in ("memory", "pids")]

    @classmethod
    def existing(cls, name: str, prefix: str = CGROUP_PREFIX) -> Cgroup:
        """The group ``name`` as it is, nothing written to it: to :meth:`kill` what is left in it."""
        group = cls.__new__(cls)
        group.version = _cgroup_version()
        group.dirs = cls._dirs(group.version, name, prefix)
        return group

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def oom_killed(self) -> bool:
        """Whether the kernel or one of its processes met the memory limit."""
        d = self.dirs[0]
        for name in ("memory.events", "memory.oom_control"):
            f = d / name
            if f.is_file():
                for line in f.read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and int(value) > 0:
                        return True
        f = d / "memory.failcnt"
        return f.is_file() and int(f.read_text() or 0) > 0 and self._near_limit()

    def _near_limit(self) -> bool:
        d = self.dirs[0]
        peak, limit = d / "memory.max_usage_in_bytes", d / "memory.limit_in_bytes"
        return peak.is_file() and int(peak.read_text()) >= 0.95 * int(limit.read_text())

    def tasks(self) -> list[int]:
        pids: set[int] = set()
        for f in self.procs_files:
            with contextlib.suppress(OSError):
                pids |= {int(p) for p in Path(f).read_text().split()}
        return sorted(pids)

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL every task until the group is empty (a fork bomb cannot outrun ``pids.max``), then remove it."""
        deadline = time.monotonic() + timeout
        while (pids := self.tasks()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
