"""How the segmenter should draw a piece for LeNet-5: binary ink or grey levels (and how to fit it).

The bundled MNIST LeNet-5 (``lenet5-distorted``, never trained on field pieces) reads the *true*
character pieces of synthetic zip codes (``segmenter.truth.arc_targets`` at tol 0.9 against the
character maps) under each piece-normalisation variant; its digit error rate says which variant
looks most like MNIST to it. Fields are built from VALIDATION training digits (MNIST training
images 55000..59999) — the choice of the default was made on them — at wide, normal and tight
spacing, 150 fields each (fixed seed). ``--split test`` repeats the measurement on test digits.

    .venv/bin/python benchmarks/piece_normalisation.py   # writes benchmarks/results/piece_normalisation.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from _bench import ROOT  # noqa: E402  (repository on sys.path, development MNIST)
import _bench  # benchmarks/_bench.py: repository on sys.path, write_json

VARIANTS = {
    "binary": {"grey_pieces": False},
    "grey, fitted by all grey pixels": {"grey_pieces": True, "fit_core": False},
    "grey, fitted by the core (default)": {"grey_pieces": True, "fit_core": True},
}


def true_pieces(pool, seg_config, *, fields: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x (N, 1, 32, 32), digit labels (N,))`` of every true piece of the fields."""
    from data.synth import SynthConfig, field_rng
    from data.texts import sample_text
    from segmenter.graph import segment
    from segmenter.synthtruth import render_with_char_map
    from segmenter.truth import arc_targets

    xs, ys = [], []
    for spacing in ("wide", "normal", "tight"):
        for i in range(fields):
            rng = field_rng(seed, i)
            text = sample_text("zip", rng, min_len=5, max_len=5, zip_plus4=0.0)
            fld, cmap = render_with_char_map(text, pool, rng, SynthConfig(spacing=spacing, zip_plus4=0.0))
            seg = segment(fld.image, config=seg_config)
            t = arc_targets(seg, cmap, tol=0.9)
            pos = np.flatnonzero(t >= 0)
            xs.append(seg.graph.data[torch.from_numpy(pos)])
            ys += [int(text[int(c)]) for c in t[pos]]
    return torch.cat(xs).float(), torch.tensor(ys)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--split", choices=("val", "test"), default="val")
    p.add_argument("--fields", type=int, default=150, help="fields per spacing (default 150)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "piece_normalisation.json")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    from data.synth import DigitPool
    from docrec.recognizers.seg import default_segmenter_config
    from docrec.training.seg_data import train_pools
    from docrec.weights import load_model

    pool = train_pools()[1] if args.split == "val" else DigitPool.load("test")
    model = load_model("lenet5-distorted").eval()
    rows = []
    for name, overrides in VARIANTS.items():
        x, y = true_pieces(pool, default_segmenter_config().replace(**overrides), fields=args.fields, seed=777)
        with torch.no_grad():
            err = float((model(x).argmin(1) != y).float().mean())
        rows.append({"variant": name, "config": overrides, "pieces": int(len(y)), "error": err})
        print(f"{name}: {len(y)} pieces, LeNet-5 digit error {100 * err:.2f}%", flush=True)
    out = {"description": __doc__.split("\n\n")[0], "split": args.split, "model": "lenet5-distorted",
           "fields_per_spacing": args.fields, "results": rows}
    _bench.write_json(args.out, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
