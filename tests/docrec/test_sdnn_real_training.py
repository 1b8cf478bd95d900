"""Training SDNN weights on real labelled fields (docrec.training.sdnn_real, field_augment,
data.field_digits) and ``docrec train sdnn --real``. Fixtures: the bundled sample fields
(MNIST test digits rendered by ``docrec synth``), copied into a tmp folder; no ../shared needed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from data.field_digits import cut_digits, field_digit_pool, mnist_geometry
from docrec.training.field_augment import AugmentConfig, augment_field
from docrec.training.sdnn_real import RealSDNNConfig, field_strip, pad_strips, train_sdnn_real

SAMPLES = Path(__file__).resolve().parents[2] / "docrec" / "samples"


def _samples() -> list[tuple[np.ndarray, str, list]]:
    from data.folder import read_image

    meta = [json.loads(line) for line in (SAMPLES / "meta.jsonl").read_text().splitlines() if line.strip()]
    out = []
    for m in meta:
        boxes = [(c, x0, y0, x1 - x0, y1 - y0) for c, (x0, y0, x1, y1) in zip(m["text"], m["boxes"])]
        out.append((read_image(SAMPLES / m["path"]), m["text"], boxes))
    return out


@pytest.fixture()
def field_dir(tmp_path) -> Path:
    d = tmp_path / "fields"
    d.mkdir()
    rows = ["path,text"]
    for img, text, _ in _samples():
        if "-" in text:
            continue
        name = f"f_{len(rows):06d}.png"
        import cv2

        cv2.imwrite(str(d / name), img)
        rows.append(f"{name},{text}")
    (d / "labels.csv").write_text("\n".join(rows) + "\n")
    return d


def test_augment_is_seeded_keeps_uint8_and_changes_the_image():
    img, _, _ = _samples()[0]
    a = augment_field(img, np.random.default_rng(3))
    b = augment_field(img, np.random.default_rng(3))
    c = augment_field(img, np.random.default_rng(4))
    assert a.dtype == np.uint8 and a.ndim == 2
    assert np.array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)
    # the ink survives: the augmented field still normalises to a strip of the same reading length
    assert field_strip(a) is not None


def test_augment_refuses_bad_input_and_bad_ranges():
    with pytest.raises(ValueError, match="augment_field"):
        augment_field(np.zeros((4, 4, 3), np.uint8), np.random.default_rng(0))
    with pytest.raises(ValueError, match="scale range"):
        AugmentConfig(scale=(1.2, 0.8)).validate()
    with pytest.raises(ValueError, match="p_jpeg"):
        AugmentConfig(p_jpeg=1.5).validate()


def test_cut_digits_gives_mnist_geometry_and_refuses_boxes_outside():
    img, text, boxes = _samples()[0]
    digits = cut_digits(img, boxes)
    assert [d for _, d in digits] == [int(c) for c in text]
    for im, _ in digits:
        assert im.shape == (28, 28) and im.dtype == np.uint8
        rows = np.flatnonzero((im > 12).any(axis=1))
        cols = np.flatnonzero((im > 12).any(axis=0))
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21  # MNIST's 20-px box
    assert mnist_geometry(np.zeros((10, 10), np.float32)) is None
    with pytest.raises(ValueError, match="outside"):
        cut_digits(img, [("5", img.shape[1] - 3, 0, 10, 10)])


def test_field_digit_pool_needs_every_digit():
    samples = _samples()
    pool = field_digit_pool((img, boxes) for img, _, boxes in samples)
    assert pool.images.shape[1:] == (28, 28)
    assert sorted(set(pool.labels.tolist())) == list(range(10))
    with pytest.raises(ValueError, match="digit"):
        field_digit_pool([(samples[0][0], samples[0][2])])  # one field: digits missing


def test_real_training_runs_lowers_its_loss_resumes_and_writes_readable_weights(field_dir, tmp_path):
    from data import read_fields
    from docrec.recognizers.sdnn import SDNNRecognizer

    fs = read_fields(field_dir, boxes=None)
    fields = [(fs.image(i), fs[i].text) for i in range(len(fs))]
    cfg = RealSDNNConfig(init="sdnn-strip", epochs=3, batch_size=len(fields), synth_share=0.0, lr=1e-3,
                         augment=False, marks=False, threads=1)
    out = tmp_path / "run"
    res = train_sdnn_real(cfg, fields, out, log=lambda *_: None)
    losses = [h["train_loss"] for h in res["history"]]
    assert len(losses) == 3 and all(np.isfinite(losses))
    assert losses[-1] < losses[0]
    assert (out / "sdnn-real.pt").is_file() and (out / "real.ckpt").is_file()
    rec = SDNNRecognizer(str(out / "sdnn-real-last.pt"))
    assert len(rec.recognize([fields[0][0]], grammar="digits")) == 1
    cfg.epochs = 4
    res2 = train_sdnn_real(cfg, fields, out, resume=True, log=lambda *_: None)
    assert [h["epoch"] for h in res2["history"]] == [1, 2, 3, 4]


def test_weight_average_is_the_exponential_average_of_the_steps():
    from docrec.training.sdnn_real import weight_average

    assert weight_average(torch.nn.Linear(2, 2), 0.0) is None
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    avg = weight_average(net, 0.9)
    snaps = []
    for _ in range(3):  # a "step": new weights, new batch-norm statistics
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p))
        net.train()
        net(torch.randn(8, 3))
        avg.update_parameters(net)
        snaps.append({k: v.detach().clone().double() for k, v in net.state_dict().items()})
    for name, got in avg.module.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        want = snaps[0][name]  # the first update copies, every later one moves 1 - decay of the way
        for s in snaps[1:]:
            want = 0.9 * want + 0.1 * s[name]
        assert torch.allclose(got.double(), want, atol=1e-6), name


def test_real_training_with_an_average_writes_and_resumes_it(field_dir, tmp_path):
    from data import read_fields
    from docrec.recognizers.sdnn_net import load_weights

    fs = read_fields(field_dir, boxes=None)
    fields = [(fs.image(i), fs[i].text) for i in range(len(fs))]
    cfg = RealSDNNConfig(init="sdnn-strip", epochs=2, batch_size=len(fields), synth_share=0.0, lr=1e-3,
                         augment=False, marks=False, threads=1, ema=0.5)
    out = tmp_path / "run"
    train_sdnn_real(cfg, fields, out, log=lambda *_: None)
    ck = torch.load(out / "real.ckpt", weights_only=True)
    written, _, _ = load_weights(out / "sdnn-real-last.pt")
    raw = ck["model"]
    avg = {k[len("module."):]: v for k, v in ck["average"].items() if k.startswith("module.")}
    some = next(k for k, v in raw.items() if v.is_floating_point() and "weight" in k)
    assert torch.equal(written.state_dict()[some], avg[some])  # the average is what is written...
    assert not torch.equal(raw[some], avg[some])  # ...and it is not the raw weights
    cfg.epochs = 3
    res = train_sdnn_real(cfg, fields, out, resume=True, log=lambda *_: None)
    assert [h["epoch"] for h in res["history"]] == [1, 2, 3]
    plain = tmp_path / "plain"  # a run started without an average cannot be resumed with one
    train_sdnn_real(RealSDNNConfig(**{**cfg.__dict__, "ema": 0.0, "epochs": 1}), fields, plain, log=lambda *_: None)
    with pytest.raises(ValueError, match="no weight average"):
        train_sdnn_real(RealSDNNConfig(**{**cfg.__dict__, "epochs": 2}), fields, plain, resume=True,
                        log=lambda *_: None)
    with pytest.raises(ValueError, match="ema"):
        RealSDNNConfig(ema=1.0).validate()


def test_real_training_refuses_bad_settings(tmp_path):
    with pytest.raises(ValueError, match="synth_share"):
        RealSDNNConfig(synth_share=1.0).validate()
    with pytest.raises(ValueError, match="no real training fields"):
        train_sdnn_real(RealSDNNConfig(epochs=1), [], tmp_path)


def test_pad_strips_counts_frames():
    strips = [np.zeros((32, 32), np.float32), np.zeros((32, 48), np.float32)]
    x, frames = pad_strips(strips)
    assert tuple(x.shape) == (2, 1, 32, 48) and frames.tolist() == [1, 5]


def test_cli_trains_on_a_folder_and_names_bad_flags(field_dir, tmp_path, capsys):
    from docrec.cli import main

    out = tmp_path / "cli"
    rc = main(["train", "sdnn", "--real", str(field_dir), "--epochs", "1", "--batch_size", "4",
               "--synth_share", "0", "--threads", "1", "--out", str(out), "--val_real", str(field_dir),
               "--val_grammar", "digits"])
    assert rc == 0 and (out / "sdnn-real.pt").is_file()
    assert main(["train", "sdnn", "--real", str(field_dir), "--real_ids", "9-3", "--out", str(out)]) == 2
    assert "--real_ids" in capsys.readouterr().err
    assert main(["train", "sdnn", "--real", str(field_dir), "--real_ids", "900000-900001", "--out", str(out)]) == 2
    assert "no fields" in capsys.readouterr().err
    assert main(["train", "sdnn", "--way", "2", "--real", str(field_dir), "--out", str(out)]) == 2


def test_realistic_amounts_add_the_generators_amounts_to_the_synthetic_kinds(mnist_train):
    """``synth="realistic-amounts"`` draws US/European amounts (``$``, ``*`` fill, cents) in turn with
    the cheque amounts, zip codes and digit strings of ``"realistic"``; unknown generators are refused."""
    import re

    from data.synth import DigitPool
    from data.texts import AMOUNT_REGEX, CHEQUE_REGEX
    from docrec.training.sdnn_real import REALISTIC_KINDS, realistic_field

    pool = DigitPool(mnist_train[0][:2000], mnist_train[1][:2000], "train")
    kinds = REALISTIC_KINDS["realistic-amounts"]
    assert set(REALISTIC_KINDS["realistic"]) < set(kinds) and "amount" in kinds
    for i, kind in enumerate(kinds):
        f = realistic_field(i, pool, np.random.default_rng(i), synth="realistic-amounts")
        assert f.image.dtype == np.uint8 and f.image.ndim == 2
        if kind == "amount":
            assert re.fullmatch(AMOUNT_REGEX, f.text), f.text
        elif kind == "cheque":
            assert re.fullmatch(CHEQUE_REGEX, f.text), f.text
        else:  # zip codes (ddddd or ddddd-dddd) and digit strings
            assert re.fullmatch(r"\d+(-\d{4})?", f.text), f.text
    plain = [realistic_field(i, pool, np.random.default_rng(i)).text for i in range(8)]
    assert not any(c in t for t in plain for c in "$*")  # no leading marks without the option
    with pytest.raises(ValueError, match="synth"):
        RealSDNNConfig(synth="realistic-us").validate()
