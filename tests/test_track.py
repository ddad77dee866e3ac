"""Tests for leadertrack.track: linking known straight-line tracks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadertrack.errors import InputError
from leadertrack.track import default_search_range_um, link


def _lines(starts, velocities, n_frames, *, seed=0, jitter=0.0, drop=()):
    """Detections of cells moving in straight lines; ``drop`` = (cell, frame) pairs left out."""
    rng = np.random.default_rng(seed)
    rows = []
    for cell, (start, velocity) in enumerate(zip(starts, velocities)):
        for t in range(n_frames):
            if (cell, t) in drop:
                continue
            y, x = np.asarray(start, float) + t * np.asarray(velocity, float) + rng.normal(0, jitter, 2)
            rows.append({"frame": t, "label": cell + 1, "y": y, "x": x, "area_px": 100, "truth": cell})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed)  # unordered input


def _recovered(tracks: pd.DataFrame) -> bool:
    """Each true cell is exactly one track and each track exactly one cell."""
    pairs = tracks.groupby("truth")["track_id"].nunique()
    back = tracks.groupby("track_id")["truth"].nunique()
    return bool((pairs == 1).all() and (back == 1).all())


def test_straight_lines_recovered_with_contract_columns():
    # 10 µm nuclei at 0.5 µm/px: cells 40 px apart, slow ones and one fast persistent leader
    # moving 0.9 nucleus diameter (18 px) per frame.
    starts = [(50, 20), (50, 60), (90, 20), (90, 60), (130, 40)]
    velocities = [(1, 0), (0, -1), (-1, 1), (0.5, 0.5), (0, 18)]
    detections = _lines(starts, velocities, 12, jitter=0.3)
    tracks = link(detections, search_range_um=10.0, pixel_size_um=0.5, frame_interval_min=5.0)
    assert _recovered(tracks)
    assert sorted(tracks["track_id"].unique()) == [1, 2, 3, 4, 5]
    assert tracks.groupby("track_id").size().eq(12).all()
    assert set(detections.columns) < set(tracks.columns)
    assert {"time_min", "y_um", "x_um", "area_um2"} <= set(tracks.columns)
    assert tracks[["track_id", "frame"]].equals(tracks[["track_id", "frame"]].sort_values(["track_id", "frame"]))
    row = tracks.iloc[3]
    assert row["time_min"] == row["frame"] * 5.0 and row["x_um"] == pytest.approx(row["x"] * 0.5)


@pytest.mark.parametrize("predict", [True, False])
def test_velocity_prediction_keeps_a_fast_mover_past_a_bystander(predict):
    # The mover goes 8 px per frame with a 10 px search range. At frame 4 a newly appearing
    # bystander sits 3 px ahead of the mover's last position, closer than the mover's true next
    # position (8 px): without prediction the mover jumps onto it.
    mover = [{"frame": t, "y": 50.0, "x": 8.0 * t, "truth": 0} for t in range(8)]
    bystander = [{"frame": t, "y": 50.0, "x": 27.0, "truth": 1} for t in range(4, 8)]
    detections = pd.DataFrame(mover + bystander)
    tracks = link(detections, search_range_um=10.0, predict=predict)
    assert _recovered(tracks) is predict


@pytest.mark.parametrize(("memory", "max_gap_frames", "n_tracks"), [(3, 0, 1), (1, 0, 2), (0, 0, 2), (1, None, 1), (1, 3, 1)])
def test_gap_of_two_frames_closed_by_memory_or_stitching(memory, max_gap_frames, n_tracks):
    detections = _lines([(20, 20)], [(1, 1)], 10, drop={(0, 4), (0, 5)})
    tracks = link(detections, search_range_um=5.0, memory=memory, max_gap_frames=max_gap_frames)
    assert tracks["track_id"].nunique() == n_tracks
    assert len(tracks) == 8


def test_search_range_is_in_micrometres():
    # 6 px per frame at 0.5 µm/px is 3 µm per frame.
    detections = _lines([(0, 0)], [(0, 6)], 5)
    assert link(detections, search_range_um=4.0, pixel_size_um=0.5, predict=False)["track_id"].nunique() == 1
    assert link(detections, search_range_um=2.0, pixel_size_um=0.5, predict=False)["track_id"].nunique() == 5


def test_min_track_length_drops_short_tracks_and_ids_stay_contiguous():
    long = _lines([(10, 10), (80, 80)], [(1, 0), (0, 1)], 6)
    short = pd.DataFrame({"frame": [2, 3], "label": [9, 9], "y": [40.0, 40.5], "x": [40.0, 40.0], "area_px": 50, "truth": 2})
    tracks = link(pd.concat([long, short]), search_range_um=5.0, min_track_length=3)
    assert sorted(tracks["truth"].unique()) == [0, 1]
    assert sorted(tracks["track_id"].unique()) == [1, 2]


def test_progress_and_empty_input():
    calls = []
    link(_lines([(5, 5)], [(1, 1)], 4), search_range_um=3.0, progress=lambda *a: calls.append(a))
    assert calls == [("link", t, 4) for t in range(1, 5)]
    empty = link(pd.DataFrame({"frame": [], "y": [], "x": []}), search_range_um=3.0)
    assert empty.empty and "track_id" in empty.columns


def test_link_names_detections_without_a_position():
    detections = pd.DataFrame({"frame": [0, 1, 2], "y": [0.0, np.nan, 1.0], "x": [0.0, 0.5, np.inf]})
    with pytest.raises(ValueError, match="2 of the 3 detections have no finite position"):
        link(detections, search_range_um=5.0)


def test_link_rejects_a_table_without_positions():
    with pytest.raises(ValueError, match="column"):
        link(pd.DataFrame({"frame": [0]}), search_range_um=1.0)


@pytest.mark.parametrize(
    ("option", "value"),
    [("search_range_um", np.nan), ("frame_interval_min", 0.0), ("memory", -1), ("max_gap_frames", -2), ("min_track_length", 1.5)],
)
def test_link_refuses_settings_that_mean_nothing(option, value):
    """NaN search range or memory -1 used to make every detection its own track; interval 0 all times 0."""
    detections = pd.DataFrame({"frame": [0, 1, 2], "y": [5.0, 5.5, 6.0], "x": [5.0, 5.0, 5.0]})
    assert link(detections, search_range_um=3.0)["track_id"].nunique() == 1
    with pytest.raises(ValueError, match=option):
        link(detections, **{"search_range_um": 3.0, option: value})


def test_default_search_range():
    assert default_search_range_um(nucleus_diameter_um=12.0) == 18.0
    assert default_search_range_um(nucleus_diameter_um=12.0, frame_interval_min=10.0, max_speed_um_per_min=0.5) == 5.0
    with pytest.raises(ValueError):
        default_search_range_um(nucleus_diameter_um=0.0)


def _grid_frames(n_frames: int) -> pd.DataFrame:
    """400 cells 3 px apart, jiggling 0.3 px."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:60:3.0, 0:60:3.0]
    return pd.concat(
        [
            pd.DataFrame({"frame": t, "y": yy.ravel() + rng.normal(0, 0.3, yy.size), "x": xx.ravel() + rng.normal(0, 0.3, xx.size)})
            for t in range(n_frames)
        ],
        ignore_index=True,
    )


