"""Due dates, hard deadlines, extensions and the late penalty: when a submission counts, and what it costs.

A lab has a *due date* and a *hard deadline* (at or after it); a learner may have an *extension*, which moves
both. Work received up to the due date plus a grace period is on time and never penalised; work received
after it and up to the hard deadline is late and loses a share of its earned points that grows with each
started day (never more than ``max_percent``); work received after the hard deadline is not accepted.

All times are timezone-aware. A due date written without an offset is read in the course's time zone.

>>> from datetime import datetime, timedelta, timezone
>>> policy = LatePolicy(percent_per_day=10, max_percent=50, grace=timedelta(minutes=5))
>>> due = Deadline(due=datetime(2026, 12, 7, 23, 59, tzinfo=timezone.utc),
...                hard=datetime(2026, 12, 14, 23, 59, tzinfo=timezone.utc))
>>> policy.fraction(due, datetime(2026, 12, 8, 0, 3, tzinfo=timezone.utc))   # inside the grace period
0.0
>>> policy.fraction(due, datetime(2026, 12, 9, 12, 0, tzinfo=timezone.utc))  # 1.5 days late: 2 started days
0.2
>>> policy.penalty_points(8.0, due, datetime(2026, 12, 9, 12, 0, tzinfo=timezone.utc))
1.6
>>> due.accepts(datetime(2026, 12, 15, tzinfo=timezone.utc))
False
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY = timedelta(days=1)


class DeadlineError(ValueError):
    """A date, extension or policy that cannot be read; the message names the value and the expected form."""


def aware(moment: datetime, zone: str | timezone | ZoneInfo = UTC) -> datetime:
    """``moment`` with a time zone: kept if it has one, else read in ``zone`` (a name such as ``Europe/Berlin``).

    >>> aware(datetime(2026, 12, 7, 23, 59), "Europe/Berlin").isoformat()
    '2026-12-07T23:59:00+01:00'
    """
    if moment.tzinfo is not None:
        return moment
    if isinstance(zone, str):
        try:
            zone = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise DeadlineError(f"unknown time zone {zone!r}: use an IANA name such as 'Europe/Berlin' or 'UTC'") \
                from None
    return moment.replace(tzinfo=zone)


def parse_moment(text: str | datetime, zone: str = "UTC") -> datetime:
    """A date and time from the course file: ISO 8601 (``2026-12-07 23:59``, ``2026-12-07T23:59+01:00``).

    >>> parse_moment("2026-12-07 23:59", "UTC").isoformat()
    '2026-12-07T23:59:00+00:00'
    """
    if isinstance(text, datetime):
        return aware(text, zone)
    try:
        return aware(datetime.fromisoformat(str(text).strip()), zone)
    except ValueError:
        raise DeadlineError(f"{text!r} is not a date and time: write it as 2026-12-07 23:59 "
                            "(optionally with an offset such as +01:00)") from None


_UNITS = {"d": DAY, "h": timedelta(hours=1), "m": timedelta(minutes=1)}


def parse_extension(text: str | None) -> timedelta:
    """An extension from a roster: empty for none, else a number with ``d`` (days), ``h`` or ``m``.

    >>> parse_extension("2d"), parse_extension(""), parse_extension("36h")
    (datetime.timedelta(days=2), datetime.timedelta(0), datetime.timedelta(days=1, seconds=43200))
    """
    text = (text or "").strip().lower()
    if not text:
        return timedelta(0)
    try:
        amount, unit = float(text[:-1]), _UNITS[text[-1]]
    except (ValueError, KeyError):
        raise DeadlineError(f"extension {text!r} is not understood: write a number of days, hours or minutes "
                            "such as 2d, 36h or 90m") from None
    if amount < 0 or not math.isfinite(amount):
        raise DeadlineError(f"extension {text!r} must be zero or more")
    return amount * unit


@dataclass(frozen=True)
class Deadline:
    """A lab's due date and hard deadline (timezone-aware; ``hard`` at or after ``due``)."""

    due: datetime
    hard: datetime

    def __post_init__(self) -> None:
        if self.due.tzinfo is None or self.hard.tzinfo is None:
            raise DeadlineError("deadlines need a time zone: build them with labkit.classroom.deadlines.aware")
        if self.hard < self.due:
            raise DeadlineError(f"the hard deadline {self.hard.isoformat()} is before the due date "
                                f"{self.due.isoformat()}: it must be at or after it")

    def extended(self, extension: timedelta) -> Deadline:
        """Both dates moved by a learner's extension."""
        return replace(self, due=self.due + extension, hard=self.hard + extension)

    def accepts(self, received: datetime) -> bool:
        """Whether work received at ``received`` counts at all (at or before the hard deadline)."""
        return received <= self.hard

    def lateness(self, received: datetime) -> timedelta:
        """How long after the due date ``received`` is (zero when on time)."""
        return max(received - self.due, timedelta(0))


