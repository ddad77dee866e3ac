"""Read time-lapse movies and label stacks lazily, with their physical units.

A movie is a TIFF / OME-TIFF stack or a folder holding one TIFF per frame. Opening one parses
only the file headers; frames are read from disk one at a time when asked for, so memory follows
the frame size and not the movie length. Input files are opened read-only and never modified.

Axes are taken from the file's metadata (tifffile's series axes), never guessed from the shape
when the file names them: ``T`` is time, ``C`` (or RGB samples ``S``) is the channel. When the
file has no ``T`` axis (a time-lapse saved as a Z stack, or written without axis names), its
single non-spatial axis is read as time and ``Movie.metadata["notes"]`` says so.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import math
import os
import re
import threading
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import tifffile

from leadertrack.errors import InputError

__all__ = [
    "LabelStack",
    "Movie",
    "file_checksum",
    "finite_pixels",
    "frame_source",
    "is_tiff_name",
    "list_movies",
    "movie_name",
    "read_labels",
    "read_movie",
]

#: One frame larger than this is refused before anything is allocated (a corrupt header).
MAX_FRAME_BYTES = 2**32

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_SUFFIXES = (".ome.tiff", ".ome.tif", ".tiff", ".tif")
_LENGTH_TO_UM = {
    "pm": 1e-6, "å": 1e-4, "Å": 1e-4, "nm": 1e-3, "µm": 1.0, "μm": 1.0, "um": 1.0,
    "micron": 1.0, "microns": 1.0, "micrometer": 1.0, "mm": 1e3, "cm": 1e4, "m": 1e6,
}  # fmt: skip
_TIME_TO_MIN = {
    "ms": 1 / 60000, "msec": 1 / 60000, "s": 1 / 60, "sec": 1 / 60, "second": 1 / 60,
    "seconds": 1 / 60, "min": 1.0, "minute": 1.0, "minutes": 1.0, "h": 60.0, "hr": 60.0,
    "hour": 60.0, "hours": 60.0,
}  # fmt: skip
_SPATIAL = "YXS"


@dataclass(frozen=True)
class _Layout:
    """Where each frame lives on disk; small and picklable (no open handles)."""

    kind: Literal["contiguous", "pages", "files"]
    files: tuple[Path, ...]  # the file, or one file per frame
    pages: tuple[int, ...]  # per frame: plane number (contiguous) or page index (pages)
    page_shape: tuple[int, ...]  # shape of one stored plane, channel axis included
    channel_axis: int | None  # axis of the stored plane holding the channel, if any
    channel: int
    file_dtype: str  # dtype with the file's byte order (contiguous reads)
    data_offset: int = 0
    z_planes: int = 1  # stored planes per frame (a Z stack projected by its maximum), consecutive in ``pages``
    z_axis: int | None = None  # files: the axis of each file's array projected by its maximum (a Z stack)


@dataclass(frozen=True)
class Movie:
    """A (T, Y, X) time-lapse on disk, read lazily one frame at a time.

    Build it with :func:`read_movie`. The object holds no open file handle, so it pickles cheaply
    to Dask workers and subprocesses.

    Attributes
    ----------
    path
        The file, or the folder for a frame sequence.
    name
        Output stem: the file name without ``.tif``/``.tiff``/``.ome.tif``, or the folder name.
    shape
        ``(T, Y, X)`` after channel selection.
    dtype
        The pixel type as stored (native byte order).
    pixel_size_um, frame_interval_min
        Calibration, or None when neither the file nor the caller gives it.
    pixel_size_source, frame_interval_source
        ``"user"``, ``"OME metadata"``, ``"ImageJ metadata"`` or ``"none"``.
    metadata
        ``axes`` (as stored), ``time_axis``, ``channel``, ``n_channels``, ``channel_names``,
        ``format``, ``n_files``, ``reader`` and ``notes`` (assumptions made while reading).
    """

    path: Path
    name: str
    shape: tuple[int, int, int]
    dtype: np.dtype
    pixel_size_um: float | None
    frame_interval_min: float | None
    pixel_size_source: str
    frame_interval_source: str
    metadata: dict = field(compare=False)
    _layout: _Layout = field(repr=False, compare=False)

    def __len__(self) -> int:
        return self.shape[0]

    def frame(self, t: int) -> np.ndarray:
        """Read frame ``t`` (negative counts from the end) from disk as a 2-D array."""
        n = len(self)
        if not -n <= t < n:
            raise IndexError(f"frame {t} out of range for a movie of {n} frames")
        frames = _read_frames(self._layout, [t % n], self.dtype)
        try:
            return next(frames)
        finally:
            frames.close()  # closes the file now, not when the generator is collected

    def __iter__(self) -> Iterator[np.ndarray]:
        """Yield the frames in order, reading each from disk when it is reached."""
        return _read_frames(self._layout, range(len(self)), self.dtype)

    def to_array(self) -> np.ndarray:
        """The whole (T, Y, X) movie in memory (for small movies)."""
        out = np.empty(self.shape, dtype=self.dtype)
        for t, frame in enumerate(self):
            out[t] = frame
        return out

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        array = self.to_array()
        return array if dtype is None else array.astype(dtype, copy=False)

    def to_dask(self) -> Any:
        """A lazy ``dask.array`` of shape (T, Y, X), one chunk per frame."""
        import dask.array as da

        _, ny, nx = self.shape
        return da.map_blocks(
            _dask_frame,
            self,
            chunks=((1,) * len(self), (ny,), (nx,)),
            dtype=self.dtype,
            meta=np.empty((0, 0, 0), dtype=self.dtype),
        )


def _dask_frame(movie: Movie, block_id: tuple[int, int, int] | None = None) -> np.ndarray:
    assert block_id is not None
    return movie.frame(block_id[0])[np.newaxis]


def read_movie(
    path: str | Path,
    *,
    channel: int | None = None,
    frame_sequence: bool | None = None,
    pixel_size_um: float | None = None,
    frame_interval_min: float | None = None,
    z_projection: str | None = None,
) -> Movie:
    """Open a time-lapse movie without loading its pixels.

    Parameters
    ----------
    path
        A TIFF or OME-TIFF stack with axes (T,Y,X), (T,C,Y,X) or (C,T,Y,X), or a folder with one
        2-D TIFF per frame (sorted by natural order of the names: ``t2.tif`` before ``t10.tif``).
    channel
        Channel holding the nuclei, 0-based. Required when the movie has several channels.
        ``channel=0`` is accepted for a single-channel movie (it is the only channel).
    frame_sequence
        True: ``path`` must be a folder of frames. False: ``path`` must be a file. None: decided
        by what ``path`` is (a folder given here is read as one movie; use :func:`list_movies`
        to treat a folder as a batch of movie files).
    pixel_size_um, frame_interval_min
        Override the calibration found in the file (source ``"user"``).
    z_projection
        ``"max"``: a stack with a Z axis besides time ((T,Z,Y,X), with or without channels), or a
        folder with one Z stack per frame, is read as its maximum intensity projection over Z,
        one frame at a time. None: such a stack is an error. Ignored for movies without a Z axis.

    Returns
    -------
    Movie
        Lazy movie with its units and where they came from (``"none"`` when missing).

    Raises
    ------
    InputError
        With a one-line message naming the file, when the file cannot be used as a movie.

    Examples
    --------
    >>> import tempfile, tifffile
    >>> tmp = Path(tempfile.mkdtemp()) / "m.tif"
    >>> tifffile.imwrite(tmp, np.zeros((3, 4, 5), np.uint8), imagej=True,
    ...                  metadata={"axes": "TYX", "finterval": 30})
    >>> movie = read_movie(tmp)
    >>> movie.shape, movie.frame_interval_min, movie.frame_interval_source
    ((3, 4, 5), 0.5, 'ImageJ metadata')
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    for value, label in ((pixel_size_um, "pixel_size_um"), (frame_interval_min, "frame_interval_min")):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise InputError(f"{path}: {label} must be a positive number, got {value}")
    if channel is not None and channel < 0:
        raise InputError(f"{path}: channel must be 0 or more, got {channel}")
    if z_projection not in (None, "max"):
        raise InputError(f"{path}: z_projection must be 'max' or left out, got {z_projection!r}")
    if path.is_dir():
        if frame_sequence is False:
            raise InputError(f"{path}: is a folder; a movie file was expected (use list_movies for a batch)")
        movie = _sequence_from_files(path, _tiffs_in(path), channel, z_projection)
    else:
        if frame_sequence:
            raise InputError(f"{path}: is a file; a frame sequence must be a folder with one TIFF per frame")
        movie = _open_stack(path, channel, z_projection)
    if movie.dtype.kind not in "biuf":
        raise InputError(f"{path}: pixel type {movie.dtype} is not an image intensity; save the movie as integers or floats")
    px, px_src, dt, dt_src = movie.pixel_size_um, movie.pixel_size_source, movie.frame_interval_min, movie.frame_interval_source
    if pixel_size_um is not None:
        px, px_src = float(pixel_size_um), "user"
    if frame_interval_min is not None:
        dt, dt_src = float(frame_interval_min), "user"
    return Movie(
        path=movie.path,
        name=movie.name,
        shape=movie.shape,
        dtype=movie.dtype,
        pixel_size_um=px,
        frame_interval_min=dt,
        pixel_size_source=px_src,
        frame_interval_source=dt_src,
        metadata=movie.metadata,
        _layout=movie._layout,
    )


