"""nbgrader's exchange, made safe by construction: who can touch what is decided by file ownership.

Layout under ``<class_root>/exchange/<course_id>/`` (everything root's unless said otherwise)::

    outbound/<lab>/        0755  released labs: every learner may read and fetch them
    inbound/               0711  learners may pass through it, never list it
    inbound/<learner>/     0700  owned by the learner: only they (and root) can enter, read or write it
    feedback/              0711  feedback files, each named by a secret only its learner's cache holds
    deadlines.json         0644  each lab's due date and hard deadline, for the learner's Assignment List
    extensions/<learner>   0640  root:<learner>: the learner's own extension, readable by them alone

A learner's submission (:class:`labkit.classroom.exchange_client.PrivateSubmit`) goes into their own
inbound, so nobody can read, overwrite or submit into anyone else's. Everything a learner writes is
untrusted: :mod:`labkit.classroom.collect` decides *whose* a submission is by the folder it is in (not the
name it claims), *when* it arrived by the kernel's change time (not the ``timestamp.txt`` it wrote), and reads
only regular files, without following links.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import nbformat

from labkit.classroom import accounts

if TYPE_CHECKING:  # the learner's client imports this module: it must not need the course file's parser
    from labkit.classroom.course_file import Course
    from labkit.classroom.deadlines import Deadline

class ExchangeError(RuntimeError):
    """The exchange cannot do what was asked; the message says what to run first."""


DEADLINES_FILE = "deadlines.json"
INBOUND_QUOTA = 200 * 2**20  # bytes one learner's inbound may hold: the client refuses more, collect flags it


_MAX_OPEN = 64  # folders open at once while measuring one
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def usage(folder: int | str | Path, max_entries: int) -> tuple[int, int]:
    """Bytes and entries under ``folder`` (a path or an open folder descriptor), without following links and
    without recursion: at most ``max_entries`` entries and :data:`_MAX_OPEN` folders open at once, however deep or
    wide the tree a learner made.

    >>> import tempfile
    >>> usage(tempfile.mkdtemp(), 100)
    (0, 0)
    """
    total = count = 0
    start = os.dup(folder) if isinstance(folder, int) else os.open(folder, _DIR_FLAGS)
    stack = [start]
    try:
        while stack and count < max_entries:
            current = stack.pop()
            try:
                with os.scandir(current) as entries:
                    for entry in itertools.islice(entries, max_entries - count):
                        count += 1
                        with contextlib.suppress(OSError):
                            st = entry.stat(follow_symlinks=False)
                            total += st.st_size
                            if stat.S_ISDIR(st.st_mode) and len(stack) < _MAX_OPEN:
                                stack.append(os.open(entry.name, _DIR_FLAGS, dir_fd=current))
            finally:
                os.close(current)
    finally:
        for pending in stack:
            os.close(pending)
    return total, count


def course_dir(course: Course) -> Path:
    return course.exchange / course.course_id


def inbound(course: Course, learner: str | None = None) -> Path:
    base = course_dir(course) / "inbound"
    return base / learner if learner else base


def _dir(path: Path, mode: int, uid: int = 0, gid: int = 0) -> None:
    """``path`` as a real directory (a symlink or file there is removed) with this owner and mode."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    path.mkdir(exist_ok=True)
    os.chown(path, uid, gid, follow_symlinks=False)
    os.chmod(path, mode)


def prepare(course: Course) -> Path:
    """Create (or repair) the exchange's folders with their owners and modes; returns the course's folder.

    Needs root: the folders belong to root so that no learner can change them."""
    if not accounts.is_root():
        raise accounts.AccountError("the class exchange belongs to root: run this as root (sudo)")
    for path, mode in ((course.class_root, 0o755), (course.exchange, 0o755), (course_dir(course), 0o755),
                       (course_dir(course) / "outbound", 0o755), (inbound(course), 0o711),
                       (course_dir(course) / "feedback", 0o711), (course_dir(course) / "extensions", 0o711)):
        path.mkdir(parents=True, exist_ok=True)
        _dir(path, mode)
    write_deadlines(course)
    return course_dir(course)


def prepare_inbound(course: Course, learner: str, extension_seconds: float = 0.0) -> Path:
    """The learner's private inbound (0700, theirs) and their extension file (0640, root:theirs)."""
    account = accounts.lookup(learner)
    path = inbound(course, learner)
    _dir(path, 0o700, account.uid, account.gid)  # only root can create entries in inbound/: nothing to distrust
    _write_private(course_dir(course) / "extensions" / learner, json.dumps({"seconds": extension_seconds}),
                   0o640, gid=account.gid)
    return path


