"""Stage 5 of grading: a test cell's score from its referee's report (and nbgrader's own display rule, kept
as the oracle tests compare with)."""

from __future__ import annotations

import nbformat

from labkit.grading import cells
from labkit.grading.results import Question

NO_REPORT = "no score reported: the notebook changed how cells run or display"


def _partial(output, points: float) -> float | None:
    text = output.get("data", {}).get("text/plain")
    if text is None:
        return None
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return min(max(value, 0.0), points)


def score_cell(cell, points: float) -> Question:
    """A test cell's :class:`Question`: nbgrader's rule (an error scores 0; a number as the last value is
    partial credit; otherwise full marks), except that stderr output is a warning, not a zero."""
    gid = cells.grade_id(cell)
    q = Question(gid, points)
    failed = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            if out.name == "stderr":
                q.warning = (q.warning + out.text)[-2000:]
            failed += [line[2:] for line in out.text.splitlines() if line.startswith("✗ ")]
        elif out.output_type == "error":
            q.score = 0.0
            q.messages = [f"the test cell raised {out.ename}: {out.evalue}"[:500]]
            return q
    results = [o for o in cell.get("outputs", []) if o.output_type == "execute_result"]
    partial = _partial(results[-1], points) if results else None
    q.score = round(points if partial is None else partial, 4)
    q.messages = failed
    return q


def score_report(gid: str, points: float, report: dict | None, problem: str, uses_checks: bool) -> Question:
    """A test cell's :class:`Question` from the referee's signed report: fail closed (0, with the reason)
    without one or when the run was tainted; ``Checks`` cells score the share of their checks that
    passed; other test cells follow nbgrader's rule (an error scores 0, a number as the last value is
    partial credit, otherwise full marks). Text on stderr is a warning, never a zero."""
    q = Question(gid, points)
    if report is None:
        q.messages = [problem or NO_REPORT]
        return q
    q.warning = str(report.get("stderr") or "")[-2000:]
    if report.get("taint"):
        q.messages = [f"not scored: {t}" for t in report["taint"]][:5]
        return q
    if report.get("error"):
        q.messages = [f"the test cell raised {report['error']}"[:500]]
        return q
    if uses_checks:
        records = [r for r in report.get("records", []) if isinstance(r, list) and len(r) == 3]
        if not records or not report.get("checks"):
            q.messages = [NO_REPORT]
            return q
        passed = sum(r[1] is True for r in records)
        q.score = round(points * passed / len(records), 4)
        q.messages = [f"{r[0]}: {r[2]}" for r in records if r[1] is not True]
        return q
    value = report.get("value")
    q.score = round(points if not isinstance(value, (int, float)) else min(max(float(value), 0.0), points), 4)
    return q


def report_outputs(report: dict | None, question: Question, shown: list) -> list:
    """What a graded test cell shows: what it printed, its error if any, and its score. Without a report,
    what the kernel displayed comes first, marked as not scored."""
    outputs = [] if report is not None else [
        nbformat.v4.new_output("stream", name="stdout", text="[labkit: what the cell displayed, not scored]\n"),
        *[o for o in shown if o.get("output_type") != "execute_result"]]
    text = (report or {}).get("stdout") or ""
    if text:
        outputs.append(nbformat.v4.new_output("stream", name="stdout", text=text))
    if question.warning:
        outputs.append(nbformat.v4.new_output("stream", name="stderr", text=question.warning))
    if report is None or report.get("taint") or report.get("error"):
        outputs.append(nbformat.v4.new_output("stream", name="stdout", text="\n".join(question.messages) + "\n"))
    outputs.append(nbformat.v4.new_output("execute_result", data={"text/plain": f"{question.score:g}"},
                                          execution_count=None))
    return outputs
