"""A real 2-process Horovod job over Gloo: both ranks must end with identical weights."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = '''
import os, sys
import numpy as np
import tensorflow as tf
import horovod.tensorflow.keras as hvd

hvd.init()
tf.random.set_seed(1234 + hvd.rank())          # different initial weights per rank on purpose
rng = np.random.default_rng(hvd.rank())         # and different data shards
x = rng.normal(size=(256, 8)).astype("float32")
y = (x.sum(axis=1, keepdims=True) > 0).astype("float32")
model = tf.keras.Sequential([tf.keras.layers.Dense(16, activation="relu", input_shape=(8,)),
                             tf.keras.layers.Dense(1, activation="sigmoid")])
opt = hvd.DistributedOptimizer(tf.keras.optimizers.SGD(0.05 * hvd.size()))
model.compile(optimizer=opt, loss="binary_crossentropy")
initial = model.get_weights()                   # rank 0's are what the callback broadcasts
model.fit(x, y, batch_size=32, epochs=2, verbose=0,
          callbacks=[hvd.callbacks.BroadcastGlobalVariablesCallback(0)])
np.savez(os.path.join(sys.argv[1], f"rank{hvd.rank()}.npz"), *model.get_weights(), size=hvd.size(),
         initial0=initial[0])
'''


@pytest.mark.slow
def test_two_process_horovodrun_with_gloo_ends_with_identical_weights(tmp_path: Path):
    horovodrun = shutil.which("horovodrun", path=str(Path(sys.executable).parent))
    assert horovodrun, "horovodrun is not installed in the venv: run `make setup`"
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    out = subprocess.run([horovodrun, "-np", "2", "-H", "localhost:2", "--gloo", sys.executable, str(script),
                          str(tmp_path)], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    ranks = [np.load(tmp_path / f"rank{r}.npz") for r in (0, 1)]
    assert int(ranks[0]["size"]) == int(ranks[1]["size"]) == 2
    keys = [k for k in ranks[0].files if k.startswith("arr_")]
    assert len(keys) == 4
    for k in keys:
        np.testing.assert_array_equal(ranks[0][k], ranks[1][k])
    # the ranks started from different weights, and training moved them away from rank 0's broadcast start
    assert not np.allclose(ranks[0]["initial0"], ranks[1]["initial0"])
    assert not np.allclose(ranks[0]["arr_0"], ranks[0]["initial0"])
