"""Figures of lab 10: what a model uses, why it made one prediction, and how its inputs drift month by month.

>>> import numpy as np, pandas as pd
>>> from labkit.explain import Explanation
>>> fig = plot_shapley(Explanation(["temp", "hour"], 0.2, np.array([0.15, -0.05])))
>>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
['hour', 'temp']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from labkit.explain import Explanation, Importances
from labkit.serving.drift import PSI_LARGE, PSI_MODERATE, bin_edges, psi, shares


def plot_importances(importances: Importances, *, title: str = "Permutation importance"):
    """The score drop of each feature, largest at the top, with the spread over shuffles as error bars."""
    import matplotlib.pyplot as plt

    table = importances.table().iloc[::-1]
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * len(table) + 1.2))
    ax.barh(table["feature"], table["importance"], xerr=table["std"], color="tab:blue", alpha=0.8)
    ax.axvline(0, color="grey", lw=1)
    ax.set(xlabel=f"drop in score when shuffled (baseline {importances.baseline:.3f})", title=title)
    fig.tight_layout()
    return fig


def plot_shapley(explanation: Explanation, *, title: str = "Why this prediction"):
    """Each feature's push away from the base value (the background's mean prediction), largest at the top."""
    import matplotlib.pyplot as plt

    order = np.argsort(np.abs(explanation.values))
    names = [explanation.names[i] for i in order]
    values = explanation.values[order]
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * len(values) + 1.4))
    ax.barh(names, values, color=["tab:red" if v > 0 else "tab:blue" for v in values])
    ax.axvline(0, color="grey", lw=1)
    ax.set(xlabel=f"contribution (base {explanation.base_value:.3f} → prediction {explanation.prediction:.3f})",
           title=title)
    fig.tight_layout()
    return fig


def plot_occlusion(image: np.ndarray, heat: np.ndarray, *, title: str = ""):
    """The image, and beside it how much covering each patch lowers the predicted class's probability."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(7.5, 3.6))
    left.imshow(image, cmap="gray_r")
    left.set(title="the digit", xticks=[], yticks=[])
    shown = right.imshow(heat, cmap="magma", extent=(0, image.shape[1], image.shape[0], 0))
    right.set(title="probability lost when covered", xticks=[], yticks=[])
    fig.colorbar(shown, ax=right, fraction=0.046)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_drift(psi_by_month: pd.DataFrame, scores: Mapping[int, float], baseline: float, *,
               score_name: str = "ROC AUC", trained_on: str = ""):
    """Left: each feature's PSI month by month against the training data, with the rule of thumb's 0.1 and 0.25
    lines. Right: the model's score on each month's flights, against the score measured at training time."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for feature in psi_by_month.columns:
        left.plot(psi_by_month.index, psi_by_month[feature].clip(lower=1e-4), marker="o", label=feature)
    left.axhline(PSI_MODERATE, color="orange", ls="--", lw=1)
    left.axhline(PSI_LARGE, color="red", ls="--", lw=1)
    left.set(yscale="log", xlabel="month", ylabel="PSI against the training data", title="Input drift")
    left.legend(fontsize=8, ncol=2)
    months = sorted(scores)
    right.plot(months, [scores[m] for m in months], marker="o", color="black", label=score_name)
    right.axhline(baseline, color="green", ls="--", lw=1, label=f"at training time ({baseline:.3f})")
    right.set(xlabel="month", ylabel=score_name, title="The model's score on each month" +
              (f" (trained on {trained_on})" if trained_on else ""))
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_latencies(results: Mapping[int, Any]):
    """Left: latency percentiles (ms) per batch size. Right: flights scored per second. ``results`` maps a batch
    size to its :class:`~labkit.serving.load.LoadResult`."""
    import matplotlib.pyplot as plt

    sizes = sorted(results)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    width = 0.8 / 3
    for k, (name, q) in enumerate([("p50", 50), ("p95", 95), ("p99", 99)]):
        left.bar(np.arange(len(sizes)) + (k - 1) * width, [results[s].percentile(q) * 1000 for s in sizes],
                 width=width, label=name)
    left.set_xticks(np.arange(len(sizes)), [f"{s} per request" for s in sizes])
    left.set(ylabel="latency (ms)", title="How long a request waits")
    left.legend(fontsize=8)
    right.bar([f"{s} per request" for s in sizes], [results[s].rows_per_second for s in sizes], color="tab:green")
    right.set(ylabel="flights scored per second", title="Throughput")
    fig.tight_layout()
    return fig


def drift_explorer(reference: pd.DataFrame, by_month: Mapping[int, pd.DataFrame], feature: str, *, bins: int = 10):
    """A slider over the months: the share of ``feature``'s values in each of the training data's decile bins,
    training data against that month, with the month's PSI."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from labkit._plotting import slider_view

    months = sorted(by_month)
    if feature not in reference.columns or any(feature not in part.columns for part in by_month.values()):
        raise ValueError(f"{feature!r} must be a column of the reference and of every month's data.")
    values = reference[feature].dropna().to_numpy()
    edges = bin_edges(values, bins)
    expected = shares(values, edges)
    slider = widgets.SelectionSlider(options=months, value=months[0], description="month", continuous_update=True)

    def draw(month: int) -> None:
        current = by_month[month][feature].dropna().to_numpy()
        fig, ax = plt.subplots(figsize=(7, 3.4))
        x = np.arange(expected.size)
        ax.bar(x - 0.2, expected, width=0.4, label="training data", color="tab:blue")
        ax.bar(x + 0.2, shares(current, edges), width=0.4, label=f"month {month}", color="tab:orange")
        labels = [f"≤{e:.3g}" for e in edges] + [f">{edges[-1]:.3g}"]
        ax.set_xticks(x, labels, rotation=45, fontsize=8)
        ax.set(ylabel="share of flights", title=f"{feature}: PSI {psi(values, current, bins):.2f}")
        ax.legend(fontsize=8)
        fig.tight_layout()

    return slider_view(slider, draw)
