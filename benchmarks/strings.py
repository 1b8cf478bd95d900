"""String recognition benchmark: any recogniser of the registry on fixed synthetic test strings.

Test strings are synthesised from MNIST *test* digits, one fixed seed per condition, so every
system and every variant reads exactly the same images. Conditions: 5-digit zip codes at every
spacing preset (wide, normal, tight, touching, overlapping), 3-8 digit strings (normal, touching),
cheque amounts (normal). Grammars: ``zip`` (5 digits, optional -4 extension), ``digits:3-8``,
``amount`` (``docrec.recognizers.resolve_grammar``).

Metrics per condition: string accuracy, character error rate, strings/s (wall time of
``recognize`` on the whole set, one process), and the accuracy at 1% error with rejection: the
confidence threshold is chosen on a VALIDATION set of strings of MNIST *training* digits
55000..59999 (all spacings mixed, one set per field kind), never on the test strings, then applied
to the test strings (the resulting test error may differ from 1%; it is reported).

Usage::

    python benchmarks/strings.py --system seg sdnn [--count 300] [--val-count 200]
    python benchmarks/strings.py --variant seg:local=runs/seg/local.pt --variant seg:global=...

Results are merged into ``benchmarks/results/strings.json`` (keyed by system, variant and
condition, so systems can be run separately) and the full table is printed as Markdown.
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
import _bench  # benchmarks/_bench.py: repository on sys.path, write_json

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
if _SHARED_MNIST.is_dir() and not os.environ.get("DOCREC_MNIST_DIR"):
    os.environ["DOCREC_MNIST_DIR"] = str(_SHARED_MNIST)  # the development copy, as tests/conftest.py

SPACINGS = ("wide", "normal", "tight", "touching", "overlapping")
#: name -> (field kind, spacing, grammar spec, test seed)
CONDITIONS = {f"zip5-{s}": ("zip", s, "zip", 1000 + k) for k, s in enumerate(SPACINGS)}
CONDITIONS.update({
    "digits3-8-normal": ("digits", "normal", "digits:3-8", 1100),
    "digits3-8-touching": ("digits", "touching", "digits:3-8", 1101),
    "amount-normal": ("amount", "normal", "amount", 1200),
})
VAL_SEED = 2000


def synth_config(kind: str, spacing: str):
    from data.synth import SynthConfig

    return SynthConfig(spacing=spacing, min_len=3, max_len=8, zip_plus4=0.0)


def test_set(name: str, count: int, pool) -> tuple[list[np.ndarray], list[str]]:
    from data.synth import synthesize

    kind, spacing, _, seed = CONDITIONS[name]
    fields = synthesize(kind, count, split="test", seed=seed, config=synth_config(kind, spacing), pool=pool)
    return [f.image for f in fields], [f.text for f in fields]


def val_set(kind: str, count: int, pool) -> tuple[list[np.ndarray], list[str]]:
    """Validation strings of ``kind`` from training digits, spacings cycling through all presets."""
    from data.synth import field_rng, synthesize_one

    images, texts = [], []
    for i in range(count):
        f = synthesize_one(kind, pool, field_rng(VAL_SEED + {"zip": 0, "digits": 1, "amount": 2}[kind], i),
                           synth_config(kind, SPACINGS[i % len(SPACINGS)]))
        images.append(f.image)
        texts.append(f.text)
    return images, texts


def run_set(rec, images, texts, grammar) -> dict:
    from docrec.commands.eval_strings import string_metrics

    t0 = time.perf_counter()
    res = rec.recognize(images, grammar=grammar)
    seconds = time.perf_counter() - t0
    out = [None if r.rejected and not r.text else r.text for r in res]
    conf = [float(r.confidence) for r in res]
    m = string_metrics(out, texts, conf)
    m["confidence"] = conf
    m["seconds"] = seconds
    return m


def parse_variants(args) -> list[tuple[str, str, dict]]:
    out = [(s, "bundled", {}) for s in args.system]
    for v in args.variant:
        try:
            head, path = v.split("=", 1)
            system, label = head.split(":", 1)
        except ValueError:
            raise SystemExit(f"benchmarks/strings.py: --variant {v!r}: expected SYSTEM:LABEL=WEIGHTS") from None
        out.append((system, label, {"weights": path}))
    return out


def markdown(results: list[dict]) -> str:
    cols = sorted({(r["system"], r["variant"]) for r in results})
    lines = ["| condition | " + " | ".join(f"{s} ({v})" for s, v in cols) + " |",
             "|---|" + "---|" * len(cols)]
    by = {(r["system"], r["variant"], r["condition"]): r for r in results}
    for name in CONDITIONS:
        cells = []
        for s, v in cols:
            r = by.get((s, v, name))
            cells.append("" if r is None else
                         f"{100 * r['string_accuracy']:.1f}% / CER {100 * r['cer']:.2f}% / "
                         f"{100 * r['at_1pct_error']['accuracy']:.1f}% @{100 * r['at_1pct_error']['error']:.1f}%err / "
                         f"{r['strings_per_s']:.0f}/s")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Cells: string accuracy / character error rate / accuracy at 1% error with rejection "
                 "(threshold chosen on validation strings of training digits; @ the resulting test error) "
                 "/ strings per second.")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--system", nargs="*", default=["seg"], help="systems with bundled weights (default seg)")
    p.add_argument("--variant", action="append", default=[], help="SYSTEM:LABEL=WEIGHTS, repeatable")
    p.add_argument("--conditions", nargs="*", default=list(CONDITIONS), choices=list(CONDITIONS))
    p.add_argument("--count", type=int, default=300, help="test strings per condition (default 300)")
    p.add_argument("--val-count", type=int, default=200, help="validation strings per kind (default 200)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "strings.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    from data.synth import DigitPool
    from docrec.commands.eval_strings import at_threshold, threshold_at_error
    from docrec.recognizers import get_recognizer, resolve_grammar
    from docrec.training.seg_data import train_pools

    test_pool = DigitPool.load("test")
    _, val_pool = train_pools()
    tests = {name: test_set(name, args.count, test_pool) for name in args.conditions}
    kinds = sorted({CONDITIONS[n][0] for n in args.conditions})
    vals = {k: val_set(k, args.val_count, val_pool) for k in kinds}
    grammar_of_kind = {CONDITIONS[n][0]: CONDITIONS[n][2] for n in args.conditions}

    old = json.loads(args.out.read_text()) if args.out.is_file() else {}
    results = {(r["system"], r["variant"], r["condition"]): r for r in old.get("results", [])}
    for system, label, kwargs in parse_variants(args):
        rec = get_recognizer(system, **kwargs)
        thresholds = {}
        for kind, (imgs, texts) in vals.items():
            m = run_set(rec, imgs, texts, resolve_grammar(grammar_of_kind[kind]))
            thresholds[kind] = {"threshold": threshold_at_error(m["confidence"], m["correct"]),
                                "val_string_accuracy": m["string_accuracy"], "val_fields": len(texts)}
        for name in args.conditions:
            kind, spacing, gspec, seed = CONDITIONS[name]
            imgs, texts = tests[name]
            m = run_set(rec, imgs, texts, resolve_grammar(gspec))
            thr = thresholds[kind]["threshold"]
            r = {"system": system, "variant": label, "weights": kwargs.get("weights", "bundled"),
                 "condition": name, "kind": kind, "spacing": spacing, "grammar": gspec, "seed": seed,
                 "fields": len(texts), "string_accuracy": m["string_accuracy"], "cer": m["cer"],
                 "strings_per_s": len(texts) / m["seconds"],
                 "at_1pct_error": at_threshold(m["confidence"], m["correct"], thr),
                 "validation": thresholds[kind]}
            results[(system, label, name)] = r
            if args.out.is_file():  # another run (e.g. another system) may have written meanwhile
                for q in json.loads(args.out.read_text()).get("results", []):
                    key = (q["system"], q["variant"], q["condition"])
                    if key[:2] != (system, label):
                        results[key] = q
            print(f"{system} ({label}) {name}: acc {100 * r['string_accuracy']:.1f}%  CER {100 * r['cer']:.2f}%  "
                  f"acc@1% {100 * r['at_1pct_error']['accuracy']:.1f}% (err {100 * r['at_1pct_error']['error']:.1f}%)  "
                  f"{r['strings_per_s']:.1f}/s", flush=True)
            out = {"description": "benchmarks/strings.py: synthetic strings of MNIST test digits",
                   "count": args.count, "val_count": args.val_count, "threads": args.threads,
                   "cpu_count": os.cpu_count(), "torch": torch.__version__,
                   "results": sorted(results.values(), key=lambda r: (r["system"], r["variant"], r["condition"]))}
            _bench.write_json(args.out, out, indent=2)
    print()
    print(markdown(sorted(results.values(), key=lambda r: (r["system"], r["variant"]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
