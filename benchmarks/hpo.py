"""labkit.hpo benchmarks: compute each searcher needs, ASHA's parallel speed-up, SHA vs ASHA utilisation.

Run through ``benchmarks/run.py`` (``make bench``); ``python benchmarks/hpo.py`` runs this section alone.
"""

from __future__ import annotations

import statistics
import time

import matplotlib

matplotlib.use("Agg")

from labkit.hpo import (  # noqa: E402
    ASHA,
    PBT,
    EarlyStoppingScheduler,
    FIFOScheduler,
    Hyperband,
    MedianStoppingPolicy,
    ProcessExecutor,
    RandomSearcher,
    SuccessiveHalving,
    TPESearcher,
    tune,
)
from labkit.hpo.tasks import MnistMLPTask, MnistSGDTask  # noqa: E402

R = 27  # maximum epochs per trial
N_RANDOM = 27  # random search: 27 trials × 27 epochs


def searchers(space, seed):
    return {
        "random search": FIFOScheduler(RandomSearcher(space, seed=seed), n_trials=N_RANDOM, max_resource=R),
        "TPE": FIFOScheduler(TPESearcher(space, seed=seed), n_trials=N_RANDOM, max_resource=R),
        "median stopping": EarlyStoppingScheduler(RandomSearcher(space, seed=seed),
                                                  MedianStoppingPolicy(delay_evaluation=3), n_trials=N_RANDOM,
                                                  max_resource=R),
        "SHA (81 trials)": SuccessiveHalving(RandomSearcher(space, seed=seed), n_trials=81, max_resource=R),
        "ASHA (81 trials)": ASHA(RandomSearcher(space, seed=seed), n_trials=81, max_resource=R),
        "Hyperband": Hyperband(RandomSearcher(space, seed=seed), max_resource=R),
        "PBT (population 9)": PBT(RandomSearcher(space, seed=seed), population_size=9, perturbation_interval=3,
                                  max_resource=R, seed=seed),
    }


def epochs_to_reach(exp, target: float) -> int | None:
    curve = exp.best_so_far()
    hit = curve[curve["best"] >= target]
    return None if hit.empty else int(hit["compute"].iloc[0])


def budget_section(seeds=(0, 1, 2)) -> tuple[list[str], dict]:
    task = MnistSGDTask(n_train=3000, n_val=2000)
    per_seed = []
    experiments = {}
    for seed in seeds:
        runs = {name: tune(task, sched, seed=seed, progress=False)
                for name, sched in searchers(task.space(), seed).items()}
        target = runs["random search"].best_metric - 0.005
        full = runs["random search"].compute
        per_seed.append({name: (epochs_to_reach(exp, target), exp.compute, exp.best_metric, full)
                         for name, exp in runs.items()})
        experiments = experiments or runs
        print(f"seed {seed}: target {target:.4f}; " + ", ".join(
            f"{n} {v[0]}" for n, v in per_seed[-1].items()))
    lines = ["## labkit.hpo: epochs each searcher needs", "",
             f"Task: `MnistSGDTask` (scikit-learn SGD classifier on 3,000 shipped MNIST digits, validated on 2,000), "
             f"epochs as the resource, R = {R}. For each of seeds {list(seeds)}, the target is the best validation "
             f"accuracy random search finds with its full budget ({N_RANDOM} trials × {R} epochs = {N_RANDOM * R} "
             "epochs) minus 0.5 points; the table gives the epochs (all trials together) each searcher had spent "
             "when a full-length trial first reached the target — the median over seeds, and its ratio to random "
             "search's full budget. Goal: ASHA and Hyperband ≤ 1/3.", "",
             "| searcher | epochs to target (median) | ÷ random's budget | reached (seeds) | total epochs | "
             "best accuracy (median) | goal |", "|---|---:|---:|---:|---:|---:|---|"]
    summary = {}
    for name in per_seed[0]:
        hits = [s[name][0] for s in per_seed if s[name][0] is not None]
        med = statistics.median(hits) if hits else None
        ratio = med / (N_RANDOM * R) if med is not None else None
        goal = ""
        if name.startswith(("ASHA", "Hyperband")):
            goal = "✓" if ratio is not None and ratio <= 1 / 3 and len(hits) == len(seeds) else "✗"
        summary[name] = ratio
        lines.append(f"| {name} | {med if med is not None else 'not reached'} | "
                     f"{f'{ratio:.2f}' if ratio is not None else '–'} | {len(hits)}/{len(seeds)} | "
                     f"{statistics.median(s[name][1] for s in per_seed):.0f} | "
                     f"{statistics.median(s[name][2] for s in per_seed):.4f} | {goal} |")
    return lines + [""], experiments


def speedup_section(task_name: str = "mlp") -> list[str]:
    task = MnistMLPTask(n_train=3000, n_val=1000) if task_name == "mlp" else MnistSGDTask(n_train=6000, n_val=2000)
    n_trials, max_resource = (27, 9) if task_name == "mlp" else (81, 27)
    walls, utils = {}, {}
    for workers in (1, 2):
        with ProcessExecutor(workers, preload=("labkit.hpo.tasks", "tensorflow")) as pool:
            for name, make in (("ASHA", ASHA), ("SHA", SuccessiveHalving)):
                sched = make(RandomSearcher(task.space(), seed=0), n_trials=n_trials, max_resource=max_resource)
                start = time.perf_counter()
                exp = tune(task, sched, executor=pool, seed=0, progress=False)
                walls[name, workers] = time.perf_counter() - start
                utils[name, workers] = exp.utilisation
                print(f"{name} on {workers} worker(s): {walls[name, workers]:.1f} s, "
                      f"utilisation {exp.utilisation:.0%}, {exp.compute} epochs")
    speedup = walls["ASHA", 1] / walls["ASHA", 2]
    return ["## ASHA and SHA on 1 and 2 worker processes", "",
            f"Task: `{type(task).__name__}` ({task.n_train:,} digits), {n_trials} trials, R = {max_resource}, η = 3, "
            "one thread per worker (`ProcessExecutor`, workers started before timing). Utilisation is busy "
            "worker-time over workers × wall time.", "",
            "| scheduler | 1 worker (s) | 2 workers (s) | speed-up | utilisation, 2 workers | goal |",
            "|---|---:|---:|---:|---:|---|",
            f"| ASHA | {walls['ASHA', 1]:.1f} | {walls['ASHA', 2]:.1f} | {speedup:.2f}× | {utils['ASHA', 2]:.0%} | "
            f"{'✓' if speedup >= 1.8 else '✗'} (≥ 1.8×) |",
            f"| SHA | {walls['SHA', 1]:.1f} | {walls['SHA', 2]:.1f} | {walls['SHA', 1] / walls['SHA', 2]:.2f}× | "
            f"{utils['SHA', 2]:.0%} | |", ""]


def figure(experiments, path) -> None:
    import matplotlib.pyplot as plt

    from labkit.hpo.plots import plot_best_so_far

    fig, ax = plt.subplots(figsize=(8, 4.5))
    plot_best_so_far(experiments, ax=ax, title="Best validation accuracy vs epochs spent (seed 0)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def hpo_section(out_dir, speedup_task: str = "mlp") -> list[str]:
    lines, experiments = budget_section()
    figure(experiments, out_dir / "hpo_best_so_far.png")
    lines += ["![best so far](hpo_best_so_far.png)", ""]
    return lines + speedup_section(speedup_task)


if __name__ == "__main__":
    from pathlib import Path

    print("\n".join(hpo_section(Path(__file__).parent)))
