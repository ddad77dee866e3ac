"""Stage jitter: leaders from images when the whole field jumps between frames, with and without taking the jumps out.

A microscope revisiting several positions shifts each frame by a few µm. Simulated movies
(``random_scenario``, medium, planar / scratch / radial) are rendered, and each frame (and its truth
masks) is moved by a whole-pixel shift drawn from a normal distribution of ``jitter`` nucleus
diameters in y and in x (frame 0 stays; the field is filled with the background level). Each movie
runs through ``analyze_movie`` with defaults (units from the file, nucleus diameter estimated,
geometry auto), with ``[link] correct_stage_jitter`` on (the default) and off (the baseline, in the
same run). Reported: per-track leader F1 against the truth, tracks found per true track, whether
the run took jumps out, and how far the jumps it took out are from the shifts applied (the error
of the step between consecutive frames, in nucleus diameters).

Run: ``python benchmarks/bench_jitter.py [--seeds N]``; writes the ``jitter`` section of
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine_line, table, write_section

from leadertrack.config import RunConfig
from leadertrack.evaluate import leader_agreement
from leadertrack.pipeline import analyze_movie
from leadertrack.stage import MAX_JUMP_DIAMETERS
from leadertrack.synthetic import Simulation, random_scenario, save_simulation, simulate_invasion

GEOMETRIES = ("planar", "scratch", "radial")
JITTERS = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)
"""Standard deviation of the shift of each frame, in y and in x, in nucleus diameters."""


def jittered(sim: Simulation, jitter: float, seed: int) -> tuple[Simulation, np.ndarray]:
    """``sim`` with every frame (and its truth masks) moved by a random whole-pixel shift; the shifts (T, 2)."""
    diameter_px = sim.nucleus_diameter_um / sim.pixel_size_um
    shifts = np.rint(np.random.default_rng(seed).normal(0.0, jitter * diameter_px, (len(sim.image), 2)))
    shifts[0] = 0.0
    background = float(np.median(sim.image))
    image = np.stack([ndi.shift(f, s, order=0, mode="constant", cval=background) for f, s in zip(sim.image, shifts)])
    labels = np.stack([ndi.shift(f, s, order=0, mode="constant", cval=0) for f, s in zip(sim.labels, shifts)])
    return replace(sim, image=image.astype(sim.image.dtype), labels=labels), shifts


def one(case: tuple[int, str, float]) -> list[dict]:
    seed, geometry, jitter = case
    sim = simulate_invasion(**random_scenario(seed, difficulty="medium", geometry=geometry))
    sim, shifts = jittered(sim, jitter, seed=1000 + seed)
    diameter_px = sim.nucleus_diameter_um / sim.pixel_size_um
    truth_leaders = set(sim.cells.loc[sim.cells["is_leader"], "track_id"])
    n_true_tracks = sim.cells["track_id"].nunique()
    largest_step = float(np.linalg.norm(np.diff(shifts, axis=0), axis=1).max() / diameter_px) if len(shifts) > 1 else 0.0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{geometry}_{seed}.ome.tif"
        save_simulation(sim, path, truth_dir=Path(tmp) / "truth")
        for correct in (True, False):
            config = RunConfig()
            config.link.correct_stage_jitter = correct
            with warnings.catch_warnings():  # each run's warnings are in its provenance; the jitter ones are expected
                warnings.simplefilter("ignore")
                result = analyze_movie(path, config)
            taken_out = result.provenance["stage_jitter_um"]
            step_error = np.nan
            if taken_out is not None:
                error = np.diff(np.asarray(taken_out) / sim.pixel_size_um - shifts, axis=0)
                step_error = float(np.median(np.linalg.norm(error, axis=1)) / diameter_px)
            rows.append({
                "geometry": geometry, "seed": seed, "jitter": jitter, "corrected": correct,
                "f1": leader_agreement(result.tracks, result.cells, sim.labels, truth_leaders)["f1"],
                "tracks_per_true_track": len(result.cells) / n_true_tracks,
                "jumps_taken_out": taken_out is not None,
                "step_error_diameters": step_error,
                "largest_step_applied": largest_step,
            })
    return rows


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    """One row per jitter: F1 with and without taking the jumps out, tracks per true track, runs that did."""
    rows = []
    for jitter, group in raw.groupby("jitter"):
        on, off = group[group["corrected"]], group[~group["corrected"]]
        row = {"jitter (diameters)": jitter, "f1": on["f1"].mean(), "f1 without correction": off["f1"].mean()}
        row.update({f"f1 {g}": on.loc[on["geometry"] == g, "f1"].mean() for g in GEOMETRIES})
        row.update({
            "tracks per true track": on["tracks_per_true_track"].mean(),
            "same, without correction": off["tracks_per_true_track"].mean(),
            "movies with jumps taken out": f"{int(on['jumps_taken_out'].sum())} / {len(on)}",
            "step error (diameters)": on["step_error_diameters"].median(),
            "largest step applied (diameters)": on["largest_step_applied"].max(),
        })
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="simulated seeds per geometry (from 0)")
    args = parser.parse_args(argv)
    cases = [(seed, geometry, jitter) for jitter in JITTERS for seed in range(args.seeds) for geometry in GEOMETRIES]
    with ProcessPoolExecutor() as pool:
        raw = pd.DataFrame([row for rows in pool.map(one, cases) for row in rows])
    summary = summarise(raw)
    print(summary.to_string())
    steady = summary.loc[summary["jitter (diameters)"] == 0, "f1"].iloc[0]
    moderate = summary[summary["jitter (diameters)"].between(0.2, 0.5)]
    summary["step error (diameters)"] = summary["step error (diameters)"].map(lambda v: "-" if np.isnan(v) else f"{v:.3f}")
    text = f"""## Stage jitter: leaders from images when the whole field jumps between frames

{machine_line()}

Simulated movies (`random_scenario`, medium, seeds 0-{args.seeds - 1} per geometry), each frame and its truth masks moved by a whole-pixel shift drawn from a normal distribution of `jitter` nucleus diameters in y and in x (frame 0 stays), as when a microscope revisits several positions. Run with defaults (units from the file, nucleus diameter estimated, geometry auto), with `[link] correct_stage_jitter` on (the default) and, in the same run, off. `f1`: per-track leader F1 (mean over movies); `tracks per true track`: found tracks / true tracks (jumps break tracks into pieces); `movies with jumps taken out`: runs that measured a jump of at least 0.4 nucleus diameters and took the jumps out (`leadertrack.stage`); `step error`: median distance between the jump taken out and the shift applied, from each frame to the next, in nucleus diameters; `largest step applied`: the largest shift between consecutive frames over the movies. `python benchmarks/bench_jitter.py --seeds {args.seeds}`.

{table(summary)}

With jumps of 0.2-0.5 nucleus diameters the leader F1 is {moderate["f1"].min():.3f}-{moderate["f1"].max():.3f} with the correction (without jitter {steady:.3f}) and {moderate["f1 without correction"].min():.3f}-{moderate["f1 without correction"].max():.3f} without it. At 1 diameter, consecutive frames differ by up to {summary["largest step applied (diameters)"].max():.1f} diameters, beyond the {MAX_JUMP_DIAMETERS:g} diameters looked for (`leadertrack.stage.MAX_JUMP_DIAMETERS`), and more of each frame's content has left the field.
"""
    write_section("jitter", text)


if __name__ == "__main__":
    main()
