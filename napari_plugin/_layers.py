"""Turn a leadertrack result into napari layer data tuples (plain numpy / pandas, no Qt).

Every layer is in pixel coordinates ``(frame, y, x)`` with ``scale = (1, pixel size, pixel
size)``, so the time slider counts frames and rulers read µm. The tracks layer carries the
:class:`~leadertrack.pipeline.MovieResult` in ``metadata["leadertrack_result"]``; the writer and
the widget find it there. Every layer of one result carries the same ``metadata["leadertrack_group"]``,
so the widget finds the layers of the result it shows by that, not by their names (napari renames a
layer whose name is taken: two results of movies with the same name).
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pandas as pd
from napari.utils.colormaps import Colormap

from leadertrack.diameter import mask_diameter_px

__all__ = [
    "GROUP_KEY",
    "RESULT_KEY",
    "ROLE_KEY",
    "MOVIE_KEY",
    "UNITS_KEY",
    "movie_layer_data",
    "result_layer_data",
    "track_calls",
    "pixel_size_um_of",
    "nucleus_diameter_px_of",
    "unit_names",
    "front_outlines_px",
]

RESULT_KEY = "leadertrack_result"
ROLE_KEY = "leadertrack_layer"
GROUP_KEY = "leadertrack_group"
MOVIE_KEY = "leadertrack_movie"
UNITS_KEY = "leadertrack_units"

#: follower (0) blue-grey, leader (1) orange: readable on dark and light themes, colour-blind safe.
LEADER_COLORMAP = Colormap([[0.45, 0.6, 0.8, 1.0], [1.0, 0.5, 0.0, 1.0]], name="leadertrack follower-leader")
TAIL_LENGTH_FRAMES = 10

LayerData = tuple[Any, dict[str, Any], str]


def pixel_size_um_of(result: Any) -> float:
    """Pixel size (µm) the result was measured with; 1.0 for an uncalibrated movie (as the pipeline)."""
    return float(result.provenance.get("units", {}).get("pixel_size_um") or 1.0)


def unit_names(result: Any) -> tuple[str, str]:
    """Honest units of the result's distances and times: ``("µm" or "px", "min" or "frame")``."""
    units = result.provenance.get("units", {})
    space = "µm" if units.get("space_calibrated", True) else "px"
    time = "min" if units.get("time_calibrated", True) else "frame"
    return space, time


def nucleus_diameter_px_of(result: Any) -> float:
    """Typical nucleus diameter in pixels: from ``run.json``, else the tracks' areas, else 10."""
    pixel = pixel_size_um_of(result)
    diameter_um = result.provenance.get("nucleus_diameter_um")
    if diameter_um:
        return float(diameter_um) / pixel
    if "area_um2" in result.tracks and result.tracks["area_um2"].notna().any():
        return mask_diameter_px(result.tracks["area_um2"].dropna() / pixel**2)
    return 10.0


def track_calls(result: Any) -> pd.Series:
    """The leader call per track (bool, indexed by ``track_id``), the user's corrections included.

    :func:`leadertrack.pipeline.apply_corrections` writes the corrections into ``cells.is_leader``.
    """
    return result.cells.set_index("track_id")["is_leader"].astype(bool)


def _segment_in_box(
    normal: tuple[float, float], offset: float, shape_yx: tuple[int, int]
) -> np.ndarray | None:
    """End points (2, 2) of the line ``p · normal = offset`` inside the box ``[0, Y] x [0, X]``."""
    ny, nx = normal
    height, width = shape_yx
    points: list[tuple[float, float]] = []
    if abs(nx) > 1e-12:
        for y in (0.0, float(height)):
            x = (offset - ny * y) / nx
            if 0.0 <= x <= width:
                points.append((y, x))
    if abs(ny) > 1e-12:
        for x in (0.0, float(width)):
            y = (offset - nx * x) / ny
            if 0.0 <= y <= height:
                points.append((y, x))
    if len(points) < 2:
        return None
    points_array = np.unique(np.round(np.asarray(points), 9), axis=0)
    if len(points_array) < 2:
        return None
    distances = np.linalg.norm(points_array[:, None] - points_array[None], axis=-1)
    i, j = np.unravel_index(np.argmax(distances), distances.shape)
    return points_array[[i, j]]


def front_outlines_px(
    fronts: pd.DataFrame, *, pixel_size_um: float, shape_yx: tuple[int, int], n_circle_vertices: int = 72
) -> tuple[list[np.ndarray], list[str]]:
    """Front outlines per frame as napari shapes in pixel coordinates ``(frame, y, x)``.

    A planar front is the line of points whose position along the outward normal equals
    ``front_position_um``, clipped to the image; a radial front is the circle of radius
    ``front_position_um`` around its centre.

    Returns
    -------
    shapes, shape_types
        One ``(n, 3)`` vertex array and one napari shape type (``"path"`` or ``"polygon"``) per
        drawable front.

    Examples
    --------
    >>> fronts = pd.DataFrame({"frame": [0], "geometry": ["planar"], "front_position_um": [20.0],
    ...                        "normal_y": [0.0], "normal_x": [1.0]})
    >>> shapes, kinds = front_outlines_px(fronts, pixel_size_um=2.0, shape_yx=(50, 100))
    >>> shapes[0].tolist(), kinds
    ([[0.0, 0.0, 10.0], [0.0, 50.0, 10.0]], ['path'])
    """
    shapes: list[np.ndarray] = []
    kinds: list[str] = []
    angles = np.linspace(0, 2 * np.pi, n_circle_vertices, endpoint=False)
    for row in fronts.itertuples(index=False):
        position_px = float(row.front_position_um) / pixel_size_um
        if not np.isfinite(position_px):
            continue
        if row.geometry == "radial":
            cy = float(row.centre_y_um) / pixel_size_um
            cx = float(row.centre_x_um) / pixel_size_um
            yx = np.column_stack([cy + position_px * np.sin(angles), cx + position_px * np.cos(angles)])
            kinds.append("polygon")
        else:
            segment = _segment_in_box((float(row.normal_y), float(row.normal_x)), position_px, shape_yx)
            if segment is None:
                continue
            yx = segment
            kinds.append("path")
        shapes.append(np.column_stack([np.full(len(yx), float(row.frame)), yx]))
    return shapes, kinds


