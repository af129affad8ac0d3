"""Synchronous and asynchronous data-parallel training through a parameter server, with real worker processes.

The server (this process) holds the parameters of a :mod:`labkit.nn` MLP. Each worker is a separate
process holding its own shard of the data; it receives the current parameters, computes the gradient of one
mini-batch and sends it back.

* **synchronous**: every round the server sends the same parameters to all N workers, waits for all N
  gradients, averages them and makes one step (with the linear scaling rule, learning rate × N, the step of
  one worker on an N× larger batch). Every gradient is fresh, but each round lasts as long as the slowest worker.
* **asynchronous**: the server applies each gradient the moment it arrives and sends the worker the newest
  parameters. Nobody waits, but a gradient computed on version v of the parameters is applied to version
  v + s: its **staleness** s is recorded for every update. A slow worker's gradients are the stalest.

A **straggler** (one worker ``straggler_slowdown`` times slower, by sleeping after each gradient) shows the
trade-off: synchronous training slows to the straggler's pace, asynchronous training keeps going on stale
gradients.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(400, 4)).astype("float32"); y = (x[:, 0] > 0).astype(int)
>>> run = train_parameter_server(x, y, validation_data=(x, y), mode="async", n_workers=2, hidden_units=(8,),
...                              learning_rate=0.2, epochs=3, progress=False)
>>> run.val_accuracy[-1] > 0.9, run.staleness.max() >= 1
(True, True)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait

import numpy as np

from labkit._validation import check_int
from labkit.distributed import _processes
from labkit.distributed.scaling import shard_indices

__all__ = ["ParameterServerRun", "train_parameter_server", "MODES"]

MODES = ("sync", "async")


def build_mlp(n_features: int, n_classes: int, hidden_units, seed: int):
    """The simulator's model: ReLU hidden layers and a softmax output, in float32."""
    from labkit.nn import Dense, Sequential

    layers = [Dense(int(u), activation="relu") for u in hidden_units] + [Dense(n_classes, activation="softmax")]
    model = Sequential(layers, input_shape=(n_features,), seed=seed)
    model.compile("sgd", "categorical_crossentropy")
    return model


def _worker(worker_id: int, conn, x, y, n_classes: int, hidden_units, batch_size: int, slowdown: float,
            seed: int) -> None:
    """A worker process: receive (weights, version), reply (version, loss, gradients, seconds) until told to stop."""
    model = build_mlp(x.shape[1], n_classes, hidden_units, seed)
    rng = np.random.default_rng(seed + 1 + worker_id)
    order, position = rng.permutation(len(x)), 0
    conn.send("ready")
    while True:
        message = conn.recv()
        if message is None:
            break
        weights, version = message
        model.set_weights(weights)
        if position + batch_size > len(order):
            order, position = rng.permutation(len(x)), 0
        batch = order[position:position + batch_size]
        position += batch_size
        start = time.perf_counter()
        loss, grads = model.loss_and_gradients(x[batch], y[batch], training=True)
        compute = time.perf_counter() - start
        if slowdown > 1:
            time.sleep((slowdown - 1) * compute)
        conn.send((version, loss, [g.copy() for g in grads], compute))
    conn.close()


