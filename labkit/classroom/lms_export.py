"""Grades out of nbgrader's gradebook into the CSV file an LMS's gradebook import reads.

One row per learner, one column per lab and a course total. A lab's grade is the learner's nbgrader score less
the late penalty nbgrader recorded on their notebooks, never below 0, rounded to 2 decimals (:func:`final_score`);
the total is the sum of those grades. A learner with no submission for a lab gets no grade for it — an empty
cell (Canvas, plain CSV) or ``-`` (Moodle), each LMS's documented "no grade" — not 0: whether a missing lab
counts as 0 is the LMS's grading policy, not this file's.

Formats (UTF-8 without a byte-order mark: neither LMS's import asks for one; both read plain UTF-8):

``canvas``
    Canvas's *Import grades* CSV (Instructure Community, Instructor Guide, "How do I import grades in the
    Gradebook?", community.canvaslms.com/t5/Instructor-Guide/How-do-I-import-grades-in-the-Gradebook/ta-p/807),
    checked against Canvas's importer (``app/models/gradebook_importer.rb``): the header row
    ``Student, ID, SIS User ID, SIS Login ID, Section`` then one column per assignment, ``Title (assignment id)``
    for an existing Canvas assignment (see ``assignment_ids``) or a plain title, which Canvas offers to create as a
    new assignment; a second row whose first cell is ``Points Possible`` gives each assignment's points (Canvas
    sets a new assignment's points from it). ``ID`` is the learner's Canvas user id (the roster's ``lms_id`` or
    nbgrader's ``lms_user_id``), ``SIS Login ID`` the learner's id; Canvas matches a row by ID, then SIS ids, then
    name. The course total is written under ``Final Points``, one of the read-only columns Canvas's own export
    writes and its import ignores, so it never becomes an assignment.
``moodle``
    Moodle's *Import grades from CSV file* (MoodleDocs, "Grade import", docs.moodle.org/en/Grade_import): a header
    row, then one row per learner; on import the teacher maps an identifier column ("Map from") to a user field
    ("Map to": ``Email address`` → useremail, or ``Username`` → username) and each grade column to a grade item
    or "new grade item". Columns: ``First name, Last name, Username, Email address``, one per lab named as the
    lab, and ``Course total`` (map it to "Ignore": Moodle computes its own course total, and refuses grades above
    100 unless its ``unlimitedgrades`` setting is on). Moodle reads ``-`` as "no grade" for existing and new grade
    items alike (``grade/import/csv/classes/load_data.php``); e-mail addresses are written exactly as the roster
    has them (older Moodles compare them case-sensitively, MDL-29315).
``csv``
    labkit's own table: ``id, name, email``, then per lab ``<lab> score`` (nbgrader's), ``<lab> penalty`` and
    ``<lab> final``, and ``total``.

>>> final_score(7.5, 2), final_score(1, 3.5), final_score(9.999, None)
(5.5, 0.0, 10.0)
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from labkit.grading.nbgrader import GradingError

FORMATS = ("canvas", "moodle", "csv")
CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS_ROW = "Points Possible"
CANVAS_TOTAL = "Final Points"  # Canvas's export writes it read-only; its import ignores the column
MOODLE_IDENTITY = ("First name", "Last name", "Username", "Email address")
MOODLE_TOTAL = "Course total"
MOODLE_NO_GRADE = "-"
# headers Canvas's importer strips as "not an assignment" (a substring match): a lab titled so would vanish
_CANVAS_RESERVED = re.compile("Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade|"
                              "Override Score|Override Grade|Override Status")


class LmsError(GradingError):
    """An export or import cannot be done as asked; the message says why and what to do."""


class LmsWarning(UserWarning):
    """Something the instructor should know about an export (a learner left out)."""


def final_score(score: float | None, penalty: float | None) -> float:
    """A lab's grade: ``score`` less the late ``penalty`` (``None`` counts as 0), at least 0, to 2 decimals."""
    value = round(max(0.0, float(score or 0.0) - float(penalty or 0.0)), 2)
    return value + 0.0  # never -0.0


