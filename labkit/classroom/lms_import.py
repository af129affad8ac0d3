"""An LMS's "download all submissions" zip into the folder ``labkit grade`` reads: ``<learner>/<notebook>.ipynb``.

File names, as each LMS writes them:

* Canvas (*Download Submissions*): loose files ``<lastnamefirstname>_<user id>_<attachment id>_<file name>``,
  with ``LATE_`` before the user id when handed in after the due date, and ``-1``, ``-2`` … before the extension
  when a learner uploaded the same name twice: ``lovelaceada_LATE_12345_67890_04_metrics-1.ipynb``;
* Moodle (*Download all submissions*, with or without "Download submissions in folders"):
  ``<Full Name>_<participant id>_assignsubmission_file_/04_metrics.ipynb`` or the same without the ``/``.
  Moodle's participant id is per assignment, so Moodle learners are matched by the roster's ``lms_id`` for that
  assignment or, failing that, by name.

Learner ids come from the roster (a mapping LMS id → learner id, a roster CSV with ``id``, ``name`` and
``lms_id`` columns, or :class:`~labkit.classroom.roster.Learner` objects): by LMS id, then by a unique name match.
Without a roster, a Canvas learner is their Canvas user id and a Moodle learner their full name.

Every entry is checked before a byte is written, and refused with a reason: absolute paths and ``..``, symbolic
links and other non-regular files (the zip's Unix mode bits), encrypted entries, entries declaring more than
:data:`labkit.grading.intake.MAX_BYTES`; while extracting, the actual bytes are counted against the declared
size, the per-file limit and a cap on the whole zip (a zip bomb stops at the cap, its partial file removed).
Unknown file names and non-notebooks are skipped with a reason; when one learner has several notebooks (two
LMS ids on one roster line, or several files) the lab's own notebook wins, then the latest (``LATE_``, then
Canvas's higher attachment id, then the entry's date, then its place in the zip), and the others are reported.

>>> parse_entry_name("lovelaceada_LATE_12345_67890_04_metrics-1.ipynb")
Entry(lms='canvas', lms_id='12345', name='lovelaceada', filename='04_metrics-1.ipynb', late=True, order=67890)
>>> parse_entry_name("Ada Lovelace_4711_assignsubmission_file_/04_metrics.ipynb").lms_id
'4711'
>>> parse_entry_name("notes.txt") is None
True
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from labkit.classroom.lms_export import LmsError
from labkit.grading.intake import MAX_BYTES, student_id

MAX_TOTAL_BYTES = 2 * 2**30  # the whole zip's notebooks, extracted
MAX_ENTRIES = 20_000
_CHUNK = 1 << 16
_CANVAS = re.compile(r"^(?P<name>[^/\\_]+)_(?:(?P<late>LATE)_)?(?P<uid>\d+)_(?P<aid>\d+)_(?P<file>[^/\\]+)$")
_MOODLE = re.compile(r"^(?P<name>[^/\\]+?)_(?P<pid>\d+)_assignsubmission_[a-z]+_/?(?P<file>[^/\\]+)$")
_RESUBMITTED = re.compile(r"-\d+(?=\.ipynb$)")


@dataclass(frozen=True)
class Entry:
    """What an LMS's file name says about a submitted file."""

    lms: str
    lms_id: str
    name: str
    filename: str
    late: bool = False
    order: int = -1  # Canvas's attachment id: a later upload has a higher one


def parse_entry_name(name: str) -> Entry | None:
    """The learner and file a Canvas or Moodle zip entry name stands for, or ``None`` if it is neither."""
    if m := _CANVAS.match(name):
        return Entry("canvas", m["uid"], m["name"], m["file"], bool(m["late"]), int(m["aid"]))
    if m := _MOODLE.match(name):
        return Entry("moodle", m["pid"], m["name"], m["file"])
    return None


@dataclass
class SubmissionsReport:
    """What :func:`import_submissions` did: learner → zip entry imported, and each entry skipped with why."""

    lab: str
    dest: Path
    imported: dict[str, str] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{self.lab}: {len(self.imported)} notebook(s) imported into {self.dest}, "
                 f"{len(self.skipped)} entr{'y' if len(self.skipped) == 1 else 'ies'} skipped"]
        lines += [f"  skipped {entry}: {reason}" for entry, reason in self.skipped]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def _show(name: str) -> str:
    return repr(name if len(name) <= 120 else name[:117] + "...")


def _refusal(info: zipfile.ZipInfo, max_bytes: int) -> str | None:
    """Why ``info`` must not be extracted, or ``None``."""
    name = info.filename
    parts = re.split(r"[\\/]", name)
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "an absolute path: refused (a zip entry must stay inside the folder)"
    if ".." in parts:
        return "a path with '..': refused (a zip entry must stay inside the folder)"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "a symbolic link: refused (hand in the notebook itself)"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "not a regular file: refused"
    if info.flag_bits & 0x1:
        return "encrypted: refused"
    if info.file_size > max_bytes:
        return (f"declares {info.file_size / 2**20:.1f} MiB: the limit is {max_bytes / 2**20:.0f} MiB per notebook "
                "(clear its outputs)")
    return None


