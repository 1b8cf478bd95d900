"""Field-image preprocessing: greyscale, binarisation, guide-line/border/speck removal, deslanting.

The output is a boolean ink mask ``(H, W')`` (True = ink) plus what is needed to map it back to the
input image (PAPER.md Sec. V takes a clean binary field for granted; real fields need this step).

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
instead of noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segmenter.config import SegmenterConfig


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
    """

    grey: np.ndarray
    ink: np.ndarray
    shift: np.ndarray
    slant: float
    char_height: float
    lines: np.ndarray
    darkness: np.ndarray | None = None


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


def _odd(n: float, minimum: int = 3) -> int:
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
    bg = background(grey, kernel=_odd(max(grey.shape[0], 8) * 0.2))
    norm, darkest = _paper_ratio(grey, bg, cfg)
    return np.clip((1.0 - norm) / np.maximum(1.0 - darkest, 0.2), 0.0, 1.0).astype(np.float32)


def _paper_ratio(grey: np.ndarray, bg: np.ndarray, cfg: SegmenterConfig) -> tuple[np.ndarray, np.ndarray]:
    """``grey / paper`` (<= 1: the closing ``bg`` is never darker than the image) and its minimum
    within a window of ``window_rel`` image heights: float64 ``(H, W)`` each."""
    norm = grey.astype(np.float64) / np.maximum(bg, 1.0)
    win = _odd(cfg.window_rel * grey.shape[0])
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


def binarize(grey: np.ndarray, config: SegmenterConfig | None = None, *, method: str | None = None
             ) -> np.ndarray:
    """Binarise a greyscale field: uint8 ``(H, W) -> bool (H, W)``, True = ink.

    Args:
        grey: uint8 ``(H, W)``, white paper, dark ink.
        config: thresholds and windows (defaults: ``SegmenterConfig()``).
        method: overrides ``config.binarize``.
    """
    cfg = config or SegmenterConfig()
    method = method or cfg.binarize
    g = grey.astype(np.float64)
    h, w = grey.shape
    if method == "fixed":
        return g < cfg.fixed_threshold
    stroke_kernel = _odd(max(h, 8) * 0.2)
    bg = background(grey, kernel=stroke_kernel)
    contrast = (bg - g) >= cfg.min_contrast
    if not contrast.any():
        return contrast
    win = _odd(cfg.window_rel * h)
    if method == "otsu":
        mask = g <= _otsu(g)
    elif method == "adaptive":
        mean = cv2.boxFilter(g, -1, (win, win), borderType=cv2.BORDER_REPLICATE)
        mask = g < mean - cfg.adaptive_offset
    elif method == "sauvola":
        mean = cv2.boxFilter(g, -1, (win, win), borderType=cv2.BORDER_REPLICATE)
        sq = cv2.boxFilter(g * g, -1, (win, win), borderType=cv2.BORDER_REPLICATE)
        std = np.sqrt(np.maximum(sq - mean * mean, 0.0))
        mask = g < mean * (1.0 + cfg.sauvola_k * (std / cfg.sauvola_r - 1.0))
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
    """Remove long horizontal lines, then restore the strokes that cross them.

    A line is found by a morphological opening with a ``1 x min_length`` kernel of the ink dilated
    by one pixel vertically (so a slightly tilted, stair-stepped line still has long runs), masked
    back to the ink. Its pixels are removed, except where ink lies directly above *and* below the
    line's band in the same column (a stroke crossing the line), restored by a vertical closing
    as tall as the line is thick.

    Args:
        ink: bool ``(H, W)``.
        min_length: shortest run (pixels) treated as a line.

    Returns:
        ``(cleaned ink, removed pixels)``, both bool ``(H, W)``.
    """
    h, w = ink.shape
    if min_length > w or not ink.any():
        return ink.copy(), np.zeros_like(ink)
    u8 = ink.astype(np.uint8)
    grown = cv2.dilate(u8, np.ones((3, 1), np.uint8))
    line = cv2.morphologyEx(grown, cv2.MORPH_OPEN, np.ones((1, min_length), np.uint8)).astype(bool) & ink
    if not line.any():
        return ink.copy(), line
    thick = int(_max_vertical_run(line))
    rest = ink & ~line
    kernel = np.ones((thick + 2, 1), np.uint8)
    bridged = cv2.morphologyEx(rest.astype(np.uint8), cv2.MORPH_CLOSE, kernel).astype(bool)
    keep = line & bridged
    return rest | keep, line & ~keep


def _max_vertical_run(mask: np.ndarray) -> int:
    """Longest run of True down any column of a bool ``(H, W)`` mask."""
    run = np.zeros(mask.shape[1], np.int64)
    best = 0
    for row in mask:
        run = np.where(row, run + 1, 0)
        best = max(best, int(run.max()))
    return best


