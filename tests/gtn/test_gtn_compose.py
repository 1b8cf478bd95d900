"""compose: the composed graph's paths are exactly the matched path pairs (epsilons on both sides)."""

import numpy as np
import pytest
import torch

import gtn
from gtn_testutil import brute_forward, paths, rand_graph, strip


def b_paths_matching(a, b):
    """Paths of a (possibly cyclic) b whose input string is a prefix of some output string of a.

    Valid when b's epsilon-input arcs are acyclic, so every epsilon run is shorter than b.num_nodes.
    """
    prefixes = set()
    for p in paths(a):
        s = strip(a.olabel[p].tolist())
        prefixes.update(s[:i] for i in range(len(s) + 1))
    out = [[] for _ in range(b.num_nodes)]
    for i, s in enumerate(b.src.tolist()):
        out[s].append(i)
    il, dst, res = b.ilabel.tolist(), b.dst.tolist(), []

    def rec(node, acc, labels, run):
        if node == b.final:
            res.append(list(acc))
        for arc in out[node]:
            lab = il[arc]
            nl = labels if lab == gtn.EPSILON else labels + (lab,)
            nr = run + 1 if lab == gtn.EPSILON else 0
            if nl in prefixes and nr < b.num_nodes:
                acc.append(arc)
                rec(dst[arc], acc, nl, nr)
                acc.pop()

    rec(b.start, [], (), 0)
    return res


def matched_pairs(a, b, max_len_b=None):
    pa = paths(a)
    pb = paths(b) if max_len_b is None else b_paths_matching(a, b)
    return sorted((tuple(x), tuple(y)) for x in pa for y in pb
                  if strip(a.olabel[x].tolist()) == strip(b.ilabel[y].tolist()))


def composed_pairs(c, amap, bmap):
    out = []
    for p in paths(c):
        out.append((tuple(x for x in amap[p].tolist() if x >= 0), tuple(x for x in bmap[p].tolist() if x >= 0)))
    return sorted(out)


def check(a, b, c, amap, bmap, max_len_b=None):
    got = composed_pairs(c, amap, bmap)
    assert len(got) == len(set(got)), "duplicated paths (epsilon filter)"
    assert got == matched_pairs(a, b, max_len_b)
    assert bool((c.src < c.dst).all())
    # labels and penalties of every output arc come from its sources
    assert torch.equal(c.ilabel, torch.where(amap >= 0, a.ilabel[amap.clamp(min=0)], gtn.EPSILON))
    assert torch.equal(c.olabel, torch.where(bmap >= 0, b.olabel[bmap.clamp(min=0)], gtn.EPSILON))
    zero = torch.zeros(1, dtype=a.penalty.dtype)
    expect = torch.cat([a.penalty, zero])[torch.where(amap >= 0, amap, a.num_arcs)] + \
        torch.cat([b.penalty, zero])[torch.where(bmap >= 0, bmap, b.num_arcs)]
    torch.testing.assert_close(c.penalty, expect)


@pytest.mark.parametrize("seed", range(8))
def test_compose_acyclic_with_epsilons_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    for _ in range(6):
        a = rand_graph(rng, int(rng.integers(2, 7)), int(rng.integers(5, 12)), 3, eps=0.3)
        b = rand_graph(rng, int(rng.integers(2, 6)), int(rng.integers(4, 10)), 3, eps=0.3)
        c, (amap, bmap) = gtn.compose(a, b)
        check(a, b, c, amap, bmap)


@pytest.mark.parametrize("seed", range(4))
def test_compose_cyclic_b_matches_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    done = 0
    while done < 6:
        a = rand_graph(rng, 5, 9, 3, eps=0.2)
        b = rand_graph(rng, 3, 6, 3, eps=0.15, acyclic=False)
        b_eps = b.ilabel == gtn.EPSILON
        try:
            c, (amap, bmap) = gtn.compose(a, b)
        except ValueError as err:
            # only legitimate when b has a cycle made of epsilon-input arcs
            assert "cyclic" in str(err)
            assert gtn.Graph(b.src[b_eps], b.dst[b_eps], b.ilabel[b_eps], num_nodes=b.num_nodes,
                             validate=False).levels().min() < 0
            continue
        # a's paths have <= 9 arcs, so a matched b path has <= 9 non-epsilon arcs; b's epsilon
        # arcs here are acyclic, so 9 * (3 + 1) + 3 bounds the b path length
        check(a, b, c, amap, bmap, max_len_b=40)
        done += 1


def test_compose_cyclic_result_rejected_or_kept_cyclic():
    a = gtn.Graph.from_str("0\n1\n0 1 1\n")
    b = gtn.Graph.from_str("0\n1\n0 1 1\n1 1 -1\n", acyclic=False)  # an epsilon self-loop at the final
    with pytest.raises(ValueError, match=r"\[gtn.compose\] the composition is cyclic"):
        gtn.compose(a, b)
    # a cyclic left operand: the result keeps the cycle (acyclic=False) and scoring refuses it clearly
    c, (amap, bmap) = gtn.compose(b, a)
    assert not c.acyclic
    assert sorted(zip(amap.tolist(), bmap.tolist())) == [(0, 0), (1, -1)]
    with pytest.raises(ValueError, match="acyclic=False"):
        gtn.forward_penalty(c)


