"""``labkit hub`` for real: JupyterHub and its proxy on loopback, learners logging in with their account's password
(PAM), each server running as its learner inside their limits, no formgrader for learners, the formgrader service
for the instructors' group only, and everything gone after the hub stops."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import classroom_helpers
import pytest
import requests
from classroom_helpers import LAB

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the hub needs root (accounts, PAM, setuid)")

PASSWORD = "class-pw-4242"


def login(base: str, user: str, password: str = PASSWORD) -> requests.Session:
    """A browser-like session logged in to the hub through its log-in form."""
    s = requests.Session()
    page = s.get(base + "hub/login", timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    data = {"username": user, "password": password, **({"_xsrf": xsrf.group(1)} if xsrf else {})}
    done = s.post(base + "hub/login?next=", data=data, timeout=60, allow_redirects=True)
    assert done.status_code == 200, done.text[:500]
    return s


def start_server(s: requests.Session, base: str, user: str) -> str:
    """Start the user's server as the log-in does, wait until JupyterLab answers; returns the page."""
    s.get(base + "hub/spawn", timeout=120)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        page = s.get(base + f"user/{user}/lab", timeout=60)
        if page.status_code == 200 and page.url.endswith(f"/user/{user}/lab"):
            return page.text
        time.sleep(1)
    raise AssertionError(f"{user}'s server did not start")


def get(s: requests.Session, base: str, prefix: str, path: str, **kw) -> requests.Response:
    """A Jupyter server API call through the hub with the session's cookie (and its XSRF token, as a browser sends)."""
    xsrf = s.cookies.get("_xsrf", path=f"/{prefix}/")
    return s.get(base + f"{prefix}/{path}", headers={"X-XSRFToken": xsrf} if xsrf else {}, timeout=60, **kw)


def leftovers(accounts: list[str], class_root=None) -> str:
    """Processes of these accounts, and any process run from the class root (the hub, its proxy, its services)."""
    found = subprocess.run(["pgrep", "-a", "-u", ",".join(accounts)], capture_output=True, text=True).stdout
    if class_root is not None:
        found += subprocess.run(["pgrep", "-a", "-f", str(class_root)], capture_output=True, text=True).stdout
    return found.strip()


@pytest.fixture(scope="module")
def klass():
    with classroom_helpers.a_class(["ada", "eve"], hub=True) as made:
        teacher = f"{made.course_id}teach"
        from labkit.classroom.accounts import create_plain, exists

        if not exists(teacher):
            create_plain(teacher, "test instructor")
        accounts = [*made.names.values(), teacher]
        subprocess.run(["chpasswd"], input="".join(f"{u}:{PASSWORD}\n" for u in accounts), text=True, check=True)
        yield made


@pytest.fixture(scope="module")
def hub(klass):
    from labkit.classroom.course_file import load
    from labkit.classroom.hub import Hub
    from labkit.classroom.roster import read

    teacher = f"{klass.course_id}teach"
    course = load(klass.course_file)
    with Hub(course, read(course.roster), klass.root, port=0, full=False, progress=lambda _: None) as the_hub:
        yield klass, the_hub, teacher
    accounts = [*klass.names.values(), teacher]
    assert not leftovers(accounts, klass.class_root), f"left after the hub stopped: {leftovers(accounts)}"


