"""One movie end to end, and the result folder it writes.

``analyze_movie`` chains the stages in memory (segment → detect → link → measure → classify);
``write_result`` / ``read_result`` move a :class:`MovieResult` to and from the result folder of
``docs/architecture.md``; ``process_movie`` does both for one input file, writing labels straight
into the staging folder so memory follows the frame, not the movie; ``run`` does it for many.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tifffile

from leadertrack import __version__
from leadertrack.atomic import replace_path
from leadertrack.config import EXPORT_FORMATS, RunConfig
from leadertrack.errors import InputError
from leadertrack.io import finite_pixels
from leadertrack.units import add_physical_columns, honest_column_names, honest_text

__all__ = [
    "TRACKS_UNITS_SOURCE",
    "MovieResult",
    "ProgressCallback",
    "analyze_movie",
    "analyze_tracks",
    "apply_corrections",
    "check_rerun_replaceable",
    "is_result_folder",
    "process_movie",
    "read_result",
    "run",
    "write_result",
]

ProgressCallback = Callable[[str, int, int], None]
TABLES = ("tracks", "cells", "fronts")
RESULT_FILES = ("tracks.csv", "cells.csv", "fronts.csv", "labels.tif", "run.json")
PARTIAL_SUFFIX = ".partial"


@dataclass
class MovieResult:
    """Everything leadertrack found in one movie.

    Attributes
    ----------
    name
        The movie's stem; its result folder is ``OUT/<name>/``.
    tracks
        One row per cell per frame (positions, features, per-frame leader state).
    cells
        One row per track (summary features, ``leader_score``, ``is_leader``, ``reason``).
    fronts
        One row per frame and front (position and speed of the invasion front).
    labels
        The (T, Y, X) label stack (in memory, or read lazily from ``labels.tif``), or None.
    provenance
        The content of ``run.json``: units and their source, resolved config, versions, timings,
        warnings.
    corrections
        The user's corrections: ``track_id``, ``is_leader``. Empty unless someone reviewed it.
    movie
        The :class:`leadertrack.io.Movie` it came from, when known.
    """

    name: str
    tracks: pd.DataFrame
    cells: pd.DataFrame
    fronts: pd.DataFrame
    labels: Any = None
    provenance: dict = field(default_factory=dict)
    corrections: pd.DataFrame = field(default_factory=lambda: _empty_corrections())
    movie: Any = None

    @property
    def leaders(self) -> list[int]:
        """Track ids called leaders (after the user's corrections)."""
        if self.cells.empty:
            return []
        return sorted(int(t) for t in self.cells.loc[self.cells["is_leader"].astype(bool), "track_id"])


def _empty_corrections() -> pd.DataFrame:
    return pd.DataFrame({"track_id": pd.Series(dtype="int64"), "is_leader": pd.Series(dtype=bool)})


class _Stopwatch:
    """Wall time per stage, for ``run.json``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


_EMPTY = "the movie is empty (every pixel of every frame has the same value)"


def _has_signal(image: np.ndarray) -> bool:
    image = np.asarray(image)
    return bool(image.size) and bool(image.max() > image.min())


class _FiniteFrames:
    """Frames of a movie with NaN set to the frame's finite median and +/-inf to its finite max/min.

    Remembers which frames needed it (``nonfinite``), for the run's warnings.
    """

    def __init__(self, movie: Any) -> None:
        self.movie = movie
        self.nonfinite: set[int] = set()

    def __len__(self) -> int:
        return len(self.movie)

    def frame(self, t: int) -> np.ndarray:
        image = np.asarray(self.movie.frame(t))
        finite = finite_pixels(image)
        if finite is not image:
            self.nonfinite.add(t)
        return finite


def _in_order(
    work: Callable[[np.ndarray], np.ndarray] | None, images: Iterator[np.ndarray], threads: int
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """``(image, work(image))`` for each image, in order; ``threads`` images at a time (0 = one per core).

    At most two images per thread are read ahead, so memory follows the frame size, not the movie
    length. Without ``work`` the images pass through with ``None``.
    """
    if work is None:
        yield from ((image, None) for image in images)
        return
    threads = (os.cpu_count() or 1) if threads == 0 else threads
    if threads <= 1:
        yield from ((image, work(image)) for image in images)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="leadertrack-segment") as pool:
        pending: deque = deque()
        try:
            for image in images:
                pending.append((image, pool.submit(work, image)))
                if len(pending) >= 2 * threads:
                    image, done = pending.popleft()
                    yield image, done.result()
            while pending:
                image, done = pending.popleft()
                yield image, done.result()
        finally:
            for _, future in pending:  # cancelled or failed: do not segment the frames read ahead
                future.cancel()


def _first(frames: list[int], n: int = 10) -> str:
    return ", ".join(map(str, frames[:n])) + (" ..." if len(frames) > n else "")


def _checked_labels(frame_labels: np.ndarray, *, source: str, frame: int) -> np.ndarray:
    """A user's label frame, refused unless it holds whole numbers in 0..uint32 max (labels.tif) and, in the first
    frames and every 20th, numbers its objects one by one (:func:`_not_instance_labels`)."""
    if frame_labels.dtype.kind not in "uib":
        raise InputError(f"{source}: labels must be integers, got pixel type {frame_labels.dtype} in frame {frame}")
    if frame_labels.size and (frame_labels.min() < 0 or frame_labels.max() > np.iinfo(np.uint32).max):
        raise InputError(
            f"{source}: labels of frame {frame} must be 0 (background) to {np.iinfo(np.uint32).max}; "
            f"found {frame_labels.min()} to {frame_labels.max()}"
        )
    problem = _not_instance_labels(frame_labels) if frame < 3 or frame % 20 == 0 else None  # a sample is enough
    if problem:
        raise InputError(
            f"{source}: frame {frame} of the labels is not one label per nucleus: {problem} (a binary or class mask, "
            "or an image rather than labels?). Give instance labels: Cellpose or StarDist masks, or number the "
            "objects of your mask (Fiji: Analyze Particles, show Count Masks; Python: skimage.measure.label)"
        )
    return frame_labels


def _not_instance_labels(frame_labels: np.ndarray) -> str | None:
    """What shows that a label frame does not number its objects one by one, or None when it does.

    Instance labels give each nucleus its own value, so the separate objects (4-connected regions of one
    value) are about as many as the values; a mask of classes (0/1, 0/255) or an intensity image has far
    more objects than values. A few values in two pieces (a nucleus cut by another) are fine.

    Examples
    --------
    >>> frame = np.zeros((9, 9), np.uint8); frame[1:3, 1:3] = frame[5:7, 1:3] = frame[1:3, 5:7] = 1
    >>> _not_instance_labels(frame)
    '1 distinct value(s) form 3 separate objects'
    >>> frame[5:7, 1:3], frame[1:3, 5:7] = 2, 3
    >>> _not_instance_labels(frame) is None
    True
    """
    from skimage import measure

    n_values = int(np.count_nonzero(np.unique(frame_labels)))
    if n_values == 0:
        return None
    n_objects = int(measure.label(frame_labels, connectivity=1, background=0).max())
    if n_objects > 2 * n_values and n_objects - n_values >= 2:
        return f"{n_values} distinct value(s) form {n_objects} separate objects"
    return None


def _report(progress: ProgressCallback | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


def _resolve_movie(movie: Any, config: RunConfig) -> Any:
    """A Movie from a path, an array or a Movie, with the config's unit overrides applied."""
    from leadertrack.io import Movie, read_movie

    units = config.units
    if isinstance(movie, (str, os.PathLike)):
        return read_movie(
            movie,
            channel=config.segment.channel,
            z_projection=config.segment.z_projection,
            pixel_size_um=units.pixel_size_um,
            frame_interval_min=units.frame_interval_min,
        )
    if isinstance(movie, Movie):
        changes: dict[str, Any] = {}
        if units.pixel_size_um is not None:
            changes.update(pixel_size_um=units.pixel_size_um, pixel_size_source="user")
        if units.frame_interval_min is not None:
            changes.update(frame_interval_min=units.frame_interval_min, frame_interval_source="user")
        return replace(movie, **changes) if changes else movie
    array = np.asarray(movie)
    if array.ndim != 3:
        raise InputError(f"array of shape {array.shape}: a movie must be (T, Y, X)")
    return _ArrayMovie(array, units.pixel_size_um, units.frame_interval_min)


class _ArrayMovie:
    """A (T, Y, X) numpy array dressed as a Movie, for the Python API."""

    def __init__(self, array: np.ndarray, pixel_size_um: float | None, frame_interval_min: float | None) -> None:
        self.array = array
        self.path = None
        self.name = "movie"
        self.shape = tuple(array.shape)
        self.dtype = array.dtype
        self.pixel_size_um = pixel_size_um
        self.frame_interval_min = frame_interval_min
        self.pixel_size_source = "user" if pixel_size_um is not None else "none"
        self.frame_interval_source = "user" if frame_interval_min is not None else "none"
        self.metadata: dict = {}

    def __len__(self) -> int:
        return self.shape[0]

    def frame(self, t: int) -> np.ndarray:
        return self.array[t]

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.array)

    def to_array(self) -> np.ndarray:
        return self.array


