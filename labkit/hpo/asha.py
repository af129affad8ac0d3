"""Asynchronous Successive Halving (ASHA; Li et al., 2020) and adaptive ASHA.

Rung k gives a trial ``min_resource · η^(s + k)`` (``s`` is the early-stopping rate; the last rung is
``max_resource``). Whenever a worker is free, ASHA's ``get_job`` looks from the top rung down for a trial that is
in the top ``⌊n_k / η⌋`` of the ``n_k`` results its rung has *so far* and was not promoted yet, and promotes it;
if there is none it starts a new trial on rung 0. No rung ever waits to be complete, so no worker ever idles —
which is why, in the course's words, in less than twice the time SHA runs 16 trials, ASHA runs 32. "Top" means
highest metric for ``mode="max"``, lowest for ``"min"``.

Adaptive ASHA (as in Determined AI) runs several ASHA brackets side by side, from the most aggressive
(``s = 0``, many short trials) to the most conservative (fewer trials, stopped late), and shares new trials among
them in Hyperband's proportions. ``adaptive_mode="aggressive"`` keeps only the first bracket, ``"standard"``
about half of them, ``"conservative"`` all.

>>> from labkit.hpo import RandomSearcher, uniform
>>> asha = ASHA(RandomSearcher({"x": uniform(0, 1)}, seed=0), n_trials=20, min_resource=1, max_resource=27)
>>> asha.milestones
[1, 3, 9, 27]
>>> [len(b.milestones) for b in AdaptiveASHA(RandomSearcher({"x": uniform(0, 1)}), n_trials=20,
...                                           max_resource=27, adaptive_mode="conservative").brackets]
[4, 3, 2, 1]
"""

from __future__ import annotations

from labkit.hpo.scheduler import Job, Scheduler, check_positive_int
from labkit.hpo.search import Searcher
from labkit.hpo.sha import check_eta
from labkit.hpo.stopping import Decision


def asha_milestones(min_resource: int, max_resource: int, eta: int, early_stopping_rate: int = 0) -> list[int]:
    """The resource of each rung: ``min_resource · η^(s+k)`` below ``max_resource``, then ``max_resource``."""
    milestones, k = [], early_stopping_rate
    while min_resource * eta**k < max_resource:
        milestones.append(min_resource * eta**k)
        k += 1
    return milestones + [max_resource]


class AsyncBracket:
    """One ASHA bracket inside a scheduler."""

    def __init__(self, owner: Scheduler, milestones: list[int], *, eta: int, name: str = "") -> None:
        self.owner, self.eta, self.name = owner, eta, name
        self.milestones = milestones
        self.rungs: list[dict[int, float]] = [{} for _ in milestones]
        self.promoted: list[set[int]] = [set() for _ in milestones]
        self.started = 0

    def promotion(self) -> Job | None:
        """Li et al.'s ``get_job`` without the new-trial branch: the best unpromoted trial in a rung's top 1/η."""
        for k in range(len(self.milestones) - 2, -1, -1):
            rung = self.rungs[k]
            n_top = len(rung) // self.eta
            for trial in self.owner.rank(rung)[:n_top]:
                if trial not in self.promoted[k]:
                    self.promoted[k].add(trial)
                    self.owner.emit(trial, self.milestones[k], Decision.PROMOTE,
                                    f"{self.name}top {n_top} of {len(rung)} at rung {k} → rung {k + 1} "
                                    f"({self.milestones[k + 1]})")
                    return self.owner.job(trial, self.milestones[k + 1])
        return None

    def start(self, trial: int) -> Job:
        self.started += 1
        return self.owner.job(trial, self.milestones[0])

    def on_result(self, trial: int, step: int, metric: float) -> Decision:
        if step not in self.milestones:
            return Decision.CONTINUE
        k = self.milestones.index(step)
        self.rungs[k][trial] = metric
        if k == len(self.milestones) - 1:
            return self.owner.emit(trial, step, Decision.STOP, "completed")
        return self.owner.emit(trial, step, Decision.PAUSE, f"{self.name}waits at rung {k}")


