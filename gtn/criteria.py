"""Global training criteria (docs/paper.md Sec. VI), batched, one loss per example.

All four take the *unconstrained* interpretation graph (every path = one interpretation) and the
target; the *constrained* graph is its composition with the target, keeping only the paths whose
output labels spell the target:

======================================  ==============================================================
``viterbi_loss``                        best constrained path penalty (not discriminative: can collapse)
``discriminative_viterbi_loss``         constrained best path - unconstrained best path
``forward_loss``                        forward penalty of the constrained graph
``discriminative_forward_loss``         forward(constrained) - forward(unconstrained) = -log P(target);
                                        its gradient on an arc is posterior(unconstrained) -
                                        posterior(constrained) (the paper's recommended criterion;
                                        what CTC computes for its topology)
======================================  ==============================================================
"""

from __future__ import annotations

from typing import Sequence, Union

import torch

from gtn.builders import string_graphs
from gtn.compose import compose
from gtn.graph import Graph
from gtn.scoring import forward_penalty, viterbi_penalty

Target = Union[Graph, Sequence[Sequence[int]], Sequence[int]]


def constrain(graph: Graph, target: Target) -> Graph:
    """The constrained graph: ``graph`` composed with the target acceptor(s).

    Args:
        graph: interpretation graph(s), a batch of ``B`` graphs whose output labels are classes.
        target: a :class:`gtn.Graph` (one constraint for all, or a batch of ``B``), or ``B`` label
            sequences, or one label sequence when ``B == 1``.

    Returns:
        the constrained batch of ``B`` graphs (penalties keep autograd links to ``graph.penalty``).
    """
    if not isinstance(graph, Graph):
        raise ValueError(f"[gtn.criteria] expected a gtn.Graph interpretation graph, got {type(graph).__name__}")
    if isinstance(target, Graph):
        tg = target
    else:
        seqs = list(target)
        if graph.batch_size == 1 and (not seqs or not isinstance(seqs[0], (list, tuple)) and not torch.is_tensor(seqs[0])):
            seqs = [seqs]
        if len(seqs) != graph.batch_size:
            raise ValueError(f"[gtn.criteria] got {len(seqs)} targets for a batch of {graph.batch_size} graphs")
        tg = string_graphs([[int(x) for x in s] for s in seqs], penalty_dtype=graph.penalty.dtype)
    return compose(graph, tg)[0]


def _finish(loss: torch.Tensor, zero_infinity: bool) -> torch.Tensor:
    if zero_infinity:
        return torch.where(torch.isinf(loss), torch.zeros_like(loss), loss)
    return loss


def viterbi_loss(graph: Graph, target: Target, *, zero_infinity: bool = False) -> torch.Tensor:
    """Penalty of the best path consistent with the target: ``(B,)`` (``inf`` if none, unless zeroed)."""
    return _finish(viterbi_penalty(constrain(graph, target)), zero_infinity)


def discriminative_viterbi_loss(graph: Graph, target: Target, *, zero_infinity: bool = False) -> torch.Tensor:
    """Best constrained path penalty minus best unconstrained path penalty: ``(B,)``, >= 0."""
    return _finish(viterbi_penalty(constrain(graph, target)) - viterbi_penalty(graph), zero_infinity)


def forward_loss(graph: Graph, target: Target, *, zero_infinity: bool = False) -> torch.Tensor:
    """Forward penalty of the constrained graph: ``(B,)``."""
    return _finish(forward_penalty(constrain(graph, target)), zero_infinity)


def discriminative_forward_loss(graph: Graph, target: Target, *, zero_infinity: bool = False) -> torch.Tensor:
    """Forward(constrained) - forward(unconstrained) = -log P(target | input): ``(B,)``, >= 0.

    ``inf`` for an example whose target has no path in its graph (``zero_infinity=True`` gives 0 and
    zero gradient instead, like ``torch.nn.functional.ctc_loss``).
    """
    return _finish(forward_penalty(constrain(graph, target)) - forward_penalty(graph), zero_infinity)
