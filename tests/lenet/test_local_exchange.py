"""lenet.local_exchange: the shared-memory sum between the processes of one machine gives gloo's
all_reduce result (float64, rank order), the same on every process, across buffer reuse and
growth; a missing process is a clear error after the timeout; nothing is left in the mapping
folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from docrec.distributed import join_process_group
from lenet.local_exchange import LocalExchange, _mapping_dir, local_exchange_supported
from tests.ranks import free_port, spawn_ranks

pytestmark = pytest.mark.skipif(not local_exchange_supported(), reason="the shared-memory exchange needs x86-64 POSIX")


def values(rank: int, step: int, n: int) -> torch.Tensor:
    """Numbers that differ by rank and by step, so a stale or foreign buffer shows."""
    g = torch.Generator().manual_seed(1000 * step + rank)
    return torch.randn(n, generator=g, dtype=torch.float32)


def _sums(rank: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    join_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    ex = LocalExchange(rank, 2)
    sizes = [7, 7, 61706, 5, 130000, 130000, 3] + [257] * 200  # growth twice, then many reuses
    mismatches, digests = [], []
    try:
        for step, n in enumerate(sizes):
            x = values(rank, step, n)
            got = ex.sum(x.clone())
            ref = x.double().clone()
            dist.all_reduce(ref)
            if got.dtype != torch.float32 or got.shape != x.shape or not torch.allclose(got.double(), ref, atol=1e-5):
                mismatches.append(step)
            digests.append(float(got.double().sum()))
        total = ex.sum(torch.tensor(2.5 + rank, dtype=torch.float64))  # a 0-d float64 total too
        capacity = ex.capacity
        ex.close()
        dist.barrier()
    finally:
        dist.destroy_process_group()
    Path(out.format(rank)).write_text(json.dumps({"mismatches": mismatches, "digests": digests,
                                                  "total": float(total), "capacity": capacity}))


def test_sums_match_all_reduce_on_every_process(tmp_path):
    before = {p.name for p in _mapping_dir().glob("docrec-exchange-*")}
    out = str(tmp_path / "rank{}.json")
    spawn_ranks(_sums, (free_port(), out), [out.format(r) for r in range(2)])
    seen = [json.loads(Path(out.format(r)).read_text()) for r in range(2)]
    assert seen[0]["mismatches"] == [] and seen[1]["mismatches"] == []
    assert seen[0]["digests"] == seen[1]["digests"]  # bit for bit the same on both
    assert seen[0]["total"] == seen[1]["total"] == 6.0
    assert seen[0]["capacity"] == 130000
    assert {p.name for p in _mapping_dir().glob("docrec-exchange-*")} == before  # no name left behind


def _error_of(rank: int, port: int, out: str, case: str) -> None:
    """Rank ``rank`` runs ``case`` in a 2-process group and writes the error it raised ("" if none)."""
    join_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    message = ""
    try:
        if case == "missing":
            ex = LocalExchange(rank, 2, timeout=1.0)
            ex.sum(torch.ones(4))  # both: the mapping is made
            if rank == 0:
                ex.sum(torch.ones(4))  # rank 1 never comes
        else:  # "no room": 16 PiB per process, which no file system has
            LocalExchange(rank, 2, hint="; try something else")._open(2**50)
    except RuntimeError as exc:
        message = str(exc)
    dist.barrier()
    dist.destroy_process_group()
    Path(out.format(rank)).write_text(message)


def test_a_missing_process_is_a_clear_error(tmp_path):
    out = str(tmp_path / "rank{}.txt")
    spawn_ranks(_error_of, (free_port(), out, "missing"), [out.format(r) for r in range(2)])
    message = Path(out.format(0)).read_text()
    assert "rank 0: ranks [1] did not reach exchange 2 within 1 s" in message


def test_no_room_for_the_buffer_stops_every_process_with_the_reason(tmp_path):
    before = {p.name for p in _mapping_dir().glob("docrec-exchange-*")}
    out = str(tmp_path / "rank{}.txt")
    spawn_ranks(_error_of, (free_port(), out, "no room"), [out.format(r) for r in range(2)])
    for r in range(2):
        message = Path(out.format(r)).read_text()
        assert message.startswith(f"[lenet.LocalExchange] rank {r}: no room for ")
        assert message.endswith("; try something else")
    assert {p.name for p in _mapping_dir().glob("docrec-exchange-*")} == before  # the failed file is gone


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match=r"rank 2 is not in 0..1"):
        LocalExchange(2, 2)
    with pytest.raises(ValueError, match=r"timeout must be > 0"):
        LocalExchange(0, 2, timeout=0)
