"""Turning a freshly forked process into a sandbox: namespaces, mounts, rlimits, a user id (:func:`enter`),
and what this machine allows (:func:`isolation`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import socket
import struct
import sys
from functools import cache
from pathlib import Path

from labkit.grading.sandbox.limits import (
    _CLONE_NEWNET,
    _CLONE_NEWNS,
    _CLONE_NEWPID,
    _CRASHED,
    _MS_BIND,
    _MS_NODEV,
    _MS_NOSUID,
    _MS_PRIVATE,
    _MS_RDONLY,
    _MS_REC,
    _MS_REMOUNT,
    _PR_SET_PDEATHSIG,
    CGROUP_ROOT,
    Limits,
    Spec,
)
from labkit.grading.sandbox.relay import _spark_relay

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


def enter(spec: Spec, helper=None) -> None:
    """Turn the calling (freshly forked, root or not) process into the sandbox described by ``spec``.

    ``helper`` (a function) runs in a child forked once the namespaces are set and before a PID namespace
    (``spec.pid_namespace``) is made, so it stays outside the PID namespace: the Spark server's relay, which
    a learner's UDF inside must not be able to kill. After ``unshare(CLONE_NEWPID)`` the calling process's
    next child is PID 1 of the new namespace (see :func:`labkit.grading.sandbox.zygote.run_command`)."""
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
    if helper is not None and os.fork() == 0:
        _become(spec, iso)
        helper()
        os._exit(0)
    if spec.pid_namespace and iso["namespaces"]:
        _enter_pid_namespace()
    _become(spec, iso)
    os.chdir(spec.workdir)
    os.environ.update({"HOME": spec.workdir, "TMPDIR": "/tmp" if iso["namespaces"] else spec.workdir,
                       "MPLCONFIGDIR": os.path.join(spec.workdir, ".matplotlib"),
                       "IPYTHONDIR": os.path.join(spec.workdir, ".ipython"),
                       "JUPYTER_RUNTIME_DIR": os.path.join(spec.workdir, ".jupyter")})
    os.environ.update(spec.env)
    sys.path[:] = [p for p in sys.path if p not in ("", ".")]


def _enter_pid_namespace() -> None:
    """Continue as PID 1 of a new PID namespace, with its own ``/proc`` (Spark finds its Python workers there);
    the process that called stays outside, waits for it and exits with its status."""
    if _libc().unshare(_CLONE_NEWPID) != 0:
        raise OSError(ctypes.get_errno(), "unshare of the PID namespace failed")
    child = os.fork()
    if child:
        _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        _, status = os.waitpid(child, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    _mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV)


def _become(spec: Spec, iso: dict[str, bool]) -> None:
    """Drop to the sandbox's user, and die with the zygote."""
    if iso["separate_user"]:
        os.setgroups([])
        os.setgid(spec.uid)
        os.setuid(spec.uid)
    # after setuid, which clears it: die with the zygote
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


