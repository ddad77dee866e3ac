"""Uneven background: a plane under the nuclei, or the lower envelope of a frame that glows.

Wide-field images are rarely evenly lit. Out-of-focus haze, the glow of a spheroid's body, the
matrix's own fluorescence and stray light add a background that rises across the field by as
much as a dim nucleus is bright. A single threshold over one background level then misses the
nuclei on the dark side and takes whole patches of the bright side for nuclei.

:func:`background_surface` measures such a background as a plane (a slope across the field)
fitted to the darker pixels of the tiles, a few nuclei wide, that show background only; tiles
that cells cover, even in part, are left out of the fit. When the plane rises by less than
``MIN_RISE_NOISE`` noise standard deviations across the field, nothing is returned.

A plane, not a curved surface: under a sheet of cells, where no background shows, a fitted
curvature extrapolates wildly (checked on simulated assays), while a slope holds. A vignette (dark
corners) is taken out only in part.

A glow narrower than the field, as the out-of-focus light of a spheroid's body gives, raises the
background between the cells around it above any plane. :func:`has_glow` looks for it once per
movie (:func:`shows_glow`: tiles showing background only, well above the plane through the
others); in a movie that glows, :func:`glow_surface`, the frame's lower envelope under a disk wider
than a nucleus, is taken out of every frame instead of a plane. Not in every movie: under a dense
sheet that envelope reads the level between the nuclei, and taking it out cost simulated sheets
without a glow a few nuclei (``docs/parameters.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import disk
from skimage.transform import resize

from leadertrack.io import frame_source

__all__ = ["GLOW_NOISE", "MIN_GLOW_TILES", "MIN_RISE_NOISE", "background_surface", "glow_surface", "has_glow", "shows_glow"]

# A tile is this many nucleus diameters wide, or narrower (down to MIN_TILE_DIAMETERS and 8 px) so
# that the field holds at least MIN_TILES_PER_SIDE tiles along each side; a smaller frame is too
# small to measure a surface in.
TILE_DIAMETERS = 3.0
MIN_TILE_DIAMETERS = 2.0
MIN_TILES_PER_SIDE = 4
# Each tile's level is this percentile of its pixels: background as long as cells cover less
# than 80 % of the tile.
TILE_PERCENTILE = 20.0
# The noise is measured in the quietest tiles: this quantile of the tiles' spreads. Tiles whose
# spread is at most QUIET_SPREAD times that show background only (cells, even a few, spread a
# tile's pixels far more); the plane is fitted through them, then again without those more than
# OUTLIER_NOISE noise standard deviations above it (an evenly bright patch: a glow, a cell body
# out of focus). At least MIN_TILE_SHARE of the tiles must be left.
QUIET_TILES = 0.1
QUIET_SPREAD = 2.0
OUTLIER_NOISE = 3.0
MIN_TILE_SHARE = 0.2
# Planes that rise less than this many noise standard deviations across the field are not
# returned: the segmentation's threshold copes with gentler slopes. Measured on the smoothed frames
# the segmentation sees, the simulator's own backgrounds (a gradient of up to 60 % of the
# background level) rise by up to 25 (195 movies, easy to hard, seeds 0-4, 200-204, 400-404 and
# 600-619), the second simulator's by up to 1.2 (120 movies), the HeLa frames by 11 and GOWT1's
# (block-averaged 3x) by 23, and their leaders and nuclei are found (docs/benchmarks.md). A slope
# of a tenth of the nuclei's signal across the field (12-78 noise standard deviations, median 60)
# already costs leaders (benchmarks/bench_background.py).
MIN_RISE_NOISE = 40.0
_MAX_FITS = 10
# A movie glows (has_glow) when in most of its sampled frames at least MIN_GLOW_TILES tiles that show background only
# lie more than GLOW_NOISE noise standard deviations above the plane through the others. No sampled frame of the 935
# simulated movies the other benchmarks render (both simulators; slopes, stage jitter, no leaders, nuclei 5-40 px
# across), of the HeLa, GOWT1, SIM+ and scratch-assay movies or of the sample data does. Of ten simulated spheroids
# under a glow a quarter, half and as bright as the nuclei's signal, 8, 9 and 10 are taken to glow, and leader F1
# from images goes 0.79 -> 0.95, 0.68 -> 1.00 and 0.55 -> 0.94 (benchmarks/bench_glow.py).
# Its background is then the frame's lower envelope under a disk GLOW_OPENING_DIAMETERS nucleus diameters across.
GLOW_NOISE = 10.0
MIN_GLOW_TILES = 3
GLOW_OPENING_DIAMETERS = 2.0


def _tile_levels(image: np.ndarray, tile_px: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Level (``TILE_PERCENTILE``) and spread of every whole tile, and the tiles' centres (rows of
    ``(y, x)``, px). The tiles are centred on the image, and sampled at every second pixel. The
    spread (median minus that percentile) is taken about each tile's own slope, the median of the
    differences between pixels half a tile apart, so that neither a steep background nor a bright
    nucleus in the tile passes for noise."""
    ny, nx = image.shape[0] // tile_px, image.shape[1] // tile_px
    y0, x0 = (image.shape[0] - ny * tile_px) // 2, (image.shape[1] - nx * tile_px) // 2
    tiles = image[y0 : y0 + ny * tile_px, x0 : x0 + nx * tile_px].reshape(ny, tile_px, nx, tile_px)
    tiles = tiles[:, ::2, :, ::2].transpose(0, 2, 1, 3).reshape(ny * nx, *tiles[0, ::2, 0, ::2].shape)
    lag = max(1, tiles.shape[1] // 2)
    along_y = np.median(tiles[:, lag:, :] - tiles[:, :-lag, :], axis=(1, 2)) / lag
    along_x = np.median(tiles[:, :, lag:] - tiles[:, :, :-lag], axis=(1, 2)) / lag
    offsets = np.arange(tiles.shape[1], dtype=np.float32) - (tiles.shape[1] - 1) / 2
    flattened = tiles - along_y[:, None, None] * offsets[None, :, None] - along_x[:, None, None] * offsets[None, None, :]
    level = np.percentile(tiles.reshape(len(tiles), -1), TILE_PERCENTILE, axis=1)
    low, median = np.percentile(flattened.reshape(len(tiles), -1), [TILE_PERCENTILE, 50.0], axis=1)
    cy, cx = np.meshgrid(y0 + (np.arange(ny) + 0.5) * tile_px, x0 + (np.arange(nx) + 0.5) * tile_px, indexing="ij")
    return level, median - low, np.column_stack([cy.ravel(), cx.ravel()])


def _plane_terms(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The terms 1, u, v of positions (rows of ``(y, x)``) scaled to [-1, 1] over ``shape``."""
    u = 2.0 * points[:, 0] / max(shape[0] - 1, 1) - 1.0
    v = 2.0 * points[:, 1] / max(shape[1] - 1, 1) - 1.0
    return np.column_stack([np.ones_like(u), u, v])


def _background_fit(terms: np.ndarray, level: np.ndarray, quiet: np.ndarray, *, noise_sd: float, minimum: float) -> np.ndarray | None:
    """Least-squares coefficients of ``terms`` through the ``level``s of the ``quiet`` tiles, refitted
    without those more than ``OUTLIER_NOISE`` noise standard deviations above the fit until they stop
    changing; None when fewer than ``minimum`` tiles remain."""
    used = quiet
    for _ in range(_MAX_FITS):
        if used.sum() < minimum:
            return None
        coefficients = np.linalg.lstsq(terms[used], level[used], rcond=None)[0]
        now = quiet & (level - terms @ coefficients <= OUTLIER_NOISE * noise_sd)
        if np.array_equal(now, used):
            break
        used = now
    return coefficients


def _tiles(image: np.ndarray, nucleus_diameter_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
    """The tiles of ``image``: their plane terms, levels, which are quiet (show background only) and the noise
    standard deviation; None when the frame is too small for ``MIN_TILES_PER_SIDE`` tiles per side or has no noise."""
    tile_px = min(round(TILE_DIAMETERS * nucleus_diameter_px), min(image.shape) // MIN_TILES_PER_SIDE)
    if tile_px < max(8, MIN_TILE_DIAMETERS * nucleus_diameter_px):
        return None
    level, spread, centres = _tile_levels(image, tile_px)
    quietest = float(np.quantile(spread, QUIET_TILES))
    noise_sd = quietest / 0.84  # the 20th percentile of a normal lies 0.84 sd below its median
    if not noise_sd > 0:
        return None
    return _plane_terms(centres, image.shape), level, spread <= QUIET_SPREAD * quietest, noise_sd


def shows_glow(image: np.ndarray, *, nucleus_diameter_px: float) -> bool:
    """Whether the background of one frame is uneven beyond a slope: at least ``MIN_GLOW_TILES`` tiles that show
    background only lie more than ``GLOW_NOISE`` noise standard deviations above the plane through the others.

    A glow, such as the out-of-focus light of a spheroid's body, raises the background between the cells around it,
    where a plane through the background further out cannot follow it.

    Parameters
    ----------
    image
        2-D frame (already smoothed at a fraction of the nucleus size).
    nucleus_diameter_px
        Typical nucleus diameter in pixels; sets the tile size.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> yy, xx = np.mgrid[:128, :128]
    >>> glow = 100.0 * np.exp(-((yy - 64) ** 2 + (xx - 64) ** 2) / (2 * 30.0**2))
    >>> shows_glow(glow + rng.normal(100.0, 2.0, (128, 128)), nucleus_diameter_px=8.0)
    True
    >>> shows_glow(yy * 1.5 + rng.normal(100.0, 2.0, (128, 128)), nucleus_diameter_px=8.0)  # a slope
    False
    """
    tiles = _tiles(np.asarray(image, dtype=np.float32), nucleus_diameter_px)
    if tiles is None:
        return False
    terms, level, quiet, noise_sd = tiles
    fit = _background_fit(terms, level, quiet, noise_sd=noise_sd, minimum=terms.shape[1] + 1)
    if fit is None:
        return False
    return int((quiet & (level - terms @ fit > GLOW_NOISE * noise_sd)).sum()) >= MIN_GLOW_TILES


def has_glow(frames: Any, *, nucleus_diameter_px: float, n_sample_frames: int = 5, smoothing_fraction: float = 0.1) -> bool:
    """Whether a movie's background glows (:func:`shows_glow`) in more than half of ``n_sample_frames`` frames
    spread evenly over it, each smoothed as the segmentation smooths it (sigma ``smoothing_fraction`` x diameter).

    Decided once per movie, so that every frame's background is taken out the same way.

    Parameters
    ----------
    frames
        A ``leadertrack.io.Movie``, a (T,Y,X) array, or a list of 2-D arrays.
    nucleus_diameter_px
        Typical nucleus diameter in pixels.
    n_sample_frames
        Number of frames to look at.
    smoothing_fraction
        Gaussian sigma as a fraction of the diameter (the segmentation's ``smoothing_fraction``).
    """
    n_frames, get = frame_source(frames)
    if n_frames == 0:
        return False
    picks = np.unique(np.linspace(0, n_frames - 1, min(n_sample_frames, n_frames)).round().astype(int))
    votes = 0
    for t in picks:
        image = ndi.gaussian_filter(np.asarray(get(int(t)), dtype=np.float32), smoothing_fraction * nucleus_diameter_px, truncate=3.0)
        votes += shows_glow(image, nucleus_diameter_px=nucleus_diameter_px)
    return 2 * votes > len(picks)


def glow_surface(image: np.ndarray, *, nucleus_diameter_px: float) -> np.ndarray:
    """The background under the nuclei of one frame that glows: its lower envelope, 0 at its lowest.

    The frame, block-averaged over blocks a quarter of a nucleus wide, is opened (greyscale) with a disk
    ``GLOW_OPENING_DIAMETERS`` nucleus diameters across, too wide to fit inside a nucleus, so that what is left is the
    background the nuclei sit on; it is smoothed (sigma half a diameter) and scaled back to the frame. Between cells it
    follows a glow closely; under a dense sheet of cells it reads the level between them.

    Parameters
    ----------
    image
        2-D frame (already smoothed at a fraction of the nucleus size).
    nucleus_diameter_px
        Typical nucleus diameter in pixels.

    Returns
    -------
    numpy.ndarray
        float32 surface of the frame's shape, 0 at its lowest.

    Examples
    --------
    >>> from skimage.draw import disk as disk_pixels
    >>> yy, xx = np.mgrid[:128, :128]
    >>> glow = 100.0 * np.exp(-((yy - 64) ** 2 + (xx - 64) ** 2) / (2 * 40.0**2))
    >>> image = glow.copy()
    >>> image[disk_pixels((64, 64), 5)] += 500.0  # a nucleus on top of the glow
    >>> surface = glow_surface(image, nucleus_diameter_px=10.0)
    >>> round(float(glow[64, 64] - glow.min())), round(float(surface[64, 64]))  # under the nucleus: the glow, not +500
    (92, 87)
    """
    image = np.asarray(image, dtype=np.float32)
    block = max(1, int(nucleus_diameter_px // 4))
    ny, nx = max(1, image.shape[0] // block), max(1, image.shape[1] // block)
    small = image[: ny * block, : nx * block].reshape(ny, block, nx, block).mean(axis=(1, 3))
    radius = max(1, round(GLOW_OPENING_DIAMETERS * nucleus_diameter_px / (2 * block)))
    low = ndi.grey_opening(small, footprint=disk(radius), mode="nearest")
    low = ndi.gaussian_filter(low, max(0.5, nucleus_diameter_px / (2 * block)), mode="nearest")
    surface = resize(low, image.shape, order=1, mode="edge", anti_aliasing=False, preserve_range=True).astype(np.float32)
    return surface - surface.min()


def background_surface(image: np.ndarray, *, nucleus_diameter_px: float, glow: bool = False) -> np.ndarray | None:
    """The background under the nuclei of one frame as a plane, or None when it is (nearly) flat; with ``glow``,
    its lower envelope (:func:`glow_surface`).

    1. The frame is cut into tiles ``TILE_DIAMETERS`` nucleus diameters wide; each tile's level is
       the ``TILE_PERCENTILE`` percentile of its pixels. The noise is measured from the tiles'
       spreads (median minus that percentile, about each tile's own slope): the ``QUIET_TILES``
       quantile of them.
    2. A plane in ``y`` and ``x`` is fitted by least squares to the levels of the quiet tiles (spread
       at most ``QUIET_SPREAD`` times the quietest tiles'), then again without the tiles more than
       ``OUTLIER_NOISE`` noise standard deviations above it, until the tiles used stop changing.
    3. When the plane rises by at least ``MIN_RISE_NOISE`` noise standard deviations over the
       field, it is returned, shifted so that its lowest value is 0.

    Parameters
    ----------
    image
        2-D frame (already smoothed at a fraction of the nucleus size).
    nucleus_diameter_px
        Typical nucleus diameter in pixels; sets the tile size.
    glow
        The movie's background glows (:func:`has_glow`): return :func:`glow_surface` instead.

    Returns
    -------
    numpy.ndarray or None
        float32 surface of the frame's shape, 0 at its lowest; None when the frame is too small
        for ``MIN_TILES_PER_SIDE`` tiles per side, when too few tiles show background, or when
        the plane rises by less than ``MIN_RISE_NOISE`` noise standard deviations.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ramp = np.linspace(0.0, 200.0, 128)[None, :] * np.ones((128, 1))
    >>> surface = background_surface(ramp + rng.normal(100.0, 2.0, (128, 128)), nucleus_diameter_px=8.0)
    >>> round(float(surface[:, -1].mean() - surface[:, 0].mean()))
    200
    >>> background_surface(rng.normal(100.0, 2.0, (128, 128)), nucleus_diameter_px=8.0) is None
    True
    """
    image = np.asarray(image, dtype=np.float32)
    if glow:
        return glow_surface(image, nucleus_diameter_px=nucleus_diameter_px)
    tiles = _tiles(image, nucleus_diameter_px)
    if tiles is None:
        return None
    terms, level, quiet, noise_sd = tiles
    fit = _background_fit(terms, level, quiet, noise_sd=noise_sd, minimum=max(terms.shape[1] + 1, MIN_TILE_SHARE * level.size))
    if fit is None:
        return None
    c = fit.astype(np.float32)
    u = np.linspace(-1.0, 1.0, image.shape[0], dtype=np.float32)[:, None]
    v = np.linspace(-1.0, 1.0, image.shape[1], dtype=np.float32)[None, :]
    surface = c[0] + c[1] * u + c[2] * v
    rise = float(surface.max() - surface.min())
    if rise < MIN_RISE_NOISE * noise_sd:
        return None
    return (surface - surface.min()).astype(np.float32)
