"""The scheduler protocol every tuning algorithm of :mod:`labkit.hpo` follows.

A scheduler drives trials through two calls, the way Ray Tune's do:

* ``suggest() → Job | None`` — what a free worker should run next: a new trial (``start == 0``), a paused trial
  resumed from its checkpoint, or (PBT) a trial restarted from another trial's checkpoint. ``None`` means
  "nothing now": wait for a running job to report, or, when nothing runs, the experiment is over.
* ``on_result(trial, step, metric) → Decision`` — a trial reports its metric after each unit of resource
  (an epoch); the answer is ``CONTINUE``, ``STOP`` (cut, or finished at the maximum resource), ``PAUSE`` (wait at a
  successive-halving rung) — and ``PROMOTE`` is announced when a paused trial is given more resource.

Every decision, including promotions made in ``suggest``, is also appended to ``events`` for the experiment log.
``mode="max"`` for metrics to maximise (accuracy), ``"min"`` for losses.

>>> from labkit.hpo import RandomSearcher, uniform
>>> fifo = FIFOScheduler(RandomSearcher({"x": uniform(0, 1)}, seed=0), n_trials=2, max_resource=2)
>>> job = fifo.suggest(); (job.trial, job.start, job.stop)
(0, 0, 2)
>>> fifo.on_result(0, 1, 0.5), fifo.on_result(0, 2, 0.7)
(<Decision.CONTINUE: 'continue'>, <Decision.STOP: 'stop'>)
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from labkit.hpo.search import Searcher
from labkit.hpo.stopping import Decision, EarlyStoppingPolicy


@dataclass(frozen=True)
class Job:
    """Train ``trial`` with ``config`` from resource ``start`` to ``stop``, resuming from the trial's checkpoint
    saved at ``start`` (none when ``start == 0``)."""

    trial: int
    config: dict[str, Any]
    start: int
    stop: int


@dataclass(frozen=True)
class Event:
    """One decision for the experiment log."""

    trial: int
    step: int
    decision: Decision
    note: str = ""


def check_mode(mode: str) -> str:
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' (e.g. accuracy) or 'min' (e.g. loss), got {mode!r}.")
    return mode


def check_positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value!r}.")
    return value


@dataclass
class TrialState:
    config: dict[str, Any]
    step: int = 0
    metric: float | None = None
    metrics: dict[int, float] = field(default_factory=dict)


class Scheduler:
    """Shared bookkeeping: trial creation from a searcher, the metric direction, and the event log."""

    def __init__(self, searcher: Searcher, *, max_resource: int, mode: str = "max") -> None:
        if not isinstance(searcher, Searcher):
            raise ValueError(f"searcher must be a labkit.hpo Searcher (GridSearcher, RandomSearcher, TPESearcher), "
                             f"got {type(searcher).__name__}: wrap a space as RandomSearcher(space, seed=0).")
        self.searcher = searcher
        self.max_resource = check_positive_int("max_resource", max_resource)
        self.mode = check_mode(mode)
        self.trials: dict[int, TrialState] = {}
        self.events: list[Event] = []
        #: ``(trial, donor, step)``: copy the donor's checkpoint at ``step`` into the trial now (PBT's exploit)
        self.clones: list[tuple[int, int, int]] = []

    # --- helpers for subclasses -------------------------------------------------------------
    def new_trial(self, config: dict[str, Any] | None = None) -> int | None:
        """Register a new trial with ``config`` or the searcher's next one; ``None`` when the searcher is spent."""
        if config is None:
            config = self.searcher.ask()
            if config is None:
                return None
        trial = len(self.trials)
        self.trials[trial] = TrialState(dict(config))
        return trial

    def better(self, a: float, b: float) -> bool:
        return a > b if self.mode == "max" else a < b

    def rank(self, values: dict[int, float]) -> list[int]:
        """Trial ids, best first; ties broken by trial id so runs are deterministic."""
        sign = -1.0 if self.mode == "max" else 1.0
        return sorted(values, key=lambda t: (sign * values[t], t))

    def emit(self, trial: int, step: int, decision: Decision, note: str = "") -> Decision:
        self.events.append(Event(trial, step, decision, note))
        return decision

    def record(self, trial: int, step: int, metric: float) -> None:
        if trial not in self.trials:
            raise ValueError(f"trial {trial!r} was never suggested by this scheduler.")
        if not math.isfinite(metric):
            raise ValueError(f"trial {trial} reported a non-finite metric {metric!r} at step {step}: "
                             "return a finite number (a diverged run can report its worst possible value).")
        state = self.trials[trial]
        state.step, state.metric = step, float(metric)
        state.metrics[step] = float(metric)
        self.searcher.tell(state.config, step, -metric if self.mode == "max" else metric)

    def job(self, trial: int, stop: int) -> Job:
        state = self.trials[trial]
        return Job(trial, dict(state.config), state.step, min(stop, self.max_resource))

    # --- the protocol ----------------------------------------------------------------------
    def suggest(self) -> Job | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def on_result(self, trial: int, step: int, metric: float) -> Decision:  # pragma: no cover - abstract
        raise NotImplementedError

    def finish(self) -> None:
        """At the end of an experiment, trials still paused at a rung are stopped (and the log says why)."""
        last: dict[int, Event] = {}
        for event in self.events:
            last[event.trial] = event
        for trial, event in last.items():
            if event.decision is Decision.PAUSE:
                self.emit(trial, event.step, Decision.STOP, "still paused when the experiment ended")

    def best(self) -> tuple[int, float] | None:
        """The trial with the best metric at the largest resource any trial reached, and that metric."""
        reached = [s.step for s in self.trials.values() if s.metric is not None]
        if not reached:
            return None
        top = max(reached)
        values = {t: s.metrics[top] for t, s in self.trials.items() if top in s.metrics}
        winner = self.rank(values)[0]
        return winner, values[winner]


