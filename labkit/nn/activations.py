"""Activation functions ψ and their derivatives, the non-linearities that make a network more than a linear map.

Each activation is an object with ``__call__(x)`` (the forward value) and ``vjp(x, y, grad)``: the gradient
of the loss with respect to ``x`` given the gradient ``grad`` with respect to ``y = ψ(x)``. For the element-wise
ones that is ``grad * ψ'(x)``, with ``ψ'`` available as ``derivative(x)``; softmax couples a row's outputs and
uses its full Jacobian. Formulas follow Keras 2 (``tf.keras.activations``), which the tests check against.

>>> import numpy as np
>>> x = np.array([-2.0, 0.0, 2.0])
>>> np.round(get("sigmoid")(x), 4).tolist(), get("sigmoid").derivative(np.array([0.0])).tolist()
([0.1192, 0.5, 0.8808], [0.25])
>>> get("relu")(x).tolist(), get("leaky_relu")(x).tolist()
([0.0, 0.0, 2.0], [-0.6, 0.0, 2.0])
>>> float(get("softmax")(np.array([[1.0, 1.0]])).sum())
1.0
"""

from __future__ import annotations

import numpy as np

__all__ = ["Activation", "Linear", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "Softmax", "get", "ACTIVATIONS"]


class Activation:
    """Base class: an element-wise activation overrides ``__call__`` and ``derivative``."""

    name = "activation"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def derivative(self, x: np.ndarray) -> np.ndarray:
        """ψ'(x), element-wise."""
        raise NotImplementedError

    def vjp(self, x: np.ndarray, y: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """∂L/∂x from ∂L/∂y (``grad``); ``y`` is ``self(x)``, passed so no activation computes it twice."""
        return grad * self.derivative(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Linear(Activation):
    """ψ(x) = x, the identity (a regression output)."""

    name = "linear"

    def __call__(self, x):
        return x

    def derivative(self, x):
        return np.ones_like(x)

    def vjp(self, x, y, grad):
        return grad


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of a non-positive number never overflows: use 1/(1+e^-x) for x ≥ 0 and e^x/(1+e^x) otherwise
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


class Sigmoid(Activation):
    """ψ(x) = 1 / (1 + e^−x); ψ' = ψ(1 − ψ) ≤ 1/4, and near 0 once |x| is large: it *saturates*."""

    name = "sigmoid"

    def __call__(self, x):
        return _sigmoid(x)

    def derivative(self, x):
        s = _sigmoid(x)
        return s * (1 - s)

    def vjp(self, x, y, grad):
        return grad * y * (1 - y)


class Tanh(Activation):
    """ψ(x) = tanh x, zero-centred with range (−1, 1); ψ' = 1 − ψ² (1 at 0, saturating like the sigmoid)."""

    name = "tanh"

    def __call__(self, x):
        return np.tanh(x)

    def derivative(self, x):
        return 1 - np.tanh(x) ** 2

    def vjp(self, x, y, grad):
        return grad * (1 - y * y)


class ReLU(Activation):
    """ψ(x) = max(0, x); ψ' is 1 for x > 0 and 0 otherwise (TensorFlow's convention at 0): no saturation for x > 0."""

    name = "relu"

    def __call__(self, x):
        return np.maximum(x, 0)

    def derivative(self, x):
        return (x > 0).astype(x.dtype)


class LeakyReLU(Activation):
    """ψ(x) = x for x > 0, αx otherwise (Keras's default α = 0.3): a small slope keeps "dead" units learning."""

    name = "leaky_relu"

    def __init__(self, alpha: float = 0.3):
        self.alpha = float(alpha)

    def __call__(self, x):
        return np.where(x > 0, x, self.alpha * x)

    def derivative(self, x):
        return np.where(x > 0, 1.0, self.alpha).astype(x.dtype)

    def __repr__(self):
        return f"LeakyReLU(alpha={self.alpha:g})"


class ELU(Activation):
    """ψ(x) = x for x > 0, α(e^x − 1) otherwise (α = 1): smooth, negative outputs push mean activations to 0."""

    name = "elu"

    def __init__(self, alpha: float = 1.0):
        self.alpha = float(alpha)

    def __call__(self, x):
        return np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0)))

    def derivative(self, x):
        return np.where(x > 0, 1.0, self.alpha * np.exp(np.minimum(x, 0))).astype(x.dtype)

    def __repr__(self):
        return f"ELU(alpha={self.alpha:g})"


class Softmax(Activation):
    """softmax(x)_i = e^{x_i} / Σ_j e^{x_j} over the last axis, computed stably by subtracting the row maximum.

    Its outputs are a probability distribution; the Jacobian is diag(y) − y yᵀ, so the vector–Jacobian
    product is ``y * (grad − Σ grad·y)``.
    """

    name = "softmax"

    def __call__(self, x):
        z = x - x.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)

    def derivative(self, x):
        raise TypeError("softmax is not element-wise: its derivative is a Jacobian; use vjp(x, y, grad).")

    def vjp(self, x, y, grad):
        return y * (grad - (grad * y).sum(axis=-1, keepdims=True))


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Linear, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, Softmax)
}


def get(activation: str | Activation | None) -> Activation:
    """An activation from its Keras name (``"relu"``, ``"sigmoid"``, …), an instance, or ``None`` (linear)."""
    if activation is None:
        return Linear()
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str) and activation in ACTIVATIONS:
        return ACTIVATIONS[activation]()
    raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)} or pass an Activation.")
