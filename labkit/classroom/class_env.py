"""The class environment: a Python environment every learner's account can read and run.

The kit's own ``.venv`` is built on whatever ``python3.11`` the instructor has, often one under ``/root`` (pyenv),
which no other account can enter: a learner's server would fail with "Permission denied". The class
environment is built from a system Python (Debian's ``/usr/bin/python3.11``; ``LABKIT_CLASS_PYTHON`` overrides
it) under the class root, with labkit installed as a copy (not linked to the instructor's checkout, which holds
the solutions). ``full`` installs the whole course stack with the kit's own set-up script; without it, only
what the exchange's client needs (nbgrader and labkit), which is what the tests use.

>>> unreadable_parent(Path("/usr/bin/python3.11")) is None
True
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import tomllib
from pathlib import Path

from labkit.paths import course_root

SYSTEM_PYTHON = Path("/usr/bin/python3.11")


class ClassEnvError(RuntimeError):
    """The class environment could not be built; the message says what to install or change."""


def unreadable_parent(path: Path) -> Path | None:
    """The first folder on the way to ``path`` that other accounts cannot enter (``None`` if all can)."""
    for parent in [*reversed(Path(path).resolve().parents), Path(path).resolve()]:
        if parent.exists() and parent.is_dir() and not parent.stat().st_mode & stat.S_IXOTH:
            return parent
    return None


def requirements(*names: str, extra: str | None = None) -> list[str]:
    """The requirement strings pyproject.toml gives for ``names`` (and every one of its optional ``extra``): one
    home for the course's versions.

    >>> requirements("nbgrader", extra="class")[:2]
    ['nbgrader==0.9.6', 'jupyterhub==6.1.1']
    """
    project = tomllib.loads((course_root() / "pyproject.toml").read_text())["project"]
    by_name = {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower(): r for r in project["dependencies"]}
    missing = [n for n in names if n.lower() not in by_name]
    if missing:
        raise ClassEnvError(f"pyproject.toml lists no {', '.join(missing)}")
    return [by_name[n.lower()] for n in names] + (project["optional-dependencies"][extra] if extra else [])


def python_for_class() -> Path:
    python = Path(os.environ.get("LABKIT_CLASS_PYTHON", SYSTEM_PYTHON))
    if not python.exists():
        raise ClassEnvError(f"no {python}: install Debian's python3.11 (apt-get install python3.11-venv) or set "
                            "LABKIT_CLASS_PYTHON to a Python 3.11 every account can run")
    blocked = unreadable_parent(python)
    if blocked is not None:
        raise ClassEnvError(f"{python} lies under {blocked}, which other accounts cannot enter: learners' servers "
                            "could not start. Use a system Python (LABKIT_CLASS_PYTHON=/usr/bin/python3.11)")
    return python


def build(prefix: Path, *, full: bool = True, hub: bool = False) -> Path:
    """Create (or update) the class environment at ``prefix``; returns its ``bin/``. Readable by every account.

    ``full``: the whole course stack (the kit's set-up script); else only the exchange's client. ``hub``: also
    JupyterHub, its idle culler and JupyterLab (pyproject's ``class`` extra)."""
    prefix = Path(prefix)
    blocked = unreadable_parent(prefix.parent)
    if blocked is not None:
        raise ClassEnvError(f"the class environment would lie under {blocked}, which learners cannot enter: choose a "
                            "class_root such as /srv/labkit in the course file")
    pip = [str(prefix / "bin" / "python"), "-m", "pip", "install", "-q"]
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    if full:
        cmd = ["bash", str(course_root() / ".ci" / "setup.sh")]
        env.update(PYTHON=str(python_for_class()), VENV=str(prefix), LABKIT_INSTALL="copy")
        done = subprocess.run(cmd, cwd=course_root(), env=env, capture_output=True, text=True)  # class extra too
    else:
        if not (prefix / "bin" / "python").exists():
            subprocess.run([str(python_for_class()), "-m", "venv", str(prefix)], check=True)
        wanted = requirements("nbgrader", "pyyaml")
        if hub:
            wanted = requirements("nbgrader", "pyyaml", "numpy", "jupyterlab", "ipykernel", "ipywidgets", "psutil",
                                  extra="class")
        done = subprocess.run(pip + wanted, env=env, capture_output=True, text=True)
        if not done.returncode:
            done = subprocess.run(pip + ["--no-deps", "--force-reinstall", str(course_root())], env=env,
                                  capture_output=True, text=True)
    if done.returncode:
        lines = [line for line in (done.stderr + done.stdout).splitlines() if not line.startswith("WARNING: Location")]
        raise ClassEnvError("building the class environment failed:\n" + "\n".join(lines[-30:]))
    os.chmod(prefix, 0o755)
    return prefix / "bin"
