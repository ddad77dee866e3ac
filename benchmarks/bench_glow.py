"""A spheroid's glowing body: leaders from images when out-of-focus light from the spheroid lies under its rim.

In wide-field images of a spheroid in a matrix, light from the body's out-of-focus planes adds a
broad glow around it, brightest over the body and fading across the invasion zone. A plane under the
nuclei cannot follow it; the segmentation looks for such a glow in each movie and, where it finds
one, takes each frame's lower envelope out instead (``leadertrack.background``). Simulated radial
movies (``random_scenario``, medium) get a Gaussian glow centred on the spheroid, as wide (sigma) as
its radius in the first frame and as bright at its centre as ``glow`` times the nuclei's signal (the
movie's 99th percentile over its median), added to every frame. Each movie runs through
``analyze_movie`` with defaults and with a plane only (``bench_background.score_runs``). A run that
stops (no nuclei found to estimate the diameter from) counts as F1 0. Writes the ``glow`` section of
``docs/benchmarks.md``.

Run: ``python benchmarks/bench_glow.py [--seeds N]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import paired_gain_ci95, table, with_interval, write_measured_section
from _perturbed import FOREIGN_FIRST_SEED
from bench_background import score_runs

from leadertrack.synthetic import Simulation, random_scenario, save_simulation, simulate_invasion

GLOWS = (0.0, 0.25, 0.5, 1.0, 2.0)
"""Brightness of the glow at the spheroid's centre, as a fraction of the nuclei's signal."""


def glowing(sim: Simulation, glow: float) -> np.ndarray:
    """The movie of ``sim`` (a spheroid) plus a Gaussian glow centred on the spheroid, sigma its radius in the first
    frame, ``glow`` times the nuclei's signal (99th percentile over median) at its peak, in the movie's dtype."""
    first = sim.fronts.iloc[0]
    centre = np.array([first["centre_y_um"], first["centre_x_um"]]) / sim.pixel_size_um
    return with_glow(sim.image, centre, first["front_position_um"] / sim.pixel_size_um, glow)


def with_glow(image: np.ndarray, centre: np.ndarray, sigma: float, glow: float) -> np.ndarray:
    """``image`` (T, Y, X) plus a Gaussian glow centred on ``centre`` (y, x; px), ``sigma`` px wide, ``glow`` times the
    nuclei's signal (99th percentile over median) at its peak, in the image's dtype."""
    signal = float(np.percentile(image, 99)) - float(np.median(image))
    yy, xx = np.mgrid[: image.shape[1], : image.shape[2]].astype(np.float32)
    glow_image = glow * signal * np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / (2 * sigma**2))
    return np.clip(image + glow_image[None], 0, np.iinfo(image.dtype).max).astype(image.dtype)


RUNS = {"default": {}, "plane": {"glow": False}}
"""Each movie's runs: defaults (whether it glows decided from the movie), and a plane only (no glow looked for)."""


