"""Frame-to-frame linking (leadertrack.frame_links) against trackpy, whose links it reproduces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import trackpy
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from leadertrack.frame_links import (
    MAX_NEIGHBORS,
    SubnetTooLargeError,
    _Tracks,
    link_frames,
)


def _crowd(n_frames: int = 10, seed: int = 0) -> pd.DataFrame:
    """350 cells in a 120 x 120 px field drifting at their own velocities with jitter; 10% of the
    detections missing (the linking memory's work); brightness per cell, noisy."""
    rng = np.random.default_rng(seed)
    n = 350
    start = rng.uniform(0, 120, (n, 2))
    velocity = rng.normal(0, 1.5, (n, 2))
    brightness = rng.uniform(0, 8, n)
    rows = []
    for t in range(n_frames):
        position = start + velocity * t + rng.normal(0, 0.8, (n, 2))
        rows.append(pd.DataFrame({
            "frame": t, "y": position[:, 0], "x": position[:, 1], "b": brightness + rng.normal(0, 0.5, n), "cell": np.arange(n),
        }))
    table = pd.concat(rows, ignore_index=True)
    return table[rng.random(len(table)) > 0.1].reset_index(drop=True)


def _same_partition(first: np.ndarray, second: np.ndarray) -> bool:
    """Whether two labellings group the rows the same way (track ids may differ)."""
    pairs = pd.DataFrame({"a": first, "b": second}).drop_duplicates()
    return pairs["a"].is_unique and pairs["b"].is_unique


@pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.sort_values:DeprecationWarning")
@pytest.mark.parametrize("columns", [["y", "x"], ["y", "x", "b"]])
def test_links_are_trackpys_in_a_crowd_with_memory_and_adaptive_search(columns):
    detections = _crowd()
    search_range = 6.0
    options = {"memory": 3, "adaptive_stop": 0.1 * search_range, "adaptive_step": 0.9}
    with pytest.raises(SubnetTooLargeError):  # the crowd needs the adaptive search
        link_frames(detections["frame"], detections[columns], search_range=search_range, memory=3, predict=False)
    theirs = trackpy.link(detections, search_range, pos_columns=columns, link_strategy="recursive", **options)
    ours = link_frames(detections["frame"], detections[columns], search_range=search_range, predict=False, **options)
    assert _same_partition(theirs.sort_index()["particle"].to_numpy(), ours)
    # and they are not trivially right: some cells lose their identity in the crowd
    assert not _same_partition(detections["cell"].to_numpy(), ours)


def _link_cost(before: np.ndarray, after: np.ndarray, pairs: list[tuple[int, int]], search_range: float) -> float:
    """Total squared length of the links ``pairs`` (row in ``before``, row in ``after``), each row of
    ``before`` left unlinked costing ``search_range ** 2``."""
    linked = sum(float(np.sum((before[i] - after[j]) ** 2)) for i, j in pairs)
    return linked + (len(before) - len(pairs)) * search_range**2


def _least_cost(before: np.ndarray, after: np.ndarray, search_range: float) -> float:
    """The least total cost over every assignment of ``after`` to ``before`` (dense, by the Hungarian
    method), each detection choosing among its ``MAX_NEIGHBORS`` nearest within range."""
    n = len(before)
    cost = np.full((n, len(after) + n), 1e12)
    distance, nearest = cKDTree(before).query(after, MAX_NEIGHBORS, distance_upper_bound=search_range)
    for j in range(len(after)):
        for d, i in zip(distance[j], nearest[j]):
            if np.isfinite(d):
                cost[i, j] = d**2
    cost[np.arange(n), len(after) + np.arange(n)] = search_range**2
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].sum())


def _pairs(ids_before: np.ndarray, ids_after: np.ndarray) -> list[tuple[int, int]]:
    return [(i, j) for i in range(len(ids_before)) for j in np.flatnonzero(ids_after == ids_before[i])]


def test_without_adaptive_search_each_frame_gets_the_least_cost_links_at_the_full_range():
    detections = _crowd(n_frames=2)
    search_range = 6.0
    first = (detections["frame"] == 0).to_numpy()
    positions = [detections.loc[first, ["y", "x"]].to_numpy(), detections.loc[~first, ["y", "x"]].to_numpy()]
    whole = link_frames(detections["frame"], detections[["y", "x"]], search_range=search_range, predict=False, max_subnet_tracks=None)
    optimum = _least_cost(*positions, search_range)
    assert _link_cost(*positions, _pairs(whole[first], whole[~first]), search_range) == pytest.approx(optimum)
    # the adaptive search shrinks the range where the crowd's subnetworks grow large: its links cost more at the full range
    adaptive = link_frames(
        detections["frame"], detections[["y", "x"]], search_range=search_range, predict=False, adaptive_stop=0.6, adaptive_step=0.9
    )
    assert _link_cost(*positions, _pairs(adaptive[first], adaptive[~first]), search_range) > optimum + 1.0


