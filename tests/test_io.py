"""Tests for leadertrack.io: reading movies and labels lazily, with units, and bad input."""

from __future__ import annotations

import hashlib
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import tifffile

import leadertrack.io as lio
from leadertrack.errors import InputError
from leadertrack.io import Movie, file_checksum, list_movies, read_labels, read_movie


def _movie_data(shape=(6, 12, 10), dtype=np.uint16, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 1000, size=shape).astype(dtype)


# --------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("metadata", "resolution", "pixel_size_um", "frame_interval_min"),
    [
        ({"axes": "TYX", "finterval": 30.0, "unit": "um"}, (2.0, 2.0), 0.5, 0.5),
        ({"axes": "TYX", "finterval": 2.0, "tunit": "min", "unit": "micron"}, (4.0, 4.0), 0.25, 2.0),
        ({"axes": "TYX", "finterval": 0.5, "tunit": "hour", "unit": "\\u00B5m"}, (1.0, 1.0), 1.0, 30.0),
        ({"axes": "TYX", "finterval": 30.0, "unit": "mm"}, (1000.0, 1000.0), 1.0, 0.5),
    ],
)
def test_imagej_units(tmp_path, metadata, resolution, pixel_size_um, frame_interval_min):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, _movie_data(), imagej=True, metadata=metadata, resolution=resolution)
    movie = read_movie(path)
    assert movie.pixel_size_um == pytest.approx(pixel_size_um)
    assert movie.frame_interval_min == pytest.approx(frame_interval_min)
    assert movie.pixel_size_source == movie.frame_interval_source == "ImageJ metadata"
    assert movie.metadata["format"] == "ImageJ TIFF"


def test_imagej_resolution_without_physical_unit_is_not_a_pixel_size(tmp_path):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, _movie_data(), imagej=True, metadata={"axes": "TYX", "unit": "pixel"}, resolution=(2, 2))
    movie = read_movie(path)
    assert movie.pixel_size_um is None and movie.pixel_size_source == "none"
    assert movie.frame_interval_min is None and movie.frame_interval_source == "none"


@pytest.mark.parametrize(
    ("size", "size_unit", "increment", "increment_unit", "pixel_size_um", "frame_interval_min"),
    [
        (500.0, "nm", 30.0, "s", 0.5, 0.5),
        (0.002, "mm", 0.25, "h", 2.0, 15.0),
        (0.619, "µm", 5.0, "min", 0.619, 5.0),
    ],
)
def test_ome_units(tmp_path, size, size_unit, increment, increment_unit, pixel_size_um, frame_interval_min):
    path = tmp_path / "movie.ome.tif"
    metadata = {
        "axes": "TYX",
        "PhysicalSizeX": size,
        "PhysicalSizeXUnit": size_unit,
        "TimeIncrement": increment,
        "TimeIncrementUnit": increment_unit,
    }
    tifffile.imwrite(path, _movie_data(), ome=True, metadata=metadata)
    movie = read_movie(path)
    assert movie.name == "movie"
    assert movie.pixel_size_um == pytest.approx(pixel_size_um)
    assert movie.frame_interval_min == pytest.approx(frame_interval_min)
    assert movie.pixel_size_source == movie.frame_interval_source == "OME metadata"


def test_ome_frame_interval_from_plane_delta_t(tmp_path):
    path = tmp_path / "planes.ome.tif"
    delta_t = [0.0, 90.0, 180.0, 270.0, 360.0, 450.0]
    tifffile.imwrite(path, _movie_data(), ome=True, metadata={"axes": "TYX", "Plane": {"DeltaT": delta_t, "DeltaTUnit": ["s"] * 6}})
    movie = read_movie(path)
    assert movie.frame_interval_min == pytest.approx(1.5)
    assert movie.frame_interval_source == "OME metadata"
    assert movie.pixel_size_source == "none"


def test_user_units_override_metadata(tmp_path):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, _movie_data(), imagej=True, metadata={"axes": "TYX", "finterval": 30.0, "unit": "um"}, resolution=(2, 2))
    movie = read_movie(path, pixel_size_um=0.8, frame_interval_min=7.0)
    assert (movie.pixel_size_um, movie.pixel_size_source) == (0.8, "user")
    assert (movie.frame_interval_min, movie.frame_interval_source) == (7.0, "user")


