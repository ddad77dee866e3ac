"""The command line end to end, and what it does with bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import numpy as np
import pandas as pd
import pytest
import tifffile
from typer.testing import CliRunner

from leadertrack.cli import app
from leadertrack.synthetic import save_simulation, simulate_invasion

runner = CliRunner()


@pytest.fixture(scope="module")
def movie_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("movies") / "wound.ome.tif"
    save_simulation(
        simulate_invasion(geometry="planar", n_frames=12, field_um=(120.0, 160.0), difficulty="easy", seed=5), path
    )
    return path


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_run_writes_the_result_contract(movie_path, tmp_path):
    before = movie_path.read_bytes()
    out = tmp_path / "out"
    res = invoke("run", movie_path, "--out", out, "--export", "ctc", "--quiet", "--no-report")
    assert res.exit_code == 0, res.output
    folder = out / "wound"
    assert {"tracks.csv", "cells.csv", "fronts.csv", "labels.tif", "run.json", "ctc"} <= {p.name for p in folder.iterdir()}
    summary = pd.read_csv(out / "summary.csv")
    assert summary.loc[0, "status"] == "ok"
    cells = pd.read_csv(folder / "cells.csv")
    assert summary.loc[0, "tracks"] == len(cells)
    assert summary.loc[0, "leaders"] == cells["is_leader"].sum()
    run_json = json.loads((folder / "run.json").read_text())
    assert run_json["units"]["pixel_size_source"] == "OME metadata"
    assert run_json["config"]["output"]["export"] == ["ctc"]
    assert (folder / "ctc" / "res_track.txt").exists()
    # labels.tif is one (T, Y, X) stack to any TIFF reader, its values those of the label column
    labels = tifffile.imread(folder / "labels.tif")
    assert labels.shape == tifffile.imread(movie_path).shape
    tracks = pd.read_csv(folder / "tracks.csv")
    last = tracks[tracks["frame"] == labels.shape[0] - 1]
    assert (labels[-1][last["y"].round().astype(int), last["x"].round().astype(int)] == last["label"]).mean() > 0.9
    assert run_json["input"]["labels"] is None  # segmented, no masks given
    assert "1 ok, 0 skipped, 0 failed" in res.output
    assert movie_path.read_bytes() == before


def test_trackmate_export_carries_the_movie_so_classify_knows_the_field(movie_path, tmp_path):
    """--export trackmate names the movie and its size in ImageData (TrackMate opens a blank image of
    that size without it); classifying that XML again then takes the size for the field."""
    import xml.etree.ElementTree as ET

    height, width = tifffile.imread(movie_path).shape[1:]
    res = invoke("run", movie_path, "--out", tmp_path / "out", "--export", "trackmate", "--quiet", "--no-report")
    assert res.exit_code == 0, res.output
    xml = tmp_path / "out" / "wound" / "tracks.xml"
    image = ET.parse(xml).getroot().find("Settings/ImageData")
    assert (image.get("filename"), int(image.get("height")), int(image.get("width"))) == (movie_path.name, height, width)
    again = invoke("classify", xml, "--out", tmp_path / "again")
    assert again.exit_code == 0, again.output
    run_json = json.loads((tmp_path / "again" / "tracks" / "run.json").read_text())
    assert run_json["input"]["field_px"] == [height, width]


def test_existing_results_are_skipped_unless_overwrite(movie_path, tmp_path):
    out = tmp_path / "out"
    assert invoke("run", movie_path, "--out", out, "-q", "--no-report").exit_code == 0
    stamp = (out / "wound" / "run.json").stat().st_mtime_ns
    again = invoke("run", movie_path, "--out", out, "-q", "--no-report")
    assert again.exit_code == 0
    assert "skipped" in again.output
    assert (out / "wound" / "run.json").stat().st_mtime_ns == stamp
    redo = invoke("run", movie_path, "--out", out, "-q", "--no-report", "--overwrite")
    assert redo.exit_code == 0
    assert (out / "wound" / "run.json").stat().st_mtime_ns != stamp


def test_overwrite_never_deletes_corrections_or_a_folder_of_the_users_own(movie_path, tmp_path):
    """--overwrite redoes a result, but not one holding corrections from a review, nor a folder that is not a
    leadertrack result: both used to be deleted without a word. The other movies of the batch still run."""
    out = tmp_path / "out"
    assert invoke("run", movie_path, "--out", out, "-q", "--no-report").exit_code == 0
    corrections = out / "wound" / "corrections.csv"
    corrections.write_text("track_id,is_leader\n3,True\n", encoding="utf-8")
    before = corrections.read_bytes()
    redo = invoke("run", movie_path, "--out", out, "-q", "--no-report", "--overwrite")
    assert redo.exit_code == 1
    assert "holds your corrections of 1 track(s)" in redo.output and "leadertrack train" in redo.output
    assert corrections.read_bytes() == before
    # a folder of the user's own with the movie's name is kept, and another movie of the batch still runs
    mine = tmp_path / "mine"
    (mine / "wound").mkdir(parents=True)
    (mine / "wound" / "notes.txt").write_text("my notes", encoding="utf-8")
    folder = tmp_path / "movies"
    folder.mkdir()
    (folder / "wound.ome.tif").write_bytes(movie_path.read_bytes())
    (folder / "other.ome.tif").write_bytes(movie_path.read_bytes())
    res = invoke("run", folder, "--out", mine, "-q", "--no-report", "--overwrite", "--workers", "1")
    assert res.exit_code == 1
    assert "is not a leadertrack result" in res.output
    assert (mine / "wound" / "notes.txt").read_text(encoding="utf-8") == "my notes"
    assert (mine / "other" / "cells.csv").exists()


def test_unit_flags_override_metadata(movie_path, tmp_path):
    res = invoke("run", movie_path, "--out", tmp_path, "-q", "--no-report", "--pixel-size-um", "0.5", "--frame-interval-min", "7")
    assert res.exit_code == 0, res.output
    units = json.loads((tmp_path / "wound" / "run.json").read_text())["units"]
    assert units["pixel_size_um"] == 0.5 and units["pixel_size_source"] == "user"
    assert units["frame_interval_min"] == 7 and units["frame_interval_source"] == "user"


def write_bad_inputs(folder):
    """Bad movies of every kind the spine issue lists; returns {file name: expected words}."""
    folder.mkdir()
    (folder / "notes.tif").write_text("this is not a TIFF")
    good = np.random.default_rng(0).integers(0, 1000, (5, 40, 40), dtype=np.uint16)
    tifffile.imwrite(folder / "full.tif", good)
    data = (folder / "full.tif").read_bytes()
    (folder / "truncated.tif").write_bytes(data[: len(data) // 2])
    (folder / "full.tif").unlink()
    tifffile.imwrite(folder / "single.tif", good[0])
    tifffile.imwrite(folder / "five_d.tif", np.zeros((2, 2, 2, 8, 8), np.uint16), metadata={"axes": "TZCYX"}, imagej=True)
    tifffile.imwrite(folder / "blank.tif", np.zeros((4, 32, 32), np.uint16))
    return {
        "notes": "not a TIFF",
        "truncated": "truncated",
        "single": "2-D",
        "five_d": "axes",
        "blank": "empty",
    }


def test_each_bad_movie_gets_a_clear_error_and_no_result(tmp_path):
    expected = write_bad_inputs(tmp_path / "bad")
    out = tmp_path / "out"
    res = invoke("run", tmp_path / "bad", "--out", out, "-q", "--no-report")
    assert res.exit_code == 1
    summary = pd.read_csv(out / "summary.csv").set_index("movie")
    for name, words in expected.items():
        assert summary.loc[name, "status"] == "failed", name
        assert words in summary.loc[name, "error"], (name, summary.loc[name, "error"])
        assert name in res.output
        assert not (out / name).exists()
    assert [p.name for p in out.iterdir()] == ["summary.csv"]


def test_warnings_are_one_readable_line_each_and_counted_in_the_summary(movie_path, tmp_path):
    """A movie without units warns twice (pixel size, frame interval): as ``warning: ...`` lines,
    not Python's ``FILE:LINE: UserWarning`` with a line of source, and counted in the summary."""
    bare = tmp_path / "bare.tif"
    tifffile.imwrite(bare, tifffile.imread(movie_path))  # the same pixels, no metadata
    res = invoke("run", bare, "--out", tmp_path / "out", "--no-report")
    assert res.exit_code == 0, res.output
    shown = [line for line in res.output.splitlines() if "warning: bare: no " in line]
    assert len(shown) == 2
    assert "UserWarning" not in res.output and "analyze_movie(" not in res.output
    assert "2 warnings (run.json)" in res.output
    assert len(json.loads((tmp_path / "out" / "bare" / "run.json").read_text())["warnings"]) == 2


