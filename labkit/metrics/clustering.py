"""Clustering metrics: internal (silhouette, Davies–Bouldin) and external (Rand, adjusted Rand).

Internal metrics judge a clustering from the data alone; external ones compare it with known classes.
The silhouette is computed in row chunks, so memory stays bounded (``chunk_bytes``) however many
points there are, instead of holding the full n × n distance matrix.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from labkit._validation import check_labels, check_numeric, check_same_length
from labkit.metrics._labels import encode

__all__ = ["silhouette_samples", "silhouette_score", "davies_bouldin_score", "rand_score", "adjusted_rand_score"]

Metric = Literal["euclidean", "sqeuclidean"]
DEFAULT_CHUNK_BYTES = 64 * 2**20


def _points_and_labels(X: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray, int]:
    x = check_numeric("X", X, ndim=2)
    lab = check_labels("labels", labels)
    check_same_length(X=x, labels=lab)
    _, (codes,) = encode(lab)
    k = int(codes.max()) + 1
    if not 2 <= k <= len(x) - 1:
        raise ValueError(
            f"the clustering has {k} cluster(s) for {len(x)} points: internal metrics need between 2 and "
            "n_samples - 1 clusters."
        )
    return x, codes, k


def _pairwise(a: np.ndarray, b: np.ndarray, b_sq: np.ndarray, metric: Metric) -> np.ndarray:
    d = np.einsum("ij,ij->i", a, a)[:, None] + b_sq[None, :] - 2.0 * (a @ b.T)
    np.maximum(d, 0.0, out=d)
    return d if metric == "sqeuclidean" else np.sqrt(d, out=d)


def silhouette_samples(
    X: ArrayLike, labels: ArrayLike, *, metric: Metric = "euclidean", chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> np.ndarray:
    """Silhouette of every point, ``s = (b - a) / max(a, b)``.

    ``a`` is the mean distance to the other points of its own cluster, ``b`` the smallest mean distance
    to the points of another cluster. A point alone in its cluster gets 0. ``metric="sqeuclidean"``
    gives Spark's ``ClusteringEvaluator`` default; ``"euclidean"`` gives scikit-learn's.

    >>> silhouette_samples([[0, 0], [0, 1], [5, 0], [5, 1]], [0, 0, 1, 1]).round(3).tolist()
    [0.802, 0.802, 0.802, 0.802]
    """
    if metric not in ("euclidean", "sqeuclidean"):
        raise ValueError(f"metric must be 'euclidean' or 'sqeuclidean', got {metric!r}.")
    x, codes, k = _points_and_labels(X, labels)
    n = len(x)
    sizes = np.bincount(codes, minlength=k).astype(np.float64)
    onehot = np.zeros((n, k))
    onehot[np.arange(n), codes] = 1.0
    x_sq = np.einsum("ij,ij->i", x, x)
    rows = max(1, int(chunk_bytes // (8 * (n + k) * 2)))
    out = np.empty(n)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        d = _pairwise(x[start:stop], x, x_sq, metric)
        d[np.arange(stop - start), np.arange(start, stop)] = 0.0  # exact zero to self
        sums = d @ onehot  # (chunk, k): total distance to each cluster
        own = codes[start:stop]
        idx = np.arange(stop - start)
        own_size = sizes[own] - 1.0
        a = np.divide(sums[idx, own], own_size, out=np.zeros(stop - start), where=own_size > 0)
        means = sums / sizes
        means[idx, own] = np.inf
        b = means.min(axis=1)
        denom = np.maximum(a, b)
        s = np.divide(b - a, denom, out=np.zeros(stop - start), where=denom > 0)
        s[own_size == 0] = 0.0
        out[start:stop] = s
    return out


def silhouette_score(
    X: ArrayLike, labels: ArrayLike, *, metric: Metric = "euclidean", chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> float:
    """Mean silhouette over all points, in [-1, 1]: higher means tighter, better separated clusters.

    >>> round(silhouette_score([[0, 0], [0, 1], [5, 0], [5, 1]], [0, 0, 1, 1]), 4)
    0.802
    """
    return float(silhouette_samples(X, labels, metric=metric, chunk_bytes=chunk_bytes).mean())


def davies_bouldin_score(X: ArrayLike, labels: ArrayLike) -> float:
    """Mean over clusters of the worst ratio ``(sᵢ + sⱼ) / d(cᵢ, cⱼ)``: lower is better, 0 is best.

    ``sᵢ`` is the mean distance of cluster ``i``'s points to its centroid ``cᵢ``.

    >>> round(davies_bouldin_score([[0, 0], [0, 1], [5, 0], [5, 1]], [0, 0, 1, 1]), 4)
    0.2
    """
    x, codes, k = _points_and_labels(X, labels)
    sizes = np.bincount(codes, minlength=k).astype(np.float64)
    centroids = np.zeros((k, x.shape[1]))
    np.add.at(centroids, codes, x)
    centroids /= sizes[:, None]
    scatter = np.bincount(codes, weights=np.linalg.norm(x - centroids[codes], axis=1), minlength=k) / sizes
    diff = centroids[:, None, :] - centroids[None, :, :]
    separation = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    if np.allclose(scatter, 0) or np.allclose(separation, 0):
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (scatter[:, None] + scatter[None, :]) / np.where(separation == 0, np.inf, separation)
    np.fill_diagonal(ratio, -np.inf)
    return float(ratio.max(axis=1).mean())


def _pair_counts(labels_true: ArrayLike, labels_pred: ArrayLike) -> tuple[float, float, float, float]:
    """``(pairs together in both, together in true, together in pred, all pairs)``."""
    t = check_labels("labels_true", labels_true)
    p = check_labels("labels_pred", labels_pred)
    check_same_length(labels_true=t, labels_pred=p)
    _, (ti,) = encode(t)
    _, (pi,) = encode(p)
    kt, kp = int(ti.max()) + 1, int(pi.max()) + 1
    joint = ti.astype(np.int64) * kp + pi
    if kt * kp <= 4 * len(t) + 64:  # dense contingency table
        cells = np.bincount(joint, minlength=kt * kp)
    else:
        cells = np.unique(joint, return_counts=True)[1]

    def pairs(c: np.ndarray) -> float:
        c = c.astype(np.float64)
        return float(np.sum(c * (c - 1.0)) / 2.0)

    n = float(len(t))
    return pairs(cells), pairs(np.bincount(ti)), pairs(np.bincount(pi)), n * (n - 1.0) / 2.0


def rand_score(labels_true: ArrayLike, labels_pred: ArrayLike) -> float:
    """Share of point pairs on which two clusterings agree (both together or both apart).

    >>> rand_score([0, 0, 1, 1], [1, 1, 0, 0])
    1.0
    >>> round(rand_score([0, 0, 1, 1], [0, 0, 0, 1]), 4)
    0.5
    """
    both, in_true, in_pred, total = _pair_counts(labels_true, labels_pred)
    if total == 0:
        return 1.0
    agree = total - in_true - in_pred + 2 * both  # together in both + apart in both
    return float(agree / total)


def adjusted_rand_score(labels_true: ArrayLike, labels_pred: ArrayLike) -> float:
    """Rand index corrected for chance (Hubert & Arabie 1985): 0 for random labels, 1 for a perfect match.

    ``ARI = (index - expected) / (max - expected)`` with ``index = Σ C(nᵢⱼ, 2)``,
    ``expected = Σ C(aᵢ, 2) Σ C(bⱼ, 2) / C(n, 2)`` and ``max = (Σ C(aᵢ, 2) + Σ C(bⱼ, 2)) / 2``.

    >>> adjusted_rand_score([0, 0, 1, 1], [1, 1, 0, 0])
    1.0
    >>> round(adjusted_rand_score([0, 0, 1, 2], [0, 0, 1, 1]), 4)
    0.5714
    """
    both, in_true, in_pred, total = _pair_counts(labels_true, labels_pred)
    if total == 0:
        return 1.0
    expected = in_true * in_pred / total
    maximum = (in_true + in_pred) / 2.0
    if maximum == expected:
        return 1.0
    return float((both - expected) / (maximum - expected))
