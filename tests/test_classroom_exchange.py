"""The class exchange end to end, with real system accounts: learners fetch and submit with nbgrader's own
commands (as themselves, via ``runuser``), the instructor collects, grades and releases feedback, and a hostile
learner tries everything the README says cannot be done.

Needs root (accounts are created and removed by the fixtures) and Debian's /usr/bin/python3.11 for the class
environment; both are what CI has.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import classroom_helpers
import pytest
from conftest import ROOT

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the class exchange needs root (accounts)")

LAB, NB = classroom_helpers.LAB, classroom_helpers.NB
Class = classroom_helpers.Class


@pytest.fixture(scope="module")
def klass():
    with classroom_helpers.a_class(["ada", "grace", "alan", "lin", "eve"]) as made:
        yield made


DEMO = ROOT / "grading" / "demo" / LAB


def test_layout_modes(klass: Class) -> None:
    ex = klass.class_root / "exchange" / klass.course_id
    modes = {p: oct(p.stat().st_mode & 0o7777) for p in (ex / "inbound", ex / "outbound", ex / "feedback")}
    assert modes == {ex / "inbound": "0o711", ex / "outbound": "0o755", ex / "feedback": "0o711"}
    for who, user in klass.names.items():
        st = klass.inbound(who).stat()
        assert (st.st_uid, oct(st.st_mode & 0o777)) == (__import__("pwd").getpwnam(user).pw_uid, "0o700")
    header = json.loads((ex / "outbound" / LAB / NB).read_text())["cells"][0]
    assert "Due" in "".join(header["source"]) and header["metadata"]["labkit"]["class_header"]


def test_reimport_is_idempotent_and_removal_disables(klass: Class) -> None:
    again = klass.labkit("roster", "import")
    assert "0 created" in again.stdout and "5 unchanged" in again.stdout
    roster = klass.root / "grading" / "roster.csv"
    text = roster.read_text()
    try:
        roster.write_text("\n".join(line for line in text.splitlines() if klass.names["alan"] not in line) + "\n")
        out = klass.labkit("roster", "import").stdout
        assert f"disabled {klass.names['alan']}" in out
        assert (Path("/home") / klass.names["alan"]).is_dir()  # nothing of theirs deleted
        denied = subprocess.run(["su", "-s", "/bin/true", klass.names["alan"]], capture_output=True, text=True)
        assert denied.returncode != 0 and "expired" in denied.stdout + denied.stderr  # no login, no server
    finally:
        roster.write_text(text)
        assert "1 re-enabled" in klass.labkit("roster", "import").stdout
    assert subprocess.run(["su", "-s", "/bin/true", klass.names["alan"]]).returncode == 0


def test_hostile_learner_cannot_reach_other_work(klass: Class) -> None:
    ok = klass.hand_in("ada", DEMO / "perfect.ipynb")
    assert ok.returncode == 0, ok.stderr
    ada_inbound = klass.inbound("ada")
    (sub,) = [p for p in ada_inbound.iterdir() if f"+{LAB}+" in p.name]
    attempts = {
        "list inbound": f"ls {klass.inbound()}",
        "list ada's inbound": f"ls {ada_inbound}",
        "read ada's submission": f"cat '{sub}/{NB}'",
        "overwrite ada's submission": f"cp /etc/hostname '{sub}/{NB}'",
        "write into ada's inbound": f"mkdir '{ada_inbound}/x'",
        "list the feedback folder": f"ls {klass.class_root}/exchange/{klass.course_id}/feedback",
        "read ada's home": f"ls /home/{klass.names['ada']}",
        "change a released lab": f"echo x >> {klass.class_root}/exchange/{klass.course_id}/outbound/{LAB}/{NB}",
        "read another's extension": f"cat {klass.class_root}/exchange/{klass.course_id}/extensions/"
                                    f"{klass.names['ada']}",
    }
    for what, command in attempts.items():
        done = klass.as_learner("eve", command)
        assert done.returncode != 0 and "Permission denied" in done.stderr, what
    assert json.loads((sub / NB).read_text()) == json.loads((DEMO / "perfect.ipynb").read_text())


def test_submitting_as_someone_else_is_refused(klass: Class) -> None:
    klass.as_learner("eve", f"nbgrader fetch_assignment {LAB}")
    done = klass.as_learner("eve", f"nbgrader submit {LAB} --student={klass.names['ada']}")
    assert done.returncode != 0
    assert f"only as yourself ({klass.names['eve']})" in done.stdout + done.stderr


def test_submitting_after_the_hard_deadline_is_refused(klass: Class) -> None:
    got = klass.as_learner("eve", "nbgrader fetch_assignment 05_hpo")
    assert got.returncode == 0, got.stderr
    done = klass.as_learner("eve", "nbgrader submit 05_hpo")
    assert done.returncode != 0 and "submissions are closed" in done.stdout + done.stderr


def _forge(klass: Class, who: str, key: str, command: str) -> None:
    """As ``who``, make a hand-in folder ``key`` in their own inbound and run ``command`` inside it."""
    done = klass.as_learner(who, f"cd {klass.inbound(who)} && mkdir -p '{key}' && cd '{key}' && {command}")
    assert done.returncode == 0, done.stderr


def test_collect_believes_folders_and_kernel_times_not_learners(klass: Class) -> None:
    """Grace and alan submit properly; eve forges: a submission named for ada, a symbolic link to ada's
    work, a FIFO, a back-dated timestamp.txt, and a full inbound. Collect counts only what is eve's own and
    takes every learner's time from the kernel; everyone else's work is collected intact."""
    assert klass.hand_in("grace", DEMO / "partial.ipynb").returncode == 0
    assert klass.hand_in("ada", DEMO / "perfect.ipynb").returncode == 0
    ada_home_nb = f"/home/{klass.names['ada']}/{LAB}/{NB}"
    _forge(klass, "eve", f"{klass.names['ada']}+{LAB}+2026-01-01 00:00:00.000000 UTC+aaaa",
           f"cp {ROOT}/grading/demo/{LAB}/blank.ipynb {NB} 2>/dev/null || echo '{{}}' > {NB}; "
           "echo '2020-01-01 00:00:00.000000 UTC' > timestamp.txt")
    _forge(klass, "eve", f"{klass.names['eve']}+{LAB}+x+link", f"ln -s {ada_home_nb} {NB}")
    _forge(klass, "eve", f"{klass.names['eve']}+{LAB}+x+fifo", f"mkfifo {NB}")
    forged_line = f"\n{klass.names['ada']}                 LATE (a forged line)\x1b]0;title\x07"
    _forge(klass, "eve", f"{klass.names['eve']}+{LAB}+x+name{forged_line}", f"echo '{{}}' > {NB}")
    _forge(klass, "eve", "fill", "truncate -s 300M big.bin")
    _forge(klass, "eve", "deep", "for i in $(seq 1500); do mkdir d && cd d; done")  # deeper than any recursion
    out = klass.labkit("collect", LAB).stdout
    eve = klass.names["eve"]
    eve_lines = out.split(eve, 1)[1]
    assert "claims to be" in eve_lines and "symbolic link" in eve_lines and "not a regular file" in eve_lines
    assert "someone filled it" in eve_lines
    assert "\x1b" not in out and not any(line.startswith(klass.names["ada"]) and "forged" in line
                                         for line in out.splitlines())  # names are printed escaped
    collected = klass.root / "grading" / "collected" / LAB
    assert json.loads((collected / klass.names["ada"] / NB).read_text()) == \
        json.loads((DEMO / "perfect.ipynb").read_text())
    record = json.loads((collected / eve / "collected.json").read_text())
    assert datetime.fromisoformat(record["received"]) > datetime.now(UTC) - timedelta(minutes=10)  # not 2020
    # the client refuses to add to a full inbound, with the reason
    done = klass.as_learner("eve", f"nbgrader submit {LAB}")
    assert done.returncode != 0 and "would take more than" in done.stdout + done.stderr
    subprocess.run(["rm", "-rf", str(klass.inbound("eve") / "fill"), str(klass.inbound("eve") / "deep")], check=True)


def test_late_resubmission_and_round_trip_to_feedback(klass: Class) -> None:
    """Alan submits, then the due date passes (moved to between his two hand-ins), and he submits again: the
    on-time one counts. Grace submits only after the due date: late, penalised in the gradebook. Grading records
    every submission's time, feedback reaches each learner and only them."""
    from nbgrader.api import Gradebook

    assert klass.hand_in("alan", DEMO / "partial.ipynb").returncode == 0
    time.sleep(1.1)
    due = datetime.now(UTC)
    time.sleep(1.1)
    assert klass.hand_in("alan", DEMO / "perfect.ipynb").returncode == 0  # late: does not replace the on-time one
    assert klass.hand_in("lin", DEMO / "perfect.ipynb").returncode == 0  # lin's only hand-in: late
    klass.set_dates(due, due + timedelta(days=3))
    out = klass.labkit("collect", LAB).stdout
    assert "late, and an on-time hand-in counts" in out
    grade = klass.labkit("grade", LAB, "-j", "2")
    honest = [line for line in grade.stdout.splitlines() if any(line.startswith(klass.names[k]) for k in
                                                                  ("ada", "grace", "alan", "lin"))]
    assert len(honest) == 4 and not any("problem" in line for line in honest), grade.stdout  # (eve's forgeries:
    # whatever they hold, graded as hers)
    klass.labkit("feedback", LAB)
    with Gradebook(f"sqlite:///{klass.root}/grading/gradebook.db") as gb:
        rows = {s.student.id: s for s in gb.find_assignment(LAB).submissions}
        alan, ada = rows[klass.names["alan"]], rows[klass.names["ada"]]
        assert alan.timestamp is not None and alan.timestamp.replace(tzinfo=UTC) < due
        assert alan.score < ada.score  # the partial (on-time) one was graded, not the late perfect one
        assert all(not nb.late_submission_penalty for nb in alan.notebooks)
        lin = rows[klass.names["lin"]]
        assert lin.score == ada.score > 0  # the same perfect work ...
        (penalty,) = [nb.late_submission_penalty for nb in lin.notebooks]
        assert penalty == pytest.approx(0.1 * lin.score)  # ... less 10 % for a started day late
    for who in ("ada", "lin"):
        fetched = klass.as_learner(who, f"nbgrader fetch_feedback {LAB}")
        assert fetched.returncode == 0, fetched.stderr
        (page,) = (Path("/home") / klass.names[who] / LAB / "feedback").rglob("*.html")
        assert klass.names[who] in page.read_text()
        others = [n for k, n in klass.names.items() if k != who]
        assert not any(n in page.read_text() for n in others)
