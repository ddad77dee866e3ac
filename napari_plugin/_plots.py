"""The plots a scientist looks at: speed vs distance to the front, front advance, leader headings.

Drawn with matplotlib onto a given :class:`~matplotlib.figure.Figure` (no Qt here; the widget
puts the figure in a dock).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._layers import track_calls, unit_names

__all__ = ["leader_headings_rad", "draw_result_plots", "highlight_track"]

_LEADER = "#ff8000"
_FOLLOWER = "#7399cc"
_SELECTED = "#00b3cc"
_HIGHLIGHT = "selected track"
MAX_FOLLOWER_POINTS = 50_000


def leader_headings_rad(tracks: pd.DataFrame, leader_ids: np.ndarray) -> np.ndarray:
    """Heading of each leader cell-frame, in radians counter-clockwise from the image's +x axis.

    Image rows grow downwards, so ``-vy`` points up on screen. Frames without motion are skipped.

    Examples
    --------
    >>> t = pd.DataFrame({"track_id": [1, 1], "vy_um_per_min": [-1.0, 0.0], "vx_um_per_min": [0.0, 0.0]})
    >>> leader_headings_rad(t, np.array([1])).round(3)
    array([1.571])
    """
    rows = tracks[tracks["track_id"].isin(leader_ids)]
    vy = rows["vy_um_per_min"].to_numpy(dtype=float)
    vx = rows["vx_um_per_min"].to_numpy(dtype=float)
    moving = np.isfinite(vy) & np.isfinite(vx) & (np.hypot(vy, vx) > 0)
    return np.arctan2(-vy[moving], vx[moving])


def draw_result_plots(figure: Figure, result: Any, *, track_id: int | None = None) -> None:
    """Clear ``figure`` and draw the three review plots for ``result``.

    Parameters
    ----------
    figure
        The figure to draw on (three axes are created, left to right).
    result
        A :class:`~leadertrack.pipeline.MovieResult`.
    track_id
        A selected track, highlighted in the speed plot (see :func:`highlight_track`).
    """
    figure.clear()
    tracks = result.tracks
    calls = track_calls(result)
    leader_ids = calls.index[calls.to_numpy()].to_numpy()
    is_leader_track = tracks["track_id"].isin(leader_ids).to_numpy()
    space, time = unit_names(result)

    ax = figure.add_subplot(1, 3, 1)
    distance = tracks["front_distance_um"].to_numpy(dtype=float)
    speed = tracks["speed_um_per_min"].to_numpy(dtype=float)
    followers = np.flatnonzero(~is_leader_track)
    label = "followers"
    if len(followers) > MAX_FOLLOWER_POINTS:  # keeps a 500-frame movie's plot quick to draw
        followers = np.random.default_rng(0).choice(followers, MAX_FOLLOWER_POINTS, replace=False)
        label = f"followers (random {MAX_FOLLOWER_POINTS:,} cell-frames)"
    ax.scatter(distance[followers], speed[followers], s=4, c=_FOLLOWER, alpha=0.4, label=label, rasterized=True)
    ax.scatter(distance[is_leader_track], speed[is_leader_track], s=6, c=_LEADER, alpha=0.7,
               label="leaders", rasterized=True)
    if not np.isfinite(distance).any():
        ax.text(0.5, 0.5, "no distances: the front was not found", ha="center", va="center", transform=ax.transAxes)
    ax.plot([], [], "-o", ms=3, lw=1, c=_SELECTED, gid=_HIGHLIGHT)
    ax.set_xlabel(f"distance behind the front ({space})")
    ax.set_ylabel(f"speed ({space}/{time})")

    ax = figure.add_subplot(1, 3, 2)
    fronts = result.fronts
    if fronts.empty:
        ax.text(0.5, 0.5, "no invasion front found", ha="center", va="center", transform=ax.transAxes)
    else:
        for front_id, front in fronts.groupby("front_id", sort=True):
            position = front["front_position_um"].to_numpy(dtype=float)
            start = position[np.isfinite(position)][:1]
            if len(start):
                ax.plot(front["time_min"], position - start[0], lw=1.5, label=f"front {front_id}")
        if fronts["front_id"].nunique() > 1:
            ax.legend(loc="best", fontsize="small", frameon=False)
    ax.set_xlabel(f"time ({time})")
    ax.set_ylabel(f"front advance ({space})")

    ax = figure.add_subplot(1, 3, 3, projection="polar")
    headings = leader_headings_rad(tracks, leader_ids)
    counts, edges = np.histogram(headings, bins=24, range=(-np.pi, np.pi))
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color=_LEADER, edgecolor="white")
    ax.text(0.5, -0.22, f"leader headings ({len(headings)} cell-frames)", transform=ax.transAxes,
            ha="center", va="top", fontsize="small")
    ax.set_yticklabels([])
    figure.subplots_adjust(left=0.07, right=0.97, bottom=0.2, top=0.87, wspace=0.35)
    highlight_track(figure, result, track_id)


def highlight_track(figure: Figure, result: Any, track_id: int | None) -> None:
    """Show ``track_id``'s path in the speed plot drawn by :func:`draw_result_plots` (None: no track).

    Cheap: only the highlight line and the legend change, so selecting cells stays quick.
    """
    ax = figure.axes[0]
    [line] = [line for line in ax.lines if line.get_gid() == _HIGHLIGHT]
    rows = result.tracks[result.tracks["track_id"] == track_id]
    line.set_data(rows["front_distance_um"].to_numpy(dtype=float), rows["speed_um_per_min"].to_numpy(dtype=float))
    line.set_label(f"track {track_id}" if track_id is not None else "_nolegend_")
    ax.legend(loc="upper right", fontsize="small", frameon=False)
