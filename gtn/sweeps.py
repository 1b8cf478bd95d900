"""The dynamic-programming sweeps of gtn/scoring.py, in three interchangeable implementations.

A sweep runs over a scoring plan (:class:`gtn.scoring._Plan`) with float64 arc penalties ``p`` in the
implementation's own arc arrangement:

- :class:`NumpyLevels`: the reference; one vectorised numpy step per level (arcs in ``plan.perm``
  order, grouped by the level of their destination).
- :class:`KernelLevels`: the same level arrangement, swept by compiled loops (``gtn._kernels``).
- :class:`KernelSorted`: a graph whose arcs are sorted by destination (``plan.sorted``: compositions,
  frame graphs) is its own plan; the kernel sweeps the arcs in their own order, split over
  :func:`gtn.get_num_threads` threads at graph boundaries.

:func:`sweeps` is the one place that chooses among them. The three give the same numbers: Viterbi
scores and back-pointers bit for bit, forward scores and posteriors to the rounding of exp/log
(tests/gtn/test_gtn_kernels.py).

Every implementation offers ``arrange(plan, penalty) -> p``, ``forward(plan, p)`` (log-sum-exp node
scores ``(N,)``), ``viterbi(plan, p)`` (max node scores and back-pointers: the lowest-id tight arc into
each node, as a global arc id), ``backward_tropical(plan, p)`` (best score from each node to its
final) and ``posteriors(plan, p, alpha, gamma_final)`` (arc posteriors in ``p``'s arrangement, scaled
by ``gamma_final (B,)`` at the finals), and ``to_arcs(plan, values)`` (back to arc-id order).
"""

from __future__ import annotations

import numpy as np
import torch

from gtn import _backend

UNREACHED = -1e30  # finite sentinel of unreached nodes: no level needs a guard against -inf - (-inf)


def _init(plan, at: np.ndarray, value: float) -> np.ndarray:
    score = np.full(plan.n, UNREACHED)
    score[at] = value
    return score


def _gamma(plan, gamma_final: np.ndarray) -> np.ndarray:
    """Node posteriors before the backward sweep: ``gamma_final`` at the finals, 0 elsewhere."""
    gamma = np.zeros(plan.n)
    gamma[plan.finals] = gamma_final
    return gamma


