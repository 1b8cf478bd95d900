"""Pools of handwritten digits that the field generator draws from: one writer population
(:class:`DigitPool`, e.g. an MNIST or USPS split) or several mixed (:class:`MixedPool`).

A pool has a ``split`` (``"train"`` or ``"test"``: training fields are drawn from training digits,
test fields from held-out digits, never mixed), a length and ``glyph(digit, rng)`` returning a
:class:`data.glyphs.Glyph` whose ``source`` is the digit's index in the pool.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from data.glyphs import Glyph, digit_glyph


class DigitPool:
    """The digits of one split, grouped by label.

    Args:
        images: uint8 ``(N, 28, 28)`` (0 = background, MNIST polarity); labels: int ``(N,)``;
        split: ``"train"`` or ``"test"``.

    Raises:
        ValueError: a bad split, mismatched shapes, or a digit class without examples.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, split: str):
        if split not in ("train", "test"):
            raise ValueError(f"[data.DigitPool] split must be 'train' or 'test', got {split!r}")
        images, labels = np.asarray(images), np.asarray(labels)
        if images.ndim != 3 or images.shape[0] != labels.shape[0]:
            raise ValueError(f"[data.DigitPool] need images (N, H, W) and labels (N,), got {images.shape}, {labels.shape}")
        self.images, self.labels, self.split = images, labels, split
        self.by_label = [np.flatnonzero(labels == d) for d in range(10)]
        missing = [d for d in range(10) if self.by_label[d].size == 0]
        if missing:
            raise ValueError(f"[data.DigitPool] no examples of digit(s) {missing} in the {split} split")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @classmethod
    def load(cls, split: str, root: str | os.PathLike | None = None, *, download: bool = True) -> "DigitPool":
        """Load a split through :func:`data.load_mnist` (directory: ``root``, ``$DOCREC_MNIST_DIR``, cache)."""
        from data.mnist import load_mnist

        images, labels = load_mnist(split, root=root, download=download)
        return cls(images, labels, split)

    def glyph(self, digit: int, rng: np.random.Generator) -> Glyph:
        """A random example of ``digit`` as a :class:`Glyph` (``source`` = its index in the pool)."""
        idx = int(rng.choice(self.by_label[digit]))
        return digit_glyph(self.images[idx], digit, idx)


class MixedPool:
    """Several digit pools (writer populations, e.g. MNIST and USPS) drawn from at fixed odds.

    Each digit first picks a pool with probability proportional to its weight, then an example of
    the digit in that pool. ``source`` is the digit's index in the concatenation of the pools (pool
    ``k``'s indices are offset by the lengths of pools ``0 .. k-1``), so :meth:`locate` maps it back.

    Args:
        pools: two or more pools (``DigitPool`` or ``MixedPool``) of one split.
        weights: non-negative odds per pool (default equal), not all zero.

    Raises:
        ValueError: fewer than one pool, pools of different splits, or bad weights.
    """

    def __init__(self, pools: Sequence, weights: Sequence[float] | None = None):
        pools = list(pools)
        if not pools:
            raise ValueError("[data.MixedPool] need at least one pool, got none")
        splits = sorted({p.split for p in pools})
        if len(splits) != 1:
            raise ValueError(f"[data.MixedPool] pools mix splits {splits}; training and test digits never mix")
        w = np.ones(len(pools)) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (len(pools),) or not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"[data.MixedPool] need {len(pools)} non-negative weights, not all zero, got {weights!r}")
        self.pools, self.split = pools, splits[0]
        self.weights = w / w.sum()
        self.offsets = np.concatenate([[0], np.cumsum([len(p) for p in pools])]).astype(np.int64)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def glyph(self, digit: int, rng: np.random.Generator) -> Glyph:
        """A random example of ``digit`` from a pool drawn by weight (``source`` offset, see class doc)."""
        k = int(rng.choice(len(self.pools), p=self.weights))
        g = self.pools[k].glyph(digit, rng)
        g.source = int(g.source + self.offsets[k])
        return g

    def locate(self, source: int) -> tuple[int, int]:
        """``(pool index, index in that pool)`` of a glyph ``source``.

        Raises:
            ValueError: ``source`` outside ``0 .. len(self) - 1``.
        """
        if not 0 <= source < len(self):
            raise ValueError(f"[data.MixedPool.locate] source {source} outside 0..{len(self) - 1}")
        k = int(np.searchsorted(self.offsets, source, side="right") - 1)
        return k, int(source - self.offsets[k])
