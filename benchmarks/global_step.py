"""One global training step of the seg and strip recognisers, timed; merges into benchmarks/results/global_step.json.

The steps are the trainers' own: ``seg_global.field_losses`` (the discriminative forward criterion
on the batch of interpretation graphs of 32 segmented synthetic fields, LeNet-5 forward included) and
``sdnn_train.global_loss`` (frames of the bundled StripNet composed with the character model and the
target strings, 32 rendered fields), each followed by ``backward()``. The fields are made once, outside
the timing. Medians of repeated steps, milliseconds, 1 torch thread. ``gtn_ms`` is the same step with
the network's outputs computed once and held (a leaf tensor returned by a stand-in module): what is
left is the graph work (interpretation / frame graphs, compositions, the criterion, its backward).

Run it once per code version under a label, e.g. the commit before the compiled composition
(``--label before``, run from a checkout of that commit with ``--out`` pointing here) and the
current one (``--label after``); the README quotes both rows of one machine and session.

Usage: python benchmarks/global_step.py --label after [--repeats 15] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import _bench  # noqa: F401  (repository on sys.path, development MNIST)
import numpy as np
import torch
from _bench import timed

RESULTS = Path(__file__).resolve().parent / "results" / "global_step.json"


class Held(torch.nn.Module):
    """Stands in for a network: returns the output it was given, whatever the input."""

    def __init__(self, out: torch.Tensor) -> None:
        super().__init__()
        self.out = out.detach().clone().requires_grad_(True)

    def forward(self, *args):
        return self.out


def seg_step(repeats: int, fields: int) -> dict:
    from docrec.recognizers.seg import SegmentationRecognizer
    from docrec.training.sdnn_train import split_pools
    from docrec.training.seg_global import field_losses, make_fields

    pool, _ = split_pools()
    cached = make_fields(fields, seed=5, pool=pool)
    rec = SegmentationRecognizer()

    def step():
        rec.model.zero_grad()
        loss, _ = field_losses(rec, cached, criterion="forward")
        loss.backward()

    total = timed(step, repeats)
    from docrec.training.seg_data import dequantize

    with torch.no_grad():
        raw = rec.model(dequantize(np.concatenate([f.pieces for f in cached])))
    net, rec.model = rec.model, Held(raw)
    graph_only = timed(step, repeats)
    rec.model = net
    return {"fields": len(cached), "pieces": int(sum(len(f.pieces) for f in cached)), "step_ms": total,
            "gtn_ms": graph_only}


def strip_step(repeats: int, fields: int) -> dict:
    from data.synth import field_rng
    from decoders import CharacterModel
    from docrec.recognizers.sdnn_net import load_weights
    from docrec.training.sdnn_train import global_loss, split_pools, strips_batch
    from docrec.training.strip_train import training_field

    weights = Path(__file__).resolve().parents[1] / "docrec" / "weights" / "sdnn-strip.pt"
    net, _, _ = load_weights(weights)
    net.train()
    charmodel = CharacterModel()
    pool, _ = split_pools()
    batch = [training_field(i, pool, field_rng(17, i)) for i in range(fields)]
    x, frames, _ = strips_batch([f.image for f in batch])
    targets = [charmodel.alphabet.encode(f.text) for f in batch]

    def step(model):
        model.zero_grad()
        global_loss(model, charmodel, x, frames, targets).backward()

    total = timed(lambda: step(net), repeats)
    from docrec.recognizers.sdnn_net import frame_penalties
    from docrec.training.sdnn_train import STRIDE, STRIP_H

    with torch.no_grad():
        held = Held(frame_penalties(net, x, (frames - 1) * STRIDE + STRIP_H))
    return {"fields": fields, "frames": int(frames.sum()), "step_ms": total, "gtn_ms": timed(lambda: step(held), repeats)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", required=True, help="row name, e.g. before / after")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--fields", type=int, default=32)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.repeats < 1 or args.fields < 1:
        ap.error("--repeats and --fields must be >= 1")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    np.random.seed(0)
    import gtn.scoring

    root = Path(__file__).resolve().parents[1]
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    row = {"commit": commit, "gtn_backend": gtn.scoring.backend(), "load_average": os.getloadavg()[0],
           "seg": seg_step(args.repeats, args.fields), "strip": strip_step(args.repeats, args.fields)}
    res = json.loads(args.out.read_text()) if args.out.exists() else {}
    res[args.label] = row
    _bench.write_json(args.out, res)
    print(json.dumps({args.label: row}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
