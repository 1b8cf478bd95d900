"""A graph as plain Python lists: what a grammar automaton is written to before it becomes a gtn.Graph."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from gtn.graph import EPSILON as EPS


@dataclass
class ArcList:
    """A graph as plain lists (what ``gtn.Graph`` is built from). Acceptor: one label per arc."""

    src: list[int]
    dst: list[int]
    label: list[int]
    penalty: list[float]
    num_nodes: int
    start: int
    final: int
    acyclic: bool = True

    def accepts(self, labels: Sequence[int]) -> float | None:
        """Lowest penalty of a path spelling ``labels`` (epsilon arcs skipped), or ``None``.

        A plain reference implementation for tests (works on cyclic lists too): position by position,
        epsilon arcs relaxed to a fixpoint within a position.
        """
        out: dict[int, list[int]] = {}
        for a, s in enumerate(self.src):
            out.setdefault(s, []).append(a)
        layer = {self.start: 0.0}
        for pos in range(len(labels) + 1):
            changed = True
            while changed:  # epsilon closure (no epsilon cycles in grammars: they only enter the final)
                changed = False
                for n, cur in list(layer.items()):
                    for a in out.get(n, []):
                        if self.label[a] == EPS:
                            d, val = self.dst[a], cur + self.penalty[a]
                            if d not in layer or val < layer[d] - 1e-12:
                                layer[d] = val
                                changed = True
            if pos == len(labels):
                break
            nxt: dict[int, float] = {}
            for n, cur in layer.items():
                for a in out.get(n, []):
                    if self.label[a] == labels[pos]:
                        d, val = self.dst[a], cur + self.penalty[a]
                        if d not in nxt or val < nxt[d]:
                            nxt[d] = val
            layer = nxt
        return layer.get(self.final)
