"""Gradient checking: compare backpropagation's gradients with finite differences.

The central difference (f(w + ε) − f(w − ε)) / 2ε approximates ∂f/∂w with an error of order ε², so a correct
backward pass agrees with it to about 1e-7 relative error in float64; a wrong one is off by order 1.
The relative error of two gradients ``a`` and ``n`` is ‖a − n‖ / (‖a‖ + ‖n‖), with Euclidean norms over the
whole array, so entries that are 0 in both do not blow it up.

>>> import numpy as np
>>> g = numerical_gradient(lambda w: float(np.sum(w ** 3)), np.array([1.0, 2.0]))
>>> np.round(g, 6).tolist()   # d/dw w³ = 3w²
[3.0, 12.0]
>>> relative_error(np.array([3.0, 12.0]), g) < 1e-8
True
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["numerical_gradient", "relative_error", "gradient_check"]


def numerical_gradient(f: Callable[[np.ndarray], float], w: np.ndarray, *, epsilon: float = 1e-5,
                       indices: np.ndarray | None = None) -> np.ndarray:
    """Central-difference gradient of the scalar ``f`` at ``w``; ``w`` is perturbed in place and restored.

    With ``indices`` (positions in ``w.reshape(-1)``) only those entries are computed and returned, flat.
    """
    if not np.issubdtype(w.dtype, np.floating):
        raise TypeError(f"w must be a float array, got {w.dtype}.")
    flat = w.reshape(-1)
    if not np.shares_memory(flat, w):
        raise ValueError("w must be contiguous so it can be perturbed in place.")
    picks = np.arange(flat.size) if indices is None else np.asarray(indices)
    out = np.empty(len(picks))
    for k, i in enumerate(picks):
        old = flat[i]
        flat[i] = old + epsilon
        plus = f(w)
        flat[i] = old - epsilon
        minus = f(w)
        flat[i] = old
        out[k] = (plus - minus) / (2 * epsilon)
    return out.reshape(w.shape) if indices is None else out


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """‖a − b‖ / (‖a‖ + ‖b‖), 0 when both are 0."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / scale) if scale > 0 else 0.0


def gradient_check(model, x, y, *, epsilon: float = 1e-5, max_entries: int | None = 200,
                   seed: int = 0) -> list[float]:
    """Relative error between ``model``'s backpropagated and numerical gradients, one number per parameter array.

    ``model`` is a compiled :class:`labkit.nn.Sequential`, best in float64 (``dtype=np.float64``). Checks at
    most ``max_entries`` randomly chosen entries of each array (all with ``None``). Dropout is off.
    """
    if np.dtype(model.dtype) != np.float64:
        raise ValueError("gradient checking needs float64 precision: build the model with dtype=np.float64.")
    _, grads = model.loss_and_gradients(x, y)
    grads = [g.copy() for g in grads]
    rng = np.random.default_rng(seed)
    errors = []
    for param, grad in zip(model.parameters(), grads, strict=True):
        flat, gflat = param.reshape(-1), grad.reshape(-1)
        picks = np.arange(flat.size) if max_entries is None or flat.size <= max_entries else \
            rng.choice(flat.size, max_entries, replace=False)
        numeric = numerical_gradient(lambda _: model.loss(y, model.forward(x)), param, epsilon=epsilon,
                                     indices=picks)
        errors.append(relative_error(gflat[picks], numeric))
    return errors
