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

The same with movies of the second, independent simulator (``bench_foreign.py``, seeds from 7300,
never looked at while choosing the defaults), at jitter 0 and 0.3.

Run: ``python benchmarks/bench_jitter.py [--seeds N] [--foreign-movies M]``; writes the ``jitter``
section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _perturbed import FOREIGN_FIRST_SEED, GEOMETRIES, arguments, run_all
from _report import machine_line, paired_gain_ci95, table, write_section

from leadertrack.config import RunConfig
from leadertrack.evaluate import leader_agreement
from leadertrack.pipeline import analyze_movie
from leadertrack.stage import MAX_JUMP_DIAMETERS
from leadertrack.synthetic import (
    Simulation,
    random_scenario,
    save_simulation,
    simulate_invasion,
)

JITTERS = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)
"""Standard deviation of the shift of each frame, in y and in x, in nucleus diameters."""


def jitter_frames(
    image: np.ndarray, labels: np.ndarray, diameter_px: float, jitter: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every frame (and its truth masks) moved by a random whole-pixel shift, filled with the background; the shifts (T, 2)."""
    shifts = np.rint(np.random.default_rng(seed).normal(0.0, jitter * diameter_px, (len(image), 2)))
    shifts[0] = 0.0
    background = float(np.median(image))
    moved = np.stack([ndi.shift(f, s, order=0, mode="constant", cval=background) for f, s in zip(image, shifts)])
    moved_labels = np.stack([ndi.shift(f, s, order=0, mode="constant", cval=0) for f, s in zip(labels, shifts)])
    return moved.astype(image.dtype), moved_labels, shifts


def jittered(sim: Simulation, jitter: float, seed: int) -> tuple[Simulation, np.ndarray]:
    """``sim`` with every frame (and its truth masks) moved by a random whole-pixel shift; the shifts (T, 2)."""
    image, labels, shifts = jitter_frames(sim.image, sim.labels, sim.nucleus_diameter_um / sim.pixel_size_um, jitter, seed)
    return replace(sim, image=image, labels=labels), shifts


def score_runs(
    path: Path, labels: np.ndarray, truth_leaders: set[int], shifts: np.ndarray, *, diameter_px: float, pixel_size_um: float
) -> list[dict]:
    """The movie at ``path`` run with the correction on and off: leader F1, tracks per true track, what was taken out."""
    n_true_tracks = max(len(np.unique(labels)) - 1, 1)
    largest_step = float(np.linalg.norm(np.diff(shifts, axis=0), axis=1).max() / diameter_px)
    rows = []
    for correct in (True, False):
        config = RunConfig()
        config.link.correct_stage_jitter = correct
        with warnings.catch_warnings():  # each run's warnings are in its provenance; the jitter ones are expected
            warnings.simplefilter("ignore")
            result = analyze_movie(path, config)
        taken_out = result.provenance["stage_jitter_um"]
        step_error = np.nan
        if taken_out is not None:
            error = np.diff(np.asarray(taken_out) / pixel_size_um - shifts, axis=0)
            step_error = float(np.median(np.linalg.norm(error, axis=1)) / diameter_px)
        rows.append({
            "corrected": correct,
            "f1": leader_agreement(result.tracks, result.cells, labels, truth_leaders)["f1"],
            "tracks_per_true_track": len(result.cells) / n_true_tracks,
            "jumps_taken_out": taken_out is not None,
            "step_error_diameters": step_error,
            "largest_step_applied": largest_step,
        })
    return rows


def one(case: tuple[int, str, float]) -> list[dict]:
    """A movie of the package's simulator (medium), jittered."""
    seed, geometry, jitter = case
    sim = simulate_invasion(**random_scenario(seed, difficulty="medium", geometry=geometry))
    sim, shifts = jittered(sim, jitter, seed=1000 + seed)
    truth_leaders = set(sim.cells.loc[sim.cells["is_leader"], "track_id"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{geometry}_{seed}.ome.tif"
        save_simulation(sim, path, truth_dir=Path(tmp) / "truth")
        rows = score_runs(path, sim.labels, truth_leaders, shifts, diameter_px=sim.nucleus_diameter_um / sim.pixel_size_um,
                          pixel_size_um=sim.pixel_size_um)
    return [{"geometry": geometry, "seed": seed, "jitter": jitter, **row} for row in rows]


def one_foreign(case: tuple[int, str, float]) -> list[dict]:
    """A movie of the second, independent simulator (``bench_foreign.py``), jittered."""
    import bench_foreign

    seed, geometry, jitter = case
    movie = bench_foreign.simulate(seed, geometry)
    diameter_px = movie.params["diameter_um"] / movie.params["pixel_um"]
    image, labels, shifts = jitter_frames(movie.image, movie.labels, diameter_px, jitter, seed)
    movie = replace(movie, image=image, labels=labels)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"foreign_{geometry}_{seed}.ome.tif"
        bench_foreign.save(movie, path)
        rows = score_runs(path, labels, movie.leaders, shifts, diameter_px=diameter_px, pixel_size_um=movie.params["pixel_um"])
    return [{"geometry": geometry, "seed": seed, "jitter": jitter, **row} for row in rows]


def _number_or_dash(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.3f}"


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    """One row per jitter: F1 with and without taking the jumps out, tracks per true track, runs that did."""
    rows = []
    for jitter, group in raw.groupby("jitter"):
        on, off = group[group["corrected"]], group[~group["corrected"]]
        row = {"jitter (diameters)": jitter, "f1": on["f1"].mean(), "f1 without correction": off["f1"].mean(),
               "gain in f1 (95 % interval)": paired_gain_ci95(on, off, ["geometry", "seed"])}
        row.update({f"f1 {g}": on.loc[on["geometry"] == g, "f1"].mean() for g in GEOMETRIES if g in set(raw["geometry"])})
        row.update({
            "tracks per true track": on["tracks_per_true_track"].mean(),
            "same, without correction": off["tracks_per_true_track"].mean(),
            "movies with jumps taken out": f"{int(on['jumps_taken_out'].sum())} / {len(on)}",
            "step error (diameters)": _number_or_dash(on["step_error_diameters"].median()),
            "largest step applied (diameters)": on["largest_step_applied"].max(),
        })
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    args = arguments(__doc__.splitlines()[0], "jitter 0 and 0.3", argv)
    raw, foreign = run_all(one, one_foreign, strengths=JITTERS, foreign_strengths=(0.0, 0.3), args=args)
    summary, foreign_summary = summarise(raw), summarise(foreign)
    print(summary.to_string())
    print(foreign_summary.to_string())
    steady = summary.loc[summary["jitter (diameters)"] == 0, "f1"].iloc[0]
    moderate = summary[summary["jitter (diameters)"].between(0.2, 0.5)]
    text = f"""## Stage jitter: leaders from images when the whole field jumps between frames

{machine_line()}

Simulated movies (`random_scenario`, medium, seeds 0-{args.seeds - 1} per geometry), each frame and its truth masks moved by a whole-pixel shift drawn from a normal distribution of `jitter` nucleus diameters in y and in x (frame 0 stays), as when a microscope revisits several positions. Run with defaults (units from the file, nucleus diameter estimated, geometry auto), with `[link] correct_stage_jitter` on (the default) and, in the same run, off. `f1`: per-track leader F1 (mean over movies); `gain in f1`: the 95 % bootstrap interval of the mean gain from the correction, movie by movie (resampling the movies; an interval that holds 0 is no sign of a gain or a loss); `tracks per true track`: found tracks / true tracks (jumps break tracks into pieces); `movies with jumps taken out`: runs that measured a jump of at least 0.4 nucleus diameters and took the jumps out (`leadertrack.stage`); `step error`: median distance between the jump taken out and the shift applied, from each frame to the next, in nucleus diameters; `largest step applied`: the largest shift between consecutive frames over the movies. `python benchmarks/bench_jitter.py --seeds {args.seeds}`.

{table(summary)}

With jumps of 0.2-0.5 nucleus diameters the leader F1 is {moderate["f1"].min():.3f}-{moderate["f1"].max():.3f} with the correction (without jitter {steady:.3f}) and {moderate["f1 without correction"].min():.3f}-{moderate["f1 without correction"].max():.3f} without it. At 1 diameter, consecutive frames differ by up to {summary["largest step applied (diameters)"].max():.1f} diameters, beyond the {MAX_JUMP_DIAMETERS:g} diameters looked for (`leadertrack.stage.MAX_JUMP_DIAMETERS`), and more of each frame's content has left the field.

The same on movies of the second, independent simulator (`benchmarks/bench_foreign.py`, seeds {FOREIGN_FIRST_SEED}-{FOREIGN_FIRST_SEED + args.foreign_movies - 1} per geometry, never looked at while choosing the defaults; jitter drawn with the movie's seed): `python benchmarks/bench_jitter.py --foreign-movies {args.foreign_movies}`.

{table(foreign_summary)}
"""
    write_section("jitter", text)


if __name__ == "__main__":
    main()
