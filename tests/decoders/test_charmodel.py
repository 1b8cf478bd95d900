"""The SDNN character model: collapsing rules (brute force), equivalence of its three forms, CTC
equivalence with torch.nn.functional.ctc_loss (loss and gradient), trainable penalties (gradcheck)."""

from __future__ import annotations

import itertools
import math

import gtn
import pytest
import torch

from decoders import Alphabet, CharacterModel, CharacterModelConfig, Grammar, decode_frames, frame_graph
from decoders_testutil import logsumexp_neg, paths

SMALL = Alphabet(("0", "1", "<none>"))
NONE = 2
PEN = dict(enter=0.5, direct=1.25, repeat=0.125, none=2.0)


def reference(seq, *, min_frames=1, allow_direct=True):
    """The documented rules, independently: -> None (not allowed) or (text ids, kind counts)."""
    counts = dict(enter=0, direct=0, repeat=0, none=0)
    text, prev_char = [], False
    for lab, run in itertools.groupby(seq):
        n = len(list(run))
        if lab == NONE:
            counts["none"] += n
            prev_char = False
            continue
        if n < min_frames:
            return None
        if prev_char:
            if not allow_direct:
                return None
            counts["direct"] += 1
        else:
            counts["enter"] += 1
        counts["repeat"] += n - 1
        text.append(lab)
        prev_char = True
    return text, counts


CONFIGS = [
    CharacterModelConfig(),
    CharacterModelConfig(min_frames=2, **PEN),
    CharacterModelConfig(allow_direct=False, **PEN),
    CharacterModelConfig(min_frames=3, allow_direct=False),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"k{c.min_frames}-direct{c.allow_direct}-pen{c.none}")
def test_collapsing_rules_unrolled(cfg):
    model = CharacterModel(SMALL, cfg)
    for T in range(1, 6):
        try:
            g = model.graph(T)
        except ValueError:
            assert all(reference(s, min_frames=cfg.min_frames, allow_direct=cfg.allow_direct) is None
                       for s in itertools.product(range(3), repeat=T))
            continue
        by_input: dict[tuple, list] = {}
        for arcs, pen in paths(g):
            il = tuple(int(g.ilabel[a]) for a in arcs)
            ol = [int(g.olabel[a]) for a in arcs if int(g.olabel[a]) >= 0]
            by_input.setdefault(il, []).append((ol, pen))
        for seq in itertools.product(range(3), repeat=T):
            ref = reference(seq, min_frames=cfg.min_frames, allow_direct=cfg.allow_direct)
            got = by_input.get(seq, [])
            if ref is None:
                assert got == [], seq
                continue
            assert len(got) == 1, (seq, got)  # one path per frame sequence: no double counting
            text, counts = ref
            want_pen = sum(counts[k] * getattr(cfg, k) for k in counts)
            assert got[0][0] == text and got[0][1] == pytest.approx(want_pen), seq


def linear(labels):
    n = len(labels)
    return gtn.Graph(list(range(n)), list(range(1, n + 1)), labels, num_nodes=n + 1)


@pytest.mark.parametrize("cfg", CONFIGS[:3], ids=["ctc", "k2", "nodirect"])
def test_cyclic_form_same_relation(cfg):
    model = CharacterModel(SMALL, cfg)
    cyc = model.graph()
    assert not cyc.acyclic
    for T in range(1, 5):
        for seq in itertools.product(range(3), repeat=T):
            out, _ = gtn.compose(linear(list(seq)), cyc)
            got = [([int(out.olabel[a]) for a in arcs if int(out.olabel[a]) >= 0], pen) for arcs, pen in paths(out)]
            ref = reference(seq, min_frames=cfg.min_frames, allow_direct=cfg.allow_direct)
            if ref is None:
                assert got == [], seq
            else:
                want = sum(ref[1][k] * getattr(cfg, k) for k in ref[1])
                assert len(got) == 1 and got[0][0] == ref[0] and got[0][1] == pytest.approx(want), seq


