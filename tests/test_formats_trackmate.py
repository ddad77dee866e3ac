"""TrackMate XML and CSV: a hand-written fixture, round trips, geff's own converter, hostile files."""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from fixtures.tables import FIXTURES, LINEAGE, assert_frame_columns_equal, numeric_columns, pipeline_tables

from leadertrack.errors import InputError
from leadertrack.formats import read_tracks, write_tracks
from leadertrack.formats.trackmate import read_trackmate_csv, read_trackmate_xml, write_trackmate_xml

XML_FIXTURE = FIXTURES / "trackmate_division.xml"


def test_hand_written_trackmate_xml_reads_tracks_divisions_and_units() -> None:
    ts = read_tracks(XML_FIXTURE)
    t = ts.tracks
    # Track_0 splits into tracks 1 (mother) + 3, 4 (daughters); Track_1 is track 2; the filtered
    # Track_2 and the untracked spot 400 are not read.
    assert t.groupby("track_id")["frame"].apply(list).to_dict() == {1: [0, 1, 2], 2: [0, 1, 2], 3: [3, 4], 4: [3, 5]}
    assert dict(zip(ts.cells["track_id"], ts.cells["parent_track_id"])) == {1: 0, 2: 0, 3: 1, 4: 1}
    assert ts.pixel_size_um == 0.5 and ts.frame_interval_min == 0.5
    assert ts.ndim == 2
    first = t.iloc[0]
    assert (first["x"], first["y"]) == (20.0, 40.0)  # 10 µm / 0.5 µm per pixel
    assert (first["x_um"], first["y_um"]) == (10.0, 20.0)
    assert t.loc[(t["track_id"] == 4) & (t["frame"] == 5), "time_min"].item() == 2.5
    assert t["MEAN_INTENSITY_CH1"].tolist() == [101, 102, 103, 201, 202, 203, 104, 106, 105, 107]
    assert "TrackMate XML" in ts.units_source


def test_geffs_own_trackmate_converter_agrees_with_our_reader(tmp_path: Path) -> None:
    """An independent parser (geff's TrackMate converter) of the same file gives the same tracks."""
    from geff.convert import from_trackmate_xml_to_geff

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # geff warns about TrackMate's 'micron'/'sec' units
        from_trackmate_xml_to_geff(XML_FIXTURE, tmp_path / "tm.geff", discard_filtered_tracks=True, discard_filtered_spots=True)
        via_geff = read_tracks(tmp_path / "tm.geff")
    ours = read_tracks(XML_FIXTURE)
    assert_frame_columns_equal(ours.tracks, via_geff.tracks, ["y_um", "x_um", "time_min", "MEAN_INTENSITY_CH1"])
    assert ours.cells[["track_id", "parent_track_id"]].to_numpy().tolist() == via_geff.cells[
        ["track_id", "parent_track_id"]
    ].to_numpy().tolist()


def test_trackmate_csv_spot_table_skips_header_rows_and_untracked_spots() -> None:
    ts = read_tracks(FIXTURES / "trackmate_spots.csv")
    assert ts.tracks["track_id"].tolist() == [1, 1, 1, 2, 2, 2]  # TRACK_ID + 1
    assert ts.tracks["frame"].tolist() == [0, 1, 2, 0, 1, 2]
    assert ts.tracks["x"].tolist() == [10.0, 11.0, 12.0, 50.0, 50.5, 51.0]  # µm, read as 1 µm pixels
    assert ts.tracks["MEAN_INTENSITY_CH1"].tolist() == [101, 102, 103, 201, 202, 203]
    assert ts.pixel_size_um == 1.0 and ts.frame_interval_min == pytest.approx(0.5)
    assert "LABEL" not in ts.tracks and "ID" not in ts.tracks


def test_trackmate_csv_with_a_division_asks_for_the_xml(tmp_path: Path) -> None:
    lines = (FIXTURES / "trackmate_spots.csv").read_text().splitlines()
    path = tmp_path / "spots.csv"
    path.write_text("\n".join([*lines, "ID103,103,0,10,11,23,0,90,2,2.5,1,,104"]) + "\n")
    with pytest.raises(InputError, match=r"track 1 has 2 rows in frame 2"):
        read_trackmate_csv(path)


