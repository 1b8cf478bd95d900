"""``docrec compare``: a tiny end-to-end run, its JSON / Markdown / PNGs, the cache, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from docrec.cli import main
from docrec.compare.runner import Recognizers, read_cache
from docrec.compare.specs import parse_folder, parse_synth, parse_systems
from docrec.compare.study import StudyConfig, run_study

SAMPLES = Path(__file__).resolve().parents[2] / "docrec" / "samples"


class CountingFactory:
    """Builds real recognisers and counts the fields they are asked to read."""

    def __init__(self):
        self.fields = 0

    def __call__(self, system, weights):
        from docrec.compare.specs import weights_file
        from docrec.recognizers import get_recognizer

        rec = get_recognizer(system, weights=str(weights_file(weights)))
        inner = rec.recognize
        factory = self

        def recognize(images, **kwargs):
            factory.fields += len(images)
            return inner(images, **kwargs)

        rec.recognize = recognize
        return rec


def _refuse(system, weights):
    raise AssertionError(f"a resumed run built the {system} recogniser ({weights})")


def _config(out, *, n=10, gallery=1):
    return StudyConfig(systems=parse_systems(["sdnn", "crnn"]),
                       sets=[parse_folder(str(SAMPLES), grammar="zip", score="auto"),
                             parse_synth(f"kind=zip,spacing=touching,n={n},seed=3", score="auto")],
                       out=out, gallery=gallery, n_boot=200, progress=False)


@pytest.fixture(scope="module")
def study(tmp_path_factory, mnist_dir):
    out = tmp_path_factory.mktemp("compare")
    factory = CountingFactory()
    doc = run_study(_config(out), recognizers=Recognizers(factory))
    return out, doc, factory


def test_json_markdown_and_pngs_agree(study):
    out, doc, factory = study
    assert factory.fields == 2 * (8 + 10)
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["schema"] == "docrec-compare/1"
    assert [s["name"] for s in on_disk["sets"]] == ["samples", "zip-touching"]
    assert [s["label"] for s in on_disk["systems"]] == ["sdnn", "crnn"]
    report = (out / "report.md").read_text()
    for name in on_disk["plots"].values():
        assert (out / name).is_file() and (out / name).stat().st_size > 1000
        assert f"]({name})" in report
    assert set(on_disk["plots"]) >= {"accuracy", "reject", "speed"}
    truths = {"samples": (SAMPLES / "labels.csv").read_text().split()[1:]}
    for s in on_disk["sets"]:
        for label, m in on_disk["results"][s["name"]].items():
            assert m["fields"] == s["fields"] == len(m["right"])
            assert m["correct"] == sum(m["right"])
            lo, hi = m["accuracy_ci"]
            assert lo <= m["accuracy"] <= hi
            cell = f"| {label} | `{on_disk['systems'][[x['label'] for x in on_disk['systems']].index(label)]['weights'][s['name']]}` | {m['correct']}/{m['fields']} ="
            assert cell in report
        # the readings behind the numbers are the cached ones, scored against the labels
        if s["name"] in truths:
            recs = [json.loads(line) for f in (out / "cache").glob("sdnn-sdnn-*.jsonl")
                    for line in f.read_text().splitlines()]
            texts = {r["field"]: r["text"] for r in recs}
            assert len(texts) == 18
    pair = on_disk["pairs"]["zip-touching"][0]
    assert (pair["a"], pair["b"]) == ("sdnn", "crnn")
    assert pair["both"] + pair["only_a"] + pair["only_b"] + pair["neither"] == 10
    assert on_disk["by_spacing"]["crnn"]["zip"]["touching"]["fields"] == 10
    assert set(on_disk["by_spacing"]["crnn"]) == {"zip"}
    assert "crnn" in report and "CRNN + CTC" in report


def test_gallery_has_the_recognisers_pictures(study):
    out, doc, _ = study
    for set_name, by_system in doc.get("gallery", {}).items():
        for label, g in by_system.items():
            assert (out / g["strip"]).is_file()
            for e in g["errors"]:
                assert e["reading"] != e["truth"]
                assert e["draw"] is None or (out / e["draw"]).is_file()


def test_second_run_reads_nothing(study):
    out, doc, _ = study
    again = run_study(_config(out), recognizers=Recognizers(_refuse))
    assert again["results"] == doc["results"]


def test_cache_resumes_a_longer_set(study):
    out, _, _ = study
    factory = CountingFactory()
    run_study(_config(out, n=12, gallery=0), recognizers=Recognizers(factory))
    assert factory.fields == 2 * 2  # only the two new synthetic fields, for each system
    lines = sum(len(read_cache(p)) for p in (out / "cache").glob("*.jsonl"))
    assert lines == 2 * (8 + 12)


def test_table_from_results_json(study, capsys):
    out, doc, _ = study
    assert main(["compare", "--table", str(out / "results.json")]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].startswith("| system | samples (8) | zip-touching (")
    assert f"{100 * doc['results']['samples']['crnn']['accuracy']:.1f}%" in table


@pytest.mark.parametrize("argv, needle", [
    (["--systems", "seg", "bogus", "--fields", str(SAMPLES)], "unknown system 'bogus'"),
    (["--systems", "seg:no-such-weights", "--fields", str(SAMPLES)], "'no-such-weights'"),
    (["--systems", "seg", "--fields", "/no/such/folder"], "no such folder '/no/such/folder'"),
    (["--systems", "seg", "--fields", str(SAMPLES) + ":ids=9-1"], "empty range"),
    (["--systems", "seg", "--synth", "kind=zip,spacing=sideways"], "spacing='sideways'"),
    (["--systems", "seg", "--synth", "kind=zip,n=ten"], "n='ten'"),
    (["--systems", "seg", "--synth", "kind=zip,colour=red"], "unknown key 'colour'"),
    (["--systems", "seg", "--synth", "kind=zip,spacing"], "'spacing' is not key=value"),
    (["--systems", "seg", "--synth", "kind=zip", "kind=zip"], "named 'zip-normal'"),
    (["--systems", "seg", "seg", "--fields", str(SAMPLES)], "label 'seg' is given twice"),
    (["--systems", "seg", "--fields", str(SAMPLES) + ":grammar=(("], "bad grammar"),
    (["--systems", "seg"], "name at least one field set"),
    (["--table", "/no/such/results.json"], "not a readable"),
])
def test_bad_input_is_one_line(argv, needle, tmp_path, capsys):
    if "--table" not in argv:
        argv = argv + ["--out", str(tmp_path / "out")]
    assert main(["compare", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("docrec compare: error:") and needle in err
    assert "Traceback" not in err


def test_out_is_required(capsys):
    assert main(["compare", "--systems", "seg", "--fields", str(SAMPLES)]) == 2
    assert "--out" in capsys.readouterr().err


def test_a_field_that_fails_is_a_wrong_reading_not_a_crash():
    from docrec.compare.runner import _recognize
    from docrec.recognizers import Recognition

    class Fussy:
        def recognize(self, images, *, grammar=None):
            if any(im is None for im in images):
                raise ValueError("[fussy] cannot read None")
            return [Recognition(text="1", confidence=0.5, rejected=False) for _ in images]

    out = _recognize(Fussy(), ["a", None, "b"], None)
    assert [r.text for r in out] == ["1", "", "1"]
    assert out[1].rejected and "cannot read None" in out[1].reason


def test_fill_regenerates_marked_tables(study, tmp_path):
    from docrec.compare.report import fill_tables, summary_table

    out, _, _ = study
    doc = json.loads((out / "results.json").read_text())  # as the last run of the module left it
    rel = out.relative_to(out.parent) / "results.json"
    text = f"intro\n<!-- docrec compare --table {rel.as_posix()} -->\n| old | table |\n<!-- end docrec compare -->\nafter\n"
    filled, count = fill_tables(text, root=out.parent)
    assert count == 1 and "| old | table |" not in filled
    assert summary_table(doc) in filled and filled.startswith("intro\n") and filled.endswith("after\n")
    assert fill_tables(filled, root=out.parent) == (filled, 1)  # idempotent
    with pytest.raises(ValueError, match="has no"):
        fill_tables(f"<!-- docrec compare --table {rel.as_posix()} -->\n| t |\n", root=out.parent)
    with pytest.raises(ValueError, match="cannot make the table"):
        fill_tables("<!-- docrec compare --table nope.json -->\n<!-- end docrec compare -->", root=tmp_path)


def test_generator_conditions_map_to_the_synth_config():
    from docrec.compare.fieldsets import synth_config

    spec = parse_synth("kind=digits,length=4-6,spacing=tight,paper=form,noise=20,scale=natural,n=3,seed=7",
                       score="auto")
    assert spec.name == "digits-4-6-tight-form-noise20-hnatural"
    assert spec.grammar == "digits:4-6" and spec.synth["n"] == 3 and spec.synth["seed"] == 7
    cfg = synth_config(spec.synth)
    assert (cfg.min_len, cfg.max_len, cfg.spacing, cfg.background, cfg.noise, cfg.height) == \
        (4, 6, "tight", "form", 20.0, None)
    assert synth_config(parse_synth("kind=zip,scale=64", score="auto").synth).height == 64
    assert parse_synth("kind=amount", score="auto").grammar == "amount"
    with pytest.raises(ValueError, match="length= applies to kind=digits only"):
        parse_synth("kind=zip,length=3", score="auto")


def test_spacing_plot_and_table_keep_kinds_apart(tmp_path):
    from docrec.compare.plots import spacing_plot
    from docrec.compare.report import _spacing_table

    def cell(k, n):
        return {"correct": k, "fields": n, "accuracy": k / n, "accuracy_ci": [0.0, 1.0]}

    doc = {"by_spacing": {s: {"zip": {"normal": cell(9, 10), "touching": cell(5, 10)}, "amount": {"normal": cell(7, 10)}}
                          for s in ("seg", "sdnn")}}
    assert spacing_plot(doc, tmp_path / "s.png").is_file()  # a panel for zip only: amounts have one spacing
    table = _spacing_table(doc)
    assert table[0] == "| system | zip normal | zip touching | amount normal |"
    assert table[2].startswith("| seg | 90.0% [0.0, 100.0] | 50.0%")
    assert spacing_plot({"by_spacing": {"seg": {"zip": {"normal": cell(1, 2)}}}}, tmp_path / "t.png") is None


def test_a_torn_cache_line_is_skipped_and_not_glued_to_the_next(study):
    out, _, _ = study
    run_study(_config(out, n=12, gallery=0), recognizers=Recognizers(CountingFactory()))  # whatever ran before
    path = sorted((out / "cache").glob("sdnn-sdnn-strip-*.jsonl"))[0]
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])  # interrupted mid-line
    assert len(read_cache(path)) == len(lines) - 1
    factory = CountingFactory()
    run_study(_config(out, n=12, gallery=0), recognizers=Recognizers(factory))
    assert factory.fields == 1  # only the field whose line was torn is read again
    assert len(read_cache(path)) == len(lines)


def test_usps_conditions_are_named_and_checked():
    spec = parse_synth("kind=zip,digits=usps,seed=4242", score="auto")
    assert spec.name == "zip-normal-usps" and spec.synth["digits"] == "usps"
    assert parse_synth("kind=zip", score="auto").synth["digits"] == "mnist"
    with pytest.raises(ValueError, match="digits='emnist'; choose from mnist, usps"):
        parse_synth("kind=zip,digits=emnist", score="auto")


def test_usps_condition_is_the_real_fields_benchmark_set():
    """``--synth kind=zip,digits=usps,seed=4242`` draws the zip codes of held-back USPS digits that
    ``benchmarks/real_fields.py`` calls usps-zip (same pool, config and seed), so the two agree."""
    from data.synth import SynthConfig, synthesize
    from data.usps import usps_pool
    from docrec.compare.fieldsets import load_sets

    try:
        pool = usps_pool("heldout", download=False)
    except FileNotFoundError as exc:
        pytest.skip(f"USPS digits not available offline: {exc}")
    loaded, = load_sets([parse_synth("kind=zip,digits=usps,seed=4242,n=5", score="auto")])
    fields = synthesize("zip", 5, split="test", seed=4242, config=SynthConfig(spacing="normal", zip_plus4=0.0),
                        pool=pool)
    assert loaded.truths == [f.text for f in fields]
    assert all(np.array_equal(a, f.image) for a, f in zip(loaded.images, fields))


def test_missing_usps_digits_is_one_line(tmp_path, capsys):
    argv = ["compare", "--systems", "sdnn", "--synth", "kind=zip,digits=usps,n=2", "--usps-dir",
            str(tmp_path / "none"), "--out", str(tmp_path / "out"), "--quiet"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("data.usps.fetch", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("offline")),
                   raising=False)
        code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and "digits=usps" in err, err


def test_readings_of_other_code_are_not_reused(monkeypatch, tmp_path):
    """The cache key holds the reading code's source digest: another segmenter setting or decoder
    must not be served the old readings."""
    from docrec.compare import runner

    system = parse_systems(["seg"])[0]
    fields = parse_synth("kind=zip,n=2", score="auto")
    before = runner.cache_path(tmp_path, system, fields)
    assert runner.cache_path(tmp_path, system, fields) == before  # stable for the same code
    monkeypatch.setattr(runner, "reading_code", lambda: "another-digest")
    assert runner.cache_path(tmp_path, system, fields) != before


def test_pictures_follow_the_reading_and_unshown_ones_go(tmp_path):
    from docrec.compare.gallery import _reading_digest, remove_unshown

    record = {"text": "12345", "boxes": [[0, 0, 5, 9]], "confidence": 0.5, "penalty": 3.0, "rejected": False}
    assert _reading_digest(record) == _reading_digest(dict(record))
    assert _reading_digest({**record, "text": "12346"}) != _reading_digest(record)  # a new reading, a new picture
    assert _reading_digest({**record, "boxes": [[0, 0, 6, 9]]}) != _reading_digest(record)
    keep = tmp_path / "gallery" / "set" / "seg" / "a-000000.png"
    stale = tmp_path / "gallery" / "set" / "sdnn" / "b-111111.png"
    for png in (keep, stale):
        png.parent.mkdir(parents=True)
        png.write_bytes(b"png")
    assert remove_unshown(tmp_path / "gallery", {keep.resolve()}) == 1
    assert keep.is_file() and not stale.exists() and not stale.parent.exists()


def test_a_rerun_leaves_only_the_pictures_its_report_shows(study):
    out, doc, _ = study
    stale = out / "gallery" / "old-set" / "seg" / "deadbeef-000000.png"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"png")
    again = run_study(_config(out), recognizers=Recognizers(_refuse))
    shown = {g["strip"] for by in again["gallery"].values() for g in by.values()}
    shown |= {e["draw"] for by in again["gallery"].values() for g in by.values() for e in g["errors"] if e["draw"]}
    on_disk = {p.relative_to(out).as_posix() for p in (out / "gallery").rglob("*.png")}
    assert not stale.exists() and on_disk == shown
