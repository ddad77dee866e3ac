"""Stage jitter: the whole field jumping between frames, measured from the nuclei and taken out.

A microscope revisiting several positions, or a stage that slips, shifts the whole image between
frames by a few µm. Every cell then appears to jump together, which breaks links (a jump beyond
the search range starts new tracks) and adds the same false motion to every track: leaders are no
longer found (on simulated movies, leader F1 0.91 -> 0.24 with jumps of 0.3 nucleus diameters,
``docs/benchmarks.md``). Biology does not do that: a sheet or a spheroid moves smoothly from frame
to frame. So the jumps are measured and taken out, and a smooth motion of the whole field is kept
(a sheet advancing as a whole, or a slow thermal drift, which the images alone cannot tell apart).

1. :func:`frame_steps_px`: the step of the field from each frame to the next is the displacement
   that most pairs of nuclei agree on, with the share of nuclei that moved so (cells moving on
   their own, as in a sparse, fast movie, agree on none: the step is then not measured).
2. :func:`stage_jitter_px`: the field's positions (the summed steps) are split into a smooth course
   (a robust straight line through ``COURSE_WINDOW_FRAMES`` frames around each frame) and the jumps
   off it.
3. :func:`take_out` subtracts the jumps from the positions of the detections before linking when
   two consecutive frames differ by ``JITTER_MIN_DIAMETERS`` nucleus diameters or more;
   :func:`put_back` adds them back to the output positions so that they still overlay the movie.
   Speeds, distances and fronts are measured without the jumps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

__all__ = [
    "COURSE_WINDOW_FRAMES",
    "JITTER_MIN_DIAMETERS",
    "frame_steps_px",
    "largest_jump_px",
    "put_back",
    "stage_jitter_message",
    "stage_jitter_px",
    "take_out",
]

COURSE_WINDOW_FRAMES = 31
"""Frames over which the smooth course of the field's motion is a robust straight line (Theil-Sen) through its positions."""
MAX_JUMP_DIAMETERS = 4.0
"""Largest step of the whole field between frames that is looked for, in nucleus diameters."""
MATCH_DIAMETERS = 0.25
"""A nucleus moved with the field when it is this many diameters or less from where the field's step puts it."""
MAX_CANDIDATES = 5
"""Steps compared between two frames: the strongest peaks of the votes."""
TIE_SHARE = 0.9
"""Of the steps matching at least this fraction of the nuclei the best one matches, the shortest is taken."""
MIN_NUCLEI = 10
"""A step is measured only when at least this many nuclei moved with the field (a few cells say nothing about the stage)."""
MIN_SHARE = 0.2
"""A step is measured when at least this share of the nuclei moved with the field; else it is taken as the typical step."""
JITTER_MIN_DIAMETERS = 0.4
"""Jumps are taken out when two consecutive frames differ by this many nucleus diameters. On movies without
jitter the largest jump measured was 0.36 diameters (every movie the image benchmarks run: 490 movies of both
simulators, all difficulties, seeds 0-4, 200-204 and 400-404, nuclei 40 px across, spheroids cut at the border,
the second simulator's seeds 7000-7019, 7100-7139, 7200-7239 and 7300-7339; median 0.03-0.10), 0.13 on the HeLa
movie and 0.03-0.05 on the CTC sequences."""


