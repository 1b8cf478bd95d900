"""Reading a user's folder of labelled field images (data/folder.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from data.folder import FieldFolder, read_image, read_labels, write_labels


def _image(seed: int, shape=(32, 60)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, shape, dtype=np.uint8)


@pytest.fixture()
def folder(tmp_path):
    images = {"a.png": _image(0), "sub/b.png": _image(1, (40, 90))}
    for rel, img in images.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(tmp_path / rel), img)
    write_labels(tmp_path / "labels.csv", [("a.png", "1,234.56"), ("sub/b.png", "02134")])
    return tmp_path, images


def test_roundtrip_images_and_texts(folder):
    root, images = folder
    ff = FieldFolder(root, decode=True)
    assert len(ff) == 2 and ff.texts == ["1,234.56", "02134"]  # commas quoted, leading zero kept
    for (img, text), rel in zip(ff, images):
        assert np.array_equal(img, images[rel]) and img.dtype == np.uint8


def test_colour_images_become_grey(tmp_path):
    rgb = np.zeros((10, 20, 3), np.uint8)
    rgb[..., 1] = 200
    cv2.imwrite(str(tmp_path / "c.png"), rgb)
    assert read_image(tmp_path / "c.png").shape == (10, 20)


def test_header_with_bom_and_extra_columns(tmp_path):
    cv2.imwrite(str(tmp_path / "x.png"), _image(2))
    (tmp_path / "labels.csv").write_bytes("\ufeffid,text,path\n7,555,x.png\n\n".encode("utf-8"))
    ff = FieldFolder(tmp_path)
    assert ff.texts == ["555"] and ff.paths[0].name == "x.png"


@pytest.mark.parametrize("content, message", [
    ("file,label\na.png,1\n", "must name the columns 'path' and 'text'"),
    ("", "is empty"),
    ("path,text\na.png\n", "line 2: expected 2 columns"),
    ("path,text\n,123\n", "line 2: empty path"),
    ("path,text\na.png,\n", "line 2: empty text for a.png"),
    ("path,text\na.png,1\na.png,2\n", "line 3: path a.png already listed on line 2"),
    ('path,text\na.png,"12\n', "not valid CSV"),
])
def test_bad_csv_is_reported_with_its_line(tmp_path, content, message):
    cv2.imwrite(str(tmp_path / "a.png"), _image(3))
    (tmp_path / "labels.csv").write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        FieldFolder(tmp_path)


def test_not_utf8(tmp_path):
    (tmp_path / "labels.csv").write_bytes(b"path,text\n\xff\xfe.png,1\n")
    with pytest.raises(ValueError, match="not UTF-8"):
        read_labels(tmp_path / "labels.csv")


def test_alphabet_check(folder):
    root, _ = folder
    with pytest.raises(ValueError, match=r"line 2: text '1,234.56' has characters \[','\]"):
        FieldFolder(root, alphabet="0123456789.")
    assert len(FieldFolder(root, alphabet="0123456789,.")) == 2


def test_missing_things_are_named(folder, tmp_path_factory):
    root, _ = folder
    with pytest.raises(FileNotFoundError, match="no such folder"):
        FieldFolder(root / "nope")
    with pytest.raises(FileNotFoundError, match="no labels file"):
        FieldFolder(tmp_path_factory.mktemp("empty"))
    (root / "sub" / "b.png").unlink()
    write_labels(root / "labels.csv", [("a.png", "1"), ("sub/b.png", "2"), ("c.png", "3")])
    with pytest.raises(FileNotFoundError, match=r"2 image\(s\) .* do not exist: b.png \(line 3\), c.png \(line 4\)"):
        FieldFolder(root)


def test_unreadable_image(folder):
    root, _ = folder
    (root / "a.png").write_bytes(b"not a png at all")
    ff = FieldFolder(root)  # lazy: found, not decoded yet
    with pytest.raises(ValueError, match=r"cannot decode .*a.png"):
        ff[0]
    with pytest.raises(ValueError, match=r"1 image\(s\) .* cannot be decoded: a.png \(line 2\)"):
        FieldFolder(root, decode=True)
    (root / "a.png").write_bytes(b"")
    with pytest.raises(ValueError, match="cannot decode"):
        read_image(root / "a.png")