@dataclass
class ParameterServerRun:
    """What :func:`train_parameter_server` measured. Per-update arrays have one entry per server step."""

    mode: str
    n_workers: int
    learning_rate: float
    batch_size: int
    straggler: int | None
    update_time: np.ndarray            # seconds since training started, at each server step
    update_samples: np.ndarray         # samples whose gradients the server had applied after each step
    update_loss: np.ndarray            # training loss of the batch(es) behind each step
    update_worker: np.ndarray          # asynchronous: the worker whose gradient made the step; synchronous: -1
    staleness: np.ndarray              # one entry per gradient applied: server version minus the version it used
    gradients_per_worker: np.ndarray   # gradients each worker contributed
    eval_time: np.ndarray = field(default_factory=lambda: np.zeros(0))
    eval_samples: np.ndarray = field(default_factory=lambda: np.zeros(0))
    val_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    val_accuracy: np.ndarray = field(default_factory=lambda: np.zeros(0))
    wall_time: float = 0.0
    weights: list[np.ndarray] = field(default_factory=list)

    @property
    def n_updates(self) -> int:
        return len(self.update_time)

    def time_to_accuracy(self, target: float) -> float | None:
        """Seconds until validation accuracy first reached ``target`` (``None`` if it never did)."""
        hits = np.flatnonzero(self.val_accuracy >= target)
        return float(self.eval_time[hits[0]]) if len(hits) else None

    def summary(self) -> dict:
        """One row for a comparison table."""
        return {"mode": self.mode, "workers": self.n_workers, "straggler": self.straggler,
                "server steps": self.n_updates, "wall time (s)": round(self.wall_time, 2),
                "final val accuracy": round(float(self.val_accuracy[-1]), 4),
                "mean staleness": round(float(self.staleness.mean()), 2) if len(self.staleness) else 0.0,
                "max staleness": int(self.staleness.max()) if len(self.staleness) else 0,
                "gradients per worker": self.gradients_per_worker.tolist()}


def _check_args(x, y, mode, n_workers, batch_size, epochs, straggler, straggler_slowdown, learning_rate):
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    check_int("n_workers", n_workers)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"x must be 2-D (samples × features) with one label per row, got x {x.shape}, y {y.shape}.")
    if len(x) < n_workers * batch_size:
        raise ValueError(f"{len(x)} samples cannot give {n_workers} workers a batch of {batch_size} each: "
                         "lower batch_size or n_workers.")
    if not epochs > 0 or not learning_rate > 0:
        raise ValueError(f"epochs and learning_rate must be positive, got {epochs!r} and {learning_rate!r}.")
    if straggler is not None:
        check_int("straggler (a worker index, or None)", straggler, minimum=0, maximum=n_workers - 1)
    if not straggler_slowdown >= 1:
        raise ValueError(f"straggler_slowdown must be ≥ 1 (1 = as fast as the others), got {straggler_slowdown!r}.")


