"""Many movies: one pure per-movie function fanned out serially, over local processes, or on Dask.

Every movie is analysed by :func:`leadertrack.pipeline.process_movie`, which writes
``OUT/<movie>/`` through a hidden staging folder renamed into place only when complete, so an
interrupted run never leaves a result that looks finished. A movie whose ``run.json`` already
records the same input checksum and the same configuration is skipped, so re-running a batch
after a crash, a Ctrl-C or a dead worker finishes what is missing. A movie that fails becomes a
``failed`` row of ``OUT/summary.csv`` with its error; the others carry on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import multiprocessing
import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from leadertrack.atomic import atomic_write
from leadertrack.config import RunConfig
from leadertrack.errors import InputError
from leadertrack.units import honest_column_names

__all__ = [
    "SUMMARY_FILE",
    "claim_name",
    "config_sha256",
    "masks_for_movie",
    "read_provenance",
    "read_unit_overrides",
    "run_batch",
    "summary_row",
    "tracks_checksum",
    "write_summary",
]

SUMMARY_FILE = "summary.csv"
CHECKSUM_CACHE = ".leadertrack-checksums.json"
UNIT_COLUMNS = ("pixel_size_um", "frame_interval_min")
SPEED_KEY = "median_front_speed_um_per_min"
"""The front speed in a result's provenance; ``summary.csv`` names it for the units it is in
(``median_front_speed_um_per_frame`` for a movie without a frame interval, ...)."""
ProgressCallback = Callable[[str, int, int], None]
MASK_SUFFIXES = ("", "_masks", "_mask", "_labels", "_label", "_cp_masks")
"""A movie's masks in a folder of masks: a TIFF (or a folder of per-frame masks) named after the movie,
optionally followed by one of these."""


@dataclass(frozen=True)
class _Job:
    """Everything a worker needs for one movie; small and picklable."""

    index: int
    path: Path  # absolute, so remote workers with another working directory find it
    shown: str  # the path as the user gave it, for summary.csv
    name: str
    out: Path
    config: RunConfig
    overwrite: bool
    frame_sequence: bool
    labels: Path | None = None
    checksum: str | None = None  # from the cache, when the file's size and mtime are unchanged
    labels_checksum: str | None = None  # the masks', likewise


class _Cancelled(Exception):
    """The progress callback raised: stop the whole batch, not just this movie."""


def run_batch(
    movies: Sequence[str | Path],
    out: str | Path,
    config: RunConfig | None = None,
    *,
    overwrite: bool = False,
    frame_sequence: bool = False,
    labels: str | Path | None = None,
    workers: int | None = 1,
    scheduler: str | None = None,
    units_csv: str | Path | None = None,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Analyse ``movies`` into ``out/<movie>/`` and write ``out/summary.csv``.

    Parameters
    ----------
    movies
        Movie files (or frame-sequence folders), e.g. from :func:`leadertrack.io.list_movies`.
    out
        Output folder; created when missing.
    config
        Parameters for every stage; defaults when None.
    overwrite
        Redo movies already finished. Otherwise a movie whose ``run.json`` has the same input
        checksum and configuration is skipped, and one finished with another input or
        configuration is kept and reported as skipped with the reason. Checksums are remembered
        in ``out/.leadertrack-checksums.json`` with each file's size and modification time, so
        a re-run reads again only the files that changed.
    frame_sequence
        Each entry of ``movies`` is a folder holding one movie as one TIFF per frame.
    labels
        Label masks you already have (segmentation is skipped). For a batch of one movie: a label
        stack, or a folder of per-frame masks (or holding the movie's masks named after it). For
        several movies: a folder holding each movie's masks named after it (:func:`masks_for_movie`);
        a movie without masks there fails with the reason, the others carry on. A movie analysed
        before with other masks (or segmented) is kept and reported as skipped unless ``overwrite``.
    workers
        None or 1: one movie after another in this process (per-stage progress is reported).
        N > 1: N local processes. 0: one process per core. A batch of one movie runs in this
        process, and the N cores (0: all) segment its frames in threads instead; the results do
        not depend on it. Worker processes are started with
        ``spawn`` (as Dask does), so a script using them must call ``run_batch`` under
        ``if __name__ == "__main__":``.
    scheduler
        ``"local"``: start a Dask ``LocalCluster`` for the run (``workers`` worker processes,
        0/None = one per core). An address such as ``"tcp://10.0.0.5:8786"``: run on that
        existing Dask scheduler; the workers must see the movies and ``out`` at the same paths.
    units_csv
        A CSV with a ``movie`` column (file name, name without suffix, or path) and
        ``pixel_size_um`` and/or ``frame_interval_min``: per-movie overrides for files that lack
        metadata (see :func:`read_unit_overrides`). Empty cells keep the file's own value.
    progress
        Called as ``progress("movies", done, total)`` after each movie, and, in serial runs,
        with each stage of the current movie. Raising inside it cancels the batch (movies
        already written stay; the one in progress leaves nothing behind).

    Returns
    -------
    pandas.DataFrame
        The summary, one row per movie in input order: ``movie``, ``input``, ``status``
        (``ok`` / ``skipped`` / ``failed``), ``error``, ``seconds``, counts, leader fraction, the
        units used and ``input_sha256`` (and ``labels_sha256``, the masks' checksum, when ``labels`` are given).

    Examples
    --------
    >>> from leadertrack.io import list_movies
    >>> summary = run_batch(list_movies(["plates/"]), "results", workers=0)  # doctest: +SKIP
    >>> summary["status"].value_counts()  # doctest: +SKIP
    """
    out = Path(out).absolute()
    config = config or RunConfig()
    paths = [Path(m) for m in movies]
    if labels is not None and len(paths) > 1 and not Path(labels).is_dir():
        raise InputError(
            f"{labels}: {'not a folder' if Path(labels).exists() else 'no such folder'}; for a batch of {len(paths)} "
            "movies, --labels must be a folder holding each movie's masks named after it (for movie.tif: movie.tif, "
            "movie_masks.tif, ...)"
        )
    if workers is not None and workers < 0:
        raise InputError(f"workers must be 0 (all cores) or more, got {workers}")
    overrides = read_unit_overrides(units_csv, paths) if units_csv is not None else {}
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: is a file; the output (--out) is a folder, created if needed")
    out.mkdir(parents=True, exist_ok=True)

    from leadertrack.io import movie_name

    cache = _read_checksum_cache(out)
    rows: list[dict | None] = [None] * len(paths)
    jobs: list[_Job] = []
    masks_of: dict[int, Path] = {}
    first_with_name: dict[str, Path] = {}
    for index, path in enumerate(paths):
        name = movie_name(path)
        try:
            claim_name(first_with_name, name, path)
            masks = None if labels is None else _masks_of(path, name, Path(labels), batch_of_one=len(paths) == 1)
        except InputError as exc:
            rows[index] = summary_row(name, path, "failed", error=str(exc))
            continue
        if masks is not None:
            masks_of[index] = masks
        jobs.append(
            _Job(
                index=index,
                path=path.absolute(),
                shown=str(path),
                name=name,
                out=out,
                config=_with_units(config, overrides.get(index, {})),
                overwrite=overwrite,
                frame_sequence=frame_sequence,
                labels=masks,
                checksum=_cached_checksum(cache, path),
                labels_checksum=None if masks is None else _cached_checksum(cache, masks),
            )
        )

    done = sum(r is not None for r in rows)
    try:
        for index, row in _execute(jobs, workers=workers, scheduler=scheduler, progress=progress):
            rows[index] = row
            done += 1
            write_summary([r for r in rows if r is not None], out)
            if row["status"] != "failed":  # a failed movie's checksums are in summary.csv, not kept for a re-run
                if row.get("input_sha256"):
                    _remember_checksum(cache, paths[index], row["input_sha256"], out)
                if row.get("labels_sha256"):
                    _remember_checksum(cache, masks_of[index], row["labels_sha256"], out)
            if progress is not None:
                try:
                    progress("movies", done, len(paths))
                except Exception as exc:
                    raise _Cancelled() from exc
    except _Cancelled as cancelled:
        write_summary([r for r in rows if r is not None], out)
        raise cancelled.__cause__ from None
    except KeyboardInterrupt:  # Ctrl-C: the movies finished so far are listed, then the interrupt goes on
        write_summary([r for r in rows if r is not None], out)
        raise
    summary = write_summary([r for r in rows if r is not None], out)
    if config.output.report and not summary.empty:
        _write_index(summary, out)
    return summary


