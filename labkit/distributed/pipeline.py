"""Model parallelism and GPipe-style pipeline parallelism: one MLP split across processes, with its bubble measured.

**Model parallelism** puts consecutive layers on different devices (*stages*): stage s computes its layers and
passes the activations to stage s + 1; gradients flow back the other way. With one batch in flight, only one
stage works at a time. **Pipeline parallelism** (GPipe, Huang et al. 2019) cuts the mini-batch into m
*micro-batches* and streams them through the stages, so stages overlap. Every stage still idles while the
pipeline fills and drains: with p equal stages the idle share, the **bubble**, is

    bubble = (p − 1) / (m + p − 1)

(m = 1 is plain model parallelism: (p − 1) / p). Here each stage is a real process holding its own layers and
its own optimiser; micro-batch gradients are accumulated and applied once per mini-batch (a synchronous
*flush*), so training is exactly the same SGD as on one process. As in GPipe, a stage keeps only its input
micro-batches and recomputes its forward pass during the backward pass (*re-materialisation*). Every
forward (F) and backward (B) task is timed with the system-wide monotonic clock, which gives the measured
bubble: 1 − (busy time of all stages) / (p × makespan).

>>> bubble_fraction(n_stages=4, n_microbatches=1), bubble_fraction(n_stages=4, n_microbatches=12)
(0.75, 0.2)
>>> partition_layers([4, 1, 1, 1, 1], n_stages=2)       # contiguous stages, the largest as small as possible
[(0, 1), (1, 5)]
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from labkit._validation import check_int
from labkit.distributed import _processes

__all__ = ["bubble_fraction", "partition_layers", "PipelineRun", "train_pipeline"]


def bubble_fraction(*, n_stages: int, n_microbatches: int) -> float:
    """GPipe's idle share (p − 1) / (m + p − 1) for p equal stages and m micro-batches."""
    n_stages, n_microbatches = check_int("n_stages", n_stages), check_int("n_microbatches", n_microbatches)
    return (n_stages - 1) / (n_microbatches + n_stages - 1)


def partition_layers(costs, *, n_stages: int) -> list[tuple[int, int]]:
    """Split layers with per-layer ``costs`` into ``n_stages`` contiguous ``(start, stop)`` ranges that minimise
    the most expensive stage (dynamic programming over cut points). Each stage gets at least one layer."""
    costs = [float(c) for c in costs]
    n = len(costs)
    check_int("n_stages (at most one stage per layer)", n_stages, maximum=n)
    prefix = np.concatenate([[0.0], np.cumsum(costs)])
    best = np.full((n_stages + 1, n + 1), np.inf)
    cut = np.zeros((n_stages + 1, n + 1), dtype=int)
    best[0, 0] = 0.0
    for s in range(1, n_stages + 1):
        for j in range(s, n + 1):
            for i in range(s - 1, j):
                value = max(best[s - 1, i], prefix[j] - prefix[i])
                if value < best[s, j]:
                    best[s, j], cut[s, j] = value, i
    bounds, j = [], n
    for s in range(n_stages, 0, -1):
        bounds.append((int(cut[s, j]), j))
        j = cut[s, j]
    return bounds[::-1]


def _forward(layers, x, training=True):
    for layer in layers:
        x = layer.forward(x, training=training)
    return x


def _stage(index: int, n_stages: int, layers, learning_rate: float, steps: int, n_micro: int, batch: int,
           inbox, outbox, driver) -> None:
    """One pipeline stage: F for every micro-batch in order, then B in reverse order, then one SGD step."""
    from labkit.nn import SGD
    from labkit.nn.losses import CategoricalCrossEntropy

    optimizer, loss_fn = SGD(learning_rate), CategoricalCrossEntropy()
    last = index == n_stages - 1
    keys = [(layer, name) for layer in layers for name in layer.params]
    events = []
    driver.send("ready")
    for step in range(steps):
        inputs, labels, outputs = [], driver.recv() if last else None, []
        for j in range(n_micro):
            x = inbox.recv()
            t0 = time.perf_counter()
            out = _forward(layers, x)
            events.append((index, step, "F", j, t0, time.perf_counter()))
            inputs.append(x)
            if last:
                outputs.append(out)
            else:
                outbox.send(out)
        accumulated = [np.zeros_like(layer.params[name]) for layer, name in keys]
        loss = 0.0
        for j in reversed(range(n_micro)):
            grad = None if last else outbox.recv()
            t0 = time.perf_counter()
            out = _forward(layers, inputs[j])           # re-materialise this micro-batch's activations
            if last:
                share = len(out) / batch                # micro-batch means → the mini-batch mean
                loss += loss_fn(labels[j], out) * share
                grad = layers[-1].backward(loss_fn.output_gradient(labels[j], out) * share, pre_activation=True)
                rest = layers[-2::-1]
            else:
                rest = layers[::-1]
            for layer in rest:
                grad = layer.backward(grad)
            for acc, (layer, name) in zip(accumulated, keys, strict=True):
                acc += layer.grads[name]
            events.append((index, step, "B", j, t0, time.perf_counter()))
            if index > 0:
                inbox.send(grad)
        optimizer.apply_gradients([(layer.params[name], g) for (layer, name), g in zip(keys, accumulated,
                                                                                          strict=True)])
        if last:
            driver.send(loss)
    driver.send(([layer.params[name] for layer, name in keys], events))
    driver.recv()


