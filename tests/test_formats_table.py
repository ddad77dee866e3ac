"""Plain tracks tables: CSV / TSV / Parquet round trips, column mapping, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures.tables import FIXTURES, assert_frame_columns_equal, pipeline_tables

from leadertrack.errors import InputError
from leadertrack.formats import read_tracks, write_tracks
from leadertrack.formats.table import read_table, write_table


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
@pytest.mark.parametrize("ndim", [2, 3])
def test_round_trip_keeps_every_column_and_the_units(tmp_path: Path, suffix: str, ndim: int) -> None:
    tracks, cells = pipeline_tables(1, ndim=ndim, pixel_size_um=0.65, frame_interval_min=5.0)
    path = write_table(tracks, cells, tmp_path / f"tracks{suffix}")
    back = read_tracks(path)
    assert_frame_columns_equal(tracks, back.tracks, list(tracks.columns))
    assert back.pixel_size_um == pytest.approx(0.65)
    assert back.frame_interval_min == pytest.approx(5.0)
    assert back.ndim == ndim
    expected_cells = cells.sort_values("track_id").reset_index(drop=True)
    got = back.cells.set_index("track_id").loc[expected_cells["track_id"]].reset_index()
    assert_frame_columns_equal(expected_cells.assign(frame=0), got.assign(frame=0), list(cells.columns))


def test_trackpy_table_maps_particle_and_shifts_ids_from_zero() -> None:
    with pytest.warns(UserWarning, match="start at 0"):
        ts = read_tracks(FIXTURES / "trackpy_tracks.csv")
    assert ts.tracks["track_id"].tolist() == [1, 1, 1, 2, 2]
    assert ts.tracks["frame"].tolist() == [0, 1, 2, 0, 2]
    assert ts.tracks["x"].tolist() == [10.0, 11.5, 12.0, 30.0, 30.5]
    assert ts.tracks["mass"].tolist()[:2] == [500.0, 510.0]
    assert ts.pixel_size_um is None and ts.frame_interval_min is None
    assert "y_um" not in ts.tracks and "time_min" not in ts.tracks
    assert ts.cells["parent_track_id"].tolist() == [0, 0]


def test_column_map_renames_foreign_columns(tmp_path: Path) -> None:
    path = tmp_path / "foreign.csv"
    pd.DataFrame({"Cell": [4, 4, 9], "T": [0, 1, 0], "PosY": [1.0, 2.0, 3.0], "PosX": [5.0, 6.0, 7.0]}).to_csv(path, index=False)
    ts = read_tracks(path, column_map={"Cell": "track_id", "T": "frame", "PosY": "y", "PosX": "x"})
    assert ts.tracks[["track_id", "frame", "y", "x"]].to_numpy().tolist() == [[4, 0, 1, 5], [4, 1, 2, 6], [9, 0, 3, 7]]


def test_letter_case_and_honest_uncalibrated_names_are_recognised(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("Track_ID,Frame,y_px,x_px\n1,0,1.5,2.5\n1,1,2.5,3.5\n")
    ts = read_tracks(path)
    assert ts.tracks["y"].tolist() == [1.5, 2.5]
    assert ts.tracks["x"].tolist() == [2.5, 3.5]


def test_positions_in_micrometres_only_read_as_one_micrometre_pixels(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("track_id,frame,z_um,y_um,x_um,time_min\n1,0,3,10,20,0\n1,1,4,11,21,3\n")
    ts = read_tracks(path)
    assert ts.pixel_size_um == 1.0 and ts.frame_interval_min == 3.0
    assert ts.tracks[["z", "y", "x"]].to_numpy().tolist() == [[3, 10, 20], [4, 11, 21]]


@pytest.mark.parametrize(
    ("content", "column_map", "message"),
    [
        ("track_id,y,x\n1,2,3\n", None, "no 'frame' column"),
        ("track_id,time_min,y,x\n1,0,2,3\n", None, "no 'frame' column"),
        ("particle,frame,y,x\n1,0,2,3\n1,1,abc,3\n", None, "column 'y' holds a non-number 'abc' in data row 2"),
        ("track_id,frame,y,x\n1,0,2,3\n1,0,2,4\n", None, "track 1 has 2 rows in frame 0"),
        ("track_id,frame,y,x\n1,-1,2,3\n", None, "frame numbers must be ≥ 0"),
        ("track_id,frame,y,x\n1,0.5,2,3\n", None, "whole numbers"),
        ("track_id,frame,y,x\n1,0,2,\n", None, "column 'x' is empty in data row 1"),
        ("track_id,frame,y,x,y_um\n1,0,2,3,1\n1,1,4,3,5\n", None, "not a constant multiple"),
        ("id,frame,y,x\n1,0,2,3\n", {"ID": "track_id"}, "column_map names 'ID'"),
        ("track_id,frame,y,x,parent_track_id\n0,0,2,3,0\n", None, "track_id 0 is not allowed"),
        ("track_id,frame,y,x,parent_track_id\n1,0,2,3,7\n", None, "parent 7, which is not a track"),
    ],
)
def test_bad_tables_raise_one_clear_error_naming_the_file(
    tmp_path: Path, content: str, column_map: dict | None, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(InputError) as error:
        read_tracks(path, column_map=column_map)
    assert str(error.value).startswith(str(path))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_inconsistent_parent_within_a_track_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("track_id,frame,y,x,parent_track_id\n1,0,2,3,0\n2,1,2,3,1\n2,2,2,3,0\n")
    with pytest.raises(InputError, match="parent_track_id changes within track 2"):
        read_table(path)


def test_writing_is_atomic_and_leaves_no_partial_file(tmp_path: Path) -> None:
    tracks, cells = pipeline_tables(2)
    target = tmp_path / "t.parquet"
    target.write_bytes(b"old content")
    unwritable = tracks.assign(note=[object()] * len(tracks))  # Parquet cannot store Python objects
    with pytest.raises(Exception):
        write_table(unwritable, cells, target)
    assert target.read_bytes() == b"old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]
    write_tracks(tracks, cells, target)
    assert read_tracks(target).tracks["track_id"].nunique() == tracks["track_id"].nunique()


def test_inputs_are_not_modified(tmp_path: Path) -> None:
    tracks, cells = pipeline_tables(3)
    before_tracks, before_cells = tracks.copy(), cells.copy()
    write_table(tracks, cells, tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(tracks, before_tracks)
    pd.testing.assert_frame_equal(cells, before_cells)
    assert np.isnan(tracks["speed_um_per_min"]).any()


def test_y_and_x_in_um_at_different_scales_are_refused(tmp_path):
    """y_um = 0.5 y beside x_um = 0.7 x used to be read at 0.5 µm/px, x_um silently rewritten as 0.5 x."""
    table = pd.DataFrame({"track_id": [1, 1, 1], "frame": [0, 1, 2], "y": [10.0, 12, 14], "x": [20.0, 21, 22]})
    table["y_um"], table["x_um"] = 0.5 * table["y"], 0.7 * table["x"]
    table.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(InputError, match="y_um is 0.5 y but x_um is 0.7 x; pixels must be square"):
        read_tracks(tmp_path / "t.csv")
    table.assign(x_um=0.5 * table["x"]).to_csv(tmp_path / "t.csv", index=False)
    assert read_tracks(tmp_path / "t.csv").pixel_size_um == pytest.approx(0.5)


def test_a_flat_z_is_read_as_2d_as_trackmate_and_geff_files_are(tmp_path):
    """A table with z = 0 for every cell used to be measured in 3-D: another front normal, leaders lost."""
    table = pd.DataFrame({"track_id": [1, 1, 1], "frame": [0, 1, 2], "z": [0.0] * 3, "y": [10.0, 12, 14], "x": [20.0] * 3})
    table.to_csv(tmp_path / "t.csv", index=False)
    ts = read_tracks(tmp_path / "t.csv")
    assert ts.ndim == 2 and "z" not in ts.tracks and "read as 2-D" in ts.units_source + " ".join(ts.metadata.get("notes", []))
    table.assign(z=[0.0, 1.0, 2.0]).to_csv(tmp_path / "t.csv", index=False)
    assert read_tracks(tmp_path / "t.csv").ndim == 3


def test_a_z_step_unlike_the_pixels_or_a_z_um_without_z_is_refused_not_flattened(tmp_path):
    """z in 2 µm slices beside 0.5 µm pixels: z_um was recomputed at 0.5 µm per z (the spheroid flattened 4x); z_um
    beside y, x in pixels but without z was dropped, and the analysis went 2-D without a word."""
    import pandas as pd
    import pytest

    from leadertrack.errors import InputError
    from leadertrack.formats import read_tracks

    rows = pd.DataFrame({"track_id": [1, 1, 2, 2], "frame": [0, 1, 0, 1], "z": [10.0, 11, 20, 20],
                         "y": [100.0, 100, 40, 42], "x": [50.0, 52, 60, 60]})
    rows = rows.assign(z_um=rows.z * 2.0, y_um=rows.y * 0.5, x_um=rows.x * 0.5)
    rows.to_csv(tmp_path / "aniso.csv", index=False)
    with pytest.raises(InputError, match=r"z_um is 2 z but y_um is 0.5 y: .* give z in them \(z x 4\)"):
        read_tracks(tmp_path / "aniso.csv")
    rows.drop(columns=["z", "y", "x"]).to_csv(tmp_path / "um.csv", index=False)  # what the message offers
    assert read_tracks(tmp_path / "um.csv").tracks["z_um"].tolist() == [20.0, 22.0, 40.0, 40.0]
    rows.drop(columns=["z"]).to_csv(tmp_path / "no_z.csv", index=False)
    with pytest.raises(InputError, match="has z_um but no z beside y and x"):
        read_tracks(tmp_path / "no_z.csv")
