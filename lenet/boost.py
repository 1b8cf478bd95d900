"""Boosted LeNet-4 with the paper's filtering scheme (Sec. III-C.9, after Drucker et al.).

1. Member 1 is trained the usual way (on distorted patterns when ``config.distort``).
2. Member 2 is trained on patterns *filtered* by member 1: half of them member 1 misclassifies,
   half it classifies correctly.
3. Member 3 is trained on new patterns on which members 1 and 2 disagree.
4. The ensemble adds the three members' penalties (:class:`lenet.models.BoostedLeNet4`).

Member 1 makes few errors on the training digits, so, as in the paper, the filtered sets are
drawn from a stream of freshly *distorted* training digits (:func:`lenet.distort.distort`), which
supplies as many new patterns as the filters need. Filtered sets are fixed once drawn; members
2 and 3 are then trained on them for ``config.epochs`` passes without further distortion.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Iterator

import torch

from lenet.distort import distort
from lenet.models import BoostedLeNet4
from lenet.train import Split, TrainConfig, penalties_of, train_model


@dataclass
class BoostConfig:
    """Sizes of the filtered sets and the budget of streamed patterns to find them."""

    member2_patterns: int = 20000
    member3_patterns: int = 12000
    max_draws: int = 1_500_000
    chunk: int = 4096


def distorted_stream(train: Split, config: TrainConfig, g: torch.Generator, *, chunk: int
                     ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless chunks of random training digits, each freshly distorted (every one: probability 1)."""
    dist = replace(config.distortion, probability=1.0)
    n = train.y.shape[0]
    while True:
        idx = torch.randint(0, n, (chunk,), generator=g)
        yield distort(train.x[idx], dist, generator=g), train.y[idx]


def filter_balanced(net: torch.nn.Module, stream: Iterator, n: int, *, max_draws: int
                    ) -> tuple[Split, dict]:
    """``n`` patterns, half misclassified by ``net`` and half correctly classified."""
    wrong_x, wrong_y, right_x, right_y = [], [], [], []
    n_wrong = n_right = draws = 0
    half = n // 2
    while (n_wrong < half or n_right < n - half) and draws < max_draws:
        x, y = next(stream)
        draws += y.numel()
        ok = penalties_of(net, x).argmin(1) == y
        if n_wrong < half:
            wrong_x.append(x[~ok])
            wrong_y.append(y[~ok])
            n_wrong += int((~ok).sum())
        if n_right < n - half:
            right_x.append(x[ok])
            right_y.append(y[ok])
            n_right += int(ok.sum())
    k = min(n_wrong, half, n_right)  # keep the 50/50 balance if the budget ran out
    xs = torch.cat([torch.cat(wrong_x)[:k], torch.cat(right_x)[:k]])
    ys = torch.cat([torch.cat(wrong_y)[:k], torch.cat(right_y)[:k]])
    return Split(xs, ys), {"draws": draws, "patterns": 2 * k,
                           "member1_error_on_stream": n_wrong / max(draws, 1)}


def filter_disagreement(net_a: torch.nn.Module, net_b: torch.nn.Module, stream: Iterator, n: int, *,
                        max_draws: int) -> tuple[Split, dict]:
    """Up to ``n`` new patterns on which ``net_a`` and ``net_b`` predict different classes."""
    xs, ys = [], []
    found = draws = 0
    while found < n and draws < max_draws:
        x, y = next(stream)
        draws += y.numel()
        differ = penalties_of(net_a, x).argmin(1) != penalties_of(net_b, x).argmin(1)
        xs.append(x[differ])
        ys.append(y[differ])
        found += int(differ.sum())
    return Split(torch.cat(xs)[:n], torch.cat(ys)[:n]), {"draws": draws, "patterns": min(found, n),
                                                        "disagreement_rate": found / max(draws, 1)}


class FirstMembers(torch.nn.Module):
    """The ensemble of the first ``k`` members: ``(B, 1, 32, 32) -> (B, C)`` summed penalties."""

    def __init__(self, model: BoostedLeNet4, k: int):
        super().__init__()
        self.nets = torch.nn.ModuleList(list(model.nets)[:k])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([net(x) for net in self.nets]).sum(0)


def train_boosted(model: BoostedLeNet4, train: Split, config: TrainConfig, *, boost: BoostConfig | None = None,
                  val: Split | None = None, test: Split | None = None, start_member: int = 0,
                  on_member_end: Callable[[int, dict], None] | None = None,
                  on_batch: Callable[[int, int, float], None] | None = None) -> list[dict]:
    """Train the three members in turn (resumable per member); returns one record per member.

    Each record: ``member`` (1-based), the member's own per-epoch ``history``, the filtering
    statistics, and the ensemble's ``val_error`` / ``test_error`` with the members trained so far
    (recorded, never used to choose anything).
    """
    boost = boost or BoostConfig()
    if len(model.nets) != 3:
        raise ValueError(f"[lenet.train_boosted] the filtering scheme needs 3 members, got {len(model.nets)}")
    g = torch.Generator().manual_seed(config.seed * 7919 + 1)
    records = []
    for k in range(start_member, 3):
        # a fresh, deterministic stream per member, so resuming reproduces the same sets
        g.manual_seed(config.seed * 7919 + 1 + k)
        stream = distorted_stream(train, config, g, chunk=boost.chunk)
        stats: dict = {}
        if k == 0:
            data, member_config = train, config
        elif k == 1:
            data, stats = filter_balanced(model.nets[0], stream, boost.member2_patterns, max_draws=boost.max_draws)
            member_config = replace(config, distort=False)
        else:
            data, stats = filter_disagreement(model.nets[0], model.nets[1], stream, boost.member3_patterns,
                                              max_draws=boost.max_draws)
            member_config = replace(config, distort=False)
        if data.y.numel() == 0:
            raise RuntimeError(f"[lenet.train_boosted] the filter for member {k + 1} found no patterns")
        member_config = replace(member_config, seed=config.seed + 101 * k)
        history = train_model(model.nets[k], data, member_config, on_batch=on_batch)
        partial = FirstMembers(model, k + 1)
        rec = {"member": k + 1, "patterns": int(data.y.numel()), "filter": stats, "history": history,
               "train_seconds": sum(r["train_seconds"] + r["hessian_seconds"] for r in history)}
        for name, split in (("val", val), ("test", test)):
            if split is not None:
                rec[f"{name}_error"] = float((penalties_of(partial, split.x).argmin(1) != split.y).float().mean())
        records.append(rec)
        if on_member_end is not None:
            on_member_end(k + 1, rec)
    return records


__all__ = ["BoostConfig", "FirstMembers", "distorted_stream", "filter_balanced", "filter_disagreement", "train_boosted"]
