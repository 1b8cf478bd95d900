"""Composition on the compiled kernel (gtn/_compose.c) against the numpy reference (gtn/compose.py).

Both paths must build the same graph: nodes, arcs, labels, penalties, arc maps, starts, finals,
offsets, layering and acyclicity, and the same gradients through it, on seeded random operands:
epsilons on both sides, cyclic grammars, cyclic left operands, batches (one b or one per graph),
graphs without a path, frame graphs with CTC graphs, and the hash-table state lookup.
"""

import sys

import numpy as np
import pytest
import torch

import gtn
from gtn import _backend
from gtn_testutil import rand_graph

kernels = pytest.importorskip("gtn._kernels", reason="the C extension gtn._kernels is not built")
compose_module = sys.modules["gtn.compose"]


def on(kernel, a, b, **kw):
    old = _backend.KERNEL
    _backend.KERNEL = kernel
    try:
        if kernel is not None and kw:
            return compose_module._compose_kernel(kernel, a, b, **kw)
        return gtn.compose(a, b)
    finally:
        _backend.KERNEL = old


def assert_same(a, b, **kw):
    c1, (am1, bm1) = on(kernels, a, b, **kw)
    c2, (am2, bm2) = on(None, a, b)
    for name in ("src", "dst", "ilabel", "olabel", "starts", "finals", "node_offsets", "arc_offsets"):
        assert torch.equal(getattr(c1, name), getattr(c2, name)), name
    assert torch.equal(am1, am2) and torch.equal(bm1, bm2)
    assert torch.equal(c1.penalty, c2.penalty)
    assert c1.num_nodes == c2.num_nodes and c1.acyclic == c2.acyclic
    if c1.acyclic:  # arcs sorted by destination: the kernel scores the result without a level plan
        assert kernels.arcs_sorted(c1.src.numpy(), c1.dst.numpy(), c1.starts.numpy(), c1.finals.numpy())
    h1, h2 = c1._cache.get("node_levels"), c2._cache.get("node_levels")
    assert (h1 is None) == (h2 is None) and (h1 is None or np.array_equal(h1, h2))
    if c1.acyclic and c1.num_arcs:
        wrt = [p for p in (a.penalty, b.penalty) if p.requires_grad]
        grads = [torch.autograd.grad(gtn.forward_penalty(c).sum(), wrt, allow_unused=True) for c in (c1, c2)]
        for g1, g2 in zip(*grads):
            assert (g1 is None) == (g2 is None)
            if g1 is not None:
                torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-12)
    return c1


def leaf(g):
    return g.with_penalty(g.penalty.detach().clone().requires_grad_(True))


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("lookup", ["dense", "hash"])
def test_random_operands_same_graph(seed, lookup):
    rng = np.random.default_rng(seed)
    kw = {"dense_limit": 0} if lookup == "hash" else {}
    a = leaf(rand_graph(rng, int(rng.integers(3, 9)), int(rng.integers(4, 16)), 3, eps=0.3))
    b_acyclic = leaf(rand_graph(rng, int(rng.integers(2, 7)), int(rng.integers(3, 12)), 3, eps=0.3))
    assert_same(a, b_acyclic, **kw)
    # a cyclic grammar whose epsilon arcs are acyclic (eps only forward)
    n = int(rng.integers(2, 6))
    src, dst = list(range(n - 1)), list(range(1, n))
    il = [int(x) for x in rng.integers(0, 3, n - 1)]
    for _ in range(int(rng.integers(2, 8))):
        s, d = rng.integers(0, n, 2).tolist()
        lab = int(rng.integers(0, 3))
        if s >= d and rng.random() < 0.5:
            lab = max(lab, 0)
        elif s < d and rng.random() < 0.3:
            lab = gtn.EPSILON
        src.append(s), dst.append(d), il.append(lab)
    pen = torch.tensor(rng.normal(size=len(src)), requires_grad=True)
    loop = gtn.Graph(src, dst, il, il, pen, num_nodes=n, acyclic=False)
    assert_same(a, loop, **kw)


@pytest.mark.parametrize("paired", [False, True])
def test_batches_same_graph(paired):
    rng = np.random.default_rng(5)
    gs = [rand_graph(rng, int(rng.integers(3, 8)), int(rng.integers(4, 14)), 3) for _ in range(6)]
    a = leaf(gtn.batch(gs))
    if paired:
        b = leaf(gtn.batch([rand_graph(rng, int(rng.integers(2, 6)), int(rng.integers(3, 9)), 3) for _ in gs]))
    else:
        b = leaf(rand_graph(rng, 4, 9, 3))
    assert_same(a, b)
    assert_same(a, b, dense_limit=0)


def test_no_path_and_empty_graphs():
    a = leaf(gtn.Graph.from_str("0\n2\n0 1 1 0.5\n1 2 2 0.25\n"))
    assert_same(a, leaf(gtn.string_graph([2, 2], penalty_dtype=torch.float64)))  # no path
    one = gtn.Graph([], [], [], penalty=torch.zeros(0, dtype=torch.float64), num_nodes=1)
    c = assert_same(one, leaf(gtn.string_graph([], penalty_dtype=torch.float64)))  # the empty path
    assert c.num_nodes == 1 and int(c.starts[0]) == int(c.finals[0])
    assert_same(gtn.batch([a, one, a]), leaf(gtn.string_graph([1, 2], penalty_dtype=torch.float64)))


