"""The ``labkit`` command: release, run, grade and check the course."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from labkit.paths import course_root, ensure_venv_bin_on_path
from labkit.spark_connect import DEFAULT_PORT


def _labs(names: tuple[str, ...]) -> list[str]:
    from labkit.grading.nbgrader import list_labs, resolve_lab

    return [resolve_lab(n) for n in names] if names else list_labs()


# exit codes, the same for every command
EXIT_OK = 0
EXIT_FAILED = 1  # what the command ran failed: a lab did not execute, a check of `labkit doctor` failed
EXIT_USAGE = 2  # a bad argument: click's usage errors, and a lab name that names nothing
EXIT_NOT_RUNNING = 3  # `labkit spark-connect status`: no server (as service status commands say)
EXIT_ERROR = 4  # labkit could not do its job: no gradebook, Spark did not start, a dataset is corrupt
EXIT_RETRY = 5  # `labkit grade`: some submissions stopped on a grader error (not theirs); run it again
EXIT_CODES = f"""Exit codes: {EXIT_OK} success; {EXIT_FAILED} what the command ran failed (a lab, a check);
{EXIT_USAGE} a bad argument (an unknown lab, a bad option); {EXIT_NOT_RUNNING} spark-connect status: not
running; {EXIT_ERROR} labkit could not do its job (the message says why); {EXIT_RETRY} labkit grade: some
submissions stopped on a grader error, not their own: run it again."""


class _Group(click.Group):
    """Turns the kit's own errors into a one-line message and an exit code instead of a traceback."""

    def invoke(self, ctx: click.Context):
        from labkit.classroom import errors as class_errors
        from labkit.datasets import DatasetError
        from labkit.grading.nbgrader import GradingError, UnknownLab
        from labkit.spark_connect import SparkConnectError

        try:
            return super().invoke(ctx)
        except (GradingError, DatasetError, SparkConnectError, *class_errors()) as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(EXIT_USAGE if isinstance(exc, UnknownLab) else EXIT_ERROR)


@click.group(cls=_Group, epilog=EXIT_CODES)
@click.version_option(package_name="labkit")
def main() -> None:
    """labkit: an autograded course from Spark essentials to distributed deep learning."""
    ensure_venv_bin_on_path()


@main.command()
@click.argument("labs", nargs=-1)
@click.option("--no-demo", is_flag=True, help="Do not regenerate grading/demo/ submissions.")
def release(labs: tuple[str, ...], no_demo: bool) -> None:
    """Regenerate labs/ from solutions/ (nbgrader generate_assignment) and the demo submissions."""
    from labkit.grading import demo
    from labkit.grading.nbgrader import release as do_release

    for lab in do_release(_labs(labs)):
        if not no_demo:
            demo.write(lab)
        click.echo(f"released {lab} → labs/{lab}/")


@main.command()
@click.argument("labs", nargs=-1)
@click.option("--fast", is_flag=True, help="Small data and few epochs (what CI uses): about a minute a lab.")
@click.option("--released", is_flag=True, help="Run the released labs/ notebooks instead of solutions/.")
def run(labs: tuple[str, ...], fast: bool, released: bool) -> None:
    """Execute lab notebooks headlessly with papermill into build/executed/."""
    from labkit.runner import kernel_log, run_labs

    results = run_labs(_labs(labs), fast=fast, source="labs" if released else "solutions")
    for r in results:
        status = click.style("ok", fg="green") if r.ok else click.style("FAIL", fg="red")
        click.echo(f"{r.lab:24} {status}  {r.seconds:6.1f} s  {r.output}" + (f"\n    {r.error}" if r.error else ""))
    click.echo(f"(what native libraries such as Spark's JVM printed at start-up: {kernel_log()})")
    sys.exit(EXIT_OK if all(r.ok for r in results) else EXIT_FAILED)


@main.command()
@click.argument("lab")
@click.argument("submissions", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--workers", "-j", type=click.IntRange(min=1), default=None,
              help="Kernels side by side [default: cores].")
@click.option("--memory-mb", type=click.IntRange(min=64), default=4096, show_default=True,
              help="Memory limit of one submission's kernel and everything it starts.")
@click.option("--cell-timeout", type=click.FloatRange(min=1), default=300, show_default=True, help="Seconds per cell.")
@click.option("--notebook-timeout", type=click.FloatRange(min=1), default=1200, show_default=True,
              help="Seconds per submission.")
