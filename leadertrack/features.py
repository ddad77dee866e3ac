"""Per cell-frame and per track features, measured relative to the invasion front.

Per cell-frame (added to the tracks table):

``vy_um_per_min, vx_um_per_min`` (``vz_um_per_min``), ``speed_um_per_min``
    Velocity by central differences along the track (one-sided at its ends).
``front_id``, ``front_distance_um``
    The front the track belongs to and the signed distance to it (>= 0 behind, < 0 ahead).
``front_rank``
    1 = the most advanced cell of its front in that frame (by signed distance to the local front).
``outward_speed_um_per_min``
    Velocity component along the outward direction.
``n_ahead``, ``n_behind``
    Cells within ``CONE_RADIUS_SPACINGS`` cell spacings inside a cone (half-angle
    ``CONE_HALF_ANGLE_DEG``) ahead of / behind the cell: the neighbours a strand is made of.
``is_tip``
    Nobody ahead in the cone, somebody behind: the tip of a finger or strand (or of the sheet edge).
``local_density_per_100um2`` (2-D) / ``local_density_per_1000um3`` (3-D)
    Neighbours within two cell spacings per unit area (volume).
``window_speed_um_per_min``, ``window_outward_speed_um_per_min``, ``window_persistence``
    Net speed, outward speed and straightness (net / path) over a window of about
    ``WINDOW_MIN`` minutes (at least ``MIN_WINDOW_FRAMES`` frames) centred on the frame.
``relative_outward_speed_um_per_min``, ``relative_persistence``, ``relative_outward_persistence``
    The same for the motion relative to the collective advance (the median outward window speed
    of the cells within three spacings behind the front is taken out of every step); the last is
    the outward net displacement / path, in [-1, 1]. A sheet drifting as a whole is neither fast
    nor persistent relative to itself; a cell outrunning it is. Path lengths (and so all
    persistences) are corrected for the localisation noise estimated from the tracks
    (:func:`localisation_noise_um`), so jittery positions do not make a slow, straight cell look
    like a wanderer.
``ahead_in_view``
    Whether the trailing cone's reach, ahead along the cell's motion, lies inside the image
    (``field_um``); where it does not, nobody can be seen ahead of the cell: a follower whose
    leader has left the field would look like a leader.
``n_ahead_same_way``
    Cells within ``CONE_RADIUS_SPACINGS`` spacings in the cone (half-angle
    ``TRAIL_HALF_ANGLE_DEG``, 60°) ahead along the cell's own relative motion that move the same
    way (cosine > 0.5) at at least half its speed: the cell is trailing somebody. The cone is
    wider than the outward one because in a strand more than one cell wide the cell in front of a
    follower sits diagonally ahead of it, not straight ahead.

Per track (the cells table): see :func:`measure`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from leadertrack.errors import InputError
from leadertrack.front import Front, find_front, position_columns

__all__ = [
    "CONE_RADIUS_SPACINGS", "MIN_WINDOW_FRAMES", "TRAIL_HALF_ANGLE_DEG", "UNCALIBRATED_WINDOW_FRAMES", "WINDOW_MIN",
    "check_motion_window", "localisation_noise_um", "measure", "track_bounds", "window_half_frames",
]

WINDOW_MIN = 30.0
"""Length of the sliding window for per-frame outward speed and persistence, in minutes."""
MIN_WINDOW_FRAMES = 5
"""The sliding window spans at least this many frames."""
CONE_RADIUS_SPACINGS = 2.5
"""Reach of the ahead/behind cone, in typical cell spacings."""
CONE_HALF_ANGLE_DEG = 40.0
"""Half-angle of the ahead/behind cone around the outward direction."""
_CONE_COS = np.cos(np.deg2rad(CONE_HALF_ANGLE_DEG))
TRAIL_HALF_ANGLE_DEG = 60.0
"""Half-angle of the cone around a cell's own motion in which a cell moving the same way makes it a trailer."""
_TRAIL_COS = np.cos(np.deg2rad(TRAIL_HALF_ANGLE_DEG))
AT_FRONT_SPACINGS = 1.0
"""A cell is at the front when it is less than this many cell spacings behind it."""


