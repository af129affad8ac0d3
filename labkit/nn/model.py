"""``Sequential``: a feed-forward network as a stack of layers, trained by backpropagation and mini-batch
gradient descent, with a Keras-like ``compile``/``fit``/``evaluate``/``predict``.

One training step is the two phases of backpropagation: the *forward phase* runs the batch through the layers
and computes the loss; the *backward phase* sends ∂L/∂output from the last layer to the first, each layer
turning the gradient with respect to its output into gradients for its parameters and for its input. The
optimiser then moves every parameter. ``batch_size`` chooses the flavour of gradient descent: ``None``
(the whole set: *batch* gradient descent), ``1`` (*stochastic*) or anything between (*mini-batch*).

>>> import numpy as np
>>> from labkit.nn import Dense
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(200, 2)); y = (x[:, 0] * x[:, 1] > 0).astype(int)   # XOR-like quadrants
>>> model = Sequential([Dense(16, activation="tanh"), Dense(2, activation="softmax")], input_shape=(2,), seed=0)
>>> model.compile(optimizer="adam", loss="categorical_crossentropy")
>>> history = model.fit(x, y, epochs=200, batch_size=32, verbose=False)
>>> history.history["accuracy"][-1] > 0.9, model.count_params()
(True, 82)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from labkit.nn import losses as losses_module
from labkit.nn import optimizers as optimizers_module
from labkit.nn.activations import Sigmoid, Softmax
from labkit.nn.layers import Activation, Dense, Layer

__all__ = ["Sequential", "History", "accuracy"]


def accuracy(y_true, y_pred: np.ndarray) -> float:
    """Share of correct predictions: arg-max of a softmax output, p > 0.5 for a single sigmoid output."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_pred.ndim == 2 and y_pred.shape[1] > 1:
        labels = y_true.argmax(axis=1) if y_true.ndim == 2 else y_true
        return float(np.mean(y_pred.argmax(axis=1) == labels))
    return float(np.mean((y_pred.reshape(len(y_pred), -1) > 0.5) == (y_true.reshape(len(y_true), -1) > 0.5)))


@dataclass
class History:
    """Per-epoch metrics, like ``keras.callbacks.History``: ``history["loss"]``, ``["val_accuracy"]``, …;
    ``elapsed`` holds the seconds since training started at the end of each epoch."""

    history: dict[str, list[float]] = field(default_factory=dict)
    epoch: list[int] = field(default_factory=list)
    elapsed: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def record(self, epoch: int, **metrics: float) -> None:
        self.epoch.append(epoch)
        for name, value in metrics.items():
            self.history.setdefault(name, []).append(float(value))


