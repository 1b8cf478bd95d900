"""Private vectorised array helpers shared by the gtn modules (numpy, no Python loop over arcs).

Everything here works on plain ``numpy`` int64 arrays describing arcs ``src -> dst`` over ``n`` nodes.
The loops that remain run once per *frontier* (graph depth), never once per arc (except in the
optional compiled kernel, see gtn/_backend.py).
"""

from __future__ import annotations

import numpy as np

from gtn import _backend


def expand_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenate ``arange(s, s + c)`` for every pair: ``(K,), (K,) -> (sum(counts),)``."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    offsets = np.repeat(np.asarray(starts, dtype=np.int64) - (ends - counts), counts)
    return np.arange(total, dtype=np.int64) + offsets


def stable_argsort(keys: np.ndarray, n: int) -> np.ndarray:
    """Stable argsort of integer keys in ``[0, n)`` (radix sort when the keys fit in 16 bits)."""
    if n <= 1 << 16:
        return np.argsort(keys.astype(np.uint16), kind="stable")
    return np.argsort(keys, kind="stable")


def csr(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Group positions by key: returns ``(order (A,), indptr (n + 1,))``.

    ``order[indptr[k]:indptr[k + 1]]`` are the positions whose key is ``k``, in increasing position order.
    """
    order = stable_argsort(keys, n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=indptr[1:])
    return order, indptr


def reachable(n: int, src: np.ndarray, dst: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Nodes reachable from ``seeds`` along arcs ``src -> dst``: ``-> bool (n,)``.

    One vectorised frontier expansion per BFS depth (works on cyclic graphs too).
    """
    order, indptr = csr(src, n)
    dst_sorted = dst[order]
    seen = np.zeros(n, dtype=bool)
    stamp = np.zeros(n, dtype=np.int64)
    frontier = np.unique(np.asarray(seeds, dtype=np.int64))
    seen[frontier] = True
    while frontier.size:
        starts = indptr[frontier]
        nxt = dst_sorted[expand_ranges(starts, indptr[frontier + 1] - starts)]
        nxt = nxt[~seen[nxt]]
        frontier = unique_unsorted(nxt, stamp)
        seen[frontier] = True
    return seen


def unique_unsorted(x: np.ndarray, stamp: np.ndarray) -> np.ndarray:
    """Distinct values of ``x`` without sorting (``stamp`` is scratch space indexed by value)."""
    pos = np.arange(x.size)
    stamp[x] = pos
    return x[stamp[x] == pos]


def longest_path_levels(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Longest-path depth of every node from the sources (Kahn's algorithm, vectorised per level).

    Returns:
        int64 ``(n,)``: 0 for nodes without incoming arcs, else 1 + max level of a predecessor;
        ``-1`` for nodes on or after a cycle (so ``(levels < 0).any()`` means the graph is cyclic).
        The compiled kernel (gtn/_backend.py), when built, gives the same levels in one sweep.
    """
    kernel = _backend.KERNEL
    if kernel is not None:
        level = np.empty(int(n), dtype=np.int64)
        kernel.longest_path(np.ascontiguousarray(src, dtype=np.int64), np.ascontiguousarray(dst, dtype=np.int64), level)
        return level
    order, indptr = csr(src, n)
    dst_sorted = dst[order]
    indeg = np.bincount(dst, minlength=n)
    level = np.full(n, -1, dtype=np.int64)
    stamp = np.zeros(n, dtype=np.int64)
    frontier = np.flatnonzero(indeg == 0)
    depth = 0
    while frontier.size:
        level[frontier] = depth
        starts = indptr[frontier]
        d = dst_sorted[expand_ranges(starts, indptr[frontier + 1] - starts)]
        if d.size == 0:
            break
        np.subtract.at(indeg, d, 1)
        frontier = unique_unsorted(d[indeg[d] == 0], stamp)
        depth += 1
    return level
