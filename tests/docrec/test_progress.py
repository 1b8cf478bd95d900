"""Progress bars: on stderr when it is a terminal, never with --quiet, never changing the result."""

from __future__ import annotations

import io

import torch

from docrec.commands import eval_mnist
from lenet.models import LeNet5


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def digits():
    g = torch.Generator().manual_seed(0)
    return torch.rand(3000, 1, 32, 32, generator=g) * 1.275 - 0.1, torch.randint(0, 10, (3000,), generator=g)


def test_eval_mnist_bar_on_a_terminal_only_and_same_numbers(monkeypatch):
    torch.manual_seed(0)
    model, (x, y) = LeNet5().eval(), digits()
    runs = {}
    for quiet in (False, True):
        err = Terminal()
        monkeypatch.setattr(eval_mnist.sys, "stderr", err)
        runs[quiet] = (eval_mnist.evaluate(model, x, y, batch=256, quiet=quiet), err.getvalue())
    assert "docrec eval mnist" in runs[False][1] and "3000/3000" in runs[False][1]
    assert runs[True][1] == ""
    assert torch.equal(runs[False][0]["penalties"], runs[True][0]["penalties"])
    piped = io.StringIO()  # not a terminal: no bar even without --quiet
    monkeypatch.setattr(eval_mnist.sys, "stderr", piped)
    eval_mnist.evaluate(model, x, y, quiet=False)
    assert piped.getvalue() == ""
