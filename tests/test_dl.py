"""labkit.dl: the course's Keras models, training helpers and transfer learning."""

import numpy as np
import pytest
import tensorflow as tf

from labkit.dl import build_ann, build_cnn, compare, digit_subset, few_labels, make_optimizer, train, transfer_model


@pytest.mark.parametrize("hidden", [(), (128,), (128, 64), (7, 5, 3)])
def test_ann_parameter_count_is_the_sum_of_dense_layers(hidden):
    sizes = [784, *hidden, 10]
    expected = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    model = build_ann(hidden)
    assert model.count_params() == expected
    assert model.loss == "sparse_categorical_crossentropy" and model.output_shape == (None, 10)


def test_cnn_shapes_follow_valid_convolution_and_pooling():
    model = build_cnn(filters=(8, 16), kernel_size=3)
    assert model.get_layer("conv1").output_shape == (None, 26, 26, 8)
    assert model.get_layer("conv2").output_shape == (None, 24, 24, 16)
    assert model.get_layer("pool").output_shape == (None, 12, 12, 16)
    assert model.get_layer("conv1").count_params() == 3 * 3 * 1 * 8 + 8


@pytest.mark.parametrize("name, cls, extra", [("momentum", "SGD", {"momentum": 0.9, "nesterov": False}),
                                              ("nesterov", "SGD", {"nesterov": True}),
                                              ("rmsprop", "RMSprop", {}), ("adagrad", "Adagrad", {})])
def test_optimizers_by_course_name(name, cls, extra):
    opt = make_optimizer(name, learning_rate=0.05)
    assert type(opt).__name__ == cls
    assert float(opt.learning_rate.numpy()) == pytest.approx(0.05)
    config = opt.get_config()
    assert all(config[k] == v for k, v in extra.items())
    with pytest.raises(ValueError, match="adam"):
        make_optimizer("adamw")


def test_transfer_model_trains_only_the_head():
    pretrained = build_cnn(filters=(4,), dense_units=8)
    base_weights = [w.copy() for w in pretrained.get_layer("conv1").get_weights()]
    model = transfer_model(pretrained, n_classes=3, head_units=6)
    flat = pretrained.get_layer("flatten").output_shape[1]
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == (flat * 6 + 6) + (6 * 3 + 3)
    rng = np.random.default_rng(0)
    model.fit(rng.random((16, 28, 28, 1)), rng.integers(0, 3, 16), epochs=1, verbose=0)
    for before, after in zip(base_weights, pretrained.get_layer("conv1").get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    with pytest.raises(ValueError, match="no layer 'nope'"):
        transfer_model(pretrained, n_classes=3, base_until="nope")


def test_digit_subset_and_few_labels():
    y = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5])
    x = np.arange(len(y))
    xs, ys = digit_subset(x, y, digits=[5, 3])
    assert xs.tolist() == [0, 4, 8, 9, 10] and ys.tolist() == [1, 0, 0, 1, 0]
    xf, yf = few_labels(xs, ys, per_class=2, seed=1)
    assert sorted(yf.tolist()) == [0, 0, 1, 1] and set(xf.tolist()) <= set(xs.tolist())
    with pytest.raises(ValueError, match="fewer than per_class=3"):
        few_labels(xs, ys, per_class=3)
    with pytest.raises(ValueError, match="distinct"):
        digit_subset(x, y, digits=[5, 5])


def test_early_stopping_restores_the_best_weights_and_needs_validation():
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 784)).astype(np.float32), rng.integers(0, 10, 64)  # noise: validation loss rises
    model = build_ann((64,), learning_rate=0.01)
    history = train(model, x[:48], y[:48], epochs=40, validation_data=(x[48:], y[48:]), early_stopping=2,
                    verbose=False)
    val = history.history["val_loss"]
    assert len(val) < 40
    assert model.evaluate(x[48:], y[48:], verbose=0)[0] == pytest.approx(min(val), rel=1e-5)
    with pytest.raises(ValueError, match="validation"):
        train(model, x, y, epochs=1, early_stopping=2)


def test_compare_trains_one_fresh_model_per_setting_with_its_batch_size():
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 784)).astype(np.float32), rng.integers(0, 10, 40)
    runs = compare({"a": build_ann, "b": build_ann}, x, y, epochs=2, batch_sizes={"b": 40}, verbose=False)
    assert set(runs) == {"a", "b"} and all(len(h.history["loss"]) == 2 for h in runs.values())
    assert runs["a"].params["steps"] == 2 and runs["b"].params["steps"] == 1  # 40/32 → 2 batches; 40/40 → 1
    assert all(h.seconds > 0 for h in runs.values())
    assert isinstance(runs["a"].model, tf.keras.Model)
