"""End to end on rendered simulated movies: leader accuracy from images, and speed vs the baselines.

Accuracy: randomised simulated assays (``random_scenario``: planar, scratch, radial; easy, medium,
hard) are rendered, saved as OME-TIFF and run through ``analyze_movie`` with defaults (units from
the file, nucleus diameter estimated, geometry auto). Found tracks are matched to the truth by the
ground-truth label under them; per-track leader precision / recall / F1, tracking recall (share of
truth cell-frames found), fragmentation (found tracks per long truth track), the shares of true
nuclei the segmentation merged or missed, and the leader F1 with the simulator's own masks passed
as labels (what a perfect learned segmenter could add).

Speed: on the same movie, in one run, each in its own process (peak memory = max RSS):
- ``floor``: read every frame and smooth it once (Gaussian, sigma = 0.1 nucleus diameter);
- ``trackpy``: what a user would script: ``tp.batch`` locate + ``tp.link`` (with memory);
- ``leadertrack``: the whole pipeline (segment, link, front, features, classify).
Reported as ratios, plus how time and memory grow with frames, image size and cell count.

Run: ``python benchmarks/bench_pipeline.py [--seeds N] [--quick]``; writes the ``pipeline`` and
``speed`` sections of ``docs/benchmarks.md`` (``--quick`` only prints them). ``--first-seed K
--skip-speed`` measures seeds K..K+N-1 instead, in a section of their own (``pipeline-seeds-K``):
movies nobody looked at while choosing the defaults. ``--cut --skip-speed`` measures the radial
movies imaged with a field that ends at the spheroid's centre (``pipeline-cut``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine_line, mean_ci95, table, with_interval, write_section
from bench_leaders import CUT, naive_leaders, track_truth

from leadertrack.evaluate import frame_leader_agreement, leader_agreement, merged_and_missed_nuclei, truth_track_ids
from leadertrack.pipeline import analyze_movie
from leadertrack.synthetic import Simulation, random_scenario, save_simulation, simulate_invasion

GEOMETRIES = ("planar", "scratch", "radial")
DIFFICULTIES = ("easy", "medium", "hard")


def cut_at_centre(sim: Simulation) -> Simulation:
    """The same simulated spheroid imaged with a field that ends at its centre (the right half lies
    beyond the image's border): movie, masks and truth cut there; a track is a leader by the
    simulator's rule over the frames it is in view."""
    width_px = round(sim.fronts["centre_x_um"].iloc[0] / sim.pixel_size_um)
    tracks = sim.tracks[sim.tracks["x"] < width_px - 0.5]
    is_leader = track_truth(tracks)
    cells = sim.cells[sim.cells["track_id"].isin(is_leader.index)].copy()
    cells["is_leader"] = cells["track_id"].map(is_leader).astype(bool)
    params = {**sim.params, "field_um": [sim.params["field_um"][0], width_px * sim.pixel_size_um]}
    return replace(
        sim, tracks=tracks, cells=cells, image=np.ascontiguousarray(sim.image[:, :, :width_px]),
        labels=np.ascontiguousarray(sim.labels[:, :, :width_px]), params=params,
    )


FIELD_MAX_PX = 800
"""With ``--nucleus-px``, the field is cut to at most this many pixels a side (bounds the image size: 20 nuclei
of 40 px; smaller nuclei keep their scenario's field)."""


def accuracy_one(seed: int, geometry: str, difficulty: str, folder: Path, nucleus_px: float | None = None) -> dict:
    options = random_scenario(seed, difficulty=difficulty, geometry="radial" if geometry == CUT else geometry)
    if nucleus_px is not None:  # the same scenario imaged with finer (or coarser) pixels
        diameter = options["nucleus_diameter_um"]
        options["pixel_size_um"] = diameter / nucleus_px
        options["field_um"] = tuple(min(f, FIELD_MAX_PX / nucleus_px * diameter) for f in options["field_um"])
    sim = simulate_invasion(**options)
    if geometry == CUT:
        sim = cut_at_centre(sim)
    path = folder / f"{geometry.replace(', ', '_')}_{difficulty}_{seed}.ome.tif"
    save_simulation(sim, path)
    start = time.perf_counter()
    result = analyze_movie(path)
    seconds = time.perf_counter() - start
    truth_leaders = set(sim.cells.loc[sim.cells["is_leader"], "track_id"])
    scores = leader_agreement(result.tracks, result.cells, sim.labels, truth_leaders)
    frame_scores = frame_leader_agreement(result.tracks, sim.tracks, sim.labels)
    # the naive rule on the same found tracks: the k (= true number of leaders) farthest outward
    naive = naive_leaders(result.tracks[["track_id", "frame", "y_um", "x_um"]], len(truth_leaders),
                          field_um=tuple(sim.params["field_um"]))
    naive_cells = result.cells[["track_id"]].assign(is_leader=result.cells["track_id"].isin(naive))
    naive_f1 = leader_agreement(result.tracks, naive_cells, sim.labels, truth_leaders)["f1"]
    # the ceiling of a learned segmenter: the simulator's own masks passed as labels (--labels)
    with_masks = analyze_movie(path, labels=sim.labels)
    f1_truth_masks = leader_agreement(with_masks.tracks, with_masks.cells, sim.labels, truth_leaders)["f1"]
    visible = sim.tracks[sim.tracks["label"] > 0]
    merged, missed = merged_and_missed_nuclei(visible, result.labels)
    mapping = truth_track_ids(result.tracks, sim.labels)
    long_truth = visible.groupby("track_id").size()
    long_truth = long_truth[long_truth >= 0.5 * sim.image.shape[0]].index
    pieces = mapping[mapping.isin(long_truth)].value_counts().reindex(long_truth, fill_value=0)
    d_true = sim.nucleus_diameter_um
    d_est = result.provenance["nucleus_diameter_um"]
    return {
        "geometry": geometry,
        "difficulty": difficulty,
        "seed": seed,
        **{k: scores[k] for k in ("precision", "recall", "f1", "n_true", "n_found")},
        **frame_scores,
        "naive_f1": naive_f1,
        "f1_truth_masks": f1_truth_masks,
        "cells_found": len(result.tracks) / max(len(visible), 1),
        "nuclei_merged": merged,
        "nuclei_missed": missed,
        "pieces_per_track": float(pieces[pieces > 0].mean()) if (pieces > 0).any() else np.nan,
        "diameter_error": abs(d_est - d_true) / d_true,
        "geometry_found": result.provenance["front"]["geometry"],
        "seconds": seconds,
    }


def accuracy(
    seeds: int, first_seed: int = 0, geometries: tuple[str, ...] = GEOMETRIES, nucleus_px: float | None = None
) -> pd.DataFrame:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for geometry in geometries:
            for difficulty in DIFFICULTIES:
                for seed in range(first_seed, first_seed + seeds):
                    rows.append(accuracy_one(seed, geometry, difficulty, Path(tmp), nucleus_px))
                    print(rows[-1], flush=True)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ speed, each method in its own process

# (imports, work): only the work is timed, so start-up costs do not blur the ratios.
METHODS = {
    "floor": (
        """
        import numpy as np
        from scipy import ndimage
        from leadertrack.io import read_movie
        """,
        """
        movie = read_movie(PATH)
        for t in range(len(movie)):
            ndimage.gaussian_filter(np.asarray(movie.frame(t), dtype=np.float32), DIAMETER_PX * 0.1)
        """,
    ),
    "trackpy": (
        """
        import trackpy as tp
        from leadertrack.io import read_movie
        tp.quiet()
        """,
        """
        movie = read_movie(PATH)
        size = int(DIAMETER_PX) // 2 * 2 + 1
        located = time.perf_counter()
        found = tp.batch([movie.frame(t) for t in range(len(movie))], size, processes=1)
        linked = time.perf_counter()
        tp.link(found, DIAMETER_PX, memory=3)
        stages = {"locate": linked - located, "link": time.perf_counter() - linked, "found_per_frame": len(found) / len(movie)}
        """,
    ),
    "leadertrack": (
        """
        from leadertrack.config import RunConfig
        from leadertrack.pipeline import analyze_movie
        import leadertrack.classify, leadertrack.features, leadertrack.segment, leadertrack.track, leadertrack.diameter
        """,
        """
        config = RunConfig()
        config.segment.nucleus_diameter_um = DIAMETER_UM
        stages = analyze_movie(PATH, config).provenance["timings_s"]
        """,
    ),
    # what `leadertrack run movie.tif` does: the labels are streamed into the result folder, not
    # kept in memory, and every output is written
    "leadertrack_run": (
        """
        import tempfile
        from pathlib import Path
        from leadertrack.config import RunConfig
        from leadertrack.pipeline import process_movie
        import leadertrack.classify, leadertrack.features, leadertrack.segment, leadertrack.track, leadertrack.diameter
        """,
        """
        config = RunConfig()
        config.segment.nucleus_diameter_um = DIAMETER_UM
        with tempfile.TemporaryDirectory() as out:
            process_movie(Path(PATH), Path(out), config, threads=0)
        """,
    ),
}


def _on_every_core(method: str, one_core: str, every_core: str) -> tuple[str, str]:
    imports, work = METHODS[method]
    assert one_core in work
    return imports, work.replace(one_core, every_core)


# every core, as `leadertrack run movie.tif` does (frames segmented in threads), against trackpy's
# own parallel locate
METHODS["trackpy_all_cores"] = _on_every_core("trackpy", "processes=1", 'processes="auto"')
METHODS["leadertrack_all_cores"] = _on_every_core("leadertrack", "analyze_movie(PATH, config)", "analyze_movie(PATH, config, threads=0)")


# Peak RSS of the child itself: ru_maxrss survives fork + exec, so on Linux it would report the
# (larger) benchmark parent; the kernel's per-process high-water mark VmHWM starts afresh at exec.
PEAK_RSS_MB = """
def peak_rss_mb():
    try:
        with open('/proc/self/status') as status:
            return next(int(line.split()[1]) for line in status if line.startswith('VmHWM:')) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""


def time_method(method: str, path: Path, diameter_um: float, pixel_size_um: float) -> tuple[float, float, dict]:
    """Wall seconds (imports excluded), peak RSS (MB) and seconds per stage (the ``stages`` dict
    the method's work leaves, if any) of one method, in a fresh process."""
    imports, work = (textwrap.dedent(part) for part in METHODS[method])
    work = work.replace("PATH", repr(str(path))).replace("DIAMETER_PX", repr(diameter_um / pixel_size_um))
    work = work.replace("DIAMETER_UM", repr(diameter_um))
    lines = [
        "import json, resource, time, warnings",
        "warnings.simplefilter('ignore')",
        imports,
        "start = time.perf_counter()",
        work,
        "seconds = time.perf_counter() - start",
        PEAK_RSS_MB,
        "print(json.dumps({'seconds': seconds, 'rss_mb': peak_rss_mb(), 'stages': globals().get('stages', {})}))",
    ]
    script = "\n".join(lines)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    numbers = json.loads(out.stdout.strip().splitlines()[-1])
    return numbers["seconds"], numbers["rss_mb"], numbers["stages"]


def speed(quick: bool) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    cases = [
        ("frames", {"n_frames": 20, "field_um": (256.0, 256.0)}),
        ("frames", {"n_frames": 40, "field_um": (256.0, 256.0)}),
        ("frames", {"n_frames": 80, "field_um": (256.0, 256.0)}),
        ("size", {"n_frames": 20, "field_um": (512.0, 512.0)}),
        ("size", {"n_frames": 20, "field_um": (1024.0, 1024.0)}),
        # the same 10 µm nuclei at finer pixels: larger nuclei in pixels, as at a higher magnification
        ("nucleus", {"n_frames": 20, "field_um": (256.0, 256.0), "pixel_size_um": 0.5}),
        ("nucleus", {"n_frames": 20, "field_um": (256.0, 256.0), "pixel_size_um": 0.25}),
    ]
    if quick:
        cases = cases[:2]
    rows, stage_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for axis, options in cases:
            sim = simulate_invasion(geometry="planar", difficulty="medium", seed=1, **{"pixel_size_um": 1.0, **options})
            path = Path(tmp) / "movie.ome.tif"
            save_simulation(sim, path)
            row = {"varies": axis, "frames": sim.image.shape[0], "size_px": f"{sim.image.shape[1]}x{sim.image.shape[2]}",
                   "nucleus_px": round(sim.nucleus_diameter_um / sim.pixel_size_um),
                   "cells_per_frame": round(len(sim.tracks) / sim.image.shape[0])}
            stage_row = {key: row[key] for key in ("frames", "size_px", "nucleus_px", "cells_per_frame")}
            for method in METHODS:
                seconds, rss, stages = time_method(method, path, sim.nucleus_diameter_um, sim.pixel_size_um)
                row[f"{method}_s"] = seconds
                row[f"{method}_mb"] = rss
                if method in ("trackpy", "leadertrack"):  # one core: the stages of the end-to-end times above
                    found = stages.pop("found_per_frame", None)
                    stage_row.update({f"{method} {stage} (s)": value for stage, value in stages.items()})
                    if found is not None:
                        stage_row[f"{method} nuclei found per frame"] = found
            print(row, stage_row, flush=True)
            rows.append(row)
            stage_rows.append(stage_row)
    table_ = pd.DataFrame(rows)
    ratios = pd.DataFrame(
        {
            "frames": table_["frames"],
            "size_px": table_["size_px"],
            "nucleus_px": table_["nucleus_px"],
            "cells_per_frame": table_["cells_per_frame"],
            "trackpy / leadertrack (speed-up)": table_["trackpy_s"] / table_["leadertrack_s"],
            "same, all cores": table_["trackpy_all_cores_s"] / table_["leadertrack_all_cores_s"],
            "leadertrack all cores / one core": table_["leadertrack_all_cores_s"] / table_["leadertrack_s"],
            "leadertrack / floor": table_["leadertrack_s"] / table_["floor_s"],
            "peak MB leadertrack": table_["leadertrack_mb"],
            "peak MB leadertrack run": table_["leadertrack_run_mb"],
            "peak MB trackpy": table_["trackpy_mb"],
            "peak MB floor": table_["floor_mb"],
        }
    )
    stages = pd.DataFrame(stage_rows)
    stages["leadertrack segment / trackpy locate"] = stages["leadertrack segment (s)"] / stages["trackpy locate (s)"]
    stages["leadertrack link / trackpy link"] = stages["leadertrack link (s)"] / stages["trackpy link (s)"]
    return table_, ratios, stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="random scenarios per geometry and difficulty")
    parser.add_argument("--quick", action="store_true", help="fewer cases (a smoke run); print, do not write docs/benchmarks.md")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument(
        "--cut", action="store_true",
        help=f"accuracy on spheroids cut by the image's border at their centre ({CUT!r}), in a section of their own",
    )
    parser.add_argument(
        "--first-seed", type=int, default=0,
        help="first scenario seed; other than 0 it writes its own section (movies never looked at while tuning)",
    )
    parser.add_argument(
        "--nucleus-px", type=float, default=None,
        help="render every scenario with pixels making a nucleus this many px across (the seeds' own are 5-30 px), "
        f"the field cut to at most {FIELD_MAX_PX} px a side, in a section of its own",
    )
    args = parser.parse_args()

    def publish(name: str, markdown: str) -> None:
        if args.quick:
            print(markdown)
        else:
            write_section(name, markdown)

    if not args.skip_accuracy:
        rows = accuracy(1 if args.quick else args.seeds, args.first_seed, (CUT,) if args.cut else GEOMETRIES, args.nucleus_px)
        summary = (
            rows.groupby(["geometry", "difficulty"])[
                ["precision", "recall", "f1", "frame_precision", "frame_recall", "frame_f1", "naive_f1", "f1_truth_masks",
                 "cells_found", "nuclei_merged", "nuclei_missed", "pieces_per_track", "diameter_error"]
            ]
            .mean()
            .reset_index()
        )
        summary = with_interval(summary, rows, ["geometry", "difficulty"])
        first, last = rows["seed"].min(), rows["seed"].max()
        held_out = args.first_seed != 0
        resized = f"-nuclei-{args.nucleus_px:g}px" if args.nucleus_px is not None else ""
        name = ("pipeline-cut" if args.cut else "pipeline") + resized + (f"-seeds-{args.first_seed}" if held_out else "")
        publish(
            name,
            "## Leaders from images, end to end"
            + (", spheroids cut by the image's border" if args.cut else "") + (", on held-out seeds" if held_out else "")
            + (f", nuclei {args.nucleus_px:g} px across" if args.nucleus_px is not None else "")
            + "\n\n" + machine_line() + "\n\n"
            + ("These seeds were not looked at while choosing the defaults. " if held_out else "")
            + (f"The same scenarios imaged with pixels that make every nucleus {args.nucleus_px:g} px across (the seeds' "
               f"own nuclei are 5-30 px), the field cut to at most {FIELD_MAX_PX} px a side to bound the image size "
               f"({FIELD_MAX_PX / args.nucleus_px:.0f} nuclei across). "
               if args.nucleus_px is not None else "")
            + (f"`{CUT}`: the radial movies imaged with a field that ends at the spheroid's centre (movie, masks "
               "and truth cut there; a track leads by the simulator's rule over the frames it is in view). "
               if args.cut else "")
            + "Rendered simulated movies (`random_scenario`, "
            f"seeds {first}-{last} per cell), run with defaults: units from the file, nucleus diameter "
            "estimated, geometry auto. Per-track leader precision / recall / F1 after matching found tracks to the "
            "truth (`f1_ci95`: the 95 % bootstrap interval of the mean F1, resampling the movies: how far other "
            "seeds could move it); per-frame precision / recall / F1 (a true leader cell-frame is found when a found row in the "
            "leader state sits on its mask then); `naive_f1` = the naive rule a user would script on the same found "
            "tracks (the k tracks farthest outward, k = the true number of leaders); `f1_truth_masks` = the same F1 when the simulator's own masks are passed as labels "
            "(`--labels`), the most a learned segmenter (Cellpose, StarDist) could add; `cells_found` = found "
            "cell-frames / visible truth cell-frames; `nuclei_merged` / `nuclei_missed` = shares of the visible truth "
            "nuclei that our segmentation put in one object with another nucleus / left on background; "
            "`pieces_per_track` = found tracks per long truth track (1 = not fragmented); `diameter_error` = relative "
            "error of the estimated nucleus diameter.\n\n" + table(summary) + "\n\n"
            f"Mean over all: F1 {rows['f1'].mean():.3f} (95 % interval {mean_ci95(rows['f1'])} over {len(rows)} movies; with the truth masks {rows['f1_truth_masks'].mean():.3f}, "
            f"naive rule {rows['naive_f1'].mean():.3f}), frame F1 {rows['frame_f1'].mean():.3f}, "
            f"precision {rows['precision'].mean():.3f}, recall {rows['recall'].mean():.3f}; nuclei merged "
            f"{rows['nuclei_merged'].mean():.3f}, missed {rows['nuclei_missed'].mean():.3f}. "
            f"Script: `python benchmarks/bench_pipeline.py --seeds {args.seeds}"
            + (" --cut" if args.cut else "")
            + (f" --first-seed {args.first_seed}" if held_out else "")
            + (f" --nucleus-px {args.nucleus_px:g}" if args.nucleus_px is not None else "")
            + (" --skip-speed`." if held_out or args.cut or args.nucleus_px is not None else "`."),
        )
    if not args.skip_speed:
        raw, ratios, stages = speed(args.quick)
        publish(
            "speed",
            "## Speed and memory, end to end\n\n" + machine_line() + "\n\n"
            "Same movie, same run, each method in its own process, imports not timed. `floor` = read every frame and smooth it once; "
            "`trackpy` = `tp.batch` locate + `tp.link` (memory 3), what a user would script; `leadertrack` = "
            "segment + link + front + features + classify, on one core. Ratios > 1 in the speed-up column mean leadertrack is "
            "faster than plain trackpy. `all cores`: leadertrack segmenting frames in threads (`threads=0`, what "
            "`leadertrack run movie.tif` does) against trackpy locating in processes (`tp.batch(processes=\"auto\")`); "
            f"this machine has {os.cpu_count()} cores. `leadertrack` keeps the label images in memory, as the Python API "
            "returns them (4 bytes per pixel of the movie); `leadertrack run` (`process_movie`, all cores, as the command "
            "line) streams them into the result folder and writes every output, so its peak memory should not grow with "
            "the number of frames.\n\n" + table(ratios, ".2f") + "\n\nRaw seconds and peak RSS (MB):\n\n"
            + table(raw, ".2f")
            + "\n\nSeconds per stage, one core (the same runs as `trackpy_s` and `leadertrack_s`): leadertrack's own "
            "timings (`run.json`: `timings_s`; `measure` includes finding the front), trackpy's locate (`tp.batch`) "
            "and link (`tp.link`). The last two columns say where the end-to-end ratio comes from. Plain trackpy links only "
            "the nuclei its locate finds (compare `cells_per_frame`), without velocity prediction, gap closing or undoing "
            "merges.\n\n"
            + table(stages, ".2f"),
        )


if __name__ == "__main__":
    main()
