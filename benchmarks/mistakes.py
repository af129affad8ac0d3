"""``make bench-mistakes``: every catalogued mistake tried against its lab's checks.

For each lab with ``grading/mistakes/<lab>.json``: how many of its mistakes a visible self-check catches (goal
100 %), how many a hint names (goal ≥ 80 %), and the surprises: mistakes that pass every self-check yet lose
points at grading (goal 0). The same run is a test (``tests/test_grading_hints.py``).

Run alone (``make bench-mistakes``) it refreshes only its section of ``results.md``; ``make bench`` runs it too.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

HEADING = "## Mistake hints"


def mistakes_section() -> list[str]:
    from labkit.grading.mistakes import catalogue, measure, summary
    from labkit.grading.nbgrader import list_labs

    rows = []
    for lab in [lab for lab in list_labs() if catalogue(lab)]:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as work:
            figures = summary(measure(lab, Path(work)))
        seconds = time.perf_counter() - start
        tasks = len(catalogue(lab))
        goals = figures["caught"] == 1 and figures["named"] >= 0.8 and figures["surprises"] == 0
        rows.append(f"| {lab} | {tasks} | {figures['mistakes']} | {figures['caught']:.0%} | {figures['named']:.0%} | "
                    f"{figures['surprises']} | {seconds:.0f} | {'✓' if goals else '✗'} |")
        print(rows[-1])
    return [f"{HEADING}: each catalogued mistake against the lab's own checks", "",
            "Each mistake is an edit of a task's solution (`grading/mistakes/<lab>.json`), tried in the lab's kernel "
            "with the lab's small sizes: the visible self-checks alone, then every check as grading runs them. "
            "Goals: every mistake caught by a self-check, ≥ 80 % named by a hint (a fingerprint only that mistake "
            "produces), no surprise (a mistake that passes every self-check but loses points at grading). Labs "
            "without a catalogue yet are not listed.", "",
            "| lab | tasks | mistakes | caught by a self-check | named by a hint | surprises | run (s) | goals |",
            "|---|---:|---:|---:|---:|---:|---:|---|", *rows, ""]


if __name__ == "__main__":
    from sections import refresh

    here = Path(__file__).parent
    refresh(here / "results.md", HEADING, mistakes_section())
    print(f"wrote {here / 'results.md'}")
