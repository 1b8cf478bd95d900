"""The whole-strip SDNN network in the recogniser: training (docrec.training.strip_train), weights
files, the global criterion on padded batches, the CLI's argument checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from decoders import CharacterModel
from docrec.recognizers.sdnn import SDNNRecognizer
from docrec.recognizers.sdnn_net import load_weights, new_strip_net, save_weights
from docrec.training import strip_train
from docrec.training.sdnn_train import global_loss, strips_batch
from docrec.training.strip_train import StripTrainConfig, train_strip
from lenet.strip import StripNet

TINY = dict(channels=(4, 4, 8), hidden=4, layers=1, dropout=0.0)


def test_global_loss_on_a_padded_batch_equals_each_field_alone(small_pools):
    from data.synth import field_rng

    torch.manual_seed(0)
    net = StripNet(**TINY).double().eval()
    fields = [strip_train.training_field(i, small_pools[0], field_rng(5, i)) for i in range(4)]
    x, frames, _ = strips_batch([f.image for f in fields])
    assert len(set(frames.tolist())) > 1  # the batch really is padded
    cm = CharacterModel()
    targets = [cm.alphabet.encode(f.text) for f in fields]
    batched = global_loss(net, cm, x.double(), frames, targets).detach()
    singles = []
    for f, t in zip(fields, targets):
        xs, fs, _ = strips_batch([f.image])
        singles.append(float(global_loss(net, cm, xs.double(), fs, [t]).detach()))
    assert float(batched) == pytest.approx(sum(singles) / 4, rel=1e-9)


def test_field_batches_render_each_field_once_in_width_order(small_pools):
    cfg = StripTrainConfig(batch_size=3, seed=1)
    batches = strip_train._FieldBatches(cfg, small_pools[0])
    seen = [batches(s) for s in range(4)]
    texts = [(f.text, f.image.shape) for b in seen for f in b]
    assert len(seen) == 4 and all(len(b) == 3 for b in seen)
    assert len(texts) == 12
    ratios = sorted(f.image.shape[1] / f.image.shape[0] for b in seen for f in b)
    for b in seen:  # each batch is one contiguous run of the sorted aspect ratios
        r = sorted(f.image.shape[1] / f.image.shape[0] for f in b)
        i = ratios.index(r[0])
        assert ratios[i: i + 3] == r
    again = strip_train._FieldBatches(cfg, small_pools[0])
    assert [f.text for f in again(2)] == [f.text for f in seen[2]]  # reproducible from the step alone
    kinds = {strip_train.KINDS[i % 3] for i in range(12)}
    assert kinds == {"zip", "digits", "amount"}


def test_field_jitter_and_scale_reach_the_training_fields(small_pools):
    """``field_jitter`` / ``field_scale`` move the characters of the strip net's training fields off
    one line: their boxes' tops spread further than with the generator's defaults."""
    from data.synth import field_rng

    def top_spread(**kw) -> float:
        spreads = []
        for i in range(24):
            f = strip_train.training_field(i, small_pools[0], field_rng(5, i), **kw)
            tops = [b[1] / f.image.shape[0] for b, c in zip(f.boxes, f.text) if c.isdigit()]
            if len(tops) > 2:
                spreads.append(np.std(tops))
        return float(np.mean(spreads))

    flat = top_spread(jitter=0.0, scale=(1.0, 1.0))
    assert top_spread(jitter=4.0, scale=(0.75, 1.3)) > flat + 0.02
    with pytest.raises(ValueError, match="jitter"):
        StripTrainConfig(field_jitter=40.0).validate()


def test_tiny_strip_run_trains_checkpoints_resumes_and_reads(tmp_path, small_pools):
    cfg = StripTrainConfig(epochs=1, steps=2, batch_size=4, net=TINY, threads=1, seed=2)
    scores = iter([0.25, 0.5])
    out1 = train_strip(cfg, tmp_path, bar=False, log=lambda *a: None, evaluate=lambda net: next(scores))
    assert [h["epoch"] for h in out1["history"]] == [1]
    first = torch.load(tmp_path / "strip.ckpt", weights_only=True)
    torch.manual_seed(cfg.seed)
    fresh = new_strip_net(TINY)
    assert not torch.equal(fresh.head.weight, first["model"]["head.weight"])  # the loss moved the net
    cfg.epochs = 2
    out2 = train_strip(cfg, tmp_path, resume=True, bar=False, log=lambda *a: None, evaluate=lambda net: next(scores))
    assert [h["epoch"] for h in out2["history"]] == [1, 2]
    assert json.loads(first["history"])[0] == out2["history"][0]  # epoch 1 was not redone
    assert out2["best_val_string_accuracy"] == 0.5
    net, _, meta = load_weights(tmp_path / "sdnn-strip.pt")
    assert isinstance(net, StripNet) and meta["arch"] == "strip" and meta["epoch"] == 2
    rec = SDNNRecognizer(tmp_path / "sdnn-strip.pt")
    assert rec.sdnn is rec.lenet
    from data.synth import synthesize

    fields = synthesize("zip", 3, split="train", seed=0, pool=small_pools[1])
    out = rec.recognize([f.image for f in fields], grammar="zip")
    assert all(len(r.text) == 5 and 0.0 <= r.confidence <= 1.0 for r in out)
    # one field at a time reads the same as the batch (each strip is read to its own width)
    single = [SDNNRecognizer(tmp_path / "sdnn-strip.pt", batch_size=1).recognize([f.image], grammar="zip")[0]
              for f in fields]
    assert [r.text for r in single] == [r.text for r in out]
    assert [r.confidence for r in single] == pytest.approx([r.confidence for r in out], abs=1e-4)


def test_strip_weights_round_trip_and_mislabelled_files_fail_clearly(tmp_path):
    net = new_strip_net(TINY)
    save_weights(tmp_path / "s.pt", net, {}, {"note": "x"})
    again, _, meta = load_weights(tmp_path / "s.pt")
    assert meta["arch_config"]["channels"] == [4, 4, 8] and meta["note"] == "x"
    for k, v in net.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k
    blob = torch.load(tmp_path / "s.pt", weights_only=True)
    blob["meta"]["arch_config"] = {"hidden": 9}  # a config the stored state does not fit
    torch.save(blob, tmp_path / "wrong.pt")
    with pytest.raises(ValueError, match="17-class strip"):
        load_weights(tmp_path / "wrong.pt")
    blob["meta"]["arch_config"] = {"depth": 3}
    torch.save(blob, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="bad StripNet config"):
        load_weights(tmp_path / "bad.pt")


@pytest.mark.parametrize("argv", [["--arch", "strip", "--way", "1"], ["--arch", "modern"], []])
def test_cli_way_and_strip_arch_are_exclusive(tmp_path, argv, capsys):
    from docrec.cli import main

    assert main(["train", "sdnn", "--out", str(tmp_path), *argv]) == 2
    assert "--way" in capsys.readouterr().err


def test_init_fine_tunes_a_strip_net_and_refuses_other_weights(tmp_path, small_pools):
    save_weights(tmp_path / "start.pt", new_strip_net(TINY), {}, {})
    cfg = StripTrainConfig(epochs=1, steps=1, batch_size=2, threads=1, init=str(tmp_path / "start.pt"), lr=1e-12)
    train_strip(cfg, tmp_path / "run", bar=False, log=lambda *a: None)
    start = torch.load(tmp_path / "start.pt", weights_only=True)["model"]
    after = torch.load(tmp_path / "run" / "sdnn-strip.pt", weights_only=True)["model"]
    assert after["head.weight"].shape == start["head.weight"].shape  # the TINY net, not the default config
    assert torch.allclose(after["head.weight"], start["head.weight"], atol=1e-6)  # lr ~0: the start weights
    from lenet.models import ModernLeNet

    save_weights(tmp_path / "modern.pt", ModernLeNet(17), {}, {})
    with pytest.raises(ValueError, match="not a StripNet"):
        train_strip(StripTrainConfig(epochs=1, steps=1, init=str(tmp_path / "modern.pt")), tmp_path / "x",
                    bar=False, log=lambda *a: None)
