"""The constants shared by several packages, in one place (docs/design.md: imported, never retyped).

``data`` is the lowest package, so ``lenet``, ``segmenter``, ``decoders`` and ``docrec`` all read them
from here. Plain Python: importing this module loads nothing else.
"""

from __future__ import annotations

#: The 16 characters of the shared charset, in class-id order.
CHARACTERS = "0123456789,.-$*/"
#: The name of the 'none' class (not a character: a piece or frame that is no character, or between
#: characters; docs/paper.md Sec. VII, VIII).
NONE_SYMBOL = "<none>"
#: Every class of a character network, in class-id order: the characters, then 'none'.
CHARSET: tuple[str, ...] = tuple(CHARACTERS) + (NONE_SYMBOL,)
#: The 'none' class id: one past the characters.
NONE_ID = len(CHARACTERS)
#: Outputs of a character network: the characters and 'none'.
NUM_CLASSES = NONE_ID + 1
#: Value of the white paper in a network input (ink is 1.175, paper -0.1: mean about 0, variance about 1;
#: docs/paper.md Sec. II.A).
BACKGROUND = -0.1
#: Height of an SDNN strip and width of its window (pixels), and the stride between frames.
STRIP_H = 32
STRIDE = 4

__all__ = ["BACKGROUND", "CHARACTERS", "CHARSET", "NONE_ID", "NONE_SYMBOL", "NUM_CLASSES", "STRIDE", "STRIP_H"]
