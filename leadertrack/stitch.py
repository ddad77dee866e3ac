"""Close gaps after linking: join track ends to later track starts by one linear assignment."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["close_gaps", "merge_split_segments"]


def _end_states(tracks: pd.DataFrame, *, first: bool, span: int) -> pd.DataFrame:
    """Frame, position and velocity (px/frame) at one end of every track.

    The velocity is the mean over the last (or first) ``span`` steps (0 for a one-frame track).
    """
    ordered = tracks.sort_values(["track_id", "frame"], kind="stable")
    grouped = ordered.groupby("track_id", sort=True)
    edge = grouped.head(span + 1) if first else grouped.tail(span + 1)
    ends = edge.groupby("track_id", sort=True)
    near = ends.first() if first else ends.last()
    far = ends.last() if first else ends.first()
    dt = (near["frame"] - far["frame"]).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(dt != 0, 1.0 / dt, 0.0)
    return pd.DataFrame(
        {
            "frame": near["frame"].to_numpy(dtype=np.int64),
            "y": near["y"].to_numpy(dtype=float),
            "x": near["x"].to_numpy(dtype=float),
            "vy": (near["y"] - far["y"]).to_numpy(dtype=float) * scale,
            "vx": (near["x"] - far["x"]).to_numpy(dtype=float) * scale,
        },
        index=near.index,
    )


def close_gaps(
    tracks: pd.DataFrame,
    *,
    max_distance_px: float,
    max_gap_frames: int,
    span: int = 3,
) -> pd.Series:
    """Join each track's end to at most one later track's start (gap closing, as in TrackMate).

    A track ending in frame ``t0`` may continue as a track starting in frame ``t1`` with
    ``1 <= t1 - t0 <= max_gap_frames``. Both ends are extrapolated across the gap with
    its own recent velocity; the mean square distance between the end carried forward over the gap
    and the start, and between the start carried back and the end, divided by the gap (what
    cannot be predicted adds up like a random walk), is the cost of the join, allowed up to
    ``max_distance_px ** 2``. One linear
    assignment (:func:`scipy.optimize.linear_sum_assignment`) over all ends and starts, where
    leaving an end or a start unjoined costs ``max_distance_px ** 2``, picks the joins; chains of
    joined tracks become one track.

    Parameters
    ----------
    tracks
        ``track_id``, ``frame``, ``y``, ``x`` (pixels); one row per track and frame.
    max_distance_px
        Largest distance between the two extrapolated ends, in pixels (the linking search range).
    max_gap_frames
        Largest frame difference between an end and the start it is joined to.
    span
        Steps at each end used to estimate its velocity.

    Returns
    -------
    pandas.Series
        The new track id of every row (aligned with ``tracks.index``): the smallest old id in
        its chain, so ids stay deterministic.

    Examples
    --------
    >>> t = pd.DataFrame({"track_id": [1, 1, 2, 2], "frame": [0, 1, 5, 6], "y": [0.0, 1, 5, 6], "x": 0.0})
    >>> close_gaps(t, max_distance_px=2, max_gap_frames=5).tolist()
    [1, 1, 1, 1]
    >>> close_gaps(t, max_distance_px=2, max_gap_frames=3).tolist()
    [1, 1, 2, 2]
    """
    ids = tracks["track_id"]
    if tracks.empty or max_gap_frames < 1:
        return ids.copy()
    ends = _end_states(tracks, first=False, span=span)
    starts = _end_states(tracks, first=True, span=span)
    gap = starts["frame"].to_numpy()[None, :] - ends["frame"].to_numpy()[:, None]
    cost = np.zeros(gap.shape)
    for axis in ("y", "x"):
        end_at, start_at = ends[axis].to_numpy()[:, None], starts[axis].to_numpy()[None, :]
        end_v, start_v = ends["v" + axis].to_numpy()[:, None], starts["v" + axis].to_numpy()[None, :]
        # the end carried forward over the gap against the start, and the start carried back
        cost += ((start_at - end_at - end_v * gap) ** 2 + (start_at - start_v * gap - end_at) ** 2) / 2
    # what cannot be predicted adds up like a random walk: per frame of gap, the squared distance
    # may grow by one squared search range
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = np.where(gap >= 1, cost / gap, np.inf)
    allowed = (gap >= 1) & (gap <= max_gap_frames) & (cost <= max_distance_px**2)
    rows, cols = np.nonzero(allowed.any(axis=1))[0], np.nonzero(allowed.any(axis=0))[0]
    if not len(rows):
        return ids.copy()
    # Square problem: [joins | end left alone] over [joins | start left alone], as in u-track.
    n_end, n_start = len(rows), len(cols)
    block = np.where(allowed[np.ix_(rows, cols)], cost[np.ix_(rows, cols)], np.inf)
    alone = max_distance_px**2
    big = np.full((n_end + n_start, n_start + n_end), np.inf)
    big[:n_end, :n_start] = block
    big[:n_end, n_start:] = np.where(np.eye(n_end, dtype=bool), alone, np.inf)
    big[n_end:, :n_start] = np.where(np.eye(n_start, dtype=bool), alone, np.inf)
    big[n_end:, n_start:] = np.where(np.isfinite(block.T), 0.0, np.inf)  # lower-right: transposed joins
    finite = np.where(np.isfinite(big), big, 1e12)
    r, c = linear_sum_assignment(finite)
    joined = (r < n_end) & (c < n_start) & np.isfinite(big[r, c])
    old = ends.index.to_numpy()
    a = old[rows[r[joined]]]
    b = starts.index.to_numpy()[cols[c[joined]]]
    if not len(a):
        return ids.copy()
    unique = np.unique(ids.to_numpy())
    position = pd.Series(np.arange(len(unique)), index=unique)
    graph = coo_matrix((np.ones(len(a)), (position[a].to_numpy(), position[b].to_numpy())), shape=(len(unique),) * 2)
    _, component = connected_components(graph, directed=False)
    smallest = pd.Series(unique).groupby(component).transform("min").to_numpy()
    return ids.map(pd.Series(smallest, index=unique)).astype(ids.dtype)


def merge_split_segments(tracks: pd.DataFrame, *, max_distance_px: float, max_gap_frames: int, span: int = 3) -> pd.Series:
    """Find where two cells shared one detection for a while, and cut the surviving track there.

    When two nuclei touch and are segmented as one object, the linker gives the object to one
    track (A) and ends the other (B); when they part, a new track (C) starts. Which of A and C
    is which cell was decided from the merged object's centroid, half-way between the two: a coin
    toss. A *merge* is a track B ending next to a detection of track A in the next frame (B's
    extrapolated position within ``max_distance_px`` of it); the matching *split* is the first
    track C starting within ``max_gap_frames`` frames next to A's previous position. A is cut
    before the merge and before the split, so that :func:`close_gaps` decides both identities
    from the positions and velocities before and after the merge.

    Parameters
    ----------
    tracks
        ``track_id``, ``frame``, ``y``, ``x`` (pixels), one row per track and frame.
    max_distance_px
        How close (pixels) an ending or starting track must be to the shared detection.
    max_gap_frames
        Longest merge, in frames, that is undone.
    span
        Steps used to estimate a track end's velocity.

    Returns
    -------
    pandas.Series
        Aligned with ``tracks.index``: ``0`` for rows outside any merge, else a positive number
        per merged stretch (the rows a surviving track spent on a shared detection). Callers cut
        tracks around these stretches, close gaps without them, then give each stretch back to
        the track it came from.

    Examples
    --------
    >>> rows = [(1, t, 0.0, t) for t in range(6)] + [(2, t, 4.0, t) for t in range(6)]
    >>> rows += [(1, t, 2.0, t) for t in range(6, 9)] + [(3, t, 4.0, t) for t in range(9, 12)]
    >>> rows += [(1, t, 0.0, t) for t in range(9, 12)]
    >>> t = pd.DataFrame(rows, columns=["track_id", "frame", "y", "x"])
    >>> t = t.sort_values(["track_id", "frame"]).reset_index(drop=True)
    >>> merge_split_segments(t, max_distance_px=3, max_gap_frames=5).groupby(t["frame"]).max().tolist()
    [0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0]
    """
    stretch = pd.Series(0, index=tracks.index, dtype=np.int64)
    if tracks.empty or max_gap_frames < 1:
        return stretch
    ends = _end_states(tracks, first=False, span=span)
    starts = _end_states(tracks, first=True, span=span)
    frame = tracks["frame"].to_numpy(dtype=np.int64)
    track = tracks["track_id"].to_numpy()
    yx = tracks[["y", "x"]].to_numpy(dtype=float)
    rows_at = {t: np.flatnonzero(frame == t) for t in np.unique(frame)}
    row_of = pd.Series(np.arange(len(tracks)), index=pd.MultiIndex.from_arrays([track, frame]))
    starts_at = starts.groupby("frame").groups
    taken = np.zeros(len(tracks), dtype=bool)
    number = 0
    for b, end in ends.sort_values(["frame", "y", "x"], kind="stable").iterrows():
        t_merge = int(end["frame"]) + 1
        here = rows_at.get(t_merge)
        if here is None:
            continue
        here = here[(track[here] != b) & ~taken[here]]
        predicted = np.array([end["y"] + end["vy"], end["x"] + end["vx"]])
        distance = np.hypot(*(yx[here] - predicted).T)
        if not len(here) or distance.min() > max_distance_px:
            continue
        a = track[here[np.argmin(distance)]]
        for t_split in range(t_merge + 1, t_merge + max_gap_frames + 1):
            if (a, t_split - 1) not in row_of.index or (a, t_split) not in row_of.index:
                break
            before = yx[row_of[(a, t_split - 1)]]
            candidates = [c for c in starts_at.get(t_split, []) if c != a]
            if any(np.hypot(*(starts.loc[c, ["y", "x"]].to_numpy(dtype=float) - before)) <= max_distance_px for c in candidates):
                number += 1
                shared = row_of.loc[[(a, t) for t in range(t_merge, t_split)]].to_numpy()
                taken[shared] = True
                stretch.iloc[shared] = number
                break
    return stretch
