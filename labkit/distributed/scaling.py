"""The arithmetic of data parallelism: who trains on which samples, how the learning rate follows the number of
workers, and how to judge a scaling run.

* :func:`shard_indices`: worker ``rank`` of ``size`` trains on its own, disjoint share of the data.
* :func:`scaled_learning_rate` and :func:`warmup_learning_rate`: the *linear scaling rule* of Goyal et al. (2017),
  "Accurate, Large Minibatch SGD": N workers with batch b make one step on N × b samples, so multiply the
  learning rate by N, and ramp it up from the single-worker rate over the first epochs (gradual warm-up) so the
  large steps do not blow up the freshly initialised network. Horovod's ``LearningRateWarmupCallback``
  implements the same ramp.
* :func:`scaling_efficiency`: measured speed-up over the ideal N×.

>>> shard_indices(10, rank=1, size=3).tolist()
[4, 5, 6]
>>> scaled_learning_rate(0.01, size=4)
0.04
>>> warmup_learning_rate(0.0, base_learning_rate=0.01, size=4, warmup_epochs=2)   # starts at the 1-worker rate
0.01
>>> scaling_efficiency(time_1=100.0, time_n=60.0, n_workers=2)                     # 1.67× of an ideal 2×
0.8333333333333334
"""

from __future__ import annotations

import numpy as np

from labkit._validation import check_int

__all__ = ["shard_indices", "scaled_learning_rate", "warmup_learning_rate", "scaling_efficiency"]


def _check_rank(rank, size) -> tuple[int, int]:
    size = check_int("size", size)
    rank = check_int("rank", rank, minimum=0)
    if rank >= size:
        raise ValueError(f"rank must be in 0…size − 1 = {size - 1}, got {rank}: ranks count from 0.")
    return rank, size


def shard_indices(n_samples: int, *, rank: int, size: int) -> np.ndarray:
    """The contiguous, disjoint block of sample indices that worker ``rank`` of ``size`` trains on.

    Shards cover every sample once and differ in length by at most one (the first ``n_samples mod size``
    shards get the extra sample), as ``np.array_split`` cuts them. Shuffle the data once before sharding.

    >>> [shard_indices(5, rank=r, size=2).tolist() for r in range(2)]
    [[0, 1, 2], [3, 4]]
    """
    n_samples = check_int("n_samples", n_samples, minimum=0)
    rank, size = _check_rank(rank, size)
    base, extra = divmod(n_samples, size)
    start = rank * base + min(rank, extra)
    return np.arange(start, start + base + (rank < extra))


def scaled_learning_rate(base_learning_rate: float, *, size: int) -> float:
    """The linear scaling rule: ``base_learning_rate × size`` for ``size`` workers (global batch × size)."""
    size = check_int("size", size)
    if not base_learning_rate > 0:
        raise ValueError(f"base_learning_rate must be positive, got {base_learning_rate!r}.")
    return float(base_learning_rate) * size


def warmup_learning_rate(epoch: float, *, base_learning_rate: float, size: int, warmup_epochs: float = 5.0) -> float:
    """The learning rate at (fractional) ``epoch`` under gradual warm-up: linear from ``base_learning_rate`` at
    epoch 0 to ``base_learning_rate × size`` at ``warmup_epochs``, constant after.

    >>> [warmup_learning_rate(e, base_learning_rate=0.1, size=5, warmup_epochs=4) for e in (0, 1, 4, 9)]
    [0.1, 0.2, 0.5, 0.5]
    """
    target = scaled_learning_rate(base_learning_rate, size=size)
    if not warmup_epochs >= 0:
        raise ValueError(f"warmup_epochs must be ≥ 0, got {warmup_epochs!r}.")
    if not epoch >= 0:
        raise ValueError(f"epoch must be ≥ 0, got {epoch!r}.")
    if warmup_epochs == 0 or epoch >= warmup_epochs:
        return target
    return float(base_learning_rate) * (1 + epoch * (size - 1) / warmup_epochs)


def scaling_efficiency(*, time_1: float, time_n: float, n_workers: int) -> float:
    """Speed-up over the ideal: (time_1 / time_n) / n_workers for the same work done by 1 and by ``n_workers``
    workers. 1.0 is perfect linear scaling; communication and shared cores push it below.
    """
    n_workers = check_int("n_workers", n_workers)
    if not time_1 > 0 or not time_n > 0:
        raise ValueError(f"times must be positive seconds, got time_1={time_1!r}, time_n={time_n!r}.")
    return float(time_1) / float(time_n) / n_workers
