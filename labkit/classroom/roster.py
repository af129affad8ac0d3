"""The class list: a roster CSV (``id,name,email[,extension][,lms_id]``) into accounts, students and inbounds.

:func:`read` checks the file and names every bad row; :func:`import_roster` makes the machine match it:
a system account per learner (when run as root), nbgrader's students (with the LMS id) and each learner's
private inbound in the exchange. Re-importing is idempotent. A learner the roster no longer lists is
disabled, never deleted: their account expires, their grades and files stay.

>>> import io
>>> [(l.id, str(l.extension)) for l in parse(io.StringIO("id,name,email,extension\\nada,Ada L,ada@x.org,2d\\n"))]
[('ada', '2 days, 0:00:00')]
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from labkit.classroom import accounts
from labkit.classroom.course_file import _ID, Course
from labkit.classroom.deadlines import DeadlineError, parse_extension

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
REQUIRED = ("id", "name", "email")


class RosterError(ValueError):
    """The roster cannot be read; the message names the rows and the fix."""


@dataclass(frozen=True)
class Learner:
    id: str
    name: str
    email: str
    extension: timedelta = timedelta(0)
    lms_id: str = ""

    @property
    def first_last(self) -> tuple[str, str]:
        first, _, last = self.name.partition(" ")
        return first, last


def parse(fh: TextIO) -> list[Learner]:
    """Learners from roster CSV text; every problem is reported at once, with its line number."""
    reader = csv.DictReader(fh)
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise RosterError(f"the roster has no column {', '.join(missing)}: its first line must be "
                          "id,name,email (optionally extension, lms_id)")
    problems, learners, seen = [], [], set()
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        lid = row["id"]
        if not _ID.match(lid):
            problems.append(f"line {line}: id {lid!r} is not a valid account name (lower-case letters, digits, "
                            "'-' or '_', starting with a letter, at most 32 characters)")
            continue
        if lid in seen:
            problems.append(f"line {line}: {lid} is listed twice")
            continue
        if not _EMAIL.match(row["email"]):
            problems.append(f"line {line}: {lid}'s email {row['email']!r} is not an address")
        try:
            extension = parse_extension(row.get("extension"))
        except DeadlineError as exc:
            problems.append(f"line {line}: {exc}")
            continue
        seen.add(lid)
        learners.append(Learner(lid, row["name"] or lid, row["email"], extension, row.get("lms_id", "")))
    if problems:
        raise RosterError("the roster has problems:\n  " + "\n  ".join(problems[:20])
                          + (f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""))
    return learners


def read(path: Path) -> list[Learner]:
    """The roster at ``path``."""
    if not Path(path).is_file():
        raise RosterError(f"no roster at {path}: write a CSV with the columns id,name,email (see README, "
                          "'Running a class')")
    return parse(io.StringIO(Path(path).read_text(encoding="utf-8-sig")))


@dataclass
class ImportReport:
    """What :func:`import_roster` did, learner by learner."""

    created: list[str] = field(default_factory=list)
    enabled: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    accounts_skipped: str = ""  # why no accounts were touched (not root)

    def summary(self) -> str:
        parts = [f"{len(v)} {k}" for k, v in (("created", self.created), ("re-enabled", self.enabled),
                                              ("unchanged", self.unchanged), ("disabled", self.disabled))]
        return "learners: " + ", ".join(parts) + (f"\n{self.accounts_skipped}" if self.accounts_skipped else "")


def _students(learners: list[Learner], db_url: str) -> None:
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        for learner in learners:
            first, last = learner.first_last
            gb.update_or_create_student(learner.id, first_name=first, last_name=last, email=learner.email,
                                        lms_user_id=learner.lms_id or None)


def import_roster(course: Course, learners: list[Learner], db_url: str) -> ImportReport:
    """Make accounts, nbgrader's students and inbounds match ``learners`` (see the module's docstring)."""
    from labkit.classroom import exchange

    report = ImportReport()
    _students(learners, db_url)
    if not accounts.is_root():
        report.accounts_skipped = ("no system accounts were created: each learner's server runs as their own "
                                   "account, which only root can create. Run `sudo labkit roster import` "
                                   "(nbgrader's students were updated).")
        report.unchanged = [learner.id for learner in learners]
        return report
    group = accounts.learners_group(course.course_id)
    accounts.ensure_group(group)
    exchange.prepare(course)
    for learner in learners:
        getattr(report, accounts.ensure_learner(learner.id, learner.name, group)).append(learner.id)
        exchange.prepare_inbound(course, learner.id, learner.extension.total_seconds())
    listed = {learner.id for learner in learners}
    for name in sorted(accounts.members(group) - listed):
        if accounts.disable(name, group):
            report.disabled.append(name)
    return report
