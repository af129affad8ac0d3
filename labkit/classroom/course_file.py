"""The course file, ``grading/course.yml``: everything that makes the kit a class.

It names the course, its instructors and roster, where the class's shared files live, each lab's due date
and hard deadline, the late policy and each learner's resources. ``labkit hub``, ``labkit roster``,
``labkit collect`` and grading all read it; a mistake in it is reported with the key, the value and the fix.

>>> text = '''
... course_id: demo
... timezone: UTC
... instructors: [teacher]
... roster: roster.csv
... labs:
...   04_metrics: {due: 2026-12-07 23:59, hard_deadline: 2026-12-14 23:59}
... '''
>>> course = parse(text, base=Path("/srv/course"))
>>> course.course_id, course.deadline("04_metrics").due.isoformat(), str(course.roster)
('demo', '2026-12-07T23:59:00+00:00', '/srv/course/roster.csv')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from labkit._validation import check_number
from labkit.classroom.deadlines import Deadline, DeadlineError, LatePolicy, aware, parse_moment
from labkit.paths import grading_dir

COURSE_FILE = "course.yml"
DEFAULT_CLASS_ROOT = Path("/srv/labkit")
_ID = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")  # a course id and a system account name alike


class CourseFileError(ValueError):
    """The course file is missing or wrong; the message names the key and how to fix it."""


@dataclass(frozen=True)
class Resources:
    """What one learner's server may use: memory in bytes and CPU cores."""

    memory_bytes: int = 6 * 2**30  # lab 10's measured peak is 3.9 GiB (benchmarks/results.md, Memory per learner)
    cpus: float = 2.0

    @property
    def memory(self) -> str:
        """The memory limit as JupyterHub writes it, in MiB (``4096M``)."""
        return f"{self.memory_bytes // 2**20}M"


@dataclass(frozen=True)
class Course:
    """A parsed, checked course file. Paths are absolute."""

    course_id: str
    timezone: str
    instructors: tuple[str, ...]
    roster: Path
    class_root: Path
    labs: dict[str, Deadline]
    late_policy: LatePolicy = field(default_factory=LatePolicy)
    resources: Resources = field(default_factory=Resources)
    idle_cull: timedelta = timedelta(hours=1)

    def deadline(self, lab: str, extension: timedelta = timedelta(0)) -> Deadline:
        """``lab``'s deadline for a learner with ``extension``; an error names the labs the file has."""
        if lab not in self.labs:
            raise CourseFileError(f"{lab} has no due date in the course file: add it under 'labs:' "
                                  f"(it has {', '.join(self.labs) or 'none'})")
        return self.labs[lab].extended(extension)

    @property
    def exchange(self) -> Path:
        """nbgrader's exchange root (``Exchange.root``), under the class root."""
        return self.class_root / "exchange"


_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)


def parse_memory(text: Any) -> int:
    """``4G``, ``512M``, ``2GiB`` or a number of bytes, as bytes.

    >>> parse_memory("4G"), parse_memory("512M")
    (4294967296, 536870912)
    """
    m = _MEMORY.match(str(text))
    if not m:
        raise CourseFileError(f"resources.memory {text!r} is not a size: write it as 4G or 512M")
    size = int(float(m.group(1)) * 1024 ** " KMGT".index(m.group(2).upper() or " "))
    if size < 64 * 2**20:
        raise CourseFileError(f"resources.memory {text!r} is less than 64M: no lab's server starts in that")
    return size


_KEYS = {"course_id", "timezone", "instructors", "roster", "class_root", "labs", "late_policy", "resources",
         "idle_cull_minutes"}


def _require(mapping: dict, key: str, where: str) -> Any:
    if key not in mapping:
        raise CourseFileError(f"{where} has no '{key}': add it (see grading/course.yml for an example)")
    return mapping[key]


def _account(name: Any, what: str) -> str:
    name = str(name)
    if not _ID.match(name):
        raise CourseFileError(f"{what} {name!r} is not a valid name: use lower-case letters, digits, '-' or '_', "
                              "starting with a letter, at most 32 characters")
    return name


def _mapping(raw: dict, key: str, example: str) -> dict:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise CourseFileError(f"'{key}' must be a mapping such as {key}: {example}, got {value!r}")
    return value


