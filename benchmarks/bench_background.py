"""Uneven background: leaders from images when the background slopes across the field, with and without flattening it.

Wide-field movies are rarely evenly lit: haze, stray light and the matrix's own glow add a background
that rises across the field. Simulated movies (``random_scenario``, medium, planar / scratch /
radial) are rendered, and a background rising linearly from the left edge to the right one by
``slope`` times the nuclei's signal (the movie's 99th percentile over its median) is added to
every frame. Each movie runs through ``analyze_movie`` with defaults (units from the file, nucleus
diameter estimated, geometry auto), with ``[segment] flatten_background`` on (the default) and off
(the baseline, in the same run). Reported: per-track leader F1 against the truth, the cells found
per visible true cell-frame, the relative error of the estimated nucleus diameter, and the share
of frames whose slope was taken out (``leadertrack.background.background_surface`` on the
smoothed frame, as the segmentation does).

The same with movies of the second, independent simulator (``bench_foreign.py``, seeds from 7300,
never looked at while choosing the defaults), at slopes 0 and 0.2.

Run: ``python benchmarks/bench_background.py [--seeds N] [--foreign-movies M]``; writes the
``background`` section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _perturbed import FOREIGN_FIRST_SEED, GEOMETRIES, arguments, run_all
from _report import machine_line, paired_gain_ci95, table, write_section

from leadertrack.background import MIN_RISE_NOISE, background_surface
from leadertrack.config import RunConfig, SegmentConfig
from leadertrack.errors import InputError
from leadertrack.evaluate import leader_agreement
from leadertrack.pipeline import analyze_movie
from leadertrack.segment import _smooth
from leadertrack.synthetic import random_scenario, save_simulation, simulate_invasion

SLOPES = (0.0, 0.05, 0.1, 0.2, 0.5)
"""Rise of the added background from the left edge to the right one, as a fraction of the nuclei's signal."""


def sloped(image: np.ndarray, slope: float) -> np.ndarray:
    """``image`` (T, Y, X) plus a background rising linearly along x by ``slope`` times its signal
    (99th percentile over median), in the image's dtype."""
    signal = float(np.percentile(image, 99)) - float(np.median(image))
    ramp = np.linspace(0.0, slope * signal, image.shape[2], dtype=np.float32)
    return np.clip(image + ramp[None, None, :], 0, np.iinfo(image.dtype).max).astype(image.dtype)


def flattened_share(image: np.ndarray, diameter_px: float) -> float:
    """Share of the frames (five, spread over the movie) whose slope the segmentation takes out, on
    each frame smoothed as the segmentation smooths it (default smoothing)."""
    picks = np.linspace(0, len(image) - 1, min(5, len(image))).round().astype(int)
    sigma_px = SegmentConfig().smoothing_fraction * diameter_px
    return float(np.mean([
        background_surface(_smooth(image[t], sigma_px=sigma_px), nucleus_diameter_px=diameter_px) is not None for t in picks
    ]))


FLATTENED_AND_NOT = {"flattened": {}, "not flattened": {"flatten_background": False}}
"""The runs of :func:`score_runs` by default: name -> ``[segment]`` options changed from the defaults."""


def score_runs(
    path: Path, labels: np.ndarray, truth_leaders: set[int], *, n_visible: int, diameter_um: float,
    runs: dict[str, dict] = FLATTENED_AND_NOT,
) -> list[dict]:
    """The movie at ``path`` run once per entry of ``runs`` (name -> ``[segment]`` options; by default with the background
    flattened and not): leader F1, cells found, diameter error, whether the run took the background for a glow; a run
    that stops on the input (``stopped``: no nuclei found to estimate the diameter from) scores F1 0."""
    rows = []
    for name, options in runs.items():
        config = RunConfig()
        for key, value in options.items():
            setattr(config.segment, key, value)
        row = {"run": name, "flattened": config.segment.flatten_background}
        try:
            with warnings.catch_warnings():  # each run's warnings are in its provenance
                warnings.simplefilter("ignore")
                result = analyze_movie(path, config)
        except InputError:
            rows.append({**row, "f1": 0.0, "cells_found": 0.0, "diameter_error": np.nan, "background_glow": False, "stopped": True})
            continue
        rows.append({
            **row,
            "f1": leader_agreement(result.tracks, result.cells, labels, truth_leaders)["f1"],
            "cells_found": len(result.tracks) / max(n_visible, 1),
            "diameter_error": abs(result.provenance["nucleus_diameter_um"] / diameter_um - 1),
            "background_glow": bool(result.provenance["background_glow"]),
            "stopped": False,
        })
    return rows


