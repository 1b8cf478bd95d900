"""Batched decoding of SDNN frames: character model x grammar, vectorised over a whole batch.

The fast path of :func:`decoders.decode_frames`, which decodes one field at a time through generic
graph composition (exact and general, milliseconds per field). For the recogniser's throughput this module
builds, once per grammar, the product automaton of the character model (docs/paper.md Sec. VII:
state ``B`` between characters with a 'none' self-loop, one state per character with a self-loop for
repeated detections) and the grammar's deterministic automaton, and runs over ``(B, T, C)`` frame
penalties, one vectorised step per frame:

* :meth:`ProductDecoder.viterbi`: best path per field -> text, frame spans, penalty;
* :meth:`ProductDecoder.forward_all`: forward penalty of every path the grammar allows (F_all);
* :meth:`ProductDecoder.forward_text`: forward penalty of the paths spelling a given text (F_text),
  so ``confidence = exp(F_all - F_text)``, the posterior of the text (same definition as
  :class:`decoders.DecodeResult`).

It covers the character model with ``min_frames = 1`` (the default); the tests check it against
:func:`decoders.decode_frames` (same text, penalty and confidence). Penalties: lower is better.
"""

from __future__ import annotations

import torch

from decoders.result import CharSpan

INF = float("inf")


def _softmin(x: torch.Tensor, dim: int) -> torch.Tensor:
    """``-log sum exp(-x)`` along ``dim`` (inf when every entry is inf)."""
    return -torch.logsumexp(-x, dim=dim)


