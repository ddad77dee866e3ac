"""The per-movie report (``report.html``) and the batch index page (``index.html``).

A report is one self-contained HTML file: the figures are PNGs drawn with matplotlib's Agg
canvas and embedded as base64, the style sheet is inline, nothing is fetched from the network.
It shows what a scientist wants to look at (the first and last frame with tracks coloured by
role, the invasion front over time, leaders against the other cells, leader headings, leader
episodes) and what a reviewer needs to check (every parameter with its unit and where it came
from, warnings, package versions).

Only two frames of the movie are read (the first and the last), so the report is cheap even for
long movies.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from leadertrack.atomic import atomic_write
from leadertrack.segment import reduction_factor
from leadertrack.units import honest_column_names

__all__ = [
    "FIGURE_TITLES",
    "methods_text",
    "report_figures",
    "report_html",
    "write_report",
    "write_folder_report",
    "write_reports",
    "write_batch_index",
]

ROLE_COLOURS = {"other": "#8c8c8c", "follower": "#1f77b4", "leader": "#d62728"}
"""Colour of each per-frame role (``tracks.role``) in every figure, in drawing order."""
TRACK_STYLE = {"other": (0.5, 0.45), "follower": (1.0, 0.9), "leader": (1.6, 1.0)}
"""Line width and opacity of track paths by role: leaders stand out from the crowd."""
MAX_EPISODE_TRACKS = 40
"""The episode timeline shows at most this many leader tracks (those leading longest)."""
MAX_LEADER_ROWS = 100
"""The leader table lists at most this many tracks (highest leader score first)."""

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}img{max-width:100%;height:auto}
.note{background:#fff6d6;border-left:4px solid #e0b000;padding:.5em 1em}
.muted{color:#777}.ok{color:#1a7f37}.failed{color:#c62828}.skipped{color:#8c8c8c}
code{background:#f4f4f4;padding:0 .2em}
"""


# --------------------------------------------------------------------------- units


def _calibration(provenance: dict) -> tuple[bool, bool]:
    """(space calibrated, time calibrated); results without unit provenance count as calibrated."""
    units = provenance.get("units", {})
    return bool(units.get("space_calibrated", True)), bool(units.get("time_calibrated", True))


def _unit_names(provenance: dict) -> tuple[Figure | None, str]:
    """Display units of length and time: ``("µm", "min")`` or ``("px", "frame")`` when uncalibrated."""
    space, time = _calibration(provenance)
    return ("µm" if space else "px"), ("min" if time else "frame")


