"""Does a wider strip help the StripNet read small repeated digits (stride 4, issue 16)?

Every field is stretched horizontally by a factor before the SDNN's height normalisation, so a
cramped ``000`` gets more frames for CTC's 'none' between repeats. Two measurements on the
ORAND-CAR-A validation split (ids 800-999, ``amount`` grammar, digits scored):

* ``--read W FACTORS``: weights ``W`` read at each stretch factor (no training);
* ``--train OUT FACTOR``: ``sdnn-strip`` fine-tuned on the training split (ids 154-799) with the
  recipe of ``sdnn-strip-real`` (realistic synthetic half, joined fields), training and validation
  both stretched; one JSON line per epoch.

Usage::

    python benchmarks/strip_stretch.py --read sdnn-strip-real 0.8,1.0,1.2,1.4,1.6
    python benchmarks/strip_stretch.py --train runs/xs15 1.5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import data.sdnn_samples as samples  # noqa: E402
import docrec.recognizers.sdnn as sdnn_reader  # noqa: E402
import docrec.training.sdnn_real as sdnn_real  # noqa: E402
from docrec.commands.train_sdnn import load_real_fields, mixed_digit_pool, real_accuracy  # noqa: E402

ORAND = os.environ.get("DOCREC_ORAND_DIR", str(ROOT.parent / "shared" / "data" / "orand_car_a"))


def stretched(image: np.ndarray, factor: float) -> np.ndarray:
    """``image`` (H, W) resized to (H, round(W * factor))."""
    width = max(1, int(round(image.shape[1] * factor)))
    return cv2.resize(np.asarray(image), (width, image.shape[0]), interpolation=cv2.INTER_LINEAR)


def stretch_normalisation(factor: float) -> None:
    """Make the SDNN reader and the real-field trainer stretch every field by ``factor`` first."""
    plain = samples.normalize_field_ink

    def normalise(image, *, ink=None):
        return plain(stretched(image, factor), ink=None if ink is None else stretched(ink, factor))

    sdnn_real.normalize_field_ink = normalise
    sdnn_reader.normalize_field_ink = normalise


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--read", nargs=2, metavar=("WEIGHTS", "FACTORS"))
    ap.add_argument("--train", nargs=2, metavar=("OUT", "FACTOR"))
    args = ap.parse_args()
    val = load_real_fields([ORAND], range(800, 1000))
    if args.read:
        weights, factors = args.read
        for factor in (float(f) for f in factors.split(",")):
            stretch_normalisation(factor)
            read = sdnn_reader.SDNNRecognizer(weights=weights).recognize([im for im, _ in val], grammar="amount")
            score = float(np.mean([r.digits == text for r, (_, text) in zip(read, val)]))
            print(json.dumps({"weights": weights, "stretch": factor, "val_accuracy": score}), flush=True)
    if args.train:
        out, factor = args.train
        stretch_normalisation(float(factor))
        train = load_real_fields([ORAND], range(154, 800))
        cfg = sdnn_real.RealSDNNConfig(init="sdnn-strip", synth="realistic", p_join=0.3).validate()
        result = sdnn_real.train_sdnn_real(cfg, train, out, evaluate=real_accuracy(val, "amount"),
                                           pool=mixed_digit_pool([ORAND], range(154, 800)))
        print(json.dumps({k: v for k, v in result.items() if k != "history"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
