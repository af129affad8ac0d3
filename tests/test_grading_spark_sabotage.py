"""One learner can never cost another a point through the shared Spark server.

Learner UDFs run in the grading run's one Spark Connect server. Four submissions of a small Spark lab attack
it from inside a UDF, as an attacker who has read labkit's source would: kill every process of the server's
user, hold its task slots forever, fill its disk, exhaust its task limit. They are graded in one run beside
four correct submissions. Every correct one must keep full marks; the kill does not take the server down
(it is PID 1 of its own PID namespace); each saboteur that does break it is found by replay (regraded alone,
it breaks the server again), keeps what it earned before, and is flagged; the gradebook holds exactly one
row per learner and question; and nothing of a sandbox's user outlives the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest
from scratch import PROBE_LAB, gradebook_rows, probe_lab, scratch_course, scratch_env, spark_probe_cells

from labkit.grading import sandbox

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox needs Linux")]

BIN = Path(sys.executable).parent
UDF = ('def total(n):\n    from pyspark.sql import functions as F\n{body}'
       '    spark.range(4, numPartitions=4).select(F.udf(harm, "long")("id")).collect()\n    return 0\n')
SABOTAGE = {
    "kill": "    def harm(x):\n        import os, signal\n        os.kill(-1, signal.SIGKILL)\n        return x\n",
    "stall": "    def harm(x):\n        import time\n        time.sleep(3600)\n        return x\n",
    "fill": ("    def harm(x):\n        import os\n        with open(f'/tmp/fill-{os.getpid()}', 'wb') as fh:\n"
             "            for _ in range(8):\n                fh.write(b'0' * 2**30)\n        return x\n"),
    "fork": ("    def harm(x):\n        import os, time\n        while True:\n            try:\n"
             "                os.fork()\n            except OSError:\n                time.sleep(1)\n"),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("spark-sabotage")
    course = scratch_course(base / "course", [])
    probe_lab(course, spark_probe_cells())
    released = nbformat.read(course / "labs" / PROBE_LAB / f"{PROBE_LAB}.ipynb", as_version=4)
    solution = nbformat.read(course / "solutions" / PROBE_LAB / f"{PROBE_LAB}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source.replace("    ### BEGIN SOLUTION\n", "")
               .replace("    ### END SOLUTION", "") for c in solution.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    subs = base / "subs"
    subs.mkdir()
    learners = [f"perfect{i}" for i in range(4)]
    order = ["perfect0", "kill", "perfect1", "stall", "perfect2", "fill", "perfect3", "fork"]
    for name in order:
        nb = nbformat.from_dict(json.loads(json.dumps(released)))
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers:
                cell.source = answers[gid]
            if gid == "total_solution" and name in SABOTAGE:
                cell.source = UDF.format(body=SABOTAGE[name])
        nbformat.write(nb, subs / f"{name}.ipynb")
    env = {**os.environ, **scratch_env(course)}
    proc = subprocess.run([str(BIN / "labkit"), "grade", PROBE_LAB, str(subs), "--workers", "2", "--cell-timeout",
                           "45", "--notebook-timeout", "240"], env=env, capture_output=True, text=True, timeout=1800)
    totals: dict[str, float] = {}
    for student, _, score in gradebook_rows(course):
        totals[student] = round(totals.get(student, 0) + (score or 0), 4)
    return {"course": course, "proc": proc, "totals": totals, "learners": learners, "order": order}


def test_the_run_finishes_and_says_the_server_was_restarted(graded):
    proc = graded["proc"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "the shared Spark server broke" in proc.stdout


def test_every_correct_submission_keeps_full_marks(graded):
    for learner in graded["learners"]:
        assert graded["totals"][learner] == 5, graded["proc"].stdout[-4000:]


@pytest.mark.parametrize("saboteur", sorted(SABOTAGE))
def test_each_saboteur_earns_nothing_from_its_sabotage(graded, saboteur):
    assert graded["totals"][saboteur] <= 2  # evens may have been earned before the sabotage; total never


@pytest.mark.parametrize("saboteur", ["stall", "fork"])  # filling the disk may leave the server answering
def test_a_saboteur_that_breaks_the_server_is_found_by_replay_and_flagged(graded, saboteur):
    lines = {line.split()[0]: line for line in graded["proc"].stdout.splitlines() if line and not line.startswith(" ")}
    assert "broke the shared Spark server" in lines[saboteur], lines[saboteur]


def test_killing_every_process_of_the_server_s_user_leaves_the_server_running(graded):
    """The server is PID 1 of its own PID namespace and ignores the signals it has no handler for: kill(-1)
    from a UDF takes only its Python workers, which Spark restarts."""
    lines = {line.split()[0]: line for line in graded["proc"].stdout.splitlines() if line and not line.startswith(" ")}
    assert "broke the shared Spark server" not in lines["kill"], lines["kill"]


def test_one_row_per_learner_and_question_and_nothing_left_running(graded):
    rows = gradebook_rows(graded["course"])
    counts = Counter((student, question) for student, question, _ in rows)
    assert set(counts.values()) == {1} and len(counts) == 2 * len(graded["order"])
    ps = subprocess.run(["ps", "-eo", "uid=,stat="], capture_output=True, text=True).stdout.splitlines()
    alive = [line.split() for line in ps if not line.split()[1].startswith("Z")]  # zombies wait for init
    assert not [uid for uid, _ in alive if int(uid) >= sandbox.FIRST_UID]
