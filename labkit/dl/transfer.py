"""Transfer learning without downloading a pre-trained network: pre-train on some digits, reuse on others.

A network trained on digits 0–4 has learnt strokes, curves and corners in its convolutional *base*; those
features help with digits 5–9 too. ``transfer_model`` freezes that base (its weights no longer change) and
puts a new, trainable *head* on it, which can then learn the new classes from few labels — the idea behind
reusing VGG16 or ResNet trained on ImageNet.

>>> import numpy as np
>>> y = np.array([0, 5, 1, 6, 5, 7])
>>> digit_subset(np.arange(6), y, digits=[5, 6, 7])[1].tolist()   # relabelled 0, 1, 2
[0, 1, 0, 2]
>>> from labkit.dl import build_cnn
>>> model = transfer_model(build_cnn(filters=(8,)), n_classes=5)
>>> [layer.trainable for layer in model.layers][:2], model.output_shape
([False, True], (None, 5))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["digit_subset", "few_labels", "transfer_model", "toy_base"]


def digit_subset(x, y, *, digits: Sequence[int]):
    """The samples whose label is in ``digits``, relabelled 0…len(digits) − 1 in the order given."""
    x, y = np.asarray(x), np.asarray(y)
    digits = list(digits)
    if len(set(digits)) != len(digits):
        raise ValueError(f"digits must be distinct, got {digits}.")
    keep = np.isin(y, digits)
    lookup = {d: i for i, d in enumerate(digits)}
    return x[keep], np.array([lookup[v] for v in y[keep]], dtype=np.int64)


def few_labels(x, y, *, per_class: int, seed: int = 0):
    """``per_class`` random samples of each class (a small labelled set), in shuffled order."""
    x, y = np.asarray(x), np.asarray(y)
    rng = np.random.default_rng(seed)
    picks = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        if len(members) < per_class:
            raise ValueError(f"class {label} has only {len(members)} samples, fewer than per_class={per_class}.")
        picks.append(rng.choice(members, per_class, replace=False))
    order = rng.permutation(np.concatenate(picks))
    return x[order], y[order]


def transfer_model(pretrained, *, n_classes: int, base_until: str = "flatten", head_units: int = 64,
                   learning_rate: float = 1e-3, seed: int = 0):
    """A new model: ``pretrained``'s layers up to and including ``base_until``, frozen, then a trainable head
    ``Dense(head_units, relu) → Dense(n_classes, softmax)``; compiled with Adam."""
    import tensorflow as tf

    names = [layer.name for layer in pretrained.layers]
    if base_until not in names:
        raise ValueError(f"the pre-trained model has no layer {base_until!r}; its layers are {names}.")
    tf.keras.utils.set_random_seed(seed)
    base = tf.keras.Model(pretrained.inputs, pretrained.get_layer(base_until).output, name="base")
    base.trainable = False
    model = tf.keras.Sequential([base, tf.keras.layers.Dense(head_units, activation="relu"),
                                 tf.keras.layers.Dense(n_classes, activation="softmax")], name="transfer")
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def toy_base(seed: int = 0, filters: int = 4):
    """A small convolutional feature extractor with a flat output: the base lab 07's transfer checks use.

    >>> toy_base().output_shape
    (None, 144)
    """
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    layers = tf.keras.layers
    return tf.keras.Sequential([layers.Input((28, 28, 1)), layers.Conv2D(int(filters), 3, activation="relu"),
                                layers.MaxPool2D(4), layers.Flatten()])
