"""Training Keras models the way the labs do: a progress bar instead of Keras's console bar, optional early
stopping on the validation loss, and side-by-side comparisons that return one ``History`` per setting.

>>> import numpy as np
>>> from labkit.dl import build_ann
>>> x = np.random.default_rng(0).random((64, 784), dtype=np.float32); y = np.arange(64) % 10
>>> history = train(build_ann(), x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=False)
>>> sorted(history.history), len(history.history["loss"])
(['accuracy', 'loss', 'val_accuracy', 'val_loss'], 2)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from labkit import progress

__all__ = ["ProgressCallback", "train", "compare"]


def _callback_base():
    import tensorflow as tf

    return tf.keras.callbacks.Callback


def ProgressCallback(epochs: int, desc: str = "epochs"):  # noqa: N802 - a class factory, used like a class
    """A Keras callback drawing one :func:`labkit.progress` bar over the epochs, with the latest metrics."""

    class _Progress(_callback_base()):
        def on_train_begin(self, logs=None):
            self.bar = progress(total=epochs, desc=desc)

        def on_epoch_end(self, epoch, logs=None):
            self.bar.set_postfix({k: round(float(v), 4) for k, v in (logs or {}).items()}, refresh=False)
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return _Progress()


def train(model, x, y, *, epochs: int = 10, batch_size: int = 32, validation_data=None,
          validation_split: float = 0.0, early_stopping: int | None = None, verbose: bool = True,
          desc: str | None = None, callbacks: Sequence[object] = ()):
    """``model.fit`` with a progress bar; ``early_stopping=k`` stops once the validation loss has not improved
    for ``k`` epochs and restores the best weights; ``callbacks`` are passed on (a learning-rate schedule, say).
    Returns Keras's ``History``."""
    import tensorflow as tf

    callbacks = [*callbacks, *([ProgressCallback(epochs, desc or model.name)] if verbose else [])]
    if early_stopping is not None:
        if validation_data is None and not validation_split:
            raise ValueError("early stopping watches the validation loss: pass validation_data or validation_split.")
        callbacks.append(tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=int(early_stopping),
                                                          restore_best_weights=True))
    return model.fit(x, y, epochs=epochs, batch_size=batch_size, validation_data=validation_data,
                     validation_split=validation_split, callbacks=callbacks, verbose=0)


def compare(builders: Mapping[str, Callable[[], object]], x, y, *, epochs: int = 5,
            batch_sizes: Mapping[str, int] | None = None, batch_size: int = 32, validation_data=None,
            verbose: bool = True) -> dict[str, object]:
    """Train a fresh model from each named builder on the same data and return their histories by name.
    ``batch_sizes`` overrides ``batch_size`` per name (for batch-size comparisons)."""
    import time

    histories = {}
    runs = progress(list(builders.items()), desc="runs") if verbose else builders.items()
    for name, build in runs:
        start = time.perf_counter()
        history = train(build(), x, y, epochs=epochs, batch_size=(batch_sizes or {}).get(name, batch_size),
                        validation_data=validation_data, verbose=False)
        history.seconds = time.perf_counter() - start
        histories[name] = history
    return histories
