"""Stage 2: global training of the segmentation recogniser through the whole graph (docs/paper.md Sec. VI).

For a training field with true text ``t``: segmentation graph -> recognition transformer with the
current LeNet-5 -> interpretation graph ``G`` (all 16 characters on every piece). The constrained
graph ``G_c = G o lexicon({t})`` keeps only the paths spelling ``t``. Criteria:

* discriminative forward (Sec. VI-D, eq. 25): ``E = F(G_c) - F(G)``, F = forward penalty
  (``-log sum exp(-path penalties)``); it is ``-log P(t | field)`` and pushes up every wrong
  interpretation in proportion to its posterior;
* discriminative Viterbi (Sec. VI-B): ``E = V(G_c) - V(G)``, V = best path penalty; zero (no
  gradient) once the best path is correct, so it only fixes errors.

Both are the ``gtn`` criteria (``gtn.discriminative_forward_loss`` /
``gtn.discriminative_viterbi_loss``, exact gradients), called on a batch of fields and
back-propagated through the recognition transformer's gather and the piece classifier. Fields whose
text cannot be read from the graph at all give ``F(G_c) = inf`` and are skipped (counted).

Real fields (:mod:`docrec.training.seg_real`, kind ``"real"``) are labelled with their digits
only; their constraint is :func:`decoders.marked_label_graph` (optional separators between the
digits, an optional end-mark tail), so global training learns from the label alone.

Training fields whose *true segmentation* is not a path of the graph (touching or overlapping
digits the segmenter cannot separate; known from the synthetic character maps,
:func:`segmenter.truth.true_path`) are left out by default (``require_true_path``): in them the
only paths spelling the text read halves and pairs of digits as characters, and the criterion
would teach LeNet-5 exactly that, against its 'none' class (measured: with them, validation
zip-code accuracy at normal spacing fell from 0.947 to 0.900 in 3 epochs).

Training strings come from MNIST *training* digits ``[0, 55000)``; validation (model selection)
from training digits ``[55000, 60000)`` (:func:`docrec.training.seg_data.train_pools`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm import tqdm

import gtn
from data.synth import SynthConfig, field_rng
from data.texts import sample_text
from decoders import decode
from gtn import EPSILON, Graph
from lenet.losses import DEFAULT_MAP_J, map_loss
from lenet.shard import Shard
from segmenter.graph import segment
from segmenter.synthtruth import render_with_char_map
from segmenter.truth import true_path

#: Global criteria (docs/paper.md Sec. VI) -> the ``gtn`` loss: the discriminative forward (the paper's
#: recommendation) and Viterbi criteria, and their non-discriminative forms (``-nd``: the constrained
#: penalty alone, which the paper notes can collapse).
CRITERIA = {"forward": "discriminative_forward_loss", "viterbi": "discriminative_viterbi_loss",
            "forward-nd": "forward_loss", "viterbi-nd": "viterbi_loss"}
#: Grammar spec (``docrec.recognizers.resolve_grammar``) used for each synthetic field kind.
KIND_GRAMMARS = {"zip": "zip", "digits": "digits:3-8", "amount": "amount"}


@dataclass
class GlobalTrainConfig:
    """Configuration of :func:`train_global`.

    Attributes:
        criterion: a key of :data:`CRITERIA` (``"forward"``, ``"viterbi"``, ``"forward-nd"``, ``"viterbi-nd"``).
        epochs, lr, batch_fields: Adam schedule; one step per ``batch_fields`` fields.
        fields, val_fields: training and validation field counts (training fields are drawn until
            ``fields`` are kept).
        require_true_path: keep only training fields whose true segmentation is a path of the
            segmentation graph (at ``truth_tol``); validation fields are never filtered.
        seed: field and shuffling seed.
        aux_weight: weight of an auxiliary local (MAP) loss on labelled pieces added to every step
            (``aux_pieces`` of :func:`train_global`; 0 = none): joint local + global training.
        aux_batch: pieces per step for that loss.
        map_j: eq. 9's ``j`` of that loss.
    """

    criterion: str = "forward"
    epochs: int = 3
    lr: float = 1e-4
    batch_fields: int = 8
    fields: int = 2000
    val_fields: int = 300
    require_true_path: bool = True
    truth_tol: float = 0.85
    seed: int = 0
    aux_weight: float = 0.0
    aux_batch: int = 64
    map_j: float = DEFAULT_MAP_J

    def __post_init__(self) -> None:
        if self.criterion not in CRITERIA:
            raise ValueError(f"[docrec.GlobalTrainConfig] criterion={self.criterion!r}; use one of {list(CRITERIA)}")


@dataclass
class CachedField:
    """A segmented training field kept in memory: pieces uint8 ``(A, 1, 32, 32)`` and the
    segmentation graph's arcs; for a real field with boxes, ``targets`` int64 ``(A,)`` (the
    character index each arc is, -1 'none', -2 left out: :func:`segmenter.truth.box_arc_targets`)
    and its file ``name``. ``kind`` is a synthetic kind of :data:`KIND_GRAMMARS` or
    ``docrec.training.seg_real.REAL_KIND`` (digit-only label, read as an amount)."""

    text: str
    kind: str
    pieces: np.ndarray
    src: torch.Tensor
    dst: torch.Tensor
    penalty: torch.Tensor
    num_nodes: int
    targets: np.ndarray | None = None
    name: str = ""

    def graph(self):
        return Graph(self.src, self.dst, torch.full_like(self.src, EPSILON), penalty=self.penalty,
                     num_nodes=self.num_nodes, validate=False)


def make_fields(count: int, *, seed: int, pool, segmenter_config=None, progress: bool = False,
                spacings=("wide", "normal", "normal", "tight", "touching", "overlapping"),
                kinds=(("zip", 0.4), ("digits", 0.3), ("amount", 0.3)),
                require_true_path: bool = False, truth_tol: float = 0.85,
                stats: dict | None = None) -> list[CachedField]:
    """Synthesise and segment fields from ``pool`` (kinds and spacings drawn at random).

    Without ``require_true_path``: fields ``0 .. count - 1`` (those with ink). With it: fields are
    drawn until ``count`` are kept whose true segmentation is a path of the graph (at most
    ``10 * count`` draws); ``stats`` (if given) receives the numbers drawn and kept.
    """

    from docrec.recognizers.seg import default_segmenter_config
    from docrec.training.seg_data import quantize

    segmenter_config = segmenter_config or default_segmenter_config()
    rng = np.random.default_rng([seed, 11])
    names = [k for k, _ in kinds]
    probs = np.asarray([p for _, p in kinds], np.float64)
    probs /= probs.sum()
    out: list[CachedField] = []
    drawn = 0
    bar = tqdm(total=count, disable=not progress, desc="segment fields", unit="field")
    while len(out) < count and drawn < (10 * count if require_true_path else count):
        kind = names[int(rng.choice(len(names), p=probs))]
        cfg = SynthConfig(spacing=spacings[int(rng.integers(len(spacings)))], min_len=3, max_len=8)
        frng = field_rng(seed, drawn)
        drawn += 1
        text = sample_text(kind, frng, min_len=cfg.min_len, max_len=cfg.max_len, zip_plus4=cfg.zip_plus4)
        f, cmap = render_with_char_map(text, pool, frng, cfg)
        seg = segment(f.image, config=segmenter_config)
        if seg.num_arcs == 0:
            continue
        if require_true_path and true_path(seg, cmap, tol=truth_tol) is None:
            continue
        g = seg.graph
        out.append(CachedField(f.text, kind, quantize(g.data), g.src.clone(), g.dst.clone(),
                               g.penalty.detach().float().clone(), g.num_nodes))
        bar.update(1)
    bar.close()
    if stats is not None:
        stats.update(drawn=drawn, kept=len(out))
    return out


def interpretation_graphs(recognizer, fields: list[CachedField], *, batch_fields: int = 64) -> list:
    """The interpretation graph of every cached field under the recogniser's current LeNet-5
    (MAP-normalised penalties, ``piece_shifts`` and ``seg_weight`` as in
    :class:`SegmentationRecognizer`), one network call per ``batch_fields`` fields; differentiable
    when gradients are enabled."""
    from docrec.recognizers.seg import CHAR_CLASSES, normalized_penalties, piece_outputs
    from docrec.training.seg_data import dequantize

    cfg = recognizer.config
    out = []
    for s in range(0, len(fields), batch_fields):
        chunk = fields[s: s + batch_fields]
        raw = piece_outputs(recognizer.model, dequantize(np.concatenate([f.pieces for f in chunk])),
                            shifts=cfg.piece_shifts or 0)  # (P, 17)
        pen = normalized_penalties(raw, j=cfg.map_j) if cfg.normalize else raw
        for f, p in zip(chunk, torch.split(pen, [len(f.pieces) for f in chunk])):
            out.append(gtn.recognize(f.graph(), penalties=p, classes=CHAR_CLASSES, seg_weight=cfg.seg_weight)[0])
    return out


def field_losses(recognizer, fields: list[CachedField], *, criterion: str) -> tuple[torch.Tensor, int]:
    """Sum of the criterion over ``fields`` (differentiable w.r.t. the recogniser's piece classifier)
    and the number of fields used (those whose label is readable from the graph at all).

    The criterion is the ``gtn`` one (:data:`CRITERIA`, e.g. ``gtn.discriminative_forward_loss``),
    computed on the batch of the fields' interpretation graphs against the batch of their label graphs (:func:`docrec.training.seg_real.label_graph`: a
    synthetic field's exact text; a real field's digit-only label with optional separators and end
    marks). A field whose label graph has no path in its interpretation graph (loss ``inf``) adds
    nothing and no gradient.
    """
    from docrec.training.seg_real import REAL_KIND, label_graph

    if criterion not in CRITERIA:
        raise ValueError(f"[docrec.seg_global.field_losses] criterion={criterion!r}; use one of {list(CRITERIA)}")
    if not fields:
        return torch.zeros(()), 0
    graphs = interpretation_graphs(recognizer, fields, batch_fields=max(1, len(fields)))
    dtype = graphs[0].penalty.dtype
    loss_fn = getattr(gtn, CRITERIA[criterion])
    targets = gtn.batch([label_graph(f.text, marked=f.kind == REAL_KIND, dtype=dtype) for f in fields])
    losses = loss_fn(gtn.batch(graphs), targets)  # (B,)
    readable = torch.isfinite(losses.detach())
    total = torch.where(readable, losses, torch.zeros_like(losses)).sum()
    return total, int(readable.sum())


def string_accuracy(recognizer, fields: list[CachedField]) -> float:
    """Fraction of cached fields read exactly (grammar of each field's kind, :data:`KIND_GRAMMARS`;
    real fields, whose labels are digits only, are read as amounts and scored on the reading's digits)."""
    from docrec.recognizers import resolve_grammar
    from docrec.training.seg_real import REAL_GRAMMAR, REAL_KIND, digits_of

    grammars = {k: resolve_grammar(v) for k, v in {**KIND_GRAMMARS, REAL_KIND: REAL_GRAMMAR}.items()}
    recognizer.model.eval()
    ok = 0
    with torch.no_grad():
        for f, g in zip(fields, interpretation_graphs(recognizer, fields)):
            res = decode(g, grammars[f.kind])[0]
            if f.kind == REAL_KIND:
                ok += (not res.rejected) and digits_of(res.text) == f.text
            else:
                ok += (not res.rejected) and res.text == f.text
    return ok / max(len(fields), 1)


def train_global(model, config: GlobalTrainConfig, *, checkpoint: str | os.PathLike | None = None,
                 mnist_dir=None, progress: bool = True, log=print,
                 fields: list[CachedField] | None = None, val: list[CachedField] | None = None,
                 aux_pieces: tuple[np.ndarray, np.ndarray] | None = None, shard: Shard | None = None) -> list[dict]:
    """Fine-tune ``model`` (17-class LeNet-5) with the global criterion; checkpoint every epoch.

    The checkpoint holds the weights of the epoch with the best validation string accuracy
    (epoch 0 = the starting weights; the last epoch when ``val`` is empty), the full history and
    the config. ``fields`` / ``val`` (cached fields, synthetic or real, see :class:`CachedField`)
    replace the synthetic fields the config would draw. ``aux_pieces`` (uint8 ``(N, 1, 32, 32)``,
    int64 ``(N,)``) with ``config.aux_weight > 0`` add ``aux_weight`` times the MAP loss of
    ``aux_batch`` random pieces to every step.

    ``shard`` (under ``torchrun``, :class:`lenet.shard.Shard`): every process builds the same fields
    and draws the same batches; each reads its fields ``batch[rank::world]`` (and its rows of the
    auxiliary pieces), the readable fields are counted over the processes and the gradients summed,
    so a step equals one process's on the whole batch. Every process evaluates; process 0 alone
    logs and writes the checkpoint.

    Returns:
        One dict per epoch (0 = before training): mean loss, fields used, validation accuracy.
    """

    from docrec.recognizers.seg import SegmentationRecognizer
    from docrec.recognizers.seg_model import arch_meta, freeze_batch_norm
    from docrec.training.seg_data import dequantize, train_pools
    from docrec.training.seg_local import save_atomic

    if fields is None or val is None:
        train_pool, val_pool = train_pools(mnist_dir)
        drawn: dict = {}
        fields = fields if fields is not None else make_fields(
            config.fields, seed=config.seed, pool=train_pool, progress=progress,
            require_true_path=config.require_true_path, truth_tol=config.truth_tol, stats=drawn)
        if drawn:
            log(json.dumps({"training_fields": drawn}))
        val = val if val is not None else make_fields(config.val_fields, seed=config.seed + 1000, pool=val_pool,
                                                      progress=progress)
    shard = shard or Shard()
    main = shard.rank == 0
    log = log if main else (lambda *a, **k: None)
    progress = progress and main
    rec = SegmentationRecognizer(model=model)  # on the model's device; the graphs on the CPU
    device = rec.device
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)  # the modern CNN's dropout draws from the global generator
    history = [{"epoch": 0, "val_string_accuracy": string_accuracy(rec, val)}]
    log(json.dumps(history[-1]))
    best = (history[0]["val_string_accuracy"], {k: v.clone() for k, v in model.state_dict().items()})
    for epoch in range(1, config.epochs + 1):
        freeze_batch_norm(model.train())
        order = torch.randperm(len(fields), generator=gen).tolist()
        total, used = 0.0, 0
        bar = tqdm(range(0, len(order), config.batch_fields), disable=not progress,
                   desc=f"global ({config.criterion}) epoch {epoch}", unit="batch")
        for k in bar:
            batch = [fields[i] for i in order[k: k + config.batch_fields]]
            loss, n = field_losses(rec, list(shard.part(batch)), criterion=config.criterion)
            if shard.world > 1:
                n = int(shard.total(n))  # readable fields of the whole batch
            if n == 0:
                continue
            step_loss = loss / n
            if aux_pieces is not None and config.aux_weight > 0:
                pick = torch.randint(len(aux_pieces[1]), (config.aux_batch,), generator=gen).numpy()
                pick = shard.part(pick)  # this process's rows of the auxiliary batch
                xb = dequantize(aux_pieces[0][pick])  # (k, 1, 32, 32)
                yb = torch.from_numpy(aux_pieces[1][pick])
                if len(pick):
                    step_loss = step_loss + config.aux_weight * len(pick) / config.aux_batch * map_loss(
                        model(xb.to(device)), yb.to(device), j=config.map_j)
            opt.zero_grad()
            if step_loss.requires_grad:
                step_loss.backward()
            if shard.world > 1:
                loss = shard.sum_gradients(model, loss.detach().reshape(1))[0]
            opt.step()
            total += float(loss.detach())
            used += n
            bar.set_postfix(loss=f"{total / max(used, 1):.3f}")
        acc = string_accuracy(rec, val)
        history.append({"epoch": epoch, "loss": total / max(used, 1), "fields_used": used,
                        "fields": len(fields), "val_string_accuracy": acc})
        log(json.dumps(history[-1]))
        if acc > best[0] or not val:  # without validation fields: the last epoch
            best = (acc, {k: v.clone() for k, v in model.state_dict().items()})
        if checkpoint is not None and main:
            save_atomic({"model": best[1], "history": history, "config": asdict(config),
                         "best_val_string_accuracy": best[0], **arch_meta(model)}, checkpoint)
    model.load_state_dict(best[1])
    model.eval()
    return history
