"""labkit.nn's recurrent layers against TensorFlow 2.15 in float64 on random inputs: forward values, every
gradient through tf.GradientTape (backpropagation through time), parameter counts, the gate trace, gradient
clipping and the orthogonal initialiser; plus the finite-difference checker on a whole recurrent network."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from labkit.nn import (
    GRU,
    LSTM,
    Dense,
    Sequential,
    SimpleRNN,
    clip_by_global_norm,
    gradient_check,
    input_gradient_norms,
)
from labkit.nn.initializers import orthogonal
from labkit.nn.recurrent import gradient_study

KINDS = {"rnn": (SimpleRNN, tf.keras.layers.SimpleRNN), "lstm": (LSTM, tf.keras.layers.LSTM),
         "gru": (GRU, tf.keras.layers.GRU)}
SLOW = settings(max_examples=12, deadline=None)


def _twins(kind: str, units: int, steps: int, features: int, *, return_sequences: bool, rng, scale: float = 0.5):
    """The same recurrent layer in labkit.nn and Keras (float64) with the same random weights, biases included."""
    ours_cls, keras_cls = KINDS[kind]
    ours = ours_cls(units, return_sequences=return_sequences)
    ours.build((steps, features), rng)
    for p in ours.params.values():
        p[...] = rng.normal(0, scale, p.shape)
    theirs = keras_cls(units, return_sequences=return_sequences, dtype="float64")
    theirs.build((None, steps, features))
    theirs.set_weights(ours.get_weights())
    return ours, theirs


@SLOW
@given(kind=st.sampled_from(sorted(KINDS)), seed=st.integers(0, 2**31), n=st.integers(1, 5), steps=st.integers(1, 9),
       features=st.integers(1, 6), units=st.integers(1, 7), return_sequences=st.booleans())
def test_recurrent_forward_and_every_gradient_match_keras(kind, seed, n, steps, features, units, return_sequences):
    rng = np.random.default_rng(seed)
    ours, theirs = _twins(kind, units, steps, features, return_sequences=return_sequences, rng=rng)
    x = rng.normal(size=(n, steps, features))
    out = ours.forward(x)
    upstream = rng.normal(size=out.shape)
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        keras_out = theirs(xv)
        value = tf.reduce_sum(keras_out * upstream)
    dx, dk, drk, db = tape.gradient(value, [xv, *theirs.trainable_variables])
    np.testing.assert_allclose(out, keras_out.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.backward(upstream), dx.numpy(), rtol=1e-8, atol=1e-10)
    for name, expected in zip(["kernel", "recurrent_kernel", "bias"], [dk, drk, db], strict=True):
        np.testing.assert_allclose(ours.grads[name], expected.numpy(), rtol=1e-8, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_bptt_passes_the_finite_difference_check_in_a_whole_network(kind):
    model = Sequential([KINDS[kind][0](6, return_sequences=True), KINDS[kind][0](4), Dense(3, activation="softmax")],
                       input_shape=(7, 3), seed=1, dtype=np.float64)
    model.compile(loss="categorical_crossentropy")
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(5, 7, 3)), rng.integers(0, 3, 5)
    assert max(gradient_check(model, x, y, max_entries=60)) < 1e-6


def test_gradient_check_catches_a_bptt_that_forgets_the_recurrent_path():
    model = Sequential([SimpleRNN(5), Dense(2, activation="softmax")], input_shape=(6, 2), seed=0, dtype=np.float64)
    model.compile(loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    for p in model.layers[0].params.values():
        p[...] = rng.normal(0, 0.8, p.shape)
    x, y = rng.normal(size=(4, 6, 2)), np.array([0, 1, 1, 0])
    assert max(gradient_check(model, x, y)) < 1e-7
    rnn = model.layers[0]
    rnn._step_back = lambda dstate, cache, grads: (dstate[0] * (1 - cache[1] ** 2), (0 * dstate[0],))  # truncated
    assert max(gradient_check(model, x, y)) > 1e-2


def test_a_recurrent_network_has_kerass_loss_and_gradients():
    ours = Sequential([LSTM(5, return_sequences=True), GRU(4), Dense(3, activation="softmax")], input_shape=(6, 2),
                      seed=3, dtype=np.float64)
    L = tf.keras.layers
    theirs = tf.keras.Sequential([L.Input((6, 2), dtype="float64"), L.LSTM(5, return_sequences=True, dtype="float64"),
                                  L.GRU(4, dtype="float64"), L.Dense(3, activation="softmax", dtype="float64")])
    theirs.set_weights(ours.get_weights())
    ours.compile(loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(8, 6, 2)), rng.integers(0, 3, 8)
    loss, grads = ours.loss_and_gradients(x, y)
    with tf.GradientTape() as tape:
        tf_loss = tf.keras.losses.SparseCategoricalCrossentropy()(y, theirs(x))
    assert loss == pytest.approx(float(tf_loss), rel=1e-10)
    for g, t in zip(grads, tape.gradient(tf_loss, theirs.trainable_variables), strict=True):
        np.testing.assert_allclose(g, t.numpy(), rtol=1e-7, atol=1e-11)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("steps, features, units", [(28, 28, 32), (48, 8, 16), (5, 1, 1)])
def test_parameter_counts_match_keras(kind, steps, features, units):
    ours = KINDS[kind][0](units)
    ours.build((steps, features), np.random.default_rng(0))
    theirs = tf.keras.Sequential([tf.keras.layers.Input((steps, features)), KINDS[kind][1](units)])
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    by_formula = gates * (features * units + units * units + units) + (gates * units if kind == "gru" else 0)
    assert ours.count_params() == theirs.count_params() == by_formula


def test_keras_initial_weights_have_the_same_shapes_and_forget_bias():
    ours = LSTM(4)
    ours.build((3, 2), np.random.default_rng(0))
    theirs = tf.keras.layers.LSTM(4)
    theirs.build((None, 3, 2))
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    np.testing.assert_array_equal(ours.params["bias"], theirs.get_weights()[2])   # zeros, forget block 1


def test_lstm_trace_gives_the_cell_state_keras_returns():
    rng = np.random.default_rng(5)
    ours, _ = _twins("lstm", 3, 10, 2, return_sequences=True, rng=rng)
    theirs = tf.keras.layers.LSTM(3, return_sequences=True, return_state=True, dtype="float64")
    theirs.build((None, 10, 2))
    theirs.set_weights(ours.get_weights())
    x = rng.normal(size=(4, 10, 2))
    hs = ours.forward(x)
    trace = ours.trace()
    seq, h_last, c_last = (t.numpy() for t in theirs(x))
    np.testing.assert_allclose(trace["h"], seq, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(trace["h"], hs, rtol=1e-12)
    np.testing.assert_allclose(trace["c"][:, -1], c_last, rtol=1e-10, atol=1e-12)
    for gate in ("input", "forget", "output"):
        assert 0 < trace[gate].min() and trace[gate].max() < 1
    with pytest.raises(RuntimeError, match="forward"):
        LSTM(2).trace()


@settings(max_examples=6, deadline=None)
@given(kind=st.sampled_from(sorted(KINDS)), seed=st.integers(0, 2**31))
def test_input_gradient_norms_are_the_tapes_gradients(kind, seed):
    rng = np.random.default_rng(seed)
    ours, theirs = _twins(kind, 4, 12, 2, return_sequences=False, rng=rng)
    x = rng.normal(size=(3, 12, 2))
    v = np.random.default_rng(7).normal(size=4)
    v /= np.linalg.norm(v)
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(theirs(xv) * v)
    expected = np.linalg.norm(tape.gradient(value, xv).numpy(), axis=2).mean(axis=0)[::-1]
    np.testing.assert_allclose(input_gradient_norms(ours, x, seed=7), expected, rtol=1e-8, atol=1e-14)
    assert ours.return_sequences is False


def test_the_labs_gradient_study_vanishes_explodes_and_survives_as_it_says():
    """Lab 09's figure (100 steps, 32 units): a tanh RNN's gradient to an input 60 steps back vanishes with its
    Keras-initialised recurrent kernel (gain 1) and explodes at gain 3; an LSTM with forget-gate bias 0 loses it
    too, and one with bias 3 (forget gate ≈ 0.95) keeps it at the size it has one step back."""
    study = gradient_study()
    rnn, lstm = study["SimpleRNN"], study["LSTM"]
    assert rnn[1.0][60] / rnn[1.0][0] < 1e-3 and rnn[0.5][60] / rnn[0.5][0] < 1e-15
    assert rnn[3.0][60] / rnn[3.0][0] > 1e6
    assert lstm[0.0][60] / lstm[0.0][0] < 1e-10 and lstm[1.0][60] / lstm[1.0][0] < 1e-3
    assert lstm[3.0][60] / lstm[3.0][0] > 0.1 and lstm[5.0][60] / lstm[5.0][0] > 0.1


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), k=st.integers(1, 4), max_norm=st.floats(0.01, 20))
def test_clip_by_global_norm_matches_tensorflow(seed, k, max_norm):
    rng = np.random.default_rng(seed)
    grads = [rng.normal(0, rng.uniform(0.1, 5), size=tuple(rng.integers(1, 5, size=rng.integers(1, 3))))
             for _ in range(k)]
    clipped, norm = clip_by_global_norm(grads, max_norm)
    tf_clipped, tf_norm = tf.clip_by_global_norm([tf.constant(g) for g in grads], max_norm)
    assert norm == pytest.approx(float(tf_norm), rel=1e-12)
    for ours, theirs in zip(clipped, tf_clipped, strict=True):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="max_norm"):
        clip_by_global_norm(grads, 0)


def test_orthogonal_initialiser_is_orthogonal_and_draws_like_keras():
    rng = np.random.default_rng(0)
    wide = orthogonal((16, 64), rng)
    np.testing.assert_allclose(wide @ wide.T, np.eye(16), atol=1e-12)
    tall = orthogonal((64, 16), rng)
    np.testing.assert_allclose(tall.T @ tall, np.eye(16), atol=1e-12)
    keras = tf.keras.initializers.Orthogonal(seed=1)((64, 256), dtype="float64").numpy().ravel()
    assert stats.ks_2samp(orthogonal((64, 256), rng).ravel(), keras).pvalue > 1e-3


def test_recurrent_layers_explain_wrong_inputs():
    with pytest.raises(ValueError, match="steps, features"):
        LSTM(3).build((28,), np.random.default_rng(0))
    layer = GRU(3)
    layer.build((5, 2), np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"\(n, steps, 2\)"):
        layer.forward(np.zeros((4, 5, 3)))
    with pytest.raises(ValueError, match="units"):
        SimpleRNN(0)
    assert layer.forward(np.zeros((4, 9, 2))).shape == (4, 3)   # any number of steps