def _count(n: int, noun: str) -> str:
    """``"1 leader"``, ``"3 leaders"``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _in_words(unit: str) -> str:
    """A display unit as said in a sentence: "µm", "pixels", "minutes", "frames"."""
    return {"px": "pixels", "min": "minutes", "frame": "frames"}.get(unit, unit)


def _pixel_size(provenance: dict) -> float:
    """µm per pixel used in the analysis (1.0 when the movie had none)."""
    return float(provenance.get("units", {}).get("pixel_size_um") or 1.0)


def _frame_interval(provenance: dict) -> float:
    """Minutes per frame used in the analysis (1.0 when the movie had none)."""
    return float(provenance.get("units", {}).get("frame_interval_min") or 1.0)


def _honest(name: str, provenance: dict) -> str:
    """A column name as it is written on disk (``_px``/``_per_frame`` when uncalibrated)."""
    space, time = _calibration(provenance)
    return honest_column_names([name], space_calibrated=space, time_calibrated=time).get(name, name)


# --------------------------------------------------------------------------- figures


def _png(fig: Figure | None) -> str:
    """An ``<img>`` tag holding ``fig`` as an inline base64 PNG ("" without a figure)."""
    if fig is None:
        return ""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{data}">'


def _n_frames(result: Any) -> int:
    counts = result.provenance.get("counts", {})
    if counts.get("frames"):
        return int(counts["frames"])
    if result.movie is not None:
        return len(result.movie)
    if result.labels is not None:
        return int(result.labels.shape[0])
    if len(result.tracks):
        return int(result.tracks["frame"].max()) + 1
    return 0


def _frame_shape(result: Any) -> tuple[float, float]:
    """(height, width) of a frame in pixels: from the movie, the labels, run.json or the tracks."""
    for shape in (getattr(result.movie, "shape", None), getattr(result.labels, "shape", None),
                  result.provenance.get("input", {}).get("shape")):
        if shape is not None and len(shape) == 3:
            return float(shape[1]), float(shape[2])
    if len(result.tracks):
        return float(result.tracks["y"].max()) + 1, float(result.tracks["x"].max()) + 1
    return 1.0, 1.0


def _background(result: Any, t: int) -> tuple[np.ndarray | None, str]:
    """The image to draw frame ``t`` on: the movie frame, else the label outlines, else nothing."""
    if result.movie is not None:
        image = np.asarray(result.movie.frame(t), dtype=float)
        lo, hi = np.percentile(image, [1, 99.5]) if image.size else (0.0, 1.0)
        return np.clip((image - lo) / (hi - lo if hi > lo else 1.0), 0, 1), "movie"
    if result.labels is not None:
        from skimage.segmentation import find_boundaries

        return 0.5 * find_boundaries(np.asarray(result.labels[t]), mode="inner"), "label outlines"
    return None, "no image"


def _track_segments(tracks: pd.DataFrame, last_frame: int) -> dict[str, np.ndarray]:
    """Line segments (x, y in px) of every track up to ``last_frame``, by the role at the later point."""
    part = tracks[tracks["frame"] <= last_frame].sort_values(["track_id", "frame"])
    if len(part) < 2:
        return {}
    xy = part[["x", "y"]].to_numpy(float)
    same = part["track_id"].to_numpy()[1:] == part["track_id"].to_numpy()[:-1]
    segments = np.stack([xy[:-1], xy[1:]], axis=1)[same]
    roles = _roles(part)[1:][same]
    roles = np.where(np.isin(roles, list(ROLE_COLOURS)), roles, "other")
    return {role: segments[roles == role] for role in ROLE_COLOURS if (roles == role).any()}


def _roles(tracks: pd.DataFrame) -> np.ndarray:
    """Per-row role; derived from ``is_leader`` when there is no ``role`` column."""
    if "role" in tracks:
        return tracks["role"].fillna("other").astype(str).to_numpy()
    if "is_leader" in tracks:
        return np.where(tracks["is_leader"].astype(bool), "leader", "other")
    return np.full(len(tracks), "other")


def _draw_front(ax: Any, fronts: pd.DataFrame, frame: int, pixel_size: float, shape: tuple[int, int]) -> None:
    """Draw the front(s) of ``frame`` in pixel coordinates: a line (planar) or a circle (radial)."""
    rows = fronts[fronts["frame"] == frame] if "frame" in fronts else fronts.iloc[:0]
    height, width = shape
    for row in rows.itertuples(index=False):
        position = getattr(row, "front_position_um", np.nan)
        if not np.isfinite(position):
            continue
        position_px = position / pixel_size
        if row.geometry == "radial":
            cy, cx = row.centre_y_um / pixel_size, row.centre_x_um / pixel_size
            angle = np.linspace(0, 2 * np.pi, 200)
            ax.plot(cx + position_px * np.cos(angle), cy + position_px * np.sin(angle), "--", color="#ff9900", lw=1.5)
        else:  # planar: the line y*ny + x*nx = position
            ny, nx = row.normal_y, row.normal_x
            if abs(ny) >= abs(nx):
                xs = np.array([0.0, width])
                ax.plot(xs, (position_px - xs * nx) / ny, "--", color="#ff9900", lw=1.5)
            else:
                ys = np.array([0.0, height])
                ax.plot((position_px - ys * ny) / nx, ys, "--", color="#ff9900", lw=1.5)


def _figure_frames(result: Any) -> tuple[Figure | None, str]:
    """First and last frame with tracks coloured by role, leaders starred, and the front dashed."""
    n_frames = _n_frames(result)
    tracks = result.tracks
    if n_frames == 0:
        return None, "No frames."
    frames = [0, n_frames - 1] if n_frames > 1 else [0]
    height, width = _frame_shape(result)
    panel_width = 5.0 * min(2.0, max(0.6, width / max(height, 1)))
    fig = Figure(figsize=(panel_width * len(frames) + 0.6, 5.4))
    leader_ids = set(result.leaders) if len(result.cells) else set()
    source = "no image"
    for i, t in enumerate(frames):
        ax = fig.add_subplot(1, len(frames), i + 1)
        image, source = _background(result, t)
        if image is not None:
            ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        else:
            ax.set_xlim(0, width)
            ax.set_ylim(height, 0)
            ax.set_aspect("equal")
        if len(tracks):
            for role, segments in _track_segments(tracks, t).items():  # other, follower, then leader on top
                width, alpha = TRACK_STYLE[role]
                ax.add_collection(LineCollection(segments, colors=ROLE_COLOURS[role], linewidths=width, alpha=alpha))
            now = tracks[tracks["frame"] == t]
            ax.scatter(now["x"], now["y"], s=8, c=[ROLE_COLOURS.get(r, ROLE_COLOURS["other"]) for r in _roles(now)])
            leaders_now = now[now["track_id"].isin(leader_ids)]
            ax.scatter(
                leaders_now["x"], leaders_now["y"], s=110, marker="*", facecolors="yellow",
                edgecolors="black", linewidths=0.6, label="leader track", zorder=3,
            )
        if len(result.fronts):
            _draw_front(ax, result.fronts, t, _pixel_size(result.provenance), (height, width))
        ax.set_title(f"frame {t}" + (" (tracks so far)" if t else ""))
        ax.set_xlabel("x (px)")
        ax.set_ylabel("y (px)")
    handles = [
        fig.axes[0].plot([], [], color=c, lw=2, label=role)[0] for role, c in ROLE_COLOURS.items()
    ] + [fig.axes[0].plot([], [], "--", color="#ff9900", label="front")[0]]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    caption = (
        f"Background: {source}. Lines: each track's path so far, coloured by its role in that frame; "
        f"dots: cells in that frame; yellow stars: cells of tracks called leaders; dashed: the invasion front."
    )
    return fig, caption


def _figure_front(result: Any) -> tuple[Figure | None, str]:
    fronts = result.fronts
    if fronts.empty or "front_position_um" not in fronts:
        return None, "No invasion front was found."
    space, time = _unit_names(result.provenance)
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_subplot()
    for front_id, part in fronts.groupby("front_id"):
        ax.plot(part["time_min"], part["front_position_um"], marker=".", label=f"front {front_id}")
    geometry = str(fronts["geometry"].iloc[0])
    ax.set_xlabel(f"time ({time})")
    ax.set_ylabel(("front radius" if geometry == "radial" else "front position") + f" ({space})")
    if fronts["front_id"].nunique() > 1:
        ax.legend(frameon=False)
    front = result.provenance.get("front", {})
    speed = front.get("median_front_speed_um_per_min")
    caption = f"Geometry: {geometry}"
    if front.get("confidence") is not None:
        caption += f" (confidence {front['confidence']:.2f}: {front.get('reason', 'no reason recorded')})"
    caption += "."
    if speed is not None:
        caption += f" Median front speed: {speed:.3g} {space}/{time}."
    return fig, caption


def _groups(cells: pd.DataFrame) -> pd.Series:
    """Each track's group: leader, follower (trails a leader) or other."""
    group = pd.Series("other", index=cells.index)
    if "follows_track_id" in cells:
        group[cells["follows_track_id"].fillna(0).astype(float) > 0] = "follower"
    if "is_leader" in cells:
        group[cells["is_leader"].astype(bool)] = "leader"
    return group


