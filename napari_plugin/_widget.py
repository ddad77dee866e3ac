"""The leadertrack dock widget: run the analysis, review and correct leader calls, save.

Qt lives here (and only in ``napari_plugin``). The widget receives the viewer; all analysis is the
public library API (:mod:`leadertrack.pipeline`), run in a napari ``thread_worker`` so the GUI
stays responsive.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import threading
import uuid
from functools import cache
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from napari.layers import Image, Labels, Layer
from napari.qt.threading import create_worker
from napari.utils import progress
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QEvent, QObject, Signal
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ._layers import GROUP_KEY, MOVIE_KEY, RESULT_KEY, ROLE_KEY, UNITS_KEY, nucleus_diameter_px_of, result_layer_data
from ._plots import draw_result_plots, highlight_track
from ._review import describe_track, doubt_table, flip_call, threshold_of, track_at, track_near

if TYPE_CHECKING:
    import napari

__all__ = ["LeaderTrackWidget", "PlotsWidget"]

_ROLES = ("labels", "tracks", "leaders", "front", "selected")
_HINT = "Click a cell, or a row below, to see why it was called leader or follower."
FLIP_KEY = "Shift-F"
NEXT_KEY = "Shift-N"
SEGMENT_CHOICE = "segment the movie"
"""The first entry of the nuclei choice: leadertrack segments the movie itself."""


class _Cancelled(Exception):
    """Raised inside the progress callback when the user pressed Cancel."""


class _ProgressBridge(QObject):
    """Carries progress from the worker thread to the GUI thread (queued signal)."""

    progressed = Signal(str, int, int)


class PlotsWidget(QWidget):
    """A dock with the review plots (:func:`draw_result_plots`) on a matplotlib canvas."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.figure = Figure(figsize=(12, 3.2), layout=None)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(220)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)

    def show_result(self, result: Any, *, track_id: int | None = None) -> None:
        """Redraw every plot for ``result`` (after a run, a flip or a retrain)."""
        draw_result_plots(self.figure, result, track_id=track_id)
        self.canvas.draw_idle()

    def show_track(self, result: Any, track_id: int | None) -> None:
        """Highlight one track in the speed plot (a new selection)."""
        highlight_track(self.figure, result, track_id)
        self.canvas.draw_idle()


def _optional_float(edit: QLineEdit, what: str) -> float | None:
    """The positive number typed in ``edit``; None when blank."""
    from leadertrack.errors import InputError

    text = edit.text().strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{what}: {text!r} is not a number") from None
    if not np.isfinite(value) or value <= 0:
        raise InputError(f"{what}: must be a positive number, got {text}")
    return value


def _units_of_scale(layer: Any) -> tuple[float | None, float | None]:
    """Pixel size (µm) and frame interval (min) of a layer's scale, in the layer's units.

    A spatial scale in a length unit (nm, mm) is converted to µm; in pixels (napari's default), a scale
    other than 1 is taken for µm, as most readers give it. The time step counts only in a time unit.
    """
    units = getattr(layer, "units", None)

    def converted(value: float, unit: Any, target: str) -> float | None:
        try:
            return float((value * unit).to(target).magnitude)
        except (TypeError, ValueError, AttributeError):  # pint's DimensionalityError (a TypeError): not that kind of unit
            return None

    spatial, step = float(layer.scale[-1]), float(layer.scale[0])
    if units is None:
        return (spatial if spatial != 1 else None), None
    pixel = converted(spatial, units[-1], "micrometer")
    if pixel is None and spatial != 1 and str(units[-1]) == "pixel":
        pixel = spatial
    return pixel, converted(step, units[0], "minute")


def _units_line(pixel_source: str, interval_source: str) -> str:
    """Where the file's units came from, for the line under the units fields.

    Examples
    --------
    >>> _units_line("OME metadata", "none")
    'pixel size from the OME metadata; frame interval not in the file: type it, or times are in frames'
    """
    pixel = f"pixel size from the {pixel_source}" if pixel_source != "none" else "pixel size not in the file: type it, or distances are in pixels"
    interval = (f"frame interval from the {interval_source}" if interval_source != "none"
                else "frame interval not in the file: type it, or times are in frames")
    return f"{pixel}; {interval}"


