"""The Euclidean RBF output layer and its stylised 7x12 codes (docs/paper.md Sec. II-B, Fig. 3).

Every class ``i`` has a fixed centre ``w_i`` in ``{-1, +1}^84``: a 7-wide, 12-tall bitmap of the
character, ink = +1, paper = -1, read row by row. The output is a *penalty*
``y_i = sum_j (x_j - w_ij)^2`` (lower = more likely) over the 84 outputs ``x`` of F6.

The paper only draws its ASCII bitmaps (Fig. 3); the bitmaps below are our own, for the project's
17-symbol character set (data.constants.CHARSET, ids in this order)::

    0 1 2 3 4 5 6 7 8 9 , . - $ * /  <none>

Design choices (documented because the paper leaves them open):

* Similar shapes get similar codes, as the paper asks, so that a later linguistic stage can fix
  their confusions (Hamming distances out of 84 bits): ``,``/``.`` 2, ``-``/``.`` 14,
  ``8``/``6`` 16, ``8``/``0`` 17, ``0``/``6`` and ``0``/``9`` 19, ``7``/``/`` 21, ``5``/``$`` 22,
  ``3``/``8`` 22; dissimilar pairs are 35-45 apart (e.g. ``0``/``1`` 43). The nearest two digit
  codes are 16 bits apart (squared Euclidean distance 64), which sets the MAP constant ``j``
  (:mod:`lenet.losses`).
* ``<none>`` (rubbish, "no character centred here") is a checkerboard. It is not the image of any
  character and it sits at a roughly equal Hamming distance (about 40 of 84 bits) from every
  character code, so rejecting a piece never favours one particular character. A blank code would
  have been a poor choice: it is within a few bits of ``.`` and ``,``.

Use :func:`charset_codes` for the ``(C, 84)`` centre matrix and :func:`render_code` to print one.
"""

from __future__ import annotations

import torch
from torch import nn

from data.constants import CHARSET, NONE_ID  # the shared character set (ids 0..16; 16 is 'none')

CODE_WIDTH = 7
CODE_HEIGHT = 12
CODE_SIZE = CODE_WIDTH * CODE_HEIGHT  # 84, the number of F6 units

# 12 rows of 7 characters each: '#' = ink (+1), '.' = paper (-1).
_BITMAPS: dict[str, str] = {
    "0": """
.......
..###..
.##.##.
.#...#.
##...##
##...##
##...##
##...##
.#...#.
.##.##.
..###..
.......""",
    "1": """
.......
...##..
..###..
.####..
...##..
...##..
...##..
...##..
...##..
...##..
.######
.......""",
    "2": """
.......
..###..
.#...#.
.....##
.....##
....##.
...##..
..##...
.##....
##.....
#######
.......""",
    "3": """
.......
.#####.
.....##
.....##
....##.
..###..
....##.
.....##
.....##
.....##
.#####.
.......""",
    "4": """
.......
....##.
...###.
..#.##.
.#..##.
#...##.
#######
....##.
....##.
....##.
....##.
.......""",
    "5": """
.......
#######
##.....
##.....
#####..
....##.
.....##
.....##
.....##
....##.
#####..
.......""",
    "6": """
.......
...###.
..##...
.##....
##.....
#####..
##..##.
##...##
##...##
.##.##.
..###..
.......""",
    "7": """
.......
#######
.....##
....##.
....##.
...##..
...##..
..##...
..##...
..##...
..##...
.......""",
    "8": """
.......
..###..
.##.##.
.#...#.
.##.##.
..###..
.##.##.
##...##
##...##
.##.##.
..###..
.......""",
    "9": """
.......
..###..
.##.##.
##...##
##...##
.##..##
..#####
.....##
....##.
...##..
.###...
.......""",
    ",": """
.......
.......
.......
.......
.......
.......
.......
.......
..##...
..##...
...#...
..#....""",
    ".": """
.......
.......
.......
.......
.......
.......
.......
.......
..##...
..##...
.......
.......""",
    "-": """
.......
.......
.......
.......
.......
.#####.
.#####.
.......
.......
.......
.......
.......""",
    "$": """
...#...
.#####.
##.#...
##.#...
.###...
..###..
...###.
...#.##
...#.##
.#####.
...#...
.......""",
    "*": """
.......
.......
...#...
#..#..#
.#.#.#.
..###..
.#.#.#.
#..#..#
...#...
.......
.......
.......""",
    "/": """
.......
......#
.....##
.....#.
....##.
...##..
..##...
.##....
.#.....
##.....
#......
.......""",
}


