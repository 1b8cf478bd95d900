"""The docs resolve and the generated parts are current: README size and headline table, docs/cli.md
and docs/training.md, and every docs page or link that the code and the docs cite."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True)


def test_readme_is_short_and_names_the_test_command():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert "make test" in text and "make demo" in text


def test_headline_table_is_generated_from_the_results():
    out = run("benchmarks/headline.py", "--check")
    assert out.returncode == 0, out.stderr


def test_a_hand_edited_readme_figure_is_caught(tmp_path):
    """Both generated tables (headline and the compare summary) are checked: a figure typed over
    in either makes --check fail, and a rewrite restores the README exactly."""
    readme = (ROOT / "README.md").read_text()
    headline = readme.split("<!-- headline:start -->")[1].split("<!-- headline:end -->")[0]
    compare = readme.split("<!-- docrec compare --table")[1].split("<!-- end docrec compare -->")[0]
    for block in (headline, compare):
        row = next(line for line in block.splitlines() if "%" in line)
        edited = readme.replace(row, re.sub(r"\d+\.\d%", "99.9%", row, count=1), 1)
        assert edited != readme
        copy = tmp_path / "README.md"
        copy.write_text(edited)
        out = run("benchmarks/headline.py", "--check", "--readme", str(copy))
        assert out.returncode == 1 and "stale" in out.stderr, out.stderr
        assert run("benchmarks/headline.py", "--readme", str(copy)).returncode == 0
        assert copy.read_text() == readme


def test_generated_docs_pages_are_current():
    out = run("docs/make_docs.py", "--check")
    assert out.returncode == 0, out.stderr


def test_every_cited_docs_page_exists():
    cited = set()
    for path in ROOT.rglob("*.py"):
        if any(part in (".venv", "runs", "build") for part in path.parts):
            continue
        cited.update(re.findall(r"docs/([\w-]+\.md)", path.read_text(encoding="utf-8")))
    missing = sorted(c for c in cited if not (ROOT / "docs" / c).is_file())
    assert cited and not missing, f"cited but missing: {missing}"
    assert not [p for p in ROOT.rglob("*.py") if ".venv" not in p.parts and "runs" not in p.parts
                and re.search(r"\b(PAPER|DESIGN|HELPERS)\.md", p.read_text(encoding="utf-8"))]


def test_relative_links_in_the_docs_resolve():
    bad = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            if not (page.parent / target).exists():
                bad.append(f"{page.name} -> {target}")
    assert not bad, bad
