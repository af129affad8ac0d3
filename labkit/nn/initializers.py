"""Weight initialisers, as Keras names them. The scale matters: too large and sigmoid/tanh units saturate from
the first step, too small and the signal (and the gradient) fades layer by layer.

* ``glorot_uniform`` (Keras's default): U(−l, l) with l = √(6 / (fan_in + fan_out)), for sigmoid/tanh.
* ``he_normal``: truncated N(0, 2 / fan_in) as Keras draws it, for ReLU.
* ``orthogonal`` (Keras's default for recurrent kernels): rows or columns orthonormal, so repeated
  multiplication by the matrix neither shrinks nor grows a state at first.
* ``zeros`` for biases.

>>> import numpy as np
>>> w = get("glorot_uniform")((784, 256), np.random.default_rng(0))
>>> bool(np.abs(w).max() <= np.sqrt(6 / (784 + 256)))
True
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["fans", "glorot_uniform", "he_normal", "orthogonal", "zeros", "get"]

Initializer = Callable[[tuple[int, ...], np.random.Generator], np.ndarray]


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a dense kernel ``(in, out)`` or a conv kernel ``(kh, kw, in, out)``, as in Keras."""
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


def glorot_uniform(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Glorot & Bengio (2010): keeps the variance of activations and gradients about constant across layers."""
    fan_in, fan_out = fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


def he_normal(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """He et al. (2015): variance 2 / fan_in for ReLU, drawn truncated at 2σ as Keras does."""
    fan_in, _ = fans(shape)
    std = np.sqrt(2.0 / fan_in) / 0.87962566103423978  # std of a unit normal truncated at ±2
    out = rng.normal(0.0, std, size=shape)
    bad = np.abs(out) > 2 * std
    while bad.any():
        out[bad] = rng.normal(0.0, std, size=int(bad.sum()))
        bad = np.abs(out) > 2 * std
    return out


def orthogonal(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Saxe et al. (2014), drawn as Keras does: the Q of a QR decomposition of a normal matrix, signs fixed by R's
    diagonal; for a wide ``(rows, cols)`` matrix the rows are orthonormal."""
    rows, cols = int(np.prod(shape[:-1])), shape[-1]
    a = rng.normal(size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    return np.ascontiguousarray(q.T if rows < cols else q).reshape(shape)


def zeros(shape: tuple[int, ...], rng: np.random.Generator | None = None) -> np.ndarray:
    """All zeros (biases)."""
    return np.zeros(shape)


INITIALIZERS: dict[str, Initializer] = {"glorot_uniform": glorot_uniform, "he_normal": he_normal,
                                        "orthogonal": orthogonal, "zeros": zeros}


def get(initializer: str | Initializer) -> Initializer:
    """An initialiser from its Keras name or a callable ``(shape, rng) → array``."""
    if callable(initializer):
        return initializer
    if initializer in INITIALIZERS:
        return INITIALIZERS[initializer]
    raise ValueError(f"unknown initializer {initializer!r}; choose one of {sorted(INITIALIZERS)} or pass a "
                     f"callable (shape, rng) -> array.")