def _units(movie: Any, warn: list[str]) -> tuple[float, float, dict]:
    """Pixel size and frame interval to compute with (1.0 when unknown), and their provenance."""
    pixel_size = movie.pixel_size_um
    interval = movie.frame_interval_min
    if pixel_size is None:
        warn.append(
            "no pixel size in the file's metadata and none given (--pixel-size-um): "
            "distances are in pixels; columns are named _px instead of _um"
        )
    if interval is None:
        warn.append(
            "no frame interval in the file's metadata and none given (--frame-interval-min): "
            "times are in frames; columns are named _per_frame instead of _per_min"
        )
    info = {
        "pixel_size_um": pixel_size,
        "pixel_size_source": movie.pixel_size_source,
        "frame_interval_min": interval,
        "frame_interval_source": movie.frame_interval_source,
        "space_calibrated": pixel_size is not None,
        "time_calibrated": interval is not None,
    }
    return pixel_size or 1.0, interval or 1.0, info


_LABEL_PAGE = {"compression": "zlib", "compressionargs": {"level": 1}, "photometric": "minisblack", "metadata": None}
"""How each frame of ``labels.tif`` is written: one compressed page per frame, without a per-page shape
description, so every TIFF reader (``tifffile.imread``, napari, Fiji) sees one (T, Y, X) stack."""


class _LabelsSink:
    """Collects the label frames of a (T, Y, X) movie in one array filled frame by frame, or streams
    them into a compressed TIFF.

    In memory the stack is allocated once, not gathered in a list and stacked at the end, which
    held every frame twice at the peak.
    """

    def __init__(self, path: Path | None, shape: tuple[int, int, int]) -> None:
        self.path = path
        self.added = 0
        self._writer = tifffile.TiffWriter(path, bigtiff=True) if path is not None else None
        self.stack = np.empty(shape, dtype=np.uint32) if path is None else None

    def add(self, labels: np.ndarray) -> None:
        labels = np.asarray(labels, dtype=np.uint32)
        if self._writer is not None:
            self._writer.write(labels, **_LABEL_PAGE)
        else:
            self.stack[self.added] = labels
        self.added += 1

    def close(self) -> Any:
        if self._writer is None:
            return self.stack[: self.added] if self.added else None
        self._writer.close()
        from leadertrack.io import read_labels

        return read_labels(self.path)


