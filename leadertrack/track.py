"""Link detections into tracks: search range in µm, velocity prediction (trackpy's linking, :mod:`leadertrack.frame_links`), gap closing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from leadertrack.errors import InputError
from leadertrack.frame_links import MAX_SUBNET_TRACKS, SubnetTooLargeError, link_frames
from leadertrack.stitch import _RowLookup, close_gaps, merge_split_segments
from leadertrack.units import add_physical_columns

__all__ = [
    "EDGE_MARGIN_DIAMETERS", "SEARCH_RANGE_DIAMETERS", "brightness_usable", "default_search_range_um", "link", "relink_around",
    "replace_tracks_around",
]

SEARCH_RANGE_DIAMETERS = 1.5
"""Default linking search range, in nucleus diameters (when no top speed is given)."""
EDGE_MARGIN_DIAMETERS = 0.5
"""With label masks given, gap closing leaves alone tracks ending or starting this many nucleus
diameters or less from the image's edge (``link(edge_margin_um=...)``): a cell vanishing there has
left the field. On simulated movies with their true masks, 99.5% of such joins had joined two
different cells; from our own segmentation, which also loses cells inside the field, 60% had, and
leaving them alone cost leader F1 there, so it is not done there."""


def _stitch(
    table: pd.DataFrame, *, max_distance_px: float, max_gap_frames: int, field_px: tuple[int, int] | None,
    edge_margin_px: float,
) -> pd.Series:
    """Track ids after undoing merges and closing gaps (:mod:`leadertrack.stitch`).

    Works on numpy arrays of the four columns it needs, in (track, frame) order, so a long movie
    costs a few tens of bytes per detection on top of the table.
    """
    track = table["track_id"].to_numpy()
    frame = table["frame"].to_numpy(dtype=np.int64)
    order = np.lexsort((frame, track))
    track, frame = track[order], frame[order]
    # every gap the linking memory bridged is decided again, with both sides' velocities
    step = np.diff(frame)
    piece = np.cumsum(np.r_[True, (track[1:] != track[:-1]) | ((step > 1) & (step <= max_gap_frames))])
    del track, step
    sorted_table = pd.DataFrame(
        {
            "track_id": piece,
            "frame": frame,
            "y": table["y"].to_numpy(dtype=float)[order],
            "x": table["x"].to_numpy(dtype=float)[order],
        }
    )
    stretch = merge_split_segments(
        sorted_table, max_distance_px=max_distance_px, max_gap_frames=max_gap_frames
    ).to_numpy()
    # cut every track before and after each shared stretch, close gaps without the stretches,
    # then give each stretch to the cell whose track it interrupted
    segment = np.cumsum(np.r_[True, (piece[1:] != piece[:-1]) | (stretch[1:] != stretch[:-1])])
    kept = stretch == 0
    sorted_table["track_id"] = segment
    without_stretches = sorted_table[kept]
    del sorted_table, segment
    joined = close_gaps(
        without_stretches, max_distance_px=max_distance_px, max_gap_frames=max_gap_frames, field_px=field_px,
        edge_margin_px=edge_margin_px,
    )
    del without_stretches
    ids = np.full(len(order), np.nan)
    ids[joined.index.to_numpy()] = joined.to_numpy(dtype=float)
    fresh = int(np.nanmax(ids, initial=0))
    # each row's nearest kept row before and after it in the same piece
    position = np.arange(len(ids))
    before = np.maximum.accumulate(np.where(kept, position, -1))
    after = np.minimum.accumulate(np.where(kept, position, len(ids))[::-1])[::-1]
    stretch_rows = np.flatnonzero(~kept)
    if len(stretch_rows):
        taken = _RowLookup(ids[kept].astype(np.int64), frame[kept])  # (track, frame) pairs held outside stretches
        given: set[tuple[int, int]] = set()  # ... and those handed out with a stretch
        stretch_rows = stretch_rows[np.argsort(stretch[stretch_rows], kind="stable")]
        for rows in np.split(stretch_rows, np.flatnonzero(np.diff(stretch[stretch_rows])) + 1):
            frames = frame[rows]
            first, last = before[rows[0]], after[rows[-1]]
            owners = [int(ids[r]) for r in (first, last) if 0 <= r < len(ids) and piece[r] == piece[rows[0]]]
            free = [
                o for o in owners if (taken(o, frames) < 0).all() and given.isdisjoint((o, f) for f in frames.tolist())
            ]
            fresh += not free
            ids[rows] = free[0] if free else fresh
            given.update((int(ids[rows[0]]), f) for f in frames.tolist())
    out = np.empty(len(ids), dtype=np.int64)
    out[order] = ids
    return pd.Series(out, index=table.index)


def _positive_intensities(detections: pd.DataFrame) -> np.ndarray | None:
    """Each detection's ``mean_intensity``; None unless there are some and every one is positive and finite."""
    if "mean_intensity" not in detections:
        return None
    intensity = detections["mean_intensity"].to_numpy(float)
    if len(intensity) == 0 or not (np.isfinite(intensity) & (intensity > 0)).all():
        return None
    return intensity


