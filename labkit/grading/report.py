"""``labkit report LAB``: what the instructor learns from a graded lab, and each learner's feedback.

* ``build/reports/<lab>/scores.png``: the distribution of total scores;
* ``build/reports/<lab>/items.csv`` and ``report.md``: per question, the mean score, the share of
  learners with full marks, and the discrimination index, the correlation between the question's score
  and the rest of the total (the "corrected item–total correlation" of classical test theory: near 0 or
  negative means the question does not separate strong from weak submissions); then the submissions
  flagged for review and those that could not be graded;
* ``grading/feedback/<learner>/<lab>/<notebook>.html``: per learner, the graded notebook with the score
  table on top and every hidden test removed (:mod:`labkit.grading.feedback`).

>>> import pandas as pd
>>> scores = pd.DataFrame({"q1": [0, 1, 2, 2], "q2": [0, 1, 1, 3]}, index=list("abcd"))
>>> items = item_analysis(scores, {"q1": 2, "q2": 3})
>>> items["full_marks"].tolist(), items["discrimination"].round(3).tolist()
([0.5, 0.25], [0.761, 0.761])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from labkit.grading.nbgrader import GradingError, api


def item_analysis(scores: pd.DataFrame, points: dict[str, float]) -> pd.DataFrame:
    """One row per question (column of ``scores``, one row per learner): ``points``, ``mean``,
    ``mean_share`` (mean / points), ``full_marks`` (share of learners with full points) and
    ``discrimination`` (Pearson correlation of the question with the total of the other questions; NaN
    when either has no variance)."""
    missing = [q for q in scores.columns if q not in points]
    if missing:
        raise ValueError(f"no points given for question(s) {missing}: pass points={{question: max points}}.")
    total = scores.sum(axis=1)
    rows = []
    for q in scores.columns:
        item, rest = scores[q].astype(float), (total - scores[q]).astype(float)
        if item.std() > 0 and rest.std() > 0:
            disc = float(np.corrcoef(item, rest)[0, 1])
        else:
            disc = float("nan")
        rows.append({"question": q, "points": float(points[q]), "mean": float(item.mean()),
                     "mean_share": float(item.mean() / points[q]) if points[q] else float("nan"),
                     "full_marks": float((item >= points[q] - 1e-9).mean()), "discrimination": disc})
    return pd.DataFrame(rows).set_index("question")


@dataclass
class LabReport:
    lab: str
    scores: pd.DataFrame
    items: pd.DataFrame
    folder: Path
    feedback: list[Path]
    flagged: dict[str, list[str]]
    problems: dict[str, str]


def gradebook_scores(lab: str, root: Path | None = None) -> tuple[pd.DataFrame, dict[str, float], str]:
    """``(scores, points, notebook)``: one row per learner, one column per graded cell of ``lab``."""
    from nbgrader.api import Gradebook

    nb_api = api(root)
    with Gradebook(nb_api.coursedir.db_url) as gb:
        try:
            assignment = gb.find_assignment(lab)
        except Exception:
            raise GradingError(f"{lab} is not in the gradebook: release and grade it first.") from None
        notebook = assignment.notebooks[0].name
        points = {c.name: float(c.max_score) for nb in assignment.notebooks for c in nb.grade_cells}
        rows = {}
        for sub in assignment.submissions:
            rows[sub.student.id] = {g.name: float(g.score) for nb in sub.notebooks for g in nb.grades}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(points)).sort_index()
    return frame.fillna(0.0), points, notebook


def plot_scores(totals: pd.Series, max_score: float, *, title: str):
    """Histogram of total scores with the mean marked."""
    import matplotlib

    matplotlib.use("agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    bins = np.linspace(0, max_score, min(int(max_score) + 1, 20) + 1) if max_score > 0 else 10
    ax.hist(totals, bins=bins, color="#4C72B0", edgecolor="white")
    if len(totals):
        ax.axvline(totals.mean(), color="#C44E52", linestyle="--", label=f"mean {totals.mean():.2f}")
        ax.legend()
    ax.set(title=title, xlabel=f"total score (out of {max_score:g})", ylabel="learners")
    fig.tight_layout()
    return fig


def build_report(lab: str, *, root: Path | None = None, feedback: bool = True) -> LabReport:
    """Write the instructor's report for ``lab`` and (with ``feedback``) every learner's feedback HTML."""
    from labkit.grading import feedback as fb
    from labkit.grading.gradebook import read_journal
    from labkit.grading.plan import LabPlan
    from labkit.grading.results import Question, Result
    from labkit.paths import build_dir

    scores, points, notebook = gradebook_scores(lab, root)
    if scores.empty:
        raise GradingError(f"no graded submissions of {lab} in the gradebook: run `labkit grade {lab} FOLDER` first.")
    items = item_analysis(scores, points)
    folder = build_dir() / "reports" / lab
    folder.mkdir(parents=True, exist_ok=True)
    totals = scores.sum(axis=1)
    fig = plot_scores(totals, sum(points.values()), title=f"{lab}: {len(totals)} learners")
    fig.savefig(folder / "scores.png", dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    items.to_csv(folder / "items.csv")
    journal = read_journal(lab, root)
    flagged = {s: r.flags for s, r in journal.items() if r.flags}
    problems = {s: r.problem for s, r in journal.items() if r.problem}
    written: list[Path] = []
    if feedback:
        import nbformat

        plan = LabPlan.load(lab)
        nb_api = api(root)
        for student in scores.index:
            result = journal.get(student)
            if result is None:
                result = Result(student, lab, {q: Question(q, points[q], float(scores.loc[student, q]))
                                               for q in points})
            autograded = Path(nb_api.coursedir.format_path(nb_api.coursedir.autograded_directory, student, lab))
            path = autograded / f"{notebook}.ipynb"
            executed = nbformat.read(path, as_version=4) if path.is_file() else None
            out = Path(nb_api.coursedir.format_path(nb_api.coursedir.feedback_directory, student, lab))
            out.mkdir(parents=True, exist_ok=True)
            target = out / f"{notebook}.html"
            target.write_text(fb.render(result, executed, plan))
            written.append(target)
    lines = [f"# Grading report · {lab}", "", f"{len(totals)} learners · mean {totals.mean():.2f} / "
             f"{sum(points.values()):g} · median {totals.median():g}", "", "![scores](scores.png)", "",
             "| question | points | mean | mean share | full marks | discrimination |",
             "|---|---:|---:|---:|---:|---:|"]
    for q, row in items.iterrows():
        lines.append(f"| `{q}` | {row.points:g} | {row['mean']:.2f} | {row.mean_share:.0%} | {row.full_marks:.0%} | "
                     f"{row.discrimination:.2f} |")
    if flagged:
        lines += ["", "## Flagged for review", "", "Their code reaches for the grader's internals; the grade stands "
                  "until you decide otherwise.", ""] + [f"* {s}: {', '.join(f)}" for s, f in sorted(flagged.items())]
    if problems:
        lines += ["", "## Could not be graded in full", ""] + [f"* {s}: {p}" for s, p in sorted(problems.items())]
    (folder / "report.md").write_text("\n".join(lines) + "\n")
    return LabReport(lab, scores, items, folder, written, flagged, problems)
