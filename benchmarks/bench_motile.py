"""A motile sheet: leaders from images when the cells of the collective also migrate at random.

Both simulators move the cells of the sheet (or spheroid) only with the collective's advance and a
small wobble about their place. In a real monolayer they also migrate, in swirls and at random, and
some of them reach the front moving outward for a while. This script makes movies of the second,
independent simulator (``bench_foreign.py``, seeds from 7300, never looked at while choosing the
defaults) whose sheet cells also walk at random, persistently (velocity correlation time 30 min), at
a root mean square speed of ``motility`` times the leaders' speed; every other draw of a movie stays
the same, so each motility is compared with the still sheet (``motility`` 0) on the same movies, in
the same run. Each movie runs through ``analyze_movie`` with defaults (units from the file, nucleus
diameter estimated, geometry auto). Reported per motility and geometry: leader precision, recall and
F1 per track (mean over movies), the 95 % bootstrap interval of the change in F1 from the still
sheet (movie by movie), false leaders per movie, and the movies the run warned about tracks at the
front running inward (the check for strands moving too far between frames, ``leadertrack.checks``).

Run: ``python benchmarks/bench_motile.py [--movies N]``; writes the ``motile`` section of
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _perturbed import FOREIGN_FIRST_SEED
from _report import machine_line, paired_gain_ci95, table, write_section

from leadertrack.evaluate import leader_agreement
from leadertrack.pipeline import analyze_movie

MOTILITIES = (0.0, 0.15, 0.3, 0.5)
"""Root mean square speed of the sheet cells' own random walk, as a fraction of the leaders' speed."""


def one(case: tuple[int, str, float]) -> dict:
    """Leader agreement on one movie of the second simulator with a motile sheet."""
    import bench_foreign

    seed, geometry, motility = case
    movie = bench_foreign.simulate(seed, geometry, sheet_motility=motility)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"foreign_{geometry}_{seed}.ome.tif"
        bench_foreign.save(movie, path)
        result = analyze_movie(path)
    scores = leader_agreement(result.tracks, result.cells, movie.labels, movie.leaders)
    true_found = round(scores["recall"] * scores["n_true"])
    return {
        "geometry": geometry, "seed": seed, "motility": motility, **{k: scores[k] for k in ("precision", "recall", "f1")},
        "false_leaders": scores["n_found"] - true_found,
        "inward_warning": any("steadily inward" in message for message in result.provenance["warnings"]),
    }


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per geometry and motility, with the change in F1 from the still sheet on the same movies."""
    rows = []
    for (geometry, motility), group in runs.groupby(["geometry", "motility"]):
        still = runs[(runs["geometry"] == geometry) & (runs["motility"] == 0.0)]
        rows.append({
            "geometry": geometry, "motility": motility, "movies": len(group), "precision": group["precision"].mean(),
            "recall": group["recall"].mean(), "f1": group["f1"].mean(),
            "change in f1 (95 % interval)": "-" if motility == 0.0 else paired_gain_ci95(group, still, ["seed"]),
            "false leaders per movie": group["false_leaders"].mean(),
            "inward warnings": f"{int(group['inward_warning'].sum())} / {len(group)}",
        })
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movies", type=int, default=15, help=f"movies per geometry (seeds from {FOREIGN_FIRST_SEED})")
    args = parser.parse_args(argv)
    seeds = range(FOREIGN_FIRST_SEED, FOREIGN_FIRST_SEED + args.movies)
    cases = [(seed, geometry, motility) for motility in MOTILITIES for geometry in ("planar", "radial") for seed in seeds]
    with ProcessPoolExecutor() as pool:
        runs = pd.DataFrame(list(pool.map(one, cases)))
    summary = summarise(runs)
    print(summary.to_string(index=False))
    text = f"""## A motile sheet: leaders from images when the cells of the collective also migrate

{machine_line()}

Movies of the second, independent simulator (`benchmarks/bench_foreign.py`, seeds {seeds[0]}-{seeds[-1]} per geometry, never looked at while choosing the defaults) whose sheet (or spheroid) cells also walk at random, persistently (velocity correlation time 30 min), at a root mean square speed of `motility` times the leaders' speed; every other draw the same, so motility 0 (the still sheet of the other sections) is the baseline on the same movies, in the same run. Neither simulator otherwise moves the collective's cells on their own, as cells of a real monolayer do. Run with defaults (units from the file, nucleus diameter estimated, geometry auto). `change in f1`: the 95 % bootstrap interval of the mean change from the still sheet, movie by movie; `inward warnings`: runs that found many tracks at the front running inward and linked again (the check for strands moving too far between frames). `python benchmarks/bench_motile.py --movies {args.movies}`.

{table(summary)}
"""
    write_section("motile", text)


if __name__ == "__main__":
    main()