def test_missing_units_are_none(tmp_path):
    path = tmp_path / "plain.tiff"
    tifffile.imwrite(path, _movie_data())
    movie = read_movie(path)
    assert movie.name == "plain"
    assert (movie.pixel_size_um, movie.pixel_size_source) == (None, "none")
    assert (movie.frame_interval_min, movie.frame_interval_source) == (None, "none")


@pytest.mark.parametrize("value", [0.0, -1.0, float("nan")])
def test_bad_user_units(tmp_path, value):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, _movie_data())
    with pytest.raises(InputError, match=r"plain\.tif: pixel_size_um must be a positive number"):
        read_movie(path, pixel_size_um=value)


# --------------------------------------------------------------------------- axes and pixels


@pytest.mark.parametrize(
    ("writer", "compression"),  # ImageJ hyperstacks are never compressed
    [("plain", None), ("plain", "zlib"), ("imagej", None), ("ome", None), ("ome", "zlib")],
)
def test_tyx_pixels_match(tmp_path, writer, compression):
    data = _movie_data()
    path = tmp_path / "m.tif"
    kwargs = {"compression": compression} if compression else {}
    if writer == "imagej":
        kwargs.update(imagej=True, metadata={"axes": "TYX"})
    elif writer == "ome":
        kwargs.update(ome=True, metadata={"axes": "TYX"})
    tifffile.imwrite(path, data, **kwargs)
    movie = read_movie(path)
    assert movie.shape == data.shape and len(movie) == data.shape[0]
    assert movie.dtype == np.uint16
    assert movie.metadata["reader"] == ("pages" if compression else "contiguous")
    np.testing.assert_array_equal(movie.to_array(), data)
    np.testing.assert_array_equal(movie.frame(4), data[4])
    np.testing.assert_array_equal(movie.frame(-1), data[-1])
    np.testing.assert_array_equal(np.stack(list(movie)), data)


def test_big_endian_file_reads_native(tmp_path):
    data = _movie_data()
    path = tmp_path / "be.tif"
    tifffile.imwrite(path, data, byteorder=">")
    movie = read_movie(path)
    assert movie.dtype == np.dtype("uint16") and movie.dtype.isnative
    frame = movie.frame(2)
    assert frame.dtype.isnative
    np.testing.assert_array_equal(frame, data[2])


@pytest.mark.parametrize(
    ("writer", "axes", "compression"),
    [("imagej", "TCYX", None), ("ome", "TCYX", None), ("ome", "CTYX", None), ("ome", "TCYX", "zlib"), ("ome", "CTYX", "zlib")],
)
@pytest.mark.parametrize("channel", [0, 2])
def test_channel_selection(tmp_path, writer, axes, channel, compression):
    t, c = 5, 3
    shape = (t, c, 8, 9) if axes == "TCYX" else (c, t, 8, 9)
    data = _movie_data(shape, seed=1)
    path = tmp_path / "multi.tif"
    kwargs = {"compression": compression} if compression else {}
    tifffile.imwrite(path, data, **{writer: True}, metadata={"axes": axes}, **kwargs)
    movie = read_movie(path, channel=channel)
    expected = data[:, channel] if axes == "TCYX" else data[channel]
    assert movie.shape == (t, 8, 9)
    assert movie.metadata["n_channels"] == c and movie.metadata["channel"] == channel
    np.testing.assert_array_equal(movie.to_array(), expected)
    np.testing.assert_array_equal(movie.frame(3), expected[3])


@pytest.mark.parametrize("rgb", [False, True])
def test_stack_written_one_series_per_frame(tmp_path, rgb):
    shape = (5, 8, 9, 3) if rgb else (5, 8, 9)
    data = _movie_data(shape, dtype=np.uint8, seed=4)
    path = tmp_path / "frames.tif"
    with tifffile.TiffWriter(path, bigtiff=True) as writer:
        for frame in data:  # each write() is its own series in tifffile
            writer.write(frame, compression="zlib", photometric="rgb" if rgb else "minisblack")
    movie = read_movie(path, channel=2 if rgb else None)
    assert movie.shape == (5, 8, 9) and movie.metadata["reader"] == "pages"
    np.testing.assert_array_equal(movie.to_array(), data[..., 2] if rgb else data)


