"""TrackMate (Fiji): read TrackMate XML and CSV spot tables, write TrackMate XML.

TrackMate stores positions in physical units (``spatialunits`` of the model, e.g. µm) and the
pixel size in ``Settings/ImageData``. A TrackMate *track* is a whole lineage (it branches at
divisions); leadertrack splits it into unbranched tracks linked by ``parent_track_id``.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

import defusedxml
import defusedxml.ElementTree as SafeET
import numpy as np
import pandas as pd

from leadertrack.errors import InputError
from leadertrack.atomic import atomic_write
from leadertrack.formats.graph import lineage_ids, parent_map, track_edges, tracks_from_graph
from leadertrack.formats.trackset import (
    TrackSet,
    broadcast_cells,
    check_tracks,
    honest_columns,
    numeric_column,
    split_cells,
    with_physical_columns,
)

__all__ = ["read_trackmate_xml", "read_trackmate_csv", "write_trackmate_xml", "space_unit_um", "time_unit_min"]

_SPACE_UM = {
    "µm": 1.0, "μm": 1.0, "um": 1.0, "micron": 1.0, "microns": 1.0, "micrometer": 1.0, "micrometre": 1.0,
    "nm": 1e-3, "nanometer": 1e-3, "mm": 1e3, "millimeter": 1e3,
}  # fmt: skip
_TIME_MIN = {
    "ms": 1 / 60000, "s": 1 / 60, "sec": 1 / 60, "second": 1 / 60, "seconds": 1 / 60,
    "min": 1.0, "minute": 1.0, "minutes": 1.0, "h": 60.0, "hr": 60.0, "hour": 60.0, "hours": 60.0,
}  # fmt: skip
_POSITIONS = ("POSITION_X", "POSITION_Y", "POSITION_Z")
# Spot attributes that are TrackMate bookkeeping rather than measurements.
_NOT_FEATURES = {"ID", "name", "LABEL", "TRACK_ID", "FRAME", "POSITION_T", "VISIBILITY", "MANUAL_SPOT_COLOR", "parent_track_id"}
_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def space_unit_um(unit: str | None) -> float | None:
    """Micrometres per ``unit`` (``"micron"``, ``"nm"``, ...); None for pixels or unknown units.

    Examples
    --------
    >>> space_unit_um("µm"), space_unit_um("(nm)"), space_unit_um("pixel")
    (1.0, 0.001, None)
    """
    return _SPACE_UM.get((unit or "").strip("() ").lower().replace("μ", "µ"))


def time_unit_min(unit: str | None) -> float | None:
    """Minutes per ``unit`` (``"sec"``, ``"h"``, ...); None for frames or unknown units.

    Examples
    --------
    >>> time_unit_min("sec"), time_unit_min("frame")
    (0.016666666666666666, None)
    """
    return _TIME_MIN.get((unit or "").strip("() ").lower())


@dataclass
class _Model:
    """What leadertrack needs from a TrackMate XML file, gathered in one streaming pass."""

    root: str = ""
    units: dict[str, str] | None = None  # attributes of <Model>; None = no model
    image: dict[str, str] = field(default_factory=dict)
    spots: dict[str, list[float | str | None]] = field(default_factory=dict)  # feature -> value per spot
    n_spots: int = 0
    edges: list[tuple[str | None, str | None, str | None, str | None]] = field(default_factory=list)
    filtered: set[str] | None = None


def _parse(path: Path) -> _Model:
    """Stream through the file (memory follows the spot count, not the size of the XML tree)."""
    model = _Model()
    track: dict[str, str] = {}
    try:
        for event, element in SafeET.iterparse(path, events=("start", "end"), forbid_entities=True, forbid_external=True):
            tag = element.tag
            if event == "start":
                if not model.root:
                    model.root = tag
                elif tag == "Model":
                    model.units = dict(element.attrib)
                elif tag == "Track":
                    track = dict(element.attrib)
                elif tag == "FilteredTracks":
                    model.filtered = set()
                continue
            if tag == "Spot":
                attributes = element.attrib
                attributes.pop("name", None)  # "ID123": a label, not a feature
                for name in attributes.keys() - model.spots.keys():  # first spot with this feature
                    model.spots[name] = [None] * model.n_spots
                for name, values in model.spots.items():
                    values.append(_number(attributes.get(name)))
                model.n_spots += 1
            elif tag == "Edge":
                model.edges.append(
                    (element.get("SPOT_SOURCE_ID"), element.get("SPOT_TARGET_ID"), track.get("TRACK_ID"), track.get("name"))
                )
            elif tag == "TrackID" and model.filtered is not None:
                model.filtered.add(element.get("TRACK_ID"))
            elif tag == "ImageData":
                model.image = dict(element.attrib)
            if tag in ("Spot", "Edge", "SpotsInFrame", "Track", "Log", "Settings", "DisplaySettings"):
                element.clear()
    except defusedxml.DefusedXmlException as exc:
        raise InputError(
            f"{path}: refused to read: the XML declares entities or external references ({exc}); "
            "TrackMate never writes those"
        ) from None
    except ET.ParseError as exc:
        raise InputError(f"{path}: not a well-formed XML file ({exc})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file: {exc}") from None
    return model


def _number(text: str | None) -> float | str | None:
    """A feature value as a float (compact in memory), or the text when it is not a number."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return text


