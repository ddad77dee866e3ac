"""A corpus of malformed and hostile input files, built in tmp_path, offered to every reader.

Each case either raises :class:`leadertrack.errors.InputError` with a one-line message that
starts with the file name and says what is wrong, or gives a documented correct result. No case
may crash with another exception, hang, or allocate without bound (peak memory is measured with
tracemalloc, which sees numpy's allocations). The count of cases is quoted in docs/reliability.md.
"""

from __future__ import annotations

import struct
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io
import tifffile

from leadertrack.errors import InputError
from leadertrack.formats import read_tracks
from leadertrack.io import read_labels, read_movie

#: Reading a malformed file may not allocate more than this (the files are a few kB).
PEAK_BYTES = 64 * 2**20

# tifffile stores (3|4, Y, X) stacks as planar RGB and warns; such files are part of the corpus
pytestmark = pytest.mark.filterwarnings("ignore:<tifffile.TiffWriter.write> data with shape:DeprecationWarning")

Builder = Callable[[Path], Path]


def _refused(path: Path, read: Callable[[Path], object], match: str) -> InputError:
    """Assert ``read(path)`` raises a one-line InputError naming the file, within PEAK_BYTES."""
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match=match) as err:
            read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(err.value)
    assert message.startswith(str(path)), message
    assert "\n" not in message and "Traceback" not in message
    assert peak < PEAK_BYTES, f"reading {path.name} allocated {peak / 2**20:.0f} MiB"
    return err.value


# --------------------------------------------------------------------------- TIFF movies


def _stack(tmp: Path, name: str = "movie.tif", shape=(3, 8, 8), dtype=np.uint16, **kwargs) -> Path:
    path = tmp / name
    tifffile.imwrite(path, np.arange(np.prod(shape)).reshape(shape).astype(dtype), **kwargs)
    return path


def _patch_dims(path: Path, *, height: int, width: int) -> Path:
    """Rewrite ImageLength/ImageWidth of every page in place (a corrupt header)."""
    data = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tf:
        for page in tf.pages:
            for code, value in ((256, width), (257, height)):
                tag = page.tags[code]
                fmt = {3: "<H", 4: "<I", 16: "<Q"}[tag.dtype]
                struct.pack_into(fmt, data, tag.valueoffset, min(value, 256 ** struct.calcsize(fmt) - 1))
    path.write_bytes(data)
    return path


def _truncated(fraction: float, **kwargs) -> Builder:
    def build(tmp: Path) -> Path:
        path = _stack(tmp, shape=(6, 32, 32), **kwargs)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])
        return path

    return build


def _imagej_lie(claim: bytes) -> Builder:
    """An ImageJ hyperstack of 3 frames whose description claims otherwise (same byte length)."""

    def build(tmp: Path) -> Path:
        path = _stack(tmp, dtype=np.uint8, imagej=True, metadata={"axes": "TYX"})
        data = path.read_bytes()
        truth = b"images=3\nframes=3"
        assert truth in data and len(truth) == len(claim)
        path.write_bytes(data.replace(truth, claim))
        return path

    return build


def _claims_frames(n_frames: int) -> Builder:
    """A zlib stack of 5 frames whose shaped description claims ``n_frames``."""

    def build(tmp: Path) -> Path:
        path = _stack(tmp, shape=(5, 6, 7), compression="zlib", metadata={"axes": "TYX"})
        data = path.read_bytes()
        truth = b'"shape": [5, 6, 7], "axes": "TYX"}' + b"\x00" * 6
        claim = b'"shape":[%d,6,7],"axes":"TYX"}' % n_frames
        assert truth in data and len(claim) <= len(truth)
        path.write_bytes(data.replace(truth, claim.ljust(len(truth), b"\x00")))
        return path

    return build


def _written(data: bytes, name: str = "movie.tif") -> Builder:
    def build(tmp: Path) -> Path:
        (tmp / name).write_bytes(data)
        return tmp / name

    return build


def _ome_with_description(xml: str) -> Builder:
    def build(tmp: Path) -> Path:
        path = tmp / "movie.ome.tif"
        tifffile.imwrite(path, np.zeros((3, 8, 8), np.uint8), description=xml, metadata=None)
        return path

    return build


_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + ']><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image><Pixels PhysicalSizeX="&lol9;" '
    'SizeT="3" SizeX="8" SizeY="8" DimensionOrder="XYCZT" Type="uint8"/></Image></OME>'
)

