"""Interval estimates, paired tests and reject curves for comparing recognisers on the same fields.

Everything here works on plain per-field arrays (one entry per field, the same fields for every
system), so it is independent of how the fields were read:

- :func:`wilson`: the Wilson score interval of a proportion (string accuracy, MNIST error);
- :func:`bootstrap_cer`: a percentile bootstrap interval of the character error rate
  ``sum(edit distances) / sum(true lengths)``, resampling whole fields;
- :func:`mcnemar_exact`: the exact (binomial) McNemar test of two systems read on the same fields;
- :func:`reject_curve` / :func:`operating_point` / :func:`cross_fitted_at_error`: error against
  rejection rate when fields are accepted in order of confidence, and the paper's operating point
  at 1% error (docs/paper.md Sec. X: 82% read, 1% wrong, 17% rejected).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

#: The normal quantile of a two-sided 95% interval.
Z95 = 1.959963984540054


def wilson(k: int, n: int, *, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n``.

    Args:
        k: successes, ``0 <= k <= n``.
        n: trials; ``n = 0`` gives the uninformative ``(0.0, 1.0)``.
        z: normal quantile (1.96 for 95%).

    Returns:
        ``(lo, hi)``, both in [0, 1].

    Raises:
        ValueError: ``k`` outside ``[0, n]`` or negative ``n``.
    """
    if n < 0 or not 0 <= k <= max(n, 0):
        raise ValueError(f"[docrec.compare.wilson] need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_cer(distances: Sequence[int], lengths: Sequence[int], *, n_boot: int = 2000, seed: int = 0,
                  level: float = 0.95) -> tuple[float, float, float]:
    """Character error rate and its percentile bootstrap interval (fields resampled with replacement).

    Args:
        distances: ``(N,)`` edit distance of each field's reading to its truth.
        lengths: ``(N,)`` length of each truth.
        n_boot: bootstrap resamples.
        seed: seed of the resampling (the interval is deterministic for a seed).
        level: coverage of the interval.

    Returns:
        ``(cer, lo, hi)``; ``(0, 0, 0)`` for no fields.

    Raises:
        ValueError: arrays of different lengths, negative entries, or ``n_boot < 1``.
    """
    d = np.asarray(distances, np.float64)
    n_chars = np.asarray(lengths, np.float64)
    if d.shape != n_chars.shape or d.ndim != 1:
        raise ValueError(f"[docrec.compare.bootstrap_cer] distances {d.shape} and lengths {n_chars.shape} "
                         "must be 1-D of the same length")
    if (d < 0).any() or (n_chars < 0).any() or n_boot < 1:
        raise ValueError("[docrec.compare.bootstrap_cer] need non-negative distances and lengths, n_boot >= 1")
    if d.size == 0:
        return 0.0, 0.0, 0.0
    cer = float(d.sum() / max(n_chars.sum(), 1.0))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, d.size, size=(n_boot, d.size))  # (n_boot, N)
    rates = d[idx].sum(1) / np.maximum(n_chars[idx].sum(1), 1.0)
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(rates, [tail, 1.0 - tail])
    return cer, float(lo), float(hi)


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts.

    Under the null hypothesis both systems are equally accurate, so among the ``b + c`` fields
    where exactly one is right, ``b`` is Binomial(``b + c``, 1/2); the p-value is
    ``min(1, 2 P(X <= min(b, c)))``.

    Args:
        only_a: fields system A reads right and B wrong (``b``).
        only_b: fields B reads right and A wrong (``c``).

    Returns:
        The p-value in (0, 1]; 1 when there is no discordant field.

    Raises:
        ValueError: a negative count.
    """
    if only_a < 0 or only_b < 0:
        raise ValueError(f"[docrec.compare.mcnemar_exact] counts must be >= 0, got {only_a}, {only_b}")
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0 ** n
    return min(1.0, 2.0 * tail)


def agreement(right_a: Sequence[bool], right_b: Sequence[bool]) -> dict:
    """Both right / only A / only B / neither counts of two systems on the same fields, the oracle
    "either system is right" accuracy and the exact McNemar p-value."""
    a = np.asarray(right_a, bool)
    b = np.asarray(right_b, bool)
    if a.shape != b.shape:
        raise ValueError(f"[docrec.compare.agreement] {a.shape} vs {b.shape}: not the same fields")
    n = int(a.size)
    out = {"fields": n, "both": int((a & b).sum()), "only_a": int((a & ~b).sum()),
           "only_b": int((~a & b).sum()), "neither": int((~a & ~b).sum())}
    out["oracle"] = (n - out["neither"]) / n if n else 0.0
    out["oracle_ci"] = list(wilson(n - out["neither"], n))
    out["mcnemar_p"] = mcnemar_exact(out["only_a"], out["only_b"])
    return out


def reject_curve(confidences: Sequence[float], correct: Sequence[bool]) -> dict:
    """Error against rejection rate when the most confident fields are accepted first.

    A cut is only made between distinct confidences (tied fields are accepted together).

    Args:
        confidences: ``(N,)`` per-field confidence (higher = surer).
        correct: ``(N,)`` whether each reading is right.

    Returns:
        ``{"rejected": [...], "error": [...], "accuracy": [...]}``, fractions of all ``N`` fields,
        from "reject everything" (``rejected = 1``) to "accept everything" (``rejected = 0``).
    """
    conf = np.asarray(confidences, np.float64)
    ok = np.asarray(correct, bool)
    n = conf.size
    rejected, error, accuracy = [1.0], [0.0], [0.0]
    if n == 0:
        return {"rejected": rejected, "error": error, "accuracy": accuracy}
    order = np.argsort(-conf, kind="stable")
    wrong = np.cumsum(~ok[order])
    right = np.cumsum(ok[order])
    for k in range(n):
        if k + 1 == n or conf[order[k + 1]] < conf[order[k]]:
            rejected.append((n - k - 1) / n)
            error.append(float(wrong[k]) / n)
            accuracy.append(float(right[k]) / n)
    return {"rejected": rejected, "error": error, "accuracy": accuracy}


def operating_point(curve: dict, *, max_error: float = 0.01) -> dict:
    """The point of a :func:`reject_curve` with the most accepted fields whose error is at most
    ``max_error`` of all fields (chosen on the same fields: an optimistic, in-sample figure)."""
    best = 0
    for i, err in enumerate(curve["error"]):
        if err <= max_error + 1e-12:
            best = i
    return {k: curve[k][best] for k in ("rejected", "error", "accuracy")}


def cross_fitted_at_error(confidences: Sequence[float], correct: Sequence[bool], *,
                          max_error: float = 0.01) -> dict:
    """Accuracy / error / rejection at ``max_error`` with the threshold cross-fitted: chosen on the
    even-numbered fields and applied to the odd ones, and the other way round, so no field is judged
    by a threshold chosen on itself."""
    from docrec.commands.eval_strings import threshold_at_error

    conf = np.asarray(confidences, np.float64)
    ok = np.asarray(correct, bool)
    n = conf.size
    halves = (np.arange(0, n, 2), np.arange(1, n, 2))
    right = wrong = 0
    for fit, apply in (halves, halves[::-1]):
        if fit.size == 0 or apply.size == 0:
            continue
        thr = threshold_at_error(conf[fit], ok[fit], max_error=max_error)
        accepted = conf[apply] >= thr
        right += int((accepted & ok[apply]).sum())
        wrong += int((accepted & ~ok[apply]).sum())
    return {"accuracy": right / max(n, 1), "error": wrong / max(n, 1),
            "rejected": (n - right - wrong) / max(n, 1), "accepted_right": right, "accepted_wrong": wrong}


__all__ = ["Z95", "agreement", "bootstrap_cer", "cross_fitted_at_error", "mcnemar_exact", "operating_point",
           "reject_curve", "wilson"]
