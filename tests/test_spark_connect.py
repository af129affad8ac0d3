"""A real Spark Connect server: start/stop/status, and lab 01 run through it unchanged."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.slow
PORT = 15097


@pytest.fixture(scope="module")
def server():
    from labkit import spark_connect

    url = spark_connect.start(PORT)
    yield url
    spark_connect.stop(PORT)


def test_status_start_stop_cycle(server):
    from labkit import spark_connect

    assert server == f"sc://127.0.0.1:{PORT}"
    assert spark_connect.status(PORT)["running"]
    assert spark_connect.start(PORT) == server  # idempotent


def test_a_client_session_computes_through_the_server(server):
    # a fresh process: PySpark refuses a remote session beside the classic one other tests start
    code = ("from labkit.spark import get_spark, is_connect, load_flights; s = get_spark('t'); "
            "print(is_connect(s), load_flights(s, 'airlines').count())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "LABKIT_SPARK_REMOTE": server})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "16"]


def test_lab01_runs_unchanged_over_spark_connect(server, course_copy: Path):
    env = {**os.environ, "LABKIT_SPARK_REMOTE": server}
    out = subprocess.run([sys.executable, "-m", "labkit.cli", "run", "01_spark_essentials", "--fast"],
                         capture_output=True, text=True, env=env, cwd=course_copy, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    nb = nbformat.read(course_copy / "build/executed/fast/01_spark_essentials.ipynb", as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    text = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "'mode': 'Spark Connect'" in text
    scores = [o["data"]["text/plain"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
              for o in c.outputs if o.output_type == "execute_result"]
    points = [c.metadata.nbgrader.points for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert [float(s) for s in scores] == [float(p) for p in points], "the solution earns full marks over Connect"


def test_cli_status_exit_codes():
    out = subprocess.run([sys.executable, "-m", "labkit.cli", "spark-connect", "status", "--port", "15098"],
                         capture_output=True, text=True)
    assert out.returncode == 3 and "not running" in out.stdout


def test_asha_trials_run_as_spark_tasks_over_connect(server):
    """The Spark executor needs no SparkContext: trials travel as mapInPandas jobs through the Connect server."""
    code = ("from labkit.spark import get_spark, is_connect\n"
            "from labkit.hpo import ASHA, RandomSearcher, SparkExecutor, tune\n"
            "from labkit.hpo.tasks import MnistSGDTask\n"
            "task = MnistSGDTask(n_train=500, n_val=200); s = get_spark('t')\n"
            "with SparkExecutor(s, n_workers=2) as ex:\n"
            "    exp = tune(task, ASHA(RandomSearcher(task.space(), seed=0), n_trials=6, max_resource=3),"
            " executor=ex, progress=False)\n"
            "print(is_connect(s), len(exp.scheduler.trials), exp.compute, 0 < exp.best_metric <= 1, len(exp.errors))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "LABKIT_SPARK_REMOTE": server})
    assert out.returncode == 0, out.stderr[-3000:]
    connect, trials, compute, sane, errors = out.stdout.split()
    assert (connect, trials, sane, errors) == ("True", "6", "True", "0") and int(compute) >= 6
