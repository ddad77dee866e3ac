"""The plots of docs/benchmarks.md are drawn from its own tables (nothing is measured here)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import plots
from _report import read_tables, section, table, write_section

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_tables_read_back_as_written():
    first = pd.DataFrame({"geometry": ["planar", "radial"], "f1": [0.9, 0.75], "movies": [5, 16], "size_px": ["256x256", "1x2"]})
    second = pd.DataFrame({"method": ["a, b"], "TRA": [0.985]})
    markdown = f"Some text.\n\n{table(first)}\n\nMore text: 0.5.\n\n{table(second)}\n"
    tables = read_tables(markdown)
    assert len(tables) == 2
    pd.testing.assert_frame_equal(tables[0], first, check_dtype=False)
    assert tables[0]["movies"].dtype.kind == "i" and tables[0]["f1"].dtype.kind == "f"
    assert tables[1].to_dict("records") == [{"method": "a, b", "TRA": 0.985}]


def test_every_committed_table_reads_back_with_one_name_per_column():
    import re

    text = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    names = re.findall(r"<!-- (\S+):start -->", text)
    assert len(names) >= 20
    tables = [frame for name in names for frame in read_tables(section(name))]  # raises where a table repeats a name
    assert len(tables) >= 20
    with pytest.raises(ValueError, match="repeat a name"):
        read_tables(table(pd.DataFrame([[1, 2]], columns=["same", "same "])))


def test_every_figure_is_drawn_from_the_committed_numbers(tmp_path):
    markdown = tmp_path / "benchmarks.md"
    shutil.copy(ROOT / "docs" / "benchmarks.md", markdown)
    before = (ROOT / "docs" / "benchmarks.md").read_bytes()
    written = plots.write_plots(markdown, tmp_path / "images")
    assert sorted(p.stem for p in written) == sorted(plots.FIGURES)
    for png in written:
        assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 10_000
        assert f"](images/{png.name})" in section("plots", markdown)
    assert "Not drawn" not in section("plots", markdown)
    assert not list((tmp_path / "images").glob(".*partial*"))  # written atomically
    assert (ROOT / "docs" / "benchmarks.md").read_bytes() == before


def test_leader_bars_are_the_means_of_the_sections(tmp_path):
    markdown = tmp_path / "benchmarks.md"
    for name, f1 in (("pipeline", 0.8), ("pipeline-seeds-200", 0.6), ("leaders", 0.9)):
        rows = pd.DataFrame({"geometry": ["planar", "planar"], "difficulty": ["medium", "hard"], "f1": [f1, f1 / 2],
                             "naive_f1": [0.1, 0.2], "f1_truth_masks": [1.0, 0.9]})
        write_section(name, table(rows), markdown)
    fig, caption = plots.leaders_figure(markdown)
    planar = fig.axes[0]
    heights = [bar.get_height() for bar in planar.patches]
    # four series of three difficulties each, in order: ground-truth tracks, from images, true masks, naive
    by_series = np.array(heights).reshape(4, 3)
    np.testing.assert_allclose(by_series[0, 1:], [0.9, 0.45])
    np.testing.assert_allclose(by_series[1, 1:], [0.7, 0.35])
    np.testing.assert_allclose(by_series[2, 1:], [1.0, 0.9])
    np.testing.assert_allclose(by_series[3, 1:], [0.1, 0.2])
    assert np.isnan(by_series[:, 0]).all()  # no easy movies measured: no bar
    assert "`pipeline`, `pipeline-seeds-200`" in caption


def test_segmentation_bars_pool_the_simulated_geometries_and_skip_missing_scores(tmp_path):
    markdown = tmp_path / "benchmarks.md"
    rows = pd.DataFrame({
        "data": ["HeLa (Fluo-N2DL-HeLa/02)", "CTC Fluo-N2DH-GOWT1/01", "simulated planar medium", "simulated radial medium"],
        "method": ["leadertrack"] * 4,
        "SEG": [0.85, 0.81, 0.5, 0.7],
        "f1": ["0.9", "-", "0.6", "0.4"],
    })
    write_section("segmentation", table(rows), markdown)
    fig, caption = plots.segmentation_figure(markdown)
    seg, f1 = ([bar.get_height() for bar in ax.patches] for ax in fig.axes[:2])
    np.testing.assert_allclose(seg, [0.85, 0.81, 0.6])  # HeLa, GOWT1, the mean of the two simulated geometries
    np.testing.assert_allclose(f1, [0.9, np.nan, 0.5])  # GOWT1 has no F1: no bar
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["HeLa", "CTC Fluo-N2DH-GOWT1/01", "simulated medium"]
    assert "bench_segmentation.py" in caption


def test_missing_sections_leave_their_figures_out_and_say_so(tmp_path):
    markdown = tmp_path / "benchmarks.md"
    scores = pd.DataFrame({"sequence": ["Fluo-N2DH-SIM+/01"] * 2, "method": ["leadertrack", "trackpy"],
                           "SEG": [0.8, 0.2], "DET": [0.98, 0.4], "TRA": [0.97, 0.39]})
    write_section("tracking", table(scores), markdown)
    written = plots.write_plots(markdown, tmp_path / "images")
    assert [p.name for p in written] == ["ctc.png"]
    text = section("plots", markdown)
    assert "Not drawn, their benchmark sections are missing: leaders, independent_simulator, segmentation, speed, stages, limits." in text


@pytest.mark.parametrize("name", list(plots.FIGURES))
def test_no_figure_from_an_empty_record(tmp_path, name):
    markdown = tmp_path / "benchmarks.md"
    markdown.write_text("# Benchmarks\n", encoding="utf-8")
    assert plots.FIGURES[name](markdown) is None


def test_speed_lines_follow_each_axis_of_the_scaling_table():
    raw = pd.DataFrame({
        "varies": ["frames", "frames", "size", "nucleus"], "frames": [20, 40, 20, 20],
        "size_px": ["256x256", "256x256", "1024x1024", "512x512"], "nucleus_px": [10, 10, 10, 20],
        "leadertrack_s": [1.0, 2.0, 8.0, 1.5], "leadertrack_mb": [200.0, 210.0, 300.0, 250.0],
    })
    axes = plots._scaling(raw)
    assert axes["frames"][1]["x"].tolist() == [20, 40]
    assert axes["size"][1]["x"].tolist() == [256, 1024]
    assert axes["size"][1]["leadertrack_s"].tolist() == [1.0, 8.0]  # the smallest movie starts every axis
    assert axes["nucleus"][1]["x"].tolist() == [10, 20]
    assert axes["nucleus"][1]["leadertrack_s"].tolist() == [1.0, 1.5]


def test_the_large_nuclei_movies_are_a_fifth_series_when_measured(tmp_path):
    markdown = tmp_path / "benchmarks.md"
    rows = pd.DataFrame({"geometry": ["radial"], "difficulty": ["easy"], "f1": [0.5], "naive_f1": [0.1],
                         "f1_truth_masks": [1.0]})
    for name in ("pipeline", "leaders"):
        write_section(name, table(rows), markdown)
    assert len(plots.leaders_figure(markdown)[0].axes[2].patches) == 4 * 3
    write_section(plots.LARGE_NUCLEI_SECTION, table(rows.assign(f1=0.25)), markdown)
    fig, caption = plots.leaders_figure(markdown)
    heights = np.array([bar.get_height() for bar in fig.axes[2].patches]).reshape(5, 3)
    assert heights[4, 0] == 0.25
    assert f"`{plots.LARGE_NUCLEI_SECTION}`" in caption


def test_limits_panels_show_each_sections_f1_and_its_interval(tmp_path):
    markdown = tmp_path / "benchmarks.md"
    write_section("duration", table(pd.DataFrame({
        "motion windows": ["0-1", "1-1.5"], "movies": [3, 4], "f1": [0.5, 0.75], "f1_ci95": ["0.400-0.600", "0.700-0.900"],
    })), markdown)
    write_section("pipeline-nuclei-5px", table(pd.DataFrame({"geometry": ["planar", "radial"], "f1": [0.6, 0.8]})), markdown)
    fig, caption = plots.limits_figure(markdown)
    assert len(fig.axes) == 2  # the duration panel and the nucleus sizes; no contrast or glow section
    line = fig.axes[0].lines[0]
    np.testing.assert_allclose(line.get_ydata(), [0.5, 0.75])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0-1", "1-1.5"]
    bars = fig.axes[0].collections[0].get_segments()  # the error bars: from each interval's low end to its high end
    np.testing.assert_allclose([(s[0][1], s[1][1]) for s in bars], [(0.4, 0.6), (0.7, 0.9)])
    assert [round(b.get_height(), 3) for b in fig.axes[1].patches] == [0.7]  # the mean over the section's rows
    assert plots.limits_figure(tmp_path / "none.md") is None
    write_section("glow", table(pd.DataFrame({
        "glow (of the nuclei's signal)": [0.0, 1.0], "f1": [0.9, 0.95], "f1_ci95": ["0.800-1.000", "0.900-1.000"],
        "f1 plane only": [0.9, 0.6],
    })), markdown)
    glow_axis = plots.limits_figure(markdown)[0].axes[1]
    baseline = [line for line in glow_axis.lines if line.get_label() == "plane only"]
    np.testing.assert_allclose(baseline[0].get_ydata(), [0.9, 0.6])  # beside the defaults
    assert sorted(t.get_text() for t in glow_axis.get_legend().get_texts()) == ["defaults", "plane only"]
