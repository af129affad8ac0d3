"""Lab 06's two-layer network as arrays: a sigmoid hidden layer and a softmax output, parameters in a dict.

What a learner's ``forward`` and ``backward`` are checked against: :func:`init_params` makes the parameters,
:func:`reference_network` is the same network in :mod:`labkit.nn` (its own backpropagation), and
:func:`numerical_gradients` the finite-difference gradient of the mean cross-entropy for each parameter. The
lab's checks use these, not helpers in the notebook, which a learner could redefine.

>>> import numpy as np
>>> p = init_params(3, 4, 2)
>>> sorted(p), p["W1"].shape, float(p["b2"].sum())
(['W1', 'W2', 'b1', 'b2'], (3, 4), 0.0)
>>> x, y = np.linspace(-1, 1, 6).reshape(2, 3), np.array([0, 1])
>>> _, grads = reference_network(p).loss_and_gradients(x, y)
>>> bool(np.allclose(grads[2], numerical_gradients(x, y, p)["W2"], atol=1e-8))
True
"""

from __future__ import annotations

import numpy as np

from labkit.nn.gradcheck import numerical_gradient
from labkit.nn.layers import Dense
from labkit.nn.model import Sequential

__all__ = ["init_params", "reference_network", "mean_cross_entropy", "numerical_gradients"]

NAMES = ("W1", "b1", "W2", "b2")


def init_params(d: int, h: int, k: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Small random weights (Glorot uniform, like Keras) and zero biases for d inputs, h hidden units, k classes."""
    r = np.random.default_rng(seed)
    lim1, lim2 = np.sqrt(6 / (d + h)), np.sqrt(6 / (h + k))
    return {"W1": r.uniform(-lim1, lim1, (d, h)), "b1": np.zeros(h),
            "W2": r.uniform(-lim2, lim2, (h, k)), "b2": np.zeros(k)}


def reference_network(params: dict[str, np.ndarray]) -> Sequential:
    """The same network in labkit.nn, holding copies of ``params`` (float64)."""
    d, h = params["W1"].shape
    net = Sequential([Dense(h, activation="sigmoid"), Dense(params["W2"].shape[1], activation="softmax")],
                     input_shape=(d,), dtype=np.float64)
    net.set_weights([np.array(params[name], dtype=np.float64) for name in NAMES])
    net.compile(loss="categorical_crossentropy")
    return net


def mean_cross_entropy(x, y, params: dict[str, np.ndarray]) -> float:
    """The mean cross-entropy of the network with ``params`` on integer labels ``y``, computed stably."""
    z1 = np.asarray(x, dtype=float) @ params["W1"] + params["b1"]
    h = np.exp(-np.logaddexp(0.0, -z1))  # the sigmoid, without overflow
    z2 = h @ params["W2"] + params["b2"]
    log_p = z2 - z2.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    return float(-np.mean(log_p[np.arange(len(y)), np.asarray(y)]))


def numerical_gradients(x, y, params: dict[str, np.ndarray], *, epsilon: float = 1e-5) -> dict[str, np.ndarray]:
    """Central differences of :func:`mean_cross_entropy` for each parameter, on copies of ``params``."""
    work = {name: np.array(params[name], dtype=np.float64) for name in NAMES}
    return {name: numerical_gradient(lambda _: mean_cross_entropy(x, y, work), work[name], epsilon=epsilon)
            for name in NAMES}
