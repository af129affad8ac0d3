"""``make bench-dl``: lab 07's Keras measurements at full size, on the shipped MNIST split.

* the course text's progression with the text's own settings (SGD, batch 128, 200 epochs for the dense models;
  Adam, batch 128, 20 epochs and a 20 % validation split for the CNN) on the 8,000 training digits, beside the
  figures the text reports for 60,000;
* the text's CNN with max pooling, average pooling and batch normalisation, side by side;
* data augmentation (random shifts ±10 %, rotations ±10°) in the few-labels regime, three seeds;
* transfer learning: frozen base from digits 0–4 vs the same network from scratch on few labels of 5–9.

Run alone (``make bench-dl``) it refreshes only its sections of ``results.md``; ``make bench`` runs it too.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from nn import mnist  # noqa: E402

HEADING = "## labkit.dl (Keras, lab 07)"
SEEDS = (0, 1, 2)


def progression_rows() -> tuple[list[str], bool]:
    """The text's three models with the text's settings; whether the accuracies keep the text's order."""
    from labkit.dl import TEXT_RESULTS, lenet, softmax_regression, train, two_hidden_layers

    builders = {"softmax regression": (softmax_regression, False),
                "two hidden layers of 128": (two_hidden_layers, False), "CNN (LeNet-style)": (lenet, True)}
    rows, accuracies = [], []
    for text in TEXT_RESULTS:
        build, images = builders[text.model]
        x, y, xt, yt = mnist(images=images)
        model = build(seed=0)
        start = time.perf_counter()
        train(model, x, y, epochs=text.epochs, batch_size=text.batch_size, validation_split=text.validation_split,
              verbose=False)
        seconds = time.perf_counter() - start
        accuracy = float(model.evaluate(xt, yt, verbose=0)[1])
        accuracies.append(accuracy)
        stated = f"{text.parameters:,}" if text.parameters else "(not printed)"
        rows.append(f"| {text.model} | {stated} | {model.count_params():,} | {text.test_accuracy:.2%} | "
                    f"{accuracy:.2%} | {seconds:.0f} |")
        print(f"{text.model}: {accuracy:.4f} in {seconds:.0f} s")
    return rows, accuracies == sorted(accuracies)


def cnn_variant_rows(epochs: int = 10, n_train: int = 4_000) -> list[str]:
    from labkit.dl import compare, lenet

    x, y, xt, yt = mnist(images=True)
    runs = compare({"max pooling (the text's)": lambda: lenet(seed=0),
                    "average pooling": lambda: lenet(pooling="average", seed=0),
                    "max pooling + batch norm": lambda: lenet(batch_norm=True, seed=0)},
                   x[:n_train], y[:n_train], epochs=epochs, batch_size=32, validation_data=(xt, yt), verbose=False)
    rows = []
    for name, history in runs.items():
        acc = history.history["val_accuracy"]
        rows.append(f"| {name} | {acc[0]:.2%} | {acc[-1]:.2%} | {history.seconds:.0f} |")
        print(f"{name}: {acc[0]:.4f} → {acc[-1]:.4f} in {history.seconds:.0f} s")
    return rows


def augmentation_rows(per_class=(20, 40), epochs: int = 60) -> tuple[list[str], float]:
    """Test accuracy with and without augmentation, mean over seeds; the smallest gain."""
    from labkit.dl import few_labels, lenet, train

    x, y, xt, yt = mnist(images=True)
    rows, gains = [], []
    for k in per_class:
        x_few, y_few = few_labels(x, y, per_class=k, seed=0)
        means = []
        for setting in (None, (0.1, 10)):
            scores = []
            for seed in SEEDS:
                model = lenet(augmentation=setting, seed=seed)
                train(model, x_few, y_few, epochs=epochs, batch_size=32, verbose=False)
                scores.append(float(model.evaluate(xt, yt, verbose=0)[1]))
            means.append(float(np.mean(scores)))
        gains.append((means[1] - means[0]) * 100)
        rows.append(f"| {k} | {means[0]:.2%} | {means[1]:.2%} | {gains[-1]:+.1f} |")
        print(f"augmentation, {k} per class: {means[0]:.4f} → {means[1]:.4f}")
    return rows, min(gains)


def transfer_rows(per_class=(5, 20, 80)) -> list[str]:
    from labkit.dl import build_cnn, digit_subset, few_labels, train, transfer_model

    x, y, xt, yt = mnist(images=True)
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


def dl_section() -> list[str]:
    progression, ordered = progression_rows()
    augmentation, least_gain = augmentation_rows()
    return [
        f"{HEADING}: the course text's progression at full size", "",
        "The text's three models with the text's own settings (SGD at Keras's default rate, batch 128, 200 epochs "
        "for the dense models; Adam, batch 128, 20 epochs, 20 % validation split for the CNN), trained on the "
        "8,000 shipped digits and tested on the 2,000 test digits; the text trained on 60,000 and tested on "
        "10,000. Goals: every parameter count the text prints matches exactly; the accuracies keep the text's "
        f"order {'✓' if ordered else '✗'}.", "",
        "| model | parameters (text) | parameters (labkit) | test accuracy (text, 60,000 digits) | "
        "test accuracy (labkit, 8,000) | training (s) |", "|---|---:|---:|---:|---:|---:|", *progression, "",
        f"{HEADING}: pooling and batch normalisation", "",
        "The text's CNN three ways on the first 4,000 training digits, Adam, batch 32, 10 epochs, validated on "
        "the 2,000 test digits (batch normalisation's running statistics with momentum 0.9).", "",
        "| variant | validation accuracy after epoch 1 | after epoch 10 | training (s) |", "|---|---:|---:|---:|",
        *cnn_variant_rows(), "",
        f"{HEADING}: data augmentation with few labels", "",
        f"The text's CNN from scratch on k labelled digits per class, 60 epochs, batch 32, with and without random "
        f"shifts (±10 %) and rotations (±10°); mean test accuracy of seeds {', '.join(map(str, SEEDS))}. Goal: "
        f"augmentation gains at every k {'✓' if least_gain > 0 else '✗'}.", "",
        "| labels per class | no augmentation | augmentation | gain (points) |", "|---:|---:|---:|---:|",
        *augmentation, "",
        f"{HEADING}: transfer learning", "",
        "CNN pre-trained 5 epochs on digits 0–4; frozen base + new head vs the same network from scratch, both "
        "trained 30 epochs on the same few labelled digits 5–9, tested on all test digits 5–9.", "",
        "| labels per class | transfer | from scratch | gain (points) |", "|---:|---:|---:|---:|", *transfer_rows(), "",
    ]


if __name__ == "__main__":
    from pathlib import Path

    from sections import refresh

    here = Path(__file__).parent
    refresh(here / "results.md", HEADING, dl_section())
    print(f"wrote {here / 'results.md'}")
