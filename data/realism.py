"""Scan realism for synthetic fields: whole-field warps, stroke width, colour, paper, optics, JPEG.

:class:`Realism` holds the options; :attr:`data.synth.SynthConfig.realism` switches them on (None,
the default, keeps the plain painter and every seed's output unchanged), and
``SynthConfig.realistic()`` is the preset tuned against real cheque fields (ORAND-CAR-A).
:func:`paint_realistic` replaces the plain painter. From the laid-out glyphs (natural MNIST scale,
20 px digit body) to the image, in order:

1. whole-field slant: every glyph is sheared about the common baseline by one angle per field
   (added to the per-glyph slant in :func:`data.synth.distort`, so boxes and spacing stay exact);
2. each glyph is painted on its own layer; an elastic warp (a smooth random displacement field,
   nodes ``elastic_cell`` natural px apart, amplitude ``elastic`` px) moves all layers alike;
3. zoom: the field is resized to ``zoom`` times the configured height (or natural height);
4. stroke width: grey-level morphology of the whole field at output resolution, ``stroke`` steps
   of a 3x3 cross (about 2 px of stroke width each; negative = erosion, thinner; fractional
   steps blend), never eroding a glyph below half ink; with ``pen_width`` each glyph is first
   brought towards one pen width per field (MNIST writers' strokes vary; a cheque's pen does
   not); then the ink coverage is made crisper (``ink_contrast``);
5. boxes are read from the layers (ink > 0.1), the layers are merged (maximum);
6. wide margins: with ``wide_margin``, blank borders of ``margin_size`` times the height on each
   side (drawn per side, so the ink sits off centre); they show the paper, or with
   ``margin_white`` plain white, as a field cut wider than its printed box;
7. paper: ``config.background`` (e.g. ``guilloche``) as grey levels, tinted (``tint``): grey
   ``G`` becomes ``255 - (255 - G) * a`` for an absorption colour ``a`` with luma weight 1, so the
   luma is unchanged; ink of grey ``config.ink`` likewise (blue, black or violet pens);
8. ink is laid subtractively: ``out = paper * (1 - alpha * (1 - ink / 255))``;
9. scanner levels: ``out = black + (white - black) * out / 255``; Gaussian blur (sigma in
   ``blur``), pixel noise (``config.noise``), JPEG at a quality drawn from ``jpeg``;
10. output: RGB uint8 ``(H, W, 3)`` when ``colour``, else grey uint8 ``(H, W)`` by the luma weights
    (0.299, 0.587, 0.114) that ``docrec.recognizers.base.check_field_image`` also uses.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import cv2
import numpy as np

from data.backgrounds import make_background

#: Luma weights (ITU-R BT.601) of R, G, B.
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
#: Absorption colours of pens (normalised to luma weight 1 when used): blue, black, violet.
_PENS = (np.array([1.6, 1.2, 0.3]), np.array([1.0, 1.0, 1.0]), np.array([1.0, 1.4, 0.5]))


@dataclass
class Realism:
    """Options of :func:`paint_realistic` (module docstring); the defaults change nothing.

    Attributes:
        slant: whole-field shear range in degrees (positive leans right).
        elastic: elastic warp amplitude in natural pixels (0 = off).
        elastic_cell: distance between the warp's random nodes, natural pixels.
        zoom: range of the output height relative to ``SynthConfig.height`` (or natural height).
        stroke: range of whole-field morphology steps (negative thins, positive thickens).
        pen_width: range of one pen width per field in output pixels, or None: every glyph is
            eroded or dilated (fractional 3x3-cross steps) towards it (:func:`stroke_width`).
        ink_contrast: range of the gain ``g`` of the ink coverage about one half after the
            morphology, ``clip(g * (a - 0.5) + 0.5, 0, 1)``: crisper pen strokes for ``g > 1``.
        blur: range of the Gaussian blur sigma in output pixels.
        jpeg: inclusive JPEG quality range ``(lo, hi)`` in 1..100, or None for no compression.
        tint: probability that paper and ink are coloured (else neutral grey).
        colour: output RGB ``(H, W, 3)`` instead of grey ``(H, W)``.
        black, white: ranges of the scanner's black and white points (grey levels).
        wide_margin: probability of wide blank margins.
        margin_size: range of each margin, in multiples of the output height before margins.
        margin_white: probability that the wide margins are plain white instead of the paper.
        end_mark: probability of an end mark after ``amount`` and ``cheque`` texts (:mod:`data.marks`).
    """

    slant: tuple[float, float] = (0.0, 0.0)
    elastic: float = 0.0
    elastic_cell: float = 8.0
    zoom: tuple[float, float] = (1.0, 1.0)
    stroke: tuple[float, float] = (0.0, 0.0)
    pen_width: tuple[float, float] | None = None
    ink_contrast: tuple[float, float] = (1.0, 1.0)
    blur: tuple[float, float] = (0.0, 0.0)
    jpeg: tuple[int, int] | None = None
    tint: float = 0.0
    colour: bool = False
    black: tuple[float, float] = (0.0, 0.0)
    white: tuple[float, float] = (255.0, 255.0)
    wide_margin: float = 0.0
    margin_size: tuple[float, float] = (0.2, 1.5)
    margin_white: float = 0.5
    end_mark: float = 0.0

    @classmethod
    def preset(cls, **overrides) -> "Realism":
        """The options of ``SynthConfig.realistic()``: fields that look like real cheque scans."""
        base = dict(slant=(-8.0, 18.0), elastic=1.0, elastic_cell=9.0, zoom=(1.2, 1.95), pen_width=(1.8, 3.4), ink_contrast=(1.3, 2.2),
                    blur=(0.0, 0.5), jpeg=(35, 90), tint=0.7, black=(10.0, 60.0), white=(160.0, 240.0),
                    wide_margin=0.12, margin_size=(0.2, 1.5), margin_white=0.5, end_mark=0.6)
        base.update(overrides)
        return cls(**base)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The names of the options (to route keyword overrides)."""
        return tuple(f.name for f in fields(cls))

    def validate(self) -> "Realism":
        """Check every option; returns self. Raises ValueError naming the bad option."""
        ranges = {"slant": (-45.0, 45.0), "zoom": (0.25, 8.0), "stroke": (-3.0, 3.0), "ink_contrast": (1.0, 5.0), "blur": (0.0, 5.0),
                  "black": (0.0, 128.0), "white": (128.0, 255.0), "margin_size": (0.0, 5.0)}
        for name, (lo_ok, hi_ok) in ranges.items():
            lo, hi = getattr(self, name)
            if not (lo_ok <= lo <= hi <= hi_ok):
                raise ValueError(f"[data.Realism] {name} range ({lo}, {hi}) must satisfy {lo_ok} <= lo <= hi <= {hi_ok}")
        if self.pen_width is not None and not 0.5 <= self.pen_width[0] <= self.pen_width[1] <= 20.0:
            raise ValueError(f"[data.Realism] pen_width range {self.pen_width} must satisfy 0.5 <= lo <= hi <= 20")
        if self.jpeg is not None and not (1 <= int(self.jpeg[0]) <= int(self.jpeg[1]) <= 100):
            raise ValueError(f"[data.Realism] jpeg quality range {self.jpeg} must satisfy 1 <= lo <= hi <= 100")
        if not (0.0 <= self.elastic <= 5.0 and 2.0 <= self.elastic_cell <= 100.0):
            raise ValueError(f"[data.Realism] need 0 <= elastic <= 5 and 2 <= elastic_cell <= 100, "
                             f"got {self.elastic}, {self.elastic_cell}")
        for name in ("tint", "wide_margin", "margin_white", "end_mark"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"[data.Realism] probability {name}={getattr(self, name)} outside [0, 1]")
        return self


