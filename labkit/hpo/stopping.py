"""Early-stopping policies: cancel runs that are unlikely to win, as Azure ML's HyperDrive does.

Every policy follows one protocol, ``on_result(trial, step, metric) → Decision``: a trial reports its
primary metric after each interval (an epoch, say; ``step`` counts from 1) and learns whether to go on.
A policy acts only at steps that are multiples of ``evaluation_interval`` and not before
``delay_evaluation``; in between it answers ``CONTINUE``. ``mode="max"`` for metrics to maximise (accuracy),
``"min"`` for metrics to minimise (loss).

* :class:`BanditPolicy` — cancel a run that falls outside the slack of the best run at this step;
* :class:`MedianStoppingPolicy` — cancel a run whose best value so far is worse than the median of the
  other runs' running averages at this step;
* :class:`TruncationSelectionPolicy` — cancel the runs in the worst ``truncation_percentage`` % at this step.

>>> policy = MedianStoppingPolicy()
>>> for run, value in enumerate([0.62, 0.68, 0.71, 0.75, 0.78]):   # the course's five finished runs
...     _ = policy.on_result(run, 1, value)
>>> policy.on_result("sixth", 1, 0.70), policy.on_result("seventh", 1, 0.72)
(<Decision.STOP: 'stop'>, <Decision.CONTINUE: 'continue'>)
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from enum import StrEnum

import numpy as np


class Decision(StrEnum):
    """What a scheduler tells a trial after a result."""

    CONTINUE = "continue"  #: keep training
    STOP = "stop"  #: stop for good (cut early, or finished at the maximum resource)
    PROMOTE = "promote"  #: resume a paused trial on the next rung with more resource
    PAUSE = "pause"  #: wait at a rung: successive halving may promote it later


class EarlyStoppingPolicy:
    """Shared bookkeeping: every reported metric by trial and step, and when the policy applies."""

    def __init__(self, *, evaluation_interval: int = 1, delay_evaluation: int = 0, mode: str = "max") -> None:
        if not isinstance(evaluation_interval, int) or evaluation_interval < 1:
            raise ValueError(f"evaluation_interval must be a positive integer, got {evaluation_interval!r}.")
        if not isinstance(delay_evaluation, int) or delay_evaluation < 0:
            raise ValueError(f"delay_evaluation must be a non-negative integer, got {delay_evaluation!r}.")
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' (e.g. accuracy) or 'min' (e.g. loss), got {mode!r}.")
        self.evaluation_interval = evaluation_interval
        self.delay_evaluation = delay_evaluation
        self.mode = mode
        self.history: dict[Hashable, dict[int, float]] = {}

    def _better(self, a: float, b: float) -> bool:
        return a > b if self.mode == "max" else a < b

    def applies_at(self, step: int) -> bool:
        return step >= max(1, self.delay_evaluation) and step % self.evaluation_interval == 0

    def record(self, trial: Hashable, step: int, metric: float) -> None:
        if not isinstance(step, int) or step < 1:
            raise ValueError(f"step must be a positive integer (1 for the first interval), got {step!r}.")
        if not math.isfinite(metric):
            raise ValueError(f"trial {trial!r} reported a non-finite metric {metric!r} at step {step}.")
        self.history.setdefault(trial, {})[step] = float(metric)

    def on_result(self, trial: Hashable, step: int, metric: float) -> Decision:
        """Record ``metric`` for ``trial`` at ``step`` and decide whether the trial goes on."""
        self.record(trial, step, metric)
        return self.decide(trial, step)

    def decide(self, trial: Hashable, step: int) -> Decision:
        """The decision for ``trial`` at ``step`` given everything recorded so far."""
        if not self.applies_at(step):
            return Decision.CONTINUE
        return Decision.STOP if self._should_stop(trial, step) else Decision.CONTINUE

    def _should_stop(self, trial: Hashable, step: int) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def _values_at(self, step: int) -> dict[Hashable, float]:
        return {t: h[step] for t, h in self.history.items() if step in h}


class BanditPolicy(EarlyStoppingPolicy):
    """Cancel a run whose metric at this step is outside the slack of the best run's at this step.

    Maximised metric, ``slack_factor`` f: stop when ``metric < best / (1 + f)``; ``slack_amount`` a: stop when
    ``metric < best − a``. Minimised metric: stop when ``metric > best · (1 + f)`` or ``metric > best + a``.
    (``slack_factor`` assumes a positive metric.)

    >>> policy = BanditPolicy(slack_factor=0.1)
    >>> policy.on_result("a", 1, 0.8), policy.on_result("b", 1, 0.75), policy.on_result("c", 1, 0.70)
    (<Decision.CONTINUE: 'continue'>, <Decision.CONTINUE: 'continue'>, <Decision.STOP: 'stop'>)
    """

    def __init__(self, *, slack_factor: float | None = None, slack_amount: float | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if (slack_factor is None) == (slack_amount is None):
            raise ValueError("give exactly one of slack_factor (a ratio) or slack_amount (an absolute margin).")
        for name, value in (("slack_factor", slack_factor), ("slack_amount", slack_amount)):
            if value is not None and not value >= 0:
                raise ValueError(f"{name} must be non-negative, got {value!r}.")
        self.slack_factor = slack_factor
        self.slack_amount = slack_amount

    def threshold(self, best: float) -> float:
        """The worst value still allowed to continue, given the best value at the step."""
        sign = 1.0 if self.mode == "max" else -1.0
        if self.slack_factor is not None:
            return best / (1 + self.slack_factor) if self.mode == "max" else best * (1 + self.slack_factor)
        return best - sign * self.slack_amount

    def _should_stop(self, trial: Hashable, step: int) -> bool:
        values = self._values_at(step)
        best = max(values.values()) if self.mode == "max" else min(values.values())
        return self._better(self.threshold(best), values[trial])


class MedianStoppingPolicy(EarlyStoppingPolicy):
    """Cancel a run whose best value so far is worse than the median of the other runs' running averages.

    A run's running average at step t is the mean of all it reported up to t. Only other runs that have
    reached step t count; with none the run continues.
    """

    def _should_stop(self, trial: Hashable, step: int) -> bool:
        others = [np.mean([v for s, v in h.items() if s <= step])
                  for t, h in self.history.items() if t != trial and step in h]
        if not others:
            return False
        mine = [v for s, v in self.history[trial].items() if s <= step]
        best = max(mine) if self.mode == "max" else min(mine)
        return self._better(float(np.median(others)), best)


class TruncationSelectionPolicy(EarlyStoppingPolicy):
    """Cancel the runs whose metric at this step is in the worst ``truncation_percentage`` %.

    With n runs at the step, the ``⌊n · p / 100⌋`` worst are cut; a run tied with the cut-off is given the
    benefit of the doubt.

    >>> policy = TruncationSelectionPolicy(truncation_percentage=20)
    >>> for run, value in enumerate([0.62, 0.68, 0.71, 0.75, 0.78]):
    ...     policy.record(run, 1, value)
    >>> [policy.decide(run, 1).value for run in range(5)]
    ['stop', 'continue', 'continue', 'continue', 'continue']
    """

    def __init__(self, *, truncation_percentage: float, **kwargs) -> None:
        super().__init__(**kwargs)
        if not 1 <= truncation_percentage <= 99:
            raise ValueError(f"truncation_percentage must be between 1 and 99, got {truncation_percentage!r}.")
        self.truncation_percentage = truncation_percentage

    def _should_stop(self, trial: Hashable, step: int) -> bool:
        values = self._values_at(step)
        cut = math.floor(len(values) * self.truncation_percentage / 100)
        mine = values[trial]
        worse = sum(self._better(mine, v) for v in values.values())
        ties = sum(v == mine for t, v in values.items() if t != trial)
        return worse + ties < cut


def first_stop(policy: EarlyStoppingPolicy, results) -> tuple[Hashable, int] | None:
    """Replay finished results through ``policy``: the first ``(trial, step)`` it cancels, or ``None``.

    ``results`` are ``(trial, step, metric)`` rows in the order they arrived, or a table with those columns (an
    experiment's ``log``; only its ``result`` rows count). The course text reads the bandit and median rules
    as ending the *whole* tuning there; labkit, like Azure ML, cancels only that run.

    >>> rows = [("a", 5, 0.90), ("b", 5, 0.75), ("c", 5, 0.65), ("a", 10, 0.95)]
    >>> first_stop(BanditPolicy(slack_amount=0.2, evaluation_interval=5), rows)   # 0.65 < 0.90 − 0.2
    ('c', 5)
    """
    if hasattr(results, "itertuples"):
        if "event" in results:
            results = results[results["event"] == "result"]
        results = results[["trial", "step", "metric"]].itertuples(index=False, name=None)
    for trial, step, metric in results:
        if policy.on_result(trial, int(step), float(metric)) is Decision.STOP:
            return trial, int(step)
    return None
