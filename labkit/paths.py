"""Where the course lives on disk: the repository layout every labkit command works against."""

from __future__ import annotations

import os
from pathlib import Path


def course_root() -> Path:
    """The course directory: ``$LABKIT_COURSE_ROOT`` if set, else the repository holding this package.

    >>> (course_root() / "nbgrader_config.py").name
    'nbgrader_config.py'
    """
    env = os.environ.get("LABKIT_COURSE_ROOT")
    return Path(env).resolve() if env else Path(__file__).resolve().parent.parent


def datasets_dir() -> Path:
    """``datasets/``: shipped data files and their MANIFEST (``$LABKIT_DATASETS`` overrides it)."""
    env = os.environ.get("LABKIT_DATASETS")
    return Path(env).resolve() if env else course_root() / "datasets"


def solutions_dir() -> Path:
    """``solutions/``: instructor notebooks, nbgrader's source directory."""
    return course_root() / "solutions"


def labs_dir() -> Path:
    """``labs/``: the released student notebooks, nbgrader's release directory."""
    return course_root() / "labs"


def grading_dir() -> Path:
    """``grading/``: nbgrader's submitted/autograded/feedback folders, the gradebook and demo submissions."""
    return course_root() / "grading"


def build_dir() -> Path:
    """``build/``: executed notebooks and reports; never committed."""
    return course_root() / "build"


def ensure_venv_bin_on_path() -> None:
    """Put this interpreter's ``bin/`` first on PATH.

    nbgrader runs ``alembic`` and Horovod runs ``horovodrun``/``python`` by name; without this a
    ``.venv/bin/labkit`` started from a shell that never activated the venv would find other copies
    (or none: nbgrader then fails to create the gradebook with "No such file or directory: 'alembic'").
    """
    import sys

    bin_dir = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if parts[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir] + [p for p in parts if p != bin_dir])
