"""Uneven background: a plane under the nuclei, measured from each frame.

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
corners) is taken out only in part, and a glow narrower than the field (around a spheroid's body)
not at all.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MIN_RISE_NOISE", "background_surface"]

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


def background_surface(image: np.ndarray, *, nucleus_diameter_px: float) -> np.ndarray | None:
    """The background under the nuclei of one frame as a plane, or None when it is (nearly) flat.

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
    tile_px = min(round(TILE_DIAMETERS * nucleus_diameter_px), min(image.shape) // MIN_TILES_PER_SIDE)
    if tile_px < max(8, MIN_TILE_DIAMETERS * nucleus_diameter_px):
        return None
    level, spread, centres = _tile_levels(image, tile_px)
    quietest = float(np.quantile(spread, QUIET_TILES))
    noise_sd = quietest / 0.84  # the 20th percentile of a normal lies 0.84 sd below its median
    if not noise_sd > 0:
        return None
    terms = _plane_terms(centres, image.shape)
    fit = _background_fit(terms, level, spread <= QUIET_SPREAD * quietest, noise_sd=noise_sd,
                          minimum=max(terms.shape[1] + 1, MIN_TILE_SHARE * level.size))
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