TIFF_REFUSED: dict[str, tuple[Builder, str]] = {
    "empty file": (_written(b""), "empty"),
    "text named .tif": (_written(b"well,pixel_size\nA1,0.65\n"), "not a TIFF"),
    "PNG named .tif": (_written(b"\x89PNG\r\n\x1a\n" + bytes(64)), "not a TIFF"),
    "TIFF magic only": (_written(b"II*\x00"), "corrupt or truncated"),
    "header, IFD offset past the end": (_written(b"II*\x00\xff\xff\xff\x00"), "corrupt or truncated|holds no image"),
    "truncated at 10%": (_truncated(0.1), "truncated"),
    "truncated at 60%": (_truncated(0.6), "truncated"),
    "truncated at 99%": (_truncated(0.99), "truncated"),
    "zlib, truncated at 60%": (_truncated(0.6, compression="zlib"), "truncated|corrupt|cannot read"),
    "ImageJ claims 9 frames, holds 3": (_imagej_lie(b"images=9\nframes=9"), "corrupt"),
    "zlib stack claiming 10**7 frames": (_claims_frames(9_999_999), "describes 9,999,999 images but the file holds 5"),
    "zlib stack claiming 6 frames": (_claims_frames(6), "describes 6 images but the file holds 5"),
    "65535x65535 uint16 planes in a 400 B file": (
        lambda tmp: _patch_dims(_stack(tmp), height=65535, width=65535), "too large|truncated"
    ),
    "40000x40000 zlib planes (4.5 GiB each)": (
        lambda tmp: _patch_dims(_stack(tmp, dtype=np.uint8, compression="zlib"), height=40000, width=40000),
        "too large|truncated",
    ),
    "BigTIFF claiming 2**64-1 pixels a side": (
        lambda tmp: _patch_dims(_stack(tmp, bigtiff=True, compression="zlib"), height=2**64, width=2**64),
        "too large|corrupt",
    ),
    "single 2-D image": (lambda tmp: _stack(tmp, shape=(8, 8)), "single 2-D image"),
    "one pixel, single image": (lambda tmp: _stack(tmp, shape=(1, 1)), "single 2-D image"),
    "Z stack time-lapse": (
        lambda tmp: _stack(tmp, shape=(2, 3, 8, 8), imagej=True, metadata={"axes": "TZYX"}), "Z stack"
    ),
    "complex pixels": (lambda tmp: _stack(tmp, dtype=np.complex64), "pixel type complex64"),
    "channels without choosing one": (
        lambda tmp: _stack(tmp, shape=(3, 2, 8, 8), imagej=True, metadata={"axes": "TCYX"}), "choose the nuclei channel"
    ),
}


@pytest.mark.parametrize("build, match", TIFF_REFUSED.values(), ids=TIFF_REFUSED.keys())
def test_malformed_tiff_movies_are_refused(tmp_path, build, match):
    path = build(tmp_path)

    def read(p: Path) -> np.ndarray:
        return read_movie(p).to_array()

    _refused(path, read, match)


def test_billion_laughs_in_ome_metadata_does_not_hang_or_expand(tmp_path):
    """Entity expansion in the OME-XML of a TIFF: read without units, never expanded."""
    path = _ome_with_description(_LAUGHS)(tmp_path)
    tracemalloc.start()
    try:
        try:
            movie = read_movie(path)
        except InputError as exc:
            assert str(exc).startswith(str(path))
        else:
            assert movie.pixel_size_um is None and movie.shape == (3, 8, 8)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < PEAK_BYTES


ODD_DTYPES = [np.bool_, np.int8, np.float16, np.uint64, np.int64, np.float64]


@pytest.mark.parametrize("dtype", ODD_DTYPES, ids=lambda d: np.dtype(d).name)
def test_odd_pixel_types_read_as_stored(tmp_path, dtype):
    """Documented result: integer, float and bool movies are read unchanged, in their own type."""
    array = (np.arange(3 * 4 * 5).reshape(3, 4, 5) % 7).astype(dtype)
    tifffile.imwrite(tmp_path / "m.tif", array)
    movie = read_movie(tmp_path / "m.tif")
    assert movie.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(movie.to_array(), array)


def test_nan_and_inf_pixels_are_read_as_stored(tmp_path):
    """Documented result: the reader keeps NaN/inf; the pipeline replaces them (test_numerics)."""
    array = np.ones((3, 5, 6), np.float32)
    array[0, 0, 0], array[1, 1, 1], array[2, 2, 2] = np.nan, np.inf, -np.inf
    tifffile.imwrite(tmp_path / "m.tif", array)
    out = read_movie(tmp_path / "m.tif").to_array()
    np.testing.assert_array_equal(out, array)


def test_imagej_image_count_that_disagrees_with_the_pages(tmp_path):
    """Documented result: when only ``images=`` lies, the frames actually stored are read."""
    path = _imagej_lie(b"images=9\nframes=3")(tmp_path)
    movie = read_movie(path)
    assert movie.shape == (3, 8, 8)
    np.testing.assert_array_equal(movie.to_array(), np.arange(192).reshape(3, 8, 8).astype(np.uint8))


