"""Tests for leadertrack.features.measure: per cell-frame and per track features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadertrack.errors import InputError
from leadertrack.features import localisation_noise_um, measure, window_half_frames


def scene(seed: int = 0, *, ndim: int = 2) -> pd.DataFrame:
    """A still sheet at x < 60, a straight mover (track 1) ahead of it at 2 µm/min along +x,
    a cell that never moves (track 2) inside the sheet and a two-cell chain (3 leads 4)."""
    rng = np.random.default_rng(seed)
    rows = []
    ys, xs = np.meshgrid(np.arange(5.0, 200, 10), np.arange(5.0, 60, 10), indexing="ij")
    sheet = np.column_stack([ys.ravel(), xs.ravel()])
    for f in range(10):
        t = 5.0 * f
        for i, (y, x) in enumerate(sheet + rng.normal(0, 0.3, sheet.shape)):
            rows.append((100 + i, f, t, y, x))
        rows.append((1, f, t, 100.0, 70.0 + 2.0 * t))
        rows.append((2, f, t, 52.0, 33.0))
        rows.append((3, f, t, 160.0, 70.0 + 1.0 * t))
        rows.append((4, f, t, 160.0, 60.0 + 1.0 * t))
    table = pd.DataFrame(rows, columns=["track_id", "frame", "time_min", "y_um", "x_um"])
    if ndim == 3:
        table.insert(3, "z_um", 10.0 + rng.normal(0, 0.1, len(table)))
    return table


def test_velocity_speed_and_front_distance():
    tracks, _cells, fronts = measure(scene(), geometry="planar", field_um=(200.0, 400.0))
    mover = tracks[tracks.track_id == 1]
    assert mover["speed_um_per_min"].to_numpy() == pytest.approx(2.0)
    assert mover["vx_um_per_min"].to_numpy() == pytest.approx(2.0)
    assert mover["outward_speed_um_per_min"].to_numpy() == pytest.approx(2.0)
    assert (mover["front_distance_um"] < 0).all()  # ahead of the sheet
    assert (tracks.loc[tracks.track_id == 2, "front_distance_um"] > 0).all()  # inside it
    assert (mover["front_rank"] == 1).all()
    assert set(fronts.columns) >= {"frame", "time_min", "front_id", "front_position_um", "front_speed_um_per_min"}


def test_track_features():
    _tracks, cells, _ = measure(scene(), geometry="planar", field_um=(200.0, 400.0))
    c = cells.set_index("track_id")
    assert c.loc[1, "persistence"] == pytest.approx(1.0)
    assert c.loc[1, "directionality"] == pytest.approx(1.0)
    assert c.loc[1, "mean_speed_um_per_min"] == pytest.approx(2.0)
    assert c.loc[1, "msd_exponent"] == pytest.approx(2.0, abs=0.01)  # ballistic
    assert c.loc[1, "n_frames"] == 10 and c.loc[1, "first_frame"] == 0 and c.loc[1, "last_frame"] == 9
    # a track that never moves: persistence is defined (0), not a division by zero
    assert c.loc[2, "persistence"] == 0.0
    assert c.loc[2, "mean_speed_um_per_min"] == 0.0
    assert c.loc[1, "time_at_front_min"] == pytest.approx(50.0)
    assert (c["parent_track_id"] == 0).all()
    assert c["persistence"].between(0, 1).all()


def test_trailing_and_tip():
    tracks, _, _ = measure(scene(), geometry="planar", field_um=(200.0, 400.0))
    last = tracks[tracks.frame == 5].set_index("track_id")
    assert last.loc[4, "n_ahead"] >= 1 and last.loc[4, "n_ahead_same_way"] == 1  # 4 trails 3
    assert last.loc[3, "n_ahead_same_way"] == 0
    assert last.loc[3, "is_tip"]  # nobody ahead, 4 behind
    assert last.loc[1, "n_ahead"] == 0


def test_3d_uses_volume_density():
    tracks, _cells, _ = measure(scene(ndim=3), geometry="radial")
    assert "vz_um_per_min" in tracks and "local_density_per_1000um3" in tracks
    assert "local_density_per_100um2" not in tracks


def test_parent_track_id_is_carried_to_cells():
    t = scene()
    t["parent_track_id"] = np.where(t.track_id == 4, 3, 0)
    _, cells, _ = measure(t, geometry="planar")
    assert cells.set_index("track_id").loc[4, "parent_track_id"] == 3


def test_input_is_not_modified():
    t = scene()
    before = t.copy()
    measure(t, geometry="planar")
    pd.testing.assert_frame_equal(t, before)


def test_a_table_indexed_by_its_own_columns_is_measured_as_any_other():
    """set_index("track_id", drop=False) used to fail on pandas' 'both an index level and a column label'."""
    t = scene()
    plain = measure(t, geometry="planar")[1]
    indexed = measure(t.set_index("track_id", drop=False), geometry="planar")[1]
    pd.testing.assert_frame_equal(indexed, plain)


