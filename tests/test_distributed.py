"""labkit.distributed against independent oracles: NumPy sums, the textbook traffic formulas, brute force, a
discrete-event GPipe schedule, single-process SGD and Horovod's own warm-up callback."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.distributed import (
    Network,
    allreduce,
    bubble_fraction,
    communication_time,
    parameter_server_allreduce,
    partition_layers,
    ring_allreduce,
    scaled_learning_rate,
    scaling_efficiency,
    shard_indices,
    train_parameter_server,
    train_pipeline,
    tree_allreduce,
    warmup_learning_rate,
)

DTYPES = [np.float64, np.float32, np.int64]


def _arrays(n, m, dtype, seed):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "i":
        return [rng.integers(-1000, 1000, size=m).astype(dtype) for _ in range(n)]
    return [rng.normal(size=m).astype(dtype) for _ in range(n)]


def _assert_sum(values, arrays, dtype):
    expected = np.sum(np.stack(arrays).astype(np.float64), axis=0)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for v in values:
        assert v.dtype == np.dtype(dtype)
        np.testing.assert_allclose(v, expected, rtol=rtol, atol=rtol * len(arrays))


# -- collectives -------------------------------------------------------------------------------------------------
def _reduce(fn, n, m, dtype, seed, *, nodes):
    """Run ``fn`` on random arrays over a fresh Network of ``nodes`` nodes, check the sum, return the network."""
    arrays = _arrays(n, m, dtype, seed)
    net = Network(nodes)
    _assert_sum(fn(arrays, net), arrays, dtype)
    return net


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 16), m=st.integers(0, 300), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_ring_allreduce_sums_and_its_traffic_matches_the_bandwidth_optimal_formula(n, m, dtype, seed):
    net = _reduce(ring_allreduce, n, m, dtype, seed, nodes=n)
    item = np.dtype(dtype).itemsize
    nbytes = m * item
    # every chunk travels N − 1 hops in each phase
    assert net.total_bytes == 2 * (n - 1) * nbytes
    assert net.n_steps == 2 * (n - 1)
    np.testing.assert_array_equal(net.bytes_received, np.roll(net.bytes_sent, 1))  # from the left neighbour
    # chunk sizes differ by at most one element, so workers' traffic differs by at most two elements
    assert net.bytes_sent.max() - net.bytes_sent.min() <= 2 * item
    sizes = [m // n + (i < m % n) for i in range(n)]
    for w in range(n):  # worker w sends every chunk but (w + 1) mod N in reduce-scatter, but (w + 2) mod N after
        expected = 0 if n == 1 else item * (2 * m - sizes[(w + 1) % n] - sizes[(w + 2) % n])
        assert net.bytes_sent[w] == expected
    if m % n == 0:  # the textbook 2 (N − 1) / N × M, exactly
        assert all(int(b) * n == 2 * (n - 1) * nbytes for b in net.bytes_sent)


@pytest.mark.parametrize("n", range(1, 17))
def test_ring_traffic_per_worker_is_exactly_2_n_minus_1_over_n_times_m(n):
    m_bytes = 4 * 720_720  # divisible by 1…16
    result = allreduce([np.ones(720_720, dtype=np.float32)] * n, algorithm="ring")
    assert result.worker_bytes().tolist() == [2 * (n - 1) * m_bytes // n] * n
    assert result.network.bytes_received.tolist() == [2 * (n - 1) * m_bytes // n] * n


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 16), m=st.integers(1, 200), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_parameter_server_is_a_hot_spot_of_n_times_m(n, m, dtype, seed):
    net = _reduce(parameter_server_allreduce, n, m, dtype, seed, nodes=n + 1)
    nbytes = m * np.dtype(dtype).itemsize
    assert net.bytes_sent[:n].tolist() == [nbytes] * n and net.bytes_received[:n].tolist() == [nbytes] * n
    assert net.bytes_received[n] == net.bytes_sent[n] == n * nbytes
    assert net.hot_spot() == n * nbytes and net.n_steps == 2


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 16), m=st.integers(1, 200), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_tree_allreduce_takes_2_log2_n_steps_and_each_worker_sends_m_up_the_tree(n, m, dtype, seed):
    net = _reduce(tree_allreduce, n, m, dtype, seed, nodes=n)
    nbytes = m * np.dtype(dtype).itemsize
    assert net.n_steps == 2 * math.ceil(math.log2(n)) if n > 1 else net.n_steps == 0
    assert net.total_bytes == 2 * (n - 1) * nbytes
    up = [msg for msg in net.messages if msg.phase == "reduce"]
    assert sorted(msg.src for msg in up) == list(range(1, n)) and all(msg.nbytes == nbytes for msg in up)


@pytest.mark.parametrize("algorithm", ["ring", "parameter_server", "tree"])
def test_average_and_shape_are_kept(algorithm):
    arrays = [np.full((3, 5), float(w)) for w in range(6)]
    out = allreduce(arrays, algorithm=algorithm, average=True).values
    assert len(out) == 6 and all(v.shape == (3, 5) and np.allclose(v, 2.5) for v in out)


def test_the_alpha_beta_model_reproduces_the_classic_costs():
    n, m = 8, 8_000_000
    ring = allreduce([np.zeros(m // 4, np.float32)] * n, algorithm="ring").network
    ps = allreduce([np.zeros(m // 4, np.float32)] * n, algorithm="parameter_server").network
    alpha, bandwidth = 1e-5, 1e9
    assert communication_time(ring, latency=alpha, bandwidth=bandwidth) == pytest.approx(
        2 * (n - 1) * (alpha + m / n / bandwidth))
    assert communication_time(ps, latency=alpha, bandwidth=bandwidth) == pytest.approx(2 * (alpha + n * m / bandwidth))


def test_network_and_collectives_reject_bad_input_with_the_fix():
    net = Network(3)
    with pytest.raises(ValueError, match="sends to itself"):
        net.send(1, 1, np.ones(2))
    with pytest.raises(ValueError, match=r"dst \(a node index\) must be an integer in 0…2"):
        net.send(0, 3, np.ones(2))
    with pytest.raises(ValueError, match="same shape"):
        ring_allreduce([np.ones(2), np.ones(3)])
    with pytest.raises(ValueError, match="Network of 3 nodes"):
        ring_allreduce([np.ones(2)] * 3, Network(4))
    with pytest.raises(ValueError, match="one array per worker"):
        ring_allreduce(np.ones((3, 2)))
    with pytest.raises(ValueError, match="unknown algorithm"):
        allreduce([np.ones(2)], algorithm="butterfly")
    with pytest.raises(ValueError, match="n_nodes must be an integer ≥ 1"):
        Network(0)


def test_ring_states_show_each_worker_owning_one_complete_chunk_after_reduce_scatter():
    from labkit.distributed.plots import ring_states

    for n in (2, 3, 5):
        states = ring_states(n)
        assert len(states) == 2 * (n - 1) + 1
        after_rs = states[n - 1].contributions
        for w in range(n):  # worker w holds the full sum of chunk (w + 1) mod N (Patarasuk & Yuan)
            assert after_rs[w, (w + 1) % n] == n
            assert sorted(after_rs[w])[:-1] != [n] * (n - 1)
        assert (states[-1].contributions == n).all()


# -- scaling arithmetic --------------------------------------------------------------------------------------------
@given(n=st.integers(0, 500), size=st.integers(1, 17))
def test_shards_are_numpy_array_split_blocks(n, size):
    shards = [shard_indices(n, rank=r, size=size) for r in range(size)]
    for mine, oracle in zip(shards, np.array_split(np.arange(n), size), strict=True):
        np.testing.assert_array_equal(mine, oracle)
    assert sorted(np.concatenate(shards).tolist()) == list(range(n))


def test_shard_errors_name_the_fix():
    with pytest.raises(ValueError, match="ranks count from 0"):
        shard_indices(10, rank=2, size=2)
    with pytest.raises(ValueError, match="size must be an integer"):
        shard_indices(10, rank=0, size=0)


@pytest.mark.slow
@pytest.mark.parametrize("size,warmup", [(2, 1), (4, 3), (8, 5)])
def test_warmup_follows_horovods_own_callback(monkeypatch, size, warmup):
    import horovod._keras.callbacks as impl
    import horovod.tensorflow.keras as hvd

    hvd.init()
    monkeypatch.setattr(impl.hvd, "size", lambda: size)
    steps = 10
    base = 0.0125
    callback = hvd.callbacks.LearningRateWarmupCallback(initial_lr=base * size, warmup_epochs=warmup,
                                                        momentum_correction=False, steps_per_epoch=steps)
    for epoch in np.arange(0, warmup, 1 / steps):
        # Horovod evaluates its ramp at epoch + 1/steps_per_epoch, the end of the batch
        expected = base * size * callback.multiplier(epoch)
        ours = warmup_learning_rate(epoch + 1 / steps, base_learning_rate=base, size=size, warmup_epochs=warmup)
        assert ours == pytest.approx(expected, rel=1e-12)
    assert warmup_learning_rate(warmup + 1, base_learning_rate=base, size=size, warmup_epochs=warmup) == base * size


def test_learning_rate_rule_and_efficiency_definitions():
    assert scaled_learning_rate(0.1, size=8) == pytest.approx(0.8)
    assert warmup_learning_rate(0, base_learning_rate=0.1, size=8, warmup_epochs=5) == pytest.approx(0.1)
    assert warmup_learning_rate(2.5, base_learning_rate=0.1, size=8, warmup_epochs=5) == pytest.approx(0.45)
    assert scaling_efficiency(time_1=10.0, time_n=2.5, n_workers=4) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="positive seconds"):
        scaling_efficiency(time_1=0.0, time_n=1.0, n_workers=2)


# -- pipeline ------------------------------------------------------------------------------------------------------
def _gpipe_makespan(p, m):
    """Discrete-event schedule with unit-time tasks: F(s, j) after F(s−1, j) and F(s, j−1); all B after all F on
    the last stage; B(s, j) after B(s+1, j) and the stage's previous B (micro-batches in reverse)."""
    f, b = {}, {}
    for s in range(p):
        for j in range(m):
            f[s, j] = max(f.get((s - 1, j), 0), f.get((s, j - 1), 0)) + 1
    for s in reversed(range(p)):
        previous = f[s, m - 1] if s == p - 1 else 0
        for j in reversed(range(m)):
            b[s, j] = max(b.get((s + 1, j), 0), previous, f[s, m - 1]) + 1
            previous = b[s, j]
    return max(b.values()), 2 * m * p  # makespan, busy task-slots


