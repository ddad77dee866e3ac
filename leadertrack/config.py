"""Run configuration: one model with a section per pipeline stage.

The field descriptions are the documentation: ``leadertrack config`` prints the
defaults as TOML with these descriptions as comments, and every ``run.json``
stores the resolved configuration so a result can be reproduced.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Literal, get_args

import tomli_w
from pydantic import BaseModel, ConfigDict, Field

from leadertrack.errors import InputError

__all__ = [
    "UnitsConfig",
    "SegmentConfig",
    "LinkConfig",
    "FrontConfig",
    "ClassifyConfig",
    "OutputConfig",
    "RunConfig",
    "load_config",
    "config_to_toml",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class UnitsConfig(_Section):
    pixel_size_um: float | None = Field(
        None, gt=0, description="Pixel size in µm. Overrides the file's metadata; None = use the metadata."
    )
    frame_interval_min: float | None = Field(
        None, gt=0, description="Time between frames in minutes. Overrides the file's metadata; None = use the metadata."
    )


class SegmentConfig(_Section):
    nucleus_diameter_um: float | None = Field(
        None,
        gt=0,
        description="Typical nucleus diameter in µm. Every segmentation default derives from it. "
        "None = estimate it from the movie (reported in run.json).",
    )
    channel: int | None = Field(None, ge=0, description="Channel holding the nuclei, for (T,C,Y,X) movies.")
    z_projection: Literal["max"] | None = Field(
        None,
        description="'max': read a Z-stack time-lapse ((T,Z,Y,X), with or without channels) as its maximum "
        "intensity projection over Z. None = a Z stack is an error.",
    )
    smoothing_fraction: float = Field(
        0.1, gt=0, le=1, description="Gaussian smoothing sigma as a fraction of the nucleus diameter."
    )
    min_area_fraction: float = Field(
        0.2, gt=0, description="Objects smaller than this fraction of a typical nucleus area are dropped."
    )
    max_area_fraction: float = Field(
        5.0, gt=0, description="Objects larger than this multiple of a typical nucleus area are dropped."
    )
    split_touching: bool = Field(True, description="Split touching nuclei: a watershed of the nucleus-scale blob response, then cuts at necks.")
    flatten_background: bool = Field(
        True,
        description="Take a steep slope of the background across the field (uneven illumination, haze) out of each frame "
        "before thresholding: a plane fitted under the nuclei, used when it rises by 40 noise standard deviations or more.",
    )
    glow: bool | None = Field(
        None,
        description="The background glows, as around a spheroid's out-of-focus body: with flatten_background, take each "
        "frame's lower envelope out instead of a plane. None = decide from the movie (reported in run.json as "
        "background_glow).",
    )


class LinkConfig(_Section):
    max_speed_um_per_min: float | None = Field(
        None,
        gt=0,
        description="Fastest expected cell speed in µm/min. Sets the search range together with the frame interval. "
        "None = derive the search range from the nucleus diameter.",
    )
    search_range_um: float | None = Field(
        None, gt=0, description="Largest displacement between frames in µm. None = derive it (see max_speed_um_per_min)."
    )
    memory: int = Field(3, ge=0, description="Frames a cell may vanish and still be linked to its track (gap closing).")
    max_gap_frames: int | None = Field(
        None,
        ge=0,
        description="Longest gap (frames) closed after linking by one assignment of track ends to later track starts, "
        "which also undoes merges of two touching nuclei. With label masks given, a track ending or starting within half "
        "a nucleus diameter of the image's edge is not joined (the cell left the field, or came in). "
        "None = 2 x (memory + 1); 0 = the frame-to-frame links only.",
    )
    predict: bool = Field(True, description="Predict each cell's next position from its recent velocity.")
    correct_stage_jitter: bool = Field(
        True,
        description="Take jumps of the whole field between frames (a stage revisiting positions, or slipping) out of the "
        "motion, when one reaches 0.4 nucleus diameters and at least a fifth of the nuclei (10 or more) moved with it; "
        "a smooth motion of the whole field is kept.",
    )
    min_track_length: int = Field(3, ge=1, description="Tracks shorter than this many frames are dropped.")


class FrontConfig(_Section):
    geometry: Literal["auto", "planar", "radial"] = Field(
        "auto", description="Invasion geometry: planar (wound edge, monolayer), radial (spheroid), or auto."
    )


class ClassifyConfig(_Section):
    model_path: str | None = Field(
        None, description="A trained leader model file (leadertrack train). None = the documented rule."
    )
    threshold: float = Field(0.5, ge=0, le=1, description="leader_score at or above which a track is a leader.")


ExportFormat = Literal["ctc", "geff", "trackmate", "parquet"]
"""The extra formats a result can be written in, beside its CSV tables."""
EXPORT_FORMATS: tuple[str, ...] = get_args(ExportFormat)


class OutputConfig(_Section):
    export: list[ExportFormat] = Field(
        default_factory=list, description="Extra export formats written beside the CSV tables."
    )
    report: bool = Field(True, description="Write report.html for each movie.")


class RunConfig(_Section):
    units: UnitsConfig = Field(default_factory=UnitsConfig)
    segment: SegmentConfig = Field(default_factory=SegmentConfig)
    link: LinkConfig = Field(default_factory=LinkConfig)
    front: FrontConfig = Field(default_factory=FrontConfig)
    classify: ClassifyConfig = Field(default_factory=ClassifyConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)


def load_config(path: str | Path) -> RunConfig:
    """Read a TOML configuration file, or the settings of an earlier run; unknown keys are an error.

    Parameters
    ----------
    path
        A TOML file with the sections of :class:`RunConfig` (``[segment]``, ``[link]``, ...), or
        a result's ``run.json`` (its ``config``: the settings that run was given, so that
        ``leadertrack run movie.tif --config OUT/movie/run.json`` runs with them again; what that
        run estimated or derived, such as the nucleus diameter, is estimated again).

    Returns
    -------
    RunConfig
        The validated configuration; missing keys keep their defaults.

    Raises
    ------
    InputError
        The file cannot be read, or is neither TOML nor a ``run.json``.
    pydantic.ValidationError
        A key is unknown or a value is out of range (NaN and infinity are refused too).
    """
    path = Path(path)
    is_run_json = path.suffix.lower() == ".json"
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if is_run_json else tomllib.loads(text)
    except (OSError, ValueError, RecursionError) as exc:  # JSON/TOML decode errors and UnicodeDecodeError are ValueErrors
        raise InputError(f"{path}: cannot read the configuration file: {exc or type(exc).__name__}") from None
    if is_run_json:
        if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
            raise InputError(f"{path}: not a leadertrack run.json (no 'config' section); give a TOML file from 'leadertrack config'")
        data = data["config"]
    return RunConfig.model_validate(data)


def config_to_toml(config: RunConfig, *, with_comments: bool = True) -> str:
    """Render ``config`` as TOML, optionally with each field's description as a comment."""
    data = config.model_dump(mode="json", exclude_none=True)
    if not with_comments:
        return tomli_w.dumps(data)
    lines: list[str] = []
    for section_name, section_field in RunConfig.model_fields.items():
        section: _Section = getattr(config, section_name)
        lines.append(f"[{section_name}]")
        for name, field in type(section).model_fields.items():
            lines.append(f"# {field.description}")
            value = getattr(section, name)
            if value is None:
                lines.append(f"# {name} = (not set)")
            else:
                lines.append(tomli_w.dumps({name: value}).strip())
        lines.append("")
    return "\n".join(lines)
