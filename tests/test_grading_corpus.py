"""The hostile-submission corpus: every case graded in one real `labkit grade` run, in sandboxed kernels.

Each case is a submission of the two-task probe lab (square: 2 points, mean: 3 points) with the grade
it must get. For every case the grader must finish, the control submissions graded alongside must keep
full marks, the gradebook must hold exactly one row per learner and question, and no hidden-test line may
appear in anything a learner sees (the grader's output, the feedback HTML, the released notebook).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest
from scratch import PROBE_LAB, gradebook_rows, probe_lab, scratch_course, scratch_env

from labkit._env import environment
from labkit.grading import sandbox
from labkit.grading.intake import hidden_lines

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox needs Linux")

BIN = Path(sys.executable).parent
SQUARE_OK = "def square(x):\n    return x * x"
MEAN_OK = "def mean(xs):\n    return float(np.mean(xs))"
SQUARE_WRONG = "def square(x):\n    return 0"

# learner -> (expected total, what it does to the answers (square cell, mean cell) or a notebook transform)
CASES: dict[str, float] = {}
BUILDERS: dict[str, object] = {}


def case(name: str, expected: float):
    def register(fn):
        CASES[name] = expected
        BUILDERS[name] = fn
        return fn
    return register


def answers(square: str = SQUARE_OK, mean: str = MEAN_OK):
    def build(nb):
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid == "square_solution":
                cell.source = square
            elif gid == "mean_solution":
                cell.source = mean
        return nb
    return build


def cells_by_id(nb) -> dict:
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}


for i in range(3):
    case(f"control{i}", 5)(answers())
case("blank", 0)(lambda nb: nb)
case("infinite_loop", 2)(answers(mean="while True:\n    pass\n" + MEAN_OK))
case("memory_bomb", 2)(answers(mean="hog = b'x' * (3 * 1024**3)\n" + MEAN_OK))
case("fork_bomb", 5)(answers(mean=(
    "import os, time\nchildren = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
    "            time.sleep(3600)\n            os._exit(0)\n        children += 1\n"
    "except OSError as exc:\n    print('fork refused after', children, 'children:', exc)\n" + MEAN_OK)))
case("sys_exit", 3)(answers(square="import sys\nsys.exit()\n" + SQUARE_OK))
case("raise_systemexit", 3)(answers(square="raise SystemExit(1)\n" + SQUARE_OK))
case("os_exit", 2)(answers(mean="import os\nos._exit(3)\n" + MEAN_OK))
case("segfault", 2)(answers(mean="import ctypes\nctypes.string_at(0)\n" + MEAN_OK))
case("kill_everything", 5)(answers(mean="import os, signal\nos.kill(-1, signal.SIGKILL)\n" + MEAN_OK))
case("kill_the_grader", 5)(answers(mean=(
    "import os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGKILL)\nexcept OSError as exc:\n"
    "    print('refused:', exc)\n" + MEAN_OK)))
case("huge_output", 5)(answers(square="print('x' * 100_000_000)\n" + SQUARE_OK))
case("patch_allclose", 3)(answers(square="np.allclose = lambda *a, **k: True\n" + SQUARE_WRONG))
case("patch_builtins", 3)(answers(square=(
    "import builtins\nbuiltins.round = lambda *a, **k: 2.0\nbuiltins.print = lambda *a, **k: None\n"
    "builtins.min = lambda *a, **k: 1\nbuiltins.max = lambda *a, **k: 1\n" + SQUARE_WRONG)))
case("float_patch_undone", 5)(answers(square="import builtins\nbuiltins.float = lambda *a: 9.0\n" + SQUARE_OK))
case("break_builtins", 0)(answers(square="import builtins\nbuiltins.isinstance = lambda *a: True\n" + SQUARE_OK))
case("fake_checks_class", 3)(answers(square=(
    "class Checks:\n    def __init__(self, points):\n        self.points = points\n"
    "    def close(self, *a, **k):\n        return True\n    def check(self, *a, **k):\n        return True\n"
    "    def score(self):\n        return self.points\n" + SQUARE_WRONG)))
case("patch_checks_methods", 3)(answers(square=(
    "from labkit.grading.checks import Checks as C\nC.close = lambda self, *a, **k: True\n"
    "C.score = lambda self: self.points\n" + SQUARE_WRONG)))
case("patch_during_test", 3)(answers(square=(
    "def square(x):\n    import labkit.grading.checks as c\n    c._allclose = lambda *a, **k: True\n"
    "    import numpy\n    numpy.allclose = lambda *a, **k: True\n    return 0")))
case("read_hidden_tests", 5)(answers(square=(
    "import glob, os\nfound = []\nfor pattern in ['{root}/solutions/**/*.ipynb', '{root}/grading/**/*',\n"
    "                '{root}/**/source_with_tests/**', '/tmp/**/*.ipynb', '{subs}/*.ipynb']:\n"
    "    found += glob.glob(pattern, recursive=True)\nprint('found', len(found), 'files')\n"
    "for path in found:\n    try:\n        print(open(path).read()[:200])\n    except OSError as exc:\n"
    "        print('refused', exc)\n" + SQUARE_OK)))
case("write_gradebook", 5)(answers(square=(
    "for path in ['{root}/grading/gradebook.db', '{root}/nbgrader_config.py', '{subs}/control0.ipynb',\n"
    "             '{root}/labs/00_probe/00_probe.ipynb']:\n    try:\n        open(path, 'w').write('pwned')\n"
    "        print('WROTE', path)\n    except OSError as exc:\n        print('refused', type(exc).__name__)\n"
    + SQUARE_OK)))
case("network", 5)(answers(square=(
    "import socket\nfor address in [('127.0.0.1', {port}), ('1.1.1.1', 80), ('10.0.0.1', 22)]:\n    try:\n"
    "        socket.create_connection(address, timeout=2)\n        print('CONNECTED', address)\n"
    "    except OSError as exc:\n        print('refused', address, type(exc).__name__)\n" + SQUARE_OK)))
case("stderr_warnings", 5)(answers(square=(
    "import os, sys\nprint('W tensorflow/core/platform/cpu_feature_guard.cc:182] This TensorFlow binary is "
    "optimized', file=sys.stderr)\n"
    "def square(x):\n    os.write(2, b'WARN NativeCodeLoader: Unable to load native-hadoop library\\n')\n"
    "    import warnings\n    warnings.warn('tf.losses.sparse_softmax_cross_entropy is deprecated')\n"
    "    return x * x")))
case("reads_its_own_frames", 5)(answers(square=(
    "import sys\ndef square(x):\n    frame = sys._getframe(1)\n    while frame is not None:\n"
    "        print(frame.f_code.co_consts)\n        frame = frame.f_back\n    print(In)\n    return x * x")))


# ---- score forging: a blank submission plus a trick, written by someone who has read labkit's source. Each must
# earn nothing; FLAGGED names the flag each must also raise for review.
SQUARE_BLANK = "def square(x):\n    raise NotImplementedError()"
FLAGGED: dict[str, str] = {}


def forge(name: str, code: str, flag: str = "", expected: float = 0):
    FLAGGED.update({name: flag} if flag else {})
    case(name, expected)(answers(square=SQUARE_BLANK + "\n" + code, mean=MEAN_BLANK))


MEAN_BLANK = "if 'mean' not in dir():\n    def mean(xs):\n        raise NotImplementedError()"


SHOW_FIVE = "lambda *a, **k: print(5)"
forge("forge_showtraceback", "import IPython.core.interactiveshell\n"
      "IPython.core.interactiveshell.InteractiveShell.showtraceback = lambda *args, **kwargs: None", "IPython")
forge("forge_showtraceback_none", "import IPython.core.interactiveshell\n"
      "IPython.core.interactiveshell.InteractiveShell.showtraceback = None", "IPython")
forge("forge_displayhook", "ip = get_ipython()\nclass Hook:\n    def __call__(self, value):\n        print(5)\n"
      "    def __getattr__(self, name):\n        return getattr(ip.__dict__['displayhook'], name)\n"
      "ip.displayhook = Hook()\nimport sys\nsys.displayhook = Hook()", "get_ipython")
forge("forge_formatter", "from IPython import get_ipython as g\nf = g().display_formatter.formatters['text/plain']\n"
      "f.for_type(float, lambda o, p, c: p.text('5'))\nf.for_type(type(None), lambda o, p, c: p.text('5'))",
      "get_ipython")
forge("forge_ast_transformer", "import ast, IPython\nclass Five(ast.NodeTransformer):\n"
      "    def visit_Module(self, node):\n        return ast.parse('5')\n"
      "IPython.get_ipython().ast_transformers.append(Five())", "score tampering")
forge("forge_input_transformer", "import importlib\nshell = importlib.import_module('IPython').get_ipython()\n"
      "shell.input_transformers_post.append(lambda lines: ['5\\n'])", "score tampering")
forge("forge_events", "import sys\nshell = sys.modules['IPython'].get_ipython()\n"
      "shell.events.register('post_run_cell', lambda result: print('5/5 checks passed'))", "sys.modules")
forge("forge_custom_exc", "m = __import__('IP' + 'ython')\nshell = m.get_ipython()\n"
      "shell.set_custom_exc((BaseException,), lambda *a, **k: print(5))", "__import__")
forge("forge_run_cell", "shell = get_ipython()\nreal = shell.run_cell\n"
      "shell.run_cell = lambda raw_cell, *a, **k: real('5', *a, **k)", "get_ipython")
forge("forge_do_execute", "kernel = get_ipython().kernel\nreal = kernel.do_execute\n"
      "def fake(code, *a, **k):\n    return real('5', *a, **k)\nkernel.do_execute = fake", "get_ipython")
forge("forge_session_send", "session = get_ipython().kernel.session\nreal = session.send\n"
      "def send(stream, msg_or_type, content=None, *a, **k):\n"
      "    if msg_or_type == 'execute_result' and content:\n        content['data'] = {'text/plain': '5'}\n"
      "    return real(stream, msg_or_type, content, *a, **k)\nsession.send = send", "get_ipython")
forge("forge_fake_referee", "import labkit.grading.referee as r\nr.run = " + SHOW_FIVE, "score tampering")
forge("forge_call_referee", "import labkit.grading.referee as r\nfor seq in range(1, 6):\n"
      "    r.run('checks = Checks(points=2)\\nchecks.check(\"x\", lambda: True)\\nchecks.score()', seq)",
      "referee")
forge("forge_datagrams", "import json, os, socket\nfor fd in os.listdir('/proc/self/fd'):\n    try:\n"
      "        s = socket.socket(fileno=os.dup(int(fd)))\n        peer = s.getpeername()\n    except OSError:\n"
      "        continue\n    if s.type == socket.SOCK_DGRAM and str(peer).endswith('.referee'):\n"
      "        s.setblocking(False)\n        for seq in range(1, 4):\n"
      "            body = json.dumps({'seq': seq, 'records': [['x', True, '']], 'checks': 1}).encode()\n"
      "            s.send(b'0' * 32 + body)", "score tampering")
forge("forge_patch_checks_class", "import labkit.grading.checks as c\n"
      "class Always(c.Checks):\n    def close(self, *a, **k):\n        return self._record('x', True)\n"
      "c.Checks = Always\nChecks = Always", "Checks")
forge("forge_patch_canonical", "import labkit.grading.canonical as c, numpy\n"
      "c.numbers = lambda v: numpy.zeros(())\nc.plain = lambda v: v\nnumpy.allclose = lambda *a, **k: True\n"
      "def square(x):\n    return 0\n", "")
forge("forge_liar", "class Liar(float):\n    def __eq__(self, other):\n        return True\n"
      "    __hash__ = float.__hash__\n    def __array__(self, *a, **k):\n"
      "        import labkit.grading.canonical as c, numpy\n        c.numbers = lambda v: numpy.asarray(9.0)\n"
      "        numpy.allclose = lambda *a, **k: True\n        return numpy.asarray(-1.0)\n"
      "def square(x):\n    return Liar(-1)\ndef mean(xs):\n    return Liar(-1)\n")
forge("forge_thread_patcher", "import builtins, threading, time\nreal_sum = builtins.sum\n"
      "def patch():\n    while True:\n        builtins.sum = lambda xs: 0.0\n        time.sleep(0.0005)\n"
      "threading.Thread(target=patch, daemon=True).start()\ndef mean(xs):\n    return 0.0\n"
      "def square(x):\n    return 0.0\n", "thread")
forge("forge_c_level_thread", "import builtins, collections, itertools, threading, time\n"
      "fake = lambda xs, *a: 0.0\n"
      "loop = zip(map(time.sleep, itertools.repeat(0.0005)), map(setattr, itertools.repeat(builtins), "
      "itertools.repeat('sum'), itertools.repeat(fake)))\n"
      "threading.Thread(target=collections.deque, args=(loop,), kwargs={'maxlen': 0}, daemon=True).start()\n"
      "def mean(xs):\n    return 0.0\n", "starts threads")
# the same loop putting the real sum back between fakes (nothing left to see when the test ends), and one started
# from inside the function under test, an instant before the test's own code resumes
forge("forge_c_level_thread_cycle", "import builtins, collections, itertools, threading, time\n"
      "real, fake = builtins.sum, (lambda xs, *a: 0.0)\n"
      "loop = zip(map(time.sleep, itertools.repeat(0.0002)), map(setattr, itertools.repeat(builtins), "
      "itertools.repeat('sum'), itertools.cycle([fake, fake, real])))\n"
      "threading.Thread(target=collections.deque, args=(loop,), kwargs={'maxlen': 0}, daemon=True).start()\n"
      "def mean(xs):\n    return 0.0\n", "starts threads")
forge("forge_c_level_thread_late", "import builtins, collections, itertools, threading, time\n"
      "def mean(xs):\n"
      "    loop = zip(map(time.sleep, itertools.repeat(0.0002)), map(setattr, itertools.repeat(builtins), "
      "itertools.repeat('sum'), itertools.repeat(lambda ys, *a: 0.0)))\n"
      "    threading.Thread(target=collections.deque, args=(loop,), kwargs={'maxlen': 0}, daemon=True).start()\n"
      "    return 0.0\n", "starts threads")
forge("forge_signal_handler", "import builtins, signal\n"
      "def handler(*a):\n    builtins.sum = lambda xs, *b: 0.0\n"
      "signal.signal(signal.SIGALRM, handler)\nsignal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)\n"
      "def mean(xs):\n    return 0.0\n", "signal")
forge("forge_finaliser", "import builtins, gc\nclass Bomb:\n    def __del__(self):\n"
      "        builtins.sum = lambda xs, *a: 0.0\n        Bomb().me = Bomb()\n"
      "for _ in range(1000):\n    b = Bomb(); b.me = b\ndel b\ngc.callbacks.append(lambda *a: setattr(builtins, 'sum', "
      "lambda xs, *c: 0.0))\ndef mean(xs):\n    return 0.0\n", "gc")
forge("forge_settrace", "import builtins, sys\ndef tracer(frame, event, arg):\n"
      "    builtins.sum = lambda xs, *a: 0.0\n    return tracer\nsys.settrace(tracer)\nsys.setprofile(tracer)\n"
      "def mean(xs):\n    return 0.0\n", "settrace")
forge("forge_audit_hook", "import builtins, sys\n"
      "sys.addaudithook(lambda event, args: setattr(builtins, 'sum', lambda xs, *a: 0.0))\n"
      "def mean(xs):\n    return 0.0\n", "audit hooks")
forge("forge_record_from_inside", "def square(x):\n    import sys\n    f = sys._getframe(1)\n    while f is not None:\n"
      "        c = f.f_locals.get('self')\n        if c is not None and hasattr(c, '_record'):\n"
      "            for i in range(50):\n                c._record('x', True)\n        f = f.f_back\n    return 0",
      "frames")
forge("forge_seed", "import os, numpy\nos.environ['LABKIT_GRADING_SEED'] = '1'\nrng = numpy.random.default_rng(1)\n"
      "answers = [9.0] + [rng.normal() ** 2 for _ in range(4)]\n"
      "def square(x):\n    return answers.pop(0) if answers else 0.0\n", "", expected=0.4)
forge("forge_import_hook", "import builtins\nreal = builtins.__import__\n"
      "def imp(name, *a, **k):\n    if name.startswith('labkit.grading.referee'):\n"
      "        return type('R', (), {'run': staticmethod(lambda *a: print(5))})\n"
      "    return real(name, *a, **k)\nbuiltins.__import__ = imp", "builtins")
forge("forge_proc_mem", "import os\nfor p in ['/proc/self/environ', '/proc/self/mem', '/proc/self/maps']:\n"
      "    try:\n        open(p, 'rb').read(100)\n        print('READ', p)\n    except OSError as exc:\n"
      "        print('refused', p, type(exc).__name__)", "process memory")
# the same tricks beside a correct answer: they must not cost a point
case("correct_with_threads", 5)(answers(square="import threading, time\n"
     "def spin():\n    while True:\n        time.sleep(0.001)\nthreading.Thread(target=spin, daemon=True).start()\n"
     + SQUARE_OK))
case("correct_with_signal_handler", 5)(answers(square="import signal\ncount = [0]\n"
     "signal.signal(signal.SIGALRM, lambda *a: count.__setitem__(0, count[0] + 1))\n"
     "signal.setitimer(signal.ITIMER_REAL, 0.005, 0.005)\n" + SQUARE_OK))
case("correct_with_finalisers", 5)(answers(square="class Node:\n    def __del__(self):\n        pass\n"
     "for _ in range(1000):\n    n = Node(); n.me = n\n" + SQUARE_OK))
case("correct_with_tracer_and_recursion_limit", 5)(answers(square="import sys\nsys.setrecursionlimit(200)\n"
     "sys.settrace(lambda *a: None)\n" + SQUARE_OK))
case("correct_printing_fake_lines", 5)(answers(square="def square(x):\n    print('✗ square(3): expected 9, got 0')\n"
     "    print('0/5 checks passed')\n    return x * x"))
case("correct_with_display_and_numpy_subclass", 5)(answers(square="from IPython.display import display\n"
     "display('hello')\nclass MyFloat(float):\n    pass\n" + SQUARE_OK,
     mean="def mean(xs):\n    import numpy\n    return float(numpy.mean(numpy.asarray(xs)))"))


@case("deleted_test_cell", 5)
def _(nb):
    nb = answers()(nb)
    nb.cells.remove(cells_by_id(nb)["square_tests"])
    return nb


@case("reordered_cells", 5)
def _(nb):
    nb = answers()(nb)
    by = cells_by_id(nb)
    nb.cells.remove(by["mean_tests"])
    nb.cells.insert(0, by["mean_tests"])
    return nb


@case("duplicated_test_cell", 5)
def _(nb):
    nb = answers()(nb)
    test = cells_by_id(nb)["square_tests"]
    nb.cells.insert(nb.cells.index(test), nbformat.from_dict(json.loads(json.dumps(test))))
    return nb


@case("duplicated_answer_wrong_copy", 3)
def _(nb):
    nb = answers()(nb)
    solution = cells_by_id(nb)["square_solution"]
    copy = nbformat.from_dict(json.loads(json.dumps(solution)))
    copy.source = SQUARE_WRONG
    nb.cells.insert(nb.cells.index(solution) + 1, copy)
    return nb


@case("edited_test_cell", 3)
def _(nb):
    nb = answers(square=SQUARE_WRONG)(nb)
    cells_by_id(nb)["square_tests"].source = "2"
    return nb


@case("changed_types_and_metadata", 5)
def _(nb):
    nb = answers()(nb)
    by = cells_by_id(nb)
    test = by["square_tests"]
    test.cell_type = "markdown"
    test.pop("outputs", None)
    test.pop("execution_count", None)
    by["mean_tests"].metadata["nbgrader"]["points"] = 100
    by["square_solution"].metadata["nbgrader"]["locked"] = True
    by["setup"].metadata["nbgrader"] = {"grade_id": "extra", "grade": True, "points": 50, "solution": False}
    return nb


@case("ten_thousand_cells", 5)
def _(nb):
    nb = answers()(nb)
    nb.cells += [nbformat.v4.new_code_cell("x = 1") for _ in range(10_000)]
    return nb


@case("nbformat3", 5)
def _(nb):
    return nbformat.convert(answers()(nb), 3)


def _write(folder: Path, name: str, nb) -> None:
    text = nbformat.writes(nb, version=nb.get("nbformat", 4))
    (folder / f"{name}.ipynb").write_text(text)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("corpus")
    course = scratch_course(base / "course", [])
    probe_lab(course)
    subs = base / "submissions"
    subs.mkdir()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    port = listener.getsockname()[1]
    released = nbformat.read(course / "labs" / PROBE_LAB / f"{PROBE_LAB}.ipynb", as_version=4)
    for name, build in BUILDERS.items():
        nb = build(nbformat.from_dict(json.loads(json.dumps(released))))
        for cell in nb.cells if hasattr(nb, "cells") else nb.worksheets[0].cells:
            for key in ("source", "input"):
                if isinstance(cell.get(key), str):
                    cell[key] = cell[key].replace("{root}", str(course)).replace("{subs}", str(subs)) \
                        .replace("{port}", str(port))
        _write(subs, name, nb)
    # files that are not notebooks a grader can parse
    (subs / "invalid_json.ipynb").write_text('{"cells": [ {"cell_type": "code", "sour')
    (subs / "empty_file.ipynb").write_text("")
    (subs / "not_a_notebook.ipynb").write_text('{"hello": "world"}')
    (subs / "symlink_outside.ipynb").symlink_to(course / "solutions" / PROBE_LAB / f"{PROBE_LAB}.ipynb")
    (subs / "Zoë Müller").mkdir()
    _write(subs / "Zoë Müller", "my lab (final).ipynb", answers()(nbformat.from_dict(json.loads(json.dumps(released)))))
    (subs / "Zoë Müller" / "notes.txt").write_text("extra file")
    (subs / "bad\nname.ipynb").write_text(nbformat.writes(released))
    (subs / "linked_folder").symlink_to(course / "solutions" / PROBE_LAB)
    CASES.update({"invalid_json": 0, "empty_file": 0, "not_a_notebook": 0, "symlink_outside": 0,
                  "Zoë Müller": 5, "linked_folder": 0})
    before = {p.name: p.read_bytes() for p in subs.glob("*.ipynb") if not p.is_symlink()}
    env = {**os.environ, **scratch_env(course)}
    cmd = [str(BIN / "labkit"), "grade", PROBE_LAB, str(subs), "--workers", "2", "--memory-mb", "1024",
           "--cell-timeout", "15", "--notebook-timeout", "60", "--max-tasks", "128"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    report = subprocess.run([str(BIN / "labkit"), "report", PROBE_LAB], env=env, capture_output=True, text=True,
                            timeout=300)
    listener.close()
    with environment(scratch_env(course)):
        source = nbformat.read(course / "solutions" / PROBE_LAB / f"{PROBE_LAB}.ipynb", as_version=4)
        hidden = hidden_lines(source, released)
    return {"course": course, "subs": subs, "proc": proc, "report": report, "hidden": hidden, "before": before}


def _totals(course: Path) -> tuple[dict[str, float], list[tuple[str, str, int]]]:
    rows = gradebook_rows(course)
    counts = Counter((student, question) for student, question, _ in rows)
    totals: dict[str, float] = {}
    for student, _, score in rows:
        totals[student] = round(totals.get(student, 0) + (score or 0), 4)
    return totals, [(s, q, n) for (s, q), n in counts.items()]


def test_the_grader_finishes_and_reports_every_learner(graded):
    proc = graded["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "sandbox: rlimits, separate user, namespaces, cgroups" in proc.stdout or not sandbox.isolation()["cgroups"]
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("learner", sorted(set(CASES) | {"invalid_json", "empty_file", "not_a_notebook",
                                                        "symlink_outside", "Zoë Müller", "linked_folder"}))
def test_each_case_gets_its_grade(graded, learner):
    totals, _ = _totals(graded["course"])
    assert learner in totals, f"{learner} missing from the gradebook; grader said:\n{graded['proc'].stdout[-3000:]}"
    assert totals[learner] == CASES[learner], graded["proc"].stdout[-4000:]


def test_a_bad_file_name_is_graded_under_a_safe_id(graded):
    totals, _ = _totals(graded["course"])
    invalid = [s for s in totals if s.startswith("invalid-")]
    assert len(invalid) == 1 and totals[invalid[0]] == 0
    assert "learner name 'bad\\nname' is not allowed" in graded["proc"].stdout


def test_one_row_per_learner_and_question(graded):
    totals, counts = _totals(graded["course"])
    assert {count for _, _, count in counts} == {1}
    assert len(counts) == 2 * len(totals)
    assert len(totals) == len(CASES) + 1  # + the learner with the bad file name


def test_nothing_a_learner_sees_holds_a_hidden_test(graded):
    hidden = graded["hidden"]
    assert any("probe-hidden-a" in line for line in hidden) and any("probe-hidden-b" in line for line in hidden)
    course = graded["course"]
    seen = [graded["proc"].stdout, graded["proc"].stderr, graded["report"].stdout,
            (course / "labs" / PROBE_LAB / f"{PROBE_LAB}.ipynb").read_text()]
    feedback = sorted((course / "grading" / "feedback").rglob("*.html"))
    assert len(feedback) == len(CASES) + 1, graded["report"].stderr[-2000:]
    seen += [p.read_text() for p in feedback]
    for text in seen:
        for line in hidden:
            assert line not in text


def test_the_feedback_shows_each_failed_check_and_withholds_for_flagged_code(graded):
    fb = graded["course"] / "grading" / "feedback"
    wrong = (fb / "edited_test_cell" / PROBE_LAB / f"{PROBE_LAB}.html").read_text()
    assert "square(3): expected 9, got 0" in wrong and "square of a random number #0" in wrong
    frames = (fb / "reads_its_own_frames" / PROBE_LAB / f"{PROBE_LAB}.html").read_text()
    assert "withheld" in frames and "frames" in frames
    assert "reads_its_own_frames: uses frames" in graded["report"].stdout


def test_warnings_on_stderr_are_shown_not_penalised(graded):
    html = (graded["course"] / "grading" / "feedback" / "stderr_warnings" / PROBE_LAB / f"{PROBE_LAB}.html").read_text()
    assert "NativeCodeLoader" in html and "not penalised" in html


def test_the_sandbox_kept_files_and_network_out_of_reach(graded):
    course, subs = graded["course"], graded["subs"]
    after = {p.name: p.read_bytes() for p in subs.glob("*.ipynb") if not p.is_symlink()}
    assert after == graded["before"]
    autograded = course / "grading" / "autograded"
    out = nbformat.read(autograded / "write_gradebook" / PROBE_LAB / f"{PROBE_LAB}.ipynb", as_version=4)
    text = json.dumps([c.get("outputs") for c in out.cells])
    assert "WROTE" not in text and text.count("refused") == 4
    net = json.dumps([c.get("outputs") for c in nbformat.read(autograded / "network" / PROBE_LAB / f"{PROBE_LAB}.ipynb",
                                                              as_version=4).cells])
    assert "CONNECTED" not in net and net.count("refused") == 3
    read = json.dumps([c.get("outputs") for c in nbformat.read(autograded / "read_hidden_tests" / PROBE_LAB /
                                                               f"{PROBE_LAB}.ipynb", as_version=4).cells])
    assert "found" in read and "probe-hidden" not in read and "BEGIN SOLUTION" not in read
    fork = json.dumps([c.get("outputs") for c in nbformat.read(autograded / "fork_bomb" / PROBE_LAB /
                                                               f"{PROBE_LAB}.ipynb", as_version=4).cells])
    assert "fork refused after" in fork
    leftover = subprocess.run(["ps", "-eo", "uid="], capture_output=True, text=True).stdout.split()
    assert not [u for u in leftover if int(u) >= sandbox.FIRST_UID]


@pytest.mark.parametrize("learner", sorted(FLAGGED))
def test_forging_attempts_are_flagged_for_review(graded, learner):
    out = graded["proc"].stdout
    lines = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(" ")}
    assert FLAGGED[learner] in lines[learner], lines[learner]


def test_kernel_deaths_are_explained(graded):
    out = graded["proc"].stdout
    lines = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(" ")}
    assert "memory limit" in lines["memory_bomb"]
    assert "segmentation fault" in lines["segfault"]
    assert "exit" in lines["os_exit"]
    assert "broke the Python process" in lines["break_builtins"]
    assert "time limit per cell" in lines["infinite_loop"]
