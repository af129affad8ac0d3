"""Real tuning tasks on the shipped MNIST digits, with epochs as the resource.

Both are trainables for :func:`labkit.hpo.tune`: ``task(config, *, start, stop, checkpoint, seed)`` trains from
epoch ``start`` (restoring ``checkpoint``) to ``stop`` and returns the validation accuracy after each epoch and
the new checkpoint (bytes, so it can travel to another process or a Spark executor). The validation set is
carved out of the training split; the test split stays untouched until ``task.test_accuracy(checkpoint)``
judges the winner once.

* :class:`MnistSGDTask` — a scikit-learn linear classifier trained by SGD, one ``partial_fit`` pass per epoch;
  about a tenth of a second per epoch (the lab's ``FAST`` task).
* :class:`MnistMLPTask` — a Keras multilayer perceptron (the course's ANN); about a second per epoch on a core.

>>> task = MnistSGDTask(n_train=500, n_val=200)
>>> metrics, checkpoint = task({"alpha": 1e-4, "eta0": 0.01, "loss": "log_loss"}, start=0, stop=2,
...                            checkpoint=None, seed=0)
>>> len(metrics), 0.5 < metrics[-1] <= 1.0, isinstance(checkpoint, bytes)
(2, True, True)
>>> abs(task.test_accuracy(checkpoint) - metrics[-1]) < 0.1   # the test split agrees with validation
True
"""

from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from labkit.hpo.space import Distribution, choice, loguniform, uniform


@lru_cache(maxsize=4)
def mnist_split(n_train: int, n_val: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n_train`` training and ``n_val`` validation digits from the shipped training split (fixed shuffle)."""
    from labkit.datasets import load_mnist

    x, y, _, _ = load_mnist(normalize=True, flatten=True)
    if n_train < 10 or n_val < 10 or n_train + n_val > len(x):
        raise ValueError(f"n_train + n_val must be at most {len(x)} with at least 10 each, got {n_train} + {n_val}.")
    order = np.random.default_rng(0).permutation(len(x))
    train, val = order[:n_train], order[n_train:n_train + n_val]
    return x[train], y[train].astype(np.int64), x[val], y[val].astype(np.int64)


def _check_epochs(start: int, stop: int) -> None:
    if not 0 <= start < stop:
        raise ValueError(f"need 0 ≤ start < stop, got start={start}, stop={stop}.")


@dataclass(frozen=True)
class MnistTask:
    """What both tasks share: the sizes of the training and validation parts, and the untouched test split."""

    n_train: int = 6000
    n_val: int = 2000

    @staticmethod
    def test_split() -> tuple[np.ndarray, np.ndarray]:
        """The shipped test digits (2,000), flattened and scaled like the training data."""
        from labkit.datasets import load_mnist

        _, _, x_test, y_test = load_mnist(normalize=True, flatten=True)
        return x_test, y_test.astype(np.int64)

    def test_accuracy(self, checkpoint: bytes) -> float:  # pragma: no cover - abstract
        """Accuracy on the test split of the model a trial saved in ``checkpoint``."""
        raise NotImplementedError


@dataclass(frozen=True)
class MnistSGDTask(MnistTask):
    """A linear classifier on MNIST pixels trained by SGD (``sklearn.linear_model.SGDClassifier``)."""

    @staticmethod
    def space() -> dict[str, Distribution]:
        """Regularisation strength, constant learning rate and loss."""
        return {"alpha": loguniform(1e-6, 1e-1), "eta0": loguniform(1e-4, 1.0),
                "loss": choice(["hinge", "log_loss", "modified_huber"])}

    def __call__(self, config: dict[str, Any], *, start: int, stop: int, checkpoint: Any, seed: int
                 ) -> tuple[list[float], bytes]:
        from sklearn.linear_model import SGDClassifier

        _check_epochs(start, stop)
        x, y, x_val, y_val = mnist_split(self.n_train, self.n_val)
        if checkpoint is None:
            model = SGDClassifier(loss=config["loss"], alpha=config["alpha"], learning_rate="constant",
                                  eta0=config["eta0"], random_state=seed % 2**31)
        else:
            model = pickle.loads(checkpoint)
            model.set_params(alpha=config["alpha"], eta0=config["eta0"])  # PBT may have changed them
        metrics = []
        for epoch in range(start, stop):
            order = np.random.default_rng([seed, epoch]).permutation(len(x))
            model.partial_fit(x[order], y[order], classes=np.arange(10))
            metrics.append(float((model.predict(x_val) == y_val).mean()))
        return metrics, pickle.dumps(model)

    def test_accuracy(self, checkpoint: bytes) -> float:
        x_test, y_test = self.test_split()
        return float((pickle.loads(checkpoint).predict(x_test) == y_test).mean())


@dataclass(frozen=True)
class MnistMLPTask(MnistTask):
    """A Keras MLP on MNIST: ``Dense(units, relu) → Dropout → Dense(10, softmax)``, Adam."""

    @staticmethod
    def space() -> dict[str, Distribution]:
        """Width, learning rate, dropout and batch size."""
        return {"units": choice([32, 64, 128, 256]), "learning_rate": loguniform(1e-4, 3e-2),
                "dropout": uniform(0.0, 0.5), "batch_size": choice([32, 64, 128])}

    def __call__(self, config: dict[str, Any], *, start: int, stop: int, checkpoint: Any, seed: int
                 ) -> tuple[list[float], bytes]:
        tf = _tensorflow()
        _check_epochs(start, stop)
        x, y, x_val, y_val = mnist_split(self.n_train, self.n_val)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.keras"
            tf.keras.utils.set_random_seed(seed % 2**31)  # before building *or* loading: same dropout seeds
            if checkpoint is None:
                model = tf.keras.Sequential([
                    tf.keras.layers.Input(shape=(784,)),
                    tf.keras.layers.Dense(int(config["units"]), activation="relu"),
                    tf.keras.layers.Dropout(float(config["dropout"])),
                    tf.keras.layers.Dense(10, activation="softmax"),
                ])
                model.compile(optimizer=tf.keras.optimizers.Adam(float(config["learning_rate"])),
                              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            else:
                path.write_bytes(checkpoint)
                model = tf.keras.models.load_model(path)
                model.optimizer.learning_rate.assign(float(config["learning_rate"]))  # PBT may have changed it
            metrics = []
            for epoch in range(start, stop):
                tf.keras.utils.set_random_seed((seed + 7919 * epoch) % 2**31)  # same shuffle when resumed
                model.fit(x, y, epochs=1, batch_size=int(config["batch_size"]), verbose=0)
                metrics.append(float(model.evaluate(x_val, y_val, verbose=0)[1]))
            model.save(path)
            return metrics, path.read_bytes()

    def test_accuracy(self, checkpoint: bytes) -> float:
        tf = _tensorflow()
        x_test, y_test = self.test_split()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.keras"
            path.write_bytes(checkpoint)
            model = tf.keras.models.load_model(path)
        return float(model.evaluate(x_test, y_test, verbose=0)[1])


def _tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    threads = int(os.environ.get("LABKIT_WORKER_THREADS", "0"))
    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # already initialised in this process: keep its pools
            pass
    return tf
