"""Shared by the benchmarks that spoil simulated movies in one way, at several strengths, and run
each with a correction on and off (``bench_jitter.py``, ``bench_background.py``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import pandas as pd

GEOMETRIES = ("planar", "scratch", "radial")
FOREIGN_FIRST_SEED = 7300
"""The second simulator's movies from this seed on were never looked at while choosing a default."""


def arguments(description: str, foreign_strengths: str, argv: list[str] | None) -> argparse.Namespace:
    """``--seeds`` (of the package's simulator, per geometry) and ``--foreign-movies`` (of the second
    simulator, per geometry, at ``foreign_strengths``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seeds", type=int, default=5, help="simulated seeds per geometry (from 0)")
    parser.add_argument("--foreign-movies", type=int, default=10,
                        help=f"movies per geometry of the second simulator (seeds from {FOREIGN_FIRST_SEED}), at {foreign_strengths}")
    return parser.parse_args(argv)


def run_all(
    one: Callable[[tuple[int, str, float]], list[dict]],
    one_foreign: Callable[[tuple[int, str, float]], list[dict]],
    *,
    strengths: Sequence[float],
    foreign_strengths: Sequence[float],
    args: argparse.Namespace,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of ``one`` over (seed, geometry, strength) of the package's simulator and of
    ``one_foreign`` over the second simulator's planar and radial movies, on every core."""
    cases = [(seed, geometry, strength) for strength in strengths for seed in range(args.seeds) for geometry in GEOMETRIES]
    foreign_cases = [
        (seed, geometry, strength) for strength in foreign_strengths
        for seed in range(FOREIGN_FIRST_SEED, FOREIGN_FIRST_SEED + args.foreign_movies) for geometry in ("planar", "radial")
    ]
    with ProcessPoolExecutor() as pool:
        raw = pd.DataFrame([row for rows in pool.map(one, cases) for row in rows])
        foreign = pd.DataFrame([row for rows in pool.map(one_foreign, foreign_cases) for row in rows])
    return raw, foreign
