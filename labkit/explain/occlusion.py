"""Occlusion: which parts of an image does a prediction depend on? Cover a patch, see the probability fall.

Zeiler and Fergus (2014): slide a grey (here: blank) square over the image; at each position, the drop in the
probability of the class the model predicts for the whole image is that patch's importance. Unlike a gradient
map it needs only ``predict``, and it reads directly: "without these pixels, the model is this much less sure".

>>> import numpy as np
>>> weights = np.zeros((4, 4)); weights[0, 0] = 1.0                # a "model" that looks at one pixel
>>> predict = lambda images: np.stack([(images * weights).sum(axis=(1, 2)), np.zeros(len(images))], axis=1)
>>> occlusion_map(predict, np.ones((4, 4)), patch=2, stride=2).tolist()
[[1.0, 0.0], [0.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from labkit._validation import check_int, check_numeric


def occlusion_map(predict: Callable[[np.ndarray], Any], image: Any, *, patch: int = 4, stride: int = 2,
                  fill: float = 0.0, label: int | None = None) -> np.ndarray:
    """The drop in the probability of ``label`` (default: the class predicted for the whole image) when each
    ``patch`` × ``patch`` square, moved by ``stride``, is set to ``fill``. ``predict`` takes a batch of images
    (shape ``(n, height, width)``) and returns class probabilities ``(n, classes)``; all positions are scored
    in one call."""
    image = check_numeric("image", image, ndim=2)
    height, width = image.shape
    patch = check_int("patch", patch, maximum=min(height, width))
    stride = check_int("stride", stride)
    rows, cols = range(0, height - patch + 1, stride), range(0, width - patch + 1, stride)
    batch = np.repeat(image[None], len(rows) * len(cols) + 1, axis=0)
    for k, (i, j) in enumerate((i, j) for i in rows for j in cols):
        batch[k + 1, i:i + patch, j:j + patch] = fill
    probabilities = np.asarray(predict(batch), dtype=float)
    label = int(np.argmax(probabilities[0])) if label is None else label
    return (probabilities[0, label] - probabilities[1:, label]).reshape(len(rows), len(cols))
