"""Shapley values: each feature's share of one prediction, exactly or by KernelSHAP.

Explain the prediction ``f(x)`` against a *background* sample (the data the model usually sees). For a set ``S``
of features, ``v(S)`` is the model's mean prediction when the features in ``S`` take ``x``'s values and the others
keep the background rows' values; ``v(∅)`` is the mean prediction over the background, ``v(all) = f(x)``. A
feature's **Shapley value** is its marginal contribution ``v(S ∪ {i}) − v(S)`` averaged over every order in which
the features could be added:

    φ_i = Σ_{S ⊆ N∖{i}}  |S|! (M − |S| − 1)! / M!  ·  (v(S ∪ {i}) − v(S))

The values add up: ``v(∅) + Σ φ_i = f(x)`` (efficiency), a feature the model ignores gets 0, and for a linear
model ``φ_i = w_i (x_i − mean of feature i)``. :func:`exact_shapley` is that formula. **KernelSHAP** (Lundberg and
Lee, 2017) gets the same numbers from a weighted linear regression of ``v(S)`` on which features are in ``S``,
coalitions of size ``s`` weighted ``(M − 1) / (C(M, s) · s · (M − s))``: with every coalition the regression is
exact; with a sample of coalitions (:func:`kernel_shap`'s ``n_coalitions``) it is an estimate whose cost no longer
doubles with each feature.

>>> import numpy as np
>>> background = np.array([[0.0, 0.0, 0.0], [2.0, 4.0, 6.0]])     # feature means 1, 2, 3
>>> predict = lambda X: X @ np.array([1.0, -2.0, 0.0])
>>> x = np.array([[3.0, 1.0, 9.0]])
>>> exact_shapley(predict, x, background).values.tolist()          # w · (x − mean): 1·2, −2·(−1), 0
[2.0, 2.0, 0.0]
>>> (np.round(kernel_shap(predict, x, background).values, 10) + 0.0).tolist()
[2.0, 2.0, 0.0]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from labkit._validation import check_int
from labkit.explain._data import as_table, blend, feature_names, n_features, take_rows

MAX_EXACT_FEATURES = 12  # 2^12 coalitions × the background: beyond that, sample coalitions


@dataclass(frozen=True)
class Explanation:
    """One prediction split into ``base_value`` (the mean prediction over the background) plus one ``values``
    entry per feature; ``base_value + values.sum()`` is the prediction."""

    names: list[str]
    base_value: float
    values: np.ndarray

    @property
    def prediction(self) -> float:
        return float(self.base_value + self.values.sum())


def _one_row(x: Any, background: Any) -> tuple[Any, Any]:
    background = as_table("background", background)
    x = as_table("x", x if hasattr(x, "iloc") or np.ndim(x) == 2 else np.asarray(x)[None, :])
    if len(x) != 1 or n_features(x) != n_features(background):
        raise ValueError(f"x must be one row with the background's {n_features(background)} features, got shape "
                         f"{tuple(x.shape)}.")
    return x, background


def coalition_values(predict: Callable[[Any], Any], x: Any, background: Any, masks: np.ndarray) -> np.ndarray:
    """``v(S)`` for each coalition ``S`` (a row of ``masks``): the mean prediction over the background with the
    features in ``S`` set to ``x``'s. One call of ``predict`` for all coalitions."""
    predictions = np.asarray(predict(blend(x, background, masks)), dtype=float).reshape(len(masks), len(background))
    return predictions.mean(axis=1)


def shapley_from_value(value: Callable[[frozenset[int]], float], m: int) -> np.ndarray:
    """The Shapley values of ``m`` players under the value function ``value`` (a number for each frozenset of
    player numbers ``0 … m−1``), by the subset formula.

    >>> shapley_from_value(lambda s: 1.0 if {0, 1} <= s else 0.0, 3).tolist()   # 0 and 1 only win together
    [0.5, 0.5, 0.0]
    """
    m = check_int("m", m)
    if m > MAX_EXACT_FEATURES:
        raise ValueError(f"{m} players make 2^{m} coalitions: too many for the subset formula.")
    values = {frozenset(c): float(value(frozenset(c))) for size in range(m + 1)
              for c in itertools.combinations(range(m), size)}
    phi = np.zeros(m)
    for coalition, v in values.items():
        weight = math.factorial(len(coalition)) * math.factorial(m - len(coalition) - 1) / math.factorial(m) \
            if len(coalition) < m else 0.0
        for i in set(range(m)) - coalition:
            phi[i] += weight * (values[coalition | {i}] - v)
    return phi


