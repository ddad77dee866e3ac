"""Leader state per frame, leader score per track, follower attribution and a reason for each decision.

The default classifier is a rule, measured against the movie's own statistics so it holds across
units, magnifications, frame rates and cell types. A cell is in the **leader state** in a frame
when all four criteria hold (each is a soft score in [0, 1], the frame score is their minimum, the
state is ``frame score >= 0.5``):

=============  ==========================================================================  ===================================
criterion      soft score                                                                  passes (0.5) when
=============  ==========================================================================  ===================================
at the front   ``1 - clip(d / (2 s), 0, 1)``                                               d <= 1 spacing
not trailing   ``clip(1.5 - 2 f, 0, 1)``                                                   f <= 0.5
outward, fast  ``min(max(clip((V / σ - 1) / 4, 0, 1), steady), clip(V / (0.6 v), 0, 1))``  (V >= 3 σ or steady) and V >= 0.3 v
persistent     ``max(clip((P - 0.3) / 0.4, 0, 1), oblique)``                              P >= 0.5, or P > 0 and Q >= 0.9
=============  ==========================================================================  ===================================

with ``d`` = ``front_distance_um`` (>= 0 behind the front; where the front lies on the image border
``d`` is unknown, and the cell counts as in the last frame of its track that showed the front, at the
track's start the first one after, or 0 if none did), ``s`` = the typical distance between
neighbouring cells, ``f`` = the fraction of frames in the motion window (about 30 min) in which the
cell trails somebody (``n_ahead_same_way > 0``: a cell just ahead of it moving the same way, see
:mod:`leadertrack.features`); in frames where the cone reach ahead leaves the image
(``ahead_in_view`` False) nobody can be seen ahead, so ``f`` there is ``f`` of the last frame
before that showed what is ahead (at the track's start, of the first one after), if the track was
seen for at least the motion window (a follower whose leader has left the field still follows; a
cell that took the lead before the image ended ahead of it still leads). The motion criteria are
per track, because a window of a few frames cannot tell a persistent leader from a cell wandering
at random: ``V`` = the track's median ``relative_outward_speed_um_per_min`` (outward speed over a
~30 min window, relative to the collective advance of the edge; the median, because an identity
switch in a found track is a jump of one cell spacing that shifts the mean of every track it hits,
not the median); ``σ`` = the robust spread (1.4826 MAD) of ``V`` over the tracks long enough to
judge (see below; mostly cells that do not invade) or, for a track without a jump (no step of
``JUMP_SPACINGS`` cell spacings or more: no sign of an identity switch), over the judged tracks
without one if that is smaller, there are at least 10 of them, and at least ``SWITCHED_MIN_SHARE`` of
the judged tracks jump (switches are common), times sqrt(median judged length / track length) for
shorter tracks, whose median is noisier; ``v`` = the median ``window_speed_um_per_min`` of all cells;
``steady`` = ``min(clip(t / 16, 0, 1), clip(D / (4 s), 0, 1))`` passes when the track moved outward
*consistently*, ``t >= 8``, and got at least two spacings ahead of the collective,
``D >= 2 s``, where ``t`` = V / (standard deviation of the track's window speeds / sqrt(frames / window
frames)) is the track's own t statistic (about N(0, 1) for a cell that does not invade) and ``D`` =
V times the track's duration. The spread σ is between tracks, and identity switches in found tracks
inflate it; a slow leader that outruns the sheet frame after frame is caught by ``steady`` even
when σ hides it. ``P`` = the track's mean ``relative_outward_persistence`` (outward net
displacement / path over the window, relative to the collective advance: about 0.9 for a leader,
about 0 for a cell wandering at random); ``Q`` = the track's mean ``relative_persistence`` (the same
in any direction) and ``oblique = clip((Q - 0.8) / 0.2, 0, 1)`` when ``P > 0`` (else 0): a strand
that turns aside moves outward only at an angle, and a leader at 60 degrees to the outward
direction has ``P`` below 0.5, but it still moves in a nearly straight line, which a cell whose
heading drifts within the motion window does not (most of the simulator's fast random decoys
have ``Q`` below 0.8). Such a strand also gains on the collective only at that angle, so it is
judged fast by its speed along its own heading: for a track that gains outward (``P > 0``), moves in
a line within the window (``Q >= 0.9``) and over its whole length (net displacement / path, the
cells' ``persistence``, at least ``OBLIQUE_MIN_STRAIGHTNESS``), and is at least
``OBLIQUE_MIN_WINDOWS`` motion windows long, ``V`` above (in ``t`` and ``D`` too) is ``V Q / P``,
``Q / P`` being 1 / cos of its angle to the outward direction, if it is at least
``OBLIQUE_MIN_FACTOR`` (30 degrees; noise alone lifts ``Q / P`` a little above 1 for a track moving
straight outward), and at most ``OBLIQUE_MAX_FACTOR`` (70.5 degrees). A cell whose heading drifts
turns over its track (the simulator's slow decoys that run straight within a window have
``persistence`` 0.3-0.6). Tracks shorter than the motion window (about 30 min, at least
``MIN_WINDOW_FRAMES`` frames, at most half the movie) cannot lead: too short to judge persistence.
Daughters of a division (``parent_track_id != 0``) cannot lead during their first
``MIN_WINDOW_FRAMES`` frames: they start at their mother's place, not by outrunning anybody.

A **track** is a leader when it is in the leader state in at least
``LEADER_TRACK_MIN_FRACTION`` (0.35) of its frames. Its ``leader_score`` is its
``leader_fraction`` mapped piecewise linearly so that 0 -> 0, 0.35 -> 0.5 and 1 -> 1, so
``leader_score >= 0.5`` is the same decision. (The simulator's truth calls a track a leader from
0.3; measured from found tracks, followers reach 0.3-0.35 when their leader slips out of the cone
ahead for a few frames, true leaders rarely stop there.) A trained model (:mod:`leadertrack.model`,
the rule corrected by what cross-validation on labelled tracks supports) replaces the score, and
``is_leader`` becomes ``leader_score >= threshold``; a track it decides otherwise than the rule would
has a reason that says so first.

**Followers**: in each frame a non-leader follows the nearest leader within the cone reach that is
ahead of it (along the outward direction) and moves the same way (velocity cosine > 0.5). Its
``follows_track_id`` is the leader it followed most often, if that happened in at least 30% of
its frames (0 = none). ``group_size`` is 1 + the number of followers for a leader, the leader's
group size for a follower, 0 otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from leadertrack.errors import InputError
from leadertrack.features import (
    CONE_RADIUS_SPACINGS,
    MIN_WINDOW_FRAMES,
    check_motion_window,
    track_bounds,
    window_half_frames,
)
from leadertrack.front import position_columns, typical_spacing_um

__all__ = ["CRITERIA", "LEADER_TRACK_MIN_FRACTION", "classify", "group_sizes", "leader_episodes", "rule_score"]

LEADER_TRACK_MIN_FRACTION = 0.35
"""A track is a leader when it is in the leader state in at least this fraction of its frames."""
FOLLOW_MIN_FRACTION = 0.3
"""A track follows a leader when it trails it in at least this fraction of its frames."""
STEADY_MIN_T = 8.0
"""A track outruns the collective steadily when the t statistic of its outward window speeds reaches this."""
STEADY_MIN_SPACINGS = 2.0
"""A steady track must also have gained at least this many cell spacings on the collective over its duration."""
JUMP_SPACINGS = 0.5
"""A step between consecutive rows of a track at least this many cell spacings long is a jump to a
neighbour (an identity switch of a found track), not motion."""
SWITCHED_MIN_SHARE = 0.25
"""Tracks without a jump get their own spread only when at least this share of the judged tracks jump:
where fewer do, the tracks are mostly right, and a jump is more often a fast cell than a switch."""
OBLIQUE_MIN_PERSISTENCE = 0.9
"""A track moving at an angle to the outward direction is persistent when its mean relative persistence reaches this."""
OBLIQUE_MIN_FACTOR = 1.15
"""Such a track is judged fast by its speed along its own heading, ``V Q / P``, when it is at least this many
times ``V`` (30 degrees off the outward direction: ``Q >= P`` always, and noise alone lifts ``Q / P`` a little
above 1 for a track moving straight outward) ..."""
OBLIQUE_MAX_FACTOR = 3.0
"""... and at most this many times ``V`` (70.5 degrees) ..."""
OBLIQUE_MIN_STRAIGHTNESS = 0.6
"""... when its whole track is at least this straight (net displacement / path length, the cells' ``persistence``) ..."""
OBLIQUE_MIN_WINDOWS = 2
"""... and at least this many motion windows long."""
CRITERIA = ("at_front", "not_trailing", "fast_outward", "persistent")
"""Names of the per-frame criteria (columns ``crit_<name>`` of the tracks table)."""

_REQUIRED_CELLS = ("track_id", "n_frames", "persistence", "speed_ratio", "front_distance_um")
_REQUIRED = (
    "track_id", "frame", "front_distance_um", "n_ahead_same_way", "relative_outward_speed_um_per_min",
    "relative_outward_persistence", "relative_persistence", "speed_um_per_min",
)


def rule_score(fraction: np.ndarray) -> np.ndarray:
    """The rule's ``leader_score`` of a track from its ``leader_fraction``: piecewise linear, 0 -> 0,
    ``LEADER_TRACK_MIN_FRACTION`` -> 0.5, 1 -> 1."""
    f = np.clip(np.asarray(fraction, float), 0, 1)
    t = LEADER_TRACK_MIN_FRACTION
    return np.where(f < t, 0.5 * f / t, 0.5 + 0.5 * (f - t) / (1 - t))


def _reference_speed(speeds: np.ndarray) -> float:
    """The movie's typical speed: median over all cell-frames (the mean if most cells stand still)."""
    speeds = speeds[np.isfinite(speeds)]
    if len(speeds) == 0:
        return 0.0
    median = float(np.median(speeds))
    return median if median > 0 else float(np.mean(speeds))


def _centred_mean(values: np.ndarray, tid: np.ndarray, width: int) -> np.ndarray:
    """Per row: the mean of the finite ``values`` of its track within ``width`` (odd) rows centred on it.

    Rows of a track are taken in their order in the table; NaN where the window holds no finite
    value. The same as pandas' ``rolling(width, center=True, min_periods=1).mean()`` per track,
    without a Python call per track.
    """
    order = np.argsort(tid, kind="stable")
    v = values[order]
    finite = np.isfinite(v)
    sums = np.r_[0.0, np.cumsum(np.where(finite, v, 0.0))]
    counts = np.r_[0, np.cumsum(finite)]
    rows = np.arange(len(v))
    start, end = track_bounds(tid[order])
    half = width // 2
    lo, hi = np.maximum(rows - half, start), np.minimum(rows + half + 1, end)
    n = counts[hi] - counts[lo]
    mean = np.divide(sums[hi] - sums[lo], n, out=np.full(len(v), np.nan), where=n > 0)
    out = np.empty(len(v))
    out[order] = mean
    return out


def _steady_outward(
    v_rel: np.ndarray, tid: np.ndarray, time: np.ndarray, median: pd.Series, n: pd.Series, *, window_frames: int,
    spacing: float,
) -> np.ndarray:
    """Per row: the soft score that its track outran the collective steadily (``steady`` in the module docstring).

    ``t`` = median / (standard deviation / sqrt(independent windows)) of the track's relative
    outward window speeds, passing at ``STEADY_MIN_T``; the distance gained on the collective
    (median speed times duration) passes at ``STEADY_MIN_SPACINGS`` cell spacings. ``median`` and
    ``n`` are each track's median of ``v_rel`` and its number of rows, by track id.
    """
    sd = pd.Series(v_rel).groupby(tid).std()
    times = pd.Series(time).groupby(tid)
    duration = times.max() - times.min()
    windows = np.maximum(n / window_frames, 1.0)
    t = np.divide(median * np.sqrt(windows), sd, out=np.where(median > 0, np.inf, 0.0), where=sd.to_numpy() > 0)
    consistent = np.clip(0.5 * t / STEADY_MIN_T, 0, 1)
    ahead = np.clip(0.5 * median * duration / (STEADY_MIN_SPACINGS * spacing), 0, 1) if spacing > 0 else 0.0 * median
    return np.minimum(consistent, ahead).reindex(tid).to_numpy()


def _along_heading(
    p: pd.Series, q: pd.Series, lengths: pd.Series, straightness: pd.Series | None, *, min_length: float
) -> pd.Series:
    """Per track (by id): ``Q / P`` for a strand turned aside, 1 for every other track.

    ``P`` and ``Q`` are the track's mean relative outward and relative persistence, so ``Q / P`` is
    1 / cos of the angle between its motion and the outward direction; the track's relative outward
    speed times it is its speed along its own heading. Only for a track that gains outward
    (``P > 0``) at an angle of 30 degrees or more (``Q / P >= OBLIQUE_MIN_FACTOR``), moves in a line
    within the motion window (``Q >= OBLIQUE_MIN_PERSISTENCE``) and over its whole length
    (``straightness >= OBLIQUE_MIN_STRAIGHTNESS``), and is at least ``min_length`` rows long; at most
    ``OBLIQUE_MAX_FACTOR``.

    Examples
    --------
    >>> ids = [1, 2, 3, 4]
    >>> p, q = pd.Series([0.86, 0.5, 0.2, 0.5], ids), pd.Series([0.95, 0.95, 0.95, 0.95], ids)
    >>> straight, lengths = pd.Series([0.9, 0.9, 0.9, 0.4], ids), pd.Series(40, ids)
    >>> _along_heading(p, q, lengths, straight, min_length=20).round(2).tolist()
    [1.0, 1.9, 3.0, 1.0]
    """
    if straightness is None:
        return pd.Series(1.0, index=p.index)
    eligible = (
        (p > 0) & (q >= OBLIQUE_MIN_PERSISTENCE) & (lengths.reindex(p.index) >= min_length)
        & (straightness.reindex(p.index).fillna(0.0) >= OBLIQUE_MIN_STRAIGHTNESS)
    )
    factor = q / p
    return factor.where(eligible & (factor >= OBLIQUE_MIN_FACTOR), 1.0).clip(upper=OBLIQUE_MAX_FACTOR)


def _robust_sd(values: pd.Series) -> float:
    """1.4826 times the median absolute deviation (0 for no values): the standard deviation of a normal sample."""
    return 1.4826 * float(np.median(np.abs(values - values.median()))) if len(values) else 0.0


def _largest_step(tracks: pd.DataFrame, tid: np.ndarray) -> pd.Series:
    """Per track id: its longest step between consecutive rows (µm; NaN for a track of one row).

    ``tracks`` is sorted by track and frame and ``tid`` is its ``track_id`` column.
    """
    pos = tracks[position_columns(tracks)].to_numpy(float)
    step = np.r_[np.nan, np.linalg.norm(np.diff(pos, axis=0), axis=1)]
    step[np.r_[True, tid[1:] != tid[:-1]]] = np.nan  # a track's first row has no step
    return pd.Series(step).groupby(tid).max()


def _window_frames(tracks: pd.DataFrame, motion_window_frames: int | None = None) -> tuple[int, int]:
    """The motion window (frames, odd) of ``tracks`` (sorted by track and frame) unless given, and the rows a
    track needs to be judged on its motion: the window, at least ``MIN_WINDOW_FRAMES``, at most half the movie."""
    if motion_window_frames is None:
        tid = tracks["track_id"].to_numpy()
        time = tracks["time_min"].to_numpy(float) if "time_min" in tracks else tracks["frame"].to_numpy(float)
        steps = np.diff(time)[np.diff(tid) == 0]
        width = 2 * window_half_frames(float(np.median(steps)) if len(steps) else 1.0) + 1
    else:
        width = 2 * (motion_window_frames // 2) + 1
    return width, min(width, max(MIN_WINDOW_FRAMES, tracks["frame"].nunique() // 2))


def _criteria(
    tracks: pd.DataFrame, spacing: float, straightness: pd.Series | None = None, motion_window_frames: int | None = None
) -> pd.DataFrame:
    """Soft scores in [0, 1] of the four per-frame criteria (see the module docstring).

    ``straightness``: per track id, net displacement / path length over the whole track (the cells'
    ``persistence``); without it no track is judged along its own heading. ``motion_window_frames``: as
    :func:`classify`'s.
    """
    tid = tracks["track_id"].to_numpy()
    # where the front lies on the image border its distance is unknown (NaN): there the cell is as near it
    # as in the last frame that showed it (at a track's start, the first one after); never shown: not at it
    d = tracks["front_distance_um"].to_numpy(float)
    at_front = pd.Series(1 - np.clip(d / spacing / 2, 0, 1)).groupby(tid).ffill().groupby(tid).bfill().fillna(0.0).to_numpy()
    # trailing somebody, smoothed over the motion window: a follower's leader wobbles in and out of the cone
    time = tracks["time_min"].to_numpy(float) if "time_min" in tracks else tracks["frame"].to_numpy(float)
    width, required = _window_frames(tracks, motion_window_frames)
    # where the cone ahead leaves the image nobody can be seen ahead: there the cell trails as it did when
    # last seen
    seen = tracks["ahead_in_view"].to_numpy(bool) if "ahead_in_view" in tracks else np.ones(len(tracks), bool)
    ahead = tracks["n_ahead_same_way"].to_numpy() > 0
    rolling = _centred_mean(np.where(seen, ahead, np.nan), tid, width)
    # as in the last frame that showed what is ahead (at a track's start, the first one), over its window
    last_seen = pd.Series(np.where(seen, rolling, np.nan)).groupby(tid).ffill().groupby(tid).bfill().to_numpy()
    # a track seen for less than the window says too little: there, what the cone shows counts as it is
    seen_long = pd.Series(seen).groupby(tid).transform("sum").to_numpy() >= width
    trailing = np.where(seen, rolling, np.where(seen_long, last_seen, ahead))
    not_trailing = np.clip(1.5 - 2 * trailing, 0, 1)
    v_rel = tracks["relative_outward_speed_um_per_min"].to_numpy(float)
    v_ref = _reference_speed(tracks["window_speed_um_per_min"].to_numpy(float))
    lengths = pd.Series(tid).groupby(tid).size()
    # the median, not the mean: an identity switch in a found track is one jump of a cell spacing, which
    # moves the mean of every track it hits (and so the spread between tracks) but not the median
    per_track = pd.Series(v_rel).groupby(tid).median()
    judged = per_track[lengths >= required]  # long enough to say how a cell moves
    null = judged if len(judged) >= 10 else per_track
    spread = _robust_sd(null)
    # identity switches still widen the spread: a track without a jump is compared with the tracks without one
    jump_free = _largest_step(tracks, tid) < JUMP_SPACINGS * spacing
    clean = judged[jump_free.reindex(judged.index).to_numpy()]
    if len(clean) >= 10 and len(judged) - len(clean) >= SWITCHED_MIN_SHARE * len(judged):
        spread = np.where(jump_free.reindex(tid).to_numpy(), min(_robust_sd(clean), spread), spread)
    # the median of a shorter track is a noisier estimate: its spread grows like 1/sqrt(length)
    typical_length = float(lengths[judged.index].median()) if len(judged) else float(lengths.median())
    spread = spread * np.sqrt(np.maximum(typical_length / lengths.reindex(tid).to_numpy(float), 1.0))
    p_track = pd.Series(tracks["relative_outward_persistence"].to_numpy(float)).groupby(tid).mean()
    q_track = pd.Series(tracks["relative_persistence"].to_numpy(float)).groupby(tid).mean()
    p_outward, p_any = p_track.reindex(tid).to_numpy(), q_track.reindex(tid).to_numpy()
    # a strand turned aside gains on the collective only at an angle: judge it by its speed along its heading
    per_track = per_track * _along_heading(p_track, q_track, lengths, straightness, min_length=OBLIQUE_MIN_WINDOWS * width)
    v_track = per_track.reindex(tid).to_numpy()
    steady = _steady_outward(v_rel, tid, time, per_track, lengths, window_frames=width, spacing=spacing)
    if (spread > 0).all() and v_ref > 0:
        beyond_spread = np.clip((v_track / spread - 1) / 4, 0, 1)
        fast = np.minimum(np.maximum(beyond_spread, steady), np.clip(v_track / v_ref / 0.6, 0, 1))
    else:
        fast = np.zeros(len(tracks))
    # straight outward, or nearly straight in any direction that still gains outward (a strand turning aside)
    oblique = np.where(p_outward > 0, np.clip((p_any - OBLIQUE_MIN_PERSISTENCE) / 0.2 + 0.5, 0, 1), 0.0)
    persistent = np.maximum(np.clip((p_outward - 0.3) / 0.4, 0, 1), oblique)
    # too short to judge motion: a few frames say nothing about persistence
    short = lengths.reindex(tid).to_numpy() < required
    fast, persistent = np.where(short, 0.0, fast), np.where(short, 0.0, persistent)
    return pd.DataFrame(
        {"at_front": at_front, "not_trailing": not_trailing, "fast_outward": fast, "persistent": persistent},
        index=tracks.index,
    )


def _follow(tracks: pd.DataFrame, is_leader: np.ndarray, spacing: float) -> np.ndarray:
    """Per row: the track id of the leader this cell trails in that frame (0 = none)."""
    cols = position_columns(tracks)
    pos = tracks[cols].to_numpy(float)
    vel = tracks[[f"v{c[0]}_um_per_min" for c in cols]].to_numpy(float)
    tid = tracks["track_id"].to_numpy()
    frames = tracks["frame"].to_numpy()
    follows = np.zeros(len(tracks), dtype=tid.dtype)
    reach = CONE_RADIUS_SPACINGS * spacing
    for f in np.unique(frames[is_leader]):
        rows = np.flatnonzero(frames == f)
        lead = rows[is_leader[rows]]
        other = rows[~is_leader[rows]]
        if len(other) == 0:
            continue
        tree = cKDTree(pos[lead])
        dist, k = tree.query(pos[other], k=min(3, len(lead)), distance_upper_bound=reach)
        dist, k = dist.reshape(len(other), -1), k.reshape(len(other), -1)
        for col in range(k.shape[1]):
            free = follows[other] == 0
            ok = free & np.isfinite(dist[:, col])
            if not ok.any():
                continue
            i, j = other[ok], lead[k[ok, col]]
            ahead = np.einsum("ij,ij->i", pos[j] - pos[i], vel[j]) > 0
            vi, vj = vel[i], vel[j]
            cos = np.einsum("ij,ij->i", vi, vj) / np.maximum(np.linalg.norm(vi, axis=1) * np.linalg.norm(vj, axis=1), 1e-12)
            good = ahead & (cos > 0.5)
            follows[i[good]] = tid[j[good]]
    return follows


def _runs(state: np.ndarray, tid: np.ndarray) -> np.ndarray:
    """Episode number of each leader-state row within its track (0 where not leading)."""
    same_track = np.r_[False, tid[1:] == tid[:-1]]
    start = state & ~(np.r_[False, state[:-1]] & same_track)
    episode = pd.Series(start.astype(int)).groupby(tid).cumsum().to_numpy()
    return np.where(state, episode, 0)


def classify(
    tracks: pd.DataFrame, cells: pd.DataFrame, *, model=None, threshold: float = 0.5,
    motion_window_frames: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decide which cells lead, frame by frame and per track, and whom the others follow.

    Parameters
    ----------
    tracks
        Per cell-frame features from :func:`leadertrack.features.measure`.
    cells
        Per track features from :func:`leadertrack.features.measure`.
    model
        A :class:`leadertrack.model.LeaderModel`; None = the documented rule (module docstring).
    threshold
        ``leader_score`` at or above which a track is a leader.
    motion_window_frames
        Frames in the motion window; None: about 30 min of ``time_min``. Give the window
        :func:`leadertrack.features.measure` used.

    Returns
    -------
    tracks
        A copy with ``leader_score_frame`` (min of the criteria), ``is_leader`` (the state in that
        frame), ``role`` (``leader``/``follower``/``other``), ``follows_track_id`` (in that frame),
        ``leader_episode`` (1, 2, ... within the track; 0 when not leading) and one ``crit_<name>``
        column per criterion.
    cells
        A copy with ``leader_fraction``, ``leader_score`` in [0, 1], ``is_leader``,
        ``follows_track_id`` (0 = none), ``group_size``, ``n_leader_episodes``,
        ``leader_lifetime_min`` (mean episode length), ``reason`` and ``frac_<criterion>`` (the
        fraction of frames passing each criterion; these feed a trained model).

    Examples
    --------
    >>> from leadertrack.features import measure
    >>> rng = np.random.default_rng(0)
    >>> rows = [(k, f, 10.0 * k + rng.normal(), 20.0 + rng.normal()) for k in range(1, 30) for f in range(8)]
    >>> t = pd.DataFrame(rows, columns=["track_id", "frame", "y_um", "x_um"])
    >>> tracks, cells = classify(*measure(t, geometry="planar")[:2])
    >>> {"leader_score", "is_leader", "follows_track_id", "reason"} <= set(cells.columns)
    True
    """
    tracks, cells = tracks.reset_index(drop=True), cells.reset_index(drop=True)  # an index named track_id is ambiguous
    missing = [c for c in _REQUIRED if c not in tracks.columns]
    if missing:
        raise InputError(f"tracks table: missing feature column(s) {', '.join(missing)}; run measure() first")
    missing = [c for c in _REQUIRED_CELLS if c not in cells.columns]
    if missing:
        raise InputError(f"cells table: missing column(s) {', '.join(missing)}; run measure() first")
    if cells["track_id"].duplicated().any():
        raise InputError(f"cells table: track {cells.loc[cells['track_id'].duplicated(), 'track_id'].iloc[0]} has two rows")
    if set(cells["track_id"]) != set(tracks["track_id"]):
        raise InputError("the cells and tracks tables hold different tracks; pass both as measure() returned them")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)) or not 0 <= threshold <= 1:
        raise InputError(f"threshold must be a number between 0 and 1, not {threshold!r}")
    check_motion_window(motion_window_frames)
    if model is not None and not callable(getattr(model, "predict_score", None)):
        raise InputError(f"model must be a trained model (leadertrack.model.load_model), not {type(model).__name__}")
    out = tracks.sort_values(["track_id", "frame"], kind="stable").reset_index(drop=True)
    cells = cells.copy()
    cols = position_columns(out)
    spacing = typical_spacing_um(out[cols].to_numpy(float), out["frame"].to_numpy())
    straightness = cells.set_index("track_id")["persistence"] if "persistence" in cells else None
    crit = _criteria(out, spacing, straightness, motion_window_frames)
    score = crit.min(axis=1).to_numpy()
    tid = out["track_id"].to_numpy()
    parents = cells.set_index("track_id")["parent_track_id"] if "parent_track_id" in cells else pd.Series(dtype=int)
    is_daughter = parents.reindex(tid).fillna(0).to_numpy() != 0
    frame_in_track = out.groupby("track_id").cumcount().to_numpy()
    score = np.where(is_daughter & (frame_in_track < MIN_WINDOW_FRAMES), 0.0, score)
    state = score >= 0.5
    for name in CRITERIA:
        out[f"crit_{name}"] = crit[name].to_numpy()
    out["leader_score_frame"] = score
    out["is_leader"] = state
    out["leader_episode"] = _runs(state, tid)

    g = out.groupby("track_id", sort=True)
    per_track = pd.DataFrame({"leader_fraction": g["is_leader"].mean(), "n_leader_episodes": g["leader_episode"].max()})
    for name in CRITERIA:
        per_track[f"frac_{name}"] = (out[f"crit_{name}"] >= 0.5).groupby(tid).mean()
    cells = cells.drop(columns=[c for c in per_track.columns if c in cells.columns]).merge(
        per_track, left_on="track_id", right_index=True, how="left"
    )
    if model is None:
        cells["leader_score"] = rule_score(cells["leader_fraction"].to_numpy())
    else:
        cells["leader_score"] = model.predict_score(cells, threshold=threshold)
    cells["is_leader"] = cells["leader_score"] >= threshold

    # followers: per frame, then the leader each track trails most often
    follows = _follow(out, state, spacing)
    out["follows_track_id"] = follows
    counts = pd.DataFrame({"track_id": tid, "leader": follows})
    counts = counts[counts.leader != 0].value_counts().rename("n").reset_index()
    counts = counts.sort_values(["track_id", "n"], ascending=[True, False]).drop_duplicates("track_id")
    counts = counts.merge(cells[["track_id", "n_frames"]], on="track_id")
    counts = counts[counts.n >= FOLLOW_MIN_FRACTION * counts.n_frames]
    leaders = set(cells.loc[cells.is_leader, "track_id"])
    counts = counts[counts.leader.isin(leaders) & ~counts.track_id.isin(leaders)]
    follow_of = dict(zip(counts.track_id, counts.leader))
    cells["follows_track_id"] = cells["track_id"].map(follow_of).fillna(0).astype(tid.dtype)
    cells["group_size"] = group_sizes(cells)
    out["role"] = np.where(state, "leader", np.where(follows != 0, "follower", "other"))

    episodes = leader_episodes(out)
    lifetime = episodes.groupby("track_id")["duration_min"].mean()
    cells["leader_lifetime_min"] = cells["track_id"].map(lifetime).fillna(0.0)
    cells["reason"] = _reasons(out, cells, motion_window_frames)
    if model is not None:  # where the trained model overrules the rule, the reason says so first
        overruled = cells["is_leader"].to_numpy() != (rule_score(cells["leader_fraction"].to_numpy()) >= threshold)
        cells.loc[overruled, "reason"] = [
            (f"a leader by the trained model (score {score:.2f}), not by the rule; " if lead
             else f"not a leader by the trained model (score {score:.2f}), a leader by the rule; ") + reason
            for lead, score, reason in cells.loc[overruled, ["is_leader", "leader_score", "reason"]].itertuples(index=False)
        ]
    return out, cells


def group_sizes(cells: pd.DataFrame) -> np.ndarray:
    """Per track of ``cells`` (``track_id``, ``is_leader``, ``follows_track_id``): 1 + its followers for a leader,
    its leader's group size for a follower, 0 otherwise.

    Examples
    --------
    >>> cells = pd.DataFrame({"track_id": [1, 2, 3, 4], "is_leader": [True, False, False, False],
    ...                       "follows_track_id": [0, 1, 1, 0]})
    >>> group_sizes(cells).tolist()
    [3, 3, 3, 0]
    """
    follows = cells["follows_track_id"]
    n_followers = follows[follows != 0].value_counts()
    lead_size = 1 + n_followers.reindex(cells["track_id"]).fillna(0).to_numpy().astype(int)
    group = np.where(cells["is_leader"], lead_size, 0)
    by_leader = dict(zip(cells["track_id"], group))
    return np.where(follows != 0, follows.map(by_leader).fillna(0).to_numpy(), group).astype(int)


def leader_episodes(tracks: pd.DataFrame) -> pd.DataFrame:
    """One row per leader episode (consecutive frames of a track in the leader state).

    Parameters
    ----------
    tracks
        The tracks table from :func:`classify`.

    Returns
    -------
    pandas.DataFrame
        ``track_id, episode, first_frame, last_frame, n_frames, duration_min`` and
        ``took_over_from``: the leader this track followed in the frame before the episode began
        (a hand-over; 0 = none).
    """
    if "leader_episode" not in tracks.columns:
        raise InputError("tracks table: no leader_episode column; run classify() first")
    t = tracks.sort_values(["track_id", "frame"], kind="stable")
    prev_follow = t.groupby("track_id")["follows_track_id"].shift(1).fillna(0).astype(int) if "follows_track_id" in t else 0
    t = t.assign(_prev_follow=prev_follow)
    lead = t[t["leader_episode"] > 0]
    time = lead["time_min"] if "time_min" in lead else lead["frame"].astype(float)
    lead = lead.assign(_time=time)
    g = lead.groupby(["track_id", "leader_episode"], sort=True)
    clock = t["time_min" if "time_min" in t else "frame"].to_numpy(float)
    same_track = t["track_id"].to_numpy()[1:] == t["track_id"].to_numpy()[:-1]
    steps = pd.Series(np.diff(clock)[same_track], index=t["track_id"].to_numpy()[1:][same_track])
    dt = steps.groupby(level=0).median().reindex(t["track_id"].unique()).fillna(1.0)
    eps = pd.DataFrame({
        "first_frame": g["frame"].min(),
        "last_frame": g["frame"].max(),
        "n_frames": g["frame"].size(),
        "duration_min": g["_time"].max() - g["_time"].min(),
        "took_over_from": g["_prev_follow"].first(),
    }).reset_index().rename(columns={"leader_episode": "episode"})
    eps["duration_min"] = eps["duration_min"] + eps["track_id"].map(dt).fillna(0.0)
    return eps[["track_id", "episode", "first_frame", "last_frame", "n_frames", "duration_min", "took_over_from"]]


_WEAKNESS = {
    "at_front": "behind the front (median {dist:.0f} µm)",
    "not_trailing": "trails another cell",
    "fast_outward": "not outrunning the collective (gains {gain:+.2f} µm/min on it outward)",
    "persistent": "not persistent relative to the collective (outward {pers:.2f})",
}

_MOTION_CRITERIA = ("fast_outward", "persistent")
"""The criteria judged per track, over at least the motion window: a shorter track fails both."""


def _reasons(tracks: pd.DataFrame, cells: pd.DataFrame, motion_window_frames: int | None = None) -> list[str]:
    """A short human reason for each track's decision."""
    n_per_frame = tracks.groupby(["frame", "front_id"])["track_id"].transform("size")
    ranks = tracks.assign(_n=n_per_frame).groupby("track_id")[["front_rank", "_n"]].median().astype(float)
    by_track = tracks.groupby("track_id")
    outward_persistence = by_track["relative_outward_persistence"].mean()
    gain = by_track["relative_outward_speed_um_per_min"].median()
    ids = cells["track_id"].to_numpy()  # each track's values, in the order of cells
    ranks, outward_persistence, gain, rows = (
        ranks.reindex(ids).to_numpy(), outward_persistence.reindex(ids).to_numpy(), gain.reindex(ids).to_numpy(),
        by_track.size().reindex(ids).to_numpy(),
    )
    _, required = _window_frames(tracks, motion_window_frames)
    reasons = []
    for row, (rank, n), outward, gained, length in zip(cells.itertuples(index=False), ranks, outward_persistence, gain, rows):
        where = f"front {int(rank)} of {int(n)}" if np.isfinite(rank) else "front not visible"
        ratio = row.speed_ratio if np.isfinite(row.speed_ratio) else 0.0
        text = f"{where}, {ratio:.1f}x median speed, persistence {row.persistence:.2f}"
        if row.is_leader:
            reasons.append(f"leads in {row.leader_fraction:.0%} of frames; {text}")
            continue
        fracs = {name: getattr(row, f"frac_{name}") for name in CRITERIA}
        weakest = min(fracs, key=fracs.get)
        if length < required and weakest in _MOTION_CRITERIA:  # not judged on its motion at all
            why = f"too short to judge its motion ({length} of the {required} frames needed)"
        elif weakest == "at_front" and not np.isfinite(row.front_distance_um):
            why = "no front in view of it"
        else:
            why = _WEAKNESS[weakest].format(dist=row.front_distance_um, gain=gained, pers=outward)
        if row.follows_track_id:
            why = f"follows {row.follows_track_id}; " + why
        reasons.append(f"{why}; {text}")
    return reasons
