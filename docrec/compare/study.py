"""The whole field comparison: load the sets, read them with every system (cached), score, draw and
write ``OUT/results.json``, ``OUT/report.md`` and the PNGs."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from docrec.compare import gallery, metrics, plots, report
from docrec.compare.fieldsets import load_sets
from docrec.compare.runner import Recognizers, read_all
from docrec.compare.specs import SetSpec, SystemSpec, check_sets


@dataclass
class StudyConfig:
    """Settings of one comparison run.

    Attributes:
        systems: the systems to compare.
        sets: the field sets (folders and generator conditions).
        out: output folder (``cache/`` inside keeps the readings).
        batch: fields per ``recognize`` call.
        gallery: errors per system and set drawn in the gallery (0: none).
        n_boot: bootstrap resamples of the CER interval.
        progress: tqdm bars on stderr.
        mnist_dir: MNIST folder for the generator conditions (None: the loader's default).
        usps_dir: USPS folder for conditions with ``digits=usps`` (None: the loader's default).
        command: the command line, recorded in the report.
        device: where the recognisers' networks run (None: the CPU; :mod:`docrec.devices`).
    """

    systems: list[SystemSpec]
    sets: list[SetSpec]
    out: Path
    batch: int = 16
    gallery: int = 3
    n_boot: int = 2000
    progress: bool = True
    mnist_dir: str | None = None
    usps_dir: str | None = None
    command: list[str] = field(default_factory=list)
    device: str | None = None


def write_json(path: Path, doc: dict) -> None:
    """Write atomically (:func:`data.atomic.write_text_atomic`); lists of numbers on one line."""
    from data.atomic import write_text_atomic

    text = re.sub(r"\[\s+([-+0-9.eE, \n]+?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]",
                  json.dumps(doc, indent=1))
    write_text_atomic(path, text + "\n")


def run_study(config: StudyConfig, *, recognizers: Recognizers | None = None, log=None) -> dict:
    """Run the comparison and write its files; returns the ``results.json`` document.

    Raises:
        docrec.compare.specs.SpecError: a bad set (named) found while loading.
    """
    check_sets(config.sets)
    recognizers = recognizers or Recognizers(device=config.device)
    loaded = load_sets(config.sets, mnist_dir=config.mnist_dir, usps_dir=config.usps_dir)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    readings = read_all(config.systems, loaded, cache_dir=out / "cache", recognizers=recognizers,
                        batch=config.batch, progress=config.progress)
    doc = metrics.build_results(config.systems, loaded, readings, n_boot=config.n_boot, command=config.command)
    doc["plots"] = plots.draw_all(doc, out)
    if config.gallery > 0:
        doc["gallery"] = gallery.make_galleries(doc, config.systems, loaded, readings, out=out,
                                                recognizers=recognizers, count=config.gallery, log=log)
    write_json(out / "results.json", doc)
    (out / "report.md").write_text(report.render(doc))
    return doc


__all__ = ["StudyConfig", "run_study", "write_json"]
