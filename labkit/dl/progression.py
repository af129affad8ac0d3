"""The course text's MNIST progression, exactly as the lecture builds it, and its reported results.

The lecture (Keras on 60,000 MNIST digits) goes from softmax regression to two hidden layers to a
convolutional network:

* :func:`softmax_regression` — 784 → 10 softmax, SGD, batch 128, 200 epochs: 7,850 parameters, 92.28 % test
  accuracy;
* :func:`two_hidden_layers` — 784 → 128 ReLU → 128 ReLU → 10 softmax, the same training: 118,282 parameters,
  97.77 %;
* :func:`lenet` — Conv(20, 5×5, same) → max-pool 2×2 → Conv(50, 5×5, same) → max-pool → Dense(500) → 10 softmax,
  Adam, batch 128, 20 epochs, 20 % validation split: 99 %. ``pooling="average"``, ``batch_norm=True`` and
  ``augmentation=`` make the variants lab 07 measures.

:data:`TEXT_RESULTS` is the one home of the lecture's figures; :func:`progression_table` puts them beside a lab's
own runs.

>>> softmax_regression().count_params(), two_hidden_layers().count_params(), lenet().count_params()
(7850, 118282, 1256080)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from labkit._validation import check_number
from labkit.dl.models import _compile, _tf, build_ann

__all__ = ["TextResult", "TEXT_RESULTS", "softmax_regression", "two_hidden_layers", "lenet", "augmentation_layers",
           "progression_table"]

POOLING = ("max", "average")


@dataclass(frozen=True)
class TextResult:
    """What the lecture reports for one model: how it trained and what it reached."""

    model: str
    parameters: int | None  # None: the lecture shows the network, not its count
    optimizer: str
    batch_size: int
    epochs: int
    validation_split: float
    train_size: int
    test_accuracy: float


TEXT_RESULTS: tuple[TextResult, ...] = (
    TextResult("softmax regression", 7_850, "SGD", 128, 200, 0.0, 60_000, 0.9228),
    TextResult("two hidden layers of 128", 118_282, "SGD", 128, 200, 0.0, 60_000, 0.9777),
    TextResult("CNN (LeNet-style)", None, "Adam", 128, 20, 0.2, 60_000, 0.99),
)


def softmax_regression(*, optimizer="sgd", learning_rate: float | None = None, seed: int = 0):
    """The lecture's first model: 784 inputs → 10 softmax outputs, trained with SGD (Keras's default rate)."""
    return build_ann((), optimizer=optimizer, learning_rate=learning_rate, seed=seed)


def two_hidden_layers(*, optimizer="sgd", learning_rate: float | None = None, seed: int = 0):
    """The lecture's second model: two hidden ReLU layers of 128 units, trained with SGD."""
    return build_ann((128, 128), optimizer=optimizer, learning_rate=learning_rate, seed=seed)


def lenet(*, pooling: str = "max", batch_norm: bool = False, augmentation: tuple[float, float] | None = None,
          optimizer="adam", learning_rate: float | None = None, seed: int = 0, name: str = "lenet"):
    """The lecture's CNN on 28×28×1 digits (same padding, 2×2 pooling of stride 2, a 500-unit dense layer).

    ``pooling="average"`` averages each window instead of taking its maximum; ``batch_norm=True`` normalises
    every convolution's and the dense layer's output over the batch before the ReLU (the bias becomes
    redundant and is dropped; the running statistics use momentum 0.9, PyTorch's default, because Keras's 0.99
    needs hundreds of steps before they describe the data); ``augmentation=(shift, degrees)`` puts
    :func:`augmentation_layers` in front.
    """
    tf = _tf()
    layers = tf.keras.layers
    if pooling not in POOLING:
        raise ValueError(f"pooling must be one of {POOLING}, got {pooling!r}.")
    tf.keras.utils.set_random_seed(seed)
    stack = [layers.Input(shape=(28, 28, 1))]
    if augmentation is not None:
        stack += augmentation_layers(*augmentation, seed=seed).layers
    pool = layers.MaxPool2D if pooling == "max" else layers.AveragePooling2D

    def block(layer, label):
        if not batch_norm:
            return [layer, layers.ReLU(name=f"{label}_relu")]
        return [layer, layers.BatchNormalization(momentum=0.9, name=f"{label}_bn"), layers.ReLU(name=f"{label}_relu")]

    stack += block(layers.Conv2D(20, 5, padding="same", use_bias=not batch_norm, name="conv1"), "conv1")
    stack.append(pool(2, strides=2, name="pool1"))
    stack += block(layers.Conv2D(50, 5, padding="same", use_bias=not batch_norm, name="conv2"), "conv2")
    stack += [pool(2, strides=2, name="pool2"), layers.Flatten(name="flatten")]
    stack += block(layers.Dense(500, use_bias=not batch_norm, name="dense"), "dense")
    stack.append(layers.Dense(10, activation="softmax", name="output"))
    return _compile(tf.keras.Sequential(stack, name=name), optimizer, learning_rate)


def augmentation_layers(shift: float = 0.1, degrees: float = 10.0, *, seed: int = 0):
    """Random shifts (up to ``shift`` of the image's height and width) and rotations (up to ``degrees``), blank
    where the image moved away: new, plausible digits from each one. Active only while training (``fit``, or a
    call with ``training=True``); at inference they pass images through unchanged.

    >>> import numpy as np
    >>> augment = augmentation_layers(0.1, 10)
    >>> x = np.zeros((1, 28, 28, 1), np.float32); x[0, 10:18, 12:16] = 1
    >>> bool((augment(x, training=False).numpy() == x).all()), augment(x, training=True).shape
    (True, TensorShape([1, 28, 28, 1]))
    """
    tf = _tf()
    layers = tf.keras.layers
    check_number("shift", shift, high=0.5)
    check_number("degrees", degrees, high=180)
    return tf.keras.Sequential([
        layers.RandomTranslation(shift, shift, fill_mode="constant", seed=seed, name="shift"),
        layers.RandomRotation(degrees / 360, fill_mode="constant", seed=seed, name="rotate")], name="augmentation")


def progression_table(runs: Mapping[str, Mapping[str, object]]) -> pd.DataFrame:
    """The lecture's figures beside a lab's, one row per model of :data:`TEXT_RESULTS`.

    ``runs`` maps each :attr:`TextResult.model` to the lab's run: ``parameters``, ``epochs``, ``train_size``
    and ``test_accuracy``.

    >>> row = {"parameters": 7850, "epochs": 5, "train_size": 2000, "test_accuracy": 0.85}
    >>> progression_table({"softmax regression": row}).loc["softmax regression", "text: test accuracy"]
    0.9228
    """
    unknown = set(runs) - {r.model for r in TEXT_RESULTS}
    if unknown:
        raise ValueError(f"no model of the course text is called {sorted(unknown)}; "
                         f"use {[r.model for r in TEXT_RESULTS]}.")
    rows = []
    for text in TEXT_RESULTS:
        lab = runs.get(text.model, {})
        rows.append({"model": text.model, "text: parameters": text.parameters,
                     "lab: parameters": lab.get("parameters"),
                     "text: training": f"{text.optimizer}, batch {text.batch_size}, {text.epochs} epochs, "
                                       f"{text.train_size:,} digits",
                     "lab: training": (f"{lab['epochs']} epochs, {lab['train_size']:,} digits" if lab else None),
                     "text: test accuracy": text.test_accuracy, "lab: test accuracy": lab.get("test_accuracy")})
    table = pd.DataFrame(rows).set_index("model")
    return table.astype({"text: parameters": "Int64", "lab: parameters": "Int64"})
