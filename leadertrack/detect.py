"""Label images to a detections table: one row per object per frame."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["detect", "detect_frame"]

COLUMNS = ["frame", "label", "y", "x", "area_px", "mean_intensity"]


def detect_frame(labels: np.ndarray, intensity: np.ndarray | None = None, *, frame: int = 0) -> pd.DataFrame:
    """Centroid, area and mean intensity of every object in one 2-D label image.

    Vectorised with :func:`numpy.bincount`: the cost is a few passes over the pixels, whatever
    the number of objects.

    Parameters
    ----------
    labels
        2-D integer labels, 0 = background.
    intensity
        Image of the same shape, or None (``mean_intensity`` is then NaN).
    frame
        Value of the ``frame`` column.

    Returns
    -------
    pandas.DataFrame
        Columns ``frame, label, y, x, area_px, mean_intensity``; one row per label, sorted by
        label; ``y``, ``x`` are the centroid in pixels.

    Examples
    --------
    >>> labels = np.zeros((5, 5), dtype=int)
    >>> labels[1:3, 1:3] = 7
    >>> detect_frame(labels, frame=2)
       frame  label    y    x  area_px  mean_intensity
    0      2      7  1.5  1.5        4             NaN
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"detect_frame expects 2-D labels, got shape {labels.shape}")
    if intensity is not None and np.shape(intensity) != labels.shape:
        raise ValueError(f"intensity shape {np.shape(intensity)} differs from labels shape {labels.shape}")
    flat = labels.ravel().astype(np.intp, copy=False)
    if flat.size and flat.min() < 0:
        raise ValueError("labels must be non-negative")
    size = int(flat.max()) + 1 if flat.size else 1
    values = None
    if size > flat.size + 1:  # sparse, huge label values: count over the values present, not up to the max
        values, flat = np.unique(flat, return_inverse=True)
        size = values.size
    area = np.bincount(flat, minlength=size)
    present = np.flatnonzero(area)
    label = present if values is None else values[present]
    present, label = present[label > 0], label[label > 0]
    pixels = np.flatnonzero(flat if values is None else values[flat])  # the objects' pixels only
    ids = flat[pixels]
    row, col = np.divmod(pixels, labels.shape[1])
    area_present = area[present]
    y = np.bincount(ids, weights=row, minlength=size)[present] / area_present
    x = np.bincount(ids, weights=col, minlength=size)[present] / area_present
    if intensity is None:
        mean_intensity = np.full(present.size, np.nan)
    else:
        weights = np.asarray(intensity).ravel()[pixels]
        mean_intensity = np.bincount(ids, weights=weights, minlength=size)[present] / area_present
    return pd.DataFrame(
        {
            "frame": np.full(present.size, frame, dtype=np.int64),
            "label": label.astype(np.int64),
            "y": y,
            "x": x,
            "area_px": area_present.astype(np.int64),
            "mean_intensity": mean_intensity,
        },
        copy=False,
    )


def detect(
    labels: Any,
    intensity: Any = None,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> pd.DataFrame:
    """Detections table of a (T,Y,X) label stack (or one 2-D label image).

    Parameters
    ----------
    labels
        (T,Y,X) or (Y,X) integer labels, numbered per frame or across frames.
    intensity
        The movie (a ``Movie`` or an array of the same shape), or None.
    progress
        ``progress("detect", done, total)`` is called after each frame.

    Returns
    -------
    pandas.DataFrame
        Columns ``frame, label, y, x, area_px, mean_intensity``, sorted by frame and label.

    Examples
    --------
    >>> stack = np.zeros((2, 6, 6), dtype=np.uint32)
    >>> stack[0, 0:2, 0:2] = 1
    >>> stack[1, 3:5, 2:4] = 1
    >>> detect(stack)[["frame", "y", "x"]]
       frame    y    x
    0      0  0.5  0.5
    1      1  3.5  2.5
    """
    if np.ndim(labels) == 2:
        return detect_frame(np.asarray(labels), None if intensity is None else np.asarray(intensity))
    n_frames = len(labels)
    tables = []
    for t in range(n_frames):
        if intensity is None:
            image = None
        elif hasattr(intensity, "frame"):  # a leadertrack Movie: read lazily
            image = intensity.frame(t)
        else:
            image = np.asarray(intensity[t])
        tables.append(detect_frame(np.asarray(labels[t]), image, frame=t))
        if progress is not None:
            progress("detect", t + 1, n_frames)
    if not tables:
        return detect_frame(np.zeros((1, 1), dtype=np.uint32))
    return pd.concat(tables, ignore_index=True)