def _format(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _field_help(section: str, field: str) -> str:
    """The documentation of a run parameter: its description in :class:`leadertrack.config.RunConfig`."""
    from leadertrack.config import RunConfig

    return RunConfig.model_fields[section].annotation.model_fields[field].description


def _same(typed: float | None, known: float | None) -> bool:
    """True when the typed value is the metadata value as prefilled (``_format`` rounds)."""
    if typed is None or known is None:
        return typed is None and known is None
    return math.isclose(typed, known, rel_tol=1e-5)


class LeaderTrackWidget(QWidget):
    """Find leader cells in the selected movie, then review and correct the calls.

    Parameters
    ----------
    napari_viewer
        The viewer to work in (napari passes it when the widget is opened from the menu).
    """

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.result: Any = None
        self._group: str | None = None  # the GROUP_KEY of the result's layers
        self._unsaved = False  # flips not saved yet
        self.selected_track: int | None = None
        self.worker: Any = None
        self.progress_bar: progress | None = None
        self.plots: PlotsWidget | None = None
        self._run_layer: Layer | None = None
        self._run_labels: Path | None = None  # where the running analysis streams its labels
        self._labels_files: dict[str, Path] = {}  # the labels file of each result shown, by its name
        self._retraining = False
        self._cancel = threading.Event()
        self._bridge = _ProgressBridge()
        self._bridge.progressed.connect(self._on_progress)
        self._build()
        self._refresh_layer_choices()
        self.viewer.layers.events.inserted.connect(self._on_layer_inserted)
        self.viewer.layers.events.removed.connect(self._refresh_layer_choices)
        for layer in self.viewer.layers:
            layer.events.name.connect(self._refresh_layer_choices)
        self.viewer.mouse_drag_callbacks.append(self._on_click)
        self.viewer.bind_key(FLIP_KEY, self._flip_key, overwrite=True)
        self.viewer.bind_key(NEXT_KEY, self._next_key, overwrite=True)
        self._disconnect = _disconnector(self.viewer, self._on_click, self._on_layer_inserted, self._refresh_layer_choices)
        self.destroyed.connect(self._disconnect)
        self._docked = False
        self._chosen: dict[str, Any] = {"movie": self._selected_layer(), "masks": self._selected_masks()}
        for layer in self.viewer.layers:
            self._adopt_from(layer)

    def event(self, event: QEvent) -> bool:
        """A widget taken out of its dock (the dock's close button) lets go of the viewer: reopened from the
        Plugins menu, napari makes a new widget, and this one would go on reacting to clicks and new layers."""
        if event.type() == QEvent.ParentChange:
            if self.parent() is not None:
                self._docked = True
            elif self._docked:
                self._disconnect()
        return super().event(event)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.image_choice = QComboBox()
        self.image_choice.currentIndexChanged.connect(self._prefill_units)
        self.nuclei_choice = QComboBox()
        self.nuclei_choice.setToolTip(
            "Where the nuclei come from: segmented here, or the masks of a Labels layer of the same (T, Y, X) "
            "shape as the movie, e.g. from Cellpose or StarDist (the layer is read, never changed; the nucleus "
            "diameter is then measured from the masks). Mask files named like masks (movie_masks.tif, "
            "movie_cp_masks.tif) open as Labels layers; an image layer of masks becomes one with right-click > "
            "Convert to Labels."
        )
        self.nuclei_choice.currentIndexChanged.connect(self._on_nuclei_choice)
        self.nucleus_diameter = QLineEdit()
        self.nucleus_diameter.setPlaceholderText("blank = estimate from the movie")
        self.max_speed = QLineEdit()
        self.max_speed.setPlaceholderText("blank = derive from nucleus size")
        self.geometry = QComboBox()
        self.geometry.addItems(["auto", "planar", "radial"])
        self.pixel_size = QLineEdit()
        self.pixel_size.setPlaceholderText("not in the file: distances in pixels")
        self.frame_interval = QLineEdit()
        self.frame_interval.setPlaceholderText("not in the file: times in frames")
        self.units_source = QLabel()
        self.units_source.setWordWrap(True)
        for edit, (section, field) in {
            self.nucleus_diameter: ("segment", "nucleus_diameter_um"),
            self.max_speed: ("link", "max_speed_um_per_min"),
            self.geometry: ("front", "geometry"),
            self.pixel_size: ("units", "pixel_size_um"),
            self.frame_interval: ("units", "frame_interval_min"),
        }.items():
            edit.setToolTip(_field_help(section, field))

        form = QFormLayout()
        form.addRow("movie", self.image_choice)
        form.addRow("nuclei", self.nuclei_choice)
        form.addRow("nucleus diameter (µm)", self.nucleus_diameter)
        form.addRow("max speed (µm/min)", self.max_speed)
        form.addRow("invasion geometry", self.geometry)
        form.addRow("pixel size (µm)", self.pixel_size)
        form.addRow("frame interval (min)", self.frame_interval)
        form.addRow(self.units_source)

        self.run_button = QPushButton("Find leaders")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        self.status = QLabel("Open a movie (File > Open) or a sample (File > Open Sample > leadertrack).")
        self.status.setWordWrap(True)

        run_box = QGroupBox("Analysis")
        run_layout = QVBoxLayout(run_box)
        run_layout.addLayout(form)
        run_layout.addLayout(buttons)
        run_layout.addWidget(self.status)

        self.track_info = QPlainTextEdit(_HINT)
        self.track_info.setReadOnly(True)
        self.track_info.setMaximumHeight(110)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["track", "score", "call", "set by you"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setMinimumHeight(150)
        self.table.setToolTip("Tracks sorted by doubt: leader score closest to the threshold first.")
        self.table.cellClicked.connect(self._on_row_clicked)
        self.flip_button = QPushButton(f"Flip leader/follower ({FLIP_KEY})")
        self.flip_button.clicked.connect(self.flip_selected)
        self.next_button = QPushButton(f"Next doubtful ({NEXT_KEY})")
        self.next_button.clicked.connect(self.select_next_doubtful)
        self.retrain_button = QPushButton("Retrain from my corrections")
        self.retrain_button.clicked.connect(self.retrain)
        self.save_button = QPushButton("Save result...")
        self.save_button.clicked.connect(self._save_dialog)
        review_buttons = QHBoxLayout()
        review_buttons.addWidget(self.flip_button)
        review_buttons.addWidget(self.next_button)
        more_buttons = QHBoxLayout()
        more_buttons.addWidget(self.retrain_button)
        more_buttons.addWidget(self.save_button)

        review_box = QGroupBox("Review")
        review_layout = QVBoxLayout(review_box)
        review_layout.addWidget(self.track_info)
        review_layout.addWidget(self.table)
        review_layout.addLayout(review_buttons)
        review_layout.addLayout(more_buttons)

        layout = QVBoxLayout(self)
        layout.addWidget(run_box)
        layout.addWidget(review_box)
        self._set_review_enabled(False)

    def _set_review_enabled(self, enabled: bool) -> None:
        for button in (self.flip_button, self.next_button, self.retrain_button, self.save_button):
            button.setEnabled(enabled)

    # ------------------------------------------------------------------ input movie and units
    def _image_layers(self) -> list[Any]:
        return [
            layer for layer in self.viewer.layers
            if isinstance(layer, Image) and layer.ndim == 3 and not layer.multiscale and not layer.rgb
        ]

    def _labels_layers(self) -> list[Any]:
        return [layer for layer in self.viewer.layers if isinstance(layer, Labels) and layer.ndim == 3 and not layer.multiscale]

    def _refresh_layer_choices(self, event: Any = None) -> None:
        """Fill the movie and nuclei choices from the layers; a chosen layer stays chosen when renamed."""
        chosen = getattr(self, "_chosen", {})  # the layers chosen, by identity (not yet while building)
        masks, movie = (
            chosen[key].name if chosen.get(key) is not None and chosen[key] in self.viewer.layers else choice.currentText()
            for key, choice in (("masks", self.nuclei_choice), ("movie", self.image_choice))
        )
        names = [SEGMENT_CHOICE, *(layer.name for layer in self._labels_layers())]
        self.nuclei_choice.blockSignals(True)
        self.nuclei_choice.clear()
        self.nuclei_choice.addItems(names)
        self.nuclei_choice.setCurrentText(masks if masks in names else SEGMENT_CHOICE)
        self.nuclei_choice.blockSignals(False)
        self._on_nuclei_choice()
        names = [layer.name for layer in self._image_layers()]
        self.image_choice.blockSignals(True)
        self.image_choice.clear()
        self.image_choice.addItems(names)
        if movie in names:
            self.image_choice.setCurrentText(movie)
        self.image_choice.blockSignals(False)
        if self.image_choice.currentText() != movie:  # keep what the user typed for the same movie
            self._prefill_units()

    def _selected_layer(self) -> Any:
        name = self.image_choice.currentText()
        return self.viewer.layers[name] if name in self.viewer.layers else None

    def _selected_masks(self) -> Any:
        """The Labels layer chosen as the nuclei, or None: segment the movie."""
        name = self.nuclei_choice.currentText()
        return self.viewer.layers[name] if name != SEGMENT_CHOICE and name in self.viewer.layers else None

    def _on_nuclei_choice(self, index: int = 0) -> None:
        """With masks given the nucleus diameter is measured from them, so its field is off."""
        if hasattr(self, "_chosen"):
            self._chosen["masks"] = self._selected_masks()
        given = self._selected_masks() is not None
        self.nucleus_diameter.setEnabled(not given)
        self.nucleus_diameter.setPlaceholderText(
            "measured from the masks" if given else "blank = estimate from the movie"
        )

    def _prefill_units(self, index: int = 0) -> None:
        layer = self._selected_layer()
        if hasattr(self, "_chosen"):
            self._chosen["movie"] = layer
        if layer is None:
            return
        movie = layer.metadata.get(MOVIE_KEY)
        if movie is not None:
            pixel, interval = movie.pixel_size_um, movie.frame_interval_min
            self.units_source.setText(_units_line(movie.pixel_size_source, movie.frame_interval_source))
        elif UNITS_KEY in layer.metadata:
            units = layer.metadata[UNITS_KEY]
            pixel, interval = units.get("pixel_size_um"), units.get("frame_interval_min")
            self.units_source.setText(f"units from: {units.get('source', 'the layer')}")
        else:
            pixel, interval = _units_of_scale(layer)
            self.units_source.setText("units from the layer's scale; type what is missing")
        self.pixel_size.setText(_format(pixel))
        self.frame_interval.setText(_format(interval))

    def _movie_and_config(self) -> tuple[Any, Any, str, Any]:
        """The selected movie (a lazy Movie when opened by leadertrack), the configuration, the result name
        and the chosen masks (None: segment the movie)."""
        from leadertrack.config import RunConfig
        from leadertrack.errors import InputError
        from leadertrack.io import movie_name

        layer = self._selected_layer()
        if layer is None:
            raise InputError("no movie: open a (T, Y, X) time-lapse movie first")
        masks = self._selected_masks()
        if masks is not None and tuple(masks.data.shape) != tuple(layer.data.shape):
            raise InputError(
                f"the masks {masks.name!r} have shape {tuple(masks.data.shape)} but the movie {layer.name!r} has "
                f"{tuple(layer.data.shape)}: choose masks made for this movie (one label image per frame)"
            )
        pixel = _optional_float(self.pixel_size, "pixel size")
        interval = _optional_float(self.frame_interval, "frame interval")
        movie = layer.metadata.get(MOVIE_KEY)
        if movie is not None:
            # Only values the user changed count as overrides, so run.json keeps the metadata source.
            pixel = None if _same(pixel, movie.pixel_size_um) else pixel
            interval = None if _same(interval, movie.frame_interval_min) else interval
            channels = movie.metadata.get("n_channels", 1)
            # each channel of a movie is a result of its own: they must not share a name (and a folder)
            name = f"{movie.name}_ch{movie.metadata['channel']}" if channels > 1 else movie.name
        else:
            movie = layer.data  # read into memory by the worker thread, not here
            name = movie_name(layer.name)
        config = RunConfig.model_validate(
            {
                "units": {"pixel_size_um": pixel, "frame_interval_min": interval},
                "segment": {
                    "nucleus_diameter_um": None if masks is not None else _optional_float(self.nucleus_diameter, "nucleus diameter")
                },
                "link": {"max_speed_um_per_min": _optional_float(self.max_speed, "max speed")},
                "front": {"geometry": self.geometry.currentText()},
            }
        )
        return movie, config, name, None if masks is None else masks.data

    # ------------------------------------------------------------------ running
    def run(self) -> None:
        """Start the analysis of the selected movie in a background thread."""
        from leadertrack.errors import InputError
        from leadertrack.pipeline import analyze_movie

        try:
            movie, config, result_name, masks = self._movie_and_config()
        except InputError as exc:
            self.status.setText(str(exc))
            show_error(str(exc))
            return
        if self._unsaved and self.result is not None and result_name == self.result.name:
            answer = QMessageBox.question(
                self, "Discard corrections?",
                f"Analysing {result_name} again replaces its result and your {len(self.result.corrections)} "
                "correction(s), not saved yet. Analyse again?",
            )
            if answer != QMessageBox.Yes:
                self.status.setText("Not analysed again: save your corrections first (Save result...).")
                return
        name = self.image_choice.currentText()
        self._run_layer = self._selected_layer()
        self._run_labels = Path(_scratch_folder().name) / f"{uuid.uuid4().hex}-labels.tif"
        self._cancel.clear()
        self.progress_bar = progress(total=0, desc=f"leadertrack: {name}")
        self.worker = create_worker(
            _analyze_or_cancel,
            analyze_movie,
            movie,
            config,
            name=result_name,
            labels=masks,
            labels_path=self._run_labels,
            progress=self._report_progress,
            _connect={"returned": self._on_analysis_done, "errored": self._on_error, "finished": self._on_finished},
        )
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"Analysing {name}...")

    def cancel(self) -> None:
        """Ask the running analysis to stop at its next progress report."""
        self._cancel.set()
        self.status.setText("Cancelling...")

    def _report_progress(self, stage: str, done: int, total: int) -> None:
        """Runs in the worker thread: stop when cancelled, else pass progress to the GUI."""
        if self._cancel.is_set():
            raise _Cancelled
        self._bridge.progressed.emit(stage, done, total)

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        self.status.setText(f"{stage}: {done}/{total}")
        bar = self.progress_bar
        if bar is not None:
            if bar.total != total:  # a new stage
                bar.total = total
                bar.n = 0
            bar.set_description(f"leadertrack {stage}")
            bar.update(done - bar.n)  # emits the event napari's activity dock listens to

    def _on_analysis_done(self, outcome: tuple[Any, list[Layer]] | None) -> None:
        if outcome is None or self._cancel.is_set():  # Cancel pressed after the last progress report counts too
            _remove(self._run_labels)
            self.status.setText("Cancelled.")
            return
        result, layers = outcome
        self.set_result(result, layers=layers, like=self._run_layer)
        # the labels of the result this one replaced are no longer shown: their file goes (it was kept till exit)
        replaced = self._labels_files.get(result.name)
        self._labels_files[result.name] = self._run_labels
        if replaced != self._run_labels:
            _remove(replaced)
        n_leaders = int(result.cells["is_leader"].sum())
        self.status.setText(
            f"{result.name}: {len(result.cells)} tracks, {n_leaders} leaders. "
            "Review the doubtful ones below."
        )
        for message in result.provenance.get("warnings", []):
            show_info(f"{result.name}: {message}")

    def _on_error(self, exc: Exception) -> None:
        # napari's worker already shows the error as a notification.
        if not self._retraining:
            _remove(self._run_labels)  # a run that failed leaves no labels file behind
        self.status.setText(f"Failed: {exc}")

    def _on_finished(self) -> None:
        if self.progress_bar is not None:
            self.progress_bar.close()
            self.progress_bar = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.retrain_button.setEnabled(self.result is not None)
        self.flip_button.setEnabled(self.result is not None)
        self._retraining = False

    # ------------------------------------------------------------------ showing a result
    def set_result(self, result: Any, *, layers: list[Layer] | None = None, like: Layer | None = None) -> None:
        """Show ``result``: replace its layers, the review table and the plots.

        ``layers`` are the result's napari layers when already built (by the worker thread, so a
        long movie's million-point tracks layer does not freeze the GUI while it is built). ``like``:
        the movie's layer, whose scale and translation the result's layers take, so they lie on the
        movie however it is calibrated (a pixel size typed for a layer in pixels, a time step).
        """
        for role in _ROLES:  # a movie analysed again: its earlier result's layers go
            name = f"{result.name} {role}"
            if name in self.viewer.layers and self.viewer.layers[name].metadata.get(ROLE_KEY) == role:
                self.viewer.layers.remove(name)
        layers = _build_layers(result) if layers is None else layers
        for layer in layers:
            if like is not None and like in self.viewer.layers:
                layer.scale, layer.translate = like.scale, like.translate
            self.viewer.add_layer(layer)
        self._adopt(result, group=layers[0].metadata.get(GROUP_KEY) if layers else None)

    def _on_layer_inserted(self, event: Any) -> None:
        event.value.events.name.connect(self._refresh_layer_choices)
        self._refresh_layer_choices()
        self._adopt_from(event.value)

    def _adopt_from(self, layer: Any) -> None:
        """Take over a result opened by the reader (its tracks layer carries it)."""
        if layer.metadata.get(ROLE_KEY) == "tracks" and layer.metadata.get(RESULT_KEY) is not self.result:
            self._adopt(layer.metadata[RESULT_KEY], group=layer.metadata.get(GROUP_KEY))

    def _adopt(self, result: Any, *, group: str | None) -> None:
        if self._unsaved and self.result is not None and group != self._group:
            show_info(f"{self.result.name}: your corrections are kept in its tracks layer, not saved yet "
                      "(select it, then File > Save Selected Layers)")
        self.result = result
        self._group = group
        self._unsaved = False
        self.selected_track = None
        labels_layer = self._layer("labels")
        if labels_layer is not None:
            labels_layer.contour = 1  # outlines keep the nuclei visible underneath
        self._set_review_enabled(True)
        self._plots_dock()  # a new result brings back a plots dock that was closed
        self._refresh_review()
        n_fixed = len(result.corrections)
        if n_fixed:
            self.status.setText(f"{result.name}: {n_fixed} earlier corrections restored.")

    def _layer(self, role: str) -> Any:
        """The layer of the shown result in ``role``, by its group (never by name: names can be taken)."""
        for layer in self.viewer.layers:
            if layer.metadata.get(ROLE_KEY) == role and layer.metadata.get(GROUP_KEY) == self._group:
                return layer
        return None

    def _refresh_review(self) -> None:
        """Update the tracks colours, leader markers, table, info text and plots after a change."""
        result = self.result
        fresh = {kwargs["metadata"][ROLE_KEY]: (data, kwargs) for data, kwargs, _ in result_layer_data(result)}
        tracks_layer = self._layer("tracks")
        if tracks_layer is not None:
            tracks_layer.features = fresh["tracks"][1]["features"]
            tracks_layer.metadata[RESULT_KEY] = result
            tracks_layer.color_by = tracks_layer.color_by
        leaders_layer = self._layer("leaders")
        if leaders_layer is not None:
            data, kwargs = fresh["leaders"]
            leaders_layer.data = data
            leaders_layer.features = kwargs["features"]
        self._fill_table()
        if self.plots is not None:
            self.plots.show_result(result, track_id=self.selected_track)
        self._show_selection()

    def _plots_dock(self) -> PlotsWidget:
        """The plots dock, made again when it was closed (napari takes a closed dock's widget out of the window)."""
        if self.plots is None or self.plots.parent() is None:
            self.plots = PlotsWidget()
            self.viewer.window.add_dock_widget(self.plots, name="leadertrack plots", area="bottom")
        return self.plots

    def _fill_table(self) -> None:
        table = doubt_table(self.result)
        self.table.setRowCount(len(table))
        for row, cells in enumerate(table.itertuples(index=False)):
            values = [str(cells.track_id), f"{cells.leader_score:.2f}",
                      "leader" if cells.is_leader else "follower", "yes" if cells.corrected else ""]
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        self.table.resizeColumnsToContents()
        self.table.setToolTip(
            f"Tracks sorted by doubt: leader score closest to the threshold ({threshold_of(self.result):.2f}) first."
        )

    def _table_track_ids(self) -> list[int]:
        return [int(self.table.item(row, 0).text()) for row in range(self.table.rowCount())]

    def _show_selection(self) -> None:
        result = self.result
        track_id = self.selected_track
        if track_id is None:
            self.track_info.setPlainText(_HINT)
        else:
            self.track_info.setPlainText(describe_track(result, track_id))
            ids = self._table_track_ids()
            if track_id in ids:
                self.table.selectRow(ids.index(track_id))
        self._show_selected_cell()
        if self.plots is not None:
            self.plots.show_track(result, track_id)

    def _show_selected_cell(self) -> None:
        """A cyan ring on the selected track's nucleus in every frame."""
        rows = self.result.tracks[self.result.tracks["track_id"] == self.selected_track]
        data = rows[["frame", "y", "x"]].to_numpy(dtype=float).reshape(-1, 3)
        selected = self._layer("selected")
        if selected is not None:
            selected.data = data
            return
        tracks_layer = self._layer("tracks")
        self.viewer.add_points(
            data, name=f"{self.result.name} selected", scale=tracks_layer.scale if tracks_layer is not None else None,
            translate=tracks_layer.translate if tracks_layer is not None else None,
            size=2.0 * nucleus_diameter_px_of(self.result), face_color="transparent", border_color="#00e5ff",
            border_width=0.15,
            out_of_slice_display=False, metadata={ROLE_KEY: "selected", GROUP_KEY: self._group},
        )

    # ------------------------------------------------------------------ review actions
    def select_track(self, track_id: int | None, *, jump: bool = True) -> None:
        """Select ``track_id``: show its measurements and reason; with ``jump`` go to the cell."""
        self.selected_track = track_id
        if track_id is not None and jump:
            rows = self.result.tracks[self.result.tracks["track_id"] == track_id]
            frame = int(self.viewer.dims.current_step[0])
            here = rows[rows["frame"] == frame]
            if here.empty:
                here = rows.iloc[[len(rows) // 2]]
                self.viewer.dims.set_current_step(0, int(here["frame"].iloc[0]))
            tracks_layer = self._layer("tracks")
            point = (float(here["frame"].iloc[0]), float(here["y"].iloc[0]), float(here["x"].iloc[0]))
            world = tracks_layer.data_to_world(point) if tracks_layer is not None else point
            _camera(self.viewer).center = tuple(float(v) for v in world[-2:])
        self._show_selection()

    def _on_row_clicked(self, row: int, column: int) -> None:
        self.select_track(int(self.table.item(row, 0).text()))

    def select_next_doubtful(self) -> None:
        """Select the track after the current one in the doubt order (the most doubtful first)."""
        ids = self._table_track_ids()
        if not ids:
            return
        position = ids.index(self.selected_track) + 1 if self.selected_track in ids else 0
        self.select_track(ids[position % len(ids)])

    def _on_click(self, viewer: Any, event: Any) -> None:
        """Mouse press anywhere in the canvas: select the track whose nucleus is under the cursor.

        Uses the label image when there is one, else the nearest cell (results from tracks alone).
        """
        if self.result is None:
            return
        frame = int(viewer.dims.current_step[0])
        labels_layer, tracks_layer = self._layer("labels"), self._layer("tracks")
        if labels_layer is not None:
            value = labels_layer.get_value(
                event.position, view_direction=event.view_direction, dims_displayed=event.dims_displayed, world=True
            )
            track_id = None if value is None else track_at(self.result.tracks, frame=frame, label=int(value))
        elif tracks_layer is not None:
            _, y, x = tracks_layer.world_to_data(event.position)[-3:]
            track_id = track_near(
                self.result.tracks, frame=frame, y=y, x=x, max_distance_px=nucleus_diameter_px_of(self.result)
            )
        else:
            return
        if track_id is not None:
            self.select_track(track_id, jump=False)

    def flip_selected(self) -> None:
        """Flip the selected track between leader and follower; the correction is kept."""
        from leadertrack.pipeline import apply_corrections

        if self.result is None or self.selected_track is None:
            self.status.setText("Select a cell first (click it, or a row of the table).")
            return
        if self._retraining:
            self.status.setText("Retraining: flip again when it has finished (the retrained result replaces this one).")
            return
        self.result = apply_corrections(self.result, flip_call(self.result, self.selected_track))
        self._unsaved = True
        n_fixed = len(self.result.corrections)
        self.status.setText(f"{n_fixed} correction{'s' if n_fixed != 1 else ''}; save to keep them.")
        self._refresh_review()

    def _flip_key(self, viewer: Any) -> None:
        self.flip_selected()

    def _next_key(self, viewer: Any) -> None:
        self.select_next_doubtful()

    def retrain(self) -> None:
        """Refit the classifier on this movie with your corrections and re-score every track."""
        from leadertrack.pipeline import apply_corrections

        if self.result is None or self.result.corrections.empty:
            self.status.setText("Flip at least one call first: retraining learns from your corrections.")
            return
        self.retrain_button.setEnabled(False)
        self.run_button.setEnabled(False)
        self.flip_button.setEnabled(False)
        self._retraining = True
        self.status.setText("Retraining from your corrections...")
        self.worker = create_worker(
            apply_corrections,
            self.result,
            self.result.corrections,
            retrain=True,
            _connect={"returned": self._on_retrained, "errored": self._on_error, "finished": self._on_finished},
        )

    def _on_retrained(self, result: Any) -> None:
        self.result = result
        n_leaders = int(result.cells["is_leader"].sum())
        summary = result.provenance.get("retrained", {}).get("summary", "")
        self.status.setText(f"Retrained on {len(result.corrections)} corrections: {n_leaders} leaders now. {summary}".rstrip())
        self._refresh_review()

    def save_result(self, out: str | Path, *, overwrite: bool = False) -> Path:
        """Write the result, corrections included, to ``out/<movie name>/`` and return that folder."""
        from leadertrack.pipeline import write_result

        folder = write_result(self.result, Path(out), overwrite=overwrite)
        self._unsaved = False
        self.status.setText(f"Saved to {folder}")
        return folder

    def _save_dialog(self) -> None:
        out = QFileDialog.getExistingDirectory(self, "Save the result into this folder")
        if not out:
            return
        from leadertrack.errors import InputError
        from leadertrack.pipeline import is_result_folder

        target = Path(out) / self.result.name
        if target.exists():
            if not is_result_folder(target):
                message = (f"{target} exists and is not a leadertrack result: it is not replaced. "
                           "Choose another folder, or move or rename it.")
                self.status.setText(message)
                show_error(message)
                return
            answer = QMessageBox.question(self, "Replace?", f"{target} holds a leadertrack result. Replace it?")
            if answer != QMessageBox.Yes:
                return
        try:
            self.save_result(out, overwrite=True)
        except (InputError, OSError) as exc:  # a folder not writable, a full disk
            self.status.setText(f"Not saved: {exc}")
            show_error(f"Not saved: {exc}")


@cache
def _scratch_folder() -> tempfile.TemporaryDirectory:
    """A folder for this session's label stacks, removed when napari exits.

    A run's labels are streamed there and read back lazily a frame at a time, so a long movie's
    labels never sit in memory; the folder outlives the widget because the layers keep reading it.
    """
    return tempfile.TemporaryDirectory(prefix="leadertrack-napari-")


def _remove(path: Path | None) -> None:
    """Delete a labels file of the session's scratch folder, if it is there (a file still open elsewhere, as
    Windows keeps a memory-mapped one, stays until napari exits)."""
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def _camera(viewer: Any) -> Any:
    """The viewer's camera (``viewer.scene.camera`` since napari 0.9, ``viewer.camera`` before)."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None else viewer.camera


def _analyze_or_cancel(
    analyze: Any, movie: Any, config: Any, *, name: str, labels: Any, labels_path: Path, progress: Any
) -> Any:
    """Worker body: the analysis named ``name`` and its napari layers, or None when cancelled.

    ``labels``: the user's masks (segmentation skipped), or None. Labels stream to ``labels_path``
    frame by frame instead of piling up in memory; frames are segmented on every core.
    """
    try:
        result = replace(
            analyze(movie, config, labels=labels, labels_path=labels_path, progress=progress, threads=0), name=name
        )
    except _Cancelled:
        return None
    return result, _build_layers(result)


def _build_layers(result: Any) -> list[Layer]:
    """The napari layers of ``result`` (pure data; safe to build outside the GUI thread)."""
    return [Layer.create(data, kwargs, layer_type) for data, kwargs, layer_type in result_layer_data(result)]


def _disconnector(viewer: Any, on_click: Any, on_inserted: Any, on_removed: Any) -> Any:
    """A callback that unhooks the widget from the viewer (when it is closed or destroyed); once is enough."""
    done = []

    def disconnect(*_: Any) -> None:
        if done:
            return
        done.append(True)
        if on_click in viewer.mouse_drag_callbacks:
            viewer.mouse_drag_callbacks.remove(on_click)
        for layer in viewer.layers:
            layer.events.name.disconnect(on_removed)
        viewer.layers.events.inserted.disconnect(on_inserted)
        viewer.layers.events.removed.disconnect(on_removed)
        viewer.bind_key(FLIP_KEY, None, overwrite=True)
        viewer.bind_key(NEXT_KEY, None, overwrite=True)

    return disconnect
