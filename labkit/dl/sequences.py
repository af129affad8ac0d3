"""Lab 09's Keras sequence models: MNIST read row by row, and the temperature forecaster.

* ``build_sequence_classifier("lstm")`` — 28 steps of 28 pixels → ``SimpleRNN``, ``LSTM`` or ``GRU`` → 10 softmax
  outputs, compiled like the lab 07 models (sparse categorical cross-entropy, accuracy);
* ``build_forecaster(window, features)`` — an LSTM over a window of standardised observations → one number,
  trained with the mean squared error;
* ``recurrent_params(kind, features, units)`` — the parameter count of one Keras recurrent layer, by formula.

>>> model = build_sequence_classifier("gru", units=32)
>>> model.count_params() == recurrent_params("gru", 28, 32) + 32 * 10 + 10
True
"""

from __future__ import annotations

__all__ = ["RECURRENT", "recurrent_params", "build_sequence_classifier", "build_forecaster", "rows_as_steps"]

#: Keras layer name and number of weight blocks (gates) of each recurrent kind
RECURRENT = {"rnn": ("SimpleRNN", 1), "lstm": ("LSTM", 4), "gru": ("GRU", 3)}


def _kind(kind: str) -> tuple[str, int]:
    if kind not in RECURRENT:
        raise ValueError(f"unknown recurrent layer {kind!r}; choose one of {sorted(RECURRENT)}.")
    return RECURRENT[kind]


def recurrent_params(kind: str, features: int, units: int) -> int:
    """G · (features · units + units² + units) weights, G = 1, 4, 3; Keras's GRU (``reset_after=True``) adds a
    second bias of 3 · units.

    >>> recurrent_params("lstm", 28, 64)
    23808
    """
    _, gates = _kind(kind)
    return gates * (features * units + units * units + units) + (gates * units if kind == "gru" else 0)


def rows_as_steps(images):
    """MNIST images (n, 28, 28) as sequences: step t is row t, its 28 pixels the features, scaled to [0, 1]."""
    import numpy as np

    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"expected images of shape (n, height, width), got {images.shape}.")
    return (images / 255.0).astype(np.float32) if images.dtype == np.uint8 else images.astype(np.float32)


def build_sequence_classifier(kind: str = "lstm", *, units: int = 64, steps: int = 28, features: int = 28,
                              seed: int = 0, learning_rate: float = 1e-3):
    """``Input(steps, features) → <kind>(units) → Dense(10, softmax)``, Adam, seeded."""
    import tensorflow as tf

    name, _ = _kind(kind)
    tf.keras.utils.set_random_seed(seed)
    layers = tf.keras.layers
    model = tf.keras.Sequential([layers.Input((steps, features)), getattr(layers, name)(units),
                                 layers.Dense(10, activation="softmax")], name=f"{kind}_{units}")
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def build_forecaster(window: int, features: int, *, units: int = 32, seed: int = 0, learning_rate: float = 1e-3):
    """``Input(window, features) → LSTM(units) → Dense(1)``, Adam on the mean squared error, seeded."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    layers = tf.keras.layers
    model = tf.keras.Sequential([layers.Input((window, features)), layers.LSTM(units), layers.Dense(1)],
                                name=f"lstm_forecaster_{units}")
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate), loss="mse")
    return model
