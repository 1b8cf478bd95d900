"""forward_penalty, viterbi_penalty, viterbi_path, nbest vs brute-force path enumeration; gradcheck."""

import math

import numpy as np
import pytest
import torch

import gtn
from gtn_testutil import arc_posteriors, brute_forward, brute_viterbi, path_penalties, paths, rand_graph


@pytest.mark.parametrize("seed", range(6))
def test_forward_and_viterbi_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    gs = [rand_graph(rng, int(rng.integers(2, 8)), int(rng.integers(8, 16)), 3) for _ in range(5)]
    b = gtn.batch(gs)
    pen = b.penalty.clone().requires_grad_(True)
    f = gtn.forward_penalty(b.with_penalty(pen))
    v = gtn.viterbi_penalty(b)
    assert f.shape == (5,)
    for k, g in enumerate(gs):
        assert f[k].item() == pytest.approx(brute_forward(g), abs=1e-10)
        assert v[k].item() == pytest.approx(brute_viterbi(g), abs=1e-12)
    (grad,) = torch.autograd.grad(f.sum(), pen)
    expect = np.concatenate([arc_posteriors(g) for g in gs])
    np.testing.assert_allclose(grad.numpy(), expect, atol=1e-10)


def test_gradcheck_forward_and_viterbi():
    rng = np.random.default_rng(1)
    g = gtn.batch([rand_graph(rng, 6, 14, 3), rand_graph(rng, 4, 7, 3)])
    p = g.penalty.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: gtn.forward_penalty(g.with_penalty(p)), (p,))
    # Viterbi is piecewise linear; random normal penalties keep the check away from ties
    assert torch.autograd.gradcheck(lambda p: gtn.viterbi_penalty(g.with_penalty(p)), (p,))


def test_batch_consistency_sizes_1_and_3():
    rng = np.random.default_rng(2)
    gs = [rand_graph(rng, 7, 15, 3) for _ in range(3)]
    for size in (1, 3):
        part = gs[:size]
        b = gtn.batch(part)
        p = b.penalty.clone().requires_grad_(True)
        f = gtn.forward_penalty(b.with_penalty(p))
        (gb,) = torch.autograd.grad(f.sum(), p)
        singles, grads = [], []
        for g in part:
            q = g.penalty.clone().requires_grad_(True)
            fs = gtn.forward_penalty(g.with_penalty(q))
            singles.append(fs)
            grads.append(torch.autograd.grad(fs.sum(), q)[0])
        torch.testing.assert_close(f, torch.cat(singles))
        torch.testing.assert_close(gb, torch.cat(grads))
        torch.testing.assert_close(gtn.viterbi_penalty(b), torch.cat([gtn.viterbi_penalty(g) for g in part]))


def test_float32_and_no_path_and_empty_path():
    g = gtn.Graph.from_str("0\n3\n0 1 1 0.5\n1 3 2 0.25\n0 2 1 1\n2 3 2 0.0\n")
    assert g.penalty.dtype == torch.float32
    f = gtn.forward_penalty(g)
    assert f.dtype == torch.float32
    assert f.item() == pytest.approx(-math.log(math.exp(-0.75) + math.exp(-1.0)), rel=1e-6)
    # no path after composing with a string the graph cannot produce
    c, _ = gtn.compose(g, gtn.string_graph([2, 2]))
    p = c.penalty.clone().requires_grad_(True)
    out = gtn.forward_penalty(c.with_penalty(p))
    assert math.isinf(out.item()) and out.item() > 0
    assert math.isinf(gtn.viterbi_penalty(c).item())
    out.sum().backward()
    assert p.grad is None or not p.grad.any()
    assert gtn.viterbi_path(c)[0].arcs.numel() == 0 and gtn.nbest(c, 3) == [[]]
    # start == final: the empty path has penalty 0
    e = gtn.Graph([], [], [], num_nodes=1, start=0, final=0)
    assert gtn.forward_penalty(e).item() == 0.0 and gtn.viterbi_path(e)[0].penalty.item() == 0.0


@pytest.mark.parametrize("seed", range(4))
def test_viterbi_path_and_nbest_match_brute_force(seed):
    rng = np.random.default_rng(10 + seed)
    gs = [rand_graph(rng, 7, 15, 3) for _ in range(3)]
    b = gtn.batch(gs)
    best = gtn.viterbi_path(b)
    top = gtn.nbest(b, 6)
    for k, g in enumerate(gs):
        ps = paths(g)
        sc = path_penalties(g, ps)
        order = np.argsort(sc, kind="stable")
        assert best[k].penalty.item() == pytest.approx(sc[order[0]], abs=1e-12)
        assert best[k].arcs.tolist() in ps
        assert torch.equal(best[k].batch_arcs - int(b.arc_offsets[k]), best[k].arcs)
        got = top[k]
        assert len(got) == min(6, len(ps))
        assert [p.penalty.item() for p in got] == pytest.approx([sc[i] for i in order[:len(got)]], abs=1e-12)
        arcs = [tuple(p.arcs.tolist()) for p in got]
        assert len(set(arcs)) == len(arcs) and all(list(a) in ps for a in arcs)
        assert got[0].labels(side="input") == [x for x in g.ilabel[got[0].arcs].tolist() if x != gtn.EPSILON]


def test_viterbi_path_penalty_gradient_is_indicator():
    g = gtn.Graph.from_str("0\n2\n0 1 1 1.0\n0 1 2 0.5\n1 2 3 0.25\n0 2 4 2.0\n", dtype=torch.float64)
    p = g.penalty.clone().requires_grad_(True)
    path = gtn.viterbi_path(g.with_penalty(p))[0]
    assert path.labels() == [2, 3] and path.penalty.item() == 0.75
    path.penalty.backward()
    assert p.grad.tolist() == [0.0, 1.0, 1.0, 0.0]


def test_viterbi_path_large_batch_uses_same_paths_as_singles():
    # batches above 4 graphs backtrack with one vectorised step per path position
    rng = np.random.default_rng(20)
    gs = [rand_graph(rng, 8, 18, 3) for _ in range(6)]
    big = gtn.viterbi_path(gtn.batch(gs))
    for k, g in enumerate(gs):
        one = gtn.viterbi_path(g)[0]
        assert big[k].arcs.tolist() == one.arcs.tolist()
        assert big[k].penalty.item() == pytest.approx(brute_viterbi(g), abs=1e-12)
    p = gtn.batch(gs).penalty.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: gtn.viterbi_penalty(gtn.batch(gs).with_penalty(p)), (p,))


def test_kernel_is_built_wherever_a_compiler_is():
    """The C kernel is optional for users without a compiler, but on a machine with one (CI, this
    project's machines) a silently failed build would skip the kernel tests and lose its speed."""
    import os
    import shutil

    from gtn._backend import load_kernel

    if os.environ.get("DOCREC_GTN_KERNEL", "auto") == "numpy":
        return  # the numpy path was asked for
    if shutil.which("cc") or shutil.which("gcc"):
        assert load_kernel() is not None, "a C compiler is present but gtn._kernels did not build or import"
