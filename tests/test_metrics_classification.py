"""labkit.metrics.classification against scikit-learn on random labels and scores."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from labkit import metrics


@st.composite
def labelled(draw, max_classes=5):
    n = draw(st.integers(1, 150))
    k = draw(st.integers(1, max_classes))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    t = rng.integers(0, k, n)
    p = np.where(rng.random(n) < draw(st.floats(0, 1)), t, rng.integers(0, k, n))
    return t, p


@st.composite
def scored(draw):
    n = draw(st.integers(2, 150))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    t = rng.integers(0, 2, n)
    t[:2] = [0, 1]  # both classes present
    decimals = draw(st.sampled_from([1, 2, 6]))  # 1 decimal: many tied scores
    s = np.round(rng.random(n) + draw(st.floats(0, 1)) * t, decimals)
    return t, s


@given(labelled())
def test_confusion_matrix_and_accuracy(data):
    t, p = data
    np.testing.assert_array_equal(metrics.confusion_matrix(t, p), skm.confusion_matrix(t, p))
    assert metrics.accuracy_score(t, p) == pytest.approx(skm.accuracy_score(t, p))


@given(labelled(max_classes=2))
def test_binary_scores(data):
    t, p = data
    for ours, theirs in [(metrics.precision_score, skm.precision_score), (metrics.recall_score, skm.recall_score),
                         (metrics.f1_score, skm.f1_score)]:
        assert ours(t, p) == pytest.approx(theirs(t, p, zero_division=0.0))


@settings(max_examples=60)
@given(labelled(), st.sampled_from(["micro", "macro", "weighted", None]), st.sampled_from([0.0, 1.0]))
def test_averaged_scores(data, average, zero_division):
    t, p = data
    ours = metrics.precision_recall_fscore_support(t, p, average=average, zero_division=zero_division)
    theirs = skm.precision_recall_fscore_support(t, p, average=average, zero_division=zero_division)
    for a, b in zip(ours[:3], theirs[:3], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)
    if average is None:
        np.testing.assert_array_equal(ours[3], theirs[3])


@given(labelled())
def test_cohen_kappa(data):
    t, p = data
    with warnings.catch_warnings():  # scikit-learn warns where kappa is undefined (nan)
        warnings.simplefilter("ignore")
        expected = skm.cohen_kappa_score(t, p)
    ours = metrics.cohen_kappa_score(t, p)
    assert (np.isnan(ours) and np.isnan(expected)) or ours == pytest.approx(expected)


@given(scored(), st.booleans())
def test_roc_curve_matches_sklearn_with_ties(data, drop):
    t, s = data
    for ours, theirs in zip(metrics.roc_curve(t, s, drop_intermediate=drop),
                            skm.roc_curve(t, s, drop_intermediate=drop), strict=True):
        np.testing.assert_allclose(ours, theirs)
    assert metrics.roc_auc_score(t, s) == pytest.approx(skm.roc_auc_score(t, s))


@given(scored())
def test_precision_recall_curve_and_average_precision(data):
    t, s = data
    for ours, theirs in zip(metrics.precision_recall_curve(t, s), skm.precision_recall_curve(t, s), strict=True):
        np.testing.assert_allclose(ours, theirs)
    assert metrics.average_precision_score(t, s) == pytest.approx(skm.average_precision_score(t, s))


def test_course_diabetes_example_exact_values():
    t = np.array([1] * 777 + [0] * 1063)
    p = np.array([1] * 750 + [0] * 27 + [1] * 38 + [0] * 1025)
    assert metrics.accuracy_score(t, p) == 1775 / 1840
    assert metrics.precision_score(t, p) == 750 / 788
    assert metrics.recall_score(t, p) == 750 / 777
    assert metrics.f1_score(t, p) == pytest.approx(1500 / 1565, abs=1e-15)
    assert round(metrics.f1_score(t, p), 4) == 0.9585  # the text's 0.9584 comes from truncated inputs


def test_string_labels_and_explicit_labels():
    t = ["spam", "ham", "spam", "ham"]
    p = ["spam", "spam", "ham", "ham"]
    np.testing.assert_array_equal(metrics.confusion_matrix(t, p, labels=["spam", "ham"]),
                                  skm.confusion_matrix(t, p, labels=["spam", "ham"]))
    assert metrics.f1_score(t, p, pos_label="spam") == skm.f1_score(t, p, pos_label="spam")


def test_single_class_edge_cases():
    assert metrics.precision_score([0, 0], [0, 0]) == 0.0
    assert metrics.precision_score([0, 0], [0, 0], zero_division=1.0) == 1.0
    with pytest.raises(ValueError, match="only one class"):
        metrics.roc_auc_score([1, 1, 1], [0.2, 0.5, 0.9])


def test_large_integer_labels_do_not_blow_up_memory():
    t = np.array([0, 10**12, 5])
    np.testing.assert_array_equal(metrics.confusion_matrix(t, t), np.eye(3, dtype=int))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: metrics.accuracy_score([], []), "empty"),
        (lambda: metrics.accuracy_score([1, 0], [1]), "same length"),
        (lambda: metrics.roc_auc_score([0, 1], [0.1, float("nan")]), "NaN at index 1"),
        (lambda: metrics.roc_auc_score([0, 1], ["a", "b"]), "must hold numbers"),
        (lambda: metrics.accuracy_score(5, [1]), "array-like"),
        (lambda: metrics.f1_score([0, 1, 2], [0, 1, 2]), "average='binary' needs two classes"),
        (lambda: metrics.f1_score([0, 1], [0, 1], average="mean"), "average must be one of"),
        (lambda: metrics.accuracy_score([0.5, 1.0], [1, 1]), "non-integer floats"),
        (lambda: metrics.f1_score([0, 1], [0, 1], zero_division=0.5), "zero_division"),
        (lambda: metrics.accuracy_score([[0, 1]], [[0, 1]]), "1-D"),
    ],
)
def test_bad_input_gets_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
