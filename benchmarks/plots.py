"""Plots of the numbers in ``docs/benchmarks.md``: leader F1, the independent simulator, CTC scores, speed and memory, limits.

The benchmark scripts write their results as tables into their sections of ``docs/benchmarks.md``,
the one record of the numbers. This script reads those tables back, draws one PNG per topic into
``docs/images/benchmarks/`` and writes the ``plots`` section that shows them, so the figures always
show the numbers next to them. A figure whose sections are missing is left out, and the section says
so. Nothing is measured here.

Run: ``python benchmarks/plots.py`` (``run_all.py`` runs it last).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import (
    BENCHMARKS_MD, FOREIGN_SECTIONS, GEOMETRIES, IMAGE_SECTIONS, PERFECT_SECTIONS, TARGET_HARD, TARGET_MEDIUM, column_values,
    first_tables, section_tables, write_section,
)

from leadertrack.atomic import atomic_write

DIFFICULTIES = ("easy", "medium", "hard")
LARGE_NUCLEI_SECTION = "pipeline-nuclei-40px"
SPEED_METHODS = {
    "floor": "floor (read + smooth)", "trackpy": "trackpy locate + link", "leadertrack": "leadertrack",
    "leadertrack_run": "leadertrack run (writes outputs)", "trackpy_all_cores": "trackpy, all cores",
    "leadertrack_all_cores": "leadertrack, all cores",
}


def _legend_below(fig: plt.Figure, ncol: int) -> None:
    """One legend for the whole figure, below its panels (each label of any panel once)."""
    entries = {}
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    fig.legend(list(entries.values()), list(entries), loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.09, 1, 1))


def _bars(ax, groups: list[str], series: dict[str, list[list[float]]]) -> None:
    """Grouped bars: per group, one bar per series at the mean of its values, with each value as a dot (if several)."""
    width = 0.8 / len(series)
    for k, (label, values) in enumerate(series.items()):
        x = np.arange(len(groups)) + (k - (len(series) - 1) / 2) * width
        means = [np.mean(v) if len(v) else np.nan for v in values]
        bars = ax.bar(x, means, width, label=label)
        for xi, v in zip(x, values):
            if len(v) > 1:
                ax.plot([xi] * len(v), v, "o", color="black", markersize=2.5, zorder=3)
        ax.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
    ax.set_xticks(np.arange(len(groups)), groups)


def leaders_figure(path: Path) -> tuple[plt.Figure, str] | None:
    """Leader F1 per track by geometry and difficulty: ground-truth tracks, from images, with the true masks, naive rule."""
    perfect, images = first_tables(PERFECT_SECTIONS, path), first_tables(IMAGE_SECTIONS, path)
    large = first_tables([LARGE_NUCLEI_SECTION], path)
    if not perfect or not images:
        return None

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.4), sharey=True)
    for ax, geometry in zip(axes, GEOMETRIES):
        series = {
            "ground-truth tracks": [column_values(perfect, "f1", geometry, d) for d in DIFFICULTIES],
            "from images": [column_values(images, "f1", geometry, d) for d in DIFFICULTIES],
            "from images, true masks as labels": [column_values(images, "f1_truth_masks", geometry, d) for d in DIFFICULTIES],
            "naive rule (top-k outward), from images": [column_values(images, "naive_f1", geometry, d) for d in DIFFICULTIES],
        }
        if large:
            series["from images, nuclei 40 px across"] = [column_values(large, "f1", geometry, d) for d in DIFFICULTIES]
        _bars(ax, list(DIFFICULTIES), series)
        ax.axhline(TARGET_MEDIUM, color="grey", linestyle="--", linewidth=0.8)
        ax.axhline(TARGET_HARD, color="grey", linestyle=":", linewidth=0.8)
        ax.set_title(geometry)
        ax.set_ylim(0, 1.08)
    axes[0].set_ylabel("leader F1 per track")
    _legend_below(fig, ncol=5)
    caption = (
        "Leader F1 per track on the package's simulator, by geometry and difficulty. Bars: means; dots: each set of seeds "
        f"(ground-truth tracks: sections {', '.join(f'`{n}`' for n in perfect)}; from images: "
        f"{', '.join(f'`{n}`' for n in images)}"
        + (f"; the same scenarios with nuclei 40 px across: `{LARGE_NUCLEI_SECTION}`" if large else "")
        + f"). Dashed: the target on medium movies ({TARGET_MEDIUM}); "
        f"dotted: on hard ones ({TARGET_HARD})."
    )
    return fig, caption


def foreign_figure(path: Path) -> tuple[plt.Figure, str] | None:
    """Leader F1 on the independent simulator's movies, per set of seeds, against the naive rule."""
    tables = first_tables(FOREIGN_SECTIONS, path)
    if not tables:
        return None
    labels = [FOREIGN_SECTIONS[name] for name in tables]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    for ax, geometry in zip(axes, ("planar", "radial")):
        rows = [t.loc[t["geometry"] == geometry].iloc[0] if (t["geometry"] == geometry).any() else None for t in tables.values()]
        series = {
            "leadertrack": [[float(r["f1"])] if r is not None else [] for r in rows],
            "naive rule (top-k outward)": [[float(r["naive_f1"])] if r is not None else [] for r in rows],
        }
        _bars(ax, labels, series)
        ax.axhline(TARGET_MEDIUM, color="grey", linestyle="--", linewidth=0.8)
        ax.set_title(f"{geometry}, independent simulator")
        ax.set_xlabel("seeds")
        ax.set_ylim(0, 1.08)
    axes[0].set_ylabel("leader F1 per track")
    _legend_below(fig, ncol=2)
    caption = (
        "Leader F1 per track from images on movies of the second, independent simulator (`bench_foreign.py`), per set of "
        "seeds; seeds from 7300 on were never looked at while choosing defaults. Dashed: 0.95."
    )
    return fig, caption


