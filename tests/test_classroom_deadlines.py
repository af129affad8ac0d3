"""Deadlines and the late policy: properties over random times, zones and extensions; the course file's errors."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.classroom.course_file import CourseFileError, parse
from labkit.classroom.deadlines import Attempt, Deadline, DeadlineError, LatePolicy, choose, parse_extension

ZONES = ["UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata", "Pacific/Chatham", "Australia/Lord_Howe"]
moments = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2028, 1, 1),
                       timezones=st.sampled_from([ZoneInfo(z) for z in ZONES]))
spans = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20))
policies = st.builds(LatePolicy, percent_per_day=st.floats(0, 100), max_percent=st.floats(0, 100),
                     grace=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=2)))


@st.composite
def deadlines(draw) -> Deadline:
    due = draw(moments)
    return Deadline(due=due, hard=due + draw(spans))


@settings(max_examples=300, deadline=None)
@given(deadlines(), policies, spans, spans)
def test_on_time_work_is_never_penalised(deadline: Deadline, policy: LatePolicy, extension: timedelta,
                                         early: timedelta) -> None:
    extended = deadline.extended(extension)
    received = extended.due + policy.grace - early
    assert policy.fraction(extended, received) == 0.0
    assert policy.penalty_points(10.0, extended, received) == 0.0


@settings(max_examples=300, deadline=None)
@given(deadlines(), policies, moments, moments)
def test_penalty_never_decreases_with_lateness_and_stays_capped(deadline: Deadline, policy: LatePolicy,
                                                                a: datetime, b: datetime) -> None:
    first, second = sorted([a, b])
    assert policy.fraction(deadline, first) <= policy.fraction(deadline, second)
    assert 0.0 <= policy.fraction(deadline, second) <= policy.max_percent / 100 + 1e-12


@settings(max_examples=200, deadline=None)
@given(deadlines(), policies, spans)
def test_an_extension_never_increases_the_penalty(deadline: Deadline, policy: LatePolicy, extension: timedelta) -> None:
    received = deadline.due + timedelta(days=3)
    assert policy.fraction(deadline.extended(extension), received) <= policy.fraction(deadline, received)


@settings(max_examples=200, deadline=None)
@given(deadlines(), policies, st.lists(moments, min_size=1, max_size=8), st.randoms())
def test_choice_is_deterministic_and_follows_the_rule(deadline: Deadline, policy: LatePolicy,
                                                      times: list[datetime], rnd: random.Random) -> None:
    attempts = [Attempt(t, f"k{i}") for i, t in enumerate(times)]
    shuffled = attempts[:]
    rnd.shuffle(shuffled)
    first, again = choose(attempts, deadline, policy), choose(shuffled, deadline, policy)
    assert first.chosen == again.chosen  # re-collecting gives the same answer whatever the listing order
    accepted = [a for a in attempts if a.received <= deadline.hard]
    on_time = [a for a in accepted if a.received <= deadline.due + policy.grace]
    if first.chosen is not None:  # whatever the grace period, nothing after the hard deadline counts
        assert first.chosen.received <= deadline.hard
    if on_time:  # the latest on-time hand-in counts, and it is not late
        assert first.chosen == max(on_time) and not first.late
    elif accepted:
        assert first.chosen == max(accepted) and first.late
    else:
        assert first.chosen is None
    assert len(first.ignored) == len(attempts) - (first.chosen is not None)


def test_grace_does_not_reopen_a_closed_lab() -> None:
    due = datetime(2026, 12, 7, 23, 59, tzinfo=UTC)
    after = Attempt(due + timedelta(minutes=3), "after the hard deadline, inside the grace period")
    picked = choose([after], Deadline(due, due), LatePolicy(grace=timedelta(minutes=5)))
    assert picked.chosen is None and "after the hard deadline" in picked.ignored[0][1]


def test_the_same_instant_in_two_zones_is_the_same_deadline() -> None:
    berlin = datetime(2026, 12, 7, 23, 59, tzinfo=ZoneInfo("Europe/Berlin"))
    deadline = Deadline(berlin, berlin + timedelta(days=1))
    utc_instant = berlin.astimezone(UTC)
    policy = LatePolicy(percent_per_day=10)
    assert policy.fraction(deadline, utc_instant) == 0.0
    assert policy.fraction(deadline, utc_instant + timedelta(seconds=1)) == pytest.approx(0.1)


def test_worked_example() -> None:
    """10 % per started day, at most 50 %: 1 s late costs 10 %, 1 day + 1 s 20 %, 9 days 50 %."""
    due = datetime(2026, 12, 7, 23, 59, tzinfo=UTC)
    d, p = Deadline(due, due + timedelta(days=14)), LatePolicy(10, 50)
    late = [timedelta(seconds=1), timedelta(days=1, seconds=1), timedelta(days=9)]
    assert [p.fraction(d, due + x) for x in late] == [0.1, 0.2, 0.5]


@pytest.mark.parametrize(("text", "message"), [
    ("2x", "not understood"), ("-1d", "zero or more"), ("d", "not understood")])
def test_bad_extensions_are_named(text: str, message: str) -> None:
    with pytest.raises(DeadlineError, match=message):
        parse_extension(text)


GOOD = """
course_id: demo
instructors: [teacher]
roster: roster.csv
labs:
  04_metrics: {due: 2026-12-07 23:59, hard_deadline: 2026-12-14 23:59}
