"""Data-parallel training by hand (``torchrun``): this process's :class:`Shard` of the work and the
few collective steps every trainer needs.

Every process holds the same data and draws the same random numbers; each global batch is split by
position (``items[rank::world]``), every process runs forward and backward on its part, and one
exchange per step sums the gradients together with the loss terms (:meth:`Shard.sum_gradients`):
``torch.distributed.all_reduce``, or the shard's :attr:`Shard.exchange` (a
:class:`lenet.local_exchange.LocalExchange` between the processes of one machine).
A trainer whose loss is a mean over items it may leave out (fields that cannot be read) first sums
the count of the items kept (:meth:`Shard.total`, a one-number exchange) so that every process
divides by the same global count: the step then equals a single process's on the whole batch.
This is what ``DistributedDataParallel`` does, done by hand so that the faithful SDLM optimizer
(which needs the bare model) and graph losses computed on the CPU work too. Batch norm statistics
stay per process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence, TypeVar

import torch
from torch import nn

T = TypeVar("T")


@dataclass
class Shard:
    """This process's place in data-parallel training: ``rank`` of ``world``.

    ``exchange_seconds`` adds up the time spent in the gradient exchange of
    :meth:`sum_gradients`, waiting for the other processes included (a step cannot end before the
    slowest process's backward pass has)."""

    rank: int = 0
    world: int = 1
    exchange_seconds: float = field(default=0.0, compare=False, repr=False)
    exchange: object | None = field(default=None, compare=False, repr=False)

    def _sum(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` summed over the processes: through :attr:`exchange` (``exchange.sum(x)``, e.g. a
        :class:`lenet.local_exchange.LocalExchange` between the processes of one machine) when set,
        else ``torch.distributed.all_reduce`` in place."""
        if self.exchange is not None:
            return self.exchange.sum(x)
        import torch.distributed as dist

        dist.all_reduce(x)
        return x

    @property
    def rows(self) -> slice:
        """This process's positions in a global batch: ``slice(rank, None, world)``."""
        return slice(self.rank, None, self.world)

    def part(self, items: Sequence[T]) -> Sequence[T]:
        """This process's items of a global batch: ``items[rank::world]`` (a list, array or tensor)."""
        return items[self.rows]

    def total(self, value: torch.Tensor | float) -> torch.Tensor:
        """``value`` summed over the processes (a float64 tensor on the CPU; one small exchange)."""
        out = torch.as_tensor(value, dtype=torch.float64).detach().cpu().clone()
        return self._sum(out) if self.world > 1 else out

    def sum_gradients(self, model: nn.Module, extra: torch.Tensor) -> torch.Tensor:
        """Sum every trainable gradient of ``model`` and the numbers ``extra`` ``(K,)`` over the
        processes in one exchange (:meth:`_sum`); returns the summed ``extra``. A parameter without a gradient
        counts as zero (it then has one), so every process sends the same buffer."""
        params = [p for p in model.parameters() if p.requires_grad]
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        extra = extra.detach().reshape(-1)
        flat = torch.cat([p.grad.reshape(-1) for p in params]
                         + [extra.to(device=params[0].grad.device, dtype=params[0].grad.dtype)])
        if self.world > 1:
            t0 = time.perf_counter()
            flat = self._sum(flat)
            self.exchange_seconds += time.perf_counter() - t0
        at = 0
        for p in params:
            p.grad.copy_(flat[at: at + p.numel()].view_as(p.grad))
            at += p.numel()
        return flat[at:]

    def mean_backward(self, model: nn.Module, loss_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                      x: torch.Tensor, y: torch.Tensor, *, total: int | None = None) -> torch.Tensor:
        """Backward of a batch-mean loss over the processes: ``loss_of(x_part, y_part)`` (the mean
        over this process's rows ``x[rank::world]``, ``(n, ...)``, ``(n,)``) is back-propagated with
        weight ``n_part / n`` and the gradients summed (:meth:`sum_gradients`), so they are those of
        the whole batch's mean. Returns the whole batch's mean loss (the same on every process).
        With ``total``, ``x`` and ``y`` already are this process's rows of a batch of ``total``."""
        xl, yl = (x, y) if total is not None else (self.part(x), self.part(y))
        n, k = (y.shape[0] if total is None else int(total)), yl.shape[0]
        if k:
            local = loss_of(xl, yl)
            (local * (k / n)).backward()
            local_sum = local.detach() * k
        else:
            local_sum = torch.zeros((), device=x.device)
        return self.sum_gradients(model, local_sum)[0] / n

    def gather(self, make: Callable[[int], T], count: int) -> list[T]:
        """``[make(i) for i in range(count)]``, each process making its items ``rank::world`` and all
        of them exchanged (``all_gather_object``): the same list on every process, made ``world``
        times faster (items must pickle, e.g. rendered fields)."""
        import torch.distributed as dist

        mine = [make(i) for i in range(self.rank, count, self.world)]
        if self.world == 1:
            return mine
        parts: list = [None] * self.world
        dist.all_gather_object(parts, mine)
        out: list = [None] * count
        for r, items in enumerate(parts):
            out[r::self.world] = items
        return out


def process_shard() -> Shard:
    """The shard of this process: ``Shard(rank, world)`` inside an initialised process group, else
    ``Shard(0, 1)``."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return Shard(dist.get_rank(), dist.get_world_size())
    return Shard()


__all__ = ["Shard", "process_shard"]
