"""Physical units: pixel/frame columns to µm/min columns, and honest names when uncalibrated."""

from __future__ import annotations

import re

import pandas as pd

__all__ = ["add_physical_columns", "honest_column_names", "honest_text"]


def add_physical_columns(
    table: pd.DataFrame, *, pixel_size_um: float, frame_interval_min: float
) -> pd.DataFrame:
    """Return a copy of ``table`` with ``time_min``, ``y_um``, ``x_um`` (``z_um``) and ``area_um2``.

    Parameters
    ----------
    table
        Detections or tracks with ``frame`` and pixel coordinates ``y``, ``x`` (optionally ``z``
        and ``area_px``).
    pixel_size_um
        Edge length of one pixel in µm (isotropic in y and x; z uses the same size).
    frame_interval_min
        Time between frames in minutes.

    Examples
    --------
    >>> t = pd.DataFrame({"frame": [0, 2], "y": [1.0, 3.0], "x": [0.0, 4.0], "area_px": [10, 12]})
    >>> add_physical_columns(t, pixel_size_um=0.5, frame_interval_min=10)[["time_min", "y_um", "area_um2"]]
       time_min  y_um  area_um2
    0       0.0   0.5       2.5
    1      20.0   1.5       3.0
    """
    out = table.copy()
    out["time_min"] = out["frame"].astype(float) * frame_interval_min
    for axis in ("z", "y", "x"):
        if axis in out:
            out[f"{axis}_um"] = out[axis].astype(float) * pixel_size_um
    if "area_px" in out:
        out["area_um2"] = out["area_px"].astype(float) * pixel_size_um**2
    return out


_SPEED_IN_TEXT = re.compile(r"(\d) ?µm/min\b")
_LENGTH_IN_TEXT = re.compile(r"(\d) ?µm\b(?!/)")


def honest_text(text: str, *, space_calibrated: bool, time_calibrated: bool) -> str:
    """``text`` (a reason, a warning) with the units of its numbers as :func:`honest_column_names` names them.

    Only a number followed by ``µm`` or ``µm/min`` is changed, so words and flag names stay as they are.

    Examples
    --------
    >>> honest_text("gains +0.31 µm/min; behind the front (median 12 µm)", space_calibrated=False, time_calibrated=False)
    'gains +0.31 px/frame; behind the front (median 12 px)'
    >>> honest_text("gains +0.31 µm/min", space_calibrated=True, time_calibrated=False)
    'gains +0.31 µm/frame'
    """
    space, per = ("µm" if space_calibrated else "px"), ("min" if time_calibrated else "frame")
    text = _SPEED_IN_TEXT.sub(rf"\1 {space}/{per}", text)
    return text if space_calibrated else _LENGTH_IN_TEXT.sub(r"\1 px", text)


_SPACE = [
    (re.compile(r"_um2(?=_|$)"), "_px2"), (re.compile(r"_um(?=_|$)"), "_px"), (re.compile(r"100um2"), "100px2"),
    (re.compile(r"1000um3"), "1000px3"),
]
_TIME = [(re.compile(r"_per_min(?=_|$)"), "_per_frame"), (re.compile(r"^time_min$"), "time_frame"), (re.compile(r"_min$"), "_frames")]


def honest_column_names(
    columns: list[str], *, space_calibrated: bool, time_calibrated: bool
) -> dict[str, str]:
    """Map column names to names that do not claim units the movie does not have.

    A movie without a pixel size is analysed at 1 µm per pixel; its ``speed_um_per_min`` is really
    pixels per minute, so the written column is renamed ``speed_px_per_min``. Likewise without a
    frame interval ``_per_min`` becomes ``_per_frame``.

    Examples
    --------
    >>> honest_column_names(["speed_um_per_min", "time_min", "label"], space_calibrated=False, time_calibrated=False)
    {'speed_um_per_min': 'speed_px_per_frame', 'time_min': 'time_frame'}
    """
    mapping: dict[str, str] = {}
    for name in columns:
        new = name
        if not space_calibrated:
            for pattern, repl in _SPACE:
                new = pattern.sub(repl, new)
        if not time_calibrated:
            for pattern, repl in _TIME:
                new = pattern.sub(repl, new)
        if new != name:
            mapping[name] = new
    return mapping
