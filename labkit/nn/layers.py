"""Layers: each one maps a batch forward and sends the gradient backward (backpropagation, one layer at a time).

A layer is built once for its input shape (``build``), then ``forward(x, training=...)`` caches what the
backward pass needs and ``backward(grad)`` takes ∂L/∂output, stores ∂L/∂parameter in ``grads`` and returns
∂L/∂input: the backward phase from layer k + 1 to layer k. Shapes follow Keras: a batch is the first axis and
images are ``(n, height, width, channels)``.

>>> import numpy as np
>>> dense = Dense(3, activation="relu")
>>> dense.build((4,), np.random.default_rng(0))
(3,)
>>> x = np.ones((2, 4))
>>> dense.forward(x).shape, dense.backward(np.ones((2, 3))).shape, dense.grads["kernel"].shape
((2, 3), (2, 4), (4, 3))
>>> dense.count_params()   # 4 × 3 weights + 3 biases
15
"""

from __future__ import annotations

import numpy as np

from labkit.nn import activations
from labkit.nn import initializers as inits

__all__ = ["Layer", "Dense", "Activation", "Flatten", "Dropout"]


class Layer:
    """Base class. ``params`` and ``grads`` map names (``"kernel"``, ``"bias"``) to arrays of the same shape."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.input_shape: tuple[int, ...] | None = None
        self.output_shape: tuple[int, ...] | None = None
        self.trainable = True

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator, dtype=np.float64) -> tuple[int, ...]:
        """Create the parameters for inputs of shape ``input_shape`` (no batch axis); return the output shape."""
        self.input_shape = tuple(input_shape)
        self.output_shape = self._output_shape(self.input_shape)
        return self.output_shape

    def _output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def count_params(self) -> int:
        """Number of scalar parameters."""
        return int(sum(p.size for p in self.params.values()))

    def _check_input(self, x: np.ndarray) -> None:
        if self.input_shape is not None and x.shape[1:] != self.input_shape:
            raise ValueError(f"{type(self).__name__} was built for inputs of shape {(None, *self.input_shape)} "
                             f"but got {x.shape}.")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Dense(Layer):
    """A fully connected layer: ``y = ψ(x W + b)``, every input unit wired to each of ``units`` neurons.

    ``W`` is ``(inputs, units)`` and ``b`` is ``(units,)``; parameters: inputs × units + units.
    Backward: ∂L/∂W = xᵀ δ, ∂L/∂b = Σ δ over the batch and ∂L/∂x = δ Wᵀ, where δ = ∂L/∂(xW + b).
    """

    def __init__(self, units: int, activation: str | activations.Activation | None = None, *,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", use_bias: bool = True):
        super().__init__()
        if int(units) != units or units < 1:
            raise ValueError(f"units must be a positive integer, got {units!r}.")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.kernel_initializer = inits.get(kernel_initializer)
        self.bias_initializer = inits.get(bias_initializer)
        self.use_bias = use_bias

    def build(self, input_shape, rng, dtype=np.float64):
        if len(input_shape) != 1:
            raise ValueError(f"Dense takes flat inputs (n, features) but was given shape {(None, *input_shape)}; "
                             f"put a Flatten() layer before it.")
        self.params["kernel"] = self.kernel_initializer((input_shape[0], self.units), rng).astype(dtype)
        if self.use_bias:
            self.params["bias"] = self.bias_initializer((self.units,), rng).astype(dtype)
        return super().build(input_shape, rng, dtype)

    def _output_shape(self, input_shape):
        return (self.units,)

    def forward(self, x, *, training=False):
        self._check_input(x)
        z = x @ self.params["kernel"]
        if self.use_bias:
            z = z + self.params["bias"]
        y = self.activation(z)
        self._cache = (x, z, y)
        return y

    def backward(self, grad, *, pre_activation: bool = False):
        """``pre_activation=True``: ``grad`` is already ∂L/∂z (a fused softmax + cross-entropy output)."""
        x, z, y = self._cache
        delta = grad if pre_activation else self.activation.vjp(z, y, grad)
        self.grads["kernel"] = x.T @ delta
        if self.use_bias:
            self.grads["bias"] = delta.sum(axis=0)
        return delta @ self.params["kernel"].T

    def __repr__(self):
        return f"Dense({self.units}, activation={self.activation.name!r})"


class Activation(Layer):
    """An activation on its own, like ``keras.layers.Activation``."""

    def __init__(self, activation: str | activations.Activation):
        super().__init__()
        self.activation = activations.get(activation)

    def forward(self, x, *, training=False):
        y = self.activation(x)
        self._cache = (x, y)
        return y

    def backward(self, grad, *, pre_activation: bool = False):
        if pre_activation:
            return grad
        x, y = self._cache
        return self.activation.vjp(x, y, grad)

    def __repr__(self):
        return f"Activation({self.activation.name!r})"


class Flatten(Layer):
    """Reshape each sample to a vector: ``(n, h, w, c)`` → ``(n, h·w·c)``, row-major like Keras."""

    def _output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x, *, training=False):
        self._shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, grad):
        return grad.reshape(self._shape)


class Dropout(Layer):
    """Inverted dropout: while training, zero each unit with probability ``rate`` and scale the rest by
    1 / (1 − rate), so nothing changes at inference. A regulariser: no unit can rely on one other."""

    def __init__(self, rate: float, *, seed: int | None = None):
        super().__init__()
        if not 0 <= rate < 1:
            raise ValueError(f"rate must be in [0, 1), got {rate!r}.")
        self.rate = float(rate)
        self.seed = seed

    def build(self, input_shape, rng, dtype=np.float64):
        self._rng = np.random.default_rng(self.seed) if self.seed is not None else rng
        return super().build(input_shape, rng, dtype)

    def forward(self, x, *, training=False):
        if not training or self.rate == 0:
            self._mask = None
            return x
        rng = getattr(self, "_rng", None) or np.random.default_rng(self.seed)
        self._mask = (rng.random(x.shape) >= self.rate).astype(x.dtype) / (1 - self.rate)
        return x * self._mask

    def backward(self, grad):
        return grad if self._mask is None else grad * self._mask

    def __repr__(self):
        return f"Dropout({self.rate:g})"
