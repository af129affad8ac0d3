"""Gradient-descent optimisers, with the update rules of Keras 2 (``tf.keras.optimizers``) to round-off.

Plain gradient descent moves each weight against its gradient, ``w ← w − η g``. The others change the step:

* **momentum** keeps a velocity, ``v ← μ v − η g; w ← w + v``: steps grow along consistent directions and
  oscillations across a ravine cancel. **Nesterov** looks ahead: ``w ← w + μ v − η g``.
* **Adagrad** divides by the root of all squared gradients so far: rare features get large steps, but the
  steps only ever shrink.
* **RMSprop** uses a moving average of squared gradients instead (decay ρ), so steps stop shrinking.
* **Adam** combines momentum (β₁) with RMSprop's scaling (β₂) and corrects both averages' bias towards 0.

``apply_gradients([(param, grad), ...])`` updates the arrays in place; the optimiser's state (velocities,
accumulators) is kept per position in that list, so pass the parameters in the same order each step.

>>> import numpy as np
>>> w = np.array([1.0, -2.0])
>>> opt = SGD(learning_rate=0.1)
>>> opt.apply_gradients([(w, np.array([0.5, 0.5]))])
>>> w.tolist()
[0.95, -2.05]
>>> w = np.array([1.0]); adam = Adam(learning_rate=0.01)
>>> adam.apply_gradients([(w, np.array([3.0]))]); round(float(w[0]), 6)   # Adam's first step ≈ η
0.99
"""

from __future__ import annotations

import numpy as np

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "get", "OPTIMIZERS", "clip_by_global_norm"]


class Optimizer:
    """Base class: subclasses implement ``_update(index, param, grad)``."""

    name = "optimizer"

    def __init__(self, learning_rate: float):
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate!r}.")
        self.learning_rate = float(learning_rate)
        self.iterations = 0
        self._slots: dict[tuple[str, int], np.ndarray] = {}

    def _slot(self, name: str, index: int, like: np.ndarray, initial: float = 0.0) -> np.ndarray:
        key = (name, index)
        if key not in self._slots:
            self._slots[key] = np.full_like(like, initial)
        return self._slots[key]

    def apply_gradients(self, pairs) -> None:
        """One step for every ``(param, grad)`` pair, updating ``param`` in place."""
        for index, (param, grad) in enumerate(pairs):
            if param.shape != grad.shape:
                raise ValueError(f"gradient {index} has shape {grad.shape} but its parameter has shape {param.shape}.")
            self._update(index, param, grad)
        self.iterations += 1

    def _update(self, index: int, param: np.ndarray, grad: np.ndarray) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(learning_rate={self.learning_rate:g})"


class SGD(Optimizer):
    """Gradient descent, optionally with (Nesterov) momentum μ."""

    name = "sgd"

    def __init__(self, learning_rate: float = 0.01, *, momentum: float = 0.0, nesterov: bool = False):
        super().__init__(learning_rate)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}.")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _update(self, index, param, grad):
        if self.momentum == 0:
            param -= self.learning_rate * grad
            return
        v = self._slot("velocity", index, param)
        v *= self.momentum
        v -= self.learning_rate * grad
        if self.nesterov:
            param += self.momentum * v - self.learning_rate * grad
        else:
            param += v


class Adagrad(Optimizer):
    """``a ← a + g²; w ← w − η g / √(a + ε)``, with Keras's initial accumulator 0.1."""

    name = "adagrad"

    def __init__(self, learning_rate: float = 0.001, *, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7):
        super().__init__(learning_rate)
        self.initial_accumulator_value, self.epsilon = float(initial_accumulator_value), float(epsilon)

    def _update(self, index, param, grad):
        acc = self._slot("accumulator", index, param, self.initial_accumulator_value)
        acc += grad * grad
        param -= self.learning_rate * grad / np.sqrt(acc + self.epsilon)


class RMSprop(Optimizer):
    """``s ← ρ s + (1 − ρ) g²; w ← w − η g / √(s + ε)``."""

    name = "rmsprop"

    def __init__(self, learning_rate: float = 0.001, *, rho: float = 0.9, epsilon: float = 1e-7):
        super().__init__(learning_rate)
        self.rho, self.epsilon = float(rho), float(epsilon)

    def _update(self, index, param, grad):
        s = self._slot("velocity", index, param)
        s *= self.rho
        s += (1 - self.rho) * grad * grad
        param -= self.learning_rate * grad / np.sqrt(s + self.epsilon)


class Adam(Optimizer):
    """Kingma & Ba's Adam as Keras computes it: ``m ← m + (g − m)(1 − β₁)``, ``v ← v + (g² − v)(1 − β₂)``,
    ``w ← w − α m / (√v + ε)`` with the bias correction folded into α = η √(1 − β₂ᵗ) / (1 − β₁ᵗ)."""

    name = "adam"

    def __init__(self, learning_rate: float = 0.001, *, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7):
        super().__init__(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _update(self, index, param, grad):
        t = self.iterations + 1
        alpha = self.learning_rate * np.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        m, v = self._slot("m", index, param), self._slot("v", index, param)
        m += (grad - m) * (1 - self.beta_1)
        v += (grad * grad - v) * (1 - self.beta_2)
        param -= alpha * m / (np.sqrt(v) + self.epsilon)


OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in (SGD, Adagrad, RMSprop, Adam)}


def clip_by_global_norm(grads: list[np.ndarray], max_norm: float) -> tuple[list[np.ndarray], float]:
    """Gradient clipping by the global norm, as ``tf.clip_by_global_norm`` (Keras's ``global_clipnorm``): when the
    norm of all gradients together, ‖g‖ = √(Σ‖gᵢ‖²), exceeds ``max_norm``, scale every gradient by
    ``max_norm / ‖g‖``. The direction of the step is kept; only an exploding step is shortened.
    Returns the clipped gradients (new arrays) and ‖g‖ before clipping.

    >>> clipped, norm = clip_by_global_norm([np.array([3.0]), np.array([4.0])], 1.0)
    >>> norm, [round(float(g[0]), 6) for g in clipped]
    (5.0, [0.6, 0.8])
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm!r}.")
    norm = float(np.sqrt(sum(float(np.sum(np.square(g))) for g in grads)))
    scale = max_norm / max(norm, max_norm)
    return [np.asarray(g) * scale for g in grads], norm


def get(optimizer: str | Optimizer) -> Optimizer:
    """An optimiser from its Keras name (with Keras's default learning rate) or an instance."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer.lower() in OPTIMIZERS:
        return OPTIMIZERS[optimizer.lower()]()
    raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {sorted(OPTIMIZERS)} or pass an Optimizer.")
