"""gtn.Graph: construction, validation messages, text format, batching."""

import numpy as np
import pytest
import torch

import gtn

FIG = """
# a small interpretation graph
0
3
0 1 4 4 0.5
1 3 7 1.25
0 2 -1
2 3 5 6 1
"""


def test_from_str_fields_and_round_trip():
    g = gtn.Graph.from_str(FIG)
    assert (g.start, g.final, g.num_nodes, g.num_arcs) == (0, 3, 4, 4)
    assert g.ilabel.tolist() == [4, 7, -1, 5]
    assert g.olabel.tolist() == [4, 7, -1, 6]
    assert g.penalty.tolist() == [0.5, 1.25, 0.0, 1.0]
    assert not g.is_acceptor
    h = gtn.Graph.from_str(g.to_str())
    for name in ("src", "dst", "ilabel", "olabel", "penalty"):
        assert torch.equal(getattr(g, name), getattr(h, name))
    assert g.to_str() == h.to_str()


def test_float64_text_round_trip_is_exact():
    pen = torch.tensor([0.1, 1 / 3, -2.718281828459045], dtype=torch.float64)
    g = gtn.Graph([0, 0, 1], [1, 2, 2], [1, 2, 3], penalty=pen, num_nodes=3)
    h = gtn.Graph.from_str(g.to_str(), dtype=torch.float64)
    assert torch.equal(h.penalty, pen)


@pytest.mark.parametrize("text, message", [
    ("0\n2\n0 1 1\n1 0 1\n1 2 1\n", "has a cycle"),
    ("0\n2\n0 2 1\n2 1 3\n", "not numbered in topological order"),
    ("0\n2\n0 1 1\n", "final node 2 is not reachable from start node 0"),
    ("0\n1\n0 1 1 nan\n", "penalties must be finite"),
    ("0\n1\n0 1 1 inf\n", "penalties must be finite"),
    ("0\n1\n0 1 -3\n", "labels are >= 0 or gtn.EPSILON"),
    ("0\n1\n0 1 x\n", "line 3: 'x' is not an integer"),
    ("0\n1\n0 1 1 2 3 4\n", "line 3: expected"),
    ("0\n", "expected a start line and a final line"),
])
def test_bad_text_graphs_rejected(text, message):
    with pytest.raises(ValueError, match="gtn.Graph") as err:
        gtn.Graph.from_str(text)
    assert message in str(err.value)


def test_bad_constructor_arguments_rejected():
    with pytest.raises(ValueError, match=r"\[gtn.Graph\] arc 1 \(1 -> 5\) goes to a missing node"):
        gtn.Graph([0, 1], [1, 5], [1, 1], num_nodes=3)
    with pytest.raises(ValueError, match="dst has shape"):
        gtn.Graph([0, 1], [1], [1, 1], num_nodes=3)
    with pytest.raises(ValueError, match="start node 7 does not exist"):
        gtn.Graph([0], [1], [1], num_nodes=2, start=7)
    # a cyclic graph is fine when asked for
    g = gtn.Graph([0, 1, 1], [1, 1, 2], [1, 2, 3], num_nodes=3, acyclic=False)
    assert not g.acyclic
    with pytest.raises(ValueError, match="acyclic=False"):
        gtn.forward_penalty(g)


def test_batch_unbatch_round_trip_and_indices():
    rng = np.random.default_rng(0)
    from gtn_testutil import rand_graph
    gs = [rand_graph(rng, n, n + 3, 4) for n in (3, 5, 4)]
    b = gtn.batch(gs)
    assert b.batch_size == 3 and b.num_nodes == 12 and b.num_arcs == sum(g.num_arcs for g in gs)
    assert b.starts.tolist() == [0, 3, 8] and b.finals.tolist() == [2, 7, 11]
    assert b.node_batch.tolist() == [0] * 3 + [1] * 5 + [2] * 4
    assert b.arc_offsets.tolist() == [0, 6, 14, 21]
    assert b.arc_batch.bincount().tolist() == [6, 8, 7]
    b.validate()
    for g, h in zip(gs, gtn.unbatch(b)):
        assert g.to_str() == h.to_str()
    assert gtn.batch([gs[0]]) is gs[0]
    # batching a batch flattens it
    bb = gtn.batch([b, gs[1]])
    assert bb.batch_size == 4 and gtn.unbatch(bb)[3].to_str() == gs[1].to_str()
    with pytest.raises(ValueError, match=r"\[gtn.batch\] entry 1 is a str"):
        gtn.batch([gs[0], "x"])
    with pytest.raises(ValueError, match="one start per graph"):
        b.start


def test_batch_keeps_autograd_and_data():
    p = torch.tensor([1.0, 2.0], requires_grad=True)
    g1 = gtn.Graph([0], [1], [3], penalty=p[:1], num_nodes=2, data=torch.zeros(1, 2))
    g2 = gtn.Graph([0], [1], [4], penalty=p[1:], num_nodes=2, data=torch.ones(1, 2))
    b = gtn.batch([g1, g2])
    assert b.data.tolist() == [[0, 0], [1, 1]]
    b.penalty.sum().backward()
    assert p.grad.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="some graphs carry per-arc data"):
        gtn.batch([g1, gtn.Graph([0], [1], [3], num_nodes=2)])


def test_topsort_and_levels():
    src, dst = [2, 0, 1, 0], [1, 2, 3, 3]
    new = gtn.topsort(src, dst, 4)
    assert all(new[s] < new[d] for s, d in zip(src, dst))
    with pytest.raises(ValueError, match=r"\[gtn.topsort\] the graph has a cycle"):
        gtn.topsort([0, 1], [1, 0], 2)
    g = gtn.Graph([0, 0, 1, 2], [1, 2, 2, 3], [1, 1, 1, 1], num_nodes=4)
    assert g.levels().tolist() == [0, 1, 2, 3]


def test_several_final_nodes_are_joined_by_epsilon_arcs():
    # a cyclic transducer with two finals: 0 -a-> 1 (final), 1 -b-> 2 (final), 2 -a-> 1
    g = gtn.Graph([0, 1, 2], [1, 2, 1], [1, 2, 1], [3, 4, 3], torch.tensor([0.5, 0.25, 1.0]), num_nodes=3,
                  final=[1, 2], acyclic=False)
    assert g.num_nodes == 4 and g.final == 3 and g.num_arcs == 5
    assert g.ilabel[3:].tolist() == [gtn.EPSILON] * 2 and g.penalty[3:].tolist() == [0.0, 0.0]
    # composed with the acyclic string "a b a": exactly one path, ending in final node 1
    s = gtn.string_graph([1, 2, 1], penalty_dtype=torch.float32)
    c, _ = gtn.compose(s, g)
    assert c.acyclic
    assert float(gtn.forward_penalty(c)) == pytest.approx(1.75)
    with pytest.raises(ValueError, match=r"\[gtn.Graph\] final node 5 does not exist"):
        gtn.Graph([0], [1], [1], num_nodes=2, final=[1, 5])
    with pytest.raises(ValueError, match="non-empty"):
        gtn.Graph([0], [1], [1], num_nodes=2, final=[])
    assert gtn.Graph([0], [1], [1], num_nodes=2, final=[1]).final == 1
