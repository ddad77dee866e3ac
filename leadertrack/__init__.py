"""leadertrack: find leader cells in time-lapse microscopy of collective cancer invasion.

The pipeline, one pure function per stage::

    movie = leadertrack.read_movie("movie.tif")            # lazy (T, Y, X) + units
    labels = leadertrack.segment(movie, nucleus_diameter_um=10)
    detections = leadertrack.detect(labels, movie)
    tracks = leadertrack.link(detections, search_range_um=15, pixel_size_um=..., frame_interval_min=...)
    tracks, cells, fronts = leadertrack.measure(tracks)     # front geometry + features
    tracks, cells = leadertrack.classify(tracks, cells)     # leader_score, is_leader, reason

or all of it, written to disk: ``leadertrack.run("movie.tif", out="results")``.
Heavy modules are imported on first use, so ``import leadertrack`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "InputError": "leadertrack.errors",
    "RunConfig": "leadertrack.config",
    "load_config": "leadertrack.config",
    "Movie": "leadertrack.io",
    "read_movie": "leadertrack.io",
    "read_labels": "leadertrack.io",
    "segment": "leadertrack.segment",
    "estimate_nucleus_diameter_px": "leadertrack.diameter",
    "detect": "leadertrack.detect",
    "link": "leadertrack.track",
    "find_front": "leadertrack.front",
    "measure": "leadertrack.features",
    "classify": "leadertrack.classify",
    "analyze_movie": "leadertrack.pipeline",
    "MovieResult": "leadertrack.pipeline",
    "write_result": "leadertrack.pipeline",
    "read_result": "leadertrack.pipeline",
    "run": "leadertrack.pipeline",
    "analyze_tracks": "leadertrack.pipeline",
    "apply_corrections": "leadertrack.pipeline",
    "simulate_invasion": "leadertrack.synthetic",
    "simulate_tracks": "leadertrack.synthetic",
    "random_scenario": "leadertrack.synthetic",
    "save_simulation": "leadertrack.synthetic",
    "read_tracks": "leadertrack.formats",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'leadertrack' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
