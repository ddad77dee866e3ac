"""Tests for leadertrack.batch: failure isolation, resuming, executors giving identical results."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from helpers import fast_config, segmenting_threads, write_plate

from leadertrack.batch import config_sha256, read_unit_overrides, run_batch
from leadertrack.errors import InputError
from leadertrack.io import file_checksum, list_movies

GOOD = ("plate_a1", "plate_a2", "plate_b1")


_config = fast_config


@pytest.fixture(scope="module")
def plate(tmp_path_factory) -> Path:
    """Three small calibrated synthetic movies, a truncated TIFF and a text file named .tif."""
    folder = write_plate(tmp_path_factory.mktemp("plate"), GOOD, n_frames=8, field_um=(150.0, 150.0))
    payload = (folder / f"{GOOD[0]}.tif").read_bytes()
    (folder / "corrupt.tif").write_bytes(payload[: len(payload) // 2])
    (folder / "fake.tif").write_text("well,pixel_size\nA1,0.65\n")
    return folder


@pytest.fixture(scope="module")
def plate_checksums(plate) -> dict[str, str]:
    """SHA-256 of every input file, taken before any batch reads them."""
    return {p.name: file_checksum(p) for p in plate.iterdir()}


@pytest.fixture(scope="module")
def serial(plate, plate_checksums, tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """The reference: the whole plate run serially in this process."""
    out = tmp_path_factory.mktemp("serial")
    return out, run_batch(list_movies([plate]), out, _config(), workers=1)


def _status(summary: pd.DataFrame) -> dict[str, str]:
    return dict(zip(summary["movie"], summary["status"]))


def _partial_folders(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.is_dir() and p.name.startswith("."))


def _renumbered(folder: Path) -> dict[str, pd.DataFrame]:
    """tracks.csv and cells.csv with track ids renumbered by (first frame, label).

    Track ids are names: the linker may number the same tracks differently from run to run, so
    results are compared after giving every track a canonical id.
    """
    tracks = pd.read_csv(folder / "tracks.csv")
    cells = pd.read_csv(folder / "cells.csv")
    first = tracks.sort_values(["frame", "label"]).drop_duplicates("track_id")
    mapping = {old: new for new, old in enumerate(first["track_id"], start=1)}
    tables = {}
    for name, table in (("tracks", tracks), ("cells", cells)):
        table = table.copy()
        for column in [c for c in table.columns if c == "track_id" or c.endswith("_track_id")]:
            table[column] = table[column].map(lambda v: mapping.get(v, v))
        keys = ["track_id", "frame"] if "frame" in table else ["track_id"]
        tables[name] = table.sort_values(keys).reset_index(drop=True)
    return tables


def _assert_same_results(out: Path, reference: Path) -> None:
    for name in GOOD:
        assert (out / name / "fronts.csv").read_bytes() == (reference / name / "fronts.csv").read_bytes()
        ours, theirs = _renumbered(out / name), _renumbered(reference / name)
        for table in ours:
            pd.testing.assert_frame_equal(ours[table], theirs[table], check_exact=False, rtol=1e-9)
        np.testing.assert_array_equal(tifffile.imread(out / name / "labels.tif"), tifffile.imread(reference / name / "labels.tif"))


def test_failures_are_isolated(plate, serial):
    out, summary = serial
    assert _status(summary) == {"corrupt": "failed", "fake": "failed", **{name: "ok" for name in GOOD}}
    errors = dict(zip(summary["movie"], summary["error"].fillna("")))
    assert errors["corrupt"].startswith(str(plate / "corrupt.tif")) and "truncated" in errors["corrupt"]
    assert errors["fake"] == f"{plate / 'fake.tif'}: not a TIFF file (leadertrack reads TIFF and OME-TIFF; convert other formats, e.g. in Fiji)"
    on_disk = pd.read_csv(out / "summary.csv")
    assert list(on_disk["movie"]) == list(summary["movie"]) == ["corrupt", "fake", *GOOD]
    # counts are written as whole numbers beside the failed rows' empty ones (they were 8.0)
    with open(out / "summary.csv", newline="") as handle:
        assert [row["frames"] for row in csv.DictReader(handle)] == ["", "", "8", "8", "8"]
    # a failed movie's row names the file that failed by its checksum too (it was left empty)
    sums = dict(zip(on_disk["movie"], on_disk["input_sha256"]))
    assert sums["corrupt"] == file_checksum(plate / "corrupt.tif")
    ok = summary[summary["status"] == "ok"]
    assert (ok["tracks"] > 0).all() and (ok["frames"] == 8).all()
    assert (ok["pixel_size_um"] == 1.0).all() and (ok["frame_interval_min"] == 2.0).all()
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(GOOD)
    assert _partial_folders(out) == []
    run = json.loads((out / GOOD[0] / "run.json").read_text())
    assert run["config"] == _config().model_dump(mode="json")
    assert len(run["input"]["checksum_sha256"]) == 64


def test_rerun_skips_finished_movies_and_overwrite_redoes_them(plate, tmp_path):
    movies = [plate / f"{name}.tif" for name in GOOD[:2]]
    first = run_batch(movies, tmp_path, _config())
    assert set(first["status"]) == {"ok"}
    stamp = (tmp_path / GOOD[0] / "run.json").stat().st_mtime_ns

    again = run_batch(movies, tmp_path, _config())
    assert set(again["status"]) == {"skipped"}
    assert set(again["error"]) == {"already done with the same input and configuration"}
    assert list(again["tracks"]) == list(first["tracks"])  # counts come from the existing run.json
    assert (tmp_path / GOOD[0] / "run.json").stat().st_mtime_ns == stamp

    changed = _config()
    changed.link.memory = 1
    kept = run_batch(movies, tmp_path, changed)
    assert set(kept["status"]) == {"skipped"}
    assert kept["error"].str.contains("another configuration; use --overwrite").all()
    assert (tmp_path / GOOD[0] / "run.json").stat().st_mtime_ns == stamp

    redone = run_batch(movies, tmp_path, changed, overwrite=True)
    assert set(redone["status"]) == {"ok"}
    run = json.loads((tmp_path / GOOD[0] / "run.json").read_text())
    assert config_sha256(run["config"]) == config_sha256(changed) != config_sha256(_config())


def test_rerun_reuses_checksums_of_unchanged_files(plate, tmp_path, monkeypatch):
    import leadertrack.io

    movies = [tmp_path / f"{name}.tif" for name in GOOD[:2]]
    for movie in movies:
        movie.write_bytes((plate / movie.name).read_bytes())
    first = run_batch(movies, tmp_path / "out", _config())
    assert list(first["input_sha256"]) == [file_checksum(m) for m in movies]

    def refuse(path, **kwargs):
        raise AssertionError(f"{path} was read again")

    with monkeypatch.context() as patch:
        patch.setattr(leadertrack.io, "file_checksum", refuse)
        again = run_batch(movies, tmp_path / "out", _config())
    assert list(again["status"]) == ["skipped", "skipped"]
    assert list(again["input_sha256"]) == list(first["input_sha256"])

    os.utime(movies[1], ns=(1, 1))  # touched: its checksum must be computed again
    read: list[Path] = []
    real = leadertrack.io.file_checksum
    monkeypatch.setattr(leadertrack.io, "file_checksum", lambda path, **kw: read.append(Path(path)) or real(path, **kw))
    third = run_batch(movies, tmp_path / "out", _config())
    assert read == [movies[1].absolute()] and list(third["status"]) == ["skipped", "skipped"]


_KILLABLE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from leadertrack.batch import run_batch
    from leadertrack.config import RunConfig

    finished = 0

    def progress(stage, done, total):
        global finished
        if stage == "movies":
            finished = done
        elif finished == 1:  # the second movie is being analysed: say so, then wait to be killed
            print("SECOND-MOVIE-STARTED", flush=True)
            sys.stdin.readline()

    config = RunConfig()
    config.output.report = False
    config.segment.nucleus_diameter_um = 10.0
    config.link.search_range_um = 6.0
    run_batch([Path(p) for p in sys.argv[2:]], Path(sys.argv[1]), config, progress=progress)
    """
)


