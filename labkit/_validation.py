"""Input checks shared by every labkit function that takes user data.

Each check raises a :class:`ValueError` (wrong type included, as the course API promises) whose message names
the argument, says what is wrong with it and how to fix it.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _as_array(name: str, x: Any) -> np.ndarray:
    if isinstance(x, str | bytes) or x is None or np.isscalar(x):
        raise ValueError(f"{name} must be array-like (a list, NumPy array or pandas Series), got {type(x).__name__}.")
    if isinstance(x, dict | set):
        raise ValueError(f"{name} must be array-like and ordered, got a {type(x).__name__}: pass a list instead.")
    try:
        arr = np.asarray(x)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{name} could not be turned into an array ({exc}); pass a flat list or 1-D array.") from None
    return arr


def check_numeric(name: str, x: Any, *, ndim: int = 1) -> np.ndarray:
    """Return ``x`` as a finite float64 array of ``ndim`` dimensions, or raise a clear error.

    >>> check_numeric("y_true", [1, 2, 3])
    array([1., 2., 3.])
    >>> check_numeric("y_true", [1, float("nan")])
    Traceback (most recent call last):
    ...
    ValueError: y_true contains NaN at index 1: drop or impute missing values before scoring.
    """
    arr = _as_array(name, x)
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise ValueError(f"{name} must hold numbers, got values of dtype {arr.dtype} (e.g. {arr.flat[0]!r}).")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}.")
    _check_shape(name, arr, ndim)
    arr = arr.astype(np.float64, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        where = np.argwhere(bad)[0]
        index = int(where[0]) if ndim == 1 else tuple(int(i) for i in where)
        kind = "NaN" if np.isnan(arr[tuple(where)]) else "an infinite value"
        raise ValueError(f"{name} contains {kind} at index {index}: drop or impute missing values before scoring.")
    return arr


def check_labels(name: str, x: Any) -> np.ndarray:
    """Return ``x`` as a 1-D array of class or cluster labels (integers, booleans or strings).

    >>> check_labels("y_pred", ["cat", "dog"])
    array(['cat', 'dog'], dtype='<U3')
    """
    arr = _as_array(name, x)
    _check_shape(name, arr, 1)
    if arr.dtype.kind == "f":
        if np.isnan(arr).any():
            raise ValueError(
                f"{name} contains NaN at index {int(np.flatnonzero(np.isnan(arr))[0])}: labels must not be missing."
            )
        if not np.all(arr == np.round(arr)):
            raise ValueError(
                f"{name} holds non-integer floats (e.g. {arr[arr != np.round(arr)][0]!r}): labels must be classes, "
                "not scores. For probabilities use roc_curve/roc_auc_score, or threshold them first."
            )
        arr = arr.astype(np.int64)
    elif arr.dtype == object:
        kinds = {type(v) for v in arr}
        if len(kinds) > 1:
            raise ValueError(f"{name} mixes label types {sorted(k.__name__ for k in kinds)}: use one type.")
        arr = arr.astype(str) if kinds <= {str} else arr
    return arr


def check_int(name: str, value: Any, *, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int`` if it is an integer (not a bool) in ``minimum…maximum``, else raise.

    >>> check_int("n_workers", 4)
    4
    >>> check_int("n_stages", 5, maximum=4)
    Traceback (most recent call last):
    ...
    ValueError: n_stages must be an integer in 1…4, got 5.
    """
    ok = not isinstance(value, bool) and isinstance(value, int | np.integer)
    if not ok or value < minimum or (maximum is not None and value > maximum):
        wanted = f"in {minimum}…{maximum}" if maximum is not None else f"≥ {minimum}"
        raise ValueError(f"{name} must be an integer {wanted}, got {value!r}.")
    return int(value)


def check_number(name: str, value: Any, *, low: float = 0.0, high: float = float("inf"),
                 low_open: bool = True, high_open: bool = False) -> float:
    """Return ``value`` as a ``float`` if it is a finite real number in the interval, else raise.

    The interval is ``(low, high]`` by default (a positive number); ``low_open`` / ``high_open`` choose the ends.

    >>> check_number("learning_rate", 0.01)
    0.01
    >>> check_number("drop", 1.5, high=1)
    Traceback (most recent call last):
    ...
    ValueError: drop must be a number in (0.0, 1], got 1.5.
    """
    ok = not isinstance(value, bool) and isinstance(value, int | float | np.integer | np.floating)
    above = ok and (value > low if low_open else value >= low)
    below = ok and (value < high if high_open else value <= high)
    if not (ok and np.isfinite(value) and above and below):
        upper = "∞)" if high == float("inf") else f"{high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {'(' if low_open else '['}{low}, {upper}, got {value!r}.")
    return float(value)


def check_same_length(**arrays: np.ndarray) -> None:
    """Raise if the arrays do not all have the same length.

    >>> check_same_length(y_true=np.zeros(3), y_pred=np.zeros(2))
    Traceback (most recent call last):
    ...
    ValueError: y_true and y_pred must have the same length, got 3 and 2.
    """
    names = list(arrays)
    lengths = [len(a) for a in arrays.values()]
    if len(set(lengths)) > 1:
        raise ValueError(
            f"{' and '.join(names)} must have the same length, got {' and '.join(str(n) for n in lengths)}."
        )


def _check_shape(name: str, arr: np.ndarray, ndim: int) -> None:
    if arr.ndim != ndim:
        shape = "a 1-D array" if ndim == 1 else f"a {ndim}-D array"
        hint = " (use .ravel() for a column vector)" if ndim == 1 and arr.ndim == 2 and 1 in arr.shape else ""
        raise ValueError(f"{name} must be {shape}, got shape {arr.shape}{hint}.")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: scoring needs at least one sample.")
