"""The course's MNIST models in Keras, from softmax regression to a convolutional network.

* ``build_ann()`` — no hidden layer: 784 inputs → 10 softmax outputs (multinomial logistic regression);
* ``build_ann((128, 64))`` — two hidden ReLU layers;
* ``build_cnn()`` — Conv(32, 3×3) → Conv(64, 3×3) → MaxPool(2) → Dropout → Dense(128) → Dropout → softmax.

Every model is compiled with sparse categorical cross-entropy (integer labels) and accuracy, and seeded.

>>> model = build_ann((128, 64))
>>> model.count_params()   # (784·128 + 128) + (128·64 + 64) + (64·10 + 10)
109386
>>> build_cnn().layers[0].output_shape
(None, 26, 26, 32)
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["make_optimizer", "build_ann", "build_cnn", "dense_summary"]

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")


def _tf():
    import tensorflow as tf

    return tf


def make_optimizer(name: str = "adam", learning_rate: float | None = None):
    """A Keras optimiser by course name: ``sgd``, ``momentum`` (SGD, μ = 0.9), ``nesterov``, ``adagrad``,
    ``rmsprop`` or ``adam``; ``learning_rate=None`` keeps Keras's default for that optimiser."""
    tf = _tf()
    opt = tf.keras.optimizers
    kwargs = {} if learning_rate is None else {"learning_rate": float(learning_rate)}
    makers = {"sgd": lambda: opt.SGD(**kwargs), "momentum": lambda: opt.SGD(momentum=0.9, **kwargs),
              "nesterov": lambda: opt.SGD(momentum=0.9, nesterov=True, **kwargs),
              "adagrad": lambda: opt.Adagrad(**kwargs), "rmsprop": lambda: opt.RMSprop(**kwargs),
              "adam": lambda: opt.Adam(**kwargs)}
    if name not in makers:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {list(OPTIMIZERS)}.")
    return makers[name]()


def _compile(model, optimizer, learning_rate):
    model.compile(optimizer=make_optimizer(optimizer, learning_rate) if isinstance(optimizer, str) else optimizer,
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def build_ann(hidden_units: Sequence[int] = (), *, activation: str = "relu", dropout: float = 0.0, l2: float = 0.0,
              optimizer="adam", learning_rate: float | None = None, seed: int = 0):
    """A fully connected network on flattened 28×28 digits: ``hidden_units`` hidden layers (each optionally
    followed by dropout, with an optional L2 penalty on its weights), then 10 softmax outputs."""
    tf = _tf()
    layers = tf.keras.layers
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")
    tf.keras.utils.set_random_seed(seed)
    regularizer = tf.keras.regularizers.l2(l2) if l2 else None
    stack = [layers.Input(shape=(784,))]
    for units in hidden_units:
        stack.append(layers.Dense(int(units), activation=activation, kernel_regularizer=regularizer))
        if dropout:
            stack.append(layers.Dropout(dropout))
    stack.append(layers.Dense(10, activation="softmax"))
    return _compile(tf.keras.Sequential(stack, name=f"ann_{'_'.join(map(str, hidden_units)) or 'softmax'}"),
                    optimizer, learning_rate)


def build_cnn(*, filters: Sequence[int] = (32, 64), kernel_size: int = 3, dense_units: int = 128,
              dropout: tuple[float, float] = (0.25, 0.5), optimizer="adam", learning_rate: float | None = None,
              seed: int = 0, name: str = "cnn"):
    """A CNN on 28×28×1 digits: one ReLU convolution per entry of ``filters`` (valid padding), 2×2 max
    pooling, dropout, a dense ReLU layer, dropout, 10 softmax outputs. The convolutional layers are the
    *base* (feature extractor) and the rest the *head*; ``transfer_model`` reuses the base."""
    tf = _tf()
    layers = tf.keras.layers
    tf.keras.utils.set_random_seed(seed)
    stack = [layers.Input(shape=(28, 28, 1))]
    stack += [layers.Conv2D(int(f), kernel_size, activation="relu", name=f"conv{i + 1}") for i, f in enumerate(filters)]
    stack += [layers.MaxPool2D(2, name="pool"), layers.Dropout(dropout[0]), layers.Flatten(name="flatten"),
              layers.Dense(int(dense_units), activation="relu"), layers.Dropout(dropout[1]),
              layers.Dense(10, activation="softmax")]
    return _compile(tf.keras.Sequential(stack, name=name), optimizer, learning_rate)


def dense_summary(model) -> tuple[list[tuple[int, str]], object, float]:
    """``(units, activation)`` of each ``Dense`` layer, the loss and the learning rate of a compiled model: what
    lab 07's checks compare (read by labkit, so a notebook cannot redefine how a model is described).

    >>> dense_summary(build_ann((8,), learning_rate=0.25))   # the rate as Keras keeps it, in float32
    ([(8, 'relu'), (10, 'softmax')], 'sparse_categorical_crossentropy', 0.25)
    """
    tf = _tf()
    dense = [(int(layer.units), layer.activation.__name__) for layer in model.layers
             if isinstance(layer, tf.keras.layers.Dense)]
    return dense, model.loss, float(model.optimizer.learning_rate.numpy())