def remove_borders(ink: np.ndarray, *, min_length: int, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove vertical frame lines (runs of at least ``min_length``) within ``margin`` of the left
    or right edge: bool ``(H, W) -> (cleaned, removed)``."""
    h, w = ink.shape
    if min_length > h or not ink.any():
        return ink.copy(), np.zeros_like(ink)
    u8 = ink.astype(np.uint8)
    grown = cv2.dilate(u8, np.ones((1, 3), np.uint8))
    line = cv2.morphologyEx(grown, cv2.MORPH_OPEN, np.ones((min_length, 1), np.uint8)).astype(bool) & ink
    near = np.zeros(w, bool)
    near[: max(margin, 1)] = True
    near[w - max(margin, 1):] = True
    line &= near[None, :]
    return ink & ~line, line


def remove_remnants(ink: np.ndarray, removed: np.ndarray, *, max_area: int) -> np.ndarray:
    """Drop small components lying mostly along removed lines (stubs left by an interrupted or
    slightly thicker line): components of fewer than ``max_area`` pixels with at least half of
    them within one pixel of a removed line pixel. bool ``(H, W) -> (H, W)``."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    if n <= 1:
        return ink.copy()
    near = cv2.dilate(removed.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    area = stats[:, cv2.CC_STAT_AREA]
    close = np.bincount(labels[near & ink], minlength=n)
    drop = (area < max_area) & (2 * close >= area)
    drop[0] = False
    return ink & ~drop[labels]


def remove_edge_bands(ink: np.ndarray, *, band: int) -> tuple[np.ndarray, np.ndarray]:
    """Drop components lying entirely within ``band`` rows of the top or bottom edge (fragments of
    a faint frame line): bool ``(H, W) -> (cleaned, removed)``."""
    h = ink.shape[0]
    if band <= 0 or 2 * band >= h or not ink.any():
        return ink.copy(), np.zeros_like(ink)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    top = stats[:, cv2.CC_STAT_TOP]
    bottom = top + stats[:, cv2.CC_STAT_HEIGHT]
    drop = (bottom <= band) | (top >= h - band)
    drop[0] = False
    gone = drop[labels] & ink
    return ink & ~gone, gone


def remove_specks(ink: np.ndarray, *, min_area: int) -> np.ndarray:
    """Drop 8-connected components of fewer than ``min_area`` pixels: bool ``(H, W) -> (H, W)``."""
    if min_area <= 1 or not ink.any():
        return ink.copy()
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
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


def remove_printed_lines(ink: np.ndarray, config: SegmenterConfig | None = None
                         ) -> tuple[np.ndarray, np.ndarray]:
    """The line cleaning of :func:`preprocess` on a binary ink mask: vertical frame lines near the
    left/right edges, long horizontal guide and frame lines (restoring crossing strokes), whatever
    lies entirely inside the top/bottom edge bands, and small stubs along the removed lines.

    Args:
        ink: bool ``(H, W)``.
        config: ``remove_borders``, ``remove_lines`` and the lengths (relative to ``H``).

    Returns:
        ``(cleaned ink, removed pixels)``, both bool ``(H, W)``.
    """
    cfg = config or SegmenterConfig()
    h, w = ink.shape
    removed = np.zeros_like(ink)
    if cfg.remove_borders:  # first, so a frame's corners do not shorten its sides
        length = max(3, int(round(cfg.border_min_rel * h)))
        margin = int(round(cfg.border_margin_rel * h))
        ink, gone = remove_borders(ink, min_length=length, margin=margin)
        removed |= gone
    if cfg.remove_lines:
        length = max(cfg.line_min_px, int(round(cfg.line_min_rel * h)))
        length = min(length, max(3, int(round(cfg.line_span_rel * w))))
        ink, gone = remove_guide_lines(ink, min_length=length)
        removed |= gone
    if cfg.remove_borders:
        ink, gone = remove_edge_bands(ink, band=int(round(cfg.edge_band_rel * h)))
        removed |= gone
    if removed.any() and cfg.remnant_rel_area > 0:
        ink = remove_remnants(ink, removed, max_area=int(round(cfg.remnant_rel_area * h * h)))
    return ink, removed


def preprocess(image, config: SegmenterConfig | None = None) -> Preprocessed:
    """Turn a field image into a clean ink mask (PAPER.md Sec. V's input).

    Steps: greyscale; binarise (``config.binarize``); remove vertical frame lines near the left and
    right edges, then horizontal guide lines (restoring crossing strokes), then whatever lies
    entirely within the top/bottom edge bands (broken frame lines) and small stubs along removed
    lines; drop specks; optionally deslant.

    Args:
        image: field image ``(H, W)`` (see :func:`to_grey` for accepted types).
        config: :class:`SegmenterConfig`.

    Returns:
        :class:`Preprocessed`.

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
    h, w = grey.shape
    ink, removed = remove_printed_lines(binarize(grey, cfg), cfg)
    min_area = max(cfg.speck_min_px, int(round(cfg.speck_rel_area * h * h)))
    ink = remove_specks(ink, min_area=min_area)
    shift = np.zeros(h, np.int64)
    slant = 0.0
    if cfg.deslant and ink.any():
        slant = float(np.clip(estimate_slant(ink), -cfg.max_slant, cfg.max_slant))
        ink, shift = deslant(ink, slant)
    char_height = estimate_char_height(ink)
    if char_height > 0:
        char_height = max(char_height, cfg.min_char_rel * h)
    dark = None
    if cfg.grey_pieces:
        dark = np.where(removed, 0.0, darkness(grey, cfg)).astype(np.float32)
        if shift.any():
            dark = shift_rows(dark, shift, ink.shape[1])
    return Preprocessed(grey=grey, ink=ink, shift=shift, slant=slant, char_height=char_height,
                        lines=removed, darkness=dark)
