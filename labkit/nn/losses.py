"""Cost functions: how far a network's output is from the target, averaged over a batch.

Each loss has ``__call__(y_true, y_pred) → float`` and ``gradient(y_true, y_pred)``, the derivative with respect
to ``y_pred``. The cross-entropies also have ``output_gradient(y_true, y_pred)``: the gradient with respect to
the *pre-activation* of a softmax (or sigmoid) output layer, which simplifies to ``(y_pred − y_true) / n`` and
never divides by a probability near 0: the stable path :class:`labkit.nn.Sequential` takes.
Probabilities are clipped to [ε, 1 − ε] with Keras's ε = 1e-7, as ``tf.keras.losses`` does.

>>> import numpy as np
>>> round(MeanSquaredError()(np.array([[1.0], [2.0]]), np.array([[1.5], [2.0]])), 6)
0.125
>>> p = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
>>> round(CategoricalCrossEntropy()(np.array([0, 1]), p), 6) == round(-(np.log(0.7) + np.log(0.8)) / 2, 6)
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["Loss", "MeanSquaredError", "BinaryCrossEntropy", "CategoricalCrossEntropy", "one_hot", "get", "LOSSES"]

EPSILON = 1e-7


def one_hot(labels: np.ndarray, n_classes: int, dtype=np.float64) -> np.ndarray:
    """Integer class labels ``(n,)`` → one-hot rows ``(n, n_classes)``.

    >>> one_hot(np.array([2, 0]), 3).tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"expected a 1-D array of integer class labels, got dtype {labels.dtype} and shape "
                         f"{labels.shape}.")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in 0…{n_classes - 1}, got {labels.min()}…{labels.max()}.")
    out = np.zeros((labels.size, n_classes), dtype=dtype)
    out[np.arange(labels.size), labels] = 1
    return out


def _targets(y_true, y_pred: np.ndarray) -> np.ndarray:
    """``y_true`` as an array shaped like ``y_pred``: integer labels become one-hot rows."""
    y_true = np.asarray(y_true)
    if y_true.ndim == 1 and y_pred.ndim == 2 and y_pred.shape[1] > 1 and np.issubdtype(y_true.dtype, np.integer):
        return one_hot(y_true, y_pred.shape[1], dtype=y_pred.dtype)
    if y_true.ndim == 1 and y_pred.ndim == 2 and y_pred.shape[1] == 1:
        y_true = y_true[:, None]
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but the predictions have shape {y_pred.shape}: pass "
                         f"one target per output (or integer class labels for a softmax output).")
    return y_true.astype(y_pred.dtype, copy=False)


class Loss:
    """Base class. ``name`` is the Keras name (``model.compile(loss=...)``)."""

    name = "loss"

    def __call__(self, y_true, y_pred) -> float:
        raise NotImplementedError

    def gradient(self, y_true, y_pred) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MeanSquaredError(Loss):
    """MSE = mean of (y − ŷ)² over outputs and samples; ∂/∂ŷ = 2(ŷ − y) / (number of entries)."""

    name = "mse"

    def __call__(self, y_true, y_pred):
        y_pred = np.asarray(y_pred)
        return float(np.mean((_targets(y_true, y_pred) - y_pred) ** 2))

    def gradient(self, y_true, y_pred):
        y_pred = np.asarray(y_pred)
        return 2 * (y_pred - _targets(y_true, y_pred)) / y_pred.size


class BinaryCrossEntropy(Loss):
    """−mean[y log p + (1 − y) log(1 − p)]: the loss of a sigmoid output for two classes. Like Keras, it clips
    p to [ε, 1 − ε] and adds ε inside each logarithm."""

    name = "binary_crossentropy"

    def __call__(self, y_true, y_pred):
        y_pred = np.asarray(y_pred)
        y, p = _targets(y_true, y_pred), np.clip(y_pred, EPSILON, 1 - EPSILON)
        return float(-np.mean(y * np.log(p + EPSILON) + (1 - y) * np.log(1 - p + EPSILON)))

    def gradient(self, y_true, y_pred):
        y_pred = np.asarray(y_pred)
        y, p = _targets(y_true, y_pred), np.clip(y_pred, EPSILON, 1 - EPSILON)
        inside = (y_pred > EPSILON) & (y_pred < 1 - EPSILON)  # the clip's gradient is 0 outside
        return inside * (-y / (p + EPSILON) + (1 - y) / (1 - p + EPSILON)) / y_pred.size

    def output_gradient(self, y_true, y_pred):
        """∂L/∂z for p = sigmoid(z): (p − y) / (number of entries)."""
        y_pred = np.asarray(y_pred)
        return (y_pred - _targets(y_true, y_pred)) / y_pred.size


class CategoricalCrossEntropy(Loss):
    """−mean over samples of Σ_k y_k log p_k: the loss of a softmax output. Takes one-hot rows or integer labels
    (what Keras splits into ``categorical_crossentropy`` and ``sparse_categorical_crossentropy``)."""

    name = "categorical_crossentropy"

    def __call__(self, y_true, y_pred):
        y_pred = np.asarray(y_pred)
        y, p = _targets(y_true, y_pred), np.clip(y_pred, EPSILON, 1 - EPSILON)
        if np.ndim(y_true) == y_pred.ndim - 1:
            # Keras's sparse loss takes a softmax of log(clipped p): the clipped rows are renormalised (a
            # difference of about 1e-8 when some probability is below ε)
            p = p / p.sum(axis=-1, keepdims=True)
        return float(-np.mean(np.sum(y * np.log(p), axis=-1)))

    def gradient(self, y_true, y_pred):
        y_pred = np.asarray(y_pred)
        y, p = _targets(y_true, y_pred), np.clip(y_pred, EPSILON, 1 - EPSILON)
        return -y / p * ((y_pred > EPSILON) & (y_pred < 1 - EPSILON)) / len(y_pred)

    def output_gradient(self, y_true, y_pred):
        """∂L/∂z for p = softmax(z): (p − y) / n."""
        y_pred = np.asarray(y_pred)
        return (y_pred - _targets(y_true, y_pred)) / len(y_pred)


LOSSES: dict[str, type[Loss]] = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "binary_crossentropy": BinaryCrossEntropy,
    "categorical_crossentropy": CategoricalCrossEntropy, "sparse_categorical_crossentropy": CategoricalCrossEntropy,
}


def get(loss: str | Loss) -> Loss:
    """A loss from its Keras name or an instance."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss in LOSSES:
        return LOSSES[loss]()
    raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(LOSSES)} or pass a Loss.")
