"""Pictures of a tuning experiment, and an explorer that steps through ASHA's promotions.

* :func:`plot_parallel_coordinates` — one line per trial across its hyperparameters, coloured by its metric;
* :func:`plot_metric_vs_resource` — each trial's learning curve with rung resources marked: many dots at the
  left, few at the right;
* :func:`plot_best_so_far` — the best full-resource metric against compute spent, for several experiments;
* :func:`rung_explorer` — an ipywidgets slider over the decisions of a successive-halving experiment.

>>> import matplotlib; matplotlib.use("Agg")
>>> from labkit.hpo import ASHA, RandomSearcher, tune, uniform
>>> def trainable(config, *, start, stop, checkpoint, seed):
...     return [1 - 1 / (1 + config["x"] * s) for s in range(start + 1, stop + 1)], None
>>> exp = tune(trainable, ASHA(RandomSearcher({"x": uniform(0, 1)}, seed=0), n_trials=9, max_resource=9),
...            progress=False)
>>> plot_metric_vs_resource(exp).get_xlabel()
'resource (epochs)'
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from labkit._plotting import axes, slider_view
from labkit.hpo.space import choice, loguniform, randint
from labkit.hpo.tuner import Experiment


def _final_metrics(exp: Experiment) -> pd.DataFrame:
    results = exp.results()
    last = results.sort_values(["trial", "step"]).groupby("trial").tail(1).set_index("trial")
    return last


def plot_parallel_coordinates(exp: Experiment, *, ax=None, title: str | None = None):
    """One polyline per trial over its hyperparameters (scaled to [0, 1]; log axes for ``loguniform``,
    positions for ``choice``), coloured by the trial's last metric. Returns the axes."""
    import matplotlib.pyplot as plt

    space = exp.scheduler.searcher.space
    names = list(space)
    last = _final_metrics(exp)
    ax = axes(ax, figsize=(1.6 * len(names) + 2, 4))
    scaled = np.zeros((len(last), len(names)))
    for j, name in enumerate(names):
        dist = space[name]
        values = last[name].to_numpy()
        if isinstance(dist, choice | randint):
            options = dist.values()
            scaled[:, j] = [options.index(v) / max(len(options) - 1, 1) for v in values]
            labels = [str(o) for o in options]
            ticks = np.linspace(0, 1, len(options))
        else:
            v = np.log10(values.astype(float)) if isinstance(dist, loguniform) else values.astype(float)
            lo, hi = (np.log10(dist.low), np.log10(dist.high)) if isinstance(dist, loguniform) else (v.min(), v.max())
            scaled[:, j] = (v - lo) / ((hi - lo) or 1)
            ticks = np.linspace(0, 1, 3)
            fmt = (lambda t, lo=lo, hi=hi: f"1e{lo + t * (hi - lo):.1f}") if isinstance(dist, loguniform) else (
                lambda t, lo=lo, hi=hi: f"{lo + t * (hi - lo):.3g}")
            labels = [fmt(t) for t in ticks]
        for t, label in zip(ticks, labels, strict=True):
            ax.annotate(label, (j, t), xytext=(3, 0), textcoords="offset points", fontsize=7, color="dimgray")
    metric = last["metric"].to_numpy()
    norm = plt.Normalize(np.nanmin(metric), np.nanmax(metric))
    cmap = plt.get_cmap("viridis" if exp.mode == "max" else "viridis_r")
    for row, m in sorted(zip(scaled, metric, strict=True), key=lambda p: p[1] if exp.mode == "max" else -p[1]):
        ax.plot(range(len(names)), row, color=cmap(norm(m)), alpha=0.8, lw=1.5)
    for j in range(len(names)):
        ax.axvline(j, color="black", lw=0.8)
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks([])
    ax.set_xlim(-0.1, len(names) - 0.6)
    plt.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="last metric")
    ax.set_title(title or f"{type(exp.scheduler).__name__}: {len(last)} trials")
    return ax


