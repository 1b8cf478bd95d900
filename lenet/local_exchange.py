"""Summing gradients between the training processes of one machine through shared memory.

gloo's ``all_reduce`` hands the data through several of its threads in each process; once they
have slept during a training step, waking them costs about 3 ms on a 2-core machine, a third of a
LeNet-5 step at batch 64 (docs/results.md, ``benchmarks/allreduce_latency.py``). The processes of
one machine can instead sum through a shared file mapped in every process and wait for each other
without sleeping: :class:`LocalExchange`.

Layout of the mapping (float64 data whatever the gradients' dtype, so every process sums the same
numbers in the same order and gets the same result)::

    counters  int64, one per process, 64 bytes apart     (process r's last completed exchange)
    data      float64 (2, world, capacity)                (two buffers, used alternately)

Exchange ``g``: every process writes its numbers into its row of buffer ``g % 2``, sets its counter
to ``g``, waits until every counter is ``>= g``, then sums the rows in rank order. A process can
only write buffer ``g % 2`` again at ``g + 2``, after every process has passed ``g + 1``, that is
after every process has finished reading ``g``: one wait per exchange. This relies on stores and
loads not being reordered among themselves, which x86-64 guarantees (total store order);
:func:`local_exchange_supported` says where it may be used.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
import uuid
from pathlib import Path

import torch

#: Bytes between two processes' counters (one cache line each).
COUNTER_STRIDE = 64
#: Seconds a process waits for the others before giving up (gloo's default timeout is 30 minutes).
DEFAULT_TIMEOUT = 1800.0


def local_exchange_supported() -> bool:
    """True where :class:`LocalExchange` is correct: Linux or another POSIX system on x86-64."""
    return os.name == "posix" and platform.machine().lower() in ("x86_64", "amd64")


def _mapping_dir() -> Path:
    """Where the shared file lives: ``/dev/shm`` (memory) when there is one, else the temp folder."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


def _make_file(size: int) -> str:
    """A new file of ``size`` bytes with its space reserved: in :func:`_mapping_dir`, else (no room
    there, e.g. a container's small ``/dev/shm``) in the temp folder. Reserving the space now makes
    a full file system an error here, not a SIGBUS when the mapping is first written.

    Returns:
        the path, or ``"ERROR: ..."`` saying why no file could be made.
    """
    tried = []
    for folder in dict.fromkeys([_mapping_dir(), Path(tempfile.gettempdir())]):
        path = folder / f"docrec-exchange-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            tried.append(f"{folder}: {exc.strerror}")
            continue
        try:
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(fd, 0, size)
            else:
                os.ftruncate(fd, size)
            return str(path)
        except OSError as exc:
            tried.append(f"{folder}: {exc.strerror}")
            os.unlink(path)
        finally:
            os.close(fd)
    return f"ERROR: no room for {size / 2**20:.1f} MiB of shared memory ({'; '.join(tried)})"


class LocalExchange:
    """Sum a flat tensor over the ``world`` processes of one machine (:meth:`sum`), like
    ``torch.distributed.all_reduce`` with ``SUM`` but through shared memory.

    Every process must call :meth:`sum` the same number of times with tensors of the same size
    (the data-parallel trainers do). The mapping is made on the first call, and again when a larger
    tensor comes, through ``torch.distributed`` (rank 0 makes the file, the others open it, then
    rank 0 removes its name: nothing is left behind even if a process is killed).

    Args:
        rank: this process's rank (0..world-1).
        world: number of processes (all on this machine).
        timeout: seconds to wait for the other processes before raising.
        hint: appended to the error raised when no shared file can be made (how to do without).
    """

    def __init__(self, rank: int, world: int, *, timeout: float = DEFAULT_TIMEOUT, hint: str = ""):
        if not 0 <= rank < world:
            raise ValueError(f"[lenet.LocalExchange] rank {rank} is not in 0..{world - 1}")
        if not timeout > 0:
            raise ValueError(f"[lenet.LocalExchange] timeout must be > 0, got {timeout}")
        self.rank, self.world, self.timeout, self.hint = int(rank), int(world), float(timeout), hint
        self.capacity = 0
        self.generation = 0
        self._map: torch.Tensor | None = None
        self._counters: torch.Tensor | None = None
        self._data: torch.Tensor | None = None

    # ------------------------------------------------------------------ mapping
    def _open(self, capacity: int) -> None:
        """Make (rank 0) or open the mapping for ``capacity`` numbers per process; collective."""
        import torch.distributed as dist

        size = self.world * COUNTER_STRIDE + 2 * self.world * capacity * 8
        name = [_make_file(size) if self.rank == 0 else None]
        dist.broadcast_object_list(name, src=0)
        if name[0].startswith("ERROR: "):  # every process stops with rank 0's reason
            raise RuntimeError(f"[lenet.LocalExchange] rank {self.rank}: {name[0][7:]}{self.hint}")
        self._map = torch.from_file(name[0], shared=True, size=size, dtype=torch.uint8)
        dist.barrier()  # every process has mapped it
        if self.rank == 0:
            os.unlink(name[0])  # the mappings stay; the name goes
        head = self.world * COUNTER_STRIDE
        self._counters = self._map[:head].view(torch.int64)[:: COUNTER_STRIDE // 8]
        self._data = self._map[head:].view(torch.float64).view(2, self.world, capacity)
        self.capacity, self.generation = capacity, 0

    def close(self) -> None:
        """Drop the mapping (the memory goes when the last process drops it)."""
        self._counters = self._data = None
        self._map = None
        self.capacity = 0

    # ------------------------------------------------------------------ the exchange
    def sum(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(N,)`` summed over the processes (rank order, in float64): a new tensor of
        ``x``'s dtype and device, the same in every process."""
        flat = x.detach().reshape(-1)
        n = flat.numel()
        if n > self.capacity:
            self._open(max(n, 1024))
        self.generation += 1
        g = self.generation
        buf = self._data[g % 2]
        buf[self.rank, :n].copy_(flat)  # converted to float64 (and to the CPU) by the copy
        self._counters[self.rank] = g
        self._wait(g)
        total = buf[0, :n].clone()
        for r in range(1, self.world):
            total += buf[r, :n]
        return total.to(device=x.device, dtype=x.dtype).reshape(x.shape)

    def _wait(self, g: int) -> None:
        """Until every process has written exchange ``g``; spins, yielding the core now and then."""
        counters = self._counters
        spins = 0
        start = None
        while int(counters.min()) < g:
            spins += 1
            if spins % 32 == 0:
                os.sched_yield()
            if spins % 4096 == 0:
                now = time.monotonic()
                start = start or now
                if now - start > self.timeout:
                    late = [r for r in range(self.world) if int(counters[r]) < g]
                    raise RuntimeError(f"[lenet.LocalExchange] rank {self.rank}: ranks {late} did not reach "
                                       f"exchange {g} within {self.timeout:.0f} s (did a process stop?)")


__all__ = ["LocalExchange", "local_exchange_supported"]
