"""Frame-to-frame linking: trackpy's algorithm over whole frames at once (numpy and scipy).

The links are those of ``trackpy.link`` with a KD-tree, ``memory`` and adaptive search: each
detection considers its ``MAX_NEIGHBORS`` nearest track ends within the search range; tracks
and detections joined by such candidates form subnetworks; each subnetwork takes the links of
least total squared distance, a track end left unlinked costing the search range squared; a
subnetwork of more than ``MAX_SUBNET_TRACKS`` track ends is split by shrinking the search range
for it alone, step by step. trackpy does this one Python object per detection, which made
linking as slow as segmenting; here every frame is a few array operations, a KD-tree query
and one sparse linear assignment (:func:`scipy.sparse.csgraph.min_weight_full_bipartite_matching`).
``tests/test_frame_links.py`` checks the links against trackpy's own.

A sparse assignment solves a subnetwork of any size exactly, so the adaptive search can also be
left out (``max_subnet_tracks=None``): then each frame takes the links of least total squared
distance at the full search range. In a strand whose cells move about a spacing per frame along
it, shrinking the range brings back the short links to the cell behind that a wide range was
meant to outweigh; in a dense sheet whose nuclei are sometimes merged or missed, it keeps a cell
whose own nucleus is gone from taking a neighbour's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.sparse import coo_array
from scipy.sparse.csgraph import (
    connected_components,
    min_weight_full_bipartite_matching,
)
from scipy.spatial import cKDTree

__all__ = ["MAX_NEIGHBORS", "MAX_SUBNET_TRACKS", "SubnetTooLargeError", "link_frames"]

MAX_NEIGHBORS = 10
"""Track ends a detection considers (the nearest ones within the search range), as in trackpy."""
MAX_SUBNET_TRACKS = 15
"""Largest subnetwork (in track ends) solved at a given search range, as trackpy's adaptive search."""


class SubnetTooLargeError(ValueError):
    """Cells crowd so that even the smallest search range leaves a subnetwork too large."""

    def __init__(self, frame: int) -> None:
        super().__init__(f"frame {frame}: too many cells compete for the same links")
        self.frame = frame


class _Tracks:
    """The last ``span + 1`` positions and frames of every track, indexed by track id (0, 1, ...)."""

    def __init__(self, n_columns: int, span: int) -> None:
        self.span = span
        self.count = 0
        self.frames = np.zeros((0, span + 1))
        self.positions = np.zeros((0, span + 1, n_columns))
        self.seen = np.zeros(0, dtype=np.int64)

    def start(self, positions: np.ndarray, frame: int) -> np.ndarray:
        """Start one track per row of ``positions``; returns their ids."""
        ids = np.arange(self.count, self.count + len(positions))
        self.count += len(positions)
        if self.count > len(self.seen):  # room for twice as many, so that growing costs O(n) in all
            grow = max(self.count, 2 * len(self.seen)) - len(self.seen)
            self.frames = np.concatenate([self.frames, np.zeros((grow, self.span + 1))])
            self.positions = np.concatenate([self.positions, np.zeros((grow, *self.positions.shape[1:]))])
            self.seen = np.concatenate([self.seen, np.zeros(grow, dtype=np.int64)])
        self.extend(ids, positions, frame)
        return ids

    def extend(self, ids: np.ndarray, positions: np.ndarray, frame: int) -> None:
        """Add the detections ``positions`` in ``frame`` to the tracks ``ids``."""
        self.frames[ids, :-1] = self.frames[ids, 1:]
        self.frames[ids, -1] = frame
        self.positions[ids, :-1] = self.positions[ids, 1:]
        self.positions[ids, -1] = positions
        self.seen[ids] = np.minimum(self.seen[ids] + 1, self.span + 1)

    def last_frame(self, ids: np.ndarray) -> np.ndarray:
        return self.frames[ids, -1]

    def predicted(self, ids: np.ndarray, frame: int, *, n_moving: int, predict: bool) -> np.ndarray:
        """Where the tracks ``ids`` are expected in ``frame``: the last position, moved on by the
        track's own mean velocity over its last ``span`` steps (shrunk by ``steps / (steps + 1)``,
        a short history being mostly jitter, and extrapolating it in full in a dense sheet swaps
        neighbours) in the first ``n_moving`` columns.

        A track's own history, not its neighbours': trackpy's ``NearestVelocityPredict`` lends a
        new or just-relinked cell the velocity of its nearest neighbour, and next to a follower
        that jumped (two nuclei merged for a frame) that throws the prediction off by more than
        the search range and cuts the leader's track into pieces.
        """
        position = self.positions[ids, -1].copy()
        if not predict:
            return position
        n_seen = self.seen[ids]
        moving = np.flatnonzero(n_seen >= 2)
        if len(moving):
            track, oldest = ids[moving], self.span + 1 - n_seen[moving]
            steps = (n_seen[moving] - 1)[:, None]
            elapsed = (self.frames[track, -1] - self.frames[track, oldest])[:, None]
            velocity = (self.positions[track, -1] - self.positions[track, oldest]) / elapsed * steps / (steps + 1)
            velocity[:, n_moving:] = 0.0
            since = (frame - self.frames[track, -1])[:, None]
            position[moving] = position[moving] + velocity * since
        return position


