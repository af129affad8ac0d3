"""Search spaces in the vocabulary of Hyperopt, Optuna and Azure ML.

A space is a dict from hyperparameter name to a distribution. Discrete ones (``choice``, ``randint``,
``quniform`` on a bounded range) can be enumerated for grid search; every one can be sampled.

>>> import numpy as np
>>> space = {"lr": loguniform(1e-4, 1e-1), "units": choice([32, 64, 128])}
>>> config = sample(space, np.random.default_rng(0))
>>> sorted(config), config["units"] in (32, 64, 128)
(['lr', 'units'], True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


class Distribution:
    """A hyperparameter's distribution: ``sample(rng)``; discrete ones also ``values()``."""

    discrete = False

    def sample(self, rng: np.random.Generator) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def values(self) -> list:
        raise ValueError(f"{self!r} is continuous and cannot be enumerated for grid search: "
                         "use choice(), randint() or quniform(), or random/Bayesian search.")


def _check_bounds(low: float, high: float, name: str) -> None:
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{name} bounds must be finite, got low={low!r}, high={high!r}.")
    if not low < high:
        raise ValueError(f"{name} needs low < high, got low={low!r}, high={high!r}.")


@dataclass(frozen=True)
class choice(Distribution):  # noqa: N801 - the name users know from Hyperopt and Azure ML
    """One of a list of options, uniformly: ``choice([16, 32, 64])``."""

    options: Sequence[Any]
    discrete = True

    def __post_init__(self) -> None:
        if isinstance(self.options, str | bytes) or not isinstance(self.options, Sequence):
            raise ValueError(f"choice needs a list of options, got {self.options!r}.")
        if len(self.options) == 0:
            raise ValueError("choice needs at least one option, got an empty list.")

    def sample(self, rng: np.random.Generator) -> Any:
        return self.options[int(rng.integers(len(self.options)))]

    def values(self) -> list:
        return list(self.options)


@dataclass(frozen=True)
class randint(Distribution):  # noqa: N801
    """An integer in ``[low, high)``, uniformly."""

    low: int
    high: int
    discrete = True

    def __post_init__(self) -> None:
        _check_bounds(self.low, self.high, "randint")

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high))

    def values(self) -> list:
        return list(range(self.low, self.high))


@dataclass(frozen=True)
class uniform(Distribution):  # noqa: N801
    """A float in ``[low, high)``, uniformly."""

    low: float
    high: float

    def __post_init__(self) -> None:
        _check_bounds(self.low, self.high, "uniform")

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))


@dataclass(frozen=True)
class quniform(Distribution):  # noqa: N801
    """``round(uniform(low, high) / q) * q``: evenly spaced values, enumerable for grid search."""

    low: float
    high: float
    q: float
    discrete = True

    def __post_init__(self) -> None:
        _check_bounds(self.low, self.high, "quniform")
        if not self.q > 0:
            raise ValueError(f"quniform needs q > 0, got {self.q!r}.")

    def sample(self, rng: np.random.Generator) -> float:
        return _quantise(rng.uniform(self.low, self.high), self.q)

    def values(self) -> list:
        first = math.ceil(self.low / self.q - 1e-9)
        last = math.floor(self.high / self.q + 1e-9)
        return [_quantise(k * self.q, self.q) for k in range(first, last + 1)]


@dataclass(frozen=True)
class loguniform(Distribution):  # noqa: N801
    """A float whose logarithm is uniform: ``loguniform(1e-4, 1e-1)`` spreads evenly over decades.

    Bounds are the values themselves (Optuna's and scikit-learn's convention, not Hyperopt's log-bounds).
    """

    low: float
    high: float

    def __post_init__(self) -> None:
        _check_bounds(self.low, self.high, "loguniform")
        if self.low <= 0:
            raise ValueError(f"loguniform needs low > 0, got {self.low!r}.")

    def sample(self, rng: np.random.Generator) -> float:
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))


@dataclass(frozen=True)
class normal(Distribution):  # noqa: N801
    """A float from N(mu, sigma²)."""

    mu: float
    sigma: float

    def __post_init__(self) -> None:
        if not self.sigma > 0:
            raise ValueError(f"normal needs sigma > 0, got {self.sigma!r}.")

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.normal(self.mu, self.sigma))


@dataclass(frozen=True)
class qnormal(Distribution):  # noqa: N801
    """``round(normal(mu, sigma) / q) * q``."""

    mu: float
    sigma: float
    q: float

    def __post_init__(self) -> None:
        if not self.sigma > 0 or not self.q > 0:
            raise ValueError(f"qnormal needs sigma > 0 and q > 0, got sigma={self.sigma!r}, q={self.q!r}.")

    def sample(self, rng: np.random.Generator) -> float:
        return _quantise(rng.normal(self.mu, self.sigma), self.q)


def _quantise(value: float, q: float) -> float:
    out = round(value / q) * q
    return float(round(out, 12))


def check_space(space: Mapping[str, Distribution]) -> None:
    """Raise a clear error for an empty or ill-formed space."""
    if not isinstance(space, Mapping):
        raise ValueError(f"a search space is a dict of name → distribution, got {type(space).__name__}.")
    if not space:
        raise ValueError("the search space is empty: give at least one hyperparameter.")
    for name, dist in space.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"hyperparameter names must be non-empty strings, got {name!r}.")
        if not isinstance(dist, Distribution):
            raise ValueError(f"{name!r} must be a distribution such as choice([...]) or uniform(a, b), "
                             f"got {dist!r}: wrap a list of values in choice().")


def sample(space: Mapping[str, Distribution], rng: np.random.Generator) -> dict[str, Any]:
    """One configuration drawn from every distribution of ``space``."""
    check_space(space)
    return {name: dist.sample(rng) for name, dist in space.items()}
