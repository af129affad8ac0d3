"""Grades out to Canvas, Moodle or CSV; an LMS's submissions zip in. The commands ``labkit export`` and
``labkit import-submissions`` (registered by :mod:`labkit.cli`).

* :func:`export_grades` (in :mod:`labkit.classroom.lms_export`) writes the gradebook as the CSV file Canvas's
  or Moodle's gradebook import reads, or as labkit's own per-learner table;
* :func:`import_submissions` (in :mod:`labkit.classroom.lms_import`) unpacks a Canvas or Moodle
  "download all submissions" zip into ``<learner>/<notebook>.ipynb`` for ``labkit grade``, refusing what is
  unsafe.

>>> sorted(lms_export_command.params[0].type.choices)
['canvas', 'csv', 'moodle', 'questions']
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import click

from labkit.classroom.lms_export import FORMATS, LmsError, LmsWarning, export_grades, final_score
from labkit.classroom.lms_import import MAX_TOTAL_BYTES, SubmissionsReport, import_submissions, parse_entry_name

__all__ = ["FORMATS", "MAX_TOTAL_BYTES", "LmsError", "LmsWarning", "SubmissionsReport", "export_grades",
           "final_score", "import_submissions", "lms_export_command", "lms_import_command", "parse_entry_name"]


def _roster_or_error(path: Path | None):
    if path is None:
        return None
    from labkit.classroom.roster import RosterError, read

    try:
        return read(path)
    except RosterError as exc:
        raise LmsError(str(exc)) from None


def _assignment_ids(pairs: tuple[str, ...]) -> dict[str, str]:
    ids = {}
    for pair in pairs:
        lab, sep, aid = pair.partition("=")
        if not sep or not lab.strip() or not aid.strip().isdigit():
            raise click.BadParameter(f"{pair!r}: write LAB=ID, the ID being the number at the end of the Canvas "
                                     "assignment's address", param_hint="--assignment-id")
        ids[lab.strip()] = aid.strip()
    return ids


@click.command("export")
@click.option("--format", "fmt", type=click.Choice([*FORMATS, "questions"]), default="csv", show_default=True,
              help="canvas: Canvas's Import grades CSV; moodle: Moodle's Import grades from CSV; csv: one row per "
                   "learner with score, late penalty and final grade per lab; questions: one row per learner and "
                   "lab with a column per question (the former `labkit export`).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The CSV file to write [default: grading/grades-<format>.csv; grading/grades.csv for questions].")
@click.option("--lab", "labs", multiple=True, help="A lab to export (repeat it; 04, metrics or 04_metrics). "
                                                   "Default: every lab in the gradebook.")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The class's roster CSV (id,name,email[,extension][,lms_id]): one row per roster learner, "
                   "graded or not. Default: every learner in the gradebook.")
@click.option("--assignment-id", "assignment_ids", multiple=True, metavar="LAB=ID",
              help="Canvas only: the Canvas assignment a lab's grades go to (repeat it); without it Canvas offers "
                   "to create a new assignment named after the lab.")
def lms_export_command(fmt: str, output: Path | None, labs: tuple[str, ...], roster: Path | None,
                       assignment_ids: tuple[str, ...]) -> None:
    """Write the gradebook as a CSV file to import into an LMS: one row per learner, a column per lab (score less
    late penalty, at least 0) and the course total. A lab a learner did not hand in is left ungraded."""
    from labkit.grading.nbgrader import api
    from labkit.paths import grading_dir

    if fmt == "questions":
        from labkit.grading.nbgrader import export as per_question

        output = output or grading_dir() / "grades.csv"
        click.echo(f"wrote {per_question(output)} row(s) to {output}")
        return
    output = output or grading_dir() / f"grades-{fmt}.csv"
    ids = _assignment_ids(assignment_ids)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LmsWarning)
        n = export_grades(api().coursedir.db_url, fmt, output, labs or None, _roster_or_error(roster),
                          assignment_ids=ids)
    for warning in caught:
        if issubclass(warning.category, LmsWarning):
            click.secho(f"warning: {warning.message}", fg="yellow", err=True)
    click.echo(f"wrote {n} learner(s) to {output} ({fmt})")


@click.command("import-submissions")
@click.argument("zip_path", metavar="ZIP", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("lab")
@click.option("--into", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The submissions folder to fill [default: grading/lms/<lab>].")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The class's roster CSV, whose lms_id column (or names) maps LMS learners to learner ids.")
def lms_import_command(zip_path: Path, lab: str, into: Path | None, roster: Path | None) -> None:
    """Unpack a Canvas or Moodle "download all submissions" ZIP of LAB into a folder `labkit grade` reads, one
    <learner>/<notebook>.ipynb each; unsafe or unknown entries are skipped and listed. Exit code 1 if nothing
    could be imported."""
    from labkit.grading.nbgrader import lab_notebook, resolve_lab
    from labkit.paths import grading_dir

    lab = resolve_lab(lab)
    into = into or grading_dir() / "lms" / lab
    report = import_submissions(zip_path, lab, into, _roster_or_error(roster), notebook=lab_notebook(lab).name)
    click.echo(report.summary())
    if not report.imported:
        sys.exit(1)
    click.echo(f"next: labkit grade {lab} {into}")