@pytest.mark.parametrize("ndim", [2, 3])
def test_round_trip_keeps_numeric_columns_ids_divisions_and_units(tmp_path: Path, ndim: int) -> None:
    tracks, cells = pipeline_tables(4, ndim=ndim, pixel_size_um=0.65, frame_interval_min=5.0)
    path = write_trackmate_xml(tracks, cells, tmp_path / "t.xml", pixel_size_um=0.65, frame_interval_min=5.0)
    back = read_trackmate_xml(path)
    assert back.pixel_size_um == pytest.approx(0.65) and back.frame_interval_min == pytest.approx(5.0)
    assert back.ndim == ndim
    # TrackMate features are numbers: text columns (role) cannot travel, everything numeric does.
    assert_frame_columns_equal(tracks, back.tracks, numeric_columns(tracks))
    assert "role" not in back.tracks
    assert dict(zip(back.cells["track_id"], back.cells["parent_track_id"])) == {t: p for t, (_, _, p) in LINEAGE.items()}
    per_track = [c for c in numeric_columns(cells) if c != "parent_track_id"]
    got = back.cells.set_index("track_id").loc[cells["track_id"]].reset_index()
    assert_frame_columns_equal(cells.assign(frame=0), got.assign(frame=0), per_track)


def test_uncalibrated_tracks_are_written_in_pixels_and_frames(tmp_path: Path) -> None:
    # a run without units: its _um columns hold pixels, its _min columns frames (a calibrated table written
    # without units keeps its units: test_formats_dispatch)
    tracks, cells = pipeline_tables(5, pixel_size_um=1.0, frame_interval_min=1.0)
    path = write_tracks(tracks, cells, tmp_path / "t.xml")
    model = ET.parse(path).getroot().find("Model")
    assert (model.get("spatialunits"), model.get("timeunits")) == ("pixel", "frame")
    back = read_tracks(path)
    assert back.pixel_size_um is None and back.frame_interval_min is None
    assert_frame_columns_equal(tracks, back.tracks, ["y", "x"])
    assert "speed_um_per_min" not in back.tracks and "front_distance_px" in back.tracks
    assert_frame_columns_equal(
        tracks.rename(columns={"speed_um_per_min": "speed_px_per_frame"}), back.tracks, ["speed_px_per_frame"]
    )


def test_written_xml_follows_the_trackmate_schema(tmp_path: Path) -> None:
    tracks, cells = pipeline_tables(6)
    root = ET.parse(write_trackmate_xml(tracks, cells, tmp_path / "t.xml", pixel_size_um=0.5, frame_interval_min=2.0)).getroot()
    assert root.tag == "TrackMate" and root.get("version")
    model = root.find("Model")
    declared = {f.get("feature") for f in model.iterfind("FeatureDeclarations/SpotFeatures/Feature")}
    spots = list(model.iterfind("AllSpots/SpotsInFrame/Spot"))
    assert int(model.find("AllSpots").get("nspots")) == len(spots) == len(tracks)
    for spot in spots:
        assert {"ID", "name", "FRAME", "POSITION_X", "POSITION_Y", "POSITION_Z", "POSITION_T", "RADIUS", "QUALITY"} <= set(spot.attrib)
        assert set(spot.attrib) - {"ID", "name"} <= declared
    assert {"is_leader", "leader_score_frame", "track_leader_score", "track_is_leader"} <= declared
    ids = {s.get("ID") for s in spots}
    track_ids = []
    for track in model.iterfind("AllTracks/Track"):
        track_ids.append(track.get("TRACK_ID"))
        for edge in track.iterfind("Edge"):
            assert edge.get("SPOT_SOURCE_ID") in ids and edge.get("SPOT_TARGET_ID") in ids
    # one TrackMate track per lineage: {2, 3, 4}, {5}, {6, 7}, {9}; one-spot track 11 has no edge
    assert len(track_ids) == 4
    assert sorted(t.get("TRACK_ID") for t in model.iterfind("FilteredTracks/TrackID")) == sorted(track_ids)
    image = root.find("Settings/ImageData")
    assert (float(image.get("pixelwidth")), float(image.get("timeinterval"))) == (0.5, 2.0)


