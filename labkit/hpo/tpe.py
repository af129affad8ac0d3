"""Bayesian search with the Tree-structured Parzen Estimator (Bergstra et al., 2011), as in Hyperopt and Optuna.

After ``n_startup`` random configurations, each ``ask()``:

1. splits the observations at the γ-quantile of the loss: the best ``⌈γ · n⌉`` are *good*, the rest *bad*;
2. fits, per hyperparameter, a Parzen density to each group — for a numeric one a mixture of Gaussians centred
   on the observed values plus one wide prior component, each Gaussian as wide as the larger gap to its
   neighbours (Hyperopt's adaptive Parzen rule), truncated to the bounds (in log space for ``loguniform``); for
   ``choice``/``randint`` the smoothed category frequencies — giving ``l(x)`` (good) and ``g(x)`` (bad);
3. draws ``n_candidates`` candidates from ``l`` and returns the one with the largest ``l(x) / g(x)``, which
   maximises the expected improvement over the γ-quantile (Bergstra et al., eq. 4).

Losses come from the scheduler (a maximised metric is negated). With several resources (ASHA, Hyperband) the
model uses the largest resource with at least ``n_startup`` observations, as BOHB does.

>>> from labkit.hpo import uniform
>>> tpe = TPESearcher({"x": uniform(-5, 5)}, n_startup=5, seed=0)
>>> for _ in range(30):
...     c = tpe.ask(); tpe.tell(c, 1, (c["x"] - 2) ** 2)
>>> abs(tpe.ask()["x"] - 2) < 1
True
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

from labkit.hpo.search import Searcher
from labkit.hpo.space import Distribution, _quantise, choice, loguniform, normal, qnormal, quniform, randint, sample

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


@dataclass(frozen=True)
class ParzenEstimator:
    """A mixture of Gaussians truncated to ``[low, high]`` (infinite bounds allowed)."""

    mus: np.ndarray
    sigmas: np.ndarray
    weights: np.ndarray
    low: float = -math.inf
    high: float = math.inf

    @classmethod
    def fit(cls, points: np.ndarray, *, prior_mu: float, prior_sigma: float, low: float = -math.inf,
            high: float = math.inf, prior_weight: float = 1.0) -> ParzenEstimator:
        """Hyperopt's adaptive Parzen estimator of ``points`` with a prior component ``N(prior_mu, prior_sigma)``."""
        points = np.clip(np.asarray(points, dtype=float), low, high)  # a quantised value may sit just outside
        mus = np.append(points, prior_mu)
        weights = np.append(np.ones(len(points)), prior_weight)
        order = np.argsort(mus, kind="stable")
        sorted_mus = mus[order]
        if len(points) == 0:
            sigmas_sorted = np.array([prior_sigma])
        else:
            gaps = np.diff(sorted_mus)
            left = np.append(gaps[0], gaps)  # an edge point uses its only neighbour
            right = np.append(gaps, gaps[-1])
            sigmas_sorted = np.maximum(left, right)
        sigmas = np.empty_like(sigmas_sorted)
        sigmas[order] = sigmas_sorted
        floor = prior_sigma / min(100.0, 1.0 + len(points))
        sigmas = np.clip(sigmas, floor, prior_sigma)
        sigmas[-1] = prior_sigma  # the prior keeps its own width
        return cls(mus, sigmas, weights / weights.sum(), low, high)

    def _mass(self) -> np.ndarray:
        return ndtr((self.high - self.mus) / self.sigmas) - ndtr((self.low - self.mus) / self.sigmas)

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log density at each ``x`` (``-inf`` outside the bounds)."""
        x = np.atleast_1d(np.asarray(x, dtype=float))[:, None]
        z = (x - self.mus) / self.sigmas
        log_components = -0.5 * z**2 - _LOG_SQRT_2PI - np.log(self.sigmas) - np.log(np.maximum(self._mass(), 1e-300))
        out = np.logaddexp.reduce(log_components + np.log(self.weights), axis=1)
        return np.where((x[:, 0] < self.low) | (x[:, 0] > self.high), -np.inf, out)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws: a component by weight, then its truncated Gaussian by inverse CDF."""
        k = rng.choice(len(self.mus), size=n, p=self.weights)
        mu, sigma = self.mus[k], self.sigmas[k]
        lo, hi = ndtr((self.low - mu) / sigma), ndtr((self.high - mu) / sigma)
        u = lo + rng.random(n) * (hi - lo)
        return np.clip(mu + sigma * ndtri(np.clip(u, 1e-300, 1 - 1e-16)), self.low, self.high)


def _numeric_prior(dist: Distribution) -> tuple[float, float, float, float]:
    """(prior mean, prior sigma, low, high) in the space the estimator works in."""
    if isinstance(dist, normal | qnormal):
        return dist.mu, dist.sigma, -math.inf, math.inf
    low, high = (math.log(dist.low), math.log(dist.high)) if isinstance(dist, loguniform) else (dist.low, dist.high)
    return (low + high) / 2, high - low, low, high