def analyze_movie(
    movie: Any,
    config: RunConfig | None = None,
    *,
    labels: Any = None,
    labels_path: Path | None = None,
    progress: ProgressCallback | None = None,
    threads: int = 1,
) -> MovieResult:
    """Find, track, measure and classify every cell of one movie.

    When many tracks at the front run steadily inward (:func:`leadertrack.checks.aliased_linking_warning`:
    the cells move too far between frames) and the search range was derived, not given, the
    tracked detections are linked again with ``RELINK_RANGE_FACTOR`` (3) times the range, telling
    nuclei apart by their brightness too (``RELINK_BRIGHTNESS_FACTOR``), each frame's links solved
    whole where strands clearly alias (:data:`leadertrack.checks.RELINK_WHOLE_BORN_AHEAD_PER_FRAME`),
    and the run's warnings say so.
    When only a few do (``LOCAL_RELINK_MIN_TRACKS``, a single fast strand), or many tracks start ahead
    of the front (:func:`leadertrack.checks.born_ahead_track_ids`: a strand's tip starting a new track
    every frame), the new links are kept only for the cells on them (:func:`leadertrack.track.relink_around`).

    Parameters
    ----------
    movie
        A :class:`leadertrack.io.Movie`, a path to a movie, or a (T, Y, X) array.
    config
        Parameters for every stage; defaults when None. Units in ``config.units`` override the
        file's metadata.
    labels
        Label masks the user already has ((T, Y, X), same shape as the movie, e.g. from Cellpose or
        StarDist). Segmentation is skipped.
    labels_path
        Stream the label stack frame by frame into this TIFF instead of keeping it in memory
        (``result.labels`` then reads it lazily).
    progress
        ``progress(stage, done, total)``, called as the work advances; raising in it cancels.
    threads
        Frames segmented at the same time (scikit-image and SciPy release the GIL in their
        filters and watershed). The results do not depend on it; 0 = one per core.

    Returns
    -------
    MovieResult

    Raises
    ------
    InputError
        The movie is empty (no signal in any frame), or the labels do not fit the movie.
    """
    from leadertrack.checks import (
        LOCAL_RELINK_MIN_TRACKS,
        RELINK_BRIGHTNESS_FACTOR,
        RELINK_RANGE_FACTOR,
        RELINK_WHOLE_BORN_AHEAD_PER_FRAME,
        aliased_linking_message,
        aliased_linking_warning,
        born_ahead_track_ids,
        inward_track_ids,
        locally_relinked_warning,
        relinked_warning,
        short_movie_warning,
        uncertain_geometry_warning,
    )
    from leadertrack.background import has_glow
    from leadertrack.detect import detect_frame
    from leadertrack.diameter import estimate_nucleus_diameter_px, mask_diameter_px
    from leadertrack.segment import segment_frame, small_nuclei_message
    from leadertrack.stage import put_back, stage_jitter_message, take_out
    from leadertrack.track import EDGE_MARGIN_DIAMETERS, brightness_usable, default_search_range_um, link, relink_around

    config = config or RunConfig()
    started = datetime.now(timezone.utc)
    clock = _Stopwatch()
    warn: list[str] = []
    movie = _resolve_movie(movie, config)
    source = str(movie.path) if movie.path is not None else "array"
    n_frames = len(movie)
    if n_frames < config.link.min_track_length:
        raise InputError(
            f"{source}: the movie has {n_frames} frame{'s' if n_frames != 1 else ''}; leadertrack follows cells over "
            f"time and keeps tracks of at least {config.link.min_track_length} frames ([link] min_track_length)"
        )
    frames = _FiniteFrames(movie)
    pixel_size, interval, units_info = _units(movie, warn)
    time_axis = (getattr(movie, "metadata", None) or {}).get("time_axis")
    if time_axis in ("Z", "C"):
        name = "Z planes" if time_axis == "Z" else "channels"
        warn.append(
            f"the file has no time axis: its {n_frames} {name} were read as frames. If they are not frames of a "
            "time-lapse, the tracks mean nothing" + (" (a time-lapse of Z stacks: --z-projection max)" if time_axis == "Z" else "")
        )

    labels_source = "labels" if movie.path is None else f"labels for {source}"
    labels_given = None if labels is None else "array"  # run.json: where the masks came from
    if labels is not None and isinstance(labels, (str, os.PathLike)):
        from leadertrack.io import read_labels

        labels_source = labels_given = str(labels)
        labels = read_labels(labels, shape=tuple(movie.shape))
    if labels is not None and tuple(labels.shape) != tuple(movie.shape):
        raise InputError(f"labels of shape {tuple(labels.shape)} do not match the movie {source} of shape {tuple(movie.shape)}")

    seg = config.segment
    diameter_source = "user"
    if labels is not None:
        diameter_source = "labels"
        diameter_px = None
    elif seg.nucleus_diameter_um is not None:
        diameter_px = seg.nucleus_diameter_um / pixel_size
    else:
        with clock.stage("estimate_diameter"):
            try:
                diameter_px = estimate_nucleus_diameter_px(frames, flatten_background=seg.flatten_background, glow=seg.glow)
            except InputError:  # a frame that cannot be read: its own message says so
                raise
            except ValueError as exc:
                if not any(_has_signal(frames.frame(t)) for t in range(n_frames)):
                    raise InputError(f"{source}: {_EMPTY}") from None
                raise InputError(f"{source}: {exc} (--nucleus-diameter-um)") from None
        diameter_source = "estimated"
    if diameter_px is not None and (small := small_nuclei_message(diameter_px)):
        warn.append(small)
    glow = seg.glow
    if labels is not None or not seg.flatten_background:
        glow = False
    elif glow is None:
        with clock.stage("segment"):
            glow = has_glow(frames, nucleus_diameter_px=diameter_px, smoothing_fraction=seg.smoothing_fraction)

    sink = _LabelsSink(labels_path, tuple(movie.shape))
    detections: list[pd.DataFrame] = []
    empty_frames: list[int] = []
    any_signal = labels is not None

    def segmented(image: np.ndarray) -> np.ndarray:
        return segment_frame(
            image,
            nucleus_diameter_px=diameter_px,
            smoothing_fraction=seg.smoothing_fraction,
            min_area_fraction=seg.min_area_fraction,
            max_area_fraction=seg.max_area_fraction,
            split_touching=seg.split_touching,
            flatten_background=seg.flatten_background,
            glow=glow,
        )

    with clock.stage("segment" if labels is None else "detect"):
        images = (frames.frame(t) for t in range(n_frames))
        for t, (image, frame_labels) in enumerate(_in_order(segmented if labels is None else None, images, threads)):
            if labels is None:
                any_signal = any_signal or _has_signal(image)
            else:
                frame_labels = _checked_labels(np.asarray(labels[t]), source=labels_source, frame=t)
            sink.add(frame_labels)
            detections.append(detect_frame(frame_labels, image, frame=t))
            if detections[-1].empty:
                empty_frames.append(t)
            _report(progress, "segment", t + 1, n_frames)
    label_stack = sink.close()
    if not any_signal:
        raise InputError(f"{source}: {_EMPTY}")
    if frames.nonfinite:
        warn.append(
            f"NaN or infinite pixels in {len(frames.nonfinite)} of {n_frames} frames ({_first(sorted(frames.nonfinite))}): "
            "NaN read as the frame's median, +/-inf as its largest/smallest finite value"
        )
    if empty_frames:
        warn.append(f"no cells found in {len(empty_frames)} of {n_frames} frames ({_first(empty_frames)})")
    table = compact_integers(pd.concat(detections, ignore_index=True))
    del detections  # the per-frame tables: a second copy of every detection
    if diameter_px is None:
        diameter_px = mask_diameter_px(table["area_px"])
    diameter_um = diameter_px * pixel_size
    jitter_px, largest_jump = None, 0.0
    if config.link.correct_stage_jitter:  # jumps of the whole field (a jittering stage) out of the motion
        with clock.stage("link"):
            table, jitter_px, largest_jump = take_out(table, n_frames, nucleus_diameter_px=diameter_px)
        if jitter_px is not None:
            warn.append(stage_jitter_message(jitter_px, pixel_size_um=pixel_size, calibrated=units_info["space_calibrated"]))

    link_cfg = config.link
    search_range_um = link_cfg.search_range_um or default_search_range_um(
        nucleus_diameter_um=diameter_um,
        frame_interval_min=interval if units_info["time_calibrated"] else None,
        max_speed_um_per_min=link_cfg.max_speed_um_per_min,
    )
    derived_range = link_cfg.search_range_um is None and link_cfg.max_speed_um_per_min is None
    search_range_source = "derived" if link_cfg.search_range_um is None else "user"

    # given masks lose a cell only where it leaves the field: no gap closing at the image's edge
    edge_margin_um = EDGE_MARGIN_DIAMETERS * diameter_um if labels is not None else 0.0
    link_options = {
        "pixel_size_um": pixel_size,
        "frame_interval_min": interval,
        "memory": link_cfg.memory,
        "max_gap_frames": link_cfg.max_gap_frames,
        "predict": link_cfg.predict,
        "min_track_length": link_cfg.min_track_length,
        "progress": progress,
        "field_px": (movie.shape[1], movie.shape[2]),
        "edge_margin_um": edge_margin_um,
    }
    with clock.stage("link"):  # reports each frame linked (then gaps are closed)
        tracks = compact_integers(link(table, search_range_um=search_range_um, **link_options))
    n_detections = len(table)
    if tracks.empty:
        found = "no cells found in any frame" if table.empty else (
            f"{n_detections} cells found but none tracked over {link_cfg.min_track_length} frames (min_track_length)"
        )
        hint = "check the labels you gave" if labels is not None else "check the nucleus diameter, or give labels"
        raise InputError(f"{source}: {found}; nothing to measure ({hint})")
    detection_columns = list(table.columns)
    del table  # the tracks hold every detection that matters from here on

    _report(progress, "measure", 0, 1)
    field_um = (movie.shape[1] * pixel_size, movie.shape[2] * pixel_size)
    with clock.stage("measure"):
        measured = _measure_linked(tracks, geometry=config.front.geometry, field_um=field_um, units_info=units_info)
    at_front_ids, inward_ids = inward_track_ids(measured.tracks)
    born_ahead_ids = born_ahead_track_ids(measured.tracks, field_um=field_um)
    suspect_ids = np.union1d(inward_ids, born_ahead_ids)
    first = (len(at_front_ids), len(inward_ids))
    message = aliased_linking_message(*first)
    relink_all = message is not None and derived_range
    relink_some = not relink_all and derived_range and len(suspect_ids) >= LOCAL_RELINK_MIN_TRACKS
    second_linking = None  # run.json: whether, where and how the movie was linked again
    if relink_all or relink_some:
        # strands alias at this range: link the tracked detections again with a wider one, which makes
        # broken strands costlier, and by brightness, which tells apart a cell and the one taking its place;
        # where only a few tracks ran inward, only the cells on them (and what they join) take the new links
        wider = RELINK_RANGE_FACTOR * search_range_um
        by_brightness = brightness_usable(tracks)
        # solved whole at the wider range where strands clearly alias: the adaptive search would shrink the range
        # where a strand's cells crowd each other's candidates, back to the short links to the cell behind
        whole = relink_all or len(born_ahead_ids) >= RELINK_WHOLE_BORN_AHEAD_PER_FRAME * n_frames
        options = {
            "search_range_um": wider, "brightness_um": RELINK_BRIGHTNESS_FACTOR * search_range_um, **link_options,
            "adaptive_search": not whole,
        }
        try:
            with clock.stage("link"):
                if relink_all:
                    again = compact_integers(link(tracks[detection_columns], **options))
                else:
                    # frame-to-frame links only: closing gaps at the wider range joined a follower to its
                    # strand's leader across 7 frames (benchmarks/bench_foreign.py, planar 7232)
                    again, n_taken = relink_around(
                        tracks, suspect_ids, columns=detection_columns, **{**options, "max_gap_frames": 0}
                    )
                    again = compact_integers(again) if n_taken else None
        except InputError:  # too many candidates at the wider range: keep the first linking
            again = None
        second_linking = {
            "scope": "movie" if relink_all else "around tracks",
            "tracks_ran_inward": int(len(inward_ids)),
            "tracks_started_ahead": int(len(born_ahead_ids)),
            "solved_whole": bool(whole),
            "kept": again is not None and not again.empty,
        }
        if second_linking["kept"]:
            with clock.stage("measure"):
                measured = _measure_linked(again, geometry=config.front.geometry, field_um=field_um, units_info=units_info)
            brightness_note = ", with brightness" if by_brightness else ""
            if relink_all:
                message = relinked_warning(
                    first, search_range_um, wider, aliased_linking_warning(measured.tracks), brightness=by_brightness
                )
                search_range_um, search_range_source = wider, (
                    f"derived x {RELINK_RANGE_FACTOR:g}{brightness_note} (tracks at the front ran inward)"
                )
            else:
                message = locally_relinked_warning(
                    first, n_taken, wider, brightness=by_brightness, born_ahead=len(born_ahead_ids)
                )
                search_range_source = (
                    f"derived; x {RELINK_RANGE_FACTOR:g}{brightness_note} around the {len(suspect_ids)} tracks at the "
                    "front that ran inward or started ahead of it"
                )
        del again
    del tracks  # the measured tracks hold the same rows
    if message is not None:
        warn.append(message)
    tracks, cells, fronts = measured.tracks, measured.cells, measured.fronts
    short = short_movie_warning(fronts, time_calibrated=units_info["time_calibrated"])
    for message in (uncertain_geometry_warning(fronts, config.front.geometry), short):
        if message is not None:
            warn.append(message)
    _report(progress, "measure", 1, 1)

    with clock.stage("classify"):
        tracks, cells = _classify(tracks, cells, config, units_info)
        tracks = compact_integers(_put_back(tracks, measured.aside, measured.columns))
    if jitter_px is not None:  # positions on the movie again, as its frames show them
        tracks, fronts = put_back(tracks, fronts, jitter_px, pixel_size_um=pixel_size)
    _report(progress, "classify", 1, 1)

    provenance = _provenance(
        movie.name,
        input_info={
            "path": source,
            "name": movie.name,
            "shape": list(movie.shape),
            "dtype": str(movie.dtype),
            "labels": labels_given,
            **{k: v for k, v in movie.metadata.items() if _jsonable(v)},
        },
        units_info=units_info,
        details={
            "nucleus_diameter_um": diameter_um,
            "nucleus_diameter_source": diameter_source,
            "background_glow": glow,
            "search_range_um": search_range_um,
            "search_range_source": search_range_source,
            "second_linking": second_linking,
            "gap_closing_edge_margin_um": edge_margin_um,
            "stage_jump_largest_um": largest_jump * pixel_size,
            "stage_jitter_um": None if jitter_px is None else np.round(jitter_px * pixel_size, 3).tolist(),
        },
        config=config,
        fronts=fronts,
        cells=cells,
        counts={"frames": n_frames, "detections": n_detections, "frames_without_cells": empty_frames},
        clock=clock,
        warn=warn,
        started=started,
    )
    return MovieResult(
        name=movie.name,
        tracks=tracks,
        cells=compact_integers(cells),
        fronts=fronts,
        labels=label_stack,
        provenance=provenance,
        movie=movie,
    )


