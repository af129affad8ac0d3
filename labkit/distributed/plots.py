"""Figures for distributed training: the ring all-reduce step by step, traffic against the number of workers,
synchronous vs asynchronous curves, staleness, the pipeline's timeline and a scaling study.

>>> import matplotlib; matplotlib.use("Agg")
>>> states = ring_states(3)
>>> len(states), states[-1].contributions.min()            # 2 (N − 1) steps after the start; all chunks complete
(5, 3)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from labkit._plotting import axes, slider_view
from labkit._validation import check_int
from labkit.distributed.collectives import Network, allreduce, communication_time, ring_allreduce

__all__ = ["ring_states", "plot_ring_step", "plot_ring_steps", "ring_explorer", "plot_traffic", "plot_sync_async",
           "plot_staleness", "plot_pipeline", "plot_bubbles", "plot_scaling"]

_CHUNK_COLOURS = "tab10"


@dataclass
class RingState:
    """The ring after ``step`` steps: ``contributions[w, c]`` = how many workers' data worker w's chunk c sums."""

    step: int
    phase: str
    contributions: np.ndarray
    sends: list[tuple[int, int, int]]      # (src, dst, chunk) sent during this step; empty at the start


def ring_states(n_workers: int) -> list[RingState]:
    """Replay the messages of :func:`~labkit.distributed.collectives.ring_allreduce` on ``n_workers`` workers."""
    check_int("n_workers (2…10 for a readable figure)", n_workers, minimum=2, maximum=10)
    net = Network(n_workers)
    ring_allreduce([np.zeros(n_workers) for _ in range(n_workers)], net)
    owners = [[{w} for _ in range(n_workers)] for w in range(n_workers)]
    states = [RingState(0, "start", np.ones((n_workers, n_workers), dtype=int), [])]
    for step in range(net.step):
        sent = [m for m in net.messages if m.step == step]
        before = [[set(s) for s in row] for row in owners]
        for m in sent:
            if m.phase == "reduce-scatter":
                owners[m.dst][m.chunk] |= before[m.src][m.chunk]
            else:
                owners[m.dst][m.chunk] = set(before[m.src][m.chunk])
        counts = np.array([[len(s) for s in row] for row in owners])
        states.append(RingState(step + 1, sent[0].phase, counts, [(m.src, m.dst, m.chunk) for m in sent]))
    return states


def plot_ring_step(state: RingState, *, ax=None):
    """One step of the ring: workers on a circle, each with its N chunks (shade = share of workers summed, a
    ✓ when complete), and arrows for the chunks sent in this step."""
    import matplotlib.pyplot as plt

    ax = axes(ax, figsize=(4, 4))
    n = state.contributions.shape[0]
    cmap = plt.get_cmap(_CHUNK_COLOURS)
    angles = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    centres = np.c_[np.cos(angles), np.sin(angles)]
    width = 0.9 / n
    for w, (cx, cy) in enumerate(centres):
        for c in range(n):
            share = state.contributions[w, c] / n
            x0 = cx - 0.45 + c * width
            ax.add_patch(plt.Rectangle((x0, cy - 0.09), width * 0.92, 0.18, facecolor=cmap(c % 10),
                                       alpha=0.15 + 0.85 * share, edgecolor="black", linewidth=0.5))
            if state.contributions[w, c] == n:
                ax.text(x0 + width * 0.46, cy, "✓", ha="center", va="center", fontsize=7)
        ax.text(cx, cy + 0.17, f"worker {w}", ha="center", fontsize=8)
    for src, dst, chunk in state.sends:
        start, end = centres[src], centres[dst]
        ax.annotate("", xy=end * 0.78, xytext=start * 0.78,
                    arrowprops={"arrowstyle": "->", "color": cmap(chunk % 10), "lw": 2,
                                "connectionstyle": "arc3,rad=-0.25"})
        mid = (start + end) / 2 * 0.55
        ax.text(*mid, f"c{chunk}", color=cmap(chunk % 10), ha="center", va="center", fontsize=8, weight="bold")
    title = "start: every worker has its own gradient" if state.phase == "start" else \
        f"step {state.step}: {state.phase}"
    ax.set_title(title, fontsize=9)
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.45, 1.45)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def plot_ring_steps(n_workers: int = 4):
    """Every step of ring all-reduce on ``n_workers`` workers, one panel each: who sends which chunk when."""
    import matplotlib.pyplot as plt

    states = ring_states(n_workers)
    cols = min(len(states), 4)
    rows = int(np.ceil(len(states) / cols))
    fig, grid = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    for ax, state in zip(grid.flat, states, strict=False):
        plot_ring_step(state, ax=ax)
    for ax in grid.flat[len(states):]:
        ax.axis("off")
    fig.suptitle(f"Ring all-reduce, {n_workers} workers: {n_workers - 1} reduce-scatter steps, then "
                 f"{n_workers - 1} all-gather steps (shade = share of workers summed, colour = chunk)")
    fig.tight_layout()
    return fig


def ring_explorer(n_workers: int = 4):
    """A slider over the ring's steps (a static figure of the last step when headless)."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    states = ring_states(n_workers)
    slider = widgets.IntSlider(value=0, min=0, max=len(states) - 1, description="step",
                               continuous_update=False)

    def draw(step: int) -> None:
        plot_ring_step(states[step], ax=plt.subplots(figsize=(4.5, 4.5))[1])

    return slider_view(slider, draw)


