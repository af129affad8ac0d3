"""Tables of features as the explainers take them: a 2-D array or a pandas DataFrame, kept as given so that a
pipeline that reads columns by name still gets its names."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def as_table(name: str, X: Any) -> pd.DataFrame | np.ndarray:
    """``X`` as a DataFrame (kept) or a 2-D float array, or a clear error.

    >>> as_table("X", [[1, 2], [3, 4]]).shape
    (2, 2)
    """
    if isinstance(X, pd.DataFrame):
        if X.empty:
            raise ValueError(f"{name} is empty: pass at least one row and one column.")
        return X
    arr = np.asarray(X)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"{name} must be a 2-D table (rows × features) with at least one row, got shape {arr.shape}.")
    return arr


def feature_names(X: pd.DataFrame | np.ndarray) -> list[str]:
    return [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else [f"x{j}" for j in range(X.shape[1])]


def n_features(X: pd.DataFrame | np.ndarray) -> int:
    return X.shape[1]


def take_rows(X: pd.DataFrame | np.ndarray, rows: np.ndarray) -> pd.DataFrame | np.ndarray:
    return X.iloc[rows].reset_index(drop=True) if isinstance(X, pd.DataFrame) else X[rows]


def with_column(X: pd.DataFrame | np.ndarray, j: int, values: np.ndarray) -> pd.DataFrame | np.ndarray:
    """A copy of ``X`` with column ``j`` replaced by ``values``."""
    out = X.copy()
    if isinstance(out, pd.DataFrame):
        out[out.columns[j]] = values
    else:
        out[:, j] = values
    return out


def column(X: pd.DataFrame | np.ndarray, j: int) -> np.ndarray:
    return X.iloc[:, j].to_numpy() if isinstance(X, pd.DataFrame) else X[:, j]


def blend(x: pd.DataFrame | np.ndarray, background: pd.DataFrame | np.ndarray,
          masks: np.ndarray) -> pd.DataFrame | np.ndarray:
    """For each mask (one boolean per feature), every background row with the masked features set to ``x``'s
    (``x`` is one row): ``len(masks) × len(background)`` rows, mask by mask.

    >>> blend(np.array([[9, 9]]), np.array([[1, 2], [3, 4]]), np.array([[True, False]])).tolist()
    [[9, 2], [9, 4]]
    """
    n = len(background)
    from_x = np.repeat(masks, n, axis=0)
    base = take_rows(background, np.tile(np.arange(n), len(masks)))
    columns = [np.where(from_x[:, j], column(x, j)[0], column(base, j)).astype(column(background, j).dtype)
               for j in range(n_features(background))]
    if isinstance(background, pd.DataFrame):
        return pd.DataFrame(dict(zip(background.columns, columns, strict=True)))
    return np.column_stack(columns)
