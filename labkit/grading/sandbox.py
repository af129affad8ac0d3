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

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

from labkit._validation import check_int

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PREFIX = "labkit-grading"
FIRST_UID = 61000  # sandbox user ids: FIRST_UID + n, no /etc/passwd entry needed
# never imported by the zygote: they start threads at import or break when forked
_NO_PRELOAD = ("tensorflow", "keras", "horovod", "torch", "jax", "grpc", "pyspark.sql.connect")
_CLONE_NEWNS, _CLONE_NEWNET = 0x00020000, 0x40000000
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
    spark_port: int = 15002
    referee_socket: str | None = None  # the grader's end of the referee's channel (labkit.grading.channel)
    referee_key: str | None = None  # hex; taken out of the spec before the learner's code can run


# --------------------------------------------------------------------------- what this machine allows

def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _probe_namespaces() -> bool:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the probe child
        ok = _libc().unshare(_CLONE_NEWNS | _CLONE_NEWNET) == 0
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _cgroup_version() -> int:
    if (CGROUP_ROOT / "cgroup.controllers").is_file():
        controllers = (CGROUP_ROOT / "cgroup.controllers").read_text().split()
        return 2 if {"memory", "pids"} <= set(controllers) and os.access(CGROUP_ROOT, os.W_OK) else 0
    ok = all(os.access(CGROUP_ROOT / c, os.W_OK) for c in ("memory", "pids"))
    return 1 if ok else 0


@cache
def isolation() -> dict[str, bool]:
    """Which protections this machine gives a sandboxed kernel. ``LABKIT_SANDBOX=minimal`` turns everything but
    the rlimits off (what a machine without root gets; the tests use it to check that fallback).

    >>> sorted(isolation())
    ['cgroups', 'namespaces', 'rlimits', 'separate_user']
    """
    if os.environ.get("LABKIT_SANDBOX", "").lower() == "minimal":
        return {"rlimits": True, "separate_user": False, "namespaces": False, "cgroups": False}
    linux, root = sys.platform.startswith("linux"), hasattr(os, "geteuid") and os.geteuid() == 0
    return {
        "rlimits": True,
        "separate_user": bool(linux and root),
        "namespaces": bool(linux and root and _probe_namespaces()),
        "cgroups": bool(linux and root and _cgroup_version()),
    }


def describe_isolation() -> str:
    """One line for logs: which protections are active and which fall back."""
    iso = isolation()
    on = [k.replace("_", " ") for k, v in iso.items() if v]
    off = [k.replace("_", " ") for k, v in iso.items() if not v]
    text = "sandbox: " + ", ".join(on)
    if off:
        text += f" (unavailable here: {', '.join(off)}; see the README's grading section)"
    return text


# --------------------------------------------------------------------------- cgroups (grader side)

class Cgroup:
    """A memory + pids cgroup (v1 or v2) for one submission; ``kill()`` ends every task in it."""

    def __init__(self, name: str, limits: Limits) -> None:
        self.version = _cgroup_version()
        if self.version == 2:
            self.dirs = [CGROUP_ROOT / CGROUP_PREFIX / name]
            parent = CGROUP_ROOT / CGROUP_PREFIX
            parent.mkdir(exist_ok=True)
            with contextlib.suppress(OSError):
                (parent / "cgroup.subtree_control").write_text("+memory +pids")
        else:
            self.dirs = [CGROUP_ROOT / c / CGROUP_PREFIX / name for c in ("memory", "pids")]
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


def clean_stale_cgroups() -> int:
    """Kill and remove cgroups left by a grader that was killed (``kill -9``); returns how many."""
    if not isolation()["cgroups"]:
        return 0
    version = _cgroup_version()
    parents = [CGROUP_ROOT / CGROUP_PREFIX] if version == 2 else \
        [CGROUP_ROOT / c / CGROUP_PREFIX for c in ("memory", "pids")]
    names = {d.name for p in parents if p.is_dir() for d in p.iterdir() if d.is_dir()}
    for name in names:
        group = Cgroup.__new__(Cgroup)
        group.version = version
        group.dirs = [p / name for p in parents]
        group.kill()
    return len(names)


