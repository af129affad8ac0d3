"""A class on this machine for tests and benchmarks: a course copy, a class root, learners' system accounts (made by
``labkit roster import``, removed afterwards) and a class environment they can run."""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LAB = "04_metrics"
NB = "04_metrics.ipynb"


def _course_yml(course_id: str, class_root: Path, due: datetime, hard: datetime, closed: datetime) -> str:
    return f"""
course_id: {course_id}
timezone: Europe/Berlin
instructors: [{course_id}teach]
roster: roster.csv
class_root: {class_root}
late_policy: {{percent_per_day: 10, max_percent: 50, grace_minutes: 0}}
labs:
  {LAB}: {{due: "{due.isoformat()}", hard_deadline: "{hard.isoformat()}"}}
  05_hpo: {{due: "{closed.isoformat()}", hard_deadline: "{closed.isoformat()}"}}
"""


class Class:
    """A class on this machine: a course copy, a class root, learners' accounts and a class environment."""

    def __init__(self, root: Path, class_root: Path, course_id: str, names: dict[str, str], venv: Path):
        self.root, self.class_root, self.course_id, self.names, self.venv = root, class_root, course_id, names, venv

    @property
    def course_file(self) -> Path:
        return self.root / "grading" / "course.yml"

    def set_dates(self, due: datetime, hard: datetime) -> None:
        closed = datetime.now(UTC) - timedelta(days=1)
        self.course_file.write_text(_course_yml(self.course_id, self.class_root, due, hard, closed))

    def labkit(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "LABKIT_COURSE_ROOT": str(self.root)}
        done = subprocess.run([str(ROOT / ".venv" / "bin" / "labkit"), *args], capture_output=True, text=True,
                              env=env)
        assert not check or done.returncode == 0, done.stdout + done.stderr
        return done

    def as_learner(self, who: str, command: str) -> subprocess.CompletedProcess:
        """Run ``command`` in bash as the learner ``who`` (a key of :attr:`names`), in their home."""
        user = self.names[who]
        env_path = f"{self.venv}/bin:/usr/bin:/bin"
        return subprocess.run(["runuser", "-u", user, "--", "env", "-i", f"PATH={env_path}", f"HOME=/home/{user}",
                               f"USER={user}", "bash", "-c", f"cd ~ && {command}"],
                              capture_output=True, text=True, timeout=120)

    def inbound(self, who: str | None = None) -> Path:
        base = self.class_root / "exchange" / self.course_id / "inbound"
        return base / self.names[who] if who else base

    def hand_in(self, who: str, notebook: Path) -> subprocess.CompletedProcess:
        """Fetch the lab (once), put ``notebook`` in place as the learner's work and submit it."""
        user = self.names[who]
        home = Path("/home") / user
        if not (home / LAB).is_dir():
            got = self.as_learner(who, f"nbgrader fetch_assignment {LAB}")
            assert got.returncode == 0, got.stdout + got.stderr
        shutil.copy(notebook, home / LAB / NB)
        shutil.chown(home / LAB / NB, user, user)
        return self.as_learner(who, f"nbgrader submit {LAB}")


_ENV: Path | None = None


def class_env() -> Path:
    """The light class environment (nbgrader, labkit, JupyterHub, JupyterLab), built once per test process (about a
    minute) and shared by every class the tests make; removed when the process exits."""
    global _ENV
    if _ENV is None:
        from labkit.classroom.class_env import build

        base = Path(tempfile.mkdtemp(prefix="labkit-classenv-", dir="/tmp"))
        os.chmod(base, 0o755)
        build(base / "venv", full=False, hub=True)
        atexit.register(shutil.rmtree, base, True)
        _ENV = base / "venv"
    return _ENV


@contextlib.contextmanager
def a_class(learners: list[str], *, client: bool = True, hub: bool = False) -> Iterator[Class]:
    """A class of ``learners`` (short names; accounts get a random prefix) with labs 04 and 05 released to it.
    ``client``: build the light class environment (nbgrader and labkit) that learners submit with; ``hub``: with
    JupyterHub and JupyterLab in it. The instructor is ``<course_id>teach``."""
    tag = secrets.token_hex(2)
    course_id = f"t{tag}"
    names = {k: f"t{tag}{k}" for k in learners}
    base = Path(tempfile.mkdtemp(prefix="labkit-class-", dir="/tmp"))
    os.chmod(base, 0o755)
    root = base / "course"
    root.mkdir(mode=0o700)
    for name in ["solutions", "labs"]:
        shutil.copytree(ROOT / name / LAB, root / name / LAB)
    shutil.copytree(ROOT / "labs" / "05_hpo", root / "labs" / "05_hpo")
    shutil.copytree(ROOT / "solutions" / "05_hpo", root / "solutions" / "05_hpo")
    shutil.copy(ROOT / "nbgrader_config.py", root)
    (root / "datasets").symlink_to(ROOT / "datasets")
    (root / "grading").mkdir()
    (root / "grading" / "roster.csv").write_text(
        "id,name,email,extension\n" + "".join(f"{n},{k.title()} Learner,{k}@example.org,\n" for k, n in names.items()))
    venv = base / "venv"
    if client or hub:
        venv.symlink_to(class_env())
    klass = Class(root, base, course_id, names, venv)
    now = datetime.now(UTC)
    klass.set_dates(now + timedelta(hours=1), now + timedelta(hours=2))
    try:
        klass.labkit("release", LAB, "--no-demo")
        klass.labkit("roster", "import")
        from labkit.classroom.course_file import load
        from labkit.classroom.exchange import write_learner_config

        if client or hub:
            write_learner_config(load(klass.course_file), venv)
        klass.labkit("release-to-class", LAB)
        klass.labkit("release-to-class", "05_hpo")
        yield klass
    finally:
        everyone = [*names.values(), f"{course_id}teach"]
        for user in everyone:
            subprocess.run(["pkill", "-KILL", "-u", user], capture_output=True)
        for user in everyone:
            subprocess.run(["userdel", "-r", user], capture_output=True)
        subprocess.run(["groupdel", f"{course_id}-learners"], capture_output=True)
        subprocess.run(["rm", "-rf", str(base)], check=False)  # (a learner's tree may be deeper than rmtree recurses)


