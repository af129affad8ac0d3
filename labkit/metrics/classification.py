"""Classification metrics: the confusion matrix and everything computed from it, plus ROC and PR curves.

Conventions follow scikit-learn so results can be checked against it:

* the confusion matrix has true classes on the rows and predicted classes on the columns, with
  labels sorted (or in the order of ``labels=``);
* ``precision``, ``recall`` and ``f1`` take ``average`` = ``"binary"`` (the ``pos_label`` class),
  ``"micro"`` (pool the counts), ``"macro"`` (unweighted mean over classes), ``"weighted"`` (mean
  weighted by each class's support) or ``None`` (one score per class);
* a ratio whose denominator is zero (no predicted positives for precision, no actual positives for
  recall) is replaced by ``zero_division`` (0.0 by default, 1.0 or ``nan`` on request), silently:
  a warning on stderr would zero an nbgrader test cell;
* ROC and PR curves sort scores in O(n log n) and treat tied scores as one threshold.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from labkit._validation import check_labels, check_numeric, check_same_length
from labkit.metrics._labels import encode

__all__ = [
    "confusion_matrix",
    "accuracy_score",
    "precision_score",
    "recall_score",
    "f1_score",
    "precision_recall_fscore_support",
    "cohen_kappa_score",
    "roc_curve",
    "roc_auc_score",
    "auc",
    "precision_recall_curve",
    "average_precision_score",
]

Average = Literal["binary", "micro", "macro", "weighted"] | None
_AVERAGES = ("binary", "micro", "macro", "weighted", None)


def _label_pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = check_labels("y_true", y_true)
    p = check_labels("y_pred", y_pred)
    check_same_length(y_true=t, y_pred=p)
    if (t.dtype.kind in "US") != (p.dtype.kind in "US"):
        raise ValueError(
            f"y_true holds {t.dtype} labels but y_pred holds {p.dtype}: both must use the same label type."
        )
    return t, p


def _encode(t: np.ndarray, p: np.ndarray, labels: ArrayLike | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map labels to 0..k-1; returns ``(labels, t_idx, p_idx)`` with -1 for labels outside ``labels=``."""
    if labels is None:
        classes, (ti, pi) = encode(t, p)
        return classes, ti, pi
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D list of classes, got {labels!r}.")
    if len(np.unique(lab)) != len(lab):
        raise ValueError(f"labels must not repeat a class, got {lab.tolist()}.")
    order = np.argsort(lab, kind="stable")
    sorted_lab = lab[order]

    def lookup(y: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(sorted_lab, y).clip(0, len(lab) - 1)
        found = sorted_lab[pos] == y
        return np.where(found, order[pos], -1)

    return lab, lookup(t), lookup(p)


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, *, labels: ArrayLike | None = None) -> np.ndarray:
    """Counts ``C[i, j]`` of samples of true class ``i`` predicted as class ``j``.

    For two classes ``[0, 1]`` this is ``[[TN, FP], [FN, TP]]``.

    >>> confusion_matrix([0, 1, 1, 0, 1], [0, 1, 0, 0, 1])
    array([[2, 0],
           [1, 2]])
    >>> confusion_matrix(["cat", "dog", "dog"], ["dog", "dog", "dog"], labels=["dog", "cat"])
    array([[2, 0],
           [1, 0]])
    """
    t, p = _label_pair(y_true, y_pred)
    lab, ti, pi = _encode(t, p, labels)
    k = len(lab)
    keep = (ti >= 0) & (pi >= 0)
    if not keep.all():
        ti, pi = ti[keep], pi[keep]
    return np.bincount(ti * k + pi, minlength=k * k).reshape(k, k).astype(np.int64)


