"""labkit.hpo figures and the rung explorer, in a browser session and headless."""

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from labkit.hpo import ASHA, FIFOScheduler, RandomSearcher, choice, loguniform, tune, uniform  # noqa: E402
from labkit.hpo.plots import (  # noqa: E402
    plot_best_so_far,
    plot_metric_vs_resource,
    plot_parallel_coordinates,
    plot_worker_timeline,
    rung_explorer,
)

SPACE = {"x": uniform(0, 1), "lr": loguniform(1e-4, 1e-1), "act": choice(["relu", "tanh"])}


def curve(config, *, start, stop, checkpoint, seed):
    return [config["x"] * (1 - 2.0**-s) for s in range(start + 1, stop + 1)], None


@pytest.fixture(scope="module")
def asha():
    return tune(curve, ASHA(RandomSearcher(SPACE, seed=0), n_trials=27, max_resource=27), progress=False)


def test_metric_vs_resource_draws_one_curve_per_trial_and_marks_the_rungs(asha):
    plt.close("all")
    ax = plot_metric_vs_resource(asha)
    assert len(ax.get_lines()) - 3 == len(asha.scheduler.trials)  # plus a dashed line per rung below R: 1, 3, 9
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert sorted({line.get_xdata()[0] for line in dashed}) == [1, 3, 9]
    assert ax.get_xlabel() == "resource (epochs)"


def test_parallel_coordinates_scales_each_axis_to_the_unit_interval(asha):
    ax = plot_parallel_coordinates(asha)
    polylines = [line for line in ax.get_lines() if len(line.get_xdata()) == 3]
    assert len(polylines) == len(asha.scheduler.trials)
    ys = np.concatenate([line.get_ydata() for line in polylines])
    assert ys.min() >= 0 and ys.max() <= 1
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "lr", "act"]


def test_best_so_far_is_monotone_and_ends_at_the_total_compute(asha):
    random = tune(curve, FIFOScheduler(RandomSearcher(SPACE, seed=0), n_trials=5, max_resource=27), progress=False)
    ax = plot_best_so_far({"ASHA": asha, "random": random})
    for line, exp in zip(ax.get_lines(), (asha, random), strict=True):
        y = line.get_ydata()
        assert np.all(np.diff(y) >= 0)
        assert line.get_xdata()[-1] == exp.compute
    assert plot_worker_timeline(asha).get_title().startswith("ASHA: utilisation")


def test_rung_explorer_in_a_browser_session_redraws_on_the_slider(asha, monkeypatch):
    import ipywidgets as widgets

    monkeypatch.delenv("LABKIT_HEADLESS", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    plt.close("all")
    monkeypatch.setattr(plt, "close", lambda *a, **k: None)  # keep each rendered figure to count
    slider, image, text = rung_explorer(asha).children
    assert isinstance(image, widgets.Image) and isinstance(text, widgets.HTML)
    drawn, first = len(plt.get_fignums()), image.value
    slider.value = 3
    assert image.value != first and "<pre>" in text.value  # the step's note, printed
    assert len(plt.get_fignums()) == drawn + 1


def test_rung_explorer_headless_draws_statically(asha, monkeypatch):
    import ipywidgets as widgets

    monkeypatch.setenv("LABKIT_HEADLESS", "1")
    box = rung_explorer(asha)
    assert len(box.children) == 1 and isinstance(box.children[0], widgets.IntSlider)


def test_rung_explorer_needs_decisions():
    exp = tune(curve, FIFOScheduler(RandomSearcher(SPACE, seed=0), n_trials=1, max_resource=1), progress=False)
    exp.log = exp.log[exp.log["event"] == "result"]
    with pytest.raises(ValueError, match="took no decisions"):
        rung_explorer(exp)
