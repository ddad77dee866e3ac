"""Negative controls: leaders called on movies where nobody leads.

A control movie (a wound closed by the sheet advancing as a whole, a spheroid that grows without
sending out strands, cells milling about) should give no leaders; zero is a valid answer
(issue 3). This benchmark counts the leaders called where there are none:

- the package's simulator (``random_scenario``, medium and hard) with ``n_leaders=0``: a planar
  sheet, a scratch gap or a spheroid whose edge advances, with its decoys (cells near the edge
  that run fast in a drifting heading), noise and ragged edge, but no strands; and geometry
  ``none``, cells milling about with no front. Each movie is analysed from its true tracks
  (``measure`` + ``classify``) and from its images (``analyze_movie`` with defaults: units from
  the file, nucleus diameter estimated, geometry auto);
- the second, independent simulator (``bench_foreign.py``) with its strands left out, planar and
  radial, from its images.

Per row: the movies, the tracks per movie, the leaders called per movie, the share of movies with
no leader called, and the leaders called per 1000 tracks. There is no naive rule beside it: the
rule a user would script takes the k tracks that moved furthest outward, and k comes from knowing
how many leaders there are.

Run: ``python benchmarks/bench_null.py [--seeds N] [--foreign-movies M]``; writes the ``null``
section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_foreign
from _perturbed import FOREIGN_FIRST_SEED
from _report import machine_line, table, write_section

from leadertrack.classify import classify
from leadertrack.features import measure
from leadertrack.pipeline import analyze_movie
from leadertrack.synthetic import Simulation, random_scenario, save_simulation, simulate_invasion

GEOMETRIES = ("planar", "scratch", "radial", "none")
DIFFICULTIES = ("medium", "hard")
FIRST_SEED = 8000
"""Seeds of the package's simulator from here on were never looked at while choosing a default."""
TRACK_COLUMNS = ["track_id", "frame", "time_min", "y_um", "x_um"]
SIMULATORS = {"package": "the package's simulator", "second": "the second simulator"}


def leaderless(seed: int, geometry: str, difficulty: str) -> Simulation:
    """A rendered ``random_scenario`` movie in which nobody leads (``n_leaders=0``; ``none`` has no leaders)."""
    options = random_scenario(seed, difficulty=difficulty, geometry=geometry)
    if geometry != "none":
        options["n_leaders"] = 0
    return simulate_invasion(**options)


def _counts(cells: pd.DataFrame) -> dict:
    return {"tracks": len(cells), "leaders": int(cells["is_leader"].sum())}


def one(case: tuple[int, str, str]) -> list[dict]:
    """Leaders called on one leaderless movie of the package's simulator, from true tracks and from images."""
    seed, geometry, difficulty = case
    warnings.simplefilter("ignore")
    sim = leaderless(seed, geometry, difficulty)
    if sim.cells["is_leader"].any():
        raise RuntimeError(f"seed {seed} {geometry}: the simulator made a leader")
    tracks, cells, _ = measure(sim.tracks[TRACK_COLUMNS], field_um=sim.params["field_um"])
    _, cells = classify(tracks, cells)
    row = {"simulator": "package", "geometry": geometry, "difficulty": difficulty, "seed": seed}
    rows = [{**row, "input": "true tracks", **_counts(cells)}]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{geometry}_{seed}.ome.tif"
        save_simulation(sim, path)
        result = analyze_movie(path)
    return [*rows, {**row, "input": "images", **_counts(result.cells)}]


