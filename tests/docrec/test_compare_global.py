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
    assert gt.rows(tmp_path)[3].weights == str(tmp_path / "global-forward.pt")


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
