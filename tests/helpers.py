"""Small helpers shared by test modules (imported as ``helpers``: tests/ is on sys.path)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import tifffile

from leadertrack.config import RunConfig


def fast_config() -> RunConfig:
    """A configuration for tiny synthetic movies: no report, nucleus size and search range given."""
    config = RunConfig()
    config.output.report = False
    config.segment.nucleus_diameter_um = 10.0
    config.link.search_range_um = 6.0
    return config


class SegmentCalls(list):
    """Names of the threads of the ``segment_frame`` calls, and how many ran at once at most."""

    most_at_once = 0


def segmenting_threads(monkeypatch) -> SegmentCalls:
    """Spy on segmentation: the returned list gets the name of the thread of every ``segment_frame`` call."""
    import threading

    import leadertrack.segment

    real_segment = leadertrack.segment.segment_frame
    calls = SegmentCalls()
    running = [0]
    lock = threading.Lock()

    def segment_frame(image, **kwargs):
        with lock:
            calls.append(threading.current_thread().name)
            running[0] += 1
            calls.most_at_once = max(calls.most_at_once, running[0])
        try:
            return real_segment(image, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(leadertrack.segment, "segment_frame", segment_frame)
    return calls


def write_plate(folder: Path, names: Sequence[str], *, n_frames: int, field_um: tuple[float, float]) -> Path:
    """Write one small calibrated (ImageJ: 1 µm/px, 2 min/frame) simulated movie per name."""
    from leadertrack.synthetic import simulate_invasion

    for seed, name in enumerate(names):
        sim = simulate_invasion(geometry="planar", n_frames=n_frames, field_um=field_um, frame_interval_min=2.0, seed=seed)
        tifffile.imwrite(
            folder / f"{name}.tif",
            sim.image,
            imagej=True,
            metadata={"axes": "TYX", "finterval": 120.0, "unit": "um"},
            resolution=(1.0, 1.0),
        )
    return folder
