"""Where trials run: in this process, in a local process pool, or as Spark tasks.

An executor runs *jobs* — "train this trial from resource ``start`` to ``stop``, resuming from this checkpoint"
— and hands back a :class:`JobResult` through a :class:`concurrent.futures.Future`. The trainable and its
checkpoint travel pickled with cloudpickle, so a function defined in a notebook works everywhere.

* :class:`SerialExecutor` runs each job at once, in order: deterministic, easy to debug.
* :class:`ProcessExecutor` runs jobs on ``n_workers`` spawned processes; results arrive in the order jobs
  finish, which is what lets ASHA keep every worker busy where synchronous SHA waits at its rungs.
* :class:`SparkExecutor` runs each job as a one-row Spark job (``mapInPandas``) from a pool of driver threads,
  like Hyperopt's ``SparkTrials``; it works on a local session, a cluster and Spark Connect alike.

A trainable is any callable ``trainable(config, *, start, stop, checkpoint, seed) -> (metrics, checkpoint)``
returning one metric per unit of resource from ``start + 1`` to ``stop``.

>>> def trainable(config, *, start, stop, checkpoint, seed):
...     return [config["x"] * step for step in range(start + 1, stop + 1)], None
>>> from labkit.hpo.scheduler import Job
>>> with SerialExecutor() as ex:
...     ex.submit(trainable, Job(0, {"x": 2.0}, 0, 3), checkpoint=None, seed=0).result().metrics
[2.0, 4.0, 6.0]
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cloudpickle

from labkit._env import THREAD_VARIABLES as _THREAD_VARIABLES
from labkit.hpo.scheduler import Job

Trainable = Callable[..., tuple[list[float], Any]]


@dataclass
class JobResult:
    """What a job reports: one metric per step from ``job.start + 1``, the new checkpoint, when and where it ran."""

    job: Job
    metrics: list[float]
    checkpoint: Any
    started: float
    finished: float
    worker: str
    error: str | None = None


def run_job(trainable: Trainable, job: Job, checkpoint: Any, seed: int) -> JobResult:
    """Run one job and never raise: a failing trainable comes back as ``JobResult.error``."""
    started = time.time()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        metrics, new_checkpoint = trainable(dict(job.config), start=job.start, stop=job.stop,
                                            checkpoint=checkpoint, seed=seed)
        metrics = [float(m) for m in metrics]
        if len(metrics) != job.stop - job.start:
            raise ValueError(f"the trainable returned {len(metrics)} metrics for steps {job.start + 1}..{job.stop}; "
                             f"it must return exactly one per step ({job.stop - job.start}).")
        return JobResult(job, metrics, new_checkpoint, started, time.time(), worker)
    except Exception:  # noqa: BLE001 - reported per trial, the experiment goes on
        return JobResult(job, [], None, started, time.time(), worker, error=traceback.format_exc(limit=5))


def _run_pickled(payload: bytes) -> bytes:
    trainable, job, checkpoint, seed = cloudpickle.loads(payload)
    return cloudpickle.dumps(run_job(trainable, job, checkpoint, seed))


def _worker_init(threads: int, preload: tuple[str, ...] = ()) -> None:
    os.environ["LABKIT_WORKER_THREADS"] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import importlib

    for module in preload:
        importlib.import_module(module)


def _ready(delay: float) -> int:
    time.sleep(delay)  # long enough that every warm-up task lands on its own process
    return os.getpid()


class Executor:
    """Base class: ``submit`` a job, get a future of its :class:`JobResult`; use as a context manager."""

    n_workers = 1

    def submit(self, trainable: Trainable, job: Job, *, checkpoint: Any, seed: int) -> Future:
        raise NotImplementedError  # pragma: no cover

    def shutdown(self) -> None:
        """Release the workers."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


class SerialExecutor(Executor):
    """Run every job in this process, at submission."""

    def submit(self, trainable: Trainable, job: Job, *, checkpoint: Any, seed: int) -> Future:
        future: Future = Future()
        future.set_result(run_job(trainable, job, checkpoint, seed))
        return future


