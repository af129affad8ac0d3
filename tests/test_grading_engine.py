"""The grading engine's parts: intake's merge, the guard, item analysis, resumability and determinism."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scratch import PROBE_LAB, _probe_cells, gradebook_rows, probe_lab, scratch_course, scratch_env

from labkit._env import environment
from labkit.grading import guard, intake, sandbox
from labkit.grading.plan import seed_for
from labkit.grading.report import item_analysis
from labkit.grading.scoring import score_cell

BIN = Path(sys.executable).parent


def _source():
    return nbformat.v4.new_notebook(cells=_probe_cells())


def _release(source):
    released = nbformat.from_dict(json.loads(json.dumps(source)))
    for cell in released.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = cell.source.split("### BEGIN SOLUTION")[0] + "raise NotImplementedError()"
        cell.source = intake._HIDDEN.sub("", cell.source)
    return released


def _gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


# --------------------------------------------------------------------------- intake

@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["keep", "drop", "dup", "edit", "plain"]), min_size=5, max_size=5),
       st.randoms(use_true_random=False))
def test_prepare_restores_every_graded_cell_once_in_source_order(actions, rnd):
    """Whatever a learner does to the graded cells (delete, duplicate, edit, shuffle, add cells), the merged
    notebook holds each graded cell exactly once, in the source's order, locked cells as in the source."""
    source = _source()
    released = _release(source)
    cells = []
    for cell, action in zip([c for c in released.cells if _gid(c)], actions, strict=True):
        copy = nbformat.from_dict(json.loads(json.dumps(cell)))
        if action == "drop":
            continue
        if action == "edit":
            copy.source = "print('edited')"
        cells.append(copy)
        if action == "dup":
            cells.append(nbformat.from_dict(json.loads(json.dumps(copy))))
        if action == "plain":
            cells.append(nbformat.v4.new_code_cell("helper = 1"))
    rnd.shuffle(cells)
    learner = nbformat.v4.new_notebook(cells=cells)
    prepared = intake.prepare(nbformat.writes(learner).encode(), source, released)
    assert prepared.fatal is None
    graded = [c for c in prepared.notebook.cells if _gid(c)]
    assert [_gid(c) for c in graded] == [_gid(c) for c in source.cells if _gid(c)]
    by_id = {_gid(c): c for c in source.cells if _gid(c)}
    for cell in graded:
        meta = by_id[_gid(cell)].metadata["nbgrader"]
        assert cell.metadata["nbgrader"] == meta
        if not meta.get("solution"):
            assert cell.source == by_id[_gid(cell)].source  # hidden tests included
    assert sum(c.source == "helper = 1" for c in prepared.notebook.cells) == actions.count("plain")


@pytest.mark.parametrize(("raw", "needle"), [
    (b"", "empty"), (b"{not json", "not valid JSON"), (b'{"a": 1}', "not a notebook"),
    (b"\xff\xfe", "not UTF-8"), (b"[1, 2]", "not a notebook"),
])
def test_prepare_names_what_is_wrong_with_a_file(raw, needle):
    source = _source()
    prepared = intake.prepare(raw, source, _release(source))
    assert prepared.notebook is None and needle in prepared.fatal


def test_prepare_reports_edited_locked_cells_and_caps_extra_cells():
    source = _source()
    released = _release(source)
    learner = nbformat.from_dict(json.loads(json.dumps(released)))
    next(c for c in learner.cells if _gid(c) == "square_tests").source = "2"
    learner.cells += [nbformat.v4.new_code_cell("x = 1") for _ in range(30)]
    prepared = intake.prepare(nbformat.writes(learner).encode(), source, released, max_cells=10)
    assert any("'square_tests' was edited" in w for w in prepared.warnings)
    assert any("beyond the first 10" in w for w in prepared.warnings)
    assert sum(c.source == "x = 1" for c in prepared.notebook.cells) <= 10


@pytest.mark.parametrize("name", ["..", "../x", ".hidden", "a/b", " lead", "x" * 101, "tab\there", "a..b"])
def test_unsafe_learner_names_are_refused(name):
    with pytest.raises(ValueError, match="not allowed"):
        intake.student_id(name)