def _relative_log_brightness(detections: pd.DataFrame) -> np.ndarray | None:
    """log(mean intensity / the frame's median) per detection; None unless every intensity is positive.

    Relative to the frame, so that bleaching over the movie does not look like a change of cell.
    """
    intensity = _positive_intensities(detections)
    if intensity is None:
        return None
    log = np.log(intensity)
    return log - pd.Series(log).groupby(detections["frame"].to_numpy()).transform("median").to_numpy()


def brightness_usable(detections: pd.DataFrame) -> bool:
    """Whether :func:`link` can tell these detections apart by brightness (``brightness_um``): every
    one has a positive, finite ``mean_intensity``."""
    return _positive_intensities(detections) is not None


def default_search_range_um(
    *,
    nucleus_diameter_um: float,
    frame_interval_min: float | None = None,
    max_speed_um_per_min: float | None = None,
) -> float:
    """Largest displacement between two frames that linking should consider, in µm.

    With a known top speed and frame interval this is ``max_speed_um_per_min *
    frame_interval_min``; otherwise ``SEARCH_RANGE_DIAMETERS`` (1.5) nucleus diameters. Leaders
    in movies taken every 10-15 min move about one diameter per frame and more, and the first
    link of a track is made before the velocity predictor has seen it move; where candidates
    crowd (a dense sheet), the adaptive search shrinks the range for that subnetwork.

    Parameters
    ----------
    nucleus_diameter_um
        Typical nucleus diameter in µm.
    frame_interval_min
        Time between frames in minutes (needed with ``max_speed_um_per_min``).
    max_speed_um_per_min
        Fastest expected cell speed in µm/min.

    Examples
    --------
    >>> default_search_range_um(nucleus_diameter_um=10)
    15.0
    >>> default_search_range_um(nucleus_diameter_um=10, frame_interval_min=5, max_speed_um_per_min=1.5)
    7.5
    """
    if nucleus_diameter_um <= 0:
        raise ValueError(f"nucleus_diameter_um must be positive, got {nucleus_diameter_um}")
    if max_speed_um_per_min is not None and frame_interval_min is not None:
        return float(max_speed_um_per_min * frame_interval_min)
    return float(SEARCH_RANGE_DIAMETERS * nucleus_diameter_um)