def _uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(lo) if lo == hi else float(rng.uniform(lo, hi))


def elastic_maps(shape: tuple[int, int], rng: np.random.Generator, *, amplitude: float,
                 cell: float) -> tuple[np.ndarray, np.ndarray]:
    """``cv2.remap`` maps of a smooth random displacement: float32 ``(H, W)`` x and y source coordinates."""
    h, w = shape
    ch, cw = int(np.ceil(h / cell)) + 2, int(np.ceil(w / cell)) + 2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = (cv2.resize(rng.normal(0.0, amplitude, (ch, cw)).astype(np.float32), (w, h),
                         interpolation=cv2.INTER_CUBIC) for _ in range(2))
    return xx + dx, yy + dy


def change_stroke(layers: np.ndarray, steps: float) -> np.ndarray:
    """Grey morphology of ink layers ``(H, W, K)`` by ``steps`` 3x3-cross steps (module doc, step 4)."""
    if steps == 0.0:
        return layers
    kernel = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    op = cv2.dilate if steps > 0 else cv2.erode
    out = layers
    remaining = abs(steps)
    while remaining > 1e-6:
        nxt = op(out, kernel).reshape(out.shape)
        frac = min(1.0, remaining)
        nxt = (1.0 - frac) * out + frac * nxt
        if steps < 0:  # never erode a glyph below half ink
            keep = nxt.reshape(-1, out.shape[-1]).max(axis=0) < 0.5
            nxt[..., keep] = out[..., keep]
        out, remaining = nxt, remaining - frac
    return out