class ProductDecoder:
    """Character model x grammar automaton for batched frame decoding (module docstring).

    Args:
        grammar: a ``decoders.Grammar`` (``None``: any string of characters).
        charmodel: a ``decoders.CharacterModel`` with ``min_frames == 1``.

    Raises:
        ValueError: a character model this decoder does not cover.
    """

    def __init__(self, grammar, charmodel):
        from decoders import Grammar

        cfg = charmodel.config
        if cfg.min_frames != 1:
            raise ValueError(f"[decoders.ProductDecoder] needs min_frames == 1, got {cfg.min_frames}")
        self.alphabet = charmodel.alphabet
        if grammar is None:
            grammar = Grammar.any_text(alphabet=self.alphabet)
        self.grammar = grammar
        self.none = self.alphabet.none_id
        self.C = self.alphabet.num_classes
        enter, direct, repeat, none_pen = (float(v) for v in charmodel.penalties.detach())
        self.pen = {"enter": enter, "direct": direct, "repeat": repeat, "none": none_pen}
        chars = set(charmodel.chars)
        dfa = grammar.dfa
        index: dict[tuple[int, int], int] = {}
        arcs: list[tuple[int, int, int, float, int]] = []  # src, dst, class, penalty, emitted label or -1

        def sid(q: int, m: int) -> int:
            if (q, m) not in index:
                index[(q, m)] = len(index)
                todo.append((q, m))
            return index[(q, m)]

        todo: list[tuple[int, int]] = []
        self.start = sid(dfa.start, -1)
        while todo:
            q, m = todo.pop()
            s = index[(q, m)]
            arcs.append((s, sid(q, -1), self.none, none_pen, -1))
            if m >= 0:
                arcs.append((s, s, m, repeat, -1))
            for c, (q2, p) in dfa.trans[q].items():
                if c not in chars:
                    continue
                if m < 0:
                    arcs.append((s, sid(q2, c), c, enter + p, c))
                elif c != m and cfg.allow_direct:
                    arcs.append((s, sid(q2, c), c, direct + p, c))
        self.num_states = N = len(index)
        final = torch.full((N,), INF)
        for (q, _m), s in index.items():
            if q in dfa.finals:
                final[s] = float(dfa.finals[q])
        self.final = final
        a = torch.tensor([(s, d, c, e) for s, d, c, _, e in arcs], dtype=torch.long)
        apen = torch.tensor([p for _, _, _, p, _ in arcs], dtype=torch.float32)
        self.arc_src, self.arc_dst, self.arc_cls, self.arc_emit = a[:, 0], a[:, 1], a[:, 2], a[:, 3]
        self.arc_pen = apen
        # incoming arcs of every state, padded to the largest in-degree D: (N, D)
        order = torch.argsort(self.arc_dst, stable=True)
        counts = torch.bincount(self.arc_dst, minlength=N)
        D = int(counts.max())
        slot = torch.arange(len(order)) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
        in_arc = torch.full((N, D), -1, dtype=torch.long)
        in_arc[self.arc_dst[order], slot] = order
        valid = in_arc >= 0
        safe = in_arc.clamp(min=0)
        self.in_arc = in_arc
        self.in_src = torch.where(valid, self.arc_src[safe], torch.zeros_like(safe))
        self.in_pen = torch.where(valid, apen[safe], torch.full_like(apen[safe], INF))
        # every arc into a state reads the same frame class: 'none' into (q, B), c into (q, S_c)
        self.state_cls = torch.full((N,), self.none, dtype=torch.long)
        self.state_cls[self.arc_dst] = self.arc_cls
        if not bool((self.state_cls[self.arc_dst] == self.arc_cls).all()):
            raise AssertionError("[decoders.ProductDecoder] arcs into one state read different classes")
        # transition probabilities exp(-penalty), (N_src, N_dst), for the forward pass by matmul
        trans = torch.zeros((N, N), dtype=torch.float64)
        trans.index_put_((self.arc_src, self.arc_dst), torch.exp(-apen.double()), accumulate=True)
        self.trans = trans

    # ------------------------------------------------------------------ helpers
    def _check(self, pen: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        if pen.dim() != 3 or pen.shape[2] != self.C:
            raise ValueError(f"[decoders.ProductDecoder] expected (B, T, {self.C}) penalties, got {tuple(pen.shape)}")
        B, T, _ = pen.shape
        if lengths is None:
            return torch.full((B,), T, dtype=torch.long)
        lengths = torch.as_tensor(lengths, dtype=torch.long)
        if lengths.shape != (B,) or bool((lengths < 1).any()) or bool((lengths > T).any()):
            raise ValueError(f"[decoders.ProductDecoder] lengths must be {B} values in [1, {T}]")
        return lengths


    # ------------------------------------------------------------------ scoring
    @torch.no_grad()
    def viterbi(self, pen: torch.Tensor, lengths: torch.Tensor | None = None):
        """Best path of every field: ``(B, T, C)`` penalties, ``(B,)`` frame counts ->
        ``(penalties (B,), list of B lists of decoders.CharSpan)`` (frames ``[start, end)``); a field without any allowed path has
        penalty ``inf`` and no spans."""
        lengths = self._check(pen, lengths)
        B, T, _ = pen.shape
        N = self.num_states
        score = torch.full((B, N), INF, dtype=pen.dtype)
        score[:, self.start] = 0.0
        bps = torch.zeros((T, B, N), dtype=torch.int16 if self.in_arc.shape[1] < 32000 else torch.long)
        emis = pen[:, :, self.state_cls]  # (B, T, N): frame penalty of entering each state
        in_pen = self.in_pen.to(pen.dtype)
        in_src = self.in_src.reshape(-1)  # (N * D,)
        D = self.in_src.shape[1]
        for t in range(T):
            cand = score.index_select(1, in_src).view(B, N, D)  # (B, N, D); index_select + in-place add:
            cand.add_(in_pen)  # several times faster than score[:, in_src] + in_pen (measured)
            new, arg = cand.min(dim=2)  # (B, N)
            new = new + emis[:, t]
            active = (t < lengths)[:, None]
            score = torch.where(active, new, score)
            bps[t] = arg.to(bps.dtype)
        total = score + self.final.to(pen.dtype)
        best, state = total.min(dim=1)
        arcs = torch.full((T, B), -1, dtype=torch.long)
        rows = torch.arange(B)
        for t in range(T - 1, -1, -1):
            active = t < lengths
            d = bps[t, rows, state].long()
            arc = self.in_arc[state, d]
            arcs[t] = torch.where(active, arc, torch.full_like(arc, -1))
            state = torch.where(active, self.in_src[state, d], state)
        emit = torch.where(arcs >= 0, self.arc_emit[arcs.clamp(min=0)], torch.full_like(arcs, -2)).t().tolist()
        cls = torch.where(arcs >= 0, self.arc_cls[arcs.clamp(min=0)], torch.full_like(arcs, -2)).t().tolist()
        spans_all = []
        ok = torch.isfinite(best).tolist()
        C = self.C
        for b in range(B):
            runs: list[list[int]] = []  # [label, start, end] of each character
            if ok[b]:
                cur = None
                for t in range(int(lengths[b])):
                    e, c = emit[b][t], cls[b][t]
                    if e >= 0:
                        cur = [e, t, t + 1]
                        runs.append(cur)
                    elif cur is not None and c == cur[0]:
                        cur[2] = t + 1
                    else:
                        cur = None
            spans_all.append([self._span(pen[b], *run, C) for run in runs])
        return best, spans_all

    def _span(self, pen: torch.Tensor, label: int, start: int, end: int, C: int) -> CharSpan:
        """The :class:`decoders.CharSpan` of a character read on frames ``start .. end - 1`` of one
        field's ``(T, C)`` penalties: its frame-graph arcs ``t * C + label`` and their penalty sum."""
        frames = range(start, end)
        return CharSpan(self.alphabet.symbols[label], label, start, end, tuple(t * C + label for t in frames),
                        float(pen[start:end, label].sum()))

    @torch.no_grad()
    def forward_all(self, pen: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Forward penalty of all allowed paths: ``(B, T, C), (B,) -> (B,)`` (inf if none)."""
        lengths = self._check(pen, lengths)
        B, T, _ = pen.shape
        # probability space, rescaled every frame: alpha_true = alpha * exp(-offset)
        emis = pen.double()[:, :, self.state_cls]  # (B, T, N)
        alpha = torch.zeros((B, self.num_states), dtype=torch.float64)
        alpha[:, self.start] = 1.0
        offset = torch.zeros(B, dtype=torch.float64)
        for t in range(T):
            v = torch.log(alpha @ self.trans) - emis[:, t]  # (B, N), -inf where unreachable
            m = v.max(dim=1).values
            alive = torch.isfinite(m)
            m = torch.where(alive, m, torch.zeros_like(m))
            new = torch.exp(v - m[:, None])
            active = (t < lengths)
            alpha = torch.where(active[:, None], new, alpha)
            offset = torch.where(active, torch.where(alive, offset - m, torch.full_like(m, INF)), offset)
        total = (alpha * torch.exp(-self.final.double())).sum(dim=1)
        out = offset - torch.log(total)
        return torch.where(torch.isfinite(offset), out, torch.full_like(out, INF)).to(pen.dtype)

    @torch.no_grad()
    def forward_text(self, pen: torch.Tensor, lengths: torch.Tensor | None, texts: list[list[int]]) -> torch.Tensor:
        """Forward penalty of the paths spelling ``texts[b]`` (grammar penalty included):
        ``(B, T, C), (B,), B label lists -> (B,)``; inf for a text the grammar rejects."""
        lengths = self._check(pen, lengths)
        B, T, _ = pen.shape
        L = max([len(x) for x in texts] + [1])
        lab = torch.zeros((B, L), dtype=torch.long)
        nlab = torch.tensor([len(x) for x in texts], dtype=torch.long)
        gpen = torch.zeros(B, dtype=pen.dtype)
        for b, x in enumerate(texts):
            if x:
                lab[b, : len(x)] = torch.tensor(x)
            g = self.grammar.dfa.penalty(x)
            gpen[b] = INF if g is None else g
        P = self.pen
        k = torch.arange(L)
        odd_ok = k[None, :] < nlab[:, None]  # (B, L): state S_{j+1} exists
        even_ok = torch.arange(L + 1)[None, :] <= nlab[:, None]  # (B, L + 1)
        direct_ok = torch.zeros((B, L), dtype=torch.bool)
        direct_ok[:, 1:] = lab[:, 1:] != lab[:, :-1]
        even = torch.full((B, L + 1), INF, dtype=pen.dtype)
        even[:, 0] = 0.0
        odd = torch.full((B, L), INF, dtype=pen.dtype)
        inf = torch.tensor(INF, dtype=pen.dtype)
        for t in range(T):
            f = pen[:, t]  # (B, C)
            fn = f[:, self.none][:, None]
            fl = f.gather(1, lab)  # (B, L)
            stay_b = even + P["none"] + fn
            from_s = torch.cat([torch.full((B, 1), INF, dtype=pen.dtype), odd + P["none"] + fn], dim=1)
            new_even = _softmin(torch.stack([stay_b, from_s]), 0)
            prev_odd = torch.cat([torch.full((B, 1), INF, dtype=pen.dtype), odd[:, :-1]], dim=1)
            direct = torch.where(direct_ok, prev_odd + P["direct"], inf)
            new_odd = _softmin(torch.stack([odd + P["repeat"], even[:, :-1] + P["enter"], direct]), 0) + fl
            new_even = torch.where(even_ok, new_even, inf)
            new_odd = torch.where(odd_ok, new_odd, inf)
            active = (t < lengths)[:, None]
            even = torch.where(active, new_even, even)
            odd = torch.where(active, new_odd, odd)
        end_even = even.gather(1, nlab[:, None])[:, 0]
        end_odd = torch.where(nlab > 0, odd.gather(1, (nlab - 1).clamp(min=0)[:, None])[:, 0], inf)
        return _softmin(torch.stack([end_even, end_odd]), 0) + gpen


__all__ = ["ProductDecoder"]
