"""Stage 6 of grading: nbgrader's gradebook and labkit's journal, written by the main thread alone, one
transaction per submission.

The gradebook is wherever the course's ``CourseDirectory.db_url`` points: a SQLite file (the default) or a
server such as PostgreSQL shared by several graders (:mod:`labkit.classroom.postgres`). Everything here goes
through SQLAlchemy, so the journal works on either.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from labkit.grading.nbgrader import GradingError, api
from labkit.grading.results import Result


def _journal_table(metadata):
    """labkit's journal: one row per lab and learner (SQLite files made by earlier labkit versions declared
    the same columns in SQL and are used as they are)."""
    from sqlalchemy import Column, Float, Table, Text

    return Table("labkit_journal", metadata, Column("lab", Text, primary_key=True),
                 Column("student", Text, primary_key=True), Column("digest", Text, nullable=False),
                 Column("score", Float), Column("result", Text))


def _upsert(session, table, row: dict) -> None:
    """Insert or replace ``row`` by its primary key, atomically on PostgreSQL and SQLite (another grader may
    write the same row at the same moment); elsewhere delete and insert in the session's transaction."""
    from sqlalchemy import delete

    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        keys = [c.name for c in table.primary_key.columns]
        stmt = insert(table).values(**row)
        session.execute(stmt.on_conflict_do_update(index_elements=keys,
                                                   set_={k: stmt.excluded[k] for k in row if k not in keys}))
        return
    session.execute(delete(table).where(table.c.lab == row["lab"], table.c.student == row["student"]))
    session.execute(table.insert().values(**row))


class Gradebook:
    """The main thread's single connection to nbgrader's gradebook, plus labkit's journal table."""

    def __init__(self, lab: str, root: Path | None = None) -> None:
        from nbgrader.api import Gradebook as NbGradebook
        from sqlalchemy import MetaData, inspect
        from sqlalchemy.exc import DBAPIError

        self.api = api(root)
        self.lab = lab
        self.gb = NbGradebook(self.api.coursedir.db_url)
        try:
            self.assignment = self.gb.find_assignment(lab)
        except Exception:
            self.gb.close()
            raise GradingError(f"{lab} is not in the gradebook: release it first with `labkit release {lab}`.") \
                from None
        self._journal = _journal_table(MetaData())
        try:
            self._journal.create(self.gb.db.connection(), checkfirst=True)
            self.gb.db.commit()
        except DBAPIError:  # another grader created it between the check and the CREATE
            self.gb.db.rollback()
            if not inspect(self.gb.db.connection()).has_table(self._journal.name):
                self.gb.close()
                raise

    def journal(self) -> dict[str, str]:
        from sqlalchemy import select

        t = self._journal
        rows = self.gb.db.execute(select(t.c.student, t.c.digest).where(t.c.lab == self.lab))
        return dict(rows.all())

    def record(self, result: Result, notebook_name: str, *, timestamp: datetime | None = None,
               late_penalty: float = 0.0) -> None:
        """Write one learner's grades and journal entry in one transaction.

        ``timestamp`` (when the learner handed in; naive means UTC) goes to nbgrader's submission, left as it
        was when not given; ``late_penalty`` (points off) to the submitted notebook, stored as nbgrader's
        autograde stores it: no penalty as NULL.
        """
        if late_penalty < 0:
            raise ValueError(f"late_penalty must be 0 or more points, got {late_penalty}.")
        extra = {} if timestamp is None else {"timestamp": timestamp}
        # nbgrader's API builds the submission's rows before adding them to the session; with autoflush on,
        # SQLAlchemy warns ("Object of type <SubmittedAssignment> not in session") for every one of them
        with self.gb.db.no_autoflush:
            self.gb.update_or_create_student(result.student)
            submission = self.gb.update_or_create_submission(self.lab, result.student, **extra)
        nb = next(n for n in submission.notebooks if n.name == notebook_name.removesuffix(".ipynb"))
        for grade in nb.grades:
            q = result.questions.get(grade.name)
            if q is None:
                continue
            grade.auto_score = q.score
            grade.needs_manual_grade = q.needs_manual
        nb.late_submission_penalty = late_penalty or None
        _upsert(self.gb.db, self._journal, {"lab": self.lab, "student": result.student, "digest": result.digest,
                                            "score": result.score, "result": result.to_json()})
        self.gb.db.commit()

    def stored(self, student: str) -> Result | None:
        from sqlalchemy import select

        t = self._journal
        text = self.gb.db.execute(select(t.c.result).where(t.c.lab == self.lab, t.c.student == student)).scalar()
        return Result.from_json(text) if text is not None else None

    def close(self) -> None:
        self.gb.close()


def read_journal(lab: str, root: Path | None = None) -> dict[str, Result]:
    """Every learner's journaled :class:`Result` of ``lab`` (empty if labkit never graded it)."""
    from sqlalchemy import MetaData, create_engine, inspect, select
    from sqlalchemy.pool import NullPool

    engine = create_engine(api(root).coursedir.db_url, poolclass=NullPool)
    try:
        with engine.connect() as db:
            if not inspect(db).has_table("labkit_journal"):  # graded by stock nbgrader only
                return {}
            t = _journal_table(MetaData())
            rows = db.execute(select(t.c.student, t.c.result).where(t.c.lab == lab)).all()
    finally:
        engine.dispose()
    return {student: Result.from_json(text) for student, text in rows}
