"""Leaders from images when the movie has no units: the same movies with their units and without.

Without a frame interval (none in the file, none given) times are frame numbers, so the motion
window of about 30 minutes (``docs/leaders.md``) cannot be set from the time; leadertrack then takes
``leadertrack.features.UNCALIBRATED_WINDOW_FRAMES`` frames, the window of a 5-minute interval. Each
medium scenario of ``random_scenario`` (seeds ``FIRST_SEED`` on, as in the ``pipeline`` section;
planar, scratch and radial) is rendered and analysed three times with defaults: saved as
OME-TIFF with its pixel size and frame interval; saved as a plain TIFF without units; and the plain
TIFF again with a window of 31 frames, what 30 "minutes" of frame numbers give (the window before
``UNCALIBRATED_WINDOW_FRAMES``). Per-track leader F1 against the simulator's truth
(``leadertrack.evaluate.leader_agreement``). Writes the ``units`` section of ``docs/benchmarks.md``.

Run: ``python benchmarks/bench_units.py [--seeds N]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import tifffile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import table, with_interval, write_measured_section

import leadertrack.features
from leadertrack.evaluate import leader_agreement
from leadertrack.pipeline import analyze_movie
from leadertrack.synthetic import random_scenario, save_simulation, simulate_invasion

FIRST_SEED = 0
"""The seeds of the ``pipeline`` section."""
GEOMETRIES = ("planar", "scratch", "radial")
OLD_WINDOW_FRAMES = 31
"""The window 30 "minutes" of frame numbers gave (half-width 15 frames)."""


def _f1_without_units(path: Path, sim, truth: set[int], window_frames: int) -> float:
    """Leader F1 of the movie at ``path`` (no units) analysed with a motion window of ``window_frames``."""
    default = leadertrack.features.UNCALIBRATED_WINDOW_FRAMES
    leadertrack.features.UNCALIBRATED_WINDOW_FRAMES = window_frames  # read by leadertrack.pipeline at each run
    try:
        result = analyze_movie(path)
    finally:
        leadertrack.features.UNCALIBRATED_WINDOW_FRAMES = default
    assert not result.provenance["units"]["time_calibrated"], "the plain TIFF must have no frame interval"
    return leader_agreement(result.tracks, result.cells, sim.labels, truth)["f1"]


def one(seed: int, geometry: str) -> dict:
    """Leader F1 of one medium scenario with its units, without them, and without them on the old window."""
    options = random_scenario(seed, difficulty="medium", geometry=geometry)
    sim = simulate_invasion(**options)
    truth = set(sim.cells.loc[sim.cells["is_leader"], "track_id"])
    with tempfile.TemporaryDirectory() as folder:
        calibrated, plain = Path(folder) / "movie.ome.tif", Path(folder) / "plain.tif"
        save_simulation(sim, calibrated)
        tifffile.imwrite(plain, sim.image)
        with_units = analyze_movie(calibrated)
        return {
            "geometry": geometry, "seed": seed, "interval_min": options["frame_interval_min"], "frames": options["n_frames"],
            "f1_with_units": leader_agreement(with_units.tracks, with_units.cells, sim.labels, truth)["f1"],
            "f1_without_units": _f1_without_units(plain, sim, truth, leadertrack.features.UNCALIBRATED_WINDOW_FRAMES),
            "f1_without_units_31_frame_window": _f1_without_units(plain, sim, truth, OLD_WINDOW_FRAMES),
        }


def _one(case: tuple[int, str]) -> dict:
    return one(*case)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per geometry: movies and the mean F1 of each way of running, each with its interval."""
    columns = ["f1_with_units", "f1_without_units", "f1_without_units_31_frame_window"]
    summary = runs.groupby("geometry", sort=False).agg(movies=("seed", "size"), **{c: (c, "mean") for c in columns}).reset_index()
    for column in columns:
        summary = with_interval(summary, runs, ["geometry"], column=column)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="scenarios per geometry")
    args = parser.parse_args(argv)
    cases = [(FIRST_SEED + s, g) for g in GEOMETRIES for s in range(args.seeds)]
    with ProcessPoolExecutor() as pool:
        runs = pd.DataFrame(list(pool.map(_one, cases)))
    summary = summarise(runs)
    print(summary.to_string(index=False))
    write_measured_section(
        "units", "Leaders from images when the movie has no units",
        "Each medium scenario of `random_scenario` (seeds "
        f"{FIRST_SEED}-{FIRST_SEED + args.seeds - 1} per geometry; those of the `pipeline` section come first) analysed "
        "with defaults three times: saved as OME-TIFF with its pixel size and frame interval (`f1_with_units`); "
        "saved as a plain TIFF without units (`f1_without_units`: times are frame numbers, and the motion window is "
        f"`UNCALIBRATED_WINDOW_FRAMES` = {leadertrack.features.UNCALIBRATED_WINDOW_FRAMES} frames, the window of a "
        "5-minute interval); and the plain TIFF with a window of 31 frames, what 30 \"minutes\" of frame numbers "
        "gave before (`f1_without_units_31_frame_window`: tracks under 15 frames could not lead). Per-track leader "
        "F1 (mean over movies, `_ci95`: the 95 % bootstrap interval of that mean). The scenarios' intervals are "
        f"2-15 min (`interval_min` below). `python benchmarks/bench_units.py --seeds {args.seeds}`.",
        table(summary),
        table(runs.round({"interval_min": 1})),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
