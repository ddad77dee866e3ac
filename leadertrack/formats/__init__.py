"""Bring your own tracks, take results anywhere: readers and writers for tracking formats.

``read_tracks`` reads any supported format into a :class:`TrackSet` (tracks in pixels, units
from the file, divisions as ``parent_track_id``); the writers take the pipeline's
``(tracks, cells)`` tables.

=================  ============================================  =====================================
format             read                                          write
=================  ============================================  =====================================
``table``          CSV/TSV/Parquet ``track_id, frame, y, x``     :func:`write_table`
``result``         a leadertrack result folder (``tracks.csv``)  ``leadertrack.pipeline.write_result``
``trackmate``      TrackMate XML (``.xml``)                      :func:`write_trackmate_xml`
``trackmate_csv``  TrackMate spot table (``.csv``)               (use TrackMate XML)
``geff``           GEFF zarr (``.geff``, ``.zarr``)              :func:`write_geff`
``ctc``            Cell Tracking Challenge folder                ``leadertrack.ctc.write_ctc``
``imaris_mat``     Imaris spots in MATLAB ``.mat``               (read only)
napari             :func:`from_napari_tracks`                    :func:`to_napari_tracks`
=================  ============================================  =====================================
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadertrack.errors import InputError
from leadertrack.formats.trackset import TrackSet

__all__ = [
    "TrackSet",
    "FORMATS",
    "detect_format",
    "read_tracks",
    "write_tracks",
    "read_table",
    "write_table",
    "read_trackmate_xml",
    "read_trackmate_csv",
    "write_trackmate_xml",
    "read_geff",
    "write_geff",
    "read_imaris_mat",
    "read_result_folder",
    "to_napari_tracks",
    "from_napari_tracks",
]

_FUNCTIONS = {
    "read_table": "table",
    "write_table": "table",
    "read_trackmate_xml": "trackmate",
    "read_trackmate_csv": "trackmate",
    "write_trackmate_xml": "trackmate",
    "read_geff": "geff",
    "write_geff": "geff",
    "read_imaris_mat": "imaris_mat",
    "read_result_folder": "table",
    "to_napari_tracks": "napari_tracks",
    "from_napari_tracks": "napari_tracks",
}

#: Format names accepted by ``read_tracks(format=...)``.
FORMATS = ("table", "result", "trackmate", "trackmate_csv", "geff", "ctc", "imaris_mat")
#: Format detection reads at most this much of a file (a hostile file may be one endless line).
_PEEK_CHARS = 1 << 20
_WRITERS = ("table", "trackmate", "geff")


def __getattr__(name: str) -> Any:
    module = _FUNCTIONS.get(name)
    if module is None:
        raise AttributeError(f"module 'leadertrack.formats' has no attribute {name!r}")
    return getattr(importlib.import_module(f"leadertrack.formats.{module}"), name)


def _is_geff(path: Path) -> bool:
    for attrs in (".zattrs", "zarr.json"):
        if (path / attrs).is_file():
            with (path / attrs).open(encoding="utf-8", errors="replace") as handle:
                if '"geff"' in handle.read(_PEEK_CHARS):
                    return True
    return False


def detect_format(path: Path) -> str:
    """The format of ``path``, from its name and a peek at its content.

    Raises
    ------
    InputError
        The path does not exist or its format is not recognised.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "spots.csv"
    >>> _ = p.write_text("LABEL,ID,TRACK_ID,QUALITY,POSITION_X,POSITION_Y,FRAME\\n")
    >>> detect_format(p)
    'trackmate_csv'
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if path.is_dir():
        if suffix in (".geff", ".zarr") or _is_geff(path):
            return "geff"
        if any(path.glob("*_track.txt")) or (path / "TRA" / "man_track.txt").is_file():
            return "ctc"
        if (path / "tracks.csv").is_file():
            return "result"
        raise InputError(
            f"{path}: a folder that is neither a GEFF store, a CTC folder (no res_track.txt / man_track.txt) "
            "nor a leadertrack result (no tracks.csv)"
        )
    if path.name in ("res_track.txt", "man_track.txt"):
        return "ctc"
    if suffix == ".xml":
        return "trackmate"
    if suffix == ".mat":
        return "imaris_mat"
    if suffix in (".parquet", ".pq", ".tsv", ".tab"):
        return "table"
    if suffix == ".csv":
        with path.open(encoding="utf-8", errors="replace") as handle:
            header = handle.readline(_PEEK_CHARS)
        names = {h.strip().strip('"') for h in header.split(",")}
        if "TRACK_ID" in names and "POSITION_X" not in names:
            raise InputError(
                f"{path}: a TrackMate track or edge table, without positions; use the spot table "
                "(Spots > Export to CSV) or save the TrackMate XML"
            )
        return "trackmate_csv" if "TRACK_ID" in names else "table"
    raise InputError(f"{path}: unknown tracks format '{suffix}'; use .csv, .parquet, .xml (TrackMate), .geff, .mat or a CTC folder")