def claim_name(claimed: dict[str, Path], name: str, path: Path, *, what: str = "movie") -> None:
    """Record that ``path`` makes the result ``OUT/<name>``, unless an earlier input of the batch does.

    Two inputs of one command with the same name would write the same result folder: the first
    keeps it, the others fail (``leadertrack run`` and ``leadertrack classify`` alike).

    Parameters
    ----------
    claimed
        The name of each result -> the input that makes it, so far; ``name`` is added.
    name
        The result's name (:func:`leadertrack.io.movie_name`, or a track set's ``name``).
    path
        The input, as the user gave it.
    what
        What the inputs are, for the message: ``movie``, ``input``.

    Raises
    ------
    InputError
        ``name`` is already claimed by another input; the message names both and asks to rename one.

    Examples
    --------
    >>> claimed = {}
    >>> claim_name(claimed, "well", Path("a/well.tif"))
    >>> claim_name(claimed, "well", Path("b/well.tif"))
    Traceback (most recent call last):
    ...
    leadertrack.errors.InputError: b/well.tif: another movie of this batch, a/well.tif, has the same name 'well'; rename one
    """
    if name in claimed:
        raise InputError(f"{path}: another {what} of this batch, {claimed[name]}, has the same name {name!r}; rename one")
    claimed[name] = path