def _solve(ends: np.ndarray, dests: np.ndarray, distance: np.ndarray, search_range: float) -> tuple[np.ndarray, np.ndarray]:
    """The links of least total squared distance among candidate pairs (``ends[k]``, ``dests[k]``)
    no longer than ``search_range``, a track end left unlinked costing ``search_range ** 2``."""
    usable = distance <= search_range
    end_ids, end_row = np.unique(ends, return_inverse=True)
    dest_ids, dest_column = np.unique(dests[usable], return_inverse=True)
    n_rows = len(end_ids)
    # a private "unlinked" column per end; every weight + 1, as the solver needs non-zero weights
    rows = np.concatenate([end_row[usable], np.arange(n_rows)])
    columns = np.concatenate([dest_column, len(dest_ids) + np.arange(n_rows)])
    weights = np.concatenate([distance[usable] ** 2, np.full(n_rows, search_range**2)]) + 1.0
    graph = coo_array((weights, (rows, columns)), shape=(n_rows, len(dest_ids) + n_rows)).tocsr()
    matched_rows, matched_columns = min_weight_full_bipartite_matching(graph)
    linked = matched_columns < len(dest_ids)
    return end_ids[matched_rows[linked]], dest_ids[matched_columns[linked]]


def _links(
    ends: np.ndarray, dests: np.ndarray, distance: np.ndarray, *, n_ends: int, n_dests: int, search_range: float,
    max_subnet_tracks: int | None, adaptive_stop: float, adaptive_step: float, frame: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Links (end, destination) from candidate pairs, by subnetworks, shrinking the search range of
    subnetworks with more than ``max_subnet_tracks`` ends until they are small enough (None: all
    solved whole at once)."""
    if max_subnet_tracks is None:
        return _solve(ends, dests, distance, search_range)
    linked_ends, linked_dests = [], []
    while len(ends):
        graph = coo_array((np.ones(len(ends)), (ends, n_ends + dests)), shape=(n_ends + n_dests,) * 2)
        _, subnet = connected_components(graph, directed=False)
        edge_subnet = subnet[ends]
        ends_per_subnet = np.bincount(subnet[np.unique(ends)], minlength=subnet.max() + 1)
        oversize = ends_per_subnet[edge_subnet] > max_subnet_tracks
        small = ~oversize
        if small.any():
            end_ids, dest_ids = _solve(ends[small], dests[small], distance[small], search_range)
            linked_ends.append(end_ids)
            linked_dests.append(dest_ids)
        if not oversize.any():
            break
        if search_range <= adaptive_stop:
            raise SubnetTooLargeError(frame)
        search_range *= adaptive_step
        keep = oversize & (distance <= search_range)
        ends, dests, distance = ends[keep], dests[keep], distance[keep]
    if not linked_ends:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(linked_ends), np.concatenate(linked_dests)


def link_frames(
    frame: np.ndarray,
    coordinates: np.ndarray,
    *,
    search_range: float,
    memory: int = 0,
    predict: bool = True,
    n_moving: int | None = None,
    span: int = 3,
    max_subnet_tracks: int | None = MAX_SUBNET_TRACKS,
    adaptive_stop: float | None = None,
    adaptive_step: float = 0.9,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Link detections of consecutive frames into tracks (trackpy's linking, see the module).

    Parameters
    ----------
    frame
        Each detection's frame number (integers, any order).
    coordinates
        Each detection's coordinates, shape (n, d), in the units of ``search_range``.
    search_range
        Largest distance between a track's expected position and its next detection.
    memory
        Frames a track may miss and still be continued.
    predict
        Expect each track where its own velocity over its last ``span`` steps takes it; otherwise
        at its last position.
    n_moving
        Only the first ``n_moving`` coordinates are extrapolated (the rest, e.g. a brightness, are
        not); None = all.
    span
        Steps over which a track's velocity is averaged.
    max_subnet_tracks, adaptive_stop, adaptive_step
        A subnetwork of more than ``max_subnet_tracks`` track ends is linked again with its search
        range times ``adaptive_step``, until it is small enough; at a range of ``adaptive_stop`` or
        less :class:`SubnetTooLargeError` is raised (``adaptive_stop`` None = ``search_range``: raise
        at once). ``max_subnet_tracks`` None: every frame's links are solved whole at the full
        search range (no adaptive search, never raises).
    progress
        ``progress(done, total)`` after each frame.

    Returns
    -------
    numpy.ndarray
        A track id (0, 1, ...) per detection.

    Examples
    --------
    >>> link_frames(np.array([0, 0, 1, 1]), np.array([[0.0, 0.0], [10.0, 0.0], [9.0, 0.0], [1.0, 0.0]]), search_range=2)
    array([0, 1, 1, 0])
    """
    frame = np.asarray(frame, dtype=np.int64)
    coordinates = np.asarray(coordinates, dtype=float)
    if coordinates.ndim == 1:
        coordinates = coordinates[:, None]
    stop = search_range if adaptive_stop is None else adaptive_stop
    moving = coordinates.shape[1] if n_moving is None else n_moving
    track_of = np.full(len(frame), -1, dtype=np.int64)
    if len(frame) == 0:
        return track_of
    order = np.argsort(frame, kind="stable")
    first, last = int(frame[order[0]]), int(frame[order[-1]])
    bounds = np.searchsorted(frame[order], np.arange(first, last + 2))
    tracks = _Tracks(coordinates.shape[1], span)
    open_ids = np.zeros(0, dtype=np.int64)  # tracks that may still be continued
    for t in range(first, last + 1):
        rows = order[bounds[t - first] : bounds[t - first + 1]]
        here = coordinates[rows]
        open_ids = open_ids[tracks.last_frame(open_ids) >= t - 1 - memory]
        linked = np.zeros(len(rows), dtype=bool)
        if len(open_ids) and len(rows):
            expected = tracks.predicted(open_ids, t, n_moving=moving, predict=predict)
            distance, end = cKDTree(expected).query(here, MAX_NEIGHBORS, distance_upper_bound=search_range + 1e-7)
            dest, column = np.nonzero(np.isfinite(distance))
            end_idx, dest_idx = _links(
                end[dest, column], dest, distance[dest, column], n_ends=len(open_ids), n_dests=len(rows),
                search_range=search_range, max_subnet_tracks=max_subnet_tracks, adaptive_stop=stop,
                adaptive_step=adaptive_step, frame=t,
            )
            track_of[rows[dest_idx]] = open_ids[end_idx]
            tracks.extend(open_ids[end_idx], here[dest_idx], t)
            linked[dest_idx] = True
        born = tracks.start(here[~linked], t)
        track_of[rows[~linked]] = born
        open_ids = np.concatenate([open_ids, born])
        if progress is not None:
            progress(t - first + 1, last - first + 1)
    return track_of
