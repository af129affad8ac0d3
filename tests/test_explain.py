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


@settings(max_examples=30, deadline=None)
@given(seeds, st.integers(1, 6))
def test_lime_recovers_a_linear_models_weights_times_the_spreads(seed, m):
    from labkit.explain.lime import lime_tabular

    rng = np.random.default_rng(seed)
    data = rng.normal(size=(300, m)) * rng.uniform(0.5, 4, size=m)
    w = rng.normal(size=m)
    local = lime_tabular(lambda X: X @ w + 1.5, data[:1], data, n_samples=200, seed=seed)
    assert local.coefficients == pytest.approx(w * data.std(axis=0), rel=1e-4, abs=1e-6)
    assert local.intercept == pytest.approx(float(data[0] @ w + 1.5), abs=1e-6) and local.r2 == pytest.approx(1.0)


def test_lime_with_a_narrow_kernel_follows_the_local_gradient():
    """Calculus as the oracle: near x, f(z) = sin(z0) + z1² moves by cos(x0) and 2·x1 per unit."""
    from labkit.explain.lime import lime_tabular

    rng = np.random.default_rng(1)
    data = rng.normal(size=(1000, 2))
    x = np.array([[0.4, -0.7]])
    local = lime_tabular(lambda Z: np.sin(Z[:, 0]) + Z[:, 1] ** 2, x, data, n_samples=20_000, kernel_width=0.1,
                         seed=0)
    assert local.coefficients / local.scale == pytest.approx([np.cos(0.4), 2 * -0.7], abs=0.03)


@settings(max_examples=30, deadline=None)
@given(seeds, st.integers(1, 4), st.integers(1, 3))
def test_occlusion_of_a_linear_score_is_the_covered_weight_times_pixel(seed, patch, stride):
    from labkit.explain.occlusion import occlusion_map

    rng = np.random.default_rng(seed)
    image, weights = rng.random((8, 8)), rng.normal(size=(8, 8))

    def predict(images):  # class 0's "probability" is a weighted sum of the pixels, class 1 is far below it
        score = (images * weights).sum(axis=(1, 2))
        return np.stack([score + 100, np.zeros(len(images))], axis=1)

    found = occlusion_map(predict, image, patch=patch, stride=stride)
    starts = range(0, 8 - patch + 1, stride)
    expected = [[float((image * weights)[i:i + patch, j:j + patch].sum()) for j in starts] for i in starts]
    assert found == pytest.approx(np.array(expected), abs=1e-9)


def test_lime_and_occlusion_name_bad_input():
    from labkit.explain.lime import lime_tabular
    from labkit.explain.occlusion import occlusion_map

    with pytest.raises(ValueError, match="one row of 3 features"):
        lime_tabular(lambda X: X[:, 0], np.zeros((2, 3)), np.zeros((10, 3)))
    with pytest.raises(ValueError, match="patch"):
        occlusion_map(lambda X: X, np.zeros((4, 4)), patch=5)
