"""Fixtures for the segmenter tests: a pool of MNIST *training* digits (development data)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def train_pool(mnist_train):
    from data.synth import DigitPool

    images, labels = mnist_train
    return DigitPool(images, labels, "train")
