"""Effect of per-frame beam pruning on SDNN decoding: speed and accuracy (decoders.decode_frames).

Input: SYNTHETIC SDNN-like frame penalties (no trained SDNN is involved): a random digit string, each
character seen on 2-4 consecutive frames, 0-2 'none' frames before each character (at least 1 between
two equal digits, which the CTC rule needs) and at the end; per
frame, logits ~ N(0, sigma) over the 17 classes plus ``margin`` on the true class, penalties =
-log_softmax. Decoding: the CTC-like character model and the exact-length grammar ``\\d{L}``, n=1 (which
still computes the second-best text for the margin and the text posterior for the confidence).

For every beam, over the same inputs: median wall time per decode, median arcs of the frames o model
graph, string accuracy (decoded == truth), agreement with the exact (unpruned) decode, rejections (no
path left through the grammar), and the mean absolute change of the confidence.

    .venv/bin/python benchmarks/decode_beam.py            # writes benchmarks/results/decode_beam.json
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from decoders import CharacterModel, Grammar, decode_frames
import _bench  # benchmarks/_bench.py: repository on sys.path, write_json


def synth(length: int, gen: torch.Generator, *, sigma: float, margin: float) -> tuple[str, torch.Tensor]:
    digits = torch.randint(0, 10, (length,), generator=gen).tolist()
    frames = []
    prev = None
    for d in digits:
        gap = int(torch.randint(0, 3, (1,), generator=gen))
        frames += [16] * max(gap, 1 if d == prev else 0)  # a repeated digit needs a 'none' frame between
        prev = d
        frames += [d] * int(torch.randint(2, 5, (1,), generator=gen))
    frames += [16] * int(torch.randint(0, 3, (1,), generator=gen))
    T = len(frames)
    logits = torch.randn(T, 17, generator=gen) * sigma
    logits[torch.arange(T), torch.tensor(frames)] += margin
    return "".join(map(str, digits)), -logits.log_softmax(-1)


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    model = CharacterModel()
    rows = []
    for length in args.lengths:
        gen = torch.Generator().manual_seed(1000 + length)
        grammar = Grammar.digits(length, length)
        data = [synth(length, gen, sigma=args.sigma, margin=args.margin) for _ in range(args.samples)]
        exact = None
        for beam in [None] + args.beams:
            times, arcs, results = [], [], []
            for truth, P in data:
                t0 = time.perf_counter()
                (r,) = decode_frames(P, grammar, model=model, beam=beam)[:1]
                times.append(time.perf_counter() - t0)
                results.append(r)
                arcs.append(model.compose_frames(P.double(), beam=beam)[0].num_arcs)
            if beam is None:
                exact = results
            acc = sum(r.text == t for r, (t, _) in zip(results, data)) / len(data)
            agree = sum(r.text == e.text for r, e in zip(results, exact)) / len(data)
            rej = sum(r.rejected for r in results)
            dconf = statistics.fmean(abs(r.confidence - e.confidence) for r, e in zip(results, exact))
            rows.append({
                "length": length, "frames_median": statistics.median(P.shape[0] for _, P in data),
                "beam": beam, "ms_median": 1000 * statistics.median(times),
                "arcs_median": statistics.median(arcs), "accuracy": acc, "agreement_with_exact": agree,
                "rejected": rej, "mean_abs_conf_change": dconf, "samples": len(data),
            })
    return {"config": vars(args), "rows": rows}


def table(res: dict) -> str:
    lines = ["| chars | frames | beam | ms (median) | speed-up | arcs | accuracy | = exact | rejected | mean abs conf change |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    base = {}
    for r in res["rows"]:
        if r["beam"] is None:
            base[r["length"]] = r["ms_median"]
        lines.append(
            f"| {r['length']} | {r['frames_median']:.0f} | {'none' if r['beam'] is None else r['beam']} | "
            f"{r['ms_median']:.1f} | {base[r['length']] / r['ms_median']:.1f}x | {r['arcs_median']:.0f} | "
            f"{r['accuracy']:.2f} | {r['agreement_with_exact']:.2f} | {r['rejected']} | {r['mean_abs_conf_change']:.4f} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lengths", type=int, nargs="+", default=[10, 30])
    p.add_argument("--beams", type=float, nargs="+", default=[8.0, 6.0, 4.0, 2.0, 1.0])
    p.add_argument("--samples", type=int, default=30)
    p.add_argument("--sigma", type=float, default=1.5)
    p.add_argument("--margin", type=float, default=6.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "decode_beam.json")
    args = p.parse_args()
    res = run(args)
    _bench.write_json(args.out, res, indent=1, default=str)
    print(table(res))


if __name__ == "__main__":
    main()
