"""The feedback a learner reads: rows titled by the task, scores rounded as points are, cuts marked."""

from types import SimpleNamespace

import nbformat

from labkit.grading.feedback import _summary


def _plan():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## 4 · Two hidden layers\n\n### Your task 3 · build the network\n\nWrite it."),
        nbformat.v4.new_code_cell("def build(): ...", metadata={"nbgrader": {"grade_id": "two_hidden_solution",
                                                                              "solution": True, "grade": False}}),
        nbformat.v4.new_code_cell("checks.score()", metadata={"nbgrader": {"grade_id": "two_hidden_tests",
                                                                            "grade": True, "points": 3}}),
    ])
    return SimpleNamespace(lab="07_keras", release=nb)


def _result(score, messages):
    question = SimpleNamespace(grade_id="two_hidden_tests", score=score, points=3.0, messages=messages, warning="")
    return SimpleNamespace(student="ada", score=score, max_score=10.0, problem="", flags=[], warnings=[],
                           questions={"two_hidden_tests": question})


def test_rows_carry_the_tasks_title_and_scores_a_person_reads():
    text = _summary(_result(6.4207, ["other widths: expected 3, got 2"]), _plan())
    assert "**Score: 6.42 / 10**" in text
    assert "| Your task 3 · build the network | 6.42 / 3 |" in text
    assert "two_hidden_tests" not in text


def test_a_long_message_is_cut_with_an_ellipsis():
    text = _summary(_result(0.0, ["x" * 900]), _plan())
    row = next(line for line in text.splitlines() if line.startswith("| Your task 3"))
    assert "x" * 599 + "…" in row and "x" * 600 not in row
