"""``docrec train seg local|global --fields DIR``: the segmentation recogniser trained on real labelled
fields, fine-tuning from the bundled weights (docs/paper.md Sec. VI, IX-X; :mod:`docrec.training.seg_real`).

* ``local``: the true pieces the folder's boxes give (each character's best-matching arc; fragments
  and merges as 'none'), mixed with ``synth_ratio`` synthetic pieces per real piece (pieces cut from
  synthetic strings of MNIST training digits, ``docrec.training.seg_data.make_pieces``), MAP loss
  (:func:`docrec.training.seg_local.train_local`).
* ``global``: the labels alone (boxes never read), discriminative forward criterion through the
  whole graph against :func:`decoders.marked_label_graph` (``gtn.discriminative_forward_loss``,
  :func:`docrec.training.seg_global.train_global`), mixed with ``synth_ratio`` synthetic fields
  per real field (whose true segmentation is a path of the graph).

Both select their epoch on real validation fields (digit-string accuracy with the amount grammar;
epoch 0 = the starting weights), checkpoint every epoch atomically (``WORK/TAG.pt``), and write the
chosen weights as a weights file ``WORK/TAG-weights.pt`` (``{"model", "meta"}``, loadable by
``docrec recognize --system seg --weights``) with a JSON record ``WORK/TAG.json``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from data import usps_pool
from data.atomic import atomic_write, write_json_atomic
from docrec.devices import resolve_device
from lenet.shard import Shard

#: Bundled weights real training starts from, per architecture.
BUNDLED_SEG = {"lenet5": "seg-lenet5.pt", "modern": "seg-modern.pt"}


@dataclass
class RealTrainConfig:
    """Configuration of :func:`train_real`.

    Attributes:
        stage: ``"local"`` (boxes) or ``"global"`` (labels alone).
        fields: the training folder; ``ids``: its inclusive file-name id range (None: all).
        val_fields, val_ids: the validation folder and ids (None: no selection, last epoch kept).
        boxes: the boxes file in ``fields`` (local).
        init: checkpoint or weights file to start from (None: the bundled ``seg-<arch>``).
        arch: piece classifier when ``init`` is None.
        synth_ratio: synthetic pieces per real piece (local) / fields per real field (global).
        synth_fields: synthetic fields cut into pieces for the local mix.
        usps_digits: local: this many USPS training-split digits (other real writers; through the
            segmenter's piece normaliser) added to the mix (0: none; the held-out 1,000 never).
        usps_dir: USPS folder (None: ``$DOCREC_USPS_DIR`` or the user cache).
        max_fields: at most this many real training fields (seeded subset; None: all).
        max_none: 'none' pieces kept per real field (local).
        none_iou: local: an arc is 'none' only below this IoU with its main character (fragments,
            merges); arcs between it and the true piece are left out.
        epochs, lr, distort: schedule (lr None: 3e-3 local, 1e-4 global); ``distort`` share of
            local patterns given a random affine distortion.
        lr_decay: local: lr factor per epoch.
        criterion: global criterion, ``"forward"`` or ``"viterbi"``.
        batch_fields: global: fields per step.
        joint_local: global: weight of the local MAP loss on the folder's box pieces (mixed with
            synthetic pieces at ``local_synth_ratio``) added to every global step (0: labels only;
            > 0 reads the boxes: joint local + global training).
        local_synth_ratio: synthetic pieces per real piece of that joint loss.
        scan_copies: local, and the joint local loss: each real training field also gives the true
            pieces of this many rescanned copies (:func:`docrec.training.field_augment.scan_variant`:
            blur, contrast, noise, JPEG, every pixel in place so the boxes hold; each copy segmented
            anew). 0: the pieces of the fields as scanned only.
        augment_copies: global: each real training field also trains as this many augmented copies
            (:func:`docrec.training.field_augment.augment_field`, each copy segmented anew; the
            joint local loss keeps the originals' box pieces). 0: the fields as scanned.
        skip_bad: drop faulty folder rows (reported) instead of raising.
        seed: data and shuffling seed.
        mnist_dir: MNIST folder for the synthetic mix.
        tag: output name (default ``local-real`` / ``global-real-<criterion>``).
    """

    stage: str = "local"
    fields: str | os.PathLike = ""
    ids: tuple[int, int] | None = None
    val_fields: str | os.PathLike | None = None
    val_ids: tuple[int, int] | None = None
    boxes: str = "boxes.jsonl"
    init: str | None = None
    arch: str = "lenet5"
    synth_ratio: float = 0.5
    synth_fields: int = 1500
    usps_digits: int = 0
    usps_dir: str | None = None
    max_fields: int | None = None
    max_none: int = 8
    none_iou: float = 0.6
    epochs: int = 3
    lr: float | None = None
    distort: float = 0.5
    lr_decay: float = 0.85
    criterion: str = "forward"
    batch_fields: int = 8
    joint_local: float = 0.0
    local_synth_ratio: float = 0.5
    augment_copies: int = 0
    scan_copies: int = 0
    skip_bad: bool = False
    seed: int = 0
    mnist_dir: str | None = None
    tag: str | None = None

    def __post_init__(self) -> None:
        where = "[docrec.RealTrainConfig]"
        if self.stage not in ("local", "global"):
            raise ValueError(f"{where} stage={self.stage!r}; use local or global")
        if self.criterion not in ("forward", "viterbi"):
            raise ValueError(f"{where} criterion={self.criterion!r}; use forward or viterbi")
        if not 0.0 < self.none_iou <= 1.0:
            raise ValueError(f"{where} none_iou={self.none_iou} must lie in (0, 1]")
        if not self.synth_ratio >= 0:
            raise ValueError(f"{where} synth_ratio={self.synth_ratio} must be >= 0")
        if self.joint_local < 0 or self.local_synth_ratio < 0:
            raise ValueError(f"{where} joint_local={self.joint_local}, local_synth_ratio={self.local_synth_ratio} "
                             f"must be >= 0")
        if self.usps_digits < 0 or self.augment_copies < 0 or self.scan_copies < 0:
            raise ValueError(f"{where} usps_digits={self.usps_digits}, augment_copies={self.augment_copies}, "
                             f"scan_copies={self.scan_copies} must be >= 0")
        if self.scan_copies and self.stage == "global" and not self.joint_local > 0:
            raise ValueError(f"{where} scan_copies={self.scan_copies} gives box pieces to the local loss; the "
                             f"global stage has one only with joint_local > 0")
        if self.augment_copies and self.stage != "global":
            raise ValueError(f"{where} augment_copies={self.augment_copies} is for the global stage (local "
                             f"training distorts its pieces: distort)")
        if self.epochs < 1 or self.max_none < 0 or self.batch_fields < 1 or self.synth_fields < 0:
            raise ValueError(f"{where} epochs={self.epochs}, max_none={self.max_none}, batch_fields="
                             f"{self.batch_fields}, synth_fields={self.synth_fields}: need epochs >= 1, "
                             f"batch_fields >= 1, max_none >= 0, synth_fields >= 0")
        if self.max_fields is not None and self.max_fields < 1:
            raise ValueError(f"{where} max_fields={self.max_fields} must be >= 1")
        if not str(self.fields):
            raise ValueError(f"{where} no training folder (fields)")

    @property
    def name(self) -> str:
        """The output name: ``tag`` or ``local-real`` / ``global-real-<criterion>``."""
        return self.tag or ("local-real" if self.stage == "local" else f"global-real-{self.criterion}")


def initial_model(config: RealTrainConfig) -> tuple[torch.nn.Module, str, dict]:
    """``(model, where it came from, meta)``: ``config.init`` or the bundled ``seg-<arch>`` weights."""
    from docrec.recognizers.seg_model import load_piece_model

    weights_dir = Path(__file__).resolve().parents[1] / "weights"
    path = Path(config.init) if config.init is not None else weights_dir / BUNDLED_SEG[config.arch]
    if not path.is_file():
        raise ValueError(f"[docrec.seg_real_train] init {path}: no such weights file")
    model, meta = load_piece_model(path)
    return model, str(path), meta


def _check_disjoint(train, val) -> None:
    overlap = set(train.paths) & set(val.paths)
    if overlap:
        some = sorted(p.name for p in overlap)[:5]
        raise ValueError(f"[docrec.seg_real_train] {len(overlap)} validation fields are also training fields "
                         f"(e.g. {some}); choose disjoint folders or id ranges")


def synthetic_pieces(config: RealTrainConfig, *, work: Path, progress: bool, log=print
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Pieces of ``config.synth_fields`` synthetic training strings (cached as
    ``WORK/synth-pieces-N-sSEED.npz``)."""
    from docrec.training.seg_data import PieceDataConfig, make_pieces, train_pools

    path = work / f"synth-pieces-{config.synth_fields}-s{config.seed}.npz"
    if path.is_file():
        data = np.load(path)
        return data["x"], data["y"]
    train_pool, _ = train_pools(config.mnist_dir)
    x, y, stats = make_pieces(config.synth_fields, seed=config.seed, pool=train_pool, config=PieceDataConfig(),
                              progress=progress)
    log(json.dumps({"synthetic_pieces": stats}))
    atomic_write(path, lambda tmp: np.savez_compressed(tmp, x=x, y=y), suffix=".npz")
    return x, y


def _save_weights(model, meta: dict, record: dict, path: Path) -> Path:
    from docrec.recognizers.seg_model import arch_meta
    from docrec.training.seg_local import save_atomic

    out_meta = {**arch_meta(model)}
    if "temperature" in meta:
        out_meta["temperature"] = float(meta["temperature"])
    out_meta["trained_on"] = record.get("data", "")
    return save_atomic({"model": model.state_dict(), "meta": out_meta}, path)


def train_real(config: RealTrainConfig, *, work: str | os.PathLike, progress: bool = True, log=print,
               device: str | None = None, shard: Shard | None = None) -> dict:
    """Run one real-field stage (see the module docstring).

    Args:
        config: :class:`RealTrainConfig`.
        work: the work folder (checkpoint, weights, record, caches).
        device: where the piece classifier trains (:mod:`docrec.devices`; None: CUDA when
            available); segmentation and graphs stay on the CPU.
        shard: this process's place under ``torchrun`` (:class:`lenet.shard.Shard`; the stages'
            own rules, :func:`docrec.training.seg_local.train_local` and
            :func:`docrec.training.seg_global.train_global`); process 0 alone writes the outputs.

    Returns:
        the JSON record (also written to ``WORK/TAG.json``): config, data counts, history,
        ``best_val_accuracy``, ``checkpoint`` and ``weights`` paths.

    Raises:
        FileNotFoundError, ValueError: bad folders (named with file and line), overlapping training
        and validation fields, a missing init.
    """
    from docrec.recognizers.seg import SegmentationRecognizer
    from docrec.training.seg_real import digit_accuracy, ids_text, read_folder, segment_folder, subsample

    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    cache = work / "cache"
    t0 = time.time()
    uses_boxes = config.stage == "local" or config.joint_local > 0
    boxes = config.boxes if uses_boxes else None  # global from labels alone never sees the boxes
    train_set = read_folder(config.fields, ids=config.ids, boxes=boxes, skip_bad=config.skip_bad, log=log)
    val = None
    record: dict = {"stage": config.stage, "config": asdict(config), "train_skipped": len(train_set.skipped)}
    if config.val_fields is not None:
        val_set = read_folder(config.val_fields, ids=config.val_ids, boxes=None, skip_bad=config.skip_bad, log=log)
        _check_disjoint(train_set, val_set)
        val, vstats = segment_folder(val_set, with_targets=False, cache_dir=cache, progress=progress, log=log)
        record["val_fields"] = {"folder": str(config.val_fields), "ids": ids_text(config.val_ids), **vstats}
    fields, tstats = segment_folder(train_set, with_targets=uses_boxes, cache_dir=cache,
                                    none_iou=config.none_iou, progress=progress, log=log)
    fields = subsample(fields, config.max_fields, seed=config.seed)
    record["train_fields"] = {"folder": str(config.fields), "ids": ids_text(config.ids), **tstats,
                              "used": len(fields)}
    model, init, meta = initial_model(config)
    model.to(resolve_device(device, training=True))
    record["init"] = init
    log(json.dumps({k: record[k] for k in ("train_fields", "init")}))
    ckpt = work / f"{config.name}.pt"
    if config.stage == "local":
        history = _local(model, fields, val, config, work=work, checkpoint=ckpt, progress=progress, log=log,
                         record=record, shard=shard, scans=train_set)
    else:
        history = _global(model, fields, val, config, work=work, checkpoint=ckpt, progress=progress, log=log,
                          record=record, shard=shard, scans=train_set)
    record["history"] = history
    accs = [h["val_accuracy"] for h in history if "val_accuracy" in h]
    if accs:
        record["best_val_accuracy"] = max(accs)
        record["start_val_accuracy"] = accs[0]
    if val is not None:
        record["final_check_val_accuracy"] = digit_accuracy(SegmentationRecognizer(model=model), val)
    record["data"] = (f"real fields {config.fields} ids {ids_text(config.ids)}"
                      + (" with boxes" if uses_boxes else " (labels only, boxes hidden)")
                      + (f"; stage local, {config.synth_ratio} synthetic pieces per real piece"
                         if config.stage == "local" else
                         f"; stage global, {config.synth_ratio} synthetic fields per real field"
                         + (f", joint local loss x{config.joint_local} ({config.local_synth_ratio} synthetic "
                            f"pieces per real piece)" if config.joint_local > 0 else ""))
                      + f"; started from {record.get('init')}")
    record["checkpoint"] = str(ckpt)
    weights = work / f"{config.name}-weights.pt"
    record["weights"] = str(weights)
    record["seconds"] = time.time() - t0
    if shard is None or shard.rank == 0:
        _save_weights(model, meta, record, weights)
        write_json_atomic(work / f"{config.name}.json", record, default=str)
    return record


def _scan_copies(scans, fields, config: RealTrainConfig, *, work: Path, progress: bool, log, record: dict) -> list:
    """``config.scan_copies`` rescanned copies of the folder rows ``scans`` kept in ``fields``, with box
    targets (none when ``scan_copies`` is 0); their counts go to ``record["scan_copies"]``."""
    if config.scan_copies <= 0:
        return []
    from docrec.training.seg_real import augmented_fields

    copies, stats = augmented_fields(scans, config.scan_copies, seed=config.seed, keep={f.name for f in fields},
                                     cache_dir=work / "cache", progress=progress, scan=True,
                                     none_iou=config.none_iou, log=log)
    record["scan_copies"] = stats
    log(json.dumps({"scan_copies": stats}))
    return copies


def _local(model, fields, val, config: RealTrainConfig, *, work: Path, checkpoint: Path, progress: bool, log,
           record: dict, shard: Shard | None = None, scans=None) -> list[dict]:
    from docrec.recognizers.seg import SegmentationRecognizer
    from docrec.training.seg_local import LocalTrainConfig, train_local
    from docrec.training.seg_real import digit_accuracy, mix_pieces, real_pieces

    rescans = _scan_copies(scans, fields, config, work=work, progress=progress, log=log, record=record)
    rx, ry, pstats = real_pieces(list(fields) + rescans, max_none_per_field=config.max_none, seed=config.seed)
    if len(ry) == 0:
        raise ValueError(f"[docrec.seg_real_train] {config.fields}: no labelled piece could be cut from the boxes")
    synth = synthetic_pieces(config, work=work, progress=progress, log=log) if config.synth_ratio > 0 else None
    x, y, mix = mix_pieces((rx, ry), synth, synth_ratio=config.synth_ratio, seed=config.seed)
    if config.usps_digits > 0:
        from docrec.training.seg_data import mnist_pieces

        ux, uy = mnist_pieces(usps_pool("train", root=config.usps_dir), limit=config.usps_digits, seed=config.seed)
        x, y = np.concatenate([x, ux]), np.concatenate([y, uy])
        mix["usps"] = int(len(uy))
    record["pieces"] = {**pstats, **mix}
    log(json.dumps({"pieces": record["pieces"]}))
    cfg = LocalTrainConfig(epochs=config.epochs, lr=config.lr or 3e-3, lr_decay=config.lr_decay, seed=config.seed,
                           distort=config.distort)
    rec = SegmentationRecognizer(model=model)
    evaluate = None if val is None else (lambda m: digit_accuracy(rec, val))
    return train_local(model, x, y, cfg, checkpoint=checkpoint, progress=progress, log=log, evaluate=evaluate,
                       shard=shard)


def _global(model, fields, val, config: RealTrainConfig, *, work: Path, checkpoint: Path, progress: bool, log,
            record: dict, shard: Shard | None = None, scans=None) -> list[dict]:
    from docrec.training.seg_data import train_pools
    from docrec.training.seg_real import augmented_fields
    from docrec.training.seg_global import GlobalTrainConfig, make_fields, train_global

    n_synth = int(round(config.synth_ratio * len(fields)))
    synth = []
    if n_synth:
        train_pool, _ = train_pools(config.mnist_dir)
        drawn: dict = {}
        synth = make_fields(n_synth, seed=config.seed, pool=train_pool, progress=progress, require_true_path=True,
                            stats=drawn)
        record["synthetic_fields"] = drawn
    aux = None
    if config.joint_local > 0:
        from docrec.training.seg_real import mix_pieces, real_pieces

        rescans = _scan_copies(scans, fields, config, work=work, progress=progress, log=log, record=record)
        rx, ry, pstats = real_pieces(list(fields) + rescans, max_none_per_field=config.max_none, seed=config.seed)
        spieces = (synthetic_pieces(config, work=work, progress=progress, log=log)
                   if config.local_synth_ratio > 0 else None)
        ax, ay, mix = mix_pieces((rx, ry), spieces, synth_ratio=config.local_synth_ratio, seed=config.seed)
        aux = (ax, ay)
        record["joint_local_pieces"] = {**pstats, **mix}
    copies = []
    if config.augment_copies > 0:
        kept = {f.name for f in fields}  # the fields left after max_fields
        copies, astats = augmented_fields(scans, config.augment_copies, seed=config.seed, keep=kept,
                                          cache_dir=work / "cache", progress=progress, log=log)
        record["augmented_fields"] = astats
    cfg = GlobalTrainConfig(criterion=config.criterion, epochs=config.epochs, lr=config.lr or 1e-4,
                            batch_fields=config.batch_fields, fields=len(fields) + len(copies) + len(synth),
                            val_fields=len(val) if val is not None else 0, seed=config.seed,
                            aux_weight=config.joint_local)
    history = train_global(model, cfg, checkpoint=checkpoint, progress=progress, log=log,
                           fields=list(fields) + copies + list(synth), val=list(val) if val is not None else [],
                           aux_pieces=aux, shard=shard)
    for h in history:  # the same score under the name the local stage uses (none without validation)
        score = h.pop("val_string_accuracy")
        if val is not None:
            h["val_accuracy"] = score
    return history
