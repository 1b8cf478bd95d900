"""``docrec recognize`` and ``docrec eval strings``: JSON lines, per-file errors, folders, --draw."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from docrec.cli import main
from docrec.recognizers.seg import DEFAULT_WEIGHTS

pytestmark = pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="bundled seg-lenet5.pt missing")


@pytest.fixture(scope="module")
def folder(tmp_path_factory, mnist_dir):
    from data.folder import write_labels
    from data.synth import DigitPool, SynthConfig, synthesize

    d = tmp_path_factory.mktemp("fields")
    fields = synthesize("zip", 4, split="test", seed=5, config=SynthConfig(zip_plus4=0.0),
                        pool=DigitPool.load("test", mnist_dir))
    rows = []
    for i, f in enumerate(fields):
        cv2.imwrite(str(d / f"z{i}.png"), f.image)
        rows.append((f"z{i}.png", f.text))
    write_labels(d / "labels.csv", rows)
    return d, [t for _, t in rows]


def _json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.strip().splitlines()]


def test_json_output_with_bad_files(folder, tmp_path, capsys):
    d, texts = folder
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"not a png at all")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), np.full((200, 300), 255, np.uint8))
    missing = tmp_path / "missing.png"
    code = main(["recognize", str(d / "z0.png"), str(corrupt), str(empty), str(missing), str(big),
                 str(d / "z1.png"), "--grammar", "zip", "--json", "--max-pixels", "50000"])
    entries = _json_lines(capsys.readouterr().out)
    assert code == 1
    assert [e["path"] for e in entries] == [str(d / "z0.png"), str(corrupt), str(empty), str(missing), str(big),
                                            str(d / "z1.png")]
    for e in entries:
        assert {"path", "text", "confidence", "rejected", "boxes"} <= set(e)
    assert "cannot decode" in entries[1]["error"]
    assert "cannot decode" in entries[2]["error"]
    assert "no such image file" in entries[3]["error"]
    assert "exceeds the limit of 50000 pixels" in entries[4]["error"]
    good = [entries[0], entries[5]]
    assert all("error" not in e for e in good)
    # the two good fields are read (bundled weights; both are clean normal-spacing zip codes)
    assert sum(e["text"] == t for e, t in zip(good, texts[:2])) >= 1
    for e in good:
        assert len(e["boxes"]) == len(e["text"]) and 0 <= e["confidence"] <= 1


def test_folder_plain_output_draw_and_blank(folder, tmp_path, capsys):
    d, texts = folder
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((32, 80), 255, np.uint8))
    code = main(["recognize", str(d), str(blank), "--grammar", "zip", "--draw", str(tmp_path / "pic.png"),
                 "--reject-threshold", "0.5"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert len(lines) == 5
    assert lines[-1].startswith(str(blank)) and "rejected" in lines[-1]
    for i in range(4):
        assert (tmp_path / f"pic-z{i}.png").is_file()


def test_bad_options(folder, capsys):
    d, _ = folder
    assert main(["recognize", str(d), "--grammar", "(", "--json"]) == 2
    assert "bad --grammar" in capsys.readouterr().err
    assert main(["recognize", str(d), "--reject-threshold", "2"]) == 2


def test_eval_strings(folder, tmp_path, capsys):
    d, _ = folder
    out = tmp_path / "m.json"
    assert main(["eval", "strings", str(d), "--system", "seg", "--grammar", "zip", "--json", str(out)]) == 0
    m = json.loads(out.read_text())
    assert m["fields"] == 4 and 0 <= m["string_accuracy"] <= 1 and m["cer"] >= 0


def test_recognition_digits_and_json():
    from docrec.recognizers import Recognition
    from docrec.recognizers.base import digit_string

    r = Recognition(text="$15.728.-", confidence=0.9, rejected=False, boxes=[(0, 0, 1, 1)] * 9, penalty=1.5)
    assert r.digits == "15728"
    assert r.to_json()["digits"] == "15728" and r.to_json()["text"] == "$15.728.-"
    assert Recognition.reject("no ink").digits == "" and Recognition.reject("no ink").to_json()["digits"] == ""
    assert digit_string("**1,250,000/-") == "1250000"
    with pytest.raises(ValueError, match=r"\[docrec.digit_string\] expected a string"):
        digit_string(None)


def test_amount_spec_reads_real_forms():
    from docrec.recognizers import resolve_grammar

    amount, strict = resolve_grammar("amount"), resolve_grammar("amount:strict")
    for form in ("15.728.-", "965.", "2500/-"):
        assert amount.accepts(form) and not strict.accepts(form)
    for form in ("1.250.000", "15,728"):
        assert amount.accepts(form) and strict.accepts(form)
    for form in ("$1,234.56", "**12.50", "$***32**", "64,10"):
        assert amount.accepts(form) and strict.accepts(form)


def test_amount_output_shows_digits(folder, capsys):
    d, _ = folder
    assert main(["recognize", str(d / "z0.png"), str(d / "z1.png"), "--grammar", "amount"]) == 0
    for line in capsys.readouterr().out.strip().splitlines():
        path, text, conf, digits = line.split("\t")
        assert digits == ("".join(c for c in text if c.isdigit()) or "-")
    assert main(["recognize", str(d / "z0.png"), "--grammar", "amount", "--json"]) == 0
    (entry,) = _json_lines(capsys.readouterr().out)
    assert entry["digits"] == "".join(c for c in entry["text"] if c.isdigit())
    assert main(["recognize", str(d / "z0.png"), "--grammar", "zip"]) == 0
    assert len(capsys.readouterr().out.strip().split("\t")) == 3  # other grammars: unchanged format


def test_eval_strings_score_digits(folder, tmp_path, capsys):
    from data.folder import write_labels

    d, texts = folder
    # the same images labelled with separators and end marks: digits scoring ignores them
    marked = tmp_path / "marked"
    marked.mkdir()
    rows = [(str(d / f"z{i}.png"), f"{t[:2]}.{t[2:]}.-") for i, t in enumerate(texts)]
    write_labels(marked / "labels.csv", rows)
    out_text, out_digits = tmp_path / "t.json", tmp_path / "d.json"
    assert main(["eval", "strings", str(d), "--grammar", "zip", "--json", str(out_text)]) == 0
    assert main(["eval", "strings", str(marked), "--grammar", "zip", "--score", "digits",
                 "--json", str(out_digits)]) == 1  # the rows point outside the folder: refused ...
    assert "is outside the folder" in capsys.readouterr().err
    assert main(["eval", "strings", str(marked), "--grammar", "zip", "--score", "digits", "--allow-outside",
                 "--json", str(out_digits)]) == 0  # ... unless allowed
    assert "digit-string accuracy" in capsys.readouterr().out
    t, g = json.loads(out_text.read_text()), json.loads(out_digits.read_text())
    assert t["score"] == "text" and g["score"] == "digits"
    assert g["string_accuracy"] == t["string_accuracy"] and g["cer"] == pytest.approx(t["cer"])


def test_amount_grammars_read_with_the_real_trained_weights():
    """The CLI reads amounts with the weights trained on real cheques (bundled, loadable), every
    other grammar with the recogniser's own default."""
    from docrec.recognizers import REAL_AMOUNT_WEIGHTS, default_weights, get_recognizer
    from docrec.weights import load_card

    assert default_weights("combo", "amount") == "seg-modern-real-all"
    assert default_weights("seg", "amount:strict") == "seg-lenet5-real-all"
    assert default_weights("sdnn", "amount") == "sdnn-real"
    assert default_weights("seg", "zip") is None and default_weights("combo", None) is None
    for system, name in REAL_AMOUNT_WEIGHTS.items():
        rec = get_recognizer(system, weights=name)
        assert rec.recognize([np.full((40, 120), 255, np.uint8)], grammar=None)[0].rejected
    combo = get_recognizer("combo", weights="seg-modern-real")
    assert combo.config.sdnn_weights == "sdnn-strip-real"
    combo = get_recognizer("combo", weights="seg-modern-real-all")
    assert combo.config.sdnn_weights == "sdnn-strip-real-all"
    assert combo.config.sdnn_accept == get_recognizer("combo", weights="seg-modern-real").config.sdnn_accept
    assert all(load_card(n)["real_training_ids"] == [[154, 999]]  # trained on every labelled field
               for n in ("seg-lenet5-real-all", "seg-modern-real-all", "sdnn-strip-real-all"))


