"""Checks on measured tracks for signs that the movie defeats the analysis; each gives a warning.

These look at the result, not the input: a run can be technically sound and still be wrong in a
way the numbers show. Each check returns the message for the run's warnings (``run.json``), or
None when all is well.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadertrack.features import window_half_frames
from leadertrack.front import position_columns, typical_spacing_um

__all__ = [
    "BORN_AHEAD_MIN_PER_FRAME", "GEOMETRY_MIN_CONFIDENCE", "INWARD_MIN_FRACTION", "INWARD_MIN_TRACKS", "INWARD_PERSISTENCE",
    "LOCAL_RELINK_MIN_TRACKS", "MIN_MOVIE_WINDOWS", "RELINK_BRIGHTNESS_FACTOR", "RELINK_RANGE_FACTOR",
    "RELINK_WHOLE_BORN_AHEAD_PER_FRAME", "aliased_linking_message", "aliased_linking_warning", "born_ahead_track_ids",
    "inward_at_front", "inward_track_ids", "locally_relinked_warning", "relinked_warning", "short_movie_warning",
    "uncertain_geometry_warning",
]

INWARD_PERSISTENCE = -0.5
"""A track moves steadily inward when its mean outward net displacement / path over the motion
window is at most this."""
INWARD_MIN_TRACKS = 10
"""Warn when at least this many tracks at the front move steadily inward ..."""
INWARD_MIN_FRACTION = 0.2
"""... and they are at least this fraction of the tracks at the front. Measured: the four movies of
the independent simulator (``benchmarks/bench_foreign.py``) whose strands move about a nucleus
diameter per frame have 38-57 such tracks, 36-63 % of those at the front; 202 other simulated
movies (ours and the independent one, analysed from their images) at most 6 and 6 %; the real
scratch assay 7 of 42 (17 %) and the real spheroid tracks 2-3 %. It was a quarter until two
movies of the independent simulator's seeds 7200-7239, with 24 % (27 of 111 and 37 of 155), went
unwarned, their leaders lost (F1 0); at a fifth they are linked again (F1 1.0 and 0.91), and no
movie of seeds 7000-7019 or 7100-7139 changes."""
RELINK_RANGE_FACTOR = 3.0
"""When the derived search range left many tracks at the front running inward, a movie is linked
again with this many times the range (``leadertrack.pipeline.analyze_movie``). Leaving a cell
unlinked costs the square of the range, so a longer range makes the aliased linking (every strand
broken at both ends) costlier than the true one. On 23 such movies of the independent simulator
(seeds 7100-7139, re-linking their detections) leader F1 went from 0.30 to 0.37, 0.48 and 0.66 at
1.5, 2 and 3 times the range."""
RELINK_BRIGHTNESS_FACTOR = 4.0
"""When a movie is linked again, nuclei are also told apart by brightness
(:func:`leadertrack.track.link`, ``brightness_um``): a factor e in mean intensity weighs as much as
this many times the first search range. Where a strand moves about one spacing per frame, each cell
takes the place of the one ahead, and brightness is what still tells them apart. On the 27 aliased
movies of the independent simulator (seeds 7000-7019 and 7100-7139) leader F1 went from 0.63 to
0.69, 0.81, 0.92 and 0.94 at 1, 2, 4 and 8 times the range; on the 17 of seeds 7200-7239, not
looked at when choosing it, from 0.76 to 0.92 at 4 times. On the real CTC sequences a nucleus's
log brightness (relative to its frame's median) changes by 0.057 (GOWT1) and 0.021 (SIM+) between
frames (standard deviation; 99th percentile 0.24 and 0.07), against 0.90 and 0.10 between
neighbours: at 4 times the range the typical change weighs like a quarter of the range, the 99th
percentile like one range; 8 would lean harder on brightness staying constant."""
LOCAL_RELINK_MIN_TRACKS = 3
"""When fewer tracks at the front run inward than warrant linking the whole movie again (a single
fast strand breaks into a few), but at least this many do, the movie is still linked again with the
wider range and brightness, and the new tracks are kept only where they take over a detection of a
track that ran inward (``leadertrack.track.relink_around``); the rest of the movie keeps its first
linking, which the wider range would spoil in a dense sheet. The second linking closes no gaps
(frame-to-frame links and their memory only): at the wider range, gap closing joined a follower
to its strand's leader across 7 frames. Measured by linking again the found tracks of 165 of our
simulated movies and of 200 of the independent simulator (seeds 7000-7019, 7100-7139, 7200-7239):
at 3 (and at 4) the three of ours that had lost their only strands (F1 0) came to 0.57-0.80, and of
the independent simulator one went from 0 to 1 and one from 0.57 to 0.67; no other movie changed.
At 2, two more of ours changed, one for the worse. With gap closing (as in the first linking) the
three came only to 0.33-0.67, and one movie of the independent simulator lost (0.80 to 0.73)."""
BORN_AHEAD_MIN_PER_FRAME = 0.25
"""The other sign of a strand linked backwards: tracks that start ahead of the front. A cell does not
appear out of nowhere ahead of the front (it comes in across the image border, or was there from the
first frame), but where a strand moves about one cell spacing per frame, linking gives each cell the
place of the one ahead of it, and the strand's tip starts a new track in every frame. When at least
this many tracks per frame start so (:func:`born_ahead_track_ids`), the cells on them are linked again
as those on tracks running inward are (``LOCAL_RELINK_MIN_TRACKS``). Measured on our simulated movies
from images: the tracks of seed 403 (planar, medium, 12 min per frame, one strand moving a spacing per
frame) start so at 1.1 per frame, movies imaged every 2-8 min at 0-0.05 per frame, and 0.19 where
dense nuclei merge and part again. Linking those cells again changed leader F1 from images (mean per
movie, planar, radial and scratch) 0.820 -> 0.843 on seeds 600-619 (medium; 6 movies better, 3
worse), 0.709 -> 0.742 on seeds 0-4 and 200-204 (hard; 1 better), 0.652 -> 0.722 on seeds 400-404
(hard; 5 better, 4 worse) and 0.850 -> 0.848 (medium; 1 and 1); no movie of seeds 0-4 and 200-204
(medium) changed; on the independent simulator (seeds 7000-7029, planar and radial) 0.931 -> 0.945
(2 better). At any rate (0) it also re-linked movies imaged every 2-3 min, and F1 there fell."""
RELINK_WHOLE_BORN_AHEAD_PER_FRAME = 1.0
"""When the second linking runs because tracks start ahead of the front, it solves each frame's links
whole at the wider range (no adaptive search: ``leadertrack.track.link(adaptive_search=False)``) only
when at least this many tracks per frame start so; a movie linked again because many tracks ran inward
is always solved whole. trackpy's adaptive search shrinks the range where a strand's cells crowd each
other's candidates, which brings back the short links to the cell behind that the wider range was
meant to outweigh. On the independent simulator's movies whose strands move more than a spacing per
frame, 1.35-4.25 tracks per frame start ahead of the front; on our simulated movies linked again for
tracks starting ahead without such strands, 0.28-0.64, and there, solved whole, crowded nuclei that
merge and part took far links (3 false leaders in radial hard 60109). With this rule, on tuning
seeds: leader F1 from images 0.932 -> 0.942 on the independent simulator's 60 movies of seeds
8000-8029 (5 better, none worse; radial 8111 0.13 -> 0.53, planar 8193 0.73 -> 1.0 among the
fastest), 0.804 -> 0.805 on 120 of ours (seeds 60100-60119; 1 better, none worse); solving every
second linking whole gave 0.940 and 0.793 (8 of ours worse)."""
GEOMETRY_MIN_CONFIDENCE = 0.2
"""Warn when ``geometry = "auto"`` chose with a confidence below this
(:func:`leadertrack.front.find_front`: 0 when the collective touches exactly the planar bar's share
of the field's border, 1 at none of it or at twice the bar). Measured on 180 of our simulated movies
from images (seeds 0-4, 200-204, 400-404 and 500-514, medium and hard): none falls below it (the
least is 0.28, a sheet entering at 133 degrees) and every geometry came out right; one scratch
assay with a gap of 1.5 cell spacings was taken for one sheet (at 1.0, as before). With the earlier
rule (a side of the field covered at least half) 3 fell below it, at 0.0, one of them a small
spheroid filling the width of the field, taken for a sheet."""
MIN_MOVIE_WINDOWS = 2.0
"""Warn when a movie spans fewer motion windows than this (its frames over the classifier's window,
:func:`leadertrack.features.window_half_frames`). Measured (``benchmarks/bench_duration.py``): the
same simulated assays filmed for 6-80 frames, from their true tracks, leader F1 0.49 under one window,
0.72 at 1-1.5 and 0.83 at 1.5-2 (0.657 under 2 in all), 0.87 at 2-3, 0.94 at 3-4 and 0.965 at 4 or more."""
_FRONT_SPACINGS = 2.0  # a track is at the front when its median distance behind it is at most this many spacings
_MIN_ROWS = 3  # shorter tracks have no motion to speak of


def inward_at_front(tracks: pd.DataFrame) -> tuple[int, int]:
    """How many tracks are at the front, and how many of those move steadily inward.

    A track is at the front when its median ``front_distance_um`` is at most two typical cell
    spacings behind the front (or anywhere ahead of it), over at least 3 frames. It moves steadily
    inward when the mean over its frames of the outward net displacement / path length over the
    motion window (``window_outward_speed_um_per_min / window_speed_um_per_min x
    window_persistence``) is at most ``INWARD_PERSISTENCE``: about -1 for a cell running straight
    inward, about 0 for one wandering at random.

    Parameters
    ----------
    tracks
        Per cell-frame features from :func:`leadertrack.features.measure`.

    Returns
    -------
    tuple of int
        Tracks at the front; of these, tracks moving steadily inward.
    """
    at_front, inward = inward_track_ids(tracks)
    return len(at_front), len(inward)


def inward_track_ids(tracks: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The ids of the tracks at the front, and of those of them that move steadily inward
    (:func:`inward_at_front` counts them).

    Parameters
    ----------
    tracks
        Per cell-frame features from :func:`leadertrack.features.measure`.
    """
    if tracks.empty:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    positions = tracks[position_columns(tracks)].to_numpy(float)
    spacing = typical_spacing_um(positions, tracks["frame"].to_numpy())
    net_speed = tracks["window_speed_um_per_min"].to_numpy(float)
    direction = np.divide(
        tracks["window_outward_speed_um_per_min"].to_numpy(float), net_speed,
        out=np.full(len(tracks), np.nan), where=net_speed > 0,
    )
    per_track = pd.DataFrame({
        "distance": tracks["front_distance_um"].to_numpy(float),
        "outward": direction * tracks["window_persistence"].to_numpy(float),
    }).groupby(tracks["track_id"].to_numpy())
    distance, outward, rows = per_track["distance"].median(), per_track["outward"].mean(), per_track.size()
    at_front = (distance <= _FRONT_SPACINGS * spacing) & (rows >= _MIN_ROWS) & outward.notna()
    inward = at_front & (outward <= INWARD_PERSISTENCE)
    return at_front.index[at_front].to_numpy(), inward.index[inward].to_numpy()


def born_ahead_track_ids(tracks: pd.DataFrame, *, field_um: tuple[float, ...] | None = None) -> np.ndarray:
    """The ids of the tracks that start ahead of the front, if they are many (``BORN_AHEAD_MIN_PER_FRAME``).

    A track starts ahead of the front when its first row has a negative ``front_distance_um``, is
    not in the movie's first frame, and (with ``field_um``) lies more than one typical cell spacing
    inside the field (cells coming in across the image border start there). Fewer than
    ``BORN_AHEAD_MIN_PER_FRAME`` per frame of the movie give none: a nucleus missed for a while, or
    two that merged and part again, start a few.

    Parameters
    ----------
    tracks
        Per cell-frame features from :func:`leadertrack.features.measure`.
    field_um
        Extent of the image in µm (as for :func:`leadertrack.front.find_front`); None = unknown, no
        start is taken for a cell coming in.

    Examples
    --------
    >>> from leadertrack.features import measure
    >>> rows = [(k, f, 10.0 * k, 5.0 * f) for k in range(1, 30) for f in range(8)]  # a sheet moving along x
    >>> born_ahead_track_ids(measure(pd.DataFrame(rows, columns=["track_id", "frame", "y_um", "x_um"]))[0]).size
    0
    """
    if tracks.empty:
        return np.zeros(0, dtype=np.int64)
    columns = position_columns(tracks)
    positions = tracks[columns].to_numpy(float)
    spacing = typical_spacing_um(positions, tracks["frame"].to_numpy())
    firsts = tracks.sort_values(["track_id", "frame"]).groupby("track_id").head(1)
    start = firsts[columns].to_numpy(float)
    inside = np.ones(len(start), dtype=bool)
    if field_um is not None:
        inside = np.minimum(start.min(axis=1), (np.asarray(field_um, float) - start).min(axis=1)) > spacing
    born = (firsts["frame"].to_numpy() > tracks["frame"].min()) & (firsts["front_distance_um"].to_numpy(float) < 0) & inside
    if born.sum() < BORN_AHEAD_MIN_PER_FRAME * tracks["frame"].nunique():
        return np.zeros(0, dtype=np.int64)
    return firsts["track_id"].to_numpy()[born]


def aliased_linking_warning(tracks: pd.DataFrame) -> str | None:
    """A warning when many tracks at the front run steadily inward; None otherwise.

    That is what linking does when cells move more than about half the distance to the cell
    behind them between two frames: the cell behind ends up nearer to where a cell was than that
    cell itself, so each cell is joined to the one behind it, and a strand running outward falls
    apart into short tracks running inward. A larger search range helps in part (it makes leaving
    a cell unlinked costlier, see ``RELINK_RANGE_FACTOR``); a shorter frame interval is the cure. A
    front that really retracts shows the same sign, hence a warning, not an error.

    Parameters
    ----------
    tracks
        Per cell-frame features from :func:`leadertrack.features.measure`.

    Examples
    --------
    >>> from leadertrack.features import measure
    >>> rows = [(k, f, 10.0 * k, 5.0 * f) for k in range(1, 30) for f in range(8)]  # a sheet moving along x
    >>> tracks = measure(pd.DataFrame(rows, columns=["track_id", "frame", "y_um", "x_um"]), geometry="planar")[0]
    >>> aliased_linking_warning(tracks) is None
    True
    """
    return aliased_linking_message(*inward_at_front(tracks))


def aliased_linking_message(at_front: int, inward: int) -> str | None:
    """:func:`aliased_linking_warning` from the counts of :func:`inward_at_front`, for a caller that
    has them already.

    Examples
    --------
    >>> aliased_linking_message(120, 57)[:46]
    '57 of the 120 tracks at the front move steadil'
    >>> aliased_linking_message(120, 9) is None  # fewer than INWARD_MIN_TRACKS
    True
    """
    if inward < INWARD_MIN_TRACKS or inward < INWARD_MIN_FRACTION * at_front:
        return None
    return (
        f"{inward} of the {at_front} tracks at the front move steadily inward. If the front advances, cells probably "
        "move more than half the distance to the cell behind them between frames: linking then joins each cell to "
        "the one behind it, and leaders are lost. Image more often (a shorter frame interval); a larger search range "
        "(--max-speed-um-per-min) helps only in part. Ignore this if the front really retracts."
    )


def relinked_warning(
    first: tuple[int, int], search_range_um: float, wider_um: float, still: str | None, *, brightness: bool = True
) -> str:
    """The run's warning after a movie was linked again with a wider search range.

    Parameters
    ----------
    first
        ``inward_at_front`` of the first linking: tracks at the front, and those moving steadily inward.
    search_range_um, wider_um
        The first search range and the one used again.
    still
        ``aliased_linking_warning`` of the second linking (None when it no longer warns).
    brightness
        Whether the second linking told nuclei apart by brightness too (it cannot without a
        positive mean intensity for every nucleus).

    Examples
    --------
    >>> relinked_warning((120, 57), 12.0, 36.0, None)[:63]
    'With the derived search range (12 µm), 57 of the 120 tracks at '
    """
    at_front, inward = first
    text = (
        f"With the derived search range ({search_range_um:.3g} µm), {inward} of the {at_front} tracks at the front "
        "moved steadily inward: cells probably move more than half the distance to the cell behind them between "
        f"frames. The movie was linked again with {RELINK_RANGE_FACTOR:g} times that range ({wider_um:.3g} µm)"
        + (", telling nuclei apart by their brightness too" if brightness else "")
    )
    if still is None:
        return text + ", and the tracks at the front no longer run inward. Check the leaders' tracks; imaging more often is the cure."
    return text + "; still, " + still[0].lower() + still[1:]


def locally_relinked_warning(
    first: tuple[int, int], n_replaced: int, wider_um: float, *, brightness: bool = True, born_ahead: int = 0
) -> str:
    """The run's warning after the cells on a few tracks running inward, or on tracks starting ahead
    of the front, were linked again (``LOCAL_RELINK_MIN_TRACKS``, ``BORN_AHEAD_MIN_PER_FRAME``).

    Parameters
    ----------
    first
        ``inward_at_front`` of the first linking: tracks at the front, and those moving steadily inward.
    n_replaced
        Tracks of the second linking that took their place.
    wider_um
        The search range of the second linking.
    brightness
        Whether it told nuclei apart by brightness too.
    born_ahead
        Tracks of the first linking that started ahead of the front (:func:`born_ahead_track_ids`).

    Examples
    --------
    >>> print(locally_relinked_warning((71, 4), 5, 55.0))
    4 of the 71 tracks at the front moved steadily inward, as where a strand moves about a cell spacing per frame and linking joins each cell to the one behind it: the cells on them were linked again with 3 times the search range (55 µm), telling nuclei apart by their brightness too (5 tracks). Check the leaders' tracks there; imaging more often is the cure.
    >>> print(locally_relinked_warning((71, 0), 6, 55.0, born_ahead=12)[:74])
    12 tracks started ahead of the front, as where a strand moves about a cell
    """
    at_front, inward = first
    signs = [f"{inward} of the {at_front} tracks at the front moved steadily inward"] if inward else []
    if born_ahead:
        signs.append(f"{born_ahead} tracks started ahead of the front")
    return (
        f"{' and '.join(signs)}, as where a strand moves about a cell "
        "spacing per frame and linking joins each cell to the one behind it: the cells on them were linked again with "
        f"{RELINK_RANGE_FACTOR:g} times the search range ({wider_um:.3g} µm)"
        + (", telling nuclei apart by their brightness too" if brightness else "")
        + f" ({n_replaced} tracks). Check the leaders' tracks there; imaging more often is the cure."
    )


def uncertain_geometry_warning(fronts: pd.DataFrame, requested: str) -> str | None:
    """The warning when ``auto`` (``requested``) chose the front geometry with a confidence below
    ``GEOMETRY_MIN_CONFIDENCE``, from the ``geometry_confidence`` and ``geometry_reason`` of the
    front table (:func:`leadertrack.features.measure`); None otherwise.

    Examples
    --------
    >>> fronts = pd.DataFrame({"geometry": ["planar"], "geometry_confidence": [0.0],
    ...                        "geometry_reason": ["cells cover 50% of the high x side of the field"]})
    >>> print(uncertain_geometry_warning(fronts, "auto"))
    the front geometry (planar) was chosen with low confidence (0.00): cells cover 50% of the high x side of the field; check the front in report.html, or set --geometry planar or radial
    >>> uncertain_geometry_warning(fronts, "planar") is None
    True
    """
    if requested != "auto" or fronts.empty or "geometry_confidence" not in fronts:
        return None
    confidence = float(fronts["geometry_confidence"].iloc[0])
    if not confidence < GEOMETRY_MIN_CONFIDENCE:
        return None
    return (
        f"the front geometry ({fronts['geometry'].iloc[0]}) was chosen with low confidence ({confidence:.2f}): "
        f"{fronts['geometry_reason'].iloc[0]}; check the front in report.html, or set --geometry planar or radial"
    )


def short_movie_warning(fronts: pd.DataFrame, *, time_calibrated: bool = True) -> str | None:
    """The warning when the movie spans fewer than ``MIN_MOVIE_WINDOWS`` motion windows, from the frames and
    times of the front table (:func:`leadertrack.features.measure`); None otherwise, and None without a known
    frame interval (``time_calibrated`` False): the units warning says what to give, and the windows would be
    guesses.

    Examples
    --------
    >>> fronts = pd.DataFrame({"frame": range(8), "time_min": [5.0 * t for t in range(8)]})
    >>> short_movie_warning(fronts).startswith("the movie spans 35 min (8 frames), 1.1 motion windows of about 35 min")
    True
    >>> short_movie_warning(pd.DataFrame({"frame": range(20), "time_min": [5.0 * t for t in range(20)]})) is None
    True
    """
    if fronts.empty or not time_calibrated:
        return None
    times = fronts.drop_duplicates("frame").sort_values("frame")["time_min"].to_numpy(float)
    steps = np.diff(times)
    interval = float(np.median(steps)) if len(steps) else 1.0
    width = 2 * window_half_frames(interval) + 1
    windows = len(times) / width
    if not windows < MIN_MOVIE_WINDOWS:
        return None
    needed = int(np.ceil(MIN_MOVIE_WINDOWS * width))
    return (
        f"the movie spans {times[-1] - times[0]:.0f} min ({len(times)} frames), {windows:.1f} motion windows of about "
        f"{width * interval:.0f} min: leaders are told apart by how they move over such windows, and the same simulated "
        f"assays filmed under {MIN_MOVIE_WINDOWS:g} windows had leader F1 0.657 from their true tracks, against 0.965 "
        f"at 4 windows or more (docs/benchmarks.md). Film for at least {needed} frames ({(needed - 1) * interval:.0f} min "
        "at this interval) if you can; compare leader calls of short movies with care"
    )
