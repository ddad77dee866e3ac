"""Imaris .mat spot exports: a synthetic file with known content, and the real spheroid tracks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from leadertrack.errors import InputError
from leadertrack.formats import read_tracks
from leadertrack.formats.imaris_mat import IMARIS_TRACK_OFFSET, read_imaris_mat


def _write_mat(path: Path, **overrides) -> Path:
    # rows: x, y, z, 3 unused, frame (1-based), track id (+1e9), spot id
    spots = np.array(
        [
            [10.0, 20.0, 5.0, np.nan, np.nan, np.nan, 1, IMARIS_TRACK_OFFSET + 0, 0],
            [11.0, 21.0, 6.0, np.nan, np.nan, np.nan, 2, IMARIS_TRACK_OFFSET + 0, 1],
            [50.0, 60.0, 7.0, np.nan, np.nan, np.nan, 2, IMARIS_TRACK_OFFSET + 4, 2],
        ]
    )
    content = {"data_sPos": spots, "DT": np.array([[0.05]]), "centrePosXYZ": np.array([[30, 40, 10]]), "eventHorizon": np.array([[25.0]])}
    content.update(overrides)
    scipy.io.savemat(path, {k: v for k, v in content.items() if v is not None})
    return path


def test_synthetic_mat_reads_3d_tracks_in_micrometres(tmp_path: Path) -> None:
    ts = read_tracks(_write_mat(tmp_path / "spots.mat"))
    assert ts.ndim == 3
    assert ts.tracks[["track_id", "frame", "z", "y", "x"]].to_numpy().tolist() == [
        [1, 0, 5, 20, 10],
        [1, 1, 6, 21, 11],
        [5, 1, 7, 60, 50],
    ]
    assert ts.tracks["spot_id"].tolist() == [0, 1, 2]
    assert ts.frame_interval_min == pytest.approx(3.0) and ts.pixel_size_um == 1.0
    assert ts.tracks["time_min"].tolist() == pytest.approx([0.0, 3.0, 3.0])
    assert ts.metadata == {"centre_um": (10.0, 40.0, 30.0), "radius_um": 25.0}


def test_a_new_pixel_size_rescales_the_spheroid_with_the_positions(tmp_path: Path) -> None:
    ts = read_tracks(_write_mat(tmp_path / "spots.mat")).with_units(pixel_size_um=2.0)
    assert ts.tracks["x_um"].tolist() == [20.0, 22.0, 100.0]
    assert ts.metadata == {"centre_um": (20.0, 80.0, 60.0), "radius_um": 50.0}


def _half_spheroid_mat(path: Path) -> Path:
    """A spheroid of radius 60 µm around (x, y, z) = (100, 100, 30) of which only the half x >= 100
    was imaged (so the dense core's centre lies about 22 µm from the true one), the centre in the file."""
    rng = np.random.default_rng(1)
    rows = []
    for frame in range(1, 5):
        v = rng.normal(size=(800, 3))
        p = np.array([100.0, 100.0, 30.0]) + 60 * v / np.linalg.norm(v, axis=1, keepdims=True) * rng.uniform(0, 1, (800, 1)) ** (1 / 3)
        p = p[p[:, 0] >= 100]
        rows += [[*q, np.nan, np.nan, np.nan, frame, IMARIS_TRACK_OFFSET + k] for k, q in enumerate(p)]
    return _write_mat(path, data_sPos=np.array(rows), centrePosXYZ=np.array([[100.0, 100.0, 30.0]]), eventHorizon=np.array([[60.0]]))


def test_the_analysis_puts_the_radial_front_around_the_centre_the_file_gives(tmp_path: Path) -> None:
    from leadertrack.config import FrontConfig, RunConfig
    from leadertrack.pipeline import analyze_tracks

    trackset = read_tracks(_half_spheroid_mat(tmp_path / "half.mat"))
    fronts = analyze_tracks(trackset).fronts
    assert fronts["geometry"].eq("radial").all() and fronts["geometry_reason"].iloc[0] == "radial: centre given"
    assert fronts[["centre_z_um", "centre_y_um", "centre_x_um"]].iloc[0].tolist() == pytest.approx([30.0, 100.0, 100.0])
    # asked for a planar front, the centre is not used
    planar = analyze_tracks(trackset, RunConfig(front=FrontConfig(geometry="planar"))).fronts
    assert planar["geometry"].eq("planar").all()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"DT": None}, "no numeric 'DT'"), ({"data_sPos": np.zeros((3, 4))}, "no 'data_sPos'")],
)
def test_incomplete_mat_files_are_clear_errors(tmp_path: Path, overrides: dict, message: str) -> None:
    path = _write_mat(tmp_path / "spots.mat", **overrides)
    with pytest.raises(InputError, match=message) as error:
        read_imaris_mat(path)
    assert str(error.value).startswith(str(path))


def test_a_non_matlab_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "fake.mat"
    path.write_text("not matlab")
    with pytest.raises(InputError, match="cannot read the MATLAB file"):
        read_tracks(path)


@pytest.mark.realdata
@pytest.mark.parametrize("number", [1, 2, 3])
def test_real_spheroid_tracks_load_with_sensible_extents(shared_data: Path, number: int) -> None:
    path = shared_data / "spheroid_tracks" / f"Alltrajdata{number}.mat"
    ts = read_tracks(path)
    t = ts.tracks
    assert ts.ndim == 3 and ts.frame_interval_min == pytest.approx(3.0)  # 180 s frames
    assert len(t) == 100_000  # the export holds the first 100k spots
    assert 3000 < t["track_id"].nunique() < 5000
    assert t["frame"].min() == 0 and 70 <= t["frame"].max() < 150
    for axis in ("z", "y", "x"):
        extent = t[f"{axis}_um"].max() - t[f"{axis}_um"].min()
        assert 100 < extent < 1000, axis  # a spheroid and its invasion: hundreds of µm
    # the spheroid centre lies inside the cloud of cells, its radius is a fraction of the extent
    centre = np.array(ts.metadata["centre_um"])
    assert ((t[["z_um", "y_um", "x_um"]].min().to_numpy() <= centre) & (centre <= t[["z_um", "y_um", "x_um"]].max().to_numpy())).all()
    assert 100 < ts.metadata["radius_um"] < 400
    # tracks move a few µm per frame, not hundreds (positions are consistent within tracks)
    steps = np.linalg.norm(t.groupby("track_id")[["z_um", "y_um", "x_um"]].diff().dropna().to_numpy(), axis=1)
    assert 0.5 < np.median(steps) < 20
