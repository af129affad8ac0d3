"""Loaders for the datasets shipped in ``datasets/``, verified against ``datasets/MANIFEST``.

No loader touches the network: every file ships with the kit and its sha256 is checked on first
load in a process. A missing or corrupted file raises :class:`DatasetError` naming the file and the fix.

>>> x_train, y_train, x_test, y_test = load_mnist()
>>> x_train.shape, x_test.shape, x_train.dtype
((8000, 28, 28), (2000, 28, 28), dtype('uint8'))
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import numpy as np

from labkit.paths import datasets_dir

__all__ = ["DatasetError", "manifest", "verify", "dataset_path", "load_mnist", "make_correlated"]


class DatasetError(RuntimeError):
    """A shipped dataset is missing, corrupted or not listed in the MANIFEST."""


def manifest(directory: Path | None = None) -> dict[str, str]:
    """Map each shipped file name to its expected sha256, read from ``MANIFEST``."""
    directory = directory or datasets_dir()
    path = directory / "MANIFEST"
    if not path.is_file():
        raise DatasetError(f"{path} is missing: restore it with `git checkout -- datasets/MANIFEST`.")
    entries = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DatasetError(f"{path}:{number}: expected '<sha256>  <file>', got {line!r}.")
        entries[parts[1]] = parts[0]
    return entries


def sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(name: str, directory: Path | None = None) -> Path:
    """Check one shipped file against the MANIFEST and return its path."""
    directory = directory or datasets_dir()
    expected = manifest(directory).get(name)
    if expected is None:
        raise DatasetError(f"{name!r} is not listed in {directory / 'MANIFEST'}: known files are "
                           f"{sorted(manifest(directory))}.")
    path = directory / name
    if not path.is_file():
        raise DatasetError(
            f"{path} is missing. Restore it with `git checkout -- datasets/{name}` "
            f"(or rebuild it with the build script in datasets/, see datasets/README.md)."
        )
    actual = sha256(path)
    if actual != expected:
        raise DatasetError(
            f"{path} is corrupted: sha256 {actual[:12]}… does not match the MANIFEST's {expected[:12]}…. "
            f"Restore it with `git checkout -- datasets/{name}`."
        )
    return path


DATA_SUFFIXES = (".npz", ".parquet", ".csv")


def write_manifest(directory: Path | None = None) -> Path:
    """Rewrite ``MANIFEST`` (``<sha256>  <file>`` lines, ``sha256sum -c`` compatible) for every data file.

    Build scripts call this after writing their output.
    """
    directory = directory or datasets_dir()
    lines = [f"{sha256(f)}  {f.name}" for f in sorted(directory.iterdir()) if f.is_file() and f.suffix in DATA_SUFFIXES]
    path = directory / "MANIFEST"
    path.write_text("\n".join(lines) + "\n")
    return path


@cache
def _verified(name: str, directory: str) -> Path:
    return verify(name, Path(directory))


def dataset_path(name: str) -> Path:
    """Path of a shipped file, verified once per process."""
    return _verified(name, str(datasets_dir()))


# loaders whose decoded arrays are cached per process (the grader's zygote fills the cache once for all kernels)
CACHED_LOADERS = ("load_mnist",)


@cache
def _mnist_arrays(path: str) -> tuple[np.ndarray, ...]:
    with np.load(path) as data:
        arrays = tuple(data[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    for a in arrays:
        a.flags.writeable = False
    return arrays


def load_mnist(*, normalize: bool = False, flatten: bool = False):
    """The shipped MNIST subset: 10,000 real digits, stratified 8,000 train / 2,000 test.

    Returns ``(x_train, y_train, x_test, y_test)``. Images are ``uint8`` grey levels 0–255 of shape
    ``(n, 28, 28)``; ``normalize=True`` gives ``float32`` in [0, 1] and ``flatten=True`` shape ``(n, 784)``.
    Labels are ``uint8`` digits 0–9.
    """
    x_train, y_train, x_test, y_test = (a.copy() for a in _mnist_arrays(str(dataset_path("mnist10k.npz"))))
    if normalize:
        x_train, x_test = x_train.astype(np.float32) / 255.0, x_test.astype(np.float32) / 255.0
    if flatten:
        x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    return x_train, y_train, x_test, y_test


def make_correlated(n: int, r: float, *, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two samples of length ``n`` whose Pearson correlation is exactly ``r`` (to round-off).

    Built by mixing a standardised variable with a second one made orthogonal to it, so the sample
    correlation is ``r`` itself, not just in expectation.

    >>> x, y = make_correlated(200, 0.7, seed=0)
    >>> round(float(np.corrcoef(x, y)[0, 1]), 10)
    0.7
    """
    if not -1.0 <= r <= 1.0:
        raise ValueError(f"r must lie in [-1, 1], got {r!r}.")
    if n < 3:
        raise ValueError(f"n must be at least 3, got {n!r}.")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    z = rng.standard_normal(n)
    x = (x - x.mean()) / x.std()
    z = z - z.mean()
    z -= np.dot(z, x) / np.dot(x, x) * x
    z /= z.std()
    return x, r * x + np.sqrt(1.0 - r * r) * z
