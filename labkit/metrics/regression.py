"""Regression metrics: how far predictions land from a continuous target.

All functions take ``(y_true, y_pred)`` as 1-D array-likes of the same length, as scikit-learn does,
and raise :class:`ValueError` on empty input, mismatched lengths or missing values.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from labkit._validation import check_numeric, check_same_length

__all__ = ["residuals", "mean_squared_error", "root_mean_squared_error", "mean_absolute_error", "r2_score"]


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = check_numeric("y_true", y_true)
    p = check_numeric("y_pred", y_pred)
    check_same_length(y_true=t, y_pred=p)
    return t, p


def residuals(y_true: ArrayLike, y_pred: ArrayLike) -> np.ndarray:
    """Residuals ``y_true - y_pred``: positive when the model under-predicts.

    The course's insurance premium: actual 500, predicted 450, residual 50.

    >>> residuals([500.0], [450.0])
    array([50.])
    """
    t, p = _pair(y_true, y_pred)
    return t - p


def mean_squared_error(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean of the squared residuals, ``(1/n) Σ (yᵢ - ŷᵢ)²``.

    >>> mean_squared_error([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
    0.375
    """
    r = residuals(y_true, y_pred)
    return float(np.dot(r, r) / r.size)


def root_mean_squared_error(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Square root of the MSE, in the target's own unit.

    >>> root_mean_squared_error([0, 0], [3, 4])
    3.5355339059327378
    """
    return float(np.sqrt(mean_squared_error(y_true, y_pred)))


def mean_absolute_error(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean of the absolute residuals, ``(1/n) Σ |yᵢ - ŷᵢ|``.

    >>> mean_absolute_error([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
    0.5
    """
    r = residuals(y_true, y_pred)
    return float(np.abs(r).mean())


def r2_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot``.

    1 is a perfect fit, 0 is no better than predicting the mean, and it is negative for worse.
    A constant ``y_true`` makes ``SS_tot`` zero; following scikit-learn, the score is then 1.0 for
    perfect predictions and 0.0 otherwise. With a single sample R² is undefined and ``nan`` is returned.

    >>> r2_score([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
    0.9486081370449679
    >>> r2_score([1, 1, 1], [1, 1, 1]), r2_score([1, 1, 1], [1, 1, 2])
    (1.0, 0.0)
    """
    t, p = _pair(y_true, y_pred)
    if t.size < 2:
        return float("nan")
    ss_res = float(np.sum((t - p) ** 2))
    centred = t - t.mean()
    ss_tot = float(np.dot(centred, centred))
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot
