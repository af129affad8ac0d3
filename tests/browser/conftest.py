"""A real JupyterLab server and Debian's Chromium driven by Playwright (``make test-browser``).

Playwright's own browser download is not available here: the tests launch ``/usr/bin/chromium``
(``LABKIT_CHROMIUM`` overrides it), which ``.ci/setup-browser.sh`` installs.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from pathlib import Path

import nbformat
import pytest

from labkit.jupyter import LabServer

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = os.environ.get("LABKIT_CHROMIUM", "/usr/bin/chromium")
# as the machine notes say: a closed network makes Chromium's background services fail noisily
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
# every cell in the DOM (no windowing), so what the tests look at is the whole notebook
LAB_SETTINGS = {"@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
                "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False}}


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make test-browser`, which installs Debian's chromium "
                    "package, or set LABKIT_CHROMIUM")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _jupyter_env(base: Path) -> dict[str, str]:
    """Config, settings, workspaces and runtime of this test's own: nothing from ~/.jupyter leaks in."""
    settings = base / "settings"
    for plugin, values in LAB_SETTINGS.items():
        package, name = plugin.rsplit("/", 1)
        path = settings / package / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = {"JUPYTER_CONFIG_DIR": base / "config", "JUPYTERLAB_SETTINGS_DIR": settings,
           "JUPYTERLAB_WORKSPACES_DIR": base / "workspaces", "JUPYTER_RUNTIME_DIR": base / "runtime"}
    for path in env.values():
        path.mkdir(parents=True, exist_ok=True)
    return {k: str(v) for k, v in env.items()}


def fast_copy(source: Path, target: Path) -> Path:
    """``source`` with its papermill parameters cell set to the lab's fast sizes (``FAST = True``)."""
    nb = nbformat.read(source, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1 and "FAST = False" in cells[0].source, f"{source.name}: no FAST parameter"
    cells[0].source = cells[0].source.replace("FAST = False", "FAST = True", 1)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


@pytest.fixture(scope="session")
def learner_server(tmp_path_factory):
    """JupyterLab as ``make lab`` starts it, on a folder holding each lab as a learner finished it (the
    ``perfect`` demo submission: the released notebook with its answers filled in), with fast sizes."""
    base = tmp_path_factory.mktemp("jupyterlab")
    workspace = base / "labs"
    for demo in sorted((ROOT / "grading" / "demo").glob("*/perfect.ipynb")):
        lab = demo.parent.name
        fast_copy(demo, workspace / lab / f"{lab}.ipynb")
        for extra in (ROOT / "labs" / lab).iterdir():  # what the release puts beside it (hints.json)
            if extra.suffix != ".ipynb":
                shutil.copy(extra, workspace / lab / extra.name)
    # lab 04 with the usual mistakes of the partial demo submission, for Validate's report
    fast_copy(ROOT / "grading" / "demo" / "04_metrics" / "partial.ipynb", workspace / "mistakes" / "04_metrics.ipynb")
    shutil.copy(ROOT / "labs" / "04_metrics" / "hints.json", workspace / "mistakes" / "hints.json")
    server = LabServer(workspace, cwd=ROOT, expose_app=True, env=_jupyter_env(base), log=base / "server.log")
    with server:
        yield server
    print((base / "server.log").read_text()[-3000:])


@pytest.fixture(scope="session")
def instructor_course(tmp_path_factory):
    """A scratch course with lab 04 released and its three demo submissions graded by ``labkit grade``."""
    from scratch import scratch_course, scratch_env

    base = tmp_path_factory.mktemp("formgrader")
    course = scratch_course(base / "course", ["04_metrics"])
    subs = base / "subs"
    for kind in ("perfect", "partial", "blank"):
        (subs / kind).mkdir(parents=True)
        shutil.copy(ROOT / "grading" / "demo" / "04_metrics" / f"{kind}.ipynb", subs / kind / "04_metrics.ipynb")
    env = {**os.environ, **scratch_env(course)}
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "labkit.cli", "grade", "04_metrics", str(subs)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return course, base


@pytest.fixture(scope="session")
def instructor_server(instructor_course):
    course, base = instructor_course
    env = {**_jupyter_env(base), "LABKIT_COURSE_ROOT": str(course)}
    with LabServer(course, cwd=course, expose_app=True, env=env, log=base / "server.log") as server:
        yield server


def shut_down_kernels(server: LabServer) -> None:
    """Free the memory a finished lab's kernel holds (a Spark JVM, TensorFlow) before the next lab."""
    with urllib.request.urlopen(server.url("api/kernels")) as response:
        kernels = json.load(response)
    for k in kernels:
        request = urllib.request.Request(server.url(f"api/kernels/{k['id']}"), method="DELETE")
        urllib.request.urlopen(request).close()