@pytest.mark.parametrize("field", [(50.0, 50.0), (0.0, 0.0), (-200.0, 260.0), (np.nan, 260.0)])
def test_a_field_that_cannot_hold_the_cells_is_refused(field):
    """A field smaller than the positions (or swapped, zero, negative) used to be accepted: every cell beyond it
    taken to be at the image's border, leaders lost."""
    with pytest.raises(InputError, match="field_um"):
        measure(scene(), geometry="planar", field_um=field)
    assert len(measure(scene(), geometry="planar", field_um=(200.0, 260.0))[1]) > 50


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop(columns="track_id"), "track_id"),
        (lambda t: pd.concat([t, t.head(1)]), "same frame"),
        # these used to give wrong speeds without a word, or crash deep inside (IndexError, TypeError)
        (lambda t: t.assign(time_min=np.nan), "'time_min' must hold finite numbers"),
        (lambda t: t.assign(time_min=-t["time_min"]), "time_min must rise with the frame"),
        (lambda t: t.assign(frame=t["frame"].astype(float).where(t.index != 5)), "'frame' must hold whole numbers; row 5"),
        (lambda t: t.assign(y_um=t["y_um"].where(t.index != 7)), "'y_um' must hold finite numbers; row 7"),
        (lambda t: t.assign(x_um=t["x_um"].where(t.index != 3, np.inf)), "'x_um' must hold finite numbers; row 3"),
        (lambda t: t.assign(track_id="T" + t["track_id"].astype(str)), "'track_id' must hold whole numbers"),
    ],
)
def test_bad_tables(change, message):
    with pytest.raises(InputError, match=message):
        measure(change(scene()), geometry="planar")


@pytest.mark.parametrize(("dt", "half"), [(5.0, 3), (1.0, 15), (60.0, 2), (float("nan"), 2)])
def test_window_follows_frame_interval(dt, half):
    assert window_half_frames(dt) == half


@pytest.mark.parametrize("drift_um", [0.0, 3.0])
@pytest.mark.parametrize("noise_um", [0.0, 0.5, 2.0])
def test_localisation_noise_recovered_from_the_tracks(noise_um, drift_um):
    """Random walkers with localisation noise; a steady drift of the whole sheet (3 µm a frame) is not noise."""
    rng = np.random.default_rng(11)
    n_tracks, n_frames = 200, 30
    steps = rng.normal(0, 1.0, (n_tracks * n_frames, 2)) + [drift_um, 0.0]
    pos = np.cumsum(steps, axis=0) + rng.normal(0, noise_um, (n_tracks * n_frames, 2))
    start = np.repeat(np.arange(0, n_tracks * n_frames, n_frames), n_frames)
    assert localisation_noise_um(pos, start, start + n_frames - 1) == pytest.approx(noise_um, abs=0.15)


def test_jitter_does_not_make_a_slow_persistent_cell_wander():
    """A cell at 0.3 µm/min (1.5 µm a frame) with 1.5 µm of localisation noise still moves outward persistently."""
    rng = np.random.default_rng(3)
    t = scene(3)
    t = t[t.track_id >= 100]
    frames = np.arange(10)
    slow = pd.DataFrame({"track_id": 7, "frame": frames, "time_min": 5.0 * frames, "y_um": 100.0,
                         "x_um": 70.0 + 0.3 * 5.0 * frames})
    t = pd.concat([t, slow], ignore_index=True)
    t[["y_um", "x_um"]] += rng.normal(0, 1.5, (len(t), 2))
    tracks, _, _ = measure(t, geometry="planar", field_um=(200.0, 400.0))
    p = tracks.loc[tracks.track_id == 7, "relative_outward_persistence"]
    assert p.median() > 0.5
    assert tracks["relative_outward_persistence"].between(-1, 1).all()