class _Unpickling(Future):
    """A future whose result is unpickled from the worker's bytes."""

    def __init__(self, inner: Future) -> None:
        super().__init__()
        inner.add_done_callback(self._done)

    def _done(self, inner: Future) -> None:
        try:
            self.set_result(cloudpickle.loads(inner.result()))
        except Exception as exc:  # noqa: BLE001 - a dead worker process: surface it on the future
            self.set_exception(exc)


class ProcessExecutor(Executor):
    """A pool of ``n_workers`` spawned Python processes (default: one per core).

    Processes are *spawned*, not forked, so a parent that has already started TensorFlow or Spark threads
    cannot deadlock a child. ``threads_per_worker`` is exported as ``LABKIT_WORKER_THREADS`` for trainables
    that size their thread pools (the Keras task does), so n workers use n cores. The workers start (and import
    ``preload``) when the executor is created.
    """

    def __init__(self, n_workers: int | None = None, *, threads_per_worker: int = 1,
                 preload: tuple[str, ...] = ("labkit.hpo.tasks", "sklearn.linear_model")) -> None:
        self.n_workers = n_workers or os.cpu_count() or 1
        if self.n_workers < 1:
            raise ValueError(f"n_workers must be at least 1, got {n_workers!r}.")
        self._pool = ProcessPoolExecutor(self.n_workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_worker_init, initargs=(threads_per_worker, tuple(preload)))
        # start every worker now, so process start-up and imports (``preload``) are not charged to the first jobs;
        # BLAS pools are sized before NumPy loads in the child, so n workers really use n × threads cores
        saved = {k: os.environ.get(k) for k in _THREAD_VARIABLES}
        os.environ.update({k: str(threads_per_worker) for k in _THREAD_VARIABLES})
        try:
            pids = {f.result() for f in [self._pool.submit(_ready, 0.3) for _ in range(self.n_workers)]}
        finally:
            for key, value in saved.items():
                os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        self.worker_pids = sorted(pids)

    def submit(self, trainable: Trainable, job: Job, *, checkpoint: Any, seed: int) -> Future:
        payload = cloudpickle.dumps((trainable, job, checkpoint, seed))
        return _Unpickling(self._pool.submit(_run_pickled, payload))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _spark_task(batches):  # runs on a Spark executor's Python worker
    import pandas as pd

    _worker_init(1)
    for batch in batches:
        yield pd.DataFrame({"result": [_run_pickled(payload) for payload in batch["payload"]]})


class SparkExecutor(Executor):
    """Each job is a one-task Spark job; ``n_workers`` jobs run at once (default: the session's parallelism).

    ``spark`` is a session from :func:`labkit.spark.get_spark` — local, a cluster, or Spark Connect.
    """

    def __init__(self, spark: Any = None, n_workers: int | None = None) -> None:
        if spark is None:
            from labkit.spark import get_spark

            spark = get_spark()
        self.spark = spark
        self.n_workers = n_workers or _default_parallelism(spark)
        self._threads = ThreadPoolExecutor(self.n_workers, thread_name_prefix="labkit-spark-trial")

    def _run(self, payload: bytes) -> JobResult:
        frame = self.spark.createDataFrame([(bytearray(payload),)], "payload binary")
        rows = frame.mapInPandas(_spark_task, "result binary").collect()
        return cloudpickle.loads(bytes(rows[0]["result"]))

    def submit(self, trainable: Trainable, job: Job, *, checkpoint: Any, seed: int) -> Future:
        return self._threads.submit(self._run, cloudpickle.dumps((trainable, job, checkpoint, seed)))

    def shutdown(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)


def _default_parallelism(spark: Any) -> int:
    try:
        return int(spark.sparkContext.defaultParallelism)
    except Exception:  # noqa: BLE001 - Spark Connect has no SparkContext
        return os.cpu_count() or 1
