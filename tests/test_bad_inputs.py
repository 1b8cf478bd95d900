"""The bad-input corpus: every entry point, fed what a user (or a broken file) may feed it.

Each case ends in one of two ways, and the test says which:

- ``error``: a non-zero exit with one line per problem on stderr, starting ``docrec``, naming the
  input and what is wrong; or, for the Python API, a ValueError / FileNotFoundError / TypeError
  whose message is one line naming the function; never a traceback, never a silent default;
- ``reject``: a recogniser's rejection with a reason (a reading at zero confidence).

The corpus is built here from small generated files (no binary blobs), and runs in-process.
"""

from __future__ import annotations

import math
import shutil
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import gtn
from decoders import Grammar, PatternError
from docrec.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "docrec" / "samples"


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` (its data does not follow)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    (d / "huge.png").write_bytes(png_header(100_000, 100_000))
    (d / "empty.png").write_bytes(b"")
    (d / "text.png").write_text("not an image")
    (d / "truncated.png").write_bytes((SAMPLES / "000000.png").read_bytes()[:60])
    cv2.imwrite(str(d / "white.png"), np.full((40, 120), 255, np.uint8))
    cv2.imwrite(str(d / "black.png"), np.zeros((40, 120), np.uint8))
    cv2.imwrite(str(d / "dot.png"), np.pad(np.zeros((2, 2), np.uint8), 30, constant_values=255))
    cv2.imwrite(str(d / "line.png"), np.vstack([np.full((20, 300), 255, np.uint8), np.zeros((2, 300), np.uint8),
                                                 np.full((20, 300), 255, np.uint8)]))
    cv2.imwrite(str(d / "tiny.png"), np.zeros((1, 1), np.uint8))
    cv2.imwrite(str(d / "sliver.png"), np.zeros((1, 3000), np.uint8))
    grey = cv2.imread(str(SAMPLES / "000000.png"), cv2.IMREAD_GRAYSCALE)
    rgba = np.zeros(grey.shape + (4,), np.uint8)
    rgba[..., 3] = 255 - grey  # ink only in the alpha channel
    cv2.imwrite(str(d / "alpha.png"), rgba)
    (d / "dir.png").mkdir()
    (d / "garbage.pt").write_bytes(b"\x00 not a checkpoint")
    (d / "afile").write_text("x")
    (d / "nolabels").mkdir()
    shutil.copy(SAMPLES / "000000.png", d / "nolabels" / "a.png")
    (d / "emptyfolder").mkdir()
    for name, rows in {
        "missing_image": "path,text\nnope.png,123\n",
        "outside": "path,text\n../../outside.png,123\n",
        "bad_header": "file,label\na.png,123\n",
        "bad_chars": "path,text\na.png,12a3\n",
        "only_header": "path,text\n",
        "empty_csv": "",
        "short_row": "path,text\na.png\n",
    }.items():
        f = d / name
        f.mkdir()
        shutil.copy(SAMPLES / "000000.png", f / "a.png")
        (f / "labels.csv").write_text(rows)
    (d / "not_utf8").mkdir()
    shutil.copy(SAMPLES / "000000.png", d / "not_utf8" / "a.png")
    (d / "not_utf8" / "labels.csv").write_bytes(b"path,text\na.png,1\xff2\n")
    mixed = d / "mixed"
    mixed.mkdir()
    shutil.copy(SAMPLES / "000000.png", mixed / "good.png")
    (mixed / "broken.png").write_bytes(b"\x89PNG broken")
    (mixed / "labels.csv").write_text("path,text\ngood.png,26023\nbroken.png,1\n")
    return d


def expect_error(rc: int, err: str, *fragments: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc != 0, f"exit code 0; stderr: {err!r}"
    assert "Traceback" not in err, err
    assert lines and all(line.startswith("docrec") for line in lines), err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def run(capsys, argv):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


# ---------------------------------------------------------------------------------- arguments
# (id, argv, fragments of the one-line error); {bad} is the corpus folder, {s} the bundled samples
ARGUMENT_CASES = [
    ("rec-no-input", ["recognize"], ["required"]),
    ("rec-system", ["recognize", "{s}", "--system", "foo"], ["--system", "foo"]),
    ("rec-batch0", ["recognize", "{s}", "--batch", "0"], ["--batch", ">= 1"]),
    ("rec-batch-neg", ["recognize", "{s}", "--batch", "-3"], ["--batch"]),
    ("rec-batch-text", ["recognize", "{s}", "--batch", "many"], ["--batch", "integer"]),
    ("rec-batch-float", ["recognize", "{s}", "--batch", "2.5"], ["--batch"]),
    ("rec-thr-2", ["recognize", "{s}", "--reject-threshold", "2"], ["--reject-threshold", "<= 1"]),
    ("rec-thr-neg", ["recognize", "{s}", "--reject-threshold", "-0.1"], ["--reject-threshold"]),
    ("rec-thr-nan", ["recognize", "{s}", "--reject-threshold", "nan"], ["finite"]),
    ("rec-thr-inf", ["recognize", "{s}", "--reject-threshold", "inf"], ["finite"]),
    ("rec-maxpix0", ["recognize", "{s}", "--max-pixels", "0"], ["--max-pixels"]),
    ("rec-maxpix-neg", ["recognize", "{s}", "--max-pixels", "-5"], ["--max-pixels"]),
    ("rec-draw-dir", ["recognize", "{s}/000000.png", "--draw", "{bad}/emptyfolder"], ["--draw", "existing folder"]),
    ("rec-draw-under-file", ["recognize", "{s}/000000.png", "--draw", "{bad}/afile/x.png"], ["--draw", "afile"]),
    ("rec-unknown-option", ["recognize", "{s}", "--frobnicate"], ["unrecognized"]),
    ("ev-no-folder", ["eval", "strings"], ["required"]),
    ("ev-limit-neg", ["eval", "strings", "{s}", "--limit", "-2"], ["--limit", ">= 0"]),
    ("ev-system", ["eval", "strings", "{s}", "--system", "nope"], ["--system"]),
    ("ev-score", ["eval", "strings", "{s}", "--score", "words"], ["--score"]),
    ("ev-json-dir", ["eval", "strings", "{s}", "--json", "{bad}/emptyfolder"], ["--json", "existing folder"]),
    ("em-limit-neg", ["eval", "mnist", "--limit", "-1"], ["--limit"]),
    ("em-batch0", ["eval", "mnist", "--batch", "0"], ["--batch"]),
    ("em-gallery-dir", ["eval", "mnist", "--gallery", "{bad}/emptyfolder"], ["--gallery"]),
    ("eval-what", ["eval", "pictures"], ["invalid choice"]),
    ("syn-count0", ["synth", "--count", "0", "--out", "{bad}/o1"], ["--count", ">= 1"]),
    ("syn-count-neg", ["synth", "--count", "-5", "--out", "{bad}/o1"], ["--count"]),
    ("syn-count-text", ["synth", "--count", "ten", "--out", "{bad}/o1"], ["--count"]),
    ("syn-kind", ["synth", "--kind", "poem", "--out", "{bad}/o1"], ["--kind"]),
    ("syn-spacing", ["synth", "--spacing", "squashed", "--out", "{bad}/o1"], ["--spacing"]),
    ("syn-out-file", ["synth", "--out", "{bad}/afile"], ["--out", "existing file"]),
    ("syn-no-out", ["synth"], ["--out"]),
    ("syn-noise-neg", ["synth", "--noise", "-1", "--out", "{bad}/o1"], ["--noise"]),
    ("syn-noise-nan", ["synth", "--noise", "nan", "--out", "{bad}/o1"], ["finite"]),
    ("syn-jitter-neg", ["synth", "--jitter", "-2", "--out", "{bad}/o1"], ["--jitter"]),
    ("syn-plus4", ["synth", "--zip-plus4", "1.5", "--out", "{bad}/o1"], ["--zip-plus4"]),
    ("syn-minlen0", ["synth", "--min-len", "0", "--out", "{bad}/o1"], ["--min-len"]),
    ("syn-maxlen0", ["synth", "--max-len", "0", "--out", "{bad}/o1"], ["--max-len"]),
    ("syn-seed-neg", ["synth", "--seed", "-1", "--out", "{bad}/o1"], ["--seed"]),
    ("syn-background", ["synth", "--background", "plaid", "--out", "{bad}/o1"], ["--background"]),
    ("syn-split", ["synth", "--split", "dev", "--out", "{bad}/o1"], ["--split"]),
    ("tl-out-dir", ["train", "lenet", "--out", "{bad}/emptyfolder"], ["--out", "existing folder"]),
    ("tl-out-under-file", ["train", "lenet", "--out", "{bad}/afile/m.pt"], ["--out"]),
    ("tl-epochs0", ["train", "lenet", "--out", "{bad}/m.pt", "--epochs", "0"], ["--epochs"]),
    ("tl-epochs-neg", ["train", "lenet", "--out", "{bad}/m.pt", "--epochs", "-1"], ["--epochs"]),
    ("tl-lr0", ["train", "lenet", "--out", "{bad}/m.pt", "--lr", "0"], ["--lr", "> 0"]),
    ("tl-lr-neg", ["train", "lenet", "--out", "{bad}/m.pt", "--lr", "-1e-3"], ["--lr"]),
    ("tl-lr-inf", ["train", "lenet", "--out", "{bad}/m.pt", "--lr", "inf"], ["finite"]),
    ("tl-batch0", ["train", "lenet", "--out", "{bad}/m.pt", "--batch-size", "0"], ["--batch-size"]),
    ("tl-threads0", ["train", "lenet", "--out", "{bad}/m.pt", "--threads", "0"], ["--threads"]),
    ("tl-wd-neg", ["train", "lenet", "--out", "{bad}/m.pt", "--weight-decay", "-1"], ["--weight-decay"]),
    ("tl-arch", ["train", "lenet", "--out", "{bad}/m.pt", "--arch", "resnet"], ["--arch"]),
    ("tl-no-out", ["train", "lenet"], ["--out"]),
    ("ts-stage", ["train", "seg", "polish"], ["invalid choice"]),
    ("ts-epochs0", ["train", "seg", "local", "--epochs", "0"], ["--epochs"]),
    ("ts-lr-neg", ["train", "seg", "local", "--lr", "-1"], ["--lr"]),
    ("ts-work-file", ["train", "seg", "local", "--work", "{bad}/afile"], ["--work", "existing file"]),
    ("ts-distort", ["train", "seg", "local", "--distort", "1.5"], ["--distort"]),
    ("ts-noneiou", ["train", "seg", "local", "--none-iou", "2"], ["--none-iou"]),
    ("ts-synth-ratio-neg", ["train", "seg", "local", "--synth-ratio", "-1"], ["--synth-ratio"]),
    ("ts-threads0", ["train", "seg", "local", "--threads", "0"], ["--threads"]),
    ("ts-scan-copies-neg", ["train", "seg", "local", "--scan-copies", "-1"], ["--scan-copies"]),
    ("tsd-way", ["train", "sdnn", "--way", "3"], ["--way"]),
    ("tsd-arch", ["train", "sdnn", "--arch", "vit"], ["--arch"]),
    ("tsd-field-jitter", ["train", "sdnn", "--way", "1", "--field-jitter", "20", "--out", "{bad}/sdnn-new"],
     ["--field-jitter", "jitter"]),
    ("tsd-field-scale", ["train", "sdnn", "--arch", "strip", "--field-scale", "1.5", "0.5", "--out", "{bad}/sdnn-new"],
     ["--field-scale", "scale"]),
    ("tsd-field-way2", ["train", "sdnn", "--way", "2", "--field-jitter", "3", "--out", "{bad}/sdnn-new"],
     ["--field-jitter", "way 2"]),
    ("tsd-epochs0", ["train", "sdnn", "--arch", "strip", "--epochs", "0"], ["--epochs"]),
    ("tsd-steps0", ["train", "sdnn", "--arch", "strip", "--steps", "0"], ["--steps"]),
    ("tsd-pjoin", ["train", "sdnn", "--arch", "strip", "--p-join", "1.2"], ["--p-join"]),
    ("tsd-out-file", ["train", "sdnn", "--arch", "strip", "--out", "{bad}/afile"], ["--out", "existing file"]),
    ("tr-recipe-missing", ["train", "--recipe", "no-such-recipe"], ["no recipe"]),
    ("tr-recipe-set", ["train", "--recipe", "lenet5", "--set", "x"], ["KEY=VALUE"]),
    ("tr-recipe-var", ["train", "--recipe", "lenet5", "--set", "x=1", "--dry-run"], ["unknown variable"]),
    ("tr-what", ["train", "svm"], ["invalid choice"]),
    ("demo-system", ["demo", "--system", "foo"], ["--system"]),
    ("demo-count0", ["demo", "--synth", "--count", "0"], ["--count"]),
    ("demo-out-file", ["demo", "--synth", "--out", "{bad}/afile"], ["--out"]),
    ("top-unknown", ["decipher"], ["invalid choice"]),
    # --device: a name torch does not know, a malformed index, a GPU this machine does not have
    ("rec-device-tpu", ["recognize", "{s}", "--device", "tpu"], ["--device", "'tpu' is not a device"]),
    ("rec-device-empty", ["recognize", "{s}", "--device", ""], ["--device", "is not a device"]),
    ("rec-device-index", ["recognize", "{s}", "--device", "cuda:x"], ["--device", "'cuda:x' is not a device"]),
    ("rec-device-cpu-index", ["recognize", "{s}", "--device", "cpu:1"], ["--device", "not a device"]),
    ("rec-device-99", ["recognize", "{s}", "--device", "cuda:99"], ["--device", "cuda:99"]),
    ("ev-device", ["eval", "strings", "{s}", "--device", "gpu"], ["--device", "'gpu' is not a device"]),
    ("em-device", ["eval", "mnist", "--model", "lenet5", "--device", "cuda:99"], ["--device", "cuda:99"]),
    ("cmp-device", ["compare", "--out", "{bad}/o2", "--device", "npu"], ["--device", "'npu'"]),
    ("tr-lenet-device", ["train", "lenet", "--out", "{bad}/o.pt", "--device", "cuda:99"], ["--device", "cuda:99"]),
    ("tr-seg-device", ["train", "seg", "local", "--device", "xpu"], ["--device", "'xpu'"]),
    ("tr-sdnn-device", ["train", "sdnn", "--way", "1", "--device", "cuda:99"], ["--device", "cuda:99"]),
]


@pytest.mark.parametrize("case", ARGUMENT_CASES, ids=[c[0] for c in ARGUMENT_CASES])
def test_bad_arguments_are_one_line_errors(case, bad, capsys):
    _, argv, fragments = case
    argv = [a.format(bad=bad, s=SAMPLES) for a in argv]
    rc, _, err = run(capsys, argv)
    expect_error(rc, err, *fragments)
    assert rc == 2


# ---------------------------------------------------------------------------------- inputs while working
RUNTIME_CASES = [
    ("rec-missing-file", ["recognize", "{bad}/nope.png", "--system", "sdnn"], ["nope.png", "no such image"]),
    ("rec-huge-header", ["recognize", "{bad}/huge.png", "--system", "sdnn"], ["huge.png", "100000x100000"]),
    ("rec-empty-file", ["recognize", "{bad}/empty.png", "--system", "sdnn"], ["empty.png", "cannot decode"]),
    ("rec-text-file", ["recognize", "{bad}/text.png", "--system", "sdnn"], ["text.png", "cannot decode"]),
    ("rec-truncated", ["recognize", "{bad}/truncated.png", "--system", "sdnn"], ["truncated.png"]),
    ("rec-dir-as-file", ["recognize", "{bad}/dir.png", "--system", "sdnn"], ["no image files"]),
    ("rec-empty-folder", ["recognize", "{bad}/emptyfolder", "--system", "sdnn"], ["no image files"]),
    ("rec-grammar", ["recognize", "{s}/000000.png", "--grammar", "(", "--system", "sdnn"], ["--grammar"]),
    ("rec-grammar-range", ["recognize", "{s}/000000.png", "--grammar", "digits:5-2", "--system", "sdnn"],
     ["--grammar"]),
    ("rec-weights-missing", ["recognize", "{s}/000000.png", "--system", "sdnn", "--weights", "nope"], ["nope"]),
    ("rec-weights-garbage", ["recognize", "{s}/000000.png", "--system", "sdnn", "--weights", "{bad}/garbage.pt"],
     ["garbage.pt", "not a readable checkpoint"]),
    ("rec-weights-kind-sdnn", ["recognize", "{s}/000000.png", "--system", "sdnn", "--weights", "seg-lenet5"],
     ["seg-lenet5 holds seg weights, not sdnn weights"]),
    ("rec-weights-kind-seg", ["recognize", "{s}/000000.png", "--system", "seg", "--weights", "sdnn-strip"],
     ["sdnn-strip holds sdnn weights, not seg weights"]),
    ("rec-weights-lenet", ["recognize", "{s}/000000.png", "--system", "seg", "--weights", "lenet5"],
     ["lenet5 holds lenet weights"]),
    ("rec-weights-empty", ["recognize", "{s}/000000.png", "--system", "sdnn", "--weights", ""],
     ["--weights", "empty weights name"]),
    ("ev-weights-empty", ["eval", "strings", "{s}", "--system", "sdnn", "--weights", " "],
     ["--weights", "empty weights name"]),
    ("ev-missing-folder", ["eval", "strings", "{bad}/nowhere", "--system", "sdnn"], ["nowhere"]),
    ("ev-no-labels", ["eval", "strings", "{bad}/nolabels", "--system", "sdnn"], ["labels.csv"]),
    ("ev-missing-image", ["eval", "strings", "{bad}/missing_image", "--system", "sdnn"], ["nope.png"]),
    ("ev-outside", ["eval", "strings", "{bad}/outside", "--system", "sdnn"], ["outside.png", "outside the folder"]),
    ("ev-bad-header", ["eval", "strings", "{bad}/bad_header", "--system", "sdnn"], ["labels.csv"]),
    ("ev-only-header", ["eval", "strings", "{bad}/only_header", "--system", "sdnn"], ["labels.csv"]),
    ("ev-empty-csv", ["eval", "strings", "{bad}/empty_csv", "--system", "sdnn"], ["labels.csv"]),
    ("ev-short-row", ["eval", "strings", "{bad}/short_row", "--system", "sdnn"], ["labels.csv"]),
    ("ev-not-utf8", ["eval", "strings", "{bad}/not_utf8", "--system", "sdnn"], ["labels.csv"]),
    ("em-model-missing", ["eval", "mnist", "--model", "lenet99"], ["lenet99"]),
    ("em-model-garbage", ["eval", "mnist", "--model", "{bad}/garbage.pt"], ["garbage.pt"]),
    ("em-model-kind", ["eval", "mnist", "--model", "sdnn-strip"], ["sdnn-strip holds sdnn weights"]),
    ("em-mnist-not-a-folder", ["eval", "mnist", "--model", "lenet5", "--mnist", "{bad}/afile"], ["MNIST", "afile"]),
    ("syn-no-mnist", ["synth", "--out", "{bad}/o2", "--mnist-dir", "{bad}/emptyfolder", "--no-download",
                      "--quiet"], ["MNIST"]),
    ("tl-mnist-not-a-folder", ["train", "lenet", "--out", "{bad}/m.pt", "--mnist", "{bad}/afile"],
     ["MNIST", "afile"]),
]


@pytest.mark.parametrize("case", RUNTIME_CASES, ids=[c[0] for c in RUNTIME_CASES])
def test_bad_inputs_while_working_are_one_line_errors(case, bad, capsys):
    _, argv, fragments = case
    argv = [a.format(bad=bad, s=SAMPLES) for a in argv]
    rc, _, err = run(capsys, argv)
    expect_error(rc, err, *fragments)


def test_one_bad_image_never_costs_the_good_ones(bad, capsys):
    rc, out, err = run(capsys, ["recognize", str(bad / "mixed"), "--system", "sdnn"])
    assert rc == 1 and "good.png\t" in out and "broken.png" not in out
    expect_error(rc, err, "broken.png")
    rc, out, err = run(capsys, ["eval", "strings", str(bad / "mixed"), "--system", "sdnn"])
    assert rc == 0 and "2 fields" in out and "string accuracy 50.00%" in out  # the good one is still read
    expect_error(1, err, "broken.png")


# ---------------------------------------------------------------------------------- recognisers
IMAGES = ["white", "black", "dot", "line", "tiny", "sliver"]


@pytest.fixture(scope="module")
def recognizers():
    from docrec.recognizers import get_recognizer

    return {name: get_recognizer(name) for name in ("seg", "sdnn", "combo")}


@pytest.mark.parametrize("system", ["seg", "sdnn", "combo"])
@pytest.mark.parametrize("image", IMAGES)
def test_recognisers_reject_fields_without_writing(system, image, bad, recognizers):
    img = cv2.imread(str(bad / f"{image}.png"), cv2.IMREAD_GRAYSCALE)
    res = recognizers[system].recognize([img], grammar=None)[0]
    if res.rejected:
        assert res.reason and res.confidence <= 0.5
    else:  # a reading of something like a character (the black box, the line) is allowed, not a confident one
        assert res.confidence < 0.99 or image in ("black",)


BAD_ARRAYS = {
    "none": None,
    "string": "field.png",
    "3d-wrong": np.zeros((4, 40, 120), np.uint8),
    "nan": np.full((40, 120), np.nan, np.float32),
    "inf": np.full((40, 120), np.inf, np.float32),
    "empty": np.zeros((0, 120), np.uint8),
    "negative-ints": np.full((40, 120), -5, np.int64),
    "complex": np.zeros((40, 120), np.complex64),
    "too-big": np.zeros((3000, 3000), np.uint8),
}


@pytest.mark.parametrize("system", ["seg", "sdnn", "combo"])
@pytest.mark.parametrize("kind", list(BAD_ARRAYS))
def test_recognisers_reject_bad_arrays_with_a_reason(system, kind, recognizers):
    res = recognizers[system].recognize([BAD_ARRAYS[kind]], grammar=None)[0]
    assert res.rejected and res.reason and res.confidence == 0.0 and "\n" not in res.reason


@pytest.mark.parametrize("system", ["seg", "sdnn", "combo"])
def test_a_bare_array_is_not_read_row_by_row(system, recognizers):
    img = cv2.imread(str(SAMPLES / "000000.png"), cv2.IMREAD_GRAYSCALE)
    with pytest.raises(TypeError, match=r"list of images"):
        recognizers[system].recognize(img, grammar=None)


def test_a_transparent_png_with_ink_in_alpha_reads_like_the_original(bad, capsys):
    rc, out, _ = run(capsys, ["recognize", str(SAMPLES / "000000.png"), str(bad / "alpha.png"), "--system", "seg"])
    lines = out.strip().splitlines()
    assert rc == 0 and len(lines) == 2 and lines[0].split("\t")[1:] == lines[1].split("\t")[1:]


# ---------------------------------------------------------------------------------- library API
def one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert "\n" not in msg.strip() and msg.startswith("["), msg
    return msg


API_CASES = [
    ("graph-nan", lambda: gtn.Graph([0], [1], [1], penalty=[math.nan], num_nodes=2), "finite"),
    ("graph-inf", lambda: gtn.Graph([0], [1], [1], penalty=[math.inf], num_nodes=2), "finite"),
    ("graph-1e29", lambda: gtn.Graph([0], [1], [1], penalty=[1e29], num_nodes=2), "within"),
    ("frame-1e29", lambda: gtn.frame_graph(torch.full((3, 4), -1e29)), "within"),
    ("graph-cycle", lambda: gtn.Graph([0, 1], [1, 0], [1, 1], num_nodes=2), "cycle"),
    ("graph-missing-node", lambda: gtn.Graph([0], [5], [1], num_nodes=2), "missing node"),
    ("graph-bad-label", lambda: gtn.Graph([0], [1], [-7], num_nodes=2), "invalid"),
    ("graph-float-label", lambda: gtn.Graph([0], [1], [1.5], num_nodes=2), "integers"),
    ("graph-length", lambda: gtn.Graph([0, 1], [1], [1], num_nodes=2), "shape"),
    ("graph-unreachable", lambda: gtn.Graph([0], [1], [1], num_nodes=3), "not reachable"),
    ("graph-no-nodes", lambda: gtn.Graph([], [], [], num_nodes=0), "node"),
    ("graph-final-missing", lambda: gtn.Graph([0], [1], [1], num_nodes=2, final=[1, 9]), "does not exist"),
    ("compose-types", lambda: gtn.compose("a", "b"), "gtn.Graph"),
    ("compose-batch", lambda: gtn.compose(gtn.batch([gtn.string_graph([1])] * 3),
                                          gtn.batch([gtn.string_graph([1])] * 2)), "holds 2 graphs"),
    ("forward-cyclic", lambda: gtn.forward_penalty(gtn.Graph([0, 1], [1, 1], [1, 1], num_nodes=2, acyclic=False)),
     "acyclic"),
    ("viterbi-type", lambda: gtn.viterbi_penalty([1, 2]), "gtn.Graph"),
    ("frame-nan", lambda: gtn.frame_graph(torch.full((3, 4), math.nan)), "finite"),
    ("frame-rank", lambda: gtn.frame_graph(torch.zeros(4)), "(B, T, C)"),
    ("frame-lengths", lambda: gtn.frame_graph(torch.zeros(2, 3, 4), lengths=[3, 9]), "lengths"),
    ("ctc-blank", lambda: gtn.ctc_graph([0, 1]), "blank"),
    ("ctc-batch-blank", lambda: gtn.ctc_graphs([[1], [0]]), "blank"),
    ("strings-negative", lambda: gtn.string_graphs([[1], [-2]]), ">= 0"),
    ("recognize-both", lambda: gtn.recognize(gtn.string_graph([1]), lambda x: x, penalties=torch.zeros(1, 3)),
     "either"),
    ("recognize-shape", lambda: gtn.recognize(gtn.string_graph([1]), penalties=torch.zeros(2, 3)), "shape"),
    ("recognize-nan", lambda: gtn.recognize(gtn.string_graph([1]), penalties=torch.full((1, 3), math.nan)),
     "non-finite"),
    ("recognize-classes", lambda: gtn.recognize(gtn.string_graph([1]), penalties=torch.zeros(1, 3), classes=[5]),
     "classes"),
    ("threads", lambda: gtn.set_num_threads(0), "positive integer"),
    ("criteria-count", lambda: gtn.discriminative_forward_loss(gtn.batch([gtn.string_graph([1])] * 2), [[1]]),
     "targets"),
    ("grammar-digits", lambda: Grammar.digits(5, 2), "digits"),
    ("weights-kind", lambda: __import__("docrec.weights", fromlist=["resolve"]).resolve("lenet5", "wizard"), "kind"),
    ("weights-missing", lambda: __import__("docrec.weights", fromlist=["resolve"]).resolve("nope", "seg"), "nope"),
    ("get-recognizer", lambda: __import__("docrec.recognizers", fromlist=["x"]).get_recognizer("wizard"), "wizard"),
    ("resolve-grammar", lambda: __import__("docrec.recognizers", fromlist=["x"]).resolve_grammar("digits:9-1"),
     "digits"),
    ("segmenter-field", lambda: __import__("segmenter.config", fromlist=["x"]).SegmenterConfig().replace(wobble=1),
     "unknown field"),
    ("segmenter-merge", lambda: __import__("segmenter.config", fromlist=["x"]).SegmenterConfig().replace(max_merge=0),
     "max_merge"),
    ("read-fields", lambda: __import__("data", fromlist=["read_fields"]).read_fields("/nonexistent/folder"),
     "nonexistent"),
    ("seg-device", lambda: __import__("docrec.recognizers", fromlist=["x"]).get_recognizer("seg", device="cuda:99"),
     "cuda:99"),
    ("sdnn-device", lambda: __import__("docrec.recognizers", fromlist=["x"]).get_recognizer("sdnn", device="tpu"),
     "'tpu' is not a device"),
    ("combo-device", lambda: __import__("docrec.recognizers", fromlist=["x"]).get_recognizer("combo", device="cuda:99"),
     "cuda:99"),
]


@pytest.mark.parametrize("case", API_CASES, ids=[c[0] for c in API_CASES])
def test_library_calls_fail_with_a_one_line_message(case):
    _, call, fragment = case
    with pytest.raises((ValueError, FileNotFoundError, TypeError, PatternError)) as info:
        call()
    assert fragment in one_line(info.value)


def test_the_corpus_holds_at_least_150_cases():
    n = (len(ARGUMENT_CASES) + len(RUNTIME_CASES) + 1 + 3 * len(IMAGES) + 3 * len(BAD_ARRAYS) + 3 + 1
         + len(API_CASES))
    assert n >= 150, n


@pytest.mark.parametrize("system", ["seg", "sdnn", "combo"])
def test_a_grammar_spec_reads_like_its_grammar(system, recognizers):
    from docrec.recognizers import resolve_grammar

    img = cv2.imread(str(SAMPLES / "000000.png"), cv2.IMREAD_GRAYSCALE)
    by_spec = recognizers[system].recognize([img], grammar="zip")[0]
    by_object = recognizers[system].recognize([img], grammar=resolve_grammar("zip"))[0]
    assert (by_spec.text, by_spec.confidence) == (by_object.text, by_object.confidence)
    assert len(by_spec.text) == 5 and by_spec.text.isdigit()


@pytest.mark.parametrize("system", ["seg", "sdnn", "combo"])
@pytest.mark.parametrize("grammar", [5, ["zip"], 2.5])
def test_a_grammar_of_the_wrong_type_is_named(system, grammar, recognizers):
    img = cv2.imread(str(SAMPLES / "000000.png"), cv2.IMREAD_GRAYSCALE)
    with pytest.raises(TypeError, match=rf"grammar must be a decoders.Grammar.*got {type(grammar).__name__}"):
        recognizers[system].recognize([img], grammar=grammar)
