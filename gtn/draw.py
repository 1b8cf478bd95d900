"""Inspection: networkx conversion, Graphviz DOT text, and a PNG drawing of a graph.

Not a hot path (docs/design.md: networkx is for conversion, inspection and drawing). The PNG is rendered by
Graphviz ``dot`` when it is installed, else by matplotlib with nodes placed left to right by level.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

from gtn.graph import EPSILON, Graph


def _name(label: int, symbols: Sequence[str] | None) -> str:
    if label == EPSILON:
        return "ε"
    if symbols is not None and 0 <= label < len(symbols):
        return str(symbols[label])
    return str(label)


def arc_text(g: Graph, a: int, *, isymbols=None, osymbols=None, digits: int = 3) -> str:
    """``"i:o/penalty"`` (``"l/penalty"`` for ilabel == olabel) of arc ``a``."""
    i, o = int(g.ilabel[a]), int(g.olabel[a])
    osymbols = isymbols if osymbols is None else osymbols
    lab = _name(i, isymbols) if i == o and isymbols is osymbols else f"{_name(i, isymbols)}:{_name(o, osymbols)}"
    return f"{lab}/{float(g.penalty[a]):.{digits}g}"


def to_networkx(g: Graph):
    """A ``networkx.MultiDiGraph``: node attributes ``start``, ``final``, ``graph``; edge attributes
    ``arc`` (id), ``ilabel``, ``olabel``, ``penalty`` (float). Works for batches (disjoint union)."""
    import networkx as nx

    out = nx.MultiDiGraph()
    starts, finals = set(g.starts.tolist()), set(g.finals.tolist())
    for v, b in enumerate(g.node_batch.tolist()):
        out.add_node(v, start=v in starts, final=v in finals, graph=b)
    pen = g.penalty.detach().double().tolist()
    for a, (s, d, i, o) in enumerate(zip(g.src.tolist(), g.dst.tolist(), g.ilabel.tolist(), g.olabel.tolist())):
        out.add_edge(s, d, key=a, arc=a, ilabel=i, olabel=o, penalty=pen[a])
    return out


def to_dot(g: Graph, *, isymbols: Sequence[str] | None = None, osymbols: Sequence[str] | None = None,
           title: str | None = None) -> str:
    """Graphviz DOT text (left to right; start bold, final double circle; arcs ``i:o/penalty``)."""
    starts, finals = set(g.starts.tolist()), set(g.finals.tolist())
    lines = ["digraph gtn {", "  rankdir=LR;", '  node [shape=circle, fontsize=11];']
    if title:
        lines.append(f'  label="{_escape(title)}";')
    for v in range(g.num_nodes):
        attrs = ["shape=doublecircle"] if v in finals else []
        if v in starts:
            attrs.append("penwidth=2.5")
        lines.append(f"  {v}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    for a, (s, d) in enumerate(zip(g.src.tolist(), g.dst.tolist())):
        lines.append(f'  {s} -> {d} [label="{_escape(arc_text(g, a, isymbols=isymbols, osymbols=osymbols))}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def draw(g: Graph, path: str | os.PathLike, *, isymbols: Sequence[str] | None = None,
         osymbols: Sequence[str] | None = None, title: str | None = None, engine: str = "auto") -> Path:
    """Draw a graph to a PNG file.

    Args:
        g: graph or batch.
        path: output ``.png`` path.
        isymbols, osymbols: optional label names.
        title: optional caption.
        engine: ``"dot"`` (Graphviz, must be installed), ``"matplotlib"``, or ``"auto"`` (dot if found).

    Returns:
        the path written.
    """
    path = Path(path)
    if engine not in ("auto", "dot", "matplotlib"):
        raise ValueError(f"[gtn.draw] engine must be 'auto', 'dot' or 'matplotlib', got {engine!r}")
    dot = shutil.which("dot")
    if engine == "dot" and dot is None:
        raise ValueError("[gtn.draw] engine='dot' but Graphviz 'dot' is not installed")
    if dot is not None and engine != "matplotlib":
        with tempfile.NamedTemporaryFile("w", suffix=".dot", delete=False) as f:
            f.write(to_dot(g, isymbols=isymbols, osymbols=osymbols, title=title))
        try:
            subprocess.run([dot, "-Tpng", f.name, "-o", str(path)], check=True, capture_output=True)
        finally:
            os.unlink(f.name)
        return path
    _draw_matplotlib(g, path, isymbols=isymbols, osymbols=osymbols, title=title)
    return path


def _draw_matplotlib(g: Graph, path: Path, *, isymbols, osymbols, title) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch

    level = g.levels().tolist() if g.acyclic else list(range(g.num_nodes))
    rows: dict[int, int] = {}
    pos = {}
    for v in range(g.num_nodes):  # stack nodes of the same level vertically, batches below each other
        key = level[v]
        pos[v] = (key, -rows.get(key, 0) - 1.5 * int(g.node_batch[v]))
        rows[key] = rows.get(key, 0) + 1
    width = max(4.0, 1.6 * (max(level, default=0) + 1))
    height = max(2.5, 1.0 * (max(rows.values(), default=1) + 1.5 * (g.batch_size - 1)))
    fig, ax = plt.subplots(figsize=(min(width, 40), min(height, 30)))
    starts, finals = set(g.starts.tolist()), set(g.finals.tolist())
    seen: dict[tuple[int, int], int] = {}
    for a, (s, d) in enumerate(zip(g.src.tolist(), g.dst.tolist())):
        k = seen.get((s, d), 0)
        seen[(s, d)] = k + 1
        rad = 0.25 * ((k + 1) // 2) * (1 if k % 2 else -1) if k else 0.0
        (x0, y0), (x1, y1) = pos[s], pos[d]
        if s == d:
            style, rad = "arc3,rad=2.5", 2.5
            x1 += 0.01
        else:
            style = f"arc3,rad={rad}"
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), connectionstyle=style, arrowstyle="-|>",
                                     mutation_scale=10, shrinkA=11, shrinkB=11, lw=0.8, color="0.3"))
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2 + rad * abs(x1 - x0) / 2 + (0.3 if s == d else 0)
        ax.text(mx, my, arc_text(g, a, isymbols=isymbols, osymbols=osymbols), fontsize=7, ha="center",
                va="center", bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8))
    for v, (x, y) in pos.items():
        ax.scatter([x], [y], s=380, c="white", edgecolors="black", linewidths=2.5 if v in starts else 1.0, zorder=3)
        if v in finals:
            ax.scatter([x], [y], s=230, c="white", edgecolors="black", linewidths=1.0, zorder=4)
        ax.text(x, y, str(v), ha="center", va="center", fontsize=8, zorder=5)
    ax.set_axis_off()
    ax.margins(0.15)
    if title:
        ax.set_title(title)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