@dataclass
class PipelineRun:
    """What :func:`train_pipeline` measured."""

    n_stages: int
    n_microbatches: int
    stages: list[tuple[int, int]]        # layer ranges per stage
    events: np.ndarray                   # rows (stage, step, kind 0=F 1=B, micro-batch, start s, end s)
    losses: np.ndarray                   # mini-batch loss per step (before its update)
    weights: list[np.ndarray]            # trained parameters, in the model's get_weights order

    @property
    def analytic_bubble(self) -> float:
        return bubble_fraction(n_stages=self.n_stages, n_microbatches=self.n_microbatches)

    def step_bubbles(self) -> np.ndarray:
        """Measured bubble per step: 1 − busy / (stages × makespan)."""
        out = []
        for step in np.unique(self.events[:, 1]):
            ev = self.events[self.events[:, 1] == step]
            makespan = ev[:, 5].max() - ev[:, 4].min()
            out.append(1 - (ev[:, 5] - ev[:, 4]).sum() / (self.n_stages * makespan))
        return np.array(out)

    @property
    def measured_bubble(self) -> float:
        """Mean measured bubble, leaving out the first (warm-up) step when there are more."""
        bubbles = self.step_bubbles()
        return float(bubbles[1:].mean() if len(bubbles) > 1 else bubbles[0])

    def summary(self) -> dict:
        """One row for a comparison table."""
        return {"stages": self.n_stages, "micro-batches": self.n_microbatches,
                "measured bubble": round(self.measured_bubble, 3), "(p−1)/(m+p−1)": round(self.analytic_bubble, 3),
                "ms per batch": round(1e3 * self.step_time, 1), "final loss": round(float(self.losses[-1]), 3)}

    @property
    def step_time(self) -> float:
        """Median seconds per mini-batch (makespan of one flush)."""
        spans = [self.events[self.events[:, 1] == s, 5].max() - self.events[self.events[:, 1] == s, 4].min()
                 for s in np.unique(self.events[:, 1])]
        return float(np.median(spans))


def train_pipeline(model, x, y, *, n_stages: int = 2, n_microbatches: int = 4, batch_size: int = 256,
                   steps: int = 4, learning_rate: float = 0.1, seed: int = 0) -> PipelineRun:
    """Train a built :class:`labkit.nn.Sequential` (softmax output, no dropout) for ``steps`` mini-batches of
    ``batch_size`` with its layers split over ``n_stages`` processes and each mini-batch cut into
    ``n_microbatches`` micro-batches. ``model`` itself is not modified: its trained weights are returned.

    The result is the same SGD as ``model.compile(SGD(learning_rate))`` followed by ``model.train_step`` on the
    same mini-batches (tested to float32 round-off); mini-batches are drawn with ``seed``.
    """
    from labkit.nn.layers import Dense, Dropout

    if not getattr(model, "built", False):
        raise ValueError("model must be a built labkit.nn.Sequential: pass input_shape=… when you create it.")
    last = model.layers[-1]
    if not (isinstance(last, Dense) and type(last.activation).__name__ == "Softmax"):
        raise ValueError("the pipeline trains a softmax classifier: the model's last layer must be "
                         "Dense(..., activation='softmax').")
    if any(isinstance(layer, Dropout) for layer in model.layers):
        raise ValueError("remove Dropout layers: re-materialisation would draw a second, different mask.")
    check_int("n_microbatches (at most one per sample of the batch)", n_microbatches, maximum=batch_size)
    x = np.asarray(x, dtype=model.dtype)
    y = np.asarray(y).astype(np.int64)
    if len(x) < batch_size:
        raise ValueError(f"need at least batch_size = {batch_size} samples, got {len(x)}.")
    stages = partition_layers([layer.count_params() for layer in model.layers], n_stages=n_stages)
    rng = np.random.default_rng(seed)
    batches = [rng.choice(len(x), size=batch_size, replace=False) for _ in range(steps)]

    links = [_processes.pipe() for _ in range(n_stages + 1)]    # link s feeds stage s; link p is unused
    drivers = [_processes.pipe() for _ in range(n_stages)]
    targets = []
    for s, (a, b) in enumerate(stages):
        inbox = links[s][1]
        outbox = links[s + 1][0]
        targets.append((_stage, (s, n_stages, model.layers[a:b], learning_rate, steps, n_microbatches, batch_size,
                                 inbox, outbox, drivers[s][1])))
    procs = _processes.start(targets)
    feed, tail_driver = links[0][0], drivers[-1][0]
    try:
        for d in drivers:
            if d[0].recv() != "ready":
                raise RuntimeError("a pipeline stage failed to start")
        losses = []
        for batch in batches:
            parts = np.array_split(batch, n_microbatches)
            tail_driver.send([y[p] for p in parts])
            for p in parts:
                feed.send(x[p])
            losses.append(tail_driver.recv())
        weights, events = [], []
        for d in drivers:
            w, ev = d[0].recv()
            weights.extend(w)
            events.extend(ev)
            d[0].send("done")
    finally:
        _processes.stop(procs)
    ev = np.array([(s, st, 0 if k == "F" else 1, j, t0, t1) for s, st, k, j, t0, t1 in events], dtype=float)
    ev[:, 4:] -= ev[:, 4].min()
    return PipelineRun(n_stages, n_microbatches, stages, ev, np.array(losses), weights)