class FIFOScheduler(Scheduler):
    """No early stopping: each of ``n_trials`` trials trains to ``max_resource`` in one job (plain grid, random
    or Bayesian search)."""

    def __init__(self, searcher: Searcher, *, n_trials: int, max_resource: int, mode: str = "max") -> None:
        super().__init__(searcher, max_resource=max_resource, mode=mode)
        self.n_trials = check_positive_int("n_trials", n_trials)

    def suggest(self) -> Job | None:
        if len(self.trials) >= self.n_trials:
            return None
        trial = self.new_trial()
        return None if trial is None else self.job(trial, self.max_resource)

    def on_result(self, trial: int, step: int, metric: float) -> Decision:
        self.record(trial, step, metric)
        if step >= self.max_resource:
            return self.emit(trial, step, Decision.STOP, "completed")
        return Decision.CONTINUE


class EarlyStoppingScheduler(Scheduler):
    """Trials train in segments of the policy's ``evaluation_interval``; the policy (bandit, median stopping,
    truncation selection) decides at each segment's end whether a trial goes on. Continuing trials are served
    before new ones.

    >>> from labkit.hpo import MedianStoppingPolicy, RandomSearcher, uniform
    >>> s = EarlyStoppingScheduler(RandomSearcher({"x": uniform(0, 1)}, seed=0), MedianStoppingPolicy(),
    ...                            n_trials=3, max_resource=4)
    >>> [(j.trial, j.start, j.stop) for j in (s.suggest(), s.suggest())]
    [(0, 0, 1), (1, 0, 1)]
    """

    def __init__(self, searcher: Searcher, policy: EarlyStoppingPolicy, *, n_trials: int, max_resource: int) -> None:
        if not isinstance(policy, EarlyStoppingPolicy):
            raise ValueError(f"policy must be a BanditPolicy, MedianStoppingPolicy or TruncationSelectionPolicy, "
                             f"got {type(policy).__name__}.")
        super().__init__(searcher, max_resource=max_resource, mode=policy.mode)
        self.policy = policy
        self.n_trials = check_positive_int("n_trials", n_trials)
        self._ready: deque[int] = deque()
        self._segment_end: dict[int, int] = {}

    def _next_stop(self, step: int) -> int:
        """The next step at which the policy decides (or the maximum resource)."""
        for candidate in range(step + 1, self.max_resource):
            if self.policy.applies_at(candidate):
                return candidate
        return self.max_resource

    def suggest(self) -> Job | None:
        if self._ready:
            trial = self._ready.popleft()
        elif len(self.trials) < self.n_trials:
            trial = self.new_trial()
            if trial is None:
                return None
        else:
            return None
        stop = self._next_stop(self.trials[trial].step)
        self._segment_end[trial] = stop
        return self.job(trial, stop)

    def on_result(self, trial: int, step: int, metric: float) -> Decision:
        self.record(trial, step, metric)
        decision = self.policy.on_result(trial, step, metric)
        if decision is Decision.STOP:
            return self.emit(trial, step, Decision.STOP, f"cut by {type(self.policy).__name__}")
        if step >= self.max_resource:
            return self.emit(trial, step, Decision.STOP, "completed")
        if step == self._segment_end.get(trial):
            self._ready.append(trial)
            if self.policy.applies_at(step):
                self.emit(trial, step, Decision.CONTINUE, f"kept by {type(self.policy).__name__}")
        return Decision.CONTINUE
