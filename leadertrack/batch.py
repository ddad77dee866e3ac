"""Many movies: one pure per-movie function fanned out, failures isolated, a summary table."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from leadertrack.config import RunConfig
from leadertrack.errors import InputError
from leadertrack.pipeline import ProgressCallback, process_movie, summary_row

__all__ = ["run_batch", "write_summary"]


def write_summary(rows: Sequence[dict], out: Path) -> pd.DataFrame:
    """Write ``out/summary.csv`` atomically (one row per movie) and return it."""
    summary = pd.DataFrame(list(rows))
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=out, suffix=".csv.partial", delete=False, encoding="utf-8") as tmp:
        summary.to_csv(tmp, index=False)
    os.replace(tmp.name, out / "summary.csv")
    return summary


def _process_one(
    path: Path,
    out: Path,
    config: RunConfig,
    *,
    overwrite: bool,
    frame_sequence: bool,
    labels: Any,
    progress: ProgressCallback | None,
) -> dict:
    """Process one movie and return its summary row; every exception becomes a failed row."""
    from leadertrack.io import movie_name

    start = time.perf_counter()
    name = movie_name(path)
    if (out / name).exists() and not overwrite:
        return summary_row(name, "skipped", error="result exists (use --overwrite to redo it)", out_dir=out / name)
    try:
        result = process_movie(
            path, out, config, labels=labels, frame_sequence=frame_sequence, overwrite=overwrite, progress=progress
        )
    except Exception as exc:  # one bad movie must not stop the batch
        error = str(exc) if isinstance(exc, (InputError, FileExistsError)) else f"{type(exc).__name__}: {exc}"
        return summary_row(name, "failed", error=error, seconds=time.perf_counter() - start)
    return summary_row(name, "ok", result=result, seconds=time.perf_counter() - start, out_dir=out / name)


def run_batch(
    movies: Sequence[Path],
    out: Path,
    config: RunConfig,
    *,
    overwrite: bool = False,
    frame_sequence: bool = False,
    labels: Any = None,
    workers: int | None = 1,
    scheduler: str | None = None,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Process ``movies`` into ``out`` and write ``out/summary.csv``.

    Returns the summary: one row per movie with ``status`` ok / skipped / failed and the error.
    """
    rows = []
    for i, path in enumerate(movies):
        rows.append(
            _process_one(
                Path(path), out, config, overwrite=overwrite, frame_sequence=frame_sequence, labels=labels, progress=progress
            )
        )
        if progress is not None:
            progress("movies", i + 1, len(movies))
    return write_summary(rows, out)
