"""After linking: join track ends to later track starts (gap closing) and undo merged objects."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import (
    connected_components,
    min_weight_full_bipartite_matching,
)
from scipy.spatial import cKDTree

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


def _candidates(
    ends: pd.DataFrame, starts: pd.DataFrame, *, max_distance_px: float, max_gap_frames: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Allowed (end, start) pairs (positions in ``ends`` / ``starts``) and their costs.

    The cost is the mean of two squared distances: the end carried forward over the gap against
    the start, and the start carried back against the end, each with its own velocity; divided
    by the gap, since what cannot be predicted adds up like a random walk. Allowed up to
    ``max_distance_px ** 2``. Found with a k-d tree per start frame, so only near pairs are
    ever compared.
    """
    limit = max_distance_px**2
    end_frame, start_frame = ends["frame"].to_numpy(), starts["frame"].to_numpy()
    end_pos, start_pos = ends[["y", "x"]].to_numpy(), starts[["y", "x"]].to_numpy()
    end_v, start_v = ends[["vy", "vx"]].to_numpy(), starts[["vy", "vx"]].to_numpy()
    by_frame = pd.Series(np.arange(len(starts))).groupby(start_frame).apply(np.asarray).to_dict()
    trees = {t: cKDTree(start_pos[j]) for t, j in by_frame.items()}
    ends_by_frame = pd.Series(np.arange(len(ends))).groupby(end_frame).apply(np.asarray).to_dict()
    found_i, found_j = [], []
    for gap in range(1, max_gap_frames + 1):
        for t, i in ends_by_frame.items():
            if t + gap not in trees:
                continue
            # the forward squared distance is at most twice the allowed mean of the two
            hits = trees[t + gap].query_ball_point(end_pos[i] + end_v[i] * gap, np.sqrt(2 * limit * gap))
            for row, near in zip(i, hits):
                found_i += [row] * len(near)
                found_j += [by_frame[t + gap][k] for k in near]
    end_i, start_j = np.asarray(found_i, dtype=np.int64), np.asarray(found_j, dtype=np.int64)
    gap = (start_frame[start_j] - end_frame[end_i])[:, None]
    forward = start_pos[start_j] - end_pos[end_i] - end_v[end_i] * gap
    backward = start_pos[start_j] - start_v[start_j] * gap - end_pos[end_i]
    cost = ((forward**2).sum(axis=1) + (backward**2).sum(axis=1)) / 2 / gap[:, 0]
    keep = cost <= limit
    return end_i[keep], start_j[keep], cost[keep]


def _assign(end_i: np.ndarray, start_j: np.ndarray, cost: np.ndarray, *, alone: float) -> tuple[np.ndarray, np.ndarray]:
    """The cheapest joins among candidate pairs, each end and start used at most once, leaving one
    alone costing ``alone``: u-track's square matrix (joins, ends alone / starts alone, transposed
    joins), solved sparse with :func:`scipy.sparse.csgraph.min_weight_full_bipartite_matching`."""
    rows, end_at = np.unique(end_i, return_inverse=True)
    cols, start_at = np.unique(start_j, return_inverse=True)
    n_end, n_start = len(rows), len(cols)
    # every full matching has n_end + n_start edges, so one offset keeps the optimum and makes
    # the zero-cost entries real edges
    offset = 1.0 + float(cost.max(initial=0.0)) + alone
    r = np.concatenate([end_at, np.arange(n_end), n_end + np.arange(n_start), n_end + start_at])
    c = np.concatenate([start_at, n_start + np.arange(n_end), np.arange(n_start), n_start + end_at])
    w = np.concatenate([cost, np.full(n_end + n_start, alone), np.zeros(len(cost))]) + offset
    graph = csr_matrix((w, (r, c)), shape=(n_end + n_start,) * 2)
    row, col = min_weight_full_bipartite_matching(graph)
    joined = (row < n_end) & (col < n_start)
    return rows[row[joined]], cols[col[joined]]