def frame_steps_px(
    detections: pd.DataFrame, n_frames: int, *, nucleus_diameter_px: float
) -> tuple[np.ndarray, np.ndarray]:
    """How far the whole field moved from each frame to the next, and how many nuclei moved so.

    Between two frames, every displacement from a nucleus of the earlier frame to one of the later
    within ``MAX_JUMP_DIAMETERS`` diameters is a vote; the field's step is the displacement most of
    them agree on: the strongest peaks of a 2-D histogram of the votes (bins of half
    ``MATCH_DIAMETERS`` diameters, each counting the votes of its 3 x 3 neighbourhood) are refined to
    the median of the votes near them, and of those that match nearly as many nuclei as the best
    (``TIE_SHARE``), the shortest is taken: in a regular sheet a step of one cell spacing matches
    almost every nucleus too.

    Parameters
    ----------
    detections
        ``frame``, ``y``, ``x`` (pixels) of every nucleus.
    n_frames
        Frames in the movie.
    nucleus_diameter_px
        Typical nucleus diameter in pixels.

    Returns
    -------
    steps
        (T, 2) shift (y, x) of the field from the previous frame, in pixels; 0 for the first frame.
    share
        (T,) share of the nuclei of the later frame (or the earlier, if it has fewer) found within
        ``MATCH_DIAMETERS`` diameters of where that step puts a nucleus of the earlier one; 1 for
        the first frame, 0 when fewer than ``MIN_NUCLEI`` nuclei did.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> points = rng.uniform(0, 200, (80, 2))
    >>> detections = pd.DataFrame({"frame": np.repeat([0, 1], 80), "y": np.r_[points[:, 0], points[:, 0] + 6],
    ...                            "x": np.r_[points[:, 1], points[:, 1] - 4]})
    >>> steps, share = frame_steps_px(detections, 2, nucleus_diameter_px=10)
    >>> steps[1].round(1).tolist(), share.tolist()
    ([6.0, -4.0], [1.0, 1.0])
    """
    reach, tolerance = MAX_JUMP_DIAMETERS * nucleus_diameter_px, MATCH_DIAMETERS * nucleus_diameter_px
    frame = detections["frame"].to_numpy()
    order = np.argsort(frame, kind="stable")
    points = detections[["y", "x"]].to_numpy(float)[order]
    bounds = np.searchsorted(frame[order], np.arange(n_frames + 1))
    steps, share = np.zeros((n_frames, 2)), np.zeros(n_frames)
    share[0] = 1.0
    n_bins = int(np.ceil(2 * reach / (tolerance / 2)))
    tree_after = cKDTree(points[bounds[0] : bounds[1]])
    for t in range(1, n_frames):
        tree_before, tree_after = tree_after, cKDTree(points[bounds[t] : bounds[t + 1]])
        before, after = tree_before.data, tree_after.data
        if len(before) == 0 or len(after) == 0:
            continue
        pairs = tree_after.sparse_distance_matrix(tree_before, reach, output_type="coo_matrix")
        votes = after[pairs.row] - before[pairs.col]
        if len(votes) == 0:
            continue
        cell = np.clip(((votes + reach) / (tolerance / 2)).astype(int), 0, n_bins - 1)
        counts = np.bincount(cell[:, 0] * n_bins + cell[:, 1], minlength=n_bins * n_bins).reshape(n_bins, n_bins)
        # votes within 3 x 3 half-tolerance bins, so that a cluster split by the bins' edges still counts whole
        counts = ndi.uniform_filter(counts.astype(float), size=3, mode="constant")
        peaks = np.argwhere((counts == ndi.maximum_filter(counts, size=3)) & (counts >= 0.5 * counts.max()))
        peaks = peaks[np.argsort(-counts[tuple(peaks.T)], kind="stable")[:MAX_CANDIDATES]]
        candidates, n_agree = [], []
        for peak in (peaks + 0.5) * (tolerance / 2) - reach:
            step = np.median(votes[np.linalg.norm(votes - peak, axis=1) <= tolerance], axis=0)
            agree = np.linalg.norm(votes - step, axis=1) <= tolerance
            candidates.append(step)
            n_agree.append(len(np.unique(pairs.row[agree])))  # nuclei of the later frame, not votes
        # in a regular sheet a step of one spacing matches almost as many nuclei: of the steps nearly as good
        # as the best, the shortest
        good = np.flatnonzero(np.asarray(n_agree) >= TIE_SHARE * max(n_agree))
        best = good[np.argmin(np.linalg.norm(np.asarray(candidates)[good], axis=1))]
        steps[t] = candidates[best]
        share[t] = n_agree[best] / min(len(before), len(after)) if n_agree[best] >= MIN_NUCLEI else 0.0
    return steps, share