def ctc_figure(path: Path) -> tuple[plt.Figure, str] | None:
    """SEG, DET and TRA on the Cell Tracking Challenge sequences, per method."""
    tables = section_tables("tracking", path)
    if not tables:
        return None
    scores = tables[0]
    sequences = list(dict.fromkeys(scores["sequence"]))
    measures = ["SEG", "DET", "TRA"]
    fig, axes = plt.subplots(1, len(sequences), figsize=(6 * len(sequences), 4.4), sharey=True, squeeze=False)
    for ax, sequence in zip(axes[0], sequences):
        rows = scores[scores["sequence"] == sequence]
        series = {row["method"]: [[float(row[m])] for m in measures] for _, row in rows.iterrows()}
        _bars(ax, measures, series)
        target = 0.97 if "GOWT1" in sequence else 0.95
        ax.axhline(target, color="grey", linestyle="--", linewidth=0.8)
        ax.set_title(sequence)
        ax.set_ylim(0, 1.12)
    axes[0][0].set_ylabel("py-ctcmetrics score")
    _legend_below(fig, ncol=4)
    caption = (
        "Cell Tracking Challenge measures (`bench_ctc.py`, py-ctcmetrics) of leadertrack and its peers on the same "
        "sequences. Dashed: the targets (DET and TRA 0.97 on GOWT1/01, TRA 0.95 on SIM+/01)."
    )
    return fig, caption


def segmentation_figure(path: Path) -> tuple[plt.Figure, str] | None:
    """SEG and object F1 against reference masks, per dataset and method (simulated movies pooled by difficulty)."""
    tables = section_tables("segmentation", path)
    if not tables:
        return None
    scores = tables[0].copy()
    simulated = scores["data"].str.startswith("simulated")
    scores["group"] = np.where(
        simulated, "simulated " + scores["data"].str.split().str[-1], scores["data"].str.replace(r" \(.*\)", "", regex=True)
    )
    groups = list(dict.fromkeys(scores["group"]))
    methods = list(dict.fromkeys(scores["method"]))
    measures = {"SEG": "SEG (CTC measure)", "f1": "object F1 (IoU above 0.5)"}
    fig, axes = plt.subplots(1, len(measures), figsize=(13, 4.4), sharey=True)
    for ax, (column, title) in zip(axes, measures.items()):
        values = pd.to_numeric(scores[column], errors="coerce")
        series = {
            method: [values[(scores["method"] == method) & (scores["group"] == g)].dropna().tolist() for g in groups]
            for method in methods
        }
        _bars(ax, groups, series)
        ax.set_title(title)
        ax.set_ylim(0, 1.12)
        ax.tick_params(axis="x", labelsize=7, rotation=20)
    _legend_below(fig, ncol=len(methods))
    caption = (
        "Segmentation against reference masks (`bench_segmentation.py`): leadertrack and two classical recipes a "
        "user would script, on real data and on the package's simulator (bars: means over its three geometries, "
        "dots: each geometry). GOWT1's reference annotates only some nuclei and the scratch assay's leaves out its dim "
        "ones, so they have no F1."
    )
    return fig, caption