def stroke_width(ink: np.ndarray) -> float:
    """Mean stroke width in pixels of an ink map ``(H, W)``: ``2 * area / perimeter`` of ink > 0.5."""
    mask = (ink > 0.5).astype(np.uint8)
    area = int(mask.sum())
    if area == 0:
        return 0.0
    kernel = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    edge = int((mask - cv2.erode(mask, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)).sum())
    return 2.0 * area / max(1, edge)


def to_pen_width(layers: np.ndarray, width: float) -> np.ndarray:
    """Erode or dilate each ink layer of ``(H, W, K)`` towards a stroke ``width`` (output pixels)."""
    out = np.empty_like(layers)
    for k in range(layers.shape[-1]):
        w = stroke_width(layers[..., k])
        steps = 0.0 if w == 0.0 else float(np.clip((width - w) / 2.0, -2.0, 1.5))
        out[..., k] = change_stroke(layers[..., k: k + 1], steps)[..., 0]
    return out


def _absorption(rng, *, tinted: bool, pen: bool) -> np.ndarray:
    """An RGB absorption colour with luma weight 1 (neutral grey when not tinted)."""
    if not tinted:
        return np.ones(3, np.float32)
    a = _PENS[int(rng.choice(3, p=[0.55, 0.35, 0.1]))] if pen else np.exp(rng.normal(0.0, 0.35, 3))
    return (a / float(LUMA @ a)).astype(np.float32)


def _boxes(layers: np.ndarray) -> list[tuple[int, int, int, int]]:
    boxes = []
    for k in range(layers.shape[-1]):
        mask = layers[..., k] > 0.1
        if not mask.any():
            mask = layers[..., k] >= layers[..., k].max()
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        boxes.append((int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1))
    return boxes


