"""labkit: the helper package of an autograded course from Spark essentials to distributed deep learning.

Heavy engines (Spark, TensorFlow, Horovod) are imported lazily by the modules that need them, so
``import labkit`` and ``import labkit.metrics`` stay fast in a grading kernel.
"""

__version__ = "0.1.0"

import os as _os


def fast_mode(requested: bool = False) -> bool:
    """Whether a lab should use its small sizes: asked for (``labkit run --fast`` sets ``FAST=True``),
    or running under nbgrader (``NBGRADER_EXECUTION`` is set while it autogrades or validates), where
    only the graded cells matter and they never depend on the sizes.

    >>> fast_mode(True)
    True
    """
    return bool(requested) or bool(_os.environ.get("NBGRADER_EXECUTION"))


def headless() -> bool:
    """Whether the notebook runs with no browser attached: nbgrader grading (``NBGRADER_EXECUTION``) or
    ``labkit run``/papermill (``LABKIT_HEADLESS``). Widgets then draw a static view: headless clients such
    as nbclient can hang on output routed through ``ipywidgets.Output`` (nbclient issue #312).

    >>> isinstance(headless(), bool)
    True
    """
    return bool(_os.environ.get("NBGRADER_EXECUTION") or _os.environ.get("LABKIT_HEADLESS"))
