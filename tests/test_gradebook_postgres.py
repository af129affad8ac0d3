"""labkit's gradebook on PostgreSQL (``CourseDirectory.db_url``): grading, resuming, reporting and exporting
give what they give on SQLite, and the throwaway cluster leaves nothing running."""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from scratch import gradebook_rows, scratch_course, scratch_env

from labkit._env import environment
from labkit.classroom.postgres import BIN_DIR, PostgresCluster, PostgresError
from labkit.grading import engine
from labkit.grading.gradebook import Gradebook, read_journal
from labkit.grading.nbgrader import export, gradebook_path, release
from labkit.grading.results import Question, Result

ROOT = Path(__file__).resolve().parent.parent
LAB = "04_metrics"
DEMOS = ("perfect", "partial", "blank")
# the query of scratch.gradebook_rows (which opens the SQLite file), run on any database through SQLAlchemy
ROWS = ("SELECT student.id, base_cell.name, COALESCE(grade.manual_score, grade.auto_score) FROM grade "
        "JOIN base_cell ON grade.cell_id = base_cell.id "
        "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
        "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
        "JOIN assignment ON submitted_assignment.assignment_id = assignment.id "
        "JOIN student ON submitted_assignment.student_id = student.id WHERE assignment.name = :lab")


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "not root: PostgresCluster runs the server as the postgres user (run the tests as root)"
    if not (BIN_DIR / "pg_ctl").is_file():
        return f"no PostgreSQL 15 in {BIN_DIR} (apt-get install postgresql-15)"
    return None


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def cluster():
    if reason := _why_not():
        pytest.skip(reason)
    with PostgresCluster(database="gradebook", user="grader") as pg:
        pid, folder = pg.pid, pg.folder
        assert _alive(pid)
        yield pg
    assert not _alive(pid), "the PostgreSQL server outlived its cluster"
    assert not folder.exists()


def _grade(course: Path, subs: Path, **kw):
    with environment(scratch_env(course)):
        return engine.grade(LAB, subs, workers=2, progress=False, root=course, **kw)


def _pg_rows(url: str) -> list[tuple]:
    from sqlalchemy import create_engine, text

    db = create_engine(url)
    try:
        with db.connect() as conn:
            return sorted(tuple(r) for r in conn.execute(text(ROWS), {"lab": LAB}))
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def graded(cluster, tmp_path_factory):
    """The three demo submissions of lab 04 graded twice, independently: into a SQLite gradebook and into the
    cluster's PostgreSQL one. Returns (sqlite course, postgres course, submissions, the two runs)."""
    base = tmp_path_factory.mktemp("pg")
    subs = base / "subs"
    subs.mkdir()
    for kind in DEMOS:
        shutil.copy(ROOT / "grading" / "demo" / LAB / f"{kind}.ipynb", subs)
    lite = scratch_course(base / "sqlite", [LAB])
    pg = scratch_course(base / "postgres", [LAB], release=False)
    with (pg / "nbgrader_config.py").open("a") as fh:
        fh.write(f"\nc.CourseDirectory.db_url = {cluster.url!r}\n")
    with environment(scratch_env(pg)):
        release([LAB], root=pg)
    return lite, pg, subs, _grade(lite, subs), _grade(pg, subs)


def test_grading_into_postgres_gives_the_sqlite_grades(cluster, graded):
    lite, pg, _, lite_run, pg_run = graded
    assert gradebook_path(lite) == lite / "grading" / "gradebook.db" and gradebook_path(pg) is None
    assert not (pg / "grading" / "gradebook.db").exists()
    rows = _pg_rows(cluster.url)
    assert rows == gradebook_rows(lite, LAB) and len(rows) == 3 * 4  # lab 04: four graded cells
    totals = {r.student: r.score for r in pg_run.results}
    assert totals == {r.student: r.score for r in lite_run.results}
    assert totals["perfect"] == 10 and 0 < totals["partial"] < 10 and totals["blank"] == 0


def test_a_rerun_reads_the_journal_back_from_postgres(cluster, graded):
    """Nothing is graded twice; a learner missing from the journal (as after a kill -9) is graded again alone,
    to the same grades."""
    from sqlalchemy import create_engine, text

    _, pg, subs, _, first = graded
    before = _pg_rows(cluster.url)
    again = _grade(pg, subs)
    assert not again.graded and "0 graded, 3 already in the gradebook" in again.summary()
    db = create_engine(cluster.url)
    with db.begin() as conn:
        conn.execute(text("DELETE FROM labkit_journal WHERE student = 'partial'"))
    db.dispose()
    resumed = _grade(pg, subs)
    assert [r.student for r in resumed.graded] == ["partial"]
    assert _pg_rows(cluster.url) == before
    journal = read_journal(LAB, pg)
    assert {s: r.score for s, r in journal.items()} == {r.student: r.score for r in first.results}
    assert journal["partial"].questions == next(r for r in first.results if r.student == "partial").questions