def link(
    detections: pd.DataFrame,
    *,
    search_range_um: float,
    pixel_size_um: float = 1.0,
    frame_interval_min: float = 1.0,
    memory: int = 3,
    predict: bool = True,
    min_track_length: int = 1,
    max_gap_frames: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    brightness_um: float = 0.0,
    field_px: tuple[int, int] | None = None,
    edge_margin_um: float = 0.0,
    adaptive_search: bool = True,
) -> pd.DataFrame:
    """Link detections over frames into tracks (trackpy's algorithm: :func:`leadertrack.frame_links.link_frames`).

    Parameters
    ----------
    detections
        Table with at least ``frame``, ``y``, ``x`` (pixels), e.g. from :func:`leadertrack.detect`.
    search_range_um
        Largest displacement between frames in µm (measured from the predicted position when
        ``predict`` is on).
    pixel_size_um
        Pixel size in µm; converts the search range to pixels.
    frame_interval_min
        Time between frames in minutes, for the ``time_min`` column.
    memory
        Frames a cell may vanish and still be linked to its track frame to frame.
    predict
        Predict each cell's position from its own velocity over its last three steps, so fast
        persistent movers are kept.
    min_track_length
        Tracks with fewer detections (after gap closing) are dropped.
    max_gap_frames
        Gap closing after the frame-to-frame links (:mod:`leadertrack.stitch`): a track end may continue as a
        track starting up to this many frames later when both extrapolated across the gap
        (own velocities) meet within the search range per square root of the gap; all joins are
        chosen together by one linear assignment. Gaps the memory bridged are decided again
        the same way, and a track that swallowed an ending neighbour until a new track split off
        it is cut there, so that both cells keep their identities through the merge. ``None``
        (default) = ``2 * (memory + 1)``; ``0`` = the frame-to-frame links only.
    progress
        ``progress("link", done, total)`` is called after each frame.
    brightness_um
        When positive, nuclei are also told apart by how bright they are: the log of each
        detection's ``mean_intensity`` relative to its frame's median, times ``brightness_um``,
        joins ``y`` and ``x`` as a third coordinate (so a nucleus twice as bright as a candidate is
        ``0.69 * brightness_um`` µm further from it). Where cells move about one spacing per frame,
        the cell behind takes the place of the one ahead, and only brightness tells them apart.
        Frame-to-frame links only (gap closing goes by position). Off (0) unless every detection
        has a positive ``mean_intensity``.
    field_px, edge_margin_um
        The image's (rows, columns), and a margin in µm: gap closing joins no track ending within
        the margin of the image's edge (the cell has most likely left the field) and no track
        starting there (a cell coming in). Frame-to-frame links are not affected. None / 0 = no
        margin.
    adaptive_search
        Where candidates crowd, shrink the search range of that group of cells until it splits
        (trackpy's adaptive search, see :mod:`leadertrack.frame_links`): in a dense sheet whose
        nuclei are sometimes merged or missed, a cell whose nucleus is gone then does not take a
        neighbour's. False: each frame's links are those of least total squared distance at the
        full search range, as linking again where strands alias needs (a wide range there must
        outweigh the short links to the cell behind); never raises for a large range.

    Returns
    -------
    pandas.DataFrame
        Every input column plus ``track_id`` (1, 2, ... contiguous, in order of first
        appearance) and ``time_min``, ``y_um``, ``x_um`` (``area_um2``) from
        :func:`leadertrack.units.add_physical_columns`; sorted by ``track_id`` and ``frame``.

    Examples
    --------
    >>> det = pd.DataFrame({"frame": [0, 1, 2, 0, 1, 2], "y": [0.0, 2, 4, 50, 50, 50], "x": [0.0, 0, 0, 9, 9, 9]})
    >>> link(det, search_range_um=5)[["track_id", "frame", "y"]].to_string(index=False)
    ' track_id  frame    y\\n        1      0  0.0\\n        1      1  2.0\\n        1      2  4.0\\n        2      0 50.0\\n        2      1 50.0\\n        2      2 50.0'
    """
    missing = {"frame", "y", "x"} - set(detections.columns)
    if missing:
        raise ValueError(f"detections lack the column(s) {sorted(missing)}")
    positive = {"search_range_um": search_range_um, "pixel_size_um": pixel_size_um, "frame_interval_min": frame_interval_min}
    for name, value in positive.items():
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value}")
    for name, value in {"memory": memory, "min_track_length": min_track_length, "max_gap_frames": max_gap_frames or 0}.items():
        if value != int(value) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0, got {value}")
    table = detections.reset_index(drop=True)
    table["frame"] = table["frame"].astype(np.int64)
    columns = [c for c in detections.columns if c != "track_id"]  # re-linking replaces old ids
    if table.empty:
        linked = table.assign(track_id=pd.Series(dtype=np.int64))
        return add_physical_columns(linked, pixel_size_um=pixel_size_um, frame_interval_min=frame_interval_min)
    search_range_px = search_range_um / pixel_size_um
    coordinates = table[["y", "x"]].to_numpy(dtype=float)
    if not np.isfinite(coordinates).all():
        bad = int((~np.isfinite(coordinates)).any(axis=1).sum())
        raise ValueError(f"{bad} of the {len(table)} detections have no finite position (y, x): drop them before linking")
    brightness = _relative_log_brightness(table) if brightness_um > 0 else None
    if brightness is not None:
        coordinates = np.column_stack([coordinates, brightness * (brightness_um / pixel_size_um)])
    try:
        particle = link_frames(
            table["frame"].to_numpy(), coordinates, search_range=search_range_px, memory=memory, predict=predict,
            n_moving=2,
            # in a dense sheet a few subnetworks get too large to solve: the search range is then
            # shrunk for those cells only, step by step, down to a tenth of it (trackpy's adaptive search)
            max_subnet_tracks=MAX_SUBNET_TRACKS if adaptive_search else None,
            adaptive_stop=0.1 * search_range_px, adaptive_step=0.9,
            progress=None if progress is None else lambda done, total: progress("link", done, total),
        )
    except SubnetTooLargeError as error:
        raise InputError(
            f"linking frame {error.frame}: the search range ({search_range_um:g} µm) is so large that too many "
            "cells compete for the same links; give a smaller --max-speed-um-per-min or check "
            "--pixel-size-um and --nucleus-diameter-um"
        ) from None
    table["track_id"] = particle
    gap_frames = 2 * (memory + 1) if max_gap_frames is None else max_gap_frames
    if gap_frames > 0:
        table["track_id"] = _stitch(
            table, max_distance_px=search_range_px, max_gap_frames=gap_frames, field_px=field_px,
            edge_margin_px=edge_margin_um / pixel_size_um,
        )
    table = _numbered(table[[*columns, "track_id"]], min_track_length)
    return add_physical_columns(table, pixel_size_um=pixel_size_um, frame_interval_min=frame_interval_min)


