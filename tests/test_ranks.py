"""Teardown of a process group: ``docrec.distributed.training_processes`` leaves no gloo thread
behind once a training with an optimizer has run (a thread that outlives Python can abort the
process at exit), and ``tests/ranks.py`` lets no failure pass."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from tests.ranks import free_port, spawn_ranks


def gloo_threads() -> int:
    """Threads of this process whose name is gloo's (``pt_gloo_runloop``, ``gloo_tcp_loop``)."""
    names = []
    for t in os.listdir("/proc/self/task"):
        try:
            names.append(Path(f"/proc/self/task/{t}/comm").read_text().strip())
        except OSError:  # the thread ended meanwhile
            continue
    return sum("gloo" in n for n in names)


def _train_and_leave(rank: int, port: int, outputs: list) -> None:
    from docrec.distributed import training_processes

    torch.set_num_threads(1)
    os.environ.update({"WORLD_SIZE": "2", "RANK": str(rank), "LOCAL_RANK": str(rank), "LOCAL_WORLD_SIZE": "2",
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "DOCREC_PIN_CORES": "0"})
    with training_processes("cpu") as (shard, _):
        torch.manual_seed(0)
        net = torch.nn.Linear(8, 1)
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)  # its first step imports torch._dynamo
        for _ in range(3):
            opt.zero_grad()
            shard.mean_backward(net, lambda x, y: (net(x).squeeze(1) - y).pow(2).mean(),
                                torch.ones(4, 8), torch.zeros(4), total=8)
            opt.step()
        inside = gloo_threads()
    Path(outputs[rank]).write_text(json.dumps({"inside": inside, "after": gloo_threads()}))


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads through Linux's /proc")
def test_training_processes_leave_no_gloo_thread(tmp_path):
    outputs = [str(tmp_path / f"rank{r}.json") for r in range(2)]
    spawn_ranks(_train_and_leave, (free_port(), outputs), outputs)
    for p in outputs:
        seen = json.loads(Path(p).read_text())
        assert seen["inside"] >= 1  # the count sees gloo's threads while the group lives
        assert seen["after"] == 0, seen  # the group was freed and its threads joined


def _fail(rank: int, out: str) -> None:
    Path(f"{out}.{rank}").write_text("done")
    if rank == 1:
        raise RuntimeError("a real failure")


def _abort(rank: int, out: str) -> None:
    Path(f"{out}.{rank}").write_text("done")
    if rank == 1:
        os.abort()


def test_spawn_ranks_lets_no_failure_pass(tmp_path):
    with pytest.raises(mp.ProcessRaisedException, match="a real failure"):
        spawn_ranks(_fail, (str(tmp_path / "y"),), [tmp_path / f"y.{r}" for r in range(2)])
    with pytest.raises(mp.ProcessExitedException):  # an abort after the outputs is a failure too
        spawn_ranks(_abort, (str(tmp_path / "z"),), [tmp_path / f"z.{r}" for r in range(2)])
