"""Pictures for lab 09: how far back a recurrent layer's gradient reaches, and a widget that steps an LSTM
through a sequence showing its gates and its cell state.

>>> import matplotlib; matplotlib.use("Agg")
>>> from labkit.nn.recurrent import gradient_study
>>> fig = plot_gradient_study(gradient_study(steps=20, units=4, gains=(1.0,), forget_biases=(3.0,)))
"""

from __future__ import annotations

import numpy as np

from labkit._plotting import slider_view
from labkit.nn.recurrent import LSTM

__all__ = ["plot_gradient_study", "lstm_gate_explorer"]


def plot_gradient_study(study: dict[str, dict[float, np.ndarray]]):
    """Two panels from :func:`labkit.nn.recurrent.gradient_study`: ‖∂h_T/∂x_{T−k}‖ against k (log scale) for the
    tanh RNN at each recurrent gain and for the LSTM at each forget-gate bias."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for ax, kind, label in [(left, "SimpleRNN", "recurrent kernel × {:g}"), (right, "LSTM", "forget-gate bias {:g}")]:
        for value, norms in study[kind].items():
            ax.plot(np.arange(len(norms)), np.maximum(norms, 1e-300), label=label.format(value))
        ax.set(yscale="log", xlabel="k, steps back from the last output", title=f"{kind}: ‖∂h_T / ∂x_(T−k)‖")
        ax.legend(fontsize="small")
    left.set_ylabel("gradient norm (mean over the batch)")
    left.set_ylim(1e-20, 1e12)
    fig.tight_layout()
    return fig


def _draw_gates(trace: dict[str, np.ndarray], x: np.ndarray, t: int, axes3) -> None:
    top, middle, bottom = axes3
    steps = np.arange(x.shape[0])
    for f in range(x.shape[1]):
        top.step(steps, x[:, f], where="mid", label=f"input {f}")
    top.axvline(t, color="red")
    top.set(title=f"step {t}: the input", ylabel="x_t")
    top.legend(fontsize="small", loc="upper right")
    names = ["input", "forget", "candidate", "output"]
    values = [trace[name][0, t] for name in names]
    units = len(values[0])
    width = 0.8 / units
    for u in range(units):
        middle.bar(np.arange(4) + u * width, [v[u] for v in values], width=width, label=f"unit {u}")
    middle.set_xticks(np.arange(4) + 0.4 - width / 2, ["input i", "forget f", "candidate c̃", "output o"])
    middle.axhline(0, color="black", linewidth=0.5)
    middle.set(ylim=(-1.05, 1.05), title="gates at this step (i, f, o ∈ (0, 1); c̃ ∈ (−1, 1))")
    for u in range(units):
        bottom.plot(steps[:t + 1], trace["c"][0, :t + 1, u], marker="o", label=f"cell state c (unit {u})")
        bottom.plot(steps[:t + 1], trace["h"][0, :t + 1, u], linestyle="--", label=f"hidden state h (unit {u})")
    bottom.set(xlim=(-0.5, len(steps) - 0.5), ylim=(-1.05, 1.05), xlabel="step",
               title=f"c_t = f ⊙ c_(t−1) + i ⊙ c̃ = {trace['c'][0, t, 0]:+.3f}")
    bottom.legend(fontsize="small", loc="upper right")


def lstm_gate_explorer(lstm: LSTM, sequence):
    """Step ``lstm`` (a built :class:`labkit.nn.LSTM`) through one ``sequence`` (steps, features): a slider picks
    the step; the figure shows the input up to that step, the four gates there and the cell and hidden states so
    far. Headless, the last step is drawn as a plain figure."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    x = np.asarray(sequence, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"expected one sequence of shape (steps, features), got {x.shape}.")
    lstm.forward(x[None])
    trace = lstm.trace()
    # redraw on release, not for every step the handle passes: each redraw is a three-panel figure
    slider = widgets.IntSlider(value=len(x) - 1, min=0, max=len(x) - 1, description="step", continuous_update=False)

    def draw(t: int) -> None:
        fig, axes3 = plt.subplots(3, 1, figsize=(9, 7.5))
        _draw_gates(trace, x, int(t), axes3)
        fig.tight_layout()

    return slider_view(slider, draw)
