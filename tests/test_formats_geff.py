"""GEFF: round trips validated by the geff package, units on the axes, foreign stores."""

from __future__ import annotations

from pathlib import Path

import geff
import numpy as np
import pytest
from fixtures.tables import LINEAGE, assert_frame_columns_equal, pipeline_tables
from geff.core_io import read_to_memory
from geff.validate.tracks import validate_lineages, validate_tracklets

from leadertrack.errors import InputError
from leadertrack.formats import read_tracks, write_tracks
from leadertrack.formats.geff import read_geff, write_geff


@pytest.mark.parametrize("ndim", [2, 3])
def test_round_trip_is_valid_geff_and_loses_nothing(tmp_path: Path, ndim: int) -> None:
    tracks, cells = pipeline_tables(10, ndim=ndim, pixel_size_um=0.65, frame_interval_min=5.0)
    path = write_geff(tracks, cells, tmp_path / "tracks.geff", pixel_size_um=0.65, frame_interval_min=5.0)
    geff.validate_structure(str(path))  # raises if invalid
    back = read_geff(path)
    assert_frame_columns_equal(tracks, back.tracks, list(tracks.columns))
    got = back.cells.set_index("track_id").loc[cells["track_id"]].reset_index()
    assert_frame_columns_equal(cells.assign(frame=0), got.assign(frame=0), list(cells.columns))
    assert back.pixel_size_um == pytest.approx(0.65) and back.frame_interval_min == pytest.approx(5.0)
    assert back.ndim == ndim


def test_axes_carry_the_units_and_nodes_the_leader_results(tmp_path: Path) -> None:
    tracks, cells = pipeline_tables(11)
    path = write_geff(tracks, cells, tmp_path / "tracks.geff", pixel_size_um=0.65, frame_interval_min=5.0)
    memory = read_to_memory(str(path))
    axes = {a.name: a for a in memory["metadata"].axes}
    assert (axes["t"].type, axes["t"].unit, axes["t"].scale, axes["t"].scaled_unit) == ("time", "frame", 5.0, "minute")
    assert (axes["x"].type, axes["x"].unit, axes["x"].scale, axes["x"].scaled_unit) == ("space", "pixel", 0.65, "micrometer")
    assert (axes["x"].min, axes["x"].max) == pytest.approx((tracks["x"].min(), tracks["x"].max()))
    props = memory["node_props"]
    assert props["is_leader"]["values"].dtype == bool
    assert {"leader_score_frame", "track_leader_score", "track_is_leader", "track_reason", "role"} <= set(props)
    row = np.flatnonzero(memory["node_ids"] == 0)[0]
    first = tracks.sort_values(["track_id", "frame"]).iloc[0]
    assert props["leader_score_frame"]["values"][row] == pytest.approx(first["leader_score_frame"])
    assert memory["edge_ids"].shape == (len(tracks) - tracks["track_id"].nunique() + sum(p > 0 for *_, p in LINEAGE.values()), 2)


def test_lineages_and_tracklets_satisfy_geffs_track_validators(tmp_path: Path) -> None:
    tracks, cells = pipeline_tables(12)
    # Without the gap-split single child every track is a maximal tracklet: declared as such.
    keep = cells["track_id"] != 7
    tracks, cells = tracks[tracks["track_id"] != 7], cells[keep]
    path = write_geff(tracks, cells, tmp_path / "tracks.geff", pixel_size_um=None, frame_interval_min=None)
    memory = read_to_memory(str(path))
    assert memory["metadata"].track_node_props == {"lineage": "lineage_id", "tracklet": "track_id"}
    nodes, edges, props = memory["node_ids"], memory["edge_ids"], memory["node_props"]
    assert validate_tracklets(nodes, edges, props["track_id"]["values"]) == (True, [])
    assert validate_lineages(nodes, edges, props["lineage_id"]["values"]) == (True, [])


def test_a_gap_split_track_is_not_declared_a_tracklet_but_keeps_its_ids(tmp_path: Path) -> None:
    tracks, cells = pipeline_tables(13)  # track 7 is the only child of track 6
    path = write_geff(tracks, cells, tmp_path / "tracks.geff", pixel_size_um=None, frame_interval_min=None)
    memory = read_to_memory(str(path))
    assert "tracklet" not in memory["metadata"].track_node_props
    back = read_geff(path)
    assert back.pixel_size_um is None and back.frame_interval_min is None
    # without units the file does not claim them: µm/min columns are renamed honestly
    assert "speed_um_per_min" not in back.tracks and "track_mean_speed_um_per_min" not in memory["node_props"]
    speed = back.tracks.set_index(["track_id", "frame"])["speed_px_per_frame"]
    assert speed.to_numpy() == pytest.approx(tracks.set_index(["track_id", "frame"]).loc[speed.index, "speed_um_per_min"].to_numpy(), nan_ok=True)
    assert "mean_speed_px_per_frame" in back.cells
    assert dict(zip(back.cells["track_id"], back.cells["parent_track_id"]))[7] == 6
    assert sorted(back.tracks["track_id"].unique()) == sorted(LINEAGE)


