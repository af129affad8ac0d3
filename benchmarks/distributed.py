"""``make bench-dist``: labkit.distributed and Horovod on this machine, side by side in one run.

* ring vs parameter-server all-reduce: bytes per worker for N = 2…16, against 2 (N − 1) / N × M and N × M;
* synchronous vs asynchronous parameter-server training with and without a straggler: time to accuracy;
* the GPipe bubble measured on 2 pipeline processes against (p − 1) / (m + p − 1);
* Horovod (Gloo, local processes) with 2 processes vs 1 on the MNIST model: throughput and scaling efficiency.

Run alone (``make bench-dist``) it refreshes only its sections of ``results.md``; ``make bench`` runs it too.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HEADING = "## labkit.distributed"
M_ELEMENTS = 720_720  # divisible by every N ≤ 16
TARGET = 0.88


def traffic_rows() -> tuple[list[str], bool]:
    from labkit.distributed import allreduce

    rows, exact = [], True
    m = M_ELEMENTS * 4
    for n in range(2, 17):
        grads = [np.zeros(M_ELEMENTS, dtype=np.float32)] * n
        ring = allreduce(grads, algorithm="ring")
        ps = allreduce(grads, algorithm="parameter_server")
        ring_ok = ring.worker_bytes().tolist() == [2 * (n - 1) * m // n] * n
        ps_ok = int(ps.network.bytes_received[-1]) == n * m and ps.worker_bytes().tolist() == [m] * n
        exact &= ring_ok and ps_ok
        rows.append(f"| {n} | {int(ring.worker_bytes()[0]):,} | {2 * (n - 1) * m // n:,} | {'✓' if ring_ok else '✗'} "
                    f"| {int(ps.network.bytes_received[-1]):,} | {n * m:,} | {'✓' if ps_ok else '✗'} "
                    f"| {ring.network.n_steps} |")
    return rows, exact


def _digits():
    from labkit.datasets import load_mnist

    x, y, xt, yt = load_mnist(normalize=True, flatten=True)
    return x.astype(np.float32), y.astype(np.int64), xt.astype(np.float32), yt.astype(np.int64)


def sync_async_rows(repeats: int = 3) -> list[str]:
    from labkit.distributed import train_parameter_server

    x, y, xt, yt = _digits()
    results: dict[tuple[str, bool], list] = {}
    for _ in range(repeats):  # interleaved, so machine load hits every variant alike
        for straggler in (False, True):
            for mode in ("sync", "async"):
                run = train_parameter_server(x, y, validation_data=(xt, yt), mode=mode, n_workers=2, epochs=3,
                                             straggler=1 if straggler else None, straggler_slowdown=5,
                                             eval_points=40, progress=False)
                results.setdefault((mode, straggler), []).append(run)
    rows = []
    for (mode, straggler), runs in results.items():
        tta = [r.time_to_accuracy(TARGET) for r in runs]
        reached = [t for t in tta if t is not None]
        rows.append(f"| {mode} | {'worker 1, 5× slower' if straggler else 'none'} "
                    f"| {np.median([r.wall_time for r in runs]):.2f} "
                    f"| {np.median(reached):.2f} ({len(reached)}/{len(runs)} reached) "
                    f"| {np.median([r.val_accuracy[-1] for r in runs]):.2%} "
                    f"| {np.mean([r.staleness.mean() for r in runs]):.2f} "
                    f"| {runs[0].gradients_per_worker.tolist()} |" if reached else
                    f"| {mode} | {straggler} | — | not reached | | | |")
    return rows


def pipeline_rows() -> list[str]:
    from labkit.distributed import train_pipeline
    from labkit.nn import Dense, Sequential

    x, y, _, _ = _digits()
    rows = []
    for m in (1, 2, 4, 8, 16):
        model = Sequential([Dense(784, activation="relu") for _ in range(4)] + [Dense(10, activation="softmax")],
                           input_shape=(784,), seed=0)
        run = train_pipeline(model, x, y, n_stages=2, n_microbatches=m, batch_size=512, steps=8)
        rows.append(f"| {m} | {run.measured_bubble:.3f} | {run.analytic_bubble:.3f} "
                    f"| {run.measured_bubble - run.analytic_bubble:+.3f} | {run.step_time * 1e3:.0f} |")
    return rows


def horovod_rows(repeats: int = 2) -> list[str]:
    from labkit.distributed.horovod import run_local, train_mnist

    configs = {"MLP 784-128-10, batch 64/rank": {"hidden_units": (128,), "batch_size": 64},
               "MLP 784-1024-1024-10, batch 256/rank": {"hidden_units": (1024, 1024), "batch_size": 256}}
    rows = []
    for name, config in configs.items():
        job = {"epochs": 4, **config}
        per_n: dict[int, list] = {1: [], 2: []}
        for _ in range(repeats):
            for n in (1, 2):
                per_n[n].append(run_local(train_mnist, np=n, kwargs=job))
        sps = {n: float(np.median([r[0]["samples_per_second"] for r in runs])) for n, runs in per_n.items()}
        acc = {n: float(np.median([r[0]["test_accuracy"] for r in runs])) for n, runs in per_n.items()}
        same = all(all(np.array_equal(a, b) for a, b in zip(r[0]["weights"], r[1]["weights"], strict=True))
                   for r in per_n[2])
        speedup = sps[2] / sps[1]
        rows.append(f"| {name} | {sps[1]:,.0f} | {sps[2]:,.0f} | {speedup:.2f}× | {speedup / 2:.2f} "
                    f"| {acc[1]:.2%} | {acc[2]:.2%} | {'✓' if same else '✗'} |")
        print(name, sps, acc)
    return rows


def distributed_section() -> list[str]:
    traffic, exact = traffic_rows()
    return [
        f"{HEADING}: all-reduce traffic, ring vs parameter server", "",
        f"Every worker holds M = {M_ELEMENTS:,} float32 = {M_ELEMENTS * 4:,} bytes. Bytes are counted by the simulated "
        "network as the algorithms send them, and compared with the formulas. "
        f"All match exactly: **{'✓' if exact else '✗'}**.", "",
        "| N | ring: bytes sent per worker | 2(N−1)/N × M | | server: bytes received | N × M | | ring steps |",
        "|---:|---:|---:|---|---:|---:|---|---:|", *traffic, "",
        f"{HEADING}: synchronous vs asynchronous parameter server", "",
        "2 worker processes and the server on this machine, MLP 784-128-10, SGD 0.05 per worker-batch of 32 "
        f"(synchronous: × 2 on the averaged gradient), 3 epochs of the 8,000 training digits. Time to "
        f"{TARGET:.0%} test accuracy, median of 3 interleaved runs (process start-up not timed).", "",
        f"| mode | straggler | wall time (s) | time to {TARGET:.0%} (s) | final accuracy | mean staleness "
        "| gradients per worker |", "|---|---|---:|---:|---:|---:|---|", *sync_async_rows(), "",
        f"{HEADING}: pipeline bubble on 2 stage processes", "",
        "MLP with four 784-unit ReLU layers split into 2 equal stages, batch 512, 8 steps; measured bubble = "
        "1 − busy / (stages × makespan), mean over steps 2–8. The formula assumes free transfers between stages; "
        "here each micro-batch crosses a pipe.", "",
        "| micro-batches m | measured | (p−1)/(m+p−1) | difference | ms per batch |", "|---:|---:|---:|---:|---:|",
        *pipeline_rows(), "",
        f"{HEADING}: Horovod, 2 processes vs 1 (Gloo on localhost)", "",
        "`train_mnist` through `run_local`, 4 epochs of 8,000 digits, learning rate × size; samples per second over "
        "epochs 2–4, median of 2 interleaved runs. This machine has 2 cores: 1 process gets 2 TensorFlow threads, "
        "2 processes 1 each, so the compute does not grow; the figures measure the overhead Horovod adds, not "
        "what a cluster of separate machines would gain.", "",
        "| model | 1 process (samples/s) | 2 processes (samples/s) | speed-up | efficiency | accuracy, 1 "
        "| accuracy, 2 | identical weights |", "|---|---:|---:|---:|---:|---:|---:|---|", *horovod_rows(), "",
    ]


if __name__ == "__main__":
    from pathlib import Path

    from sections import refresh

    here = Path(__file__).parent
    refresh(here / "results.md", HEADING, distributed_section())
    print(f"wrote {here / 'results.md'}")