def one(case: tuple[int, str, float]) -> list[dict]:
    """A movie of the package's simulator (medium), with a sloping background."""
    seed, geometry, slope = case
    sim = simulate_invasion(**random_scenario(seed, difficulty="medium", geometry=geometry))
    image = sloped(sim.image, slope)
    truth_leaders = set(sim.cells.loc[sim.cells["is_leader"], "track_id"])
    diameter_px = sim.nucleus_diameter_um / sim.pixel_size_um
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{geometry}_{seed}.ome.tif"
        save_simulation(replace(sim, image=image), path)
        rows = score_runs(path, sim.labels, truth_leaders, n_visible=int((sim.tracks["label"] > 0).sum()),
                          diameter_um=sim.nucleus_diameter_um)
    share = flattened_share(image, diameter_px)
    return [{"geometry": geometry, "seed": seed, "slope": slope, "frames_flattened": share, **row} for row in rows]


def one_foreign(case: tuple[int, str, float]) -> list[dict]:
    """A movie of the second, independent simulator (``bench_foreign.py``), with a sloping background."""
    import bench_foreign

    seed, geometry, slope = case
    movie = bench_foreign.simulate(seed, geometry)
    movie = replace(movie, image=sloped(movie.image, slope))
    diameter_px = movie.params["diameter_um"] / movie.params["pixel_um"]
    n_visible = int(sum(len(np.unique(frame)) - 1 for frame in movie.labels))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"foreign_{geometry}_{seed}.ome.tif"
        bench_foreign.save(movie, path)
        rows = score_runs(path, movie.labels, movie.leaders, n_visible=n_visible, diameter_um=movie.params["diameter_um"])
    share = flattened_share(movie.image, diameter_px)
    return [{"geometry": geometry, "seed": seed, "slope": slope, "frames_flattened": share, **row} for row in rows]


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    """One row per slope: F1, cells found and diameter error with and without flattening, frames flattened."""
    rows = []
    for slope, group in raw.groupby("slope"):
        on, off = group[group["flattened"]], group[~group["flattened"]]
        rows.append({
            "slope (of the nuclei's signal)": slope,
            "f1": on["f1"].mean(),
            "f1 not flattened": off["f1"].mean(),
            "gain in f1 (95 % interval)": paired_gain_ci95(on, off, ["geometry", "seed"]),
            **{f"f1 {g}": on.loc[on["geometry"] == g, "f1"].mean() for g in GEOMETRIES if g in set(raw["geometry"])},
            "cells found": on["cells_found"].mean(),
            "cells found, not flattened": off["cells_found"].mean(),
            "diameter error": on["diameter_error"].mean(),
            "diameter error, not flattened": off["diameter_error"].mean(),
            "frames flattened": on["frames_flattened"].mean(),
        })
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    args = arguments(__doc__.splitlines()[0], "slopes 0 and 0.2", argv)
    raw, foreign = run_all(one, one_foreign, strengths=SLOPES, foreign_strengths=(0.0, 0.2), args=args)
    summary, foreign_summary = summarise(raw), summarise(foreign)
    print(summary.to_string())
    print(foreign_summary.to_string())
    text = f"""## Uneven background: leaders from images when the background slopes across the field

{machine_line()}

Simulated movies (`random_scenario`, medium, seeds 0-{args.seeds - 1} per geometry; their own background already has a gentle gradient), with a background added that rises linearly from the left edge to the right one by `slope` times the nuclei's signal (the movie's 99th percentile over its median), as uneven illumination or haze does. Run with defaults (units from the file, nucleus diameter estimated, geometry auto), with `[segment] flatten_background` on (the default) and, in the same run, off. `f1`: per-track leader F1 (mean over movies); `gain in f1`: the 95 % bootstrap interval of the mean gain from flattening, movie by movie (resampling the movies; an interval that holds 0 is no sign of a gain or a loss); `cells found`: found cell-frames per visible true cell-frame; `diameter error`: relative error of the estimated nucleus diameter; `frames flattened`: share of frames (five per movie) whose slope rose by {MIN_RISE_NOISE:g} noise standard deviations or more and was taken out (`leadertrack.background`). `python benchmarks/bench_background.py --seeds {args.seeds}`.

{table(summary)}

The same on movies of the second, independent simulator (`benchmarks/bench_foreign.py`, seeds {FOREIGN_FIRST_SEED}-{FOREIGN_FIRST_SEED + args.foreign_movies - 1} per geometry, never looked at while choosing the defaults; flat background of its own): `python benchmarks/bench_background.py --foreign-movies {args.foreign_movies}`.

{table(foreign_summary)}
"""
    write_section("background", text)


if __name__ == "__main__":
    main()