def _figure_distributions(result: Any) -> tuple[Figure | None, str]:
    cells = result.cells
    space, time = _unit_names(result.provenance)
    panels = [
        ("mean_speed_um_per_min", f"mean speed ({space}/{time})"),
        ("persistence", "persistence (net / path length)"),
        ("front_distance_um", f"distance behind the front ({space})"),
    ]
    panels = [(c, label) for c, label in panels if c in cells]
    if cells.empty or not panels:
        return None, "No tracks to compare."
    group = _groups(cells)
    order = [g for g in ("leader", "follower", "other") if (group == g).any()]
    rng = np.random.default_rng(0)
    fig = Figure(figsize=(3.6 * len(panels), 3.6))
    for i, (column, label) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        values = [cells.loc[group == g, column].astype(float).dropna().to_numpy() for g in order]
        present = [k for k, v in enumerate(values) if len(v)]
        if present:
            ax.boxplot([values[k] for k in present], positions=present, widths=0.5, showfliers=False)
        for k, v in enumerate(values):
            ax.scatter(k + rng.uniform(-0.15, 0.15, len(v)), v, s=8, alpha=0.6, color=ROLE_COLOURS[order[k]])
        ax.set_xticks(range(len(order)), [f"{g}s\n(n={len(v)})" for g, v in zip(order, values)])
        ax.set_xlim(-0.6, len(order) - 0.4)
        ax.set_ylabel(label)
    fig.tight_layout()
    caption = (
        "One dot per track. Leaders: tracks called leaders; followers: tracks trailing a leader "
        "(follows_track_id); other: the rest. Boxes: median and quartiles."
    )
    return fig, caption


def _outward(rows: pd.DataFrame, fronts: pd.DataFrame) -> np.ndarray | None:
    """Outward unit vectors (y, x) at ``rows``: the front's normal (planar) or away from its centre (radial)."""
    if fronts.empty or "frame" not in fronts or not {"y_um", "x_um"} <= set(rows.columns):
        return None
    keys = ["frame", "front_id"] if "front_id" in rows and "front_id" in fronts else ["frame"]
    if {"normal_y", "normal_x"} <= set(fronts.columns):
        table = fronts[keys + ["normal_y", "normal_x"]].drop_duplicates(keys)
        merged = rows[keys].merge(table, on=keys, how="left")
        vectors = merged[["normal_y", "normal_x"]].to_numpy(float)
    elif {"centre_y_um", "centre_x_um"} <= set(fronts.columns):
        table = fronts[keys + ["centre_y_um", "centre_x_um"]].drop_duplicates(keys)
        merged = rows[keys].merge(table, on=keys, how="left")
        vectors = rows[["y_um", "x_um"]].to_numpy(float) - merged[["centre_y_um", "centre_x_um"]].to_numpy(float)
    else:
        return None
    norm = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norm, out=np.full_like(vectors, np.nan), where=norm > 0)