def test_rgb_samples_are_channels(tmp_path):
    data = _movie_data((4, 8, 9, 3), dtype=np.uint8, seed=2)
    path = tmp_path / "rgb.tif"
    tifffile.imwrite(path, data, photometric="rgb", metadata={"axes": "TYXS"})
    movie = read_movie(path, channel=1)
    np.testing.assert_array_equal(movie.to_array(), data[..., 1])


@pytest.mark.parametrize("writer", ["imagej", "ome"])
def test_unnamed_single_axis_is_time(tmp_path, writer):
    # tifffile and ImageJ call the only non-spatial axis of an unlabelled (T,Y,X) stack 'C'
    data = _movie_data()
    path = tmp_path / "unnamed.tif"
    tifffile.imwrite(path, data, **{writer: True})
    movie = read_movie(path)
    assert movie.shape == data.shape
    assert movie.metadata["time_axis"] == "C"
    assert "read as time" in movie.metadata["notes"][0]


@pytest.mark.parametrize("n_frames", [3, 4])
def test_short_stack_stored_as_planar_rgb_is_read_as_frames(tmp_path, n_frames):
    data = _movie_data((n_frames, 12, 10))
    path = tmp_path / "short.tif"
    # what tifffile.imwrite(path, data) does today with a (3|4, Y, X) array: planar RGB(A)
    tifffile.imwrite(path, data, photometric="rgb", planarconfig="separate")
    movie = read_movie(path)
    assert movie.shape == data.shape and "colour planes read as frames" in movie.metadata["notes"][0]
    np.testing.assert_array_equal(movie.to_array(), data)
    with pytest.raises(InputError, match="single 2-D image"):  # asking for a colour channel: it is one image
        read_movie(path, channel=1)


def test_colour_image_is_not_a_time_lapse(tmp_path):
    path = tmp_path / "photo.tif"
    tifffile.imwrite(path, np.zeros((16, 16, 3), np.uint8), photometric="rgb")
    with pytest.raises(InputError, match=r"photo\.tif: is a single 2-D image \(with channels\), not a time-lapse"):
        read_movie(path)


def test_single_channel_accepts_channel_zero_only(tmp_path):
    path = tmp_path / "one.tif"
    tifffile.imwrite(path, _movie_data(), imagej=True, metadata={"axes": "TYX"})
    assert read_movie(path, channel=0).shape == (6, 12, 10)
    with pytest.raises(InputError, match=r"one\.tif: has 1 channel; channel 1 does not exist"):
        read_movie(path, channel=1)


def test_to_dask_matches(tmp_path):
    dask = pytest.importorskip("dask")
    data = _movie_data()
    path = tmp_path / "m.tif"
    tifffile.imwrite(path, data, compression="zlib")
    lazy = read_movie(path).to_dask()
    assert lazy.shape == data.shape and lazy.chunksize == (1, 12, 10)
    np.testing.assert_array_equal(lazy[2:4].compute(scheduler="sync"), data[2:4])
    assert dask.array.Array is type(lazy)


def test_movie_pickles_and_reads_after_unpickling(tmp_path):
    data = _movie_data()
    path = tmp_path / "m.tif"
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "TYX", "finterval": 60.0})
    movie = read_movie(path)
    blob = pickle.dumps(movie)
    assert len(blob) < 2000  # no pixels travel with it
    clone = pickle.loads(blob)
    assert isinstance(clone, Movie) and clone == movie
    np.testing.assert_array_equal(clone.frame(5), data[5])
    assert np.asarray(clone).shape == data.shape


# --------------------------------------------------------------------------- laziness


