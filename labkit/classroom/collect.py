"""``labkit collect``: from every learner's private inbound to one submission per learner, ready to grade.

Run as root. Everything in an inbound was written by its learner, so nothing there is believed:

* **whose**: the inbound folder it is in (each is owned by, and open only to, its learner) — not the name a
  submission gives itself; a submission named for someone else is counted as its folder's owner's and flagged;
* **when**: the kernel's change time (``ctime``) of the submission folder and notebook, which no user can set
  back — not the ``timestamp.txt`` nbgrader's client writes. Editing an old submission after the deadline
  makes it late;
* **what**: regular files only, opened relative to folder descriptors without following links (a link to
  someone else's file, a FIFO, a hard link or an oversized file is refused and flagged), at most
  :data:`labkit.grading.intake.MAX_BYTES` read.

The late policy (:func:`labkit.classroom.deadlines.choose`) picks which hand-in counts; the chosen notebook goes
to ``grading/collected/<lab>/<learner>/`` with ``collected.json`` (when it arrived, how late, the penalty share),
which ``labkit grade`` records in nbgrader's gradebook (``timestamp``, ``late_submission_penalty``).
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import re
import shutil
import stat
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from labkit.classroom.course_file import Course
from labkit.classroom.deadlines import Attempt, choose
from labkit.classroom.exchange import INBOUND_QUOTA, inbound, prepare_inbound, usage
from labkit.classroom.roster import Learner
from labkit.grading.intake import COLLECTED_FILE, MAX_BYTES

_MAX_ENTRIES = 2000  # entries of one inbound looked at: a learner cannot make collect walk forever
_SECRET_BYTES = 512
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


@dataclass
class HandIn:
    """One submission folder in a learner's inbound, as collect read it."""

    key: str
    received: datetime
    notebook: bytes | None = None
    secret: str = ""
    problems: list[str] = field(default_factory=list)


@dataclass
class Collected:
    """One learner's outcome: the hand-in that counts (if any), how late, and what collect noticed."""

    learner: str
    received: str = ""  # ISO time of the chosen hand-in, UTC
    key: str = ""
    late: bool = False
    late_fraction: float = 0.0
    attempts: int = 0
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # what looks hostile, for the instructor to review

    @property
    def status(self) -> str:
        if not self.key:
            return "missing"
        return f"late (−{self.late_fraction:.0%})" if self.late else "on time"


def _ctime(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_ctime_ns / 1e9, tz=UTC)


def _read_regular(name: str, dir_fd: int, limit: int) -> tuple[bytes | None, os.stat_result | None, str]:
    """The bytes of ``name`` in ``dir_fd`` if it is a plain regular file of at most ``limit`` bytes, else why not."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError as exc:
        why = "a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
        return None, None, f"{name} cannot be opened ({why})"
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, st, f"{name} is not a regular file"
        if st.st_nlink > 1:
            return None, st, f"{name} is a hard link to another file"
        if st.st_size > limit:
            return None, st, f"{name} is {st.st_size / 2**20:.1f} MiB: the limit is {limit / 2**20:.0f} MiB"
        data = fh.read(limit + 1)[:limit]
        after = os.fstat(fd)  # a change while it was read makes it as late as that change
        return data, after if after.st_ctime_ns > st.st_ctime_ns else st, ""


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with control characters escaped: a learner's folder name cannot forge lines or drive the
    instructor's terminal.

    >>> printable("ada\\n\\x1b]0;title\\x07")
    'ada\\\\x0a\\\\x1b]0;title\\\\x07'
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _hand_in(key: str, parent_fd: int, notebook_name: str) -> HandIn | None:
    try:
        fd = os.open(key, _DIR_FLAGS, dir_fd=parent_fd)
    except OSError:
        return None  # not a folder (or a link to one): not a submission
    try:
        st = os.fstat(fd)
        found = HandIn(key=printable(key), received=_ctime(st))
        names = _names(fd)
        notebooks = [n for n in names if n.endswith(".ipynb") and not n.startswith(".")]
        chosen = notebook_name if notebook_name in notebooks else (notebooks[0] if len(notebooks) == 1 else None)
        if chosen is None:
            found.problems.append(f"no {notebook_name} in it" if not notebooks else
                                  f"{len(notebooks)} notebooks and none called {notebook_name}")
            return found
        data, nst, why = _read_regular(chosen, fd, MAX_BYTES)
        if nst is not None:
            found.received = max(found.received, _ctime(nst))
        if why:
            found.problems.append(why)
        found.notebook = data
        if "submission_secret.txt" in names:
            secret, _, _ = _read_regular("submission_secret.txt", fd, _SECRET_BYTES)
            found.secret = (secret or b"").decode("ascii", "replace").strip()
        return found
    finally:
        os.close(fd)


def _names(fd: int) -> list[str]:
    """The first :data:`_MAX_ENTRIES` names in a folder, sorted (a folder of a million entries is not read whole)."""
    with os.scandir(fd) as entries:
        return sorted(entry.name for entry in itertools.islice(entries, _MAX_ENTRIES))


def scan(course: Course, learner: str, lab: str, notebook_name: str) -> tuple[list[HandIn], list[str]]:
    """Every hand-in of ``lab`` in ``learner``'s inbound, and flags about the inbound itself."""
    path = inbound(course, learner)
    flags: list[str] = []
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError:
        return [], [f"no inbound folder ({path}): run `labkit roster import` again"]
    try:
        if os.fstat(fd).st_mode & 0o077:
            flags.append(f"the inbound had been opened to others (mode {oct(os.fstat(fd).st_mode & 0o777)}); "
                         "closed again")
        used, entries = usage(fd, _MAX_ENTRIES)
        if used > INBOUND_QUOTA or entries >= _MAX_ENTRIES:
            more = "+" if entries >= _MAX_ENTRIES else ""
            flags.append(f"the inbound holds {used / 2**20:.0f} MiB in {entries}{more} entries "
                         f"(quota {INBOUND_QUOTA / 2**20:.0f} MiB): someone filled it")
        found = []
        for key in _names(fd):
            parts = key.split("+")
            if len(parts) < 3 or parts[1] != lab:
                continue
            hand_in = _hand_in(key, fd, notebook_name)
            if hand_in is None:
                flags.append(f"{printable(key)} is not a folder (a link?): ignored")
                continue
            if parts[0] != learner:
                flags.append(f"{hand_in.key} claims to be {printable(parts[0])}'s: counted as {learner}'s, whose "
                             "inbound it is in")
            found.append(hand_in)
        return found, flags
    finally:
        os.close(fd)


