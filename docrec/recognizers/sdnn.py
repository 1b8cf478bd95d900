"""The SDNN field recogniser (docs/paper.md Sec. VII): no segmentation heuristics at all.

Pipeline, per batch of field images (uint8 ``(H, W)``, white paper, dark ink):

1. height normalisation (:func:`data.sdnn_samples.normalize_field_ink`): Otsu ink map with printed
   frame and guide lines removed (:func:`line_free_ink`), body rows from the
   ink-mass quantiles scaled to 20 px, centred in a 32-row strip, 12 blank columns each side;
2. the SDNN (LeNet-5 replicated over the width, shared weights): the strips of a batch are padded
   to the widest with paper, ``(B, 1, 32, W) -> (B, T, 17)`` penalties; field ``b`` uses its first
   ``T_b = (W_b - 32) // 4 + 1`` frames (frame t reads strip columns ``[4 t, 4 t + 32)``, so padding
   never reaches a valid frame);
3. frame graph -> character model (:class:`decoders.CharacterModel`) -> grammar -> Viterbi, batched
   (:class:`decoders.ProductDecoder`, equal to :func:`decoders.decode_frames`);
   confidence = posterior of the text, ``exp(F_all - F_text)`` (with ``score="digits"`` of its digit
   string: ``F_text`` then sums every reading with those digits, :meth:`decoders.Grammar.with_digits`),
   computed on the frame penalties
   divided by a calibration temperature ``tau`` (the weights file's ``meta["confidence_temperature"]``,
   chosen on validation strings by ``benchmarks/sdnn_validation.py --calibrate``; 1 = the raw
   posterior, which the large RBF penalties make nearly 0 or 1); the text itself is the Viterbi
   reading of the unscaled penalties; n-best alternatives come from :func:`decoders.decode_frames`;
4. boxes: the frames read as a character give a strip x-range (their centres +- 10 px), mapped back
   to the image and tightened to the ink inside it.

``SDNNRecognizer()`` loads the bundled ``docrec/weights/sdnn.pt``.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from data.sdnn_samples import STRIDE, STRIP_H, FieldTransform, normalize_field_ink
from decoders import SCORES, CharacterModel, CharacterModelConfig, ProductDecoder, decode_frames
from docrec.devices import network_device, to_graph_device
from docrec.recognizers.base import (DEFAULT_MAX_PIXELS, Recognition, as_grammar, as_image_list, check_field_image,
                                     digit_string)
from docrec.recognizers.sdnn_net import build_sdnn, frame_penalties, load_weights
from docrec.weights import resolve as resolve_weights
from lenet.inference import inference_model
from lenet.models import BACKGROUND
from segmenter.inkmap import clean_ink_levels

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
#: Half width (strip px) of a character box around its frames' centres.
BOX_HALF = 8


def line_free_ink(image: np.ndarray) -> np.ndarray:
    """The SDNN's ink map of a uint8 ``(H, W)`` field with only the writer's ink left: float32
    ``(H, W)`` in [0, 1].

    A thin wrapper of :func:`segmenter.inkmap.clean_ink_levels` (the levels of
    :func:`data.sdnn_samples.ink_map` on the paper-flattened field): printed ruling and frame
    lines, dark scanner borders, stray print at the edges and paper texture are removed, wide
    margins are ignored, and every pen stroke is kept (tall leading ``1``s and ``7``s included,
    issue 16), so none of them sets the writing's height in
    :func:`data.sdnn_samples.normalize_field_ink`.
    """

    return clean_ink_levels(image)


@contextlib.contextmanager
def _one_thread():
    """Run the decoder's small tensors (B x ~100 states) on one torch thread: several times faster
    than two on a busy machine (measured); the caller's setting is restored."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@dataclass
