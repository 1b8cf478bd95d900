"""Which implementation runs gtn's hot loops: the optional C extension ``gtn._kernels`` or numpy.

``gtn/_kernels.c`` is compiled by ``pip install`` when a C compiler is available (``optional=True`` in
setup.py: without one the install still succeeds). The choice is made once, at import, from the
environment variable ``DOCREC_GTN_KERNEL``: ``auto`` (default: the kernel if it imports, else numpy),
``c`` (require the kernel) or ``numpy`` (force the numpy path, e.g. to compare the two).
Callers read :data:`KERNEL` at call time, so tests may swap it (``monkeypatch.setattr``).
"""

from __future__ import annotations

import os


def load_kernel():
    """The compiled kernel module, or ``None`` for the numpy path, as ``DOCREC_GTN_KERNEL`` says.

    Raises:
        ValueError: for an unknown value of ``DOCREC_GTN_KERNEL``.
        ImportError: for ``DOCREC_GTN_KERNEL=c`` when the extension is not built.
    """
    choice = os.environ.get("DOCREC_GTN_KERNEL", "auto").strip().lower() or "auto"
    if choice not in ("auto", "c", "numpy"):
        raise ValueError(f"[gtn] DOCREC_GTN_KERNEL={choice!r}; expected 'auto', 'c' or 'numpy'")
    if choice == "numpy":
        return None
    try:
        from gtn import _kernels
    except ImportError as e:
        if choice == "c":
            raise ImportError("[gtn] DOCREC_GTN_KERNEL=c but the C extension gtn._kernels is not built "
                              f"(reinstall with a C compiler available: pip install -e .): {e}") from e
        return None
    return _kernels


KERNEL = load_kernel()


def threads() -> int:
    """Threads the kernel may use for one batch: ``torch.get_num_threads()`` (set it with
    ``torch.set_num_threads``). Results do not depend on it: batches are split at graph boundaries."""
    import torch

    return max(1, int(torch.get_num_threads()))


def backend() -> str:
    """``"c"`` when the compiled ``gtn._kernels`` runs the loops, else ``"numpy"``."""
    return "numpy" if KERNEL is None else "c"
