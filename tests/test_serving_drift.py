"""labkit.serving.drift against scipy: the PSI is the two KL divergences summed, the KS test is scipy's."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from labkit.serving.drift import (
    PSI_LARGE,
    bin_edges,
    category_psi,
    drift_report,
    kolmogorov_sf,
    ks_statistic,
    ks_test,
    psi,
    shares,
    should_retrain,
)

samples = st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=20, max_size=300)


@settings(max_examples=60, deadline=None)
@given(samples, st.integers(0, 10_000), st.floats(0, 1), st.integers(2, 12))
def test_psi_is_the_symmetric_kl_divergence_of_the_binned_shares(reference, seed, noise, bins):
    rng = np.random.default_rng(seed)
    current = rng.choice(reference, 2000) + rng.normal(0, noise * (np.std(reference) + 1), 2000)
    edges = bin_edges(reference, bins)
    e, a = shares(reference, edges), shares(current, edges)
    assume(np.isclose(a.sum(), 1) and np.isclose(e.sum(), 1))  # no empty bin: scipy's KL needs no floor
    assert psi(reference, current, bins) == pytest.approx(stats.entropy(a, e) + stats.entropy(e, a), rel=1e-9,
                                                          abs=1e-12)
    assert psi(reference, current, bins) >= 0


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 2.0))
def test_psi_grows_with_the_shift_and_is_zero_without_one(seed, shift):
    rng = np.random.default_rng(seed)
    reference = rng.normal(size=2000)
    assert psi(reference, reference) == 0.0
    assert psi(reference, reference + shift + 0.5) > psi(reference, reference + shift / 2)


def test_half_a_standard_deviation_is_a_large_shift():
    """The rule of thumb in numbers: a normal feature whose mean moves by half its spread reaches PSI 0.25."""
    rng = np.random.default_rng(1)
    values = [psi(rng.normal(size=20_000), rng.normal(0.5, 1, size=20_000)) for _ in range(5)]
    assert np.mean(values) == pytest.approx(PSI_LARGE, abs=0.02)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(-5, 5), min_size=1, max_size=200), st.lists(st.integers(-5, 5), min_size=1, max_size=200))
def test_ks_statistic_is_scipys_with_ties(a, b):
    assert ks_statistic(a, b) == pytest.approx(stats.ks_2samp(a, b, method="asymp").statistic, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(200, 3000), st.integers(200, 3000), st.floats(0, 0.3))
def test_ks_pvalue_is_kolmogorovs_limit_and_near_scipys_asymptotic_one(seed, n, m, shift):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(shift, 1, size=m)
    result = ks_test(a, b)
    limit = stats.kstwobign.sf(result.statistic * np.sqrt(n * m / (n + m)))
    assert result.pvalue == pytest.approx(limit, abs=1e-9)
    assert result.pvalue == pytest.approx(stats.ks_2samp(a, b, method="asymp").pvalue, abs=0.03)


@given(st.floats(0, 5))
def test_kolmogorov_series_matches_scipy(x):
    assert kolmogorov_sf(x) == pytest.approx(stats.kstwobign.sf(x), abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from("abcd"), min_size=1, max_size=80), st.lists(st.sampled_from("abcde"), min_size=1,
                                                                              max_size=80))
def test_category_psi_is_the_symmetric_kl_divergence_of_the_category_shares(reference, current):
    cats = sorted(set(reference) | set(current))
    e = np.maximum([reference.count(c) / len(reference) for c in cats], 1e-4)
    a = np.maximum([current.count(c) / len(current) for c in cats], 1e-4)
    assert category_psi(reference, current) == pytest.approx(float(np.sum((a - e) * np.log(a / e))), abs=1e-12)


def test_drift_report_flags_the_moved_feature_only():
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"temp": rng.normal(50, 10, 3000), "wind": rng.gamma(2, 5, 3000), "origin": ["JFK"] * 3000})
    cur = pd.DataFrame({"temp": rng.normal(75, 10, 3000), "wind": rng.gamma(2, 5, 3000), "origin": ["JFK"] * 3000})
    report = drift_report(ref, cur).set_index("feature")
    assert report.loc["temp", "verdict"] == "large shift" and report.loc["temp", "ks_pvalue"] < 1e-12
    assert report.loc["wind", "verdict"] == "stable" and report.loc["origin", "psi"] == 0
    assert np.isnan(report.loc["origin", "ks"])
    decision = should_retrain(report.reset_index())
    assert decision.retrain and decision.reasons == (f"temp drifted: PSI {report.loc['temp', 'psi']:.2f} > 0.25",)


@given(st.lists(st.floats(0, PSI_LARGE), min_size=1, max_size=6), st.floats(0, 1), st.floats(0, 0.049))
def test_no_retraining_without_drift_or_an_accuracy_drop(values, baseline, drop):
    report = pd.DataFrame({"feature": [f"f{i}" for i in range(len(values))], "psi": values})
    assert not should_retrain(report, live=baseline - drop, baseline=baseline).retrain


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="not columns of both"):
        drift_report(pd.DataFrame({"a": [1.0]}), pd.DataFrame({"b": [1.0]}), ["a"])
    with pytest.raises(ValueError, match="fewer than bins"):
        psi([1.0, 2.0], [1.0], bins=10)
    with pytest.raises(ValueError, match="NaN"):
        ks_statistic([1.0, float("nan")], [1.0])
