"""Checks on measured tracks: strands moving too far between frames alias in linking, and the run says so."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadertrack.checks import (
    GEOMETRY_MIN_CONFIDENCE,
    INWARD_MIN_TRACKS,
    aliased_linking_warning,
    born_ahead_track_ids,
    inward_at_front,
    uncertain_geometry_warning,
)
from leadertrack.features import measure
from leadertrack.track import link

SPACING_UM = 12.0  # between the cells of a strand, and of the sheet
CELLS_PER_STRAND = 8
N_FRAMES = 20


def strands_leaving_a_sheet(step_um: float, *, n_strands: int = 8, wander_um: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Detections (``frame``, ``y``, ``x`` in µm) of a sheet filling x < 0 whose edge advances slowly
    along +x, and strands of ``CELLS_PER_STRAND`` cells, one spacing apart, running ahead of it
    along +x, ``step_um`` per frame; every cell jitters by 0.5 µm, and the cells of the sheet
    also walk at random, ``wander_um`` per frame and axis."""
    rng = np.random.default_rng(seed)
    rows = []
    sheet_y, sheet_x = np.meshgrid(np.arange(0.0, 400.0, SPACING_UM), np.arange(-120.0, 0.0, SPACING_UM), indexing="ij")
    walks = np.cumsum(rng.normal(0.0, wander_um, (N_FRAMES, sheet_y.size, 2)), axis=0)
    strand_y = np.linspace(20.0, 380.0, n_strands)
    for frame in range(N_FRAMES):
        edge = 0.5 * frame
        rows += [(frame, y + dy, x + edge + dx) for y, x, (dy, dx) in zip(sheet_y.ravel(), sheet_x.ravel(), walks[frame])]
        for y in strand_y:
            tip = edge + CELLS_PER_STRAND * SPACING_UM + step_um * frame
            rows += [(frame, y, tip - k * SPACING_UM) for k in range(CELLS_PER_STRAND)]
    table = pd.DataFrame(rows, columns=["frame", "y", "x"])
    table[["y", "x"]] += rng.normal(0.0, 0.5, (len(table), 2))
    return table


def linked(detections: pd.DataFrame) -> pd.DataFrame:
    """Tracks within a search range of one spacing (the default, 1.5 nucleus diameters, is often less)."""
    return link(detections, search_range_um=SPACING_UM, frame_interval_min=5.0)


def measured(detections: pd.DataFrame) -> pd.DataFrame:
    tracks = linked(detections)
    return measure(tracks[["track_id", "frame", "time_min", "y_um", "x_um"]], geometry="planar")[0]


def test_strands_moving_more_than_half_their_spacing_per_frame_are_flagged():
    # 8 µm per frame: the cell behind ends 4 µm from where the one ahead was, nearer than that
    # cell's true next position, so linking joins each cell to the one behind it
    tracks = measured(strands_leaving_a_sheet(step_um=8.0))
    at_front, inward = inward_at_front(tracks)
    assert inward >= INWARD_MIN_TRACKS
    message = aliased_linking_warning(tracks)
    assert message is not None
    assert f"{inward} of the {at_front} tracks at the front move steadily inward" in message
    assert "Image more often" in message


