"""Population-Based Training (Jaderberg et al., 2017), asynchronous as in Ray Tune.

A population of ``population_size`` trials trains in segments of ``perturbation_interval`` steps. At the end of
each segment a trial whose latest metric is in the bottom ``quantile_fraction`` of the population's latest
metrics **exploits**: it copies the checkpoint (weights) and configuration of a trial drawn from the top
``quantile_fraction``, then **explores**: each hyperparameter is resampled from the space with probability
``resample_probability``, otherwise perturbed — a numeric value multiplied by 0.8 or 1.2 (kept inside its
bounds), a ``choice``/``randint`` moved to a neighbouring value. Bottom and top are by the highest metric for
``mode="max"``, the lowest for ``"min"``; a donor must have trained at least as long as the trial that copies it.
Every trial trains until ``max_resource`` and never goes back in time, so at most
``population_size × max_resource`` epochs are spent; the weights live on while the
hyperparameters change, so PBT finds a *schedule*, not a single configuration.

>>> from labkit.hpo import RandomSearcher, loguniform
>>> pbt = PBT(RandomSearcher({"lr": loguniform(1e-3, 1.0)}, seed=0), population_size=4, perturbation_interval=2,
...           max_resource=6, seed=0)
>>> [pbt.suggest().stop for _ in range(4)]
[2, 2, 2, 2]
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from labkit.hpo.scheduler import Job, Scheduler, check_positive_int
from labkit.hpo.search import Searcher
from labkit.hpo.space import Distribution, choice, loguniform, qnormal, quniform, randint, uniform
from labkit.hpo.stopping import Decision


def perturb(value: Any, dist: Distribution, rng: np.random.Generator, *, factors: tuple[float, float] = (0.8, 1.2)
            ) -> Any:
    """One explore step for one hyperparameter (without resampling)."""
    if isinstance(dist, choice | randint):
        options = dist.values()
        index = options.index(value) if value in options else 0
        index = int(np.clip(index + rng.choice([-1, 1]), 0, len(options) - 1))
        return options[index]
    new = float(value) * float(rng.choice(factors))
    if isinstance(dist, uniform | loguniform | quniform):
        new = float(np.clip(new, dist.low, dist.high))
    if isinstance(dist, quniform | qnormal):
        new = float(round(round(new / dist.q) * dist.q, 12))
    return new


class PBT(Scheduler):
    """Population-based training; see the module docstring for the exploit and explore rules."""

    def __init__(self, searcher: Searcher, *, population_size: int, perturbation_interval: int, max_resource: int,
                 quantile_fraction: float = 0.25, resample_probability: float = 0.25, mode: str = "max",
                 seed: int | None = None) -> None:
        super().__init__(searcher, max_resource=max_resource, mode=mode)
        self.population_size = check_positive_int("population_size", population_size, minimum=2)
        self.interval = check_positive_int("perturbation_interval", perturbation_interval)
        if not 0 < quantile_fraction <= 0.5:
            raise ValueError(f"quantile_fraction must be in (0, 0.5], got {quantile_fraction!r}.")
        if not 0 <= resample_probability <= 1:
            raise ValueError(f"resample_probability must be in [0, 1], got {resample_probability!r}.")
        self.quantile_fraction = quantile_fraction
        self.resample_probability = resample_probability
        self.rng = np.random.default_rng(seed)
        self._ready: deque[Job] = deque()
        self.exploits = 0

    def suggest(self) -> Job | None:
        """New members first, then the waiting member that is furthest behind, so the population keeps step."""
        if len(self.trials) < self.population_size:
            trial = self.new_trial()
            if trial is not None:
                return self.job(trial, self.interval)
        if not self._ready:
            return None
        job = min(self._ready, key=lambda j: (j.start, j.trial))
        self._ready.remove(job)
        return job

    def explore(self, config: dict[str, Any]) -> dict[str, Any]:
        new = {}
        for name, dist in self.searcher.space.items():
            if self.rng.random() < self.resample_probability:
                new[name] = dist.sample(self.rng)
            else:
                new[name] = perturb(config[name], dist, self.rng)
        return new

    def on_result(self, trial: int, step: int, metric: float) -> Decision:
        self.record(trial, step, metric)
        if step >= self.max_resource:
            return self.emit(trial, step, Decision.STOP, "completed")
        if step % self.interval:
            return Decision.CONTINUE
        latest = {t: s.metric for t, s in self.trials.items() if s.metric is not None}
        n_quantile = max(1, math.floor(len(latest) * self.quantile_fraction))
        ranked = self.rank(latest)
        # a donor must be at least as far along (a trial never goes back in time, so PBT always ends) and not done
        donors = [t for t in ranked[:n_quantile]
                  if t != trial and step <= self.trials[t].step < self.max_resource]
        if len(latest) < self.population_size or trial not in ranked[-n_quantile:] or not donors:
            self._ready.append(self.job(trial, step + self.interval))
            return Decision.CONTINUE
        donor = int(self.rng.choice(donors))
        state, source = self.trials[trial], self.trials[donor]
        old = state.config
        state.config = self.explore(source.config)
        state.step, state.metric = source.step, source.metric  # it now *is* the donor's model
        self.exploits += 1
        changes = ", ".join(f"{k} {_fmt(old[k])}→{_fmt(v)}" for k, v in state.config.items())
        self.clones.append((trial, donor, source.step))
        self._ready.append(self.job(trial, source.step + self.interval))
        return self.emit(trial, step, Decision.CONTINUE, f"exploit trial {donor} (at {source.step}); {changes}")


def _fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
