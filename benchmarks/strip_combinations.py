"""Do two strip nets, or one net reading several variants of each field, read real cheques better
than one net alone?

Each strip net (SDNN weights, e.g. ``sdnn-strip-real`` and the same recipe run with another
``--seed``) reads the ORAND-CAR-A validation fields (ids 800-999, digits scored) as they are and
as four variants: sheared by +-0.2 (slant) and squeezed to 0.85 or stretched to 1.2 of their width.
A combination is string-level: its candidates are the union of the members' 5-best readings, each
candidate is scored by every member (``-log`` posterior of the text, ``SDNNRecognizer.text_penalties``,
capped at 50), and the lowest sum wins. Frame-level averaging is not used: two CTC-trained nets
need not place their peaks on the same frames. Nothing is trained or chosen here.

Usage: python benchmarks/strip_combinations.py --weights A.pt B.pt [--fields DIR] [--ids 800-999]
Writes benchmarks/results/strip_combinations.json.
"""

from __future__ import annotations

import argparse
import sys

import cv2
import numpy as np
import torch

import _bench  # repository on sys.path, write_json

RESULTS = _bench.ROOT / "benchmarks" / "results" / "strip_combinations.json"
CAP = 50.0  # a candidate a member cannot read at all (inf) counts as this many nats


def shear(image: np.ndarray, k: float) -> np.ndarray:
    """``x += k (y - H/2)``, the canvas widened so no ink leaves it, borders replicated."""
    h, w = image.shape[:2]
    pad = int(abs(k) * h / 2) + 2
    m = np.float32([[1, k, pad - k * h / 2], [0, 1, 0]])
    return cv2.warpAffine(image, m, (w + 2 * pad, h), borderMode=cv2.BORDER_REPLICATE)


def stretch(image: np.ndarray, s: float) -> np.ndarray:
    """The field's width times ``s``, its height kept."""
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w * s)), h), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)


VARIANTS = {"as is": lambda im: im, "shear +0.2": lambda im: shear(im, 0.2), "shear -0.2": lambda im: shear(im, -0.2),
            "width x0.85": lambda im: stretch(im, 0.85), "width x1.2": lambda im: stretch(im, 1.2)}


def combined(reads: dict, keys: list, truth: list[str]) -> float:
    """Digit-string accuracy of the string-level combination of the readings ``reads[key]``
    (``(recogniser, images, [(Recognition, penalties)])``) named by ``keys``."""
    from docrec.training.seg_real import digits_of

    cands: list[set] = [set() for _ in truth]
    for key in keys:
        for i, (res, _) in enumerate(reads[key][2]):
            cands[i].update(t for t in [res.text, *(a for a, _ in res.alternatives)] if t)
    texts = [sorted(c) for c in cands]
    totals = [np.zeros(len(t)) for t in texts]
    for key in keys:
        rec, images, out = reads[key]
        scored = rec.text_penalties(images, texts, grammar="amount", penalties=[p for _, p in out])
        for i, (f_all, f_txt) in enumerate(scored):
            totals[i] += np.minimum(f_txt - f_all, CAP)
    answers = [t[int(np.argmin(s))] if t else "" for t, s in zip(texts, totals)]
    return float(np.mean([digits_of(a) == t for a, t in zip(answers, truth)]))


def main(argv=None) -> int:
    from docrec.recognizers.sdnn import SDNNRecognizer
    from docrec.training.seg_real import digits_of, parse_id_range, read_folder

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", nargs=2, required=True, metavar=("A", "B"), help="two SDNN weights files or names")
    ap.add_argument("--fields", default=str(_bench.ROOT.parent / "shared" / "data" / "orand_car_a"))
    ap.add_argument("--ids", default="800-999")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    fields = read_folder(args.fields, ids=parse_id_range(args.ids), boxes=None)
    images = [fields.image(i) for i in range(len(fields))]
    truth = [digits_of(fields[i].text) for i in range(len(fields))]
    nets = {"A": SDNNRecognizer(args.weights[0]), "B": SDNNRecognizer(args.weights[1])}
    reads, alone = {}, {}
    for name, rec in nets.items():
        for variant, change in VARIANTS.items():
            varied = [change(im) for im in images]
            out = rec.recognize_detailed(varied, grammar="amount", n_best=5)
            reads[(name, variant)] = (rec, varied, out)
            alone[f"{name}, {variant}"] = float(np.mean([digits_of(r.text) == t for (r, _), t in zip(out, truth)]))
            print(f"{name}, {variant}: {alone[f'{name}, {variant}']:.3f}", flush=True)
    every = list(VARIANTS)
    combos = {"A + B, as is": [("A", "as is"), ("B", "as is")],
              "A, as is + shears": [("A", v) for v in ("as is", "shear +0.2", "shear -0.2")],
              "A, as is + widths": [("A", v) for v in ("as is", "width x0.85", "width x1.2")],
              "A, all five variants": [("A", v) for v in every],
              "B, all five variants": [("B", v) for v in every],
              "A + B, all five variants": [(n, v) for n in nets for v in every]}
    result = {"command": "python benchmarks/strip_combinations.py " + " ".join(argv or sys.argv[1:]),
              "fields": len(images), "ids": args.ids, "weights": {"A": args.weights[0], "B": args.weights[1]},
              "alone": alone, "combined": {}}
    for name, keys in combos.items():
        result["combined"][name] = combined(reads, keys, truth)
        print(f"{name}: {result['combined'][name]:.3f}", flush=True)
    _bench.write_json(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