def test_hidden_lines_and_strip_hidden_agree():
    source = _source()
    released = _release(source)
    lines = intake.hidden_lines(source, released)
    assert len(lines) == 5 and all(len(line) >= 12 for line in lines)  # "for i in range(4):" appears twice
    for cell in source.cells:
        stripped = intake.strip_hidden(cell.source)
        assert not any(line in stripped for line in lines)


# --------------------------------------------------------------------------- scoring and the guard

def _test_cell(outputs, points=3.0):
    cell = nbformat.v4.new_code_cell("checks.score()", metadata={"nbgrader": {"grade_id": "t", "points": points}})
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


def test_score_cell_follows_nbgrader_except_for_stderr():
    from nbgrader.utils import determine_grade

    result = {"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": {"text/plain": "1.5"}}
    stderr = {"output_type": "stream", "name": "stderr", "text": "W tensorflow: a warning\n"}
    error = {"output_type": "error", "ename": "NameError", "evalue": "x", "traceback": []}
    for outputs in ([result], [], [error], [{"output_type": "stream", "name": "stdout", "text": "✗ a: b\n"}, result]):
        cell = _test_cell(outputs)
        cell.metadata.nbgrader.update({"grade": True, "solution": False})
        assert score_cell(cell, 3.0).score == determine_grade(cell)[0]  # nbgrader's own rule as the oracle
    warned = _test_cell([stderr, result])
    q = score_cell(warned, 3.0)
    assert q.score == 1.5 and "a warning" in q.warning  # nbgrader would give 0
    assert score_cell(_test_cell([{"output_type": "stream", "name": "stdout", "text": "✗ a: wrong\n"}, result]),
                      3.0).messages == ["a: wrong"]


def test_seeds_are_fixed_per_learner_and_lab():
    assert seed_for("04_metrics", "ada") == seed_for("04_metrics", "ada")
    assert len({seed_for(lab, s) for lab in ("01", "04") for s in ("ada", "bob", "cy")}) == 6


# --------------------------------------------------------------------------- item analysis

@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=3, max_value=40), st.integers(min_value=2, max_value=5), st.integers(0, 10**6))
def test_item_analysis_matches_scipy(n, k, seed):
    rng = np.random.default_rng(seed)
    points = {f"q{i}": float(rng.integers(1, 5)) for i in range(k)}
    scores = pd.DataFrame({q: rng.integers(0, int(p) + 1, n).astype(float) for q, p in points.items()})
    items = item_analysis(scores, points)
    for q, p in points.items():
        rest = scores.drop(columns=q).sum(axis=1)
        assert items.loc[q, "mean"] == pytest.approx(scores[q].mean())
        assert items.loc[q, "full_marks"] == pytest.approx((scores[q] == p).mean())
        if scores[q].std() > 0 and rest.std() > 0:
            assert items.loc[q, "discrimination"] == pytest.approx(stats.pearsonr(scores[q], rest)[0])
        else:
            assert math.isnan(items.loc[q, "discrimination"])


def test_item_analysis_needs_every_questions_points():
    with pytest.raises(ValueError, match="no points given"):
        item_analysis(pd.DataFrame({"a": [1.0], "b": [2.0]}), {"a": 1})


# --------------------------------------------------------------------------- end to end: resumable, deterministic

def _perfect(course: Path):
    with environment(scratch_env(course)):
        released = nbformat.read(course / "labs" / PROBE_LAB / f"{PROBE_LAB}.ipynb", as_version=4)
    for cell in released.cells:
        if _gid(cell) == "square_solution":
            cell.source = "import time\ntime.sleep(1.5)\ndef square(x):\n    return x * x"
        elif _gid(cell) == "mean_solution":
            cell.source = "def mean(xs):\n    return float(np.mean(xs)) + (0.1 if len(xs) > 20 else 0)"
    return released


def _gradebook(course: Path) -> list[tuple]:
    return gradebook_rows(course)


def _journal_count(course: Path) -> int:
    try:
        with sqlite3.connect(course / "grading" / "gradebook.db") as db:
            return db.execute("SELECT COUNT(*) FROM labkit_journal").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