# --------------------------------------------------------------------------- inside the forked child

def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    libc = _libc()
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    rc = libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                    data.encode() if data else None)
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def _loopback_up() -> None:
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    import fcntl

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = fcntl.ioctl(s, siocgifflags, struct.pack("16sh14x", b"lo", 0))
        flags = struct.unpack("16sh14x", ifr)[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sh14x", b"lo", flags | iff_up))


def _umount(target: str) -> None:
    _libc().umount2(target.encode(), 2)  # MNT_DETACH


def _traversable(path: str) -> bool:
    st = os.stat(path)
    return bool(st.st_mode & 0o001)


def _isolate_filesystem(spec: Spec, limits: Limits) -> None:
    """Private /tmp; ``spec.readonly`` (the course, the interpreter) visible read-only even where they sit
    under a private folder (/root, /tmp); ``spec.hide`` replaced by empty directories."""
    _mount("none", "/", None, _MS_REC | _MS_PRIVATE)
    staging = Path(spec.workdir).parent / f".stage-{spec.name}"
    staged = []
    for i, path in enumerate(p for p in spec.readonly if os.path.isdir(p)):
        stage = staging / str(i)
        stage.mkdir(parents=True, exist_ok=True)
        _mount(path, str(stage), None, _MS_BIND | _MS_REC)
        staged.append((path, str(stage), os.stat(path).st_ino))
    for path in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={limits.tmp_mb}m,mode=1777")
    closed = set()
    for path, _, _ in staged:  # e.g. /root (mode 700) above a Python installed by pyenv
        for parent in Path(path).parents:
            if str(parent) != "/" and os.path.isdir(parent) and not _traversable(parent):
                closed.add(str(parent))
    for parent in sorted(closed, key=len):
        _mount("tmpfs", parent, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=64k,mode=755")
    for path, stage, inode in staged:
        if not (os.path.isdir(path) and os.stat(path).st_ino == inode):
            os.makedirs(path, exist_ok=True)
        _mount(stage, path, None, _MS_BIND | _MS_REC)
        _mount(path, path, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID)
    for _, stage, _ in staged:
        _umount(stage)
    for path in spec.hide:
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV, "size=16k,mode=755")
    _name_the_user(spec, staging)


def _name_the_user(spec: Spec, staging: Path) -> None:
    """Give the sandbox's user id a name and home in this namespace's /etc/passwd: the JVM (Spark) refuses
    to start for a user without one ("basedir must be absolute: ?/.ivy2")."""
    for file, line in (("/etc/passwd", f"learner:x:{spec.uid}:{spec.uid}:learner:{spec.workdir}:/bin/sh\n"),
                       ("/etc/group", f"learner:x:{spec.uid}:\n")):
        if not os.path.isfile(file):
            continue
        copy = staging / Path(file).name
        copy.write_text(Path(file).read_text() + line)
        copy.chmod(0o644)
        _mount(str(copy), file, None, _MS_BIND)


def _set_rlimits(limits: Limits, *, separate_user: bool) -> None:
    def cap(which: int, soft: int, hard: int | None = None) -> None:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (soft, hard if hard is not None else soft))

    cap(resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 5)
    cap(resource.RLIMIT_FSIZE, limits.file_mb * 1024 * 1024)
    cap(resource.RLIMIT_CORE, 0)
    if separate_user:  # RLIMIT_NPROC counts every process of the user: only meaningful for our own uid
        cap(resource.RLIMIT_NPROC, limits.max_tasks)
    if not isolation()["cgroups"]:  # fallback memory cap: private writable mappings (heap, mmap)
        cap(resource.RLIMIT_DATA, limits.memory_bytes)


