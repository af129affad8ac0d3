"""TensorBoard's event files, read back: what Keras's ``TensorBoard`` callback wrote, as a table and a figure.

The callback writes one folder per phase (``train``, ``validation``) of binary *event files*; TensorBoard's web
app draws them. Reading them directly shows what is in them (scalars per epoch, as tensors) and gives the same
curves in a notebook, with no server.

>>> read_scalars("no-such-folder").empty
True
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def read_scalars(log_dir: str | Path) -> pd.DataFrame:
    """Every scalar in the event files under ``log_dir``: columns ``run`` (the sub-folder), ``tag``, ``step``,
    ``value``, sorted."""
    root = Path(log_dir)
    rows = []
    for events in sorted(root.rglob("events.out.tfevents.*")) if root.is_dir() else []:
        import tensorflow as tf
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        accumulator = EventAccumulator(str(events.parent), size_guidance={"tensors": 0, "scalars": 0})
        accumulator.Reload()
        run = str(events.parent.relative_to(root))
        for tag in accumulator.Tags().get("tensors", []):
            for event in accumulator.Tensors(tag):
                value = tf.make_ndarray(event.tensor_proto)
                if value.shape == () and value.dtype.kind in "fiu":  # scalars only: not the model's JSON config
                    rows.append({"run": run, "tag": tag, "step": event.step, "value": float(value)})
        for tag in accumulator.Tags().get("scalars", []):
            rows += [{"run": run, "tag": tag, "step": e.step, "value": float(e.value)}
                     for e in accumulator.Scalars(tag)]
    frame = pd.DataFrame(rows, columns=["run", "tag", "step", "value"]).drop_duplicates()
    return frame.sort_values(["run", "tag", "step"], ignore_index=True)


def plot_scalars(scalars: pd.DataFrame, tags: list[str], *, title: str = "From TensorBoard's event files"):
    """One panel per tag, one line per run (train, validation)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tags), figsize=(5 * len(tags), 3.4), squeeze=False)
    for ax, tag in zip(axes[0], tags, strict=True):
        for run, part in scalars[scalars["tag"] == tag].groupby("run"):
            ax.plot(part["step"] + 1, part["value"], marker="o", label=run)
        ax.set(xlabel="epoch", ylabel=tag, title=tag)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
