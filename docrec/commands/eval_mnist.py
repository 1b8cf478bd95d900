"""``docrec eval mnist``: test error, confusion matrix and a gallery of the misclassified digits.

``--model`` takes a bundled name (``lenet5``, ``lenet5-distorted``, ``lenet1``, ``lenet4``,
``modern``, ...) or a checkpoint path. By default the 10,000 MNIST test digits are used;
``--images X.npy --labels Y.npy`` evaluates other digits: uint8 ``(N, 28, 28)`` MNIST-style images
(0 = paper, 255 = ink; padded to 32x32) or float ``(N, 1, 32, 32)`` LeNet inputs.
``--json`` prints one JSON object (``model``, ``test_error``, ``n_test``, ``n_errors``,
``confusion``, ``digits_per_second``, ...). ``--gallery OUT.png`` draws every misclassified digit
with its true and predicted labels, like the paper's Fig. 8.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from data import load_mnist, to_lenet_input
from docrec.checks import one_line, output_file
from docrec.devices import add_device_option, resolve_device
from lenet.train import penalties_of

WHERE = "docrec eval mnist"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("mnist", help="MNIST test error of a LeNet-family model",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="bundled name or checkpoint path")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--gallery", type=output_file, default=None, help="PNG of the misclassified digits")
    p.add_argument("--mnist-dir", "--mnist", dest="mnist", type=Path, default=None,
                   help="MNIST directory (default: $DOCREC_MNIST_DIR; --mnist is the old spelling)")
    p.add_argument("--images", type=Path, default=None, help=".npy images instead of the MNIST test set")
    p.add_argument("--labels", type=Path, default=None, help=".npy labels for --images")
    p.add_argument("--limit", type=int, default=None, help="only the first N digits")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    add_device_option(p, training=False)
    p.set_defaults(func=run)


def load_digits(args: argparse.Namespace) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, 1, 32, 32)`` float inputs and ``(N,)`` labels from MNIST or ``--images/--labels``."""

    if args.images is None:
        if args.labels is not None:
            raise ValueError("--labels given without --images")
        images, labels = load_mnist("test", root=args.mnist)
        x, y = to_lenet_input(images), torch.from_numpy(labels)
    else:
        if args.labels is None:
            raise ValueError("--images needs --labels")
        try:
            arr = np.load(args.images, allow_pickle=False)
            lab = np.load(args.labels, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read {args.images} / {args.labels}: {exc}") from None
        if arr.dtype == np.uint8:
            if arr.ndim != 3:
                raise ValueError(f"uint8 images must be (N, H, W) MNIST-style digits, got shape {arr.shape}")
            pad = 2 if arr.shape[1:] == (28, 28) else 0
            x = to_lenet_input(arr, pad=pad)
        elif np.issubdtype(arr.dtype, np.floating):
            x = torch.from_numpy(arr.astype(np.float32))
        else:
            raise ValueError(f"images must be uint8 digits or float LeNet inputs, got dtype {arr.dtype}")
        if lab.ndim != 1 or lab.shape[0] != x.shape[0] or not np.issubdtype(lab.dtype, np.integer):
            raise ValueError(f"labels must be N={x.shape[0]} integers, got shape {lab.shape} dtype {lab.dtype}")
        y = torch.from_numpy(lab.astype(np.int64))
    if args.limit:
        x, y = x[:args.limit], y[:args.limit]
    return x, y


def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch: int = 256,
             quiet: bool = True) -> dict:
    """Penalties, predictions, error rate, confusion matrix (rows = true, columns = predicted).
    ``quiet=False``: a progress bar on stderr when it is a terminal."""

    if y.numel() == 0:
        raise ValueError("no digits to evaluate")
    num_classes = getattr(model, "num_classes", 10)
    if int(y.max()) >= num_classes or int(y.min()) < 0:
        raise ValueError(f"label {int(y.max())} outside the model's {num_classes} classes")
    t0 = time.perf_counter()
    from tqdm import tqdm

    chunk = max(batch, 2048)
    with tqdm(total=int(y.numel()), desc="docrec eval mnist", unit="digit", file=sys.stderr,
              disable=quiet or not sys.stderr.isatty()) as bar:
        parts = []
        for s in range(0, x.shape[0], chunk):
            parts.append(penalties_of(model, x[s: s + chunk], batch=batch))
            bar.update(parts[-1].shape[0])
    penalties = torch.cat(parts)
    seconds = time.perf_counter() - t0
    pred = penalties.argmin(1)
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    confusion.index_put_((y, pred), torch.ones_like(y), accumulate=True)
    wrong = (pred != y).nonzero().flatten()
    return {"penalties": penalties, "pred": pred, "wrong": wrong, "confusion": confusion,
            "test_error": float(wrong.numel()) / y.numel(), "seconds": seconds}


def draw_gallery(x: torch.Tensor, y: torch.Tensor, pred: torch.Tensor, wrong: torch.Tensor,
                 path: Path, title: str) -> None:
    """All misclassified digits in a grid, each captioned ``true->predicted`` (Fig. 8)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(1, int(wrong.numel()))
    cols = min(12, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 1.05 + 0.4), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < wrong.numel():
            i = int(wrong[k])
            ax.imshow(-x[i, 0].numpy(), cmap="gray", vmin=-1.175, vmax=0.1)
            ax.set_title(f"{int(y[i])}->{int(pred[i])}", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    from docrec.weights import load_model

    torch.set_num_threads(max(1, args.threads))
    try:
        model = load_model(args.model).to(resolve_device(args.device, training=False))
    except (FileNotFoundError, ValueError) as exc:
        print(f"{WHERE}: error: cannot load model: {one_line(exc)}", file=sys.stderr)
        return 2
    try:
        x, y = load_digits(args)
        result = evaluate(model, x, y, batch=args.batch, quiet=args.quiet)
    except (ValueError, TypeError, OSError, RuntimeError) as exc:
        print(f"{WHERE}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    n = int(y.numel())
    summary = {"model": str(args.model), "arch": getattr(model, "arch", type(model).__name__),
               "test_error": result["test_error"], "n_test": n, "n_errors": int(result["wrong"].numel()),
               "confusion": result["confusion"].tolist(),
               "digits_per_second": n / max(result["seconds"], 1e-9),
               "data": "MNIST test set" if args.images is None else str(args.images)}
    if args.gallery is not None:
        draw_gallery(x, y, result["pred"], result["wrong"], args.gallery,
                     f"{args.model}: {summary['n_errors']} errors of {n} "
                     f"({100 * summary['test_error']:.2f}%), true->predicted")
        summary["gallery"] = str(args.gallery)
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"model {args.model} ({summary['arch']}): test error {100 * summary['test_error']:.2f}% "
          f"({summary['n_errors']} of {n}), {summary['digits_per_second']:.0f} digits/s")
    print("confusion matrix (rows: true, columns: predicted)")
    c = result["confusion"]
    print("     " + " ".join(f"{j:>5d}" for j in range(c.shape[1])))
    for i in range(c.shape[0]):
        print(f"{i:>4d} " + " ".join(f"{int(v):>5d}" for v in c[i]))
    if args.gallery is not None:
        print(f"gallery of misclassified digits: {args.gallery}")
    return 0