def _fmt(value: float) -> str:
    """``7.0`` → ``'7'``, ``8.25`` → ``'8.25'``: at most 2 decimals, as Canvas's export writes scores."""
    text = f"{round(value, 2) + 0.0:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@dataclass
class Person:
    """One row of the export: who the learner is, for the LMS to match them."""

    id: str
    name: str = ""
    first: str = ""
    last: str = ""
    email: str = ""
    lms_id: str = ""


@dataclass
class Grade:
    score: float
    penalty: float

    @property
    def final(self) -> float:
        return final_score(self.score, self.penalty)


@dataclass
class Table:
    """Everything an export writes: labs with their points, learners, and each learner's grades."""

    labs: list[str]
    points: dict[str, float]
    people: list[Person]
    grades: dict[tuple[str, str], Grade] = field(default_factory=dict)  # (learner, lab) -> grade

    def total(self, learner: str) -> float:
        return round(sum(g.final for (who, _), g in self.grades.items() if who == learner), 2)


def _pick_labs(wanted: Iterable[str] | None, available: Sequence[str]) -> list[str]:
    """``wanted`` as gradebook assignment names (``04`` and ``metrics`` name ``04_metrics``); all if ``None``."""
    if not wanted:
        return sorted(available)
    picked = []
    for name in wanted:
        matches = [name] if name in available else [a for a in available if name in (a[:2], a[3:])]
        if len(matches) != 1:
            raise LmsError(f"no lab {name!r} in the gradebook: it has {', '.join(sorted(available)) or 'no labs'} "
                           "(release and grade a lab before exporting it)")
        if matches[0] not in picked:
            picked.append(matches[0])
    return picked


def _roster_people(roster) -> list[Person] | None:
    if roster is None:
        return None
    from labkit.classroom import roster as roster_mod

    learners = roster_mod.read(Path(roster)) if isinstance(roster, str | Path) else list(roster)
    people = []
    for learner in learners:
        first, last = learner.first_last
        people.append(Person(learner.id, learner.name, first, last, learner.email, learner.lms_id or ""))
    return people


def read_table(gradebook_url: str, labs: Iterable[str] | None = None, roster=None) -> Table:
    """The grades to export from the gradebook at ``gradebook_url`` (see :func:`export_grades`)."""
    from nbgrader.api import Gradebook

    from labkit.paths import ensure_venv_bin_on_path

    ensure_venv_bin_on_path()  # nbgrader runs alembic to check the database's schema
    listed = _roster_people(roster)
    with Gradebook(gradebook_url) as gb:
        chosen = _pick_labs(labs, [a.name for a in gb.assignments])
        known = {s.id: s for s in gb.students}
        table = Table(chosen, {}, [])
        for lab in chosen:
            assignment = gb.find_assignment(lab)
            table.points[lab] = float(assignment.max_score or 0.0)
            for sub in assignment.submissions:
                penalty = sum(float(nb.late_submission_penalty or 0.0) for nb in sub.notebooks)
                table.grades[(sub.student.id, lab)] = Grade(float(sub.score or 0.0), penalty)
        if listed is None:
            table.people = [Person(s.id, " ".join(p for p in (s.first_name, s.last_name) if p) or s.id,
                                   s.first_name or "", s.last_name or "", s.email or "", s.lms_user_id or "")
                            for s in sorted(known.values(), key=lambda s: s.id)]
        else:
            for person in listed:  # the roster names the class; the gradebook fills in what it lacks
                student = known.get(person.id)
                if student is not None:
                    person.email = person.email or student.email or ""
                    person.lms_id = person.lms_id or student.lms_user_id or ""
            table.people = listed
            extra = sorted({who for who, _ in table.grades} - {p.id for p in listed})
            if extra:
                warnings.warn(LmsWarning(f"{len(extra)} learner(s) with grades are not in the roster and were left "
                                         f"out: {', '.join(extra[:10])}" + (" …" if len(extra) > 10 else "")),
                              stacklevel=2)
    return table


