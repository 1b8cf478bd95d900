"""lenet.checkpoint: atomic save, weights_only load, clear errors for bad files."""

from __future__ import annotations

import pytest
import torch

from lenet.checkpoint import load_checkpoint, load_model, save_checkpoint
from lenet.models import LeNet4, LeNet5


def test_roundtrip_and_no_temp_files(tmp_path):
    torch.manual_seed(0)
    model = LeNet5()
    path = save_checkpoint(tmp_path / "sub" / "m.pt", model, meta={"note": "x"}, epoch=3)
    assert [p.name for p in path.parent.iterdir()] == ["m.pt"]
    payload = load_checkpoint(path)
    assert payload["arch"] == "lenet5" and payload["epoch"] == 3 and payload["meta"]["note"] == "x"
    back = load_model(path)
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(back(x), model.eval()(x))
    assert load_model(path, num_classes=17).rbf.centres.shape == (17, 84)


def test_missing_corrupt_foreign_and_wrong_arch(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"\[lenet.load_checkpoint\] no checkpoint"):
        load_model(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_model(bad)
    good = save_checkpoint(tmp_path / "good.pt", LeNet5())
    truncated = tmp_path / "trunc.pt"
    truncated.write_bytes(good.read_bytes()[:5000])
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_model(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ValueError, match="not a docrec LeNet checkpoint"):
        load_model(foreign)
    with pytest.raises(ValueError, match="holds a 'lenet5' network, expected 'lenet4'"):
        load_model(good, arch="lenet4")
    with pytest.raises(ValueError, match="only supported for lenet5"):
        load_model(save_checkpoint(tmp_path / "l4.pt", LeNet4()), num_classes=17)


def test_weights_that_do_not_fit_the_architecture(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", LeNet5())
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["c5.weight"] = torch.zeros(10, 16, 5, 5)
    torch.save(payload, path)
    with pytest.raises(ValueError, match="do not fit architecture 'lenet5'"):
        load_model(path)


def test_pickled_code_is_refused(tmp_path):
    """weights_only=True: a checkpoint smuggling an arbitrary object is rejected, not executed."""
    path = tmp_path / "evil.pt"
    torch.save({"format": "docrec-lenet", "obj": _Evil()}, path)
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(path)


class _Evil:
    pass
