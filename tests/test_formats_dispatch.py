"""read_tracks / write_tracks: format detection, the CTC folder route, errors that name the file."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures.tables import FIXTURES, pipeline_tables
from skimage.draw import disk

from leadertrack.errors import InputError
from leadertrack.formats import FORMATS, TrackSet, detect_format, read_tracks, write_tracks


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("trackmate_division.xml", "trackmate"),
        ("trackmate_spots.csv", "trackmate_csv"),
        ("trackpy_tracks.csv", "table"),
    ],
)
def test_fixtures_are_recognised(name: str, expected: str) -> None:
    assert detect_format(FIXTURES / name) == expected


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xml", ".geff"])
def test_every_writer_is_read_back_by_read_tracks(tmp_path: Path, suffix: str) -> None:
    tracks, cells = pipeline_tables(30)
    path = write_tracks(tracks, cells, tmp_path / f"out{suffix}", pixel_size_um=0.65, frame_interval_min=5.0)
    ts = read_tracks(path)
    assert isinstance(ts, TrackSet) and ts.name == "out"
    assert ts.tracks["y_um"].to_numpy() == pytest.approx(tracks.sort_values(["track_id", "frame"])["y_um"].to_numpy())
    assert ts.frame_interval_min == pytest.approx(5.0)


@pytest.mark.parametrize("suffix", [".xml", ".geff"])
def test_units_left_out_are_those_the_table_shows(tmp_path: Path, suffix: str) -> None:
    """Without pixel_size_um / frame_interval_min, a calibrated table's µm columns used to be renamed _px and
    kept their µm values (speed_px_per_frame 0.56 where the cell moved 2.8 px per frame)."""
    tracks, cells = pipeline_tables(30)
    ts = read_tracks(write_tracks(tracks, cells, tmp_path / f"out{suffix}"))
    assert ts.pixel_size_um == pytest.approx(0.65) and ts.frame_interval_min == pytest.approx(5.0)
    assert ts.tracks["y_um"].to_numpy() == pytest.approx(tracks.sort_values(["track_id", "frame"])["y_um"].to_numpy())
    assert [c for c in ts.tracks.columns if c.endswith(("_px", "_per_frame"))] == ["area_px"]  # area_px is in pixels


def test_with_units_overrides_and_recomputes_physical_columns() -> None:
    with pytest.warns(UserWarning):
        ts = read_tracks(FIXTURES / "trackpy_tracks.csv")
    calibrated = ts.with_units(pixel_size_um=2.0, frame_interval_min=10.0)
    assert calibrated.tracks["y_um"].tolist() == [40.0, 42.0, 45.0, 80.0, 82.0]
    assert calibrated.tracks["time_min"].tolist() == [0.0, 10.0, 20.0, 0.0, 20.0]
    assert "given by the user" in calibrated.units_source
    assert "y_um" not in ts.tracks  # the original is unchanged


@pytest.mark.parametrize(
    ("make", "kwargs", "message"),
    [
        (lambda p: p / "absent.csv", {}, "no such file or folder"),
        (lambda p: (p / "t.json").write_text("{}") and p / "t.json", {}, "unknown tracks format '.json'"),
        (lambda p: (p / "empty").mkdir() or p / "empty", {}, "neither a GEFF store, a CTC folder"),
        (lambda p: FIXTURES / "trackpy_tracks.csv", {"format": "imaris"}, "unknown format 'imaris'"),
        (
            lambda p: (p / "edges.csv").write_text("LABEL,TRACK_ID,SPOT_SOURCE_ID,SPOT_TARGET_ID\n") and p / "edges.csv",
            {},
            "a TrackMate track or edge table, without positions",
        ),
        (lambda p: FIXTURES / "trackmate_division.xml", {"column_map": {"a": "b"}}, "column mapping applies to plain tables"),
    ],
)
def test_unreadable_inputs_name_the_path(tmp_path: Path, make, kwargs: dict, message: str) -> None:
    path = make(tmp_path)
    with pytest.raises(InputError, match=message) as error:
        read_tracks(path, **kwargs)
    assert str(error.value).startswith(str(path))


def test_write_tracks_refuses_unknown_formats(tmp_path: Path) -> None:
    tracks, cells = pipeline_tables(31)
    with pytest.raises(InputError, match="cannot write tracks as '.json'"):
        write_tracks(tracks, cells, tmp_path / "t.json")
    assert not any(tmp_path.iterdir())


def _ctc_movie(seed: int) -> tuple[pd.DataFrame, np.ndarray, dict[int, int]]:
    """Disks on a label stack: track 1 divides into 2 and 3 at frame 3; track 4 misses frame 2."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((6, 64, 64), dtype=np.uint16)
    spans = {1: [0, 1, 2], 2: [3, 4, 5], 3: [3, 4], 4: [0, 1, 3, 4, 5]}
    rows = []
    for track, frames in spans.items():
        for frame in frames:
            y, x = rng.uniform(8, 56, size=2)
            label = int(rng.integers(1, 200))
            while (labels[frame] == label).any():
                label += 1
            rr, cc = disk((y, x), 4, shape=labels.shape[1:])
            labels[frame][rr, cc] = label
            rows.append({"track_id": track, "frame": frame, "label": label, "y": rr.mean(), "x": cc.mean()})
    return pd.DataFrame(rows), labels, {2: 1, 3: 1}


