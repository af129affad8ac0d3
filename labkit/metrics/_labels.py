"""Label encoding shared by the classification and clustering metrics."""

from __future__ import annotations

import numpy as np


def encode(*arrays: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Map the labels of ``arrays`` to codes ``0..k-1`` over their sorted union.

    Small-range integer labels take an O(n) path (bincount and a lookup table, no sort); anything
    else goes through ``np.unique``.

    >>> classes, (a, b) = encode(np.array([5, 7, 5]), np.array([7, 9, 9]))
    >>> classes.tolist(), a.tolist(), b.tolist()
    ([5, 7, 9], [0, 1, 0], [1, 2, 2])
    """
    if all(a.dtype.kind in "biu" for a in arrays):
        lo = int(min(a.min() for a in arrays))
        hi = int(max(a.max() for a in arrays))
        if hi - lo < 4 * (sum(len(a) for a in arrays) + 16):
            present = np.zeros(hi - lo + 1, dtype=bool)
            for a in arrays:
                present |= np.bincount(a - lo, minlength=hi - lo + 1) > 0
            lut = np.cumsum(present) - 1
            return np.flatnonzero(present) + lo, [lut[a - lo] for a in arrays]
    classes, inverse = np.unique(np.concatenate(arrays), return_inverse=True)
    bounds = np.cumsum([0] + [len(a) for a in arrays])
    return classes, [inverse[bounds[i]:bounds[i + 1]] for i in range(len(arrays))]
