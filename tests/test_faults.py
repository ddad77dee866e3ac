"""Injected faults: a full disk, a read-only output folder, a process killed mid-write, a Dask
worker that dies. Each run reports the fault, keeps every finished result intact (byte for
byte), leaves no folder that looks finished, never changes the inputs, and a re-run completes
the rest. The number of faults injected is quoted in docs/reliability.md.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import tifffile
from helpers import fast_config, write_plate

from leadertrack.batch import run_batch
from leadertrack.io import file_checksum
from leadertrack.pipeline import is_result_folder

NAMES = ("well_a", "well_b")


_config = fast_config


@pytest.fixture(scope="module")
def plate(tmp_path_factory) -> Path:
    return write_plate(tmp_path_factory.mktemp("plate"), NAMES, n_frames=5, field_um=(120.0, 120.0))


def _movies(plate: Path) -> list[Path]:
    return [plate / f"{name}.tif" for name in NAMES]


def _snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by relative path."""
    return {str(p.relative_to(folder)): file_checksum(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _partials(out: Path) -> list[str]:
    """Temporary files and folders left in ``out`` (staging folders, summary temporaries)."""
    return sorted(p.name for p in out.iterdir() if "partial" in p.name)


def _status(summary: pd.DataFrame) -> dict[str, str]:
    return dict(zip(summary["movie"], summary["status"]))


@pytest.fixture
def first_done(plate, tmp_path) -> tuple[Path, dict[str, str], dict[str, str]]:
    """OUT with the first movie finished; snapshots of that result and of the inputs."""
    inputs = _snapshot(plate)
    out = tmp_path / "out"
    assert set(run_batch(_movies(plate)[:1], out, _config())["status"]) == {"ok"}
    return out, _snapshot(out / NAMES[0]), inputs


def _assert_recovers(plate: Path, out: Path, kept: dict[str, str], inputs: dict[str, str]) -> None:
    """After the fault: a clean re-run skips the finished movie and completes the other."""
    assert not (out / NAMES[1]).exists()
    assert _snapshot(out / NAMES[0]) == kept
    again = run_batch(_movies(plate), out, _config())
    assert _status(again) == {NAMES[0]: "skipped", NAMES[1]: "ok"}
    assert is_result_folder(out / NAMES[1])
    assert _snapshot(out / NAMES[0]) == kept
    assert _partials(out) == []
    assert _snapshot(plate) == inputs


def test_full_disk_mid_write(plate, first_done, monkeypatch):
    """cells.csv of the second movie hits ENOSPC after a few bytes."""
    out, kept, inputs = first_done
    original = pd.DataFrame.to_csv

    def to_csv(self, path_or_buf=None, *args, **kwargs):
        if isinstance(path_or_buf, (str, os.PathLike)) and Path(path_or_buf).name == "cells.csv":
            Path(path_or_buf).write_text("track_id,fi")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path_or_buf))
        return original(self, path_or_buf, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv)
    summary = run_batch(_movies(plate), out, _config())
    assert _status(summary) == {NAMES[0]: "skipped", NAMES[1]: "failed"}
    error = summary.set_index("movie").loc[NAMES[1], "error"]
    assert "No space left on device" in error and "cells.csv" in error
    assert _partials(out) == []
    monkeypatch.undo()
    _assert_recovers(plate, out, kept, inputs)