def test_ctc_folder_round_trip_keeps_positions_and_divisions(tmp_path: Path) -> None:
    from leadertrack.ctc import write_ctc

    assert "ctc" in FORMATS
    tracks, labels, parents = _ctc_movie(0)
    write_ctc(tracks, labels, tmp_path / "01_RES", parent_track_id=parents)
    ts = read_tracks(tmp_path / "01_RES")
    assert read_tracks(tmp_path / "01_RES" / "res_track.txt").tracks.equals(ts.tracks)
    assert ts.pixel_size_um is None and ts.frame_interval_min is None
    assert ts.metadata["field_px"] == labels.shape[1:]  # the masks' size is the field
    lineage = dict(zip(ts.cells["track_id"], ts.cells["parent_track_id"]))
    # The gap in track 4 is written as a second segment, the child of the first (CTC rule), and
    # read back as track 4.
    assert lineage == {1: 0, 2: 1, 3: 1, 4: 0}
    merged = tracks.merge(ts.tracks, on=["track_id", "frame"], suffixes=("", "_read"), validate="one_to_one")
    assert len(merged) == len(tracks)
    np.testing.assert_allclose(merged[["y_read", "x_read"]].to_numpy(), merged[["y", "x"]].to_numpy(), atol=1e-9)


def test_ctc_export_with_gaps_classifies_as_the_tracks_it_was_written_from(tmp_path: Path) -> None:
    """`classify` of a CTC export (read_tracks + analyze_tracks) finds the tracks and leaders of
    the tracks written, although their gaps are separate CTC segments."""
    from leadertrack.ctc import write_ctc
    from leadertrack.detect import detect
    from leadertrack.pipeline import analyze_tracks
    from leadertrack.synthetic import simulate_invasion

    sim = simulate_invasion(geometry="planar", n_frames=20, field_um=(150.0, 200.0), n_leaders=2, seed=2)
    tracks = sim.tracks[["track_id", "frame", "label"]]
    gap = (tracks["track_id"] % 3 == 0) & tracks["frame"].isin([6, 13])  # a third of the tracks have two gaps
    leaders = sim.cells.loc[sim.cells["is_leader"], "track_id"]
    gap |= tracks["track_id"].isin(leaders) & (tracks["frame"] == 9)
    tracks = tracks[~gap].merge(detect(sim.labels)[["frame", "label", "y", "x"]], on=["frame", "label"])
    write_ctc(tracks, sim.labels, tmp_path / "ctc")
    assert len((tmp_path / "ctc" / "res_track.txt").read_text().splitlines()) > tracks["track_id"].nunique()
    table = tmp_path / "tracks.csv"
    tracks[["track_id", "frame", "y", "x"]].to_csv(table, index=False)

    def leaders_found(trackset: TrackSet) -> tuple[int, set[int]]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a short movie
            cells = analyze_tracks(trackset.with_units(pixel_size_um=1.0, frame_interval_min=5.0)).cells
        return len(cells), set(cells.loc[cells["is_leader"], "track_id"])

    ctc = read_tracks(tmp_path / "ctc")
    expected = leaders_found(read_tracks(table).with_field(ctc.metadata["field_px"]))
    assert expected[1]  # the written tracks have leaders
    assert leaders_found(ctc) == expected


