"""What ``docrec compare`` is asked to compare: system specs and field-set specs, parsed and checked.

System specs (``--systems``)::

    seg | sdnn | combo | crnn                  a system with the weights the CLI reads with
    SYSTEM:WEIGHTS                             a bundled weights name or a file, e.g. sdnn:sdnn-way2
    combo:SEG+SDNN                             the combined reader with these seg and SDNN weights
    LABEL=SYSTEM[:WEIGHTS]                     the same under another name in the report

A plain system reads a labelled folder with the weights ``docrec recognize`` would use for its
grammar (:func:`docrec.recognizers.default_weights`: the real-trained ones for ``amount``) and a
generator condition with the weights trained on generated fields (the real-trained ones read
generated amounts worse: they never learnt ``$`` and ``*``). ``crnn`` is the
segmentation-free baseline: the SDNN recogniser with the whole-strip ``StripNet`` (conv trunk +
BiLSTM, trained with the CTC criterion; docs/compare.md), ``sdnn-strip`` or, for real amounts,
``sdnn-strip-real``.

Field-set specs: a labelled folder (``--fields DIR[:key=value,...]``, keys ``ids=A-B``,
``grammar=``, ``score=text|digits``, ``name=``, ``limit=N``) or a condition of the generator
(``--synth key=value,...``, keys ``kind`` (digits, zip, amount, cheque), ``n`` (default 200),
``seed`` (default 1), ``length`` (``L`` or ``A-B``, digits only), ``spacing`` (wide, normal,
tight, touching, overlapping), ``paper`` (white, texture, lined, form, guilloche), ``noise``
(grey levels), ``scale`` (height in pixels or ``natural``), ``digits`` (``mnist``: the MNIST test
digits, the default; ``usps``: the 1,000 held-back USPS envelope digits, another population of writers
and scanners), ``grammar``, ``score``, ``name``). Synthetic fields are made of held-out digits only:
they are for measuring.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
SYSTEM_NAMES = ("seg", "sdnn", "combo", "crnn")
#: alias -> (registry system, weights, weights for amount grammars)
ALIASES = {"crnn": ("sdnn", "sdnn-strip", "sdnn-strip-real")}
#: The weights each registry system loads when given none (the recognisers' own defaults).
SYSTEM_DEFAULT_WEIGHTS = {"seg": "seg-lenet5", "sdnn": "sdnn", "combo": "seg-modern"}
SCORES = ("auto", "text", "digits")
SYNTH_KEYS = ("kind", "n", "seed", "length", "spacing", "paper", "noise", "scale", "digits", "grammar", "score",
              "name")
#: Where a generator condition's digits come from: held-out digits only (measuring, never training).
DIGIT_SOURCES = ("mnist", "usps")
FOLDER_KEYS = ("ids", "grammar", "score", "name", "limit")


class SpecError(ValueError):
    """A bad ``--systems`` / ``--fields`` / ``--synth`` value; the message names it."""


@dataclass(frozen=True)
class SystemSpec:
    """One system to compare.

    Attributes:
        label: its name in the report.
        system: the registry system (``seg``, ``sdnn``, ``combo``).
        weights: the weights named on the command line (None: chosen per grammar).
        alias: ``crnn`` when named by the alias, else None.
    """

    label: str
    system: str
    weights: str | None = None
    alias: str | None = None

    def weights_for(self, grammar: str, *, real: bool = True) -> str:
        """The weights (bundled name or path) this system reads fields of ``grammar`` with.

        ``real``: the fields are a labelled folder (real scans, as far as we know): an amount
        grammar then picks the weights ``docrec recognize`` uses for real amounts. Generated fields
        (``real=False``) are read with the weights trained on generated fields.
        """
        from docrec.recognizers import default_weights

        if self.weights is not None:
            return self.weights
        is_real_amount = real and grammar.split(":")[0] == "amount"
        if self.alias in ALIASES:
            _, plain, amount = ALIASES[self.alias]
            return amount if is_real_amount else plain
        chosen = default_weights(self.system, grammar) if is_real_amount else None
        return chosen or SYSTEM_DEFAULT_WEIGHTS[self.system]

    def weights_for_set(self, fields: "SetSpec") -> str:
        """The weights this system reads the field set ``fields`` with (see :meth:`weights_for`)."""
        return self.weights_for(fields.grammar, real=fields.source == "folder")


def weights_file(weights: str) -> Path:
    """The file of a bundled weights name or a path.

    Raises:
        SpecError: neither a bundled name nor an existing file.
    """
    path = Path(weights)
    if path.is_file():
        return path
    bundled = WEIGHTS_DIR / f"{weights}.pt"
    if not path.suffix and "/" not in weights and bundled.is_file():
        return bundled
    names = sorted(p.stem for p in WEIGHTS_DIR.glob("*.pt"))
    raise SpecError(f"weights {weights!r}: neither a file nor a bundled name ({', '.join(names)})")


def weights_files(weights: str) -> list[Path]:
    """The files of a weights spec: one, or the seg and the SDNN files of the combined reader's
    ``SEG+SDNN`` (:func:`docrec.recognizers.combo.split_weights`).

    Raises:
        SpecError: a part that is neither a bundled name nor an existing file.
    """
    from docrec.recognizers.combo import split_weights

    try:
        seg, sdnn = split_weights(weights)
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    return [weights_file(str(seg))] + ([] if sdnn is None else [weights_file(sdnn)])


def combo_sdnn_weights(seg_file: Path) -> str:
    """The SDNN weights the combined reader pairs with the seg weights ``seg_file`` when none are given:
    the ``sdnn_weights`` setting stored in their ``meta["combo"]``, else the SDNN's default weights.

    Raises:
        SpecError: a file that torch cannot read as weights.
    """
    import torch

    try:
        blob = torch.load(seg_file, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same error for the user
        raise SpecError(f"weights {seg_file}: not readable as weights ({exc.__class__.__name__})") from None
    meta = blob.get("meta") if isinstance(blob, dict) else None
    return str(((meta or {}).get("combo") or {}).get("sdnn_weights") or SYSTEM_DEFAULT_WEIGHTS["sdnn"])


def parse_system(spec: str) -> SystemSpec:
    """Parse one ``--systems`` entry (module docstring).

    Raises:
        SpecError: unknown system, empty label, or weights that do not exist.
    """
    label, eq, body = spec.partition("=")
    if not eq:
        label, body = spec, spec
    if not label or not body:
        raise SpecError(f"--systems {spec!r}: expected SYSTEM, SYSTEM:WEIGHTS or LABEL=SYSTEM[:WEIGHTS]")
    name, colon, weights = body.partition(":")
    if name not in SYSTEM_NAMES:
        raise SpecError(f"--systems {spec!r}: unknown system {name!r}; choose from {', '.join(SYSTEM_NAMES)}")
    if colon and not weights:
        raise SpecError(f"--systems {spec!r}: empty weights after ':'")
    if weights:
        try:
            files = weights_files(weights)  # fail now, not after an hour of reading
        except SpecError as exc:
            raise SpecError(f"--systems {spec!r}: {exc}") from None
        if len(files) > 1 and name != "combo":
            raise SpecError(f"--systems {spec!r}: SEG+SDNN weights are for combo only")
    alias = name if name in ALIASES else None
    system = ALIASES[name][0] if alias else name
    return SystemSpec(label=label, system=system, weights=weights or None, alias=alias)


def parse_systems(specs: list[str]) -> list[SystemSpec]:
    """Parse every ``--systems`` entry; labels must be distinct."""
    out = [parse_system(s) for s in specs]
    labels = [s.label for s in out]
    for lab in labels:
        if labels.count(lab) > 1:
            raise SpecError(f"--systems: the label {lab!r} is given twice (name one LABEL=SYSTEM:WEIGHTS)")
    if not out:
        raise SpecError("--systems: name at least one system")
    return out


def _pairs(text: str, *, what: str, keys: tuple[str, ...]) -> dict[str, str]:
    """``key=value,key=value`` -> dict, every key known and given once."""
    out: dict[str, str] = {}
    for item in filter(None, text.split(",")):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not value.strip():
            raise SpecError(f"{what}: {item!r} is not key=value")
        if key not in keys:
            raise SpecError(f"{what}: unknown key {key!r}; known keys: {', '.join(keys)}")
        if key in out:
            raise SpecError(f"{what}: key {key!r} given twice")
        out[key] = value.strip()
    return out


def _int_range(text: str, *, what: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)(?:-(\d+))?", text)
    if not m:
        raise SpecError(f"{what}: {text!r} is not N or A-B")
    lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
    if lo > hi:
        raise SpecError(f"{what}: empty range {text!r}")
    return lo, hi


def _score(value: str, *, what: str) -> str:
    if value not in SCORES:
        raise SpecError(f"{what}: score={value!r}; choose from {', '.join(SCORES)}")
    return value


@dataclass
class SetSpec:
    """One field set: a labelled folder or a generator condition.

    Attributes:
        name: its name in the report (distinct among the sets).
        source: ``"folder"`` or ``"synth"``.
        grammar: grammar spec (``docrec.recognizers.resolve_grammar``).
        score: ``auto``, ``text`` or ``digits``.
        path: the folder (folder sets).
        ids: inclusive id range of the folder's file names, or None for all.
        limit: read only the first N fields (folder sets).
        synth: generator settings (synthetic sets): kind, n, seed, spacing, length, paper, noise, scale.
        spec: the text it was parsed from.
    """

    name: str
    source: str
    grammar: str
    score: str = "auto"
    path: Path | None = None
    ids: tuple[int, int] | None = None
    limit: int | None = None
    synth: dict = field(default_factory=dict)
    spec: str = ""


def parse_folder(spec: str, *, grammar: str, score: str) -> SetSpec:
    """Parse ``DIR[:key=value,...]`` (module docstring); the folder must hold ``labels.csv``."""
    what = f"--fields {spec!r}"
    head, colon, tail = spec.rpartition(":")
    if colon and "=" in tail and head:
        root, opts = Path(head), _pairs(tail, what=what, keys=FOLDER_KEYS)
    else:
        root, opts = Path(spec), {}
    if not root.is_dir():
        raise SpecError(f"{what}: no such folder {str(root)!r}")
    if not (root / "labels.csv").is_file():
        raise SpecError(f"{what}: {root} holds no labels.csv (path,text); make one with docrec synth or by hand")
    ids = _int_range(opts["ids"], what=f"{what} ids") if "ids" in opts else None
    limit = None
    if "limit" in opts:
        if not opts["limit"].isdigit() or int(opts["limit"]) < 1:
            raise SpecError(f"{what}: limit={opts['limit']!r} is not a positive integer")
        limit = int(opts["limit"])
    name = opts.get("name") or root.name + (f"[{ids[0]}-{ids[1]}]" if ids else "")
    return SetSpec(name=name, source="folder", grammar=opts.get("grammar", grammar),
                   score=_score(opts.get("score", score), what=what), path=root, ids=ids, limit=limit, spec=spec)


def parse_synth(spec: str, *, score: str) -> SetSpec:
    """Parse a generator condition ``key=value,...`` (module docstring) and check its values."""
    from data.backgrounds import BACKGROUNDS
    from data.synth import SPACING_PRESETS
    from data.texts import KINDS

    what = f"--synth {spec!r}"
    opts = _pairs(spec, what=what, keys=SYNTH_KEYS)
    kind = opts.get("kind", "zip")
    if kind not in KINDS:
        raise SpecError(f"{what}: kind={kind!r}; choose from {', '.join(KINDS)}")
    spacing = opts.get("spacing", "normal")
    if spacing not in SPACING_PRESETS:
        raise SpecError(f"{what}: spacing={spacing!r}; choose from {', '.join(SPACING_PRESETS)}")
    paper = opts.get("paper", "white")
    if paper not in BACKGROUNDS:
        raise SpecError(f"{what}: paper={paper!r}; choose from {', '.join(BACKGROUNDS)}")
    digits = opts.get("digits", "mnist")
    if digits not in DIGIT_SOURCES:
        raise SpecError(f"{what}: digits={digits!r}; choose from {', '.join(DIGIT_SOURCES)}")
    settings: dict = {"kind": kind, "spacing": spacing, "paper": paper, "digits": digits}
    for key, lo in (("n", 1), ("seed", 0)):
        value = opts.get(key, "200" if key == "n" else "1")
        if not value.isdigit() or int(value) < lo:
            raise SpecError(f"{what}: {key}={value!r} is not an integer >= {lo}")
        settings[key] = int(value)
    length = _int_range(opts.get("length", "3-8" if kind == "digits" else "1-8"), what=f"{what} length")
    if "length" in opts and kind != "digits":
        raise SpecError(f"{what}: length= applies to kind=digits only (zip codes and amounts have their own)")
    if length[0] < 1 or length[1] > 20:
        raise SpecError(f"{what}: length {length} outside 1-20")
    settings["length"] = list(length)
    try:
        settings["noise"] = float(opts.get("noise", "0"))
    except ValueError:
        raise SpecError(f"{what}: noise={opts['noise']!r} is not a number") from None
    if not 0 <= settings["noise"] <= 128:
        raise SpecError(f"{what}: noise={settings['noise']} outside 0-128 grey levels")
    scale = opts.get("scale", "32")
    if scale != "natural" and not (scale.isdigit() and 8 <= int(scale) <= 512):
        raise SpecError(f"{what}: scale={scale!r}; a height in pixels (8-512) or 'natural'")
    settings["scale"] = scale
    default_grammar = {"zip": "zip", "digits": f"digits:{length[0]}-{length[1]}"}.get(kind, "amount")
    name = opts.get("name") or "-".join(
        [kind] + ([f"{length[0]}-{length[1]}"] if kind == "digits" else []) + [spacing]
        + ([paper] if paper != "white" else []) + ([f"noise{opts['noise']}"] if "noise" in opts else [])
        + ([f"h{scale}"] if scale != "32" else []) + ([digits] if digits != "mnist" else []))
    return SetSpec(name=name, source="synth", grammar=opts.get("grammar", default_grammar),
                   score=_score(opts.get("score", score), what=what), synth=settings, spec=spec)


def check_sets(sets: list[SetSpec]) -> list[SetSpec]:
    """At least one set, distinct names, and grammars the recognisers accept."""
    from docrec.recognizers import resolve_grammar

    if not sets:
        raise SpecError("name at least one field set (--fields DIR or --synth CONDITION)")
    names = [s.name for s in sets]
    for s in sets:
        if names.count(s.name) > 1:
            raise SpecError(f"two field sets are named {s.name!r}; give one a name= (e.g. --synth ...,name=zip-b)")
        try:
            resolve_grammar(s.grammar)
        except ValueError as exc:
            raise SpecError(f"field set {s.name!r}: bad grammar {s.grammar!r}: {exc}") from None
    return sets


def image_hash(image) -> str:
    """A content hash of one uint8 image (shape and pixels): the cache key of its readings."""
    h = hashlib.sha1(f"{image.shape}".encode())
    h.update(image.tobytes())
    return h.hexdigest()[:20]


__all__ = ["ALIASES", "SCORES", "SYSTEM_NAMES", "SetSpec", "SpecError", "SystemSpec", "check_sets", "image_hash",
           "parse_folder", "parse_synth", "parse_system", "parse_systems", "weights_file",
           "weights_files", "combo_sdnn_weights"]