def plot_metric_vs_resource(exp: Experiment, *, ax=None, title: str | None = None, upto: int | None = None):
    """Every trial's metric against the resource it had, a dot where a decision was taken, the rungs as dashed
    lines and the best trial in red. ``upto`` draws only the first ``upto`` log rows (for animations)."""
    log = exp.log if upto is None else exp.log.iloc[:upto]
    results = log[log["event"] == "result"]
    decisions = log[log["event"] == "decision"]
    ax = axes(ax, figsize=(6, 4))
    best = exp.best_trial
    for trial, curve in results.groupby("trial"):
        colour = "crimson" if trial == best and upto is None else "steelblue"
        ax.plot(curve["step"], curve["metric"], color=colour, alpha=0.9 if colour == "crimson" else 0.35,
                lw=2 if colour == "crimson" else 1)
    points = decisions.merge(results[["trial", "step", "metric"]].drop_duplicates(["trial", "step"]),
                             on=["trial", "step"], suffixes=("_d", ""))
    for decision, marker, colour in (("pause", "o", "grey"), ("promote", "^", "seagreen"), ("stop", "x", "black"),
                                     ("continue", ".", "steelblue")):
        chosen = points[points["decision"] == decision]
        if len(chosen):
            ax.scatter(chosen["step"], chosen["metric"], marker=marker, color=colour, s=22, zorder=3, label=decision)
    for rung in sorted(set(decisions.loc[decisions["decision"].isin(["pause", "promote"]), "step"])):
        ax.axvline(rung, color="grey", ls="--", lw=0.8)
    if exp.scheduler.max_resource > 8:
        base = 3 if _is_power(exp.scheduler.max_resource, 3) else 2
        ax.set_xscale("log", base=base)
        ticks = [base**k for k in range(round(math.log(exp.scheduler.max_resource, base)) + 1)]
        ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set(xlabel="resource (epochs)", ylabel="metric",
           title=title or f"{type(exp.scheduler).__name__}: {results['trial'].nunique()} trials, "
                          f"{len(results)} epochs")
    ax.legend(loc="lower right", fontsize=8)
    return ax


def _is_power(n: int, base: int) -> bool:
    return n >= 1 and math.isclose(base ** round(math.log(n, base)), n)


def plot_best_so_far(experiments: Mapping[str, Experiment], *, ax=None, title: str = "Best so far vs compute"):
    """For each named experiment, the best metric among full-resource results against the epochs spent."""
    ax = axes(ax, figsize=(6, 4))
    for name, exp in experiments.items():
        curve = exp.best_so_far()
        if len(curve):
            x = np.append(curve["compute"].to_numpy(), exp.compute)
            y = np.append(curve["best"].to_numpy(), curve["best"].iloc[-1])
            ax.step(x, y, where="post", label=f"{name} ({exp.compute} epochs)", lw=1.8)
    ax.set(xlabel="compute spent (epochs, all trials)", ylabel="best full-resource metric", title=title)
    ax.legend(fontsize=8)
    return ax


def rung_explorer(exp: Experiment):
    """A slider over the experiment's decisions: the rungs as columns of dots (one per trial that reached
    them), promoted trials in green, stopped ones crossed out, and the latest decision spelled out.
    Headless, the final state is drawn as a plain figure."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    rows = exp.log.reset_index(drop=True)
    decision_rows = rows.index[rows["event"] == "decision"].tolist()
    if not decision_rows:
        raise ValueError("this experiment took no decisions: run a successive-halving scheduler (SHA, ASHA, "
                         "Hyperband) first.")
    slider = widgets.IntSlider(value=len(decision_rows), min=1, max=len(decision_rows), description="decision",
                               continuous_update=False)

    def draw(k: int) -> None:
        upto = decision_rows[k - 1] + 1
        event = rows.iloc[decision_rows[k - 1]]
        fig, ax = plt.subplots(figsize=(6.5, 4))
        plot_metric_vs_resource(exp, ax=ax, upto=upto,
                                title=f"decision {k}/{len(decision_rows)}: trial {event['trial']} "
                                      f"{event['decision']} at {event['step']}")
        print(event["note"])

    return slider_view(slider, draw)


def plot_worker_timeline(exp: Experiment, *, ax=None, title: str | None = None):
    """One row per worker, one bar per job (labelled with its trial): the white gaps are idle workers."""
    import matplotlib.pyplot as plt

    jobs = exp.jobs.copy()
    ax = axes(ax, figsize=(7, 0.6 * jobs["worker"].nunique() + 1.6))
    t0 = jobs["started"].min()
    workers = sorted(jobs["worker"].unique())
    cmap = plt.get_cmap("tab20")
    for row, worker in enumerate(workers):
        mine = jobs[jobs["worker"] == worker]
        spans = list(zip(mine["started"] - t0, mine["finished"] - mine["started"], strict=True))
        ax.broken_barh(spans, (row - 0.4, 0.8), facecolors=[cmap(t % 20) for t in mine["trial"]], edgecolor="white")
    ax.set_yticks(range(len(workers)), [f"worker {i}" for i in range(len(workers))])
    ax.set(xlabel="seconds since the first job",
           title=title or f"{type(exp.scheduler).__name__}: utilisation {exp.utilisation:.0%}")
    return ax
