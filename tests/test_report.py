"""Tests for the per-movie report and the batch index page."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from leadertrack.pipeline import MovieResult, write_result
from leadertrack.report import report_html, write_batch_index, write_folder_report, write_report

N_FRAMES = 8
SHAPE = (N_FRAMES, 60, 80)


class _Tags(HTMLParser):
    """Collects every tag's attributes and the section ids."""

    def __init__(self) -> None:
        super().__init__()
        self.attrs: list[tuple[str, dict]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.attrs.append((tag, dict(attrs)))


def _tags(text: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(text)
    return parser.attrs


class _ArrayMovie:
    """The two methods of a Movie the report may use, counting the frames it reads."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.read: list[int] = []

    def __len__(self) -> int:
        return len(self.array)

    def frame(self, t: int) -> np.ndarray:
        self.read.append(t)
        return self.array[t]


def _result(
    *, n_leaders: int = 2, n_tracks: int = 6, calibrated: bool = True, seed: int = 0, with_movie: bool = True
) -> MovieResult:
    """A small planar-invasion result: cells move up the x axis; the first ``n_leaders`` lead."""
    rng = np.random.default_rng(seed)
    pixel_size, interval = (0.5, 10.0) if calibrated else (1.0, 1.0)
    rows = []
    for tid in range(1, n_tracks + 1):
        leader = tid <= n_leaders
        y0, x0 = 8.0 + 8 * tid, 10.0 + rng.uniform(0, 5)
        for t in range(N_FRAMES):
            leading_now = leader and t >= 2
            rows.append(
                dict(track_id=tid, frame=t, label=tid, y=y0 + rng.normal(0, 0.3), x=x0 + (3.0 if leader else 1.0) * t,
                     is_leader=leading_now, role="leader" if leading_now else ("follower" if tid <= 2 * n_leaders else "other"))
            )
    tracks = pd.DataFrame(rows) if rows else pd.DataFrame(columns=["track_id", "frame", "label", "y", "x", "is_leader", "role"])
    tracks["time_min"] = tracks["frame"] * interval
    tracks["y_um"], tracks["x_um"] = tracks["y"] * pixel_size, tracks["x"] * pixel_size
    ordered = tracks.sort_values(["track_id", "frame"])
    for axis in ("y", "x"):
        tracks[f"v{axis}_um_per_min"] = ordered.groupby("track_id")[f"{axis}_um"].diff() / interval
    tracks["speed_um_per_min"] = np.hypot(tracks["vy_um_per_min"], tracks["vx_um_per_min"])
    tracks["follows_track_id"] = 0
    starts = tracks["is_leader"] & ~tracks.groupby("track_id")["is_leader"].shift(1, fill_value=False)
    tracks["leader_episode"] = np.where(tracks["is_leader"], starts.astype(int).groupby(tracks["track_id"]).cumsum(), 0)
    cells = pd.DataFrame(
        dict(
            track_id=np.arange(1, n_tracks + 1),
            n_frames=N_FRAMES,
            mean_speed_um_per_min=[1.5 if t <= n_leaders else 0.5 for t in range(1, n_tracks + 1)],
            persistence=rng.uniform(0.2, 1.0, n_tracks),
            front_distance_um=rng.uniform(0, 20, n_tracks),
            leader_fraction=[0.75 if t <= n_leaders else 0.0 for t in range(1, n_tracks + 1)],
            leader_score=[0.9 if t <= n_leaders else 0.1 for t in range(1, n_tracks + 1)],
            is_leader=[t <= n_leaders for t in range(1, n_tracks + 1)],
            follows_track_id=[1 if n_leaders < t <= 2 * n_leaders else 0 for t in range(1, n_tracks + 1)],
            reason=["fast and persistent at the front" if t <= n_leaders else "behind the front" for t in range(1, n_tracks + 1)],
        )
    )
    fronts = pd.DataFrame(
        dict(frame=range(N_FRAMES), time_min=np.arange(N_FRAMES) * interval, front_id=1, geometry="planar",
             front_position_um=(30.0 + 2.0 * np.arange(N_FRAMES)) * pixel_size, front_speed_um_per_min=2.0 * pixel_size / interval,
             normal_y=0.0, normal_x=1.0)
    )
    labels = np.zeros(SHAPE, dtype=np.uint32)
    for row in tracks.itertuples():
        y, x = int(row.y), int(row.x)
        labels[row.frame, max(y - 2, 0) : y + 2, max(x - 2, 0) : min(x + 2, SHAPE[2])] = row.label
    warnings = [] if calibrated else ["no pixel size in the file's metadata", "no frame interval in the file's metadata"]
    provenance = {
        "leadertrack_version": "0.1.0",
        "versions": {"python": "3.11", "numpy": np.__version__},
        "input": {"path": "array", "shape": list(SHAPE)},
        "units": {
            "pixel_size_um": pixel_size if calibrated else None,
            "pixel_size_source": "ome" if calibrated else "none",
            "frame_interval_min": interval if calibrated else None,
            "frame_interval_source": "user" if calibrated else "none",
            "space_calibrated": calibrated,
            "time_calibrated": calibrated,
        },
        "nucleus_diameter_um": 4.0 * pixel_size,
        "nucleus_diameter_source": "estimated",
        "search_range_um": 6.0 * pixel_size,
        "search_range_source": "derived",
        "front": {"geometry": "planar", "n_fronts": 1, "median_front_speed_um_per_min": 2.0 * pixel_size / interval,
                  "confidence": 0.9, "reason": "cells cover 97% of the low x side of the field"},
        "config": {"link": {"memory": 3, "min_track_length": 3}, "classify": {"model_path": None, "threshold": 0.5}},
        "counts": {"frames": N_FRAMES, "tracks": n_tracks, "leaders": n_leaders},
        "warnings": warnings,
    }
    movie = _ArrayMovie(rng.normal(100, 10, SHAPE)) if with_movie else None
    return MovieResult(name="assay_01", tracks=tracks, cells=cells, fronts=fronts, labels=labels, provenance=provenance, movie=movie)


def _section(text: str, anchor: str) -> str:
    match = re.search(rf'<section id="{anchor}">(.*?)</section>', text, flags=re.S)
    assert match, f"section {anchor} missing"
    return match.group(1)


SECTIONS = [
    "summary", "frames", "front", "distributions", "headings", "episodes", "leaders", "parameters", "methods",
    "warnings", "provenance",
]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[MovieResult, Path]:
    """The default result and its report, written once for the tests that only read it."""
    result = _result()
    return result, write_report(result, tmp_path_factory.mktemp("report") / "report.html")


def test_report_has_every_section_and_only_embedded_images(written: tuple[MovieResult, Path]) -> None:
    _, path = written
    text = path.read_text(encoding="utf-8")
    for anchor in SECTIONS:
        _section(text, anchor)
    images = [attrs for tag, attrs in _tags(text) if tag == "img"]
    assert len(images) == 5  # frames, front, distributions, rose, episodes
    for attrs in images:
        assert attrs["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(attrs["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    external = [a for _, a in _tags(text) for key in ("src", "href") if key in a and re.match(r"(https?:)?//", a[key])]
    assert external == []
    assert "<link" not in text and "<script" not in text
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_report_reads_only_the_first_and_last_frame(written: tuple[MovieResult, Path]) -> None:
    result, _ = written
    assert sorted(set(result.movie.read)) == [0, N_FRAMES - 1]


def test_report_states_leader_count_units_and_their_source(written: tuple[MovieResult, Path]) -> None:
    text = written[1].read_text(encoding="utf-8")
    summary = _section(text, "summary")
    assert "<b>2 leaders</b> (33% of tracks) among <b>6 tracks</b> over 8 frames" in summary
    assert re.search(r"mean speed</td><td>1.5</td><td>0.5</td><td>µm/min", summary)
    parameters = _section(text, "parameters")
    assert re.search(r"pixel size</td><td>0.5</td><td>µm/px</td><td>ome", parameters)
    assert re.search(r"frame interval</td><td>10</td><td>min</td><td>user", parameters)
    assert re.search(r"nucleus diameter</td><td>2</td><td>µm</td><td>estimated", parameters)
    assert "background taken out" not in parameters  # a run.json from before the glow was looked for
    assert "Lengths are in µm, times in minutes" in parameters
    leaders = _section(text, "leaders")
    assert leaders.count("fast and persistent at the front") == 2
    assert "mean_speed_um_per_min" in leaders
    assert "numpy" in _section(text, "provenance")
    assert "Median front speed: 0.1 µm/min" in _section(text, "front")
    assert "Geometry: planar (confidence 0.90: cells cover 97% of the low x side of the field)." in _section(text, "front")


def test_uncalibrated_report_speaks_pixels_and_frames() -> None:
    text = report_html(_result(calibrated=False))
    summary = _section(text, "summary")
    assert "no pixel size and no frame interval" in summary
    assert "speed_px_per_frame" in summary
    assert "Lengths are in pixels, times in frames" in _section(text, "parameters")
    assert "mean_speed_px_per_frame" in _section(text, "leaders")
    assert "µm/min" not in _section(text, "leaders")
    assert _section(text, "warnings").count("<li>") == 2


def test_zero_leaders_is_a_report_not_an_error() -> None:
    text = report_html(_result(n_leaders=0))
    assert "<b>0 leaders</b> (0% of tracks) among <b>6 tracks</b>" in text
    assert "No leader frames" in _section(text, "headings")
    assert "No track was in the leader state" in _section(text, "episodes")
    assert "No track was called a leader" in _section(text, "leaders")
    assert "<img" in _section(text, "distributions")


def test_zero_tracks_and_no_movie() -> None:
    result = _result(n_tracks=0, n_leaders=0, with_movie=False)
    result.fronts = result.fronts.iloc[:0]
    text = report_html(result)
    assert "<b>0 leaders</b> among <b>0 tracks</b> over 8 frames" in text
    assert "label outlines" in _section(text, "frames")
    assert "No invasion front" in _section(text, "front")
    assert "No tracks to compare" in _section(text, "distributions")


def test_names_are_escaped() -> None:
    result = _result(n_tracks=0, n_leaders=0, with_movie=False)
    result.name = "<movie & co>"
    text = report_html(result)
    assert "<movie & co>" not in text and "&lt;movie &amp; co&gt;" in text


def test_folder_report_from_a_written_result(tmp_path: Path) -> None:
    result = _result(calibrated=False, with_movie=False)
    labels, result.labels = result.labels, None
    folder = write_result(result, tmp_path)
    tifffile.imwrite(folder / "labels.tif", labels)
    path = write_folder_report(folder)
    assert path == folder / "report.html"
    text = path.read_text(encoding="utf-8")
    assert "<b>2 leaders</b>" in text
    assert "label outlines" in _section(text, "frames")
    assert "mean_speed_px_per_frame" in _section(text, "leaders")


def test_folder_report_rejects_a_folder_that_is_not_a_result(tmp_path: Path) -> None:
    from leadertrack.errors import InputError

    with pytest.raises(InputError, match=str(tmp_path)):
        write_folder_report(tmp_path)


def test_batch_index_links_every_report(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    (tmp_path / "a" / "report.html").write_text("<html></html>", encoding="utf-8")
    summary = pd.DataFrame(
        {
            "movie": ["a", "b", "broken"],
            "status": ["ok", "skipped", "failed"],
            "error": [np.nan, "result exists", "InputError: broken.tif: not a TIFF"],
            "tracks": [12, 7, np.nan],
            "leaders": [3, 1, np.nan],
        }
    )
    path = write_batch_index(summary, tmp_path)
    text = path.read_text(encoding="utf-8")
    hrefs = [a["href"] for tag, a in _tags(text) if tag == "a"]
    assert "a/report.html" in hrefs and "b/" in hrefs and "summary.csv" in hrefs
    assert not any("broken" in h for h in hrefs)
    assert "1 ok, 1 skipped, 1 failed" in text
    assert "InputError: broken.tif: not a TIFF" in text
    assert "<td>12</td>" in text and ">nan<" not in text.lower()
    assert re.search(r"<td>broken</td><td class=\"failed\">failed</td>", text)


@pytest.mark.parametrize("geometry", ["planar", "radial"])
def test_leader_headings_are_relative_to_outward(geometry: str) -> None:
    """Leaders moving straight away from the collective have headings near 0 (outward)."""
    from leadertrack.report import _leader_headings

    result = _result()
    if geometry == "radial":  # leaders move +x from a centre far to their left: outward too
        result.fronts = result.fronts.drop(columns=["normal_y", "normal_x"]).assign(
            geometry="radial", centre_y_um=result.tracks["y_um"].mean(), centre_x_um=-1000.0
        )
    headings, relative = _leader_headings(result)
    assert relative
    assert len(headings) == int(result.tracks["is_leader"].sum())
    assert np.all(np.abs(headings) < np.deg2rad(20))
    flipped = _result()
    flipped.fronts["normal_x"] = -1.0  # the same motion against the normal is "back into the collective"
    back, _ = _leader_headings(flipped)
    assert np.all(np.abs(back) > np.deg2rad(160))


def test_write_reports_of_a_batch_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import leadertrack.report as report
    from leadertrack.errors import InputError
    from leadertrack.report import write_reports

    # this test is about which pages get written; drawing figures is tested above
    monkeypatch.setattr(report, "report_figures", lambda result: {k: (None, "") for k in report.FIGURE_TITLES})

    for name in ("m1", "m2"):
        result = _result(n_tracks=3, n_leaders=1, with_movie=False)
        result.name, result.labels = name, None
        write_result(result, tmp_path)
    pd.DataFrame({"movie": ["m1", "m2"], "status": ["ok", "ok"], "error": ["", ""]}).to_csv(tmp_path / "summary.csv", index=False)
    written = write_reports([tmp_path])
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == ["index.html", "m1/report.html", "m2/report.html"]
    assert "<b>1 leader</b>" in (tmp_path / "m2" / "report.html").read_text(encoding="utf-8")
    assert write_reports([tmp_path / "m1"]) == [tmp_path / "m1" / "report.html"]
    with pytest.raises(InputError, match="not a leadertrack result folder"):
        write_reports([tmp_path / "m1" / "tracks.csv"])


def test_episodes_count_hand_overs() -> None:
    """Track 2 follows track 1 and then takes the lead: one hand-over, named in the caption."""
    from leadertrack.report import report_figures

    result = _result()
    rows = result.tracks["track_id"] == 2
    result.tracks.loc[rows & (result.tracks["frame"] < 2), "follows_track_id"] = 1
    fig, caption = report_figures(result)["episodes"]
    assert fig is not None
    assert "2 leader episodes in 2 tracks" in caption
    assert "1 hand-over:" in caption
    assert any(t.get_text() == "from 1" for t in fig.axes[0].texts)


def test_report_says_when_calls_were_corrected_by_hand() -> None:
    from leadertrack.pipeline import apply_corrections

    result = _result(n_tracks=0, n_leaders=0, with_movie=False)
    assert "corrected by hand" not in report_html(result)
    result = _result(n_tracks=3, n_leaders=1, with_movie=False)
    corrected = apply_corrections(result, pd.DataFrame({"track_id": [1, 2], "is_leader": [False, True]}))
    text = report_html(corrected)
    assert "2 calls corrected by hand" in text
    assert "<b>1 leader</b>" in text  # track 1 demoted, track 2 promoted


def test_methods_text_names_what_was_used() -> None:
    from leadertrack.report import methods_text

    text = methods_text(_result().provenance)
    assert "pixel size 0.5 µm (ome), frame interval 10 min (user)" in text
    assert "nucleus diameter 2 µm, estimated from the movie" in text
    assert "search range 3 µm, gaps of up to 3 frames closed" in text
    assert "The invasion front (planar)" in text and "at least 0.5" in text
    assert "block-averaged" not in text  # nuclei of 4 px: segmented as they are
    large = dict(_result().provenance, nucleus_diameter_um=25.0)  # 50 px at 0.5 µm per pixel
    assert "nucleus diameter 25 µm, estimated from the movie; on each frame block-averaged 2 x 2)" in methods_text(large)
    assert "glowing background" not in text
    glowing = dict(_result().provenance, background_glow=True)
    assert "estimated from the movie; the glowing background taken out of each frame as its lower envelope)" in methods_text(glowing)
    uncalibrated = methods_text(_result(calibrated=False).provenance)
    assert "no pixel size (lengths are in pixels), no frame interval (times are in frames)" in uncalibrated
    assert "nucleus diameter 4 px" in uncalibrated
    masks = dict(_result().provenance, nucleus_diameter_source="labels", input={"labels": "/data/masks/well_A1_cp_masks.tif"})
    assert "Nuclei were taken from label masks provided by the user (well_A1_cp_masks.tif), and" in methods_text(masks)
    from_napari = dict(masks, input={"labels": "array"})
    assert "Nuclei were taken from label masks provided by the user, and" in methods_text(from_napari)
    tracks_only = dict(_result().provenance, input={"kind": "tracks", "ndim": 3, "units_source": "Imaris .mat"})
    text = methods_text(tracks_only)
    assert text.startswith("3-D tracks made with another tool (Imaris .mat)") and "segmented" not in text
    assert "The invasion front (planar)" in text


def test_the_parameters_say_how_the_background_was_taken_out() -> None:
    from leadertrack.report import _parameters

    provenance = _result().provenance
    plane = _parameters(dict(provenance, background_glow=False))
    assert re.search(r"background taken out</td><td>a plane, where the field slopes steeply</td><td></td><td>estimated", plane)
    glowing = _parameters(dict(provenance, background_glow=True, config={**provenance["config"], "segment": {"glow": True}}))
    assert re.search(r"background taken out</td><td>the lower envelope of each frame \(the background glows\)</td><td></td><td>config", glowing)
    masks = _parameters(dict(provenance, background_glow=False, nucleus_diameter_source="labels"))
    assert "background taken out" not in masks


def test_failed_write_leaves_the_old_report_and_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import leadertrack.atomic as atomic
    import leadertrack.report as report

    path = tmp_path / "report.html"
    path.write_text("old report", encoding="utf-8")

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        report._write_text("new report", path)
    assert path.read_text(encoding="utf-8") == "old report"
    assert list(tmp_path.iterdir()) == [path]


def test_methods_text_says_how_corrections_were_used() -> None:
    from leadertrack.report import methods_text

    base = _result().provenance
    one = methods_text(dict(base, corrections={"n": 1}))
    assert "1 call was corrected by hand." in one
    kept = methods_text(dict(base, corrections={"n": 3}, retrained={"penalty": None}))
    assert "3 calls were corrected by hand; retrained on them, the classifier stayed the rule" in kept
    changed = methods_text(dict(base, corrections={"n": 3}, retrained={"penalty": 10.0}))
    assert "3 calls were corrected by hand, and the classifier was retrained on the corrections." in changed
