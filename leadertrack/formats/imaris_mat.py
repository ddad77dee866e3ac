"""Imaris spot exports saved as MATLAB files (the spheroid invasion tracks of Richards et al. 2018)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io

from leadertrack.errors import InputError
from leadertrack.formats.trackset import TrackSet, cells_from_tracks, check_tracks, with_physical_columns

__all__ = ["read_imaris_mat", "IMARIS_TRACK_OFFSET"]

#: Imaris numbers tracks from 1000000000.
IMARIS_TRACK_OFFSET = 1_000_000_000


def _scalar(mat: dict, key: str, *, source: str) -> float:
    try:
        return float(np.asarray(mat[key], dtype=float).ravel()[0])
    except (KeyError, IndexError, ValueError, TypeError):
        raise InputError(f"{source}: no numeric '{key}' variable in the MATLAB file") from None


def read_imaris_mat(path: Path) -> TrackSet:
    """Read 3-D tracks from an Imaris export saved as a MATLAB v5 ``.mat`` file.

    Expected variables: ``data_sPos`` with one row per spot and columns x, y, z (µm), three
    unused, frame (1-based), track id (Imaris numbering from 1e9) and spot id; ``DT``, the
    frame interval in hours. Optional ``centrePosXYZ`` (µm) and ``eventHorizon`` (µm) describe
    the spheroid and go to ``metadata`` as ``centre_um`` (z, y, x) and ``radius_um``.

    Returns
    -------
    TrackSet
        3-D tracks with ``z, y, x`` in µm read as 1 µm pixels (``pixel_size_um = 1``),
        ``frame`` from 0 (Imaris frame − 1), ``track_id`` = Imaris id − 1e9 + 1, the Imaris spot
        id as ``spot_id``, and ``frame_interval_min = 60 * DT``.

    Raises
    ------
    InputError
        Not a MATLAB file, or ``data_sPos``/``DT`` missing or malformed.
    """
    path = Path(path)
    source = str(path)
    try:
        with path.open("rb") as handle:
            header = handle.read(6)
        if header != b"MATLAB":  # v4 files have no header, and scipy trusts their sizes blindly
            raise InputError(f"{source}: not a MATLAB v5/v7 file (no 'MATLAB' header); save it with MATLAB's -v7 option")
        mat = scipy.io.loadmat(path)
    except (OSError, ValueError, NotImplementedError, scipy.io.matlab.MatReadError) as exc:
        raise InputError(f"{source}: cannot read the MATLAB file: {exc}") from None
    spots = np.asarray(mat.get("data_sPos", np.empty((0, 0))))
    if spots.ndim != 2 or spots.shape[1] < 8 or not len(spots):
        raise InputError(f"{source}: no 'data_sPos' spot table with ≥ 8 columns (x, y, z, 3 unused, frame, track id)")
    frame_interval_min = 60.0 * _scalar(mat, "DT", source=source)
    table = pd.DataFrame(
        {
            "track_id": spots[:, 7] - IMARIS_TRACK_OFFSET + 1,
            "frame": spots[:, 6] - 1,
            "z": spots[:, 2],
            "y": spots[:, 1],
            "x": spots[:, 0],
        }
    )
    if spots.shape[1] > 8:
        spot_id = spots[:, 8]
        table["spot_id"] = spot_id.astype(np.int64) if np.isfinite(spot_id).all() else spot_id
    tracks = with_physical_columns(check_tracks(table, source=source), pixel_size_um=1.0, frame_interval_min=frame_interval_min)
    metadata = {}
    if "centrePosXYZ" in mat:
        x, y, z = np.asarray(mat["centrePosXYZ"], dtype=float).ravel()[:3]
        metadata["centre_um"] = (z, y, x)
    if "eventHorizon" in mat:
        metadata["radius_um"] = _scalar(mat, "eventHorizon", source=source)
    return TrackSet(
        tracks=tracks,
        cells=cells_from_tracks(tracks),
        pixel_size_um=1.0,
        frame_interval_min=frame_interval_min,
        units_source=f"Imaris .mat: positions in µm, DT = {frame_interval_min / 60:g} h",
        name=path.stem,
        metadata=metadata,
    )
