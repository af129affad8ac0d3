"""Partial-credit checks for nbgrader test cells.

A test cell builds a :class:`Checks`, runs a few named checks against the learner's functions and
ends with ``checks.score()``: nbgrader reads that number as the cell's partial credit. Each check
calls the learner's code inside its own guard, so an exception, a wrong type or a warning written to
stderr costs that check only, never the whole cell (nbgrader gives 0 to a cell with an error or any
stderr output). Every failed check prints its message, which the learner sees in feedback.

>>> checks = Checks(points=2)
>>> checks.close("1 + 1", lambda: 1 + 1, 2)
True
>>> checks.close("division", lambda: 1 / 0, 0)
False
>>> checks.score()
✓ 1 + 1
✗ division: ZeroDivisionError: division by zero
1/2 checks passed
1.0
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as _np

from labkit.grading import guard as _guard

# references taken at import time, before any learner code in the kernel can patch them
_allclose = _np.allclose
_asarray = _np.asarray
_isinstance = isinstance
_float = float
_print = print
_restore = _guard.restore
_armed = _guard.armed

DEFAULT_SEED = 20231121


@dataclass
class Checks:
    """Collects named pass/fail checks for one grade cell worth ``points``."""

    points: float
    seed: int | None = None
    results: list[tuple[str, bool, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.points > 0:
            raise ValueError(f"points must be positive, got {self.points!r}.")
        if self.seed is None:
            self.seed = int(os.environ.get("LABKIT_GRADING_SEED", DEFAULT_SEED))
        self.rng = _np.random.default_rng(self.seed)

    def _run(self, compute: Callable[[], Any]) -> tuple[Any, str | None]:
        sink = io.StringIO()
        try:
            with contextlib.redirect_stderr(sink), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return compute(), None
        except NotImplementedError:
            return None, "not implemented yet"
        except BaseException as exc:  # noqa: BLE001 - a learner's SystemExit must not end the cell either
            return None, f"{type(exc).__name__}: {exc}"
        finally:
            if _armed():  # under the grader: undo whatever the learner's code just patched
                _restore()

    def _record(self, description: str, ok: bool, message: str = "") -> bool:
        self.results.append((description, bool(ok), message))
        return bool(ok)

    def check(self, description: str, predicate: Callable[[], Any], *, message: str = "") -> bool:
        """Pass when ``predicate()`` returns a truthy value without raising."""
        value, error = self._run(predicate)
        if error:
            return self._record(description, False, error)
        return self._record(description, bool(value), message or "the check returned False")

    def close(
        self,
        description: str,
        compute: Callable[[], Any],
        expected: Any,
        *,
        rtol: float = 1e-6,
        atol: float = 1e-9,
    ) -> bool:
        """Pass when ``compute()`` is numerically close to ``expected`` (same shape, NaN equal to NaN)."""
        value, error = self._run(compute)
        if error:
            return self._record(description, False, error)
        try:
            got = _asarray(value, dtype=_float)
            want = _asarray(expected, dtype=_float)
        except (TypeError, ValueError):
            return self._record(description, False, f"expected a number or numbers, got {type(value).__name__}")
        if got.shape != want.shape:
            return self._record(description, False, f"expected shape {want.shape}, got {got.shape}")
        ok = bool(_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True))
        return self._record(description, ok, "" if ok else f"expected {_short(want)}, got {_short(got)}")

    @property
    def passed(self) -> int:
        return sum(ok for _, ok, _ in self.results)

    def score(self) -> float:
        """Print one line per check and return ``points × passed / total`` for nbgrader."""
        for description, ok, message in self.results:
            _print(f"✓ {description}" if ok else f"✗ {description}: {message}")
        total = len(self.results)
        _print(f"{self.passed}/{total} checks passed")
        if total == 0:
            return 0.0
        return round(_float(self.points) * self.passed / total, 4)


def _short(a: _np.ndarray) -> str:
    if a.ndim == 0:
        return f"{float(a):.6g}"
    text = _np.array2string(a, precision=4, threshold=8)
    return text if len(text) < 120 else text[:117] + "..."
