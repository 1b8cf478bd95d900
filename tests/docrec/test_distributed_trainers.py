"""The seg and SDNN trainers under torchrun (lenet.shard.Shard): two gloo processes on this machine
train a few steps on tiny data; their networks stay identical and equal one process trained on the
same global batches (to float tolerance)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist

from docrec.distributed import join_process_group
from lenet.local_exchange import LocalExchange, local_exchange_supported
from lenet.shard import Shard
from tests.ranks import free_port, spawn_ranks

WEIGHTS = Path(__file__).resolve().parents[2] / "docrec" / "weights"


def capture(monkeypatch_target, name: str, nets: list):
    """Wrap ``monkeypatch_target.name`` (a network factory) so the network it builds is recorded."""
    made = getattr(monkeypatch_target, name)

    def wrapper(*args, **kwargs):
        out = made(*args, **kwargs)
        nets.append(out[0] if isinstance(out, tuple) else out)
        return out

    setattr(monkeypatch_target, name, wrapper)


def seg_local(shard: Shard, out: Path):
    from docrec.recognizers.seg_model import new_piece_model
    from docrec.training.seg_local import LocalTrainConfig, train_local

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (70, 1, 32, 32), dtype=np.uint8)
    y = rng.integers(0, 17, 70)
    net = new_piece_model("lenet5", None, seed=0)
    hist = train_local(net, x, y, LocalTrainConfig(epochs=1, batch_size=24, distort=0.5), progress=False,
                       log=lambda *a: None, shard=shard, checkpoint=out / "local.pt")
    return net, hist[-1]["loss"]


def seg_global(shard: Shard, out: Path):
    from docrec.recognizers.seg_model import new_piece_model
    from docrec.training.seg_data import train_pools
    from docrec.training.seg_global import GlobalTrainConfig, make_fields, train_global

    fields = make_fields(5, seed=3, pool=train_pools(None)[1])
    rng = np.random.default_rng(1)
    aux = (rng.integers(0, 256, (40, 1, 32, 32), dtype=np.uint8), rng.integers(0, 17, 40))
    net = new_piece_model("lenet5", WEIGHTS / "seg-lenet5.pt", seed=0)
    cfg = GlobalTrainConfig(epochs=1, batch_fields=5, lr=1e-3, aux_weight=0.5, aux_batch=9)
    hist = train_global(net, cfg, checkpoint=out / "global.pt", progress=False, log=lambda *a: None,
                        fields=fields, val=[], aux_pieces=aux, shard=shard)
    return net, hist[-1]["loss"]


def sdnn_way1(shard: Shard, out: Path):
    from docrec.training import sdnn_train
    from docrec.training.sdnn_train import SDNNTrainConfig, train_way1

    nets: list = []
    capture(sdnn_train, "new_piece_model", nets)
    cfg = SDNNTrainConfig(way=1, epochs=1, batch_size=48, fields=12, val_fields=3, seed=0)
    res = train_way1(cfg, out, bar=False, log=lambda *a: None, shard=shard, device="cpu")
    return nets[0], res["history"][-1]["train_loss"]


def sdnn_way2(shard: Shard, out: Path):
    from docrec.recognizers import sdnn_net
    from docrec.training.sdnn_train import SDNNTrainConfig, train_way2

    nets: list = []
    capture(sdnn_net, "load_weights", nets)
    cfg = SDNNTrainConfig(way=2, epochs=1, steps=2, batch_size=5, init=str(WEIGHTS / "sdnn.pt"), seed=0,
                          map_weight=0.5, fields=10, val_fields=2)
    res = train_way2(cfg, out, bar=False, log=lambda *a: None, shard=shard, device="cpu")
    return nets[0], res["history"][-1]["train_loss"]


def strip(shard: Shard, out: Path):
    from docrec.recognizers import sdnn_net
    from docrec.training.strip_train import StripTrainConfig, train_strip

    nets: list = []
    capture(sdnn_net, "new_strip_net", nets)
    # batch norm frozen and no dropout: otherwise each process has its own statistics and masks
    cfg = StripTrainConfig(epochs=1, steps=2, batch_size=3, seed=0, threads=1, freeze_bn=True,
                           net={"channels": (4, 8, 8), "hidden": 8, "layers": 1, "dropout": 0.0})
    res = train_strip(cfg, out, bar=False, log=lambda *a: None, shard=shard, device="cpu")
    return nets[0], res["history"][-1]["train_loss"]


def sdnn_real(shard: Shard, out: Path):
    from data.synth import SynthConfig, field_rng, synthesize_one
    from docrec.recognizers import sdnn_net
    from docrec.training.sdnn_real import RealSDNNConfig, train_sdnn_real
    from docrec.training.sdnn_train import split_pools

    pool = split_pools()[1]
    fields = [synthesize_one("amount", pool, field_rng(9, i), SynthConfig()) for i in range(6)]
    nets: list = []
    capture(sdnn_net, "load_weights", nets)
    cfg = RealSDNNConfig(init=str(WEIGHTS / "sdnn.pt"), epochs=1, batch_size=5, synth_share=0.4, threads=1,
                         seed=0, p_join=0.3)
    res = train_sdnn_real(cfg, [(f.image, f.text) for f in fields], out, log=lambda *a: None, pool=pool,
                          shard=shard, device="cpu")
    return nets[0], res["history"][-1]["train_loss"]


TRAINERS = {"seg-local": seg_local, "seg-global": seg_global, "sdnn-way1": sdnn_way1, "sdnn-way2": sdnn_way2, "strip": strip,
            "sdnn-real": sdnn_real}


def train(name: str, shard: Shard, out: Path) -> dict:
    torch.manual_seed(0)
    out.mkdir(parents=True, exist_ok=True)
    net, loss = TRAINERS[name](shard, out)
    return {"state": {k: v.detach().clone() for k, v in net.state_dict().items()}, "loss": float(loss)}


def worker(rank: int, world: int, port: int, name: str, out: str) -> None:
    torch.set_num_threads(1)
    join_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    # the exchange the CLI's ranks use on one machine (docrec.distributed.local_exchange); the gloo
    # all_reduce path is tested by tests/lenet/test_distributed.py
    exchange = LocalExchange(rank, world) if local_exchange_supported() else None
    try:
        torch.save(train(name, Shard(rank, world, exchange=exchange), Path(out) / "run"), f"{out}/rank{rank}.pt")
        dist.barrier()
    finally:
        dist.destroy_process_group()


def assert_same_step(a: torch.Tensor, b: torch.Tensor, name: str) -> None:
    """Equal to float tolerance, except that Adam may move a handful of elements by up to two steps:
    its normalised update turns a gradient near 0, whose sign the order of the float summation
    decides (one process sums the whole batch, two ranks sum halves and then add), into a full
    +-lr step either way. At most 1 in 10,000 elements (and at least 2) may do so, by <= 5e-3."""
    if not torch.is_floating_point(a):
        assert torch.equal(a, b), name
        return
    off = ~torch.isclose(a, b, rtol=1e-4, atol=2e-5)
    assert int(off.sum()) <= max(2, a.numel() // 10_000), f"{name}: {int(off.sum())} of {a.numel()} differ"
    assert off.sum() == 0 or float((a - b).abs()[off].max()) <= 5e-3, name


@pytest.mark.parametrize("name", list(TRAINERS))
def test_two_ranks_match_one_process(name, tmp_path: Path, request):
    if not dist.is_available():
        pytest.skip("torch.distributed is not available in this build")
    if name != "seg-local":  # the others draw MNIST digits for their synthetic fields
        request.getfixturevalue("mnist_dir")
    spawn_ranks(worker, (2, free_port(), name, str(tmp_path)), [tmp_path / f"rank{r}.pt" for r in range(2)])
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    single = train(name, Shard(), tmp_path / "single")
    for k, v in ranks[0]["state"].items():
        assert torch.equal(v, ranks[1]["state"][k]), k  # the ranks never drift apart
        assert_same_step(v, single["state"][k], k)  # = one process, same batches
    assert ranks[0]["loss"] == ranks[1]["loss"]
    assert ranks[0]["loss"] == pytest.approx(single["loss"], rel=1e-4)
    assert np.isfinite(single["loss"]) and single["loss"] != 0.0
    # rank 0 alone wrote the outputs, one process wrote the same files
    written = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert written and written == sorted(p.name for p in (tmp_path / "single").iterdir())