def test_killed_run_resumes(plate, serial, tmp_path):
    movies = [str(plate / f"{name}.tif") for name in GOOD]
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLABLE, str(tmp_path), *movies],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "SECOND-MOVIE-STARTED"
        assert (tmp_path / GOOD[0] / "run.json").is_file()
        assert not (tmp_path / GOOD[1]).exists()
        assert any(name.startswith(f".{GOOD[1]}.partial") for name in _partial_folders(tmp_path))
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert list(pd.read_csv(tmp_path / "summary.csv")["movie"]) == [GOOD[0]]

    resumed = run_batch([Path(m) for m in movies], tmp_path, _config())
    assert _status(resumed) == {GOOD[0]: "skipped", GOOD[1]: "ok", GOOD[2]: "ok"}
    assert _partial_folders(tmp_path) == []
    _assert_same_results(tmp_path, serial[0])


def test_processes_match_serial(plate, serial, tmp_path):
    summary = run_batch(list_movies([plate]), tmp_path, _config(), workers=2)
    assert _status(summary) == _status(serial[1])
    assert list(summary["movie"]) == list(serial[1]["movie"])
    _assert_same_results(tmp_path, serial[0])


def test_warnings_of_movies_run_in_worker_processes_are_shown_as_the_parents_own(plate, tmp_path, capfd):
    """A movie run in a worker process used to print Python's raw 'FILE:LINE: UserWarning: ...' and a line of
    source on stderr; its warnings now come back with its row and are raised in the parent, where the command
    line shows each as one line."""
    uncalibrated = tmp_path / "in"
    uncalibrated.mkdir()
    for name in GOOD[:2]:  # the same movies without units: each warns that distances are in pixels
        tifffile.imwrite(uncalibrated / f"{name}.tif", tifffile.imread(plate / f"{name}.tif"))
    with pytest.warns(UserWarning) as caught:
        summary = run_batch(list_movies([uncalibrated]), tmp_path / "out", _config(), workers=2)
    assert set(summary["status"]) == {"ok"}
    shown = [str(w.message) for w in caught]
    for name in GOOD[:2]:
        assert any(m.startswith(f"{name}: no pixel size") for m in shown)
    assert "UserWarning" not in capfd.readouterr().err


