"""nbgrader, driven in-process: release labs, autograde submissions, read and export the gradebook.

Everything goes through nbgrader's own API with the course's ``nbgrader_config.py``, so the gradebook,
formgrader and command-line ``nbgrader`` all see the same course.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from labkit.paths import course_root, ensure_venv_bin_on_path, labs_dir, solutions_dir


class GradingError(RuntimeError):
    """nbgrader could not release or grade a lab; the message carries nbgrader's log."""


class UnknownLab(GradingError):
    """A lab or assignment name that names nothing in ``solutions/`` (a usage error)."""


def list_labs() -> list[str]:
    """Lab ids in course order: the ``NN_name`` folders of ``solutions/``.

    >>> "04_metrics" in list_labs()
    True
    """
    return sorted(p.name for p in solutions_dir().iterdir() if p.is_dir() and p.name[:2].isdigit())


def list_assignments() -> list[str]:
    """Every assignment folder of ``solutions/``: the course's labs and any an instructor added."""
    return sorted(p.name for p in solutions_dir().iterdir() if p.is_dir() and not p.name.startswith("."))


def resolve_lab(name: str) -> str:
    """Accept any assignment folder of ``solutions/`` by its name, or a course lab by ``04`` or ``metrics``;
    return the folder name, or raise :class:`UnknownLab` naming the choices.

    >>> resolve_lab("04"), resolve_lab("metrics"), resolve_lab("04_metrics")
    ('04_metrics', '04_metrics', '04_metrics')
    """
    if name in list_assignments():
        return name
    labs = list_labs()
    matches = [lab for lab in labs if name in (lab[:2], lab[3:])]
    if len(matches) != 1:
        raise UnknownLab(f"no lab called {name!r}: choose one of {', '.join(list_assignments())}.")
    return matches[0]


def lab_notebook(lab: str, *, released: bool = False) -> Path:
    """The lab's one notebook in ``solutions/`` (or ``labs/`` when ``released``)."""
    base = (labs_dir() if released else solutions_dir()) / lab
    notebooks = sorted(base.glob("*.ipynb"))
    if len(notebooks) != 1:
        raise GradingError(f"{base} must hold exactly one notebook, found {len(notebooks)}.")
    return notebooks[0]


def api(root: Path | None = None):
    """An ``NbGraderAPI`` configured from ``<root>/nbgrader_config.py`` (root: the course)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    ensure_venv_bin_on_path()
    root = Path(root or course_root())
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def _check(result: dict, what: str) -> None:
    if not result.get("success"):
        log = (result.get("log") or "") + (result.get("error") or "")
        raise GradingError(f"{what} failed:\n{log.strip()[-4000:]}")


def release(labs: Iterable[str] | None = None, *, root: Path | None = None) -> list[str]:
    """Regenerate ``labs/<lab>/`` from ``solutions/<lab>/`` with ``nbgrader generate_assignment``.

    Solutions and hidden tests are stripped; every cell's checksum goes into the gradebook so that
    autograding can restore locked and test cells later.
    """
    nb_api = api(root)
    done = []
    for lab in labs or list_labs():
        _check(nb_api.generate_assignment(lab, force=True, create=True), f"releasing {lab}")
        done.append(lab)
    return done


def export(path: Path, *, root: Path | None = None) -> int:
    """Write the gradebook as CSV (one row per learner and lab, per-question columns); returns the row count."""
    from nbgrader.api import Gradebook

    nb_api = api(root)
    rows = []
    with Gradebook(nb_api.coursedir.db_url) as gb:
        for assignment in gb.assignments:
            for sub in assignment.submissions:
                for nb in sub.notebooks:
                    row = {"lab": assignment.name, "student": sub.student.id, "score": nb.score,
                           "max_score": nb.max_score}
                    for grade in sorted(nb.grades, key=lambda g: g.name):
                        row[grade.name] = grade.score
                    rows.append(row)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def gradebook_path(root: Path | None = None) -> Path | None:
    """The gradebook's SQLite file, or None when ``CourseDirectory.db_url`` names a database server (such as a
    shared PostgreSQL gradebook) or an in-memory database: then reach it through SQLAlchemy with the URL."""
    from sqlalchemy.engine import make_url

    url = make_url(api(root).coursedir.db_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)