class NumpyLevels:
    """The numpy reference, level by level (arcs in ``plan.perm`` order)."""

    @staticmethod
    def arrange(plan, penalty: torch.Tensor) -> np.ndarray:
        return penalty.detach().cpu().numpy().astype(np.float64, copy=False)[plan.perm]

    @staticmethod
    def to_arcs(plan, values: np.ndarray) -> np.ndarray:
        out = np.zeros(plan.num_arcs, dtype=values.dtype)
        out[plan.perm] = values
        return out

    def forward(self, plan, p: np.ndarray, *, tropical: bool = False) -> np.ndarray:
        score = _init(plan, plan.starts, 0.0)
        for lo, hi, reads, _, seg, nodes, d in plan.levels:
            v = score[reads] - p[lo:hi]
            m = np.full(d, -np.inf)
            np.maximum.at(m, seg, v)
            if tropical:
                score[nodes] = m
            else:
                s = np.bincount(seg, np.exp(v - m[seg]), minlength=d)
                score[nodes] = m + np.log(s)
        return score

    def viterbi(self, plan, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        score = self.forward(plan, p, tropical=True)
        tight = np.flatnonzero(score[plan.reads] - p == score[plan.writes])
        first = np.full(plan.n, plan.perm.size, dtype=np.int64)
        np.minimum.at(first, plan.writes[tight], tight)
        bp = np.full(plan.n, -1, dtype=np.int64)
        has = first < plan.perm.size
        bp[has] = plan.perm[first[has]]
        return score, bp

    @staticmethod
    def backward_tropical(plan, p: np.ndarray) -> np.ndarray:
        score = _init(plan, plan.finals, 0.0)
        for lo, hi, reads, writes, _, _, _ in reversed(plan.levels):
            np.maximum.at(score, reads, score[writes] - p[lo:hi])
        return score

    @staticmethod
    def posteriors(plan, p: np.ndarray, alpha: np.ndarray, gamma_final: np.ndarray) -> np.ndarray:
        w = np.exp(alpha[plan.reads] - p - alpha[plan.writes])
        gamma = _gamma(plan, gamma_final)
        for lo, hi, reads, writes, _, _, _ in reversed(plan.levels):
            np.add.at(gamma, reads, gamma[writes] * w[lo:hi])
        return gamma[plan.writes] * w


class KernelLevels(NumpyLevels):
    """The level arrangement swept by the compiled kernel (same arithmetic, same order)."""

    def __init__(self, kernel) -> None:
        self.k = kernel

    def forward(self, plan, p: np.ndarray, *, tropical: bool = False) -> np.ndarray:
        if tropical:
            return self.viterbi(plan, p)[0]
        score = _init(plan, plan.starts, 0.0)
        self.k.lse_forward(plan.reads, plan.writes, p, plan.bounds, score)
        return score

    def viterbi(self, plan, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        score = _init(plan, plan.starts, 0.0)
        bp = np.full(plan.n, -1, dtype=np.int64)
        self.k.max_forward(plan.reads, plan.writes, p, plan.perm, score, bp)
        return score, bp

    def backward_tropical(self, plan, p: np.ndarray) -> np.ndarray:
        score = _init(plan, plan.finals, 0.0)
        self.k.max_backward(plan.reads, plan.writes, p, score)
        return score

    def posteriors(self, plan, p: np.ndarray, alpha: np.ndarray, gamma_final: np.ndarray) -> np.ndarray:
        post = np.empty(plan.perm.size)
        self.k.posteriors(plan.reads, plan.writes, p, alpha, plan.bounds, _gamma(plan, gamma_final), post)
        return post


class KernelSorted(KernelLevels):
    """Arcs sorted by destination, swept in their own order (``p`` in arc-id order)."""

    @staticmethod
    def arrange(plan, penalty: torch.Tensor) -> np.ndarray:
        return np.ascontiguousarray(penalty.detach().cpu().numpy(), dtype=np.float64)

    @staticmethod
    def to_arcs(plan, values: np.ndarray) -> np.ndarray:
        return values

    def forward(self, plan, p: np.ndarray, *, tropical: bool = False) -> np.ndarray:
        if tropical:
            return self.viterbi(plan, p)[0]
        score = _init(plan, plan.starts, 0.0)
        self.k.lse_sorted(plan.src_all, plan.dst_all, p, score, plan.cuts())
        return score

    def viterbi(self, plan, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        score = _init(plan, plan.starts, 0.0)
        bp = np.full(plan.n, -1, dtype=np.int64)
        self.k.max_sorted(plan.src_all, plan.dst_all, p, score, bp, plan.cuts())
        return score, bp

    def backward_tropical(self, plan, p: np.ndarray) -> np.ndarray:
        score = _init(plan, plan.finals, 0.0)
        self.k.max_backward(plan.src_all, plan.dst_all, p, score)
        return score

    def posteriors(self, plan, p: np.ndarray, alpha: np.ndarray, gamma_final: np.ndarray) -> np.ndarray:
        post = np.empty(plan.num_arcs)
        self.k.posteriors_sorted(plan.src_all, plan.dst_all, p, alpha, _gamma(plan, gamma_final), post, plan.cuts())
        return post


def sweeps(plan, *, levels: bool = False):
    """The implementation that sweeps ``plan`` now: the kernel's sorted sweep for a sorted plan (unless
    ``levels``: callers that need the level arrangement), else the kernel's level sweep, else numpy."""
    kernel = _backend.KERNEL
    if kernel is None:
        return NumpyLevels()
    if plan.sorted and not levels:
        return KernelSorted(kernel)
    return KernelLevels(kernel)
