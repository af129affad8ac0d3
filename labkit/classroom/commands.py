"""The class's commands: ``labkit roster import``, ``release-to-class``, ``collect`` and ``feedback``.

Each reads the course file (``grading/course.yml``, or ``--course``) and prints one line per learner and a
summary; the exchange's commands need root, and say so.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from labkit.paths import grading_dir

if TYPE_CHECKING:
    from labkit.classroom.course_file import Course
    from labkit.classroom.roster import Learner

_COURSE = click.option("--course", "course_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                       help="The course file [default: grading/course.yml].")


class ClassError(click.ClickException):
    """A class command could not do its job; click prints the message and exits with 4."""

    exit_code = 4


def _load(course_path: Path | None) -> tuple[Course, list[Learner]]:
    """The course file and its roster (their errors reach the user as one line: see labkit.cli)."""
    from labkit.classroom.course_file import load
    from labkit.classroom.roster import read

    course = load(course_path)
    return course, read(course.roster)


def _need_root(what: str) -> None:
    from labkit.classroom.accounts import is_root

    if not is_root():
        raise ClassError(f"{what} needs root: the class exchange and learners' accounts belong to root (run it with "
                         "sudo).")


def _lab_as_root(command: str, lab: str, course_path: Path | None):
    """What an exchange command starts with: root checked, the course and roster read, the lab resolved."""
    from labkit.grading.nbgrader import resolve_lab

    _need_root(command)
    course, learners = _load(course_path)
    return course, learners, resolve_lab(lab)


def collected_dir(lab: str) -> Path:
    """``grading/collected/<lab>``: one folder per learner, what ``labkit grade`` reads by default."""
    return grading_dir() / "collected" / lab


@click.group()
def roster() -> None:
    """The class list: learners' accounts, nbgrader's students and inbounds."""


@roster.command("import")
@click.argument("csv_path", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_COURSE
def roster_import(csv_path: Path | None, course_path: Path | None) -> None:
    """Import the roster CSV (id,name,email[,extension][,lms_id]; default: the course file's): create or re-enable
    each learner's account and inbound, add them to nbgrader's students, disable learners no longer listed.
    Idempotent; nobody's grades or files are ever deleted."""
    from labkit.classroom.roster import import_roster, read
    from labkit.grading.nbgrader import api

    course, learners = _load(course_path)
    learners = read(csv_path) if csv_path else learners
    report = import_roster(course, learners, api().coursedir.db_url)
    click.echo(report.summary())
    for name in report.disabled:
        click.echo(f"disabled {name}: no longer on the roster (grades and files kept)")


@click.command("release-to-class")
@click.argument("lab")
@_COURSE
def release_to_class(lab: str, course_path: Path | None) -> None:
    """Publish the released LAB (labs/LAB) to the class: learners fetch it from their Assignment List."""
    from labkit.classroom import exchange
    from labkit.paths import labs_dir

    course, learners, lab = _lab_as_root("release-to-class", lab, course_path)
    exchange.prepare(course)
    for learner in learners:
        exchange.prepare_inbound(course, learner.id, learner.extension.total_seconds())
    path = exchange.release_to_class(course, lab, labs_dir() / lab)
    d = course.deadline(lab)
    click.echo(f"released {lab} to {len(learners)} learner(s): {path}\ndue {d.due.isoformat(' ', 'minutes')}, "
               f"hard deadline {d.hard.isoformat(' ', 'minutes')}")


@click.command()
@click.argument("lab")
@_COURSE
def collect(lab: str, course_path: Path | None) -> None:
    """Gather each learner's submission of LAB that counts under the late policy into grading/collected/LAB
    (then: labkit grade LAB)."""
    from labkit.classroom.collect import collect as run_collect
    from labkit.grading.nbgrader import lab_notebook

    course, learners, lab = _lab_as_root("collect", lab, course_path)
    outcomes = run_collect(course, lab, learners, lab_notebook(lab, released=True).name, collected_dir(lab))
    for c in outcomes:
        click.echo(f"{c.learner:24} {c.status:14} {c.received[:19]}"
                   + (f"  ({c.attempts} hand-ins)" if c.attempts > 1 else ""))
        for note in c.notes:
            click.echo(f"    {note}")
        for flag in c.flags:
            click.secho(f"    review: {flag}", fg="yellow")
    got = sum(1 for c in outcomes if c.key)
    late = sum(1 for c in outcomes if c.late)
    click.echo(f"collected {got}/{len(outcomes)} ({late} late) into {collected_dir(lab)}; "
               f"next: labkit grade {lab}")


@click.command()
@click.argument("lab")
@_COURSE
def feedback(lab: str, course_path: Path | None) -> None:
    """Write each graded learner's feedback for LAB and release it: learners fetch it from their Assignment List."""
    from labkit.classroom.exchange import release_feedback
    from labkit.grading.nbgrader import api
    from labkit.grading.report import build_report

    course, _, lab = _lab_as_root("feedback", lab, course_path)
    build_report(lab, feedback=True)
    coursedir = api().coursedir
    feedback_root = Path(coursedir.root) / coursedir.feedback_directory
    released, skipped = release_feedback(course, lab, collected_dir(lab), feedback_root)
    for line in skipped:
        click.echo(f"not released: {line}")
    click.echo(f"released feedback of {lab} to {len(released)} learner(s)")


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


@click.command()
@click.option("--port", default=8000, show_default=True, help="Port on 127.0.0.1 (another free one if taken).")
@_COURSE
def hub(port: int, course_path: Path | None) -> None:
    """Serve the class with JupyterHub on this machine: learners log in with their account's password and work
    in JupyterLab as themselves; instructors also reach the formgrader. Ctrl-C stops it and every server."""
    import signal

    from labkit.classroom.hub import Hub
    from labkit.paths import course_root

    _need_root("labkit hub")
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the class as Ctrl-C does, set-up included
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started as a background job
    course, learners = _load(course_path)
    the_hub = Hub(course, learners, course_root(), port=port, progress=lambda m: m and click.echo(m))
    click.echo(f"starting JupyterHub for {course.course_id} ({len(learners)} learners)...")
    try:
        the_hub.start()
    except KeyboardInterrupt:
        the_hub.stop()
        raise
    click.echo(f"\n    {the_hub.url}\n\nlearners: their account and password; instructors: the formgrader at "
               f"{the_hub.url}services/formgrader/formgrader\nlog: {the_hub.layout.state / 'jupyterhub.log'}"
               "\nCtrl-C stops the hub and every learner's server.")
    try:
        the_hub.service.proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        the_hub.stop()
        click.echo("stopped.")
