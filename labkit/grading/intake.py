"""From a folder of whatever learners handed in to notebooks that are safe and fair to grade.

:func:`discover` turns a submissions folder into one :class:`Submission` per learner, refusing what it
must not read (symlinks, files too large, names that could escape a folder). :func:`prepare` turns one
submission into the notebook the grader executes:

* every graded, locked or test cell is restored from the instructor's source by its grade id: its
  text (test cells with their hidden tests), type and metadata. nbgrader's checksum tells whether the
  learner had changed it, which is reported;
* answer cells keep the learner's text, with the source's cell type and metadata;
* deleted cells are re-inserted from the release; cells the learner moved go back to the source's
  order, each of the learner's own cells travelling with the graded cell it followed;
* a grade id that appears twice: the first copy counts, later copies of an answer cell run as plain
  cells after it (as they would in the learner's "Run all"), later copies of locked cells are dropped;
* invalid JSON, an empty file, nbformat 3 (converted), a notebook with thousands of cells (only the
  first ``max_cells`` of the learner's own cells are kept) and wrong file names are reported.

Problems that make a submission ungradable (``Prepared.fatal``) give it 0 for every question with the
reason, so the gradebook still holds one row per learner and question.

>>> student_id("Zoë Müller")
'Zoë Müller'
>>> student_id("../../etc")
Traceback (most recent call last):
...
ValueError: learner name '../../etc' is not allowed: use letters, digits, spaces, '-', '_', '.' or '@', not ...
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import unicodedata
import warnings as _warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_BYTES = 20 * 1024 * 1024
# what `labkit collect` writes beside a learner's notebook: when it arrived and how late (not learner-written)
COLLECTED_FILE = "collected.json"
MAX_CELLS = 500
_NAME = re.compile(r"^[\w][\w .@+-]{0,99}$", re.UNICODE)
_HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.MULTILINE | re.DOTALL)


def student_id(name: str) -> str:
    """``name`` as a gradebook learner id, or ``ValueError`` if it could escape a folder or hide itself."""
    normal = unicodedata.normalize("NFC", name)
    if not _NAME.match(normal) or normal.strip() != normal or ".." in normal:
        raise ValueError(f"learner name {name!r} is not allowed: use letters, digits, spaces, '-', '_', '.' or '@', "
                         "not starting with '.'")
    return normal


@dataclass
class Submission:
    """One learner's hand-in: the notebook to grade (``None`` if refused) and what intake noticed."""

    student: str
    path: Path | None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    raw: bytes = b""
    collected: dict = field(default_factory=dict)  # what `labkit collect` recorded (arrival, lateness), if any

    @property
    def digest(self) -> str:
        """sha256 of the submitted bytes (with the refusal reasons and collect's record, if any)."""
        extra = "\n".join(self.problems) + (json.dumps(self.collected, sort_keys=True) if self.collected else "")
        return hashlib.sha256(self.raw + extra.encode()).hexdigest()


def _read_bytes(path: Path, root: Path) -> tuple[bytes, str | None]:
    if path.is_symlink():
        return b"", f"{path.name} is a symbolic link: hand in the notebook file itself"
    try:
        resolved = path.resolve(strict=True)
    except OSError as exc:
        return b"", f"{path.name} cannot be read: {exc.strerror}"
    if root not in resolved.parents:
        return b"", f"{path.name} lies outside the submissions folder"
    size = resolved.stat().st_size
    if size > MAX_BYTES:
        return b"", f"{path.name} is {size / 2**20:.0f} MiB: the limit is {MAX_BYTES // 2**20} MiB (clear outputs)"
    return resolved.read_bytes(), None


def read_collected(folder: Path) -> dict:
    """What ``labkit collect`` recorded in ``folder`` (``{}`` when it did not collect this submission).

    Checked as if a learner had written it (a folder handed to ``labkit grade`` by other means could hold
    one): an arrival time that is not an ISO time with a zone, or a late share outside [0, 1], is dropped.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / COLLECTED_FILE).write_text('{"received": "2026-12-01T10:00:00+00:00", "late_fraction": -5}')
    >>> read_collected(d)
    {'received': '2026-12-01T10:00:00+00:00'}
    """
    from datetime import datetime

    path = Path(folder) / COLLECTED_FILE
    if path.is_symlink() or not path.is_file() or path.stat().st_size > 65536:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    try:
        if datetime.fromisoformat(str(data.get("received"))).tzinfo is None:
            raise ValueError
    except ValueError:
        data.pop("received", None)
    fraction = data.get("late_fraction")
    if not isinstance(fraction, int | float) or isinstance(fraction, bool) or not 0 <= fraction <= 1:
        data.pop("late_fraction", None)
    return data


