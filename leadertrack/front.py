"""The invasion front per frame: planar (sheet edge), two opposing planar fronts (scratch), radial.

The front is the edge of the cell collective (the cells with at least ``DENSE_FRACTION`` of
the typical number of neighbours: strands and single invaders do not drag it outward), found from
cell positions alone:

* **planar**: the sheet fills one side of the field, entering at any angle. Its outward normal
  is perpendicular to a straight line fitted robustly to the sheet's edge in the first frames
  (RANSAC, then a Theil-Sen slope of the front-most cells), so fingers and a ragged edge do not
  tilt it, and the image border, where no edge is traced, does not count. The field is cut into
  lateral bins a few cell spacings wide, and in each bin the front is a high quantile (0.95) of
  the cells' outward coordinate, smoothed across bins and over time. A ragged edge therefore
  keeps its shape.
* **two planar fronts** (scratch / wound assay): two sheets cover opposite sides of the field
  with a cell-free gap between them; their edges are parallel and share one fitted axis; each
  has its own front, normals facing each other.
* **radial** (spheroid, 2-D or 3-D): the centre is the centroid of the dense core; the front
  radius is the 0.95 quantile of the cells' radius in each angular sector (by direction in 3-D).
  A 2-D spheroid cut by the image border (its collective touches the border) has its core's
  centroid pulled away from the border, towards the part in view: there the centre is that of
  a circle fitted robustly (RANSAC) to the collective's traced edge, which the border does not
  cut into (:func:`_rim_centre`). On 120 simulated spheroids whose field ends at their centre
  (``random_scenario`` seeds 61000-61059, medium and hard) this brought the centre from a
  median 3.0 nucleus diameters off to 0.55-0.8, and the front radius from 1.9-2.1 diameters off
  to 0.6.

``geometry="auto"`` looks at how much of the field's border the collective (dense cells) touches:
a sheet runs along one face (or two opposite faces with a gap between them: a scratch), and
where it enters at an angle, along parts of two adjacent faces; a spheroid touches little or none
of it (its strands and single invaders may reach the border; they are not dense), even when it
fills the field's short side. A sheet spans the field, so it also touches the faces beside its
back; a collective touching one face only is a spheroid cut by the border. Without ``field_um``
the box around the cells stands in for the field; any compact collective touches that box on
every side, so there a face must be covered at least half (the back of a sheet). In 3-D only the
lateral (y and x) faces count: the z faces are the stack's bottom (the dish, which a monolayer
covers) and top, and a spheroid resting on the dish covers much of the bottom. The choice, its
confidence and the evidence are stored on the returned :class:`Front`.

Distances are signed along the outward direction: ``>= 0`` behind the front (inside the
collective), ``< 0`` ahead of it. When ``field_um`` is given, a front that lies on the image
border is not a front (the collective fills the field there): distances are NaN in that place.
For a 2-D spheroid that is judged along each cell's own direction from the centre: a cell in a
sector whose front runs out of the field takes the neighbouring sector's front radius when,
along its direction, that radius (and ``BORDER_SPACINGS`` beyond) still lies in the field, as it
does for a cell running along the border that cuts a spheroid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import ndimage as ndi
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from skimage.measure import CircleModel, LineModelND, find_contours, ransac

from leadertrack.errors import InputError

__all__ = ["Front", "find_front", "position_columns", "typical_spacing_um"]

FRONT_QUANTILE = 0.95
"""Quantile of the outward coordinate (planar) or radius (radial) that marks the front in a bin."""
PLANAR_COVERAGE = 0.5
"""A face covered at least this much by cells is the back of a sheet (two opposite ones: a scratch).
``auto`` chooses planar by it when the field is not known (the box around the cells stands in)."""
PLANAR_BORDER_SHARE = 0.2
"""``auto`` chooses planar when the collective touches at least this share of the field's lateral
border (faces weighted by their size; ``field_um`` given). Over 1,440 simulated movies (``random_scenario``
seeds 0-159, every geometry and difficulty, perfect tracks, also with 30 % of the cells left out)
sheets touched 0.25-1.0 of it (median 0.53; the least, sheets entering at 37 degrees) and
spheroids at most 0.17 (median 0), also those filling the field's short side."""
ONE_SIDE_SCALE = 0.5
"""``auto`` calls a collective that touches one side of the field only (with ``field_um``) radial: a
spheroid cut by the border; a sheet spans the field and also touches the sides beside its back
(every one of 240 simulated sheets did, seeds 0-79, every difficulty). Its confidence is 1 when
the collective covers at most half that side, falling to 0 as it covers all of it."""
DENSE_FRACTION = 0.4
"""Cells with fewer neighbours than this fraction of the frame's median are not part of the collective."""
BORDER_SPACINGS = 2.0
"""A front closer than this many cell spacings to the image border is the border, not a front."""
EDGE_LEVEL = 1.5
"""The edge of a sheet is traced where the distance to the nearest cell reaches this many spacings."""
_GAP_DENSITY = 0.2
"""Bins with fewer cells than this fraction of the typical bin are part of a scratch gap."""


def position_columns(table: pd.DataFrame) -> list[str]:
    """The physical position columns of ``table``: ``["z_um", "y_um", "x_um"]`` or ``["y_um", "x_um"]``."""
    return ["z_um", "y_um", "x_um"] if "z_um" in table.columns else ["y_um", "x_um"]