def masks_for_movie(name: str, folder: str | Path) -> list[Path]:
    """The entries of ``folder`` that hold the masks of the movie named ``name`` (:func:`leadertrack.io.movie_name`).

    A TIFF, or a folder of per-frame masks, whose name is the movie's followed by nothing or one of
    ``MASK_SUFFIXES`` (``_masks``, ``_mask``, ``_labels``, ``_label``, ``_cp_masks``): for
    ``well_A1.ome.tif``, ``well_A1.tif`` or ``well_A1_masks.tif``.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> for file in ("a_masks.tif", "b.tif", "ab.tif", "notes.txt"):
    ...     _ = (folder / file).write_bytes(b"")
    >>> [p.name for p in masks_for_movie("a", folder)], [p.name for p in masks_for_movie("b", folder)]
    (['a_masks.tif'], ['b.tif'])
    """
    from leadertrack.io import is_tiff_name, movie_name

    wanted = {name + suffix for suffix in MASK_SUFFIXES}
    entries = sorted(p for p in Path(folder).iterdir() if not p.name.startswith(".") and (p.is_dir() or is_tiff_name(p)))
    return [p for p in entries if movie_name(p) in wanted]


def _masks_of(movie: Path, name: str, labels: Path, *, batch_of_one: bool) -> Path:
    """The masks (absolute path) of ``movie`` named ``name``, given ``--labels`` = ``labels``.

    A batch of one takes ``labels`` itself unless it is a folder holding the movie's masks by name
    (:func:`masks_for_movie`); a larger batch needs them there. The movie itself never counts as its masks.
    """
    if batch_of_one and not labels.is_dir():
        return labels.absolute()
    found = [p for p in masks_for_movie(name, labels) if p.resolve() != movie.resolve()]
    if len(found) == 1:
        return found[0].absolute()
    if batch_of_one and not found:
        return labels.absolute()  # a folder of per-frame masks
    if not found:
        tried = ", ".join(f"{name}{suffix}.tif" for suffix in MASK_SUFFIXES)
        same = " (the movies' own folder: a movie is never its own masks)" if labels.resolve() == movie.resolve().parent else ""
        raise InputError(f"no masks for this movie in {labels}{same}: looked for {tried}")
    raise InputError(f"several masks for this movie in {labels}: {', '.join(p.name for p in found)}; keep one")


