"""Shipped datasets: checksums verified, clear errors on missing or corrupted files, no network."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from labkit import datasets
from labkit.paths import datasets_dir


def test_manifest_matches_every_shipped_file_and_sha256sum_agrees():
    names = datasets.manifest()
    assert "mnist10k.npz" in names
    for name in names:
        datasets.verify(name)
    # the MANIFEST is in sha256sum's format: an independent tool checks it too
    out = subprocess.run(["sha256sum", "-c", "MANIFEST"], cwd=datasets_dir(), capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mnist_is_a_stratified_split_of_10000_real_digits():
    x_train, y_train, x_test, y_test = datasets.load_mnist()
    assert x_train.shape == (8000, 28, 28) and x_test.shape == (2000, 28, 28)
    assert x_train.dtype == np.uint8 and x_train.max() == 255
    per_class = np.bincount(np.concatenate([y_train, y_test]))
    assert len(per_class) == 10 and per_class.min() > 800  # every digit well represented
    # stratified: each class contributes round(20 %) of its digits to the test split
    np.testing.assert_array_equal(np.bincount(y_test), np.rint(per_class * 0.2).astype(int))
    # real handwriting: every digit has ink (about 10-25 % of pixels) and no two images are identical
    ink = (np.concatenate([x_train, x_test]) > 0).mean(axis=(1, 2))
    assert 0.05 < ink.mean() < 0.3
    flat = np.concatenate([x_train, x_test]).reshape(10000, -1)
    assert len(np.unique(flat, axis=0)) == 10000


def test_normalize_and_flatten():
    x_train, _, x_test, _ = datasets.load_mnist(normalize=True, flatten=True)
    assert x_train.shape == (8000, 784) and x_train.dtype == np.float32
    assert 0.0 <= x_test.min() and x_test.max() <= 1.0


@pytest.fixture()
def data_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for f in datasets_dir().iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path)
    monkeypatch.setenv("LABKIT_DATASETS", str(tmp_path))
    datasets._verified.cache_clear()
    yield tmp_path
    datasets._verified.cache_clear()


def test_corrupted_file_names_the_file_and_the_fix(data_copy: Path):
    with (data_copy / "mnist10k.npz").open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x01\x02")
    fix = r"mnist10k.npz is corrupted.*git checkout -- datasets/mnist10k.npz"
    with pytest.raises(datasets.DatasetError, match=fix):
        datasets.load_mnist()


def test_missing_file_names_the_file_and_the_fix(data_copy: Path):
    (data_copy / "mnist10k.npz").unlink()
    with pytest.raises(datasets.DatasetError, match=r"mnist10k.npz is missing.*git checkout"):
        datasets.load_mnist()


def test_unknown_name_lists_known_files():
    with pytest.raises(datasets.DatasetError, match="not listed"):
        datasets.verify("cifar.npz")


def test_build_script_reproduces_the_shipped_bytes(tmp_path: Path):
    """Rebuild the npz from the shipped arrays' source format and compare bytes: the writer is deterministic."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_mnist", datasets_dir() / "build_mnist.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    with np.load(datasets_dir() / "mnist10k.npz") as data:
        arrays = {k: data[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    out = tmp_path / "mnist10k.npz"
    build.write_npz(out, arrays)
    assert out.read_bytes() == (datasets_dir() / "mnist10k.npz").read_bytes()


def test_no_loader_imports_network_modules():
    source = (Path(datasets.__file__)).read_text()
    for module in ("urllib", "requests", "http.client", "socket"):
        assert f"import {module}" not in source
