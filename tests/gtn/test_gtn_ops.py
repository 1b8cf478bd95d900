"""union, concat, project, trim, prune, intersect: path sets checked by enumeration."""

import numpy as np
import pytest
import torch

import gtn
from gtn_testutil import path_penalties, paths, rand_graph, strip


def path_set(g):
    """(input string, output string, penalty rounded) of every path of a single graph."""
    return sorted((strip(g.ilabel[p].tolist()), strip(g.olabel[p].tolist()),
                   round(s, 9)) for p, s in zip(paths(g), path_penalties(g, paths(g))))


def test_union_and_concat_path_sets_and_batches():
    rng = np.random.default_rng(0)
    A = [rand_graph(rng, 4, 7, 3) for _ in range(3)]
    Bs = [rand_graph(rng, 3, 5, 3) for _ in range(3)]
    u, (ma, mb) = gtn.union([gtn.batch(A), gtn.batch(Bs)])
    c, _ = gtn.concat([gtn.batch(A), gtn.batch(Bs)])
    assert u.batch_size == c.batch_size == 3
    u.validate(), c.validate()
    for k, (a, b) in enumerate(zip(A, Bs)):
        assert path_set(gtn.unbatch(u)[k]) == sorted(path_set(a) + path_set(b))
        expect = sorted((x[0] + y[0], x[1] + y[1], round(x[2] + y[2], 9)) for x in path_set(a) for y in path_set(b))
        assert [e[:2] for e in path_set(gtn.unbatch(c)[k])] == [e[:2] for e in expect]
        np.testing.assert_allclose([e[2] for e in path_set(gtn.unbatch(c)[k])], [e[2] for e in expect])
    # maps: every operand arc appears exactly once
    assert sorted(ma[ma >= 0].tolist()) == list(range(gtn.batch(A).num_arcs))
    assert sorted(mb[mb >= 0].tolist()) == list(range(gtn.batch(Bs).num_arcs))
    torch.testing.assert_close(gtn.forward_penalty(u),
                               -torch.logaddexp(-gtn.forward_penalty(gtn.batch(A)), -gtn.forward_penalty(gtn.batch(Bs))))


def test_project_and_intersect():
    rng = np.random.default_rng(1)
    g = rand_graph(rng, 5, 9, 3)
    pi, m = gtn.project(g, side="input")
    po, _ = gtn.project(g, side="output")
    assert pi.is_acceptor and torch.equal(pi.ilabel, g.ilabel) and torch.equal(po.olabel, g.olabel)
    assert torch.equal(m, torch.arange(g.num_arcs))
    a = rand_graph(rng, 5, 10, 2, transducer=False)
    b = rand_graph(rng, 4, 8, 2, transducer=False)
    i, _ = gtn.intersect(a, b)
    sa = {}
    for p, s in zip(paths(a), path_penalties(a, paths(a))):
        sa.setdefault(strip(a.ilabel[p].tolist()), []).append(s)
    expect = []
    for p, s in zip(paths(b), path_penalties(b, paths(b))):
        for t in sa.get(strip(b.ilabel[p].tolist()), []):
            expect.append((strip(b.ilabel[p].tolist()), round(s + t, 9)))
    assert sorted((x[0], x[2]) for x in path_set(i)) == sorted(expect)
    with pytest.raises(ValueError, match=r"\[gtn.intersect\] a is a transducer"):
        gtn.intersect(g, b)


def test_trim_removes_dead_parts_keeps_paths():
    g = gtn.Graph.from_str("1\n4\n0 1 9 1\n1 2 1 0.5\n2 4 2 0.5\n1 3 3 0\n2 5 4 0\n1 4 5 2\n", dtype=torch.float64)
    t, m = gtn.trim(g)
    assert (t.num_nodes, t.num_arcs) == (3, 3)
    assert sorted(t.ilabel.tolist()) == [1, 2, 5] and sorted(m.tolist()) == [1, 2, 5]
    assert path_set(t) == path_set(g)
    t.validate()


@pytest.mark.parametrize("beam", [0.0, 0.7, 2.0, 1e9])
def test_prune_keeps_exactly_arcs_on_paths_within_beam(beam):
    rng = np.random.default_rng(5)
    gs = [rand_graph(rng, 7, 16, 3) for _ in range(3)]
    b = gtn.batch(gs)
    pr, m = gtn.prune(b, beam)
    for k, g in enumerate(gs):
        ps = paths(g)
        sc = path_penalties(g, ps)
        keep = {a for p, s in zip(ps, sc) if s <= min(sc) + beam + 1e-9 for a in p}
        a0 = int(pr.arc_offsets[k])
        got = m[a0:int(pr.arc_offsets[k + 1])] - int(b.arc_offsets[k])
        assert sorted(got.tolist()) == sorted(keep)
        gk = gtn.unbatch(pr)[k]
        assert gtn.viterbi_penalty(gk).item() == pytest.approx(min(sc))
    p = b.penalty.clone().requires_grad_(True)
    pr, m = gtn.prune(b.with_penalty(p), beam)
    gtn.forward_penalty(pr).sum().backward()
    assert p.grad is not None and bool((p.grad[m] > 0).all())