def test_hand_built_frames_collapse():
    """Default 17-class alphabet: 1 1 none 1 2 2 none none 3 3 -> '1123', spans in frames."""
    a = Alphabet.default()
    frames = [1, 1, 16, 1, 2, 2, 16, 16, 3, 3]
    P = torch.full((len(frames), 17), 9.0)
    P[torch.arange(len(frames)), torch.tensor(frames)] = 0.0
    (r,) = decode_frames(P)
    assert r.text == "1123"
    assert [(s.char, s.start, s.end) for s in r.spans] == [("1", 0, 2), ("1", 3, 4), ("2", 4, 6), ("3", 8, 10)]
    assert r.spans[0].arcs == (0 * 17 + 1, 1 * 17 + 1)
    assert r.spans[3].x_range() == (32, 4 * 9 + 32)
    # without a 'none' frame the repeated 1s merge into one character (the CTC rule)
    P2 = P.clone()
    P2[2] = 9.0
    P2[2, 1] = 0.0
    assert decode_frames(P2)[0].text == "123"
    # a direct transition needs allow_direct; otherwise the model must insert a 'none' somewhere
    strict = CharacterModel(a, CharacterModelConfig(allow_direct=False))
    r2 = decode_frames(P, model=strict)[0]
    assert r2.text != "1123" or r2.penalty >= 9.0
    # min_frames=2: a single-frame detection cannot be a character
    two = CharacterModel(a, CharacterModelConfig(min_frames=2))
    assert decode_frames(P, model=two)[0].text == "123"


@pytest.mark.parametrize("cfg", [CONFIGS[0], CONFIGS[1], CONFIGS[2]], ids=["ctc", "k2", "nodirect"])
def test_compose_frames_equals_composition(cfg):
    torch.manual_seed(0)
    model = CharacterModel(Alphabet.default(), cfg)
    P = torch.randn(9, 17, dtype=torch.float64) * 2
    direct, _ = model.compose_frames(P)
    via_unrolled, _ = gtn.compose(frame_graph(P), model.graph(9))
    via_cyclic, _ = gtn.compose(frame_graph(P), model.graph())
    ref = [float(gtn.forward_penalty(x)[0]) for x in (direct, via_unrolled, via_cyclic)]
    assert ref[0] == pytest.approx(ref[1], abs=1e-9) and ref[0] == pytest.approx(ref[2], abs=1e-9)
    vit = [float(gtn.viterbi_penalty(x)[0]) for x in (direct, via_unrolled, via_cyclic)]
    assert vit[0] == pytest.approx(vit[1]) and vit[0] == pytest.approx(vit[2])
    assert direct.num_arcs == via_unrolled.num_arcs


@pytest.mark.parametrize("target", [[1, 1, 2], [3], [0, 0, 0], [5, 4, 3, 2], []])
def test_ctc_equivalence_loss_and_gradient(target):
    """CTC-like configuration: forward penalty of frames o model o text == ctc_loss, same gradient."""
    torch.manual_seed(len(target))
    T, C = 11, 17
    logits = torch.randn(T, C, dtype=torch.float64, requires_grad=True)
    model = CharacterModel(Alphabet.default())
    lp = logits.log_softmax(-1)
    g, _ = model.compose_frames(-lp)
    text = Alphabet.default().decode(target)
    constrained, _ = gtn.compose(g, Grammar.lexicon([text]).graph())
    ours = gtn.forward_penalty(constrained)[0]
    (g_ours,) = torch.autograd.grad(ours, logits)
    lp2 = logits.log_softmax(-1)
    ref = torch.nn.functional.ctc_loss(lp2[:, None, :], torch.tensor([target], dtype=torch.long),
                                       torch.tensor([T]), torch.tensor([len(target)]), blank=16,
                                       reduction="sum", zero_infinity=False)
    (g_ref,) = torch.autograd.grad(ref, logits)
    assert float(ours.detach()) == pytest.approx(float(ref.detach()), rel=1e-10, abs=1e-10)
    assert torch.allclose(g_ours, g_ref, atol=1e-10)


def test_trainable_penalties_gradcheck():
    model = CharacterModel(SMALL, CharacterModelConfig(trainable=True, min_frames=2, **PEN)).double()
    assert isinstance(model.penalties, torch.nn.Parameter)
    torch.manual_seed(2)
    P = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    target = Grammar.lexicon(["01", "1"], alphabet=SMALL).graph()

    def loss(pen, frames):
        g, _ = torch.func.functional_call(model, {"penalties": pen}, (frames,))
        c, _ = gtn.compose(g, target)
        return gtn.forward_penalty(c)[0]

    pen = model.penalties.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(loss, (pen, P))
    # the nn.Parameter itself receives the gradient through compose_frames()
    g, _ = model.compose_frames(P.detach())
    c, _ = gtn.compose(g, target)
    gtn.forward_penalty(c)[0].backward()
    (want,) = torch.autograd.grad(loss(pen, P.detach()), pen)
    assert torch.allclose(model.penalties.grad, want) and bool((want != 0).any())


