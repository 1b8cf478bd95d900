"""docrec.distributed binds each torchrun process on the CPU to its own cores (core_block,
pin_to_cores, training_processes), and leaves placement alone when told to."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from docrec.distributed import core_block
from tests.ranks import free_port, spawn_ranks


def test_core_block_splits_the_sorted_cores_into_equal_blocks():
    assert [core_block([0, 1], r, 2) for r in range(2)] == [{0}, {1}]
    assert [core_block([3, 1, 2, 0], r, 2) for r in range(2)] == [{0, 1}, {2, 3}]
    assert [core_block([4, 5, 6], r, 2) for r in range(2)] == [{4}, {5}]  # core 6 left over
    assert core_block([7], 0, 1) == {7}
    assert core_block([0], 1, 2) is None  # fewer cores than processes: not bound
    with pytest.raises(ValueError, match=r"local rank 2 is not in 0..1"):
        core_block([0, 1], 2, 2)


def _rank(rank: int, port: int, pin: str, outputs: list) -> None:
    from docrec.distributed import training_processes

    os.environ.update({"WORLD_SIZE": "2", "RANK": str(rank), "LOCAL_RANK": str(rank), "LOCAL_WORLD_SIZE": "2",
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "DOCREC_PIN_CORES": pin})
    before = sorted(os.sched_getaffinity(0))
    with training_processes("cpu") as (shard, _):
        inside = sorted(os.sched_getaffinity(0))
        rank_seen = shard.rank
    Path(outputs[rank]).write_text(json.dumps({"before": before, "inside": inside, "rank": rank_seen}))


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs a platform with sched_setaffinity and at least 2 usable cores")
@pytest.mark.parametrize("pin", ["1", "0"])
def test_training_processes_bind_each_rank_to_its_block(tmp_path, pin):
    outputs = [str(tmp_path / f"rank{r}.json") for r in range(2)]
    spawn_ranks(_rank, (free_port(), pin, outputs), outputs)
    seen = [json.loads(Path(p).read_text()) for p in outputs]
    assert [s["rank"] for s in seen] == [0, 1]
    cpus = seen[0]["before"]
    if pin == "1":
        assert [set(s["inside"]) for s in seen] == [core_block(cpus, r, 2) for r in range(2)]
        assert not set(seen[0]["inside"]) & set(seen[1]["inside"])
    else:
        assert all(s["inside"] == s["before"] for s in seen)