def accuracy_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Share of samples whose predicted class equals the true class, ``(TP + TN) / n`` for two classes.

    >>> accuracy_score([0, 1, 1, 0], [0, 1, 0, 0])
    0.75
    """
    t, p = _label_pair(y_true, y_pred)
    return float(np.mean(t == p))


def _divide(num: np.ndarray, den: np.ndarray, zero_division: float) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, float(zero_division))
    np.divide(num, den, out=out, where=den != 0)
    return out


def _check_zero_division(zero_division: float) -> float:
    if not (zero_division in (0, 1) or (isinstance(zero_division, float) and np.isnan(zero_division))):
        raise ValueError(f"zero_division must be 0.0, 1.0 or np.nan, got {zero_division!r}.")
    return float(zero_division)


def precision_recall_fscore_support(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    average: Average = "binary",
    pos_label: int | str = 1,
    labels: ArrayLike | None = None,
    beta: float = 1.0,
    zero_division: float = 0.0,
) -> tuple[np.ndarray | float, np.ndarray | float, np.ndarray | float, np.ndarray | None]:
    """Precision, recall, F-beta and support in one pass over the confusion matrix.

    ``precision = TP / (TP + FP)``, ``recall = TP / (TP + FN)``,
    ``F_beta = (1 + β²) TP / ((1 + β²) TP + β² FN + FP)``. Support (the number of true samples per
    class) is returned only when ``average=None``.

    >>> p, r, f, s = precision_recall_fscore_support([0, 1, 1, 2], [0, 1, 2, 2], average=None)
    >>> p.tolist(), r.tolist(), s.tolist()
    ([1.0, 1.0, 0.5], [1.0, 0.5, 1.0], [1, 2, 1])
    """
    if average not in _AVERAGES:
        raise ValueError(f"average must be one of {_AVERAGES}, got {average!r}.")
    zd = _check_zero_division(zero_division)
    if not beta > 0:
        raise ValueError(f"beta must be positive, got {beta!r}.")
    t, p = _label_pair(y_true, y_pred)
    if average == "binary":
        present = np.unique(np.concatenate([t, p]))
        if len(present) > 2:
            raise ValueError(
                f"average='binary' needs two classes but the labels hold {len(present)} "
                f"({present[:5].tolist()}...): choose average='macro', 'micro', 'weighted' or None."
            )
        if len(present) == 2 and pos_label not in present.tolist():
            raise ValueError(f"pos_label={pos_label!r} is not a label; the labels are {present.tolist()}.")
        labels = [pos_label]
    cm = confusion_matrix(t, p, labels=labels)
    tp = np.diag(cm).astype(np.float64)
    if labels is not None:  # rows/columns of the matrix only cover the chosen labels: count FP/FN from all data
        lab = np.asarray(labels)
        pred_count = np.array([np.sum(p == v) for v in lab], dtype=np.float64)
        true_count = np.array([np.sum(t == v) for v in lab], dtype=np.float64)
    else:
        pred_count = cm.sum(axis=0).astype(np.float64)
        true_count = cm.sum(axis=1).astype(np.float64)
    if average == "micro":
        tp, pred_count, true_count = tp.sum(keepdims=True), pred_count.sum(keepdims=True), true_count.sum(keepdims=True)
    precision = _divide(tp, pred_count, zd)
    recall = _divide(tp, true_count, zd)
    b2 = beta * beta
    fscore = _divide((1 + b2) * tp, b2 * true_count + pred_count, zd)
    if average is None:
        return precision, recall, fscore, true_count.astype(np.int64)
    if average == "weighted":
        if true_count.sum() == 0:
            return zd, zd, zd, None
        p_, r_, f_ = (float(np.average(x, weights=true_count)) for x in (precision, recall, fscore))
        return p_, r_, f_, None
    return float(precision.mean()), float(recall.mean()), float(fscore.mean()), None


def _one(index: int, y_true: ArrayLike, y_pred: ArrayLike, **kwargs: object) -> np.ndarray | float:
    return precision_recall_fscore_support(y_true, y_pred, **kwargs)[index]  # type: ignore[arg-type]


def precision_score(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    average: Average = "binary",
    pos_label: int | str = 1,
    labels: ArrayLike | None = None,
    zero_division: float = 0.0,
) -> np.ndarray | float:
    """Of the samples predicted positive, the share that are positive: ``TP / (TP + FP)``.

    The course text's diabetes example: TP 750, FP 38 → 750 / 788 = 0.9518.

    >>> y_true = [1] * 777 + [0] * 1063
    >>> y_pred = [1] * 750 + [0] * 27 + [1] * 38 + [0] * 1025
    >>> round(precision_score(y_true, y_pred), 4)
    0.9518
    """
    return _one(0, y_true, y_pred, average=average, pos_label=pos_label, labels=labels, zero_division=zero_division)


def recall_score(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    average: Average = "binary",
    pos_label: int | str = 1,
    labels: ArrayLike | None = None,
    zero_division: float = 0.0,
) -> np.ndarray | float:
    """Of the positive samples, the share predicted positive (sensitivity): ``TP / (TP + FN)``.

    >>> recall_score([1, 1, 1, 0], [1, 0, 1, 1])
    0.6666666666666666
    """
    return _one(1, y_true, y_pred, average=average, pos_label=pos_label, labels=labels, zero_division=zero_division)


def f1_score(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    average: Average = "binary",
    pos_label: int | str = 1,
    labels: ArrayLike | None = None,
    zero_division: float = 0.0,
) -> np.ndarray | float:
    """Harmonic mean of precision and recall, ``2 TP / (2 TP + FP + FN)``.

    >>> f1_score([1, 1, 1, 0], [1, 0, 1, 1])
    0.6666666666666666
    >>> f1_score([0, 1, 2, 2], [0, 2, 2, 2], average="macro")
    0.6
    """
    return _one(2, y_true, y_pred, average=average, pos_label=pos_label, labels=labels, zero_division=zero_division)


def cohen_kappa_score(y1: ArrayLike, y2: ArrayLike, *, labels: ArrayLike | None = None) -> float:
    """Agreement between two raters beyond chance: ``κ = (p_o - p_e) / (1 - p_e)``.

    ``p_o`` is the observed agreement (accuracy) and ``p_e`` the agreement expected if both raters
    labelled independently with their own class frequencies. When ``p_e`` is 1 (both raters always
    give the same single class) κ is undefined and ``nan`` is returned.

    >>> round(cohen_kappa_score([0, 0, 1, 1], [0, 0, 1, 0]), 4)
    0.5
    """
    t, p = _label_pair(y1, y2)
    cm = confusion_matrix(t, p, labels=labels).astype(np.float64)
    n = cm.sum()
    if n == 0:
        return float("nan")
    po = np.trace(cm) / n
    pe = float(np.dot(cm.sum(axis=0), cm.sum(axis=1))) / (n * n)
    if pe == 1.0:
        return float("nan")
    return float((po - pe) / (1.0 - pe))


# ---------------------------------------------------------------------------------------------
# Threshold curves
# ---------------------------------------------------------------------------------------------


def _binary_scores(y_true: ArrayLike, y_score: ArrayLike, pos_label: int | str | None) -> tuple[np.ndarray, np.ndarray]:
    t = check_labels("y_true", y_true)
    s = check_numeric("y_score", y_score)
    check_same_length(y_true=t, y_score=s)
    classes = np.unique(t)
    if len(classes) > 2:
        raise ValueError(f"y_true must hold two classes for a ROC/PR curve, got {len(classes)}: binarise it first.")
    if pos_label is None:
        if t.dtype.kind in "US" or not set(classes.tolist()) <= {0, 1, -1}:
            raise ValueError(
                f"y_true's classes are {classes.tolist()}: pass pos_label= to say which one is positive."
            )
        pos_label = 1
    return (t == pos_label), s


def _binary_clf_curve(y_true: ArrayLike, y_score: ArrayLike, pos_label: int | str | None):
    """False and true positive counts at every distinct score, highest threshold first."""
    positive, s = _binary_scores(y_true, y_score, pos_label)
    order = np.argsort(s, kind="mergesort")[::-1]
    s = s[order]
    positive = positive[order]
    # the last index of each run of equal scores: one threshold per distinct score
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tps = np.cumsum(positive, dtype=np.int64)[last]
    fps = (last + 1) - tps
    return fps, tps, s[last]


def roc_curve(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    pos_label: int | str | None = None,
    drop_intermediate: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Receiver operating characteristic: false and true positive rates as the threshold falls.

    Returns ``(fpr, tpr, thresholds)``; ``thresholds[0]`` is ``inf`` (nothing predicted positive), and
    a sample is predicted positive when ``score >= threshold``. With ``drop_intermediate`` points on a
    straight segment of the curve are left out; the area is unchanged.

    >>> fpr, tpr, thr = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> fpr.tolist(), tpr.tolist(), thr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0], [inf, 0.8, 0.4, 0.35, 0.1])
    """
    fps, tps, thresholds = _binary_clf_curve(y_true, y_score, pos_label)
    if drop_intermediate and len(fps) > 2:
        # keep the end points and every point where the curve changes direction
        bend = np.r_[True, (np.diff(fps, 2) != 0) | (np.diff(tps, 2) != 0), True]
        fps, tps, thresholds = fps[bend], tps[bend], thresholds[bend]
    fps = np.r_[0, fps]
    tps = np.r_[0, tps]
    thresholds = np.r_[np.inf, thresholds]
    n_neg, n_pos = fps[-1], tps[-1]
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            "y_true holds only one class: a ROC curve needs both positive and negative samples."
        )
    return fps / n_neg, tps / n_pos, thresholds


