"""Starting the simulators' worker processes: spawned (safe after TensorFlow or Spark started threads in the
parent, where fork can deadlock) and single-threaded (one BLAS thread each, so N processes share the cores
instead of fighting over them)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def environment(variables: dict[str, str], *, override: bool = True):
    """Within the block, ``os.environ`` also holds ``variables`` (what child processes inherit); restored after.
    With ``override=False`` a variable the user already set keeps its value."""
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update({k: v for k, v in variables.items() if override or k not in os.environ})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def single_threaded_children():
    """Within the block, spawned processes start with one BLAS thread (they read these at NumPy import)."""
    return environment(dict.fromkeys(THREAD_VARIABLES, "1"))


def start(targets: list[tuple]) -> list[multiprocessing.Process]:
    """Start one spawned daemon process per ``(function, args)`` and return them."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=fn, args=args, daemon=True) for fn, args in targets]
    with single_threaded_children():
        for p in procs:
            p.start()
    return procs


def stop(procs: list[multiprocessing.Process], *, timeout: float = 10.0) -> None:
    """Join every process, killing any that does not exit within ``timeout`` seconds."""
    for p in procs:
        p.join(timeout)
        if p.is_alive():
            p.kill()
            p.join()


def pipe():
    """A duplex pipe from the spawn context."""
    return multiprocessing.get_context("spawn").Pipe()