def _leader_headings(result: Any) -> tuple[np.ndarray, bool]:
    """Direction of motion (radians) in every leader frame, and whether it is relative to outward.

    Relative to the outward direction when the front is known (0 = outward, counter-clockwise on
    screen positive); otherwise as seen on screen (0 = right, π/2 = up).
    """
    tracks = result.tracks
    if tracks.empty or "is_leader" not in tracks:
        return np.empty(0), False
    ordered = tracks.sort_values(["track_id", "frame"])
    if {"vy_um_per_min", "vx_um_per_min"} <= set(ordered.columns):
        vy = ordered["vy_um_per_min"].to_numpy(float)
        vx = ordered["vx_um_per_min"].to_numpy(float)
    else:
        vy = ordered.groupby("track_id")["y"].diff().to_numpy(float)
        vx = ordered.groupby("track_id")["x"].diff().to_numpy(float)
    keep = ordered["is_leader"].astype(bool).to_numpy() & np.isfinite(vy) & np.isfinite(vx) & ((vy != 0) | (vx != 0))
    vy, vx = vy[keep], vx[keep]
    outward = _outward(ordered[keep], result.fronts)
    if outward is None or not np.isfinite(outward).all():
        return np.arctan2(-vy, vx), False
    oy, ox = outward[:, 0], outward[:, 1]
    # screen coordinates (x, -y): signed angle from the outward direction to the velocity
    return np.arctan2(oy * vx - ox * vy, ox * vx + oy * vy), True


def _figure_rose(result: Any) -> tuple[Figure | None, str]:
    headings, relative = _leader_headings(result)
    if len(headings) == 0:
        return None, "No leader frames, so no leader headings."
    fig = Figure(figsize=(4.4, 4.4))
    ax = fig.add_subplot(projection="polar")
    bins = np.linspace(-np.pi, np.pi, 17)
    counts, _ = np.histogram(headings, bins=bins)
    ax.bar(bins[:-1], counts, width=np.diff(bins), align="edge", color=ROLE_COLOURS["leader"], alpha=0.7, edgecolor="white")
    if relative:
        ax.set_xticks(np.deg2rad([0, 90, 180, 270]), ["outward", "90°", "back", "-90°"])
        caption = (
            f"Direction of motion in {len(headings)} leader frames, relative to the outward direction "
            "(the front's normal, or away from the spheroid centre): 0° = straight outward, 180° = back into the collective."
        )
    else:
        caption = f"Direction of motion in {len(headings)} leader frames, as seen on screen: 0° = right, 90° = up."
    return fig, caption


def _figure_episodes(result: Any) -> tuple[Figure | None, str]:
    from leadertrack.classify import leader_episodes

    if "leader_episode" not in result.tracks:
        return None, "No leader episodes recorded (the tracks table has no leader_episode column)."
    tracks = result.tracks
    led = tracks.loc[tracks["leader_episode"] > 0, "track_id"].unique()
    episodes = leader_episodes(tracks[tracks["track_id"].isin(led)])
    if episodes.empty:
        return None, "No track was in the leader state in any frame."
    _, time = _unit_names(result.provenance)
    dt = _frame_interval(result.provenance)
    total = episodes.groupby("track_id")["n_frames"].sum().sort_values(ascending=False)
    shown = total.index[:MAX_EPISODE_TRACKS]
    lanes = {tid: i for i, tid in enumerate(sorted(shown))}
    fig = Figure(figsize=(7.5, 1.2 + 0.22 * len(lanes)))
    ax = fig.add_subplot()
    spans = result.tracks[result.tracks["track_id"].isin(shown)].groupby("track_id")["frame"].agg(["min", "max"])
    for tid, span in spans.iterrows():
        ax.plot([span["min"] * dt, (span["max"] + 1) * dt], [lanes[tid]] * 2, color="#cccccc", lw=1)
    for tid, part in episodes[episodes["track_id"].isin(shown)].groupby("track_id"):
        bars = list(zip(part["first_frame"] * dt, part["n_frames"] * dt))
        ax.broken_barh(bars, (lanes[tid] - 0.35, 0.7), color=ROLE_COLOURS["leader"])
    handovers = episodes[(episodes["took_over_from"] != 0) & episodes["track_id"].isin(shown)]
    for row in handovers.itertuples(index=False):
        ax.annotate(f"from {row.took_over_from}", (row.first_frame * dt, lanes[row.track_id] + 0.4), fontsize=7, ha="right")
    ax.set_yticks(range(len(lanes)), [str(t) for t in lanes])
    ax.set_ylim(-0.7, len(lanes) - 0.3)
    ax.set_xlabel(f"time ({time})")
    ax.set_ylabel("track")
    caption = (
        f"{_count(len(episodes), 'leader episode')} in {_count(episodes['track_id'].nunique(), 'track')} "
        "(red: leading; grey: the track's lifetime)."
    )
    n_handovers = int((episodes["took_over_from"] != 0).sum())
    if n_handovers:
        caption += f" {_count(n_handovers, 'hand-over')}: a cell that followed a leader took the lead (labelled 'from' that leader)."
    if len(total) > len(shown):
        caption += f" Showing the {len(shown)} tracks that led longest."
    return fig, caption


# --------------------------------------------------------------------------- tables


