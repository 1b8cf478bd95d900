"""Turn the readings of a comparison into its numbers: the ``results.json`` document.

Per field set and system: string accuracy with its Wilson interval, CER with a bootstrap interval,
fields/s, the reject curve with its in-sample 1%-error point and the cross-fitted accuracy at 1%
error, accuracy per string length, and the errors. Per field set and pair of systems: the
agreement table (both / only A / only B / neither), the oracle "either is right" bound and the
exact McNemar p-value. Across the synthetic sets: accuracy per field kind and spacing preset.

A reading is scored by its text (``""`` when the recogniser gave none); a rejected reading with a
text is still scored on that text: rejection is what the reject curve measures.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from docrec.compare import stats
from docrec.compare.fieldsets import LoadedSet

SCHEMA = "docrec-compare/1"


def _reading(record: dict, score: str) -> str:
    text = record.get("text") or ""
    return "".join(c for c in text if "0" <= c <= "9") if score == "digits" else text


def system_metrics(fset: LoadedSet, records: list[dict], *, n_boot: int = 2000, seed: int = 0,
                   max_errors: int = 50) -> dict:
    """The numbers of one system on one set (module docstring)."""
    from docrec.commands.eval_strings import levenshtein

    truths = fset.scored_truths()
    reads = [_reading(r, fset.score) for r in records]
    ok = np.array([a == b for a, b in zip(reads, truths)], bool)
    conf = np.array([r["confidence"] for r in records], np.float64)
    n, k = len(truths), int(ok.sum())
    dist = [levenshtein(a, b) for a, b in zip(reads, truths)]
    cer, cer_lo, cer_hi = stats.bootstrap_cer(dist, [len(t) for t in truths], n_boot=n_boot, seed=seed)
    seconds = float(sum(r["seconds"] for r in records))
    curve = stats.reject_curve(conf, ok)
    by_length: dict[str, list[int]] = {}
    for length, good in zip(fset.lengths, ok):
        cell = by_length.setdefault(str(length), [0, 0])
        cell[0] += int(good)
        cell[1] += 1
    errors = [{"index": int(i), "name": fset.names[i], "field": fset.hashes[i], "truth": truths[i],
               "reading": reads[i], "confidence": float(conf[i])} for i in np.flatnonzero(~ok)[:max_errors]]
    return {"fields": n, "correct": k, "accuracy": k / n if n else 0.0, "accuracy_ci": list(stats.wilson(k, n)),
            "cer": cer, "cer_ci": [cer_lo, cer_hi], "seconds": seconds,
            "fields_per_s": n / seconds if seconds > 0 else None,
            "at_1pct_in_sample": stats.operating_point(curve),
            "at_1pct_cross_fitted": stats.cross_fitted_at_error(conf, ok),
            "reject_curve": {k: [round(v, 5) for v in vals] for k, vals in curve.items()}, "by_length": dict(sorted(by_length.items(), key=lambda kv: int(kv[0]))),
            "right": ok.astype(int).tolist(), "errors": errors}


def pair_table(labels: list[str], by_system: dict[str, dict]) -> list[dict]:
    """Agreement and McNemar for every pair of systems on one set."""
    out = []
    for a, b in combinations(labels, 2):
        row = stats.agreement(np.array(by_system[a]["right"], bool), np.array(by_system[b]["right"], bool))
        out.append({"a": a, "b": b, **row})
    return out


def by_spacing(sets: list[LoadedSet], results: dict, labels: list[str]) -> dict:
    """``{system: {kind: {spacing: {"correct", "fields", "accuracy", "accuracy_ci"}}}}``: generator
    conditions pooled by field kind and spacing preset (kinds are kept apart: an amount and a zip
    code of the same spacing are not the same task)."""
    from data.synth import SPACING_PRESETS

    order = list(SPACING_PRESETS)
    out: dict[str, dict] = {}
    for label in labels:
        cells: dict[str, dict[str, list[int]]] = {}
        for fset in sets:
            if fset.spacing is None:
                continue
            m = results[fset.name][label]
            cell = cells.setdefault(fset.spec.synth["kind"], {}).setdefault(fset.spacing, [0, 0])
            cell[0] += m["correct"]
            cell[1] += m["fields"]
        out[label] = {kind: {sp: {"correct": c[0], "fields": c[1], "accuracy": c[0] / c[1],
                                  "accuracy_ci": list(stats.wilson(c[0], c[1]))}
                             for sp, c in sorted(by_sp.items(), key=lambda kv: order.index(kv[0]))}
                      for kind, by_sp in cells.items()}
    return out


def build_results(systems, sets: list[LoadedSet], readings: dict, *, n_boot: int = 2000,
                  command: list[str] | None = None) -> dict:
    """The whole ``results.json`` document (before plots and gallery are added)."""
    labels = [s.label for s in systems]
    results = {fset.name: {s.label: system_metrics(fset, readings[fset.name][s.label], n_boot=n_boot)
                           for s in systems} for fset in sets}
    return {
        "schema": SCHEMA,
        "command": command or [],
        "systems": [{"label": s.label, "system": s.system, "alias": s.alias, "weights_given": s.weights,
                     "weights": {fset.name: s.weights_for_set(fset.spec) for fset in sets}} for s in systems],
        "sets": [{"name": f.name, "source": f.spec.source, "spec": f.spec.spec, "grammar": f.spec.grammar,
                  "score": f.score, "fields": len(f.images), "spacing": f.spacing,
                  "path": str(f.spec.path) if f.spec.path else None,
                  "ids": list(f.spec.ids) if f.spec.ids else None, "synth": f.spec.synth or None} for f in sets],
        "results": results,
        "pairs": {fset.name: pair_table(labels, results[fset.name]) for fset in sets},
        "by_spacing": by_spacing(sets, results, labels),
    }


__all__ = ["SCHEMA", "build_results", "by_spacing", "pair_table", "system_metrics"]
