"""Property tests of the TrackMate XML reader: random spot graphs and damaged documents.

Random graphs (edges between any spots, backwards in time, merges, splits, self-loops) and
random byte damage give valid tracks or a one-line InputError; never another exception.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadertrack.errors import InputError
from leadertrack.formats import read_tracks
from test_fuzz_tables import assert_valid_trackset

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_VALUES = st.one_of(
    st.integers(-2, 6).map(str),
    st.floats(-50, 50, allow_nan=False).map(repr),
    st.sampled_from(["", "NaN", "Infinity", "1e300", "x", "&amp;", "2.5"]),
)


def _document(spots: list[dict[str, str]], edges: list[tuple[int, int]], *, unit: str = "micron") -> str:
    spot_xml = "".join(
        "<Spot " + " ".join(f'{k}="{v}"' for k, v in spot.items()) + "/>" for spot in spots
    )
    edge_xml = "".join(f'<Edge SPOT_SOURCE_ID="{a}" SPOT_TARGET_ID="{b}"/>' for a, b in edges)
    return (
        f'<?xml version="1.0"?><TrackMate version="7"><Model spatialunits="{unit}" timeunits="sec">'
        f"<AllSpots><SpotsInFrame>{spot_xml}</SpotsInFrame></AllSpots>"
        f'<AllTracks><Track TRACK_ID="0" name="T0">{edge_xml}</Track></AllTracks>'
        '<FilteredTracks><TrackID TRACK_ID="0"/></FilteredTracks></Model>'
        '<Settings><ImageData pixelwidth="0.5" pixelheight="0.5" timeinterval="30"/></Settings></TrackMate>'
    )


def _read(text: str | bytes):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tracks.xml"
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        try:
            return read_tracks(path)
        except InputError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc), str(exc)
            return None


@st.composite
def graphs(draw):
    n = draw(st.integers(1, 8))
    frames = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    spots = [
        {"ID": str(i + 1), "FRAME": str(f), "POSITION_X": str(1.0 + i), "POSITION_Y": str(2.0 * f)}
        for i, f in enumerate(frames)
    ]
    edges = draw(st.lists(st.tuples(st.integers(1, n + 1), st.integers(1, n + 1)), max_size=10))
    return spots, edges


@FUZZ
@given(graph=graphs())
def test_random_graphs(graph):
    spots, edges = graph
    ts = _read(_document(spots, edges))
    if ts is not None:
        assert_valid_trackset(ts)
        assert ts.pixel_size_um == 0.5


@FUZZ
@given(
    graph=graphs(),
    damage=st.lists(st.tuples(st.integers(0, 7), st.sampled_from(["ID", "FRAME", "POSITION_X", "POSITION_Y"]), _VALUES), max_size=3),
    drop=st.lists(st.tuples(st.integers(0, 7), st.sampled_from(["ID", "FRAME", "POSITION_X"])), max_size=2),
)
def test_damaged_spot_features(graph, damage, drop):
    spots, edges = graph
    for index, key, value in damage:
        spots[index % len(spots)][key] = value
    for index, key in drop:
        spots[index % len(spots)].pop(key, None)
    ts = _read(_document(spots, edges))
    if ts is not None:
        assert_valid_trackset(ts)


@FUZZ
@given(
    graph=graphs(),
    cut=st.floats(0, 1),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.sampled_from(list(b'<>"=/&; \x00\xff'))), max_size=4),
)
def test_damaged_bytes(graph, cut, edits):
    data = bytearray(_document(*graph).encode())
    for where, byte in edits:
        data[int(where * len(data))] = byte
    ts = _read(bytes(data[: max(1, int(cut * len(data)))] if cut < 1 else data))
    if ts is not None:
        assert_valid_trackset(ts)