def _table(rows: Iterable[Iterable[Any]], header: Iterable[str]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else f"{value:.4g}"
    if value is None:
        return '<span class="muted">not set</span>'
    return html.escape(str(value))


def _background_row(provenance: dict, segment: dict) -> list[tuple]:
    """How the background was taken out of the frames, and who decided it; none for label masks or older runs."""
    if "background_glow" not in provenance or provenance.get("nucleus_diameter_source") == "labels":
        return []
    if provenance["background_glow"]:
        how = "the lower envelope of each frame (the background glows)"
    elif segment.get("flatten_background", True):
        how = "a plane, where the field slopes steeply"
    else:
        how = "one level per frame"
    source = "config" if segment.get("glow") is not None or not segment.get("flatten_background", True) else "estimated"
    return [("background taken out", how, "", source)]


def _parameters(provenance: dict) -> str:
    """Units and the parameters that depend on them, each with its value, unit and source."""
    units = provenance.get("units", {})
    space, time = _unit_names(provenance)
    config = provenance.get("config", {})
    front = provenance.get("front", {})
    classify = config.get("classify", {})
    link = config.get("link", {})
    rows = [
        ("pixel size", units.get("pixel_size_um"), "µm/px", units.get("pixel_size_source", "unknown")),
        ("frame interval", units.get("frame_interval_min"), "min", units.get("frame_interval_source", "unknown")),
        ("nucleus diameter", provenance.get("nucleus_diameter_um"), space, provenance.get("nucleus_diameter_source", "unknown")),
        *_background_row(provenance, config.get("segment", {})),
        ("linking search range", provenance.get("search_range_um"), space, provenance.get("search_range_source", "unknown")),
        ("gap closing (memory)", link.get("memory"), "frames", "config"),
        ("minimum track length", link.get("min_track_length"), "frames", "config"),
        ("front geometry", front.get("geometry"), "", f"config: {config.get('front', {}).get('geometry', 'auto')}"),
        ("leader rule", classify.get("model_path") or "documented rule", "", "config"),
        ("leader threshold", classify.get("threshold"), "leader_score", "config"),
    ]
    table = _table(rows, ["parameter", "value", "unit", "source"])
    flat = [
        (f"{section}.{key}", value)
        for section, values in config.items()
        if isinstance(values, dict)
        for key, value in values.items()
    ]
    full = _table(flat, ["setting", "value"]) if flat else '<p class="muted">No configuration recorded.</p>'
    note = f"<p>Lengths are in {_in_words(space)}, times in {_in_words(time)}.</p>"
    return note + table + "<details><summary>Every setting of this run</summary>" + full + "</details>"


def _number(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "unknown"


def methods_text(provenance: dict) -> str:
    """A methods paragraph for a paper, filled in from a result's ``run.json``.

    Parameters
    ----------
    provenance
        ``MovieResult.provenance`` (the content of ``run.json``).

    Returns
    -------
    str
        Plain text naming the software versions, the units and where they came from, and the
        parameters of segmentation, linking and classification that were actually used.

    Examples
    --------
    >>> text = methods_text({"leadertrack_version": "0.1.0", "units": {"pixel_size_um": 0.65,
    ...     "pixel_size_source": "OME metadata", "frame_interval_min": 10.0,
    ...     "frame_interval_source": "user"}, "nucleus_diameter_um": 9.0, "nucleus_diameter_source": "user"})
    >>> "pixel size 0.65 µm (OME metadata)" in text and "nucleus diameter 9 µm" in text
    True
    """
    units = provenance.get("units", {})
    versions = provenance.get("versions", {})
    config = provenance.get("config", {})
    link = config.get("link", {})
    space, _ = _unit_names(provenance)
    version = provenance.get("leadertrack_version", "")

    def pkg(name: str) -> str:
        return f" {versions[name]}" if name in versions else ""

    info = provenance.get("input", {})
    if info.get("kind") == "tracks":  # leadertrack classify: tracks made elsewhere, no images
        what = f"{info['ndim']}-D tracks" if info.get("ndim") else "Tracks"
        return (
            f"{what} made with another tool ({info.get('units_source', 'units as given')}) were analysed with "
            f"leadertrack {version} (Python{pkg('python')}). " + _front_and_rule(provenance, config)
        )
    if units.get("pixel_size_um"):
        calibration = f"pixel size {_number(units['pixel_size_um'])} µm ({units.get('pixel_size_source', 'source unknown')})"
    else:
        calibration = "no pixel size (lengths are in pixels)"
    if units.get("frame_interval_min"):
        calibration += f", frame interval {_number(units['frame_interval_min'])} min ({units.get('frame_interval_source', 'source unknown')})"
    else:
        calibration += ", no frame interval (times are in frames)"
    if provenance.get("nucleus_diameter_source") == "labels":
        masks = provenance.get("input", {}).get("labels")
        named = f" ({Path(masks).name})" if masks and masks != "array" else ""
        segmentation = f"Nuclei were taken from label masks provided by the user{named}"
    else:
        source = provenance.get("nucleus_diameter_source", "")
        how = {"estimated": "estimated from the movie", "user": "set by the user"}.get(source, source)
        diameter = provenance.get("nucleus_diameter_um")
        reduction = reduction_factor(diameter / _pixel_size(provenance)) if diameter else 1
        segmentation = (
            f"Nuclei were segmented in every frame (scikit-image{pkg('scikit-image')}; "
            f"nucleus diameter {_number(diameter)} {space}, {how}"
            + (f"; on each frame block-averaged {reduction} x {reduction}" if reduction > 1 else "")
            + ("; the glowing background taken out of each frame as its lower envelope" if provenance.get("background_glow") else "")
            + ")"
        )
    margin = provenance.get("gap_closing_edge_margin_um")
    linking = (
        f"linked into tracks frame to frame by trackpy's algorithm (subnetworks of least total squared displacement, adaptive search), vectorised with SciPy{pkg('scipy')} (search range {_number(provenance.get('search_range_um'))} {space}"
        + (f", gaps of up to {link['memory']} frames closed" if "memory" in link else "")
        + (f" except within {_number(margin)} {space} of the image's edge" if "memory" in link and margin else "")
        + (", velocity prediction" if link.get("predict") else "")
        + (f"; tracks shorter than {link['min_track_length']} frames discarded" if "min_track_length" in link else "")
        + ")"
    )
    projection = " Each frame was the maximum intensity projection of its Z stack." if info.get("z_projection") == "max" else ""
    jitter = provenance.get("stage_jitter_um")
    stage = (
        f"Jumps of the whole field between frames (stage jitter, up to {_number(provenance['stage_jump_largest_um'])} "
        f"{space}), measured as the displacement shared by most nuclei of consecutive frames, were subtracted from the "
        "positions before linking and measuring. "
        if jitter else ""
    )
    return (
        f"Images were analysed with leadertrack {version} (Python{pkg('python')}) with {calibration}.{projection} "
        f"{segmentation}, and {linking}. " + stage + _front_and_rule(provenance, config)
    )


def _front_and_rule(provenance: dict, config: dict) -> str:
    """The methods sentences on the front, the leader rule and the user's corrections."""
    classify = config.get("classify", {})
    geometry = provenance.get("front", {}).get("geometry")
    front = f"The invasion front ({geometry}) was found in every frame from the cell positions. " if geometry else ""
    if classify.get("model_path"):
        rule = f"by a classifier trained on corrected calls (model file {Path(classify['model_path']).name})"
    else:
        rule = (
            "by leadertrack's documented rule: a cell leads in a frame when it is at the front, trails no other "
            "cell, and its track moves persistently and outward faster than the collective"
        )
    threshold = classify.get("threshold")
    text = (
        f"{front}Leader cells were identified {rule}; a track was called a leader when its leader score was at least "
        f"{_number(threshold) if threshold is not None else 'the threshold'}."
    )
    corrections = provenance.get("corrections", {}).get("n")
    if corrections:
        retrained = provenance.get("retrained")
        kept_rule = bool(retrained) and retrained.get("penalty") is None  # training found nothing better than the rule
        verb = "was" if int(corrections) == 1 else "were"
        text += f" {_count(int(corrections), 'call')} {verb} corrected by hand" + (
            "; retrained on them, the classifier stayed the rule (they did not show a better one)." if kept_rule
            else ", and the classifier was retrained on the corrections." if retrained else "."
        )
    return text


def _leaders_table(result: Any) -> str:
    cells = result.cells
    if cells.empty or "is_leader" not in cells:
        return '<p class="muted">No tracks.</p>'
    leaders = cells[cells["is_leader"].astype(bool)]
    if leaders.empty:
        return "<p>No track was called a leader.</p>"
    if "leader_score" in leaders:
        leaders = leaders.sort_values("leader_score", ascending=False)
    columns = [
        c
        for c in ("track_id", "leader_score", "leader_fraction", "group_size", "mean_speed_um_per_min", "persistence",
                  "directionality", "front_distance_um", "n_frames", "reason")
        if c in leaders
    ]
    rows = leaders[columns].head(MAX_LEADER_ROWS).itertuples(index=False)
    header = [_honest(c, result.provenance) for c in columns]
    more = f"<p class='muted'>Showing {MAX_LEADER_ROWS} of {len(leaders)}.</p>" if len(leaders) > MAX_LEADER_ROWS else ""
    return _table(rows, header) + more


def _provenance_tables(provenance: dict) -> tuple[Figure | None, str]:
    versions = dict(provenance.get("versions", {}))
    if "leadertrack_version" in provenance:
        versions = {"leadertrack": provenance["leadertrack_version"], **versions}
    versions_html = _table(versions.items(), ["package", "version"]) if versions else '<p class="muted">Not recorded.</p>'
    info = provenance.get("input", {})
    rows = [(k, info[k]) for k in ("path", "shape", "dtype", "checksum_sha256", "reader") if k in info]
    rows += [(f"time in {stage} (s)", seconds) for stage, seconds in provenance.get("timings_s", {}).items()]
    rows += [(k, provenance[k]) for k in ("started", "finished") if k in provenance]
    return versions_html, (_table(rows, ["item", "value"]) if rows else "")


# --------------------------------------------------------------------------- pages


FIGURE_TITLES = {
    "frames": "First and last frame",
    "front": "Invasion front over time",
    "distributions": "Leaders and the other cells",
    "headings": "Leader headings",
    "episodes": "Leader episodes",
}
"""Section title of each figure of the report, in order."""


def report_figures(result: Any) -> dict[str, tuple[Figure | None, str]]:
    """The report's figures of one movie, each with its caption.

    Parameters
    ----------
    result
        A :class:`leadertrack.pipeline.MovieResult`.

    Returns
    -------
    dict
        ``{name: (figure, caption)}`` for the names of :data:`FIGURE_TITLES`, in that order. The
        figure is a :class:`matplotlib.figure.Figure` (save it with ``fig.savefig(path)``), or None
        when there is nothing to draw (no front, no leaders, ...); the caption then says why.
    """
    draw = {
        "frames": _figure_frames,
        "front": _figure_front,
        "distributions": _figure_distributions,
        "headings": _figure_rose,
        "episodes": _figure_episodes,
    }
    return {name: draw[name](result) for name in FIGURE_TITLES}


def _glance(result: Any) -> str:
    """Medians of the main per-track measures, leaders against the other tracks."""
    cells = result.cells
    space, time = _unit_names(result.provenance)
    measures = [
        ("mean speed", "mean_speed_um_per_min", f"{space}/{time}"),
        ("persistence", "persistence", ""),
        ("distance behind the front", "front_distance_um", space),
        ("time leading", "leader_fraction", "fraction of frames"),
    ]
    measures = [m for m in measures if m[1] in cells]
    if cells.empty or "is_leader" not in cells or not measures:
        return ""
    leader = cells["is_leader"].astype(bool)
    rows = [
        (label, cells.loc[leader, column].median(), cells.loc[~leader, column].median(), unit)
        for label, column, unit in measures
    ]
    return _table(rows, ["median per track", "leaders", "other tracks", "unit"])


def _review_note(result: Any) -> str:
    """Say whether a person corrected the calls, and whether the classifier was retrained on them."""
    n = len(result.corrections) if result.corrections is not None else 0
    if not n:
        return ""
    text = f"<p>{_count(n, 'call')} corrected by hand (see <code>corrections.csv</code>)"
    retrained = result.provenance.get("retrained")
    if retrained:
        text += "; the classifier was retrained on the corrections and every track re-scored"
    return text + ".</p>"


def report_html(result: Any) -> str:
    """The report of one movie as a self-contained HTML page.

    Parameters
    ----------
    result
        A :class:`leadertrack.pipeline.MovieResult`. When ``result.movie`` is set its first and
        last frames are drawn; otherwise the outlines of ``result.labels``.

    Returns
    -------
    str
        HTML with every figure embedded as a base64 PNG (no external files).
    """
    provenance = result.provenance
    space, time = _unit_names(provenance)
    n_tracks = len(result.cells)
    n_leaders = len(result.leaders) if n_tracks else 0
    n_frames = _n_frames(result)
    share = f" ({n_leaders / n_tracks:.0%} of tracks)" if n_tracks else ""
    warnings = provenance.get("warnings", [])
    space_ok, time_ok = _calibration(provenance)
    calibration_note = ""
    if not (space_ok and time_ok):
        missing = [w for w, ok in (("pixel size", space_ok), ("frame interval", time_ok)) if not ok]
        calibration_note = (
            f'<p class="note">This movie has no {" and no ".join(missing)}: lengths are in {_in_words(space)} and '
            f"times in {_in_words(time)}, and the written columns say so (e.g. <code>{_honest('speed_um_per_min', provenance)}</code>).</p>"
        )
    figures = report_figures(result)
    sections = [
        ("summary", "Summary",
         f"<p><b>{_count(n_leaders, 'leader')}</b>{share} among <b>{_count(n_tracks, 'track')}</b> "
         f"over {_count(n_frames, 'frame')}.</p>" + _glance(result) + _review_note(result) + calibration_note),
        *((name, FIGURE_TITLES[name], _png(fig), caption) for name, (fig, caption) in figures.items()),
        ("leaders", "Leader tracks", _leaders_table(result)),
        ("parameters", "Parameters, units and their source", _parameters(provenance)),
        ("methods", "Methods text", f"<p>{html.escape(methods_text(provenance))}</p>",
         "Generated from run.json; check it, and cite the packages named."),
        ("warnings", "Warnings",
         "<ul>" + "".join(f"<li>{html.escape(str(w))}</li>" for w in warnings) + "</ul>" if warnings else "<p>None.</p>"),
    ]
    versions_html, run_html = _provenance_tables(provenance)
    sections.append(("provenance", "Versions and provenance", versions_html + run_html))
    body = []
    for section in sections:
        anchor, title, content = section[:3]
        caption = f'<p class="muted">{html.escape(section[3])}</p>' if len(section) > 3 else ""
        body.append(f'<section id="{anchor}"><h2>{title}</h2>{content}{caption}</section>')
    nav = " · ".join(f'<a href="#{s[0]}">{s[1]}</a>' for s in sections)
    name = html.escape(result.name)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>leadertrack report: {name}</title>'
        f"<style>{_CSS}</style></head><body><h1>leadertrack report: {name}</h1><p class='muted'>{nav}</p>"
        + "".join(body)
        + "</body></html>"
    )


def _write_text(text: str, path: Path) -> Path:
    """Write ``text`` atomically: a failure (a full disk, ...) leaves ``path`` as it was."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_report(result: Any, path: Path) -> Path:
    """Write the self-contained report of one movie (``report.html``) atomically.

    Parameters
    ----------
    result
        A :class:`leadertrack.pipeline.MovieResult`.
    path
        Where to write, usually ``OUT/<movie>/report.html``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    return _write_text(report_html(result), Path(path))


def write_folder_report(folder: Path) -> Path:
    """(Re)write ``folder/report.html`` for an existing result folder.

    The movie is reopened from the path recorded in ``run.json`` when it is still there (only
    its first and last frame are read); otherwise the label outlines are drawn.

    Parameters
    ----------
    folder
        A result folder written by ``leadertrack run`` or :func:`leadertrack.pipeline.write_result`.

    Returns
    -------
    pathlib.Path
        The report's path.

    Raises
    ------
    InputError
        ``folder`` is not a result folder.
    """
    from leadertrack.pipeline import read_result

    folder = Path(folder)
    result = read_result(folder)
    result.movie = _reopen_movie(result.provenance)
    return write_report(result, folder / "report.html")


def write_reports(folders: Sequence[str | Path]) -> list[Path]:
    """(Re)write the reports of result folders and batch folders: ``leadertrack report FOLDER...``.

    Parameters
    ----------
    folders
        Result folders (``OUT/<movie>``) and/or batch folders (``OUT``: every result folder in it
        gets its report, and ``OUT/index.html`` is rewritten from ``OUT/summary.csv`` when present).

    Returns
    -------
    list of pathlib.Path
        Every page written.

    Raises
    ------
    InputError
        A folder is neither a result folder nor a folder holding result folders.
    """
    from leadertrack.errors import InputError
    from leadertrack.pipeline import is_result_folder

    written: list[Path] = []
    for folder in map(Path, folders):
        if is_result_folder(folder):
            written.append(write_folder_report(folder))
            continue
        if not folder.exists():
            raise InputError(f"{folder}: no such folder")
        results = sorted(p for p in folder.iterdir() if is_result_folder(p)) if folder.is_dir() else []
        if not results:
            raise InputError(f"{folder}: not a leadertrack result folder (tracks.csv, cells.csv, run.json), nor a folder of them")
        written.extend(write_folder_report(p) for p in results)
        if (folder / "summary.csv").exists():
            written.append(write_batch_index(pd.read_csv(folder / "summary.csv"), folder))
    return written


def _reopen_movie(provenance: dict) -> Any:
    """The movie recorded in ``provenance`` if it can still be opened with the same shape, else None."""
    info = provenance.get("input", {})
    path = info.get("path")
    if not path or path == "array" or not Path(path).exists():
        return None
    from leadertrack.io import read_movie

    segment = provenance.get("config", {}).get("segment", {})
    try:
        movie = read_movie(path, channel=segment.get("channel"), z_projection=segment.get("z_projection"))
    except (OSError, ValueError):
        return None
    return movie if list(movie.shape) == list(info.get("shape", movie.shape)) else None


def write_batch_index(summary: pd.DataFrame, out: Path) -> Path:
    """Write ``out/index.html``: the batch summary with a link to every movie's report.

    Parameters
    ----------
    summary
        The batch summary (``summary.csv``): one row per movie with ``movie``, ``status``,
        ``error`` and the counts.
    out
        The batch output folder; each movie's report is ``out/<movie>/report.html``.

    Returns
    -------
    pathlib.Path
        ``out/index.html``.
    """
    out = Path(out)
    columns = [c for c in summary.columns if c not in ("movie", "result")]
    header = "".join(f"<th>{html.escape(c)}</th>" for c in ["movie", *columns])
    rows = []
    for row in summary.to_dict("records"):
        name = str(row.get("movie", ""))
        target = out / name / "report.html"
        if target.exists():
            link = f'<a href="{html.escape(name)}/report.html">{html.escape(name)}</a>'
        elif (out / name).is_dir():
            link = f'<a href="{html.escape(name)}/">{html.escape(name)}</a>'
        else:
            link = html.escape(name)
        status = html.escape(str(row.get("status", "")))
        cells = "".join(
            f'<td class="{status}">{status}</td>' if c == "status" else f"<td>{_cell(_blank_if_missing(row[c]))}</td>"
            for c in columns
        )
        rows.append(f"<tr><td>{link}</td>{cells}</tr>")
    counts = summary["status"].value_counts() if "status" in summary else pd.Series(dtype=int)
    tally = ", ".join(f"{int(counts.get(s, 0))} {s}" for s in ("ok", "skipped", "failed"))
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>leadertrack batch</title>'
        f"<style>{_CSS}</style></head><body><h1>leadertrack batch</h1>"
        f"<p>{_count(len(summary), 'movie')}: {tally}. The same table is in <a href='summary.csv'>summary.csv</a>.</p>"
        f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table></body></html>"
    )
    return _write_text(page, out / "index.html")


def _blank_if_missing(value: Any) -> Any:
    """A blank cell for a missing value (a failed movie has no counts)."""
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else value
