"""Trainers under ``torchrun``: the process group of one training command and where its network runs.

``torchrun --nproc_per_node=N -m docrec train ...`` starts N processes with ``WORLD_SIZE``,
``RANK`` and ``LOCAL_RANK`` set; :func:`training_processes` joins them (gloo on the CPU, nccl on
CUDA, each process on GPU ``LOCAL_RANK`` when ``--device cuda`` names none) and yields this
process's :class:`lenet.shard.Shard`. Without torchrun (``WORLD_SIZE`` unset or 1) it yields
``Shard(0, 1)`` and starts nothing. How each trainer splits its batches: docs/devices.md.

On the CPU each process is bound to its own block of the cores this machine lets it use
(:func:`core_block`), so that the operating system does not move a process between cores and
lose its cache; ``DOCREC_PIN_CORES=0`` leaves the placement to the operating system (needed when
two torchrun trainings share one machine: both would bind to the same blocks).
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator, Sequence

import torch

from docrec.devices import resolve_device
from lenet.local_exchange import LocalExchange, local_exchange_supported
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

    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))  # processes on this machine
    if where.type == "cpu" and os.environ.get("DOCREC_PIN_CORES", "1") != "0":
        pin_to_cores(int(os.environ.get("LOCAL_RANK", "0")), local_world)
    if where.type == "cuda":
        if where.index is None:
            where = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(where)
    join_process_group("nccl" if where.type == "cuda" else "gloo")
    exchange = local_exchange(where, world, local_world)
    try:
        yield Shard(dist.get_rank(), dist.get_world_size(), exchange=exchange), where
        dist.barrier()  # no process tears down while another still talks
    finally:
        if exchange is not None:
            exchange.close()
        dist.destroy_process_group()


def local_exchange(where: torch.device, world: int, local_world: int) -> LocalExchange | None:
    """The shared-memory gradient exchange of this process (:class:`lenet.local_exchange.LocalExchange`)
    when the network is on the CPU, every process runs on this machine (``local_world`` of the
    ``world`` processes), the platform supports it and ``DOCREC_LOCAL_EXCHANGE`` is not ``0``; else
    None (gloo's ``all_reduce``, or nccl's on CUDA). Call inside the process group."""
    import torch.distributed as dist

    if (where.type != "cpu" or local_world != world or not local_exchange_supported()
            or os.environ.get("DOCREC_LOCAL_EXCHANGE", "1") == "0"):
        return None
    return LocalExchange(dist.get_rank(), world, hint="; DOCREC_LOCAL_EXCHANGE=0 sums through gloo instead")


def join_process_group(backend: str, **kwargs) -> None:
    """``torch.distributed.init_process_group(backend, **kwargs)``, made safe to tear down.

    ``torch._dynamo``, which the first optimizer step imports, keeps references to a process group
    that exists when it is imported, so ``destroy_process_group`` then leaves the group alive: its
    gloo threads outlive Python, and one that is still freeing a finished collective while the
    interpreter exits aborts the process ("terminate called without an active exception", about 1
    run in 30 of a 2-rank ``torchrun`` training on 2 cores, after its work is done). Imported before
    the group exists it keeps none, and ``destroy_process_group`` frees the group and joins its
    threads. Every process group of this project is joined through here."""
    import torch._dynamo  # noqa: F401  (before the group: see above)
    import torch.distributed as dist

    dist.init_process_group(backend, **kwargs)


def core_block(cpus: Sequence[int], local_rank: int, local_world: int) -> set[int] | None:
    """The cores process ``local_rank`` of the ``local_world`` on this machine is bound to: the
    ``local_rank``-th of ``local_world`` equal, contiguous blocks of the sorted ``cpus`` (the
    left-over cores go unused), or None when there are fewer cores than processes."""
    if not 0 <= local_rank < local_world:
        raise ValueError(f"[docrec.core_block] local rank {local_rank} is not in 0..{local_world - 1}")
    per = len(cpus) // local_world
    if per < 1:
        return None
    ordered = sorted(cpus)
    return set(ordered[local_rank * per:(local_rank + 1) * per])


def pin_to_cores(local_rank: int, local_world: int) -> set[int] | None:
    """Bind this process to its :func:`core_block` of the cores it may use now; returns the block,
    or None where the platform cannot bind (no ``os.sched_setaffinity``) or the cores are too few."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    block = core_block(sorted(os.sched_getaffinity(0)), local_rank, local_world)
    if block is not None:
        os.sched_setaffinity(0, block)
    return block


def is_main(shard: Shard | None) -> bool:
    """True for the process that writes checkpoints and shows progress (rank 0, or the only one)."""
    return shard is None or shard.rank == 0


__all__ = ["core_block", "is_main", "join_process_group", "local_exchange", "pin_to_cores", "training_processes"]