def _write_private(path: Path, text: str, mode: int, gid: int = 0) -> None:
    """Write ``text`` atomically into a root-owned folder (temporary file, then rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chown(tmp, 0, gid)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def write_deadlines(course: Course) -> Path:
    """``deadlines.json``: each lab's due date and hard deadline, for learners' clients (0644)."""
    path = course_dir(course) / DEADLINES_FILE
    data = {lab: {"due": d.due.isoformat(), "hard_deadline": d.hard.isoformat()} for lab, d in course.labs.items()}
    _write_private(path, json.dumps(data, indent=1), 0o644)
    return path


def header_cell(lab: str, deadline: Deadline, timezone: str) -> nbformat.NotebookNode:
    """The markdown cell a class release puts on top of the lab: its due date and hard deadline."""
    local = {k: v.astimezone(ZoneInfo(timezone)).strftime("%A %d %B %Y, %H:%M %Z")
             for k, v in (("due", deadline.due), ("hard", deadline.hard))}
    text = (f"> **Due {local['due']}.** Submit from the Assignment List (the *Submit* button beside {lab}); "
            f"you may submit as often as you like: the last submission before the due date counts.")
    if deadline.hard > deadline.due:
        text += (f" Late work is accepted until **{local['hard']}**, with the course's late penalty; "
                 "after that nothing is accepted.")
    cell = nbformat.v4.new_markdown_cell(text)
    cell.metadata["labkit"] = {"class_header": True}
    return cell


def release_to_class(course: Course, lab: str, released: Path) -> Path:
    """Publish the released lab folder ``released`` (``labs/<lab>``) to the exchange's outbound, with the
    deadline header on top of its notebook. Replaces an earlier release of the lab atomically."""
    deadline = course.deadline(lab)
    if not any(Path(released).glob("*.ipynb")):
        raise ExchangeError(f"{released} holds no released notebook: run `labkit release {lab}` first")
    outbound = course_dir(course) / "outbound"
    staging = Path(tempfile.mkdtemp(dir=outbound, prefix=f".{lab}-"))
    try:
        target = staging / lab
        shutil.copytree(released, target, ignore=shutil.ignore_patterns(".*", "__pycache__"))
        for path in target.glob("*.ipynb"):
            nb = nbformat.read(path, as_version=4)
            nb.cells = [c for c in nb.cells if not c.metadata.get("labkit", {}).get("class_header")]
            nb.cells.insert(0, header_cell(lab, deadline, course.timezone))
            nbformat.write(nb, path)
        readable_by_all(target)
        final = outbound / lab
        if final.exists():
            old = staging / "previous"
            os.replace(final, old)
        os.replace(target, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    write_deadlines(course)
    return final


def readable_by_all(tree: Path) -> None:
    """Folders 0755 and files 0644 under ``tree`` (links are not followed)."""
    for root, dirs, files in os.walk(tree):
        os.chmod(root, 0o755)
        for name in files:
            if not os.path.islink(os.path.join(root, name)):
                os.chmod(os.path.join(root, name), 0o644)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]


def release_feedback(course: Course, lab: str, collected: Path, feedback: Path) -> tuple[list[str], list[str]]:
    """Publish each learner's feedback HTML (``feedback/<learner>/<lab>/<notebook>.html``) under the name only
    their own submission's secret leads to (nbgrader's ``notebook_hash``), so that the Assignment List's
    *Fetch feedback* finds it for them and nobody else can. Returns (released, skipped with reasons)."""
    from nbgrader.utils import notebook_hash

    from labkit.grading.intake import read_collected

    target = course_dir(course) / "feedback"
    if not collected.is_dir():
        raise ExchangeError(f"nothing was collected for {lab} ({collected} is missing): feedback goes back "
                            f"through the exchange to what `labkit collect {lab}` gathered")
    released, skipped = [], []
    for folder in sorted(p for p in collected.iterdir() if p.is_dir() and not p.name.startswith(".")):
        secret = str(read_collected(folder).get("secret", ""))
        pages = sorted((feedback / folder.name / lab).glob("*.html"))
        if not secret or not pages:
            why = ("no feedback yet: run `labkit report` after grading" if not pages
                   else "the submission carried no secret (it did not come from the Assignment List)")
            skipped.append(f"{folder.name}: {why}")
            continue
        for page in pages:
            name = notebook_hash(secret=secret, notebook_id=page.stem) + ".html"
            _write_private(target / name, page.read_text(encoding="utf-8"), 0o644)
        released.append(folder.name)
    return released, skipped


def learner_config(course: Course) -> str:
    """The ``nbgrader_config.py`` every learner's server reads (root's, in the class environment): the course,
    the exchange, and labkit's client classes (:mod:`labkit.classroom.exchange_client`)."""
    from labkit.grading.intake import MAX_BYTES

    client = "labkit.classroom.exchange_client"
    return "\n".join([
        '"""nbgrader for learners of this class: written by labkit (labkit.classroom.exchange.learner_config)."""',
        "c = get_config()  # noqa: F821",
        f"c.CourseDirectory.course_id = {course.course_id!r}",
        f"c.Exchange.root = {str(course.exchange)!r}",
        f"c.CourseDirectory.max_file_size = {MAX_BYTES // 1000}  # kB, per file copied on submit",
        f"c.ExchangeFactory.list = '{client}.ClassList'",
        f"c.ExchangeFactory.fetch_assignment = '{client}.ClassFetchAssignment'",
        f"c.ExchangeFactory.fetch_feedback = '{client}.ClassFetchFeedback'",
        f"c.ExchangeFactory.submit = '{client}.PrivateSubmit'",
        "",
    ])


def write_learner_config(course: Course, prefix: Path) -> Path:
    """Write :func:`learner_config` into ``<prefix>/etc/jupyter/`` of the class environment (root's, 0644)."""
    folder = prefix / "etc" / "jupyter"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "nbgrader_config.py"
    _write_private(path, learner_config(course), 0o644)
    return path
