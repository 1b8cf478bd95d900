"""OpenFst AT&T text round trips (with symbol tables), networkx/DOT export, PNG drawing."""

import numpy as np
import pytest
import torch

import gtn
from gtn_testutil import path_penalties, paths, rand_graph, strip


def path_set(g):
    return sorted((strip(g.ilabel[p].tolist()), strip(g.olabel[p].tolist()), round(s, 9))
                  for p, s in zip(paths(g), path_penalties(g, paths(g))))


@pytest.mark.parametrize("seed", range(3))
def test_openfst_round_trip_numeric_and_symbols(seed):
    rng = np.random.default_rng(seed)
    g = rand_graph(rng, 6, 12, 4, eps=0.25)
    text = gtn.to_openfst(g)
    h = gtn.from_openfst(text, dtype=torch.float64)
    # same arcs (up to the order of lines and a topological renumbering of nodes), exact weights
    assert (h.num_nodes, h.num_arcs) == (g.num_nodes, g.num_arcs)
    assert sorted(zip(g.ilabel.tolist(), g.olabel.tolist(), g.penalty.tolist())) == \
        sorted(zip(h.ilabel.tolist(), h.olabel.tolist(), h.penalty.tolist()))
    assert path_set(h) == path_set(g)
    # a graph already numbered like gtn.topsort comes back arc for arc
    new = torch.from_numpy(gtn.topsort(g.src, g.dst, g.num_nodes))
    gs = gtn.Graph(new[g.src], new[g.dst], g.ilabel, g.olabel, g.penalty, num_nodes=g.num_nodes,
                   start=int(new[g.start]), final=int(new[g.final]))
    hs = gtn.from_openfst(gs.to_openfst(), dtype=torch.float64)
    key = lambda x: sorted(zip(x.src.tolist(), x.dst.tolist(), x.ilabel.tolist(), x.olabel.tolist(), x.penalty.tolist()))
    assert key(hs) == key(gs)
    isy, osy = ["zero", "one", "two", "three"], ["A", "B", "C", "D"]
    text = g.to_openfst(isymbols=isy, osymbols=osy)
    assert "<eps>" in text or not (g.ilabel == gtn.EPSILON).any()
    h = gtn.Graph.from_openfst(text, isymbols=gtn.symbol_table(isy), osymbols=gtn.symbol_table(osy),
                               dtype=torch.float64)
    assert path_set(h) == path_set(g)


def test_openfst_acceptor_cyclic_and_start_not_first():
    g = gtn.Graph.from_str("1\n2\n0 2 5 1.0\n1 1 3 0.5\n1 2 4 0.25\n", acyclic=False)
    text = gtn.to_openfst(g, acceptor=True)
    assert text.splitlines()[0].startswith("1\t")  # the start state's arcs come first
    h = gtn.from_openfst(text, acceptor=True, acyclic=False)
    assert (h.start, h.final) == (1, 2) and h.num_arcs == 3 and h.is_acceptor
    with pytest.raises(ValueError, match=r"\[gtn.from_openfst\] the FST is cyclic"):
        gtn.from_openfst(text, acceptor=True)
    with pytest.raises(ValueError, match=r"acceptor=True but the graph has arcs with ilabel != olabel"):
        gtn.to_openfst(gtn.Graph([0], [1], [1], [2], num_nodes=2), acceptor=True)


def test_openfst_reads_fstprint_style_text_with_several_finals():
    # what `fstprint` writes: states in any order, two final states, one with a weight
    text = "0\t3\ta\tx\t0.5\n0\t1\tb\ty\n3\t2\t<eps>\tz\t1\n1\n2\t0.25\n"
    isy = "<eps> 0\na 1\nb 2\n"
    osy = "<eps>\t0\nx\t1\ny\t2\nz\t3\n"
    g = gtn.from_openfst(text, isymbols=isy, osymbols=osy, dtype=torch.float64)
    assert path_set(g) == sorted([((0,), (0, 2), 1.75), ((1,), (1,), 0.0)])
    g.validate()
    with pytest.raises(ValueError, match=r"line 1: symbol 'q' is not in the symbol table"):
        gtn.from_openfst("0 1 q x\n1\n", isymbols=isy, osymbols=osy)
    with pytest.raises(ValueError, match=r"has no final state"):
        gtn.from_openfst("0 1 1 1\n")


def test_networkx_dot_and_png(tmp_path):
    g = gtn.batch([gtn.Graph.from_str("0\n2\n0 1 1 0.5\n0 1 2 0.25\n1 2 -1 3 1\n"),
                   gtn.Graph.from_str("0\n1\n0 1 4 2\n")])
    nxg = g.to_networkx()
    assert nxg.number_of_nodes() == 5 and nxg.number_of_edges() == 4
    assert nxg.nodes[3]["start"] and nxg.nodes[4]["final"] and nxg.nodes[4]["graph"] == 1
    assert sorted(d["penalty"] for _, _, d in nxg.edges(data=True)) == [0.25, 0.5, 1.0, 2.0]
    dot = g.to_dot(isymbols=list("abcde"))
    assert dot.startswith("digraph") and 'label="ε:d/1"' in dot and "4 [shape=doublecircle]" in dot
    out = g.draw(tmp_path / "g.png", isymbols=list("abcde"), engine="matplotlib", title="two graphs")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 2000