def read_unit_overrides(path: str | Path, movies: Sequence[Path]) -> dict[int, dict[str, float]]:
    """Read per-movie pixel size / frame interval overrides from a CSV sidecar.

    Parameters
    ----------
    path
        CSV with a ``movie`` column and one or both of ``pixel_size_um``, ``frame_interval_min``.
        A movie is matched by its file (or folder) name, its name without ``.tif``/``.ome.tif``,
        or its path. Empty cells mean "no override".
    movies
        The movies of the batch.

    Returns
    -------
    dict
        Position of the movie in ``movies`` -> ``{"pixel_size_um": ..., "frame_interval_min": ...}``
        (only the columns given for that movie). Rows naming no movie of the batch are reported
        with a warning.

    Raises
    ------
    InputError
        Unreadable file, unknown columns, non-positive values, or a movie named twice.

    Examples
    --------
    >>> import tempfile
    >>> csv = Path(tempfile.mkdtemp()) / "units.csv"
    >>> _ = csv.write_text("movie,pixel_size_um,frame_interval_min\\nwell_A1.tif,0.65,\\nwell_A2,1.3,10\\n")
    >>> read_unit_overrides(csv, [Path("plate/well_A1.tif"), Path("plate/well_A2.tif")])
    {0: {'pixel_size_um': 0.65}, 1: {'pixel_size_um': 1.3, 'frame_interval_min': 10.0}}
    """
    from leadertrack.io import movie_name

    path = Path(path)
    try:
        table = pd.read_csv(path, dtype={"movie": str}, skipinitialspace=True)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"{path}: cannot read the units table ({str(exc).splitlines()[0]})") from exc
    table.columns = [str(c).strip() for c in table.columns]
    unknown = [c for c in table.columns if c not in ("movie", *UNIT_COLUMNS)]
    if "movie" not in table.columns or unknown or len(table.columns) < 2:
        raise InputError(
            f"{path}: the units table needs a 'movie' column and pixel_size_um and/or frame_interval_min"
            + (f"; unknown column {unknown[0]!r}" if unknown else "")
        )
    keys: dict[str, set[int]] = {}
    for index, movie in enumerate(movies):
        for key in {movie.name, movie_name(movie), str(movie), str(movie.absolute())}:
            keys.setdefault(key, set()).add(index)
    result: dict[int, dict[str, float]] = {}
    unmatched: list[str] = []
    for line, record in enumerate(table.to_dict("records"), start=2):
        label = str(record["movie"]).strip()
        matches = keys.get(label, set())
        if not matches:
            unmatched.append(label)
            continue
        if len(matches) > 1:
            names = ", ".join(str(movies[i]) for i in sorted(matches))
            raise InputError(f"{path}: line {line}: {label!r} matches several movies ({names}); use their paths")
        (index,) = matches
        if index in result:
            raise InputError(f"{path}: line {line}: {movies[index]} is listed twice")
        values: dict[str, float] = {}
        for column in UNIT_COLUMNS:
            raw = record.get(column)
            if raw is None or (isinstance(raw, float) and math.isnan(raw)) or str(raw).strip() == "":
                continue
            try:
                number = float(raw)
            except ValueError:
                number = float("nan")
            if not (math.isfinite(number) and number > 0):
                raise InputError(f"{path}: line {line} ({label}): {column} must be a positive number, got {raw!r}")
            values[column] = number
        result[index] = values
    if unmatched:
        warnings.warn(
            f"{path}: {len(unmatched)} row(s) name no movie of this batch: {', '.join(unmatched[:5])}",
            UserWarning,
            stacklevel=2,
        )
    return result


_COUNT_COLUMNS = frozenset({"frames", "detections", "tracks", "leaders", "warnings"})


def write_summary(rows: Sequence[dict], out: Path) -> pd.DataFrame:
    """Write ``out/summary.csv`` atomically (one row per movie) and return it.

    ``rows`` are the movies of this command; the rows an earlier ``summary.csv`` holds for other movies whose
    result is still in ``out`` come first, so that adding a movie to ``out`` does not drop the others from the
    list. Counts stay whole numbers where a failed movie has none (empty, not ``6.0`` for the others).
    """
    summary = pd.DataFrame(list(rows))
    earlier = _earlier_rows(out, set(summary["movie"]) if "movie" in summary else set())
    if not earlier.empty:
        summary = pd.concat([earlier, summary], ignore_index=True)
    for column in _COUNT_COLUMNS.intersection(summary.columns):
        summary[column] = summary[column].astype("Int64")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / SUMMARY_FILE, lambda tmp: summary.to_csv(tmp, index=False))  # no temporary left on failure
    return summary


def _earlier_rows(out: Path, movies: set[str]) -> pd.DataFrame:
    """The rows of ``out/summary.csv`` (an earlier command's) of movies other than ``movies`` whose result folder
    is still in ``out``; none when there is no readable summary."""
    try:
        earlier = pd.read_csv(out / SUMMARY_FILE, dtype={"movie": str})
    except (OSError, ValueError):  # none yet, or not a table: nothing to keep
        return pd.DataFrame()
    if "movie" not in earlier:
        return pd.DataFrame()
    kept = earlier["movie"].map(lambda name: name not in movies and (out / str(name) / "run.json").is_file())
    return earlier[kept.astype(bool)]