def typical_spacing_um(positions: np.ndarray, frames: np.ndarray, *, max_frames: int = 12) -> float:
    """Typical distance between neighbouring cells of the same frame, in µm.

    The lower quartile over cells of the mean distance to their (up to) 6 nearest neighbours: the
    lattice constant of the dense collective, robust to positional noise (which makes the single
    nearest neighbour deceptively close) and to many sparse invaders (the quartile ignores them).

    Parameters
    ----------
    positions
        (N, ndim) positions in µm.
    frames
        (N,) frame of each position.
    max_frames
        At most this many frames (evenly spread) are used.

    Examples
    --------
    >>> y, x = np.meshgrid(np.arange(0.0, 100, 10), np.arange(0.0, 100, 10), indexing="ij")
    >>> round(typical_spacing_um(np.column_stack([y.ravel(), x.ravel()]), np.zeros(100, int)), 1)
    11.4
    """
    unique = np.unique(frames)
    chosen = unique[np.linspace(0, len(unique) - 1, min(max_frames, len(unique))).astype(int)]
    dists = []
    for f in chosen:
        p = positions[frames == f]
        if len(p) >= 2:
            k = min(7, len(p))
            d, _ = cKDTree(p).query(p, k=k)
            dists.append(d[:, 1:].mean(axis=1))
    if not dists:
        return 1.0
    d = np.concatenate(dists)
    d = d[d > 0]
    return float(np.quantile(d, 0.25)) if len(d) else 1.0


