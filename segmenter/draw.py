"""Pictures of a segmentation for inspection: the cuts over the image, and the normalised pieces."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from segmenter.graph import Segmentation
from segmenter.preprocess import to_grey

#: RGB colours of the drawing.
CUT_COLOURS = {  # by cut kind (segmenter.cuts.CUT_KINDS)
    0: (0, 0, 0),        # end
    1: (0, 160, 0),      # gap
    2: (0, 170, 200),    # component
    3: (220, 0, 0),      # projection
    4: (230, 120, 0),    # contour
    5: (150, 0, 200),    # path
    6: (0, 90, 255),     # split
    7: (200, 0, 90),     # valley
}
INK = (40, 40, 160)
LINES = (255, 170, 230)
BOX = (0, 120, 255)


def draw_cuts(image, seg: Segmentation, *, path: Sequence[int] | None = None, scale: int = 1
              ) -> np.ndarray:
    """Draw the cuts (and optionally the boxes of a chosen path) over a field image.

    The kept ink is drawn dark blue, the removed guide lines/borders pink, each cut as a line
    coloured by its kind (:data:`CUT_COLOURS`; slanted when the field was deslanted), and the boxes of
    the arcs in ``path`` as rectangles.

    Args:
        image: the field given to :func:`segmenter.segment`, ``(H, W)``.
        seg: its :class:`Segmentation`.
        path: arc indices (e.g. the Viterbi path mapped back to segmentation arcs).
        scale: integer magnification (nearest neighbour) for readability.

    Returns:
        uint8 RGB ``(H * scale, W * scale, 3)``.
    """
    grey = to_grey(image, where="segmenter.draw_cuts")
    if grey.shape != seg.prep.grey.shape:
        raise ValueError(f"[segmenter.draw_cuts] image shape {grey.shape} differs from the "
                         f"segmented field's {seg.prep.grey.shape}")
    if scale < 1:
        raise ValueError(f"[segmenter.draw_cuts] scale={scale} must be >= 1")
    h, w = grey.shape
    light = (155 + grey.astype(np.float64) * 100 / 255).astype(np.uint8)  # faded original
    rgb = np.repeat(light[:, :, None], 3, axis=2)
    rgb[seg.prep.lines] = LINES
    ys, xs = np.nonzero(seg.prep.ink)
    xs = xs - seg.prep.shift[ys]
    inside = (xs >= 0) & (xs < w)
    rgb[ys[inside], xs[inside]] = INK
    if scale > 1:
        rgb = np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)
    rows = np.arange(h * scale)
    for cut_path, kind in zip(seg.cuts.paths, seg.cuts.kind):
        col = (cut_path[rows // scale] - seg.prep.shift[rows // scale]) * scale - (1 if scale > 1 else 0)
        ok = (col >= 0) & (col < w * scale)
        rgb[rows[ok], col[ok]] = CUT_COLOURS[int(kind)]
    for arc in path or ():
        x0, y0, x1, y1 = (int(v) * scale for v in seg.boxes[int(arc)])
        x1, y1 = min(x1, w * scale) - 1, min(y1, h * scale) - 1
        rgb[y0, x0: x1 + 1] = BOX
        rgb[y1, x0: x1 + 1] = BOX
        rgb[y0: y1 + 1, x0] = BOX
        rgb[y0: y1 + 1, x1] = BOX
    return rgb


def draw_pieces(seg: Segmentation, *, columns: int = 12, scale: int = 2) -> np.ndarray:
    """Tile the normalised pieces (arc payloads) into one uint8 grey image, ink dark.

    Returns:
        uint8 ``(rows * 33 * scale, columns * 33 * scale)`` (one white pixel between tiles).
    """
    data = seg.graph.data
    if data is None or data.shape[0] == 0:
        return np.full((33 * scale, 33 * scale), 255, np.uint8)
    x = data[:, 0].numpy()
    lo, hi = x.min(), x.max()
    tiles = 255 - np.rint(255 * (x - lo) / max(hi - lo, 1e-6)).astype(np.uint8)
    n, s = tiles.shape[0], tiles.shape[1]
    rows = (n + columns - 1) // columns
    out = np.full((rows * (s + 1), columns * (s + 1)), 255, np.uint8)
    for k in range(n):
        r, c = divmod(k, columns)
        out[r * (s + 1): r * (s + 1) + s, c * (s + 1): c * (s + 1) + s] = tiles[k]
    return np.repeat(np.repeat(out, scale, axis=0), scale, axis=1)