def one_foreign(case: tuple[int, str]) -> list[dict]:
    """Leaders called from the images of one movie of the second simulator without its strands."""
    seed, geometry = case
    warnings.simplefilter("ignore")
    movie = bench_foreign.simulate(seed, geometry, strands=False)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"foreign_{geometry}_{seed}.ome.tif"
        bench_foreign.save(movie, path)
        result = analyze_movie(path)
    return [{"simulator": "second", "geometry": geometry, "difficulty": "-", "seed": seed, "input": "images", **_counts(result.cells)}]


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    """One row per simulator, geometry, difficulty and input: leaders called where there are none."""
    keys = ["simulator", "geometry", "difficulty", "input"]
    grouped = raw.assign(none_called=raw["leaders"] == 0).groupby(keys, sort=False)
    summary = grouped.agg(
        movies=("seed", "size"), tracks_per_movie=("tracks", "mean"), leaders_per_movie=("leaders", "mean"),
        movies_with_none=("none_called", "mean"), leaders=("leaders", "sum"), tracks=("tracks", "sum"),
    ).reset_index()
    summary["leaders_per_1000_tracks"] = 1000.0 * summary["leaders"] / summary["tracks"].clip(lower=1)
    summary["tracks_per_movie"] = summary["tracks_per_movie"].round(0).astype(int)
    return summary.drop(columns=["leaders", "tracks"])


def in_all(raw: pd.DataFrame) -> str:
    """Leaders called, movies, and movies with none called, per simulator and input, in words."""
    by_input = raw.groupby(["simulator", "input"], sort=False).agg(
        movies=("seed", "size"), leaders=("leaders", "sum"), none=("leaders", lambda x: int((x == 0).sum())))
    return "; ".join(
        f"{SIMULATORS[simulator]} from {source}: {r.leaders} leaders called in {r.movies} movies, none in {r.none} of them"
        for (simulator, source), r in by_input.iterrows()
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help=f"seeds per geometry and difficulty of the package's simulator (from {FIRST_SEED})")
    parser.add_argument("--foreign-movies", type=int, default=10,
                        help=f"movies per geometry of the second simulator (seeds from {FOREIGN_FIRST_SEED})")
    args = parser.parse_args(argv)
    cases = [(seed, g, d) for g in GEOMETRIES for d in DIFFICULTIES for seed in range(FIRST_SEED, FIRST_SEED + args.seeds)]
    foreign_cases = [(seed, g) for g in ("planar", "radial") for seed in range(FOREIGN_FIRST_SEED, FOREIGN_FIRST_SEED + args.foreign_movies)]
    with ProcessPoolExecutor() as pool:
        rows = [row for rows in pool.map(one, cases) for row in rows]
        rows += [row for rows in pool.map(one_foreign, foreign_cases) for row in rows]
    raw = pd.DataFrame(rows)
    summary = summarise(raw)
    print(summary.to_string())
    text = f"""## Negative controls: leaders called on movies where nobody leads

{machine_line()}

Movies in which nobody invades, so every leader called is a false one: the package's simulator (`random_scenario` with `n_leaders=0`, seeds {FIRST_SEED}-{FIRST_SEED + args.seeds - 1} per geometry and difficulty, never looked at while choosing the defaults): a planar sheet, a scratch gap or a spheroid whose edge advances as a whole, with the difficulty's decoys (cells near the edge running fast in a drifting heading), noise and ragged edge, and `none`, cells milling about without a front; analysed from the true tracks (`measure` + `classify`) and from the images (`analyze_movie` with defaults: units from the file, nucleus diameter estimated, geometry auto). And the second, independent simulator (`benchmarks/bench_foreign.py`, seeds {FOREIGN_FIRST_SEED}-{FOREIGN_FIRST_SEED + args.foreign_movies - 1} per geometry) with its strands left out, from the images. `leaders_per_movie`: leaders called per movie (mean); `movies_with_none`: share of the movies with no leader called; `leaders_per_1000_tracks`: leaders called per 1000 tracks. For scale, the movies with leaders of the first section have 2.3 to 3.8 leaders each on average. `python benchmarks/bench_null.py --seeds {args.seeds} --foreign-movies {args.foreign_movies}`.

{table(summary)}

In all: {in_all(raw)}.
"""
    write_section("null", text)


if __name__ == "__main__":
    main()
