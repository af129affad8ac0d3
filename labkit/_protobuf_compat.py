"""Let TensorFlow 2.15 and the Spark Connect client share one environment.

TensorFlow 2.15 declares ``protobuf<5``; PySpark 4's Connect client needs ``grpcio-status>=1.76``, hence
protobuf 6. TensorFlow runs on protobuf 6 except that the pybind11 glue in its C extensions calls
``MessageFactory.GetPrototype``, removed in protobuf 5, and prints five ``AttributeError`` lines to
stderr on ``import tensorflow`` — which would zero any nbgrader test cell that imports it. This module
restores ``GetPrototype`` as the alias of its documented replacement, ``message_factory.GetMessageClass``.

``make setup`` installs a ``labkit_protobuf_compat.pth`` file so the alias exists in every interpreter of
the venv (notebook kernels, Horovod and Spark workers) before anything imports TensorFlow:

    python -m labkit._protobuf_compat
"""

from __future__ import annotations

import site
import sys
from pathlib import Path

PTH_NAME = "labkit_protobuf_compat.pth"
PTH_LINE = 'import sys; exec("try:\\n import labkit._protobuf_compat as m; m.patch()\\nexcept Exception:\\n pass")\n'


def patch() -> bool:
    """Add ``MessageFactory.GetPrototype`` when protobuf lacks it; returns whether it patched."""
    try:
        from google.protobuf import message_factory
    except ImportError:
        return False
    if hasattr(message_factory.MessageFactory, "GetPrototype"):
        return False

    def GetPrototype(self, descriptor):  # noqa: N802 - protobuf's own (removed) name
        return message_factory.GetMessageClass(descriptor)

    message_factory.MessageFactory.GetPrototype = GetPrototype
    return True


def install_pth(site_packages: str | None = None) -> Path:
    """Write the ``.pth`` hook into the venv's site-packages."""
    target = Path(site_packages or site.getsitepackages()[0]) / PTH_NAME
    target.write_text(PTH_LINE)
    return target


if __name__ == "__main__":
    print(f"installed {install_pth()} (python {sys.version.split()[0]})")
