"""ONNX export of docrec's networks: the form in which a reader is deployed on other runtimes
(onnxruntime, C++, C#, the browser); docs/export.md.

Two contracts, both float32, pixel levels of the networks (paper -0.1, ink 1.175, docs/paper.md
Sec. II-A), penalties out (lower = more likely):

- **digit** (bundled ``lenet5``, ``modern``, ``lenet1``, ... and the seg recogniser's piece
  classifiers ``seg-lenet5``, ``seg-modern``, ...): input ``image (B, 1, 32, 32)`` -> output
  ``penalties (B, C)``, ``C`` = 10 digits or 17 (:data:`data.constants.CHARSET`): the network's raw
  output (RBF distances for LeNet-5, ``-log softmax`` for the modern CNN). The seg recogniser then
  applies the MAP normalisation (eq. 9) to its pieces' penalties; for weights that store
  ``piece_shifts`` (``seg-lenet5-real``) it first averages them over moved copies of each piece
  (:func:`lenet.shifted_copies`), which a deployment reproduces by running the copies as a batch.
- **strip** (SDNN weights ``sdnn``, ``sdnn-real``, ``sdnn-strip``, ``sdnn-strip-real``, ...):
  input ``strip (B, 1, 32, W)``, ``W >= 32``, every strip of the batch ``W`` wide -> output
  ``penalties (B, T, 17)``, ``T = (W - 32) // 4 + 1``: the frame penalties the decoder consumes.
  The LeNet-5 SDNN reads frame ``t`` from columns ``[4 t, 4 t + 32)`` only, so strips padded on
  the right with -0.1 keep their valid frames; the StripNet reads the whole strip, so its output
  equals the recogniser's only for a strip exactly ``W`` wide (run strips of different widths one
  by one, or in batches of one width).

Batch ``B`` and width ``W`` are dynamic axes. The exporter is torch's TorchScript one
(``torch.onnx.export(..., dynamo=False)``): torch 2.13's ``torch.export``-based exporter fails to
decompose the StripNet's LSTM over a symbolic number of frames (measured), the TorchScript one
writes it as one ONNX ``LSTM`` node. Not exported: the windowed modern SDNN (``sdnn-modern``; its
``unfold`` over a dynamic width has no ONNX form in that exporter) and LeNet-1 (its antialiased
resize has no ONNX operator); both raise ``ValueError``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from data.atomic import atomic_write
from data.constants import BACKGROUND, CHARSET, STRIDE, STRIP_H

#: The opset written unless another is asked for, and the range torch's TorchScript exporter writes.
DEFAULT_OPSET = 17
OPSETS = range(13, 21)
#: Names of the graph's input per contract, and of its output.
INPUT_NAMES = {"digit": "image", "strip": "strip"}
OUTPUT_NAME = "penalties"
#: What to install for the optional ONNX packages.
INSTALL_HINT = "pip install 'docrec[onnx]'"


@dataclass(frozen=True)
class Exportable:
    """A network ready to export: ``module`` maps the contract's input to its penalties (eval mode).

    Attributes:
        name: the bundled name or path it was loaded from.
        contract: ``"digit"`` or ``"strip"`` (module docstring).
        arch: the network (``lenet5``, ``modern``, ``strip``, ...).
        classes: the output classes in order (10 digits, or :data:`data.constants.CHARSET`).
    """

    name: str
    module: nn.Module
    contract: str
    arch: str
    classes: tuple[str, ...]

    @property
    def input_name(self) -> str:
        return INPUT_NAMES[self.contract]


class _FullWidth(nn.Module):
    """A StripNet read through its equal-width path (``forward_full_width``), one input."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_full_width(x)


