"""Batch throughput (serial vs local processes vs a Dask LocalCluster) and peak memory vs movie length.

Run from the repository root::

    python benchmarks/bench_batch.py            # full run, writes the "batch" section of docs/benchmarks.md
    python benchmarks/bench_batch.py --quick    # smaller, to check the script works
    python benchmarks/bench_batch.py --long     # also the 2,000-frame 1024x1024 OME-TIFF (4 GB) of issue 5

Movies are synthetic invasion assays (``leadertrack.synthetic``). Peak memory is the maximum
resident set size (``VmHWM``) of a fresh process analysing one movie, compared with the
size of the movie itself: if frames were not read lazily, memory would grow with the movie.
(Linux only: the peak is read from ``/proc/self/status``.)
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
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine_line, table, write_section

from leadertrack.batch import run_batch
from leadertrack.config import RunConfig
from leadertrack.synthetic import simulate_invasion

FRAME_INTERVAL_MIN = 2.0


def _config() -> RunConfig:
    config = RunConfig()
    config.output.report = False
    config.segment.nucleus_diameter_um = 10.0
    config.link.search_range_um = 6.0
    return config


def _simulate(n_frames: int, size_px: int, seed: int) -> np.ndarray:
    sim = simulate_invasion(
        geometry="planar",
        n_frames=n_frames,
        field_um=(float(size_px), float(size_px)),
        frame_interval_min=FRAME_INTERVAL_MIN,
        seed=seed,
    )
    return sim.image


def _write_movie(path: Path, movie: np.ndarray) -> None:
    """An ImageJ TIFF calibrated at 1 µm/px and FRAME_INTERVAL_MIN."""
    tifffile.imwrite(
        path,
        movie,
        imagej=True,
        metadata={"axes": "TYX", "finterval": FRAME_INTERVAL_MIN * 60, "unit": "um"},
        resolution=(1.0, 1.0),
    )


def _back_and_forth(n_base: int, n_frames: int) -> np.ndarray:
    """Indices into ``n_base`` frames played forward, then backward, and so on, for ``n_frames`` frames."""
    cycle = np.r_[np.arange(n_base), np.arange(n_base - 2, 0, -1)]
    return cycle[np.arange(n_frames) % len(cycle)]


def _write_long_movie(path: Path, base: np.ndarray, n_frames: int) -> None:
    """A long movie played back and forth over ``base`` (motion stays continuous), written lazily."""
    order = _back_and_forth(len(base), n_frames)
    shape = (n_frames, *base.shape[1:])
    with tifffile.TiffWriter(path, imagej=True) as writer:
        writer.write(
            (base[i] for i in order),
            shape=shape,
            dtype=base.dtype,
            metadata={"axes": "TYX", "finterval": FRAME_INTERVAL_MIN * 60, "unit": "um"},
            resolution=(1.0, 1.0),
        )


def _write_long_ome(path: Path, *, n_frames: int, size_px: int, pixel_size_um: float = 0.5, seed: int = 0) -> None:
    """An OME-TIFF of ``n_frames`` frames of ``size_px`` squared, uint16, written frame by frame.

    A 40-frame planar invasion (nuclei of 10 µm = 20 px at 0.5 µm/px) is rendered once and played
    back and forth, so motion stays continuous; only one frame is held while writing.
    """
    base = simulate_invasion(
        geometry="planar",
        n_frames=40,
        field_um=(size_px * pixel_size_um, size_px * pixel_size_um),
        pixel_size_um=pixel_size_um,
        frame_interval_min=FRAME_INTERVAL_MIN,
        seed=seed,
    ).image
    order = _back_and_forth(len(base), n_frames)
    metadata = {
        "axes": "TYX",
        "PhysicalSizeX": pixel_size_um,
        "PhysicalSizeY": pixel_size_um,
        "PhysicalSizeXUnit": "µm",
        "PhysicalSizeYUnit": "µm",
        "TimeIncrement": FRAME_INTERVAL_MIN * 60,
        "TimeIncrementUnit": "s",
    }
    with tifffile.TiffWriter(path, bigtiff=True, ome=True) as writer:
        writer.write((base[i] for i in order), shape=(n_frames, *base.shape[1:]), dtype=base.dtype, metadata=metadata)


def throughput(folder: Path, *, n_movies: int, n_frames: int, size_px: int, workers: int) -> pd.DataFrame:
    """Movies per minute for the same batch run serially, over processes and on a LocalCluster."""
    movies = []
    for seed in range(n_movies):
        path = folder / f"movie_{seed:02d}.tif"
        _write_movie(path, _simulate(n_frames, size_px, seed))
        movies.append(path)
    rows = []
    for label, kwargs in (
        ("serial (1 process)", {"workers": 1}),
        (f"local processes (--workers {workers})", {"workers": workers}),
        (f"Dask LocalCluster ({workers} workers)", {"workers": workers, "scheduler": "local"}),
    ):
        out = folder / f"out_{len(rows)}"
        start = time.perf_counter()
        summary = run_batch(movies, out, _config(), **kwargs)
        seconds = time.perf_counter() - start
        assert set(summary["status"]) == {"ok"}, summary[["movie", "status", "error"]]
        rows.append(
            {
                "executor": label,
                "movies": n_movies,
                "wall time (s)": seconds,
                "movies per minute": 60 * n_movies / seconds,
                "mean s per movie (in worker)": float(summary["seconds"].mean()),
            }
        )
    result = pd.DataFrame(rows)
    result["speed-up vs serial"] = result["movies per minute"] / result["movies per minute"].iloc[0]
    return result


_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    # a cap on the address space: a run that would need more fails with MemoryError here instead
    # of pushing a shared machine into the out-of-memory killer
    limit = int(float(sys.argv[4]) * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from leadertrack.pipeline import process_movie
    sys.path.insert(0, sys.argv[3])
    from bench_batch import _config

    def peak_mb():  # VmHWM: this process's peak resident memory (maxrss would include the parent's at fork)
        status = Path("/proc/self/status").read_text()
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024

    stages = {}
    def progress(stage, done, total):
        stages.setdefault(stage, peak_mb())  # the peak reached before this stage started

    start = time.perf_counter()
    out = {"detections": 0, "error": ""}
    if sys.argv[1] == "-":  # import floor: every module the pipeline uses, no movie
        import leadertrack.classify, leadertrack.detect, leadertrack.features, leadertrack.segment, leadertrack.track
    else:
        try:
            result = process_movie(Path(sys.argv[1]), Path(sys.argv[2]), _config(), overwrite=True, progress=progress)
            out["detections"] = result.provenance["counts"]["detections"]
        except MemoryError:
            import traceback
            where = traceback.extract_tb(sys.exc_info()[2])[-1]
            out["error"] = f"MemoryError in {Path(where.filename).name}:{where.lineno} ({where.name})"
    out.update(seconds=time.perf_counter() - start, peak_mb=peak_mb(), stages=stages)
    print(json.dumps(out))
    """
)


