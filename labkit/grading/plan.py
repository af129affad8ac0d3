"""Stage 1 of grading: what every submission of one lab shares (:class:`LabPlan`), and each learner's seed."""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from labkit.grading import cells, intake, oracles, sandbox, slicing
from labkit.grading.nbgrader import lab_notebook


@dataclass
class LabPlan:
    """Everything about one lab that every submission's grading shares."""

    lab: str
    source: nbformat.NotebookNode
    release: nbformat.NotebookNode
    notebook_name: str
    release_files: list[Path]
    points: dict[str, float]
    tests: set[str]
    hidden: list[str]
    digest: str
    spark: bool
    demos: frozenset[str] = frozenset()  # sources of the release's cells tagged ``demo``
    checks_cells: frozenset[str] = frozenset()  # test cells scored by ``Checks`` (fail closed without a report)
    prelude: str = ""  # the lab's own imports, run before each test cell (see :func:`test_prelude`)
    oracles: dict = field(default_factory=dict)  # answer → labkit objects its hidden checks compare with
    oracle_names: dict = field(default_factory=dict)  # the labkit names the lab imports (labkit.grading.oracles)

    @property
    def manual(self) -> set[str]:
        """Graded cells an instructor grades by hand (answered by the learner, not tested)."""
        return set(self.points) - self.tests

    @classmethod
    def load(cls, lab: str) -> LabPlan:
        source_path, release_path = lab_notebook(lab), lab_notebook(lab, released=True)
        source = nbformat.read(source_path, as_version=4)
        release = nbformat.read(release_path, as_version=4)
        points, tests = {}, set()
        for cell in source.cells:
            if cells.is_graded(cell):
                points[cells.grade_id(cell)] = cells.points(cell)
                if cells.is_test(cell):
                    tests.add(cells.grade_id(cell))
        files = sorted(p for p in release_path.parent.rglob("*") if p.is_file() and p != release_path
                       and not any(part.startswith(".") for part in p.relative_to(release_path.parent).parts))
        text = "".join(c.source for c in source.cells if c.cell_type == "code")
        digest = hashlib.sha256(source_path.read_bytes() + release_path.read_bytes()).hexdigest()
        demos = frozenset(c.source for c in release.cells if c.cell_type == "code" and slicing.is_demo(c))
        # a shared Spark server only for labs whose graded path uses Spark (a demo needing it for one learner
        # starts its own session in that learner's sandbox)
        graded_text = "".join(c.source for c in source.cells if c.cell_type == "code" and not slicing.is_demo(c))
        checks_cells = frozenset(cells.grade_id(c) for c in source.cells
                                 if cells.grade_id(c) in tests and "Checks(" in c.source)
        return cls(lab, source, release, release_path.name, files, points, tests,
                   intake.hidden_lines(source, release), digest,
                   "get_spark(" in graded_text and "run_on_spark" not in text, demos, checks_cells,
                   test_prelude(source), oracles.oracle_targets(source), oracles.module_names(source))

    def skipped_demos(self, nb: nbformat.NotebookNode) -> set[int]:
        """Indices (into ``nb.cells``) of the demo cells grading ``nb`` can skip: tagged ``demo`` in the
        release (a learner's cell counts when its source is a release demo's, unedited), and read by no cell
        that runs (see :mod:`labkit.grading.slicing`)."""
        code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        demos = {k for k, i in enumerate(code)
                 if nb.cells[i].source in self.demos and not cells.grade_id(nb.cells[i])}
        return {code[k] for k in slicing.skippable([nb.cells[i].source for i in code], demos)}

    def preload(self) -> list[str]:
        return sandbox.preload_modules([c.source for c in self.source.cells if c.cell_type == "code"])

    def warm(self) -> list[str]:
        """The cached dataset loaders this lab calls: the zygote runs them once for every kernel."""
        from labkit.datasets import CACHED_LOADERS

        text = "".join(c.source for c in self.source.cells if c.cell_type == "code")
        return [name for name in CACHED_LOADERS if f"{name}(" in text]


def seed_for(lab: str, student: str) -> int:
    """The hidden tests' seed of one learner's lab: fixed, so that a regrade gives the same grade.

    >>> seed_for("04_metrics", "ada") == seed_for("04_metrics", "ada") != seed_for("04_metrics", "bob")
    True
    """
    return int(hashlib.sha256(f"{lab}/{student}".encode()).hexdigest()[:8], 16)


def test_prelude(source: nbformat.NotebookNode) -> str:
    """The import statements of the lab's own code cells (not answers, tests or demos), run before every test
    cell: a test reads ``np`` or ``KMeans`` as the lab imported them, however the learner rebinds those names.
    A name an answer cell defines is left out (the test must see the learner's).

    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import numpy as np\\nx = 1")])
    >>> test_prelude(nb)
    'import numpy as np'
    """
    answers: set[str] = set()
    for cell in source.cells:
        if cell.cell_type == "code" and cells.is_solution(cell):
            tree = slicing.parse(cell.source)
            for node in tree.body if tree is not None else []:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    answers.add(node.name)
                answers |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    lines: list[str] = []
    for cell in source.cells:
        if cell.cell_type != "code" or cells.is_solution(cell) or cells.is_test(cell) or slicing.is_demo(cell):
            continue
        tree = slicing.parse(cell.source)
        for node in tree.body if tree is not None else []:
            if isinstance(node, (ast.Import, ast.ImportFrom)) and not getattr(node, "level", 0):
                kept = [a for a in node.names if (a.asname or a.name.split(".")[0]) not in answers and a.name != "*"]
                if kept:
                    node.names = kept
                    lines.append(ast.unparse(node))
    return "\n".join(dict.fromkeys(lines))
