"""Grid and random search: which configurations to try.

Grid search enumerates every combination of discrete values (the course's example: HP1 ∈ {2, 5} and
HP2 ∈ {60, 85, 90} give exactly 6 configurations); random search draws configurations independently,
which covers each important dimension with more distinct values for the same budget (Bergstra & Bengio, 2012).

>>> from labkit.hpo.space import choice
>>> grid_configs({"HP1": choice([2, 5]), "HP2": choice([60, 85, 90])})[:2]
[{'HP1': 2, 'HP2': 60}, {'HP1': 2, 'HP2': 85}]
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np

from labkit.hpo.space import Distribution, check_space, sample

__all__ = ["grid_configs", "random_configs", "Searcher", "GridSearcher", "RandomSearcher"]


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


class Searcher:
    """Proposes configurations: ``ask()`` returns the next one (``None`` once exhausted); ``tell`` reports a
    loss (lower is better; schedulers negate maximised metrics) observed for a configuration at a resource."""

    def __init__(self, space: Mapping[str, Distribution]) -> None:
        check_space(space)
        self.space = dict(space)

    def ask(self) -> dict[str, Any] | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def tell(self, config: Mapping[str, Any], resource: float, loss: float) -> None:
        """Model-free searchers ignore results."""


class GridSearcher(Searcher):
    """Every configuration of :func:`grid_configs`, in order, then ``None``.

    >>> from labkit.hpo.space import choice
    >>> s = GridSearcher({"HP1": choice([2, 5]), "HP2": choice([60, 85, 90])})
    >>> [s.ask() for _ in range(7)][-2:]
    [{'HP1': 5, 'HP2': 90}, None]
    """

    def __init__(self, space: Mapping[str, Distribution]) -> None:
        super().__init__(space)
        self._configs = grid_configs(space)
        self._next = 0

    def __len__(self) -> int:
        return len(self._configs)

    def ask(self) -> dict[str, Any] | None:
        if self._next >= len(self._configs):
            return None
        self._next += 1
        return dict(self._configs[self._next - 1])


class RandomSearcher(Searcher):
    """Independent draws from the space with a seeded generator; never exhausted.

    >>> from labkit.hpo.space import choice
    >>> s = RandomSearcher({"HP1": choice([2, 5])}, seed=0)
    >>> s.ask()["HP1"] in (2, 5)
    True
    """

    def __init__(self, space: Mapping[str, Distribution], *, seed: int | None = None) -> None:
        super().__init__(space)
        self.rng = np.random.default_rng(seed)

    def ask(self) -> dict[str, Any]:
        return sample(self.space, self.rng)