@pytest.mark.parametrize("how", ["ctrl-c", "kill from a background job"])
def test_ctrl_c_or_kill_stops_the_hub_and_everything_it_started(klass, how: str) -> None:
    """`labkit hub` as an instructor runs it: the address printed, a learner working, then Ctrl-C; or, started as a
    shell's background job (SIGINT ignored, inherited by everything it starts), stopped with `kill`."""
    env = {**os.environ, "LABKIT_COURSE_ROOT": str(klass.root)}
    background = how != "ctrl-c"
    proc = subprocess.Popen([str(classroom_helpers.ROOT / ".venv" / "bin" / "labkit"), "hub", "--port", "0"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if background else None)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C stops" in line:
                break
        url = next(m.group(0) for line in lines if (m := re.search(r"http://127\.0\.0\.1:\d+/", line)))
        ada = klass.names["ada"]
        start_server(login(url, ada), url, ada)
        assert leftovers([ada])  # her server runs ...
        proc.send_signal(signal.SIGTERM if background else signal.SIGINT)
        rest = proc.communicate(timeout=90)[0]
        assert proc.returncode == 0 and "stopped." in rest
        assert not leftovers([ada], klass.class_root)  # ... and stopped with the hub, its proxy and services
        with pytest.raises(requests.ConnectionError):
            requests.get(url + "hub/health", timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_learner_logs_in_and_works_as_themselves_within_limits(hub) -> None:
    klass, the_hub, _ = hub
    ada = klass.names["ada"]
    s = login(the_hub.url, ada)
    start_server(s, the_hub.url, ada)
    listing = get(s, the_hub.url, f"user/{ada}", "assignments", params={"course_id": klass.course_id})
    assert listing.status_code == 200 and LAB in listing.text  # nbgrader's Assignment List sees the class exchange
    pid = int(subprocess.run(["pgrep", "-u", ada, "-f", "jupyterhub-singleuser"], capture_output=True,
                             text=True).stdout.split()[0])
    assert os.stat(f"/proc/{pid}").st_uid == __import__("pwd").getpwnam(ada).pw_uid
    cgroups = open(f"/proc/{pid}/cgroup").read()
    assert f"hub-{ada}" in cgroups  # inside its own cgroup ...
    memory = [line.split(":")[2] for line in cgroups.splitlines() if ":memory:" in line or line.startswith("0::")]
    from labkit.classroom.course_file import load

    limit = load(klass.course_file).resources.memory_bytes
    v1, v2 = f"/sys/fs/cgroup/memory{memory[0]}/memory.limit_in_bytes", f"/sys/fs/cgroup{memory[-1]}/memory.max"
    path = v1 if os.path.exists(v1) else v2
    assert int(open(path).read()) == limit  # ... held to the course file's memory
    from labkit.grading import sandbox
    from labkit.grading.engine import _runtime_base

    sandbox.reap_dead_runs(_runtime_base())  # what `labkit grade` does first: it must not take learners' servers
    assert os.path.exists(f"/proc/{pid}") and get(s, the_hub.url, f"user/{ada}", "api/status").status_code == 200


def test_learners_have_no_formgrader_and_cannot_open_the_service(hub) -> None:
    klass, the_hub, _ = hub
    eve = klass.names["eve"]
    s = login(the_hub.url, eve)
    page_config = start_server(s, the_hub.url, eve)
    assert get(s, the_hub.url, f"user/{eve}", "formgrader/api/assignments").status_code == 404
    assert get(s, the_hub.url, f"user/{eve}", "api/status").status_code == 200  # (the server does answer)
    data = json.loads(re.search(r'id="jupyter-config-data" type="application/json">(.*?)</script>', page_config,
                                re.DOTALL).group(1))
    assert "@jupyter/nbgrader:formgrader" in data["disabledExtensions"], data["disabledExtensions"]  # no menu
    service = s.get(the_hub.url + "services/formgrader/formgrader", timeout=60)
    assert service.status_code == 403
    other = get(s, the_hub.url, f"user/{klass.names['ada']}", "api/contents")
    assert other.status_code == 403  # not into another learner's server


def test_instructors_reach_the_formgrader_service(hub) -> None:
    klass, the_hub, teacher = hub
    s = login(the_hub.url, teacher)
    page = s.get(the_hub.url + "services/formgrader/formgrader", timeout=120)
    assert page.status_code == 200 and "nbgrader" in page.text.lower()
    api = get(s, the_hub.url, "services/formgrader", "formgrader/api/assignments")
    assert api.status_code == 200 and LAB in api.text
    assert get(s, the_hub.url, "services/formgrader", "api/kernelspecs").json()["kernelspecs"] == {}  # runs no code
    assert get(s, the_hub.url, "services/formgrader", "lab").status_code >= 400  # and serves no JupyterLab