def one(case: tuple[int, float]) -> list[dict]:
    """One radial movie of the package's simulator (medium) with a glow, run with defaults and with a plane only."""
    seed, glow = case
    sim = simulate_invasion(**random_scenario(seed, difficulty="medium", geometry="radial"))
    truth_leaders = set(sim.cells.loc[sim.cells["is_leader"], "track_id"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"radial_{seed}.ome.tif"
        save_simulation(replace(sim, image=glowing(sim, glow)), path)
        rows = score_runs(path, sim.labels, truth_leaders, n_visible=int((sim.tracks["label"] > 0).sum()),
                          diameter_um=sim.nucleus_diameter_um, runs=RUNS)
    return [{"seed": seed, "glow": glow, **row} for row in rows]


def one_foreign(case: tuple[int, float]) -> list[dict]:
    """One radial movie of the second, independent simulator (``bench_foreign.py``) with a glow: centred on the field
    (the spheroid's centre), sigma the 95th percentile of the distances of its nuclei's pixels from there in the first
    frame (its radius, within a few per cent)."""
    import bench_foreign

    seed, glow = case
    movie = bench_foreign.simulate(seed, "radial")
    centre = (np.array(movie.image.shape[1:]) - 1) / 2
    ys, xs = np.nonzero(movie.labels[0])
    radius = float(np.percentile(np.hypot(ys - centre[0], xs - centre[1]), 95))
    movie = replace(movie, image=with_glow(movie.image, centre, radius, glow))
    n_visible = int(sum(len(np.unique(frame)) - 1 for frame in movie.labels))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"foreign_radial_{seed}.ome.tif"
        bench_foreign.save(movie, path)
        rows = score_runs(path, movie.labels, movie.leaders, n_visible=n_visible, diameter_um=movie.params["diameter_um"],
                          runs=RUNS)
    return [{"seed": seed, "glow": glow, **row} for row in rows]


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    """One row per glow: leader F1 with defaults and with a plane only (and the interval of the gain), cells found,
    movies taken to glow, runs stopped."""
    rows = []
    for glow, group in raw.groupby("glow"):
        on, plane = (group[group["run"] == run] for run in RUNS)
        rows.append({
            "glow (of the nuclei's signal)": glow, "movies": len(on), "f1": on["f1"].mean(),
            "f1 plane only": plane["f1"].mean(), "gain in f1 (95 % interval)": paired_gain_ci95(on, plane, ["seed"]),
            "cells found": on["cells_found"].mean(), "cells found, plane only": plane["cells_found"].mean(),
            "movies taken to glow": on["background_glow"].mean(), "runs stopped": int(on["stopped"].sum()),
        })
    summary = pd.DataFrame(rows)
    on = raw[raw["run"] == "default"].rename(columns={"glow": "glow (of the nuclei's signal)"})
    return with_interval(summary, on, ["glow (of the nuclei's signal)"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="radial movies (seeds from 0)")
    parser.add_argument("--foreign-movies", type=int, default=10,
                        help=f"radial movies of the second simulator (seeds from {FOREIGN_FIRST_SEED})")
    args = parser.parse_args(argv)
    foreign_seeds = range(FOREIGN_FIRST_SEED, FOREIGN_FIRST_SEED + args.foreign_movies)
    with ProcessPoolExecutor() as pool:
        raw = pd.DataFrame([row for rows in pool.map(one, [(s, g) for g in GLOWS for s in range(args.seeds)]) for row in rows])
        foreign = pd.DataFrame([row for rows in pool.map(one_foreign, [(s, g) for g in GLOWS for s in foreign_seeds]) for row in rows])
    summary, foreign_summary = summarise(raw), summarise(foreign)
    print(summary.to_string(index=False))
    print(foreign_summary.to_string(index=False))
    write_measured_section(
        "glow", "A spheroid's glowing body: leaders from images under out-of-focus light",
        f"Simulated radial movies (`random_scenario`, medium, seeds 0-{args.seeds - 1}) with a Gaussian glow added to "
        "every frame: centred on the spheroid, sigma its radius in the first frame, `glow` times the nuclei's signal "
        "(the movie's 99th percentile over its median) at its peak, as out-of-focus light from a spheroid's body gives "
        "in a wide-field image. Each movie is run with defaults (whether its background glows is decided from the "
        "movie, `leadertrack.background.has_glow`, and in a movie that glows each frame's lower envelope is taken "
        "out) and, in the same run, with a plane only (`[segment] glow = false`: as before the glow was looked for; "
        "not flattening at all gave the same F1 at every glow). `f1`: per-track leader F1 with defaults (mean over "
        "movies, `f1_ci95` its 95 % bootstrap interval); `gain in f1`: the interval of the mean gain over the plane, "
        "movie by movie; `cells found`: found cell-frames per visible true cell-frame; `movies taken to glow`: the share of "
        "movies whose background the run took to glow; `runs stopped`: movies where no nuclei were found to "
        "estimate the diameter from (F1 0). "
        f"`python benchmarks/bench_glow.py --seeds {args.seeds}`.",
        table(summary),
        "The same on radial movies of the second, independent simulator (`benchmarks/bench_foreign.py`, seeds "
        f"{foreign_seeds.start}-{foreign_seeds.stop - 1}, never looked at while choosing the defaults; Poisson noise, "
        "a flat background of its own), the glow centred on the field, sigma the spheroid's radius in the first frame: "
        f"`python benchmarks/bench_glow.py --foreign-movies {args.foreign_movies}`.",
        table(foreign_summary),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
