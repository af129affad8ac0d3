"""Pictures for the neural-network labs: decision boundaries, training curves, activations and their
saturation, digits, and a widget that slides a convolution kernel over an image.

Training curves take labkit's :class:`~labkit.nn.History`, Keras's ``History`` or a plain dict of lists.

>>> import matplotlib; matplotlib.use("Agg")
>>> from labkit.nn import Perceptron, logic_gate
>>> x, t = logic_gate("or")
>>> ax = plot_decision_boundary(Perceptron().fit(x, t), x, t, title="OR")
>>> ax = plot_curves({"run": {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}})
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from labkit._plotting import axes, slider_view
from labkit.nn.activations import ELU, LeakyReLU, ReLU, Sigmoid, Tanh
from labkit.nn.conv import conv2d

__all__ = ["plot_decision_boundary", "plot_curves", "plot_activations", "plot_digits", "kernel_explorer"]


def plot_decision_boundary(model, x, t, *, ax=None, title: str | None = None, resolution: int = 200):
    """The two input dimensions coloured by ``model.predict`` with the examples on top (○ class 0, ● class 1)."""
    import matplotlib.pyplot as plt

    x, t = np.asarray(x, dtype=float), np.asarray(t)
    if x.shape[1] != 2:
        raise ValueError(f"a decision boundary is drawn for 2 inputs, got {x.shape[1]}.")
    ax = axes(ax, figsize=(3.2, 3.2))
    lo, hi = x.min(axis=0) - 0.5, x.max(axis=0) + 0.5
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    z = np.asarray(model.predict(np.c_[g0.ravel(), g1.ravel()])).reshape(g0.shape)
    ax.contourf(g0, g1, z, levels=[-0.5, 0.5, 1.5], colors=["#f4d6d6", "#d6e4f4"])
    for label, face in [(0, "white"), (1, "black")]:
        mine = t == label
        ax.scatter(x[mine, 0], x[mine, 1], s=80, facecolors=face, edgecolors="black", zorder=3, label=f"class {label}")
    ax.set(xlabel="$x_1$", ylabel="$x_2$", title=title or "")
    plt.setp(ax, xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]))
    return ax


def _history_dict(history) -> Mapping[str, list[float]]:
    if isinstance(history, Mapping):
        return history
    if hasattr(history, "history"):
        return history.history
    raise TypeError(f"expected a History or a dict of metric lists, got {type(history).__name__}.")


def plot_curves(histories: Mapping[str, object], *, metric: str = "loss", ax=None, title: str | None = None,
                validation: bool = True, logy: bool = False):
    """One line per named run for ``metric`` per epoch; dashed, in the same colour, its ``val_`` twin.

    The gap between a solid and a dashed line is the generalisation gap: when the training loss keeps falling
    while the validation loss turns up, the model has started to overfit.
    """
    import matplotlib.pyplot as plt

    ax = axes(ax, figsize=(6, 4))
    colours = plt.get_cmap("tab10")
    for i, (name, history) in enumerate(histories.items()):
        curves = _history_dict(history)
        if metric not in curves:
            raise KeyError(f"run {name!r} has no {metric!r}; it has {sorted(curves)}.")
        epochs = np.arange(1, len(curves[metric]) + 1)
        ax.plot(epochs, curves[metric], color=colours(i % 10), label=f"{name}")
        if validation and f"val_{metric}" in curves:
            ax.plot(epochs, curves[f"val_{metric}"], color=colours(i % 10), linestyle="--", label=f"{name} (val)")
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel=metric, title=title or f"{metric} per epoch (dashed: validation)")
    ax.legend(fontsize="small")
    return ax


def plot_activations(*, lo: float = -6.0, hi: float = 6.0):
    """Each activation (top) and its derivative (bottom); the shaded band is where sigmoid's slope is under 0.05,
    the saturated zone where gradients vanish."""
    import matplotlib.pyplot as plt

    x = np.linspace(lo, hi, 601)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5.5), sharex=True)
    for act in (Sigmoid(), Tanh(), ReLU(), LeakyReLU(0.1), ELU()):
        label = act.name if not isinstance(act, LeakyReLU) else "leaky_relu (α=0.1)"
        top.plot(x, act(x), label=label)
        bottom.plot(x, act.derivative(x), label=label)
    saturated = Sigmoid().derivative(x) < 0.05
    for ax in (top, bottom):
        ax.fill_between(x, 0, 1, where=saturated, transform=ax.get_xaxis_transform(), color="grey", alpha=0.15)
        ax.axhline(0, color="black", linewidth=0.5)
    top.set(ylabel="ψ(x)", ylim=(-1.5, 3), title="Activations (grey: sigmoid saturates, ψ' < 0.05)")
    bottom.set(xlabel="x", ylabel="ψ'(x)", ylim=(-0.1, 1.2))
    top.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    return fig


def plot_digits(images, labels=None, *, predicted=None, n: int = 10, columns: int = 10, title: str | None = None):
    """The first ``n`` digits in a grid, titled with their label (and prediction, red when wrong)."""
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    n = min(n, len(images))
    if n == 0:
        raise ValueError("no images to show.")
    rows = -(-n // columns)
    fig, grid = plt.subplots(rows, columns, figsize=(1.1 * columns, 1.3 * rows + 0.3), squeeze=False)
    for k, ax in enumerate(grid.ravel()):
        ax.axis("off")
        if k >= n:
            continue
        ax.imshow(images[k].reshape(28, 28) if images[k].size == 784 else images[k].squeeze(), cmap="gray_r")
        if labels is not None:
            text, colour = f"{labels[k]}", "black"
            if predicted is not None:
                text, colour = f"{labels[k]}→{predicted[k]}", ("black" if predicted[k] == labels[k] else "red")
            ax.set_title(text, fontsize=9, color=colour)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _draw_kernel_step(image: np.ndarray, kernel: np.ndarray, fmap: np.ndarray, i: int, j: int, axes3) -> None:
    from matplotlib.patches import Rectangle

    kh, kw = kernel.shape
    left, middle, right = axes3
    left.imshow(image, cmap="gray_r")
    left.add_patch(Rectangle((j - 0.5, i - 0.5), kw, kh, fill=False, edgecolor="red", linewidth=2))
    left.set_title(f"receptive field at ({i}, {j})")
    middle.imshow(kernel, cmap="coolwarm", vmin=-np.abs(kernel).max(), vmax=np.abs(kernel).max())
    for (a, b), w in np.ndenumerate(kernel):
        middle.text(b, a, f"{w:g}", ha="center", va="center", fontsize=8)
    middle.set_title("kernel (shared weights)")
    partial = np.full(fmap.shape, np.nan)
    flat = i * fmap.shape[1] + j
    partial.reshape(-1)[:flat + 1] = fmap.reshape(-1)[:flat + 1]
    right.imshow(partial, cmap="viridis", vmin=np.nanmin(fmap), vmax=np.nanmax(fmap))
    right.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2))
    right.set_title(f"feature map: {fmap[i, j]:.2f}")
    for ax in axes3:
        ax.set_xticks([])
        ax.set_yticks([])


def kernel_explorer(image, kernel):
    """Slide ``kernel`` over a 2-D ``image`` (valid convolution, stride 1): a slider picks the output position,
    showing the receptive field, the kernel and the feature map filled in up to that position.
    Headless, the last position is drawn as a plain figure."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    image, kernel = np.asarray(image, dtype=float), np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"expected a 2-D image and a 2-D kernel, got shapes {image.shape} and {kernel.shape}.")
    fmap = conv2d(image[None, :, :, None], kernel[:, :, None, None])[0, :, :, 0]
    positions = fmap.size
    slider = widgets.IntSlider(value=positions - 1, min=0, max=positions - 1, description="position",
                               continuous_update=True)

    def draw(k: int) -> None:
        i, j = divmod(k, fmap.shape[1])
        fig, axes3 = plt.subplots(1, 3, figsize=(10, 3.4))
        _draw_kernel_step(image, kernel, fmap, i, j, axes3)
        fig.tight_layout()

    return slider_view(slider, draw)
