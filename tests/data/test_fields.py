"""Labelled real field folders with optional character boxes (data/fields.py)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from data import CharBox, FieldError, FieldSet, LabelledField, read_fields
from data.fields import field_id
from data.folder import write_labels

SHARED = Path(__file__).parents[2].parent / "shared" / "data"

# name -> (text, (height, width)); boxes are drawn one per character, 10 px wide, 4 px apart.
FIELDS = {"images/f_000101.png": ("12", (20, 40)), "images/f_000102.png": ("345", (24, 50)),
          "images/f_000250.png": ("6", (20, 30))}


def _boxes_for(text: str, shape: tuple[int, int]) -> list[dict]:
    return [{"char": c, "box": [2 + 14 * k, 3, 10, shape[0] - 6]} for k, c in enumerate(text)]


def _box_line(rel: str, **overrides) -> str:
    text, shape = FIELDS[rel]
    obj = {"path": rel, "text": text, "width": shape[1], "height": shape[0], "chars": _boxes_for(text, shape)}
    obj.update(overrides)
    return json.dumps(obj)


@pytest.fixture()
def folder(tmp_path) -> Path:
    """Three PNG fields, ``labels.csv`` and a ``boxes.jsonl`` line for each (in order)."""
    for k, (rel, (_text, shape)) in enumerate(FIELDS.items()):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        img = np.full(shape, 255, np.uint8)
        img[4:-4, 3 + k: 8 + k] = 0
        assert cv2.imwrite(str(tmp_path / rel), img)
    write_labels(tmp_path / "labels.csv", [(rel, text) for rel, (text, _) in FIELDS.items()])
    _write_boxes(tmp_path, [_box_line(rel) for rel in FIELDS])
    return tmp_path


def _write_boxes(root: Path, lines: list[str]) -> Path:
    path = root / "boxes.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_reads_fields_and_boxes(folder):
    fs = read_fields(folder)
    assert isinstance(fs, FieldSet) and len(fs) == 3 and fs.n_with_boxes == 3 and fs.skipped == []
    assert fs.texts == ["12", "345", "6"] and fs.ids == [101, 102, 250]
    first = fs[0]
    assert isinstance(first, LabelledField) and first.line == 2 and first.path == (folder / "images/f_000101.png")
    assert first.boxes == (CharBox("1", 2, 3, 10, 14), CharBox("2", 16, 3, 10, 14))
    assert first.boxes[1].xyxy == (16, 3, 26, 17)
    img = fs.image(1)
    assert img.dtype == np.uint8 and img.shape == (24, 50)
    crops = fs.char_crops(1)
    assert [c for c, _ in crops] == ["3", "4", "5"] and crops[0][1].shape == (18, 10)
    assert "3 fields, 3 with boxes (from boxes.jsonl), 0 skipped" in fs.report()


def test_sequence_selection_and_ids(folder):
    fs = read_fields(folder)
    assert isinstance(fs[1:], FieldSet) and fs[1:].texts == ["345", "6"]
    assert fs.select(lambda f: len(f.text) > 1).texts == ["12", "345"]
    assert fs.select_ids(range(100, 200)).texts == ["12", "345"]
    rest, held = fs.split_by_id(102, 250)
    assert rest.texts == ["12"] and held.texts == ["345", "6"]
    assert field_id("a_car_000803.jpg") == 803 and field_id("x.png") is None
    with pytest.raises(ValueError, match="lo 5 > hi 1"):
        fs.split_by_id(5, 1)


def test_ids_need_a_trailing_integer(folder):
    (folder / "images/f_000250.png").rename(folder / "images/last.png")
    write_labels(folder / "labels.csv", [("images/f_000101.png", "12"), ("images/last.png", "6")])
    fs = read_fields(folder, boxes=None)
    with pytest.raises(ValueError, match=r"labels.csv line 3: file name last.png does not end in an integer"):
        fs.select_ids(range(10))


def test_boxes_are_optional(folder):
    assert read_fields(folder, boxes=None).n_with_boxes == 0  # not read even though present
    (folder / "boxes.jsonl").unlink()
    fs = read_fields(folder)
    assert len(fs) == 3 and all(f.boxes is None for f in fs) and fs.boxes_path is None
    with pytest.raises(ValueError, match="has no boxes"):
        fs.char_crops(0)


def test_partial_boxes_and_require_boxes(folder):
    _write_boxes(folder, [_box_line("images/f_000102.png")])
    fs = read_fields(folder)
    assert [f.boxes is not None for f in fs] == [False, True, False]
    with pytest.raises(FieldError, match=r"2 problems .*labels.csv line 2: f_000101.png: no boxes in boxes.jsonl"):
        read_fields(folder, require_boxes=True)


# (what to break, line named in boxes.jsonl, message fragment, whether field '345' is dropped):
# a fault tied to a listed field drops the field; a line naming no usable field only loses its boxes.
BOX_FAULTS = [
    ("{not json", 2, "not JSON", False),
    ("[1, 2]", 2, "expected a JSON object, got list", False),
    ('{"path": "images/f_000102.png", "text": "345"}', 2, r"missing key\(s\) \['width', 'height', 'chars'\]", False),
    ("other", 2, "path images/zz.png is not listed in labels.csv", False),
    ("outside", 2, r"chars\[2\] box \[30, 3, 21, 18\] is empty or outside the 50x24 image", True),
    ("count", 2, r"2 boxes for the 3 characters of the label '345' \(labels.csv line 3\)", True),
    ("chars", 2, r"chars\[1\] is '9' but the label '345' has '4' there", True),
    ("text", 2, r"text '355' differs from the label '345'", True),
    ("float", 2, r"box \[2, 3.5, 10, 18\] must be 4 integers", True),
    ("size", 2, "width 0 and height 24 must be positive integers", True),
    ("duplicate", 4, "boxes for images/f_000102.png already given on line 2", True),
]


def _broken_line(kind: str) -> str:
    rel = "images/f_000102.png"
    boxes = _boxes_for("345", (24, 50))
    if kind == "other":
        return json.dumps({"path": "images/zz.png", "text": "1", "width": 9, "height": 9,
                           "chars": [{"char": "1", "box": [0, 0, 9, 9]}]})
    if kind == "outside":
        boxes[2]["box"] = [30, 3, 21, 18]
        return _box_line(rel, chars=boxes)
    if kind == "count":
        return _box_line(rel, chars=boxes[:2])
    if kind == "chars":
        boxes[1]["char"] = "9"
        return _box_line(rel, chars=boxes)
    if kind == "text":
        return _box_line(rel, text="355")
    if kind == "float":
        boxes[0]["box"] = [2, 3.5, 10, 18]
        return _box_line(rel, chars=boxes)
    if kind == "size":
        return _box_line(rel, width=0)
    return kind


@pytest.mark.parametrize("kind, line, message, drops", BOX_FAULTS)
def test_box_faults_name_file_and_line(folder, kind, line, message, drops):
    lines = [_box_line(rel) for rel in FIELDS]
    if kind == "duplicate":
        lines.append(_box_line("images/f_000102.png"))
    else:
        lines[1] = _broken_line(kind)
    _write_boxes(folder, lines)
    with pytest.raises(FieldError, match=rf"boxes.jsonl line {line}: .*{message}") as info:
        read_fields(folder)
    assert [p[:2] for p in info.value.problems] == [(folder / "boxes.jsonl", line)]
    fs = read_fields(folder, on_error="skip")
    assert [s[:2] for s in fs.skipped] == [(folder / "boxes.jsonl", line)]
    if drops:
        assert fs.texts == ["12", "6"]
    else:
        assert fs.texts == ["12", "345", "6"] and fs[1].boxes is None
    assert f"1 skipped\n  skipped {folder / 'boxes.jsonl'} line {line}:" in fs.report()


# (labels.csv content after the header, line, message fragment)
LABEL_FAULTS = [
    ("images/f_000101.png,12\nimages/nope.png,1\n", 3, "image images/nope.png does not exist"),
    ("images/f_000101.png,12\nimages/f_000102.png,3x5\n", 3, r"text '3x5' has characters \['x'\] outside the alphabet"),
    ("images/f_000101.png,12\n../secret.png,1\n", 3, r"path ../secret.png is outside the folder .*allow_outside=True"),
    ("images/f_000101.png,12\nimages/f_000101.png,12\n", 3, "path images/f_000101.png already listed on line 2"),
    ("images/f_000101.png,12\nimages/f_000102.png\n", 3, "expected 2 columns, got 1"),
    ("images/f_000101.png,12\n,345\n", 3, "empty path"),
    ("images/f_000101.png,12\nimages/f_000102.png,\n", 3, "empty text for images/f_000102.png"),
]


@pytest.mark.parametrize("rows, line, message", LABEL_FAULTS)
def test_label_faults_name_file_and_line(folder, rows, line, message):
    (folder / "labels.csv").write_text("path,text\n" + rows, encoding="utf-8")
    _write_boxes(folder, [_box_line("images/f_000101.png")])
    with pytest.raises(FieldError, match=rf"labels.csv line {line}: {message}"):
        read_fields(folder, alphabet="0123456789")
    fs = read_fields(folder, alphabet="0123456789", on_error="skip")
    assert fs.texts == ["12"] and fs[0].boxes is not None
    assert [(Path(f).name, ln) for f, ln, _ in fs.skipped] == [("labels.csv", line)]


def test_a_duplicate_of_a_dropped_row_is_still_a_duplicate(folder):
    (folder / "labels.csv").write_text("path,text\nimages/nope.png,1\nimages/nope.png,1\n", encoding="utf-8")
    with pytest.raises(FieldError, match=r"2 problems .*labels.csv line 2: image images/nope.png does not exist; "
                                         r".*labels.csv line 3: path images/nope.png already listed on line 2"):
        read_fields(folder, boxes=None)


def test_boxes_of_a_dropped_row_are_not_counted_twice(folder):
    (folder / "images/f_000102.png").unlink()
    fs = read_fields(folder, on_error="skip")
    assert fs.texts == ["12", "6"] and [(Path(f).name, ln) for f, ln, _ in fs.skipped] == [("labels.csv", 3)]


def test_absolute_paths_need_allow_outside(folder, tmp_path_factory):
    other = tmp_path_factory.mktemp("elsewhere") / "x.png"
    cv2.imwrite(str(other), np.zeros((5, 5), np.uint8))
    inside = folder / "images/f_000250.png"
    write_labels(folder / "labels.csv", [(str(inside), "6"), (str(other), "7")])
    with pytest.raises(FieldError, match=r"labels.csv line 3: path .*x.png is outside the folder"):
        read_fields(folder, boxes=None)
    fs = read_fields(folder, boxes=None, allow_outside=True)
    assert fs.paths == [inside, other.resolve()]
    assert read_fields(folder, boxes=None, on_error="skip").texts == ["6"]  # absolute inside is fine


def test_check_images_decodes_and_compares_sizes(folder):
    (folder / "images/f_000250.png").write_bytes(b"not an image")
    assert len(read_fields(folder)) == 3  # not decoded by default
    with pytest.raises(FieldError, match=r"labels.csv line 4: cannot decode image f_000250.png"):
        read_fields(folder, check_images=True)
    cv2.imwrite(str(folder / "images/f_000250.png"), np.zeros((20, 29), np.uint8))  # JSON says 30 wide
    with pytest.raises(FieldError, match=r"boxes.jsonl line 3: f_000250.png: boxes are for a 30x20 image "
                                         r"but the decoded image is 29x20"):
        read_fields(folder, check_images=True)
    fs = read_fields(folder, check_images=True, on_error="skip")
    assert fs.texts == ["12", "345"] and len(fs.skipped) == 1


def test_many_faults_are_listed_in_one_error(folder):
    rows = [(rel, text) for rel, (text, _) in FIELDS.items()] + [(f"gone{k}.png", "1") for k in range(6)]
    write_labels(folder / "labels.csv", rows)
    _write_boxes(folder, [_box_line(rel) for rel in FIELDS] + ["oops"])
    with pytest.raises(FieldError, match=r"7 problems .*line 5: image gone0.png does not exist; .*and 2 more") as info:
        read_fields(folder)
    assert len(info.value.problems) == 7
    fs = read_fields(folder, on_error="skip")
    assert len(fs) == 3 and len(fs.skipped) == 7
    assert "3 fields, 3 with boxes (from boxes.jsonl), 7 skipped" in fs.report()
    assert "... and 2 more skipped" in fs.report(limit=5)


def test_file_level_errors(folder, tmp_path_factory):
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'skip'"):
        read_fields(folder, on_error="ignore")
    with pytest.raises(FileNotFoundError, match=r"\[data.read_fields\] no such folder"):
        read_fields(folder / "nope")
    with pytest.raises(FileNotFoundError, match=r"\[data.read_fields\] no labels file"):
        read_fields(tmp_path_factory.mktemp("empty"))
    (folder / "boxes.jsonl").write_bytes(b'{"path": "\xff"}\n')
    with pytest.raises(ValueError, match="boxes.jsonl is not UTF-8"):
        read_fields(folder)
    (folder / "labels.csv").write_text("path,text\n", encoding="utf-8")
    with pytest.raises(ValueError, match="lists no images"):
        read_fields(folder, boxes=None)
    write_labels(folder / "labels.csv", [("a.png", "1"), ("b.png", "2")])
    with pytest.raises(ValueError, match=r"gives no usable fields: 2 problems"):
        read_fields(folder, boxes=None, on_error="skip")
    with pytest.raises(FileNotFoundError, match=r"nothing.jsonl is not a file \(require_boxes=True needs one\)"):
        read_fields(folder, boxes="nothing.jsonl", require_boxes=True)
    with pytest.raises(FileNotFoundError, match=r"images is not a file"):
        read_fields(folder, boxes="images")


def test_real_orand_folder():
    root = SHARED / "orand_car_a"
    if not (root / "labels.csv").is_file() or not (root / "boxes.jsonl").is_file():
        pytest.skip(f"ORAND-CAR-A fields not found in {root}")
    fs = read_fields(root, alphabet="0123456789", require_boxes=True)
    assert len(fs) == 846 and fs.n_with_boxes == 846 and fs.skipped == []
    assert all(len(f.boxes) == len(f.text) and "".join(b.char for b in f.boxes) == f.text for f in fs)
    assert min(fs.ids) == 154 and max(fs.ids) == 999
    train, val = fs.split_by_id(800, 999)
    assert len(val) == 200 and len(train) == 646
    assert fs.image(0).ndim == 2 and len(fs.char_crops(0)) == len(fs[0].text)
