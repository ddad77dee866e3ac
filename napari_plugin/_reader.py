"""napari reader: leadertrack result folders, TIFF movies (files or folders of frames) opened lazily, and
label masks named like masks, opened as Labels layers the widget can take as the nuclei."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._layers import LayerData, movie_layer_data, result_layer_data

__all__ = ["get_reader", "read_mask_layers", "read_movie_layers", "read_result_layers"]


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], list[LayerData]] | None:
    """A reader for a leadertrack result folder, a TIFF movie or a folder of TIFF frames; else None.

    Returning None lets napari ask its other readers.
    """
    from leadertrack.io import is_tiff_name
    from leadertrack.pipeline import is_result_folder

    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    path = Path(path)
    if path.is_dir():
        if is_result_folder(path):
            return read_result_layers
        return read_movie_layers if any(is_tiff_name(p) for p in path.iterdir()) else None
    if not is_tiff_name(path) or _single_image(path):
        return None
    return read_mask_layers if _named_like_masks(path) else read_movie_layers


def _single_image(path: Path) -> bool:
    """Whether the TIFF file holds one 2-D image (grey or RGB), not a movie: napari's own reader opens it."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            shape = [n for n in tif.series[0].shape if n > 1]
            rgb = tif.pages[0].photometric == tifffile.PHOTOMETRIC.RGB
    except (OSError, ValueError, IndexError, tifffile.TiffFileError):  # unreadable: our reader says why
        return False
    return len(shape) <= 2 or (len(shape) == 3 and rgb and shape[-1] in (3, 4))


def _named_like_masks(path: Path) -> bool:
    """``labels.tif``, or a name ending like masks (``_masks``, ``_labels``, Cellpose's ``_cp_masks``, ...)."""
    from leadertrack.batch import MASK_SUFFIXES
    from leadertrack.io import movie_name

    name = movie_name(path).lower()
    return name == "labels" or any(name.endswith(suffix) for suffix in MASK_SUFFIXES if suffix)


def _single(path: str | list[str]) -> Path:
    return Path(path[0] if isinstance(path, list) else path)


def read_movie_layers(path: str | list[str]) -> list[LayerData]:
    """The movie as a lazy dask image layer scaled by its pixel size (µm); one layer per channel.

    A multi-channel movie (say nuclei and brightfield) opens as one layer per channel, named
    ``<movie> ch<N>``, so you can pick the nuclei channel in the widget. A Z-stack time-lapse
    opens as its maximum intensity projection over Z, named ``<movie> (max over Z)``.
    """
    from leadertrack.errors import InputError
    from leadertrack.io import read_movie

    path = _single(path)
    try:
        return [movie_layer_data(read_movie(path))]
    except InputError as plain_error:
        error = plain_error
    for options in ({"z_projection": "max"}, {"channel": 0}, {"channel": 0, "z_projection": "max"}):
        try:
            first = read_movie(path, **options)
            break
        except InputError:
            continue
    else:
        raise error from None
    projection = {"z_projection": "max"} if "z_projection" in options else {}
    suffix = " (max over Z)" if projection else ""
    if "channel" not in options:
        data, kwargs, kind = movie_layer_data(first)
        return [(data, {**kwargs, "name": kwargs["name"] + suffix}, kind)]
    layers = []
    for channel in range(int(first.metadata.get("n_channels", 1))):
        data, kwargs, kind = movie_layer_data(read_movie(path, channel=channel, **projection))
        layers.append((data, {**kwargs, "name": f"{kwargs['name']} ch{channel}{suffix}"}, kind))
    return layers


def read_mask_layers(path: str | list[str]) -> list[LayerData]:
    """Label masks (``movie_masks.tif``, Cellpose's ``movie_cp_masks.tif``, a result's ``labels.tif``, ...)
    as a Labels layer, read lazily, for the widget's nuclei choice. A file named so that holds no
    (T, Y, X) integer labels opens as a movie."""
    from leadertrack.errors import InputError
    from leadertrack.io import movie_name, read_labels

    path = _single(path)
    try:
        labels = read_labels(path)
    except InputError:
        return read_movie_layers(path)
    return [(labels, {"name": movie_name(path)}, "labels")]


def _source_movie(result: Any) -> Any:
    """The movie a result came from, re-opened lazily when its file still exists, else None."""
    from leadertrack.io import read_movie

    provenance = result.provenance
    if provenance.get("input", {}).get("kind") == "tracks":  # made from tracks (leadertrack classify): no movie
        return None
    source = Path(str(provenance.get("input", {}).get("path", "")))
    if not source.name or not source.exists():
        return None
    units = provenance.get("units", {})
    user = {}
    if units.get("pixel_size_source") == "user":
        user["pixel_size_um"] = units["pixel_size_um"]
    if units.get("frame_interval_source") == "user":
        user["frame_interval_min"] = units["frame_interval_min"]
    info = provenance.get("input", {})
    return read_movie(source, channel=info.get("channel"), z_projection=info.get("z_projection"), **user)


def read_result_layers(path: str | list[str]) -> list[LayerData]:
    """The layers of a result folder: the movie (when its file exists), labels, tracks, leaders, front.

    The user's corrections (``corrections.csv``) come back with the result, which the tracks
    layer carries in ``metadata["leadertrack_result"]``; the widget picks it up from there.
    """
    from dataclasses import replace

    from leadertrack.pipeline import read_result

    result = read_result(_single(path))
    movie = _source_movie(result)
    result = replace(result, movie=movie)
    layers = [movie_layer_data(movie)] if movie is not None else []
    return layers + result_layer_data(result)
