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


def progress(iterable=None, *, desc: str | None = None, total: int | None = None):
    """A progress bar over ``iterable``: a widget in JupyterLab, plain text on stdout when headless.
    With no iterable it is a manual bar: call ``update(n)`` and ``close()``.

    Headless runs print to stdout rather than tqdm's default stderr, which nbgrader would count against
    a graded cell.

    >>> [x for x in progress(range(3), desc="demo")] == [0, 1, 2]  # doctest: +ELLIPSIS
    True
    """
    if headless() or not _in_notebook():
        import sys

        from tqdm import tqdm

        return tqdm(iterable, desc=desc, total=total, file=sys.stdout, ascii=True, mininterval=2.0)
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"
