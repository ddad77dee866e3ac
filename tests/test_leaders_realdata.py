"""Front and leaders on real data (../shared/data): the scratch assay and 3-D spheroid tracks.

No public data carries leader labels, so these check physical expectations (issue 3).
Skipped when the data is absent.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from leadertrack.checks import aliased_linking_warning
from leadertrack.classify import classify
from leadertrack.features import measure
from leadertrack.front import find_front

SCRATCH_PIXEL_UM = 0.619


@pytest.fixture(scope="module")
def scratch_tracks(shared_data) -> tuple[pd.DataFrame, tuple[float, float]]:
    import tifffile
    import trackpy
    from scipy import ndimage as ndi

    path = shared_data / "scratch_assay" / "scratch-assay-labeled-10T-2Ch.tiff"
    if not path.exists():
        pytest.skip(f"real data file {path} not found (../shared/data is incomplete on this machine)")
    labels = tifffile.imread(path)[2]  # (C, T, Y, X): channel 2 = nuclei instance labels
    rows = []
    for t, frame in enumerate(labels):
        ids = np.unique(frame)
        ids = ids[ids > 0]
        for y, x in ndi.center_of_mass(frame > 0, frame, ids):
            rows.append((t, y, x))
    det = pd.DataFrame(rows, columns=["frame", "y", "x"])
    trackpy.quiet()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        linked = trackpy.link(det, search_range=30, memory=1, adaptive_stop=5, adaptive_step=0.9)
    tracks = pd.DataFrame({
        "track_id": linked["particle"].to_numpy() + 1, "frame": linked["frame"].to_numpy(),
        "y_um": linked["y"].to_numpy() * SCRATCH_PIXEL_UM, "x_um": linked["x"].to_numpy() * SCRATCH_PIXEL_UM,
    })
    tracks["time_min"] = tracks["frame"].astype(float)  # no interval in the file: one unit per frame
    field = (labels.shape[1] * SCRATCH_PIXEL_UM, labels.shape[2] * SCRATCH_PIXEL_UM)
    return tracks, field


def test_scratch_two_fronts_close_the_gap(scratch_tracks):
    tracks, field = scratch_tracks
    front = find_front(tracks, field_um=field)
    assert front.geometry == "planar" and front.n_fronts == 2
    assert (front.table["normal_x"].abs() > 0.99).all()  # the gap runs along y, fronts face along x
    pos = front.table.pivot(index="frame", columns="front_id", values="front_position_um")
    gap = -pos[2] - pos[1]  # x of the right front minus x of the left front
    assert gap.iloc[0] > 80  # a wide gap at the start ...
    assert gap.iloc[-1] < 0.5 * gap.iloc[0]  # ... that closes
    assert (front.table.groupby("front_id")["front_speed_um_per_min"].median() > 0).all()


def test_scratch_cells_at_the_fronts_move_into_the_gap(scratch_tracks):
    """The whole sheet migrates here, so few or no cells outrun it (leaders); those that do sit at
    a front, and the cells at the fronts move into the gap."""
    tracks, field = scratch_tracks
    tracks, cells, _ = measure(tracks, field_um=field)
    assert aliased_linking_warning(tracks) is None  # the cells at the fronts move into the gap, not back
    tracks, cells = classify(tracks, cells)
    judged = cells[cells.n_frames >= 5]
    at_front = judged[judged.front_distance_um.abs() <= 20]
    assert len(at_front) >= 5
    assert at_front["directionality"].median() > 0.3
    leaders = cells[cells.is_leader]
    assert (leaders["front_distance_um"] <= cells["front_distance_um"].quantile(0.25)).all()
    assert set(cells["front_id"]) == {1, 2}


def spheroid(shared_data, n: int) -> tuple[pd.DataFrame, np.ndarray, float]:
    import scipy.io as sio
    path = shared_data / "spheroid_tracks" / f"Alltrajdata{n}.mat"
    if not path.exists():
        pytest.skip(f"real data file {path} not found (../shared/data is incomplete on this machine)")
    m = sio.loadmat(path)
    d = m["data_sPos"]
    d = d[np.isfinite(d[:, [0, 1, 2, 6, 7]]).all(axis=1)]
    tracks = pd.DataFrame({
        "track_id": (d[:, 7] - 1e9 + 1).astype(np.int64), "frame": d[:, 6].astype(int) - 1,
        "z_um": d[:, 2], "y_um": d[:, 1], "x_um": d[:, 0],
    }).drop_duplicates(["track_id", "frame"])
    tracks = tracks[tracks.frame < 60]
    tracks["time_min"] = tracks["frame"] * float(m["DT"][0, 0]) * 60.0
    centre_xyz = m["centrePosXYZ"][0].astype(float)
    return tracks, centre_xyz[::-1].copy(), float(m["eventHorizon"][0, 0])


@pytest.mark.parametrize("n", [1, 2])
def test_spheroid_leaders_beyond_radius_move_outward(shared_data, n):
    """3-D analysis around the spheroid's known centre; shuffling identities removes the signal."""
    tracks, centre_zyx, radius = spheroid(shared_data, n)
    front = find_front(tracks, centre_um=tuple(centre_zyx))
    assert front.geometry == "radial"

    def separation(table: pd.DataFrame) -> tuple[float, int, pd.DataFrame]:
        t, c, _ = measure(table, front=front)
        assert aliased_linking_warning(t) is None
        t, c = classify(t, c)
        r = np.linalg.norm(t[["z_um", "y_um", "x_um"]].to_numpy() - centre_zyx, axis=1)
        c["radius_um"] = pd.Series(r).groupby(t["track_id"].to_numpy()).median().reindex(c.track_id).to_numpy()
        # outward persistent motion of the leaders, relative to everybody else
        motion = c.directionality * c.persistence
        lead = c.is_leader.to_numpy()
        sep = float(motion[lead].mean() - motion[~lead].mean()) if lead.any() else 0.0
        return sep, int(lead.sum()), c

    sep, n_leaders, cells = separation(tracks)
    leaders = cells[cells.is_leader]
    assert n_leaders >= 2
    # in the outer half of the spheroid (the tracked cells reach about 0.8 of eventHorizon)
    assert leaders["radius_um"].median() > max(0.7 * radius, cells["radius_um"].median())
    assert leaders["directionality"].median() > 0.2  # outward (real tracks are noisy)
    assert leaders["persistence"].median() > cells["persistence"].median()
    assert sep > 0.1

    rng = np.random.default_rng(0)
    shuffled = tracks.copy()
    shuffled["track_id"] = shuffled.groupby("frame")["track_id"].transform(lambda s: rng.permutation(s.to_numpy()))
    _, leaders_shuffled, _ = separation(shuffled)
    assert leaders_shuffled < n_leaders / 2


@pytest.mark.parametrize("n", [1, 2, 3])
def test_spheroid_geometry_found_without_being_told(shared_data, n):
    """``auto`` calls every real spheroid radial, with confidence, from the tracks alone (no field,
    no centre). Two of them rest on the stack's bottom and cover much of it, which does not count."""
    tracks, _, _ = spheroid(shared_data, n)
    front = find_front(tracks)
    assert front.geometry == "radial"
    assert front.confidence >= 0.5