@dataclass
class _Measured:
    """Measured tracks of one linking, with the columns measure does not read set aside."""

    tracks: pd.DataFrame
    cells: pd.DataFrame
    fronts: pd.DataFrame
    aside: pd.DataFrame
    columns: list[str]


def _measure_linked(tracks: pd.DataFrame, *, geometry: str, field_um: tuple[float, float], units_info: dict) -> _Measured:
    """:func:`leadertrack.features.measure` of linked detections (``units_info``: the run's, for the motion window).

    measure and classify copy the table they get: they get only the columns they read, and the
    others (label, pixel positions, area, intensity) are kept aside, to be put back in their place.
    """
    from leadertrack.features import measure
    from leadertrack.front import position_columns

    columns = list(tracks.columns)
    positions = ["time_min", *position_columns(tracks)]
    measured, cells, fronts = measure(
        tracks[[c for c in columns if c in ("track_id", "frame", *positions)]], geometry=geometry, field_um=field_um,
        motion_window_frames=motion_window_frames(units_info),
    )
    return _Measured(measured, cells, fronts, tracks.drop(columns=positions), columns)


def compact_integers(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with every 64-bit integer column whose values fit in 32 bits stored as ``int32``.

    Frame numbers, labels, areas, track ids and neighbour counts rarely need 64 bits; halving
    them shrinks a per cell-frame table without changing a single value (or a CSV byte).

    Examples
    --------
    >>> t = compact_integers(pd.DataFrame({"frame": [0, 1], "big": [0, 2**40], "y": [0.5, 1.5]}))
    >>> [str(d) for d in t.dtypes]
    ['int32', 'int64', 'float64']
    """
    small = np.iinfo(np.int32)
    fits = [
        name
        for name, dtype in table.dtypes.items()
        if dtype == np.int64 and (table[name].empty or small.min <= table[name].min() and table[name].max() <= small.max)
    ]
    return table.astype(dict.fromkeys(fits, np.int32)) if fits else table


def _put_back(measured: pd.DataFrame, aside: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``measured`` with the columns of ``aside`` it lacks inserted where they were in ``columns``.

    Both tables hold the same cell-frames in the same order (track, then frame: the order
    ``link`` returns and ``measure`` keeps); that is checked on ``track_id`` and ``frame``.
    """
    keys = ["track_id", "frame"]
    if len(measured) != len(aside) or not np.array_equal(measured[keys].to_numpy(), aside[keys].to_numpy()):
        raise RuntimeError("measure/classify changed the rows of the tracks table (expected: sorted by track, then frame)")
    for name in columns:
        if name not in measured:
            measured.insert(columns.index(name), name, aside[name].to_numpy())
    return measured


TRACKS_UNITS_SOURCE = "tracks file"
"""``pixel_size_source`` / ``frame_interval_source`` in ``run.json`` of tracks whose file gave that unit (a table's
``_um`` and ``time_min`` columns, TrackMate's or GEFF's calibration, ...); ``input.units_source`` says how, in words."""


def analyze_tracks(
    trackset: Any, config: RunConfig | None = None, *, source: str | Path | None = None, format: str | None = None
) -> MovieResult:
    """Measure and classify tracks that were made elsewhere (no images).

    Parameters
    ----------
    trackset
        A :class:`leadertrack.formats.TrackSet` from :func:`leadertrack.formats.read_tracks`
        (a tracks table, TrackMate XML, GEFF, a CTC folder, an Imaris export), 2-D or 3-D.
    config
        Units in ``config.units`` override the file's; ``config.front`` and ``config.classify``
        apply as for movies. A spheroid centre the file gives (``metadata["centre_um"]``, Imaris
        ``centrePosXYZ``) is the radial front's centre, unless the geometry is set to planar. The
        image's size the file gives (``metadata["field_px"]``: TrackMate ``ImageData``, CTC masks,
        a leadertrack result) is the field, so its border is not taken for a front.
    source
        The file or folder the tracks were read from, recorded in ``run.json`` (``input.path``).
    format
        How it was read (one of :data:`leadertrack.formats.FORMATS`), recorded as ``input.format``.

    Returns
    -------
    MovieResult
        Without labels; divisions (``parent_track_id``) are kept. ``provenance["units"]`` names where
        each unit came from as for movies: ``user``, :data:`TRACKS_UNITS_SOURCE` or ``none``.
    """
    from leadertrack.checks import aliased_linking_warning, short_movie_warning, uncertain_geometry_warning
    from leadertrack.features import measure
    from leadertrack.front import find_front

    config = config or RunConfig()
    started = datetime.now(timezone.utc)
    clock = _Stopwatch()
    warn: list[str] = []
    trackset = trackset.with_units(
        pixel_size_um=config.units.pixel_size_um, frame_interval_min=config.units.frame_interval_min
    )
    user_space = config.units.pixel_size_um is not None
    user_time = config.units.frame_interval_min is not None
    movie_like = _ArrayMovie(np.empty((0, 0, 0)), trackset.pixel_size_um, trackset.frame_interval_min)
    movie_like.pixel_size_source = "user" if user_space else (TRACKS_UNITS_SOURCE if trackset.pixel_size_um else "none")
    movie_like.frame_interval_source = "user" if user_time else (TRACKS_UNITS_SOURCE if trackset.frame_interval_min else "none")
    pixel_size, interval, units_info = _units(movie_like, warn)
    tracks = trackset.tracks.drop(columns=["time_min", "z_um", "y_um", "x_um"], errors="ignore")
    tracks = add_physical_columns(tracks, pixel_size_um=pixel_size, frame_interval_min=interval)
    parents = trackset.cells.set_index("track_id")["parent_track_id"] if "parent_track_id" in trackset.cells else None
    if parents is not None:
        tracks["parent_track_id"] = tracks["track_id"].map(parents).fillna(0).astype(int)
    centre = trackset.metadata.get("centre_um")  # a spheroid's centre, from the file (Imaris .mat), in µm
    use_centre = (
        centre is not None and len(centre) == trackset.ndim and trackset.pixel_size_um is not None
        and config.front.geometry != "planar"
    )
    field_px = trackset.metadata.get("field_px")
    field_um = None if field_px is None else tuple(float(n) * pixel_size for n in field_px)
    with clock.stage("measure"):
        front = find_front(tracks, centre_um=tuple(centre), field_um=field_um) if use_centre else None
        tracks, cells, fronts = measure(
            tracks, geometry=config.front.geometry, front=front, field_um=field_um,
            motion_window_frames=motion_window_frames(units_info),
        )
    short = short_movie_warning(fronts, time_calibrated=units_info["time_calibrated"])
    for message in (aliased_linking_warning(tracks), uncertain_geometry_warning(fronts, config.front.geometry), short):
        if message is not None:
            warn.append(message)
    with clock.stage("classify"):
        tracks, cells = _classify(tracks, cells, config, units_info)
    provenance = _provenance(
        trackset.name,
        input_info={
            "kind": "tracks", "path": None if source is None else str(source), "name": trackset.name, "format": format,
            "ndim": trackset.ndim, "units_source": trackset.units_source, "field_px": None if field_px is None else list(field_px),
        },
        units_info=units_info,
        details={},
        config=config,
        fronts=fronts,
        cells=cells,
        counts={"frames": int(tracks["frame"].nunique()) if len(tracks) else 0, "detections": len(tracks)},
        clock=clock,
        warn=warn,
        started=started,
    )
    return MovieResult(name=trackset.name, tracks=tracks, cells=cells, fronts=fronts, provenance=provenance)


def _provenance(
    name: str,
    *,
    input_info: dict,
    units_info: dict,
    details: dict,
    config: RunConfig,
    fronts: pd.DataFrame,
    cells: pd.DataFrame,
    counts: dict,
    clock: _Stopwatch,
    warn: list[str],
    started: datetime,
) -> dict:
    """The content of ``run.json``; also emits each warning as a ``UserWarning``, its numbers in the units
    the run has (``px``, ``/frame`` without a pixel size, a frame interval)."""
    warn = [_honest_units(message, units_info) for message in warn]
    counts = {
        "frames": counts["frames"],
        "detections": counts["detections"],
        "tracks": len(cells),
        "leaders": int(cells["is_leader"].sum()) if len(cells) else 0,
        **{k: v for k, v in counts.items() if k not in ("frames", "detections")},
    }
    for message in warn:
        warnings.warn(f"{name}: {message}", UserWarning, stacklevel=3)
    return {
        "leadertrack_version": __version__,
        "versions": _versions(),
        "input": input_info,
        "units": units_info,
        **details,
        "front": _front_summary(fronts),
        "config": config.model_dump(mode="json"),
        "model_sha256": model_checksum(config),
        "counts": counts,
        "timings_s": clock.seconds,
        "warnings": warn,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def model_checksum(config: RunConfig) -> str | None:
    """SHA-256 of the model file the configuration classifies with (None: the rule), so that a model retrained
    under the same file name does not pass for the one a result was made with."""
    from leadertrack.io import file_checksum

    path = config.classify.model_path
    return file_checksum(path) if path and Path(path).is_file() else None


def _honest_units(text: str, units_info: dict) -> str:
    """``text`` with its µm and µm/min numbers named as the run's units are (:func:`leadertrack.units.honest_text`)."""
    return honest_text(
        text, space_calibrated=units_info.get("space_calibrated", True), time_calibrated=units_info.get("time_calibrated", True)
    )


def motion_window_frames(units_info: dict) -> int | None:
    """The motion window to give measure and classify for a run's ``units`` (``run.json``): None (about 30 min)
    with a known frame interval, else :data:`leadertrack.features.UNCALIBRATED_WINDOW_FRAMES` (times are frames)."""
    from leadertrack.features import UNCALIBRATED_WINDOW_FRAMES

    return None if units_info.get("time_calibrated", True) else UNCALIBRATED_WINDOW_FRAMES


def _classify(
    tracks: pd.DataFrame, cells: pd.DataFrame, config: RunConfig, units_info: dict
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Classify with the configured model file, or the documented rule when there is none."""
    from leadertrack.classify import classify

    model = None
    if config.classify.model_path:
        from leadertrack.model import load_model

        model = load_model(config.classify.model_path)
        in_units = honest_column_names(
            list(model.features), space_calibrated=units_info.get("space_calibrated", True),
            time_calibrated=units_info.get("time_calibrated", True),
        )
        if in_units:  # in memory a px/frame column keeps its µm/min name: the model would read pixels as µm
            raise InputError(
                f"the model {config.classify.model_path} uses {', '.join(in_units)} (µm, minutes), and this movie has no "
                f"{'pixel size' if not units_info.get('space_calibrated', True) else 'frame interval'}: give the units "
                "(--pixel-size-um, --frame-interval-min), or use a model without features in µm or minutes"
            )
    tracks, cells = classify(
        tracks, cells, model=model, threshold=config.classify.threshold, motion_window_frames=motion_window_frames(units_info)
    )
    return tracks, cells.assign(reason=[_honest_units(reason, units_info) for reason in cells["reason"]])


def _front_summary(fronts: pd.DataFrame) -> dict:
    if fronts.empty:
        return {"geometry": None, "n_fronts": 0}
    summary: dict[str, Any] = {
        "geometry": str(fronts["geometry"].iloc[0]),
        "n_fronts": int(fronts["front_id"].nunique()),
    }
    if "front_speed_um_per_min" in fronts:
        summary["median_front_speed_um_per_min"] = _float_or_none(fronts["front_speed_um_per_min"].median())
    if "geometry_confidence" in fronts:
        summary["confidence"] = _float_or_none(fronts["geometry_confidence"].iloc[0])
    if "geometry_reason" in fronts:
        summary["reason"] = str(fronts["geometry_reason"].iloc[0])
    return summary


def _float_or_none(value: Any) -> float | None:
    value = float(value)
    return None if np.isnan(value) else value


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": sys.version.split()[0]}
    for name in ("numpy", "scipy", "scikit-image", "scikit-learn", "pandas", "tifffile"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


# --------------------------------------------------------------------------- result folder


def is_result_folder(folder: Path) -> bool:
    """True when ``folder`` is a finished leadertrack result folder."""
    folder = Path(folder)
    return folder.is_dir() and all((folder / name).exists() for name in ("tracks.csv", "cells.csv", "run.json"))


def _user_reason(reason: str) -> str:
    """The reason of a track the user set: what the analysis said, once however often it is set.

    Examples
    --------
    >>> _user_reason(_user_reason("slow"))
    'set by the user (was: slow)'
    """
    return reason if reason.startswith("set by the user (was: ") else f"set by the user (was: {reason})"


def _check_replaceable(folder: Path) -> None:
    """Raise FileExistsError when ``folder`` exists and is not a leadertrack result: it is never replaced
    (a folder of the user's own, or the movie's frames)."""
    if folder.exists() and not is_result_folder(folder):
        raise FileExistsError(
            f"{folder} exists and is not a leadertrack result (no tracks.csv, cells.csv and run.json); "
            "it is not replaced, even with --overwrite: move or rename it, or write the result elsewhere"
        )


def check_rerun_replaceable(folder: Path) -> None:
    """Raise FileExistsError when analysing a movie again into ``folder`` (``--overwrite``) would lose the
    user's work: ``folder`` is not a leadertrack result (a folder of their own), or its ``corrections.csv``
    holds corrections made in a review. Nothing to check when ``folder`` does not exist.

    Saving a reviewed result (napari) replaces its folder, corrections and all: the result saved holds them.
    """
    folder = Path(folder)
    if not folder.exists():
        return
    _check_replaceable(folder)
    corrections = folder / "corrections.csv"
    n_rows = len(_read_csv(corrections)) if corrections.exists() and corrections.stat().st_size else 0
    if n_rows:
        raise FileExistsError(
            f"{folder} holds your corrections of {n_rows} track(s) (corrections.csv), which --overwrite would "
            "lose; train on them first (leadertrack train), or move corrections.csv out of the folder, then run again"
        )


@contextlib.contextmanager
def staging_folder(out: Path, name: str, *, overwrite: bool) -> Iterator[Path]:
    """Yield a hidden temporary folder in ``out`` that becomes ``out/name`` only on success.

    A crash or an exception leaves no folder named ``name`` that looks finished: the temporary
    folder is removed (or, if the process is killed, left as ``.name.partial-*`` and cleaned by
    the next run). An existing ``out/name`` is replaced only with ``overwrite``.
    """
    out = Path(out)
    final = out / name
    if final.exists() and not overwrite:
        raise FileExistsError(f"{final} already exists; use --overwrite to replace it")
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(f".{name}{PARTIAL_SUFFIX}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = out / f".{name}{PARTIAL_SUFFIX}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        replace_path(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_tables(result: MovieResult, folder: Path, export: Sequence[str] = ()) -> None:
    """Write the tables and run.json of ``result`` into ``folder`` (labels are written separately)."""
    units = result.provenance.get("units", {})
    space = bool(units.get("space_calibrated", True))
    time_ok = bool(units.get("time_calibrated", True))
    renamed: dict[str, dict[str, str]] = {}
    for name in TABLES:
        table: pd.DataFrame = getattr(result, name)
        mapping = honest_column_names(list(table.columns), space_calibrated=space, time_calibrated=time_ok)
        renamed[name] = mapping
        table.rename(columns=mapping).to_csv(folder / f"{name}.csv", index=False)
        if "parquet" in export:
            table.rename(columns=mapping).to_parquet(folder / f"{name}.parquet", index=False)
    result.corrections.to_csv(folder / "corrections.csv", index=False)
    provenance = dict(result.provenance)
    front = provenance.get("front")
    if isinstance(front, dict):  # the front speed is named for its units, as the table columns are
        renamed["front"] = honest_column_names(list(front), space_calibrated=space, time_calibrated=time_ok)
        provenance["front"] = {renamed["front"].get(key, key): value for key, value in front.items()}
    provenance["column_names"] = renamed
    (folder / "run.json").write_text(json.dumps(provenance, indent=2, default=str), encoding="utf-8")
    if "ctc" in export and result.labels is not None:
        from leadertrack.ctc import write_ctc

        parents = {}
        if "parent_track_id" in result.cells:
            parents = {int(t): int(p) for t, p in zip(result.cells["track_id"], result.cells["parent_track_id"]) if p}
        write_ctc(result.tracks, result.labels, folder / "ctc", parent_track_id=parents)
    if "geff" in export:
        from leadertrack.formats import write_geff

        write_geff(
            result.tracks, result.cells, folder / "tracks.geff",
            pixel_size_um=units.get("pixel_size_um"), frame_interval_min=units.get("frame_interval_min"),
        )
    if "trackmate" in export:
        from leadertrack.formats import write_trackmate_xml
        from leadertrack.formats.table import field_px_of

        given = result.provenance.get("input", {})
        write_trackmate_xml(
            result.tracks, result.cells, folder / "tracks.xml",
            pixel_size_um=units.get("pixel_size_um"), frame_interval_min=units.get("frame_interval_min"),
            field_px=field_px_of(given), image_name=Path(str(given.get("path") or "")).name,
        )


def _fill_folder(result: MovieResult, folder: Path, *, export: Sequence[str], report: bool) -> None:
    """Write the tables, ``run.json``, the ``export`` formats and, with ``report``, ``report.html`` of ``result``
    into ``folder`` (a staging folder: labels are written separately).

    Parameters
    ----------
    result
        The analysed movie or tracks.
    folder
        The staging folder of :func:`staging_folder`, renamed into place only after this returns.
    export
        Extra formats (:data:`leadertrack.config.EXPORT_FORMATS`).
    report
        Also draw ``report.html``, so that a result folder never appears without its report.
    """
    _write_tables(result, folder, export)
    if report:
        from leadertrack.report import write_report

        write_report(result, folder / "report.html")


def _write_labels(labels: Any, path: Path) -> None:
    with tifffile.TiffWriter(path, bigtiff=True) as writer:
        for t in range(labels.shape[0]):
            writer.write(np.asarray(labels[t], dtype=np.uint32), **_LABEL_PAGE)


def write_result(
    result: MovieResult, out: Path, *, overwrite: bool = False, export: Sequence[str] = (), report: bool = False
) -> Path:
    """Write ``result`` to ``out/<result.name>/`` atomically and return that folder.

    Files: ``tracks.csv``, ``cells.csv``, ``fronts.csv``, ``labels.tif`` (when labels are known),
    ``corrections.csv``, ``run.json``; with ``export`` also ``ctc/``, ``*.parquet``, ``tracks.geff``, ``tracks.xml`` (TrackMate);
    with ``report`` also ``report.html``. Every file is written in a hidden staging folder renamed into
    place once all are there, so a failure (say, drawing the report) leaves no result folder behind.

    Raises
    ------
    FileExistsError
        ``out/<name>`` exists and ``overwrite`` is False, or it exists and is not a leadertrack result
        (a folder of the user's own, or the movie's frames: never replaced).
    InputError
        ``export`` names an unknown format.
    """
    unknown = [e for e in export if e not in EXPORT_FORMATS]
    if unknown:
        raise InputError(f"export: unknown format {unknown[0]!r}; choose from {', '.join(EXPORT_FORMATS)}")
    if overwrite:
        _check_replaceable(Path(out) / result.name)
    with staging_folder(Path(out), result.name, overwrite=overwrite) as tmp:
        if result.labels is not None:
            _write_labels(result.labels, tmp / "labels.tif")
        _fill_folder(result, tmp, export=export, report=report)
    return Path(out) / result.name


_RESULT_COLUMNS = {
    "tracks": ("track_id", "frame", "is_leader"),
    "cells": ("track_id", "leader_score", "is_leader"),
    "fronts": ("frame",),
}
"""Columns read_result needs in each table (the rest are carried as they are)."""


def read_result(folder: Path) -> MovieResult:
    """Read a result folder written by :func:`write_result` or ``leadertrack run``.

    Column names renamed on disk for an uncalibrated movie (``_px``, ``_per_frame``) are mapped
    back to the physical names used in memory. ``labels`` are read lazily.
    """
    folder = Path(folder)
    if not is_result_folder(folder):
        raise InputError(f"{folder}: not a leadertrack result folder (needs tracks.csv, cells.csv and run.json)")
    run_json = folder / "run.json"
    try:
        provenance = json.loads(run_json.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"{run_json}: cannot read it as JSON ({type(exc).__name__})") from None
    renamed = provenance.pop("column_names", {}) if isinstance(provenance, dict) else None
    if not isinstance(renamed, dict) or not all(isinstance(m, dict) for m in renamed.values()):
        raise InputError(f"{run_json}: not a leadertrack run.json (expected an object with column_names per table)")
    tables = {}
    for name in TABLES:
        path = folder / f"{name}.csv"
        table = _read_csv(path) if path.exists() and path.stat().st_size else pd.DataFrame()
        inverse = {new: old for old, new in renamed.get(name, {}).items()}
        tables[name] = table.rename(columns=inverse)
        lacking = [c for c in _RESULT_COLUMNS[name] if c not in tables[name]]
        if lacking:
            raise InputError(f"{path}: missing column(s) {', '.join(lacking)}; not as leadertrack wrote it")
        if "is_leader" in tables[name]:
            tables[name]["is_leader"] = _flags(tables[name]["is_leader"], source=str(path))
    front = provenance.get("front")
    if isinstance(front, dict) and isinstance(renamed.get("front"), dict):
        inverse = {new: old for old, new in renamed["front"].items()}
        provenance["front"] = {inverse.get(key, key): value for key, value in front.items()}
    corrections_path = folder / "corrections.csv"
    corrections = _empty_corrections()
    if corrections_path.exists() and corrections_path.stat().st_size:
        corrections = _checked_corrections(_read_csv(corrections_path), source=str(corrections_path))
    labels = None
    if (folder / "labels.tif").exists():
        from leadertrack.io import read_labels

        labels = read_labels(folder / "labels.tif")
    return MovieResult(
        name=folder.name,
        tracks=tables["tracks"],
        cells=tables["cells"],
        fronts=tables["fronts"],
        labels=labels,
        provenance=provenance,
        corrections=corrections,
    )


CSV_CHUNK_ROWS = 100_000
"""Rows parsed at a time by :func:`read_result`: a table of a million cell-frames then needs about
twice its own size while it is read, not the parser's 3-4 times."""


def _read_csv(path: Path) -> pd.DataFrame:
    """A result table, parsed in chunks of ``CSV_CHUNK_ROWS`` rows.

    Chunks are typed one by one; when they disagree on a column's type (say numbers in one and
    text in another), the file is read again in one piece so the types are decided on all rows.
    """
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    separator = next((s for s in (";", "\t") if header.count(s) > header.count(",")), None)
    if separator is not None:  # saved by a spreadsheet in a locale that writes ';' (and decimal commas), or as TSV
        shown = "';'" if separator == ";" else "tabs"
        raise InputError(
            f"{path}: its columns are separated by {shown}, not commas (saved from a spreadsheet?); leadertrack "
            "writes and reads CSV with commas and decimal points: save it again as such, or restore it from the run"
        )
    try:
        chunks = list(pd.read_csv(path, chunksize=CSV_CHUNK_ROWS, encoding="utf-8-sig"))
        if any(not chunk.dtypes.equals(chunks[0].dtypes) for chunk in chunks[1:]):
            chunks = [pd.read_csv(path, encoding="utf-8-sig")]
        return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
    except (UnicodeDecodeError, ValueError) as exc:  # pandas' ParserError is a ValueError
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot read the table: {reason}") from None


def _flags(values: pd.Series, *, source: str) -> pd.Series:
    """A True/False column (bool, or text: true/false, yes/no, 1/0); anything else (a blank, NaN, 'maybe') is an
    InputError."""
    if values.dtype == bool:
        return values
    words = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False, "yes": True, "no": False}
    flags = values.astype(str).str.strip().str.lower().map(words)
    if flags.isna().any():
        row = int(np.flatnonzero(flags.isna().to_numpy())[0])
        raise InputError(f"{source}: column 'is_leader' must be True or False; data row {row + 1} has {values.iloc[row]!r}")
    return flags.astype(bool)


def _checked_corrections(table: Any, *, source: str) -> pd.DataFrame:
    """``track_id`` (whole numbers) and ``is_leader`` (:func:`_flags`) of a corrections table, or an InputError
    naming ``source``."""
    if not isinstance(table, pd.DataFrame) or not {"track_id", "is_leader"} <= set(table.columns):
        raise InputError(f"{source}: needs the columns track_id and is_leader")
    given = table[["track_id", "is_leader"]].reset_index(drop=True)
    ids = pd.to_numeric(given["track_id"], errors="coerce")
    if not (np.isfinite(ids) & (ids == np.round(ids))).all():
        raise InputError(f"{source}: column 'track_id' must hold whole numbers, got {given['track_id'].tolist()[:10]}")
    return given.assign(track_id=ids.astype("int64"), is_leader=_flags(given["is_leader"], source=source))


def apply_corrections(result: MovieResult, corrections: pd.DataFrame, *, retrain: bool = False) -> MovieResult:
    """Apply the user's leader/follower flips, optionally retraining the classifier on them.

    Parameters
    ----------
    result
        A result from :func:`analyze_movie` or :func:`read_result`.
    corrections
        ``track_id``, ``is_leader``: the user's calls; later rows win over earlier ones, and they
        are merged with the corrections already in ``result``.
    retrain
        Fit a model (:func:`leadertrack.model.train_model`) on this movie's track features with
        labels = the current calls overridden by every correction, and re-score every track.
        Corrected tracks keep the user's call whatever the model says.

    Returns
    -------
    MovieResult
        A new result; ``corrections`` holds every correction so far, ``provenance["corrections"]``
        counts them and notes a retrain.
    """
    from leadertrack.classify import classify

    given = _checked_corrections(corrections, source="corrections")
    merged = pd.concat([result.corrections, given], ignore_index=True)
    merged = merged.astype({"track_id": "int64", "is_leader": bool}).drop_duplicates("track_id", keep="last")
    unknown = sorted(set(merged["track_id"]) - set(result.cells["track_id"]))
    if unknown:
        raise InputError(f"corrections name tracks that do not exist in {result.name}: {unknown[:10]}")
    tracks, cells = result.tracks, result.cells
    provenance = dict(result.provenance)
    if retrain:
        from leadertrack.model import model_summary, train_model

        labels = cells.set_index("track_id")["is_leader"].astype(bool).copy()
        labels.loc[merged["track_id"].to_numpy()] = merged["is_leader"].to_numpy()
        model = train_model(cells, labels)
        units_info = provenance.get("units", {})
        tracks, cells = classify(
            tracks, cells, model=model, threshold=provenance.get("config", {}).get("classify", {}).get("threshold", 0.5),
            motion_window_frames=motion_window_frames(units_info),
        )
        cells = cells.assign(reason=[_honest_units(reason, units_info) for reason in cells["reason"]])
        provenance["retrained"] = {
            "n_corrections": len(merged), "penalty": model.penalty, "summary": model_summary(model),
            **{key: float(v) if np.isfinite(v := getattr(model, key)) else None for key in ("cv_accuracy", "cv_f1", "rule_cv_f1")},
        }
    cells = cells.copy()
    tracks = tracks.copy()
    user = merged.set_index("track_id")["is_leader"]
    in_cells = cells["track_id"].isin(user.index)
    cells.loc[in_cells, "is_leader"] = cells.loc[in_cells, "track_id"].map(user).astype(bool)
    if "reason" in cells:
        cells.loc[in_cells, "reason"] = cells.loc[in_cells, "reason"].map(_user_reason)
    if {"follows_track_id", "group_size"} <= set(cells.columns):  # a leader follows nobody, nobody follows a non-leader
        from leadertrack.classify import group_sizes

        leaders = set(cells.loc[cells["is_leader"].astype(bool), "track_id"])
        stale = cells["is_leader"].astype(bool) | ~cells["follows_track_id"].isin(leaders)
        cells.loc[stale, "follows_track_id"] = 0
        cells["group_size"] = group_sizes(cells)
    in_tracks = tracks["track_id"].isin(user.index)
    if in_tracks.any() and "role" in tracks:
        flipped_to = tracks.loc[in_tracks, "track_id"].map(user).astype(bool)
        tracks.loc[in_tracks, "is_leader"] = flipped_to
        tracks.loc[in_tracks, "role"] = np.where(flipped_to, "leader", "follower")
    provenance["corrections"] = {"n": len(merged)}
    return replace(result, tracks=tracks, cells=cells, corrections=merged.reset_index(drop=True), provenance=provenance)


# --------------------------------------------------------------------------- files to result folders


def process_movie(
    path: Path,
    out: Path,
    config: RunConfig | None = None,
    *,
    labels: Any = None,
    frame_sequence: bool | None = None,
    overwrite: bool = False,
    checksum: str | None = None,
    labels_checksum: str | None = None,
    progress: ProgressCallback | None = None,
    threads: int = 1,
) -> MovieResult:
    """Analyse the movie at ``path`` and write ``out/<stem>/`` atomically.

    The label stack is streamed into the staging folder frame by frame, so memory follows the
    frame size, not the movie length. ``run.json`` records the input's SHA-256 checksum, and that of
    ``labels`` when they are a file or folder (``labels_checksum_sha256``); ``checksum`` and
    ``labels_checksum``, when known, spare reading them again.
    ``threads``: frames segmented at the same time (:func:`analyze_movie`).
    """
    from leadertrack.io import file_checksum, read_movie

    config = config or RunConfig()
    movie = read_movie(
        path,
        channel=config.segment.channel,
        z_projection=config.segment.z_projection,
        frame_sequence=frame_sequence,
        pixel_size_um=config.units.pixel_size_um,
        frame_interval_min=config.units.frame_interval_min,
    )
    if overwrite:
        check_rerun_replaceable(Path(out) / movie.name)
    with staging_folder(Path(out), movie.name, overwrite=overwrite) as tmp:
        result = analyze_movie(
            movie, config, labels=labels, labels_path=tmp / "labels.tif", progress=progress, threads=threads
        )
        result.provenance["input"]["checksum_sha256"] = checksum or file_checksum(path)
        if isinstance(labels, (str, os.PathLike)):
            result.provenance["input"]["labels_checksum_sha256"] = labels_checksum or file_checksum(labels)
        _fill_folder(result, tmp, export=config.output.export, report=config.output.report)
    return result


def run(
    inputs: Sequence[str | Path] | str | Path,
    out: str | Path,
    config: RunConfig | None = None,
    *,
    overwrite: bool = False,
    frame_sequence: bool = False,
    labels: str | Path | None = None,
    recursive: bool = False,
    workers: int | None = 1,
    scheduler: str | None = None,
    units_csv: str | Path | None = None,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Analyse every movie in ``inputs`` and write ``out/<stem>/`` for each plus ``out/summary.csv``.

    Parameters
    ----------
    inputs
        Movie files, folders of movies (a batch), or glob patterns. With ``frame_sequence`` each
        folder is one movie stored one frame per file.
    out
        Output folder.
    config
        Parameters for every stage (:class:`leadertrack.config.RunConfig`).
    overwrite
        Replace existing results; otherwise movies already finished are skipped.
    labels
        Label masks you already have; segmentation is skipped. For one movie a label stack or a folder
        of per-frame masks; for several, a folder holding each movie's masks named after it
        (:func:`leadertrack.batch.run_batch`).
    workers, scheduler
        Run movies in parallel over ``workers`` local processes (0 = one per core), or on Dask
        (``scheduler="local"`` starts a ``LocalCluster``; or a scheduler address).
    units_csv
        A CSV (``movie, pixel_size_um, frame_interval_min``) giving units per movie.

    Returns
    -------
    pandas.DataFrame
        The batch summary (one row per movie: status ok / skipped / failed, error, counts).

    Examples
    --------
    >>> import leadertrack
    >>> summary = leadertrack.run("sample_data/invasion_planar.ome.tif", out="results")  # doctest: +SKIP
    """
    from leadertrack.batch import run_batch
    from leadertrack.io import list_movies

    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if frame_sequence:
        movies = [Path(p) for p in inputs]
    else:
        movies = list_movies(inputs, recursive=recursive)
    return run_batch(
        movies,
        Path(out),
        config or RunConfig(),
        overwrite=overwrite,
        frame_sequence=frame_sequence,
        labels=labels,
        workers=workers,
        scheduler=scheduler,
        units_csv=units_csv,
        progress=progress,
    )