@pytest.mark.parametrize(("search_range_um", "adaptive_search"), [(12.0, True), (40.0, False)])
def test_a_dense_sheet_with_a_generous_search_range_still_links(search_range_um, adaptive_search):
    # 12 px over cells 3 px apart: trackpy's subnetworks are too large to solve until the adaptive
    # search shrinks the range for them; without it, each frame's links of least total squared
    # distance, solved whole, keep each cell its own even at 13 spacings of range
    tracks = link(_grid_frames(3), search_range_um=search_range_um, adaptive_search=adaptive_search)
    assert tracks["track_id"].nunique() == 400
    node = (tracks["y"] / 3).round() * 100 + (tracks["x"] / 3).round()  # the grid point each row belongs to
    assert (node.groupby(tracks["track_id"]).nunique() == 1).all()  # every track stays with one cell


def test_a_search_range_far_too_large_is_a_clear_error():
    with pytest.raises(InputError, match=r"search range \(40 µm\) is so large"):
        link(_grid_frames(3), search_range_um=40.0)


def test_track_ids_follow_first_appearance_then_position():
    det = pd.DataFrame(
        {"frame": [0, 0, 1, 1, 1, 2, 2, 2], "y": [30.0, 10, 30, 10, 50, 30, 10, 50], "x": [0.0, 0, 0, 0, 0, 0, 0, 0]}
    )
    first = link(det, search_range_um=5)
    shuffled = link(det.sample(frac=1, random_state=3), search_range_um=5)
    pd.testing.assert_frame_equal(first, shuffled)
    starts = first.groupby("track_id")[["frame", "y"]].first()
    assert starts.to_records().tolist() == [(1, 0, 10.0), (2, 0, 30.0), (3, 1, 50.0)]


