"""Cell Tracking Challenge folders as a :class:`TrackSet`, through ``leadertrack.ctc.read_ctc``."""

from __future__ import annotations

from pathlib import Path

from leadertrack.formats.trackset import TrackSet, check_tracks

__all__ = ["read_ctc_folder"]


def read_ctc_folder(path: Path) -> TrackSet:
    """Read a CTC result or ground-truth folder (``res_track.txt``/``man_track.txt`` + masks).

    ``path`` may also be the track file itself, or a ground-truth folder (``01_GT``) holding
    ``TRA/man_track.txt``.

    CTC files carry no units: positions are mask centroids in pixels and the pixel size and
    frame interval are unknown (give them with :meth:`TrackSet.with_units`). Parent links of
    ``L B E P`` lines become ``parent_track_id``, except that segments a gap split a track into
    (a track's only child, starting after its last frame) are joined back into that track, with
    the first segment's id (``read_ctc(..., join_gaps=True)``; see docs/formats.md). The masks'
    size is the field (``metadata["field_px"]``).

    Raises
    ------
    InputError
        The track file disagrees with the masks (from ``read_ctc``), or the table is inconsistent.
    """
    from leadertrack.ctc import mask_shape, read_ctc

    path = Path(path)
    path = path.parent if path.is_file() else path  # res_track.txt / man_track.txt given
    folder = path / "TRA" if not any(path.glob("*_track.txt")) and (path / "TRA").is_dir() else path  # 01_GT/TRA
    tracks, cells = read_ctc(folder)
    tracks = check_tracks(tracks, source=str(folder))
    return TrackSet(
        tracks=tracks,
        cells=cells,
        pixel_size_um=None,
        frame_interval_min=None,
        units_source="none: CTC folders hold no units",
        name=path.name,
        metadata={"field_px": tuple(float(n) for n in mask_shape(folder))},
    )
