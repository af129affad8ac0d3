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


# -- labkit.distributed.horovod: the launchers the lab uses ------------------------------------------------------
TRAIN = {"epochs": 2, "n_train": 1200, "batch_size": 50, "hidden_units": (32,)}


def _check_identical_ranks(results, tmp_path=None):
    from labkit.distributed.horovod import identical_weights

    assert [r["rank"] for r in results] == [0, 1] and all(r["size"] == 2 for r in results)
    assert all(r["samples_per_rank"] == 600 for r in results)            # equal, disjoint shards
    assert identical_weights(results)
    for a, b in zip(results[0]["weights"], results[1]["weights"], strict=True):
        np.testing.assert_array_equal(a, b)
    # metrics are averaged over ranks, so both report the same history; training learnt something
    assert results[0]["history"] == results[1]["history"]
    assert results[0]["test_accuracy"] == results[1]["test_accuracy"] > 0.6
    assert results[0]["learning_rate"] == pytest.approx(2 * 0.001)       # lr × size


@pytest.mark.slow
def test_run_local_trains_two_ranks_to_identical_weights_and_only_rank_0_checkpoints(tmp_path: Path):
    from labkit.distributed.horovod import run_local, train_mnist

    results = run_local(train_mnist, np=2, kwargs={**TRAIN, "checkpoint_path": str(tmp_path / "rank{rank}.h5")})
    _check_identical_ranks(results)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rank0.h5"]
    # the checkpoint holds the trained weights
    from labkit.dl import build_ann

    model = build_ann((32,))
    model.load_weights(tmp_path / "rank0.h5")
    for a, b in zip(model.get_weights(), results[0]["weights"], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_ranks_start_from_different_weights_so_identical_results_are_earned():
    from labkit.dl import build_ann

    a = build_ann((32,), seed=0).get_weights()
    b = build_ann((32,), seed=1).get_weights()
    assert not np.array_equal(a[0], b[0])


@pytest.mark.slow
def test_horovod_on_spark_trains_two_ranks_to_identical_weights():
    from labkit.distributed.horovod import run_on_spark, train_mnist
    from labkit.spark import get_spark

    spark = get_spark()
    if spark.sparkContext.defaultParallelism < 2:
        pytest.fail("Spark has fewer than 2 task slots on this machine: Horovod on Spark needs 2")
    _check_identical_ranks(run_on_spark(train_mnist, num_proc=2, kwargs=TRAIN, spark=spark))


def test_horovodrun_command_and_rank_helpers():
    from labkit.distributed.horovod import horovodrun_command, is_chief, log

    assert horovodrun_command("train.py", hosts="a:2,b:4", script_args=["--epochs", "3"]) == \
        "horovodrun -np 6 -H a:2,b:4 --gloo python train.py --epochs 3"
    with pytest.raises(ValueError, match="host1:2,host2:2"):
        horovodrun_command("train.py", hosts="a,b")
    assert is_chief()
    log("printed once")


def test_run_on_spark_refuses_spark_connect_and_too_few_slots_with_the_fix():
    from types import SimpleNamespace

    from labkit.distributed.horovod import run_on_spark

    connect_session = type("SparkSession", (), {"__module__": "pyspark.sql.connect.session"})()
    with pytest.raises(ValueError, match="unset LABKIT_SPARK_REMOTE"):
        run_on_spark(print, num_proc=2, spark=connect_session)
    one_core = SimpleNamespace(sparkContext=SimpleNamespace(defaultParallelism=1, master="local[1]"))
    with pytest.raises(ValueError, match=r"1 task slots, fewer than num_proc=2.*local\[N\]"):
        run_on_spark(print, num_proc=2, spark=one_core)
    with pytest.raises(ValueError, match="num_proc must be an integer ≥ 1"):
        run_on_spark(print, num_proc=0, spark=one_core)
