"""The ``leadertrack`` command line.

Heavy modules are imported inside the commands so ``leadertrack --help`` answers at once.
"""

from __future__ import annotations

import contextlib
import reprlib
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from leadertrack.config import RunConfig

app = typer.Typer(
    name="leadertrack",
    help=(
        "Find leader cells in time-lapse movies of collective cancer invasion.\n\n"
        "Typical use:  leadertrack run movie.tif --out results --pixel-size-um 0.65 --frame-interval-min 10\n\n"
        "Each movie gets OUT/<movie>/ with tracks.csv (one row per cell per frame), cells.csv (one row "
        "per cell track, with leader_score, is_leader and the reason), labels.tif and run.json; "
        "OUT/summary.csv lists every movie."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

GEOMETRIES = ("auto", "planar", "radial")

PixelSize = Annotated[
    Optional[float],
    typer.Option("--pixel-size-um", help="Pixel size in µm (overrides the file's metadata).", show_default=False),
]
FrameInterval = Annotated[
    Optional[float],
    typer.Option("--frame-interval-min", help="Minutes between frames (overrides the file's metadata).", show_default=False),
]
Geometry = Annotated[
    str,
    typer.Option("--geometry", help="Invasion geometry: planar (wound edge, monolayer), radial (spheroid) or auto."),
]
ConfigFile = Annotated[
    Optional[Path],
    typer.Option("--config", exists=True, dir_okay=False, help="TOML file with parameters (see: leadertrack config), or an earlier result's run.json to run with its settings.", show_default=False),
]
Out = Annotated[Path, typer.Option("--out", "-o", help="Output folder (created if needed).")]
Model = Annotated[
    Optional[Path],
    typer.Option("--model", exists=True, dir_okay=False, help="A leader model trained with 'leadertrack train' (default: the documented rule).", show_default=False),
]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace results that already exist in OUT.")]


def _fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _one_line(exc: Exception) -> str:
    """An InputError's message, or ``FILE: reason`` for a disk error (full disk, no permission)."""
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _build_config(
    config_file: Path | None,
    *,
    pixel_size_um: float | None = None,
    frame_interval_min: float | None = None,
    geometry: str | None = None,
    **overrides: object,
):
    """The run configuration: defaults < config file < command-line flags."""
    from pydantic import ValidationError

    from leadertrack.config import RunConfig, load_config

    try:
        config = load_config(config_file) if config_file else RunConfig()
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        _fail(f"{config_file}: {where}: {error['msg']} (got {reprlib.repr(error.get('input'))})")
    except ValueError as exc:
        _fail(str(exc))
    if geometry is not None and geometry not in GEOMETRIES:
        _fail(f"--geometry must be one of {', '.join(GEOMETRIES)}, not {geometry!r}")
    overrides.update(units__pixel_size_um=pixel_size_um, units__frame_interval_min=frame_interval_min)
    if geometry is not None and geometry != "auto":
        overrides["front__geometry"] = geometry
    for dotted, value in overrides.items():
        if value is None:
            continue
        section, name = dotted.split("__")
        try:
            setattr(getattr(config, section), name, value)
        except ValidationError as exc:
            flag = "--" + name.replace("_", "-")
            _fail(f"{flag} {value}: {exc.errors()[0]['msg']}")
    if config.classify.model_path:
        from leadertrack.errors import InputError
        from leadertrack.model import load_model

        # absolute, so that workers elsewhere (a Dask cluster) find it; read now, so that a bad model is
        # refused before any movie is segmented, not after each one
        path = Path(config.classify.model_path).expanduser().absolute()
        try:
            load_model(path)
        except InputError as exc:
            _fail(f"--model / [classify] model_path: {exc}")
        config.classify.model_path = str(path)
    return config


@contextlib.contextmanager
def _readable_warnings() -> Iterator[None]:
    """Warnings printed as one line, ``warning: MESSAGE``, above the progress bars, instead of
    Python's ``FILE:LINE: UserWarning: MESSAGE`` and a line of source in the middle of a bar.
    (Movies run in worker processes send theirs back with their summary row; they are shown here too.)"""
    from tqdm.auto import tqdm

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        tqdm.write(f"warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


class _ProgressBars:
    """Progress on stderr: a bar for the movies of a batch and one for the stage of the current movie.

    When stderr is not a terminal (a log file, a cluster job's output) bars would fill it with
    carriage returns and cursor movements; there each stage gets plain lines instead, at its start
    and at each quarter, and the batch a line per movie done.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.terminal = sys.stderr.isatty()
        self.bars: dict[str, object] = {}
        self.stage: str | None = None
        self.quarter = -1  # the last quarter of the current stage written as a plain line

    def _plain(self, stage: str, done: int, total: int) -> None:
        if stage == "movies":
            if done > 0:
                typer.echo(f"movies: {done}/{total}", err=True)
            return
        if stage != self.stage:
            self.stage, self.quarter = stage, -1
        quarter = 4 * done // total if total > 0 else 4
        if quarter > self.quarter:
            self.quarter = quarter
            unit = "frames" if stage in ("segment", "link") else "steps"
            typer.echo(f"  {stage}: {done}/{total} {unit}", err=True)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if not self.terminal:
            self._plain(stage, done, total)
            return
        from tqdm.auto import tqdm

        if stage == "movies":
            if "movies" not in self.bars:
                self.bars["movies"] = tqdm(total=total, desc="   movies", unit="movie", position=0, file=sys.stderr)
            bar = self.bars["movies"]
        else:
            if stage != self.stage:
                self._close_stage()
                self.stage = stage
                unit = "frame" if stage in ("segment", "link") else "step"
                self.bars["stage"] = tqdm(total=total, desc=f"{stage:>9}", unit=unit, position=1, leave=False, file=sys.stderr)
            bar = self.bars["stage"]
        bar.n = done
        bar.refresh()

    def _close_stage(self) -> None:
        bar = self.bars.pop("stage", None)
        if bar is not None:
            bar.close()
        self.stage = None

    def close(self) -> None:
        self._close_stage()
        bar = self.bars.pop("movies", None)
        if bar is not None:
            bar.close()


def _print_summary(summary, out: Path, seconds: float) -> None:
    """The one-screen summary at the end of a run."""
    typer.echo("")
    if summary.empty:
        typer.echo("No movies processed.")
        return
    for row in summary.itertuples(index=False):
        if row.status == "ok":
            n_warnings = int(getattr(row, "warnings", 0) or 0)
            warned = f", {n_warnings} warning{'s' if n_warnings > 1 else ''} (run.json)" if n_warnings else ""
            typer.echo(
                f"  ok       {row.movie}: {int(row.frames)} frames, {int(row.tracks)} tracks, "
                f"{int(row.leaders)} leader{'' if int(row.leaders) == 1 else 's'}{warned}  ({row.seconds:.1f} s)"
            )
        elif row.status == "skipped":
            typer.echo(f"  skipped  {row.movie}: {row.error}")
        else:
            typer.secho(f"  FAILED   {row.movie}: {row.error}", fg=typer.colors.RED)
    counts = summary["status"].value_counts()
    typer.echo(
        f"\n{counts.get('ok', 0)} ok, {counts.get('skipped', 0)} skipped, {counts.get('failed', 0)} failed "
        f"in {seconds:.1f} s. Results: {out}/  (summary: {out / 'summary.csv'})"
    )


@app.command()
def run(
    inputs: Annotated[list[Path], typer.Argument(help="Movie files (TIFF / OME-TIFF), folders of movies, or glob patterns.", show_default=False)],
    out: Out,
    pixel_size_um: PixelSize = None,
    frame_interval_min: FrameInterval = None,
    nucleus_diameter_um: Annotated[
        Optional[float],
        typer.Option(help="Typical nucleus diameter in µm; estimated from the movie when not given.", show_default=False),
    ] = None,
    max_speed_um_per_min: Annotated[
        Optional[float], typer.Option(help="Fastest expected cell speed in µm/min (sets the linking search range).", show_default=False)
    ] = None,
    channel: Annotated[Optional[int], typer.Option(help="Channel with the nuclei, for multi-channel movies (0-based).", min=0, show_default=False)] = None,
    z_projection: Annotated[
        Optional[str],
        typer.Option(help="'max': analyse a Z-stack time-lapse (T,Z,Y,X) as its maximum intensity projection over Z.", show_default=False),
    ] = None,
    labels: Annotated[
        Optional[Path], typer.Option(help="Label masks you already have (Cellpose, StarDist, ...), instead of segmenting: for one movie a label TIFF stack or a folder of per-frame masks; for a batch, a folder with each movie's masks named after it (movie.tif: movie.tif or movie_masks.tif).", show_default=False)
    ] = None,
    frame_sequence: Annotated[bool, typer.Option("--frame-sequence", help="INPUT is a folder holding one movie as one TIFF per frame (t000.tif, t001.tif, ...).")] = False,
    geometry: Geometry = "auto",
    config_file: ConfigFile = None,
    model: Model = None,
    export: Export = None,
    overwrite: Overwrite = False,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Look for movies in subfolders too (not in hidden ones, nor in leadertrack result folders).")] = False,
    workers: Annotated[int, typer.Option(help="Movies processed in parallel on this machine (0 = one per core; 1 = one after another, with per-stage progress). A single movie gets these cores for its frames.", min=0)] = 0,
    scheduler: Annotated[
        Optional[str],
        typer.Option(help="Run the movies on Dask: 'local' starts a LocalCluster for the run, or give a scheduler address (tcp://host:port).", show_default=False),
    ] = None,
    units_csv: Annotated[
        Optional[Path],
        typer.Option("--units-csv", exists=True, dir_okay=False, help="CSV with columns movie, pixel_size_um, frame_interval_min: units per movie for files without metadata.", show_default=False),
    ] = None,
    no_report: NoReport = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Segment, track and classify the cells of each movie; write one result folder per movie."""
    from leadertrack.errors import InputError

    exports = _export_formats(export)
    config = _build_config(
        config_file,
        pixel_size_um=pixel_size_um,
        frame_interval_min=frame_interval_min,
        geometry=geometry,
        segment__nucleus_diameter_um=nucleus_diameter_um,
        segment__channel=channel,
        segment__z_projection=z_projection,
        link__max_speed_um_per_min=max_speed_um_per_min,
        classify__model_path=str(model) if model else None,
    )
    if exports:
        config.output.export = exports
    if no_report:
        config.output.report = False

    import leadertrack.pipeline as pipeline

    bars = _ProgressBars(enabled=not quiet)
    start = time.perf_counter()
    try:
        with _readable_warnings():
            summary = pipeline.run(
                inputs,
                out,
                config,
                overwrite=overwrite,
                frame_sequence=frame_sequence,
                labels=labels,
                recursive=recursive,
                workers=workers,
                scheduler=scheduler,
                units_csv=units_csv,
                progress=bars,
            )
    except (InputError, OSError) as exc:  # OSError: OUT not writable, disk full while writing summary.csv
        bars.close()
        _fail(_one_line(exc))
    except KeyboardInterrupt:
        bars.close()
        typer.echo(
            f"\ninterrupted: the movies finished so far are in {out} (summary.csv lists them); a movie cut short "
            "left no result. Run the same command again to go on: finished movies are skipped.",
            err=True,
        )
        raise typer.Exit(130) from None
    bars.close()
    _print_summary(summary, out, time.perf_counter() - start)
    if (summary["status"] == "failed").any():
        raise typer.Exit(1)


Export = Annotated[Optional[str], typer.Option(help="Extra formats, comma-separated: ctc (label images: movies only), geff, trackmate (XML for Fiji), parquet.", show_default=False)]
NoReport = Annotated[bool, typer.Option("--no-report", help="Do not write report.html.")]


def _export_formats(export: str | None, *, allowed: tuple[str, ...] | None = None) -> list[str]:
    """The formats of ``--export`` (comma-separated), each checked; exits with the reason on one not ``allowed``
    (default: every export format)."""
    from leadertrack.config import EXPORT_FORMATS

    allowed = EXPORT_FORMATS if allowed is None else allowed
    exports = [e.strip().lower() for e in (export or "").split(",") if e.strip()]
    for name in exports:
        if name == "ctc" and name not in allowed:
            _fail("--export ctc: CTC files are label images, and tracks have none; choose from " + ", ".join(allowed))
        if name not in allowed:
            _fail(f"--export: unknown format {name!r}; choose from {', '.join(allowed)}")
    return exports


def _classify_one(
    path: Path,
    out: Path,
    config: RunConfig,
    *,
    column_map: dict[str, str],
    field_px: tuple[float, ...] | None,
    overwrite: bool,
    claimed: dict[str, Path],
) -> dict:
    """Analyse the tracks at ``path`` into ``out/<name>/`` and return its ``summary.csv`` row.

    Parameters
    ----------
    path
        A tracks file or folder (:func:`leadertrack.formats.read_tracks`).
    out
        The output folder.
    config
        The run's configuration.
    column_map
        ``--column`` mappings, for tables.
    field_px
        ``--image-size``, or None.
    overwrite
        Redo a result that exists.
    claimed
        The names taken by the inputs before this one (:func:`leadertrack.batch.claim_name`); this one's is added.

    Returns
    -------
    dict
        ``ok``; ``skipped`` when its result exists (without ``overwrite``), with that result's counts; ``failed``
        with the reason when the tracks cannot be read or analysed, another input has the same name, a folder of
        that name is not a leadertrack result, or the result cannot be written. Rows hold the columns ``run``'s
        do (``input_sha256``, the absolute ``result`` folder, ...).
    """
    from leadertrack.batch import (
        claim_name,
        read_provenance,
        summary_row,
        tracks_checksum,
    )
    from leadertrack.errors import InputError
    from leadertrack.formats import detect_format, read_tracks
    from leadertrack.pipeline import (
        analyze_tracks,
        check_rerun_replaceable,
        is_result_folder,
        write_result,
    )

    began = time.perf_counter()
    out = out.absolute()  # summary.csv names result folders by their absolute path, as run's does
    name = path.name  # until the tracks, read, give theirs
    try:
        with _readable_warnings():
            kind = detect_format(path)
            trackset = read_tracks(path, format=kind, column_map=column_map or None)
            name = trackset.name
            claim_name(claimed, name, path, what="input")
            checksum = tracks_checksum(path)
            if is_result_folder(out / name) and not overwrite:
                row = summary_row(
                    name, path, "skipped", seconds=time.perf_counter() - began, out=out, provenance=read_provenance(out / name),
                    error="a result of this name exists (the tracks are not compared with those it was made from); "
                    "--overwrite redoes it",
                )
                return {**row, "input_sha256": checksum}
            check_rerun_replaceable(out / name)  # never a folder of the user's own; with --overwrite, not a review
            given = trackset if field_px is None else trackset.with_field(field_px)
            result = analyze_tracks(given, config, source=path.absolute(), format=kind)  # as run records movies
        result.provenance["input"]["checksum_sha256"] = checksum
        write_result(result, out, overwrite=overwrite, export=config.output.export, report=config.output.report)
    except (InputError, OSError) as exc:  # OSError: result exists, disk full, folder not writable
        return summary_row(name, path, "failed", error=_one_line(exc), seconds=time.perf_counter() - began)
    except Exception as exc:  # noqa: BLE001 - one bad input must not stop the others, as in run
        error = f"{path}: unexpected {type(exc).__name__}: {_one_line(exc)} (please report it)"
        return summary_row(name, path, "failed", error=error, seconds=time.perf_counter() - began)
    row = summary_row(name, path, "ok", provenance=result.provenance, seconds=time.perf_counter() - began, out=out)
    return {**row, "input_sha256": checksum}


@app.command()
def classify(
    tracks: Annotated[
        list[Path],
        typer.Argument(help="Tracks made elsewhere: a CSV/Parquet table (track_id, frame, y, x[, z]), TrackMate XML or spot CSV, GEFF, a CTC folder, or an Imaris .mat export.", show_default=False),
    ],
    out: Out,
    pixel_size_um: PixelSize = None,
    frame_interval_min: FrameInterval = None,
    geometry: Geometry = "auto",
    config_file: ConfigFile = None,
    model: Model = None,
    column: Annotated[
        Optional[list[str]],
        typer.Option("--column", help="Map a column of a CSV table to ours, e.g. --column particle=track_id (repeatable).", show_default=False),
    ] = None,
    image_size: Annotated[
        Optional[str],
        typer.Option(
            "--image-size",
            help="Size of the image the tracks were found on, in pixels: HEIGHT,WIDTH (DEPTH,HEIGHT,WIDTH in 3-D, the depth in "
            "the pixels of y and x, not in slices), so its "
            "border is not taken for a front. TrackMate XML, CTC folders and leadertrack results carry it already.",
            show_default=False,
        ),
    ] = None,
    export: Export = None,
    overwrite: Overwrite = False,
    no_report: NoReport = False,
) -> None:
    """Measure and classify tracks you already have (no images): leaders, followers, the front."""
    from leadertrack.batch import write_summary
    from leadertrack.config import EXPORT_FORMATS

    without_images = tuple(e for e in EXPORT_FORMATS if e != "ctc")
    exports = _export_formats(export, allowed=without_images)

    if out.exists() and not out.is_dir():
        _fail(f"{out}: is a file; the output (--out) is a folder, created if needed")
    column_map = {}
    for item in column or []:
        if "=" not in item:
            _fail(f"--column {item!r}: write it as NAME_IN_FILE=OUR_NAME, e.g. particle=track_id")
        theirs, ours = item.split("=", 1)
        column_map[theirs.strip()] = ours.strip()
    field_px = None
    if image_size is not None:
        try:
            field_px = tuple(float(n) for n in image_size.replace("x", ",").split(","))
        except ValueError:
            _fail(f"--image-size {image_size!r}: write it as HEIGHT,WIDTH in pixels, e.g. 1024,1344")
    config = _build_config(
        config_file,
        pixel_size_um=pixel_size_um,
        frame_interval_min=frame_interval_min,
        geometry=geometry,
        classify__model_path=str(model) if model else None,
    )
    if exports:
        config.output.export = exports
    config.output.export = _export_formats(",".join(config.output.export), allowed=without_images)  # --config's too
    if no_report:
        config.output.report = False
    start = time.perf_counter()
    claimed: dict[str, Path] = {}
    rows = [
        _classify_one(path, out, config, column_map=column_map, field_px=field_px, overwrite=overwrite, claimed=claimed)
        for path in tracks
    ]
    try:
        summary = write_summary(rows, out)
    except OSError as exc:
        _fail(_one_line(exc))
    _print_summary(summary, out, time.perf_counter() - start)
    if (summary["status"] == "failed").any():
        raise typer.Exit(1)


@app.command()
def report(
    folders: Annotated[list[Path], typer.Argument(help="Result folders (OUT/<movie>) or batch folders (OUT).", show_default=False)],
) -> None:
    """(Re)write report.html for finished results, and index.html for a batch."""
    from leadertrack.errors import InputError
    from leadertrack.report import write_reports

    try:
        written = write_reports(folders)
    except InputError as exc:
        _fail(str(exc))
    for path in written:
        typer.echo(f"wrote {path}")


@app.command()
def train(
    results: Annotated[list[Path], typer.Argument(help="Result folders whose calls you reviewed (corrections.csv from the napari plugin).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file to write (JSON; use it with --config [classify] model_path).")],
    overwrite: Overwrite = False,
) -> None:
    """Train a leader model on reviewed results: their calls, overridden by your corrections."""
    import numpy as np
    import pandas as pd

    from leadertrack.errors import InputError
    from leadertrack.model import model_summary, save_model, train_model
    from leadertrack.pipeline import read_result

    if out.is_dir():
        _fail(f"--out {out} is a folder; a model is saved as a file, say --out {out / 'model.json'}")
    if out.exists() and not overwrite:
        _fail(f"{out} already exists; use --overwrite to replace it")
    results = list(dict.fromkeys(folder.resolve() for folder in results))  # a folder given twice counts once
    tables, labels, movies, n_corrections = [], [], [], 0
    movie_of: dict[str, int] = {}  # results of one movie (its checksum) are held out together
    try:
        for folder in results:
            result = read_result(folder)
            cells = result.cells.copy()
            calls = cells.set_index("track_id")["is_leader"].astype(bool)
            fixes = result.corrections.drop_duplicates("track_id", keep="last").set_index("track_id")["is_leader"].astype(bool)
            unknown = sorted(set(fixes.index) - set(calls.index))
            if unknown:
                raise InputError(
                    f"{folder / 'corrections.csv'}: names tracks that are not in its cells.csv ({unknown[:10]}): was the "
                    "result made again after the review? Remove those rows, or review the new result"
                )
            calls.loc[fixes.index] = fixes
            n_corrections += len(fixes)
            tables.append(cells.reset_index(drop=True))
            labels.append(calls.reindex(cells["track_id"]).reset_index(drop=True))
            movie = str(result.provenance.get("input", {}).get("checksum_sha256") or folder)
            movies.append([movie_of.setdefault(movie, len(movie_of))] * len(cells))
        cells = pd.concat(tables, ignore_index=True)
        model = train_model(cells, pd.concat(labels, ignore_index=True), groups=np.concatenate(movies))
        save_model(model, out)
    except InputError as exc:
        _fail(str(exc))
    typer.echo(
        f"Trained on {len(cells)} tracks from {len(results)} result(s) of {len(movie_of)} movie(s), "
        f"{n_corrections} corrected by hand."
    )
    if n_corrections == 0:
        typer.echo(
            "warning: none of these results holds corrections (corrections.csv is empty): the model learned the "
            "calls as they were, so it decides as the rule does. Review the calls in napari first.",
            err=True,
        )
    typer.echo(model_summary(model))
    typer.echo(f"Model: {out}")


@app.command()
def config() -> None:
    """Print every parameter with its default, as TOML (save it, edit it, pass it with --config)."""
    from leadertrack.config import RunConfig, config_to_toml

    typer.echo(config_to_toml(RunConfig()))