def exact_shapley(predict: Callable[[Any], Any], x: Any, background: Any) -> Explanation:
    """Shapley values by the subset formula: every coalition's value (one ``predict`` call for all of them),
    every feature's weighted marginal contributions. ``2^M`` coalitions, so for a few features only."""
    x, background = _one_row(x, background)
    m = n_features(background)
    if m > MAX_EXACT_FEATURES:
        raise ValueError(f"{m} features make 2^{m} coalitions: use kernel_shap(..., n_coalitions=…) instead.")
    masks = np.array(list(itertools.product([False, True], repeat=m)))
    found = coalition_values(predict, x, background, masks)
    value = {frozenset(np.flatnonzero(mask).tolist()): v for mask, v in zip(masks, found, strict=True)}
    return Explanation(feature_names(background), float(value[frozenset()]), shapley_from_value(value.__getitem__, m))


def kernel_weight(m: int, size: int) -> float:
    """KernelSHAP's weight of a coalition of ``size`` of ``m`` features (infinite for the empty and full ones,
    which the regression's constraints take care of).

    >>> kernel_weight(4, 1), kernel_weight(4, 2)
    (0.25, 0.125)
    """
    if size in (0, m):
        return math.inf
    return (m - 1) / (math.comb(m, size) * size * (m - size))


def _sampled_masks(m: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` coalitions drawn as KernelSHAP weighs them: a size with probability proportional to its total
    weight, then a uniform subset of that size. Each then carries weight 1 in the regression."""
    sizes = np.arange(1, m)
    total = np.array([kernel_weight(m, s) * math.comb(m, s) for s in sizes])
    masks = np.zeros((count, m), dtype=bool)
    for row, size in zip(masks, rng.choice(sizes, size=count, p=total / total.sum()), strict=True):
        row[rng.choice(m, size=size, replace=False)] = True
    return masks


def kernel_shap(predict: Callable[[Any], Any], x: Any, background: Any, *, n_coalitions: int | None = None,
                seed: int | None = None) -> Explanation:
    """Shapley values of ``predict`` at ``x`` by KernelSHAP's weighted regression.

    With ``n_coalitions=None`` every coalition is used (exact, up to :data:`MAX_EXACT_FEATURES` features);
    otherwise that many are sampled. The regression is solved with the efficiency constraint built in, so the
    values always add up to the prediction.
    """
    x, background = _one_row(x, background)
    m = n_features(background)
    ends = np.array([[False] * m, [True] * m])
    base, full = coalition_values(predict, x, background, ends)
    if m == 1:
        return Explanation(feature_names(background), float(base), np.array([full - base]))
    if n_coalitions is None:
        if m > MAX_EXACT_FEATURES:
            raise ValueError(f"{m} features make 2^{m} coalitions: pass n_coalitions (e.g. 2048) to sample them.")
        masks = np.array([mask for mask in itertools.product([False, True], repeat=m) if 0 < sum(mask) < m])
        weights = np.array([kernel_weight(m, int(mask.sum())) for mask in masks])
    else:
        masks = _sampled_masks(m, check_int("n_coalitions", n_coalitions, minimum=2), np.random.default_rng(seed))
        weights = np.ones(len(masks))
    values = coalition_values(predict, x, background, masks)
    # φ_last = (full − base) − Σ other φ: regress what is left on (z_i − z_last) for the other features
    z = masks.astype(float)
    target = values - base - z[:, -1] * (full - base)
    design = z[:, :-1] - z[:, -1:]
    root = np.sqrt(weights)[:, None]
    head, *_ = np.linalg.lstsq(design * root, target * root[:, 0], rcond=None)
    return Explanation(feature_names(background), float(base), np.append(head, (full - base) - head.sum()))


def background_sample(X: Any, size: int = 50, seed: int | None = 0) -> Any:
    """``size`` rows of ``X`` drawn without replacement: the background a Shapley explanation averages over.

    >>> background_sample(np.arange(20).reshape(10, 2), size=3).shape
    (3, 2)
    """
    X = as_table("X", X)
    size = min(check_int("size", size), len(X))
    return take_rows(X, np.random.default_rng(seed).choice(len(X), size=size, replace=False))