def test_foreign_geff_without_track_ids_gets_tracklets_from_the_graph(tmp_path: Path) -> None:
    """A GEFF written directly with geff, micrometre positions, time in seconds, no track ids."""
    from geff.core_io import write_arrays
    from geff_spec import Axis, GeffMetadata

    # nodes 0-1-2 then a division into 3-4 and 5; node 6 alone; ids deliberately not 0..n-1
    node_ids = np.array([10, 11, 12, 13, 14, 15, 16], dtype=np.uint64)
    t = np.array([0.0, 60, 120, 180, 240, 180, 0])
    props = {
        "t": {"values": t, "missing": None},
        "y": {"values": np.array([1.0, 2, 3, 4, 5, 6, 7]), "missing": None},
        "x": {"values": np.array([0.0, 0, 0, 1, 1, -1, 9]), "missing": None},
        "score": {"values": np.arange(7) / 10, "missing": None},
    }
    edges = np.array([[10, 11], [11, 12], [12, 13], [13, 14], [12, 15]], dtype=np.uint64)
    meta = GeffMetadata(
        directed=True,
        axes=[Axis(name="t", type="time", unit="second"), Axis(name="y", type="space", unit="micrometer"),
              Axis(name="x", type="space", unit="micrometer")],
        node_props_metadata={}, edge_props_metadata={},
    )  # fmt: skip
    write_arrays(str(tmp_path / "foreign.zarr"), node_ids, props, edges, {}, meta)
    ts = read_tracks(tmp_path / "foreign.zarr")
    assert ts.frame_interval_min == 1.0 and ts.pixel_size_um == 1.0
    assert ts.tracks.groupby("track_id")["frame"].apply(list).to_dict() == {1: [0, 1, 2], 2: [0], 3: [3, 4], 4: [3]}
    assert dict(zip(ts.cells["track_id"], ts.cells["parent_track_id"])) == {1: 0, 2: 0, 3: 1, 4: 1}
    assert ts.tracks["score"].tolist() == pytest.approx([0.0, 0.1, 0.2, 0.6, 0.3, 0.4, 0.5])


def test_not_a_geff_store_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "empty.geff"
    folder.mkdir()
    with pytest.raises(InputError, match="not a valid GEFF store"):
        read_tracks(folder)


def test_geff_is_replaced_atomically(tmp_path: Path) -> None:
    tracks, cells = pipeline_tables(14)
    target = tmp_path / "t.geff"
    write_tracks(tracks, cells, target, pixel_size_um=0.5, frame_interval_min=1.0)
    write_tracks(tracks[tracks["track_id"] == 2], cells[cells["track_id"] == 2], target, pixel_size_um=0.5, frame_interval_min=1.0)
    assert read_tracks(target).tracks["track_id"].unique().tolist() == [2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.geff"]


def test_node_properties_declare_units_and_meaning(tmp_path: Path) -> None:
    tracks, cells = pipeline_tables(15)
    path = write_geff(tracks, cells, tmp_path / "t.geff", pixel_size_um=0.65, frame_interval_min=5.0)
    props = read_to_memory(str(path))["metadata"].node_props_metadata
    assert props["speed_um_per_min"].unit == "micrometer / minute"
    assert props["area_um2"].unit == "micrometer^2"
    assert props["track_mean_speed_um_per_min"].unit == "micrometer / minute"
    assert props["is_leader"].dtype == "bool" and "leader state" in props["is_leader"].description
    assert props["role"].dtype == "str" and props["leader_score_frame"].dtype == "float64"
    uncalibrated = write_geff(tracks, cells, tmp_path / "u.geff", pixel_size_um=None, frame_interval_min=None)
    assert read_to_memory(str(uncalibrated))["metadata"].node_props_metadata["speed_px_per_frame"].unit == "pixel / frame"


def test_anisotropic_voxels_are_read_in_micrometres(tmp_path: Path) -> None:
    """z in 2 µm slices beside 0.5 µm pixels: the z scale was ignored (z read at 0.5 µm: the spheroid flattened 4x)."""
    from geff.core_io import write_arrays
    from geff_spec import Axis, GeffMetadata

    node_ids = np.arange(4, dtype=np.uint64)
    props = {
        "t": {"values": np.array([0.0, 1, 0, 1]), "missing": None},
        "z": {"values": np.array([10.0, 11, 20, 20]), "missing": None},
        "y": {"values": np.array([100.0, 100, 40, 42]), "missing": None},
        "x": {"values": np.array([50.0, 52, 60, 60]), "missing": None},
    }
    edges = np.array([[0, 1], [2, 3]], dtype=np.uint64)
    axes = [Axis(name="t", type="time", unit="frame", scale=5.0, scaled_unit="minute"),
            Axis(name="z", type="space", unit="pixel", scale=2.0, scaled_unit="micrometer"),
            Axis(name="y", type="space", unit="pixel", scale=0.5, scaled_unit="micrometer"),
            Axis(name="x", type="space", unit="pixel", scale=0.5, scaled_unit="micrometer")]  # fmt: skip
    meta = GeffMetadata(directed=True, axes=axes, node_props_metadata={}, edge_props_metadata={})
    write_arrays(str(tmp_path / "aniso.zarr"), node_ids, props, edges, {}, meta)
    ts = read_tracks(tmp_path / "aniso.zarr")
    assert ts.pixel_size_um == 1.0  # positions in µm
    assert ts.tracks.sort_values(["track_id", "frame"])[["z_um", "y_um", "x_um"]].to_numpy().tolist()[:2] == [
        [20.0, 50.0, 25.0], [22.0, 50.0, 26.0],
    ]
    # an axis without a scale beside scaled ones cannot be put in µm: refused, not guessed
    axes[1] = Axis(name="z", type="space", unit="pixel")
    write_arrays(str(tmp_path / "mixed.zarr"), node_ids, props, edges, {}, GeffMetadata(
        directed=True, axes=axes, node_props_metadata={}, edge_props_metadata={}))
    with pytest.raises(InputError, match="the z axis has no unit or scale while the others have one"):
        read_tracks(tmp_path / "mixed.zarr")