"""


@pytest.mark.parametrize(("change", "message"), [
    (("course_id: demo", "course_id: Demo Course"), "course_id 'Demo Course' is not a valid name"),
    (("hard_deadline: 2026-12-14", "hard_deadline: 2026-12-01"), "before the due date"),
    (("due: 2026-12-07 23:59", "due: next monday 23:59"), "is not a date and time"),
    (("roster: roster.csv", "rooster: roster.csv"), "unknown keys \\['rooster'\\]"),
    (("instructors: [teacher]", "instructors: []"), "at least one account"),
    (("course_id: demo", "course_id: demo\ntimezone: Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
    (("course_id: demo", "course_id: demo\nresources: {memory: lots}"), "resources.memory 'lots' is not a size"),
    (("course_id: demo", "course_id: demo\nlate_policy: {percent_per_day: 120}"), "percent_per_day must be"),
    (("course_id: demo", "course_id: demo\nresources: 4G"), "'resources' must be a mapping"),
    (("course_id: demo", "course_id: demo\nresources: {mem: 8G}"), "resources has unknown keys \\['mem'\\]"),
    (("course_id: demo", "course_id: demo\nresources: {memory: 10M}"), "less than 64M"),
    (("course_id: demo", "course_id: demo\nlate_policy: 10"), "'late_policy' must be a mapping"),
    (("due: 2026-12-07 23:59", "due: 2026-12-07"), "has no time of day"),
])
def test_course_file_errors_name_the_key_and_the_fix(change: tuple[str, str], message: str) -> None:
    parse(GOOD, Path("/srv"))
    with pytest.raises(CourseFileError, match=message):
        parse(GOOD.replace(*change), Path("/srv"))


def test_course_file_reads_due_dates_in_the_course_zone() -> None:
    course = parse(GOOD + "timezone: Europe/Berlin\n", Path("/srv"))
    assert course.deadline("04_metrics").due == datetime(2026, 12, 7, 22, 59, tzinfo=UTC)
    assert course.deadline("04_metrics", timedelta(days=2)).hard == datetime(2026, 12, 16, 22, 59, tzinfo=UTC)
    with pytest.raises(CourseFileError, match="05_hpo has no due date"):
        course.deadline("05_hpo")


def test_the_shipped_course_file_and_roster_are_valid_and_cover_every_lab() -> None:
    from labkit.classroom.course_file import load
    from labkit.classroom.roster import read
    from labkit.grading.nbgrader import list_labs

    course = load()
    assert sorted(course.labs) == list_labs()
    dues = [course.labs[lab].due for lab in list_labs()]
    assert dues == sorted(dues)  # labs fall due in course order
    assert [learner.id for learner in read(course.roster)] == ["ada", "grace", "alan"]