def bounded_paths(g, max_len):
    """start -> final paths of a (possibly cyclic) single graph with at most ``max_len`` arcs."""
    return paths(g, max_len=max_len)


@pytest.mark.parametrize("seed", range(8))
def test_compose_cyclic_a_matches_brute_force(seed):
    # a cyclic without epsilon outputs, b acyclic: every matched a path has at most as many arcs as
    # b has non-epsilon arcs on a path, so bounded enumeration of a is exact and the result is acyclic
    rng = np.random.default_rng(300 + seed)
    a = rand_graph(rng, int(rng.integers(2, 5)), int(rng.integers(3, 9)), 2, acyclic=False, eps=0.0)
    b = rand_graph(rng, int(rng.integers(2, 6)), int(rng.integers(3, 10)), 2, eps=0.3)
    c, (amap, bmap) = gtn.compose(a, b)
    assert c.acyclic
    pa, pb = bounded_paths(a, b.num_arcs), paths(b)
    expect = sorted((tuple(x), tuple(y)) for x in pa for y in pb
                    if strip(a.olabel[x].tolist()) == strip(b.ilabel[y].tolist()))
    got = composed_pairs(c, amap, bmap)
    assert len(got) == len(set(got))
    assert got == expect
    assert bool((c.src < c.dst).all())
    if got:
        torch.testing.assert_close(gtn.forward_penalty(c), torch.tensor([brute_forward(c)], dtype=c.penalty.dtype))


def test_compose_grammar_with_loop():
    # b: any number of 1s then a 2 (a loop), a: a few fixed strings
    b = gtn.Graph.from_str("0\n1\n0 0 1 1 0.5\n0 1 2 2 0.25\n", acyclic=False)
    a = gtn.Graph.from_str("0\n4\n0 1 1 0\n1 2 1 0\n2 4 2 0\n0 3 2 0\n3 4 1 0\n")
    c, (amap, bmap) = gtn.compose(a, b)
    labels = sorted(tuple(c.olabel[p].tolist()) for p in paths(c))
    assert labels == [(1, 1, 2)]
    assert gtn.forward_penalty(c).item() == pytest.approx(1.25)


@pytest.mark.parametrize("size", [1, 3])
def test_compose_batch_consistency(size):
    rng = np.random.default_rng(7)
    As = [rand_graph(rng, 6, 12, 3) for _ in range(size)]
    Bs = [rand_graph(rng, 4, 8, 3) for _ in range(size)]
    c, (am, bm) = gtn.compose(gtn.batch(As), gtn.batch(Bs))
    singles = [gtn.compose(x, y) for x, y in zip(As, Bs)]
    assert c.batch_size == size
    for k, (cs, (ams, bms)) in enumerate(singles):
        ck = gtn.unbatch(c)[k]
        a0, a1 = int(c.arc_offsets[k]), int(c.arc_offsets[k + 1])
        got = sorted(zip((am[a0:a1] - torch.where(am[a0:a1] >= 0, int(gtn.batch(As).arc_offsets[k]), 0)).tolist(),
                         (bm[a0:a1] - torch.where(bm[a0:a1] >= 0, int(gtn.batch(Bs).arc_offsets[k]), 0)).tolist()))
        assert got == sorted(zip(ams.tolist(), bms.tolist()))
        assert ck.num_nodes == cs.num_nodes
        torch.testing.assert_close(gtn.forward_penalty(ck), gtn.forward_penalty(cs))
    torch.testing.assert_close(gtn.forward_penalty(c), torch.cat([gtn.forward_penalty(s[0]) for s in singles]))
    # one b broadcast over the batch
    c1, _ = gtn.compose(gtn.batch(As), Bs[0])
    torch.testing.assert_close(gtn.forward_penalty(c1),
                               torch.cat([gtn.forward_penalty(gtn.compose(x, Bs[0])[0]) for x in As]))


def test_compose_forward_gradcheck_both_operands():
    rng = np.random.default_rng(3)
    a, b = rand_graph(rng, 5, 10, 2, eps=0.2), rand_graph(rng, 4, 8, 2, eps=0.2)
    while not torch.isfinite(gtn.forward_penalty(gtn.compose(a, b)[0])).all():
        a, b = rand_graph(rng, 5, 10, 2, eps=0.2), rand_graph(rng, 4, 8, 2, eps=0.2)
    pa, pb = a.penalty.clone().requires_grad_(True), b.penalty.clone().requires_grad_(True)

    def fn(pa, pb):
        c, _ = gtn.compose(a.with_penalty(pa), b.with_penalty(pb))
        return gtn.forward_penalty(c)

    assert torch.autograd.gradcheck(fn, (pa, pb))
    c, _ = gtn.compose(a, b)
    assert gtn.forward_penalty(c).item() == pytest.approx(brute_forward(c), abs=1e-10)
