"""Security-paper backgrounds: guilloche line patterns and ruling, as printed on bank cheques.

Real cheque fields (e.g. ORAND-CAR-A) show families of fine, roughly parallel wavy lines a few
pixels apart, printed at low contrast, sometimes crossing another family at an angle or bending
around a far-away centre (arcs), and often a printed rule or the box's frame along an edge. This
module draws that pattern as *darkness* (grey levels to subtract from the paper), float32 ``(H, W)``:

* 1-3 line families (p = 0.35, 0.45, 0.2). Each is the level set ``cos(2 pi phase)`` of a phase that is either a tilted
  coordinate (``y cos t - x sin t``, tilt -25..25 degrees or, for a second family, -60..60) or the
  distance to a centre far outside the field (arcs), plus 1-2 sinusoidal waves along x
  (wavelength 15-80 natural px, amplitude up to 1.5 line periods). The line period is 1.8-3
  natural px (times ``scale``); raising the cosine profile to a power 2-5 makes the lines thin.
  A family's darkness peaks at 35-80 grey levels (x 0.7 for the second and third) and fades
  slowly across the field (x 0.4-1); arcs are drawn with p = 0.4.
* ruling (:func:`draw_ruling`): a darker line (grey 60-150, 1-2 px) along the bottom edge, under
  the baseline, or along the top edge.
"""

from __future__ import annotations

import cv2
import numpy as np


def guilloche_darkness(shape: tuple[int, int], rng: np.random.Generator, *, scale: float = 1.0) -> np.ndarray:
    """The darkness of a guilloche pattern (module docstring).

    Args:
        shape: ``(H, W)`` of the field.
        rng: the random generator.
        scale: output pixels per natural (MNIST) pixel; sets the line period and wavelengths.

    Returns:
        float32 ``(H, W)`` darkness in grey levels, >= 0 (0 = no print).

    Raises:
        ValueError: an empty shape or a non-positive scale.
    """
    h, w = (int(v) for v in shape)
    if h < 1 or w < 1 or not scale > 0:
        raise ValueError(f"[data.guilloche.guilloche_darkness] need a non-empty shape and scale > 0, got {shape}, {scale}")
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dark = np.zeros((h, w), np.float32)
    families = 1 + int(rng.choice(3, p=[0.35, 0.45, 0.2]))
    for k in range(families):
        phase = _family_phase(xx, yy, rng, scale=scale, second=k > 0)
        profile = (0.5 + 0.5 * np.cos(2 * np.pi * phase)) ** rng.uniform(2.0, 5.0)
        strength = rng.uniform(35.0, 80.0) * (0.7 if k > 0 else 1.0)
        dark += strength * profile * _fade((h, w), rng)
    return dark


def _family_phase(xx: np.ndarray, yy: np.ndarray, rng, *, scale: float, second: bool) -> np.ndarray:
    """Phase (in line periods) of one family of wavy lines."""
    h, w = xx.shape
    period = rng.uniform(1.8, 3.0) * scale
    if rng.random() < 0.4:  # arcs around a centre far outside the field
        radius = rng.uniform(2.0, 6.0) * max(h, w)
        angle = rng.uniform(0, 2 * np.pi)
        cx, cy = w / 2 + radius * np.cos(angle), h / 2 + radius * np.sin(angle)
        base = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
    else:
        tilt = np.deg2rad(rng.uniform(-60.0, 60.0) if second else rng.uniform(-25.0, 25.0))
        base = yy * np.cos(tilt) - xx * np.sin(tilt)
    for _ in range(int(rng.integers(1, 3))):
        wavelength = rng.uniform(15.0, 80.0) * scale
        amp = rng.uniform(0.0, 1.5) * period
        base = base + amp * np.sin(2 * np.pi * xx / wavelength + rng.uniform(0, 2 * np.pi))
    return base / period


def _fade(shape: tuple[int, int], rng) -> np.ndarray:
    """A smooth multiplier in [0.4, 1] so that the print is uneven across the field."""
    h, w = shape
    coarse = rng.uniform(0.4, 1.0, (2, 3)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)


def draw_ruling(bg: np.ndarray, rng: np.random.Generator, *, baseline: float, scale: float = 1.0,
                probability: float = 0.5) -> None:
    """With ``probability``, draw a printed rule into the grey paper ``bg`` (in place).

    Args:
        bg: float32 ``(H, W)`` grey paper, modified in place.
        rng: the random generator.
        baseline: row of the writing baseline in ``bg``.
        scale: output pixels per natural pixel.
        probability: chance of drawing a rule at all.

    Raises:
        ValueError: ``probability`` outside [0, 1].
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"[data.guilloche.draw_ruling] probability {probability} outside [0, 1]")
    if rng.random() >= probability:
        return
    h, _ = bg.shape
    thick = max(1, int(round(rng.uniform(0.5, 1.2) * scale)))
    where = rng.choice(3, p=[0.55, 0.25, 0.2])
    if where == 0:  # the box's bottom edge
        row = h - thick - int(rng.integers(0, 3))
    elif where == 1:  # a guide line under the writing
        row = int(round(baseline + rng.uniform(1.0, 5.0) * scale))
    else:  # the box's top edge
        row = int(rng.integers(0, 3))
    r0, r1 = min(max(row, 0), h - 1), min(max(row + thick, 1), h)
    bg[r0:r1, :] = np.minimum(bg[r0:r1, :], rng.uniform(60.0, 150.0))
