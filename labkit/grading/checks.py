"""Partial-credit checks for nbgrader test cells.

A test cell builds a :class:`Checks`, runs a few named checks against the learner's functions and
ends with ``checks.score()``. Each check calls the learner's code inside its own guard, so an
exception, a wrong type or a warning written to stderr costs that check only, never the whole cell
(nbgrader gives 0 to a cell with an error or any stderr output). Every failed check prints its
message, which the learner sees in feedback.

The learner's answer is turned into a plain value *inside* that guard (:mod:`labkit.grading.canonical`)
and only plain values are compared, so an object that claims to equal everything earns nothing:
``close`` compares numbers, ``equal`` compares plain values exactly, ``below`` wants every number (a
gradient check's relative errors, say) under a limit, and ``check`` wants a predicate that returns a real
``True`` or ``False``. A failed ``close`` shows the first value that differs, with enough digits to see the
difference, and the difference allowed; ``below`` lists each number.

Under ``labkit grade`` the :mod:`~labkit.grading.referee` makes its own ``Checks`` class, bound to it:
every result is recorded where the learner's code cannot reach, and the score is reported to the grader
out of band; what the cell displays does not count.

>>> checks = Checks(points=2)
>>> checks.close("1 + 1", lambda: 1 + 1, 2)
True
>>> checks.close("division", lambda: 1 / 0, 0)
False
>>> checks.equal("a sorted list", lambda: sorted([3, 1, 2]), [1, 2, 3])
True
>>> checks.score()
✓ 1 + 1
✗ division: ZeroDivisionError: division by zero
✓ a sorted list
2/3 checks passed
1.3333
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as _np

from labkit.grading import canonical
from labkit.grading import guard as _guard
from labkit.grading import hints as _hints

DEFAULT_SEED = 20231121
_NO_ANSWER = object()  # a failed check with nothing telling to fingerprint (an error, a bare False)


class RefereeHooks(NamedTuple):
    """What a referee-bound ``Checks`` calls: the seed, around every call into learner code, and to record."""

    seed: Callable[[], int]
    enter: Callable[[], None]
    leave: Callable[[], None]
    created: Callable[[object], None]
    record: Callable[[object, str, bool, str], bool]


def describe_exception(exc: BaseException) -> str:
    """``"ZeroDivisionError: division by zero"``, whatever the exception's own ``__str__`` does."""
    try:
        name, text = type(exc).__name__, str(exc)
        if type(name) is not str or type(text) is not str:
            raise TypeError
    except BaseException:  # noqa: BLE001 - a learner's exception may refuse to describe itself
        return "an exception that could not be shown"
    return f"{name}: {text}" if text else name


