"""Mistake-aware hints: each catalogued mistake is caught by a self-check and named by its hint, never a surprise.

The slow test runs each lab that has a catalogue (``grading/mistakes/<lab>.json``) with every mistake in place of
its solution, and holds the lab to the goals: every mistake caught by a visible check, at least 80 % named by a
hint, none that passes every self-check yet loses points at grading; and the released ``hints.json`` is what
that run produces.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from labkit.grading.hints import fingerprint, load
from labkit.grading.mistakes import catalogue, hints_table, measure, summary
from labkit.grading.nbgrader import lab_notebook, list_labs

CATALOGUED = [lab for lab in list_labs() if catalogue(lab)]


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=8), st.floats(-1e-9, 1e-9))
def test_a_fingerprint_ignores_round_off(values, wobble):
    """Round-off below the 6th significant digit leaves the fingerprint alone, unless it carries a value across a
    rounding boundary (1.234565 and 1.2345650012 round apart: no rounding avoids that), which is excluded here;
    a NumPy array, a tuple and a list of the same numbers share a fingerprint."""
    wobbled = [v * (1 + wobble) for v in values]
    assume(all(f"{a:.6g}" == f"{b:.6g}" for a, b in zip(values, wobbled, strict=True)))
    assert fingerprint(values) == fingerprint(wobbled) == fingerprint(np.array(wobbled)) == fingerprint(tuple(values))


def test_a_value_across_a_rounding_boundary_changes_its_fingerprint():
    """Why the property above needs its exclusion: the boundary case is real, and documented."""
    assert fingerprint([1.234565]) != fingerprint([1.234565 * (1 + 1e-9)])


def test_a_failed_check_names_a_known_mistake_and_never_the_answer(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hints.json").write_text(json.dumps({"mae": {fingerprint(2.5): "you squared the errors."}}))
    import labkit.grading.checks as checks_module

    fresh = checks_module.make_checks()  # a Checks class that reads this folder's hints.json
    checks = fresh(points=1)
    checks.close("mae", lambda: 2.5, 1.5)
    checks.close("mae", lambda: 2.0, 1.5)  # another wrong answer: no hint
    assert checks.results[0][2].endswith("— hint: you squared the errors.")
    assert "hint" not in checks.results[1][2]


@pytest.mark.parametrize("content", ["{not json", json.dumps([1, 2]), "x" * 2_000_000, "[" * 200_000 + "]" * 200_000])
def test_a_broken_hints_file_only_means_no_hints(tmp_path, content):
    (tmp_path / "hints.json").write_text(content)
    assert load(tmp_path) == {}


def test_a_hints_file_that_is_a_pipe_or_a_link_is_not_read(tmp_path):
    """A learner's folder could hold a FIFO (reading it would wait forever) or a link to /dev/zero."""
    os.mkfifo(tmp_path / "hints.json")
    assert load(tmp_path) == {}
    other = tmp_path / "other"
    other.mkdir()
    (other / "hints.json").symlink_to("/dev/zero")
    assert load(other) == {}


def test_a_bare_false_or_an_error_gets_no_hint(tmp_path, monkeypatch):
    """Every learner who fails a predicate check returns False: no fingerprint can name their mistake."""
    import labkit.grading.checks as checks_module

    monkeypatch.chdir(tmp_path)
    checks = checks_module.make_checks()(points=1)
    checks.check("a predicate", lambda: False)
    checks.close("raises", lambda: 1 / 0, 1.0)
    assert checks.fingerprints == {}


def test_every_catalogued_task_has_at_least_five_mistakes():
    assert "04_metrics" in CATALOGUED and "06_nn_from_scratch" in CATALOGUED
    for lab in CATALOGUED:
        for task, mistakes in catalogue(lab).items():
            assert len(mistakes) >= 5, f"{lab} {task}: {len(mistakes)} mistakes catalogued"


def test_the_hints_table_drops_a_fingerprint_two_mistakes_share():
    from labkit.grading.mistakes import Outcome

    a = Outcome("t", "a", "hint a", [["check", False, "f1"], ["other", False, "f2"]])
    b = Outcome("t", "b", "hint b", [["check", False, "f1"]])
    assert hints_table([a, b]) == {"other": {"f2": "hint a"}}


@pytest.mark.slow
@pytest.mark.parametrize("lab", CATALOGUED)
def test_each_mistake_is_caught_named_and_never_a_surprise(lab, tmp_path):
    outcomes = measure(lab, tmp_path)
    figures = summary(outcomes)
    missed = [(o.task, o.name) for o in outcomes if not o.caught]
    assert figures["caught"] == 1, f"{lab}: not caught by any self-check: {missed}"
    assert figures["surprises"] == 0, [(o.task, o.name, o.score) for o in outcomes if o.surprise]
    assert figures["named"] >= 0.8, [(o.task, o.name) for o in outcomes if not o.named]
    assert all(not o.error for o in outcomes), [(o.name, o.error) for o in outcomes if o.error]
    shipped = json.loads((lab_notebook(lab).parent / "hints.json").read_text())
    assert shipped == hints_table(outcomes), f"{lab}: hints.json is stale: run `labkit hints {lab}`"
    released = Path(lab_notebook(lab, released=True)).parent / "hints.json"
    assert released.read_text() == (lab_notebook(lab).parent / "hints.json").read_text(), "run `labkit release`"
    assert os.path.getsize(released) < 100_000
