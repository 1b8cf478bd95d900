"""data.atomic: the one atomic writer (a failed write keeps the old file and leaves no temp file)."""

import json

import pytest

from data.atomic import atomic_write, write_json_atomic


def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "sub" / "out.json"
    write_json_atomic(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}

    def broken(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, broken)
    assert json.loads(target.read_text()) == {"a": 1}  # the old file is intact
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.json"]  # and no temp file is left


def test_writer_gets_a_path_with_the_suffix_it_asks_for(tmp_path):
    seen = []
    atomic_write(tmp_path / "x.npz", lambda tmp: (seen.append(tmp.suffix), tmp.write_bytes(b"1")), suffix=".npz")
    assert seen == [".npz"] and (tmp_path / "x.npz").read_bytes() == b"1"