def _numbered(table: pd.DataFrame, min_track_length: int) -> pd.DataFrame:
    """Tracks of at least ``min_track_length`` rows, with contiguous ids 1..n by first appearance,
    then position (the linker's numbers depend on its internal order), so the
    same detections always get the same ids; sorted by track and frame."""
    lengths = table.groupby("track_id")["frame"].transform("size")
    table = table[lengths >= min_track_length]
    starts = table[["frame", "y", "x", "track_id"]].sort_values(["frame", "y", "x"], kind="stable").drop_duplicates("track_id")
    new_id = pd.Series(np.arange(1, len(starts) + 1), index=starts["track_id"].to_numpy())
    table = table.assign(track_id=table["track_id"].map(new_id).astype(np.int64))
    return table.sort_values(["track_id", "frame"], kind="stable").reset_index(drop=True)


def replace_tracks_around(
    first: np.ndarray, frames: np.ndarray, second: np.ndarray, around: np.ndarray
) -> tuple[np.ndarray, int]:
    """Track ids of one set of detections under two linkings: the second linking's tracks that hold
    a detection of a first-linking track in ``around`` take over their detections; everywhere else
    the first linking stays, and a first-linking track that lost detections to them is cut where it
    lost them (its pieces become tracks of their own).

    Parameters
    ----------
    first, second
        Each detection's track id under the first and the second linking (-1: in no track of the second).
    frames
        Each detection's frame.
    around
        Track ids of the first linking whose detections the second linking takes over.

    Returns
    -------
    ids, n_taken
        A track id per detection (not contiguous), and the number of second-linking tracks taken.

    Examples
    --------
    Detections 0-2 are one cell in frames 0-2, detections 3-5 another, 6-7 a third in frames 0-1;
    the first linking swapped the first two after frame 0 (tracks 1 and 2), the second did not
    (tracks 7 and 8). Around track 1, the third cell keeps its first track:

    >>> first, second = np.array([1, 2, 2, 2, 1, 1, 3, 3]), np.array([7, 7, 7, 8, 8, 8, 9, 9])
    >>> replace_tracks_around(first, np.array([0, 1, 2, 0, 1, 2, 0, 1]), second, np.array([1]))
    (array([4, 4, 4, 5, 5, 5, 3, 3]), 2)
    """
    taken = np.unique(second[np.isin(first, around) & (second >= 0)])
    take = np.isin(second, taken)
    order = np.lexsort((frames, first))
    track, took = first[order], take[order]
    piece = np.cumsum(np.r_[True, (track[1:] != track[:-1]) | (took[1:] != took[:-1])])
    ids = np.empty(len(first), dtype=np.int64)
    ids[order] = piece
    ids[take] = int(piece.max(initial=0)) + 1 + np.searchsorted(taken, second[take])
    return ids, len(taken)


def relink_around(
    tracks: pd.DataFrame, around: np.ndarray, *, columns: list[str], **link_options: Any
) -> tuple[pd.DataFrame, int]:
    """Link the detections of ``tracks`` again and keep the new tracks only where they take over a
    detection of a track in ``around`` (:func:`replace_tracks_around`).

    Parameters
    ----------
    tracks
        Linked detections (:func:`link`).
    around
        Track ids of ``tracks`` to link again, with the detections around them.
    columns
        The detection columns to link again (``frame``, ``y``, ``x``, ...).
    **link_options
        For :func:`link` (``search_range_um``, ``brightness_um``, ``min_track_length``, ...).

    Returns
    -------
    tracks, n_taken
        ``tracks`` with the new track ids (contiguous, as :func:`link` numbers them; pieces shorter
        than ``min_track_length`` dropped), and the number of new tracks taken.
    """
    again = link(tracks[columns].assign(_row=np.arange(len(tracks))), **link_options)
    second = np.full(len(tracks), -1, dtype=np.int64)
    second[again["_row"].to_numpy()] = again["track_id"].to_numpy()
    ids, n_taken = replace_tracks_around(
        tracks["track_id"].to_numpy(np.int64), tracks["frame"].to_numpy(np.int64), second, np.asarray(around)
    )
    return _numbered(tracks.assign(track_id=ids), link_options.get("min_track_length", 1)), n_taken