def _name_key(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFC", text).casefold() if ch.isalnum())


class _Learners:
    """LMS entry → learner id, through the roster (see the module's docstring)."""

    def __init__(self, roster) -> None:
        self.by_id: dict[str, str] | None = None
        self.by_name: dict[str, str | None] = {}
        if roster is None:
            return
        if isinstance(roster, Mapping):
            self.by_id = {str(k).strip(): str(v) for k, v in roster.items()}
            return
        if isinstance(roster, str | Path):
            from labkit.classroom import roster as roster_mod

            roster = roster_mod.read(Path(roster))
        self.by_id = {}
        for learner in roster:
            if learner.lms_id:
                self.by_id[str(learner.lms_id).strip()] = learner.id
            words = [_name_key(w) for w in learner.name.split() if _name_key(w)]
            keys = {"".join(words[i:] + words[:i]) for i in range(len(words))}  # "adalovelace", "lovelaceada"
            for key in keys:
                self.by_name[key] = None if self.by_name.get(key, learner.id) != learner.id else learner.id

    def learner(self, entry: Entry) -> tuple[str | None, str]:
        """(learner id, '') or (None, why not)."""
        if self.by_id is None:
            raw = entry.lms_id if entry.lms == "canvas" else entry.name
            try:
                return student_id(raw), ""
            except ValueError as exc:
                return None, f"{exc}; give a roster to map this learner"
        if entry.lms_id in self.by_id:
            who = self.by_id[entry.lms_id]
            try:
                return student_id(who), ""
            except ValueError as exc:
                return None, f"the roster maps LMS id {entry.lms_id} to a bad id: {exc}"
        key = _name_key(entry.name)
        if key in self.by_name:
            who = self.by_name[key]
            return (who, "") if who else (None, f"{entry.name!r} matches several roster learners: add lms_id")
        return None, f"LMS id {entry.lms_id} ({entry.name}) is not in the roster"


def _extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, max_bytes: int, budget: int) -> int:
    """Copy one entry to ``target`` counting actual bytes; on any refusal nothing is left behind."""
    fd, tmp = tempfile.mkstemp(prefix=".lms-", suffix=".part", dir=target.parent)
    written = 0
    try:
        with zf.open(info) as src, os.fdopen(fd, "wb") as out:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                if written > info.file_size:
                    raise _Refused("holds more bytes than it declares (a zip bomb?): refused")
                if written > max_bytes:
                    raise _Refused(f"is over {max_bytes / 2**20:.0f} MiB: refused")
                if written > budget:
                    raise _Refused("would take the zip past its total size cap: refused (a zip bomb?)")
                out.write(chunk)
        os.replace(tmp, target)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _Refused(f"is damaged or lies about its size ({exc}): refused") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return written


class _Refused(Exception):
    pass


def _learner_dir(dest: Path, learner: str) -> Path:
    folder = dest / learner
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise _Refused(f"{folder} exists and is not a plain folder: refused")
    folder.mkdir(exist_ok=True)
    if folder.resolve().parent != dest.resolve():
        raise _Refused(f"{folder} lies outside {dest}: refused")
    return folder


def import_submissions(zip_path: Path | str, lab: str, dest: Path | str, roster=None, *, notebook: str | None = None,
                       max_bytes: int = MAX_BYTES, max_total: int = MAX_TOTAL_BYTES) -> SubmissionsReport:
    """Unpack an LMS submissions zip for ``lab`` into ``dest/<learner>/<notebook>`` (see the module's docstring).

    ``notebook``: the file name each learner's notebook gets, ``<lab>.ipynb`` by default (labkit's labs keep their
    notebook under the lab's name). Returns a :class:`SubmissionsReport`; raises :class:`LmsError` only when the
    file is not a zip at all or holds an absurd number of entries.
    """
    notebook = notebook or f"{lab}.ipynb"
    if not notebook.endswith(".ipynb") or Path(notebook).name != notebook or notebook.startswith("."):
        raise LmsError(f"notebook name {notebook!r} must be a plain file name ending in .ipynb")
    dest = Path(dest)
    report = SubmissionsReport(lab, dest)
    learners = _Learners(roster)
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise LmsError(f"{zip_path} is not a readable zip file ({exc}): download the submissions again") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise LmsError(f"{zip_path} holds {len(infos)} entries (more than {MAX_ENTRIES}): refused")
        candidates: dict[str, list[tuple[tuple, zipfile.ZipInfo, Entry]]] = {}
        for index, info in enumerate(infos):
            name = info.filename
            if name.endswith("/") and not stat.S_ISLNK(info.external_attr >> 16):
                continue  # a folder entry: Moodle's per-learner folders
            why = _refusal(info, max_bytes)
            entry = parse_entry_name(name) if why is None else None
            if why is None and entry is None:
                why = "not a Canvas or Moodle submission file name: skipped"
            elif entry is not None and not entry.filename.endswith(".ipynb"):
                why, entry = "not a notebook (.ipynb): skipped", None
            if entry is None:
                report.skipped.append((_show(name), why))
                continue
            learner, why = learners.learner(entry)
            if learner is None:
                report.skipped.append((_show(name), why))
                continue
            own = _RESUBMITTED.sub("", entry.filename) == notebook
            key = (own, entry.late, entry.order, info.date_time, index)  # the lab's own notebook first
            candidates.setdefault(learner, []).append((key, info, entry))
        dest.mkdir(parents=True, exist_ok=True)
        budget = max_total
        for learner in sorted(candidates):
            ranked = sorted(candidates[learner], key=lambda c: c[0], reverse=True)
            _, info, entry = ranked[0]
            for _, other, _ in ranked[1:]:
                report.skipped.append((_show(other.filename), f"{learner} handed in more than once: kept the "
                                                              f"latest, {_show(info.filename)}"))
            try:
                folder = _learner_dir(dest, learner)
                budget -= _extract(zf, info, folder / notebook, max_bytes, budget)
            except _Refused as exc:
                report.skipped.append((_show(info.filename), str(exc)))
                continue
            report.imported[learner] = info.filename
            if _RESUBMITTED.sub("", entry.filename) != notebook:
                report.notes.append(f"{learner} handed in {entry.filename}: saved as {notebook}")
    return report