def test_dask_local_cluster_matches_serial(plate, serial, tmp_path):
    pytest.importorskip("dask.distributed")
    summary = run_batch(list_movies([plate]), tmp_path, _config(), workers=2, scheduler="local")
    assert _status(summary) == _status(serial[1])
    _assert_same_results(tmp_path, serial[0])


def test_progress_reports_movies_and_cancels(plate, tmp_path):
    movies = [plate / f"{name}.tif" for name in GOOD]
    events: list[tuple[str, int, int]] = []

    def progress(stage, done, total):
        events.append((stage, done, total))
        if stage == "movies" and done == 1:
            raise KeyboardInterrupt  # what a Ctrl-C in a progress bar looks like

    with pytest.raises(KeyboardInterrupt):
        run_batch(movies, tmp_path, _config(), progress=progress)
    assert events[-1] == ("movies", 1, 3)
    assert {stage for stage, _, _ in events} - {"movies"}  # per-stage progress of the movie
    assert (tmp_path / GOOD[0] / "run.json").is_file() and not (tmp_path / GOOD[1]).exists()

    def cancel_during_second(stage, done, total):
        if stage != "movies":
            raise RuntimeError("cancelled by the user")

    with pytest.raises(RuntimeError, match="cancelled by the user"):
        run_batch(movies, tmp_path, _config(), progress=cancel_during_second)
    assert not (tmp_path / GOOD[1]).exists() and _partial_folders(tmp_path) == []
    assert list(pd.read_csv(tmp_path / "summary.csv")["status"]) == ["skipped"]


