"""``make bench-grading``: stock serial ``nbgrader autograde`` against ``labkit grade``, side by side.

For lab 04 and the Spark lab 01, the same generated submissions (by default 40: 16 perfect, 16 partly
wrong, 2 blank, 2 invalid JSON, 2 with a syntax error in an answer, 2 with a deleted test cell) are
graded by both, each into its own scratch copy of the course, one after the other on this machine. The
probe lab (two one-line tasks) gives the per-submission overhead of a trivial notebook.

Run alone it refreshes only its sections of ``results.md``; ``make bench`` runs it too.

    .venv/bin/python benchmarks/grading.py [--submissions 40] [--labs 04_metrics,01_spark_essentials]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # tests/scratch.py: throwaway courses

HEADING = "## Grading"
BIN = Path(sys.executable).parent
GOALS = {"04_metrics": 4.0, "01_spark_essentials": 8.0}


def submissions(lab: str, n: int, folder: Path) -> dict[str, str]:
    """Write ``n`` submissions of ``lab`` into ``folder`` (``<learner>.ipynb``); returns learner → kind."""
    from labkit.grading import demo

    built = demo.build(lab)  # from the course itself: the scratch copies hold the same notebooks
    folder.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, str] = {}
    broken = max(n // 5, 0)
    plan = (["perfect"] * ((n - broken) // 2) + ["partial"] * ((n - broken) - (n - broken) // 2)
            + ["blank", "invalid_json", "syntax_error", "deleted_test"] * (broken // 4 + 1))[:n]
    for i, kind in enumerate(plan):
        learner = f"learner{i:03d}"
        kinds[learner] = kind
        path = folder / f"{learner}.ipynb"
        if kind in built:
            nbformat.write(built[kind], path)
        elif kind == "invalid_json":
            path.write_text(nbformat.writes(built["perfect"])[:5000])
        elif kind == "syntax_error":
            nb = nbformat.reads(nbformat.writes(built["perfect"]), as_version=4)
            cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
            cell.source = "def broken(:\n" + cell.source
            nbformat.write(nb, path)
        elif kind == "deleted_test":
            nb = nbformat.reads(nbformat.writes(built["perfect"]), as_version=4)
            test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
                        and not c.metadata["nbgrader"].get("solution"))
            nb.cells.remove(test)
            nbformat.write(nb, path)
    return kinds


def _course(lab: str, base: Path, name: str, *, probe: bool = False) -> Path:
    from scratch import probe_lab, scratch_course

    root = scratch_course(base / name, [] if probe else [lab])
    if probe:
        probe_lab(root)
    return root


def _env_for(course: Path) -> dict[str, str]:
    from scratch import scratch_env

    return {**os.environ, **scratch_env(course), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def stock(lab: str, folder: Path, course: Path) -> tuple[float, dict[str, float]]:
    """Copy the submissions into nbgrader's layout and time one ``nbgrader autograde`` over all of them."""
    from scratch import scratch_env

    from labkit._env import environment as _env
    from labkit.grading.nbgrader import lab_notebook

    with _env(scratch_env(course)):
        name = lab_notebook(lab, released=True).name
    for path in sorted(folder.glob("*.ipynb")):
        dest = course / "grading" / "submitted" / path.stem / lab
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest / name)
    start = time.perf_counter()
    subprocess.run([str(BIN / "nbgrader"), "autograde", lab, "--force"], cwd=course, env=_env_for(course),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start, _scores(course, lab)


def ours(lab: str, folder: Path, course: Path, workers: int | None = None) -> tuple[float, dict[str, float]]:
    cmd = [str(BIN / "labkit"), "grade", lab, str(folder)] + (["--workers", str(workers)] if workers else [])
    start = time.perf_counter()
    subprocess.run(cmd, cwd=course, env=_env_for(course), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False)
    return time.perf_counter() - start, _scores(course, lab)


def _scores(course: Path, lab: str) -> dict[str, float]:
    from scratch import gradebook_rows

    totals: dict[str, float] = {}
    for student, _, score in gradebook_rows(course, lab):
        totals[student] = round(totals.get(student, 0.0) + (score or 0.0), 4)
    return totals


def lab_rows(lab: str, n: int, base: Path) -> list[str]:
    folder = base / f"{lab}-submissions"
    kinds = submissions(lab, n, folder)
    t_stock, s_stock = stock(lab, folder, _course(lab, base, f"{lab}-stock"))
    t_ours, s_ours = ours(lab, folder, _course(lab, base, f"{lab}-labkit"))
    same = sum(abs(s_stock.get(k, 0) - s_ours.get(k, 0)) < 1e-6 for k in kinds)
    differ = sorted({kinds[k] for k in kinds if abs(s_stock.get(k, 0) - s_ours.get(k, 0)) >= 1e-6})
    ratio = t_stock / t_ours
    goal = GOALS.get(lab, 1.0)
    print(f"{lab}: stock {t_stock:.1f} s, labkit {t_ours:.1f} s → {ratio:.1f}× (goal ≥ {goal:g}×); "
          f"same total for {same}/{n}; differ: {differ}")
    return [f"| {lab} | {n} | {t_stock:.0f} | {t_ours:.0f} | {t_stock / n:.2f} | {t_ours / n:.2f} | "
            f"**{ratio:.1f}×** | ≥ {goal:g}× {'✓' if ratio >= goal else '✗'} | {same}/{n} | "
            f"{', '.join(differ) or '–'} |"]


def overhead_rows(n: int, base: Path) -> list[str]:
    from scratch import PROBE_LAB, scratch_env

    from labkit._env import environment as _env

    course_stock = _course("", base, "probe-stock", probe=True)
    course_ours = _course("", base, "probe-labkit", probe=True)
    course_serial = _course("", base, "probe-labkit-1", probe=True)
    folder = base / "probe-submissions"
    folder.mkdir()
    from labkit.grading.nbgrader import lab_notebook

    with _env(scratch_env(course_stock)):
        source = nbformat.read(lab_notebook(PROBE_LAB), as_version=4)
        released = nbformat.read(lab_notebook(PROBE_LAB, released=True), as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in released.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    for i in range(n):
        nbformat.write(released, folder / f"learner{i:03d}.ipynb")
    t_stock, s_stock = stock(PROBE_LAB, folder, course_stock)
    t_serial, _ = ours(PROBE_LAB, folder, course_serial, workers=1)
    t_ours, s_ours = ours(PROBE_LAB, folder, course_ours)
    full = sum(v == 5 for v in s_ours.values())
    print(f"trivial notebook: stock {t_stock / n:.2f} s, labkit {t_serial / n:.2f} s (1 worker), "
          f"{t_ours / n:.2f} s (default); full marks {full}/{n} (stock {sum(v == 5 for v in s_stock.values())})")
    return [f"| stock `nbgrader autograde` (serial) | {t_stock:.1f} | {t_stock / n:.2f} |",
            f"| `labkit grade --workers 1` | {t_serial:.1f} | {t_serial / n:.2f} |",
            f"| `labkit grade` (one worker per core) | {t_ours:.1f} | {t_ours / n:.2f} |"]


def grading_section(n: int, labs: list[str], n_trivial: int = 20) -> list[str]:
    base = Path(tempfile.mkdtemp(prefix="labkit-bench-grading-"))
    try:
        rows = [row for lab in labs for row in lab_rows(lab, n, base)]
        overhead = overhead_rows(n_trivial, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return [
        f"{HEADING}: stock serial nbgrader vs labkit grade", "",
        f"The same {n} generated submissions per lab (40 % perfect, 40 % partly wrong as in the demo, and 20 % "
        "broken: blank, invalid JSON, a syntax error in an answer, a deleted test cell), graded by "
        "`nbgrader autograde LAB` (one process, one kernel after another) and by `labkit grade LAB` (one "
        f"sandboxed kernel per core, {os.cpu_count()} here), each into its own scratch course, one after the "
        "other. Wall time of the whole command. \"Same total\": learners given the same score by both; the "
        "kinds that differ are where labkit is meant to differ (a deleted test cell is restored and graded; "
        "stock nbgrader gives its points away or fails; each learner's hidden tests use their own seed).", "",
        "| lab | submissions | stock (s) | labkit (s) | stock s/submission | labkit s/submission | speed-up | "
        "goal | same total | kinds that differ |", "|---|---:|---:|---:|---:|---:|---:|---|---:|---|", *rows, "",
        f"{HEADING}: per-submission overhead on a trivial notebook", "",
        f"The two-task probe lab, {n_trivial} perfect submissions (goal: ≤ 1 s per submission).", "",
        "| grader | total (s) | s/submission |", "|---|---:|---:|", *overhead, "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--labs", default="04_metrics,01_spark_essentials")
    parser.add_argument("--trivial", type=int, default=20, help="submissions of the probe lab")
    parser.add_argument("--dry-run", action="store_true", help="print, do not write results.md")
    args = parser.parse_args()
    from sections import refresh

    here = Path(__file__).parent
    lines = grading_section(args.submissions, [lab for lab in args.labs.split(",") if lab], args.trivial)
    if args.dry_run:
        print("\n".join(lines))
        return
    refresh(here / "results.md", HEADING, lines)
    print(f"wrote {here / 'results.md'}")


if __name__ == "__main__":
    main()
