"""What a sandboxed process sees of the machine: the folders it must read, and those it must not."""

from __future__ import annotations

from pathlib import Path


def _package_root() -> Path:
    return Path(__file__).resolve().parents[3]  # labkit/grading/sandbox/mounts.py → the checkout


def secret_paths() -> list[str]:
    """What a sandboxed process must not see: the instructor's folders of the course and of the kit's own
    checkout (they differ when the course lives elsewhere)."""
    from labkit.paths import build_dir, course_root, grading_dir, solutions_dir

    paths = [solutions_dir(), grading_dir(), build_dir(), course_root() / ".git"]
    package = _package_root()
    if package != course_root():
        paths += [package / name for name in ("solutions", "grading", "build", ".git")]
    return [str(p) for p in paths]


def visible_paths() -> list[str]:
    """What a sandboxed kernel must read: the interpreter, the venv, the course and its datasets."""
    import sys

    from labkit.paths import course_root, datasets_dir

    paths: list[Path] = []
    for p in (Path(sys.base_prefix), Path(sys.prefix), course_root(), datasets_dir(), _package_root()):
        p = p.resolve()
        if not any(p == q or q in p.parents for q in paths):
            paths = [q for q in paths if p not in q.parents] + [p]
    return [str(p) for p in paths]
