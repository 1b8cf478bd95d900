"""Draw the pictures of docs/gtn.md (docs/img/gtn_*.png) with gtn.draw. Usage: python docs/make_figures.py"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gtn  # noqa: E402


def main() -> int:
    out = ROOT / "docs" / "img"
    out.mkdir(parents=True, exist_ok=True)
    g = gtn.Graph.from_str("0\n3\n0 1 1 0.5\n1 3 2 0.25\n0 2 1 1\n2 3 1 0\n")  # reads "1 2" or "1 1"
    b = gtn.Graph.from_str("0\n1\n0 0 1 1 0.5\n0 1 2 2 0.25\n", acyclic=False)  # 1* then 2
    c, _ = gtn.compose(g, b)
    for name, graph in (("gtn_g", g), ("gtn_b", b), ("gtn_c", c)):
        graph.draw(out / f"{name}.png")
    print(f"wrote {out}/gtn_g.png, gtn_b.png, gtn_c.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