def collect_learner(course: Course, learner: Learner, lab: str, notebook_name: str, dest: Path) -> Collected:
    """Pick ``learner``'s hand-in of ``lab`` that counts and copy it to ``dest/<learner>/``."""
    out = Collected(learner.id)
    found, out.flags = scan(course, learner.id, lab, notebook_name)
    if os.geteuid() == 0:  # put its owner and mode back, whatever its learner did to it
        prepare_inbound(course, learner.id, learner.extension.total_seconds())
    out.attempts = len(found)
    usable = [h for h in found if h.notebook is not None]
    for h in found:
        if h.notebook is None:
            out.notes.append(f"{h.key}: refused: {'; '.join(h.problems)}")
            out.flags += [p for p in h.problems if "link" in p or "regular" in p]
    deadline = course.deadline(lab, learner.extension)
    by_key = {h.key: h for h in usable}
    picked = choose((Attempt(h.received, h.key) for h in usable), deadline, course.late_policy)
    out.notes += [f"{a.key}: not counted: {why}" for a, why in picked.ignored]
    target = dest / learner.id
    if picked.chosen is None:
        shutil.rmtree(target, ignore_errors=True)
        return out
    chosen = by_key[picked.chosen.key]
    out.key, out.received, out.late = chosen.key, chosen.received.isoformat(), picked.late
    out.late_fraction = course.late_policy.fraction(deadline, chosen.received)
    staging = Path(tempfile.mkdtemp(dir=dest, prefix=f".{learner.id}-"))
    (staging / notebook_name).write_bytes(chosen.notebook or b"")
    (staging / COLLECTED_FILE).write_text(json.dumps({**asdict(out), "secret": chosen.secret,
                                                       "due": deadline.due.isoformat()}, indent=1))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    return out


def collect(course: Course, lab: str, learners: list[Learner], notebook_name: str, dest: Path) -> list[Collected]:
    """Collect ``lab`` for every learner of the roster into ``dest`` (``grading/collected/<lab>``)."""
    dest.mkdir(parents=True, exist_ok=True)
    os.chmod(dest, 0o700)
    course.deadline(lab)  # a lab the course file has no dates for: refused before anything is touched
    outcomes = []
    for learner in learners:
        try:
            outcomes.append(collect_learner(course, learner, lab, notebook_name, dest))
        except Exception as exc:  # one learner's inbound must never stop the class's collect
            outcomes.append(Collected(learner.id, flags=[f"collect could not read this inbound ({exc!r}): nothing "
                                                         "collected for this learner; look at it by hand"]))
    return outcomes