def _scaling(raw: pd.DataFrame) -> dict[str, tuple[str, pd.DataFrame]]:
    """The rows of the raw speed table along each axis (x label, rows with an ``x`` column), the smallest case
    (20 frames of 256 x 256, 10 px nuclei) being the first point of every axis."""
    width = raw["size_px"].str.split("x").str[1].astype(int)
    base = raw[(raw["varies"] == "frames") & (raw["frames"] == raw["frames"].min())]
    axes = {}
    for axis, label, x in (("frames", "frames (256 x 256 px)", raw["frames"]),
                           ("size", "image width, px (20 frames)", width),
                           ("nucleus", "nucleus diameter, px (20 frames, 227 cells)", raw["nucleus_px"])):
        rows = raw[raw["varies"] == axis] if axis == "frames" else pd.concat([base, raw[raw["varies"] == axis]])
        axes[axis] = (label, rows.assign(x=x.reindex(rows.index)).sort_values("x"))
    return axes


def speed_figure(path: Path) -> tuple[plt.Figure, str] | None:
    """Wall time against frames, image size and nucleus size, and peak memory against frames, per method."""
    tables = section_tables("speed", path)
    if len(tables) < 2 or "varies" not in tables[1]:
        return None
    raw = tables[1]
    methods = [m for m in SPEED_METHODS if f"{m}_s" in raw]
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.4))
    scaling = _scaling(raw)
    for ax, (axis, (label, rows)) in zip(axes[:3], scaling.items()):
        for method in methods:
            ax.plot(rows["x"], rows[f"{method}_s"], "o-", label=SPEED_METHODS[method], markersize=3)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(rows["x"], [str(v) for v in rows["x"]])
        ax.minorticks_off()
        ax.set_xlabel(label)
        ax.set_ylabel("wall time (s)")
    label, rows = scaling["frames"]
    ax = axes[3]
    for method in methods:
        ax.plot(rows["x"], rows[f"{method}_mb"], "o-", label=SPEED_METHODS[method], markersize=3)
    axes[3].set_xticks(rows["x"], [str(v) for v in rows["x"]])
    axes[3].set_xlabel(label)
    axes[3].set_ylabel("peak memory (MB)")
    axes[3].set_ylim(bottom=0)
    _legend_below(fig, ncol=6)
    caption = (
        "Wall time (log scale) and peak memory of each method on the same simulated movies (`bench_pipeline.py`, the "
        "speed section below), as frames, image size and nucleus size grow. One core unless marked; `leadertrack run` "
        "streams the labels to disk and writes every output."
    )
    return fig, caption


def stages_figure(path: Path) -> tuple[plt.Figure, str] | None:
    """Where the time goes: seconds per stage, trackpy against leadertrack, for each movie of the speed section."""
    tables = section_tables("speed", path)
    if len(tables) < 3:
        return None
    stages = tables[2]
    ours = [c for c in stages.columns if c.startswith("leadertrack ") and c.endswith("(s)")]
    theirs = [c for c in stages.columns if c.startswith("trackpy ") and c.endswith("(s)")]
    if not ours or not theirs:
        return None
    cases = [f"{r.frames} x {r.size_px}\n{r.nucleus_px} px nuclei" for r in stages.itertuples()]
    fig, ax = plt.subplots(figsize=(12, 4.6))
    x = np.arange(len(stages))
    for offset, columns in ((-0.2, theirs), (0.2, ours)):
        bottom = np.zeros(len(stages))
        for column in columns:
            ax.bar(x + offset, stages[column], 0.38, bottom=bottom, label=column.replace(" (s)", ""))
            bottom += stages[column].to_numpy(float)
    ax.set_xticks(x, cases, fontsize=7)
    ax.set_ylabel("seconds, one core")
    _legend_below(fig, ncol=6)
    caption = (
        "Seconds per stage on one core (left bar of each pair: trackpy; right: leadertrack), from the "
        "stage table of the speed section."
    )
    return fig, caption