def test_progress_into_a_log_file_is_plain_lines(movie_path, tmp_path):
    """Output that is not a terminal (here the test runner's; a cluster job's log) gets a line per
    quarter of each stage, not progress bars full of carriage returns and cursor movements."""
    res = invoke("run", movie_path, "--out", tmp_path / "out", "--no-report", "--workers", "1")
    assert res.exit_code == 0, res.output
    assert "\r" not in res.output and "\x1b[" not in res.output
    lines = res.output.splitlines()
    assert "  segment: 12/12 frames" in lines and "  link: 12/12 frames" in lines
    assert sum(line.startswith("  segment: ") for line in lines) == 5  # first frame, then each quarter
    assert "movies: 1/1" in lines


def test_a_run_repeats_with_the_settings_of_an_earlier_run_json(movie_path, tmp_path):
    first = invoke("run", movie_path, "--out", tmp_path / "a", "--max-speed-um-per-min", "0.8", "-q", "--no-report")
    assert first.exit_code == 0, first.output
    again = invoke("run", movie_path, "--out", tmp_path / "b", "--config", tmp_path / "a" / "wound" / "run.json", "-q")
    assert again.exit_code == 0, again.output
    runs = [json.loads((tmp_path / out / "wound" / "run.json").read_text()) for out in ("a", "b")]
    assert runs[1]["config"] == runs[0]["config"]
    assert runs[1]["config"]["link"]["max_speed_um_per_min"] == 0.8
    assert runs[1]["search_range_um"] == runs[0]["search_range_um"]
    cells = [pd.read_csv(tmp_path / out / "wound" / "cells.csv") for out in ("a", "b")]
    pd.testing.assert_frame_equal(cells[0], cells[1])


