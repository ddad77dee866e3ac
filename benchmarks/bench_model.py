"""A model trained on reviewed movies: does it find leaders better than the rule, on movies it has not seen?

A user reviews the calls of a few movies, fixes every error, and trains a model on them
(``leadertrack train``) to use on the next movies. This script plays that user. Each movie runs
once through ``analyze_movie`` with defaults; its labels are the rule's calls with every error a
reviewer would fix (a wrong call flipped off; for a missed leader, the longest found track on it
flipped on). For ``k`` = 1, 2, 4, 8 and 16 reviewed movies, drawn at random ``--draws`` times, a
model is trained on them and scored on held-out movies, beside the rule on the same movies and a
logistic regression fitted on the features alone (``train_model`` before 2026-11-28: balanced
classes, no rule), all in the same run. Scenarios:

- ``own``: movies of the package's simulator (``random_scenario``, planar, scratch and radial,
  medium and hard), the held-out movies the rest of them;
- ``second``: movies of the second, independent simulator (``bench_foreign.py``);
- ``own -> second``: trained on the package's simulator (as a model trained on simulated ground
  truth would be), scored on every movie of the second;
- ``stricter lab``: a lab whose leaders must lead in at least 60 % of their frames (the rule's
  35 %), on the package's simulator: the reviewed calls are the rule's, fixed, and then only
  tracks leading that long kept; scored against that definition.

Leader F1 per track as everywhere else (``leadertrack.evaluate``: pieces of one leader count once),
mean over the held-out movies, then over the draws; the change from the rule with the 95 % bootstrap
interval over draws. The penalties, the one-movie minimum and the one-standard-error choice of
``leadertrack.model`` were chosen on seeds 9000-9009 and 7400-7419; this script uses later seeds.

Run: ``python benchmarks/bench_model.py [--movies N] [--draws N]``; writes the ``model`` section of
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine_line, mean_ci95, table, write_section

from leadertrack.evaluate import called_leader_agreement, truth_track_ids
from leadertrack.model import DEFAULT_FEATURES, train_model
from leadertrack.pipeline import analyze_movie
from leadertrack.synthetic import random_scenario, save_simulation, simulate_invasion

OWN_FIRST_SEED = 9100
FOREIGN_FIRST_SEED = 7500
REVIEWED = (1, 2, 4, 8, 16)
"""Numbers of reviewed movies a model is trained on."""
STRICT_FRACTION = 0.6
"""The stricter lab's leaders lead in at least this fraction of their frames."""


def one(case: tuple[str, int, str, str]) -> dict:
    """One movie run with defaults: its tracks table, the true track under each found track, the true leaders."""
    source, seed, geometry, difficulty = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "movie.ome.tif"
        if source == "own":
            sim = simulate_invasion(**random_scenario(seed, difficulty=difficulty, geometry=geometry))
            save_simulation(sim, path)
            labels, leaders = sim.labels, set(sim.cells.loc[sim.cells["is_leader"], "track_id"])
        else:
            import bench_foreign

            movie = bench_foreign.simulate(seed, geometry)
            bench_foreign.save(movie, path)
            labels, leaders = movie.labels, movie.leaders
        with warnings.catch_warnings():  # the runs' own warnings (short movie, small nuclei...) are not the subject here
            warnings.simplefilter("ignore", UserWarning)
            result = analyze_movie(path)
    cells = result.cells.reset_index(drop=True)
    cells["truth_id"] = cells["track_id"].map(truth_track_ids(result.tracks, labels)).fillna(0).astype(int)
    return {"source": source, "name": f"{source} {geometry} {difficulty} {seed}", "cells": cells, "leaders": leaders}


def reviewed_calls(movie: dict) -> pd.Series:
    """The rule's calls with every error a reviewer would fix: wrong calls off, each missed leader's longest piece on."""
    cells = movie["cells"]
    calls = cells["is_leader"].astype(bool) & cells["truth_id"].isin(movie["leaders"])
    for missed in movie["leaders"] - set(cells.loc[calls, "truth_id"]):
        pieces = cells.index[cells["truth_id"] == missed]
        if len(pieces):
            calls[cells.loc[pieces, "n_frames"].idxmax()] = True
    return calls


def stricter(movie: dict) -> dict:
    """The same movie as the stricter lab reviews it: leaders are its reviewed calls leading in >= 60 % of frames."""
    cells = movie["cells"]
    keep = reviewed_calls(movie) & (cells["leader_fraction"] >= STRICT_FRACTION)
    return {**movie, "leaders": set(cells.loc[keep, "truth_id"])}


def f1(movie: dict, called: np.ndarray) -> float:
    """Leader F1 per track of the tracks ``called`` leaders in ``movie``."""
    cells = movie["cells"]
    mapping = cells.set_index("track_id")["truth_id"]
    return called_leader_agreement(mapping, cells.loc[called, "track_id"], movie["leaders"])["f1"]