def check_motion_window(motion_window_frames: int | None) -> None:
    """Raise InputError unless ``motion_window_frames`` is None or a whole number of at least 3 frames."""
    if motion_window_frames is None:
        return
    if isinstance(motion_window_frames, bool) or not isinstance(motion_window_frames, (int, np.integer)) or motion_window_frames < 3:
        raise InputError(f"motion_window_frames must be a whole number of at least 3 frames, not {motion_window_frames!r}")


UNCALIBRATED_WINDOW_FRAMES = 7
"""The motion window (frames) of a movie whose frame interval is unknown: the window of a 5 min interval, the
middle of the 2-15 min intervals of the simulated assays. Its times are frame numbers, and a window of
``WINDOW_MIN`` of them (30 frames) would judge only tracks longer than most movies allow."""


def window_half_frames(frame_interval_min: float) -> int:
    """Half-width (frames) of the sliding window: about ``WINDOW_MIN`` minutes, at least ``MIN_WINDOW_FRAMES`` frames.

    Examples
    --------
    >>> window_half_frames(5.0), window_half_frames(1.0), window_half_frames(60.0)
    (3, 15, 2)
    """
    if not np.isfinite(frame_interval_min) or frame_interval_min <= 0:
        return MIN_WINDOW_FRAMES // 2
    return max(MIN_WINDOW_FRAMES // 2, round(WINDOW_MIN / 2 / frame_interval_min))


def _validate(tracks: pd.DataFrame) -> None:
    """Refuse a tracks table :func:`measure` would misread: columns missing, ids or frames that are not whole
    numbers, positions or times that are not finite, times that do not rise with the frames, duplicate rows."""
    missing = [c for c in ("track_id", "frame", "y_um", "x_um") if c not in tracks.columns]
    if missing:
        raise InputError(f"tracks table: missing column(s) {', '.join(missing)} (need track_id, frame, y_um, x_um)")
    for column in ("track_id", "frame"):
        values = pd.to_numeric(tracks[column], errors="coerce").to_numpy(float)
        bad = ~(np.isfinite(values) & (values == np.round(values)))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(f"tracks table: column '{column}' must hold whole numbers; row {row} has {tracks[column].iloc[row]!r}")
    for column in [c for c in ("z_um", "y_um", "x_um", "time_min") if c in tracks.columns]:
        values = pd.to_numeric(tracks[column], errors="coerce").to_numpy(float)
        if not np.isfinite(values).all():
            row = int(np.flatnonzero(~np.isfinite(values))[0])
            raise InputError(f"tracks table: column '{column}' must hold finite numbers; row {row} has {tracks[column].iloc[row]!r}")
    if tracks.duplicated(["track_id", "frame"]).any():
        raise InputError("tracks table: a track has two rows in the same frame (track_id, frame must be unique)")
    if "time_min" in tracks.columns:
        ordered = tracks[["track_id", "frame", "time_min"]].astype(float).sort_values(["track_id", "frame"])
        same_track = np.diff(ordered["track_id"].to_numpy()) == 0
        if (np.diff(ordered["time_min"].to_numpy())[same_track] <= 0).any():
            raise InputError("tracks table: time_min must rise with the frame along every track")


def _velocity(pos: np.ndarray, time: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Central-difference velocity within each track (rows sorted by track, then time)."""
    i = np.arange(len(pos))
    lo, hi = np.maximum(i - 1, start), np.minimum(i + 1, end)
    dt = time[hi] - time[lo]
    v = (pos[hi] - pos[lo]) / np.where(dt > 0, dt, np.nan)[:, None]
    return np.nan_to_num(v)


def _window(pos, time, start, end, *, half: int, noise_um: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Net displacement, path length and time span over ``2 * half + 1`` frames centred on each row.

    The path is measured in steps of ``max(1, half // 2)`` frames, so that localisation noise at
    high frame rates does not inflate it (and deflate persistence); what localisation noise of
    ``noise_um`` per axis still adds to each step (``2 d noise_um**2`` to its squared length in
    ``d`` dimensions) is taken out in quadrature, and the noise floor (the noise of one
    displacement, ``sqrt(2 d) noise_um``) is added to the path once: a cell moving less than the
    noise has no measurable direction, so its persistence stays low.
    """
    i = np.arange(len(pos))
    lo, hi = np.maximum(i - half, start), np.minimum(i + half, end)
    stride = max(1, half // 2)
    excess = 2 * pos.shape[1] * noise_um**2
    path = np.zeros(len(pos))
    a = lo
    while True:
        b = np.minimum(a + stride, hi)
        if not (b > a).any():
            break
        squared = np.sum((pos[b] - pos[a]) ** 2, axis=1)
        path += np.where(b > a, np.sqrt(np.maximum(squared - excess, 0.0)), 0.0)
        a = b
    return pos[hi] - pos[lo], path + np.sqrt(excess), time[hi] - time[lo]


def localisation_noise_um(pos: np.ndarray, start: np.ndarray, end: np.ndarray) -> float:
    """Localisation noise per axis (µm), estimated from the tracks themselves.

    Noise of ``s`` per axis makes consecutive steps of a track anti-correlated: their mean dot
    product is ``-d s**2`` in ``d`` dimensions, while steps of a cell moving diffusively (most of a
    sheet) are uncorrelated and those of a persistent cell positively correlated (so persistence
    only lowers the estimate). Each track's steady drift (its mean step) is taken out first, and
    the bias that removing it adds (``-1 / (n - 1)`` of the step variance for ``n`` steps) is
    corrected. The median over tracks of at least 3 frames.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pos = np.cumsum(rng.normal(0, 1.0, (4000, 2)), axis=0) + rng.normal(0, 0.5, (4000, 2))
    >>> starts = np.repeat(np.arange(0, 4000, 40), 40)
    >>> round(localisation_noise_um(pos, starts, starts + 39), 1)
    0.5
    """
    i = np.arange(len(pos))
    has_next = i + 1 <= end
    steps = np.where(has_next[:, None], pos[np.minimum(i + 1, len(pos) - 1)] - pos, np.nan)
    n_steps = end - start
    mean_step = (pos[end] - pos[start]) / np.maximum(n_steps, 1)[:, None]
    steps = steps - mean_step  # a steady drift is not noise
    has_pair = i + 2 <= end
    pair = np.where(has_pair, np.sum(steps * steps[np.minimum(i + 1, len(pos) - 1)], axis=1), np.nan)
    table = pd.DataFrame({"c0": np.sum(steps**2, axis=1), "c1": pair, "n": n_steps, "track": start})
    per_track = table[table["n"] >= 2].groupby("track").mean()
    if per_track.empty:
        return 0.0
    variance = -per_track["c1"] - per_track["c0"] / (per_track["n"] - 1)
    return float(np.sqrt(max(float(np.median(variance)), 0.0) / pos.shape[1]))


def _drift_removed(pos, time, start, outward, collective: float) -> np.ndarray:
    """Positions with the collective outward advance (µm/min along ``outward``) taken out of every step."""
    dt = np.r_[0.0, np.diff(time)]
    steps = np.r_[np.zeros((1, pos.shape[1])), np.diff(pos, axis=0)] - collective * dt[:, None] * outward
    steps[start == np.arange(len(pos))] = 0.0
    return np.cumsum(steps, axis=0)


def _cone_counts(
    pos: np.ndarray, outward: np.ndarray, motion: np.ndarray, frames: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cell: neighbours in the cone ahead, in the cone behind, and ahead moving the same way.

    "Ahead moving the same way": the neighbour lies in the trailing cone (``TRAIL_HALF_ANGLE_DEG``) around the cell's own ``motion``
    (drift-removed window displacement), and its motion has a cosine > 0.5 with the cell's and at
    least half its length.
    """
    ahead = np.zeros(len(pos), int)
    behind = np.zeros(len(pos), int)
    same = np.zeros(len(pos), int)
    order = np.argsort(frames, kind="stable")
    bounds = np.flatnonzero(np.diff(frames[order])) + 1
    for idx in np.split(order, bounds):
        if len(idx) < 2:
            continue
        p, m = pos[idx], motion[idx]
        pairs = cKDTree(p).query_pairs(radius, output_type="ndarray")
        if len(pairs) == 0:
            continue
        a, b = np.concatenate([pairs[:, 0], pairs[:, 1]]), np.concatenate([pairs[:, 1], pairs[:, 0]])
        d = p[b] - p[a]
        distance = np.sqrt(np.einsum("ij,ij->i", d, d))
        cos = np.einsum("ij,ij->i", d, outward[idx][a]) / np.maximum(distance, 1e-12)
        speed = np.linalg.norm(m, axis=1)
        na, nb = speed[a], speed[b]
        alike = (np.einsum("ij,ij->i", m[a], m[b]) > 0.5 * na * nb) & (nb >= 0.5 * na) & (na > 0)
        # trailing: the neighbour is ahead along the cell's own direction of motion
        along = np.einsum("ij,ij->i", d, m[a]) / np.maximum(distance * na, 1e-12)
        ahead[idx] = np.bincount(a[cos > _CONE_COS], minlength=len(idx))
        behind[idx] = np.bincount(a[cos < -_CONE_COS], minlength=len(idx))
        same[idx] = np.bincount(a[(along > _TRAIL_COS) & alike], minlength=len(idx))
    return ahead, behind, same


def _ahead_in_view(pos: np.ndarray, motion: np.ndarray, reach: float, field_um: tuple[float, ...] | None) -> np.ndarray:
    """Per cell: whether the point ``reach`` ahead along its motion lies inside the image (True without a field)."""
    if field_um is None or len(field_um) != pos.shape[1]:
        return np.ones(len(pos), bool)
    length = np.linalg.norm(motion, axis=1, keepdims=True)
    tip = pos + reach * motion / np.where(length > 0, length, np.inf)
    return np.all((tip >= 0) & (tip <= np.asarray(field_um, float)), axis=1)


def _density(pos: np.ndarray, frames: np.ndarray, radius: float) -> np.ndarray:
    """Neighbours (excluding the cell) within ``radius`` in the same frame."""
    counts = np.zeros(len(pos))
    for f in np.unique(frames):
        idx = np.flatnonzero(frames == f)
        counts[idx] = cKDTree(pos[idx]).query_ball_point(pos[idx], radius, return_length=True) - 1
    return counts


def track_bounds(tid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of a table sorted by track: the index of its track's first row and one past its last."""
    rows = np.arange(len(tid))
    first = np.r_[True, tid[1:] != tid[:-1]]
    last = np.r_[tid[1:] != tid[:-1], True]
    start = np.maximum.accumulate(np.where(first, rows, 0))
    end = np.minimum.accumulate(np.where(last, rows, len(tid))[::-1])[::-1] + 1
    return start, end


_LAG_LOOP_MAX = 32
"""Tracks whose lags all stay within this are measured together, one vectorised pass per lag;
longer tracks one by one, with FFT correlations (the work of a direct sum grows as length squared)."""


def _lag_means(
    values: np.ndarray,
    owner: np.ndarray,
    limit: np.ndarray,
    max_lag: np.ndarray,
    combine: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> np.ndarray:
    """(tracks, largest ``max_lag``) table: for each track k and lag L in 1..``max_lag[k]`` (column
    L - 1), the mean of ``combine(values[i], values[i + L])`` over the rows ``i`` of track k
    (``owner[i] == k``; a track's rows are contiguous and in order) with ``i + L <= limit[k]``;
    NaN beyond ``max_lag[k]``. One vectorised pass per lag, over the rows of the tracks reaching it."""
    n_tracks = len(limit)
    table = np.full((n_tracks, int(max_lag.max(initial=0))), np.nan)
    for lag in range(1, table.shape[1] + 1):
        i = np.flatnonzero(max_lag[owner] >= lag)
        i = i[i + lag <= limit[owner[i]]]
        sums = np.bincount(owner[i], weights=combine(values[i], values[i + lag]), minlength=n_tracks)
        counts = np.bincount(owner[i], minlength=n_tracks)
        use = lag <= max_lag
        table[use, lag - 1] = sums[use] / counts[use]
    return table


def _autocorrelation_sums(x: np.ndarray) -> np.ndarray:
    """``sum_i x[i] . x[i + L]`` for every lag L in 0..len(x) - 1, by FFT (rows of ``x`` are vectors)."""
    n = len(x)
    spectrum = np.fft.rfft(x, n=2 * n, axis=0)
    return np.fft.irfft((spectrum * spectrum.conj()).real.sum(axis=1), n=2 * n)[:n]


def _one_track_lag_means(pos: np.ndarray, acf_lags: int, msd_lags: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean step products (lags 1..``acf_lags``) and mean squared displacements (lags
    1..``msd_lags``) of one track, from FFT correlations: what :func:`_lag_means` gives."""
    n = len(pos)
    steps = np.diff(pos, axis=0)
    step_products = _autocorrelation_sums(steps)[1 : acf_lags + 1] / (n - 1 - np.arange(1, acf_lags + 1))
    centred = pos - pos[0]  # small numbers, and exactly 0 for a cell that never moves
    square = np.r_[0.0, np.cumsum((centred**2).sum(axis=1))]
    lags = np.arange(1, msd_lags + 1)
    # sum over pairs (i, i + L) of |x_i|^2 + |x_(i+L)|^2 - 2 x_i . x_(i+L)
    pair_squares = square[n - lags] + square[n] - square[lags]
    msd = (pair_squares - 2.0 * _autocorrelation_sums(centred)[lags]) / (n - lags)
    return step_products, np.maximum(msd, 0.0)


def _dynamics_from_lag_means(
    step_products: np.ndarray, norm: np.ndarray, msd: np.ndarray, n: np.ndarray, dt: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Persistence time and MSD exponent (see :func:`_track_dynamics`) of tracks (rows) from their
    mean step products and mean squared displacements by lag (columns from lag 1, NaN beyond
    each track's lags), mean squared step ``norm``, length ``n`` and time step ``dt``."""
    enough = n >= 4
    longest = np.maximum(1, (n - 1) // 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        acf = np.column_stack([np.ones(len(n)), step_products / norm[:, None]])
        below = acf < np.exp(-1)  # NaN compares False
        k = np.argmax(below, axis=1)  # the first lag below (lag 0 never is)
        rows = np.arange(len(n))
        before, after = acf[rows, np.maximum(k - 1, 0)], acf[rows, k]
        crossing = (k - 1 + (before - np.exp(-1)) / (before - after)) * dt
    persistence_time = np.where(below.any(axis=1), crossing, longest * dt)
    persistence_time = np.where(enough & (norm > 0), persistence_time, np.nan)

    good = msd > 0  # NaN compares False
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.where(good, np.log(np.arange(1, msd.shape[1] + 1)[None, :] * dt[:, None]), 0.0)
        y = np.where(good, np.log(msd), 0.0)
        count = good.sum(axis=1)
        sx, sy = x.sum(axis=1), y.sum(axis=1)
        exponent = (count * (x * y).sum(axis=1) - sx * sy) / (count * (x * x).sum(axis=1) - sx * sx)
    return persistence_time, np.where(enough & (count >= 3), exponent, np.nan)


def _track_dynamics(pos: np.ndarray, first: np.ndarray, last: np.ndarray, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Persistence time and MSD exponent of every track.

    Parameters
    ----------
    pos
        Positions (µm), sorted by track, then time.
    first, last
        Each track's first and last row.
    dt
        Each track's median time step (min).

    Returns
    -------
    persistence_time, msd_exponent
        Per track: the lag time (min) at which the velocity autocorrelation falls below 1/e,
        interpolated between lags (the longest lag measured, half the steps, when it never does);
        and the least-squares slope of log MSD against log lag time, over lags up to a third of
        the frames (1 diffusive, 2 ballistic). NaN for tracks under 4 frames.
    """
    n = last - first + 1
    owner = np.repeat(np.arange(len(first)), n)
    acf_lags = np.where(n >= 4, np.maximum(1, (n - 1) // 2), 0)
    msd_lags = np.where(n >= 4, np.maximum(2, n // 3), 0)
    # row r holds the step pos[r + 1] - pos[r]; a track's own steps are its rows first..last - 1
    steps = np.zeros_like(pos)
    steps[:-1] = np.diff(pos, axis=0)
    own_step = np.arange(len(pos)) < last[owner]
    norm = np.bincount(owner, weights=np.where(own_step, _dot(steps, steps), 0.0), minlength=len(first)) / np.maximum(n - 1, 1)
    # short tracks together, lag by lag; each long one by itself
    short = np.maximum(acf_lags, msd_lags) <= _LAG_LOOP_MAX
    persistence_time, msd_exponent = _dynamics_from_lag_means(
        _lag_means(steps, owner, last - 1, np.where(short, acf_lags, 0), _dot),
        norm,
        _lag_means(pos, owner, last, np.where(short, msd_lags, 0), _squared_distance),
        n,
        dt,
    )
    for k in np.flatnonzero(~short):
        step_products, msd = _one_track_lag_means(pos[first[k] : last[k] + 1], acf_lags[k], msd_lags[k])
        one = slice(k, k + 1)
        (persistence_time[k],), (msd_exponent[k],) = _dynamics_from_lag_means(
            step_products[None], norm[one], msd[None], n[one], dt[one]
        )
    return persistence_time, msd_exponent


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot product."""
    return np.einsum("ij,ij->i", a, b)


def _squared_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise squared distance."""
    return ((b - a) ** 2).sum(axis=1)


def measure(
    tracks: pd.DataFrame,
    *,
    geometry: str = "auto",
    front: Front | None = None,
    field_um: tuple[float, ...] | None = None,
    motion_window_frames: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Measure every cell relative to the invasion front, per frame and per track.

    Parameters
    ----------
    tracks
        One row per cell per frame: ``track_id, frame, y_um, x_um`` (optionally ``z_um``,
        ``time_min`` (default: the frame number) and ``parent_track_id``, 0 = no parent). A
        ``z_um`` that is the same for every cell is dropped, with a warning: the data are 2-D.
    geometry
        ``"auto"``, ``"planar"`` or ``"radial"``; used when ``front`` is not given.
    front
        A front from :func:`leadertrack.front.find_front`; found from ``tracks`` when None.
    field_um
        Image extent in µm, (y, x) or (z, y, x), so the image border is never taken for a front.
    motion_window_frames
        Frames in the sliding motion window (odd); None: about ``WINDOW_MIN`` minutes of ``time_min``
        (:func:`window_half_frames`). Give it when the times are frame numbers, not minutes
        (:data:`UNCALIBRATED_WINDOW_FRAMES`).

    Returns
    -------
    tracks
        A copy, sorted by track and frame, with the per cell-frame features (module docstring).
    cells
        One row per track: ``track_id, first_frame, last_frame, n_frames, duration_min,
        mean_speed_um_per_min, speed_ratio`` (mean speed / the movie's median of it),
        ``persistence`` (net / path length, 0 for a track that never moves),
        ``persistence_time_min`` (velocity autocorrelation falls below 1/e; NaN under 4 frames),
        ``directionality`` (mean cosine between each step and the outward direction),
        ``msd_exponent`` (slope of log MSD vs log lag; 1 diffusive, 2 ballistic),
        ``front_distance_um`` (median), ``time_at_front_min``, ``front_id``, ``parent_track_id``.
    fronts
        The front table (one row per frame and front), see :class:`leadertrack.front.Front`, with
        the front's ``geometry_confidence`` (1 when the geometry was given) and ``geometry_reason``
        on every row.

    Raises
    ------
    InputError
        A column is missing; ids or frames are not whole numbers; positions or times are not finite;
        times do not rise with the frames; a track has two rows in one frame; ``field_um`` is not
        positive or smaller than the positions.

    Examples
    --------
    >>> rows = [(1, f, float(f), 50.0, 100.0 + 5 * f) for f in range(6)]
    >>> rows += [(2 + k, f, float(f), 10.0 * k, 20.0 + 8 * (k % 3)) for k in range(10) for f in range(6)]
    >>> t = pd.DataFrame(rows, columns=["track_id", "frame", "time_min", "y_um", "x_um"])
    >>> tracks, cells, fronts = measure(t, geometry="planar")
    >>> cells.set_index("track_id").loc[1, ["mean_speed_um_per_min", "persistence"]].round(2).tolist()
    [5.0, 1.0]
    """
    tracks = tracks.reset_index(drop=True)  # an index named track_id (set_index(..., drop=False)) would be ambiguous
    _validate(tracks)
    check_motion_window(motion_window_frames)
    if "z_um" in tracks.columns and np.ptp(tracks["z_um"].to_numpy(float)) == 0 and (front is None or front.ndim == 2):
        # 2-D data with a flat z (as TrackMate and GEFF write it): in 3-D the front's normal could tilt into z
        warnings.warn("z_um is the same for every cell: measured in 2-D, without it", UserWarning, stacklevel=2)
        tracks = tracks.drop(columns="z_um")
        field_um = None if field_um is None else tuple(field_um)[-2:]
    if front is None:
        front = find_front(tracks, geometry=geometry, field_um=field_um)
    out = tracks.sort_values(["track_id", "frame"], kind="stable").reset_index(drop=True)
    if "time_min" not in out.columns:
        out["time_min"] = out["frame"].astype(float)
    cols = position_columns(out)
    names = [c[0] for c in cols]
    pos = out[cols].to_numpy(float)
    time = out["time_min"].to_numpy(float)
    frames = out["frame"].to_numpy().astype(int)
    tid = out["track_id"].to_numpy()
    start, end = track_bounds(tid)
    end = end - 1  # the track's last row

    # each track belongs to one front: the one most of its positions are assigned to
    per_row = front.assign(pos, frames)
    votes = pd.DataFrame({"track_id": tid, "front": per_row}).value_counts().reset_index(name="n")
    majority = votes.sort_values(["track_id", "n", "front"], ascending=[True, False, True]).drop_duplicates("track_id")
    majority = majority.set_index("track_id")["front"]  # ties: the lower front id, as Series.mode
    front_id = majority.reindex(tid).to_numpy().astype(int)
    del per_row, majority
    outward = front.outward(pos, frames, front_id)
    spacing = front.spacing_um

    v = _velocity(pos, time, start, end)
    for j, n in enumerate(names):
        out[f"v{n}_um_per_min"] = v[:, j]
    out["speed_um_per_min"] = np.linalg.norm(v, axis=1)
    out["front_id"] = front_id
    out["front_distance_um"] = front.distance(pos, frames, front_id)
    out["front_rank"] = out.groupby(["frame", "front_id"])["front_distance_um"].rank(method="min")
    out["outward_speed_um_per_min"] = np.einsum("ij,ij->i", v, outward)
    del v, front_id  # the per-row intermediates are as large as the table: each is freed once used
    radius = 2.0 * spacing
    neighbours = _density(pos, frames, radius)
    if len(cols) == 2:
        out["local_density_per_100um2"] = neighbours / (np.pi * radius**2) * 100.0
    else:
        out["local_density_per_1000um3"] = neighbours / (4 / 3 * np.pi * radius**3) * 1000.0
    del neighbours

    steps = np.diff(time)[np.diff(tid) == 0]
    if motion_window_frames is None:
        half = window_half_frames(float(np.median(steps)) if len(steps) else 1.0)
    else:
        half = motion_window_frames // 2
    noise = localisation_noise_um(pos, start, end)
    net, path, span = _window(pos, time, start, end, half=half, noise_um=noise)
    per_min = np.where(span > 0, 1.0 / np.where(span > 0, span, 1.0), 0.0)
    out["window_outward_speed_um_per_min"] = np.einsum("ij,ij->i", net, outward) * per_min
    out["window_speed_um_per_min"] = np.linalg.norm(net, axis=1) * per_min
    out["window_persistence"] = np.clip(np.linalg.norm(net, axis=1) / np.where(path > 0, path, np.inf), 0, 1)
    del net, path, span
    # the collective advance: cells along the edge of the collective, just behind the front
    dist = out["front_distance_um"].to_numpy()
    edge = np.isfinite(dist) & (dist >= 0) & (dist <= 3 * spacing)
    w_out = out["window_outward_speed_um_per_min"].to_numpy()
    collective = float(np.median(w_out[edge] if edge.sum() >= 10 else w_out))
    del dist, edge, w_out
    rel_net, rel_path, _ = _window(_drift_removed(pos, time, start, outward, collective), time, start, end, half=half, noise_um=noise)
    out["relative_outward_speed_um_per_min"] = np.einsum("ij,ij->i", rel_net, outward) * per_min
    out["relative_persistence"] = np.clip(np.linalg.norm(rel_net, axis=1) / np.where(rel_path > 0, rel_path, np.inf), 0, 1)
    out["relative_outward_persistence"] = np.clip(
        np.einsum("ij,ij->i", rel_net, outward) / np.where(rel_path > 0, rel_path, np.inf), -1, 1
    )
    del rel_path, per_min

    ahead, behind, same = _cone_counts(pos, outward, rel_net, frames, CONE_RADIUS_SPACINGS * spacing)
    out["ahead_in_view"] = _ahead_in_view(pos, rel_net, CONE_RADIUS_SPACINGS * spacing, field_um)
    out["n_ahead"], out["n_behind"], out["n_ahead_same_way"] = ahead, behind, same
    out["is_tip"] = (ahead == 0) & (behind >= 1)
    del rel_net, ahead, behind, same, tid, end, frames
    cells = _cells(out, pos, time, outward, start, spacing)
    fronts = front.table.copy()
    fronts["geometry_confidence"] = front.confidence
    fronts["geometry_reason"] = front.reason
    return out, cells, fronts


def _cells(out: pd.DataFrame, pos: np.ndarray, time: np.ndarray, outward: np.ndarray, start: np.ndarray, spacing: float) -> pd.DataFrame:
    """The per-track table from the per cell-frame table (sorted by track, then frame)."""
    tid = out["track_id"].to_numpy()
    steps = np.zeros_like(pos)
    steps[1:] = np.diff(pos, axis=0)
    steps[start == np.arange(len(pos))] = 0.0
    step_len = np.linalg.norm(steps, axis=1)
    moved = step_len > 0
    # direction of each step relative to the outward direction where it started
    prev_out = np.roll(outward, 1, axis=0)
    cos = np.where(moved, np.einsum("ij,ij->i", steps, prev_out) / np.where(moved, step_len, 1.0), np.nan)
    del steps, prev_out, moved
    at_front = out["front_distance_um"].to_numpy() <= AT_FRONT_SPACINGS * spacing
    frame_dt = pd.Series(np.r_[np.nan, np.diff(time)]).where(~pd.Series(start == np.arange(len(pos)))).groupby(tid).median()
    g = pd.DataFrame({
        "track_id": tid, "frame": out["frame"].to_numpy(), "time": time, "speed": out["speed_um_per_min"].to_numpy(),
        "step": step_len, "cos": cos, "dist": out["front_distance_um"].to_numpy(), "at_front": at_front,
        "front_id": out["front_id"].to_numpy(),
    }, copy=False).groupby("track_id", sort=True)
    cells = pd.DataFrame({
        "first_frame": g["frame"].min(),
        "last_frame": g["frame"].max(),
        "n_frames": g["frame"].size(),
        "duration_min": g["time"].max() - g["time"].min(),
        "mean_speed_um_per_min": g["speed"].mean(),
    })
    firsts = np.flatnonzero(start == np.arange(len(pos)))
    lasts = np.r_[firsts[1:] - 1, len(pos) - 1]
    net = np.linalg.norm(pos[lasts] - pos[firsts], axis=1)
    path = g["step"].sum().to_numpy()
    cells["persistence"] = np.where(path > 0, net / np.where(path > 0, path, 1.0), 0.0)
    frame_dt = frame_dt.reindex(cells.index)
    persistence_time, msd_exponent = _track_dynamics(pos, firsts, lasts, frame_dt.to_numpy())
    cells["persistence_time_min"] = persistence_time
    cells["directionality"] = g["cos"].mean()
    cells["msd_exponent"] = msd_exponent
    cells["front_distance_um"] = g["dist"].median()
    cells["time_at_front_min"] = g["at_front"].sum() * frame_dt.fillna(0.0)
    cells["front_id"] = g["front_id"].first()
    median_speed = float(np.nanmedian(cells["mean_speed_um_per_min"])) if len(cells) else 0.0
    cells["speed_ratio"] = cells["mean_speed_um_per_min"] / median_speed if median_speed > 0 else 0.0
    if "parent_track_id" in out.columns:
        cells["parent_track_id"] = out.groupby("track_id")["parent_track_id"].first().fillna(0).astype(int)
    else:
        cells["parent_track_id"] = 0
    return cells.reset_index()