def test_one_pixel_frames_read(tmp_path):
    tifffile.imwrite(tmp_path / "m.tif", np.array([[[1]], [[2]], [[3]]], np.uint8))
    assert read_movie(tmp_path / "m.tif").to_array().ravel().tolist() == [1, 2, 3]


def test_frame_sequences(tmp_path):
    (tmp_path / "empty").mkdir()
    _refused(tmp_path / "empty", lambda p: read_movie(p, frame_sequence=True), "no .tif")
    one = tmp_path / "one"
    one.mkdir()
    _stack(one, "t0.tif", shape=(8, 8))
    _refused(one, lambda p: read_movie(p, frame_sequence=True), "single frame")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    _stack(mixed, "t0.tif", shape=(8, 8))
    _stack(mixed, "t1.tif", shape=(8, 9))
    with pytest.raises(InputError, match="all frames of a sequence must match") as err:
        read_movie(mixed, frame_sequence=True)
    assert str(err.value).startswith(str(mixed / "t1.tif"))
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    _stack(damaged, "t0.tif", shape=(8, 8))
    (damaged / "t1.tif").write_bytes(b"II*\x00")
    with pytest.raises(InputError, match="corrupt or truncated") as err:
        read_movie(damaged, frame_sequence=True)
    assert str(err.value).startswith(str(damaged / "t1.tif"))


# --------------------------------------------------------------------------- label stacks

LABELS_REFUSED: dict[str, tuple[Callable[[Path], Path], str]] = {
    "fractional float labels": (lambda tmp: _float_labels(tmp, 0.5), "whole numbers"),
    "NaN float labels": (lambda tmp: _float_labels(tmp, np.nan), "whole numbers"),
    "float labels beyond uint32": (lambda tmp: _float_labels(tmp, 2.0**40), "too large"),
    "negative labels": (lambda tmp: _negative_labels(tmp), "negative"),
    "complex labels": (lambda tmp: _stack(tmp, "l.tif", dtype=np.complex64), "complex64"),
    "labels of another shape": (lambda tmp: _stack(tmp, "l.tif", shape=(3, 8, 9)), "shape"),
    "truncated label stack": (lambda tmp: _truncated(0.5)(tmp), "truncated"),
}


def _float_labels(tmp: Path, value: float) -> Path:
    array = np.zeros((3, 8, 8), np.float64)
    array[1, 2:4, 2:4] = value
    tifffile.imwrite(tmp / "l.tif", array)
    return tmp / "l.tif"


def _negative_labels(tmp: Path) -> Path:
    array = np.zeros((3, 8, 8), np.int16)
    array[2, 0, 0] = -5
    tifffile.imwrite(tmp / "l.tif", array)
    return tmp / "l.tif"


@pytest.mark.parametrize("build, match", LABELS_REFUSED.values(), ids=LABELS_REFUSED.keys())
def test_malformed_label_stacks_are_refused(tmp_path, build, match):
    path = build(tmp_path)
    shape = (6, 32, 32) if "truncated" in match else (3, 8, 8)
    _refused(path, lambda p: np.asarray(read_labels(p, shape=shape)), match)


# --------------------------------------------------------------------------- tracks tables

