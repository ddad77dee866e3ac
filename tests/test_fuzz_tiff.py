"""Property tests of the TIFF readers: any bytes give a movie or a one-line InputError.

Mutations (truncation, overwritten bytes, patched header words) of small valid stacks, and
random arrays of any supported pixel type. Bounded: few, small examples; no deadline.
"""

from __future__ import annotations

import struct
import tempfile
from contextlib import contextmanager
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from leadertrack.errors import InputError
from leadertrack.io import read_labels, read_movie

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PEAK_BYTES = 64 * 2**20

_KINDS = {
    "plain": {},
    "imagej": {"imagej": True, "metadata": {"axes": "TYX"}},
    "zlib": {"compression": "zlib"},
    "ome": {"metadata": {"axes": "TYX"}, "ome": True},
    "bigtiff": {"bigtiff": True},
}


def _valid_stack(kind: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.tif"
        tifffile.imwrite(path, np.arange(5 * 6 * 7, dtype=np.uint16).reshape(5, 6, 7), **_KINDS[kind])
        return path.read_bytes()


VALID = {kind: _valid_stack(kind) for kind in _KINDS}


@contextmanager
def _address_space_limit(extra_bytes: int = 2 * 2**30):
    """Cap this process's address space at its current size + ``extra_bytes`` (Linux).

    A header that slips past the checks then raises MemoryError in the test, with the example
    that caused it, instead of getting the whole test run killed by the kernel's OOM killer.
    """
    try:
        import resource

        status = Path("/proc/self/status").read_text()
    except (ImportError, OSError):
        yield
        return
    size_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmSize:")))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size_kb * 1024 + extra_bytes
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _read_or_refuse(data: bytes, *, labels: bool = False) -> np.ndarray | None:
    """Read ``data`` as a movie (or labels); None when refused with a proper InputError."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.tif"
        path.write_bytes(data)
        tracemalloc.start()
        try:
            with _address_space_limit():
                array = np.asarray(read_labels(path)) if labels else read_movie(path).to_array()
        except InputError as exc:
            message = str(exc)
            assert message.startswith(str(path)) and "\n" not in message, message
            array = None
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert peak < PEAK_BYTES, f"{peak / 2**20:.0f} MiB"
        return array


@FUZZ
@given(kind=st.sampled_from(sorted(_KINDS)), fraction=st.floats(0, 1, exclude_max=True))
def test_truncated_stacks(kind, fraction):
    data = VALID[kind]
    array = _read_or_refuse(data[: int(len(data) * fraction)])
    assert array is None or array.ndim == 3


@FUZZ
@given(
    kind=st.sampled_from(sorted(_KINDS)),
    edits=st.lists(st.tuples(st.integers(0, 2**20), st.binary(min_size=1, max_size=8)), min_size=1, max_size=6),
)
@example(kind="zlib", edits=[(1624, b"\x00p")])  # a later page claiming 1.2 M rows: 304 MiB were decoded before the refusal
def test_overwritten_bytes(kind, edits):
    data = bytearray(VALID[kind])
    for offset, chunk in edits:
        at = offset % len(data)
        data[at : at + len(chunk)] = chunk
    array = _read_or_refuse(bytes(data))
    assert array is None or (array.ndim == 3 and array.size > 0)


@FUZZ
@given(
    kind=st.sampled_from(["plain", "zlib", "bigtiff"]),
    word=st.integers(0, 40),
    value=st.sampled_from([0, 1, 2**15, 2**16 - 1, 2**31 - 1, 2**32 - 1]),
)
def test_patched_header_words(kind, word, value):
    """Any 32-bit word of the first IFD rewritten (dimensions, counts, offsets, types)."""
    data = bytearray(VALID[kind])
    ifd = struct.unpack_from("<Q" if kind == "bigtiff" else "<I", data, 8 if kind == "bigtiff" else 4)[0]
    at = ifd + 4 * word
    if at + 4 <= len(data):
        struct.pack_into("<I", data, at, value)
    array = _read_or_refuse(bytes(data))
    assert array is None or array.ndim == 3


_DTYPES = [np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.float16, np.float32, np.float64, np.uint64, np.int64]


#: tifffile stores (3|4, Y, X) stacks as planar RGB (and warns); such files must still read as frames.
_RGB_QUIRK = "ignore:<tifffile.TiffWriter.write> data with shape:DeprecationWarning"


@pytest.mark.filterwarnings(_RGB_QUIRK)
@FUZZ
@given(
    dtype=st.sampled_from(_DTYPES),
    shape=st.tuples(st.integers(2, 6), st.integers(1, 6), st.integers(5, 7)),
    seed=st.integers(0, 2**16),
)
def test_any_pixel_type_round_trips(dtype, shape, seed):
    rng = np.random.default_rng(seed)
    array = (rng.random(shape) * 100).astype(dtype)
    if np.dtype(dtype).kind == "f":
        array.flat[rng.integers(0, array.size, 2)] = [np.nan, np.inf]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.tif"
        tifffile.imwrite(path, array, metadata={"axes": "TYX"})
        movie = read_movie(path)
        assert movie.shape == shape and movie.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(movie.to_array(), array)


@pytest.mark.filterwarnings(_RGB_QUIRK)
@FUZZ
@given(
    dtype=st.sampled_from(_DTYPES),
    seed=st.integers(0, 2**16),
)
def test_labels_of_any_type_are_read_or_refused(dtype, seed):
    rng = np.random.default_rng(seed)
    array = (rng.normal(size=(3, 5, 6)) * 10).astype(dtype)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "labels.tif"
        tifffile.imwrite(path, array, metadata={"axes": "TYX"})
        try:
            labels = np.asarray(read_labels(path, shape=(3, 5, 6)))
        except InputError as exc:
            assert str(exc).startswith(str(path))
            whole = np.isfinite(array).all() and (array == np.round(array)).all()
            assert not (whole and (array >= 0).all()), f"valid labels refused: {exc}"
        else:
            assert labels.dtype.kind in "ui" and (labels >= 0).all()
            np.testing.assert_array_equal(labels, array.astype(labels.dtype))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="the address-space cap needs Linux /proc")
def test_the_address_space_cap_turns_runaway_allocation_into_memory_error():
    with pytest.raises(MemoryError), _address_space_limit(extra_bytes=2**30):
        np.empty(4 * 2**30, dtype=np.uint8)
    np.empty(2**30, dtype=np.uint8)  # the cap is lifted again
