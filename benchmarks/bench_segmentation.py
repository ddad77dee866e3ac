"""Segmentation against reference masks, object by object, beside the classical recipes a user would script.

Each movie is segmented by

- ``leadertrack``: :func:`leadertrack.segment.segment_frame` with the nucleus diameter estimated
  from the movie (:func:`leadertrack.diameter.estimate_nucleus_diameter_px`), as ``leadertrack run`` does;
- ``Otsu``: Gaussian smoothing (sigma 1 px), Otsu's threshold, connected components
  (scikit-image);
- ``Otsu + watershed``: the same mask split by a watershed of its distance transform from its
  maxima at least 0.4 estimated diameters apart (scikit-image's recipe for touching objects);

and scored by :func:`leadertrack.evaluate.segmentation_scores` (the CTC SEG measure, and object
precision / recall / F1 at IoU above 0.5) and :func:`leadertrack.evaluate.merged_and_missed_nuclei`
(the reference nuclei whose centre lies in an object with another one's / on background), and the
median area of the found objects over their reference nuclei's (for the nuclei alone in their object).

Data: the real sequences in ``../shared/data`` (HeLa nuclei with their reference masks, the
scratch assay's nuclei labels, and the CTC sequences' SEG ground truth; GOWT1/01 annotates only
some nuclei of each frame and the scratch assay's labels leave out its dim nuclei, so there only SEG
and recall mean something), skipped when absent, and rendered movies of the package's simulator
(``random_scenario``, ``--seeds`` per geometry and difficulty, the middle and last frames).

Run: ``python benchmarks/bench_segmentation.py [--seeds N]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
from scipy import ndimage as ndi
from skimage import filters, measure, segmentation
from skimage.feature import peak_local_max

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine_line, table, write_section

from leadertrack.detect import detect
from leadertrack.diameter import estimate_nucleus_diameter_px
from leadertrack.evaluate import merged_and_missed_nuclei, segmentation_scores, truth_labels_under
from leadertrack.segment import segment_frame
from leadertrack.synthetic import random_scenario, simulate_invasion

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
GEOMETRIES = ("planar", "scratch", "radial")
DIFFICULTIES = ("medium", "hard")

Segmenter = Callable[[np.ndarray, float], np.ndarray]


def otsu(image: np.ndarray, diameter_px: float) -> np.ndarray:
    """Smoothed (sigma 1 px) image above Otsu's threshold, one object per connected component."""
    smooth = filters.gaussian(image.astype(np.float32), sigma=1.0)
    return measure.label(smooth > filters.threshold_otsu(smooth))


