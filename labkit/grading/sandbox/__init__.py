"""The sandbox every submission's kernel runs in, and the zygote that forks those kernels.

What a sandboxed kernel gets, on Linux as root (what ``make course`` and CI run as):

* its own **cgroup** capping memory (no swap) and the number of tasks, so a memory bomb meets the
  OOM killer and a fork bomb meets ``pids.max``; everything in it is killed when the submission ends;
* its own **network namespace** holding only a loopback device: no route anywhere, not even to the
  grader's loopback (Spark labs reach the shared Spark server through a Unix socket relay);
* its own **mount namespace**: the course tree read-only, the instructor's folders (``solutions/``,
  ``grading/``, ``build/``, ``.git/``) replaced by empty read-only directories, and private, size-capped
  ``/tmp``, ``/var/tmp`` and ``/dev/shm``;
* its own **user id** (one per submission), no supplementary groups and rlimits on CPU time, processes,
  file size and core dumps; a working directory holding only the lab's release files.

Without root (or on another OS) only the rlimits and the private working directory apply, and
:func:`isolation` says so; the grader prints that in its summary.

Kernels are forked from a **zygote**: one process per grading run that has already imported the lab's
libraries (NumPy, pandas, scikit-learn, matplotlib, IPython...), so a kernel is ready in a fraction of a
second instead of paying interpreter start-up and imports per submission.

>>> Limits(memory_mb=1024).memory_bytes
1073741824
"""

from labkit.grading.sandbox.cgroup import Cgroup
from labkit.grading.sandbox.isolation import describe_exit, describe_isolation, enter, isolation
from labkit.grading.sandbox.limits import CGROUP_PREFIX, CGROUP_ROOT, FIRST_UID, Limits, Spec
from labkit.grading.sandbox.mounts import secret_paths, visible_paths
from labkit.grading.sandbox.reaper import reap_dead_runs, reap_run, uid_range
from labkit.grading.sandbox.relay import pump
from labkit.grading.sandbox.zygote import Zygote, draw_without_rendering, preload_modules, trusted_roots

__all__ = ["CGROUP_PREFIX", "CGROUP_ROOT", "FIRST_UID", "Cgroup", "Limits", "Spec", "Zygote",
           "describe_exit", "describe_isolation", "draw_without_rendering", "enter", "isolation", "preload_modules",
           "pump", "reap_dead_runs", "reap_run", "secret_paths", "trusted_roots", "uid_range", "visible_paths"]