@dataclass(frozen=True)
class LatePolicy:
    """The late penalty: ``percent_per_day`` of the earned points for each started day after the due date plus
    ``grace``, at most ``max_percent``. ``percent_per_day=0`` accepts late work without penalty."""

    percent_per_day: float = 10.0
    max_percent: float = 50.0
    grace: timedelta = field(default=timedelta(0))

    def __post_init__(self) -> None:
        if not 0 <= self.percent_per_day <= 100 or not 0 <= self.max_percent <= 100:
            raise DeadlineError(f"late policy percentages must be between 0 and 100, got percent_per_day="
                                f"{self.percent_per_day}, max_percent={self.max_percent}")
        if self.grace < timedelta(0):
            raise DeadlineError("the late policy's grace period must be zero or more")

    def fraction(self, deadline: Deadline, received: datetime) -> float:
        """The share of the earned points lost by work received at ``received`` (0 when on time)."""
        late = deadline.lateness(received) - self.grace
        if late <= timedelta(0):
            return 0.0
        days = math.ceil(late / DAY)
        return min(days * self.percent_per_day, self.max_percent) / 100

    def penalty_points(self, earned: float, deadline: Deadline, received: datetime) -> float:
        """Points to subtract from ``earned`` (nbgrader's ``late_submission_penalty``), rounded to 1e-6."""
        return round(max(earned, 0.0) * self.fraction(deadline, received), 6)


@dataclass(frozen=True)
class Attempt:
    """One hand-in of a lab by one learner, with the time the exchange received it."""

    received: datetime
    key: str  # what identifies it (the exchange's folder name): ties on time are broken by it

    def __lt__(self, other: Attempt) -> bool:
        return (self.received, self.key) < (other.received, other.key)


@dataclass(frozen=True)
class Choice:
    """Which attempt counts: ``chosen`` (``None`` when none does) and why the others do not."""

    chosen: Attempt | None
    late: bool
    ignored: tuple[tuple[Attempt, str], ...] = ()


def choose(attempts: Iterable[Attempt], deadline: Deadline, policy: LatePolicy) -> Choice:
    """The attempt that counts: the latest on time (due date plus grace), else the latest before the hard
    deadline (late); attempts after the hard deadline never count. Deterministic for the same attempts
    whatever their order.

    >>> utc = timezone.utc
    >>> d = Deadline(datetime(2026, 12, 7, tzinfo=utc), datetime(2026, 12, 9, tzinfo=utc))
    >>> a = [Attempt(datetime(2026, 12, 6, tzinfo=utc), "a"), Attempt(datetime(2026, 12, 8, tzinfo=utc), "b")]
    >>> choose(a, d, LatePolicy()).chosen.key   # the on-time one, not the later late one
    'a'
    """
    ordered: Sequence[Attempt] = sorted(attempts)
    accepted = [a for a in ordered if deadline.accepts(a.received)]
    on_time = [a for a in accepted if a.received <= deadline.due + policy.grace]  # grace never passes the hard one
    chosen = on_time[-1] if on_time else (accepted[-1] if accepted else None)
    ignored = []
    for a in ordered:
        if a is chosen:
            continue
        if not deadline.accepts(a.received):
            ignored.append((a, f"received {a.received.isoformat()}, after the hard deadline "
                               f"{deadline.hard.isoformat()}"))
        elif chosen is not None and a < chosen:
            ignored.append((a, "an earlier hand-in: the later one counts"))
        else:
            ignored.append((a, "late, and an on-time hand-in counts"))
    late = chosen is not None and chosen.received > deadline.due + policy.grace
    return Choice(chosen, late, tuple(ignored))
