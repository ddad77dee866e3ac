"""Nuclei segmentation: smoothing, a brightness-robust threshold, and a seeded watershed.

Every default derives from one number, the typical nucleus diameter in pixels, so the same
settings work for a 10 px nucleus in a wide-field screen and a 60 px nucleus in a confocal stack.
When the diameter is not known, :func:`estimate_nucleus_diameter_px` (scale-space blob
detection, :mod:`leadertrack.diameter`, re-exported here) measures it from the movie.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from skimage.segmentation import watershed
from skimage.transform import downscale_local_mean, resize

from leadertrack.diameter import estimate_nucleus_diameter_px
from leadertrack.io import frame_source

__all__ = ["estimate_nucleus_diameter_px", "segment_frame", "segment"]

Progress = Callable[[str, int, int], None]


# Detection threshold in robust standard deviations of the background noise; the smallest
# nucleus-scale blob response (same units) an object needs, which rejects diffuse out-of-focus
# glow; and the per-nucleus threshold as a fraction of the nucleus' mean over background.
# Measured on the CTC sequences GOWT1/01 and SIM+/01 and the HeLa masks (docs/benchmarks.md).
_NOISE_THRESHOLD = 6.0
_BLOB_THRESHOLD = 3.0
_OBJECT_FRACTION = 0.5
# Closest two nuclei centres may be, as a fraction of the diameter (watershed seeds).
_SEED_SPACING = 0.4


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
    the level (median absolute deviation), which nuclei never contaminate.
    """
    low, high = np.percentile(smooth[::2, ::2], [0.1, 50.0])
    if not high > low:
        return float(high), 0.0
    counts, edges = np.histogram(smooth[::2, ::2], bins=256, range=(low, high))
    background = float(edges[np.argmax(counts)] + 0.5 * (edges[1] - edges[0]))
    below = smooth[smooth < background]
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
    losing dim ones.
    """
    n = int(regions.max())
    if n == 0:
        return np.zeros(regions.shape, dtype=bool)
    mean = np.asarray(ndi.mean(smooth, regions, np.arange(1, n + 1)))
    threshold = np.concatenate([[np.inf], background + object_fraction * (mean - background)])
    return smooth > threshold[regions]


def _blob_response(smooth: np.ndarray, *, nucleus_diameter_px: float) -> tuple[np.ndarray, int]:
    """Scale-normalised Laplacian of Gaussian at the nucleus scale, and its block size.

    sigma = d / 2√2, the scale at which the LoG of a disk of diameter d peaks. It is computed on
    the image block-averaged down to about 3 px per sigma, for speed. At that scale the LoG
    ignores nucleoli and chromatin texture, separates touching nuclei, and is weak on diffuse
    out-of-focus glow, however bright.
    """
    sigma = nucleus_diameter_px / (2.0 * np.sqrt(2.0))
    factor = max(1, int(sigma // 3))
    small = downscale_local_mean(smooth, (factor, factor)) if factor > 1 else smooth
    scale = sigma / factor
    return -scale**2 * ndi.gaussian_laplace(small, scale, truncate=3.0), factor


def _coarse(labels: np.ndarray, response: np.ndarray, factor: int) -> np.ndarray:
    """``labels`` sampled on the block grid of ``response``."""
    return labels[::factor, ::factor][: response.shape[0], : response.shape[1]]


def _split(
    response: np.ndarray, factor: int, components: np.ndarray, surface: np.ndarray, *, nucleus_diameter_px: float
) -> np.ndarray:
    """Objects: a watershed of ``-surface`` seeded at the blob-response maxima (within 0.4
    diameter, inside the objects) of each component holding several; the other components whole.
    """
    size = 2 * max(1, int(round(_SEED_SPACING * nucleus_diameter_px / factor))) + 1
    inside = _coarse(components, response, factor) > 0
    masked = np.where(inside, response, -np.inf)
    peaks = np.argwhere(inside & (masked == ndi.maximum_filter(masked, size=size, mode="nearest")))
    peaks = np.minimum(peaks * factor + factor // 2, np.array(components.shape) - 1)
    owner = components[tuple(peaks.T)]
    peaks, owner = peaks[owner > 0], owner[owner > 0]
    n_components = int(components.max())
    several = np.bincount(owner, minlength=n_components + 1) > 1
    several[0] = False
    split = several[owner]
    markers = np.zeros(components.shape, dtype=np.int32)
    markers[tuple(peaks[split].T)] = np.arange(1, int(split.sum()) + 1)
    regions = watershed(-surface, markers, mask=several[components])
    whole = (components > 0) & ~several[components]
    numbering = np.cumsum(~several) - 1  # the whole components numbered 1.. after the split ones
    regions[whole] = int(split.sum()) + numbering[components[whole]]
    return regions


def segment_frame(
    image: np.ndarray,
    *,
    nucleus_diameter_px: float,
    smoothing_fraction: float = 0.1,
    min_area_fraction: float = 0.2,
    max_area_fraction: float = 5.0,
    split_touching: bool = True,
) -> np.ndarray:
    """Segment the nuclei of one 2-D frame.

    1. Gaussian smoothing, sigma = ``smoothing_fraction`` x diameter.
    2. Detection: pixels more than 6 noise standard deviations above the background (the mode
       of the darker half of the pixels, so dense monolayers work too), holes up to a nucleus
       area filled; dim nuclei are found as well as bright ones.
    3. Splitting (``split_touching``): a watershed of the Laplacian of Gaussian at the nucleus
       scale, seeded at its peaks (at least 0.4 diameter apart), so touching nuclei, even of
       different brightness, become separate objects: unlike the intensity, the blob response
       dips between two nuclei however unequal their brightness.
    4. Refinement: each object keeps the pixels above half its mean over background, a
       per-nucleus threshold that trims the halo of bright nuclei.
    5. Filtering: objects outside ``min_area_fraction``..``max_area_fraction`` of a typical
       nucleus area (pi d^2 / 4) are dropped, and so are objects whose nucleus-scale blob
       response stays below 3 noise standard deviations (diffuse out-of-focus glow). Nuclei
       touching the image border are kept.

    On the Cell Tracking Challenge sequences Fluo-N2DH-GOWT1/01 (a 100-fold brightness range
    between nuclei) and Fluo-N2DH-SIM+/01 this finds about 98% of the nuclei
    (``benchmarks/bench_ctc.py``, ``docs/benchmarks.md``).

    Parameters
    ----------
    image
        2-D image of any numeric dtype.
    nucleus_diameter_px
        Typical nucleus diameter in pixels; every other size derives from it.
    smoothing_fraction
        Gaussian sigma as a fraction of the diameter.
    min_area_fraction, max_area_fraction
        Objects smaller / larger than this multiple of a typical nucleus area are dropped.
    split_touching
        Split touching nuclei (seeded watershed); otherwise each connected object is one nucleus.

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
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"segment_frame expects a 2-D image, got shape {image.shape}")
    if not nucleus_diameter_px > 0:
        raise ValueError(f"nucleus_diameter_px must be positive, got {nucleus_diameter_px}")
    typical_area = np.pi * nucleus_diameter_px**2 / 4.0
    smooth = _smooth(image, sigma_px=smoothing_fraction * nucleus_diameter_px)
    detected, background, noise_sd = _detect(smooth, noise_threshold=_NOISE_THRESHOLD, max_hole_px=int(typical_area))
    components = ndi.label(detected)[0]
    response, factor = _blob_response(smooth, nucleus_diameter_px=nucleus_diameter_px)
    if split_touching:
        surface = resize(response, smooth.shape, order=1, anti_aliasing=False) if factor > 1 else response
        regions = _split(response, factor, components, surface, nucleus_diameter_px=nucleus_diameter_px)
    else:
        regions = components
    refined = _refine(smooth, regions, background=background, object_fraction=_OBJECT_FRACTION)
    labels = np.where(_fill_holes(refined, max_size=int(typical_area)), regions, 0)
    area = np.bincount(labels.ravel())
    blob = np.zeros(area.size)
    blob[1:] = ndi.maximum(response, _coarse(labels, response, factor), np.arange(1, area.size))
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
        ``max_area_fraction``, ``split_touching``).

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
    if nucleus_diameter_um is None:
        diameter_px = estimate_nucleus_diameter_px(movie_or_image)
    else:
        diameter_px = nucleus_diameter_um / pixel_size_um
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
