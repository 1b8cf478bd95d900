"""What every recogniser returns and accepts: the shared interface of the seg and SDNN systems."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from segmenter.preprocess import light_ink

#: Refuse field images with more pixels than this unless the caller raises the limit.
DEFAULT_MAX_PIXELS = 4_000_000


def digit_string(text: str) -> str:
    """The digits of ``text`` in order: what a bank keys of a courtesy amount.

    Args:
        text: a reading such as ``"$1.250.000.-"``.

    Returns:
        Its ASCII digits, e.g. ``"1250000"`` (``""`` for a text without digits).

    Raises:
        ValueError: ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise ValueError(f"[docrec.digit_string] expected a string, got {type(text).__name__}: {text!r}")
    return "".join(c for c in text if "0" <= c <= "9")


@dataclass
class Recognition:
    """The answer for one field image.

    Attributes:
        text: the decoded string ("" when rejected for lack of any allowed interpretation).
        confidence: posterior probability of ``text`` among the interpretations the grammar allows,
            in [0, 1]; for a recogniser reading with ``score="digits"`` (amounts on the command
            line), of its digit string, every interpretation with those digits counted.
        rejected: True when the recogniser declines to answer (confidence below the threshold,
            no path allowed by the grammar, unreadable or empty input).
        boxes: one ``(x0, y0, x1, y1)`` box per character of ``text``, in input-image pixels.
        penalty: penalty of the best interpretation (lower is better; ``inf`` if none).
        reason: why the result was rejected ("" when accepted).
        alternatives: n-best ``(text, penalty)`` pairs after the best, when requested.

    Properties:
        digits: the digit string a bank would key: ``text`` without separators, end marks, ``$`` or
            ``*`` (``"$15.728.-"`` -> ``"15728"``; ``""`` when rejected without a text).
    """

    text: str
    confidence: float
    rejected: bool
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)
    penalty: float = float("inf")
    reason: str = ""
    alternatives: list[tuple[str, float]] = field(default_factory=list)

    @property
    def digits(self) -> str:
        """``text`` with every non-digit removed (see :func:`digit_string`)."""
        return digit_string(self.text)

    def to_json(self) -> dict:
        """A JSON-ready dict: the fields plus ``digits``; an infinite penalty becomes ``None``."""
        out = asdict(self)
        out["digits"] = self.digits
        out["boxes"] = [list(map(int, b)) for b in self.boxes]
        out["alternatives"] = [[t, float(p)] for t, p in self.alternatives]
        out["penalty"] = None if not np.isfinite(self.penalty) else float(self.penalty)
        return out

    @classmethod
    def reject(cls, reason: str) -> "Recognition":
        """A rejected result with zero confidence and the given reason."""
        return cls(text="", confidence=0.0, rejected=True, reason=reason)


class Recognizer(Protocol):
    """The interface every recogniser (seg, sdnn, combo) has.

    Built as ``Cls(weights=NAME_OR_PATH, config=...)`` (weights of another system are refused,
    :func:`docrec.weights.resolve`); uint8 images ``(H, W)`` (white background) -> one
    :class:`Recognition` each, with ``n_best - 1`` alternatives; ``temperature`` scales the
    penalties behind the confidence; ``draw`` pictures one reading.
    """

    name: str

    def recognize(self, images: Sequence[np.ndarray], *, grammar=None, n_best: int = 1) -> list[Recognition]:
        ...

    def draw(self, image: np.ndarray, result: Recognition, path) -> Path:
        ...


def as_grammar(grammar, *, where: str):
    """What a recogniser was given as its grammar -> a ``decoders.Grammar`` or None.

    Args:
        grammar: a ``decoders.Grammar``, a CLI spec (``zip``, ``amount``, ``digits:M-N``, a pattern;
            :func:`docrec.recognizers.resolve_grammar`) or None (any text).
        where: the caller, named in the error.

    Raises:
        TypeError: anything else, named (before any image is read).
        ValueError: a spec that is not a grammar.
    """
    from decoders import Grammar
    from docrec.recognizers import resolve_grammar  # the package imports this module

    if isinstance(grammar, str):
        return resolve_grammar(grammar)
    if grammar is not None and not isinstance(grammar, Grammar):
        raise TypeError(f"[{where}] grammar must be a decoders.Grammar, a grammar spec such as 'zip', "
                        f"or None; got {type(grammar).__name__}")
    return grammar


def as_image_list(images, *, where: str) -> list:
    """``images`` as a list of images, refusing a bare array (which would be read row by row) and
    anything that is not a sequence.

    Raises:
        TypeError: ``"[where] expected a list of images ..."``.
    """
    if isinstance(images, (np.ndarray, str, bytes)) or not hasattr(images, "__len__"):
        what = f"a {images.ndim}-d array" if isinstance(images, np.ndarray) else type(images).__name__
        raise TypeError(f"[{where}] expected a list of images, got {what} (wrap one image as [image])")
    return list(images)


def check_field_image(image: np.ndarray, *, max_pixels: int = DEFAULT_MAX_PIXELS,
                      where: str = "docrec") -> np.ndarray:
    """Validate one field image and return it as uint8 ``(H, W)``.

    Accepts uint8/float greyscale ``(H, W)`` or colour ``(H, W, 3|4)`` arrays (colour is converted
    with the usual luma weights; floats are taken as 0..1 when their maximum is <= 1). A field of
    light ink on dark paper (MNIST's own polarity, a negative scan;
    :func:`segmenter.preprocess.light_ink`) is inverted, so every recogniser reads dark ink on
    light paper.

    Raises:
        ValueError: naming the problem (wrong rank, empty, too large, non-finite values).
    """
    arr = np.asarray(image)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
                                   or arr.dtype == bool):
        raise ValueError(f"[{where}] expected an image of integers or real numbers, got dtype {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        rgb = arr[..., :3].astype(np.float32)
        arr = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        if np.asarray(image).dtype == np.uint8:
            arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    if arr.ndim != 2:
        raise ValueError(f"[{where}] expected a greyscale (H, W) or colour (H, W, 3) image, got shape {np.asarray(image).shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"[{where}] empty image of shape {arr.shape}")
    if arr.shape[0] * arr.shape[1] > max_pixels:
        raise ValueError(
            f"[{where}] image of {arr.shape[1]}x{arr.shape[0]} = {arr.shape[0] * arr.shape[1]} pixels "
            f"exceeds the limit of {max_pixels} pixels (raise max_pixels to allow it)"
        )
    if arr.dtype != np.uint8:
        a = arr.astype(np.float64)
        if not np.isfinite(a).all():
            raise ValueError(f"[{where}] image contains NaN or infinite values")
        if a.min(initial=0.0) < 0:
            raise ValueError(f"[{where}] image holds negative values (min {a.min():g}); expected 0..255 or 0..1")
        if a.max(initial=0.0) <= 1.0:
            a = a * 255.0
        arr = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    return 255 - arr if light_ink(arr) else arr


def load_field_image(path: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file as uint8 greyscale ``(H, W)``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file cannot be decoded as an image, or fails :func:`check_field_image`.
    """
    from data.folder import read_image

    img = read_image(path, max_pixels=max_pixels)
    return check_field_image(img, max_pixels=max_pixels, where=f"docrec: {path}")
