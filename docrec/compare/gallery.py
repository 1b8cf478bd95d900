"""Error galleries: each system's wrong readings on each set, with the recogniser's own picture.

Per set and system, one PNG strip of up to ``count`` error fields (the field, what was read, the
truth) and, for each of them, the picture the recogniser's ``draw(image, result, out_png)`` makes
(the same as ``docrec recognize --draw``: cuts, chosen pieces and interpretation graph for the
segmentation system and the combination, the frame penalties for the SDNN), shrunk to at most
``MAX_DRAW_WIDTH`` pixels. A picture is named by its field and a digest of the reading it shows,
so a picture already on disk is kept (a resumed run draws nothing again) while a changed reading
gets a new one; pictures the report no longer shows are removed.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np

from data.atomic import atomic_write
from docrec.compare.fieldsets import LoadedSet
from docrec.compare.runner import Recognizers
from docrec.compare.specs import SystemSpec

MAX_DRAW_WIDTH = 560


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:50]


def strip_png(fset: LoadedSet, errors: list[dict], title: str, path: Path) -> Path:
    """One figure: a row per error (field image, reading and truth)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(errors), 1, figsize=(4.2, 0.95 * len(errors) + 0.4), squeeze=False)
    for ax, e in zip(axes[:, 0], errors):
        ax.imshow(fset.images[e["index"]], cmap="gray", vmin=0, vmax=255)
        ax.set_axis_off()
        ax.set_title(f"{e['name']}: read {e['reading'] or '-'!r}, truth {e['truth']!r} "
                     f"(conf {e['confidence']:.2f})", fontsize=7)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def shrink_png(path: Path, *, max_width: int = MAX_DRAW_WIDTH, colours: int = 32) -> None:
    """Downscale a PNG in place to at most ``max_width`` pixels wide, with a ``colours`` palette."""
    from PIL import Image

    with Image.open(path) as im:
        img = im.convert("RGB")
    if img.width > max_width:
        img = img.resize((max_width, round(img.height * max_width / img.width)), Image.LANCZOS)
    img.quantize(colors=colours).save(path, optimize=True)


def _recognition(record: dict):
    from docrec.recognizers import Recognition

    return Recognition(text=record["text"], confidence=record["confidence"], rejected=record["rejected"],
                       boxes=[tuple(b) for b in record["boxes"]],
                       penalty=float("inf") if record["penalty"] is None else record["penalty"])


def _reading_digest(record: dict) -> str:
    """Six hex digits of what a picture shows: the reading's text, boxes, confidence and penalty."""
    shown = [record["text"], record["boxes"], round(float(record["confidence"]), 6), record["penalty"],
             record["rejected"]]
    return hashlib.sha1(json.dumps(shown, default=str).encode()).hexdigest()[:6]


def remove_unshown(gallery_dir: Path, shown: set[Path]) -> int:
    """Delete the PNGs under ``gallery_dir`` that are not in ``shown`` (absolute paths), and the
    folders left empty; returns how many pictures went."""
    if not gallery_dir.is_dir():
        return 0
    gone = 0
    for png in sorted(gallery_dir.rglob("*.png")):
        if png.resolve() not in shown:
            png.unlink()
            gone += 1
    for folder in sorted((d for d in gallery_dir.rglob("*") if d.is_dir()), key=lambda d: -len(d.parts)):
        if not any(folder.iterdir()):
            folder.rmdir()
    return gone


def draw_errors(spec: SystemSpec, fset: LoadedSet, errors: list[dict], records_by_hash: dict[str, dict], *,
                out: Path, recognizers: Recognizers, log=None) -> list[str | None]:
    """The recogniser's picture of each error (file names relative to ``out``; None if it failed)."""
    names: list[str | None] = []
    for e in errors:
        rel = Path("gallery") / _slug(fset.name) / _slug(spec.label) / (
            f"{e['field']}-{_reading_digest(records_by_hash[e['field']])}.png")
        target = out / rel
        if not target.is_file():
            rec = recognizers.get(spec, fset.spec, score=fset.score)
            draw = getattr(rec, "draw", None)
            if draw is None:
                names.append(None)
                continue
            image, result = np.asarray(fset.images[e["index"]]), _recognition(records_by_hash[e["field"]])

            def write(tmp: Path, image=image, result=result) -> None:
                draw(image, result, tmp)
                shrink_png(tmp)

            try:  # atomic: a picture on disk is a whole one, so a resumed run may keep it
                atomic_write(target, write, suffix=".png")
            except (ValueError, RuntimeError, OSError) as exc:
                if log:
                    log(f"could not draw {fset.name} {e['name']} for {spec.label}: {exc}")
                names.append(None)
                continue
        names.append(rel.as_posix())
    return names


def make_galleries(doc: dict, systems: list[SystemSpec], sets: list[LoadedSet], readings: dict, *, out: Path,
                   recognizers: Recognizers, count: int = 3, log=None) -> dict:
    """``{set: {system: {"strip": file, "errors": [... with "draw"]}}}``; also writes the PNGs."""
    gallery: dict[str, dict] = {}
    for fset in sets:
        for spec in systems:
            errors = [dict(e) for e in doc["results"][fset.name][spec.label]["errors"][:count]]
            if not errors:
                continue
            strip = Path("gallery") / f"{_slug(fset.name)}-{_slug(spec.label)}.png"
            strip_png(fset, errors, f"{spec.label} on {fset.name}: first {len(errors)} errors", out / strip)
            by_hash = {r["field"]: r for r in readings[fset.name][spec.label]}
            for e, d in zip(errors, draw_errors(spec, fset, errors, by_hash, out=out, recognizers=recognizers,
                                                log=log)):
                e["draw"] = d
            gallery.setdefault(fset.name, {})[spec.label] = {"strip": strip.as_posix(), "errors": errors}
    shown = {(out / entry["strip"]).resolve() for by_system in gallery.values() for entry in by_system.values()}
    shown |= {(out / e["draw"]).resolve() for by_system in gallery.values() for entry in by_system.values()
              for e in entry["errors"] if e.get("draw")}
    remove_unshown(out / "gallery", shown)
    return gallery


__all__ = ["draw_errors", "make_galleries", "remove_unshown", "shrink_png", "strip_png"]
