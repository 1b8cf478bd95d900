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


class _Threads:
    """How many threads the kernel may use for one batch (process-wide, like ``torch.set_num_threads``)."""

    def __init__(self) -> None:
        raw = os.environ.get("DOCREC_GTN_THREADS", "1").strip() or "1"
        try:
            self.n = int(raw)
        except ValueError:
            raise ValueError(f"[gtn] DOCREC_GTN_THREADS={raw!r}; expected a positive integer") from None
        if self.n < 1:
            raise ValueError(f"[gtn] DOCREC_GTN_THREADS={raw!r}; expected a positive integer")


_THREADS = _Threads()


def set_num_threads(n: int) -> None:
    """Let the kernel split a batch over ``n`` threads (default 1, or ``$DOCREC_GTN_THREADS``).

    Results do not depend on it (batches are split at graph boundaries). It pays on large batches
    when the cores are otherwise idle; with torch's own worker threads spinning beside it (torch
    with several threads and the default OpenMP wait policy) it can be slower: measure
    (benchmarks/gtn_ops.py).

    Raises:
        ValueError: ``n`` is not a positive integer.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"[gtn.set_num_threads] expected a positive integer, got {n!r}")
    _THREADS.n = n


def get_num_threads() -> int:
    """The number of threads the kernel may use for one batch (see :func:`set_num_threads`)."""
    return _THREADS.n


def threads() -> int:
    """Alias of :func:`get_num_threads` for the kernels' callers."""
    return _THREADS.n


def backend() -> str:
    """``"c"`` when the compiled ``gtn._kernels`` runs the loops, else ``"numpy"``."""
    return "numpy" if KERNEL is None else "c"