def _late_policy(raw: dict) -> LatePolicy:
    unknown = set(raw) - {"percent_per_day", "max_percent", "grace_minutes"}
    if unknown:
        raise CourseFileError(f"late_policy has unknown keys {sorted(unknown)}: use percent_per_day, max_percent, "
                              "grace_minutes")
    try:
        return LatePolicy(percent_per_day=check_number("late_policy.percent_per_day", raw.get("percent_per_day", 10),
                                                       high=100, low_open=False),
                          max_percent=check_number("late_policy.max_percent", raw.get("max_percent", 50), high=100,
                                                   low_open=False),
                          grace=timedelta(minutes=check_number("late_policy.grace_minutes",
                                                               raw.get("grace_minutes", 0), low_open=False)))
    except (ValueError, TypeError) as exc:
        raise CourseFileError(str(exc)) from None


def _labs(raw: Any, zone: str) -> dict[str, Deadline]:
    if not isinstance(raw, dict) or not raw:
        raise CourseFileError("'labs' must map each lab to its dates, e.g. 04_metrics: {due: 2026-12-07 23:59, "
                              "hard_deadline: 2026-12-14 23:59}")
    labs = {}
    for lab, dates in raw.items():
        if not isinstance(dates, dict) or set(dates) - {"due", "hard_deadline"}:
            raise CourseFileError(f"labs.{lab} must have 'due' and optionally 'hard_deadline', got {dates!r}")
        for key in ("due", "hard_deadline"):
            if key in dates and not isinstance(dates[key], datetime) and ":" not in str(dates[key]):
                raise CourseFileError(f"labs.{lab}.{key} {dates[key]!r} has no time of day: write it as "
                                      f"{dates[key]} 23:59")
        due = parse_moment(_require(dates, "due", f"labs.{lab}"), zone)
        hard = parse_moment(dates.get("hard_deadline", due), zone)
        labs[str(lab)] = Deadline(due=due, hard=hard)
    return labs


def parse(text: str, base: Path) -> Course:
    """A :class:`Course` from the YAML ``text``; relative paths are read from ``base``."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CourseFileError(f"the course file is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise CourseFileError("the course file must be a mapping of keys such as course_id, labs, roster")
    unknown = set(raw) - _KEYS
    if unknown:
        raise CourseFileError(f"unknown keys {sorted(unknown)} in the course file: the keys are {sorted(_KEYS)}")
    zone = str(raw.get("timezone", "UTC"))
    try:
        aware(datetime(2000, 1, 1), zone)  # an unknown zone name fails here, naming it
        labs = _labs(_require(raw, "labs", "the course file"), zone)
    except DeadlineError as exc:
        raise CourseFileError(str(exc)) from None
    instructors = raw.get("instructors") or []
    if not isinstance(instructors, list) or not instructors:
        raise CourseFileError("'instructors' must list at least one account name, e.g. instructors: [teacher]")
    resources = _mapping(raw, "resources", "{memory: 4G, cpus: 2}")
    if set(resources) - {"memory", "cpus"}:
        raise CourseFileError(f"resources has unknown keys {sorted(set(resources) - {'memory', 'cpus'})}: use memory "
                              "and cpus")
    try:
        res = Resources(memory_bytes=parse_memory(resources.get("memory", "6G")),
                        cpus=check_number("resources.cpus", resources.get("cpus", 2.0), low=0.1))
        cull = timedelta(minutes=check_number("idle_cull_minutes", raw.get("idle_cull_minutes", 60), low=1))
    except (ValueError, TypeError) as exc:
        raise CourseFileError(str(exc)) from None
    return Course(course_id=_account(_require(raw, "course_id", "the course file"), "course_id"), timezone=zone,
                  instructors=tuple(_account(i, "instructor") for i in instructors),
                  roster=(base / str(_require(raw, "roster", "the course file"))).resolve(),
                  class_root=(base / str(raw.get("class_root", DEFAULT_CLASS_ROOT))).resolve(),
                  labs=labs, late_policy=_late_policy(_mapping(raw, "late_policy", "{percent_per_day: 10}")),
                  resources=res, idle_cull=cull)


def load(path: Path | None = None) -> Course:
    """The course file at ``path`` (default ``grading/course.yml``), parsed and checked."""
    path = Path(path or grading_dir() / COURSE_FILE)
    if not path.is_file():
        raise CourseFileError(f"no course file at {path}: copy grading/course.yml and edit it, or pass --course")
    return parse(path.read_text(encoding="utf-8"), base=path.parent)
