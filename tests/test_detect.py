"""Tests for leadertrack.detect: the detections table from label images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from skimage.measure import regionprops_table

from leadertrack.detect import detect, detect_frame


def _random_labels(seed: int, shape=(60, 80), n=12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, dtype=np.uint32)
    for value in rng.choice(np.arange(1, 500), size=n, replace=False):
        y, x = rng.integers(0, shape[0] - 8), rng.integers(0, shape[1] - 8)
        h, w = rng.integers(1, 8, size=2)
        labels[y : y + h, x : x + w] = value
    return labels


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_detect_frame_matches_regionprops(seed):
    labels = _random_labels(seed)
    intensity = np.random.default_rng(seed + 10).random(labels.shape) * 100
    table = detect_frame(labels, intensity, frame=4)
    expected = pd.DataFrame(
        regionprops_table(labels.astype(int), intensity, properties=("label", "centroid", "area", "intensity_mean"))
    )
    assert list(table.columns) == ["frame", "label", "y", "x", "area_px", "mean_intensity"]
    assert (table["frame"] == 4).all()
    np.testing.assert_array_equal(table["label"], expected["label"])
    np.testing.assert_allclose(table["y"], expected["centroid-0"])
    np.testing.assert_allclose(table["x"], expected["centroid-1"])
    np.testing.assert_array_equal(table["area_px"], expected["area"])
    np.testing.assert_allclose(table["mean_intensity"], expected["intensity_mean"])


def test_detect_frame_without_intensity_and_without_objects():
    assert detect_frame(_random_labels(3))["mean_intensity"].isna().all()
    empty = detect_frame(np.zeros((5, 5), dtype=np.uint16))
    assert empty.empty and list(empty.columns) == ["frame", "label", "y", "x", "area_px", "mean_intensity"]


def test_detect_frame_rejects_mismatched_intensity():
    with pytest.raises(ValueError, match="shape"):
        detect_frame(np.zeros((5, 5), dtype=int), np.zeros((5, 6)))


def test_detect_stack_numbers_frames_and_reports_progress():
    stack = np.stack([_random_labels(s) for s in range(3)])
    movie = np.random.default_rng(7).random(stack.shape)
    calls = []
    table = detect(stack, movie, progress=lambda *a: calls.append(a))
    assert calls == [("detect", 1, 3), ("detect", 2, 3), ("detect", 3, 3)]
    for t in range(3):
        part = table[table["frame"] == t].reset_index(drop=True)
        expected = detect_frame(stack[t], movie[t], frame=t)
        pd.testing.assert_frame_equal(part, expected)


def test_detect_reads_a_movie_lazily_frame_by_frame():
    stack = np.stack([_random_labels(s) for s in range(2)])
    images = np.random.default_rng(8).random(stack.shape)

    class Movie:
        def __len__(self):
            return 2

        def frame(self, t):
            return images[t]

    np.testing.assert_allclose(detect(stack, Movie())["mean_intensity"], detect(stack, images)["mean_intensity"])


def test_detect_two_d_labels():
    labels = _random_labels(5)
    pd.testing.assert_frame_equal(detect(labels), detect_frame(labels))