@click.option("--max-tasks", type=click.IntRange(min=16), default=1024, show_default=True,
              help="Processes and threads one submission may run.")
@click.option("--figures", is_flag=True, help="Render figures into the graded notebooks (slower).")
@click.option("--all-cells", is_flag=True,
              help="Also run the cells the lab tags demo (illustrations no graded cell needs; skipped by default).")
@click.option("--force", is_flag=True, help="Regrade submissions already in the gradebook.")
def grade(lab: str, submissions: Path | None, workers: int | None, memory_mb: int, cell_timeout: float,
          notebook_timeout: float, max_tasks: int, figures: bool, all_cells: bool, force: bool) -> None:
    """Autograde every submission in SUBMISSIONS (<learner>/<notebook>.ipynb or <learner>.ipynb; default: what
    `labkit collect LAB` gathered), in parallel sandboxed kernels, into the nbgrader gradebook; resumable (already
    graded submissions are skipped)."""
    from labkit.classroom.commands import collected_dir
    from labkit.grading.engine import grade as run_grading
    from labkit.grading.nbgrader import GradingError, resolve_lab
    from labkit.grading.sandbox import Limits

    if submissions is None:
        submissions = collected_dir(resolve_lab(lab))
        if not submissions.is_dir():
            raise GradingError(f"nothing collected for {resolve_lab(lab)}: run `labkit collect {lab}` first, or name a "
                               "folder of submissions")

    limits = Limits(memory_mb=memory_mb, cell_timeout=cell_timeout, notebook_timeout=notebook_timeout,
                    max_tasks=max_tasks)
    run = run_grading(resolve_lab(lab), submissions, workers=workers, limits=limits, force=force, figures=figures,
                      all_cells=all_cells)
    for r in run.results:
        line = f"{r.student:24} {r.score:6g} / {r.max_score:g}" + ("  (unchanged)" if r.skipped else "")
        if r.problem:
            line += f"  problem: {r.problem[:160]}"
        if r.flags:
            line += f"  review: uses {', '.join(r.flags)}"
        click.echo(line)
    click.echo(run.summary())
    sys.exit(EXIT_RETRY if any(r.incomplete for r in run.results) else EXIT_OK)


@main.command()
@click.argument("lab")
@click.option("--no-feedback", is_flag=True, help="Skip the per-learner feedback HTML.")
def report(lab: str, no_feedback: bool) -> None:
    """Score distribution, item analysis and per-learner feedback (without hidden tests) for a graded LAB."""
    from labkit.grading.nbgrader import resolve_lab
    from labkit.grading.report import build_report

    rep = build_report(resolve_lab(lab), feedback=not no_feedback)
    click.echo(rep.items.round(3).to_string())
    click.echo(f"\n{len(rep.scores)} learner(s); report: {rep.folder / 'report.md'}; "
               f"feedback: {len(rep.feedback)} file(s) under grading/feedback/")
    for student, flags in sorted(rep.flagged.items()):
        click.echo(f"review {student}: uses {', '.join(flags)}")


@main.command()
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def validate(notebook: Path) -> None:
    """Run NOTEBOOK top to bottom as Validate does and list every self-check, ✓ and ✗, with each task's points.

    Exits 1 when a visible check fails. Hidden checks run only at grading."""
    from labkit.grading.validate import validate as run_validation

    ensure_venv_bin_on_path()
    report, earned, total = run_validation(notebook.resolve())
    click.echo(report)
    sys.exit(EXIT_OK if earned >= total else EXIT_FAILED)


@main.command()
@click.argument("labs", nargs=-1)
def hints(labs: tuple[str, ...]) -> None:
    """Try each lab's catalogued mistakes (grading/mistakes/LAB.json) against its checks; write the hints.

    Prints, per lab, how many mistakes a self-check catches, how many a hint names and how many pass every
    self-check yet lose points at grading (surprises); writes solutions/LAB/hints.json (run `labkit release`
    after). Exits 1 when a mistake is a surprise or escapes the self-checks."""
    import tempfile

    from labkit.grading.mistakes import catalogue, measure, summary, write_hints

    ensure_venv_bin_on_path()
    failed = False
    for lab in [lab for lab in _labs(labs) if catalogue(lab)]:
        with tempfile.TemporaryDirectory() as work:
            outcomes = measure(lab, Path(work))
        figures = summary(outcomes)
        failed |= figures["caught"] < 1 or figures["surprises"] > 0
        click.echo(f"{lab}: {figures['mistakes']} mistakes, {figures['caught']:.0%} caught by a self-check, "
                   f"{figures['named']:.0%} named by a hint, {figures['surprises']} surprise(s); "
                   f"wrote {write_hints(lab, outcomes).relative_to(course_root())}")
        for o in outcomes:
            if not o.caught or not o.named:
                click.echo(f"  {o.task}: {o.name}: {'not caught' if not o.caught else 'no hint can name it'}"
                           + (f", loses points at grading ({o.score:.3g} / {o.points:g})" if o.surprise else ""))
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


