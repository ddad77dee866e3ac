"""Plain tracks tables (CSV, TSV, Parquet) with ``track_id, frame, y, x[, z]`` and a column mapping."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from leadertrack.errors import InputError
from leadertrack.atomic import atomic_write
from leadertrack.formats.trackset import (
    TrackSet,
    broadcast_cells,
    check_tracks,
    split_cells,
    with_physical_columns,
)

__all__ = ["read_table", "write_table", "read_result_folder", "field_px_of", "ALIASES"]

#: Column names recognised without a mapping (compared case-insensitively), besides our own.
ALIASES = {
    "particle": "track_id",  # trackpy
    "trackid": "track_id",
    "track": "track_id",
    "y_px": "y",  # our own honest names for uncalibrated results
    "x_px": "x",
    "z_px": "z",
}
_OURS = ("track_id", "parent_track_id", "frame", "z", "y", "x", "z_um", "y_um", "x_um", "time_min")
_PARQUET = (".parquet", ".pq")


def _load(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() in _PARQUET:
            return pd.read_parquet(path)
        sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
        return pd.read_csv(path, sep=sep)
    except (OSError, ValueError, ImportError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot read the table: {first_line}") from None


def _rename(table: pd.DataFrame, column_map: dict[str, str] | None, *, source: str) -> pd.DataFrame:
    column_map = dict(column_map or {})
    absent = [c for c in column_map if c not in table]
    if absent:
        raise InputError(f"{source}: column_map names {absent[0]!r}, which is not a column (columns: {', '.join(map(str, table.columns))})")
    mapping = dict(column_map)
    taken = set(column_map.values()) | {c for c in table if c in _OURS and c not in column_map}
    for column in table:
        if column in mapping or column in _OURS:
            continue
        key = str(column).lower()
        target = key if key in _OURS else ALIASES.get(key)
        if target is not None and target not in taken:
            mapping[column] = target
            taken.add(target)
    renamed = table.rename(columns=mapping)
    duplicated = renamed.columns[renamed.columns.duplicated()]
    if len(duplicated):
        raise InputError(f"{source}: two columns are both called {duplicated[0]!r} after the column mapping")
    return renamed


def unit_scale(table: pd.DataFrame, coarse: str, fine: str, *, source: str) -> float | None:
    """Constant factor with ``table[fine] == factor * table[coarse]`` (a unit: µm per pixel, minutes per frame), or
    None if not defined; an InputError when ``fine`` is not a constant multiple of ``coarse``."""
    a = table[coarse].to_numpy(dtype=float)
    b = pd.to_numeric(table[fine], errors="coerce").to_numpy(dtype=float)
    usable = (a != 0) & np.isfinite(b)
    if not usable.any():
        return None
    factor = float(np.median(b[usable] / a[usable]))
    if not np.allclose(a * factor, b, rtol=1e-6, atol=1e-9, equal_nan=False):
        raise InputError(f"{source}: column '{fine}' is not a constant multiple of '{coarse}', so its unit is unclear")
    return factor


def read_table(path: Path, *, column_map: dict[str, str] | None = None) -> TrackSet:
    """Read a tracks table: CSV (``.csv``), TSV (``.tsv``) or Parquet (``.parquet``).

    Parameters
    ----------
    path
        A table with one row per cell per frame.
    column_map
        ``{name in the file: our name}``, e.g. ``{"particle": "track_id", "POS_X": "x"}``. Our
        names: ``track_id, frame, y, x, z`` (pixels), ``y_um, x_um, z_um`` (µm), ``time_min``,
        ``parent_track_id``. Without a mapping, our names in any letter case, trackpy's
        ``particle``, and ``y_px``/``x_px`` are recognised.

    Returns
    -------
    TrackSet
        Units are taken from the table itself: the pixel size from ``y_um / y`` when both are
        present, positions in µm only (``y_um``, ``x_um``) read as 1 µm pixels, the frame interval
        from ``time_min / frame``. Columns prefixed ``track_`` and ``parent_track_id`` go to
        ``cells`` (see :func:`~leadertrack.formats.trackset.broadcast_cells`).

    Raises
    ------
    InputError
        The file cannot be read, a required column is missing, values are not numbers, or a
        track has two rows in one frame.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("particle,frame,y,x\\n0,0,1,1\\n0,1,2,1\\n")
    >>> read_table(p).tracks[["track_id", "frame", "y"]].to_numpy().tolist()
    [[1.0, 0.0, 1.0], [1.0, 1.0, 2.0]]
    """
    path = Path(path)
    source = str(path)
    table = _rename(_load(path), column_map, source=source)
    if table.empty:
        raise InputError(f"{source}: the table has no rows")
    if "frame" not in table and "time_min" in table:
        raise InputError(f"{source}: no 'frame' column (found 'time_min'); add frame numbers or map a column to 'frame'")
    pixel_size_um: float | None = None
    notes = []
    if "y" not in table and "x" not in table and {"y_um", "x_um"} <= set(table):
        for axis in ("z", "y", "x"):
            if f"{axis}_um" in table:
                table[axis] = table[f"{axis}_um"]
        pixel_size_um = 1.0
        notes.append("positions in µm (read as 1 µm pixels)")
    if "z_um" in table and "z" not in table:
        raise InputError(
            f"{source}: has z_um but no z beside y and x: give z too (in the pixels of y and x), or the positions "
            "in µm only (z_um, y_um, x_um without z, y, x); z_um alone would be dropped"
        )
    tracks = check_tracks(table, source=source)
    if "z" in tracks and np.ptp(tracks["z"].to_numpy(float)) == 0:  # 2-D data with a flat z, as TrackMate and GEFF read it
        tracks = tracks.drop(columns=[c for c in ("z", "z_um") if c in tracks])
        notes.append("z is the same for every cell: read as 2-D")
    if pixel_size_um is None:
        scales = {axis: unit_scale(tracks, axis, f"{axis}_um", source=source) for axis in ("y", "x") if f"{axis}_um" in tracks}
        found = {axis: scale for axis, scale in scales.items() if scale is not None}
        if len(found) == 2 and not np.isclose(found["y"], found["x"], rtol=1e-6):
            raise InputError(
                f"{source}: y_um is {found['y']:.6g} y but x_um is {found['x']:.6g} x; pixels must be square "
                "(give the positions in pixels and the pixel size, or in µm only)"
            )
        if found:
            axis = next(iter(found))
            pixel_size_um = found[axis]
            notes.append(f"pixel size from the {axis}_um/{axis} columns")
            z_scale = unit_scale(tracks, "z", "z_um", source=source) if {"z", "z_um"} <= set(tracks) else None
            if z_scale is not None and not np.isclose(z_scale, pixel_size_um, rtol=1e-6):
                raise InputError(
                    f"{source}: z_um is {z_scale:.6g} z but {axis}_um is {pixel_size_um:.6g} {axis}: z is read in the "
                    f"pixels of y and x, so give z in them (z x {z_scale / pixel_size_um:.6g}), or the positions in µm "
                    "only (z_um, y_um, x_um without z, y, x)"
                )
    frame_interval_min = unit_scale(tracks, "frame", "time_min", source=source) if "time_min" in tracks else None
    if frame_interval_min is not None:
        notes.append("frame interval from the time_min/frame columns")
    tracks, cells = split_cells(tracks, source=source)
    tracks = with_physical_columns(tracks, pixel_size_um=pixel_size_um, frame_interval_min=frame_interval_min)
    return TrackSet(
        tracks=tracks,
        cells=cells,
        pixel_size_um=pixel_size_um,
        frame_interval_min=frame_interval_min,
        units_source="; ".join(notes) or "none: the table has no physical units",
        name=path.stem,
    )


def write_table(tracks: pd.DataFrame, cells: pd.DataFrame | None, path: Path) -> Path:
    """Write ``tracks`` with per-track ``cells`` columns as one table (CSV, TSV or Parquet by suffix).

    Per-track columns are written on every row of their track with a ``track_`` prefix and
    ``parent_track_id`` as it is, so :func:`read_table` gives back both tables. The file is
    written atomically.

    Examples
    --------
    >>> import tempfile
    >>> t = pd.DataFrame({"track_id": [1, 1], "frame": [0, 1], "y": [1.0, 2.0], "x": [0.0, 0.0]})
    >>> c = pd.DataFrame({"track_id": [1], "parent_track_id": [0], "leader_score": [0.9]})
    >>> p = write_table(t, c, Path(tempfile.mkdtemp()) / "t.csv")
    >>> read_table(p).cells["leader_score"].tolist()
    [0.9]
    """
    path = Path(path)
    table = broadcast_cells(tracks, cells) if cells is not None else tracks
    if path.suffix.lower() in _PARQUET:
        return atomic_write(path, lambda tmp: table.to_parquet(tmp, index=False))
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    return atomic_write(path, lambda tmp: table.to_csv(tmp, index=False, sep=sep))


def read_result_folder(path: Path) -> TrackSet:
    """Read the tracks of a leadertrack result folder (``tracks.csv`` + ``cells.csv``).

    Lets a finished result be measured and classified again, e.g. with another geometry. Units
    come from the ``_um``/``time_min`` columns of ``tracks.csv``, divisions from the
    ``parent_track_id`` column of ``cells.csv``, the image's size (``metadata["field_px"]``) from
    ``run.json``; earlier results stay as extra columns.

    Raises
    ------
    InputError
        ``tracks.csv`` is missing or inconsistent.
    """
    path = Path(path)
    found = read_table(path / "tracks.csv")
    cells_csv = path / "cells.csv"
    cells = found.cells
    if cells_csv.is_file():
        parents = pd.read_csv(cells_csv, usecols=lambda c: c in ("track_id", "parent_track_id"))
        if "parent_track_id" in parents:
            parent = parents.set_index("track_id")["parent_track_id"]
            cells = cells.assign(parent_track_id=cells["track_id"].map(parent).fillna(0).astype(np.int64))
    try:
        given = json.loads((path / "run.json").read_text(encoding="utf-8")).get("input", {})
    except (OSError, ValueError, AttributeError):  # no run.json, or not ours
        given = {}
    field_px = field_px_of(given)
    metadata = {} if field_px is None else {"field_px": field_px}
    return TrackSet(found.tracks, cells, found.pixel_size_um, found.frame_interval_min, found.units_source, path.name, metadata)


def field_px_of(input_info: dict) -> tuple[float, ...] | None:
    """The image's size in pixels from the ``input`` section of a result's ``run.json``: its
    ``field_px`` (tracks), or the movie's ``shape`` without the frame axis; None when neither is there.

    Examples
    --------
    >>> field_px_of({"path": "m.tif", "shape": [40, 256, 384]}), field_px_of({"kind": "tracks", "field_px": None})
    ((256.0, 384.0), None)
    """
    try:
        field = input_info.get("field_px") or list(input_info.get("shape") or [])[1:]
        return tuple(float(n) for n in field) or None
    except (AttributeError, TypeError, ValueError):  # a hand-edited run.json
        return None
