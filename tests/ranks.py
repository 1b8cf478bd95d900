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

    A rank killed by SIGABRT once every output is written does not fail the test: with this torch
    build a gloo process sometimes aborts while exiting, after ``destroy_process_group``
    ("terminate called without an active exception"; seen once in a full test run here), when its
    work is done. Any other failure, or an abort before every rank wrote its output, is raised.
    """
    try:
        mp.spawn(worker, args=args, nprocs=len(outputs), join=True)
    except mp.ProcessExitedException as exc:
        if exc.signal_name != "SIGABRT" or not all(Path(p).is_file() for p in outputs):
            raise
