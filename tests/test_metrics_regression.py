"""labkit.metrics.regression against scikit-learn on random inputs."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn import metrics as skm

from labkit import metrics

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def pairs(draw):
    n = draw(st.integers(1, 200))
    return draw(arrays(np.float64, n, elements=finite)), draw(arrays(np.float64, n, elements=finite))


@given(pairs())
def test_errors_match_sklearn(data):
    t, p = data
    assert metrics.mean_squared_error(t, p) == pytest.approx(skm.mean_squared_error(t, p), rel=1e-9, abs=1e-9)
    assert metrics.root_mean_squared_error(t, p) == pytest.approx(skm.root_mean_squared_error(t, p), rel=1e-9,
                                                                  abs=1e-9)
    assert metrics.mean_absolute_error(t, p) == pytest.approx(skm.mean_absolute_error(t, p), rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(metrics.residuals(t, p), t - p)


@given(pairs())
def test_r2_matches_sklearn_including_constant_targets(data):
    t, p = data
    assert metrics.r2_score(t, p) == pytest.approx(skm.r2_score(t, p), rel=1e-7, abs=1e-7, nan_ok=True)


@pytest.mark.parametrize("pred, expected", [([3.0, 3.0, 3.0], 1.0), ([3.0, 4.0, 3.0], 0.0)])
def test_r2_constant_target_convention(pred, expected):
    assert metrics.r2_score([3, 3, 3], pred) == expected == skm.r2_score([3, 3, 3], pred)


def test_course_worked_examples():
    y = np.full(100, 20.0)
    assert metrics.mean_squared_error(y, y + np.sqrt(10) * np.where(np.arange(100) % 2, 1, -1)) == pytest.approx(10)
    assert metrics.mean_absolute_error(y, y + np.where(np.arange(100) % 2, 2.5, -2.5)) == 2.5
    assert metrics.residuals([500], [450])[0] == 50


@pytest.mark.parametrize("r, r2", [(0.7, 0.49), (0.5, 0.25)])
def test_r2_of_a_line_is_r_squared(r, r2):
    from labkit.datasets import make_correlated

    x, y = make_correlated(400, r, seed=1)
    slope, intercept = np.polyfit(x, y, 1)
    assert metrics.r2_score(y, slope * x + intercept) == pytest.approx(r2, abs=1e-9)
