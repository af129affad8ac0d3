"""Shared fixtures: a throw-away copy of the course so grading tests never touch the real gradebook."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/scratch.py, for the browser suite too

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture()
def course_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the course (solutions, labs, demo submissions, config; datasets linked) as the course root."""
    root = tmp_path / "course"
    root.mkdir()
    for name in ["solutions", "labs"]:
        shutil.copytree(ROOT / name, root / name)
    shutil.copytree(ROOT / "grading" / "demo", root / "grading" / "demo")
    shutil.copy(ROOT / "nbgrader_config.py", root)
    (root / "datasets").symlink_to(ROOT / "datasets")
    monkeypatch.setenv("LABKIT_COURSE_ROOT", str(root))
    return root


@pytest.fixture(scope="module")
def spark():
    """The test session's Spark (classic local, or Spark Connect when LABKIT_SPARK_REMOTE is set)."""
    from labkit.spark import get_spark

    return get_spark("labkit-tests")
