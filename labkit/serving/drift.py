"""Has the data a deployed model sees moved away from the data it was trained on?

A model is trained on one sample of the world and then scores another, later one. When the inputs' distribution
shifts (*data drift*: summer flights are not winter flights) the model's accuracy can fall before anyone has the
labels to measure it. Two standard per-feature measures compare the training data (the *reference*) with the
requests the model receives (the *current* data):

* the **population stability index** (PSI): bin the reference at its deciles, compare the share of each sample in
  each bin, ``PSI = Σ (current − reference) · ln(current / reference)``. It is the sum of the two Kullback–Leibler
  divergences between the binned distributions, so it is never negative and 0 only when every bin holds the same
  share. Credit scoring's rule of thumb: below 0.1 stable, 0.1 to 0.25 a moderate shift, above 0.25 a large one;
* the two-sample **Kolmogorov–Smirnov** test: the largest vertical gap ``D`` between the two empirical cumulative
  distribution functions, and the probability of a gap that large if both samples came from one distribution.

With thousands of requests a KS test finds *some* difference in nearly every feature (its p-value shrinks with the
sample size, a PSI does not), so :func:`drift_report` flags a feature on the PSI and shows the KS figures beside it.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> train, same, shifted = rng.normal(0, 1, 5000), rng.normal(0, 1, 5000), rng.normal(0.5, 1, 5000)
>>> round(psi(train, same), 3), round(psi(train, shifted), 2)
(0.005, 0.25)
>>> ks_test(train, shifted).statistic > ks_test(train, same).statistic
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from labkit._validation import check_int, check_numeric

# Credit scoring's rule of thumb for the PSI (Siddiqi, *Credit Risk Scorecards*, 2006): one home for both limits
PSI_MODERATE = 0.1
PSI_LARGE = 0.25
EPSILON = 1e-4  # the share given to a bin one sample leaves empty, so that ln(current / reference) stays finite


def bin_edges(reference: Any, bins: int = 10) -> np.ndarray:
    """The inner edges that cut ``reference`` into ``bins`` bins of equal counts (its quantiles), repeated
    values merged; the outer bins reach to −∞ and +∞, so a current value outside the reference's range is counted.

    >>> bin_edges([1, 2, 3, 4, 5, 6, 7, 8], bins=4)
    array([2.75, 4.5 , 6.25])
    """
    values = check_numeric("reference", reference)
    bins = check_int("bins", bins, minimum=2)
    if values.size < bins:
        raise ValueError(f"reference has {values.size} values, fewer than bins={bins}: pass more data or fewer bins.")
    return np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))


def shares(values: Any, edges: np.ndarray) -> np.ndarray:
    """The share of ``values`` in each bin between ``edges`` (a bin holds values up to and including its upper edge),
    empty bins given :data:`EPSILON` so that logarithms stay finite.

    >>> shares([1, 2, 2, 9], np.array([2.0, 5.0])).tolist()
    [0.75, 0.0001, 0.25]
    """
    counts = np.bincount(np.searchsorted(edges, check_numeric("values", values), side="left"),
                         minlength=edges.size + 1)
    return np.maximum(counts / max(counts.sum(), 1), EPSILON)


def psi(reference: Any, current: Any, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference`` over the reference's ``bins`` quantile bins.

    >>> psi([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], bins=5)
    0.0
    """
    edges = bin_edges(reference, bins)
    expected, actual = shares(reference, edges), shares(current, edges)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def category_psi(reference: Any, current: Any) -> float:
    """PSI of a categorical feature: each category of either sample is a bin.

    >>> round(category_psi(["AA", "AA", "B6", "DL"], ["AA", "B6", "B6", "DL"]), 4)
    0.3466
    """
    ref, cur = pd.Series(np.asarray(reference)), pd.Series(np.asarray(current))
    if ref.empty or cur.empty:
        raise ValueError("reference and current must each hold at least one value.")
    categories = sorted(set(ref.astype(str)) | set(cur.astype(str)))
    expected = np.maximum(ref.astype(str).value_counts(normalize=True).reindex(categories, fill_value=0), EPSILON)
    actual = np.maximum(cur.astype(str).value_counts(normalize=True).reindex(categories, fill_value=0), EPSILON)
    return float(np.sum((actual.to_numpy() - expected.to_numpy()) * np.log(actual.to_numpy() / expected.to_numpy())))


@dataclass(frozen=True)
class KSResult:
    """A two-sample Kolmogorov–Smirnov test: the largest gap ``statistic`` between the two empirical CDFs, and
    ``pvalue``, the chance of a gap at least that large if both samples came from one distribution."""

    statistic: float
    pvalue: float


def ks_statistic(reference: Any, current: Any) -> float:
    """The largest gap between the empirical CDFs of the two samples.

    >>> ks_statistic([1, 2, 3, 4], [3, 4, 5, 6])
    0.5
    """
    a, b = np.sort(check_numeric("reference", reference)), np.sort(check_numeric("current", current))
    if a.size == 0 or b.size == 0:
        raise ValueError("reference and current must each hold at least one value.")
    points = np.concatenate([a, b])  # the CDFs only change at the samples' values
    gaps = np.searchsorted(a, points, side="right") / a.size - np.searchsorted(b, points, side="right") / b.size
    return float(np.max(np.abs(gaps)))