def finite_pixels(image: np.ndarray) -> np.ndarray:
    """``image`` with NaN set to its finite median and +/-inf to its finite max/min (zeros where nothing is
    finite); ``image`` itself, not a copy, when every pixel is finite (or it holds integers).

    Examples
    --------
    >>> finite_pixels(np.array([1.0, np.nan, 3.0, np.inf])).tolist()
    [1.0, 2.0, 3.0, 3.0]
    """
    if image.dtype.kind != "f" or np.isfinite(image).all():
        return image
    finite = image[np.isfinite(image)]
    if not finite.size:
        return np.zeros_like(image)
    return np.nan_to_num(image, nan=np.median(finite), posinf=finite.max(), neginf=finite.min())


def _single_frame_labels(path: Path) -> np.ndarray | None:
    """The labels of a one-frame movie (a TIFF holding a single 2-D image, as ``labels.tif`` of one) as a
    ``uint32`` (1, Y, X) array; None for any other file."""
    with _open_tiff(path) as tf:
        if len(tf.pages) != 1 or not tf.series or len(tf.series[0].shape) != 2:
            return None
        frame = tf.series[0].asarray()
    if frame.dtype.kind not in "uif" or (frame.size and (frame.min() < 0 or (frame.dtype.kind == "f" and not np.all(frame == np.round(frame))))):
        raise InputError(f"{path}: labels must be whole numbers >= 0, got pixel type {frame.dtype}")
    return frame.astype(np.uint32)[None]


