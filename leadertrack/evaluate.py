"""Compare leadertrack's calls and segmentation with a ground truth: simulated movies or your own annotation."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from leadertrack.errors import InputError

__all__ = [
    "called_leader_agreement", "frame_leader_agreement", "leader_agreement", "merged_and_missed_nuclei",
    "precision_recall_f1", "segmentation_scores", "truth_labels_under", "truth_track_ids",
]


def truth_labels_under(tracks: pd.DataFrame, truth_labels: np.ndarray) -> np.ndarray:
    """For each row of ``tracks`` (``frame``, ``y``, ``x`` in pixels): the ground-truth label at its
    position, rounded to the nearest pixel and clipped to the image (0 = background).

    Examples
    --------
    >>> labels = np.zeros((1, 4, 4), int); labels[0, 1, 1] = 7
    >>> truth_labels_under(pd.DataFrame({"frame": [0, 0], "y": [1.2, 3.0], "x": [0.9, 9.0]}), labels).tolist()
    [7, 0]
    """
    if np.ndim(truth_labels) != 3:
        raise InputError(f"truth labels must be a (T, Y, X) stack, got shape {np.shape(truth_labels)}")
    frame = tracks["frame"].to_numpy(int)
    if frame.size and (frame.min() < 0 or frame.max() >= truth_labels.shape[0]):
        raise InputError(
            f"the tracks reach frame {frame.max()} but the truth labels have {truth_labels.shape[0]} frames (0 to "
            f"{truth_labels.shape[0] - 1}): not the labels of these tracks' movie"
        )
    y = np.clip(np.rint(tracks["y"].to_numpy(float)).astype(int), 0, truth_labels.shape[1] - 1)
    x = np.clip(np.rint(tracks["x"].to_numpy(float)).astype(int), 0, truth_labels.shape[2] - 1)
    return np.asarray(truth_labels)[frame, y, x]


def truth_track_ids(tracks: pd.DataFrame, truth_labels: np.ndarray) -> pd.Series:
    """For each found track, the ground-truth object it sits on most often.

    Parameters
    ----------
    tracks
        Found tracks: ``track_id``, ``frame``, ``y``, ``x`` (pixels).
    truth_labels
        (T, Y, X) ground-truth label stack whose values are the true track ids (0 = background),
        e.g. ``Simulation.labels`` or a CTC ``man_track`` stack.

    Returns
    -------
    pandas.Series
        Indexed by found ``track_id``: the true track id (0 when the track mostly sits on
        background).

    Examples
    --------
    >>> labels = np.zeros((2, 4, 4), int); labels[:, 1, 1] = 7
    >>> t = pd.DataFrame({"track_id": [1, 1], "frame": [0, 1], "y": [1.2, 0.9], "x": [1.0, 1.1]})
    >>> truth_track_ids(t, labels).to_dict()
    {1: 7}
    """
    under = pd.Series(truth_labels_under(tracks, truth_labels), index=tracks.index)
    return under.groupby(tracks["track_id"].to_numpy()).agg(lambda s: int(s.mode().iloc[0]))


def merged_and_missed_nuclei(truth_cells: pd.DataFrame, labels: np.ndarray) -> tuple[float, float]:
    """How a segmentation fares on the true nuclei: the share that sit in one object with another
    true nucleus (merged), and the share that sit on background (missed).

    Parameters
    ----------
    truth_cells
        True nucleus centres, one row per nucleus and frame: ``frame``, ``y``, ``x`` (pixels), e.g.
        the visible rows of ``Simulation.tracks``.
    labels
        (T, Y, X) label stack of the segmentation under test (0 = background).

    Returns
    -------
    tuple of float
        (merged, missed), each a fraction of the rows of ``truth_cells`` (NaN when it is empty).
        Two nuclei in one object both count as merged.

    Examples
    --------
    >>> labels = np.zeros((1, 8, 8), int); labels[0, :4, :4] = 1
    >>> cells = pd.DataFrame({"frame": [0, 0, 0, 0], "y": [1, 2, 6, 6], "x": [1, 2, 6, 1]})
    >>> merged_and_missed_nuclei(cells, labels)
    (0.5, 0.5)
    """
    if len(truth_cells) == 0:
        return float("nan"), float("nan")
    under = truth_labels_under(truth_cells, labels).astype(np.int64)
    found = under > 0
    objects = pd.Series(truth_cells["frame"].to_numpy(np.int64)[found] * (int(under.max()) + 1) + under[found])
    merged = int((objects.map(objects.value_counts()) > 1).sum())
    return merged / len(under), float((~found).sum()) / len(under)


def segmentation_scores(truth_labels: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """How well a segmentation matches reference masks, object by object.

    Frames are scored separately (an object is one label in one frame) and the counts pooled.

    - ``seg``: the Cell Tracking Challenge SEG measure. A reference object is matched by the
      found object that covers more than half of it; its score is their intersection over union
      (IoU), 0 when no found object covers half of it; ``seg`` is the mean over reference objects.
    - ``precision``, ``recall``, ``f1``: object detection scores, a reference and a found object
      matching when their IoU exceeds 0.5 (so each matches at most one). Precision means something
      only when every nucleus of a frame is in the reference: found objects on nuclei left out of it
      count as false.

    Parameters
    ----------
    truth_labels, labels
        Reference and found label images of the same shape: one 2-D frame, or (T, Y, X) frames
        (0 = background; ids need not be contiguous).

    Returns
    -------
    dict
        ``seg``, ``precision``, ``recall``, ``f1``, ``n_truth``, ``n_found``, ``n_matched``
        (``seg`` is NaN without reference objects).

    Raises
    ------
    InputError
        When the two label images differ in shape.

    Examples
    --------
    >>> truth = np.zeros((8, 8), int); truth[:4, :4] = 1; truth[5:, 5:] = 2
    >>> found = np.zeros((8, 8), int); found[:4, :3] = 7; found[0, 6] = 9
    >>> {k: round(v, 2) for k, v in segmentation_scores(truth, found).items()}
    {'seg': 0.38, 'precision': 0.5, 'recall': 0.5, 'f1': 0.5, 'n_truth': 2, 'n_found': 2, 'n_matched': 1}
    """
    truth_labels, labels = np.asarray(truth_labels), np.asarray(labels)
    if truth_labels.shape != labels.shape:
        raise InputError(f"reference and found labels differ in shape: {truth_labels.shape} and {labels.shape}")
    if truth_labels.ndim == 2:
        truth_labels, labels = truth_labels[None], labels[None]
    ious, best, n_truth, n_found = [], [], 0, 0
    for reference, found in zip(truth_labels, labels):
        reference, found = reference.ravel().astype(np.int64), found.ravel().astype(np.int64)
        area_ref, area_found = np.bincount(reference), np.bincount(found)
        n_truth += int(np.count_nonzero(area_ref[1:]))
        n_found += int(np.count_nonzero(area_found[1:]))
        both = (reference > 0) & (found > 0)
        base = found.max() + 1  # a (reference, found) pair as one number
        pairs, overlap = np.unique(reference[both] * base + found[both], return_counts=True)
        ref_id, found_id = np.divmod(pairs, base)
        iou = overlap / (area_ref[ref_id] + area_found[found_id] - overlap)
        ious.append(iou)
        best.append(np.where(overlap > 0.5 * area_ref[ref_id], iou, 0.0))  # at most one per reference object
    iou, covered = np.concatenate(ious), np.concatenate(best)
    n_matched = int(np.count_nonzero(iou > 0.5))
    precision, recall, f1 = _scores(n_matched, n_found, n_truth)
    seg = float(covered.sum() / n_truth) if n_truth else float("nan")
    return {
        "seg": seg, "precision": precision, "recall": recall, "f1": f1,
        "n_truth": n_truth, "n_found": n_found, "n_matched": n_matched,
    }


def precision_recall_f1(predicted: Iterable[int], truth: Iterable[int]) -> tuple[float, float, float]:
    """Precision, recall and F1 of a predicted set against a true set.

    Empty predicted and true sets agree perfectly (1, 1, 1): zero leaders is a valid answer.

    Examples
    --------
    >>> precision_recall_f1({1, 2, 3}, {2, 3, 4, 5})
    (0.6666666666666666, 0.5, 0.5714285714285715)
    """
    predicted, truth = set(predicted), set(truth)
    return _scores(len(predicted & truth), len(predicted), len(truth))


def _scores(hits: int, n_predicted: int, n_true: int) -> tuple[float, float, float]:
    if not n_predicted and not n_true:
        return 1.0, 1.0, 1.0
    precision = hits / n_predicted if n_predicted else 0.0
    recall = hits / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def leader_agreement(
    tracks: pd.DataFrame, cells: pd.DataFrame, truth_labels: np.ndarray, true_leaders: Iterable[int]
) -> dict[str, float]:
    """Per-track leader precision / recall / F1 of found tracks against true leader tracks.

    A true leader counts as found when a found track sitting on it is called a leader; a found
    leader is correct when the true track it sits on is a leader.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``n_true``, ``n_found``.
    """
    called = cells.loc[cells["is_leader"].astype(bool), "track_id"]
    return called_leader_agreement(truth_track_ids(tracks, truth_labels), called, true_leaders)


def called_leader_agreement(mapping: pd.Series, called: Iterable[int], true_leaders: Iterable[int]) -> dict[str, float]:
    """:func:`leader_agreement` of the tracks ``called`` leaders, given the true track each found track
    sits on (``mapping``, from :func:`truth_track_ids`): to score other calls on the same tracks
    without looking at the masks again.

    Examples
    --------
    >>> mapping = pd.Series({1: 10, 2: 10, 3: 20, 4: 0})  # found tracks 1 and 2 are pieces of true 10
    >>> called_leader_agreement(mapping, [1, 2, 4], true_leaders=[10, 30])
    {'precision': 0.5, 'recall': 0.5, 'f1': 0.5, 'n_true': 2, 'n_found': 2}
    """
    found = {int(mapping.get(t, 0)) for t in called}
    true_leaders = {int(t) for t in true_leaders}
    # several fragments of one true leader count once; a leader on background is a false call
    n_wrong = sum(1 for t in called if int(mapping.get(t, 0)) not in true_leaders)
    hits = len(found & true_leaders)
    n_found = hits + n_wrong
    precision, recall, f1 = _scores(hits, n_found, len(true_leaders))
    return {"precision": precision, "recall": recall, "f1": f1, "n_true": len(true_leaders), "n_found": n_found}


def frame_leader_agreement(tracks: pd.DataFrame, truth_tracks: pd.DataFrame, truth_labels: np.ndarray) -> dict[str, float]:
    """Per cell-frame leader precision / recall / F1 of found tracks against the truth.

    A true leader cell-frame (``is_leader`` of ``truth_tracks`` in that frame) counts as found when
    a found row in the leader state (``is_leader`` of ``tracks``) sits on its mask then; a found row
    in the leader state is wrong when the true cell under it does not lead in that frame (or it
    sits on background). Several found rows on one true cell-frame count once, as in
    :func:`leader_agreement`.

    Parameters
    ----------
    tracks
        Found rows: ``frame``, ``y``, ``x`` (pixels), ``is_leader``.
    truth_tracks
        True rows: ``track_id`` (the value in ``truth_labels``), ``frame``, ``is_leader``.
    truth_labels
        (T, Y, X) true masks.

    Returns
    -------
    dict
        ``frame_precision``, ``frame_recall``, ``frame_f1``.

    Examples
    --------
    >>> labels = np.zeros((2, 4, 4), dtype=int)
    >>> labels[:, :2, :2], labels[:, 2:, 2:] = 1, 2
    >>> truth = pd.DataFrame({"track_id": [1, 1, 2, 2], "frame": [0, 1, 0, 1], "is_leader": [True, True, False, False]})
    >>> found = pd.DataFrame({"frame": [0, 1, 1], "y": [0, 0, 3], "x": [0, 0, 3], "is_leader": [True, False, True]})
    >>> {k: round(v, 2) for k, v in frame_leader_agreement(found, truth, labels).items()}
    {'frame_precision': 0.5, 'frame_recall': 0.5, 'frame_f1': 0.5}
    """
    under = truth_labels_under(tracks, truth_labels)
    frame = tracks["frame"].to_numpy(np.int64)
    called = tracks["is_leader"].to_numpy(bool)
    leads = truth_tracks.set_index(["track_id", "frame"])["is_leader"].astype(bool)
    right = leads.reindex(pd.MultiIndex.from_arrays([under, frame])).fillna(False).to_numpy(bool) & called
    hits = len(set(zip(under[right].tolist(), frame[right].tolist())))
    precision, recall, f1 = _scores(hits, hits + int((called & ~right).sum()), int(leads.sum()))
    return {"frame_precision": precision, "frame_recall": recall, "frame_f1": f1}
