"""Cell Tracking Challenge (CTC) format: ``maskNNN.tif`` label images and ``res_track.txt``.

In the CTC format the value of a cell in ``maskNNN.tif`` is its track id, and each line
``L B E P`` of ``res_track.txt`` gives a track's id, first and last frame, and parent id (0 = no
parent). A CTC track must be present in every frame from B to E, so a track of ours with a gap
is written as several segments, each later segment the child of the one before: the first
segment keeps the track's id, later ones get new ids.

Reading joins such segments back into one track (``read_ctc(..., join_gaps=True)``, the
default, which ``leadertrack classify`` and ``read_tracks`` use): a track with exactly one child
that starts after the track's last frame is the same cell continuing (a division has two
children), so the child's rows take the track's id, along whole chains of segments. A division
of which only one daughter was tracked reads as the mother continuing. Divisions with two or
more children are kept. ``join_gaps=False`` gives the file's segments as they are.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tifffile

from leadertrack.detect import detect_frame
from leadertrack.errors import InputError

__all__ = ["join_gap_segments", "mask_shape", "read_ctc", "write_ctc"]


def _segments(tracks: pd.DataFrame, parent_track_id: dict[int, int] | None) -> tuple[pd.Series, pd.DataFrame]:
    """CTC id of every row of ``tracks`` and the ``L B E P`` table.

    The first gap-free run of a track keeps the track's id; later runs get new ids above the
    largest track id, each the child of the run before it.
    """
    order = tracks.sort_values(["track_id", "frame"], kind="stable")
    frame = order["frame"].to_numpy()
    track = order["track_id"].to_numpy()
    new_run = np.ones(len(order), dtype=bool)
    new_run[1:] = (track[1:] != track[:-1]) | (frame[1:] != frame[:-1] + 1)
    starts_later_run = new_run & np.r_[False, track[1:] == track[:-1]]
    run_ids = np.zeros(len(order), dtype=np.int64)
    next_id = int(track.max()) + 1 if len(track) else 1
    run_ids[starts_later_run] = np.arange(next_id, next_id + int(starts_later_run.sum()))
    run_ids[new_run & ~starts_later_run] = track[new_run & ~starts_later_run]
    run_number = np.cumsum(new_run) - 1
    ctc_id = run_ids[new_run][run_number]
    ids = pd.Series(ctc_id, index=order.index)
    runs = pd.DataFrame({"L": ctc_id, "frame": frame, "track_id": track}).groupby("L", sort=False)
    table = runs.agg(B=("frame", "min"), E=("frame", "max"), track_id=("track_id", "first")).reset_index()
    previous = np.r_[0, table["L"].to_numpy()[:-1]]
    same_track = np.r_[False, table["track_id"].to_numpy()[1:] == table["track_id"].to_numpy()[:-1]]
    table["P"] = np.where(same_track, previous, 0)
    if parent_track_id:
        # A daughter's first run is the child of the parent's last run.
        last_run = table.groupby("track_id")["L"].last()
        first = ~same_track
        parents = table.loc[first, "track_id"].map(parent_track_id)
        known = parents.notna() & parents.isin(last_run.index)
        table.loc[known[known].index, "P"] = last_run.loc[parents[known].astype(np.int64)].to_numpy()
    return ids, table[["L", "B", "E", "P"]]


def write_ctc(
    tracks: pd.DataFrame,
    labels: Any,
    out_dir: Path,
    *,
    parent_track_id: dict[int, int] | None = None,
) -> None:
    """Write tracks in the Cell Tracking Challenge result format.

    Parameters
    ----------
    tracks
        Tracks table with ``track_id``, ``frame`` and ``label`` (the object's value in
        ``labels`` at that frame).
    labels
        (T,Y,X) label stack (array-like, indexed by frame) or a callable ``frame -> 2-D labels``.
        With a callable, frames are written from 0 to the last frame of ``tracks``.
    out_dir
        Folder to create (replaced if it exists) with ``mask000.tif``... (uint16, value = CTC
        track id) and ``res_track.txt``. Written to a temporary folder, then renamed.
    parent_track_id
        Optional ``{daughter track_id: mother track_id}`` for divisions.

    Raises
    ------
    InputError
        When a tracked object is missing from its label image, or there are more than 65535
        track segments (the CTC masks are 16-bit).

    Examples
    --------
    >>> import tempfile
    >>> labels = np.zeros((2, 8, 8), dtype=np.uint32)
    >>> labels[:, 2:4, 2:4] = 5
    >>> tracks = pd.DataFrame({"track_id": [1, 1], "frame": [0, 1], "label": [5, 5]})
    >>> out = Path(tempfile.mkdtemp()) / "01_RES"
    >>> write_ctc(tracks, labels, out)
    >>> (out / "res_track.txt").read_text()
    '1 0 1 0\\n'
    """
    out_dir = Path(out_dir)
    missing = {"track_id", "frame", "label"} - set(tracks.columns)
    if missing:
        raise ValueError(f"tracks lack the column(s) {sorted(missing)}")
    get = labels if callable(labels) else (lambda t: np.asarray(labels[t]))
    n_frames = int(tracks["frame"].max()) + 1 if len(tracks) else 0
    if not callable(labels):
        n_frames = max(n_frames, len(labels))
    ids, table = _segments(tracks, parent_track_id)
    if len(table) and int(table["L"].max()) > np.iinfo(np.uint16).max:
        raise InputError(f"{out_dir}: {len(table)} track segments do not fit the CTC format's 16-bit masks")
    by_frame = dict(tuple(pd.DataFrame({"frame": tracks["frame"], "label": tracks["label"], "id": ids}).groupby("frame")))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        digits = max(3, len(str(n_frames - 1)))
        for t in range(n_frames):
            frame_labels = np.asarray(get(t))
            rows = by_frame.get(t)
            lut = np.zeros(int(frame_labels.max()) + 1, dtype=np.uint16)
            if rows is not None:
                label = rows["label"].to_numpy(dtype=np.int64)
                absent = (label >= lut.size) | (label <= 0)
                present = np.isin(label, np.unique(frame_labels))
                if absent.any() or not present.all():
                    bad = int(label[absent | ~present][0])
                    raise InputError(f"{out_dir}: label {bad} of frame {t} is in the tracks but not in the label image")
                lut[label] = rows["id"].to_numpy()
            tifffile.imwrite(tmp / f"mask{t:0{digits}d}.tif", lut[frame_labels], compression="zlib")
        np.savetxt(tmp / "res_track.txt", table.to_numpy(dtype=np.int64), fmt="%d")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


_MASK = re.compile(r"^(?:mask|man_track)(\d+)\.tiff?$")


def read_ctc(folder: Path, *, join_gaps: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a CTC result folder (``res_track.txt``) or ground-truth folder (``man_track.txt``).

    Parameters
    ----------
    folder
        Folder with ``res_track.txt`` and ``maskNNN.tif``, or ``man_track.txt`` and
        ``man_trackNNN.tif`` (a CTC ``TRA`` folder).
    join_gaps
        Join the segments a gap split a track into (a track's only child, starting after the
        track's last frame) back into one track with the first segment's id; see
        :func:`join_gap_segments`. False: one track per line of the text file.

    Returns
    -------
    tracks : pandas.DataFrame
        ``track_id, frame, label, y, x, area_px``; one row per cell per frame, ``label`` the
        mask value (the CTC segment's id; equal to ``track_id`` except in joined segments).
    cells : pandas.DataFrame
        ``track_id, first_frame, last_frame, parent_track_id`` (0 = no parent), from the text
        file (for a joined track: its first segment's B and parent, its last segment's E).

    Raises
    ------
    InputError
        When files are missing or the text file disagrees with the masks (names the track and frame).
    """
    folder = Path(folder)
    text = next((folder / name for name in ("res_track.txt", "man_track.txt") if (folder / name).is_file()), None)
    if text is None:
        raise InputError(f"{folder}: no res_track.txt or man_track.txt, not a CTC folder")
    try:
        lines = np.loadtxt(text, dtype=np.int64, ndmin=2)
    except ValueError as exc:
        raise InputError(f"{text}: cannot read 'L B E P' lines: {exc}") from exc
    if lines.size and lines.shape[1] != 4:
        raise InputError(f"{text}: expected 4 numbers per line (L B E P), found {lines.shape[1]}")
    cells = pd.DataFrame(lines.reshape(-1, 4), columns=["track_id", "first_frame", "last_frame", "parent_track_id"])
    _check_lines(cells, text)
    masks = sorted(
        (int(match.group(1)), path) for path in folder.iterdir() if (match := _MASK.match(path.name))
    )
    if not masks:
        raise InputError(f"{folder}: no mask*.tif or man_track*.tif images")
    tables = [detect_frame(_read_mask(path), frame=t) for t, path in masks]
    tracks = pd.concat(tables, ignore_index=True)
    tracks.insert(0, "track_id", tracks["label"])
    tracks = tracks.drop(columns="mean_intensity").sort_values(["track_id", "frame"], kind="stable")
    _check_consistent(tracks, cells, text)
    if join_gaps:
        tracks, cells = join_gap_segments(tracks, cells)
    return tracks.reset_index(drop=True), cells


