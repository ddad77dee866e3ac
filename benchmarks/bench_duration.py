"""How long a movie must be for its leaders to be told apart: leader F1 against the movie's length in motion windows.

The classifier judges motion over a sliding window of about 30 min (``leadertrack.features.WINDOW_MIN``,
at least 5 frames). A movie spanning only one or two such windows shows little of how each cell moves.
Each scenario of ``random_scenario`` (medium difficulty, planar, scratch and radial, seeds
1000 on, the scenarios of the ``leaders`` section) is simulated again with each number of frames of
``FRAMES``, its own frame interval kept, so the same assay is filmed for longer or shorter. Its true
tracks go through ``measure`` + ``classify`` with default parameters; per-track leader F1 against
the simulator's truth, pooled by the movie's length in motion windows (frames / window frames). The
run warns about movies under ``leadertrack.checks.MIN_MOVIE_WINDOWS`` windows from these numbers.
Writes the ``duration`` section of ``docs/benchmarks.md``.

Run: ``python benchmarks/bench_duration.py [--seeds N]``
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import table, with_interval, write_measured_section
from bench_leaders import true_track_scores

from leadertrack.checks import MIN_MOVIE_WINDOWS
from leadertrack.features import window_half_frames
from leadertrack.synthetic import random_scenario

FRAMES = (6, 8, 10, 15, 20, 30, 45, 80)
"""Movie lengths (frames) each scenario is simulated with."""
WINDOW_BINS = (0.0, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0, np.inf)
"""Edges of the bins of movie length, in motion windows."""
FIRST_SEED = 1000
GEOMETRIES = ("planar", "scratch", "radial")


def movie_windows(n_frames: int, frame_interval_min: float) -> float:
    """A movie's length in motion windows: its frames over the classifier's window (frames).

    Examples
    --------
    >>> movie_windows(14, 5.0)  # a 7-frame window (35 min) at 5 min per frame
    2.0
    """
    return n_frames / (2 * window_half_frames(frame_interval_min) + 1)


def one(seed: int, geometry: str, n_frames: int) -> dict:
    """Leader scores of one scenario filmed for ``n_frames`` frames, from its true tracks."""
    options = {**random_scenario(seed, difficulty="medium", geometry=geometry), "n_frames": n_frames}
    scores = true_track_scores(options)
    del scores["params"]
    return {
        "geometry": geometry, "seed": seed, "frames": n_frames, "minutes": (n_frames - 1) * options["frame_interval_min"],
        "windows": movie_windows(n_frames, options["frame_interval_min"]), **scores,
    }


def _one(case: tuple[int, str, int]) -> dict:
    return one(*case)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Movies pooled by their length in motion windows (``WINDOW_BINS``): means, and the interval of the mean F1."""
    bins = pd.cut(runs["windows"], list(WINDOW_BINS), right=False)
    runs = runs.assign(windows_bin=[f"{b.left:g}-{b.right:g}" for b in bins])
    summary = runs.groupby("windows_bin", sort=False).agg(
        movies=("f1", "size"), minutes=("minutes", "median"), precision=("precision", "mean"), recall=("recall", "mean"),
        f1=("f1", "mean"),
    ).reset_index()
    summary = with_interval(summary, runs, ["windows_bin"])
    order = {f"{a:g}-{b:g}": k for k, (a, b) in enumerate(zip(WINDOW_BINS[:-1], WINDOW_BINS[1:]))}
    summary = summary.sort_values("windows_bin", key=lambda s: s.map(order), ignore_index=True)
    return summary.rename(columns={"windows_bin": "motion windows", "minutes": "median minutes"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=16, help="scenarios per geometry")
    args = parser.parse_args(argv)
    cases = [(FIRST_SEED + s, g, n) for g in GEOMETRIES for s in range(args.seeds) for n in FRAMES]
    with ProcessPoolExecutor() as pool:
        runs = pd.DataFrame(list(pool.map(_one, cases)))
    summary = summarise(runs)
    print(summary.to_string(index=False))
    short = runs[runs["windows"] < MIN_MOVIE_WINDOWS]
    long = runs[runs["windows"] >= 4]
    write_measured_section(
        "duration", "How long a movie must be: leaders against the movie's length",
        "The classifier judges each cell's motion over a window of about 30 min (at least 5 frames). Each medium "
        f"scenario of `random_scenario` (seeds {FIRST_SEED}-{FIRST_SEED + args.seeds - 1}, planar, scratch and radial, "
        f"the scenarios of the `leaders` section) simulated again with {', '.join(map(str, FRAMES))} frames at its own "
        "frame interval (2-15 min), as if the same assay were filmed for shorter or longer; its true tracks "
        "classified with default parameters. Movies pooled by their length in motion windows (frames / window "
        "frames; `median minutes`: their median duration); per-track precision, recall and F1 (mean over movies, "
        "`f1_ci95`: the 95 % bootstrap interval of that mean). "
        f"`python benchmarks/bench_duration.py --seeds {args.seeds}`.",
        table(summary),
        f"Under {MIN_MOVIE_WINDOWS:g} windows ({len(short)} movies) the mean F1 is {short['f1'].mean():.3f}; at 4 windows "
        f"or more ({len(long)} movies) {long['f1'].mean():.3f}. `leadertrack run` and `leadertrack classify` warn about "
        f"movies shorter than {MIN_MOVIE_WINDOWS:g} windows whose frame interval is known "
        "(`leadertrack.checks.short_movie_warning`).",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
