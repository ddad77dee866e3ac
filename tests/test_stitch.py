"""Tests for leadertrack.stitch: gap closing and undoing merges, on hand-made track tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadertrack.stitch import close_gaps, merge_split_segments


def _track(track_id, frames, start, velocity):
    frames = np.asarray(list(frames))
    y, x = (np.asarray(start, float)[:, None] + np.outer(velocity, frames - frames[0])).tolist()
    return pd.DataFrame({"track_id": track_id, "frame": frames, "y": y, "x": x})


def _table(*tracks):
    return pd.concat(tracks, ignore_index=True).sort_values(["track_id", "frame"], ignore_index=True)


def test_the_assignment_is_global_not_greedy():
    # end 1 is closest to start 3 (2 px; start 4 is 3 px away), but end 2 can only reach start 3:
    # a greedy choice would leave end 2 and start 4 alone, the cheapest total joins 1-4 and 2-3
    tracks = _table(
        _track(1, range(5), (50, 10), (0, 0)),
        _track(2, range(5), (50, 16), (0, 0)),
        _track(3, range(8, 12), (50, 12.0), (0, 0)),
        _track(4, range(8, 12), (50, 7.0), (0, 0)),
    )
    ids = close_gaps(tracks, max_distance_px=2.0, max_gap_frames=5)
    assert dict(zip(tracks["track_id"], ids)) == {1: 1, 2: 2, 3: 2, 4: 1}


def test_joins_follow_each_end_velocity():
    # two cells moving apart vanish for 6 frames; each comes back where its own velocity says
    tracks = _table(
        _track(1, range(6), (50, 10), (2, 3)),
        _track(2, range(6), (60, 10), (-2, 3)),
        _track(3, range(12, 16), (50 + 2 * 12, 10 + 3 * 12), (2, 3)),
        _track(4, range(12, 16), (60 - 2 * 12, 10 + 3 * 12), (-2, 3)),
    )
    ids = close_gaps(tracks, max_distance_px=3.0, max_gap_frames=8)
    assert dict(zip(tracks["track_id"], ids)) == {1: 1, 2: 2, 3: 1, 4: 2}


@pytest.mark.parametrize(("gap", "max_gap_frames", "joined"), [(4, 5, True), (6, 5, False), (1, 1, True)])
def test_only_gaps_up_to_max_gap_frames_are_closed(gap, max_gap_frames, joined):
    tracks = _table(_track(1, range(5), (10, 10), (1, 0)), _track(2, range(4 + gap, 9 + gap), (10 + 4 + gap, 10), (1, 0)))
    ids = close_gaps(tracks, max_distance_px=2.0, max_gap_frames=max_gap_frames)
    assert (ids.nunique() == 1) is joined


def test_tracks_overlapping_in_time_are_never_joined():
    tracks = _table(_track(1, range(6), (10, 10), (0, 0)), _track(2, range(5, 10), (10, 10), (0, 0)))
    assert close_gaps(tracks, max_distance_px=5.0, max_gap_frames=5).nunique() == 2


def test_chains_take_the_smallest_id_and_keep_the_index():
    tracks = _table(
        _track(7, range(3), (10, 10), (0, 1)),
        _track(3, range(5, 8), (10, 15), (0, 1)),
        _track(5, range(10, 13), (10, 20), (0, 1)),
    ).set_index(pd.Index(range(100, 109)))
    ids = close_gaps(tracks, max_distance_px=2.0, max_gap_frames=3)
    assert ids.index.equals(tracks.index)
    assert set(ids) == {3}


def test_a_merge_then_split_is_found_and_a_neighbour_that_just_leaves_is_not():
    # track 1 absorbs track 2 (ends next to it) for 3 frames; track 3 splits off afterwards
    merged = _table(
        _track(1, range(12), (0, 0), (0, 1)),
        _track(2, range(6), (4, 0), (0, 1)),
        _track(3, range(9, 12), (4, 9), (0, 1)),
    )
    stretch = merge_split_segments(merged, max_distance_px=5.0, max_gap_frames=5)
    assert merged.loc[stretch > 0, "track_id"].eq(1).all()
    assert sorted(merged.loc[stretch > 0, "frame"]) == [6, 7, 8]
    # without a split the ending neighbour is just gone: nothing to undo
    gone = merged[merged["track_id"] != 3]
    assert merge_split_segments(gone, max_distance_px=5.0, max_gap_frames=5).eq(0).all()


def _walks_with_holes(seed, *, n_cells=30, n_frames=40):
    """Random walks on a grid of cells, each missing a few frames (new track ids after a hole)."""
    rng = np.random.default_rng(seed)
    rows = []
    for cell in range(n_cells):
        yx = np.array([20.0 * (cell // 6), 20.0 * (cell % 6)]) + np.cumsum(rng.normal(0, 0.5, (n_frames, 2)), axis=0)
        seen = rng.random(n_frames) > 0.1
        piece = np.cumsum(np.r_[True, seen[1:] & ~seen[:-1]])
        for t in np.flatnonzero(seen):
            rows.append((1000 * cell + piece[t], t, *yx[t]))
    return pd.DataFrame(rows, columns=["track_id", "frame", "y", "x"])


@pytest.mark.parametrize("seed", [0, 1])
def test_results_do_not_depend_on_row_order_or_where_frames_start(seed):
    tracks = _walks_with_holes(seed)
    shuffled = tracks.sample(frac=1.0, random_state=seed)
    shifted = tracks.assign(frame=tracks["frame"] - 17)
    options = {"max_distance_px": 3.0, "max_gap_frames": 4}
    ids = close_gaps(tracks, **options)
    assert ids.nunique() < tracks["track_id"].nunique()  # some holes were closed
    assert close_gaps(shuffled, **options).reindex(tracks.index).equals(ids)
    assert close_gaps(shifted, **options).equals(ids)
    stretch = merge_split_segments(tracks, **options)
    assert merge_split_segments(shuffled, **options).reindex(tracks.index).equals(stretch)
    assert merge_split_segments(shifted, **options).equals(stretch)


@pytest.mark.parametrize("seed", range(5))
def test_joins_are_the_optimum_of_the_whole_square_assignment(seed):
    """Solving each group of ends and starts that share candidates on its own gives the optimum of
    u-track's square matrix over all of them (solved here densely, in one piece)."""
    from scipy.optimize import linear_sum_assignment

    from leadertrack.stitch import _assign

    rng = np.random.default_rng(seed)
    pairs = sorted({(int(rng.integers(0, 60)), int(rng.integers(0, 60))) for _ in range(150)})
    end_i, start_j = (np.array(p) for p in zip(*pairs))
    end_i, start_j = end_i * 7 + 3, start_j * 5 + 1000  # ids, not positions
    alone = 10.0
    cost = rng.uniform(0, alone, len(pairs))
    ends, starts = np.unique(end_i), np.unique(start_j)
    n, m = len(ends), len(starts)
    forbidden = 1e9
    square = np.full((n + m, m + n), forbidden)
    square[np.searchsorted(ends, end_i), np.searchsorted(starts, start_j)] = cost
    square[np.arange(n), m + np.arange(n)] = alone  # an end left alone
    square[n + np.arange(m), np.arange(m)] = alone  # a start left alone
    square[n:, m:] = np.where(square[:n, :m].T < forbidden, 0.0, forbidden)
    r, c = linear_sum_assignment(square)
    best = square[r, c].sum()

    joined_end, joined_start = _assign(end_i, start_j, cost, alone=alone)
    assert len(set(joined_end)) == len(joined_end) and len(set(joined_start)) == len(joined_start)
    lookup = dict(zip(zip(end_i.tolist(), start_j.tolist()), cost))
    total = sum(lookup[p] for p in zip(joined_end.tolist(), joined_start.tolist())) + alone * (n + m - 2 * len(joined_end))
    assert total == pytest.approx(best)


