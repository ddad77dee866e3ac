"""Tracks <-> graph of detections: edges from (tracks, parents) and tracks back from edges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadertrack.errors import InputError
from leadertrack.formats.graph import lineage_ids, track_edges, tracklets_from_edges, tracks_from_graph


@st.composite
def lineages(draw) -> tuple[pd.DataFrame, dict[int, int]]:
    """Random forests of tracks: each track lasts 1-5 frames and may divide into two daughters."""
    rows, parents, next_id = [], {}, 1
    pending = [(None, draw(st.integers(0, 3))) for _ in range(draw(st.integers(1, 4)))]
    while pending:
        parent, start = pending.pop(0)
        track, next_id = next_id, next_id + 1
        length = draw(st.integers(1, 5))
        rows += [{"track_id": track, "frame": start + k} for k in range(length)]
        if parent is not None:
            parents[track] = parent
        if next_id + len(pending) < 30 and draw(st.booleans()):  # divide into two daughters
            pending += [(track, start + length), (track, start + length)]
    return pd.DataFrame(rows).sort_values(["track_id", "frame"], ignore_index=True), parents


@settings(max_examples=60, deadline=None, derandomize=True)
@given(lineages())
def test_tracks_survive_edges_and_back(data: tuple[pd.DataFrame, dict[int, int]]) -> None:
    tracks, parents = data
    edges = track_edges(tracks, parents)
    frames = tracks["frame"].to_numpy()
    # From the graph alone: same partition into tracks and the same divisions, up to numbering.
    tracklet, found = tracklets_from_edges(len(tracks), edges, frames, source="x")
    relabel = pd.Series(tracklet).groupby(tracks["track_id"]).agg(["nunique", "first"])
    assert (relabel["nunique"] == 1).all() and relabel["first"].is_unique
    mapping = relabel["first"].to_dict()
    assert found == {mapping[c]: mapping[p] for c, p in parents.items()}
    # With the ids stored beside the graph, exactly the same ids come back.
    shuffled = edges[np.random.default_rng(0).permutation(len(edges))][:, ::-1]  # reversed links are oriented
    ids, again = tracks_from_graph(len(tracks), shuffled, frames, given_ids=tracks["track_id"].to_numpy(), source="x")
    assert ids.tolist() == tracks["track_id"].tolist() and again == parents


def test_gap_split_single_child_needs_the_stored_ids() -> None:
    tracks = pd.DataFrame({"track_id": [1, 1, 2, 2], "frame": [0, 1, 3, 4]})
    edges = track_edges(tracks, {2: 1})
    tracklet, parents = tracklets_from_edges(4, edges, tracks["frame"].to_numpy(), source="x")
    assert tracklet.tolist() == [1, 1, 1, 1] and parents == {}  # one unbranched path
    ids, parents = tracks_from_graph(4, edges, tracks["frame"].to_numpy(), given_ids=np.array([1, 1, 2, 2]), source="x")
    assert ids.tolist() == [1, 1, 2, 2] and parents == {2: 1}


@pytest.mark.parametrize(
    "given",
    [np.array([1, 1, 1, 1]), np.array([1, 2, 1, 2]), np.array([0, 0, 2, 2]), np.array([1, 1, np.nan, 2])],
)
def test_stored_ids_that_do_not_fit_the_graph_are_ignored(given: np.ndarray) -> None:
    edges = np.array([[0, 1], [2, 3]])
    frames = np.array([0, 1, 0, 1])
    ids, parents = tracks_from_graph(4, edges, frames, given_ids=given, source="x")
    assert ids.tolist() == [1, 1, 2, 2] and parents == {}


def test_links_within_one_frame_and_merges_are_errors() -> None:
    with pytest.raises(InputError, match="x: a link goes from frame 0 to frame 0"):
        tracks_from_graph(2, np.array([[0, 1]]), np.array([0, 0]), given_ids=None, source="x")
    with pytest.raises(InputError, match="merge"):
        tracklets_from_edges(3, np.array([[0, 2], [1, 2]]), np.array([0, 0, 1]), source="x")


def test_lineage_is_the_root_track() -> None:
    assert lineage_ids(np.array([5, 6, 7, 9]), {6: 5, 7: 6}).to_dict() == {5: 5, 6: 5, 7: 5, 9: 9}
