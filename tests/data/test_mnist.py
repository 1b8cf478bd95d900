"""IDX reader and MNIST loader on the genuine files and on corrupted copies."""

from __future__ import annotations

import gzip
import shutil
import struct

import numpy as np
import pytest

from data import MNISTDataset, load_mnist, read_idx, resolve_mnist_dir
from data.mnist import MNIST_MD5, md5_of

# Published class counts of the MNIST test set (digits 0..9).
TEST_HISTOGRAM = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_genuine_checksums(mnist_dir):
    for name, want in MNIST_MD5.items():
        assert md5_of(mnist_dir / name) == want


def test_genuine_counts_and_histogram(mnist_test, mnist_train):
    images, labels = mnist_test
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.dtype == np.int64
    assert np.bincount(labels, minlength=10).tolist() == TEST_HISTOGRAM
    timages, tlabels = mnist_train
    assert timages.shape == (60000, 28, 28)
    assert np.bincount(tlabels).sum() == 60000 and np.bincount(tlabels).min() > 5000


def _copy_raw(src, dst):
    with gzip.open(src, "rb") as fh:
        raw = fh.read()
    dst.write_bytes(raw)
    return raw


def test_raw_and_gzip_agree(mnist_dir, tmp_path):
    raw_path = tmp_path / "t10k-labels-idx1-ubyte"
    _copy_raw(mnist_dir / "t10k-labels-idx1-ubyte.gz", raw_path)
    assert np.array_equal(read_idx(raw_path), read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz"))


def test_truncated_file_is_named(mnist_dir, tmp_path):
    bad = tmp_path / "labels"
    raw = _copy_raw(mnist_dir / "t10k-labels-idx1-ubyte.gz", bad)
    bad.write_bytes(raw[:-10])
    with pytest.raises(ValueError, match=r"labels.*truncated"):
        read_idx(bad)


def test_wrong_magic(tmp_path):
    bad = tmp_path / "images"
    bad.write_bytes(struct.pack(">I", 1234) + b"\0" * 100)
    with pytest.raises(ValueError, match=r"images.*bad magic number 1234"):
        read_idx(bad)


def test_wrong_ndim(mnist_dir):
    with pytest.raises(ValueError, match="declares 1 dimensions, expected 3"):
        read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz", expect_ndim=3)


def test_count_mismatch_between_images_and_labels(mnist_dir, tmp_path):
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(mnist_dir / name, tmp_path / name)
    # rewrite the labels file declaring (and holding) 9,999 labels
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "rb") as fh:
        raw = fh.read()
    fixed = struct.pack(">II", 2049, 9999) + raw[8:-1]
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as fh:
        fh.write(fixed)
    with pytest.raises(ValueError, match="10000 images but .* 9999 labels"):
        load_mnist("test", root=tmp_path, download=False)


def test_missing_files_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=False"):
        load_mnist("test", root=tmp_path, download=False)


def test_unknown_split():
    with pytest.raises(ValueError, match="unknown split 'valid'"):
        load_mnist("valid")


def test_directory_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCREC_MNIST_DIR", str(tmp_path / "env"))
    assert resolve_mnist_dir() == tmp_path / "env"
    assert resolve_mnist_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("DOCREC_MNIST_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert resolve_mnist_dir() == tmp_path / "cache" / "docrec" / "mnist"


def test_dataset_levels(mnist_dir):
    ds = MNISTDataset("test", root=mnist_dir, download=False)
    x, y = ds[0]
    assert x.shape == (1, 32, 32)
    assert float(x.min()) == pytest.approx(-0.1) and float(x.max()) == pytest.approx(1.175)
    assert (x[0, :2] == -0.1).all()  # the 2-pixel padding is background
    assert int(y) == 7  # the first MNIST test digit is a 7


def test_download_tries_mirrors_and_rejects_bad_checksum(mnist_dir, tmp_path):
    from data.mnist import download_file

    name = "t10k-labels-idx1-ubyte.gz"
    good = tmp_path / "good"
    bad = tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    shutil.copy(mnist_dir / name, good / name)
    (bad / name).write_bytes(b"not mnist")
    dest = tmp_path / "dest"
    # a mirror that is missing, one with a corrupt copy, then a good one
    mirrors = (f"file://{tmp_path}/nowhere/", f"file://{bad}/", f"file://{good}/")
    path = download_file(name, dest, mirrors=mirrors)
    assert md5_of(path) == MNIST_MD5[name]
    # only the corrupt mirror: an error, and nothing kept
    (dest / name).unlink()
    with pytest.raises(RuntimeError, match="MD5"):
        download_file(name, dest, mirrors=(f"file://{bad}/",))
    assert list(dest.iterdir()) == []