@given(p=st.integers(1, 8), m=st.integers(1, 16))
def test_bubble_formula_matches_a_discrete_event_gpipe_schedule(p, m):
    makespan, busy = _gpipe_makespan(p, m)
    assert 1 - busy / (p * makespan) == pytest.approx(bubble_fraction(n_stages=p, n_microbatches=m))


@given(costs=st.lists(st.integers(0, 20), min_size=1, max_size=7), data=st.data())
def test_partition_is_as_good_as_brute_force(costs, data):
    p = data.draw(st.integers(1, len(costs)))
    bounds = partition_layers(costs, n_stages=p)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(costs) and all(a < b for a, b in bounds)
    assert all(bounds[i][1] == bounds[i + 1][0] for i in range(p - 1))
    best = min(max(sum(costs[a:b]) for a, b in zip((0, *cuts), (*cuts, len(costs)), strict=True))
               for cuts in itertools.combinations(range(1, len(costs)), p - 1))
    assert max(sum(costs[a:b]) for a, b in bounds) == best


def _mlp(widths=(24, 24, 24), seed=0):
    from labkit.nn import Dense, Sequential

    return Sequential([Dense(w, activation="relu") for w in widths] + [Dense(10, activation="softmax")],
                      input_shape=(12,), seed=seed, dtype=np.float64)