def close_gaps(
    tracks: pd.DataFrame,
    *,
    max_distance_px: float,
    max_gap_frames: int,
    span: int = 3,
) -> pd.Series:
    """Join each track's end to at most one later track's start (gap closing, as in TrackMate).

    A track ending in frame ``t0`` may continue as a track starting in frame ``t1`` with
    ``1 <= t1 - t0 <= max_gap_frames``. Each side is extrapolated across the gap with its own
    recent velocity; the mean square distance between the end carried forward and the start, and
    between the start carried back and the end, divided by the gap (what cannot be predicted adds
    up like a random walk), is the cost of the join, allowed up to ``max_distance_px ** 2``. One
    assignment over all ends and starts (u-track's square cost matrix, solved sparse with
    :func:`scipy.sparse.csgraph.min_weight_full_bipartite_matching`), where leaving an end or a
    start unjoined costs ``max_distance_px ** 2``, picks the joins; chains of joined tracks
    become one track.

    Parameters
    ----------
    tracks
        ``track_id``, ``frame``, ``y``, ``x`` (pixels); one row per track and frame.
    max_distance_px
        Allowed root mean square miss of the extrapolations per square root of the gap, in
        pixels (the linking search range).
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
    end_i, start_j, cost = _candidates(ends, starts, max_distance_px=max_distance_px, max_gap_frames=max_gap_frames)
    if not len(cost):
        return ids.copy()
    chosen_end, chosen_start = _assign(end_i, start_j, cost, alone=max_distance_px**2)
    if not len(chosen_end):
        return ids.copy()
    a = ends.index.to_numpy()[chosen_end]
    b = starts.index.to_numpy()[chosen_start]
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
    if tracks.empty or max_gap_frames < 1:
        return pd.Series(0, index=tracks.index, dtype=np.int64)
    ends = _end_states(tracks, first=False, span=span)
    starts = _end_states(tracks, first=True, span=span)
    frame = tracks["frame"].to_numpy(dtype=np.int64)
    track = tracks["track_id"].to_numpy()
    yx = tracks[["y", "x"]].to_numpy(dtype=float)
    rows_at = {t: np.asarray(rows) for t, rows in pd.Series(np.arange(len(tracks))).groupby(frame).groups.items()}
    trees: dict[int, cKDTree] = {}
    row_of = dict(zip(zip(track.tolist(), frame.tolist()), range(len(tracks))))
    start_ids = starts.index.to_numpy()
    starts_at = pd.Series(np.arange(len(starts))).groupby(starts["frame"].to_numpy()).apply(np.asarray).to_dict()
    start_yx = starts[["y", "x"]].to_numpy(dtype=float)
    taken = np.zeros(len(tracks), dtype=bool)
    number = np.zeros(len(tracks), dtype=np.int64)
    count = 0
    order = ends.sort_values(["frame", "y", "x"], kind="stable")
    predicted = order[["y", "x"]].to_numpy() + order[["vy", "vx"]].to_numpy()
    for b, t_end, guess in zip(order.index, order["frame"].to_numpy(), predicted):
        t_merge = int(t_end) + 1
        if t_merge not in rows_at:
            continue
        if t_merge not in trees:
            trees[t_merge] = cKDTree(yx[rows_at[t_merge]])
        near = rows_at[t_merge][trees[t_merge].query_ball_point(guess, max_distance_px)]
        near = near[(track[near] != b) & ~taken[near]]
        if not len(near):
            continue
        a = track[near[np.argmin(np.hypot(*(yx[near] - guess).T))]]
        for t_split in range(t_merge + 1, t_merge + max_gap_frames + 1):
            if (a, t_split - 1) not in row_of or (a, t_split) not in row_of:
                break
            new = starts_at.get(t_split, np.empty(0, dtype=np.int64))
            new = new[start_ids[new] != a]
            if (np.hypot(*(start_yx[new] - yx[row_of[(a, t_split - 1)]]).T) <= max_distance_px).any():
                shared = [row_of[(a, t)] for t in range(t_merge, t_split)]
                taken[shared] = True
                count += 1
                number[shared] = count
                break
    return pd.Series(number, index=tracks.index)
