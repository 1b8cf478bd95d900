"""Atomic file writes: the one way this project writes a file that must never be seen half-written
(checkpoints, weights, caches, results, labels, downloads, pictures).

:func:`atomic_write` hands a temporary path in the target's own folder to a writer function, then
``os.replace``-s it onto the target (atomic on POSIX and Windows for one volume); a failed write
removes the temporary file and leaves any previous target untouched. The folder is created if
needed.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable


def atomic_write(path: str | os.PathLike, write: Callable[[Path], Any], *, suffix: str = ".tmp") -> Path:
    """Call ``write(tmp)`` on a fresh temporary file next to ``path``, then move it onto ``path``.

    ``suffix`` ends the temporary name (some writers choose the format from it: ``.png``, ``.npz``).
    Returns ``path``. Whatever ``write`` raises propagates, with the temporary file removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json_atomic(path: str | os.PathLike, obj: Any, **dumps_kwargs) -> Path:
    """Write ``obj`` as indented JSON (``indent=2`` unless given) plus a newline, atomically."""
    dumps_kwargs.setdefault("indent", 2)
    return write_text_atomic(path, json.dumps(obj, **dumps_kwargs) + "\n")




def fetch(url: str, target: str | os.PathLike, *, md5: str, timeout: float = 30.0) -> Path:
    """Download ``url`` onto ``target`` atomically, keeping it only if its MD5 is ``md5``.

    Raises:
        OSError (``urllib.error.URLError`` included), TimeoutError: the download failed.
        ValueError: the file arrived with another checksum (nothing is kept).
    """
    import hashlib
    import urllib.request

    def download(tmp: Path) -> None:
        digest = hashlib.md5()
        with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            for block in iter(lambda: resp.read(1 << 16), b""):
                out.write(block)
                digest.update(block)
        if digest.hexdigest() != md5:
            raise ValueError(f"{url} delivered a file with MD5 {digest.hexdigest()}, expected {md5}")

    return atomic_write(target, download)


__all__ = ["atomic_write", "fetch", "write_json_atomic", "write_text_atomic"]
