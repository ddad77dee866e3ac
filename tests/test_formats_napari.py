"""napari Tracks layer data (no napari import needed): to and from, numeric properties, graph."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.tables import LINEAGE, assert_frame_columns_equal, numeric_columns, pipeline_tables

from leadertrack.errors import InputError
from leadertrack.formats import from_napari_tracks, to_napari_tracks


@pytest.mark.parametrize("ndim", [2, 3])
def test_layer_data_round_trip(ndim: int) -> None:
    tracks, cells = pipeline_tables(20, ndim=ndim)
    data, properties, graph = to_napari_tracks(tracks, cells)
    assert data.shape == (len(tracks), 2 + ndim)
    assert graph == {t: [p] for t, (_, _, p) in LINEAGE.items() if p}
    back = from_napari_tracks(data, properties, graph, pixel_size_um=0.65, frame_interval_min=5.0)
    assert_frame_columns_equal(tracks, back.tracks, numeric_columns(tracks))
    got = back.cells.set_index("track_id").loc[cells["track_id"]].reset_index()
    per_track = [c for c in numeric_columns(cells) if c != "parent_track_id"]
    assert_frame_columns_equal(cells.assign(frame=0), got.assign(frame=0), [*per_track, "parent_track_id"])


def test_properties_are_numeric_for_color_by_and_rows_follow_data() -> None:
    tracks, cells = pipeline_tables(21)
    shuffled = tracks.sample(frac=1.0, random_state=1)
    data, properties, _ = to_napari_tracks(shuffled, cells)
    assert all(v.dtype.kind == "f" and len(v) == len(data) for v in properties.values())
    assert "role" not in properties and "track_reason" not in properties
    assert {"is_leader", "leader_score_frame", "track_leader_score", "track_is_leader"} <= set(properties)
    order = np.lexsort((data[:, 1], data[:, 0]))
    assert (order == np.arange(len(data))).all()
    expected = tracks.sort_values(["track_id", "frame"])["is_leader"].to_numpy(dtype=float)
    assert (properties["is_leader"] == expected).all()


def test_merging_graph_and_bad_shapes_are_errors() -> None:
    data = np.array([[1, 0, 0.0, 0.0], [2, 0, 1.0, 1.0], [3, 1, 1.0, 1.0]])
    with pytest.raises(InputError, match="track 3 has 2 parents"):
        from_napari_tracks(data, graph={3: [1, 2]})
    with pytest.raises(InputError, match="4 or 5 columns"):
        from_napari_tracks(data[:, :3])
