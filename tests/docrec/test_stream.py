"""docrec.stream: streamed inputs, batches, worker processes, bad inputs, resuming."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from docrec.stream import ReaderSpec, done_paths, iter_images, read_fields

SAMPLES = Path(__file__).resolve().parents[2] / "docrec" / "samples"


@pytest.fixture()
def folder(tmp_path):
    pngs = sorted(SAMPLES.glob("*.png"))
    assert pngs, "bundled sample fields missing"
    for i, p in enumerate(pngs * 2):
        shutil.copy(p, tmp_path / f"{i:03d}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    return tmp_path


def test_iter_images_streams_image_files_only(folder):
    found = list(iter_images([folder]))
    assert all(p.suffix == ".png" for p in found)
    assert len(found) == len(list(folder.glob("*.png")))
    assert list(iter_images([folder / "000.png"])) == [folder / "000.png"]


def test_bad_inputs_do_not_cost_the_good_ones(folder):
    paths = sorted(iter_images([folder])) + [folder / "missing.png"]
    results = list(read_fields(paths, ReaderSpec("sdnn", "digits"), batch=4))
    assert [r.path for r in results] == paths  # input order, every input answered
    errors = {r.path.name: r.error for r in results if r.error}
    assert set(errors) == {"broken.png", "missing.png"}
    good = [r for r in results if not r.error]
    assert good and all(r.result["text"] is not None for r in good)


def test_two_workers_read_what_one_process_reads(folder):
    paths = sorted(p for p in iter_images([folder]) if p.name != "broken.png")
    one = [(r.path, r.result["text"], r.result["confidence"]) for r in read_fields(paths, ReaderSpec("sdnn", "digits"), batch=3)]
    two = [(r.path, r.result["text"], r.result["confidence"])
           for r in read_fields(paths, ReaderSpec("sdnn", "digits"), batch=3, workers=2)]
    assert one == two


def test_done_paths_reads_json_and_text_outputs(tmp_path):
    js = tmp_path / "out.jsonl"
    js.write_text(json.dumps({"path": "a.png", "text": "1"}) + "\n" + json.dumps({"path": "b.png"}) + "\n{\"path\": \"c.p")
    assert done_paths(js) == {"a.png", "b.png"}  # the torn last line is not counted as done
    tsv = tmp_path / "out.tsv"
    tsv.write_text("a.png\t123\t0.9\nb.png\tERROR\tbad\n")
    assert done_paths(tsv) == {"a.png", "b.png"}
    assert done_paths(tmp_path / "none.txt") == set()


def test_bad_batch_or_workers_are_refused():
    with pytest.raises(ValueError, match=r"\[docrec.read_fields\] batch and workers must be >= 1"):
        list(read_fields([], ReaderSpec("sdnn", None), batch=0))


def test_cli_workers_out_and_resume(folder, tmp_path, capsys):
    from docrec.cli import main

    out = tmp_path / "readings.jsonl"
    good = [str(p) for p in sorted(folder.glob("0*.png"))]
    assert main(["recognize", *good, "--system", "sdnn", "--json", "--out", str(out), "--workers", "2",
                 "--batch", "4"]) == 0
    first = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["path"] for r in first] == good  # input order, one line each
    # an interrupted run: keep half the lines (and a torn one), resume, and get every input once
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[: len(lines) // 2]) + "\n" + lines[len(lines) // 2][:10])
    capsys.readouterr()
    assert main(["recognize", *good, "--system", "sdnn", "--json", "--out", str(out), "--resume"]) == 0
    again = [json.loads(line) for line in out.read_text().splitlines() if line.startswith("{") and line.endswith("}")]
    assert sorted(r["path"] for r in again) == sorted(good)
    assert {r["path"]: r["text"] for r in again} == {r["path"]: r["text"] for r in first}
    assert main(["recognize", *good, "--resume"]) == 2 and "--resume needs --out" in capsys.readouterr().err
    assert main(["recognize", *good, "--workers", "2", "--draw", str(tmp_path / "d.png")]) == 2
