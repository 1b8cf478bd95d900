"""Load the field sets of a comparison: images, truths, per-field facts and content hashes.

A :class:`LoadedSet` holds ``N`` uint8 grey images ``(H_i, W_i)`` with their truths and, per
field, its length (digits of the truth) and, for generator conditions, its spacing preset. Every
system reads exactly these images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from docrec.compare.specs import SetSpec, SpecError, image_hash


@dataclass
class LoadedSet:
    """A field set ready to read.

    Attributes:
        spec: what it was made from.
        images: ``N`` uint8 ``(H, W)`` images.
        truths: ``N`` labels as written in the folder / by the generator.
        hashes: ``N`` content hashes (cache keys).
        lengths: ``N`` digit counts of the truths.
        spacing: the generator's spacing preset (synthetic sets), else None.
        score: ``text`` or ``digits`` (``auto`` resolved).
        names: ``N`` short names (file name or ``#index``), for the gallery.
    """

    spec: SetSpec
    images: list[np.ndarray]
    truths: list[str]
    hashes: list[str]
    lengths: list[int]
    spacing: str | None
    score: str
    names: list[str]

    @property
    def name(self) -> str:
        return self.spec.name

    def scored_truths(self) -> list[str]:
        """The truths as scored: whole text, or digits only."""
        return [_digits(t) for t in self.truths] if self.score == "digits" else list(self.truths)


def _digits(text: str) -> str:
    return "".join(c for c in text if "0" <= c <= "9")


def resolve_score(score: str, grammar: str, truths: list[str]) -> str:
    """``auto`` -> ``digits`` for an amount grammar whose labels are digits only (real cheques:
    the reading keeps separators and end marks the labels leave out), else ``text``."""
    if score != "auto":
        return score
    if grammar.split(":")[0] == "amount" and truths and all(t.isdigit() for t in truths):
        return "digits"
    return "text"


def load_folder(spec: SetSpec) -> LoadedSet:
    """Read a labelled folder (``labels.csv``), keeping the ids / first fields the spec asks for.

    Raises:
        SpecError: unreadable labels, no field left after the id filter, an undecodable image.
    """
    from data import read_fields

    try:
        fs = read_fields(spec.path, boxes=None)
        if spec.ids is not None:
            fs = fs.select_ids(range(spec.ids[0], spec.ids[1] + 1))
    except (OSError, ValueError) as exc:
        raise SpecError(f"--fields {spec.spec!r}: {exc}") from None
    n = len(fs) if spec.limit is None else min(spec.limit, len(fs))
    if n == 0:
        raise SpecError(f"--fields {spec.spec!r}: no labelled field"
                        + (f" with an id in {spec.ids[0]}-{spec.ids[1]}" if spec.ids else ""))
    images = []
    for i in range(n):
        try:
            images.append(fs.image(i))
        except (OSError, ValueError) as exc:
            raise SpecError(f"--fields {spec.spec!r}: {exc}") from None
    truths = list(fs.texts[:n])
    return LoadedSet(spec=spec, images=images, truths=truths, hashes=[image_hash(im) for im in images],
                     lengths=[len(_digits(t)) for t in truths], spacing=None,
                     score=resolve_score(spec.score, spec.grammar, truths),
                     names=[p.name for p in fs.paths[:n]])


def synth_config(settings: dict):
    """The ``data.SynthConfig`` of a parsed generator condition."""
    from data.synth import SynthConfig

    scale = settings["scale"]
    lo, hi = settings["length"]
    return SynthConfig(spacing=settings["spacing"], min_len=lo, max_len=hi, zip_plus4=0.0,
                       noise=settings["noise"], background=settings["paper"],
                       height=None if scale == "natural" else int(scale))


def load_synth(spec: SetSpec, pool) -> LoadedSet:
    """Generate a condition's fields from ``pool`` (held-out digits of its ``digits`` source),
    deterministically by seed.

    Raises:
        SpecError: the generator refuses the settings.
    """
    from data.synth import synthesize

    s = spec.synth
    try:
        fields = synthesize(s["kind"], s["n"], split="test", seed=s["seed"], config=synth_config(s), pool=pool)
    except ValueError as exc:
        raise SpecError(f"--synth {spec.spec!r}: {exc}") from None
    images = [f.image for f in fields]
    truths = [f.text for f in fields]
    return LoadedSet(spec=spec, images=images, truths=truths, hashes=[image_hash(im) for im in images],
                     lengths=[len(_digits(t)) for t in truths], spacing=s["spacing"],
                     score=resolve_score(spec.score, spec.grammar, truths),
                     names=[f"#{i}" for i in range(len(fields))])


def load_sets(specs: list[SetSpec], *, mnist_dir=None, usps_dir=None) -> list[LoadedSet]:
    """Load every set; each digit pool (MNIST test, USPS held-back) is read once, and only if a
    condition needs it.

    Raises:
        SpecError: a bad folder or condition, or missing digits for a generator condition.
    """
    pools: dict = {}
    out = []
    for spec in specs:
        if spec.source == "folder":
            out.append(load_folder(spec))
            continue
        source = spec.synth.get("digits", "mnist")
        if source not in pools:
            pools[source] = _digit_pool(source, mnist_dir=mnist_dir, usps_dir=usps_dir)
        out.append(load_synth(spec, pools[source]))
    return out


def _digit_pool(source: str, *, mnist_dir, usps_dir):
    """The held-out digits of ``source`` (``mnist`` test set or ``usps`` held-back digits) as a pool."""
    from data.synth import DigitPool
    from data.usps import usps_pool

    try:
        if source == "usps":
            return usps_pool("heldout", usps_dir)
        return DigitPool.load("test", mnist_dir)
    except (OSError, ValueError, RuntimeError) as exc:
        where = "--usps-dir or $DOCREC_USPS_DIR" if source == "usps" else "--mnist-dir or $DOCREC_MNIST_DIR"
        raise SpecError(f"--synth digits={source} needs those digits ({where}): {exc}") from None


__all__ = ["LoadedSet", "load_folder", "load_sets", "load_synth", "resolve_score", "synth_config"]
