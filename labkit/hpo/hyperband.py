"""Hyperband's brackets (Li et al., 2018): trading many short trials against few long ones.

With maximum resource ``R`` per trial and reduction factor ``η``: ``s_max = ⌊log_η R⌋``; bracket ``s``
(from ``s_max`` down to 0) starts ``n = ⌈(s_max + 1) / (s + 1) · η^s⌉`` trials with ``r = R · η^−s`` resource
each, then runs successive halving: at rung ``i`` it keeps ``⌊n · η^−i⌋`` trials with ``r · η^i`` resource.

>>> [str(b) for b in hyperband_brackets(81, 3)]  # doctest: +NORMALIZE_WHITESPACE
['81@1 27@3 9@9 3@27 1@81', '34@3 11@9 3@27 1@81', '15@9 5@27 1@81', '8@27 2@81', '5@81']
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from labkit.hpo.scheduler import Job, Scheduler
from labkit.hpo.search import Searcher
from labkit.hpo.sha import SyncBracket, check_eta
from labkit.hpo.stopping import Decision


@dataclass(frozen=True)
class Bracket:
    """One bracket: ``rungs`` is a list of ``(trials, resource per trial)`` pairs, first rung first."""

    s: int
    rungs: tuple[tuple[int, float], ...]

    @property
    def total_resource(self) -> float:
        """Resource the bracket spends if every promoted trial runs from scratch at each rung."""
        return sum(n * r for n, r in self.rungs)

    def __str__(self) -> str:
        return " ".join(f"{n}@{r:g}" for n, r in self.rungs)


def _s_max(max_resource: float, eta: int) -> int:
    s = 0
    while eta ** (s + 1) <= max_resource * (1 + 1e-12):  # exact integer powers, no floating log
        s += 1
    return s


def hyperband_brackets(max_resource: float, eta: int = 3) -> list[Bracket]:
    """The brackets of one Hyperband iteration, most exploratory (``s = s_max``) first."""
    if not (isinstance(eta, int) and eta >= 2):
        raise ValueError(f"eta must be an integer ≥ 2, got {eta!r}.")
    if not max_resource >= 1:
        raise ValueError(f"max_resource must be at least 1, got {max_resource!r}.")
    s_max = _s_max(max_resource, eta)
    brackets = []
    for s in range(s_max, -1, -1):
        n = math.ceil((s_max + 1) * eta**s / (s + 1))
        r = max_resource / eta**s
        rungs = tuple((n // eta**i, r * eta**i) for i in range(s + 1))
        brackets.append(Bracket(s, rungs))
    return brackets


class Hyperband(Scheduler):
    """One Hyperband iteration: every bracket of :func:`hyperband_brackets` run as synchronous successive halving.

    Brackets share the workers: a free worker takes the first job any bracket can give, so a bracket waiting at
    its rung barrier does not hold the others up. Rung resources are rounded to whole units (epochs).

    >>> from labkit.hpo import RandomSearcher, uniform
    >>> hb = Hyperband(RandomSearcher({"x": uniform(0, 1)}, seed=0), max_resource=9, reduction_factor=3)
    >>> [b.sizes for b in hb.brackets], hb.n_trials
    ([[9, 3, 1], [5, 1], [3]], 17)
    """

    def __init__(self, searcher: Searcher, *, max_resource: int, reduction_factor: int = 3,
                 mode: str = "max") -> None:
        super().__init__(searcher, max_resource=max_resource, mode=mode)
        self.eta = check_eta(reduction_factor)
        self.brackets = [
            SyncBracket(self, [(n, max(1, round(r))) for n, r in b.rungs], eta=self.eta, name=f"bracket {b.s}: ")
            for b in hyperband_brackets(max_resource, self.eta)
        ]
        self.n_trials = sum(b.sizes[0] for b in self.brackets)
        self.owner_of: dict[int, SyncBracket] = {}

    def suggest(self) -> Job | None:
        for bracket in self.brackets:
            job = bracket.suggest()
            if job is not None:
                self.owner_of.setdefault(job.trial, bracket)
                return job
        return None

    def on_result(self, trial: int, step: int, metric: float) -> Decision:
        self.record(trial, step, metric)
        return self.owner_of[trial].on_result(trial, step, metric)
