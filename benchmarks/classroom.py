"""``make bench-classroom``: a class of 200 learners on this machine (accounts and exchange, no servers).

Each learner, as their own account, hands in lab 04 (a third perfect, a third partial, a third blank) in a bounded
concurrent loop; then ``labkit collect`` and ``labkit grade`` run as the instructor would. Goals from the issue:
collect under 10 s, collect + grade of 200 submissions under 5 minutes on 2 cores. Needs root.

Run alone (``make bench-classroom``) it refreshes only its section of ``results.md``; ``make bench`` runs it too.
"""

from __future__ import annotations

import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HEADING = "## A class of 200"
N = 200


def classroom_section() -> list[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import classroom_helpers
    from classroom_helpers import LAB, NB, ROOT

    if os.geteuid() != 0:
        return [HEADING, "", "(not measured: needs root to create the learners' accounts)", ""]
    kinds = ["perfect", "partial", "blank"]
    with classroom_helpers.a_class([f"l{i:03d}" for i in range(N)], client=False) as klass:
        drop = klass.class_root / "drop"
        drop.mkdir(mode=0o755)
        for kind in kinds:
            (drop / f"{kind}.ipynb").write_text((ROOT / "grading" / "demo" / LAB / f"{kind}.ipynb").read_text())
            os.chmod(drop / f"{kind}.ipynb", 0o644)

        def hand_in(i_who: tuple[int, str]) -> int:
            i, who = i_who
            user = klass.names[who]
            key = f"{user}+{LAB}+2026-12-01 10:00:00.000000 UTC+r{i}"
            return klass.as_learner(who, f"cd {klass.inbound(who)} && mkdir '{key}' && "
                                         f"cp {drop}/{kinds[i % 3]}.ipynb '{key}/{NB}'").returncode

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            codes = list(pool.map(hand_in, enumerate(klass.names)))
        submit_s = time.perf_counter() - start
        assert codes == [0] * N
        start = time.perf_counter()
        klass.labkit("collect", LAB)
        collect_s = time.perf_counter() - start
        start = time.perf_counter()
        out = klass.labkit("grade", LAB, "-j", "2", check=False).stdout
        grade_s = time.perf_counter() - start
        collected = len([p for p in (klass.root / "grading" / "collected" / LAB).iterdir()
                         if not p.name.startswith(".")])
        scores = [float(m.group(1)) for m in re.finditer(r"^\S+\s+([\d.]+) / 10", out, re.MULTILINE)]
    total = collect_s + grade_s
    return ["", HEADING, "",
            f"{N} learners' accounts, each handing in lab 04 as themselves (8 at a time: {submit_s:.1f} s), then the "
            "instructor's two commands, on this machine's 2 cores:", "",
            "| step | seconds | goal |", "|---|---:|---|",
            f"| `labkit collect 04` ({collected} collected) | {collect_s:.1f} | under 10 s "
            f"{'✓' if collect_s < 10 else '✗'} |",
            f"| `labkit grade 04 -j 2` | {grade_s:.1f} | |",
            f"| collect + grade | {total:.1f} | under 300 s {'✓' if total < 300 else '✗'} |", "",
            f"{len(scores)} graded: {scores.count(10.0)} full marks, {scores.count(0.0)} zero, "
            f"{len(scores) - scores.count(10.0) - scores.count(0.0)} in between (a third each were handed in).", ""]


if __name__ == "__main__":
    from sections import refresh_and_say

    refresh_and_say(__file__, HEADING, classroom_section())