def _spark_relay(port: int, unix_path: str) -> None:
    """Forward 127.0.0.1:``port`` inside the sandbox's network namespace to the Spark server's Unix socket."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(16)

    def serve() -> None:
        while True:
            conn, _ = server.accept()
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(unix_path)
            except OSError:
                conn.close()
                continue
            pump(conn, upstream)

    threading.Thread(target=serve, daemon=True, name="labkit-spark-relay").start()


def pump(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways between two connected sockets until either side closes."""

    def one_way(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    for src, dst in ((a, b), (b, a)):
        threading.Thread(target=one_way, args=(src, dst), daemon=True, name="labkit-pump").start()


def enter(spec: Spec) -> None:
    """Turn the calling (freshly forked, root or not) process into the sandbox described by ``spec``."""
    limits = Limits(**spec.limits)
    iso = isolation()
    os.setsid()
    for procs in spec.cgroups:
        Path(procs).write_text(str(os.getpid()))
    if iso["namespaces"]:
        if _libc().unshare(_CLONE_NEWNS | _CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare failed")
        _loopback_up()
        _isolate_filesystem(spec, limits)
    _set_rlimits(limits, separate_user=iso["separate_user"])
    if spec.spark_socket:
        _spark_relay(spec.spark_port, spec.spark_socket)
    if iso["separate_user"]:
        os.setgroups([])
        os.setgid(spec.uid)
        os.setuid(spec.uid)
    # after setuid, which clears it: die with the zygote
    _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.chdir(spec.workdir)
    os.environ.update({"HOME": spec.workdir, "TMPDIR": "/tmp" if iso["namespaces"] else spec.workdir,
                       "MPLCONFIGDIR": os.path.join(spec.workdir, ".matplotlib"),
                       "IPYTHONDIR": os.path.join(spec.workdir, ".ipython"),
                       "JUPYTER_RUNTIME_DIR": os.path.join(spec.workdir, ".jupyter")})
    os.environ.update(spec.env)
    sys.path[:] = [p for p in sys.path if p not in ("", ".")]


def _unix_to_tcp_relay(unix_path: str, port: int) -> None:  # pragma: no cover - a forked process
    """Serve ``unix_path`` (mode 666) and forward each connection to 127.0.0.1:``port`` in this namespace."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(unix_path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(unix_path)
    os.chmod(unix_path, 0o666)
    server.listen(64)
    while True:
        conn, _ = server.accept()
        upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            upstream.connect(("127.0.0.1", port))
        except OSError:
            conn.close()
            continue
        pump(conn, upstream)


def _run_command(spec: Spec, argv: list[str], relay_socket: str | None, relay_port: int) -> None:  # pragma: no cover
    enter(spec)
    if relay_socket and os.fork() == 0:
        _unix_to_tcp_relay(relay_socket, relay_port)
        os._exit(0)
    os.execvpe(argv[0], argv, os.environ)


def _run_kernel(spec: Spec) -> None:  # pragma: no cover - runs in the forked child
    from ipykernel.kernelapp import IPKernelApp

    referee = None
    if spec.referee_socket and spec.referee_key:
        # connected while still root: the socket file is root's, and nothing else in the sandbox can reach it
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.connect(spec.referee_socket)
        referee = (bytes.fromhex(spec.referee_key), sock)
    spec.referee_key = None
    enter(spec)
    app = IPKernelApp.instance()
    app.initialize(["-f", spec.connection_file, "--IPKernelApp.parent_handle=0", "--HistoryManager.enabled=False"])
    if os.environ.get("MPLBACKEND") == "agg":
        draw_without_rendering(app.shell)
    if referee is not None:
        from labkit.grading import referee as referee_module
        from labkit.grading.checks import DEFAULT_SEED

        seed = int(os.environ.get("LABKIT_GRADING_SEED", DEFAULT_SEED))
        referee_module.install(app.shell, *referee, seed, trusted_roots())
        referee = None
    app.start()


def trusted_roots() -> list[str]:
    """Where trusted code lives, read-only in the sandbox: the interpreter's library, the virtual environment
    and labkit itself (as given and with symbolic links resolved)."""
    import labkit

    roots = [sys.prefix, sys.base_prefix, os.path.dirname(labkit.__file__)]
    return sorted({p for r in roots for p in (os.path.abspath(r), os.path.realpath(r))})


def draw_without_rendering(shell) -> None:
    """Grading without ``--figures``: a lab's ``%matplotlib inline`` keeps the ``agg`` backend, so figures are
    drawn but never rendered to PNG (the largest share of a plot's cost), and each cell's figures are closed
    after it runs, as the inline backend closes them."""
    shell.register_magic_function(lambda line="": None, "line", "matplotlib")

    def close_figures(*_) -> None:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close("all")

    shell.events.register("post_run_cell", close_figures)


# --------------------------------------------------------------------------- the zygote process

def preload_modules(sources: list[str]) -> list[str]:
    """Top-level and ``from`` imports of a lab's code cells that are safe to import before forking.

    >>> preload_modules(["import numpy as np\\nfrom sklearn import metrics\\nimport tensorflow as tf"])
    ['numpy', 'sklearn', 'sklearn.metrics']
    """
    import ast

    names: list[str] = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                # `from labkit import metrics` needs labkit.metrics: try every name as a submodule too
                found = [node.module] + [f"{node.module}.{a.name}" for a in node.names if a.name != "*"]
            else:
                continue
            names += [n for n in found if n not in names and not n.startswith(_NO_PRELOAD)]
    return names


def _zygote_main(preload: list[str], warm: list[str]) -> None:  # pragma: no cover - a separate process; tested end to end
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    for name in ["ipykernel.kernelapp", "ipykernel.ipkernel", "IPython", "matplotlib_inline.backend_inline",
                 "labkit.grading.checks", "labkit.grading.guard", *preload]:
        with contextlib.suppress(Exception):
            __import__(name)
    with contextlib.suppress(Exception):  # checksums and decoding once here, not once per kernel
        from labkit import datasets

        for name in datasets.manifest():
            datasets.dataset_path(name)
        for loader in warm:
            getattr(datasets, loader)()
    out = sys.stdout.buffer
    out.write(b'{"ready": true}\n')
    out.flush()
    children: set[int] = set()
    pending = b""  # bytes read from stdin and not served yet: one read can hold several requests
    while True:
        ready = b"\n" in pending or bool(select.select([0], [], [], 0.1)[0])
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            children.discard(pid)
            out.write(json.dumps({"exit": pid, "status": status}).encode() + b"\n")
            out.flush()
        if not ready:
            continue
        if b"\n" not in pending:
            chunk = os.read(0, 1 << 16)
            if not chunk:  # the grader went away: take the kernels with us
                for pid in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pid, signal.SIGKILL)
                os._exit(0)
            pending += chunk
            continue
        line, _, pending = pending.partition(b"\n")
        request = json.loads(line)
        spec = Spec(**request["spec"])
        pid = os.fork()
        if pid == 0:
            # another kernel's request (and its referee key) must not stay in this kernel's memory
            line = pending = b""
            request["spec"] = None
            try:
                os.dup2(os.open(os.devnull, os.O_RDWR), 0)
                log = os.open(os.path.join(spec.workdir, ".kernel.log"), os.O_WRONLY | os.O_CREAT, 0o600)
                os.dup2(log, 1)
                os.dup2(log, 2)
                if request.get("argv"):
                    _run_command(spec, request["argv"], request.get("relay_socket"), request.get("relay_port", 0))
                else:
                    _run_kernel(spec)
            except BaseException as exc:  # noqa: BLE001 - report whatever stopped the sandbox, then die
                with contextlib.suppress(Exception):
                    os.write(2, f"labkit sandbox: {type(exc).__name__}: {exc}\n".encode())
            finally:
                os._exit(_CRASHED)
        children.add(pid)
        out.write(json.dumps({"id": request["id"], "pid": pid}).encode() + b"\n")
        out.flush()


class Zygote:
    """The grader's handle on a zygote process: ``spawn(spec)`` forks a sandboxed kernel and returns its pid."""

    def __init__(self, preload: list[str] | None = None, *, warm: list[str] | None = None, env: dict | None = None,
                 figures: bool = True) -> None:
        child_env = {**os.environ, **(env or {})}
        child_env.pop("PYTEST_CURRENT_TEST", None)  # ipykernel stops capturing fd-level output under pytest
        if not figures:  # figures are drawn but not rendered to PNG: most of a plot's cost
            child_env["MPLBACKEND"] = "agg"
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            child_env[var] = "1"  # one core per submission: workers run side by side
        self.proc = subprocess.Popen(
            [sys.executable, "-Xfrozen_modules=off", "-m", "labkit.grading.sandbox",
             json.dumps([preload or [], warm or []])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child_env, preexec_fn=_die_with_parent,
        )
        self._lock = threading.Lock()
        self._next = 0
        self._replies: dict[int, int] = {}
        self.exits: dict[int, int] = {}
        self._cond = threading.Condition()
        first = self.proc.stdout.readline()
        if not first.startswith(b'{"ready"'):
            raise RuntimeError("the grading zygote did not start")
        threading.Thread(target=self._read, daemon=True, name="labkit-zygote-reader").start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            msg = json.loads(line)
            with self._cond:
                if "exit" in msg:
                    self.exits[msg["exit"]] = msg["status"]
                else:
                    self._replies[msg["id"]] = msg["pid"]
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def spawn(self, spec: Spec, timeout: float = 30.0, **extra) -> int:
        """Fork a sandboxed kernel (or, with ``argv=[...]``, a sandboxed command); returns its pid."""
        with self._lock:
            self._next += 1
            rid = self._next
            self.proc.stdin.write(json.dumps({"id": rid, "spec": asdict(spec), **extra}).encode() + b"\n")
            self.proc.stdin.flush()
        with self._cond:
            if not self._cond.wait_for(lambda: rid in self._replies, timeout):
                raise RuntimeError("the grading zygote did not answer")
            return self._replies.pop(rid)

    def exec(self, spec: Spec, argv: list[str], *, relay_socket: str | None = None, relay_port: int = 0) -> int:
        """Run ``argv`` in a sandbox; with ``relay_socket``, also serve that Unix socket, forwarded to
        ``relay_port`` on the sandbox's loopback (how kernels reach a sandboxed server)."""
        return self.spawn(spec, argv=argv, relay_socket=relay_socket, relay_port=relay_port)

    def exit_status(self, pid: int) -> int | None:
        with self._cond:
            return self.exits.get(pid)

    def wait_exit(self, pid: int, timeout: float) -> int | None:
        with self._cond:
            self._cond.wait_for(lambda: pid in self.exits, timeout)
            return self.exits.get(pid)

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _die_with_parent() -> None:
    _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def describe_exit(status: int | None, *, oom: bool, limits: Limits) -> str:
    """Why a kernel died, in words a learner can act on.

    >>> describe_exit(9, oom=True, limits=Limits(memory_mb=512))
    'the kernel was killed for using more than the 512 MiB memory limit'
    """
    if oom:
        return f"the kernel was killed for using more than the {limits.memory_mb} MiB memory limit"
    if status is None:
        return "the kernel stopped responding"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return f"the kernel used up its {limits.cpu_seconds} s of CPU time"
        if sig == signal.SIGSEGV:
            return "the kernel crashed (segmentation fault)"
        if sig == signal.SIGXFSZ:
            return f"the kernel wrote a file larger than the {limits.file_mb} MiB limit"
        return f"the kernel was killed by signal {signal.Signals(sig).name}"
    code = os.waitstatus_to_exitcode(status)
    if code == _CRASHED:
        return "the kernel crashed: the submission broke the Python process it runs in"
    return f"the kernel exited (exit code {code}): code must not call exit()"


if __name__ == "__main__":  # pragma: no cover
    _zygote_main(*json.loads(sys.argv[1]))
