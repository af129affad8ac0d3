"""labkit.hpo schedulers, searchers, executors and the experiment log, against independent oracles:
numpy rankings recomputed from the log, the Hyperband paper's table, scikit-learn's KFold, scipy's integrals."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from labkit.hpo import (
    ASHA,
    PBT,
    AdaptiveASHA,
    EarlyStoppingScheduler,
    FIFOScheduler,
    GridSearcher,
    Hyperband,
    MedianStoppingPolicy,
    ProcessExecutor,
    RandomSearcher,
    SerialExecutor,
    SuccessiveHalving,
    TPESearcher,
    choice,
    hyperband_brackets,
    loguniform,
    quniform,
    randint,
    tune,
    uniform,
)
from labkit.hpo.cv import cross_val_scores, kfold_indices
from labkit.hpo.pbt import perturb
from labkit.hpo.tpe import ParzenEstimator

SPACE = {"x": uniform(0.0, 1.0)}


def curve(config, *, start, stop, checkpoint, seed):
    """A deterministic learning curve whose ranking is fixed by x: metric(step) = x · (1 − 2^−step)."""
    assert checkpoint == (start or None)  # the tuner hands back what this returned at `start`
    return [config["x"] * (1 - 2.0**-s) for s in range(start + 1, stop + 1)], stop


def accumulate(config, *, start, stop, checkpoint, seed):
    """State carried in the checkpoint: each step adds x, the metric is the running sum."""
    total = checkpoint or 0.0
    out = []
    for _ in range(start, stop):
        total += config["x"]
        out.append(total)
    return out, total


def reached(exp, step):
    rows = exp.log[(exp.log["event"] == "result") & (exp.log["step"] == step)]
    return set(rows["trial"])


def decisions(exp, kind):
    return exp.log[(exp.log["event"] == "decision") & (exp.log["decision"] == kind)]


@given(st.integers(0, 10_000), st.sampled_from([(9, 3), (27, 3), (8, 2), (16, 4)]), st.booleans())
@settings(max_examples=25, deadline=None)
def test_sha_promotes_exactly_the_top_of_each_rung(seed, shape, minimise):
    n, eta = shape
    mode = "min" if minimise else "max"
    exp = tune(curve, SuccessiveHalving(RandomSearcher(SPACE, seed=seed), n_trials=n, max_resource=n,
                                         reduction_factor=eta, mode=mode), progress=False)
    x = {t: s.config["x"] for t, s in exp.scheduler.trials.items()}
    survivors = sorted(x, key=lambda t: x[t], reverse=not minimise)
    k = 0
    while eta**k <= n and n // eta**k >= 1:
        assert reached(exp, eta**k) == set(survivors[: n // eta**k])
        k += 1
    # with checkpoints a promoted trial only trains the extra epochs: Σ n_k (r_k − r_{k−1})
    expected = sum((n // eta**k) * (eta**k - (eta ** (k - 1) if k else 0)) for k in range(k))
    assert exp.compute == expected
    assert exp.best_config["x"] == (min(x.values()) if minimise else max(x.values()))


def assert_valid_asha_promotions(exp, eta):
    """Replay the log: every promotion from rung k took a trial in the top ⌊n_k/η⌋ of the results rung k had
    *at that moment* (ASHA may later promote others as the rung grows: its known mispromotions)."""
    rung_results = {m: {} for m in exp.scheduler.milestones}
    sign = -1 if exp.mode == "max" else 1
    promotions = 0
    for row in exp.log.itertuples():
        if row.event == "result" and row.step in rung_results:
            rung_results[row.step][row.trial] = row.metric
        if row.event == "decision" and row.decision == "promote":
            rung = rung_results[row.step]
            assert row.trial in sorted(rung, key=lambda t: (sign * rung[t], t))[: len(rung) // eta]
            promotions += 1
    return promotions


@given(st.integers(0, 10_000), st.integers(5, 40), st.sampled_from([2, 3, 4]))
@settings(max_examples=25, deadline=None)
def test_asha_promotes_only_from_the_top_of_a_rung_at_that_moment(seed, n_trials, eta):
    exp = tune(curve, ASHA(RandomSearcher(SPACE, seed=seed), n_trials=n_trials, max_resource=eta**3,
                           reduction_factor=eta), progress=False)
    promotions = assert_valid_asha_promotions(exp, eta)
    assert len(exp.scheduler.trials) == n_trials
    # every result beyond rung 0 comes from a promotion, and every rung-0 trial started fresh
    assert promotions == sum(len(reached(exp, m)) for m in exp.scheduler.milestones[1:])
    assert len(reached(exp, exp.scheduler.milestones[0])) == n_trials


def test_hyperband_runs_the_papers_bracket_table_exactly():
    """R = 81, η = 3 (Li et al., 2018, Table 1): how many trials reach each rung of each bracket."""
    exp = tune(curve, Hyperband(RandomSearcher(SPACE, seed=1), max_resource=81), progress=False)
    table = []
    for bracket in exp.scheduler.brackets:
        members = {t for t, b in exp.scheduler.owner_of.items() if b is bracket}
        rungs = []
        for r in bracket.milestones:
            rows = exp.log[(exp.log["event"] == "result") & (exp.log["step"] == r) & exp.log["trial"].isin(members)]
            rungs.append(f"{rows['trial'].nunique()}@{r}")
        table.append(" ".join(rungs))
    assert table == ["81@1 27@3 9@9 3@27 1@81", "34@3 11@9 3@27 1@81", "15@9 5@27 1@81", "8@27 2@81", "5@81"]
    assert [str(b) for b in hyperband_brackets(81, 3)] == table
    assert exp.scheduler.n_trials == 81 + 34 + 15 + 8 + 5


@pytest.mark.parametrize(("mode", "brackets"), [("aggressive", 1), ("standard", 3), ("conservative", 5)])
def test_adaptive_asha_modes(mode, brackets):
    sched = AdaptiveASHA(RandomSearcher(SPACE, seed=0), n_trials=60, max_resource=81, adaptive_mode=mode)
    exp = tune(curve, sched, progress=False)
    assert len(sched.brackets) == brackets
    assert [b.milestones[0] for b in sched.brackets] == [3**s for s in range(brackets)]
    started = np.array([b.started for b in sched.brackets])
    assert started.sum() == 60
    share = np.array(sched.weights) / sum(sched.weights) * 60
    assert np.all(np.abs(started - share) < 2)  # Hyperband's proportions, to within a trial or two
    assert exp.best_config["x"] == max(s.config["x"] for s in sched.trials.values() if s.step == 81)


def test_median_stopping_through_the_scheduler_matches_the_course_example():
    """Five runs at [0.62, 0.68, 0.71, 0.75, 0.78]; a sixth below the median 0.71 is stopped, one above is not."""
    values = [0.62, 0.68, 0.71, 0.75, 0.78, 0.70, 0.72]

    def constant(config, *, start, stop, checkpoint, seed):
        return [config["v"]] * (stop - start), None

    grid = GridSearcher({"v": choice(values)})
    exp = tune(constant, EarlyStoppingScheduler(grid, MedianStoppingPolicy(), n_trials=7, max_resource=1),
               progress=False)
    notes = decisions(exp, "stop").set_index("trial")["note"]
    assert notes[5] == "cut by MedianStoppingPolicy" and notes[6] == "completed"


def test_early_stopping_saves_compute_and_keeps_the_best():
    def linear(config, *, start, stop, checkpoint, seed):
        return [config["x"] * s for s in range(start + 1, stop + 1)], None

    searcher = RandomSearcher(SPACE, seed=3)
    exp = tune(linear, EarlyStoppingScheduler(searcher, MedianStoppingPolicy(delay_evaluation=2), n_trials=12,
                                              max_resource=10), progress=False)
    full = tune(linear, FIFOScheduler(RandomSearcher(SPACE, seed=3), n_trials=12, max_resource=10), progress=False)
    assert exp.compute < full.compute
    assert exp.best_config == full.best_config


def test_pbt_exploit_copies_the_donors_weights_and_explores_its_config():
    exp = tune(accumulate, PBT(RandomSearcher(SPACE, seed=0), population_size=4, perturbation_interval=2,
                               max_resource=8, quantile_fraction=0.25, seed=0), progress=False)
    exploits = decisions(exp, "continue")
    exploits = exploits[exploits["note"].str.startswith("exploit")]
    assert len(exploits) >= 2
    results = exp.log[exp.log["event"] == "result"]
    for row in exploits.itertuples():
        donor = int(row.note.split()[2])
        at = int(row.note.split("(at ")[1].split(")")[0])
        donor_value = results[(results["trial"] == donor) & (results["step"] == at)]["metric"].iloc[0]
        after = results[(results["trial"] == row.trial) & (results["step"] == at + 1) & (results.index > row.Index)]
        # the next step starts from the donor's sum and adds the *new* x
        assert after["metric"].iloc[0] == pytest.approx(donor_value + row.config["x"])
    assert set(exp.trials["step"]) == {8}


@given(st.floats(1e-4, 1.0), st.integers(0, 2**31))
def test_pbt_perturbation_stays_in_bounds(value, seed):
    rng = np.random.default_rng(seed)
    assert 1e-4 <= perturb(value, loguniform(1e-4, 1.0), rng) <= 1.0
    assert perturb(value, quniform(0.0, 1.0, 0.25), rng) in {0.0, 0.25, 0.5, 0.75, 1.0}
    assert perturb(2, randint(0, 5), rng) in {1, 3}
    assert perturb(16, choice([16, 32, 64]), rng) in {16, 32}


@given(st.lists(st.floats(-3, 3), min_size=0, max_size=12), st.floats(-2.0, 0.0), st.floats(0.5, 3.0))
@settings(max_examples=30, deadline=None)
def test_parzen_density_integrates_to_one_and_samples_follow_it(points, low, high):
    est = ParzenEstimator.fit(np.array(points), prior_mu=(low + high) / 2, prior_sigma=high - low, low=low, high=high)
    total, _ = integrate.quad(lambda v: float(np.exp(est.logpdf(v)[0])), low, high, limit=200)
    assert total == pytest.approx(1.0, abs=1e-4)
    draws = est.sample(np.random.default_rng(0), 2000)
    assert draws.min() >= low and draws.max() <= high
    grid = np.linspace(low, high, 2001)
    cdf = np.concatenate([[0], np.cumsum(np.exp(est.logpdf((grid[1:] + grid[:-1]) / 2)) * np.diff(grid))])
    assert stats.kstest(draws, lambda v: np.interp(v, grid, cdf / cdf[-1])).pvalue > 1e-4


def test_tpe_beats_random_search_on_a_quadratic():
    space = {"x": uniform(-5, 5), "y": loguniform(1e-3, 10), "k": choice(["a", "b", "c"])}

    def loss(c):
        return (c["x"] - 1.3) ** 2 + np.log10(c["y"] / 0.2) ** 2 + (0 if c["k"] == "b" else 0.05)

    tpe_best, random_best = [], []
    for seed in range(6):
        tpe, rnd = TPESearcher(space, seed=seed), RandomSearcher(space, seed=seed)
        for searcher, out in ((tpe, tpe_best), (rnd, random_best)):
            losses = []
            for _ in range(60):
                c = searcher.ask()
                losses.append(loss(c))
                searcher.tell(c, 1, losses[-1])
            out.append(min(losses))
    assert np.median(tpe_best) < np.median(random_best) / 3


def test_tpe_split_keeps_the_gamma_quantile():
    tpe = TPESearcher(SPACE, gamma=0.25, n_startup=4)
    obs = [({"x": i / 10}, float(loss)) for i, loss in enumerate([5, 1, 4, 2, 3, 9, 8, 7])]
    good, bad = tpe.split(obs)
    assert [c["x"] for c in good] == [0.1, 0.3] and len(bad) == 6


def test_kfold_matches_scikit_learn():
    from sklearn.model_selection import KFold

    for n, k in [(10, 3), (7, 7), (101, 5)]:
        ours = [(tr.tolist(), te.tolist()) for tr, te in kfold_indices(n, k)]
        theirs = [(tr.tolist(), te.tolist()) for tr, te in KFold(k).split(np.zeros(n))]
        assert ours == theirs
    shuffled = list(kfold_indices(50, 5, shuffle=True, seed=1))
    assert sorted(np.concatenate([te for _, te in shuffled]).tolist()) == list(range(50))


def test_cross_val_scores_agree_with_scikit_learn():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import KFold, cross_val_score

    x, y = load_iris(return_X_y=True)
    ours = cross_val_scores(lambda: LogisticRegression(max_iter=500), x, y, n_splits=5, score=accuracy_score,
                            shuffle=False)
    theirs = cross_val_score(LogisticRegression(max_iter=500), x, y, cv=KFold(5))
    np.testing.assert_allclose(ours, theirs)


def test_a_failing_trial_is_reported_and_the_experiment_goes_on():
    def flaky(config, *, start, stop, checkpoint, seed):
        if config["x"] > 0.5:
            raise ZeroDivisionError("boom")
        return [config["x"]] * (stop - start), None

    exp = tune(flaky, FIFOScheduler(RandomSearcher(SPACE, seed=0), n_trials=8, max_resource=2), progress=False)
    bad = {t for t, s in exp.scheduler.trials.items() if s.config["x"] > 0.5}
    assert set(exp.errors) == bad and bad
    assert set(exp.trials.index[exp.trials["status"] == "error"]) == bad
    assert "ZeroDivisionError" in next(iter(exp.errors.values()))
    with pytest.raises(RuntimeError, match="every trial failed"):
        tune(flaky, FIFOScheduler(GridSearcher({"x": choice([0.9])}), n_trials=1, max_resource=1), progress=False)


def test_wrong_metric_counts_and_bad_arguments_have_clear_errors():
    def short(config, *, start, stop, checkpoint, seed):
        return [0.5], None

    with pytest.raises(RuntimeError, match="exactly one per step"):
        tune(short, FIFOScheduler(GridSearcher({"x": choice([1])}), n_trials=1, max_resource=3), progress=False)
    with pytest.raises(ValueError, match="Searcher"):
        ASHA({"x": uniform(0, 1)}, n_trials=3, max_resource=9)
    with pytest.raises(ValueError, match="reduction_factor"):
        SuccessiveHalving(RandomSearcher(SPACE), n_trials=3, max_resource=9, reduction_factor=1)
    with pytest.raises(ValueError, match="adaptive_mode"):
        AdaptiveASHA(RandomSearcher(SPACE), n_trials=3, max_resource=9, adaptive_mode="eager")


def test_log_is_tidy_and_round_trips_through_csv(tmp_path):
    exp = tune(curve, ASHA(RandomSearcher({"x": uniform(0, 1), "k": choice(["a", "b"])}, seed=2), n_trials=12,
                           max_resource=9), progress=False)
    path = exp.save(tmp_path / "log.csv")
    back = pd.read_csv(path)
    assert len(back) == len(exp.log)
    assert set(back["event"]) == {"result", "decision"}
    results = exp.results()
    assert {"x", "k", "metric", "step", "trial"} <= set(results.columns)
    assert results["compute"].tolist() == list(range(1, exp.compute + 1))
    assert exp.trials["status"].eq("stop").all()


def test_disk_checkpoints_give_the_same_experiment(tmp_path):
    memory = tune(accumulate, SuccessiveHalving(RandomSearcher(SPACE, seed=5), n_trials=9, max_resource=9),
                  progress=False)
    disk = tune(accumulate, SuccessiveHalving(RandomSearcher(SPACE, seed=5), n_trials=9, max_resource=9),
                checkpoint_dir=tmp_path / "ckpt", progress=False)
    pd.testing.assert_frame_equal(memory.results().drop(columns=["time", "worker"]),
                                  disk.results().drop(columns=["time", "worker"]))
    assert len(list((tmp_path / "ckpt").glob("trial-*.ckpt"))) == 9


@pytest.mark.slow
def test_process_pool_runs_in_parallel_and_sha_is_executor_independent():
    """SHA decides only on complete rungs, so the same seed gives the same experiment on any executor."""
    from labkit.hpo.tasks import MnistSGDTask

    task = MnistSGDTask(n_train=1000, n_val=500)

    def run(executor):
        exp = tune(task, SuccessiveHalving(RandomSearcher(task.space(), seed=4), n_trials=6, max_resource=4,
                                           reduction_factor=2), executor=executor, progress=False)
        return exp, exp.results().sort_values(["trial", "step"])[["trial", "step", "metric"]].reset_index(drop=True)

    serial, serial_rows = run(SerialExecutor())
    with ProcessExecutor(2) as pool:
        parallel, parallel_rows = run(pool)
    pd.testing.assert_frame_equal(serial_rows, parallel_rows)
    assert parallel.jobs["worker"].nunique() == 2
    jobs = parallel.jobs.sort_values("started").to_numpy()
    overlaps = [a for a, b in zip(jobs, jobs[1:], strict=False) if b[3] < a[4]]  # a job started before the last ended
    assert overlaps


@pytest.mark.slow
def test_asha_on_the_spark_executor():
    """Trials as Spark tasks: a one-worker ASHA equals the serial one; two workers keep ASHA's invariants."""
    from labkit.hpo import SparkExecutor
    from labkit.hpo.tasks import MnistSGDTask
    from labkit.spark import get_spark

    spark = get_spark("labkit-tests")
    task = MnistSGDTask(n_train=1000, n_val=500)

    def asha():
        return ASHA(RandomSearcher(task.space(), seed=7), n_trials=9, max_resource=9)

    serial = tune(task, asha(), progress=False)
    with SparkExecutor(spark, n_workers=1) as one:
        on_spark = tune(task, asha(), executor=one, progress=False)
    pd.testing.assert_frame_equal(serial.results()[["trial", "step", "metric"]],
                                  on_spark.results()[["trial", "step", "metric"]])
    with SparkExecutor(spark, n_workers=2) as two:
        parallel = tune(task, asha(), executor=two, progress=False)
    assert len(parallel.scheduler.trials) == 9
    assert assert_valid_asha_promotions(parallel, 3) >= 1
    assert parallel.jobs["worker"].nunique() >= 1
    assert math.isfinite(parallel.best_metric)


