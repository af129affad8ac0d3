"""labkit.dl's course-text models and learning-rate schedules, against the text and against Keras itself."""

import math

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

from labkit.dl import TEXT_RESULTS, lenet, progression_table, softmax_regression, train, two_hidden_layers
from labkit.dl.schedules import cosine_decay, cyclical, exponential_decay, scheduler, step_decay


def test_the_dense_models_have_the_parameter_counts_the_text_prints():
    stated = {r.model: r.parameters for r in TEXT_RESULTS}
    assert softmax_regression().count_params() == stated["softmax regression"] == 7_850
    assert two_hidden_layers().count_params() == stated["two hidden layers of 128"] == 118_282


def test_the_text_trains_its_dense_models_with_plain_sgd_at_kerass_default_rate():
    for build in (softmax_regression, two_hidden_layers):
        opt = build().optimizer
        assert type(opt).__name__ == "SGD" and opt.momentum == 0
        assert float(opt.learning_rate.numpy()) == pytest.approx(0.01)


def test_lenet_is_the_texts_network_shape_by_shape():
    model = lenet()
    shapes = {layer.name: layer.output_shape for layer in model.layers}
    assert shapes["conv1"] == (None, 28, 28, 20) and shapes["pool1"] == (None, 14, 14, 20)   # same padding
    assert shapes["conv2"] == (None, 14, 14, 50) and shapes["pool2"] == (None, 7, 7, 50)
    by_hand = (5 * 5 * 1 * 20 + 20) + (5 * 5 * 20 * 50 + 50) + (7 * 7 * 50 * 500 + 500) + (500 * 10 + 10)
    assert model.count_params() == by_hand
    assert type(model.optimizer).__name__ == "Adam"


def test_average_pooling_averages_each_window():
    model = lenet(pooling="average")
    pool = model.get_layer("pool1")
    x = np.random.default_rng(0).random((2, 28, 28, 20), dtype=np.float32)
    expected = x.reshape(2, 14, 2, 14, 2, 20).mean(axis=(2, 4))
    np.testing.assert_allclose(pool(x).numpy(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="pooling must be one of"):
        lenet(pooling="min")


def test_batch_norm_drops_the_redundant_biases_and_normalises_in_training():
    model = lenet(batch_norm=True)
    assert not model.get_layer("conv1").use_bias and not model.get_layer("dense").use_bias
    bn = model.get_layer("conv1_bn")
    x = np.random.default_rng(1).normal(3.0, 2.0, size=(16, 28, 28, 20)).astype(np.float32)
    out = bn(x, training=True).numpy()
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0, atol=1e-3)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1, atol=1e-2)


def test_augmentation_changes_training_inputs_only():
    plain, augmented = lenet(seed=3), lenet(seed=3, augmentation=(0.1, 10))
    augmented_core = [layer for layer in augmented.layers if layer.name not in ("shift", "rotate")]
    for source, target in zip(plain.layers, augmented_core, strict=True):
        target.set_weights(source.get_weights())
    x = np.random.default_rng(2).random((4, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(augmented(x, training=False).numpy(), plain(x, training=False).numpy(), rtol=1e-5)
    shifted = augmented.get_layer("shift")(x, training=True).numpy()
    assert not np.allclose(shifted, x)


def test_progression_table_puts_the_texts_figures_beside_the_labs():
    runs = {"softmax regression": {"parameters": 7850, "epochs": 5, "train_size": 2000, "test_accuracy": 0.87}}
    table = progression_table(runs)
    assert list(table.index) == [r.model for r in TEXT_RESULTS]
    assert table.loc["two hidden layers of 128", "text: test accuracy"] == 0.9777
    assert table.loc["softmax regression", "lab: test accuracy"] == 0.87
    with pytest.raises(ValueError, match="no model of the course text"):
        progression_table({"resnet": runs["softmax regression"]})


epochs_ = st.integers(0, 60)


@given(st.floats(1e-4, 1.0), st.floats(0.05, 1.0), st.integers(1, 12), epochs_)
def test_step_decay_is_kerass_staircase_exponential_decay(initial, drop, every, epoch):
    keras = tf.keras.optimizers.schedules.ExponentialDecay(initial, decay_steps=every, decay_rate=drop, staircase=True)
    assert step_decay(initial, drop=drop, every=every)(epoch) == pytest.approx(float(keras(epoch)), rel=1e-5)


@given(st.floats(1e-4, 1.0), st.floats(0.5, 1.0), epochs_)
def test_exponential_decay_matches_keras(initial, rate, epoch):
    keras = tf.keras.optimizers.schedules.ExponentialDecay(initial, decay_steps=1, decay_rate=rate)
    assert exponential_decay(initial, rate=rate)(epoch) == pytest.approx(float(keras(epoch)), rel=1e-5)


@given(st.floats(1e-3, 1.0), st.integers(1, 40), st.floats(0, 0.9), epochs_)
def test_cosine_decay_matches_keras(initial, epochs, floor_share, epoch):
    keras = tf.keras.optimizers.schedules.CosineDecay(initial, decay_steps=epochs, alpha=floor_share)
    ours = cosine_decay(initial, epochs=epochs, floor=floor_share * initial)(epoch)
    assert ours == pytest.approx(float(keras(epoch)), rel=1e-5, abs=1e-9)


@given(st.floats(1e-4, 0.01), st.floats(1.5, 10), st.integers(1, 8), epochs_)
def test_cyclical_is_smiths_triangular_policy(low, ratio, half, epoch):
    """Smith (2017), "Cyclical learning rates": cycle = ⌊1 + e / 2s⌋, x = |e / s − 2 cycle + 1|."""
    high = low * ratio
    cycle = math.floor(1 + epoch / (2 * half))
    x = abs(epoch / half - 2 * cycle + 1)
    expected = low + (high - low) * max(0.0, 1 - x)
    assert cyclical(low, high, half_cycle=half)(epoch) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("call, message", [
    (lambda: step_decay(0.1, drop=1.5), "drop must be a number in"),
    (lambda: step_decay(-0.1), "initial must be a number in"),
    (lambda: cosine_decay(0.1, epochs=0), "epochs must be an integer"),
    (lambda: cosine_decay(0.1, epochs=5, floor=0.2), "floor must be in"),
    (lambda: cyclical(0.1, 0.01), "low must be below high"),
])
def test_schedules_reject_bad_settings(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_the_callback_sets_the_optimisers_rate_every_epoch():
    x = np.random.default_rng(0).random((32, 784), dtype=np.float32)
    y = np.arange(32) % 10
    schedule = step_decay(0.1, drop=0.5, every=2)
    model = softmax_regression()
    history = train(model, x, y, epochs=5, batch_size=16, verbose=False, callbacks=[scheduler(schedule)])
    assert history.history["lr"] == pytest.approx([schedule(e) for e in range(5)])
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(schedule(4))
