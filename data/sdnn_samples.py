"""Inputs of the space-displacement network (SDNN, docs/paper.md Sec. VII): field height normalisation and
the paper's single-character training windows.

Height normalisation (:func:`normalize_field`), used identically for training and recognition:

1. ink map ``(bg - image) / (bg - fg)`` clipped to [0, 1], with ``bg`` the median grey of the
   background and ``fg`` a dark percentile of the ink; the ink/background split is Otsu's threshold,
   and grey levels below :data:`INK_FLOOR` of the ink range are set to paper (light textures);
2. the *body* of the writing: the rows between the 1% and 99% quantiles of the ink mass (so a
   comma's descender or a speck barely moves it); the field is scaled (both axes, aspect kept) so
   that the body is :data:`BODY_PX` = 20 rows, as LeNet-5 expects its digits (Sec. II), and the body's
   middle row lands on row 16 of a 32-row strip;
3. the columns from the first to the last ink column, plus :data:`PAD_PX` blank columns on each side
   so the outer characters can be centred in a window; the width is rounded up to ``32 + 4 k``;
4. LeNet levels: paper -0.1, full ink 1.175 (``data.to_lenet_input``).

SDNN frame ``t`` reads columns ``[4 t, 4 t + 32)`` of the strip (centre ``4 t + 16``); the
:class:`FieldTransform` maps strip coordinates back to the input image.

Training windows (:func:`make_windows`, "way 1" of issue 7, the paper's recipe): fields of 3-7
characters rendered from MNIST *training* digits (and drawn punctuation, :mod:`data.glyphs`) with ink
gaps of -1..4 natural pixels (some touch), normalised as above, then 32x32 windows cut

* centred on a character (centre jittered by up to :data:`CENTRE_JITTER` px, i.e. the worst
  misalignment with stride 4) and labelled with it; the neighbours are whatever the field holds;
* centred between two characters, 4-8 px left or right of a character's centre (off-centre views
  of it), or left of the first / right of the last, at least :data:`NONE_CLEARANCE` px from every
  character centre, labelled 'none' (id 16).

Salt-and-pepper noise (10% of the pixels set to ink or paper at random) is applied at training time
by :func:`salt_and_pepper` so that every epoch sees fresh noise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np

from data.dataset import BACKGROUND, INK
from data.glyphs import PUNCTUATION
from data.synth import DigitPool, SynthConfig, field_rng, render
from data.constants import CHARACTERS, NONE_ID, STRIDE, STRIP_H  # strip height, frame stride, charset

#: Rows of the normalised writing body (a digit's height in LeNet-5's 32x32 input, Sec. II).
BODY_PX = 20
#: Blank columns added left and right of the ink in the normalised strip.
PAD_PX = 12
#: Ink levels below this fraction of the ink range count as paper.
INK_FLOOR = 0.15
#: Largest offset (px) between a character-labelled window's centre and the character's centre.
CENTRE_JITTER = 2
#: Smallest distance (px) between a 'none' window's centre and any character centre. With stride 4
#: some frame is always within 2 px of a character's centre; frames 4 px or more away must say
#: 'none', or the character model reads the character twice.
NONE_CLEARANCE = 4
CHARSET = CHARACTERS  # the SDNN's characters; 'none' is NONE_ID


@dataclass(frozen=True)
class FieldTransform:
    """Strip -> image coordinates: ``x_img = (x_strip - pad) / scale + x0``, same for y with row 16.

    Attributes:
        scale: strip pixels per image pixel.
        x0: first ink column of the image (strip column ``pad``).
        y_mid: image row mapped to strip row 16 (middle of the body).
        pad: blank strip columns before the ink.
        width: strip width. image_shape: ``(H, W)`` of the input image.
    """

    scale: float
    x0: float
    y_mid: float
    pad: int
    width: int
    image_shape: tuple[int, int]

    def to_image_x(self, x: np.ndarray | float) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.pad) / self.scale + self.x0

    def to_strip_x(self, x: np.ndarray | float) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.x0) * self.scale + self.pad

    @property
    def frames(self) -> int:
        """T = (W - 32) // 4 + 1, the number of SDNN frames of the strip."""
        return (self.width - STRIP_H) // STRIDE + 1


