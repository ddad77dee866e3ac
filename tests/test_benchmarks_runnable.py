"""The documented benchmark command runs scripts that exist, with options they accept (nothing is measured here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import run_all  # noqa: E402

COMMANDS = run_all.COMMANDS


def test_docs_name_the_command_that_runs_them_all():
    assert "`python benchmarks/run_all.py`" in (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert (ROOT / "benchmarks" / "run_all.py").is_file()


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_each_benchmark_accepts_its_options(command):
    script, options = ROOT / "benchmarks" / command[0], [a for a in command[1:] if a.startswith("--")]
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    for option in options:
        assert option in done.stdout, f"{command[0]} has no option {option}"


def test_dry_run_lists_every_command_and_measures_nothing():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--dry-run", "--no-long"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("$ ")]
    assert len(lines) == len(COMMANDS)
    assert not any("--long" in line for line in lines)


def test_missing_peers_are_named_with_the_install_command(monkeypatch, capsys):
    assert run_all.missing_modules(("json", "no_such_module_here")) == ["no_such_module_here"]
    monkeypatch.setattr(run_all, "PEERS", ("no_such_module_here",))
    monkeypatch.setattr(run_all.subprocess, "run", lambda *a, **k: pytest.fail("nothing may run"))
    assert run_all.main(["--no-long"]) == 2
    assert "no_such_module_here: pip install -e '.[bench]'" in capsys.readouterr().err


def test_simulated_ground_truth_scores_the_truth_perfectly_and_a_swap_less(tmp_path):
    import contextlib
    import io

    from bench_ctc import simulated_ground_truth
    from ctc_metrics import evaluate_sequence

    from leadertrack.ctc import write_ctc
    from leadertrack.synthetic import simulate_invasion

    sim = simulate_invasion(geometry="planar", difficulty="easy", seed=2, n_frames=6, field_um=(120.0, 120.0))
    gt = simulated_ground_truth(sim, tmp_path / "01_GT")
    assert max(p.name for p in (gt / "TRA").iterdir()) == "man_track005.tif"
    assert len(list((gt / "SEG").glob("man_seg*.tif"))) == 6

    def scores(tracks):
        out = tmp_path / "res" / "01_RES"
        write_ctc(tracks, sim.labels, out)
        with contextlib.redirect_stdout(io.StringIO()):
            return evaluate_sequence(str(out), str(gt), metrics=["DET", "TRA"], threads=1)

    assert scores(sim.tracks)["TRA"] == 1.0
    # two cells swap identities half-way: detection stays perfect, tracking does not
    swapped = sim.tracks.copy()
    a, b = swapped["track_id"].value_counts().index[:2]
    late = swapped["frame"] >= 3
    swapped.loc[late & (swapped["track_id"] == a), "track_id"] = -1
    swapped.loc[late & (swapped["track_id"] == b), "track_id"] = a
    swapped.loc[swapped["track_id"] == -1, "track_id"] = b
    result = scores(swapped)
    assert result["DET"] == 1.0
    assert result["TRA"] < 1.0


def test_segmentation_benchmark_area_ratio_counts_only_nuclei_alone_in_their_object():
    from bench_segmentation import area_ratio
    from skimage.draw import disk

    from leadertrack.detect import detect

    truth = np.zeros((1, 60, 60), np.int32)
    found = np.zeros((1, 60, 60), np.int32)
    truth[0][disk((15, 12), 5)], truth[0][disk((15, 24), 5)] = 1, 2
    found[0, 8:23, 5:32] = 1  # one object over nuclei 1 and 2: left out
    truth[0][disk((45, 40), 5)] = 3
    found[0][disk((45, 40), 7)] = 2  # nucleus 3 found larger
    expected = (found[0] == 2).sum() / (truth[0] == 3).sum()
    assert area_ratio(detect(truth), found) == pytest.approx(expected)
    assert expected > 1.8


def test_segmentation_benchmark_times_each_method_against_otsu_on_the_same_frames():
    import pandas as pd
    from bench_segmentation import summarise

    rows = pd.DataFrame({
        "data": ["a", "a", "b", "b", "b"], "method": ["Otsu", "leadertrack", "Otsu", "leadertrack", "leadertrack"],
        "frames": 2, "nuclei": 10, "SEG": 0.5, "precision": 0.5, "recall": 0.5, "f1": 0.5, "merged": 0.0,
        "missed": 0.0, "area_ratio": 1.0, "seconds": [1.0, 4.0, 2.0, 3.0, 5.0],
    })
    summary = summarise(rows).set_index(["data", "method"])
    assert summary.loc[("a", "leadertrack"), "time_vs_otsu"] == 4.0
    assert summary.loc[("b", "leadertrack"), "time_vs_otsu"] == 4.0  # two movies: 8 s against 2 s
    assert summary.loc[("b", "Otsu"), "time_vs_otsu"] == 1.0
    assert summary.loc[("b", "leadertrack"), "frames"] == 4


def test_jitter_benchmark_moves_each_frame_and_its_truth_together():
    from bench_jitter import jittered

    from leadertrack.synthetic import simulate_invasion

    sim = simulate_invasion(geometry="planar", n_frames=4, field_um=(80.0, 100.0), pixel_size_um=1.0, seed=1)
    moved, shifts = jittered(sim, 0.5, seed=0)
    assert (shifts[0] == 0).all() and np.abs(shifts[1:]).max() > 0
    for t, (dy, dx) in enumerate(shifts.astype(int)):
        # a labelled pixel away from the edges carries the same label, and the same brightness, after the shift
        y, x = np.argwhere(sim.labels[t][20:-20, 20:-20] > 0)[0] + 20
        assert moved.labels[t][y + dy, x + dx] == sim.labels[t][y, x]
        assert moved.image[t][y + dy, x + dx] == sim.image[t][y, x]


def test_background_benchmark_adds_a_linear_slope_of_the_asked_share_of_the_signal():
    from bench_background import sloped

    image = np.full((2, 10, 50), 100, dtype=np.uint16)
    image[:, :, 10:15] = 1100  # nuclei, a tenth of the pixels: the 99th percentile is 1000 over the median
    out = sloped(image, 0.2)
    assert out.dtype == image.dtype
    rise = out.astype(int) - image
    assert rise[:, :, 0].max() == 0 and rise[:, :, -1].min() == 200  # 0.2 x 1000 across the field
    assert (np.diff(rise[0, 0]) >= 0).all()
    assert sloped(np.full((1, 4, 4), 65000, dtype=np.uint16), 1.0).max() == 65000  # clipped, not wrapped


def test_null_benchmark_movies_have_nobody_leading_and_are_otherwise_the_same():
    from bench_null import leaderless

    from leadertrack.synthetic import random_scenario, simulate_invasion

    options = random_scenario(8000, difficulty="hard", geometry="planar")
    with_leaders = simulate_invasion(**options)
    without = leaderless(8000, "planar", "hard")
    assert with_leaders.cells["is_leader"].any() and not without.cells["is_leader"].any()
    assert "leader" not in set(without.cells["role"]) and "decoy" in set(without.cells["role"])  # decoys still run
    assert without.image.shape == with_leaders.image.shape
    assert without.params["field_um"] == with_leaders.params["field_um"]


def test_null_benchmark_second_simulator_leaves_out_the_strands_and_nothing_else():
    import bench_foreign

    full = bench_foreign.simulate(7300, "planar")
    bare = bench_foreign.simulate(7300, "planar", strands=False)
    assert full.leaders and not bare.leaders
    assert {k: v for k, v in bare.params.items() if k != "strands"} == {k: v for k, v in full.params.items() if k != "strands"}
    assert bare.params["strands"] == 0 and full.params["strands"] > 0
    # the strands' cells (at most 7 each) are gone, and the sheet cells they pushed aside are back
    in_view = [len(np.unique(movie.labels[0])) - 1 for movie in (full, bare)]
    assert abs(in_view[0] - in_view[1]) <= full.params["strands"] * 7
    assert bare.image.shape == full.image.shape and not np.array_equal(bare.image, full.image)


def test_motile_sheet_benchmark_moves_the_sheet_cells_and_nothing_else():
    import bench_foreign
    from scipy import ndimage as ndi

    still = bench_foreign.simulate(7300, "planar")
    motile = bench_foreign.simulate(7300, "planar", sheet_motility=0.5)
    assert motile.params == still.params and motile.leaders == still.leaders
    assert motile.image.shape == still.image.shape

    def travel_px(movie, ids):
        """Per cell id: distance between its truth centroids in the first and the last frame."""
        first, last = (np.array(ndi.center_of_mass(np.ones_like(movie.labels[t]), movie.labels[t], ids)) for t in (0, -1))
        return np.linalg.norm(last - first, axis=1)

    in_view = set(np.unique(still.labels[0])) & set(np.unique(still.labels[-1])) & set(np.unique(motile.labels[0])) & set(
        np.unique(motile.labels[-1])
    )
    leaders, sheet = sorted(in_view & still.leaders), sorted(in_view - {0} - still.leaders)
    assert leaders and len(sheet) > 50
    # the strands move as before; the sheet cells travel further, on their own
    np.testing.assert_allclose(travel_px(motile, leaders), travel_px(still, leaders), atol=1.0)
    assert np.median(travel_px(motile, sheet)) > 3 * np.median(travel_px(still, sheet))


def test_null_benchmark_summary_counts_leaders_where_there_are_none():
    import pandas as pd
    from bench_null import in_all, summarise

    raw = pd.DataFrame({
        "simulator": "package", "geometry": "planar", "difficulty": "hard", "input": "images",
        "seed": [1, 2, 3, 4], "tracks": [100, 200, 300, 400], "leaders": [0, 2, 0, 1],
    })
    row = summarise(raw).iloc[0]
    assert row["movies"] == 4 and row["tracks_per_movie"] == 250
    assert row["leaders_per_movie"] == 0.75
    assert row["movies_with_none"] == 0.5
    assert row["leaders_per_1000_tracks"] == 3.0
    assert in_all(raw) == "the package's simulator from images: 3 leaders called in 4 movies, none in 2 of them"


def test_bootstrap_interval_of_a_mean_over_movies_holds_the_mean_and_narrows_with_more_movies():
    from _report import mean_ci95

    def bounds(values):
        low, high = (float(x) for x in mean_ci95(values).split("-"))
        return low, high

    rng = np.random.default_rng(1)
    few, many = rng.uniform(0.5, 1.0, 8), rng.uniform(0.5, 1.0, 200)
    for values in (few, many):
        low, high = bounds(values)
        assert low < values.mean() < high
    assert bounds(many)[1] - bounds(many)[0] < 0.5 * (bounds(few)[1] - bounds(few)[0])
    assert mean_ci95([0.9, 0.9, float("nan")]) == "0.900-0.900"  # NaN left out
    assert mean_ci95([]) == "-"
    assert mean_ci95(few) == mean_ci95(few)  # fixed resampling: the docs reproduce


def test_interval_column_sits_after_its_column_on_the_row_of_its_own_movies():
    import pandas as pd
    from _report import mean_ci95, with_interval

    runs = pd.DataFrame({"geometry": ["radial"] * 3 + ["planar"] * 3, "f1": [0.2, 0.4, 0.6, 1.0, 1.0, 1.0]})
    summary = runs.groupby("geometry", sort=False, as_index=False)["f1"].mean().assign(movies=3)  # radial first
    out = with_interval(summary, runs, ["geometry"])
    assert list(out.columns) == ["geometry", "f1", "f1_ci95", "movies"]
    assert out["geometry"].tolist() == ["radial", "planar"]
    assert out["f1_ci95"].tolist() == [mean_ci95([0.2, 0.4, 0.6]), "1.000-1.000"]


def test_paired_gain_interval_matches_movies_by_key_and_sees_a_small_steady_gain():
    import pandas as pd
    from _report import mean_ci95, paired_gain_ci95

    rng = np.random.default_rng(2)
    off = pd.DataFrame({"geometry": "planar", "seed": range(15), "f1": rng.uniform(0.3, 1.0, 15)})
    on = off.assign(f1=off["f1"] + 0.02).sample(frac=1.0, random_state=0)  # every movie gains 0.02; rows shuffled
    assert paired_gain_ci95(on, off, ["geometry", "seed"]) == "+0.020 to +0.020"
    # unpaired, the same gain is lost in how much the movies differ
    low, high = (float(x) for x in mean_ci95(on["f1"]).split("-"))
    assert low < off["f1"].mean() < high
    with pytest.raises(pd.errors.MergeError):
        paired_gain_ci95(pd.concat([on, on]), off, ["geometry", "seed"])


def test_duration_benchmark_pools_movies_by_their_length_in_motion_windows():
    import pandas as pd
    from bench_duration import movie_windows, summarise

    assert movie_windows(14, 5.0) == 2.0 and movie_windows(10, 15.0) == 2.0  # windows of 7 and 5 frames
    runs = pd.DataFrame({
        "windows": [0.5, 0.9, 1.0, 2.5, 12.0], "minutes": [10.0, 20.0, 30.0, 90.0, 600.0],
        "precision": 1.0, "recall": 1.0, "f1": [0.2, 0.4, 0.6, 0.9, 1.0],
    })
    summary = summarise(runs).set_index("motion windows")
    assert list(summary.index) == ["0-1", "1-1.5", "2-3", "10-inf"]  # shortest first, empty bins left out
    assert summary.loc["0-1", "movies"] == 2 and summary.loc["0-1", "f1"] == pytest.approx(0.3)
    assert summary.loc["1-1.5", "f1"] == 0.6  # a bin holds its lower edge
    assert summary.loc["0-1", "median minutes"] == 15.0


def test_contrast_benchmark_sets_the_sheet_speed_from_the_ratio_and_summarises_per_ratio():
    import pandas as pd
    from bench_contrast import one, summarise

    row = one(1000, 2.0)
    assert row["ratio_simulated"] == pytest.approx(2.0)  # the sheet runs at half the leaders' speed
    assert 0.0 <= row["f1"] <= 1.0
    runs = pd.DataFrame({"seed": [1, 2, 1], "ratio": [2.0, 2.0, 5.0], "ratio_simulated": [2.0, 1.8, 5.0],
                         "precision": 1.0, "recall": [0.5, 1.0, 1.0], "f1": [0.6, 1.0, 1.0]})
    summary = summarise(runs).set_index("leader speed / sheet advance")
    assert summary.loc[2.0, "movies"] == 2 and summary.loc[2.0, "f1"] == pytest.approx(0.8)
    assert summary.loc[2.0, "median simulated"] == pytest.approx(1.9) and summary.loc[2.0, "recall"] == 0.75
    assert list(summary.columns).index("f1_ci95") == list(summary.columns).index("f1") + 1


def test_glow_benchmark_adds_a_gaussian_glow_peaking_at_the_spheroid_centre():
    from bench_glow import glowing

    from leadertrack.synthetic import simulate_invasion

    sim = simulate_invasion(geometry="radial", n_frames=2, field_um=(120.0, 120.0), seed=1)
    added = glowing(sim, 1.0).astype(float) - sim.image.astype(float)
    signal = float(np.percentile(sim.image, 99)) - float(np.median(sim.image))
    first = sim.fronts.iloc[0]
    cy, cx = (round(first[f"centre_{a}_um"] / sim.pixel_size_um) for a in ("y", "x"))
    assert added[0, cy, cx] == pytest.approx(signal, rel=0.01)  # the peak, at the centre
    radius = round(first["front_position_um"] / sim.pixel_size_um)
    assert cx + radius < added.shape[2]  # one sigma out, still in the field: exp(-1/2) of the peak
    assert added[0, cy, cx + radius] == pytest.approx(signal * np.exp(-0.5), rel=0.02)
    assert (added[1] == added[0]).all() and (glowing(sim, 0.0) == sim.image).all()


def test_glow_benchmark_compares_the_defaults_with_a_plane_only_movie_by_movie():
    import pandas as pd
    from bench_glow import summarise

    raw = pd.DataFrame({
        "seed": [1, 1, 2, 2, 1, 1], "glow": [0.5, 0.5, 0.5, 0.5, 0.0, 0.0],
        "run": ["default", "plane", "default", "plane", "default", "plane"],
        "f1": [1.0, 0.5, 0.8, 0.8, 1.0, 1.0], "cells_found": [0.9, 0.6, 0.8, 0.7, 0.9, 0.9],
        "background_glow": [True, False, False, False, False, False], "stopped": False,
    })
    summary = summarise(raw).set_index("glow (of the nuclei's signal)")
    assert summary.loc[0.5, "movies"] == 2 and summary.loc[0.5, "f1"] == pytest.approx(0.9)
    assert summary.loc[0.5, "f1 plane only"] == pytest.approx(0.65)
    assert summary.loc[0.5, "movies taken to glow"] == 0.5 and summary.loc[0.0, "movies taken to glow"] == 0.0
    assert summary.loc[0.5, "cells found, plane only"] == pytest.approx(0.65)
    assert summary.loc[0.0, "gain in f1 (95 % interval)"] == "+0.000 to +0.000"


def test_the_model_benchmarks_reviewer_fixes_every_error_the_way_it_is_scored():
    """bench_model's reviewer: a wrong call flipped off, the longest piece of a missed leader flipped on, a
    found leader left alone; after it the calls score F1 1."""
    import pandas as pd
    from bench_model import f1, reviewed_calls

    cells = pd.DataFrame({
        "track_id": [1, 2, 3, 4, 5], "truth_id": [10, 20, 30, 30, 0], "n_frames": [9, 9, 4, 7, 9],
        "is_leader": [True, True, False, False, True],
    })
    movie = {"cells": cells, "leaders": {10, 30}}  # 20 and the background track 5 were called wrongly; 30 was missed
    calls = reviewed_calls(movie)
    assert calls.tolist() == [True, False, False, True, False]
    assert f1(movie, cells["is_leader"].to_numpy()) == pytest.approx(0.4) and f1(movie, calls.to_numpy()) == 1.0


def test_units_benchmark_runs_the_old_window_only_for_its_own_run_and_summarises_each_way(monkeypatch):
    import bench_units

    import leadertrack.features

    windows = []

    def fake_analyze(path):
        windows.append(leadertrack.features.UNCALIBRATED_WINDOW_FRAMES)
        raise RuntimeError("analysis failed")

    monkeypatch.setattr(bench_units, "analyze_movie", fake_analyze)
    with pytest.raises(RuntimeError):
        bench_units._f1_without_units(Path("plain.tif"), None, set(), bench_units.OLD_WINDOW_FRAMES)
    assert windows == [31] and leadertrack.features.UNCALIBRATED_WINDOW_FRAMES == 7  # put back even on failure
    runs = pd.DataFrame({
        "geometry": ["planar", "planar", "radial"], "seed": [0, 1, 0], "f1_with_units": [1.0, 0.5, 1.0],
        "f1_without_units": [1.0, 1.0, 0.5], "f1_without_units_31_frame_window": [0.0, 0.5, 0.0],
    })
    summary = bench_units.summarise(runs).set_index("geometry")
    assert summary.loc["planar", "movies"] == 2 and summary.loc["planar", "f1_with_units"] == 0.75
    assert list(summary.columns) == [
        "movies", "f1_with_units", "f1_with_units_ci95", "f1_without_units", "f1_without_units_ci95",
        "f1_without_units_31_frame_window", "f1_without_units_31_frame_window_ci95",
    ]