@pytest.mark.slow
@pytest.mark.parametrize("n_stages,n_micro", [(1, 1), (2, 1), (2, 3), (3, 4)])
def test_pipeline_training_is_the_same_sgd_as_one_process(n_stages, n_micro):
    from labkit.nn import SGD

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(300, 12)), rng.integers(0, 10, size=300)
    run = train_pipeline(_mlp(), x, y, n_stages=n_stages, n_microbatches=n_micro, batch_size=100, steps=3,
                         learning_rate=0.5, seed=7)
    reference = _mlp()
    reference.compile(SGD(0.5), "categorical_crossentropy")
    batches = np.random.default_rng(7)
    losses = []
    for _ in range(3):
        b = batches.choice(300, size=100, replace=False)
        losses.append(reference.train_step(x[b], y[b]))
    for ours, theirs in zip(run.weights, reference.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(run.losses, losses, rtol=1e-10)
    # the schedule: on each stage all forwards, then all backwards in reverse; F(s, j) after F(s−1, j) ends
    ev = run.events
    for step in range(3):
        e = ev[ev[:, 1] == step]
        for s in range(n_stages):
            mine = e[e[:, 0] == s]
            assert mine[:, 2].tolist() == [0] * n_micro + [1] * n_micro
            assert mine[:, 3].tolist() == list(range(n_micro)) + list(reversed(range(n_micro)))
            if s:
                before = e[e[:, 0] == s - 1]
                for j in range(n_micro):
                    f_prev = before[(before[:, 2] == 0) & (before[:, 3] == j)][0]
                    f_here = mine[(mine[:, 2] == 0) & (mine[:, 3] == j)][0]
                    b_prev = before[(before[:, 2] == 1) & (before[:, 3] == j)][0]
                    b_here = mine[(mine[:, 2] == 1) & (mine[:, 3] == j)][0]
                    assert f_here[4] >= f_prev[5] and b_prev[4] >= b_here[5]
    assert 0 <= run.measured_bubble < 1 and len(run.stages) == n_stages
    row = run.summary()
    assert row["(p−1)/(m+p−1)"] == round((n_stages - 1) / (n_micro + n_stages - 1), 3)
    assert row["final loss"] == round(float(losses[-1]), 3)


def test_pipeline_rejects_what_it_cannot_split():
    from labkit.nn import Dense, Dropout, Sequential

    x, y = np.zeros((20, 12)), np.zeros(20, dtype=int)
    with pytest.raises(ValueError, match="Dropout"):
        train_pipeline(Sequential([Dense(4), Dropout(0.5), Dense(10, activation="softmax")], input_shape=(12,)),
                       x, y, batch_size=10)
    with pytest.raises(ValueError, match="softmax"):
        train_pipeline(Sequential([Dense(4), Dense(10)], input_shape=(12,)), x, y, batch_size=10)
    with pytest.raises(ValueError, match=r"n_stages \(at most one stage per layer\) must be an integer in 1…4"):
        train_pipeline(_mlp(), x, y, n_stages=5, batch_size=10)


# -- parameter server ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    from labkit.datasets import load_mnist

    x, y, x_test, y_test = load_mnist()
    return (x[:3000].reshape(3000, -1) / 255.0, y[:3000], x_test[:1000].reshape(1000, -1) / 255.0, y_test[:1000])


@pytest.mark.slow
def test_sync_and_async_both_converge_and_only_async_is_stale(digits):
    x, y, xv, yv = digits
    runs = {mode: train_parameter_server(x, y, validation_data=(xv, yv), mode=mode, n_workers=2, epochs=2,
                                         hidden_units=(64,), progress=False) for mode in ("sync", "async")}
    for run in runs.values():
        assert run.val_accuracy[-1] > 0.85 and run.val_accuracy[-1] > run.val_accuracy[0] + 0.5
    sync, asyn = runs["sync"], runs["async"]
    total = int(np.ceil(2 * 3000 / 32))
    assert (sync.staleness == 0).all() and sync.gradients_per_worker.tolist() == [total // 2] * 2
    assert sync.n_updates == total // 2 and asyn.n_updates == total == asyn.gradients_per_worker.sum()
    assert asyn.staleness.max() >= 1 and len(asyn.staleness) == total
    assert np.all(np.diff(asyn.update_time) >= 0) and asyn.update_samples[-1] == total * 32


@pytest.mark.slow
def test_a_straggler_slows_sync_rounds_and_makes_async_gradients_stale(digits):
    x, y, xv, yv = digits
    common = {"validation_data": (xv, yv), "n_workers": 2, "epochs": 1, "hidden_units": (64,), "progress": False,
              "straggler": 1, "straggler_slowdown": 6.0}
    sync = train_parameter_server(x, y, mode="sync", **common)
    asyn = train_parameter_server(x, y, mode="async", **common)
    assert sync.gradients_per_worker[0] == sync.gradients_per_worker[1]  # everyone waits for worker 1
    slow, fast = asyn.gradients_per_worker[1], asyn.gradients_per_worker[0]
    assert slow < fast / 2  # the fast worker keeps going
    stale = [asyn.staleness[asyn.update_worker == w].mean() for w in (0, 1)]
    assert stale[1] > 2 * stale[0]
    assert asyn.wall_time < sync.wall_time


@pytest.mark.slow
def test_one_asynchronous_worker_is_never_stale(digits):
    x, y, xv, yv = digits
    run = train_parameter_server(x[:640], y[:640], validation_data=(xv, yv), mode="async", n_workers=1,
                                 epochs=1, progress=False)
    assert (run.staleness == 0).all() and run.n_updates == 20


def test_parameter_server_arguments_are_checked(digits):
    x, y, xv, yv = digits
    with pytest.raises(ValueError, match="mode must be one of"):
        train_parameter_server(x, y, validation_data=(xv, yv), mode="eventual")
    with pytest.raises(ValueError, match=r"straggler \(a worker index, or None\) must be an integer in 0…1"):
        train_parameter_server(x, y, validation_data=(xv, yv), straggler=2)
    with pytest.raises(ValueError, match="cannot give 2 workers a batch"):
        train_parameter_server(x[:40], y[:40], validation_data=(xv, yv), batch_size=32)


# -- figures -------------------------------------------------------------------------------------------------------
def test_figures_draw(digits):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from labkit.distributed import plots

    fig = plots.plot_ring_steps(3)
    assert len([ax for ax in fig.axes if ax.patches]) == 5
    fig = plots.plot_traffic([2, 4, 8], message_bytes=4000)
    ring_line = fig.axes[0].lines[0]
    np.testing.assert_allclose(ring_line.get_ydata(), [2 * (n - 1) / n * 4000 / 1e6 for n in (2, 4, 8)])
    ps_line = fig.axes[0].lines[1]
    np.testing.assert_allclose(ps_line.get_ydata(), [n * 4000 / 1e6 for n in (2, 4, 8)])
    plt.close("all")
