"""The whole pipeline on simulated movies with known cells, tracks and leaders."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import tifffile
from helpers import segmenting_threads

from leadertrack.batch import summary_row
from leadertrack.config import RunConfig
from leadertrack.errors import InputError
from leadertrack.evaluate import frame_leader_agreement, leader_agreement, merged_and_missed_nuclei, truth_track_ids
from leadertrack.pipeline import (
    MovieResult,
    analyze_movie,
    apply_corrections,
    process_movie,
    read_result,
    write_result,
)
from leadertrack.report import methods_text
from leadertrack.synthetic import simulate_invasion
from leadertrack.track import EDGE_MARGIN_DIAMETERS


@pytest.fixture(scope="module")
def sim():
    return simulate_invasion(
        geometry="planar", n_frames=24, field_um=(180.0, 240.0), pixel_size_um=1.0, difficulty="easy", n_leaders=3, seed=3
    )


@pytest.fixture(scope="module")
def result(sim):
    config = RunConfig()
    config.units.pixel_size_um = sim.pixel_size_um
    config.units.frame_interval_min = sim.frame_interval_min
    return analyze_movie(sim.image, config)


def test_every_stage_leaves_its_columns(result):
    for column in ("track_id", "frame", "time_min", "y", "x", "y_um", "x_um", "label", "area_um2",
                   "speed_um_per_min", "front_distance_um", "is_leader"):
        assert column in result.tracks, column
    for column in ("track_id", "first_frame", "last_frame", "n_frames", "mean_speed_um_per_min", "persistence",
                   "directionality", "front_distance_um", "leader_fraction", "leader_score", "is_leader",
                   "follows_track_id", "reason"):
        assert column in result.cells, column
    assert result.cells["leader_score"].between(0, 1).all()
    assert result.labels.shape == (24, 180, 240)


def test_labels_match_the_label_column(result):
    t = result.tracks["frame"].to_numpy()
    y = np.round(result.tracks["y"].to_numpy()).astype(int)
    x = np.round(result.tracks["x"].to_numpy()).astype(int)
    under = np.asarray(result.labels)[t, y, x]
    # a centroid lies inside its (convex-ish) nucleus for nearly every object
    assert np.mean(under == result.tracks["label"].to_numpy()) > 0.97


def test_cells_are_found_and_tracks_not_fragmented(sim, result):
    visible = sim.tracks[sim.tracks["label"] > 0]
    merged, missed = merged_and_missed_nuclei(visible, result.labels)
    assert missed < 0.05  # nearly every nucleus lies in a found object
    # In the simulated dense sheet overlapping nuclei merge (a known limit of classical
    # segmentation, docs/benchmarks.md): a quarter of the nuclei share their object with
    # another here, and there are about 7 objects per 10 nuclei.
    assert merged < 0.35
    per_frame_truth = visible.groupby("frame").size()
    per_frame_found = result.tracks.groupby("frame").size()
    assert (per_frame_found / per_frame_truth).median() > 0.6
    # long truth tracks are covered by one found track for most of their life
    ids = truth_track_ids(result.tracks, sim.labels)
    long_truth = visible.groupby("track_id").size()
    long_truth = long_truth[long_truth >= 20].index
    pieces = ids[ids.isin(long_truth)].value_counts()
    assert pieces.median() == 1


def test_planted_leaders_are_found(sim, result):
    true_leaders = set(sim.cells.loc[sim.cells["is_leader"], "track_id"])
    assert true_leaders, "the easy scenario plants leaders"
    scores = leader_agreement(result.tracks, result.cells, sim.labels, true_leaders)
    assert scores["recall"] >= 0.75
    assert scores["precision"] >= 0.75


def test_planted_leaders_lead_in_the_right_frames(sim, result):
    scores = frame_leader_agreement(result.tracks, sim.tracks, sim.labels)
    assert scores["frame_recall"] >= 0.7
    assert scores["frame_precision"] >= 0.7
    # as many calls per frame, on cells drawn at random in that frame, mostly miss
    rng = np.random.default_rng(0)
    shuffled = result.tracks.copy()
    shuffled["is_leader"] = shuffled.groupby("frame")["is_leader"].transform(lambda s: rng.permutation(s.to_numpy()))
    assert frame_leader_agreement(shuffled, sim.tracks, sim.labels)["frame_f1"] < 0.3


def test_frame_agreement_counts_two_rows_on_one_true_cell_frame_once():
    labels = np.zeros((1, 4, 4), int)
    labels[0, :2, :2] = 7
    truth = pd.DataFrame({"track_id": [7], "frame": [0], "is_leader": [True]})
    found = pd.DataFrame({"frame": [0, 0], "y": [0.0, 1.0], "x": [0.0, 1.0], "is_leader": [True, True]})
    assert frame_leader_agreement(found, truth, labels) == {"frame_precision": 1.0, "frame_recall": 1.0, "frame_f1": 1.0}
    on_background = found.assign(y=[0.0, 3.0], x=[0.0, 3.0])
    assert frame_leader_agreement(on_background, truth, labels)["frame_precision"] == 0.5


def test_provenance_records_units_and_sources(result):
    prov = result.provenance
    assert prov["units"]["pixel_size_source"] == "user"
    assert prov["nucleus_diameter_source"] == "estimated"
    assert prov["counts"]["tracks"] == len(result.cells)
    assert set(prov["timings_s"]) >= {"segment", "link", "measure", "classify"}
    # auto chose the geometry and says how sure it was, and why
    assert prov["front"]["geometry"] == "planar" and prov["front"]["confidence"] >= 0.9 and prov["front"]["reason"]
    assert not any("geometry" in message for message in prov["warnings"])


def test_result_folder_round_trip(result, tmp_path):
    folder = write_result(result, tmp_path)
    again = read_result(folder)
    pd.testing.assert_frame_equal(again.cells.reset_index(drop=True), result.cells.reset_index(drop=True), check_dtype=False)
    assert again.tracks.shape == result.tracks.shape
    assert np.array_equal(np.asarray(again.labels[5]), np.asarray(result.labels[5]))
    with pytest.raises(FileExistsError, match="--overwrite"):
        write_result(result, tmp_path)
    write_result(result, tmp_path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [result.name]


def test_overwrite_never_replaces_a_folder_that_is_not_a_result(result, tmp_path):
    """Saving into the folder that holds the movie's frames (a folder movie has the result's name) used to delete
    the frames, with overwrite=True (napari's Save after 'Replace?')."""
    frames = tmp_path / result.name
    frames.mkdir()
    (frames / "t000.tif").write_bytes(b"frame")
    with pytest.raises(FileExistsError, match="is not a leadertrack result"):
        write_result(result, tmp_path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [result.name]
    assert (frames / "t000.tif").read_bytes() == b"frame"


def test_a_file_output_given_a_folders_path_keeps_the_folder(result, tmp_path):
    """write_report(result, folder) (the file name forgotten) or write_tracks to a folder's path used to delete the
    folder, a whole result with it, and leave a file in its place."""
    from leadertrack.errors import InputError
    from leadertrack.formats import write_tracks
    from leadertrack.report import write_report

    folder = write_result(result, tmp_path)
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(InputError, match="is a folder; give a file name"):
        write_report(result, folder)
    with pytest.raises(InputError, match="is a folder; give a file name"):
        write_tracks(result.tracks, result.cells, folder, format="table")
    assert folder.is_dir() and sorted(p.name for p in folder.iterdir()) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_an_unknown_export_is_refused_not_ignored(result, tmp_path):
    with pytest.raises(InputError, match="unknown format 'foo'; choose from ctc, geff, trackmate, parquet"):
        write_result(result, tmp_path, export=["foo"])
    assert list(tmp_path.iterdir()) == []


def test_a_result_edited_in_a_spreadsheet_is_refused_with_the_reason(result, tmp_path):
    """cells.csv saved by a spreadsheet with ';' (decimal commas) used to fail on 'Expected 18 fields', tabs or
    an emptied tracks.csv to load and fail later (KeyError) or not at all."""
    folder = write_result(result, tmp_path)
    cells = pd.read_csv(folder / "cells.csv")
    damaged = {
        "separated by ';'": lambda: cells.to_csv(folder / "cells.csv", sep=";", decimal=",", index=False),
        "separated by tabs": lambda: cells.to_csv(folder / "cells.csv", sep="\t", index=False),
        r"missing column\(s\) track_id, frame, is_leader": lambda: (folder / "tracks.csv").write_text(""),
        r"missing column\(s\) leader_score": lambda: cells.drop(columns="leader_score").to_csv(folder / "cells.csv", index=False),
    }
    for message, damage in damaged.items():
        write_result(result, tmp_path, overwrite=True)
        damage()
        with pytest.raises(InputError, match=message):
            read_result(folder)
    write_result(result, tmp_path, overwrite=True)
    text = (folder / "cells.csv").read_text(encoding="utf-8")
    (folder / "cells.csv").write_text("\ufeff" + text, encoding="utf-8")  # a byte-order mark (Notepad) is fine
    assert read_result(folder).cells["track_id"].tolist() == result.cells["track_id"].tolist()


def test_uncalibrated_movie_writes_honest_column_names(sim, tmp_path):
    with pytest.warns(UserWarning, match="no pixel size"):
        result = analyze_movie(sim.image[:6])
    assert result.provenance["units"]["space_calibrated"] is False
    folder = write_result(result, tmp_path)
    header = (folder / "tracks.csv").read_text().splitlines()[0].split(",")
    assert "speed_px_per_frame" in header and "speed_um_per_min" not in header
    assert "time_frame" in header
    front = json.loads((folder / "run.json").read_text())["front"]
    assert "median_front_speed_px_per_frame" in front and "median_front_speed_um_per_min" not in front
    back = read_result(folder)
    assert "speed_um_per_min" in back.tracks
    assert back.provenance["front"] == result.provenance["front"]  # the names in memory again
    row = summary_row("m", "m.tif", "ok", provenance=result.provenance)
    assert row["median_front_speed_px_per_frame"] == result.provenance["front"]["median_front_speed_um_per_min"]
    assert "median_front_speed_um_per_min" not in row
    # a batch re-run reads run.json from disk: the same row
    on_disk = json.loads((folder / "run.json").read_text())
    assert summary_row("m", "m.tif", "ok", provenance=on_disk) == row


def test_merged_and_missed_nuclei_count_per_frame():
    labels = np.zeros((2, 10, 10), int)
    labels[0, :5, :5] = 1  # frame 0: object 1 holds two nuclei
    labels[1, :5, :5] = 1  # frame 1: the same id holds one nucleus, and another lies on background
    cells = pd.DataFrame({"frame": [0, 0, 1, 1], "y": [1.0, 3.0, 2.0, 8.0], "x": [1.0, 3.0, 2.0, 8.0]})
    assert merged_and_missed_nuclei(cells, labels) == (0.5, 0.25)
    assert all(np.isnan(merged_and_missed_nuclei(cells.iloc[:0], labels)))


def test_user_labels_skip_segmentation(sim):
    config = RunConfig()
    config.units.pixel_size_um = 1.0
    config.units.frame_interval_min = sim.frame_interval_min
    result = analyze_movie(sim.image, config, labels=sim.labels)
    assert result.provenance["nucleus_diameter_source"] == "labels"
    assert "segment" not in result.provenance["timings_s"]
    assert np.array_equal(np.asarray(result.labels), sim.labels.astype(np.uint32))


@pytest.mark.parametrize("wrong", ["binary mask", "mask of 0 and 255", "the movie itself"])
def test_labels_that_do_not_number_each_nucleus_are_refused(sim, wrong):
    """A binary (class) mask or the intensity movie passed as labels used to run: the whole sheet one cell,
    or a thousand tracks of intensity levels, without a word."""
    given = {
        "binary mask": (sim.labels > 0).astype(np.uint8),
        "mask of 0 and 255": (sim.labels > 0).astype(np.uint8) * 255,
        "the movie itself": sim.image,
    }[wrong]
    config = RunConfig()
    config.units.pixel_size_um = 1.0
    config.units.frame_interval_min = sim.frame_interval_min
    with pytest.raises(InputError, match="frame 0 of the labels is not one label per nucleus.*skimage.measure.label"):
        analyze_movie(sim.image, config, labels=given)


def test_empty_labels_point_to_the_labels_not_to_the_diameter():
    movie = np.random.default_rng(0).normal(100, 5, (4, 48, 48)).astype(np.float32)
    with pytest.raises(InputError, match="check the labels you gave"):
        analyze_movie(movie, labels=np.zeros(movie.shape, np.uint16))


@pytest.mark.parametrize("n_frames", [1, 2])
def test_a_movie_too_short_to_track_says_so(sim, tmp_path, n_frames):
    """One frame used to fail naming leadertrack's own temporary labels.tif, two frames with a hint about the
    nucleus diameter; both now name the movie and the frames it lacks."""
    path = tmp_path / "short.tif"
    tifffile.imwrite(path, sim.image[:n_frames])
    with pytest.raises(InputError, match=rf"short\.tif: the movie has {n_frames} frames?; .*at least 3 frames"):
        process_movie(path, tmp_path / "out")
    assert not (tmp_path / "out" / "short").exists()


def test_a_one_frame_movie_runs_to_a_result_folder_that_reads_back(sim, tmp_path):
    """With min_track_length 1 a single frame is analysed; its labels.tif (one 2-D page) used to be refused
    when read back ('is a single 2-D image, not a time-lapse'), by the run itself and by read_result."""
    path = tmp_path / "one.tif"
    tifffile.imwrite(path, sim.image[:1])
    config = RunConfig()
    config.link.min_track_length = 1
    result = process_movie(path, tmp_path / "out", config)
    again = read_result(tmp_path / "out" / "one")
    assert again.labels.shape == (1, *sim.image.shape[1:]) and len(again.tracks) == len(result.tracks) > 20
    assert np.array_equal(np.asarray(again.labels), np.asarray(result.labels))


def test_a_z_stack_read_as_time_is_a_warning(sim, tmp_path):
    """A file whose only stack axis is Z is read as a time-lapse; that used to be said in run.json's notes only."""
    path = tmp_path / "planes.tif"
    tifffile.imwrite(path, sim.image[:5], imagej=True, metadata={"axes": "ZYX"})
    result = analyze_movie(path)
    assert any("its 5 Z planes were read as frames" in w for w in result.provenance["warnings"])
    tifffile.imwrite(tmp_path / "movie.tif", sim.image[:5], imagej=True, metadata={"axes": "TYX"})
    assert not any("read as frames" in w for w in analyze_movie(tmp_path / "movie.tif").provenance["warnings"])


def test_empty_movie_is_an_error(tmp_path):
    with pytest.raises(InputError, match="empty"):
        analyze_movie(np.zeros((4, 32, 32), np.uint16))


def test_frames_without_cells_are_reported_not_fatal(sim):
    movie = sim.image[:8].copy()
    movie[3] = np.median(movie[3])  # a blank frame
    config = RunConfig()
    config.segment.nucleus_diameter_um = sim.nucleus_diameter_um
    result = analyze_movie(movie, config)
    assert result.provenance["counts"]["frames_without_cells"] == [3]
    assert any("no cells found in 1 of 8 frames" in w for w in result.provenance["warnings"])


def test_process_movie_is_atomic_and_leaves_input_untouched(sim, tmp_path):
    from leadertrack.synthetic import save_simulation

    movie_path = tmp_path / "in" / "assay.ome.tif"
    movie_path.parent.mkdir()
    save_simulation(simulate_invasion(geometry="planar", n_frames=6, field_um=(100.0, 120.0), seed=1), movie_path)
    before = movie_path.read_bytes()

    def cancel(stage, done, total):
        if stage == "segment" and done == 3:
            raise KeyboardInterrupt

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        process_movie(movie_path, out, progress=cancel)
    assert list(out.iterdir()) == []  # nothing half-written left behind

    result = process_movie(movie_path, out)
    folder = out / "assay"
    assert {"tracks.csv", "cells.csv", "fronts.csv", "labels.tif", "run.json"} <= {p.name for p in folder.iterdir()}
    assert movie_path.read_bytes() == before
    assert result.provenance["input"]["checksum_sha256"]
    with tifffile.TiffFile(folder / "labels.tif") as tf:
        assert len(tf.pages) == 6


def test_corrections_flip_and_retrain(result):
    follower = int(result.cells.loc[~result.cells["is_leader"], "track_id"].iloc[0])
    corrected = apply_corrections(result, pd.DataFrame({"track_id": [follower], "is_leader": [True]}))
    assert follower in corrected.leaders
    assert corrected.corrections["track_id"].tolist() == [follower]
    retrained = apply_corrections(corrected, pd.DataFrame({"track_id": [follower], "is_leader": [False]}), retrain=True)
    assert follower not in retrained.leaders
    assert "retrained" in retrained.provenance
    with pytest.raises(InputError, match="do not exist"):
        apply_corrections(result, pd.DataFrame({"track_id": [99999], "is_leader": [True]}))


def test_corrections_read_their_words_and_refuse_what_they_cannot(result):
    """'no' or 'False' as text used to count as True (any non-empty string does), NaN too, and 37.5 became 37."""
    leader = int(result.cells.loc[result.cells["is_leader"], "track_id"].iloc[0])
    for word in ("no", "False", "false", "0"):
        corrected = apply_corrections(result, pd.DataFrame({"track_id": [leader], "is_leader": [word]}))
        assert leader not in corrected.leaders and not corrected.corrections["is_leader"].any()
    assert leader in apply_corrections(result, pd.DataFrame({"track_id": [leader], "is_leader": ["yes"]})).leaders
    for bad in ({"track_id": [leader], "is_leader": [np.nan]}, {"track_id": [leader + 0.5], "is_leader": [False]}):
        with pytest.raises(InputError, match="corrections"):
            apply_corrections(result, pd.DataFrame(bad))
    with pytest.raises(InputError, match="columns track_id and is_leader"):
        apply_corrections(result, pd.DataFrame({"track": [leader], "is_leader": [False]}))


# --------------------------------------------------------------------------- memory follows the frame


@pytest.fixture(scope="module")
def small_movie():
    return simulate_invasion(geometry="planar", n_frames=8, field_um=(100.0, 140.0), frame_interval_min=2.0, seed=2)


def _small_config(sim) -> RunConfig:
    config = RunConfig()
    config.units.pixel_size_um = sim.pixel_size_um
    config.units.frame_interval_min = sim.frame_interval_min
    config.segment.nucleus_diameter_um = 10.0
    config.link.search_range_um = 6.0
    return config


def test_stored_tables_keep_integers_in_32_bits_and_positions_in_64(result):
    for table in (result.tracks, result.cells):
        ints = [name for name, dtype in table.dtypes.items() if dtype.kind in "iu"]
        assert ints, "no integer column at all"
        assert {str(table[name].dtype) for name in ints} == {"int32"}, table.dtypes[ints]
    for name in ("y", "x", "y_um", "x_um", "time_min", "mean_intensity", "speed_um_per_min"):
        assert result.tracks[name].dtype == np.float64, name


def test_columns_set_aside_during_measuring_come_back_on_their_own_rows(result):
    tracks = result.tracks
    pixel, interval = result.provenance["units"]["pixel_size_um"], result.provenance["units"]["frame_interval_min"]
    np.testing.assert_allclose(tracks["y_um"], tracks["y"] * pixel)
    np.testing.assert_allclose(tracks["x_um"], tracks["x"] * pixel)
    np.testing.assert_allclose(tracks["time_min"], tracks["frame"] * interval)
    np.testing.assert_allclose(tracks["area_um2"], tracks["area_px"] * pixel**2)
    assert list(tracks.columns[:11]) == [
        "frame", "label", "y", "x", "area_px", "mean_intensity", "track_id", "time_min", "y_um", "x_um", "area_um2",
    ]


def test_compact_integers_keeps_values_and_leaves_large_ones_alone():
    from leadertrack.pipeline import compact_integers

    table = pd.DataFrame({"frame": np.arange(5), "big": np.arange(5) * 2**33, "y": np.linspace(0, 1, 5), "ok": [True] * 5})
    small = compact_integers(table)
    assert [str(d) for d in small.dtypes] == ["int32", "int64", "float64", "bool"]
    pd.testing.assert_frame_equal(small, table, check_dtype=False)
    assert small.to_csv(index=False) == table.to_csv(index=False)
    assert compact_integers(table.iloc[:0]).dtypes["frame"] == np.int32


def test_detections_are_freed_before_measuring(small_movie, monkeypatch):
    import gc
    import weakref

    import leadertrack.detect
    import leadertrack.features
    import leadertrack.track

    held: list[weakref.ref] = []
    real_detect, real_link, real_measure = (
        leadertrack.detect.detect_frame, leadertrack.track.link, leadertrack.features.measure,
    )

    def detect_frame(*args, **kwargs):
        table = real_detect(*args, **kwargs)
        held.append(weakref.ref(table))
        return table

    def link(detections, **kwargs):
        held.append(weakref.ref(detections))
        return real_link(detections, **kwargs)

    alive_at_measure: list[int] = []

    def measure(tracks, **kwargs):
        gc.collect()
        alive_at_measure.append(sum(ref() is not None for ref in held))
        return real_measure(tracks, **kwargs)

    monkeypatch.setattr(leadertrack.detect, "detect_frame", detect_frame)
    monkeypatch.setattr(leadertrack.track, "link", link)
    monkeypatch.setattr(leadertrack.features, "measure", measure)
    analyze_movie(small_movie.image, _small_config(small_movie))
    assert len(held) == small_movie.image.shape[0] + 1  # one table per frame, and the table linked
    assert alive_at_measure == [0]


def test_labels_stream_to_disk_one_frame_at_a_time(small_movie, monkeypatch, tmp_path):
    import gc
    import weakref

    import leadertrack.segment

    frames: list[weakref.ref] = []
    alive_before: list[int] = []
    real_segment = leadertrack.segment.segment_frame

    def segment_frame(image, **kwargs):
        gc.collect()
        alive_before.append(sum(ref() is not None for ref in frames))
        labels = np.asarray(real_segment(image, **kwargs), dtype=np.uint32)  # what the sink stores, unconverted
        frames.append(weakref.ref(labels))
        return labels

    monkeypatch.setattr(leadertrack.segment, "segment_frame", segment_frame)
    path = tmp_path / "labels.tif"
    result = analyze_movie(small_movie.image, _small_config(small_movie), labels_path=path)
    n = small_movie.image.shape[0]
    assert max(alive_before) <= 1  # at most the frame just written is still referenced, never all of them
    assert not isinstance(result.labels, np.ndarray) or isinstance(result.labels, np.memmap)
    with tifffile.TiffFile(path) as tf:
        assert len(tf.pages) == n
    assert np.array_equal(np.asarray(result.labels[n - 1]), tifffile.imread(path, key=n - 1))


def test_result_tables_read_in_chunks_equal_one_read(result, tmp_path, monkeypatch):
    import leadertrack.pipeline

    folder = write_result(result, tmp_path)
    whole = read_result(folder)
    monkeypatch.setattr(leadertrack.pipeline, "CSV_CHUNK_ROWS", 97)
    chunked = read_result(folder)
    assert len(chunked.tracks) > 10 * 97
    pd.testing.assert_frame_equal(chunked.tracks, whole.tracks)
    pd.testing.assert_frame_equal(chunked.cells, whole.cells)
    assert chunked.tracks["frame"].dtype == np.int64 and chunked.tracks["y"].dtype == np.float64


def test_chunks_that_disagree_on_a_type_are_read_again_whole(tmp_path, monkeypatch):
    import leadertrack.pipeline

    path = tmp_path / "tracks.csv"
    path.write_text("track_id,note\n1,5\n2,7\n3,seven\n4,9\n", encoding="utf-8")
    monkeypatch.setattr(leadertrack.pipeline, "CSV_CHUNK_ROWS", 2)
    table = leadertrack.pipeline._read_csv(path)
    expected = pd.read_csv(path)
    assert table["note"].tolist() == expected["note"].tolist() == ["5", "7", "seven", "9"]
    assert table["track_id"].tolist() == [1, 2, 3, 4]


def _analyze_masks(labels: np.ndarray, **link_options) -> MovieResult:
    """``analyze_movie`` on masks given as labels (1 µm per pixel, 1 min per frame, no report)."""
    config = RunConfig()
    config.output.report = False
    config.units.pixel_size_um = 1.0
    config.units.frame_interval_min = 1.0
    for name, value in link_options.items():
        setattr(config.link, name, value)
    return analyze_movie((labels > 0).astype(np.float32) * 100.0, config, labels=labels)


@pytest.mark.parametrize(("max_gap_frames", "n_tracks"), [(None, 2), (0, 3)])
def test_link_max_gap_frames_reaches_linking(max_gap_frames, n_tracks):
    # Two cells 20 px apart; the first vanishes for 5 frames, longer than trackpy's memory (3):
    # the default gap closing (up to 2 x (memory + 1) frames) joins it again, 0 leaves two pieces.
    yy, xx = np.mgrid[:48, :64]
    labels = np.zeros((14, 48, 64), np.uint32)
    for t in range(14):
        if not 5 <= t < 10:
            labels[t][(yy - 14) ** 2 + (xx - 8 - 2 * t) ** 2 <= 9] = 1
        labels[t][(yy - 34) ** 2 + (xx - 8 - 2 * t) ** 2 <= 9] = 2
    result = _analyze_masks(labels, search_range_um=6.0, max_gap_frames=max_gap_frames)
    assert result.tracks["track_id"].nunique() == n_tracks


def test_given_masks_close_no_gap_at_the_image_edge():
    # Cell 1 leaves through the top edge; 3 frames later cell 2 comes in at the same place. From given
    # masks a cell vanishes only where it leaves the field: two tracks, and the methods text says so.
    # A cell inside the field that vanishes for 3 frames is still joined to itself.
    yy, xx = np.mgrid[:64, :64]
    labels = np.zeros((16, 64, 64), np.uint32)
    for t in range(16):
        if t < 7:
            labels[t][(yy - (26 - 4 * t)) ** 2 + (xx - 20) ** 2 <= 16] = 1
        if t >= 10:
            labels[t][(yy - (2 + 4 * (t - 10))) ** 2 + (xx - 21) ** 2 <= 16] = 2
        if not 3 <= t < 6:
            labels[t][(yy - 44) ** 2 + (xx - 8 - 2 * t) ** 2 <= 16] = 3
    result = _analyze_masks(labels, search_range_um=12.0)
    tracks = result.tracks
    assert tracks.groupby("track_id")["label"].nunique().eq(1).all()  # no track holds two cells
    assert tracks.groupby("label")["track_id"].nunique().to_dict() == {1: 1, 2: 1, 3: 1}
    margin = result.provenance["gap_closing_edge_margin_um"]
    assert margin == pytest.approx(EDGE_MARGIN_DIAMETERS * result.provenance["nucleus_diameter_um"])
    assert f"except within {margin:.3g} µm of the image's edge" in methods_text(result.provenance)


def test_frames_segmented_in_threads_give_the_same_result(small_movie, monkeypatch):
    config = _small_config(small_movie)
    serial = analyze_movie(small_movie.image, config)
    threads_used = segmenting_threads(monkeypatch)
    threaded = analyze_movie(small_movie.image, config, threads=3)
    assert all(name.startswith("leadertrack-segment") for name in threads_used)
    assert threads_used.most_at_once <= 3
    np.testing.assert_array_equal(np.asarray(threaded.labels), np.asarray(serial.labels))
    pd.testing.assert_frame_equal(threaded.tracks, serial.tracks)
    pd.testing.assert_frame_equal(threaded.cells, serial.cells)


def test_linking_reports_every_frame_and_can_be_cancelled(small_movie):
    """Linking a long movie takes minutes: the progress callback hears of each frame linked, and
    raising in it stops the run there."""
    n_frames = small_movie.image.shape[0]
    heard = []
    analyze_movie(small_movie.image, _small_config(small_movie), progress=lambda *call: heard.append(call))
    assert [(done, total) for stage, done, total in heard if stage == "link"] == [(k, n_frames) for k in range(1, n_frames + 1)]
    assert [stage for stage, _, _ in heard].index("link") > max(i for i, call in enumerate(heard) if call[0] == "segment")

    def cancel(stage, done, total):
        if stage == "link" and done == 3:
            raise KeyboardInterrupt
        assert stage in ("segment", "link")  # nothing after linking started

    with pytest.raises(KeyboardInterrupt):
        analyze_movie(small_movie.image, _small_config(small_movie), progress=cancel)


def test_cancelling_a_threaded_run_stops_segmenting(small_movie, monkeypatch):
    segmented = segmenting_threads(monkeypatch)

    def progress(stage, done, total):
        if stage == "segment" and done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        analyze_movie(small_movie.image, _small_config(small_movie), progress=progress, threads=2)
    # frame 0 finished, at most the 2 x 2 frames read ahead were started, never the rest of the movie
    assert len(segmented) <= 1 + 2 * 2 < small_movie.image.shape[0]


def test_tracks_of_a_sheet_filling_the_image_have_no_front_at_its_border(tmp_path):
    """A monolayer covering the whole image, read from TrackMate XML: the image's size travels in
    the file, so its border is not taken for a front and nobody leads. Without the size, the
    outermost cells would be the front."""
    from leadertrack.formats import read_tracks, write_trackmate_xml
    from leadertrack.pipeline import analyze_tracks

    rng = np.random.default_rng(2)
    ys, xs = np.meshgrid(np.arange(5.0, 300.0, 10.0), np.arange(5.0, 300.0, 10.0), indexing="ij")
    start = np.column_stack([ys.ravel(), xs.ravel()])
    walk = np.cumsum(rng.normal(0, 0.7, (12, *start.shape)), axis=0)
    rows = [(k + 1, f, *np.clip(start[k] + walk[f, k], 0, 299)) for f in range(12) for k in range(len(start))]
    tracks = pd.DataFrame(rows, columns=["track_id", "frame", "y", "x"])
    units = {"pixel_size_um": 1.0, "frame_interval_min": 10.0}
    with_field = write_trackmate_xml(tracks, None, tmp_path / "with.xml", **units, field_px=(300, 300), image_name="m.tif")
    result = analyze_tracks(read_tracks(with_field))
    assert result.provenance["input"]["field_px"] == [300.0, 300.0]
    assert result.fronts["front_position_um"].isna().all()
    assert result.tracks["front_distance_um"].isna().all()
    assert not result.cells["is_leader"].any()
    without = analyze_tracks(read_tracks(write_trackmate_xml(tracks, None, tmp_path / "without.xml", **units)))
    assert without.tracks["front_distance_um"].notna().all()


def test_labels_kept_in_memory_are_held_once():
    """Each segmented frame goes straight into one preallocated stack: the labels are never held
    twice (a list of frames, then a stacked copy), so a long movie's peak memory is one stack."""
    import tracemalloc

    from leadertrack.pipeline import _LabelsSink

    n_frames, shape = 24, (128, 160)
    tracemalloc.start()
    try:
        sink = _LabelsSink(None, (n_frames, *shape))
        for t in range(n_frames):
            sink.add(np.full(shape, t, dtype=np.uint32))  # a fresh frame each time, as segmentation gives
        stack = sink.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stack.shape == (n_frames, *shape)
    assert (stack[:, 0, 0] == np.arange(n_frames)).all()
    assert peak < 1.2 * stack.nbytes


def test_nuclei_too_few_pixels_across_are_warned_about_with_the_way_out(result):
    assert not any("px across" in w for w in result.provenance["warnings"])  # nuclei about 10 px across
    coarse = simulate_invasion(
        geometry="planar", n_frames=4, field_um=(250.0, 250.0), pixel_size_um=2.5, nucleus_diameter_um=10.0, seed=3
    )
    config = RunConfig()
    config.units.pixel_size_um, config.units.frame_interval_min = 2.5, coarse.frame_interval_min
    warned = [w for w in analyze_movie(coarse.image, config).provenance["warnings"] if "px across" in w]
    assert len(warned) == 1 and "--labels" in warned[0]
    assert 4.0 < float(warned[0].split("only ")[1].split(" px")[0]) < 6.0  # the estimated diameter, in px
    config.segment.nucleus_diameter_um = 17.5  # 7 px, as the user says: no warning
    assert not any("px across" in w for w in analyze_movie(coarse.image, config).provenance["warnings"])


def test_a_short_movie_is_warned_about_and_a_long_enough_one_not(small_movie, result):
    assert not any("motion windows" in w for w in result.provenance["warnings"])  # 24 frames, 3 windows
    short = analyze_movie(small_movie.image, _small_config(small_movie))  # 8 frames at 2 min: half a window
    (message,) = [w for w in short.provenance["warnings"] if "motion windows" in w]
    assert "(8 frames), 0.5 motion windows" in message
    uncalibrated = analyze_movie(small_movie.image)  # no frame interval: the units warning says what to give
    assert not any("motion windows" in w for w in uncalibrated.provenance["warnings"])
    assert any("frame interval" in w for w in uncalibrated.provenance["warnings"])


def test_without_a_frame_interval_the_calls_are_those_at_5_min_per_frame_and_numbers_say_their_units(sim):
    """Without a frame interval times are frame numbers: the motion window used to be 30 of them, so tracks
    under 15 frames could not lead, and reasons and warnings gave µm/min for what was px/frame."""
    from leadertrack.features import UNCALIBRATED_WINDOW_FRAMES
    from leadertrack.pipeline import motion_window_frames

    assert motion_window_frames({"time_calibrated": False}) == UNCALIBRATED_WINDOW_FRAMES == 7
    assert motion_window_frames({"time_calibrated": True}) is None
    at_5_min = RunConfig()
    at_5_min.units.pixel_size_um = sim.pixel_size_um
    at_5_min.units.frame_interval_min = 5.0
    calibrated = analyze_movie(sim.image, at_5_min)
    in_frames = analyze_movie(sim.image, RunConfig())
    assert not in_frames.provenance["units"]["time_calibrated"] and not in_frames.provenance["units"]["space_calibrated"]
    columns = ["track_id", "leader_fraction", "frac_fast_outward", "frac_persistent", "is_leader"]
    pd.testing.assert_frame_equal(in_frames.cells[columns], calibrated.cells[columns])
    assert in_frames.cells["is_leader"].any()
    reasons = " ".join(in_frames.cells["reason"])
    assert "µm" not in reasons and (" px/frame" in reasons or " px)" in reasons)
    assert not any("µm" in message for message in in_frames.provenance["warnings"] if "search range" in message)


def test_a_corrected_call_updates_whom_each_track_follows_and_the_group_sizes(result):
    """A follower set to leader kept following its old leader, in its old leader's group; followers of a leader
    set to follower kept following it."""
    cells = result.cells.set_index("track_id")
    follower = int(cells.index[cells["follows_track_id"] != 0][0])
    old_leader = int(cells.loc[follower, "follows_track_id"])
    size = int(cells.loc[old_leader, "group_size"])
    promoted = apply_corrections(result, pd.DataFrame({"track_id": [follower], "is_leader": [True]})).cells.set_index("track_id")
    assert promoted.loc[follower, "follows_track_id"] == 0 and promoted.loc[follower, "group_size"] == 1
    assert promoted.loc[old_leader, "group_size"] == size - 1
    demoted = apply_corrections(result, pd.DataFrame({"track_id": [old_leader], "is_leader": [False]})).cells.set_index("track_id")
    assert (demoted["follows_track_id"] != old_leader).all() and demoted.loc[follower, "group_size"] == 0
    assert demoted.loc[old_leader, "group_size"] == 0
