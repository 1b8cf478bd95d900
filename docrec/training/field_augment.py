"""Label-preserving augmentation of real field images (uint8 greyscale scans), for training on real
labelled fields (:mod:`docrec.training.strip_real`).

Every change keeps the reading of the field: a small random affine map (scale, horizontal
squeeze, shear, rotation, all about the field's centre, the paper's level filling the borders), an
occasional smooth elastic warp (displacements of a few percent of the field height), a thinner or
bolder stroke (grey-level erosion or dilation), a contrast / brightness / gamma change of the ink against the paper, an occasional blur, Gaussian
noise or JPEG round trip, and random blank margins. Ranges were kept small on purpose: a real
field already carries the writer's variability; the augmentation only has to stop ~650 fields
being memorised.

:func:`scan_variant` changes only how a field was scanned (blur, contrast, noise, JPEG): every pixel
stays where it was, so the field's per-character boxes still hold and its true pieces can be cut
from the copy as from the original.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class AugmentConfig:
    """Ranges of :func:`augment_field` (``p_*``: probability of applying that step).

    Attributes:
        scale: isotropic scale range.
        squeeze: horizontal-only scale range (narrower or wider writing).
        shear: horizontal shear range (x += shear * (y - centre)).
        rotate: rotation range in degrees.
        contrast: factor range of the ink's darkness against the paper.
        gamma: gamma range of the grey levels.
        p_elastic: probability of an elastic warp.
        elastic: its displacement scale, as a fraction of the field height.
        p_stroke: probability of a stroke width change (2x2 grey erosion or dilation, even odds).
        p_blur: probability of a 3x3 Gaussian blur.
        p_noise: probability of Gaussian noise (sigma up to ``noise`` grey levels).
        noise: maximum noise sigma.
        p_jpeg: probability of a JPEG round trip at quality 30..90.
        margin: maximum blank margin added on each side, as a fraction of the field height.
    """

    scale: tuple[float, float] = (0.85, 1.15)
    squeeze: tuple[float, float] = (0.85, 1.15)
    shear: tuple[float, float] = (-0.2, 0.2)
    rotate: tuple[float, float] = (-3.0, 3.0)
    contrast: tuple[float, float] = (0.6, 1.1)
    gamma: tuple[float, float] = (0.7, 1.4)
    p_elastic: float = 0.3
    elastic: float = 0.04
    p_stroke: float = 0.3
    p_blur: float = 0.2
    p_noise: float = 0.3
    noise: float = 8.0
    p_jpeg: float = 0.3
    margin: float = 0.5

    def validate(self) -> "AugmentConfig":
        """Check every range; returns self. Raises ValueError naming the bad field."""
        for name in ("scale", "squeeze", "shear", "rotate", "contrast", "gamma"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"[docrec.AugmentConfig] {name} range ({lo}, {hi}) has lo > hi")
        for name in ("p_elastic", "p_stroke", "p_blur", "p_noise", "p_jpeg"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"[docrec.AugmentConfig] {name} must be in [0, 1], got {getattr(self, name)}")
        if self.scale[0] <= 0 or self.squeeze[0] <= 0 or self.gamma[0] <= 0:
            raise ValueError("[docrec.AugmentConfig] scale, squeeze and gamma must be > 0")
        if self.margin < 0 or self.noise < 0 or self.elastic < 0:
            raise ValueError("[docrec.AugmentConfig] margin, noise and elastic must be >= 0")
        return self


def _paper_level(img: np.ndarray) -> float:
    """The paper's grey level: the median of the brighter half of the pixels."""
    flat = np.sort(img.ravel())
    return float(flat[len(flat) * 3 // 4])


def _affine(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    h, w = img.shape
    s = rng.uniform(*cfg.scale)
    sx = s * rng.uniform(*cfg.squeeze)
    shear = rng.uniform(*cfg.shear)
    a = np.deg2rad(rng.uniform(*cfg.rotate))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    m = rot @ np.array([[sx, shear * s], [0.0, s]])  # (2, 2): scale, shear, then rotate
    out_w, out_h = max(8, int(round(w * sx + abs(shear) * h))), max(8, int(round(h * s)))
    centre_in = np.array([w / 2.0, h / 2.0])
    centre_out = np.array([out_w / 2.0, out_h / 2.0])
    mat = np.hstack([m, (centre_out - m @ centre_in)[:, None]]).astype(np.float32)  # (2, 3)
    return cv2.warpAffine(img, mat, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=_paper_level(img))


def _elastic(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """A smooth random displacement field (Gaussian-filtered noise) of about ``elastic * H`` px."""
    h, w = img.shape
    sigma = max(2.0, 0.25 * h)
    field = []
    for _ in range(2):
        d = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma)
        d /= max(1e-6, float(np.abs(d).max()))
        field.append(d * cfg.elastic * h)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(img, xs + field[0], ys + field[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=_paper_level(img))


def _levels(img: np.ndarray, rng: np.random.Generator, cfg: "AugmentConfig | ScanConfig") -> np.ndarray:
    paper = _paper_level(img)
    x = img.astype(np.float32)
    x = paper - (paper - x) * rng.uniform(*cfg.contrast)  # ink darkness scaled against the paper
    x = 255.0 * (np.clip(x, 0, 255) / 255.0) ** rng.uniform(*cfg.gamma)
    return np.clip(x, 0, 255)


def _grey_field(image, *, where: str) -> np.ndarray:
    """``image`` as a non-empty uint8 ``(H, W)`` array; ValueError naming ``where`` otherwise."""
    img = np.asarray(image)
    if img.ndim != 2 or img.dtype != np.uint8 or img.size == 0:
        raise ValueError(f"[{where}] expected a non-empty uint8 (H, W) image, got {img.dtype} {img.shape}")
    return img


def _noise_and_jpeg(x: np.ndarray, rng: np.random.Generator, *, p_noise: float, noise: float, p_jpeg: float,
                    quality: tuple[int, int]) -> np.ndarray:
    """Float grey levels ``(H, W)`` -> uint8: Gaussian noise (sigma up to ``noise``) with probability
    ``p_noise``, then a JPEG round trip at a quality drawn in ``quality`` with probability ``p_jpeg``."""
    if rng.random() < p_noise:
        x = x + rng.normal(0.0, rng.uniform(0.0, noise), x.shape)
    out = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    if rng.random() < p_jpeg:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(quality[0], quality[1] + 1))])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return out


def augment_field(image: np.ndarray, rng: np.random.Generator, config: AugmentConfig | None = None) -> np.ndarray:
    """One random label-preserving variant of a field (module docstring).

    Args:
        image: uint8 ``(H, W)`` field, dark ink on light paper.
        rng: the random source (every choice is drawn from it).
        config: the ranges (default :class:`AugmentConfig`).

    Returns:
        uint8 ``(H', W')``: the augmented field (size changes with scale and margins).

    Raises:
        ValueError: ``image`` is not a non-empty uint8 ``(H, W)`` array.
    """
    cfg = (config or AugmentConfig()).validate()
    out = _affine(_grey_field(image, where="docrec.augment_field"), rng, cfg)
    if rng.random() < cfg.p_elastic:
        out = _elastic(out, rng, cfg)
    if rng.random() < cfg.p_stroke:  # dark ink: erosion of the grey image thickens it
        op = cv2.erode if rng.random() < 0.5 else cv2.dilate
        out = op(out, np.ones((2, 2), np.uint8))
    x = _levels(out, rng, cfg)
    if rng.random() < cfg.p_blur:
        x = cv2.GaussianBlur(x, (3, 3), rng.uniform(0.4, 1.0))
    out = _noise_and_jpeg(x, rng, p_noise=cfg.p_noise, noise=cfg.noise, p_jpeg=cfg.p_jpeg, quality=(30, 90))
    if cfg.margin > 0:
        h = out.shape[0]
        left, right, top, bottom = (int(rng.uniform(0, cfg.margin) * h) for _ in range(4))
        out = cv2.copyMakeBorder(out, top, bottom, left, right, cv2.BORDER_CONSTANT, value=_paper_level(out))
    return out


@dataclass
class ScanConfig:
    """Ranges of :func:`scan_variant` (``p_*``: probability of applying that step).

    Attributes:
        p_blur: probability of a Gaussian blur (an out-of-focus or low-resolution scan).
        blur: its sigma range in pixels of the field (ORAND digits are about 26 px high).
        contrast: factor range of the ink's darkness against the paper.
        gamma: gamma range of the grey levels.
        p_noise: probability of Gaussian noise (sigma up to ``noise`` grey levels).
        noise: maximum noise sigma.
        p_jpeg: probability of a JPEG round trip at a quality in ``quality``.
        quality: JPEG quality range.
    """

    p_blur: float = 0.7
    blur: tuple[float, float] = (0.6, 1.8)
    contrast: tuple[float, float] = (0.45, 1.0)
    gamma: tuple[float, float] = (0.8, 1.25)
    p_noise: float = 0.3
    noise: float = 8.0
    p_jpeg: float = 0.3
    quality: tuple[int, int] = (20, 70)

    def validate(self) -> "ScanConfig":
        """Check every range; returns self. Raises ValueError naming the bad field."""
        for name in ("blur", "contrast", "gamma", "quality"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"[docrec.ScanConfig] {name} range ({lo}, {hi}) must have 0 < lo <= hi")
        for name in ("p_blur", "p_noise", "p_jpeg"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"[docrec.ScanConfig] {name} must be in [0, 1], got {getattr(self, name)}")
        if self.noise < 0 or self.quality[1] > 100:
            raise ValueError(f"[docrec.ScanConfig] noise={self.noise} must be >= 0 and quality <= 100")
        return self


def scan_variant(image: np.ndarray, rng: np.random.Generator, config: ScanConfig | None = None) -> np.ndarray:
    """The field as another scanner would give it: uint8 ``(H, W)`` -> uint8 ``(H, W)``, every
    pixel in place (the boxes of its characters still hold).

    Drawn from ``rng``: the ink's contrast and gamma (:class:`ScanConfig` ranges), then a blur, noise
    and a JPEG round trip, each with its probability.

    Raises:
        ValueError: ``image`` is not a non-empty uint8 ``(H, W)`` array.
    """
    cfg = (config or ScanConfig()).validate()
    x = _levels(_grey_field(image, where="docrec.scan_variant"), rng, cfg)
    if rng.random() < cfg.p_blur:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(*cfg.blur))
    return _noise_and_jpeg(x, rng, p_noise=cfg.p_noise, noise=cfg.noise, p_jpeg=cfg.p_jpeg, quality=cfg.quality)


def join_fields(left: np.ndarray, right: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two uint8 ``(H, W)`` fields side by side, scaled to their mean height, each on its own
    paper, with a gap of 0-30% of that height: a field whose reading is the two readings joined
    (new neighbours and lengths for a network that sees the whole strip)."""
    h = int(round((left.shape[0] + right.shape[0]) / 2))
    parts = [cv2.resize(im, (max(1, int(round(im.shape[1] * h / im.shape[0]))), h), interpolation=cv2.INTER_AREA)
             for im in (left, right)]
    gap = np.full((h, int(rng.uniform(0.0, 0.3) * h)), _paper_level(parts[0]), np.uint8)
    return np.hstack([parts[0], gap, parts[1]])


__all__ = ["AugmentConfig", "ScanConfig", "augment_field", "join_fields", "scan_variant"]
