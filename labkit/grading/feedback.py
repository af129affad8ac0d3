"""Per-learner feedback: the graded notebook as HTML, with a score table on top and no hidden tests.

What a learner sees of a test cell is its visible part, a one-line note where the hidden tests were,
and the check results: one line per check (✓ or ✗ with the reason), as the grader saw them. Hidden
tests cannot leak through outputs either: any output that contains a line of hidden-test code (a
submission can print the cell it runs in) is replaced by a note, and a test cell's traceback is cut to
its last line.

>>> strip_ansi("\\x1b[0;31mNameError\\x1b[0m")
'NameError'
"""

from __future__ import annotations

import html
import json
import re

import nbformat

from labkit.grading import cells
from labkit.grading.intake import strip_hidden

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _strings(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _strings(value)


def _leaks(output, hidden: list[str]) -> bool:
    texts = [strip_ansi(s) for s in _strings(output)]
    return any(line in t or html.escape(line) in t for t in texts for line in hidden)


def format_points(value: float) -> str:
    """A score as a person reads it: at most two decimals (6.4207 → 6.42, 3.0 → 3)."""
    return f"{round(value, 2):g}"


def _summary(result, plan) -> str:
    lines = [f"# Feedback · {plan.lab} · {result.student}", "",
             f"**Score: {format_points(result.score)} / {format_points(result.max_score)}**", ""]
    if getattr(result, "late_fraction", 0.0) > 0:  # (a result from before classes had none)
        received = result.received[:16].replace("T", " ")
        lines += [f"> **Handed in late** (received {received} UTC): the late policy takes "
                  f"{result.late_fraction:.0%} of the points, {format_points(result.late_penalty)}. **Grade: "
                  f"{format_points(result.score - result.late_penalty)} / {format_points(result.max_score)}**", ""]
    if result.problem:
        lines += [f"> **Grading stopped early:** {result.problem}", ""]
    lines += ["| task | score | what the checks said |", "|---|---:|---|"]
    withheld = bool(result.flags)
    titles = cells.task_titles(plan.release)
    for q in result.questions.values():
        said = "; ".join(q.messages) if q.messages else ("all checks passed" if q.score == q.points else "")
        if withheld:
            said = "details withheld (see below)"
        if q.warning:
            said += " (a warning was printed to stderr: shown below, not penalised)"
        said = said.replace("|", "\\|").replace("\n", " ")
        said = said if len(said) <= 600 else said[:599] + "…"
        title = titles.get(q.grade_id, q.grade_id).replace("|", "\\|")
        lines.append(f"| {title} | {format_points(q.score)} / {format_points(q.points)} | {said} |")
    if result.warnings:
        lines += ["", "**Notes from intake:**", ""] + [f"* {w}" for w in result.warnings]
    if withheld:
        lines += ["", f"**Outputs and check details are withheld:** your code uses {', '.join(result.flags)}, "
                      "which can reach the grader's internals. Your instructor will review the submission."]
    return "\n".join(lines)


def learner_notebook(result, executed: nbformat.NotebookNode | None, plan) -> nbformat.NotebookNode:
    """The notebook a learner may see: summary first, hidden tests removed, leaking outputs redacted."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": plan.release.metadata.get("kernelspec", {})})
    nb.cells.append(nbformat.v4.new_markdown_cell(_summary(result, plan)))
    for cell in (executed.cells if executed is not None else []):
        copy = nbformat.from_dict(json.loads(json.dumps(cell)))
        gid = cells.grade_id(copy)
        copy.source = strip_hidden(copy.source)
        if any(line in copy.source for line in plan.hidden):  # hidden code outside the markers
            copy.source = "# (test code hidden)"
        if copy.cell_type == "code" and result.flags:
            copy.outputs = []
        elif copy.cell_type == "code":
            outputs = []
            for out in copy.outputs:
                if out.output_type == "error" and gid in plan.tests:
                    out = nbformat.v4.new_output("stream", name="stderr",
                                                 text=f"{out.ename}: {strip_ansi(out.evalue)}\n")
                if _leaks(out, plan.hidden):
                    out = nbformat.v4.new_output("stream", name="stdout",
                                                 text="[labkit: output removed: it showed hidden test code]\n")
                outputs.append(out)
            copy.outputs = outputs
        nb.cells.append(copy)
    return nb


def render(result, executed: nbformat.NotebookNode | None, plan) -> str:
    """Feedback HTML for one learner."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(learner_notebook(result, executed, plan))
    return body
