"""Starting the simulators' worker processes: spawned (safe after TensorFlow or Spark started threads in the
parent, where fork can deadlock) and single-threaded (one BLAS thread each, so N processes share the cores
instead of fighting over them)."""

from __future__ import annotations

import multiprocessing

from labkit._env import THREAD_VARIABLES, environment  # noqa: F401 - re-exported for the simulators


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
