"""Nucleus diameter estimated from the movie, against ground truth.

Measures ``leadertrack.diameter.estimate_nucleus_diameter_px`` (scale-space blob detection) on

- the sample movies (truth: the simulator's nominal diameter, and the median equivalent
  diameter of the truth masks),
- simulated invasion assays from ``random_scenario`` (``--seeds`` per difficulty),
- real data in ``../shared/data`` (truth: median equivalent diameter, 2 sqrt(area / pi), of
  the ground-truth masks): CTC Fluo-N2DH-GOWT1/01 and Fluo-N2DH-SIM+/01 (SEG masks), HeLa
  (``Fluo_Hela_02_ERR_SEG.tif``) and the scratch assay (channel 2, nuclei labels).

Times are wall-clock seconds per movie, including reading the sampled frames (5 by default).

Run: ``python benchmarks/bench_diameter.py [--seeds N]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine_line, table, write_section

from leadertrack import read_movie
from leadertrack.diameter import estimate_nucleus_diameter_px
from leadertrack.synthetic import DIFFICULTIES, random_scenario, simulate_invasion

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
TOLERANCE = 0.2


def median_equivalent_diameter(label_frames: list[np.ndarray]) -> float:
    """Median over objects and frames of 2 sqrt(area / pi)."""
    areas = np.concatenate([np.bincount(np.asarray(f).ravel())[1:] for f in label_frames])
    return float(np.median(2.0 * np.sqrt(areas[areas > 0] / np.pi)))


def timed(movie) -> tuple[float, float]:
    """Estimated diameter (NaN when none is found) and seconds taken."""
    start = time.perf_counter()
    try:
        value = float(estimate_nucleus_diameter_px(movie))
    except ValueError:
        value = float("nan")
    return value, time.perf_counter() - start


def real_cases() -> list[tuple[str, Callable[[], object], float, float | None]]:
    """(name, movie opener, truth px from masks, nominal px or None)."""
    cases = []
    for name in ("invasion_planar", "invasion_radial"):
        params = json.loads((REPO / "sample_data" / "truth" / f"{name}_truth_params.json").read_text())
        labels = tifffile.imread(REPO / "sample_data" / "truth" / f"{name}_truth_labels.tif")
        cases.append((
            f"sample {name}", lambda n=name: read_movie(REPO / "sample_data" / f"{n}.ome.tif"),
            median_equivalent_diameter(list(labels)), params["nucleus_diameter_um"] / params["pixel_size_um"],
        ))
    if not DATA.is_dir():
        print(f"real data not found at {DATA}; only the sample movies and the simulator are measured")
        return cases
    for short, folder in (("GOWT1", "Fluo-N2DH-GOWT1"), ("SIM+", "Fluo-N2DH-SIM+")):
        seq = DATA / "ctc" / folder / "01"
        masks = [tifffile.imread(f) for f in sorted((DATA / "ctc" / folder / "01_GT" / "SEG").glob("man_seg*.tif"))]
        cases.append((f"CTC {short}/01", lambda s=seq: read_movie(s, frame_sequence=True), median_equivalent_diameter(masks), None))
    hela = DATA / "hela_nuclei"
    cases.append(("HeLa (Fluo-N2DL-HeLa/02)", lambda: read_movie(hela / "Fluo_Hela_02_img.tif"),
                  median_equivalent_diameter(list(tifffile.imread(hela / "Fluo_Hela_02_ERR_SEG.tif"))), None))
    scratch = DATA / "scratch_assay" / "scratch-assay-labeled-10T-2Ch.tiff"
    cases.append(("scratch assay", lambda: read_movie(scratch, channel=0),
                  median_equivalent_diameter(list(tifffile.imread(scratch)[2])), None))
    return cases


def measure_real() -> pd.DataFrame:
    rows = []
    for name, open_movie, truth_px, nominal_px in real_cases():
        movie = open_movie()
        estimate, seconds = timed(movie)
        rows.append({
            "data": name, "frame (px)": "x".join(map(str, movie.shape[1:])), "truth (px)": truth_px,
            "nominal (px)": nominal_px if nominal_px is not None else "-",
            "estimate (px)": estimate, "estimate / truth": estimate / truth_px, "seconds": seconds,
        })
        print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def measure_simulated(seeds: int) -> pd.DataFrame:
    rows = []
    for difficulty in DIFFICULTIES:
        for seed in range(seeds):
            sim = simulate_invasion(**random_scenario(seed, difficulty=difficulty))
            picks = np.unique(np.linspace(0, len(sim.labels) - 1, 5).round().astype(int))
            truth_px = median_equivalent_diameter(list(sim.labels[picks]))
            estimate, seconds = timed(sim.image)
            rows.append({
                "difficulty": difficulty, "seed": seed, "geometry": sim.geometry,
                "truth_px": truth_px, "nominal_px": sim.nucleus_diameter_um / sim.pixel_size_um,
                "estimate_px": estimate, "seconds": seconds,
            })
        print(difficulty, "done", flush=True)
    return pd.DataFrame(rows)


def summarise_simulated(sims: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for difficulty, group in sims.groupby("difficulty", sort=False):
        row = {"difficulty": difficulty, "scenarios": len(group),
               "truth px (range)": f"{group.truth_px.min():.1f}-{group.truth_px.max():.1f}"}
        ratio = group.estimate_px / group.truth_px
        nominal_ratio = group.estimate_px / group.nominal_px
        row["within 20% of truth"] = f"{int((abs(ratio - 1) <= TOLERANCE).sum())}/{len(group)}"
        row["within 20% of nominal"] = f"{int((abs(nominal_ratio - 1) <= TOLERANCE).sum())}/{len(group)}"
        row["median abs error"] = f"{100 * float(np.nanmedian(abs(ratio - 1))):.0f}%"
        row["lowest ratio"] = float(ratio.min())
        row["highest ratio"] = float(ratio.max())
        row["seconds (median)"] = float(group.seconds.median())
        rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="simulated scenarios per difficulty")
    args = parser.parse_args()
    real = measure_real()
    sims = measure_simulated(args.seeds)
    summary = summarise_simulated(sims)
    text = "\n\n".join([
        "## Nucleus diameter estimated from the movie",
        machine_line(),
        ("Truth is the median equivalent diameter (2 sqrt(area / pi)) of the ground-truth masks; "
        "for simulated movies the nominal diameter (nucleus_diameter_um / pixel_size_um) is shown too "
        "(masks of touching simulated nuclei are clipped, so the mask truth is a little smaller). "
        "Estimator: `leadertrack.diameter.estimate_nucleus_diameter_px` (scale-space blob detection); the "
        "inscribed-disk estimate it replaced read 253 px on the planar sample and 102 px on the radial one, "
        "where a dense sheet or spheroid core is one thresholded object. "
        "Times include reading the 5 sampled frames. `python benchmarks/bench_diameter.py "
        f"--seeds {args.seeds}`."),
        table(real, floatfmt=".2f"),
        f"Simulated scenarios (`random_scenario(seed, difficulty=...)`, seeds 0-{args.seeds - 1}); target: within {100 * TOLERANCE:.0f}% of the truth.",
        table(summary, floatfmt=".2f"),
    ])
    write_section("diameter", text)
    print(text)


if __name__ == "__main__":
    main()