def test_units_sidecar_overrides_per_movie(plate, tmp_path):
    movies = [plate / f"{name}.tif" for name in GOOD[:2]]
    sidecar = tmp_path / "units.csv"
    sidecar.write_text(f"movie,pixel_size_um,frame_interval_min\n{GOOD[0]}.tif,0.5,\n")
    summary = run_batch(movies, tmp_path / "out", _config(), units_csv=sidecar).set_index("movie")
    assert summary.loc[GOOD[0], "pixel_size_um"] == 0.5 and summary.loc[GOOD[0], "frame_interval_min"] == 2.0
    assert summary.loc[GOOD[1], "pixel_size_um"] == 1.0
    run = json.loads((tmp_path / "out" / GOOD[0] / "run.json").read_text())
    assert run["config"]["units"]["pixel_size_um"] == 0.5
    assert run["config"]["units"]["frame_interval_min"] is None


def test_frame_sequence_folders(plate, serial, tmp_path):
    folder = tmp_path / GOOD[0]  # the first movie, stored one TIFF per frame
    folder.mkdir()
    movie = tifffile.imread(plate / f"{GOOD[0]}.tif")
    for t, frame in enumerate(movie):
        tifffile.imwrite(folder / f"t{t:03d}.tif", frame)
    config = _config()
    config.units.pixel_size_um, config.units.frame_interval_min = 1.0, 2.0  # single frames carry no units
    summary = run_batch([folder], tmp_path / "out", config, frame_sequence=True)
    assert list(summary["status"]) == ["ok"] and summary["frames"].iloc[0] == len(movie)
    run = json.loads((tmp_path / "out" / GOOD[0] / "run.json").read_text())
    assert run["input"]["checksum_sha256"] == file_checksum(folder)
    again = run_batch([folder], tmp_path / "out", config, frame_sequence=True)
    assert list(again["status"]) == ["skipped"]
    reference = _renumbered(serial[0] / GOOD[0])["cells"]
    pd.testing.assert_frame_equal(_renumbered(tmp_path / "out" / GOOD[0])["cells"], reference, check_exact=False, rtol=1e-9)


def test_same_name_in_two_folders_fails_the_second(plate, tmp_path):
    twin = tmp_path / "other"
    twin.mkdir()
    (twin / f"{GOOD[0]}.tif").write_bytes((plate / f"{GOOD[0]}.tif").read_bytes())
    movies = [plate / f"{GOOD[0]}.tif", twin / f"{GOOD[0]}.tif"]
    summary = run_batch(movies, tmp_path / "out", _config())
    assert list(summary["status"]) == ["ok", "failed"]
    assert "has the same name 'plate_a1'; rename one" in summary["error"].iloc[1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("movie,pixel_size\na.tif,1\n", r"unknown column 'pixel_size'"),
        ("name,pixel_size_um\na.tif,1\n", r"needs a 'movie' column"),
        ("movie,pixel_size_um\na.tif,-1\n", r"line 2 \(a\.tif\): pixel_size_um must be a positive number, got -1"),
        ("movie,frame_interval_min\na.tif,soon\n", r"line 2 \(a\.tif\): frame_interval_min must be a positive number, got 'soon'"),
        ("movie,pixel_size_um\na.tif,1\na,2\n", r"line 3: .*a\.tif is listed twice"),
        ("movie,pixel_size_um\nb.tif,1\n", r"line 2: 'b\.tif' matches several movies"),
    ],
)
def test_units_sidecar_errors(tmp_path, text, message):
    sidecar = tmp_path / "units.csv"
    sidecar.write_text(text)
    movies = [Path("x/a.tif"), Path("x/b.tif"), Path("y/b.tif")]
    with pytest.raises(InputError, match=r"units\.csv: .*" + message):
        read_unit_overrides(sidecar, movies)


def test_units_sidecar_warns_about_unknown_movies(tmp_path):
    sidecar = tmp_path / "units.csv"
    sidecar.write_text("movie,pixel_size_um\na,0.7\nzzz.tif,1\n")
    with pytest.warns(UserWarning, match=r"1 row\(s\) name no movie of this batch: zzz\.tif"):
        overrides = read_unit_overrides(sidecar, [Path("a.ome.tif")])
    assert overrides == {0: {"pixel_size_um": 0.7}}


def test_labels_of_a_batch_must_be_a_folder(tmp_path):
    with pytest.raises(InputError, match="l.tif: no such folder; for a batch of 2 movies, --labels must be a folder holding"):
        run_batch([tmp_path / "a.tif", tmp_path / "b.tif"], tmp_path / "out", labels=tmp_path / "l.tif")


