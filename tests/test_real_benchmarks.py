"""The real-field benchmarks keep training and measuring fields apart: the cross-fitting folds of
``benchmarks/real_crossfit.py`` and the in-sample guard of ``benchmarks/real_fields.py``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import real_crossfit, real_fields  # noqa: E402


def _folder(root: Path, ids: list[int]) -> Path:
    (root / "images").mkdir(parents=True)
    rows, boxes = [], []
    for i in ids:
        rel = f"images/a_car_{i:06d}.png"
        img = np.full((20, 30), 255, np.uint8)
        img[5:15, 10:14] = 0
        cv2.imwrite(str(root / rel), img)
        rows.append(f"{rel},{i % 10}")
        boxes.append(json.dumps({"path": rel, "text": str(i % 10), "width": 30, "height": 20,
                                 "chars": [{"char": str(i % 10), "box": [10, 5, 4, 10]}]}))
    (root / "labels.csv").write_text("path,text\n" + "\n".join(rows) + "\n")
    (root / "boxes.jsonl").write_text("\n".join(boxes) + "\n")
    return root


def _ids(folder: Path) -> list[int]:
    return sorted(int(line.split(",")[0][-10:-4]) for line in (folder / "labels.csv").read_text().splitlines()[1:])


def test_crossfit_folds_hold_out_one_half_each(tmp_path, capsys):
    src = _folder(tmp_path / "src", [100, 154, 500, 799, 800, 801, 998, 999, 1000])
    real_crossfit.make_folds(src, tmp_path / "folds")
    out = tmp_path / "folds"
    assert _ids(out / "A") == [154, 500, 799, 800, 998] and _ids(out / "odd") == [801, 999]
    assert _ids(out / "B") == [154, 500, 799, 801, 999] and _ids(out / "even") == [800, 998]
    for fold in ("A", "B", "odd", "even"):  # every field keeps its image and its boxes line
        paths = [json.loads(line)["path"] for line in (out / fold / "boxes.jsonl").read_text().splitlines()]
        assert len(paths) == len(_ids(out / fold)) and all((out / fold / p).is_file() for p in paths)
    cmds = capsys.readouterr().out.splitlines()
    strip = [c for c in cmds if c.startswith("docrec train sdnn")]
    assert [c.split("--real ")[1].split()[0] for c in strip] == [str(out / "A"), str(out / "B")]
    assert "--val-real " + str(out / "odd") in strip[0] and "--val-real " + str(out / "even") in strip[1]
    seg = [c for c in cmds if c.startswith("docrec train seg")]  # no validation folder: the last epoch is kept
    assert len(seg) == 8 and not any("--val" in c for c in seg)
    assert all(f"--fields {out / 'A'} " in c for c in seg[:4]) and all(f"--fields {out / 'B'} " in c for c in seg[4:])


def test_weights_trained_on_validation_fields_are_not_measured_on_them():
    sdnn = SimpleNamespace(config=SimpleNamespace(sdnn_weights="sdnn-strip-real"))
    assert real_fields.saw_validation("sdnn:sdnn-strip-real", None) == []
    assert real_fields.saw_validation("combo:seg-modern-real", sdnn) == []
    assert real_fields.saw_validation("sdnn:sdnn-strip-real-all", None) == ["sdnn-strip-real-all"]
    all_fields = SimpleNamespace(config=SimpleNamespace(sdnn_weights="sdnn-strip-real-all"))
    assert real_fields.saw_validation("combo:seg-modern-real+sdnn-strip-real-all", all_fields) == [
        "sdnn-strip-real-all"]
    assert real_fields.trained_ids("sdnn-strip-real") == [range(154, 800)]
    assert real_fields.saw_validation("seg:", None) == [] and real_fields.trained_ids("seg-lenet5") == []


def test_robustness_conditions_are_deterministic_images_and_the_table_reads_the_json(capsys):
    from benchmarks import real_robustness

    field = np.full((50, 150), 180, np.uint8)
    cv2.putText(field, "4071", (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 40, 3)
    for name, change in real_robustness.CONDITIONS.items():
        a, b = change(field), change(field)
        assert a.dtype == np.uint8 and np.array_equal(a, b), name
        assert a.ndim == (3 if name == "colour" else 2), name
    assert np.array_equal(real_robustness.CONDITIONS["negative"](field), 255 - field)
    assert real_robustness.CONDITIONS["pad-12"](field).shape == (74, 174)
    # the low-contrast field keeps the paper and lightens the ink to 45% of its darkness
    pale = real_robustness.CONDITIONS["low-contrast"](field)
    assert pale.min() == int(255 - 0.45 * (255 - 40)) and pale.max() == int(255 - 0.45 * (255 - 180))
    assert real_robustness.main(["--table", "--label", "current"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("| condition | seg (LeNet-5)")
    assert len(table) == 2 + len(real_robustness.CONDITIONS)


def test_fold_reader_reads_each_half_with_the_weights_that_did_not_see_it(monkeypatch):
    """``{F}`` weights: fold A (trained on the even validation ids) reads the odd ids, B the even."""
    from benchmarks import real_robustness

    class Named:
        def __init__(self, spec):
            self.spec = spec

        def recognize(self, images, *, grammar=None):
            return [(self.spec, im) for im in images]

    monkeypatch.setattr(real_robustness, "build", lambda spec, *, score: Named(spec))
    ids = [800, 801, 802, 805, 998, 999]
    reader = real_robustness.FoldReader("seg:runs/seg-{F}/joint-weights.pt", ids, score="digits")
    assert sorted(r.spec for r in reader.by_half.values()) == ["seg:runs/seg-A/joint-weights.pt",
                                                               "seg:runs/seg-B/joint-weights.pt"]
    out = reader.recognize([f"image {i}" for i in ids], grammar=None)
    assert out == [("seg:runs/seg-B/joint-weights.pt" if i % 2 == 0 else "seg:runs/seg-A/joint-weights.pt",
                    f"image {i}") for i in ids]
    with pytest.raises(ValueError, match="5 images for 6 field ids"):
        reader.recognize(["x"] * 5)