def stage_jitter_px(
    steps_px: np.ndarray, share: np.ndarray, *, window_frames: int = COURSE_WINDOW_FRAMES
) -> np.ndarray:
    """How far the field is off its smooth course in each frame, in pixels.

    Parameters
    ----------
    steps_px, share
        Steps of the field between frames and the share of nuclei that moved so
        (:func:`frame_steps_px`). A step that fewer than ``MIN_SHARE`` of the nuclei agree on is
        not measured (the cells moved too much on their own to tell): it counts as the median of
        the measured steps.
    window_frames
        The smooth course through the field's positions (the cumulative steps) is, in each frame,
        a robust straight line (Theil-Sen) through this many frames around it; a steady motion of
        the whole field is its own course and is kept.

    Returns
    -------
    numpy.ndarray
        (T, 2): subtract row t from the positions found in frame t to take the jumps out.

    Examples
    --------
    A field advancing 1 px per frame, which slips by 6 px at frame 3 and back at frame 6:

    >>> steps = np.array([[0, 0], [1, 0], [1, 0], [7, 0], [1, 0], [1, 0], [-5, 0], [1, 0], [1, 0]], float)
    >>> stage_jitter_px(steps, np.ones(9))[:, 0].round(1).tolist()
    [0.0, 0.0, 0.0, 6.0, 6.0, 6.0, 0.0, 0.0, 0.0]
    """
    steps = np.asarray(steps_px, dtype=float).reshape(-1, 2).copy()
    if len(steps) < 2:
        return np.zeros_like(steps)
    measured = np.asarray(share) >= MIN_SHARE
    measured[0] = True
    typical = np.median(steps[1:][measured[1:]], axis=0) if measured[1:].any() else np.zeros(2)
    steps[~measured] = typical
    position = np.cumsum(steps, axis=0)
    # in each frame, a robust straight line through the window around it: a steady motion is its own course
    n, width = len(position), min(window_frames, len(position))
    start = np.clip(np.arange(n) - window_frames // 2, 0, n - width)
    frames = start[:, None] + np.arange(width)  # (n, width) frames of each window
    i, j = np.triu_indices(width, k=1)
    course = np.empty_like(position)
    for axis in range(2):
        values = position[frames, axis]
        slope = np.median((values[:, j] - values[:, i]) / (j - i), axis=1)  # Theil-Sen
        course[:, axis] = np.median(values - slope[:, None] * (frames - np.arange(n)[:, None]), axis=1)
    return position - course


def _jumps_px(jitter_px: np.ndarray) -> np.ndarray:
    """Length of the jump between each two consecutive frames of ``jitter_px``, in pixels."""
    return np.linalg.norm(np.diff(np.asarray(jitter_px, float), axis=0), axis=1)


def largest_jump_px(jitter_px: np.ndarray) -> float:
    """The largest jump between consecutive frames in ``jitter_px`` (:func:`stage_jitter_px`), in pixels."""
    return float(np.max(_jumps_px(jitter_px), initial=0.0))


def take_out(
    detections: pd.DataFrame, n_frames: int, *, nucleus_diameter_px: float
) -> tuple[pd.DataFrame, np.ndarray | None, float]:
    """Measure the field's jumps and, when one reaches ``JITTER_MIN_DIAMETERS``, take them out of the positions.

    Parameters
    ----------
    detections
        ``frame``, ``y``, ``x`` (pixels) of every nucleus.
    n_frames
        Frames in the movie.
    nucleus_diameter_px
        Typical nucleus diameter in pixels.

    Returns
    -------
    detections
        A copy with each frame's jumps subtracted from its ``y``, ``x``; ``detections`` itself when
        nothing was taken out.
    jitter_px
        (T, 2) jumps taken out (:func:`stage_jitter_px`), or None.
    largest_jump_px
        The largest jump measured between consecutive frames, taken out or not.
    """
    if n_frames < 2:
        return detections, None, 0.0
    jitter_px = stage_jitter_px(*frame_steps_px(detections, n_frames, nucleus_diameter_px=nucleus_diameter_px))
    largest = largest_jump_px(jitter_px)
    if largest < JITTER_MIN_DIAMETERS * nucleus_diameter_px:
        return detections, None, largest
    out = detections.copy()
    frame = out["frame"].to_numpy()
    out["y"] = out["y"] - jitter_px[frame, 0]
    out["x"] = out["x"] - jitter_px[frame, 1]
    return out, jitter_px, largest


def put_back(
    tracks: pd.DataFrame, fronts: pd.DataFrame, jitter_px: np.ndarray, *, pixel_size_um: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Copies of ``tracks`` and ``fronts`` with the jumps added back to every position, so they overlay the movie.

    ``tracks``: ``y``, ``x`` (pixels) and ``y_um``, ``x_um``. ``fronts``: a planar front's
    ``front_position_um`` (along its normal) and a radial front's ``centre_y_um``, ``centre_x_um``.
    Speeds, distances and every other measurement stay as measured without the jumps.

    Examples
    --------
    >>> tracks = pd.DataFrame({"frame": [0, 1], "y": [5.0, 5.0], "x": [2.0, 2.0], "y_um": [10.0, 10.0], "x_um": [4.0, 4.0]})
    >>> fronts = pd.DataFrame({"frame": [1], "geometry": ["planar"], "front_position_um": [10.0],
    ...                        "normal_y": [1.0], "normal_x": [0.0]})
    >>> t, f = put_back(tracks, fronts, np.array([[0.0, 0.0], [3.0, 1.0]]), pixel_size_um=2.0)
    >>> t[["y", "x", "y_um", "x_um"]].values.tolist(), f.front_position_um.tolist()
    ([[5.0, 2.0, 10.0, 4.0], [8.0, 3.0, 16.0, 6.0]], [16.0])
    """
    tracks, fronts = tracks.copy(), fronts.copy()
    shift = jitter_px[tracks["frame"].to_numpy()]
    for axis, column in enumerate(("y", "x")):
        tracks[column] = tracks[column] + shift[:, axis]
        if f"{column}_um" in tracks:
            tracks[f"{column}_um"] = tracks[f"{column}_um"] + shift[:, axis] * pixel_size_um
    if len(fronts):
        shift_um = jitter_px[fronts["frame"].to_numpy()] * pixel_size_um
        planar = (fronts["geometry"] == "planar").to_numpy()
        if planar.any():
            normal = fronts[["normal_y", "normal_x"]].to_numpy(float)
            along_normal = np.einsum("ij,ij->i", np.nan_to_num(normal), shift_um)
            fronts["front_position_um"] = fronts["front_position_um"] + np.where(planar, along_normal, 0.0)
        for axis, column in enumerate(("centre_y_um", "centre_x_um")):
            if column in fronts:
                fronts[column] = fronts[column] + np.where(planar, 0.0, shift_um[:, axis])
    return tracks, fronts


def stage_jitter_message(jitter_px: np.ndarray, *, pixel_size_um: float, calibrated: bool) -> str:
    """The run's warning when jumps of the whole field were taken out."""
    steps = _jumps_px(jitter_px)
    unit, scale = ("µm", pixel_size_um) if calibrated else ("px", 1.0)
    return (
        f"the whole field jumped between frames (stage jitter) by up to {steps.max() * scale:.3g} {unit} "
        f"(median {np.median(steps) * scale:.2g} {unit}): taken out of the motion before linking; positions in "
        "the tables still follow the movie's frames (link.correct_stage_jitter = false to keep the jumps)"
    )
