"""200 learners (accounts and exchange only, no servers): every submission collected once, and re-collecting
gives the same answer. Timed in ``make bench-classroom``; here only correctness is checked."""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import classroom_helpers
import pytest
from classroom_helpers import LAB, NB, ROOT

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the class exchange needs root (accounts)")

N = 200


def submit_all(klass: classroom_helpers.Class, workers: int = 8) -> None:
    """Each learner, as themselves, writes a hand-in (marked with their name) into their own inbound."""
    template = json.loads((ROOT / "grading" / "demo" / LAB / "perfect.ipynb").read_text())
    drop = klass.class_root / "drop"
    drop.mkdir(mode=0o755)

    def one(who: str) -> int:
        user = klass.names[who]
        nb = dict(template, metadata={**template["metadata"], "who": user})
        (drop / f"{user}.ipynb").write_text(json.dumps(nb))
        os.chmod(drop / f"{user}.ipynb", 0o644)
        key = f"{user}+{LAB}+2026-12-01 10:00:00.000000 UTC+r{who}"
        return klass.as_learner(who, f"cd {klass.inbound(who)} && mkdir '{key}' && cp {drop}/{user}.ipynb "
                                     f"'{key}/{NB}'").returncode

    with ThreadPoolExecutor(max_workers=workers) as pool:
        codes = list(pool.map(one, klass.names))
    assert codes == [0] * len(klass.names)
    shutil.rmtree(drop)


def test_200_submissions_collected_once_each_and_deterministically() -> None:
    with classroom_helpers.a_class([f"l{i:03d}" for i in range(N)], client=False) as klass:
        submit_all(klass)
        out = klass.labkit("collect", LAB).stdout
        assert f"collected {N}/{N} (0 late)" in out
        collected = klass.root / "grading" / "collected" / LAB
        folders = sorted(p.name for p in collected.iterdir() if not p.name.startswith("."))
        assert folders == sorted(klass.names.values())  # none lost, none extra
        for user in folders:  # each learner's own work, not a neighbour's
            assert json.loads((collected / user / NB).read_text())["metadata"]["who"] == user
        first = {u: (collected / u / "collected.json").read_text() for u in folders}
        klass.labkit("collect", LAB)
        assert {u: (collected / u / "collected.json").read_text() for u in folders} == first
