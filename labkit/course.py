"""``make course``: release every lab, execute every solution headlessly, grade the demo submissions, report.

Grading goes through labkit's sandboxed, parallel engine (:mod:`labkit.grading.engine`), like ``labkit grade``.

The job fails (non-zero exit) when a notebook does not run or a demo submission does not get the grade
it exists to show: full marks for ``perfect``, strictly between 0 and full for ``partial``, 0 for ``blank``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from labkit.grading import demo
from labkit.grading.engine import Grade, grade_directory
from labkit.grading.nbgrader import list_labs, release
from labkit.paths import build_dir
from labkit.runner import RunResult, run_labs


@dataclass
class LabReport:
    lab: str
    run: RunResult
    grades: dict[str, Grade] = field(default_factory=dict)
    grade_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.run.ok and not self.problems


def _expectations(report: LabReport) -> list[str]:
    problems = []
    if not report.run.ok:
        problems.append(f"solution notebook failed: {report.run.error}")
    g = report.grades
    for kind in demo.KINDS:
        if kind not in g:
            problems.append(f"no grade for the {kind} demo submission")
        elif not g[kind].ok:
            problems.append(f"grading the {kind} demo submission failed: {g[kind].message[:300]}")
    if "perfect" in g and g["perfect"].score != g["perfect"].max_score:
        problems.append(f"perfect demo scored {g['perfect'].score:g}/{g['perfect'].max_score:g}, not full marks")
    if "partial" in g and not 0 < g["partial"].score < g["partial"].max_score:
        problems.append(f"partial demo scored {g['partial'].score:g}, not partial credit")
    if "blank" in g and g["blank"].score != 0:
        problems.append(f"blank demo scored {g['blank'].score:g}, not 0")
    return problems


def run_course(labs: list[str] | None = None, *, fast: bool = True, progress: bool = True) -> list[LabReport]:
    """Release, execute and grade ``labs`` (default: all) and return one report per lab."""
    labs = labs or list_labs()
    release(labs)
    for lab in labs:
        demo.write(lab)
    runs = run_labs(labs, fast=fast, progress=progress)
    reports = []
    for lab, run in zip(labs, runs, strict=True):
        start = time.perf_counter()
        grades = {g.student: g for g in grade_directory(lab, demo.demo_dir(lab), progress=progress)}
        report = LabReport(lab, run, grades, time.perf_counter() - start)
        report.problems = _expectations(report)
        reports.append(report)
    return reports


def format_table(reports: list[LabReport]) -> str:
    """A fixed-width table: one row per lab with status, times and the three demo scores."""
    header = f"{'lab':22} {'status':7} {'run (s)':>8} {'grade (s)':>9}  {'perfect':>9} {'partial':>9} {'blank':>9}"
    lines = [header, "-" * len(header)]
    for r in reports:
        cells = []
        for kind in demo.KINDS:
            g = r.grades.get(kind)
            cells.append(f"{g.score:g}/{g.max_score:g}" if g else "-")
        lines.append(f"{r.lab:22} {'ok' if r.ok else 'FAIL':7} {r.run.seconds:8.1f} {r.grade_seconds:9.1f}  "
                     f"{cells[0]:>9} {cells[1]:>9} {cells[2]:>9}")
        lines += [f"    ! {p}" for p in r.problems]
    return "\n".join(lines)


def write_report(reports: list[LabReport], path: Path | None = None) -> Path:
    """Write ``build/report.md``: the table plus, per lab, the executed notebook and each demo's grade."""
    path = path or build_dir() / "report.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# labkit course report", "", f"Generated {time.strftime('%Y-%m-%d %H:%M:%S')}.", "",
             "| lab | status | run (s) | grade (s) | perfect | partial | blank |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in reports:
        scores = [f"{r.grades[k].score:g} / {r.grades[k].max_score:g}" if k in r.grades else "–" for k in demo.KINDS]
        lines.append(f"| {r.lab} | {'ok' if r.ok else '**FAIL**'} | {r.run.seconds:.1f} | {r.grade_seconds:.1f} | "
                     + " | ".join(scores) + " |")
    for r in reports:
        lines += ["", f"## {r.lab}", "", f"* executed notebook: `{r.run.output}`"]
        lines += [f"* problem: {p}" for p in r.problems]
    path.write_text("\n".join(lines) + "\n")
    return path
