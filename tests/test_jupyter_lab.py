"""`make lab` and `make formgrader`: the address printed works, and one Ctrl-C stops the server and its kernels."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from labkit.jupyter import LabServer, free_port

BIN = Path(sys.executable).parent


def _start(command: str, port: int, tmp_path: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    proc = subprocess.Popen([str(BIN / "labkit"), command, "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    deadline = time.monotonic() + 120
    seen = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        seen += line
        match = re.search(r"(http://127\.0\.0\.1:\d+/\S+\?token=\w+)", line)
        if match:
            return proc, match.group(1)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    pytest.fail(f"labkit {command} printed no address:\n{seen}")


def _stop_with_ctrl_c(proc: subprocess.Popen) -> str:
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends to the whole foreground group
    out, _ = proc.communicate(timeout=60)
    return out


@pytest.mark.slow
def test_make_lab_prints_a_working_address_and_one_ctrl_c_stops_it(tmp_path):
    port = free_port()
    proc, url = _start("lab", port, tmp_path)
    try:
        assert url.startswith(f"http://127.0.0.1:{port}/lab?token=")
        token = url.split("token=")[1]
        api = f"http://127.0.0.1:{port}/api"
        with urllib.request.urlopen(f"{api}/kernelspecs?token={token}") as response:
            specs = json.load(response)
        assert specs["default"] == "labkit"
        with urllib.request.urlopen(f"{api}/contents?token={token}") as response:
            names = {item["name"] for item in json.load(response)["content"]}
        assert {"01_spark_essentials", "08_distributed"} <= names  # the server shows labs/
        request = urllib.request.Request(f"{api}/kernels?token={token}", data=b"{}", method="POST")
        with urllib.request.urlopen(request) as response:
            kernel = json.load(response)
        assert kernel["name"] == "labkit"
        with pytest.raises(OSError):  # without the token: refused
            urllib.request.urlopen(f"{api}/contents").close()
    finally:
        out = _stop_with_ctrl_c(proc)
    assert proc.returncode == 0, out[-2000:]
    assert "stopped." in out
    assert "Shut down this Jupyter server" not in out  # no confirmation prompt
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2).close()
    processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert kernel["id"] not in processes  # its kernel went with it


@pytest.mark.slow
def test_make_formgrader_opens_the_instructor_view(tmp_path):
    proc, url = _start("formgrader", free_port(), tmp_path)
    try:
        assert "/formgrader?token=" in url
        # as a browser does: the token logs in (a cookie), then the redirect shows the page
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with opener.open(url) as response:
            page = response.read().decode()
        assert "Manage Assignments" in page
    finally:
        _stop_with_ctrl_c(proc)
    assert proc.returncode == 0


def test_a_taken_port_is_replaced_by_a_free_one():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        assert free_port(taken) != taken
    assert LabServer(Path("labs"), port=taken).url().startswith(f"http://127.0.0.1:{taken}/lab?token=")


@pytest.mark.slow
def test_validate_reports_every_self_check_through_nbgrader_s_own_endpoint(tmp_path):
    """The endpoint the toolbar's Validate posts to uses labkit's validator (enabled by the venv's Jupyter
    config that `make setup` writes): failed cells come back titled by task, with their check lines."""
    root = Path(__file__).resolve().parent.parent
    notebook = tmp_path / "work" / "04_metrics.ipynb"
    notebook.parent.mkdir()
    notebook.write_text((root / "grading" / "demo" / "04_metrics" / "partial.ipynb").read_text())
    (notebook.parent / "hints.json").write_text((root / "labs" / "04_metrics" / "hints.json").read_text())
    env = {"JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    with LabServer(tmp_path / "work", cwd=root, env=env, log=tmp_path / "server.log") as server:
        request = urllib.request.Request(server.url("assignments/validate"), method="POST",
                                         data=json.dumps({"path": "04_metrics.ipynb"}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=300) as response:
            answer = json.load(response)
    assert answer["success"], answer
    failed = answer["value"]["failed"]
    assert [f["source"] for f in failed] == ["Your task 1 · regression metrics", "Your task 2 · counts and scores",
                                             "Your task 3 · AUC as a probability"]
    assert failed[0]["raw_error"].startswith("Self-checks: ") and "hidden checks run" in failed[0]["raw_error"]
    assert "✗ mae of [1, 2] vs [2, 4]: expected 1.5, got 2.5" in failed[0]["raw_error"]
    assert "— hint: your MAE equals the MSE" in failed[0]["raw_error"]  # the mistake named, from hints.json