def plot_traffic(n_workers: Sequence[int] = tuple(range(2, 17)), *, message_bytes: int = 4 * 1_000_000,
                 latency: float = 5e-6, bandwidth: float = 1.25e9):
    """Measured traffic and α–β time of a ``message_bytes`` all-reduce for each N in ``n_workers``: the busiest
    node's bytes (left) and the time on a 10 Gbit/s network (right), ring vs parameter server vs tree."""
    import matplotlib.pyplot as plt

    n_values = list(n_workers)
    elements = message_bytes // 4
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for algorithm, style in (("ring", "o-"), ("parameter_server", "s-"), ("tree", "^-")):
        busiest, seconds = [], []
        for n in n_values:
            result = allreduce([np.zeros(elements, dtype=np.float32)] * n, algorithm=algorithm)
            busiest.append(result.network.hot_spot() / 1e6)
            seconds.append(communication_time(result.network, latency=latency, bandwidth=bandwidth) * 1e3)
        label = algorithm.replace("_", " ")
        left.plot(n_values, busiest, style, label=label)
        right.plot(n_values, seconds, style, label=label)
    left.set(xlabel="workers N", ylabel="busiest node's traffic (MB)",
             title=f"Bytes on the busiest link, M = {message_bytes / 1e6:g} MB")
    right.set(xlabel="workers N", ylabel="time (ms)", title="α–β model: 5 µs per step, 10 Gbit/s")
    for ax in (left, right):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_sync_async(runs: Mapping[str, object], *, target: float | None = None):
    """Validation accuracy against wall-clock time and against samples processed, one line per
    :class:`~labkit.distributed.parameter_server.ParameterServerRun` in ``runs`` (label → run)."""
    import matplotlib.pyplot as plt

    fig, (by_time, by_samples) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for label, run in runs.items():
        by_time.plot(run.eval_time, run.val_accuracy, marker=".", label=label)
        by_samples.plot(run.eval_samples, run.val_accuracy, marker=".", label=label)
    by_time.set(xlabel="wall-clock time (s)", ylabel="validation accuracy", title="Accuracy against time")
    by_samples.set(xlabel="training samples processed", title="Accuracy against work done")
    for ax in (by_time, by_samples):
        if target is not None:
            ax.axhline(target, color="grey", linestyle=":", label=f"target {target:.0%}")
        ax.grid(alpha=0.3)
    by_time.legend()
    fig.tight_layout()
    return fig


