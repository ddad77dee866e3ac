"""Typical nucleus diameter of a movie, measured by scale-space blob detection.

Every size-dependent default of the pipeline (smoothing, splitting, size filter, linking search
range) derives from one number, the nucleus diameter in pixels. When the user does not give it,
:func:`estimate_nucleus_diameter_px` measures it here; when the user gives label masks,
:func:`mask_diameter_px` takes it from their areas.

Thresholding and measuring connected objects fails on dense tissue, where a whole sheet or a
spheroid core is one object. Instead, nuclei are found as maxima of the scale-normalised
Laplacian of Gaussian over position *and* scale (Lindeberg's blob detector): a bright disk of
diameter d gives a maximum at sigma = d / (2 sqrt 2) whether it stands alone or among
touching neighbours. Three tests keep the maxima that are nuclei:

- *above the noise*: the response exceeds ``_MIN_SNR`` times the response that white noise of
  the frame's level (median absolute difference of neighbouring pixels) gives at that scale;
- *blob-like*: the response is at least ``_MIN_BLOB_CONTRAST`` of the blob's own smoothed
  intensity over the background (about 1 for a disk at its scale). This rejects chromatin
  grains and nucleoli, which are weak relative to the bright nucleus they sit on, and the
  gentle swell of a sheet or a spheroid core;
- bigger than ``_MIN_DIAMETER_PX``.

The estimate is the mode of the distribution of log diameters, each maximum weighted by its
response and its squared blob contrast, so that a few strong nucleus-sized blobs outweigh many
faint small ones and a single spheroid-sized one.

A glow far brighter than the nuclei (around a spheroid's out-of-focus body) can fail every nucleus
the blob-like test, since their intensity over the frame's background is mostly glow. When no
maximum passes, the frames are measured once more over a coarse lower envelope (a disk an eighth of
the frame across), which takes such a glow out; on simulated spheroids under a glow as bright as the
nuclei or twice as bright this found the diameter within 5 % where none was found before.

The image pyramid (block means, halving the image per octave) keeps the filters small: each
octave costs a quarter of the one before, and the fine octaves of large frames are measured on
the part of the frame with the most foreground, weighted up by its share of the foreground (so
a cell-free wound gap in the middle of the field does not hide small nuclei).

Accuracy (``benchmarks/bench_diameter.py``, ``docs/benchmarks.md``): isolated disks of 5-30 px
within 2%; real data (CTC GOWT1 and SIM+, HeLa, a scratch assay) and simulated invasion assays
within 20% of the median equivalent diameter of the ground-truth masks. Tightly packed nuclei
(spacing about 1.2 diameters) read about 13% small, and small blurred nuclei (5-8 px, PSF sigma
about 1 px) about 5% large.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from skimage.transform import downscale_local_mean

from leadertrack.background import background_surface, glow_surface, has_glow
from leadertrack.io import frame_source

__all__ = ["estimate_nucleus_diameter_px", "mask_diameter_px"]

# Scales per octave, and the smallest scale searched (sigma in px of each pyramid level).
_SCALES_PER_OCTAVE = 4
_SIGMA_MIN_PX = 1.5
# Tests a scale-space maximum must pass to count as a nucleus (see the module docstring).
# Chosen on the sample movies, four real data sets and simulated scenarios; checked on 40
# scenarios per difficulty (benchmarks/bench_diameter.py): 116-118 of 120 stay within 20% of
# the truth anywhere in 3-8 (SNR) and 0.45-0.75 (contrast).
_MIN_SNR = 5.0
_MIN_BLOB_CONTRAST = 0.6
_MIN_DIAMETER_PX = 4.5
# Width (natural log units) of the Gaussian kernel smoothing the histogram of log diameters.
_LOG_BANDWIDTH = 0.15
# Pixels processed per pyramid level at most; larger levels are cropped (see _blobs).
_MAX_LEVEL_PX = 256 * 256
# Pixels this many noise standard deviations above the background are foreground (crop choice).
_FOREGROUND_SNR = 3.0


def _background_and_noise(image: np.ndarray) -> tuple[float, float]:
    """Background level (mode of the darker half of the pixels) and pixel noise standard deviation.

    The noise is the median absolute difference of horizontally neighbouring pixels, scaled to a
    standard deviation; nuclei, which are smooth at the pixel scale, hardly contaminate it.
    """
    sample = image[::2, ::2]
    low, high = np.percentile(sample, [0.1, 50.0])
    if high > low:
        counts, edges = np.histogram(sample, bins=256, range=(low, high))
        background = float(edges[np.argmax(counts)] + 0.5 * (edges[1] - edges[0]))
    else:
        background = float(high)
    steps = np.abs(np.diff(image, axis=1))
    noise_sd = 1.4826 / np.sqrt(2.0) * float(np.median(steps)) if steps.size else 0.0  # 1 px wide: no steps
    return background, noise_sd


def _busiest_part(level: np.ndarray, *, max_px: int, threshold: float) -> tuple[np.ndarray, float]:
    """The part of ``level`` (at most ``max_px`` pixels, same aspect) with the most foreground.

    Foreground is the pixels above ``threshold``; the part is chosen among windows on a 5 x 5
    grid (the central one on ties). Also returns the weight that makes blobs counted in the part
    stand for the whole level: its share of the level's foreground, inverted.
    """
    if level.size <= max_px:
        return level, 1.0
    scale = np.sqrt(max_px / level.size)
    height, width = int(level.shape[0] * scale), int(level.shape[1] * scale)
    foreground = level > threshold
    total = int(foreground.sum())
    integral = np.pad(foreground.cumsum(axis=0, dtype=np.int64).cumsum(axis=1), ((1, 0), (1, 0)))
    tops = np.linspace(0, level.shape[0] - height, 5).astype(int)
    lefts = np.linspace(0, level.shape[1] - width, 5).astype(int)
    top, left = tops[:, None], lefts[None, :]
    counts = integral[top + height, left + width] - integral[top, left + width] - integral[top + height, left] + integral[top, left]
    centre_first = np.argsort(np.abs(np.arange(-2, 3)[:, None]) + np.abs(np.arange(-2, 3)[None, :]), axis=None, kind="stable")
    best = centre_first[np.argmax(counts.ravel()[centre_first])]
    top, left = tops[best // 5], lefts[best % 5]
    inside = int(counts.ravel()[best])
    weight = total / inside if inside else level.size / (height * width)
    return level[top : top + height, left : left + width], weight


def _scale_space(image: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """``image`` smoothed with Gaussians of increasing ``sigmas``, each from the one before."""
    smooth = [ndi.gaussian_filter(image, sigmas[0], truncate=3.0)]
    for previous, sigma in itertools.pairwise(sigmas):
        smooth.append(ndi.gaussian_filter(smooth[-1], np.sqrt(sigma**2 - previous**2), truncate=3.0))
    return np.stack(smooth)


def _laplace(stack: np.ndarray) -> np.ndarray:
    """Discrete Laplacian (5-point) of each image of ``stack``, on the pixels not on the border."""
    centre = stack[:, 1:-1, 1:-1]
    return stack[:, :-2, 1:-1] + stack[:, 2:, 1:-1] + stack[:, 1:-1, :-2] + stack[:, 1:-1, 2:] - 4.0 * centre


def _max3(array: np.ndarray, *, axis: int) -> np.ndarray:
    """Maximum of each element and its two neighbours along ``axis`` (the array shrinks by 2 there)."""
    def part(start: int) -> np.ndarray:
        index = [slice(None)] * array.ndim
        index[axis] = slice(start, array.shape[axis] - 2 + start)
        return array[tuple(index)]

    return np.maximum(np.maximum(part(0), part(1)), part(2))


def _blobs(image: np.ndarray, *, noise_sd: float) -> tuple[np.ndarray, np.ndarray]:
    """Diameters (px) and weights of the nucleus-like scale-space maxima of one frame.

    ``image`` is background-subtracted float32. Pyramid levels larger than ``_MAX_LEVEL_PX``
    are measured on their busiest part (:func:`_busiest_part`). Returns two 1-D arrays of
    equal length.
    """
    step = 2.0 ** (1.0 / _SCALES_PER_OCTAVE)
    sigmas = _SIGMA_MIN_PX * step ** np.arange(-1, _SCALES_PER_OCTAVE + 1)  # one guard scale each side
    diameters, weights = [np.empty(0)], [np.empty(0)]  # a frame too small for any scale has no blobs
    level, factor = image, 1
    while min(level.shape) >= 8 * sigmas[-1]:
        # Block means of factor^2 pixels have noise sd noise_sd / factor.
        part, part_weight = _busiest_part(level, max_px=_MAX_LEVEL_PX, threshold=_FOREGROUND_SNR * noise_sd / factor)
        smooth = _scale_space(part, sigmas)
        response = -(sigmas**2)[:, None, None] * _laplace(smooth)
        # Maxima over 3 x 3 x 3 neighbours (position and scale), at the inner scales only.
        neighbours = _max3(_max3(_max3(response, axis=0), axis=1), axis=2)
        inner = response[1:-1, 1:-1, 1:-1]
        k, y, x = np.nonzero((inner == neighbours) & (inner > 0))
        k, y, x = k + 1, y + 2, x + 2  # indices into smooth
        value, below, above = response[k, y - 1, x - 1], response[k - 1, y - 1, x - 1], response[k + 1, y - 1, x - 1]
        # Parabolic refinement of the scale between the sampled ones (in log sigma).
        curvature = below - 2.0 * value + above
        offset = np.where(curvature < 0, 0.5 * (below - above) / np.where(curvature < 0, curvature, -1.0), 0.0)
        sigma = sigmas[k] * step ** np.clip(offset, -0.5, 0.5)
        # Noise: white noise of sd n, block-averaged over factor^2 pixels, has a normalised LoG
        # response of sd n / (factor * sigma * sqrt(2 pi)) at scale sigma (level pixels).
        snr = value * factor * sigmas[k] * np.sqrt(2.0 * np.pi) / noise_sd
        contrast = value / np.maximum(smooth[k, y, x], np.finfo(np.float32).tiny)
        keep = (snr > _MIN_SNR) & (contrast > _MIN_BLOB_CONTRAST)
        diameters.append(2.0 * np.sqrt(2.0) * factor * sigma[keep])
        weights.append(value[keep] * np.minimum(contrast[keep], 1.5) ** 2 * part_weight)
        level, factor = downscale_local_mean(level, (2, 2)).astype(np.float32, copy=False), factor * 2
    return np.concatenate(diameters), np.concatenate(weights)


def _mode_of_log(values: np.ndarray, weights: np.ndarray, *, bandwidth: float) -> float:
    """Mode of the weighted distribution of ``log(values)``, smoothed with a Gaussian kernel."""
    bin_width = bandwidth / 8.0
    low, high = np.log(values.min()) - 3 * bandwidth, np.log(values.max()) + 3 * bandwidth
    counts, edges = np.histogram(np.log(values), bins=max(1, int(np.ceil((high - low) / bin_width))), range=(low, high), weights=weights)
    density = ndi.gaussian_filter1d(counts, bandwidth / bin_width, mode="constant")
    best = int(np.argmax(density))
    return float(np.exp(0.5 * (edges[best] + edges[best + 1])))


def estimate_nucleus_diameter_px(
    frames: Any, *, n_sample_frames: int = 5, flatten_background: bool = True, glow: bool | None = None
) -> float:
    """Typical nucleus diameter in pixels, measured from a few frames of a movie.

    Nuclei are detected as scale-space maxima of the normalised Laplacian of Gaussian, which
    measures each nucleus by its own scale even when it touches its neighbours in a dense sheet
    or spheroid; maxima that are noise, chromatin texture or whole cell clusters are rejected
    (see the module docstring), and the most common diameter of the rest is returned. It is
    the equivalent diameter (of a disk with the same area) of the nuclei within about 20%.

    Parameters
    ----------
    frames
        A ``leadertrack.io.Movie`` (read lazily), a (T,Y,X) or (Y,X) array, or a list of 2-D
        arrays, of any numeric dtype.
    n_sample_frames
        Number of frames, evenly spread over the movie, to measure.
    flatten_background
        When a frame's background slopes steeply across the field, or the movie's background glows
        (:func:`leadertrack.background.background_surface`, :func:`leadertrack.background.has_glow`),
        measure again with it taken out.
    glow
        Whether the movie's background glows; None = decide it from the sampled frames.

    Returns
    -------
    float
        Typical nucleus diameter in pixels.

    Raises
    ------
    ValueError
        When no nucleus-like blob is found in the sampled frames (for example, blank frames).

    Examples
    --------
    >>> from skimage.draw import disk
    >>> image = np.zeros((128, 128))
    >>> for centre in [(30, 30), (30, 90), (90, 60)]:
    ...     image[disk(centre, 10)] = 100
    >>> 17 < estimate_nucleus_diameter_px(image) < 23  # disks of diameter 20 px
    True
    """
    if n_sample_frames < 1:
        raise ValueError(f"n_sample_frames must be at least 1, got {n_sample_frames}")
    n_frames, get = frame_source(frames)
    picks = np.unique(np.linspace(0, n_frames - 1, min(n_sample_frames, n_frames)).round().astype(int)) if n_frames else []
    images = []
    for t in picks:
        image = np.asarray(get(int(t)), dtype=np.float32)
        if image.ndim != 2:
            raise ValueError(f"expected 2-D frames, got a frame of shape {image.shape}")
        finite = np.isfinite(image)
        if finite.any():
            images.append(image if finite.all() else np.where(finite, image, np.median(image[finite])).astype(np.float32))
    try:
        diameter = _diameter_of(images)
    except ValueError:
        if not (flatten_background and images):
            raise
        # a glow far brighter than the nuclei hides them from the blob test: look again over a coarse lower envelope
        diameter = _diameter_of([image - _coarse_envelope(image) for image in images])
    # an uneven background biases the blobs' contrast: measured again with it taken out, if there is one
    if glow is None:
        glow = flatten_background and has_glow(images, nucleus_diameter_px=diameter)
    surfaces = [background_surface(image, nucleus_diameter_px=diameter, glow=glow) if flatten_background else None for image in images]
    if any(surface is not None for surface in surfaces):
        diameter = _diameter_of([image if surface is None else image - surface for image, surface in zip(images, surfaces)])
    return diameter


def _coarse_envelope(image: np.ndarray) -> np.ndarray:
    """The lower envelope of ``image`` under a disk an eighth of its shorter side across (any nucleus that size or
    smaller stands out of it): :func:`leadertrack.background.glow_surface` for nuclei a sixteenth of that side."""
    return glow_surface(image, nucleus_diameter_px=min(image.shape) / 16)


def _diameter_of(images: list[np.ndarray]) -> float:
    """The most common diameter (px) of the nucleus-like blobs of ``images`` (float32, finite)."""
    diameters, weights = [], []
    for image in images:
        background, noise_sd = _background_and_noise(image)
        signal = float(image.max()) - background
        if not signal > 0:
            continue
        # A noiseless (simulated or heavily quantised) frame still needs a noise floor.
        noise_sd = max(noise_sd, 1e-3 * signal)
        d, w = _blobs(image - np.float32(background), noise_sd=noise_sd)
        keep = d >= _MIN_DIAMETER_PX
        diameters.append(d[keep])
        weights.append(w[keep])
    if not diameters or not sum(map(len, diameters)):
        raise ValueError("no nuclei found to estimate the nucleus diameter; pass nucleus_diameter_um")
    return _mode_of_log(np.concatenate(diameters), np.concatenate(weights), bandwidth=_LOG_BANDWIDTH)


def mask_diameter_px(area_px: Any) -> float:
    """Typical nucleus diameter in pixels of given masks: the equivalent diameter (of a disk with
    the same area) of their median area.

    Parameters
    ----------
    area_px
        The masks' areas in pixels (one per nucleus and frame), e.g. ``area_px`` of
        :func:`leadertrack.detect.detect`.

    Returns
    -------
    float
        ``2 sqrt(median area / pi)``; 10 when there are no masks.

    Examples
    --------
    >>> round(mask_diameter_px([300, 314, 330]), 1)
    20.0
    """
    area_px = np.asarray(area_px, dtype=float)
    return 2.0 * float(np.sqrt(np.median(area_px) / np.pi)) if area_px.size else 10.0