def test_opening_reads_no_pixels_and_frame_reads_only_its_bytes(tmp_path, monkeypatch):
    data = _movie_data((40, 128, 96))
    path = tmp_path / "big.tif"
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "TYX"})

    def refuse(*args, **kwargs):
        raise AssertionError("pixels decoded while opening")

    with monkeypatch.context() as patch:
        for cls in (tifffile.TiffFile, tifffile.TiffPage, tifffile.TiffFrame):
            patch.setattr(cls, "asarray", refuse)
        movie = read_movie(path)

    reads: list[tuple[int, int]] = []
    real_open = open

    class Recorder:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def seek(self, offset):
            return self.fh.seek(offset)

        def readinto(self, buffer):
            start = self.fh.tell()
            n = self.fh.readinto(buffer)
            reads.append((start, n))
            return n

    monkeypatch.setattr(lio, "open", lambda *a, **k: Recorder(real_open(*a, **k)), raising=False)
    frame = movie.frame(3)
    np.testing.assert_array_equal(frame, data[3])
    frame_bytes = 128 * 96 * 2
    assert len(reads) == 1 and reads[0][1] == frame_bytes
    with tifffile.TiffFile(path) as tf:
        assert reads[0][0] == tf.series[0].dataoffset + 3 * frame_bytes


def test_compressed_frame_decodes_one_page(tmp_path, monkeypatch):
    data = _movie_data((12, 16, 16))
    path = tmp_path / "z.tif"
    tifffile.imwrite(path, data, compression="zlib")
    movie = read_movie(path)
    decoded: list[int] = []
    real = tifffile.TiffPage.asarray

    def counting(self, *args, **kwargs):
        decoded.append(self.index)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(tifffile.TiffPage, "asarray", counting)
    np.testing.assert_array_equal(movie.frame(7), data[7])
    assert decoded == [7]


def test_reading_leaves_input_untouched(tmp_path):
    path = tmp_path / "m.tif"
    tifffile.imwrite(path, _movie_data(), imagej=True, metadata={"axes": "TYX"})
    before, mtime = file_checksum(path), path.stat().st_mtime_ns
    movie = read_movie(path)
    movie.to_array()
    movie.frame(1)
    assert file_checksum(path) == before
    assert path.stat().st_mtime_ns == mtime


# --------------------------------------------------------------------------- frame sequences


def _write_frames(folder: Path, data: np.ndarray, pattern: str = "t{:03d}.tif") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for t, frame in enumerate(data):
        path = folder / pattern.format(t)
        tifffile.imwrite(path, frame)
        paths.append(path)
    return paths


def test_frame_sequence_natural_order(tmp_path):
    data = _movie_data((12, 8, 7), dtype=np.uint8)
    folder = tmp_path / "seq"
    _write_frames(folder, data, pattern="frame_{}.tif")  # frame_2 must come before frame_10
    (folder / "notes.txt").write_text("not a frame")
    movie = read_movie(folder, frame_sequence=True)
    assert movie.name == "seq" and movie.path == folder
    assert movie.shape == (12, 8, 7) and movie.dtype == np.uint8
    assert movie.metadata["reader"] == "files" and movie.metadata["n_files"] == 12
    np.testing.assert_array_equal(movie.to_array(), data)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(movie)).frame(10), data[10])


def test_frame_sequence_with_a_missing_frame_is_refused_but_a_constant_step_is_read(tmp_path):
    """A frame missing from the numbering (t002.tif) used to close up silently: every later frame taken one
    interval too early, and the speeds across the gap wrong."""
    data = _movie_data((6, 8, 7), dtype=np.uint8)
    folder = tmp_path / "seq"
    _write_frames(folder, data)
    (folder / "t002.tif").unlink()
    with pytest.raises(InputError, match=r"jump from t001\.tif to t003\.tif \(frame 2 is missing\)"):
        read_movie(folder, frame_sequence=True)
    every_fifth = tmp_path / "every_fifth"
    every_fifth.mkdir()
    for i, frame in enumerate(data):
        tifffile.imwrite(every_fifth / f"t{5 * i:03d}.tif", frame)
    assert read_movie(every_fifth, frame_sequence=True).shape == (6, 8, 7)


def test_frame_sequence_different_shapes(tmp_path):
    folder = tmp_path / "seq"
    _write_frames(folder, _movie_data((3, 8, 8)))
    tifffile.imwrite(folder / "t003.tif", np.zeros((9, 8), np.uint16))
    with pytest.raises(InputError, match=r"t003\.tif: frame is \(9,8\) uint16 but t000\.tif is \(8,8\) uint16"):
        read_movie(folder, frame_sequence=True)