def ink_map(image: np.ndarray) -> np.ndarray:
    """uint8 ``(H, W)`` field (white paper, dark ink) -> float32 ``(H, W)`` ink in [0, 1] (module doc, step 1).

    An image without any contrast gives an all-zero map.
    """
    img = np.asarray(image)
    if img.ndim != 2 or img.dtype != np.uint8:
        raise ValueError(f"[data.sdnn_samples.ink_map] expected a uint8 (H, W) image, got {img.dtype} {img.shape}")
    hist = np.bincount(img.ravel(), minlength=256).astype(np.float64)
    levels = np.flatnonzero(hist)
    lo, hi = int(levels[0]), int(levels[-1])
    if hi - lo < 16:
        return np.zeros(img.shape, np.float32)
    thr, _ = cv2.threshold(img, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    t = int(thr)
    cum = np.cumsum(hist)
    n_dark = cum[t]
    bg = float(np.searchsorted(cum, n_dark + 0.5 * (cum[-1] - n_dark)))  # median of the paper
    fg = float(np.searchsorted(cum, 0.05 * n_dark)) if n_dark > 0 else float(lo)  # 5% of the ink
    if bg - fg < 16:
        return np.zeros(img.shape, np.float32)
    lut = np.clip((bg - np.arange(256, dtype=np.float32)) / (bg - fg), 0.0, 1.0)
    lut[lut < INK_FLOOR] = 0.0
    return lut.astype(np.float32)[img]


def normalize_field(image: np.ndarray) -> tuple[np.ndarray, FieldTransform] | None:
    """Height-normalise a field image for the SDNN: see :func:`normalize_field_ink` (without the ink)."""
    out = normalize_field_ink(image)
    return None if out is None else out[:2]


def normalize_field_ink(image: np.ndarray, *, ink: np.ndarray | None = None
                        ) -> tuple[np.ndarray, FieldTransform, np.ndarray] | None:
    """Height-normalise a field image for the SDNN (module docstring).

    Args:
        image: uint8 ``(H, W)``, white paper and dark ink.
        ink: the image's ink map float32 ``(H, W)`` in [0, 1] if the caller has cleaned it (e.g.
            printed lines removed); default :func:`ink_map` of ``image``.

    Returns:
        ``(strip, transform, ink)``: float32 ``(32, W')`` at LeNet levels (-0.1 paper, 1.175 ink) with
        ``W' = 32 + 4 k``, the :class:`FieldTransform` back to the image, and the image's ink map
        (:func:`ink_map`); ``None`` if the image has no ink.
    """
    if ink is None:
        ink = ink_map(image)
    elif ink.shape != np.asarray(image).shape[:2]:
        raise ValueError(f"[data.sdnn_samples.normalize_field_ink] ink map {ink.shape} for an image "
                         f"{np.asarray(image).shape}")
    rows_mass = ink.sum(axis=1)
    total = float(rows_mass.sum())
    if total <= 0.0:
        return None
    cum = np.cumsum(rows_mass) / total
    r_lo = int(np.searchsorted(cum, 0.01))
    r_hi = int(np.searchsorted(cum, 0.99))
    body = max(1.0, r_hi - r_lo + 1.0)
    scale = BODY_PX / body
    cols = np.flatnonzero(ink.max(axis=0) > 0.0)
    c0, c1 = int(cols[0]), int(cols[-1]) + 1
    y_mid = (r_lo + r_hi + 1) / 2.0
    # image rows kept: those that land inside the 32-row strip
    half = STRIP_H / 2.0 / scale
    y_a, y_b = max(0, int(np.floor(y_mid - half))), min(ink.shape[0], int(np.ceil(y_mid + half)))
    crop = ink[y_a:y_b, c0:c1]
    out_w = max(1, int(round((c1 - c0) * scale)))
    out_h = max(1, int(round((y_b - y_a) * scale)))
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    small = cv2.resize(crop, (out_w, out_h), interpolation=interp)
    width = max(STRIP_H, out_w + 2 * PAD_PX)
    width = STRIP_H + STRIDE * int(np.ceil((width - STRIP_H) / STRIDE))
    canvas = np.zeros((STRIP_H, width), np.float32)
    top = int(round(STRIP_H / 2.0 - (y_mid - y_a) * scale))
    s0, s1 = max(0, -top), min(out_h, STRIP_H - top)
    if s1 > s0:
        canvas[top + s0: top + s1, PAD_PX: PAD_PX + out_w] = small[s0:s1]
    strip = (BACKGROUND + (INK - BACKGROUND) * np.clip(canvas, 0.0, 1.0)).astype(np.float32)
    return strip, FieldTransform(scale=scale, x0=float(c0), y_mid=y_mid, pad=PAD_PX, width=width,
                                 image_shape=tuple(image.shape)), ink


def window_at(strip: np.ndarray, centre: float) -> np.ndarray:
    """The 32x32 window of ``strip`` centred on column ``centre`` (paper beyond the edges)."""
    x0 = int(round(centre)) - STRIP_H // 2
    out = np.full((STRIP_H, STRIP_H), BACKGROUND, np.float32)
    a, b = max(0, x0), min(strip.shape[1], x0 + STRIP_H)
    if b > a:
        out[:, a - x0: b - x0] = strip[:, a:b]
    return out


def salt_and_pepper(x: np.ndarray, rng: np.random.Generator, *, fraction: float = 0.1) -> np.ndarray:
    """Set ``fraction`` of the pixels of LeNet-level images ``(..., H, W)`` to ink or paper at random."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"[data.salt_and_pepper] fraction must be in [0, 1], got {fraction}")
    hit = rng.random(x.shape) < fraction
    level = np.where(rng.random(x.shape) < 0.5, INK, BACKGROUND).astype(x.dtype)
    return np.where(hit, level, x)


@dataclass
class WindowConfig:
    """Controls of :func:`make_windows` (module docstring).

    Attributes:
        spacing: ink-gap range in natural pixels (-1..4 in the paper).
        min_len, max_len: characters per rendered field.
        punctuation: probability that a character of a field is punctuation (``, . - $ * /``).
        none_fraction: target fraction of 'none' windows among all windows (extra ones are dropped).
        jitter: largest vertical shift of a character in the rendered fields, in pixels of their
            32-row line (whose body is 20 rows): ``data.SynthConfig.jitter``.
        scale: per-character scale range of the rendered fields (``data.SynthConfig.scale``).
    """

    spacing: tuple[int, int] = (-1, 4)
    min_len: int = 3
    max_len: int = 7
    punctuation: float = 0.12
    none_fraction: float = 0.5
    jitter: float = SynthConfig.jitter
    scale: tuple[float, float] = SynthConfig.scale


def _field_text(rng: np.random.Generator, cfg: WindowConfig) -> str:
    n = int(rng.integers(cfg.min_len, cfg.max_len + 1))
    chars = []
    for _ in range(n):
        if rng.random() < cfg.punctuation:
            chars.append(PUNCTUATION[int(rng.integers(len(PUNCTUATION)))])
        else:
            chars.append(str(int(rng.integers(10))))
    return "".join(chars)


def make_windows(count_fields: int, *, split: str = "train", seed: int = 0, config: WindowConfig | None = None,
                 pool: DigitPool | None = None, root: str | os.PathLike | None = None,
                 start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Cut labelled SDNN training windows from ``count_fields`` rendered fields (module docstring).

    Args:
        count_fields: fields to render (each gives about 2 L windows for L characters).
        split: MNIST split of the digits (``train`` for training; never ``test``).
        seed: field ``i`` depends only on ``(seed, start + i)``.
        config: :class:`WindowConfig`.
        pool: digits of ``split`` (loaded when not given).

    Returns:
        ``(x, y)``: float32 ``(N, 1, 32, 32)`` LeNet-level windows (no noise yet) and int64 ``(N,)``
        labels in 0..16 (16 = 'none').
    """
    cfg = config or WindowConfig()
    if pool is None:
        pool = DigitPool.load(split, root)
    elif pool.split != split:
        raise ValueError(f"[data.make_windows] asked for split {split!r} but the pool holds {pool.split!r}")
    synth = SynthConfig(spacing=tuple(cfg.spacing), height=STRIP_H, jitter=cfg.jitter, scale=tuple(cfg.scale)).validate()
    xs, ys, nones = [], [], []
    for i in range(start, start + count_fields):
        rng = field_rng(seed, i)
        field = render(_field_text(rng, cfg), pool, rng, synth)
        out = normalize_field(field.image)
        if out is None:
            continue
        strip, tf = out
        centres = np.array([tf.to_strip_x((b[0] + b[2]) / 2.0) for b in field.boxes], np.float64)
        for ch, c in zip(field.text, centres):
            xs.append(window_at(strip, c + rng.integers(-CENTRE_JITTER, CENTRE_JITTER + 1)))
            ys.append(CHARSET.index(ch))
        cand = [(a + b) / 2.0 for a, b in zip(centres[:-1], centres[1:])]
        cand += [centres[0] - rng.uniform(10, 18), centres[-1] + rng.uniform(10, 18)]
        cand += [c + side * rng.uniform(4, 8) for c in centres for side in (-1.0, 1.0)]
        for c in cand:
            c = c + rng.uniform(-1.5, 1.5)
            if np.min(np.abs(centres - c)) >= NONE_CLEARANCE:
                nones.append(window_at(strip, c))
    n_char = len(xs)
    keep = int(round(n_char * cfg.none_fraction / max(1e-9, 1.0 - cfg.none_fraction)))
    if nones:
        order = np.random.default_rng([seed, start, 7]).permutation(len(nones))[:keep]
        xs += [nones[k] for k in order]
        ys += [NONE_ID] * len(order)
    x = np.stack(xs)[:, None] if xs else np.zeros((0, 1, STRIP_H, STRIP_H), np.float32)
    return x.astype(np.float32), np.asarray(ys, dtype=np.int64)


__all__ = ["BODY_PX", "CHARSET", "FieldTransform", "NONE_ID", "PAD_PX", "STRIDE", "STRIP_H", "WindowConfig",
           "ink_map", "make_windows", "normalize_field", "normalize_field_ink", "salt_and_pepper", "window_at"]
