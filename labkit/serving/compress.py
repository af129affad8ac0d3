"""Smaller models for serving: TensorFlow Lite at 32-bit floats, 16-bit floats and 8-bit integer weights.

A served model is loaded by every replica and shipped to every phone; its size is memory, start-up time and
download. Storing each weight as a 16-bit float halves it; *dynamic-range quantisation* stores weights as 8-bit
integers with one scale per tensor (about a quarter of the float32 size) and computes in floats. Whether the
accuracy survives is measured, never assumed: :func:`compare_sizes` converts a Keras model three ways and scores
each conversion with TensorFlow Lite's own interpreter on held-out data.

>>> list(VARIANTS)
['float32', 'float16', 'int8 weights']
"""

from __future__ import annotations

import logging
import tempfile
from typing import Any

import numpy as np

from labkit._system import native_output_to

VARIANTS = {"float32": None, "float16": "float16", "int8 weights": "dynamic"}


def to_tflite(model: Any, variant: str = "float32") -> bytes:
    """The Keras ``model`` as a TensorFlow Lite flat buffer: ``float32``, ``float16`` or ``int8 weights``."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {list(VARIANTS)}, got {variant!r}.")
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if VARIANTS[variant]:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if VARIANTS[variant] == "float16":
        converter.target_spec.supported_types = [tf.float16]
    tf_log = logging.getLogger("tensorflow")
    level = tf_log.level
    tf_log.setLevel(logging.ERROR)  # "Assets written to …" for every conversion
    try:
        with native_output_to(), tempfile.TemporaryDirectory():
            return converter.convert()
    finally:
        tf_log.setLevel(level)


def tflite_predict(flat_buffer: bytes, x: np.ndarray) -> np.ndarray:
    """The converted model's outputs for the batch ``x``, computed by TensorFlow Lite's interpreter."""
    import tensorflow as tf

    with native_output_to():
        interpreter = tf.lite.Interpreter(model_content=flat_buffer)
        source, sink = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        interpreter.resize_tensor_input(source["index"], [len(x), *x.shape[1:]])
        interpreter.allocate_tensors()
        interpreter.set_tensor(source["index"], np.asarray(x, dtype=np.float32))
        interpreter.invoke()
        return interpreter.get_tensor(sink["index"])


def compare_sizes(model: Any, x_test: np.ndarray, y_test: np.ndarray):
    """Size and test accuracy of the Keras model and of its three TensorFlow Lite conversions, side by side."""
    import pandas as pd

    keras_accuracy = float(np.mean(model.predict(x_test, verbose=0).argmax(axis=1) == y_test))
    rows = [{"model": "Keras (float32 weights)", "bytes": int(sum(w.size * 4 for w in model.get_weights())),
             "accuracy": keras_accuracy}]
    for variant in VARIANTS:
        buffer = to_tflite(model, variant)
        accuracy = float(np.mean(tflite_predict(buffer, x_test).argmax(axis=1) == y_test))
        rows.append({"model": f"TFLite {variant}", "bytes": len(buffer), "accuracy": accuracy})
    table = pd.DataFrame(rows)
    table["size vs float32"] = table["bytes"] / table.loc[1, "bytes"]
    return table
