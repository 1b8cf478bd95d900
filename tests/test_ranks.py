"""tests/ranks.py: an abort after the work is done is tolerated, any other failure is not."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch.multiprocessing as mp

from tests.ranks import spawn_ranks


def _abort_after(rank: int, out: str, write: bool) -> None:
    if write:
        Path(f"{out}.{rank}").write_text("done")
    if rank == 1:
        if write:  # like a gloo rank past its final barrier: the other rank's output is written too
            deadline = time.monotonic() + 60
            while not Path(f"{out}.0").is_file() and time.monotonic() < deadline:
                time.sleep(0.01)
        os.abort()


def _fail(rank: int, out: str) -> None:
    Path(f"{out}.{rank}").write_text("done")
    if rank == 1:
        raise RuntimeError("a real failure")


def test_abort_after_every_output_is_tolerated_and_nothing_else(tmp_path):
    out = str(tmp_path / "w")
    spawn_ranks(_abort_after, (out, True), [f"{out}.{r}" for r in range(2)])
    other = str(tmp_path / "x")
    with pytest.raises(mp.ProcessExitedException):  # aborted before writing: the work is lost
        spawn_ranks(_abort_after, (other, False), [f"{other}.{r}" for r in range(2)])
    with pytest.raises(mp.ProcessRaisedException, match="a real failure"):
        spawn_ranks(_fail, (str(tmp_path / "y"),), [tmp_path / f"y.{r}" for r in range(2)])
