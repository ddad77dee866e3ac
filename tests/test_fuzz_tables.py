"""Property tests of the tracks-table reader: any CSV gives valid tracks or a one-line InputError.

Cells are drawn from numbers, huge and negative numbers, NaN/inf, text and blanks; columns from
our names, aliases and junk. Whatever is read satisfies the TrackSet contract.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadertrack.errors import InputError
from leadertrack.formats import read_tracks

FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_CELLS = st.one_of(
    st.integers(-3, 40).map(str),
    st.floats(-1e3, 1e3, allow_nan=False).map(repr),
    st.sampled_from(["", "nan", "inf", "-inf", "1e30", str(2**63), str(2**64), "1.5", "abc", '"1,2"', "0x10", "1_000"]),
)
_COLUMNS = st.lists(
    st.sampled_from(["track_id", "frame", "y", "x", "z", "particle", "y_um", "x_um", "time_min", "parent_track_id", "track_score", "note"]),
    min_size=1,
    max_size=7,
    unique=True,
)


def assert_valid_trackset(ts) -> None:
    """The TrackSet contract every reader promises."""
    tracks, cells = ts.tracks, ts.cells
    assert tracks["track_id"].dtype == np.int64 and (tracks["track_id"] >= 1).all()
    assert tracks["frame"].dtype == np.int64 and (tracks["frame"] >= 0).all()
    for axis in ("y", "x", "z"):
        if axis in tracks:
            assert np.isfinite(tracks[axis].to_numpy(dtype=float)).all()
    assert not tracks.duplicated(["track_id", "frame"]).any()
    assert tracks.equals(tracks.sort_values(["track_id", "frame"], kind="stable"))
    assert set(cells["track_id"]) == set(tracks["track_id"])
    parents = cells["parent_track_id"]
    assert ((parents == 0) | parents.isin(cells["track_id"])).all()


def _read(text: str | bytes, suffix: str = ".csv"):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"tracks{suffix}"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "track ids start at 0"
                return read_tracks(path, format="table")
        except InputError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc), str(exc)
            return None


@FUZZ
@given(columns=_COLUMNS, rows=st.lists(st.lists(_CELLS, min_size=7, max_size=7), max_size=8))
def test_any_csv_is_read_validly_or_refused(columns, rows):
    text = ",".join(columns) + "\n" + "".join(",".join(row[: len(columns)]) + "\n" for row in rows)
    ts = _read(text)
    if ts is not None:
        assert_valid_trackset(ts)
        assert len(ts.tracks) == len(rows)


@FUZZ
@given(
    ids=st.lists(st.integers(0, 2**62), min_size=1, max_size=10),
    frames=st.lists(st.integers(0, 10**9), min_size=10, max_size=10),
    seed=st.integers(0, 2**16),
)
def test_valid_tables_round_trip_exactly(ids, frames, seed):
    """Any ids (0-based or huge) and frames: rows are kept, ids shifted only when 0 is used."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"track_id": ids, "frame": frames[: len(ids)]}).drop_duplicates(["track_id", "frame"])
    table["y"], table["x"] = rng.normal(size=(2, len(table))) * 100
    ts = _read(table.to_csv(index=False))
    assert ts is not None
    assert_valid_trackset(ts)
    shift = 1 if (table["track_id"] == 0).any() else 0
    expected = table.assign(track_id=table["track_id"] + shift).sort_values(["track_id", "frame"]).reset_index(drop=True)
    np.testing.assert_array_equal(ts.tracks[["track_id", "frame"]].to_numpy(), expected[["track_id", "frame"]].to_numpy())
    np.testing.assert_allclose(ts.tracks[["y", "x"]].to_numpy(), expected[["y", "x"]].to_numpy(), rtol=1e-12)


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes_as_csv(data):
    ts = _read(b"track_id,frame,y,x\n" + data)
    if ts is not None:
        assert_valid_trackset(ts)
