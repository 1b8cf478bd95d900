"""Small weighted automata on the host side: the exact language of a grammar before it becomes a graph.

Grammars are built here as plain Python automata (an epsilon-NFA from the pattern compiler, then a
deterministic automaton by subset construction, then minimised), and only at the end written out as a
``gtn.Graph``. Keeping the deterministic form has two purposes:

* every accepted string has exactly ONE path, so composing a grammar with an interpretation graph never
  counts an interpretation twice (the forward penalty and the confidence stay exact, docs/paper.md Sec. VI);
* a grammar with loops (``\\d*``, the ``*`` fill of amounts) is written either as a cyclic graph
  (``gtn.Graph(..., acyclic=False)``, usable as the right operand of ``gtn.compose``) or, on request,
  unrolled into an acyclic graph exact up to a given length (:meth:`Dfa.arcs`, ``max_len``): no string
  up to that length is lost, none is added.

Penalties follow the paper's convention (lower is better, path penalty = sum of arc penalties); a state's
final penalty is added when a path stops there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from .arclist import EPS, ArcList



class Nfa:
    """A mutable epsilon-NFA (Thompson construction target). Labels are ints, ``EPS`` = empty.

    Attributes:
        arcs: per state, a list of ``(label, dst, penalty)``.
        start: the start state. finals: ``{state: final penalty}``.
    """

    def __init__(self) -> None:
        self.arcs: list[list[tuple[int, int, float]]] = []
        self.start = 0
        self.finals: dict[int, float] = {}

    def add_state(self) -> int:
        self.arcs.append([])
        return len(self.arcs) - 1

    def add_arc(self, src: int, dst: int, label: int, *, penalty: float = 0.0) -> None:
        self.arcs[src].append((int(label), int(dst), float(penalty)))

    def eps_closure(self, states: Iterable[int]) -> frozenset[int]:
        stack = list(states)
        seen = set(stack)
        while stack:
            s = stack.pop()
            for lab, d, _ in self.arcs[s]:
                if lab == EPS and d not in seen:
                    seen.add(d)
                    stack.append(d)
        return frozenset(seen)

    def determinize(self) -> "Dfa":
        """Subset construction (unweighted: the NFA's penalties must all be zero).

        Returns:
            The equivalent trimmed, minimised :class:`Dfa`.
        """
        if any(p != 0.0 for row in self.arcs for _, _, p in row):
            raise ValueError("[decoders.Nfa.determinize] only unweighted NFAs are determinised")
        first = self.eps_closure([self.start])
        ids = {first: 0}
        order = [first]
        trans: list[dict[int, tuple[int, float]]] = []
        finals: dict[int, float] = {}
        i = 0
        while i < len(order):
            cur = order[i]
            moves: dict[int, set[int]] = {}
            for s in cur:
                for lab, d, _ in self.arcs[s]:
                    if lab != EPS:
                        moves.setdefault(lab, set()).add(d)
            row: dict[int, tuple[int, float]] = {}
            for lab in sorted(moves):
                nxt = self.eps_closure(moves[lab])
                if nxt not in ids:
                    ids[nxt] = len(order)
                    order.append(nxt)
                row[lab] = (ids[nxt], 0.0)
            trans.append(row)
            if any(s in self.finals for s in cur):
                finals[i] = 0.0
            i += 1
        return Dfa(trans, 0, finals).trim().minimize()


@dataclass
class Dfa:
    """A deterministic weighted acceptor.

    Attributes:
        trans: per state, ``{label: (dst, penalty)}``.
        start: the start state.
        finals: ``{state: final penalty}``.
    """

    trans: list[dict[int, tuple[int, float]]]
    start: int
    finals: dict[int, float]

    @property
    def num_states(self) -> int:
        return len(self.trans)

    # ------------------------------------------------------------------ membership
    def penalty(self, labels: Sequence[int]) -> float | None:
        """Penalty of the unique path spelling ``labels``, or ``None`` if the string is rejected."""
        s, total = self.start, 0.0
        for lab in labels:
            step = self.trans[s].get(int(lab))
            if step is None:
                return None
            s, p = step
            total += p
        if s not in self.finals:
            return None
        return total + self.finals[s]

    def labels(self) -> set[int]:
        """Every label used on some transition."""
        return {lab for row in self.trans for lab in row}

    # ------------------------------------------------------------------ structure
    def trim(self) -> "Dfa":
        """Keep only states reachable from the start and able to reach a final state (renumbered)."""
        acc = {self.start}
        stack = [self.start]
        while stack:
            s = stack.pop()
            for d, _ in self.trans[s].values():
                if d not in acc:
                    acc.add(d)
                    stack.append(d)
        rev: list[set[int]] = [set() for _ in self.trans]
        for s, row in enumerate(self.trans):
            for d, _ in row.values():
                rev[d].add(s)
        coacc = set(self.finals)
        stack = list(coacc)
        while stack:
            s = stack.pop()
            for p in rev[s]:
                if p not in coacc:
                    coacc.add(p)
                    stack.append(p)
        keep = sorted(acc & coacc)
        if self.start not in coacc:
            return Dfa([{}], 0, {})  # the empty language
        new = {s: i for i, s in enumerate(keep)}
        trans = [
            {lab: (new[d], p) for lab, (d, p) in self.trans[s].items() if d in new} for s in keep
        ]
        finals = {new[s]: p for s, p in self.finals.items() if s in new}
        return Dfa(trans, new[self.start], finals)

    def is_empty(self) -> bool:
        return not self.finals

    def minimize(self) -> "Dfa":
        """Merge states with identical futures (labels, penalties and final penalties): Moore refinement.

        Weights are compared as they stand (not pushed), so the result accepts the same strings with the
        same penalties and stays deterministic.
        """
        n = self.num_states
        block = [("F", self.finals[s]) if s in self.finals else ("N",) for s in range(n)]
        while True:
            sig = [
                (block[s], tuple(sorted((lab, block[d], p) for lab, (d, p) in self.trans[s].items())))
                for s in range(n)
            ]
            ids: dict = {}
            new_block = [ids.setdefault(x, len(ids)) for x in sig]
            if len(ids) == len(set(block)):
                break
            block = new_block
        # canonical numbering: order of first appearance in a BFS from the start
        block = new_block
        order: dict[int, int] = {}
        queue = [self.start]
        order[block[self.start]] = 0
        rep = {0: self.start}
        i = 0
        while i < len(queue):
            s = queue[i]
            i += 1
            for lab in sorted(self.trans[s]):
                d, _ = self.trans[s][lab]
                if block[d] not in order:
                    order[block[d]] = len(order)
                    rep[order[block[d]]] = d
                    queue.append(d)
        trans = []
        for k in range(len(order)):
            s = rep[k]
            trans.append({lab: (order[block[d]], p) for lab, (d, p) in self.trans[s].items()})
        finals = {order[block[s]]: p for s, p in self.finals.items() if block[s] in order}
        return Dfa(trans, 0, finals)

    def topological_order(self) -> list[int] | None:
        """States in topological order, or ``None`` if the automaton has a cycle."""
        indeg = [0] * self.num_states
        for row in self.trans:
            for d, _ in row.values():
                indeg[d] += 1
        ready = [s for s in range(self.num_states) if indeg[s] == 0]
        out = []
        while ready:
            s = ready.pop()
            out.append(s)
            for lab in sorted(self.trans[s], reverse=True):
                d = self.trans[s][lab][0]
                indeg[d] -= 1
                if indeg[d] == 0:
                    ready.append(d)
        return out if len(out) == self.num_states else None

    def max_length(self) -> int | None:
        """Length of the longest accepted string, ``None`` if unbounded (the automaton is cyclic)."""
        order = self.topological_order()
        if order is None:
            return None
        longest = {s: 0 for s in self.finals}
        for s in reversed(order):
            best = longest.get(s, -1)
            for d, _ in self.trans[s].values():
                if d in longest:
                    best = max(best, longest[d] + 1)
            if best >= 0:
                longest[s] = best
        return longest.get(self.start, 0)

    def with_label_penalty(self, label: int, penalty: float) -> "Dfa":
        """A copy where every transition on ``label`` costs ``penalty`` more."""
        trans = [
            {lab: (d, p + (penalty if lab == label else 0.0)) for lab, (d, p) in row.items()}
            for row in self.trans
        ]
        return Dfa(trans, self.start, dict(self.finals))

    def complement(self, alphabet: Sequence[int]) -> "Dfa":
        """Unweighted complement over ``alphabet`` (penalties dropped): the strings this DFA rejects."""
        sink = self.num_states
        trans = []
        for row in self.trans + [{}]:
            trans.append({lab: (row[lab][0] if lab in row else sink, 0.0) for lab in alphabet})
        finals = {s: 0.0 for s in range(sink + 1) if s not in self.finals}
        return Dfa(trans, self.start, finals).trim()

    # ------------------------------------------------------------------ export
    def arcs(self, *, max_len: int | None = None) -> "ArcList":
        """Write the automaton as an arc list with one start and one final node.

        Final states with outgoing transitions reach the final node by an epsilon arc carrying the
        final penalty; final states without any are merged into the final node (their final penalty is
        added to the arcs entering them), so fixed-length languages need no epsilon at all.

        Args:
            max_len: ``None``: the automaton as it is (cyclic if the language is unbounded; such a graph
                can be the right operand of ``gtn.compose``). An int: only strings of at most ``max_len``
                labels, as an ACYCLIC graph (loops unrolled into ``max_len + 1`` layers, exact).

        Returns:
            An :class:`ArcList`, node 0 = start, last node = final; acyclic ones topologically numbered.

        Raises:
            ValueError: the language (or its part up to ``max_len``) is empty.
        """
        if self.is_empty():
            raise ValueError("[decoders.Dfa.arcs] the grammar accepts no string at all")
        order = self.topological_order()
        if max_len is None or (order is not None and max_len >= (self.max_length() or 0)):
            if order is None:  # cyclic: breadth-first numbering from the start
                order = [self.start]
                seen = {self.start}
                for s in order:
                    for lab in sorted(self.trans[s]):
                        d = self.trans[s][lab][0]
                        if d not in seen:
                            seen.add(d)
                            order.append(d)
            keys = [(s, 0) for s in order]
            step = lambda key, d: (d, 0)  # noqa: E731
            return self._write(keys, step, max_len, acyclic=self.topological_order() is not None)
        if max_len < 0:
            raise ValueError(f"[decoders.Dfa.arcs] max_len must be >= 0, got {max_len}")
        keys = self._unrolled_keys(max_len)
        step = lambda key, d: (d, key[1] + 1)  # noqa: E731
        return self._write(keys, step, max_len, acyclic=True)

    def _unrolled_keys(self, max_len: int) -> list[tuple[int, int]]:
        # distance to the nearest final state, to keep only (state, layer) that can still finish
        dist = {s: 0 for s in self.finals}
        frontier = list(self.finals)
        rev: list[set[int]] = [set() for _ in self.trans]
        for s, row in enumerate(self.trans):
            for d, _ in row.values():
                rev[d].add(s)
        while frontier:
            nxt = []
            for s in frontier:
                for p in rev[s]:
                    if p not in dist:
                        dist[p] = dist[s] + 1
                        nxt.append(p)
            frontier = nxt
        keys = []
        layer = {self.start} if dist.get(self.start, max_len + 1) <= max_len else set()
        for k in range(max_len + 1):
            keys.extend((s, k) for s in sorted(layer))
            nxt = set()
            for s in layer:
                for d, _ in self.trans[s].values():
                    if k + 1 + dist.get(d, max_len + 1) <= max_len:
                        nxt.add(d)
            layer = nxt
        return keys

    def _write(self, keys, step, max_len, *, acyclic: bool) -> "ArcList":
        keyset = set(keys)
        # a key is a dead end if it is final and no transition leads to a kept key
        outs = {}
        for key in keys:
            s = key[0]
            outs[key] = [
                (lab, step(key, d), p) for lab, (d, p) in sorted(self.trans[s].items()) if step(key, d) in keyset
            ]
        if not keys:
            raise ValueError(
                f"[decoders.Dfa.arcs] the grammar accepts no string of length <= {max_len}"
            )
        dead = {k for k in keys if k[0] in self.finals and not outs[k]}
        live = [k for k in keys if k not in dead]
        if not live:
            # only the empty string: one epsilon arc carrying the final penalty (a graph without arcs
            # would also do, but an explicit arc keeps every consumer's code path the same)
            return ArcList([0], [1], [EPS], [self.finals[self.start]], 2, 0, 1, True)
        node = {k: i for i, k in enumerate(live)}
        final = len(live)
        src, dst, lab_, pen = [], [], [], []
        for key in live:
            for lab, d, p in outs[key]:
                src.append(node[key])
                lab_.append(lab)
                if d in dead:
                    dst.append(final)
                    pen.append(p + self.finals[d[0]])
                else:
                    dst.append(node[d])
                    pen.append(p)
            if key[0] in self.finals:
                src.append(node[key])
                dst.append(final)
                lab_.append(EPS)
                pen.append(self.finals[key[0]])
        return ArcList(src, dst, lab_, pen, final + 1, 0, final, acyclic)


def intersect(a: Dfa, b: Dfa) -> Dfa:
    """Product automaton: strings accepted by both, penalties added (deterministic, trimmed)."""
    ids = {(a.start, b.start): 0}
    order = [(a.start, b.start)]
    trans: list[dict[int, tuple[int, float]]] = []
    finals: dict[int, float] = {}
    i = 0
    while i < len(order):
        sa, sb = order[i]
        row = {}
        for lab, (da, pa) in a.trans[sa].items():
            step = b.trans[sb].get(lab)
            if step is None:
                continue
            key = (da, step[0])
            if key not in ids:
                ids[key] = len(order)
                order.append(key)
            row[lab] = (ids[key], pa + step[1])
        trans.append(row)
        if sa in a.finals and sb in b.finals:
            finals[i] = a.finals[sa] + b.finals[sb]
        i += 1
    return Dfa(trans, 0, finals).trim()


def trie(words: Sequence[Sequence[int]], penalties: Sequence[float]) -> Dfa:
    """Prefix tree of label sequences; each word's penalty is its final penalty (shared prefixes merged)."""
    trans: list[dict[int, tuple[int, float]]] = [{}]
    finals: dict[int, float] = {}
    for word, pen in zip(words, penalties):
        s = 0
        for lab in word:
            step = trans[s].get(lab)
            if step is None:
                trans.append({})
                step = (len(trans) - 1, 0.0)
                trans[s][lab] = step
            s = step[0]
        finals[s] = float(pen)
    return Dfa(trans, 0, finals)
