"""Helpers for the gtn tests: seeded random graphs and brute-force path enumeration."""

from __future__ import annotations

import math

import numpy as np
import torch

import gtn


def rand_graph(rng, n, a, labels, *, eps=0.2, acyclic=True, transducer=True, dtype=torch.float64):
    """A random graph with a guaranteed start -> final chain, some epsilons, normal penalties."""
    src, dst = list(range(n - 1)), list(range(1, n))
    while len(src) < a:
        if acyclic:
            s, d = sorted(rng.choice(n, 2, replace=False).tolist())
        else:
            s, d = rng.integers(0, n, 2).tolist()
        src.append(int(s)), dst.append(int(d))
    il = [int(x) if rng.random() > eps else gtn.EPSILON for x in rng.integers(0, labels, len(src))]
    ol = ([int(x) if rng.random() > eps else gtn.EPSILON for x in rng.integers(0, labels, len(src))]
          if transducer else None)
    pen = torch.tensor(rng.normal(size=len(src)), dtype=dtype)
    return gtn.Graph(src, dst, il, ol, pen, num_nodes=n, acyclic=acyclic)


def paths(g, max_len=None):
    """All start -> final paths of a single graph as arc-id lists (bounded length for cyclic graphs)."""
    src, dst = g.src.tolist(), g.dst.tolist()
    out = [[] for _ in range(g.num_nodes)]
    for i, s in enumerate(src):
        out[s].append(i)
    res = []

    def rec(node, acc):
        if node == g.final:
            res.append(list(acc))
        if max_len is not None and len(acc) >= max_len:
            return
        for a in out[node]:
            acc.append(a)
            rec(dst[a], acc)
            acc.pop()

    rec(g.start, [])
    return res


def path_penalties(g, ps):
    pen = g.penalty.detach().double()
    return [float(pen[p].sum()) if p else 0.0 for p in ps]


def brute_forward(g):
    sc = path_penalties(g, paths(g))
    if not sc:
        return math.inf
    m = min(sc)
    return m - math.log(sum(math.exp(-(x - m)) for x in sc))


def brute_viterbi(g):
    sc = path_penalties(g, paths(g))
    return min(sc) if sc else math.inf


def strip(labels):
    return tuple(x for x in labels if x != gtn.EPSILON)


def arc_posteriors(g):
    """Brute-force arc posteriors (the exact gradient of the forward penalty)."""
    ps = paths(g)
    sc = np.array(path_penalties(g, ps))
    w = np.exp(-(sc - sc.min()))
    w /= w.sum()
    post = np.zeros(g.num_arcs)
    for p, wi in zip(ps, w):
        for a in p:
            post[a] += wi
    return post
