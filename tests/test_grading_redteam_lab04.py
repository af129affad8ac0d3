"""Red-team cases against a real lab (04, metrics), from a red-team session that had read labkit's source.

Every attack is graded beside its *control*: the same constant answers without the attack. An attack must
earn no more than its control (the constants can legitimately match a visible check, the attack must add
nothing), and a correct submission that uses a thread pool keeps full marks. Nothing a hidden test binds
(its inputs, its ``Checks``, the seed) may reach the learner's later cells.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from scratch import gradebook_rows, scratch_course, scratch_env

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox needs Linux")]

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]
LAB = "04_metrics"
CONSTANTS = {
    "regression_solution": "def mse(y_true, y_pred):\n    return 0.0\ndef mae(y_true, y_pred):\n    return 0.0\n"
                           "def r2(y_true, y_pred):\n    return 0.5\n",
    "classification_solution": "def confusion_counts(y_true, y_pred, positive=1):\n    return [0, 0, 0, 0]\n"
                                "def precision_recall_f1(tp, fp, fn):\n    return [1.0, 1.0, 1.0]\n",
    "auc_solution": "def roc_auc(y_true, y_score):\n    return 0.5\n",
    "rand_solution": "def rand_index(labels_a, labels_b):\n    return 1.0\n",
}
ATTACKS = {
    # scikit-learn's @validate_params hands the hidden test's arrays to inspect.Signature.bind: make them trivial
    "signature_bind": ("regression_solution",
                       "import numpy, sklearn.utils._param_validation\n"
                       "_Sig = type(sklearn.utils._param_validation.signature(mse))\n_orig = _Sig.bind\n"
                       "def _bind(self, *args, **kwargs):\n    names = list(self.parameters)[:2]\n"
                       "    if len(args) >= 2 and type(args[0]) is numpy.ndarray and type(args[1]) is numpy.ndarray:\n"
                       "        if names == ['y_true', 'y_pred'] and args[0].dtype.kind == 'f':\n"
                       "            args[1][:] = 0\n            args[0][:] = 0\n"
                       "        elif names == ['y_true', 'y_score']:\n            args[1][:] = 0.5\n"
                       "        elif names == ['labels_true', 'labels_pred']:\n            args[1][:] = args[0]\n"
                       "    return _orig(self, *args, **kwargs)\n_Sig.bind = _bind\n"),
    # library classes patched: the test's expected confusion matrix and Rand index become the constants'
    "class_patch": ("rand_solution",
                    "import numpy, scipy.sparse._coo, scipy.sparse._base\n"
                    "scipy.sparse._coo._coo_base.toarray = lambda self, *a, **k: numpy.zeros(self.shape, dtype=int)\n"
                    "scipy.sparse._base._spbase.dot = lambda self, other: self\n"
                    "KMeans.fit_predict = lambda self, X, y=None, sample_weight=None: iris.target\n"),
    # the notebook's own names the tests read, rebound
    "globals": ("auc_solution",
                "import numpy\nclass _NumPy:\n    where, round, full = numpy.where, numpy.round, numpy.full\n"
                "    asarray, array = numpy.asarray, numpy.array\n"
                "    @staticmethod\n    def sum(x, *a, **k):\n        return 0\n"
                "np = _NumPy()\nscore = numpy.full(len(c_te), 0.5)\n"
                "class KMeans:\n    def __init__(self, *a, **k):\n        pass\n"
                "    def fit_predict(self, X, y=None):\n        return numpy.zeros(len(X), dtype=int)\n"),
    # the test's own arrays changed in place, so that the next expected values follow the learner's answer
    "in_place": ("regression_solution",
                 "def mse(y_true, y_pred):\n    y_pred[:] = y_true\n    return 0.0\n"
                 "def mae(y_true, y_pred):\n    return 0.0\ndef r2(y_true, y_pred):\n    return 1.0\n"),
    # a thread that patches scikit-learn's metrics through trusted callbacks (copy.copy), at C level
    "thread_race": ("regression_solution",
                    "import collections, copy, itertools, operator, sys, threading, sklearn.metrics\n"
                    "def _zero(*a, **k):\n    return 0.0\ndef _one(*a, **k):\n    return 1.0\n"
                    "_table = operator.attrgetter(''.join(reversed('__tcid__')))(sklearn.metrics)\n"
                    "_names = ['mean_squared_error', 'mean_absolute_error', 'r2_score', 'rand_score']\n"
                    "_fakes = [_zero, _zero, _one, _one]\nsys.setswitchinterval(1e-6)\n"
                    "threading.Thread(target=collections.deque, args=(map(_table.__setitem__, "
                    "itertools.cycle(_names), map(copy.copy, itertools.cycle(_fakes))),), kwargs={'maxlen': 0}, "
                    "daemon=True).start()\n"),
}
LEAK = "print('LEAK', [name for name in ('yt', 'yp', 'checks', 'labels', 'guess') if name in dir()])\n"


def _build(answers: dict[str, str], extra: dict[str, str] | None = None):
    nb = nbformat.read(ROOT / "grading" / "demo" / LAB / "blank.ipynb", as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid] + (extra or {}).get(gid, "")
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("redteam04")
    course = scratch_course(base / "course", [LAB])
    subs = base / "subs"
    subs.mkdir()
    nbformat.write(_build(CONSTANTS), subs / "control.ipynb")
    for name, (gid, code) in ATTACKS.items():
        nbformat.write(_build(CONSTANTS, {gid: "\n" + code}), subs / f"{name}.ipynb")
    perfect = nbformat.read(ROOT / "grading" / "demo" / LAB / "perfect.ipynb", as_version=4)
    for cell in perfect.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "rand_solution":
            cell.source = cell.source.replace("def rand_index(", "def _rand_index(") + (
                "\nfrom concurrent.futures import ThreadPoolExecutor\n_pool = ThreadPoolExecutor(max_workers=2)\n"
                "def rand_index(labels_a, labels_b):\n"
                "    return _pool.submit(_rand_index, labels_a, labels_b).result()\n")
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "classification_solution":
            cell.source = LEAK + cell.source
    nbformat.write(perfect, subs / "threads_and_leak.ipynb")
    env = {**os.environ, **scratch_env(course)}
    proc = subprocess.run([str(BIN / "labkit"), "grade", LAB, str(subs), "--workers", "2"], env=env,
                          capture_output=True, text=True, timeout=1200)
    totals: dict[str, float] = {}
    for student, _, score in gradebook_rows(course):
        totals[student] = round(totals.get(student, 0) + (score or 0), 4)
    return {"course": course, "proc": proc, "totals": totals}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_earns_nothing_beyond_its_control(graded, attack):
    totals = graded["totals"]
    assert totals[attack] <= totals["control"], graded["proc"].stdout[-3000:]


def test_a_correct_answer_on_a_thread_pool_keeps_full_marks_and_tests_leave_no_names(graded):
    assert graded["totals"]["threads_and_leak"] == 10, graded["proc"].stdout[-3000:]
    autograded = graded["course"] / "grading" / "autograded" / "threads_and_leak" / LAB / f"{LAB}.ipynb"
    text = json.dumps([c.get("outputs") for c in nbformat.read(autograded, as_version=4).cells])
    assert "LEAK []" in text
