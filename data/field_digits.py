"""Digits cut out of real labelled fields by their per-character boxes, as a :class:`data.synth.DigitPool`.

A folder of real fields with boxes (``boxes.jsonl``, :mod:`data.fields`) holds hundreds of real
writers' digits on real paper. Cut out and brought to MNIST's geometry, they let the generator
compose *new* strings of real handwriting (other lengths, other spacings, touching pairs that the
folder never shows), which is realistic synthesis with real writers rather than MNIST's.

Per box: the field's ink map (:func:`data.sdnn_samples.ink_map`: paper 0, ink 1, the security
background mostly below the ink floor) is cut to the box, cropped to its ink, scaled so that the
longer side is 20 px (MNIST's digit box) and centred by its centre of mass in a 28x28 image,
``uint8`` with 0 = paper and 255 = ink, exactly MNIST's convention.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import cv2
import numpy as np

from data.sdnn_samples import ink_map
from data.synth import DigitPool

#: Side of MNIST's box around the digit and of the whole image.
BOX, SIDE = 20, 28


def mnist_geometry(ink: np.ndarray) -> np.ndarray | None:
    """An ink map float ``(h, w)`` in [0, 1] -> uint8 ``(28, 28)`` in MNIST's geometry, or None
    when it holds no ink."""
    mask = ink > 0.05
    if not mask.any():
        return None
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = ink[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1].astype(np.float32)
    h, w = crop.shape
    s = BOX / max(h, w)
    nh, nw = max(1, int(round(h * s))), max(1, int(round(w * s)))
    small = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    total = float(small.sum())
    if total <= 0:
        return None
    cy = float((small.sum(axis=1) * np.arange(nh)).sum() / total)
    cx = float((small.sum(axis=0) * np.arange(nw)).sum() / total)
    top = int(np.clip(round(SIDE / 2 - cy), 0, SIDE - nh))
    left = int(np.clip(round(SIDE / 2 - cx), 0, SIDE - nw))
    out = np.zeros((SIDE, SIDE), np.float32)
    out[top: top + nh, left: left + nw] = small
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


def cut_digits(image: np.ndarray, boxes: Sequence[tuple[str, int, int, int, int]]
               ) -> list[tuple[np.ndarray, int]]:
    """The digits of one field: uint8 ``(H, W)`` image and its ``(char, x, y, w, h)`` boxes ->
    ``[(uint8 (28, 28), digit)]`` for every digit box holding ink (other characters are skipped).

    Raises:
        ValueError: a box outside the image.
    """
    img = np.asarray(image)
    if img.ndim != 2 or img.dtype != np.uint8:
        raise ValueError(f"[data.cut_digits] expected a uint8 (H, W) image, got {img.dtype} {img.shape}")
    ink = ink_map(img)
    H, W = img.shape
    out = []
    for char, x, y, w, h in boxes:
        if not (0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= W and y + h <= H):
            raise ValueError(f"[data.cut_digits] box {(x, y, w, h)} of {char!r} is outside the {W}x{H} image")
        if not char.isdigit():
            continue
        digit = mnist_geometry(ink[y: y + h, x: x + w])
        if digit is not None:
            out.append((digit, int(char)))
    return out


def field_digit_pool(fields: Iterable[tuple[np.ndarray, Sequence[tuple[str, int, int, int, int]]]]) -> DigitPool:
    """A training :class:`DigitPool` of every digit cut from ``fields`` (pairs of a uint8 ``(H, W)``
    image and its ``(char, x, y, w, h)`` boxes).

    Raises:
        ValueError: a box outside its image, or some digit 0-9 missing from every field.
    """
    images, labels = [], []
    for image, boxes in fields:
        for digit, label in cut_digits(image, boxes):
            images.append(digit)
            labels.append(label)
    if not images:
        raise ValueError("[data.field_digit_pool] the fields hold no digit boxes with ink")
    return DigitPool(np.stack(images), np.asarray(labels, np.int64), "train")


__all__ = ["cut_digits", "field_digit_pool", "mnist_geometry"]