_GOOD_ROWS = "track_id,frame,y,x\n1,0,1.0,2.0\n1,1,1.5,2.5\n2,0,5.0,5.0\n"
TABLES_REFUSED: dict[str, tuple[str | bytes, str]] = {
    "empty file": ("", "cannot read the table"),
    "header only": ("track_id,frame,y,x\n", "no rows"),
    "no track_id column": ("frame,y,x\n0,1,2\n", "no 'track_id'"),
    "no y and x columns": ("track_id,frame\n1,0\n", "no 'y' or 'x'"),
    "text in x": ("track_id,frame,y,x\n1,0,1.0,abc\n", "non-number 'abc'"),
    "text in frame": ("track_id,frame,y,x\n1,zero,1.0,2.0\n", "non-number"),
    "blank y": ("track_id,frame,y,x\n1,0,,2.0\n", "empty in data row 1"),
    "NaN x": ("track_id,frame,y,x\n1,0,1.0,NaN\n", "empty in data row 1|non-number"),
    "infinite y": ("track_id,frame,y,x\n1,0,inf,2.0\n1,1,1.0,2.0\n", "finite numbers; data row 1 has inf"),
    "fractional frame": ("track_id,frame,y,x\n1,0.5,1.0,2.0\n", "whole numbers"),
    "negative frame": ("track_id,frame,y,x\n1,-1,1.0,2.0\n", "frame numbers must be ≥ 0"),
    "negative track id": ("track_id,frame,y,x\n-3,0,1.0,2.0\n", "track ids must be ≥ 0"),
    "duplicate (track, frame)": (_GOOD_ROWS + "1,1,9.0,9.0\n", "track 1 has 2 rows in frame 1"),
    "position 1e300 (overflows distances)": ("track_id,frame,y,x\n1,0,1e300,2.0\n1,1,-1e300,2.0\n", "beyond ±1e\\+09 pixels"),
    "track id 1e30": ("track_id,frame,y,x\n1e30,0,1.0,2.0\n", "too large"),
    "track id 2**63": (f"track_id,frame,y,x\n{2**63},0,1.0,2.0\n", "too large"),
    "binary garbage": (bytes(range(256)) * 8, "cannot read the table|no 'track_id'"),
    "Latin-1 bytes": ("track_id,frame,y,x,note\n1,0,1,2,caf\xe9\n".encode("latin-1"), "cannot read the table"),
    "parent changes within a track": (
        "track_id,frame,y,x,parent_track_id\n1,0,1,1,0\n2,0,5,5,0\n2,1,5,6,1\n", "parent_track_id changes"
    ),
    "parent that is not a track": ("track_id,frame,y,x,parent_track_id\n1,0,1,1,7\n", "not a track"),
    "y not a constant multiple of y_um": (
        "track_id,frame,y,x,y_um,x_um\n1,0,1,1,0.5,0.5\n1,1,2,2,3.0,1.0\n", "not a constant multiple"
    ),
}


@pytest.mark.parametrize("content, match", TABLES_REFUSED.values(), ids=TABLES_REFUSED.keys())
def test_malformed_tracks_tables_are_refused(tmp_path, content, match):
    path = tmp_path / "tracks.csv"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    _refused(path, read_tracks, match)


def test_corrupt_parquet_is_refused(tmp_path):
    path = tmp_path / "tracks.parquet"
    path.write_bytes(b"PAR1" + bytes(100) + b"PAR1")
    _refused(path, read_tracks, "cannot read the table")


def test_track_ids_from_zero_are_shifted_with_a_warning(tmp_path):
    """Documented result: trackpy's 0-based ids become 1-based, never silently."""
    path = tmp_path / "tracks.csv"
    path.write_text("particle,frame,y,x\n0,0,1,1\n0,1,1,2\n")
    with pytest.warns(UserWarning, match="added 1"):
        tracks = read_tracks(path).tracks
    assert tracks["track_id"].tolist() == [1, 1]


def test_huge_but_valid_ids_are_kept_exactly(tmp_path):
    path = tmp_path / "tracks.csv"
    big = 2**53 + 1  # not representable as float64
    path.write_text(f"track_id,frame,y,x\n{big},0,1,1\n{big},1,1,2\n")
    assert read_tracks(path).tracks["track_id"].tolist() == [big, big]


# --------------------------------------------------------------------------- TrackMate XML

