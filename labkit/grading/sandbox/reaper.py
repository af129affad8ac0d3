"""What a grading run leaves behind, and how the next run reaps what a crashed one left.

Every run owns, by its grader's process id: its cgroups (``<pid>-…``), its runtime folder
(``grade-<pid>-…``: kernels' working folders, referee and relay sockets, scratch folders) and a range of
sandbox user ids (:func:`uid_range`). A run that is killed (``kill -9``) cleans none of it, and a background
process a submission started may outlive its kernel. :func:`reap_dead_runs`, called when a run starts,
kills every process in a dead run's cgroups and every process of a dead run's user ids, and removes its
cgroups and folders; runs that are still alive (a second ``labkit grade`` beside this one) are left alone.

>>> lo, hi = uid_range(1234)
>>> lo >= FIRST_UID and hi - lo == UIDS_PER_RUN
True
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
from pathlib import Path

from labkit._system import process_alive
from labkit.grading.sandbox.cgroup import Cgroup
from labkit.grading.sandbox.isolation import _cgroup_version, isolation
from labkit.grading.sandbox.limits import CGROUP_PREFIX, CGROUP_ROOT, FIRST_UID

UIDS_PER_RUN = 1 << 16  # a run never grades this many submissions at once
_RUNS = 4096  # distinct uid ranges (grader pid modulo this)
_OWNER = re.compile(r"^(?:grade-)?(\d+)-")


def uid_range(pid: int | None = None) -> tuple[int, int]:
    """The sandbox user ids ``[lo, hi)`` of the run whose grader has process id ``pid`` (default: this one)."""
    lo = FIRST_UID + ((os.getpid() if pid is None else pid) % _RUNS) * UIDS_PER_RUN
    return lo, lo + UIDS_PER_RUN


    return True


def _owner(name: str) -> int | None:
    match = _OWNER.match(name)
    return int(match.group(1)) if match else None


def _cgroup_parents() -> list[Path]:
    if _cgroup_version() == 2:
        return [CGROUP_ROOT / CGROUP_PREFIX]
    return [CGROUP_ROOT / c / CGROUP_PREFIX for c in ("memory", "pids")]


def _kill_uids(lo: int, hi: int) -> int:
    """SIGKILL every process whose real user id is in ``[lo, hi)``; returns how many."""
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            uid = int(next(line for line in (entry / "status").read_text().splitlines()
                           if line.startswith("Uid:")).split()[1])
        except (OSError, StopIteration, ValueError):
            continue
        if lo <= uid < hi:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
    return killed


def reap_dead_runs(runtime_base: Path) -> int:
    """Kill and remove everything runs whose grader is gone left behind; returns how many runs were reaped."""
    dead: set[int] = set()
    if isolation()["cgroups"]:
        version, parents = _cgroup_version(), _cgroup_parents()
        names = {d.name for p in parents if p.is_dir() for d in p.iterdir() if d.is_dir()}
        for name in names:
            owner = _owner(name)
            if owner is not None and process_alive(owner):
                continue
            group = Cgroup.__new__(Cgroup)
            group.version, group.dirs = version, [p / name for p in parents]
            group.kill()
            if owner is not None:
                dead.add(owner)
    if Path(runtime_base).is_dir():
        for folder in Path(runtime_base).glob("grade-*"):
            owner = _owner(folder.name)
            if owner is not None and not process_alive(owner):
                dead.add(owner)
                shutil.rmtree(folder, ignore_errors=True)
    if isolation()["separate_user"]:
        for owner in dead:
            _kill_uids(*uid_range(owner))
    return len(dead)


def reap_run(pid: int | None = None) -> int:
    """At the end of a run: kill whatever still runs under this run's user ids (a submission's background
    process whose kernel is gone); returns how many."""
    return _kill_uids(*uid_range(pid)) if isolation()["separate_user"] else 0
