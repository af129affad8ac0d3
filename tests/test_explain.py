"""labkit.explain against its oracles: a linear model's Shapley values in closed form, the subset formula, the
``shap`` package's KernelExplainer, and scikit-learn's permutation importance."""

import numpy as np
import pandas as pd
import pytest
import shap
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.inspection import permutation_importance as sklearn_permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

from labkit.explain import exact_shapley, kernel_shap, permutation_importance
from labkit.explain.shapley import background_sample

seeds = st.integers(0, 2**31 - 1)


def random_nonlinear(m: int, rng: np.random.Generator):
    """A model with interactions: tanh of a random quadratic form plus a product of two features."""
    a, w = rng.normal(size=(m, m)), rng.normal(size=m)
    return lambda X: np.tanh(np.einsum("ij,jk,ik->i", X, a, X) / m) + X @ w + X[:, 0] * X[:, -1]


@settings(max_examples=40, deadline=None)
@given(seeds, st.integers(1, 6))
def test_a_linear_models_shapley_values_are_its_weights_times_the_distance_to_the_mean(seed, m):
    rng = np.random.default_rng(seed)
    w, background, x = rng.normal(size=m), rng.normal(size=(int(rng.integers(1, 20)), m)), rng.normal(size=(1, m))
    expected = w * (x[0] - background.mean(axis=0))
    for explain in (exact_shapley, kernel_shap):
        found = explain(lambda X: X @ w + 3.0, x, background)
        assert found.values == pytest.approx(expected, abs=1e-9)
        assert found.base_value == pytest.approx(float(np.mean(background @ w + 3.0)))


@settings(max_examples=30, deadline=None)
@given(seeds, st.integers(2, 7))
def test_kernel_shap_with_every_coalition_is_the_subset_formula(seed, m):
    rng = np.random.default_rng(seed)
    model, background, x = random_nonlinear(m, rng), rng.normal(size=(8, m)), rng.normal(size=(1, m))
    exact, kernel = exact_shapley(model, x, background), kernel_shap(model, x, background)
    assert kernel.values == pytest.approx(exact.values, abs=1e-8)
    assert kernel.prediction == pytest.approx(float(model(x)[0]))  # efficiency: the values add up


@settings(max_examples=15, deadline=None)
@given(seeds)
def test_sampled_kernel_shap_adds_up_and_comes_close(seed):
    rng = np.random.default_rng(seed)
    m = 8
    model, background, x = random_nonlinear(m, rng), rng.normal(size=(10, m)), rng.normal(size=(1, m))
    exact = exact_shapley(model, x, background)
    sampled = kernel_shap(model, x, background, n_coalitions=4000, seed=seed)
    assert sampled.prediction == pytest.approx(exact.prediction, abs=1e-9)
    spread = np.abs(exact.values).max() + 1e-3
    assert np.abs(sampled.values - exact.values).max() < 0.15 * spread


def test_kernel_shap_agrees_with_the_shap_package_on_a_boosted_model():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 5)), columns=list("abcde"))
    y = X["a"] * X["b"] + np.sin(X["c"]) + rng.normal(0, 0.1, 300)
    model = GradientBoostingRegressor(n_estimators=50, random_state=0).fit(X, y)
    background = background_sample(X, 20, seed=1)
    explainer = shap.KernelExplainer(model.predict, background)
    for row in range(3):
        x = X.iloc[[row]]
        theirs = explainer.shap_values(x, nsamples=2 ** 5 - 2, silent=True)
        ours = kernel_shap(model.predict, x, background)
        assert ours.values == pytest.approx(np.ravel(theirs), abs=1e-6)
        assert ours.base_value == pytest.approx(float(explainer.expected_value), abs=1e-9)


def test_a_data_frame_keeps_its_column_names_and_types():
    X = pd.DataFrame({"carrier": ["AA", "DL", "AA", "UA"], "distance": [100.0, 2000.0, 500.0, 900.0]})

    def predict(frame: pd.DataFrame) -> np.ndarray:
        assert frame["distance"].dtype == float and set(frame["carrier"]) <= {"AA", "DL", "UA"}
        return (frame["carrier"] == "AA") * 10.0 + frame["distance"] / 100

    found = kernel_shap(predict, X.iloc[[1]], X)
    assert found.names == ["carrier", "distance"]
    assert found.values == pytest.approx([10.0 * (0 - 0.5), (2000 - 875) / 100])


@settings(max_examples=10, deadline=None)
@given(seeds)
def test_permutation_importance_agrees_with_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, 4))
    y = (2 * X[:, 0] - X[:, 1] + rng.normal(0, 0.5, 400) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    ours = permutation_importance(model.predict, X, y, accuracy_score, n_repeats=30, seed=seed)
    theirs = sklearn_permutation_importance(model, X, y, scoring="accuracy", n_repeats=30, random_state=seed)
    # each mean is over 30 shuffles: they agree within a few standard errors of the difference
    tolerance = 4 * np.sqrt((ours.std ** 2 + theirs.importances_std ** 2) / 30) + 1e-12
    assert np.all(np.abs(ours.mean - theirs.importances_mean) <= tolerance)
    assert ours.baseline == pytest.approx(accuracy_score(y, model.predict(X)))
    assert ours.table()["feature"].iloc[0] == "x0"


def test_a_feature_the_model_ignores_has_exactly_zero_importance():
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"used": rng.normal(size=200), "ignored": rng.normal(size=200)})
    y = X["used"].to_numpy() * 2
    imp = permutation_importance(lambda f: f["used"].to_numpy() * 2, X, y, lambda t, p: -np.mean((t - p) ** 2),
                                 n_repeats=4, seed=0)
    assert imp.mean[1] == 0 and imp.mean[0] > 1


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="one row with the background's 2 features"):
        kernel_shap(lambda X: X[:, 0], np.zeros((2, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="pass n_coalitions"):
        kernel_shap(lambda X: X[:, 0], np.zeros((1, 13)), np.zeros((3, 13)))
    with pytest.raises(ValueError, match="rows but y has"):
        permutation_importance(lambda X: X, np.zeros((3, 2)), [1, 2], accuracy_score)
    with pytest.raises(ValueError, match="2-D table"):
        permutation_importance(lambda X: X, np.zeros(3), [1, 2, 3], accuracy_score)
