"""Stage jitter: whole-field jumps between frames are measured from the nuclei and taken out of the motion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage as ndi

from leadertrack.config import RunConfig
from leadertrack.evaluate import truth_labels_under, truth_track_ids
from leadertrack.pipeline import analyze_movie, read_result, write_result
from leadertrack.report import methods_text
from leadertrack.stage import (
    JITTER_MIN_DIAMETERS,
    MIN_SHARE,
    frame_steps_px,
    put_back,
    stage_jitter_px,
    take_out,
)
from leadertrack.synthetic import simulate_invasion


def _field(rng: np.random.Generator, n: int = 150, size: float = 300.0) -> np.ndarray:
    return rng.uniform(0, size, (n, 2))


def _detections(positions: list[np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame(
        {"frame": np.repeat(np.arange(len(positions)), [len(p) for p in positions]),
         "y": np.concatenate([p[:, 0] for p in positions]), "x": np.concatenate([p[:, 1] for p in positions])}
    )


def test_steps_of_the_whole_field_are_measured_through_cell_motion_and_turnover():
    rng = np.random.default_rng(1)
    points = _field(rng)
    applied = np.array([[0.0, 0.0], [7.0, -3.0], [-12.0, 5.0], [0.5, 0.2]])
    frames = []
    for offset in applied:
        points = points + rng.normal(0, 0.5, points.shape)  # every cell moves a little on its own
        keep = rng.random(len(points)) > 0.05  # and a few are not found in each frame
        frames.append(points[keep] + offset)
    steps, share = frame_steps_px(_detections(frames), len(frames), nucleus_diameter_px=10)
    np.testing.assert_allclose(steps[1:], np.diff(applied, axis=0), atol=0.4)
    assert (share[1:] > 0.8).all()


def test_a_regular_sheet_is_not_taken_to_jump_by_one_spacing():
    # a square sheet whose edge advances 0.5 um per frame, strands running ahead: a step of one spacing
    # matches nearly every nucleus too, and in the last frame it is the histogram's strongest peak; the
    # steps are compared by the nuclei they match, and of near ties the shortest wins
    from test_checks import SPACING_UM, strands_leaving_a_sheet

    detections = strands_leaving_a_sheet(step_um=4.0)
    n_frames = int(detections["frame"].max()) + 1
    steps, share = frame_steps_px(detections, n_frames, nucleus_diameter_px=8)
    assert np.abs(steps[1:] - [0.0, 0.5]).max() < 0.25 * SPACING_UM
    assert (share[1:] > 0.7).all()


def test_cells_moving_on_their_own_give_no_step():
    rng = np.random.default_rng(2)
    frames = [_field(rng), _field(rng)]  # nobody where they were: no step that many nuclei agree on
    _, share = frame_steps_px(_detections(frames), 2, nucleus_diameter_px=10)
    assert share[1] < MIN_SHARE
    jitter = stage_jitter_px(np.array([[0.0, 0.0], [25.0, 0.0]]), share)
    np.testing.assert_allclose(jitter, 0.0)


def test_a_few_cells_moving_together_say_nothing_about_the_stage():
    # two cells 20 px apart move 2 px per frame; one vanishes: its neighbour's vote alone must not make a jump
    frames = [np.array([[14.0, 8.0 + 2 * t], [34.0, 8.0 + 2 * t]]) for t in range(3)]
    frames[2] = frames[2][1:]
    _, share = frame_steps_px(_detections(frames), 3, nucleus_diameter_px=6)
    assert share[1] == share[2] == 0.0


def test_steady_motion_is_kept_and_jumps_about_it_are_found():
    rng = np.random.default_rng(3)
    n = 60
    steady = np.column_stack([np.arange(n) * 0.8, np.arange(n) * -0.3])  # the sheet advancing as a whole
    offsets = rng.normal(0, 4.0, (n, 2))  # a stage revisiting its position
    steps = np.diff(np.vstack([np.zeros(2), steady + offsets]), axis=0)
    steps[0] = 0.0
    np.testing.assert_allclose(stage_jitter_px(np.diff(np.vstack([np.zeros(2), steady]), axis=0), np.ones(n)), 0.0, atol=1e-9)
    found = stage_jitter_px(steps, np.ones(n))
    # the jumps up to one common offset (where the course runs), within a third of their spread
    error = found - (offsets - offsets[0])
    error -= np.median(error, axis=0)
    assert np.sqrt((error**2).sum(axis=1).mean()) < 0.35 * 4.0 * np.sqrt(2)


def test_positions_taken_out_and_put_back_overlay_the_movie_again():
    rng = np.random.default_rng(5)
    points = _field(rng)
    offsets = np.array([[0.0, 0.0], [6.0, -4.0], [-5.0, 7.0], [0.0, 0.0], [6.0, 2.0]])  # jumps of 0.6-1.2 diameters
    detections = _detections([points + offset for offset in offsets])
    still, jitter, largest = take_out(detections, len(offsets), nucleus_diameter_px=10)
    assert jitter is not None and largest >= JITTER_MIN_DIAMETERS * 10
    # what is left of the field's motion is a steady one (five frames cannot tell a jitter from a straight line)
    moved = (still[["y", "x"]].to_numpy().reshape(len(offsets), -1, 2) - points).mean(axis=1)
    frames = np.arange(len(offsets))
    for axis in range(2):
        line = np.polyval(np.polyfit(frames, moved[:, axis], 1), frames)
        np.testing.assert_allclose(moved[:, axis], line, atol=0.3)
    still["y_um"], still["x_um"] = still["y"] * 0.5, still["x"] * 0.5
    fronts = pd.DataFrame({
        "frame": [1, 2], "geometry": ["planar", "radial"], "front_position_um": [20.0, 30.0],
        "normal_y": [0.6, np.nan], "normal_x": [0.8, np.nan], "centre_y_um": [np.nan, 50.0], "centre_x_um": [np.nan, 60.0],
    })
    back, fronts_back = put_back(still, fronts, jitter, pixel_size_um=0.5)
    np.testing.assert_allclose(back[["y", "x"]].to_numpy(), detections[["y", "x"]].to_numpy())
    np.testing.assert_allclose(back[["y_um", "x_um"]].to_numpy(), detections[["y", "x"]].to_numpy() * 0.5)
    # planar: moved along its normal by the frame's jump; radial: its centre moved
    shift_um = 0.5 * jitter
    assert fronts_back.front_position_um.tolist() == pytest.approx(
        [20.0 + 0.6 * shift_um[1, 0] + 0.8 * shift_um[1, 1], 30.0]
    )
    assert fronts_back.loc[1, ["centre_y_um", "centre_x_um"]].tolist() == pytest.approx([50.0, 60.0] + shift_um[2])


def test_small_wobbles_are_left_alone():
    rng = np.random.default_rng(6)
    points = _field(rng)
    detections = _detections([points + rng.normal(0, 0.5, 2) for _ in range(6)])  # under 0.1 diameter
    still, jitter, largest = take_out(detections, 6, nucleus_diameter_px=10)
    assert jitter is None and still is detections and 0 < largest < JITTER_MIN_DIAMETERS * 10


@pytest.fixture(scope="module")
def jittered():
    """A simulated sheet whose frames jump by about half a nucleus diameter, and its truth moved likewise."""
    sim = simulate_invasion(
        geometry="planar", n_frames=24, field_um=(180.0, 240.0), pixel_size_um=1.0, difficulty="easy", n_leaders=3, seed=3
    )
    diameter_px = sim.nucleus_diameter_um / sim.pixel_size_um
    rng = np.random.default_rng(0)
    shifts = np.rint(rng.normal(0, 0.5 * diameter_px, (len(sim.image), 2)))
    background = float(np.median(sim.image))
    image = np.stack([ndi.shift(f, s, order=0, mode="constant", cval=background) for f, s in zip(sim.image, shifts)])
    labels = np.stack([ndi.shift(f, s, order=0, mode="constant", cval=0) for f, s in zip(sim.labels, shifts)])
    return sim, image.astype(sim.image.dtype), labels, shifts, diameter_px


def _run(image: np.ndarray, sim, *, correct: bool = True):
    config = RunConfig()
    config.units.pixel_size_um = sim.pixel_size_um
    config.units.frame_interval_min = sim.frame_interval_min
    config.link.correct_stage_jitter = correct
    return analyze_movie(image, config)


def _leaders_found(result, labels: np.ndarray) -> set[int]:
    truth_of = truth_track_ids(result.tracks, labels)
    return {int(truth_of[t]) for t in result.cells.loc[result.cells.is_leader, "track_id"]}


def test_a_jittering_stage_is_taken_out_and_leaders_found_as_without_it(jittered, tmp_path):
    sim, image, labels, shifts, diameter_px = jittered
    truth = set(sim.cells.loc[sim.cells.is_leader, "track_id"])
    steady = _run(sim.image, sim)
    assert steady.provenance["stage_jitter_um"] is None
    assert steady.provenance["stage_jump_largest_um"] < JITTER_MIN_DIAMETERS * sim.nucleus_diameter_um
    assert not any("stage jitter" in w for w in steady.provenance["warnings"])
    assert "stage jitter" not in methods_text(steady.provenance)
    assert _leaders_found(steady, sim.labels) == truth

    result = _run(image, sim)
    assert any("stage jitter" in w for w in result.provenance["warnings"])
    measured = np.asarray(result.provenance["stage_jitter_um"]) / sim.pixel_size_um
    # every jump found to within a quarter diameter (what is left varies smoothly: the sheet's own advance)
    jump_error = np.diff(measured - shifts, axis=0)
    assert np.linalg.norm(jump_error, axis=1).max() < 0.25 * diameter_px
    assert _leaders_found(result, labels) == truth
    assert len(result.cells) <= 1.1 * len(steady.cells)
    # positions in the tables still overlay the movie's (jumping) frames
    assert (truth_labels_under(result.tracks, labels) > 0).mean() > 0.95
    # the result folder and the methods paragraph say what was done
    saved = read_result(write_result(result, tmp_path))
    assert len(saved.provenance["stage_jitter_um"]) == len(image)
    assert "stage jitter" in methods_text(saved.provenance)
    # speeds are measured without the jumps
    speed = result.tracks["speed_um_per_min"].median()
    assert speed == pytest.approx(steady.tracks["speed_um_per_min"].median(), rel=0.25)


def test_without_the_correction_a_jittering_stage_breaks_the_tracks(jittered):
    sim, image, labels, _, diameter_px = jittered
    assert JITTER_MIN_DIAMETERS * diameter_px < 0.5 * diameter_px  # the jumps are well above the threshold
    kept = _run(image, sim, correct=False)
    assert kept.provenance["stage_jitter_um"] is None
    truth = set(sim.cells.loc[sim.cells.is_leader, "track_id"])
    corrected = _run(image, sim)
    assert len(kept.cells) > 1.5 * len(corrected.cells)
    assert len(_leaders_found(kept, labels) & truth) < len(truth)
