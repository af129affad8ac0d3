"""labkit.metrics.clustering against scikit-learn on random point clouds and labellings."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from labkit import metrics


@st.composite
def clustered(draw):
    n = draw(st.integers(3, 120))
    d = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    k = draw(st.integers(2, min(6, n - 1)))
    labels = np.r_[np.arange(k), rng.integers(0, k, n - k)]  # every cluster present, singletons possible
    x = rng.normal(size=(n, d)) * draw(st.floats(0.1, 100)) + labels[:, None] * draw(st.floats(0, 5))
    return x, labels


@settings(max_examples=60)
@given(clustered(), st.sampled_from(["euclidean", "sqeuclidean"]))
def test_silhouette_matches_sklearn(data, metric):
    x, labels = data
    np.testing.assert_allclose(metrics.silhouette_samples(x, labels, metric=metric),
                               skm.silhouette_samples(x, labels, metric=metric), atol=1e-7)


@given(clustered())
def test_chunked_silhouette_equals_unchunked(data):
    x, labels = data
    np.testing.assert_allclose(metrics.silhouette_samples(x, labels, chunk_bytes=1),
                               metrics.silhouette_samples(x, labels), atol=1e-12)


@given(clustered())
def test_davies_bouldin_matches_sklearn(data):
    x, labels = data
    # scikit-learn's centroid distances use the |x|² + |y|² - 2x·y trick, good to about 1e-7 relative
    assert metrics.davies_bouldin_score(x, labels) == pytest.approx(skm.davies_bouldin_score(x, labels), rel=1e-6)


@given(st.integers(1, 200), st.integers(1, 8), st.integers(1, 8), st.integers(0, 2**32 - 1))
def test_rand_and_adjusted_rand_match_sklearn(n, ka, kb, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, ka, n), rng.integers(0, kb, n)
    assert metrics.rand_score(a, b) == pytest.approx(skm.rand_score(a, b))
    assert metrics.adjusted_rand_score(a, b) == pytest.approx(skm.adjusted_rand_score(a, b))


def test_silhouette_needs_two_to_n_minus_one_clusters():
    with pytest.raises(ValueError, match="between 2 and n_samples - 1"):
        metrics.silhouette_score([[0.0], [1.0], [2.0]], [0, 0, 0])


def test_silhouette_memory_is_bounded():
    import tracemalloc

    rng = np.random.default_rng(0)
    x = rng.normal(size=(6000, 8))
    labels = rng.integers(0, 5, 6000)
    tracemalloc.start()
    metrics.silhouette_score(x, labels, chunk_bytes=8 * 2**20)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 6000 * 6000 * 8 / 4, f"peak {peak / 2**20:.0f} MiB: the distance matrix was materialised"