def test_a_follower_diagonally_behind_its_leader_trails_it():
    """In a strand two cells wide, the cell in front of a follower is ahead and to the side (~50°)."""
    frames = np.arange(10)
    rows = [(1, f, 5.0 * f, 100.0, 80.0 + 2.5 * f) for f in frames]  # leader
    rows += [(2, f, 5.0 * f, 112.0, 70.0 + 2.5 * f) for f in frames]  # 10 µm behind, 12 µm aside
    sheet = [(100 + i, f, 5.0 * f, 5.0 + 10 * (i % 20), 5.0 + 10 * (i // 20)) for i in range(120) for f in frames]
    t = pd.DataFrame(rows + sheet, columns=["track_id", "frame", "time_min", "y_um", "x_um"])
    tracks, _, _ = measure(t, geometry="planar", field_um=(200.0, 300.0))
    same = tracks.groupby("track_id")["n_ahead_same_way"].mean()
    assert same[2] > 0.5
    assert same[1] == 0


def _dynamics_of_one_track(pos: np.ndarray, time: np.ndarray) -> tuple[float, float]:
    """Reference: persistence time and MSD exponent of one track, written out lag by lag."""
    n = len(pos)
    if n < 4:
        return np.nan, np.nan
    dt = float(np.median(np.diff(time)))
    steps = np.diff(pos, axis=0)
    norm = np.mean((steps**2).sum(axis=1))
    max_lag = max(1, (n - 1) // 2)
    persistence_time = np.nan
    if norm > 0:
        acf = [1.0] + [np.mean((steps[:-lag] * steps[lag:]).sum(axis=1)) / norm for lag in range(1, max_lag + 1)]
        below = [k for k, a in enumerate(acf) if a < np.exp(-1)]
        if below:
            k = below[0]
            persistence_time = (k - 1 + (acf[k - 1] - np.exp(-1)) / (acf[k - 1] - acf[k])) * dt
        else:
            persistence_time = max_lag * dt
    lags = np.arange(1, max(2, n // 3) + 1)
    msd = np.array([np.mean(((pos[lag:] - pos[:-lag]) ** 2).sum(axis=1)) for lag in lags])
    good = msd > 0
    exponent = np.polyfit(np.log(lags[good] * dt), np.log(msd[good]), 1)[0] if good.sum() >= 3 else np.nan
    return persistence_time, exponent


@pytest.mark.parametrize("ndim", [2, 3])
def test_persistence_time_and_msd_exponent_of_all_tracks_at_once_match_one_by_one(ndim):
    """Tracks of 1-300 frames (short ones measured together lag by lag, long ones by FFT), random
    walks of every persistence, cells that never move and straight runners: the same values as the
    one-track formulas."""
    from leadertrack.features import _LAG_LOOP_MAX, _track_dynamics

    rng = np.random.default_rng(ndim)
    tracks = [(np.cumsum(rng.normal(size=(250, ndim)), axis=0), np.arange(250) * 3.0)]  # long, first
    for k in range(160):
        n = int(rng.integers(1, 61)) if k % 2 else int(rng.integers(1, 301))
        kind = k % 5
        if kind == 0:
            pos = np.full((n, ndim), 123.4)  # never moves
        elif kind == 1:
            pos = 500.0 + np.outer(np.arange(n), rng.normal(size=ndim))  # straight
        else:
            turn = 0.3 if kind == 2 else 3.0
            velocity = np.cumsum(rng.normal(size=(n, ndim)) * turn, axis=0) + rng.normal(size=ndim)
            pos = 800.0 + np.cumsum(velocity, axis=0)
        time = np.cumsum(rng.choice([2.0, 2.0, 4.0], n))
        tracks.append((pos, time))
    lengths = np.array([len(p) for p, _ in tracks])
    assert (lengths // 3 > _LAG_LOOP_MAX).sum() > 20 and ((lengths >= 4) & (lengths // 2 <= _LAG_LOOP_MAX)).sum() > 20
    first = np.r_[0, np.cumsum(lengths)[:-1]]
    dt = np.array([np.median(np.diff(t)) if len(t) > 1 else np.nan for _, t in tracks])
    pos = np.concatenate([p for p, _ in tracks])
    persistence_time, msd_exponent = _track_dynamics(pos, first, first + lengths - 1, dt)
    expected = np.array([_dynamics_of_one_track(p, t) for p, t in tracks])
    np.testing.assert_allclose(persistence_time, expected[:, 0], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(msd_exponent, expected[:, 1], rtol=1e-7, atol=1e-9)
    assert np.isfinite(expected).all(axis=1).sum() > 80
