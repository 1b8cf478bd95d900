"""The two recognisers together: segmentation-based and SDNN readings rescored by both (not in the paper).

The two systems fail differently: the segmentation system misses characters whose true cut is not
among its candidates (touching digits), the SDNN misreads characters it sees through a fixed
window (punctuation, unusual widths). On validation touching zip codes (training digits
55,000-59,999) the best reading of one or the other was right for 94% of the fields, while the
segmentation system (modern CNN) alone read 77% and the SDNN (modern CNN, ``sdnn-modern``) 84%
(with the whole-strip ``sdnn-strip``: 92%, either 97%).
The SDNN's weights are a setting (``sdnn_weights``, stored with the seg weights' other settings:
``sdnn-strip`` for ``seg-modern``, the LeNet-5 ``sdnn`` for ``seg-lenet5``).

For each field:

1. both recognisers read it with the grammar and give their best distinct texts (``candidates``
   from the segmentation system, ``sdnn_candidates`` from the SDNN);
2. every candidate text ``t`` of either is scored by *both*: ``d_s(t) = f_text - f_all`` of the
   segmentation system's interpretation graph and ``d_n(t)`` of the SDNN's frame graph, each
   ``-log`` of that system's posterior of ``t`` at its calibrated temperature
   (:func:`decoders.text_penalties`, ``SDNNRecognizer.text_penalties``), capped at ``max_nll``
   (a system that cannot spell ``t`` at all, e.g. the segmenter missed a cut, gives ``max_nll``
   instead of excluding it);
3. the combined penalty is ``c(t) = w d_s(t) + (1 - w) d_n(t)`` (a weighted product of the two
   posteriors), the answer is the candidate with the lowest ``c``; its confidence is
   ``exp(-c(t)) / sum_u exp(-c(u))`` over the candidates or the weighted geometric mean of the two
   posteriors (``CombinedConfig.confidence``). ``w`` is ``seg_weight``, or
   ``seg_weight_severed`` when the segmentation system's own best reading needs a cut that splits
   a connected ink component (``Segmentation.severs``: touching characters; the segmenter's
   heuristic cuts are least reliable there, and the SDNN is at its relative best).

**Digit strings** (``CombinedConfig.score = "digits"``, how amounts are read). An answer is then a
digit string: candidates with the same digits (``15.728``, ``15728.-``) are one candidate, and each
``d(t)`` is ``-log`` of the system's posterior of the digits, summed over every reading the grammar
allows with them (:meth:`decoders.Grammar.with_digits`); a field whose separators or end marks are
uncertain but whose amount is not keeps a high confidence.

Boxes come from the segmentation system when its graph spells the answer (its pieces), else from
the SDNN. ``seg_weight``, ``max_nll`` and the candidate counts are chosen on validation strings
(``benchmarks/combo_weights.py``).

**Early acceptance** (``CombinedConfig.sdnn_accept``). The SDNN reads a field several times faster
than the segmentation system. When its posterior of its own reading is at least ``sdnn_accept``,
that reading is the answer and the segmentation system does not run: its confidence is the SDNN's
posterior and its boxes the SDNN's. On validation fields the
combination hardly ever overturns such a reading (``benchmarks/combo_cascade.py`` chooses the
threshold, with the accuracy and the share of fields read by the SDNN alone); a request for
``n_best > 1`` always runs both systems.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from decoders import SCORES, Grammar, decode
from docrec.recognizers.base import (DEFAULT_MAX_PIXELS, Recognition, as_grammar, as_image_list, check_field_image,
                                     digit_string)

#: The segmentation system's piece classifier used by default: the modern CNN (more accurate than
#: the paper's LeNet-5 on validation strings; ``weights=`` picks another, e.g. ``seg-lenet5.pt``).
DEFAULT_SEG_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "seg-modern.pt"


@dataclass
class CombinedConfig:
    """Settings of :class:`CombinedRecognizer` (see the module docstring).

    Attributes:
        seg_weight: ``w``, weight of the segmentation system's ``-log`` posterior (the SDNN's is
            ``1 - w``); 1 reads with the segmentation system alone, 0 with the SDNN alone.
        seg_weight_severed: ``w`` for fields whose segmentation-system reading cuts through
            connected ink (None: ``seg_weight``).
        max_nll: cap of either system's ``-log`` posterior of a candidate.
        candidates: distinct texts taken from the segmentation system's n-best list.
        sdnn_candidates: distinct texts taken from the SDNN's (its n-best decoding is slow; 1 =
            its best reading only).
        confidence: ``"softmax"``: ``exp(-c(t)) / sum_u exp(-c(u))`` over the candidates;
            ``"geometric"``: ``p_seg(t)^w p_sdnn(t)^(1-w)``, the weighted geometric mean of the two
            posteriors (uncapped; the segmentation system's own posterior where ``w`` = 1);
            ``"hybrid"``: geometric, softmax for severed fields (the class default: with seg-modern,
            the LeNet-5 SDNN and 2 + 1 candidates, accuracy at 1% error with rejection averaged over
            six validation conditions 0.61 against 0.53 softmax and 0.55 geometric). With one
            candidate from each system (the bundled seg-modern + sdnn-strip settings) the softmax
            is 1 whenever both agree and cannot reject: ``geometric`` is stored there (0.83 against
            0.0 softmax, 0.25 hybrid; ``benchmarks/combo_confidence.py``).
        sdnn_weights: the SDNN's weights, a file or bundled name (None: its default, ``sdnn``);
            used when no ``sdnn`` recogniser is given.
        reject_threshold: results whose combined confidence is below this are rejected.
        max_pixels: input size limit (both systems check it).
        sdnn_accept: take the SDNN's reading without running the segmentation system when the
            SDNN's posterior of it is at least this (module docstring; None: always both).
        score: what the candidates and posteriors are: ``"text"``, readings as written, or
            ``"digits"``, digit strings (candidates with the same digits are one answer, and each
            system's posterior of it counts every reading with those digits: amounts as a bank
            keys them). Both systems read with it.
    """

    seg_weight: float = 0.5
    seg_weight_severed: float | None = None
    max_nll: float = 12.0
    candidates: int = 2
    sdnn_candidates: int = 1
    confidence: str = "hybrid"
    sdnn_weights: str | None = None
    reject_threshold: float = 0.0
    max_pixels: int = DEFAULT_MAX_PIXELS
    sdnn_accept: float | None = None
    score: str = "text"

    def __post_init__(self) -> None:
        for name in ("seg_weight", "seg_weight_severed"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"[docrec.CombinedConfig] {name}={value} must lie in [0, 1]")
        if not (math.isfinite(self.max_nll) and self.max_nll > 0):
            raise ValueError(f"[docrec.CombinedConfig] max_nll={self.max_nll} must be finite and > 0")
        if int(self.candidates) < 1 or int(self.sdnn_candidates) < 1:
            raise ValueError(f"[docrec.CombinedConfig] candidates={self.candidates}, sdnn_candidates="
                             f"{self.sdnn_candidates}: both must be >= 1")
        if self.confidence not in ("softmax", "geometric", "hybrid"):
            raise ValueError(f"[docrec.CombinedConfig] confidence={self.confidence!r}: expected 'softmax', "
                             f"'geometric' or 'hybrid'")
        if not 0.0 <= self.reject_threshold <= 1.0:
            raise ValueError(f"[docrec.CombinedConfig] reject_threshold={self.reject_threshold} must lie in [0, 1]")
        if self.score not in SCORES:
            raise ValueError(f"[docrec.CombinedConfig] score={self.score!r}: expected one of {SCORES}")
        if self.sdnn_accept is not None and not 0.0 < self.sdnn_accept <= 1.0:
            raise ValueError(f"[docrec.CombinedConfig] sdnn_accept={self.sdnn_accept} must lie in (0, 1] "
                             f"(or be None: always run both systems)")


def combine_scores(seg_nll: np.ndarray, sdnn_nll: np.ndarray, *, seg_weight: float, max_nll: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Combined penalties and confidences of ``N`` candidates: float64 ``(N,)`` inputs (``-log``
    posteriors, ``inf`` allowed) -> ``(c, confidence)``, both ``(N,)`` (module docstring, step 3)."""
    s = np.minimum(np.asarray(seg_nll, np.float64), max_nll)
    d = np.minimum(np.asarray(sdnn_nll, np.float64), max_nll)
    c = seg_weight * s + (1.0 - seg_weight) * d
    z = np.exp(-(c - c.min())) if c.size else c
    return c, z / z.sum() if c.size else z


def split_weights(weights: str | os.PathLike | None) -> tuple[str | os.PathLike | None, str | None]:
    """``"SEG+SDNN"`` -> ``("SEG", "SDNN")``; anything else (None, one name, an existing file even
    with ``+`` in its name) -> ``(weights, None)``.

    Raises:
        ValueError: an empty part (``"seg-modern-real+"``).
    """
    if weights is None or not isinstance(weights, (str, os.PathLike)) or "+" not in str(weights) \
            or Path(weights).is_file():
        return weights, None
    seg, _, sdnn = str(weights).rpartition("+")
    if not seg or not sdnn:
        raise ValueError(f"[docrec.CombinedRecognizer] weights {weights!r}: expected SEG+SDNN, two weights "
                         f"names or files joined by '+'")
    return seg, sdnn


class CombinedRecognizer:
    """Segmentation system + SDNN, each candidate reading rescored by both (module docstring).

    Args:
        seg, sdnn: the two recognisers (default: the segmentation system with
            :data:`DEFAULT_SEG_WEIGHTS`, the SDNN with the config's ``sdnn_weights``).
        weights: piece-classifier weights of the segmentation system (when ``seg`` is not given), or
            ``"SEG+SDNN"``: those seg weights read with the SDNN weights ``SDNN`` instead of the
            ``sdnn_weights`` their settings name (when ``sdnn`` is not given), e.g.
            ``seg-modern-real+sdnn-strip-real-all``. A file whose name holds a ``+`` is taken whole.
        config: :class:`CombinedConfig` (default: the settings stored under ``"combo"`` in the seg
            weights' meta, chosen on validation for them by ``benchmarks/combo_weights.py``, else
            the class defaults); ``reject_threshold`` / ``max_pixels`` override its fields.
        device: where both recognisers' networks run (``cpu``, ``cuda``, ``cuda:N``, ``mps``; None:
            the CPU); their graphs and the combination stay on the CPU (:mod:`docrec.devices`).
        score: ``"text"`` or ``"digits"`` (:attr:`CombinedConfig.score`; None: the config's, which
            for the real-trained seg weights is ``"digits"``). Given ``seg`` / ``sdnn`` recognisers
            must score the same way.

    Raises:
        ValueError: bad settings, or a given part recogniser that scores otherwise.
    """

    name = "combo"

    def __init__(self, *, seg=None, sdnn=None, weights: str | os.PathLike | None = None,
                 config: CombinedConfig | None = None, reject_threshold: float | None = None,
                 max_pixels: int | None = None, device: str | None = None, score: str | None = None):

        from docrec.recognizers.sdnn import SDNNRecognizer
        from docrec.recognizers.seg import SegmentationRecognizer

        seg_weights, sdnn_weights = split_weights(weights)
        weights = seg_weights
        own_seg = seg is None
        if own_seg:
            if weights is None and DEFAULT_SEG_WEIGHTS.is_file():
                weights = DEFAULT_SEG_WEIGHTS
            seg = SegmentationRecognizer(weights=weights, max_pixels=max_pixels, device=device)
        self.seg = seg
        if config is not None:
            cfg = replace(config)
        else:  # the settings chosen on validation for these seg weights travel with them
            chosen = dict(getattr(self.seg, "meta", {}).get("combo") or {})
            try:
                cfg = CombinedConfig(**chosen)
            except TypeError as exc:
                raise ValueError(f"[docrec.CombinedRecognizer] bad 'combo' settings in the seg weights' "
                                 f"meta {chosen}: {exc}") from None
        if sdnn_weights is not None:
            cfg.sdnn_weights = sdnn_weights
        if reject_threshold is not None:
            cfg.reject_threshold = float(reject_threshold)
        if max_pixels is not None:
            cfg.max_pixels = int(max_pixels)
        if score is not None:
            cfg.score = score
        cfg.__post_init__()
        self.config = cfg
        if own_seg:
            self.seg.config.score = cfg.score
        self.sdnn = sdnn if sdnn is not None else SDNNRecognizer(
            cfg.sdnn_weights, device=device, score=cfg.score,
            **({} if max_pixels is None else {"max_pixels": int(max_pixels)}))
        for part in (self.seg, self.sdnn):
            if _score_of(part) != cfg.score:
                raise ValueError(f"[docrec.CombinedRecognizer] the {part.name} recogniser scores "
                                 f"{_score_of(part)!r} but the combination {cfg.score!r}: build both with "
                                 f"score={cfg.score!r}")

    def recognize(self, images: Sequence[np.ndarray], *, grammar=None, n_best: int = 1) -> list[Recognition]:
        """Read field images: uint8 ``(H, W)`` each -> one :class:`Recognition` each (same order).

        Args:
            images: field images; one that fails the input checks gives a rejected result with the
                reason (the batch goes on).
            grammar: a ``decoders.Grammar`` or a CLI spec (``zip``, ``amount``, ...); None: any text.
            n_best: readings to report (the extra ones go to ``alternatives``, with combined penalties).
        """
        grammar = as_grammar(grammar, where="docrec.CombinedRecognizer.recognize")
        results: list[Recognition | None] = [None] * len(images)
        good: list[tuple[int, np.ndarray]] = []
        for k, img in enumerate(as_image_list(images, where="docrec.CombinedRecognizer.recognize")):
            try:
                good.append((k, check_field_image(img, max_pixels=self.config.max_pixels,
                                                  where="docrec.CombinedRecognizer")))
            except ValueError as exc:
                results[k] = Recognition.reject(str(exc))
        if not good:
            return results  # type: ignore[return-value]
        images_ok = [img for _, img in good]
        sdnn_read = self.sdnn.recognize_detailed(images_ok, grammar=grammar, n_best=int(self.config.sdnn_candidates))
        rest = []
        for j, ((k, img), (d_res, _)) in enumerate(zip(good, sdnn_read)):
            if self.accepts_sdnn(d_res, n_best):
                results[k] = self._sdnn_answer(d_res)
            else:
                rest.append(j)
        if rest:
            scored = self.score_candidates([images_ok[j] for j in rest], grammar=grammar, n_best=n_best,
                                           sdnn_read=[sdnn_read[j] for j in rest])
            for j, sc in zip(rest, scored):
                k, img = good[j]
                results[k] = self._result(img, sc, n_best)
        return results  # type: ignore[return-value]

    def accepts_sdnn(self, d_res: Recognition, n_best: int = 1) -> bool:
        """Is the SDNN's reading ``d_res`` taken without the segmentation system (early acceptance,
        module docstring)?"""
        thr = self.config.sdnn_accept
        return (thr is not None and n_best == 1 and not d_res.rejected and bool(d_res.text)
                and d_res.confidence >= thr)

    def _sdnn_answer(self, d_res: Recognition) -> Recognition:
        """The combined result of a field the SDNN reads alone (early acceptance)."""
        conf = float(d_res.confidence)
        rejected = conf < self.config.reject_threshold
        why = f"confidence {conf:.3f} below the threshold {self.config.reject_threshold:.3f}" if rejected else ""
        return Recognition(text=d_res.text, confidence=conf, rejected=rejected, boxes=list(d_res.boxes),
                           penalty=_nll(conf), reason=why, alternatives=[])

    def score_candidates(self, images: Sequence[np.ndarray], *, grammar=None, n_best: int = 1,
                         sdnn_read: Sequence | None = None) -> list["Scored"]:
        """Steps 1-2 of the module docstring for checked images: per image the candidate texts with
        both systems' ``-log`` posteriors (uncapped; zeros for a system with no reading at all).

        A system's own readings already carry their posterior (``-log`` of its confidence); only
        the other system's readings are scored anew, in one batch per system. ``sdnn_read``: the
        SDNN's ``recognize_detailed`` output for ``images`` (with ``sdnn_candidates`` readings)
        when the caller has it already.
        """
        m_seg = max(int(self.config.candidates), int(n_best))
        m_sdnn = int(self.config.sdnn_candidates)
        if sdnn_read is None:
            sdnn_read = self.sdnn.recognize_detailed(images, grammar=grammar, n_best=m_sdnn)
        elif len(sdnn_read) != len(images):
            raise ValueError(f"[docrec.CombinedRecognizer.score_candidates] {len(sdnn_read)} SDNN readings "
                             f"for {len(images)} images")
        seg_out = self.seg.recognize_detailed(images, grammar=grammar, n_best=m_seg)
        sdnn_out, sdnn_frames = zip(*sdnn_read)
        key = self.key
        cands = [candidate_texts(s, d, m_seg, m_sdnn, key=key) for (s, _), d in zip(seg_out, sdnn_out)]
        if self.config.score == "text":
            known_seg = [{d.text: _nll(d.confidence) for d in (det.decoded if det is not None else [])
                          if not d.rejected} for _, det in seg_out]
        else:  # only the best reading's confidence is a digit-string posterior
            known_seg = [{} if _no_reading(s) else {key(s.text): _nll(s.confidence)} for s, _ in seg_out]
        known_sdnn = [{} if _no_reading(d) else {key(d.text): _nll(d.confidence)} for d in sdnn_out]
        ask_seg = [[t for t in c if key(t) not in k] for c, k in zip(cands, known_seg)]
        ask_sdnn = [[t for t in c if key(t) not in k] for c, k in zip(cands, known_sdnn)]
        seg_pen = self.seg.text_penalties([det for _, det in seg_out], ask_seg, grammar=grammar)
        sdnn_pen = self.sdnn.text_penalties(images, ask_sdnn, grammar=grammar, penalties=sdnn_frames)
        out = []
        for k, ((s_res, detail), d_res, texts) in enumerate(zip(seg_out, sdnn_out, cands)):
            for known, asked, (f_all, f_text) in ((known_seg[k], ask_seg[k], seg_pen[k]),
                                                  (known_sdnn[k], ask_sdnn[k], sdnn_pen[k])):
                known.update({key(t): float(f - f_all) if math.isfinite(f) else math.inf
                              for t, f in zip(asked, f_text)})
            seg_nll = np.array([0.0 if _no_reading(s_res) else known_seg[k][key(t)] for t in texts], np.float64)
            sdnn_nll = np.array([0.0 if _no_reading(d_res) else known_sdnn[k][key(t)] for t in texts], np.float64)
            out.append(Scored(texts, seg_nll, sdnn_nll, s_res, d_res, detail, _severed(detail)))
        return out

    def key(self, text: str) -> str:
        """What identifies an answer: the text itself, or its digit string (``config.score``)."""
        return digit_string(text) if self.config.score == "digits" else text

    def confidence_of(self, sc: "Scored", best: int, softmax: float) -> float:
        """The answer's confidence (module docstring, step 3 and ``CombinedConfig.confidence``)."""
        mode = self.config.confidence
        if mode == "softmax" or (mode == "hybrid" and sc.severed):
            return softmax
        w = self.weight_of(sc)
        g = w * sc.seg_nll[best] + (1.0 - w) * sc.sdnn_nll[best]
        return float(math.exp(-g)) if math.isfinite(g) else 0.0

    def weight_of(self, sc: "Scored") -> float:
        """The ``w`` used for one field (module docstring, step 3)."""
        cfg = self.config
        return cfg.seg_weight_severed if sc.severed and cfg.seg_weight_severed is not None else cfg.seg_weight

    def ranked(self, sc: "Scored") -> tuple[np.ndarray, np.ndarray, float]:
        """Step 3 of the module docstring for one field with candidates: ``(order, c, confidence)``,
        the candidates best first (``(N,)`` indices into ``sc.texts``), their combined penalties
        ``(N,)`` and the answer's confidence (:meth:`confidence_of`)."""
        c, conf = combine_scores(sc.seg_nll, sc.sdnn_nll, seg_weight=self.weight_of(sc),
                                 max_nll=self.config.max_nll)
        order = np.argsort(c, kind="stable")
        best = int(order[0])
        return order, c, self.confidence_of(sc, best, float(conf[best]))

    def _result(self, img, sc: "Scored", n_best: int) -> Recognition:
        if not sc.texts:
            return Recognition.reject(sc.seg.reason or sc.sdnn.reason or "no reading from either recogniser")
        order, c, confidence = self.ranked(sc)
        best = int(order[0])
        text = sc.texts[best]
        boxes = self._boxes(img, text, sc.seg_nll[best], sc.seg, sc.sdnn, sc.detail)
        rejected = confidence < self.config.reject_threshold
        return Recognition(text=text, confidence=confidence, rejected=rejected, boxes=boxes,
                           penalty=float(c[best]),
                           reason=(f"confidence {confidence:.3f} below the threshold "
                                   f"{self.config.reject_threshold:.3f}") if rejected else "",
                           alternatives=[(sc.texts[int(i)], float(c[int(i)])) for i in order[1: n_best]])

    def _boxes(self, img, text, seg_nll, s_res, d_res, detail) -> list:
        """Boxes of ``text``: the segmentation system's pieces when its graph spells it, else the
        SDNN's alignment."""
        if s_res.text == text and not _no_reading(s_res):
            return list(s_res.boxes)

        if np.isfinite(seg_nll) and detail is not None and detail.graph is not None:
            decoded = decode(detail.graph, Grammar.lexicon([text]))
            if not decoded[0].rejected:
                return self.seg._to_recognition(decoded, detail.segmentation, detail.arc_map).boxes
        if d_res.text == text:
            return list(d_res.boxes)
        forced = self.sdnn.recognize([img], grammar=Grammar.lexicon([text]))[0]
        return list(forced.boxes) if forced.text == text else []

    def draw(self, image: np.ndarray, result: Recognition, out_png: str | os.PathLike) -> Path:
        """The segmentation system's picture of ``result`` (cuts, chosen pieces when its graph
        spells the text, interpretation graph)."""
        from docrec.recognizers.seg_draw import draw_recognition

        return draw_recognition(self.seg, image, result, out_png)


@dataclass
class Scored:
    """One field's candidates: ``texts`` (N), both systems' ``-log`` posteriors float64 ``(N,)``,
    their own results, the segmentation system's :class:`SegDetail`, and whether its best reading
    cuts through connected ink."""

    texts: list[str]
    seg_nll: np.ndarray
    sdnn_nll: np.ndarray
    seg: Recognition
    sdnn: Recognition
    detail: object
    severed: bool = False


def _severed(detail) -> bool:
    """Does the segmentation system's best reading have a character boundary that splits a
    connected ink component?"""
    if detail is None or not detail.decoded or detail.decoded[0].rejected:
        return False
    spans = detail.decoded[0].spans
    inner = sorted({sp.end for sp in spans[:-1]} | {sp.start for sp in spans[1:]})
    return bool(detail.segmentation.severs(inner).any()) if inner else False


def _score_of(recognizer) -> str:
    """What a part recogniser's posteriors are of (``"text"`` for one without the setting)."""
    return getattr(getattr(recognizer, "config", None), "score", "text")


def _no_reading(res: Recognition) -> bool:
    return res.rejected and not res.text


def _nll(confidence: float) -> float:
    return -math.log(confidence) if confidence > 0 else math.inf


def candidate_texts(s_res: Recognition, d_res: Recognition, m_seg: int, m_sdnn: int, *,
                    key=None) -> list[str]:
    """Distinct texts of both n-best lists, seg first (at most ``m_seg`` / ``m_sdnn`` from each);
    ``key(text)``: what makes two texts the same answer (default: the text; the first one read
    stands for the others)."""
    key = key or (lambda t: t)
    out: list[str] = []
    seen: set[str] = set()
    for res, m in ((s_res, m_seg), (d_res, m_sdnn)):
        if _no_reading(res):
            continue
        for t in ([res.text] + [a for a, _ in res.alternatives])[:m]:
            if key(t) not in seen:
                seen.add(key(t))
                out.append(t)
    return out


__all__ = ["DEFAULT_SEG_WEIGHTS", "CombinedConfig", "CombinedRecognizer", "Scored", "combine_scores"]
