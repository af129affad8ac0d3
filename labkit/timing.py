"""Wall-clock measurements for the labs' "measure it, don't take it on faith" moments."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any


def best_time(fn: Callable[[], Any], *, repeats: int = 3) -> float:
    """Best wall-clock seconds of ``repeats`` calls of ``fn`` (the least disturbed run).

    Under the grader (``NBGRADER_EXECUTION`` set) ``fn`` runs once: timings are never graded, and the
    repeats would multiply the cost of grading every submission.

    >>> best_time(lambda: sum(range(1000)), repeats=2) < 1.0
    True
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}.")
    best = float("inf")
    if os.environ.get("NBGRADER_EXECUTION"):
        repeats = 1
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