def test_export_gives_the_same_rows_from_both_gradebooks(graded, tmp_path):
    lite, pg, *_ = graded
    tables = []
    for course in (lite, pg):
        with environment(scratch_env(course)):
            assert export(tmp_path / f"{course.name}.csv", root=course) == 3
        with (tmp_path / f"{course.name}.csv").open() as fh:
            tables.append(sorted(csv.DictReader(fh), key=lambda row: row["student"]))
    assert tables[0] == tables[1]
    assert {row["student"]: float(row["score"]) for row in tables[1]}["perfect"] == 10


def test_labkit_report_reads_the_same_from_both_gradebooks(graded):
    from labkit.grading.report import build_report

    reports = []
    for course in graded[:2]:
        with environment(scratch_env(course)):
            reports.append(build_report(LAB, root=course))
    lite, pg = reports
    assert (pg.folder / "report.md").read_text() == (lite.folder / "report.md").read_text()
    assert pg.scores.equals(lite.scores) and (pg.flagged, pg.problems) == (lite.flagged, lite.problems)
    assert sorted(p.parent.parent.name for p in pg.feedback) == sorted(DEMOS)  # (their cell ids are random)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_record_stores_the_hand_in_time_and_late_penalty_in_nbgraders_tables(graded, backend):
    from nbgrader.api import Gradebook as NbGradebook
    from sqlalchemy import text

    course = graded[0] if backend == "sqlite" else graded[1]
    with environment(scratch_env(course)):
        book = Gradebook(LAB, course)
        db_url = book.api.coursedir.db_url
        cells = {c.name: c.max_score for c in book.assignment.notebooks[0].grade_cells}
        notebook = book.assignment.notebooks[0].name + ".ipynb"
        result = Result("latecomer", LAB, {q: Question(q, p, p / 2) for q, p in cells.items()}, digest="d1")
        handed_in = datetime(2026, 11, 30, 14, 5, tzinfo=timezone(timedelta(hours=2)))
        try:
            book.record(result, notebook, timestamp=handed_in, late_penalty=1.5)
            with NbGradebook(db_url) as gb:
                sub = gb.find_submission(LAB, "latecomer")
                assert sub.timestamp == datetime(2026, 11, 30, 12, 5)  # nbgrader keeps UTC
                assert sub.notebooks[0].late_submission_penalty == 1.5 and sub.late_submission_penalty == 1.5
                assert sub.score == pytest.approx(result.score)
            book.record(result, notebook)  # the defaults: the time stays, no penalty (nbgrader's NULL)
            with NbGradebook(db_url) as gb:
                sub = gb.find_submission(LAB, "latecomer")
                assert sub.timestamp == datetime(2026, 11, 30, 12, 5)
                assert sub.notebooks[0].late_submission_penalty is None and sub.late_submission_penalty == 0
            assert book.stored("latecomer") == result and book.journal()["latecomer"] == "d1"
            with pytest.raises(ValueError, match="late_penalty"):
                book.record(result, notebook, late_penalty=-1)
        finally:
            book.close()
            with NbGradebook(db_url) as gb:
                gb.remove_student("latecomer")
                gb.db.execute(text("DELETE FROM labkit_journal WHERE student = 'latecomer'"))
                gb.db.commit()


def test_the_server_stops_and_its_folder_goes_when_the_body_raises():
    if reason := _why_not():
        pytest.skip(reason)
    cluster = PostgresCluster()
    with pytest.raises(KeyError), cluster:
        pid, folder = cluster.pid, cluster.folder
        raise KeyError("the body failed")
    assert not _alive(pid) and not folder.exists()


def test_a_cluster_never_stopped_is_stopped_at_interpreter_exit():
    if reason := _why_not():
        pytest.skip(reason)
    code = ("from labkit.classroom.postgres import PostgresCluster\n"
            "pg = PostgresCluster().start()\nprint(pg.pid, pg.folder)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    pid, folder = out.stdout.split()
    assert not _alive(int(pid)) and not Path(folder).exists()


def test_the_errors_name_the_fix(tmp_path, monkeypatch):
    """Checked before anything is created, so these need neither root nor a server."""
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with pytest.raises(PostgresError, match="apt-get install postgresql-15"):
        PostgresCluster(bin_dir=tmp_path).start()
    if (BIN_DIR / "pg_ctl").is_file():  # the port is checked after the binaries
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            with pytest.raises(PostgresError, match=f"port {port} on 127.0.0.1 is taken"):
                PostgresCluster(port=port).start()
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(PostgresError, match="run as root or point db_url at your own PostgreSQL"):
        PostgresCluster().start()
