"""Property tests of the Cell Tracking Challenge reader: track files that agree or disagree with
the masks. Consistent folders read exactly; any inconsistency is a one-line InputError.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadertrack.errors import InputError
from leadertrack.formats import read_tracks
from test_fuzz_tables import assert_valid_trackset

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
N_FRAMES, SIZE = 4, 24


@st.composite
def lineages(draw) -> list[tuple[int, int, int, int]]:
    """Consistent ``L B E P`` lines: tracks 1..n, each present B..E, parents ending before B."""
    lines: list[tuple[int, int, int, int]] = []
    for track in range(1, draw(st.integers(1, 4)) + 1):
        first = draw(st.integers(0, N_FRAMES - 1))
        last = draw(st.integers(first, N_FRAMES - 1))
        earlier = [line[0] for line in lines if line[2] < first]
        parent = draw(st.sampled_from([0, *earlier]))
        lines.append((track, first, last, parent))
    return lines


def _write(folder: Path, lines: list[tuple[int, int, int, int]], masks: np.ndarray, extra: str = "") -> None:
    folder.mkdir()
    (folder / "res_track.txt").write_text("".join(" ".join(map(str, line)) + "\n" for line in lines) + extra)
    for t, mask in enumerate(masks):
        tifffile.imwrite(folder / f"mask{t:03d}.tif", mask)


def _masks(lines: list[tuple[int, int, int, int]]) -> np.ndarray:
    masks = np.zeros((N_FRAMES, SIZE, SIZE), np.uint16)
    for track, first, last, _ in lines:
        y, x = divmod(track - 1, 2)
        masks[first : last + 1, 2 + 10 * y : 6 + 10 * y, 2 + 10 * x : 6 + 10 * x] = track
    return masks


def _track_of(lines: list[tuple[int, int, int, int]]) -> dict[int, int]:
    """``{segment: track}``: a segment that is its parent's only child and starts after the
    parent's last frame continues the parent's track (CTC writes a gap so)."""
    by_id = {line[0]: line for line in lines}
    n_children = {p: sum(line[3] == p for line in lines) for p in by_id}

    def track(segment: int) -> int:
        _, first, _, parent = by_id[segment]
        continues = parent in by_id and n_children[parent] == 1 and first > by_id[parent][2]
        return track(parent) if continues else segment

    return {segment: track(segment) for segment in by_id}


@FUZZ
@given(lines=lineages())
def test_consistent_folders_read_exactly(lines):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ctc"
        _write(folder, lines, _masks(lines))
        ts = read_tracks(folder)
    assert_valid_trackset(ts)
    track_of = _track_of(lines)
    frames = ts.tracks.groupby("track_id")["frame"].agg(set)
    parents = ts.cells.set_index("track_id")["parent_track_id"]
    assert set(frames.index) == set(track_of.values())
    for segment, first, last, parent in lines:
        track = track_of[segment]
        assert set(range(first, last + 1)) <= frames.loc[track]
        if track == segment:
            assert parents.loc[track] == (track_of[parent] if parent else 0)
    assert sum(len(f) for f in frames) == sum(last - first + 1 for _, first, last, _ in lines)


@FUZZ
@given(
    lines=lineages(),
    erase=st.lists(st.tuples(st.integers(0, N_FRAMES - 1), st.integers(1, 4)), max_size=2),
    paint=st.lists(st.tuples(st.integers(0, N_FRAMES - 1), st.integers(1, 9)), max_size=2),
    line_edits=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(-1, 9)), max_size=2),
    extra=st.sampled_from(["", "1 0 0\n", "x y z w\n", "5 0 0 0 0\n"]),
)
def test_inconsistent_folders_are_refused(lines, erase, paint, line_edits, extra):
    masks = _masks(lines)
    for t, track in erase:
        masks[t][masks[t] == track] = 0
    for t, track in paint:
        masks[t, 20:22, 20:22] = track
    edited = [list(line) for line in lines]
    for index, field, value in line_edits:
        edited[index % len(edited)][field] = value
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ctc"
        _write(folder, [tuple(line) for line in edited], masks, extra)
        try:
            ts = read_tracks(folder)
        except InputError as exc:
            assert str(exc).startswith(str(folder)) and "\n" not in str(exc), str(exc)
            return
    # read: then it must be exactly what the masks say
    assert_valid_trackset(ts)
    track_of = _track_of([tuple(line) for line in edited])  # read, so the lines are valid
    present = {(int(t), track_of[int(v)]) for t in range(N_FRAMES) for v in np.unique(masks[t]) if v}
    assert set(zip(ts.tracks["frame"], ts.tracks["track_id"])) == present
