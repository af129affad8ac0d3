"""Execute lab notebooks headlessly with papermill, into ``build/``, never over the sources."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from labkit.jupyter import KERNEL_NAME
from labkit.paths import build_dir, ensure_venv_bin_on_path

#: what ``--fast`` injects into every lab's ``parameters`` cell; each lab derives its small sizes from it
FAST_PARAMETERS = {"FAST": True}


def kernel_log() -> Path:
    """Where what kernels write straight to their stderr goes (the JVM's and TensorFlow's start-up messages):
    a person running the course reads progress bars and results, not library banners. Cell errors and
    Python warnings still land in the executed notebooks."""
    return build_dir() / "logs" / "kernels.log"


@dataclass
class RunResult:
    """The outcome of executing one notebook."""

    lab: str
    ok: bool
    seconds: float
    output: Path
    error: str = ""


def execute(
    notebook: Path,
    output: Path,
    *,
    fast: bool = False,
    parameters: dict | None = None,
    timeout: int = 900,
    progress: bool = False,
) -> RunResult:
    """Run ``notebook`` top to bottom in the kit's kernel and write the executed copy to ``output``."""
    import papermill as pm

    ensure_venv_bin_on_path()
    params = {**(FAST_PARAMETERS if fast else {}), **(parameters or {})}
    output.parent.mkdir(parents=True, exist_ok=True)
    os.environ["LABKIT_HEADLESS"] = "1"  # inherited by the kernel: see labkit.headless()
    start = time.perf_counter()
    try:
        pm.execute_notebook(
            str(notebook), str(output), parameters=params, kernel_name=KERNEL_NAME, cwd=str(notebook.parent),
            progress_bar=progress, execution_timeout=timeout, report_mode=False,
            kernel_manager_class=_ipc_kernel_manager(),
        )
    except Exception as exc:  # papermill raises PapermillExecutionError with the failing cell's traceback
        return RunResult(notebook.parent.name, False, time.perf_counter() - start, output, _summary(exc))
    return RunResult(notebook.parent.name, True, time.perf_counter() - start, output)


def run_labs(
    labs: list[str], *, fast: bool = False, source: str = "solutions", progress: bool = True
) -> list[RunResult]:
    """Execute each lab's notebook (from ``solutions/`` or the released ``labs/``) into ``build/executed/``."""
    from tqdm.auto import tqdm

    from labkit.grading.nbgrader import lab_notebook

    results = []
    bar = tqdm(labs, desc="executing labs", unit="lab", disable=not progress)
    for lab in bar:
        bar.set_postfix_str(lab)
        notebook = lab_notebook(lab, released=(source == "labs"))
        out = build_dir() / "executed" / ("fast" if fast else "full") / f"{lab}.ipynb"
        results.append(execute(notebook, out, fast=fast))
    return results


def _summary(exc: Exception) -> str:
    name = getattr(exc, "ename", type(exc).__name__)
    value = getattr(exc, "evalue", str(exc))
    cell = getattr(exc, "exec_count", None)
    where = f" in cell [{cell}]" if cell else ""
    return f"{name}{where}: {value}"[:1000]


def _ipc_kernel_manager() -> type:
    """A kernel manager that talks to its kernel over Unix sockets in a private folder (no TCP port is opened,
    and the kernel has no reason to warn that TCP is unencrypted), its direct stderr in :func:`kernel_log`."""
    import tempfile

    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class IPCKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
            log = kernel_log()
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("ab") as sink:  # the child keeps its own copy of the descriptor
                kw.setdefault("stderr", sink)
                await super()._async_launch_kernel(kernel_cmd, **kw)

        @default("transport")
        def _default_transport(self) -> str:
            return "ipc"

        @default("ip")
        def _default_ip(self) -> str:
            return os.path.join(tempfile.mkdtemp(prefix="labkit-kernel-"), "kernel")

    return IPCKernelManager
