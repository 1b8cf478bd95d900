"""The seg recogniser's piece classifiers: LeNet-5 and the modern CNN, built, saved, loaded."""

import numpy as np
import pytest
import torch

from docrec.recognizers.seg_model import (NUM_CLASSES, arch_meta, freeze_batch_norm, load_piece_model,
                                          modern_with_classes, new_piece_model)
from lenet.checkpoint import save_checkpoint
from lenet.models import LeNet5, ModernLeNet


def _x(n=6, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).uniform(-0.1, 1.175, (n, 1, 32, 32)).astype(np.float32))


def test_modern_from_mnist_checkpoint_keeps_its_digit_outputs(tmp_path):
    torch.manual_seed(1)
    mnist = ModernLeNet(10).eval()
    path = tmp_path / "modern.pt"
    save_checkpoint(path, mnist)
    model = new_piece_model("modern", path).eval()
    assert isinstance(model, ModernLeNet) and model.num_classes == NUM_CLASSES
    x = _x()
    with torch.no_grad():
        logits10 = mnist.head(mnist.body(x))
        logits17 = model.head(model.body(x))
    torch.testing.assert_close(logits17[:, :10], logits10)
    # new classes exist and have their own weights
    assert not torch.equal(model.head.weight[10:], torch.zeros_like(model.head.weight[10:]))


def test_piece_weights_round_trip_both_architectures(tmp_path):
    for arch in ("lenet5", "modern"):
        model = new_piece_model(arch, None, seed=3).eval()
        path = tmp_path / f"{arch}.pt"
        torch.save({"model": model.state_dict(), "meta": {**arch_meta(model), "temperature": 2.0}}, path)
        loaded, meta = load_piece_model(path)
        assert meta["arch"] == arch and meta["temperature"] == 2.0
        assert not loaded.training
        x = _x()
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), model(x))
        # a stage checkpoint (arch at the top level) continues as the same architecture
        ckpt = tmp_path / f"{arch}-stage.pt"
        torch.save({"model": model.state_dict(), "history": [], "config": {"epochs": 1}, **arch_meta(model)}, ckpt)
        again = new_piece_model(arch, ckpt).eval()
        with torch.no_grad():
            torch.testing.assert_close(again(x), model(x))


def test_piece_model_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="unknown piece classifier"):
        new_piece_model("resnet")
    lenet = tmp_path / "lenet.pt"
    torch.save({"model": LeNet5(17).state_dict(), "meta": {}}, lenet)
    with pytest.raises(ValueError, match="holds a lenet5 network, not modern"):
        new_piece_model("modern", lenet)
    mislabelled = tmp_path / "mislabelled.pt"
    torch.save({"model": LeNet5(17).state_dict(), "meta": {"arch": "modern"}}, mislabelled)
    with pytest.raises(ValueError, match="not a 17-class modern state dict"):
        load_piece_model(mislabelled)
    foreign = tmp_path / "foreign.pt"
    torch.save({"model": {}, "meta": {"arch": "vit"}}, foreign)
    with pytest.raises(ValueError, match="unknown piece classifier 'vit'"):
        load_piece_model(foreign)
    with pytest.raises(FileNotFoundError, match="no weights"):
        load_piece_model(tmp_path / "absent.pt")
    with pytest.raises(ValueError, match="shape"):
        modern_with_classes(ModernLeNet(10, config=None).state_dict(), {"channels": [16, 32, 32]})


def test_recognizer_runs_the_modern_classifier_with_batch_consistency(tmp_path, mnist_dir):
    from data.synth import SynthConfig, field_rng, synthesize_one
    from docrec.recognizers.seg import SegmentationRecognizer
    from docrec.training.seg_data import train_pools

    model = new_piece_model("modern", None, seed=0).eval()
    path = tmp_path / "seg-modern.pt"
    torch.save({"model": model.state_dict(), "meta": arch_meta(model)}, path)
    rec = SegmentationRecognizer(weights=path)
    assert isinstance(rec.model, ModernLeNet)
    _, pool = train_pools()
    images = [synthesize_one("zip", pool, field_rng(5, i), SynthConfig()).image for i in range(3)]
    segs = rec.segment(images)
    together = rec.piece_penalties(segs)
    for s, pen in zip(segs, together):
        alone = rec.piece_penalties([s])[0]
        assert pen.shape == (s.num_arcs, NUM_CLASSES)
        torch.testing.assert_close(pen, alone, rtol=1e-5, atol=1e-5)
    out = rec.recognize(images, grammar=None)
    assert len(out) == 3 and all(0.0 <= r.confidence <= 1.0 for r in out)