def make_checks(hooks: RefereeHooks | None = None) -> type:
    """The ``Checks`` class; bound to a referee's ``hooks`` under the grader (see :mod:`labkit.grading.referee`).

    Everything a check uses is bound here, in this function's closure, so that the learner's code cannot
    swap it while a check runs: the canonical forms, NumPy's comparison, the guard's restore.
    """
    allclose, plain, numbers, truth = _np.allclose, canonical.plain, canonical.numbers, canonical.truth
    restore, armed, default_rng = _guard.restore, _guard.armed, _np.random.default_rng
    redirect_stderr, catch_warnings, simplefilter = contextlib.redirect_stderr, warnings.catch_warnings, \
        warnings.simplefilter
    string_io, mismatch, describe, print_ = io.StringIO, _mismatch, describe_exception, print
    dict_, float_, type_ = dict, float, type
    fingerprint, load_hints, table, no_answer = _hints.fingerprint, _hints.load, [], _NO_ANSWER

    def hint_for(description: str, mark: str | None) -> str:
        if not table:
            table.append(load_hints())
        return table[0].get(description, {}).get(mark, "") if mark else ""

    def as_truth(value: Any) -> bool:
        answer = truth(value)
        if answer is None:
            raise TypeError(f"the check's predicate must return True or False, got {type(value).__name__}")
        return answer

    class Checks:
        """Collects named pass/fail checks for one grade cell worth ``points``."""

        def __init__(self, points: float, seed: int | None = None) -> None:
            if not (type(points) in (int, float) and points > 0):
                raise ValueError(f"points must be a positive number, got {points!r}.")
            self.points = float(points)
            if seed is None:
                seed = hooks.seed() if hooks else int(os.environ.get("LABKIT_GRADING_SEED", DEFAULT_SEED))
            self.seed = seed
            self.rng = default_rng(seed)
            self.results: list[tuple[str, bool, str]] = []
            self.fingerprints: dict[str, str] = {}  # what each check's answer looked like (see labkit.grading.hints)
            if hooks:
                hooks.created(self)

        def _run(self, compute: Callable[[], Any], canon: Callable[[Any], Any],
                 wanted: str) -> tuple[Any, str | None]:
            """Call the learner's code and make its answer plain, all inside the guard."""
            if hooks:
                hooks.enter()
            try:
                with redirect_stderr(string_io()), catch_warnings():
                    simplefilter("ignore")
                    value = compute()
                    try:
                        return canon(value), None
                    except (TypeError, ValueError) as exc:
                        detail = describe(exc) if "predicate" in str(exc) or "nested" in str(exc) else ""
                        return None, detail.partition(": ")[2] or f"expected {wanted}, got {type(value).__name__}"
            except NotImplementedError:
                return None, "not implemented yet"
            except BaseException as exc:  # noqa: BLE001 - a learner's SystemExit must not end the cell either
                return None, describe(exc)
            finally:
                if hooks:
                    hooks.leave()
                elif armed():
                    restore()

        def _record(self, description: str, ok: bool, message: str = "", answer: Any = _NO_ANSWER) -> bool:
            """Keep one check's result; a failed check with a telling ``answer`` (a value, not a bare boolean or
            an error) gets its fingerprint taken and, when it is a known mistake's, the hint."""
            ok = ok is True
            if not ok and answer is not no_answer:
                mark = fingerprint(answer)
                self.fingerprints[description] = mark
                hint = hint_for(description, mark)
                message = f"{message} — hint: {hint}" if hint else message
            if hooks and not hooks.record(self, description, ok, message):
                return False
            self.results.append((description, ok, message))
            return ok

        def check(self, description: str, predicate: Callable[[], Any], *, message: str = "") -> bool:
            """Pass when ``predicate()`` returns ``True`` (Python's or NumPy's boolean) without raising."""
            value, error = self._run(predicate, as_truth, "True or False")
            if error:
                return self._record(description, False, error)
            return self._record(description, value, message or "the check returned False")

        def close(self, description: str, compute: Callable[[], Any], expected: Any, *, rtol: float = 1e-6,
                  atol: float = 1e-9) -> bool:
            """Pass when ``compute()`` is numerically close to ``expected`` (same shape, NaN equal to NaN)."""
            got, error = self._run(compute, numbers, "a number or numbers")
            if error:
                return self._record(description, False, error)
            want = numbers(expected)
            if got.shape != want.shape:
                return self._record(description, False, f"expected shape {want.shape}, got {got.shape}", got)
            ok = bool(allclose(got, want, rtol=rtol, atol=atol, equal_nan=True))
            return self._record(description, ok, "" if ok else mismatch(want, got, rtol, atol), got)

        def below(self, description: str, compute: Callable[[], Any], limit: float) -> bool:
            """Pass when every number ``compute()`` returns is below ``limit``: a number, numbers, or a dict of
            them by name (a gradient check's relative errors by parameter). The message lists each one."""
            got, error = self._run(compute, plain, "numbers, or a dict of numbers by name")
            if error:
                return self._record(description, False, error)
            named = got if type_(got) is dict_ else {"": got}
            try:
                arrays = {str(name): numbers(value) for name, value in named.items()}
            except (TypeError, ValueError):
                return self._record(description, False, "expected numbers, or a dict of numbers by name")
            if not arrays or any(a.size == 0 for a in arrays.values()):
                return self._record(description, False, "expected numbers, got none")
            worst = {name: float_(a.max()) for name, a in arrays.items()}
            least = min(float_(a.min()) for a in arrays.values())
            ok = least >= 0 and all(value < limit for value in worst.values())  # NaN is never below
            listed = ", ".join(f"{name} {value:.2g}".strip() for name, value in worst.items())
            needed = f"each must be below {limit:g}" + ("" if least >= 0 else ", and none negative")
            return self._record(description, ok, "" if ok else f"{listed} ({needed})", got)

        def equal(self, description: str, compute: Callable[[], Any], expected: Any) -> bool:
            """Pass when ``compute()`` equals ``expected`` exactly, compared as plain values (tuples as lists)."""
            got, error = self._run(compute, plain, "plain values (numbers, strings, lists, dicts, arrays)")
            if error:
                return self._record(description, False, error)
            want = plain(expected)
            ok = got == want
            return self._record(description, ok, "" if ok else f"expected {_text(want)}, got {_text(got)}", got)

        def agree(self, description: str, first: Callable[[], Any], second: Callable[[], Any], *,
                  same: bool = True) -> bool:
            """Pass when two answers of the learner's are the same (``same=False``: differ), compared as plain
            values: a seeded draw repeated, two seeds that must differ."""
            a, error = self._run(first, plain, "plain values (numbers, strings, lists, dicts, arrays)")
            if not error:
                b, error = self._run(second, plain, "plain values (numbers, strings, lists, dicts, arrays)")
            if error:
                return self._record(description, False, error)
            ok = (a == b) is same
            return self._record(description, ok, "" if ok else ("the two answers differ" if same else
                                                                "the two answers are the same"))

        def answer(self, compute: Callable[[], Any]) -> Any:
            """The learner's answer as a plain value, for several checks to examine (``None`` if it raised or is
            not plain: the checks that use it then fail)."""
            value, error = self._run(compute, plain, "plain values")
            return None if error else value

        @property
        def passed(self) -> int:
            return sum(ok for _, ok, _ in self.results)

        def score(self) -> float:
            """Print one line per check and return ``points × passed / total``."""
            for description, ok, message in self.results:
                print_(f"✓ {description}" if ok else f"✗ {description}: {message}")
            total = len(self.results)
            print_(f"{self.passed}/{total} checks passed")
            return round(self.points * self.passed / total, 4) if total else 0.0

    return Checks