def _peak_rss(movie: str, out: Path, *, limit_gb: float, timeout_min: float | None = None) -> dict:
    """Peak RSS (MB), seconds, cells found and the peak before each stage, for a fresh process
    analysing ``movie`` ("-" = imports only) with its address space capped at ``limit_gb``."""
    try:
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, movie, str(out), str(Path(__file__).resolve().parent), str(limit_gb)],
            capture_output=True,
            text=True,
            check=False,
            timeout=None if timeout_min is None else 60 * timeout_min,
        )
    except subprocess.TimeoutExpired:
        nan = float("nan")
        return {"detections": 0, "peak_mb": nan, "seconds": nan, "stages": {}, "error": f"not done after {timeout_min:g} min"}
    if child.returncode != 0:
        raise RuntimeError(f"child analysing {movie} failed:\n{child.stderr[-2000:]}")
    return json.loads(child.stdout.splitlines()[-1])


def _memory_row(
    path: Path, out: Path, *, n_frames: int, frame_size: str, floor_mb: float, limit_gb: float, timeout_min: float
) -> dict:
    found = _peak_rss(str(path), out, limit_gb=limit_gb, timeout_min=timeout_min)
    above = found["peak_mb"] - floor_mb
    return {
        "frames": n_frames,
        "frame size": frame_size,
        "movie size (MB)": path.stat().st_size / 2**20,
        "cell-frames": found["detections"],
        "peak RSS (MB)": found["peak_mb"],
        "peak minus imports (MB)": above,
        "peak while segmenting (MB)": found["stages"].get("link", float("nan")),
        "peak by end of link (MB)": found["stages"].get("measure", float("nan")),
        "peak by end of measure (MB)": found["stages"].get("classify", float("nan")),
        "KB per cell-frame above imports": 1024 * above / found["detections"] if found["detections"] else float("nan"),
        "seconds": found["seconds"],
        "error": found["error"],
    }


