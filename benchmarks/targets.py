"""Where each target of the issues stands, from the numbers in ``docs/benchmarks.md``.

The benchmark scripts write their results into their own sections; this script reads those tables
back and writes the ``targets`` section: one row per target and case, the measured value (the mean
over the sets of seeds where there are several, each set's own mean beside it) and whether it meets
the target. Nothing is measured here, so the summary can only say what the sections below it say.

Run: ``python benchmarks/targets.py`` (``run_all.py`` runs it after the benchmarks).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import (
    BENCHMARKS_MD, FOREIGN_SECTIONS, GEOMETRIES, IMAGE_SECTIONS, PERFECT_SECTIONS, TARGET_HARD, TARGET_MEDIUM, column_values,
    first_tables, section_tables, table, write_section,
)

CTC_TARGETS = (("Fluo-N2DH-GOWT1/01", "DET", 0.97), ("Fluo-N2DH-GOWT1/01", "TRA", 0.97), ("Fluo-N2DH-SIM+/01", "TRA", 0.95))
"""(sequence, measure, target) of the tracking issue on the Cell Tracking Challenge data."""
SPEED_UP_TARGET, FLOOR_TARGET = 3.0, 3.0
"""End to end at least this many times faster than plain trackpy, and within this factor of the floor."""


def _row(
    issue: str, target: str, case: str, values: list[float], met: bool | None, sections: Iterable[str],
    true_masks: list[float] | None = None,
) -> dict:
    """One row of the summary: the mean of ``values`` (one per set of seeds), each value, met or not, and the mean
    of ``true_masks`` (the same measured with the simulator's own masks as labels), where given."""
    return {
        "issue": issue, "target": target, "case": case,
        "measured": f"{np.mean(values):.3f}" if values else "-",
        "each set of seeds": ", ".join(f"{v:.3f}" for v in values) if len(values) > 1 else "",
        "met": "-" if met is None or not values else ("yes" if met else "no"),
        "with the true masks": f"{np.mean(true_masks):.3f}" if true_masks else "",
        "sections": ", ".join(f"`{s}`" for s in sections),
    }


def leader_rows(path: Path) -> list[dict]:
    """Leader F1 from images (medium, hard), above the naive rule, from ground-truth tracks, on the second simulator."""
    rows = []
    images = first_tables(IMAGE_SECTIONS, path)
    for difficulty, target in (("medium", TARGET_MEDIUM), ("hard", TARGET_HARD)):
        for geometry in GEOMETRIES:
            f1 = column_values(images, "f1", geometry, difficulty)
            rows.append(_row("3, 6", f"leader F1 per track from images >= {target}", f"{geometry}, {difficulty}", f1,
                             bool(np.mean(f1) >= target) if f1 else None, images,
                             column_values(images, "f1_truth_masks", geometry, difficulty)))
    for geometry in GEOMETRIES:
        f1, naive = column_values(images, "f1", geometry, "medium"), column_values(images, "naive_f1", geometry, "medium")
        case = f"{geometry}, medium (naive rule {np.mean(naive):.3f})" if naive else f"{geometry}, medium"
        above = bool(len(f1) == len(naive) and all(a > b for a, b in zip(f1, naive))) if naive else None
        rows.append(_row("6", "clearly above the naive rule (top-k outward), in every set of seeds", case, f1, above, images))
    perfect = first_tables(PERFECT_SECTIONS, path)
    for geometry in (*GEOMETRIES, "radial, cut"):
        f1 = column_values(perfect, "f1", geometry, "medium")
        rows.append(_row("3", f"leader F1 per track from ground-truth tracks >= {TARGET_MEDIUM} (medium movies; the issue names no difficulty)", f"{geometry}, medium", f1,
                         bool(np.mean(f1) >= TARGET_MEDIUM) if f1 else None, perfect))
    foreign = first_tables(FOREIGN_SECTIONS, path)
    for geometry in ("planar", "radial"):
        f1 = column_values(foreign, "f1", geometry)
        rows.append(_row("3", "leader F1 per track from images, second simulator (no target of its own)", geometry,
                         f1, None, foreign))
    return rows


def ctc_rows(path: Path) -> list[dict]:
    """DET and TRA of leadertrack (defaults) on the Cell Tracking Challenge sequences."""
    tables = section_tables("tracking", path)
    if not tables:
        return []
    scores = tables[0][tables[0]["method"] == "leadertrack"].set_index("sequence")
    rows = []
    for sequence, measure, target in CTC_TARGETS:
        values = [float(scores.loc[sequence, measure])] if sequence in scores.index else []
        rows.append(_row("6", f"CTC {measure} >= {target}", sequence, values, bool(values and values[0] >= target), ["tracking"]))
    return rows


def speed_rows(path: Path) -> list[dict]:
    """End to end against plain trackpy and against the floor (worst case of the speed section), and memory against
    movie length (the batch section)."""
    rows = []
    tables = section_tables("speed", path)
    if tables:
        ratios = tables[0]
        speed_up = ratios["trackpy / leadertrack (speed-up)"].astype(float)
        floor = ratios["leadertrack / floor"].astype(float)
        rows.append(_row("6", f"end to end >= {SPEED_UP_TARGET:g}x faster than trackpy locate + link (one core)",
                         f"slowest case (all cases {speed_up.min():.2f}-{speed_up.max():.2f})", [float(speed_up.min())],
                         bool(speed_up.min() >= SPEED_UP_TARGET), ["speed"]))
        rows.append(_row("6", f"end to end within {FLOOR_TARGET:g}x of the floor (read + smooth once)",
                         f"farthest case (all cases {floor.min():.2f}-{floor.max():.2f})", [float(floor.max())],
                         bool(floor.max() <= FLOOR_TARGET), ["speed"]))
    batch = section_tables("batch", path)
    memory = next((t for t in batch if "peak while segmenting (MB)" in t), None)
    if memory is not None:
        same_size = memory[memory["frame size"] == memory["frame size"].iloc[0]].sort_values("frames")
        first, last = same_size.iloc[0], same_size.iloc[-1]
        growth = float(last["peak while segmenting (MB)"] - first["peak while segmenting (MB)"])
        frame_mb = float(last["movie size (MB)"] - first["movie size (MB)"])
        rows.append(_row(
            "6", "peak memory does not grow with the number of frames (under a quarter of the frames added)",
            f"growth of the peak while segmenting, MB: {first['frames']} -> {last['frames']} frames of "
            f"{first['frame size']}, {frame_mb:.0f} MB of frames added", [growth], bool(growth < 0.25 * frame_mb), ["batch"],
        ))
    return rows


def summary(path: Path = BENCHMARKS_MD) -> pd.DataFrame:
    """One row per target and case, from the tables of ``path``."""
    return pd.DataFrame(leader_rows(path) + ctc_rows(path) + speed_rows(path))


def write_targets(path: Path = BENCHMARKS_MD) -> pd.DataFrame:
    """Write the ``targets`` section of ``path`` from its other sections; the summary written."""
    rows = summary(path)
    met = (rows["met"] == "yes").sum()
    judged = rows["met"].isin(["yes", "no"]).sum()
    body = (
        "## Targets: where each stands\n\n"
        "Written by `python benchmarks/targets.py` from the tables below (nothing is measured there). "
        "`measured` is the mean over the sets of seeds named in `sections` (each set's own mean in `each set of seeds`: "
        "how much the value moves with the movies); leader F1 from images with the defaults (units from the file, "
        "nucleus diameter estimated, geometry `auto`); memory: the peak reached while segmenting (the frames), the "
        "per cell-frame tables come after it (batch section). `with the true masks`: the same leader F1 when the "
        "simulator's own masks are passed as labels (`--labels`), the most a better segmentation could add. Our segmentation "
        "puts far more nuclei in one object with another on the simulator's dense, overlapping sheets than on the "
        "real data (`merged` in the segmentation section, `nuclei_merged` in the sections from images).\n\n"
        f"{table(rows)}\n\n{met} of the {judged} judged rows meet their target."
    )
    write_section("targets", body, path)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    rows = write_targets()
    print(rows.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