def require(module: str):
    """Import an optional ONNX package, or raise ``ImportError`` naming :data:`INSTALL_HINT`."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"[docrec.export] {module} is not installed; {INSTALL_HINT}") from None


def load_exportable(name_or_path: str | os.PathLike) -> Exportable:
    """The network a bundled name or weights file holds, wrapped for export (module docstring).

    Raises:
        FileNotFoundError: neither bundled weights nor a file (:func:`docrec.weights.resolve`).
        ValueError: an unreadable file, or a network this module does not export (``sdnn-modern``).
    """
    from docrec.weights import kind_of, load_model, resolve

    path = resolve(name_or_path)
    kind = kind_of(path)
    name = str(name_or_path)
    if kind == "lenet":
        from lenet.checkpoint import load_checkpoint

        model = load_model(path)
        arch = str(load_checkpoint(path).get("arch", type(model).__name__))
        return Exportable(name, model.eval(), "digit", arch, _classes(model.num_classes))
    if kind == "seg":
        from docrec.recognizers.seg_model import load_piece_model

        model, meta = load_piece_model(path)
        return Exportable(name, model.eval(), "digit", str(meta["arch"]), CHARSET)
    from docrec.recognizers.sdnn_net import build_sdnn, load_weights
    from lenet.sdnn import WindowedSDNN
    from lenet.strip import StripNet

    net, _, meta = load_weights(path)
    sdnn = build_sdnn(net.eval()).eval()
    if isinstance(sdnn, WindowedSDNN):
        raise ValueError(f"[docrec.export] {name} holds the windowed {meta.get('arch', 'modern')} SDNN, which is not "
                         f"exported (its unfold over a dynamic width has no ONNX form); export the lenet5 SDNN or "
                         f"the strip net")
    module = _FullWidth(sdnn).eval() if isinstance(sdnn, StripNet) else sdnn
    return Exportable(name, module, "strip", "strip" if isinstance(sdnn, StripNet) else "lenet5", CHARSET)


def _classes(num: int) -> tuple[str, ...]:
    return tuple(str(d) for d in range(10)) if num == 10 else CHARSET[:num]


def export_onnx(network: Exportable | str | os.PathLike, out: str | os.PathLike, *,
                opset: int = DEFAULT_OPSET) -> Path:
    """Write ``network`` (an :class:`Exportable`, a bundled name or a weights path) to the ONNX file
    ``out``, atomically (:func:`data.atomic.atomic_write`), checked by ``onnx.checker``.

    The graph has one input (``image (B, 1, 32, 32)`` or ``strip (B, 1, 32, W)``, float32) and one
    output ``penalties`` (``(B, C)`` or ``(B, T, 17)``), batch and width dynamic (module docstring);
    the model's metadata records the contract, the architecture and the classes.

    Raises:
        ImportError: onnx is not installed (:data:`INSTALL_HINT`).
        ValueError: an opset outside :data:`OPSETS`, or a network that is not exported.
        FileNotFoundError: an unknown name or missing file.
    """
    onnx = require("onnx")
    if int(opset) not in OPSETS:
        raise ValueError(f"[docrec.export] opset {opset} is not supported; choose {OPSETS.start}..{OPSETS.stop - 1}")
    net = network if isinstance(network, Exportable) else load_exportable(network)
    sample = torch.full((2, 1, STRIP_H, 96 if net.contract == "strip" else STRIP_H), BACKGROUND)
    axes = {net.input_name: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}
    if net.contract == "strip":
        axes = {net.input_name: {0: "batch", 3: "width"}, OUTPUT_NAME: {0: "batch", 1: "frames"}}

    def write(tmp: Path) -> None:
        try:
            with warnings.catch_warnings(), torch.no_grad(), _native_output_silenced():
                warnings.simplefilter("ignore")  # the exporter's deprecation note and the shape checks' trace notes
                torch.onnx.export(net.module, (sample,), str(tmp), dynamo=False, opset_version=int(opset),
                                  input_names=[net.input_name], output_names=[OUTPUT_NAME], dynamic_axes=axes)
        except torch.onnx.OnnxExporterError as exc:
            raise ValueError(f"[docrec.export] {net.name} ({net.arch}) cannot be exported to ONNX opset {opset}: "
                             f"{str(exc).splitlines()[0]}") from None
        model = onnx.load(str(tmp))
        meta = {"docrec.name": net.name, "docrec.contract": net.contract, "docrec.arch": net.arch,
                "docrec.classes": "|".join(net.classes), "docrec.levels": f"paper {BACKGROUND}, ink 1.175",
                "docrec.penalties": "lower is more likely"}
        for key, value in meta.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.checker.check_model(model)
        onnx.save(model, str(tmp))

    return atomic_write(out, write, suffix=".onnx")


@contextlib.contextmanager
def _native_output_silenced():
    """Send file descriptors 1 and 2 to /dev/null for the block: the exporter logs its whole graph
    from C++ when an operator has no ONNX form; the error itself is raised and reported."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            for fd, copy in zip((1, 2), saved):
                os.dup2(copy, fd)
                os.close(copy)


def run_onnx(path: str | os.PathLike, x: torch.Tensor | np.ndarray) -> np.ndarray:
    """The exported model's penalties for ``x`` (the contract's input), on onnxruntime's CPU
    provider. Raises ImportError when onnxruntime is not installed."""
    ort = require("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = np.ascontiguousarray(x.numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float32)
    return session.run(None, {session.get_inputs()[0].name: feed})[0]


def max_abs_difference(path: str | os.PathLike, network: Exportable, x: torch.Tensor) -> float:
    """``max |onnxruntime(x) - PyTorch(x)|`` over every penalty, for the exported ``path`` of ``network``."""
    with torch.no_grad():
        ref = network.module(x).numpy()
    got = run_onnx(path, x)
    if got.shape != ref.shape:
        raise ValueError(f"[docrec.export] {path} gives shape {got.shape}, PyTorch {ref.shape}")
    return float(np.abs(got - ref).max())


def sample_input(contract: str, *, batch: int = 4) -> torch.Tensor:
    """A real input of ``contract`` from the bundled sample fields (``docrec/samples``), no data set
    needed: ``strip``: ``(batch, 1, 32, W)`` height-normalised fields cut to the narrowest one's
    width ``W``; ``digit``: ``(batch, 1, 32, 32)`` windows centred on the first field's frames."""
    import cv2

    from data.sdnn_samples import normalize_field_ink
    from docrec.recognizers.sdnn import line_free_ink

    files = sorted((Path(__file__).resolve().parent / "samples").glob("*.png"))
    strips = []
    for f in files[:batch]:
        image = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
        strips.append(normalize_field_ink(image, ink=line_free_ink(image))[0])
    if contract == "strip":
        width = min(s.shape[1] for s in strips)
        return torch.from_numpy(np.stack([s[None, :, :width] for s in strips]).astype(np.float32))
    if contract != "digit":
        raise ValueError(f"[docrec.export] unknown contract {contract!r}; expected one of {tuple(INPUT_NAMES)}")
    strip = torch.from_numpy(strips[0].astype(np.float32))
    step = max(STRIDE, (strip.shape[1] - STRIP_H) // max(batch, 1))
    return torch.stack([strip[None, :, s: s + STRIP_H] for s in range(0, strip.shape[1] - STRIP_H + 1, step)][:batch])


__all__ = ["DEFAULT_OPSET", "Exportable", "INSTALL_HINT", "OPSETS", "export_onnx", "load_exportable",
           "max_abs_difference", "require", "run_onnx", "sample_input"]