def memory_vs_length(
    folder: Path, *, lengths: list[int], size_px: int, long_frames: int | None, limit_gb: float, timeout_min: float
) -> tuple[pd.DataFrame, float]:
    """Peak memory of one movie's analysis for movies of increasing length (same frame size),
    and with ``long_frames`` the long 1024x1024 OME-TIFF case of issue 5."""
    base = _simulate(20, size_px, seed=0)
    floor_mb = _peak_rss("-", folder / "unused", limit_gb=limit_gb)["peak_mb"]
    rows = []
    for n_frames in lengths:
        path = folder / f"long_{n_frames}.tif"
        _write_long_movie(path, base, n_frames)
        rows.append(
            _memory_row(
                path,
                folder / "out_memory",
                n_frames=n_frames,
                frame_size=f"{size_px}x{size_px} uint16",
                floor_mb=floor_mb,
                limit_gb=limit_gb,
                timeout_min=timeout_min,
            )
        )
        path.unlink()
    if long_frames:
        path = folder / f"long_{long_frames}.ome.tif"
        _write_long_ome(path, n_frames=long_frames, size_px=1024)
        rows.append(
            _memory_row(
                path,
                folder / "out_memory",
                n_frames=long_frames,
                frame_size="1024x1024 uint16",
                floor_mb=floor_mb,
                limit_gb=limit_gb,
                timeout_min=timeout_min,
            )
        )
        path.unlink()
    return pd.DataFrame(rows), floor_mb


