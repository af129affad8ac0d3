"""labkit.nn against TensorFlow 2.15: activations, losses, layers, convolution, pooling, optimisers and whole
networks, in float64 on random inputs (forward values, gradients from tf.GradientTape, optimiser steps and
Keras's own training loop)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from labkit.nn import (
    SGD,
    Adagrad,
    Adam,
    AvgPool2D,
    Conv2D,
    Dense,
    Flatten,
    MaxPool2D,
    Perceptron,
    RMSprop,
    Sequential,
    activations,
    conv2d,
    conv2d_naive,
    gradient_check,
    logic_gate,
    losses,
    sigmoid_neuron,
)
from labkit.nn.conv import col2im, conv_output_size, im2col
from labkit.nn.initializers import glorot_uniform, he_normal

SLOW = settings(max_examples=15, deadline=None)


def tape_grad(fn, *arrays):
    """Value of ``fn`` and its gradient with respect to each array, by tf.GradientTape in float64."""
    variables = [tf.Variable(np.asarray(a, dtype=np.float64)) for a in arrays]
    with tf.GradientTape() as tape:
        value = fn(*variables)
    return value.numpy(), [g.numpy() for g in tape.gradient(value, variables)]


# -- activations -------------------------------------------------------------------------------------------

TF_ACTIVATIONS = {
    "sigmoid": tf.keras.activations.sigmoid, "tanh": tf.keras.activations.tanh, "relu": tf.keras.activations.relu,
    "leaky_relu": lambda x: tf.nn.leaky_relu(x, alpha=0.25),  # tf.nn casts α to float32: 0.25 is exact
    "elu": tf.keras.activations.elu,
    "linear": tf.keras.activations.linear, "softmax": tf.keras.activations.softmax,
}


@SLOW
@given(name=st.sampled_from(sorted(TF_ACTIVATIONS)), seed=st.integers(0, 2**31), scale=st.floats(0.1, 30))
def test_activations_and_their_gradients_match_tensorflow(name, seed, scale):
    rng = np.random.default_rng(seed)
    x, upstream = rng.normal(0, scale, (5, 7)), rng.normal(size=(5, 7))
    expected = TF_ACTIVATIONS[name](tf.constant(x)).numpy()
    act = activations.LeakyReLU(0.25) if name == "leaky_relu" else activations.get(name)
    value, (grad,) = tape_grad(lambda v: tf.reduce_sum(TF_ACTIVATIONS[name](v) * upstream), x)
    y = act(x)
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(act.vjp(x, y, upstream), grad, rtol=1e-7, atol=1e-10)


def test_sigmoid_saturates_and_relu_does_not():
    big = np.array([-20.0, 20.0])
    assert activations.Sigmoid().derivative(big).max() < 1e-8
    assert activations.Tanh().derivative(big).max() < 1e-15
    assert activations.ReLU().derivative(big).tolist() == [0.0, 1.0]
    assert activations.Sigmoid().derivative(np.array([0.0]))[0] == 0.25


def test_unknown_activation_names_the_choices():
    with pytest.raises(ValueError, match="relu"):
        activations.get("rellu")


# -- losses ------------------------------------------------------------------------------------------------

@SLOW
@given(seed=st.integers(0, 2**31), n=st.integers(1, 20), k=st.integers(2, 6))
@example(seed=87803, n=7, k=6)  # a probability under ε: Keras's sparse loss renormalises the clipped row
def test_categorical_cross_entropy_and_its_fused_gradient_match_tensorflow(seed, n, k):
    rng = np.random.default_rng(seed)
    logits, labels = rng.normal(0, 3, (n, k)), rng.integers(0, k, n)
    p = activations.Softmax()(logits)
    cce = losses.CategoricalCrossEntropy()
    tf_loss = tf.keras.losses.SparseCategoricalCrossentropy()
    assert cce(labels, p) == pytest.approx(float(tf_loss(labels, p)), rel=1e-9)
    _, (dz,) = tape_grad(lambda v: tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, v), logits)
    np.testing.assert_allclose(cce.output_gradient(labels, p), dz, rtol=1e-7, atol=1e-12)
    # the unfused path (∂L/∂p, then softmax's Jacobian) gives the same ∂L/∂z where no probability is clipped
    if p.min() > 1e-6:
        np.testing.assert_allclose(activations.Softmax().vjp(logits, p, cce.gradient(labels, p)), dz, rtol=1e-6,
                                   atol=1e-12)
    onehot = losses.one_hot(labels, k)
    assert cce(onehot, p) == pytest.approx(float(tf.keras.losses.CategoricalCrossentropy()(onehot, p)), rel=1e-9)


@SLOW
@given(seed=st.integers(0, 2**31), n=st.integers(1, 20), k=st.integers(1, 4))
def test_mse_and_binary_cross_entropy_match_tensorflow(seed, n, k):
    rng = np.random.default_rng(seed)
    y, pred = rng.integers(0, 2, (n, k)).astype(float), rng.uniform(0.01, 0.99, (n, k))
    for ours, theirs in [(losses.MeanSquaredError(), tf.keras.losses.MeanSquaredError()),
                         (losses.BinaryCrossEntropy(), tf.keras.losses.BinaryCrossentropy())]:
        value, (grad,) = tape_grad(lambda v, theirs=theirs: theirs(y, v), pred)
        assert ours(y, pred) == pytest.approx(float(value), rel=1e-9)
        np.testing.assert_allclose(ours.gradient(y, pred), grad, rtol=1e-9)
    z = rng.normal(0, 3, (n, k))
    _, (dz,) = tape_grad(lambda v: tf.keras.losses.BinaryCrossentropy(from_logits=True)(y, v), z)
    np.testing.assert_allclose(losses.BinaryCrossEntropy().output_gradient(y, activations.Sigmoid()(z)), dz,
                               rtol=1e-7, atol=1e-12)


def test_loss_shape_mismatch_is_explained():
    with pytest.raises(ValueError, match="one target per output"):
        losses.MeanSquaredError()(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="labels must lie in 0…2"):
        losses.CategoricalCrossEntropy()(np.array([0, 3]), np.full((2, 3), 1 / 3))


# -- dense, convolution, pooling ---------------------------------------------------------------------------

@SLOW
@given(seed=st.integers(0, 2**31), n=st.integers(1, 8), d=st.integers(1, 12), units=st.integers(1, 9),
       act=st.sampled_from(["linear", "relu", "sigmoid", "tanh", "elu"]))
def test_dense_forward_and_gradients_match_keras(seed, n, d, units, act):
    rng = np.random.default_rng(seed)
    x, upstream = rng.normal(size=(n, d)), rng.normal(size=(n, units))
    ours = Dense(units, activation=act)
    ours.build((d,), rng)
    ours.params["bias"][:] = rng.normal(size=units)
    theirs = tf.keras.layers.Dense(units, activation=act, dtype="float64")
    theirs.build((None, d))
    theirs.set_weights([ours.params["kernel"], ours.params["bias"]])
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        out = tf.reduce_sum(theirs(xv) * upstream)
    dx, dk, db = tape.gradient(out, [xv, *theirs.trainable_variables])
    np.testing.assert_allclose(ours.forward(x), theirs(x).numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.backward(upstream), dx.numpy(), rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(ours.grads["kernel"], dk.numpy(), rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(ours.grads["bias"], db.numpy(), rtol=1e-7, atol=1e-10)


conv_cases = st.fixed_dictionaries({
    "seed": st.integers(0, 2**31), "n": st.integers(1, 3), "h": st.integers(5, 11), "w": st.integers(5, 11),
    "c": st.integers(1, 3), "f": st.integers(1, 4), "k": st.integers(1, 4), "s": st.integers(1, 3),
    "padding": st.sampled_from(["valid", "same"]),
})


@SLOW
@given(case=conv_cases)
def test_conv2d_forward_and_gradients_match_tf_nn_conv2d(case):
    rng = np.random.default_rng(case["seed"])
    n, h, w, c, f, k, s, padding = (case[key] for key in ("n", "h", "w", "c", "f", "k", "s", "padding"))
    x = rng.normal(size=(n, h, w, c))
    layer = Conv2D(f, k, strides=s, padding=padding)
    layer.build((h, w, c), rng)
    layer.params["bias"][:] = rng.normal(size=f)
    kernel, bias = layer.params["kernel"], layer.params["bias"]
    out = layer.forward(x)
    upstream = rng.normal(size=out.shape)
    value, (dx, dk, db) = tape_grad(
        lambda xv, kv, bv: tf.reduce_sum((tf.nn.conv2d(xv, kv, s, padding.upper()) + bv) * upstream), x, kernel, bias)
    expected = tf.nn.conv2d(x, kernel, s, padding.upper()).numpy() + bias
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(conv2d_naive(x, kernel, stride=s, padding=padding) + bias, expected, atol=1e-10)
    np.testing.assert_allclose(layer.backward(upstream), dx, atol=1e-9)
    np.testing.assert_allclose(layer.grads["kernel"], dk, atol=1e-9)
    np.testing.assert_allclose(layer.grads["bias"], db, atol=1e-9)
    assert out.shape[1:] == layer.output_shape == (conv_output_size(h, k, stride=s, padding=padding),
                                                   conv_output_size(w, k, stride=s, padding=padding), f)


@SLOW
@given(case=conv_cases, mode=st.sampled_from(["max", "avg"]))
def test_pooling_forward_and_gradients_match_tensorflow(case, mode):
    rng = np.random.default_rng(case["seed"])
    n, h, w, c, k, s, padding = (case[key] for key in ("n", "h", "w", "c", "k", "s", "padding"))
    x = rng.normal(size=(n, h, w, c))
    layer = (MaxPool2D if mode == "max" else AvgPool2D)(k, strides=s, padding=padding)
    layer.build((h, w, c), rng)
    tf_pool = tf.nn.max_pool2d if mode == "max" else tf.nn.avg_pool2d
    out = layer.forward(x)
    upstream = rng.normal(size=out.shape)
    _, (dx,) = tape_grad(lambda v: tf.reduce_sum(tf_pool(v, k, s, padding.upper()) * upstream), x)
    np.testing.assert_allclose(out, tf_pool(x, k, s, padding.upper()).numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.backward(upstream), dx, atol=1e-10)


@SLOW
@given(case=conv_cases)
def test_col2im_is_the_adjoint_of_im2col(case):
    rng = np.random.default_rng(case["seed"])
    x = rng.normal(size=(case["n"], case["h"], case["w"], case["c"]))
    cols = im2col(x, case["k"], stride=case["s"], padding=case["padding"])
    other = rng.normal(size=cols.shape)
    assert np.sum(cols * other) == pytest.approx(
        np.sum(x * col2im(other, x.shape, stride=case["s"], padding=case["padding"])), rel=1e-10)


def test_course_convolution_example_has_its_exact_values():
    image = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]], float)
    kernel = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], float)
    tf_out = tf.nn.conv2d(image[None, :, :, None], kernel[:, :, None, None], 1, "VALID").numpy()[0, :, :, 0]
    ours = conv2d(image[None, :, :, None], kernel[:, :, None, None])[0, :, :, 0]
    assert ours.tolist() == tf_out.tolist() == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]


def test_course_parameter_counts_shared_weights_vs_dense():
    conv = Conv2D(20, 5)
    conv.build((28, 28, 1), np.random.default_rng(0))
    dense = Dense(15)
    dense.build((784,), np.random.default_rng(0))
    assert conv.count_params() == 520
    assert dense.params["kernel"].size == 11_760  # the course's 784 × 15 weights, + 15 biases
    keras_conv = tf.keras.Sequential([tf.keras.layers.Input((28, 28, 1)), tf.keras.layers.Conv2D(20, 5)])
    keras_dense = tf.keras.Sequential([tf.keras.layers.Input((784,)), tf.keras.layers.Dense(15)])
    assert (conv.count_params(), dense.count_params()) == (keras_conv.count_params(), keras_dense.count_params())


def test_layers_explain_wrong_input_shapes():
    with pytest.raises(ValueError, match="Flatten"):
        Dense(3).build((28, 28, 1), np.random.default_rng(0))
    with pytest.raises(ValueError, match="reshape"):
        Conv2D(3, 3).build((784,), np.random.default_rng(0))
    with pytest.raises(ValueError, match="does not fit"):
        conv_output_size(3, 5)


# -- initialisers ------------------------------------------------------------------------------------------

def test_initialisers_draw_from_the_same_distributions_as_keras():
    rng = np.random.default_rng(0)
    for ours, theirs, shape in [(glorot_uniform, tf.keras.initializers.GlorotUniform(seed=1), (300, 200)),
                                (he_normal, tf.keras.initializers.HeNormal(seed=1), (3, 3, 16, 32))]:
        a = ours(shape, rng).ravel()
        b = theirs(shape, dtype="float64").numpy().ravel()
        assert stats.ks_2samp(a, b).pvalue > 1e-3, ours.__name__


# -- optimisers --------------------------------------------------------------------------------------------

# Keras keeps the learning rate in a float32 variable: rates that are powers of two survive that exactly
OPTIMIZER_PAIRS = [
    (lambda: SGD(0.125), lambda: tf.keras.optimizers.SGD(0.125)),
    (lambda: SGD(0.0625, momentum=0.875), lambda: tf.keras.optimizers.SGD(0.0625, momentum=0.875)),
    (lambda: SGD(0.0625, momentum=0.875, nesterov=True),
     lambda: tf.keras.optimizers.SGD(0.0625, momentum=0.875, nesterov=True)),
    (lambda: Adagrad(0.125), lambda: tf.keras.optimizers.Adagrad(0.125)),
    (lambda: RMSprop(2**-7), lambda: tf.keras.optimizers.RMSprop(2**-7)),
    (lambda: Adam(2**-7, beta_1=0.875, beta_2=1 - 2**-10),  # so are β₁, β₂ in its bias correction
     lambda: tf.keras.optimizers.Adam(2**-7, beta_1=0.875, beta_2=1 - 2**-10)),
]


@pytest.mark.parametrize("make_ours, make_theirs", OPTIMIZER_PAIRS,
                         ids=["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_optimizer_steps_match_keras(make_ours, make_theirs, seed):
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=(4, 3)), rng.normal(size=3)]
    variables = [tf.Variable(p.copy()) for p in params]
    ours, theirs = make_ours(), make_theirs()
    for _ in range(6):
        grads = [rng.normal(size=p.shape) for p in params]
        ours.apply_gradients(list(zip(params, grads, strict=True)))
        theirs.apply_gradients(zip([tf.constant(g) for g in grads], variables, strict=True))
    for p, v in zip(params, variables, strict=True):
        np.testing.assert_allclose(p, v.numpy(), rtol=1e-9, atol=1e-12)


# -- whole networks ----------------------------------------------------------------------------------------

def _twin_networks(seed: int):
    """The same small CNN in labkit.nn and Keras (float64), with the same weights."""
    ours = Sequential([Conv2D(4, 3, padding="same", activation="relu"), MaxPool2D(2), Conv2D(3, 2, strides=2,
                       activation="tanh"), Flatten(), Dense(6, activation="elu"), Dense(3, activation="softmax")],
                      input_shape=(8, 8, 1), seed=seed, dtype=np.float64)
    L = tf.keras.layers
    theirs = tf.keras.Sequential([L.Input((8, 8, 1), dtype="float64"),
                                  L.Conv2D(4, 3, padding="same", activation="relu", dtype="float64"),
                                  L.MaxPool2D(2, dtype="float64"),
                                  L.Conv2D(3, 2, strides=2, activation="tanh", dtype="float64"),
                                  L.Flatten(dtype="float64"), L.Dense(6, activation="elu", dtype="float64"),
                                  L.Dense(3, activation="softmax", dtype="float64")])
    rng = np.random.default_rng(seed)
    for p in ours.parameters():
        p[...] = rng.normal(0, 0.5, p.shape)
    theirs.set_weights(ours.get_weights())
    return ours, theirs


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_cnn_loss_and_every_gradient_match_keras(seed):
    ours, theirs = _twin_networks(seed)
    ours.compile(optimizer="sgd", loss="categorical_crossentropy")
    rng = np.random.default_rng(seed + 1)
    x, y = rng.normal(size=(5, 8, 8, 1)), rng.integers(0, 3, 5)
    loss, grads = ours.loss_and_gradients(x, y)
    with tf.GradientTape() as tape:
        tf_loss = tf.keras.losses.SparseCategoricalCrossentropy()(y, theirs(x))
    tf_grads = tape.gradient(tf_loss, theirs.trainable_variables)
    assert loss == pytest.approx(float(tf_loss), rel=1e-9)
    for g, t in zip(grads, tf_grads, strict=True):
        np.testing.assert_allclose(g, t.numpy(), rtol=1e-5, atol=1e-9)
    assert max(gradient_check(ours, x, y)) < 1e-6


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_full_batch_training_follows_keras_fit_step_for_step(optimizer):
    """Keras's defaults (β₂ = 0.999 rounded to float32 in Adam's bias correction) agree to 1e-5."""
    ours, theirs = _twin_networks(3)
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(16, 8, 8, 1)), rng.integers(0, 3, 16)
    ours.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    theirs.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    history = ours.fit(x, y, epochs=5, batch_size=None, shuffle=False, verbose=False)
    tf_history = theirs.fit(x, y, epochs=5, batch_size=16, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], tf_history.history["loss"], rtol=1e-5)
    for w, t in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(w, t, rtol=1e-5, atol=1e-7)


def test_gradient_check_catches_a_broken_backward_pass():
    model = Sequential([Dense(5, activation="sigmoid"), Dense(3, activation="softmax")], input_shape=(4,), seed=0,
                       dtype=np.float64)
    model.compile(loss="categorical_crossentropy")
    x, y = np.random.default_rng(0).normal(size=(6, 4)), np.array([0, 1, 2, 0, 1, 2])
    assert max(gradient_check(model, x, y)) < 1e-7
    model.layers[0].activation.vjp = lambda x, y, grad: grad * y   # forgets the (1 − y) factor
    assert max(gradient_check(model, x, y)) > 1e-2


def test_fit_rejects_bad_arguments_clearly():
    model = Sequential([Dense(2, activation="softmax")], input_shape=(3,))
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.zeros((4, 3)), np.zeros(4, int))
    model.compile()
    with pytest.raises(ValueError, match="4 samples but y has 3"):
        model.fit(np.zeros((4, 3)), np.zeros(3, int))
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(np.zeros((4, 3)), np.zeros(4, int), batch_size=0)


# -- neurons -----------------------------------------------------------------------------------------------

def test_course_and_gate_neuron_values():
    x, t = logic_gate("and")
    out = sigmoid_neuron(x, weights=[20, 20], bias=-30)
    assert out[0] < 1e-12 and out[1] == out[2] < 5e-5 and out[3] > 1 - 5e-5
    assert (np.round(out) == t).all()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(2, 60), d=st.integers(1, 5))
def test_perceptron_obeys_novikoffs_bound_on_separable_data(seed, n, d):
    rng = np.random.default_rng(seed)
    w, b = rng.normal(size=d), rng.normal()
    x = rng.normal(size=(n, d))
    margin = (x @ w + b) / np.linalg.norm([*w, b])
    keep = np.abs(margin) > 0.05            # a guaranteed margin γ
    x, margin = x[keep], margin[keep]
    if len(x) == 0:
        return
    t = (margin > 0).astype(int)
    model = Perceptron(max_epochs=100_000).fit(x, t)
    radius = np.max(np.linalg.norm(np.c_[x, np.ones(len(x))], axis=1))
    gamma = np.min(np.abs(margin))
    assert model.converged_ and (model.predict(x) == t).all()
    assert model.updates_ <= (radius / gamma) ** 2


def test_perceptron_learns_and_or_but_never_xor():
    for gate in ("and", "or", "nand"):
        x, t = logic_gate(gate)
        assert Perceptron().fit(x, t).predict(x).tolist() == t.tolist()
    model = Perceptron(max_epochs=200).fit(*logic_gate("xor"))
    assert not model.converged_ and min(model.errors_) >= 1


@settings(max_examples=10, deadline=None)
@given(rate=st.floats(0.05, 0.9), seed=st.integers(0, 2**31))
def test_dropout_is_inverted_and_backpropagates_through_the_same_mask(rate, seed):
    from labkit.nn import Dropout

    layer = Dropout(rate, seed=seed)
    layer.build((400,), np.random.default_rng(seed))
    x = np.ones((50, 400))
    np.testing.assert_array_equal(layer.forward(x), x)       # inference: identity
    y = layer.forward(x, training=True)
    kept = y != 0
    assert set(np.unique(y)) <= {0.0, 1 / (1 - rate)}       # survivors scaled by 1/(1 − rate)
    assert stats.binomtest(int((~kept).sum()), kept.size, rate).pvalue > 1e-4
    g = np.random.default_rng(seed).normal(size=x.shape)
    np.testing.assert_allclose(layer.backward(g), np.where(kept, g / (1 - rate), 0.0), rtol=1e-15)