def test_strands_moving_less_than_half_their_spacing_per_frame_are_not_flagged():
    tracks = measured(strands_leaving_a_sheet(step_um=4.0))
    _, inward = inward_at_front(tracks)
    assert inward == 0
    assert aliased_linking_warning(tracks) is None
    # the strands really are tracked outward here: the check is not quiet because nothing moves
    lengths = tracks.groupby("track_id").size()
    assert (lengths >= N_FRAMES // 2).sum() >= 8 * CELLS_PER_STRAND


def test_strands_moving_one_spacing_per_frame_start_a_track_at_their_tip_in_every_frame():
    """At a whole spacing per frame each cell lands where the one ahead was: linking keeps every
    track in place (none runs inward), and each strand's tip starts a new track in every frame."""
    tracks = measured(strands_leaving_a_sheet(step_um=SPACING_UM))
    assert inward_at_front(tracks)[1] == 0
    born = born_ahead_track_ids(tracks)
    assert len(born) >= 8 * (N_FRAMES - 1) * 0.9  # one per strand and frame
    starts = tracks[tracks["track_id"].isin(born)].groupby("track_id")["frame"].min()
    assert (starts > 0).all()


def test_strands_tracked_outward_start_no_track_ahead_of_the_front():
    tracks = measured(strands_leaving_a_sheet(step_um=4.0))
    assert born_ahead_track_ids(tracks).size == 0


def test_cells_wandering_at_random_at_the_front_are_not_flagged():
    """A cell walking at random heads inward now and then, but not steadily."""
    tracks = measured(strands_leaving_a_sheet(step_um=4.0, n_strands=0, wander_um=2.0))
    at_front, inward = inward_at_front(tracks)
    assert at_front >= 30
    assert inward == 0
    assert aliased_linking_warning(tracks) is None


def test_a_run_reports_the_warning(tmp_path):
    """analyze_tracks puts it among the run's warnings (run.json) and emits it."""
    from leadertrack.config import RunConfig
    from leadertrack.formats import read_tracks
    from leadertrack.pipeline import analyze_tracks

    detections = strands_leaving_a_sheet(step_um=8.0)
    tracks = linked(detections)
    path = tmp_path / "tracks.csv"
    tracks[["track_id", "frame", "y", "x"]].to_csv(path, index=False)
    config = RunConfig()
    config.units.pixel_size_um, config.units.frame_interval_min = 1.0, 5.0
    with pytest.warns(UserWarning, match="move steadily inward"):
        result = analyze_tracks(read_tracks(path), config)
    assert any("move steadily inward" in message for message in result.provenance["warnings"])


def strand_movie(step_um: float, *, bright: bool = False, n_strands: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """``strands_leaving_a_sheet`` drawn as a movie (1 µm per pixel) and its label masks: nuclei
    of 8 µm, so the search range derived from them (1.5 diameters) is one spacing. All nuclei
    are equally bright, or (``bright``) the cells of a strand alternate between dim and bright,
    each keeping its brightness over time (within 3 %)."""
    from skimage.draw import disk

    rng = np.random.default_rng(1)
    detections = strands_leaving_a_sheet(step_um=step_um, n_strands=n_strands)
    detections["x"] += 130.0
    labels = np.zeros((N_FRAMES, 420, 420), np.uint32)
    image = np.zeros(labels.shape, np.float32)
    for frame, cells in detections.groupby("frame"):
        for label, centre in enumerate(cells[["y", "x"]].to_numpy(), start=1):
            inside = disk(tuple(centre), 4.0, shape=labels.shape[1:])
            labels[frame][inside] = label
            # a frame's last n_strands x CELLS_PER_STRAND detections are the strands' cells, strand by strand from the tip
            in_strand = label - 1 - (len(cells) - n_strands * CELLS_PER_STRAND)
            dim = bright and in_strand >= 0 and (in_strand % CELLS_PER_STRAND) % 2 == 1
            image[frame][inside] = (40.0 if dim else 100.0) * rng.uniform(0.97, 1.03)
    return image, labels


@pytest.mark.parametrize("step_um", [4.0, 8.0])
def test_a_movie_whose_strands_alias_is_linked_again_with_a_wider_range(step_um):
    from leadertrack.checks import RELINK_RANGE_FACTOR
    from leadertrack.config import RunConfig
    from leadertrack.pipeline import analyze_movie

    image, labels = strand_movie(step_um)
    config = RunConfig()
    config.output.report = False
    config.units.pixel_size_um, config.units.frame_interval_min = 1.0, 5.0
    result = analyze_movie(image, config, labels=labels)
    provenance = result.provenance
    derived = 1.5 * provenance["nucleus_diameter_um"]
    leaders = result.cells[result.cells["is_leader"]]
    tips = leaders.merge(result.tracks, on="track_id").groupby("track_id")["x_um"].max()
    if step_um == 4.0:  # no aliasing: linked once, no warning
        assert provenance["search_range_um"] == pytest.approx(derived)
        assert provenance["warnings"] == []
        assert provenance["second_linking"] is None
    else:  # aliased at the derived range (the test above): linked again, and the run says so
        assert provenance["search_range_um"] == pytest.approx(RELINK_RANGE_FACTOR * derived)
        assert provenance["search_range_source"].startswith("derived x 3")
        (message,) = provenance["warnings"]
        assert "tracks at the front moved steadily inward" in message and "linked again" in message
    # either way the 8 strands' leaders are found, at the tips of the strands (the far right)
    assert len(leaders) == 8
    assert (tips > 130.0 + 0.5 * N_FRAMES + 6 * SPACING_UM).all()


@pytest.mark.parametrize("bright", [False, True])
def test_a_movie_linked_again_tells_strand_cells_apart_by_brightness(bright):
    """At 10 µm per frame (spacing 12 µm) the cell behind lands 2 µm from where the one ahead was.
    Linked again with the wider range, the 8 leaders are found either way; where the cells of a
    strand differ in brightness, every strand cell is also one whole track."""
    from leadertrack.config import RunConfig
    from leadertrack.pipeline import analyze_movie

    step = 10.0
    image, labels = strand_movie(step, bright=bright)
    config = RunConfig()
    config.output.report = False
    config.units.pixel_size_um, config.units.frame_interval_min = 1.0, 5.0
    with pytest.warns(UserWarning, match="telling nuclei apart by their brightness"):
        result = analyze_movie(image, config, labels=labels)
    assert result.provenance["search_range_source"].startswith("derived x 3, with brightness")
    assert result.cells["is_leader"].sum() == 8
    per_track = result.tracks.groupby("track_id")
    step_per_frame = per_track["x_um"].apply(lambda x: x.diff().median())
    whole = (per_track.size() >= N_FRAMES - 2) & ((step_per_frame - step).abs() < 2.0)
    if bright:
        assert whole.sum() == 8 * CELLS_PER_STRAND
    else:  # by position alone the last cell of each strand is lost
        assert whole.sum() < 8 * CELLS_PER_STRAND


def test_sixteen_strands_outrunning_a_spacing_per_frame_are_linked_again_without_shrinking_the_range():
    """16 strands 24 µm apart, their cells 12 µm apart moving 13 µm per frame: linked again at three
    times the range, the strands' cells crowd each other's candidates. Shrinking the range there
    (trackpy's adaptive search) gave back the links to the cell behind (2 of the 16 leaders found,
    no strand cell one whole track); solved whole at the wider range, every leader is found at its
    strand's tip and most strand cells are one track each."""
    from leadertrack.config import RunConfig
    from leadertrack.pipeline import analyze_movie

    step = 13.0
    image, labels = strand_movie(step, n_strands=16)
    config = RunConfig()
    config.output.report = False
    config.units.pixel_size_um, config.units.frame_interval_min = 1.0, 5.0
    with pytest.warns(UserWarning, match="linked again"):
        result = analyze_movie(image, config, labels=labels)
    leaders = result.cells[result.cells["is_leader"]]
    tips = leaders.merge(result.tracks, on="track_id").groupby("track_id")["x_um"].max()
    assert len(leaders) == 16
    assert (tips > 130.0 + 0.5 * N_FRAMES + 6 * SPACING_UM).all()
    second = result.provenance["second_linking"]  # run.json says how the movie was linked again
    assert second["scope"] == "movie" and second["solved_whole"] and second["kept"]
    per_track = result.tracks.groupby("track_id")
    step_per_frame = per_track["x_um"].apply(lambda x: x.diff().median())
    whole = (per_track.size() >= N_FRAMES - 2) & ((step_per_frame - step).abs() < 2.0)
    assert whole.sum() >= 0.5 * 16 * CELLS_PER_STRAND


def test_without_a_positive_brightness_for_every_nucleus_the_relink_goes_by_position_and_says_so():
    """A background-subtracted movie (nuclei around 0): brightness cannot be compared as a ratio, so the
    second linking uses the wider range alone, and neither the warning nor run.json claims brightness."""
    from leadertrack.config import RunConfig
    from leadertrack.pipeline import analyze_movie

    image, labels = strand_movie(8.0)
    config = RunConfig()
    config.output.report = False
    config.units.pixel_size_um, config.units.frame_interval_min = 1.0, 5.0
    with pytest.warns(UserWarning, match="linked again") as caught:
        result = analyze_movie(image - 100.0, config, labels=labels)
    assert result.provenance["search_range_source"] == "derived x 3 (tracks at the front ran inward)"
    (message,) = result.provenance["warnings"]
    assert "linked again with 3 times that range" in message and "brightness" not in message
    assert not any("brightness" in str(w.message) for w in caught)
    assert result.cells["is_leader"].sum() == 8


def _planar_medium_run_on_true_masks(seed: int, *, warning: str):
    """A simulated planar movie (``random_scenario``, medium) run on its true masks, which must warn
    ``warning``: the simulation and the result."""
    from leadertrack.config import RunConfig
    from leadertrack.pipeline import analyze_movie
    from leadertrack.synthetic import random_scenario, simulate_invasion

    sim = simulate_invasion(**random_scenario(seed, difficulty="medium", geometry="planar"))
    config = RunConfig()
    config.output.report = False
    config.units.pixel_size_um, config.units.frame_interval_min = sim.pixel_size_um, sim.frame_interval_min
    with pytest.warns(UserWarning, match=warning):
        result = analyze_movie(sim.image, config, labels=sim.labels)
    return sim, result


def test_a_single_fast_strand_linked_backwards_is_linked_again_around_it():
    """A simulated wound edge imaged every 11 min whose one strand moves about a spacing per frame
    (planar, medium, seed 401): 8 of the 71 tracks at the front run inward, too few to link the
    whole movie again, so the cells on them are linked again, and the strand's leader is found."""
    from leadertrack.checks import LOCAL_RELINK_MIN_TRACKS
    from leadertrack.evaluate import leader_agreement

    sim, result = _planar_medium_run_on_true_masks(401, warning="the cells on them were linked again")
    (message,) = result.provenance["warnings"]
    inward = int(message.split(" of the ")[0])
    assert LOCAL_RELINK_MIN_TRACKS <= inward < INWARD_MIN_TRACKS
    assert "around the" in result.provenance["search_range_source"]
    second = result.provenance["second_linking"]
    assert second["scope"] == "around tracks" and second["tracks_ran_inward"] == inward
    assert not second["solved_whole"] and second["kept"]
    truth = set(sim.cells.loc[sim.cells["is_leader"], "track_id"])
    assert len(truth) == 1
    assert leader_agreement(result.tracks, result.cells, sim.labels, truth)["recall"] == 1.0


def _half_sheet(rows_up_to_um: float = 170.0) -> pd.DataFrame:
    """A still sheet of cells 18 µm apart covering the high-x side of a 380 x 196 µm field over
    half its length: as much a sheet entering from that side as a cluster beside it."""
    rng = np.random.default_rng(0)
    ys, xs = np.meshgrid(np.arange(9.0, rows_up_to_um, 18), np.arange(141.0, 196, 18), indexing="ij")
    cells = np.column_stack([ys.ravel(), xs.ravel()])
    rows = [(i + 1, f, float(f), y + rng.normal(0, 0.5), x + rng.normal(0, 0.5)) for f in range(8) for i, (y, x) in enumerate(cells)]
    return pd.DataFrame(rows, columns=["track_id", "frame", "time_min", "y_um", "x_um"])


def test_a_strand_whose_tip_starts_a_new_track_every_frame_is_linked_again_around_it():
    """A simulated wound edge imaged every 12 min (planar, medium, seed 403): one strand moves about
    a spacing per frame, its tracks stay in place rather than run inward, and its tip starts a new
    track every frame. The cells on the tracks starting ahead of the front are linked again, and the
    strand's leader is found, not its follower (F1 0.75 before)."""
    from leadertrack.evaluate import leader_agreement

    sim, result = _planar_medium_run_on_true_masks(403, warning="tracks started ahead of the front")
    assert "started ahead of it" in result.provenance["search_range_source"]
    truth = set(sim.cells.loc[sim.cells["is_leader"], "track_id"])
    assert len(truth) == 3
    assert leader_agreement(result.tracks, result.cells, sim.labels, truth)["f1"] == 1.0


def test_a_geometry_chosen_on_the_fence_is_reported_and_warned():
    fronts = measure(_half_sheet(), field_um=(380.0, 196.0))[2]
    confidence = fronts["geometry_confidence"].iloc[0]
    assert fronts["geometry_confidence"].eq(confidence).all() and confidence < GEOMETRY_MIN_CONFIDENCE
    assert fronts["geometry_reason"].str.len().gt(0).all()
    message = uncertain_geometry_warning(fronts, "auto")
    assert message is not None and f"low confidence ({confidence:.2f})" in message and "--geometry" in message
    # set by hand, the geometry is certain and nothing is said
    forced = measure(_half_sheet(), field_um=(380.0, 196.0), geometry="radial")[2]
    assert forced["geometry_confidence"].eq(1.0).all()
    assert uncertain_geometry_warning(forced, "radial") is None
    # a sheet along the whole side leaves no doubt
    whole = measure(_half_sheet(rows_up_to_um=380.0), field_um=(380.0, 196.0))[2]
    assert whole["geometry_confidence"].iloc[0] >= 0.9
    assert uncertain_geometry_warning(whole, "auto") is None


def test_a_movie_spanning_under_two_motion_windows_is_warned_about_with_the_frames_it_would_need():
    from leadertrack.checks import short_movie_warning

    def fronts(n_frames, interval):  # two fronts (a scratch assay): each frame twice
        return pd.DataFrame({"frame": np.repeat(np.arange(n_frames), 2), "time_min": np.repeat(np.arange(n_frames) * interval, 2)})

    # at 5 min per frame the window is 7 frames: 14 frames are two windows
    assert short_movie_warning(fronts(14, 5.0)) is None
    message = short_movie_warning(fronts(13, 5.0))  # each frame counted once
    assert message.startswith("the movie spans 60 min (13 frames), 1.9 motion windows of about 35 min")
    assert "at least 14 frames (65 min at this interval)" in message
    # at 15 min per frame the window is its shortest, 5 frames
    assert short_movie_warning(fronts(10, 15.0)) is None and "at least 10 frames" in short_movie_warning(fronts(9, 15.0))
    assert short_movie_warning(fronts(0, 5.0)) is None


@pytest.mark.parametrize("n_frames, interval, warned", [(6, 5.0, True), (30, 5.0, False), (6, None, False)])
def test_classifying_tracks_warns_about_a_short_movie_when_its_frame_interval_is_known(tmp_path, n_frames, interval, warned):
    from leadertrack.config import RunConfig
    from leadertrack.formats import read_tracks
    from leadertrack.pipeline import analyze_tracks
    from leadertrack.synthetic import simulate_tracks

    sim = simulate_tracks(geometry="planar", n_frames=n_frames, field_um=(150.0, 150.0), seed=0)
    path = tmp_path / "tracks.csv"
    sim.tracks[["track_id", "frame", "y", "x"]].to_csv(path, index=False)
    config = RunConfig()
    config.units.pixel_size_um, config.units.frame_interval_min = 1.0, interval
    result = analyze_tracks(read_tracks(path), config)
    short = [message for message in result.provenance["warnings"] if "motion windows" in message]
    assert bool(short) == warned
    if warned:
        assert short[0].startswith(f"the movie spans 25 min ({n_frames} frames), 0.9 motion windows")
