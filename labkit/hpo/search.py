"""Grid and random search: which configurations to try.

Grid search enumerates every combination of discrete values (the course's example: HP1 ∈ {2, 5} and
HP2 ∈ {60, 85, 90} give exactly 6 configurations); random search draws configurations independently,
which covers each important dimension with more distinct values for the same budget (Bergstra & Bengio, 2012).

>>> grid_configs({"HP1": choice([2, 5]), "HP2": choice([60, 85, 90])})[:2]
[{'HP1': 2, 'HP2': 60}, {'HP1': 2, 'HP2': 85}]
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np

from labkit.hpo.space import Distribution, check_space, choice, sample

__all__ = ["grid_configs", "random_configs", "choice"]


def grid_configs(space: Mapping[str, Distribution]) -> list[dict[str, Any]]:
    """Every combination of the values of a discrete space, the last hyperparameter varying fastest."""
    check_space(space)
    names = list(space)
    value_lists = [space[n].values() for n in names]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*value_lists)]


def random_configs(space: Mapping[str, Distribution], n: int, *, seed: int | None = None) -> list[dict[str, Any]]:
    """``n`` independent configurations drawn from ``space`` with a seeded generator."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}.")
    rng = np.random.default_rng(seed)
    return [sample(space, rng) for _ in range(n)]