@pytest.mark.realdata
def test_real_ctc_ground_truth_folder_reads_with_divisions(shared_data: Path) -> None:
    ts = read_tracks(shared_data / "ctc" / "Fluo-N2DH-SIM+" / "01_GT")  # finds TRA/man_track.txt
    assert ts.name == "01_GT"
    assert ts.tracks["frame"].max() == 64
    assert (ts.cells["parent_track_id"] > 0).sum() > 10  # SIM+ cells divide
    assert ts.tracks[["y", "x"]].stack().between(0, 690).all()


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xml", ".geff"])
def test_real_pipeline_tables_survive_every_format(tmp_path: Path, suffix: str) -> None:
    """measure + classify output (nullable Float64, pandas strings, booleans) through each writer."""
    from leadertrack.classify import classify
    from leadertrack.features import measure
    from leadertrack.synthetic import simulate_tracks

    sim = simulate_tracks(geometry="planar", n_frames=8, field_um=(150.0, 150.0), seed=3)
    tracks, cells, _ = measure(sim.tracks[["track_id", "frame", "y", "x", "y_um", "x_um", "time_min"]])
    tracks, cells = classify(tracks, cells)
    back = read_tracks(write_tracks(tracks, cells, tmp_path / f"r{suffix}", pixel_size_um=1.0, frame_interval_min=5.0))
    text = {"role", "reason"} if suffix == ".xml" else set()  # TrackMate features are numbers
    assert set(tracks.columns) - text <= set(back.tracks.columns)
    assert set(cells.columns) - text <= set(back.cells.columns)
    e = tracks.sort_values(["track_id", "frame"]).reset_index(drop=True)
    a = back.tracks.sort_values(["track_id", "frame"]).reset_index(drop=True)
    for column in ("leader_score_frame", "is_leader", "front_rank", "speed_um_per_min"):
        np.testing.assert_allclose(a[column].astype(float), e[column].astype(float), err_msg=column)
    if not text:
        assert a["role"].astype(str).tolist() == e["role"].astype(str).tolist()
    got = back.cells.set_index("track_id").loc[cells["track_id"]]
    np.testing.assert_allclose(got["leader_score"].astype(float), cells["leader_score"].astype(float))


def test_a_result_folder_can_be_classified_again(tmp_path: Path) -> None:
    tracks, cells = pipeline_tables(32)
    folder = tmp_path / "movie"
    folder.mkdir()
    tracks.to_csv(folder / "tracks.csv", index=False)  # as leadertrack run writes them
    cells.to_csv(folder / "cells.csv", index=False)
    assert detect_format(folder) == "result"
    assert "field_px" not in read_tracks(folder).metadata  # no run.json: the image's size is unknown
    (folder / "run.json").write_text('{"input": {"path": "movie.tif", "shape": [40, 256, 384]}}')
    ts = read_tracks(folder)
    assert ts.metadata["field_px"] == (256, 384)  # the movie's frame size, from run.json
    assert ts.name == "movie" and ts.pixel_size_um == pytest.approx(0.65) and ts.frame_interval_min == pytest.approx(5.0)
    assert dict(zip(ts.cells["track_id"], ts.cells["parent_track_id"])) == dict(zip(cells["track_id"], cells["parent_track_id"]))
    assert len(ts.tracks) == len(tracks)