def read_tracks(path: Path, *, format: str | None = None, column_map: dict[str, str] | None = None) -> TrackSet:
    """Read tracks from any supported format.

    Parameters
    ----------
    path
        A tracks table (CSV/TSV/Parquet with ``track_id, frame, y, x[, z]``), a TrackMate XML
        file or CSV spot table, a GEFF store, a Cell Tracking Challenge folder
        (``res_track.txt``/``man_track.txt`` with masks), an Imaris ``.mat`` export, or a
        leadertrack result folder (to classify it again).
    format
        One of :data:`FORMATS`; None = detect from the name and content.
    column_map
        For tables only: ``{name in the file: our name}``, e.g. ``{"particle": "track_id"}``.

    Returns
    -------
    TrackSet
        ``tracks`` (pixels, plus ``y_um``/``x_um``/``time_min`` where the file gives units),
        ``cells`` (``track_id``, ``parent_track_id``), the units and where they came from.

    Raises
    ------
    InputError
        Unknown format, or a file that is unreadable or inconsistent; the message names the file
        and what is wrong.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("track_id,frame,y,x,y_um,x_um\\n1,0,10,10,5,5\\n1,1,12,10,6,5\\n")
    >>> ts = read_tracks(p)
    >>> ts.pixel_size_um, ts.tracks["y"].tolist()
    (0.5, [10.0, 12.0])
    """
    path = Path(path)
    kind = format or detect_format(path)
    if kind not in FORMATS:
        raise InputError(f"{path}: unknown format {kind!r}; choose one of {', '.join(FORMATS)}")
    if column_map and kind != "table":
        raise InputError(f"{path}: a column mapping applies to plain tables, not to {kind} files")
    if kind == "table":
        from leadertrack.formats.table import read_table

        return read_table(path, column_map=column_map)
    if kind == "ctc":
        from leadertrack.formats.ctc_folder import read_ctc_folder

        return read_ctc_folder(path)
    reader = {
        "trackmate": "read_trackmate_xml",
        "trackmate_csv": "read_trackmate_csv",
        "geff": "read_geff",
        "imaris_mat": "read_imaris_mat",
        "result": "read_result_folder",
    }[kind]
    return __getattr__(reader)(path)


def write_tracks(
    tracks: pd.DataFrame,
    cells: pd.DataFrame | None,
    path: Path,
    *,
    format: str | None = None,
    pixel_size_um: float | None = None,
    frame_interval_min: float | None = None,
) -> Path:
    """Write ``(tracks, cells)`` as a table, TrackMate XML or GEFF, chosen by ``format`` or suffix.

    ``.csv``/``.tsv``/``.parquet`` → :func:`write_table`, ``.xml`` → :func:`write_trackmate_xml`,
    ``.geff``/``.zarr`` → :func:`write_geff`. Units are needed by TrackMate XML and GEFF (tables
    carry them in their ``_um``/``_min`` columns); when not given they are those the table shows
    (``y_um`` beside ``y``, ``time_min`` beside ``frame``), none for a run without units. CTC export needs the label masks: use
    ``leadertrack.ctc.write_ctc``.

    Raises
    ------
    InputError
        Unknown format or suffix.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    by_suffix = {".csv": "table", ".tsv": "table", ".parquet": "table", ".pq": "table", ".xml": "trackmate", ".geff": "geff", ".zarr": "geff"}
    kind = format or by_suffix.get(suffix)
    if kind not in _WRITERS:
        raise InputError(f"{path}: cannot write tracks as {kind or suffix!r}; use .csv, .parquet, .xml (TrackMate) or .geff")
    if kind == "table":
        return __getattr__("write_table")(tracks, cells, path)
    # not given: the units the table itself shows (y_um beside y, time_min beside frame), so that columns in
    # µm are not renamed as if in pixels
    pixel_size_um = pixel_size_um or _ratio(tracks, "y_um", "y")
    frame_interval_min = frame_interval_min or _ratio(tracks, "time_min", "frame")
    writer = __getattr__("write_trackmate_xml" if kind == "trackmate" else "write_geff")
    return writer(tracks, cells, path, pixel_size_um=pixel_size_um, frame_interval_min=frame_interval_min)


def _ratio(table: pd.DataFrame, physical: str, raw: str) -> float | None:
    """The unit that ``table[physical] = unit x table[raw]`` shows, when both columns are there and agree on
    one (None otherwise, or when it is 1: the analysis ran without units)."""
    from leadertrack.formats.table import unit_scale

    if physical not in table or raw not in table:
        return None
    try:
        unit = unit_scale(table, raw, physical, source="")
    except InputError:
        return None
    return unit if unit is not None and unit > 0 and not np.isclose(unit, 1.0) else None
