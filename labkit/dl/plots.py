"""Figures for lab 07's experiments: learning-rate schedules beside the loss they give, and augmented digits.

>>> import matplotlib; matplotlib.use("Agg")
>>> history = type("H", (), {"history": {"loss": [2.0, 1.0, 0.5], "lr": [0.1, 0.05, 0.025]}})()
>>> fig = plot_schedules({"step": history})
>>> [ax.get_ylabel() for ax in fig.axes]
['learning rate', 'training loss']
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["plot_schedules", "plot_augmented"]


def plot_schedules(histories: Mapping[str, object]):
    """Left: the learning rate Keras used in each epoch (``history["lr"]``, recorded by the schedule's callback);
    right: the training loss per epoch, one colour per named run."""
    import matplotlib.pyplot as plt

    fig, (rate_ax, loss_ax) = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, history in histories.items():
        curves = getattr(history, "history", history)
        if "lr" not in curves:
            raise KeyError(f"run {name!r} has no learning rate per epoch: train it with labkit.dl.schedules.scheduler.")
        epochs = np.arange(1, len(curves["loss"]) + 1)
        rate_ax.plot(epochs, curves["lr"], marker=".", label=name)
        loss_ax.plot(epochs, curves["loss"], label=name)
    rate_ax.set(xlabel="epoch", ylabel="learning rate", title="the schedule")
    loss_ax.set(xlabel="epoch", ylabel="training loss", title="what it does to the loss", yscale="log")
    loss_ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_augmented(images, augment, *, copies: int = 6, seed: int = 0):
    """Each image (first column) and ``copies`` random versions of it from ``augment`` (a Keras layer or model
    called with ``training=True``, as during ``fit``)."""
    import matplotlib.pyplot as plt
    import tensorflow as tf

    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    tf.keras.utils.set_random_seed(seed)
    versions = np.stack([augment(images, training=True).numpy() for _ in range(copies)], axis=1)
    fig, grid = plt.subplots(len(images), copies + 1, figsize=(1.3 * (copies + 1), 1.3 * len(images)), squeeze=False)
    for r, image in enumerate(images):
        for c in range(copies + 1):
            ax = grid[r, c]
            ax.imshow(image[..., 0] if c == 0 else versions[r, c - 1, ..., 0], cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title("original" if c == 0 else f"random {c}", fontsize=8)
    fig.tight_layout()
    return fig