def test_frame_sequence_of_stacks_is_refused(tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    for name in ("a.tif", "b.tif"):
        tifffile.imwrite(folder / name, _movie_data())
    with pytest.raises(InputError, match=r"a\.tif: frame has axes 'QYX'.*batch"):
        read_movie(folder, frame_sequence=True)


def test_frame_sequence_flag_mismatch(tmp_path):
    path = tmp_path / "m.tif"
    tifffile.imwrite(path, _movie_data())
    with pytest.raises(InputError, match=r"m\.tif: is a file"):
        read_movie(path, frame_sequence=True)
    with pytest.raises(InputError, match=r": is a folder"):
        read_movie(tmp_path, frame_sequence=False)


# --------------------------------------------------------------------------- bad input


def test_not_a_tiff(tmp_path):
    path = tmp_path / "movie.tif"
    path.write_text("this is a CSV, not an image\n1,2,3\n")
    with pytest.raises(InputError, match=r"^.*movie\.tif: not a TIFF file"):
        read_movie(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.tif"
    path.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.tif: the file is empty"):
        read_movie(path)


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match=r"nothere\.tif: no such file or folder"):
        read_movie(tmp_path / "nothere.tif")


@pytest.mark.parametrize(
    ("kwargs", "fraction"),
    [
        ({"imagej": True, "metadata": {"axes": "TYX"}}, 0.5),
        ({}, 0.5),
        ({}, 0.99),
        ({"compression": "zlib"}, 0.5),
        ({"compression": "zlib"}, 0.99),
        ({"ome": True, "metadata": {"axes": "TYX"}}, 0.5),
        ({}, 0.001),
    ],
)
def test_truncated_tiff(tmp_path, kwargs, fraction):
    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, _movie_data((10, 64, 64)), **kwargs)
    payload = path.read_bytes()
    path.write_bytes(payload[: max(16, int(len(payload) * fraction))])
    with pytest.raises(InputError, match=r"cut\.tif: (corrupt or truncated|truncated) TIFF") as info:
        movie = read_movie(path)
        movie.to_array()
    assert "\n" not in str(info.value)


def test_absurd_dimensions_do_not_allocate(tmp_path):
    path = tmp_path / "huge.tif"
    tifffile.imwrite(path, _movie_data((2, 4, 4)), photometric="minisblack", metadata=None)
    payload = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tf:
        offsets = [(p.tags["ImageWidth"].valueoffset, p.tags["ImageLength"].valueoffset) for p in tf.pages]
    for width, length in offsets:  # claim 100000 x 100000 pixels per frame
        struct.pack_into("<I", payload, width, 100_000)
        struct.pack_into("<I", payload, length, 100_000)
    path.write_bytes(payload)
    with pytest.raises(InputError, match=r"huge\.tif: one image plane is 100000x100000 pixels \(18\.6 GiB\), too large"):
        read_movie(path)


def test_single_2d_image(tmp_path):
    path = tmp_path / "still.tif"
    tifffile.imwrite(path, np.zeros((16, 16), np.uint8))
    with pytest.raises(InputError, match=r"still\.tif: is a single 2-D image, not a time-lapse; leadertrack needs \(T,Y,X\)"):
        read_movie(path)


def test_z_stack_time_lapse(tmp_path):
    path = tmp_path / "zstack.ome.tif"
    tifffile.imwrite(path, np.zeros((3, 4, 2, 8, 8), np.uint8), ome=True, photometric="minisblack", metadata={"axes": "TZCYX"})
    with pytest.raises(InputError, match=r"zstack\.ome\.tif: has axes 'TZCYX' of shape \(3,4,2,8,8\): a 3-D \(Z stack\) "
                       r"time-lapse; .*--z-projection max"):
        read_movie(path, channel=0)


def _z_stack(shape: tuple[int, ...]) -> np.ndarray:
    """Random planes, so the maximum over Z differs from every single plane."""
    return np.random.default_rng(4).integers(0, 60000, size=shape).astype(np.uint16)


