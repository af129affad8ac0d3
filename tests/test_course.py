"""The course as nbgrader and papermill see it: clean notebooks, fresh releases, a real grading round trip."""

import ast
import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from labkit.grading import demo
from labkit.grading.engine import grade_directory
from labkit.grading.nbgrader import list_labs, release

ROOT = Path(__file__).resolve().parent.parent
LABS = list_labs()
NOTEBOOKS = sorted(p for d in ("solutions", "labs", "grading/demo") for p in (ROOT / d).rglob("*.ipynb"))


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_notebooks_are_clean_and_use_the_kit_kernel(path: Path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "labkit"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name} carries outputs"


@pytest.mark.parametrize("lab", LABS)
def test_every_lab_has_a_papermill_parameters_cell_with_fast(lab: str):
    notebook = ROOT / "solutions" / lab / f"{lab}.ipynb"
    cells = [c for c in _cells(notebook) if "parameters" in c["metadata"].get("tags", [])]
    assert len(cells) == 1
    assert re.search(r"^FAST = False", "".join(cells[0]["source"]), re.MULTILINE)


@pytest.mark.parametrize("lab", LABS)
def test_every_lab_has_the_same_shape(lab: str):
    """What a learner can count on in every lab: time, objectives and how the self-check works at the top;
    numbered sections; numbered tasks, each an answer cell and then its self-check; a recap and
    "going further" at the end."""
    nb = nbformat.read(ROOT / "solutions" / lab / f"{lab}.ipynb", as_version=4)
    top = nb.cells[0].source
    assert top.startswith(f"# Lab {lab[:2]} · ")
    for needle in ("**Estimated time:**", "**Learning objectives.**", "**How this lab works.**", "**self-check**",
                   "**Validate**"):
        assert needle in top, f"{lab}: the first cell lacks {needle}"
    headings = [line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines()
                if line.startswith("## ")]
    numbered = [int(m.group(1)) for h in headings if (m := re.match(r"## (\d+) · \S", h))]
    assert numbered == list(range(1, len(numbered) + 1)) and len(numbered) >= 3, headings
    assert headings[-2:] == ["## Recap", "## Going further"], headings[-2:]
    tasks = []
    for i, cell in enumerate(nb.cells):
        for m in re.finditer(r"^### Your task (\d+) · \S", cell.source, re.MULTILINE):
            kinds = [c.metadata["nbgrader"] for c in nb.cells[i + 1:]
                     if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade_id")][:2]
            assert kinds[0].get("solution") and kinds[1].get("grade") and not kinds[1].get("solution"), \
                f"{lab}: task {m.group(1)} is not an answer cell followed by its self-check"
            tasks.append(int(m.group(1)))
    assert tasks == list(range(1, len(tasks) + 1)) and tasks, tasks


@pytest.mark.parametrize("lab", LABS)
def test_demo_tags_are_honest_and_survive_release(lab: str):
    """A cell a lab tags demo must be one grading can skip when the learner's answers are the solution's:
    no graded cell, and no cell that runs, reads what it defines. (The round trip below then proves the
    solution still earns full marks with the demos skipped.) The release keeps the tags."""
    from labkit.grading.plan import LabPlan
    from labkit.grading.slicing import is_demo

    source = nbformat.read(ROOT / "solutions" / lab / f"{lab}.ipynb", as_version=4)
    tagged = {i for i, c in enumerate(source.cells) if c.cell_type == "code" and is_demo(c)}
    plan = LabPlan.load(lab)
    needed = sorted(tagged - plan.skipped_demos(source))
    assert not needed, f"cells {needed} are tagged demo but later cells read what they define: untag them"
    released = nbformat.read(ROOT / "labs" / lab / f"{lab}.ipynb", as_version=4)
    assert len(plan.demos) == len(tagged)
    assert sum(is_demo(c) for c in released.cells) == len(tagged)


@pytest.mark.parametrize("lab", LABS)
def test_hidden_tests_never_reach_released_notebooks(lab: str):
    hidden, public = [], ""
    pattern = r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS"
    for cell in _cells(ROOT / "solutions" / lab / f"{lab}.ipynb"):
        source = "".join(cell["source"])
        for block in re.findall(pattern, source, re.DOTALL):
            hidden += [line.strip() for line in block.splitlines() if len(line.strip()) > 12]
        public += re.sub(pattern, "", source, flags=re.DOTALL)
    assert hidden, "each lab should have hidden tests"
    hidden = [line for line in hidden if line not in public]  # a line the lab also shows openly is no secret
    released = [p for p in (ROOT / "labs" / lab).rglob("*") if p.is_file()]
    released += [ROOT / "grading" / "demo" / lab / f"{k}.ipynb" for k in ("blank",)]
    for path in released:
        text = "\n".join("".join(c["source"]) for c in _cells(path)) if path.suffix == ".ipynb" else path.read_text()
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{path.name} shows hidden test lines: {leaked[:3]}"


@pytest.mark.slow
def test_released_labs_and_demos_are_fresh(course_copy: Path):
    """Regenerating labs/ and grading/demo/ from solutions/ changes nothing: run `labkit release` if this fails."""
    release()
    for lab in LABS:
        demo.write(lab)
    for rel in [f"labs/{lab}/{lab}.ipynb" for lab in LABS] + \
               [f"grading/demo/{lab}/{k}.ipynb" for lab in LABS for k in demo.KINDS]:
        fresh = (course_copy / rel).read_text()
        committed = (ROOT / rel).read_text()
        assert fresh == committed, f"{rel} is stale: run `make release` and commit the result"


@pytest.mark.slow
@pytest.mark.parametrize("lab", LABS)
def test_grading_round_trip(lab: str, course_copy: Path):
    """release → submit → autograde: the solution gets full marks, the blank lab 0 without a crash.

    The perfect submission is graded with every notebook global a learner could rebind set to junk before each
    test cell (and put back after it, so the lab's own cells still run): checks see only the answers."""
    release([lab])
    perfect = course_copy / "grading" / "demo" / lab / "perfect.ipynb"
    nbformat.write(with_every_global_rebound(nbformat.read(perfect, as_version=4)), perfect)
    grades = {g.student: g for g in grade_directory(lab, course_copy / "grading" / "demo" / lab)}
    assert set(grades) == {"perfect", "partial", "blank"}
    assert all(g.ok for g in grades.values()), [g.message for g in grades.values()]
    assert grades["perfect"].score == grades["perfect"].max_score > 0
    assert 0 < grades["partial"].score < grades["partial"].max_score
    assert grades["blank"].score == 0
    # the gradebook exports one row per learner with one column per graded question, summing to the total
    rows = {r["student"]: r for r in csv.DictReader(_export(course_copy))}
    assert set(rows) == set(grades)
    questions = [k for k in rows["perfect"] if k not in ("lab", "student", "score", "max_score")]
    assert questions
    for student, grade in grades.items():
        assert sum(float(rows[student][q]) for q in questions) == pytest.approx(grade.score)


def with_every_global_rebound(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` with a learner's scratch cell before each test cell that rebinds every global to junk, except the
    answers (names the solution cells define) and what the answers themselves read from the notebook, and a cell
    after the test that puts the globals back. A check that reads notebook data then fails or crashes."""
    from labkit.grading import cells
    from labkit.grading.slicing import parse

    kept = {"In", "Out", "get_ipython", "exit", "quit"}
    for cell in nb.cells:
        if cell.cell_type == "code" and cells.is_solution(cell):
            tree = parse(cell.source)
            kept |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}  # defined or read by the answer
            kept |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    rebind = nbformat.v4.new_code_cell(
        f"_kept = {sorted(kept)!r}\n"
        "_saved = {k: v for k, v in globals().items() if not k.startswith('_') and k not in _kept}\n"
        "globals().update(dict.fromkeys(_saved, object()))")
    put_back = nbformat.v4.new_code_cell("globals().update(_saved)")
    out = []
    for cell in nb.cells:
        test = cell.cell_type == "code" and cells.is_test(cell)
        out += [*([dict(rebind, id=f"rebind-{len(out)}")] if test else []), cell,
                *([dict(put_back, id=f"restore-{len(out)}")] if test else [])]
    nb.cells = [nbformat.from_dict(c) for c in out]
    return nb


def test_rebinding_reaches_every_global_but_the_answers():
    """Guards the round trip above: the scratch cell really rebinds a notebook global, and spares the answer."""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("y_true = [1, 2]"),
        nbformat.v4.new_code_cell("def f(y):\n    return y",
                                  metadata={"nbgrader": {"grade_id": "a", "solution": True}}),
        nbformat.v4.new_code_cell("seen = (type(y_true).__name__, f(3))",
                                  metadata={"nbgrader": {"grade_id": "t", "grade": True}}),
        nbformat.v4.new_code_cell("after = y_true")])
    namespace: dict = {}
    for cell in with_every_global_rebound(nb).cells:
        exec(cell.source, namespace)  # noqa: S102 - the test's own cells
    assert namespace["seen"] == ("object", 3) and namespace["after"] == [1, 2]


def _export(root: Path) -> list[str]:
    from labkit.grading.nbgrader import export

    path = root / "grades.csv"
    export(path)
    return path.read_text().splitlines()


@pytest.mark.slow
def test_labkit_run_fast_executes_a_lab_headlessly(course_copy: Path):
    out = subprocess.run([sys.executable, "-m", "labkit.cli", "run", "04", "--fast"], capture_output=True, text=True,
                         cwd=course_copy, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    executed = course_copy / "build" / "executed" / "fast" / "04_metrics.ipynb"
    nb = nbformat.read(executed, as_version=4)
    assert nb.metadata.papermill.parameters == {"FAST": True}
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 5, "every figure of the lab should render"
    assert not (ROOT / "solutions" / "04_metrics" / "04_metrics.ipynb").read_text().count('"output_type"')


def test_unknown_lab_gets_a_clear_error_and_exit_code_2():
    out = subprocess.run([sys.executable, "-m", "labkit.cli", "run", "99_nothing"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "no lab called '99_nothing'" in out.stderr and "04_metrics" in out.stderr