class Sequential:
    """Layers applied in order. Build it with ``input_shape`` (no batch axis) or it builds on the first batch."""

    def __init__(self, layers: list[Layer], *, input_shape: tuple[int, ...] | None = None, seed: int | None = None,
                 dtype=np.float32):
        if not layers or not all(isinstance(layer, Layer) for layer in layers):
            raise ValueError("Sequential needs a non-empty list of labkit.nn layers.")
        self.layers = list(layers)
        self.dtype = np.dtype(dtype)
        self.rng = np.random.default_rng(seed)
        self.built = False
        self.optimizer: optimizers_module.Optimizer | None = None
        self.loss: losses_module.Loss | None = None
        if input_shape is not None:
            self.build(tuple(input_shape))

    def build(self, input_shape: tuple[int, ...]) -> None:
        """Create every layer's parameters, in order (so a seed gives the same network every time)."""
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.build(shape, self.rng, self.dtype)
        self.input_shape, self.output_shape, self.built = tuple(input_shape), shape, True

    def compile(self, optimizer: str | optimizers_module.Optimizer = "sgd",
                loss: str | losses_module.Loss = "categorical_crossentropy") -> None:
        """Choose the optimiser and the loss (Keras names or instances)."""
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses_module.get(loss)

    # -- forward and backward -------------------------------------------------------------------------
    def _as_input(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=self.dtype)
        if not self.built:
            self.build(x.shape[1:])
        return x

    def forward(self, x, *, training: bool = False) -> np.ndarray:
        """The forward phase: every layer in turn."""
        x = self._as_input(x)
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def predict(self, x, *, batch_size: int = 1024) -> np.ndarray:
        """Outputs for ``x`` (no dropout), computed in batches."""
        x = self._as_input(x)
        return np.concatenate([self.forward(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])

    def _fused(self) -> bool:
        """Whether the output layer's activation and the loss combine into ∂L/∂z = (p − y)/n."""
        last = self.layers[-1]
        act = getattr(last, "activation", None)
        return isinstance(last, Dense | Activation) and (
            (isinstance(act, Softmax) and isinstance(self.loss, losses_module.CategoricalCrossEntropy))
            or (isinstance(act, Sigmoid) and isinstance(self.loss, losses_module.BinaryCrossEntropy)))

    def backward(self, y_true, y_pred: np.ndarray) -> None:
        """The backward phase: from the loss's gradient to every layer's ``grads``, last layer first."""
        self._require_compiled()
        if self._fused():
            grad = self.loss.output_gradient(y_true, y_pred)
            grad = self.layers[-1].backward(grad, pre_activation=True)
            rest = self.layers[-2::-1]
        else:
            grad = self.loss.gradient(y_true, y_pred)
            rest = self.layers[::-1]
        for layer in rest:
            grad = layer.backward(grad)

    def loss_and_gradients(self, x, y, *, training: bool = False) -> tuple[float, list[np.ndarray]]:
        """The loss on ``(x, y)`` and the gradient of every parameter, in :meth:`parameters` order."""
        self._require_compiled()
        y_pred = self.forward(x, training=training)
        self._last_output = y_pred
        self.backward(y, y_pred)
        return self.loss(y, y_pred), [layer.grads[name] for layer, name in self._parameter_keys()]

    def train_step(self, x, y) -> float:
        """Forward, backward, one optimiser step; returns the batch loss before the step."""
        loss, grads = self.loss_and_gradients(x, y, training=True)
        pairs = [(p, g) for (layer, _), p, g in zip(self._parameter_keys(), self.parameters(), grads, strict=True)
                 if layer.trainable]
        self.optimizer.apply_gradients(pairs)
        return loss

    # -- training loop ---------------------------------------------------------------------------------
    def fit(self, x, y, *, epochs: int = 1, batch_size: int | None = 32, validation_data=None, shuffle: bool = True,
            verbose: bool = True) -> History:
        """Train for ``epochs`` passes over ``(x, y)`` in mini-batches of ``batch_size`` (``None``: full batch).

        Records ``loss`` and ``accuracy`` (averaged over the epoch's batches, as Keras reports them) and, with
        ``validation_data=(x_val, y_val)``, ``val_loss`` and ``val_accuracy`` after each epoch.
        """
        import time

        from labkit import progress

        self._require_compiled()
        x, y = self._as_input(x), np.asarray(y)
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)}.")
        if batch_size is not None and (int(batch_size) != batch_size or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer or None (full batch), got {batch_size!r}.")
        size = len(x) if batch_size is None else int(batch_size)
        history, start = History(), time.perf_counter()
        bar = progress(total=epochs, desc="epochs") if verbose else None
        for epoch in range(epochs):
            order = self.rng.permutation(len(x)) if shuffle else np.arange(len(x))
            total_loss = total_correct = 0.0
            for i in range(0, len(x), size):
                batch = order[i:i + size]
                xb, yb = x[batch], y[batch]
                total_loss += self.train_step(xb, yb) * len(batch)
                total_correct += accuracy(yb, self._last_output) * len(batch)
            metrics = {"loss": total_loss / len(x), "accuracy": total_correct / len(x)}
            if validation_data is not None:
                val_loss, val_acc = self.evaluate(*validation_data)
                metrics.update(val_loss=val_loss, val_accuracy=val_acc)
            history.record(epoch, **metrics)
            history.elapsed.append(time.perf_counter() - start)
            if bar is not None:
                bar.set_postfix({k: round(v, 4) for k, v in metrics.items()}, refresh=False)
                bar.update(1)
        if bar is not None:
            bar.close()
        history.seconds = time.perf_counter() - start
        return history

    def evaluate(self, x, y, *, batch_size: int = 1024) -> tuple[float, float]:
        """``(loss, accuracy)`` on ``(x, y)`` with no dropout."""
        self._require_compiled()
        y_pred = self.predict(x, batch_size=batch_size)
        return self.loss(y, y_pred), accuracy(y, y_pred)

    # -- parameters --------------------------------------------------------------------------------------
    def _parameter_keys(self) -> list[tuple[Layer, str]]:
        return [(layer, name) for layer in self.layers for name in layer.params]

    def parameters(self) -> list[np.ndarray]:
        """Every parameter array (the live arrays, not copies), layer by layer: kernel then bias."""
        return [layer.params[name] for layer, name in self._parameter_keys()]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the parameters, in the order ``keras.Model.get_weights()`` uses for the same network."""
        return [p.copy() for p in self.parameters()]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Load parameters (for example a Keras model's ``get_weights()``) in :meth:`get_weights` order."""
        params = self.parameters()
        if len(weights) != len(params):
            raise ValueError(f"expected {len(params)} arrays, got {len(weights)}.")
        for i, (p, w) in enumerate(zip(params, weights, strict=True)):
            if p.shape != np.shape(w):
                raise ValueError(f"weight {i} has shape {np.shape(w)}, the network expects {p.shape}.")
            p[...] = w

    def count_params(self) -> int:
        """Total number of scalar parameters."""
        return sum(layer.count_params() for layer in self.layers)

    def summary(self) -> str:
        """A Keras-style table: layer, output shape, parameters."""
        if not self.built:
            raise RuntimeError("build the model first: pass input_shape=... or call it on a batch.")
        lines = [f"{'layer':34} {'output shape':20} {'params':>10}", "-" * 66]
        for layer in self.layers:
            lines.append(f"{layer!r:34} {str((None, *layer.output_shape)):20} {layer.count_params():>10,}")
        lines += ["-" * 66, f"total parameters: {self.count_params():,}"]
        return "\n".join(lines)

    def _require_compiled(self) -> None:
        if self.optimizer is None or self.loss is None:
            raise RuntimeError("call model.compile(optimizer=..., loss=...) before training or evaluating.")