def config_sha256(config: RunConfig | dict) -> str:
    """A stable hash of a configuration (as stored in ``run.json``), to tell whether a result is current."""
    data = config.model_dump(mode="json") if isinstance(config, RunConfig) else config
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# --------------------------------------------------------------------------- one movie


def _process(job: _Job, progress: ProgressCallback | None = None, *, threads: int = 1) -> dict:
    """Analyse one movie (or skip it when already done), segmenting ``threads`` frames at a time; never raises
    except to cancel."""
    from leadertrack.io import file_checksum
    from leadertrack.pipeline import process_movie

    start = time.perf_counter()
    sums: dict[str, str] = {}
    try:
        checksum = job.checksum or file_checksum(job.path)
        sums["input_sha256"] = checksum
        if job.labels is not None:
            sums["labels_sha256"] = job.labels_checksum or file_checksum(job.labels)
        done = _finished(job, checksum, sums.get("labels_sha256"))
        if done is not None and not job.overwrite:
            return {**done, **sums}
        result = process_movie(
            job.path,
            job.out,
            job.config,
            labels=job.labels,
            frame_sequence=job.frame_sequence or None,
            overwrite=job.overwrite,
            checksum=checksum,
            labels_checksum=sums.get("labels_sha256"),
            progress=_guard(progress),
            threads=threads,
        )
    except _Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - one bad movie must not stop the batch
        failed = summary_row(job.name, job.shown, "failed", error=_one_line(exc), seconds=time.perf_counter() - start)
        return {**failed, **sums}  # the checksums taken before it failed: which file failed
    row = summary_row(job.name, job.shown, "ok", provenance=result.provenance, seconds=time.perf_counter() - start, out=job.out)
    return {**row, **sums}


def _finished(job: _Job, checksum: str, labels_checksum: str | None) -> dict | None:
    """The summary row of an existing result folder for this movie, or None when there is none.

    It was made with the same input when the movie and the masks given (``labels_checksum``; None:
    segmented) are the same."""
    from leadertrack.pipeline import model_checksum

    if not (job.out / job.name / "run.json").is_file():
        return None
    provenance = read_provenance(job.out / job.name) or {}
    try:
        same_input = provenance["input"]["checksum_sha256"] == checksum
        same_masks = provenance["input"].get("labels_checksum_sha256") == labels_checksum
        same_config = config_sha256(provenance["config"]) == config_sha256(job.config) and (
            provenance.get("model_sha256") == model_checksum(job.config)  # the model file's content, not its name
        )
    except (KeyError, TypeError, AttributeError, ValueError):  # unreadable run.json: treat as another run
        provenance, same_input, same_masks, same_config = {}, False, False, False
    if same_input and same_masks and same_config:
        note = "already done with the same input and configuration"
    else:
        changed = " and ".join(
            w for w, same in (("another input", same_input), ("other masks", same_masks),
                              ("another configuration", same_config)) if not same
        )
        note = f"kept the existing result made with {changed}; use --overwrite to redo it"
    return summary_row(job.name, job.shown, "skipped", error=note, provenance=provenance if same_input else None, out=job.out)


