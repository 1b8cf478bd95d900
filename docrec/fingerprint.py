"""Fingerprints of source code, so that a cache made by other code is never reused."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import ModuleType


def source_digest(*packages: ModuleType) -> str:
    """A 12-hex-digit hash of the ``.py`` sources of ``packages`` (each a package or a module, with
    its subpackages), by relative path and contents."""
    h = hashlib.sha1()
    for package in packages:
        root = Path(package.__file__).parent
        files = sorted(root.rglob("*.py")) if Path(package.__file__).name == "__init__.py" else [Path(package.__file__)]
        for path in files:
            h.update(f"{package.__name__}/{path.relative_to(root)}".encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


__all__ = ["source_digest"]
