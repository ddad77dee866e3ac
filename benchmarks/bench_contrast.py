"""How much faster than the collective a leader must move to be told apart: leader F1 against that ratio.

The classifier calls a cell a leader when it outruns the collective advance of the edge, steadily
and persistently (``docs/leaders.md``). A leader that moves hardly faster than the sheet behind it
looks like the sheet's own edge. Each medium planar scenario of ``random_scenario`` (seeds 1000 on,
the scenarios of the ``leaders`` section) is simulated again with the sheet advancing at the
leaders' speed divided by each ratio of ``RATIOS``, every other draw kept; its true tracks go
through ``measure`` + ``classify`` with default parameters; per-track leader F1 against the
simulator's truth. Planar only: the simulator bounds the advance of a spheroid and of the two
sheets of a scratch assay by their room to grow, so there the ratio cannot be set freely. Writes
the ``contrast`` section of ``docs/benchmarks.md``.

Run: ``python benchmarks/bench_contrast.py [--seeds N]``
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import table, with_interval, write_measured_section
from bench_leaders import true_track_scores

from leadertrack.synthetic import random_scenario

RATIOS = (1.25, 1.5, 2.0, 3.0, 5.0, 10.0)
"""Leader speed over the sheet's advance, each scenario simulated with each."""
FIRST_SEED = 1000


def one(seed: int, ratio: float) -> dict:
    """Leader scores of one planar scenario whose sheet advances at the leaders' speed / ``ratio``."""
    options = random_scenario(seed, difficulty="medium", geometry="planar")
    options["front_speed_um_per_min"] = options["leader_speed_um_per_min"] / ratio
    scores = true_track_scores(options)
    params = scores.pop("params")
    return {
        "seed": seed, "ratio": ratio,
        # the simulator keeps the sheet from filling the field: the ratio it ran with
        "ratio_simulated": params["leader_speed_um_per_min"] / params["front_speed_um_per_min"], **scores,
    }


def _one(case: tuple[int, float]) -> dict:
    return one(*case)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per ratio: movies, the median ratio simulated, mean precision / recall / F1 and the interval of F1."""
    summary = runs.groupby("ratio").agg(
        movies=("f1", "size"), ratio_simulated=("ratio_simulated", "median"), precision=("precision", "mean"),
        recall=("recall", "mean"), f1=("f1", "mean"),
    ).reset_index()
    return with_interval(summary, runs, ["ratio"]).rename(columns={
        "ratio": "leader speed / sheet advance", "ratio_simulated": "median simulated",
    })


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=16, help="scenarios")
    args = parser.parse_args(argv)
    cases = [(FIRST_SEED + s, r) for s in range(args.seeds) for r in RATIOS]
    with ProcessPoolExecutor() as pool:
        runs = pd.DataFrame(list(pool.map(_one, cases)))
    summary = summarise(runs)
    print(summary.to_string(index=False))
    write_measured_section(
        "contrast", "How much faster than the sheet a leader must move",
        "Each medium planar scenario of `random_scenario` (seeds "
        f"{FIRST_SEED}-{FIRST_SEED + args.seeds - 1}, the planar scenarios of the `leaders` section) simulated again "
        "with the sheet advancing at the leaders' speed divided by the ratio of the first column, every other draw "
        "kept (`median simulated`: the simulator slows the sheet where it would fill the field); true tracks "
        "classified with default parameters; per-track precision, recall and F1 (mean over movies, `f1_ci95`: the "
        "95 % bootstrap interval of that mean). The package's scenarios draw ratios of 2.5-10. Planar only: the "
        "simulator bounds the advance of a spheroid and of the two sheets of a scratch assay by their room to grow. "
        f"`python benchmarks/bench_contrast.py --seeds {args.seeds}`.",
        table(summary),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
