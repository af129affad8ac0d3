"""Stage 6 of grading: nbgrader's gradebook and labkit's journal, written by the main thread alone, one
transaction per submission."""

from __future__ import annotations

from pathlib import Path

from labkit.grading.nbgrader import GradingError, api
from labkit.grading.results import Result

_JOURNAL = ("CREATE TABLE IF NOT EXISTS labkit_journal (lab TEXT NOT NULL, student TEXT NOT NULL, "
            "digest TEXT NOT NULL, score REAL, result TEXT, PRIMARY KEY (lab, student))")


class Gradebook:
    """The main thread's single connection to nbgrader's gradebook, plus labkit's journal table."""

    def __init__(self, lab: str, root: Path | None = None) -> None:
        from nbgrader.api import Gradebook as NbGradebook
        from sqlalchemy import text

        self._text = text
        self.api = api(root)
        self.lab = lab
        self.gb = NbGradebook(self.api.coursedir.db_url)
        try:
            self.assignment = self.gb.find_assignment(lab)
        except Exception:
            self.gb.close()
            raise GradingError(f"{lab} is not in the gradebook: release it first with `labkit release {lab}`.") \
                from None
        self.gb.db.execute(text(_JOURNAL))
        self.gb.db.commit()

    def journal(self) -> dict[str, str]:
        rows = self.gb.db.execute(self._text("SELECT student, digest FROM labkit_journal WHERE lab = :lab"),
                                  {"lab": self.lab})
        return dict(rows.fetchall())

    def record(self, result: Result, notebook_name: str) -> None:
        """Write one learner's grades and journal entry in one transaction."""
        # nbgrader's API builds the submission's rows before adding them to the session; with autoflush on,
        # SQLAlchemy warns ("Object of type <SubmittedAssignment> not in session") for every one of them
        with self.gb.db.no_autoflush:
            self.gb.update_or_create_student(result.student)
            submission = self.gb.update_or_create_submission(self.lab, result.student)
        nb = next(n for n in submission.notebooks if n.name == notebook_name.removesuffix(".ipynb"))
        for grade in nb.grades:
            q = result.questions.get(grade.name)
            if q is None:
                continue
            grade.auto_score = q.score
            grade.needs_manual_grade = q.needs_manual
        self.gb.db.execute(self._text("INSERT OR REPLACE INTO labkit_journal VALUES (:lab, :student, :digest, "
                                      ":score, :result)"),
                           {"lab": self.lab, "student": result.student, "digest": result.digest,
                            "score": result.score, "result": result.to_json()})
        self.gb.db.commit()

    def stored(self, student: str) -> Result | None:
        row = self.gb.db.execute(self._text("SELECT result FROM labkit_journal WHERE lab = :lab AND student = :s"),
                                 {"lab": self.lab, "s": student}).fetchone()
        return Result.from_json(row[0]) if row else None

    def close(self) -> None:
        self.gb.close()


def read_journal(lab: str, root: Path | None = None) -> dict[str, Result]:
    """Every learner's journaled :class:`Result` of ``lab`` (empty if labkit never graded it)."""
    import sqlite3

    path = Path(api(root).coursedir.db_url.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as db:
        try:
            rows = db.execute("SELECT student, result FROM labkit_journal WHERE lab = ?", (lab,)).fetchall()
        except sqlite3.OperationalError:  # graded by stock nbgrader only
            return {}
    return {student: Result.from_json(text) for student, text in rows}
