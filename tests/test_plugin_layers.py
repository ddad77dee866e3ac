"""The napari plugin's pure parts: layer data, review logic, plots, manifest (no viewer needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("napari")

from leadertrack.pipeline import MovieResult  # noqa: E402
from leadertrack_napari._layers import front_outlines_px, result_layer_data  # noqa: E402
from leadertrack_napari._plots import draw_result_plots, leader_headings_rad  # noqa: E402
from leadertrack_napari._review import describe_track, doubt_table, flip_call, track_at, track_near  # noqa: E402


def toy_result(*, pixel_size_um: float = 0.5, seed: int = 0) -> MovieResult:
    """Three tracks over four frames; track 2 leads. Labels are small squares at the positions."""
    rng = np.random.default_rng(seed)
    n_frames, shape = 4, (40, 60)
    rows, labels = [], np.zeros((n_frames, *shape), np.uint32)
    starts = {1: (10.0, 10.0), 2: (20.0, 30.0), 3: (30.0, 12.0)}
    for frame in range(n_frames):
        for label, (track_id, (y0, x0)) in enumerate(starts.items(), start=1):
            y, x = y0 + rng.normal(0, 0.3), x0 + 2.0 * frame * (track_id == 2)
            labels[frame, int(y) - 2 : int(y) + 3, int(x) - 2 : int(x) + 3] = label
            rows.append(dict(track_id=track_id, frame=frame, label=label, y=y, x=x, is_leader=track_id == 2))
    tracks = pd.DataFrame(rows)
    tracks["y_um"], tracks["x_um"] = tracks["y"] * pixel_size_um, tracks["x"] * pixel_size_um
    tracks["time_min"] = tracks["frame"] * 5.0
    tracks["area_um2"] = 25 * pixel_size_um**2
    tracks["vy_um_per_min"] = 0.0
    tracks["vx_um_per_min"] = np.where(tracks["track_id"] == 2, 2.0 * pixel_size_um / 5.0, 0.0)
    tracks["speed_um_per_min"] = tracks["vx_um_per_min"].abs()
    tracks["front_distance_um"] = (40 - tracks["x"]) * pixel_size_um
    cells = pd.DataFrame(
        {
            "track_id": [1, 2, 3],
            "leader_score": [0.45, 0.9, 0.2],
            "is_leader": [False, True, False],
            "leader_fraction": [0.0, 1.0, 0.0],
            "mean_speed_um_per_min": [0.0, 0.2, 0.0],
            "reason": ["slow", "fast and persistent at the front", "far behind the front"],
            "parent_track_id": [0, 0, 0],
        }
    )
    fronts = pd.DataFrame(
        {
            "frame": range(n_frames),
            "time_min": np.arange(n_frames) * 5.0,
            "front_id": 1,
            "geometry": "planar",
            "front_position_um": (35.0 + np.arange(n_frames)) * pixel_size_um,
            "normal_y": 0.0,
            "normal_x": 1.0,
        }
    )
    provenance = {
        "units": {"pixel_size_um": pixel_size_um, "space_calibrated": True, "time_calibrated": True},
        "config": {"classify": {"threshold": 0.5}},
    }
    return MovieResult(name="toy", tracks=tracks, cells=cells, fronts=fronts, labels=labels, provenance=provenance)


@pytest.mark.parametrize(
    ("normal", "position_um", "expected_yx"),
    [
        ((0.0, 1.0), 20.0, [[0.0, 10.0], [50.0, 10.0]]),  # sheet on the left, edge at x = 10 px
        ((-1.0, 0.0), -30.0, [[15.0, 0.0], [15.0, 100.0]]),  # sheet at the bottom moving up: y = 15 px
    ],
)
def test_planar_front_is_the_edge_line_across_the_image(normal, position_um, expected_yx):
    fronts = pd.DataFrame(
        {"frame": [3], "geometry": ["planar"], "front_position_um": [position_um],
         "normal_y": [normal[0]], "normal_x": [normal[1]]}
    )
    shapes, kinds = front_outlines_px(fronts, pixel_size_um=2.0, shape_yx=(50, 100))
    assert kinds == ["path"]
    assert np.allclose(shapes[0][:, 0], 3)
    assert sorted(shapes[0][:, 1:].tolist()) == sorted(expected_yx)


def test_radial_front_is_a_circle_of_the_front_radius():
    fronts = pd.DataFrame(
        {"frame": [0, 1], "geometry": "radial", "front_position_um": [10.0, np.nan],
         "centre_y_um": [40.0, 40.0], "centre_x_um": [60.0, 60.0]}
    )
    shapes, kinds = front_outlines_px(fronts, pixel_size_um=2.0, shape_yx=(100, 100))
    assert kinds == ["polygon"]  # the NaN frame is skipped
    radius_px = np.hypot(shapes[0][:, 1] - 20.0, shapes[0][:, 2] - 30.0)
    assert np.allclose(radius_px, 5.0)


def test_result_layers_show_the_leader_calls_in_pixel_coordinates():
    result = toy_result(pixel_size_um=0.5)
    layers = {kwargs["metadata"]["leadertrack_layer"]: (data, kwargs, kind) for data, kwargs, kind in result_layer_data(result)}
    assert set(layers) == {"labels", "tracks", "leaders", "front"}
    for _, kwargs, _ in layers.values():
        assert kwargs["scale"] == (1.0, 0.5, 0.5)
        assert kwargs["name"].startswith("toy ")
    data, kwargs, kind = layers["tracks"]
    assert kind == "tracks" and data.shape == (12, 4)
    assert kwargs["metadata"]["leadertrack_result"] is result
    leader_rows = kwargs["features"]["leader"].to_numpy() == 1.0
    assert set(data[leader_rows, 0]) == {2.0}
    assert np.issubdtype(kwargs["features"]["leader"].dtype, np.number)  # napari colours by numbers only
    points, kwargs, _ = layers["leaders"]
    assert points.shape == (4, 3) and set(kwargs["features"]["track_id"]) == {2}
    expected = result.tracks.loc[result.tracks["track_id"] == 2, ["frame", "y", "x"]].to_numpy()
    assert np.allclose(np.sort(points, axis=0), np.sort(expected, axis=0))
    shapes, kwargs, _ = layers["front"]
    assert len(shapes) == 4 and np.allclose(shapes[2][:, 2], 37.0)  # 37 px = 18.5 µm / 0.5


def test_track_at_maps_the_label_under_the_cursor_to_its_track():
    result = toy_result()
    for frame in range(4):
        for row in result.tracks[result.tracks["frame"] == frame].itertuples():
            value = result.labels[frame, int(row.y), int(row.x)]
            assert track_at(result.tracks, frame=frame, label=int(value)) == row.track_id
    assert track_at(result.tracks, frame=0, label=0) is None
    assert track_at(result.tracks, frame=0, label=99) is None


def test_track_near_picks_the_closest_cell_within_reach():
    result = toy_result()
    row = result.tracks.query("track_id == 3 and frame == 1").iloc[0]
    assert track_near(result.tracks, frame=1, y=row.y + 2, x=row.x - 1, max_distance_px=5) == 3
    assert track_near(result.tracks, frame=1, y=row.y + 8, x=row.x, max_distance_px=5) is None
    assert track_near(result.tracks, frame=9, y=row.y, x=row.x, max_distance_px=5) is None


def test_result_without_tracks_shows_only_its_labels():
    from dataclasses import replace

    result = toy_result()
    empty = replace(result, tracks=result.tracks.iloc[:0], cells=result.cells.iloc[:0], fronts=pd.DataFrame())
    assert [kind for _, _, kind in result_layer_data(empty)] == ["labels"]


def test_doubt_table_puts_scores_near_the_threshold_first():
    table = doubt_table(toy_result())
    assert table["track_id"].tolist() == [1, 3, 2]  # |0.45-0.5| < |0.2-0.5| < |0.9-0.5|
    assert table["doubt"].is_monotonic_increasing
    assert table["is_leader"].tolist() == [False, False, True]
    assert doubt_table(toy_result(), threshold=0.0)["track_id"].tolist() == [3, 1, 2]


def test_flip_then_apply_corrections_changes_the_call_and_is_remembered():
    from leadertrack.pipeline import apply_corrections

    result = toy_result()
    assert flip_call(result, 2).to_dict("records") == [{"track_id": 2, "is_leader": False}]
    flipped = apply_corrections(result, flip_call(result, 1))
    assert flipped.leaders == [1, 2]
    text = describe_track(flipped, 1)
    assert "leader" in text.splitlines()[0] and "set by you" in text
    table = doubt_table(flipped)
    assert table.loc[table["track_id"] == 1, "corrected"].item()
    again = apply_corrections(flipped, flip_call(flipped, 1))
    assert again.leaders == [2]
    assert again.corrections.to_dict("records") == [{"track_id": 1, "is_leader": False}]
    with pytest.raises(KeyError):
        flip_call(result, 42)


def test_describe_track_shows_the_reason_and_measurements():
    text = describe_track(toy_result(), 2)
    assert text.splitlines()[0] == "Track 2: leader"
    assert "Why: fast and persistent at the front" in text
    assert "leader score: 0.90" in text and "time leading: 100%" in text


def test_leader_headings_point_up_for_cells_moving_to_smaller_rows():
    tracks = pd.DataFrame(
        {"track_id": [1, 1, 2, 3], "vy_um_per_min": [-1.0, 0.0, 0.0, 0.0], "vx_um_per_min": [0.0, 0.0, 1.0, -1.0]}
    )
    headings = leader_headings_rad(tracks, np.array([1, 2]))
    assert np.allclose(headings, [np.pi / 2, 0.0])  # the still frame of track 1 and follower 3 are skipped


def test_plots_draw_three_panels_with_the_leader_headings():
    from matplotlib.figure import Figure

    figure = Figure()
    draw_result_plots(figure, toy_result(), track_id=2)
    speed_ax, front_ax, rose_ax = figure.axes
    assert speed_ax.get_xlabel().startswith("distance behind the front")
    assert len(front_ax.lines) == 1 and np.allclose(front_ax.lines[0].get_ydata(), [0.0, 0.5, 1.0, 1.5])
    heights = [patch.get_height() for patch in rose_ax.patches]
    assert sum(heights) == 4  # track 2 moves in every frame
    assert "track 2" in [t.get_text() for t in speed_ax.get_legend().get_texts()]


def test_manifest_is_valid_and_its_commands_import():
    import npe2

    manifest = npe2.PluginManifest.from_distribution("leadertrack")
    manifest.validate_imports()
    assert {c.id for c in manifest.contributions.commands} >= {
        "leadertrack.get_reader", "leadertrack.write_result", "leadertrack.widget", "leadertrack.sample_planar"
    }


def test_sample_movie_is_simulated_with_its_units():
    from leadertrack_napari._sample import simulated_movie

    [(image, kwargs, kind)] = simulated_movie("invasion_radial", n_frames=3)
    truth = kwargs["metadata"]["leadertrack_truth"]
    units = kwargs["metadata"]["leadertrack_units"]
    assert kind == "image" and kwargs["name"] == "invasion_radial"
    assert image.shape == truth.labels.shape == (3, 224, 224)
    assert kwargs["scale"] == (1.0, 1.0, 1.0) and units["frame_interval_min"] == 12.0
    again = simulated_movie("invasion_radial", n_frames=3)[0][0]
    assert np.array_equal(image, again)  # generated, reproducibly, never downloaded


def test_napari_sample_is_the_repository_sample_movie():
    import tifffile

    from leadertrack_napari._sample import radial_invasion

    shipped = Path(__file__).resolve().parents[1] / "sample_data" / "invasion_radial.ome.tif"
    assert shipped.exists(), f"{shipped} is part of the repository (scripts/make_sample_data.py)"
    [(image, _, _)] = radial_invasion()
    assert np.array_equal(image, tifffile.imread(shipped))


def test_describe_track_is_honest_about_units_of_an_uncalibrated_movie():
    result = toy_result()
    result.provenance["units"].update(space_calibrated=False, time_calibrated=False)
    text = describe_track(result, 2)
    assert "mean speed (px/frame): 0.20" in text and "µm" not in text


def test_plots_say_so_when_no_front_was_found():
    from dataclasses import replace

    from matplotlib.figure import Figure

    result = toy_result()
    result = replace(result, tracks=result.tracks.assign(front_distance_um=np.nan), fronts=pd.DataFrame())
    figure = Figure()
    draw_result_plots(figure, result)
    speed_ax, front_ax, _ = figure.axes
    assert [t.get_text() for t in speed_ax.texts] == ["no distances: the front was not found"]
    assert [t.get_text() for t in front_ax.texts] == ["no invasion front found"]


def test_speed_plot_samples_followers_of_very_long_movies(monkeypatch):
    from matplotlib.figure import Figure

    import leadertrack_napari._plots as plots

    monkeypatch.setattr(plots, "MAX_FOLLOWER_POINTS", 5)
    figure = Figure()
    draw_result_plots(figure, toy_result())  # 8 follower cell-frames, 4 leader cell-frames
    followers, leaders = figure.axes[0].collections
    assert len(followers.get_offsets()) == 5 and len(leaders.get_offsets()) == 4
    assert followers.get_label() == "followers (random 5 cell-frames)"