def _crossing(n_frames=16, merged=range(3, 8), seed=0):
    """Two cells crossing diagonally; while they overlap (``merged`` frames) one detection sits midway."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(n_frames):
        a = np.array([40.0 + 2 * t, 3.0 * t]) + rng.normal(0, 0.2, 2)
        b = np.array([60.0 - 2 * t, 3.0 * t]) + rng.normal(0, 0.2, 2)
        if t in merged:
            rows.append({"frame": t, "y": (a[0] + b[0]) / 2, "x": (a[1] + b[1]) / 2, "truth": -1})
        else:
            rows += [{"frame": t, "y": a[0], "x": a[1], "truth": 0}, {"frame": t, "y": b[0], "x": b[1], "truth": 1}]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_cells_crossing_through_a_merge_keep_their_identities(seed):
    # the merged object lasts 5 frames (longer than memory): without stitching the cell that
    # lost the object ends, and which cell the other track follows after the split is a coin toss
    tracks = link(_crossing(seed=seed), search_range_um=8.0)
    alone = tracks[tracks["truth"] >= 0]
    assert _recovered(alone)
    assert alone["track_id"].nunique() == 2
    assert len(tracks) == len(_crossing(seed=seed))  # the shared object is kept, on one of the two tracks
    unstitched = link(_crossing(seed=seed), search_range_um=8.0, max_gap_frames=0)
    assert unstitched["track_id"].nunique() > 2


def test_a_track_broken_for_longer_than_memory_is_stitched_back():
    # missing for 5 frames (memory 3): trackpy alone starts a new track, gap closing joins them,
    # following the cell's velocity (4 px/frame, so it reappears 24 px from where it vanished)
    detections = _lines([(20, 10), (60, 10)], [(0, 4), (0, 4)], 16, drop={(0, t) for t in range(6, 11)})
    assert link(detections, search_range_um=5.0, max_gap_frames=0)["track_id"].nunique() == 3
    tracks = link(detections, search_range_um=5.0)
    assert _recovered(tracks) and tracks["track_id"].nunique() == 2


def test_gap_closing_does_not_join_a_track_to_a_cell_elsewhere():
    # one cell vanishes for good; another appears 5 frames later 3 search ranges away: two tracks
    first = pd.DataFrame({"frame": range(6), "y": 20.0, "x": 10.0, "truth": 0})
    second = pd.DataFrame({"frame": range(10, 16), "y": 35.0, "x": 10.0, "truth": 1})
    tracks = link(pd.concat([first, second]), search_range_um=5.0)
    assert _recovered(tracks) and tracks["track_id"].nunique() == 2


def test_stitched_ids_do_not_depend_on_input_order():
    detections = _crossing(seed=4)
    pd.testing.assert_frame_equal(
        link(detections, search_range_um=8.0),
        link(detections.sample(frac=1.0, random_state=1), search_range_um=8.0),
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_detection_kept_once_and_no_track_twice_in_a_frame(seed):
    # a crowded random walk with dropouts: stitching and merge undoing must never put one
    # track in two places at once, nor lose or duplicate a detection
    rng = np.random.default_rng(seed)
    position = rng.uniform(0, 60, (40, 2))
    rows = []
    for t in range(20):
        position = position + rng.normal(0, 1.5, position.shape)
        seen = rng.random(len(position)) > 0.15
        rows.append(pd.DataFrame({"frame": t, "y": position[seen, 0], "x": position[seen, 1], "label": np.flatnonzero(seen) + 1}))
    detections = pd.concat(rows, ignore_index=True)
    tracks = link(detections, search_range_um=6.0)
    assert not tracks.duplicated(["track_id", "frame"]).any()
    assert len(tracks) == len(detections)
    assert tracks[["frame", "label"]].sort_values(["frame", "label"]).to_numpy().tolist() == (
        detections[["frame", "label"]].sort_values(["frame", "label"]).to_numpy().tolist()
    )


def test_real_cells_with_five_frame_holes_are_stitched_back_whole(shared_data):
    # Cell Tracking Challenge GOWT1 ground-truth objects (real ES-cell nuclei and motion), 40
    # frames; 5 consecutive detections removed from every other track, longer than memory
    import tifffile

    folder = shared_data / "ctc" / "Fluo-N2DH-GOWT1" / "01_GT" / "TRA"
    if not folder.is_dir():
        pytest.skip(f"real data: CTC GOWT1 ground truth not found at {folder} (../shared/data is incomplete on this machine)")
    from leadertrack.detect import detect

    labels = np.stack([tifffile.imread(folder / f"man_track{t:03d}.tif") for t in range(40)])
    detections = detect(labels).rename(columns={"label": "truth"}).assign(label=lambda d: d["truth"])
    holes = set()
    for i, (truth, rows) in enumerate(detections.groupby("truth")):
        if i % 2 == 0 and len(rows) >= 20:
            start = int(rows["frame"].min()) + 5
            holes |= {(truth, t) for t in range(start, start + 5)}
    damaged = {truth for truth, _ in holes}
    kept = detections[[(g, t) not in holes for g, t in zip(detections["truth"], detections["frame"])]]
    diameter_px = 2 * np.sqrt(detections["area_px"].median() / np.pi)

    def whole(tracks):
        pieces = tracks[tracks["truth"].isin(damaged)].groupby("truth")["track_id"].nunique()
        return float(pieces.eq(1).mean())

    stitched = link(kept, search_range_um=diameter_px)
    assert len(damaged) >= 8
    assert whole(link(kept, search_range_um=diameter_px, max_gap_frames=0)) == 0.0
    assert whole(stitched) >= 0.9
    assert stitched.groupby("track_id")["truth"].nunique().eq(1).mean() >= 0.95


def test_default_search_range_links_a_leader_moving_more_than_a_diameter_per_frame():
    # A leader alone ahead of a still sheet moves 1.3 nucleus diameters per frame (slow frame
    # rates do this): with the default range it is one track from its first frame, and the sheet's
    # nuclei (1.5 diameters apart) keep their own tracks.
    diameter = 10.0
    sheet = [(y, x) for y in np.arange(0.0, 150, 15) for x in np.arange(0.0, 60, 15)]
    rows = []
    for f in range(8):
        rows += [(f, y, x) for y, x in sheet]
        rows.append((f, 75.0, 80.0 + 13.0 * f))
    det = pd.DataFrame(rows, columns=["frame", "y", "x"])
    tracks = link(det, search_range_um=default_search_range_um(nucleus_diameter_um=diameter))
    leader = tracks[tracks.x >= 80]
    assert leader.track_id.nunique() == 1 and len(leader) == 8
    assert tracks.groupby("track_id").size().eq(8).all()


def _strand_stepping_one_spacing(brightness: np.ndarray, bleach: float = 1.0) -> pd.DataFrame:
    """A strand of cells 10 µm apart running along x exactly one spacing per frame: each frame the
    cell behind takes the place of the one ahead. ``brightness`` per cell; every frame is ``bleach``
    times as bright as the one before."""
    rows = []
    for f in range(6):
        for cell, b in enumerate(brightness):
            rows.append({"frame": f, "y": 50.0, "x": 10.0 * (f - cell) + 100.0,
                         "mean_intensity": b * bleach**f, "truth": cell})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("bleach", [1.0, 0.8])
def test_brightness_tells_apart_cells_that_take_each_others_places(bleach):
    # neighbours differ by about a factor 2 (log 0.7): at 30 µm per unit of log brightness that is
    # 21 µm, further than the 10 µm step
    detections = _strand_stepping_one_spacing(np.array([60.0, 130, 70, 140, 55, 125, 65, 135]), bleach)
    detections["mean_intensity"] *= np.random.default_rng(3).uniform(0.95, 1.05, len(detections))  # noise
    by_position = link(detections, search_range_um=15.0, memory=0, max_gap_frames=0)
    # by position alone each place keeps its track: the strand looks still
    assert not _recovered(by_position)
    assert by_position.groupby("track_id")["x"].nunique().max() == 1
    # with brightness each cell is one track, moving one spacing per frame (bleaching notwithstanding:
    # brightness is relative to the frame's median)
    by_brightness = link(detections, search_range_um=15.0, memory=0, max_gap_frames=0, brightness_um=30.0)
    assert _recovered(by_brightness)
    assert by_brightness.groupby("track_id")["x"].apply(lambda x: x.diff().dropna().eq(10.0).all()).all()


def test_brightness_is_ignored_without_a_positive_intensity_for_every_detection():
    from leadertrack.track import brightness_usable

    detections = _strand_stepping_one_spacing(np.linspace(50, 150, 8))
    assert brightness_usable(detections)
    plain = link(detections, search_range_um=15.0, memory=0, max_gap_frames=0)
    for intensity in (0.0, np.nan):
        broken = detections.copy()
        broken.loc[3, "mean_intensity"] = intensity
        assert not brightness_usable(broken)
        with_brightness = link(broken, search_range_um=15.0, memory=0, max_gap_frames=0, brightness_um=30.0)
        assert with_brightness["track_id"].tolist() == plain["track_id"].tolist()
    no_column = link(detections.drop(columns="mean_intensity"), search_range_um=15.0, memory=0, max_gap_frames=0,
                     brightness_um=30.0)
    assert no_column["track_id"].tolist() == plain["track_id"].tolist()


def test_relinking_around_inward_tracks_leaves_the_other_tracks_alone():
    """Only the cells on the given tracks (and what the new links join them to) are linked again:
    the strand linked backwards comes out whole, while two bystanders far from it that a wider
    range would join stay apart, as the first linking left them."""
    from leadertrack.track import relink_around

    strand = _strand_stepping_one_spacing(np.array([60.0, 130, 70, 140, 55, 125, 65, 135]))
    # bystander 100 vanishes after frame 2; bystander 101 appears 40 µm away in frame 3
    bystanders = pd.DataFrame(
        [{"frame": f, "y": 300.0, "x": 100.0, "mean_intensity": 100.0, "truth": 100} for f in range(3)]
        + [{"frame": f, "y": 300.0, "x": 140.0, "mean_intensity": 100.0, "truth": 101} for f in range(3, 6)]
    )
    detections = pd.concat([strand, bystanders], ignore_index=True)
    options = {"memory": 0, "max_gap_frames": 0}
    first = link(detections, search_range_um=15.0, **options)
    assert not _recovered(first[first.truth < 100])  # the strand looks still: each place keeps its track
    assert link(detections, search_range_um=45.0, **options).query("truth >= 100")["track_id"].nunique() == 1

    around = first.loc[first.truth < 100, "track_id"].unique()
    again, n_taken = relink_around(
        first, around, columns=["frame", "y", "x", "mean_intensity", "truth"], search_range_um=45.0, brightness_um=30.0,
        **options,
    )
    assert n_taken == 8
    assert _recovered(again[again.truth < 100])
    assert again[again.truth < 100].groupby("track_id")["x"].apply(lambda x: x.diff().dropna().eq(10.0).all()).all()
    assert again.query("truth >= 100").groupby("truth")["track_id"].nunique().eq(1).all()
    assert again.query("truth >= 100")["track_id"].nunique() == 2  # not joined across the 40 µm jump
    assert len(again) == len(first)
    assert sorted(again["track_id"].unique()) == list(range(1, again["track_id"].nunique() + 1))