def kolmogorov_sf(x: float, terms: int = 100) -> float:
    """P(K > x) for Kolmogorov's limiting distribution: ``2 Σ_k (−1)^(k−1) exp(−2 k² x²)``, or for small ``x``
    (where that series converges slowly) one minus the CDF's other series,
    ``√(2π) / x · Σ_k exp(−(2k − 1)² π² / (8 x²))``.

    >>> round(kolmogorov_sf(1.36), 3)
    0.049
    """
    if x < 0.05:  # P(K ≤ 0.05) is below 1e-200
        return 1.0
    if x < 1:
        cdf = math.sqrt(2 * math.pi) / x * sum(math.exp(-((2 * k - 1) ** 2) * math.pi ** 2 / (8 * x * x))
                                               for k in range(1, terms + 1))
        return float(min(max(1 - cdf, 0.0), 1.0))
    total = sum((-1) ** (k - 1) * math.exp(-2 * k * k * x * x) for k in range(1, terms + 1))
    return float(min(max(2 * total, 0.0), 1.0))


def ks_test(reference: Any, current: Any) -> KSResult:
    """Two-sample KS test with the asymptotic p-value (large samples, as monitoring has): the gap scaled by the
    effective sample size ``n·m / (n + m)`` follows Kolmogorov's distribution when nothing drifted."""
    statistic = ks_statistic(reference, current)
    n, m = np.size(reference), np.size(current)
    return KSResult(statistic, kolmogorov_sf(statistic * math.sqrt(n * m / (n + m))))


def verdict(value: float) -> str:
    """The rule of thumb's reading of a PSI value.

    >>> verdict(0.05), verdict(0.2), verdict(0.4)
    ('stable', 'moderate shift', 'large shift')
    """
    return "large shift" if value > PSI_LARGE else "moderate shift" if value > PSI_MODERATE else "stable"


def drift_report(reference: pd.DataFrame, current: pd.DataFrame, features: list[str] | None = None, *,
                 bins: int = 10) -> pd.DataFrame:
    """One row per feature: its PSI and reading, and (numeric features) the KS statistic and p-value.

    >>> ref = pd.DataFrame({"temp": np.arange(100.0), "carrier": ["AA", "DL"] * 50})
    >>> cur = pd.DataFrame({"temp": np.arange(100.0) + 30, "carrier": ["AA", "DL"] * 50})
    >>> drift_report(ref, cur)[["feature", "verdict"]].values.tolist()
    [['temp', 'large shift'], ['carrier', 'stable']]
    """
    features = list(reference.columns) if features is None else features
    missing = [f for f in features if f not in reference.columns or f not in current.columns]
    if missing:
        raise ValueError(f"features {missing} are not columns of both data frames: pick from "
                         f"{sorted(set(reference.columns) & set(current.columns))}.")
    rows = []
    for name in features:
        ref, cur = reference[name].dropna(), current[name].dropna()
        if pd.api.types.is_numeric_dtype(ref) and not pd.api.types.is_bool_dtype(ref):
            ks = ks_test(ref.to_numpy(), cur.to_numpy())
            value, statistic, pvalue = psi(ref.to_numpy(), cur.to_numpy(), bins), ks.statistic, ks.pvalue
        else:
            value, statistic, pvalue = category_psi(ref, cur), float("nan"), float("nan")
        rows.append({"feature": name, "psi": value, "verdict": verdict(value), "ks": statistic, "ks_pvalue": pvalue})
    return pd.DataFrame(rows, columns=["feature", "psi", "verdict", "ks", "ks_pvalue"])


@dataclass(frozen=True)
class RetrainDecision:
    """Whether to retrain, and the reasons in words (empty when the model may stay)."""

    retrain: bool
    reasons: tuple[str, ...]


def should_retrain(report: pd.DataFrame, *, live: float | None = None, baseline: float | None = None,
                   metric: str = "accuracy", psi_limit: float = PSI_LARGE, max_drop: float = 0.05) -> RetrainDecision:
    """Retrain when a feature's PSI passes ``psi_limit`` or, once labels arrive, the model's ``live`` score falls
    more than ``max_drop`` below the ``baseline`` score measured at training time (``metric`` names it).

    >>> report = pd.DataFrame({"feature": ["temp"], "psi": [0.31]})
    >>> should_retrain(report).reasons
    ('temp drifted: PSI 0.31 > 0.25',)
    >>> should_retrain(report.assign(psi=0.02), live=0.70, baseline=0.80).retrain
    True
    """
    reasons = [f"{row.feature} drifted: PSI {row.psi:.2f} > {psi_limit:g}"
               for row in report.itertuples() if row.psi > psi_limit]
    if live is not None and baseline is not None and baseline - live > max_drop:
        reasons.append(f"live {metric} {live:.3f} is more than {max_drop:g} below the {baseline:.3f} measured at "
                       "training time")
    return RetrainDecision(bool(reasons), tuple(reasons))