class SDNNRecognizerConfig:
    """Settings of :class:`SDNNRecognizer`.

    Attributes:
        batch_size: fields per SDNN batch. Small batches are faster on a CPU: 256 zip codes on 1
            thread read at 291-351 fields/s in batches of 256 and 528-544 in batches of 32 (StripNet:
            87 against 145-156; docs/results.md).
        reject_threshold: results with a confidence below it are marked rejected (0: never).
        max_pixels: input size limit (:func:`check_field_image`).
        charmodel: options for :class:`decoders.CharacterModelConfig` (default: the weights file's).
        temperature: ``tau`` of the confidence (module docstring, step 3); None: the weights file's
            ``meta["confidence_temperature"]``, else 1.
        device: where the network runs (``cpu``, ``cuda``, ``cuda:N``, ``mps``; :mod:`docrec.devices`;
            None: the CPU, or a given model's own device); the frame penalties are moved to the CPU
            for the character model and the decoders.
        score: what the confidence is the posterior of: ``"text"``, the reading as written, or
            ``"digits"``, its digit string (every reading with the same digits counted: the amount
            a bank keys, whatever separators and end marks were read).
    """

    batch_size: int = 32
    reject_threshold: float = 0.0
    max_pixels: int = DEFAULT_MAX_PIXELS
    charmodel: dict = field(default_factory=dict)
    temperature: float | None = None
    device: str | None = None
    score: str = "text"