def _float_attr(attributes: dict[str, str], name: str) -> float | None:
    try:
        value = float(attributes[name])
    except (KeyError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def _which_spot(table: pd.DataFrame, row: int) -> str:
    """`` (spot ID)``, or the spot's place in the file when its ID is missing or not a number."""
    spot_id = pd.to_numeric(table["ID"], errors="coerce").iloc[row] if "ID" in table else np.nan
    return f" (spot {spot_id:g})" if np.isfinite(spot_id) else f" (spot number {row + 1} in AllSpots)"


def _spots_table(spots: dict[str, list[float | str | None]], *, source: str) -> pd.DataFrame:
    if not spots:
        raise InputError(f"{source}: the TrackMate model has no spots (AllSpots/SpotsInFrame/Spot)")
    table = pd.DataFrame(spots)
    for feature in ("ID", "FRAME", "POSITION_X", "POSITION_Y"):
        if feature not in table or table[feature].isna().any():
            where = "" if feature not in table else _which_spot(table, int(np.flatnonzero(table[feature].isna())[0]))
            raise InputError(
                f"{source}: spots lack the {feature} feature{where}; TrackMate XML needs ID, FRAME, "
                "POSITION_X and POSITION_Y on every spot"
            )
    for column in table:
        numbers = pd.to_numeric(table[column], errors="coerce")
        if column in ("ID", "FRAME", *_POSITIONS) and (numbers.isna() & table[column].notna()).any():
            bad = table.loc[numbers.isna() & table[column].notna(), column].iloc[0]
            raise InputError(f"{source}: spot feature {column} holds a non-number {bad!r}")
        table[column] = numbers
    for column in ("ID", "FRAME"):
        values = table[column].to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values != np.round(values)) | (np.abs(values) >= 2.0**63)
        if bad.any():
            raise InputError(f"{source}: spot feature {column} must be a whole number below 2**63, found {values[bad][0]:g}")
    if table["ID"].duplicated().any():
        raise InputError(f"{source}: spot ID {int(table.loc[table['ID'].duplicated(), 'ID'].iloc[0])} is used twice")
    return table


