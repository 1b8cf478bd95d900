"""gtn: the batched, differentiable graph-transformer core (PAPER.md Sec. IV, VI, VIII; DESIGN.md).

Public API (penalties, lower is better, everywhere):

- :class:`Graph` (flat per-arc tensors, batchable), :data:`EPSILON`, :func:`batch`, :func:`unbatch`,
  :func:`topsort`; text format ``Graph.from_str`` / ``Graph.to_str``.
"""

from gtn.graph import EPSILON, Graph, topsort
from gtn.batch import batch, unbatch
from gtn.textio import graph_from_str, graph_to_str

__all__ = ["EPSILON", "Graph", "topsort", "batch", "unbatch", "graph_from_str", "graph_to_str"]