def _parse(symbol: str, text: str) -> list[float]:
    rows = [r for r in text.strip().splitlines()]
    if len(rows) != CODE_HEIGHT or any(len(r) != CODE_WIDTH for r in rows):
        raise ValueError(f"[lenet.rbf] bitmap of {symbol!r} is not {CODE_WIDTH}x{CODE_HEIGHT}")
    return [1.0 if ch == "#" else -1.0 for r in rows for ch in r]


def _none_code() -> list[float]:
    return [1.0 if (r + c) % 2 == 0 else -1.0 for r in range(CODE_HEIGHT) for c in range(CODE_WIDTH)]


def charset_codes(num_classes: int = len(CHARSET)) -> torch.Tensor:
    """The fixed RBF centres of the first ``num_classes`` symbols of :data:`CHARSET`.

    Args:
        num_classes: 10 (digits, the MNIST benchmark) or 17 (the full character set incl. none);
            any value in 1..17 is accepted.

    Returns:
        float32 ``(num_classes, 84)`` with entries +-1.

    Raises:
        ValueError: ``num_classes`` outside 1..17.
    """
    if not 1 <= num_classes <= len(CHARSET):
        raise ValueError(f"[lenet.charset_codes] num_classes={num_classes} outside 1..{len(CHARSET)}")
    rows = [_parse(s, _BITMAPS[s]) for s in CHARSET[:NONE_ID]] + [_none_code()]
    return torch.tensor(rows[:num_classes], dtype=torch.float32)


def render_code(code: torch.Tensor) -> str:
    """A printable 7x12 picture of one ``(84,)`` code ('#' for +1, '.' for -1)."""
    flat = code.reshape(-1).tolist()
    if len(flat) != CODE_SIZE:
        raise ValueError(f"[lenet.render_code] expected {CODE_SIZE} values, got {len(flat)}")
    return "\n".join("".join("#" if v > 0 else "." for v in flat[r * CODE_WIDTH:(r + 1) * CODE_WIDTH])
                     for r in range(CODE_HEIGHT))


def place_codes(num_classes: int) -> torch.Tensor:
    """1-of-N ('place') codes ``(C, C)``: +1 on the diagonal, -1 elsewhere.

    An RBF over C tanh units with these centres is the classic sigmoid output layer trained with
    +-1 targets (used by LeNet-1 and LeNet-4): ``argmin_i y_i = argmax_i x_i``.
    """
    return 2.0 * torch.eye(num_classes) - 1.0


class EuclideanRBF(nn.Module):
    """Euclidean RBF units with fixed centres: ``(*, N) -> (*, C)`` penalties (Sec. II-B).

    ``y_i = sum_j (x_j - w_ij)^2``. The centres are a buffer (saved in the state dict so a checkpoint
    says which codes it was trained with) and never trained: trainable centres let the MSE loss
    collapse (Sec. II-C).

    Args:
        centres: ``(C, N)`` tensor.
    """

    def __init__(self, centres: torch.Tensor):
        super().__init__()
        if centres.dim() != 2:
            raise ValueError(f"[lenet.EuclideanRBF] centres must be (C, N), got {tuple(centres.shape)}")
        self.register_buffer("centres", centres.detach().clone().float())

    @property
    def num_classes(self) -> int:
        return self.centres.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.centres.shape[1]:
            raise ValueError(
                f"[lenet.EuclideanRBF] input has {x.shape[-1]} features, centres have "
                f"{self.centres.shape[1]}"
            )
        w = self.centres.to(x.dtype)
        # (x - w)^2 summed = |x|^2 - 2 x.w + |w|^2, one matmul for the whole batch
        return (x * x).sum(-1, keepdim=True) - 2.0 * (x @ w.t()) + (w * w).sum(-1)

    def extra_repr(self) -> str:
        return f"classes={self.centres.shape[0]}, features={self.centres.shape[1]}"


__all__ = ["CHARSET", "CODE_HEIGHT", "CODE_SIZE", "CODE_WIDTH", "EuclideanRBF", "NONE_ID",
           "charset_codes", "place_codes", "render_code"]