def read_provenance(folder: Path) -> dict | None:
    """The ``run.json`` of the result folder ``folder``, or None when it has none, or one unreadable or not an object.

    Its ``counts``, ``front`` and ``units`` fill the ``summary.csv`` row of a result that is kept (:func:`summary_row`).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> read_provenance(folder) is None
    True
    >>> _ = (folder / "run.json").write_text('{"counts": {"frames": 8}}', encoding="utf-8")
    >>> read_provenance(folder)["counts"]
    {'frames': 8}
    """
    try:
        provenance = json.loads((Path(folder) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # ValueError: not UTF-8, not JSON
        return None
    return provenance if isinstance(provenance, dict) else None


def tracks_checksum(path: str | Path) -> str:
    """SHA-256 of a tracks input (``leadertrack classify``): a file's, or, for a folder (a CTC folder, a GEFF
    store, a result folder), a checksum of the relative path and the SHA-256 of every file in it, in order.

    Raises
    ------
    InputError
        A file cannot be read.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "res_track.txt").write_text("1 0 3 0\\n", encoding="utf-8")
    >>> before = tracks_checksum(folder)
    >>> _ = (folder / "mask000.tif").write_bytes(b"II*")
    >>> tracks_checksum(folder) != before, len(before)
    (True, 64)
    """
    from leadertrack.io import file_checksum

    path = Path(path)
    if not path.is_dir():
        return file_checksum(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0" + bytes.fromhex(file_checksum(file)))
    return digest.hexdigest()


def summary_row(
    name: str,
    path: str | Path,
    status: str,
    *,
    error: str = "",
    seconds: float = 0.0,
    provenance: dict | None = None,
    out: Path | None = None,
) -> dict:
    """One line of ``summary.csv``; ``out`` is the output folder (the result is ``out/name``)."""
    row: dict[str, Any] = {"movie": name, "input": str(path), "status": status, "error": error, "seconds": round(seconds, 2)}
    if provenance is not None:
        counts = provenance.get("counts", {})
        units = provenance.get("units", {})
        n_tracks, n_leaders = counts.get("tracks", 0), counts.get("leaders", 0)
        front = provenance.get("front", {})
        # named for the units it is really in (run.json on disk has that name already, a result in memory not)
        speed = honest_column_names(
            [SPEED_KEY], space_calibrated=units.get("space_calibrated", True), time_calibrated=units.get("time_calibrated", True)
        ).get(SPEED_KEY, SPEED_KEY)
        row.update(
            frames=counts.get("frames", 0),
            detections=counts.get("detections", 0),
            tracks=n_tracks,
            leaders=n_leaders,
            leader_fraction=round(n_leaders / n_tracks, 4) if n_tracks else 0.0,
            geometry=front.get("geometry"),
            **{speed: front.get(SPEED_KEY, front.get(speed))},
            pixel_size_um=units.get("pixel_size_um"),
            frame_interval_min=units.get("frame_interval_min"),
            warnings=len(provenance.get("warnings", [])),
        )
    if out is not None and status != "failed":
        row["result"] = str(out / name)
    return row


def _stat_key(path: Path) -> str:
    """Size and modification time of a movie file (or of every TIFF of a frame folder)."""
    from leadertrack.io import is_tiff_name

    files = sorted(p for p in path.iterdir() if is_tiff_name(p)) if path.is_dir() else [path]
    return ";".join(f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files)


def _read_checksum_cache(out: Path) -> dict[str, dict[str, str]]:
    try:
        cache = json.loads((out / CHECKSUM_CACHE).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return cache if isinstance(cache, dict) else {}


def _cached_checksum(cache: dict[str, dict[str, str]], path: Path) -> str | None:
    """The SHA-256 remembered for ``path`` if its size and mtime did not change since, else None."""
    entry = cache.get(str(path.absolute()))
    try:
        return entry["sha256"] if isinstance(entry, dict) and entry.get("stat") == _stat_key(path) else None
    except OSError:
        return None


def _remember_checksum(cache: dict[str, dict[str, str]], path: Path, checksum: str, out: Path) -> None:
    """Store ``path``'s checksum with its size and mtime in ``out``, so a re-run need not re-read it."""
    try:
        cache[str(path.absolute())] = {"stat": _stat_key(path), "sha256": checksum}
    except OSError:
        return
    atomic_write(out / CHECKSUM_CACHE, lambda tmp: tmp.write_text(json.dumps(cache, indent=0), encoding="utf-8"))


def _guard(progress: ProgressCallback | None) -> ProgressCallback | None:
    """Wrap the user's callback so that its exceptions cancel the batch instead of failing a movie."""
    if progress is None:
        return None

    def call(stage: str, done: int, total: int) -> None:
        try:
            progress(stage, done, total)
        except Exception as exc:
            raise _Cancelled() from exc

    return call


def _with_units(config: RunConfig, units: dict[str, float]) -> RunConfig:
    if not units:
        return config
    return config.model_copy(update={"units": config.units.model_copy(update=units)})


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, (InputError, FileExistsError)):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _write_index(summary: pd.DataFrame, out: Path) -> None:
    """Write ``out/index.html`` linking every movie's report, when the report module is available."""
    try:
        from leadertrack.report import write_batch_index
    except ImportError:
        return
    write_batch_index(summary, out)


# --------------------------------------------------------------------------- executors


def _execute(
    jobs: list[_Job], *, workers: int | None, scheduler: str | None, progress: ProgressCallback | None
) -> Iterator[tuple[int, dict]]:
    """Yield ``(job.index, summary row)`` as movies finish, on the executor asked for."""
    if not jobs:
        return
    n_workers = (os.cpu_count() or 1) if workers == 0 else workers
    if scheduler is None and (n_workers is None or n_workers <= 1 or len(jobs) == 1):
        # one movie: the cores asked for segment its frames instead
        for job in jobs:
            yield job.index, _process(job, progress, threads=n_workers or 1)
        return
    remote = _on_dask(jobs, scheduler=scheduler, n_workers=n_workers) if scheduler is not None else _on_processes(
        jobs, n_workers=n_workers
    )
    for index, row in remote:
        for message in row.pop(_WARNINGS_KEY, []):  # shown here as the movies run here show theirs
            warnings.warn(message, UserWarning, stacklevel=2)
        yield index, row


_WARNINGS_KEY = "_warnings"


def _process_in_worker(job: _Job) -> dict:
    """:func:`_process` in a worker process (or on a Dask worker): its warnings come back in the row, under
    ``_WARNINGS_KEY``, for the parent to show as it shows its own, instead of a worker's raw Python warnings."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            row = _process(job)
    except KeyboardInterrupt:  # Ctrl-C reaches the workers too: this one stops, rather than take the next movie
        os._exit(130)
    return {**row, _WARNINGS_KEY: [str(w.message) for w in caught]}


def _on_processes(jobs: list[_Job], *, n_workers: int) -> Iterator[tuple[int, dict]]:
    # spawn: safe with threads in the parent (Qt, Dask) and the same on Linux, macOS and Windows
    pool = ProcessPoolExecutor(max_workers=min(n_workers, len(jobs)), mp_context=multiprocessing.get_context("spawn"))
    began = datetime.now(timezone.utc).replace(microsecond=0)  # run.json gives its times to the second
    broken: list[_Job] = []
    try:
        futures = {pool.submit(_process_in_worker, job): job for job in jobs}
        for future in as_completed(futures):
            job = futures[future]
            try:
                row = future.result()
            except BrokenProcessPool:  # a worker died and took every unfinished movie down with it
                broken.append(job)
                continue
            except Exception as exc:  # noqa: BLE001 - the worker process died
                row = summary_row(job.name, job.shown, "failed", error=f"worker process died: {_one_line(exc)}")
            yield job.index, row
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    for job in sorted(broken, key=lambda j: j.index):  # each again in a process of its own: only the culprit fails
        yield job.index, _made_since(job, began) or _alone(job)


def _made_since(job: _Job, began: datetime) -> dict | None:
    """The ``ok`` row of ``job`` when a worker of this run finished its result (the run began at ``began``) before
    the pool broke, though its row was lost with the pool; None otherwise (it would be called ``skipped``)."""
    provenance = read_provenance(job.out / job.name)
    try:
        started = datetime.fromisoformat(provenance["started"]) if provenance else None
    except (KeyError, TypeError, ValueError):
        return None
    if started is None or started < began:
        return None
    row = summary_row(job.name, job.shown, "ok", provenance=provenance, out=job.out)
    return {**row, "input_sha256": provenance.get("input", {}).get("checksum_sha256")}


def _alone(job: _Job) -> dict:
    """Run one job in a fresh worker process; a failed row if that process dies too."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            return pool.submit(_process_in_worker, job).result()
        except Exception as exc:  # noqa: BLE001 - the worker process died (killed, out of memory)
            return summary_row(job.name, job.shown, "failed", error=f"worker process died: {_one_line(exc)}")


def _on_dask(jobs: list[_Job], *, scheduler: str, n_workers: int | None) -> Iterator[tuple[int, dict]]:
    try:
        from dask.distributed import Client, LocalCluster
        from dask.distributed import as_completed as dask_completed
    except ImportError as exc:
        raise InputError("--scheduler needs Dask: pip install 'leadertrack[dask]'") from exc
    cluster = None
    try:
        if scheduler == "local":
            cluster = LocalCluster(
                n_workers=n_workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,  # not "worker still alive after 4 s, killing" at shutdown
            )
            client = Client(cluster)
        else:
            client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        raise InputError(f"{scheduler}: cannot connect to the Dask scheduler ({_one_line(exc)})") from exc
    try:
        batch = uuid.uuid4().hex[:8]
        futures = {
            client.submit(_process_in_worker, job, key=f"leadertrack-{job.name}-{batch}", pure=False, retries=0): job
            for job in jobs
        }
        for future in dask_completed(futures):
            job = futures[future]
            try:
                row = future.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker, lost connection, ...
                row = summary_row(job.name, job.shown, "failed", error=f"Dask worker failed: {_one_line(exc)}")
            yield job.index, row
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
