"""A throwaway copy of the course with its own gradebook, for the tests and benchmarks (not part of labkit).

>>> import os, tempfile; from pathlib import Path
>>> root = scratch_course(Path(tempfile.mkdtemp()), ["04_metrics"], release=False)
>>> sorted(p.name for p in root.iterdir())
['grading', 'labs', 'nbgrader_config.py', 'solutions']
"""

from __future__ import annotations

import shutil
from pathlib import Path

from labkit._env import environment
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
    if release and labs:
        from labkit.grading.nbgrader import release as do_release

        with environment(scratch_env(path)):
            do_release(labs, root=path)
    return path


def scratch_env(path: Path) -> dict[str, str]:
    """Environment variables that point labkit (and nbgrader through it) at the scratch course."""
    return {"LABKIT_COURSE_ROOT": str(Path(path).resolve()), "LABKIT_DATASETS": str(datasets_dir())}


PROBE_LAB = "00_probe"


def meta(grade_id: str, *, solution=False, grade=False, locked=False, points=0) -> dict:
    """nbgrader metadata for a probe cell."""
    m = {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": locked, "schema_version": 3,
         "task": False}
    if grade:
        m["points"] = points
    return {"nbgrader": m}


def spark_probe_cells() -> list:
    """A two-task Spark lab (5 points): ``evens`` runs a Spark query, ``total`` a Python UDF on the server."""
    import nbformat

    code, md = nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell
    return [
        md("# Spark probe lab"),
        code("from labkit.spark import get_spark\nfrom labkit.grading.checks import Checks\nspark = get_spark()",
             metadata=meta("setup", locked=True)),
        code('def evens(n):\n    ### BEGIN SOLUTION\n    return spark.range(n).filter("id % 2 = 0").count()\n'
             "    ### END SOLUTION", metadata=meta("evens_solution", solution=True)),
        code('checks = Checks(points=2)\nchecks.close("evens(10)", lambda: evens(10), 5)\n### BEGIN HIDDEN TESTS\n'
             'n = int(checks.rng.integers(1, 200))\nchecks.close(f"evens({n})", lambda: evens(n), (n + 1) // 2)\n'
             "### END HIDDEN TESTS\nchecks.score()", metadata=meta("evens_tests", grade=True, locked=True, points=2)),
        code("def total(n):\n    ### BEGIN SOLUTION\n    from pyspark.sql import functions as F\n"
             '    plus_one = F.udf(lambda x: x + 1, "long")\n'
             '    return spark.range(n).select(plus_one("id").alias("v")).agg(F.sum("v")).collect()[0][0]\n'
             "    ### END SOLUTION", metadata=meta("total_solution", solution=True)),
        code('checks = Checks(points=3)\nchecks.close("total(4)", lambda: total(4), 10)\n### BEGIN HIDDEN TESTS\n'
             'n = int(checks.rng.integers(5, 50))\nchecks.close(f"total({n})", lambda: total(n), n * (n + 1) // 2)\n'
             "### END HIDDEN TESTS\nchecks.score()", metadata=meta("total_tests", grade=True, locked=True, points=3)),
    ]


def _probe_cells() -> list:
    import nbformat

    code, md = nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell
    return [
        md("# Probe lab\n\nTwo small tasks: the smallest real lab, for grader tests and overhead benchmarks."),
        code("import numpy as np\nfrom labkit.grading.checks import Checks", metadata=meta("setup", locked=True)),
        md("**Task 1.** Write `square(x)`."),
        code("def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
             metadata=meta("square_solution", solution=True)),
        code('checks = Checks(points=2)\nchecks.close("square(3)", lambda: square(3), 9)\n'
             "### BEGIN HIDDEN TESTS\nfor i in range(4):\n    v = float(checks.rng.normal())\n"
             '    checks.close(f"square of a random number #{i}", lambda: square(v), v * v)  # probe-hidden-a\n'
             "### END HIDDEN TESTS\nchecks.score()",
             metadata=meta("square_tests", grade=True, locked=True, points=2)),
        md("**Task 2.** Write `mean(xs)`."),
        code("def mean(xs):\n    ### BEGIN SOLUTION\n    return float(np.mean(xs))\n    ### END SOLUTION",
             metadata=meta("mean_solution", solution=True)),
        code('checks = Checks(points=3)\nchecks.close("mean of 1, 2, 3", lambda: mean([1, 2, 3]), 2.0)\n'
             "### BEGIN HIDDEN TESTS\nfor i in range(4):\n"
             "    xs = checks.rng.normal(size=int(checks.rng.integers(1, 50)))\n"
             '    checks.close(f"mean of random numbers #{i}", lambda: mean(xs), sum(xs) / len(xs))  # probe-hidden-b\n'
             "### END HIDDEN TESTS\nchecks.score()",
             metadata=meta("mean_tests", grade=True, locked=True, points=3)),
    ]


def probe_lab(course: Path, cells: list | None = None) -> str:
    """Write and release the two-task probe lab (5 points) in a scratch ``course``, or a lab made of
    ``cells`` under the probe's name; returns its id."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=cells or _probe_cells(), metadata={
        "kernelspec": {"display_name": "Python 3 (labkit)", "language": "python", "name": "labkit"}})
    folder = Path(course) / "solutions" / PROBE_LAB
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{PROBE_LAB}.ipynb")
    from labkit.grading.nbgrader import release

    with environment(scratch_env(course)):
        release([PROBE_LAB], root=Path(course))
    return PROBE_LAB


def gradebook_rows(course: Path, lab: str | None = None) -> list[tuple[str, str, float | None]]:
    """Every ``(learner, question, score)`` row of a course's gradebook, sorted, read with plain SQL rather than
    through nbgrader's API (tests and benchmarks use it as an independent view). A question graded twice
    would appear twice."""
    import sqlite3

    query = ("SELECT student.id, base_cell.name, COALESCE(grade.manual_score, grade.auto_score) FROM grade "
             "JOIN base_cell ON grade.cell_id = base_cell.id "
             "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
             "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
             "JOIN assignment ON submitted_assignment.assignment_id = assignment.id "
             "JOIN student ON submitted_assignment.student_id = student.id")
    with sqlite3.connect(Path(course) / "grading" / "gradebook.db") as db:
        rows = db.execute(query + " WHERE assignment.name = ?", (lab,)) if lab else db.execute(query)
        return sorted(rows.fetchall())