def test_eval_strings_errors_csv(folder, tmp_path, capsys):
    """--errors lists exactly the fields scored wrong, with label and reading as written, most
    confident first; a field whose label disagrees with its image is among them."""
    import csv

    from data.folder import write_labels

    d, texts = folder
    relabelled = tmp_path / "relabelled"
    relabelled.mkdir()
    for i in range(len(texts)):
        (relabelled / f"z{i}.png").write_bytes((d / f"z{i}.png").read_bytes())
    wrong_label = "99999" if texts[0] != "99999" else "11111"
    write_labels(relabelled / "labels.csv", [(f"z{i}.png", wrong_label if i == 0 else t) for i, t in enumerate(texts)])
    errors, metrics = tmp_path / "errors.csv", tmp_path / "m.json"
    assert main(["eval", "strings", str(relabelled), "--system", "seg", "--grammar", "zip", "--json", str(metrics),
                 "--errors", str(errors)]) == 0
    assert "written to" in capsys.readouterr().out
    with open(errors, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    m = json.loads(metrics.read_text())
    assert len(rows) == round(m["fields"] * (1 - m["string_accuracy"]))
    assert [r["path"] for r in rows].count(str(relabelled / "z0.png")) == 1
    assert all(r["reading"] != r["label"] for r in rows)
    confidences = [float(r["confidence"]) for r in rows]
    assert confidences == sorted(confidences, reverse=True)
    first = next(r for r in rows if r["path"].endswith("z0.png"))
    assert first["label"] == wrong_label


def test_write_errors_order_and_rejections(tmp_path):
    import csv

    from docrec.commands.eval_strings import write_errors

    out = tmp_path / "e.csv"
    n = write_errors(out, ["a.png", "b.png", "c.png", "d.png"], ["1", "2", "3", "4"], ["1", "7", None, "8"],
                     [0.9, 0.2, 0.0, 0.6], [True, False, False, False])
    assert n == 3
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows == [["path", "label", "reading", "confidence"], ["d.png", "4", "8", "0.6000"],
                    ["b.png", "2", "7", "0.2000"], ["c.png", "3", "", "0.0000"]]
