"""gtn against its plain-loop specification (gtn/reference.py): composition, forward, Viterbi.

Seeded random graphs with epsilons on both sides, cyclic grammars and cyclic left operands; each
test runs on the C kernel and on the numpy path (tests/gtn/conftest.py).
"""

import math

import numpy as np
import pytest
import torch

import gtn
from gtn import reference
from gtn_testutil import rand_graph


def close(x, y):
    return (math.isinf(x) and math.isinf(y)) or x == pytest.approx(y, abs=1e-9, rel=1e-9)


@pytest.mark.parametrize("seed", range(10))
def test_scores_match_the_reference(seed):
    rng = np.random.default_rng(400 + seed)
    g = rand_graph(rng, int(rng.integers(2, 10)), int(rng.integers(3, 25)), 3)
    spec = reference.arcs_of(g)
    assert close(float(gtn.forward_penalty(g)), reference.forward_penalty(spec))
    assert close(float(gtn.viterbi_penalty(g)), reference.viterbi_penalty(spec))


def compare(a, b):
    c, _ = gtn.compose(a, b)
    spec = reference.compose(reference.arcs_of(a), reference.arcs_of(b))
    joins = sum(1 for arc in spec.arcs if arc[1] == "final")
    # gtn merges the final states into its final node instead of joining them by epsilon arcs
    if c.acyclic:
        assert c.num_arcs == len(spec.arcs) - joins
        assert close(float(gtn.forward_penalty(c)), reference.forward_penalty(spec))
        assert close(float(gtn.viterbi_penalty(c)), reference.viterbi_penalty(spec))
    else:  # a cyclic result: gtn may join several final states the same way as the reference
        assert c.num_arcs in (len(spec.arcs) - joins, len(spec.arcs))
        with pytest.raises(ValueError):
            reference.forward_penalty(spec)


@pytest.mark.parametrize("seed", range(12))
def test_composition_matches_the_reference(seed):
    rng = np.random.default_rng(500 + seed)
    a = rand_graph(rng, int(rng.integers(2, 8)), int(rng.integers(3, 14)), 3, eps=0.3)
    b = rand_graph(rng, int(rng.integers(2, 7)), int(rng.integers(3, 12)), 3, eps=0.3)
    compare(a, b)
    # a cyclic grammar without epsilon cycles: loops on non-epsilon labels only
    n = int(rng.integers(2, 5))
    src, dst = list(range(n - 1)), list(range(1, n))
    lab = [int(x) for x in rng.integers(0, 3, n - 1)]
    for _ in range(4):
        s = int(rng.integers(0, n))
        src.append(s), dst.append(int(rng.integers(0, s + 1))), lab.append(int(rng.integers(0, 3)))
    loop = gtn.Graph(src, dst, lab, None, torch.tensor(rng.normal(size=len(src))), num_nodes=n, acyclic=False)
    compare(a, loop)
    # a cyclic left operand
    cyc = rand_graph(rng, int(rng.integers(2, 5)), int(rng.integers(3, 9)), 3, acyclic=False, eps=0.0)
    compare(cyc, b)
