"""Running gloo ranks in a test with ``torch.multiprocessing.spawn``."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Callable, Sequence

import torch.multiprocessing as mp


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the ranks' rendezvous)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_ranks(worker: Callable, args: tuple, outputs: Sequence[str | Path]) -> None:
    """Run ``worker(rank, *args)`` in ``len(outputs)`` processes; rank ``r`` writes ``outputs[r]``.

    Any failure of a rank fails the test, an abort while exiting included (the workers join their
    process group through ``docrec.distributed.join_process_group``, which makes teardown safe).
    """
    mp.spawn(worker, args=args, nprocs=len(outputs), join=True)
    missing = [str(p) for p in outputs if not Path(p).is_file()]
    if missing:
        raise AssertionError(f"[tests.spawn_ranks] ranks exited without writing {missing}")