def test_ctc_like_forward_is_normalised():
    """With log-softmax frames and zero model penalties, all frame sequences sum to probability 1."""
    torch.manual_seed(3)
    lp = torch.randn(7, 3, dtype=torch.float64).log_softmax(-1)
    g, _ = CharacterModel(SMALL).compose_frames(-lp)
    assert float(gtn.forward_penalty(g)[0]) == pytest.approx(0.0, abs=1e-12)
    pens = [p for _, p in paths(g)]
    assert logsumexp_neg(pens) == pytest.approx(0.0, abs=1e-12) and len(pens) == 3 ** 7


def test_per_frame_beam():
    torch.manual_seed(1)
    P = torch.rand(30, 17, dtype=torch.float64) * 8
    model = CharacterModel()
    full, _ = model.compose_frames(P)
    same, _ = model.compose_frames(P, beam=100.0)
    small, fa = model.compose_frames(P, beam=2.0)
    assert same.num_arcs == full.num_arcs and small.num_arcs < full.num_arcs
    assert torch.equal(same.src, full.src) and torch.equal(same.dst, full.dst)  # pruned/unpruned code paths agree
    # every kept arc reads a class within the beam of its frame's best
    t, c = fa // 17, fa % 17
    assert bool((P[t, c] <= P.min(1).values[t] + 2.0).all())
    # the per-frame best sequence is always kept, so the unconstrained best path can only improve... or stay
    assert float(gtn.viterbi_penalty(small)[0]) >= float(gtn.viterbi_penalty(full)[0]) - 1e-12


@pytest.mark.parametrize("B", [1, 3])
def test_batch_consistency(B):
    torch.manual_seed(B)
    model = CharacterModel(SMALL, CharacterModelConfig(min_frames=2, **PEN)).double()
    P = torch.randn(B, 7, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([7, 4, 6][:B])
    g, fa = model.compose_frames(P, lengths=lengths)
    assert g.batch_size == B
    batched = gtn.forward_penalty(g)
    (grad_b,) = torch.autograd.grad(batched.sum(), P)
    singles = []
    for b in range(B):
        gb, fb = model.compose_frames(P[b, : int(lengths[b])])
        singles.append(gtn.forward_penalty(gb)[0])
    (grad_s,) = torch.autograd.grad(torch.stack(singles).sum(), P)
    assert torch.allclose(batched, torch.stack(singles), atol=1e-12)
    assert torch.allclose(grad_b, grad_s, atol=1e-12)
    for b in range(B):  # padding frames get no gradient
        assert bool((grad_b[b, int(lengths[b]):] == 0).all())
    # the frame-arc map points into penalties.reshape(-1): arc penalty - frame penalty = a kind penalty;
    # -1 marks the epsilon arcs (penalty 0) that join the model's final states into the final node
    eps = fa < 0
    assert bool((g.ilabel[eps] == gtn.EPSILON).all()) and bool((g.penalty[eps] == 0).all())
    rest = (g.penalty[~eps] - P.reshape(-1)[fa[~eps]]).detach()
    assert bool(torch.isclose(rest[:, None], model.penalties[None, :]).any(1).all())
    # frame_graph of a batch
    fg = frame_graph(P.detach())
    assert fg.batch_size == B and fg.num_arcs == B * 7 * 3


def test_errors():
    with pytest.raises(ValueError, match=r"\[decoders.CharacterModel\] the alphabet has no 'none'"):
        CharacterModel(Alphabet.digits())
    with pytest.raises(ValueError, match="min_frames"):
        CharacterModel(config=CharacterModelConfig(min_frames=0))
    with pytest.raises(ValueError, match=r"penalties have 11 classes but the alphabet has 17"):
        CharacterModel().compose_frames(torch.zeros(5, 11))
    with pytest.raises(ValueError, match="need at least one frame"):
        CharacterModel(SMALL).graph(0)
    # min_frames=2 over one frame: only the 'none' reading is left
    one = CharacterModel(SMALL, CharacterModelConfig(min_frames=2)).graph(1)
    assert one.num_arcs == 1 and int(one.ilabel[0]) == NONE
    with pytest.raises(ValueError, match=r"\[decoders.frame_graph\] expected \(T, C\) or"):
        frame_graph(torch.zeros(3))
    assert math.isfinite(float(gtn.forward_penalty(frame_graph(torch.zeros(2, 3)))[0]))
