"""The in-memory result of reading tracks from any format, and the checks every reader shares."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from leadertrack.errors import InputError
from leadertrack.units import honest_column_names

__all__ = [
    "TrackSet",
    "check_tracks",
    "numeric_column",
    "cells_from_tracks",
    "with_physical_columns",
    "broadcast_cells",
    "split_cells",
    "TRACK_PREFIX",
    "honest_columns",
    "MAX_POSITION_PX",
]

#: Per-track (``cells``) columns travel inside per-node formats (GEFF, TrackMate, CSV) as
#: per-row columns with this prefix: ``leader_score`` becomes ``track_leader_score``.
TRACK_PREFIX = "track_"

_AXES = ("z", "y", "x")
#: Positions further than this from the origin are refused: squared distances would overflow.
MAX_POSITION_PX = 1e9


@dataclass(frozen=True)
class TrackSet:
    """Tracks read from a file, with the units the file declared.

    Attributes
    ----------
    tracks
        One row per cell per frame, sorted by ``track_id, frame``: ``track_id`` (int ≥ 1),
        ``frame`` (int ≥ 0), ``y``, ``x`` (``z``) in pixels (``z`` in units of the xy pixel, so
        ``z_um = z * pixel_size_um`` also for thick slices), plus ``y_um``, ``x_um`` (``z_um``)
        when the pixel size is known and ``time_min`` when the frame interval is known, plus
        every further per-row column the file held.
    cells
        One row per track: ``track_id``, ``parent_track_id`` (0 = no parent; divisions are
        kept), plus per-track columns the file held.
    pixel_size_um
        Pixel size in µm, or None when the file is in pixels without a calibration. Files that
        store positions in µm without a pixel grid (TrackMate CSV, Imaris) read as 1 µm pixels.
    frame_interval_min
        Time between frames in minutes, or None when unknown.
    units_source
        Where the units came from, in words (for run.json and warnings).
    name
        A short name for the data set (the file stem).
    metadata
        Format-specific extras: ``field_px``, the size of the image the tracks were found on in
        pixels ((z,) y, x; z in xy pixels), when the file gives it (TrackMate XML, CTC masks, a
        leadertrack result), so the image border is not mistaken for a front; ``centre_um``
        (z, y, x) and ``radius_um`` of a spheroid (Imaris).
    """

    tracks: pd.DataFrame
    cells: pd.DataFrame
    pixel_size_um: float | None
    frame_interval_min: float | None
    units_source: str
    name: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def ndim(self) -> int:
        """Number of spatial dimensions (2 or 3)."""
        return 3 if "z" in self.tracks else 2

    def with_units(self, *, pixel_size_um: float | None = None, frame_interval_min: float | None = None) -> TrackSet:
        """Return a copy with the given units overriding the file's (None keeps the file's).

        Physical columns (``y_um``, ``x_um``, ``z_um``, ``time_min``) are recomputed from the
        pixel coordinates and frame numbers, and so are a spheroid's ``centre_um`` and
        ``radius_um`` in ``metadata`` when the file's pixel size was known.

        Examples
        --------
        >>> t = pd.DataFrame({"track_id": [1, 1], "frame": [0, 1], "y": [0.0, 2.0], "x": [1.0, 1.0]})
        >>> ts = TrackSet(t, cells_from_tracks(t), None, None, "none", "demo")
        >>> ts.with_units(pixel_size_um=0.5, frame_interval_min=10).tracks["y_um"].tolist()
        [0.0, 1.0]
        """
        pixel = self.pixel_size_um if pixel_size_um is None else pixel_size_um
        interval = self.frame_interval_min if frame_interval_min is None else frame_interval_min
        overridden = [n for n, v in (("pixel size", pixel_size_um), ("frame interval", frame_interval_min)) if v]
        source = self.units_source + (f"; {' and '.join(overridden)} given by the user" if overridden else "")
        tracks = with_physical_columns(self.tracks, pixel_size_um=pixel, frame_interval_min=interval)
        metadata = dict(self.metadata)
        if self.pixel_size_um and pixel and pixel != self.pixel_size_um:  # µm values on the file's pixel grid
            scale = pixel / self.pixel_size_um
            if "centre_um" in metadata:
                metadata["centre_um"] = tuple(scale * float(c) for c in metadata["centre_um"])
            if "radius_um" in metadata:
                metadata["radius_um"] = scale * float(metadata["radius_um"])
        return replace(
            self, tracks=tracks, pixel_size_um=pixel, frame_interval_min=interval, units_source=source, metadata=metadata
        )

    def with_field(self, field_px: tuple[float, ...]) -> TrackSet:
        """Return a copy that knows the size of the image the tracks were found on.

        Parameters
        ----------
        field_px
            (height, width), or (depth, height, width) for 3-D tracks, in pixels (depth in xy
            pixels, as ``z``). With it the image border is not taken for a front.

        Raises
        ------
        InputError
            Not one positive size per axis, or cells outside that image.

        Examples
        --------
        >>> t = pd.DataFrame({"track_id": [1, 1], "frame": [0, 1], "y": [0.0, 2.0], "x": [1.0, 1.0]})
        >>> TrackSet(t, cells_from_tracks(t), None, None, "none", "demo").with_field((64, 32)).metadata
        {'field_px': (64.0, 32.0)}
        """
        axes = list(_AXES[-self.ndim :])
        try:
            field = tuple(float(n) for n in field_px)
        except (TypeError, ValueError):
            raise InputError(f"{self.name}: the image size must be numbers, got {field_px!r}") from None
        if len(field) != self.ndim or not all(np.isfinite(n) and n > 0 for n in field):
            raise InputError(
                f"{self.name}: the image size needs one positive number per axis ({', '.join(axes)}) in pixels, got {field_px!r}"
            )
        positions = self.tracks[axes].to_numpy(float)
        outside = ((positions < -1.0) | (positions > np.array(field))).any(axis=1)  # centroids lie within 0..n-1
        if outside.any():
            row = self.tracks[outside].iloc[0]
            raise InputError(
                f"{self.name}: {int(outside.sum())} positions lie outside an image of {' x '.join(f'{n:g}' for n in field)} "
                f"pixels ({', '.join(axes)}), e.g. track {int(row['track_id'])} in frame {int(row['frame'])}; "
                "is the size in pixels and in this order?"
            )
        return replace(self, metadata={**self.metadata, "field_px": field})


def with_physical_columns(
    tracks: pd.DataFrame, *, pixel_size_um: float | None, frame_interval_min: float | None
) -> pd.DataFrame:
    """Return ``tracks`` with ``y_um``/``x_um``/``z_um`` and ``time_min`` set from the known units.

    Columns whose unit is unknown (None) are left as they are.

    Examples
    --------
    >>> t = pd.DataFrame({"frame": [0, 3], "y": [2.0, 4.0], "x": [0.0, 1.0]})
    >>> with_physical_columns(t, pixel_size_um=0.5, frame_interval_min=None).columns.tolist()
    ['frame', 'y', 'x', 'y_um', 'x_um']
    """
    out = tracks.copy()
    if pixel_size_um is not None:
        for axis in _AXES:
            if axis in out:
                out[f"{axis}_um"] = out[axis].astype(float) * pixel_size_um
    if frame_interval_min is not None:
        out["time_min"] = out["frame"].astype(float) * frame_interval_min
    return out


def honest_columns(table: pd.DataFrame, *, pixel_size_um: float | None, frame_interval_min: float | None) -> pd.DataFrame:
    """Rename ``_um``/``_min`` columns to ``_px``/``_frame`` when that unit is unknown (None).

    Uncalibrated results are computed at 1 µm per pixel and 1 min per frame; files written
    without units must not claim them (see :func:`leadertrack.units.honest_column_names`).

    Examples
    --------
    >>> t = pd.DataFrame({"speed_um_per_min": [1.0], "leader_score": [0.5]})
    >>> honest_columns(t, pixel_size_um=None, frame_interval_min=2.0).columns.tolist()
    ['speed_px_per_min', 'leader_score']
    """
    mapping = honest_column_names(
        [str(c) for c in table.columns],
        space_calibrated=pixel_size_um is not None,
        time_calibrated=frame_interval_min is not None,
    )
    return table.rename(columns=mapping)


def numeric_column(table: pd.DataFrame, column: str, *, source: str, integer: bool) -> pd.Series:
    """``table[column]`` as finite numbers (int64 when ``integer``); InputError naming the first bad row."""
    raw = table[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{source}: column '{column}' holds a non-number {raw.iloc[row]!r} in data row {row + 1}")
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise InputError(f"{source}: column '{column}' is empty in data row {row + 1}")
    as_float = values.to_numpy(dtype=float)
    infinite = ~np.isfinite(as_float)
    if infinite.any():
        row = int(np.flatnonzero(infinite)[0])
        raise InputError(f"{source}: column '{column}' must hold finite numbers; data row {row + 1} has {as_float[row]}")
    if integer:
        fractional = as_float != np.round(as_float)
        if fractional.any():
            row = int(np.flatnonzero(fractional)[0])
            raise InputError(f"{source}: column '{column}' must hold whole numbers; data row {row + 1} has {as_float[row]}")
        huge = np.abs(as_float) >= 2.0**63
        if huge.any():
            row = int(np.flatnonzero(huge)[0])
            raise InputError(f"{source}: column '{column}' holds a number too large for a 64-bit integer in data row {row + 1}")
        return values.astype(np.int64)
    return values.astype(float)


def check_tracks(table: pd.DataFrame, *, source: str) -> pd.DataFrame:
    """Validate a tracks table and return it cleaned: typed, sorted by ``track_id, frame``.

    Parameters
    ----------
    table
        Needs ``track_id``, ``frame``, ``y`` and ``x`` (``z`` optional).
    source
        The file the table came from; every error message starts with it.

    Returns
    -------
    pandas.DataFrame
        ``track_id`` and ``frame`` as int64, coordinates as float, other columns unchanged.
        Track ids that start at 0 (trackpy's ``particle``, TrackMate's ``TRACK_ID``) are
        shifted by +1, with a warning, because 0 means "no parent" in leadertrack.

    Raises
    ------
    InputError
        A required column is missing, holds non-numbers or blanks, frames are negative or
        fractional, or a track has two rows in one frame.

    Examples
    --------
    >>> t = pd.DataFrame({"track_id": [2, 1], "frame": [0, 0], "y": [1, 2], "x": ["3", 4]})
    >>> check_tracks(t, source="demo.csv")[["track_id", "x"]].to_numpy().tolist()
    [[1.0, 4.0], [2.0, 3.0]]
    """
    required = ["track_id", "frame", "y", "x"]
    missing = [c for c in required if c not in table]
    if missing:
        found = ", ".join(map(str, table.columns)) or "none"
        raise InputError(
            f"{source}: no {' or '.join(repr(c) for c in missing)} column (columns found: {found}); "
            "name them with a column mapping: --column particle=track_id on the command line, "
            "column_map={'particle': 'track_id'} in Python"
        )
    out = table.reset_index(drop=True).copy()
    out["track_id"] = numeric_column(out, "track_id", source=source, integer=True)
    out["frame"] = numeric_column(out, "frame", source=source, integer=True)
    for axis in _AXES:
        if axis in out:
            out[axis] = numeric_column(out, axis, source=source, integer=False)
            far = np.abs(out[axis].to_numpy()) > MAX_POSITION_PX
            if far.any():
                row = int(np.flatnonzero(far)[0])
                raise InputError(
                    f"{source}: column '{axis}' holds {out[axis].iloc[row]:g} in data row {row + 1}, beyond "
                    f"±{MAX_POSITION_PX:g} pixels; not an image position"
                )
    if (out["frame"] < 0).any():
        row = int(np.flatnonzero(out["frame"].to_numpy() < 0)[0])
        raise InputError(f"{source}: frame numbers must be ≥ 0; data row {row + 1} has {out['frame'].iloc[row]}")
    if (out["track_id"] < 0).any():
        row = int(np.flatnonzero(out["track_id"].to_numpy() < 0)[0])
        raise InputError(f"{source}: track ids must be ≥ 0; data row {row + 1} has {out['track_id'].iloc[row]}")
    if (out["track_id"] == 0).any():
        if "parent_track_id" in out:
            raise InputError(f"{source}: track_id 0 is not allowed when parent_track_id is given (0 means no parent)")
        warnings.warn(f"{source}: track ids start at 0; added 1 to every track id so that all are ≥ 1", stacklevel=3)
        out["track_id"] += 1
    duplicated = out.duplicated(["track_id", "frame"], keep=False)
    if duplicated.any():
        rows = np.flatnonzero(duplicated.to_numpy())
        track, frame = out.loc[rows[0], ["track_id", "frame"]]
        raise InputError(
            f"{source}: track {track} has {int(((out['track_id'] == track) & (out['frame'] == frame)).sum())} rows "
            f"in frame {frame} (data rows {', '.join(str(r + 1) for r in rows[:2])}); each track may have one "
            "position per frame (divisions must be separate tracks with a parent_track_id)"
        )
    first = ["track_id", "frame", *(a for a in _AXES if a in out)]
    out = out[first + [c for c in out if c not in first]]
    return out.sort_values(["track_id", "frame"], kind="stable").reset_index(drop=True)


def cells_from_tracks(tracks: pd.DataFrame, parents: dict[int, int] | None = None) -> pd.DataFrame:
    """One row per track: ``track_id`` and ``parent_track_id`` (0 = none).

    Examples
    --------
    >>> t = pd.DataFrame({"track_id": [1, 1, 2, 3], "frame": [0, 1, 2, 2]})
    >>> cells_from_tracks(t, {2: 1, 3: 1}).to_numpy().tolist()
    [[1, 0], [2, 1], [3, 1]]
    """
    ids = np.unique(tracks["track_id"].to_numpy()).astype(np.int64)
    parents = parents or {}
    parent = np.array([parents.get(int(t), 0) for t in ids], dtype=np.int64)
    unknown = ~np.isin(parent, ids) & (parent != 0)
    if unknown.any():
        raise InputError(f"track {ids[unknown][0]} has parent {parent[unknown][0]}, which is not a track in the data")
    return pd.DataFrame({"track_id": ids, "parent_track_id": parent})


def broadcast_cells(tracks: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Copy per-track columns onto every row of that track, prefixed ``track_``.

    ``parent_track_id`` keeps its name. This is how per-track results (``leader_score``,
    ``is_leader``, ``reason``) travel inside per-node formats; :func:`split_cells` undoes it.

    Examples
    --------
    >>> t = pd.DataFrame({"track_id": [1, 1, 2], "frame": [0, 1, 0], "is_leader": [True, False, False]})
    >>> c = pd.DataFrame({"track_id": [1, 2], "parent_track_id": [0, 0], "is_leader": [True, False]})
    >>> broadcast_cells(t, c).columns.tolist()
    ['track_id', 'frame', 'is_leader', 'parent_track_id', 'track_is_leader']
    """
    per_track = cells.rename(columns={c: f"{TRACK_PREFIX}{c}" for c in cells if c not in ("track_id", "parent_track_id")})
    per_track = per_track.drop(columns=[c for c in per_track if c in tracks and c != "track_id"])
    return tracks.merge(per_track, on="track_id", how="left", validate="many_to_one")