def movie_layer_data(movie: Any) -> LayerData:
    """An image layer for a :class:`~leadertrack.io.Movie`, read lazily as a dask array."""
    pixel = movie.pixel_size_um or 1.0
    middle = np.asarray(movie.frame(len(movie) // 2))
    low, high = float(middle.min()), float(middle.max())
    kwargs = {
        "name": movie.name,
        "scale": (1.0, pixel, pixel),
        "contrast_limits": (low, high if high > low else low + 1),
        "multiscale": False,
        "metadata": {MOVIE_KEY: movie},
    }
    return movie.to_dask(), kwargs, "image"


def _image_shape_yx(result: Any) -> tuple[int, int]:
    if result.labels is not None:
        return tuple(int(n) for n in result.labels.shape[-2:])
    if result.movie is not None:
        return tuple(int(n) for n in result.movie.shape[-2:])
    return int(np.ceil(result.tracks["y"].max())) + 1, int(np.ceil(result.tracks["x"].max())) + 1


def result_layer_data(result: Any) -> list[LayerData]:
    """Layer data for a result: labels, tracks, leader points and front outlines.

    Parameters
    ----------
    result
        A :class:`~leadertrack.pipeline.MovieResult`.

    Returns
    -------
    list of (data, kwargs, layer_type)
        In drawing order, bottom to top. Names are ``"<movie> labels"``, ``"<movie> tracks"``,
        ``"<movie> leaders"`` and ``"<movie> front"``; every ``kwargs["metadata"]`` names the
        layer's role under ``"leadertrack_layer"`` and the result's layers under ``"leadertrack_group"``
        (a new group each call).
    """
    name = result.name
    group = uuid.uuid4().hex  # the layers of this result, whatever napari names them
    pixel = pixel_size_um_of(result)
    scale = (1.0, pixel, pixel)
    tracks = result.tracks.sort_values(["track_id", "frame"], kind="stable").reset_index(drop=True)
    calls = track_calls(result)
    scores = result.cells.set_index("track_id")["leader_score"].astype(float)
    layers: list[LayerData] = []

    if result.labels is not None:
        layers.append(
            (result.labels, {"name": f"{name} labels", "scale": scale, "opacity": 0.7,
                             "metadata": {ROLE_KEY: "labels", GROUP_KEY: group}}, "labels")
        )

    if tracks.empty:
        return layers

    features = pd.DataFrame(
        {
            "leader": tracks["track_id"].map(calls).fillna(False).astype(float).to_numpy(),
            "leader_score": tracks["track_id"].map(scores).astype(float).to_numpy(),
            "leading_now": tracks["is_leader"].astype(float).to_numpy(),
            "speed_um_per_min": tracks["speed_um_per_min"].astype(float).fillna(0.0).to_numpy(),
            "front_distance_um": tracks["front_distance_um"].astype(float).fillna(0.0).to_numpy(),
        }
    )
    graph = {}
    if "parent_track_id" in result.cells:
        parents = result.cells.loc[result.cells["parent_track_id"] > 0, ["track_id", "parent_track_id"]]
        graph = {int(child): [int(parent)] for child, parent in parents.itertuples(index=False)}
    layers.append(
        (
            tracks[["track_id", "frame", "y", "x"]].to_numpy(dtype=float),
            {
                "name": f"{name} tracks",
                "scale": scale,
                "features": features,
                "graph": graph,
                "color_by": "leader",
                "colormaps_dict": {"leader": LEADER_COLORMAP, "leading_now": LEADER_COLORMAP},
                "tail_length": TAIL_LENGTH_FRAMES,
                "tail_width": 3,
                "metadata": {ROLE_KEY: "tracks", RESULT_KEY: result, GROUP_KEY: group},
            },
            "tracks",
        )
    )

    leaders = tracks[tracks["track_id"].map(calls).fillna(False).astype(bool)]
    layers.append(
        (
            leaders[["frame", "y", "x"]].to_numpy(dtype=float).reshape(-1, 3),
            {
                "name": f"{name} leaders",
                "scale": scale,
                "size": 1.6 * nucleus_diameter_px_of(result),
                "face_color": "transparent",
                "border_color": "#ff8000",
                "border_width": 0.12,
                "features": pd.DataFrame(
                    {
                        "track_id": leaders["track_id"].to_numpy(dtype=int),
                        "leading_now": leaders["is_leader"].astype(bool).to_numpy(),
                    }
                ),
                "out_of_slice_display": False,
                "metadata": {ROLE_KEY: "leaders", GROUP_KEY: group},
            },
            "points",
        )
    )

    shapes, kinds = front_outlines_px(result.fronts, pixel_size_um=pixel, shape_yx=_image_shape_yx(result))
    if shapes:
        layers.append(
            (
                shapes,
                {
                    "name": f"{name} front",
                    "scale": scale,
                    "shape_type": kinds,
                    "edge_color": "#00e5ff",
                    "face_color": "transparent",
                    "edge_width": 2.0,
                    "metadata": {ROLE_KEY: "front", GROUP_KEY: group},
                },
                "shapes",
            )
        )
    return layers
