"""``labkit doctor``: one table of what works, with a fix for everything that does not."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from labkit.paths import ensure_venv_bin_on_path


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True
    seconds: float = 0.0


def _python() -> tuple[bool, str, str]:
    v = sys.version_info
    return v[:2] == (3, 11), f"{sys.version.split()[0]} at {sys.executable}", "install Python 3.11 and run `make setup`"


def _java() -> tuple[bool, str, str]:
    fix = "install a JDK 17 (Debian: apt-get install openjdk-17-jre-headless; conda: openjdk=17)"
    if not shutil.which("java"):
        return False, "no `java` on PATH", fix
    out = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)', out)
    major = int(match.group(1)) if match else 0
    return major == 17, out.splitlines()[0] if out else "unknown", fix


def _spark() -> tuple[bool, str, str]:
    from labkit.spark import describe_mode, get_spark

    spark = get_spark("labkit-doctor")
    n = spark.range(1000).selectExpr("sum(id) AS s").collect()[0]["s"]
    return n == 499500, f"PySpark {spark.version}, {describe_mode()}, a job ran", "check Java 17 and `SPARK_LOCAL_IP`"


def _tensorflow() -> tuple[bool, str, str]:
    import keras
    import tensorflow as tf

    keras_major = int(keras.__version__.split(".")[0])
    return (tf.__version__ == "2.15.1" and keras_major == 2,
            f"TensorFlow {tf.__version__}, Keras {keras.__version__} as tf.keras",
            "run `make setup` (needs tensorflow-cpu==2.15.1, Keras 2)")


def _horovod() -> tuple[bool, str, str]:
    import horovod
    import horovod.tensorflow as hvd

    gloo = hvd.gloo_built()
    return gloo, f"Horovod {horovod.__version__}, Gloo {'built' if gloo else 'missing'}, MPI " \
                 f"{'built' if hvd.mpi_built() else 'not built'}", \
        "rebuild: rm -rf ~/.cache/labkit/wheels && make setup (HOROVOD_WITH_GLOO=1)"


def _nbgrader_extensions() -> tuple[bool, str, str]:
    fix = "run `make setup` (nbgrader 0.9 installs its JupyterLab 4 extensions)"
    lab = subprocess.run(["jupyter", "labextension", "list"], capture_output=True, text=True)
    server = subprocess.run(["jupyter", "server", "extension", "list"], capture_output=True, text=True)
    text = re.sub(r"\x1b\[[0-9;]*m", "", lab.stdout + lab.stderr + server.stdout + server.stderr)
    wanted = ["@jupyter/nbgrader", "@jupyter-widgets/jupyterlab-manager",
              "nbgrader.server_extensions.assignment_list", "nbgrader.server_extensions.validate_assignment",
              "nbgrader.server_extensions.formgrader"]
    missing = [w for w in wanted if not re.search(re.escape(w) + r".*enabled", text)]
    return not missing, "missing: " + ", ".join(missing) if missing else "assignment list, validate, formgrader, " \
        "widgets enabled", fix


def _kernel() -> tuple[bool, str, str]:
    from labkit.jupyter import kernel_dir

    spec_file = kernel_dir() / "kernel.json"
    if not spec_file.is_file():
        return False, f"no {spec_file}", "run `.venv/bin/python -m labkit.jupyter`"
    argv0 = json.loads(spec_file.read_text())["argv"][0]
    return argv0 == sys.executable, f"'labkit' → {argv0}", "run `.venv/bin/python -m labkit.jupyter`"


def _datasets() -> tuple[bool, str, str]:
    from labkit.datasets import manifest, verify

    names = sorted(manifest())
    for name in names:
        verify(name)
    return True, f"{len(names)} file(s) match datasets/MANIFEST", "git checkout -- datasets/"


CHECKS: list[tuple[str, Callable[[], tuple[bool, str, str]], bool]] = [
    ("Python 3.11", _python, True),
    ("Java 17", _java, True),
    ("Spark session", _spark, True),
    ("TensorFlow 2.15 / Keras 2", _tensorflow, True),
    ("Horovod with Gloo", _horovod, True),
    ("nbgrader + widgets in JupyterLab", _nbgrader_extensions, True),
    ("kit kernel spec", _kernel, True),
    ("dataset checksums", _datasets, True),
]


def run_checks() -> list[Check]:
    """Run every check; an exception counts as a failure with its message as the detail."""
    import os

    ensure_venv_bin_on_path()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    results = []
    for name, fn, required in CHECKS:
        start = time.perf_counter()
        try:
            ok, detail, fix = fn()
        except Exception as exc:  # a check must report, never crash the doctor
            ok, detail, fix = False, f"{type(exc).__name__}: {exc}"[:300], "see the error; `make setup` fixes most"
        results.append(Check(name, ok, detail, "" if ok else fix, required, time.perf_counter() - start))
    return results


def format_table(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{'check':{width}}  status  detail", f"{'-' * width}  ------  ------"]
    for c in checks:
        status = "ok" if c.ok else ("FAIL" if c.required else "warn")
        lines.append(f"{c.name:{width}}  {status:6}  {c.detail}")
        if c.fix:
            lines.append(f"{'':{width}}          fix: {c.fix}")
    return "\n".join(lines)
