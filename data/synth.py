"""Synthetic field images composed of real MNIST digits and drawn punctuation.

A field is laid out on a writing line at MNIST's natural resolution (digit body about 20 px),
then rendered on paper (:mod:`data.backgrounds`) and optionally resized to a fixed height.
Texts come from :mod:`data.texts` (kinds ``digits``, ``zip``, ``amount``, ``cheque``; the
grammars are documented there), punctuation from :mod:`data.glyphs`.

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
so at the default ``H = 32`` a digit is about 20 px tall as LeNet-5 expects (docs/paper.md Sec. II).

Realism (:mod:`data.realism`, off by default): ``SynthConfig(realism=Realism(...))`` or the preset
``SynthConfig.realistic()`` adds a whole-field slant, elastic warps, zoom, stroke morphology, wide
margins, security paper, colour, scanner levels, blur and JPEG, and end marks (:mod:`data.marks`)
after ``amount`` and ``cheque`` texts; an end mark is drawn but is not part of ``text``. Digit
pools (:mod:`data.pools`): :class:`DigitPool` (one writer population) or :class:`MixedPool`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from data.backgrounds import BACKGROUNDS, make_background
from data.glyphs import BODY, PUNCTUATION, Glyph, crop_ink, draw_punctuation
from data.layout import layout
from data.marks import END_MARKS, draw_end_mark, sample_end_mark
from data.pools import DigitPool, MixedPool
from data.realism import Realism, paint_realistic
from data.texts import KINDS, sample_text

__all__ = ["SPACING_PRESETS", "LINE_PAD", "DigitPool", "MixedPool", "Realism", "SynthConfig", "SynthField",
           "distort", "field_rng", "iter_fields", "layout", "line_box", "render", "synthesize", "synthesize_one"]

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
        realism: scan realism options (:class:`data.realism.Realism`), None = plain painter.
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
    realism: Realism | None = None

    @classmethod
    def clean(cls, **overrides) -> "SynthConfig":
        """No distortion at all: digits pasted pixel-exact, white paper, black ink, no noise."""
        base = dict(jitter=0.0, scale=(1.0, 1.0), slant=(0.0, 0.0), thickness=(0.0, 0.0), noise=0.0,
                    background="white", ink=(0.0, 0.0))
        base.update(overrides)
        return cls(**base)

    @classmethod
    def realistic(cls, **overrides) -> "SynthConfig":
        """Fields that look like real cheque scans (ORAND-CAR-A): :meth:`data.realism.Realism.preset`
        on ``guilloche`` paper, ink grey 0-45, noise 3, natural height (ink box plus 3 px, zoomed
        1.2-1.95x: 43-70 px tall), slant +-8 per glyph, thinner strokes.

        ``overrides`` may name fields of either class: ``SynthConfig.realistic(colour=True, height=40)``.
        """
        names = Realism.field_names()
        realism = Realism.preset(**{k: v for k, v in overrides.items() if k in names})
        base = dict(background="guilloche", ink=(0.0, 45.0), noise=3.0, height=None, margin=3,
                    slant=(-8.0, 8.0), thickness=(-0.5, 0.1), realism=realism)
        base.update({k: v for k, v in overrides.items() if k not in names})
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
        if self.realism is not None:
            lo, hi = self.realism.validate().slant
            if not (-45.0 < self.slant[0] + lo and self.slant[1] + hi < 45.0):
                raise ValueError(f"[data.SynthConfig] slant {self.slant} plus field slant {(lo, hi)} "
                                 "leaves (-45, 45) degrees")
        return self


@dataclass
class SynthField:
    """One synthetic field.

    Attributes:
        image: uint8 ``(H, W)``, light paper and dark ink (RGB ``(H, W, 3)`` with ``realism.colour``).
        text: the characters shown, left to right.
        boxes: one ``(x0, y0, x1, y1)`` per character in image pixels, ``x1``/``y1`` exclusive
            (``image[y0:y1, x0:x1]`` holds the character's ink).
        sources: int64 ``(len(text),)``, the MNIST index of each digit in ``split``, -1 for
            punctuation.
        split: ``"train"`` or ``"test"``, the MNIST split the digits came from.
        end_mark: the end mark drawn after the text (:data:`data.marks.END_MARKS`), "" if none;
            it is not part of ``text``.
        end_box: the end mark's ``(x0, y0, x1, y1)`` box, or None.
    """

    image: np.ndarray
    text: str
    boxes: list[tuple[int, int, int, int]]
    sources: np.ndarray
    split: str
    end_mark: str = ""
    end_box: tuple[int, int, int, int] | None = None


def _uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(lo) if lo == hi else float(rng.uniform(lo, hi))


def distort(g: Glyph, rng: np.random.Generator, config: SynthConfig, *, slant_offset: float = 0.0) -> Glyph:
    """Apply scale, slant and thickness changes to a glyph, keeping its baseline (see module doc).

    ``slant_offset`` (degrees) is added to the drawn slant: the whole field's slant (realism).
    """
    ink, top = g.ink, g.top
    s = _uniform(rng, *config.scale)
    a = _uniform(rng, *config.slant) + slant_offset
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


def render(text: str, pool: DigitPool | MixedPool, rng: np.random.Generator, config: SynthConfig | None = None,
           *, end_mark: str = "") -> SynthField:
    """Render ``text`` (digits and ``, . - $ * /``) with digits from ``pool``.

    Args:
        text: the field's characters.
        pool: handwritten digits of one split (:class:`DigitPool` or :class:`MixedPool`).
        rng: the only source of randomness (same state -> same field).
        config: generator controls (default :class:`SynthConfig`).
        end_mark: an end mark (:data:`data.marks.END_MARKS`) to draw after the text, "" for none;
            it gets no box in ``boxes`` and is not added to ``text``.

    Returns:
        a :class:`SynthField`: image uint8 ``(H, W)`` with ``H = config.height`` (or natural);
        with ``config.realism`` the height is zoomed and margins added, and with
        ``realism.colour`` the image is RGB ``(H, W, 3)``.

    Raises:
        ValueError: empty text, a character the generator cannot draw, or an unknown end mark.
    """
    config = config or SynthConfig()
    if not text:
        raise ValueError("[data.synth.render] empty text")
    if end_mark and end_mark not in END_MARKS:
        raise ValueError(f"[data.synth.render] unknown end mark {end_mark!r}; choose from {END_MARKS}")
    field_slant = _uniform(rng, *config.realism.slant) if config.realism is not None else 0.0
    glyphs = [_place(glyph_of(ch, text, pool, rng, where="data.synth.render"), rng, config, field_slant)
              for ch in text]
    if end_mark:
        glyphs.append(_place(draw_end_mark(end_mark, rng), rng, config, field_slant))
    xs = layout(glyphs, rng, config)
    return paint(text, glyphs, xs, pool.split, rng, config)


def glyph_of(ch: str, text: str, pool, rng: np.random.Generator, *, where: str) -> Glyph:
    """The glyph of one character of ``text``: a digit from ``pool`` or drawn punctuation.

    Raises:
        ValueError: ``"[where] cannot draw ..."`` for any other character.
    """
    if ch.isdigit() and ch.isascii():
        return pool.glyph(int(ch), rng)
    if ch in PUNCTUATION:
        return draw_punctuation(ch, rng)
    raise ValueError(f"[{where}] cannot draw {ch!r} in {text!r}; allowed: 0-9 and {PUNCTUATION!r}")


def _place(g: Glyph, rng: np.random.Generator, config: SynthConfig, field_slant: float) -> Glyph:
    """Distort a glyph and jitter it vertically (per character, in text order)."""
    g = distort(g, rng, config, slant_offset=field_slant)
    if config.jitter > 0:
        g.top += int(round(rng.uniform(-config.jitter, config.jitter)))
    return g


def line_box(glyphs, xs, config: SynthConfig) -> tuple[int, int, int]:
    """``(y_lo, y_hi, width)`` of the natural canvas: rows relative to the baseline, margins included."""
    m = config.margin
    ink_top = min(g.top for g in glyphs)
    ink_bot = max(g.top + g.ink.shape[0] for g in glyphs)
    x_end = max(x + g.ink.shape[1] for x, g in zip(xs, glyphs))
    if config.height is None:
        y_lo, y_hi = ink_top - m, ink_bot + m
    else:
        y_lo, y_hi = min(-BODY - LINE_PAD, ink_top - 1), max(LINE_PAD, ink_bot + 1)
    return y_lo, y_hi, x_end + 2 * m


def paint(text, glyphs, xs, split, rng, config: SynthConfig) -> SynthField:
    """Paint the laid-out glyphs; glyphs after ``len(text)`` are an end mark (no character)."""
    m = config.margin
    y_lo, y_hi, wn = line_box(glyphs, xs, config)
    if config.realism is not None:
        image, boxes = paint_realistic(glyphs, xs, y_lo, y_hi, wn, rng, config)
        return _field(image, text, boxes, glyphs, split)
    hn = y_hi - y_lo
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
    return _field(np.clip(np.rint(img), 0, 255).astype(np.uint8), text, boxes, glyphs, split)


def _field(image: np.ndarray, text: str, boxes, glyphs, split: str) -> SynthField:
    """A :class:`SynthField`; glyphs beyond ``len(text)`` are the end mark."""
    n = len(text)
    sources = np.array([g.source for g in glyphs[:n]], dtype=np.int64)
    mark = glyphs[n].char if len(glyphs) > n else ""
    return SynthField(image=image, text=text, boxes=boxes[:n], sources=sources, split=split, end_mark=mark,
                      end_box=boxes[n] if mark else None)


def field_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of field ``index`` of a batch with ``seed`` (independent of the batch size)."""
    if seed < 0 or index < 0:
        raise ValueError(f"[data.synth] seed and index must be >= 0, got {seed}, {index}")
    return np.random.default_rng([int(seed), int(index)])


def synthesize_one(kind: str, pool: DigitPool | MixedPool, rng: np.random.Generator,
                   config: SynthConfig | None = None) -> SynthField:
    """Draw a text of ``kind`` (``digits``, ``zip``, ``amount``, ``cheque``) and render it; with
    ``config.realism``, ``amount`` and ``cheque`` texts get an end mark with probability
    ``realism.end_mark``."""
    config = config or SynthConfig()
    text = sample_text(kind, rng, min_len=config.min_len, max_len=config.max_len, zip_plus4=config.zip_plus4)
    mark = ""
    r = config.realism
    if r is not None and kind in ("amount", "cheque") and r.end_mark > 0 and rng.random() < r.end_mark:
        mark = sample_end_mark(rng)
    return render(text, pool, rng, config, end_mark=mark)


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
