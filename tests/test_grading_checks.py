"""``Checks`` and the guard around it: plain comparisons, undone patches, messages with the numbers that matter."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labkit.grading import guard
from labkit.grading.checks import Checks  # imported first: the guard snapshots the classes it protects


@pytest.fixture
def armed_guard():
    guard.arm()
    yield
    guard.disarm()


def test_guard_undoes_patches_of_numpy_builtins_and_checks(armed_guard):
    import builtins


    real = (np.allclose, builtins.round, Checks.close)
    np.allclose = lambda *a, **k: True
    builtins.round = lambda *a, **k: 0
    Checks.close = lambda *a, **k: True
    namespace = {"Checks": object}
    assert guard.restore(namespace) >= 3
    assert (np.allclose, builtins.round, Checks.close) == real and namespace["Checks"] is Checks


def test_checks_undo_a_patch_made_by_the_code_under_test(armed_guard):
    import labkit.grading.canonical as canonical_module

    real = (canonical_module.numbers, np.allclose)

    def cheat():
        canonical_module.numbers = lambda value: np.asarray(9.0)
        np.allclose = lambda *a, **k: True
        return 0

    checks = Checks(points=1)
    assert checks.close("cheat", cheat, 9) is False
    assert (canonical_module.numbers, np.allclose) == real


def test_checks_compare_plain_values_so_an_answer_cannot_claim_equality():

    class Liar(float):
        def __eq__(self, other):
            return True

        __hash__ = float.__hash__

        def __bool__(self):
            return True

    checks = Checks(points=3)
    assert checks.equal("a list", lambda: [Liar(1.0)], [2.0]) is False
    assert checks.check("a predicate", lambda: Liar(2.0)) is False  # truthy is not True
    assert checks.close("a number", lambda: Liar(1.0), 2.0) is False
    assert checks.passed == 0
    assert "expected plain values" in checks.results[0][2] and "True or False" in checks.results[1][2]


@pytest.mark.parametrize(("code", "flag"), [
    ("import ctypes", "ctypes"), ("x = sys._getframe(1)", "frames"), ("print(In[-1])", "input history"),
    ("%history -g", "get_ipython"), ("getattr(sys, '_get' + 'frame')", "getattr with a computed name"),
    ("open('/course/solutions/x.ipynb')", "path 'solutions'"), ("np.allclose = f", "replaces allclose"),
])
def test_scan_flags_reaching_for_the_grader(code, flag):
    assert flag in guard.scan(code)


def test_scan_leaves_ordinary_answers_alone():
    assert guard.scan("def mse(a, b):\n    a = np.asarray(a)\n    return float(np.mean((a - b) ** 2))") == []


def test_a_closeness_failure_shows_the_digits_that_differ_and_the_tolerance():
    checks = Checks(points=1)
    checks.close("scores", lambda: [0.951812, 0.965250], [0.951807, 0.965250], rtol=1e-6)
    message = checks.results[0][2]
    assert "0.951812" in message and "0.951807" in message and "at [0]" in message
    assert "allowed difference 9.5e-07" in message


@given(st.floats(0.1, 10), st.floats(1e-6, 1e-2))
def test_the_message_always_tells_the_two_numbers_apart(value, relative_gap):
    checks = Checks(points=1)
    checks.close("x", lambda: value * (1 + relative_gap), value, rtol=1e-9, atol=0)
    message = checks.results[0][2]
    expected_text, got_text = message.removeprefix("expected ").split(" (allowed")[0].split(", got ")
    assert expected_text != got_text


def test_long_values_are_cut_with_an_ellipsis():
    checks = Checks(points=1)
    checks.equal("a long list", lambda: list(range(100)), list(range(1, 101)))
    message = checks.results[0][2]
    assert "…" in message and "..." not in message


def test_below_lists_every_relative_error_of_a_gradient_check():
    checks = Checks(points=1)
    assert checks.below("gradients", lambda: {"W1": 3.2e-2, "b1": 4e-9, "W2": np.float64(1e-8)}, 1e-6) is False
    assert checks.results[0][2] == "W1 0.032, b1 4e-09, W2 1e-08 (each must be below 1e-06)"
    assert checks.below("all small", lambda: {"W1": 1e-8, "b1": np.array([1e-9, 2e-9])}, 1e-6) is True
    assert checks.below("nan is never small", lambda: float("nan"), 1e-6) is False
    assert checks.below("not numbers", lambda: {"W1": "small"}, 1e-6) is False


@pytest.mark.parametrize("answer", [{}, [], {"W1": []}, {"W1": -1.0}, {"W1": 1e-9, "b1": -5.0}])
def test_below_refuses_nothing_and_negative_errors(answer):
    """An empty answer or a negative "error" is no evidence of a small one."""
    checks = Checks(points=1)
    assert checks.below("gradients", lambda: answer, 1e-6) is False
