"""Training pieces for the segmentation recogniser's 17-class LeNet-5 (docs/paper.md Sec. X: the check
reader's recogniser was trained on correctly segmented characters *and* on mis-segmented pieces
labelled 'rubbish').

Synthetic TRAINING strings (MNIST training digits of :func:`train_pools`' training part only,
drawn punctuation) are over-segmented by :func:`segmenter.graph.segment`; the character map of each
field (:mod:`segmenter.synthtruth`) says which arc is a true character
(:func:`segmenter.truth.arc_targets` with ``tol=pos_tol`` and no more than ``other_tol`` of any
other character's ink: a digit with a whole decimal point glued to it is *not* that digit): those
pieces get the character's label. Arcs that match no character even loosely (``tol=none_tol``),
and arcs holding at least half of two or more characters (pairs, a digit plus its comma), are
halves, pairs and fragments: label 'none' (16). Arcs in between (e.g. a digit missing a small
stroke) are ambiguous and left out. At most ``max_none_per_field`` 'none' pieces are kept per
field.

Pieces are stored as uint8 (``(x + 0.1) / 1.275 * 255``) to keep memory small.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from data import to_lenet_input
from data.constants import NONE_ID
from data.mnist import load_mnist
from data.synth import DigitPool, SynthConfig, field_rng
from data.texts import sample_text
from segmenter.graph import segment
from segmenter.normalize import normalize_pieces
from segmenter.synthtruth import render_with_char_map
from segmenter.truth import arc_targets, whole_chars_held

#: Characters of the shared charset in label order (16 = 'none').
CHARS = "0123456789,.-$*/"
#: MNIST training images ``[0, VAL_START)`` make training strings, ``[VAL_START, 60000)`` validation.
VAL_START = 55_000


def train_pools(root=None):
    """``(train_pool, val_pool)``: ``data.DigitPool`` of MNIST *training* images split at
    :data:`VAL_START` (the test split is never touched here)."""

    images, labels = load_mnist("train", root=root)
    return (DigitPool(images[:VAL_START], labels[:VAL_START], "train"),
            DigitPool(images[VAL_START:], labels[VAL_START:], "train"))


@dataclass
class PieceDataConfig:
    """How :func:`make_pieces` draws its fields.

    Attributes:
        kinds: field kinds and their probabilities.
        spacings: spacing presets (``data.SPACING_PRESETS``), chosen uniformly per field.
        pos_tol: ``arc_targets`` tolerance for a correct piece.
        other_tol: a correct piece holds less than this share of any other character's ink.
        none_tol: arcs matching no character at this looser tolerance are 'none'.
        max_none_per_field: cap on 'none' pieces per field.
    """

    kinds: dict = field(default_factory=lambda: {"zip": 0.4, "digits": 0.3, "amount": 0.3})
    spacings: tuple[str, ...] = ("wide", "normal", "normal", "tight", "touching", "overlapping")
    pos_tol: float = 0.9
    other_tol: float = 0.3
    none_tol: float = 0.6
    max_none_per_field: int = 10

    def to_dict(self) -> dict:
        return asdict(self)


def quantize(x: torch.Tensor) -> np.ndarray:
    """LeNet input float ``(N, 1, 32, 32)`` in [-0.1, 1.175] -> uint8."""
    return np.clip(np.rint((x.numpy() + 0.1) / 1.275 * 255.0), 0, 255).astype(np.uint8)


def dequantize(q: np.ndarray) -> torch.Tensor:
    """uint8 ``(N, 1, 32, 32)`` -> float32 LeNet input."""
    return torch.from_numpy(q.astype(np.float32) * (1.275 / 255.0) - 0.1)


def field_configs(cfg: PieceDataConfig, rng: np.random.Generator, count: int):
    """``count`` (kind, SynthConfig) pairs drawn from ``cfg``."""

    kinds = list(cfg.kinds)
    probs = np.asarray([cfg.kinds[k] for k in kinds], np.float64)
    probs /= probs.sum()
    out = []
    for _ in range(count):
        kind = kinds[int(rng.choice(len(kinds), p=probs))]
        out.append((kind, SynthConfig(spacing=cfg.spacings[int(rng.integers(len(cfg.spacings)))])))
    return out


def make_pieces(count: int, *, seed: int, pool, config: PieceDataConfig | None = None,
                segmenter_config=None, progress: bool = False) -> tuple[np.ndarray, np.ndarray, dict]:
    """Cut labelled pieces from ``count`` synthetic training fields.

    Returns:
        ``(x, y, stats)``: uint8 ``(N, 1, 32, 32)`` pieces (:func:`quantize`), int64 ``(N,)`` labels
        (0..15 characters, 16 'none'), and counts (fields, correct, none, ambiguous, fields whose
        true segmentation is a path of the graph).
    """

    from docrec.recognizers.seg import default_segmenter_config

    segmenter_config = segmenter_config or default_segmenter_config()
    cfg = config or PieceDataConfig()
    rng = np.random.default_rng([seed, 7])
    xs, ys = [], []
    stats = {"fields": 0, "correct": 0, "none": 0, "ambiguous": 0}
    for i, (kind, scfg) in enumerate(tqdm(field_configs(cfg, rng, count), disable=not progress,
                                          desc="pieces", unit="field")):
        frng = field_rng(seed, i)
        text = sample_text(kind, frng, min_len=3, max_len=8, zip_plus4=scfg.zip_plus4)
        fld, cmap = render_with_char_map(text, pool, frng, scfg)
        seg = segment(fld.image, config=segmenter_config)
        stats["fields"] += 1
        if seg.num_arcs == 0:
            continue
        strict = arc_targets(seg, cmap, tol=cfg.pos_tol, other_tol=cfg.other_tol)
        loose = arc_targets(seg, cmap, tol=cfg.none_tol)
        rubbish = (loose < 0) | (whole_chars_held(seg, cmap) >= 2)
        pos = np.flatnonzero(strict >= 0)
        stats["ambiguous"] += int(((strict < 0) & ~rubbish).sum())
        # the confusing 'none' pieces first: those that loosely look like one character
        # (a digit with a glued comma), then the others, at random, up to the cap
        confusing = rng.permutation(np.flatnonzero(rubbish & (loose >= 0)))
        other = rng.permutation(np.flatnonzero(rubbish & (loose < 0)))
        neg = np.concatenate([confusing, other])[: cfg.max_none_per_field].astype(np.int64)
        labels = np.concatenate([[CHARS.index(text[int(c)]) for c in strict[pos]],
                                 np.full(neg.size, NONE_ID)]).astype(np.int64)
        arcs = np.concatenate([pos, neg]).astype(np.int64)
        if arcs.size:
            xs.append(quantize(seg.graph.data[torch.from_numpy(arcs)]))
            ys.append(labels)
        stats["correct"] += int(pos.size)
        stats["none"] += int(neg.size)
    x = np.concatenate(xs) if xs else np.zeros((0, 1, 32, 32), np.uint8)
    y = np.concatenate(ys) if ys else np.zeros(0, np.int64)
    return x, y, stats


def mnist_pieces(pool, *, limit: int | None = None, seed: int = 0, renormalize: bool = True,
                 ink_threshold: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """The pool's plain MNIST digits as uint8 LeNet pieces and labels (extra correct examples).

    Args:
        pool: a ``data.DigitPool`` (training digits only: the caller's responsibility).
        limit: at most this many digits (a seeded random subset).
        seed: seed of that subset.
        renormalize: pass every digit through the segmenter's piece normaliser
            (:func:`segmenter.normalize.normalize_pieces`) as the recogniser's segmenter config
            does it (grey pieces: the digit's grey levels, fitted by its core; binary pieces: the
            ink mask ``image >= ink_threshold``), so the extra digits look like the pieces the
            recogniser reads in a field; ``False`` gives :func:`data.to_lenet_input`.
        ink_threshold: grey level (0..255) at or above which an MNIST pixel is ink (binary pieces).

    Returns:
        ``(x, y)``: uint8 ``(N, 1, 32, 32)`` (:func:`quantize`) and int64 ``(N,)``.
    """

    idx = np.arange(len(pool.labels))
    if limit is not None and limit < idx.size:
        idx = np.random.default_rng(seed).choice(idx, limit, replace=False)
    if not renormalize:
        return quantize(to_lenet_input(pool.images[idx])), pool.labels[idx].astype(np.int64)

    from docrec.recognizers.seg import default_segmenter_config

    cfg = default_segmenter_config()
    if cfg.pieces.grey_pieces:
        masks = [pool.images[i].astype(np.float32) / 255.0 for i in idx]
    else:
        masks = [pool.images[i] >= ink_threshold for i in idx]
    keep = np.asarray([m.any() for m in masks])
    x = normalize_pieces([m for m, k in zip(masks, keep) if k], config=cfg)  # (N, 1, 32, 32)
    return quantize(x), pool.labels[idx[keep]].astype(np.int64)