class SDNNRecognizer:
    """Field images -> :class:`Recognition` with the SDNN (module docstring).

    Args:
        weights: an SDNN weights file or bundled name (``sdnn``, ``sdnn-strip``, ...); default ``sdnn``.
            Weights of another system are refused (:func:`docrec.weights.resolve`).
        model: a 17-class classifier (LeNet-5 or ModernLeNet) to use instead of a weights file (e.g. during training).
        config: :class:`SDNNRecognizerConfig`; the keywords below override single fields of it.
    """

    name = "sdnn"

    def __init__(self, weights: str | os.PathLike | None = None, *, model: torch.nn.Module | None = None,
                 config: SDNNRecognizerConfig | None = None, batch_size: int | None = None,
                 reject_threshold: float | None = None, max_pixels: int | None = None,
                 charmodel: dict | None = None, temperature: float | None = None, device: str | None = None,
                 score: str | None = None):
        given = {"batch_size": batch_size, "reject_threshold": reject_threshold, "max_pixels": max_pixels,
                 "charmodel": charmodel, "temperature": temperature, "device": device, "score": score}
        self.config = replace(config or SDNNRecognizerConfig(), **{k: v for k, v in given.items() if v is not None})
        cfg = self.config
        if cfg.score not in SCORES:
            raise ValueError(f"[docrec.SDNNRecognizer] score must be one of {SCORES}, got {cfg.score!r}")
        self.meta: dict = {}
        cm_opts: dict = {}
        if model is None:
            model, cm_opts, self.meta = load_weights(resolve_weights(weights or "sdnn", "sdnn"))
        if getattr(model, "num_classes", 17) != 17:
            raise ValueError(f"[docrec.SDNNRecognizer] needs a 17-class classifier, got {model.num_classes} classes")
        if not 0.0 <= cfg.reject_threshold <= 1.0:
            raise ValueError(f"[docrec.SDNNRecognizer] reject_threshold must be in [0, 1], got {cfg.reject_threshold}")
        if cfg.batch_size < 1:
            raise ValueError(f"[docrec.SDNNRecognizer] batch_size must be >= 1, got {cfg.batch_size}")
        batch_size, reject_threshold, max_pixels, temperature = (cfg.batch_size, cfg.reject_threshold,
                                                                 cfg.max_pixels, cfg.temperature)
        charmodel = cfg.charmodel
        self.device = network_device(model, cfg.device)
        self.lenet = model.eval()
        self.sdnn = build_sdnn(self.lenet).eval()
        self.charmodel = CharacterModel(config=CharacterModelConfig(**{**cm_opts, **(charmodel or {})}))
        self.batch_size = int(batch_size)
        self.reject_threshold = float(reject_threshold)
        self.max_pixels = int(max_pixels)
        tau = temperature if temperature is not None else self.meta.get("confidence_temperature", 1.0)
        if not (isinstance(tau, (int, float)) and np.isfinite(tau) and tau > 0):
            raise ValueError(f"[docrec.SDNNRecognizer] temperature must be finite and > 0, got {tau!r}")
        self.temperature = float(tau)
        self._decoders: dict = {}

    # ------------------------------------------------------------------ pieces
    def _grammar_and_decoder(self, grammar):
        """``(decoders.Grammar or None, ProductDecoder)`` for a grammar or CLI spec, cached: by the spec
        string (each ``resolve_grammar`` call builds a new Grammar object) or by the object itself."""
        key = ("spec", grammar) if grammar is None or isinstance(grammar, str) else ("object", id(grammar))
        if key not in self._decoders:
            if len(self._decoders) >= 32:  # callers passing many Grammar objects: bounded cache
                self._decoders.pop(next(iter(self._decoders)))
            g = as_grammar(grammar, where="docrec.SDNNRecognizer")
            self._decoders[key] = (g, ProductDecoder(g, self.charmodel))  # holds g, so its id stays unique
        return self._decoders[key]

    @torch.inference_mode()
    def frame_penalties(self, strips: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised strips (float32 ``(32, W_b)``) -> ``(B, T, 17)`` penalties and ``(B,)`` frame counts."""

        width = max(s.shape[1] for s in strips)
        x = torch.full((len(strips), 1, STRIP_H, width), BACKGROUND, dtype=torch.float32)
        for b, s in enumerate(strips):
            x[b, 0, :, : s.shape[1]] = torch.from_numpy(s)
        widths = torch.tensor([s.shape[1] for s in strips], dtype=torch.long)
        frames = (widths - STRIP_H) // STRIDE + 1
        net = inference_model(self.sdnn)  # the folded form (LeNet-5 SDNN; StripNet in eval mode)
        pen = frame_penalties(net, x.to(self.device), widths)  # widths stay on the CPU
        return to_graph_device(pen), frames  # the decoders run on the CPU

    def _normalized(self, images: Sequence[np.ndarray]) -> list:
        """Checked and height-normalised fields (``normalize_field_ink``): None for no ink, the
        reason (a string) for an image the checks refuse."""
        out: list = []
        for im in as_image_list(images, where="docrec.SDNNRecognizer.recognize"):
            try:
                checked = check_field_image(im, max_pixels=self.max_pixels, where="docrec.SDNNRecognizer")
            except ValueError as exc:
                out.append(str(exc))
                continue
            out.append(normalize_field_ink(checked, ink=line_free_ink(checked)))
        return out

    def _frame_batches(self, norm: list, todo: list[int]):
        """Yield ``(chunk, (B, T, 17) penalties, (B,) frame counts)`` for the fields ``todo`` of
        ``norm``, similar widths together (little padding), ``batch_size`` at a time."""
        todo = sorted(todo, key=lambda i: norm[i][0].shape[1])
        for s in range(0, len(todo), self.batch_size):
            chunk = todo[s: s + self.batch_size]
            pen, frames = self.frame_penalties([norm[i][0] for i in chunk])
            yield chunk, pen, frames

    @staticmethod
    def _boxes(image_ink: np.ndarray, tf: FieldTransform, spans) -> list[tuple[int, int, int, int]]:
        """Image boxes ``(x0, y0, x1, y1)`` of the decoded characters (module docstring, step 4).

        A span's frames give the image column range ``[x0, x1)`` (their centres +- BOX_HALF strip px);
        the box is tightened to the ink (> 0.5) inside that range, or spans the strip's rows when the
        range has no ink. All spans of a field at once: ``image_ink (H, W)``, K spans -> K boxes.
        """
        if not spans:
            return []
        H, W = tf.image_shape
        starts = np.array([sp.start for sp in spans], np.float64)
        ends = np.array([sp.end for sp in spans], np.float64)
        c0 = tf.to_image_x(STRIDE * starts + STRIP_H / 2 - BOX_HALF)
        c1 = tf.to_image_x(STRIDE * (ends - 1) + STRIP_H / 2 + BOX_HALF)
        x0 = np.clip(np.floor(c0), 0, W - 1).astype(np.int64)  # (K,)
        x1 = np.clip(np.ceil(c1), x0 + 1, W).astype(np.int64)
        ink = image_ink > 0.5  # (H, W)
        cum = np.zeros((H, W + 1), np.int32)
        np.cumsum(ink, axis=1, out=cum[:, 1:])
        rows = (cum[:, x1] - cum[:, x0]) > 0  # (H, K): row has ink inside the box's columns
        has = rows.any(axis=0)  # (K,)
        top = rows.argmax(axis=0)
        bottom = H - rows[::-1].argmax(axis=0)
        ink_cols = np.flatnonzero(ink.any(axis=0))
        first = ink_cols[np.minimum(np.searchsorted(ink_cols, x0), len(ink_cols) - 1)] if len(ink_cols) else x0
        last = ink_cols[np.maximum(np.searchsorted(ink_cols, x1) - 1, 0)] + 1 if len(ink_cols) else x1
        half = STRIP_H / 2 / tf.scale
        empty_top, empty_bottom = int(max(0, tf.y_mid - half)), int(min(H, tf.y_mid + half))
        out = []
        for k in range(len(spans)):
            if has[k]:
                out.append((int(first[k]), int(top[k]), int(last[k]), int(bottom[k])))
            else:
                out.append((int(x0[k]), empty_top, int(x1[k]), empty_bottom))
        return out

    # ------------------------------------------------------------------ API
    def recognize(self, images: Sequence[np.ndarray], *, grammar=None, n_best: int = 1,
                  reject_threshold: float | None = None) -> list[Recognition]:
        """Read field images: uint8 ``(H, W)`` each -> one :class:`Recognition` each (same order).
        Arguments as for :meth:`recognize_detailed`."""
        return [r for r, _ in self.recognize_detailed(images, grammar=grammar, n_best=n_best,
                                                      reject_threshold=reject_threshold)]

    def recognize_detailed(self, images: Sequence[np.ndarray], *, grammar=None, n_best: int = 1,
                           reject_threshold: float | None = None) -> list[tuple[Recognition, torch.Tensor | None]]:
        """Read field images, also returning each one's frame penalties (for :meth:`text_penalties`).

        Args:
            images: field images (greyscale or colour arrays; see :func:`check_field_image`).
            grammar: a ``decoders.Grammar``, a CLI spec (``zip``, ``amount``, ``digits``, a pattern) or
                ``None`` (any string).
            n_best: also report up to ``n_best - 1`` alternatives (slower: per-field decoding).
            reject_threshold: override of the constructor's threshold.

        Returns:
            Per image ``(Recognition, penalties)``: ``penalties`` float32 ``(T_b, 17)``, the field's
            frame penalties (None for an image without ink or refused by the checks). An image
            without ink or with no reading allowed by the grammar gives a rejected result with the
            reason, and so does a malformed array.
        """
        if n_best < 1:
            raise ValueError(f"[docrec.SDNNRecognizer.recognize] n_best must be >= 1, got {n_best}")
        thr = self.reject_threshold if reject_threshold is None else float(reject_threshold)
        grammar, dec = self._grammar_and_decoder(grammar)
        norm = self._normalized(images)
        results: list[Recognition | None] = [None] * len(norm)
        frame_pen: list[torch.Tensor | None] = [None] * len(norm)
        for i, n in enumerate(norm):
            if n is None:
                results[i] = Recognition.reject("no ink found in the image")
            elif isinstance(n, str):
                results[i] = Recognition.reject(n)
        todo = [i for i, n in enumerate(norm) if n is not None and not isinstance(n, str)]
        for chunk, pen, frames in self._frame_batches(norm, todo):
            with _one_thread():
                best, spans = dec.viterbi(pen, frames)
                texts = [[sp.label for sp in spl] for spl in spans]
                scaled = pen / self.temperature
                f_all = dec.forward_all(scaled, frames)
                if self.config.score == "digits":
                    words = [self.charmodel.alphabet.decode(t) for t in texts]
                    f_txt = self._digits_forward(dec.grammar, scaled, frames, words)
                else:
                    f_txt = dec.forward_text(scaled, frames, texts)
            for k, i in enumerate(chunk):
                frame_pen[i] = pen[k, : int(frames[k])]
                results[i] = self._result(norm[i][2], norm[i][1], float(best[k]), spans[k], float(f_all[k]),
                                          float(f_txt[k]), thr, grammar, frame_pen[i], n_best)
        return list(zip(results, frame_pen))  # type: ignore[arg-type]

    def text_penalties(self, images: Sequence[np.ndarray], texts: Sequence[Sequence[str]], *, grammar=None,
                       penalties: Sequence[torch.Tensor | None] | None = None) -> list[tuple[float, np.ndarray]]:
        """Score given readings: ``-log`` posterior of a text = ``f_text - f_all`` (the quantity the
        confidence is made of, at the calibrated temperature), for texts this recogniser need not
        have found itself (:class:`docrec.recognizers.combo.CombinedRecognizer`). With
        ``score="digits"`` a text's posterior is its digit string's (every reading with its digits).

        Args:
            images: ``B`` field images (checked as by :meth:`recognize`).
            texts: ``B`` lists of candidate strings.
            grammar: as for :meth:`recognize`.
            penalties: the ``B`` fields' frame penalties from :meth:`recognize_detailed` (float
                ``(T_b, 17)`` or None), so that the fields are not normalised and read again; None:
                computed here from ``images``.

        Returns:
            Per image ``(f_all, f_text)`` with ``f_text`` float64 ``(N_b,)``; ``inf`` for a text the
            grammar rejects or with characters outside the alphabet, and everything ``inf`` for an
            image without ink.
        """
        if len(texts) != len(images) or (penalties is not None and len(penalties) != len(images)):
            raise ValueError(f"[docrec.SDNNRecognizer.text_penalties] {len(images)} images but {len(texts)} "
                             f"text lists and {'no' if penalties is None else len(penalties)} penalties")
        _, dec = self._grammar_and_decoder(grammar)
        alphabet = self.charmodel.alphabet
        out: list[tuple[float, np.ndarray]] = [(float("inf"), np.full(len(c), np.inf)) for c in texts]
        if penalties is None:
            norm = self._normalized(images)
            batches = self._frame_batches(norm, [i for i, n in enumerate(norm)
                                                 if n is not None and not isinstance(n, str) and texts[i]])
        else:
            batches = self._given_batches(penalties, [i for i, p in enumerate(penalties) if p is not None and texts[i]])
        for chunk, pen, frames in batches:
            scaled = (pen / self.temperature).double()
            rows, labels, ok = [], [], []
            for k, i in enumerate(chunk):
                for t in texts[i]:
                    try:
                        labels.append(alphabet.encode(t))
                        ok.append(True)
                    except ValueError:  # a character the SDNN does not know
                        labels.append([])
                        ok.append(False)
                    rows.append(k)
            idx = torch.as_tensor(rows, dtype=torch.long)
            with _one_thread():
                f_all = dec.forward_all(scaled, frames).numpy()
                if self.config.score == "digits":
                    words = [t for i in chunk for t in texts[i]]
                    f_txt = self._digits_forward(dec.grammar, scaled[idx], frames[idx], words).numpy()
                else:
                    f_txt = dec.forward_text(scaled[idx], frames[idx], labels).numpy()
            f_txt = np.where(np.asarray(ok), f_txt, np.inf)
            start = 0
            for k, i in enumerate(chunk):
                n = len(texts[i])
                out[i] = (float(f_all[k]), f_txt[start: start + n].astype(np.float64))
                start += n
        return out

    def _digits_forward(self, grammar, pen: torch.Tensor, frames: torch.Tensor, texts: Sequence[str]) -> torch.Tensor:
        """Forward penalty, per field, of the readings ``grammar`` allows with the digits of
        ``texts[b]``: ``(B, T, C), (B,), B strings -> (B,)`` (``score="digits"``; one small product
        automaton per distinct digit string, :meth:`decoders.Grammar.with_digits`)."""
        out = torch.full((len(texts),), float("inf"), dtype=pen.dtype)
        rows: dict[str, list[int]] = {}
        for b, t in enumerate(texts):
            rows.setdefault(digit_string(t), []).append(b)
        for key, idx in rows.items():
            restricted = grammar.with_digits(key)
            if restricted.dfa.is_empty():
                continue
            sel = torch.as_tensor(idx, dtype=torch.long)
            out[sel] = ProductDecoder(restricted, self.charmodel).forward_all(pen[sel], frames[sel]).to(pen.dtype)
        return out

    def _given_batches(self, penalties: Sequence[torch.Tensor | None], todo: list[int]):
        """Like :meth:`_frame_batches` for frame penalties already computed: ``(T_b, C)`` each ->
        ``(chunk, (B, T, C) zero-padded penalties, (B,) frame counts)``."""
        todo = sorted(todo, key=lambda i: penalties[i].shape[0])
        for s in range(0, len(todo), self.batch_size):
            chunk = todo[s: s + self.batch_size]
            frames = torch.tensor([penalties[i].shape[0] for i in chunk], dtype=torch.long)
            pen = torch.nn.utils.rnn.pad_sequence([penalties[i] for i in chunk], batch_first=True)  # (B, T, C)
            yield chunk, pen, frames

    def _result(self, ink, tf, penalty, spans, f_all, f_txt, thr, grammar, pen, n_best) -> Recognition:
        if not np.isfinite(penalty):
            desc = grammar.description if grammar is not None else "any text"
            return Recognition.reject(f"no interpretation allowed by the grammar ({desc})")
        text = self.charmodel.alphabet.decode([sp.label for sp in spans])
        conf = float(min(1.0, np.exp(f_all - f_txt))) if np.isfinite(f_txt) else 0.0
        boxes = self._boxes(ink, tf, spans)
        alts: list[tuple[str, float]] = []
        if n_best > 1:

            alts = [(r.text, r.penalty) for r in decode_frames(pen.double(), grammar, n_best, model=self.charmodel)[1:]
                    if not r.rejected]
        rejected = conf < thr
        reason = f"confidence {conf:.3f} below threshold {thr:.3f}" if rejected else ""
        return Recognition(text=text, confidence=conf, rejected=rejected, boxes=boxes, penalty=penalty,
                           reason=reason, alternatives=alts)

    def draw(self, image: np.ndarray, result: Recognition, out_png: str | os.PathLike) -> None:
        """Write a PNG: the image with the decoded boxes, and below it the per-frame penalties of the
        SDNN as a heat map (17 classes x T frames, aligned with the image's x axis, like the paper's SDNN
        figures) with the decoded path's frames marked.

        Raises:
            ValueError: an image without ink.
        """
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        img = check_field_image(image, max_pixels=self.max_pixels, where="docrec.SDNNRecognizer.draw")
        norm = normalize_field_ink(img, ink=line_free_ink(img))
        if norm is None:
            raise ValueError("[docrec.SDNNRecognizer.draw] no ink found in the image")
        strip, tf, _ = norm
        pen, frames = self.frame_penalties([strip])
        pen = pen[0, : int(frames[0])].numpy()  # (T, C)
        H, W = img.shape
        centres = tf.to_image_x(STRIDE * np.arange(pen.shape[0]) + STRIP_H / 2)
        step = STRIDE / tf.scale
        fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(max(6.0, W / 25.0), 6.5), sharex=True,
                                       gridspec_kw={"height_ratios": [1.0, 1.6]})
        ax0.imshow(img, cmap="gray", vmin=0, vmax=255, extent=(0, W, H, 0), aspect="auto")
        for (x0, y0, x1, y1), ch in zip(result.boxes, result.text):
            ax0.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="red", lw=1.2))
            ax0.text((x0 + x1) / 2, y0, ch, color="red", ha="center", va="bottom", fontsize=11)
        status = "rejected" if result.rejected else "accepted"
        ax0.set_title(f"SDNN: {result.text!r}  confidence {result.confidence:.3f} ({status})")
        ax0.set_xlim(min(0.0, centres[0] - step / 2), max(W, centres[-1] + step / 2))
        labels = list(self.charmodel.alphabet.characters) + ["none"]
        labels = labels[: pen.shape[1]]
        im = ax1.imshow(pen.T, aspect="auto", cmap="viridis_r", interpolation="nearest", vmin=0.0,
                        vmax=float(np.percentile(pen, 50)),
                        extent=(centres[0] - step / 2, centres[-1] + step / 2, pen.shape[1] - 0.5, -0.5))
        best = pen.argmin(1)
        ax1.plot(centres, best, "w.", ms=4, label="best class per frame")
        _, dec = self._grammar_and_decoder(None)
        _, spans = dec.viterbi(torch.from_numpy(pen)[None], torch.tensor([pen.shape[0]]))
        for x0, x1, lab in [(sp.start, sp.end, sp.label) for sp in spans[0]]:
            ax1.plot(centres[x0:x1], [lab] * (x1 - x0), "r-", lw=3)
        ax1.set_yticks(range(len(labels)))
        ax1.set_yticklabels(labels, fontsize=7)
        ax1.set_xlabel("image x (pixels); one column per SDNN frame (stride 4 in the 32-px strip)")
        ax1.set_title("per-frame penalties (bright = low); red: decoded path without grammar")
        fig.colorbar(im, ax=ax1, fraction=0.03, pad=0.01, label="penalty")
        fig.tight_layout()
        Path(out_png).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out_png, dpi=110)
        plt.close(fig)


__all__ = ["SDNNRecognizer"]