def test_batch_takes_each_movies_masks_by_name_and_redoes_nothing_with_other_masks(plate, serial, tmp_path, monkeypatch):
    import shutil

    serial_out, _ = serial
    masks = tmp_path / "masks"
    masks.mkdir()
    a1 = tifffile.imread(serial_out / "plate_a1" / "labels.tif")
    a2 = tifffile.imread(serial_out / "plate_a2" / "labels.tif")
    tifffile.imwrite(masks / "plate_a1_masks.tif", a1)
    tifffile.imwrite(masks / "plate_a2.tif", a2)  # plate_b1 has none
    movies = [plate / f"{name}.tif" for name in GOOD]
    out = tmp_path / "out"
    shutil.copytree(serial_out / "plate_a2", out / "plate_a2")  # segmented before: not a result from these masks
    summary = run_batch(movies, out, _config(), labels=masks, workers=1)
    status, errors = _status(summary), dict(zip(summary["movie"], summary["error"].fillna("")))
    assert status == {"plate_a1": "ok", "plate_a2": "skipped", "plate_b1": "failed"}, errors
    assert errors["plate_a2"] == "kept the existing result made with other masks; use --overwrite to redo it"
    assert errors["plate_b1"].startswith(f"no masks for this movie in {masks}: looked for plate_b1.tif, plate_b1_masks.tif")
    assert not (out / "plate_b1").exists()
    np.testing.assert_array_equal(tifffile.imread(out / "plate_a1" / "labels.tif"), a1)
    given = json.loads((out / "plate_a1" / "run.json").read_text())
    assert given["input"]["labels"] == str((masks / "plate_a1_masks.tif").absolute())
    assert given["input"]["labels_checksum_sha256"] == file_checksum(masks / "plate_a1_masks.tif")
    assert given["nucleus_diameter_source"] == "labels"
    sums = dict(zip(summary["movie"], summary["labels_sha256"]))
    assert sums["plate_a1"] == file_checksum(masks / "plate_a1_masks.tif") and pd.isna(sums["plate_b1"])

    # the same masks again: done, and not read again to know it; other masks for plate_a1: kept until --overwrite
    read = []
    import leadertrack.io

    checksum = leadertrack.io.file_checksum
    monkeypatch.setattr(leadertrack.io, "file_checksum", lambda path, **kw: read.append(Path(path).name) or checksum(path, **kw))
    assert _status(run_batch(movies[:2], out, _config(), labels=masks, overwrite=False))["plate_a1"] == "skipped"
    assert read == []
    fewer = np.where(a1 == a1.max(), 0, a1)
    tifffile.imwrite(masks / "plate_a1_masks.tif", fewer)
    again = run_batch(movies[:2], out, _config(), labels=masks)
    assert dict(zip(again["movie"], again["error"]))["plate_a1"] == (
        "kept the existing result made with other masks; use --overwrite to redo it"
    )
    redone = run_batch(movies[:2], out, _config(), labels=masks, overwrite=True)
    assert _status(redone) == {"plate_a1": "ok", "plate_a2": "ok"}
    np.testing.assert_array_equal(tifffile.imread(out / "plate_a1" / "labels.tif"), fewer)
    np.testing.assert_array_equal(tifffile.imread(out / "plate_a2" / "labels.tif"), a2)


def test_masks_for_a_movie_are_found_by_name_and_ambiguity_is_an_error(tmp_path):
    from leadertrack.batch import masks_for_movie

    for name in ("a_masks.tif", "a_labels.tif", "b_cp_masks.tiff", "bb.tif", "c.ome.tif", ".c_masks.tif"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "d_masks").mkdir()  # per-frame masks of movie d
    assert [p.name for p in masks_for_movie("a", tmp_path)] == ["a_labels.tif", "a_masks.tif"]
    assert [p.name for p in masks_for_movie("b", tmp_path)] == ["b_cp_masks.tiff"]
    assert [p.name for p in masks_for_movie("c", tmp_path)] == ["c.ome.tif"]
    assert [p.name for p in masks_for_movie("d", tmp_path)] == ["d_masks"]
    assert masks_for_movie("e", tmp_path) == []
    summary = run_batch([tmp_path / "a.tif", tmp_path / "e.tif"], tmp_path / "out", labels=tmp_path)
    errors = dict(zip(summary["movie"], summary["error"]))
    assert errors["a"] == f"several masks for this movie in {tmp_path}: a_labels.tif, a_masks.tif; keep one"
    # the masks looked for in the movies' own folder, where e.tif is the movie itself, not its masks: said so
    assert errors["e"].startswith(f"no masks for this movie in {tmp_path} (the movies' own folder: a movie is never its own masks)")


