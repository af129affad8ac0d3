"""``make bench-sizing``: how much memory one learner needs, measured, for the class's ``resources``.

Each lab is executed at the size learners get (``labkit run LAB``, not ``--fast``) inside a memory cgroup of its
own, and the cgroup's peak is read: the notebook's kernel and everything it starts (Spark's JVM, Horovod's
workers, MLflow's and the model API's servers) plus papermill. A learner's JupyterLab server, idle, is measured
the same way. Needs root and cgroups; takes as long as the full-size course (about 40 minutes on 2 cores).

Run alone it refreshes only its section of ``results.md``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

HEADING = "## Memory per learner"
ROOT = Path(__file__).resolve().parent.parent
GROUP = "labkit-class/sizing"


def _resident(group: Path) -> int:
    """Anonymous (resident) plus shared memory of the group now: what a limit must hold, without the page cache
    that the kernel gives back under a limit (the cgroup's own peak counts it, and is several times higher)."""
    stat = dict(line.split() for line in (group / "memory.stat").read_text().splitlines())
    if "total_rss" in stat:  # cgroup v1
        return int(stat["total_rss"]) + int(stat.get("total_shmem", 0))
    return int(stat.get("anon", 0)) + int(stat.get("shmem", 0))


def measured(command: list[str], seconds: float | None = None) -> tuple[int, float, int]:
    """Run ``command`` in a fresh memory cgroup; (peak bytes, wall seconds, exit code). ``seconds``: stop it then."""
    v1 = Path("/sys/fs/cgroup/memory")
    group = (v1 if v1.is_dir() else Path("/sys/fs/cgroup")) / GROUP
    group.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: (group / "cgroup.procs").write_text(str(os.getpid())))
    peak = 0
    while proc.poll() is None and (seconds is None or time.perf_counter() - start < seconds):
        peak = max(peak, _resident(group))  # sampled twice a second
        time.sleep(0.5)
    if proc.poll() is None:
        proc.terminate()
        proc.wait(30)
    wall, code = time.perf_counter() - start, proc.returncode if seconds is None else 0
    for pid in (group / "cgroup.procs").read_text().split():
        subprocess.run(["kill", "-9", pid], capture_output=True)
    time.sleep(1)
    with contextlib.suppress(OSError):
        group.rmdir()
    return peak, wall, code


def sizing_section() -> list[str]:
    from labkit.grading.nbgrader import list_labs

    if os.geteuid() != 0:
        return [HEADING, "", "(not measured: needs root for the cgroups)", ""]
    venv_bin = Path(sys.executable).parent
    rows = []
    lab_peak, _, _ = measured([str(venv_bin / "jupyter"), "lab", "--no-browser", "--allow-root", "--port", "0",
                               "--ServerApp.token=x"], seconds=25)
    for lab in list_labs():
        peak, wall, code = measured([str(venv_bin / "labkit"), "run", lab])
        rows.append(f"| {lab} | {peak / 2**30:.2f} | {wall / 60:.1f} | {'ok' if code == 0 else 'FAILED'} |")
        print(rows[-1], flush=True)
    return ["", HEADING, "",
            "Each lab run at full size (`labkit run LAB`, what a learner's Run All does) in a memory cgroup of its "
            "own; the peak is its resident memory (anonymous and shared, sampled twice a second, page cache left out) "
            "and includes everything the notebook starts. On 2 cores, one lab at a time.", "",
            f"A learner's JupyterLab server, idle: {lab_peak / 2**20:.0f} MiB.", "",
            "| lab | peak resident GiB | minutes | run |", "|---|---:|---:|---|", *rows, ""]


if __name__ == "__main__":
    from sections import refresh_and_say

    refresh_and_say(__file__, HEADING, sizing_section())
