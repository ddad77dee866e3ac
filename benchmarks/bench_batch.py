"""Batch throughput (serial vs local processes vs a Dask LocalCluster) and peak memory vs movie length.

Run from the repository root::

    python benchmarks/bench_batch.py            # full run, writes the "batch" section of docs/benchmarks.md
    python benchmarks/bench_batch.py --quick    # smaller, to check the script works

Movies are synthetic invasion assays (``leadertrack.synthetic``). Peak memory is the maximum
resident set size (``VmHWM``) of a fresh process analysing one movie, compared with the
size of the movie itself: if frames were not read lazily, memory would grow with the movie.
(Linux only: the peak is read from ``/proc/self/status``.)
"""

from __future__ import annotations

import argparse
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
from _report import machine_line, table, write_section  # noqa: E402

from leadertrack.batch import run_batch  # noqa: E402
from leadertrack.config import RunConfig  # noqa: E402
from leadertrack.synthetic import simulate_invasion  # noqa: E402

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


def _write_long_movie(path: Path, base: np.ndarray, n_frames: int) -> None:
    """A long movie played back and forth over ``base`` (motion stays continuous), written lazily."""
    cycle = np.r_[np.arange(len(base)), np.arange(len(base) - 2, 0, -1)]
    order = cycle[np.arange(n_frames) % len(cycle)]
    shape = (n_frames, *base.shape[1:])
    with tifffile.TiffWriter(path, imagej=True) as writer:
        writer.write(
            (base[i] for i in order),
            shape=shape,
            dtype=base.dtype,
            metadata={"axes": "TYX", "finterval": FRAME_INTERVAL_MIN * 60, "unit": "um"},
            resolution=(1.0, 1.0),
        )


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
    import sys, time
    from pathlib import Path
    from leadertrack.pipeline import process_movie
    sys.path.insert(0, sys.argv[3])
    from bench_batch import _config
    start = time.perf_counter()
    detections = 0
    if sys.argv[1] == "-":  # import floor: every module the pipeline uses, no movie
        import leadertrack.classify, leadertrack.detect, leadertrack.features, leadertrack.segment, leadertrack.track
    else:
        result = process_movie(Path(sys.argv[1]), Path(sys.argv[2]), _config(), overwrite=True)
        detections = result.provenance["counts"]["detections"]
    seconds = time.perf_counter() - start
    # VmHWM: this process's peak resident memory (rusage maxrss would include the parent's at fork)
    status = Path("/proc/self/status").read_text()
    peak_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    print(peak_kb / 1024, seconds, detections)
    """
)


def _peak_rss_mb(movie: str, out: Path) -> tuple[float, float, int]:
    """Peak RSS (MB), seconds and cells found, for a fresh process analysing ``movie`` ("-" = imports only)."""
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, movie, str(out), str(Path(__file__).resolve().parent)],
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        raise RuntimeError(f"child analysing {movie} failed:\n{child.stderr[-2000:]}")
    peak_mb, seconds, detections = child.stdout.split()[-3:]
    return float(peak_mb), float(seconds), int(detections)


def memory_vs_length(folder: Path, *, lengths: list[int], size_px: int) -> pd.DataFrame:
    """Peak memory of one movie's analysis for movies of increasing length (same frame size)."""
    base = _simulate(20, size_px, seed=0)
    floor_mb, _, _ = _peak_rss_mb("-", folder / "unused")
    rows = []
    for n_frames in lengths:
        path = folder / f"long_{n_frames}.tif"
        _write_long_movie(path, base, n_frames)
        peak_mb, seconds, detections = _peak_rss_mb(str(path), folder / "out_memory")
        rows.append(
            {
                "frames": n_frames,
                "frame size": f"{size_px}x{size_px} uint16",
                "movie size (MB)": path.stat().st_size / 2**20,
                "cell-frames": detections,
                "peak RSS (MB)": peak_mb,
                "peak minus imports (MB)": peak_mb - floor_mb,
                "seconds": seconds,
            }
        )
        path.unlink()
    return pd.DataFrame(rows), floor_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, and do not write docs/benchmarks.md")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
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
        memory, floor_mb = memory_vs_length(folder, lengths=lengths, size_px=mem_size)
        print(memory.to_string(index=False))
    load_end = "/".join(f"{x:.1f}" for x in os.getloadavg())
    growth = memory["peak minus imports (MB)"].iloc[-1] - memory["peak minus imports (MB)"].iloc[0]
    movie_growth = memory["movie size (MB)"].iloc[-1] - memory["movie size (MB)"].iloc[0]
    per_cell_kb = 1024 * growth / (memory["cell-frames"].iloc[-1] - memory["cell-frames"].iloc[0])
    per_frame_mb = growth / (memory["frames"].iloc[-1] - memory["frames"].iloc[0])
    frame_mb = mem_size * mem_size * 2 / 2**20
    three_million_gb = 3e6 * per_cell_kb / 2**20
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
detections table). Importing the pipeline alone peaks at {floor_mb:.0f} MB.

{table(memory, floatfmt=".1f")}

From the shortest to the longest movie the movie grew by {movie_growth:.0f} MB and the peak
memory by {growth:.0f} MB ({per_frame_mb:.2f} MB per frame, where one raw frame is {frame_mb:.2f} MB; {per_cell_kb:.2f} KB
per cell-frame). Frames are not accumulated; the growth is consistent with the per cell-frame
tables (detections, then tracks with their feature columns) that linking, measuring and
classifying hold in memory. Extrapolated, a movie with 3 million cell-frames (e.g. 2,000 frames
of 1,500 nuclei) would need about {three_million_gb:.1f} GB for its tables. Load average during the
run: {load_start} at the start, {load_end} at the end (2 cores).
"""
    if args.quick:
        print(markdown)
    else:
        write_section("batch", markdown)


if __name__ == "__main__":
    main()