def read_labels(
    path: str | Path,
    *,
    shape: tuple[int, int, int] | None = None,
    channel: int | None = None,
) -> np.ndarray | LabelStack:
    """Read a (T, Y, X) stack of instance labels (Cellpose, StarDist, CTC masks, ...).

    Parameters
    ----------
    path
        A label TIFF stack, or a folder with one label image per frame. In a folder, files named
        like masks (Cellpose ``*_masks.tif``, CTC ``mask000.tif`` / ``man_seg000.tif``) are used
        when present, so the images beside them are ignored; otherwise every TIFF is a frame.
    shape
        The movie's (T, Y, X); a label stack of another shape is an error.
    channel
        Channel holding the labels, for multi-channel files.

    Returns
    -------
    numpy.memmap or LabelStack
        Integer labels, 0 = background, read lazily either way: unsigned integer stacks stored
        uncompressed in one file as a read-only memory map, others as a :class:`LabelStack`
        that decodes a frame when it is indexed. Float labels with integer values become
        ``uint32`` (checked when opened: fractional or negative values are an error).

    Examples
    --------
    >>> import tempfile, tifffile
    >>> tmp = Path(tempfile.mkdtemp()) / "labels.tif"
    >>> tifffile.imwrite(tmp, np.ones((2, 5, 5), np.float32))
    >>> read_labels(tmp, shape=(2, 5, 5)).dtype
    dtype('uint32')
    """
    path = Path(path)
    if path.is_dir():
        files = _tiffs_in(path)
        masks = [f for f in files if re.search(r"(^|_)(man_seg|man_track|masks?)(_|\d|$)", movie_name(f).lower())]
        movie = _sequence_from_files(path, masks or files, channel)
    else:
        try:
            movie = read_movie(path, channel=channel)
        except InputError:  # a single 2-D image is no movie, but it is the labels of a one-frame movie
            single = _single_frame_labels(path) if channel is None else None
            if single is None:
                raise
            movie = single
    if shape is not None and tuple(movie.shape) != tuple(shape):
        raise InputError(
            f"{path}: labels have shape {_fmt_shape(movie.shape)} but the movie is {_fmt_shape(shape)} (T,Y,X)"
        )
    if isinstance(movie, np.ndarray):
        return movie
    layout, dtype = movie._layout, movie.dtype
    if dtype.kind == "u" and layout.kind == "contiguous" and layout.channel_axis is None and layout.z_planes == 1 and _contiguous_frames(layout):
        array = np.memmap(
            layout.files[0],
            dtype=np.dtype(layout.file_dtype),
            mode="r",
            offset=layout.data_offset + layout.pages[0] * int(np.prod(layout.page_shape)) * dtype.itemsize,
            shape=movie.shape,
        )
        return array if array.dtype.isnative else array.astype(dtype)
    if dtype.kind not in "uifb":
        raise InputError(f"{path}: labels must be integers, got pixel type {dtype}")
    if dtype.kind in "if":  # check once, streaming, so reading a frame later cannot fail
        for t, frame in enumerate(movie):
            if dtype.kind == "f":
                if not np.all(np.isfinite(frame)) or np.any(frame != np.round(frame)):
                    raise InputError(f"{path}: labels must be whole numbers; frame {t} has fractional values")
                if frame.max(initial=0) > np.iinfo(np.uint32).max:
                    raise InputError(f"{path}: label values in frame {t} are too large for uint32")
            if frame.min(initial=0) < 0:
                raise InputError(f"{path}: labels must be 0 (background) or positive; frame {t} has negative values")
    out_dtype = {"f": np.dtype(np.uint32), "b": np.dtype(np.uint8)}.get(dtype.kind, dtype)
    return LabelStack(movie, out_dtype)


@dataclass(frozen=True)
class LabelStack:
    """A (T, Y, X) label stack on disk that reads a frame only when it is indexed.

    Returned by :func:`read_labels` for stacks that cannot be memory-mapped (compressed, one file
    per frame, float). Supports ``len``, ``shape``, ``dtype``, ``stack[t]``, ``stack[t, y0:y1]``,
    ``stack[a:b]``, iteration and ``numpy.asarray(stack)``.
    """

    movie: Movie
    dtype: np.dtype
    ndim = 3

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.movie.shape

    def __len__(self) -> int:
        return len(self.movie)

    def __getitem__(self, key: Any) -> np.ndarray:
        first, rest = (key[0], key[1:]) if isinstance(key, tuple) and key else (key, ())
        if isinstance(first, (int, np.integer)):
            return self.movie.frame(int(first)).astype(self.dtype, copy=False)[rest]
        if isinstance(first, slice):
            frames = [self[t] for t in range(len(self))[first]]
            stacked = np.stack(frames) if frames else np.empty((0, *self.shape[1:]), self.dtype)
            return stacked[(slice(None), *rest)]
        return np.asarray(self)[key]

    def __iter__(self) -> Iterator[np.ndarray]:
        return (frame.astype(self.dtype, copy=False) for frame in self.movie)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        array = self.movie.to_array().astype(self.dtype, copy=False)
        return array if dtype is None else array.astype(dtype, copy=False)

    def to_dask(self) -> Any:
        """A lazy ``dask.array`` of the labels, one chunk per frame."""
        return self.movie.to_dask().astype(self.dtype)


def list_movies(
    inputs: Sequence[str | Path], *, recursive: bool = False, frame_sequence: bool = False
) -> list[Path]:
    """Expand files, folders and glob patterns into a sorted list of movies (a batch).

    Parameters
    ----------
    inputs
        Movie files (kept even when not TIFF, so a batch can report them as failed), folders
        (every ``.tif``/``.tiff`` in them) and glob patterns (``data/*.ome.tif``).
    recursive
        Also look in subfolders of the folders given.
    frame_sequence
        Each folder is one movie stored a frame per file: folders are returned as they are.

    Returns
    -------
    list of Path
        Sorted in natural order, without duplicates.

    Raises
    ------
    InputError
        When an input does not exist, a pattern matches nothing, or a folder holds no TIFF.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ("b10.tif", "b2.tif", "notes.txt"):
    ...     _ = (folder / name).write_bytes(b"")
    >>> [p.name for p in list_movies([folder])]
    ['b2.tif', 'b10.tif']
    """
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.exists():
            matches = [path]
        elif glob.has_magic(str(item)):
            matches = [Path(p) for p in glob.glob(str(item), recursive=recursive)]
            if not matches:
                raise InputError(f"{item}: the pattern matches no file")
        else:
            raise InputError(f"{path}: no such file or folder")
        for match in matches:
            if match.is_dir() and not frame_sequence:
                tiffs = _tiffs_in(match, recursive=recursive)
                if not tiffs:
                    where = "in it or its subfolders" if recursive else "in it (-r / --recursive, or recursive=True, searches its subfolders)"
                    raise InputError(f"{match}: folder has no .tif/.tiff file {where}")
                found.extend(tiffs)
            else:
                found.append(match)
    unique = {p.resolve(): p for p in found}
    return sorted(unique.values(), key=_natural_key)


