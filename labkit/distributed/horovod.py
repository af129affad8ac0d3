"""Horovod from a notebook: launch data-parallel Keras training on local processes, on Spark, or on several hosts.

Horovod turns a single-process Keras script into a data-parallel one with a few lines: ``hvd.init()``, shard the
data by ``hvd.rank()``, scale the learning rate by ``hvd.size()``, wrap the optimiser in
``hvd.DistributedOptimizer`` (which ring-all-reduces the gradients every step), broadcast rank 0's initial
weights, and let only rank 0 write checkpoints and logs. :func:`train_mnist` is that script for the course's
MNIST model; the launchers run any such function:

* :func:`run_local`: N processes on this machine over Gloo (``horovod.run``), from a notebook or a script;
* :func:`run_on_spark`: N Spark tasks, each a Horovod rank (``horovod.spark.run``), on the session of
  :func:`labkit.spark.get_spark` (local or a cluster);
* :func:`horovodrun_command`: the exact ``horovodrun`` command for several hosts, to run from a terminal.

Each returns the list of what ``fn`` returned on every rank, rank 0 first.

>>> horovodrun_command("train.py", hosts={"host1": 2, "host2": 2})
'horovodrun -np 4 -H host1:2,host2:2 --gloo python train.py'
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from labkit._validation import check_int
from labkit.distributed import _processes

__all__ = ["run_local", "run_on_spark", "horovodrun_command", "is_chief", "log", "keras_callbacks", "train_mnist",
           "identical_weights", "scaling_table"]

WORKER_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}


def run_local(fn: Callable, *, np: int = 2, args: Sequence = (), kwargs: Mapping | None = None,
              verbose: bool = False) -> list:
    """Run ``fn(*args, **kwargs)`` as ``np`` Horovod ranks on this machine (Gloo over loopback) and return each
    rank's result, rank 0 first. ``fn`` must be importable or picklable (a function of a module, or one defined
    in the notebook). Equivalent to ``horovodrun -np N -H localhost:N --gloo``.
    """
    import horovod

    n = check_int("np", np)
    with _processes.environment(WORKER_ENV, override=False):   # the ranks inherit the launcher's environment
        return horovod.run(fn, args=tuple(args), kwargs=dict(kwargs or {}), num_proc=n, hosts=f"localhost:{n}",
                           use_gloo=True, verbose=2 if verbose else 0, network_interfaces=["lo"])


def run_on_spark(fn: Callable, *, num_proc: int = 2, args: Sequence = (), kwargs: Mapping | None = None,
                 spark=None, verbose: bool = False) -> list:
    """Run ``fn(*args, **kwargs)`` as ``num_proc`` Horovod ranks inside Spark tasks (``horovod.spark.run`` with
    Gloo) and return each rank's result, rank 0 first. ``spark`` defaults to :func:`labkit.spark.get_spark`;
    the cluster needs ``num_proc`` free task slots. Spark Connect sessions cannot run it: Horovod needs the
    classic SparkContext (unset ``LABKIT_SPARK_REMOTE``).
    """
    import horovod.spark

    from labkit.spark import get_spark, is_connect

    n = check_int("num_proc", num_proc)
    spark = spark if spark is not None else get_spark()
    if is_connect(spark):
        raise ValueError("Horovod on Spark needs a classic SparkSession (it uses the SparkContext), not Spark "
                         "Connect: unset LABKIT_SPARK_REMOTE and call labkit.spark.get_spark() again.")
    slots = spark.sparkContext.defaultParallelism
    if slots < n:
        raise ValueError(f"Spark offers {slots} task slots, fewer than num_proc={n}: Horovod's ranks must run at "
                         "the same time. Lower num_proc or give Spark more cores (LABKIT_SPARK_MASTER=local[N]).")
    local = spark.sparkContext.master.startswith("local")
    env = {**os.environ, **WORKER_ENV}
    return horovod.spark.run(fn, args=tuple(args), kwargs=dict(kwargs or {}), num_proc=n, use_gloo=True,
                             verbose=2 if verbose else 0, nics=["lo"] if local else None, env=env)


def horovodrun_command(script: str, *, hosts: Mapping[str, int] | str, python: str = "python",
                       script_args: Sequence[str] = ()) -> str:
    """The ``horovodrun`` command that runs ``script`` on several hosts: ``hosts`` maps host name to slots
    (processes on that host), or is Horovod's ``host1:2,host2:2`` string. Every host needs the same environment
    and passwordless SSH from the one you run it on.
    """
    if isinstance(hosts, str):
        pairs = [h.rsplit(":", 1) for h in hosts.split(",")]
        try:
            hosts = {h: int(s) for h, s in pairs}
        except ValueError:
            raise ValueError(f"hosts must look like 'host1:2,host2:2', got {hosts!r}.") from None
    if not hosts or any(check_int(f"slots of {h}", s) < 1 for h, s in hosts.items()):
        raise ValueError("hosts must name at least one host with a positive number of slots.")
    spec = ",".join(f"{h}:{s}" for h, s in hosts.items())
    return " ".join([f"horovodrun -np {sum(hosts.values())} -H {spec} --gloo", python, script, *script_args])


def is_chief() -> bool:
    """Whether this process is Horovod's rank 0 (the one that writes checkpoints and logs); ``True`` without
    Horovod initialised, so the same script runs on one process."""
    try:
        import horovod.tensorflow.keras as hvd

        return hvd.rank() == 0
    except (ImportError, ValueError):
        return True


def log(*args, **kwargs) -> None:
    """``print`` on rank 0 only: N ranks would print every line N times."""
    if is_chief():
        print(*args, **kwargs)


def keras_callbacks(*, initial_learning_rate: float, warmup_epochs: float = 0, checkpoint_path: str | None = None,
                    steps_per_epoch: int | None = None) -> list:
    """The callbacks every Horovod Keras job needs: broadcast rank 0's initial weights, average the metrics
    over ranks, the gradual learning-rate warm-up (when ``warmup_epochs > 0``), and a checkpoint written by
    rank 0 only (when ``checkpoint_path`` is given; a ``{rank}`` in it becomes the writer's rank)."""
    import horovod.tensorflow.keras as hvd
    import tensorflow as tf

    callbacks = [hvd.callbacks.BroadcastGlobalVariablesCallback(0), hvd.callbacks.MetricAverageCallback()]
    if warmup_epochs > 0 and hvd.size() > 1:
        # momentum_correction=False: with it, Horovod 0.28 fails on Keras 2.15's optimizers
        callbacks.append(hvd.callbacks.LearningRateWarmupCallback(
            initial_lr=initial_learning_rate, warmup_epochs=warmup_epochs, momentum_correction=False,
            steps_per_epoch=steps_per_epoch, verbose=0))
    if checkpoint_path and hvd.rank() == 0:
        path = checkpoint_path.replace("{rank}", str(hvd.rank()))
        callbacks.append(tf.keras.callbacks.ModelCheckpoint(path, save_weights_only=True))
    return callbacks


def _epoch_timer():
    """A Keras callback that records each epoch's wall-clock seconds in ``times``."""
    import tensorflow as tf

    class EpochTimer(tf.keras.callbacks.Callback):
        times: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times = [*self.times, time.perf_counter() - self.start]

    return EpochTimer()


def train_mnist(*, epochs: int = 2, batch_size: int = 64, hidden_units: Sequence[int] = (128,),
                learning_rate: float = 0.001, optimizer: str = "adam", n_train: int | None = None,
                warmup_epochs: float = 0, checkpoint_path: str | None = None, seed: int = 0) -> dict:
    """Data-parallel Keras training of the course's MNIST network (:func:`labkit.dl.build_ann`), one call per rank.

    Works under any launcher above and on a single process without one (size 1). Each rank trains on its own
    equal shard of the shuffled training digits with batch ``batch_size`` (global batch = size × batch_size)
    at ``learning_rate × size``; TensorFlow gets cores / local size threads so ranks do not oversubscribe the
    machine. Returns this rank's measurements and final weights; ``samples_per_second`` (all ranks together) leaves
    out the first epoch, which also builds the graph, when there are more.
    """
    import horovod.tensorflow.keras as hvd
    import tensorflow as tf

    from labkit.datasets import load_mnist
    from labkit.distributed.scaling import scaled_learning_rate, shard_indices
    from labkit.dl import build_ann, make_optimizer

    hvd.init()
    rank, size = hvd.rank(), hvd.size()
    threads = max(1, (os.cpu_count() or 1) // hvd.local_size())
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.get_logger().setLevel("ERROR")
    x_train, y_train, x_test, y_test = load_mnist()
    n_train = len(x_train) if n_train is None else min(int(n_train), len(x_train))
    order = np.random.default_rng(seed).permutation(len(x_train))[:n_train]
    per_rank = n_train // size                    # equal shards: every rank must run the same number of steps
    mine = order[shard_indices(per_rank * size, rank=rank, size=size)]
    x = x_train[mine].reshape(len(mine), -1).astype(np.float32) / 255.0
    y = y_train[mine].astype(np.int64)
    lr = scaled_learning_rate(learning_rate, size=size)
    opt = hvd.DistributedOptimizer(make_optimizer(optimizer, lr))
    model = build_ann(tuple(hidden_units), optimizer=opt, seed=seed + rank)   # different starts: rank 0 broadcasts
    timer = _epoch_timer()
    callbacks = keras_callbacks(initial_learning_rate=lr, warmup_epochs=warmup_epochs,
                                checkpoint_path=checkpoint_path) + [timer]
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, callbacks=callbacks, verbose=0, shuffle=True)
    seconds = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(x_test.reshape(len(x_test), -1).astype(np.float32) / 255.0,
                                              y_test.astype(np.int64), verbose=0)
    epoch_times = np.array(timer.times)
    steady = epoch_times[1:] if len(epoch_times) > 1 else epoch_times   # epoch 1 also traces the graph
    return {"rank": rank, "size": size, "threads": threads, "samples_per_rank": len(mine),
            "epoch_times": epoch_times, "train_seconds": seconds, "seconds_per_epoch": float(np.mean(steady)),
            "samples_per_second": per_rank * size / float(np.mean(steady)),
            "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
            "test_loss": float(test_loss), "test_accuracy": float(test_accuracy),
            "learning_rate": float(tf.keras.backend.get_value(model.optimizer.learning_rate)),
            "weights": model.get_weights()}


def identical_weights(results: Sequence[Mapping]) -> bool:
    """Whether every rank's ``weights`` equal rank 0's exactly (bit for bit): what data parallelism guarantees."""
    if not results:
        raise ValueError("results is empty: pass the list a launcher returned.")
    first = results[0]["weights"]
    return all(len(r["weights"]) == len(first) and all(np.array_equal(a, b) for a, b in zip(first, r["weights"],
                                                                                            strict=True))
               for r in results[1:])


def scaling_table(results_by_size: Mapping[int, Sequence[Mapping]]):
    """A scaling study as a table, one row per number of processes, from ``{n: launcher result}`` of
    :func:`train_mnist`: seconds per epoch (after the first), samples per second, speed-up and efficiency
    against the smallest run (ideally 1 process), and final test accuracy.
    """
    import pandas as pd

    from labkit.distributed.scaling import scaling_efficiency

    if not results_by_size:
        raise ValueError("results_by_size is empty: pass {number of processes: run_local(...) result}.")
    base_n = min(results_by_size)
    base = results_by_size[base_n][0]
    rows = []
    for n in sorted(results_by_size):
        r = results_by_size[n][0]
        efficiency = scaling_efficiency(time_1=base["seconds_per_epoch"] * base_n, time_n=r["seconds_per_epoch"],
                                        n_workers=n)
        rows.append({"processes": n, "threads per process": r["threads"], "samples per rank": r["samples_per_rank"],
                     "learning rate": r["learning_rate"], "s per epoch": round(r["seconds_per_epoch"], 3),
                     "samples / s": round(r["samples_per_second"]),
                     "speed-up": round(base["seconds_per_epoch"] / r["seconds_per_epoch"], 2),
                     "efficiency": round(efficiency, 2), "test accuracy": round(r["test_accuracy"], 4)})
    return pd.DataFrame(rows).set_index("processes")
