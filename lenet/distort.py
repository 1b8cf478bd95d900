"""On-the-fly distortions of LeNet inputs (docs/paper.md Sec. III-C: "random planar affine
transformations: translation, scaling, squeezing, horizontal shearing"; elastic as an option).

The paper does not give its ranges; ours (:class:`DistortionConfig`, defaults) are:

* translation: uniform in +-2 px horizontally and vertically;
* scaling: uniform factor in [0.9, 1.1] on both axes;
* squeezing: uniform factor s in [0.85, 1.15]: x scaled by s and y by 1/s;
* horizontal shear: x += k * y with k uniform in [-0.3, 0.3] (y measured from the image centre);
* ``probability`` 0.9: the paper trained on 60,000 originals plus 540,000 distorted copies, so
  9 presentations in 10 are distorted;
* elastic (off by default; Simard et al. 2003): per-pixel displacements uniform in [-1, 1],
  smoothed by a Gaussian of ``elastic_sigma`` = 4 px and scaled by ``elastic_alpha`` = 34 px.

Everything is vectorised over the batch (``affine_grid`` + ``grid_sample``, bilinear) and driven by
an explicit ``torch.Generator`` so runs are reproducible. Inputs and outputs are LeNet inputs
``(B, 1, H, W)`` with background -0.1: the background is restored outside the source image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from data.constants import BACKGROUND  # the paper value of a network input



@dataclass
class DistortionConfig:
    """Ranges of the random planar affine distortion (see the module docstring)."""

    max_shift: float = 2.0
    scale: tuple[float, float] = (0.9, 1.1)
    squeeze: tuple[float, float] = (0.85, 1.15)
    max_shear: float = 0.3
    probability: float = 0.9
    elastic: bool = False
    elastic_alpha: float = 34.0
    elastic_sigma: float = 4.0


def _uniform(n: int, lo: float, hi: float, g: torch.Generator | None) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def random_affine_matrices(n: int, config: DistortionConfig, *, size: int = 32,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` random sampling matrices ``(n, 2, 3)`` for ``F.affine_grid`` (output -> input coords).

    The forward transform (input -> output, in pixels about the centre) is
    ``p' = S_scale S_squeeze Shear p + t``; the returned matrix is its inverse in normalised
    coordinates. Patterns not selected (probability ``1 - config.probability``) get the identity.
    """
    g = generator
    scale = _uniform(n, *config.scale, g)
    squeeze = _uniform(n, *config.squeeze, g)
    shear = _uniform(n, -config.max_shear, config.max_shear, g)
    tx = _uniform(n, -config.max_shift, config.max_shift, g)
    ty = _uniform(n, -config.max_shift, config.max_shift, g)
    keep = torch.rand(n, generator=g) < config.probability
    sx = scale * squeeze
    sy = scale / squeeze
    # forward linear part: [[sx, sx*shear], [0, sy]] (shear x by y, then scale)
    fwd = torch.zeros(n, 2, 2)
    fwd[:, 0, 0] = sx
    fwd[:, 0, 1] = sx * shear
    fwd[:, 1, 1] = sy
    inv = torch.linalg.inv(fwd)  # (n, 2, 2)
    t = torch.stack([tx, ty], dim=1) * (2.0 / size)  # pixels -> normalised units
    theta = torch.cat([inv, -(inv @ t.unsqueeze(-1))], dim=2)  # (n, 2, 3)
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).expand(n, 2, 3)
    return torch.where(keep.view(n, 1, 1), theta, identity)


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, int(math.ceil(3 * sigma)))
    xs = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (xs / sigma) ** 2)
    return k / k.sum()


