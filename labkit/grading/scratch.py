"""A throwaway copy of the course with its own gradebook, for benchmarks, tests and dry runs.

>>> import os, tempfile; from pathlib import Path
>>> root = scratch_course(Path(tempfile.mkdtemp()), ["04_metrics"], release=False)
>>> sorted(p.name for p in root.iterdir())
['grading', 'labs', 'nbgrader_config.py', 'solutions']
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from labkit.paths import course_root, datasets_dir


def scratch_course(path: Path, labs: list[str], *, release: bool = True) -> Path:
    """Copy ``nbgrader_config.py`` and the ``solutions/`` and ``labs/`` folders of ``labs`` into ``path`` and
    (with ``release``) register them in a new gradebook there. Use it with ``LABKIT_COURSE_ROOT=path`` and
    ``LABKIT_DATASETS`` pointing at the real datasets (see :func:`scratch_env`)."""
    path = Path(path)
    src = course_root()
    (path / "grading").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / "nbgrader_config.py", path / "nbgrader_config.py")
    for lab in labs:
        for folder in ("solutions", "labs"):
            shutil.copytree(src / folder / lab, path / folder / lab, dirs_exist_ok=True)
    if release:
        from labkit.grading.nbgrader import release as do_release

        with _env(scratch_env(path)):
            do_release(labs, root=path)
    return path


def scratch_env(path: Path) -> dict[str, str]:
    """Environment variables that point labkit (and nbgrader through it) at the scratch course."""
    return {"LABKIT_COURSE_ROOT": str(Path(path).resolve()), "LABKIT_DATASETS": str(datasets_dir())}


class _env:
    def __init__(self, values: dict[str, str]) -> None:
        self.values, self.saved = values, {}

    def __enter__(self) -> None:
        self.saved = {k: os.environ.get(k) for k in self.values}
        os.environ.update(self.values)

    def __exit__(self, *exc) -> None:
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
