"""segmenter: heuristic over-segmentation of field images (docs/paper.md Sec. V).

``segment(image) -> Segmentation``: preprocessing (binarisation, guide-line/border/speck removal,
optional deslanting), candidate cut paths, connected-component ink ownership, and the segmentation
graph as a ``gtn.Graph`` whose arcs carry the normalised pieces ``(A, 1, 32, 32)``; plus drawing.
See README "segmenter: heuristic over-segmentation". May import gtn and data (docs/design.md).

``segmenter.truth`` matches arcs against character maps of synthetic fields;
``segmenter.synthtruth`` renders ``data.synth`` fields together with their character maps.
"""

from segmenter.config import BINARIZE_METHODS, SegmenterConfig
from segmenter.cuts import CUT_KINDS, Cuts, find_cuts
from segmenter.draw import draw_cuts, draw_pieces
from segmenter.graph import FEATURE_NAMES, Segmentation, build_graph, segment
from segmenter.normalize import normalize_frame, normalize_pieces
from segmenter.preprocess import Preprocessed, binarize, light_ink, preprocess, to_grey
from segmenter.truth import arc_char_counts, arc_targets, true_path

__all__ = [
    "BINARIZE_METHODS", "CUT_KINDS", "FEATURE_NAMES", "Cuts", "Preprocessed", "SegmenterConfig",
    "Segmentation", "arc_char_counts", "arc_targets", "binarize", "build_graph", "draw_cuts",
    "draw_pieces", "find_cuts", "light_ink", "normalize_frame", "normalize_pieces", "preprocess", "segment",
    "to_grey", "true_path",
]
