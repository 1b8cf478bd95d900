"""Fixtures shared by the recogniser tests."""

from __future__ import annotations

import pytest


@pytest.fixture()
def small_pools(monkeypatch, mnist_train):
    """Small (train, validation) digit pools of MNIST training digits, patched in as the SDNN
    trainers' ``split_pools`` (tiny training runs)."""
    from data.synth import DigitPool
    from docrec.training import sdnn_train

    imgs, labs = mnist_train
    pools = (DigitPool(imgs[:3000], labs[:3000], "train"), DigitPool(imgs[-1000:], labs[-1000:], "train"))
    monkeypatch.setattr(sdnn_train, "split_pools", lambda root=None: pools)
    return pools