def test_freeze_batch_norm_keeps_running_statistics():
    model = ModernLeNet(NUM_CLASSES)
    freeze_batch_norm(model.train())
    before = [m.running_mean.clone() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    model(_x(8))
    after = [m.running_mean for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(torch.equal(a, b) for a, b in zip(before, after))
    assert any(isinstance(m, torch.nn.Dropout) and m.training for m in model.modules())


def test_train_seg_cli_picks_the_architecture(tmp_path):
    from docrec.cli import build_parser
    from docrec.commands.train_seg import _initial_model, checkpoint_arch, piece_model_from

    parser = build_parser()
    args = parser.parse_args(["train", "seg", "local", "--arch", "modern", "--work", str(tmp_path)])
    assert args.arch == "modern"
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "seg", "local", "--arch", "vgg"])
    model, origin = _initial_model(args)  # the bundled MNIST modern CNN, widened to 17 classes
    assert isinstance(model, ModernLeNet) and model.num_classes == NUM_CLASSES and origin.endswith("modern.pt")
    # a later stage continues with the architecture its checkpoint records, whatever --arch says
    ckpt = tmp_path / "local.pt"
    torch.save({"model": model.state_dict(), "history": [], "config": {}, **arch_meta(model)}, ckpt)
    assert checkpoint_arch(ckpt) == "modern"
    assert isinstance(piece_model_from(ckpt), ModernLeNet)
    later = parser.parse_args(["train", "seg", "global", "--init", str(ckpt)])
    assert later.arch == "lenet5" and isinstance(_initial_model(later)[0], ModernLeNet)
    old = tmp_path / "old.pt"
    torch.save({"model": LeNet5(17).state_dict(), "history": []}, old)  # written before arch was recorded
    assert checkpoint_arch(old) == "lenet5" and isinstance(piece_model_from(old), LeNet5)


def test_export_card_commands_rebuilt_from_stage_records(tmp_path):
    import json

    from docrec.commands.train_seg import stage_commands

    (tmp_path / "pieces.json").write_text(json.dumps({"train": {"fields": 20000}, "val": {"fields": 800}}))
    (tmp_path / "local.json").write_text(json.dumps({"config": {"epochs": 4, "lr": 1e-3, "distort": 0.5}}))
    (tmp_path / "calibration.json").write_text(json.dumps({"fields": 400, "temperature": 1.0}))
    ckpt = tmp_path / "local.pt"
    cmds = stage_commands(tmp_path, ckpt, "modern", False, {})
    w = f"--work {tmp_path}"
    assert cmds == [f"docrec train seg pieces {w} --fields 20000 --val-fields 800",
                    f"docrec train seg local {w} --arch modern --epochs 4 --lr 0.001",
                    f"docrec train seg calibrate {w} --checkpoint {ckpt} --val-fields 400",
                    f"docrec train seg export {w} --checkpoint {ckpt}"]
    full = {"config": {"criterion": "viterbi", "fields": 4000, "val_fields": 300, "epochs": 3}}
    cmds = stage_commands(tmp_path, tmp_path / "global-forward.pt", "lenet5", True, full)
    assert cmds[2] == f"docrec train seg global {w} --criterion viterbi --fields 4000"
    assert cmds[-1] == f"docrec train seg export {w}"


def test_bundled_seg_weights_by_name():
    from docrec.recognizers.seg import load_seg_weights

    model, meta = load_seg_weights("seg-modern")
    assert isinstance(model, ModernLeNet) and meta["arch"] == "modern" and meta["temperature"] > 0
    model, meta = load_seg_weights("seg-lenet5")
    assert isinstance(model, LeNet5) and meta["arch"] == "lenet5"
    with pytest.raises(FileNotFoundError, match="seg-resnet. is neither bundled seg weights"):
        load_seg_weights("seg-resnet")