def discover(folder: Path, notebook_name: str) -> list[Submission]:
    """One :class:`Submission` per learner in ``folder``: ``<learner>/<notebook>.ipynb`` or ``<learner>.ipynb``.

    Entries that are not notebooks or learner folders are ignored; a learner folder without a notebook,
    a symlink, a bad name or an oversized file becomes a refused submission with the reason.
    """
    folder = Path(folder)
    root = folder.resolve()
    found: dict[str, Submission] = {}
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        is_dir = entry.is_dir() and not entry.is_symlink()
        if not is_dir and entry.suffix != ".ipynb" and not entry.is_symlink():
            continue
        raw_name = entry.name[: -len(".ipynb")] if entry.suffix == ".ipynb" else entry.name
        try:
            student = student_id(raw_name)
        except ValueError as exc:
            student = "invalid-" + hashlib.sha256(raw_name.encode()).hexdigest()[:10]
            found[student] = Submission(student, None, [f"{exc} (graded as {student})"])
            continue
        if student in found:
            found[student].warnings.append(f"{entry.name} ignored: {student} handed in twice")
            continue
        sub = Submission(student, None)
        if entry.is_symlink():
            sub.problems.append(f"{entry.name} is a symbolic link: hand in the notebook itself, not a link")
            found[student] = sub
            continue
        if is_dir:
            notebooks = sorted(p for p in entry.iterdir() if p.suffix == ".ipynb" and not p.name.startswith("."))
            extras = sorted(p.name for p in entry.iterdir() if p.suffix != ".ipynb" and not p.name.startswith(".")
                            and p.name != COLLECTED_FILE)
            sub.collected = read_collected(entry)
            if extras:
                sub.warnings.append(f"extra files not used for grading: {', '.join(extras[:5])}"
                                    + (" …" if len(extras) > 5 else ""))
            if not notebooks:
                sub.problems.append(f"no notebook in {entry.name}/: hand in {notebook_name}")
                found[student] = sub
                continue
            named = [p for p in notebooks if p.name == notebook_name]
            chosen = named[0] if named else notebooks[0]
            if not named:
                sub.warnings.append(f"graded {chosen.name}: the lab's notebook is called {notebook_name}")
            if len(notebooks) > 1:
                sub.warnings.append(f"{len(notebooks)} notebooks handed in; graded {chosen.name} only")
        else:
            chosen = entry
        sub.raw, problem = _read_bytes(chosen, root)
        if problem:
            sub.problems.append(problem)
        else:
            sub.path = chosen
        found[student] = sub
    return list(found.values())


@dataclass
class Prepared:
    """The notebook to execute for one submission, and what intake did to get it."""

    notebook: nbformat.NotebookNode | None
    warnings: list[str] = field(default_factory=list)
    fatal: str | None = None
    answers: dict[str, str] = field(default_factory=dict)


def _nbgrader(cell) -> dict:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    return meta if isinstance(meta, dict) else {}


def _grade_id(cell) -> str | None:
    gid = _nbgrader(cell).get("grade_id")
    return gid if isinstance(gid, str) else None


def _parse(raw: bytes) -> tuple[nbformat.NotebookNode | None, list[str], str | None]:
    if not raw.strip():
        return None, [], "the notebook file is empty: hand in the lab's .ipynb file"
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, [], "the notebook is not UTF-8 text: hand in the .ipynb file JupyterLab saved"
    except json.JSONDecodeError as exc:
        return None, [], f"the notebook is not valid JSON (line {exc.lineno}, column {exc.colno}): it was damaged " \
                         "or edited by hand; hand in the .ipynb file JupyterLab saved"
    if not isinstance(data, dict) or not isinstance(data.get("nbformat"), int):
        return None, [], "the file is JSON but not a notebook (no 'nbformat' field)"
    warnings = []
    try:
        with _warnings.catch_warnings():  # nbformat warns about (and fixes) duplicate cell ids
            _warnings.simplefilter("ignore")
            nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many types on malformed input
        return None, [], f"the notebook is malformed ({type(exc).__name__}: {str(exc)[:200]})"
    if data["nbformat"] < 4:
        warnings.append(f"converted from nbformat {data['nbformat']} to 4")
    if not isinstance(nb.get("cells"), list):
        return None, warnings, "the notebook has no list of cells"
    return nb, warnings, None


