"""The first neurons: McCulloch–Pitts threshold units, Rosenblatt's perceptron and its learning rule.

A neuron computes a weighted sum of its inputs, u = Σ wᵢ xᵢ, adds a bias b and applies an activation ψ:
y = ψ(u + b). With the step function ψ(v) = 1 if v ≥ 0 else 0 this is Rosenblatt's perceptron; its learning
rule nudges the weights towards every misclassified example, w ← w + η (t − y) x and b ← b + η (t − y),
and stops when an epoch passes with no error. On linearly separable data it always stops (Novikoff: after at
most (R/γ)² updates); on XOR it never does, because no single line separates XOR's classes.

The course's AND gate as a sigmoid neuron, weights −30 (bias), 20, 20:

>>> import numpy as np
>>> x, t = logic_gate("and")
>>> np.round(sigmoid_neuron(x, weights=[20, 20], bias=-30), 4).tolist()   # f(−30), f(−10), f(−10), f(10)
[0.0, 0.0, 0.0, 1.0]
>>> Perceptron().fit(x, t).predict(x).tolist() == t.tolist()
True
>>> Perceptron(max_epochs=50).fit(*logic_gate("xor")).converged_
False
"""

from __future__ import annotations

import numpy as np

from labkit.nn.activations import Sigmoid

__all__ = ["step", "threshold_unit", "sigmoid_neuron", "logic_gate", "Perceptron"]

GATES = {"and": [0, 0, 0, 1], "or": [0, 1, 1, 1], "nand": [1, 1, 1, 0], "xor": [0, 1, 1, 0]}


def step(v) -> np.ndarray:
    """Heaviside step: 1 where v ≥ 0, else 0."""
    return (np.asarray(v) >= 0).astype(int)


def threshold_unit(x, weights, threshold: float) -> np.ndarray:
    """A McCulloch–Pitts unit: fires (1) when the weighted sum of its binary inputs reaches ``threshold``."""
    return step(np.asarray(x, dtype=float) @ np.asarray(weights, dtype=float) - threshold)


def sigmoid_neuron(x, *, weights, bias: float) -> np.ndarray:
    """ψ(Σ wᵢ xᵢ + b) with the logistic sigmoid ψ: a smooth perceptron."""
    return Sigmoid()(np.asarray(x, dtype=float) @ np.asarray(weights, dtype=float) + bias)


def logic_gate(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The truth table of a two-input gate (``and``, ``or``, ``nand``, ``xor``): inputs (4, 2) and targets (4,)."""
    if name not in GATES:
        raise ValueError(f"unknown gate {name!r}; choose one of {sorted(GATES)}.")
    return np.array([[0, 0], [0, 1], [1, 0], [1, 1]]), np.array(GATES[name])


class Perceptron:
    """Rosenblatt's perceptron for targets in {0, 1}, trained one example at a time.

    Starts from w = 0, b = 0 and visits the examples in order (``shuffle=False``) or in a new random order each
    epoch. After ``fit``: ``weights_``, ``bias_``, ``errors_`` (misclassifications per epoch), ``updates_`` and
    ``converged_`` (an epoch with no error happened within ``max_epochs``).
    """

    def __init__(self, *, learning_rate: float = 1.0, max_epochs: int = 100, shuffle: bool = False,
                 seed: int | None = None):
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate!r}.")
        if int(max_epochs) != max_epochs or max_epochs < 1:
            raise ValueError(f"max_epochs must be a positive integer, got {max_epochs!r}.")
        self.learning_rate, self.max_epochs, self.shuffle, self.seed = float(learning_rate), int(max_epochs), \
            shuffle, seed

    def fit(self, x, t) -> Perceptron:
        x, t = np.asarray(x, dtype=float), np.asarray(t)
        if x.ndim != 2 or t.shape != (len(x),):
            raise ValueError(f"expected x of shape (n, features) and t of shape (n,), got {x.shape} and {t.shape}.")
        if not np.isin(t, (0, 1)).all():
            raise ValueError(f"targets must be 0 or 1, got {sorted(set(np.unique(t).tolist()))}.")
        rng = np.random.default_rng(self.seed)
        self.weights_, self.bias_ = np.zeros(x.shape[1]), 0.0
        self.errors_, self.updates_, self.converged_ = [], 0, False
        for _ in range(self.max_epochs):
            errors = 0
            for i in (rng.permutation(len(x)) if self.shuffle else range(len(x))):
                y = int(x[i] @ self.weights_ + self.bias_ >= 0)
                if y != t[i]:
                    self.weights_ += self.learning_rate * (t[i] - y) * x[i]
                    self.bias_ += self.learning_rate * (t[i] - y)
                    errors += 1
            self.errors_.append(errors)
            self.updates_ += errors
            if errors == 0:
                self.converged_ = True
                break
        return self

    def decision_function(self, x) -> np.ndarray:
        """u + b = x · w + b for each row (≥ 0 means class 1)."""
        return np.asarray(x, dtype=float) @ self.weights_ + self.bias_

    def predict(self, x) -> np.ndarray:
        return step(self.decision_function(x))
