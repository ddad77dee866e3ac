"""Property tests of the GEFF reader: random graphs round-trip; damaged properties and edges are
read validly or refused with a one-line InputError.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadertrack.errors import InputError
from leadertrack.formats import read_tracks, write_geff
from test_fuzz_tables import assert_valid_trackset

FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def track_tables(draw) -> pd.DataFrame:
    rows = []
    for track in range(1, draw(st.integers(1, 4)) + 1):
        first = draw(st.integers(0, 3))
        for frame in range(first, first + draw(st.integers(1, 4))):
            rows.append((track, frame, draw(st.floats(-1e4, 1e4)), draw(st.floats(-1e4, 1e4))))
    return pd.DataFrame(rows, columns=["track_id", "frame", "y", "x"])


@FUZZ
@given(tracks=track_tables(), units=st.sampled_from([(None, None), (0.65, 2.0)]))
def test_round_trip(tracks, units):
    with tempfile.TemporaryDirectory() as tmp:
        path = write_geff(tracks, None, Path(tmp) / "t.geff", pixel_size_um=units[0], frame_interval_min=units[1])
        ts = read_tracks(path)
    assert_valid_trackset(ts)
    assert (ts.pixel_size_um, ts.frame_interval_min) == units
    ours = ts.tracks[["track_id", "frame", "y", "x"]].to_numpy(dtype=float)
    np.testing.assert_allclose(ours, tracks.sort_values(["track_id", "frame"]).to_numpy(dtype=float))


_DAMAGE = st.sampled_from(["text", "nan", "inf", "short", "float_ids", "negative"])


@FUZZ
@given(
    tracks=track_tables(),
    prop=st.sampled_from(["t", "y", "x", "track_id"]),
    damage=_DAMAGE,
    edges=st.one_of(st.none(), st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), max_size=4)),
)
def test_damaged_stores(tracks, prop, damage, edges):
    import zarr

    with tempfile.TemporaryDirectory() as tmp:
        path = write_geff(tracks, None, Path(tmp) / "t.geff", pixel_size_um=1.0, frame_interval_min=1.0)
        group = zarr.open_group(str(path), mode="r+")
        values = np.asarray(group[f"nodes/props/{prop}/values"][:])
        replacement = {
            "text": np.array(["a"] * len(values)),
            "nan": np.full(len(values), np.nan),
            "inf": np.full(len(values), np.inf),
            "short": values[:-1],
            "float_ids": values.astype(float) + 0.5,
            "negative": -np.abs(values.astype(float)) - 1,
        }[damage]
        del group[f"nodes/props/{prop}"]
        group["nodes/props"].create_array(f"{prop}/values", data=replacement)
        if edges is not None:
            del group["edges/ids"]
            group["edges"].create_array("ids", data=np.asarray(edges, dtype=np.uint64).reshape(-1, 2))
        try:
            ts = read_tracks(path)
        except InputError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc), str(exc)
            return
    assert_valid_trackset(ts)