def _to_model(dist: Distribution, value: float) -> float:
    return math.log(value) if isinstance(dist, loguniform) else float(value)


def _from_model(dist: Distribution, value: float) -> float:
    if isinstance(dist, loguniform):
        return float(min(max(math.exp(value), dist.low), dist.high))
    if isinstance(dist, quniform | qnormal):
        return _quantise(value, dist.q)
    return float(value)


class TPESearcher(Searcher):
    """Tree-structured Parzen Estimator search; see the module docstring."""

    def __init__(self, space: Mapping[str, Distribution], *, n_startup: int = 10, gamma: float = 0.25,
                 n_candidates: int = 24, prior_weight: float = 1.0, seed: int | None = None) -> None:
        super().__init__(space)
        if not isinstance(n_startup, int) or n_startup < 2:
            raise ValueError(f"n_startup must be an integer ≥ 2, got {n_startup!r}.")
        if not 0 < gamma < 1:
            raise ValueError(f"gamma must be in (0, 1), got {gamma!r}.")
        if not isinstance(n_candidates, int) or n_candidates < 1:
            raise ValueError(f"n_candidates must be a positive integer, got {n_candidates!r}.")
        self.n_startup, self.gamma, self.n_candidates, self.prior_weight = n_startup, gamma, n_candidates, prior_weight
        self.rng = np.random.default_rng(seed)
        self._by_resource: dict[float, dict[str, tuple[dict[str, Any], float]]] = {}

    def tell(self, config: Mapping[str, Any], resource: float, loss: float) -> None:
        key = json.dumps(config, sort_keys=True, default=str)
        self._by_resource.setdefault(resource, {})[key] = (dict(config), float(loss))

    def observations(self) -> list[tuple[dict[str, Any], float]]:
        """The (config, loss) pairs the model is fitted on: the largest resource with ≥ ``n_startup`` of them."""
        for resource in sorted(self._by_resource, reverse=True):
            if len(self._by_resource[resource]) >= self.n_startup:
                return list(self._by_resource[resource].values())
        return []

    def split(self, observations: list[tuple[dict[str, Any], float]]) -> tuple[list[dict], list[dict]]:
        """Good (the ``⌈γ·n⌉`` lowest losses) and bad configurations; ties keep arrival order."""
        order = sorted(range(len(observations)), key=lambda i: observations[i][1])
        n_good = max(1, math.ceil(self.gamma * len(observations)))
        good = [observations[i][0] for i in order[:n_good]]
        bad = [observations[i][0] for i in order[n_good:]]
        return good, bad

    def ask(self) -> dict[str, Any]:
        observations = self.observations()
        if not observations:
            return sample(self.space, self.rng)
        good, bad = self.split(observations)
        scores = np.zeros(self.n_candidates)
        candidates: dict[str, list] = {}
        for name, dist in self.space.items():
            values, log_l, log_g = self._dimension(dist, [c[name] for c in good], [c[name] for c in bad])
            candidates[name] = values
            scores += log_l - log_g
        best = int(np.argmax(scores))
        return {name: candidates[name][best] for name in self.space}

    def _dimension(self, dist: Distribution, good: list, bad: list) -> tuple[list, np.ndarray, np.ndarray]:
        """Candidates for one hyperparameter drawn from l, with their log l and log g."""
        if isinstance(dist, choice | randint):
            options = dist.values()
            index = {json.dumps(o, default=str): i for i, o in enumerate(options)}

            def probabilities(values: list) -> np.ndarray:
                counts = np.full(len(options), self.prior_weight)  # Laplace smoothing: unseen options stay in play
                for v in values:
                    counts[index[json.dumps(v, default=str)]] += 1
                return counts / counts.sum()

            p_good, p_bad = probabilities(good), probabilities(bad)
            picks = self.rng.choice(len(options), size=self.n_candidates, p=p_good)
            return [options[i] for i in picks], np.log(p_good[picks]), np.log(p_bad[picks])
        prior_mu, prior_sigma, low, high = _numeric_prior(dist)

        def estimator(values: list) -> ParzenEstimator:
            return ParzenEstimator.fit(np.array([_to_model(dist, v) for v in values]), prior_mu=prior_mu,
                                       prior_sigma=prior_sigma, low=low, high=high, prior_weight=self.prior_weight)

        l_est, g_est = estimator(good), estimator(bad)
        drawn = l_est.sample(self.rng, self.n_candidates)
        values = [_from_model(dist, x) for x in drawn]
        at = np.array([_to_model(dist, v) for v in values])
        return values, l_est.logpdf(at), g_est.logpdf(at)