@pytest.mark.parametrize("compression", [None, "zlib"])  # contiguous planes, and one page per plane
@pytest.mark.parametrize("axes", ["TZYX", "TZCYX", "TCZYX", "ZTYX"])
def test_z_stack_read_as_its_maximum_projection(tmp_path, axes, compression):
    sizes = {"T": 3, "Z": 4, "C": 2, "Y": 8, "X": 9}
    data = _z_stack(tuple(sizes[a] for a in axes))
    path = tmp_path / "zstack.ome.tif"
    tifffile.imwrite(path, data, ome=True, photometric="minisblack", metadata={"axes": axes}, compression=compression)
    channel = 1 if "C" in axes else None
    movie = read_movie(path, channel=channel, z_projection="max")
    tz = np.transpose(data, [axes.index(a) for a in "TZCYX" if a in axes])  # (T, Z, [C,] Y, X)
    expected = (tz[:, :, channel] if "C" in axes else tz).max(axis=1)
    assert movie.shape == (3, 8, 9)
    assert np.array_equal(movie.to_array(), expected)
    assert np.array_equal(movie.frame(-1), expected[-1])
    assert movie.metadata["z_projection"] == "max"
    assert any("maximum intensity projection" in note for note in movie.metadata["notes"])


def test_z_projection_leaves_movies_without_z_alone(tmp_path):
    path = tmp_path / "flat.tif"
    data = _z_stack((3, 8, 8))
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "TYX"})
    movie = read_movie(path, z_projection="max")
    assert np.array_equal(movie.to_array(), data)
    assert movie.metadata["z_projection"] is None
    with pytest.raises(InputError, match="z_projection must be 'max'"):
        read_movie(path, z_projection="mean")


def test_too_many_unnamed_axes(tmp_path):
    path = tmp_path / "5d.tif"
    tifffile.imwrite(path, np.zeros((2, 3, 2, 8, 8), np.uint8))
    with pytest.raises(InputError, match=r"5d\.tif: has 5 axes 'QQQYX'"):
        read_movie(path)


@pytest.mark.parametrize(("channel", "message"), [(None, r"has 3 channels .*choose the nuclei channel"), (3, r"has 3 channels \(0-2\); channel 3 does not exist")])
def test_channel_errors(tmp_path, channel, message):
    path = tmp_path / "multi.ome.tif"
    tifffile.imwrite(path, _movie_data((4, 3, 8, 8)), ome=True, metadata={"axes": "TCYX"})
    with pytest.raises(InputError, match=r"multi\.ome\.tif: " + message):
        read_movie(path, channel=channel)


def test_folder_without_tiffs(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(InputError, match=r"folder has no \.tif/\.tiff file"):
        read_movie(tmp_path, frame_sequence=True)
    with pytest.raises(InputError, match=r"folder has no \.tif/\.tiff file"):
        list_movies([tmp_path])


# --------------------------------------------------------------------------- labels


def test_read_labels_unsigned_stack_is_a_lazy_memmap(tmp_path):
    labels = _movie_data((5, 8, 8), dtype=np.uint16) % 7
    path = tmp_path / "labels.tif"
    tifffile.imwrite(path, labels)
    out = read_labels(path, shape=(5, 8, 8))
    assert isinstance(out, np.memmap) and not out.flags.writeable
    np.testing.assert_array_equal(out, labels)


def test_read_labels_compressed_stack_is_lazy(tmp_path, monkeypatch):
    labels = (_movie_data((6, 8, 8), dtype=np.uint32) % 9).astype(np.uint32)
    path = tmp_path / "labels.tif"
    with tifffile.TiffWriter(path, bigtiff=True) as writer:  # how the pipeline writes labels.tif
        for frame in labels:
            writer.write(frame, compression="zlib", photometric="minisblack")
    decoded: list[int] = []
    real = tifffile.TiffPage.asarray

    def counting(self, *args, **kwargs):
        decoded.append(self.index)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(tifffile.TiffPage, "asarray", counting)
    out = read_labels(path, shape=(6, 8, 8))
    assert isinstance(out, lio.LabelStack) and decoded == []
    assert out.shape == (6, 8, 8) and len(out) == 6 and out.dtype == np.uint32 and out.ndim == 3
    np.testing.assert_array_equal(out[4], labels[4])
    assert decoded == [4]
    np.testing.assert_array_equal(out[-1, 2:5, 1], labels[-1, 2:5, 1])
    np.testing.assert_array_equal(out[1:3, :, 2:4], labels[1:3, :, 2:4])
    np.testing.assert_array_equal(np.asarray(pickle.loads(pickle.dumps(out))), labels)
    np.testing.assert_array_equal(np.stack(list(out)), labels)


def test_read_labels_float_integer_values(tmp_path):
    labels = (_movie_data((5, 8, 8)) % 5).astype(np.float32)
    path = tmp_path / "labels.tif"
    tifffile.imwrite(path, labels)
    out = read_labels(path)
    assert out.dtype == np.uint32
    np.testing.assert_array_equal(out, labels.astype(np.uint32))


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.full((5, 6, 6), 1.5, np.float32), r"labels must be whole numbers; frame 0"),
        (np.full((5, 6, 6), -2, np.int32), r"labels must be 0 \(background\) or positive; frame 0"),
    ],
)
def test_read_labels_bad_values(tmp_path, labels, message):
    path = tmp_path / "labels.tif"
    tifffile.imwrite(path, labels)
    with pytest.raises(InputError, match=r"labels\.tif: " + message):
        read_labels(path)