def test_inputs_are_untouched(plate, plate_checksums, serial):
    assert sorted(os.listdir(plate)) == sorted(["corrupt.tif", "fake.tif", *(f"{n}.tif" for n in GOOD)])
    assert {p.name: file_checksum(p) for p in plate.iterdir()} == plate_checksums


def test_a_single_movie_gets_the_workers_for_its_frames(plate, serial, tmp_path, monkeypatch):
    threads_used = segmenting_threads(monkeypatch)
    summary = run_batch([plate / f"{GOOD[0]}.tif"], tmp_path, _config(), workers=2)
    assert _status(summary) == {GOOD[0]: "ok"}
    assert threads_used and all(name.startswith("leadertrack-segment") for name in threads_used)
    ours, theirs = _renumbered(tmp_path / GOOD[0]), _renumbered(serial[0] / GOOD[0])
    for table in ours:
        pd.testing.assert_frame_equal(ours[table], theirs[table], check_exact=False, rtol=1e-9)
    threads_used.clear()
    run_batch([plate / f"{GOOD[0]}.tif"], tmp_path / "one", _config(), workers=1)
    assert set(threads_used) == {"MainThread"}


def test_a_result_finished_before_the_pool_broke_is_reported_ok_not_skipped(tmp_path):
    """When a worker died, every movie whose row was still out was run again alone; one that the other worker
    had finished in this very run came back 'skipped: already done'."""
    from datetime import datetime, timedelta, timezone

    from leadertrack.batch import _Job, _made_since
    from leadertrack.config import RunConfig

    began = datetime.now(timezone.utc).replace(microsecond=0)
    job = _Job(index=0, path=tmp_path / "a.tif", shown="a.tif", name="a", out=tmp_path, config=RunConfig(),
               overwrite=False, frame_sequence=False)
    assert _made_since(job, began) is None  # no result
    (tmp_path / "a").mkdir()
    run_json = {"started": began.isoformat(timespec="seconds"), "counts": {"frames": 5, "tracks": 9, "leaders": 1},
                "input": {"checksum_sha256": "ab" * 32}}
    (tmp_path / "a" / "run.json").write_text(json.dumps(run_json), encoding="utf-8")
    row = _made_since(job, began)
    assert row["status"] == "ok" and row["tracks"] == 9 and row["input_sha256"] == "ab" * 32
    assert _made_since(job, began + timedelta(seconds=1)) is None  # made before this run: not this run's


def test_ctrl_c_lists_the_movies_finished_so_far_and_goes_on(plate, tmp_path, monkeypatch):
    """Ctrl-C ended a batch without summary.csv, and `leadertrack run` without a word (exit 130)."""
    from leadertrack import batch

    def one_then_interrupt(jobs, **_):
        yield jobs[0].index, batch.summary_row(jobs[0].name, jobs[0].shown, "failed", error="stand-in")
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "_execute", one_then_interrupt)
    movies = list_movies([plate])
    with pytest.raises(KeyboardInterrupt):
        run_batch(movies, tmp_path / "out", _config(), workers=2)
    assert pd.read_csv(tmp_path / "out" / "summary.csv")["error"].tolist() == ["stand-in"]

    from typer.testing import CliRunner

    from leadertrack.cli import app

    res = CliRunner().invoke(app, ["run", str(plate), "--out", str(tmp_path / "cli"), "-q"])
    assert res.exit_code == 130
    assert "interrupted: the movies finished so far are in" in res.output and "finished movies are skipped" in res.output
