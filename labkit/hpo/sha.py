"""Successive Halving (Jamieson & Talwalkar, 2016), the synchronous original.

Start ``n_trials`` trials with ``min_resource`` each (rung 0). When *every* trial of a rung has reported, promote
the best ``⌊n_k / η⌋`` (the top 1/η, η = ``reduction_factor``) to the next rung with η times the resource and stop
the rest; repeat until ``max_resource``. "Best" means highest for ``mode="max"``, lowest for ``"min"``; ties go
to the older trial. The rung barrier is what leaves workers idle: a rung's last, slowest trial holds everyone up.

>>> from labkit.hpo import RandomSearcher, uniform
>>> sha = SuccessiveHalving(RandomSearcher({"x": uniform(0, 1)}, seed=0), n_trials=9, min_resource=1,
...                         max_resource=9, reduction_factor=3)
>>> sha.rungs
[(9, 1), (3, 3), (1, 9)]
"""

from __future__ import annotations

from collections import deque

from labkit.hpo.scheduler import Job, Scheduler, check_positive_int
from labkit.hpo.search import Searcher
from labkit.hpo.stopping import Decision


def check_eta(reduction_factor: int) -> int:
    return check_positive_int("reduction_factor (η)", reduction_factor, minimum=2)


class SyncBracket:
    """One synchronous successive-halving bracket inside a scheduler: ``rungs`` is ``[(trials, resource), …]``."""

    def __init__(self, owner: Scheduler, rungs: list[tuple[int, int]], *, eta: int, name: str = "") -> None:
        self.owner, self.eta, self.name = owner, eta, name
        self.sizes = [n for n, _ in rungs]
        self.milestones = [r for _, r in rungs]
        self.rung = 0
        self.started = 0
        self.members: set[int] = set()
        self.results: dict[int, float] = {}
        self.pending: deque[int] = deque()

    @property
    def finished(self) -> bool:
        return self.rung >= len(self.sizes)

    def suggest(self) -> Job | None:
        if self.finished:
            return None
        if self.rung == 0 and self.started < self.sizes[0]:
            trial = self.owner.new_trial()
            if trial is None:  # the searcher ran out (a small grid): shrink the bracket to what started
                if self.started == 0:
                    self.rung = len(self.sizes)
                    return None
                self.sizes = [max(1, self.started // self.eta**k) for k in range(len(self.sizes))]
                if len(self.results) >= self.sizes[0]:  # every started trial has already reported
                    self._close_rung(self.milestones[0])
                return self.suggest()
            self.started += 1
            self.members.add(trial)
            return self.owner.job(trial, self.milestones[0])
        if self.pending:
            return self.owner.job(self.pending.popleft(), self.milestones[self.rung])
        return None

    def on_result(self, trial: int, step: int, metric: float) -> Decision:
        if self.finished or step != self.milestones[self.rung]:
            return Decision.CONTINUE
        self.results[trial] = metric
        if self.rung == len(self.sizes) - 1:
            decision = self.owner.emit(trial, step, Decision.STOP, "completed")
        else:
            decision = self.owner.emit(trial, step, Decision.PAUSE, f"{self.name}rung {self.rung} waits for "
                                       f"{self.sizes[self.rung] - len(self.results)} more")
        if len(self.results) >= self.sizes[self.rung]:
            self._close_rung(step)
        return decision

    def _close_rung(self, step: int) -> None:
        ranked = self.owner.rank(self.results)
        self.rung += 1
        self.results = {}
        if self.finished:
            return
        keep = self.sizes[self.rung]
        for position, trial in enumerate(ranked):
            if position < keep:
                self.owner.emit(trial, step, Decision.PROMOTE, f"{self.name}top {keep} of {len(ranked)} → rung "
                                f"{self.rung} ({self.milestones[self.rung]})")
                self.pending.append(trial)
            else:
                self.owner.emit(trial, step, Decision.STOP, f"{self.name}not in the top {keep} of {len(ranked)}")


def sha_rungs(n_trials: int, min_resource: int, max_resource: int, eta: int) -> list[tuple[int, int]]:
    """``[(trials, resource), …]``: rung k keeps ``⌊n / η^k⌋`` trials with ``min_resource · η^k`` each."""
    rungs, k = [], 0
    while min_resource * eta**k <= max_resource and n_trials // eta**k >= 1:
        rungs.append((n_trials // eta**k, min_resource * eta**k))
        k += 1
    return rungs


class SuccessiveHalving(Scheduler):
    """Synchronous successive halving over ``n_trials`` configurations from ``searcher``."""

    def __init__(self, searcher: Searcher, *, n_trials: int, min_resource: int = 1, max_resource: int,
                 reduction_factor: int = 3, mode: str = "max") -> None:
        super().__init__(searcher, max_resource=max_resource, mode=mode)
        check_positive_int("n_trials", n_trials)
        check_positive_int("min_resource", min_resource)
        if min_resource > max_resource:
            raise ValueError(f"min_resource ({min_resource}) must not exceed max_resource ({max_resource}).")
        self.eta = check_eta(reduction_factor)
        self.rungs = sha_rungs(n_trials, min_resource, max_resource, self.eta)
        self.bracket = SyncBracket(self, self.rungs, eta=self.eta)

    def suggest(self) -> Job | None:
        return self.bracket.suggest()

    def on_result(self, trial: int, step: int, metric: float) -> Decision:
        self.record(trial, step, metric)
        return self.bracket.on_result(trial, step, metric)
