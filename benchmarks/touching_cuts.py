"""Why touching digits lose their true segmentation: two candidate remedies measured (analysis).

On ``--count`` touching 5-digit zip codes of MNIST training digits (``data.DigitPool("train")``,
``default_rng([778, i])``; a development measurement, not a test one), the share whose true
segmentation is a path of the recogniser's segmentation graph (``segmenter.truth.true_path`` at
tol 0.9) with

- the recogniser's segmenter as is;
- one extra cut anchored at each TRUE character boundary column (from the character maps: the
  column that misassigns fewest pixels of the two neighbours), shifted by ``jitter`` pixels, with
  its cheapest slanted path: the best an external aligner (e.g. the SDNN, 4 px stride) could
  propose;
- paths allowed to bend (``cut_band_rel``).

Writes ``benchmarks/results/touching_cuts.json``.

    .venv/bin/python benchmarks/touching_cuts.py [--count 100]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import _bench  # repository on sys.path, development MNIST; write_json


def boundary_anchors(ink: np.ndarray, char_map: np.ndarray, jitter: int) -> np.ndarray:
    """One anchor column per pair of neighbouring characters (working coordinates), + ``jitter``."""
    out = []
    for b in range(int(char_map.max())):
        xl = np.nonzero(ink & (char_map == b))[1]
        xr = np.nonzero(ink & (char_map == b + 1))[1]
        if xl.size == 0 or xr.size == 0:
            continue
        if xl.max() < xr.min():
            best = (xl.max() + xr.min() + 1) // 2
        else:
            best = min(range(xr.min(), xl.max() + 2), key=lambda x: (xl >= x).sum() + (xr < x).sum())
        out.append(best + jitter)
    return np.asarray(out, np.int64)


def with_anchors(find_cuts, char_map_of, jitter):
    """A ``find_cuts`` that adds the boundary anchors' cheapest-slope paths."""
    from segmenter.cuts import Cuts, trace_paths

    def wrapped(ink, char_height, config=None):
        cuts = find_cuts(ink, char_height, config)
        nz = np.flatnonzero(ink.sum(axis=0))
        if nz.size == 0:
            return cuts
        lo, hi = int(nz[0]), int(nz[-1]) + 1
        a = boundary_anchors(ink, char_map_of(), jitter)
        a = a[(a > lo) & (a < hi)]
        if a.size == 0:
            return cuts
        paths, cost = trace_paths(ink, a, band=0, slopes=tuple(config.cuts.cut_slopes), lo=lo, hi=hi)
        k = np.argmin(cost, axis=1)
        rows = np.arange(a.size)
        return cuts.concat(Cuts(x=a, kind=np.full(a.size, 5), paths=paths[rows, k], cost=cost[rows, k]))
    return wrapped


def main(argv=None) -> int:
    import segmenter.graph as graph
    from data.synth import DigitPool, SynthConfig
    from data.texts import sample_text
    from docrec.recognizers.seg import default_segmenter_config
    from segmenter.preprocess import preprocess, shift_rows
    from segmenter.synthtruth import render_with_char_map
    from segmenter.truth import true_path

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--out", default=str(_bench.ROOT / "benchmarks" / "results" / "touching_cuts.json"))
    args = ap.parse_args(argv)
    pool = DigitPool.load("train")
    fields = []
    for i in range(args.count):
        rng = np.random.default_rng([778, i])
        text = sample_text("zip", rng, min_len=5, max_len=5)
        fields.append(render_with_char_map(text, pool, rng, SynthConfig(spacing="touching", zip_plus4=0.0)))
    base_cfg = default_segmenter_config()
    original = graph.find_cuts
    rows = []
    state = {}
    settings = [("as is", None, 0.0), ("true anchors", 0, 0.0), ("true anchors +2 px", 2, 0.0),
                ("true anchors -2 px", -2, 0.0), ("bending paths", None, 0.1), ("bending paths", None, 0.2),
                ("bending paths", None, 0.3)]
    try:
        for label, jitter, band in settings:
            cfg = base_cfg.replace(cut_band_rel=band)
            graph.find_cuts = original if jitter is None else with_anchors(original, lambda: state["cw"], jitter)
            covered = 0
            for field, cmap in fields:
                prep = preprocess(field.image, cfg)
                state["cw"] = shift_rows(cmap + 1, prep.shift, prep.ink.shape[1]) - 1
                covered += true_path(graph.segment(field.image, config=cfg), cmap, tol=0.9) is not None
            rows.append({"setting": label, "jitter": jitter, "cut_band_rel": band, "true_path": covered / len(fields)})
            print(rows[-1], flush=True)
    finally:
        graph.find_cuts = original
    _bench.write_json(args.out, {"description": __doc__.split("\n\n")[0], "count": args.count,
                                 "data": "touching zip codes of MNIST training digits (development)", "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