@dataclass
class Front:
    """The invasion front of one movie, per frame.

    Attributes
    ----------
    geometry
        ``"planar"`` or ``"radial"``.
    confidence
        0..1: how clearly the geometry was chosen (1 when the user chose it).
    n_fronts
        1, or 2 for a scratch assay (two opposing planar fronts).
    table
        One row per frame and front: ``frame, time_min, front_id, geometry, front_position_um,
        front_speed_um_per_min`` and ``normal_y, normal_x`` (planar) or ``centre_y_um,
        centre_x_um`` (+ ``centre_z_um`` in 3-D; radial). ``front_position_um`` is the position
        of the edge along the outward normal (planar) or the median front radius (radial);
        a positive speed means the front advances.
    reason
        A short text saying why this geometry was chosen.
    spacing_um
        Typical distance between neighbouring cells (µm); the length scale of every tolerance.
    """

    geometry: str
    confidence: float
    n_fronts: int
    table: pd.DataFrame
    reason: str
    spacing_um: float
    frames: np.ndarray = field(repr=False)
    ndim: int = field(repr=False)
    # planar: unit direction, +1/-1 normal sign per front, lateral basis and bins, front per (front, frame, bin)
    direction: np.ndarray = field(default=None, repr=False)
    basis: np.ndarray = field(default=None, repr=False)  # (ndim - 1, ndim) orthonormal, perpendicular to direction
    signs: tuple[float, ...] = field(default=(1.0,), repr=False)
    lateral_lo: np.ndarray = field(default=None, repr=False)
    lateral_width: np.ndarray = field(default=None, repr=False)
    lateral_shape: tuple[int, ...] = field(default=(), repr=False)
    profiles: np.ndarray = field(default=None, repr=False)  # (n_fronts, T, n_bins), outward coordinate / radius
    midline: np.ndarray = field(default=None, repr=False)  # (T, n_bins): scratch gap middle along the axis
    # radial: centre per frame, sector directions (3-D) or count (2-D)
    centre: np.ndarray = field(default=None, repr=False)  # (T, ndim)
    directions: np.ndarray = field(default=None, repr=False)  # (n_sectors, ndim) in 3-D
    # radial with the field known: (lo, hi, margin) of the field, to tell a front beyond the border per cell
    field_box: tuple[np.ndarray, np.ndarray, float] | None = field(default=None, repr=False)

    # ----------------------------------------------------------------------------------------
    def _rows(self, frames: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.frames, frames)
        idx = np.clip(idx, 0, len(self.frames) - 1)
        prev = np.clip(idx - 1, 0, len(self.frames) - 1)
        closer = np.abs(self.frames[prev] - frames) < np.abs(self.frames[idx] - frames)
        return np.where(closer, prev, idx)

    def normal(self, front_id: int = 1) -> np.ndarray:
        """Outward unit normal of planar front ``front_id`` (in (z,) y, x order)."""
        return self.signs[front_id - 1] * self.direction

    def assign(self, positions: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """Front (1 or 2) each position belongs to: the side of the scratch gap it lies on.

        Parameters
        ----------
        positions
            (N, ndim) positions in µm, (z,) y, x order.
        frames
            (N,) frame numbers.
        """
        positions = np.asarray(positions, float)
        if self.n_fronts == 1:
            return np.ones(len(positions), int)
        rows = self._rows(np.asarray(frames))
        mid = self._lookup(self.midline[None], rows, positions)[0]
        return np.where(positions @ self.direction <= mid, 1, 2)

    def outward(self, positions: np.ndarray, frames: np.ndarray, front_id: np.ndarray | None = None) -> np.ndarray:
        """Outward unit vectors (N, ndim) at ``positions``: the normal (planar) or away from the centre (radial)."""
        positions = np.asarray(positions, float)
        if self.geometry == "planar":
            ids = self.assign(positions, frames) if front_id is None else np.asarray(front_id)
            return np.asarray(self.signs)[ids - 1][:, None] * self.direction[None]
        rel = positions - self.centre[self._rows(np.asarray(frames))]
        norm = np.linalg.norm(rel, axis=1, keepdims=True)
        return np.divide(rel, norm, out=np.zeros_like(rel), where=norm > 0)

    def outward_coordinate(
        self, positions: np.ndarray, frames: np.ndarray, front_id: np.ndarray | None = None
    ) -> np.ndarray:
        """Position along the outward direction: coordinate along the normal (planar) or radius (radial), µm."""
        positions = np.asarray(positions, float)
        if self.geometry == "planar":
            ids = self.assign(positions, frames) if front_id is None else np.asarray(front_id)
            return np.asarray(self.signs)[ids - 1] * (positions @ self.direction)
        rel = positions - self.centre[self._rows(np.asarray(frames))]
        return np.linalg.norm(rel, axis=1)

    def distance(self, positions: np.ndarray, frames: np.ndarray, front_id: np.ndarray | None = None) -> np.ndarray:
        """Signed distance (µm) to the local front along the outward direction: >= 0 behind, < 0 ahead.

        NaN where the front lies on the image border (the collective fills the field there).

        Parameters
        ----------
        positions
            (N, ndim) positions in µm, (z,) y, x order.
        frames
            (N,) frame numbers.
        front_id
            (N,) front each position belongs to (default: :meth:`assign`).
        """
        positions = np.asarray(positions, float)
        frames = np.asarray(frames)
        ids = self.assign(positions, frames) if front_id is None else np.asarray(front_id)
        rows = self._rows(frames)
        coord = self.outward_coordinate(positions, frames, ids)
        local = self._lookup(self.profiles, rows, positions)
        return np.take_along_axis(local, (ids - 1)[None], axis=0)[0] - coord

    def _in_view(self, local: np.ndarray, other: np.ndarray, rows: np.ndarray, rel: np.ndarray) -> np.ndarray:
        """``local`` front radii, with ``other`` (the neighbouring sector's) where ``local`` is NaN (its
        own sector's front runs out of the field) and, along the cell's own direction ``rel`` from
        the centre, ``other`` plus the border margin still lies in the field."""
        fill = np.isnan(local) & np.isfinite(other)
        if self.field_box is None or not fill.any():
            return local
        lo, hi, margin = self.field_box
        unit = rel / np.maximum(np.linalg.norm(rel, axis=1, keepdims=True), 1e-12)
        tip = self.centre[rows][None] + (np.where(fill, other, 0.0)[..., None] + margin) * unit[None]
        return np.where(fill & ~_beyond_field(tip, lo, hi), other, local)

    # ----------------------------------------------------------------------------------------
    def _lookup(self, profiles: np.ndarray, rows: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Front value of each profile at each position's lateral bin / sector (linear along one axis;
        beside a bin or sector without a front, on the image border, a cell takes its own one's front)."""
        if self.geometry == "planar":
            lateral = positions @ self.basis.T
            coord = (lateral - self.lateral_lo) / self.lateral_width - 0.5
        else:
            rel = positions - self.centre[rows]
            if self.ndim == 2:
                n = self.lateral_shape[0]
                angle = np.mod(np.arctan2(rel[:, 0], rel[:, 1]), 2 * np.pi)
                f = angle / (2 * np.pi) * n - 0.5
                i0 = np.floor(f).astype(int)
                w = f - i0
                a, b = np.mod(i0, n), np.mod(i0 + 1, n)
                left, right = profiles[:, rows, a], profiles[:, rows, b]
                return self._in_view(_between(left, right, w), np.where(np.isnan(left), right, left), rows, rel)
            sector = np.argmax(rel @ self.directions.T, axis=1)
            return profiles[:, rows, sector]
        if len(self.lateral_shape) == 1:
            n = self.lateral_shape[0]
            f = np.clip(coord[:, 0], 0, n - 1)
            i0 = np.minimum(np.floor(f).astype(int), max(n - 2, 0))
            w = f - i0
            i1 = np.minimum(i0 + 1, n - 1)
            return _between(profiles[:, rows, i0], profiles[:, rows, i1], w)
        idx = tuple(np.clip(np.rint(coord[:, k]).astype(int), 0, s - 1) for k, s in enumerate(self.lateral_shape))
        flat = np.ravel_multi_index(idx, self.lateral_shape)
        return profiles[:, rows, flat]


# --------------------------------------------------------------------------------------------
def _between(left: np.ndarray, right: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Linear interpolation at ``w`` (0 = ``left``, 1 = ``right``); where one side has no front (NaN:
    on the image border) the nearer side's value, so a cell takes its own bin's front."""
    between = (1 - w) * left + w * right
    return np.where(np.isnan(between), np.where(w < 0.5, left, right), between)


def _face_coverage(positions: np.ndarray, frames: np.ndarray, lo: np.ndarray, hi: np.ndarray, spacing: float) -> np.ndarray:
    """(ndim, 2) median over frames of the fraction of each field face (low, high) that cells touch
    (lie within one spacing of)."""
    ndim = positions.shape[1]
    margin, width = spacing, 3.0 * spacing
    unique = np.unique(frames)
    chosen = unique[np.linspace(0, len(unique) - 1, min(20, len(unique))).astype(int)]
    cover = np.zeros((len(chosen), ndim, 2))
    for k, f in enumerate(chosen):
        p = positions[frames == f]
        for a in range(ndim):
            others = [b for b in range(ndim) if b != a]
            shape = tuple(max(1, int((hi[b] - lo[b]) // width)) for b in others)
            for side, near in enumerate((p[:, a] - lo[a] <= margin, hi[a] - p[:, a] <= margin)):
                q = p[near][:, others]
                idx = tuple(
                    np.clip(((q[:, j] - lo[b]) / (hi[b] - lo[b] + 1e-9) * shape[j]).astype(int), 0, shape[j] - 1)
                    for j, b in enumerate(others)
                )
                touched = np.unique(np.ravel_multi_index(idx, shape)) if len(q) else []
                cover[k, a, side] = len(touched) / np.prod(shape)
    return np.median(cover, axis=0)


def _border_share(cover: np.ndarray, extent: np.ndarray) -> float:
    """Share of the field's lateral border (its y and x faces) that the collective touches: the
    faces' coverage from :func:`_face_coverage`, each weighted by the face's size (length in 2-D,
    area in 3-D)."""
    size = np.array([np.prod(np.delete(extent, a)) for a in range(len(extent))])[-2:]
    return float((cover[-2:] * size[:, None]).sum() / (2 * size.sum()))


def _scratch_gap(coord: np.ndarray, frames: np.ndarray, lo: float, hi: float, spacing: float) -> float | None:
    """Middle of a cell-free band between two occupied sides along one axis in the early frames, or None."""
    unique = np.unique(frames)
    early = frames <= unique[max(0, len(unique) // 4 - 1)]
    width = 2.0 * spacing
    n = max(3, int((hi - lo) // width))
    counts, edges = np.histogram(coord[early], bins=n, range=(lo, hi))
    occupied = counts[counts > 0]
    if len(occupied) == 0:
        return None
    low = counts < _GAP_DENSITY * np.median(occupied)
    labels, n_runs = ndi.label(low)
    best, best_len = None, 0
    for r in range(1, n_runs + 1):
        where = np.flatnonzero(labels == r)
        interior = where[0] > 0 and where[-1] < n - 1
        if interior and len(where) > best_len and len(where) * width >= 2 * spacing:
            best, best_len = where, len(where)
    if best is None:
        return None
    return float((edges[best[0]] + edges[best[-1] + 1]) / 2)


def _dense(positions: np.ndarray, frames: np.ndarray, spacing: float) -> np.ndarray:
    """Cells of the collective: at least ``DENSE_FRACTION`` of the frame's median neighbour count
    within two cell spacings. Strands, chains and single invaders are sparser and do not drag
    the front outward."""
    counts = np.zeros(len(positions))
    for f in np.unique(frames):
        idx = np.flatnonzero(frames == f)
        counts[idx] = cKDTree(positions[idx]).query_ball_point(positions[idx], 2 * spacing, return_length=True)
    median = pd.Series(counts).groupby(frames).transform("median").to_numpy()
    return counts >= DENSE_FRACTION * median


def _beyond_field(points: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """True where a point (last axis = coordinates) lies outside the field box."""
    return ((points < lo) | (points > hi)).any(axis=-1)


def _extent_along(points: np.ndarray, direction: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the line through each point along the unit ``direction`` enters and leaves the field box.

    Returns the lowest and highest ``s`` with ``point + s * direction`` inside the box (NaN for a
    line that misses it), per point.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (lo - points) / direction
        b = (hi - points) / direction
    inside = (points >= lo) & (points <= hi)  # an axis the line runs across: no limit when inside the slab
    parallel = direction == 0
    enter = np.where(parallel, np.where(inside, -np.inf, np.inf), np.minimum(a, b)).max(axis=-1)
    leave = np.where(parallel, np.where(inside, np.inf, -np.inf), np.maximum(a, b)).min(axis=-1)
    missed = enter > leave
    return np.where(missed, np.nan, enter), np.where(missed, np.nan, leave)


def _perpendicular_basis(direction: np.ndarray) -> np.ndarray:
    """(ndim - 1, ndim) orthonormal vectors perpendicular to the unit ``direction``."""
    if len(direction) == 2:
        return np.array([[direction[1], -direction[0]]])
    q, _ = np.linalg.qr(np.column_stack([direction, np.eye(len(direction))]))
    return q[:, 1:].T


def _edge_points(cells: np.ndarray, lo: np.ndarray, hi: np.ndarray, spacing: float) -> np.ndarray:
    """(M, 2) points along the edge of the 2-D collective inside the field, evenly spaced.

    The edge is traced (marching squares, :func:`skimage.measure.find_contours`) where the
    distance to the nearest cell reaches ``EDGE_LEVEL`` cell spacings: beyond the gaps inside a
    jiggled sheet, at a fixed offset outside its edge, so the traced line is parallel to the edge.
    The field border is not traced (contours end where they meet it).
    """
    step = spacing / 2
    axes = [np.arange(a + step / 2, b, step) for a, b in zip(lo, hi)]
    if min(len(a) for a in axes) < 2 or len(cells) == 0:
        return np.empty((0, 2))
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)
    dist = cKDTree(cells).query(grid)[0].reshape(len(axes[0]), len(axes[1]))
    contours = find_contours(dist, EDGE_LEVEL * spacing)
    if not contours:
        return np.empty((0, 2))
    return np.concatenate(contours) * step + lo + step / 2


def _edge_normal(edge: np.ndarray, cells: np.ndarray, spacing: float) -> np.ndarray | None:
    """Unit normal of a straight line fitted to the traced ``edge`` by RANSAC, pointing away from ``cells``.

    :func:`skimage.measure.ransac`: fingers, strands and holes in the sheet are outliers. None
    with too few points to fit.
    """
    if len(edge) < 4:
        return None
    model, _ = ransac(edge, LineModelND, min_samples=2, residual_threshold=2 * spacing, max_trials=200, rng=0)
    if model is None:
        return None
    tangent = model.direction / np.linalg.norm(model.direction)
    normal = np.array([-tangent[1], tangent[0]])
    return -normal if np.median(edge @ normal) < np.median(cells @ normal) else normal


def _rim(cells: np.ndarray, edge: np.ndarray, spacing: float) -> np.ndarray:
    """The cells next to the traced edge (the first row of the collective; the field border is not traced)."""
    return cells[cKDTree(edge).query(cells)[0] < (EDGE_LEVEL + 0.5) * spacing]


def _straighten(normal: np.ndarray, rims: list[tuple[np.ndarray, float]], spacing: float) -> np.ndarray:
    """Turn ``normal`` until the rims, seen along the line perpendicular to it, have no slope left.

    Each rim (with the sign of its outward direction along ``normal``: -1 for the facing sheet of
    a scratch) is a profile: its front-most cell in bins one cell spacing wide. The slope is the
    Theil-Sen estimate pooled over the rims (the median of the slopes between all pairs of bins
    of the same rim; the two edges of a scratch are parallel): fingers and strands are outlying
    bins, as wide as they are, and a ragged edge scatters evenly about its line.
    """
    for _ in range(5):
        tangent = np.array([normal[1], -normal[0]])
        slopes = []
        for rim, sign in rims:
            profile = pd.Series(sign * (rim @ normal)).groupby(np.floor(rim @ tangent / spacing)).max()
            x, y = (profile.index.to_numpy() + 0.5) * spacing, sign * profile.to_numpy()
            i, j = np.triu_indices(len(x), 1)
            slopes.append((y[j] - y[i]) / (x[j] - x[i]))
        slopes = np.concatenate(slopes)
        if len(slopes) < 3:
            break
        slope = float(np.median(slopes))
        normal = normal - slope * tangent
        normal /= np.linalg.norm(normal)
        if abs(slope) < 1e-3:
            break
    return normal


def _planar_direction(
    positions: np.ndarray, frames: np.ndarray, dense: np.ndarray, lo: np.ndarray, hi: np.ndarray, spacing: float
) -> tuple[np.ndarray, int, float | None, str] | None:
    """Outward direction of a 2-D sheet (or the axis of a scratch) from its edge in the first frames.

    A straight line is fitted robustly to the traced edge of the collective in the first frame
    (:func:`_edge_points`, :func:`_edge_normal`) and straightened on the cells of its rim in the
    first quarter of the movie (up to 5 frames; :func:`_straighten`); the
    outward normal is perpendicular to it, away from the cells. Two sheets (scratch): the cells
    of the collective (:func:`_dense`; strands and single cells crossing the gap are not) fall in
    two groups (connected within 2.5 cell spacings) with free space between them; their
    edges are parallel, so one axis is fitted to both (the first front is the sheet at low
    coordinates). Returns (unit direction, number of fronts, gap middle along it, reason) or None
    when no edge lies inside the field.
    """
    unique = np.unique(frames)
    first_frame = frames == unique[0]
    first, cells = positions[first_frame], positions[first_frame & dense]
    if len(first) < 10:
        return None
    edge = _edge_points(cells, lo, hi, spacing)
    if len(edge) == 0:
        return None
    # each frame's edge is a new sample of the same direction
    later = [
        (positions[(frames == f) & dense], _edge_points(positions[(frames == f) & dense], lo, hi, spacing))
        for f in unique[1 : min(5, max(1, len(unique) // 4))]
    ]
    later = [(c, e) for c, e in later if len(e)]
    # two groups of cells of the collective with free space between them? (strands and single
    # cells crossing the gap are not dense, so they do not join the two)
    pairs = cKDTree(cells).query_pairs(2.5 * spacing, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(cells), len(cells)))
    _, component = connected_components(graph, directed=False)
    sizes = np.bincount(component)
    order = np.argsort(sizes)[::-1]
    if len(sizes) >= 2 and sizes[order[1]] >= 0.2 * len(cells):
        groups = np.select([component == order[0], component == order[1]], [0, 1], -1)
        nearest = cKDTree(cells).query(edge)[1]  # the cell (and so the sheet) each edge point belongs to
        normals = [_edge_normal(edge[groups[nearest] == k], cells[groups == k], spacing) for k in (0, 1)]
        if normals[0] is not None and normals[1] is not None:
            axis = normals[0] - normals[1]
            axis /= np.linalg.norm(axis)
            if axis @ np.array([1.0, 1.0]) < 0:  # front 1 is the sheet at low coordinates
                axis, groups = -axis, np.where(groups >= 0, 1 - groups, -1)
            s = cells @ axis
            low, high = np.quantile(s[groups == 0], 0.98), np.quantile(s[groups == 1], 0.02)
            if high - low > 2 * spacing:
                rims = [(_rim(cells[groups == k], edge[groups[nearest] == k], spacing), sign) for k, sign in ((0, 1.0), (1, -1.0))]
                mid = (low + high) / 2
                for c, e in later:  # later frames: each side of the gap's middle is one sheet
                    rims += [(_rim(c[c @ axis <= mid], e[e @ axis <= mid], spacing), 1.0), (_rim(c[c @ axis > mid], e[e @ axis > mid], spacing), -1.0)]
                axis = _straighten(axis, rims, spacing)
                s = cells @ axis
                low, high = np.quantile(s[groups == 0], 0.98), np.quantile(s[groups == 1], 0.02)
                axis = np.where(np.abs(axis) < 1e-9, 0.0, axis)
                angle = np.rad2deg(np.arctan2(axis[0], axis[1])) % 360
                reason = f"two sheets facing each other across a gap; axis at {angle:.0f}° (0° = +x, 90° = +y)"
                return axis, 2, float((low + high) / 2), reason
    normal = _edge_normal(edge, first, spacing)
    if normal is None:
        return None
    normal = _straighten(normal, [(_rim(c, e, spacing), 1.0) for c, e in [(cells, edge), *later]], spacing)
    angle = np.rad2deg(np.arctan2(normal[0], normal[1])) % 360
    return normal, 1, None, f"one sheet; its edge is a line with free space beyond; outward at {angle:.0f}° (0° = +x, 90° = +y)"


def _smooth(profiles: np.ndarray, *, circular: bool, lateral_ndim: int) -> np.ndarray:
    """Fill empty bins and median-smooth each front profile over time and across bins."""
    out = np.empty_like(profiles)
    for i, prof in enumerate(profiles):
        prof = prof.copy()
        frame_median = _nanmedian_rows(prof)
        for t in range(prof.shape[0]):
            row = prof[t]
            bad = np.isnan(row)
            if bad.all():
                row[:] = np.nan
            elif bad.any():
                if lateral_ndim == 1:
                    x = np.arange(len(row))
                    period = len(row) if circular else None
                    row[bad] = np.interp(x[bad], x[~bad], row[~bad], period=period)
                else:
                    row[bad] = frame_median[t]
        # frames without any cell: carry the nearest frame's front
        empty = np.isnan(prof).all(axis=1)
        if empty.all():
            out[i] = prof
            continue
        if empty.any():
            good = np.flatnonzero(~empty)
            nearest = good[np.abs(np.flatnonzero(empty)[:, None] - good[None]).argmin(axis=1)]
            prof[empty] = prof[nearest]
        prof = ndi.median_filter(prof, size=(3, 1), mode="nearest")
        if lateral_ndim == 1:
            prof = ndi.median_filter(prof, size=(1, 3), mode="wrap" if circular else "nearest")
        out[i] = prof
    return out


def _fibonacci_directions(n: int) -> np.ndarray:
    """``n`` nearly uniform unit vectors on the sphere, (z, y, x) order."""
    k = np.arange(n) + 0.5
    z = 1 - 2 * k / n
    r = np.sqrt(1 - z**2)
    phi = np.pi * (1 + 5**0.5) * k
    return np.column_stack([z, r * np.sin(phi), r * np.cos(phi)])


def _core_centre(positions: np.ndarray, frames: np.ndarray, spacing: float) -> np.ndarray:
    """Centre of the dense core: centroid of the densest quarter of cells, per frame, then the median over frames."""
    centres = []
    for f in np.unique(frames):
        p = positions[frames == f]
        if len(p) < 4:
            continue
        counts = cKDTree(p).query_ball_point(p, 3 * spacing, return_length=True)
        dense = counts >= np.quantile(counts, 0.75)
        centres.append(p[dense].mean(axis=0))
    if not centres:
        return np.median(positions, axis=0)
    return np.median(np.array(centres), axis=0)


RIM_FRAMES = 12
"""The circle through a cut spheroid's edge is fitted in at most this many frames, evenly spread."""


def _rim_centre(cells: np.ndarray, frames: np.ndarray, lo: np.ndarray, hi: np.ndarray, spacing: float) -> np.ndarray | None:
    """Centre of a 2-D collective cut by the field border: the median over frames of the centre of a
    circle fitted to its traced edge (:func:`_edge_points`; the border is not traced) by RANSAC
    (residuals up to one cell spacing; at least 10 edge points agreeing), or None when no frame gives one.

    Examples
    --------
    >>> angle = np.linspace(0.5 * np.pi, 1.5 * np.pi, 40)  # the left half of a disk, cut at x = 60
    >>> ring = [np.column_stack([50 + r * np.sin(angle), 60 + r * np.cos(angle)]) for r in range(0, 40, 5)]
    >>> cells = np.concatenate(ring)
    >>> np.round(_rim_centre(cells, np.zeros(len(cells), int), np.zeros(2), np.array([100.0, 60.0]), 5.0)).tolist()
    [50.0, 60.0]
    """
    values = np.unique(frames)
    picked = values[np.linspace(0, len(values) - 1, min(RIM_FRAMES, len(values))).round().astype(int)]
    centres = []
    for f in picked:
        edge = _edge_points(cells[frames == f], lo, hi, spacing)
        if len(edge) < 10:
            continue
        model, inliers = ransac(edge, CircleModel, min_samples=3, residual_threshold=spacing, max_trials=200, rng=0)
        if model is not None and inliers is not None and inliers.sum() >= 10:
            centres.append(np.asarray(model.center, float))
    return np.median(np.array(centres), axis=0) if centres else None


def _nanmedian_rows(profile: np.ndarray) -> np.ndarray:
    """Median over bins per frame, NaN for frames without any valid bin (no warning)."""
    valid = np.isfinite(profile)
    out = np.full(profile.shape[0], np.nan)
    for t in np.flatnonzero(valid.any(axis=1)):
        out[t] = np.median(profile[t][valid[t]])
    return out


def _front_speed(position: np.ndarray, time: np.ndarray) -> np.ndarray:
    if len(time) < 2:
        return np.zeros_like(position)
    return np.gradient(position, time)


def _validate(tracks: pd.DataFrame) -> None:
    missing = [c for c in ("frame", "y_um", "x_um") if c not in tracks.columns]
    if missing:
        raise InputError(f"tracks table: missing column(s) {', '.join(missing)} (need frame, y_um, x_um)")
    if len(tracks) == 0:
        raise InputError("tracks table: no cells in any frame; there is no front to find")


def find_front(
    tracks: pd.DataFrame,
    *,
    geometry: str = "auto",
    field_um: tuple[float, ...] | None = None,
    centre_um: tuple[float, ...] | None = None,
) -> Front:
    """Find the invasion front in every frame.

    Parameters
    ----------
    tracks
        Detections or tracks with ``frame``, ``y_um``, ``x_um`` (optionally ``z_um`` for 3-D and
        ``time_min``; without it the frame number is used as time).
    geometry
        ``"planar"`` (sheet edge; two opposing fronts are detected automatically when the cells
        cover opposite sides of the field with a gap between them), ``"radial"`` (spheroid) or
        ``"auto"``.
    field_um
        Extent of the image in µm, (y, x) or (z, y, x), origin at 0. With it, the image border is
        never taken for a front. Without it the bounding box of the cells is used to choose the
        geometry, and no place is masked as border.
    centre_um
        A known spheroid centre in µm, (y, x) or (z, y, x); implies ``geometry="radial"``.
        None = the centre of the dense core.

    Returns
    -------
    Front
        Geometry, confidence, number of fronts, the per-frame table and methods to evaluate the
        signed distance and outward direction anywhere.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> rows = [(f, y, x) for f in range(3) for y, x in rng.uniform(0, 100, (150, 2)) * [4, 2 + f * 0.1]]
    >>> det = pd.DataFrame(rows, columns=["frame", "y_um", "x_um"])
    >>> front = find_front(det, field_um=(400.0, 400.0))
    >>> front.geometry, front.n_fronts
    ('planar', 1)
    """
    _validate(tracks)
    if geometry not in ("auto", "planar", "radial"):
        raise InputError(f"geometry must be auto, planar or radial, not {geometry!r}")
    cols = position_columns(tracks)
    ndim = len(cols)
    positions = tracks[cols].to_numpy(float)
    ok = np.isfinite(positions).all(axis=1)
    positions = positions[ok]
    frames = tracks["frame"].to_numpy()[ok].astype(int)
    time = tracks["time_min"].to_numpy(float)[ok] if "time_min" in tracks.columns else frames.astype(float)
    if len(positions) == 0:
        raise InputError("tracks table: no finite positions; there is no front to find")
    spacing = typical_spacing_um(positions, frames)

    if field_um is not None:
        if len(field_um) != ndim:
            raise InputError(f"field_um has {len(field_um)} values but the positions are {ndim}-D")
        lo, hi = np.zeros(ndim), np.asarray(field_um, float)
        if not (np.isfinite(hi).all() and (hi > 0).all()):
            raise InputError(f"field_um must be positive sizes in µm, got {tuple(field_um)}")
        reach = positions.max(axis=0)
        if (reach > hi + spacing).any():  # beyond the image by more than a cell: the field is wrong, or swapped
            raise InputError(
                f"field_um {tuple(float(v) for v in field_um)} is smaller than the positions it should hold (up to "
                f"{tuple(round(float(v), 1) for v in reach)} µm, {'/'.join(c.removesuffix('_um') for c in cols)}); give "
                "the image's size in µm, in that order"
            )
    else:
        lo, hi = positions.min(axis=0), positions.max(axis=0)
    hi = np.maximum(hi, lo + spacing)

    if centre_um is not None:
        if len(centre_um) != ndim:
            raise InputError(f"centre_um has {len(centre_um)} values but the positions are {ndim}-D")
        geometry = "radial"
    dense = _dense(positions, frames, spacing)
    cover = _face_coverage(positions[dense], frames[dense], lo, hi, spacing)
    # sheets enter through the lateral faces; in 3-D the z faces are the stack's bottom (the dish a
    # monolayer lies on) and top, and a spheroid fills the depth between them, so they do not count
    cover[:-2] = 0.0
    axis, side = np.unravel_index(np.argmax(cover), cover.shape)
    best = float(cover[axis, side])
    one_side = False
    if field_um is not None:
        score, bar, scale = _border_share(cover, hi - lo), PLANAR_BORDER_SHARE, PLANAR_BORDER_SHARE
        evidence = f"the collective touches {score:.0%} of the field's border (a sheet: {bar:.0%} or more)"
        # a sheet spans the field: it also touches the sides beside its back; a spheroid cut by the
        # border touches that one side only
        one_side = int((cover[-2:] > 0).sum()) == 1
        if one_side:
            face = ("low", "high")[side]
            evidence += (
                f"; only its {face} {'zyx'[-ndim:][axis]} side, as a spheroid cut by the border does "
                "(a sheet also touches the sides beside its back)"
            )
    else:  # any compact collective touches the box around the cells on every side, by a share of each
        score, bar, scale = best, PLANAR_COVERAGE, 0.3
        evidence = f"the most covered side of the box around the cells is {best:.0%} covered (a sheet: {bar:.0%} or more)"
    planar_evidence = score >= bar and not one_side
    auto = geometry == "auto"
    if auto:
        geometry = "planar" if planar_evidence else "radial"
        confidence = float(np.clip(abs(score - bar) / scale, 0, 1))
        if one_side:  # the less of its side the collective covers, the less it looks like a sheet's back
            confidence = max(confidence, float(np.clip((1 - best) / ONE_SIDE_SCALE, 0, 1)))
    else:
        confidence = 1.0

    names = "zyx"[-ndim:]
    frame_values = np.unique(frames)
    frame_time = pd.Series(time).groupby(frames).first().reindex(frame_values).to_numpy(float)
    rows = np.searchsorted(frame_values, frames)
    T = len(frame_values)

    if geometry == "planar":
        found = _planar_direction(positions, frames, dense, lo, hi, spacing) if ndim == 2 else None
        if found is not None:
            direction, n_fronts, gap, reason = found
        else:  # 3-D, or no free space to orient by: the axis away from the most covered side
            direction = np.zeros(ndim)
            direction[axis] = 1.0 if side == 0 else -1.0
            gap = None
            if cover[axis, 1 - side] >= PLANAR_COVERAGE:
                gap = _scratch_gap(positions[:, axis], frames, lo[axis], hi[axis], spacing)
            n_fronts = 2 if gap is not None else 1
            face = ("low", "high")[side]
            reason = f"cells cover {best:.0%} of the {face} {names[axis]} side of the field"
            if n_fronts == 2:
                direction = np.abs(direction)
                reason += f" and of the opposite side, with a gap at {names[axis]} = {gap:.0f} µm: two facing fronts"
        if not auto and not planar_evidence:
            reason = f"planar by request; {reason}"
        elif auto:
            reason = f"{reason}; {evidence}"
        basis = _perpendicular_basis(direction)
        corners = np.array(np.meshgrid(*[[lo[j], hi[j]] for j in range(ndim)], indexing="ij")).reshape(ndim, -1).T
        lat_corners = corners @ basis.T
        lat_lo, lat_hi = lat_corners.min(axis=0), lat_corners.max(axis=0)
        width = 4.0 * spacing
        shape = tuple(int(max(1, np.ceil((h - l) / width))) for l, h in zip(lat_lo, lat_hi))
        lat_width = np.maximum((lat_hi - lat_lo) / np.array(shape), 1e-9)
        front = Front(
            geometry="planar", confidence=confidence, n_fronts=n_fronts, table=pd.DataFrame(), reason=reason,
            spacing_um=spacing, frames=frame_values, ndim=ndim, direction=direction, basis=basis, lateral_lo=lat_lo,
            lateral_width=lat_width, lateral_shape=shape,
        )
        n_bins = int(np.prod(shape))
        lateral = positions @ basis.T
        idx = tuple(np.clip(((lateral[:, j] - lat_lo[j]) / lat_width[j]).astype(int), 0, s_ - 1) for j, s_ in enumerate(shape))
        bins = np.ravel_multi_index(idx, shape)
        along = positions @ direction
        front.signs = (1.0, -1.0) if n_fronts == 2 else (1.0,)
        if n_fronts == 2:
            front.midline = np.full((T, n_bins), gap)
        for _ in range(n_fronts):  # scratch: assign to a side of the gap, find fronts, re-assign once
            ids = front.assign(positions, frames)
            profiles = np.full((n_fronts, T, n_bins), np.nan)
            for k in range(n_fronts):
                sel = (ids == k + 1) & dense
                df = pd.DataFrame({"row": rows[sel], "bin": bins[sel], "s": front.signs[k] * along[sel]})
                grouped = df.groupby(["row", "bin"])["s"]
                q = grouped.quantile(FRONT_QUANTILE)[grouped.size() >= 3]
                profiles[k, q.index.get_level_values(0), q.index.get_level_values(1)] = q.to_numpy()
            front.profiles = _smooth(profiles, circular=False, lateral_ndim=len(shape))
            if n_fronts == 2:
                mid = (front.profiles[0] - front.profiles[1]) / 2
                front.midline = np.where(np.isfinite(mid), mid, gap)
        if field_um is not None:
            # a front lying on the image border ahead is the border (the sheet fills the field there): no front
            # there. A front behind the field's back edge stays: there the sheet has not entered the field
            # (a corner beside an oblique sheet), and every cell in view is ahead of it.
            centres = lat_lo + (np.array(np.unravel_index(np.arange(n_bins), shape)).T + 0.5) * lat_width
            back, ahead = _extent_along(centres @ basis, direction, lo, hi)
            for k, sign in enumerate(front.signs):
                front_along = sign * front.profiles[k]  # along ``direction``; this front faces ``sign * direction``
                margin = BORDER_SPACINGS * spacing
                on_border = front_along + margin > ahead if sign > 0 else front_along - margin < back
                front.profiles[k][on_border] = np.nan
        tables = []
        for k in range(n_fronts):
            position = _nanmedian_rows(front.profiles[k])
            tab = pd.DataFrame({
                "frame": frame_values, "time_min": frame_time, "front_id": k + 1, "geometry": "planar",
                "front_position_um": position, "front_speed_um_per_min": _front_speed(position, frame_time),
            })
            for j, name in enumerate(names):
                tab[f"normal_{name}"] = front.normal(k + 1)[j]
            tables.append(tab)
        front.table = pd.concat(tables, ignore_index=True)
        return front

    # radial
    centre = _core_centre(positions, frames, spacing) if centre_um is None else np.asarray(centre_um, float)
    if centre_um is None and ndim == 2 and field_um is not None and best > 0:  # cut by the border
        rim = _rim_centre(positions[dense], frames[dense], lo, hi, spacing)
        centre = centre if rim is None else rim
    rel = positions - centre
    radius = np.linalg.norm(rel, axis=1)
    typical_r = max(float(np.median(radius)), spacing)
    if ndim == 2:
        n_sectors = int(np.clip(2 * np.pi * typical_r / (4 * spacing), 8, 36))
        angle = np.mod(np.arctan2(rel[:, 0], rel[:, 1]), 2 * np.pi)
        sector = np.minimum((angle / (2 * np.pi) * n_sectors).astype(int), n_sectors - 1)
        directions = None
    else:
        n_sectors = int(np.clip(4 * np.pi * typical_r**2 / (4 * spacing) ** 2, 12, 64))
        directions = _fibonacci_directions(n_sectors)
        sector = np.argmax(rel @ directions.T, axis=1)
    df = pd.DataFrame({"row": rows[dense], "bin": sector[dense], "r": radius[dense]})
    grouped = df.groupby(["row", "bin"])["r"]
    q = grouped.quantile(FRONT_QUANTILE)[grouped.size() >= 3]
    profiles = np.full((1, T, n_sectors), np.nan)
    profiles[0, q.index.get_level_values(0), q.index.get_level_values(1)] = q.to_numpy()
    profiles = _smooth(profiles, circular=True, lateral_ndim=1 if ndim == 2 else 2)
    if field_um is not None:
        if ndim == 2:
            ang = (np.arange(n_sectors) + 0.5) / n_sectors * 2 * np.pi
            dirs = np.column_stack([np.sin(ang), np.cos(ang)])
        else:
            dirs = directions
        tips = centre[None, None] + (profiles[0][..., None] + BORDER_SPACINGS * spacing) * dirs[None]
        profiles[0][_beyond_field(tips, lo, hi)] = np.nan
    reason = f"radial: {evidence}; centre from the dense core"
    if not auto:
        reason = "radial by request; centre from the dense core" if centre_um is None else "radial: centre given"
    position = _nanmedian_rows(profiles[0])
    tab = pd.DataFrame({
        "frame": frame_values, "time_min": frame_time, "front_id": 1, "geometry": "radial",
        "front_position_um": position, "front_speed_um_per_min": _front_speed(position, frame_time),
    })
    for j, name in enumerate(names):
        tab[f"centre_{name}_um"] = centre[j]
    return Front(
        geometry="radial", confidence=confidence, n_fronts=1, table=tab, reason=reason, spacing_um=spacing,
        frames=frame_values, ndim=ndim, lateral_shape=(n_sectors,) if ndim == 2 else (n_sectors, 1),
        profiles=profiles, centre=np.tile(centre, (T, 1)), directions=directions,
        field_box=None if field_um is None or ndim != 2 else (lo, hi, BORDER_SPACINGS * spacing),
    )
