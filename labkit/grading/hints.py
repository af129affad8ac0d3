"""Hints that name a mistake: a failed self-check recognises a known wrong answer by its fingerprint.

Every task has a catalogue of the usual mistakes (``grading/mistakes/<lab>.json``, see
:mod:`labkit.grading.mistakes`), each a small edit of the solution. Running each edited solution through the
task's self-checks gives, per check, what the mistake returns on that check's own inputs; its
:func:`fingerprint` (rounded to 6 significant digits, hashed) goes into the released lab's ``hints.json`` with
the mistake's hint. When a learner's answer fails a check with the same fingerprint, the check's message ends
with the hint. ``hints.json`` holds hashes and hints only: no code and no expected values.

>>> fingerprint([0.1 + 0.2, 1]) == fingerprint([0.3, 1.0000000001])
True
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

HINTS_FILE = "hints.json"
MAX_BYTES = 1_000_000


def _normal(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str | bytes):
        return value
    if isinstance(value, int | float):
        return float(f"{float(value):.6g}")
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return sorted((repr(_normal(k)), _normal(v)) for k, v in value.items())
    if isinstance(value, frozenset | set):
        return sorted(repr(_normal(v)) for v in value)
    return repr(value)


def fingerprint(value: Any) -> str:
    """A short, stable digest of a check's plain answer (numbers to 6 significant digits). A bare boolean or an
    error says too little to tell one mistake from another, so checks fingerprint only values."""
    tolist = getattr(value, "tolist", None)  # a NumPy array the check made from the answer
    if callable(tolist):
        value = tolist()
    return hashlib.sha256(repr(_normal(value)).encode()).hexdigest()[:16]


def load(directory: Path | None = None) -> dict[str, dict[str, str]]:
    """``{check description: {fingerprint: hint}}`` from ``hints.json`` beside the notebook, or empty: a missing,
    oversized or malformed file only means no hints."""
    path = Path(directory or Path.cwd()) / HINTS_FILE
    try:  # a regular file only, opened without following a link or waiting on a pipe, read up to the limit
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return {}
            raw = os.read(fd, MAX_BYTES + 1)
        finally:
            os.close(fd)
        if len(raw) > MAX_BYTES:
            return {}
        data = json.loads(raw.decode())
    except (OSError, ValueError, RecursionError):  # RecursionError: a file nested thousands of levels deep
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): {str(f): str(h) for f, h in v.items()} for k, v in data.items() if isinstance(v, dict)}