def train_parameter_server(x, y, *, validation_data, mode: str = "sync", n_workers: int = 2,
                           hidden_units=(128,), learning_rate: float = 0.05, batch_size: int = 32,
                           epochs: float = 1.0, straggler: int | None = None, straggler_slowdown: float = 1.0,
                           scale_learning_rate: bool = True, eval_points: int = 20, seed: int = 0,
                           progress: bool = True) -> ParameterServerRun:
    """Train the MLP with ``n_workers`` worker processes and a parameter server, ``mode`` ``"sync"`` or ``"async"``.

    Both modes process the same number of samples, ``epochs`` passes over ``x``, from the same initial weights,
    with plain SGD at ``learning_rate`` per worker-batch (synchronous steps use ``learning_rate × n_workers`` on
    the averaged gradient when ``scale_learning_rate``). Process start-up is not timed. After training, the
    parameters saved at ``eval_points`` moments are scored on ``validation_data`` for the curves.
    """
    from labkit import progress as progress_bar

    x = np.ascontiguousarray(x, dtype=np.float32)
    y = np.asarray(y).astype(np.int64)
    _check_args(x, y, mode, n_workers, batch_size, epochs, straggler, straggler_slowdown, learning_rate)
    x_val, y_val = validation_data
    n_classes = int(max(y.max(), np.max(y_val)) + 1)
    model = build_mlp(x.shape[1], n_classes, hidden_units, seed)
    total_gradients = max(n_workers, int(np.ceil(epochs * len(x) / batch_size)))
    n_updates = total_gradients // n_workers if mode == "sync" else total_gradients
    step_rate = learning_rate * n_workers if (mode == "sync" and scale_learning_rate) else learning_rate
    from labkit.nn import SGD

    optimizer = SGD(step_rate)
    snapshot_at = set(np.linspace(0, n_updates, max(2, eval_points)).round().astype(int).tolist())

    conns, targets = [], []
    for w in range(n_workers):
        mine, theirs = _processes.pipe()
        idx = shard_indices(len(x), rank=w, size=n_workers)
        slowdown = straggler_slowdown if w == straggler else 1.0
        conns.append(mine)
        targets.append((_worker, (w, theirs, x[idx], y[idx], n_classes, tuple(hidden_units), batch_size, slowdown,
                                  seed)))
    procs = _processes.start(targets)
    log = {"time": [], "samples": [], "loss": [], "worker": []}
    staleness, per_worker, snapshots = [], np.zeros(n_workers, dtype=int), []
    version, samples = 0, 0
    bar = progress_bar(total=n_updates, desc=f"{mode} parameter server, {n_workers} workers") if progress else None
    try:
        for conn in conns:
            if conn.recv() != "ready":
                raise RuntimeError("a worker process failed to start")
        start = time.perf_counter()
        snapshots.append((0.0, 0, model.get_weights()))

        def apply(grads) -> None:
            nonlocal version
            optimizer.apply_gradients(list(zip(model.parameters(), grads, strict=True)))
            version += 1

        def record(loss: float, worker: int) -> None:
            log["time"].append(time.perf_counter() - start)
            log["samples"].append(samples)
            log["loss"].append(loss)
            log["worker"].append(worker)
            if version in snapshot_at:
                snapshots.append((log["time"][-1], samples, model.get_weights()))
            if bar is not None:
                bar.update(1)

        if mode == "sync":
            for _ in range(n_updates):
                weights = model.get_weights()
                for conn in conns:
                    conn.send((weights, version))
                replies = [conn.recv() for conn in conns]
                staleness.extend(version - r[0] for r in replies)
                per_worker += 1
                samples += n_workers * batch_size
                apply([np.mean([r[2][i] for r in replies], axis=0) for i in range(len(replies[0][2]))])
                record(float(np.mean([r[1] for r in replies])), -1)
        else:
            weights = model.get_weights()
            for conn in conns:
                conn.send((weights, version))
            busy = set(range(n_workers))
            while version < n_updates:
                for conn in wait([conns[w] for w in sorted(busy)]):
                    w = conns.index(conn)
                    used, loss, grads, _ = conn.recv()
                    busy.discard(w)
                    staleness.append(version - used)
                    per_worker[w] += 1
                    samples += batch_size
                    apply(grads)
                    record(float(loss), w)
                    if version >= n_updates:
                        break
                    conn.send((model.get_weights(), version))
                    busy.add(w)
            for w in busy:  # drain replies in flight, or a worker blocks on a full pipe
                conns[w].recv()
        wall = time.perf_counter() - start
        for conn in conns:
            conn.send(None)
    finally:
        if bar is not None:
            bar.close()
        _processes.stop(procs)
    run = ParameterServerRun(mode, n_workers, step_rate, batch_size, straggler, np.array(log["time"]),
                             np.array(log["samples"]), np.array(log["loss"]), np.array(log["worker"]),
                             np.array(staleness, dtype=int), per_worker, wall_time=wall, weights=model.get_weights())
    _evaluate(run, model, snapshots, x_val, y_val)
    return run


def _evaluate(run: ParameterServerRun, model, snapshots, x_val, y_val) -> None:
    losses, accuracies = [], []
    for _, _, weights in snapshots:
        model.set_weights(weights)
        loss, acc = model.evaluate(np.asarray(x_val, dtype=np.float32), np.asarray(y_val).astype(np.int64))
        losses.append(loss)
        accuracies.append(acc)
    model.set_weights(run.weights)
    run.eval_time = np.array([s[0] for s in snapshots])
    run.eval_samples = np.array([s[1] for s in snapshots])
    run.val_loss, run.val_accuracy = np.array(losses), np.array(accuracies)
