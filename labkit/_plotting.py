"""Small helpers shared by every plotting module."""

from __future__ import annotations


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

    def redraw(value) -> None:
        with out:
            out.clear_output(wait=True)
            draw(value)

    slider.observe(lambda change: redraw(change["new"]), names="value")
    redraw(slider.value)
    return widgets.VBox([slider, out])
