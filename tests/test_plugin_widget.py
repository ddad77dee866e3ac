"""The napari widget in a real viewer: run, layers, review clicks, flips, save and reload."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from test_plugin_layers import toy_result  # noqa: E402

from leadertrack_napari._widget import FLIP_KEY, NEXT_KEY, LeaderTrackWidget  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def viewer_and_widget(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = LeaderTrackWidget(viewer)
    viewer.window.add_dock_widget(widget, name="leadertrack")
    return viewer, widget


def _layer_names(viewer) -> set[str]:
    return {layer.name for layer in viewer.layers}


def test_result_layers_then_walk_the_doubtful_tracks_and_flip_by_key(viewer_and_widget, qtbot):
    from qtpy.QtCore import Qt

    viewer, widget = viewer_and_widget
    result = toy_result()
    widget.set_result(result)
    assert {"toy labels", "toy tracks", "toy leaders", "toy front"} <= _layer_names(viewer)
    tracks = viewer.layers["toy tracks"]
    assert tracks.color_by == "leader"
    assert tracks.tail_length > 1
    assert set(viewer.layers["toy leaders"].features["track_id"]) == {2}
    ids = [int(widget.table.item(row, 0).text()) for row in range(widget.table.rowCount())]
    assert ids == [1, 3, 2]  # most doubtful first
    assert widget.plots is not None and len(widget.plots.figure.axes) == 3
    widget.select_next_doubtful()
    assert widget.selected_track == 1  # the most doubtful
    assert (FLIP_KEY, NEXT_KEY) == ("Shift-F", "Shift-N")
    qtbot.keyClick(viewer.window._qt_viewer.canvas.native, Qt.Key_F, Qt.ShiftModifier)
    assert widget.result.leaders == [1, 2]
    assert widget.result.corrections.to_dict("records") == [{"track_id": 1, "is_leader": True}]
    assert set(viewer.layers["toy leaders"].features["track_id"]) == {1, 2}
    leader_colour = viewer.layers["toy tracks"].features["leader"]
    assert leader_colour[viewer.layers["toy tracks"].data[:, 0] == 1].eq(1.0).all()
    qtbot.keyClick(viewer.window._qt_viewer.canvas.native, Qt.Key_N, Qt.ShiftModifier)
    assert widget.selected_track == 3  # Shift-N: the next doubtful one


@pytest.mark.parametrize("with_labels", [True, False])
def test_clicking_a_nucleus_selects_its_track(viewer_and_widget, MouseEvent, with_labels):
    from dataclasses import replace

    viewer, widget = viewer_and_widget
    result = toy_result(pixel_size_um=0.5)
    widget.set_result(result if with_labels else replace(result, labels=None))
    assert ("toy labels" in viewer.layers) == with_labels
    viewer.dims.set_current_step(0, 2)
    row = result.tracks.query("track_id == 3 and frame == 2").iloc[0]
    world = (2.0, int(row.y) * 0.5, int(row.x) * 0.5)  # pixel centre in µm
    event = MouseEvent(type="mouse_press", position=world, dims_displayed=[1, 2], view_direction=None)
    assert widget._on_click in viewer.mouse_drag_callbacks
    widget._on_click(viewer, event)
    assert widget.selected_track == 3
    assert widget.track_info.toPlainText().startswith("Track 3: follower")
    assert "far behind the front" in widget.track_info.toPlainText()
    selected = viewer.layers["toy selected"].data
    assert len(selected) == 4 and np.allclose(selected[:, 1], result.tracks.query("track_id == 3")["y"])


# ---------------------------------------------------------------- the real pipeline in the widget
@pytest.fixture(scope="module")
def small_movie():
    """A short simulated wound-edge movie with planted leaders (seconds to analyse)."""
    from leadertrack.synthetic import simulate_invasion

    return simulate_invasion(geometry="planar", seed=3, n_frames=12, field_um=(160.0, 240.0), difficulty="easy")


def _add_movie(viewer, sim):
    from leadertrack_napari._layers import UNITS_KEY

    units = {"pixel_size_um": sim.pixel_size_um, "frame_interval_min": sim.frame_interval_min, "source": "test"}
    return viewer.add_image(sim.image, name="movie", metadata={UNITS_KEY: units})


def _run_and_wait(widget, qtbot):
    widget.run()
    assert not widget.run_button.isEnabled()  # running in the background
    qtbot.waitUntil(widget.run_button.isEnabled, timeout=60_000)


def test_run_shows_the_library_result_and_corrections_survive_save_and_reload(
    viewer_and_widget, qtbot, small_movie, make_napari_viewer, tmp_path, monkeypatch
):
    from leadertrack.pipeline import read_result

    from helpers import segmenting_threads

    segmented_in = segmenting_threads(monkeypatch)
    viewer, widget = viewer_and_widget
    _add_movie(viewer, small_movie)
    assert widget.image_choice.currentText() == "movie"
    assert float(widget.pixel_size.text()) == small_movie.pixel_size_um
    assert float(widget.frame_interval.text()) == small_movie.frame_interval_min
    widget.geometry.setCurrentText("planar")
    stages, bar_values = [], []
    widget._bridge.progressed.connect(lambda stage, done, total: stages.append(stage))
    widget.run()
    widget.progress_bar.events.value.connect(lambda event: bar_values.append(event.value))
    qtbot.waitUntil(widget.run_button.isEnabled, timeout=60_000)

    assert widget.result is not None, widget.status.text()
    assert {"segment", "link", "classify"} <= set(stages)
    # every core segments frames (on a one-core machine the worker thread itself does)
    assert segmented_in and all(name.startswith("leadertrack-segment") for name in segmented_in) == (os.cpu_count() > 1)
    assert max(bar_values) == len(small_movie.image)  # the napari progress bar counted the frames
    assert widget.progress_bar is None  # closed when the run finished
    expected = {"movie labels", "movie tracks", "movie leaders", "movie selected"}
    if widget.result.fronts["front_position_um"].notna().any():  # a front was found: it is drawn
        expected.add("movie front")
    assert _layer_names(viewer) == {"movie", *expected}
    result = widget.result
    assert result.provenance["config"]["front"]["geometry"] == "planar"  # the widget's parameters reached the run
    assert result.provenance["units"]["pixel_size_um"] == small_movie.pixel_size_um
    assert result.provenance["units"]["frame_interval_min"] == small_movie.frame_interval_min
    assert result.provenance["config"]["segment"]["nucleus_diameter_um"] is None  # blank = estimate
    assert set(viewer.layers["movie leaders"].features["track_id"]) == set(result.leaders)
    assert len(viewer.layers["movie tracks"].data) == len(result.tracks)
    assert widget.table.rowCount() == len(result.cells)
    assert np.array_equal(np.asarray(viewer.layers["movie labels"].data), np.asarray(result.labels))
    # streamed to disk and read lazily (memory map or frame by frame), not held in memory
    assert isinstance(result.labels, np.memmap) or not isinstance(result.labels, np.ndarray)
    widget.select_next_doubtful()
    while widget.selected_track in widget.result.leaders and len(widget.result.leaders) == 1:
        widget.select_next_doubtful()  # keep a leader and a follower so the model can retrain
    flipped = widget.selected_track
    was_leader = flipped in widget.result.leaders
    widget.flip_button.click()
    assert (flipped in widget.result.leaders) != was_leader
    assert set(viewer.layers["movie leaders"].features["track_id"]) == set(widget.result.leaders)
    widget.retrain_button.click()
    # no flip while retraining: the retrained result would replace it unseen
    assert not widget.flip_button.isEnabled()
    widget.flip_selected()
    assert widget.status.text().startswith("Retraining: flip again when it has finished")
    qtbot.waitUntil(widget.run_button.isEnabled, timeout=30_000)
    assert widget.flip_button.isEnabled()
    assert "retrained" in widget.result.provenance, widget.status.text()
    assert len(widget.result.corrections) == 1
    summary = widget.result.provenance["retrained"]["summary"]  # whether the model departs from the rule, and why
    assert "the rule" in summary and summary in widget.status.text()
    assert (flipped in widget.result.leaders) != was_leader  # the user's call wins over the new model
    folder = widget.save_result(tmp_path)
    assert (folder / "corrections.csv").exists()
    viewer.layers.selection = {viewer.layers["movie tracks"]}
    [saved] = viewer.layers.save(str(tmp_path / "via_napari"), selected=True, plugin="leadertrack")
    assert read_result(saved).corrections.equals(widget.result.corrections)

    other = make_napari_viewer()
    reviewer = LeaderTrackWidget(other)
    other.open(str(folder), plugin="leadertrack")  # dropped on a viewer with the widget open
    assert reviewer.result is not None
    assert {"movie labels", "movie tracks", "movie leaders"} <= _layer_names(other)
    assert reviewer.result.corrections.to_dict("records") == [{"track_id": flipped, "is_leader": not was_leader}]
    assert reviewer.result.leaders == widget.result.leaders
    assert "1 earlier corrections restored" in reviewer.status.text()
    row = [int(reviewer.table.item(r, 0).text()) for r in range(reviewer.table.rowCount())].index(flipped)
    assert reviewer.table.item(row, 3).text() == "yes"
    late = LeaderTrackWidget(other)  # a widget opened after the result finds it in the layers
    assert late.result.corrections.equals(reviewer.result.corrections)


def test_bad_parameter_is_reported_and_cancel_stops_the_run(viewer_and_widget, qtbot, small_movie):
    from qtpy.QtCore import Qt

    viewer, widget = viewer_and_widget
    _add_movie(viewer, small_movie)
    widget.nucleus_diameter.setText("ten")
    widget.run()
    assert widget.worker is None
    assert widget.status.text() == "nucleus diameter: 'ten' is not a number"

    widget.nucleus_diameter.setText("")
    # Also raise the cancel flag at the first progress report, in the worker thread itself, so the
    # run is interrupted mid-way however fast or loaded the machine is.
    widget._bridge.progressed.connect(lambda *_: widget._cancel.set(), Qt.DirectConnection)
    widget.run()
    assert widget.cancel_button.isEnabled()
    widget.cancel_button.click()
    assert widget.status.text() == "Cancelling..."
    qtbot.waitUntil(widget.run_button.isEnabled, timeout=60_000)
    assert not widget.cancel_button.isEnabled()
    assert widget.result is None
    assert widget.status.text() == "Cancelled."
    assert _layer_names(viewer) == {"movie"}


def test_masks_from_a_labels_layer_replace_segmentation(viewer_and_widget, qtbot, small_movie, monkeypatch):
    import importlib

    from leadertrack.config import RunConfig
    from leadertrack.pipeline import analyze_movie

    def no_segmentation(*args, **kwargs):
        raise AssertionError("the movie was segmented although masks were given")

    monkeypatch.setattr(importlib.import_module("leadertrack.segment"), "segment_frame", no_segmentation)
    viewer, widget = viewer_and_widget
    _add_movie(viewer, small_movie)
    assert [widget.nuclei_choice.itemText(i) for i in range(widget.nuclei_choice.count())] == ["segment the movie"]
    masks = small_movie.labels.copy()
    viewer.add_labels(masks, name="cellpose masks")
    viewer.add_labels(masks[:3], name="three frames")
    choices = [widget.nuclei_choice.itemText(i) for i in range(widget.nuclei_choice.count())]
    assert choices == ["segment the movie", "cellpose masks", "three frames"]
    assert widget.nucleus_diameter.isEnabled()

    widget.nuclei_choice.setCurrentText("three frames")  # masks that do not fit the movie: refused before running
    widget.run()
    assert widget.worker is None
    assert widget.status.text() == (
        f"the masks 'three frames' have shape {masks[:3].shape} but the movie 'movie' has {masks.shape}: "
        "choose masks made for this movie (one label image per frame)"
    )

    widget.nuclei_choice.setCurrentText("cellpose masks")
    assert not widget.nucleus_diameter.isEnabled()
    assert widget.nucleus_diameter.placeholderText() == "measured from the masks"
    widget.nucleus_diameter.setText("not read")  # the field is off: its text is not parsed
    _run_and_wait(widget, qtbot)
    result = widget.result
    assert result is not None, widget.status.text()
    assert result.provenance["nucleus_diameter_source"] == "labels"
    # the user's masks are the result's nuclei, and their layer is left as it was
    assert np.array_equal(np.asarray(viewer.layers["movie labels"].data), masks)
    assert np.array_equal(viewer.layers["cellpose masks"].data, small_movie.labels)
    units = {"pixel_size_um": small_movie.pixel_size_um, "frame_interval_min": small_movie.frame_interval_min}
    expected = analyze_movie(small_movie.image, RunConfig.model_validate({"units": units}), labels=masks)
    n_objects = sum(len(np.unique(frame[frame > 0])) for frame in masks)
    assert len(result.tracks) == len(expected.tracks) >= 0.99 * n_objects
    assert result.tracks["label"].equals(expected.tracks["label"])  # the masks' objects, tracked as the library does

    viewer.layers.remove("cellpose masks")  # the chosen masks are gone: back to segmenting
    assert widget.nuclei_choice.currentText() == "segment the movie"
    assert widget.nucleus_diameter.isEnabled()


def test_movie_opens_lazily_and_prefills_its_units(make_napari_viewer, tmp_path, monkeypatch):
    import tifffile

    from leadertrack.io import Movie

    rng = np.random.default_rng(0)
    tifffile.imwrite(
        tmp_path / "long.ome.tif", rng.integers(0, 255, size=(60, 64, 64), dtype=np.uint8), ome=True,
        metadata={"axes": "TYX", "PhysicalSizeX": 0.8, "PhysicalSizeY": 0.8, "TimeIncrement": 3.0, "TimeIncrementUnit": "min"},
    )
    reads = []
    original = Movie.frame
    monkeypatch.setattr(Movie, "frame", lambda self, t: reads.append(t) or original(self, t))
    viewer = make_napari_viewer()
    [layer] = viewer.open(str(tmp_path / "long.ome.tif"), plugin="leadertrack")
    viewer.dims.set_current_step(0, 40)
    assert 1 <= len(set(reads)) <= 4, reads  # the frames shown and one for the contrast, not all 60
    assert layer.scale[1:].tolist() == [0.8, 0.8]
    widget = LeaderTrackWidget(viewer)
    assert widget.image_choice.currentText() == "long"
    assert (widget.pixel_size.text(), widget.frame_interval.text()) == ("0.8", "3")
    assert widget.units_source.text() == "pixel size from the OME metadata; frame interval from the OME metadata"
    widget.pixel_size.setText("0.75")  # the user corrects it; adding other layers keeps the correction
    viewer.add_points(np.zeros((1, 3)))
    assert widget.pixel_size.text() == "0.75"
    _, config, name, masks = widget._movie_and_config()
    assert name == "long" and config.units.pixel_size_um == 0.75 and config.units.frame_interval_min is None
    assert masks is None  # no masks chosen: the movie is segmented


def test_widget_and_sample_open_from_napari_menus(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("leadertrack", "Find leader cells")
    assert isinstance(widget, LeaderTrackWidget)
    viewer.open_sample("leadertrack", "invasion_radial")
    assert [layer.name for layer in viewer.layers] == ["invasion_radial"]
    assert widget.image_choice.currentText() == "invasion_radial"
    assert widget.units_source.text() == "units from: simulation"
    assert "µm/min" in widget.max_speed.toolTip()  # the parameter's documentation from RunConfig
    assert float(widget.pixel_size.text()) > 0 and float(widget.frame_interval.text()) > 0


def test_saving_never_replaces_a_folder_that_is_not_a_result(viewer_and_widget, tmp_path, monkeypatch):
    # the movie "movie" was a folder of frames beside where the result is saved: it must survive
    from qtpy.QtWidgets import QFileDialog, QMessageBox

    _viewer, widget = viewer_and_widget
    widget.set_result(toy_result())
    frames = tmp_path / widget.result.name
    frames.mkdir()
    (frames / "t000.tif").write_bytes(b"frame")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path))
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.Yes)
    widget.save_button.click()
    assert (frames / "t000.tif").read_bytes() == b"frame"
    assert sorted(p.name for p in frames.iterdir()) == ["t000.tif"]
    assert "is not a leadertrack result: it is not replaced" in widget.status.text()
    assert not asked
    # a result of that name is replaced, after asking
    (frames / "t000.tif").unlink()
    frames.rmdir()
    widget.save_button.click()  # nothing there now: saved without asking
    assert not asked
    widget.select_track(1)
    widget.flip_selected()
    widget.save_button.click()  # the result saved before is replaced, after asking
    assert len(asked) == 1
    from leadertrack.pipeline import read_result

    assert read_result(frames).corrections.to_dict("records") == [{"track_id": 1, "is_leader": True}]


def test_result_layers_lie_on_the_movie_whatever_its_scale(viewer_and_widget, qtbot, small_movie):
    # a movie layer in pixels (scale 1, shifted) with the pixel size typed: the overlays follow the movie's layer
    viewer, widget = viewer_and_widget
    movie = viewer.add_image(small_movie.image, name="movie", translate=(0, 10, 20))
    assert widget.pixel_size.text() == ""
    widget.pixel_size.setText(str(small_movie.pixel_size_um))
    widget.frame_interval.setText(str(small_movie.frame_interval_min))
    _run_and_wait(widget, qtbot)
    assert widget.result is not None, widget.status.text()
    assert widget.result.provenance["units"]["pixel_size_um"] == small_movie.pixel_size_um
    for role in ("labels", "tracks", "leaders"):
        layer = viewer.layers[f"movie {role}"]
        assert np.allclose(layer.scale, movie.scale) and np.allclose(layer.translate, movie.translate), role
    widget.select_track(int(widget.result.cells["track_id"].iloc[0]))
    selected = viewer.layers["movie selected"]
    assert np.allclose(selected.translate, movie.translate)


def test_layer_units_multiscale_and_renamed_layers(viewer_and_widget, small_movie):
    viewer, widget = viewer_and_widget
    # a scale in nm and seconds is read in µm and minutes
    viewer.add_image(small_movie.image, name="nm movie", scale=(300, 800, 800), units=("s", "nm", "nm"))
    assert float(widget.pixel_size.text()) == pytest.approx(0.8)
    assert float(widget.frame_interval.text()) == pytest.approx(5.0)
    # pyramids and RGB are not offered as movies
    viewer.add_image([small_movie.image, small_movie.image[:, ::2, ::2]], name="pyramid", multiscale=True)
    viewer.add_image(np.zeros((3, 20, 30, 3), np.uint8), name="colour", rgb=True)
    offered = [widget.image_choice.itemText(i) for i in range(widget.image_choice.count())]
    assert offered == ["nm movie"]
    # a chosen masks layer and movie stay chosen when renamed, and what was typed is kept
    viewer.add_labels(small_movie.labels, name="cellpose masks")
    widget.nuclei_choice.setCurrentText("cellpose masks")
    widget.pixel_size.setText("0.7")
    viewer.layers["cellpose masks"].name = "nuclei"
    viewer.layers["nm movie"].name = "movie"
    assert widget.nuclei_choice.currentText() == "nuclei"
    assert widget.image_choice.currentText() == "movie"
    assert widget.pixel_size.text() == "0.7"
    assert widget._selected_masks() is viewer.layers["nuclei"]


def test_a_second_result_of_the_same_name_leaves_the_first_ones_layers_alone(viewer_and_widget, tmp_path, monkeypatch):
    # two experiments' results of a movie named "toy": napari names the second's layers "toy tracks [1]" ...
    from leadertrack.pipeline import write_result

    viewer, widget = viewer_and_widget
    widget.set_result(toy_result())
    first_tracks = viewer.layers["toy tracks"]
    widget.select_track(1)
    widget.flip_selected()
    first = widget.result
    other = write_result(toy_result(seed=1), tmp_path)
    viewer.open(str(other), plugin="leadertrack")
    # ... the widget shows the second result in its own layers; the first keeps its result and the flip
    assert widget.result is not first and widget.result.corrections.empty
    assert widget._layer("tracks") is not first_tracks and widget._layer("tracks").name == "toy tracks [1]"
    assert first_tracks.metadata["leadertrack_result"].corrections.to_dict("records") == [{"track_id": 1, "is_leader": True}]
    widget.select_track(3)
    widget.flip_selected()
    assert first_tracks.metadata["leadertrack_result"] is first
    group = widget._layer("tracks").metadata["leadertrack_group"]
    assert widget._layer("selected").metadata["leadertrack_group"] == group != first_tracks.metadata["leadertrack_group"]


def test_analysing_again_asks_before_dropping_unsaved_corrections(viewer_and_widget, qtbot, small_movie, monkeypatch, tmp_path):
    from qtpy.QtWidgets import QMessageBox

    viewer, widget = viewer_and_widget
    _add_movie(viewer, small_movie)
    _run_and_wait(widget, qtbot)
    widget.select_next_doubtful()
    widget.flip_selected()
    answers = [QMessageBox.No]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: answers.pop())
    before = widget.worker
    widget.run()
    assert widget.worker is before and widget.run_button.isEnabled()  # not started
    assert len(widget.result.corrections) == 1
    assert "save your corrections first" in widget.status.text()
    widget.save_result(tmp_path)  # saved: analysing again does not ask
    _run_and_wait(widget, qtbot)
    assert widget.result.corrections.empty and answers == []


def test_each_channel_of_a_movie_is_a_result_of_its_own(viewer_and_widget, tmp_path):
    import tifffile

    viewer, widget = viewer_and_widget
    path = tmp_path / "mc.ome.tif"
    tifffile.imwrite(path, np.zeros((4, 2, 30, 40), np.uint16), ome=True, metadata={"axes": "TCYX"})
    viewer.open(str(path), plugin="leadertrack")
    names = []
    for layer in ("mc ch0", "mc ch1"):
        widget.image_choice.setCurrentText(layer)
        names.append(widget._movie_and_config()[2])
    assert names == ["mc_ch0", "mc_ch1"]


def test_a_closed_plots_dock_comes_back_with_the_next_result(viewer_and_widget, qtbot):
    viewer, widget = viewer_and_widget
    widget.set_result(toy_result())
    plots = widget.plots
    dock = viewer.window._dock_widgets["leadertrack plots"]
    dock.destroyOnClose()  # the dock's close button
    assert "leadertrack plots" not in viewer.window._dock_widgets
    widget.select_track(1)  # drawing while the dock is closed is fine
    widget.set_result(toy_result(seed=1))
    assert widget.plots is not plots and widget.plots.parent() is not None
    assert "leadertrack plots" in viewer.window._dock_widgets


def test_the_units_line_says_what_the_file_lacks():
    from leadertrack_napari._widget import _units_line

    assert _units_line("ImageJ metadata", "none") == (
        "pixel size from the ImageJ metadata; frame interval not in the file: type it, or times are in frames"
    )


def test_cancel_pressed_after_the_last_progress_report_shows_no_result(viewer_and_widget):
    from leadertrack_napari._widget import _build_layers

    viewer, widget = viewer_and_widget
    result = toy_result()
    widget.cancel()  # the analysis had already passed its last progress report
    widget._on_analysis_done((result, _build_layers(result)))
    assert widget.result is None and widget.status.text() == "Cancelled."
    assert not any(layer.name.startswith("toy ") for layer in viewer.layers)


def test_a_closed_widget_lets_go_of_the_viewer(make_napari_viewer):
    """Closed with its dock's close button and reopened from the Plugins menu, the old widget went on selecting
    cells on every click and taking over every result opened."""
    viewer = make_napari_viewer()
    widget = LeaderTrackWidget(viewer)
    viewer.window.add_dock_widget(widget, name="leadertrack")
    assert widget._on_click in viewer.mouse_drag_callbacks
    viewer.window.remove_dock_widget(widget)  # what the dock's close button does
    assert widget._on_click not in viewer.mouse_drag_callbacks
    from leadertrack_napari._widget import _build_layers

    for layer in _build_layers(toy_result()):  # a result opened later is not taken over by the closed widget
        viewer.add_layer(layer)
    assert widget.result is None


def test_a_movie_analysed_again_leaves_one_labels_file_in_the_scratch_folder(viewer_and_widget, qtbot, small_movie):
    """Every run streamed its labels to the session's scratch folder, kept until napari exits: a long session of
    re-runs filled the disk."""
    viewer, widget = viewer_and_widget
    _add_movie(viewer, small_movie)
    _run_and_wait(widget, qtbot)
    first = widget._labels_files["movie"]
    assert first.exists()
    widget.geometry.setCurrentText("planar")
    _run_and_wait(widget, qtbot)
    second = widget._labels_files["movie"]
    assert second.exists() and not first.exists()
    assert np.asarray(viewer.layers["movie labels"].data).max() > 0  # the layer shown reads the file kept
