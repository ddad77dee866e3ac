"""Review logic behind the widget: which track was clicked, which calls are doubtful, flips.

Pure functions over the result's tables, so they are tested without a viewer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._layers import track_calls, unit_names

__all__ = ["track_at", "track_near", "doubt_table", "flip_call", "describe_track", "threshold_of"]

#: cells.csv columns shown in the review panel, with a readable label; absent ones are skipped.
_SHOWN = [
    ("leader_score", "leader score", "{:.2f}"),
    ("leader_fraction", "time leading", "{:.0%}"),
    ("mean_speed_um_per_min", "mean speed ({space}/{time})", "{:.2f}"),
    ("persistence", "persistence", "{:.2f}"),
    ("directionality", "directionality", "{:.2f}"),
    ("front_distance_um", "distance behind front ({space})", "{:.1f}"),
    ("n_frames", "frames tracked", "{:d}"),
    ("first_frame", "first frame", "{:d}"),
    ("follows_track_id", "follows track", "{:d}"),
    ("group_size", "group size", "{:d}"),
]


def threshold_of(result: Any, *, default: float = 0.5) -> float:
    """The leader_score threshold the result was classified with (from its run configuration)."""
    config = (result.provenance or {}).get("config", {})
    return float(config.get("classify", {}).get("threshold", default))


def track_at(tracks: pd.DataFrame, *, frame: int, label: int) -> int | None:
    """The track whose nucleus has value ``label`` in the label image at ``frame`` (None: background).

    Examples
    --------
    >>> t = pd.DataFrame({"track_id": [1, 2], "frame": [0, 0], "label": [5, 7]})
    >>> track_at(t, frame=0, label=7), track_at(t, frame=0, label=0)
    (2, None)
    """
    if not label:
        return None
    hit = tracks.loc[(tracks["frame"] == frame) & (tracks["label"] == label), "track_id"]
    return int(hit.iloc[0]) if len(hit) else None


def track_near(tracks: pd.DataFrame, *, frame: int, y: float, x: float, max_distance_px: float) -> int | None:
    """The track whose cell at ``frame`` is nearest to ``(y, x)`` (px), if within ``max_distance_px``.

    For results without a label image (tracks imported from another tracker).

    Examples
    --------
    >>> t = pd.DataFrame({"track_id": [1, 2], "frame": [0, 0], "y": [5.0, 50.0], "x": [5.0, 50.0]})
    >>> track_near(t, frame=0, y=48.0, x=52.0, max_distance_px=5), track_near(t, frame=0, y=30.0, x=30.0, max_distance_px=5)
    (2, None)
    """
    here = tracks[tracks["frame"] == frame]
    if here.empty:
        return None
    distance = np.hypot(here["y"].to_numpy(dtype=float) - y, here["x"].to_numpy(dtype=float) - x)
    nearest = int(np.argmin(distance))
    return int(here["track_id"].iloc[nearest]) if distance[nearest] <= max_distance_px else None


def doubt_table(result: Any, *, threshold: float | None = None) -> pd.DataFrame:
    """Tracks, most doubtful first: sorted by ``|leader_score - threshold|`` ascending.

    Returns
    -------
    pandas.DataFrame
        ``track_id, leader_score, doubt, is_leader`` (the call after corrections) and ``corrected``.
    """
    threshold = threshold_of(result) if threshold is None else threshold
    cells = result.cells
    calls = track_calls(result)
    corrected = set(result.corrections["track_id"].astype(int))
    table = pd.DataFrame(
        {
            "track_id": cells["track_id"].astype(int).to_numpy(),
            "leader_score": cells["leader_score"].astype(float).to_numpy(),
        }
    )
    table["doubt"] = (table["leader_score"] - threshold).abs()
    table["is_leader"] = table["track_id"].map(calls).astype(bool)
    table["corrected"] = table["track_id"].isin(corrected)
    return table.sort_values(["doubt", "track_id"], kind="stable").reset_index(drop=True)


def flip_call(result: Any, track_id: int) -> pd.DataFrame:
    """A one-row corrections table that flips ``track_id`` between leader and follower.

    Pass it to :func:`leadertrack.pipeline.apply_corrections`, which merges it with the earlier
    corrections (a later flip of the same track wins).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> r = SimpleNamespace(cells=pd.DataFrame({"track_id": [1, 2], "is_leader": [True, False]}))
    >>> flip_call(r, 1).to_dict("records")
    [{'track_id': 1, 'is_leader': False}]
    """
    calls = track_calls(result)
    if track_id not in calls.index:
        raise KeyError(f"track {track_id} is not in this result")
    return pd.DataFrame({"track_id": [int(track_id)], "is_leader": [not bool(calls[track_id])]})


def describe_track(result: Any, track_id: int) -> str:
    """A few lines for the review panel: the call, why, and the track's measurements."""
    cells = result.cells.set_index("track_id")
    if track_id not in cells.index:
        return f"Track {track_id}: not in this result."
    cell = cells.loc[track_id]
    calls = track_calls(result)
    call = "leader" if calls[track_id] else "follower"
    corrected = int(track_id) in set(result.corrections["track_id"].astype(int))
    lines = [f"Track {track_id}: {call}" + (" (set by you)" if corrected else "")]
    space, time = unit_names(result)
    if "reason" in cells and isinstance(cell["reason"], str) and cell["reason"]:
        lines.append(f"Why: {cell['reason']}")
    for column, label, fmt in _SHOWN:
        if column not in cells:
            continue
        value = cell[column]
        if pd.isna(value) or (column == "follows_track_id" and not value):
            continue
        if "d}" in fmt:
            value = int(value)
        lines.append(f"{label.format(space=space, time=time)}: {fmt.format(value)}")
    return "\n".join(lines)
