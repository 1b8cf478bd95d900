"""The graph-transformer core in a few lines: an interpretation graph, a grammar, scores, gradients.

Run from the repository root:  .venv/bin/python examples/graph_basics.py

The graph below is what a recogniser produces for a field that was cut into two pieces, where
the cut may be wrong (arc 0 -> 2 reads both pieces as one character). Labels are alphabet ids
(0-9 are the digits); penalties are -log scores, lower is better (docs/paper.md Sec. IV).
"""

import torch

import gtn
from decoders import Grammar, decode

interpretations = gtn.Graph.from_str("""
0          # start node
2          # final node
0 1 1 0.2  # piece 1 read as '1', penalty 0.2
0 1 7 1.5  # ... or as '7'
1 2 4 0.3  # piece 2 read as '4'
1 2 9 1.1  # ... or as '9'
0 2 4 2.5  # both pieces together read as '4'
""")
penalty = interpretations.penalty.clone().requires_grad_(True)
graph = interpretations.with_penalty(penalty)

# Forward penalty: -log sum over all paths of exp(-path penalty); its gradient is the arc posteriors.
forward = gtn.forward_penalty(graph)
forward.sum().backward()
print("forward penalty", float(forward.detach()), "arc posteriors", penalty.grad.tolist())

# Viterbi: the best path.
best = gtn.viterbi_path(graph)[0]
print("best path labels", best.labels(), "penalty", float(gtn.viterbi_penalty(graph)))

# A grammar: two-digit strings only. Composition keeps the paths the grammar accepts.
grammar = Grammar.digits(2, 2)
for result in decode(interpretations, grammar, n=3):
    print(f"text {result.text!r} penalty {result.penalty:.2f} confidence {result.confidence:.3f} "
          f"margin {result.margin:.2f}")

# The discriminative forward criterion for the true text "14" (docs/paper.md Sec. VI): -log P("14" | field).
loss = gtn.discriminative_forward_loss(interpretations, [[1, 4]])
print("discriminative forward loss for '14':", float(loss[0]))
