"""Confidence calibration of the segmentation recogniser: choose the temperature ``tau``.

The recogniser's confidence is the posterior of the decoded text among the readings the grammar
allows, computed from the interpretation graph's penalties divided by ``tau``
(``SegRecognizerConfig.temperature``; the best reading does not depend on it). LeNet-5's
MAP-normalised penalties make that posterior over-confident: readings that are wrong often get
confidence ~1, which defeats rejection. On validation strings of MNIST *training* digits
55000..59999 (never test digits), :func:`choose_temperature` picks the ``tau`` of a grid with the
lowest negative log-likelihood of "the reading is right" under the confidence (a proper scoring
rule), and ``docrec train seg export`` stores it in the weights file's ``meta["temperature"]``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from decoders import decode

#: Candidate temperatures (about x1.4 steps).
TAUS = (1.0, 1.4, 2.0, 2.8, 4.0, 5.6, 8.0, 11.0, 16.0)


def reading_nll(correct: np.ndarray, confidence: np.ndarray, *, eps: float = 1e-6) -> float:
    """Mean ``-log`` likelihood of the outcomes ``correct`` (bool ``(N,)``) under ``confidence`` ``(N,)``."""
    c = np.clip(np.asarray(confidence, np.float64), eps, 1.0 - eps)
    y = np.asarray(correct, bool)
    return float(-np.mean(np.where(y, np.log(c), np.log1p(-c))))


def choose_temperature(recognizer, fields, *, grammars: dict, taus=TAUS) -> dict:
    """Score every ``tau`` of ``taus`` on cached validation fields.

    Args:
        recognizer: a ``SegmentationRecognizer`` (its model is used in eval mode, no gradient).
        fields: ``docrec.training.seg_global.CachedField`` list (validation strings).
        grammars: field kind -> ``decoders.Grammar``.
        taus: candidate temperatures (> 0).

    Returns:
        ``{"temperature": best tau, "string_accuracy": ..., "fields": N, "grid": [{"tau", "nll",
        "mean_confidence"}]}``.
    """
    from docrec.training.seg_global import interpretation_graphs

    if not fields:
        raise ValueError("[docrec.choose_temperature] no validation fields")
    bad = [t for t in taus if not (math.isfinite(t) and t > 0)]
    if bad:
        raise ValueError(f"[docrec.choose_temperature] temperatures must be finite and > 0, got {bad}")
    recognizer.model.eval()
    conf = {t: [] for t in taus}
    correct = []
    with torch.no_grad():
        for f, g in zip(fields, interpretation_graphs(recognizer, fields)):
            ok = None
            for t in taus:
                res = decode(g.with_penalty(g.penalty / t), grammars[f.kind])[0]
                if ok is None:  # the reading itself does not depend on tau
                    ok = (not res.rejected) and res.text == f.text
                conf[t].append(0.0 if res.rejected else float(res.confidence))
            correct.append(ok)
    y = np.asarray(correct, bool)
    grid = [{"tau": float(t), "nll": reading_nll(y, np.asarray(conf[t])),
             "mean_confidence": float(np.mean(conf[t]))} for t in taus]
    best = min(grid, key=lambda r: r["nll"])
    return {"temperature": best["tau"], "string_accuracy": float(y.mean()), "fields": len(fields), "grid": grid}