def test_sha_over_a_grid_smaller_than_n_trials_still_finishes():
    grid = GridSearcher({"x": choice([0.1, 0.5, 0.9, 0.3])})
    exp = tune(curve, SuccessiveHalving(grid, n_trials=9, max_resource=9), progress=False)
    assert len(exp.scheduler.trials) == 4
    assert exp.best_config == {"x": 0.9} and exp.trials["step"].max() == 9


@given(st.integers(0, 10_000), st.integers(2, 8), st.integers(1, 4), st.sampled_from([0.25, 0.5]))
@settings(max_examples=30, deadline=None)
def test_pbt_always_ends_within_population_times_max_resource(seed, population, interval, quantile):
    """Exploits only copy trials at least as far along, so no trial goes back in time and PBT terminates."""
    exp = tune(accumulate, PBT(RandomSearcher(SPACE, seed=seed), population_size=population,
                               perturbation_interval=interval, max_resource=12, quantile_fraction=quantile,
                               seed=seed), progress=False)
    assert exp.compute <= population * 12
    assert set(exp.trials["step"]) == {12} and len(exp.trials) == population
    for _, jobs in exp.jobs.groupby("trial"):
        assert (jobs["stop"] > jobs["start"]).all() and jobs["start"].is_monotonic_increasing