def _interval(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper ends of ``lo-hi`` interval strings (``f1_ci95``)."""
    ends = column.astype(str).str.split("-", n=1, expand=True).astype(float)
    return ends[0].to_numpy(), ends[1].to_numpy()


LIMIT_PANELS = (
    ("duration", "motion windows", "movie length, motion windows (~30 min each)", "from true tracks", None),
    ("contrast", "leader speed / sheet advance", "leader speed / the sheet's advance", "from true tracks, planar", None),
    ("glow", "glow (of the nuclei's signal)", "spheroid glow, peak / nuclei's signal", "from images, radial", "f1 plane only"),
)
"""Section, x column, x label and data of each panel of the limits figure, and a baseline's F1 column drawn beside it
(grey, dashed) or None."""


def limits_figure(path: Path) -> tuple[plt.Figure, str] | None:
    """Leader F1 (with its 95 % interval) against movie length, leader-to-sheet speed and a spheroid's glow, and
    from images at two nucleus sizes."""
    panels = [(name, x, label, data, baseline, tables[0])
              for name, x, label, data, baseline in LIMIT_PANELS if (tables := section_tables(name, path))]
    sizes = first_tables(["pipeline-nuclei-5px", "pipeline-nuclei-10px"], path)
    if not panels and not sizes:
        return None
    fig, axes = plt.subplots(1, len(panels) + bool(sizes), figsize=(4.2 * (len(panels) + bool(sizes)), 3.8),
                             sharey=True, squeeze=False)
    for ax, (name, x, label, data, baseline, rows) in zip(axes[0], panels):
        positions = np.arange(len(rows))
        f1 = rows["f1"].to_numpy(float)
        low, high = _interval(rows["f1_ci95"])
        ax.errorbar(positions, f1, yerr=[f1 - low, high - f1], fmt="o-", capsize=3, label="defaults")
        if baseline in rows:
            ax.plot(positions, rows[baseline].to_numpy(float), "s--", color="grey", label=baseline.removeprefix("f1 "))
            ax.legend(fontsize=7, loc="lower left")
        ax.set_xticks(positions, [str(v) if isinstance(v, str) else f"{v:g}" for v in rows[x]], fontsize=7)
        ax.set_xlabel(label)
        ax.set_title(f"`{name}`, {data}", fontsize=9)
    if sizes:
        ax = axes[0][-1]
        means = {name.split("-")[-1]: float(t["f1"].mean()) for name, t in sizes.items()}
        bars = ax.bar(list(means), list(means.values()))
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
        ax.set_xlabel("nucleus diameter")
        ax.set_title("from images, all geometries and difficulties", fontsize=9)
    for ax in axes[0]:
        ax.axhline(TARGET_MEDIUM, color="grey", linestyle="--", linewidth=0.8)
        ax.set_ylim(0, 1.05)
    axes[0][0].set_ylabel("leader F1 per track")
    fig.tight_layout()
    caption = (
        "Where leaders are hard to tell (mean leader F1 per track, bars: its 95 % interval): movies spanning few motion "
        "windows (`bench_duration.py`), leaders hardly faster than the sheet (`bench_contrast.py`), a spheroid's glowing "
        "body, taken out by the defaults, against a plane only (grey; `bench_glow.py`), and nuclei 5 px against 10 px "
        "across (`bench_pipeline.py --nucleus-px`). Dashed: 0.95."
    )
    return fig, caption


FIGURES: dict[str, Callable[[Path], tuple[plt.Figure, str] | None]] = {
    "leaders": leaders_figure, "independent_simulator": foreign_figure, "ctc": ctc_figure,
    "segmentation": segmentation_figure, "speed": speed_figure, "stages": stages_figure, "limits": limits_figure,
}
"""Name of each figure's PNG (without ``.png``) and the function that draws it."""


def write_plots(markdown_path: Path = BENCHMARKS_MD, images: Path | None = None) -> list[Path]:
    """Draw every figure whose sections exist into ``images`` and write the ``plots`` section; the PNGs written."""
    images = images if images is not None else markdown_path.parent / "images" / "benchmarks"
    written, lines, missing = [], [], []
    for name, draw in FIGURES.items():
        drawn = draw(markdown_path)
        if drawn is None:
            missing.append(name)
            continue
        fig, caption = drawn
        png = images / f"{name}.png"
        atomic_write(png, lambda tmp, fig=fig: fig.savefig(tmp, format="png", dpi=90))
        plt.close(fig)
        written.append(png)
        lines += [f"![{name}]({png.relative_to(markdown_path.parent).as_posix()})", "", caption, ""]
    if missing:
        lines.append(f"Not drawn, their benchmark sections are missing: {', '.join(missing)}.")
    body = "## Plots\n\nDrawn by `python benchmarks/plots.py` from the tables below (nothing is measured there).\n\n"
    write_section("plots", body + "\n".join(lines), markdown_path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    for png in write_plots():
        print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