def test_read_labels_shape_mismatch(tmp_path):
    path = tmp_path / "labels.tif"
    tifffile.imwrite(path, np.zeros((6, 8, 8), np.uint16))
    with pytest.raises(InputError, match=r"labels\.tif: labels have shape \(6,8,8\) but the movie is \(5,8,8\)"):
        read_labels(path, shape=(5, 8, 8))


@pytest.mark.parametrize("pattern", ["img_{:02d}_masks.tif", "mask{:03d}.tif"])
def test_read_labels_folder_picks_mask_files(tmp_path, pattern):
    labels = (_movie_data((4, 8, 8), dtype=np.uint16) % 9).astype(np.uint16)
    folder = tmp_path / "seg"
    _write_frames(folder, labels, pattern=pattern)
    _write_frames(folder, _movie_data((4, 8, 8), dtype=np.uint8), pattern="img_{:02d}.tif")  # the images
    out = read_labels(folder, shape=(4, 8, 8))
    np.testing.assert_array_equal(out, labels)


# --------------------------------------------------------------------------- listing and checksums


def test_list_movies(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b10.tif", "b2.TIFF", "a.ome.tif", "notes.txt", "sub/c.tif"):
        (tmp_path / name).write_bytes(b"x")
    names = [p.name for p in list_movies([tmp_path])]
    assert names == ["a.ome.tif", "b2.TIFF", "b10.tif"]
    names = [p.relative_to(tmp_path).as_posix() for p in list_movies([tmp_path], recursive=True)]
    assert names == ["a.ome.tif", "b2.TIFF", "b10.tif", "sub/c.tif"]
    # globs, explicit files (even non-TIFF, so a batch can report them) and duplicates
    found = list_movies([str(tmp_path / "b*.tif"), tmp_path / "b10.tif", tmp_path / "notes.txt"])
    assert [p.name for p in found] == ["b10.tif", "notes.txt"]
    assert list_movies([tmp_path / "sub"], frame_sequence=True) == [tmp_path / "sub"]


def test_recursive_search_skips_results_written_inside_the_input_folder(tmp_path):
    """`leadertrack run in -r --out in/results` twice used to analyse the first run's results/a/labels.tif as
    a movie named 'labels' (and fail the next as a duplicate name)."""
    for name in ("a.tif", "sub/b.tif", "results/a/labels.tif", ".hidden/c.tif", "results/notes/d.tif"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    for marker in ("run.json", "tracks.csv", "cells.csv"):
        (tmp_path / "results" / "a" / marker).write_text("x")
    names = [p.relative_to(tmp_path).as_posix() for p in list_movies([tmp_path], recursive=True)]
    assert names == ["a.tif", "results/notes/d.tif", "sub/b.tif"]


@pytest.mark.parametrize("item", ["nothere.tif", "nothere/*.tif"])
def test_list_movies_missing(tmp_path, item):
    with pytest.raises(InputError, match=r"nothere"):
        list_movies([str(tmp_path / item)])


def test_file_checksum(tmp_path):
    rng = np.random.default_rng(3)
    payload = rng.bytes(3 * 1024 + 17)
    path = tmp_path / "f.tif"
    path.write_bytes(payload)
    assert file_checksum(path, chunk_bytes=1000) == hashlib.sha256(payload).hexdigest()
    folder = tmp_path / "seq"
    _write_frames(folder, _movie_data((3, 4, 4)))
    first = file_checksum(folder)
    assert first == file_checksum(folder)
    frame = folder / "t001.tif"
    os.chmod(frame, 0o644)
    tifffile.imwrite(frame, np.ones((4, 4), np.uint16))
    assert file_checksum(folder) != first


# --------------------------------------------------------------------------- real data


@pytest.mark.realdata
def test_real_gowt1_frame_sequence(shared_data):
    folder = shared_data / "ctc" / "Fluo-N2DH-GOWT1" / "01"
    movie = read_movie(folder, frame_sequence=True)
    assert movie.shape == (92, 1024, 1024) and movie.dtype == np.uint8
    np.testing.assert_array_equal(movie.frame(91), tifffile.imread(folder / "t091.tif"))
    labels = read_labels(folder.parent / "01_GT" / "TRA", shape=movie.shape)
    assert labels.shape == movie.shape and labels.dtype.kind == "u"


@pytest.mark.realdata
def test_real_scratch_assay_ome(shared_data):
    path = shared_data / "scratch_assay" / "scratch-assay-labeled-10T-2Ch.tiff"
    movie = read_movie(path, channel=0)
    assert movie.shape == (10, 210, 576)
    assert movie.pixel_size_um == pytest.approx(0.619) and movie.pixel_size_source == "OME metadata"
    assert movie.frame_interval_min is None and movie.frame_interval_source == "none"
    assert movie.metadata["axes"] == "CTYX" and movie.metadata["n_channels"] == 4
    full = tifffile.imread(path)  # (C,T,Y,X)
    np.testing.assert_array_equal(movie.frame(7), full[0, 7])
    labels = read_labels(path, channel=2, shape=movie.shape)
    np.testing.assert_array_equal(labels, full[2])


@pytest.mark.realdata
def test_real_sim_sequence_and_hela_labels(shared_data):
    sim = read_movie(shared_data / "ctc" / "Fluo-N2DH-SIM+" / "01", frame_sequence=True)
    assert sim.shape == (65, 690, 628) and sim.dtype == np.uint16
    seg = read_labels(shared_data / "ctc" / "Fluo-N2DH-SIM+" / "01_GT" / "SEG", shape=sim.shape)
    np.testing.assert_array_equal(seg[26], tifffile.imread(shared_data / "ctc" / "Fluo-N2DH-SIM+" / "01_GT" / "SEG" / "man_seg026.tif"))
    hela = read_movie(shared_data / "hela_nuclei" / "Fluo_Hela_02_img.tif")
    assert hela.shape == (20, 700, 1100)
    masks = read_labels(shared_data / "hela_nuclei" / "Fluo_Hela_02_ERR_SEG.tif", shape=hela.shape)
    assert masks[5].max() > 50  # dense nuclei: many labels per frame


@pytest.mark.parametrize("axes", ["ZYX", "ZCYX", "CZYX"])
def test_folder_of_z_stacks_read_as_their_maximum_projections(tmp_path, axes):
    sizes = {"Z": 4, "C": 2, "Y": 8, "X": 9}
    stacks = [_z_stack(tuple(sizes[a] for a in axes)) + t for t in range(3)]
    for t, stack in enumerate(stacks):
        tifffile.imwrite(tmp_path / f"t{t:03d}.ome.tif", stack, ome=True, photometric="minisblack", metadata={"axes": axes})
    channel = 1 if "C" in axes else None
    with pytest.raises(InputError, match="--z-projection max"):
        read_movie(tmp_path, channel=channel)
    movie = read_movie(tmp_path, channel=channel, z_projection="max")
    expected = [np.transpose(s, [axes.index(a) for a in "ZCYX" if a in axes]).max(axis=0) for s in stacks]
    expected = np.stack([e[channel] if "C" in axes else e for e in expected])
    assert movie.shape == (3, 8, 9)
    assert np.array_equal(movie.to_array(), expected)
