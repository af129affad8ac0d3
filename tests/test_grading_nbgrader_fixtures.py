"""nbgrader's own autograde fixtures, graded by ``labkit grade``: the scores nbgrader's test suite expects.

nbgrader ships, in ``nbgrader/tests/apps/files/``, a small assignment and four submissions of it, two of
them cheat attempts that patch ``InteractiveShell.showtraceback`` so that a failing test cell shows no
error. Its ``test_nbgrader_autograde.py::test_showtraceback_exploit`` asserts each learner's score, the
maximum and whether the notebook needs manual grading; an independent oracle for ``labkit grade``, which
must give the same numbers through its own engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from scratch import scratch_course, scratch_env

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox needs Linux")

BIN = Path(sys.executable).parent
# learner -> (fixture, score, needs manual grading), as nbgrader's test_showtraceback_exploit asserts
EXPECTED = {
    "foo": ("submitted-unchanged.ipynb", 1, False),
    "bar": ("submitted-changed.ipynb", 2, True),
    "spam": ("submitted-cheat-attempt.ipynb", 1, True),
    "eggs": ("submitted-cheat-attempt-alternative.ipynb", 1, True),
}
MAX_SCORE = 7


def _fixtures() -> Path:
    import nbgrader

    return Path(nbgrader.__file__).parent / "tests" / "apps" / "files"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from labkit._env import environment
    from labkit.grading.nbgrader import release

    base = tmp_path_factory.mktemp("nbgrader-fixtures")
    course = scratch_course(base / "course", [])
    (course / "solutions" / "ps1").mkdir(parents=True)
    shutil.copyfile(_fixtures() / "submitted-unchanged.ipynb", course / "solutions" / "ps1" / "p1.ipynb")
    with environment(scratch_env(course)):
        release(["ps1"], root=course)
    subs = base / "submitted"
    for learner, (fixture, _, _) in EXPECTED.items():
        (subs / learner).mkdir(parents=True)
        shutil.copyfile(_fixtures() / fixture, subs / learner / "p1.ipynb")
    env = {**os.environ, **scratch_env(course)}
    proc = subprocess.run([str(BIN / "labkit"), "grade", "ps1", str(subs), "--workers", "2", "--cell-timeout", "60"],
                          env=env, capture_output=True, text=True, timeout=600)
    return course, proc


@pytest.mark.parametrize("learner", sorted(EXPECTED))
def test_nbgrader_fixtures_get_the_scores_nbgrader_expects(graded, learner):
    from nbgrader.api import Gradebook

    course, proc = graded
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    _, score, manual = EXPECTED[learner]
    with Gradebook(f"sqlite:///{course / 'grading' / 'gradebook.db'}") as gb:
        notebook = gb.find_submission_notebook("p1", "ps1", learner)
        assert (notebook.score, notebook.max_score, notebook.needs_manual_grade) == (score, MAX_SCORE, manual)


def test_the_showtraceback_exploit_is_flagged(graded):
    _, proc = graded
    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line and not line.startswith(" ")}
    for learner in ("spam", "eggs"):
        assert "the IPython shell" in lines[learner], lines[learner]
    assert "review" not in lines["foo"] and "review" not in lines["bar"]
