"""The CTC special case vs torch.nn.functional.ctc_loss; the four criteria; recognize."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import gtn
from gtn_testutil import brute_forward, brute_viterbi, paths


def ctc_case(B=3, T=12, C=5, L=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(T, B, C, dtype=torch.float64, generator=g)
    lengths = torch.randint(1, L + 1, (B,), generator=g)
    targets = torch.randint(1, C, (B, L), generator=g)
    targets[0, :2] = 1  # a repeated label (needs a blank in between)
    lengths[0] = max(int(lengths[0]), 2)
    return logits, targets, lengths


def ours(log_probs, targets, lengths):
    fg = gtn.frame_graph(-log_probs.transpose(0, 1))  # (B, T, C) penalties
    cg = gtn.batch([gtn.ctc_graph(t[:n].tolist()) for t, n in zip(targets, lengths)])
    c, _ = gtn.compose(fg, cg)
    return gtn.forward_penalty(c)


def test_ctc_loss_and_gradients_match_torch():
    logits, targets, lengths = ctc_case()
    T, B, _ = logits.shape
    x1 = logits.clone().requires_grad_(True)
    x2 = logits.clone().requires_grad_(True)
    lp1, lp2 = x1.log_softmax(-1), x2.log_softmax(-1)
    lp1.retain_grad(), lp2.retain_grad()
    mine = ours(lp1, targets, lengths)
    ref = nn.functional.ctc_loss(lp2, targets, torch.full((B,), T), lengths, reduction="none")
    torch.testing.assert_close(mine, ref, rtol=1e-10, atol=1e-10)
    mine.sum().backward()
    ref.sum().backward()
    # w.r.t. the logits (through log_softmax) the gradients agree exactly ...
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-9, atol=1e-10)
    # ... and w.r.t. the log-probs, ours is -(occupancy posterior) while PyTorch's CTC backward
    # returns exp(log_probs) - occupancy (it folds in the log_softmax normalisation)
    torch.testing.assert_close(lp1.grad + lp1.detach().exp(), lp2.grad, rtol=1e-9, atol=1e-10)
    assert torch.allclose(lp1.grad.sum(-1), -torch.ones(T, B, dtype=torch.float64))


def test_ctc_gradcheck_through_compose():
    logits, targets, lengths = ctc_case(B=2, T=5, C=3, L=2, seed=1)
    x = logits.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: ours(x.log_softmax(-1), targets, lengths), (x,))


def interpretation(rng, n=5, arcs=12, labels=3):
    """A random acyclic acceptor whose labels are classes (an interpretation graph)."""
    from gtn_testutil import rand_graph
    return rand_graph(rng, n, arcs, labels, eps=0.0, transducer=False)


def constrained_brute(g, target):
    ps = [p for p in paths(g) if [x for x in g.olabel[p].tolist() if x != gtn.EPSILON] == list(target)]
    sc = [float(g.penalty[p].sum()) for p in ps]
    if not sc:
        return math.inf, math.inf
    m = min(sc)
    return m, m - math.log(sum(math.exp(-(s - m)) for s in sc))


def test_criteria_match_definitions_and_gradcheck():
    rng = np.random.default_rng(4)
    gs, targets = [], []
    while len(gs) < 3:
        g = interpretation(rng)
        ps = paths(g)
        t = g.olabel[ps[int(rng.integers(len(ps)))]].tolist()  # a label string the graph can produce
        gs.append(g), targets.append(t)
    b = gtn.batch(gs)
    vit = gtn.viterbi_loss(b, targets)
    dvit = gtn.discriminative_viterbi_loss(b, targets)
    fwd = gtn.forward_loss(b, targets)
    dfwd = gtn.discriminative_forward_loss(b, targets)
    for k, (g, t) in enumerate(zip(gs, targets)):
        cv, cf = constrained_brute(g, t)
        assert vit[k].item() == pytest.approx(cv, abs=1e-10)
        assert dvit[k].item() == pytest.approx(cv - brute_viterbi(g), abs=1e-10)
        assert fwd[k].item() == pytest.approx(cf, abs=1e-10)
        assert dfwd[k].item() == pytest.approx(cf - brute_forward(g), abs=1e-10)
    assert (dfwd >= -1e-12).all() and (dvit >= -1e-12).all()
    p = b.penalty.clone().requires_grad_(True)
    for crit in (gtn.viterbi_loss, gtn.discriminative_viterbi_loss, gtn.forward_loss,
                 gtn.discriminative_forward_loss):
        assert torch.autograd.gradcheck(lambda p: crit(b.with_penalty(p), targets), (p,)), crit.__name__


def test_criteria_single_graph_target_forms_and_no_path():
    g = gtn.Graph.from_str("0\n2\n0 1 1 0.5\n0 1 2 1.0\n1 2 3 0.0\n1 2 1 2.0\n", dtype=torch.float64)
    a = gtn.discriminative_forward_loss(g, [1, 3])
    b = gtn.discriminative_forward_loss(g, gtn.string_graph([1, 3], penalty_dtype=torch.float64))
    torch.testing.assert_close(a, b)
    # -log posterior of the target string
    z = math.exp(-0.5) + math.exp(-1.0) + math.exp(-2.5) + math.exp(-3.0)
    assert a.item() == pytest.approx(-math.log(math.exp(-0.5) / z))
    assert math.isinf(gtn.forward_loss(g, [3, 3]).item())
    assert gtn.forward_loss(g, [3, 3], zero_infinity=True).item() == 0.0
    with pytest.raises(ValueError, match=r"\[gtn.criteria\] got 2 targets for a batch of 1"):
        gtn.forward_loss(g, [[1], [2]])


class TinyNet(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.lin = nn.Linear(4, classes).double()

    def forward(self, x):  # (A, 1, 2, 2) -> (A, C) penalties
        return -self.lin(x.reshape(len(x), -1)).log_softmax(-1)


def seg_graph():
    torch.manual_seed(0)
    data = torch.randn(4, 1, 2, 2, dtype=torch.float64)
    return gtn.Graph([0, 0, 1, 1], [1, 2, 2, 2], [gtn.EPSILON] * 4,
                     penalty=torch.tensor([0.1, 0.7, 0.2, 0.4], dtype=torch.float64), num_nodes=3, data=data)


def test_recognize_expands_arcs_and_gradchecks():
    g, net = seg_graph(), TinyNet()
    out, amap = gtn.recognize(g, net)
    assert out.num_arcs == 12 and amap.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    scores = net(g.data)
    torch.testing.assert_close(out.penalty, (g.penalty[:, None] + scores).reshape(-1))
    assert out.olabel.tolist() == [0, 1, 2] * 4 and out.is_acceptor
    top, tmap = gtn.recognize(g, net, top_k=2)
    assert top.num_arcs == 8
    assert torch.equal(top.penalty.reshape(4, 2), (g.penalty[:, None] + scores).sort(1).values[:, :2])
    # a path says which piece each character came from
    best = gtn.viterbi_path(out)[0]
    assert set(amap[best.arcs].tolist()) <= {0, 1, 2, 3}
    # gradients flow into the recogniser's weights and the segmentation penalties
    w = net.lin.weight
    pen = g.penalty.clone().requires_grad_(True)

    def loss(weight, pen):
        with torch.no_grad():
            w.copy_(weight)
        gg = gtn.Graph._raw(g.src, g.dst, g.ilabel, g.olabel, pen, num_nodes=3, starts=g.starts,
                            finals=g.finals, node_offsets=g.node_offsets, arc_offsets=g.arc_offsets, data=g.data)
        interp, _ = gtn.recognize(gg, lambda x: -nn.functional.linear(x.reshape(len(x), -1), weight,
                                                                      net.lin.bias).log_softmax(-1))
        return gtn.discriminative_forward_loss(interp, [1, 2])

    weight = w.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(loss, (weight, pen))


def test_recognize_batch_consistency_and_errors():
    g, net = seg_graph(), TinyNet()
    b = gtn.batch([g, g, g])
    out, _ = gtn.recognize(b, net, chunk_size=5)
    single, _ = gtn.recognize(g, net)
    torch.testing.assert_close(gtn.forward_penalty(out), gtn.forward_penalty(single).repeat(3))
    with pytest.raises(ValueError, match=r"\[gtn.recognize\] the graph carries no per-arc data"):
        gtn.recognize(gtn.Graph([0], [1], [1], num_nodes=2), net)
    with pytest.raises(ValueError, match=r"returned shape \(4, 1, 3\)"):
        gtn.recognize(g, lambda x: net(x)[:, None])
    with pytest.raises(ValueError, match="either a recognizer or penalties"):
        gtn.recognize(g, net, penalties=net(g.data))
    with pytest.raises(ValueError, match=r"classes must be non-empty ids in \[0, 3\)"):
        gtn.recognize(g, net, classes=[0, 3])


def test_recognize_with_given_penalties_classes_and_segmentation_weight():
    g, net = seg_graph(), TinyNet()
    scores = net(g.data).detach().double().requires_grad_(True)
    full, fmap = gtn.recognize(g, net)
    given, gmap = gtn.recognize(g.with_penalty(g.penalty), penalties=scores)
    assert torch.equal(fmap, gmap) and torch.equal(full.olabel, given.olabel)
    torch.testing.assert_close(given.penalty, full.penalty.double())
    # a subset of classes (in the order given) and a weighted segmentation penalty
    sub, smap = gtn.recognize(g, penalties=scores, classes=[2, 0], seg_weight=0.5)
    assert sub.num_arcs == 2 * g.num_arcs and torch.equal(sub.olabel[:2], torch.tensor([2, 0]))
    expect = 0.5 * g.penalty.double()[smap] + scores[smap, sub.olabel]
    torch.testing.assert_close(sub.penalty, expect)
    # top_k among the subset keeps labels from the subset only
    top, _ = gtn.recognize(g, penalties=scores, classes=[2, 0], top_k=1)
    assert set(top.olabel.tolist()) <= {0, 2}
    assert torch.autograd.gradcheck(lambda s: gtn.forward_penalty(gtn.recognize(g, penalties=s, classes=[1, 2])[0]),
                                    (scores,))


@pytest.mark.parametrize("padded", [False, True])
def test_ctc_graphs_batch_equals_the_single_builder(padded):
    targets = [[1, 2, 2], [], [3], [1, 1, 1, 2], [2, 3]]
    expect = gtn.batch([gtn.ctc_graph(t) for t in targets])
    if padded:
        y = torch.zeros(len(targets), 4, dtype=torch.long)
        for i, t in enumerate(targets):
            y[i, :len(t)] = torch.tensor(t, dtype=torch.long)
        got = gtn.ctc_graphs(y, lengths=[len(t) for t in targets])
    else:
        got = gtn.ctc_graphs(targets)
    for name in ("src", "dst", "ilabel", "olabel", "penalty", "starts", "finals", "node_offsets", "arc_offsets"):
        assert torch.equal(getattr(got, name), getattr(expect, name)), name
    assert not got.acyclic and got.num_nodes == expect.num_nodes


def test_ctc_graphs_and_string_graphs_refuse_bad_labels():
    with pytest.raises(ValueError, match=r"\[gtn.ctc_graphs\] target 1 \[0\] contains the blank"):
        gtn.ctc_graphs([[1], [0]])
    with pytest.raises(ValueError, match=r"\[gtn.ctc_graphs\] lengths"):
        gtn.ctc_graphs(torch.ones(2, 3, dtype=torch.long), lengths=[4, 1])
    with pytest.raises(ValueError, match=r"\[gtn.string_graphs\] labels must be >= 0"):
        gtn.string_graphs([[1], [-3]])


def test_string_graphs_batch_equals_the_single_builder():
    labels = [[1, 2], [], [0, 0, 3]]
    expect = gtn.batch([gtn.string_graph(x) for x in labels])
    got = gtn.string_graphs(labels)
    for name in ("src", "dst", "ilabel", "olabel", "penalty", "starts", "finals", "node_offsets", "arc_offsets"):
        assert torch.equal(getattr(got, name), getattr(expect, name)), name