def _edges(model: _Model, spot_ids: pd.Index, *, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Spot positions of the edges of visible tracks, and whether each spot is in any track."""
    pairs, visible = [], []
    for spot_source, spot_target, track_id, name in model.edges:
        try:
            pairs.append((int(float(spot_source)), int(float(spot_target))))
        except (TypeError, ValueError):
            raise InputError(
                f"{source}: an edge of track {name or track_id} lacks a numeric SPOT_SOURCE_ID or SPOT_TARGET_ID"
            ) from None
        visible.append(model.filtered is None or track_id in model.filtered)
    try:
        ids = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    except OverflowError:
        raise InputError(f"{source}: an edge names a spot ID too large for a 64-bit integer") from None
    positions = spot_ids.get_indexer(ids.ravel()).reshape(-1, 2)
    if (positions < 0).any():
        raise InputError(f"{source}: an edge names spot {ids[positions < 0][0]}, which is not in AllSpots")
    in_a_track = np.zeros(len(spot_ids), dtype=bool)
    in_a_track[positions.ravel()] = True
    return positions[np.asarray(visible, dtype=bool)], in_a_track


def read_trackmate_xml(path: Path) -> TrackSet:
    """Read tracks from a TrackMate XML file (Fiji: *Save* in the TrackMate window).

    The file is parsed with entity expansion and external references refused (defusedxml), so a
    malicious file cannot read local files or exhaust memory.

    Parameters
    ----------
    path
        A ``.xml`` file with ``<TrackMate><Model>``: spots with ``ID``, ``FRAME``,
        ``POSITION_X``, ``POSITION_Y`` (``POSITION_Z``), and tracks made of ``Edge`` elements.

    Returns
    -------
    TrackSet
        Positions in pixels (physical positions divided by ``ImageData`` ``pixelwidth``), the
        pixel size and frame interval from ``Settings/ImageData`` and the model's units. Only
        tracks in ``FilteredTracks`` are read; spots in no track are skipped (except one-spot
        tracks written by :func:`write_trackmate_xml`). Divisions become
        daughter tracks with ``parent_track_id``. Other numeric spot features (``QUALITY``,
        ``MEAN_INTENSITY_CH1``, ...) become columns; ``track_``-prefixed ones go to ``cells``.
        Tracks are numbered from 1 by first frame, unless the spots carry a ``track_id``
        feature that fits the graph (files written by :func:`write_trackmate_xml`). The image's
        size (``ImageData`` ``width``, ``height``, ``nslices``) goes to ``metadata["field_px"]``,
        so the image border is not mistaken for a front (see :func:`_image_field_px`).

    Raises
    ------
    InputError
        Not XML, entities declared, not a TrackMate file, spots without the needed features,
        edges naming unknown spots, merging tracks.
    """
    path = Path(path)
    source = str(path)
    model = _parse(path)
    if model.root != "TrackMate" or model.units is None:
        raise InputError(f"{source}: not a TrackMate XML file (expected <TrackMate><Model>, found <{model.root}>)")
    spots = _spots_table(model.spots, source=source)
    edges, in_a_track = _edges(model, pd.Index(spots["ID"].astype(np.int64)), source=source)
    # Spots in no track are skipped, except one-spot tracks that leadertrack wrote (with a track_id).
    own_ids = spots["track_id"].to_numpy() if "track_id" in spots else np.zeros(len(spots))
    own_single = ~in_a_track & (own_ids >= 1)
    used = np.union1d(np.unique(edges), np.flatnonzero(own_single))
    if not len(used):
        raise InputError(f"{source}: the TrackMate file has no (visible) tracks: no Edge in AllTracks/Track")
    spots = spots.iloc[used].reset_index(drop=True)
    edges = np.searchsorted(used, edges)
    given = spots["track_id"].to_numpy() if "track_id" in spots else None
    frames = spots["FRAME"].to_numpy(dtype=np.int64)
    tracklet, parents = tracks_from_graph(len(spots), edges, frames, given_ids=given, source=source)

    image = model.image
    um_per_unit = space_unit_um(model.units.get("spatialunits"))
    min_per_unit = time_unit_min(model.units.get("timeunits"))
    pixel_width = _float_attr(image, "pixelwidth") or 1.0
    pixel_height = _float_attr(image, "pixelheight") or pixel_width
    table = pd.DataFrame({"track_id": tracklet, "frame": spots["FRAME"], "parent_track_id": 0})
    table["parent_track_id"] = table["track_id"].map(parents).fillna(0).astype(np.int64)
    is_3d = "POSITION_Z" in spots and (
        (_float_attr(image, "nslices") or 1) > 1 or np.ptp(spots["POSITION_Z"].fillna(0).to_numpy()) > 0
    )
    # z in xy pixels, like every leadertrack table (z_um = z * pixel_size_um), even for thicker slices
    for axis, feature, step in (("z", "POSITION_Z", pixel_width), ("y", "POSITION_Y", pixel_height), ("x", "POSITION_X", pixel_width)):
        if axis != "z" or is_3d:
            table[axis] = spots[feature] / step
    extras = [c for c in spots if c not in _NOT_FEATURES and c not in _POSITIONS and c not in table]
    table = pd.concat([table, spots[extras]], axis=1)
    tracks, cells = split_cells(check_tracks(table, source=source), source=source)

    pixel_size_um = None if um_per_unit is None else pixel_width * um_per_unit
    frame_interval_min = _trackmate_interval(_float_attr(image, "timeinterval"), min_per_unit, spots)
    tracks = with_physical_columns(tracks, pixel_size_um=pixel_size_um, frame_interval_min=frame_interval_min)
    units = f"TrackMate XML: spatialunits={model.units.get('spatialunits')!r}, timeunits={model.units.get('timeunits')!r}"
    if image:
        units += f", ImageData pixelwidth={pixel_width:g}, timeinterval={image.get('timeinterval')}"
    found = TrackSet(tracks, cells, pixel_size_um, frame_interval_min, units, path.stem)
    field_px = _image_field_px(image, tracks, pixel_width)
    try:
        return found if field_px is None else found.with_field(field_px)
    except InputError:  # spots off the image: its size is not the field
        return found


def _image_field_px(image: dict[str, str], tracks: pd.DataFrame, pixel_width: float) -> tuple[float, ...] | None:
    """The image the tracks were found on, in pixels ((z,) y, x; z in xy pixels), from ``ImageData``.

    None when ``ImageData`` gives no size, or when it names no image file and its size is exactly
    the cells' extent (``ceil(max) + 1`` in x and y): the placeholder that
    :func:`write_trackmate_xml` writes when it does not know the image (and older leadertrack
    versions always wrote), which would make the outermost cells look like the image border.
    """
    width, height = _float_attr(image, "width"), _float_attr(image, "height")
    if width is None or height is None or not len(tracks):
        return None
    if not image.get("filename") and (height, width) == _extent_px(tracks)[1:]:
        return None
    if "z" not in tracks:
        return (height, width)
    slices, depth = _float_attr(image, "nslices") or 1.0, _float_attr(image, "voxeldepth") or pixel_width
    return (slices * depth / pixel_width, height, width)


def _extent_px(tracks: pd.DataFrame) -> tuple[int, int, int]:
    """(depth, height, width) of the box from pixel 0 to the farthest cell, ``ceil(max) + 1`` per axis
    (1 for an axis the table lacks, or no cells): the size :func:`write_trackmate_xml` puts in
    ``ImageData`` when it does not know the image."""
    return tuple(int(np.ceil(tracks[axis].max())) + 1 if axis in tracks and len(tracks) else 1 for axis in "zyx")


def _trackmate_interval(timeinterval: float | None, min_per_unit: float | None, spots: pd.DataFrame) -> float | None:
    if min_per_unit is None:
        return None
    if timeinterval is not None:
        return timeinterval * min_per_unit
    if "POSITION_T" in spots:
        moving = spots["FRAME"] > 0
        if moving.any():
            return float(np.median(spots.loc[moving, "POSITION_T"] / spots.loc[moving, "FRAME"])) * min_per_unit
    return None


def read_trackmate_csv(path: Path) -> TrackSet:
    """Read a TrackMate spot table (*Tracks > Spots > Export to CSV*), one row per spot.

    The three extra header rows TrackMate 7 writes (names, short names, units) are skipped; the
    units row gives the spatial and time units. TrackMate counts tracks from 0, so
    ``track_id = TRACK_ID + 1``. Spots in no track are skipped. Positions in physical units are
    converted to µm and read as 1 µm pixels; positions in pixels keep the pixel size unknown.
    The spot table holds no links, so divisions cannot be recovered: a track with two spots in
    one frame is an error (export TrackMate XML instead).

    Raises
    ------
    InputError
        Required columns (``TRACK_ID``, ``FRAME``, ``POSITION_X``, ``POSITION_Y``) missing,
        non-numeric values, or two spots of a track in one frame.
    """
    path = Path(path)
    source = str(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{source}: cannot read the CSV file: {exc}") from None
    missing = [c for c in ("TRACK_ID", "FRAME", "POSITION_X", "POSITION_Y") if c not in raw]
    if missing:
        raise InputError(f"{source}: not a TrackMate spot table: no {', '.join(missing)} column")
    header_rows = 0
    while header_rows < min(3, len(raw)) and pd.isna(pd.to_numeric(raw["FRAME"].iloc[header_rows], errors="coerce")):
        header_rows += 1
    units = raw.iloc[header_rows - 1] if header_rows else pd.Series(dtype=str)
    data = raw.iloc[header_rows:].replace("", np.nan)
    data = data[data["TRACK_ID"].notna()].reset_index(drop=True)
    um_per_unit = space_unit_um(units.get("POSITION_X"))
    table = pd.DataFrame({"track_id": numeric_column(data, "TRACK_ID", source=source, integer=True) + 1})
    table["frame"] = data["FRAME"]
    for axis, feature in (("z", "POSITION_Z"), ("y", "POSITION_Y"), ("x", "POSITION_X")):
        if feature in data:
            table[axis] = numeric_column(data, feature, source=source, integer=False) * (um_per_unit or 1.0)
    if "z" in table and np.ptp(table["z"].to_numpy()) == 0:
        table = table.drop(columns="z")
    for column in data:
        values = pd.to_numeric(data[column], errors="coerce")
        if column not in _NOT_FEATURES and column not in _POSITIONS and values.notna().sum() == data[column].notna().sum():
            table[column] = values
    tracks, cells = split_cells(check_tracks(table, source=source), source=source)
    pixel_size_um = 1.0 if um_per_unit is not None else None
    frame_interval_min = _trackmate_interval(
        None, time_unit_min(units.get("POSITION_T")), data[[c for c in ("FRAME", "POSITION_T") if c in data]].apply(pd.to_numeric)
    )
    tracks = with_physical_columns(tracks, pixel_size_um=pixel_size_um, frame_interval_min=frame_interval_min)
    note = f"TrackMate CSV units row: positions {units.get('POSITION_X') or 'unknown'}, time {units.get('POSITION_T') or 'unknown'}"
    return TrackSet(tracks, cells, pixel_size_um, frame_interval_min, note, path.stem)


_STANDARD_SPOT_FEATURES = (
    ("QUALITY", "Quality", "Quality", "QUALITY", "false"),
    ("POSITION_X", "X", "X", "POSITION", "false"),
    ("POSITION_Y", "Y", "Y", "POSITION", "false"),
    ("POSITION_Z", "Z", "Z", "POSITION", "false"),
    ("POSITION_T", "T", "T", "TIME", "false"),
    ("FRAME", "Frame", "Frame", "NONE", "true"),
    ("RADIUS", "Radius", "R", "LENGTH", "false"),
    ("VISIBILITY", "Visibility", "Visibility", "NONE", "true"),
)
_EDGE_FEATURES = (
    ("SPOT_SOURCE_ID", "Source spot ID", "Source ID", "NONE", "true"),
    ("SPOT_TARGET_ID", "Target spot ID", "Target ID", "NONE", "true"),
    ("LINK_COST", "Edge cost", "Cost", "COST", "false"),
)
_TRACK_FEATURES = (
    ("TRACK_INDEX", "Track index", "Index", "NONE", "true"),
    ("TRACK_ID", "Track ID", "ID", "NONE", "true"),
    ("NUMBER_SPOTS", "Number of spots in track", "N spots", "NONE", "true"),
)
#: Our columns that the standard TrackMate spot features already carry.
_WRITTEN_AS_STANDARD = {"frame", "z", "y", "x", "z_um", "y_um", "x_um", "time_min", "parent_track_id"}


def _text(values: np.ndarray) -> np.ndarray:
    """Numbers as Java-readable text (``NaN``, ``Infinity``)."""
    values = np.asarray(values)
    if values.dtype.kind in "biu":
        return values.astype(np.int64).astype(str)
    text = values.astype(float).astype(str)  # shortest text that reads back to the same number
    text[np.isnan(values)] = "NaN"
    text[np.isposinf(values)] = "Infinity"
    text[np.isneginf(values)] = "-Infinity"
    return text


def write_trackmate_xml(
    tracks: pd.DataFrame,
    cells: pd.DataFrame | None,
    path: Path,
    *,
    pixel_size_um: float | None,
    frame_interval_min: float | None,
    radius_px: float = 5.0,
    field_px: tuple[float, ...] | None = None,
    image_name: str = "",
) -> Path:
    """Write tracks as a TrackMate XML file that Fiji's TrackMate opens (*Load a TrackMate file*).

    Parameters
    ----------
    tracks
        One row per cell per frame (``track_id, frame, y, x[, z]`` in pixels), e.g. the
        pipeline's tracks table. Every numeric or boolean column becomes a spot feature under
        its own name (``is_leader``, ``leader_score_frame``, ``speed_um_per_min``, ...); text
        columns (``role``) are left out, since TrackMate features are numbers.
    cells
        One row per track; ``parent_track_id`` links a daughter to its mother (a TrackMate
        track is the whole lineage), numeric per-track columns become spot features prefixed
        ``track_`` (``track_leader_score``, ``track_is_leader``). None = no divisions.
    path
        The ``.xml`` file to write (atomically).
    pixel_size_um, frame_interval_min
        Units. With a pixel size, positions are written in µm (``spatialunits="µm"``) and the
        pixel size goes to ``ImageData``; without, in pixels, and columns that would claim µm are
        renamed (``speed_um_per_min`` → ``speed_px_per_min``). Likewise for time.
    radius_px
        Spot radius when the table has neither ``RADIUS`` (read from TrackMate) nor ``area_px``.
    field_px, image_name
        The image the tracks were found on: its size in pixels ((z,) y, x; z in xy pixels) and
        file name, written to ``ImageData`` (TrackMate opens a blank image of that size when the
        file is not beside the XML). :func:`read_trackmate_xml` takes the size for the field, so
        the image border is not mistaken for a front. Without ``field_px``, ``ImageData`` holds
        the cells' extent and no file name, which the reader does not take for the field.

    Notes
    -----
    Tracks of a single spot without parent or daughters have no edge, so TrackMate sees them as
    spots outside any track; :func:`read_trackmate_xml` recognises them by their ``track_id``.
    """
    path = Path(path)
    tracks = tracks.sort_values(["track_id", "frame"], kind="stable").reset_index(drop=True)
    parents = parent_map(cells)
    table = broadcast_cells(tracks, cells) if cells is not None else tracks
    table = table.drop(columns=[c for c in _WRITTEN_AS_STANDARD if c in table])
    table = honest_columns(table, pixel_size_um=pixel_size_um, frame_interval_min=frame_interval_min)
    scale = pixel_size_um or 1.0
    positions = {"POSITION_X": tracks["x"] * scale, "POSITION_Y": tracks["y"] * scale}
    positions["POSITION_Z"] = tracks["z"] * scale if "z" in tracks else pd.Series(0.0, index=tracks.index)
    if "RADIUS" in tracks:  # read from TrackMate before
        radius = tracks["RADIUS"].astype(float)
    elif "area_px" in tracks:
        radius = np.sqrt(tracks["area_px"].astype(float) / np.pi) * scale
    else:
        radius = pd.Series(radius_px * scale, index=tracks.index)
    features = {
        "ID": np.arange(len(tracks)),
        "QUALITY": tracks["QUALITY"].to_numpy(dtype=float) if "QUALITY" in tracks else np.ones(len(tracks)),
        **{k: v.to_numpy(dtype=float) for k, v in positions.items()},
        "POSITION_T": tracks["frame"].to_numpy(dtype=float) * (frame_interval_min or 1.0),
        "FRAME": tracks["frame"].to_numpy(dtype=np.int64),
        "RADIUS": radius.to_numpy(dtype=float),
        "VISIBILITY": np.ones(len(tracks), dtype=np.int64),
    }
    extra = [
        c for c in table
        if c not in features and _XML_NAME.match(str(c))
        and (pd.api.types.is_numeric_dtype(table[c]) or pd.api.types.is_bool_dtype(table[c]))
    ]  # fmt: skip
    for column in extra:
        values = table[column].to_numpy()
        if values.dtype.kind not in "biuf":  # pandas nullable dtypes
            values = table[column].astype(float).to_numpy()
        features[column] = values.astype(np.int64) if values.dtype.kind == "b" else values
    text = {key: _text(values) for key, values in features.items()}

    # The document is assembled as text, a column at a time: ElementTree needs ~10 s for 100k
    # spots. Every value is a number or a name checked against _XML_NAME, so nothing needs escaping.
    keys = [k for k in text if k != "ID"]
    template = '      <Spot ID="{0}" name="ID{0}" ' + " ".join(f'{k}="{{{i}}}"' for i, k in enumerate(keys, 1)) + " />"
    spot_lines = np.array([template.format(*row) for row in zip(*(text[k].tolist() for k in ("ID", *keys)))], dtype=object)
    frames = features["FRAME"]
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<TrackMate version="7.11.1">',
        "  <Log>Written by leadertrack.</Log>",
        f'  <Model spatialunits="{"µm" if pixel_size_um else "pixel"}" timeunits="{"min" if frame_interval_min else "frame"}">',
        "    <FeatureDeclarations>",
    ]
    kinds = {c: "true" if features[c].dtype.kind in "biu" else "false" for c in extra}
    declarations = (
        ("SpotFeatures", [*_STANDARD_SPOT_FEATURES, *((c, c, c, "NONE", kinds[c]) for c in extra)]),
        ("EdgeFeatures", _EDGE_FEATURES),
        ("TrackFeatures", _TRACK_FEATURES),
    )
    for tag, declared in declarations:
        lines.append(f"      <{tag}>")
        lines += [
            f'        <Feature feature="{key}" name="{name}" shortname="{short}" dimension="{dimension}" isint="{isint}" />'
            for key, name, short, dimension, isint in declared
        ]
        lines.append(f"      </{tag}>")
    lines += ["    </FeatureDeclarations>", f'    <AllSpots nspots="{len(tracks)}">']
    order = np.argsort(frames, kind="stable")
    starts = np.flatnonzero(np.r_[True, frames[order][1:] != frames[order][:-1]])
    for start, stop in zip(starts, np.r_[starts[1:], len(order)]):
        lines.append(f'    <SpotsInFrame frame="{frames[order[start]]}">')
        lines += spot_lines[order[start:stop]].tolist()
        lines.append("    </SpotsInFrame>")
    lines += ["    </AllSpots>", "    <AllTracks>"]

    edges = track_edges(tracks, parents)
    lineage = lineage_ids(tracks["track_id"].to_numpy(), parents)
    edge_lineage = lineage.loc[tracks["track_id"].to_numpy()[edges[:, 0]]].to_numpy()
    edge_lines = np.array(
        [f'        <Edge SPOT_SOURCE_ID="{a}" SPOT_TARGET_ID="{b}" LINK_COST="0.0" />' for a, b in edges.tolist()], dtype=object
    )
    roots, edge_track = np.unique(edge_lineage, return_inverse=True)
    by_track = np.argsort(edge_track, kind="stable")
    bounds = np.searchsorted(edge_track[by_track], np.arange(len(roots) + 1))
    for index in range(len(roots)):
        mine = by_track[bounds[index] : bounds[index + 1]]
        n_spots = len(np.unique(edges[mine]))
        lines.append(f'      <Track name="Track_{index}" TRACK_ID="{index}" TRACK_INDEX="{index}" NUMBER_SPOTS="{n_spots}">')
        lines += edge_lines[mine].tolist()
        lines.append("      </Track>")
    lines += ["    </AllTracks>", "    <FilteredTracks>"]
    lines += [f'      <TrackID TRACK_ID="{index}" />' for index in range(len(roots))]
    lines += ["    </FilteredTracks>", "  </Model>"]

    if field_px is not None:
        *depth, height, width = (int(np.ceil(n)) for n in field_px)
        depth = depth[0] if depth else 1
    else:  # the cells' extent, a placeholder: no image is named, so readers do not take it for the field
        depth, height, width = _extent_px(tracks)
        image_name = ""
    n_frames = int(frames.max()) + 1 if len(tracks) else 1
    lines += [
        "  <Settings>",
        f'    <ImageData filename={quoteattr(image_name)} folder="" width="{width}" height="{height}" nslices="{depth}" nframes="{n_frames}" '
        f'pixelwidth="{scale!r}" pixelheight="{scale!r}" voxeldepth="{scale!r}" timeinterval="{float(frame_interval_min or 1.0)!r}" />',
        f'    <BasicSettings xstart="0" xend="{width - 1}" ystart="0" yend="{height - 1}" zstart="0" zend="{depth - 1}" '
        f'tstart="0" tend="{n_frames - 1}" />',
        '    <InitialSpotFilter feature="QUALITY" value="0.0" isabove="true" />',
        "    <SpotFilterCollection />",
        "    <TrackFilterCollection />",
        "    <AnalyzerCollection>",
        "      <SpotAnalyzers />",
        "      <EdgeAnalyzers />",
        "      <TrackAnalyzers />",
        "    </AnalyzerCollection>",
        "  </Settings>",
        '  <GUIState state="ConfigureViews" />',
        "</TrackMate>",
        "",
    ]
    document = "\n".join(lines)
    return atomic_write(path, lambda tmp: tmp.write_text(document, encoding="utf-8"))
