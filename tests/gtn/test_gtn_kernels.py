"""The compiled scoring kernel (gtn._kernels) against the numpy level path of gtn/scoring.py.

Both paths run in the same process (``gtn._backend.KERNEL`` swapped by monkeypatch), on seeded random
graphs with ties, unreachable nodes, dead ends, batches, float32 and float64 penalties, graphs
without arcs and graphs without a path. Viterbi scores, back-pointers and paths must agree exactly;
log-sum-exp results to rounding (numpy's and libm's exp/log may differ by an ulp).
"""

import math

import numpy as np
import pytest
import torch
from gtn_testutil import rand_graph

import gtn
from gtn import _backend
from gtn._arrays import longest_path_levels
from gtn._backend import load_kernel
from gtn.scoring import level_penalties, plan_of
from gtn.sweeps import KernelLevels, KernelSorted, NumpyLevels, sweeps

kernels = pytest.importorskip("gtn._kernels", reason="the C extension gtn._kernels is not built")


def messy_graph(rng, n, a, *, ties, dtype):
    """Random DAG with no start -> final guarantee beyond one chain through a few nodes: some nodes
    unreachable from the start, some with no way to the final, parallel arcs; integer penalties
    (``ties``) make many paths tie."""
    src, dst = [0, n // 2], [n // 2, n - 1]  # the only guaranteed path skips most nodes
    while len(src) < a:
        s, d = sorted(rng.choice(n, 2, replace=False).tolist())
        if s == 0 and rng.random() < 0.7:  # keep the start sparse so that nodes stay unreachable
            continue
        src.append(s), dst.append(d)
    if rng.random() < 0.3:
        src.append(src[-1]), dst.append(dst[-1])  # a parallel arc
    pen = rng.integers(0, 3, len(src)).astype(float) if ties else rng.normal(size=len(src))
    return gtn.Graph(src, dst, [1] * len(src), None, torch.tensor(pen, dtype=dtype), num_nodes=n)


def batches():
    """(name, batched graph) cases covering the shapes the kernel must handle."""
    out = []
    for seed in range(8):
        rng = np.random.default_rng(100 + seed)
        dtype = torch.float32 if seed % 2 else torch.float64
        ties = seed % 4 < 2
        gs = [messy_graph(rng, int(rng.integers(3, 12)), int(rng.integers(4, 30)), ties=ties, dtype=dtype)
              for _ in range(int(rng.integers(1, 6)))]
        gs += [rand_graph(rng, 6, 14, 3, dtype=dtype)]
        out.append((f"random{seed}", gtn.batch(gs)))
    one = gtn.Graph([], [], [], num_nodes=1, start=0, final=0)  # the empty path: penalty 0
    out.append(("empty_path", one))
    out.append(("empty_in_batch", gtn.batch([one, rand_graph(np.random.default_rng(7), 5, 9, 2), one])))
    g = gtn.Graph.from_str("0\n3\n0 1 1 0.5\n1 3 2 0.25\n0 2 1 1\n2 3 2 0.0\n")
    nopath, _ = gtn.compose(g, gtn.string_graph([2, 2]))  # no path at all: inf
    out.append(("no_path", gtn.batch([nopath, g, nopath])))
    deep = gtn.Graph(np.arange(300), np.arange(1, 301), np.zeros(300, dtype=np.int64), None,
                     torch.randn(300, generator=torch.Generator().manual_seed(0), dtype=torch.float64),
                     num_nodes=301)
    out.append(("chain300", deep))
    return out


CASES = batches()
IDS = [name for name, _ in CASES]


def both(monkeypatch, fn):
    """``fn()`` with the kernel, then with the numpy levels."""
    monkeypatch.setattr(_backend, "KERNEL", kernels)
    with_kernel = fn()
    monkeypatch.setattr(_backend, "KERNEL", None)
    with_numpy = fn()
    return with_kernel, with_numpy


@pytest.mark.parametrize("case", [g for _, g in CASES], ids=IDS)
def test_plan_sweeps_agree(monkeypatch, case):
    """The three sweep implementations of gtn/sweeps.py on one plan: numpy levels (the reference),
    kernel levels, and (for a graph sorted by destination) the kernel's own-order sweep."""
    monkeypatch.setattr(_backend, "KERNEL", kernels)
    plan = plan_of(case)
    ref, lev = NumpyLevels(), KernelLevels(kernels)
    impls = [lev] + ([KernelSorted(kernels)] if plan.sorted else [])
    p_ref = ref.arrange(plan, case.penalty)
    ns, nb = ref.viterbi(plan, p_ref)
    nbw = ref.backward_tropical(plan, p_ref)
    na = ref.forward(plan, p_ref)
    gf = np.linspace(0.5, 1.5, case.batch_size)
    np_post = ref.to_arcs(plan, ref.posteriors(plan, p_ref, na, gf))
    for impl in impls:
        p = impl.arrange(plan, case.penalty)
        ks, kb = impl.viterbi(plan, p)
        np.testing.assert_array_equal(ks, ns)  # tropical: exactly the same numbers
        np.testing.assert_array_equal(kb, nb)  # and the same first tight arc into every node
        np.testing.assert_array_equal(impl.backward_tropical(plan, p), nbw)
        ka = impl.forward(plan, p)
        np.testing.assert_allclose(ka, na, rtol=1e-13, atol=0)
        kp = impl.to_arcs(plan, impl.posteriors(plan, p, na, gf))
        np.testing.assert_allclose(kp, np_post, rtol=1e-12, atol=1e-300)


def test_sorted_graphs_take_the_sorted_sweep(monkeypatch):
    monkeypatch.setattr(_backend, "KERNEL", kernels)
    fg = gtn.frame_graph(torch.randn(3, 5, 4, dtype=torch.float64))
    c, _ = gtn.compose(fg, gtn.ctc_graphs([[1], [2, 3], [1, 1]], penalty_dtype=torch.float64))
    for g in (fg, c, CASES[-1][1]):
        assert plan_of(g).sorted
        assert isinstance(sweeps(plan_of(g)), KernelSorted)
        assert isinstance(sweeps(plan_of(g), levels=True), KernelLevels)
    monkeypatch.setattr(_backend, "KERNEL", None)
    assert type(sweeps(plan_of(c))) is NumpyLevels


@pytest.mark.parametrize("case", [g for _, g in CASES], ids=IDS)
def test_public_scores_and_gradients_agree(monkeypatch, case):
    def run():
        q = case.penalty.detach().clone().requires_grad_(True)
        f = gtn.forward_penalty(case.with_penalty(q))
        (gf,) = torch.autograd.grad(f.sum(), q, allow_unused=True)
        r = case.penalty.detach().clone().requires_grad_(True)
        v = gtn.viterbi_penalty(case.with_penalty(r))
        (gv,) = torch.autograd.grad(v.sum(), r, allow_unused=True)
        paths = [(path.batch_arcs.tolist(), path.penalty.item()) for path in gtn.viterbi_path(case)]
        return f.detach(), gf, v.detach(), gv, paths

    (kf, kgf, kv, kgv, kpaths), (nf, ngf, nv, ngv, npaths) = both(monkeypatch, run)
    assert kf.dtype == nf.dtype == case.penalty.dtype
    tol = dict(rtol=1e-12, atol=1e-12) if case.penalty.dtype == torch.float64 else dict(rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(kf, nf, **tol)  # inf where there is no path, in both
    zero = torch.zeros_like(case.penalty)
    torch.testing.assert_close(zero if kgf is None else kgf, zero if ngf is None else ngf, **tol)
    torch.testing.assert_close(kv, nv, rtol=0, atol=0)
    torch.testing.assert_close(zero if kgv is None else kgv, zero if ngv is None else ngv, rtol=0, atol=0)
    assert kpaths == npaths


@pytest.mark.parametrize("case", [g for _, g in CASES[:4]], ids=IDS[:4])
def test_prune_and_nbest_agree(monkeypatch, case):
    (kg, kmap), (ng, nmap) = both(monkeypatch, lambda: gtn.prune(case, 1.0))
    assert kmap.tolist() == nmap.tolist() and kg.num_nodes == ng.num_nodes
    kn, nn = both(monkeypatch, lambda: [[q.batch_arcs.tolist() for q in ps] for ps in gtn.nbest(case, 3)])
    assert kn == nn


def test_no_path_and_empty_values(monkeypatch):
    name_to = dict(CASES)
    for k in (kernels, None):
        monkeypatch.setattr(_backend, "KERNEL", k)
        f = gtn.forward_penalty(name_to["no_path"])
        assert math.isinf(f[0].item()) and f[0].item() > 0 and math.isfinite(f[1].item())
        assert gtn.viterbi_path(name_to["no_path"])[0].arcs.numel() == 0
        e = gtn.forward_penalty(name_to["empty_in_batch"])
        assert e[0].item() == 0.0 and e[2].item() == 0.0
        assert [q.arcs.numel() for q in gtn.viterbi_path(name_to["empty_in_batch"])][::2] == [0, 0]


@pytest.mark.parametrize("seed", range(6))
def test_longest_path_levels_agree(monkeypatch, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    a = int(rng.integers(0, 4 * n))
    src, dst = rng.integers(0, n, a), rng.integers(0, n, a)
    if seed % 2:  # acyclic (with parallel arcs); even seeds keep cycles and self-loops: -1 on and after them
        src, dst = np.minimum(src, dst), np.maximum(src, dst)
        keep = src < dst
        src, dst = src[keep], dst[keep]
    k, m = both(monkeypatch, lambda: longest_path_levels(n, src, dst))
    np.testing.assert_array_equal(k, m)
    assert k.dtype == np.int64
    if seed % 2:
        assert (k >= 0).all()


def test_plan_of_a_fresh_graph_agrees(monkeypatch):
    """The plan itself (longest-path levels via the kernel) is the same as with numpy."""
    rng = np.random.default_rng(5)
    g = gtn.batch([rand_graph(rng, 9, 25, 3) for _ in range(3)])

    def plan():
        h = g.with_penalty(g.penalty)
        h._cache = {}
        pl = plan_of(h)
        return pl.perm.tolist(), pl.bounds.tolist(), len(pl.levels)

    k, m = both(monkeypatch, plan)
    assert k == m


def test_kernel_rejects_bad_buffers():
    reads = np.array([0, 1], dtype=np.int64)
    writes = np.array([1, 2], dtype=np.int64)
    p = np.zeros(2)
    bounds = np.array([0, 1, 2], dtype=np.int64)
    score = np.zeros(3)
    kernels.lse_forward(reads, writes, p, bounds, score)  # fine
    with pytest.raises(TypeError, match="float64"):
        kernels.lse_forward(reads, writes, p.astype(np.float32), bounds, score)
    with pytest.raises(TypeError, match="int64"):
        kernels.lse_forward(reads.astype(np.int32), writes, p, bounds, score)
    with pytest.raises(ValueError, match="outside"):
        kernels.lse_forward(reads, np.array([1, 3], dtype=np.int64), p, bounds, score)
    with pytest.raises(ValueError, match="bounds"):
        kernels.lse_forward(reads, writes, p, np.array([0, 1], dtype=np.int64), score)
    with pytest.raises(TypeError, match="writable"):
        ro = score.copy()
        ro.flags.writeable = False
        kernels.lse_forward(reads, writes, p, bounds, ro)
    with pytest.raises(ValueError, match="back-pointers"):
        kernels.backtrack(np.full(3, -1, dtype=np.int64), reads, np.zeros(1, dtype=np.int64),
                          np.array([2], dtype=np.int64), np.ones(1, dtype=np.int64),
                          np.empty(3, dtype=np.int64), np.empty(1, dtype=np.int64))


def test_environment_variable_selects_the_backend(monkeypatch):
    monkeypatch.setenv("DOCREC_GTN_KERNEL", "numpy")
    assert load_kernel() is None
    monkeypatch.setenv("DOCREC_GTN_KERNEL", "c")
    assert load_kernel() is kernels
    monkeypatch.setenv("DOCREC_GTN_KERNEL", "")
    assert load_kernel() is kernels
    monkeypatch.setenv("DOCREC_GTN_KERNEL", "fortran")
    with pytest.raises(ValueError, match="DOCREC_GTN_KERNEL"):
        load_kernel()
