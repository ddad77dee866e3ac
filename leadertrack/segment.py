"""Nuclei segmentation: smoothing, a brightness-robust threshold, and a seeded watershed.

Every default derives from one number, the typical nucleus diameter in pixels, so the same
settings work for a 10 px nucleus in a wide-field screen and a 60 px nucleus in a confocal stack.
When the diameter is not known, :func:`estimate_nucleus_diameter_px` measures it from the movie.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from skimage.feature import peak_local_max
from skimage.segmentation import watershed

__all__ = ["estimate_nucleus_diameter_px", "segment_frame", "segment"]

Progress = Callable[[str, int, int], None]


def _frame_source(frames: Any) -> tuple[int, Callable[[int], np.ndarray]]:
    """Number of frames and a getter, for a Movie, a (T,Y,X) array or a list of 2-D arrays."""
    if isinstance(frames, np.ndarray):
        if frames.ndim == 2:
            return 1, lambda t: frames
        if frames.ndim != 3:
            raise ValueError(f"expected a 2-D frame or a (T,Y,X) stack, got an array of shape {frames.shape}")
        return frames.shape[0], lambda t: frames[t]
    if hasattr(frames, "frame"):  # leadertrack.io.Movie: read lazily
        return len(frames), frames.frame
    if isinstance(frames, Sequence):
        return len(frames), lambda t: np.asarray(frames[t])
    array = np.asarray(frames)
    return _frame_source(array)


def _foreground(image: np.ndarray, *, sigma_px: float, noise_threshold: float = 3.0, object_fraction: float = 0.5) -> np.ndarray:
    """Boolean nucleus mask, robust to nuclei of very different brightness in one frame.

    Two passes over the smoothed image. Detection: pixels more than ``noise_threshold`` robust
    standard deviations (median absolute deviation) above the median background, so dim nuclei
    are found as well as bright ones. Refinement: within each detected object, keep the pixels
    above ``object_fraction`` of the way from the background to the object's mean, which trims
    the blurred halo around bright nuclei without losing dim ones.
    """
    smooth = ndi.gaussian_filter(image.astype(np.float32, copy=False), sigma_px)
    background = float(np.median(smooth))
    noise_sd = 1.4826 * float(np.median(np.abs(smooth - background)))
    detected, n_objects = ndi.label(smooth > background + noise_threshold * noise_sd)
    if n_objects == 0:
        return np.zeros(image.shape, dtype=bool)
    object_mean = ndi.mean(smooth, detected, np.arange(1, n_objects + 1))
    threshold = np.concatenate([[np.inf], background + object_fraction * (object_mean - background)])
    return smooth > threshold[detected]


def estimate_nucleus_diameter_px(frames: Any, *, n_sample_frames: int = 5) -> float:
    """Typical nucleus diameter in pixels, measured from a few frames.

    The frames are thresholded (Otsu on a log scale, see :func:`segment_frame`); each connected
    object contributes the diameter of the largest disk that fits inside it (twice the peak of
    its distance transform), which is not inflated when nuclei touch. The median over all
    objects of at least 16 px is returned.

    Parameters
    ----------
    frames
        A ``Movie``, a (T,Y,X) or (Y,X) array, or a list of 2-D arrays.
    n_sample_frames
        Number of frames, evenly spread over the movie, to measure.

    Returns
    -------
    float
        Median nucleus diameter in pixels.

    Raises
    ------
    ValueError
        When no object is found in the sampled frames.

    Examples
    --------
    >>> from skimage.draw import disk
    >>> image = np.zeros((128, 128))
    >>> for centre in [(30, 30), (30, 90), (90, 60)]:
    ...     image[disk(centre, 10)] = 100
    >>> round(estimate_nucleus_diameter_px(image))
    20
    """
    n_frames, get = _frame_source(frames)
    picks = np.unique(np.linspace(0, n_frames - 1, min(n_sample_frames, n_frames)).round().astype(int))
    images = [get(int(t)) for t in picks]
    diameter = _median_inscribed_diameter(images, sigma_px=1.0)
    # Second pass at the smoothing segment_frame would use for that size.
    return _median_inscribed_diameter(images, sigma_px=0.1 * diameter)


def _median_inscribed_diameter(images: list[np.ndarray], *, sigma_px: float) -> float:
    """Area-weighted median over objects of twice their distance-transform peak."""
    diameters, areas = [], []
    for image in images:
        mask = ndi.binary_fill_holes(_foreground(image, sigma_px=sigma_px))
        labels, n = ndi.label(mask)
        index = np.arange(1, n + 1)
        # An EDT peak of r on the pixel grid is a disk of diameter about 2r - 1.
        diameters.append(2.0 * np.asarray(ndi.maximum(ndi.distance_transform_edt(mask), labels, index)) - 1.0)
        areas.append(np.bincount(labels.ravel())[1:])
    diameter, area = np.concatenate(diameters), np.concatenate(areas)
    if diameter.size == 0:
        raise ValueError("no nuclei found to estimate the nucleus diameter; pass nucleus_diameter_um")
    order = np.argsort(diameter)
    cumulative = np.cumsum(area[order])
    return float(diameter[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


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

    Steps: Gaussian smoothing (sigma = ``smoothing_fraction`` x diameter); Otsu threshold of the
    log of the smoothed image above its median background, so dim and bright nuclei in the same
    frame are both found; hole filling; a watershed on the distance transform seeded by its
    peaks at least 0.5 diameter apart, to split touching nuclei; removal of objects outside
    the area range. Nuclei touching the image border are kept.

    Parameters
    ----------
    image
        2-D image of any numeric dtype.
    nucleus_diameter_px
        Typical nucleus diameter in pixels; every other size derives from it.
    smoothing_fraction
        Gaussian sigma as a fraction of the diameter.
    min_area_fraction, max_area_fraction
        Objects smaller / larger than this multiple of a typical nucleus area
        (pi d^2 / 4) are dropped.
    split_touching
        Split touching nuclei with a distance-transform watershed.

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
    if nucleus_diameter_px <= 0:
        raise ValueError(f"nucleus_diameter_px must be positive, got {nucleus_diameter_px}")
    mask = _foreground(image, sigma_px=smoothing_fraction * nucleus_diameter_px)
    mask = ndi.binary_fill_holes(mask)
    if split_touching:
        distance = ndi.distance_transform_edt(mask)
        peaks = peak_local_max(
            distance,
            min_distance=max(1, int(round(0.25 * nucleus_diameter_px))),
            threshold_abs=0.15 * nucleus_diameter_px,
            exclude_border=False,
            labels=ndi.label(mask)[0],
        )
        markers = np.zeros(image.shape, dtype=np.int32)
        markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
        labels = watershed(-distance, markers, mask=mask)
    else:
        labels = ndi.label(mask)[0]
    typical_area = np.pi * nucleus_diameter_px**2 / 4.0
    area = np.bincount(labels.ravel())
    keep = (area >= min_area_fraction * typical_area) & (area <= max_area_fraction * typical_area)
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
    n_frames, get = _frame_source(movie_or_image)
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
