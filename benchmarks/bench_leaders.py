"""Leader detection on simulated invasion assays vs the naive "top-k by outward displacement" rule.

For each geometry (planar, scratch, radial) and difficulty (easy, medium, hard), many randomised
scenarios (``leadertrack.synthetic.random_scenario``: densities, speeds, noise, strands, frame
intervals all vary) are simulated; ground-truth tracks go through ``measure`` + ``classify`` with
default parameters and geometry ``auto``. Reported: per-track precision / recall / F1, per-frame
F1, average precision of ``leader_score`` per track and of ``leader_score_frame`` per cell-frame,
and the naive rule's per-track F1 in the same run
(k = the true number of leaders, which is generous to it). The same movies are classified again
from *degraded* true tracks (:func:`degrade`: localisation noise, short merges with a neighbour,
fragments), as found tracks are: per-track and per-frame F1 against the truth of each piece.
Writes the ``leaders`` section of ``docs/benchmarks.md``.

Run: ``python benchmarks/bench_leaders.py [--seeds N]``
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_score,
    recall_score,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine_line, table, with_interval, write_section

from leadertrack.classify import classify
from leadertrack.features import measure
from leadertrack.front import find_front
from leadertrack.synthetic import (
    LEADER_TRACK_MIN_FRACTION,
    LEADER_TRACK_MIN_FRAMES,
    random_scenario,
    simulate_tracks,
)

TRACK_OPTIONS = set(inspect.signature(simulate_tracks).parameters)


def naive_top_k(tracks: pd.DataFrame, k: int) -> set[int]:
    """The k tracks with the largest net displacement along the outward direction."""
    t = tracks.sort_values(["track_id", "frame"])
    pos = t[["y_um", "x_um"]].to_numpy()
    out = t[["_uy", "_ux"]].to_numpy()
    g = t.assign(_s=np.einsum("ij,ij->i", pos, out)).groupby("track_id")["_s"]
    score = g.last() - g.first()
    return set(score.nlargest(k).index) if k > 0 else set()


def naive_leaders(tracks: pd.DataFrame, k: int, *, field_um: tuple[float, float]) -> set[int]:
    """The naive rule with our outward direction (generous): :func:`naive_top_k` along the
    outward direction of the front found from ``tracks`` (``track_id, frame, y_um, x_um``)."""
    front = find_front(tracks, field_um=field_um)
    u = front.outward(tracks[["y_um", "x_um"]].to_numpy(), tracks["frame"].to_numpy())
    return naive_top_k(tracks.assign(_uy=u[:, 0], _ux=u[:, 1]), k)


def degrade(tracks: pd.DataFrame, *, diameter_um: float, seed: int) -> pd.DataFrame:
    """True tracks made as imperfect as found ones: jitter, merges with a neighbour, fragments.

    Seeded. Every position gets Gaussian noise of 0.1 nucleus diameter per axis; merge events
    (2 % of cell-frames start one) last 1-3 frames, during which a cell's position is the average
    of its own and its nearest neighbour's (the centroid of two touching nuclei segmented as one);
    each link between consecutive frames is cut with probability 1 / (2 * frames in the movie),
    so a track spanning the movie falls into 1.5 pieces on average, and every piece gets a new
    ``track_id``. The per-frame ``is_leader`` truth is kept.
    """
    rng = np.random.default_rng(seed)
    t = tracks.sort_values(["track_id", "frame"], ignore_index=True)
    pos = t[["y_um", "x_um"]].to_numpy(float)
    frames = t["frame"].to_numpy()
    tid = t["track_id"].to_numpy()
    merged = pos.copy()
    start = rng.random(len(t)) < 0.02
    length = rng.integers(1, 4, len(t))
    new_track = np.r_[True, tid[1:] != tid[:-1]]
    in_merge = np.zeros(len(t), bool)
    for i in np.flatnonzero(start):
        stop = i + length[i]
        following = np.arange(i, min(stop, len(t)))
        in_merge[following[np.cumsum(new_track[following]) <= int(new_track[i])]] = True
    for f in np.unique(frames[in_merge]):
        rows = np.flatnonzero(frames == f)
        if len(rows) < 2:
            continue
        _, k = cKDTree(pos[rows]).query(pos[rows], k=2)
        pick = in_merge[rows]
        merged[rows[pick]] = 0.5 * (pos[rows[pick]] + pos[rows[k[pick, 1]]])
    merged += rng.normal(0, 0.1 * diameter_um, merged.shape)
    cut = (rng.random(len(t)) < 0.5 / max(1, t["frame"].nunique())) | new_track
    out = t.assign(y_um=merged[:, 0], x_um=merged[:, 1], track_id=np.cumsum(cut))
    return out


def true_track_scores(options: dict) -> dict:
    """Per-track leader precision, recall and F1, the number of true leaders and the simulation's ``params`` of the
    scenario ``options`` (:func:`random_scenario`'s, changed or not), from its true tracks through ``measure`` +
    ``classify`` with defaults."""
    sim = simulate_tracks(**{k: v for k, v in options.items() if k in TRACK_OPTIONS})
    tracks, cells, _ = measure(sim.tracks[["track_id", "frame", "time_min", "y_um", "x_um"]], field_um=sim.params["field_um"])
    tracks, cells = classify(tracks, cells)
    truth = sim.cells.set_index("track_id")["is_leader"].reindex(cells["track_id"]).to_numpy().astype(bool)
    called = cells["is_leader"].to_numpy()
    return {
        "leaders": int(truth.sum()), "precision": precision_score(truth, called, zero_division=1),
        "recall": recall_score(truth, called, zero_division=1), "f1": f1_score(truth, called, zero_division=1),
        "params": sim.params,
    }


def track_truth(tracks: pd.DataFrame) -> pd.Series:
    """Per-track truth from the per-frame truth, with the simulator's rule (fraction and frames)."""
    g = tracks.groupby("track_id")["is_leader"]
    return (g.mean() >= LEADER_TRACK_MIN_FRACTION) & (g.sum() >= LEADER_TRACK_MIN_FRAMES)


def _degraded_scores(
    true_tracks: pd.DataFrame, cols: list[str], seed: int, *, field_um: tuple[float, float], diameter_um: float
) -> dict:
    """Per-track and per-frame F1 on degraded true tracks (see :func:`degrade`)."""
    bad = degrade(true_tracks, diameter_um=diameter_um, seed=seed)
    tracks, cells, _ = measure(bad[cols], field_um=field_um)
    tracks, cells = classify(tracks, cells)
    truth = track_truth(bad).reindex(cells["track_id"]).to_numpy()
    key = pd.MultiIndex.from_frame(tracks[["track_id", "frame"]])
    frame_truth = bad.set_index(["track_id", "frame"])["is_leader"].reindex(key).to_numpy().astype(bool)
    return {
        "degraded_f1": f1_score(truth, cells["is_leader"].to_numpy(), zero_division=1),
        "degraded_frame_f1": f1_score(frame_truth, tracks["is_leader"].to_numpy(), zero_division=1),
        "degraded_pieces": len(cells) / max(1, true_tracks["track_id"].nunique()),
    }


FIRST_SEED = 1000
"""The seeds behind the main section; others are held out."""


CUT = "radial, cut"
"""A spheroid whose right half lies beyond the field: the field ends at the spheroid's centre."""


def _scenario(seed: int, geometry: str, difficulty: str) -> tuple[pd.DataFrame, pd.DataFrame, tuple[float, float], float]:
    """True tracks, per-track truth (``track_id``, ``is_leader``), the field and the nucleus diameter
    (µm) of one scenario.

    For :data:`CUT` the radial scenario's field ends at the spheroid's centre: the cells beyond are
    dropped, and a track is a leader by the simulator's rule over the frames it is in view."""
    options = random_scenario(seed, difficulty=difficulty, geometry="radial" if geometry == CUT else geometry)
    sim = simulate_tracks(**{k: v for k, v in options.items() if k in TRACK_OPTIONS})
    height, width = sim.params["field_um"]
    if geometry != CUT:
        return sim.tracks, sim.cells[["track_id", "is_leader"]], (height, width), sim.nucleus_diameter_um
    width = float(sim.fronts["centre_x_um"].iloc[0])
    tracks = sim.tracks[sim.tracks["x_um"] < width]
    return tracks, track_truth(tracks).rename("is_leader").reset_index(), (height, width), sim.nucleus_diameter_um


def one(seed: int, geometry: str, difficulty: str) -> dict:
    true_tracks, true_cells, field_um, diameter_um = _scenario(seed, geometry, difficulty)
    cols = ["track_id", "frame", "time_min", "y_um", "x_um"]
    start = time.perf_counter()
    tracks, cells, fronts = measure(true_tracks[cols], field_um=field_um)
    tracks, cells = classify(tracks, cells)
    seconds = time.perf_counter() - start
    truth = true_cells.set_index("track_id")["is_leader"].reindex(cells["track_id"]).to_numpy().astype(bool)
    pred = cells["is_leader"].to_numpy()
    key = pd.MultiIndex.from_frame(tracks[["track_id", "frame"]])
    frame_truth = true_tracks.set_index(["track_id", "frame"])["is_leader"].reindex(key).to_numpy().astype(bool)
    naive = naive_leaders(true_tracks[cols], int(truth.sum()), field_um=field_um)
    naive_pred = cells["track_id"].isin(naive).to_numpy()
    return dict(
        geometry=geometry, difficulty=difficulty, seed=seed, n_true=int(truth.sum()), n_pred=int(pred.sum()),
        auto_ok=fronts["geometry"].iloc[0] == {"scratch": "planar", CUT: "radial"}.get(geometry, geometry),
        precision=precision_score(truth, pred, zero_division=1), recall=recall_score(truth, pred, zero_division=1),
        f1=f1_score(truth, pred, zero_division=1),
        frame_precision=precision_score(frame_truth, tracks["is_leader"].to_numpy(), zero_division=1),
        frame_recall=recall_score(frame_truth, tracks["is_leader"].to_numpy(), zero_division=1),
        frame_f1=f1_score(frame_truth, tracks["is_leader"].to_numpy(), zero_division=1),
        ap=average_precision_score(truth, cells["leader_score"]) if truth.any() else np.nan,
        frame_ap=average_precision_score(frame_truth, tracks["leader_score_frame"]) if frame_truth.any() else np.nan,
        naive_f1=f1_score(truth, naive_pred, zero_division=1), seconds=seconds,
        **_degraded_scores(true_tracks, cols, seed, field_um=field_um, diameter_um=diameter_um),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4, help="scenarios per geometry and difficulty")
    parser.add_argument(
        "--first-seed", type=int, default=FIRST_SEED,
        help=f"first scenario seed; other than {FIRST_SEED} it writes its own section (movies never looked at while tuning)",
    )
    args = parser.parse_args()
    held_out = args.first_seed != FIRST_SEED
    rows = [
        one(args.first_seed + s, g, d)
        for g in ("planar", "scratch", "radial", CUT)
        for d in ("easy", "medium", "hard")
        for s in range(args.seeds)
    ]
    runs = pd.DataFrame(rows)
    summary = runs.groupby(["geometry", "difficulty"], sort=False).agg(
        movies=("seed", "size"), leaders=("n_true", "sum"), precision=("precision", "mean"), recall=("recall", "mean"),
        f1=("f1", "mean"), frame_precision=("frame_precision", "mean"), frame_recall=("frame_recall", "mean"),
        frame_f1=("frame_f1", "mean"), ap=("ap", "mean"), frame_ap=("frame_ap", "mean"), naive_f1=("naive_f1", "mean"),
        degraded_f1=("degraded_f1", "mean"), degraded_frame_f1=("degraded_frame_f1", "mean"),
        degraded_pieces=("degraded_pieces", "mean"),
        auto_geometry_ok=("auto_ok", "mean"), seconds=("seconds", "mean"),
    ).reset_index()
    summary = with_interval(summary, runs, ["geometry", "difficulty"])
    print(summary.to_string(index=False))
    text = "\n\n".join([
        "## Leaders (front + features + classifier) on simulated assays" + (", on held-out seeds" if held_out else ""),
        machine_line(),
        ("These seeds were not looked at while choosing the defaults. " if held_out else "")
        + (f"Ground-truth tracks from `random_scenario` (seeds {args.first_seed}-{args.first_seed + args.seeds - 1} per cell of the table), "
        "default parameters, geometry `auto`. Per-track precision / recall / F1 (mean over movies; `f1_ci95`: the 95 % "
        "bootstrap interval of that mean, resampling the movies: how far other seeds could move it), per-frame "
        "precision / recall / F1, average precision (AP) of `leader_score` per track and (`frame_ap`) of "
        "`leader_score_frame` (the frame's leader score, the least of its four criteria) per cell-frame, and the naive rule \"top-k tracks by outward displacement\" "
        "(k = true number of leaders) in the same run. `degraded_f1` / `degraded_frame_f1`: the same movies from "
        "degraded true tracks (Gaussian localisation noise of 0.1 nucleus diameter per axis; 2 % of cell-frames start "
        "a 1-3 frame merge where the position is averaged with the nearest neighbour's; links cut at random so a "
        "track spanning the movie falls into 1.5 pieces on average, `degraded_pieces` = pieces per true track), "
        "each piece judged against its own truth (leads in >= 30 % and >= 3 of its frames). "
        f"`{CUT}`: the radial movies with the field ending at the spheroid's centre (its right half beyond the "
        "image's border), each track judged over the frames it is in view by the same rule. "
        f"`python benchmarks/bench_leaders.py --seeds {args.seeds}"
        + (f" --first-seed {args.first_seed}`." if held_out else "`.")),
        table(summary),
    ])
    write_section(f"leaders-seeds-{args.first_seed}" if held_out else "leaders", text)


if __name__ == "__main__":
    main()
