"""Degenerate movies and tables have defined results: no NaN in is_leader, no division by zero.

Zero cells, one cell, one frame, cells that all leave the field, a stationary movie and
duplicated frames go through ``measure`` + ``classify`` (tiny hand-made tables) and through
``analyze_movie`` (tiny label stacks, so segmentation does not blur what is tested), with
numpy's floating point errors raised and RuntimeWarnings turned into errors.
"""

from __future__ import annotations

import tracemalloc
import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest

from leadertrack.classify import classify
from leadertrack.config import RunConfig
from leadertrack.detect import detect_frame
from leadertrack.errors import InputError
from leadertrack.features import measure
from leadertrack.pipeline import analyze_movie
from leadertrack.units import add_physical_columns

FIELD_UM = (100.0, 100.0)


@contextmanager
def strict_numerics():
    """Division by zero, overflow and invalid operations raise; RuntimeWarnings are errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with np.errstate(all="raise"):
            yield


def _table(rows: list[tuple[int, int, float, float]]) -> pd.DataFrame:
    tracks = pd.DataFrame(rows, columns=["track_id", "frame", "y", "x"])
    tracks["label"] = tracks["track_id"]
    return add_physical_columns(tracks, pixel_size_um=1.0, frame_interval_min=1.0)


def _assert_defined(tracks: pd.DataFrame, cells: pd.DataFrame) -> None:
    for table in (tracks, cells):
        assert table["is_leader"].dtype == bool
    assert tracks["role"].isin(["leader", "follower", "other"]).all()
    assert np.isfinite(cells["leader_score"]).all()
    assert cells["leader_score"].between(0, 1).all()
    for column in ("mean_speed_um_per_min", "persistence"):
        assert np.isfinite(cells[column]).all(), column
    assert (cells["mean_speed_um_per_min"] >= 0).all()
    assert cells["persistence"].between(0, 1).all()
    speed = tracks["speed_um_per_min"].to_numpy(dtype=float)
    assert not np.isinf(speed).any() and (speed[np.isfinite(speed)] >= 0).all()


def _rng_rows(seed: int) -> list[tuple[int, int, float, float]]:
    rng = np.random.default_rng(seed)
    return [(i, t, 10.0 * i, 20.0 + t + rng.normal()) for i in range(1, 6) for t in range(6)]


CASES = {
    "one cell, one frame": [(1, 0, 10.0, 10.0)],
    "one cell, moving": [(1, t, 10.0, 10.0 + t) for t in range(4)],
    "one frame, five cells": [(i, 0, 10.0 * i, 20.0) for i in range(1, 6)],
    "stationary": [(i, t, 10.0 * i, 20.0) for i in range(1, 6) for t in range(6)],
    "duplicated frames (moves every other frame)": [(i, t, 10.0 * i, 20.0 + t // 2) for i in range(1, 6) for t in range(6)],
    "all cells on one spot": [(i, t, 10.0, 10.0) for i in range(1, 4) for t in range(4)],
    "a cell back and forth (zero net displacement)": [(1, t, 10.0, 10.0 + (t % 2)) for t in range(6)]
    + [(2, t, 30.0, 10.0) for t in range(6)],
    "noisy sheet": _rng_rows(0),
}


@pytest.mark.parametrize("rows", CASES.values(), ids=CASES.keys())
def test_measure_and_classify_are_defined(rows):
    with strict_numerics():
        tracks, cells, _ = measure(_table(rows), field_um=FIELD_UM)
        tracks, cells = classify(tracks, cells)
    _assert_defined(tracks, cells)
    assert len(cells) == len({r[0] for r in rows})


def test_stationary_cells_have_zero_speed_and_zero_persistence():
    with strict_numerics():
        tracks, cells, _ = measure(_table(CASES["stationary"]), field_um=FIELD_UM)
        tracks, cells = classify(tracks, cells)
    assert (cells["mean_speed_um_per_min"] == 0).all()
    assert (cells["persistence"] == 0).all()
    assert not cells["is_leader"].any()


def test_a_straight_mover_has_persistence_one():
    with strict_numerics():
        _, cells, _ = measure(_table(CASES["one cell, moving"]), field_um=FIELD_UM)
    assert cells["persistence"].iloc[0] == pytest.approx(1.0)
    assert cells["mean_speed_um_per_min"].iloc[0] == pytest.approx(1.0)


def test_zero_cells_is_a_clear_error():
    empty = _table([])
    with pytest.raises(InputError, match="no cells"):
        measure(empty, field_um=FIELD_UM)


# --------------------------------------------------------------------------- whole pipeline


def _config() -> RunConfig:
    config = RunConfig()
    config.output.report = False
    config.units.pixel_size_um = 1.0
    config.units.frame_interval_min = 1.0
    config.link.min_track_length = 1
    config.link.search_range_um = 6.0
    return config


def _disc_labels(n_frames: int, centres: list[list[tuple[float, float]]], shape=(48, 48), radius: float = 3.0) -> np.ndarray:
    """(T,Y,X) labels with one disc per cell per frame; centres[t] lists (y, x), None = absent."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    labels = np.zeros((n_frames, *shape), np.uint32)
    for t in range(n_frames):
        for label, centre in enumerate(centres[t], start=1):
            if centre is not None:
                labels[t][(yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2] = label
    return labels


def _analyze(labels: np.ndarray):
    movie = (labels > 0).astype(np.float32) * 100.0
    with strict_numerics():
        return analyze_movie(movie, _config(), labels=labels)


def test_movie_without_cells_is_a_clear_error():
    labels = np.zeros((3, 16, 16), np.uint32)
    with pytest.raises(InputError, match="no cells found in any frame"):
        analyze_movie(np.ones((3, 16, 16), np.float32), _config(), labels=labels)


def test_one_cell_movie():
    centres = [[(24.0, 10.0 + 2 * t)] for t in range(5)]
    result = _analyze(_disc_labels(5, centres))
    _assert_defined(result.tracks, result.cells)
    assert len(result.cells) == 1
    assert result.cells["mean_speed_um_per_min"].iloc[0] == pytest.approx(2.0, rel=0.05)


def test_one_frame_movie():
    centres = [[(10.0, 10.0), (30.0, 12.0), (20.0, 30.0)]]
    result = _analyze(_disc_labels(1, centres))
    _assert_defined(result.tracks, result.cells)
    assert len(result.tracks) == 3


def test_cells_leaving_the_field_leave_empty_frames_with_a_warning():
    """Three cells run out of the right edge; the last frames are empty and reported."""
    centres = [[(10.0, 30.0 + 6 * t), (24.0, 28.0 + 6 * t), (38.0, 32.0 + 6 * t)] for t in range(3)]
    centres += [[None, None, None]] * 2
    labels = _disc_labels(5, centres)
    result = _analyze(labels)
    _assert_defined(result.tracks, result.cells)
    assert result.provenance["counts"]["frames_without_cells"] == [3, 4]
    assert any("no cells found in 2 of 5 frames" in w for w in result.provenance["warnings"])
    assert set(result.tracks["frame"]) == {0, 1, 2}


def test_stationary_movie():
    centres = [[(10.0, 10.0), (10.0, 30.0), (30.0, 20.0), (38.0, 38.0)]] * 5
    result = _analyze(_disc_labels(5, centres))
    _assert_defined(result.tracks, result.cells)
    assert (result.cells["mean_speed_um_per_min"] == 0).all()
    assert not result.cells["is_leader"].any()
    assert len(result.cells) == 4  # one track per cell, not fragments


def test_duplicated_frames_movie():
    """Every frame saved twice (a common export mistake): zero steps every other frame."""
    moving = [[(10.0, 8.0 + 3 * t), (24.0, 8.0 + t), (38.0, 8.0 + t)] for t in range(4)]
    doubled = [frame for frame in moving for _ in range(2)]
    result = _analyze(_disc_labels(len(doubled), doubled))
    _assert_defined(result.tracks, result.cells)
    assert len(result.cells) == 3
    speeds = np.sort(result.cells["mean_speed_um_per_min"].to_numpy())
    assert speeds[0] > 0 and speeds[2] / speeds[0] == pytest.approx(3.0, rel=0.1)  # 3 px vs 1 px per 2 frames


def test_nan_and_inf_pixels_are_replaced_with_a_warning():
    rng = np.random.default_rng(3)
    centres = [[(12.0, 10.0 + t), (30.0, 30.0 - t)] for t in range(4)]
    labels = _disc_labels(4, centres, radius=4.0)
    movie = rng.normal(10.0, 1.0, labels.shape).astype(np.float32) + 100.0 * (labels > 0)
    clean = analyze_movie(movie, _config())
    movie[0, 0, 0], movie[1, 5, 5], movie[2, 47, 47] = np.nan, np.inf, -np.inf
    with strict_numerics():
        dirty = analyze_movie(movie, _config())
    _assert_defined(dirty.tracks, dirty.cells)
    assert any("NaN or infinite pixels in 3 of 4 frames (0, 1, 2)" in w for w in dirty.provenance["warnings"])
    assert len(dirty.tracks) == len(clean.tracks)
    np.testing.assert_allclose(dirty.tracks[["y", "x"]], clean.tracks[["y", "x"]], atol=0.5)


def test_huge_sparse_label_values_do_not_allocate_by_value():
    labels = np.zeros((8, 8), np.uint64)
    labels[1:3, 1:3] = 2**40
    labels[5:7, 5:7] = 7
    tracemalloc.start()
    try:
        found = detect_frame(labels)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert found["label"].tolist() == [7, 2**40]
    assert found["area_px"].tolist() == [4, 4]
    assert peak < 2**20


@pytest.mark.parametrize(
    "value, match",
    [(2**32 + 1, "must be 0 \\(background\\) to 4294967295"), (-1, "must be 0 \\(background\\)")],
)
def test_user_labels_that_do_not_fit_labels_tif_are_refused(value, match):
    labels = np.zeros((2, 8, 8), np.int64)
    labels[:, 2:4, 2:4] = value
    with pytest.raises(InputError, match=match):
        analyze_movie(np.ones((2, 8, 8), np.float32), _config(), labels=labels)


def test_float_user_labels_are_refused():
    with pytest.raises(InputError, match="labels must be integers"):
        analyze_movie(np.ones((2, 8, 8), np.float32), _config(), labels=np.full((2, 8, 8), 1.5))


@pytest.mark.parametrize("shape", [(3, 1, 1), (3, 2, 2), (1, 5, 5), (2, 1, 50)], ids=str)
@pytest.mark.parametrize("diameter_um", [None, 5.0])
def test_tiny_movies(shape, diameter_um):
    """Movies of a few pixels: a one-line error, or a defined result; never a crash inside a filter."""
    config = _config()
    config.segment.nucleus_diameter_um = diameter_um
    movie = np.random.default_rng(0).random(shape).astype(np.float32) * 100
    try:
        with strict_numerics():
            result = analyze_movie(movie, config)
    except InputError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("array: ")
    else:
        _assert_defined(result.tracks, result.cells)


TRACK_FILES = {
    "a single row": "track_id,frame,y,x\n1,0,5,5\n",
    "a gap of 10^9 frames": "track_id,frame,y,x\n1,0,5,5\n1,1000000000,6,5\n2,0,10,10\n2,1,11,10\n",
    "frames near 10^12": "track_id,frame,y,x\n1,999999999999,5,5\n1,1000000000000,6,5\n",
    "3-D with a flat z": "track_id,frame,z,y,x\n1,0,0,5,5\n1,1,0,6,5\n2,0,0,9,9\n2,1,0,9,10\n",
    "ids near 2^63": "track_id,frame,y,x\n9000000000000000000,0,5,5\n9000000000000000000,1,6,5\n",
}


@pytest.mark.parametrize("text", TRACK_FILES.values(), ids=TRACK_FILES.keys())
def test_degenerate_track_files_are_analysed(tmp_path, text):
    from leadertrack.formats import read_tracks
    from leadertrack.pipeline import analyze_tracks

    path = tmp_path / "tracks.csv"
    path.write_text(text)
    tracemalloc.start()
    try:
        with strict_numerics():
            result = analyze_tracks(read_tracks(path).with_units(pixel_size_um=1.0, frame_interval_min=1.0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    _assert_defined(result.tracks, result.cells)
    assert set(result.cells["track_id"]) == set(pd.read_csv(path)["track_id"])
    assert peak < 64 * 2**20  # nothing is allocated per frame number
