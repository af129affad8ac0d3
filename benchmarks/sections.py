"""Refresh some sections of ``results.md`` in place, keeping every other measured section as it was."""

from __future__ import annotations

from pathlib import Path


def refresh(results: Path, heading_prefix: str, lines: list[str]) -> None:
    """Replace the consecutive ``## `` sections whose heading starts with ``heading_prefix`` by ``lines``
    (appended at the end when there are none yet)."""
    old = results.read_text().splitlines() if results.exists() else ["# Benchmarks", ""]
    start = next((i for i, line in enumerate(old) if line.startswith(heading_prefix)), None)
    if start is None:
        new = old + lines
    else:
        end = start + 1
        while end < len(old) and not (old[end].startswith("## ") and not old[end].startswith(heading_prefix)):
            end += 1
        new = old[:start] + lines + old[end:]
    results.write_text("\n".join(new).rstrip("\n") + "\n")


def refresh_and_say(script: str, heading: str, lines: list[str]) -> None:
    """What a benchmark script run alone does: refresh its section of the ``results.md`` beside ``script``."""
    results = Path(script).parent / "results.md"
    refresh(results, heading, lines)
    print(f"wrote {results}")