@main.command()
def doctor() -> None:
    """Check Python, Java, Spark, TensorFlow, Horovod, nbgrader's extensions and the datasets."""
    from labkit.doctor import format_table, run_checks

    checks = run_checks()
    click.echo(format_table(checks))
    failed = [c for c in checks if c.required and not c.ok]
    click.echo(f"\n{len(checks) - len(failed)}/{len(checks)} checks passed")
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


@main.command()
@click.argument("labs", nargs=-1)
@click.option("--full", is_flag=True, help="Execute the solutions at full size instead of --fast.")
def course(labs: tuple[str, ...], full: bool) -> None:
    """Release, execute and autograde the whole course, print a table and write build/report.md."""
    from labkit.course import format_table, run_course, write_report

    reports = run_course(_labs(labs), fast=not full)
    click.echo("\n" + format_table(reports))
    path = write_report(reports)
    from labkit.runner import kernel_log

    click.echo(f"\nreport: {path}\n(what native libraries printed at start-up: {kernel_log()})")
    sys.exit(EXIT_OK if all(r.ok for r in reports) else EXIT_FAILED)


@main.command()
@click.option("--port", default=8888, show_default=True, help="Port on 127.0.0.1 (another free one if taken).")
def lab(port: int) -> None:
    """Start JupyterLab on labs/ with the kit's kernel, nbgrader's Validate and assignment list, and ipywidgets
    (Ctrl-C stops it)."""
    _serve(course_root() / "labs", port, "lab", "JupyterLab (the labs)")


@main.command()
@click.option("--port", default=8889, show_default=True, help="Port on 127.0.0.1 (another free one if taken).")
def formgrader(port: int) -> None:
    """Start JupyterLab on the course with nbgrader's formgrader open: assignments, submissions, gradebook
    (Ctrl-C stops it)."""
    _serve(course_root(), port, "formgrader", "nbgrader formgrader (the instructor's view)")


def _serve(root: Path, port: int, path: str, what: str) -> None:
    from labkit.jupyter import LabServer, free_port

    server = LabServer(root, cwd=course_root(), port=free_port(port))
    click.echo(f"starting {what} on port {server.port}...")
    server.start()
    click.echo(f"\n    {server.url(path)}\n\nopen that address in a browser; Ctrl-C stops the server.")
    code = server.wait()
    click.echo("stopped.")
    sys.exit(0 if code in (0, -signal.SIGINT, 130) else code)


@main.command("spark-connect")
@click.argument("action", type=click.Choice(["start", "stop", "status"]))
@click.option("--port", default=DEFAULT_PORT, show_default=True)
def spark_connect(action: str, port: int) -> None:
    """Run the Spark Connect server bundled with PySpark 4 on 127.0.0.1 (one JVM for many notebooks)."""
    from labkit import spark_connect as sc

    if action == "start":
        url = sc.start(port)
        click.echo(f"Spark Connect server running at {url}\nuse it: export LABKIT_SPARK_REMOTE={url}")
    elif action == "stop":
        click.echo("stopped" if sc.stop(port) else f"no server started by labkit on port {port}")
    else:
        st = sc.status(port)
        click.echo(f"running at {st['url']} (pid {st['pid']})" if st["running"] else "not running")
        sys.exit(EXIT_OK if st["running"] else EXIT_NOT_RUNNING)


@main.command()
def kernel() -> None:
    """(Re)install the kit's Jupyter kernel spec into the venv."""
    from labkit.jupyter import install_kernel

    click.echo(f"installed kernel spec in {install_kernel()}")


def _register_class_commands() -> None:
    from labkit.classroom import commands
    from labkit.classroom.lms import lms_export_command, lms_import_command

    for command in (commands.roster, commands.release_to_class, commands.collect, commands.feedback, commands.hub):
        main.add_command(command)
    main.add_command(lms_export_command, "export")
    main.add_command(lms_import_command, "import-submissions")


_register_class_commands()

if __name__ == "__main__":
    main()