def _canvas_rows(table: Table, assignment_ids: Mapping[str, str]) -> list[list[str]]:
    headers = []
    for lab in table.labs:
        if _CANVAS_RESERVED.search(lab):
            raise LmsError(f"Canvas's import ignores a column titled {lab!r} (it looks like one of its own total "
                           "columns): rename the lab")
        aid = str(assignment_ids.get(lab, "")).strip()
        if aid and not aid.isdigit():
            raise LmsError(f"Canvas assignment id {aid!r} for {lab} is not a number: it is the number at the end of "
                           "the assignment's address in Canvas")
        headers.append(f"{lab} ({aid})" if aid else lab)
    rows = [[*CANVAS_IDENTITY, *headers, CANVAS_TOTAL],
            [CANVAS_POINTS_ROW, "", "", "", "", *(_fmt(table.points[lab]) for lab in table.labs), "(read only)"]]
    for p in table.people:
        name = p.name or (f"{p.last}, {p.first}" if p.last else p.first) or p.id
        cells = [_fmt(g.final) if (g := table.grades.get((p.id, lab))) else "" for lab in table.labs]
        rows.append([name, p.lms_id, "", p.id, "", *cells, _fmt(table.total(p.id))])
    return rows


def _moodle_rows(table: Table) -> list[list[str]]:
    rows = [[*MOODLE_IDENTITY, *table.labs, MOODLE_TOTAL]]
    for p in table.people:
        first, last = (p.first, p.last) if (p.first or p.last) else (p.name or p.id, "")
        cells = [_fmt(g.final) if (g := table.grades.get((p.id, lab))) else MOODLE_NO_GRADE for lab in table.labs]
        rows.append([first, last, p.id, p.email, *cells, _fmt(table.total(p.id))])
    return rows


def _plain_rows(table: Table) -> list[list[str]]:
    header = ["id", "name", "email"]
    for lab in table.labs:
        header += [f"{lab} score", f"{lab} penalty", f"{lab} final"]
    rows = [[*header, "total"]]
    for p in table.people:
        row = [p.id, p.name or " ".join(x for x in (p.first, p.last) if x) or p.id, p.email]
        for lab in table.labs:
            g = table.grades.get((p.id, lab))
            row += [_fmt(g.score), _fmt(g.penalty), _fmt(g.final)] if g else ["", "", ""]
        rows.append([*row, _fmt(table.total(p.id))])
    return rows


def export_grades(gradebook_url: str, fmt: str, path: Path | str, labs: Iterable[str] | None = None,
                  roster=None, *, assignment_ids: Mapping[str, str] | None = None) -> int:
    """Write the gradebook's grades as ``fmt`` (``canvas``, ``moodle`` or ``csv``) to ``path``; return the number
    of learner rows.

    ``labs``: assignment names (or ``04``/``metrics``), all the gradebook's labs if ``None``. ``roster``: the class
    list (a roster CSV path or :class:`labkit.classroom.roster.Learner` objects); with it, every roster learner
    gets a row in roster order, graded or not, and learners with grades but not in the roster are left out with
    an :class:`LmsWarning`; without it, every student in the gradebook gets a row. ``assignment_ids``: lab →
    Canvas assignment id, for columns that update existing Canvas assignments (``Lab (12345)``).
    """
    if fmt not in FORMATS:
        raise LmsError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    table = read_table(gradebook_url, labs, roster)
    if fmt == "canvas":
        rows = _canvas_rows(table, assignment_ids or {})
    elif fmt == "moodle":
        rows = _moodle_rows(table)
    else:
        rows = _plain_rows(table)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return len(table.people)