_TRACKMATE = """<?xml version="1.0" encoding="UTF-8"?>
<TrackMate version="7.0">
  <Model spatialunits="micron" timeunits="sec">
    <AllSpots nspots="3">
      <SpotsInFrame frame="0"><Spot ID="1" FRAME="0" POSITION_X="1.0" POSITION_Y="2.0" POSITION_T="0"/></SpotsInFrame>
      <SpotsInFrame frame="1"><Spot ID="2" FRAME="1" POSITION_X="1.5" POSITION_Y="2.5" POSITION_T="60"/></SpotsInFrame>
      <SpotsInFrame frame="2"><Spot ID="3" FRAME="2" POSITION_X="2.0" POSITION_Y="3.0" POSITION_T="120"/></SpotsInFrame>
    </AllSpots>
    <AllTracks>
      <Track name="Track_0" TRACK_ID="0"><Edge SPOT_SOURCE_ID="1" SPOT_TARGET_ID="2"/><Edge SPOT_SOURCE_ID="2" SPOT_TARGET_ID="3"/></Track>
    </AllTracks>
    <FilteredTracks><TrackID TRACK_ID="0"/></FilteredTracks>
  </Model>
  <Settings><ImageData filename="m.tif" pixelwidth="0.5" pixelheight="0.5" timeinterval="60"/></Settings>
</TrackMate>
"""
_ENTITY_HEADER = '<?xml version="1.0"?>\n<!DOCTYPE TrackMate [{}]>\n'
XML_REFUSED: dict[str, tuple[str, str]] = {
    "billion laughs": (
        _ENTITY_HEADER.format(
            '<!ENTITY a "aaaaaaaaaa">'
            + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
        )
        + '<TrackMate><Model spatialunits="&i;"/></TrackMate>',
        "refused to read",
    ),
    "external entity (local file)": (
        _ENTITY_HEADER.format('<!ENTITY xxe SYSTEM "file:///etc/passwd">') + '<TrackMate><Model spatialunits="&xxe;"/></TrackMate>',
        "refused to read",
    ),
    "external entity (network)": (
        _ENTITY_HEADER.format('<!ENTITY xxe SYSTEM "http://127.0.0.1:9/x">') + "<TrackMate><Model>&xxe;</Model></TrackMate>",
        "refused to read",
    ),
    "external DTD": ('<?xml version="1.0"?><!DOCTYPE TrackMate SYSTEM "http://127.0.0.1:9/x.dtd"><TrackMate/>', "refused|not a TrackMate"),
    "truncated XML": (_TRACKMATE[: len(_TRACKMATE) // 2], "not a well-formed XML"),
    "empty file": ("", "not a well-formed XML"),
    "not TrackMate": ("<svg><g/></svg>", "not a TrackMate XML"),
    "no spots": ('<TrackMate><Model><AllSpots/></Model></TrackMate>', "no spots"),
    "spot without POSITION_X": (_TRACKMATE.replace(' POSITION_X="1.0"', ""), "POSITION_X"),
    "text in FRAME": (_TRACKMATE.replace('FRAME="1"', 'FRAME="one"'), "non-number 'one'"),
    "duplicate spot ID": (_TRACKMATE.replace('ID="2" FRAME', 'ID="1" FRAME'), "used twice"),
    "edge to an unknown spot": (_TRACKMATE.replace('SPOT_TARGET_ID="3"', 'SPOT_TARGET_ID="99"'), "not in AllSpots"),
    "edge without a target": (_TRACKMATE.replace(' SPOT_TARGET_ID="3"', ""), "SPOT_TARGET_ID"),
    "negative FRAME": (_TRACKMATE.replace('FRAME="0"', 'FRAME="-4"'), "≥ 0|backwards|frame"),
    "huge spot ID": (_TRACKMATE.replace('ID="3" FRAME', 'ID="1e300" FRAME'), "whole number below 2\\*\\*63"),
    "huge edge target": (_TRACKMATE.replace('TARGET_ID="3"', 'TARGET_ID="1e300"'), "too large for a 64-bit integer"),
    "fractional spot ID": (_TRACKMATE.replace('ID="3" FRAME', 'ID="2.5" FRAME'), "whole number"),
    "position 1e300": (_TRACKMATE.replace('POSITION_X="2.0"', 'POSITION_X="1e300"'), "beyond"),
    "infinite position": (_TRACKMATE.replace('POSITION_X="2.0"', 'POSITION_X="inf"'), "finite"),
    "no tracks": (_TRACKMATE.replace("<Edge", "<Nope"), r"no \(visible\) tracks"),
}


@pytest.mark.parametrize("text, match", XML_REFUSED.values(), ids=XML_REFUSED.keys())
def test_malformed_trackmate_xml_is_refused(tmp_path, text, match):
    path = tmp_path / "tracks.xml"
    path.write_text(text, encoding="utf-8")
    _refused(path, read_tracks, match)


def test_wellformed_trackmate_reference_reads(tmp_path):
    """The unmodified document the XML corpus is derived from reads correctly."""
    path = tmp_path / "tracks.xml"
    path.write_text(_TRACKMATE, encoding="utf-8")
    ts = read_tracks(path)
    assert ts.tracks["frame"].tolist() == [0, 1, 2]
    assert ts.pixel_size_um == 0.5 and ts.frame_interval_min == 1.0
    np.testing.assert_allclose(ts.tracks["x"], [2.0, 3.0, 4.0])


# --------------------------------------------------------------------------- CTC folders


def _ctc(tmp: Path, lines: str, masks: dict[int, np.ndarray] | None = None) -> Path:
    folder = tmp / "ctc"
    folder.mkdir()
    (folder / "res_track.txt").write_text(lines)
    if masks is None:
        masks = {}
        for t in range(3):
            mask = np.zeros((16, 16), np.uint16)
            mask[2 + t : 5 + t, 2:5] = 1
            if t >= 1:
                mask[10:13, 10:13] = 2
            masks[t] = mask
    for t, mask in masks.items():
        tifffile.imwrite(folder / f"mask{t:03d}.tif", mask)
    return folder


_CTC_OK = "1 0 2 0\n2 1 2 1\n"
CTC_REFUSED: dict[str, tuple[Callable[[Path], Path], str]] = {
    "track file lists a track in no mask": (lambda tmp: _ctc(tmp, _CTC_OK + "3 0 1 0\n"), "track 3 is listed but not in any mask"),
    "mask holds a track not in the file": (lambda tmp: _ctc(tmp, "1 0 2 0\n"), "track 2 is in the masks"),
    "wrong span": (lambda tmp: _ctc(tmp, "1 0 1 0\n2 1 2 1\n"), "spans frames 0-1"),
    "missing mask frame": (
        lambda tmp: _ctc(tmp, _CTC_OK, masks={0: _ctc_mask(1), 2: _ctc_mask(1) + _ctc_mask(2, 10)}), "missing from frame 1"
    ),
    "no masks": (lambda tmp: _ctc(tmp, _CTC_OK, masks={}), "no mask"),
    "three numbers per line": (lambda tmp: _ctc(tmp, "1 0 2\n2 1 2\n"), "4 numbers"),
    "text in the track file": (lambda tmp: _ctc(tmp, "1 0 two 0\n"), "cannot read 'L B E P'"),
    "parent that is not a track": (lambda tmp: _ctc(tmp, "1 0 2 0\n2 1 2 9\n"), "parent 9, which is not a track"),
    "duplicated track line": (lambda tmp: _ctc(tmp, _CTC_OK + "2 1 2 1\n"), "listed more than once"),
    "end before start": (lambda tmp: _ctc(tmp, "1 2 0 0\n2 1 2 1\n"), "0 ≤ B ≤ E"),
    "corrupt mask file": (lambda tmp: _corrupt_mask(_ctc(tmp, _CTC_OK)), "mask001.tif: (cannot read the mask|a CTC mask must be)"),
    "3-D mask": (lambda tmp: _ctc(tmp, _CTC_OK, masks={0: np.zeros((2, 16, 16), np.uint16)}), "mask000.tif: a CTC mask must be a 2-D integer"),
    "float mask": (lambda tmp: _ctc(tmp, _CTC_OK, masks={0: np.full((16, 16), 0.5, np.float32)}), "mask000.tif: a CTC mask must be a 2-D integer"),
    "negative mask values": (lambda tmp: _ctc(tmp, _CTC_OK, masks={0: np.full((16, 16), -1, np.int16)}), "mask000.tif: a CTC mask must hold"),
}


def _ctc_mask(label: int, at: int = 2) -> np.ndarray:
    mask = np.zeros((16, 16), np.uint16)
    mask[at : at + 3, at : at + 3] = label
    return mask


def _corrupt_mask(folder: Path) -> Path:
    (folder / "mask001.tif").write_bytes(b"II*\x00garbage")
    return folder


@pytest.mark.parametrize("build, match", CTC_REFUSED.values(), ids=CTC_REFUSED.keys())
def test_malformed_ctc_folders_are_refused(tmp_path, build, match):
    folder = build(tmp_path)
    with pytest.raises(InputError, match=match) as err:
        read_tracks(folder)
    assert str(err.value).startswith(str(folder)) and "\n" not in str(err.value)


def test_consistent_ctc_folder_reads(tmp_path):
    ts = read_tracks(_ctc(tmp_path, _CTC_OK))
    assert ts.cells.set_index("track_id")["parent_track_id"].to_dict() == {1: 0, 2: 1}
    assert ts.tracks.groupby("track_id").size().to_dict() == {1: 3, 2: 2}


# --------------------------------------------------------------------------- GEFF


def _geff(tmp: Path, edit: Callable[[Path], None] | None = None) -> Path:
    from leadertrack.formats import write_geff

    tracks = pd.DataFrame({"track_id": [1, 1, 2], "frame": [0, 1, 1], "y": [1.0, 2.0, 5.0], "x": [0.0, 1.0, 5.0]})
    path = write_geff(tracks, None, tmp / "t.geff", pixel_size_um=0.5, frame_interval_min=2.0)
    if edit is not None:
        edit(path)
    return path


def _zarr_edit(change: Callable[[object], None]) -> Callable[[Path], None]:
    def edit(path: Path) -> None:
        import zarr

        change(zarr.open_group(str(path), mode="r+"))

    return edit


def _drop_prop(name: str) -> Callable[[Path], None]:
    def change(group) -> None:
        del group["nodes/props"][name]

    return _zarr_edit(change)


def _replace_prop(name: str, values: np.ndarray) -> Callable[[Path], None]:
    def change(group) -> None:
        props = group["nodes/props"]
        del props[name]
        props.create_array(f"{name}/values", data=values)

    return _zarr_edit(change)


def _edges(values: np.ndarray) -> Callable[[Path], None]:
    def change(group) -> None:
        del group["edges/ids"]
        group["edges"].create_array("ids", data=values)

    return _zarr_edit(change)


def _attrs(text: str) -> Callable[[Path], None]:
    def edit(path: Path) -> None:
        (path / ".zattrs").write_text(text)

    return edit


GEFF_REFUSED: dict[str, tuple[Callable[[Path], None] | None, str]] = {
    "no time property": (_drop_prop("t"), "t|time|not a valid GEFF"),
    "no x property": (_drop_prop("x"), "x|not a valid GEFF"),
    "positions as text": (_replace_prop("x", np.array(["a", "b", "c"])), "non-number|not a valid GEFF|number"),
    "time as text": (_replace_prop("t", np.array(["a", "b", "c"])), "non-number|not a valid GEFF|number"),
    "too few positions": (_replace_prop("y", np.array([1.0, 2.0])), "not a valid GEFF|length|nodes"),
    "fractional frames": (_replace_prop("t", np.array([0.0, 0.5, 1.0])), "whole numbers|stated dtype int64"),
    "edge to an unknown node": (_edges(np.array([[0, 99]], np.uint64)), "names a node that is not in the graph"),
    "edges not pairs": (_edges(np.array([0, 1, 2], np.uint64)), "not a valid GEFF|edge"),
    "metadata not JSON": (_attrs("{not json"), "not a valid GEFF|GEFF"),
    "metadata without geff": (_attrs("{}"), "not a valid GEFF|GEFF"),
}


@pytest.mark.parametrize("edit, match", GEFF_REFUSED.values(), ids=GEFF_REFUSED.keys())
def test_malformed_geff_is_refused(tmp_path, edit, match):
    path = _geff(tmp_path, edit)
    _refused(path, lambda p: read_tracks(p, format="geff"), match)


def test_geff_that_is_an_empty_folder(tmp_path):
    (tmp_path / "t.geff").mkdir()
    _refused(tmp_path / "t.geff", read_tracks, "not a valid GEFF|GEFF")


def test_wellformed_geff_reference_reads(tmp_path):
    ts = read_tracks(_geff(tmp_path))
    assert ts.pixel_size_um == 0.5 and ts.frame_interval_min == 2.0
    assert ts.tracks.groupby("track_id").size().tolist() == [2, 1]


# --------------------------------------------------------------------------- Imaris .mat

MAT_REFUSED: dict[str, tuple[dict | bytes, str]] = {
    "not a MATLAB file": (b"MATLAB 5.0 MAT-file" + bytes(200), "cannot read the MATLAB file"),
    "random bytes": (bytes(range(256)), "not a MATLAB v5/v7 file"),
    "no data_sPos": ({"DT": 0.05}, "data_sPos"),
    "too few columns": ({"data_sPos": np.zeros((3, 5)), "DT": 0.05}, "≥ 8 columns"),
    "no DT": ({"data_sPos": np.ones((3, 9))}, "'DT'"),
    "DT as text": ({"data_sPos": np.ones((3, 9)), "DT": "fast"}, "'DT'"),
    "NaN positions": ({"data_sPos": np.full((3, 9), np.nan), "DT": 0.05}, "empty|number"),
}


@pytest.mark.parametrize("content, match", MAT_REFUSED.values(), ids=MAT_REFUSED.keys())
def test_malformed_imaris_mat_is_refused(tmp_path, content, match):
    path = tmp_path / "spots.mat"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        scipy.io.savemat(path, content)
    _refused(path, read_tracks, match)



# --------------------------------------------------------------------------- result folders (shared between labs)


@pytest.fixture(scope="module")
def result_folder(tmp_path_factory) -> Path:
    """A finished result folder, made from a small tracks table (no images)."""
    from leadertrack.pipeline import analyze_tracks, write_result
    from leadertrack.synthetic import simulate_tracks

    tmp = tmp_path_factory.mktemp("result")
    sim = simulate_tracks(geometry="planar", n_frames=6, field_um=(150.0, 150.0), seed=0)
    table = tmp / "shared.csv"
    sim.tracks[["track_id", "frame", "y", "x"]].to_csv(table, index=False)
    result = analyze_tracks(read_tracks(table).with_units(pixel_size_um=1.0, frame_interval_min=5.0))
    return write_result(result, tmp / "out")


def _damage(name: str, content: str | bytes) -> Callable[[Path], Path]:
    def damage(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return damage


def _edit_csv(name: str, column: str, value: str) -> Callable[[Path], Path]:
    def damage(folder: Path) -> Path:
        table = pd.read_csv(folder / name)
        table[column] = table[column].astype(object)
        table.loc[0, column] = value
        table.to_csv(folder / name, index=False)
        return folder / name

    return damage


RESULTS_REFUSED: dict[str, tuple[Callable[[Path], Path], str]] = {
    "run.json not JSON": (_damage("run.json", "{not json"), "cannot read it as JSON"),
    "run.json deeply nested": (_damage("run.json", "[" * 100_000 + "]" * 100_000), "cannot read it as JSON"),
    "run.json a list": (_damage("run.json", "[1, 2]"), "not a leadertrack run.json"),
    "column_names not a mapping": (_damage("run.json", '{"column_names": "tracks"}'), "not a leadertrack run.json"),
    "tracks.csv unparseable": (_damage("tracks.csv", 'a,b\n1,2\n3,4,5,6\n"'), "cannot read the table"),
    "tracks.csv Latin-1": (_damage("tracks.csv", "track_id,note\n1,caf\xe9\n".encode("latin-1")), "cannot read the table"),
    "is_leader 'maybe'": (_edit_csv("cells.csv", "is_leader", "maybe"), "must be True or False; data row 1 has 'maybe'"),
    "is_leader blank": (_edit_csv("tracks.csv", "is_leader", ""), "must be True or False; data row 1"),
    "corrections without is_leader": (_damage("corrections.csv", "track_id\n1\n"), "needs the columns"),
    "corrections with a text track_id": (_damage("corrections.csv", "track_id,is_leader\nabc,True\n"), "whole numbers"),
    "corrupt labels.tif": (_damage("labels.tif", b"II*\x00garbage"), "corrupt or truncated|holds no image"),
}


@pytest.mark.parametrize("damage, match", RESULTS_REFUSED.values(), ids=RESULTS_REFUSED.keys())
def test_damaged_result_folders_are_refused(tmp_path, result_folder, damage, match):
    import shutil

    from leadertrack.pipeline import read_result

    folder = shutil.copytree(result_folder, tmp_path / result_folder.name)
    path = damage(folder)
    _refused(folder, read_result, match)
    assert path.exists()


def test_intact_result_folder_reads(result_folder):
    from leadertrack.pipeline import read_result

    result = read_result(result_folder)
    assert result.cells["is_leader"].dtype == bool and result.tracks["is_leader"].dtype == bool
    assert len(result.cells) == result.tracks["track_id"].nunique()


# --------------------------------------------------------------------------- configuration files (shared as params.toml)

CONFIGS_REFUSED: dict[str, tuple[bytes, str]] = {
    "not UTF-8": (b"\x00\xff\xfe", "cannot read the configuration file"),
    "broken TOML": (b"[segment\nx=", "cannot read the configuration file"),
    "deeply nested array": (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", "cannot read the configuration file"),
    "5000-digit integer": (b"[link]\nmemory = " + b"9" * 5000 + b"\n", "cannot read the configuration file"),
    "unknown key": (b"[segment]\nnucleus_diameter = 10\n", "segment.nucleus_diameter: Extra inputs"),
    "text for a number": (b"[segment]\nnucleus_diameter_um = 'big'\n", "segment.nucleus_diameter_um"),
    "negative diameter": (b"[segment]\nnucleus_diameter_um = -5\n", "greater than 0"),
    "NaN diameter": (b"[segment]\nnucleus_diameter_um = nan\n", "finite number"),
    "infinite pixel size": (b"[units]\npixel_size_um = inf\n", "units.pixel_size_um: Input should be a finite number"),
    "section as a list": (b"segment = [1, 2]\n", "segment: Input should be a valid dictionary"),
}


@pytest.mark.parametrize("content, match", CONFIGS_REFUSED.values(), ids=CONFIGS_REFUSED.keys())
def test_malformed_configuration_files_are_one_line_errors(tmp_path, content, match):
    import re

    from typer.testing import CliRunner

    from leadertrack.cli import app

    config = tmp_path / "params.toml"
    config.write_bytes(content)
    movie = _stack(tmp_path)
    result = CliRunner().invoke(app, ["run", str(movie), "--out", str(tmp_path / "out"), "--config", str(config), "-q"])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {config}"), result.output
    assert re.search(match, errors[0]) and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_format_detection_reads_a_bounded_prefix(tmp_path):
    """A 32 MB CSV without a line break, and a 32 MB GEFF attribute file, are peeked at, not loaded."""
    from leadertrack.formats import detect_format

    line = tmp_path / "tracks.csv"
    line.write_bytes(b"x" * 32 * 2**20)
    store = tmp_path / "store"
    store.mkdir()
    (store / ".zattrs").write_bytes(b" " * 32 * 2**20 + b'{"geff": {}}')
    tracemalloc.start()
    try:
        assert detect_format(line) == "table"
        with pytest.raises(InputError, match="neither a GEFF store"):
            detect_format(store)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20