def elastic_displacement(n: int, size: int, config: DistortionConfig, *,
                         generator: torch.Generator | None = None, rows: slice | None = None) -> torch.Tensor:
    """Smooth random displacement fields ``(n, size, size, 2)`` in normalised units; with ``rows``,
    only those fields ``(len(range(n)[rows]), size, size, 2)``, from the same random draws (only
    they are smoothed)."""
    field = torch.rand(n * 2, 1, size, size, generator=generator) * 2 - 1
    if rows is not None:
        field = field.view(n, 2, size, size)[rows].reshape(-1, 1, size, size)
        n = field.shape[0] // 2
    k = _gaussian_kernel(config.elastic_sigma)
    r = k.numel() // 2
    field = F.conv2d(F.pad(field, (r, r, 0, 0), mode="reflect" if r < size else "replicate"),
                     k.view(1, 1, 1, -1))
    field = F.conv2d(F.pad(field, (0, 0, r, r), mode="reflect" if r < size else "replicate"),
                     k.view(1, 1, -1, 1))
    field = field.view(n, 2, size, size).permute(0, 2, 3, 1)  # (n, H, W, 2) as (dx, dy)
    return field * (config.elastic_alpha * 2.0 / size)


def distort(x: torch.Tensor, config: DistortionConfig | None = None, *,
            generator: torch.Generator | None = None, batch: int | None = None,
            rows: slice | None = None) -> torch.Tensor:
    """Apply a fresh random distortion to every pattern: ``(B, 1, H, W) -> (B, 1, H, W)``.

    Args:
        x: LeNet inputs (background -0.1); H == W.
        config: ranges (defaults: :class:`DistortionConfig`).
        generator: random source (for reproducible runs).
        batch, rows: ``x`` holds the rows ``rows`` of a batch of ``batch`` patterns (one process's
            share under torchrun): the random draws are the whole batch's, so ``generator`` ends
            where it would after distorting the whole batch and every row gets the distortion it
            would get there, but only ``x``'s rows are resampled.

    Raises:
        ValueError: for a non-square or non-4-D input, or ``rows`` not selecting ``len(x)`` of
            ``batch`` rows.
    """
    config = config or DistortionConfig()
    if x.dim() != 4 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"[lenet.distort] expected square inputs (B, C, H, H), got {tuple(x.shape)}")
    n, size = x.shape[0], x.shape[-1]
    if (batch is None) != (rows is None):
        raise ValueError("[lenet.distort] give both batch and rows, or neither")
    if rows is not None and len(range(batch)[rows]) != n:
        raise ValueError(f"[lenet.distort] rows {rows} select {len(range(batch)[rows])} of a batch of {batch}, "
                         f"but x holds {n} patterns")
    total = n if batch is None else batch
    theta = random_affine_matrices(total, config, size=size, generator=generator).to(x.dtype)
    if rows is not None:
        theta = theta[rows]
    elastic = (elastic_displacement(total, size, config, generator=generator, rows=rows).to(x.dtype)
               if config.elastic else None)  # drawn even for no rows: every process draws alike
    if n == 0:
        return x.clone()
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, H, W, 2)
    if elastic is not None:
        grid = grid + elastic
    out = F.grid_sample(x - BACKGROUND, grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)
    return out + BACKGROUND


def shifted_copies(x: torch.Tensor, *, pixels: int) -> torch.Tensor:
    """The inputs and their copies moved by whole pixels, for averaging a classifier over small
    translations at test time: ``(B, C, H, W)`` -> ``(5, B, C, H, W)``, in the order: unmoved, moved
    ``pixels`` right, left, down, up. Pixels moved in from outside are background; no interpolation.

    Raises:
        ValueError: for a non-4-D input or ``pixels`` not in ``[1, min(H, W))``.
    """
    if x.dim() != 4:
        raise ValueError(f"[lenet.shifted_copies] expected inputs (B, C, H, W), got {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if not (isinstance(pixels, int) and not isinstance(pixels, bool) and 1 <= pixels < min(h, w)):
        raise ValueError(f"[lenet.shifted_copies] pixels={pixels!r} must be an integer in [1, {min(h, w)})")
    p = pixels
    padded = F.pad(x, (p, p, p, p), value=BACKGROUND)
    # content moved by (dx, dy): out[i, j] = x[i - dy, j - dx] = padded[i - dy + p, j - dx + p]
    moves = ((0, 0), (p, 0), (-p, 0), (0, p), (0, -p))
    return torch.stack([padded[..., p - dy: p - dy + h, p - dx: p - dx + w] for dx, dy in moves])


__all__ = ["DistortionConfig", "distort", "elastic_displacement", "random_affine_matrices", "shifted_copies"]
