"""Shared fixtures: point the MNIST and USPS loaders at the genuine files beside the repository."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"

SHARED_USPS = REPO.parent / "shared" / "data" / "usps"

# matplotlib's font cache and onnxruntime's device id go under $HOME unless told otherwise: the tests
# keep the user's home clean (removed when the session ends, by the main process only)
_SCRATCH = tempfile.mkdtemp(prefix="docrec-tests-")
os.environ.setdefault("MPLCONFIGDIR", os.path.join(_SCRATCH, "matplotlib"))
os.environ.setdefault("XDG_CACHE_HOME", os.path.join(_SCRATCH, "cache"))


def pytest_unconfigure(config):
    shutil.rmtree(_SCRATCH, ignore_errors=True)

if SHARED_MNIST.is_dir() and not os.environ.get("DOCREC_MNIST_DIR"):
    os.environ["DOCREC_MNIST_DIR"] = str(SHARED_MNIST)
if SHARED_USPS.is_dir() and not os.environ.get("DOCREC_USPS_DIR"):
    os.environ["DOCREC_USPS_DIR"] = str(SHARED_USPS)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Directory of the genuine MNIST files; skips when none is available offline."""
    path = Path(os.environ.get("DOCREC_MNIST_DIR", SHARED_MNIST))
    if not (path / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"genuine MNIST not found in {path}")
    return path


@pytest.fixture(scope="session")
def mnist_test(mnist_dir):
    """``(images uint8 (10000, 28, 28), labels int64 (10000,))``."""
    from data import load_mnist

    return load_mnist("test", root=mnist_dir, download=False)


@pytest.fixture(scope="session")
def mnist_train(mnist_dir):
    """``(images uint8 (60000, 28, 28), labels int64 (60000,))``."""
    from data import load_mnist

    return load_mnist("train", root=mnist_dir, download=False)