def _growth_sentence(memory: pd.DataFrame, size_px: int) -> str:
    """What the peak grows by from the shortest to the longest movie of the same frame size."""
    same = memory[memory["frame size"] == f"{size_px}x{size_px} uint16"]
    first, last = same.iloc[0], same.iloc[-1]
    growth = last["peak minus imports (MB)"] - first["peak minus imports (MB)"]
    per_cell_kb = 1024 * growth / (last["cell-frames"] - first["cell-frames"])
    per_frame_mb = growth / (last["frames"] - first["frames"])
    frame_mb = size_px * size_px * 2 / 2**20
    return (
        f"From {first['frames']} to {last['frames']} frames of {size_px}x{size_px} px the movie grew by "
        f"{last['movie size (MB)'] - first['movie size (MB)']:.0f} MB and the peak by {growth:.0f} MB: "
        f"{per_frame_mb:.2f} MB per frame (one raw frame is {frame_mb:.2f} MB), {per_cell_kb:.2f} KB per cell-frame"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, and do not write docs/benchmarks.md")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--long",
        nargs="?",
        type=int,
        const=2000,
        default=None,
        metavar="FRAMES",
        help="also a 1024x1024 uint16 OME-TIFF of FRAMES frames (default 2000: 4 GB, tens of minutes)",
    )
    parser.add_argument("--limit-gb", type=float, default=8.0, help="address-space cap of each measured process")
    parser.add_argument("--timeout-min", type=float, default=120.0, help="give up on one measured movie after this long")
    args = parser.parse_args()
    if args.quick:
        sizes = {"n_movies": 3, "n_frames": 8, "size_px": 160}
        lengths, mem_size = [10, 40], 256
    else:
        sizes = {"n_movies": 8, "n_frames": 30, "size_px": 320}
        lengths, mem_size = [30, 120, 480], 512
    load_start = "/".join(f"{x:.1f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="leadertrack-bench-batch-") as tmp:
        folder = Path(tmp)
        speed = throughput(folder, workers=args.workers, **sizes)
        print(speed.to_string(index=False))
        memory, floor_mb = memory_vs_length(
            folder, lengths=lengths, size_px=mem_size, long_frames=args.long, limit_gb=args.limit_gb, timeout_min=args.timeout_min
        )
        print(memory.to_string(index=False))
    load_end = "/".join(f"{x:.1f}" for x in os.getloadavg())
    failed = memory[memory["error"] != ""]
    shown = memory if len(failed) else memory.drop(columns="error")
    ok = memory[memory["error"] == ""]
    long_note = ""
    if args.long:
        row = memory.iloc[-1]
        long_note = (
            f"\n\nThe last row is the case of issue 5: {row['frames']} frames of 1024x1024 uint16 "
            f"({row['movie size (MB)'] / 1024:.1f} GB, an OME-TIFF at 0.5 µm/px; a 40-frame simulated planar sheet of "
            "nuclei 20 px across played back and forth, so the tracks run the whole movie; "
            "`python benchmarks/bench_batch.py --long`). "
            + (
                f"It failed: {row['error']} (address space capped at {args.limit_gb:g} GB, {args.timeout_min:g} min per movie)."
                if row["error"]
                else f"Peak {row['peak RSS (MB)']:.0f} MB, of which {row['peak minus imports (MB)']:.0f} MB above the imports "
                f"({row['KB per cell-frame above imports']:.2f} KB per cell-frame); by the end of `link` "
                f"{row['peak by end of link (MB)']:.0f} MB, of `measure` {row['peak by end of measure (MB)']:.0f} MB."
            )
            + " Earlier measurements of this case with the same child process: 1140 MB before the memory work "
            "(HEAD 5cb46b5), 923 MB at 31c49fb (before gap closing in `link`), 1068 MB at a79385c (gap closing in "
            "`link`, which alone reached 828 MB)."
        )
    markdown = f"""
## Batch: throughput and memory (`benchmarks/bench_batch.py`)

{machine_line()} The machine is shared with other jobs (load average, 1/5/15 min:
{load_start} at the start of the run), so absolute times are noisy; the executors were measured
one after the other in the same run. On a loaded 2-core machine more processes cannot add CPU
time, so the parallel executors mostly show their start-up cost (spawning workers that import
the pipeline, starting the cluster); this run says nothing about scaling on an idle many-core
machine or a cluster.

**Throughput**: {sizes['n_movies']} synthetic planar-invasion movies of {sizes['n_frames']} frames,
{sizes['size_px']}x{sizes['size_px']} px, the same batch run by each executor (wall time includes
starting the worker processes / the cluster, and reading + writing every result folder).

{table(speed, floatfmt=".2f")}

**Peak memory vs movie length**: one movie analysed in a fresh process (`process_movie`: lazy
frame reading, segmentation frame by frame, labels streamed to `labels.tif`, linking from the
detections table, then measuring and classifying the per cell-frame table). Importing the
pipeline alone peaks at {floor_mb:.0f} MB. "Peak while segmenting" is the peak reached before
linking starts: what the frames cost; the rest of the peak is the per cell-frame tables.

{table(shown, floatfmt=".2f")}

{_growth_sentence(ok, mem_size) if len(ok[ok["frame size"] == f"{mem_size}x{mem_size} uint16"]) > 1 else ""}.
Frames are not accumulated (the peak while segmenting stays flat); what grows is the per
cell-frame table that measuring and classifying need whole (features over each track's time
window and over each frame's neighbours): the sorted table with its feature columns and float64
work arrays of every cell-frame inside `measure`, then the classifier's inputs.{long_note}
Load average during the run: {load_start} at the start, {load_end} at the end (2 cores).
"""
    if args.quick:
        print(markdown)
    else:
        write_section("batch", markdown)


if __name__ == "__main__":
    main()
