"""The kit's Jupyter kernel: the venv's Python, installed into the venv, used by every lab notebook."""

from __future__ import annotations

import json
import sys
from pathlib import Path

KERNEL_NAME = "labkit"
DISPLAY_NAME = "Python 3 (labkit)"
# Environment of every lab kernel. TensorFlow's C++ start-up log goes to stderr, and nbgrader gives
# 0 points to a test cell with any stderr output: keep it to warnings and errors.
KERNEL_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "SPARK_LOCAL_IP": "127.0.0.1", "PYTHONHASHSEED": "0"}


def kernel_dir(prefix: str | None = None) -> Path:
    """Where the kernel spec lives: ``<venv>/share/jupyter/kernels/labkit``."""
    return Path(prefix or sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME


def install_kernel(prefix: str | None = None) -> Path:
    """Write the kernel spec for this interpreter into ``prefix`` (default: the running venv).

    Jupyter finds specs under ``sys.prefix/share/jupyter``, so every Jupyter started from the venv
    (JupyterLab, papermill, nbgrader) uses this kernel whatever other Jupyter is on PATH.
    """
    target = kernel_dir(prefix)
    target.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": DISPLAY_NAME,
        "language": "python",
        "env": KERNEL_ENV,
        "metadata": {"debugger": True, "supported_encryption": ["curve"]},
    }
    (target / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
    return target


if __name__ == "__main__":
    print(f"installed kernel spec {KERNEL_NAME!r} in {install_kernel()}")