class ASHA(Scheduler):
    """Asynchronous successive halving over up to ``n_trials`` configurations from ``searcher``."""

    def __init__(self, searcher: Searcher, *, n_trials: int, min_resource: int = 1, max_resource: int,
                 reduction_factor: int = 3, early_stopping_rate: int = 0, mode: str = "max") -> None:
        super().__init__(searcher, max_resource=max_resource, mode=mode)
        self.n_trials = check_positive_int("n_trials", n_trials)
        check_positive_int("min_resource", min_resource)
        check_positive_int("early_stopping_rate", early_stopping_rate, minimum=0)
        self.eta = check_eta(reduction_factor)
        if min_resource * self.eta**early_stopping_rate > max_resource:
            raise ValueError(f"min_resource · η^early_stopping_rate = {min_resource * self.eta**early_stopping_rate}"
                             f" exceeds max_resource ({max_resource}): lower one of them.")
        self.milestones = asha_milestones(min_resource, max_resource, self.eta, early_stopping_rate)
        self.bracket = AsyncBracket(self, self.milestones, eta=self.eta)

    def suggest(self) -> Job | None:
        job = self.bracket.promotion()
        if job is None and len(self.trials) < self.n_trials:
            trial = self.new_trial()
            job = None if trial is None else self.bracket.start(trial)
        return job

    def on_result(self, trial: int, step: int, metric: float) -> Decision:
        self.record(trial, step, metric)
        return self.bracket.on_result(trial, step, metric)


ADAPTIVE_MODES = ("aggressive", "standard", "conservative")


class AdaptiveASHA(Scheduler):
    """Several ASHA brackets with early-stopping rates ``s = 0, 1, …``; see the module docstring."""

    def __init__(self, searcher: Searcher, *, n_trials: int, min_resource: int = 1, max_resource: int,
                 reduction_factor: int = 3, adaptive_mode: str = "standard", mode: str = "max") -> None:
        super().__init__(searcher, max_resource=max_resource, mode=mode)
        if adaptive_mode not in ADAPTIVE_MODES:
            raise ValueError(f"adaptive_mode must be one of {ADAPTIVE_MODES}, got {adaptive_mode!r}.")
        self.n_trials = check_positive_int("n_trials", n_trials)
        check_positive_int("min_resource", min_resource)
        self.eta = check_eta(reduction_factor)
        self.adaptive_mode = adaptive_mode
        max_rungs = len(asha_milestones(min_resource, max_resource, self.eta))
        n_brackets = {"aggressive": 1, "standard": (max_rungs - 1) // 2 + 1, "conservative": max_rungs}[adaptive_mode]
        self.brackets = [AsyncBracket(self, asha_milestones(min_resource, max_resource, self.eta, s), eta=self.eta,
                                      name=f"bracket {s}: ") for s in range(n_brackets)]
        top = max_rungs - 1  # Hyperband's share: a bracket with k + 1 rungs gets ∝ η^k / (k + 1) trials
        self.weights = [self.eta ** (top - s) / (top - s + 1) for s in range(n_brackets)]
        self.owner_of: dict[int, AsyncBracket] = {}

    def suggest(self) -> Job | None:
        for bracket in self.brackets:
            job = bracket.promotion()
            if job is not None:
                return job
        if len(self.trials) >= self.n_trials:
            return None
        trial = self.new_trial()
        if trial is None:
            return None
        shares = [b.started / w for b, w in zip(self.brackets, self.weights, strict=True)]
        bracket = self.brackets[min(range(len(shares)), key=lambda i: (shares[i], i))]
        self.owner_of[trial] = bracket
        return bracket.start(trial)

    def on_result(self, trial: int, step: int, metric: float) -> Decision:
        self.record(trial, step, metric)
        return self.owner_of[trial].on_result(trial, step, metric)


def trials_per_bracket(scheduler: AdaptiveASHA) -> list[int]:
    """How many trials each bracket of an adaptive ASHA run started."""
    return [b.started for b in scheduler.brackets]


__all__ = ["ASHA", "AdaptiveASHA", "asha_milestones", "trials_per_bracket"]
