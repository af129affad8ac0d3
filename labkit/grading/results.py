"""What grading a submission produces: a :class:`Question` per graded cell, a :class:`Result` per learner,
a :class:`Run` per ``labkit grade``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass
class Question:
    """One graded cell's result."""

    grade_id: str
    points: float
    score: float = 0.0
    messages: list[str] = field(default_factory=list)
    warning: str = ""
    needs_manual: bool = False  # a manually graded cell the learner answered (nbgrader's rule)


@dataclass
class Result:
    """One learner's graded submission of one lab."""

    student: str
    lab: str
    questions: dict[str, Question]
    warnings: list[str] = field(default_factory=list)
    problem: str = ""
    flags: list[str] = field(default_factory=list)
    seconds: float = 0.0
    skipped: bool = False
    digest: str = ""
    incomplete: bool = False  # the grader failed, not the submission: a rerun grades it again
    spark_generation: int = 0  # which start of the run's shared Spark server it ran against (0: none)
    received: str = ""  # when the class exchange received it (ISO, UTC; from `labkit collect`), else ""
    late_fraction: float = 0.0  # the share of its points the late policy takes (from `labkit collect`)

    @property
    def score(self) -> float:
        return round(sum(q.score for q in self.questions.values()), 4)

    @property
    def late_penalty(self) -> float:
        """Points the late policy takes from :attr:`score` (nbgrader's ``late_submission_penalty``)."""
        return round(max(self.score, 0.0) * self.late_fraction, 6)

    def to_json(self) -> str:
        """The journal's form of this result (see :meth:`from_json`)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Result:
        """A result read back from the journal.

        >>> r = Result("ada", "04_metrics", {"q": Question("q", 2.0, 1.5, ["a: wrong"])})
        >>> Result.from_json(r.to_json()) == r
        True
        """
        data = json.loads(text)
        data["questions"] = {k: Question(**v) for k, v in data["questions"].items()}
        return cls(**data)

    @property
    def max_score(self) -> float:
        return round(sum(q.points for q in self.questions.values()), 4)


@dataclass
class Run:
    """What ``labkit grade`` did: the results, and how long it took."""

    lab: str
    results: list[Result]
    seconds: float
    workers: int
    isolation: str
    spark_restarts: int = 0  # times a learner's code broke the shared Spark server and it was restarted

    @property
    def graded(self) -> list[Result]:
        return [r for r in self.results if not r.skipped]

    def summary(self) -> str:
        n, done = len(self.results), len(self.graded)
        scores = [r.score for r in self.results]
        full = self.results[0].max_score if self.results else 0
        text = (f"{self.lab}: {n} submission(s), {done} graded, {n - done} already in the gradebook; "
                f"{self.seconds:.1f} s with {self.workers} worker(s)")
        if scores:
            text += f"; mean {sum(scores) / n:.2f} / {full:g}"
        problems = sum(bool(r.problem) for r in self.results)
        flagged = sum(bool(r.flags) for r in self.results)
        if problems:
            text += f"; {problems} with a problem"
        if flagged:
            text += f"; {flagged} flagged for review"
        if self.spark_restarts:
            text += (f"; the shared Spark server broke {self.spark_restarts} time(s) and was restarted "
                     "(whoever ran against it was regraded alone)")
        incomplete = sum(r.incomplete for r in self.results)
        if incomplete:
            text += f"; {incomplete} stopped by a grader error: run labkit grade again to retry them"
        return text + "\n" + self.isolation
