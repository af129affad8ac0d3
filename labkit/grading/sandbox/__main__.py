"""``python -m labkit.grading.sandbox PRELOAD_JSON``: the zygote process (see :mod:`labkit.grading.sandbox.zygote`)."""

import json
import sys

from labkit.grading.sandbox.zygote import zygote_main

if __name__ == "__main__":  # pragma: no cover - its own process, tested end to end
    zygote_main(*json.loads(sys.argv[1]))
