"""Small helpers shared by every plotting module."""

from __future__ import annotations

import math


def axes(ax=None, *, figsize: tuple[float, float] = (5, 4)):
    """``ax`` itself, or the axes of a new figure of ``figsize``."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def slider_view(slider, draw):
    """``draw(value)`` under an ipywidgets ``slider``: redrawn whenever it moves in JupyterLab; drawn once, as a
    plain figure, when headless (nbclient can hang on output routed through ``ipywidgets.Output``)."""
    import ipywidgets as widgets

    from labkit import headless

    if headless():
        draw(slider.value)
        return widgets.VBox([slider])
    out = widgets.Output()
    shown = [slider.value]

    def redraw(value) -> None:
        shown[0] = value
        with out:
            out.clear_output(wait=True)
            draw(value)

    def moved(change) -> None:
        # JupyterLab's slider echoes the first value back through float32 (0.5 → 0.50000009): not a move,
        # and redrawing for it replaced the figure with a blank one (caught by the browser tests)
        if not math.isclose(change["new"], shown[0], rel_tol=1e-6, abs_tol=1e-12):
            redraw(change["new"])

    slider.observe(moved, names="value")
    redraw(slider.value)
    return widgets.VBox([slider, out])