def test_a_strand_moving_more_than_a_spacing_per_frame_keeps_its_identities_only_without_adaptive_search():
    """Four parallel strands of 5 cells, 10 apart along and 14 across, each moving 12 along itself
    per frame: linked to the cell behind, each would move only 2. With a search range of 30 the
    field is one subnetwork of 20 tracks. The adaptive search shrinks its range until the strands
    part (below 14), and there linking each cell to the one behind, leaving the last one unlinked,
    costs less than the true links: every cell steps back along its strand. At the full range the
    true links cost less (5 x 12^2 against 4 x 2^2 + 30^2 per strand)."""
    along = -10.0 * np.arange(5)
    rows = []
    for t in range(4):
        for strand in range(4):
            for k, y in enumerate(along):
                rows.append((t, y + 12.0 * t, 14.0 * strand, strand * 5 + k))
    frame, y, x, cell = np.array(rows).T
    positions = np.column_stack([y, x])
    whole = link_frames(frame, positions, search_range=30.0, predict=False, max_subnet_tracks=None)
    assert _same_partition(cell, whole)
    adaptive = link_frames(frame, positions, search_range=30.0, predict=False, adaptive_stop=3.0)
    assert not _same_partition(cell, adaptive)


def test_tracks_are_expected_where_their_own_last_steps_take_them():
    """Over the last ``span`` steps, shrunk by steps / (steps + 1) for a short history; a track seen
    once is expected where it is; brightness (a column past ``n_moving``) is not extrapolated."""
    tracks = _Tracks(n_columns=3, span=2)
    # track 0 moves +1 in y per frame, then +4 (its last 2 steps: 5 in 2 frames); track 1 is seen
    # in frames 0 and 1 (one step of +2 in x); track 2 once, in frame 1
    ids = tracks.start(np.array([[0.0, 0.0, 5.0], [10.0, 0.0, 1.0]]), 0)
    tracks.extend(ids, np.array([[1.0, 0.0, 5.0], [10.0, 2.0, 3.0]]), 1)
    tracks.start(np.array([[7.0, 7.0, 0.0]]), 1)
    tracks.extend(np.array([0]), np.array([[2.0, 0.0, 5.0]]), 2)
    tracks.extend(np.array([0]), np.array([[6.0, 0.0, 5.0]]), 3)
    expected = tracks.predicted(np.array([0, 1, 2]), 5, n_moving=2, predict=True)
    np.testing.assert_allclose(expected, [
        [6.0 + 2.5 * 2 / 3 * 2, 0.0, 5.0],  # 2.5 per frame over 2 steps, shrunk by 2/3, for 2 frames
        [10.0, 2.0 + 2.0 / 2 * 4, 3.0],  # 2 per frame from 1 step, shrunk by 1/2, for 4 frames
        [7.0, 7.0, 0.0],
    ])
    np.testing.assert_allclose(tracks.predicted(np.array([0, 1]), 5, n_moving=2, predict=False), [[6.0, 0.0, 5.0], [10.0, 2.0, 3.0]])


def test_a_track_missing_more_frames_than_its_memory_is_not_continued():
    frames = np.array([0, 1, 4, 5])
    positions = np.array([[0.0, 0.0], [0.5, 0.0], [1.0, 0.0], [1.5, 0.0]])
    assert list(link_frames(frames, positions, search_range=2.0, memory=2)) == [0, 0, 0, 0]
    assert list(link_frames(frames, positions, search_range=2.0, memory=1)) == [0, 0, 1, 1]
    # nothing within range: a new track, no assignment to solve
    assert list(link_frames(np.array([0, 1]), np.array([[0.0, 0.0], [100.0, 0.0]]), search_range=2.0, max_subnet_tracks=None)) == [0, 1]


def test_progress_is_reported_for_every_frame_empty_ones_included():
    calls = []
    link_frames(np.array([0, 3]), np.zeros((2, 2)), search_range=1.0, progress=lambda *a: calls.append(a))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert link_frames(np.zeros(0), np.zeros((0, 2)), search_range=1.0).size == 0
