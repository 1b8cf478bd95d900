"""SDNN training (docrec.training.sdnn_train): the global criterion (value vs CTC, gradcheck, batch
consistency) and tiny end-to-end runs of both ways with checkpoints and resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from decoders import CharacterModel
from docrec.recognizers.sdnn import SDNNRecognizer
from docrec.training import sdnn_train
from docrec.training.sdnn_train import SDNNTrainConfig, global_loss, train_way1, train_way2


class _Frames(torch.nn.Module):
    """Stand-in SDNN returning fixed (trainable) frame penalties: (B, 1, 32, W) -> (B, T, C)."""

    def __init__(self, pen):
        super().__init__()
        self.pen = pen

    def forward(self, x):
        return self.pen


def test_global_loss_is_ctc_for_the_default_character_model():
    """With the CTC-like character model the discriminative forward criterion equals CTC on the
    normalised scores softmax(-penalties), 'none' as the blank (docs/paper.md Sec. VI)."""
    torch.manual_seed(0)
    pen = torch.rand(2, 9, 17, dtype=torch.float64) * 5
    targets = [[3, 3, 1], [7, 12]]
    frames = torch.tensor([9, 6])
    loss = global_loss(_Frames(pen), CharacterModel(), None, frames, targets)
    lp = F.log_softmax(-pen, dim=-1).transpose(0, 1)  # (T, B, C)
    tgt = torch.tensor([3, 3, 1, 7, 12])
    ref = F.ctc_loss(lp, tgt, frames, torch.tensor([3, 2]), blank=16, reduction="sum") / 2
    assert float(loss) == pytest.approx(float(ref), rel=1e-9)


def test_global_loss_gradcheck():
    from decoders import Alphabet

    cm = CharacterModel(Alphabet(symbols=("0", "1", "2", "<none>"), none_symbol="<none>"))
    torch.manual_seed(1)
    pen = (torch.rand(2, 4, 4, dtype=torch.float64) * 3).requires_grad_(True)
    frames = torch.tensor([4, 3])
    torch.autograd.gradcheck(lambda p: global_loss(_Frames(p), cm, None, frames, [[2, 1], [1]]), (pen,),
                             fast_mode=True)


def test_global_loss_batch_consistency():
    torch.manual_seed(2)
    pen = torch.rand(3, 7, 17, dtype=torch.float64) * 4
    frames = torch.tensor([7, 5, 6])
    targets = [[1, 2], [4], [0, 0, 9]]
    cm = CharacterModel()
    batched = global_loss(_Frames(pen), cm, None, frames, targets)
    singles = [global_loss(_Frames(pen[b: b + 1, : int(frames[b])]), cm, None, frames[b: b + 1], [targets[b]])
               for b in range(3)]
    assert float(batched) == pytest.approx(float(sum(singles)) / 3, rel=1e-9)


def test_tiny_runs_of_both_ways_checkpoint_and_resume(tmp_path, small_pools):
    cfg = SDNNTrainConfig(way=1, epochs=1, fields=40, val_fields=10, batch_size=32, seed=3)
    out1 = train_way1(cfg, tmp_path, bar=False, log=lambda *a: None)
    assert len(out1["history"]) == 2 and (tmp_path / "way1.ckpt").is_file()
    first = torch.load(tmp_path / "way1.ckpt", weights_only=True)
    cfg.epochs = 2
    out2 = train_way1(cfg, tmp_path, resume=True, bar=False, log=lambda *a: None)
    assert [h["epoch"] for h in out2["history"]] == [0, 1, 2]
    assert json.loads(first["history"])[1] == out2["history"][1]  # epoch 1 was not redone
    rec = SDNNRecognizer(tmp_path / "sdnn-way1.pt")
    from data.synth import synthesize

    f = synthesize("zip", 2, split="train", seed=0, pool=small_pools[1])
    assert len(rec.recognize([x.image for x in f], grammar="zip")) == 2

    cfg2 = SDNNTrainConfig(way=2, epochs=1, steps=2, batch_size=2, init=str(tmp_path / "sdnn-way1.pt"), seed=3)
    before = torch.load(tmp_path / "sdnn-way1.pt", weights_only=True)["model"]
    out3 = train_way2(cfg2, tmp_path, bar=False, log=lambda *a: None, evaluate=lambda net: 0.5)
    assert (tmp_path / "way2.ckpt").is_file() and (tmp_path / "sdnn-way2.pt").is_file()
    assert np.isfinite(out3["history"][-1]["train_loss"])
    after = torch.load(tmp_path / "way2.ckpt", weights_only=True)["model"]
    assert not torch.equal(before["c1.weight"], after["c1.weight"])  # the global loss moved LeNet-5


def test_way2_needs_init(tmp_path):
    with pytest.raises(ValueError, match="way-1 weights"):
        train_way2(SDNNTrainConfig(way=2), tmp_path)


def test_way1_selects_by_validation_string_accuracy(tmp_path, small_pools):
    """With ``evaluate`` way 1 records the validation string accuracy every epoch and keeps the epoch
    where it is highest (not the lowest window error)."""
    scores = iter([0.1, 0.6, 0.3])  # epochs 0, 1, 2
    cfg = SDNNTrainConfig(way=1, epochs=2, fields=30, val_fields=8, batch_size=32, seed=4)
    out = train_way1(cfg, tmp_path, bar=False, log=lambda *a: None, evaluate=lambda net: next(scores))
    assert [h["val_string_accuracy"] for h in out["history"]] == [0.1, 0.6, 0.3]
    assert out["best_epoch"] == 1 and out["best_val_string_accuracy"] == 0.6
    meta = torch.load(tmp_path / "sdnn-way1.pt", weights_only=True)["meta"]
    assert meta["epoch"] == 1 and meta["val_string_accuracy"] == 0.6


def test_window_loss_is_map_for_lenet5_and_cross_entropy_for_modern():
    from lenet.losses import map_loss
    from lenet.models import LeNet5, ModernLeNet

    torch.manual_seed(5)
    x = torch.randn(6, 1, 32, 32)
    y = torch.tensor([0, 3, 16, 9, 12, 1])
    lenet = LeNet5(17)
    modern = ModernLeNet(17).eval()
    with torch.no_grad():
        assert float(sdnn_train.window_loss(lenet, x, y)) == pytest.approx(float(map_loss(lenet(x), y)))
        logits = modern.head(modern.body(x))
        assert float(sdnn_train.window_loss(modern, x, y)) == pytest.approx(float(F.cross_entropy(logits, y)), rel=1e-5)


def test_modern_way1_trains_in_train_mode_records_arch_and_reads(tmp_path, small_pools, monkeypatch):
    """``arch="modern"``: the weights file records the architecture, the recogniser loads it (windowed
    SDNN, same frames as the classifier on each window), and every training step runs in train mode
    even though the validation read in between switches the network to eval mode."""
    from lenet.models import ModernLeNet
    from lenet.sdnn import WindowedSDNN
    from docrec.recognizers.sdnn_net import load_weights

    modes = []
    real_loss = sdnn_train.window_loss

    def spy(net, x, y):
        modes.append(net.training)
        return real_loss(net, x, y)

    monkeypatch.setattr(sdnn_train, "window_loss", spy)

    def evaluate(net):
        SDNNRecognizer(model=net)  # switches net to eval mode
        return 0.5

    cfg = SDNNTrainConfig(way=1, epochs=2, fields=30, val_fields=8, batch_size=32, seed=6, arch="modern")
    train_way1(cfg, tmp_path, bar=False, log=lambda *a: None, evaluate=evaluate)
    assert modes and all(modes)
    net, _, meta = load_weights(tmp_path / "sdnn-way1.pt")
    assert isinstance(net, ModernLeNet) and meta["arch"] == "modern"
    rec = SDNNRecognizer(tmp_path / "sdnn-way1.pt")
    assert isinstance(rec.sdnn, WindowedSDNN)
    from data.synth import synthesize

    fields = synthesize("zip", 2, split="train", seed=1, pool=small_pools[1])
    out = rec.recognize([f.image for f in fields], grammar="zip")
    assert all(len(r.text) == 5 and 0.0 <= r.confidence <= 1.0 for r in out)


def test_sdnn_weights_with_unknown_or_mismatched_arch_are_clear_errors(tmp_path):
    from lenet.models import ModernLeNet
    from docrec.recognizers.sdnn_net import load_weights, save_weights

    save_weights(tmp_path / "m.pt", ModernLeNet(17), {}, {})
    blob = torch.load(tmp_path / "m.pt", weights_only=True)
    blob["meta"]["arch"] = "lenet5"  # a modern state labelled LeNet-5
    torch.save(blob, tmp_path / "wrong.pt")
    with pytest.raises(ValueError, match="17-class lenet5"):
        load_weights(tmp_path / "wrong.pt")
    blob["meta"]["arch"] = "resnet"
    torch.save(blob, tmp_path / "unknown.pt")
    with pytest.raises(ValueError, match="unknown classifier 'resnet'"):
        load_weights(tmp_path / "unknown.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read"):
        load_weights(tmp_path / "junk.pt")
