"""The character model of the SDNN (docs/paper.md Sec. VII) and the frame-graph builder.

An SDNN gives one penalty vector per horizontal position ("frame"): ``(T, C)`` penalties over the
classes of an :class:`~decoders.alphabet.Alphabet` that has a 'none' class. The frame graph is the
linear graph with one arc per class per frame; the character model is the HMM-like transducer that
turns a frame sequence into characters:

* state ``B`` (between characters, also the start) with a self-loop on 'none' frames;
* per character ``c`` a chain of ``min_frames`` states ``S_c^1 .. S_c^k`` consuming frames labelled
  ``c``, the last with a self-loop (repeated detections of the same character);
* ``B --c:c--> S_c^1`` ("enter", emits ``c``), ``S_c^k --none:eps--> B`` ("none"),
  ``S_c^k --d:d--> S_d^1`` for ``d != c`` ("direct", only if ``allow_direct``);
* the same character twice in a row therefore needs a 'none' frame between them (the CTC rule);
* final states: ``B`` and every ``S_c^k``.

Every arc belongs to one of four kinds whose penalties are the model's parameters (fixed, or trainable
``nn.Parameter`` s whose gradients arrive through the arc penalties): ``enter``, ``direct``, ``repeat``
(the chain arcs and the self-loop) and ``none``. With ``min_frames=1``, ``allow_direct=True`` and all
four penalties 0 the model is exactly the CTC topology with 'none' as the blank: the forward penalty of
``frames o model o text`` is then ``torch.nn.functional.ctc_loss`` of the text (tested).

:meth:`CharacterModel.graph` gives the transducer for ``gtn.compose(frame_graph, model_graph)``, either
cyclic (``acyclic=False``, the right operand of a composition) or unrolled over T frames;
:meth:`CharacterModel.compose_frames` builds the composition with a frame graph directly from the ``(T, C)``
penalties (the same paths and penalties, vectorised, no generic composition), with optional per-frame
beam pruning; that is what :func:`decoders.decode_frames` uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

import gtn
from gtn.graph import EPSILON as EPS

from .alphabet import Alphabet

KINDS = ("enter", "direct", "repeat", "none")
K_ENTER, K_DIRECT, K_REPEAT, K_NONE = range(4)


@dataclass
class CharacterModelConfig:
    """Options of :class:`CharacterModel` (docs/paper.md Sec. VII).

    Attributes:
        min_frames: minimum number of consecutive frames per character (>= 1).
        allow_direct: allow a character to follow a different one without a 'none' frame between.
        enter: penalty of starting a character after 'none' or at the start (an insertion penalty).
        direct: penalty of a direct transition to a different character.
        repeat: penalty of every frame after the first one of a character.
        none: penalty of every 'none' frame.
        trainable: make the four penalties ``nn.Parameter`` s (else fixed buffers).
    """

    min_frames: int = 1
    allow_direct: bool = True
    enter: float = 0.0
    direct: float = 0.0
    repeat: float = 0.0
    none: float = 0.0
    trainable: bool = False


def frame_graph(penalties: torch.Tensor, *, lengths=None):
    """The linear frame graph of an SDNN output: ``(T, C) -> gtn.Graph`` (docs/paper.md Sec. VII);
    ``(B, T, C)`` (+ optional ``lengths (B,)``) gives the batch of B frame graphs.

    Node ``t`` is the boundary before frame ``t`` (nodes ``0..T``); frame ``t`` gives ``C`` arcs
    ``t -> t+1`` with label ``c`` and penalty ``penalties[t, c]``, arc index ``t * C + c``. Gradients
    flow from the arc penalties back into ``penalties``. (This is ``gtn.frame_graph``, checked here for
    at least one frame and one class.)

    Raises:
        ValueError: not a 2-D/3-D tensor, no frame or class, or non-finite penalties.
    """

    if not isinstance(penalties, torch.Tensor) or penalties.dim() not in (2, 3):
        raise ValueError(f"[decoders.frame_graph] expected (T, C) or (B, T, C) penalties, got "
                         f"{tuple(penalties.shape) if isinstance(penalties, torch.Tensor) else type(penalties)}")
    if penalties.shape[-1] == 0 or penalties.shape[-2] == 0:
        raise ValueError(f"[decoders.frame_graph] need T >= 1 frames and C >= 1 classes, got {tuple(penalties.shape)}")
    return gtn.frame_graph(penalties, lengths=lengths)


class CharacterModel(nn.Module):
    """HMM-style transducer from SDNN frames to characters (see the module docstring).

    Args:
        alphabet: the classes of the frames; must have a 'none' class (default: the shared 17 classes).
        config: :class:`CharacterModelConfig`.
        chars: the character ids the model may emit (default: every character of the alphabet).
    """

    def __init__(self, alphabet: Alphabet | None = None, config: CharacterModelConfig | None = None,
                 *, chars: tuple[int, ...] | None = None) -> None:
        super().__init__()
        self.alphabet = alphabet or Alphabet.default()
        self.config = config or CharacterModelConfig()
        if self.alphabet.none_id is None:
            raise ValueError("[decoders.CharacterModel] the alphabet has no 'none' class; use e.g. "
                             "Alphabet.default() or Alphabet.digits(with_none=True)")
        if self.config.min_frames < 1:
            raise ValueError(f"[decoders.CharacterModel] min_frames must be >= 1, got {self.config.min_frames}")
        self.chars = tuple(self.alphabet.char_ids if chars is None else chars)
        bad = [c for c in self.chars if c not in self.alphabet.char_ids]
        if bad or not self.chars:
            raise ValueError(f"[decoders.CharacterModel] chars {bad or '()'} are not characters of "
                             f"{self.alphabet.describe()}")
        cfg = self.config
        init = torch.tensor([cfg.enter, cfg.direct, cfg.repeat, cfg.none], dtype=torch.float32)
        if not torch.isfinite(init).all():
            raise ValueError(f"[decoders.CharacterModel] penalties must be finite, got {init.tolist()}")
        if cfg.trainable:
            self.penalties = nn.Parameter(init)
        else:
            self.register_buffer("penalties", init)
        self._template = self._build_template()

    @property
    def num_states(self) -> int:
        """States of the cyclic machine: ``1 + len(chars) * min_frames``."""
        return 1 + len(self.chars) * self.config.min_frames

    def _build_template(self) -> dict[str, torch.Tensor]:
        """The arcs of the cyclic machine, one frame's worth: from, to, ilabel, olabel, kind, and for each
        state the number of frames it has consumed of its character (0 for B) and whether it is final."""
        k = self.config.min_frames
        none = self.alphabet.none_id
        state = lambda j, i: 1 + j * k + (i - 1)  # noqa: E731  (char index j, frame i of k)
        rows = [(0, 0, none, EPS, K_NONE)]
        for j, c in enumerate(self.chars):
            rows.append((0, state(j, 1), c, c, K_ENTER))
            for i in range(1, k):
                rows.append((state(j, i), state(j, i + 1), c, EPS, K_REPEAT))
            last = state(j, k)
            rows.append((last, last, c, EPS, K_REPEAT))
            rows.append((last, 0, none, EPS, K_NONE))
            if self.config.allow_direct:
                for j2, c2 in enumerate(self.chars):
                    if j2 != j:
                        rows.append((last, state(j2, 1), c2, c2, K_DIRECT))
        arcs = torch.tensor(rows, dtype=torch.long)
        depth = torch.zeros(self.num_states, dtype=torch.long)  # frames of the character consumed
        depth[1:] = torch.arange(1, k + 1).repeat(len(self.chars))
        final = (depth == 0) | (depth == k)
        return {"from": arcs[:, 0], "to": arcs[:, 1], "ilabel": arcs[:, 2], "olabel": arcs[:, 3],
                "kind": arcs[:, 4], "depth": depth, "final": final}

    # ------------------------------------------------------------------ unrolled structure
    def _unroll(self, num_frames: int, keep: torch.Tensor | None = None):
        """Arcs of the model unrolled over T frames, restricted to nodes that can start and finish.

        Args:
            num_frames: T.
            keep: optional bool ``(T, C)``: frame classes allowed at each frame (beam pruning).

        Returns:
            ``(src, dst, t, ilabel, olabel, kind, num_nodes)`` for the arcs of the unrolled graph, nodes
            numbered by frame then state, the final node last (all final states of frame T merged).
        """
        T = int(num_frames)
        if T < 1:
            raise ValueError(f"[decoders.CharacterModel] need at least one frame, got {T}")
        tpl = self._template
        Q, A0, k = self.num_states, tpl["from"].numel(), self.config.min_frames
        t = torch.arange(T).repeat_interleave(A0)  # (T * A0,)
        fr, to = tpl["from"].repeat(T), tpl["to"].repeat(T)
        il, ol, kind = tpl["ilabel"].repeat(T), tpl["olabel"].repeat(T), tpl["kind"].repeat(T)
        if keep is not None:
            ok = keep[t, il]
            t, fr, to, il, ol, kind = t[ok], fr[ok], to[ok], il[ok], ol[ok], kind[ok]
        if keep is None:
            # without pruning, (t, state) is reachable iff t >= frames consumed of its character, and
            # can still finish iff the remaining frames complete its chain (B is always fine)
            depth = tpl["depth"]
            steps = torch.arange(T + 1)[:, None]
            reach = depth[None, :] <= steps
            coreach = (T - steps) >= (k - depth[None, :]).masked_fill(depth[None, :] == 0, 0)
        else:
            reach, coreach = self._reachability(T, t, fr, to, tpl["final"])
        valid = reach & coreach  # (T + 1, Q)
        ok = valid[t, fr] & valid[t + 1, to]
        t, fr, to, il, ol, kind = t[ok], fr[ok], to[ok], il[ok], ol[ok], kind[ok]
        if t.numel() == 0:
            return None
        node_id = torch.full((T + 1, Q), -1, dtype=torch.long)
        inner = valid[:T].reshape(-1)
        node_id[:T].view(-1)[inner] = torch.arange(int(inner.sum()))
        final = int(inner.sum())
        node_id[T] = final
        src = node_id[t, fr]
        dst = node_id[t + 1, to]
        return src, dst, t, il, ol, kind, final + 1

    def _reachability(self, T, t, fr, to, final):
        """Forward / backward reachability over frames (T small vectorised steps): bool (T + 1, Q) each."""
        Q = self.num_states
        layer_of = torch.searchsorted(t, torch.arange(T + 1))  # arcs of frame f: [layer_of[f], layer_of[f+1])
        reach = torch.zeros(T + 1, Q, dtype=torch.bool)
        reach[0, 0] = True
        for f in range(T):
            lo, hi = int(layer_of[f]), int(layer_of[f + 1])
            live = reach[f, fr[lo:hi]]
            reach[f + 1, to[lo:hi][live]] = True
        coreach = torch.zeros(T + 1, Q, dtype=torch.bool)
        coreach[T] = final
        for f in range(T - 1, -1, -1):
            lo, hi = int(layer_of[f]), int(layer_of[f + 1])
            live = coreach[f + 1, to[lo:hi]]
            coreach[f, fr[lo:hi][live]] = True
        return reach, coreach

    def graph(self, num_frames: int | None = None):
        """The character model as a transducer graph, for ``gtn.compose(frame_graph, model_graph)``.

        Args:
            num_frames: ``None``: the cyclic machine itself (``acyclic=False``; states as in the module
                docstring plus one final node reached by epsilon arcs from the final states).
                An int T: the machine unrolled over exactly T frames (acyclic, topologically numbered,
                only nodes that can start and finish kept).

        Returns:
            ``gtn.Graph`` with ilabel = frame class, olabel = emitted character or ``EPSILON``, penalty =
            the arc kind's penalty (differentiable w.r.t. ``self.penalties``). Accepts exactly the frame
            label sequences the character model allows (of length T if given).
        """

        if num_frames is None:
            tpl = self._template
            Q = self.num_states
            finals = torch.nonzero(tpl["final"]).flatten()
            eps = torch.full_like(finals, EPS)
            src = torch.cat([tpl["from"], finals])
            dst = torch.cat([tpl["to"], torch.full_like(finals, Q)])
            il = torch.cat([tpl["ilabel"], eps])
            ol = torch.cat([tpl["olabel"], eps])
            zero = torch.zeros(finals.numel(), dtype=self.penalties.dtype)
            pen = torch.cat([self.penalties[tpl["kind"]], zero])
            return gtn.Graph(src, dst, il, ol, pen, num_nodes=Q + 1, start=0, final=Q, acyclic=False)
        out = self._unroll(num_frames)
        if out is None:
            raise ValueError(f"[decoders.CharacterModel.graph] no frame sequence of length {num_frames} "
                             f"is allowed (min_frames={self.config.min_frames})")
        src, dst, _, il, ol, kind, n = out
        return gtn.Graph(src, dst, il, ol, self.penalties[kind], num_nodes=n, start=0, final=n - 1)

    def forward(self, penalties: torch.Tensor, *, beam: float | None = None,
                lengths: torch.Tensor | None = None):
        """Same as :meth:`compose_frames` (so ``torch.func.functional_call`` and hooks work)."""
        return self.compose_frames(penalties, beam=beam, lengths=lengths)

    def compose_frames(self, penalties: torch.Tensor, *, beam: float | None = None,
                       lengths: torch.Tensor | None = None):
        """Compose the frame graph of ``penalties`` with the model, directly: ``(T, C) -> graph``, or
        ``(B, T, C)`` (+ optional ``lengths (B,)``) -> a batch of B graphs.

        Equal to ``gtn.compose(frame_graph(penalties), self.graph(T))`` (same paths, same penalties),
        built in one vectorised pass.

        Args:
            penalties: ``(T, C)`` or ``(B, T, C)`` SDNN penalties, ``C == alphabet.num_classes``.
            lengths: for a batch, the number of valid frames of each sequence (default: all T).
            beam: per-frame pruning: at frame t keep only the classes whose penalty is within ``beam`` of
                that frame's best class. Faster on long inputs; may lose the grammar's best path when
                it uses a class far below the frame's best (see README, measured).

        Returns:
            ``(graph, frame_arc)``: the interpretation graph (ilabel = frame class, olabel = character or
            ``EPSILON``) and, per arc, the index ``t * C + c`` of the frame-graph arc it consumed (the
            frame of every character, hence its x-range). For a batch: the B graphs and indices into
            ``penalties.reshape(-1)`` (``b * T * C + t * C + c``); without ``beam`` the batch is
            ``gtn.compose(gtn.frame_graph(penalties, lengths=lengths), self.graph())`` (one pass of gtn's
            frame composition; its epsilon arcs into the final node have index -1).
        """
        if isinstance(penalties, torch.Tensor) and penalties.dim() == 3:
            return self._compose_batch(penalties, beam=beam, lengths=lengths)

        if not isinstance(penalties, torch.Tensor) or penalties.dim() != 2:
            raise ValueError("[decoders.CharacterModel.compose_frames] expected (T, C) or (B, T, C) penalties, "
                             f"got {getattr(penalties, 'shape', type(penalties))}")
        T, C = penalties.shape
        if C != self.alphabet.num_classes:
            raise ValueError(f"[decoders.CharacterModel.compose_frames] penalties have {C} classes but the alphabet "
                             f"has {self.alphabet.num_classes}: {self.alphabet.describe()}")
        if not torch.isfinite(penalties).all():
            raise ValueError("[decoders.CharacterModel.compose_frames] non-finite frame penalties")
        keep = None
        if beam is not None:
            with torch.no_grad():
                keep = penalties <= penalties.min(dim=1, keepdim=True).values + float(beam)
        out = self._unroll(T, keep)
        if out is None:
            raise ValueError(f"[decoders.CharacterModel.compose_frames] no path through {T} frames "
                             f"(min_frames={self.config.min_frames}, beam={beam})")
        src, dst, t, il, ol, kind, n = out
        frame_arc = t * C + il
        pen = penalties.reshape(-1)[frame_arc] + self.penalties[kind].to(penalties.dtype)
        g = gtn.Graph(src, dst, il, ol, pen, num_nodes=n, start=0, final=n - 1)
        return g, frame_arc

    def _compose_batch(self, penalties: torch.Tensor, *, beam, lengths):
        B, T, C = penalties.shape
        if lengths is None:
            lengths = torch.full((B,), T, dtype=torch.long)
        lengths = torch.as_tensor(lengths, dtype=torch.long).reshape(-1)
        if lengths.numel() != B or bool((lengths < 1).any()) or bool((lengths > T).any()):
            raise ValueError(f"[decoders.CharacterModel.compose_frames] lengths must be B={B} values in "
                             f"[1, {T}], got {lengths.tolist()}")
        if beam is None:  # gtn's frame composition with the cyclic machine, the whole batch at once
            if penalties.shape[-1] != self.alphabet.num_classes:
                raise ValueError(f"[decoders.CharacterModel.compose_frames] penalties have {C} classes but the "
                                 f"alphabet has {self.alphabet.num_classes}: {self.alphabet.describe()}")
            if not torch.isfinite(penalties).all():
                raise ValueError("[decoders.CharacterModel.compose_frames] non-finite frame penalties")
            frames = gtn.frame_graph(penalties, lengths=lengths)
            g, (amap, _) = gtn.compose(frames, self.graph().with_penalty(self.graph().penalty.to(penalties.dtype)))
            if bool((g.arc_offsets.diff() == 0).any()):  # a trimmed composition without a path has no arcs
                raise ValueError(f"[decoders.CharacterModel.compose_frames] no path through some of the "
                                 f"{lengths.tolist()} frames (min_frames={self.config.min_frames})")
            # frame-graph arc -> index into penalties.reshape(-1): b * T * C + t * C + c (-1: the epsilon
            # arcs that join the model's final states)
            arc_graph = frames.arc_batch[amap.clamp(min=0)]
            local = amap - frames.arc_offsets[arc_graph]
            return g, torch.where(amap >= 0, arc_graph * T * C + local, torch.full_like(amap, -1))
        graphs, maps = [], []
        for b in range(B):
            g, fa = self.compose_frames(penalties[b, : int(lengths[b])], beam=beam)
            graphs.append(g)
            maps.append(fa + b * T * C)
        return gtn.batch(graphs), torch.cat(maps)
