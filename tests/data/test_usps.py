"""USPS digits: parsing, directory resolution, checksummed download, MNIST geometry (data/usps.py)."""

from __future__ import annotations

import gzip
import re
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import data.usps as usps
from data import DigitPool, load_usps, parse_usps, resolve_usps_dir, to_mnist_geometry, usps_pool
from data.mnist import md5_of
from data.synth import SynthConfig, render

SHARED_USPS = Path(__file__).parents[2].parent / "shared" / "data" / "usps"
# Label counts of the 7,291 digits of zip.train (digits 0..9).
USPS_HISTOGRAM = [1194, 1005, 731, 658, 652, 556, 664, 645, 542, 644]


def _digit(label: int) -> np.ndarray:
    """A 16x16 grey map in [-1, 1] (background -1): a vertical bar whose position depends on the label."""
    img = -np.ones((16, 16))
    img[1:15, 3 + label // 2: 6 + label // 2] = 1.0
    img[2, 2 + label // 2] = 0.0  # a grey rim pixel
    return img


def _write_usps(path: Path, n: int) -> np.ndarray:
    """Write ``n`` digits (labels 0..9 in turn) in the zip.train format; returns the labels."""
    labels = np.arange(n) % 10
    lines = [" ".join([f"{lab:.4f}"] + [f"{v:.4f}" for v in _digit(lab).ravel()]) + " \n" for lab in labels]
    with gzip.open(path, "wt", encoding="ascii") as fh:
        fh.writelines(lines)
    return labels


@pytest.fixture()
def usps_dir(tmp_path) -> Path:
    """A directory with a small ``zip.train.gz`` of 1,020 fake digits."""
    _write_usps(tmp_path / "zip.train.gz", 1020)
    return tmp_path


def test_parse_polarity_and_shape(usps_dir):
    images, labels = load_usps(usps_dir, download=False)
    assert images.shape == (1020, 16, 16) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and labels[:12].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert images[0, 0, 0] == 0 and images[0, 5, 4] == 255 and images[0, 2, 2] == 128  # ink = 255 as MNIST
    raw = usps_dir / "zip.train"  # an uncompressed copy is accepted too
    with gzip.open(usps_dir / "zip.train.gz", "rb") as fh:
        raw.write_bytes(fh.read())
    assert np.array_equal(parse_usps(raw)[0], images)


@pytest.mark.parametrize("mutate, message", [
    (lambda lines: lines[:2] + [" ".join(lines[2].split()[:-1]) + "\n"] + lines[3:],
     "line 3: expected a label and 256 values, got 256 numbers"),
    (lambda lines: lines[:1] + ["11.0000" + lines[1][6:]] + lines[2:], r"line 2: label 11.0 is not a digit 0-9"),
    (lambda lines: lines[:1] + [lines[1].replace("-1.0000", "-1.5000", 1)] + lines[2:],
     r"line 2: grey value outside \[-1, 1\]"),
    (lambda lines: lines[:3] + [lines[3].replace("-1.0000", "abc", 1)] + lines[4:], "line 4: not a number"),
    (lambda lines: [], "holds no digits"),
])
def test_malformed_lines_are_named(tmp_path, mutate, message):
    path = tmp_path / "zip.train"
    _write_usps(tmp_path / "zip.train.gz", 5)
    with gzip.open(tmp_path / "zip.train.gz", "rt") as fh:
        lines = fh.readlines()
    (tmp_path / "zip.train.gz").unlink()
    path.write_text("".join(mutate(lines)))
    with pytest.raises(ValueError, match=rf"\[data.parse_usps\] .*zip.train.*{message}"):
        load_usps(tmp_path, download=False)


def test_corrupt_gzip(tmp_path):
    (tmp_path / "zip.train.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ValueError, match=r"cannot read .*zip.train.gz"):
        load_usps(tmp_path, download=False)


def test_directory_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCREC_USPS_DIR", str(tmp_path / "env"))
    assert resolve_usps_dir() == tmp_path / "env"
    assert resolve_usps_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("DOCREC_USPS_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert resolve_usps_dir() == tmp_path / "cache" / "docrec" / "usps"


def test_missing_file_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"zip.train.gz not found and download=False; .*DOCREC_USPS_DIR"):
        load_usps(tmp_path / "empty", download=False)


def test_load_downloads_into_the_cache_when_missing(monkeypatch, tmp_path, usps_dir):
    monkeypatch.delenv("DOCREC_USPS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    calls = []

    def fake_download(directory):
        calls.append(Path(directory))
        return usps_dir / "zip.train.gz"

    monkeypatch.setattr(usps, "download_usps", fake_download)
    images, _ = load_usps()
    assert calls == [tmp_path / "cache" / "docrec" / "usps"] and len(images) == 1020


def test_download_verifies_md5_and_keeps_nothing_bad(tmp_path, usps_dir):
    good = usps_dir / "zip.train.gz"
    want = md5_of(good)
    dest = tmp_path / "dest"
    path = usps.download_usps(dest, url=good.as_uri(), md5=want)
    assert path == dest / "zip.train.gz" and md5_of(path) == want
    path.unlink()
    url = re.escape(good.as_uri())
    with pytest.raises(RuntimeError, match=rf"could not download {url} .*MD5 {want}, expected 0+.*DOCREC_USPS_DIR"):
        usps.download_usps(dest, url=good.as_uri(), md5="0" * 32)
    assert list(dest.iterdir()) == []  # neither the bad file nor a temporary one is left


def test_no_network_names_url_and_env_var(monkeypatch, tmp_path):
    def offline(url, timeout):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.setenv("DOCREC_USPS_DIR", str(tmp_path / "usps"))
    url = re.escape(usps.USPS_URL)
    with pytest.raises(RuntimeError, match=rf"\[data.load_usps\] could not download {url} .*DOCREC_USPS_DIR"):
        load_usps()
    assert list((tmp_path / "usps").iterdir()) == []


def test_mnist_geometry():
    images = np.zeros((2, 16, 16), np.uint8)
    images[0, 0:16, 6:10] = 255  # a full-height bar: 16 px tall -> 20 px, centred
    images[1, 3, 3] = 30  # only haze: stays blank
    out = to_mnist_geometry(images)
    assert out.shape == (2, 28, 28) and out.dtype == np.uint8
    rows = np.flatnonzero(out[0].any(axis=1))
    cols = np.flatnonzero(out[0].any(axis=0))
    assert rows.size == 20 and cols.size == 5 and abs((rows.mean() - 14)) <= 1 and abs(cols.mean() - 14) <= 1
    assert not out[1].any()
    with pytest.raises(ValueError, match="need uint8"):
        to_mnist_geometry(np.zeros((16, 16)))


def test_pool_splits_and_synthesis(usps_dir):
    train = usps_pool("train", usps_dir, download=False)
    held = usps_pool("heldout", usps_dir, download=False)
    assert isinstance(train, DigitPool) and train.split == "train" and held.split == "test"
    assert len(train.labels) == 20 and len(held.labels) == 1000
    assert held.labels[:3].tolist() == [0, 1, 2]  # the last 1,000 of the file: digits 20..1019
    assert held.images.shape == (1000, 28, 28)
    field = render("90210", held, np.random.default_rng(0), SynthConfig.clean())
    assert field.text == "90210" and field.image.shape[0] == 32
    with pytest.raises(ValueError, match="unknown split 'test'"):
        usps_pool("test", usps_dir, download=False)


def test_real_usps_file():
    if not (SHARED_USPS / "zip.train.gz").is_file():
        pytest.skip(f"USPS zip.train.gz not found in {SHARED_USPS}")
    assert md5_of(SHARED_USPS / "zip.train.gz") == usps.USPS_MD5
    images, labels = load_usps(SHARED_USPS, download=False)
    assert images.shape == (7291, 16, 16) and np.bincount(labels).tolist() == USPS_HISTOGRAM
    train, held = usps.usps_split(images, labels, "train"), usps.usps_split(images, labels, "heldout")
    assert len(train[0]) == 6291 and len(held[0]) == 1000 and np.array_equal(held[1], labels[-1000:])
