"""gtn: the batched, differentiable graph-transformer core (docs/paper.md Sec. IV, VI, VIII; docs/design.md).

Public API (penalties, lower is better, everywhere):

- :class:`Graph` (flat per-arc tensors, batchable), :data:`EPSILON`, :func:`batch`, :func:`unbatch`,
  :func:`topsort`; text format ``Graph.from_str`` / ``Graph.to_str``.
- :func:`compose` -> ``(graph, (a_map, b_map))``.
- :func:`forward_penalty`, :func:`viterbi_penalty` -> ``(B,)`` with exact gradients.
"""

from gtn.graph import EPSILON, Graph, topsort
from gtn.batch import batch, unbatch
from gtn.textio import graph_from_str, graph_to_str
from gtn.compose import compose
from gtn._backend import get_num_threads, set_num_threads
from gtn.scoring import forward_penalty, viterbi_penalty

__all__ = ["EPSILON", "Graph", "topsort", "batch", "unbatch", "graph_from_str", "graph_to_str",
           "compose", "forward_penalty", "viterbi_penalty"]
from gtn.nbest import Path, nbest, viterbi_path
from gtn.builders import ctc_graph, ctc_graphs, frame_graph, string_graph, string_graphs

__all__ += ["get_num_threads", "set_num_threads"]
__all__ += ["Path", "nbest", "viterbi_path", "ctc_graph", "ctc_graphs", "frame_graph", "string_graph", "string_graphs"]
from gtn.ops import concat, connect, intersect, project, prune, trim, union
from gtn.criteria import (constrain, discriminative_forward_loss, discriminative_viterbi_loss, forward_loss,
                          viterbi_loss)
from gtn.recognize import recognize

__all__ += ["concat", "connect", "intersect", "project", "prune", "trim", "union", "constrain",
            "discriminative_forward_loss", "discriminative_viterbi_loss", "forward_loss", "viterbi_loss",
            "recognize"]
from gtn.openfst import from_openfst, parse_symbol_table, symbol_table, to_openfst
from gtn.draw import draw, to_dot, to_networkx

__all__ += ["from_openfst", "parse_symbol_table", "symbol_table", "to_openfst", "draw", "to_dot", "to_networkx"]