@pytest.mark.parametrize("seed", range(3))
def test_frames_with_ctc_same_graph(seed):
    g = torch.Generator().manual_seed(seed)
    B, T, C = 5, 9, 4
    lens = torch.tensor([9, 7, 9, 3, 1])
    x = torch.randn(B, T, C, generator=g, dtype=torch.float64).log_softmax(-1).neg().requires_grad_(True)
    targets = [[1, 2], [3, 3], [1, 2, 3], [2], [1]]
    fg = gtn.frame_graph(x, lengths=lens)
    ctc = gtn.batch([gtn.ctc_graph(t, penalty_dtype=torch.float64) for t in targets])
    c = assert_same(fg, ctc)
    # the last two strings cannot be read from 3 and 1 frames except [2] and [1]: all have a path
    assert torch.isfinite(gtn.forward_penalty(c)).all()
    ref = torch.nn.functional.ctc_loss(-x.transpose(0, 1), torch.tensor([t + [0] * (3 - len(t)) for t in targets]),
                                       lens, torch.tensor([len(t) for t in targets]), reduction="none")
    torch.testing.assert_close(gtn.forward_penalty(c), ref)


@pytest.mark.parametrize("seed", range(4))
def test_frame_fast_path_equals_the_general_expansion(seed):
    g = torch.Generator().manual_seed(10 + seed)
    lens = torch.tensor([6, 0, 4, 6])
    x = torch.randn(4, 6, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    fg = gtn.frame_graph(x, lengths=lens)
    rng = np.random.default_rng(seed)
    grammars = [leaf(rand_graph(rng, int(rng.integers(2, 6)), int(rng.integers(3, 12)), 4, eps=0.3, transducer=False)),
                leaf(gtn.batch([gtn.ctc_graph([1, 1], penalty_dtype=torch.float64), gtn.string_graph([], penalty_dtype=torch.float64),
                                gtn.ctc_graph([2], penalty_dtype=torch.float64), gtn.ctc_graph([1, 2, 1], penalty_dtype=torch.float64)]))]
    for b in grammars:
        fast = on(kernels, fg, b)
        general = compose_module._compose_kernel(kernels, fg, b)
        for t1, t2 in zip((fast[0].src, fast[0].dst, fast[0].penalty, *fast[1], fast[0].node_offsets,
                           fast[0].arc_offsets, fast[0].starts, fast[0].finals),
                          (general[0].src, general[0].dst, general[0].penalty, *general[1], general[0].node_offsets,
                           general[0].arc_offsets, general[0].starts, general[0].finals)):
            assert torch.equal(t1, t2)
        assert np.array_equal(fast[0]._cache["node_levels"], general[0]._cache["node_levels"])
        assert_same(fg, b)


def test_epsilon_cycle_in_b_rejected_on_both_paths():
    a = gtn.Graph.from_str("0\n1\n0 1 1\n")
    b = gtn.Graph.from_str("0\n1\n0 1 1\n1 1 -1\n", acyclic=False)
    for kernel in (kernels, None):
        with pytest.raises(ValueError, match=r"\[gtn.compose\] the composition is cyclic"):
            on(kernel, a, b)


@pytest.mark.parametrize("seed", range(8))
def test_cyclic_left_operand_same_graph(seed):
    rng = np.random.default_rng(50 + seed)
    a = leaf(rand_graph(rng, int(rng.integers(2, 6)), int(rng.integers(3, 10)), 3, acyclic=False, eps=0.2))
    b = leaf(rand_graph(rng, int(rng.integers(2, 6)), int(rng.integers(3, 10)), 3, acyclic=False, eps=0.0))
    assert_same(a, b)
    b2 = leaf(rand_graph(rng, int(rng.integers(2, 6)), int(rng.integers(3, 10)), 3, eps=0.2))
    assert_same(a, b2)


def test_two_threads_give_the_same_results(monkeypatch):
    """The kernel splits a batch at graph boundaries over gtn.get_num_threads() threads."""
    monkeypatch.setattr(_backend, "KERNEL", kernels)
    g = torch.Generator().manual_seed(3)
    B, T, C = 16, 60, 6
    x = torch.randn(B, T, C, generator=g, dtype=torch.float64).log_softmax(-1).neg()
    targets = torch.randint(1, C, (B, 7), generator=g)
    lens = torch.randint(40, T + 1, (B,), generator=g)
    old = gtn.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            gtn.set_num_threads(n)
            xx = x.clone().requires_grad_(True)
            c, maps = on(kernels, gtn.frame_graph(xx, lengths=lens), gtn.ctc_graphs(targets))
            from gtn.scoring import plan_of
            assert plan_of(c).fast() and (n == 1 or plan_of(c).cuts().size == 3)
            loss = gtn.forward_penalty(c)
            (grad,) = torch.autograd.grad(loss.sum(), xx)
            best = gtn.viterbi_penalty(c.with_penalty(c.penalty.detach()))
            results.append((c.src, c.dst, *maps, loss.detach(), grad, best))
    finally:
        gtn.set_num_threads(old)
    for t1, t2 in zip(*results):
        assert torch.equal(t1, t2)
    with pytest.raises(ValueError, match=r"\[gtn.set_num_threads\] expected a positive integer"):
        gtn.set_num_threads(0)
