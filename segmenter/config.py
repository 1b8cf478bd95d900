"""Configuration of the over-segmenter, in five parts: binarisation, cleaning, cuts, graph shape and
piece normalisation (:class:`SegmenterConfig` holds one of each). The defaults are the values the
product reads with: the graph's merge width and its gap and dot penalties were chosen on validation
strings of MNIST training digits (docs/segmenter.md, ``benchmarks/seg_penalties.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

#: Binarisation methods understood by :func:`segmenter.preprocess.binarize` (``midpoint`` is the one
#: chosen by measurement; the others are kept for ``benchmarks/segmentation.py``'s comparison).
BINARIZE_METHODS = ("fixed", "otsu", "adaptive", "sauvola", "bgnorm", "midpoint")


@dataclass(frozen=True)
class BinarizeConfig:
    """How ink is told from paper (:func:`segmenter.preprocess.binarize`).

    Attributes:
        method: one of ``BINARIZE_METHODS``; ``"midpoint"`` (background-normalised local
            midpoint) was chosen by measurement, see docs/segmenter.md and
            ``benchmarks/segmentation.py``.
        fixed_threshold: grey level under which a pixel is ink for ``"fixed"``.
        window_rel: local window of ``adaptive``/``sauvola``/``midpoint``, relative to the image
            height.
        adaptive_offset: ``adaptive`` marks a pixel ink when darker than its local mean minus this.
        sauvola_k, sauvola_r: Sauvola's ``T = m (1 + k (s / R - 1))``.
        min_contrast: a pixel is ink only if at least this many grey levels darker than the local
            background estimate (all methods); guards flat or white images against noise ink.
        min_contrast_rel: on a faint field (pale ink, a washed-out scan) the guard is lowered to
            this fraction of the field's own contrast (its darkest ink against the paper), so it is
            never stricter than the midpoint itself; ``0`` keeps ``min_contrast`` fixed.
        min_contrast_floor: the lowest the guard goes (grey levels), so flat paper still has no ink.
        min_contrast_noise: ... nor below this many times the field's pixel noise (a robust
            estimate: 1.4826 times the median absolute difference from a 3x3 median filter), so a
            blank, grainy field still has no ink.
    """

    method: str = "midpoint"
    fixed_threshold: int = 128
    window_rel: float = 0.75
    adaptive_offset: float = 12.0
    sauvola_k: float = 0.2
    sauvola_r: float = 128.0
    min_contrast: float = 40.0
    min_contrast_rel: float = 0.5
    min_contrast_floor: float = 20.0
    min_contrast_noise: float = 6.0


@dataclass(frozen=True)
class CleanConfig:
    """What preprocessing removes, and where it looks for the writing (:mod:`segmenter.preprocess`,
    :mod:`segmenter.lines`).

    Attributes:
        invert_light_ink: a field of light ink on dark paper (MNIST's own polarity, a negative
            scan; :func:`segmenter.preprocess.light_ink`) is inverted before anything else, so
            reading and training see dark ink on light paper alike.
        remove_lines: remove printed horizontal lines (ruling, frame tops and bottoms): long runs
            that are straight and thin or touch the top/bottom edge, only their own band, keeping
            the strokes that cross them (:func:`segmenter.preprocess.remove_printed_lines`).
        line_min_rel: minimum length of a guide line, relative to the image height.
        line_min_px: ... and never shorter than this many pixels,
        line_span_rel: ... except that a run spanning this fraction of the image width is always
            long enough (frame lines of a short field).
        line_max_slope: a printed line drifts at most this many pixels across per pixel along.
        line_max_wobble_rel: ... and its centre stays within this (relative to the image height,
            at least 1 px, RMS) of a straight line.
        line_find_contrast: lines are looked for among the ink and the pixels at least this much
            darker than the paper (``1 - grey / paper``): a pale printed line is ink only in
            stretches, where no darker pen lies within the binarisation window.
        line_max_width_rel: a horizontal line not touching the top/bottom edge is at most this
            thick (relative to the image height).
        remove_borders: remove vertical frame lines and scanner border strips (straight runs that
            span the height and touch the left or right edge), and components lying entirely within
            ``edge_band_rel * image_height`` rows of the top or bottom edge (pieces of a broken frame
            line, stray print; a mark that small right at the edge is lost too).
        edge_band_rel: see ``remove_borders``.
        border_min_rel: a vertical frame line spans at least this fraction of the image height,
        border_span_rel: ... starts and ends within this distance (relative to the image height,
            at least 2 px) of the top and bottom,
        border_margin_rel: ... and lies within this distance (relative to the image height, at
            least 2 px) of the left or right edge (or both its ends meet printed horizontal lines:
            a frame inside the field).
        crop_content: clean the field inside the box of its writing when wide margins surround it
            (:func:`segmenter.preprocess.content_box`), so every relative length refers to the
            writing, not to the margins.
        content_crop_rel: ... when that box (with its pad) is below this fraction of the image's
            height or width;
        content_pad_rel: ... widened by this fraction of its height on every side (so the writing
            lies well inside the window, clear of its edge bands and border tests),
        content_min_px: ... and to at least this many pixels each way.
        speck_rel_area: connected components smaller than ``speck_rel_area * image_height**2``
            pixels (at least ``speck_min_px``) are removed as noise.
        speck_min_px: lower bound of the speck area threshold.
        speck_near_rel: ... except those within this distance (relative to the image height) of a
            larger component (fragments of a broken stroke); 0 drops every small component.
        min_char_rel: the character height used for every relative length is at least this
            fraction of the image height (a field holding only a dot or a dash).
        remnant_rel_area: components smaller than ``remnant_rel_area * image_height**2`` lying
            mostly along a removed line (line stubs) are removed too.
        deslant: shear the ink upright (slant from second-order moments) before cutting; piece boxes
            are still reported in the coordinates of the input image.
        max_slant: absolute shear never exceeds this (dx per dy).
    """

    invert_light_ink: bool = True
    remove_lines: bool = True
    line_min_rel: float = 2.0
    line_min_px: int = 24
    line_span_rel: float = 0.8
    line_max_slope: float = 0.08
    line_max_wobble_rel: float = 0.03
    line_max_width_rel: float = 0.15
    line_find_contrast: float = 0.2
    remove_borders: bool = True
    border_min_rel: float = 0.85
    border_span_rel: float = 0.04
    border_margin_rel: float = 0.08
    crop_content: bool = True
    content_crop_rel: float = 0.5
    content_pad_rel: float = 0.25
    content_min_px: int = 32
    edge_band_rel: float = 0.12
    speck_rel_area: float = 0.003
    speck_min_px: int = 3
    speck_near_rel: float = 0.04
    min_char_rel: float = 0.25
    remnant_rel_area: float = 0.02
    deslant: bool = False
    max_slant: float = 1.0


@dataclass(frozen=True)
class CutConfig:
    """Cut candidates (:mod:`segmenter.cuts`, :mod:`segmenter.splits`) and ink ownership (:mod:`segmenter.pieces`).

    Attributes:
        cut_gaps: cut at the middle of every column gap between ink.
        cut_component_gaps: cut between horizontally adjacent connected components whose column
            extents overlap only a little (slanted but separate neighbours).
        cut_projection: cut at local minima of the smoothed vertical projection profile.
        cut_contour: cut at local minima of the upper/lower contour distance.
        cut_paths: inside wide connected components, add the best slanted cut paths
            (:func:`segmenter.cuts.path_cuts`).
        path_max_rel: such a path may sever at most this many ink connections per pixel of
            character height.
        dense_wide_rel: components wider than this (relative to the character height) get them.
        dense_step_rel: if > 0, only paths whose score is the lowest within this window (relative
            to the character height, per slope) are eligible; 0 = all.
        dense_per_char: at most this many such cuts per character height of component width,
            the best by ``(cost + score_eps) / min(ink left, ink right)`` (cheap and balanced).
        score_eps: see ``dense_per_char``.
        min_side_rel: the path must leave at least this many pixels (times char_height**2) of ink
            on each side within one character height.
        projection_max_rel: projection minima are kept only when the column holds at most this
            fraction of the profile's maximum (relative depth).
        contour_max_rel: contour-distance minima are kept only when the distance is at most this
            fraction of the character height.
        smooth_px: width of the moving average applied to the profiles before taking minima.
        min_piece_rel, min_piece_px: two cuts are merged (the cheaper path kept) when fewer than
            ``max(min_piece_px, min_piece_rel * char_height**2)`` ink pixels lie on different sides
            of them (cuts "closer than a few pixels", measured in ink).
        cut_slopes: slopes (dx/dy, negative leans right) of the lines cut paths follow; the
            heuristics' columns take the cheapest, wide components may get several. ``(0.0,)``
            gives vertical cuts only.
        cut_band_rel: a cut's path may stray this far (relative to the character height) from its
            line to find the thinnest crossing (0 = straight cuts).
        step_cost, stray_cost: path costs of a sideways step between two rows, and per row and
            pixel of distance from the line (in units of severed ink connections).
        sever_fraction, sever_rel: ink ownership rule; a cut through a connected component of
            ``n`` pixels splits it only when both sides hold at least
            ``min(sever_fraction * n, sever_rel * char_height**2)`` of them, otherwise the whole
            component goes to the side holding most of it (see :mod:`segmenter.pieces`).
        component_order_cuts: also cut between connected components in the order of their centres
            of mass, owning ink by component (a dot under a neighbour's stroke), see
            :mod:`segmenter.splits`.
        split_cuts: inside wide components, also add *split cuts*: the fewest pixels whose removal
            separates the ink left and right of a window (touching characters; a stroke of one may
            reach under the other, which no row-wise path follows), see :mod:`segmenter.splits`.
            Chosen by measurement on training-digit touching zip codes (README "segmenter").
        split_reach_rel: half-width of the split window, relative to the character height.
        split_wide_rel: only components wider than this (relative to the character height) get them.
        split_step_rel: anchor spacing of the split windows, relative to the character height.
        split_max_rel: a split removes at most this many pixels per pixel of character height.
        valley_cuts: in components wider than ``dense_wide_rel``, also cut along the straight line
            from a valley of the upper contour to a peak of the lower contour (characters touching
            along a shared stroke, e.g. chained cursive 0s), see :mod:`segmenter.valleys`.
        valley_window_rel: a contour valley (peak) is measured against the contour's extremes within
            this many character heights on each side ...
        valley_depth_rel: ... and must lie at least this deep (character heights).
        valley_max_slope: the line joining a valley and a peak leans at most this (dx per dy).
    """

    cut_gaps: bool = True
    cut_component_gaps: bool = True
    cut_projection: bool = True
    cut_contour: bool = True
    cut_paths: bool = True
    path_max_rel: float = 1.0
    dense_wide_rel: float = 0.8
    dense_step_rel: float = 0.0
    dense_per_char: float = 3.0
    score_eps: float = 0.5
    min_side_rel: float = 0.02
    projection_max_rel: float = 1.0
    contour_max_rel: float = 0.5
    smooth_px: int = 3
    min_piece_rel: float = 0.01
    min_piece_px: int = 3
    cut_slopes: tuple[float, ...] = (-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5)
    cut_band_rel: float = 0.0
    component_order_cuts: bool = True
    split_cuts: bool = True
    split_reach_rel: float = 0.35
    split_wide_rel: float = 1.2
    split_step_rel: float = 0.1
    split_max_rel: float = 0.25
    valley_cuts: bool = True
    valley_window_rel: float = 0.5
    valley_depth_rel: float = 0.08
    valley_max_slope: float = 1.0
    step_cost: float = 0.05
    stray_cost: float = 0.02
    sever_fraction: float = 0.15
    sever_rel: float = 0.04


@dataclass(frozen=True)
class GraphConfig:
    """Which merges become arcs of the segmentation graph, and their penalties (:mod:`segmenter.graph`).

    The defaults are the product's. Merges of up to 6 pieces and 2.0 character heights make the true
    segmentation a path of the graph for 60/60 normal-spacing zip codes of MNIST training digits
    (51/60 with 4 and 1.6). Real handwriting is cut finer (a flagged 1, chained cursive 0s): on the
    real cheques of ORAND-CAR-A's training ids 154-799, 8 pieces make it a path for 567 of 646
    fields instead of 542, for 11% more arcs (``benchmarks/merge_real.py``); the real-trained seg
    readers then read the validation split at 68.5% / 77.5% instead of 63% / 73.5% (LeNet-5 /
    modern CNN), with MNIST-built fields unchanged. With valley cuts (:mod:`segmenter.valleys`),
    10 pieces make it 585 instead of 582 for 3.6% more arcs (99.8 per field; a digit whose strokes
    break into many components, or a leading digit twice the height of the rest, spans 9 or 10;
    no merge limit at all: 587), synthetic test strings unchanged. Gap and dot penalties of 4 lift amounts
    (normal / tight / wide) from 0.89 / 0.80 / 0.96 to 0.92 / 0.86 / 0.975 and leave zip codes and
    3-8 digit strings unchanged (``benchmarks/seg_penalties.py``).

    Attributes:
        max_merge: an arc merges at most this many elementary pieces (the longest chain of
            compatible cuts between its two ends).
        max_width_rel: a merged arc (2 or more pieces) is created only if its ink is at most this wide
            (relative to the character height); elementary arcs always exist so the graph stays
            connected.
        typical_width_rel: ``(lo, hi)`` range of typical character widths relative to the character
            height; widths outside it are penalised.
        width_penalty: penalty per unit of relative width outside ``typical_width_rel``.
        merge_penalty: penalty per merged piece beyond the first (small; favours fewer cuts when
            the recogniser is indifferent).
        gap_penalty: penalty of a piece whose ink has a run of empty columns inside it (see
            :mod:`segmenter.graph`); chosen on validation strings.
        gap_min_rel: the narrowest such run that counts, relative to the character height
            (at least one pixel).
        dot_penalty: penalty of a piece holding a small low component beside a larger one (a
            digit merged with a '.' or ','; see :mod:`segmenter.graph`); chosen on validation.
        dot_area_rel: the largest such component, in pixels over char_height**2.
    """

    max_merge: int = 10
    max_width_rel: float = 2.0
    typical_width_rel: tuple[float, float] = (0.1, 1.1)
    width_penalty: float = 1.0
    merge_penalty: float = 0.0
    gap_penalty: float = 4.0
    gap_min_rel: float = 0.0
    dot_penalty: float = 4.0
    dot_area_rel: float = 0.06


@dataclass(frozen=True)
class PieceConfig:
    """Normalisation of a piece to the recogniser's 32x32 input (:mod:`segmenter.normalize`).

    Attributes:
        min_rel_height: normalisation: pieces at least this tall (relative to the character
            height) are fitted into 20x20 exactly like MNIST; smaller ones (punctuation, fragments)
            keep the scale of a piece this tall so their smallness stays visible.
        grey_pieces: pieces carry grey levels like MNIST (the ink's darkness, plus the faint
            anti-aliased fringe of non-ink pixels touching the piece, see
            :func:`segmenter.preprocess.darkness`) instead of the binary ink mask.
        fringe_max: darkness cap of the fringe pixels (they are below the ink threshold).
        fit_core: a grey piece is fitted into ``fit_box`` by its core (darkness >= 0.5) rather
            than by all its grey pixels.
        fit_box: side of the box the piece is fitted into (MNIST: 20).
        frame: side of the frame the centre of mass is centred in (MNIST: 28).
        pad: padding around the frame (LeNet-5: 2, giving 32x32).
    """

    min_rel_height: float = 0.5
    grey_pieces: bool = True
    fringe_max: float = 0.5
    fit_core: bool = True
    fit_box: int = 20
    frame: int = 28
    pad: int = 2



_PARTS = {"binarization": BinarizeConfig, "cleaning": CleanConfig, "cuts": CutConfig, "graph": GraphConfig, "pieces": PieceConfig}
_RENAMED = {"binarize": ("binarization", "method")}  # flat names that differ from the part's field


@dataclass(frozen=True)
class SegmenterConfig:
    """Configuration of :func:`segmenter.segment`: one of each part, and the input size guard.

    ``SegmenterConfig().replace(max_merge=4, method="otsu")`` changes fields by name in whichever
    part holds them; ``SegmenterConfig(graph=GraphConfig(max_merge=4))`` builds a part explicitly.

    Attributes:
        binarization, cleaning, cuts, graph, pieces: the parts (classes of the same names above).
        max_pixels: images with more pixels are refused with a ValueError (memory guard).
    """

    binarization: BinarizeConfig = field(default_factory=BinarizeConfig)
    cleaning: CleanConfig = field(default_factory=CleanConfig)
    cuts: CutConfig = field(default_factory=CutConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    pieces: PieceConfig = field(default_factory=PieceConfig)
    max_pixels: int = 20_000_000

    def __post_init__(self) -> None:
        b, c, g, p = self.binarization, self.cuts, self.graph, self.pieces
        if b.method not in BINARIZE_METHODS:
            raise ValueError(f"[segmenter.SegmenterConfig] binarization method {b.method!r}; expected one of "
                             f"{', '.join(BINARIZE_METHODS)}")
        if g.max_merge < 1:
            raise ValueError(f"[segmenter.SegmenterConfig] max_merge={g.max_merge} must be >= 1")
        if not 0.0 <= c.sever_fraction <= 0.5:
            raise ValueError(f"[segmenter.SegmenterConfig] sever_fraction={c.sever_fraction} must lie in [0, 0.5]")
        if not 0 < p.fit_box <= p.frame:
            raise ValueError(f"[segmenter.SegmenterConfig] need 0 < fit_box ({p.fit_box}) <= frame ({p.frame})")
        lo, hi = g.typical_width_rel
        if not 0 <= lo <= hi:
            raise ValueError(f"[segmenter.SegmenterConfig] typical_width_rel={g.typical_width_rel}")
        if min(g.gap_penalty, g.gap_min_rel, g.dot_penalty, g.dot_area_rel) < 0:
            raise ValueError("[segmenter.SegmenterConfig] gap_penalty, gap_min_rel, dot_penalty "
                             "and dot_area_rel must be >= 0")
        if not (0.0 <= b.min_contrast_rel <= 1.0 and 0.0 <= b.min_contrast_floor <= b.min_contrast
                and b.min_contrast_noise >= 0.0):
            raise ValueError(f"[segmenter.SegmenterConfig] need 0 <= min_contrast_rel ({b.min_contrast_rel}) <= 1, "
                             f"0 <= min_contrast_floor ({b.min_contrast_floor}) <= min_contrast ({b.min_contrast}) "
                             f"and min_contrast_noise ({b.min_contrast_noise}) >= 0")
        if self.max_pixels <= 0 or b.window_rel <= 0:
            raise ValueError("[segmenter.SegmenterConfig] max_pixels and window_rel must be positive")

    def replace(self, **changes) -> "SegmenterConfig":
        """A copy with fields changed by name, in whichever part holds them (``binarize`` is the
        binarization ``method``).

        Raises:
            ValueError: an unknown name, or a value the checks refuse.
        """
        per_part: dict[str, dict] = {}
        top = {}
        for name, value in changes.items():
            if name == "max_pixels":
                top[name] = value
                continue
            part, field_name = _RENAMED.get(name, (None, name))
            if part is None:
                part = next((p for p, cls in _PARTS.items() if field_name in {f.name for f in fields(cls)}), None)
            if part is None:
                raise ValueError(f"[segmenter.SegmenterConfig] unknown field {name!r}")
            per_part.setdefault(part, {})[field_name] = value
        parts = {p: replace(getattr(self, p), **kv) for p, kv in per_part.items()}
        return replace(self, **parts, **top)


__all__ = ["BINARIZE_METHODS", "BinarizeConfig", "CleanConfig", "CutConfig", "GraphConfig", "PieceConfig", "SegmenterConfig"]