def join_gap_segments(tracks: pd.DataFrame, cells: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join CTC segments that continue a track across a gap into that track.

    A CTC track must be present in every frame from B to E, so a gap splits a track into
    segments, each the only child of the one before (this is how :func:`write_ctc` writes
    gaps). A segment whose parent has no other child and which starts after the parent's last
    frame takes the parent's id, repeatedly along chains; a division (two or more children) is
    kept.

    Parameters
    ----------
    tracks
        ``track_id, frame, ...`` as read from the masks (``label`` is left as it is).
    cells
        ``track_id, first_frame, last_frame, parent_track_id``, one row per CTC segment.

    Returns
    -------
    tracks : pandas.DataFrame
        The rows with ``track_id`` the id of the first segment of their track.
    cells : pandas.DataFrame
        One row per joined track: the first segment's id, B and parent (itself mapped to its
        track), the last segment's E.

    Examples
    --------
    >>> cells = pd.DataFrame({"track_id": [1, 2, 3, 4], "first_frame": [0, 3, 5, 5],
    ...                       "last_frame": [1, 4, 6, 6], "parent_track_id": [0, 1, 2, 2]})
    >>> tracks = pd.DataFrame({"track_id": [1, 2, 3, 4], "frame": [0, 3, 5, 5]})
    >>> tracks, cells = join_gap_segments(tracks, cells)
    >>> tracks["track_id"].tolist(), cells.to_numpy().tolist()
    ([1, 1, 3, 4], [[1, 0, 4, 0], [3, 5, 6, 1], [4, 5, 6, 1]])
    """
    first = _first_segment(cells)
    track = cells["track_id"].map(first)
    last_frame = cells.groupby(track)["last_frame"].max()
    roots = cells[track == cells["track_id"]]
    joined = roots.assign(
        last_frame=roots["track_id"].map(last_frame),
        parent_track_id=roots["parent_track_id"].map(first).fillna(0).astype(np.int64),
    )
    tracks = tracks.assign(track_id=tracks["track_id"].map(first).astype(np.int64))
    return tracks.sort_values(["track_id", "frame"], kind="stable"), joined.reset_index(drop=True)


def _first_segment(cells: pd.DataFrame) -> pd.Series:
    """``{segment id: id of the first segment of its track}`` for every line of ``cells``."""
    ids = cells["track_id"]
    parent = cells["parent_track_id"]
    n_children = parent[parent != 0].value_counts()
    parent_end = parent.map(cells.set_index("track_id")["last_frame"])
    continues = (parent != 0) & parent.map(n_children).eq(1) & (cells["first_frame"] > parent_end)
    up = pd.Series(np.where(continues, parent, ids).astype(np.int64), index=ids.to_numpy())
    while True:  # pointer jumping; B grows along each link, so chains end
        jumped = up.map(up)
        if jumped.equals(up):
            return up
        up = jumped


def mask_shape(folder: Path) -> tuple[int, int]:
    """(height, width) in pixels of the masks of a CTC folder (its first mask), the image's field.

    Raises
    ------
    InputError
        No mask in the folder, or the first cannot be read.
    """
    folder = Path(folder)
    first = min(((int(m.group(1)), path) for path in folder.iterdir() if (m := _MASK.match(path.name))), default=None)
    if first is None:
        raise InputError(f"{folder}: no mask*.tif or man_track*.tif images")
    height, width = _read_mask(first[1]).shape
    return int(height), int(width)


def _check_lines(cells: pd.DataFrame, text: Path) -> None:
    """Raise InputError unless the ``L B E P`` lines are distinct tracks with valid spans and parents."""
    bad = cells[
        (cells["track_id"] < 1)
        | (cells["first_frame"] < 0)
        | (cells["last_frame"] < cells["first_frame"])
        | (cells["parent_track_id"] < 0)
    ]
    if len(bad):
        line = bad.iloc[0]
        raise InputError(f"{text}: line '{' '.join(map(str, line.tolist()))}' needs L ≥ 1, 0 ≤ B ≤ E and P ≥ 0")
    repeated = cells["track_id"][cells["track_id"].duplicated()]
    if len(repeated):
        raise InputError(f"{text}: track {int(repeated.iloc[0])} is listed more than once")
    orphans = cells[(cells["parent_track_id"] != 0) & ~cells["parent_track_id"].isin(cells["track_id"])]
    if len(orphans):
        row = orphans.iloc[0]
        raise InputError(f"{text}: track {int(row['track_id'])} has parent {int(row['parent_track_id'])}, which is not a track in the file")


def _read_mask(path: Path) -> np.ndarray:
    """One CTC mask as a 2-D integer array; InputError naming the file otherwise."""
    try:
        mask = tifffile.imread(path)
    except Exception as exc:  # tifffile raises many types for damaged files
        raise InputError(f"{path}: cannot read the mask ({type(exc).__name__})") from None
    if mask.ndim != 2 or mask.dtype.kind not in "ui":
        raise InputError(f"{path}: a CTC mask must be a 2-D integer image, got shape {mask.shape} and type {mask.dtype}")
    if mask.min(initial=0) < 0:
        raise InputError(f"{path}: a CTC mask must hold 0 (background) or positive track ids")
    return mask


def _check_consistent(tracks: pd.DataFrame, cells: pd.DataFrame, text: Path) -> None:
    """Raise InputError unless each track is in the masks exactly on frames B..E."""
    span = tracks.groupby("track_id")["frame"].agg(["min", "max", "size"])
    listed = cells.set_index("track_id")
    unlisted = span.index.difference(listed.index)
    if len(unlisted):
        track = int(unlisted[0])
        raise InputError(f"{text}: track {track} is in the masks (frame {int(span.loc[track, 'min'])}) but not in the file")
    absent = listed.index.difference(span.index)
    if len(absent):
        raise InputError(f"{text}: track {int(absent[0])} is listed but not in any mask")
    joined = listed.join(span)
    wrong = joined[(joined["min"] != joined["first_frame"]) | (joined["max"] != joined["last_frame"]) | (joined["size"] != joined["last_frame"] - joined["first_frame"] + 1)]
    if len(wrong):
        track, row = int(wrong.index[0]), wrong.iloc[0]
        present = set(tracks.loc[tracks["track_id"] == track, "frame"])
        expected = range(int(row["first_frame"]), int(row["last_frame"]) + 1)
        bad = next((t for t in expected if t not in present), None)
        where = f"missing from frame {bad}" if bad is not None else f"found in frames {int(row['min'])}-{int(row['max'])}"
        raise InputError(
            f"{text}: track {track} spans frames {int(row['first_frame'])}-{int(row['last_frame'])} in the file but is {where} of the masks"
        )
