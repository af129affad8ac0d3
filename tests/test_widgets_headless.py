"""The labs' widgets never hang a headless run, whoever runs it, with no labkit environment variable set.

An instructor's own CI runs stock ``papermill`` or ``jupyter nbconvert --execute`` on a lab; neither sets
``LABKIT_HEADLESS``, so the widgets take their interactive path. Output routed through ``ipywidgets.Output``
made nbclient send widget updates back to the kernel on the channel it waits for the cell's reply on, and
some runs never finished (nbclient #312; two of three runs of the old explorers under plain papermill,
measured). Here every explorer the labs use is built 20 times in a row under both tools, with a deadline for the
whole run, so a hang fails instead of blocking the suite.
"""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from labkit.grading.nbgrader import lab_notebook, list_labs
from labkit.jupyter import KERNEL_NAME

REPEATS = 20
CELL_TIMEOUT = 120
WHOLE_RUN = 600  # seconds; the 120 cells take about a minute

# each explorer a lab calls, made the way the lab makes it (small inputs: the widget path is what matters)
EXPLORERS = {
    "threshold_explorer": "from labkit.metrics.plots import threshold_explorer\n"
                          "rng = np.random.default_rng(0); y = rng.integers(0, 2, 300)\n"
                          "threshold_explorer(y, rng.random(300) + 0.4 * y)",
    "kernel_explorer": "from labkit.nn.plots import kernel_explorer\n"
                       "kernel_explorer(np.random.default_rng(0).random((12, 12)), np.eye(3))",
    "rung_explorer": "from labkit.hpo.plots import rung_explorer\nrung_explorer(ASHA_RUN)",
    "ring_explorer": "from labkit.distributed.plots import ring_explorer\nring_explorer(5)",
    "lstm_gate_explorer": "from labkit.nn.recurrent import memory_cell_lstm\n"
                          "from labkit.nn.recurrent_plots import lstm_gate_explorer\n"
                          "lstm_gate_explorer(memory_cell_lstm(), np.array([[0.9, 1], [0.1, 0], [-0.8, 1], [0.3, 0]]))",
    "drift_explorer": "import pandas as pd\nfrom labkit.serving.plots import drift_explorer\n"
                      "rng = np.random.default_rng(0); ref = pd.DataFrame({'temp': rng.normal(50, 9, 400)})\n"
                      "months = {m: pd.DataFrame({'temp': rng.normal(40 + 3 * m, 9, 300)}) for m in (5, 6, 7)}\n"
                      "drift_explorer(ref, months, 'temp')",
}
SETUP = ("import numpy as np\n"
         "from labkit.hpo import ASHA, RandomSearcher, tune, uniform\n"
         "def curve(config, *, start, stop, checkpoint, seed):\n"
         "    return [config['x'] * (1 - 2.0 ** -s) for s in range(start + 1, stop + 1)], None\n"
         "ASHA_RUN = tune(curve, ASHA(RandomSearcher({'x': uniform(0, 1)}, seed=0), n_trials=9, max_resource=9),\n"
         "                progress=False)\n"
         "%matplotlib inline")


def _explorers_in_labs() -> set[str]:
    called = set()
    for lab in list_labs():
        nb = nbformat.read(lab_notebook(lab, released=True), as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                called |= set(re.findall(r"\b(\w+_explorer)\(", cell.source))
    return called


def test_every_explorer_a_lab_uses_is_exercised_here():
    assert _explorers_in_labs() <= set(EXPLORERS), sorted(_explorers_in_labs() - set(EXPLORERS))
    assert len(_explorers_in_labs()) >= 4  # guards against a finder that finds nothing


def _notebook(path: Path) -> Path:
    cells = [nbformat.v4.new_code_cell(SETUP)]
    cells += [nbformat.v4.new_code_cell(code) for _ in range(REPEATS) for code in EXPLORERS.values()]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata.kernelspec = {"name": KERNEL_NAME, "display_name": "labkit", "language": "python"}
    nbformat.write(nb, path)
    return path


def _plain_environment() -> dict[str, str]:
    """The environment of someone else's CI: no labkit or nbgrader variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABKIT_", "NBGRADER"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


COMMANDS = {
    "papermill": lambda src, out: [sys.executable, "-m", "papermill", str(src), str(out), "--kernel", KERNEL_NAME,
                                   "--execution-timeout", str(CELL_TIMEOUT), "--no-progress-bar"],
    "nbconvert": lambda src, out: [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                                   f"--ExecutePreprocessor.timeout={CELL_TIMEOUT}", "--output", str(out), str(src)],
}


@pytest.mark.slow
@pytest.mark.parametrize("tool", sorted(COMMANDS))
def test_explorers_never_hang_stock_headless_runs(tool: str, tmp_path: Path):
    source = _notebook(tmp_path / "explorers.ipynb")
    out = tmp_path / f"executed-{tool}.ipynb"
    # a hang shows as no reply at all (the per-cell timeout never fires), hence a deadline for the whole run;
    # the tool and the kernel it started are stopped together when it passes
    proc = subprocess.Popen(COMMANDS[tool](source, out), env=_plain_environment(), cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=WHOLE_RUN)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{tool} hung: {REPEATS} × {len(EXPLORERS)} widget cells did not finish in {WHOLE_RUN} s")
    assert proc.returncode == 0, stderr[-3000:]
    executed = json.loads(out.read_text())
    widget_cells = executed["cells"][1:]
    assert len(widget_cells) == REPEATS * len(EXPLORERS)
    for cell in widget_cells:  # the interactive path ran: a widget view, and no error
        kinds = [o.get("output_type") for o in cell["outputs"]]
        assert "error" not in kinds, cell["outputs"]
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in cell["outputs"]), kinds
