"""LIME: explain one prediction by a simple model that imitates the complex one near it.

Ribeiro, Singh and Guestrin (2016): draw samples around the instance ``x`` (here, each feature moved by a
normal draw scaled to its spread in the data), ask the model about each, weight the samples by how close they
stay to ``x`` (an exponential kernel on the standardised distance), and fit a weighted linear regression. Its
coefficients say how the prediction moves per standard deviation of each feature *near x*; its weighted R² says
how well a straight line describes the model there. For a linear model the coefficients are exactly its weights
times the features' spreads.

>>> import numpy as np
>>> data = np.random.default_rng(0).normal(size=(500, 2)) * [1.0, 3.0]
>>> local = lime_tabular(lambda X: X @ np.array([2.0, -1.0]), data[:1], data, seed=0)
>>> np.round(local.coefficients / local.scale, 6).tolist()        # back to the model's own weights
[2.0, -1.0]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from labkit._validation import check_int, check_number, check_numeric


@dataclass(frozen=True)
class LocalExplanation:
    """A weighted linear fit of the model around one instance: ``intercept + coefficients · (z − x) / scale``,
    and how well it fits there (weighted R²)."""

    names: list[str]
    intercept: float
    coefficients: np.ndarray
    scale: np.ndarray
    r2: float


def lime_tabular(predict: Callable[[np.ndarray], Any], x: Any, data: Any, *, n_samples: int = 2000,
                 kernel_width: float | None = None, ridge: float = 1e-6, seed: int | None = None,
                 names: list[str] | None = None) -> LocalExplanation:
    """Explain ``predict`` (numeric features in, one number per row out) at the single row ``x``, with the
    features' spreads taken from ``data``; ``kernel_width`` defaults to LIME's 0.75 × √(number of features)."""
    data = check_numeric("data", data, ndim=2)
    x = check_numeric("x", x, ndim=2)
    if x.shape != (1, data.shape[1]):
        raise ValueError(f"x must be one row of {data.shape[1]} features, got shape {x.shape}.")
    n_samples = check_int("n_samples", n_samples, minimum=data.shape[1] + 2)
    m = data.shape[1]
    width = check_number("kernel_width", kernel_width) if kernel_width is not None else 0.75 * np.sqrt(m)
    scale = data.std(axis=0)
    scale[scale == 0] = 1.0
    rng = np.random.default_rng(seed)
    steps = rng.normal(size=(n_samples, m))  # in standard deviations
    samples = x + steps * scale
    target = np.asarray(predict(samples), dtype=float).reshape(-1)
    weights = np.exp(-np.sum(steps ** 2, axis=1) / width ** 2)
    design = np.column_stack([np.ones(n_samples), steps])
    root = np.sqrt(weights)
    penalty = np.sqrt(ridge) * np.eye(m + 1)[1:]  # ridge on the slopes, not on the intercept
    solution, *_ = np.linalg.lstsq(np.vstack([design * root[:, None], penalty]),
                                   np.concatenate([target * root, np.zeros(m)]), rcond=None)
    fitted = design @ solution
    mean = np.average(target, weights=weights)
    total = np.sum(weights * (target - mean) ** 2)
    r2 = 1.0 - np.sum(weights * (target - fitted) ** 2) / total if total > 0 else 1.0
    return LocalExplanation(names or [f"x{j}" for j in range(m)], float(solution[0]), solution[1:], scale, float(r2))
