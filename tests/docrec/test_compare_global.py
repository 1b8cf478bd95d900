"""``docrec compare global``: the Sec. IX table's rows, pairing and statuses."""

from __future__ import annotations

import pytest

from docrec.compare import global_table as gt


def _doc(right_by_label: dict[str, list[int]], sets=("zip-normal", "orand-val")) -> dict:
    return {"sets": [{"name": s} for s in sets],
            "results": {s: {lab: {"right": r, "correct": sum(r), "fields": len(r)} for lab, r in right_by_label.items()}
                        for s in sets}}


def test_rows_without_weights_are_not_available(tmp_path):
    rows = {r.label: r for r in gt.rows(tmp_path)}
    assert rows["m-fwd"].weights is None and rows["m-vit"].weights is None  # nothing trained in tmp_path
    assert rows["l5-local"].weights is None and rows["m-local"].weights == "seg-modern"
    (tmp_path / "global-forward.pt").write_bytes(b"x")
    (tmp_path / "global-forward.json").write_text(
        '{"history": [{"epoch": 0, "val_string_accuracy": 0.7}, {"epoch": 1, "val_string_accuracy": 0.72}, '
        '{"epoch": 2, "val_string_accuracy": 0.71}]}')
    fwd = gt.rows(tmp_path)[3]
    assert fwd.weights == str(tmp_path / "global-forward.pt") and fwd.history == [0.7, 0.72, 0.71]
    table = gt.build_table([fwd], None, {}, real_set=None)
    assert "| 70.0 / 72.0 / 71.0 (1) |" in gt.render(table)


def test_global_rows_are_paired_with_their_local_row(tmp_path):
    local = [1, 1, 1, 0, 0, 1, 0, 1, 1, 1]   # 7 right: error 30%
    glob = [1, 1, 1, 1, 1, 1, 0, 1, 0, 1]    # 8 right: error 20%; 2 only global, 1 only local
    rows = [r for r in gt.rows(tmp_path) if r.label in ("m-local", "m-fwd", "r-local", "r-joint")]
    rows[1].weights = "runs/x.pt"
    doc = _doc({"m-local": local, "m-fwd": glob, "r-joint": glob})
    recorded = {"fields": 10, "accuracy": {"local": 0.6}}
    table = gt.build_table(rows, doc, recorded, real_set="orand-val")
    by = {r["label"]: r for r in table["rows"]}
    cell = by["m-fwd"]["cells"]["zip-normal"]
    assert cell["error"] == pytest.approx(0.2)
    assert cell["vs_local"]["change"] == pytest.approx(-0.1)  # the error fell by 10 points
    assert (cell["vs_local"]["only_a"], cell["vs_local"]["only_b"]) == (1, 2)
    assert cell["vs_local"]["mcnemar_p"] == pytest.approx(1.0)
    assert "vs_local" not in by["m-local"]["cells"]["zip-normal"]
    # a recorded number fills the real column only, with a Wilson interval and no paired test
    assert by["r-local"]["status"] == "recorded"
    assert set(by["r-local"]["cells"]) == {"orand-val"}
    rec = by["r-local"]["cells"]["orand-val"]
    assert rec["error"] == pytest.approx(0.4) and "vs_local" not in rec
    assert rec["error_ci"][0] < 0.4 < rec["error_ci"][1]
    md = gt.render(table)
    assert "20.0% [" in md and "(-10.0, p 1.000)" in md
    assert "recorded: benchmarks/seg_real_training.py" in md


@pytest.mark.parametrize("kind", ["forward", "viterbi"])
def test_non_discriminative_criteria_are_the_constrained_penalty(mnist_dir, kind):
    import torch

    import gtn
    from docrec.recognizers.seg import SegmentationRecognizer
    from docrec.training.seg_data import train_pools
    from docrec.training.seg_global import GlobalTrainConfig, field_losses, interpretation_graphs, make_fields
    from lenet.models import LeNet5

    train_pool, _ = train_pools(mnist_dir)
    fields = make_fields(3, seed=9, pool=train_pool, spacings=("wide",), kinds=(("zip", 1.0),))
    torch.manual_seed(1)
    rec = SegmentationRecognizer(model=LeNet5(17))
    with torch.no_grad():
        disc, used = field_losses(rec, fields, criterion=kind)
        plain, used_nd = field_losses(rec, fields, criterion=f"{kind}-nd")
        graphs = gtn.batch(interpretation_graphs(rec, fields))
        unconstrained = (gtn.forward_penalty if kind == "forward" else gtn.viterbi_penalty)(graphs)
    assert used == used_nd == 3
    # discriminative = constrained - unconstrained, so the plain criterion is the difference plus it
    assert float(plain) == pytest.approx(float(disc) + float(unconstrained.sum()), rel=1e-5, abs=1e-4)
    assert GlobalTrainConfig(criterion=f"{kind}-nd").criterion == f"{kind}-nd"
    with pytest.raises(ValueError, match="criterion='bogus'"):
        GlobalTrainConfig(criterion="bogus")
