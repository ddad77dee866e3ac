"""napari Tracks layer data, without importing napari: ``(data, properties, graph)`` and back."""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadertrack.errors import InputError
from leadertrack.formats.graph import parent_map
from leadertrack.formats.trackset import TrackSet, broadcast_cells, check_tracks, split_cells, with_physical_columns

__all__ = ["to_napari_tracks", "from_napari_tracks"]

_COORDINATES = ("frame", "z", "y", "x")


def to_napari_tracks(
    tracks: pd.DataFrame, cells: pd.DataFrame | None = None
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[int, list[int]]]:
    """Data for ``viewer.add_tracks(data, properties=properties, graph=graph)``.

    Parameters
    ----------
    tracks
        One row per cell per frame with ``track_id, frame, y, x[, z]`` in pixels.
    cells
        One row per track; ``parent_track_id`` becomes the ``graph``, numeric columns become
        properties prefixed ``track_`` (``track_leader_score``). None = none.

    Returns
    -------
    data : numpy.ndarray
        ``(N, 4)`` rows ``track_id, frame, y, x`` (``(N, 5)`` with z), sorted by track and frame.
    properties : dict
        Every numeric or boolean column as float (booleans 0/1), so any of them can be used with
        ``color_by`` (e.g. ``is_leader``, ``leader_score_frame``, ``track_leader_score``).
    graph : dict
        ``{daughter track: [mother track]}``.

    Examples
    --------
    >>> t = pd.DataFrame({"track_id": [1, 1, 2], "frame": [0, 1, 2], "y": [0.0, 1, 2], "x": [5.0, 5, 5],
    ...                   "is_leader": [True, True, False]})
    >>> c = pd.DataFrame({"track_id": [1, 2], "parent_track_id": [0, 1]})
    >>> data, props, graph = to_napari_tracks(t, c)
    >>> data.shape, props["is_leader"].tolist(), graph
    ((3, 4), [1.0, 1.0, 0.0], {2: [1]})
    """
    tracks = tracks.sort_values(["track_id", "frame"], kind="stable").reset_index(drop=True)
    table = broadcast_cells(tracks, cells).drop(columns="parent_track_id", errors="ignore") if cells is not None else tracks
    axes = ["track_id", *(c for c in _COORDINATES if c in tracks)]
    data = tracks[axes].to_numpy(dtype=float)
    properties = {
        str(c): table[c].to_numpy(dtype=float, na_value=np.nan)
        for c in table
        if c not in axes and (pd.api.types.is_numeric_dtype(table[c]) or pd.api.types.is_bool_dtype(table[c]))
    }
    graph = {child: [parent] for child, parent in parent_map(cells).items()}
    return data, properties, graph


def from_napari_tracks(
    data: np.ndarray,
    properties: dict[str, np.ndarray] | None = None,
    graph: dict[int, list[int]] | None = None,
    *,
    pixel_size_um: float | None = None,
    frame_interval_min: float | None = None,
    name: str = "napari tracks",
) -> TrackSet:
    """Tracks from a napari Tracks layer's ``data``, ``properties`` and ``graph``.

    Properties prefixed ``track_`` go to ``cells`` (undoing :func:`to_napari_tracks`); a
    daughter with more than one parent in ``graph`` (a merge) is an error.

    Examples
    --------
    >>> ts = from_napari_tracks(np.array([[1, 0, 2.0, 3.0], [1, 1, 2.5, 3.0]]), pixel_size_um=2.0)
    >>> ts.tracks["y_um"].tolist()
    [4.0, 5.0]
    """
    data = np.asarray(data, dtype=float)
    if data.ndim != 2 or data.shape[1] not in (4, 5):
        raise InputError(f"{name}: tracks data must have 4 or 5 columns (track_id, t, [z,] y, x); got shape {data.shape}")
    columns = ["track_id", "frame", *(("z", "y", "x") if data.shape[1] == 5 else ("y", "x"))]
    table = pd.DataFrame(data, columns=columns)
    for key, values in (properties or {}).items():
        if key not in columns:
            table[key] = np.asarray(values)
    parents = {}
    for child, mothers in (graph or {}).items():
        mothers = list(np.atleast_1d(mothers))
        if len(mothers) != 1:
            raise InputError(f"{name}: track {child} has {len(mothers)} parents in the graph; merges are not supported")
        parents[int(child)] = int(mothers[0])
    table["parent_track_id"] = table["track_id"].astype(np.int64).map(parents).fillna(0).astype(np.int64)
    tracks, cells = split_cells(check_tracks(table, source=name), source=name)
    tracks = with_physical_columns(tracks, pixel_size_um=pixel_size_um, frame_interval_min=frame_interval_min)
    return TrackSet(tracks, cells, pixel_size_um, frame_interval_min, "given with the napari layer" if pixel_size_um else "none", name)
