"""Learning-rate schedules by epoch: the rate starts high to move fast and shrinks to settle.

The course text names three families: a rate that decays gradually with the epoch, one that drops in large
steps at set epochs, and cyclical rates. Each function returns ``schedule(epoch) -> rate`` (epochs count from
0), the shape Keras's ``LearningRateScheduler`` callback takes (:func:`scheduler`):

* :func:`step_decay` — multiply by ``drop`` every ``every`` epochs (punctuated drops);
* :func:`exponential_decay` — multiply by ``rate`` every epoch (gradual decay);
* :func:`cosine_decay` — half a cosine from the initial rate down to ``floor`` over ``epochs``;
* :func:`cyclical` — the triangular cyclical rate: up and down between two bounds.

>>> [round(step_decay(0.1, drop=0.5, every=2)(e), 4) for e in range(5)]
[0.1, 0.1, 0.05, 0.05, 0.025]
>>> round(cosine_decay(0.1, epochs=10)(5), 4), cosine_decay(0.1, epochs=10)(10)
(0.05, 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable

from labkit._validation import check_int, check_number

__all__ = ["step_decay", "exponential_decay", "cosine_decay", "cyclical", "scheduler"]

Schedule = Callable[[int], float]


def step_decay(initial: float, *, drop: float = 0.5, every: int = 10) -> Schedule:
    """``initial · drop ** ⌊epoch / every⌋``: the rate falls by ``drop`` at epochs ``every``, ``2·every``, …"""
    initial, drop = check_number("initial", initial), check_number("drop", drop, high=1)
    every = check_int("every", every)
    return lambda epoch: initial * drop ** (int(epoch) // every)


def exponential_decay(initial: float, *, rate: float = 0.9) -> Schedule:
    """``initial · rate ** epoch``: a little smaller every epoch."""
    initial, rate = check_number("initial", initial), check_number("rate", rate, high=1)
    return lambda epoch: initial * rate ** int(epoch)


def cosine_decay(initial: float, *, epochs: int, floor: float = 0.0) -> Schedule:
    """``floor + (initial − floor) · (1 + cos(π · epoch / epochs)) / 2`` up to ``epochs``, then ``floor``."""
    initial, epochs = check_number("initial", initial), check_int("epochs", epochs)
    if not 0 <= floor < initial:
        raise ValueError(f"floor must be in [0, initial), got {floor!r}.")

    def schedule(epoch: int) -> float:
        done = min(int(epoch), epochs) / epochs
        return floor + (initial - floor) * (1 + math.cos(math.pi * done)) / 2
    return schedule


def cyclical(low: float, high: float, *, half_cycle: int = 4) -> Schedule:
    """The triangular cyclical rate: from ``low`` up to ``high`` over ``half_cycle`` epochs, back down, again.

    >>> [cyclical(0.001, 0.005, half_cycle=2)(e) for e in range(5)]
    [0.001, 0.003, 0.005, 0.003, 0.001]
    """
    low, high, half_cycle = check_number("low", low), check_number("high", high), check_int("half_cycle", half_cycle)
    if not low < high:
        raise ValueError(f"low must be below high, got low={low!r}, high={high!r}.")

    def schedule(epoch: int) -> float:
        position = abs(int(epoch) % (2 * half_cycle) - half_cycle)  # half_cycle at the start of a cycle, 0 at its peak
        return high - (high - low) * position / half_cycle
    return schedule


def scheduler(schedule: Schedule):
    """A Keras ``LearningRateScheduler`` callback setting the optimiser's rate to ``schedule(epoch)`` before each
    epoch; Keras records the rate of each epoch in ``history.history["lr"]``."""
    import tensorflow as tf

    return tf.keras.callbacks.LearningRateScheduler(lambda epoch, lr: float(schedule(epoch)))
