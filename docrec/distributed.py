"""Trainers under ``torchrun``: the process group of one training command and where its network runs.

``torchrun --nproc_per_node=N -m docrec train ...`` starts N processes with ``WORLD_SIZE``,
``RANK`` and ``LOCAL_RANK`` set; :func:`training_processes` joins them (gloo on the CPU, nccl on
CUDA, each process on GPU ``LOCAL_RANK`` when ``--device cuda`` names none) and yields this
process's :class:`lenet.shard.Shard`. Without torchrun (``WORLD_SIZE`` unset or 1) it yields
``Shard(0, 1)`` and starts nothing. How each trainer splits its batches: docs/devices.md.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

import torch

from docrec.devices import resolve_device
from lenet.shard import Shard


@contextlib.contextmanager
def training_processes(device: str | None) -> Iterator[tuple[Shard, torch.device]]:
    """``(shard, device)`` of this process for the duration of a training command.

    Args:
        device: the ``--device`` given (None: CUDA when available, else the CPU).

    Yields:
        This process's shard and the (checked) device its network lives on.

    Raises:
        ValueError: ``device`` is not available on this machine.
    """
    where = resolve_device(device, training=True)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        yield Shard(), where
        return
    import torch.distributed as dist

    if where.type == "cuda":
        if where.index is None:
            where = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(where)
    dist.init_process_group("nccl" if where.type == "cuda" else "gloo")
    try:
        yield Shard(dist.get_rank(), dist.get_world_size()), where
        dist.barrier()  # no process tears down while another still talks
    finally:
        dist.destroy_process_group()


def is_main(shard: Shard | None) -> bool:
    """True for the process that writes checkpoints and shows progress (rank 0, or the only one)."""
    return shard is None or shard.rank == 0


__all__ = ["is_main", "training_processes"]
