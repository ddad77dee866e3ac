"""GEFF, the tracking community's graph exchange format (zarr), read and written with ``geff``.

One node per cell per frame, one edge per link (a division is a node with two outgoing edges).
Node properties: ``t`` (frame), ``y``, ``x`` (``z``) in pixels with the units on the axes
(``scale`` = µm per pixel and minutes per frame), ``track_id`` (declared as the tracklet
property when the tracks are maximal tracklets), ``lineage_id``, every per-frame column
(``is_leader``, ``leader_score_frame``, ...) and the per-track columns prefixed ``track_``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from geff import GeffMetadata
from geff.core_io import read_to_memory, write_arrays
from geff_spec import Axis, DisplayHint, PropMetadata

from leadertrack import __version__
from leadertrack.errors import InputError
from leadertrack.atomic import atomic_write
from leadertrack.formats.graph import lineage_ids, parent_map, track_edges, tracks_from_graph
from leadertrack.formats.trackmate import space_unit_um, time_unit_min
from leadertrack.formats.trackset import (
    TrackSet,
    broadcast_cells,
    check_tracks,
    honest_columns,
    split_cells,
    with_physical_columns,
)

__all__ = ["write_geff", "read_geff"]

# Derived from the axes' scale on reading, so not stored as properties.
_DERIVED = {"z_um", "y_um", "x_um", "time_min", "parent_track_id"}
_SPACE = ("z", "y", "x")


_UNIT_WORDS = {"um": "micrometer", "px": "pixel", "min": "minute", "frame": "frame", "frames": "frame"}
_UNIT_SUFFIX = re.compile(r"_(um|px)(2)?(?:_per_(min|frame))?$|_(min|frames)$")
_DESCRIPTIONS = {
    "t": "frame number (0-based)",
    "track_id": "leadertrack track id: one unbranched track, daughters of a division are new tracks",
    "lineage_id": "track id of the lineage's first track",
    "is_leader": "leader state of the cell in this frame",
    "leader_score_frame": "leader score of the cell in this frame, 0-1",
    "role": "leader / follower / other in this frame",
    "track_is_leader": "the track is a leader (per-track summary)",
    "track_leader_score": "leader score of the track, 0-1",
    "track_reason": "why the track was or was not called a leader",
}


def _unit(name: str) -> str | None:
    """The unit a column name declares by its suffix (``speed_um_per_min`` → micrometer / minute).

    Examples
    --------
    >>> _unit("speed_um_per_min"), _unit("area_um2"), _unit("time_at_front_min"), _unit("leader_score")
    ('micrometer / minute', 'micrometer^2', 'minute', None)
    """
    match = _UNIT_SUFFIX.search(name)
    if match is None:
        return None
    space, squared, per, time = match.groups()
    if time:
        return _UNIT_WORDS[time]
    unit = _UNIT_WORDS[space] + ("^2" if squared else "")
    return f"{unit} / {_UNIT_WORDS[per]}" if per else unit


def _prop(series: pd.Series) -> dict[str, np.ndarray | None]:
    """A column as a geff property: numbers and booleans as they are, anything else as text."""
    if pd.api.types.is_bool_dtype(series) and not series.isna().any():
        return {"values": series.to_numpy(dtype=bool), "missing": None}
    if pd.api.types.is_numeric_dtype(series):
        if pd.api.types.is_integer_dtype(series) and not series.isna().any():
            return {"values": series.to_numpy(dtype=np.int64), "missing": None}
        return {"values": series.to_numpy(dtype=float, na_value=np.nan), "missing": None}
    missing = series.isna().to_numpy()
    values = series.astype(object).where(~missing, "").astype(str).to_numpy().astype(str)
    return {"values": values, "missing": missing if missing.any() else None}


def write_geff(
    tracks: pd.DataFrame,
    cells: pd.DataFrame | None,
    path: Path,
    *,
    pixel_size_um: float | None,
    frame_interval_min: float | None,
) -> Path:
    """Write tracks as a GEFF zarr store (atomically), validated by ``geff`` before it is kept.

    Parameters
    ----------
    tracks
        One row per cell per frame with ``track_id, frame, y, x[, z]`` in pixels and any
        per-frame results (``is_leader``, ``leader_score_frame``, ``speed_um_per_min``, ...),
        e.g. the pipeline's tracks table. Text columns are stored as string properties.
    cells
        One row per track: ``parent_track_id`` becomes division edges; other columns become node
        properties prefixed ``track_`` (``track_leader_score``, ``track_is_leader``,
        ``track_reason``). None = no per-track data.
    path
        The store to write, conventionally ``tracks.geff`` (a folder).
    pixel_size_um, frame_interval_min
        Units, written on the axes as ``scale`` with ``scaled_unit`` micrometer / minute; None
        leaves the axes in pixels / frames and renames the columns that would claim the unit
        (``speed_um_per_min`` → ``speed_px_per_frame``).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> t = pd.DataFrame({"track_id": [1, 1], "frame": [0, 1], "y": [1.0, 2.0], "x": [3.0, 3.0]})
    >>> p = write_geff(t, None, Path(tempfile.mkdtemp()) / "t.geff", pixel_size_um=0.5, frame_interval_min=2)
    >>> read_geff(p).tracks["y_um"].tolist()
    [0.5, 1.0]
    """
    path = Path(path)
    tracks = tracks.sort_values(["track_id", "frame"], kind="stable").reset_index(drop=True)
    parents = parent_map(cells)
    table = broadcast_cells(tracks, cells) if cells is not None else tracks.copy()
    table = table.rename(columns={"frame": "t"}).drop(columns=[c for c in _DERIVED if c in table])
    table = honest_columns(table, pixel_size_um=pixel_size_um, frame_interval_min=frame_interval_min)
    table["lineage_id"] = lineage_ids(tracks["track_id"].to_numpy(), parents).loc[tracks["track_id"]].to_numpy()
    node_props = {str(c): _prop(table[c]) for c in table}
    node_ids = np.arange(len(table), dtype=np.uint64)
    edge_ids = track_edges(tracks, parents).astype(np.uint64)

    space = [a for a in _SPACE if a in tracks]
    space_scale = {"scale": pixel_size_um, "scaled_unit": "micrometer"} if pixel_size_um else {}
    time_scale = {"scale": frame_interval_min, "scaled_unit": "minute"} if frame_interval_min else {}
    axes = [Axis(name="t", type="time", unit="frame", **time_scale)]
    axes += [Axis(name=a, type="space", unit="pixel", **space_scale) for a in space]
    children = pd.Series(list(parents.values())).value_counts()
    track_props = {"lineage": "lineage_id"}
    if not (children == 1).any():  # every track is a maximal tracklet
        track_props["tracklet"] = "track_id"
    described = {name: (_unit(name), _DESCRIPTIONS.get(name)) for name in node_props}
    metadata = GeffMetadata(
        directed=True,
        axes=axes,
        node_props_metadata={  # dtypes are filled in by geff when it writes the arrays
            name: PropMetadata(identifier=name, dtype="float64", unit=unit, description=text)
            for name, (unit, text) in described.items()
            if unit or text
        },
        edge_props_metadata={},
        track_node_props=track_props,
        display_hints=DisplayHint(
            display_horizontal="x", display_vertical="y", display_time="t", display_depth="z" if "z" in space else None
        ),
        extra={"leadertrack": {"version": __version__}},
    )

    def write(tmp: Path) -> None:
        write_arrays(str(tmp), node_ids, node_props, edge_ids, {}, metadata, zarr_format=2)

    return atomic_write(path, write)


def _axis_names(axes: list[Axis], *, source: str) -> tuple[Axis, dict[str, Axis]]:
    """The time axis and ``{z/y/x: space axis}``, by axis name (``x``, ``POSITION_X``) or order."""
    time = [a for a in axes if a.type == "time"]
    space = [a for a in axes if a.type == "space"]
    if len(time) != 1 or not 2 <= len(space) <= 3:
        raise InputError(
            f"{source}: GEFF axes must be one time axis and two or three space axes; found "
            f"{[f'{a.name} ({a.type})' for a in axes]}"
        )
    by_name = {}
    for axis in space:
        name = axis.name.lower()
        for ours in _SPACE:
            if name == ours or name.endswith(f"_{ours}"):
                by_name[ours] = axis
    if len(by_name) == len(space):
        return time[0], {a: by_name[a] for a in _SPACE if a in by_name}
    return time[0], dict(zip(_SPACE[-len(space):], space))


def _pixel_size_um(table: pd.DataFrame, scales: dict[str, float | None], *, stored_in_um: list[bool], source: str) -> float | None:
    """The pixel size of positions ``table[axis]`` stored with ``scales`` (µm per stored unit), converting them to µm
    in place where the axes differ (anisotropic voxels: z steps unlike the pixels). None: no axis has a scale."""
    known = {axis: scale for axis, scale in scales.items() if scale is not None}
    if not known:
        return None
    if len(known) < len(scales):
        missing = ", ".join(axis for axis in scales if axis not in known)
        raise InputError(f"{source}: the {missing} axis has no unit or scale while the others have one: its positions "
                         "cannot be put in µm beside theirs")
    values = list(known.values())
    if any(stored_in_um) or not np.allclose(values, values[0], rtol=1e-6):
        for axis, scale in known.items():  # positions in µm, read as 1 µm pixels
            table[axis] = table[axis] * scale
        return 1.0
    return values[0]


def read_geff(path: Path) -> TrackSet:
    """Read tracks from a GEFF store (written by leadertrack, TrackMate, ultrack, motile, ...).

    Parameters
    ----------
    path
        The GEFF zarr group (``*.geff`` / ``*.zarr`` folder whose attributes hold ``geff``).

    Returns
    -------
    TrackSet
        Frames from the time axis (``unit`` frame, or a physical time unit turned into frame
        numbers), pixel positions from the space axes (``unit`` pixel with ``scale`` in
        micrometres gives the pixel size; positions in a physical unit read as 1 µm pixels).
        Track ids come from a ``track_id`` (or the declared tracklet) property when it fits the
        graph, else from the graph's tracklets; divisions become ``parent_track_id``.

    Raises
    ------
    InputError
        Not a valid GEFF, no time and space axes, links backwards in time, merging tracks.
    """
    path = Path(path)
    source = str(path)
    try:
        memory = read_to_memory(str(path))
    except (ValueError, KeyError, TypeError, FileNotFoundError) as exc:
        raise InputError(f"{source}: not a valid GEFF store: {exc}") from None
    meta: GeffMetadata = memory["metadata"]
    if not len(memory["node_ids"]):
        raise InputError(f"{source}: the GEFF graph has no nodes")
    time_axis, space_axes = _axis_names(meta.axes or [], source=source)
    props = memory["node_props"]
    columns: dict[str, np.ndarray] = {}
    for name, prop in props.items():
        values = np.asarray(prop["values"])
        if values.ndim != 1:
            continue
        missing = prop.get("missing")
        if missing is not None and np.asarray(missing).any():
            values = pd.Series(values).where(~np.asarray(missing, dtype=bool)).to_numpy()
        columns[name] = values

    time = columns.pop(time_axis.name).astype(float)
    time_unit = time_unit_min(time_axis.unit) if time_axis.unit not in (None, "frame") else None
    frame_prop = next((n for n in ("frame", "FRAME") if n in columns), None)
    if time_unit is None:
        frames = time
        scaled = time_unit_min(time_axis.scaled_unit)
        frame_interval_min = time_axis.scale * scaled if time_axis.scale and scaled else None
    elif frame_prop is not None:  # e.g. TrackMate: time in seconds beside a FRAME property
        frames = columns.pop(frame_prop).astype(float)
        moving = frames > 0
        frame_interval_min = float(np.median(time[moving] / frames[moving])) * time_unit if moving.any() else None
    else:
        steps = np.diff(np.unique(time))
        step = float(steps[steps > 0].min()) if (steps > 0).any() else 1.0
        frames = np.rint(time / step)
        frame_interval_min = step * time_unit
    table = pd.DataFrame({"frame": frames})
    scales: dict[str, float | None] = {}  # µm per unit of each axis as stored (None: not known)
    for ours, axis in space_axes.items():
        values = columns.pop(axis.name).astype(float)
        if ours == "z" and np.ptp(values) == 0:  # 2-D data stored with a flat z
            continue
        table[ours] = values
        um = space_unit_um(axis.unit)
        scaled = space_unit_um(axis.scaled_unit) if axis.scale else None
        scales[ours] = um if um is not None else (axis.scale * scaled if scaled else None)
    pixel_size_um = _pixel_size_um(table, scales, stored_in_um=[space_unit_um(a.unit) is not None for a in space_axes.values()],
                                   source=source)

    track_props = meta.track_node_props or {}
    id_prop = "track_id" if "track_id" in columns else track_props.get("tracklet")
    given = pd.to_numeric(pd.Series(columns[id_prop]), errors="coerce").to_numpy(dtype=float) if id_prop in columns else None
    edges = np.asarray(memory["edge_ids"], dtype=np.int64).reshape(-1, 2)
    node_index = pd.Index(np.asarray(memory["node_ids"]).astype(np.int64))
    edges = node_index.get_indexer(edges.ravel()).reshape(-1, 2)
    if (edges < 0).any():
        raise InputError(f"{source}: an edge names a node that is not in the graph")
    track_id, parents = tracks_from_graph(
        len(table), edges, table["frame"].to_numpy(), given_ids=given, source=source
    )
    table.insert(0, "track_id", track_id)
    table["parent_track_id"] = table["track_id"].map(parents).fillna(0).astype(np.int64)
    dropped = {id_prop, track_props.get("lineage"), *_DERIVED}
    for name, values in columns.items():
        if name not in dropped:
            table[name] = values
    tracks, cells = split_cells(check_tracks(table, source=source), source=source)
    tracks = with_physical_columns(tracks, pixel_size_um=pixel_size_um, frame_interval_min=frame_interval_min)
    units = "GEFF axes: " + ", ".join(f"{a.name} [{a.unit}, scale {a.scale} {a.scaled_unit or ''}]".strip() for a in meta.axes or [])
    return TrackSet(tracks, cells, pixel_size_um, frame_interval_min, units, path.stem)
