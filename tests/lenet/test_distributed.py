"""Data-parallel training (lenet.train.Shard): two processes on this machine (gloo) keep identical
weights, equal to one process trained on the same global batches."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from lenet.distort import DistortionConfig
from lenet.models import LeNet5
from lenet.train import Shard, Split, TrainConfig, make_optimizer, train_epoch
from docrec.distributed import join_process_group
from tests.ranks import free_port, spawn_ranks


def data() -> Split:
    g = torch.Generator().manual_seed(3)
    return Split(torch.rand(200, 1, 32, 32, generator=g) * 1.275 - 0.1, torch.randint(0, 10, (200,), generator=g))


def config(optimizer: str) -> TrainConfig:
    """``optimizer`` may end in ``+distort``: elastic and affine distortions of every pattern."""
    name, _, extra = optimizer.partition("+")
    return TrainConfig(epochs=1, optimizer=name, batch_size=24, lr=0.01, hessian_samples=50, sdlm_warmup=0,
                       distort=extra == "distort", distortion=DistortionConfig(elastic=True))


def train(optimizer: str, shard: Shard | None) -> dict:
    torch.manual_seed(0)
    model = LeNet5()
    cfg = config(optimizer)
    opt = make_optimizer(model, cfg)
    record = train_epoch(model, opt, data(), cfg, 0, shard=shard)
    return {"state": {k: v.clone() for k, v in model.state_dict().items()}, "loss": record["train_loss"],
            "exchange": record["exchange_seconds"]}


def worker(rank: int, world: int, port: int, optimizer: str, out: str) -> None:
    torch.set_num_threads(1)
    join_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        torch.save(train(optimizer, Shard(rank, world)), f"{out}.{rank}")
        dist.barrier()  # neither rank tears down while the other still talks
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("optimizer", ["sgd", "sdlm", "sgd+distort"])
def test_two_ranks_match_one_process(tmp_path: Path, optimizer):
    if not dist.is_available():
        pytest.skip("torch.distributed is not available in this build")
    out = str(tmp_path / "w")
    spawn_ranks(worker, (2, free_port(), optimizer, out), [f"{out}.{r}" for r in range(2)])
    ranks = [torch.load(f"{out}.{r}", weights_only=True) for r in range(2)]
    single = train(optimizer, None)
    for k, v in ranks[0]["state"].items():
        assert torch.equal(v, ranks[1]["state"][k]), k  # the ranks never drift apart
        torch.testing.assert_close(v, single["state"][k], rtol=1e-4, atol=1e-5)  # = one process, same batches
    assert ranks[0]["loss"] == ranks[1]["loss"]
    assert ranks[0]["loss"] == pytest.approx(single["loss"], rel=1e-5)
    # the epoch's time in the gradient exchange is recorded: some for ranks, none alone
    assert all(r["exchange"] > 0 for r in ranks) and single["exchange"] == 0.0
