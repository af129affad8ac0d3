"""labkit.nn figures and the kernel explorer, in a browser session and headless."""

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from labkit.nn import Perceptron, conv2d, logic_gate  # noqa: E402
from labkit.nn.model import History  # noqa: E402
from labkit.nn.plots import (  # noqa: E402
    kernel_explorer,
    plot_activations,
    plot_curves,
    plot_decision_boundary,
    plot_digits,
)

IMAGE = np.random.default_rng(0).random((9, 7))
KERNEL = np.array([[1.0, 0.0], [-1.0, 2.0]])


def test_kernel_explorer_in_a_browser_redraws_and_fills_the_feature_map_up_to_the_slider(monkeypatch):
    import ipywidgets as widgets

    monkeypatch.delenv("LABKIT_HEADLESS", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    plt.close("all")
    monkeypatch.setattr(plt, "close", lambda *a, **k: None)  # keep each rendered figure to look at
    slider, image, _ = kernel_explorer(IMAGE, KERNEL).children
    assert isinstance(image, widgets.Image) and slider.max == 8 * 6 - 1
    drawn, first = len(plt.get_fignums()), image.value
    slider.value = 10
    assert image.value != first and image.value[:4] == b"\x89PNG"
    assert len(plt.get_fignums()) == drawn + 1
    feature_map = plt.figure(plt.get_fignums()[-1]).axes[2].images[0].get_array()
    expected = conv2d(IMAGE[None, :, :, None], KERNEL[:, :, None, None])[0, :, :, 0]
    filled = ~np.ma.getmaskarray(np.ma.masked_invalid(feature_map)).ravel()
    assert filled.sum() == 11  # positions 0…10, row by row
    np.testing.assert_allclose(np.asarray(feature_map).ravel()[filled], expected.ravel()[:11])


@pytest.mark.parametrize("variable", ["LABKIT_HEADLESS", "NBGRADER_EXECUTION"])
def test_kernel_explorer_headless_draws_statically(monkeypatch, variable):
    import ipywidgets as widgets

    monkeypatch.setenv(variable, "1")
    box = kernel_explorer(IMAGE, KERNEL)
    assert len(box.children) == 1 and isinstance(box.children[0], widgets.IntSlider)


def test_kernel_explorer_explains_wrong_shapes():
    with pytest.raises(ValueError, match="2-D image"):
        kernel_explorer(IMAGE[None], KERNEL)


def test_decision_boundary_separates_what_the_perceptron_learnt():
    x, t = logic_gate("and")
    ax = plot_decision_boundary(Perceptron().fit(x, t), x, t)
    assert len(ax.collections) >= 3  # the two regions and the two classes of points
    with pytest.raises(ValueError, match="2 inputs"):
        plot_decision_boundary(Perceptron().fit(x, t), np.c_[x, x], t)


def test_curves_draw_solid_training_and_dashed_validation_lines_per_run():
    ours = History()
    for epoch, (a, b) in enumerate([(1.0, 1.2), (0.5, 0.9)]):
        ours.record(epoch, loss=a, val_loss=b)
    ax = plot_curves({"labkit": ours, "dict": {"loss": [2.0, 1.0, 0.5]}})
    styles = [(line.get_label(), line.get_linestyle()) for line in ax.get_lines()]
    assert styles == [("labkit", "-"), ("labkit (val)", "--"), ("dict", "-")]
    with pytest.raises(KeyError, match="has no 'accuracy'"):
        plot_curves({"labkit": ours}, metric="accuracy")


def test_activation_and_digit_figures_render():
    assert len(plot_activations().axes) == 2
    fig = plot_digits(np.zeros((3, 784)), [1, 2, 3], predicted=[1, 0, 3], n=3, columns=3)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["1→1", "2→0", "3→3"]
    assert fig.axes[1].title.get_color() == "red"
