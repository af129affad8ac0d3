"""The install recipe: pyproject, environment.yml, Makefile, CI and README agree with each other."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower()


def test_environment_yml_pins_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = {_name(r): r.replace(" ", "") for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert any(d.startswith("python=3.11") for d in conda)
    assert any(d.startswith("openjdk=17") for d in conda)
    listed = {_name(r): r.replace(" ", "") for r in pip if not r.startswith("-")}
    missing = set(required) - set(listed)
    assert not missing, f"environment.yml lacks {sorted(missing)}"
    differing = {n: (required[n], listed[n]) for n in required if required[n] != listed[n]}
    assert not differing, f"environment.yml and pyproject.toml disagree: {differing}"
    assert not [r for r in pip if r.startswith("horovod")], "Horovod must be built after TensorFlow, not listed"
    header = (ROOT / "environment.yml").read_text()
    assert '--no-build-isolation "horovod[tensorflow-cpu]==0.28.1"' in header


def test_setup_script_uses_the_verified_horovod_recipe():
    script = (ROOT / ".ci" / "setup.sh").read_text()
    for needle in ("HOROVOD_WITH_GLOO=1", "HOROVOD_WITHOUT_MPI=1", "--no-build-isolation", "MAKEFLAGS="):
        assert needle in script
    makefile = (ROOT / "Makefile").read_text()
    assert "TF_VERSION  := 2.15.1" in makefile and "HVD_VERSION := 0.28.1" in makefile


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme.split("\n## ")[0], "README must show `make test` at the top"
    assert "make course" in readme.split("\n## ")[0], "README must show `make course` at the top"
    assert re.search(r"^\s*make test\b", ci, re.MULTILINE)


def test_every_make_job_depends_on_setup():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("test", "course", "lab", "bench"):
        assert re.search(rf"^{target}: .*\bsetup\b", makefile, re.MULTILINE), target


def test_tensorflow_imports_without_a_word_on_stderr():
    """protobuf 6 (for Spark Connect) beside TensorFlow 2.15: labkit's .pth shim keeps the import clean,
    which matters because nbgrader zeroes a test cell that writes to stderr."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run([sys.executable, "-c", "import google.protobuf as p, tensorflow as tf; print(p.__version__)"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith("6."), "the Spark Connect client needs protobuf 6"
    assert out.stderr == "", out.stderr[-2000:]