@pytest.mark.parametrize("ndim", [2, 3])
def test_the_image_size_is_the_field_unless_it_is_a_placeholder(tmp_path: Path, ndim: int) -> None:
    """``ImageData`` gives the size of the image the tracks came from, so its border is not taken
    for a front; not so the placeholder written when the image is unknown (the cells' extent, no
    file named), nor a size that spots lie outside of."""
    assert read_trackmate_xml(XML_FIXTURE).metadata["field_px"] == (256.0, 256.0)  # saved by Fiji: the image
    tracks, cells = pipeline_tables(6, ndim=ndim)
    field = (200, 300, 400)[-ndim:]
    units = {"pixel_size_um": 0.5, "frame_interval_min": 2.0}
    named = write_trackmate_xml(tracks, cells, tmp_path / "named.xml", **units, field_px=field, image_name="movie & co.tif")
    image = ET.parse(named).getroot().find("Settings/ImageData")
    assert (image.get("filename"), int(image.get("height")), int(image.get("width"))) == ("movie & co.tif", *field[-2:])
    assert read_trackmate_xml(named).metadata["field_px"] == tuple(float(n) for n in field)
    unknown = write_trackmate_xml(tracks, cells, tmp_path / "unknown.xml", **units)
    assert "field_px" not in read_trackmate_xml(unknown).metadata
    tree = ET.parse(named)
    tree.getroot().find("Settings/ImageData").set("width", "100")  # the spots reach x = 180
    tree.write(tmp_path / "small.xml", encoding="UTF-8", xml_declaration=True)
    assert "field_px" not in read_trackmate_xml(tmp_path / "small.xml").metadata


