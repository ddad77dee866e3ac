"""Nuclei segmentation: smoothing, a brightness-robust threshold, and a seeded watershed.

Every default derives from one number, the typical nucleus diameter in pixels, so the same
settings work for a 10 px nucleus in a wide-field screen and a 60 px nucleus in a confocal stack.
When the diameter is not known, :func:`estimate_nucleus_diameter_px` (scale-space blob
detection, :mod:`leadertrack.diameter`, re-exported here) measures it from the movie.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from skimage import measure
from skimage.segmentation import watershed

from leadertrack.background import background_surface, has_glow
from leadertrack.diameter import estimate_nucleus_diameter_px
from leadertrack.io import finite_pixels, frame_source

__all__ = [
    "SMALL_NUCLEUS_PX", "estimate_nucleus_diameter_px", "reduction_factor", "segment", "segment_frame", "small_nuclei_message",
]

Progress = Callable[[str, int, int], None]


# Detection threshold in robust standard deviations of the background noise; the smallest
# nucleus-scale blob response (same units) an object needs, which rejects diffuse out-of-focus
# glow; and the per-nucleus threshold as a fraction of the nucleus' mean over background.
# Measured on the CTC sequences GOWT1/01 and SIM+/01 and the HeLa masks (docs/benchmarks.md).
# A per-nucleus threshold of 0.6 for the final masks (0.5 still deciding which objects are split)
# fits the reference masks more tightly (SEG on the HeLa masks 0.848 -> 0.888, the scratch-assay
# labels 0.802 -> 0.845, GOWT1 0.814 -> 0.848, SIM+ 0.804 -> 0.805; benchmarks/bench_segmentation.py)
# but found fewer leaders from images (leader F1 on simulated seeds 600-619, medium, 0.846 -> 0.812;
# 12 of 60 movies worse, 3 better), so the masks keep 0.5.
_NOISE_THRESHOLD = 6.0
_BLOB_THRESHOLD = 3.0
_OBJECT_FRACTION = 0.5
# Closest two nuclei centres may be, as a fraction of the diameter (watershed seeds).
_SEED_SPACING = 0.4
# Objects still larger than two nuclei are split again with the blob response at this fraction
# of the nucleus scale, into area / (this many typical nucleus areas) nuclei (rounded down), at
# maxima of at least this fraction of the intensity over background.
# Measured on simulated dense sheets, the CTC sequences and the HeLa masks.
_FINE_SCALE = 0.5
_AREA_PER_NUCLEUS = 1.4
_FINE_CONTRAST = 0.15
# Two overlapping nuclei form a neck. An object is cut where its core (the distance to its edge
# at least this fraction of the largest distance within a diameter) falls apart: two disks of
# radius r at centre spacing s meet in a neck of half-width r sqrt(1 - (s / 2r)^2), so 0.7 cuts
# pairs more than 1.43 r apart. Each part must be at least this many nucleus radii deep (its
# largest inscribed radius), so ragged edges and small protrusions are never cut off.
# Checked on simulated assays (leader F1, cells found, fragmentation), the CTC sequences, the
# HeLa masks and the scratch-assay labels; 0.75 and 0.5 found more nuclei but also cut more
# single ones, and tracks broke more often.
_NECK_RATIO = 0.7
_NECK_MIN_RADIUS = 0.65
# Nuclei at least twice this many pixels across are segmented on the image block-averaged down by
# floor(diameter / this), so that they are still at least this many pixels across there, and the
# labels are scaled back up. On the whole CTC sequences (benchmarks/bench_ctc.py; GOWT1/01, nuclei
# estimated 62 px across, reduced 3x; SIM+/01, 41 px, 2x) SEG went 0.805 -> 0.805 and 0.808 -> 0.804,
# DET 0.986 -> 0.984 and 0.979 -> 0.980, and segmenting 4.7x and 2.4x faster. On 10 frames of each,
# reductions that left nuclei under 20 px across lost 0.006-0.025 SEG.
# Simulated movies with 44 px nuclei (planar and radial, seeds 0-3, medium): leader F1 from images
# 0.79 at full resolution, 0.93 reduced (none worse). Reducing 2x from 20 px on (movies with 26 px
# nuclei) segmented as well but moved leader F1 both ways (2 of 8 movies better, 2 worse), so it is
# not done.
_REDUCED_DIAMETER_PX = 20.0


SMALL_NUCLEUS_PX = 6.0
"""Below this many pixels across, segmentation finds markedly fewer nuclei: touching ones merge, and tracks break
(see :func:`small_nuclei_message`). The medium scenarios of seeds 0-8 imaged with nuclei 4, 5, 6, 8 and 10 px
across (fields of at least 256 px) gave leader F1 from images 0.74, 0.80, 0.89, 0.91 and 0.94."""


def small_nuclei_message(nucleus_diameter_px: float) -> str | None:
    """The run's warning for nuclei under :data:`SMALL_NUCLEUS_PX` pixels across (None for larger ones).

    Measured on the package's simulator, the same scenarios imaged with nuclei 5 and 10 px across
    (``benchmarks/bench_pipeline.py --nucleus-px``, ``docs/benchmarks.md``).

    Examples
    --------
    >>> small_nuclei_message(12.0) is None
    True
    >>> small_nuclei_message(5.97).startswith("nuclei are only 5.9 px across: below 6 px")
    True
    """
    if not nucleus_diameter_px < SMALL_NUCLEUS_PX:
        return None
    shown = np.floor(nucleus_diameter_px * 10) / 10  # 5.97 is not "6.0 px, below 6 px"
    return (
        f"nuclei are only {shown:.1f} px across: below {SMALL_NUCLEUS_PX:g} px, touching nuclei merge "
        "and tracks break more often (the same simulated movies imaged with nuclei 5 px and 10 px across: 69 % and "
        "81 % as many cells found as there are nuclei, leader F1 0.72 and 0.88; docs/benchmarks.md). Image at a "
        "higher magnification, or segment with a learned model (Cellpose, StarDist) and pass its masks with --labels"
    )


def reduction_factor(nucleus_diameter_px: float) -> int:
    """How many times :func:`segment_frame` block-averages a frame down before segmenting it.

    ``floor(d / 20)`` for nuclei ``d`` >= 40 px across (so still at least 20 px across there), else 1.

    Examples
    --------
    >>> reduction_factor(12.0), reduction_factor(43.0), reduction_factor(62.0)
    (1, 2, 3)
    """
    factor = int(nucleus_diameter_px // _REDUCED_DIAMETER_PX)
    return factor if factor >= 2 else 1


def _smooth(image: np.ndarray, *, sigma_px: float) -> np.ndarray:
    """Gaussian-smoothed float32 copy of ``image``."""
    return ndi.gaussian_filter(image.astype(np.float32, copy=False), sigma_px, truncate=3.0)


def _fill_holes(mask: np.ndarray, *, max_size: int) -> np.ndarray:
    """Fill background regions of at most ``max_size`` px that do not touch the image border."""
    holes, n = ndi.label(~mask)
    if n == 0:
        return mask
    size = np.bincount(holes.ravel(), minlength=n + 1)
    fill = size <= max_size
    fill[0] = False
    border = np.concatenate([holes[0], holes[-1], holes[:, 0], holes[:, -1]])
    fill[border] = False
    return mask | fill[holes]


def _background(smooth: np.ndarray) -> tuple[float, float]:
    """Background level and noise standard deviation of a smoothed image.

    The level is the mode of the darker half of the pixels, so it stays right when nuclei cover
    more than half of a dense monolayer; the noise comes from the spread of the pixels below
    the level (median absolute deviation), which nuclei never contaminate. The 256-bin histogram
    is smoothed over 128 / sqrt(n) bins for n sampled pixels when that is more than one bin (images
    smaller than about 256 x 256), so that there a single pixel cannot move the mode (and with it
    the threshold) by several bins.
    """
    sample = smooth[::2, ::2]
    low, high = np.percentile(sample, [0.1, 50.0])
    if not high > low:
        return float(high), 0.0
    counts, edges = np.histogram(sample, bins=256, range=(low, high))
    width = 128 / np.sqrt(sample.size)
    if width > 1:
        counts = ndi.gaussian_filter1d(counts.astype(float), width, mode="constant")
    background = float(edges[np.argmax(counts)] + 0.5 * (edges[1] - edges[0]))
    below = sample[sample < background]
    noise_sd = 1.4826 * float(np.median(background - below)) if below.size else 0.0
    return background, noise_sd


def _detect(smooth: np.ndarray, *, noise_threshold: float, max_hole_px: int) -> tuple[np.ndarray, float, float]:
    """Pixels clearly above the background (holes filled), the background level and its noise.

    Pixels more than ``noise_threshold`` noise standard deviations above the background are
    kept (see :func:`_background`). This low, noise-based threshold finds dim nuclei as well as
    bright ones.
    """
    background, noise_sd = _background(smooth)
    signal = float(smooth.max()) - background
    if not signal > 1e-6 * (abs(background) + 1.0):  # a flat frame
        return np.zeros(smooth.shape, dtype=bool), background, np.inf
    # A noiseless (simulated) background still needs a threshold above it.
    noise_sd = max(noise_sd, 1e-3 * signal / noise_threshold)
    return _fill_holes(smooth > background + noise_threshold * noise_sd, max_size=max_hole_px), background, noise_sd


def _refine(smooth: np.ndarray, regions: np.ndarray, *, background: float, object_fraction: float) -> np.ndarray:
    """Within each region keep the pixels above ``object_fraction`` of its mean over background.

    Each nucleus gets its own threshold, which trims the blurred halo of bright nuclei without
    losing dim ones. Region ids need not be contiguous.
    """
    inside = regions > 0
    ids, values = regions[inside], smooth[inside]
    area = np.bincount(ids, minlength=1)
    mean = np.divide(np.bincount(ids, weights=values, minlength=1), area, out=np.zeros(area.size), where=area > 0)
    refined = np.zeros(regions.shape, dtype=bool)
    refined[inside] = values > background + object_fraction * (mean[ids] - background)
    return refined


def _blocks(image: np.ndarray, factor: int, combine: np.ufunc) -> np.ndarray:
    """``combine`` (``np.add``, ``np.logical_or``) of the pixels of each ``factor`` x ``factor``
    block; the image is extended by its edge values to whole blocks."""
    pad = [(0, -n % factor) for n in image.shape]
    padded = np.pad(image, pad, mode="edge") if any(after for _, after in pad) else image
    return reduce(combine, (padded[i::factor, j::factor] for i in range(factor) for j in range(factor)))


def _blob_response(smooth: np.ndarray, *, nucleus_diameter_px: float, background: float) -> tuple[np.ndarray, int]:
    """Scale-normalised Laplacian of Gaussian at the nucleus scale, and its block size.

    sigma = d / 2√2, the scale at which the LoG of a disk of diameter d peaks. It is computed on
    the image block-averaged down to 2-4 px per sigma, for speed (a Gaussian that wide is still
    well sampled). At that scale the LoG
    ignores nucleoli and chromatin texture, separates touching nuclei, and is weak on diffuse
    out-of-focus glow, however bright.

    The kernel, cut off at 3 sigma, does not sum to zero: its response to a constant level c is
    about 0.025 c. The thresholds on the response were chosen on images whose background lies a
    little above zero (a camera offset), where that adds a little to every response; a frame whose
    ``background`` is negative (a background-subtracted float image, a signed 16-bit file) is read
    as if it lay at zero, since there the same leak would take from every response, and at -30000
    none would pass. (Taking the level out of every frame moved leader F1 on the simulated movies
    of seeds 0-4 from 0.921 to 0.873, so a background above zero is left as it is.)
    """
    sigma = nucleus_diameter_px / (2.0 * np.sqrt(2.0))
    factor = max(1, round(sigma / 3))
    small = _blocks(smooth, factor, np.add) / factor**2 if factor > 1 else smooth
    if background < 0:
        small = small - np.float32(background)
    scale = sigma / factor
    return -scale**2 * ndi.gaussian_laplace(small, scale, truncate=3.0), factor


def _coarse(labels: np.ndarray, response: np.ndarray, factor: int) -> np.ndarray:
    """``labels`` sampled on the block grid of ``response``."""
    return labels[::factor, ::factor][: response.shape[0], : response.shape[1]]


def _box(mask: np.ndarray) -> tuple[slice, slice] | None:
    """Bounding box of the True pixels of a 2-D mask (None when there are none)."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def _peaks(response: np.ndarray, factor: int, labels: np.ndarray, *, nucleus_diameter_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Maxima of ``response`` within 0.4 diameter inside the objects of ``labels``: their
    full-resolution positions and the object each lies in, strongest first."""
    size = 2 * max(1, round(_SEED_SPACING * nucleus_diameter_px / factor)) + 1
    inside = _coarse(labels, response, factor) > 0
    masked = np.where(inside, response, -np.inf)
    peaks = np.argwhere(inside & (masked == ndi.maximum_filter(masked, size=size, mode="nearest")))
    peaks = peaks[np.argsort(-response[tuple(peaks.T)], kind="stable")]
    peaks = np.minimum(peaks * factor + factor // 2, np.array(labels.shape) - 1)
    owner = labels[tuple(peaks.T)]
    return peaks[owner > 0], owner[owner > 0]


def _watershed(
    response: np.ndarray, factor: int, peaks: np.ndarray, owner: np.ndarray, objects: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """Watershed of ``-response`` from markers 1..n at ``peaks`` (full-resolution positions,
    in the objects ``owner``) within ``mask``, on the block grid of ``response`` and inside the
    bounding box of the mask. Ids are not contiguous.

    The surface is the coarse response itself, so flooding it block by block loses nothing but
    the position of a boundary within a block. Each full-resolution pixel of the mask gets the
    marker of its block, provided that marker lies in the pixel's own object of ``objects``;
    the other pixels (at the rim of a block shared by two objects) get 0.
    """
    blocks = mask if factor == 1 else _blocks(mask, factor, np.logical_or)
    box = _box(blocks)
    parts = np.zeros(blocks.shape, dtype=np.int32)
    if box is not None:
        markers = np.zeros(blocks.shape, dtype=np.int32)
        markers[tuple((peaks // factor).T)] = np.arange(1, len(peaks) + 1)
        parts[box] = watershed(-response[box], markers[box], mask=blocks[box])
    if factor > 1:
        parts = np.repeat(np.repeat(parts, factor, axis=0), factor, axis=1)[: mask.shape[0], : mask.shape[1]]
    own = mask & (parts > 0) & (np.concatenate([[0], owner])[parts] == objects)
    return np.where(own, parts, 0)


def _split(
    response: np.ndarray, factor: int, components: np.ndarray, *, nucleus_diameter_px: float
) -> np.ndarray:
    """Objects: a watershed of the blob response seeded at its maxima (within 0.4 diameter,
    inside the objects) of each component holding several; the other components whole.
    Ids are not contiguous.
    """
    peaks, owner = _peaks(response, factor, components, nucleus_diameter_px=nucleus_diameter_px)
    several = np.bincount(owner, minlength=int(components.max()) + 1) > 1
    several[0] = False
    if not several.any():
        return components
    split = several[owner]
    mask = several[components]
    parts = _watershed(response, factor, peaks[split], owner[split], components, mask)
    return np.where(mask, np.where(parts > 0, parts + int(components.max()), 0), components)


def _split_large(
    smooth: np.ndarray,
    regions: np.ndarray,
    refined: np.ndarray,
    *,
    nucleus_diameter_px: float,
    typical_area: float,
    background: float,
) -> np.ndarray:
    """Split objects holding at least two nuclei by area (``_AREA_PER_NUCLEUS`` typical areas
    each) at the strongest maxima, as many as nuclei, of a finer blob response; maxima weaker
    than ``_FINE_CONTRAST`` of the intensity over background there (glow, texture) do not count.

    In a dense sheet the nucleus-scale response can be nearly flat over a patch of nuclei, so
    the first watershed leaves them merged; a finer scale separates them, but on single nuclei
    it would also split chromatin texture, so it is used only where the area calls for it, and
    computed only around those objects. Ids are not contiguous.
    """
    area = np.bincount(regions[refined], minlength=int(regions.max()) + 1)
    area[0] = 0
    n_nuclei = np.floor(area / (_AREA_PER_NUCLEUS * typical_area)).astype(np.int64)
    large = n_nuclei >= 2
    box = _box(large[regions])
    if box is None:
        return regions
    # the finer response inside the box, from the smoothed image around it (the filter's reach)
    reach = int(np.ceil(3.0 * _FINE_SCALE * nucleus_diameter_px / (2.0 * np.sqrt(2.0)))) + 2
    outer = tuple(slice(max(0, w.start - reach), min(n, w.stop + reach)) for w, n in zip(box, regions.shape))
    inner = tuple(slice(w.start - o.start, w.stop - o.start) for w, o in zip(box, outer))
    response, factor = _blob_response(
        smooth[outer], nucleus_diameter_px=_FINE_SCALE * nucleus_diameter_px, background=background
    )
    local = regions[outer]
    candidates = np.zeros(local.shape, dtype=local.dtype)
    candidates[inner] = np.where(large[local[inner]], local[inner], 0)
    peaks, owner = _peaks(response, factor, candidates, nucleus_diameter_px=nucleus_diameter_px)
    strong = response[tuple((peaks // factor).T)] >= _FINE_CONTRAST * (smooth[outer][tuple(peaks.T)] - background)
    peaks, owner = peaks[strong], owner[strong]
    order = np.argsort(owner, kind="stable")  # by object, strongest first within each
    peaks, owner = peaks[order], owner[order]
    rank = np.arange(owner.size) - np.searchsorted(owner, owner)
    kept = rank < n_nuclei[owner]
    peaks, owner = peaks[kept], owner[kept]
    several = np.bincount(owner, minlength=large.size) >= 2
    peaks, owner = peaks[several[owner]], owner[several[owner]]
    if owner.size == 0:
        return regions
    parts = _watershed(response, factor, peaks, owner, local, several[local])
    regions = regions.copy()
    regions[outer] = np.where(parts > 0, parts + int(regions.max()), local)
    return regions


def _split_necks(labels: np.ndarray, *, nucleus_diameter_px: float) -> np.ndarray:
    """Cut objects at necks. Each object's core is where the distance to its edge is at least
    ``_NECK_RATIO`` of the largest distance within a nucleus diameter; an object whose core
    falls apart into two or more cores at least ``_NECK_MIN_RADIUS`` nucleus radii deep is
    split by a watershed of that distance from them. Ids are not contiguous.

    Touching or overlapping nuclei that the blob response leaves as one object (a dim nucleus
    beside a bright one, an elongated nucleus overlapping its neighbour) still show as two
    convex lobes joined by a neck. A single nucleus is convex, and the distance to the edge of
    a convex shape is a concave function, so its core is one piece however elongated.
    """
    box = _box(labels > 0)
    if box is None:
        return labels
    local = labels[box]
    # each object's own distance to its edge: pixels touching another object count as edge
    edge = local == 0
    step = np.diff(local, axis=0) != 0
    edge[:-1] |= step
    edge[1:] |= step
    step = np.diff(local, axis=1) != 0
    edge[:, :-1] |= step
    edge[:, 1:] |= step
    # chamfer distances are far cheaper than the Euclidean one; the mean of the chessboard and
    # city-block distances is within 8% of it in every direction
    inside = ~edge
    distance = 0.5 * (
        ndi.distance_transform_cdt(inside, metric="chessboard") + ndi.distance_transform_cdt(inside, metric="taxicab")
    ).astype(np.float32)
    reach = ndi.maximum_filter(distance, size=2 * max(1, round(nucleus_diameter_px / 2)) + 1)
    cores, n_cores = ndi.label(distance > _NECK_RATIO * reach)
    if n_cores < 2:
        return labels
    depth = np.zeros(n_cores + 1, dtype=np.float32)
    np.maximum.at(depth, cores.ravel(), distance.ravel())
    owner = np.zeros(n_cores + 1, dtype=local.dtype)
    owner[cores.ravel()] = local.ravel()  # a core lies inside one object
    deep = depth >= _NECK_MIN_RADIUS * nucleus_diameter_px / 2
    deep[0] = False
    several = np.bincount(owner[deep], minlength=int(local.max()) + 1) >= 2
    several[0] = False
    mask = several[local]
    inner = _box(mask)
    if inner is None:
        return labels
    markers = np.where(deep[cores] & mask, cores, 0)
    parts = np.zeros(local.shape, dtype=np.int32)
    parts[inner] = watershed(-distance[inner], markers[inner], mask=mask[inner])
    parts[owner[parts] != local] = 0  # flooded across into a touching object
    result = labels.copy()
    result[box] = np.where(parts > 0, parts + int(labels.max()), local)
    return result


def _largest_pieces(labels: np.ndarray) -> np.ndarray:
    """Each object reduced to its largest connected piece.

    Splitting on a block grid can give an object a stray sliver across a gap (a block shared
    by two objects); refinement can leave a speck cut off from its nucleus.
    """
    pieces = measure.label(labels, connectivity=1)
    n_pieces = int(pieces.max())
    owner = np.zeros(n_pieces + 1, dtype=np.int64)
    owner[pieces.ravel()] = labels.ravel()
    if np.unique(owner[1:]).size == n_pieces:  # every object in one piece
        return labels
    size = np.bincount(pieces.ravel(), minlength=n_pieces + 1)
    order = np.lexsort((-size[1:], owner[1:])) + 1  # by object, largest piece first
    first = np.concatenate([[True], owner[order][1:] != owner[order][:-1]])
    keep = np.zeros(n_pieces + 1, dtype=bool)
    keep[order[first]] = True
    return np.where(keep[pieces], labels, 0)


def segment_frame(
    image: np.ndarray,
    *,
    nucleus_diameter_px: float,
    smoothing_fraction: float = 0.1,
    min_area_fraction: float = 0.2,
    max_area_fraction: float = 5.0,
    split_touching: bool = True,
    flatten_background: bool = True,
    glow: bool = False,
) -> np.ndarray:
    """Segment the nuclei of one 2-D frame.

    1. Gaussian smoothing, sigma = ``smoothing_fraction`` x diameter; a steep slope of the
       background across the field (``flatten_background``) is measured under the nuclei and
       subtracted (:func:`leadertrack.background.background_surface`), or, in a movie whose
       background glows (``glow``), the frame's lower envelope.
    2. Detection: pixels more than 6 noise standard deviations above the background (the mode
       of the darker half of the pixels, so dense monolayers work too), holes up to a nucleus
       area filled; dim nuclei are found as well as bright ones.
    3. Splitting (``split_touching``): a watershed of the Laplacian of Gaussian at the nucleus
       scale, seeded at its peaks (at least 0.4 diameter apart), so touching nuclei, even of
       different brightness, become separate objects: unlike the intensity, the blob response
       dips between two nuclei however unequal their brightness. Objects still larger than two
       nuclei (a dense sheet, where the nucleus-scale response is nearly flat) are split again
       at the peaks of a response at half that scale, as many as their area holds nuclei.
    4. Refinement: each object keeps the pixels above half its mean over background, a
       per-nucleus threshold that trims the halo of bright nuclei.
    5. Necks (``split_touching``): an object whose mask narrows between two lobes, each at
       least 0.65 nucleus radii deep, to under 0.7 of the thinner lobe's depth is cut there
       (overlapping nuclei, or a dim nucleus beside a bright one, that the blob response left
       as one); a convex nucleus, however elongated, has no neck.
    6. Filtering: objects outside ``min_area_fraction``..``max_area_fraction`` of a typical
       nucleus area (pi d^2 / 4) are dropped, and so are objects whose nucleus-scale blob
       response stays below 3 noise standard deviations (diffuse out-of-focus glow). Nuclei
       touching the image border are kept.

    Nuclei 40 px across or more are segmented on the image block-averaged down by
    ``floor(d / 20)`` (so still at least 20 px across), and the labels are scaled back up: their
    outlines then follow blocks of that many pixels. On the CTC sequences this moved the SEG
    measure by 0.004 or less and made segmenting 2.4-4.7x faster.

    On the Cell Tracking Challenge sequences Fluo-N2DH-GOWT1/01 (a 100-fold brightness range
    between nuclei) and Fluo-N2DH-SIM+/01 this finds about 98% of the nuclei
    (``benchmarks/bench_ctc.py``, ``docs/benchmarks.md``); on dense HeLa nuclei it matches 95% of
    the reference masks (object F1 0.91, SEG 0.85; Otsu's threshold split by a distance-transform
    watershed reaches 0.76 and 0.64; ``benchmarks/bench_segmentation.py``).

    Parameters
    ----------
    image
        2-D image of any numeric dtype; NaN pixels are read as the frame's median, +/-inf as its largest /
        smallest finite value.
    nucleus_diameter_px
        Typical nucleus diameter in pixels; every other size derives from it.
    smoothing_fraction
        Gaussian sigma as a fraction of the diameter.
    min_area_fraction, max_area_fraction
        Objects smaller / larger than this multiple of a typical nucleus area are dropped.
    split_touching
        Split touching nuclei (seeded watershed); otherwise each connected object is one nucleus.
    flatten_background
        Take a steep slope of the background (uneven illumination, haze) out before thresholding.
    glow
        The movie's background glows (:func:`leadertrack.background.has_glow`, decided once per movie): with
        ``flatten_background``, take the frame's lower envelope out instead of a plane
        (:func:`leadertrack.background.glow_surface`).

    Returns
    -------
    numpy.ndarray
        ``uint32`` labels, 0 = background, objects numbered 1..n.

    Examples
    --------
    >>> from skimage.draw import disk
    >>> image = np.zeros((64, 64))
    >>> image[disk((20, 20), 8)] = 50
    >>> image[disk((45, 40), 8)] = 500
    >>> labels = segment_frame(image, nucleus_diameter_px=16)
    >>> int(labels.max())
    2
    """
    image = finite_pixels(np.asarray(image))  # NaN padding (a registered movie) would leave no threshold
    if image.ndim != 2:
        raise ValueError(f"segment_frame expects a 2-D image, got shape {image.shape}")
    if not nucleus_diameter_px > 0:
        raise ValueError(f"nucleus_diameter_px must be positive, got {nucleus_diameter_px}")
    reduction = reduction_factor(nucleus_diameter_px)
    if reduction > 1:
        small = _blocks(image.astype(np.float32, copy=False), reduction, np.add) / reduction**2
        labels = segment_frame(
            small, nucleus_diameter_px=nucleus_diameter_px / reduction, smoothing_fraction=smoothing_fraction,
            min_area_fraction=min_area_fraction, max_area_fraction=max_area_fraction, split_touching=split_touching,
            flatten_background=flatten_background, glow=glow,
        )
        return np.repeat(np.repeat(labels, reduction, axis=0), reduction, axis=1)[: image.shape[0], : image.shape[1]]
    typical_area = np.pi * nucleus_diameter_px**2 / 4.0
    smooth = _smooth(image, sigma_px=smoothing_fraction * nucleus_diameter_px)
    surface = background_surface(smooth, nucleus_diameter_px=nucleus_diameter_px, glow=glow) if flatten_background else None
    if surface is not None:
        smooth -= surface
    detected, background, noise_sd = _detect(smooth, noise_threshold=_NOISE_THRESHOLD, max_hole_px=int(typical_area))
    components = ndi.label(detected)[0]
    response, factor = _blob_response(smooth, nucleus_diameter_px=nucleus_diameter_px, background=background)
    if split_touching:
        regions = _split(response, factor, components, nucleus_diameter_px=nucleus_diameter_px)
        refined = _refine(smooth, regions, background=background, object_fraction=_OBJECT_FRACTION)
        regions = _split_large(
            smooth, regions, refined, nucleus_diameter_px=nucleus_diameter_px, typical_area=typical_area, background=background
        )
    else:
        regions = components
    refined = _refine(smooth, regions, background=background, object_fraction=_OBJECT_FRACTION)
    labels = np.where(_fill_holes(refined, max_size=int(typical_area)), regions, 0)
    if split_touching:
        labels = _split_necks(labels, nucleus_diameter_px=nucleus_diameter_px)
        labels = _largest_pieces(labels)
    area = np.bincount(labels.ravel())
    blob = np.full(area.size, -np.inf, dtype=response.dtype)
    coarse = _coarse(labels, response, factor)
    np.maximum.at(blob, coarse[coarse > 0], response[coarse > 0])
    keep = (area >= min_area_fraction * typical_area) & (area <= max_area_fraction * typical_area)
    keep &= blob >= _BLOB_THRESHOLD * noise_sd
    keep[0] = False
    relabel = np.zeros(area.size, dtype=np.uint32)
    relabel[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.uint32)
    return relabel[labels]


def segment(
    movie_or_image: Any,
    *,
    nucleus_diameter_um: float | None = None,
    pixel_size_um: float | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> np.ndarray:
    """Segment the nuclei of a movie or of one frame.

    Parameters
    ----------
    movie_or_image
        A ``leadertrack.io.Movie`` (read frame by frame), a (T,Y,X) array, or one 2-D frame.
    nucleus_diameter_um
        Typical nucleus diameter in µm. None = estimate it with
        :func:`estimate_nucleus_diameter_px`.
    pixel_size_um
        Pixel size in µm; None = the movie's own (``Movie.pixel_size_um``), else 1 µm/px.
    progress
        ``progress("segment", done, total)`` is called after each frame.
    **options
        Keyword options of :func:`segment_frame` (``smoothing_fraction``, ``min_area_fraction``,
        ``max_area_fraction``, ``split_touching``, ``flatten_background``, ``glow``). Without ``glow``,
        whether the movie's background glows is decided from it (:func:`leadertrack.background.has_glow`).

    Returns
    -------
    numpy.ndarray
        ``uint32`` labels of the same shape as the input ((T,Y,X) or (Y,X)); labels are numbered
        per frame.

    Examples
    --------
    >>> from skimage.draw import disk
    >>> movie = np.zeros((3, 64, 64))
    >>> for t in range(3):
    ...     movie[t][disk((20 + 5 * t, 30), 8)] = 100
    >>> labels = segment(movie, nucleus_diameter_um=8, pixel_size_um=0.5)
    >>> labels.shape, int(labels[2].max())
    ((3, 64, 64), 1)
    """
    if pixel_size_um is None:
        pixel_size_um = getattr(movie_or_image, "pixel_size_um", None) or 1.0
    for name, value in {"pixel_size_um": pixel_size_um, "nucleus_diameter_um": nucleus_diameter_um}.items():
        if value is not None and not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value}")
    if nucleus_diameter_um is None:
        diameter_px = estimate_nucleus_diameter_px(movie_or_image)
    else:
        diameter_px = nucleus_diameter_um / pixel_size_um
    if "glow" not in options and options.get("flatten_background", True):
        options["glow"] = has_glow(movie_or_image, nucleus_diameter_px=diameter_px,
                                   smoothing_fraction=options.get("smoothing_fraction", 0.1))
    is_single = isinstance(movie_or_image, np.ndarray) and movie_or_image.ndim == 2
    n_frames, get = frame_source(movie_or_image)
    first = segment_frame(get(0), nucleus_diameter_px=diameter_px, **options)
    if is_single:
        return first
    labels = np.empty((n_frames, *first.shape), dtype=np.uint32)
    labels[0] = first
    if progress is not None:
        progress("segment", 1, n_frames)
    for t in range(1, n_frames):
        labels[t] = segment_frame(get(t), nucleus_diameter_px=diameter_px, **options)
        if progress is not None:
            progress("segment", t + 1, n_frames)
    return labels