def test_full_disk_while_writing_labels(plate, first_done, monkeypatch):
    """The label stack is streamed to disk; ENOSPC on its third frame."""
    out, kept, inputs = first_done
    original = tifffile.TiffWriter.write
    calls = {"n": 0}

    def write(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(tifffile.TiffWriter, "write", write)
    summary = run_batch(_movies(plate), out, _config())
    assert _status(summary) == {NAMES[0]: "skipped", NAMES[1]: "failed"}
    assert "No space left on device" in summary.set_index("movie").loc[NAMES[1], "error"]
    monkeypatch.undo()
    _assert_recovers(plate, out, kept, inputs)


def _read_only(monkeypatch, out: Path) -> None:
    """Creating, renaming or writing anything directly in ``out`` raises PermissionError.

    Root ignores chmod, so the read-only folder is simulated at every way of changing it.
    """
    import builtins

    real_mkdir, real_os_open, real_open, real_replace, real_rename = os.mkdir, os.open, builtins.open, os.replace, os.rename

    def refuse(*paths) -> None:
        for path in paths:
            if isinstance(path, (str, os.PathLike)) and Path(path).absolute().parent == out.absolute():
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    def mkdir(path, *args, **kwargs):
        refuse(path)
        return real_mkdir(path, *args, **kwargs)

    def os_open(path, flags, *args, **kwargs):
        if flags & (os.O_CREAT | os.O_WRONLY | os.O_RDWR):
            refuse(path)
        return real_os_open(path, flags, *args, **kwargs)

    def open_(file, mode="r", *args, **kwargs):
        if set(mode) & set("wax+"):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    def replace(src, dst, *args, **kwargs):
        refuse(src, dst)
        return real_replace(src, dst, *args, **kwargs)

    def rename(src, dst, *args, **kwargs):
        refuse(src, dst)
        return real_rename(src, dst, *args, **kwargs)

    for module, name, fake in ((os, "mkdir", mkdir), (os, "open", os_open), (builtins, "open", open_), (os, "replace", replace), (os, "rename", rename)):
        monkeypatch.setattr(module, name, fake)


def test_read_only_output_folder(plate, first_done, monkeypatch):
    out, kept, inputs = first_done
    _read_only(monkeypatch, out)
    with pytest.raises(PermissionError):  # summary.csv cannot be written either
        run_batch(_movies(plate), out, _config())
    monkeypatch.undo()
    assert pd.read_csv(out / "summary.csv")["movie"].tolist() == [NAMES[0]]
    _assert_recovers(plate, out, kept, inputs)


def test_read_only_output_folder_on_the_command_line(plate, first_done, monkeypatch):
    """The CLI says which file could not be written, in one line, and exits 2 (no traceback)."""
    from typer.testing import CliRunner

    from leadertrack.cli import app

    out, kept, inputs = first_done
    _read_only(monkeypatch, out)
    result = CliRunner().invoke(app, ["run", *map(str, _movies(plate)), "--out", str(out), "--no-report", "-q", "--workers", "1",
                                      "--nucleus-diameter-um", "10"])
    monkeypatch.undo()
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith(f"error: {out}") and lines[0].endswith("Permission denied")
    _assert_recovers(plate, out, kept, inputs)


_KILL_MID_WRITE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import pandas as pd
    from leadertrack.batch import run_batch
    from leadertrack.config import RunConfig

    original = pd.DataFrame.to_csv

    def to_csv(self, path_or_buf=None, *args, **kwargs):
        result = original(self, path_or_buf, *args, **kwargs)
        if str(path_or_buf).endswith("tracks.csv"):  # tracks.csv is on disk, cells.csv is not yet
            print("MID-WRITE", path_or_buf, flush=True)
            sys.stdin.readline()
        return result

    pd.DataFrame.to_csv = to_csv
    config = RunConfig()
    config.output.report = False
    config.segment.nucleus_diameter_um = 10.0
    config.link.search_range_um = 6.0
    run_batch([Path(p) for p in sys.argv[2:]], Path(sys.argv[1]), config)
    """
)


def test_process_killed_mid_write(plate, first_done):
    out, kept, inputs = first_done
    child = subprocess.Popen(
        [sys.executable, "-c", _KILL_MID_WRITE, str(out), *map(str, _movies(plate))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = child.stdout.readline().split()
        assert line[0] == "MID-WRITE"
        partial = Path(line[1]).parent
        assert partial.parent == out and partial.name.startswith(f".{NAMES[1]}.partial")
        assert (partial / "tracks.csv").is_file() and not (partial / "cells.csv").exists()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert partial.exists()  # left behind by the killed process ...
    assert not is_result_folder(partial)  # ... and it does not look finished
    _assert_recovers(plate, out, kept, inputs)  # the re-run removes it
    assert not partial.exists()


def test_dask_worker_that_dies(plate, first_done):
    """The worker running the second movie dies (os._exit); the batch reports it and goes on."""
    distributed = pytest.importorskip("dask.distributed")
    import dask

    out, kept, inputs = first_done

    class DieOn(distributed.WorkerPlugin):
        def __init__(self, name: str) -> None:
            self.name = name

        def transition(self, key, start, finish, **kwargs) -> None:
            if finish == "executing" and self.name in str(key):
                os._exit(1)

    # allowed-failures=0: the first death of a worker running the movie fails it (no retries)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            with distributed.Client(cluster) as client:
                client.register_plugin(DieOn(NAMES[1]))
                summary = run_batch(_movies(plate)[1:], out, _config(), scheduler=cluster.scheduler_address)
    assert _status(summary) == {NAMES[0]: "ok", NAMES[1]: "failed"}  # the first movie's result, of the earlier run, stays listed
    assert "worker" in summary.set_index("movie").loc[NAMES[1], "error"].lower()
    assert _partials(out) == []
    _assert_recovers(plate, out, kept, inputs)


def test_existing_result_is_never_silently_overwritten(plate, first_done):
    from leadertrack.pipeline import process_movie

    out, kept, _ = first_done
    with pytest.raises(FileExistsError, match="--overwrite"):
        process_movie(_movies(plate)[0], out, _config())
    assert _snapshot(out / NAMES[0]) == kept


def test_full_disk_while_writing_the_summary(plate, first_done, monkeypatch):
    out, kept, _ = first_done
    before = (out / "summary.csv").read_bytes()
    original = pd.DataFrame.to_csv

    def to_csv(self, path_or_buf=None, *args, **kwargs):
        if ".summary.csv.partial" in str(path_or_buf):  # the temporary that becomes summary.csv
            Path(path_or_buf).write_text("movie,sta")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path_or_buf))
        return original(self, path_or_buf, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv)
    with pytest.raises(OSError, match="No space left"):
        run_batch(_movies(plate)[:1], out, _config())
    monkeypatch.undo()
    assert (out / "summary.csv").read_bytes() == before
    assert _snapshot(out / NAMES[0]) == kept
    assert _partials(out) == []


def test_inputs_are_only_ever_opened_for_reading(plate, tmp_path, monkeypatch):
    """Any attempt to open a movie or label file for writing during a run fails the test."""
    import builtins

    from leadertrack.pipeline import process_movie

    labels = tmp_path / "labels.tif"
    tifffile.imwrite(labels, (tifffile.imread(_movies(plate)[0]) > 0).astype("uint16"), imagej=True)
    inputs = {p.resolve() for p in (*_movies(plate), labels)}
    opened: list[tuple[str, str]] = []
    real_open, real_os_open = builtins.open, os.open

    def check(path, mode: str) -> None:
        if isinstance(path, (str, os.PathLike)) and Path(path).resolve() in inputs:
            opened.append((Path(path).name, mode))
            assert not set(mode) & set("wax+"), f"{path} opened with mode {mode!r}"

    def open_(file, mode="r", *args, **kwargs):
        check(file, mode)
        return real_open(file, mode, *args, **kwargs)

    def os_open(path, flags, *args, **kwargs):
        check(path, "w" if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND) else "r")
        return real_os_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(os, "open", os_open)
    before = {p: file_checksum(p) for p in inputs}
    process_movie(_movies(plate)[0], tmp_path / "out", _config())
    process_movie(_movies(plate)[1], tmp_path / "out", _config(), labels=labels)
    monkeypatch.undo()
    assert {name for name, _ in opened} == {f"{NAMES[0]}.tif", f"{NAMES[1]}.tif", "labels.tif"}
    assert {p: file_checksum(p) for p in inputs} == before


_DIE_IN_WORKER = textwrap.dedent(
    """
    import os

    if os.environ.get("LEADERTRACK_TEST_DIE_ON"):  # set by test_faults: kill this worker on that movie
        import leadertrack.pipeline as pipeline

        _original = pipeline.process_movie

        def process_movie(path, *args, **kwargs):
            if os.environ["LEADERTRACK_TEST_DIE_ON"] in str(path):
                os._exit(1)
            return _original(path, *args, **kwargs)

        pipeline.process_movie = process_movie
    """
)


def test_process_worker_that_dies(plate, first_done, tmp_path, monkeypatch):
    """A local worker process dies (os._exit) on the second movie: reported, the rest kept."""
    out, kept, inputs = first_done
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_DIE_IN_WORKER)  # imported by each spawned worker at start-up
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("LEADERTRACK_TEST_DIE_ON", f"{NAMES[1]}.tif")
    summary = run_batch(_movies(plate), out, _config(), workers=2)
    monkeypatch.undo()
    assert _status(summary) == {NAMES[0]: "skipped", NAMES[1]: "failed"}
    assert "worker process died" in summary.set_index("movie").loc[NAMES[1], "error"]
    _assert_recovers(plate, out, kept, inputs)


def test_a_dying_worker_does_not_take_other_movies_down(plate, tmp_path, monkeypatch):
    """Three movies on two processes; the one that kills its worker fails, the others finish."""
    import shutil

    movies = tmp_path / "movies"
    movies.mkdir()
    for name in ("victim", *NAMES):
        shutil.copy(_movies(plate)[0], movies / f"{name}.tif")
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_DIE_IN_WORKER)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("LEADERTRACK_TEST_DIE_ON", "victim.tif")
    out = tmp_path / "out"
    summary = run_batch(sorted(movies.iterdir()), out, _config(), workers=2)
    monkeypatch.undo()
    assert _status(summary) == {"victim": "failed", NAMES[0]: "ok", NAMES[1]: "ok"}
    assert all(is_result_folder(out / name) for name in NAMES) and not (out / "victim").exists()
    assert _partials(out) == []
