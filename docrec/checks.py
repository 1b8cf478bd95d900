"""Checks every ``docrec`` command shares, written once (the parser in :mod:`docrec.cli` applies them).

- **Numeric options** get a range from their name (:data:`RANGES`): counts and sizes at least 1,
  limits and seeds at least 0, rates and probabilities in their intervals, every float finite. A
  value outside is refused with the option's name, never clamped.
- **Output paths** (:func:`output_file`, :func:`output_dir`) are checked before any work starts: a
  file must not be an existing folder and its folder must be writable; a folder must not be a file.
- **Errors** are one line on stderr (:func:`fail`); the exit code is 2 for a bad argument, 1 for a
  failure while working.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

#: option name -> (low, high, inclusive low): the allowed range of a numeric option (None: open).
RANGES: dict[str, tuple[float | None, float | None, bool]] = {
    **{name: (1, None, True) for name in (
        "batch", "batch_fields", "batch_size", "boot", "count", "epochs", "fields", "max_fields", "max_len",
        "max_none", "min_len", "steps", "synth_fields", "threads", "val_fields", "way", "workers",
        "repeats")},
    **{name: (0, None, True) for name in ("limit", "seed", "gallery", "train_limit", "val_size", "usps_digits", "jitter",
                                          "noise", "weight_decay", "map_weight", "joint_local",
                                          "augment_copies", "scan_copies")},
    **{name: (0, 1, True) for name in ("reject_threshold", "none_fraction", "none_iou", "p_join", "synth_share",
                                       "zip_plus4", "distort", "lr_decay")},
    "lr": (0, None, False),
    "sdlm_step_cap": (0, None, False),
    "synth_ratio": (0, None, True),
    "max_pixels": (1, None, True),
}


def ranged(kind: type, dest: str):
    """An argparse ``type`` converting to ``kind`` and enforcing :data:`RANGES` for ``dest``."""
    low, high, inclusive = RANGES.get(dest, (None, None, True))

    def convert(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
        if low is not None and (value < low or (value == low and not inclusive)):
            raise argparse.ArgumentTypeError(f"must be {'>=' if inclusive else '>'} {low:g}, got {text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high:g}, got {text}")
        return value

    convert.__name__ = kind.__name__  # argparse names the type in its messages
    return convert


def weights_arg(text: str) -> Path:
    """An argparse ``type`` for ``--weights``: a bundled name or a path, never empty (``Path("")``
    would silently become the current folder)."""
    if not str(text).strip():
        raise argparse.ArgumentTypeError("empty weights name; give a bundled name or a file")
    return Path(text).expanduser()


def output_file(text: str) -> Path:
    """An argparse ``type`` for a file to be written: not an existing folder, in a writable folder."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is an existing folder; name a file")
    parent = _existing_parent(path.parent)
    if not os.access(parent, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write into {parent}")
    return path


def output_dir(text: str) -> Path:
    """An argparse ``type`` for a folder to be written into: not an existing file, writable."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is an existing file; name a folder")
    parent = _existing_parent(path)
    if not os.access(parent, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write into {parent}")
    return path


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a file, not a folder")
    return path


def one_line(message) -> str:
    """``message`` (an exception or text) on one line: every run of whitespace becomes one space."""
    return " ".join(str(message).split())


def fail(prog: str, message, code: int = 1) -> int:
    """Print ``prog: error: message`` on one line to stderr; returns ``code``."""
    print(f"{prog}: error: {one_line(message)}", file=sys.stderr)
    return code


__all__ = ["RANGES", "fail", "one_line", "output_dir", "output_file", "ranged", "weights_arg"]
