"""Field-image preprocessing: greyscale, binarisation, guide-line/border/speck removal, deslanting.

The output is a boolean ink mask ``(H, W')`` (True = ink) plus what is needed to map it back to the
input image (docs/paper.md Sec. V takes a clean binary field for granted; real fields need this step).

Binarisation methods (``SegmenterConfig.binarize``), all returning True where the pixel is ink:

- ``fixed``: ``grey < fixed_threshold``.
- ``otsu``: one global Otsu threshold.
- ``adaptive``: darker than the local mean (window ``window_rel * H``) by ``adaptive_offset``.
- ``sauvola``: ``grey < m (1 + k (s / R - 1))`` with local mean ``m`` and deviation ``s``.
- ``bgnorm``: background normalisation, then Otsu. The background is the grey *closing* of the
  image (a max filter then a min filter, wider than a pen stroke), which erases the dark ink and
  keeps the paper's slowly varying level and its light texture envelope; the image divided by it
  is flat paper (about 1) with ink (well below 1) and faint texture (a little below 1), which
  Otsu separates well.
- ``midpoint``: background normalisation, then a *local midpoint*: a pixel is ink when darker than
  half-way between the paper (1) and the darkest normalised level within the window. Under the
  usual compositing model ``grey = paper (1 - a) + ink a`` this is exactly "ink coverage
  ``a > 0.5``", whatever the paper level, the pen's darkness or its local strength.

Every method except ``fixed`` also requires the pixel to be at least ``min_contrast`` grey levels
darker than the closing background, so a white or faintly textured field yields no ink at all
instead of noise. On a faint field (pale ink, a washed-out scan) that guard is lowered to
``min_contrast_rel`` of the field's own contrast (never below ``min_contrast_floor`` nor the
field's pixel noise), so it never cuts the edges of strokes that the midpoint keeps
(:func:`contrast_guard`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segmenter.config import BinarizeConfig, SegmenterConfig
from segmenter.lines import Line, erase_line, find_lines


@dataclass
class Preprocessed:
    """Result of :func:`preprocess`.

    Attributes:
        grey: uint8 ``(H, W)`` greyscale input (white paper 255, dark ink 0).
        ink: bool ``(H, W2)`` cleaned ink mask in *working* coordinates (``W2 == W`` unless deslanted).
        shift: int64 ``(H,)`` per-row horizontal shift applied by deslanting: working ``x`` =
            input ``x + shift[y]`` (all zeros when not deslanted).
        slant: the shear that was removed (dx per dy; 0.0 when not deslanted).
        char_height: estimated character height in pixels, at least ``min_char_rel * H`` (0 for
            an empty field).
        lines: bool ``(H, W)`` pixels removed as guide lines or borders (input coordinates).
        darkness: float32 ``(H, W2)`` in working coordinates: how dark each pixel is between the
            local paper level (0) and the darkest ink nearby (1), see :func:`darkness`; 0 on
            removed lines. Grey-level pieces (``SegmenterConfig.grey_pieces``) are drawn from it.
        box: ``(y0, y1, x0, x1)``, the window of the input that was cleaned (:func:`content_box`):
            the whole image unless wide margins were cut away; nothing outside it is ink.
    """

    grey: np.ndarray
    ink: np.ndarray
    shift: np.ndarray
    slant: float
    char_height: float
    lines: np.ndarray
    darkness: np.ndarray | None = None
    box: tuple[int, int, int, int] | None = None


def to_grey(image, *, where: str = "segmenter.preprocess") -> np.ndarray:
    """Convert a field image to uint8 greyscale ``(H, W)``, white paper 255, dark ink 0.

    Accepts uint8 ``(H, W)``, ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA; floats in ``[0, 1]`` (scaled
    by 255) or ``[0, 255]``; bool masks (True = ink). Torch tensors are converted with ``.numpy()``.

    Raises:
        ValueError: empty image, wrong number of dimensions or channels, non-finite values.
    """
    if hasattr(image, "detach"):
        image = image.detach().cpu().numpy()
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        if arr.shape[2] == 4:
            arr = arr[:, :, :3]
        arr = arr.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    elif arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim != 2:
        raise ValueError(f"[{where}] expected an (H, W) or (H, W, 3) image, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"[{where}] empty image of shape {arr.shape}")
    if arr.dtype == np.bool_:
        return np.where(arr, 0, 255).astype(np.uint8)
    if arr.dtype == np.uint8:
        return arr.copy()
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"[{where}] image holds NaN or infinite values")
    if arr.min() < 0:
        raise ValueError(f"[{where}] negative grey level {arr.min():.3g}; expected [0, 1] or [0, 255]")
    if arr.max() <= 1.0:
        arr = arr * 255.0
    if arr.max() > 255.0:
        raise ValueError(f"[{where}] grey level {arr.max():.3g} above 255")
    return np.rint(arr).astype(np.uint8)


def odd_size(n: float, minimum: int = 3) -> int:
    """``n`` rounded to an odd kernel size of at least ``minimum`` (the next odd number up)."""
    k = max(minimum, int(round(n)))
    return k if k % 2 == 1 else k + 1


def background(grey: np.ndarray, *, kernel: int) -> np.ndarray:
    """Paper level estimated by a grey closing (max then min filter): ``(H, W) -> (H, W)`` float."""
    se = cv2.getStructuringElement(cv2.MORPH_RECT, (kernel, kernel))
    return cv2.morphologyEx(grey, cv2.MORPH_CLOSE, se, borderType=cv2.BORDER_REPLICATE).astype(np.float64)


def darkness(grey: np.ndarray, config: SegmenterConfig | None = None) -> np.ndarray:
    """Per-pixel ink darkness: uint8 ``(H, W) -> float32 (H, W)`` in [0, 1].

    The grey level is divided by the paper's level (:func:`background`, which erases strokes), so a
    textured or unevenly lit paper reads about 1; ``1 - that`` is scaled by the same quantity at the
    darkest pixel within a window of ``window_rel`` image heights (at least 0.2, so a blank window
    does not turn paper noise into ink). A pale pen and a black pen thus both reach 1 in the middle
    of their strokes, and anti-aliased stroke edges keep their fractional coverage, like MNIST's
    grey levels. The ``midpoint`` binarisation is exactly ``darkness > 0.5``.
    """
    cfg = config or SegmenterConfig()
    bg = stroke_background(grey)
    norm, darkest = _paper_ratio(grey, bg, cfg)
    return np.clip((1.0 - norm) / np.maximum(1.0 - darkest, 0.2), 0.0, 1.0).astype(np.float32)


def _paper_ratio(grey: np.ndarray, bg: np.ndarray, cfg: SegmenterConfig) -> tuple[np.ndarray, np.ndarray]:
    """``grey / paper`` (<= 1: the closing ``bg`` is never darker than the image) and its minimum
    within a window of ``window_rel`` image heights: float64 ``(H, W)`` each."""
    norm = grey.astype(np.float64) / np.maximum(bg, 1.0)
    win = odd_size(cfg.binarization.window_rel * grey.shape[0])
    return norm, cv2.erode(norm, np.ones((win, win), np.uint8), borderType=cv2.BORDER_REPLICATE)


def shift_rows(arr: np.ndarray, shift: np.ndarray, width: int) -> np.ndarray:
    """Move row ``y`` of ``arr`` ``(H, W)`` right by ``shift[y]`` into a zero ``(H, width)`` array
    (the deslanting transform of :func:`deslant`, for any dtype)."""
    h, w = arr.shape
    out = np.zeros((h, width), arr.dtype)
    for y in range(h):
        out[y, shift[y]: shift[y] + w] = arr[y]
    return out


def _otsu(values: np.ndarray) -> float:
    """Otsu's threshold of uint8-range values (any shape)."""
    v = np.clip(np.rint(values), 0, 255).astype(np.uint8).reshape(1, -1)
    thr, _ = cv2.threshold(v, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return float(thr)


def stroke_background(grey: np.ndarray) -> np.ndarray:
    """The paper level :func:`binarize` and the cleaning use: :func:`background` with a closing of
    a fifth of the field's height (wider than a pen stroke). uint8 ``(H, W) -> float (H, W)``."""
    return background(grey, kernel=odd_size(max(grey.shape[0], 8) * 0.2))


def contrast_guard(grey: np.ndarray, darker: np.ndarray, cfg: BinarizeConfig) -> float:
    """The grey levels a pixel must be darker than the paper to be ink.

    ``cfg.min_contrast``; on a faint field, ``cfg.min_contrast_rel`` times the field's contrast
    (the 99.9th percentile of ``darker``) if that is lower, but never below ``cfg.min_contrast_floor``
    nor below ``cfg.min_contrast_noise`` times the pixel noise of ``grey`` (1.4826 times the median
    absolute difference from its 3x3 median filter).

    Args:
        grey: uint8 ``(H, W)`` field.
        darker: float ``(H, W)``: the paper level minus the grey.
        cfg: a :class:`segmenter.config.BinarizeConfig`.
    """
    fixed = float(cfg.min_contrast)
    if cfg.min_contrast_rel <= 0 or darker.size == 0:
        return fixed
    field = float(np.percentile(darker, 99.9))
    if cfg.min_contrast_rel * field >= fixed:
        return fixed
    noise = 1.4826 * float(np.median(np.abs(grey.astype(np.float64) - cv2.medianBlur(grey, 3))))
    return min(fixed, max(float(cfg.min_contrast_floor), cfg.min_contrast_noise * noise,
                          cfg.min_contrast_rel * field))


def binarize(grey: np.ndarray, config: SegmenterConfig | None = None, *, method: str | None = None,
             bg: np.ndarray | None = None) -> np.ndarray:
    """Binarise a greyscale field: uint8 ``(H, W) -> bool (H, W)``, True = ink.

    Args:
        grey: uint8 ``(H, W)``, white paper, dark ink.
        config: thresholds and windows (defaults: ``SegmenterConfig()``).
        method: overrides ``config.binarization.method``.
        bg: ``stroke_background(grey)`` when the caller has it already (it is computed otherwise).
    """
    cfg = config or SegmenterConfig()
    method = method or cfg.binarization.method
    g = grey.astype(np.float64)
    h, w = grey.shape
    if method == "fixed":
        return g < cfg.binarization.fixed_threshold
    if bg is None:
        bg = stroke_background(grey)
    elif bg.shape != grey.shape:
        raise ValueError(f"[segmenter.binarize] background of shape {bg.shape} for a field of shape {grey.shape}")
    darker = bg - g
    contrast = darker >= contrast_guard(grey, darker, cfg.binarization)
    if not contrast.any():
        return contrast
    win = odd_size(cfg.binarization.window_rel * h)
    if method == "otsu":
        mask = g <= _otsu(g)
    elif method == "adaptive":
        mean = cv2.boxFilter(g, -1, (win, win), borderType=cv2.BORDER_REPLICATE)
        mask = g < mean - cfg.binarization.adaptive_offset
    elif method == "sauvola":
        mean = cv2.boxFilter(g, -1, (win, win), borderType=cv2.BORDER_REPLICATE)
        sq = cv2.boxFilter(g * g, -1, (win, win), borderType=cv2.BORDER_REPLICATE)
        std = np.sqrt(np.maximum(sq - mean * mean, 0.0))
        mask = g < mean * (1.0 + cfg.binarization.sauvola_k * (std / cfg.binarization.sauvola_r - 1.0))
    elif method == "bgnorm":
        norm = 255.0 * g / np.maximum(bg, 1.0)
        mask = norm <= _otsu(norm)
    elif method == "midpoint":
        norm, darkest = _paper_ratio(grey, bg, cfg)  # paper about 1, ink below
        mask = norm < 0.5 * (1.0 + darkest)
    else:
        raise ValueError(f"[segmenter.binarize] unknown method {method!r}")
    return mask & contrast


def remove_guide_lines(ink: np.ndarray, *, min_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove every long horizontal run, whatever its geometry, keeping the strokes that cross it.

    :func:`segmenter.lines.find_lines` then :func:`segmenter.lines.erase_line` on each run of at
    least ``min_length`` pixels (no test that it is printed; :func:`remove_printed_lines` makes one).

    Args:
        ink: bool ``(H, W)``.
        min_length: shortest run (pixels) treated as a line.

    Returns:
        ``(cleaned ink, removed pixels)``, both bool ``(H, W)``.
    """
    ink = np.asarray(ink, bool)
    removed = np.zeros_like(ink)
    for line in find_lines(ink, min_length=max(2, min_length), axis=0):
        ink, gone = erase_line(ink, line)
        removed |= gone
    return ink, removed


def remove_remnants(ink: np.ndarray, removed: np.ndarray, *, max_area: int, near_fraction: float = 0.8
                    ) -> np.ndarray:
    """Drop small components lying along removed lines (stubs left by an interrupted or slightly
    thicker line): components of fewer than ``max_area`` pixels with at least ``near_fraction`` of
    them within one pixel of a removed line pixel. bool ``(H, W) -> (H, W)``.

    The fraction was one half; the bowl of a ``5`` cut from its stem by the ruling line it sits on
    lies half along the line, and was lost (issue 16), so a stub must now lie almost all along it."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    if n <= 1:
        return ink.copy()
    near = cv2.dilate(removed.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    area = stats[:, cv2.CC_STAT_AREA]
    close = np.bincount(labels[near & ink], minlength=n)
    drop = (area < max_area) & (close >= near_fraction * area)
    drop[0] = False
    return ink & ~drop[labels]


def remove_edge_bands(ink: np.ndarray, *, band: int) -> tuple[np.ndarray, np.ndarray]:
    """Drop components lying entirely within ``band`` rows of the top or bottom edge (fragments of
    a faint frame line): bool ``(H, W) -> (cleaned, removed)``."""
    h = ink.shape[0]
    if band <= 0 or 2 * band >= h or not (ink[:band].any() or ink[h - band:].any()):
        return ink.copy(), np.zeros_like(ink)  # nothing lies within a band
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    top = stats[:, cv2.CC_STAT_TOP]
    bottom = top + stats[:, cv2.CC_STAT_HEIGHT]
    drop = (bottom <= band) | (top >= h - band)
    drop[0] = False
    gone = drop[labels] & ink
    return ink & ~gone, gone


def remove_specks(ink: np.ndarray, *, min_area: int, near: int = 0) -> np.ndarray:
    """Drop 8-connected components of fewer than ``min_area`` pixels: bool ``(H, W) -> (H, W)``.

    With ``near > 0``, a small component within ``near`` pixels (chessboard distance) of a large
    one stays: a fragment of a faint or broken pen stroke, not noise on the paper (issue 16: the
    broken strokes of pale real writing were lost as specks)."""
    if min_area <= 1 or not ink.any():
        return ink.copy()
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False
    if near > 0 and keep.any():
        side = 2 * near + 1
        zone = cv2.dilate(keep[labels].astype(np.uint8), np.ones((side, side), np.uint8)).astype(bool)
        keep[np.unique(labels[zone & ink])] = True
        keep[0] = False
    return keep[labels]


def estimate_char_height(ink: np.ndarray) -> float:
    """Character height: median height of the components at least 40% as tall as the tallest.

    Returns 0.0 for an empty mask.
    """
    if not ink.any():
        return 0.0
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    heights = stats[1:, cv2.CC_STAT_HEIGHT].astype(np.float64)
    tall = heights[heights >= 0.4 * heights.max()]
    return float(np.median(tall))


def estimate_slant(ink: np.ndarray) -> float:
    """Slant ``dx/dy`` of the ink: the mass-weighted mean over the taller connected components of
    their second-order central moment ratio ``-mu11 / mu02`` (per component, so the layout of a
    whole line, e.g. a drifting baseline, does not count as slant).

    Positive means the tops lean right (as in right-slanted handwriting); 0.0 for no ink.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    if n <= 1:
        return 0.0
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    ys, xs = np.nonzero(ink)
    lab = labels[ys, xs] - 1
    tall = heights >= 0.5 * heights.max()
    num = den = 0.0
    for c in np.flatnonzero(tall):
        sel = lab == c
        dy = ys[sel] - ys[sel].mean()
        dx = xs[sel] - xs[sel].mean()
        mu02 = float((dy * dy).sum())
        if mu02 > 0:
            # image y grows downwards: a top leaning right has x decreasing with y
            num += -float((dx * dy).sum())
            den += mu02
    return num / den if den > 0 else 0.0


def deslant(ink: np.ndarray, slant: float) -> tuple[np.ndarray, np.ndarray]:
    """Shear rows so the ink stands upright: bool ``(H, W) -> (H, W2)``, plus the per-row shift.

    Working ``x = x + shift[y]`` with ``shift >= 0``; exact (integer shifts), so every working pixel
    maps back to one input pixel.
    """
    h, w = ink.shape
    ys = np.arange(h)
    yc = (h - 1) / 2.0
    raw = np.rint(slant * (ys - yc)).astype(np.int64)  # tops (small y) lean right -> move left
    shift = raw - raw.min()
    return shift_rows(ink.astype(bool), shift, w + int(shift.max())), shift


def _is_printed(line: Line, shape: tuple[int, int], cfg: SegmenterConfig, *,
                rulings: tuple[Line, ...] = ()) -> bool:
    """Whether a long run (:func:`segmenter.lines.find_lines`) is a printed line, not a pen stroke.

    Both kinds must be straight (drift at most ``line_max_slope`` per pixel, wobble at most about a
    pixel): handwriting is seldom that straight over such a length. A horizontal ruling line must
    also be thin (``line_max_width_rel`` of the field height) unless it touches the top or bottom
    edge (a dark scanner border strip). A vertical line is a frame side or a border strip when it
    spans the field's height (to within ``border_span_rel`` of it at both ends) *and* touches its
    left or right edge (within ``border_margin_rel`` of the height), or when both its ends meet
    printed horizontal lines (``rulings``: the corners of a frame drawn inside the field). A tall
    leading ``1`` or ``7`` does neither (issue 16).
    """
    h, w = shape
    along = h if line.axis == 1 else w
    across = w if line.axis == 1 else h
    if abs(line.slope) > cfg.cleaning.line_max_slope or line.wobble > max(1.0, cfg.cleaning.line_max_wobble_rel * h):
        return False
    edge = max(2.0, cfg.cleaning.border_margin_rel * h)
    touches = line.low <= edge or line.high >= across - 1 - edge
    if line.axis == 0:
        return touches or line.width <= max(3.0, cfg.cleaning.line_max_width_rel * h)
    end = max(2.0, cfg.cleaning.border_span_rel * h)
    spans = line.start <= end and line.stop >= along - end
    corners = _meets(line, line.start, rulings) and _meets(line, line.stop - 1, rulings)
    return (spans and touches) or corners


def _meets(vertical: Line, row: int, rulings: tuple[Line, ...]) -> bool:
    """Whether row ``row`` of a vertical line (an end) lies on or beside one of the horizontal
    ``rulings``, within the ruling's extent: a corner of a frame."""
    x = float(vertical.centre[row - vertical.start])
    for r in rulings:
        if not r.start - 2 - vertical.width <= x <= r.stop + 1 + vertical.width:
            continue
        y = float(r.centre[int(np.clip(round(x), r.start, r.stop - 1)) - r.start])
        if abs(row - y) <= r.width / 2.0 + 2.0:
            return True
    return False


def remove_printed_lines(ink: np.ndarray, config: SegmenterConfig | None = None, *,
                         dark: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The line cleaning of :func:`preprocess` on a binary ink mask.

    Long horizontal runs (ruling, frame tops and bottoms) and long vertical ones (frame sides,
    scanner border strips) are found on the input (:func:`segmenter.lines.find_lines`) and removed
    only when their geometry says printed (:func:`_is_printed`); only each line's own band goes,
    and strokes crossing it stay (:func:`segmenter.lines.erase_line`). Then whatever lies entirely
    inside the top/bottom edge bands (broken frame lines, stray print) and small stubs along the
    removed lines.

    Args:
        ink: bool ``(H, W)``.
        config: ``remove_lines``, ``remove_borders`` and the lengths (relative to ``H``).
        dark: optional float ``(H, W)``: how dark each pixel is against the paper, ``1 - grey /
            background`` (not normalised locally, unlike :func:`darkness`, so one line reads the
            same along its length): lines are also looked for among the pixels at least
            ``line_find_contrast`` dark (a pale line is ink only in stretches), and pen ink clearly
            darker than a pale line (or a streak of paper texture) it lies on is kept.

    Returns:
        ``(cleaned ink, removed pixels)``, both bool ``(H, W)``.
    """
    cfg = config or SegmenterConfig()
    ink = np.asarray(ink, bool)
    h, w = ink.shape
    removed = np.zeros_like(ink)
    # all found on the input, so a frame's corners do not shorten its sides; a pale line is often
    # ink only in stretches (where no darker pen is near), so lines are looked for in all contrast
    loose = ink if dark is None else ink | (dark >= cfg.cleaning.line_find_contrast)
    rulings: tuple[Line, ...] = ()
    verticals: list[Line] = []
    if cfg.cleaning.remove_lines:
        length = max(cfg.cleaning.line_min_px, int(round(cfg.cleaning.line_min_rel * h)))
        length = min(length, max(3, int(round(cfg.cleaning.line_span_rel * w))))
        found = find_lines(loose, min_length=length, axis=0)
        rulings = tuple(line for line in found if _is_printed(line, (h, w), cfg))
    if cfg.cleaning.remove_borders:
        found = find_lines(loose, min_length=max(3, int(round(cfg.cleaning.border_min_rel * h))), axis=1)
        verticals = [line for line in found if _is_printed(line, (h, w), cfg, rulings=rulings)]
    for line in (*rulings, *verticals):
        ink, gone = erase_line(ink, line, dark=dark)
        removed |= gone
    if cfg.cleaning.remove_borders:
        ink, gone = remove_edge_bands(ink, band=int(round(cfg.cleaning.edge_band_rel * h)))
        removed |= gone
    if removed.any() and cfg.cleaning.remnant_rel_area > 0:
        kept = remove_remnants(ink, removed, max_area=int(round(cfg.cleaning.remnant_rel_area * h * h)))
        removed |= ink & ~kept
        ink = kept
    return ink, removed


def content_box(grey: np.ndarray, config: SegmenterConfig | None = None, *,
                binary: np.ndarray | None = None) -> tuple[int, int, int, int]:
    """Where the writing sits: the window ``(y0, y1, x0, x1)`` of a uint8 ``(H, W)`` field to clean.

    The field is binarised and cleaned of printed lines at the scale of the whole image; the box of
    the remaining components (those of at least 1% of the largest one's area, so a stray speck far
    away does not count), widened by ``content_pad_rel`` of its height and to at least
    ``content_min_px`` pixels each way (a lone dot is not blown up to the field's scale), is
    returned when it is clearly smaller than the image (below ``content_crop_rel`` of its height or
    width), else the whole image. Every length of the cleaning is relative to the field's height,
    so a field with wide margins must be cleaned inside this window, not at the scale of the
    margins (issue 16: 400 px of white around a field turned its digits into specks).

    ``binary``, when given, is ``binarize(grey, config)`` computed by the caller.
    """
    cfg = config or SegmenterConfig()
    h, w = grey.shape
    whole = (0, h, 0, w)
    if not cfg.cleaning.crop_content:
        return whole
    ink, _ = remove_printed_lines(binarize(grey, cfg) if binary is None else binary, cfg)
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    if n <= 1:
        return whole
    area = stats[1:, cv2.CC_STAT_AREA]
    keep = area >= max(cfg.cleaning.speck_min_px, 0.01 * area.max())
    st = stats[1:][keep]
    if st.shape[0] == 0:  # only specks: nothing to crop to
        return whole
    y0, x0 = int(st[:, cv2.CC_STAT_TOP].min()), int(st[:, cv2.CC_STAT_LEFT].min())
    y1 = int((st[:, cv2.CC_STAT_TOP] + st[:, cv2.CC_STAT_HEIGHT]).max())
    x1 = int((st[:, cv2.CC_STAT_LEFT] + st[:, cv2.CC_STAT_WIDTH]).max())
    pad = max(2, int(round(cfg.cleaning.content_pad_rel * (y1 - y0))))
    ya, yb = _widen(y0 - pad, y1 + pad, cfg.cleaning.content_min_px, h)
    xa, xb = _widen(x0 - pad, x1 + pad, cfg.cleaning.content_min_px, w)
    box = (ya, yb, xa, xb)
    if box[1] - box[0] < cfg.cleaning.content_crop_rel * h or box[3] - box[2] < cfg.cleaning.content_crop_rel * w:
        return box
    return whole


def _widen(a: int, b: int, least: int, size: int) -> tuple[int, int]:
    """The interval ``[a, b)`` clipped to ``[0, size)`` and widened about its middle to at least
    ``least`` (or ``size``) pixels."""
    a, b = max(0, a), min(size, b)
    short = min(least, size) - (b - a)
    if short > 0:
        a = max(0, a - (short + 1) // 2)
        b = min(size, a + max(least, b - a))
        a = max(0, b - min(least, size))
    return a, b


def _clean(grey: np.ndarray, cfg: SegmenterConfig, *, depth: int = 0
           ) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """Binarise and clean ``grey`` ``(H, W)`` inside its :func:`content_box` (found again inside the
    window, at most three times: a grey field pasted on white paper is found first, then its ink).

    Returns:
        ``(ink, removed, box)``: bool ``(H, W)`` each, and the window that was cleaned.
    """
    h, w = grey.shape
    bg = stroke_background(grey)
    binary = binarize(grey, cfg, bg=bg)  # the same mask for the box and, uncropped, the cleaning
    y0, y1, x0, x1 = content_box(grey, cfg, binary=binary) if depth < 3 else (0, h, 0, w)
    if (y0, y1, x0, x1) != (0, h, 0, w):
        sub_ink, sub_removed, (a, b, c, d) = _clean(grey[y0:y1, x0:x1], cfg, depth=depth + 1)
        ink = np.zeros((h, w), bool)
        removed = np.zeros((h, w), bool)
        ink[y0:y1, x0:x1] = sub_ink
        removed[y0:y1, x0:x1] = sub_removed
        return ink, removed, (y0 + a, y0 + b, x0 + c, x0 + d)
    contrast = 1.0 - grey.astype(np.float64) / np.maximum(bg, 1.0)  # 0 paper .. 1 black
    ink, removed = remove_printed_lines(binary, cfg, dark=contrast)
    min_area = max(cfg.cleaning.speck_min_px, int(round(cfg.cleaning.speck_rel_area * h * h)))
    near = int(round(cfg.cleaning.speck_near_rel * h))
    return remove_specks(ink, min_area=min_area, near=near), removed, (0, h, 0, w)


def light_ink(grey: np.ndarray, *, min_contrast: float = 40.0) -> bool:
    """Whether a uint8 ``(H, W)`` field holds light ink on dark paper.

    The paper is the field's majority level and also what its outer frame shows; the ink is the
    minority. Light ink when both the median of the whole field and the median of its one-pixel
    frame (the paper level, two ways) lie at least ``min_contrast`` grey levels below the 99th
    percentile (the lightest ink) and more than twice as far from it as from the 1st percentile.
    Requiring both keeps dark ink read as it is on a field whose ink covers most of it (the frame
    is still light paper) and on one with a dark scanner border along half its frame (most of the
    field is still light paper).
    """
    lo, hi = (float(v) for v in np.percentile(grey, [1, 99]))
    frame = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])

    def dark_paper(paper: float) -> bool:
        return hi - paper >= min_contrast and hi - paper > 2.0 * (paper - lo)

    return dark_paper(float(np.median(grey))) and dark_paper(float(np.median(frame)))


def clean_field(image, config: SegmenterConfig | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """The cleaning steps of :func:`preprocess` alone (no deslanting, height estimate or grey
    pieces): ``(grey, ink, removed lines, box)``, uint8 / bool / bool ``(H, W)`` and the window that
    was cleaned (``Preprocessed.box``).

    Raises:
        ValueError: empty or malformed image, or more than ``config.max_pixels`` pixels.
    """
    cfg = config or SegmenterConfig()
    arr = np.asarray(image) if not hasattr(image, "detach") else image
    size = int(np.prod(arr.shape[:2])) if len(arr.shape) >= 2 else 0
    if size > cfg.max_pixels:
        raise ValueError(
            f"[segmenter.preprocess] image of shape {tuple(arr.shape)} has {size} pixels, more than "
            f"max_pixels={cfg.max_pixels}; crop the field or raise SegmenterConfig.max_pixels"
        )
    grey = to_grey(image, where="segmenter.preprocess")
    if cfg.cleaning.invert_light_ink and light_ink(grey):
        grey = 255 - grey
    ink, removed, box = _clean(grey, cfg)
    return grey, ink, removed, box


def preprocess(image, config: SegmenterConfig | None = None) -> Preprocessed:
    """Turn a field image into a clean ink mask (docs/paper.md Sec. V's input).

    Steps: greyscale (light ink on dark paper inverted, :func:`light_ink`); find where the writing
    sits (:func:`content_box`, so wide margins do not change any relative length) and, inside that
    window: binarise (``config.binarization.method``); remove
    printed horizontal and vertical lines and scanner border strips, keeping the strokes that cross
    them (:func:`remove_printed_lines`), whatever lies entirely within the top/bottom edge bands and
    small stubs along removed lines; drop specks. Optionally deslant.

    Args:
        image: field image ``(H, W)`` (see :func:`to_grey` for accepted types).
        config: :class:`SegmenterConfig`.

    Returns:
        :class:`Preprocessed`.

    Raises:
        ValueError: empty or malformed image, or more than ``config.max_pixels`` pixels.
    """
    cfg = config or SegmenterConfig()
    grey, ink, removed, box = clean_field(image, cfg)
    h, w = grey.shape
    shift = np.zeros(h, np.int64)
    slant = 0.0
    if cfg.cleaning.deslant and ink.any():
        slant = float(np.clip(estimate_slant(ink), -cfg.cleaning.max_slant, cfg.cleaning.max_slant))
        ink, shift = deslant(ink, slant)
    char_height = estimate_char_height(ink)
    if char_height > 0:
        char_height = max(char_height, cfg.cleaning.min_char_rel * (box[1] - box[0]))
    dark = None
    if cfg.pieces.grey_pieces:
        y0, y1, x0, x1 = box
        dark = np.zeros((h, w), np.float32)
        dark[y0:y1, x0:x1] = darkness(grey[y0:y1, x0:x1], cfg)
        dark[removed] = 0.0
        if shift.any():
            dark = shift_rows(dark, shift, ink.shape[1])
    return Preprocessed(grey=grey, ink=ink, shift=shift, slant=slant, char_height=char_height,
                        lines=removed, darkness=dark, box=box)
