"""Figures for evaluation: confusion-matrix heatmap, ROC curve, residual plot, and a live threshold explorer.

Every function draws on ``ax`` (a new figure when omitted) and returns the axes, so figures compose.

>>> import matplotlib; matplotlib.use("Agg")
>>> ax = plot_confusion_matrix([[5, 1], [2, 7]], labels=["ham", "spam"])
>>> ax.get_title()
'Confusion matrix'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from labkit._plotting import axes, slider_view
from labkit.metrics.classification import (
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)
from labkit.metrics.regression import residuals

__all__ = ["plot_confusion_matrix", "plot_roc_curve", "plot_residuals", "threshold_explorer"]


def plot_confusion_matrix(
    cm: ArrayLike,
    *,
    labels: Sequence | None = None,
    normalize: bool = False,
    ax=None,
    title: str = "Confusion matrix",
    cmap: str = "Blues",
):
    """Heatmap of a confusion matrix with counts (or row shares when ``normalize``) in each cell."""
    m = np.asarray(cm, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"cm must be a square matrix, got shape {m.shape}.")
    if normalize:
        rows = m.sum(axis=1, keepdims=True)
        m = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    k = m.shape[0]
    labels = list(labels) if labels is not None else list(range(k))
    ax = axes(ax, figsize=(0.55 * k + 3, 0.5 * k + 2.5))
    image = ax.imshow(m, cmap=cmap)
    ax.figure.colorbar(image, ax=ax, fraction=0.046)
    ax.set(xticks=range(k), yticks=range(k), xticklabels=labels, yticklabels=labels,
           xlabel="Predicted class", ylabel="True class", title=title)
    threshold = m.max() / 2 if m.size else 0
    for i in range(k):
        for j in range(k):
            text = f"{m[i, j]:.2f}" if normalize else f"{int(m[i, j])}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8 if k > 6 else 10,
                    color="white" if m[i, j] > threshold else "black")
    return ax


def plot_roc_curve(y_true: ArrayLike, y_score: ArrayLike, *, ax=None, label: str = "model", pos_label=None):
    """ROC curve with its AUC in the legend and the chance diagonal."""
    fpr, tpr, _ = roc_curve(y_true, y_score, pos_label=pos_label)
    area = roc_auc_score(y_true, y_score, pos_label=pos_label)
    ax = axes(ax, figsize=(5, 4))
    ax.plot(fpr, tpr, lw=2, label=f"{label} (AUC = {area:.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", label="chance (AUC = 0.5)")
    ax.set(xlabel="False positive rate (1 − specificity)", ylabel="True positive rate (recall)",
           title="ROC curve", xlim=(-0.01, 1.01), ylim=(-0.01, 1.01))
    ax.legend(loc="lower right")
    return ax


def plot_residuals(y_true: ArrayLike, y_pred: ArrayLike, *, ax=None, title: str = "Residuals vs prediction"):
    """Residuals ``y − ŷ`` against predictions: structure in this cloud means the model misses a pattern."""
    r = residuals(y_true, y_pred)
    ax = axes(ax, figsize=(5, 4))
    ax.scatter(np.asarray(y_pred, dtype=float), r, s=12, alpha=0.6)
    ax.axhline(0, color="black", lw=1)
    ax.set(xlabel="Predicted value ŷ", ylabel="Residual y − ŷ", title=title)
    return ax


def threshold_explorer(y_true: ArrayLike, y_score: ArrayLike, *, pos_label=None, initial: float = 0.5):
    """An ipywidgets slider that moves the decision threshold along the ROC curve.

    The figure marks the operating point and the text shows precision, recall and the confusion
    counts at that threshold, updated live. Returns the widget (display it as a cell's last value).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    t = np.asarray(y_true)
    s = np.asarray(y_score, dtype=float)
    fpr, tpr, _ = roc_curve(t, s, pos_label=pos_label)
    positive = pos_label if pos_label is not None else 1
    slider = widgets.FloatSlider(value=initial, min=float(s.min()), max=float(s.max()),
                                 step=(float(s.max()) - float(s.min())) / 200 or 0.01,
                                 description="threshold", continuous_update=True, readout_format=".3f")

    def draw(threshold: float) -> None:
        pred = np.where(s >= threshold, positive, _negative(t, positive))
        cm = confusion_matrix(t == positive, pred == positive, labels=[False, True])
        (tn, fp), (fn, tp) = cm
        p, r, f, _ = precision_recall_fscore_support(t == positive, pred == positive, pos_label=True)
        point_fpr = fp / max(fp + tn, 1)
        point_tpr = tp / max(tp + fn, 1)
        fig, ax = plt.subplots(figsize=(4.5, 4))
        ax.plot(fpr, tpr, lw=2)
        ax.plot([0, 1], [0, 1], ls="--", color="grey")
        ax.scatter([point_fpr], [point_tpr], s=80, color="crimson", zorder=3)
        ax.set(xlabel="False positive rate", ylabel="True positive rate",
               title=f"threshold {threshold:.3f}: precision {p:.3f}, recall {r:.3f}")
        print(f"TP {tp}  FP {fp}  FN {fn}  TN {tn}   precision {p:.4f}  recall {r:.4f}  F1 {f:.4f}")

    return slider_view(slider, draw)


def _negative(t: np.ndarray, positive):
    others = [v for v in np.unique(t).tolist() if v != positive]
    return others[0] if others else (0 if not isinstance(positive, str) else "negative")