def auc(x: ArrayLike, y: ArrayLike) -> float:
    """Area under a curve by the trapezoidal rule; ``x`` must be monotonic.

    >>> auc([0, 0.5, 1], [0, 1, 1])
    0.75
    """
    xa = check_numeric("x", x)
    ya = check_numeric("y", y)
    check_same_length(x=xa, y=ya)
    if xa.size < 2:
        raise ValueError(f"auc needs at least 2 points, got {xa.size}.")
    dx = np.diff(xa)
    direction = 1.0
    if np.any(dx < 0):
        if np.all(dx <= 0):
            direction = -1.0
        else:
            raise ValueError("x is neither increasing nor decreasing: sort the curve's points by x first.")
    return float(direction * np.sum(dx * (ya[1:] + ya[:-1]) / 2.0))


def roc_auc_score(y_true: ArrayLike, y_score: ArrayLike, *, pos_label: int | str | None = None) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random
    negative (ties count one half).

    >>> roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    fpr, tpr, _ = roc_curve(y_true, y_score, pos_label=pos_label, drop_intermediate=True)
    return auc(fpr, tpr)


def precision_recall_curve(
    y_true: ArrayLike, y_score: ArrayLike, *, pos_label: int | str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall at every distinct score threshold.

    Returns ``(precision, recall, thresholds)`` ordered by increasing threshold, as scikit-learn does;
    the last point is ``precision = 1, recall = 0`` and has no threshold.

    >>> p, r, t = precision_recall_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> p.round(3).tolist(), r.tolist(), t.tolist()
    ([0.5, 0.667, 0.5, 1.0, 1.0], [1.0, 1.0, 0.5, 0.5, 0.0], [0.1, 0.35, 0.4, 0.8])
    """
    fps, tps, thresholds = _binary_clf_curve(y_true, y_score, pos_label)
    precision = _divide(tps, tps + fps, 0.0)
    recall = np.ones_like(precision) if tps[-1] == 0 else tps / tps[-1]
    rev = slice(None, None, -1)
    return np.r_[precision[rev], 1.0], np.r_[recall[rev], 0.0], thresholds[rev]


def average_precision_score(y_true: ArrayLike, y_score: ArrayLike, *, pos_label: int | str | None = None) -> float:
    """Average precision: ``Σ (Rₙ - Rₙ₋₁) Pₙ`` over thresholds, the step-wise area under the PR curve.

    >>> round(average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
    0.8333
    """
    precision, recall, _ = precision_recall_curve(y_true, y_score, pos_label=pos_label)
    return float(-np.sum(np.diff(recall) * precision[:-1]))
