"""Plain values a check can compare without asking the learner's objects anything.

A learner's answer may be any object, and an object decides what ``==``, ``bool()``, ``len()`` or
``float()`` say about it: ``class Liar: __eq__ = lambda *a: True`` equals every expected answer. So a
check turns the answer into a *plain* value first, inside the guard that runs the learner's code, and
compares plain values only: built-in scalars, strings, lists, dicts and sets of them, and NumPy arrays
of numbers or strings. Types are tested with ``type(x) is …``, never ``isinstance``, so a subclass that
overrides ``__eq__`` is refused rather than trusted.

>>> plain((1, [2.5, "a"], {"k": None}))
[1, [2.5, 'a'], {'k': None}]
>>> import numpy as np
>>> plain(np.array([[1, 2]])), plain(np.float32(0.5))
([[1, 2]], 0.5)
>>> class Liar:
...     def __eq__(self, other): return True
>>> plain([Liar()])
Traceback (most recent call last):
...
TypeError: expected plain values (numbers, strings, lists, dicts, sets, NumPy arrays), got Liar
>>> numbers([1, 2]).dtype
dtype('float64')
>>> truth(np.bool_(True)), truth(1)
(True, None)
"""

from __future__ import annotations

import numpy as _np

_ARRAY_KINDS = "biufcUS"
_MAX_DEPTH = 50


def make_canonical() -> tuple:
    """``(plain, numbers, truth)``, bound at call time to the real built-ins and NumPy.

    Only identity tests (``is``) decide what is plain: ``==``, ``in`` and ``isinstance`` could run a
    learner's ``__eq__`` or a metaclass's hooks. Called at import, before any learner code runs.
    """
    scalars = (type(None), bool, int, float, complex, str, bytes)
    np_scalars = tuple({t for t in _np.sctypeDict.values() if t.__module__ == "numpy"})
    ndarray, asarray, float64, bool_ = _np.ndarray, _np.asarray, _np.float64, _np.bool_
    type_, list_, tuple_, dict_, set_, frozenset_, any_ = type, list, tuple, dict, set, frozenset, any
    kinds, max_depth, type_error = _ARRAY_KINDS, _MAX_DEPTH, TypeError

    def one_of(kind, types) -> bool:
        return any_(kind is t for t in types)

    def refuse(value):
        return type_error("expected plain values (numbers, strings, lists, dicts, sets, NumPy arrays), "
                          f"got {type_.__getattribute__(type_(value), '__name__')}")

    def hashable(value):
        return tuple_(hashable(v) for v in value) if type_(value) is list_ else value

    def plain(value, _depth: int = 0):
        """``value`` rebuilt from built-in types only (tuples become lists), or ``TypeError`` naming what is
        not plain. Exact types only: a subclass of ``list`` or ``float`` is refused."""
        if _depth > max_depth:
            raise type_error("the answer is nested too deeply to compare")
        kind = type_(value)
        if one_of(kind, scalars):
            return value
        if kind is list_ or kind is tuple_:
            return [plain(v, _depth + 1) for v in value]
        if kind is dict_:
            return {hashable(plain(k, _depth + 1)): plain(v, _depth + 1) for k, v in value.items()}
        if kind is set_ or kind is frozenset_:
            return frozenset_(hashable(plain(v, _depth + 1)) for v in value)
        if kind is ndarray and value.dtype.kind in kinds:
            return value.tolist()
        if one_of(kind, np_scalars) and value.dtype.kind in kinds:
            return value.item()
        raise refuse(value)

    def numbers(value):
        """``value`` as a float64 array the check owns (a copy), or ``TypeError``/``ValueError``."""
        array = asarray(value, dtype=float64)
        if type_(array) is not ndarray:
            raise refuse(value)
        return array.copy()

    def truth(value):
        """``True``/``False`` for a real boolean (Python's or NumPy's), ``None`` for anything else."""
        if value is True or value is False:
            return value
        if type_(value) is bool_:
            return bool(value)
        return None

    return plain, numbers, truth


plain, numbers, truth = make_canonical()
