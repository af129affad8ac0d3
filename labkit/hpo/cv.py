"""k-fold cross-validation: every sample is validated on exactly once.

With ``train/test`` you tune on one split and can get lucky; k-fold splits the data into ``k`` folds, trains ``k``
times on ``k − 1`` folds and validates on the held-out one, and reports the mean (and spread) of the ``k`` scores.
Folds follow scikit-learn's ``KFold``: the first ``n mod k`` folds get one extra sample.

>>> [test.tolist() for _, test in kfold_indices(5, 2)]
[[0, 1, 2], [3, 4]]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np


def kfold_indices(n_samples: int, n_splits: int = 5, *, shuffle: bool = False, seed: int | None = None
                  ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(train_indices, test_indices)`` for each of ``n_splits`` folds."""
    if not isinstance(n_splits, int) or n_splits < 2:
        raise ValueError(f"n_splits must be an integer ≥ 2, got {n_splits!r}.")
    if not isinstance(n_samples, int) or n_samples < n_splits:
        raise ValueError(f"need at least n_splits={n_splits} samples, got {n_samples!r}.")
    order = np.random.default_rng(seed).permutation(n_samples) if shuffle else np.arange(n_samples)
    sizes = np.full(n_splits, n_samples // n_splits)
    sizes[: n_samples % n_splits] += 1
    start = 0
    for size in sizes:
        test = order[start:start + size]
        yield np.concatenate([order[:start], order[start + size:]]), test
        start += size


def cross_val_scores(make_model: Callable[[], object], x: np.ndarray, y: np.ndarray, *, n_splits: int = 5,
                     score: Callable[[np.ndarray, np.ndarray], float], shuffle: bool = True, seed: int | None = 0
                     ) -> np.ndarray:
    """Fit a fresh ``make_model()`` on each fold's training part and ``score(y_true, y_pred)`` its test part."""
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)}.")
    scores = []
    for train, test in kfold_indices(len(x), n_splits, shuffle=shuffle, seed=seed):
        model = make_model()
        model.fit(x[train], y[train])
        scores.append(float(score(y[test], model.predict(x[test]))))
    return np.array(scores)
