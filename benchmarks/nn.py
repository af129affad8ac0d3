"""``make bench-nn``: labkit.nn against Keras, and the Keras models of lab 07, on the shipped MNIST split.

* the same MLP (784 → 256 → 128 → 10, ReLU, Adam, batch 64, 15 epochs) trained from the same initial weights
  by labkit.nn and by Keras, for three seeds: test accuracy and training time;
* the lab 07 CNN at full size: test accuracy;
* im2col convolution vs ``tf.nn.conv2d`` (and the naive loop) on a 64×28×28×1 batch with 32 3×3 filters;
* transfer learning: frozen base from digits 0–4 vs the same network from scratch on few labels of 5–9.

Run alone (``make bench-nn``) it refreshes only its sections of ``results.md``; ``make bench`` runs it too.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HEADING = "## labkit.nn"
MLP_SHAPE, MLP_EPOCHS, MLP_BATCH = (256, 128), 15, 64


def _mnist(images: bool = False):
    from labkit.datasets import load_mnist

    x, y, xt, yt = load_mnist(normalize=True, flatten=not images)
    if images:
        x, xt = x[..., None], xt[..., None]
    return x, y.astype(np.int64), xt, yt.astype(np.int64)


def mlp_rows(seeds=(0, 1, 2)) -> tuple[list[str], dict]:
    import tensorflow as tf

    from labkit.nn import Dense, Sequential

    x, y, xt, yt = _mnist()
    rows, summary = [], {"nn_acc": [], "keras_acc": [], "nn_s": [], "keras_s": []}
    for seed in seeds:
        ours = Sequential([Dense(u, activation="relu") for u in MLP_SHAPE] + [Dense(10, activation="softmax")],
                          input_shape=(784,), seed=seed)
        ours.compile(optimizer="adam", loss="categorical_crossentropy")
        tf.keras.utils.set_random_seed(seed)
        theirs = tf.keras.Sequential([tf.keras.layers.Input((784,))]
                                     + [tf.keras.layers.Dense(u, activation="relu") for u in MLP_SHAPE]
                                     + [tf.keras.layers.Dense(10, activation="softmax")])
        theirs.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        theirs.set_weights(ours.get_weights())  # the same starting point
        start = time.perf_counter()
        ours.fit(x, y, epochs=MLP_EPOCHS, batch_size=MLP_BATCH, verbose=False)
        nn_s = time.perf_counter() - start
        start = time.perf_counter()
        theirs.fit(x, y, epochs=MLP_EPOCHS, batch_size=MLP_BATCH, verbose=0)
        keras_s = time.perf_counter() - start
        nn_acc, keras_acc = ours.evaluate(xt, yt)[1], float(theirs.evaluate(xt, yt, verbose=0)[1])
        for key, value in zip(summary, (nn_acc, keras_acc, nn_s, keras_s), strict=True):
            summary[key].append(value)
        rows.append(f"| {seed} | {nn_acc:.2%} | {keras_acc:.2%} | {(nn_acc - keras_acc) * 100:+.2f} | "
                    f"{nn_s:.1f} | {keras_s:.1f} | {nn_s / keras_s:.2f}× |")
        print(f"MLP seed {seed}: labkit.nn {nn_acc:.4f} in {nn_s:.1f} s, Keras {keras_acc:.4f} in {keras_s:.1f} s")
    return rows, {k: float(np.mean(v)) for k, v in summary.items()}


def conv_rows(repeats: int = 5) -> list[str]:
    import tensorflow as tf

    from labkit.nn import conv2d, conv2d_naive

    rng = np.random.default_rng(0)
    x = rng.random((64, 28, 28, 1), dtype=np.float32)
    kernel = rng.normal(size=(3, 3, 1, 32)).astype(np.float32)
    tf.nn.conv2d(x, kernel, 1, "VALID")  # warm-up (graph and thread pools)
    ours, theirs = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        conv2d(x, kernel)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        tf.nn.conv2d(x, kernel, 1, "VALID").numpy()
        theirs.append(time.perf_counter() - start)
    start = time.perf_counter()
    naive = conv2d_naive(x, kernel)
    naive_s = time.perf_counter() - start
    assert np.allclose(naive, tf.nn.conv2d(x, kernel, 1, "VALID").numpy(), atol=1e-4)
    a, b = min(ours), min(theirs)
    print(f"conv: im2col {a * 1e3:.1f} ms, tf.nn.conv2d {b * 1e3:.1f} ms, naive {naive_s:.1f} s")
    return [f"| im2col (`labkit.nn.conv2d`) | {a * 1e3:.1f} | {a / b:.1f}× | {'✓' if a / b <= 5 else '✗'} |",
            f"| naive loops (`conv2d_naive`) | {naive_s * 1e3:,.0f} | {naive_s / b:,.0f}× | |",
            f"| `tf.nn.conv2d` | {b * 1e3:.1f} | 1.0× | |"]


def cnn_row(epochs: int = 12) -> tuple[float, float]:
    from labkit.dl import build_cnn, train

    x, y, xt, yt = _mnist(images=True)
    model = build_cnn(seed=0)
    start = time.perf_counter()
    train(model, x, y, epochs=epochs, batch_size=64, verbose=False)
    seconds = time.perf_counter() - start
    accuracy = float(model.evaluate(xt, yt, verbose=0)[1])
    print(f"CNN: {accuracy:.4f} after {epochs} epochs in {seconds:.0f} s")
    return accuracy, seconds


def transfer_rows(per_class=(5, 20, 80)) -> list[str]:
    from labkit.dl import build_cnn, digit_subset, few_labels, train, transfer_model

    x, y, xt, yt = _mnist(images=True)
    x_old, y_old = digit_subset(x, y, digits=range(5))
    x_new, y_new = digit_subset(x, y, digits=range(5, 10))
    xt_new, yt_new = digit_subset(xt, yt, digits=range(5, 10))
    pretrained = build_cnn(seed=0)
    train(pretrained, x_old, y_old, epochs=5, batch_size=64, verbose=False)
    rows = []
    for k in per_class:
        x_few, y_few = few_labels(x_new, y_new, per_class=k, seed=0)
        reused = transfer_model(pretrained, n_classes=5)
        scratch = transfer_model(build_cnn(seed=1), n_classes=5)
        for layer in scratch.layers:
            layer.trainable = True
        scratch.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        for model in (reused, scratch):
            train(model, x_few, y_few, epochs=30, batch_size=16, verbose=False)
        a, b = (float(m.evaluate(xt_new, yt_new, verbose=0)[1]) for m in (reused, scratch))
        rows.append(f"| {k} | {a:.1%} | {b:.1%} | {(a - b) * 100:+.1f} |")
        print(f"transfer, {k} per class: {a:.3f} vs scratch {b:.3f}")
    return rows


def nn_section() -> list[str]:
    mlp, mean = mlp_rows()
    gap = (mean["nn_acc"] - mean["keras_acc"]) * 100
    ratio = mean["nn_s"] / mean["keras_s"]
    cnn_acc, cnn_s = cnn_row()
    lines = [
        f"{HEADING}: the MLP from scratch vs the identical Keras network", "",
        f"784 → {' → '.join(map(str, MLP_SHAPE))} → 10 (ReLU, softmax), Adam (η = 0.001), batch {MLP_BATCH}, "
        f"{MLP_EPOCHS} epochs on the shipped 8,000 training digits, tested on the 2,000 test digits. Both start "
        f"from the same weights (Keras's are copied from labkit.nn's); shuffling differs. Goals: labkit.nn ≥ 96 %, "
        f"within 1 point of Keras, in ≤ 2× Keras's time.", "",
        "| seed | labkit.nn | Keras | difference (points) | labkit.nn (s) | Keras (s) | time ratio |",
        "|---|---:|---:|---:|---:|---:|---:|", *mlp, "",
        f"Mean: labkit.nn **{mean['nn_acc']:.2%}** {'✓' if mean['nn_acc'] >= 0.96 else '✗'}, "
        f"{gap:+.2f} points vs Keras {'✓' if abs(gap) <= 1 else '✗'}, time ratio **{ratio:.2f}×** "
        f"{'✓' if ratio <= 2 else '✗'}.", "",
        f"{HEADING}: convolution on a 64×28×28×1 batch, 32 filters of 3×3", "",
        "Best of 5 interleaved runs (the naive loop once). Goal: im2col within 5× of `tf.nn.conv2d`.", "",
        "| implementation | time (ms) | ratio to TensorFlow | goal |", "|---|---:|---:|---|", *conv_rows(), "",
        f"{HEADING} (Keras, lab 07): the CNN at full size", "",
        f"`labkit.dl.build_cnn()` (Conv 32 → Conv 64 → MaxPool → Dropout → Dense 128 → Dropout → softmax), 12 "
        f"epochs, batch 64: test accuracy **{cnn_acc:.2%}** {'✓' if cnn_acc >= 0.98 else '✗'} (goal ≥ 98 %), "
        f"trained in {cnn_s:.0f} s on this machine.", "",
        f"{HEADING} (Keras, lab 07): transfer learning", "",
        "CNN pre-trained 5 epochs on digits 0–4; frozen base + new head vs the same network from scratch, both "
        "trained 30 epochs on the same few labelled digits 5–9, tested on all test digits 5–9.", "",
        "| labels per class | transfer | from scratch | gain (points) |", "|---:|---:|---:|---:|", *transfer_rows(), "",
    ]
    return lines


if __name__ == "__main__":
    from pathlib import Path

    from sections import refresh

    here = Path(__file__).parent
    refresh(here / "results.md", HEADING, nn_section())
    print(f"wrote {here / 'results.md'}")