@pytest.fixture(scope="module")
def probe_courses(tmp_path_factory):
    base = tmp_path_factory.mktemp("resume")
    subs = base / "subs"
    subs.mkdir()
    courses = []
    for name in ("straight", "killed"):
        course = scratch_course(base / name, [])
        probe_lab(course)
        courses.append(course)
    nb = _perfect(courses[0])
    for i in range(8):
        nbformat.write(nb, subs / f"learner{i}.ipynb")
    return subs, courses


def _grade(course: Path, subs: Path, *extra: str, **kw):
    env = {**os.environ, **scratch_env(course)}
    return subprocess.Popen([str(BIN / "labkit"), "grade", PROBE_LAB, str(subs), "--workers", "2", *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_kill_9_then_rerun_gives_the_same_gradebook_and_grades_nothing_twice(probe_courses):
    subs, (straight, killed) = probe_courses
    out, err = _grade(straight, subs).communicate(timeout=600)
    assert "8 graded" in out, err[-2000:]
    expected = _gradebook(straight)
    assert len(expected) == 16

    proc = _grade(killed, subs, start_new_session=True)
    deadline = time.monotonic() + 300
    while _journal_count(killed) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    before = _journal_count(killed)
    assert 2 <= before < 8
    out, err = _grade(killed, subs).communicate(timeout=600)
    assert f"{8 - before} graded, {before} already in the gradebook" in out, out + err[-2000:]
    assert _gradebook(killed) == expected
    leftover = subprocess.run(["ps", "-eo", "uid="], capture_output=True, text=True).stdout.split()
    assert not [u for u in leftover if int(u) >= 61000]


def test_a_forced_regrade_is_deterministic(probe_courses):
    subs, (straight, _) = probe_courses
    before = _gradebook(straight)
    scores = {score for _, name, score in before if name == "mean_tests"}
    assert len(scores) > 1  # per-learner seeds: the slip at len > 20 is caught for some learners only
    out, err = _grade(straight, subs, "--force").communicate(timeout=600)
    assert "8 graded" in out, err[-2000:]
    assert _gradebook(straight) == before


def test_no_lab_solution_is_flagged():
    """The scan must not flag honest work: every answer of every lab's solution passes it clean."""
    from labkit.grading.nbgrader import lab_notebook, list_labs

    for lab in list_labs():
        for cell in nbformat.read(lab_notebook(lab), as_version=4).cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                assert guard.scan(cell.source) == [], (lab, cell.metadata["nbgrader"]["grade_id"])


def test_without_root_only_the_rlimits_apply_and_grading_still_works(tmp_path):
    """The fallback a machine without root gets (forced here with LABKIT_SANDBOX=minimal): still graded right,
    and the run says which protections are missing."""
    course = scratch_course(tmp_path / "course", [])
    probe_lab(course)
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(_perfect(course), subs / "ada.ipynb")
    nbformat.write(nbformat.read(course / "labs" / PROBE_LAB / f"{PROBE_LAB}.ipynb", as_version=4), subs / "bob.ipynb")
    env = {**os.environ, **scratch_env(course), "LABKIT_SANDBOX": "minimal"}
    out = subprocess.run([str(BIN / "labkit"), "grade", PROBE_LAB, str(subs)], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "unavailable here: separate user, namespaces, cgroups" in out.stdout
    totals: dict[str, float] = {}
    for student, _, score in gradebook_rows(course):
        totals[student] = totals.get(student, 0) + score
    assert totals["bob"] == 0 and 2 < totals["ada"] <= 5  # ada: square right, mean slips on long inputs


def test_the_zygote_serves_requests_that_arrive_in_one_read(tmp_path):
    """Two workers can ask at the same moment, so one read of the zygote's stdin can hold both requests:
    each must be answered (a buffered reader once left the second waiting until the next request came)."""
    from dataclasses import asdict

    from labkit.grading import sandbox

    zygote = sandbox.Zygote(env={"LABKIT_SANDBOX": "minimal"})
    try:
        spec = sandbox.Spec(name="pair", workdir=str(tmp_path), connection_file="", uid=os.getuid(),
                            limits=asdict(sandbox.Limits()))
        pids = zygote.spawn_many([spec] * 3, 10, argv=["true"])  # one write, as three racing spawn() calls land
        assert len(set(pids)) == 3
        assert [zygote.wait_exit(pid, 30) for pid in pids] == [0, 0, 0]
    finally:
        zygote.close()


def test_a_grader_failure_is_not_journaled_and_the_next_run_grades_it(tmp_path, monkeypatch):
    """When the grader itself fails on a submission (here: its kernel cannot be started), it tries once more;
    if that fails too the learner gets no permanent zero: the run says to retry, and the rerun grades exactly
    that submission. A fault that happens once is absorbed by the retry."""
    from labkit.grading import engine

    course = scratch_course(tmp_path / "course", [])
    probe_lab(course)
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("ada", "bob"):
        nbformat.write(_perfect(course), subs / f"{name}.ipynb")
    for key, value in scratch_env(course).items():
        monkeypatch.setenv(key, value)
    real_init = engine.SandboxedKernel.__init__

    def flaky_init(self, zygote, runtime, name, *args, **kw):
        if args[2].get("LABKIT_GRADING_SEED") == str(seed_for(PROBE_LAB, "bob")):
            raise RuntimeError("the grading zygote did not answer")
        real_init(self, zygote, runtime, name, *args, **kw)

    monkeypatch.setattr(engine.SandboxedKernel, "__init__", flaky_init)
    first = engine.grade(PROBE_LAB, subs, workers=2, progress=False, root=course)
    bob = next(r for r in first.results if r.student == "bob")
    assert bob.incomplete and "run labkit grade again" in bob.problem
    assert "1 stopped by a grader error" in first.summary()
    monkeypatch.setattr(engine.SandboxedKernel, "__init__", real_init)
    second = engine.grade(PROBE_LAB, subs, workers=2, progress=False, root=course)
    assert [r.student for r in second.graded] == ["bob"]
    failures = []

    def fails_once(self, zygote, runtime, name, *args, **kw):
        if not failures:
            failures.append(name)
            raise RuntimeError("a transient fault")
        real_init(self, zygote, runtime, name, *args, **kw)

    monkeypatch.setattr(engine.SandboxedKernel, "__init__", fails_once)
    third = engine.grade(PROBE_LAB, subs, workers=1, progress=False, force=True, root=course)
    assert failures and not any(r.incomplete or r.problem for r in third.results)  # retried within the run
    totals: dict[str, float] = {}
    for student, _, score in gradebook_rows(course):
        totals[student] = totals.get(student, 0) + score
    assert totals["bob"] > 2 and totals["ada"] > 2  # both graded, each square right


def test_demo_cells_are_skipped_unless_an_answer_needs_them(tmp_path):
    """A cell tagged demo is not run while grading (its output says so), except for a learner whose answer
    reads a name it defines, or who edited it; with --all-cells every cell runs. The grades are those of
    running everything."""
    demo = nbformat.v4.new_code_cell('SCALE = 3\nprint("the demo ran")', metadata={"tags": ["demo"]})
    cells = _probe_cells()
    cells.insert(2, demo)
    course = scratch_course(tmp_path / "course", [])
    probe_lab(course, cells)
    released = _perfect(course)
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(released, subs / "plain.ipynb")
    needs = nbformat.from_dict(json.loads(json.dumps(released)))
    answer = next(c for c in needs.cells if _gid(c) == "square_solution")
    answer.source = "def square(x):\n    return x * x * SCALE / SCALE"
    nbformat.write(needs, subs / "needs_demo.ipynb")
    edited = nbformat.from_dict(json.loads(json.dumps(released)))
    next(c for c in edited.cells if "the demo ran" in c.source).source += "\nprint('edited')"
    nbformat.write(edited, subs / "edited_demo.ipynb")
    env = {**os.environ, **scratch_env(course)}

    def run(*extra: str) -> dict[str, str]:
        out = subprocess.run([str(BIN / "labkit"), "grade", PROBE_LAB, str(subs), *extra], env=env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        shown = {}
        for learner in ("plain", "needs_demo", "edited_demo"):
            nb = nbformat.read(course / "grading" / "autograded" / learner / PROBE_LAB / f"{PROBE_LAB}.ipynb",
                               as_version=4)
            cell = next(c for c in nb.cells if "the demo ran" in c.source)
            shown[learner] = "".join(o.get("text", "") for o in cell.outputs)
        return shown

    def totals() -> dict[str, float]:
        result: dict[str, float] = {}
        for student, _, score in gradebook_rows(course):
            result[student] = result.get(student, 0) + score
        return result

    shown = run()
    assert "not run while grading" in shown["plain"]
    assert shown["needs_demo"] == "the demo ran\n"
    assert shown["edited_demo"] == "the demo ran\nedited\n"
    skipped = totals()
    square = {student: score for student, name, score in gradebook_rows(course) if name == "square_tests"}
    assert square == {"plain": 2, "needs_demo": 2, "edited_demo": 2}  # needs_demo's answer found SCALE
    shown = run("--all-cells")
    assert all(text.startswith("the demo ran") for text in shown.values())
    assert totals() == skipped


def test_without_figures_a_lab_s_matplotlib_inline_renders_nothing():
    """Grading without --figures: %matplotlib inline must not switch to the inline backend (which renders a
    PNG per figure), and figures are closed after each cell as inline closes them. Run in a real kernel."""
    from jupyter_client.manager import start_new_kernel

    code = ("%matplotlib inline\nimport matplotlib, matplotlib.pyplot as plt\nplt.plot([1, 2]);\n"
            "print(matplotlib.get_backend())")
    for backend, expect_png in (("agg", False), ("module://matplotlib_inline.backend_inline", True)):
        env = {**os.environ, "MPLBACKEND": backend}
        km, kc = start_new_kernel(kernel_name="labkit", env=env)
        try:
            if backend == "agg":  # what the grader's kernel does at start
                kc.execute_interactive("from labkit.grading.sandbox import draw_without_rendering; "
                                       "draw_without_rendering(get_ipython())", timeout=60)
            outputs = []
            kc.execute_interactive(code, timeout=60, output_hook=outputs.append)
            figures = []
            kc.execute_interactive("print(len(plt.get_fignums()))", timeout=60,
                                   output_hook=figures.append)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
        pngs = [m for m in outputs if "image/png" in m["content"].get("data", {})]
        text = "".join(m["content"].get("text", "") for m in outputs)
        assert bool(pngs) == expect_png, text
        assert ("agg" in text) == (not expect_png)
        assert "".join(m["content"].get("text", "") for m in figures).strip() == "0"  # closed after each cell


def test_a_rerun_after_kill_9_reaps_what_the_crashed_run_left(tmp_path):
    """A submission that starts a background process (in its own session) is in flight when the grader is
    killed with SIGKILL: after the rerun, nothing of any sandbox user is running, and the crashed run's
    cgroups and runtime folder are gone."""
    from labkit.grading.sandbox.reaper import uid_range

    course = scratch_course(tmp_path / "course", [])
    probe_lab(course)
    subs = tmp_path / "subs"
    subs.mkdir()
    nb = _perfect(course)
    for cell in nb.cells:
        if _gid(cell) == "square_solution":
            cell.source = ("import subprocess, time\nsubprocess.Popen(['sleep', '3600'], start_new_session=True)\n"
                           "time.sleep(20)\ndef square(x):\n    return x * x")
    for i in range(3):
        nbformat.write(nb, subs / f"learner{i}.ipynb")
    proc = _grade(course, subs, start_new_session=True)

    def sleepers(lo: int, hi: int) -> list[str]:  # alive, not a zombie waiting for init to reap it
        ps = subprocess.run(["ps", "-eo", "uid=,stat=,comm="], capture_output=True, text=True).stdout.splitlines()
        return [line for line in ps if line.split()[2:] == ["sleep"] and not line.split()[1].startswith("Z")
                and lo <= int(line.split()[0]) < hi]

    deadline = time.monotonic() + 120
    while not sleepers(*uid_range(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sleepers(*uid_range(proc.pid)), "the submission's background process never started"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert sleepers(*uid_range(proc.pid))  # left behind by the crash, as in the field
    out, err = _grade(course, subs).communicate(timeout=600)
    assert "3 graded" in out, out + err[-2000:]
    assert not sleepers(sandbox.FIRST_UID, 2**31)
    assert not list(Path("/run/labkit").glob(f"grade-{proc.pid}-*"))
