"""Scores against a ground truth: segmentation object by object."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from skimage.draw import disk

from leadertrack.errors import InputError
from leadertrack.evaluate import segmentation_scores
from leadertrack.segment import segment
from leadertrack.synthetic import simulate_invasion


def test_seg_agrees_with_py_ctcmetrics_on_a_segmented_simulated_movie(tmp_path):
    from ctc_metrics.metrics.technical.seg import seg
    from ctc_metrics.utils.representations import match

    sim = simulate_invasion(geometry="planar", difficulty="medium", seed=4, n_frames=3, field_um=(120.0, 120.0))
    found = segment(sim.image, nucleus_diameter_um=sim.params["nucleus_diameter_um"], pixel_size_um=sim.params["pixel_size_um"])
    refs, ious = [], []
    for t in range(3):
        tifffile.imwrite(tmp_path / f"ref{t}.tif", sim.labels[t].astype(np.uint16))
        tifffile.imwrite(tmp_path / f"res{t}.tif", found[t].astype(np.uint16))
        labels_ref, _, _, _, iou = match(str(tmp_path / f"ref{t}.tif"), str(tmp_path / f"res{t}.tif"))
        refs.append(labels_ref)
        ious.append(iou)
    scores = segmentation_scores(sim.labels, found)
    assert 0.3 < scores["seg"] < 0.99  # an imperfect segmentation, so the comparison means something
    assert scores["seg"] == pytest.approx(seg(refs, ious), abs=1e-9)
    assert scores["n_truth"] == sum(len(r) for r in refs)


def test_two_nuclei_in_one_object_count_for_seg_but_not_as_detections():
    truth = np.zeros((40, 60), np.int32)
    truth[disk((20, 15), 8)] = 1
    truth[disk((20, 45), 8)] = 2
    merged = np.where(truth > 0, 5, 0)  # one object over both, each nucleus exactly half of it
    scores = segmentation_scores(truth, merged)
    # SEG: each nucleus is more than half covered, with IoU one half
    assert scores["seg"] == pytest.approx(0.5)
    # detection: an IoU of one half is no match, so no nucleus is found and the object is false
    assert (scores["n_matched"], scores["precision"], scores["recall"]) == (0, 0.0, 0.0)
    both = segmentation_scores(truth, truth * 3)  # ids need not agree
    assert (both["seg"], both["f1"], both["n_found"]) == (1.0, 1.0, 2)


def test_frames_are_scored_separately():
    truth = np.zeros((2, 10, 10), np.int32)
    truth[0, :5] = 1
    truth[1, 5:] = 1  # the same id in another frame and place: another object
    found = truth.copy()
    found[1] = 0
    scores = segmentation_scores(truth, found)
    assert (scores["n_truth"], scores["n_found"], scores["n_matched"]) == (2, 1, 1)
    assert scores["seg"] == pytest.approx(0.5)


def test_labels_of_another_shape_are_refused():
    with pytest.raises(InputError, match="differ in shape"):
        segmentation_scores(np.zeros((4, 4), int), np.zeros((4, 5), int))


def test_truth_labels_of_another_movie_are_refused_with_a_reason():
    """Labels with fewer frames than the tracks, or 2-D labels, used to end in numpy's IndexError."""
    import pandas as pd

    from leadertrack.evaluate import truth_track_ids

    tracks = pd.DataFrame({"track_id": [1, 1, 1], "frame": [0, 1, 2], "y": [1.0, 1, 1], "x": [1.0, 1, 1]})
    labels = np.zeros((3, 4, 4), int)
    labels[:, 1, 1] = 7
    assert truth_track_ids(tracks, labels).to_dict() == {1: 7}
    with pytest.raises(InputError, match="reach frame 2 but the truth labels have 2 frames"):
        truth_track_ids(tracks, labels[:2])
    with pytest.raises(InputError, match=r"\(T, Y, X\) stack"):
        truth_track_ids(tracks, labels[0])
