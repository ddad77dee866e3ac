"""Tracking and segmentation accuracy on Cell Tracking Challenge sequences, against peers.

For each sequence (Fluo-N2DH-GOWT1/01 and Fluo-N2DH-SIM+/01, read from ``../shared/data/ctc``)
the methods below run in the same process on the same frames, each given only the pixel size and
frame interval of the CTC dataset description:

- **leadertrack**: ``segment`` (nucleus diameter estimated) + ``detect`` + ``link`` with the
  defaults of ``RunConfig`` (search range 1.5 nucleus diameters, memory 3, velocity prediction,
  tracks shorter than 3 frames dropped);
- **trackpy**: what a user would script: ``tp.batch`` (locate, diameter = our estimated nucleus
  diameter, ``minmass`` = Otsu threshold of the masses found in the first frame) + ``tp.link``
  (same search range and memory, adaptive search down to a tenth of the range where a
  subnetwork is too large, as trackpy advises); each located point becomes a disk of 1.2 nucleus diameters,
  clipped where disks meet (``skimage.segmentation.expand_labels``), so the CTC measures apply;
- **laptrack**: our segmentation and detections, linked by laptrack's LAP linker (same search
  range, gap closing over 3 frames, division detection on) instead of trackpy;
- **leadertrack on the truth masks**, where the ground truth has masks for every frame (SIM+ and
  the simulated movies, not GOWT1, whose 30 are spread over 92 frames): those masks passed as
  labels, as ``leadertrack run --labels`` takes a learned segmenter's (Cellpose, StarDist), and
  linked as leadertrack links given masks: the most a perfect segmenter could add.

Scores are computed by py-ctcmetrics from each method's CTC export (``write_ctc``): SEG (mean
IoU of matched ground-truth objects), DET, TRA and LNK (AOGM-based, 1 = perfect). Times are
wall-clock seconds for segmentation / location and for linking, excluding reading and scoring.

Run: ``python benchmarks/bench_ctc.py [--frames N] [--datasets GOWT1 SIM+]``. The real data is
not shipped with the project; without it the script says so and exits without writing.
``--simulated N`` instead scores the same three methods on N rendered movies of the package's
simulator per geometry (planar, scratch, radial) and difficulty (medium, hard), its own tracks
and masks as the ground truth, in a section of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine_line, table, write_section

from leadertrack.config import RunConfig
from leadertrack.ctc import write_ctc
from leadertrack.detect import detect
from leadertrack.diameter import mask_diameter_px
from leadertrack.segment import estimate_nucleus_diameter_px, segment
from leadertrack.synthetic import Simulation, random_scenario, simulate_invasion
from leadertrack.track import EDGE_MARGIN_DIAMETERS, default_search_range_um, link

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ctc"
# Pixel size (µm) and frame interval (min) from the CTC dataset descriptions.
SEQUENCES = {
    "GOWT1": ("Fluo-N2DH-GOWT1", 0.240, 5.0),
    "SIM+": ("Fluo-N2DH-SIM+", 0.125, 29.0),
}
METRICS = ["SEG", "DET", "TRA", "LNK"]
TRUTH_MASKS = "leadertrack on the truth masks (--labels)"
SIMULATED_GEOMETRIES = ("planar", "scratch", "radial")
SIMULATED_DIFFICULTIES = ("medium", "hard")


def load_movie(folder: Path, n_frames: int | None) -> np.ndarray:
    files = sorted(folder.glob("t*.tif"))[:n_frames]
    return np.stack([tifffile.imread(f) for f in files])


def ground_truth(gt: Path, out: Path, n_frames: int) -> Path:
    """The CTC ground truth, cut to the first ``n_frames`` when the run uses fewer frames."""
    n_total = len(list((gt / "TRA").glob("man_track*.tif")))
    if n_frames >= n_total:
        return gt
    for kind in ("TRA", "SEG"):
        (out / kind).mkdir(parents=True)
        for path in (gt / kind).glob("man_*.tif"):
            if int("".join(c for c in path.stem if c.isdigit())) < n_frames:
                (out / kind / path.name).symlink_to(path)
    lines = np.loadtxt(gt / "TRA" / "man_track.txt", dtype=np.int64, ndmin=2)
    lines = lines[lines[:, 1] < n_frames]
    lines[:, 2] = np.minimum(lines[:, 2], n_frames - 1)
    lines[~np.isin(lines[:, 3], lines[:, 0]), 3] = 0
    np.savetxt(out / "TRA" / "man_track.txt", lines, fmt="%d")
    return out


def score(result: Path, gt: Path) -> dict[str, float]:
    from ctc_metrics import evaluate_sequence

    metrics = METRICS if any((gt / "SEG").glob("man_seg*.tif")) else METRICS[1:]
    with contextlib.redirect_stdout(io.StringIO()):
        scores = evaluate_sequence(str(result), str(gt), metrics=list(metrics), threads=1)
    return {name: float(scores[name]) if scores.get(name) is not None else float("nan") for name in METRICS}


def run_leadertrack(
    movie: np.ndarray, pixel_size_um: float, frame_interval_min: float, labels: np.ndarray | None = None
) -> dict:
    """Our segmentation (nucleus diameter estimated) + detect + link; with ``labels`` given, those
    masks instead of our segmentation, linked as ``leadertrack run --labels`` links them (the
    diameter from the masks' areas, no gap closing at the image's edge)."""
    config = RunConfig()
    given = labels is not None
    start = time.perf_counter()
    if not given:
        diameter_px = estimate_nucleus_diameter_px(movie)
        labels = segment(movie, nucleus_diameter_um=diameter_px * pixel_size_um, pixel_size_um=pixel_size_um)
    detections = detect(labels, movie)
    if given:
        diameter_px = mask_diameter_px(detections["area_px"])
    middle = time.perf_counter()
    search_range_um = default_search_range_um(
        nucleus_diameter_um=diameter_px * pixel_size_um, frame_interval_min=frame_interval_min
    )
    tracks = link(
        detections,
        search_range_um=search_range_um,
        pixel_size_um=pixel_size_um,
        frame_interval_min=frame_interval_min,
        memory=config.link.memory,
        predict=config.link.predict,
        min_track_length=config.link.min_track_length,
        field_px=movie.shape[1:],
        edge_margin_um=EDGE_MARGIN_DIAMETERS * diameter_px * pixel_size_um if given else 0.0,
    )
    end = time.perf_counter()
    return {
        "tracks": tracks,
        "labels": labels,
        "detections": detections,
        "diameter_px": diameter_px,
        "search_range_px": search_range_um / pixel_size_um,
        "time_detect_s": middle - start,
        "time_link_s": end - middle,
    }


def run_trackpy(movie: np.ndarray, *, diameter_px: float, search_range_px: float, memory: int) -> dict:
    import trackpy
    from skimage.filters import threshold_otsu
    from skimage.segmentation import expand_labels

    trackpy.quiet()
    diameter = round(diameter_px) | 1
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = trackpy.locate(movie[0], diameter)
        minmass = float(threshold_otsu(first["mass"].to_numpy())) if len(first) > 1 else 0.0
        features = trackpy.batch(movie, diameter, minmass=minmass, processes=1)
        middle = time.perf_counter()
        # adaptive search, as trackpy advises for crowded fields: without it tp.link stops with
        # SubnetOversizeException on dense simulated sheets (it changes nothing where it is not needed)
        linked = trackpy.link(features, search_range_px, memory=memory, adaptive_stop=0.1 * search_range_px, adaptive_step=0.9)
    end = time.perf_counter()
    # Points to masks: a disk of 1.2 diameters around each point (generous, as the CTC measures
    # need a mask covering over half of each reference nucleus), split where disks meet.
    labels = np.zeros(movie.shape, dtype=np.uint32)
    linked = linked.reset_index(drop=True)
    linked["label"] = linked.groupby("frame").cumcount() + 1
    present = np.zeros(len(linked), dtype=bool)
    for t, group in linked.groupby("frame"):
        rows = np.clip(group["y"].round().astype(int), 0, movie.shape[1] - 1)
        cols = np.clip(group["x"].round().astype(int), 0, movie.shape[2] - 1)
        seeds = np.zeros(movie.shape[1:], dtype=np.uint32)
        seeds[rows, cols] = group["label"].to_numpy()
        labels[t] = expand_labels(seeds, distance=0.6 * diameter_px)
        present[group.index] = np.isin(group["label"].to_numpy(), labels[t])  # two points on one pixel
    tracks = linked[present].assign(track_id=linked.loc[present, "particle"].astype(int) + 1)
    return {"tracks": tracks, "labels": labels, "time_detect_s": middle - start, "time_link_s": end - middle}


def run_laptrack(detections: pd.DataFrame, *, search_range_px: float, memory: int) -> dict:
    from laptrack import LapTrack

    tracker = LapTrack(
        cutoff=search_range_px**2,
        gap_closing_cutoff=search_range_px**2,
        gap_closing_max_frame_count=memory,
        splitting_cutoff=search_range_px**2,
    )
    start = time.perf_counter()
    track_df, split_df, _ = tracker.predict_dataframe(detections, ["y", "x"], only_coordinate_cols=False)
    end = time.perf_counter()
    tracks = track_df.assign(track_id=track_df["track_id"] + 1)
    parents = {} if split_df.empty else dict(zip(split_df["child_track_id"] + 1, split_df["parent_track_id"] + 1))
    return {"tracks": tracks, "parent_track_id": parents, "time_link_s": end - start}


def evaluate(name: str, n_frames: int | None) -> list[dict]:
    folder, pixel_size_um, frame_interval_min = SEQUENCES[name]
    root = DATA / folder
    movie = load_movie(root / "01", n_frames)
    # the truth's own masks as labels where it has them for every frame (SIM+; GOWT1's cover 30 of 92)
    masks = {int("".join(c for c in path.stem if c.isdigit())): path for path in (root / "01_GT" / "SEG").glob("man_seg*.tif")}
    complete = all(t in masks for t in range(len(movie)))
    truth_masks = np.stack([tifffile.imread(masks[t]) for t in range(len(movie))]) if complete else None
    with tempfile.TemporaryDirectory() as tmp:
        gt = ground_truth(root / "01_GT", Path(tmp) / "gt", len(movie))
        rows = evaluate_movie(movie, gt, Path(tmp), sequence=f"{folder}/01", pixel_size_um=pixel_size_um,
                              frame_interval_min=frame_interval_min, truth_masks=truth_masks)
    print(f"{name}: estimated nucleus diameter {rows[0]['nucleus diameter (px)']:.1f} px", flush=True)
    return rows


def evaluate_movie(
    movie: np.ndarray, gt: Path, work: Path, *, sequence: str, pixel_size_um: float, frame_interval_min: float,
    truth_masks: np.ndarray | None = None,
) -> list[dict]:
    """The three methods on one movie, scored against the CTC ground truth ``gt``, and with
    ``truth_masks`` (the ground truth's masks of every frame) a fourth: those masks linked by
    leadertrack; results are written under ``work``."""
    rows = []
    ours = run_leadertrack(movie, pixel_size_um, frame_interval_min)
    memory = RunConfig().link.memory
    plain = run_trackpy(movie, diameter_px=ours["diameter_px"], search_range_px=ours["search_range_px"], memory=memory)
    lap = run_laptrack(ours["detections"], search_range_px=ours["search_range_px"], memory=memory)
    runs = {
        "leadertrack": (ours["tracks"], ours["labels"], None, ours["time_detect_s"], ours["time_link_s"]),
        "trackpy locate + link": (plain["tracks"], plain["labels"], None, plain["time_detect_s"], plain["time_link_s"]),
        "leadertrack segment + laptrack": (
            lap["tracks"],
            ours["labels"],
            lap["parent_track_id"],
            ours["time_detect_s"],
            lap["time_link_s"],
        ),
    }
    if truth_masks is not None:
        masked = run_leadertrack(movie, pixel_size_um, frame_interval_min, labels=truth_masks)
        runs[TRUTH_MASKS] = (masked["tracks"], masked["labels"], None, masked["time_detect_s"], masked["time_link_s"])
    for method, (tracks, labels, parents, t_detect, t_link) in runs.items():
        out = work / method.replace(" ", "_") / "01_RES"
        write_ctc(tracks, labels, out, parent_track_id=parents)
        rows.append(
            {
                "sequence": sequence,
                "frames": len(movie),
                "method": method,
                **score(out, gt),
                "tracks": int(tracks["track_id"].nunique()),
                "nucleus diameter (px)": masked["diameter_px"] if method == TRUTH_MASKS else ours["diameter_px"],
                "segment/locate (s)": t_detect,
                "link (s)": t_link,
            }
        )
        print(rows[-1], flush=True)
    return rows


def simulated_ground_truth(sim: Simulation, gt: Path) -> Path:
    """The simulator's tracks and masks as a CTC ground-truth folder (``TRA`` and ``SEG``); cells
    hidden in a frame (``label`` 0: no pixel of their own in the masks) are left out of it there."""
    write_ctc(sim.tracks[sim.tracks["label"] > 0], sim.labels, gt / "TRA")
    (gt / "SEG").mkdir()
    for mask in sorted((gt / "TRA").glob("mask*.tif")):
        shutil.copyfile(mask, gt / "SEG" / mask.name.replace("mask", "man_seg"))
        mask.rename(mask.with_name(mask.name.replace("mask", "man_track")))
    (gt / "TRA" / "res_track.txt").rename(gt / "TRA" / "man_track.txt")
    return gt


def evaluate_simulated(seeds: int) -> pd.DataFrame:
    """The three methods on rendered simulated movies (``random_scenario``, seeds 0..seeds-1 per
    geometry and difficulty), one row per movie and method."""
    rows = []
    for difficulty in SIMULATED_DIFFICULTIES:
        for geometry in SIMULATED_GEOMETRIES:
            for seed in range(seeds):
                sim = simulate_invasion(**random_scenario(seed, difficulty=difficulty, geometry=geometry))
                with tempfile.TemporaryDirectory() as tmp:
                    gt = simulated_ground_truth(sim, Path(tmp) / "gt")
                    found = evaluate_movie(
                        sim.image, gt, Path(tmp), sequence=f"{geometry} {difficulty} {seed}",
                        pixel_size_um=sim.pixel_size_um, frame_interval_min=sim.frame_interval_min, truth_masks=sim.labels,
                    )
                rows += [{"geometry": geometry, "difficulty": difficulty, "seed": seed, **row} for row in found]
    return pd.DataFrame(rows)


def simulated_section(seeds: int) -> str:
    """Markdown: mean CTC scores per geometry, difficulty and method on simulated movies."""
    results = evaluate_simulated(seeds)
    columns = ["DET", "TRA", "LNK", "SEG", "tracks"]  # speed: the speed section (one method per process)
    means = results.groupby(["geometry", "difficulty", "method"], sort=False)[columns].mean().reset_index()
    overall = results.groupby("method", sort=False)[["DET", "TRA", "LNK"]].mean()
    summary = "; ".join(
        f"{method}: DET {row.DET:.3f}, TRA {row.TRA:.3f}, LNK {row.LNK:.3f}" for method, row in overall.iterrows()
    )
    return "\n\n".join(
        [
            "## Tracking on simulated movies, against peers",
            machine_line(),
            (
                f"Command: `python benchmarks/bench_ctc.py --simulated {seeds}`. Rendered movies of the package's"
                f" simulator (`random_scenario`, seeds 0-{seeds - 1} per geometry and difficulty), the simulator's"
                " own tracks and masks written as CTC ground truth; the same four methods and settings as on the CTC"
                " data above (only the pixel size and frame interval given, the nucleus diameter estimated, or measured from"
                " the truth masks when they are given), scored by"
                " py-ctcmetrics; means over the movies of each row. (`leadertrack run` links the same way; its"
                " second linking of movies whose tracks at the front run inward is not part of this comparison.)"
            ),
            table(means),
            f"Mean over all {len(results) // max(1, results['method'].nunique())} movies: {summary}.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=None, help="use only the first N frames")
    parser.add_argument("--datasets", nargs="+", default=list(SEQUENCES), choices=list(SEQUENCES))
    parser.add_argument(
        "--simulated", type=int, default=0, metavar="N",
        help="instead of the CTC data: N simulated movies per geometry and difficulty (own section)",
    )
    args = parser.parse_args(argv)
    if args.simulated:
        write_section("tracking-simulated", simulated_section(args.simulated))
        return 0
    if not DATA.is_dir():
        print(f"bench_ctc: real data not found at {DATA}; skipped (the CTC data is not shipped).")
        return 0
    rows = [row for name in args.datasets for row in evaluate(name, args.frames)]
    results = pd.DataFrame(rows)
    seconds = (results["segment/locate (s)"] + results["link (s)"]).groupby([results["sequence"], results["method"]]).sum()
    speed = ", ".join(
        f"{seconds[sequence, 'trackpy locate + link'] / seconds[sequence, 'leadertrack']:.2f} on {sequence} "
        f"(nuclei of {diameter:.0f} px)"
        for sequence, diameter in results.groupby("sequence", sort=False)["nucleus diameter (px)"].first().items()
    )
    text = "\n\n".join(
        [
            "## Segmentation and tracking on Cell Tracking Challenge data",
            machine_line(),
            "Command: `python benchmarks/bench_ctc.py`"
            + (f" `--frames {args.frames}`" if args.frames else "")
            + ". Only the pixel size and frame interval of each CTC dataset are given; the nucleus"
            " diameter is estimated. Scores by py-ctcmetrics (1 = perfect); times in seconds"
            " (segment/locate includes the diameter estimate). trackpy has no masks: each point"
            " is drawn as a disk of 1.2 nucleus diameters (split where disks meet); its scores"
            " depend on its minmass (here the Otsu threshold of the first frame's masses)."
            " laptrack links our detections"
            " (divisions allowed). The truth masks row passes the ground truth's own masks as labels (`--labels`),"
            " where it has them for every frame (SIM+, not GOWT1): the most a learned segmenter (Cellpose,"
            " StarDist) could add to our segmentation. Targets (issue 6): TRA and DET >= 0.97 on GOWT1/01,"
            " TRA >= 0.95 on SIM+/01.",
            table(results),
            f"Time to segment/locate and link, trackpy / leadertrack (> 1: leadertrack is faster): {speed}. The"
            " speed section below compares the whole pipelines on simulated movies with nuclei of 10-40 px.",
        ]
    )
    write_section("tracking", text)
    print(results.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
