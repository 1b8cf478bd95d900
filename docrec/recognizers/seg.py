"""The segmentation-based recogniser (docs/paper.md Sec. V, VI, VIII, X: the heuristic over-segmentation
check reader).

Pipeline for one field image ``(H, W)`` uint8:

1. :func:`segmenter.graph.segment` -> segmentation graph: ``K`` cuts, ``A`` arcs, each arc a
   candidate character piece ``(1, 32, 32)`` with a small geometric penalty (Sec. V, Fig. 18).
2. Recognition transformer (Sec. VIII, Fig. 19): LeNet-5 (17 classes: 16 characters + 'none')
   reads every piece; each segmentation arc becomes 16 interpretation arcs, one per character
   ``c``, with penalty ``seg_weight * p_seg + y'_c`` where ``y'_c = y_c + log(e^{-j} + sum_i e^{-y_i})``
   is the MAP-normalised RBF penalty (eq. 9's competition term; ``-log`` of the piece's posterior
   for ``c``, so a mis-segmented piece, which the net reads as 'none', is expensive for every
   character). The 'none' class itself gets no arc: a grammar never emits it.
3. Composition with a ``decoders.Grammar`` and decoding (Viterbi, confidence = posterior of the
   text among all interpretations the grammar allows, Sec. VI; with ``score="digits"`` of its digit
   string, every interpretation with those digits counted) -> text, per-character boxes.

All pieces of a batch of images go through LeNet-5 in one tensor, so recognising many fields is
one network call per ``batch_pieces`` pieces. The piece classifier may also be the modern CNN
(bundled ``seg-modern``; :mod:`docrec.recognizers.seg_model`): same classes, ``-log softmax``
penalties, which the MAP normalisation leaves unchanged up to a constant near 0.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

import gtn
from data.constants import NONE_ID, NUM_CLASSES  # 16 characters + 'none'
from decoders import SCORES, decode, text_penalties
from docrec.devices import network_device, to_graph_device
from docrec.recognizers.base import DEFAULT_MAX_PIXELS, Recognition, as_grammar, as_image_list, check_field_image
from docrec.weights import resolve as resolve_weights
from lenet.distort import shifted_copies
from lenet.inference import inference_model
from lenet.losses import DEFAULT_MAP_J
from segmenter.config import SegmenterConfig
from segmenter.graph import segment

#: Bundled weights of the 17-class LeNet-5 used by this recogniser.
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "seg-lenet5.pt"
#: The classes that get arcs in an interpretation graph: the 16 characters, not 'none'.
CHAR_CLASSES = tuple(range(NONE_ID))
def default_segmenter_config():
    """The segmenter configuration this recogniser reads with: ``SegmenterConfig()``, whose defaults
    are the product's values (the graph's merge width, gap and dot penalties chosen on validation
    strings; see :mod:`segmenter.config` and docs/segmenter.md)."""
    return SegmenterConfig()


@dataclass
class SegRecognizerConfig:
    """Settings of :class:`SegmentationRecognizer`.

    Attributes:
        map_j: eq. 9's ``j``: the constant 'rubbish' competitor of the normalisation.
        normalize: use MAP-normalised penalties (see module docstring); raw RBF penalties otherwise.
        seg_weight: multiplier of the segmenter's geometric arc penalties.
        reject_threshold: results whose confidence is below this are rejected (0 = never).
        temperature: penalties are divided by this before the confidence (posterior) is computed;
            the best path is unchanged. > 1 softens over-confident posteriors. None: the weights
            file's ``meta["temperature"]`` (chosen on validation strings by ``docrec train seg
            calibrate``), else 1.
        batch_pieces: pieces per piece-classifier call. Small batches are faster on a CPU, because the
            activations stay in cache: 4,096 pieces on 1 thread take 249 ms in one LeNet-5 call and
            99 ms in calls of 64, and 1,731 ms against 539 ms for the modern CNN (docs/results.md).
        max_pixels: larger images are refused (per-image error, not an exception for the batch).
        device: where the piece classifier runs (``cpu``, ``cuda``, ``cuda:N``, ``mps``;
            :mod:`docrec.devices`; None: the CPU, or a given model's own device); the segmenter and
            the graphs stay on the CPU.
        score: what the confidence is the posterior of: ``"text"``, the reading as written, or
            ``"digits"``, its digit string (every interpretation with the same digits counted:
            the amount a bank keys, whatever separators and end marks were read).
        piece_shifts: the piece classifier's penalties of every piece are averaged over the piece
            and four copies of it moved this many pixels right, left, down and up
            (:func:`lenet.shifted_copies`; 0: the piece alone, five times cheaper). None: the
            weights file's ``meta["piece_shifts"]`` (chosen on validation fields for those
            weights: ``seg-lenet5-real`` reads real cheques with 1, docs/real_fields.md), else 0.
    """

    map_j: float = DEFAULT_MAP_J
    normalize: bool = True
    seg_weight: float = 1.0
    reject_threshold: float = 0.0
    temperature: float | None = None
    batch_pieces: int = 64
    max_pixels: int = DEFAULT_MAX_PIXELS
    device: str | None = None
    score: str = "text"
    piece_shifts: int | None = None


def load_seg_weights(path: str | os.PathLike | None = None):
    """Load the recogniser's 17-class piece classifier and its metadata (``weights_only``).

    ``path`` may also name bundled weights (``"seg-modern"``, ``"seg-lenet5"``: files of
    ``docrec/weights``). The file holds a state dict, or ``{"model": state dict, "meta": {...}}``
    (``meta`` may carry the calibrated ``temperature`` and the ``arch``, see
    :mod:`docrec.recognizers.seg_model`; without ``arch`` the network is LeNet-5).

    Returns:
        ``(model, meta)``.

    Raises:
        FileNotFoundError: no weights file (train with ``docrec train seg``).
        ValueError: the file is unreadable or not a 17-class piece classifier state dict.
    """
    from docrec.recognizers.seg_model import load_piece_model

    if path is None:
        return load_piece_model(DEFAULT_WEIGHTS)
    return load_piece_model(resolve_weights(path, "seg"))


def normalized_penalties(raw: torch.Tensor, *, j: float) -> torch.Tensor:
    """``(P, C) -> (P, C)``: ``y_c + log(e^{-j} + sum_i e^{-y_i})`` (docs/paper.md eq. 9), i.e. minus the
    log-posterior of class ``c`` with a constant rubbish competitor at penalty ``j``."""
    rubbish = raw.new_full((raw.shape[0], 1), -float(j))
    return raw + torch.logsumexp(torch.cat([rubbish, -raw], dim=1), dim=1, keepdim=True)


def piece_outputs(net, x: torch.Tensor, *, shifts: int = 0, chunk: int | None = None) -> torch.Tensor:
    """The piece classifier's outputs ``(P, 17)`` for LeNet inputs ``x`` ``(P, 1, 32, 32)``: ``net(x)``,
    or with ``shifts`` > 0 the mean of ``net`` over each piece and its four copies moved ``shifts``
    pixels (:func:`lenet.shifted_copies`). One call per ``chunk`` pieces (None: one call)."""
    step = chunk or max(len(x), 1)
    outs = []
    for k in range(0, len(x), step):
        batch = x[k: k + step]
        if shifts:  # (5, B, 1, 32, 32) -> (5 B, 17) -> (5, B, 17) -> (B, 17)
            copies = shifted_copies(batch, pixels=shifts)
            outs.append(net(copies.flatten(0, 1)).unflatten(0, copies.shape[:2]).mean(0))
        else:
            outs.append(net(batch))
    return torch.cat(outs) if outs else net(x)


@dataclass
class SegDetail:
    """Everything behind one recognition (for drawing and training): the segmentation, the
    interpretation graph with its map to segmentation arcs, and the decoded result."""

    segmentation: object
    graph: object | None
    arc_map: torch.Tensor | None
    decoded: list = field(default_factory=list)


class SegmentationRecognizer:
    """Heuristic over-segmentation + LeNet-5 recognition transformer + grammar (docs/paper.md Sec. V-X).

    Args:
        weights: path of a 17-class piece-classifier weights file (default: the bundled
            ``seg-lenet5.pt``; ``seg-modern.pt`` holds the modern CNN, :mod:`.seg_model`).
        model: an already built 17-class piece classifier (overrides ``weights``; used by training).
        config: :class:`SegRecognizerConfig`.
        segmenter_config: ``segmenter.config.SegmenterConfig`` (None: :func:`default_segmenter_config`).
        reject_threshold: shortcut for ``config.reject_threshold``.
        device: shortcut for ``config.device``.

    Shapes: images ``(H, W)`` uint8 -> pieces ``(P, 1, 32, 32)`` -> penalties ``(P, 17)``.
    """

    name = "seg"

    def __init__(self, *, weights: str | os.PathLike | None = None, model=None,
                 config: SegRecognizerConfig | None = None, segmenter_config=None,
                 reject_threshold: float | None = None, max_pixels: int | None = None,
                 temperature: float | None = None, device: str | None = None, score: str | None = None):
        self.config = replace(config) if config is not None else SegRecognizerConfig()  # the caller's stays as given
        if device is not None:
            self.config.device = str(device)
        if score is not None:
            self.config.score = score
        if self.config.score not in SCORES:
            raise ValueError(f"[docrec.SegmentationRecognizer] score must be one of {SCORES}, got "
                             f"{self.config.score!r}")
        if reject_threshold is not None:
            if not 0.0 <= float(reject_threshold) <= 1.0:
                raise ValueError(f"[docrec.SegmentationRecognizer] reject_threshold={reject_threshold} "
                                 f"must lie in [0, 1]")
            self.config.reject_threshold = float(reject_threshold)
        if max_pixels is not None:
            self.config.max_pixels = int(max_pixels)
        if temperature is not None:
            self.config.temperature = float(temperature)
        meta: dict = {}
        if model is not None:
            self.model = model
        else:
            self.model, meta = load_seg_weights(weights)
        self.device = network_device(self.model, self.config.device)
        if self.config.temperature is None:
            self.config.temperature = float(meta.get("temperature", 1.0))
        if not (math.isfinite(self.config.temperature) and self.config.temperature > 0):
            raise ValueError(f"[docrec.SegmentationRecognizer] temperature={self.config.temperature} must be "
                             f"finite and > 0")
        if self.config.piece_shifts is None:
            self.config.piece_shifts = meta.get("piece_shifts", 0)
        shifts = self.config.piece_shifts
        if not (isinstance(shifts, int) and not isinstance(shifts, bool) and 0 <= shifts <= 8):
            raise ValueError(f"[docrec.SegmentationRecognizer] piece_shifts={shifts!r} must be an integer "
                             f"number of pixels in [0, 8]")
        self.meta = meta
        self.segmenter_config = segmenter_config or default_segmenter_config()

    # ------------------------------------------------------------------ building blocks
    def segment(self, images: Sequence[np.ndarray]) -> list:
        """Segment every image (``segmenter.graph.segment``); list of ``Segmentation``."""

        return [segment(img, config=self.segmenter_config) for img in images]

    def piece_penalties(self, segs: Sequence, *, grad: bool = False) -> list[torch.Tensor]:
        """Run the piece classifier (LeNet-5 by default) on every piece of every segmentation: list
        of ``(A_i, 17)`` penalties (MAP-normalised if ``config.normalize``; averaged over shifted
        copies of each piece if ``config.piece_shifts``). One batched network call per
        ``batch_pieces``."""
        counts = [s.num_arcs for s in segs]
        pieces = [s.graph.data for s in segs if s.num_arcs]
        if not pieces:
            return [torch.zeros(0, NUM_CLASSES) for _ in segs]
        x = torch.cat(pieces).float().to(self.device)  # (P, 1, 32, 32)

        # without gradients, the folded form of the same network (lenet.inference, ~2x faster)
        net = self.model if grad else inference_model(self.model)
        with torch.set_grad_enabled(grad):
            raw = piece_outputs(net, x, shifts=self.config.piece_shifts, chunk=self.config.batch_pieces)
            pen = normalized_penalties(raw, j=self.config.map_j) if self.config.normalize else raw
        return list(torch.split(to_graph_device(pen), counts))  # the graphs are built on the CPU

    def interpretation_graphs(self, segs: Sequence, *, grad: bool = False) -> list[tuple]:
        """``[(graph, arc_map)]`` per segmentation (``(None, None)`` for an empty one)."""
        out = []
        for s, pen in zip(segs, self.piece_penalties(segs, grad=grad)):
            if s.num_arcs == 0:
                out.append((None, None))
            else:
                out.append(gtn.recognize(s.graph, penalties=pen, classes=CHAR_CLASSES, seg_weight=self.config.seg_weight))
        return out

    # ------------------------------------------------------------------ recognition
    def recognize_detailed(self, images: Sequence[np.ndarray], *, grammar=None, n_best: int = 1
                           ) -> list[tuple[Recognition, SegDetail | None]]:
        """Like :meth:`recognize`, also returning each image's :class:`SegDetail`."""

        grammar = as_grammar(grammar, where="docrec.SegmentationRecognizer.recognize")
        if n_best < 1:
            raise ValueError(f"[docrec.SegmentationRecognizer.recognize] n_best must be >= 1, got {n_best}")
        checked: list = []
        results: list = [None] * len(images)
        for k, img in enumerate(as_image_list(images, where="docrec.SegmentationRecognizer.recognize")):
            try:
                checked.append((k, check_field_image(img, max_pixels=self.config.max_pixels,
                                                     where="docrec.SegmentationRecognizer")))
            except ValueError as exc:
                results[k] = (Recognition.reject(str(exc)), None)
        segs = self.segment([img for _, img in checked])
        graphs = self.interpretation_graphs(segs)
        for (k, _), seg, (g, amap) in zip(checked, segs, graphs):
            detail = SegDetail(segmentation=seg, graph=g, arc_map=amap)
            if g is None:
                results[k] = (Recognition.reject("no ink in the image"), detail)
                continue
            tempered = self._tempered(g)
            decoded = decode(tempered, grammar, n=max(1, n_best))
            detail.decoded = decoded
            results[k] = (self._to_recognition(decoded, seg, amap, self._confidence(tempered, decoded[0], grammar)),
                          detail)
        return results

    def recognize(self, images: Sequence[np.ndarray], *, grammar=None, n_best: int = 1) -> list[Recognition]:
        """Read a batch of field images.

        Args:
            images: uint8 ``(H, W)`` fields (white paper, dark ink); colour/float accepted.
            grammar: a ``decoders.Grammar`` or a CLI spec (``zip``, ``amount``, ``digits``, a pattern;
                None: any string of the 16 characters).
            n_best: number of distinct readings to compute (the extra ones go to ``alternatives``).

        Returns:
            One :class:`Recognition` per image; images that fail the input checks or hold no ink
            give a rejected result with the reason (the batch goes on).
        """
        return [r for r, _ in self.recognize_detailed(images, grammar=grammar, n_best=n_best)]

    def text_penalties(self, details: Sequence[SegDetail | None], texts: Sequence[Sequence[str]], *,
                       grammar=None) -> list[tuple[float, np.ndarray]]:
        """Score given readings on already built interpretation graphs (the ``SegDetail`` of
        :meth:`recognize_detailed`): ``-log`` posterior of a text = ``f_text - f_all`` at the
        calibrated temperature (:func:`decoders.text_penalties`).

        Returns:
            Per image ``(f_all, f_text)``, ``f_text`` float64 ``(N_b,)``; ``inf`` for a text no
            allowed path spells, and everything ``inf`` for an image without a graph.
        """

        grammar = as_grammar(grammar, where="docrec.SegmentationRecognizer.text_penalties")
        if len(texts) != len(details):
            raise ValueError(f"[docrec.SegmentationRecognizer.text_penalties] {len(details)} details but "
                             f"{len(texts)} text lists")
        out = []
        for detail, cands in zip(details, texts):
            if detail is None or detail.graph is None or not cands:
                out.append((float("inf"), np.full(len(cands), np.inf)))
                continue
            f_all, f_text = text_penalties(self._tempered(detail.graph), list(cands), grammar,
                                           score=self.config.score)
            out.append((f_all, np.asarray(f_text, np.float64)))
        return out

    def _tempered(self, graph):
        """The interpretation graph with penalties divided by the calibrated temperature (what the
        confidences are computed on; the best path is the same)."""
        t = self.config.temperature
        return graph if t == 1.0 else graph.with_penalty(graph.penalty / t)

    def _confidence(self, tempered, best, grammar) -> float:
        """The best reading's confidence: its text's posterior as decoded, or with ``score="digits"``
        its digit string's (:func:`decoders.text_penalties` on the ``tempered`` graph it was decoded
        from)."""
        if best.rejected or self.config.score == "text":
            return float(best.confidence)
        f_all, (f_digits,) = text_penalties(tempered, [best.text], grammar, score="digits")
        return float(min(1.0, math.exp(f_all - f_digits))) if math.isfinite(f_digits) else 0.0

    def _to_recognition(self, decoded, seg, amap, conf: float | None = None) -> Recognition:
        """The best of ``decoded`` as a result with boxes; ``conf``: its confidence (None: the
        decoded text's posterior)."""
        best = decoded[0]
        if best.rejected:
            return Recognition.reject(best.reason)
        conf = float(best.confidence) if conf is None else conf
        boxes = []
        for span in best.spans:
            seg_arcs = [int(amap[a]) for a in span.arcs]
            b = seg.boxes[seg_arcs]
            boxes.append((int(b[:, 0].min()), int(b[:, 1].min()), int(b[:, 2].max()), int(b[:, 3].max())))
        rejected = conf < self.config.reject_threshold
        return Recognition(text=best.text, confidence=conf, rejected=rejected, boxes=boxes,
                           penalty=float(best.penalty) * self.config.temperature,
                           reason=(f"confidence {conf:.3f} below the threshold "
                                   f"{self.config.reject_threshold:.3f}") if rejected else "",
                           alternatives=[(d.text, float(d.penalty)) for d in decoded[1:] if not d.rejected])

    # ------------------------------------------------------------------ drawing
    def draw(self, image: np.ndarray, result: Recognition, out_png: str | os.PathLike) -> Path:
        """Write a picture of a recognition: the cuts and the chosen pieces over the image (top),
        the interpretation graph (bottom: per segmentation arc its two best characters, the
        chosen path in red). See :mod:`docrec.recognizers.seg_draw`."""
        from docrec.recognizers.seg_draw import draw_recognition

        return draw_recognition(self, image, result, out_png)

