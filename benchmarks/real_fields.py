"""Real fields benchmark: every recogniser, before and after real-field training, on real scans.

Sets (nothing here is trained or tuned on them by this script):

* ``orand-val``: the real cheque courtesy amounts of ORAND-CAR-A with ids 800-999 (200 fields),
  the validation split carved out of ``../shared/data/orand_car_a`` (ids 154-799 train). Read with
  the ``amount`` grammar; labels hold digits only, so the *digits* of a reading are scored
  (``Recognition.digits``: separators and end marks read as ``.`` ``,`` ``-`` ``/`` are dropped).
* ``usps-zip``: 200 five-digit zip codes composed (``data.synth``, normal spacing, fixed seed) of
  the 1,000 held-back USPS envelope digits (``data.usps_pool("heldout")``, never trained on),
  read with the ``zip`` grammar and scored on the whole text.

Metrics: string accuracy, CER, fields/s (wall time of ``recognize`` on the whole set, one process,
2 torch threads), and accuracy at 1% error with rejection. Where digits are scored the recognisers
read with ``score="digits"``: their confidence is the posterior of the digit string, every reading
with those digits counted. The rejection threshold is cross-fitted:
the set is split in two halves (even / odd positions), the threshold reaching <= 1% error on one
half is applied to the other, and the two halves' accepted-correct / error counts are summed; no
field is judged by a threshold chosen on itself.

Usage::

    python benchmarks/real_fields.py                  # the default systems (before and after)
    python benchmarks/real_fields.py --systems "after/combo=combo:seg-modern-real" --sets orand-val

Weights whose card says they were trained on validation fields (``real_training_ids``, e.g.
``sdnn-strip-real-all``) are not measured on ``orand-val``: that would be in-sample.
``benchmarks/real_crossfit.py`` measures their recipe cross-fitted instead.

Results go to ``benchmarks/results/real_fields.json`` (merged by system and set) and the table is
printed as Markdown (``--table`` prints it from the JSON alone).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "real_fields.json"
VAL_IDS = range(800, 1000)
USPS_COUNT, USPS_SEED = 200, 4242

#: label -> "system:weights" (weights "" = the system's default)
DEFAULT_SYSTEMS = {
    "before/seg (LeNet-5)": "seg:seg-lenet5",
    "before/seg-modern": "seg:seg-modern",
    "before/sdnn (LeNet-5)": "sdnn:sdnn",
    "before/sdnn-strip": "sdnn:sdnn-strip",
    "before/combo": "combo:seg-modern",
    "after/seg (LeNet-5)": "seg:seg-lenet5-real",
    "after/seg-modern": "seg:seg-modern-real",
    "after/sdnn (LeNet-5)": "sdnn:sdnn-real",
    "after/sdnn-strip": "sdnn:sdnn-strip-real",
    "after/combo": "combo:seg-modern-real",
    # trained on every labelled field, validation included: orand-val is not measured (real_crossfit.py)
    "all/seg (LeNet-5)": "seg:seg-lenet5-real-all",
    "all/seg-modern": "seg:seg-modern-real-all",
    "all/sdnn-strip": "sdnn:sdnn-strip-real-all",
    "all/combo": "combo:seg-modern-real-all",
}
SETS = ("orand-val", "usps-zip")


def digits_of(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def load_set(name: str, orand_dir: Path, usps_dir: Path | None) -> tuple[list[np.ndarray], list[str], str, bool]:
    """``(images, truths, grammar spec, score digits only)`` of one set."""
    if name == "orand-val":
        from data import read_fields

        fs = read_fields(orand_dir, boxes=None).select_ids(VAL_IDS)
        return [fs.image(i) for i in range(len(fs))], list(fs.texts), "amount", True
    if name == "usps-zip":
        from data.synth import SynthConfig, synthesize
        from data.usps import usps_pool

        pool = usps_pool("heldout", usps_dir, download=False)
        fields = synthesize("zip", USPS_COUNT, split="test", seed=USPS_SEED,
                            config=SynthConfig(spacing="normal", zip_plus4=0.0), pool=pool)
        return [f.image for f in fields], [f.text for f in fields], "zip", False
    raise ValueError(f"[benchmarks.real_fields] unknown set {name!r}; choose from {SETS}")


def build(spec: str, *, score: str = "text"):
    """``"system:weights"`` -> a recogniser (empty weights: the system's default) whose confidence is
    the posterior of the text or of its digits (``score``)."""
    from docrec.recognizers import get_recognizer

    system, _, weights = spec.partition(":")
    if system == "combo":
        return get_recognizer("combo", score=score, **({"weights": _weights_path(weights)} if weights else {}))
    return get_recognizer(system, score=score, **({"weights": weights} if weights else {}))


def _weights_path(name: str) -> str:
    path = Path(name)
    if not path.suffix and not path.exists():
        path = ROOT / "docrec" / "weights" / f"{name}.pt"
    return str(path)


def trained_ids(name: str) -> list[range]:
    """The real field ids the weights ``name`` were trained on (their card's ``real_training_ids``,
    ``[[lo, hi], ...]``); none for weights without a card or without the key."""
    from docrec.weights import load_card

    return [range(lo, hi + 1) for lo, hi in load_card(name).get("real_training_ids", [])]


def weights_used(spec: str, rec) -> list[str]:
    """The weights names a recogniser built from ``spec`` reads with (combo: seg and SDNN)."""
    system, _, weights = spec.partition(":")
    if system == "combo":
        from docrec.recognizers.combo import split_weights

        return [str(split_weights(weights)[0] or "seg-modern"), str(rec.config.sdnn_weights or "sdnn")]
    return [weights or {"seg": "seg-lenet5", "sdnn": "sdnn"}[system]]


def saw_validation(spec: str, rec) -> list[str]:
    """The weights of ``spec`` trained on validation fields (``VAL_IDS``): they cannot be measured on them."""
    return [n for n in weights_used(spec, rec) if any(set(r) & set(VAL_IDS) for r in trained_ids(n))]


def cross_fitted_at_error(conf: np.ndarray, ok: np.ndarray, *, max_error: float = 0.01) -> dict:
    """Accuracy / error / rejection at ``max_error`` with thresholds cross-fitted over two halves."""
    from docrec.commands.eval_strings import threshold_at_error

    n = len(conf)
    halves = [np.arange(0, n, 2), np.arange(1, n, 2)]
    acc = err = 0
    for fit, apply in (halves, halves[::-1]):
        thr = threshold_at_error(conf[fit], ok[fit], max_error=max_error)
        accepted = conf[apply] >= thr
        acc += int((accepted & ok[apply]).sum())
        err += int((accepted & ~ok[apply]).sum())
    return {"accuracy_at_1pct": acc / max(n, 1), "error_at_1pct": err / max(n, 1),
            "rejected_at_1pct": (n - acc - err) / max(n, 1)}


def scored(results: list, truths: list[str], seconds: float, *, digits_only: bool,
           max_errors: int | None = None) -> tuple[dict, np.ndarray]:
    """Metrics of the readings ``results`` (:class:`Recognition` s) against ``truths`` read in
    ``seconds``, and the bool ``(N,)`` of the fields read right."""
    from docrec.commands.eval_strings import levenshtein

    read = [digits_of(r.text) if digits_only else r.text for r in results]
    truth = [digits_of(t) if digits_only else t for t in truths]
    ok = np.array([a == b for a, b in zip(read, truth)])
    conf = np.array([r.confidence for r in results], np.float64)
    cer = sum(levenshtein(a, b) for a, b in zip(read, truth)) / max(1, sum(len(t) for t in truth))
    res = {"fields": len(results), "string_accuracy": float(ok.mean()), "cer": float(cer),
           "fields_per_s": len(results) / seconds, **cross_fitted_at_error(conf, ok)}
    res["errors"] = [[i, truth[i], read[i]] for i in np.flatnonzero(~ok)[:max_errors].tolist()]
    return res, ok


def run_one(rec, images, truths, grammar: str, digits_only: bool) -> dict:
    from docrec.recognizers import resolve_grammar

    g = resolve_grammar(grammar)
    t0 = time.perf_counter()
    out = rec.recognize(images, grammar=g)
    return scored(out, truths, time.perf_counter() - t0, digits_only=digits_only, max_errors=40)[0]


def markdown(results: dict) -> str:
    """The README table: one row per system, per set accuracy / CER / accuracy at 1% error / fields/s."""
    sets = [s for s in SETS if any(s in v for v in results.values())]
    head = "| system | weights | " + " | ".join(
        f"{s}: accuracy | CER | at 1% error | fields/s" for s in sets) + " |"
    lines = [head, "|" + "---|" * (2 + 4 * len(sets))]
    for label, by_set in results.items():
        cells = [label, f"`{by_set.get('spec', '')}`"]
        for s in sets:
            r = by_set.get(s)
            cells += (["-"] * 4 if r is None else
                      [f"{100 * r['string_accuracy']:.1f}%", f"{100 * r['cer']:.1f}%",
                       f"{100 * r['accuracy_at_1pct']:.1f}%", f"{r['fields_per_s']:.0f}"])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    from benchmarks._bench import write_json

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--systems", nargs="+", default=None, metavar="LABEL=SYSTEM:WEIGHTS",
                   help="systems to run (default: every system before and after real-field training)")
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    p.add_argument("--orand", default=os.environ.get("DOCREC_ORAND_DIR", str(SHARED / "orand_car_a")))
    p.add_argument("--usps", default=os.environ.get("DOCREC_USPS_DIR", str(SHARED / "usps")))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--table", action="store_true", help="print the table from the JSON and stop")
    args = p.parse_args(argv)
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    if args.table:
        print(markdown(results))
        return 0
    torch.set_num_threads(args.threads)
    systems = dict(DEFAULT_SYSTEMS)
    if args.systems:
        systems = dict(s.split("=", 1) for s in args.systems)
    data = {s: load_set(s, Path(args.orand), Path(args.usps)) for s in args.sets}
    for label, spec in systems.items():
        entry = results.setdefault(label, {})
        entry["spec"] = spec
        for s, (images, truths, grammar, digits_only) in data.items():
            rec = build(spec, score="digits" if digits_only else "text")
            seen = saw_validation(spec, rec) if s == "orand-val" else []
            if seen:  # in-sample: benchmarks/real_crossfit.py measures such weights
                entry.pop(s, None)
                print(f"{label:24s} {s:10s} not measured: {', '.join(seen)} trained on these fields", flush=True)
                continue
            entry[s] = run_one(rec, images, truths, grammar, digits_only)
            r = entry[s]
            print(f"{label:24s} {s:10s} acc {r['string_accuracy']:.3f}  cer {r['cer']:.3f}  "
                  f"at1% {r['accuracy_at_1pct']:.3f}  {r['fields_per_s']:.0f} fields/s", flush=True)
        write_json(RESULTS, results)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
