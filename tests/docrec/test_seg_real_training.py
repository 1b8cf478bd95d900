"""Training the segmentation recogniser on a folder of labelled fields (boxes -> local, labels -> global).

The fixture folder is drawn here (printed digits on white paper, PNG + labels.csv + boxes.jsonl),
so nothing needs ../shared.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

#: (image text, digit-only label): a decimal point and an end mark are drawn but not labelled.
FIELDS = (("2250", "2250"), ("17.5", "175"), ("408-", "408"), ("93", "93"), ("61.07", "6107"), ("385", "385"))


def _draw_field(text: str) -> tuple[np.ndarray, list[dict]]:
    """uint8 ``(H, W)`` white field with ``text`` printed, and one box per digit."""
    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 1.2, 3
    pad, gap, h = 8, 6, 48
    sizes = [cv2.getTextSize(c, font, scale, thick)[0] for c in text]
    w = pad * 2 + sum(s[0] for s in sizes) + gap * (len(text) - 1)
    img = np.full((h, w), 255, np.uint8)
    x, boxes = pad, []
    for c, (cw, _ch) in zip(text, sizes):
        cv2.putText(img, c, (x, h - 12), font, scale, 0, thick, cv2.LINE_AA)
        if c.isdigit():
            ys, xs = np.nonzero(img[:, x: x + cw + 2] < 128)
            boxes.append({"char": c, "box": [int(x + xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                                             int(ys.max() - ys.min() + 1)]})
        x += cw + gap
    return img, boxes


def _write_folder(root: Path, items=FIELDS, *, first_id: int = 100) -> Path:
    (root / "images").mkdir(parents=True)
    rows, lines = ["path,text"], []
    for k, (shown, label) in enumerate(items):
        img, boxes = _draw_field(shown)
        rel = f"images/f_{first_id + k:06d}.png"
        cv2.imwrite(str(root / rel), img)
        rows.append(f"{rel},{label}")
        lines.append(json.dumps({"path": rel, "text": label, "width": img.shape[1], "height": img.shape[0],
                                 "chars": boxes}))
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    (root / "boxes.jsonl").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread (the tests share two cores with other work), restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture()
def folder(tmp_path) -> Path:
    return _write_folder(tmp_path / "fields")


def _fresh_weights(path: Path) -> Path:
    from lenet.models import LeNet5

    torch.manual_seed(0)
    torch.save({"model": LeNet5(17).state_dict(), "meta": {"arch": "lenet5"}}, path)
    return path


def test_boxes_give_true_pieces(folder, tmp_path):
    from docrec.training.seg_data import CHARS, NONE_ID
    from docrec.training.seg_real import read_folder, real_pieces, segment_folder

    fs = read_folder(folder)
    assert len(fs) == len(FIELDS) and fs.n_with_boxes == len(FIELDS)
    fields, stats = segment_folder(fs, with_targets=True, cache_dir=tmp_path / "cache", log=lambda s: None)
    assert stats["chars_matched"] == stats["chars"] == sum(len(label) for _, label in FIELDS)
    for f in fields:  # every digit is one arc, in order
        t = np.asarray(f.targets)
        assert sorted(t[t >= 0].tolist()) == list(range(len(f.text)))
    x, y, pstats = real_pieces(fields, max_none_per_field=3)
    assert x.shape[1:] == (1, 32, 32) and x.dtype == np.uint8 and len(x) == len(y)
    assert pstats["correct"] == stats["chars"] and (y == NONE_ID).sum() == pstats["none"] <= 3 * len(FIELDS)
    assert set(y[y != NONE_ID].tolist()) <= {CHARS.index(d) for d in "0123456789"}
    again, _ = segment_folder(fs, with_targets=True, cache_dir=tmp_path / "cache", log=lambda s: None)
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 1  # the second call read the cache
    assert all(np.array_equal(a.pieces, b.pieces) and np.array_equal(a.targets, b.targets)
               for a, b in zip(fields, again))


def test_box_char_map_resolves_overlaps():
    from segmenter.truth import box_char_map

    cmap = box_char_map((10, 20), [(0, 0, 10, 10), (8, 0, 10, 10)])
    assert cmap[5, 2] == 0 and cmap[5, 15] == 1 and cmap[5, 19] == -1
    assert cmap[5, 8] == 0 and cmap[5, 9] == 1  # the overlap goes to the nearer centre
    with pytest.raises(ValueError, match=r"box_char_map\] box 0"):
        box_char_map((10, 20), [(15, 0, 10, 10)])


def test_local_step_from_boxes_lowers_the_loss(folder, tmp_path):
    from docrec.training.seg_data import dequantize
    from docrec.training.seg_real import read_folder, real_pieces, segment_folder
    from lenet.losses import map_loss
    from lenet.models import LeNet5

    fields, _ = segment_folder(read_folder(folder), with_targets=True, log=lambda s: None)
    x, y, _ = real_pieces(fields, max_none_per_field=3)
    torch.manual_seed(0)
    model = LeNet5(17)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    xb, yb = dequantize(x), torch.from_numpy(y)
    losses = []
    for _ in range(6):
        loss = map_loss(model(xb), yb, j=16.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]


def test_cli_local_from_boxes_checkpoints_and_selects_on_validation(folder, tmp_path):
    from docrec.cli import build_parser
    from docrec.recognizers.seg import SegmentationRecognizer

    init = _fresh_weights(tmp_path / "init.pt")
    work = tmp_path / "work"
    args = build_parser().parse_args(
        ["train", "seg", "local", "--fields", str(folder), "--ids", "100-103", "--val-fields", str(folder),
         "--val-ids", "104-105", "--synth-ratio", "0", "--epochs", "2", "--init", str(init), "--work", str(work),
         "--quiet"])
    assert args.func(args) == 0
    record = json.loads((work / "local-real.json").read_text())
    assert record["train_fields"]["used"] == 4 and record["val_fields"]["fields"] == 2
    assert [h["epoch"] for h in record["history"]] == [0, 1, 2]
    blob = torch.load(work / "local-real.pt", weights_only=True)
    assert blob["best_val_accuracy"] == record["best_val_accuracy"] and not list(work.glob("*.tmp"))
    rec = SegmentationRecognizer(weights=work / "local-real-weights.pt")  # a usable weights file
    assert rec.meta["arch"] == "lenet5"


def test_global_from_labels_alone(folder, tmp_path):
    from docrec.recognizers.seg import SegmentationRecognizer
    from docrec.training.seg_global import field_losses
    from docrec.training.seg_real import read_folder, segment_folder
    from docrec.training.seg_real_train import RealTrainConfig, train_real

    (folder / "boxes.jsonl").unlink()  # labels only
    fields, _ = segment_folder(read_folder(folder), with_targets=False, log=lambda s: None)
    assert all(f.targets is None for f in fields)
    rec = SegmentationRecognizer(weights=_fresh_weights(tmp_path / "init.pt"))
    loss, used = field_losses(rec, fields, criterion="forward")
    assert used == len(fields) and float(loss.detach()) > 0  # '17.5' labelled 175 is readable too
    loss.backward()
    assert any(float(p.grad.abs().sum()) > 0 for p in rec.model.parameters() if p.grad is not None)
    cfg = RealTrainConfig(stage="global", fields=str(folder), synth_ratio=0.0, epochs=1, batch_fields=3, lr=1e-3,
                          init=str(tmp_path / "init.pt"))
    record = train_real(cfg, work=tmp_path / "work", progress=False, log=lambda s: None)
    assert record["history"][-1]["fields_used"] == len(fields)
    assert "val_accuracy" not in record["history"][-1]  # no validation folder given
    state = torch.load(record["checkpoint"], weights_only=True)
    assert set(state["model"]) == set(rec.model.state_dict())


def test_joint_local_and_global(folder, tmp_path):
    from docrec.training.seg_real_train import RealTrainConfig, train_real

    cfg = RealTrainConfig(stage="global", fields=str(folder), ids=(100, 103), val_fields=str(folder),
                          val_ids=(104, 105), synth_ratio=0.0, joint_local=1.0, local_synth_ratio=0.0, epochs=1,
                          batch_fields=2, lr=1e-3, init=str(_fresh_weights(tmp_path / "init.pt")))
    record = train_real(cfg, work=tmp_path / "work", progress=False, log=lambda s: None)
    assert record["joint_local_pieces"]["correct"] == sum(len(label) for _, label in FIELDS[:4])
    assert [h["epoch"] for h in record["history"]] == [0, 1] and "val_accuracy" in record["history"][-1]
    assert "with boxes" in record["data"]


def test_augmented_copies_are_seeded_segmented_and_cached(folder, tmp_path):
    from docrec.training.seg_real import augmented_fields, read_folder

    fs = read_folder(folder, boxes=None)
    names = {fs[i].path.name for i in (0, 2)}
    made, stats = augmented_fields(fs, 2, seed=0, keep=names, cache_dir=tmp_path / "cache", log=lambda s: None)
    assert stats == {"copies": 2, "fields": 2, "made": 4, "no_ink": 0}
    assert [f.name for f in made] == [f"{n}#aug{k}" for k in range(2) for n in sorted(names)]
    assert [f.text for f in made] == [fs[i].text for _ in range(2) for i in (0, 2)]
    assert all(f.targets is None and f.pieces.shape[1:] == (1, 32, 32) and len(f.src) > 0 for f in made)
    # copy k of a field is the same whatever else is asked for, and differs from copy k' and from seed 1
    one, _ = augmented_fields(fs, 1, seed=0, keep={sorted(names)[0]}, log=lambda s: None)
    assert np.array_equal(one[0].pieces, made[0].pieces) and torch.equal(one[0].penalty, made[0].penalty)
    assert not (made[0].pieces.shape == made[2].pieces.shape and np.array_equal(made[0].pieces, made[2].pieces))
    other, _ = augmented_fields(fs, 1, seed=1, keep={sorted(names)[0]}, log=lambda s: None)
    assert not (other[0].pieces.shape == one[0].pieces.shape and np.array_equal(other[0].pieces, one[0].pieces))
    # the second call reads the cache: the same fields, and no segmentation
    import docrec.training.seg_real as seg_real

    def refuse(*a, **k):
        raise AssertionError("segmented again instead of reading the cache")

    real_segment, seg_real.segment = seg_real.segment, refuse
    try:
        again, stats2 = augmented_fields(fs, 2, seed=0, keep=names, cache_dir=tmp_path / "cache", log=lambda s: None)
    finally:
        seg_real.segment = real_segment
    assert stats2 == stats and [f.name for f in again] == [f.name for f in made]
    assert all(np.array_equal(a.pieces, b.pieces) for a, b in zip(again, made))
    with pytest.raises(ValueError, match="copies must be >= 1"):
        augmented_fields(fs, 0)


def test_scan_variant_keeps_every_pixel_in_place():
    """A rescanned copy is softer, paler or noisier, but its ink lies where the boxes say."""
    from docrec.training.field_augment import ScanConfig, scan_variant

    img, boxes = _draw_field("2250")
    inside = np.zeros(img.shape, bool)
    for b in boxes:
        x, y, w, h = b["box"]
        inside[max(0, y - 3): y + h + 3, max(0, x - 3): x + w + 3] = True  # the blur's reach
    seen_blur = 0
    for seed in range(12):
        out = scan_variant(img, np.random.default_rng(seed))
        assert out.shape == img.shape and out.dtype == np.uint8
        assert np.array_equal(out, scan_variant(img, np.random.default_rng(seed)))
        ink = out < 200
        assert ink.any() and not (ink & ~inside).any()
        seen_blur += int((out[img == 0] > 60).mean() > 0.2)  # strokes no longer solid
    assert 0 < seen_blur < 12
    sharp = scan_variant(img, np.random.default_rng(0), ScanConfig(p_blur=0.0, p_noise=0.0, p_jpeg=0.0,
                                                                   contrast=(1.0, 1.0), gamma=(1.0, 1.0)))
    assert np.abs(sharp.astype(int) - img).max() <= 1
    with pytest.raises(ValueError, match="blur range"):
        ScanConfig(blur=(0.0, 1.0)).validate()
    with pytest.raises(ValueError, match="p_jpeg"):
        ScanConfig(p_jpeg=2.0).validate()
    with pytest.raises(ValueError, match="scan_variant"):
        scan_variant(np.zeros((0, 5), np.uint8), np.random.default_rng(0))


def test_scan_copies_carry_box_targets_and_reach_the_local_pieces(folder, tmp_path):
    from docrec.training.seg_real import augmented_fields, read_folder, segment_folder
    from docrec.training.seg_real_train import RealTrainConfig, train_real

    fs = read_folder(folder)
    made, stats = augmented_fields(fs, 2, seed=0, scan=True, log=lambda s: None)
    assert stats["made"] == 2 * len(fs) and stats["chars"] == 2 * sum(len(f.text) for f in fs)
    assert stats["true_path"] >= 2 * len(fs) - 2 and stats["chars_matched"] >= stats["chars"] - 2
    originals, _ = segment_folder(fs, with_targets=True, log=lambda s: None)
    for k, f in enumerate(made):
        assert f.name.endswith(f"#scan{k // len(fs)}") and f.targets is not None
        assert sorted(set(f.targets[f.targets >= 0].tolist())) == list(range(len(f.text)))
    assert not all(np.array_equal(a.pieces, b.pieces) for a, b in zip(made, originals + originals)
                   if a.pieces.shape == b.pieces.shape)
    with pytest.raises(ValueError, match="labels line .* has no boxes"):
        augmented_fields(read_folder(folder, boxes=None), 1, scan=True, log=lambda s: None)
    # local training reads the copies' true pieces beside the originals'
    plain = train_real(RealTrainConfig(stage="local", fields=str(folder), ids=(100, 103), synth_ratio=0.0, epochs=1,
                                       init=str(_fresh_weights(tmp_path / "init.pt"))),
                       work=tmp_path / "plain", progress=False, log=lambda s: None)
    rescanned = train_real(RealTrainConfig(stage="local", fields=str(folder), ids=(100, 103), synth_ratio=0.0, epochs=1,
                                           scan_copies=2, init=str(tmp_path / "init.pt")),
                           work=tmp_path / "scan", progress=False, log=lambda s: None)
    assert rescanned["scan_copies"]["made"] == 8
    assert rescanned["pieces"]["correct"] > 2.5 * plain["pieces"]["correct"]
    with pytest.raises(ValueError, match="scan_copies=1 gives box pieces to the local loss"):
        RealTrainConfig(stage="global", fields=str(folder), scan_copies=1)
    with pytest.raises(ValueError, match="scan_copies=-1"):
        RealTrainConfig(stage="local", fields=str(folder), scan_copies=-1)


def test_global_trains_on_augmented_copies(folder, tmp_path):
    from docrec.training.seg_real_train import RealTrainConfig, train_real

    cfg = RealTrainConfig(stage="global", fields=str(folder), ids=(100, 103), synth_ratio=0.0, epochs=1,
                          batch_fields=4, lr=1e-3, augment_copies=2, init=str(_fresh_weights(tmp_path / "init.pt")))
    record = train_real(cfg, work=tmp_path / "work", progress=False, log=lambda s: None)
    assert record["augmented_fields"] == {"copies": 2, "fields": 4, "made": 8, "no_ink": 0}
    assert record["history"][-1]["fields"] == 4 + 8
    with pytest.raises(ValueError, match="augment_copies=2 is for the global stage"):
        RealTrainConfig(stage="local", fields=str(folder), augment_copies=2)
    with pytest.raises(ValueError, match="augment_copies=-1"):
        RealTrainConfig(stage="global", fields=str(folder), augment_copies=-1)


def test_modern_global_training_repeats_exactly(folder, tmp_path):
    """The modern CNN's dropout draws from torch's global generator, which the trainer seeds: the
    same run twice gives the same weights, another seed others."""
    from docrec.recognizers.seg_model import arch_meta
    from docrec.training.seg_real_train import RealTrainConfig, train_real
    from lenet.models import ModernLeNet

    torch.manual_seed(0)
    net = ModernLeNet(17)
    torch.save({"model": net.state_dict(), "meta": arch_meta(net)}, tmp_path / "modern.pt")

    def run(seed: int, name: str) -> dict:
        torch.manual_seed(1000 + len(name))  # whatever the caller's generator holds
        cfg = RealTrainConfig(stage="global", fields=str(folder), ids=(100, 103), synth_ratio=0.0, epochs=1,
                              batch_fields=2, lr=1e-3, seed=seed, init=str(tmp_path / "modern.pt"))
        record = train_real(cfg, work=tmp_path / name, progress=False, log=lambda s: None)
        return torch.load(record["checkpoint"], weights_only=True)["model"]

    a, b, c = run(0, "a"), run(0, "bb"), run(1, "c")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if torch.is_floating_point(a[k]))


def test_bad_folders_fail_clearly(folder, tmp_path):
    from data import FieldError
    from docrec.training.seg_real import parse_id_range, read_folder, segment_folder
    from docrec.training.seg_real_train import RealTrainConfig, train_real

    with pytest.raises(FileNotFoundError, match="no such folder"):
        read_folder(tmp_path / "nowhere")
    bad = _write_folder(tmp_path / "bad", items=(("12", "12"), ("34", "34")))
    (bad / "labels.csv").write_text("path,text\nimages/f_000100.png,12\nimages/f_000101.png,3x\n")
    with pytest.raises(FieldError, match=r"labels.csv line 3.*alphabet"):
        read_folder(bad)
    assert len(read_folder(bad, skip_bad=True, log=lambda s: None)) == 1  # skipped and counted
    lines = (folder / "boxes.jsonl").read_text().splitlines()
    obj = json.loads(lines[0])
    obj["chars"] = obj["chars"][:-1]
    (folder / "boxes.jsonl").write_text("\n".join([json.dumps(obj)] + lines[1:]) + "\n")
    with pytest.raises(FieldError, match=r"boxes.jsonl line 1.*3 boxes for the 4 characters"):
        read_folder(folder)
    nobox = read_folder(folder, boxes=None)
    with pytest.raises(ValueError, match="has no boxes"):
        segment_folder(nobox, with_targets=True, log=lambda s: None)
    with pytest.raises(ValueError, match="no field with an id in 900-901"):
        read_folder(bad, ids=(900, 901), skip_bad=True, log=lambda s: None)
    with pytest.raises(ValueError, match="id range '9-3'"):
        parse_id_range("9-3")
    cfg = RealTrainConfig(stage="global", fields=str(bad), val_fields=str(bad), skip_bad=True, synth_ratio=0.0)
    with pytest.raises(ValueError, match="also training fields"):
        train_real(cfg, work=tmp_path / "w", progress=False, log=lambda s: None)
    with pytest.raises(ValueError, match="stage="):
        RealTrainConfig(stage="pieces", fields="x")
