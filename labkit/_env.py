"""Environment variables: the one home of the thread variables and of setting variables for a block.

>>> import os
>>> with environment({"LABKIT_EXAMPLE": "1"}):
...     os.environ["LABKIT_EXAMPLE"]
'1'
>>> "LABKIT_EXAMPLE" in os.environ
False
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

# the BLAS/OpenMP thread pools' sizes: set to 1 where several processes share the cores
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def environment(variables: dict[str, str], *, override: bool = True) -> Iterator[None]:
    """Within the block, ``os.environ`` also holds ``variables`` (what child processes inherit); restored after.
    With ``override=False`` a variable the user already set keeps its value."""
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update({k: v for k, v in variables.items() if override or k not in os.environ})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def single_threaded(count: int = 1) -> dict[str, str]:
    """The thread variables set to ``count``: ``{"OMP_NUM_THREADS": "1", ...}``."""
    return {var: str(count) for var in THREAD_VARIABLES}