def test_channel_out_of_range(tmp_path):
    path = tmp_path / "two_channels.tif"
    tifffile.imwrite(path, np.zeros((3, 2, 16, 16), np.uint16), imagej=True, metadata={"axes": "TCYX"})
    res = invoke("run", path, "--out", tmp_path / "out", "--channel", "5", "-q")
    assert res.exit_code == 1
    assert "channel" in res.output and "two_channels" in res.output


def test_a_z_stack_is_analysed_as_its_maximum_projection(movie_path, tmp_path):
    # the sample movie in focus in plane 1, dimmer out-of-focus copies in planes 0 and 2: its
    # maximum over Z is the movie itself, so the result must be the same as the 2-D movie's
    movie = tifffile.imread(movie_path)
    stack = np.stack([movie // 3, movie, movie // 2], axis=1)  # (T, Z, Y, X)
    z_path = tmp_path / "zstack.ome.tif"
    flat = invoke("run", movie_path, "--out", tmp_path / "flat", "-q", "--no-report")
    assert flat.exit_code == 0, flat.output
    units = json.loads((tmp_path / "flat" / "wound" / "run.json").read_text())["units"]
    tifffile.imwrite(z_path, stack, ome=True, metadata={
        "axes": "TZYX", "PhysicalSizeX": units["pixel_size_um"], "PhysicalSizeY": units["pixel_size_um"],
        "TimeIncrement": units["frame_interval_min"], "TimeIncrementUnit": "min"})
    refused = invoke("run", z_path, "--out", tmp_path / "refused", "-q")
    assert refused.exit_code == 1 and "--z-projection max" in refused.output
    res = invoke("run", z_path, "--out", tmp_path / "z", "-q", "--z-projection", "max")
    assert res.exit_code == 0, res.output
    projected = pd.read_csv(tmp_path / "z" / "zstack" / "tracks.csv")
    expected = pd.read_csv(tmp_path / "flat" / "wound" / "tracks.csv")
    pd.testing.assert_frame_equal(projected, expected)
    run = json.loads((tmp_path / "z" / "zstack" / "run.json").read_text())
    assert run["input"]["z_projection"] == "max" and run["config"]["segment"]["z_projection"] == "max"
    report = (tmp_path / "z" / "zstack" / "report.html").read_text(encoding="utf-8")  # it re-reads the projected movie
    assert "maximum intensity projection of its Z stack" in report


def test_bad_flag_values_are_one_line_errors(movie_path, tmp_path):
    res = invoke("run", movie_path, "--out", tmp_path, "--geometry", "round")
    assert res.exit_code == 2
    assert "--geometry must be one of auto, planar, radial" in res.output
    res = invoke("run", movie_path, "--out", tmp_path, "--export", "xls")
    assert res.exit_code == 2 and "unknown format 'xls'" in res.output


def test_config_prints_valid_toml_with_defaults():
    res = invoke("config")
    assert res.exit_code == 0
    data = tomllib.loads(res.output)
    assert data["link"]["memory"] == 3
    assert data["front"]["geometry"] == "auto"


def test_console_script_help_is_readable():
    res = subprocess.run([sys.executable, "-m", "leadertrack", "run", "--help"], capture_output=True, text=True, check=True)
    assert "--pixel-size-um" in res.stdout
    assert "nucleus" in res.stdout


def test_report_train_and_model_round_trip(movie_path, tmp_path):
    out = tmp_path / "out"
    assert invoke("run", movie_path, "--out", out, "-q", "--no-report").exit_code == 0
    folder = out / "wound"
    cells = pd.read_csv(folder / "cells.csv")
    # the user flips the most doubtful call; train learns from calls + that correction
    doubtful = int(cells.iloc[(cells["leader_score"] - 0.5).abs().argsort()].iloc[0]["track_id"])
    flipped = not bool(cells.set_index("track_id").loc[doubtful, "is_leader"])
    pd.DataFrame({"track_id": [doubtful], "is_leader": [flipped]}).to_csv(folder / "corrections.csv", index=False)

    res = invoke("report", out)
    assert res.exit_code == 0, res.output
    assert (folder / "report.html").stat().st_size > 1000 and (out / "index.html").exists()

    model = tmp_path / "model.json"
    res = invoke("train", folder, "--out", model)
    assert res.exit_code == 0, res.output
    assert "1 corrected by hand" in res.output and "cross-validated leader F1" in res.output
    # one flip of the most doubtful call shows no better rule: the model stays the rule, and says so
    assert "The model is the rule" in res.output
    saved = json.loads(model.read_text())
    assert saved["features"] and saved["penalty"] is None and not any(saved["coef"])
    assert invoke("train", folder, "--out", model).exit_code == 2  # never silently replaced

    res = invoke("run", movie_path, "--out", tmp_path / "again", "-q", "--no-report", "--model", model)
    assert res.exit_code == 0, res.output
    run_json = json.loads((tmp_path / "again" / "wound" / "run.json").read_text())
    assert run_json["config"]["classify"]["model_path"] == str(model)


def test_train_refuses_a_folder_for_the_model_and_warns_without_corrections(movie_path, tmp_path):
    """--out naming a folder (even with --overwrite) is refused before training, and nothing is left
    behind (it used to end in a traceback and a stray temporary file); training without any correction
    says that the model can only repeat the rule."""
    out = tmp_path / "out"
    assert invoke("run", movie_path, "--out", out, "-q", "--no-report").exit_code == 0
    before = sorted(p.name for p in out.iterdir())
    res = invoke("train", out / "wound", "--out", out, "--overwrite")
    assert res.exit_code == 2
    assert "is a folder; a model is saved as a file" in res.output
    assert sorted(p.name for p in out.iterdir()) == before and (out / "wound" / "cells.csv").exists()
    res = invoke("train", out / "wound", "--out", tmp_path / "model.json")
    assert res.exit_code == 0, res.output
    assert "none of these results holds corrections" in res.output
    from leadertrack.errors import InputError
    from leadertrack.model import load_model, save_model

    with pytest.raises(InputError, match="is a folder"):
        save_model(load_model(tmp_path / "model.json"), out)
    assert sorted(p.name for p in out.iterdir()) == before


def test_messages_name_the_option_and_the_real_cause(movie_path, tmp_path):
    """Messages a user testing odd input met: a negative pixel size refused with '>= 0' while 0 was refused too;
    a missing report folder called 'not a result'; --out an existing file ('File exists'); an unreadable frame
    file ending in a hint about the nucleus diameter; a missing column named in Python, not as the option."""
    for value in ("-1", "0"):
        res = invoke("run", movie_path, "--out", tmp_path / "out", "--pixel-size-um", value)
        assert "--pixel-size-um" in res.output and "greater than 0" in res.output and "or equal" not in res.output
    assert "no such folder" in invoke("report", tmp_path / "nowhere").output
    a_file = tmp_path / "a_file"
    a_file.write_text("mine", encoding="utf-8")
    table = tmp_path / "tracks.csv"
    pd.DataFrame({"cell_no": [1, 1, 1], "frame": [0, 1, 2], "y": [5.0, 6, 7], "x": [5.0, 5, 5]}).to_csv(table, index=False)
    for command in (("run", movie_path), ("classify", table)):
        res = invoke(*command, "--out", a_file)
        assert res.exit_code != 0 and "is a file; the output (--out) is a folder" in res.output
    assert a_file.read_text(encoding="utf-8") == "mine"
    res = invoke("classify", table, "--out", tmp_path / "tables")
    assert "--column particle=track_id" in res.output
    frames = tmp_path / "frames"
    frames.mkdir()
    for t, frame in enumerate(tifffile.imread(movie_path)[:4]):
        tifffile.imwrite(frames / f"t{t:03d}.tif", frame)
    data = (frames / "t002.tif").read_bytes()
    (frames / "t002.tif").write_bytes(data[: len(data) // 2])  # cut short
    res = invoke("run", frames, "--frame-sequence", "--out", tmp_path / "seq", "-q", "--no-report")
    assert "t002.tif: cannot read frame data" in res.output and "--nucleus-diameter-um" not in res.output


def test_classify_again_skips_a_finished_result_unless_overwrite(tmp_path):
    """A second `classify` into the same folder used to fail (exit 1) and mark the intact result failed."""
    sim = simulate_invasion(geometry="planar", n_frames=8, field_um=(120.0, 160.0), render=False, seed=3)
    table = tmp_path / "mine.csv"
    sim.tracks[["track_id", "frame", "y", "x"]].to_csv(table, index=False)
    assert invoke("classify", table, "--out", tmp_path / "out").exit_code == 0
    stamp = (tmp_path / "out" / "mine" / "run.json").stat().st_mtime_ns
    again = invoke("classify", table, "--out", tmp_path / "out")
    assert again.exit_code == 0 and "0 ok, 1 skipped, 0 failed" in again.output
    assert pd.read_csv(tmp_path / "out" / "summary.csv")["status"].tolist() == ["skipped"]
    assert (tmp_path / "out" / "mine" / "run.json").stat().st_mtime_ns == stamp
    redo = invoke("classify", table, "--out", tmp_path / "out", "--overwrite")
    assert redo.exit_code == 0 and "1 ok" in redo.output
    assert (tmp_path / "out" / "mine" / "run.json").stat().st_mtime_ns != stamp


def _simulated_table(path, *, seed: int = 3):
    """A small simulated planar assay written as a tracks table (track_id, frame, y, x) at ``path``."""
    sim = simulate_invasion(geometry="planar", n_frames=8, field_um=(120.0, 160.0), render=False, seed=seed)
    sim.tracks[["track_id", "frame", "y", "x"]].to_csv(path, index=False)
    return path


def test_classify_result_appears_only_with_its_report(tmp_path, monkeypatch):
    """report.html was drawn after the result folder had been renamed into place: a report that could not be
    written (a full disk) left a result folder without it, looking finished. Now it is drawn in the staging folder."""
    import leadertrack.report

    def full_disk(result, path):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(leadertrack.report, "write_report", full_disk)
    table = _simulated_table(tmp_path / "mine.csv")
    res = invoke("classify", table, "--out", tmp_path / "out")
    assert res.exit_code == 1 and "No space left on device" in res.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["summary.csv"]  # no result, no staging left
    assert pd.read_csv(tmp_path / "out" / "summary.csv")["status"].tolist() == ["failed"]


def test_classify_fails_an_input_named_as_an_earlier_one(tmp_path):
    """Two inputs of one command named alike (a/tracks.xml, a/tracks.geff) would write one result folder: the second
    was reported skipped ('a result of this name exists') with exit 0, never analysed. As with run, it fails."""
    from leadertrack.formats import write_geff, write_trackmate_xml

    sim = simulate_invasion(geometry="planar", n_frames=8, field_um=(120.0, 160.0), render=False, seed=3)
    (tmp_path / "a").mkdir()
    units = {"pixel_size_um": sim.pixel_size_um, "frame_interval_min": sim.frame_interval_min}
    xml = write_trackmate_xml(sim.tracks[["track_id", "frame", "y", "x"]], None, tmp_path / "a" / "tracks.xml", **units)
    geff = write_geff(sim.tracks[["track_id", "frame", "y", "x"]], None, tmp_path / "a" / "tracks.geff", **units)
    for _ in range(2):  # the second time the first is skipped (done), and the second still fails
        res = invoke("classify", xml, geff, "--out", tmp_path / "out")
        assert res.exit_code == 1, res.output
        summary = pd.read_csv(tmp_path / "out" / "summary.csv")
        assert summary["status"].tolist()[1] == "failed"
        assert summary["error"].iloc[1] == (
            f"{geff}: another input of this batch, {xml}, has the same name 'tracks'; rename one"
        )
    assert summary["status"].tolist()[0] == "skipped"


def test_classify_summary_rows_hold_what_runs_do(tmp_path, monkeypatch):
    """classify's summary.csv rows lacked input_sha256 and named the result folder by a relative path where run's
    are absolute; a skipped row (its result exists) had no counts at all, where run reads them from the result."""
    import hashlib

    table = _simulated_table(tmp_path / "mine.csv")
    monkeypatch.chdir(tmp_path)
    assert invoke("classify", "mine.csv", "--out", "out").exit_code == 0
    done = pd.read_csv(tmp_path / "out" / "summary.csv").iloc[0]
    checksum = hashlib.sha256(table.read_bytes()).hexdigest()
    assert done["input_sha256"] == checksum
    assert done["result"] == str(tmp_path / "out" / "mine")
    assert json.loads((tmp_path / "out" / "mine" / "run.json").read_text())["input"]["checksum_sha256"] == checksum
    assert invoke("classify", "mine.csv", "--out", "out").exit_code == 0
    skipped = pd.read_csv(tmp_path / "out" / "summary.csv").iloc[0]
    assert skipped["status"] == "skipped" and skipped["input_sha256"] == checksum
    counts = ["frames", "detections", "tracks", "leaders", "leader_fraction", "geometry", "pixel_size_um", "warnings", "result"]
    assert skipped[counts].equals(done[counts]) and done["tracks"] > 0
    (tmp_path / "out" / "mine" / "run.json").unlink()  # not a result any more: a folder of the user's, never replaced
    for again in ([], ["--overwrite"]):
        kept = invoke("classify", "mine.csv", "--out", "out", *again)
        assert kept.exit_code == 1 and "is not a leadertrack result" in kept.output, kept.output


def test_classify_names_the_unit_sources_and_the_input_as_documented(tmp_path, monkeypatch):
    """run.json of classified tracks had free text as pixel_size_source / frame_interval_source ('pixel size from
    the y_um/y columns; ...') where outputs.md lists the values; input had no path nor the format it was read as."""
    import re
    from pathlib import Path

    sim = simulate_invasion(geometry="planar", n_frames=8, field_um=(120.0, 160.0), render=False, seed=3)
    table = tmp_path / "mine.csv"
    sim.tracks[["track_id", "frame", "y", "x", "y_um", "x_um", "time_min"]].to_csv(table, index=False)
    monkeypatch.chdir(tmp_path)  # given as a relative path, recorded as an absolute one
    page = (Path(__file__).parents[1] / "docs" / "outputs.md").read_text(encoding="utf-8")
    row = next(line for line in page.splitlines() if line.startswith("| `units` |"))
    documented = set(re.findall(r"`([^`]+)`", row.split("where each came from", 1)[1].split(")", 1)[0]))
    for flags, pixel_source in (([], "tracks file"), (["--pixel-size-um", "0.5"], "user")):
        out = tmp_path / f"out{len(flags)}"
        assert invoke("classify", table.name, "--out", out, *flags).exit_code == 0
        run = json.loads((out / "mine" / "run.json").read_text())
        units = run["units"]
        assert (units["pixel_size_source"], units["frame_interval_source"]) == (pixel_source, "tracks file")
        assert {units["pixel_size_source"], units["frame_interval_source"]} <= documented
        assert "pixel size from the y_um/y columns" in run["input"]["units_source"]  # the detail, in words
        assert {k: run["input"][k] for k in ("kind", "path", "name", "format")} == {
            "kind": "tracks", "path": str(table), "name": "mine", "format": "table"
        }
        assert set(run["input"]) <= set(re.findall(r"`([a-z_0-9]+)`", page))


def test_classify_exports_as_run_does_and_refuses_ctc_without_images(tmp_path):
    """classify wrote neither --export formats (no such option; [output] export of --config ignored) nor
    could it leave out the report."""
    table = _simulated_table(tmp_path / "mine.csv")
    res = invoke("classify", table, "--out", tmp_path / "out", "--export", "geff,trackmate,parquet", "--no-report")
    assert res.exit_code == 0, res.output
    folder = tmp_path / "out" / "mine"
    assert {"tracks.geff", "tracks.xml", "tracks.parquet", "cells.parquet"} <= {p.name for p in folder.iterdir()}
    assert not (folder / "report.html").exists()
    ctc = invoke("classify", table, "--out", tmp_path / "out2", "--export", "ctc")
    assert ctc.exit_code != 0 and "CTC files are label images, and tracks have none" in ctc.output
    assert not (tmp_path / "out2").exists()
    config = tmp_path / "config.toml"
    config.write_text('[output]\nexport = ["ctc"]\n', encoding="utf-8")
    from_config = invoke("classify", table, "--out", tmp_path / "out3", "--config", config)
    assert from_config.exit_code != 0 and "tracks have none" in from_config.output


def test_classify_tracks_without_images(tmp_path):
    sim = simulate_invasion(geometry="planar", n_frames=20, field_um=(150.0, 200.0), n_leaders=2, render=False, seed=2)
    table = tmp_path / "my_tracks.csv"
    sim.tracks[["track_id", "frame", "y", "x"]].rename(columns={"track_id": "particle"}).to_csv(table, index=False)
    res = invoke("classify", table, "--out", tmp_path / "out", "--column", "particle=track_id",
                 "--pixel-size-um", str(sim.pixel_size_um), "--frame-interval-min", str(sim.frame_interval_min))
    assert res.exit_code == 0, res.output
    cells = pd.read_csv(tmp_path / "out" / "my_tracks" / "cells.csv")
    assert (tmp_path / "out" / "my_tracks" / "report.html").exists()
    assert set(sim.cells["track_id"]) == set(cells["track_id"])
    truth = set(sim.cells.loc[sim.cells["is_leader"], "track_id"])
    found = set(cells.loc[cells["is_leader"], "track_id"])
    assert len(truth & found) >= 1 and len(found - truth) <= 1
    no_frames = tmp_path / "no_frames.csv"
    sim.tracks[["track_id", "y", "x"]].to_csv(no_frames, index=False)
    bad = invoke("classify", no_frames, "--out", tmp_path / "out2")
    assert bad.exit_code == 1 and "no_frames" in bad.output and "frame" in bad.output


def test_classify_takes_the_image_size_so_its_border_is_no_front(tmp_path):
    """A monolayer covering the whole image, as a CSV table: with --image-size the image's border
    is not a front (no front distance, nobody leads); a size the cells do not fit in is refused."""
    rng = np.random.default_rng(4)
    ys, xs = np.meshgrid(np.arange(5.0, 200.0, 10.0), np.arange(5.0, 300.0, 10.0), indexing="ij")
    start = np.column_stack([ys.ravel(), xs.ravel()])
    walk = np.cumsum(rng.normal(0, 0.7, (10, *start.shape)), axis=0)
    rows = [(k + 1, f, *np.clip(start[k] + walk[f, k], 0, [199, 299])) for f in range(10) for k in range(len(start))]
    table = tmp_path / "sheet.csv"
    pd.DataFrame(rows, columns=["track_id", "frame", "y", "x"]).to_csv(table, index=False)
    res = invoke("classify", table, "--out", tmp_path / "out", "--image-size", "200,300", "--pixel-size-um", "1")
    assert res.exit_code == 0, res.output
    run = json.loads((tmp_path / "out" / "sheet" / "run.json").read_text())
    assert run["input"]["field_px"] == [200.0, 300.0]
    assert pd.read_csv(tmp_path / "out" / "sheet" / "fronts.csv")["front_position_um"].isna().all()
    assert not pd.read_csv(tmp_path / "out" / "sheet" / "cells.csv")["is_leader"].any()
    swapped = invoke("classify", table, "--out", tmp_path / "out2", "--image-size", "300,200")
    assert swapped.exit_code == 1 and "outside an image of 300 x 200 pixels" in swapped.output
    garbled = invoke("classify", table, "--out", tmp_path / "out3", "--image-size", "big")
    assert garbled.exit_code == 2 and "HEIGHT,WIDTH" in garbled.output


def test_train_refuses_corrections_of_tracks_that_are_gone_and_counts_a_folder_given_twice_once(movie_path, tmp_path):
    """Corrections naming tracks not in the result (it was made again) ended in a KeyError traceback; the same
    result given twice was two held-out movies, each tested on a copy of its own training data."""
    out = tmp_path / "out"
    assert invoke("run", movie_path, "--out", out, "-q", "--no-report").exit_code == 0
    folder = out / "wound"
    pd.DataFrame({"track_id": [99999], "is_leader": [True]}).to_csv(folder / "corrections.csv", index=False)
    res = invoke("train", folder, "--out", tmp_path / "m.json")
    assert res.exit_code == 2 and "names tracks that are not in its cells.csv ([99999])" in res.output
    assert not (tmp_path / "m.json").exists()
    first = int(pd.read_csv(folder / "cells.csv")["track_id"].iloc[0])
    pd.DataFrame({"track_id": [first, first], "is_leader": [True, False]}).to_csv(folder / "corrections.csv", index=False)
    res = invoke("train", folder, folder, out / ".." / "out" / "wound", "--out", tmp_path / "m.json")
    assert res.exit_code == 0, res.output
    assert "from 1 result(s) of 1 movie(s), 1 corrected by hand" in res.output


def test_a_model_is_checked_once_before_any_movie_and_recorded_by_its_content(movie_path, tmp_path, monkeypatch):
    from leadertrack.model import DEFAULT_FEATURES, save_model, train_model
    from leadertrack.pipeline import read_result

    out = tmp_path / "out"
    assert invoke("run", movie_path, "--out", out, "-q", "--no-report").exit_code == 0
    result = read_result(out / "wound")
    labels = result.cells.set_index("track_id")["is_leader"].astype(bool)
    # a bad model file: refused at once, before any movie is analysed
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    res = invoke("run", movie_path, "--out", tmp_path / "o1", "-q", "--no-report", "--model", tmp_path / "bad.json")
    assert res.exit_code == 2 and "--model / [classify] model_path" in res.output and not (tmp_path / "o1").exists()
    # a relative path is recorded as an absolute one (workers elsewhere find it)
    save_model(train_model(result.cells, labels.reindex(result.cells["track_id"]).reset_index(drop=True)), tmp_path / "m.json")
    monkeypatch.chdir(tmp_path)
    assert invoke("run", movie_path, "--out", tmp_path / "o2", "-q", "--no-report", "--model", "m.json").exit_code == 0
    run_json = json.loads((tmp_path / "o2" / "wound" / "run.json").read_text())
    assert run_json["config"]["classify"]["model_path"] == str(tmp_path / "m.json")
    assert len(run_json["model_sha256"]) == 64
    # the same file name with another model in it: the result is not taken as already done
    other = train_model(
        result.cells, labels.reindex(result.cells["track_id"]).reset_index(drop=True), features=DEFAULT_FEATURES[:-1]
    )
    save_model(other, tmp_path / "m.json")
    again = invoke("run", movie_path, "--out", tmp_path / "o2", "-q", "--no-report", "--model", "m.json")
    assert "made with another configuration" in again.output


def test_a_model_in_micrometres_is_refused_for_a_movie_without_units(tmp_path):
    from leadertrack.model import DEFAULT_FEATURES, save_model, train_model

    sim = simulate_invasion(geometry="planar", n_frames=12, field_um=(120.0, 160.0), difficulty="easy", seed=5)
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, sim.image)
    cells = pd.DataFrame({"track_id": range(8), "mean_speed_um_per_min": np.linspace(0, 1, 8),
                          **{name: np.linspace(0, 1, 8) for name in DEFAULT_FEATURES}})
    model = train_model(cells, pd.Series([False] * 4 + [True] * 4), features=(*DEFAULT_FEATURES, "mean_speed_um_per_min"), cv=2)
    save_model(model, tmp_path / "speed.json")
    res = invoke("run", plain, "--out", tmp_path / "o", "-q", "--no-report", "--model", tmp_path / "speed.json")
    assert res.exit_code == 1
    summary = pd.read_csv(tmp_path / "o" / "summary.csv")
    assert summary.loc[0, "status"] == "failed"
    assert "uses mean_speed_um_per_min (µm, minutes), and this movie has no pixel size" in summary.loc[0, "error"]


def test_a_movie_added_to_an_output_folder_joins_the_summary_of_those_already_there(movie_path, tmp_path):
    """summary.csv and index.html listed only the last command's movies: adding one movie to a batch folder
    dropped the others from both."""
    import shutil

    out = tmp_path / "out"
    assert invoke("run", movie_path, "--out", out, "-q").exit_code == 0
    second = tmp_path / "second.ome.tif"
    shutil.copy(movie_path, second)
    assert invoke("run", second, "--out", out, "-q").exit_code == 0
    summary = pd.read_csv(out / "summary.csv")
    assert summary["movie"].tolist() == ["wound", "second"] and (summary["status"] == "ok").all()
    assert summary.loc[0, "tracks"] == summary.loc[1, "tracks"] > 0
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "wound/report.html" in index and "second/report.html" in index
    shutil.rmtree(out / "wound")  # a result removed by hand leaves the list
    assert invoke("run", second, "--out", out, "-q").exit_code == 0
    assert pd.read_csv(out / "summary.csv")["movie"].tolist() == ["second"]
    assert "<p>1 movie: 0 ok, 1 skipped, 0 failed." in (out / "index.html").read_text(encoding="utf-8")


def test_classify_reports_an_unexpected_error_in_one_table_and_finishes_the_others(tmp_path, monkeypatch):
    """Any other error than a bad input or a disk error stopped the whole command, with no summary.csv."""
    import leadertrack.pipeline

    first, second = _simulated_table(tmp_path / "first.csv"), _simulated_table(tmp_path / "second.csv", seed=4)
    analyze = leadertrack.pipeline.analyze_tracks

    def fails_on_first(trackset, *args, **kwargs):
        if trackset.name == "first":
            raise ZeroDivisionError("division by zero")
        return analyze(trackset, *args, **kwargs)

    monkeypatch.setattr(leadertrack.pipeline, "analyze_tracks", fails_on_first)
    res = invoke("classify", first, second, "--out", tmp_path / "out", "--no-report")
    assert res.exit_code == 1
    summary = pd.read_csv(tmp_path / "out" / "summary.csv").set_index("movie")
    assert summary.loc["second", "status"] == "ok" and summary.loc["first", "status"] == "failed"
    assert "unexpected ZeroDivisionError: division by zero" in summary.loc["first", "error"]