def file_checksum(path: str | Path, *, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 of a file, or of a frame folder (names and contents of its TIFFs, in order).

    Streams the bytes, so any file size works in constant memory. Used for provenance in
    ``run.json`` and to decide whether a batch can skip a movie it already analysed.

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "a.tif"
    >>> _ = f.write_bytes(b"abc")
    >>> file_checksum(f)[:16]
    'ba7816bf8f01cfea'
    """
    path = Path(path)
    digest = hashlib.sha256()
    files = _tiffs_in(path) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.name.encode() + b"\0")
        try:
            with open(file, "rb") as fh:
                while chunk := fh.read(chunk_bytes):
                    digest.update(chunk)
        except OSError as exc:
            raise InputError(f"{file}: cannot read the file: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def is_tiff_name(path: str | Path) -> bool:
    """True when the file name ends in ``.tif`` or ``.tiff`` (any case)."""
    return Path(path).name.lower().endswith((".tif", ".tiff"))


# --------------------------------------------------------------------------- opening


def _open_stack(path: Path, channel: int | None, z_projection: str | None = None) -> Movie:
    with _open_tiff(path) as tf:
        series = tf.series[0]
        axes, shape = series.axes, tuple(series.shape)
        frames = _one_image_per_series(tf)
        if frames:  # written one 2-D image at a time (e.g. tifffile.TiffWriter.write per frame)
            axes, shape = "I" + axes, (len(frames), *shape)
        plan = _axes_plan(path, axes, shape, channel, want_time=True, z_projection=z_projection)
        if frames:
            channel_in_page = None if plan.channel_axis is None else plan.channel_axis - 1
            layout = _pages_layout(path, tf, frames, tuple(series.keyframe.shape), channel_in_page, plan)
        else:
            layout = _stack_layout(path, tf, series, plan)
        px, px_src, dt, dt_src = _calibration(tf)
        metadata = _metadata(tf, axes, plan, n_files=1, reader=layout.kind)
    dtype = np.dtype(series.dtype).newbyteorder("=")
    return Movie(path, movie_name(path), (shape[plan.time], *plan.yx), dtype, px, dt, px_src, dt_src, metadata, layout)


def _sequence_from_files(path: Path, files: list[Path], channel: int | None, z_projection: str | None = None) -> Movie:
    if not files:
        raise InputError(f"{path}: folder has no .tif/.tiff file to read as frames")
    if len(files) < 2:
        raise InputError(f"{path}: folder holds a single frame ({files[0].name}); a time-lapse needs at least 2")
    gap = _numbering_gap(files)
    if gap:
        raise InputError(
            f"{path}: {gap}; the frames after it would be taken as earlier than they were, and every speed across "
            "the gap would be wrong. Put the missing frame back (a copy of its neighbour will do), or analyse the "
            "parts before and after it apart"
        )
    first_shape: tuple[int, ...] | None = None
    for file in files:
        with _open_tiff(file) as tf:
            series = tf.series[0]
            shape, dtype = tuple(series.shape), np.dtype(series.dtype)
            if first_shape is None:
                plan = _axes_plan(file, series.axes, shape, channel, want_time=False, z_projection=z_projection)
                first_shape, first_dtype = shape, dtype
                px, px_src, dt, dt_src = _calibration(tf)
                metadata = _metadata(tf, series.axes, plan, n_files=len(files), reader="files")
                page = tuple(series.shape)
            elif shape != first_shape or dtype != first_dtype:
                raise InputError(
                    f"{file}: frame is {_fmt_shape(shape)} {dtype} but {files[0].name} is "
                    f"{_fmt_shape(first_shape)} {first_dtype}; all frames of a sequence must match"
                )
    metadata["time_axis"] = "files"
    channel_axis = plan.channel_axis
    if plan.z_axis is not None:  # each file's array is projected over Z before the channel is taken
        page = page[: plan.z_axis] + page[plan.z_axis + 1 :]
        channel_axis = None if channel_axis is None else channel_axis - (channel_axis > plan.z_axis)
    layout = _Layout(
        kind="files",
        files=tuple(files),
        pages=(0,) * len(files),
        page_shape=page,
        channel_axis=channel_axis,
        channel=plan.channel,
        file_dtype=first_dtype.str,
        z_axis=plan.z_axis,
    )
    dtype = first_dtype.newbyteorder("=")
    return Movie(path, movie_name(path), (len(files), *plan.yx), dtype, px, dt, px_src, dt_src, metadata, layout)


def _open_tiff(path: Path) -> tifffile.TiffFile:
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
    if not magic:
        raise InputError(f"{path}: the file is empty")
    if magic not in _TIFF_MAGIC:
        raise InputError(f"{path}: not a TIFF file (leadertrack reads TIFF and OME-TIFF; convert other formats, e.g. in Fiji)")
    tf = None
    with _TiffWarnings() as warnings:
        try:
            tf = tifffile.TiffFile(path, mode="rb")
            if not tf.series:
                raise InputError(f"{path}: the TIFF holds no image")
            keyframe = tf.series[0].keyframe
            nbytes = int(np.prod(keyframe.shape, dtype=np.float64)) * keyframe.dtype.itemsize
            if nbytes > MAX_FRAME_BYTES:
                shape = "x".join(str(n) for n in keyframe.shape)
                raise InputError(
                    f"{path}: one image plane is {shape} pixels ({nbytes / 2**30:.1f} GiB), too large to "
                    "process; the file header may be corrupt"
                )
            if warnings.records:
                raise InputError(f"{path}: corrupt or truncated TIFF ({warnings.records[0]})")
        except Exception as exc:  # tifffile raises many types for damaged files
            if tf is not None:
                tf.close()
            if isinstance(exc, InputError):
                raise
            raise InputError(f"{path}: corrupt or truncated TIFF ({_short(exc)})") from exc
    return tf


class _TiffWarnings(logging.Filter):
    """Collect (and silence) tifffile's warnings about damaged structure while a file is opened.

    tifffile logs, rather than raises, when page offsets point past the end of a truncated file
    and then returns fewer pages; those messages are turned into an :class:`InputError`.
    """

    _DAMAGE = re.compile(r"invalid|corrupt|incorrect|truncat|failed|missing", re.IGNORECASE)

    def __enter__(self) -> Self:
        self.records: list[str] = []
        self._thread = threading.get_ident()
        logging.getLogger("tifffile").addFilter(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("tifffile").removeFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.thread == self._thread and record.levelno >= logging.WARNING:
            message = record.getMessage()
            if self._DAMAGE.search(message):
                self.records.append(re.sub(r"^<[^>]*>\s*", "", message.splitlines()[0]))
                return False
        return True


@dataclass(frozen=True)
class _AxesPlan:
    time: int | None  # axis index in the series of the time axis
    channel_axis: int | None  # axis index in the series of the channel axis
    channel: int
    n_channels: int
    yx: tuple[int, int]
    notes: tuple[str, ...]
    z_axis: int | None = None  # axis index in the series of the Z axis, when projected


def _axes_plan(
    path: Path, axes: str, shape: tuple[int, ...], channel: int | None, *, want_time: bool, z_projection: str | None = None
) -> _AxesPlan:
    """Decide which stored axis is time, which is the channel and (``z_projection``) which is Z,
    from the axis letters."""
    notes: list[str] = []
    z_axis: int | None = None
    if "Y" not in axes or "X" not in axes:
        raise InputError(f"{path}: unsupported axes {axes!r} of shape {_fmt_shape(shape)}; expected Y and X")
    yx = (shape[axes.index("Y")], shape[axes.index("X")])
    channel_letters = [a for a in axes if a in "CS"]
    if len(channel_letters) > 1:
        raise InputError(f"{path}: has both channels and RGB samples (axes {axes!r}); save one channel as grayscale")
    others = [a for a in axes if a not in "YXCS"]
    c_axis = axes.index(channel_letters[0]) if channel_letters else None
    t_axis: int | None = None
    if want_time:
        if "T" in others:
            t_axis = axes.index("T")
            extra = [a for a in others if a != "T"]
            if extra == ["Z"] and z_projection == "max":
                z_axis = axes.index("Z")
                notes.append(f"Z stack of {shape[z_axis]} planes: read as its maximum intensity projection over Z")
            elif extra == ["Z"]:
                raise InputError(
                    f"{path}: has axes {axes!r} of shape {_fmt_shape(shape)}: a 3-D (Z stack) time-lapse; leadertrack "
                    "needs a 2-D time-lapse (T,Y,X): project it over Z with z_projection='max' (--z-projection max)"
                )
            elif extra:
                what = "a 3-D (Z stack) time-lapse with an extra axis" if "Z" in extra else "an extra axis"
                other = next(a for a in extra if a != "Z")
                raise InputError(
                    f"{path}: has axes {axes!r} of shape {_fmt_shape(shape)}: {what} {other!r}; "
                    "leadertrack needs a 2-D time-lapse (T,Y,X)"
                )
        elif len(others) == 1:
            t_axis = axes.index(others[0])
            notes.append(f"no T axis in the file: axis {others[0]!r} of size {shape[t_axis]} read as time")
        elif len(others) == 2 and c_axis is None and all(a not in "Z" for a in others):
            t_axis, c_axis = 0, 1
            notes.append(f"unnamed axes {axes!r}: read as (T,C,Y,X)")
        elif not others and channel_letters == ["C"] and channel in (None, 0):
            t_axis, c_axis = c_axis, None
            notes.append(f"no T axis in the file: axis 'C' of size {shape[t_axis]} read as time")
        elif not others and axes.startswith("SYX") and channel is None:
            # tifffile < 2027 stores an unlabelled (3|4, Y, X) stack as planar RGB(A)
            t_axis, c_axis = 0, None
            notes.append(f"planar RGB file without axis names: its {shape[0]} colour planes read as frames")
        elif not others:
            raise InputError(
                f"{path}: is a single 2-D image{' (with channels)' if c_axis is not None else ''}, "
                "not a time-lapse; leadertrack needs (T,Y,X)"
            )
        else:
            raise InputError(
                f"{path}: has {len(shape)} axes {axes!r} of shape {_fmt_shape(shape)}; leadertrack needs a 2-D "
                "time-lapse (T,Y,X), optionally with channels"
            )
    elif others == ["Z"] and z_projection == "max":
        z_axis = axes.index("Z")
        notes.append(f"each frame a Z stack of {shape[z_axis]} planes: read as its maximum intensity projection over Z")
    elif others:
        hint = "; a Z stack per frame is read with z_projection='max' (--z-projection max)" if others == ["Z"] else ""
        raise InputError(
            f"{path}: frame has axes {axes!r} of shape {_fmt_shape(shape)}, not a single 2-D image; "
            f"a folder of movie stacks is a batch (read it without frame_sequence){hint}"
        )
    n_channels = shape[c_axis] if c_axis is not None else 1
    if c_axis is None:
        if channel not in (None, 0):
            raise InputError(f"{path}: has 1 channel; channel {channel} does not exist (use 0 or leave it out)")
    elif channel is None:
        raise InputError(
            f"{path}: has {n_channels} channels (axes {axes!r}); choose the nuclei channel with channel=/--channel (0-{n_channels - 1})"
        )
    elif channel >= n_channels:
        raise InputError(f"{path}: has {n_channels} channels (0-{n_channels - 1}); channel {channel} does not exist")
    return _AxesPlan(t_axis, c_axis, channel or 0, n_channels, yx, tuple(notes), z_axis)


def _stack_layout(path: Path, tf: tifffile.TiffFile, series: Any, plan: _AxesPlan) -> _Layout:
    """Map each frame of the selected channel to a stored plane of the file."""
    axes, shape = series.axes, tuple(series.shape)
    dtype = np.dtype(series.dtype).newbyteorder(tf.byteorder)
    if series.dataoffset is not None:  # uncompressed and contiguous: address (Y,X[,S]) planes directly
        need = series.dataoffset + int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
        if need > tf.filehandle.size:  # checked first: a corrupt header may claim billions of frames
            raise InputError(
                f"{path}: truncated TIFF: the header describes {_fmt_shape(shape)} pixels "
                f"({need:,} bytes) but the file has {tf.filehandle.size:,} bytes"
            )
        n_grid = len(shape) - (3 if axes.endswith("YXS") else 2)
    else:  # compressed or scattered: one TIFF page per frame
        n_grid = len(shape) - len(series.keyframe.axes)
        n_planes = math.prod(shape[:n_grid])
        if n_planes > len(tf.pages):  # checked first: a corrupt description may claim billions of frames
            raise InputError(
                f"{path}: truncated or corrupt TIFF: the header describes {n_planes:,} images but the file holds {len(tf.pages)}"
            )
    plane_shape = shape[n_grid:]
    # contiguous planes are addressed by offset, whatever the pages say (tifffile stores a (3|4,Y,X)
    # stack with axes 'TYX' as one planar RGB page); pages must hold whole planes
    paged = series.dataoffset is None
    if plan.time >= n_grid or axes[n_grid:] not in ("YX", "YXS", "SYX") or (paged and not axes.endswith(series.keyframe.axes)):
        raise InputError(f"{path}: unsupported TIFF layout (axes {axes!r}, stored as planes of {axes[n_grid:]!r})")
    if plan.z_axis is not None and plan.z_axis >= n_grid:
        raise InputError(f"{path}: unsupported TIFF layout (axes {axes!r}, Z stored within the planes {axes[n_grid:]!r})")
    channel_in_plane = plan.channel_axis is not None and plan.channel_axis >= n_grid
    # the planes of frame t: (t, z) for every z, frame after frame
    n_z = shape[plan.z_axis] if plan.z_axis is not None else 1
    index = np.zeros((n_grid, shape[plan.time] * n_z), dtype=np.intp)
    index[plan.time] = np.repeat(np.arange(shape[plan.time]), n_z)
    if plan.z_axis is not None:
        index[plan.z_axis] = np.tile(np.arange(n_z), shape[plan.time])
    if plan.channel_axis is not None and not channel_in_plane:
        index[plan.channel_axis] = plan.channel
    planes = [int(p) for p in np.ravel_multi_index(tuple(index), shape[:n_grid])]
    channel_axis = plan.channel_axis - n_grid if channel_in_plane else None
    if series.dataoffset is not None:
        return _Layout(
            "contiguous", (path,), tuple(planes), plane_shape, channel_axis, plan.channel, dtype.str, series.dataoffset, n_z
        )
    pages = [_page(series, plane) for plane in planes]
    return _pages_layout(path, tf, pages, plane_shape, channel_axis, plan, z_planes=n_z)


def _page(series: Any, plane: int) -> Any:
    """The page holding ``plane`` of ``series``, or None when the file lacks it."""
    try:
        return series.pages[plane]
    except IndexError:  # tifffile's page list may claim more pages than the file has
        return None


def _pages_layout(
    path: Path,
    tf: tifffile.TiffFile,
    pages: list[Any],
    page_shape: tuple[int, ...],
    channel_axis: int | None,
    plan: _AxesPlan,
    *,
    z_planes: int = 1,
) -> _Layout:
    """A layout reading each frame from its own TIFF page (its ``z_planes`` consecutive pages),
    after checking the pages are whole."""
    indices = []
    for k, page in enumerate(pages):
        t = k // z_planes
        if page is None:
            raise InputError(f"{path}: truncated or incomplete TIFF: the image of frame {t} is missing")
        if page.parent is not tf:
            raise InputError(f"{path}: frames stored in other files (multi-file OME-TIFF) are not supported")
        end = max((o + n for o, n in zip(page.dataoffsets, page.databytecounts)), default=0)
        if end > tf.filehandle.size:
            raise InputError(f"{path}: truncated TIFF: the image of frame {t} ends past the end of the file")
        indices.append(page.index if isinstance(page.index, int) else page.index[0])
    dtype = np.dtype(tf.series[0].dtype).newbyteorder(tf.byteorder)
    return _Layout("pages", (path,), tuple(indices), page_shape, channel_axis, plan.channel, dtype.str, z_planes=z_planes)


def _one_image_per_series(tf: tifffile.TiffFile) -> list[Any]:
    """The pages of a file holding a stack as many one-page 2-D series of one shape, else []."""
    first = tf.series[0]
    if len(tf.series) < 2 or len(first.pages) != 1 or "Y" not in first.axes or any(a not in "YXS" for a in first.axes):
        return []
    if any(s.shape != first.shape or s.dtype != first.dtype or s.axes != first.axes or len(s.pages) != 1 for s in tf.series):
        return []
    return [s.pages[0] for s in tf.series]


def _contiguous_frames(layout: _Layout) -> bool:
    first = layout.pages[0]
    return layout.pages == tuple(range(first, first + len(layout.pages)))


# --------------------------------------------------------------------------- reading


def _read_frames(layout: _Layout, frames: Sequence[int], dtype: np.dtype) -> Iterator[np.ndarray]:
    """Yield the frames asked for, opening the file once for all of them."""
    file = layout.files[0]
    try:
        if layout.kind == "contiguous":
            file_dtype = np.dtype(layout.file_dtype)
            nbytes = int(np.prod(layout.page_shape)) * file_dtype.itemsize
            with open(file, "rb") as fh:

                def plane(t: int, stored: int) -> np.ndarray:
                    buf = np.empty(layout.page_shape, dtype=file_dtype)
                    fh.seek(layout.data_offset + stored * nbytes)
                    if fh.readinto(buf.reshape(-1).view(np.uint8)) != nbytes:
                        raise InputError(f"{file}: truncated TIFF: frame {t} ends past the end of the file")
                    return _select(buf, layout).astype(dtype, copy=False)

                for t in frames:
                    yield _projected(layout, t, plane)
        elif layout.kind == "pages":
            with tifffile.TiffFile(file, mode="rb") as tf:

                def plane(t: int, stored: int) -> np.ndarray:
                    page = tf.pages[stored]
                    # checked before decoding: a damaged page may claim millions of rows
                    if math.prod(page.shape) != math.prod(layout.page_shape):
                        raise InputError(f"{file}: damaged TIFF: frame {t} claims shape {page.shape}, not {layout.page_shape}")
                    return _select(page.asarray(), layout)

                for t in frames:
                    yield _projected(layout, t, plane)
        else:
            for t in frames:
                file = layout.files[t]
                with tifffile.TiffFile(file, mode="rb") as tf:
                    image = tf.series[0].asarray()
                yield _select(image if layout.z_axis is None else image.max(axis=layout.z_axis), layout)
    except (InputError, GeneratorExit):
        raise
    except Exception as exc:  # damaged data surfaces only when a frame is decoded
        raise InputError(f"{file}: cannot read frame data ({_short(exc)})") from exc


def _projected(layout: _Layout, t: int, plane: Callable[[int, int], np.ndarray]) -> np.ndarray:
    """Frame ``t``: its one stored plane, or the maximum over its ``z_planes`` planes (read one at
    a time by ``plane(t, stored index)``)."""
    stored = layout.pages[t * layout.z_planes : (t + 1) * layout.z_planes]
    frame = plane(t, stored[0])
    for index in stored[1:]:
        frame = np.maximum(frame, plane(t, index))
    return frame


def _select(plane: np.ndarray, layout: _Layout) -> np.ndarray:
    if plane.size != math.prod(layout.page_shape):  # tifffile returns an empty array for a damaged page
        raise ValueError(f"damaged image data: {plane.size} pixels instead of {math.prod(layout.page_shape)}")
    if layout.channel_axis is not None:
        plane = np.take(plane, layout.channel, axis=layout.channel_axis)
    return plane.reshape(plane.shape[-2:])


# --------------------------------------------------------------------------- units


def _calibration(tf: tifffile.TiffFile) -> tuple[float | None, str, float | None, str]:
    """Pixel size (µm) and frame interval (min) with their sources, OME first, then ImageJ."""
    px = dt = None
    px_src = dt_src = "none"
    if tf.is_ome and tf.ome_metadata:
        px, dt = _ome_units(tf.ome_metadata)
        px_src = "OME metadata" if px is not None else "none"
        dt_src = "OME metadata" if dt is not None else "none"
    if tf.is_imagej and tf.imagej_metadata:
        ij_px, ij_dt = _imagej_units(tf.imagej_metadata, tf.pages.first)
        if px is None and ij_px is not None:
            px, px_src = ij_px, "ImageJ metadata"
        if dt is None and ij_dt is not None:
            dt, dt_src = ij_dt, "ImageJ metadata"
    return px, px_src, dt, dt_src


def _ome_units(xml: str) -> tuple[float | None, float | None]:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None, None
    pixels = next((el for el in root.iter() if _tag(el) == "Pixels"), None)
    if pixels is None:
        return None, None
    px = _scaled(pixels.get("PhysicalSizeX"), pixels.get("PhysicalSizeXUnit", "µm"), _LENGTH_TO_UM)
    dt = _scaled(pixels.get("TimeIncrement"), pixels.get("TimeIncrementUnit", "s"), _TIME_TO_MIN)
    if dt is None:
        times: dict[int, float] = {}
        for plane in (el for el in pixels if _tag(el) == "Plane"):
            if plane.get("TheC", "0") == "0" and plane.get("TheZ", "0") == "0" and plane.get("DeltaT"):
                value = _scaled(plane.get("DeltaT"), plane.get("DeltaTUnit", "s"), _TIME_TO_MIN, allow_zero=True)
                if value is not None:
                    times[int(plane.get("TheT", "0"))] = value
        if len(times) >= 2:
            steps = np.diff([times[t] for t in sorted(times)]) / np.diff(sorted(times))
            dt = float(np.median(steps)) if np.median(steps) > 0 else None
    return px, dt


def _imagej_units(meta: dict, page: Any) -> tuple[float | None, float | None]:
    px = None
    unit = str(meta.get("unit", "")).replace("\\u00B5", "µ").replace("\\u00b5", "µ").strip().lower()
    factor = _LENGTH_TO_UM.get(unit)
    resolution = page.tags.get("XResolution")
    if factor is not None and resolution is not None:
        num, den = resolution.value
        if num > 0 and den > 0:
            px = factor * den / num
    dt = _scaled(meta.get("finterval"), str(meta.get("tunit", "sec")), _TIME_TO_MIN)
    return px, dt


def _scaled(value: Any, unit: str, table: dict[str, float], *, allow_zero: bool = False) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    factor = table.get(unit.strip()) or table.get(unit.strip().lower())
    if factor is None or not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        return None
    return number * factor


def _tag(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


# --------------------------------------------------------------------------- helpers


def _metadata(tf: tifffile.TiffFile, axes: str, plan: _AxesPlan, *, n_files: int, reader: str) -> dict:
    fmt = "OME-TIFF" if tf.is_ome else "ImageJ TIFF" if tf.is_imagej else "TIFF"
    names: list[str] = []
    if tf.is_ome and tf.ome_metadata:
        try:
            root = ET.fromstring(tf.ome_metadata)
            names = [el.get("Name", "") for el in root.iter() if _tag(el) == "Channel"]
        except ET.ParseError:
            names = []
    return {
        "format": fmt,
        "axes": axes,
        "time_axis": axes[plan.time] if plan.time is not None else None,
        "channel": plan.channel if plan.n_channels > 1 else None,
        "n_channels": plan.n_channels,
        "z_projection": "max" if plan.z_axis is not None else None,
        "channel_names": names,
        "n_files": n_files,
        "reader": reader,
        "notes": list(plan.notes),
    }


def movie_name(path: str | Path) -> str:
    """The name of a movie's result folder: its file name without the TIFF suffix, made safe.

    Characters other than letters and digits (of any script), ``.``, ``-`` and ``_`` become ``_``
    and leading dots are dropped (a name that is then empty becomes ``movie``), so a result folder can
    never escape ``OUT``, be hidden, or look like the temporary folder of another movie.

    Examples
    --------
    >>> movie_name("/data/well A1.ome.tif")
    'well_A1'
    >>> movie_name("../..tif")
    'movie'
    >>> movie_name("細胞 é#1.tif")
    '細胞_é_1'
    """
    name = unicodedata.normalize("NFC", Path(path).name)  # an accent typed on macOS is one letter, not two
    for suffix in _SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    name = re.sub(r"[^\w.-]", "_", name).lstrip(".")  # no hidden folder, no '.x.partial-*' look-alike
    return name or "movie"


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", str(path))]


def _numbering_gap(files: Sequence[Path]) -> str | None:
    """Where the frame numbers of a sequence of files skip some, or None.

    The frame number is the last number in each file name; the check applies when every name has
    one after the same text (``t000.tif``, ``t001.tif``, ...). Numbers that rise in a constant step
    (every fifth frame saved) are no gap; a step larger than the usual one is.

    Examples
    --------
    >>> _numbering_gap([Path(f"t{i:03d}.tif") for i in (0, 1, 3, 4)])
    'frame files jump from t001.tif to t003.tif (frame 2 is missing)'
    >>> _numbering_gap([Path(f"t{i:03d}.tif") for i in (0, 5, 10)]) is None
    True
    """
    parsed = [re.fullmatch(r"(.*?)(\d+)(\D*)", Path(f).name) for f in files]
    if len(files) < 3 or not all(parsed) or len({(m.group(1), m.group(3).lower()) for m in parsed}) != 1:
        return None
    numbers = np.array([int(m.group(2)) for m in parsed])
    steps = np.diff(numbers)
    if (steps <= 0).any():
        return None
    usual = int(np.median(steps))
    jumps = np.flatnonzero(steps > usual)
    if jumps.size == 0:
        return None
    i = int(jumps[0])
    missing = list(range(numbers[i] + usual, numbers[i + 1], usual))
    shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
    more = f"; {jumps.size} such jumps in all" if jumps.size > 1 else ""
    return (
        f"frame files jump from {Path(files[i]).name} to {Path(files[i + 1]).name} "
        f"(frame{'s' if len(missing) > 1 else ''} {shown} {'are' if len(missing) > 1 else 'is'} missing{more})"
    )


_RESULT_MARKERS = ("run.json", "tracks.csv", "cells.csv")
"""Files every leadertrack result folder holds: its labels.tif is not a movie to analyse."""


def _tiffs_in(folder: Path, *, recursive: bool = False) -> list[Path]:
    """The TIFFs of ``folder`` (and, ``recursive``, of its subfolders except hidden ones and leadertrack's own
    result folders, so that results written inside the input folder are not analysed as movies next time)."""
    if recursive:
        files = []
        for root, subfolders, names in os.walk(folder):
            subfolders[:] = sorted(
                d for d in subfolders
                if not d.startswith(".") and not all((Path(root) / d / m).is_file() for m in _RESULT_MARKERS)
            )
            files.extend(Path(root) / name for name in names)
    else:
        files = folder.iterdir()
    return sorted((f for f in files if f.is_file() and is_tiff_name(f) and not f.name.startswith(".")), key=_natural_key)


def _fmt_shape(shape: Sequence[int]) -> str:
    return "(" + ",".join(str(int(s)) for s in shape) + ")"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def frame_source(frames: Any) -> tuple[int, Callable[[int], np.ndarray]]:
    """Number of frames and a frame getter, for a Movie (read lazily), a (T,Y,X) or (Y,X) array
    or a list of 2-D arrays.

    Examples
    --------
    >>> n, get = frame_source(np.zeros((3, 4, 5)))
    >>> n, get(2).shape
    (3, (4, 5))
    """
    if hasattr(frames, "frame"):  # leadertrack.io.Movie: read lazily
        return len(frames), frames.frame
    if isinstance(frames, np.ndarray):
        if frames.ndim == 2:
            return 1, lambda t: frames
        if frames.ndim != 3:
            raise ValueError(f"expected a 2-D frame or a (T,Y,X) stack, got an array of shape {frames.shape}")
        return frames.shape[0], lambda t: frames[t]
    if isinstance(frames, Sequence):
        return len(frames), lambda t: np.asarray(frames[t])
    return frame_source(np.asarray(frames))