def otsu_watershed(image: np.ndarray, diameter_px: float) -> np.ndarray:
    """Otsu's mask split by a watershed of its distance transform from maxima 0.4 diameters apart."""
    components = otsu(image, diameter_px)
    mask = components > 0
    distance = ndi.distance_transform_edt(mask)
    peaks = peak_local_max(distance, min_distance=max(1, round(0.4 * diameter_px)), labels=components)
    markers = np.zeros(mask.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return segmentation.watershed(-distance, markers, mask=mask)


def leadertrack(image: np.ndarray, diameter_px: float) -> np.ndarray:
    return segment_frame(image, nucleus_diameter_px=diameter_px)


METHODS: dict[str, Segmenter] = {"leadertrack": leadertrack, "Otsu": otsu, "Otsu + watershed": otsu_watershed}


def area_ratio(reference: pd.DataFrame, found: np.ndarray) -> float:
    """Median over reference nuclei of found area / reference area, for the nuclei whose centre lies in
    an object holding no other reference centre (the size convention of the masks, apart from merges).

    ``reference`` is :func:`leadertrack.detect.detect` of the reference masks; ``found`` the (T, Y, X) labels.
    """
    reference = reference.assign(under=truth_labels_under(reference, found))
    inside = reference[reference["under"] > 0]
    alone = inside[inside.groupby(["frame", "under"])["label"].transform("size") == 1]
    if alone.empty:
        return float("nan")
    areas = detect(found).set_index(["frame", "label"])["area_px"]
    found_area = areas.reindex(pd.MultiIndex.from_arrays([alone["frame"], alone["under"]])).to_numpy(float)
    return float(np.median(found_area / alone["area_px"].to_numpy(float)))


def score(name: str, images: np.ndarray, truth: np.ndarray, *, complete: bool, diameter_px: float) -> Iterator[dict]:
    """One row per method for the frames ``images`` with reference masks ``truth``."""
    reference = detect(truth)
    for method, run in METHODS.items():
        start = time.perf_counter()
        found = np.stack([run(image, diameter_px) for image in images])
        seconds = time.perf_counter() - start
        scores = segmentation_scores(truth, found)
        merged, missed = merged_and_missed_nuclei(reference, found)
        yield {
            "data": name, "frames": len(images), "nuclei": scores["n_truth"], "method": method,
            "SEG": scores["seg"], "precision": scores["precision"] if complete else float("nan"),
            "recall": scores["recall"], "f1": scores["f1"] if complete else float("nan"),
            "merged": merged, "missed": missed, "area_ratio": area_ratio(reference, found), "seconds": seconds,
        }


def real_cases() -> Iterator[tuple[str, np.ndarray, np.ndarray, bool]]:
    """(name, frames, reference masks, every nucleus annotated) of the real data found in ``DATA``."""
    hela = DATA / "hela_nuclei"
    if hela.is_dir():
        yield ("HeLa (Fluo-N2DL-HeLa/02)", tifffile.imread(hela / "Fluo_Hela_02_img.tif"),
               tifffile.imread(hela / "Fluo_Hela_02_ERR_SEG.tif"), True)
    scratch = DATA / "scratch_assay" / "scratch-assay-labeled-10T-2Ch.tiff"
    if scratch.is_file():
        channels = tifffile.imread(scratch)
        yield "scratch assay", channels[0], channels[2], False  # dim nuclei are left out of its labels
    for sequence, complete in (("Fluo-N2DH-GOWT1", False), ("Fluo-N2DH-SIM+", True)):
        folder = DATA / "ctc" / sequence
        if not folder.is_dir():
            continue
        masks = sorted((folder / "01_GT" / "SEG").glob("man_seg*.tif"))
        frames = [folder / "01" / f"t{m.stem[len('man_seg'):]}.tif" for m in masks]
        yield (f"CTC {sequence}/01", np.stack([tifffile.imread(f) for f in frames]),
               np.stack([tifffile.imread(m) for m in masks]), complete)


def evaluate(seeds: int) -> pd.DataFrame:
    rows = []
    for name, images, truth, complete in real_cases():
        print(f"{name}: {len(images)} frames", flush=True)
        rows += score(name, images, truth, complete=complete, diameter_px=estimate_nucleus_diameter_px(images))
    for difficulty in DIFFICULTIES:
        for geometry in GEOMETRIES:
            for seed in range(seeds):
                sim = simulate_invasion(**random_scenario(seed, difficulty=difficulty, geometry=geometry))
                frames = [sim.image.shape[0] // 2, sim.image.shape[0] - 1]
                print(f"simulated {geometry} {difficulty} seed {seed}", flush=True)
                for row in score(f"simulated {geometry} {difficulty}", sim.image[frames], sim.labels[frames],
                                 complete=True, diameter_px=estimate_nucleus_diameter_px(sim.image)):
                    rows.append({**row, "seed": seed})
    return pd.DataFrame(rows)


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows of one dataset and method pooled: nuclei and frames summed, scores averaged over movies, and the
    method's time over Otsu's on the same frames."""
    scores = ["SEG", "precision", "recall", "f1", "merged", "missed", "area_ratio"]
    grouped = rows.groupby(["data", "method"], sort=False)
    out = grouped[scores].mean()
    out[["frames", "nuclei"]] = grouped[["frames", "nuclei"]].sum()
    seconds = grouped["seconds"].sum()
    otsu = seconds.xs("Otsu", level="method")
    out["time_vs_otsu"] = seconds / otsu.reindex(seconds.index.get_level_values("data")).to_numpy()
    return out.reset_index()[["data", "method", "frames", "nuclei", *scores, "time_vs_otsu"]]


def section(rows: pd.DataFrame, seeds: int) -> str:
    summary = summarise(rows)
    shown = summary.astype(object).where(summary.notna(), "-")
    ours = summary[summary.method == "leadertrack"].set_index("data")
    best_peer = summary[summary.method != "leadertrack"].groupby("data", sort=False)[["SEG", "f1"]].max()
    gain = (ours[["SEG", "f1"]] - best_peer).reset_index()
    gain = gain.astype(object).where(gain.notna(), "-")
    return "\n\n".join([
        "## Segmentation against reference masks, beside classical recipes",
        machine_line(),
        "Command: `python benchmarks/bench_segmentation.py"
        + (f" --seeds {seeds}" if seeds != 5 else "") + "`. `leadertrack` = `segment_frame` with the nucleus "
        "diameter estimated from the movie (the defaults of `leadertrack run`); `Otsu` = Gaussian smoothing "
        "(sigma 1 px), Otsu's threshold, connected components; `Otsu + watershed` = that mask split by a watershed "
        "of its distance transform from maxima 0.4 estimated diameters apart (scikit-image's recipe for touching "
        "objects). `SEG` = the Cell Tracking Challenge measure (a reference nucleus counts with its IoU when one "
        "object covers more than half of it, else 0); `precision` / `recall` / `f1` = objects matched at IoU above "
        "0.5; `merged` / `missed` = shares of the reference nuclei whose centre lies in an object with another "
        "one's / on background; `area_ratio` = median found area / reference area over the reference nuclei "
        "alone in their object (the masks' size convention); `time_vs_otsu` = the method's time on those frames "
        "over Otsu's, in the same run, one core (absolute times of the whole pipeline are in the speed section). "
        "GOWT1's SEG truth annotates only some nuclei per frame, and the scratch assay's nuclei label channel leaves out the dim nuclei of the image (105 of "
        "the 145 objects we find there that match no reference lie where it has nothing, 85% of them at least half "
        "a typical nucleus in area), so their precision and F1 are "
        "not shown. HeLa's reference masks are the ones shipped with the data (`Fluo_Hela_02_ERR_SEG.tif`). "
        "Simulated: "
        f"`random_scenario` seeds 0-{seeds - 1} per row, the middle and last frames of each movie, scores averaged "
        "over movies. The simulator's masks are the nuclei's outlines before the blur of the rendered image, so the "
        "objects found for them are larger (`area_ratio`) and their IoU often falls below one half: there SEG and "
        "F1 mostly measure that convention, `merged` and `missed` (centres only) how well the nuclei are told "
        "apart.",
        table(shown),
        "leadertrack minus the better classical recipe, per dataset (SEG, F1):\n\n" + table(gain),
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="simulated movies per geometry and difficulty")
    args = parser.parse_args(argv)
    rows = evaluate(args.seeds)
    write_section("segmentation", section(rows, args.seeds))
    print(summarise(rows).round(3).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
