"""``make bench-nn``: labkit.nn against Keras on the shipped MNIST split (lab 07's own Keras models: ``dl.py``).

* the same MLP (784 → 256 → 128 → 10, ReLU, Adam, batch 64, 15 epochs) trained from the same initial weights
  by labkit.nn and by Keras, for three seeds: test accuracy and training time;
* im2col convolution vs ``tf.nn.conv2d`` (and the naive loop) on a 64×28×28×1 batch with 32 3×3 filters.

Run alone (``make bench-nn``) it refreshes only its sections of ``results.md``; ``make bench`` runs it too.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HEADING = "## labkit.nn"
MLP_SHAPE, MLP_EPOCHS, MLP_BATCH = (256, 128), 15, 64


def mnist(images: bool = False):
    """The shipped split, scaled to [0, 1]: flat rows, or 28×28×1 images."""
    from labkit.datasets import load_mnist

    x, y, xt, yt = load_mnist(normalize=True, flatten=not images)
    if images:
        x, xt = x[..., None], xt[..., None]
    return x, y.astype(np.int64), xt, yt.astype(np.int64)


def mlp_rows(seeds=(0, 1, 2)) -> tuple[list[str], dict]:
    import tensorflow as tf

    from labkit.nn import Dense, Sequential

    x, y, xt, yt = mnist()
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


def nn_section() -> list[str]:
    mlp, mean = mlp_rows()
    gap = (mean["nn_acc"] - mean["keras_acc"]) * 100
    ratio = mean["nn_s"] / mean["keras_s"]
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
    ]
    return lines


if __name__ == "__main__":
    from pathlib import Path

    from sections import refresh

    here = Path(__file__).parent
    refresh(here / "results.md", HEADING, nn_section())
    print(f"wrote {here / 'results.md'}")
