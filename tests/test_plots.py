"""Evaluation figures and the threshold explorer, in a browser session and headless."""

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from labkit.metrics import plots  # noqa: E402


@pytest.fixture()
def scores():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    return y, rng.random(200) + 0.4 * y


def test_explorer_in_a_browser_session_updates_an_image_and_its_text_never_an_output_widget(scores, monkeypatch):
    """Output captured by ipywidgets.Output makes headless clients send widget updates back to the kernel on
    the channel they await the cell's reply on, and now and then hang (nbclient #312): the explorer uses none."""
    import ipywidgets as widgets

    monkeypatch.delenv("LABKIT_HEADLESS", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    box = plots.threshold_explorer(*scores)
    slider, image, text = box.children
    assert isinstance(image, widgets.Image) and isinstance(text, widgets.HTML)
    assert not any(isinstance(child, widgets.Output) for child in box.children)
    first, first_text = image.value, text.value
    assert first[:4] == b"\x89PNG" and "precision" in first_text
    slider.value = 0.9  # moving the slider must redraw the ROC point through the observer
    assert image.value != first and text.value != first_text


def test_the_browser_echoing_the_first_value_back_does_not_redraw(scores, monkeypatch):
    """JupyterLab's slider sends the initial value back through float32 (0.5 -> 0.50000009). Redrawing for
    that echo replaced the figure with a blank one, which the browser tests caught; only a real move redraws."""
    import matplotlib.pyplot as plt

    monkeypatch.delenv("LABKIT_HEADLESS", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    plt.close("all")
    slider, image, _ = plots.threshold_explorer(*scores, initial=0.5).children
    first = image.value
    slider.value = 0.5000000887875202  # what JupyterLab sent back for 0.5, measured
    assert image.value is first
    slider.value = 0.6
    assert image.value != first


@pytest.mark.parametrize("variable", ["LABKIT_HEADLESS", "NBGRADER_EXECUTION"])
def test_explorer_headless_draws_statically_without_an_output_widget(scores, monkeypatch, variable):
    """nbclient can hang on output routed through ipywidgets.Output (nbclient #312): headless runs avoid it."""
    import ipywidgets as widgets

    monkeypatch.setenv(variable, "1")
    box = plots.threshold_explorer(*scores)
    assert len(box.children) == 1 and isinstance(box.children[0], widgets.FloatSlider)


def test_figures_are_titled_and_labelled(scores):
    y, s = scores
    assert plots.plot_roc_curve(y, s).get_xlabel().startswith("False positive rate")
    assert plots.plot_residuals([1.0, 2.0], [1.5, 1.5]).get_ylabel() == "Residual y − ŷ"
    with pytest.raises(ValueError, match="square"):
        plots.plot_confusion_matrix([[1, 2, 3]])
