"""Lab 09's pictures: the gradient study's two panels and the LSTM gate explorer, in a browser and headless;
and the hand-set memory cell the explorer shows, against Keras running the same weights."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from labkit.nn.recurrent import LSTM, gradient_study, memory_cell_lstm  # noqa: E402
from labkit.nn.recurrent_plots import lstm_gate_explorer, plot_gradient_study  # noqa: E402

SEQUENCE = np.array([[0.8, 1], [0.1, 0], [-0.5, 0], [0.3, 0], [-0.6, 1], [0.9, 0], [0.2, 0]])


def test_the_memory_cell_stores_on_write_and_holds_otherwise_like_keras():
    import tensorflow as tf

    lstm = memory_cell_lstm()
    lstm.forward(SEQUENCE[None])
    c = lstm.trace()["c"][0, :, 0]
    np.testing.assert_allclose(c[:4], np.tanh(0.8), rtol=3e-3)
    np.testing.assert_allclose(c[4:], np.tanh(-0.6), rtol=3e-3)
    keras = tf.keras.layers.LSTM(1, return_sequences=True, dtype="float64")
    keras.build((None, 7, 2))
    keras.set_weights(lstm.get_weights())
    np.testing.assert_allclose(keras(SEQUENCE[None]).numpy()[0, :, 0], lstm.trace()["h"][0, :, 0], rtol=1e-10)


def test_gate_explorer_in_a_browser_redraws_the_step_the_slider_picks(monkeypatch):
    import ipywidgets as widgets

    monkeypatch.delenv("LABKIT_HEADLESS", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    plt.close("all")
    monkeypatch.setattr(plt, "close", lambda *a, **k: None)  # keep each rendered figure to look at
    slider, image, _ = lstm_gate_explorer(memory_cell_lstm(), SEQUENCE).children
    assert isinstance(image, widgets.Image) and slider.max == 6 and slider.value == 6
    drawn, first = len(plt.get_fignums()), image.value
    slider.value = 2
    assert image.value != first
    assert len(plt.get_fignums()) == drawn + 1
    top, middle, bottom = plt.figure(plt.get_fignums()[-1]).axes
    heights = [bar.get_height() for bar in middle.patches]
    assert heights[0] < 0.01 and heights[1] > 0.99                # step 2 does not write: i closed, f open
    assert len(bottom.get_lines()[0].get_xdata()) == 3            # cell state drawn for steps 0…2
    assert "+0.66" in bottom.get_title()                          # tanh 0.8, held


def test_gate_explorer_headless_draws_statically_and_explains_shapes(monkeypatch):
    import ipywidgets as widgets

    monkeypatch.setenv("LABKIT_HEADLESS", "1")
    box = lstm_gate_explorer(memory_cell_lstm(), SEQUENCE)
    assert len(box.children) == 1 and isinstance(box.children[0], widgets.IntSlider)
    with pytest.raises(ValueError, match="steps, features"):
        lstm_gate_explorer(memory_cell_lstm(), SEQUENCE[None])
    many = LSTM(3)
    many.build((7, 2), np.random.default_rng(0))
    lstm_gate_explorer(many, SEQUENCE)   # several units: grouped bars


def test_gradient_study_figure_has_a_line_per_setting():
    study = gradient_study(steps=20, units=4, gains=(0.5, 1.0, 3.0), forget_biases=(0.0, 3.0))
    left, right = plot_gradient_study(study).axes
    assert len(left.get_lines()) == 3 and len(right.get_lines()) == 2
    assert left.get_yscale() == "log"