def plot_staleness(run, *, ax=None):
    """Histogram of the staleness of every gradient an asynchronous run applied, per worker."""
    ax = axes(ax, figsize=(6, 3.5))
    if run.mode != "async":
        raise ValueError("staleness is only interesting for an asynchronous run (synchronous gradients are fresh).")
    bins = np.arange(run.staleness.max() + 2) - 0.5
    for w in range(run.n_workers):
        mine = run.staleness[run.update_worker == w]
        tag = " (straggler)" if w == run.straggler else ""
        ax.hist(mine, bins=bins, alpha=0.6, label=f"worker {w}{tag}: mean {mine.mean():.1f}")
    ax.set(xlabel="staleness (server versions between pull and push)", ylabel="gradients",
           title="How stale were the gradients?")
    ax.legend()
    return ax


def plot_pipeline(run, *, step: int | None = None, ax=None):
    """The timeline of one mini-batch of a :class:`~labkit.distributed.pipeline.PipelineRun`: a row per stage,
    forward (F, light) and backward (B, dark) boxes labelled by micro-batch; the gaps are the bubble."""
    import matplotlib.pyplot as plt

    ax = axes(ax, figsize=(10, 0.8 + 0.7 * run.n_stages))
    steps = np.unique(run.events[:, 1])
    step = int(steps[1] if len(steps) > 1 else steps[0]) if step is None else step
    ev = run.events[run.events[:, 1] == step]
    origin = ev[:, 4].min()
    cmap = plt.get_cmap("tab10")
    for stage, _, kind, micro, t0, t1 in ev:
        colour = cmap(int(micro) % 10)
        ax.barh(stage, (t1 - t0) * 1e3, left=(t0 - origin) * 1e3, color=colour, alpha=0.45 if kind == 0 else 0.95,
                edgecolor="black", linewidth=0.4)
        ax.text((t0 - origin + (t1 - t0) / 2) * 1e3, stage, f"{'FB'[int(kind)]}{int(micro)}", ha="center",
                va="center", fontsize=7)
    ax.set_yticks(range(run.n_stages), [f"stage {s}" for s in range(run.n_stages)])
    ax.invert_yaxis()
    bubbles = run.step_bubbles()
    ax.set(xlabel="time (ms)", title=f"{run.n_stages} stages, {run.n_microbatches} micro-batches: bubble "
           f"{bubbles[list(steps).index(step)]:.0%} measured, {run.analytic_bubble:.0%} = (p−1)/(m+p−1)")
    return ax


def plot_bubbles(runs: Sequence, *, ax=None):
    """Measured bubble against the number of micro-batches, beside GPipe's (p − 1)/(m + p − 1)."""
    from labkit.distributed.pipeline import bubble_fraction

    ax = axes(ax, figsize=(6, 4))
    m = [r.n_microbatches for r in runs]
    p = runs[0].n_stages
    grid = np.arange(1, max(m) + 1)
    ax.plot(grid, [bubble_fraction(n_stages=p, n_microbatches=int(k)) for k in grid], "-", color="grey",
            label=f"analytic, p = {p}")
    ax.plot(m, [r.measured_bubble for r in runs], "o", label="measured")
    ax.set(xlabel="micro-batches m", ylabel="bubble (idle share)", ylim=(0, 1), title="Pipeline bubble")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def plot_scaling(results: Mapping[int, Sequence[Mapping]]):
    """Samples per second and scaling efficiency for each number of processes (``{n: run_local(...) result}``
    of :func:`~labkit.distributed.horovod.train_mnist`), as :func:`~labkit.distributed.horovod.scaling_table`."""
    import matplotlib.pyplot as plt

    from labkit.distributed.horovod import scaling_table

    table = scaling_table(results)
    labels = [str(n) for n in table.index]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    left.bar(labels, table["samples / s"], color="tab:blue")
    left.set(xlabel="Horovod processes", ylabel="training samples / s", title="Throughput")
    right.bar(labels, table["efficiency"], color="tab:orange")
    right.axhline(1.0, color="grey", linestyle=":", label="perfect scaling")
    right.set(xlabel="Horovod processes", ylabel="speed-up / processes", title="Scaling efficiency", ylim=(0, 1.2))
    right.legend()
    fig.tight_layout()
    return fig