def _clip(text: str, limit: int = 120) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with "…"."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _mismatch(want: _np.ndarray, got: _np.ndarray, rtol: float, atol: float) -> str:
    """Why two equally shaped arrays are not close, with enough digits to see the difference and the allowed one.

    >>> _mismatch(_np.array([0.95180, 0.5]), _np.array([0.95179, 0.5]), 1e-6, 1e-9)
    'expected [0.9518 0.5], got [0.95179 0.5]: at [0], 0.9518 ≠ 0.95179 (allowed difference 9.5e-07)'
    """
    bad = ~_np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
    where = tuple(int(i) for i in _np.argwhere(bad)[0]) if want.ndim else ()
    w, g = float(want[where]), float(got[where])
    digits = next((d for d in range(4, 18) if f"{w:.{d}g}" != f"{g:.{d}g}"), 17)
    allowed = atol + rtol * abs(w)

    def show(a: _np.ndarray) -> str:
        if a.ndim == 0:
            return f"{float(a):.{digits}g}"
        return _clip(_np.array2string(a, threshold=8, formatter={"float_kind": lambda v: f"{v:.{digits}g}"}))

    if not where:
        return f"expected {show(want)}, got {show(got)} (allowed difference {allowed:.2g})"
    return (f"expected {show(want)}, got {show(got)}: at {list(where)}, {w:.{digits}g} ≠ {g:.{digits}g} "
            f"(allowed difference {allowed:.2g})")


def _text(value: Any) -> str:
    return _clip(repr(value))


Checks = _guard.protect(make_checks())