def test_the_solver_gets_whole_number_weights(monkeypatch):
    """scipy's LAPJVsp compares reduced costs exactly: on fractional weights with near-ties it ran
    for more than 16 minutes on one simulated movie. The weights it gets must be whole numbers,
    exact in float64 (below 2**53 even summed over every row), and still pick the cheaper join."""
    import leadertrack.stitch as stitch

    seen = []
    solve = stitch.min_weight_full_bipartite_matching

    def spy(graph):
        seen.append(graph.data.copy())
        return solve(graph)

    monkeypatch.setattr(stitch, "min_weight_full_bipartite_matching", spy)
    end_i, start_j = np.array([1, 1]), np.array([10, 11])
    cost = np.array([0.1234568, 0.1234567])  # joining end 1 to start 11 is cheaper by 1e-7
    joined_end, joined_start = stitch._assign(end_i, start_j, cost, alone=5.0)
    assert dict(zip(joined_end.tolist(), joined_start.tolist())) == {1: 11}
    (weights,) = seen
    assert np.array_equal(weights, np.round(weights))
    assert weights.min() > 0 and weights.max() * len(weights) < 2**53


def test_no_gap_is_closed_at_the_image_edge_when_a_margin_is_given():
    # cell 1 leaves through the top edge, cell 2 comes in at the same place 3 frames later: without a
    # margin they become one track; with one, neither the end nor the start at the edge is joined,
    # while a cell inside the field that vanishes for 3 frames is still joined to itself
    tracks = _table(
        _track(1, range(6), (11.0, 50), (-2, 0)),
        _track(2, range(9, 14), (0.5, 51), (2, 0)),
        _track(3, range(6), (60.0, 80), (1, 0)),
        _track(4, range(9, 14), (69.0, 80), (1, 0)),
    )
    joined = dict(zip(tracks["track_id"], close_gaps(tracks, max_distance_px=8.0, max_gap_frames=5)))
    assert joined == {1: 1, 2: 1, 3: 3, 4: 3}
    kept_apart = close_gaps(tracks, max_distance_px=8.0, max_gap_frames=5, field_px=(100, 100), edge_margin_px=3.0)
    assert dict(zip(tracks["track_id"], kept_apart)) == {1: 1, 2: 2, 3: 3, 4: 3}
    # a margin narrower than where the cells vanish changes nothing
    narrow = close_gaps(tracks, max_distance_px=8.0, max_gap_frames=5, field_px=(100, 100), edge_margin_px=0.4)
    assert narrow.tolist() == close_gaps(tracks, max_distance_px=8.0, max_gap_frames=5).tolist()
