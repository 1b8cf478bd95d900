"""Property tests (hypothesis) of the gtn core on random graphs, through the public API only.

- the forward penalty is never above the Viterbi penalty (a soft minimum over the same paths);
- arc posteriors (the gradient of the forward penalty) lie in [0, 1] and sum to 1 over every cut;
- composing with an identity transducer changes no score;
- a batch scores like its graphs one by one;
- finite inputs give finite scores, also with very large and very small penalties.

Every test runs on the C kernel and on numpy (tests/gtn/conftest.py).
"""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import gtn

LABELS = 3
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


@st.composite
def dags(draw, *, scale: float = 1.0):
    """A random acyclic acceptor with a start -> final chain and extra forward arcs."""
    n = draw(st.integers(2, 7))
    src, dst = list(range(n - 1)), list(range(1, n))
    for _ in range(draw(st.integers(0, 12))):
        s = draw(st.integers(0, n - 2))
        src.append(s), dst.append(draw(st.integers(s + 1, n - 1)))
    labels = draw(st.lists(st.integers(0, LABELS - 1), min_size=len(src), max_size=len(src)))
    pens = draw(st.lists(st.floats(-5, 5, allow_nan=False), min_size=len(src), max_size=len(src)))
    return gtn.Graph(src, dst, labels, None, torch.tensor(pens, dtype=torch.float64) * scale, num_nodes=n)


@SETTINGS
@given(dags())
def test_forward_penalty_is_never_above_the_viterbi_penalty(g):
    assert float(gtn.forward_penalty(g)) <= float(gtn.viterbi_penalty(g)) + 1e-9


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 8), st.integers(2, 5), st.integers(0, 2**31 - 1))
def test_frame_posteriors_are_probabilities_summing_to_one_per_frame(B, T, C, seed):
    x = (torch.randn(B, T, C, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 4
         ).requires_grad_(True)
    (post,) = torch.autograd.grad(gtn.forward_penalty(gtn.frame_graph(x)).sum(), x)
    assert bool((post >= -1e-12).all()) and bool((post <= 1 + 1e-12).all())
    torch.testing.assert_close(post.sum(-1), torch.ones(B, T, dtype=torch.float64))


def identity() -> gtn.Graph:
    """One state with a self-loop per label: maps every string to itself, penalty 0."""
    labels = list(range(LABELS))
    return gtn.Graph([0] * LABELS, [0] * LABELS, labels, labels, torch.zeros(LABELS, dtype=torch.float64),
                     num_nodes=1, start=0, final=0, acyclic=False)


@SETTINGS
@given(dags())
def test_composing_with_the_identity_changes_no_score(g):
    c, _ = gtn.compose(g, identity())
    torch.testing.assert_close(gtn.forward_penalty(c), gtn.forward_penalty(g))
    torch.testing.assert_close(gtn.viterbi_penalty(c), gtn.viterbi_penalty(g))


@SETTINGS
@given(st.lists(dags(), min_size=1, max_size=4))
def test_a_batch_scores_like_its_graphs(graphs):
    batch = gtn.batch(graphs)
    torch.testing.assert_close(gtn.forward_penalty(batch), torch.cat([gtn.forward_penalty(g) for g in graphs]))
    torch.testing.assert_close(gtn.viterbi_penalty(batch), torch.cat([gtn.viterbi_penalty(g) for g in graphs]))


@SETTINGS
@given(st.sampled_from([1e-9, 1e-3, 1e3, 1e6]).flatmap(lambda s: dags(scale=s)))
def test_finite_inputs_give_finite_scores_and_gradients(g):
    p = g.penalty.detach().clone().requires_grad_(True)
    f = gtn.forward_penalty(g.with_penalty(p))
    v = gtn.viterbi_penalty(g.with_penalty(p.detach()))
    (grad,) = torch.autograd.grad(f.sum(), p)
    f = f.detach()
    assert math.isfinite(float(f)) and math.isfinite(float(v)) and bool(torch.isfinite(grad).all())
    assert float(f) <= float(v) + 1e-9 * max(1.0, abs(float(v)))
