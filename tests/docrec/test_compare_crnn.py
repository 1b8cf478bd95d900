"""The ``crnn`` baseline of ``docrec compare`` is the bundled ``sdnn-strip``: a conv trunk + BiLSTM
whose training criterion is exactly CTC (checked against ``torch.nn.functional.ctc_loss``)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from docrec.compare.specs import parse_system
from docrec.recognizers.sdnn import WEIGHTS_DIR

pytestmark = pytest.mark.skipif(not (WEIGHTS_DIR / "sdnn-strip.pt").is_file(), reason="bundled sdnn-strip.pt missing")


def test_crnn_alias_names_the_strip_network():
    spec = parse_system("crnn")
    assert (spec.system, spec.alias) == ("sdnn", "crnn")
    assert spec.weights_for("zip") == "sdnn-strip"
    assert spec.weights_for("amount") == "sdnn-strip-real"
    assert spec.weights_for("amount", real=False) == "sdnn-strip"  # generated amounts
    assert parse_system("crnn:sdnn-strip").weights_for("amount") == "sdnn-strip"


def test_sdnn_strip_is_conv_bilstm_trained_with_ctc():
    from lenet.rbf import NONE_ID
    from lenet.strip import StripNet

    from docrec.recognizers.sdnn import SDNNRecognizer
    from docrec.recognizers.sdnn_net import frame_penalties
    from docrec.training.sdnn_train import global_loss

    rec = SDNNRecognizer("sdnn-strip")
    net = rec.sdnn
    assert isinstance(net, StripNet)
    assert any(isinstance(m, nn.Conv2d) for m in net.trunk.modules())
    assert net.lstm.bidirectional and net.lstm.num_layers == 2
    cm = rec.charmodel.config  # CTC's topology: no transition penalties, any change of label is allowed
    assert (cm.min_frames, cm.allow_direct, cm.enter, cm.direct, cm.repeat, cm.none) == (1, True, 0, 0, 0, 0)
    torch.manual_seed(0)
    frames = torch.tensor([21, 17, 12])
    widths = (frames - 1) * 4 + 32
    x = torch.full((3, 1, 32, int(widths.max())), -0.1)
    for b, w in enumerate(widths.tolist()):
        x[b, :, 6:26, 4: w - 4] = torch.rand(1, 20, w - 8) * 1.3 - 0.1
    targets = [[1, 2, 2, 3], [0, 5, 12], [7, 7]]  # repeats need a blank between them, as in CTC
    with torch.no_grad():
        ours = global_loss(net, rec.charmodel, x, frames, targets)
        log_probs = -frame_penalties(net, x, widths)  # (B, T, C): -log softmax
        flat = torch.tensor([c for t in targets for c in t])
        ctc = nn.functional.ctc_loss(log_probs.transpose(0, 1), flat, frames, torch.tensor([len(t) for t in targets]),
                                     blank=NONE_ID, reduction="none")
    assert torch.allclose(log_probs.exp().sum(-1)[0, :21], torch.ones(21), atol=1e-5)
    assert float(ours) == pytest.approx(float(ctc.mean()), rel=1e-4, abs=1e-4)


def test_combo_cache_key_follows_the_sdnn_its_seg_weights_name(tmp_path):
    """Without ``+SDNN`` the combined reader reads with the SDNN its seg weights' settings name
    (``meta["combo"]["sdnn_weights"]``); that file's bytes are part of the cache key, so replacing it
    never reuses the old readings, and naming it explicitly reads the same cache."""
    import shutil

    import torch

    from docrec.compare.runner import cache_path
    from docrec.compare.specs import SpecError, combo_sdnn_weights, parse_folder, weights_file

    sdnn = tmp_path / "my-sdnn.pt"
    shutil.copyfile(weights_file("sdnn"), sdnn)
    blob = torch.load(weights_file("seg-modern"), map_location="cpu", weights_only=True)
    blob["meta"]["combo"] = {**(blob["meta"].get("combo") or {}), "sdnn_weights": str(sdnn)}
    seg = tmp_path / "my-seg.pt"
    torch.save(blob, seg)
    assert combo_sdnn_weights(seg) == str(sdnn)
    (tmp_path / "labels.csv").write_text("path,text\n")
    fields = parse_folder(str(tmp_path), grammar="zip", score="text")
    before = cache_path(tmp_path, parse_system(f"combo:{seg}"), fields)
    explicit = cache_path(tmp_path, parse_system(f"combo:{seg}+{sdnn}"), fields)
    assert before.name.split("-")[-1] == explicit.name.split("-")[-1]  # same key, same readings
    shutil.copyfile(weights_file("sdnn-strip"), sdnn)  # the SDNN is retrained in place
    assert cache_path(tmp_path, parse_system(f"combo:{seg}"), fields) != before
    (tmp_path / "junk.pt").write_bytes(b"not weights")
    with pytest.raises(SpecError, match="junk.pt: not readable as weights"):
        combo_sdnn_weights(tmp_path / "junk.pt")


def test_combo_takes_seg_plus_sdnn_weights(tmp_path):
    """``combo:SEG+SDNN`` names both halves of the combined reader; its cache key covers both files,
    and the pair is refused for the other systems."""
    from docrec.compare.runner import Recognizers, cache_path
    from docrec.compare.specs import SpecError, parse_folder, weights_files

    spec = parse_system("combo:seg-modern+sdnn")
    assert spec.weights_for("zip") == "seg-modern+sdnn"
    assert [p.stem for p in weights_files("seg-modern+sdnn")] == ["seg-modern", "sdnn"]
    (tmp_path / "labels.csv").write_text("path,text\n")
    fields = parse_folder(str(tmp_path), grammar="zip", score="text")
    assert cache_path(tmp_path, spec, fields) != cache_path(tmp_path, parse_system("combo:seg-modern"), fields)
    rec = Recognizers().get(spec, fields)
    assert rec.config.sdnn_weights.endswith("sdnn.pt") and rec.sdnn.temperature != 1.0  # the LeNet-5 SDNN
    with pytest.raises(SpecError, match="for combo only"):
        parse_system("seg:seg-modern+sdnn")
    with pytest.raises(SpecError, match="neither a file nor a bundled name"):
        parse_system("combo:seg-modern+nope")