def _text(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def prepare(raw: bytes, source: nbformat.NotebookNode, release: nbformat.NotebookNode, *,
            max_cells: int = MAX_CELLS) -> Prepared:
    """Merge a learner's notebook (``raw`` bytes) onto the instructor's ``source`` (with hidden tests)."""
    nb, warnings, fatal = _parse(raw)
    if fatal:
        return Prepared(None, warnings, fatal)
    released = {_grade_id(c): c for c in release.cells if _grade_id(c)}
    graded = [c for c in source.cells if _grade_id(c)]
    by_id = {_grade_id(c): c for c in graded}
    # the learner's cells, grouped behind the graded cell they follow
    followers: dict[str | None, list] = {None: []}
    answers: dict[str, str] = {}
    anchor: str | None = None
    own_cells = 0
    dropped = 0
    for cell in nb.cells:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            warnings.append("a cell without a valid type was dropped")
            continue
        gid = _grade_id(cell)
        if gid in by_id and gid not in answers and gid not in followers:
            meta = _nbgrader(by_id[gid])
            if meta.get("solution") and not meta.get("locked"):
                answers[gid] = _text(cell)
            elif released.get(gid) is not None and _changed(cell, released[gid]):
                warnings.append(f"locked cell {gid!r} was edited: restored from the source")
            followers[gid] = []
            anchor = gid
            continue
        if gid in by_id:
            meta = _nbgrader(by_id[gid])
            if not (meta.get("solution") and not meta.get("locked")):
                warnings.append(f"a duplicate of locked cell {gid!r} was dropped")
                continue
            warnings.append(f"grade id {gid!r} appears more than once: the first copy is graded, "
                            "later copies run as ordinary cells")
        elif gid:
            warnings.append(f"cell with unknown grade id {gid!r} runs as an ordinary cell")
        if own_cells >= max_cells:
            dropped += 1
            continue
        own_cells += 1
        plain = nbformat.v4.new_code_cell(_text(cell)) if cell["cell_type"] == "code" else \
            nbformat.v4.new_markdown_cell(_text(cell)) if cell["cell_type"] == "markdown" else \
            nbformat.v4.new_raw_cell(_text(cell))
        followers.setdefault(anchor, []).append(plain)
    if dropped:
        warnings.append(f"{dropped} of your own cells beyond the first {max_cells} were not run")
    order = [_grade_id(c) for c in graded]
    learner_order = [g for g in followers if g is not None]
    if learner_order != [g for g in order if g in followers]:
        warnings.append("graded cells were out of order: put back in the lab's order")
    missing = [g for g in order if g not in followers]
    for gid in missing:
        warnings.append(f"cell {gid!r} was missing: re-inserted from the lab"
                        + (" (unanswered)" if _nbgrader(by_id[gid]).get("solution") else ""))
    out = nbformat.v4.new_notebook(metadata=copy.deepcopy(source.metadata))
    out.cells += followers[None]
    for cell in source.cells:
        gid = _grade_id(cell)
        if not gid:
            continue
        restored = copy.deepcopy(cell)
        restored.pop("outputs", None)
        if restored.cell_type == "code":
            restored.outputs, restored.execution_count = [], None
        if gid in answers:
            restored.source = answers[gid]
        elif _nbgrader(cell).get("solution") and not _nbgrader(cell).get("locked"):
            restored.source = _text(released.get(gid, cell))
        out.cells.append(restored)
        out.cells += followers.get(gid, [])
    if not graded:  # a lab without graded cells: run the learner's notebook as it is
        out.cells = followers[None]
    return Prepared(out, warnings, None, answers)


def _changed(cell, released) -> bool:
    checksum = _nbgrader(released).get("checksum")
    if not checksum:
        return _text(cell) != _text(released)
    from nbgrader.utils import compute_checksum

    candidate = copy.deepcopy(released)
    candidate.source = _text(cell)
    candidate.cell_type = cell.get("cell_type", released.cell_type)
    try:
        return compute_checksum(candidate) != checksum
    except Exception:  # noqa: BLE001 - a malformed cell counts as changed
        return True


def hidden_lines(source: nbformat.NotebookNode, release: nbformat.NotebookNode, *, min_chars: int = 12) -> list[str]:
    """The hidden-test lines a learner must never see: non-trivial lines between the hidden-test markers
    that do not also appear anywhere in the released notebook."""
    public = {line.strip() for c in release.cells for line in _text(c).splitlines()}
    lines: list[str] = []
    for cell in source.cells:
        for block in _HIDDEN.findall(_text(cell)):
            for line in block.splitlines()[1:-1]:
                text = line.strip()
                if len(text) >= min_chars and text not in public and text not in lines:
                    lines.append(text)
    return lines


def strip_hidden(text: str) -> str:
    """A test cell's text as a learner may see it: the hidden block replaced by a one-line note."""
    return _HIDDEN.sub("# (hidden tests run here: their results are below)\n", text)
