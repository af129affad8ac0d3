"""``make bench-seq``: lab 09's measurements.

* labkit.nn's LSTM against Keras's ``LSTM`` holding the same weights, on an MNIST-row-shaped batch
  (64 sequences × 28 steps × 28 features, 64 units): agreement of the outputs and of every gradient (float64),
  and the time of a forward pass and of a forward + backward pass (float32, Keras inside ``tf.function``);
* the forecast of lab 09 (JFK, 6 hours ahead, 24-hour windows, walk-forward: test months November and December
  2013): MAE in °F of "same as yesterday", the linear baseline and the LSTM, for three seeds.

Run alone (``make bench-seq``) it refreshes only its sections of ``results.md``; ``make bench`` runs it too.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HEADING = "## Sequence models (lab 09)"
SHAPE = (64, 28, 28)
UNITS = 64
SEEDS = (0, 1, 2)


def _twins(dtype):
    import tensorflow as tf

    from labkit.nn import LSTM

    rng = np.random.default_rng(0)
    ours = LSTM(UNITS, return_sequences=False)
    ours.build(SHAPE[1:], rng, dtype)
    ours.params["bias"][:] = rng.normal(0, 0.5, ours.params["bias"].shape)
    theirs = tf.keras.layers.LSTM(UNITS, dtype=np.dtype(dtype).name)
    theirs.build((None, *SHAPE[1:]))
    theirs.set_weights(ours.get_weights())
    x = rng.normal(size=SHAPE).astype(dtype)
    upstream = rng.normal(size=(SHAPE[0], UNITS)).astype(dtype)
    return ours, theirs, x, upstream


def agreement() -> dict[str, float]:
    """Largest absolute difference of the outputs and relative error of each gradient, float64."""
    import tensorflow as tf

    from labkit.nn import relative_error

    ours, theirs, x, upstream = _twins(np.float64)
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        out = theirs(xv)
        value = tf.reduce_sum(out * upstream)
    grads = tape.gradient(value, [xv, *theirs.trainable_variables])
    result = {"output": float(np.abs(ours.forward(x) - out.numpy()).max())}
    mine = [ours.backward(upstream)] + [ours.grads[k] for k in ("kernel", "recurrent_kernel", "bias")]
    for name, a, b in zip(["x", "kernel", "recurrent_kernel", "bias"], mine, grads, strict=True):
        result[name] = relative_error(a, b.numpy())
    print("agreement:", {k: f"{v:.1e}" for k, v in result.items()})
    return result


def timings(repeats: int = 7) -> dict[str, tuple[float, float]]:
    """Best-of-``repeats`` seconds (labkit.nn, Keras) for a forward pass and for forward + backward, float32."""
    import tensorflow as tf

    ours, theirs, x, upstream = _twins(np.float32)
    xt, ut = tf.constant(x), tf.constant(upstream)

    @tf.function
    def keras_forward(v):
        return theirs(v)

    @tf.function
    def keras_both(v):
        with tf.GradientTape() as tape:
            tape.watch(v)
            value = tf.reduce_sum(theirs(v) * ut)
        return tape.gradient(value, [v, *theirs.trainable_variables])

    keras_forward(xt)   # trace the graphs before timing
    keras_both(xt)
    cases = {"forward": (lambda: ours.forward(x), lambda: keras_forward(xt).numpy()),
             "forward + backward": (lambda: (ours.forward(x), ours.backward(upstream)),
                                    lambda: [g.numpy() for g in keras_both(xt)])}
    out = {}
    for name, (mine, keras) in cases.items():
        a, b = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            mine()
            a.append(time.perf_counter() - start)
            start = time.perf_counter()
            keras()
            b.append(time.perf_counter() - start)
        out[name] = (min(a), min(b))
        print(f"{name}: labkit.nn {min(a) * 1e3:.1f} ms, Keras {min(b) * 1e3:.1f} ms")
    return out


def forecast_rows(seeds=SEEDS) -> tuple[list[str], dict]:
    from labkit import metrics
    from labkit.forecasting import fit_lstm_forecaster, forecast_data, linear_forecast, seasonal_naive

    data = forecast_data(window=24, horizon=6)
    test = data.test
    y = data.y[test]
    naive = metrics.mean_absolute_error(y, seasonal_naive(data.x[test], horizon=6))
    linear = metrics.mean_absolute_error(y, linear_forecast(data)[test])
    best = min(naive, linear)
    rows, lstm = [], []
    for seed in seeds:
        start = time.perf_counter()
        result = fit_lstm_forecaster(data, units=32, max_epochs=20, seed=seed, verbose=False)
        seconds = time.perf_counter() - start
        mae = metrics.mean_absolute_error(y, result["predict"][test])
        lstm.append(mae)
        rows.append(f"| {seed} | {result['epochs']} | {mae:.3f} | {mae - linear:+.3f} | {mae - naive:+.3f} | "
                    f"{'✓' if mae < best else '✗'} | {seconds:.0f} |")
        print(f"forecast seed {seed}: LSTM {mae:.3f} °F ({result['epochs']} epochs, {seconds:.0f} s); "
              f"linear {linear:.3f}, same as yesterday {naive:.3f}")
    return rows, {"naive": naive, "linear": linear, "lstm": lstm, "n_test": len(test)}


def sequences_section() -> list[str]:
    agree = agreement()
    times = timings()
    rows, fc = forecast_rows()
    mean = float(np.mean(fc["lstm"]))
    best = min(fc["naive"], fc["linear"])
    wins = sum(m < best for m in fc["lstm"])
    time_rows = [f"| {name} | {a * 1e3:.1f} | {b * 1e3:.1f} | {a / b:.1f}× |" for name, (a, b) in times.items()]
    return [
        f"{HEADING}: labkit.nn's LSTM vs Keras's on the same weights", "",
        f"A batch of {SHAPE[0]} sequences × {SHAPE[1]} steps × {SHAPE[2]} features (MNIST read row by row), "
        f"{UNITS} units, random weights and biases copied into `tf.keras.layers.LSTM` with `set_weights`.", "",
        "Agreement in float64 (largest absolute difference of the outputs; relative error ‖a − b‖ / (‖a‖ + ‖b‖) of "
        "each gradient against `tf.GradientTape`). Goal: below 1e-10.", "",
        "| quantity | value | goal |", "|---|---:|---|",
        *[f"| {'output' if k == 'output' else f'∂L/∂{k}'} | {v:.1e} | {'✓' if v < 1e-10 else '✗'} |"
          for k, v in agree.items()], "",
        "Time in float32, best of 7 interleaved runs (Keras inside `tf.function`, traced beforehand; labkit.nn is a "
        "NumPy loop over the 28 steps). No goal: labkit.nn is written to be read.", "",
        "| pass | labkit.nn (ms) | Keras (ms) | time ratio |", "|---|---:|---:|---:|", *time_rows, "",
        f"{HEADING}: forecasting the temperature at JFK", "",
        f"Lab 09's experiment at its default sizes: 6 hours ahead from 24-hour windows of 9 columns (temperature, dew "
        f"point, humidity, wind speed, pressure, hour of day and day of year as sin/cos). Walk-forward: training "
        f"targets before 1 September 2013 (all three airports), validation September–October at JFK (early "
        f"stopping, patience 3, at most 20 epochs), then a fresh network trained that many epochs on January–October; "
        f"tested on the {fc['n_test']:,} JFK targets of November–December. MAE in °F (`labkit.metrics`). Goal: "
        f"the LSTM beats the best baseline.", "",
        "| forecaster | MAE (°F) |", "|---|---:|",
        f"| same as yesterday (24 h seasonal naive) | {fc['naive']:.3f} |",
        f"| linear (ridge on the standardised window) | {fc['linear']:.3f} |",
        f"| LSTM(32), mean of {len(fc['lstm'])} seeds | {mean:.3f} |", "",
        "| seed | epochs chosen | LSTM MAE | vs linear | vs same as yesterday | beats both | seconds |",
        "|---:|---:|---:|---:|---:|---|---:|", *rows, "",
        f"Mean LSTM **{mean:.3f} °F** against the best baseline (linear) **{best:.3f} °F**: "
        f"{mean - best:+.3f} °F {'✓' if mean < best else '✗'}; {wins} of {len(fc['lstm'])} seeds beat it.", "",
    ]


if __name__ == "__main__":
    from pathlib import Path

    from sections import refresh

    here = Path(__file__).parent
    refresh(here / "results.md", HEADING, sequences_section())
    print(f"wrote {here / 'results.md'}")
