"""The learner's side of the class exchange: nbgrader's own fetch, list and feedback, and a submit that writes
only into the learner's private inbound (see :mod:`labkit.classroom.exchange` for the layout).

The class's ``nbgrader_config.py`` (root's, written by ``labkit hub``) selects these classes through
nbgrader's ``ExchangeFactory``. None of them is a safeguard: a learner can change their own configuration or
write files by hand, and file ownership still keeps them out of everyone else's work while
:mod:`labkit.classroom.collect` trusts nothing they wrote. What these classes add is clear messages: the hard
deadline, the size limit and "only as yourself" are refused here, before anything is copied.
"""

from __future__ import annotations

import base64
import json
import os
import pwd
from datetime import UTC, datetime, timedelta

from nbgrader.exchange.default import (
    ExchangeFetchAssignment,
    ExchangeFetchFeedback,
    ExchangeList,
    ExchangeSubmit,
)
from nbgrader.utils import check_mode

from labkit.classroom.exchange import DEADLINES_FILE, INBOUND_QUOTA, usage
from labkit.grading.intake import MAX_BYTES


def me() -> str:
    """The account this process runs as (what the exchange believes, whatever ``--student`` says)."""
    return pwd.getpwuid(os.getuid()).pw_name


class _SharedRoot:
    """The exchange root belongs to root and is not writable by learners, as it should be: nbgrader's check
    that it is world-writable is replaced by one that it exists."""

    def ensure_root(self) -> None:
        if not os.path.isdir(self.root):
            self.fail(f"The class exchange {self.root} does not exist yet: ask your instructor to run "
                      "`labkit release-to-class`.")


class ClassList(_SharedRoot, ExchangeList):
    """nbgrader's assignment listing (released labs, your submissions, your feedback)."""


class ClassFetchAssignment(_SharedRoot, ExchangeFetchAssignment):
    """nbgrader's fetch of a released lab."""


class ClassFetchFeedback(_SharedRoot, ExchangeFetchFeedback):
    """nbgrader's fetch of your feedback (found through the secret in your own submission cache)."""


def _size(path: str) -> int:
    """Bytes under ``path``, however deep (a learner's own deep folder must not crash their Submit)."""
    return usage(path, 100_000)[0]


class PrivateSubmit(_SharedRoot, ExchangeSubmit):
    """Submit into ``inbound/<you>/``, which only you can enter; refused after your hard deadline, above the
    size limit, or as someone else."""

    def _course(self) -> str:
        return os.path.join(self.root, self.coursedir.course_id)

    def init_dest(self) -> None:
        if self.coursedir.course_id == "":
            self.fail("No course id is configured: ask your instructor (labkit hub writes it).")
        user = me()
        if self.coursedir.student_id not in ("*", user):
            self.fail(f"You can submit only as yourself ({user}), not as {self.coursedir.student_id}.")
        self.inbound_path = os.path.join(self._course(), "inbound", user)
        if not os.path.isdir(self.inbound_path) or not check_mode(self.inbound_path, write=True, execute=True):
            self.fail(f"You have no inbound folder in the class exchange ({self.inbound_path}): ask your "
                      "instructor to add you to the roster (labkit roster import).")
        self._check_deadline(user)
        self.cache_path = os.path.join(self.cache, self.coursedir.course_id)
        random_str = base64.urlsafe_b64encode(os.urandom(9)).decode("ascii")
        self.assignment_filename = f"{user}+{self.coursedir.assignment_id}+{self.timestamp}+{random_str}"

    def _check_deadline(self, user: str) -> None:
        lab = self.coursedir.assignment_id
        try:
            with open(os.path.join(self._course(), DEADLINES_FILE)) as fh:
                dates = json.load(fh).get(lab)
        except (OSError, ValueError):
            dates = None
        if not dates:
            return
        extension = timedelta(0)
        try:
            with open(os.path.join(self._course(), "extensions", user)) as fh:
                extension = timedelta(seconds=float(json.load(fh).get("seconds", 0)))
        except (OSError, ValueError):
            pass
        hard = datetime.fromisoformat(dates["hard_deadline"]) + extension
        now = datetime.now(UTC)
        if now > hard:
            self.fail(f"The hard deadline for {lab} was {hard.isoformat(' ', 'minutes')}: submissions are closed. "
                      "Ask your instructor if you need an extension.")
        if now > datetime.fromisoformat(dates["due"]) + extension:
            self.log.warning("%s was due %s: this submission is late and the late penalty applies.", lab,
                             (datetime.fromisoformat(dates["due"]) + extension).isoformat(" ", "minutes"))

    def copy_files(self) -> None:
        for name in sorted(os.listdir(self.src_path))[:1000]:  # the notebooks nbgrader submits lie at the top
            path = os.path.join(self.src_path, name)
            if name.endswith(".ipynb") and os.path.isfile(path) and os.path.getsize(path) > MAX_BYTES:
                self.fail(f"{name} is {os.path.getsize(path) / 2**20:.0f} MiB: the limit is "
                          f"{MAX_BYTES // 2**20} MiB. Clear its outputs (Edit → Clear Outputs of All Cells).")
        if _size(self.inbound_path) + _size(self.src_path) > INBOUND_QUOTA:
            self.fail(f"Your submissions would take more than {INBOUND_QUOTA // 2**20} MiB: remove large files from "
                      f"the {self.coursedir.assignment_id} folder (data, outputs) and submit again.")
        super().copy_files()
        os.chmod(os.path.join(self.inbound_path, self.assignment_filename), 0o700)  # nbgrader leaves it 0777
