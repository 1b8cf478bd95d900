"""Synthetic field images composed of real MNIST digits and drawn punctuation.

A field is laid out on a writing line at MNIST's natural resolution (digit body about 20 px),
then rendered on paper (:mod:`data.backgrounds`) and optionally resized to a fixed height.
Texts come from :mod:`data.texts` (kinds ``digits``, ``zip``, ``amount``; the amount grammar is
documented there), punctuation from :mod:`data.glyphs`.

Layout, per character, left to right:

1. glyph: a random MNIST digit of the right label from the chosen split (:class:`DigitPool`),
   or a drawn punctuation symbol;
2. distortions: scale (around the baseline), slant (shear about the baseline), stroke thickness
   (blend with a grey-level dilation or erosion by a 3x3 cross), vertical jitter;
3. spacing: the *ink gap* ``g`` is drawn from the config's range: the new glyph is placed so
   that, over every row r where it has ink, the number of blank columns between its leftmost ink
   pixel and the rightmost ink already written in rows r-1, r, r+1 is at least ``g``, with
   equality somewhere (ink = level > 0.5). So ``g >= 1`` keeps the ink apart (no 8-connected
   contact), ``g = 0`` makes it touch (8-connected neighbours) and ``g < 0`` makes it cross. Presets (:data:`SPACING_PRESETS`, natural pixels): ``wide`` 6..12, ``normal`` 2..6,
   ``tight`` 1..2, ``touching`` -1..0, ``overlapping`` -6..-2. Next to punctuation the gap is
   at least -1 so that a dot is never swallowed. Characters always stay ordered: each box starts
   at least 35% of the previous character's width to the right of the previous start and ends
   to the right of the previous end.

Rendering: ``height=None`` keeps natural resolution (ink box plus ``margin``); ``height=H``
scales the line box (20 px body, 6 px above and below, widened if ink sticks out) to ``H`` rows,
so at the default ``H = 32`` a digit is about 20 px tall as LeNet-5 expects (PAPER.md Sec. II).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from data.backgrounds import BACKGROUNDS, make_background
from data.glyphs import BODY, INK_THRESHOLD, PUNCTUATION, Glyph, crop_ink, digit_glyph, draw_punctuation
from data.texts import KINDS, sample_text

#: Named ink-gap ranges ``(lo, hi)`` in natural pixels, inclusive (see module docstring).
SPACING_PRESETS = {
    "wide": (6, 12),
    "normal": (2, 6),
    "tight": (1, 2),
    "touching": (-1, 0),
    "overlapping": (-6, -2),
}
#: Rows of the nominal line box above the body and below the baseline (natural pixels).
LINE_PAD = 6


@dataclass
class SynthConfig:
    """Controls of the field generator (all distances in natural, i.e. MNIST, pixels).

    Attributes:
        spacing: a :data:`SPACING_PRESETS` name or an inclusive ``(lo, hi)`` ink-gap range.
        min_len, max_len: length range of ``digits`` fields.
        zip_plus4: probability of the ``12345-6789`` form for ``zip`` fields.
        jitter: maximum vertical shift of a character, uniform in ``[-jitter, jitter]``.
        scale: per-character scale factor range.
        slant: per-character shear angle range in degrees (positive leans right).
        thickness: per-character stroke change range in [-1, 1] (negative thins by erosion,
            positive thickens by dilation).
        noise: standard deviation of additive Gaussian pixel noise, in grey levels.
        background: one of ``white``, ``texture``, ``lined``, ``form`` (:mod:`data.backgrounds`).
        height: output height in pixels, or None for natural resolution.
        margin: blank border left and right (and above/below in natural mode).
        ink: range of the grey level of full ink (0 = black).
    """

    spacing: str | tuple[float, float] = "normal"
    min_len: int = 1
    max_len: int = 8
    zip_plus4: float = 0.3
    jitter: float = 1.5
    scale: tuple[float, float] = (0.9, 1.1)
    slant: tuple[float, float] = (-10.0, 10.0)
    thickness: tuple[float, float] = (-0.3, 0.5)
    noise: float = 0.0
    background: str = "white"
    height: int | None = 32
    margin: int = 6
    ink: tuple[float, float] = (0.0, 40.0)

    @classmethod
    def clean(cls, **overrides) -> "SynthConfig":
        """No distortion at all: digits pasted pixel-exact, white paper, black ink, no noise."""
        base = dict(jitter=0.0, scale=(1.0, 1.0), slant=(0.0, 0.0), thickness=(0.0, 0.0), noise=0.0,
                    background="white", ink=(0.0, 0.0))
        base.update(overrides)
        return cls(**base)

    def spacing_range(self) -> tuple[int, int]:
        """The inclusive integer ink-gap range of :attr:`spacing`."""
        if isinstance(self.spacing, str):
            if self.spacing not in SPACING_PRESETS:
                raise ValueError(f"[data.SynthConfig] unknown spacing preset {self.spacing!r}; "
                                 f"choose from {sorted(SPACING_PRESETS)} or give (lo, hi)")
            return SPACING_PRESETS[self.spacing]
        lo, hi = (int(round(v)) for v in self.spacing)
        if lo > hi:
            raise ValueError(f"[data.SynthConfig] spacing range {self.spacing} has lo > hi")
        return lo, hi

    def validate(self) -> "SynthConfig":
        """Check every field; returns self. Raises ValueError naming the bad field."""
        self.spacing_range()
        if not 1 <= self.min_len <= self.max_len:
            raise ValueError(f"[data.SynthConfig] need 1 <= min_len <= max_len, got {self.min_len}, {self.max_len}")
        for name in ("scale", "slant", "thickness", "ink"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"[data.SynthConfig] {name} range ({lo}, {hi}) has lo > hi")
        if not (0.5 <= self.scale[0] and self.scale[1] <= 2.0):
            raise ValueError(f"[data.SynthConfig] scale range {self.scale} outside [0.5, 2]")
        if not (-1.0 <= self.thickness[0] and self.thickness[1] <= 1.0):
            raise ValueError(f"[data.SynthConfig] thickness range {self.thickness} outside [-1, 1]")
        if not (-45.0 < self.slant[0] and self.slant[1] < 45.0):
            raise ValueError(f"[data.SynthConfig] slant range {self.slant} outside (-45, 45) degrees")
        if not (0 <= self.jitter <= 10 and self.noise >= 0 and 0 <= self.zip_plus4 <= 1 and self.margin >= 0):
            raise ValueError("[data.SynthConfig] need 0 <= jitter <= 10, noise >= 0, 0 <= zip_plus4 <= 1, margin >= 0")
        if not (0.0 <= self.ink[0] and self.ink[1] <= 200.0):
            raise ValueError(f"[data.SynthConfig] ink grey range {self.ink} outside [0, 200]")
        if self.background not in BACKGROUNDS:
            raise ValueError(f"[data.SynthConfig] unknown background {self.background!r}; choose from {BACKGROUNDS}")
        if self.height is not None and not 8 <= int(self.height) <= 1024:
            raise ValueError(f"[data.SynthConfig] height {self.height} outside [8, 1024] (None = natural)")
        return self


@dataclass
class SynthField:
    """One synthetic field.

    Attributes:
        image: uint8 ``(H, W)``, white paper (about 255) and dark ink.
        text: the characters shown, left to right.
        boxes: one ``(x0, y0, x1, y1)`` per character in image pixels, ``x1``/``y1`` exclusive
            (``image[y0:y1, x0:x1]`` holds the character's ink).
        sources: int64 ``(len(text),)``, the MNIST index of each digit in ``split``, -1 for
            punctuation.
        split: ``"train"`` or ``"test"``, the MNIST split the digits came from.
    """

    image: np.ndarray
    text: str
    boxes: list[tuple[int, int, int, int]]
    sources: np.ndarray
    split: str


class DigitPool:
    """The digits of one MNIST split, grouped by label.

    Args:
        images: uint8 ``(N, 28, 28)``; labels: int ``(N,)``; split: ``"train"`` or ``"test"``.
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

    @classmethod
    def load(cls, split: str, root: str | os.PathLike | None = None, *, download: bool = True) -> "DigitPool":
        """Load a split through :func:`data.load_mnist` (directory: ``root``, ``$DOCREC_MNIST_DIR``, cache)."""
        from data.mnist import load_mnist

        images, labels = load_mnist(split, root=root, download=download)
        return cls(images, labels, split)

    def glyph(self, digit: int, rng: np.random.Generator) -> Glyph:
        """A random example of ``digit`` as a :class:`Glyph` (``source`` = its MNIST index)."""
        idx = int(rng.choice(self.by_label[digit]))
        return digit_glyph(self.images[idx], digit, idx)


def _uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(lo) if lo == hi else float(rng.uniform(lo, hi))


def distort(g: Glyph, rng: np.random.Generator, config: SynthConfig) -> Glyph:
    """Apply scale, slant and thickness changes to a glyph, keeping its baseline (see module doc)."""
    ink, top = g.ink, g.top
    s = _uniform(rng, *config.scale)
    a = _uniform(rng, *config.slant)
    t = _uniform(rng, *config.thickness)
    if s == 1.0 and a == 0.0 and t == 0.0:
        return g
    if s != 1.0:
        h, w = ink.shape
        nh, nw = max(1, int(round(h * s))), max(1, int(round(w * s)))
        interp = cv2.INTER_AREA if s < 1.0 else cv2.INTER_LINEAR
        ink = cv2.resize(ink, (nw, nh), interpolation=interp)
        top = int(round(top * s))
    ink = cv2.copyMakeBorder(np.ascontiguousarray(ink, np.float32), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0.0)
    top -= 1
    if a != 0.0:
        h, w = ink.shape
        k = float(np.tan(np.deg2rad(a)))
        base = -top  # baseline row inside the glyph image
        shifts = (k * (base - 0.0), k * (base - (h - 1)))
        off = -min(shifts)
        nw = w + int(np.ceil(abs(k) * (h - 1))) + 1
        m = np.array([[1.0, -k, k * base + off], [0.0, 1.0, 0.0]], np.float32)
        ink = cv2.warpAffine(ink, m, (nw, h), flags=cv2.INTER_LINEAR, borderValue=0.0)
    if t != 0.0:
        kernel = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
        other = cv2.dilate(ink, kernel) if t > 0 else cv2.erode(ink, kernel)
        ink = (1.0 - abs(t)) * ink + abs(t) * other
    ink, r0, _ = crop_ink(ink, threshold=0.02)
    return Glyph(char=g.char, ink=np.ascontiguousarray(ink, dtype=np.float32), top=top + r0, source=g.source)


def _profiles(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows with ink (> 0.5, else > 0) and the first/last ink column in each."""
    mask = ink > INK_THRESHOLD
    if not mask.any():
        mask = ink > 0
    rows = np.flatnonzero(mask.any(axis=1))
    m = mask[rows]
    left = m.argmax(axis=1)
    right = m.shape[1] - 1 - m[:, ::-1].argmax(axis=1)
    return rows, left, right


def layout(glyphs: list[Glyph], rng: np.random.Generator, config: SynthConfig) -> list[int]:
    """Horizontal positions (left column of each glyph's ink) following the spacing rules."""
    lo, hi = config.spacing_range()
    offset = 4 * BODY  # row index of the baseline in the profile array
    right_edge = np.full(8 * BODY, -np.inf)
    xs: list[int] = []
    for k, g in enumerate(glyphs):
        rows, left, right = _profiles(g.ink)
        rows = rows + g.top + offset
        if not (1 <= rows.min() and rows.max() < right_edge.size - 1):
            raise ValueError(f"[data.synth.layout] glyph {g.char!r} too tall for the line ({g.ink.shape})")
        if k == 0:
            x = 0
        else:
            gap = int(rng.integers(lo, hi + 1))
            prev = glyphs[k - 1]
            if g.char in PUNCTUATION or prev.char in PUNCTUATION:
                gap = max(gap, -1)
            # Rightmost ink already written in each row and its two neighbours (8-connectivity).
            near = np.maximum(np.maximum(right_edge[rows - 1], right_edge[rows]), right_edge[rows + 1])
            seen = np.isfinite(near)
            if seen.any():
                x = int(gap + 1 + np.max(near[seen] - left[seen]))
            else:
                x = int(gap + 1 + right_edge[np.isfinite(right_edge)].max())
            px, pw = xs[-1], prev.ink.shape[1]
            x = max(x, px + max(1, int(np.ceil(0.35 * pw))), px + pw + 1 - g.ink.shape[1])
        xs.append(x)
        right_edge[rows] = np.maximum(right_edge[rows], x + right)
    return xs


def render(text: str, pool: DigitPool, rng: np.random.Generator, config: SynthConfig | None = None) -> SynthField:
    """Render ``text`` (digits and ``, . - $ * /``) with digits from ``pool``.

    Args:
        text: the field's characters.
        pool: MNIST digits of one split.
        rng: the only source of randomness (same state -> same field).
        config: generator controls (default :class:`SynthConfig`).

    Returns:
        a :class:`SynthField`: image uint8 ``(H, W)`` with ``H = config.height`` (or natural).

    Raises:
        ValueError: empty text or a character the generator cannot draw.
    """
    config = config or SynthConfig()
    if not text:
        raise ValueError("[data.synth.render] empty text")
    glyphs = []
    for ch in text:
        if ch.isdigit() and ch.isascii():
            g = pool.glyph(int(ch), rng)
        elif ch in PUNCTUATION:
            g = draw_punctuation(ch, rng)
        else:
            raise ValueError(f"[data.synth.render] cannot draw {ch!r} in {text!r}; allowed: 0-9 and {PUNCTUATION!r}")
        g = distort(g, rng, config)
        if config.jitter > 0:
            g.top += int(round(rng.uniform(-config.jitter, config.jitter)))
        glyphs.append(g)
    xs = layout(glyphs, rng, config)
    return _paint(text, glyphs, xs, pool.split, rng, config)


def _paint(text, glyphs, xs, split, rng, config: SynthConfig) -> SynthField:
    m = config.margin
    ink_top = min(g.top for g in glyphs)
    ink_bot = max(g.top + g.ink.shape[0] for g in glyphs)
    x_end = max(x + g.ink.shape[1] for x, g in zip(xs, glyphs))
    if config.height is None:
        y_lo, y_hi = ink_top - m, ink_bot + m
    else:
        y_lo, y_hi = min(-BODY - LINE_PAD, ink_top - 1), max(LINE_PAD, ink_bot + 1)
    hn, wn = y_hi - y_lo, x_end + 2 * m
    canvas = np.zeros((hn, wn), np.float32)
    nat_boxes = []
    for x, g in zip(xs, glyphs):
        h, w = g.ink.shape
        r, c = g.top - y_lo, x + m
        np.maximum(canvas[r: r + h, c: c + w], g.ink, out=canvas[r: r + h, c: c + w])
        nat_boxes.append((c, r, c + w, r + h))
    if config.height is None:
        out_h, out_w = hn, wn
    else:
        out_h = int(config.height)
        out_w = max(1, int(round(wn * out_h / hn)))
        interp = cv2.INTER_AREA if out_h < hn else cv2.INTER_LINEAR
        canvas = np.clip(cv2.resize(canvas, (out_w, out_h), interpolation=interp), 0.0, 1.0)
    sx, sy = out_w / wn, out_h / hn
    boxes = []
    for c0, r0, c1, r1 in nat_boxes:
        bx0, by0 = min(out_w - 1, int(np.floor(c0 * sx))), min(out_h - 1, int(np.floor(r0 * sy)))
        bx1, by1 = min(out_w, max(bx0 + 1, int(np.ceil(c1 * sx)))), min(out_h, max(by0 + 1, int(np.ceil(r1 * sy))))
        boxes.append((bx0, by0, bx1, by1))
    paper = make_background(config.background, (out_h, out_w), rng, baseline=(0 - y_lo) * sy, scale=sy)
    ink_grey = _uniform(rng, *config.ink)
    img = paper * (1.0 - canvas) + ink_grey * canvas
    if config.noise > 0:
        img += rng.normal(0.0, config.noise, img.shape).astype(np.float32)
    image = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    sources = np.array([g.source for g in glyphs], dtype=np.int64)
    return SynthField(image=image, text=text, boxes=boxes, sources=sources, split=split)


def field_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of field ``index`` of a batch with ``seed`` (independent of the batch size)."""
    if seed < 0 or index < 0:
        raise ValueError(f"[data.synth] seed and index must be >= 0, got {seed}, {index}")
    return np.random.default_rng([int(seed), int(index)])


def synthesize_one(kind: str, pool: DigitPool, rng: np.random.Generator,
                   config: SynthConfig | None = None) -> SynthField:
    """Draw a text of ``kind`` (``digits``, ``zip``, ``amount``) and render it."""
    config = config or SynthConfig()
    text = sample_text(kind, rng, min_len=config.min_len, max_len=config.max_len, zip_plus4=config.zip_plus4)
    return render(text, pool, rng, config)


def iter_fields(kind: str, count: int, *, split: str, seed: int, config: SynthConfig | None = None,
                pool: DigitPool | None = None, root: str | os.PathLike | None = None,
                start: int = 0) -> Iterator[SynthField]:
    """Yield fields ``start .. start + count - 1`` of the batch ``(kind, split, seed, config)``.

    Field ``i`` depends only on ``(kind, split, seed, config, i)``, so a batch can be produced in
    pieces. ``pool`` (digits of ``split``) is loaded from ``root`` when not given.

    Raises:
        ValueError: unknown kind, bad config, negative count/seed, or a pool of another split.
    """
    config = (config or SynthConfig()).validate()
    if kind not in KINDS:
        raise ValueError(f"[data.synthesize] unknown kind {kind!r}; choose from {KINDS}")
    if count < 0:
        raise ValueError(f"[data.synthesize] count must be >= 0, got {count}")
    if pool is None:
        pool = DigitPool.load(split, root)
    elif pool.split != split:
        raise ValueError(f"[data.synthesize] asked for split {split!r} but the pool holds {pool.split!r} digits")
    for i in range(start, start + count):
        yield synthesize_one(kind, pool, field_rng(seed, i), config)


def synthesize(kind: str, count: int, *, split: str, seed: int, config: SynthConfig | None = None,
               pool: DigitPool | None = None, root: str | os.PathLike | None = None) -> list[SynthField]:
    """A list of ``count`` fields (see :func:`iter_fields`)."""
    return list(iter_fields(kind, count, split=split, seed=seed, config=config, pool=pool, root=root))