def test_tracks_edited_in_trackmate_are_renumbered_from_the_graph(tmp_path: Path) -> None:
    """If a stale track_id feature no longer fits the links, the links win."""
    tracks, cells = pipeline_tables(7)
    path = write_trackmate_xml(tracks, cells.assign(parent_track_id=0), tmp_path / "t.xml", pixel_size_um=None, frame_interval_min=None)
    tree = ET.parse(path)
    for spot in tree.getroot().iterfind("Model/AllSpots/SpotsInFrame/Spot"):
        spot.set("track_id", "1")  # every spot claims track 1: impossible
    tree.write(path, encoding="UTF-8", xml_declaration=True)
    back = read_trackmate_xml(path)
    assert back.tracks["track_id"].nunique() == tracks["track_id"].nunique()
    assert sorted(back.tracks.groupby("track_id").size()) == sorted(tracks.groupby("track_id").size())


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<TrackMate><Model><AllSpots>&lol3;</AllSpots></Model></TrackMate>
"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<TrackMate><Log>&xxe;</Log><Model/></TrackMate>
"""
SPOT_WITHOUT_X = """<TrackMate><Model spatialunits="pixel" timeunits="frame"><AllSpots nspots="2">
<SpotsInFrame frame="0"><Spot ID="1" FRAME="0" POSITION_Y="1" /></SpotsInFrame>
<SpotsInFrame frame="1"><Spot ID="2" FRAME="1" POSITION_X="1" POSITION_Y="1" /></SpotsInFrame>
</AllSpots><AllTracks><Track TRACK_ID="0"><Edge SPOT_SOURCE_ID="1" SPOT_TARGET_ID="2" /></Track></AllTracks>
</Model></TrackMate>"""
TWO_SPOTS = """<TrackMate><Model spatialunits="pixel" timeunits="frame"><AllSpots nspots="3">
<SpotsInFrame frame="0"><Spot ID="1" FRAME="0" POSITION_X="1" POSITION_Y="1" /><Spot ID="3" FRAME="0" POSITION_X="5" POSITION_Y="1" /></SpotsInFrame>
<SpotsInFrame frame="1"><Spot ID="2" FRAME="1" POSITION_X="1" POSITION_Y="1" /></SpotsInFrame>
</AllSpots><AllTracks><Track TRACK_ID="0">{edges}</Track></AllTracks></Model></TrackMate>"""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (BILLION_LAUGHS, "refused to read"),
        (EXTERNAL_ENTITY, "refused to read"),
        ("<TrackMate><Model>", "not a well-formed XML"),
        ("<Tracks><particle/></Tracks>", "not a TrackMate XML file"),
        (SPOT_WITHOUT_X, "spots lack the POSITION_X feature (spot 1)"),
        (SPOT_WITHOUT_X.replace('POSITION_Y="1" /></Spots', 'POSITION_Y="1" POSITION_X="left" /></Spots', 1), "POSITION_X holds a non-number 'left'"),
        ("<TrackMate><Log>no model</Log></TrackMate>", "not a TrackMate XML file"),
        (TWO_SPOTS.format(edges='<Edge SPOT_SOURCE_ID="1" SPOT_TARGET_ID="9" />'), "names spot 9, which is not in AllSpots"),
        (TWO_SPOTS.format(edges='<Edge SPOT_SOURCE_ID="1" />'), "lacks a numeric SPOT_SOURCE_ID or SPOT_TARGET_ID"),
        (TWO_SPOTS.format(edges=""), "no (visible) tracks"),
        (TWO_SPOTS.format(edges='<Edge SPOT_SOURCE_ID="1" SPOT_TARGET_ID="3" />'), "forward in time"),
        (
            TWO_SPOTS.format(edges='<Edge SPOT_SOURCE_ID="1" SPOT_TARGET_ID="2" /><Edge SPOT_SOURCE_ID="3" SPOT_TARGET_ID="2" />'),
            "merges are not supported",
        ),
    ],
)
def test_hostile_or_broken_xml_gives_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "model.xml"
    path.write_text(content)
    with pytest.raises(InputError) as error:
        read_tracks(path)
    assert str(error.value).startswith(str(path))
    assert message in str(error.value)
    assert "root:" not in str(error.value)  # /etc/passwd never leaks into the message


def test_numbers_are_written_as_java_can_parse_them(tmp_path: Path) -> None:
    tracks, cells = pipeline_tables(8)
    tracks.loc[1, "front_distance_um"] = np.inf
    text = write_trackmate_xml(tracks, cells, tmp_path / "t.xml", pixel_size_um=1.0, frame_interval_min=1.0).read_text()
    assert 'speed_um_per_min="NaN"' in text and '"Infinity"' in text
    assert '"nan"' not in text and '"inf"' not in text


def test_geffs_trackmate_converter_reads_our_xml(tmp_path: Path) -> None:
    """An independent TrackMate parser accepts what we write, with the same spots and links."""
    from geff.convert import from_trackmate_xml_to_geff
    from geff.core_io import read_to_memory

    tracks, cells = pipeline_tables(9)
    path = write_trackmate_xml(tracks, cells, tmp_path / "t.xml", pixel_size_um=0.5, frame_interval_min=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from_trackmate_xml_to_geff(path, tmp_path / "t.geff")
        memory = read_to_memory(str(tmp_path / "t.geff"))  # geff warns about TrackMate's unit names
    assert len(memory["node_ids"]) == len(tracks)
    assert len(memory["edge_ids"]) == len(tracks) - tracks["track_id"].nunique() + int((cells["parent_track_id"] > 0).sum())
    by_id = dict(zip(memory["node_ids"].tolist(), memory["node_props"]["POSITION_X"]["values"].tolist()))
    expected = tracks.sort_values(["track_id", "frame"])["x"].to_numpy() * 0.5
    assert [by_id[i] for i in range(len(tracks))] == pytest.approx(expected)
    assert memory["node_props"]["is_leader"]["values"].sum() == tracks["is_leader"].sum()


def test_thick_slices_keep_z_in_micrometres(tmp_path: Path) -> None:
    """z is stored in xy pixels, so z_um = z * pixel_size_um holds for anisotropic voxels."""
    tree = ET.parse(XML_FIXTURE)
    image = tree.getroot().find("Settings/ImageData")
    image.set("nslices", "10")
    image.set("voxeldepth", "2.0")
    for k, spot in enumerate(tree.getroot().iterfind("Model/AllSpots/SpotsInFrame/Spot")):
        spot.set("POSITION_Z", str(2.0 * (k % 4)))
    tree.write(tmp_path / "thick.xml", encoding="UTF-8", xml_declaration=True)
    ts = read_trackmate_xml(tmp_path / "thick.xml")
    assert ts.ndim == 3
    assert set(ts.tracks["z_um"]) <= {0.0, 2.0, 4.0, 6.0}
    assert ts.tracks["z_um"].to_numpy() == pytest.approx(ts.tracks["z"].to_numpy() * ts.pixel_size_um)


def test_trackmate_to_us_to_trackmate_keeps_spots_links_and_features(tmp_path: Path) -> None:
    ours = read_trackmate_xml(XML_FIXTURE)
    again = read_trackmate_xml(
        write_trackmate_xml(ours.tracks, ours.cells, tmp_path / "again.xml", pixel_size_um=ours.pixel_size_um, frame_interval_min=ours.frame_interval_min)
    )
    assert_frame_columns_equal(ours.tracks, again.tracks, list(ours.tracks.columns))  # QUALITY, RADIUS included
    assert again.cells[["track_id", "parent_track_id"]].to_numpy().tolist() == ours.cells.to_numpy().tolist()
    assert (again.pixel_size_um, again.frame_interval_min) == (ours.pixel_size_um, ours.frame_interval_min)
