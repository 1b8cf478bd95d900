"""Validation zip-code string accuracy of SDNN weights, per spacing (used to compare training choices).

The zip codes (5 digits, no +4) are built from the held-out MNIST *training* digits 55000..59999
(``docrec.training.sdnn_train.split_pools``), never from test digits, ``--count`` per spacing
(wide, normal, tight, touching; field ``i`` of spacing ``k`` uses ``field_rng(9100 + k, i)``), and
read with the zip grammar. This is a second validation set beside the one the trainer selects
epochs on (300 normal zip codes, seed 5000), so the per-spacing numbers in the weight cards are not
the numbers that picked the epoch.

    .venv/bin/python benchmarks/sdnn_validation.py docrec/weights/sdnn-way1.pt docrec/weights/sdnn-way2.pt

``--calibrate`` also chooses the confidence temperature ``tau`` of each weights file
(:class:`docrec.recognizers.sdnn.SDNNRecognizer`): on another set of validation strings of the same
held-out digits (``--count`` zip codes at each of the five spacings, plus ``--count`` digit strings
3-8 and ``--count`` amounts, normal spacing; seeds 9200..9206), the ``tau`` of :data:`TAUS` with the
lowest negative log-likelihood of "the reading is right" under the confidence (a calibration
criterion; the test strings play no part). ``--write`` stores it in the weights file's
``meta["confidence_temperature"]`` (atomic rewrite).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
if _SHARED_MNIST.is_dir() and not os.environ.get("DOCREC_MNIST_DIR"):
    os.environ["DOCREC_MNIST_DIR"] = str(_SHARED_MNIST)  # the development copy, as tests/conftest.py

SPACINGS = ("wide", "normal", "tight", "touching")
#: Candidate confidence temperatures (roughly x1.4 steps).
TAUS = (0.5, 0.7, 1.0, 2.0, 4.0, 6.0, 8.0, 11.0, 16.0, 23.0, 32.0)
GRAMMARS = {"zip": "zip", "digits": "digits:3-8", "amount": "amount"}


def calibration_set(pool, count: int):
    """``(kind, image, text)`` validation fields for choosing the temperature (module docstring)."""
    from data.synth import SynthConfig, field_rng, synthesize_one

    out = []
    for k, sp in enumerate(SPACINGS + ("overlapping",)):
        out += [("zip", f) for f in (synthesize_one("zip", pool, field_rng(9200 + k, i),
                                                    SynthConfig(spacing=sp, zip_plus4=0.0)) for i in range(count))]
    for k, kind in enumerate(("digits", "amount")):
        cfg = SynthConfig(spacing="normal", min_len=3, max_len=8)
        out += [(kind, synthesize_one(kind, pool, field_rng(9205 + k, i), cfg)) for i in range(count)]
    return out


def calibrate(weights, fields) -> tuple[float, dict]:
    """The temperature of :data:`TAUS` with the lowest NLL of correctness; ``(tau, {tau: nll})``.

    The readings do not depend on ``tau`` (only the confidences do), so each field is read once
    per kind and the confidences are recomputed from the stored frame penalties.
    """
    import numpy as np

    from data.sdnn_samples import normalize_field
    from docrec.recognizers.sdnn import SDNNRecognizer

    rec = SDNNRecognizer(weights)
    per_tau = {t: [] for t in TAUS}
    for kind, spec in GRAMMARS.items():
        group = [f for k, f in fields if k == kind]
        if not group:
            continue
        _, dec = rec._grammar_and_decoder(spec)
        for s in range(0, len(group), rec.batch_size):
            chunk = group[s: s + rec.batch_size]
            pen, frames = rec.frame_penalties([normalize_field(f.image)[0] for f in chunk])
            _, spans = dec.viterbi(pen, frames)
            texts = [[sp.label for sp in spl] for spl in spans]
            ok = np.array([rec.charmodel.alphabet.decode(t) == f.text for t, f in zip(texts, chunk)])
            pen = pen.double()
            for tau in TAUS:
                scaled = pen / tau
                f_all, f_txt = dec.forward_all(scaled, frames), dec.forward_text(scaled, frames, texts)
                logc = np.minimum(0.0, (f_all - f_txt).numpy())  # log confidence
                logc = np.maximum(logc, -700.0)  # an unreadable field: confidence ~0, not -inf
                log1m = np.log(-np.expm1(np.minimum(logc, -1e-12)))  # log(1 - c), stable near c = 1
                per_tau[tau].append(-np.where(ok, logc, log1m))
    nll = {t: float(np.mean(np.concatenate(v))) for t, v in per_tau.items()}
    return min(nll, key=nll.get), nll


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", nargs="+", help="SDNN weights files or bundled names")
    ap.add_argument("--count", type=int, default=300, help="zip codes per spacing (default 300)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--calibrate", action="store_true", help="also choose the confidence temperature")
    ap.add_argument("--write", action="store_true", help="with --calibrate: store it in the weights file")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    from data.synth import SynthConfig, field_rng, synthesize_one
    from docrec.recognizers.sdnn import SDNNRecognizer
    from docrec.training.sdnn_train import split_pools

    _, pool = split_pools()
    sets = {sp: [synthesize_one("zip", pool, field_rng(9100 + k, i), SynthConfig(spacing=sp, zip_plus4=0.0))
                 for i in range(args.count)] for k, sp in enumerate(SPACINGS)}
    for w in args.weights:
        rec = SDNNRecognizer(w)
        row = {}
        for sp, fields in sets.items():
            out = rec.recognize([f.image for f in fields], grammar="zip")
            row[sp] = sum(o.text == f.text for o, f in zip(out, fields)) / len(fields)
        row["mean"] = sum(row.values()) / len(row)
        print(w, json.dumps({k: round(v, 3) for k, v in row.items()}), flush=True)
    if args.calibrate:
        from docrec.recognizers.sdnn_net import load_weights, save_weights

        fields = calibration_set(pool, args.count)
        for w in args.weights:
            tau, nll = calibrate(w, fields)
            print(w, f"confidence temperature {tau:g}; validation NLL by tau:",
                  json.dumps({f"{t:g}": round(v, 4) for t, v in nll.items()}), flush=True)
            if args.write:
                path = Path(w) if Path(w).suffix else ROOT / "docrec" / "weights" / f"{w}.pt"
                net, cm, meta = load_weights(path)
                meta.update(confidence_temperature=tau,
                            confidence_temperature_nll=json.dumps({f"{t:g}": v for t, v in nll.items()}))
                save_weights(path, net, cm, meta)
                print(f"wrote confidence_temperature={tau:g} into {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
