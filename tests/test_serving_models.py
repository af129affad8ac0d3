"""Lab 10's model files: TensorBoard's event files read back equal Keras's own history; TensorFlow Lite
conversions agree with Keras at the precision each keeps, at the size each promises."""

import os

import numpy as np
import pytest

from labkit._system import native_output_to
from labkit.serving.compress import compare_sizes, tflite_predict, to_tflite
from labkit.serving.tensorboard import read_scalars

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import tensorflow as tf

    from labkit.datasets import load_mnist
    from labkit.dl.progression import two_hidden_layers

    x, y, x_test, y_test = load_mnist(normalize=True, flatten=True)
    model = two_hidden_layers()
    logs = tmp_path_factory.mktemp("tensorboard")
    history = model.fit(x[:1500], y[:1500], epochs=3, validation_split=0.2, verbose=0,
                        callbacks=[tf.keras.callbacks.TensorBoard(str(logs))])
    return model, history.history, logs, x_test[:500], y_test[:500]


def test_the_event_files_hold_kerass_own_history(trained):
    _, history, logs, _, _ = trained
    scalars = read_scalars(logs)
    for run, prefix in (("train", ""), ("validation", "val_")):
        for metric in ("loss", "accuracy"):
            found = scalars[(scalars["run"] == run) & (scalars["tag"] == f"epoch_{metric}")]
            assert found["step"].tolist() == [0, 1, 2]
            assert np.allclose(found["value"], history[prefix + metric], rtol=1e-6)


def test_tflite_agrees_with_keras_at_each_precision(trained):
    model, _, _, x_test, y_test = trained
    keras = model.predict(x_test, verbose=0)
    assert np.allclose(tflite_predict(to_tflite(model, "float32"), x_test), keras, atol=1e-5)
    assert np.allclose(tflite_predict(to_tflite(model, "float16"), x_test), keras, atol=1e-2)
    table = compare_sizes(model, x_test, y_test).set_index("model")
    assert table.loc["TFLite float16", "size vs float32"] == pytest.approx(0.5, abs=0.05)
    assert table.loc["TFLite int8 weights", "size vs float32"] == pytest.approx(0.25, abs=0.05)
    assert abs(table.loc["TFLite int8 weights", "accuracy"] - table.loc["TFLite float32", "accuracy"]) <= 0.02
    with pytest.raises(ValueError, match="variant must be one of"):
        to_tflite(model, "int4")


def test_native_output_goes_to_the_log_not_the_notebook(tmp_path, capfd):
    log = tmp_path / "native.log"
    with native_output_to(log):
        os.write(1, b"converter summary\n")
        os.write(2, b"C++ warning\n")
    os.write(1, b"after\n")
    assert capfd.readouterr().out == "after\n"
    assert log.read_text() == "converter summary\nC++ warning\n"


def test_reading_a_folder_without_events_gives_an_empty_table(tmp_path):
    assert read_scalars(tmp_path).empty
