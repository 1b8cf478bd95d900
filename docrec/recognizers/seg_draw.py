"""Pictures of a segmentation-based recognition (``docrec recognize --system seg --draw OUT.png``).

Top panel: the field with the segmenter's cuts (colour = cut kind, :mod:`segmenter.draw`) and the
boxes of the pieces on the chosen path, each labelled with its character. Bottom panel: the
interpretation graph (docs/paper.md Fig. 19): nodes are the cuts at their x position, every segmentation
arc is drawn once with its best character and penalty; the chosen path is red.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from data.atomic import atomic_write
from decoders import Grammar, decode
from segmenter.draw import draw_cuts


def chosen_path(recognizer, detail, text: str) -> list[int]:
    """Segmentation arcs read as ``text`` on the best path spelling it (empty if none)."""

    if detail.graph is None or not text:
        return []
    res = decode(detail.graph, Grammar.lexicon([text]))[0]
    if res.rejected:
        return []
    return [int(detail.arc_map[a]) for span in res.spans for a in span.arcs]


def draw_recognition(recognizer, image, result, out_png: str | os.PathLike) -> Path:
    """Write the two-panel picture of ``result`` (a :class:`Recognition` of ``image``) to ``out_png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch

    _, detail = recognizer.recognize_detailed([image], grammar=None)[0]
    if detail is None:
        raise ValueError(f"[docrec.SegmentationRecognizer.draw] cannot draw: {result.reason}")
    seg = detail.segmentation
    path = chosen_path(recognizer, detail, result.text)
    h, w = seg.prep.grey.shape
    scale = max(1, int(round(96 / max(h, 1))))
    rgb = draw_cuts(image, seg, path=path, scale=scale)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(6.0, w * scale / 60), 6.5),
                                   gridspec_kw={"height_ratios": [1, 1.2]})
    ax1.imshow(rgb, interpolation="nearest")
    title = "rejected: " + result.reason if result.rejected and not result.text else (
        f"read {result.text!r}  confidence {result.confidence:.3f}" + ("  (rejected)" if result.rejected else ""))
    ax1.set_title(title, fontsize=10)
    ax1.axis("off")
    for k, a in enumerate(path):
        x0, y0, _, _ = seg.boxes[a]
        if k < len(result.text):
            ax1.text(x0 * scale, y0 * scale - 2, result.text[k], color="red", fontsize=12, va="bottom")
    if detail.graph is not None:
        _draw_graph(ax2, detail, seg, path, FancyArrowPatch)
    ax2.set_title("interpretation graph: best character and penalty per piece (red: chosen path)",
                  fontsize=9)
    fig.tight_layout()
    out = atomic_write(out_png, lambda tmp: fig.savefig(tmp, dpi=100, format="png"), suffix=".png")
    plt.close(fig)
    return out


def _draw_graph(ax, detail, seg, path, arrow_cls) -> None:
    g = detail.graph
    src = seg.graph.src.numpy()
    dst = seg.graph.dst.numpy()
    K = g.num_arcs // max(seg.num_arcs, 1)
    pen = g.penalty.detach().reshape(seg.num_arcs, K).numpy()
    labels = g.olabel.reshape(seg.num_arcs, K).numpy()
    xs = np.array([float(np.mean(line)) for line in seg.cut_lines()])
    on_path = set(path)
    for a in range(seg.num_arcs):
        i, j = int(src[a]), int(dst[a])
        best = int(np.argmin(pen[a]))
        chosen = a in on_path
        rad = -0.25 * (j - i)
        ax.add_patch(arrow_cls((xs[i], 0), (xs[j], 0), connectionstyle=f"arc3,rad={rad}",
                               arrowstyle="-|>", mutation_scale=8, lw=2.0 if chosen else 0.6,
                               color="red" if chosen else "0.55", zorder=3 if chosen else 1))
        mid = 0.5 * (xs[i] + xs[j])
        height = 0.5 * rad * (xs[j] - xs[i]) * -1
        ch = "0123456789,.-$*/"[int(labels[a, best])]
        ax.text(mid, height, f"{ch}:{pen[a, best]:.1f}", fontsize=6, ha="center", va="bottom",
                color="red" if chosen else "0.3")
    ax.plot(xs, np.zeros_like(xs), "o", color="black", ms=3, zorder=4)
    span = max(xs.max() - xs.min(), 1.0) if xs.size else 1.0
    ax.set_xlim(xs.min() - 0.05 * span, xs.max() + 0.05 * span)
    ax.set_ylim(-0.05 * span, 0.6 * span)
    ax.set_aspect("auto")
    ax.axis("off")
