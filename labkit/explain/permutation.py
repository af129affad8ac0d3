"""Permutation importance: how much a model's score falls when one feature's values are shuffled.

Shuffling a column keeps its distribution but breaks its link with the target (and with the other features). A
model that relies on the feature scores worse; a model that ignores it scores exactly the same. The drop,
averaged over a few shuffles, is the feature's importance. It needs only ``predict`` and held-out data, so it
works for any model, and it measures what the model *uses*, not what is true about the world: of two correlated
features, the model may lean on one and the other then looks unimportant.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(500, 3))
>>> y = (X[:, 0] > 0).astype(int)                       # only the first feature matters
>>> predict = lambda X: (X[:, 0] > 0).astype(int)
>>> accuracy = lambda y, p: float(np.mean(y == p))
>>> imp = permutation_importance(predict, X, y, accuracy, n_repeats=5, seed=0)
>>> bool(imp.mean[0] > 0.4), imp.mean[1:].tolist()
(True, [0.0, 0.0])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from labkit._validation import check_int
from labkit.explain._data import as_table, feature_names, n_features, with_column
from labkit.explain._data import column as column_values


@dataclass(frozen=True)
class Importances:
    """Score drops per feature: ``repeats[j, r]`` for shuffle ``r`` of feature ``j``, their ``mean`` and ``std``."""

    names: list[str]
    baseline: float
    repeats: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        return self.repeats.mean(axis=1)

    @property
    def std(self) -> np.ndarray:
        return self.repeats.std(axis=1)

    def table(self) -> pd.DataFrame:
        """The features, most important first."""
        frame = pd.DataFrame({"feature": self.names, "importance": self.mean, "std": self.std})
        return frame.sort_values("importance", ascending=False, ignore_index=True)


def score_drop(predict: Callable[[Any], Any], X: Any, y: Any, score: Callable[[Any, Any], float], column: int,
               order: Any, *, baseline: float | None = None) -> float:
    """How much ``score(y, predict(X))`` falls when column ``column`` of ``X`` takes its values in ``order`` (a
    permutation of the row numbers); pass ``baseline`` to skip scoring the untouched ``X`` again.

    >>> X = np.array([[0.0, 5.0], [1.0, 5.0], [2.0, 5.0]])
    >>> neg_mse = lambda y, p: -float(np.mean((np.asarray(y) - p) ** 2))
    >>> score_drop(lambda X: X[:, 0], X, [0, 1, 2], neg_mse, 0, [2, 1, 0])   # (4 + 0 + 4) / 3
    2.6666666666666665
    """
    X = as_table("X", X)
    if baseline is None:
        baseline = float(score(y, predict(X)))
    shuffled = with_column(X, column, column_values(X, column)[np.asarray(order)])
    return baseline - float(score(y, predict(shuffled)))


def permutation_importance(predict: Callable[[Any], Any], X: Any, y: Any, score: Callable[[Any, Any], float], *,
                           n_repeats: int = 5, seed: int | None = None) -> Importances:
    """The drop in ``score(y, predict(X))`` when each feature of ``X`` is shuffled, ``n_repeats`` times each.

    ``score`` is higher-is-better (accuracy, R², AUC); for a loss pass its negative. ``X`` is a 2-D array or a
    DataFrame (given to ``predict`` as it is, so a pipeline that selects columns by name works).
    """
    X = as_table("X", X)
    n_repeats = check_int("n_repeats", n_repeats)
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}: pass the labels of the same rows.")
    rng = np.random.default_rng(seed)
    baseline = float(score(y, predict(X)))
    drops = np.empty((n_features(X), n_repeats))
    for j in range(n_features(X)):
        for r in range(n_repeats):
            drops[j, r] = score_drop(predict, X, y, score, j, rng.permutation(len(X)), baseline=baseline)
    return Importances(feature_names(X), baseline, drops)