def split_cells(table: pd.DataFrame, *, source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a checked tracks table into ``(tracks, cells)``, undoing :func:`broadcast_cells`.

    ``parent_track_id`` and ``track_``-prefixed columns move to ``cells`` (prefix removed).

    Raises
    ------
    InputError
        ``parent_track_id`` differs between rows of one track, or names a track not in the data.
    """
    moved = [c for c in table if c.startswith(TRACK_PREFIX) and c != "track_id"]
    parents: dict[int, int] = {}
    if "parent_track_id" in table:
        pid = numeric_column(table.fillna({"parent_track_id": 0}), "parent_track_id", source=source, integer=True)
        varies = pid.groupby(table["track_id"]).nunique() > 1
        if varies.any():
            raise InputError(f"{source}: parent_track_id changes within track {varies.index[varies][0]}")
        first = pid.groupby(table["track_id"]).first()
        parents = {int(t): int(p) for t, p in first.items() if p}
        moved.append("parent_track_id")
    try:
        cells = cells_from_tracks(table, parents)
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None
    extra = [c for c in moved if c != "parent_track_id"]
    if extra:
        firsts = table.groupby("track_id", sort=True)[extra].first().reset_index()
        firsts = firsts.rename(columns={c: c[len(TRACK_PREFIX):] for c in extra})
        cells = cells.merge(firsts, on="track_id", how="left")
    return table.drop(columns=moved), cells
