"""labkit.hpo: search spaces, grid/random search, Hyperband's brackets and early-stopping policies."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from labkit.hpo import (
    BanditPolicy,
    Decision,
    MedianStoppingPolicy,
    TruncationSelectionPolicy,
    choice,
    first_stop,
    grid_configs,
    hyperband_brackets,
    loguniform,
    normal,
    qnormal,
    quniform,
    randint,
    random_configs,
    uniform,
)


def test_course_grid_example_has_exactly_six_configurations():
    configs = grid_configs({"HP1": choice([2, 5]), "HP2": choice([60, 85, 90])})
    assert len(configs) == 6
    assert {(c["HP1"], c["HP2"]) for c in configs} == {(a, b) for a in (2, 5) for b in (60, 85, 90)}


@given(st.lists(st.integers(1, 4), min_size=1, max_size=4))
def test_grid_size_is_the_product_of_the_value_counts(sizes):
    space = {f"hp{i}": choice(list(range(n))) for i, n in enumerate(sizes)}
    configs = grid_configs(space)
    assert len(configs) == math.prod(sizes)
    assert len({tuple(sorted(c.items())) for c in configs}) == len(configs)


def test_quniform_and_randint_enumerate_like_numpy():
    assert quniform(0.0, 1.0, 0.25).values() == list(np.arange(0, 1.0001, 0.25))
    assert randint(3, 7).values() == list(range(3, 7))


def test_random_configs_are_seeded_and_follow_their_distributions():
    space = {"lr": loguniform(1e-4, 1e-1), "u": uniform(2.0, 3.0), "n": randint(0, 5), "z": normal(1.0, 2.0),
             "q": qnormal(0.0, 10.0, 5.0), "a": choice(["relu", "tanh"])}
    a = random_configs(space, 3000, seed=42)
    assert a == random_configs(space, 3000, seed=42)
    log_lr = np.log10([c["lr"] for c in a])
    assert stats.kstest(log_lr, stats.uniform(loc=-4, scale=3).cdf).pvalue > 1e-3  # uniform over decades
    assert stats.kstest([c["u"] for c in a], stats.uniform(loc=2, scale=1).cdf).pvalue > 1e-3
    assert stats.kstest([c["z"] for c in a], stats.norm(loc=1, scale=2).cdf).pvalue > 1e-3
    assert set(c["n"] for c in a) == {0, 1, 2, 3, 4}
    assert all(c["q"] % 5 == 0 for c in a)
    assert {c["a"] for c in a} == {"relu", "tanh"}


@pytest.mark.parametrize("make, message", [
    (lambda: random_configs({}, 1), "empty"),
    (lambda: grid_configs({"units": [32, 64]}), "wrap a list of values in choice"),
    (lambda: uniform(0.1, 0.01), "low < high"),
    (lambda: loguniform(0.0, 1.0), "low > 0"),
    (lambda: choice([]), "at least one option"),
    (lambda: random_configs({"lr": uniform(0, 1)}, 0), "positive integer"),
])
def test_ill_formed_spaces_get_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_continuous_space_cannot_be_gridded():
    with pytest.raises(ValueError, match="cannot be enumerated"):
        grid_configs({"lr": uniform(0, 1)})


def test_hyperband_brackets_match_the_paper_for_r81_eta3():
    """Li et al. (2018), Table 1: R = 81, η = 3."""
    table = [[(b_n, b_r) for b_n, b_r in b.rungs] for b in hyperband_brackets(81, 3)]
    assert table == [
        [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
        [(34, 3), (11, 9), (3, 27), (1, 81)],
        [(15, 9), (5, 27), (1, 81)],
        [(8, 27), (2, 81)],
        [(5, 81)],
    ]


@given(st.integers(2, 5), st.integers(0, 5))
def test_every_bracket_ends_at_the_maximum_resource(eta, s_max):
    R = eta**s_max
    brackets = hyperband_brackets(R, eta)
    assert len(brackets) == s_max + 1
    for b in brackets:
        assert b.rungs[-1][1] == pytest.approx(R) and b.rungs[-1][0] >= 1
        assert all(n1 >= n2 for (n1, _), (n2, _) in zip(b.rungs, b.rungs[1:], strict=False))


def test_bandit_matches_azure_worked_example():
    """Azure ML docs: best 0.8 at an interval; slack_factor 0.1 cancels below 0.8/1.1, slack_amount 0.2 below 0.6."""
    factor = BanditPolicy(slack_factor=0.1)
    factor.on_result("best", 10, 0.8)
    assert factor.threshold(0.8) == pytest.approx(0.8 / 1.1)
    assert factor.on_result("x", 10, 0.73) is Decision.CONTINUE
    assert factor.on_result("y", 10, 0.72) is Decision.STOP
    amount = BanditPolicy(slack_amount=0.2)
    amount.on_result("best", 10, 0.8)
    assert amount.on_result("x", 10, 0.61) is Decision.CONTINUE and amount.on_result("y", 10, 0.59) is Decision.STOP


@given(st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=12), st.floats(0, 3))
def test_bandit_minimising_is_maximising_the_negation(values, slack):
    up = BanditPolicy(slack_amount=slack, mode="max")
    down = BanditPolicy(slack_amount=slack, mode="min")
    for i, v in enumerate(values):
        assert up.on_result(i, 1, v) == down.on_result(i, 1, -v)


def test_first_stop_on_the_course_texts_bandit_example():
    """The text: slack 0.2, evaluation interval 5; X below the best Y − 0.2 at an evaluation stops the tuning."""
    rows = [("a", s, 0.5 + 0.05 * s) for s in range(1, 5)] + [("b", s, 0.3) for s in range(1, 5)]
    rows += [("a", 5, 0.80), ("b", 5, 0.61), ("c", 5, 0.59)]
    assert first_stop(BanditPolicy(slack_amount=0.2, evaluation_interval=5), rows) == ("c", 5)  # not b at step 1–4
    assert first_stop(BanditPolicy(slack_amount=0.2, evaluation_interval=5), rows[:-1]) is None


@given(st.lists(st.tuples(st.integers(0, 4), st.integers(1, 12), st.floats(0, 1)), max_size=40),
       st.floats(0, 0.5), st.integers(1, 6))
def test_first_stop_against_a_direct_reading_of_the_rule(rows, slack, interval):
    """Oracle: at each arriving result on an evaluation step, compare it with the best value at that step."""
    seen, expected = {}, None
    for trial, step, value in rows:
        seen[(trial, step)] = value
        if step % interval == 0 and value < max(v for (t, s), v in seen.items() if s == step) - slack:
            expected = (trial, step)
            break
    assert first_stop(BanditPolicy(slack_amount=slack, evaluation_interval=interval), rows) == expected


def test_policies_wait_for_delay_and_interval():
    policy = BanditPolicy(slack_factor=0.0, evaluation_interval=2, delay_evaluation=4)
    policy.on_result("best", 2, 1.0)
    assert policy.on_result("bad", 2, 0.1) is Decision.CONTINUE   # before delay_evaluation
    policy.on_result("best", 5, 1.0)
    assert policy.on_result("bad", 5, 0.1) is Decision.CONTINUE   # not a multiple of the interval
    policy.on_result("best", 6, 1.0)
    assert policy.on_result("bad", 6, 0.1) is Decision.STOP


@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=15), st.floats(0, 1, allow_nan=False))
def test_median_stopping_against_numpy(others, mine):
    policy = MedianStoppingPolicy()
    for i, v in enumerate(others):
        policy.record(i, 1, v)
    assert (policy.on_result("me", 1, mine) is Decision.STOP) == (mine < np.median(others))


def test_median_uses_running_averages_and_the_runs_best():
    policy = MedianStoppingPolicy(mode="min")
    for t, losses in {"a": [1.0, 0.5], "b": [0.9, 0.7], "c": [3.0, 2.0]}.items():
        for step, loss in enumerate(losses, 1):
            policy.record(t, step, loss)
    # running averages at step 2: a 0.75, b 0.8; median 0.775. A run whose best loss is 0.76 continues.
    policy.record("d", 1, 0.76)
    assert policy.on_result("d", 2, 0.9) is Decision.CONTINUE
    assert policy.on_result("e", 2, 0.78) is Decision.CONTINUE
    policy2 = MedianStoppingPolicy(mode="min")
    for t, losses in {"a": [1.0, 0.5], "b": [0.9, 0.7]}.items():
        for step, loss in enumerate(losses, 1):
            policy2.record(t, step, loss)
    assert policy2.on_result("f", 2, 0.79) is Decision.STOP


@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=2, max_size=30, unique=True), st.integers(1, 99))
def test_truncation_stops_exactly_the_worst_share(values, percentage):
    policy = TruncationSelectionPolicy(truncation_percentage=percentage)
    for i, v in enumerate(values):
        policy.record(i, 1, v)
    stopped = {i for i in range(len(values)) if policy.decide(i, 1) is Decision.STOP}
    cut = math.floor(len(values) * percentage / 100)
    assert stopped == set(np.argsort(values)[:cut].tolist())


@pytest.mark.parametrize("kwargs, message", [
    ({"slack_factor": 0.1, "slack_amount": 0.1}, "exactly one"),
    ({"slack_factor": -1}, "non-negative"),
    ({"slack_factor": 0.1, "mode": "maximise"}, "mode must be"),
    ({"slack_factor": 0.1, "evaluation_interval": 0}, "evaluation_interval"),
])
def test_bandit_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BanditPolicy(**kwargs)


def test_non_finite_metrics_are_rejected():
    with pytest.raises(ValueError, match="non-finite"):
        MedianStoppingPolicy().on_result("t", 1, float("nan"))