def _margins(rng, r: Realism, out_h: int) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` wide margins in pixels (all 0 when not drawn)."""
    if r.wide_margin == 0.0 or rng.random() >= r.wide_margin:
        return 0, 0, 0, 0
    sides = [int(round(_uniform(rng, *r.margin_size) * out_h)) if rng.random() < 0.75 else 0 for _ in range(4)]
    if not any(sides):
        sides[int(rng.integers(0, 4))] = int(round(r.margin_size[1] * out_h))
    return sides[0], sides[1], sides[2], sides[3]


def paint_realistic(glyphs, xs: list[int], y_lo: int, y_hi: int, width: int, rng: np.random.Generator,
                    config) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Paint laid-out glyphs as a realistic scan (module docstring, steps 2-10).

    Args:
        glyphs: the :class:`data.glyphs.Glyph` s, tops relative to the baseline.
        xs: the left ink column of each glyph (:func:`data.synth.layout`), natural pixels.
        y_lo, y_hi: the rows (relative to the baseline) of the natural canvas' top and bottom.
        width: the natural canvas width, including ``config.margin`` on both sides.
        rng: the random generator.
        config: the :class:`data.synth.SynthConfig` (its ``realism`` must be set).

    Returns:
        ``(image, boxes)``: uint8 ``(H, W)`` (or ``(H, W, 3)`` RGB with ``colour``) and one
        ``(x0, y0, x1, y1)`` box per glyph (exclusive ends).
    """
    r = config.realism
    hn = y_hi - y_lo
    pad = int(np.ceil(2 * r.elastic)) + 1 if r.elastic > 0 else 0
    h0, w0 = hn + 2 * pad, width + 2 * pad
    layers = np.zeros((h0, w0, len(glyphs)), np.float32)
    for k, (x, g) in enumerate(zip(xs, glyphs)):
        h, w = g.ink.shape
        r0, c0 = g.top - y_lo + pad, x + config.margin + pad
        layers[r0: r0 + h, c0: c0 + w, k] = g.ink
    if r.elastic > 0:
        mx, my = elastic_maps((h0, w0), rng, amplitude=r.elastic, cell=r.elastic_cell)
        layers = cv2.remap(layers, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=0).reshape(h0, w0, -1)
    s = (config.height if config.height is not None else hn) * _uniform(rng, *r.zoom) / hn
    out_h, out_w = max(8, int(round(h0 * s))), max(8, int(round(w0 * s)))
    interp = cv2.INTER_AREA if out_h < h0 else cv2.INTER_LINEAR
    layers = np.clip(cv2.resize(layers, (out_w, out_h), interpolation=interp).reshape(out_h, out_w, -1), 0.0, 1.0)
    if r.pen_width is not None:
        layers = to_pen_width(layers, _uniform(rng, *r.pen_width))
    layers = change_stroke(layers, _uniform(rng, *r.stroke))
    gain = _uniform(rng, *r.ink_contrast)
    if gain != 1.0:
        layers = np.clip(gain * (layers - 0.5) + 0.5, 0.0, 1.0)
    boxes = _boxes(layers)
    top, bottom, left, right = _margins(rng, r, out_h)
    alpha = np.pad(layers.max(axis=-1), ((top, bottom), (left, right)))
    boxes = [(x0 + left, y0 + top, x1 + left, y1 + top) for x0, y0, x1, y1 in boxes]
    hf, wf = alpha.shape
    paper = make_background(config.background, (hf, wf), rng, baseline=top + (pad - y_lo) * s, scale=s)
    if (top or bottom or left or right) and rng.random() < r.margin_white:
        inner = paper[top: top + out_h, left: left + out_w].copy()
        paper[:] = rng.uniform(245.0, 255.0) + rng.normal(0.0, 1.5, paper.shape).astype(np.float32)
        paper[top: top + out_h, left: left + out_w] = inner
    tinted = rng.random() < r.tint
    paper_rgb = 255.0 - (255.0 - paper)[..., None] * _absorption(rng, tinted=tinted, pen=False)
    ink_rgb = np.clip(255.0 - (255.0 - _uniform(rng, *config.ink)) * _absorption(rng, tinted=tinted, pen=True), 0, 255)
    img = np.clip(paper_rgb, 0.0, 255.0) * (1.0 - alpha[..., None] * (1.0 - ink_rgb / 255.0))
    black, white = _uniform(rng, *r.black), _uniform(rng, *r.white)
    img = black + (white - black) * img / 255.0
    sigma = _uniform(rng, *r.blur)
    if sigma > 0.05:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    if config.noise > 0:
        img = img + rng.normal(0.0, config.noise, (hf, wf, 1)).astype(np.float32)
    rgb = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    if r.jpeg is not None:
        quality = int(rng.integers(int(r.jpeg[0]), int(r.jpeg[1]) + 1))
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError(f"[data.realism.paint_realistic] JPEG encoding failed at quality {quality}")
        rgb = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    if r.colour:
        return np.ascontiguousarray(rgb), boxes
    grey = rgb.astype(np.float32) @ LUMA
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8), boxes
