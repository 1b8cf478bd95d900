"""Where the networks run: the ``--device`` option of every trainer and recogniser, parsed and checked
in one place.

A device is ``cpu``, ``cuda``, ``cuda:N`` or ``mps``. Networks and their input batches live on it;
graph operations (:mod:`gtn`, :mod:`decoders`: composition, forward and Viterbi scoring, decoding)
always run on the CPU, so every place where network outputs meet a graph moves them there with
:func:`to_graph_device` (autograd carries the gradient back across the transfer). See docs/devices.md.

Without ``--device``, trainers use CUDA when it is available (:func:`default_device` with
``training=True``) and readers the CPU.
"""

from __future__ import annotations

import argparse

import torch

from lenet.train import device_of

#: What ``--device`` accepts (``cuda:N`` for a numbered GPU).
DEVICE_KINDS = ("cpu", "cuda", "mps")
#: Where graph operations run, whatever the networks' device.
GRAPH_DEVICE = torch.device("cpu")


def device_problem(text: str) -> str | None:
    """What is wrong with ``text`` as a device on this machine (None: nothing), e.g.
    ``"cuda: CUDA is not available on this machine"``."""
    spec = str(text).strip().lower()
    kind, sep, index = spec.partition(":")
    if kind not in DEVICE_KINDS or (sep and (kind != "cuda" or not index.isdigit())):
        return f"{text!r} is not a device; expected cpu, cuda, cuda:N or mps"
    if kind == "cuda":
        if not torch.cuda.is_available():
            return f"{spec}: CUDA is not available on this machine"
        if sep and int(index) >= torch.cuda.device_count():
            return f"{spec}: this machine has {torch.cuda.device_count()} CUDA device(s), numbered from 0"
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        return f"{spec}: MPS (Apple GPU) is not available on this machine"
    return None


def check_device(text: str | torch.device) -> torch.device:
    """``text`` as a ``torch.device`` that this machine has.

    Args:
        text: ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (or a ``torch.device``).

    Returns:
        The device (``cuda`` stays without an index: the current GPU).

    Raises:
        ValueError: a malformed name, or a device this machine does not have (named).
    """
    problem = device_problem(str(text))
    if problem is not None:
        raise ValueError(f"[docrec.check_device] {problem}")
    return torch.device(str(text).strip().lower())


def device_arg(text: str) -> str:
    """An argparse ``type`` for ``--device``: the checked name (a string, so that it travels to worker
    processes and into JSON records); a bad or missing device is a one-line argument error."""
    problem = device_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return str(torch.device(text.strip().lower()))


def default_device(*, training: bool) -> torch.device:
    """The device when none is given: CUDA if available for training, else (and for reading) the CPU."""
    return torch.device("cuda") if training and torch.cuda.is_available() else torch.device("cpu")


def resolve_device(spec: str | torch.device | None, *, training: bool) -> torch.device:
    """``spec`` checked (:func:`check_device`), or :func:`default_device` when None."""
    if spec is None:
        return default_device(training=training)
    return check_device(spec)


def add_device_option(parser: argparse.ArgumentParser, *, training: bool) -> None:
    """Add ``--device`` to a command's parser (its default depends on ``training``)."""
    default = "cuda when available, else cpu" if training else "cpu"
    parser.add_argument("--device", type=device_arg, default=None,
                        help=f"where the networks run: cpu, cuda, cuda:N or mps (default: {default}); "
                             f"graph operations always run on the CPU")


def network_device(net: torch.nn.Module, spec: str | None) -> torch.device:
    """Move ``net`` to ``spec`` (checked) and return its device; with ``spec`` None the network stays
    where it is (the CPU for weights just loaded, the trainer's device for a network in training)."""
    if spec is not None:
        net.to(check_device(spec))
    return device_of(net)


def to_graph_device(tensor: torch.Tensor) -> torch.Tensor:
    """Network outputs ``(...)`` moved to where graph operations run (the CPU); differentiable, and a
    no-op for tensors already there."""
    return tensor.to(GRAPH_DEVICE)


__all__ = ["DEVICE_KINDS", "GRAPH_DEVICE", "add_device_option", "check_device", "default_device",
           "device_arg", "device_problem", "network_device", "resolve_device", "to_graph_device"]