def logistic_alone(cells: pd.DataFrame, labels: pd.Series):
    """``train_model`` as it was before 2026-11-28: a class-balanced logistic regression on the features, no rule."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def matrix(table: pd.DataFrame) -> np.ndarray:
        x = table[list(DEFAULT_FEATURES)].to_numpy(float)
        return np.where(np.isfinite(x), x, 0.0)

    fitted = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=1000))
    fitted.fit(matrix(cells), labels.to_numpy())
    return lambda table: fitted.predict_proba(matrix(table))[:, 1] >= 0.5


def draws(scenario: str, train_set: list[dict], test_set: list[dict] | None, n_draws: int) -> list[dict]:
    """Rule, trained model and logistic regression alone on held-out movies, for each number of reviewed movies."""
    rng = np.random.default_rng(0)
    rows = []
    for k in REVIEWED:
        if k >= len(train_set):
            continue
        for draw in range(n_draws):
            order = rng.permutation(len(train_set))
            reviewed = [train_set[i] for i in order[:k]]
            held_out = test_set if test_set is not None else [train_set[i] for i in order[k:]]
            cells = pd.concat([m["cells"] for m in reviewed], ignore_index=True)
            labels = pd.concat([reviewed_calls(m) for m in reviewed], ignore_index=True)
            if labels.all() or not labels.any():
                continue  # nothing to learn from: no leader (or nothing else) in these movies
            movie_of_row = np.concatenate([[i] * len(m["cells"]) for i, m in enumerate(reviewed)])
            model = train_model(cells, labels, groups=movie_of_row)
            alone = logistic_alone(cells, labels)
            rows.append({
                "scenario": scenario, "reviewed movies": k, "draw": draw,
                "rule": np.mean([f1(m, m["cells"]["is_leader"].to_numpy(bool)) for m in held_out]),
                "trained model": np.mean([f1(m, model.predict_score(m["cells"]) >= 0.5) for m in held_out]),
                "logistic alone (before)": np.mean([f1(m, alone(m["cells"])) for m in held_out]),
                "stayed the rule": model.penalty is None,
            })
    return rows


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario and number of reviewed movies: mean F1 over draws, the change from the rule."""
    rows = []
    for (scenario, k), group in runs.groupby(["scenario", "reviewed movies"], sort=False):
        rows.append({
            "scenario": scenario, "reviewed movies": k, "draws": len(group), "rule f1": group["rule"].mean(),
            "trained model f1": group["trained model"].mean(),
            "change (95 % interval)": mean_ci95(group["trained model"] - group["rule"], signed=True),
            "logistic alone f1 (before)": group["logistic alone (before)"].mean(),
            "its change (95 % interval)": mean_ci95(group["logistic alone (before)"] - group["rule"], signed=True),
            "models that stayed the rule": f"{int(group['stayed the rule'].sum())} / {len(group)}",
        })
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movies", type=int, default=10, help="seeds per geometry (and difficulty) of each simulator")
    parser.add_argument("--draws", type=int, default=10, help="random draws of the reviewed movies per number of them")
    args = parser.parse_args(argv)
    own_cases = [
        ("own", seed, geometry, difficulty) for seed in range(OWN_FIRST_SEED, OWN_FIRST_SEED + args.movies)
        for geometry in ("planar", "scratch", "radial") for difficulty in ("medium", "hard")
    ]
    second_cases = [
        ("second", seed, geometry, "-") for seed in range(FOREIGN_FIRST_SEED, FOREIGN_FIRST_SEED + 2 * args.movies)
        for geometry in ("planar", "radial")
    ]
    with ProcessPoolExecutor() as pool:
        movies = list(pool.map(one, own_cases + second_cases))
    own = [m for m in movies if m["source"] == "own"]
    second = [m for m in movies if m["source"] == "second"]
    runs = pd.DataFrame(
        draws("own", own, None, args.draws) + draws("second", second, None, args.draws)
        + draws("own -> second", own, second, args.draws)
        + draws(f"stricter lab (leads >= {STRICT_FRACTION:.0%})", [stricter(m) for m in own], None, args.draws)
    )
    summary = summarise(runs)
    print(summary.to_string(index=False))
    text = f"""## A model trained on reviewed movies, against the rule, on movies it has not seen

{machine_line()}

A user reviews the calls of `reviewed movies` movies, fixes every error (a wrong call flipped off; for a missed leader, the longest found track on it flipped on) and trains a model on them (`leadertrack train`, [Leaders](leaders.md#6-a-model-trained-on-your-corrections)), to use on the next movies. Each movie ran once with defaults (units from the file, nucleus diameter estimated, geometry auto): {len(own)} of the package's simulator (`random_scenario`, seeds {OWN_FIRST_SEED}-{OWN_FIRST_SEED + args.movies - 1}, planar, scratch and radial, medium and hard) and {len(second)} of the second, independent one (`bench_foreign.py`, seeds {FOREIGN_FIRST_SEED}-{FOREIGN_FIRST_SEED + 2 * args.movies - 1}, planar and radial). For each number of reviewed movies, {args.draws} random draws of them; the model is scored on the held-out movies of the same simulator (`own`, `second`), or on every movie of the second after training on the package's (`own -> second`, a model trained on simulated ground truth). `stricter lab`: a lab whose leaders must lead in at least {STRICT_FRACTION:.0%} of their frames (the rule asks 35 %), scored against that definition. Leader F1 per track (pieces of one leader count once), mean over the held-out movies, then over the draws; `change`: the 95 % bootstrap interval of the mean change from the rule over the draws, which share their held-out movies with the rule. `logistic alone (before)`: the model `leadertrack train` fitted before 2026-11-28, a class-balanced logistic regression on the same features without the rule, in the same run. The penalties, the one-movie minimum and the one-standard-error choice in `leadertrack.model` were chosen on seeds 9000-9009 and 7400-7419. `python benchmarks/bench_model.py --movies {args.movies} --draws {args.draws}`.

{table(summary)}
"""
    write_section("model", text)


if __name__ == "__main__":
    main()
