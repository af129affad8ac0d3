"""``make bench``: labkit against its references, measured side by side in one run.

Writes ``benchmarks/results.md``. Timings are the best of several interleaved repeats (labkit, then the
reference, then labkit again...), so both sides see the same machine state.

    .venv/bin/python benchmarks/run.py [--rows 1000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import platform
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import sklearn
from sklearn import metrics as skm

from labkit import metrics

HERE = Path(__file__).resolve().parent
GOAL_RATIO = 1.5


def best_of(fn: Callable[[], object], repeats: int) -> float:
    return min(_timed(fn) for _ in range(repeats))


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def side_by_side(ours: Callable[[], object], theirs: Callable[[], object], repeats: int) -> tuple[float, float]:
    a, b = [], []
    for _ in range(repeats):
        a.append(_timed(ours))
        b.append(_timed(theirs))
    return min(a), min(b)


def peak_memory(fn: Callable[[], object]) -> tuple[float, float]:
    """(peak MiB traced while running fn, seconds)."""
    tracemalloc.start()
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20, seconds


def metric_cases(n: int, rng: np.random.Generator) -> list[tuple[str, Callable, Callable]]:
    y = rng.normal(size=n)
    yhat = y + rng.normal(scale=0.5, size=n)
    t2 = rng.integers(0, 2, n)
    p2 = np.where(rng.random(n) < 0.8, t2, 1 - t2)
    t10 = rng.integers(0, 10, n)
    p10 = np.where(rng.random(n) < 0.7, t10, rng.integers(0, 10, n))
    score = np.round(rng.random(n) + 0.5 * t2, 4)
    return [
        ("mean_squared_error", lambda: metrics.mean_squared_error(y, yhat), lambda: skm.mean_squared_error(y, yhat)),
        ("mean_absolute_error", lambda: metrics.mean_absolute_error(y, yhat), lambda: skm.mean_absolute_error(y, yhat)),
        ("r2_score", lambda: metrics.r2_score(y, yhat), lambda: skm.r2_score(y, yhat)),
        ("accuracy_score", lambda: metrics.accuracy_score(t10, p10), lambda: skm.accuracy_score(t10, p10)),
        ("confusion_matrix (10 classes)", lambda: metrics.confusion_matrix(t10, p10),
         lambda: skm.confusion_matrix(t10, p10)),
        ("f1_score (binary)", lambda: metrics.f1_score(t2, p2), lambda: skm.f1_score(t2, p2)),
        ("f1_score (macro, 10 classes)", lambda: metrics.f1_score(t10, p10, average="macro"),
         lambda: skm.f1_score(t10, p10, average="macro")),
        ("cohen_kappa_score", lambda: metrics.cohen_kappa_score(t10, p10), lambda: skm.cohen_kappa_score(t10, p10)),
        ("roc_curve", lambda: metrics.roc_curve(t2, score), lambda: skm.roc_curve(t2, score)),
        ("roc_auc_score", lambda: metrics.roc_auc_score(t2, score), lambda: skm.roc_auc_score(t2, score)),
        ("precision_recall_curve", lambda: metrics.precision_recall_curve(t2, score),
         lambda: skm.precision_recall_curve(t2, score)),
        ("rand_score", lambda: metrics.rand_score(t10, p10), lambda: skm.rand_score(t10, p10)),
        ("adjusted_rand_score", lambda: metrics.adjusted_rand_score(t10, p10),
         lambda: skm.adjusted_rand_score(t10, p10)),
    ]


def session_start_seconds(env: dict[str, str]) -> float:
    """Wall-clock seconds for a fresh Python process to get a session and run a first job."""
    import os
    import subprocess
    import sys

    code = "from labkit.spark import get_spark; get_spark('bench').range(1000).count()"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env={**os.environ, **env})
    return time.perf_counter() - start


def spark_section(repeats: int = 3) -> list[str]:
    """Spark labs fast and full, and a fresh local session vs a Spark Connect client, interleaved."""
    from labkit import spark_connect
    from labkit.grading.nbgrader import lab_notebook, list_labs
    from labkit.paths import build_dir
    from labkit.runner import execute

    lines = ["## Spark: session start and lab times", ""]
    url = spark_connect.start(15091)
    try:
        local, connect = [], []
        for _ in range(repeats):
            local.append(session_start_seconds({}))
            connect.append(session_start_seconds({"LABKIT_SPARK_REMOTE": url}))
    finally:
        spark_connect.stop(15091)
    lo, co = min(local), min(connect)
    print(f"session start: local {lo:.1f} s, Spark Connect client {co:.1f} s")
    lines += ["Fresh Python process → session → first job, best of "
              f"{repeats} interleaved runs (the Connect server was already up):", "",
              "| session | seconds |", "|---|---:|", f"| local (starts its own JVM) | {lo:.1f} |",
              f"| Spark Connect client | {co:.1f} |", f"| ratio local / Connect | {lo / co:.1f}× |", ""]
    lines += ["Each Spark lab's solution executed headlessly with papermill (local mode):", "",
              "| lab | --fast (s) | full size (s) |", "|---|---:|---:|"]
    for lab in [lab for lab in list_labs() if lab < "04"]:
        times = []
        for fast in (True, False):
            result = execute(lab_notebook(lab), build_dir() / "bench" / f"{lab}-{'fast' if fast else 'full'}.ipynb",
                             fast=fast)
            times.append(f"{result.seconds:.0f}" if result.ok else f"failed: {result.error[:60]}")
        print(f"{lab}: fast {times[0]} s, full {times[1]} s")
        lines.append(f"| {lab} | {times[0]} | {times[1]} |")
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--silhouette-points", type=int, default=50_000)
    parser.add_argument("--skip-spark", action="store_true", help="leave out the Spark lab and session timings")
    parser.add_argument("--skip-hpo", action="store_true", help="leave out the hyperparameter-search benchmarks")
    parser.add_argument("--skip-nn", action="store_true", help="leave out the neural-network benchmarks")
    parser.add_argument("--skip-dl", action="store_true", help="leave out lab 07's Keras measurements")
    parser.add_argument("--skip-seq", action="store_true", help="leave out the sequence-model (lab 09) benchmarks")
    parser.add_argument("--skip-dist", action="store_true", help="leave out the distributed-training benchmarks")
    parser.add_argument("--skip-mistakes", action="store_true", help="leave out the mistake-hint measurements")
    parser.add_argument("--skip-serving", action="store_true", help="leave out lab 10's serving measurements")
    parser.add_argument("--skip-classroom", action="store_true", help="leave out the class-of-200 measurements")
    parser.add_argument("--skip-grading", action="store_true", help="leave out stock nbgrader vs labkit grade")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)

    lines = ["# Benchmarks", "",
             f"Machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
             f"NumPy {np.__version__}, scikit-learn {sklearn.__version__}. Generated by `make bench` "
             f"on {time.strftime('%Y-%m-%d')}.", "",
             f"## labkit.metrics vs scikit-learn at {args.rows:,} rows", "",
             f"Best of {args.repeats} interleaved runs each. Goal: ratio ≤ {GOAL_RATIO}×.", "",
             "| metric | labkit (ms) | scikit-learn (ms) | ratio | goal |", "|---|---:|---:|---:|---|"]
    worst = 0.0
    for name, ours, theirs in metric_cases(args.rows, rng):
        a, b = side_by_side(ours, theirs, args.repeats)
        ratio = a / b
        worst = max(worst, ratio)
        verdict = "✓" if ratio <= GOAL_RATIO else "✗"
        lines.append(f"| {name} | {a * 1e3:.1f} | {b * 1e3:.1f} | {ratio:.2f}× | {verdict} |")
        print(f"{name:32s} labkit {a * 1e3:8.1f} ms   sklearn {b * 1e3:8.1f} ms   ratio {ratio:5.2f}")
    lines += ["", f"Worst ratio: **{worst:.2f}×** (goal ≤ {GOAL_RATIO}×).", ""]

    n = args.silhouette_points
    x = rng.normal(size=(n, 10)) + rng.integers(0, 5, size=(n, 1))
    labels = rng.integers(0, 5, n)
    ours_mib, ours_s = peak_memory(lambda: metrics.silhouette_score(x, labels))
    theirs_mib, theirs_s = peak_memory(lambda: skm.silhouette_score(x, labels))
    full = n * n * 8 / 2**20
    lines += [f"## Silhouette at {n:,} points (10 dimensions, 5 clusters)", "",
              "Peak memory traced by `tracemalloc` during the call (the input itself excluded).", "",
              "| implementation | peak memory (MiB) | time (s) |", "|---|---:|---:|",
              f"| labkit (`chunk_bytes` = 64 MiB) | {ours_mib:.0f} | {ours_s:.1f} |",
              f"| scikit-learn (`working_memory` default) | {theirs_mib:.0f} | {theirs_s:.1f} |",
              f"| a full distance matrix would need | {full:,.0f} | |", ""]
    print(f"silhouette {n}: labkit {ours_mib:.0f} MiB {ours_s:.1f} s; sklearn {theirs_mib:.0f} MiB {theirs_s:.1f} s")
    if not args.skip_spark:
        lines += spark_section()
    if not args.skip_hpo:
        from hpo import hpo_section

        lines += hpo_section(HERE)
    if not args.skip_nn:
        from nn import nn_section

        lines += nn_section()
    if not args.skip_dl:
        from dl import dl_section

        lines += dl_section()
    if not args.skip_seq:
        from sequences import sequences_section

        lines += sequences_section()
    if not args.skip_dist:
        from distributed import distributed_section

        lines += distributed_section()
    if not args.skip_serving:
        from serving import serving_section

        lines += serving_section()
    if not args.skip_classroom:
        from classroom import classroom_section

        lines += classroom_section()
    if not args.skip_mistakes:
        from mistakes import mistakes_section

        lines += mistakes_section()
    if not args.skip_grading:
        from grading import grading_section

        lines += grading_section(40, ["04_metrics", "01_spark_essentials"])
    out = HERE / "results.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
